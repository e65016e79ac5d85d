//! Scalar resolution as Go's YAML 1.1 decoder does it (`sigs.k8s.io/yaml`,
//! its `goyaml.v2` fork) followed by the YAML-to-JSON conversion Helm and
//! kubectl apply: `yes`/`on`/`y` are booleans, `0777` is octal, `1_000` is
//! 1000, `1:20` (sexagesimal) and timestamps stay strings, `.inf` is a float
//! that JSON cannot hold (an error), integral floats are JSON integers.

use serde_json::{Number, Value};
use std::borrow::Cow;

/// The explicit tag on a scalar, reduced to what the resolver distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TagKind {
    /// No tag: plain scalars are resolved, quoted scalars are strings.
    None,
    /// `!!str`
    Str,
    /// `!!bool`
    Bool,
    /// `!!int`
    Int,
    /// `!!float`
    Float,
    /// `!!timestamp`
    Timestamp,
    /// `!!null`
    Null,
    /// `!!binary`: base64, decoded to a string.
    Binary,
    /// Any other tag (`!foo`, `!!set`, ...): the text as a string.
    Other,
}

impl TagKind {
    /// Classify a tag given as handle and suffix (the parser resolves `!!` to
    /// `tag:yaml.org,2002:`).
    pub(crate) fn from_parts(handle: &str, suffix: &str) -> Self {
        if handle != "tag:yaml.org,2002:" {
            return if handle == "!" && suffix.is_empty() {
                Self::Str
            } else {
                Self::Other
            };
        }
        match suffix {
            "str" => Self::Str,
            "bool" => Self::Bool,
            "int" => Self::Int,
            "float" => Self::Float,
            "timestamp" => Self::Timestamp,
            "null" => Self::Null,
            "binary" => Self::Binary,
            _ => Self::Other,
        }
    }

    fn short(self) -> &'static str {
        match self {
            Self::None | Self::Other | Self::Str => "!!str",
            Self::Bool => "!!bool",
            Self::Int => "!!int",
            Self::Float => "!!float",
            Self::Timestamp => "!!timestamp",
            Self::Null => "!!null",
            Self::Binary => "!!binary",
        }
    }
}

/// A resolved scalar before JSON conversion.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(Cow<'a, str>),
}

/// Why a scalar cannot be turned into JSON.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScalarError {
    /// An explicit tag that does not fit the text (`!!int abc`).
    #[error("cannot decode {found} `{text}` as a {wanted}")]
    TagMismatch {
        /// The tag the text resolves to.
        found: &'static str,
        /// The explicit tag.
        wanted: &'static str,
        /// The scalar text.
        text: String,
    },
    /// `!!binary` with invalid base64.
    #[error("!!binary value contains invalid base64 data")]
    BadBase64,
    /// `.inf`/`.nan`: JSON has no such numbers.
    #[error("`{0}` is not representable in JSON")]
    NonFinite(String),
    /// A mapping key JSON cannot hold (null, a large unsigned integer).
    #[error("unsupported mapping key `{0}`")]
    BadKey(String),
}

/// Resolve a scalar as `goyaml.v2` does. `plain` is true for unquoted scalars.
pub(crate) fn resolve<'a>(
    text: &'a str,
    plain: bool,
    tag: TagKind,
) -> Result<Scalar<'a>, ScalarError> {
    match tag {
        TagKind::None if !plain => return Ok(Scalar::Str(Cow::Borrowed(text))),
        TagKind::Other | TagKind::Str => return Ok(Scalar::Str(Cow::Borrowed(text))),
        TagKind::Null => return Ok(Scalar::Null),
        TagKind::Binary => return decode_base64(text).map(|s| Scalar::Str(Cow::Owned(s))),
        _ => {}
    }
    let found = implicit(text);
    let found_tag = match found {
        Scalar::Null => TagKind::Null,
        Scalar::Bool(_) => TagKind::Bool,
        Scalar::Int(_) | Scalar::Uint(_) => TagKind::Int,
        Scalar::Float(_) => TagKind::Float,
        Scalar::Str(_) => TagKind::Str,
    };
    match (tag, found) {
        (TagKind::None, found) => Ok(found),
        (TagKind::Float, Scalar::Int(i)) => Ok(Scalar::Float(i as f64)),
        (TagKind::Float, Scalar::Uint(u)) => Ok(Scalar::Float(u as f64)),
        (TagKind::Timestamp, Scalar::Str(s)) => Ok(Scalar::Str(s)),
        (wanted, found) if wanted == found_tag => Ok(found),
        (wanted, _) => Err(ScalarError::TagMismatch {
            found: found_tag.short(),
            wanted: wanted.short(),
            text: text.to_string(),
        }),
    }
}

