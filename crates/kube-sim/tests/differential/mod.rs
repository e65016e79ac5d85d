//! The differential conformance suite: every case in [`cases`] is one
//! function over a [`Ctx`] that talks HTTP(S) to an API server, and each
//! test binary instantiates all of them on one target with
//! [`conformance_cases!`]:
//!
//! - `tests/conformance.rs`: kube-sim, a fresh simulator per test (plain HTTP),
//!   plus the tests of the simulator's own controls;
//! - `tests/conformance_local.rs`: the real control plane of
//!   `scripts/local-cluster` (kube-apiserver v1.35.4 and friends), one cluster
//!   for the binary, reached over TLS with the admin client certificate.
//!
//! Every case works in its own namespace ([`Ctx::ns`]) and gives cluster-scoped
//! objects names of its own ([`Ctx::unique`]), so cases share the real
//! cluster. Where the two servers differ, the case asserts what the real one
//! does and kube-sim follows it, or the difference is listed in
//! docs/design.md ("Differential conformance") and the case asserts only
//! what both do.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod cases;

use std::future::Future;
use std::process::Command;
use std::time::{Duration, Instant};

use kube_sim::{Sim, SimConfig};
use serde_json::{Value, json};
use tempfile::TempDir;
use testenv::{Helm, LocalCluster};

use crate::common::{Http, Resp};

/// The API server a binary's cases run against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// kube-sim, a fresh one per case.
    Sim,
    /// The real control plane, one per test binary ([`LocalCluster::shared`]).
    Local,
}

/// Instantiates every case of [`cases`] as a `#[test]` on one target:
/// `conformance_cases!(Sim)` or `conformance_cases!(Local)`. A case missing
/// from this list fails `every_case_is_instantiated` (in `conformance.rs`).
#[macro_export]
macro_rules! conformance_cases {
    ($target:ident) => {
        $crate::conformance_cases!(@each $target;
            create_sets_uid_timestamp_and_global_resource_version,
            create_existing_is_409_already_exists,
            create_in_missing_namespace_is_404,
            terminating_namespace_refuses_content_and_empties,
            update_with_stale_resource_version_is_409,
            update_of_custom_resource_without_resource_version_is_422,
            update_keeps_system_fields_and_bumps_generation_on_spec_change,
            not_found_status_bodies,
            delete_without_finalizers_returns_success_status_with_uid,
            delete_of_pod_and_service_account_returns_the_object,
            delete_with_finalizers_marks_terminating,
            delete_precondition_mismatch_is_409,
            delete_options_from_query_validation_and_dry_run,
            second_delete_recomputes_gc_finalizers,
            pod_graceful_deletion,
            gc_background_deletes_dependents,
            gc_foreground_waits_for_blocking_dependents,
            gc_orphan_keeps_dependents_without_the_reference,
            gc_dangling_references,
            gc_cluster_scoped_owner,
            removing_the_last_finalizer_deletes_the_object,
            no_new_finalizers_on_terminating_objects,
            orphan_and_foreground_finalizers_conflict,
            watch_initial_events_and_resume,
            watch_selector_transitions,
            watch_send_initial_events,
            watch_timeout_ends_the_stream,
            watch_all_namespaces_and_custom_resources,
            list_shape_and_selectors,
            list_pagination,
            list_bad_continue_token_is_400,
            delete_collection_with_selector,
            status_subresource_separates_spec_and_status,
            discovery_documents,
            aggregated_discovery_v2,
            openapi_v3_documents,
            crd_discovery_established_and_cleanup,
            patch_types,
            server_side_apply_create_update_conflict,
            protobuf_secret_create_and_update,
            scale_subresource_of_deployments_statefulsets_replicasets,
            scale_subresource_errors,
            kubectl_scale_deployment_to_zero,
        );
    };
    (@each $target:ident; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $crate::differential::run(
                    stringify!($case),
                    $crate::differential::Target::$target,
                    $crate::differential::cases::$case,
                );
            }
        )*

        /// The names of the cases instantiated here.
        #[allow(dead_code)]
        pub const CASES: &[&str] = &[$(stringify!($case)),*];
    };
}

/// Runs one case on `target` in a runtime of its own.
pub fn run<F, Fut>(name: &str, target: Target, case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()>,
{
    // Started (or found running) before the runtime: `up` blocks.
    let server = match target {
        Target::Sim => Server::Sim(Box::new(
            Sim::start(SimConfig {
                gc_delay: Duration::from_millis(20),
                ..SimConfig::default()
            })
            .unwrap(),
        )),
        Target::Local => Server::Local(LocalCluster::shared()),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let ctx = Ctx::new(name, server).await;
        case(ctx).await;
    });
}

