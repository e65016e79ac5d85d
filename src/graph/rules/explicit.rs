//! Chart authors' explicit edges: `teardown.helm-arc-uninstall/after` and
//! `teardown.helm-arc-uninstall/before` (syntax: `graph::reference`).
//!
//! An explicit edge that repeats an ordering another rule already found adds
//! nothing, so planning `render` output (which writes `after` for every
//! object that waits) gives the same plan as planning its input.

use super::Rule;
use crate::graph::index::Index;
use crate::graph::reference::{self, AFTER_ANNOTATION, BEFORE_ANNOTATION};
use crate::graph::{EdgeSink, GraphError};
use crate::manifest::ObjectId;

/// [`Rule::ExplicitAfter`] and [`Rule::ExplicitBefore`].
pub(super) fn annotations(
    ids: &[&ObjectId],
    index: &Index,
    sink: &mut EdgeSink,
) -> Result<(), GraphError> {
    for &m in &index.members {
        let facts = &index.facts[m];
        for (annotation, rule, value) in [
            (
                AFTER_ANNOTATION,
                Rule::ExplicitAfter,
                facts.after.as_deref(),
            ),
            (
                BEFORE_ANNOTATION,
                Rule::ExplicitBefore,
                facts.before.as_deref(),
            ),
        ] {
            let Some(value) = value else {
                continue;
            };
            let references = reference::parse_reference_list(value).map_err(|source| {
                GraphError::BadReference {
                    object: ids[m].to_string(),
                    annotation,
                    source,
                }
            })?;
            for r in references {
                let targets = reference::resolve(ids, index, m, &r).map_err(|problem| {
                    GraphError::UnresolvedReference {
                        object: ids[m].to_string(),
                        annotation,
                        reference: r.text.clone(),
                        problem,
                    }
                })?;
                for t in targets {
                    let (before, after) = if rule == Rule::ExplicitAfter {
                        (t, m)
                    } else {
                        (m, t)
                    };
                    if sink.has(before, after) {
                        continue;
                    }
                    let text = match rule {
                        Rule::ExplicitAfter => {
                            format!(
                                "annotation {annotation} on this {} lists the {}",
                                ids[m].kind, ids[t].kind
                            )
                        }
                        _ => format!(
                            "annotation {annotation} on the {} lists this {}",
                            ids[m].kind, ids[t].kind
                        ),
                    };
                    sink.add(before, after, rule, text);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::graph::test_support::{edge_list, objects};
    use crate::graph::{GraphError, plan};
    use serde_json::{Value, json};

    fn cm(name: &str, namespace: &str, annotations: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace, "annotations": annotations}})
    }

    #[test]
    fn after_and_before_add_edges_in_both_directions() {
        let objs = objects(vec![
            cm(
                "a",
                "x",
                json!({"teardown.helm-arc-uninstall/after": "ConfigMap/b, ConfigMap/y/c"}),
            ),
            cm(
                "b",
                "x",
                json!({"teardown.helm-arc-uninstall/before": "ClusterRole/cr"}),
            ),
            cm("c", "y", json!({})),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "cr"}}),
        ]);
        assert_eq!(
            edge_list(&objs),
            [
                (
                    "ConfigMap/x/b".into(),
                    "ConfigMap/x/a".into(),
                    "explicit-after".into()
                ),
                (
                    "ConfigMap/y/c".into(),
                    "ConfigMap/x/a".into(),
                    "explicit-after".into()
                ),
                (
                    "ConfigMap/x/b".into(),
                    "ClusterRole/cr".into(),
                    "explicit-before".into()
                ),
            ]
        );
        let p = plan(&objs).unwrap();
        assert_eq!(p.waves(), [vec![1, 2], vec![0, 3]]);
        assert_eq!(
            &*p.edges()[0].reason().text,
            "annotation teardown.helm-arc-uninstall/after on this ConfigMap lists the ConfigMap"
        );
    }

    #[test]
    fn unknown_ambiguous_hook_and_malformed_references_are_errors() {
        let cases = [
            (
                json!({"teardown.helm-arc-uninstall/after": "ConfigMap/missing"}),
                "ConfigMap/x/a: annotation teardown.helm-arc-uninstall/after: `ConfigMap/missing` names no object of the manifest",
            ),
            (
                json!({"teardown.helm-arc-uninstall/before": "Job/migrate"}),
                "ConfigMap/x/a: annotation teardown.helm-arc-uninstall/before: `Job/migrate` names a Helm hook; hooks are not part of the teardown",
            ),
            (
                json!({"teardown.helm-arc-uninstall/after": "Widget/w"}),
                "ConfigMap/x/a: annotation teardown.helm-arc-uninstall/after: `Widget/w` is ambiguous: objects of groups a.example, b.example match; write Kind.group",
            ),
            (
                json!({"teardown.helm-arc-uninstall/after": "ConfigMap"}),
                "ConfigMap/x/a: annotation teardown.helm-arc-uninstall/after: `ConfigMap` is not Kind/name or Kind/namespace/name",
            ),
        ];
        for (annotations, message) in cases {
            let objs = objects(vec![
                cm("a", "x", annotations),
                json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate", "namespace": "x", "annotations": {"helm.sh/hook": "pre-delete"}}}),
                json!({"apiVersion": "a.example/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "x"}}),
                json!({"apiVersion": "b.example/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "x"}}),
            ]);
            assert_eq!(plan(&objs).unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn explicit_edges_repeating_computed_ones_add_nothing() {
        let objs = objects(vec![
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "rb"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r",
                   "annotations": {"teardown.helm-arc-uninstall/after": "RoleBinding/rb"}}}),
        ]);
        let p = plan(&objs).unwrap();
        assert_eq!(p.edges().len(), 1);
        assert_eq!(p.edges()[0].reasons.len(), 1);
        assert_eq!(p.after_annotation(1).as_deref(), Some("RoleBinding/rb"));
    }

    #[test]
    fn cycle_names_every_object_and_rule() {
        let objs = objects(vec![
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "rb",
                   "annotations": {"teardown.helm-arc-uninstall/after": "ConfigMap/c"}},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "r",
                   "annotations": {"teardown.helm-arc-uninstall/before": "ConfigMap/c"}}}),
            cm("c", "default", json!({})),
            cm("free", "default", json!({})),
        ]);
        let err = plan(&objs).unwrap_err();
        assert!(matches!(&err, GraphError::Cycle(c) if c.len() == 1 && c[0].0.len() == 3));
        assert_eq!(
            err.to_string(),
            "dependency cycle: RoleBinding/default/rb -(binding-role)-> Role/default/r -(explicit-before)-> \
             ConfigMap/default/c -(explicit-after)-> RoleBinding/default/rb"
        );
    }
}
