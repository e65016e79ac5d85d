//! Where an object's `metadata` and `metadata.annotations` sit in the text:
//! byte offsets recorded while parsing, used by `render` to splice
//! annotations in without touching anything else.

use std::ops::Range;

/// Text positions of one object's metadata (all offsets are bytes into the
/// whole input stream).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetaSite {
    /// Set when the metadata cannot be edited safely in place (anchors,
    /// aliases or merge keys on the object, its metadata or annotations).
    pub unsafe_reason: Option<&'static str>,
    /// The `metadata` mapping, `None` when it is missing or not a mapping.
    pub metadata: Option<MapSite>,
    /// `metadata.annotations`, `None` when the key is absent.
    pub annotations: Option<AnnotationsSite>,
}

/// A mapping that is the value of a key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MapSite {
    /// The key scalar (`metadata` or `annotations`).
    pub key: Range<usize>,
    /// Flow style (`{...}`) rather than block style.
    pub flow: bool,
    /// Flow: offset of `{`. Block: offset of the first key.
    pub open: usize,
    /// Offset of the first key, `None` for an empty mapping.
    pub first_key: Option<usize>,
    /// The entries (recorded for annotations only).
    pub entries: Vec<EntrySite>,
}

/// One `key: value` entry of the annotations mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntrySite {
    /// The key as a JSON string.
    pub key: String,
    /// The key's text.
    pub key_span: Range<usize>,
    /// The value's text.
    pub value_span: Range<usize>,
    /// The value is a single-line plain or quoted scalar without anchor or tag.
    pub value_simple: bool,
}

/// `metadata.annotations` in the text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnnotationsSite {
    /// A mapping.
    Map(MapSite),
    /// A scalar (empty, `~`, `null`: the object value tells whether it is null).
    Scalar {
        /// The `annotations` key.
        key: Range<usize>,
        /// The scalar's text (empty for an empty value).
        value: Range<usize>,
    },
}

/// Converts the parser's character offsets to byte offsets.
pub(crate) struct Offsets<'a> {
    text: &'a str,
    /// Byte offset of every `STEP`-th character, built on first use (the
    /// parser normally reports byte offsets itself).
    checkpoints: std::cell::OnceCell<Vec<usize>>,
}

const STEP: usize = 256;

impl<'a> Offsets<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Self {
            text,
            checkpoints: std::cell::OnceCell::new(),
        }
    }

    /// The whole input.
    pub(crate) fn text(&self) -> &'a str {
        self.text
    }

    /// The byte range of a parser span.
    pub(crate) fn span(&self, span: &granit_parser::Span) -> Range<usize> {
        self.marker(&span.start)..self.marker(&span.end)
    }

    fn marker(&self, m: &granit_parser::Marker) -> usize {
        m.byte_offset().unwrap_or_else(|| self.byte(m.index()))
    }

    /// Byte offset of character `index` (clamped to the text's end).
    pub(crate) fn byte(&self, index: usize) -> usize {
        let checkpoints = self.checkpoints.get_or_init(|| {
            self.text
                .char_indices()
                .step_by(STEP)
                .map(|(b, _)| b)
                .collect()
        });
        let Some(&base) = checkpoints.get(index / STEP) else {
            return self.text.len();
        };
        let rest = index % STEP;
        self.text[base..]
            .char_indices()
            .nth(rest)
            .map_or(self.text.len(), |(b, _)| base + b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn char_offsets_map_to_bytes() {
        let ascii = Offsets::new("abc");
        assert_eq!(ascii.byte(2), 2);
        assert_eq!(ascii.byte(9), 3);
        let text = "é".repeat(300) + "x";
        let o = Offsets::new(&text);
        assert_eq!(o.byte(0), 0);
        assert_eq!(o.byte(1), 2);
        assert_eq!(o.byte(299), 598);
        assert_eq!(o.byte(300), 600);
        assert_eq!(&text[o.byte(300)..], "x");
        assert_eq!(o.byte(301), text.len());
    }
}
