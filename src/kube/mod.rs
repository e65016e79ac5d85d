//! The Kubernetes edge: a thin kube-rs client with dynamic types resolved by
//! discovery, DELETE with a UID precondition, JSON patches, and watches.
//!
//! The client is built from the connection Helm would use
//! ([`connection::resolve`] over the kubeconfig files and the in-cluster
//! environment read here, see [`resolve_connection`]).
//!
//! Every object read here becomes a [`Live`], which has Secret payloads
//! removed before anything else sees it. Calls that fail with a transient
//! error (5xx, 429, connection reset) are retried with backoff.

pub mod connection;
pub mod proxy;

use crate::model::{Live, ObjectId};
use connection::{ConnectionError, InCluster, Inputs, Spec, Target};
use futures::{Stream, StreamExt, stream::BoxStream};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch,
    PatchParams, Preconditions, PropagationPolicy,
};
use kube::config::{ExecAuthCluster, Kubeconfig};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Config};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Errors of the Kubernetes edge.
#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// The kubeconfig could not be loaded.
    #[error("cannot load kubeconfig: {0}")]
    Config(String),
    /// The API server does not serve this kind.
    #[error("the API server does not serve {0} (is its CRD installed?)")]
    UnknownKind(String),
    /// No answer within the request's deadline.
    #[error("{what}: no answer from the API server within {}", crate::duration::format_duration(*after))]
    NoAnswer {
        /// What was being done.
        what: String,
        /// The deadline.
        after: Duration,
    },
    /// The API server refused the request (403): the user lacks a permission.
    #[error("{what}: {0}", what = .0.what)]
    Forbidden(Box<Forbidden>),
    /// Any other API failure.
    #[error("{what}: {}", describe_error(error))]
    Api {
        /// What was being done.
        what: String,
        /// The kube-rs error.
        error: kube::Error,
    },
}

/// A request the API server refused with 403: which verb on which resource
/// where, so the message names the permission to grant.
#[derive(Debug, thiserror::Error)]
#[error(
    "missing permission: cannot {verb} {resource} {}{} (API server: {message}); README \"Permissions\" lists what each command needs",
    scope_text(namespace.as_deref()),
    if *cluster_wide_too { " (nor in every namespace)" } else { "" }
)]
pub struct Forbidden {
    /// What was being done (`listing Deployment`).
    pub what: String,
    /// The RBAC verb: `get`, `list`, `watch`, `delete`, `patch`.
    pub verb: &'static str,
    /// The RBAC resource, `plural.group` (`deployments.apps`; core: `secrets`).
    pub resource: String,
    /// The namespace asked for; `None`: every namespace, or cluster-scoped.
    pub namespace: Option<String>,
    /// A narrowed list ([`Cluster::list_wide`]) was refused in every namespace too.
    pub cluster_wide_too: bool,
    /// The API server's message (it names the user).
    pub message: String,
}

fn scope_text(namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("in namespace {ns}"),
        None => "in every namespace (cluster-wide)".to_string(),
    }
}

/// `plural.group` (`plural` for the core group): a resource as RBAC names it.
pub fn rbac_resource(resource: &ApiResource) -> String {
    if resource.group.is_empty() {
        resource.plural.clone()
    } else {
        format!("{}.{}", resource.plural, resource.group)
    }
}

/// The result of [`Cluster::list_wide`].
#[derive(Debug, Default)]
pub struct WideList {
    /// The objects found.
    pub items: Vec<Live>,
    /// `None`: listed in every namespace; else only in these (listing in
    /// every namespace was forbidden).
    pub only_in: Option<Vec<String>>,
}

/// `propagationPolicy` for DELETE, as `--cascade` spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Cascade {
    /// Owner first, dependents afterwards (Helm's default).
    #[default]
    Background,
    /// Owner waits for its blocking dependents.
    Foreground,
    /// Dependents are left behind.
    Orphan,
}

