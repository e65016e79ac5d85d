//! Split a rendered stream into documents and classify each one.

use super::build::{BuildError, Builder, Slot};
use super::site::{MetaSite, Offsets};
use super::{Object, Scopes};
use granit_parser::{Event, Parser};
use serde_json::Value;
use std::fmt;
use std::ops::Range;

/// Annotation Helm 4 puts on every document it passes to a post-renderer.
pub const POSTRENDER_FILENAME: &str = "postrenderer.helm.sh/postrender-filename";

/// Options for [`parse`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseOptions {
    /// Namespace of namespaced objects that do not name one (`--namespace`).
    pub default_namespace: String,
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self {
            default_namespace: "default".into(),
        }
    }
}

/// Which producer the stream looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Form {
    /// Helm 3 (`helm template`, post-renderer input, `helm get manifest`):
    /// `---` + `# Source:` lines, hooks excluded.
    Helm3,
    /// Helm 4 post-renderer input: `postrenderer.helm.sh/postrender-filename`
    /// annotations, no `# Source:` lines, hooks included.
    Helm4PostRender,
    /// Neither marker.
    Plain,
}

/// A parsed multi-document stream.
#[derive(Clone, Debug, PartialEq)]
pub struct Manifest {
    /// The detected producer.
    pub form: Form,
    /// Every document, in stream order.
    pub documents: Vec<Document>,
    /// Scopes used for identities (built-in kinds plus CRDs in the stream).
    pub scopes: Scopes,
}

impl Manifest {
    /// Every object of the stream (List items expanded), hooks included, in order.
    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        self.documents.iter().flat_map(Document::objects)
    }
}

/// One document of the stream.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// 0-based position in the stream, counting every document.
    pub index: usize,
    /// The path of the `# Source:` comment (Helm 3 form).
    pub source: Option<String>,
    /// The `postrenderer.helm.sh/postrender-filename` annotation (Helm 4 form).
    pub postrender_filename: Option<String>,
    /// Byte range of the document in the input, from its `---` line (or the
    /// end of the previous document) to the next document's `---` line.
    pub span: Range<usize>,
    /// What the document holds.
    pub content: Content,
    /// Text positions of each object's metadata, parallel to [`Document::objects`].
    pub sites: Vec<MetaSite>,
}

impl Document {
    /// The objects of this document: one, a List's items, or none.
    pub fn objects(&self) -> &[Object] {
        match &self.content {
            Content::Object(o) => std::slice::from_ref(o),
            Content::List(items) => items,
            _ => &[],
        }
    }

    fn objects_mut(&mut self) -> &mut [Object] {
        match &mut self.content {
            Content::Object(o) => std::slice::from_mut(o),
            Content::List(items) => items,
            _ => &mut [],
        }
    }

    /// A reference naming this document in messages.
    pub fn reference(&self) -> DocRef {
        DocRef {
            index: self.index,
            source: self.source.clone(),
            postrender_filename: self.postrender_filename.clone(),
        }
    }
}

/// What a document holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    /// Nothing (whitespace and markers only).
    Empty,
    /// Only comments.
    CommentOnly,
    /// One Kubernetes object.
    Object(Box<Object>),
    /// A `List` kind: its items as objects.
    List(Vec<Object>),
    /// Something that is not a Kubernetes object.
    NotAnObject {
        /// Why.
        reason: String,
    },
}

/// Names a document in messages: `document 4 (# Source: chart/templates/x.yaml)`.
/// The number shown is 1-based.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DocRef {
    /// 0-based index.
    pub index: usize,
    /// `# Source:` path.
    pub source: Option<String>,
    /// Helm 4 post-render file name.
    pub postrender_filename: Option<String>,
}

impl fmt::Display for DocRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "document {}", self.index + 1)?;
        if let Some(s) = &self.source {
            write!(f, " (# Source: {s})")?;
        } else if let Some(p) = &self.postrender_filename {
            write!(f, " ({POSTRENDER_FILENAME}: {p})")?;
        }
        Ok(())
    }
}

/// Why a stream could not be parsed.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{doc}{}: {problem}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct ManifestError {
    /// The document.
    pub doc: Box<DocRef>,
    /// 1-based line in the whole input, when known.
    pub line: Option<usize>,
    /// The problem.
    pub problem: Box<Problem>,
}

