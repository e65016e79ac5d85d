//! Real clients against the simulator: the kubectl binaries shipped with the
//! Helm 3.17.3 and Helm 4.1.4 toolsets (and the machine's kubectl when present),
//! and both Helm versions installing, listing and uninstalling a small chart.
//!
//! Tools and the isolated client environment come from the workspace's test
//! environment (`testenv`: `HAU_TOOLS_DIR` or the cache of `scripts/fetch-tools`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kube_sim::api::{Actor, Api, Gvk, Patch};
use kube_sim::{Sim, SimConfig};
use serde_json::{Value, json};
use testenv::{Helm, HelmHome};

/// A simulator plus an isolated client environment (kubeconfig, caches, Helm dirs).
struct Env {
    sim: Sim,
    home: HelmHome,
}

impl Env {
    fn new() -> Self {
        Self::with(SimConfig::default())
    }

    fn with(config: SimConfig) -> Self {
        let sim = Sim::start(SimConfig {
            gc_delay: Duration::from_millis(20),
            ..config
        })
        .unwrap();
        let home = HelmHome::new();
        sim.write_kubeconfig(home.kubeconfig()).unwrap();
        Self { sim, home }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.home.path().join(p)
    }

    fn cmd(&self, bin: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(bin);
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home.path());
        self.home.isolate(&mut c);
        c
    }

    /// Run and require success; returns stdout.
    fn ok(&self, bin: &Path, args: &[&str]) -> String {
        let out = self.run(bin, args);
        assert!(
            out.status.success(),
            "{} {:?} failed: {}\n{}",
            bin.display(),
            args,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn run(&self, bin: &Path, args: &[&str]) -> Output {
        self.cmd(bin, args).output().unwrap()
    }

    fn write(&self, name: &str, content: &str) -> String {
        let p = self.path(name);
        std::fs::write(&p, content).unwrap();
        p.to_string_lossy().into_owned()
    }

    fn api(&self) -> std::sync::Arc<dyn Api> {
        self.sim.api()
    }
}

fn me() -> Actor {
    Actor("test".into())
}

fn cm_gvk() -> Gvk {
    Gvk::new("v1", "ConfigMap")
}

/// Merge-patch the finalizers of a ConfigMap (`null` strips them all).
fn set_cm_finalizers(api: &dyn Api, ns: &str, name: &str, finalizers: Value) {
    api.patch(
        &me(),
        &cm_gvk(),
        Some(ns),
        name,
        Patch::Merge(json!({"metadata":{"finalizers":finalizers}})),
    )
    .unwrap();
}

/// A client command that deletes and then waits while a finalizer holds an object.
struct BlockedWait<'a> {
    /// What the command is, for failure messages ("kubectl delete").
    what: &'a str,
    /// True once the server has seen the command's delete.
    reached: &'a dyn Fn() -> bool,
    /// How long the command must keep waiting after that.
    settle: Duration,
}

