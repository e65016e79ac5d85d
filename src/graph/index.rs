//! Lookup of teardown members by identity.

use super::reference::{AFTER_ANNOTATION, BEFORE_ANNOTATION};
use crate::manifest::Object;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The metadata fields the rules read, found in one pass over
/// `metadata` (no hashing: rules run on every object of large fleets).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Meta<'a> {
    /// `metadata.annotations`.
    pub annotations: Option<&'a Map<String, Value>>,
    /// `metadata.finalizers`.
    pub finalizers: &'a [Value],
    /// `metadata.ownerReferences`.
    pub owner_references: &'a [Value],
    /// A Helm hook (`helm.sh/hook` names at least one event).
    pub hook: bool,
    /// `teardown.helm-arc-uninstall/after`.
    pub after: Option<&'a str>,
    /// `teardown.helm-arc-uninstall/before`.
    pub before: Option<&'a str>,
}

impl<'a> Meta<'a> {
    /// Read an object's metadata.
    pub fn of(object: &'a Object) -> Self {
        let mut meta = Meta::default();
        let Some(metadata) = object.value.get("metadata").and_then(Value::as_object) else {
            return meta;
        };
        for (key, value) in metadata {
            match key.as_str() {
                "annotations" => meta.annotations = value.as_object(),
                "finalizers" => {
                    meta.finalizers = value.as_array().map(Vec::as_slice).unwrap_or_default()
                }
                "ownerReferences" => {
                    meta.owner_references = value.as_array().map(Vec::as_slice).unwrap_or_default()
                }
                _ => {}
            }
        }
        for (key, value) in meta.annotations.into_iter().flatten() {
            match key.as_str() {
                "helm.sh/hook" => {
                    meta.hook = value
                        .as_str()
                        .is_some_and(|events| events.split(',').any(|e| !e.trim().is_empty()))
                }
                AFTER_ANNOTATION => meta.after = value.as_str(),
                BEFORE_ANNOTATION => meta.before = value.as_str(),
                _ => {}
            }
        }
        meta
    }

    /// Whether `metadata.finalizers` holds `finalizer`.
    pub fn has_finalizer(&self, finalizer: &str) -> bool {
        self.finalizers
            .iter()
            .any(|f| f.as_str() == Some(finalizer))
    }
}

/// `(group, kind, namespace, name)`, borrowed from the objects.
type IdentityKey<'a> = (&'a str, &'a str, Option<&'a str>, &'a str);

/// Members (non-hook objects) of a stream, indexed for reference lookups.
/// The API version is not part of a reference: an object is the same object
/// in every version of its group.
#[derive(Debug)]
pub(crate) struct Index<'a> {
    /// Indices of members in document order.
    pub members: Vec<usize>,
    /// Metadata of every object (members and hooks), by index.
    pub meta: Vec<Meta<'a>>,
    /// Identity to members.
    by_identity: HashMap<IdentityKey<'a>, Vec<usize>>,
    /// `(kind, name)` to members, any group and namespace.
    by_kind_name: HashMap<(&'a str, &'a str), Vec<usize>>,
}

impl<'a> Index<'a> {
    pub fn new(objects: &[&'a Object]) -> Self {
        let mut index = Index {
            members: Vec::with_capacity(objects.len()),
            meta: objects.iter().map(|o| Meta::of(o)).collect(),
            by_identity: HashMap::with_capacity(objects.len()),
            by_kind_name: HashMap::with_capacity(objects.len()),
        };
        for (i, object) in objects.iter().copied().enumerate() {
            if index.meta[i].hook {
                continue;
            }
            let id = &object.id;
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