/// The problem behind a [`ManifestError`].
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Problem {
    /// Not valid YAML.
    #[error("invalid YAML: {0}")]
    Syntax(String),
    /// Valid YAML that Go's decoder would reject, or that is ambiguous.
    #[error(transparent)]
    Value(#[from] BuildError),
}

/// A document as read, before classification.
struct RawDoc {
    start: usize,
    value: Value,
    sites: Vec<(Slot, MetaSite)>,
}

/// Parse a rendered multi-document stream. Pure.
pub fn parse(text: &str, opts: &ParseOptions) -> Result<Manifest, ManifestError> {
    parse_with(text, opts, |_| {})
}

/// As [`parse`], but hands each object (List items too, in stream order) to
/// `visit` as soon as its document is decoded, before the next document is
/// read. `visit` may cut the object's value down, for example to what it
/// extracts from it, so that a large stream is never held decoded in full
/// (`render` does). Every document is still decoded and checked in full: the
/// errors are those of [`parse`]. Identities are final only in the result:
/// a CRD later in the stream can still make an object's kind cluster-scoped.
pub fn parse_with(
    text: &str,
    opts: &ParseOptions,
    mut visit: impl FnMut(&mut Object),
) -> Result<Manifest, ManifestError> {
    let mut scopes = Scopes::default();
    let mut documents: Vec<Document> = Vec::new();
    let mut pending: Option<RawDoc> = None;
    let mut finish = |raw: RawDoc, end: usize, documents: &mut Vec<Document>| {
        let index = documents.len();
        for value in crd_candidates(&raw.value) {
            scopes.add(value);
        }
        let mut document = classify(index, raw, end, text, opts);
        match &mut document.content {
            Content::Object(object) => visit(object),
            Content::List(items) => items.iter_mut().for_each(&mut visit),
            _ => {}
        }
        documents.push(document);
    };
    read_documents(text, |raw| {
        if let Some(previous) = pending.replace(raw) {
            let end = pending.as_ref().map_or(text.len(), |r| r.start);
            finish(previous, end, &mut documents);
        }
    })?;
    if let Some(last) = pending {
        finish(last, text.len(), &mut documents);
    }
    for object in documents.iter_mut().flat_map(Document::objects_mut) {
        if scopes.is_cluster_scoped(&object.id.group, &object.id.kind) {
            object.id.namespace = None;
        }
    }
    let form = if documents.iter().any(|d| d.postrender_filename.is_some()) {
        Form::Helm4PostRender
    } else if documents.iter().any(|d| d.source.is_some()) {
        Form::Helm3
    } else {
        Form::Plain
    };
    Ok(Manifest {
        form,
        documents,
        scopes,
    })
}

/// Decode the documents of `text` in order, handing each to `on_document`.
fn read_documents(text: &str, mut on_document: impl FnMut(RawDoc)) -> Result<(), ManifestError> {
    let offsets = Offsets::new(text);
    let mut parser = Parser::new_from_str(text);
    let mut count = 0;
    let mut current: Option<(usize, Builder<'_>)> = None;
    let mut last_end = 0;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            let start = current.as_ref().map_or(last_end, |c| c.0);
            error_at(
                text,
                count,
                start,
                Some(e.marker().line()),
                Problem::Syntax(e.info()),
            )
        })?;
        match event {
            Event::DocumentStart(explicit, _) => {
                let start = match (count == 0, explicit) {
                    (true, _) => 0,
                    (false, true) => offsets.span(&span).start,
                    (false, false) => last_end,
                };
                current = Some((start, Builder::new(&offsets)));
            }
            Event::DocumentEnd => {
                if let Some((start, builder)) = current.take() {
                    let (value, sites) = builder.finish();
                    on_document(RawDoc {
                        start,
                        value,
                        sites,
                    });
                    count += 1;
                }
                last_end = offsets.span(&span).end;
            }
            Event::StreamStart | Event::StreamEnd => {}
            event => {
                if let Some((start, builder)) = current.as_mut() {
                    let line = span.start.line();
                    let start = *start;
                    builder
                        .event(event, span)
                        .map_err(|e| error_at(text, count, start, Some(line), Problem::Value(e)))?;
                }
            }
        }
    }
    Ok(())
}

