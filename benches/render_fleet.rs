//! Benchmark for `render` (not a timed test). Run in release mode:
//!
//! ```text
//! cargo bench --bench render_fleet -- gen 2000 > /tmp/fleet.yaml    # 2,000 kubernetes-mode runner sets
//! cargo bench --bench render_fleet -- render /tmp/fleet.yaml > /dev/null  # our post-renderer, output on stdout as the command writes it
//! cargo bench --bench render_fleet -- baseline /tmp/fleet.yaml       # yaml_serde (libyaml) parse + emit (output kept in memory)
//! ```
//!
//! Each mode prints its wall time on stderr; run it under
//! `/usr/bin/time -f "%e s %M KB"` for peak memory. Figures are recorded in
//! docs/design.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use helm_arc_uninstall::render::{RenderOptions, render_retaining};
use std::io::Write;
use std::time::Instant;

/// One kubernetes-mode runner set as `helm template` renders it (7 documents,
/// release and scale set `arc-runner-set`).
const RUNNER_SET: &str = include_str!("../examples/runner-set/rendered.yaml");

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["gen", n] => generate(n.parse().expect("a number of runner sets")),
        ["render" | "render-verify", file] => {
            let input = std::fs::read_to_string(file).unwrap();
            let start = Instant::now();
            let opts = RenderOptions {
                default_namespace: "arc-runners".into(),
                verify: args[0] == "render-verify",
                ..Default::default()
            };
            // As the command does: the parsed stream is not freed before exit.
            let (out, parsed) = render_retaining(&input, &opts).expect("render");
            std::mem::forget(parsed);
            // As the command does: written from the pieces.
            let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            out.write_to(&mut stdout).unwrap();
            stdout.flush().unwrap();
            report(&args[0], input.len(), out.len(), start);
        }
        ["parse", file] => {
            let input = std::fs::read_to_string(file).unwrap();
            let start = Instant::now();
            let m =
                helm_arc_uninstall::manifest::parse(&input, &Default::default()).expect("parse");
            report("parse", input.len(), m.documents.len(), start);
        }
        ["phases", file] => {
            let input = std::fs::read_to_string(file).unwrap();
            let start = Instant::now();
            let m =
                helm_arc_uninstall::manifest::parse(&input, &Default::default()).expect("parse");
            report("  parse", input.len(), m.documents.len(), start);
            let objects: Vec<_> = m.objects().cloned().collect();
            let start = Instant::now();
            let plan = helm_arc_uninstall::graph::plan(&objects).expect("graph");
            report("  graph", input.len(), plan.waves().len(), start);
        }
        ["baseline", file] => {
            let input = std::fs::read_to_string(file).unwrap();
            let start = Instant::now();
            let out = baseline(&input);
            report("baseline", input.len(), out.len(), start);
        }
        _ => {
            eprintln!("usage: render_fleet gen N | render FILE | parse FILE | baseline FILE");
        }
    }
}

fn generate(sets: usize) {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for i in 0..sets {
        let name = format!("arc-runner-set-{i:04}");
        out.write_all(RUNNER_SET.replace("arc-runner-set", &name).as_bytes())
            .unwrap();
    }
    out.flush().unwrap();
}

/// A plain serde_yaml-style round trip: every document to a value and back.
fn baseline(input: &str) -> String {
    use serde::Deserialize;
    let mut out = String::with_capacity(input.len());
    for doc in yaml_serde::Deserializer::from_str(input) {
        let value = yaml_serde::Value::deserialize(doc).expect("yaml");
        if value.is_null() {
            continue;
        }
        out.push_str("---\n");
        out.push_str(&yaml_serde::to_string(&value).expect("emit"));
    }
    out
}

fn report(what: &str, input: usize, output: usize, start: Instant) {
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{what}: {:.3} s for {:.1} MB ({:.1} MB/s), output {output}",
        secs,
        input as f64 / 1e6,
        input as f64 / 1e6 / secs
    );
}
