//! Splice annotation entries into an object's metadata text, leaving every
//! other byte as it was. Works on block and flow style, with or without an
//! existing `annotations` mapping, and replaces our own keys in place.

use crate::manifest::{AnnotationsSite, EntrySite, MapSite, MetaSite};
use serde_json::{Map, Value};
use std::ops::Range;

/// Replace `range` of the input by `text` (an insertion when the range is empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Edit {
    pub(crate) range: Range<usize>,
    pub(crate) text: String,
}

/// What to change in one object's annotations.
pub(crate) struct Change<'a> {
    /// Entries to set (key, value), in output order.
    pub(crate) set: &'a [(String, String)],
    /// Keys to remove when present and not set.
    pub(crate) remove: &'a [&'a str],
}

/// Plan the edits for one object. `existing` is its current
/// `metadata.annotations` value (`None` when absent).
pub(crate) fn edits(
    text: &str,
    site: &MetaSite,
    existing: Option<&Value>,
    change: &Change<'_>,
) -> Result<Vec<Edit>, String> {
    if let Some(reason) = site.unsafe_reason {
        return Err(format!("cannot add annotations safely: {reason}"));
    }
    let current = match existing {
        None | Some(Value::Null) => None,
        Some(Value::Object(map)) => Some(map),
        Some(_) => return Err("metadata.annotations is not a mapping".into()),
    };
    let pending: Vec<&(String, String)> = change
        .set
        .iter()
        .filter(|(k, v)| current.and_then(|m| m.get(k)).and_then(Value::as_str) != Some(v.as_str()))
        .collect();
    let removing = change.remove.iter().any(|k| {
        !change.set.iter().any(|(s, _)| s == k) && current.is_some_and(|m| m.contains_key(*k))
    });
    if pending.is_empty() && !removing {
        return Ok(Vec::new());
    }
    match (&site.annotations, &site.metadata) {
        (Some(AnnotationsSite::Map(map)), _) => map_edits(text, map, current, &pending, change),
        (Some(AnnotationsSite::Scalar { key, value }), Some(meta))
            if value.is_empty() && !meta.flow =>
        {
            empty_block_annotations(text, meta, key, change.set)
        }
        (Some(AnnotationsSite::Scalar { key, value }), _) => {
            Ok(scalar_edits(text, key, value, change.set))
        }
        (None, Some(meta)) => new_annotations(text, meta, change.set),
        (None, None) => Err("metadata is missing or not a mapping".into()),
    }
}

/// Edits inside an existing annotations mapping.
fn map_edits(
    text: &str,
    map: &MapSite,
    current: Option<&Map<String, Value>>,
    pending: &[&(String, String)],
    change: &Change<'_>,
) -> Result<Vec<Edit>, String> {
    let mut out = Vec::new();
    let mut fresh = Vec::new();
    for (key, value) in pending {
        match map.entries.iter().rfind(|e| e.key == *key) {
            Some(entry) if entry.value_simple => out.push(Edit {
                range: entry.value_span.clone(),
                text: quote(value),
            }),
            Some(_) => {
                return Err(format!(
                    "annotation `{key}` exists in a form that cannot be rewritten in place"
                ));
            }
            None => fresh.push((key.as_str(), value.as_str())),
        }
    }
    for key in change.remove {
        if change.set.iter().any(|(k, _)| k == key) || current.is_none_or(|m| !m.contains_key(*key))
        {
            continue;
        }
        let Some(entry) = map.entries.iter().find(|e| e.key == *key) else {
            return Err(format!("annotation `{key}` cannot be located to remove it"));
        };
        out.push(if map.flow {
            remove_flow_entry(text, entry)?
        } else {
            remove_block_entry(text, entry)?
        });
    }
    if !fresh.is_empty() {
        out.push(insert_entries(text, map, &fresh)?);
    }
    Ok(out)
}

/// `annotations:` with an empty, `~` or `null` value: write a flow mapping.
fn scalar_edits(
    text: &str,
    key: &Range<usize>,
    value: &Range<usize>,
    set: &[(String, String)],
) -> Vec<Edit> {
    let pairs: Vec<(&str, &str)> = set.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let flow = format!("{{{}}}", flow_entries(&pairs));
    if value.is_empty() {
        let colon = text[key.end..]
            .find(':')
            .map_or(key.end, |i| key.end + i + 1);
        vec![Edit {
            range: colon..colon,
            text: format!(" {flow}"),
        }]
    } else {
        vec![Edit {
            range: value.clone(),
            text: flow,
        }]
    }
}