/// Build an error naming the document that starts at byte `start`.
fn error_at(
    text: &str,
    index: usize,
    start: usize,
    line: Option<usize>,
    problem: Problem,
) -> ManifestError {
    let region = &text[start.min(text.len())..];
    let source = source_comment(region);
    let postrender_filename = if source.is_none() {
        filename_in_text(region)
    } else {
        None
    };
    ManifestError {
        doc: Box::new(DocRef {
            index,
            source,
            postrender_filename,
        }),
        line,
        problem: Box::new(problem),
    }
}

/// The path of the first `# Source:` line before the document's content.
fn source_comment(region: &str) -> Option<String> {
    for line in region.lines() {
        let t = line.trim();
        if let Some(path) = t.strip_prefix("# Source:") {
            return Some(path.trim().to_string());
        }
        if !(t.is_empty() || t.starts_with('#') || is_marker(t)) {
            return None;
        }
    }
    None
}

/// For messages about documents that did not parse: the post-render file
/// name, read from the text up to the next `---`.
fn filename_in_text(region: &str) -> Option<String> {
    region
        .lines()
        .skip(1)
        .take_while(|l| !is_marker(l))
        .find_map(|l| {
            let (_, rest) = l.split_once(POSTRENDER_FILENAME)?;
            let value = rest
                .trim_start_matches(['\'', '"'])
                .strip_prefix(':')
                .or_else(|| rest.trim_start_matches(['\'', '"', ' ']).strip_prefix(':'))?;
            Some(value.trim().trim_matches(['\'', '"']).to_string())
        })
}

/// `---` or `...` as a whole line (optionally followed by a comment).
fn is_marker(line: &str) -> bool {
    let t = line.trim_end();
    ["---", "..."].iter().any(|m| {
        t.strip_prefix(m).is_some_and(|rest| {
            rest.is_empty() || rest.starts_with([' ', '\t']) && rest.trim_start().starts_with('#')
        })
    })
}

/// Whether a document region has anything besides markers, comments and blanks.
fn has_content(region: &str) -> bool {
    region.lines().any(|l| {
        let t = l.trim();
        !(t.is_empty() || t.starts_with('#') || is_marker(t))
    })
}

/// Classify a decoded document. Objects get provisional identities: every
/// kind is taken as namespaced until the stream's scopes are known.
fn classify(index: usize, raw: RawDoc, end: usize, text: &str, opts: &ParseOptions) -> Document {
    let span = raw.start..end;
    let region = &text[span.clone()];
    let source = source_comment(region);
    let postrender_filename = raw
        .value
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(POSTRENDER_FILENAME))
        .and_then(Value::as_str)
        .map(str::to_string);
    let site_of = |slot: Slot| {
        raw.sites
            .iter()
            .find(|(s, _)| *s == slot)
            .map(|(_, m)| m.clone())
            .unwrap_or_default()
    };
    let (content, sites) = match raw.value {
        Value::Null if has_content(region) => (not_object("the document is null"), vec![]),
        Value::Null if region.lines().any(|l| l.trim_start().starts_with('#')) => {
            (Content::CommentOnly, vec![])
        }
        Value::Null => (Content::Empty, vec![]),
        Value::Object(_) if is_list(&raw.value) => {
            let items = raw
                .value
                .get("items")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let mut objects = Vec::with_capacity(items.len());
            let mut problem = None;
            for (i, item) in items.into_iter().enumerate() {
                match Object::from_value_namespaced(item, index, &opts.default_namespace) {
                    Ok(o) => objects.push(o),
                    Err(e) => {
                        problem = Some(format!("List items[{i}]: {e}"));
                        break;
                    }
                }
            }
            match problem {
                Some(reason) => (Content::NotAnObject { reason }, vec![]),
                None => {
                    let sites = (0..objects.len()).map(|i| site_of(Slot::Item(i))).collect();
                    (Content::List(objects), sites)
                }
            }
        }
        value @ Value::Object(_) => {
            match Object::from_value_namespaced(value, index, &opts.default_namespace) {
                Ok(o) => (Content::Object(Box::new(o)), vec![site_of(Slot::Root)]),
                Err(e) => (not_object(&e.to_string()), vec![]),
            }
        }
        other => (
            not_object(&format!(
                "the document is {}, not a mapping",
                json_type(&other)
            )),
            vec![],
        ),
    };
    Document {
        index,
        source,
        postrender_filename,
        span,
        content,
        sites,
    }
}

