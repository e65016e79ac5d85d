//! The post-renderer core: stamp teardown annotations on every object of a
//! rendered stream and change nothing else. Pure: no I/O.
//!
//! Every byte that is not an added (or replaced own) annotation line stays
//! as it was: comments, `# Source:` lines, quoting, key order, block
//! scalars, document order. Anything that cannot be edited safely fails
//! closed with an error naming the document. With [`RenderOptions::verify`]
//! the output is re-parsed before it is returned and must decode to exactly
//! the input objects plus the annotations (the test suite, the property
//! tests and the fuzz target always verify).

mod splice;
pub mod stamps;

pub use splice::Output;
pub use stamps::{Extras, Stamp};

use crate::graph::{self, Facts, GraphError};
use crate::manifest::{
    self, Content, DocRef, Document, Manifest, ManifestError, Object, ObjectId, ParseOptions,
};
use serde_json::Value;
use splice::Change;
use std::collections::HashMap;
use std::ops::Range;

/// Options of [`render`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    /// Namespace of namespaced objects that do not name one.
    pub default_namespace: String,
    /// Extra annotation forms (Argo CD, kapp, kpt).
    pub extras: Extras,
    /// Re-parse the output and check it against the input (about doubles the time).
    pub verify: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self {
            default_namespace: "default".into(),
            extras: Extras::default(),
            verify: false,
        }
    }
}

/// Why `render` refused its input.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The stream does not parse.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// A document cannot be stamped.
    #[error("{doc}: {problem}")]
    Document {
        /// The document.
        doc: Box<DocRef>,
        /// What is wrong.
        problem: String,
    },
    /// The teardown order cannot be computed.
    #[error("teardown graph: {0}")]
    Graph(#[from] GraphError),
}

/// The documents of the parsed input, each with the range of object
/// indices (into the flat object list the graph is planned over) it holds.
struct Layout<'m> {
    docs: Vec<(&'m Document, Range<usize>)>,
    /// Each object's `metadata.annotations` (`None` when absent), which
    /// splicing reads; by object index.
    annotations: Vec<Option<Value>>,
}

/// Stamp the teardown plan of `input` onto its objects.
pub fn render(input: &str, opts: &RenderOptions) -> Result<String, RenderError> {
    render_retaining(input, opts).map(|(output, _parsed)| output.into_string())
}

/// The parsed input, handed back by [`render_retaining`].
pub struct Parsed {
    _manifest: Manifest,
}

/// As [`render`], but gives the output as pieces of `input` and the added
/// text (written with [`Output::write_to`], never copied whole), and hands
/// the parsed input back instead of dropping it, so a process about to exit
/// can skip freeing it (`std::mem::forget`): for a large stream that is a
/// tenth of the run time.
pub fn render_retaining<'a>(
    input: &'a str,
    opts: &RenderOptions,
) -> Result<(Output<'a>, Parsed), RenderError> {
    let (manifest, kept) = parse_input(input, opts)?;
    let output = {
        let (layout, objects, facts) = split(&manifest, kept)?;
        let stamps = {
            let teardown = graph::plan_with_facts(objects.iter().copied().zip(facts))?;
            stamps::from_teardown(&teardown, opts.extras.depends_on)
        };
        stamp(input, &layout, &objects, &stamps, opts)?
    };
    Ok((
        output,
        Parsed {
            _manifest: manifest,
        },
    ))
}

/// Stamp given stamps (by object identity) instead of computing the graph.
/// Every non-hook object needs a stamp.
pub fn render_with_stamps(
    input: &str,
    stamps: &HashMap<ObjectId, Stamp>,
    opts: &RenderOptions,
) -> Result<String, RenderError> {
    let (manifest, kept) = parse_input(input, opts)?;
    let (layout, objects, facts) = split(&manifest, kept)?;
    let by_index: Vec<Option<Stamp>> = objects
        .iter()
        .zip(&facts)
        .map(|(o, f)| {
            if f.is_hook() {
                None
            } else {
                stamps.get(&o.id).cloned()
            }
        })
        .collect();
    for (doc, range) in &layout.docs {
        for i in range.clone() {
            if by_index[i].is_none() && !facts[i].is_hook() {
                return Err(doc_error(
                    &doc.reference(),
                    format!("no teardown stamp for {}", objects[i].id),
                ));
            }
        }
    }
    stamp(input, &layout, &objects, &by_index, opts).map(Output::into_string)
}

