//! Background controllers of the control plane: the garbage collector
//! (ownerReferences: background, foreground, orphan), the namespace
//! controller, the CRD finalizer and a minimal kubelet for graceful pod deletion.
//!
//! They run as one loop over the store. Every action waits the GC delay
//! (control knob) after its trigger was first seen, so tests get a
//! deterministic gap between an owner's deletion and its dependents'.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::api::{Actor, DeleteOptions, Propagation};
use crate::control::Control;
use crate::registry::ResourceType;
use crate::store::{
    FINALIZER_CRD_CLEANUP, FINALIZER_FOREGROUND, FINALIZER_ORPHAN, ObjKey, Store, Subresource,
    WriteOptions, finalizers, meta_str,
};

/// A planned action, keyed so its first sighting can be timed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Action {
    /// DELETE a dependent with a policy.
    Delete(ObjKey, String, Option<&'static str>),
    /// Remove the listed owner uids from a dependent's ownerReferences.
    DropRefs(ObjKey, String, Vec<String>),
    /// Remove a finalizer from an object.
    RemoveFinalizer(ObjKey, String, &'static str),
    /// Namespace finalization: remove `kubernetes` from spec.finalizers.
    FinalizeNamespace(String, String),
    /// Kubelet: delete a gracefully terminating pod now.
    KillPod(ObjKey, String),
}

/// Run the controllers until the runtime stops.
pub async fn run(store: Arc<Store>, control: Control) {
    let mut first_seen: HashMap<Action, Instant> = HashMap::new();
    let mut last_rv = u64::MAX;
    loop {
        let changed = store.changed.notified();
        let woke = control.gc_wake.notified();
        let rv = store.controller_epoch();
        if control.gc_paused() {
            first_seen.clear();
        } else if rv != last_rv || !first_seen.is_empty() {
            last_rv = rv;
            let wanted = plan(&store);
            let now = Instant::now();
            let delay = control.gc_delay();
            first_seen.retain(|a, _| wanted.contains(a));
            for a in wanted {
                let seen = *first_seen.entry(a.clone()).or_insert(now);
                if now.duration_since(seen) >= delay {
                    execute(&store, &a);
                    first_seen.remove(&a);
                    last_rv = u64::MAX;
                }
            }
        }
        let tick = if first_seen.is_empty() {
            Duration::from_millis(200)
        } else {
            Duration::from_millis(5)
        };
        tokio::select! {
            _ = changed => {}
            _ = woke => {}
            _ = tokio::time::sleep(tick) => {}
        }
    }
}

fn type_of(store: &Store, group: &str, kind: &str) -> Option<Arc<ResourceType>> {
    store.registry().by_group_kind(group, kind)
}

use crate::value::is_deleting;

fn owner_refs(o: &Value) -> Vec<Value> {
    o.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// What the controllers want to do now, given the store's state.
fn plan(store: &Store) -> Vec<Action> {
    let snapshot = store.snapshot();
    let registry = store.registry();
    let mut by_key: BTreeMap<ObjKey, &Value> = BTreeMap::new();
    let mut dependents: HashMap<String, Vec<(&Value, bool)>> = HashMap::new();
    for o in &snapshot {
        by_key.insert(ObjKey::of(o), o);
        for r in owner_refs(o) {
            if let Some(uid) = r.get("uid").and_then(Value::as_str) {
                let block = r.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true);
                dependents
                    .entry(uid.to_string())
                    .or_default()
                    .push((o, block));
            }
        }
    }
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut push = |a: Action, out: &mut Vec<Action>| {
        if seen.insert(a.clone()) {
            out.push(a);
        }
    };
    for o in &snapshot {
        let key = ObjKey::of(o);
        let uid = meta_str(o, "uid");
        let fins = finalizers(o);
        let deleting = is_deleting(o);
        // Owners being deleted.
        if deleting && fins.iter().any(|f| f == FINALIZER_ORPHAN) {
            let deps = dependents.get(&uid).cloned().unwrap_or_default();
            if deps.is_empty() {
                push(
                    Action::RemoveFinalizer(key.clone(), uid.clone(), FINALIZER_ORPHAN),
                    &mut out,
                );
            }
            for (d, _) in deps {
                push(
                    Action::DropRefs(ObjKey::of(d), meta_str(d, "uid"), vec![uid.clone()]),
                    &mut out,
                );
            }
        } else if deleting && fins.iter().any(|f| f == FINALIZER_FOREGROUND) {
            let blocking = dependents
                .get(&uid)
                .is_some_and(|d| d.iter().any(|(_, b)| *b));
            if !blocking {
                push(
                    Action::RemoveFinalizer(key.clone(), uid.clone(), FINALIZER_FOREGROUND),
                    &mut out,
                );
            }
        }
        // Dependents.
        let refs = owner_refs(o);
        if !refs.is_empty() {
            let mut solid = 0;
            let mut dangling = Vec::new();
            let mut waiting = Vec::new();
            for r in &refs {
                let ruid = r
                    .get("uid")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let gvk = crate::api::Gvk::new(
                    r.get("apiVersion")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                    r.get("kind").and_then(Value::as_str).unwrap_or_default(),
                );
                let Some(ot) = registry.by_group_kind(&gvk.group, &gvk.kind) else {
                    solid += 1; // unresolvable kinds are left alone, as the GC retries them
                    continue;
                };
                let okey = ObjKey {
                    group: ot.group.clone(),
                    kind: ot.kind.clone(),
                    namespace: if ot.namespaced {
                        key.namespace.clone()
                    } else {
                        String::new()
                    },
                    name: r
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                };
                match by_key.get(&okey) {
                    Some(owner) if meta_str(owner, "uid") == ruid => {
                        if is_deleting(owner)
                            && finalizers(owner).iter().any(|f| f == FINALIZER_FOREGROUND)
                        {
                            waiting.push(ruid);
                        } else {
                            solid += 1;
                        }
                    }
                    _ => dangling.push(ruid),
                }
            }
            if !dangling.is_empty() || !waiting.is_empty() {
                if solid > 0 {
                    let mut drop = dangling.clone();
                    drop.extend(waiting.iter().cloned());
                    push(Action::DropRefs(key.clone(), uid.clone(), drop), &mut out);
                } else {
                    let has_deps = dependents.contains_key(&uid);
                    let policy = if !waiting.is_empty() && has_deps {
                        Some("Foreground")
                    } else if fins.iter().any(|f| f == FINALIZER_ORPHAN) {
                        Some("Orphan")
                    } else if fins.iter().any(|f| f == FINALIZER_FOREGROUND) {
                        Some("Foreground")
                    } else {
                        Some("Background")
                    };
                    let already = deleting
                        && (policy != Some("Foreground")
                            || fins.iter().any(|f| f == FINALIZER_FOREGROUND));
                    if !already {
                        push(Action::Delete(key.clone(), uid.clone(), policy), &mut out);
                    }
                }
            }
        }
        // Namespaces.
        if key.kind == "Namespace" && key.group.is_empty() && deleting {
            let ns = key.name.clone();
            let content: Vec<&Value> = snapshot
                .iter()
                .filter(|c| meta_str(c, "namespace") == ns && ObjKey::of(c).namespace == ns)
                .collect();
            let content: Vec<&Value> = content
                .into_iter()
                .filter(|c| {
                    let k = ObjKey::of(c);
                    registry
                        .by_group_kind(&k.group, &k.kind)
                        .is_some_and(|t| t.namespaced)
                })
                .collect();
            if content.is_empty() {
                let spec_fins = o
                    .pointer("/spec/finalizers")
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty());
                if spec_fins {
                    push(Action::FinalizeNamespace(ns, uid.clone()), &mut out);
                }
            } else {
                for c in content {
                    if !is_deleting(c) {
                        push(
                            Action::Delete(ObjKey::of(c), meta_str(c, "uid"), Some("Background")),
                            &mut out,
                        );
                    }
                }
            }
        }
        // CRDs.
        if key.kind == "CustomResourceDefinition"
            && key.group == "apiextensions.k8s.io"
            && deleting
            && fins.iter().any(|f| f == FINALIZER_CRD_CLEANUP)
        {
            let gvks = registry.crd_gvks(&key.name);
            let crs: Vec<&Value> = snapshot
                .iter()
                .filter(|c| {
                    let k = ObjKey::of(c);
                    gvks.iter().any(|g| g.group == k.group && g.kind == k.kind)
                })
                .collect();
            if crs.is_empty() {
                push(
                    Action::RemoveFinalizer(key.clone(), uid.clone(), FINALIZER_CRD_CLEANUP),
                    &mut out,
                );
            } else {
                for c in crs {
                    if !is_deleting(c) {
                        push(
                            Action::Delete(ObjKey::of(c), meta_str(c, "uid"), Some("Background")),
                            &mut out,
                        );
                    }
                }
            }
        }
        // Kubelet.
        if key.kind == "Pod"
            && key.group.is_empty()
            && deleting
            && o.pointer("/metadata/deletionGracePeriodSeconds")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                > 0
        {
            push(Action::KillPod(key.clone(), uid.clone()), &mut out);
        }
    }
    out
}