impl Cascade {
    /// The `--cascade` word.
    pub fn name(self) -> &'static str {
        match self {
            Cascade::Background => "background",
            Cascade::Foreground => "foreground",
            Cascade::Orphan => "orphan",
        }
    }

    fn policy(self) -> PropagationPolicy {
        match self {
            Cascade::Background => PropagationPolicy::Background,
            Cascade::Foreground => PropagationPolicy::Foreground,
            Cascade::Orphan => PropagationPolicy::Orphan,
        }
    }
}

/// Result of a DELETE.
#[derive(Debug)]
pub enum Deleted {
    /// The object is gone.
    Gone,
    /// The object is still there with `deletionTimestamp` (finalizers).
    Terminating(Live),
    /// It was already gone.
    NotFound,
    /// The UID precondition failed: the name now belongs to another object.
    UidMismatch,
    /// The resourceVersion precondition of [`Cluster::delete_at`] failed:
    /// the object was written since it was read.
    Changed,
}

/// Result of a JSON patch.
#[derive(Debug)]
pub enum Patched {
    /// Applied; the object as returned (it may now be deleted, the response still shows it).
    Applied(Live),
    /// A `test` op failed or the object changed: read it again.
    Conflict,
    /// The object is gone.
    NotFound,
}

/// One step of a watch, with the initial list folded into `Restart`.
#[derive(Debug)]
pub enum WatchItem {
    /// The watch (re)started: these are all objects that match now.
    Restart(Vec<Live>),
    /// An object was added or modified.
    Apply(Live),
    /// An object was deleted.
    Delete(Live),
    /// The API server refused the list or watch (401, 403 or 404): retrying
    /// cannot help, so it is not swallowed.
    Refused {
        /// `list` (the initial list) or `watch`.
        verb: &'static str,
        /// The RBAC resource (`plural.group`, see [`rbac_resource`]).
        resource: String,
        /// The status code.
        code: u16,
        /// The status reason and message.
        reason: String,
    },
}

/// group, version, kind.
type GvkKey = (String, String, String);

/// A kube-rs client with a discovery cache.
pub struct Cluster {
    client: Client,
    target: Target,
    default_namespace: String,
    resources: Mutex<HashMap<GvkKey, (ApiResource, bool)>>,
    requests: Arc<AtomicU64>,
    request_timeout: Duration,
}

impl Cluster {
    /// A client for the resolved connection `spec` (see [`resolve_connection`]).
    pub async fn connect(spec: &Spec) -> Result<Self, KubeError> {
        Self::from_config(kube_config(spec)?, spec.target())
    }

    /// A client for an explicit configuration (the `demo` passes its
    /// embedded simulator's kubeconfig), acting as `target` says.
    pub fn from_config(config: Config, target: Target) -> Result<Self, KubeError> {
        let mut config = config;
        config.headers.push((
            http::header::USER_AGENT,
            http::HeaderValue::from_static(concat!(
                "helm-arc-uninstall/",
                env!("CARGO_PKG_VERSION")
            )),
        ));
        // One retry policy, ours ([`Cluster::call`]): kube's own would retry
        // 429/5xx up to 15 times inside each of our attempts.
        config.default_retry = false;
        let default_namespace = config.default_namespace.clone();
        let client = Client::try_from(config).map_err(|e| KubeError::Config(e.to_string()))?;
        Ok(Self {
            client,
            target,
            default_namespace,
            resources: Mutex::default(),
            requests: Arc::new(AtomicU64::new(0)),
            request_timeout: REQUEST_TIMEOUT,
        })
    }

    /// Give every API request (each attempt) this deadline.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Count requests in `counter` (shared with a caller that reports them
    /// even when the run is interrupted).
    pub fn count_requests_in(mut self, counter: Arc<AtomicU64>) -> Self {
        counter.fetch_add(self.requests.load(Ordering::Relaxed), Ordering::Relaxed);
        self.requests = counter;
        self
    }