/// What `render` keeps of each object besides its identity, by object index.
struct Kept {
    /// What the graph reads.
    facts: Vec<Facts>,
    /// `metadata.annotations` (`None` when absent), of which splicing reads
    /// the shape and the keys `render` writes.
    annotations: Vec<Option<Value>>,
}

/// Parse the input, keeping per object its facts and annotations. Unless
/// [`RenderOptions::verify`] is on (the check compares whole objects), each
/// object's value is dropped as soon as its document is decoded and those
/// are taken out: a large stream is never held decoded in full.
fn parse_input(input: &str, opts: &RenderOptions) -> Result<(Manifest, Kept), RenderError> {
    let mut kept = Kept {
        facts: Vec::new(),
        annotations: Vec::new(),
    };
    let manifest = manifest::parse_with(input, &parse_options(opts), |object| {
        kept.facts.push(Facts::of(&object.value));
        let annotations = object.value.pointer_mut("/metadata/annotations");
        if opts.verify {
            kept.annotations.push(annotations.map(|a| a.clone()));
        } else {
            let mut annotations = annotations.map(Value::take);
            if let Some(Value::Object(map)) = &mut annotations {
                map.retain(|key, _| stamps::WRITTEN_KEYS.contains(&key.as_str()));
            }
            kept.annotations.push(annotations);
            object.value = Value::Null;
        }
    })?;
    Ok((manifest, kept))
}

fn parse(input: &str, opts: &RenderOptions) -> Result<Manifest, ManifestError> {
    manifest::parse(input, &parse_options(opts))
}

fn parse_options(opts: &RenderOptions) -> ParseOptions {
    ParseOptions {
        default_namespace: opts.default_namespace.clone(),
    }
}

fn doc_error(doc: &DocRef, problem: String) -> RenderError {
    RenderError::Document {
        doc: Box::new(doc.clone()),
        problem,
    }
}

/// Lay out the documents and list their objects; refuse documents that are
/// not objects. Hands back the facts, one per object.
fn split(
    manifest: &Manifest,
    kept: Kept,
) -> Result<(Layout<'_>, Vec<&Object>, Vec<Facts>), RenderError> {
    let mut objects: Vec<&Object> = Vec::new();
    let mut docs = Vec::with_capacity(manifest.documents.len());
    for doc in &manifest.documents {
        if let Content::NotAnObject { reason } = &doc.content {
            return Err(doc_error(
                &doc.reference(),
                format!("not a Kubernetes object: {reason}"),
            ));
        }
        let start = objects.len();
        objects.extend(doc.objects());
        docs.push((doc, start..objects.len()));
    }
    let Kept { facts, annotations } = kept;
    if facts.len() != objects.len() || annotations.len() != objects.len() {
        return Err(doc_error(
            &DocRef::default(),
            "internal error: objects and their facts are out of step".into(),
        ));
    }
    reject_duplicates(&docs, &objects)?;
    Ok((Layout { docs, annotations }, objects, facts))
}

/// Two documents defining the same object make its wave ambiguous.
fn reject_duplicates(
    docs: &[(&Document, Range<usize>)],
    objects: &[&Object],
) -> Result<(), RenderError> {
    let mut seen: HashMap<&ObjectId, usize> = HashMap::with_capacity(objects.len());
    for (doc, range) in docs {
        for object in &objects[range.clone()] {
            if let Some(first) = seen.insert(&object.id, doc.index) {
                return Err(doc_error(
                    &doc.reference(),
                    format!("{} is also defined in document {}", object.id, first + 1),
                ));
            }
        }
    }
    Ok(())
}

