//! The in-process interface of the simulated API server.
//!
//! This is the contract between the API server (store, HTTP, GC) and the
//! simulated controllers (ARC, Jobs) that run inside the simulator. The
//! store implements it; controllers call it. Objects are JSON values exactly as
//! the REST API would return them (with `apiVersion`, `kind`, `metadata`).
//!
//! Every call names an [`Actor`], recorded in the event log, so tests can say
//! who did what ("the ARC controller removed `cleanup-protection` from the
//! manager Role").

use serde_json::Value;

/// Group/version/kind of an object type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gvk {
    /// API group, empty for core.
    pub group: String,
    /// Version, for example `v1alpha1`.
    pub version: String,
    /// Kind, for example `EphemeralRunner`.
    pub kind: String,
}

impl Gvk {
    /// Build a Gvk from `apiVersion` and `kind`.
    pub fn new(api_version: &str, kind: &str) -> Self {
        let (group, version) = match api_version.rsplit_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.to_string()),
        };
        Self {
            group,
            version,
            kind: kind.to_string(),
        }
    }
}

/// Who makes a call: recorded in the event log.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Actor(pub String);

/// A label selector in Kubernetes syntax (`a=b,c!=d,e in (f,g),!h`), or everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`.
    pub field_selector: Option<String>,
}

/// A patch body.
#[derive(Clone, Debug)]
pub enum Patch {
    /// RFC 6902 JSON patch (supports `test`).
    Json(Value),
    /// RFC 7386 merge patch.
    Merge(Value),
    /// Strategic merge patch (keyed lists for the well-known fields).
    Strategic(Value),
    /// Server-side apply.
    Apply {
        /// The applied configuration.
        body: Value,
        /// `fieldManager`.
        field_manager: String,
        /// `force`.
        force: bool,
    },
}

/// `propagationPolicy` of a DELETE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Propagation {
    /// Owner goes first, GC deletes dependents afterwards.
    Background,
    /// Owner waits (finalizer `foregroundDeletion`) for blocking dependents.
    Foreground,
    /// Dependents lose their ownerReference (finalizer `orphan`).
    Orphan,
}

/// DeleteOptions.
#[derive(Clone, Debug, Default)]
pub struct DeleteOptions {
    /// `propagationPolicy`; `None` = type default (background).
    pub propagation: Option<Propagation>,
    /// `preconditions.uid`.
    pub precondition_uid: Option<String>,
    /// `preconditions.resourceVersion`.
    pub precondition_resource_version: Option<String>,
    /// `gracePeriodSeconds`.
    pub grace_period_seconds: Option<i64>,
    /// `dryRun=All`.
    pub dry_run: bool,
    /// Legacy `orphanDependents` (a DELETE with `false` answers 202 while finalizers hold the object).
    pub orphan_dependents: Option<bool>,
}

/// Result of a DELETE.
#[derive(Clone, Debug, PartialEq)]
pub enum DeleteOutcome {
    /// Removed from storage now (watchers saw DELETED). Holds the last state.
    Deleted(Value),
    /// Still present with `deletionTimestamp` (finalizers or grace). Holds the updated object.
    Terminating(Value),
}

/// A watch event.
#[derive(Clone, Debug, PartialEq)]
pub enum WatchEventType {
    /// ADDED.
    Added,
    /// MODIFIED.
    Modified,
    /// DELETED.
    Deleted,
}

/// One change in the store, as watchers see it.
#[derive(Clone, Debug)]
pub struct WatchEvent {
    /// The event type.
    pub kind: WatchEventType,
    /// The object's type.
    pub gvk: Gvk,
    /// The object (last state for DELETED), with its resourceVersion.
    pub object: Value,
    /// The global resourceVersion of this change.
    pub resource_version: u64,
    /// The previous state for MODIFIED (watch selectors compare old and new).
    pub old_object: Option<Value>,
}

/// An API error, carried as a Kubernetes `Status`.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code (404, 409, 410, 422, 403, 500, 429, ...).
    pub code: u16,
    /// `reason`, for example `NotFound`.
    pub reason: String,
    /// `message`.
    pub message: String,
    /// The full Status body.
    pub status: Value,
}

/// The calls the simulator's in-process controllers (and tests) make.
///
/// All methods are synchronous and cheap: the store is in memory.
pub trait Api: Send + Sync {
    /// GET one object.
    fn get(
        &self,
        actor: &Actor,
        gvk: &Gvk,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError>;
    /// LIST objects of a type (all namespaces when `namespace` is `None`).
    fn list(
        &self,
        actor: &Actor,
        gvk: &Gvk,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Vec<Value>, ApiError>;
    /// POST. `generateName` is honoured.
    fn create(&self, actor: &Actor, object: Value) -> Result<Value, ApiError>;
    /// PUT (409 on stale resourceVersion).
    fn update(&self, actor: &Actor, object: Value) -> Result<Value, ApiError>;
    /// PATCH.
    fn patch(
        &self,
        actor: &Actor,
        gvk: &Gvk,
        namespace: Option<&str>,
        name: &str,
        patch: Patch,
    ) -> Result<Value, ApiError>;
    /// PUT to the `status` subresource.
    fn update_status(&self, actor: &Actor, object: Value) -> Result<Value, ApiError>;
    /// DELETE.
    fn delete(
        &self,
        actor: &Actor,
        gvk: &Gvk,
        namespace: Option<&str>,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<DeleteOutcome, ApiError>;
    /// Every change from now on, all types and namespaces (an informer's feed).
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<WatchEvent>;
}