fn not_object(reason: &str) -> Content {
    Content::NotAnObject {
        reason: reason.to_string(),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

/// `kind: List` (or any `...List` kind) with an `items` sequence.
fn is_list(v: &Value) -> bool {
    v.get("kind")
        .and_then(Value::as_str)
        .is_some_and(|k| k.ends_with("List"))
        && v.get("items").is_some_and(Value::is_array)
}

/// The document's value and, for Lists, its items.
fn crd_candidates(v: &Value) -> Vec<&Value> {
    let mut out = vec![v];
    if is_list(v) {
        out.extend(
            v.get("items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::ObjectId;
    use serde_json::json;

    fn p(text: &str) -> Manifest {
        parse(
            text,
            &ParseOptions {
                default_namespace: "ns".into(),
            },
        )
        .unwrap()
    }

    #[test]
    fn helm3_stream_with_sources_and_empty_docs() {
        let m = p(
            "---\n# Source: c/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n# Source: c/templates/b.yaml\n# just a comment\n---\n---\n# Source: c/templates/l.yaml\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: s, namespace: o}\n",
        );
        assert_eq!(m.form, Form::Helm3);
        assert_eq!(m.documents.len(), 4);
        assert_eq!(m.documents[0].source.as_deref(), Some("c/templates/a.yaml"));
        assert_eq!(m.documents[0].span, 0..84);
        assert_eq!(m.documents[1].span.start, 84);
        assert_eq!(m.documents[1].content, Content::CommentOnly);
        assert_eq!(m.documents[2].content, Content::Empty);
        let ids: Vec<String> = m.objects().map(|o| o.id.to_string()).collect();
        assert_eq!(ids, ["ConfigMap/ns/a", "Secret/o/s"]);
        assert_eq!(m.objects().nth(1).unwrap().doc, 3);
        assert_eq!(m.documents[3].sites.len(), 1);
        assert!(m.documents[3].sites[0].metadata.as_ref().unwrap().flow);
    }

    #[test]
    fn helm4_form_from_annotation() {
        let m = p(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  annotations:\n    postrenderer.helm.sh/postrender-filename: 'c/templates/sa.yaml'\n  name: sa\n",
        );
        assert_eq!(m.form, Form::Helm4PostRender);
        assert_eq!(
            m.documents[0].postrender_filename.as_deref(),
            Some("c/templates/sa.yaml")
        );
        assert_eq!(
            m.documents[0].reference().to_string(),
            "document 1 (postrenderer.helm.sh/postrender-filename: c/templates/sa.yaml)"
        );
    }

    #[test]
    fn go_yaml11_values() {
        let m = p(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  b: yes\n  o: 0777\n  s: 1:20\n  t: 2001-12-14\n  n: ~\n  v: &b {x: 1, w: 2}\n  m:\n    <<: *b\n    w: 3\n  l: |\n    a\n    b\n  yes: k\n",
        );
        let o = m.objects().next().unwrap();
        assert_eq!(
            o.value["data"],
            json!({"b": true, "o": 511, "s": "1:20", "t": "2001-12-14", "false": null, "v": {"x": 1, "w": 2}, "m": {"x": 1, "w": 3}, "l": "a\nb\n", "true": "k"})
        );
    }

    #[test]
    fn json_documents_parse() {
        let m = p(
            "{\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"x\"}}\n",
        );
        let o = m.objects().next().unwrap();
        assert_eq!(
            o.id,
            ObjectId {
                group: "".into(),
                version: "v1".into(),
                kind: "Namespace".into(),
                namespace: None,
                name: "x".into()
            }
        );
    }

    #[test]
    fn crd_in_stream_makes_kind_cluster_scoped() {
        let m = p(
            "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: ws.example.com}\nspec: {group: example.com, scope: Cluster, names: {kind: Widget}}\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: z}\n---\napiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n",
        );
        let ids: Vec<String> = m.objects().map(|o| o.id.to_string()).collect();
        assert_eq!(
            ids,
            [
                "CustomResourceDefinition/ws.example.com",
                "Widget/w",
                "Gadget/ns/g"
            ]
        );
    }

    #[test]
    fn scopes_apply_to_objects_before_their_crd_and_visit_sees_every_object() {
        let text = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w, namespace: z}\n---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: c, namespace: cy}}\n---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: ws.example.com}\nspec: {group: example.com, scope: Cluster, names: {kind: Widget}}\n---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: cr}\nspec: {group: rbac.authorization.k8s.io, scope: Namespaced, names: {kind: ClusterRole}}\n";
        let mut visited = Vec::new();
        let m = parse_with(text, &ParseOptions::default(), |o| {
            visited.push(o.id.name.clone());
            o.value = Value::Null;
        })
        .unwrap();
        assert_eq!(visited, ["w", "c", "ws.example.com", "cr"]);
        let ids: Vec<String> = m.objects().map(|o| o.id.to_string()).collect();
        assert_eq!(
            ids,
            [
                "Widget/w",
                "ClusterRole/cy/c",
                "CustomResourceDefinition/ws.example.com",
                "CustomResourceDefinition/cr"
            ]
        );
        assert_eq!(
            m,
            parse_with(text, &ParseOptions::default(), |o| o.value = Value::Null).unwrap()
        );
        assert_eq!(
            parse(text, &ParseOptions::default())
                .unwrap()
                .objects()
                .map(|o| o.id.to_string())
                .collect::<Vec<_>>(),
            ids
        );
    }

    #[test]
    fn not_objects_have_reasons() {
        let m = p("--- hello\n---\n- a\n---\napiVersion: v1\nmetadata: {name: x}\n---\n~\n");
        let reasons: Vec<String> = m
            .documents
            .iter()
            .map(|d| match &d.content {
                Content::NotAnObject { reason } => reason.clone(),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(
            reasons,
            [
                "the document is a string, not a mapping",
                "the document is a sequence, not a mapping",
                "missing or non-string field `kind`",
                "the document is null"
            ]
        );
    }

    #[test]
    fn errors_name_the_document() {
        let opts = ParseOptions::default();
        let e = parse("---\n# Source: c/templates/a.yaml\na: 1\n---\n# Source: c/templates/b.yaml\nx: 1\nx: 2\n", &opts).unwrap_err();
        assert_eq!(
            e.to_string(),
            "document 2 (# Source: c/templates/b.yaml), line 7: duplicate mapping key `x`"
        );
        let e = parse("---\n# Source: c/templates/a.yaml\na: [\n", &opts).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("document 1 (# Source: c/templates/a.yaml), line "),
            "{e}"
        );
        let e = parse("a: 1\n---\nb: .inf\n", &opts).unwrap_err();
        assert_eq!(
            e.to_string(),
            "document 2, line 3: `.inf` is not representable in JSON"
        );
        let e = parse("a: &x [*x]\n", &opts).unwrap_err();
        assert!(e.to_string().contains("unknown anchor"), "{e}");
        let e = parse("? [a]\n: b\n", &opts).unwrap_err();
        assert!(
            e.to_string().contains("mapping key must be a scalar"),
            "{e}"
        );
    }

    #[test]
    fn metadata_sites() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    k: v\n    q: \"x\"\n";
        let m = p(text);
        let site = &m.documents[0].sites[0];
        let meta = site.metadata.as_ref().unwrap();
        assert!(!meta.flow);
        assert_eq!(&text[meta.key.clone()], "metadata");
        assert_eq!(&text[meta.open..meta.open + 4], "name");
        let crate::manifest::AnnotationsSite::Map(ann) = site.annotations.as_ref().unwrap() else {
            panic!()
        };
        assert_eq!(ann.entries.len(), 2);
        assert_eq!(&text[ann.entries[1].value_span.clone()], "\"x\"");
        assert!(ann.entries[1].value_simple);
        assert_eq!(site.unsafe_reason, None);
        let m = p("apiVersion: v1\nkind: ConfigMap\nmetadata: &m\n  name: a\n");
        assert!(m.documents[0].sites[0].unsafe_reason.is_some());
    }
}
