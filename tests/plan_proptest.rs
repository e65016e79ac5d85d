//! Property tests: over random DAG-shaped streams the waves respect every
//! edge and are minimal; adding a ring always yields a cycle error whose
//! steps are real edges.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use helm_arc_uninstall::graph::{self, GraphError};
use helm_arc_uninstall::manifest::Object;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// A random stream: `n` ConfigMaps in two namespaces and ordering edges
/// `(before, after)` with `before < after` (a DAG), each written either as
/// `after` on the later object or `before` on the earlier one.
#[derive(Debug, Clone)]
struct Stream {
    n: usize,
    edges: Vec<(usize, usize, bool)>,
    with_namespace: bool,
    with_webhook: bool,
}

fn stream() -> impl Strategy<Value = Stream> {
    (2usize..24).prop_flat_map(|n| {
        (
            Just(n),
            proptest::collection::vec((0..n, 0..n, any::<bool>()), 0..n * 2),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(n, raw, with_namespace, with_webhook)| Stream {
                n,
                edges: raw
                    .into_iter()
                    .filter(|(a, b, _)| a != b)
                    .map(|(a, b, w)| (a.min(b), a.max(b), w))
                    .collect(),
                with_namespace,
                with_webhook,
            })
    })
}

fn id(i: usize) -> (String, String) {
    (format!("ns{}", i % 2), format!("c{i}"))
}

/// Build objects; `extra` are additional ordering edges (may form cycles).
fn build(s: &Stream, extra: &[(usize, usize)]) -> Vec<Object> {
    let mut after: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut before: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let reference = |i: usize| {
        let (ns, name) = id(i);
        format!("ConfigMap/{ns}/{name}")
    };
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
    let mut values: Vec<Value> = (0..s.n)
        .map(|i| {
            let (ns, name) = id(i);
            let mut annotations = serde_json::Map::new();
            if let Some(list) = after.get(&i) {
                annotations.insert(
                    "teardown.helm-arc-uninstall/after".into(),
                    list.join(", ").into(),
                );
            }
            if let Some(list) = before.get(&i) {
                annotations.insert(
                    "teardown.helm-arc-uninstall/before".into(),
                    list.join(",").into(),
                );
            }
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": name, "namespace": ns, "annotations": annotations}})
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
            prop_assert!(wave(b) < wave(a), "edge {b}->{a}");
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
        let namespace = s.n;
        if s.with_namespace {
            for i in (0..s.n).filter(|i| i % 2 == 0) {
                prop_assert!(wave(i) < wave(namespace), "ns0 after c{i}");
            }
        }
        if s.with_webhook {
            let hook = s.n + usize::from(s.with_namespace);
            prop_assert_eq!(wave(hook), 0);
            for i in (0..objects.len()).filter(|&i| i != hook) {
                prop_assert!(wave(i) > 0);
            }
        }
    }

    #[test]
    fn rings_are_always_reported(s in stream(), ring in proptest::collection::btree_set(0usize..24, 2..6)) {
        let ring: Vec<usize> = ring.into_iter().filter(|&i| i < s.n).collect();
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
        let real: BTreeSet<_> = s.edges.iter().map(|&(b, a, _)| (name(b), name(a)))
            .chain(extra.iter().map(|&(b, a)| (name(b), name(a))))
            .collect();
        for cycle in cycles {
            let steps = &cycle.0;
            prop_assert!(steps.len() >= 2);
            for (k, step) in steps.iter().enumerate() {
                prop_assert_eq!(&step.after, &steps[(k + 1) % steps.len()].before);
                prop_assert!(real.contains(&(step.before.clone(), step.after.clone())), "{} is an edge", cycle);
            }
            let message = err.to_string();
            for step in steps {
                prop_assert!(message.contains(&step.before.to_string()));
                let arrow = format!("-({})->", step.rule);
                prop_assert!(message.contains(&arrow), "{} names {}", message, arrow);
            }
        }
    }
}