enum Server {
    Sim(Box<Sim>),
    Local(&'static LocalCluster),
}

/// What a case works with: a client for the server, its own namespace, and
/// the few facts that differ by target (node name, timeouts, kubeconfig).
pub struct Ctx {
    /// The client (user agent `conformance/v0.1`).
    pub h: Http,
    /// This case's namespace (created, empty of the case's objects).
    pub ns: String,
    server: Server,
    /// kubeconfig and kubectl cache for [`Self::kubectl`].
    home: TempDir,
}

impl Ctx {
    async fn new(name: &str, server: Server) -> Ctx {
        let h = match &server {
            Server::Sim(sim) => Http::new(sim),
            Server::Local(cluster) => Http::to_endpoint(&cluster.endpoint()),
        };
        let home = tempfile::tempdir().unwrap();
        match &server {
            Server::Sim(sim) => sim
                .write_kubeconfig(&home.path().join("kubeconfig"))
                .unwrap(),
            Server::Local(cluster) => cluster.write_kubeconfig(&home.path().join("kubeconfig")),
        }
        let mut ns: String = name.replace('_', "-");
        ns.truncate(54);
        let ns = format!("{}-{}", ns.trim_end_matches('-'), short_hash(name));
        let ctx = Ctx {
            h,
            ns,
            server,
            home,
        };
        let r = ctx
            .h
            .post(
                "/api/v1/namespaces",
                &json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":ctx.ns}}),
            )
            .await;
        assert_eq!(r.code, 201, "create namespace {}: {:?}", ctx.ns, r.body);
        ctx
    }

    /// The target this case runs on.
    pub fn target(&self) -> Target {
        match self.server {
            Server::Sim(_) => Target::Sim,
            Server::Local(_) => Target::Local,
        }
    }

    /// The simulator, on the kube-sim target.
    pub fn sim(&self) -> Option<&Sim> {
        match &self.server {
            Server::Sim(sim) => Some(sim),
            Server::Local(_) => None,
        }
    }

    /// `/api/v1/namespaces/<ns>/configmaps`.
    pub fn cms(&self) -> String {
        self.path("/api/v1", "configmaps")
    }

    /// `<prefix>/namespaces/<ns>/<resource>`, e.g. `("/apis/apps/v1", "deployments")`.
    pub fn path(&self, prefix: &str, resource: &str) -> String {
        format!("{prefix}/namespaces/{}/{resource}", self.ns)
    }

    /// A name for a cluster-scoped object (or an API group) that no other
    /// case uses: `<base>-<hash of the case>`.
    pub fn unique(&self, base: &str) -> String {
        format!("{base}-{}", &self.ns[self.ns.len() - 8..])
    }

    /// A node pods can be bound to: the kwok node on the real cluster (kube-sim has no nodes).
    pub fn node(&self) -> String {
        match &self.server {
            Server::Sim(_) => "n1".to_string(),
            Server::Local(cluster) => cluster.node().to_string(),
        }
    }

    /// How long asynchronous work (GC, namespace deletion) may take here.
    pub fn patience(&self) -> Duration {
        match self.server {
            Server::Sim(_) => Duration::from_secs(5),
            Server::Local(_) => Duration::from_secs(90),
        }
    }

