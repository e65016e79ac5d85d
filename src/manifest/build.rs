//! Build the JSON value of one YAML document from parser events, as Go's
//! decoder would, and record where each object's `metadata` and
//! `metadata.annotations` sit in the text (for splicing by `render`).

use super::resolve::{self, ScalarError, TagKind};
use super::site::{AnnotationsSite, EntrySite, MapSite, MetaSite, Offsets};
use granit_parser::{Event, ScalarStyle, Span, StructureStyle, Tag};
use serde_json::map::Entry;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::ops::Range;

/// Deepest nesting accepted (Go's decoder has a similar guard).
const MAX_DEPTH: usize = 1000;
/// Most nodes that aliases may expand to in one document.
const MAX_ALIAS_NODES: usize = 4_000_000;

/// A problem inside one document.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BuildError {
    /// A scalar JSON cannot hold, or a tag that does not fit.
    #[error(transparent)]
    Scalar(#[from] ScalarError),
    /// The same key twice in one mapping.
    #[error("duplicate mapping key `{0}`")]
    DuplicateKey(String),
    /// A mapping or sequence used as a mapping key.
    #[error("a mapping key must be a scalar")]
    CollectionKey,
    /// `<<` whose value is not a mapping (or a list of mappings).
    #[error("merge key `<<` needs a mapping or a list of mappings")]
    BadMerge,
    /// An alias to an anchor that was not defined before it.
    #[error("unknown anchor")]
    UnknownAnchor,
    /// Aliases expand to too much data (a "billion laughs" document).
    #[error("document contains excessive aliasing")]
    ExcessiveAliasing,
    /// Nesting deeper than the limit.
    #[error("nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// Which object a node belongs to: the document root or `items[i]` of a List.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Slot {
    Root,
    Item(usize),
}

/// What a node is, for recording metadata sites.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Other,
    ObjRoot(Slot),
    Items,
    Metadata(Slot),
    Annotations(Slot),
}

/// A mapping key waiting for its value.
struct Key {
    name: String,
    merge: bool,
    span: Range<usize>,
}

struct MapFrame {
    map: Map<String, Value>,
    key: Option<Key>,
    merged: Vec<String>,
    has_merge: bool,
    role: Role,
    anchor: usize,
}

struct SeqFrame {
    items: Vec<Value>,
    role: Role,
    anchor: usize,
}

enum Frame {
    Map(MapFrame),
    Seq(SeqFrame),
}

/// Facts about a completed node that its parent needs.
struct Done {
    value: Value,
    span: Range<usize>,
    /// A single-line plain or quoted scalar without anchor or tag.
    simple: bool,
    /// Built from a mapping or sequence (cannot be a key).
    collection: bool,
}

/// Builds one document.
pub(crate) struct Builder<'o> {
    offsets: &'o Offsets<'o>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Value, usize)>,
    alias_nodes: usize,
    root: Option<Value>,
    sites: Vec<(Slot, MetaSite)>,
}

impl<'o> Builder<'o> {
    pub(crate) fn new(offsets: &'o Offsets<'o>) -> Self {
        Self {
            offsets,
            stack: Vec::new(),
            anchors: HashMap::new(),
            alias_nodes: 0,
            root: None,
            sites: Vec::new(),
        }
    }

    /// The document's value and the metadata sites found, once the document ended.
    pub(crate) fn finish(self) -> (Value, Vec<(Slot, MetaSite)>) {
        (self.root.unwrap_or(Value::Null), self.sites)
    }

