//! `metadata.managedFields` and server-side apply: per-leaf-path field
//! ownership, conflicts, and removal of fields a manager stopped applying.
//!
//! Granularity follows kube-apiserver for the cases Helm and kubectl hit:
//! maps per key, lists atomic except the well-known keyed lists (containers,
//! env, ports, volumes, ... by their merge key) and `finalizers` (a set).
//! Custom resources without schema markers: all lists atomic except
//! `metadata.finalizers`/`ownerReferences`.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::api::ApiError;
use crate::patch::{is_set_list, merge_key};
use crate::registry::ResourceType;
use crate::store::now_rfc3339;

/// One path element: `f:name`, `k:{"name":"x"}` or `v:"x"`.
type Path = Vec<String>;
/// A set of owned paths.
type FieldSet = BTreeSet<Path>;

/// One `managedFields` entry.
#[derive(Clone, Debug)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: Option<String>,
    set: FieldSet,
}

/// Apply conflicts: (manager, api version of its entry (empty for an
/// applier: its identifier has none), field path as `.a.b`).
#[derive(Clone, Debug, PartialEq)]
pub struct Conflicts(pub Vec<(String, String, String)>);

/// A manager as conflict messages print it: `"m"`, or `"m" using v1` for
/// an updater.
fn manager(name: &str, version: &str) -> String {
    if version.is_empty() {
        format!("\"{name}\"")
    } else {
        format!("\"{name}\" using {version}")
    }
}

impl Conflicts {
    /// The 409 Status the apiserver answers.
    pub fn into_error(self, _t: &ResourceType, _name: &str) -> ApiError {
        let n = self.0.len();
        let message = if n == 1 {
            let (m, v, f) = &self.0[0];
            format!(
                "Apply failed with 1 conflict: conflict with {}: {f}",
                manager(m, v)
            )
        } else {
            let mut managers: Vec<&str> = self.0.iter().map(|(m, _, _)| m.as_str()).collect();
            managers.dedup();
            let mut msg = format!("Apply failed with {n} conflicts: ");
            let mut first = true;
            let mut last_mgr = "";
            for (m, v, f) in &self.0 {
                if m != last_mgr {
                    if !first {
                        msg.push('\n');
                    }
                    msg.push_str(&format!("conflicts with {}:", manager(m, v)));
                    last_mgr = m;
                    first = false;
                }
                msg.push_str(&format!("\n- {f}"));
            }
            msg
        };
        let causes: Vec<Value> = self
            .0
            .iter()
            .map(|(m, v, f)| json!({"reason":"FieldManagerConflict","message":format!("conflict with {}", manager(m, v)),"field":f}))
            .collect();
        ApiError {
            code: 409,
            reason: "Conflict".into(),
            message: message.clone(),
            status: json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":message,
                "reason":"Conflict","details":{"causes":causes},"code":409}),
        }
    }
}

const TRACKED_META: &[&str] = &["labels", "annotations", "finalizers", "ownerReferences"];

/// The key-list kind of a list field for this type.
fn list_kind(t: &ResourceType, field: &str, items: &[Value]) -> ListKind {
    if is_set_list(field) {
        return ListKind::Set;
    }
    if field == "ownerReferences" {
        return ListKind::Keyed("uid");
    }
    if t.custom {
        return ListKind::Atomic;
    }
    match merge_key(field, items) {
        Some(k) if items.iter().all(|i| i.get(k).is_some()) => ListKind::Keyed(k),
        _ => ListKind::Atomic,
    }
}

