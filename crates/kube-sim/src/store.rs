//! The in-memory object store: one global resourceVersion, kube-apiserver's
//! create/update/patch/delete rules, watch history and the event log.
//!
//! Everything happens under one mutex, so every write gets a unique, ordered
//! resourceVersion and watchers see events in that order.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::sync::{Notify, broadcast};

use crate::api::{
    Actor, Api, ApiError, DeleteOptions, DeleteOutcome, Gvk, ListOptions, Patch, Propagation,
    WatchEvent, WatchEventType,
};
use crate::managed;
use crate::patch as patches;
use crate::registry::{Registry, ResourceType};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{self, Cause, GroupResource};

/// Finalizer the GC uses for orphaning.
pub const FINALIZER_ORPHAN: &str = "orphan";
/// Finalizer the GC uses for foreground deletion.
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";
/// Finalizer on CRDs that deletes their custom resources first.
pub const FINALIZER_CRD_CLEANUP: &str = "customresourcecleanup.apiextensions.k8s.io";

/// Store settings.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Seed for uids and generated names.
    pub seed: u64,
    /// Watch events kept for resuming watches; older resourceVersions get 410.
    pub history_limit: usize,
    /// Record reads (get/list) in the event log too.
    pub log_reads: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            seed: 1,
            history_limit: 10_000,
            log_reads: false,
        }
    }
}

/// One entry of the ordered event log.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LogEntry {
    /// Position in the log.
    pub seq: u64,
    /// Global resourceVersion after the call (the write's RV for writes).
    pub rv: u64,
    /// RFC 3339 time with milliseconds.
    pub time: String,
    /// Who made the call.
    pub actor: String,
    /// create, update, update-status, patch, apply, delete, get, list, gc-delete, ...
    pub verb: String,
    /// API group.
    pub group: String,
    /// Version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace, if namespaced.
    pub namespace: Option<String>,
    /// Object name.
    pub name: String,
    /// HTTP-like status code of the result.
    pub code: u16,
    /// What happened: `created`, `updated`, `deleted`, `terminating`, `noop`, or the error reason.
    pub result: String,
}

/// The key of a stored object: group, kind, namespace ("" = cluster), name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjKey {
    /// API group.
    pub group: String,
    /// Kind.
    pub kind: String,
    /// Namespace or "".
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjKey {
    /// Key of a stored object value.
    pub fn of(obj: &Value) -> Self {
        let gvk = gvk_of(obj);
        Self {
            group: gvk.group,
            kind: gvk.kind,
            namespace: meta_str(obj, "namespace"),
            name: meta_str(obj, "name"),
        }
    }
}

pub(crate) struct State {
    pub(crate) rv: u64,
    pub(crate) registry: Arc<Registry>,
    pub(crate) objects: BTreeMap<ObjKey, Value>,
    history: VecDeque<Arc<WatchEvent>>,
    /// RV of the last event dropped from history.
    compacted_rv: u64,
    log: Vec<LogEntry>,
    rng: fastrand::Rng,
}

/// Which part of the object a write changes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subresource {
    /// The main resource (status changes ignored when a status subresource exists).
    Main,
    /// `/status` (only status changes).
    Status,
}

/// Options of a write call beyond the object itself.
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// `fieldManager` (defaults to the actor).
    pub field_manager: Option<String>,
    /// `dryRun=All`.
    pub dry_run: bool,
}

/// Result of a watch start: events to send first, then the live feed.
pub struct WatchStart {
    /// Synthetic ADDED events or replayed history.
    pub initial: Vec<Arc<WatchEvent>>,
    /// Live events after `initial`.
    pub live: broadcast::Receiver<Arc<WatchEvent>>,
    /// The RV the initial set corresponds to.
    pub rv: u64,
}

/// The in-memory API server store.
pub struct Store {
    state: Mutex<State>,
    tx: broadcast::Sender<WatchEvent>,
    /// The same events, shared (HTTP watchers: no per-watcher deep copy).
    shared_tx: broadcast::Sender<Arc<WatchEvent>>,
    config: StoreConfig,
    /// Woken on every write (background controllers wait on it).
    pub(crate) changed: Notify,
    /// Bumped by writes the control-plane controllers care about (owner
    /// references, deletions, namespaces, CRDs, terminating pods).
    controller_epoch: std::sync::atomic::AtomicU64,
}

pub(crate) fn meta_str(obj: &Value, field: &str) -> String {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

pub(crate) fn gvk_of(obj: &Value) -> Gvk {
    Gvk::new(
        obj.get("apiVersion")
            .and_then(Value::as_str)
            .unwrap_or_default(),
        obj.get("kind").and_then(Value::as_str).unwrap_or_default(),
    )
}

pub use crate::value::finalizers;

fn set_finalizers(obj: &mut Value, f: &[String]) {
    let m = meta_mut(obj);
    if f.is_empty() {
        m.remove("finalizers");
    } else {
        m.insert("finalizers".into(), json!(f));
    }
}

pub(crate) fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    match obj.get_mut("metadata") {
        Some(Value::Object(m)) => m,
        _ => unreachable!("metadata was just made an object"),
    }
}

use crate::value::is_deleting;

/// RFC 3339 seconds, the format of creation/deletion timestamps.
pub fn now_rfc3339() -> String {
    format!("{:.0}", jiff::Timestamp::now())
}

fn now_millis() -> String {
    format!("{:.3}", jiff::Timestamp::now())
}

