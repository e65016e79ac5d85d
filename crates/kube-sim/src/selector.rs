//! Label selectors (apimachinery `labels.Parse`) and field selectors.

use serde_json::Value;

use crate::api::ApiError;
use crate::registry::ResourceType;
use crate::status;

/// One label requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LabelReq {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed label selector (AND of requirements; empty matches everything).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<LabelReq>);

fn split_top_level(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => {
                depth += 1;
                cur.push(c)
            }
            ')' => {
                depth -= 1;
                cur.push(c)
            }
            ',' if depth == 0 => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn valid_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn valid_value(v: &str) -> bool {
    v.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn parse_set(rest: &str) -> Option<Vec<String>> {
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    let vals: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).collect();
    if vals.iter().all(|v| valid_value(v)) {
        Some(vals)
    } else {
        None
    }
}

impl LabelSelector {
    /// Parse `a=b,c!=d,e in (f,g),h notin (i),j,!k`.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let bad = |why: &str| status::bad_request(&format!("unable to parse requirement: {why}"));
        let mut reqs = Vec::new();
        for part in split_top_level(s) {
            let req = if let Some(k) = part.strip_prefix('!') {
                let k = k.trim();
                if !valid_key(k) {
                    return Err(bad(&format!("invalid label key \"{k}\"")));
                }
                LabelReq::NotExists(k.to_string())
            } else if let Some((k, v)) = part.split_once("!=") {
                LabelReq::NotEq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = part.split_once("==") {
                LabelReq::Eq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, v)) = part.split_once('=') {
                LabelReq::Eq(k.trim().to_string(), v.trim().to_string())
            } else if let Some((k, rest)) = part.split_once(" notin ") {
                LabelReq::NotIn(
                    k.trim().to_string(),
                    parse_set(rest).ok_or_else(|| bad(&part))?,
                )
            } else if let Some((k, rest)) = part.split_once(" in ") {
                LabelReq::In(
                    k.trim().to_string(),
                    parse_set(rest).ok_or_else(|| bad(&part))?,
                )
            } else {
                LabelReq::Exists(part.trim().to_string())
            };
            let (key, vals): (&str, Vec<&str>) = match &req {
                LabelReq::Eq(k, v) | LabelReq::NotEq(k, v) => (k, vec![v.as_str()]),
                LabelReq::In(k, vs) | LabelReq::NotIn(k, vs) => {
                    (k, vs.iter().map(String::as_str).collect())
                }
                LabelReq::Exists(k) | LabelReq::NotExists(k) => (k, vec![]),
            };
            if !valid_key(key) {
                return Err(bad(&format!("invalid label key \"{key}\"")));
            }
            if let Some(v) = vals.iter().find(|v| !valid_value(v)) {
                return Err(bad(&format!("invalid label value: \"{v}\"")));
            }
            reqs.push(req);
        }
        Ok(Self(reqs))
    }

    /// Does an object's `metadata.labels` match?
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = obj.pointer("/metadata/labels");
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            LabelReq::Eq(k, v) => get(k) == Some(v.as_str()),
            LabelReq::NotEq(k, v) => get(k) != Some(v.as_str()),
            LabelReq::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            LabelReq::NotIn(k, vs) => get(k).is_none_or(|x| !vs.iter().any(|v| v == x)),
            LabelReq::Exists(k) => get(k).is_some(),
            LabelReq::NotExists(k) => get(k).is_none(),
        })
    }
}

/// A parsed field selector (AND of `field=value` / `field!=value`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parse and check the fields against what the type supports (unknown → 400).
    pub fn parse(s: &str, t: &ResourceType) -> Result<Self, ApiError> {
        let mut reqs = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, eq, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                return Err(status::bad_request(&format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            let field = field.trim();
            let known = field == "metadata.name"
                || field == "metadata.namespace"
                || t.field_labels.iter().any(|f| f == field);
            if !known {
                let mut allowed = vec![
                    "\"metadata.name\"".to_string(),
                    "\"metadata.namespace\"".to_string(),
                ];
                allowed.extend(t.field_labels.iter().map(|f| format!("\"{f}\"")));
                return Err(status::bad_request(&format!(
                    "\"{field}\" is not a known field selector: only {}",
                    allowed.join(", ")
                )));
            }
            reqs.push((field.to_string(), eq, value.trim().to_string()));
        }
        Ok(Self(reqs))
    }

    /// Does the object match? Missing fields compare as "".
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(field, eq, value)| {
            let ptr = format!("/{}", field.replace('.', "/"));
            let actual = match obj.pointer(&ptr) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(v) => v.to_string(),
            };
            (actual == *value) == *eq
        })
    }

    /// The name when the selector is exactly `metadata.name=X`.
    pub fn single_name(&self) -> Option<&str> {
        match self.0.as_slice() {
            [(f, true, v)] if f == "metadata.name" => Some(v),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Gvk;
    use crate::registry::Registry;
    use serde_json::json;

    fn obj() -> Value {
        json!({"metadata":{"name":"a","namespace":"ns","labels":{"app":"x","tier":"web"}},"type":"Opaque"})
    }

    #[test]
    fn label_selector_grammar() {
        let o = obj();
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&o);
        assert!(m(""));
        assert!(m("app=x"));
        assert!(m("app==x,tier=web"));
        assert!(!m("app!=x"));
        assert!(m("app in (x, y)"));
        assert!(!m("app notin (x,y)"));
        assert!(m("missing notin (x)"));
        assert!(m("tier"));
        assert!(m("!missing"));
        assert!(!m("!app"));
        assert!(!m("app=x,tier=db"));
        assert!(LabelSelector::parse("a=(b").is_err());
    }

    #[test]
    fn field_selector_rejects_unknown_fields() {
        let r = Registry::new();
        let cm = r.by_gvk(&Gvk::new("v1", "ConfigMap")).unwrap();
        let e = FieldSelector::parse("spec.foo=1", &cm).unwrap_err();
        assert_eq!(e.code, 400);
        assert_eq!(
            e.message,
            "\"spec.foo\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        let s = FieldSelector::parse("metadata.name=a", &cm).unwrap();
        assert!(s.matches(&obj()));
        assert_eq!(s.single_name(), Some("a"));
        let secret = r.by_gvk(&Gvk::new("v1", "Secret")).unwrap();
        assert!(
            !FieldSelector::parse("type!=Opaque", &secret)
                .unwrap()
                .matches(&obj())
        );
    }
}
