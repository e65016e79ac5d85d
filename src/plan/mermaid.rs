//! `plan -o mermaid`: a Mermaid flowchart, one subgraph per wave.

use crate::graph::Teardown;
use std::fmt::Write;

/// The plan as a Mermaid flowchart.
pub fn mermaid(plan: &Teardown<'_>) -> String {
    let objects = plan.objects();
    let mut out = String::from("flowchart LR\n");
    for (wave, items) in plan.waves().iter().enumerate() {
        let _ = writeln!(out, "  subgraph wave{wave}[\"wave {wave}\"]");
        for &i in items {
            let _ = writeln!(out, "    n{i}[\"{}\"]", escape(&objects[i].id.to_string()));
        }
        out.push_str("  end\n");
    }
    for edge in plan.edges() {
        let _ = writeln!(
            out,
            "  n{} -->|{}| n{}",
            edge.before,
            edge.reason().rule,
            edge.after
        );
    }
    out
}

/// Escape for a double-quoted Mermaid label.
fn escape(s: &str) -> String {
    s.replace('"', "#quot;")
}
