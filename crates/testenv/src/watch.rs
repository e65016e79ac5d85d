//! [`ApiWatch`]: what an API server's watch says happened to a namespace's
//! objects, recorded by the test itself (not by the tool under test), on any
//! target reached through a kubeconfig: kube-sim over HTTP or a real
//! kube-apiserver over TLS.
//!
//! Every kind is listed first and watched from the list's resourceVersion,
//! so nothing that happens after [`ApiWatch::start`] returns is missed. The
//! events of different kinds come on different streams; they are put in one
//! order by their resourceVersion, which both servers take from one counter
//! for the whole store (etcd's revision on a real server; the order of a
//! DELETED event is the revision of the delete). Kubernetes documents
//! resourceVersions as opaque to clients; the tests compare them only to
//! order what one server did, which is what that counter is.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;

/// A kind to watch: `apiVersion`, `kind` and its resource (plural) name.
#[derive(Clone, Copy, Debug)]
pub struct Watched {
    /// `v1`, `rbac.authorization.k8s.io/v1`, ...
    pub api_version: &'static str,
    /// `Secret`, `AutoscalingRunnerSet`, ...
    pub kind: &'static str,
    /// `secrets`, `autoscalingrunnersets`, ...
    pub plural: &'static str,
}

/// The kinds of the example runner-set chart (`examples/charts/arc-runner-set`):
/// the AutoscalingRunnerSet and its dependents.
pub const RUNNER_SET_KINDS: [Watched; 5] = [
    Watched {
        api_version: "actions.github.com/v1alpha1",
        kind: "AutoscalingRunnerSet",
        plural: "autoscalingrunnersets",
    },
    Watched {
        api_version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
    },
    Watched {
        api_version: "v1",
        kind: "Secret",
        plural: "secrets",
    },
    Watched {
        api_version: "rbac.authorization.k8s.io/v1",
        kind: "Role",
        plural: "roles",
    },
    Watched {
        api_version: "rbac.authorization.k8s.io/v1",
        kind: "RoleBinding",
        plural: "rolebindings",
    },
];

/// Jobs, for hook tests.
pub const JOBS: Watched = Watched {
    api_version: "batch/v1",
    kind: "Job",
    plural: "jobs",
};

/// The type of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// ADDED
    Added,
    /// MODIFIED
    Modified,
    /// DELETED: the object left storage.
    Deleted,
}

/// One watch event: an object as the server sent it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The object's resourceVersion in the event (its place in the server's order).
    pub rv: u64,
    /// The type of the event.
    pub change: Change,
    /// The object's kind.
    pub kind: String,
    /// The object's name.
    pub name: String,
    /// Whether it carries a deletionTimestamp.
    pub deleting: bool,
    /// Its finalizers.
    pub finalizers: Vec<String>,
    /// The object, as sent.
    pub object: serde_json::Value,
}

impl Seen {
    /// Whether this is `kind/name`.
    pub fn is(&self, kind: &str, name: &str) -> bool {
        self.kind == kind && self.name == name
    }

    /// Whether the object was being deleted or gone in this event.
    pub fn going(&self) -> bool {
        self.deleting || self.change == Change::Deleted
    }
}

impl std::fmt::Display for Seen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {:?} {}/{}{} finalizers={:?}",
            self.rv,
            self.change,
            self.kind,
            self.name,
            if self.deleting { " deleting" } else { "" },
            self.finalizers
        )
    }
}

#[derive(Default)]
struct Record {
    seen: Vec<Seen>,
    errors: Vec<String>,
}

/// A running watch of some kinds in one namespace; stops when dropped.
pub struct ApiWatch {
    record: Arc<Mutex<Record>>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl ApiWatch {
    /// Lists `kinds` in `namespace` through `kubeconfig` (its current
    /// context) and watches them from there on. Panics if a list fails.
    pub fn start(kubeconfig: &Path, namespace: &str, kinds: &[Watched]) -> ApiWatch {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("start the watch runtime");
        let record = Arc::new(Mutex::new(Record::default()));
        let config = Kubeconfig::read_from(kubeconfig).expect("read the kubeconfig");
        let client = runtime.block_on(async {
            let config =
                kube::Config::from_custom_kubeconfig(config, &KubeConfigOptions::default())
                    .await
                    .expect("a client config from the kubeconfig");
            kube::Client::try_from(config).expect("a client")
        });
        for watched in kinds {
            let (group, version) = watched
                .api_version
                .rsplit_once('/')
                .unwrap_or(("", watched.api_version));
            let resource = ApiResource::from_gvk_with_plural(
                &GroupVersionKind::gvk(group, version, watched.kind),
                watched.plural,
            );
            let api: Api<DynamicObject> =
                Api::namespaced_with(client.clone(), namespace, &resource);
            let from = runtime
                .block_on(api.list(&ListParams::default()))
                .unwrap_or_else(|e| panic!("list {}: {e}", watched.plural))
                .metadata
                .resource_version
                .unwrap_or_default();
            runtime.spawn(follow(api, watched.kind, from, record.clone()));
        }
        ApiWatch {
            record,
            runtime: Some(runtime),
        }
    }