/// `annotations:` with nothing after it, in block style: add the entries
/// as new lines below it.
fn empty_block_annotations(
    text: &str,
    meta: &MapSite,
    key: &Range<usize>,
    set: &[(String, String)],
) -> Result<Vec<Edit>, String> {
    let (_, indent) = block_indent(text, key.start)?;
    let meta_col = meta.key.start - line_start_of(text, meta.key.start);
    let step = indent
        .len()
        .checked_sub(meta_col)
        .filter(|s| *s > 0)
        .unwrap_or(2);
    let inner = " ".repeat(indent.len() + step);
    let nl = newline_at(text, key.start);
    let (at, lead) = match text[key.end..].find('\n') {
        Some(i) => (key.end + i + 1, ""),
        None => (text.len(), nl),
    };
    let lines: String = set
        .iter()
        .map(|(k, v)| format!("{inner}{k}: {}{nl}", quote(v)))
        .collect();
    Ok(vec![Edit {
        range: at..at,
        text: format!("{lead}{lines}"),
    }])
}

/// No `annotations` key: add one at the top of `metadata`.
fn new_annotations(
    text: &str,
    meta: &MapSite,
    set: &[(String, String)],
) -> Result<Vec<Edit>, String> {
    let pairs: Vec<(&str, &str)> = set.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    if meta.flow {
        let at = meta.open + 1;
        return Ok(vec![Edit {
            range: at..at,
            text: format!("\"annotations\": {{{}}}, ", flow_entries(&pairs)),
        }]);
    }
    let first = [meta.first_key, Some(meta.open)]
        .into_iter()
        .flatten()
        .find(|&at| block_indent(text, at).is_ok())
        .unwrap_or(meta.open);
    let (line_start, indent) = block_indent(text, first)?;
    let key_col = meta.key.start - line_start_of(text, meta.key.start);
    let step = indent
        .len()
        .checked_sub(key_col)
        .filter(|s| *s > 0)
        .unwrap_or(2);
    let nl = newline_at(text, first);
    let inner = " ".repeat(indent.len() + step);
    let mut block = format!("{indent}annotations:{nl}");
    for (k, v) in &pairs {
        block.push_str(&format!("{inner}{k}: {}{nl}", quote(v)));
    }
    Ok(vec![Edit {
        range: line_start..line_start,
        text: block,
    }])
}

/// Insert new entries at the top of an existing annotations mapping.
fn insert_entries(text: &str, map: &MapSite, pairs: &[(&str, &str)]) -> Result<Edit, String> {
    if map.flow {
        let sep = if map.first_key.is_some() { ", " } else { "" };
        let at = map.open + 1;
        return Ok(Edit {
            range: at..at,
            text: format!("{}{sep}", flow_entries(pairs)),
        });
    }
    let first = map.first_key.ok_or("empty block mapping")?;
    let (line_start, indent) = block_indent(text, first)?;
    let nl = newline_at(text, first);
    let lines: String = pairs
        .iter()
        .map(|(k, v)| format!("{indent}{k}: {}{nl}", quote(v)))
        .collect();
    Ok(Edit {
        range: line_start..line_start,
        text: lines,
    })
}

fn remove_block_entry(text: &str, entry: &EntrySite) -> Result<Edit, String> {
    let (line_start, _) = block_indent(text, entry.key_span.start)?;
    let rest = &text[entry.value_span.end..];
    let eol = rest
        .find('\n')
        .map_or(text.len(), |i| entry.value_span.end + i + 1);
    let tail = text[entry.value_span.end..eol].trim();
    if !entry.value_simple || !(tail.is_empty() || tail.starts_with('#')) {
        return Err(format!(
            "annotation `{}` cannot be removed in place",
            entry.key
        ));
    }
    Ok(Edit {
        range: line_start..eol,
        text: String::new(),
    })
}

fn remove_flow_entry(text: &str, entry: &EntrySite) -> Result<Edit, String> {
    if !entry.value_simple {
        return Err(format!(
            "annotation `{}` cannot be removed in place",
            entry.key
        ));
    }
    let after = &text[entry.value_span.end..];
    let skip = after.len() - after.trim_start().len();
    if after[skip..].starts_with(',') {
        let rest = &after[skip + 1..];
        let ws = rest.len() - rest.trim_start_matches([' ', '\t']).len();
        return Ok(Edit {
            range: entry.key_span.start..entry.value_span.end + skip + 1 + ws,
            text: String::new(),
        });
    }
    let before = &text[..entry.key_span.start];
    let trimmed = before.trim_end();
    if trimmed.ends_with(',') {
        return Ok(Edit {
            range: trimmed.len() - 1..entry.value_span.end,
            text: String::new(),
        });
    }
    Ok(Edit {
        range: entry.key_span.start..entry.value_span.end,
        text: String::new(),
    })
}