    /// Feed one event of the document body.
    pub(crate) fn event(&mut self, ev: Event<'_>, span: Span) -> Result<(), BuildError> {
        let range = self.offsets.span(&span);
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                self.scalar(&text, style, anchor, tag.as_deref(), range)
            }
            Event::Alias(id) => self.alias(id, range),
            Event::MappingStart(style, anchor, _) => {
                self.open(anchor, range, Some(style == StructureStyle::Flow))
            }
            Event::SequenceStart(_, anchor, _) => self.open(anchor, range, None),
            Event::MappingEnd | Event::SequenceEnd => self.close(range),
            _ => Ok(()),
        }
    }

    fn child_role(&self) -> Role {
        match self.stack.last() {
            None => Role::ObjRoot(Slot::Root),
            Some(Frame::Seq(s)) => match s.role {
                Role::Items => Role::ObjRoot(Slot::Item(s.items.len())),
                _ => Role::Other,
            },
            Some(Frame::Map(m)) => match (&m.key, m.role) {
                (Some(k), Role::ObjRoot(slot)) if k.name == "metadata" && !k.merge => {
                    Role::Metadata(slot)
                }
                (Some(k), Role::ObjRoot(Slot::Root)) if k.name == "items" && !k.merge => {
                    Role::Items
                }
                (Some(k), Role::Metadata(slot)) if k.name == "annotations" && !k.merge => {
                    Role::Annotations(slot)
                }
                _ => Role::Other,
            },
        }
    }

    fn parent_key_span(&self) -> Range<usize> {
        match self.stack.last() {
            Some(Frame::Map(MapFrame { key: Some(k), .. })) => k.span.clone(),
            _ => 0..0,
        }
    }

    fn site(&mut self, slot: Slot) -> &mut MetaSite {
        let pos = match self.sites.iter().position(|(s, _)| *s == slot) {
            Some(pos) => pos,
            None => {
                self.sites.push((slot, MetaSite::default()));
                self.sites.len() - 1
            }
        };
        &mut self.sites[pos].1
    }

    fn mark_unsafe(&mut self, slot: Slot, reason: &'static str) {
        let site = self.site(slot);
        site.unsafe_reason.get_or_insert(reason);
    }

    /// Start a collection; `flow` is `Some(flow style)` for mappings, `None` for sequences.
    fn open(
        &mut self,
        anchor: usize,
        range: Range<usize>,
        flow: Option<bool>,
    ) -> Result<(), BuildError> {
        let mapping = flow.is_some();
        if self.stack.len() >= MAX_DEPTH {
            return Err(BuildError::TooDeep);
        }
        let role = self.child_role();
        if mapping {
            self.record_map_site(role, anchor, &range, flow == Some(true));
        }
        let frame = if mapping {
            Frame::Map(MapFrame {
                map: Map::new(),
                key: None,
                merged: Vec::new(),
                has_merge: false,
                role,
                anchor,
            })
        } else {
            Frame::Seq(SeqFrame {
                items: Vec::new(),
                role,
                anchor,
            })
        };
        self.stack.push(frame);
        Ok(())
    }

    fn record_map_site(&mut self, role: Role, anchor: usize, range: &Range<usize>, flow: bool) {
        let (slot, is_meta) = match role {
            Role::Metadata(slot) => (slot, true),
            Role::Annotations(slot) => (slot, false),
            _ => return,
        };
        if anchor != 0 {
            self.mark_unsafe(slot, "an anchor is defined on metadata or its annotations");
        }
        let open = range.start;
        let map_site = MapSite {
            key: self.parent_key_span(),
            flow,
            open,
            first_key: None,
            entries: Vec::new(),
        };
        let site = self.site(slot);
        if is_meta {
            site.metadata = Some(map_site);
        } else {
            site.annotations = Some(AnnotationsSite::Map(map_site));
        }
    }

    fn close(&mut self, range: Range<usize>) -> Result<(), BuildError> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let (value, anchor, role, has_merge) = match frame {
            Frame::Map(m) => (Value::Object(m.map), m.anchor, m.role, m.has_merge),
            Frame::Seq(s) => (Value::Array(s.items), s.anchor, s.role, false),
        };
        if has_merge {
            match role {
                Role::ObjRoot(slot) | Role::Metadata(slot) | Role::Annotations(slot) => self
                    .mark_unsafe(
                        slot,
                        "a merge key `<<` in the object, its metadata or annotations",
                    ),
                _ => {}
            }
        }
        self.remember(anchor, &value);
        self.complete(Done {
            value,
            span: range,
            simple: false,
            collection: true,
        })
    }

    fn remember(&mut self, anchor: usize, value: &Value) {
        if anchor != 0 {
            self.anchors
                .insert(anchor, (value.clone(), node_count(value)));
        }
    }

    fn scalar(
        &mut self,
        text: &str,
        style: ScalarStyle,
        anchor: usize,
        tag: Option<&Tag>,
        range: Range<usize>,
    ) -> Result<(), BuildError> {
        let plain = style == ScalarStyle::Plain;
        let tag_kind = tag.map_or(TagKind::None, |t| {
            TagKind::from_parts(t.handle(), t.suffix())
        });
        if self.expects_key() {
            if anchor != 0 {
                let value = resolve::to_json(resolve::resolve(text, plain, tag_kind)?, text)?;
                self.remember(anchor, &value);
            }
            let key = scalar_key(text, plain, tag_kind, range)?;
            self.set_key(key);
            return Ok(());
        }
        let role = self.child_role();
        if let Role::Annotations(slot) = role {
            let site = AnnotationsSite::Scalar {
                key: self.parent_key_span(),
                value: range.clone(),
            };
            self.site(slot).annotations = Some(site);
        }
        if let (Role::Metadata(slot) | Role::Annotations(slot), true) = (role, anchor != 0) {
            self.mark_unsafe(slot, "an anchor is defined on metadata or its annotations");
        }
        let value = resolve::to_json(resolve::resolve(text, plain, tag_kind)?, text)?;
        self.remember(anchor, &value);
        let in_annotations = matches!(self.stack.last(), Some(Frame::Map(m)) if matches!(m.role, Role::Annotations(_)));
        let simple = in_annotations
            && matches!(
                style,
                ScalarStyle::Plain | ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted
            )
            && anchor == 0
            && tag.is_none()
            && !self.offsets.text()[range.clone()].contains('\n');
        self.complete(Done {
            value,
            span: range,
            simple,
            collection: false,
        })
    }

    /// Whether the next node is a mapping key.
    fn expects_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map(m)) if m.key.is_none())
    }

    /// Set the pending key of the current mapping.
    fn set_key(&mut self, key: Key) {
        let start = key.span.start;
        if let Some(Frame::Map(m)) = self.stack.last_mut() {
            let first_of_metadata = match m.role {
                Role::Metadata(slot) if m.map.is_empty() => Some(slot),
                _ => None,
            };
            m.key = Some(key);
            if let Some(slot) = first_of_metadata {
                self.note_first_metadata_key(slot, start);
            }
        }
    }

    fn alias(&mut self, id: usize, range: Range<usize>) -> Result<(), BuildError> {
        if let Role::Metadata(slot) | Role::Annotations(slot) = self.child_role() {
            self.mark_unsafe(slot, "metadata or its annotations is an alias");
        }
        let (value, nodes) = self
            .anchors
            .get(&id)
            .cloned()
            .ok_or(BuildError::UnknownAnchor)?;
        self.alias_nodes += nodes;
        if self.alias_nodes > MAX_ALIAS_NODES {
            return Err(BuildError::ExcessiveAliasing);
        }
        let collection = value.is_object() || value.is_array();
        self.complete(Done {
            value,
            span: range,
            simple: false,
            collection,
        })
    }

    /// Attach a completed node to its parent.
    fn complete(&mut self, done: Done) -> Result<(), BuildError> {
        let offsets = self.offsets;
        let Some(parent) = self.stack.last_mut() else {
            self.root = Some(done.value);
            return Ok(());
        };
        match parent {
            Frame::Seq(s) => {
                s.items.push(done.value);
                Ok(())
            }
            Frame::Map(m) => match m.key.take() {
                None => {
                    let key = value_key(&done, offsets)?;
                    self.set_key(key);
                    Ok(())
                }
                Some(key) => {
                    let entry = match m.role {
                        Role::Annotations(slot) => Some((slot, key.name.clone(), key.span.clone())),
                        _ => None,
                    };
                    insert(m, key, done.value)?;
                    if let Some((slot, name, span)) = entry {
                        self.record_entry(slot, name, span, done.span, done.simple);
                    }
                    Ok(())
                }
            },
        }
    }

    fn note_first_metadata_key(&mut self, slot: Slot, at: usize) {
        if let Some(meta) = &mut self.site(slot).metadata {
            meta.first_key.get_or_insert(at);
        }
    }

    fn record_entry(
        &mut self,
        slot: Slot,
        key: String,
        key_span: Range<usize>,
        value_span: Range<usize>,
        simple: bool,
    ) {
        if let Some(AnnotationsSite::Map(map)) = &mut self.site(slot).annotations {
            if map.first_key.is_none() {
                map.first_key = Some(key_span.start);
            }
            map.entries.push(EntrySite {
                key,
                key_span,
                value_span,
                value_simple: simple,
            });
        }
    }
}

