//! `plan -o dot`: Graphviz, one cluster per wave, arrows from the object that
//! goes first to the one that waits, labelled with the rule.

use crate::graph::Teardown;
use std::fmt::Write;

/// The plan as a Graphviz digraph.
pub fn dot(plan: &Teardown<'_>) -> String {
    let objects = plan.objects();
    let mut out = String::from(
        "digraph teardown {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    for (wave, items) in plan.waves().iter().enumerate() {
        let _ = writeln!(
            out,
            "  subgraph cluster_wave{wave} {{\n    label=\"wave {wave}\";"
        );
        for &i in items {
            let id = &objects[i].id;
            let scope = match &id.namespace {
                Some(ns) => format!("{ns}/{}", id.name),
                None => id.name.clone(),
            };
            let _ = writeln!(
                out,
                "    n{i} [label=\"{}\\n{}\"];",
                escape(&id.kind),
                escape(&scope)
            );
        }
        out.push_str("  }\n");
    }
    for edge in plan.edges() {
        let reason = edge.reason();
        let _ = writeln!(
            out,
            "  n{} -> n{} [label=\"{}\", tooltip=\"{}\"];",
            edge.before,
            edge.after,
            reason.rule,
            escape(&reason.text)
        );
    }
    out.push_str("}\n");
    out
}

/// Escape for a double-quoted dot string.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