/// The start of the line holding `pos` and the indentation before `pos`,
/// which must be spaces only.
fn block_indent(text: &str, pos: usize) -> Result<(usize, &str), String> {
    let start = line_start_of(text, pos);
    let indent = &text[start..pos];
    if indent.bytes().all(|b| b == b' ') {
        Ok((start, indent))
    } else {
        Err("a metadata key shares its line with other content (cannot place a new line)".into())
    }
}

fn line_start_of(text: &str, pos: usize) -> usize {
    text[..pos].rfind('\n').map_or(0, |i| i + 1)
}

/// `\r\n` when the line holding `pos` ends with it, else `\n`.
fn newline_at(text: &str, pos: usize) -> &'static str {
    match text[pos..].find('\n') {
        Some(i) if i > 0 && text.as_bytes()[pos + i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

/// A YAML double-quoted scalar (JSON string syntax is valid YAML).
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{s}\""))
}

fn flow_entries(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}: {}", quote(k), quote(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The input with edits applied, held as pieces: slices of the input and
/// the inserted texts. The stream is never copied whole.
#[derive(Clone, Debug)]
pub struct Output<'t> {
    text: &'t str,
    pieces: Vec<Piece>,
    len: usize,
}

#[derive(Clone, Debug)]
enum Piece {
    Input(Range<usize>),
    Text(String),
}

impl<'t> Output<'t> {
    /// No edits yet: the output is `text`.
    pub(crate) fn new(text: &'t str) -> Self {
        Self {
            text,
            pieces: vec![Piece::Input(0..text.len())],
            len: text.len(),
        }
    }

    /// Apply one object's edits (any order); they must all lie after the
    /// edits applied before.
    pub(crate) fn apply(&mut self, mut edits: Vec<Edit>) -> Result<(), String> {
        edits.sort_by_key(|e| (e.range.start, e.range.end));
        for e in edits {
            let Some(Piece::Input(rest)) = self.pieces.pop() else {
                return Err("edits after the end of the input".into());
            };
            if e.range.start < rest.start || e.range.end > rest.end {
                return Err("overlapping edits".into());
            }
            self.len = self.len - e.range.len() + e.text.len();
            self.pieces.push(Piece::Input(rest.start..e.range.start));
            self.pieces.push(Piece::Text(e.text));
            self.pieces.push(Piece::Input(e.range.end..rest.end));
        }
        Ok(())
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the output is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pieces in order.
    fn strs(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().map(|p| match p {
            Piece::Input(range) => &self.text[range.clone()],
            Piece::Text(text) => text.as_str(),
        })
    }

    /// Write the output (buffer `out` for many small writes).
    pub fn write_to(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        self.strs().try_for_each(|s| out.write_all(s.as_bytes()))
    }

    /// The output as one string.
    pub fn into_string(self) -> String {
        let mut out = String::with_capacity(self.len);
        self.strs().for_each(|s| out.push_str(s));
        out
    }
}

impl From<String> for Output<'static> {
    fn from(text: String) -> Self {
        Self {
            text: "",
            len: text.len(),
            pieces: vec![Piece::Text(text)],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(range: Range<usize>, text: &str) -> Edit {
        Edit {
            range,
            text: text.into(),
        }
    }

    #[test]
    fn output_pieces_apply_edits_in_order_and_refuse_overlaps() {
        let text = "abcdefgh";
        let mut out = Output::new(text);
        out.apply(vec![edit(3..3, "X"), edit(1..2, "YY")]).unwrap();
        out.apply(vec![edit(5..7, "")]).unwrap();
        assert_eq!(out.len(), "aYYcXdeh".len());
        let mut written = Vec::new();
        out.write_to(&mut written).unwrap();
        assert_eq!(written, b"aYYcXdeh");
        assert_eq!(out.clone().into_string(), "aYYcXdeh");
        assert_eq!(
            out.apply(vec![edit(4..4, "late")]),
            Err("overlapping edits".into())
        );
        assert_eq!(Output::new("").into_string(), "");
        assert_eq!(Output::from("owned".to_string()).into_string(), "owned");
    }
}
