//! The manifest model: documents of a rendered Helm stream and the Kubernetes
//! objects they hold. Pure: no I/O.

mod build;
mod parse;
mod resolve;
mod scope;
mod site;

pub use build::BuildError;
pub use parse::{
    Content, DocRef, Document, Form, Manifest, ManifestError, POSTRENDER_FILENAME, ParseOptions,
    Problem, parse, parse_with,
};
pub use resolve::ScalarError;
pub use scope::{Scopes, is_cluster_scoped};
pub use site::{AnnotationsSite, EntrySite, MapSite, MetaSite};

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

/// Why a JSON value is not a Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// The document is not a mapping.
    #[error("document is not a mapping")]
    NotAMapping,
    /// A required field is missing or not a string.
    #[error("missing or non-string field `{0}`")]
    MissingField(&'static str),
    /// `apiVersion` is malformed.
    #[error("invalid apiVersion `{0}`")]
    BadApiVersion(String),
}

/// An object's annotation value, if present and a string.
pub fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(key))
        .and_then(Value::as_str)
}

/// The events a `helm.sh/hook` annotation value names (comma-separated,
/// trimmed, empty entries skipped).
pub fn hook_events(hook: &str) -> impl Iterator<Item = &str> {
    hook.split(',').map(str::trim).filter(|s| !s.is_empty())
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

/// One Kubernetes object of a manifest.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    /// The object's identity.
    pub id: ObjectId,
    /// Index of the document that holds it (0-based, counting every document of the stream).
    pub doc: usize,
    /// The object as JSON, exactly as Go's YAML 1.1 decoder would produce it
    /// (after [`parse_with`]: what its `visit` left of it).
    pub value: Value,
}

impl Object {
    /// Build an object from its JSON value. Namespaced kinds without
    /// `metadata.namespace` get `default_namespace`.
    pub fn from_value(
        value: Value,
        doc: usize,
        default_namespace: &str,
    ) -> Result<Self, ObjectError> {
        Self::from_value_in(value, doc, default_namespace, &Scopes::default())
    }

    /// As [`Object::from_value`], with scopes that also know the CRDs of the stream.
    pub fn from_value_in(
        value: Value,
        doc: usize,
        default_namespace: &str,
        scopes: &Scopes,
    ) -> Result<Self, ObjectError> {
        Self::build(value, doc, default_namespace, |group, kind| {
            scopes.is_cluster_scoped(group, kind)
        })
    }

    /// As [`Object::from_value`], taking every kind as namespaced (the
    /// parser settles scopes once it has seen the whole stream).
    pub(crate) fn from_value_namespaced(
        value: Value,
        doc: usize,
        default_namespace: &str,
    ) -> Result<Self, ObjectError> {
        Self::build(value, doc, default_namespace, |_, _| false)
    }

    fn build(
        value: Value,
        doc: usize,
        default_namespace: &str,
        cluster_scoped: impl Fn(&str, &str) -> bool,
    ) -> Result<Self, ObjectError> {
        let map = value.as_object().ok_or(ObjectError::NotAMapping)?;
        let api_version = map
            .get("apiVersion")
            .and_then(Value::as_str)
            .ok_or(ObjectError::MissingField("apiVersion"))?;
        let kind = map
            .get("kind")
            .and_then(Value::as_str)
            .filter(|k| !k.is_empty())
            .ok_or(ObjectError::MissingField("kind"))?;
        let name = value
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
            .ok_or(ObjectError::MissingField("metadata.name"))?;
        let (group, version) = ObjectId::split_api_version(api_version);
        if version.is_empty() || api_version.matches('/').count() > 1 {
            return Err(ObjectError::BadApiVersion(api_version.to_string()));
        }
        let namespace = if cluster_scoped(group, kind) {
            None
        } else {
            Some(
                value
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .filter(|n| !n.is_empty())
                    .unwrap_or(default_namespace)
                    .to_string(),
            )
        };
        let id = ObjectId {
            group: group.to_string(),
            version: version.to_string(),
            kind: kind.to_string(),
            namespace,
            name: name.to_string(),
        };
        Ok(Self { id, doc, value })
    }

    /// An annotation's value, if present and a string.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        annotation(&self.value, key)
    }

    /// A label's value, if present and a string.
    pub fn label(&self, key: &str) -> Option<&str> {
        label(&self.value, key)
    }

    /// `metadata.finalizers` as strings.
    pub fn finalizers(&self) -> Vec<&str> {
        finalizers(&self.value)
    }

    /// Whether this is a Helm hook (carries `helm.sh/hook`).
    pub fn is_hook(&self) -> bool {
        self.annotation("helm.sh/hook").is_some()
    }

    /// Helm hook events from `helm.sh/hook` (empty for ordinary resources).
    pub fn hook_events(&self) -> Vec<&str> {
        self.annotation("helm.sh/hook")
            .map(|h| hook_events(h).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn namespaced_object_takes_default_namespace() {
        let o = Object::from_value(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r"}}),
            3,
            "arc-runners",
        )
        .unwrap();
        assert_eq!(o.id.namespace.as_deref(), Some("arc-runners"));
        assert_eq!(o.id.group, "rbac.authorization.k8s.io");
        assert_eq!(o.id.to_string(), "Role/arc-runners/r");
        assert_eq!(o.doc, 3);
    }

    #[test]
    fn cluster_scoped_object_has_no_namespace() {
        let o = Object::from_value(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "c", "namespace": "x"}}),
            0,
            "default",
        )
        .unwrap();
        assert_eq!(o.id.namespace, None);
        assert_eq!(o.id.api_version(), "rbac.authorization.k8s.io/v1");
    }

    #[test]
    fn rejects_missing_kind_and_bad_api_version() {
        assert_eq!(
            Object::from_value(
                json!({"apiVersion": "v1", "metadata": {"name": "x"}}),
                0,
                "d"
            ),
            Err(ObjectError::MissingField("kind"))
        );
        assert_eq!(
            Object::from_value(
                json!({"apiVersion": "a/b/c", "kind": "K", "metadata": {"name": "x"}}),
                0,
                "d"
            ),
            Err(ObjectError::BadApiVersion("a/b/c".into()))
        );
        assert_eq!(
            Object::from_value(json!([1]), 0, "d"),
            Err(ObjectError::NotAMapping)
        );
    }
}