    /// The API server, context and user this client acts on and as.
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The kubeconfig context's namespace.
    pub fn default_namespace(&self) -> &str {
        &self.default_namespace
    }

    /// Number of non-watch API calls made so far (retries included).
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Resolve a kind to its REST resource via discovery (cached per kind).
    pub async fn resource(
        &self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> Result<(ApiResource, bool), KubeError> {
        let key = (group.to_string(), version.to_string(), kind.to_string());
        if let Some(found) = self
            .resources
            .lock()
            .ok()
            .and_then(|m| m.get(&key).cloned())
        {
            return Ok(found);
        }
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, caps) = self
            .call(|| kube::discovery::pinned_kind(&self.client, &gvk))
            .await
            .map_err(|e| match e {
                CallError::Api(kube::Error::Api(ref s)) if s.code == 404 => {
                    KubeError::UnknownKind(format_gvk(group, version, kind))
                }
                CallError::Api(kube::Error::Discovery(_)) => {
                    KubeError::UnknownKind(format_gvk(group, version, kind))
                }
                e => e.into_kube(format!("discovering {}", format_gvk(group, version, kind))),
            })?;
        let namespaced = caps.scope == kube::discovery::Scope::Namespaced;
        if let Ok(mut map) = self.resources.lock() {
            map.insert(key, (resource.clone(), namespaced));
        }
        Ok((resource, namespaced))
    }

