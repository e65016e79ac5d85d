//! Lookup of teardown members by identity, and the facts the rules read.

use super::facts::Facts;
use crate::manifest::ObjectId;
use std::collections::HashMap;

/// `(group, kind, namespace, name)`, borrowed from the objects.
type IdentityKey<'a> = (&'a str, &'a str, Option<&'a str>, &'a str);

/// Members (non-hook objects) of a stream, indexed for reference lookups.
/// The API version is not part of a reference: an object is the same object
/// in every version of its group.
#[derive(Debug)]
pub(crate) struct Index<'a> {
    /// Indices of members in document order.
    pub members: Vec<usize>,
    /// Facts of every object (members and hooks), by index.
    pub facts: Vec<Facts>,
    /// Identity to members.
    by_identity: HashMap<IdentityKey<'a>, Vec<usize>>,
    /// `(kind, name)` to members, any group and namespace.
    by_kind_name: HashMap<(&'a str, &'a str), Vec<usize>>,
}

impl<'a> Index<'a> {
    /// Index the objects `ids` whose facts are `facts` (same order and length).
    pub fn new(ids: &[&'a ObjectId], facts: Vec<Facts>) -> Self {
        let mut index = Index {
            members: Vec::with_capacity(ids.len()),
            facts,
            by_identity: HashMap::with_capacity(ids.len()),
            by_kind_name: HashMap::with_capacity(ids.len()),
        };
        for (i, id) in ids.iter().copied().enumerate() {
            if index.facts[i].hook {
                continue;
            }
            index.members.push(i);
            index
                .by_identity
                .entry((&id.group, &id.kind, id.namespace.as_deref(), &id.name))
                .or_default()
                .push(i);
            index
                .by_kind_name
                .entry((&id.kind, &id.name))
                .or_default()
                .push(i);
        }
        index
    }

    /// Members with exactly this group, kind, namespace and name (usually
    /// none or one; owned because the lookup key borrows less long than `self`).
    pub fn find(&self, group: &str, kind: &str, namespace: Option<&str>, name: &str) -> Vec<usize> {
        self.by_identity
            .get(&(group, kind, namespace, name))
            .cloned()
            .unwrap_or_default()
    }

    /// Members of this kind and name in any group and namespace.
    pub fn find_kind_name(&self, kind: &str, name: &str) -> Vec<usize> {
        self.by_kind_name
            .get(&(kind, name))
            .cloned()
            .unwrap_or_default()
    }

    /// Members of a group and kind (linear scan; for rules that fan out).
    pub fn of_kind<'o>(
        &'o self,
        ids: &'o [&'o ObjectId],
        group: &'o str,
        kind: &'o str,
    ) -> impl Iterator<Item = usize> + 'o {
        self.members
            .iter()
            .copied()
            .filter(move |&i| ids[i].group == group && ids[i].kind == kind)
    }

    /// Index objects with their facts read from their values (tests).
    #[cfg(test)]
    pub fn of_objects(objects: &'a [crate::manifest::Object]) -> Self {
        let ids: Vec<&ObjectId> = objects.iter().map(|o| &o.id).collect();
        let facts = objects.iter().map(|o| Facts::of(&o.value)).collect();
        Self::new(&ids, facts)
    }
}
