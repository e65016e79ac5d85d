//! The object model shared by the pure core and the Kubernetes edge, without
//! I/O: an object's identity ([`ObjectId`]), its metadata accessors, and
//! [`Live`], an object as read from the cluster (Secret payloads removed), and
//! the resourceVersion-guarded JSON patches of one ([`patch`]).

mod live;
pub mod patch;

#[cfg(test)]
pub(crate) use live::test_secret;
pub use live::{Live, scrub_secret};

use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// Identity of a Kubernetes object: group/version/kind + namespace + name.
///
/// `namespace` is `None` for cluster-scoped kinds and always `Some` for
/// namespaced kinds (filled from the default namespace when the document has none).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct ObjectId {
    /// API group; empty for the core group.
    pub group: String,
    /// API version within the group, for example `v1` or `v1alpha1`.
    pub version: String,
    /// Kind, for example `RoleBinding`.
    pub kind: String,
    /// Namespace, `None` for cluster-scoped objects.
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
}

impl ObjectId {
    /// `namespace/name` (`/name` for a cluster-scoped object): how runner
    /// sets, controllers and runners are named to users and matched.
    pub fn namespaced_name(&self) -> String {
        format!(
            "{}/{}",
            self.namespace.as_deref().unwrap_or_default(),
            self.name
        )
    }

    /// The `apiVersion` string: `v1` for the core group, `group/version` otherwise.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// Split an `apiVersion` string into group and version.
    pub fn split_api_version(api_version: &str) -> (&str, &str) {
        match api_version.rsplit_once('/') {
            Some((group, version)) => (group, version),
            None => ("", api_version),
        }
    }
}

impl fmt::Display for ObjectId {
    /// `Kind/namespace/name` or `Kind/name` for cluster-scoped objects.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{}/{}/{}", self.kind, ns, self.name),
            None => write!(f, "{}/{}", self.kind, self.name),
        }
    }
}

/// An object's annotation value, if present and a string.
pub fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

/// An object's label value, if present and a string.
pub fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/labels")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

/// An object's `metadata.finalizers` (the strings among them).
pub fn finalizers(object: &Value) -> Vec<&str> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}
