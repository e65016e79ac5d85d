//! What the teardown rules read of an object, extracted once by
//! [`Facts::of`]. The rules see only identities and these facts, never the
//! object's JSON, so a caller that cannot afford to hold every decoded
//! object (`render` on a large fleet) extracts the facts as each document is
//! decoded and drops the rest (`graph::plan_with_facts`).
//!
//! A rule that needs a new field adds it here; `tests/plan_facts.rs` plans
//! every fixture and generated stream both ways and compares.

use super::reference::{AFTER_ANNOTATION, BEFORE_ANNOTATION};
use super::rules::{self, PodRef};
use crate::arc;
use crate::manifest::ObjectId;
use serde_json::Value;

/// The fields of one object that the rules read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// A Helm hook: `helm.sh/hook` names at least one event.
    pub(crate) hook: bool,
    /// `teardown.helm-arc-uninstall/after`.
    pub(crate) after: Option<String>,
    /// `teardown.helm-arc-uninstall/before`.
    pub(crate) before: Option<String>,
    /// String-valued `actions.github.com/cleanup-*` annotations `(key,
    /// value)`, in document order.
    pub(crate) cleanup_annotations: Vec<(String, String)>,
    /// `metadata.finalizers` holds `actions.github.com/cleanup-protection`.
    pub(crate) cleanup_finalizer: bool,
    /// Label `actions.github.com/scale-set-name`.
    pub(crate) scale_set_name: Option<String>,
    /// Label `actions.github.com/scale-set-namespace`.
    pub(crate) scale_set_namespace: Option<String>,
    /// `metadata.ownerReferences` entries with apiVersion, kind and name:
    /// `(index, apiVersion, kind, name)`.
    pub(crate) owner_references: Vec<(usize, String, String, String)>,
    /// Kind-specific references (most objects have none).
    pub(crate) refs: Option<Box<Refs>>,
}

/// References read from the spec of runner sets, workloads, bindings and CRDs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Refs {
    /// AutoscalingRunnerSet: `(kind, name, path)` of each spec reference.
    pub(crate) runner_set: Vec<(&'static str, String, &'static str)>,
    /// Workloads (and runner sets): what the pod template uses.
    pub(crate) pod: Vec<PodRef>,
    /// (Cluster)RoleBinding `roleRef`: `apiGroup`, `kind`, `name` (non-empty strings).
    pub(crate) role_ref: [Option<String>; 3],
    /// (Cluster)RoleBinding `subjects`: `(kind, name, namespace)` per entry
    /// (non-empty strings), indices kept.
    pub(crate) subjects: Vec<[Option<String>; 3]>,
    /// CustomResourceDefinition: `spec.group` and `spec.names.kind`.
    pub(crate) crd: Option<(String, String)>,
}

impl Facts {
    /// Extract the facts of an object (a mapping with `apiVersion` and `kind`).
    pub fn of(value: &Value) -> Self {
        let mut facts = Facts::default();
        let metadata = value.get("metadata").and_then(Value::as_object);
        for (key, v) in metadata.into_iter().flatten() {
            match key.as_str() {
                "annotations" => facts.read_annotations(v),
                "labels" => {
                    let label = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
                    facts.scale_set_name = label(arc::SCALE_SET_NAME_LABEL);
                    facts.scale_set_namespace = label(arc::SCALE_SET_NAMESPACE_LABEL);
                }
                "finalizers" => {
                    facts.cleanup_finalizer = v.as_array().is_some_and(|f| {
                        f.iter()
                            .any(|f| f.as_str() == Some(arc::CLEANUP_PROTECTION))
                    })
                }
                "ownerReferences" => {
                    let owners = v.as_array().into_iter().flatten().enumerate();
                    facts.owner_references = owners
                        .filter_map(|(i, owner)| {
                            let field = |p| rules::str_at(owner, p).map(str::to_string);
                            Some((i, field("/apiVersion")?, field("/kind")?, field("/name")?))
                        })
                        .collect();
                }
                _ => {}
            }
        }
        let refs = Refs::of(value);
        if refs != Refs::default() {
            facts.refs = Some(Box::new(refs));
        }
        facts
    }

    fn read_annotations(&mut self, annotations: &Value) {
        for (key, value) in annotations.as_object().into_iter().flatten() {
            let text = value.as_str();
            match key.as_str() {
                "helm.sh/hook" => self.hook = text.is_some_and(names_events),
                AFTER_ANNOTATION => self.after = text.map(str::to_string),
                BEFORE_ANNOTATION => self.before = text.map(str::to_string),
                k if k.starts_with(arc::CLEANUP_ANNOTATION_PREFIX) => {
                    if let Some(text) = text {
                        self.cleanup_annotations
                            .push((key.clone(), text.to_string()));
                    }
                }
                _ => {}
            }
        }
    }

