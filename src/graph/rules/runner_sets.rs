//! ARC rules: an AutoscalingRunnerSet goes before everything its controller
//! needs while finalizing it (facts: shared/docs/arc-teardown.md §1.1, §5).
//!
//! Names are read from the runner set, never recomputed (they follow
//! `runnerScaleSetName` and changed across chart versions). No order is put
//! between the dependents themselves: the controller's finalizer-stripping
//! order matters for its ladder, not for deletion; generic rules (a
//! RoleBinding before its Role) apply between them.

use super::Rule;
use crate::arc::{
    ARS_KIND, CLEANUP_ANNOTATION_PREFIX, CLEANUP_PROTECTION, GROUP, cleanup_annotation_kind,
};
use crate::graph::EdgeSink;
use crate::graph::index::Index;
use crate::manifest::ObjectId;
use std::collections::HashSet;

const NEEDED: &str = "its controller needs it until the runner set is finalized";

/// [`Rule::ArcCleanupAnnotation`], [`Rule::ArcSpecReference`] and
/// [`Rule::ArcCleanupProtection`] for every runner set of the stream.
pub(super) fn runner_sets(ids: &[&ObjectId], index: &Index, sink: &mut EdgeSink) {
    let runner_sets: Vec<usize> = index.of_kind(ids, GROUP, ARS_KIND).collect();
    let mut named: HashSet<usize> = HashSet::new();
    for &ars in &runner_sets {
        let namespace = ids[ars].namespace.as_deref();
        let facts = &index.facts[ars];
        for (key, name) in &facts.cleanup_annotations {
            let Some(suffix) = key.strip_prefix(CLEANUP_ANNOTATION_PREFIX) else {
                continue;
            };
            let Some((group, kind)) = cleanup_annotation_kind(suffix) else {
                continue;
            };
            for target in index.find(group, kind, namespace, name) {
                named.insert(target);
                sink.add(
                    ars,
                    target,
                    Rule::ArcCleanupAnnotation,
                    format!(
                        "the AutoscalingRunnerSet names this {kind} in annotation {key}; {NEEDED}"
                    ),
                );
            }
        }
        for (kind, name, path) in &facts.refs().runner_set {
            for target in index.find("", kind, namespace, name) {
                sink.add(
                    ars,
                    target,
                    Rule::ArcSpecReference,
                    format!("the AutoscalingRunnerSet refers to this {kind} in {path}; {NEEDED}"),
                );
            }
        }
    }
    for &m in &index.members {
        if named.contains(&m) || !index.facts[m].cleanup_finalizer {
            continue;
        }
        for ars in owning_runner_sets(ids, index, &runner_sets, m) {
            sink.add(
                ars,
                m,
                Rule::ArcCleanupProtection,
                format!(
                    "this {} carries finalizer {CLEANUP_PROTECTION}, which the AutoscalingRunnerSet's controller \
                     removes while finalizing it (no cleanup annotation names it)",
                    ids[m].kind
                ),
            );
        }
    }
}

