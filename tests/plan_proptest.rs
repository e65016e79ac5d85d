//! Property tests: over random DAG-shaped streams (explicit edges plus
//! RoleBindings, Roles, ServiceAccounts, ConfigMaps and Deployments that
//! refer to each other, a Namespace, a webhook) the waves respect every edge
//! and are minimal Kahn layers; adding a ring always yields a cycle error
//! whose steps are real edges.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use helm_arc_uninstall::graph::{self, Facts, GraphError};
use helm_arc_uninstall::manifest::Object;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

const KINDS: [&str; 5] = [
    "ConfigMap",
    "Role",
    "RoleBinding",
    "ServiceAccount",
    "Deployment",
];

/// A random stream of `kinds.len()` objects named `c<i>` in namespaces
/// `ns0`/`ns1` (by parity). Object `i` may refer (roleRef and subject for a
/// RoleBinding; serviceAccountName and a configMap volume for a Deployment)
/// to a later object `refs[i]`; explicit edges go from lower to higher index,
/// written as `after` on the later object or `before` on the earlier one. So
/// every edge goes up in index order: a DAG.
#[derive(Debug, Clone)]
struct Stream {
    kinds: Vec<usize>,
    refs: Vec<Option<usize>>,
    edges: Vec<(usize, usize, bool)>,
    with_namespace: bool,
    with_webhook: bool,
}

fn stream() -> impl Strategy<Value = Stream> {
    (2usize..24).prop_flat_map(|n| {
        (
            proptest::collection::vec(0..KINDS.len(), n),
            proptest::collection::vec(any::<usize>(), n),
            proptest::collection::vec((0..n, 0..n, any::<bool>()), 0..n * 2),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                move |(kinds, raw_refs, raw, with_namespace, with_webhook)| Stream {
                    refs: raw_refs
                        .into_iter()
                        .enumerate()
                        .map(|(i, r)| (i + 1 < n).then(|| i + 1 + r % (n - i - 1)))
                        .collect(),
                    kinds,
                    edges: raw
                        .into_iter()
                        .filter(|(a, b, _)| a != b)
                        .map(|(a, b, w)| (a.min(b), a.max(b), w))
                        .collect(),
                    with_namespace,
                    with_webhook,
                },
            )
    })
}

impl Stream {
    fn n(&self) -> usize {
        self.kinds.len()
    }

    fn kind(&self, i: usize) -> &'static str {
        KINDS[self.kinds[i]]
    }

    /// The edges the generic rules must find: `(user, used)`.
    fn generic_edges(&self) -> Vec<(usize, usize)> {
        (0..self.n())
            .filter_map(|i| Some((i, self.refs[i]?)))
            .filter(|&(i, t)| i % 2 == t % 2)
            .filter(|&(i, t)| {
                matches!(
                    (self.kind(i), self.kind(t)),
                    ("RoleBinding", "Role" | "ServiceAccount")
                        | ("Deployment", "ServiceAccount" | "ConfigMap")
                )
            })
            .collect()
    }
}

fn namespace(i: usize) -> String {
    format!("ns{}", i % 2)
}