enum ListKind {
    Atomic,
    Set,
    Keyed(&'static str),
}

fn item_key(key: &str, item: &Value) -> String {
    let v = item.get(key).cloned().unwrap_or(Value::Null);
    format!("k:{{\"{key}\":{v}}}")
}

/// All owned paths of an object (what a manager would own if it wrote all of it).
fn fieldset(t: &ResourceType, obj: &Value, skip_status: bool) -> FieldSet {
    let mut out = FieldSet::new();
    let Some(m) = obj.as_object() else { return out };
    for (k, v) in m {
        match k.as_str() {
            "apiVersion" | "kind" => {}
            "status" if skip_status => {}
            "metadata" => {
                if let Some(meta) = v.as_object() {
                    for mk in TRACKED_META {
                        if let Some(x) = meta.get(*mk) {
                            let mut p = vec!["f:metadata".to_string(), format!("f:{mk}")];
                            collect(t, x, &mut p, mk, &mut out);
                        }
                    }
                }
            }
            _ => {
                let mut p = vec![format!("f:{k}")];
                collect(t, v, &mut p, k, &mut out);
            }
        }
    }
    out
}

fn collect(t: &ResourceType, v: &Value, path: &mut Path, field: &str, out: &mut FieldSet) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, x) in m {
                path.push(format!("f:{k}"));
                collect(t, x, path, k, out);
                path.pop();
            }
        }
        Value::Array(a) if !a.is_empty() => match list_kind(t, field, a) {
            ListKind::Set => {
                for i in a {
                    path.push(format!("v:{i}"));
                    out.insert(path.clone());
                    path.pop();
                }
            }
            ListKind::Keyed(key) => {
                for i in a {
                    path.push(item_key(key, i));
                    out.insert(path.clone());
                    if let Some(m) = i.as_object() {
                        for (k, x) in m {
                            path.push(format!("f:{k}"));
                            collect(t, x, path, k, out);
                            path.pop();
                        }
                    }
                    path.pop();
                }
            }
            ListKind::Atomic => {
                out.insert(path.clone());
            }
        },
        _ => {
            out.insert(path.clone());
        }
    }
}

/// Find the value at a path.
fn value_at<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = obj;
    for el in path {
        cur = step(cur, el)?;
    }
    Some(cur)
}

fn step<'a>(cur: &'a Value, el: &str) -> Option<&'a Value> {
    if let Some(f) = el.strip_prefix("f:") {
        return cur.get(f);
    }
    let arr = cur.as_array()?;
    if let Some(k) = el.strip_prefix("k:") {
        let want: Map<String, Value> = serde_json::from_str(k).ok()?;
        return arr
            .iter()
            .find(|i| want.iter().all(|(wk, wv)| i.get(wk) == Some(wv)));
    }
    if let Some(v) = el.strip_prefix("v:") {
        let want: Value = serde_json::from_str(v).ok()?;
        return arr.iter().find(|i| **i == want);
    }
    None
}