fn execute(store: &Store, action: &Action) {
    let gc = Actor("garbage-collector".into());
    match action {
        Action::Delete(key, uid, policy) => {
            let Some(t) = type_of(store, &key.group, &key.kind) else {
                return;
            };
            let actor = if key.kind != "Namespace" && store_ns_deleting(store, &key.namespace) {
                Actor("namespace-controller".into())
            } else {
                gc
            };
            let opts = DeleteOptions {
                propagation: match *policy {
                    Some("Foreground") => Some(Propagation::Foreground),
                    Some("Orphan") => Some(Propagation::Orphan),
                    Some(_) => Some(Propagation::Background),
                    None => None,
                },
                precondition_uid: Some(uid.clone()),
                ..Default::default()
            };
            let _ = store.delete_typed(&actor, &t, ns_opt(&t, key), &key.name, &opts);
        }
        Action::DropRefs(key, uid, owners) => {
            let Some(t) = type_of(store, &key.group, &key.kind) else {
                return;
            };
            let Ok(mut obj) = store.get_typed(&t, ns_opt(&t, key), &key.name) else {
                return;
            };
            if meta_str(&obj, "uid") != *uid {
                return;
            }
            let refs: Vec<Value> = owner_refs(&obj)
                .into_iter()
                .filter(|r| {
                    !owners
                        .iter()
                        .any(|o| r.get("uid").and_then(Value::as_str) == Some(o))
                })
                .collect();
            if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                if refs.is_empty() {
                    m.remove("ownerReferences");
                } else {
                    m.insert("ownerReferences".into(), json!(refs));
                }
            }
            let opts = WriteOptions {
                field_manager: Some("garbage-collector".into()),
                dry_run: false,
            };
            let _ = store.update_with(&gc, obj, Subresource::Main, &opts);
        }
        Action::RemoveFinalizer(key, uid, fin) => {
            let Some(t) = type_of(store, &key.group, &key.kind) else {
                return;
            };
            let Ok(mut obj) = store.get_typed(&t, ns_opt(&t, key), &key.name) else {
                return;
            };
            if meta_str(&obj, "uid") != *uid {
                return;
            }
            let fins: Vec<String> = finalizers(&obj).into_iter().filter(|f| f != fin).collect();
            if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                if fins.is_empty() {
                    m.remove("finalizers");
                } else {
                    m.insert("finalizers".into(), json!(fins));
                }
            }
            let actor = if *fin == FINALIZER_CRD_CLEANUP {
                Actor("apiextensions-controller".into())
            } else {
                gc
            };
            let opts = WriteOptions {
                field_manager: Some(actor.0.clone()),
                dry_run: false,
            };
            let _ = store.update_with(&actor, obj, Subresource::Main, &opts);
        }
        Action::FinalizeNamespace(ns, uid) => {
            let Some(t) = type_of(store, "", "Namespace") else {
                return;
            };
            let Ok(mut obj) = store.get_typed(&t, None, ns) else {
                return;
            };
            if meta_str(&obj, "uid") != *uid {
                return;
            }
            obj["spec"]["finalizers"] = json!([]);
            let actor = Actor("namespace-controller".into());
            let opts = WriteOptions {
                field_manager: Some(actor.0.clone()),
                dry_run: false,
            };
            let _ = store.update_with(&actor, obj, Subresource::Main, &opts);
        }
        Action::KillPod(key, uid) => {
            let Some(t) = type_of(store, "", "Pod") else {
                return;
            };
            let opts = DeleteOptions {
                grace_period_seconds: Some(0),
                precondition_uid: Some(uid.clone()),
                ..Default::default()
            };
            let _ = store.delete_typed(
                &Actor("kubelet".into()),
                &t,
                Some(&key.namespace),
                &key.name,
                &opts,
            );
        }
    }
}

fn ns_opt<'a>(t: &ResourceType, key: &'a ObjKey) -> Option<&'a str> {
    if t.namespaced {
        Some(key.namespace.as_str())
    } else {
        None
    }
}

fn store_ns_deleting(store: &Store, ns: &str) -> bool {
    if ns.is_empty() {
        return false;
    }
    let Some(t) = type_of(store, "", "Namespace") else {
        return false;
    };
    store.get_typed(&t, None, ns).is_ok_and(|n| is_deleting(&n))
}
