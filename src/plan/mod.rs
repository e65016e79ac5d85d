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

use crate::graph::{self, GraphError, Teardown};
use crate::manifest::{self, Content, ManifestError, ParseOptions};

/// The formats a plan renders to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Waves, objects and the reasons each object waits ([`text`]).
    Text,
    /// Versioned JSON ([`json`]).
    Json,
    /// Graphviz dot ([`dot`]).
    Dot,
    /// Mermaid flowchart ([`mermaid`]).
    Mermaid,
}

/// Why a manifest has no plan.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The stream does not parse.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A document is not a Kubernetes object.
    #[error("{document}: not a Kubernetes object: {reason}")]
    NotAnObject {
        /// Which document.
        document: String,
        /// Why.
        reason: String,
    },
    /// The rules order objects in a cycle, or an explicit edge is bad.
    #[error(transparent)]
    Graph(#[from] GraphError),
}

/// Parse a rendered manifest and render its teardown plan. Fails on
/// documents that are not Kubernetes objects, on dependency cycles and on bad
/// explicit edges.
pub fn for_manifest(
    manifest_text: &str,
    namespace: &str,
    format: Format,
) -> Result<String, PlanError> {
    let options = ParseOptions {
        default_namespace: namespace.to_string(),
    };
    let manifest = manifest::parse(manifest_text, &options)?;
    for document in &manifest.documents {
        if let Content::NotAnObject { reason } = &document.content {
            return Err(PlanError::NotAnObject {
                document: document.reference().to_string(),
                reason: reason.to_string(),
            });
        }
    }
    let teardown = graph::plan(manifest.objects())?;
    Ok(match format {
        Format::Text => text(&teardown),
        Format::Json => json(&teardown),
        Format::Dot => dot(&teardown),
        Format::Mermaid => mermaid(&teardown),
    })
}

/// Objects of the plan that are not part of the teardown (Helm hooks), in
/// document order, with why.
fn excluded<'t>(plan: &'t Teardown<'_>) -> impl Iterator<Item = (usize, String)> + 't {
    plan.objects()
        .iter()
        .enumerate()
        .filter(|(_, o)| !crate::graph::is_teardown_member(o))
        .map(|(i, o)| (i, format!("Helm hook ({})", o.hook_events().join(","))))
}
