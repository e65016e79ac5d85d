//! `scripts/local-cluster` brings up a real Kubernetes v1.35.4 control plane
//! (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, a kwok fake
//! node), built from upstream Go modules by `scripts/build-go-tools`, and
//! `down` stops every process it started. The two cluster tests run side by
//! side, so two clusters run at once as they do under a parallel test run; the
//! last test checks every Go tool reports its pinned version.
//!
//! Needs `$HAU_CLUSTER_DIR` (set by scripts/test) and kubectl from
//! `scripts/fetch-tools` (see `testenv::local_cluster`).
// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::{go_tool, output, run_ok};
use testenv::local_cluster::{KUBE_VERSION, LocalCluster, cluster_bin_dir, script};

/// Polls `check` every 200 ms until it returns true; panics after `limit`.
fn eventually(what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn json(cmd: &mut Command) -> serde_json::Value {
    serde_json::from_str(&run_ok(cmd)).expect("kubectl prints JSON")
}

/// `kubectl get ARGS -o json` succeeds (the object exists).
fn exists(cluster: &LocalCluster, args: &[&str]) -> bool {
    output(cluster.kubectl().arg("get").args(args))
        .status
        .success()
}

#[test]
fn real_control_plane_scales_schedules_completes_and_finalizes() {
    let cluster = LocalCluster::up();
    let kubectl = || cluster.kubectl();

    // /version reports the pinned release (Helm and charts' kubeVersion read it).
    let version = json(kubectl().args(["get", "--raw", "/version"]));
    assert_eq!(version["gitVersion"], KUBE_VERSION, "{version}");
    assert_eq!(
        (&version["major"], &version["minor"]),
        (&"1".into(), &"35".into())
    );
    assert!(
        cluster.server().starts_with("https://127.0.0.1:"),
        "{}",
        cluster.server()
    );

    // The kwok node: fake, Ready, and reachable (for logs/exec) only on loopback.
    let node = json(kubectl().args(["get", "node", cluster.node(), "-o", "json"]));
    assert_eq!(
        node["metadata"]["annotations"]["kwok.x-k8s.io/node"],
        "fake"
    );
    let addresses = node["status"]["addresses"].as_array().unwrap();
    assert!(
        addresses
            .iter()
            .all(|a| a["address"] == "127.0.0.1" || a["address"] == "localhost"),
        "{addresses:?}"
    );

    // A Deployment's pods are scheduled on the kwok node and run.
    run_ok(kubectl().args([
        "create",
        "deployment",
        "web",
        "--image=registry.invalid/web:1",
        "--replicas=2",
    ]));
    eventually(
        "2 ready replicas of deploy/web",
        Duration::from_secs(90),
        || {
            let deploy = json(kubectl().args(["get", "deploy", "web", "-o", "json"]));
            deploy["status"]["readyReplicas"] == 2
        },
    );
    let pods = json(kubectl().args(["get", "pods", "-l", "app=web", "-o", "json"]));
    let pods = pods["items"].as_array().unwrap();
    assert_eq!(pods.len(), 2);
    for pod in pods {
        assert_eq!(pod["spec"]["nodeName"], cluster.node(), "{pod}");
        assert_eq!(pod["status"]["phase"], "Running", "{pod}");
    }

    // The operator's first move to stop ARC's controller works here (the scale
    // subresource), and the ReplicaSet controller removes the pods.
    let scaled = run_ok(kubectl().args(["scale", "deploy", "web", "--replicas=0"]));
    assert!(scaled.contains("deployment.apps/web scaled"), "{scaled}");
    let scale = json(kubectl().args([
        "get",
        "--raw",
        "/apis/apps/v1/namespaces/default/deployments/web/scale",
    ]));
    assert_eq!(scale["kind"], "Scale");
    // Scale's spec.replicas is omitted when 0; the Deployment's is not.
    assert_eq!(scale["spec"].get("replicas"), None, "{scale}");
    let deploy = json(kubectl().args(["get", "deploy", "web", "-o", "json"]));
    assert_eq!(deploy["spec"]["replicas"], 0);
    eventually("deploy/web's pods to go", Duration::from_secs(90), || {
        let pods = json(kubectl().args(["get", "pods", "-l", "app=web", "-o", "json"]));
        pods["items"].as_array().unwrap().is_empty()
    });

    // A Job's pod completes (kwok's pod stages; no container runs), so the
    // Job controller marks it Complete, as Helm hooks need.
    run_ok(kubectl().args(["create", "job", "once", "--image=registry.invalid/once:1"]));
    eventually("job/once to complete", Duration::from_secs(60), || {
        let job = json(kubectl().args(["get", "job", "once", "-o", "json"]));
        job["status"]["succeeded"] == 1
    });

    // Garbage collection: deleting an owner deletes the ConfigMap it owns.
    run_ok(kubectl().args(["create", "namespace", "doomed"]));
    run_ok(kubectl().args(["-n", "doomed", "create", "configmap", "owner"]));
    let owner_uid = json(kubectl().args([
        "-n",
        "doomed",
        "get",
        "configmap",
        "owner",
        "-o",
        "json",
    ]))["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_string();
    let owned = serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "owned", "namespace": "doomed", "ownerReferences": [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner_uid}
        ]}
    });
    let manifest = cluster.dir().join("owned.json");
    std::fs::write(&manifest, owned.to_string()).unwrap();
    run_ok(kubectl().arg("create").arg("-f").arg(&manifest));
    run_ok(kubectl().args([
        "-n",
        "doomed",
        "delete",
        "configmap",
        "owner",
        "--wait=false",
    ]));
    eventually(
        "the garbage collector to delete configmap/owned",
        Duration::from_secs(60),
        || !exists(&cluster, &["-n", "doomed", "configmap", "owned"]),
    );

    // Namespace finalization: a namespace with a running pod and a ConfigMap
    // goes away through the `kubernetes` finalizer the namespace controller removes.
    run_ok(kubectl().args(["-n", "doomed", "create", "configmap", "left"]));
    run_ok(kubectl().args([
        "-n",
        "doomed",
        "run",
        "sleeper",
        "--image=registry.invalid/sleeper:1",
    ]));
    eventually("pod/sleeper to run", Duration::from_secs(60), || {
        let pod = json(kubectl().args(["-n", "doomed", "get", "pod", "sleeper", "-o", "json"]));
        pod["status"]["phase"] == "Running"
    });
    let ns = json(kubectl().args(["get", "namespace", "doomed", "-o", "json"]));
    assert_eq!(
        ns["spec"]["finalizers"],
        serde_json::json!(["kubernetes"]),
        "{ns}"
    );
    run_ok(kubectl().args(["delete", "namespace", "doomed", "--wait=false"]));
    eventually(
        "namespace doomed to be finalized",
        Duration::from_secs(120),
        || !exists(&cluster, &["namespace", "doomed"]),
    );
}