/// Implicit resolution of a plain scalar (goyaml.v2 `resolve` with no tag).
/// Timestamps are left as strings, as goyaml.v2 does when decoding into `interface{}`.
fn implicit(text: &str) -> Scalar<'_> {
    let first = text.as_bytes().first().copied();
    let may_be_word = matches!(
        first,
        None | Some(
            b'y' | b'Y'
                | b'n'
                | b'N'
                | b't'
                | b'T'
                | b'f'
                | b'F'
                | b'o'
                | b'O'
                | b'~'
                | b'.'
                | b'+'
                | b'-'
        )
    );
    if may_be_word && let Some(v) = lookup(text) {
        return v;
    }
    match text.as_bytes().first() {
        Some(b'.') => parse_dot_float(text).map_or(Scalar::Str(Cow::Borrowed(text)), Scalar::Float),
        Some(b'0'..=b'9' | b'+' | b'-') => number(text).unwrap_or(Scalar::Str(Cow::Borrowed(text))),
        _ => Scalar::Str(Cow::Borrowed(text)),
    }
}

/// The fixed words of goyaml.v2's resolve table.
fn lookup(text: &str) -> Option<Scalar<'static>> {
    Some(match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            Scalar::Bool(true)
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            Scalar::Bool(false)
        }
        "" | "~" | "null" | "Null" | "NULL" => Scalar::Null,
        ".nan" | ".NaN" | ".NAN" => Scalar::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Scalar::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Scalar::Float(f64::NEG_INFINITY),
        _ => return None,
    })
}

/// Ints (Go `strconv.ParseInt(s, 0, 64)` after removing `_`), then unsigned,
/// then YAML-style floats.
fn number(text: &str) -> Option<Scalar<'static>> {
    let plain: Cow<'_, str> = if text.contains('_') {
        Cow::Owned(text.replace('_', ""))
    } else {
        Cow::Borrowed(text)
    };
    if let Some(i) = go_parse_int(&plain) {
        return Some(Scalar::Int(i));
    }
    if let Some(u) = go_parse_uint(&plain) {
        return Some(Scalar::Uint(u));
    }
    if is_yaml_style_float(&plain) {
        return plain
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Scalar::Float);
    }
    None
}

/// Split a Go base-0 integer literal (no sign) into radix and digits.
fn radix_digits(s: &str) -> (u32, &str) {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b'0' {
        match b[1] {
            b'x' | b'X' => return (16, &s[2..]),
            b'o' | b'O' => return (8, &s[2..]),
            b'b' | b'B' => return (2, &s[2..]),
            _ => return (8, &s[1..]),
        }
    }
    (10, s)
}

fn go_parse_uint(s: &str) -> Option<u64> {
    let (radix, digits) = radix_digits(s);
    if digits.is_empty() || !digits.bytes().all(|c| char::from(c).is_digit(radix)) {
        return None;
    }
    u64::from_str_radix(digits, radix).ok()
}

fn go_parse_int(s: &str) -> Option<i64> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let u = go_parse_uint(rest)?;
    if neg {
        if u <= i64::MAX as u64 + 1 {
            Some((u as i128).wrapping_neg() as i64)
        } else {
            None
        }
    } else {
        i64::try_from(u).ok()
    }
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_style_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go `strconv.ParseFloat` on text starting with `.` (`.5`, `.5e3`, `.5_5`).
fn parse_dot_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let ok =
                i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit);
            if !ok {
                return None;
            }
        }
    }
    let plain = s.replace('_', "");
    if !is_yaml_style_float(&plain) {
        return None;
    }
    plain.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Go `base64.StdEncoding.DecodeString` (newlines ignored), then bytes to a
