//! Renderings of a planned teardown: text, versioned JSON, Graphviz dot and
//! Mermaid. Pure: each returns a `String`.

mod dot;
mod json;
mod mermaid;
mod text;

pub use dot::dot;
pub use json::{JSON_SCHEMA_VERSION, JsonPlan, json, json_value};
pub use mermaid::mermaid;
pub use text::text;

use crate::graph::Teardown;

/// Objects of the plan that are not part of the teardown (Helm hooks), in
/// document order, with why.
fn excluded<'t>(plan: &'t Teardown<'_>) -> impl Iterator<Item = (usize, String)> + 't {
    plan.objects()
        .iter()
        .enumerate()
        .filter(|(_, o)| !crate::graph::is_teardown_member(o))
        .map(|(i, o)| (i, format!("Helm hook ({})", o.hook_events().join(","))))
}
