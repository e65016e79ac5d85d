//! Which kinds are cluster-scoped.

use serde_json::Value;
use std::collections::BTreeSet;

/// Built-in cluster-scoped kinds as `(group, kind)`.
const CLUSTER_SCOPED: &[(&str, &str)] = &[
    ("", "Namespace"),
    ("", "Node"),
    ("", "PersistentVolume"),
    ("", "ComponentStatus"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("apiextensions.k8s.io", "CustomResourceDefinition"),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
    ("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "ValidatingAdmissionPolicyBinding",
    ),
    ("admissionregistration.k8s.io", "MutatingAdmissionPolicy"),
    (
        "admissionregistration.k8s.io",
        "MutatingAdmissionPolicyBinding",
    ),
    ("apiregistration.k8s.io", "APIService"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("storage.k8s.io", "StorageClass"),
    ("storage.k8s.io", "CSIDriver"),
    ("storage.k8s.io", "CSINode"),
    ("storage.k8s.io", "VolumeAttachment"),
    ("storage.k8s.io", "VolumeAttributesClass"),
    ("networking.k8s.io", "IngressClass"),
    ("networking.k8s.io", "IPAddress"),
    ("networking.k8s.io", "ServiceCIDR"),
    ("node.k8s.io", "RuntimeClass"),
    ("policy", "PodSecurityPolicy"),
    ("certificates.k8s.io", "CertificateSigningRequest"),
    ("certificates.k8s.io", "ClusterTrustBundle"),
    ("flowcontrol.apiserver.k8s.io", "FlowSchema"),
    ("flowcontrol.apiserver.k8s.io", "PriorityLevelConfiguration"),
    ("resource.k8s.io", "DeviceClass"),
];

/// Whether `(group, kind)` is a known cluster-scoped kind. Unknown kinds
/// (custom resources) are treated as namespaced, as Helm does offline.
pub fn is_cluster_scoped(group: &str, kind: &str) -> bool {
    CLUSTER_SCOPED.iter().any(|&(g, k)| g == group && k == kind)
}

/// Kind scopes for one stream: the built-in table plus the CRDs it contains
/// (`spec.scope` of each `CustomResourceDefinition`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scopes {
    /// `(group, kind)` of CRDs with `spec.scope: Cluster`.
    cluster: BTreeSet<(String, String)>,
    /// `(group, kind)` of CRDs with `spec.scope: Namespaced`.
    namespaced: BTreeSet<(String, String)>,
}

impl Scopes {
    /// Collect the scopes declared by the CRDs among `values`.
    pub fn from_values<'a>(values: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut scopes = Self::default();
        for v in values {
            scopes.add(v);
        }
        scopes
    }

    /// Learn the scope `v` declares, if it is a CustomResourceDefinition.
    pub fn add(&mut self, v: &Value) {
        let is_crd = v.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition")
            && v.get("apiVersion")
                .and_then(Value::as_str)
                .is_some_and(|a| a.starts_with("apiextensions.k8s.io/"));
        if !is_crd {
            return;
        }
        let field = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
        if let (Some(group), Some(kind), Some(scope)) = (
            field("/spec/group"),
            field("/spec/names/kind"),
            field("/spec/scope"),
        ) {
            match scope.as_str() {
                "Cluster" => self.cluster.insert((group, kind)),
                _ => self.namespaced.insert((group, kind)),
            };
        }
    }

    /// Whether `(group, kind)` is cluster-scoped: declared so by a CRD of the
    /// stream, or a built-in cluster-scoped kind not redeclared as namespaced.
    pub fn is_cluster_scoped(&self, group: &str, kind: &str) -> bool {
        let key = (group.to_string(), kind.to_string());
        if self.cluster.contains(&key) {
            return true;
        }
        !self.namespaced.contains(&key) && is_cluster_scoped(group, kind)
    }
}