/// The key for a scalar (`<<` unquoted and untagged is a merge key).
fn scalar_key(
    text: &str,
    plain: bool,
    tag: TagKind,
    span: Range<usize>,
) -> Result<Key, BuildError> {
    if plain && tag == TagKind::None && text == "<<" {
        return Ok(Key {
            name: "<<".into(),
            merge: true,
            span,
        });
    }
    let name = resolve::key_string(resolve::resolve(text, plain, tag)?, text)?;
    Ok(Key {
        name,
        merge: false,
        span,
    })
}

/// The key for a node reached through an alias (collections are refused).
fn value_key(done: &Done, offsets: &Offsets<'_>) -> Result<Key, BuildError> {
    if done.collection {
        return Err(BuildError::CollectionKey);
    }
    let name = resolve::value_key_string(&done.value, &offsets.text()[done.span.clone()])?;
    Ok(Key {
        name,
        merge: false,
        span: done.span.clone(),
    })
}

/// Insert `key: value` into the mapping, applying merge keys as goyaml.v2 does
/// (a merge overwrites keys set before it; later keys overwrite merged ones).
fn insert(m: &mut MapFrame, key: Key, value: Value) -> Result<(), BuildError> {
    if key.merge {
        m.has_merge = true;
        return merge(m, value);
    }
    match m.map.entry(key.name) {
        Entry::Vacant(slot) => {
            slot.insert(value);
        }
        Entry::Occupied(mut slot) => {
            let pos = m.merged.iter().position(|k| k == slot.key());
            let Some(pos) = pos else {
                return Err(BuildError::DuplicateKey(slot.key().clone()));
            };
            m.merged.swap_remove(pos);
            slot.insert(value);
        }
    }
    Ok(())
}

fn merge(m: &mut MapFrame, value: Value) -> Result<(), BuildError> {
    let sources = match value {
        Value::Object(map) => vec![map],
        Value::Array(items) => {
            let mut maps = Vec::with_capacity(items.len());
            for item in items.into_iter().rev() {
                match item {
                    Value::Object(map) => maps.push(map),
                    _ => return Err(BuildError::BadMerge),
                }
            }
            maps
        }
        _ => return Err(BuildError::BadMerge),
    };
    for source in sources {
        for (k, v) in source {
            if !m.merged.contains(&k) {
                m.merged.push(k.clone());
            }
            m.map.insert(k, v);
        }
    }
    Ok(())
}

fn node_count(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(node_count).sum::<usize>(),
        Value::Array(a) => 1 + a.iter().map(node_count).sum::<usize>(),
        _ => 1,
    }
}