/// Remove the value at a path (key of a map, item of a list).
fn remove_at(obj: &mut Value, path: &[String]) {
    let Some((last, parent_path)) = path.split_last() else {
        return;
    };
    let mut cur = obj;
    for el in parent_path {
        let next = if let Some(f) = el.strip_prefix("f:") {
            cur.get_mut(f)
        } else {
            let Some(arr) = cur.as_array_mut() else {
                return;
            };
            let idx = find_index(arr, el);
            match idx {
                Some(i) => arr.get_mut(i),
                None => None,
            }
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let Some(f) = last.strip_prefix("f:") {
        if let Some(m) = cur.as_object_mut() {
            m.remove(f);
        }
    } else if let Some(arr) = cur.as_array_mut()
        && let Some(i) = find_index(arr, last)
    {
        arr.remove(i);
    }
}

fn find_index(arr: &[Value], el: &str) -> Option<usize> {
    if let Some(k) = el.strip_prefix("k:") {
        let want: Map<String, Value> = serde_json::from_str(k).ok()?;
        return arr
            .iter()
            .position(|i| want.iter().all(|(wk, wv)| i.get(wk) == Some(wv)));
    }
    if let Some(v) = el.strip_prefix("v:") {
        let want: Value = serde_json::from_str(v).ok()?;
        return arr.iter().position(|i| *i == want);
    }
    None
}

/// Human path `.spec.containers[name="c"].image` for conflict messages.
fn display_path(path: &[String]) -> String {
    let mut s = String::new();
    for el in path {
        if let Some(f) = el.strip_prefix("f:") {
            s.push('.');
            s.push_str(f);
        } else if let Some(k) = el.strip_prefix("k:") {
            let m: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
            let parts: Vec<String> = m.iter().map(|(a, b)| format!("{a}={b}")).collect();
            s.push_str(&format!("[{}]", parts.join(",")));
        } else if let Some(v) = el.strip_prefix("v:") {
            s.push_str(&format!("[={v}]"));
        }
    }
    s
}

fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for p in set {
        let mut cur = &mut root;
        for (i, el) in p.iter().enumerate() {
            let entry = cur.entry(el.clone()).or_insert_with(|| json!({}));
            let Value::Object(m) = entry else { break };
            if i + 1 == p.len() && !m.is_empty() {
                m.insert(".".into(), json!({}));
            }
            cur = m;
        }
    }
    // Mark nodes that are themselves owned (prefixes that are members) with ".".
    fn mark(m: &mut Map<String, Value>, prefix: &mut Path, set: &FieldSet) {
        for (k, v) in m.iter_mut() {
            if k == "." {
                continue;
            }
            prefix.push(k.clone());
            if let Value::Object(child) = v {
                if !child.is_empty() && set.contains(prefix) {
                    child.insert(".".into(), json!({}));
                }
                mark(child, prefix, set);
            }
            prefix.pop();
        }
    }
    mark(&mut root, &mut Vec::new(), set);
    Value::Object(root)
}

fn from_fields_v1(v: &Value) -> FieldSet {
    fn walk(v: &Value, path: &mut Path, out: &mut FieldSet) {
        let Some(m) = v.as_object() else { return };
        if (m.is_empty() || m.contains_key(".")) && !path.is_empty() {
            out.insert(path.clone());
        }
        for (k, x) in m {
            if k == "." {
                continue;
            }
            path.push(k.clone());
            walk(x, path, out);
            path.pop();
        }
    }
    let mut out = FieldSet::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

fn read_entries(obj: &Value) -> Vec<Entry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|e| Entry {
                    manager: e
                        .get("manager")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    operation: e
                        .get("operation")
                        .and_then(Value::as_str)
                        .unwrap_or("Update")
                        .to_string(),
                    api_version: e
                        .get("apiVersion")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    time: e
                        .get("time")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    subresource: e
                        .get("subresource")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                    set: e.get("fieldsV1").map(from_fields_v1).unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn write_entries(obj: &mut Value, entries: &[Entry]) {
    let arr: Vec<Value> = entries
        .iter()
        .filter(|e| !e.set.is_empty())
        .map(|e| {
            let mut m = json!({"manager": e.manager, "operation": e.operation, "apiVersion": e.api_version,
                "time": e.time, "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(&e.set)});
            if let Some(s) = &e.subresource {
                m["subresource"] = json!(s);
            }
            m
        })
        .collect();
    if let Some(Value::Object(meta)) = obj.get_mut("metadata") {
        if arr.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".into(), Value::Array(arr));
        }
    }
}

fn upsert<'a>(
    entries: &'a mut Vec<Entry>,
    t: &ResourceType,
    manager: &str,
    op: &str,
) -> &'a mut Entry {
    let idx = entries
        .iter()
        .position(|e| e.manager == manager && e.operation == op && e.subresource.is_none());
    let i = match idx {
        Some(i) => i,
        None => {
            entries.push(Entry {
                manager: manager.to_string(),
                operation: op.to_string(),
                api_version: t.api_version(),
                time: String::new(),
                subresource: None,
                set: FieldSet::new(),
            });
            entries.len() - 1
        }
    };
    let e = &mut entries[i];
    e.time = now_rfc3339();
    e.api_version = t.api_version();
    e
}

/// Record a non-apply write (`operation: Update`): the writer takes the fields it changed.
pub fn record_update(t: &ResourceType, old: Option<&Value>, new: &mut Value, manager: &str) {
    let mut entries = match old {
        Some(o) => read_entries(o),
        None => Vec::new(),
    };
    let new_set = fieldset(t, new, t.status_subresource);
    let (changed, removed): (FieldSet, FieldSet) = match old {
        None => (new_set.clone(), FieldSet::new()),
        Some(o) => {
            let old_set = fieldset(t, o, t.status_subresource);
            let changed = new_set
                .iter()
                .filter(|p| value_at(o, p) != value_at(new, p))
                .cloned()
                .collect();
            let removed = old_set.difference(&new_set).cloned().collect();
            (changed, removed)
        }
    };
    if changed.is_empty() && removed.is_empty() {
        write_entries(new, &entries);
        return;
    }
    for e in entries.iter_mut() {
        e.set
            .retain(|p| !changed.contains(p) && !removed.contains(p));
    }
    let e = upsert(&mut entries, t, manager, "Update");
    e.set.extend(changed);
    e.set.retain(|p| !removed.contains(p));
    entries.retain(|e| !e.set.is_empty());
    write_entries(new, &entries);
}

/// Managed fields of an object created by an apply.
pub fn apply_create(t: &ResourceType, created: &mut Value, applied: &Value, manager: &str) {
    let mut entries = Vec::new();
    let e = upsert(&mut entries, t, manager, "Apply");
    e.set = fieldset(t, applied, t.status_subresource);
    write_entries(created, &entries);
}

/// Merge an applied configuration into the live object (maps deep, keyed lists by key, sets united).
fn merge_applied(t: &ResourceType, live: &Value, applied: &Value, field: &str) -> Value {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            let mut out = l.clone();
            for (k, av) in a {
                if av.is_null() {
                    out.remove(k);
                    continue;
                }
                let merged = match l.get(k) {
                    Some(lv) => merge_applied(t, lv, av, k),
                    None => av.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(a)) => match list_kind(t, field, a) {
            ListKind::Set => {
                let mut out = l.clone();
                for i in a {
                    if !out.contains(i) {
                        out.push(i.clone());
                    }
                }
                Value::Array(out)
            }
            ListKind::Keyed(key) if l.iter().all(|i| i.get(key).is_some()) => {
                let mut out = l.clone();
                for ai in a {
                    match out.iter().position(|li| li.get(key) == ai.get(key)) {
                        Some(p) => out[p] = merge_applied(t, &out[p], ai, ""),
                        None => out.push(ai.clone()),
                    }
                }
                Value::Array(out)
            }
            _ => applied.clone(),
        },
        _ => applied.clone(),
    }
}

/// Server-side apply onto an existing object. Returns the new object (managedFields set).
pub fn apply(
    t: &ResourceType,
    live: &Value,
    applied: &Value,
    manager: &str,
    force: bool,
) -> Result<Value, Conflicts> {
    let mut entries = read_entries(live);
    let new_set = fieldset(t, applied, t.status_subresource);
    let prev: FieldSet = entries
        .iter()
        .find(|e| e.manager == manager && e.operation == "Apply")
        .map(|e| e.set.clone())
        .unwrap_or_default();
    let mut conflicts = Vec::new();
    let mut conflicting = FieldSet::new();
    for e in &entries {
        if e.manager == manager && e.operation == "Apply" {
            continue;
        }
        for p in new_set.intersection(&e.set) {
            let is_item = p
                .last()
                .is_some_and(|l| l.starts_with("k:") || l.starts_with("v:"));
            if is_item {
                continue;
            }
            if value_at(live, p) != value_at(applied, p) {
                // An applier's identifier has no API version (fieldmanager's
                // BuildManagerIdentifier), so its conflicts name no `using`.
                let version = if e.operation == "Apply" {
                    String::new()
                } else {
                    e.api_version.clone()
                };
                conflicts.push((e.manager.clone(), version, display_path(p)));
                conflicting.insert(p.clone());
            }
        }
    }
    if !conflicts.is_empty() && !force {
        return Err(Conflicts(conflicts));
    }
    for e in entries.iter_mut() {
        if !(e.manager == manager && e.operation == "Apply") {
            e.set.retain(|p| !conflicting.contains(p));
        }
    }
    let mut merged = merge_applied(t, live, applied, "");
    // Fields this manager applied before and omits now: removed unless someone else owns them.
    let others: FieldSet = entries
        .iter()
        .filter(|e| !(e.manager == manager && e.operation == "Apply"))
        .flat_map(|e| e.set.iter().cloned())
        .collect();
    let mut dropped: Vec<&Path> = prev.difference(&new_set).collect();
    dropped.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in dropped {
        let owned_elsewhere = others.iter().any(|o| o.starts_with(p));
        let still_applied = new_set.iter().any(|n| n.starts_with(p));
        if !owned_elsewhere && !still_applied {
            remove_at(&mut merged, p);
        }
    }
    if let Some(Value::Object(meta)) = merged.get_mut("metadata") {
        for k in ["labels", "annotations"] {
            if meta
                .get(k)
                .and_then(Value::as_object)
                .is_some_and(Map::is_empty)
            {
                meta.remove(k);
            }
        }
    }
    // Fields that other Update managers owned and the apply changed move to the applier (force did that).
    let e = upsert(&mut entries, t, manager, "Apply");
    e.set = new_set;
    entries.retain(|e| !e.set.is_empty());
    write_entries(&mut merged, &entries);
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Gvk;
    use crate::registry::Registry;

    fn cm_type() -> ResourceType {
        (*Registry::new()
            .by_gvk(&Gvk::new("v1", "ConfigMap"))
            .unwrap())
        .clone()
    }

    #[test]
    fn fields_v1_round_trips() {
        let t = (*Registry::new()
            .by_gvk(&Gvk::new("apps/v1", "Deployment"))
            .unwrap())
        .clone();
        let obj = json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","labels":{"a":"1"},"finalizers":["x/y"]},
            "spec":{"template":{"spec":{"containers":[{"name":"c","image":"i"}]}}}});
        let set = fieldset(&t, &obj, true);
        let v1 = to_fields_v1(&set);
        assert_eq!(
            v1["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"c\"}"]["."],
            json!({})
        );
        assert_eq!(v1["f:metadata"]["f:finalizers"]["v:\"x/y\""], json!({}));
        assert_eq!(from_fields_v1(&v1), set);
    }

    #[test]
    fn apply_conflicts_with_another_manager_unless_forced() {
        let t = cm_type();
        let mut live = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"key":"1"}});
        record_update(&t, None, &mut live, "kubectl-client-side-apply");
        let applied = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"key":"2"}});
        let err = apply(&t, &live, &applied, "kubectl", false).unwrap_err();
        assert_eq!(
            err.0,
            vec![(
                "kubectl-client-side-apply".into(),
                "v1".into(),
                ".data.key".into()
            )]
        );
        let e = err.into_error(&t, "a");
        assert_eq!(
            e.message,
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .data.key"
        );
        let out = apply(&t, &live, &applied, "kubectl", true).unwrap();
        assert_eq!(out["data"]["key"], "2");
        let mf = out["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(mf.len(), 1);
        assert_eq!(mf[0]["manager"], "kubectl");
        assert_eq!(mf[0]["operation"], "Apply");
    }

    #[test]
    fn apply_removes_fields_the_manager_stopped_applying() {
        let t = cm_type();
        let live0 = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}});
        let a1 = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","labels":{"x":"1"}},"data":{"k1":"1","k2":"2"}});
        let mut live = apply(&t, &live0, &a1, "helm", false).unwrap();
        // another manager also owns k2 with the same value: shared, stays
        let a2 =
            json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"k2":"2"}});
        live = apply(&t, &live, &a2, "other", false).unwrap();
        let a3 = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{}});
        let out = apply(&t, &live, &a3, "helm", false).unwrap();
        assert_eq!(out["data"], json!({"k2":"2"}));
        assert!(out["metadata"].get("labels").is_none());
    }
}