/// string as JSON encoding does (invalid UTF-8 replaced).
fn decode_base64(text: &str) -> Result<String, ScalarError> {
    const fn val(c: u8) -> Option<u32> {
        match c {
            b'A'..=b'Z' => Some((c - b'A') as u32),
            b'a'..=b'z' => Some((c - b'a' + 26) as u32),
            b'0'..=b'9' => Some((c - b'0' + 52) as u32),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    }
    let clean: Vec<u8> = text
        .bytes()
        .filter(|c| *c != b'\n' && *c != b'\r')
        .collect();
    if !clean.len().is_multiple_of(4) {
        return Err(ScalarError::BadBase64);
    }
    let mut out = Vec::with_capacity(clean.len() / 4 * 3);
    let chunks = clean.chunks(4);
    let n = chunks.len();
    for (ci, chunk) in chunks.enumerate() {
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && ci + 1 != n) {
            return Err(ScalarError::BadBase64);
        }
        let mut acc = 0u32;
        for &c in &chunk[..4 - pad] {
            acc = (acc << 6) | val(c).ok_or(ScalarError::BadBase64)?;
        }
        acc <<= 6 * pad as u32;
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Convert a resolved scalar to the JSON value `sigs.k8s.io/yaml` produces.
pub(crate) fn to_json(s: Scalar<'_>, text: &str) -> Result<Value, ScalarError> {
    Ok(match s {
        Scalar::Null => Value::Null,
        Scalar::Bool(b) => Value::Bool(b),
        Scalar::Int(i) => Value::Number(i.into()),
        Scalar::Uint(u) => Value::Number(u.into()),
        Scalar::Float(f) => {
            float_json(f).ok_or_else(|| ScalarError::NonFinite(text.to_string()))?
        }
        Scalar::Str(s) => Value::String(s.into_owned()),
    })
}

/// A float as JSON: Go's encoder writes integral floats without a fraction,
/// so they are integers on the wire.
pub(crate) fn float_json(f: f64) -> Option<Value> {
    if !f.is_finite() {
        return None;
    }
    if f.fract() == 0.0 && f.abs() < 9.0e18 {
        return Some(Value::Number((f as i64).into()));
    }
    Number::from_f64(f).map(Value::Number)
}

/// The JSON object key `sigs.k8s.io/yaml` makes of a scalar mapping key.
pub(crate) fn key_string(s: Scalar<'_>, text: &str) -> Result<String, ScalarError> {
    Ok(match s {
        Scalar::Str(s) => s.into_owned(),
        Scalar::Bool(b) => b.to_string(),
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) => go_float32_key(f),
        Scalar::Null | Scalar::Uint(_) => return Err(ScalarError::BadKey(text.to_string())),
    })
}

/// The key string for a JSON value reached through an alias.
pub(crate) fn value_key_string(v: &Value, text: &str) -> Result<String, ScalarError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(i.to_string()),
            (None, Some(f)) if n.is_f64() => Ok(go_float32_key(f)),
            _ => Err(ScalarError::BadKey(text.to_string())),
        },
        _ => Err(ScalarError::BadKey(text.to_string())),
    }
}