impl BlockedWait<'_> {
    /// Spawn `cmd`, require it to still be waiting `settle` after its delete reached
    /// the server, run `release` (which drops the finalizer), then require it to
    /// succeed; returns its stdout.
    fn run(&self, mut cmd: Command, release: impl FnOnce()) -> String {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while !(self.reached)() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "{} never reached the server",
                self.what
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(self.settle);
        assert!(
            child.try_wait().unwrap().is_none(),
            "{} returned while a finalizer holds an object",
            self.what
        );
        release();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: foo\n  labels:\n    app: x\ndata:\n  a: \"1\"\n";

fn kubectl_round_trip(kubectl: &Path) {
    let env = Env::new();
    let api = env.api();
    let f = env.write("cm.yaml", CM);
    // client-side apply: create, then 3-way update
    assert!(
        env.ok(kubectl, &["apply", "-f", &f])
            .contains("configmap/foo created")
    );
    let f2 = env.write("cm2.yaml", &CM.replace("a: \"1\"", "a: \"2\"\n  b: \"3\""));
    assert!(
        env.ok(kubectl, &["apply", "-f", &f2])
            .contains("configmap/foo configured")
    );
    let got = api.get(&me(), &cm_gvk(), Some("default"), "foo").unwrap();
    assert_eq!(got["data"], json!({"a":"2","b":"3"}));
    assert!(
        got["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
            .is_string()
    );
    // get: list, single object as JSON, short name
    let table = env.ok(kubectl, &["get", "cm"]);
    assert!(table.contains("foo"), "{table}");
    let one: Value =
        serde_json::from_str(&env.ok(kubectl, &["get", "configmap", "foo", "-o", "json"])).unwrap();
    assert_eq!(one["data"]["b"], "3");
    let ns = env.ok(kubectl, &["get", "namespaces", "-o", "name"]);
    assert!(ns.contains("namespace/kube-system"), "{ns}");
    // server-side apply: conflict with the client-side manager, then forced
    let f3 = env.write("cm3.yaml", &CM.replace("a: \"1\"", "a: \"9\""));
    let out = env.run(kubectl, &["apply", "--server-side", "-f", &f3]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("conflict with \"kubectl-client-side-apply\""),
        "{err}"
    );
    assert!(
        env.ok(
            kubectl,
            &["apply", "--server-side", "--force-conflicts", "-f", &f3]
        )
        .contains("serverside-applied")
    );
    assert_eq!(
        api.get(&me(), &cm_gvk(), Some("default"), "foo").unwrap()["data"]["a"],
        "9"
    );
    // patch: strategic (default), merge, json
    env.ok(
        kubectl,
        &["patch", "configmap", "foo", "-p", r#"{"data":{"c":"4"}}"#],
    );
    for (patch_type, patch) in [
        (
            "merge",
            r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
        ),
        ("json", r#"[{"op":"add","path":"/data/d","value":"5"}]"#),
    ] {
        env.ok(
            kubectl,
            &[
                "patch",
                "configmap",
                "foo",
                "--type",
                patch_type,
                "-p",
                patch,
            ],
        );
    }
    let got = api.get(&me(), &cm_gvk(), Some("default"), "foo").unwrap();
    assert_eq!(
        (got["data"]["c"].as_str(), got["data"]["d"].as_str()),
        (Some("4"), Some("5"))
    );
    // imperative creates (typed clients: protobuf bodies in kubectl 1.35)
    env.ok(kubectl, &["create", "namespace", "made-by-kubectl"]);
    env.ok(
        kubectl,
        &[
            "create",
            "secret",
            "generic",
            "s1",
            "--from-literal=token=abc",
        ],
    );
    env.ok(kubectl, &["create", "serviceaccount", "sa1"]);
    let secret = api
        .get(&me(), &Gvk::new("v1", "Secret"), Some("default"), "s1")
        .unwrap();
    assert_eq!(secret["data"]["token"], "YWJj");
    assert!(
        api.get(&me(), &Gvk::new("v1", "Namespace"), None, "made-by-kubectl")
            .is_ok()
    );
    // delete --wait: blocks on the finalizer, ends when it is removed
    let terminating = || {
        api.get(&me(), &cm_gvk(), Some("default"), "foo").unwrap()["metadata"]["deletionTimestamp"]
            .is_string()
    };
    let deleted = BlockedWait {
        what: "kubectl delete --wait",
        reached: &terminating,
        settle: Duration::from_millis(300),
    }
    .run(
        env.cmd(kubectl, &["delete", "configmap", "foo", "--timeout=30s"]),
        || set_cm_finalizers(&*api, "default", "foo", Value::Null),
    );
    assert!(deleted.contains("configmap \"foo\" deleted"));
    assert_eq!(
        api.get(&me(), &cm_gvk(), Some("default"), "foo")
            .unwrap_err()
            .code,
        404
    );
}

#[test]
fn kubectl_1_31_apply_get_patch_delete_wait() {
    kubectl_round_trip(&Helm::V3.kubectl());
}

#[test]
fn kubectl_1_35_apply_get_patch_delete_wait() {
    kubectl_round_trip(&Helm::V4.kubectl());
}

/// HTTPS with a test CA and bearer tokens, as real kubectl sees them: the
/// kubeconfig's CA and token work, a wrong token gets 401, `--tls-server-name`
/// is what the ClientHello names, and the request record has it all.
#[test]
fn kubectl_over_tls_with_a_token_and_the_request_record() {
    let ca = kube_sim::TestCa::new("clients test CA").unwrap();
    let env = Env::with(SimConfig {
        tls: Some(ca.issue(&["127.0.0.1", "api.kube-sim.test"]).unwrap()),
        tokens: vec!["tok-1".into()],
        ..SimConfig::default()
    });
    assert!(env.sim.url().starts_with("https://127.0.0.1:"));
    let k = Helm::V4.kubectl();
    assert!(env.ok(&k, &["get", "ns", "default"]).contains("default"));
    let wrong = env.run(&k, &["get", "ns", "--token", "other"]);
    assert!(!wrong.status.success());
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("Unauthorized"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );
    env.ok(
        &k,
        &[
            "get",
            "ns",
            "default",
            "--tls-server-name",
            "api.kube-sim.test",
        ],
    );
    // Another CA: kubectl refuses the server.
    let other_ca = kube_sim::TestCa::new("another CA").unwrap();
    let ca_file = env.write("other-ca.pem", other_ca.cert_pem());
    let untrusted = env.run(&k, &["get", "ns", "--certificate-authority", &ca_file]);
    assert!(!untrusted.status.success());

    let record = env.sim.requests();
    let ours: Vec<_> = record.iter().filter(|r| r.actor == "kubectl").collect();
    assert!(ours.iter().all(|r| r.tls));
    assert!(
        ours.iter()
            .any(|r| r.authorization.as_deref() == Some("Bearer tok-1") && r.code == 200)
    );
    assert!(
        ours.iter()
            .any(|r| r.authorization.as_deref() == Some("Bearer other") && r.code == 401)
    );
    // kubectl sends no SNI for an IP address; --tls-server-name is sent.
    assert!(ours.iter().any(|r| r.sni.is_none()));
    assert!(
        ours.iter()
            .any(|r| r.sni.as_deref() == Some("api.kube-sim.test"))
    );
    assert!(record.windows(2).all(|w| w[0].seq < w[1].seq));
}

/// Impersonation headers reach the record as sent (plain HTTP, as client-go
/// sends them there too).
#[test]
fn kubectl_impersonation_headers_are_recorded() {
    let env = Env::new();
    let k = Helm::V4.kubectl();
    env.ok(
        &k,
        &[
            "get",
            "ns",
            "--as",
            "alice",
            "--as-group",
            "g1",
            "--as-group",
            "g2",
        ],
    );
    let record = env.sim.requests();
    let r = record
        .iter()
        .rfind(|r| r.actor == "kubectl")
        .expect("a kubectl request");
    assert_eq!(r.impersonate_user.as_deref(), Some("alice"));
    assert_eq!(r.impersonate_groups, vec!["g1", "g2"]);
    assert!(!r.tls && r.authorization.is_none());
}

/// The machine's kubectl (the gcloud dispatcher, which picks kubectl.1.<minor> from /version).
#[test]
fn machine_kubectl_get_and_apply() {
    let k = PathBuf::from("/usr/bin/kubectl");
    if !k.is_file() {
        eprintln!("no /usr/bin/kubectl on this machine; covered by the toolset kubectl tests");
        return;
    }
    let env = Env::new();
    let f = env.write("cm.yaml", CM);
    assert!(
        env.ok(&k, &["apply", "-f", &f])
            .contains("configmap/foo created")
    );
    assert!(env.ok(&k, &["get", "cm", "foo"]).contains("foo"));
    assert!(env.ok(&k, &["delete", "cm", "foo"]).contains("deleted"));
}

fn chart() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/demo-chart")
        .to_string_lossy()
        .into_owned()
}

fn helm_round_trip(version: Helm) {
    let env = Env::new();
    let helm = version.helm();
    let api = env.api();
    let chart = chart();
    let out = env.ok(
        &helm,
        &[
            "install",
            "demo",
            &chart,
            "-n",
            "apps",
            "--create-namespace",
        ],
    );
    assert!(out.contains("STATUS: deployed"), "{out}");
    for (gvk, name) in [
        (Gvk::new("v1", "ConfigMap"), "demo-config"),
        (Gvk::new("v1", "Secret"), "demo-secret"),
        (Gvk::new("apps/v1", "Deployment"), "demo-web"),
        (
            Gvk::new("rbac.authorization.k8s.io/v1", "RoleBinding"),
            "demo-binding",
        ),
    ] {
        let o = api.get(&me(), &gvk, Some("apps"), name).unwrap();
        assert_eq!(
            o["metadata"]["labels"]["app.kubernetes.io/managed-by"], "Helm",
            "{name}"
        );
        assert_eq!(
            o["metadata"]["annotations"]["meta.helm.sh/release-name"],
            "demo"
        );
    }
    // release storage: one Secret per revision
    let rel = api
        .get(
            &me(),
            &Gvk::new("v1", "Secret"),
            Some("apps"),
            "sh.helm.release.v1.demo.v1",
        )
        .unwrap();
    assert_eq!(rel["type"], "helm.sh/release.v1");
    assert_eq!(rel["metadata"]["labels"]["status"], "deployed");
    let list = env.ok(&helm, &["list", "-n", "apps", "-o", "json"]);
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list[0]["name"], "demo");
    assert_eq!(list[0]["status"], "deployed");
    let manifest = env.ok(&helm, &["get", "manifest", "demo", "-n", "apps"]);
    assert!(
        manifest.contains("# Source: demo/templates/resources.yaml")
            && manifest.contains("kind: Deployment")
    );
    // upgrade (revision 2) then uninstall without --wait
    env.ok(
        &helm,
        &[
            "upgrade",
            "demo",
            &chart,
            "-n",
            "apps",
            "--set",
            "greeting=hi",
        ],
    );
    let cm = api
        .get(&me(), &cm_gvk(), Some("apps"), "demo-config")
        .unwrap();
    assert_eq!(cm["data"]["greeting"], "hi");
    let out = env.ok(&helm, &["uninstall", "demo", "-n", "apps"]);
    assert!(out.contains("release \"demo\" uninstalled"), "{out}");
    for (gvk, name) in [
        (Gvk::new("v1", "ConfigMap"), "demo-config"),
        (Gvk::new("apps/v1", "Deployment"), "demo-web"),
    ] {
        assert_eq!(
            api.get(&me(), &gvk, Some("apps"), name).unwrap_err().code,
            404
        );
    }
    let secrets = api
        .list(
            &me(),
            &Gvk::new("v1", "Secret"),
            Some("apps"),
            &Default::default(),
        )
        .unwrap();
    assert!(secrets.is_empty(), "release history purged: {secrets:?}");
    // install again, hold one object with a finalizer: uninstall --wait waits for it
    env.ok(&helm, &["install", "demo", &chart, "-n", "apps"]);
    set_cm_finalizers(&*api, "apps", "demo-config", json!(["example.com/hold"]));
    let wait_flag = if version == Helm::V3 {
        "--wait"
    } else {
        "--wait=watcher"
    };
    let deployment_gone = || {
        api.get(
            &me(),
            &Gvk::new("apps/v1", "Deployment"),
            Some("apps"),
            "demo-web",
        )
        .is_err()
    };
    BlockedWait {
        what: "helm uninstall --wait",
        reached: &deployment_gone,
        settle: Duration::from_millis(500),
    }
    .run(
        env.cmd(
            &helm,
            &[
                "uninstall",
                "demo",
                "-n",
                "apps",
                wait_flag,
                "--timeout",
                "60s",
            ],
        ),
        || set_cm_finalizers(&*api, "apps", "demo-config", Value::Null),
    );
    let list = env.ok(&helm, &["list", "-n", "apps", "-q"]);
    assert_eq!(list.trim(), "");
}

#[test]
fn helm_3_17_install_list_manifest_uninstall() {
    helm_round_trip(Helm::V3);
}

#[test]
fn helm_4_1_install_list_manifest_uninstall() {
    helm_round_trip(Helm::V4);
}
