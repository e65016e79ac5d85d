//! Benchmark (not a test): parse + plan + render the plan of generated fleets
//! of kubernetes-mode runner sets, to show the graph is linear in input size.
//! Run: `cargo bench --bench plan`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use helm_arc_uninstall::manifest::{self, ParseOptions};
use helm_arc_uninstall::{graph, plan};
use std::time::{Duration, Instant};

/// `sets` copies of the bundled kubernetes-mode runner set (9 objects each),
/// each in its own namespace with its own names.
fn fleet(sets: usize) -> String {
    let one = include_str!("../examples/manifests/kubernetes-mode-runner-set.yaml");
    (0..sets)
        .map(|i| {
            one.replace("namespace: ci", &format!("namespace: ci-{i}"))
                .replace("linux", &format!("linux-{i}"))
        })
        .collect()
}

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..runs {
        let start = Instant::now();
        let value = f();
        best = best.min(start.elapsed());
        out = Some(value);
    }
    (best, out.unwrap())
}

fn main() {
    println!("sets  objects  MB     parse ms  graph ms  json ms  text ms  edges");
    for sets in [500, 1000, 2000, 4000] {
        let text = fleet(sets);
        let (parse, manifest) = best_of(3, || {
            manifest::parse(&text, &ParseOptions::default()).unwrap()
        });
        let objects: Vec<_> = manifest.objects().collect();
        let (graph_time, edges) = best_of(5, || {
            graph::plan(objects.iter().copied()).unwrap().edges().len()
        });
        let teardown = graph::plan(objects.iter().copied()).unwrap();
        let (json, _) = best_of(3, || plan::json(&teardown));
        let (human, _) = best_of(3, || plan::text(&teardown));
        println!(
            "{sets:<5} {:<8} {:<6.1} {:<9.1} {:<9.1} {:<8.1} {:<8.1} {edges}",
            objects.len(),
            text.len() as f64 / 1e6,
            parse.as_secs_f64() * 1e3,
            graph_time.as_secs_f64() * 1e3,
            json.as_secs_f64() * 1e3,
            human.as_secs_f64() * 1e3,
        );
    }
}