    /// Whether the object is a Helm hook (not part of the teardown).
    pub fn is_hook(&self) -> bool {
        self.hook
    }

    /// The kind-specific references, if any.
    pub(crate) fn refs(&self) -> &Refs {
        static NONE: Refs = Refs {
            runner_set: Vec::new(),
            pod: Vec::new(),
            role_ref: [None, None, None],
            subjects: Vec::new(),
            crd: None,
        };
        self.refs.as_deref().unwrap_or(&NONE)
    }
}

/// Whether a `helm.sh/hook` value names at least one event.
fn names_events(hook: &str) -> bool {
    crate::manifest::hook_events(hook).next().is_some()
}

impl Refs {
    fn of(value: &Value) -> Self {
        let mut refs = Refs::default();
        let api_version = value.get("apiVersion").and_then(Value::as_str);
        let kind = value.get("kind").and_then(Value::as_str);
        let (Some(api_version), Some(kind)) = (api_version, kind) else {
            return refs;
        };
        let (group, _) = ObjectId::split_api_version(api_version);
        let text = |v: &Value, p: &str| rules::str_at(v, p).map(str::to_string);
        if let Some(spec) = rules::pod_spec_pointer(group, kind)
            .and_then(|pointer| rules::at(value, pointer).map(|spec| (spec, pointer)))
        {
            let base = spec.1.trim_start_matches('/').replace('/', ".");
            refs.pod = rules::pod_spec_refs(spec.0, &base);
        }
        match (group, kind) {
            (arc::GROUP, arc::ARS_KIND) => {
                refs.runner_set = arc::SPEC_REFERENCES
                    .iter()
                    .filter_map(|&(pointer, kind, path)| Some((kind, text(value, pointer)?, path)))
                    .collect();
            }
            (rules::RBAC, "RoleBinding" | "ClusterRoleBinding") => {
                refs.role_ref =
                    ["/roleRef/apiGroup", "/roleRef/kind", "/roleRef/name"].map(|p| text(value, p));
                let subjects = value.get("subjects").and_then(Value::as_array);
                refs.subjects = subjects
                    .into_iter()
                    .flatten()
                    .map(|s| {
                        [
                            s.get("kind").and_then(Value::as_str).map(str::to_string),
                            text(s, "/name"),
                            text(s, "/namespace"),
                        ]
                    })
                    .collect();
            }
            ("apiextensions.k8s.io", "CustomResourceDefinition") => {
                refs.crd = text(value, "/spec/group").zip(text(value, "/spec/names/kind"));
            }
            _ => {}
        }
        refs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_only_what_the_rules_need() {
        let facts = Facts::of(&json!({
            "apiVersion": "actions.github.com/v1alpha1", "kind": "AutoscalingRunnerSet",
            "metadata": {"name": "s", "namespace": "n",
                "labels": {"actions.github.com/scale-set-name": "s", "other": "x"},
                "annotations": {"actions.github.com/cleanup-github-secret-name": "gh",
                                "actions.github.com/cleanup-bad": 1, "unrelated": "u",
                                "helm.sh/hook": " , ", "teardown.helm-arc-uninstall/after": "Secret/x"},
                "finalizers": ["actions.github.com/cleanup-protection"],
                "ownerReferences": [{"apiVersion": "v1", "kind": "K"}, {"apiVersion": "v1", "kind": "K", "name": "o"}]},
            "spec": {"githubConfigSecret": "gh", "proxy": {"http": {"credentialSecretRef": ""}},
                     "template": {"spec": {"serviceAccountName": "sa", "containers": [{"name": "c"}]}}}
        }));
        assert!(!facts.hook);
        assert_eq!(facts.after.as_deref(), Some("Secret/x"));
        assert_eq!(
            facts.cleanup_annotations,
            [(
                "actions.github.com/cleanup-github-secret-name".to_string(),
                "gh".to_string()
            )]
        );
        assert!(facts.cleanup_finalizer);
        assert_eq!(facts.scale_set_name.as_deref(), Some("s"));
        assert_eq!(facts.scale_set_namespace, None);
        assert_eq!(
            facts.owner_references,
            [(1, "v1".into(), "K".into(), "o".into())]
        );
        let refs = facts.refs();
        assert_eq!(
            refs.runner_set,
            [
                ("Secret", "gh".to_string(), "spec.githubConfigSecret"),
                (
                    "ServiceAccount",
                    "sa".to_string(),
                    "spec.template.spec.serviceAccountName"
                )
            ]
        );
        assert_eq!(refs.pod.len(), 1);
        assert_eq!(refs.pod[0].path, "spec.template.spec.serviceAccountName");
    }

    #[test]
    fn plain_objects_have_no_refs() {
        let facts = Facts::of(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "c", "annotations": {"helm.sh/hook": "pre-install"}}, "data": {"a": "b"}}));
        assert!(facts.hook);
        assert_eq!(facts.refs, None);
    }
}