    /// Polls `f` every 20 ms until it is true; panics after [`Self::patience`].
    pub async fn eventually<F, Fut>(&self, what: &str, mut f: F)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let start = Instant::now();
        while !f().await {
            assert!(
                start.elapsed() < self.patience(),
                "{what}: not within {:?}",
                self.patience()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Creates a ConfigMap `name` (data `k: v`) in the case's namespace with
    /// these extra metadata fields and returns it.
    pub async fn cm(&self, name: &str, extra_meta: Value) -> Value {
        let mut meta = json!({"name": name});
        if let (Value::Object(m), Value::Object(e)) = (&mut meta, extra_meta) {
            m.extend(e);
        }
        let r = self
            .h
            .post(
                &self.cms(),
                &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":meta,"data":{"k":"v"}}),
            )
            .await;
        assert_eq!(r.code, 201, "{:?}", r.body);
        r.body
    }

    /// The ServiceAccount `default` of the namespace, which pods need on the
    /// real server (its controller creates it shortly after the namespace;
    /// kube-sim has no such controller and no admission that needs it).
    pub async fn default_service_account(&self) {
        let r = self
            .h
            .post(
                &self.path("/api/v1", "serviceaccounts"),
                &json!({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default"}}),
            )
            .await;
        assert!(matches!(r.code, 201 | 409), "{:?}", r.body);
    }

    /// The current resourceVersion (a LIST's), as a number.
    pub async fn list_rv(&self) -> u64 {
        let r = self.h.get(&self.cms()).await;
        r.body["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Creates a CRD for `Widget` (namespaced, status subresource) in a group
    /// of this case's own, waits until it is served and returns the
    /// namespaced collection path.
    pub async fn widgets(&self) -> Widgets {
        let group = format!("{}.example.com", self.unique("w"));
        let crd = json!({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
          "metadata":{"name":format!("widgets.{group}")},
          "spec":{"group":group,"scope":"Namespaced",
            "names":{"kind":"Widget","plural":"widgets","singular":"widget","shortNames":["wd"],"categories":["all"],"listKind":"WidgetList"},
            "versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},
              "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}});
        let r = self
            .h
            .post(
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
                &crd,
            )
            .await;
        assert_eq!(r.code, 201, "{:?}", r.body);
        let w = Widgets {
            crd: format!("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.{group}"),
            path: format!("/apis/{group}/v1/namespaces/{}/widgets", self.ns),
            all: format!("/apis/{group}/v1/widgets"),
            gv: format!("/apis/{group}/v1"),
            api_version: format!("{group}/v1"),
            group,
        };
        // Served: a LIST answers (the real server takes a moment).
        self.eventually("the CRD's resource is served", || async {
            self.h.get(&w.path).await.code == 200
        })
        .await;
        w
    }

    /// kubectl 1.35 (beside Helm 4) with this server's kubeconfig and the
    /// case's namespace.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(Helm::V4.kubectl());
        cmd.env_remove("KUBECONFIG")
            .arg("--kubeconfig")
            .arg(self.home.path().join("kubeconfig"))
            .arg("--namespace")
            .arg(&self.ns)
            .env("KUBECACHEDIR", self.home.path().join("kubecache"));
        cmd
    }

    /// Names of a LIST's items, without the `kube-root-ca.crt` ConfigMap
    /// that the real server's root-CA publisher puts into every namespace
    /// (kube-sim has none: see the differential table).
    pub fn names(&self, list: &Resp) -> Vec<String> {
        list.body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("not a list: {:?}", list.body))
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .filter(|n| n != "kube-root-ca.crt")
            .collect()
    }
}

/// A case's custom resource type (see [`Ctx::widgets`]).
pub struct Widgets {
    /// `<unique>.example.com`.
    pub group: String,
    /// `<group>/v1`.
    pub api_version: String,
    /// The CRD object's path.
    pub crd: String,
    /// The collection in the case's namespace.
    pub path: String,
    /// The collection across namespaces.
    pub all: String,
    /// `/apis/<group>/v1`.
    pub gv: String,
}

impl Widgets {
    /// A Widget named `name` with these metadata fields added.
    pub fn object(&self, name: &str, extra_meta: Value) -> Value {
        let mut meta = json!({"name": name});
        if let (Value::Object(m), Value::Object(e)) = (&mut meta, extra_meta) {
            m.extend(e);
        }
        json!({"apiVersion":self.api_version,"kind":"Widget","metadata":meta})
    }
}

/// A Deployment the real server accepts (selector, template, a container).
pub fn deployment(name: &str, replicas: u32) -> Value {
    workload("Deployment", name, replicas)
}

/// A Deployment, StatefulSet or ReplicaSet (`kind`) of `replicas` pods
/// labelled `app: <name>`.
pub fn workload(kind: &str, name: &str, replicas: u32) -> Value {
    let mut o = json!({"apiVersion":"apps/v1","kind":kind,"metadata":{"name":name},
        "spec":{"replicas":replicas,"selector":{"matchLabels":{"app":name}},
          "template":{"metadata":{"labels":{"app":name}},
            "spec":{"containers":[{"name":"c","image":"example.com/c:1"}]}}}});
    if kind == "StatefulSet" {
        o["spec"]["serviceName"] = json!(name);
    }
    o
}

/// The resourceVersion of an object, as a number.
pub fn rv(o: &Value) -> u64 {
    o["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_else(|| panic!("no resourceVersion: {o}"))
        .parse()
        .unwrap()
}

fn short_hash(s: &str) -> String {
    // FNV-1a: stable across runs and platforms.
    let mut h: u32 = 0x811c_9dc5;
    for b in s.bytes() {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    format!("{h:08x}")
}
