//! Lookup of teardown members by identity.

use super::is_teardown_member;
use crate::manifest::Object;
use std::collections::HashMap;

/// Members (non-hook objects) of a stream, indexed for reference lookups.
/// The API version is not part of a reference: an object is the same object
/// in every version of its group.
#[derive(Debug)]
pub(crate) struct Index {
    /// Indices of members in document order.
    pub members: Vec<usize>,
    /// `(group, kind, namespace, name)` to members.
    by_identity: HashMap<(String, String, Option<String>, String), Vec<usize>>,
    /// `(kind, name)` to members, any group and namespace.
    by_kind_name: HashMap<(String, String), Vec<usize>>,
}

impl Index {
    pub fn new(objects: &[&Object]) -> Self {
        let mut index = Index {
            members: Vec::new(),
            by_identity: HashMap::new(),
            by_kind_name: HashMap::new(),
        };
        for (i, object) in objects.iter().enumerate() {
            if !is_teardown_member(object) {
                continue;
            }
            let id = &object.id;
            index.members.push(i);
            index
                .by_identity
                .entry((
                    id.group.clone(),
                    id.kind.clone(),
                    id.namespace.clone(),
                    id.name.clone(),
                ))
                .or_default()
                .push(i);
            index
                .by_kind_name
                .entry((id.kind.clone(), id.name.clone()))
                .or_default()
                .push(i);
        }
        index
    }

    /// Members with exactly this group, kind, namespace and name.
    pub fn find(&self, group: &str, kind: &str, namespace: Option<&str>, name: &str) -> &[usize] {
        self.by_identity
            .get(&(
                group.to_string(),
                kind.to_string(),
                namespace.map(str::to_string),
                name.to_string(),
            ))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Members of this kind and name in any group and namespace.
    pub fn find_kind_name(&self, kind: &str, name: &str) -> &[usize] {
        self.by_kind_name
            .get(&(kind.to_string(), name.to_string()))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Members of a group and kind (linear scan; for rules that fan out).
    pub fn of_kind<'o>(
        &'o self,
        objects: &'o [&'o Object],
        group: &'o str,
        kind: &'o str,
    ) -> impl Iterator<Item = usize> + 'o {
        self.members
            .iter()
            .copied()
            .filter(move |&i| objects[i].id.group == group && objects[i].id.kind == kind)
    }
}