fn uuid_v4(rng: &mut fastrand::Rng) -> String {
    let mut b = [0u8; 16];
    for x in &mut b {
        *x = rng.u8(..);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// apimachinery `IsQualifiedName`: optional DNS-subdomain prefix and `/`, then a 63-char name part.
fn is_qualified_name(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    name_ok && prefix.is_none_or(is_dns_subdomain)
}

fn is_standard_finalizer(f: &str) -> bool {
    matches!(f, FINALIZER_ORPHAN | FINALIZER_FOREGROUND | "kubernetes")
}

/// Everything but metadata and status (what bumps `generation`).
fn spec_part(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Value::Object(m) = &mut o {
        m.remove("metadata");
        m.remove("status");
        m.remove("apiVersion");
        m.remove("kind");
    }
    o
}

/// What bumps `generation` for a type: custom resources without a status subresource count
/// status changes too (apiextensions strategy); a Deployment counts its annotations too
/// (the deployment strategy: they are copied to its ReplicaSets); everything else only
/// non-metadata, non-status.
fn generation_relevant(t: &ResourceType, obj: &Value) -> Value {
    if t.custom && !t.status_subresource {
        let mut o = obj.clone();
        if let Value::Object(m) = &mut o {
            m.remove("metadata");
            m.remove("apiVersion");
            m.remove("kind");
        }
        return o;
    }
    let mut o = spec_part(obj);
    if t.group == "apps"
        && t.kind == "Deployment"
        && let Value::Object(m) = &mut o
    {
        let annotations = obj["metadata"]["annotations"].clone();
        m.insert("annotations".into(), annotations);
    }
    o
}

/// Comparable form of an object: without resourceVersion and managedFields.
fn comparable(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(Value::Object(m)) = o.get_mut("metadata") {
        m.remove("resourceVersion");
        m.remove("managedFields");
    }
    o
}

impl Store {
    /// A store with the built-in types and the standard namespaces.
    pub fn new(config: StoreConfig) -> Arc<Self> {
        let (tx, _) = broadcast::channel(65_536);
        let (shared_tx, _) = broadcast::channel(65_536);
        let store = Arc::new(Self {
            state: Mutex::new(State {
                rv: 0,
                registry: Arc::new(Registry::new()),
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                compacted_rv: 0,
                log: Vec::new(),
                rng: fastrand::Rng::with_seed(config.seed),
            }),
            tx,
            shared_tx,
            config,
            changed: Notify::new(),
            controller_epoch: std::sync::atomic::AtomicU64::new(0),
        });
        let system = Actor("kube-apiserver".into());
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            // Creating a fresh namespace in an empty store cannot fail.
            let _ = store.create(
                &system,
                json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":ns}}),
            );
        }
        store
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.lock().rv
    }

    /// The registry (discovery); a shared snapshot.
    pub fn registry(&self) -> Arc<Registry> {
        self.lock().registry.clone()
    }

    /// The ordered event log.
    pub fn event_log(&self) -> Vec<LogEntry> {
        self.lock().log.clone()
    }

    /// Watches and continue tokens from before this resourceVersion are expired (410).
    pub fn compacted_resource_version(&self) -> u64 {
        self.lock().compacted_rv
    }

    /// Drop all watch history: watches from any older resourceVersion get 410.
    pub fn compact(&self) {
        let mut st = self.lock();
        st.compacted_rv = st.rv;
        st.history.clear();
    }

    /// Resolve a type.
    pub fn resolve(&self, gvk: &Gvk) -> Result<Arc<ResourceType>, ApiError> {
        self.lock()
            .registry
            .by_gvk(gvk)
            .ok_or_else(|| unknown_kind(gvk))
    }

    fn log(
        &self,
        st: &mut State,
        actor: &Actor,
        verb: &str,
        gvk: &Gvk,
        ns: Option<&str>,
        name: &str,
        res: Result<&str, &ApiError>,
    ) {
        let (code, result) = match res {
            Ok(r) => (if r == "created" { 201 } else { 200 }, r.to_string()),
            Err(e) => (e.code, e.reason.clone()),
        };
        let seq = st.log.len() as u64;
        let rv = st.rv;
        st.log.push(LogEntry {
            seq,
            rv,
            time: now_millis(),
            actor: actor.0.clone(),
            verb: verb.to_string(),
            group: gvk.group.clone(),
            version: gvk.version.clone(),
            kind: gvk.kind.clone(),
            namespace: ns.filter(|n| !n.is_empty()).map(str::to_string),
            name: name.to_string(),
            code,
            result,
        });
    }

    /// Record a non-store action (e.g. a controller's denied call) in the event log.
    pub fn log_external(
        &self,
        actor: &Actor,
        verb: &str,
        gvk: &Gvk,
        ns: Option<&str>,
        name: &str,
        code: u16,
        result: &str,
    ) {
        let mut st = self.lock();
        let seq = st.log.len() as u64;
        let rv = st.rv;
        st.log.push(LogEntry {
            seq,
            rv,
            time: now_millis(),
            actor: actor.0.clone(),
            verb: verb.into(),
            group: gvk.group.clone(),
            version: gvk.version.clone(),
            kind: gvk.kind.clone(),
            namespace: ns.map(str::to_string),
            name: name.into(),
            code,
            result: result.into(),
        });
    }

    /// Write an event: bump RV, store or remove, keep history, broadcast.
    fn commit(
        &self,
        st: &mut State,
        kind: WatchEventType,
        mut obj: Value,
        old: Option<Value>,
    ) -> Value {
        st.rv += 1;
        let rv = st.rv;
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        let key = ObjKey::of(&obj);
        match kind {
            WatchEventType::Deleted => {
                st.objects.remove(&key);
            }
            _ => {
                st.objects.insert(key, obj.clone());
            }
        }
        let ev = WatchEvent {
            kind,
            gvk: gvk_of(&obj),
            object: obj.clone(),
            resource_version: rv,
            old_object: old,
        };
        let shared = Arc::new(ev.clone());
        st.history.push_back(shared.clone());
        while st.history.len() > self.config.history_limit {
            if let Some(e) = st.history.pop_front() {
                st.compacted_rv = e.resource_version;
            }
        }
        if matters_to_controllers(&ev) {
            self.controller_epoch
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.changed.notify_waiters();
        }
        let _ = self.shared_tx.send(shared);
        if self.tx.receiver_count() > 0 {
            let _ = self.tx.send(ev);
        }
        obj
    }

    /// Changes whenever a write may need the GC, namespace, CRD or kubelet controllers.
    pub fn controller_epoch(&self) -> u64 {
        self.controller_epoch
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    // ----- reads -----

    /// GET by type.
    pub fn get_typed(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let st = self.lock();
        get_in(&st, t, ns, name)
    }

    /// LIST by type with selectors; returns items and the list resourceVersion.
    pub fn list_typed(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        label: Option<&str>,
        field: Option<&str>,
    ) -> Result<(Vec<Value>, u64), ApiError> {
        let ls = LabelSelector::parse(label.unwrap_or_default())?;
        let fs = FieldSelector::parse(field.unwrap_or_default(), t)?;
        let st = self.lock();
        let items = list_in(&st, t, ns)
            .filter(|o| ls.matches(o) && fs.matches(o))
            .map(|o| with_version(o.clone(), t))
            .collect();
        Ok((items, st.rv))
    }

    /// Start a watch atomically with its initial events.
    /// `from`: `None` = synthetic ADDED for everything then changes; `Some(rv)` = changes after rv.
    pub fn watch_start(
        &self,
        t: &ResourceType,
        ns: Option<&str>,
        from: Option<u64>,
    ) -> Result<WatchStart, ApiError> {
        let st = self.lock();
        let live = self.shared_tx.subscribe();
        let initial = match from {
            None => list_in(&st, t, ns)
                .map(|o| {
                    Arc::new(WatchEvent {
                        kind: WatchEventType::Added,
                        gvk: t.gvk(),
                        object: o.clone(),
                        resource_version: st.rv,
                        old_object: None,
                    })
                })
                .collect(),
            Some(rv) => {
                if rv < st.compacted_rv {
                    return Err(status::expired(rv, st.compacted_rv + 1));
                }
                st.history
                    .iter()
                    .filter(|e| e.resource_version > rv)
                    .cloned()
                    .collect()
            }
        };
        Ok(WatchStart {
            initial,
            live,
            rv: st.rv,
        })
    }

    // ----- writes -----

    /// POST with options. Returns the created object.
    pub fn create_with(
        &self,
        actor: &Actor,
        obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let gvk = gvk_of(&obj);
        let mut st = self.lock();
        let name = meta_str(&obj, "name");
        let ns = meta_str(&obj, "namespace");
        let res = self.create_in(&mut st, actor, obj, opts);
        let (n, r) = match &res {
            Ok(o) => (meta_str(o, "name"), Ok("created")),
            Err(e) => (if name.is_empty() { "".into() } else { name }, Err(e)),
        };
        self.log(&mut st, actor, "create", &gvk, Some(&ns), &n, r);
        res
    }

    fn create_in(
        &self,
        st: &mut State,
        actor: &Actor,
        mut obj: Value,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let gvk = gvk_of(&obj);
        let t = st.registry.by_gvk(&gvk).ok_or_else(|| unknown_kind(&gvk))?;
        let gr = GroupResource::of(&t);
        if !obj.is_object() {
            return Err(status::bad_request(
                "the body of the request must be an object",
            ));
        }
        let meta = meta_mut(&mut obj);
        let mut name = meta
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let generate = meta
            .get("generateName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if t.namespaced {
            let ns = meta
                .get("namespace")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let ns = if ns.is_empty() {
                "default".to_string()
            } else {
                ns
            };
            meta.insert("namespace".into(), json!(ns));
            let nskey = ObjKey {
                group: String::new(),
                kind: "Namespace".into(),
                namespace: String::new(),
                name: ns.clone(),
            };
            match st.objects.get(&nskey) {
                None => return Err(status::not_found(&GroupResource::core("namespaces"), &ns)),
                Some(n) if is_deleting(n) => {
                    return Err(status::namespace_terminating(&gr, &name, &ns));
                }
                Some(_) => {}
            }
        } else {
            meta.remove("namespace");
        }
        if t.custom
            && let Some(crd) = crd_of(st, &t)
            && is_deleting(crd)
        {
            return Err(status::method_not_allowed(
                "create not allowed while custom resource definition is terminating",
            ));
        }
        if name.is_empty() && !generate.is_empty() {
            loop {
                let suffix: String = (0..5)
                    .map(|_| NAME_ALPHABET[st.rng.usize(..NAME_ALPHABET.len())] as char)
                    .collect();
                name = format!("{generate}{suffix}");
                let ns = meta_str(&obj, "namespace");
                let key = ObjKey {
                    group: t.group.clone(),
                    kind: t.kind.clone(),
                    namespace: ns,
                    name: name.clone(),
                };
                if !st.objects.contains_key(&key) {
                    break;
                }
            }
        }
        if name.is_empty() {
            return Err(status::invalid(
                &t.group,
                &t.kind,
                "",
                vec![Cause::required(
                    "metadata.name",
                    "name or generateName is required",
                )],
            ));
        }
        let uid = uuid_v4(&mut st.rng);
        let meta = meta_mut(&mut obj);
        meta.insert("name".into(), json!(name));
        meta.insert("uid".into(), json!(uid));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        meta.remove("deletionTimestamp");
        meta.remove("deletionGracePeriodSeconds");
        meta.remove("resourceVersion");
        if t.has_generation {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
        obj["apiVersion"] = json!(t.api_version());
        let key = ObjKey::of(&obj);
        if let Some(existing) = st.objects.get(&key) {
            return Err(status::already_exists(&gr, &name, is_deleting(existing)));
        }
        if t.custom
            && t.status_subresource
            && let Value::Object(m) = &mut obj
        {
            m.remove("status");
        }
        prepare_builtin_create(&t, &mut obj);
        validate(&t, &obj, None)?;
        let manager = opts
            .field_manager
            .clone()
            .unwrap_or_else(|| actor.0.clone());
        managed::record_update(&t, None, &mut obj, &manager);
        if opts.dry_run {
            meta_mut(&mut obj).insert("resourceVersion".into(), json!(st.rv.to_string()));
            return Ok(obj);
        }
        if t.kind == "CustomResourceDefinition" && t.group == "apiextensions.k8s.io" {
            Arc::make_mut(&mut st.registry).register_crd(&obj);
        }
        Ok(self.commit(st, WatchEventType::Added, obj, None))
    }

    /// PUT (main resource or status) with options.
    pub fn update_with(
        &self,
        actor: &Actor,
        obj: Value,
        sub: Subresource,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let gvk = gvk_of(&obj);
        let name = meta_str(&obj, "name");
        let ns = meta_str(&obj, "namespace");
        let mut st = self.lock();
        let res = (|| {
            let t = st.registry.by_gvk(&gvk).ok_or_else(|| unknown_kind(&gvk))?;
            let nsopt = if t.namespaced {
                Some(if ns.is_empty() {
                    "default"
                } else {
                    ns.as_str()
                })
            } else {
                None
            };
            let old = get_in(&st, &t, nsopt, &name)?;
            let new_rv = meta_str(&obj, "resourceVersion");
            if new_rv.is_empty() {
                if !t.unconditional_update {
                    // kube-apiserver 1.35 qualifies a custom resource's error by
                    // resource (`widgets.example.com`), the value printed as 0.
                    let mut e = status::invalid(
                        &t.group,
                        &t.plural,
                        &name,
                        vec![Cause::invalid(
                            "metadata.resourceVersion",
                            "0",
                            "must be specified for an update",
                        )],
                    );
                    if let Some(Value::Object(d)) = e.status.get_mut("details") {
                        d.insert("kind".into(), json!(t.kind));
                    }
                    return Err(e);
                }
            } else if new_rv != meta_str(&old, "resourceVersion") {
                return Err(status::stale(&GroupResource::of(&t), &name));
            }
            let mut obj = obj;
            if t.namespaced {
                meta_mut(&mut obj).insert("namespace".into(), json!(nsopt.unwrap_or("default")));
            }
            let manager = opts
                .field_manager
                .clone()
                .unwrap_or_else(|| actor.0.clone());
            self.update_in(&mut st, &t, &old, obj, sub, Some(&manager), opts.dry_run)
        })();
        let verb = if sub == Subresource::Status {
            "update-status"
        } else {
            "update"
        };
        let r = match &res {
            Ok((_, r)) => Ok(*r),
            Err(e) => Err(e),
        };
        self.log(&mut st, actor, verb, &gvk, Some(&ns), &name, r);
        res.map(|(v, _)| v)
    }

    /// The shared tail of PUT and PATCH: BeforeUpdate, validation, no-op
    /// detection, delete-on-last-finalizer, commit. Returns the object and what happened.
    #[allow(clippy::too_many_arguments)]
    fn update_in(
        &self,
        st: &mut State,
        t: &ResourceType,
        old: &Value,
        mut new: Value,
        sub: Subresource,
        manager: Option<&str>,
        dry_run: bool,
    ) -> Result<(Value, &'static str), ApiError> {
        let gr = GroupResource::of(t);
        let name = meta_str(old, "name");
        if !new.is_object() {
            return Err(status::bad_request(
                "the body of the request must be an object",
            ));
        }
        let body_name = meta_str(&new, "name");
        if !body_name.is_empty() && body_name != name {
            return Err(status::bad_request(&format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        // Subresource handling.
        if sub == Subresource::Status {
            let mut merged = old.clone();
            merged["status"] = new.get("status").cloned().unwrap_or(Value::Null);
            if merged["status"].is_null()
                && let Value::Object(m) = &mut merged
            {
                m.remove("status");
            }
            new = merged;
        } else if t.status_subresource {
            match old.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    if let Value::Object(m) = &mut new {
                        m.remove("status");
                    }
                }
            }
        }
        // rest.BeforeUpdate.
        let old_meta = old.get("metadata").cloned().unwrap_or(json!({}));
        let new_uid = meta_str(&new, "uid");
        if !new_uid.is_empty() && new_uid != meta_str(old, "uid") {
            return Err(status::conflict(
                &gr,
                &name,
                &format!(
                    "Precondition failed: UID in precondition: {}, UID in object meta: {}",
                    new_uid,
                    meta_str(old, "uid")
                ),
            ));
        }
        new["apiVersion"] = json!(t.api_version());
        new["kind"] = json!(t.kind);
        {
            let m = meta_mut(&mut new);
            m.insert("name".into(), json!(name));
            for k in ["uid", "creationTimestamp", "deletionTimestamp", "namespace"] {
                match old_meta.get(k) {
                    Some(v) => {
                        m.insert(k.into(), v.clone());
                    }
                    None => {
                        m.remove(k);
                    }
                }
            }
            if m.get("deletionGracePeriodSeconds")
                .is_none_or(Value::is_null)
            {
                match old_meta.get("deletionGracePeriodSeconds") {
                    Some(v) => m.insert("deletionGracePeriodSeconds".into(), v.clone()),
                    None => m.remove("deletionGracePeriodSeconds"),
                };
            }
            match old_meta.get("generation") {
                Some(g) => m.insert("generation".into(), g.clone()),
                None => m.remove("generation"),
            };
        }
        if t.has_generation && generation_relevant(t, old) != generation_relevant(t, &new) {
            let g = old
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            meta_mut(&mut new).insert("generation".into(), json!(g + 1));
        }
        if t.kind == "CustomResourceDefinition" && t.group == "apiextensions.k8s.io" {
            // CRD status is controller-owned in the simulator: keep conditions current.
            crd_status(&mut new);
        }
        validate(t, &new, Some(old))?;
        if let Some(manager) = manager {
            managed::record_update(t, Some(old), &mut new, manager);
        }
        if comparable(&new) == comparable(old) {
            return Ok((old.clone(), "noop"));
        }
        if dry_run {
            return Ok((new, "updated"));
        }
        // ShouldDeleteDuringUpdate.
        let grace = old
            .pointer("/metadata/deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let ns_spec_final = t.kind == "Namespace"
            && new
                .pointer("/spec/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
        if finalizers(&new).is_empty() && is_deleting(old) && grace == 0 && !ns_spec_final {
            let out = self.remove_in(st, t, new.clone(), Some(old.clone()));
            return Ok((out, "deleted"));
        }
        if t.kind == "CustomResourceDefinition" && t.group == "apiextensions.k8s.io" {
            Arc::make_mut(&mut st.registry).register_crd(&new);
        }
        Ok((
            self.commit(st, WatchEventType::Modified, new, Some(old.clone())),
            "updated",
        ))
    }

    /// Remove from storage (DELETED event). Side effects for CRDs.
    fn remove_in(&self, st: &mut State, t: &ResourceType, obj: Value, old: Option<Value>) -> Value {
        if t.kind == "CustomResourceDefinition" && t.group == "apiextensions.k8s.io" {
            let name = meta_str(&obj, "name");
            Arc::make_mut(&mut st.registry).unregister_crd(&name);
        }
        let _ = old;
        // The DELETED event carries the last state; old_object = None (selectors use the object).
        self.commit(st, WatchEventType::Deleted, obj, None)
    }

    /// PATCH with options. Returns the object and whether it was created (apply).
    pub fn patch_with(
        &self,
        actor: &Actor,
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
        patch: Patch,
        sub: Subresource,
        opts: &WriteOptions,
    ) -> Result<(Value, bool), ApiError> {
        let mut st = self.lock();
        let verb = match (&patch, sub) {
            (Patch::Apply { .. }, _) => "apply",
            (_, Subresource::Status) => "patch-status",
            _ => "patch",
        };
        let res = self.patch_in(&mut st, actor, t, ns, name, patch, sub, opts);
        let r = match &res {
            Ok((_, true)) => Ok("created"),
            Ok((_, false)) => Ok("patched"),
            Err(e) => Err(e),
        };
        self.log(&mut st, actor, verb, &t.gvk(), ns, name, r);
        res
    }

    #[allow(clippy::too_many_arguments)]
    fn patch_in(
        &self,
        st: &mut State,
        actor: &Actor,
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
        patch: Patch,
        sub: Subresource,
        opts: &WriteOptions,
    ) -> Result<(Value, bool), ApiError> {
        let gr = GroupResource::of(t);
        let manager = opts
            .field_manager
            .clone()
            .unwrap_or_else(|| actor.0.clone());
        let ns = if t.namespaced {
            Some(ns.filter(|n| !n.is_empty()).unwrap_or("default"))
        } else {
            None
        };
        let existing = get_in(st, t, ns, name);
        if let Patch::Apply {
            body,
            field_manager,
            force,
        } = &patch
        {
            if field_manager.is_empty() {
                return Err(status::invalid(
                    "meta.k8s.io",
                    "PatchOptions",
                    "",
                    vec![Cause::required(
                        "fieldManager",
                        "is required for apply patch",
                    )],
                ));
            }
            check_apply_body(t, body, name)?;
            let old = match existing {
                Err(e) if e.code == 404 => {
                    let mut obj = body.clone();
                    let m = meta_mut(&mut obj);
                    m.insert("name".into(), json!(name));
                    if let Some(n) = ns {
                        m.insert("namespace".into(), json!(n));
                    }
                    let mut created = self.create_in(
                        st,
                        actor,
                        obj,
                        &WriteOptions {
                            field_manager: Some(field_manager.clone()),
                            dry_run: true,
                        },
                    )?;
                    managed::apply_create(t, &mut created, body, field_manager);
                    if opts.dry_run {
                        return Ok((created, true));
                    }
                    if t.kind == "CustomResourceDefinition" && t.group == "apiextensions.k8s.io" {
                        Arc::make_mut(&mut st.registry).register_crd(&created);
                    }
                    meta_mut(&mut created).remove("resourceVersion");
                    return Ok((self.commit(st, WatchEventType::Added, created, None), true));
                }
                Err(e) => return Err(e),
                Ok(o) => o,
            };
            let new = managed::apply(t, &old, body, field_manager, *force)
                .map_err(|c| c.into_error(t, name))?;
            let body_rv = body
                .pointer("/metadata/resourceVersion")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if !body_rv.is_empty() && body_rv != meta_str(&old, "resourceVersion") {
                return Err(status::stale(&gr, name));
            }
            let (v, _) = self.update_in(st, t, &old, new, sub, None, opts.dry_run)?;
            return Ok((v, false));
        }
        let old = existing?;
        let base = match sub {
            Subresource::Status => old.clone(),
            Subresource::Main => old.clone(),
        };
        let new = match &patch {
            Patch::Json(p) => patches::json_patch(&base, p).map_err(|e| patch_error(t, name, e))?,
            Patch::Merge(p) => {
                patches::merge_patch(&base, p).map_err(|e| patch_error(t, name, e))?
            }
            Patch::Strategic(p) => {
                if t.custom {
                    return Err(status::unsupported_media_type(
                        "application/strategic-merge-patch+json",
                    ));
                }
                patches::strategic_merge(&base, p).map_err(|e| patch_error(t, name, e))?
            }
            Patch::Apply { .. } => unreachable!("handled above"),
        };
        let patched_rv = meta_str(&new, "resourceVersion");
        if !patched_rv.is_empty() && patched_rv != meta_str(&old, "resourceVersion") {
            return Err(status::stale(&gr, name));
        }
        let (v, _) = self.update_in(st, t, &old, new, sub, Some(&manager), opts.dry_run)?;
        Ok((v, false))
    }

    /// DELETE with the §3.4 algorithm.
    pub fn delete_typed(
        &self,
        actor: &Actor,
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<DeleteOutcome, ApiError> {
        let mut st = self.lock();
        let res = self.delete_in(&mut st, t, ns, name, opts);
        let r = match &res {
            Ok(DeleteOutcome::Deleted(_)) => Ok("deleted"),
            Ok(DeleteOutcome::Terminating(_)) => Ok("terminating"),
            Err(e) => Err(e),
        };
        self.log(&mut st, actor, "delete", &t.gvk(), ns, name, r);
        res
    }

    fn delete_in(
        &self,
        st: &mut State,
        t: &ResourceType,
        ns: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<DeleteOutcome, ApiError> {
        let gr = GroupResource::of(t);
        let ns = if t.namespaced {
            Some(ns.filter(|n| !n.is_empty()).unwrap_or("default"))
        } else {
            None
        };
        let obj = get_in(st, t, ns, name)?;
        if let Some(uid) = &opts.precondition_uid {
            let cur = meta_str(&obj, "uid");
            if *uid != cur {
                // kube-apiserver names the kind here, not the resource.
                let by_kind = GroupResource {
                    group: t.group.clone(),
                    resource: t.kind.clone(),
                };
                return Err(status::conflict(
                    &by_kind,
                    name,
                    &format!(
                        "the UID in the precondition ({uid}) does not match the UID in record ({cur}). The object might have been deleted and then recreated"
                    ),
                ));
            }
        }
        if let Some(rv) = &opts.precondition_resource_version {
            let cur = meta_str(&obj, "resourceVersion");
            if *rv != cur {
                return Err(status::conflict(
                    &gr,
                    name,
                    &format!(
                        "the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({cur}). The object might have been modified"
                    ),
                ));
            }
        }
        // BeforeDelete: only pods are graceful.
        let mut graceful = false;
        let mut grace = 0i64;
        if t.kind == "Pod" && t.group.is_empty() {
            grace = opts
                .grace_period_seconds
                .or_else(|| {
                    obj.pointer("/spec/terminationGracePeriodSeconds")
                        .and_then(Value::as_i64)
                })
                .unwrap_or(0);
            if grace < 0 {
                grace = 1;
            }
            let node = obj
                .pointer("/spec/nodeName")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let phase = obj
                .pointer("/status/phase")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if node.is_empty() || phase == "Succeeded" || phase == "Failed" {
                grace = 0;
            }
            if is_deleting(&obj) {
                let cur = obj
                    .pointer("/metadata/deletionGracePeriodSeconds")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                if cur > 0 && grace >= cur {
                    // pendingGraceful: nothing to do.
                    return Ok(DeleteOutcome::Terminating(obj));
                }
            }
            graceful = grace > 0;
        }
        // deletionFinalizersForGarbageCollection.
        let existing = finalizers(&obj);
        let should_orphan = opts.orphan_dependents.unwrap_or(match opts.propagation {
            Some(Propagation::Orphan) => true,
            Some(_) => false,
            None => existing.iter().any(|f| f == FINALIZER_ORPHAN),
        });
        let should_foreground = match opts.propagation {
            Some(Propagation::Foreground) => true,
            Some(_) => false,
            None => {
                opts.orphan_dependents.is_none()
                    && existing.iter().any(|f| f == FINALIZER_FOREGROUND)
            }
        } && !should_orphan;
        let mut new_finalizers: Vec<String> = existing
            .iter()
            .filter(|f| *f != FINALIZER_ORPHAN && *f != FINALIZER_FOREGROUND)
            .cloned()
            .collect();
        if should_orphan {
            new_finalizers.push(FINALIZER_ORPHAN.into());
        }
        if should_foreground {
            new_finalizers.push(FINALIZER_FOREGROUND.into());
        }
        let gc_changed = {
            let mut a = existing.clone();
            let mut b = new_finalizers.clone();
            a.sort();
            b.sort();
            a != b
        };
        let ns_final = t.kind == "Namespace"
            && obj
                .pointer("/spec/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
        if graceful || !existing.is_empty() || gc_changed || ns_final {
            let mut new = obj.clone();
            set_finalizers(&mut new, &new_finalizers);
            let now = now_rfc3339();
            if (!new_finalizers.is_empty() || ns_final) && !graceful {
                let generation = new
                    .pointer("/metadata/generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                let m = meta_mut(&mut new);
                if m.get("deletionTimestamp").is_none_or(|v| v.is_null()) && generation > 0 {
                    m.insert("generation".into(), json!(generation + 1));
                }
                let dt = match m.get("deletionTimestamp").and_then(Value::as_str) {
                    Some(existing) if existing <= now.as_str() => existing.to_string(),
                    _ => now,
                };
                m.insert("deletionTimestamp".into(), json!(dt));
                m.insert("deletionGracePeriodSeconds".into(), json!(0));
                if t.kind == "Namespace" {
                    new["status"]["phase"] = json!("Terminating");
                }
                if t.kind == "CustomResourceDefinition" {
                    set_condition(
                        &mut new,
                        "Terminating",
                        "True",
                        "InstanceDeletionInProgress",
                        "CustomResource deletion is in progress",
                    );
                }
            } else if graceful {
                let at = jiff::Timestamp::now()
                    .checked_add(jiff::SignedDuration::from_secs(grace))
                    .unwrap_or_else(|_| jiff::Timestamp::now());
                let m = meta_mut(&mut new);
                m.insert("deletionTimestamp".into(), json!(format!("{at:.0}")));
                m.insert("deletionGracePeriodSeconds".into(), json!(grace));
            }
            let out = if comparable(&new) == comparable(&obj) || opts.dry_run {
                new
            } else {
                self.commit(st, WatchEventType::Modified, new, Some(obj.clone()))
            };
            if !new_finalizers.is_empty() || graceful || ns_final {
                return Ok(DeleteOutcome::Terminating(out));
            }
            if opts.dry_run {
                return Ok(DeleteOutcome::Deleted(out));
            }
            let gone = self.remove_in(st, t, out, None);
            return Ok(DeleteOutcome::Deleted(gone));
        }
        if opts.dry_run {
            return Ok(DeleteOutcome::Deleted(obj));
        }
        Ok(DeleteOutcome::Deleted(self.remove_in(st, t, obj, None)))
    }

    /// All stored objects of every type (for controllers); cheap clones of a snapshot.
    pub fn snapshot(&self) -> Vec<Value> {
        self.lock().objects.values().cloned().collect()
    }
}

fn matters_to_controllers(ev: &WatchEvent) -> bool {
    let interesting = |o: &Value| {
        o.pointer("/metadata/ownerReferences")
            .is_some_and(|r| !r.is_null())
            || is_deleting(o)
            || !finalizers(o).is_empty()
    };
    ev.kind == WatchEventType::Deleted
        || (ev.gvk.kind == "Namespace" && ev.gvk.group.is_empty())
        || (ev.gvk.kind == "CustomResourceDefinition" && ev.gvk.group == "apiextensions.k8s.io")
        || interesting(&ev.object)
        || ev.old_object.as_ref().is_some_and(interesting)
}

fn patch_error(t: &ResourceType, name: &str, e: patches::PatchError) -> ApiError {
    match e {
        patches::PatchError::Json(msg) => status::invalid(
            &t.group,
            &t.kind,
            name,
            vec![Cause {
                reason: "FieldValueInvalid",
                field: "".into(),
                message: msg,
            }],
        ),
        patches::PatchError::Shape(msg) => status::bad_request(&msg),
    }
}

fn check_apply_body(t: &ResourceType, body: &Value, name: &str) -> Result<(), ApiError> {
    if !body.is_object() {
        return Err(status::bad_request("apply patch must be an object"));
    }
    let gvk = gvk_of(body);
    if gvk.kind.is_empty() || body.get("apiVersion").is_none() {
        return Err(status::bad_request("invalid object type: /, Kind="));
    }
    if gvk.kind != t.kind || gvk.group != t.group {
        return Err(status::bad_request(&format!(
            "the API version in the data ({}) does not match the expected API version ({})",
            body["apiVersion"].as_str().unwrap_or_default(),
            t.api_version()
        )));
    }
    let bn = meta_str(body, "name");
    if !bn.is_empty() && bn != name {
        return Err(status::bad_request(&format!(
            "the name of the object ({bn}) does not match the name on the URL ({name})"
        )));
    }
    if body
        .pointer("/metadata/managedFields")
        .is_some_and(|v| !v.is_null())
    {
        return Err(status::bad_request("metadata.managedFields must be nil"));
    }
    Ok(())
}

fn unknown_kind(gvk: &Gvk) -> ApiError {
    let gv = if gvk.group.is_empty() {
        gvk.version.clone()
    } else {
        format!("{}/{}", gvk.group, gvk.version)
    };
    let mut e = status::not_found_path();
    e.message = format!("no matches for kind \"{}\" in version \"{}\"", gvk.kind, gv);
    e.status["message"] = json!(e.message);
    e
}

pub(crate) fn get_in(
    st: &State,
    t: &ResourceType,
    ns: Option<&str>,
    name: &str,
) -> Result<Value, ApiError> {
    let key = ObjKey {
        group: t.group.clone(),
        kind: t.kind.clone(),
        namespace: if t.namespaced {
            ns.filter(|n| !n.is_empty())
                .unwrap_or("default")
                .to_string()
        } else {
            String::new()
        },
        name: name.to_string(),
    };
    st.objects
        .get(&key)
        .map(|o| with_version(o.clone(), t))
        .ok_or_else(|| status::not_found(&GroupResource::of(t), name))
}

pub(crate) fn list_in<'a>(
    st: &'a State,
    t: &ResourceType,
    ns: Option<&'a str>,
) -> impl Iterator<Item = &'a Value> + 'a {
    let group = t.group.clone();
    let kind = t.kind.clone();
    st.objects
        .iter()
        .filter(move |(k, _)| {
            k.group == group
                && k.kind == kind
                && ns.is_none_or(|n| n.is_empty() || k.namespace == n)
        })
        .map(|(_, v)| v)
}

/// Present an object under the requested version of its type.
fn with_version(mut obj: Value, t: &ResourceType) -> Value {
    obj["apiVersion"] = json!(t.api_version());
    obj
}

fn crd_of<'a>(st: &'a State, t: &ResourceType) -> Option<&'a Value> {
    st.objects.iter().find_map(|(k, v)| {
        (k.kind == "CustomResourceDefinition"
            && k.group == "apiextensions.k8s.io"
            && k.name == format!("{}.{}", t.plural, t.group))
        .then_some(v)
    })
}

fn set_condition(obj: &mut Value, ty: &str, status_: &str, reason: &str, message: &str) {
    let now = now_rfc3339();
    if !obj.get("status").is_some_and(Value::is_object) {
        obj["status"] = json!({});
    }
    let conds = obj["status"].as_object_mut().and_then(|m| {
        if !m.get("conditions").is_some_and(Value::is_array) {
            m.insert("conditions".into(), json!([]));
        }
        m.get_mut("conditions").and_then(Value::as_array_mut)
    });
    if let Some(conds) = conds {
        let c = json!({"type": ty, "status": status_, "lastTransitionTime": now, "reason": reason, "message": message});
        match conds
            .iter_mut()
            .find(|c| c.get("type").and_then(Value::as_str) == Some(ty))
        {
            Some(existing) => {
                if existing.get("status") != c.get("status") {
                    *existing = c;
                }
            }
            None => conds.push(c),
        }
    }
}

/// Keep a CRD's status as the apiextensions controllers would: names accepted, established.
fn crd_status(crd: &mut Value) {
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    set_condition(
        crd,
        "NamesAccepted",
        "True",
        "NoConflicts",
        "no conflicts found",
    );
    set_condition(
        crd,
        "Established",
        "True",
        "InitialNamesAccepted",
        "the initial names have been accepted",
    );
    crd["status"]["acceptedNames"] = names;
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|vs| {
            vs.iter()
                .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                .filter_map(|v| v.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    if crd.pointer("/status/storedVersions").is_none() {
        crd["status"]["storedVersions"] = json!(stored);
    }
}

fn prepare_builtin_create(t: &ResourceType, obj: &mut Value) {
    match (t.group.as_str(), t.kind.as_str()) {
        ("", "Namespace") => {
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
            let name = meta_str(obj, "name");
            let labels = meta_mut(obj).entry("labels").or_insert_with(|| json!({}));
            if let Value::Object(l) = labels {
                l.insert("kubernetes.io/metadata.name".into(), json!(name));
            }
        }
        ("", "Pod") if obj.pointer("/status/phase").is_none() => {
            if !obj.get("status").is_some_and(Value::is_object) {
                obj["status"] = json!({});
            }
            obj["status"]["phase"] = json!("Pending");
        }
        ("", "Secret") => {
            if obj.get("type").is_none() {
                obj["type"] = json!("Opaque");
            }
            // stringData is merged into data on write (base64).
            if let Some(Value::Object(sd)) =
                obj.as_object_mut().and_then(|m| m.remove("stringData"))
            {
                use base64::Engine;
                if !obj.get("data").is_some_and(Value::is_object) {
                    obj["data"] = json!({});
                }
                for (k, v) in sd {
                    let s = v.as_str().unwrap_or_default();
                    obj["data"][k] = json!(base64::engine::general_purpose::STANDARD.encode(s));
                }
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            let mut f = finalizers(obj);
            if !f.iter().any(|x| x == FINALIZER_CRD_CLEANUP) {
                f.push(FINALIZER_CRD_CLEANUP.into());
            }
            set_finalizers(obj, &f);
            crd_status(obj);
        }
        _ => {}
    }
}

/// Metadata validation shared by create and update.
fn validate(t: &ResourceType, new: &Value, old: Option<&Value>) -> Result<(), ApiError> {
    let name = meta_str(new, "name");
    let mut causes = Vec::new();
    let rbac = t.group == "rbac.authorization.k8s.io";
    if old.is_none() && !rbac && !is_dns_subdomain(&name) {
        causes.push(Cause::invalid(
            "metadata.name",
            &format!("\"{name}\""),
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ));
    }
    let fins = finalizers(new);
    for (i, f) in fins.iter().enumerate() {
        if !is_standard_finalizer(f) && !is_qualified_name(f) {
            causes.push(Cause::invalid(
                &format!("metadata.finalizers[{i}]"),
                &format!("\"{f}\""),
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ));
        }
    }
    if fins.iter().any(|f| f == FINALIZER_ORPHAN) && fins.iter().any(|f| f == FINALIZER_FOREGROUND)
    {
        causes.push(Cause::invalid(
            "metadata.finalizers",
            &go_string_slice(&fins).to_string(),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
    if let Some(old) = old {
        if is_deleting(old) {
            let old_f = finalizers(old);
            let added: Vec<String> = fins
                .iter()
                .filter(|f| !old_f.contains(f))
                .cloned()
                .collect();
            if !added.is_empty() {
                causes.push(Cause::forbidden(
                    "metadata.finalizers",
                    &format!(
                        "no new finalizers can be added if the object is being deleted, found new finalizers {}",
                        go_string_slice(&added)
                    ),
                ));
            }
        }
        let og = old
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let ng = new
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if ng < og {
            causes.push(Cause::invalid(
                "metadata.generation",
                &ng.to_string(),
                "must not be decremented",
            ));
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(status::invalid(&t.group, &t.kind, &name, causes))
    }
}

/// Go's `%#v` of a `[]string`.
fn go_string_slice(v: &[String]) -> String {
    let inner: Vec<String> = v.iter().map(|s| format!("\"{s}\"")).collect();
    format!("[]string{{{}}}", inner.join(", "))
}

impl Api for Store {
    fn get(
        &self,
        actor: &Actor,
        gvk: &Gvk,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let mut st = self.lock();
        let res = st
            .registry
            .by_gvk(gvk)
            .ok_or_else(|| unknown_kind(gvk))
            .and_then(|t| get_in(&st, &t, namespace, name));
        if self.config.log_reads || res.is_err() {
            self.log(
                &mut st,
                actor,
                "get",
                gvk,
                namespace,
                name,
                res.as_ref().map(|_| "ok"),
            );
        }
        res
    }

    fn list(
        &self,
        actor: &Actor,
        gvk: &Gvk,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Vec<Value>, ApiError> {
        let t = self.resolve(gvk)?;
        let res = self
            .list_typed(
                &t,
                namespace,
                opts.label_selector.as_deref(),
                opts.field_selector.as_deref(),
            )
            .map(|(items, _)| items);
        if self.config.log_reads || res.is_err() {
            let mut st = self.lock();
            self.log(
                &mut st,
                actor,
                "list",
                gvk,
                namespace,
                "",
                res.as_ref().map(|_| "ok"),
            );
        }
        res
    }

    fn create(&self, actor: &Actor, object: Value) -> Result<Value, ApiError> {
        self.create_with(actor, object, &WriteOptions::default())
    }

    fn update(&self, actor: &Actor, object: Value) -> Result<Value, ApiError> {
        self.update_with(actor, object, Subresource::Main, &WriteOptions::default())
    }

    fn patch(
        &self,
        actor: &Actor,
        gvk: &Gvk,
        namespace: Option<&str>,
        name: &str,
        patch: Patch,
    ) -> Result<Value, ApiError> {
        let t = self.resolve(gvk)?;
        self.patch_with(
            actor,
            &t,
            namespace,
            name,
            patch,
            Subresource::Main,
            &WriteOptions::default(),
        )
        .map(|(v, _)| v)
    }

    fn update_status(&self, actor: &Actor, object: Value) -> Result<Value, ApiError> {
        self.update_with(actor, object, Subresource::Status, &WriteOptions::default())
    }

    fn delete(
        &self,
        actor: &Actor,
        gvk: &Gvk,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<DeleteOutcome, ApiError> {
        let t = self.resolve(gvk)?;
        self.delete_typed(actor, &t, namespace, name, opts)
    }

    fn subscribe(&self) -> broadcast::Receiver<WatchEvent> {
        self.tx.subscribe()
    }
}