    /// Every event so far, in the server's order (resourceVersion).
    pub fn seen(&self) -> Vec<Seen> {
        let record = self.record.lock().unwrap_or_else(|p| p.into_inner());
        assert!(
            record.errors.is_empty(),
            "the watch failed: {:?}",
            record.errors
        );
        let mut seen = record.seen.clone();
        seen.sort_by_key(|s| s.rv);
        seen
    }

    /// The resourceVersion at which `kind/name` started to go (its first
    /// event with a deletionTimestamp, or its DELETED event).
    pub fn going_at(&self, kind: &str, name: &str) -> Option<u64> {
        self.seen()
            .into_iter()
            .find(|s| s.is(kind, name) && s.going())
            .map(|s| s.rv)
    }

    /// The resourceVersion at which `kind/name` left storage.
    pub fn gone_at(&self, kind: &str, name: &str) -> Option<u64> {
        self.seen()
            .into_iter()
            .find(|s| s.is(kind, name) && s.change == Change::Deleted)
            .map(|s| s.rv)
    }

    /// Waits (polling every 50 ms) until `done` holds for the events so far;
    /// panics with them after `limit`.
    pub fn wait_until(&self, what: &str, limit: Duration, done: impl Fn(&[Seen]) -> bool) {
        let start = Instant::now();
        loop {
            let seen = self.seen();
            if done(&seen) {
                return;
            }
            assert!(
                start.elapsed() < limit,
                "timed out after {limit:?} waiting until {what}; the watch saw:\n{}",
                dump(&seen)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ApiWatch {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The events one per line, for an assertion message.
pub fn dump(seen: &[Seen]) -> String {
    seen.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Watches `api` from `from` for as long as the runtime lives, re-watching
/// from the last resourceVersion seen when the server ends a watch.
async fn follow(api: Api<DynamicObject>, kind: &str, from: String, record: Arc<Mutex<Record>>) {
    let mut rv = from;
    loop {
        let params = WatchParams::default().timeout(290);
        let stream = match api.watch(&params, &rv).await {
            Ok(stream) => stream,
            Err(e) => {
                fail(&record, format!("watch {kind} from {rv}: {e}"));
                return;
            }
        };
        let mut stream = stream.boxed();
        loop {
            match stream.try_next().await {
                Ok(Some(event)) => {
                    let (change, object) = match event {
                        WatchEvent::Added(o) => (Change::Added, o),
                        WatchEvent::Modified(o) => (Change::Modified, o),
                        WatchEvent::Deleted(o) => (Change::Deleted, o),
                        WatchEvent::Bookmark(b) => {
                            rv = b.metadata.resource_version;
                            continue;
                        }
                        WatchEvent::Error(e) => {
                            fail(&record, format!("watch {kind}: {e:?}"));
                            return;
                        }
                    };
                    let object_rv = object.metadata.resource_version.clone().unwrap_or_default();
                    let seen = Seen {
                        rv: object_rv.parse().unwrap_or(0),
                        change,
                        kind: kind.to_string(),
                        name: object.metadata.name.clone().unwrap_or_default(),
                        deleting: object.metadata.deletion_timestamp.is_some(),
                        finalizers: object.metadata.finalizers.clone().unwrap_or_default(),
                        object: serde_json::to_value(&object).unwrap_or_default(),
                    };
                    rv = object_rv;
                    record
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .seen
                        .push(seen);
                }
                Ok(None) => break,
                Err(e) => {
                    fail(&record, format!("watch {kind}: {e}"));
                    return;
                }
            }
        }
    }
}

fn fail(record: &Mutex<Record>, message: String) {
    record
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .errors
        .push(message);
}