/// Go `strconv.FormatFloat(f, 'g', -1, 32)` with `.inf`/`.nan` spelled as YAML.
fn go_float32_key(f: f64) -> String {
    let f32v = f as f32;
    if f32v.is_nan() {
        return ".nan".into();
    }
    if f32v.is_infinite() {
        return if f32v > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    if f32v == 0.0 {
        return if f32v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    let e = format!("{:e}", f32v.abs());
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let sign = if f32v < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let dot = if rest.is_empty() {
            String::new()
        } else {
            format!(".{rest}")
        };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{dot}e{esign}{:02}", exp.abs());
    }
    if exp < 0 {
        let zeros = "0".repeat((-exp - 1) as usize);
        return format!("{sign}0.{zeros}{digits}");
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        format!("{sign}{digits}{}", "0".repeat(int_len - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..int_len], &digits[int_len..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plain(text: &str) -> Value {
        to_json(resolve(text, true, TagKind::None).unwrap(), text).unwrap()
    }

    #[test]
    fn yaml11_words() {
        for t in ["y", "Yes", "ON", "true", "on"] {
            assert_eq!(plain(t), json!(true), "{t}");
        }
        for t in ["n", "NO", "off", "False"] {
            assert_eq!(plain(t), json!(false), "{t}");
        }
        for t in ["", "~", "null", "NULL"] {
            assert_eq!(plain(t), Value::Null, "{t}");
        }
        for t in [
            "oN",
            "yES",
            "nULL",
            "<<",
            "1:20",
            "2001-12-14",
            "1e",
            "_1",
            "0x",
            "1e400",
        ] {
            assert_eq!(plain(t), json!(t), "{t}");
        }
    }

    #[test]
    fn go_numbers() {
        let cases = [
            ("0777", json!(511)),
            ("1_000", json!(1000)),
            ("0_7", json!(7)),
            ("08", json!(8)),
            ("0x1F", json!(31)),
            ("-0x1f", json!(-31)),
            ("0b101", json!(5)),
            ("0B11", json!(3)),
            ("0o17", json!(15)),
            ("+12", json!(12)),
            ("-0", json!(0)),
            ("-0.0", json!(0)),
            ("1.0", json!(1)),
            ("1.", json!(1)),
            ("0.", json!(0)),
            ("1e3", json!(1000)),
            ("0.1e-2", json!(0.001)),
            (".5", json!(0.5)),
            ("-.5", json!(-0.5)),
            ("1_000.5", json!(1000.5)),
            ("0xFFFFFFFFFFFFFFFF", json!(u64::MAX)),
            ("9223372036854775808", json!(9223372036854775808u64)),
            ("-9223372036854775808", json!(i64::MIN)),
            ("-9223372036854775809", json!(-9223372036854775809.0)),
            ("99999999999999999999", json!(1e20)),
        ];
        for (t, want) in cases {
            assert_eq!(plain(t), want, "{t}");
        }
    }

    #[test]
    fn tags() {
        let r = |t: &str, plain: bool, tag| to_json(resolve(t, plain, tag).unwrap(), t).unwrap();
        assert_eq!(r("123", true, TagKind::Str), json!("123"));
        assert_eq!(r("1", true, TagKind::Float), json!(1));
        assert_eq!(r("12", false, TagKind::Int), json!(12));
        assert_eq!(r("bar", true, TagKind::Other), json!("bar"));
        assert_eq!(r("aGVsbG8=", true, TagKind::Binary), json!("hello"));
        assert_eq!(
            r("2001-12-14", true, TagKind::Timestamp),
            json!("2001-12-14")
        );
        assert_eq!(r("", false, TagKind::Null), Value::Null);
        assert_eq!(r("yes", false, TagKind::None), json!("yes"));
        assert!(resolve("abc", true, TagKind::Int).is_err());
        assert!(resolve("a!", true, TagKind::Binary).is_err());
        assert!(to_json(resolve(".inf", true, TagKind::None).unwrap(), ".inf").is_err());
    }

    #[test]
    fn keys_follow_sigs_yaml() {
        let k = |t: &str| key_string(resolve(t, true, TagKind::None).unwrap(), t);
        assert_eq!(k("yes").unwrap(), "true");
        assert_eq!(k("n").unwrap(), "false");
        assert_eq!(k("3").unwrap(), "3");
        assert_eq!(k("0x1F").unwrap(), "31");
        assert_eq!(k("1.0").unwrap(), "1");
        assert_eq!(k("1.5").unwrap(), "1.5");
        assert_eq!(k("0.1").unwrap(), "0.1");
        assert_eq!(k("1e3").unwrap(), "1000");
        assert_eq!(k("1e20").unwrap(), "1e+20");
        assert_eq!(k("1e-7").unwrap(), "1e-07");
        assert_eq!(k("123456789.123").unwrap(), "1.2345679e+08");
        assert_eq!(k(".inf").unwrap(), ".inf");
        assert!(k("~").is_err());
        assert!(k("18446744073709551615").is_err());
    }
}