/// Build objects; `extra` are additional explicit edges (may form cycles).
fn build(s: &Stream, extra: &[(usize, usize)]) -> Vec<Object> {
    let mut after: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut before: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let reference = |i: usize| format!("{}/{}/c{i}", s.kind(i), namespace(i));
    for &(b, a, as_after) in &s.edges {
        if as_after {
            after.entry(a).or_default().push(reference(b));
        } else {
            before.entry(b).or_default().push(reference(a));
        }
    }
    for &(b, a) in extra {
        after.entry(a).or_default().push(reference(b));
    }
    let mut values: Vec<Value> = (0..s.n())
        .map(|i| {
            let mut annotations = serde_json::Map::new();
            if let Some(list) = after.get(&i) {
                annotations.insert("teardown.helm-arc-uninstall/after".into(), list.join(", ").into());
            }
            if let Some(list) = before.get(&i) {
                annotations.insert("teardown.helm-arc-uninstall/before".into(), list.join(",").into());
            }
            let api_version = match s.kind(i) {
                "Role" | "RoleBinding" => "rbac.authorization.k8s.io/v1",
                "Deployment" => "apps/v1",
                _ => "v1",
            };
            let mut value = json!({"apiVersion": api_version, "kind": s.kind(i),
                "metadata": {"name": format!("c{i}"), "namespace": namespace(i), "annotations": annotations}});
            if let Some(t) = s.refs[i] {
                let target = format!("c{t}");
                match s.kind(i) {
                    "RoleBinding" => {
                        value["roleRef"] = json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": target});
                        value["subjects"] = json!([{"kind": "ServiceAccount", "name": target}]);
                    }
                    "Deployment" => {
                        value["spec"] = json!({"template": {"spec": {"serviceAccountName": target,
                            "volumes": [{"name": "v", "configMap": {"name": target}}]}}});
                    }
                    _ => {}
                }
            }
            value
        })
        .collect();
    if s.with_namespace {
        values.push(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns0"}}));
    }
    if s.with_webhook {
        values.push(json!({"apiVersion": "admissionregistration.k8s.io/v1",
                           "kind": "MutatingWebhookConfiguration", "metadata": {"name": "hook"}}));
    }
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| Object::from_value(v, i, "default").unwrap())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn waves_respect_every_edge_and_are_minimal(s in stream()) {
        let objects = build(&s, &[]);
        let plan = graph::plan(&objects).unwrap();
        let wave = |i: usize| plan.wave(i).unwrap();
        for &(b, a, _) in &s.edges {
            prop_assert!(wave(b) < wave(a), "explicit edge {b}->{a}");
        }
        for (user, used) in s.generic_edges() {
            prop_assert!(wave(user) < wave(used), "generic edge {user}->{used}");
        }
        for edge in plan.edges() {
            prop_assert!(wave(edge.before) < wave(edge.after));
        }
        // Kahn layers: an object in wave w > 0 waits on something in wave w - 1.
        for i in 0..objects.len() {
            if wave(i) > 0 {
                prop_assert!(plan.after(i).iter().any(|&b| wave(b) + 1 == wave(i)));
            } else {
                prop_assert!(plan.after(i).is_empty());
            }
        }
        // Every object is in exactly one wave, document order inside a wave.
        let all: Vec<usize> = plan.waves().iter().flatten().copied().collect();
        prop_assert_eq!(all.len(), objects.len());
        for w in plan.waves() {
            prop_assert!(w.windows(2).all(|p| p[0] < p[1]));
        }
        if s.with_namespace {
            let ns = s.n();
            for i in (0..s.n()).filter(|i| i % 2 == 0) {
                prop_assert!(wave(i) < wave(ns), "ns0 after c{i}");
            }
        }
        if s.with_webhook {
            let hook = s.n() + usize::from(s.with_namespace);
            prop_assert_eq!(wave(hook), 0);
            for i in (0..objects.len()).filter(|&i| i != hook) {
                prop_assert!(wave(i) > 0);
            }
        }
    }

    #[test]
    fn rings_are_always_reported(s in stream(), ring in proptest::collection::btree_set(0usize..24, 2..6)) {
        let ring: Vec<usize> = ring.into_iter().filter(|&i| i < s.n()).collect();
        prop_assume!(ring.len() >= 2);
        let mut extra: Vec<(usize, usize)> = ring.windows(2).map(|p| (p[0], p[1])).collect();
        extra.push((ring[ring.len() - 1], ring[0]));
        let objects = build(&s, &extra);
        let err = graph::plan(&objects).unwrap_err();
        let GraphError::Cycle(cycles) = &err else {
            return Err(TestCaseError::fail(format!("expected a cycle, got {err}")));
        };
        prop_assert!(!cycles.is_empty());
        let name = |i: usize| objects[i].id.clone();
        let real: BTreeSet<_> = s.edges.iter().map(|&(b, a, _)| (b, a))
            .chain(extra.iter().copied())
            .chain(s.generic_edges())
            .map(|(b, a)| (name(b), name(a)))
            .collect();
        let message = err.to_string();
        for cycle in cycles {
            let steps = &cycle.0;
            prop_assert!(steps.len() >= 2);
            for (k, step) in steps.iter().enumerate() {
                prop_assert_eq!(&step.after, &steps[(k + 1) % steps.len()].before);
                prop_assert!(real.contains(&(step.before.clone(), step.after.clone())), "{} is an edge", cycle);
                prop_assert!(message.contains(&step.before.to_string()));
                let arrow = format!("-({})->", step.rule);
                prop_assert!(message.contains(&arrow), "{} names {}", message, arrow);
            }
        }
    }

    /// Planning from `graph::Facts` (what `render` keeps) with the objects
    /// cut down to their identity gives the same plan as the full objects.
    #[test]
    fn facts_plan_like_full_objects(s in stream(), ring in proptest::collection::btree_set(0usize..24, 0..4)) {
        let ring: Vec<usize> = ring.into_iter().filter(|&i| i < s.n()).collect();
        let mut extra: Vec<(usize, usize)> = ring.windows(2).map(|p| (p[0], p[1])).collect();
        if ring.len() >= 2 {
            extra.push((ring[ring.len() - 1], ring[0]));
        }
        let objects = build(&s, &extra);
        let facts: Vec<Facts> = objects.iter().map(|o| Facts::of(&o.value)).collect();
        let bare: Vec<Object> = objects
            .iter()
            .map(|o| Object { value: Value::Null, ..o.clone() })
            .collect();
        let describe = |plan: &graph::Teardown<'_>| {
            let edges: Vec<_> = plan.edges().iter().map(|e| (e.before, e.after, e.reasons.clone())).collect();
            let after: Vec<_> = (0..plan.objects().len()).map(|i| plan.after_annotation(i)).collect();
            (plan.waves().to_vec(), edges, after)
        };
        let full = graph::plan(&objects).map(|p| describe(&p)).map_err(|e| e.to_string());
        let compact = graph::plan_with_facts(bare.iter().zip(facts)).map(|p| describe(&p)).map_err(|e| e.to_string());
        prop_assert_eq!(full, compact);
    }
}
