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

/// The identity of a manifest's objects (defined with the object model).
pub use crate::model::ObjectId;

use crate::model::{annotation, finalizers, label};

use serde_json::Value;

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

/// The events a `helm.sh/hook` annotation value names (comma-separated,
/// trimmed, empty entries skipped).
pub fn hook_events(hook: &str) -> impl Iterator<Item = &str> {
    hook.split(',').map(str::trim).filter(|s| !s.is_empty())
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