    async fn api(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Result<Api<DynamicObject>, KubeError> {
        let (resource, namespaced) = self.resource(group, version, kind).await?;
        Ok(match (namespaced, namespace) {
            (true, Some(ns)) => Api::namespaced_with(self.client.clone(), ns, &resource),
            _ => Api::all_with(self.client.clone(), &resource),
        })
    }

    /// GET one object; `None` when it does not exist.
    pub async fn get(&self, id: &ObjectId) -> Result<Option<Live>, KubeError> {
        let api = self
            .api(&id.group, &id.version, &id.kind, id.namespace.as_deref())
            .await?;
        let result = self.call(|| api.get_opt(&id.name)).await.map_err(|e| {
            self.refused(
                e,
                format!("reading {id}"),
                "get",
                id,
                id.namespace.as_deref(),
            )
        })?;
        Ok(result.map(|o| to_live(&id.group, &id.version, &id.kind, o)))
    }

    /// LIST objects of a kind (all namespaces when `namespace` is `None`).
    pub async fn list(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        namespace: Option<&str>,
        label_selector: Option<&str>,
    ) -> Result<Vec<Live>, KubeError> {
        let api = self.api(group, version, kind, namespace).await?;
        let mut params = ListParams::default();
        if let Some(sel) = label_selector {
            params = params.labels(sel);
        }
        let list = self.call(|| api.list(&params)).await.map_err(|e| {
            let id = ObjectId {
                group: group.to_string(),
                version: version.to_string(),
                kind: kind.to_string(),
                namespace: None,
                name: String::new(),
            };
            self.refused(e, format!("listing {kind}"), "list", &id, namespace)
        })?;
        Ok(list
            .items
            .into_iter()
            .map(|o| to_live(group, version, kind, o))
            .collect())
    }

    /// DELETE `id` if it still has `uid`.
    pub async fn delete(
        &self,
        id: &ObjectId,
        uid: &str,
        cascade: Cascade,
    ) -> Result<Deleted, KubeError> {
        self.delete_at(id, uid, None, cascade).await
    }

    /// DELETE with a UID precondition and, when `resource_version` is given,
    /// a resourceVersion precondition too: it takes effect only on the object
    /// as it was read (else [`Deleted::Changed`]).
    pub async fn delete_at(
        &self,
        id: &ObjectId,
        uid: &str,
        resource_version: Option<&str>,
        cascade: Cascade,
    ) -> Result<Deleted, KubeError> {
        let api = self
            .api(&id.group, &id.version, &id.kind, id.namespace.as_deref())
            .await?;
        let params = DeleteParams {
            propagation_policy: Some(cascade.policy()),
            preconditions: Some(Preconditions {
                uid: Some(uid.to_string()),
                resource_version: resource_version.map(str::to_string),
            }),
            ..DeleteParams::default()
        };
        let result = self.call(|| api.delete(&id.name, &params)).await;
        match result {
            Ok(either::Either::Left(obj)) => {
                let live = to_live(&id.group, &id.version, &id.kind, obj);
                Ok(if live.is_terminating() {
                    Deleted::Terminating(live)
                } else {
                    Deleted::Gone
                })
            }
            Ok(either::Either::Right(_status)) => Ok(Deleted::Gone),
            Err(CallError::Api(kube::Error::Api(s))) if s.code == 404 => Ok(Deleted::NotFound),
            // The server names the precondition that failed.
            Err(CallError::Api(kube::Error::Api(s)))
                if s.code == 409
                    && s.message
                        .contains("the ResourceVersion in the precondition") =>
            {
                Ok(Deleted::Changed)
            }
            Err(CallError::Api(kube::Error::Api(s))) if s.code == 409 => Ok(Deleted::UidMismatch),
            Err(e) => Err(self.refused(
                e,
                format!("deleting {id}"),
                "delete",
                id,
                id.namespace.as_deref(),
            )),
        }
    }

    /// Apply an RFC 6902 JSON patch (`ops` is the JSON array).
    pub async fn json_patch(
        &self,
        id: &ObjectId,
        ops: &serde_json::Value,
    ) -> Result<Patched, KubeError> {
        let api = self
            .api(&id.group, &id.version, &id.kind, id.namespace.as_deref())
            .await?;
        let patch: json_patch::Patch =
            serde_json::from_value(ops.clone()).map_err(|e| KubeError::Api {
                what: format!("building a patch for {id}"),
                error: kube::Error::SerdeError(e),
            })?;
        let patch = Patch::<()>::Json(patch);
        let params = PatchParams::default();
        let result = self.call(|| api.patch(&id.name, &params, &patch)).await;
        match result {
            Ok(obj) => Ok(Patched::Applied(to_live(
                &id.group,
                &id.version,
                &id.kind,
                obj,
            ))),
            Err(CallError::Api(kube::Error::Api(s))) if s.code == 404 => Ok(Patched::NotFound),
            Err(CallError::Api(kube::Error::Api(s))) if s.code == 409 || s.code == 422 => {
                Ok(Patched::Conflict)
            }
            Err(e) => Err(self.refused(
                e,
                format!("patching {id}"),
                "patch",
                id,
                id.namespace.as_deref(),
            )),
        }
    }

    /// LIST a kind in every namespace; when that is forbidden and
    /// `fallback` names namespaces, LIST in each of those instead (a user
    /// whose rights are Roles in the namespaces that matter). The result
    /// says which it was; a refusal in a fallback namespace is an error.
    pub async fn list_wide(
        &self,
        (group, version, kind): (&str, &str, &str),
        label_selector: Option<&str>,
        fallback: &[String],
    ) -> Result<WideList, KubeError> {
        match self.list(group, version, kind, None, label_selector).await {
            Ok(items) => Ok(WideList {
                items,
                only_in: None,
            }),
            Err(KubeError::Forbidden(_)) if !fallback.is_empty() => {
                let mut namespaces: Vec<String> = fallback.to_vec();
                namespaces.sort();
                namespaces.dedup();
                let mut items = Vec::new();
                for ns in &namespaces {
                    match self
                        .list(group, version, kind, Some(ns), label_selector)
                        .await
                    {
                        Ok(found) => items.extend(found),
                        Err(KubeError::Forbidden(mut refused)) => {
                            refused.cluster_wide_too = true;
                            return Err(KubeError::Forbidden(refused));
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(WideList {
                    items,
                    only_in: Some(namespaces),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// A failed call as a [`KubeError`]: a 403 becomes [`KubeError::Forbidden`]
    /// naming `verb` on the resource of `id`'s kind in `namespace`.
    fn refused(
        &self,
        error: CallError,
        what: String,
        verb: &'static str,
        id: &ObjectId,
        namespace: Option<&str>,
    ) -> KubeError {
        match error {
            CallError::Api(kube::Error::Api(status)) if status.code == 403 => {
                let key = (id.group.clone(), id.version.clone(), id.kind.clone());
                let resource = self
                    .resources
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&key).map(|(r, _)| rbac_resource(r)))
                    .unwrap_or_else(|| id.kind.to_lowercase());
                KubeError::Forbidden(Box::new(Forbidden {
                    what,
                    verb,
                    resource,
                    namespace: namespace.map(str::to_string),
                    cluster_wide_too: false,
                    message: status.message.clone(),
                }))
            }
            other => other.into_kube(what),
        }
    }

    /// Watch a kind in a namespace (or everywhere), optionally one object by name.
    /// Reconnects with backoff on errors and dropped streams; a relist after
    /// `410 Expired` comes out as [`WatchItem::Restart`].
    pub async fn watch(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> Result<BoxStream<'static, WatchItem>, KubeError> {
        let api = self.api(group, version, kind, namespace).await?;
        let mut config = watcher::Config::default();
        if let Some(name) = name {
            config = config.fields(&format!("metadata.name={name}"));
        }
        let resource = self
            .resource(group, version, kind)
            .await
            .map(|(r, _)| rbac_resource(&r))?;
        let (group, version, kind) = (group.to_string(), version.to_string(), kind.to_string());
        let events = watcher(api, config).default_backoff();
        Ok(fold_init(events, resource, move |o| {
            to_live(&group, &version, &kind, o)
        })
        .boxed())
    }

    /// Make one API call with a deadline per attempt, retrying transient
    /// failures (5xx, 429, transport) with jittered exponential backoff that
    /// honours the server's Retry-After, at most [`MAX_ATTEMPTS`] times.
    async fn call<T, F, Fut>(&self, mut call: F) -> Result<T, CallError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, kube::Error>>,
    {
        let mut rng = fastrand::Rng::new();
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.requests.fetch_add(1, Ordering::Relaxed);
            let result = tokio::time::timeout(self.request_timeout, call())
                .await
                .map_err(|_| CallError::NoAnswer(self.request_timeout))?;
            match result {
                Err(e) if attempt < MAX_ATTEMPTS && is_transient(&e) => {
                    let delay = retry_delay(attempt, retry_after(&e), &mut rng);
                    tracing::debug!("transient API error, retrying in {delay:?}: {e}");
                    tokio::time::sleep(delay).await;
                }
                other => return other.map_err(CallError::Api),
            }
        }
    }
}

/// Why a call failed.
#[derive(Debug)]
enum CallError {
    /// The API server's (or the transport's) error.
    Api(kube::Error),
    /// No answer within the per-request deadline.
    NoAnswer(Duration),
}

impl CallError {
    fn into_kube(self, what: String) -> KubeError {
        match self {
            CallError::Api(error) => KubeError::Api { what, error },
            CallError::NoAnswer(after) => KubeError::NoAnswer { what, after },
        }
    }
}

/// The kube-rs configuration of a resolved connection, built field by field
/// as kube-rs's own kubeconfig loader does, except for the proxy: that is
/// [`Spec::proxy`] (kube-rs would read `HTTPS_PROXY` for every server).
fn kube_config(spec: &Spec) -> Result<Config, KubeError> {
    let config_error =
        |what: &str, e: &dyn std::fmt::Display| KubeError::Config(format!("{what}: {e}"));
    let cluster = &spec.cluster;
    let url = spec
        .server
        .parse::<http::Uri>()
        .map_err(|e| config_error("server URL", &e))?;
    let mut config = Config::new(url);
    config.default_namespace = spec
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_string());
    config.root_cert = certificate_authority(cluster)?;
    config.accept_invalid_certs = cluster.insecure_skip_tls_verify.unwrap_or(false);
    config.disable_compression = cluster.disable_compression.unwrap_or(false);
    config.tls_server_name = cluster.tls_server_name.clone();
    config.proxy_url = match &spec.proxy {
        Some(url) => Some(
            url.parse::<http::Uri>()
                .map_err(|e| config_error(&format!("proxy URL {}", proxy::redact(url)), &e))?,
        ),
        None => None,
    };
    let mut auth = spec.auth.clone();
    if let Some(exec) = auth.exec.as_mut()
        && exec.provide_cluster_info
    {
        exec.cluster = Some(
            ExecAuthCluster::try_from(cluster)
                .map_err(|e| config_error("cluster info for the exec credential plugin", &e))?,
        );
    }
    config.auth_info = auth;
    Ok(config)
}

/// The cluster's CA certificates (DER), from `certificate-authority-data`
/// (base64 PEM), else the `certificate-authority` file; `None` for neither.
fn certificate_authority(
    cluster: &kube::config::Cluster,
) -> Result<Option<Vec<Vec<u8>>>, KubeError> {
    use base64::Engine;
    let pem_text = match (
        &cluster.certificate_authority_data,
        &cluster.certificate_authority,
    ) {
        (Some(data), _) => base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|e| {
                KubeError::Config(format!("certificate-authority-data is not base64: {e}"))
            })?,
        (None, Some(file)) => std::fs::read(file)
            .map_err(|e| KubeError::Config(format!("cannot read the CA file {file}: {e}")))?,
        (None, None) => return Ok(None),
    };
    let certs: Vec<Vec<u8>> = pem::parse_many(&pem_text)
        .map_err(|e| KubeError::Config(format!("the cluster's CA is not PEM: {e}")))?
        .into_iter()
        .filter(|p| p.tag() == "CERTIFICATE")
        .map(pem::Pem::into_contents)
        .collect();
    if certs.is_empty() {
        return Err(KubeError::Config(
            "the cluster's CA holds no PEM CERTIFICATE".to_string(),
        ));
    }
    Ok(Some(certs))
}

/// Resolve the connection Helm would use from `inputs`: read the kubeconfig
/// files, the in-cluster environment and the proxy variables, check the files
/// the inputs name, and apply [`connection::resolve`] and [`proxy::proxy_for`].
pub fn resolve_connection(inputs: &Inputs) -> Result<Spec, ConnectionError> {
    let inputs = inputs.normalized();
    let kubeconfig = read_kubeconfig(inputs.kubeconfig.as_deref())?;
    if let Some(ca) = &inputs.ca_file
        && let Err(e) = std::fs::File::open(ca)
    {
        return Err(ConnectionError::Input {
            var: connection::HELM_KUBECAFILE,
            problem: format!("cannot read {ca}: {e}"),
        });
    }
    let mut spec = connection::resolve(&inputs, &kubeconfig, in_cluster().as_ref())?;
    let kubeconfig_proxy = spec.cluster.proxy_url.as_deref();
    spec.proxy = proxy::proxy_for(&spec.server, kubeconfig_proxy, &proxy::ProxyEnv::from_env())
        .map_err(|problem| ConnectionError::Input {
            var: match kubeconfig_proxy.map(str::trim) {
                Some(url) if !url.is_empty() => connection::KUBECONFIG,
                _ if spec.server.starts_with("https://") => "HTTPS_PROXY",
                _ => "HTTP_PROXY",
            },
            problem,
        })?;
    Ok(spec)
}

/// The kubeconfig files of `KUBECONFIG` (a path list; as in client-go, files
/// of a list that do not exist are skipped, a single one must exist), else
/// `~/.kube/config` when it exists, merged (first one wins); empty when none.
pub fn read_kubeconfig(var: Option<&str>) -> Result<Kubeconfig, ConnectionError> {
    let paths: Vec<std::path::PathBuf> = match var.filter(|v| !v.is_empty()) {
        Some(list) => std::env::split_paths(list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect(),
        None => std::env::var_os("HOME")
            .map(|h| std::path::PathBuf::from(h).join(".kube").join("config"))
            .into_iter()
            .collect(),
    };
    if var.is_some()
        && let [single] = paths.as_slice()
        && !single.exists()
    {
        return Err(ConnectionError::Kubeconfig {
            path: single.display().to_string(),
            problem: "no such file".into(),
        });
    }
    let mut merged = Kubeconfig::default();
    for path in paths.iter().filter(|p| p.exists()) {
        let file = Kubeconfig::read_from(path).map_err(|e| ConnectionError::Kubeconfig {
            path: path.display().to_string(),
            problem: e.to_string(),
        })?;
        merged = merged
            .merge(file)
            .map_err(|e| ConnectionError::Kubeconfig {
                path: path.display().to_string(),
                problem: e.to_string(),
            })?;
    }
    Ok(merged)
}

/// The in-cluster service account, when this runs in a pod (client-go's
/// `rest.InClusterConfig` conditions: the service environment and the token file).
pub fn in_cluster() -> Option<InCluster> {
    const DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
    let host = std::env::var("KUBERNETES_SERVICE_HOST").ok()?;
    let port = std::env::var("KUBERNETES_SERVICE_PORT").ok()?;
    let token_file = format!("{DIR}/token");
    if host.is_empty() || port.is_empty() || !std::path::Path::new(&token_file).exists() {
        return None;
    }
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    Some(InCluster {
        server: format!("https://{host}:{port}"),
        ca_file: format!("{DIR}/ca.crt"),
        token_file,
        namespace: std::fs::read_to_string(format!("{DIR}/namespace"))
            .ok()
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty()),
    })
}

fn fold_init(
    events: impl Stream<Item = Result<watcher::Event<DynamicObject>, watcher::Error>> + Send + 'static,
    resource: String,
    convert: impl Fn(DynamicObject) -> Live + Send + 'static,
) -> impl Stream<Item = WatchItem> + Send {
    let mut buffer: Option<Vec<Live>> = None;
    events.filter_map(move |event| {
        let item = match event {
            Ok(watcher::Event::Init) => {
                buffer = Some(Vec::new());
                None
            }
            Ok(watcher::Event::InitApply(o)) => {
                let live = convert(o);
                match buffer.as_mut() {
                    Some(b) => {
                        b.push(live);
                        None
                    }
                    None => Some(WatchItem::Apply(live)),
                }
            }
            Ok(watcher::Event::InitDone) => {
                Some(WatchItem::Restart(buffer.take().unwrap_or_default()))
            }
            Ok(watcher::Event::Apply(o)) => Some(WatchItem::Apply(convert(o))),
            Ok(watcher::Event::Delete(o)) => Some(WatchItem::Delete(convert(o))),
            Err(e) => match refusal(&e, &resource) {
                Some(refused) => Some(refused),
                None => {
                    tracing::debug!("watch error (reconnecting): {e}");
                    None
                }
            },
        };
        futures::future::ready(item)
    })
}

/// A watch error that retrying cannot cure: 401, 403 or 404 from the API server.
fn refusal(e: &watcher::Error, resource: &str) -> Option<WatchItem> {
    let (verb, status) = match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s)) => ("list", s.as_ref()),
        watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => ("watch", s.as_ref()),
        watcher::Error::WatchError(s) => ("watch", s.as_ref()),
        _ => return None,
    };
    matches!(status.code, 401 | 403 | 404).then(|| WatchItem::Refused {
        verb,
        resource: resource.to_string(),
        code: status.code,
        reason: format!("{}: {}", status.reason, status.message),
    })
}

fn to_live(group: &str, version: &str, kind: &str, obj: DynamicObject) -> Live {
    let id = ObjectId {
        group: group.to_string(),
        version: version.to_string(),
        kind: kind.to_string(),
        namespace: obj.metadata.namespace.clone(),
        name: obj.metadata.name.clone().unwrap_or_default(),
    };
    let value = serde_json::to_value(&obj).unwrap_or_default();
    Live::new(id, value)
}

fn format_gvk(group: &str, version: &str, kind: &str) -> String {
    if group.is_empty() {
        format!("{kind} ({version})")
    } else {
        format!("{kind} ({group}/{version})")
    }
}

/// One line for an API error: `403 Forbidden: <the server's message>` (kube's
/// own text appends the whole Status structure).
fn describe_error(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} {}: {}", s.code, s.reason, s.message),
        other => other.to_string(),
    }
}