/// Splice the stamps in and check the result.
fn stamp<'a>(
    input: &'a str,
    layout: &Layout<'_>,
    objects: &[&Object],
    stamps: &[Option<Stamp>],
    opts: &RenderOptions,
) -> Result<Output<'a>, RenderError> {
    let max_wave = stamps.iter().flatten().map(|s| s.wave).max().unwrap_or(0);
    let wanted = |i: usize| -> Vec<(String, String)> {
        stamps[i]
            .as_ref()
            .map(|s| stamps::annotations(s, max_wave, opts.extras))
            .unwrap_or_default()
    };
    let mut output = Output::new(input);
    for (doc, range) in &layout.docs {
        for (site, i) in doc.sites.iter().zip(range.clone()) {
            if stamps[i].is_none() {
                continue;
            }
            let set = wanted(i);
            let change = Change {
                set: &set,
                remove: stamps::OWN_KEYS,
            };
            let existing = layout.annotations[i].as_ref();
            let edits = splice::edits(input, site, existing, &change)
                .map_err(|p| doc_error(&doc.reference(), format!("{}: {p}", objects[i].id)))?;
            output
                .apply(edits)
                .map_err(|p| doc_error(&doc.reference(), format!("internal error: {p}")))?;
        }
    }
    if opts.verify {
        let text = output.clone().into_string();
        verify(&text, layout, objects, wanted, opts)?;
    }
    Ok(output)
}

/// Re-parse the output: it must hold the same documents and objects, each
/// equal to the input plus exactly the wanted annotations.
fn verify(
    output: &str,
    layout: &Layout<'_>,
    objects: &[&Object],
    wanted: impl Fn(usize) -> Vec<(String, String)>,
    opts: &RenderOptions,
) -> Result<(), RenderError> {
    let fail = |doc: &DocRef, what: &str| {
        doc_error(
            doc,
            format!(
                "internal check failed, output would differ from input ({what}); refusing to write it"
            ),
        )
    };
    let reparsed = parse(output, opts).map_err(|e| fail(&e.doc, &e.problem.to_string()))?;
    if reparsed.documents.len() != layout.docs.len() {
        return Err(fail(&DocRef::default(), "document count changed"));
    }
    for ((doc, range), out) in layout.docs.iter().zip(&reparsed.documents) {
        let out_objects = out.objects();
        let same_kind = matches!(
            (&doc.content, &out.content),
            (Content::Empty, Content::Empty)
                | (Content::CommentOnly, Content::CommentOnly)
                | (Content::Object(_), Content::Object(_))
                | (Content::List(_), Content::List(_))
        );
        if !same_kind || out_objects.len() != range.len() {
            return Err(fail(&doc.reference(), "document content changed"));
        }
        for (i, out_obj) in range.clone().zip(out_objects) {
            if !same_plus(&objects[i].value, &out_obj.value, &wanted(i)) {
                return Err(fail(
                    &doc.reference(),
                    &format!("{} changed", objects[i].id),
                ));
            }
        }
    }
    Ok(())
}

/// Whether `out` equals `input` with `set` applied to its annotations and the
/// own keys not in `set` removed.
fn same_plus(input: &Value, out: &Value, set: &[(String, String)]) -> bool {
    if set.is_empty() {
        return input == out;
    }
    let (Some(a), Some(b)) = (input.as_object(), out.as_object()) else {
        return false;
    };
    a.len() == b.len()
        && a.iter().all(|(k, av)| match b.get(k) {
            Some(bv) if k == "metadata" => expected_metadata(av, set).as_ref() == Some(bv),
            Some(bv) => av == bv,
            None => false,
        })
}

fn expected_metadata(meta: &Value, set: &[(String, String)]) -> Option<Value> {
    let mut meta = meta.as_object()?.clone();
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(Default::default()));
    if annotations.is_null() {
        *annotations = Value::Object(Default::default());
    }
    let map = annotations.as_object_mut()?;
    for key in stamps::OWN_KEYS {
        if !set.iter().any(|(k, _)| k == key) {
            map.shift_remove(*key);
        }
    }
    for (k, v) in set {
        map.insert(k.clone(), Value::String(v.clone()));
    }
    Some(Value::Object(meta))
}

#[cfg(test)]
mod tests;