#[test]
fn down_stops_every_process_it_started() {
    let mut cluster = LocalCluster::up();
    let mut components: Vec<&str> = cluster.pids().iter().map(|(c, _)| c.as_str()).collect();
    components.sort();
    assert_eq!(
        components,
        [
            "etcd",
            "kube-apiserver",
            "kube-controller-manager",
            "kube-scheduler",
            "kwok-controller"
        ],
        "{:?}",
        cluster.pids()
    );
    let all: Vec<u32> = cluster.pids().iter().map(|(_, pid)| *pid).collect();
    assert_eq!(cluster.running_pids(), all);

    // A second `up` on a running cluster's directory refuses and leaves it running.
    let again = output(&mut script("up", cluster.dir(), &cluster_bin_dir()));
    assert!(!again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("a cluster already runs from"), "{stderr}");
    run_ok(cluster.kubectl().args(["get", "--raw", "/readyz"]));

    cluster.down();
    assert_eq!(
        cluster.running_pids(),
        Vec::<u32>::new(),
        "{:?}",
        cluster.pids()
    );
    assert!(!cluster.kubeconfig().exists());
    assert!(cluster.dir().join("logs/kube-apiserver.log").is_file());

    // down again is a no-op.
    run_ok(&mut script("down", cluster.dir(), &cluster_bin_dir()));
}

#[test]
fn go_tools_report_their_pinned_versions() {
    let kapp = run_ok(Command::new(go_tool("HAU_KAPP_DIR", "kapp")).arg("version"));
    assert!(kapp.starts_with("kapp version 0.64.2\n"), "{kapp}");
    let kpt = run_ok(Command::new(go_tool("HAU_KPT_DIR", "kpt")).arg("version"));
    assert_eq!(kpt.trim(), "1.0.0-beta.57");
    let kwokctl = run_ok(Command::new(cluster_bin_dir().join("kwokctl")).arg("--version"));
    assert!(kwokctl.starts_with("kwokctl version v0.8.0 "), "{kwokctl}");
    let etcd = run_ok(Command::new(cluster_bin_dir().join("etcd")).arg("--version"));
    assert!(etcd.starts_with("etcd Version: 3.6.6\n"), "{etcd}");
    for component in [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
    ] {
        let version = run_ok(Command::new(cluster_bin_dir().join(component)).arg("--version"));
        assert_eq!(
            version.trim(),
            format!("Kubernetes {KUBE_VERSION}"),
            "{component}"
        );
    }
}
