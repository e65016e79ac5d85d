//! The rules that order a teardown. Each rule lives in one place with its
//! reason; [`apply_all`] runs them in a fixed order (which only decides whose
//! reason is primary when several rules order the same pair).

mod explicit;
mod kubernetes;
mod runner_sets;

pub(super) use kubernetes::{PodRef, RBAC, pod_spec_pointer, pod_spec_refs};

use super::index::Index;
use super::{EdgeSink, GraphError};
use crate::manifest::ObjectId;
use serde::Serialize;
use std::fmt;

/// A rule that orders objects. Its `Display` is a stable kebab-case id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// An AutoscalingRunnerSet goes before the objects its
    /// `actions.github.com/cleanup-*` annotations name.
    ArcCleanupAnnotation,
    /// An AutoscalingRunnerSet goes before the Secrets, ServiceAccount and
    /// ConfigMap its spec refers to.
    ArcSpecReference,
    /// An AutoscalingRunnerSet goes before objects carrying the
    /// `actions.github.com/cleanup-protection` finalizer that no annotation names.
    ArcCleanupProtection,
    /// A workload goes before the ServiceAccounts, ConfigMaps, Secrets and
    /// PersistentVolumeClaims its pod template uses.
    WorkloadUses,
    /// A (Cluster)RoleBinding goes before the (Cluster)Role it binds.
    BindingRole,
    /// A (Cluster)RoleBinding goes before the ServiceAccounts it binds.
    BindingSubject,
    /// A dependent goes before its owner (ownerReferences).
    OwnerReference,
    /// A custom resource goes before the CustomResourceDefinition of its kind.
    CustomResourceDefinition,
    /// A namespaced object goes before its Namespace.
    NamespaceContents,
    /// Mutating/ValidatingWebhookConfigurations go before everything else.
    WebhookFirst,
    /// `teardown.helm-arc-uninstall/after` on the later object.
    ExplicitAfter,
    /// `teardown.helm-arc-uninstall/before` on the earlier object.
    ExplicitBefore,
}

impl Rule {
    /// Every rule, in the order they are applied.
    pub const ALL: [Rule; 12] = [
        Rule::ArcCleanupAnnotation,
        Rule::ArcSpecReference,
        Rule::ArcCleanupProtection,
        Rule::WorkloadUses,
        Rule::BindingRole,
        Rule::BindingSubject,
        Rule::OwnerReference,
        Rule::CustomResourceDefinition,
        Rule::NamespaceContents,
        Rule::WebhookFirst,
        Rule::ExplicitAfter,
        Rule::ExplicitBefore,
    ];

    /// The stable id used in output (`arc-cleanup-annotation`, ...).
    pub fn id(self) -> &'static str {
        match self {
            Rule::WebhookFirst => "webhook-first",
            Rule::ArcCleanupAnnotation => "arc-cleanup-annotation",
            Rule::ArcSpecReference => "arc-spec-reference",
            Rule::ArcCleanupProtection => "arc-cleanup-protection",
            Rule::WorkloadUses => "workload-uses",
            Rule::BindingRole => "binding-role",
            Rule::BindingSubject => "binding-subject",
            Rule::OwnerReference => "owner-reference",
            Rule::CustomResourceDefinition => "custom-resource-definition",
            Rule::NamespaceContents => "namespace-contents",
            Rule::ExplicitAfter => "explicit-after",
            Rule::ExplicitBefore => "explicit-before",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// Run every rule over the members of `objects`.
pub(crate) fn apply_all(
    ids: &[&ObjectId],
    index: &Index,
    sink: &mut EdgeSink,
) -> Result<(), GraphError> {
    runner_sets::runner_sets(ids, index, sink);
    kubernetes::workloads(ids, index, sink);
    kubernetes::bindings(ids, index, sink);
    kubernetes::owner_references(ids, index, sink);
    kubernetes::custom_resources(ids, index, sink);
    // These two build on the edges found so far (see their docs).
    kubernetes::namespaces(ids, index, sink);
    kubernetes::webhooks_first(ids, index, sink);
    // Last: explicit edges only add pairs no rule found.
    explicit::annotations(ids, index, sink)
}

/// The value at a JSON pointer made of plain keys (no `~` escapes, no array
/// indices). Unlike `Value::pointer` it does not allocate: rules run on every
/// object of large fleets.
pub(crate) fn at<'v>(value: &'v serde_json::Value, pointer: &str) -> Option<&'v serde_json::Value> {
    pointer
        .split('/')
        .skip(1)
        .try_fold(value, |v, key| v.as_object()?.get(key))
}

/// A non-empty string at a JSON pointer (see [`at`]).
pub(crate) fn str_at<'v>(value: &'v serde_json::Value, pointer: &str) -> Option<&'v str> {
    at(value, pointer)
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
}