/// Whether an error is worth retrying: 5xx, 429, or a transport failure.
fn is_transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(s) => s.code == 429 || s.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Attempts of one API call (the first and the retries).
pub const MAX_ATTEMPTS: u32 = 10;
/// The first retry's backoff, doubled per attempt up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(20);
/// The longest backoff between attempts (a Retry-After may ask for more).
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// Default deadline of one API request (see [`Cluster::with_request_timeout`]).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The server's Retry-After (the Status `details.retryAfterSeconds` it
/// sends with 429 and some 5xx answers).
fn retry_after(e: &kube::Error) -> Option<Duration> {
    match e {
        kube::Error::Api(s) => s
            .details
            .as_ref()
            .map(|d| d.retry_after_seconds)
            .filter(|&secs| secs > 0)
            .map(|secs| Duration::from_secs(secs.into())),
        _ => None,
    }
}

/// How long to wait before attempt `attempt + 1`: exponential backoff with
/// "equal jitter" (half fixed, half random, so clients that failed together
/// do not retry together), and never less than the server's Retry-After
/// (plus up to 10% jitter). Pure but for `rng`.
pub fn retry_delay(
    attempt: u32,
    retry_after: Option<Duration>,
    rng: &mut fastrand::Rng,
) -> Duration {
    let doubling = 1u32 << attempt.saturating_sub(1).min(16);
    let base = FIRST_BACKOFF.saturating_mul(doubling).min(MAX_BACKOFF);
    let jittered = base / 2 + base.mul_f64(rng.f64() / 2.0);
    match retry_after {
        Some(after) => jittered.max(after + after.mul_f64(rng.f64() / 10.0)),
        None => jittered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after() {
        let mut rng = fastrand::Rng::with_seed(7);
        for attempt in 1..=12 {
            let base = FIRST_BACKOFF
                .saturating_mul(1 << (attempt - 1))
                .min(MAX_BACKOFF);
            let d = retry_delay(attempt, None, &mut rng);
            assert!(d >= base / 2 && d <= base, "attempt {attempt}: {d:?}");
        }
        // Jitter: the same attempt does not always wait the same.
        let delays: std::collections::BTreeSet<Duration> =
            (0..20).map(|_| retry_delay(5, None, &mut rng)).collect();
        assert!(delays.len() > 10, "{delays:?}");
        // The server's Retry-After is a floor, with at most 10% on top.
        for _ in 0..20 {
            let d = retry_delay(1, Some(Duration::from_secs(2)), &mut rng);
            assert!(
                d >= Duration::from_secs(2) && d <= Duration::from_millis(2200),
                "{d:?}"
            );
        }
    }

    #[test]
    fn retry_after_comes_from_the_status_details() {
        // As the API server sends it.
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 429,
            "reason": "TooManyRequests", "message": "slow down",
            "details": {"retryAfterSeconds": 3}
        }))
        .unwrap();
        let e = kube::Error::Api(status.boxed());
        assert!(is_transient(&e));
        assert_eq!(retry_after(&e), Some(Duration::from_secs(3)));
        let forbidden = kube::Error::Api(
            kube::core::Status::failure("no", "Forbidden")
                .with_code(403)
                .boxed(),
        );
        assert!(!is_transient(&forbidden));
        assert_eq!(retry_after(&forbidden), None);
    }
}
