//! `plan -o text`: waves, objects and why each object waits.

use crate::graph::Teardown;
use std::fmt::Write;

/// The human-readable plan.
pub fn text(plan: &Teardown<'_>) -> String {
    let objects = plan.objects();
    let members = plan.members().len();
    let mut out = String::new();
    let waves = plan.waves().len();
    let _ = writeln!(
        out,
        "Teardown plan: {members} object{} in {waves} wave{} (each wave is deleted and gone before the next starts)",
        plural(members),
        plural(waves)
    );
    for (wave, items) in plan.waves().iter().enumerate() {
        let _ = writeln!(out, "\nwave {wave}:");
        for &i in items {
            let _ = writeln!(out, "  {}", objects[i].id);
            for edge in plan.incoming(i) {
                for (n, reason) in edge.reasons.iter().enumerate() {
                    let lead = if n == 0 {
                        format!("after {}", objects[edge.before].id)
                    } else {
                        "  and".to_string()
                    };
                    let _ = writeln!(out, "    {lead} [{}]: {}", reason.rule, reason.text);
                }
            }
        }
    }
    let excluded: Vec<_> = super::excluded(plan).collect();
    if !excluded.is_empty() {
        let _ = writeln!(out, "\nnot part of the teardown:");
        for (i, why) in excluded {
            let _ = writeln!(out, "  {}: {why}", objects[i].id);
        }
    }
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