/// The runner sets protected object `m` belongs to: those in its namespace
/// whose scale-set labels match the object's, else every runner set in its
/// namespace.
fn owning_runner_sets(
    ids: &[&ObjectId],
    index: &Index,
    runner_sets: &[usize],
    m: usize,
) -> Vec<usize> {
    let object = ids[m];
    let same_namespace: Vec<usize> = runner_sets
        .iter()
        .copied()
        .filter(|&a| ids[a].namespace.is_some() && ids[a].namespace == object.namespace)
        .collect();
    let labels = &index.facts[m];
    let labelled: Vec<usize> = match labels.scale_set_name.as_deref() {
        Some(set_name) => same_namespace
            .iter()
            .copied()
            .filter(|&a| {
                let ars = ids[a];
                index.facts[a]
                    .scale_set_name
                    .as_deref()
                    .unwrap_or(&ars.name)
                    == set_name
                    && labels
                        .scale_set_namespace
                        .as_deref()
                        .is_none_or(|ns| ars.namespace.as_deref() == Some(ns))
            })
            .collect(),
        None => Vec::new(),
    };
    if labelled.is_empty() {
        same_namespace
    } else {
        labelled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::test_support::{edge_list, objects};
    use serde_json::{Value, json};

    fn ars(name: &str, namespace: &str, annotations: Value, spec: Value) -> Value {
        json!({"apiVersion": "actions.github.com/v1alpha1", "kind": "AutoscalingRunnerSet",
               "metadata": {"name": name, "namespace": namespace, "annotations": annotations,
                            "labels": {"actions.github.com/scale-set-name": name, "actions.github.com/scale-set-namespace": namespace}},
               "spec": spec})
    }

    fn protected(
        api_version: &str,
        kind: &str,
        name: &str,
        namespace: &str,
        set: Option<&str>,
    ) -> Value {
        let labels = match set {
            Some(s) => {
                json!({"actions.github.com/scale-set-name": s, "actions.github.com/scale-set-namespace": namespace})
            }
            None => json!({}),
        };
        json!({"apiVersion": api_version, "kind": kind,
               "metadata": {"name": name, "namespace": namespace, "labels": labels,
                            "finalizers": ["actions.github.com/cleanup-protection"]}})
    }

    #[test]
    fn runner_set_goes_before_annotated_and_referenced_objects_only() {
        let objs = objects(vec![
            ars(
                "set",
                "r",
                json!({
                    "actions.github.com/cleanup-manager-role-binding": "mgr",
                    "actions.github.com/cleanup-manager-role-name": "mgr",
                    "actions.github.com/cleanup-github-secret-name": "gh",
                }),
                json!({"githubConfigSecret": "gh",
                       "proxy": {"http": {"url": "http://p", "credentialSecretRef": "proxy-http"},
                                 "https": {"url": "http://p", "credentialSecretRef": "proxy-https"}},
                       "githubServerTLS": {"certificateFrom": {"configMapKeyRef": {"name": "ca", "key": "ca.crt"}}},
                       "template": {"spec": {"serviceAccountName": "runner"}}}),
            ),
            {
                let mut rb = protected(
                    "rbac.authorization.k8s.io/v1",
                    "RoleBinding",
                    "mgr",
                    "r",
                    Some("set"),
                );
                rb["roleRef"] =
                    json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "mgr"});
                rb
            },
            protected(
                "rbac.authorization.k8s.io/v1",
                "Role",
                "mgr",
                "r",
                Some("set"),
            ),
            protected("v1", "Secret", "gh", "r", Some("set")),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "proxy-http", "namespace": "r"}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "proxy-https", "namespace": "r"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ca", "namespace": "r"}}),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "runner", "namespace": "r"}}),
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "gh", "namespace": "other"}}),
        ]);
        let edges = edge_list(&objs);
        let arc: Vec<(&str, &str)> = edges
            .iter()
            .filter(|(b, _, _)| b == "AutoscalingRunnerSet/r/set")
            .map(|(_, a, r)| (a.as_str(), r.as_str()))
            .collect();
        assert_eq!(
            arc,
            [
                ("RoleBinding/r/mgr", "arc-cleanup-annotation"),
                ("Role/r/mgr", "arc-cleanup-annotation"),
                ("Secret/r/gh", "arc-cleanup-annotation"),
                ("ServiceAccount/r/runner", "arc-spec-reference"),
                ("Secret/r/proxy-http", "arc-spec-reference"),
                ("Secret/r/proxy-https", "arc-spec-reference"),
                ("ConfigMap/r/ca", "arc-spec-reference"),
            ]
        );
        // Between the dependents only the generic binding rule applies.
        let others: Vec<_> = edges
            .iter()
            .filter(|(b, _, _)| b != "AutoscalingRunnerSet/r/set")
            .collect();
        assert_eq!(
            others,
            [&(
                "RoleBinding/r/mgr".to_string(),
                "Role/r/mgr".to_string(),
                "binding-role".to_string()
            )]
        );
        let plan = crate::graph::plan(&objs).unwrap();
        assert_eq!(plan.waves()[0], [0, 8]);
        let secret = plan.edges().iter().find(|e| e.after == 3).unwrap();
        let rules: Vec<Rule> = secret.reasons.iter().map(|r| r.rule).collect();
        assert_eq!(rules, [Rule::ArcCleanupAnnotation, Rule::ArcSpecReference]);
        assert_eq!(
            &*secret.reason().text,
            "the AutoscalingRunnerSet names this Secret in annotation actions.github.com/cleanup-github-secret-name; \
             its controller needs it until the runner set is finalized"
        );
    }

    #[test]
    fn protected_objects_without_annotation_fall_back_to_their_runner_set() {
        let objs = objects(vec![
            ars("a", "r", json!({}), json!({})),
            ars("b", "r", json!({}), json!({})),
            ars("c", "elsewhere", json!({}), json!({})),
            protected("v1", "ServiceAccount", "for-b", "r", Some("b")),
            protected("v1", "ServiceAccount", "unlabelled", "r", None),
            protected("v1", "ServiceAccount", "unknown-set", "r", Some("zzz")),
            protected("v1", "ServiceAccount", "lonely", "nowhere", None),
        ]);
        let edges: Vec<(String, String)> = edge_list(&objs)
            .into_iter()
            .inspect(|(_, _, r)| assert_eq!(r, "arc-cleanup-protection"))
            .map(|(b, a, _)| (b, a))
            .collect();
        let pairs: Vec<(&str, &str)> = edges
            .iter()
            .map(|(b, a)| (b.as_str(), a.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("AutoscalingRunnerSet/r/b", "ServiceAccount/r/for-b"),
                ("AutoscalingRunnerSet/r/a", "ServiceAccount/r/unlabelled"),
                ("AutoscalingRunnerSet/r/b", "ServiceAccount/r/unlabelled"),
                ("AutoscalingRunnerSet/r/a", "ServiceAccount/r/unknown-set"),
                ("AutoscalingRunnerSet/r/b", "ServiceAccount/r/unknown-set"),
            ]
        );
    }

    #[test]
    fn annotation_naming_wins_over_fallback_and_sets_keep_their_own_objects() {
        let objs = objects(vec![
            ars(
                "a",
                "one",
                json!({"actions.github.com/cleanup-manager-role-name": "mgr"}),
                json!({}),
            ),
            ars(
                "a",
                "two",
                json!({"actions.github.com/cleanup-manager-role-name": "mgr"}),
                json!({}),
            ),
            protected(
                "rbac.authorization.k8s.io/v1",
                "Role",
                "mgr",
                "one",
                Some("a"),
            ),
            protected(
                "rbac.authorization.k8s.io/v1",
                "Role",
                "mgr",
                "two",
                Some("a"),
            ),
        ]);
        assert_eq!(
            edge_list(&objs),
            [
                (
                    "AutoscalingRunnerSet/one/a".into(),
                    "Role/one/mgr".into(),
                    "arc-cleanup-annotation".into()
                ),
                (
                    "AutoscalingRunnerSet/two/a".into(),
                    "Role/two/mgr".into(),
                    "arc-cleanup-annotation".into()
                ),
            ]
        );
    }
}
