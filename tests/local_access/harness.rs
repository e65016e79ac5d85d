//! The environment the local-access tests share: one real cluster for the
//! whole test binary (started on first use, stopped when the process exits),
//! ARC's CRDs on it, and one Helm home with this checkout's plugin installed
//! for Helm 3.17.3 and 4.1.4. Tests isolate themselves by namespace and by
//! identity (every test gets users of its own), so they run in parallel.
//!
//! What the API server saw comes from its audit log ([`audit`]): the user
//! (with the credential it presented), the impersonated user, the user agent,
//! verb, resource and status of every request.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::local_cluster::{LocalCluster, cluster_bin_dir};
use crate::support::{Helm, HelmHome, install_plugin, output, repo_root, run_ok, tools_dir};

/// The release every test installs (the example runner-set chart).
pub const RELEASE: &str = "arc-runner-set";

/// The shared cluster and Helm home.
pub struct Env {
    /// The real control plane.
    pub cluster: LocalCluster,
    /// Helm home (admin kubeconfig) with the plugin installed for both Helms.
    pub home: HelmHome,
    /// The cluster's CA certificate file.
    pub ca_file: PathBuf,
}

/// The environment, set up on first use.
pub fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let cluster = LocalCluster::up();
        let home = HelmHome::new();
        stop_when_this_process_exits(&cluster, &home);
        cluster.write_kubeconfig(home.kubeconfig());
        let admin: Value = yaml_serde::from_str(
            &fs::read_to_string(cluster.kubeconfig()).expect("read kubeconfig"),
        )
        .expect("parse kubeconfig");
        let ca_file = PathBuf::from(
            admin["clusters"][0]["cluster"]["certificate-authority"]
                .as_str()
                .expect("the admin kubeconfig names its CA file"),
        );
        install_plugin(&home, Helm::V4);
        let env = Env {
            cluster,
            home,
            ca_file,
        };
        let crds: Vec<Value> = serde_json::from_str(include_str!(
            "../../crates/arc-sim/src/controller/crds.json"
        ))
        .expect("ARC CRDs");
        env.apply(&json!({"apiVersion": "v1", "kind": "List", "items": crds}));
        for crd in [
            "autoscalingrunnersets",
            "autoscalinglisteners",
            "ephemeralrunnersets",
            "ephemeralrunners",
        ] {
            env.kubectl(&[
                "wait",
                "--for=condition=Established",
                &format!("crd/{crd}.actions.github.com"),
                "--timeout=60s",
            ]);
        }
        env
    })
}

/// Hands the cluster to a watcher process that runs `scripts/local-cluster
/// down` once this test process is gone, however it ends (the end of a pipe
/// only this process holds), then removes the cluster's and the Helm home's
/// directories (statics are never dropped).
// The watcher outlives this process by design: it is never waited for.
#[allow(clippy::zombie_processes)]
fn stop_when_this_process_exits(cluster: &LocalCluster, home: &HelmHome) {
    let mut watcher = Command::new("sh");
    watcher
        .args([
            "-c",
            r#"cat >/dev/null; "$0" down --dir "$1" >/dev/null 2>&1 && rm -rf "$1" "$2""#,
        ])
        .arg(repo_root().join("scripts/local-cluster"))
        .arg(cluster.dir())
        .arg(home.path())
        .env("HAU_CLUSTER_DIR", cluster_bin_dir())
        .env("HAU_TOOLS_DIR", tools_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let mut child = watcher.spawn().expect("start the cluster's watcher");
    std::mem::forget(child.stdin.take());
}

impl Env {
    /// The API server URL.
    pub fn server(&self) -> &str {
        self.cluster.server()
    }

    /// `127.0.0.1:PORT` of the API server.
    pub fn server_addr(&self) -> std::net::SocketAddr {
        self.server()
            .trim_start_matches("https://")
            .parse()
            .expect("server is https://IP:PORT")
    }

    /// The cluster CA (PEM).
    pub fn ca_pem(&self) -> String {
        fs::read_to_string(&self.ca_file).expect("read the CA")
    }

    /// kubectl as the admin; panics unless it succeeds. Returns stdout.
    pub fn kubectl(&self, args: &[&str]) -> String {
        run_ok(self.cluster.kubectl().args(args))
    }

    /// kubectl as the admin, whatever its outcome.
    #[allow(dead_code)]
    pub fn kubectl_try(&self, args: &[&str]) -> Output {
        output(self.cluster.kubectl().args(args))
    }

    /// `kubectl apply` of one object (or a List) as the admin.
    pub fn apply(&self, object: &Value) {
        let file = tempfile::Builder::new()
            .suffix(".json")
            .tempfile_in(self.home.path())
            .expect("temp file");
        fs::write(file.path(), object.to_string()).expect("write object");
        run_ok(
            self.cluster
                .kubectl()
                .args(["apply", "--server-side", "--force-conflicts", "-f"])
                .arg(file.path()),
        );
    }

    /// A fresh namespace.
    pub fn namespace(&self, name: &str) {
        self.apply(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}));
    }

    /// Installs the example runner-set chart as `RELEASE` in `namespace`
    /// (as the admin, with Helm 4), registered with a repository of its own
    /// (runner sets of one scale set name and URL share a registration, which
    /// the plugin refuses to tear down alone); `set` adds `--set` values.
    pub fn install_runner_set(&self, namespace: &str, set: &[&str]) {
        let chart = repo_root().join("examples/charts/arc-runner-set");
        let mut cmd = self.home.helm(Helm::V4);
        cmd.args(["install", RELEASE])
            .arg(&chart)
            .args(["-n", namespace, "--create-namespace"])
            .arg("--set")
            .arg(format!(
                "githubConfigUrl=https://github.com/example/{namespace}"
            ));
        for value in set {
            cmd.args(["--set", value]);
        }
        run_ok(&mut cmd);
    }

    /// Objects of the release left in `namespace`, and whether its record is.
    pub fn release_left(&self, namespace: &str) -> Vec<String> {
        let text = self.kubectl(&[
            "get",
            "secrets,serviceaccounts,roles,rolebindings,autoscalingrunnersets",
            "-n",
            namespace,
            "-o",
            "json",
        ]);
        let list: Value = serde_json::from_str(&text).expect("kubectl JSON");
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|o| {
                o.pointer("/metadata/annotations/meta.helm.sh~1release-name")
                    .and_then(Value::as_str)
                    == Some(RELEASE)
                    || o.pointer("/metadata/labels/owner").and_then(Value::as_str) == Some("helm")
            })
            .map(|o| {
                format!(
                    "{}/{}",
                    o["kind"].as_str().unwrap_or("?"),
                    o["metadata"]["name"]
                )
            })
            .collect()
    }

    /// A client certificate for `user` in `group`, issued by the cluster's
    /// own signer (`kubernetes.io/kube-apiserver-client`, through a
    /// CertificateSigningRequest the admin approves); files in `dir`.
    pub fn client_cert(&self, user: &str, group: Option<&str>, dir: &Path) -> ClientCert {
        let key = rcgen::KeyPair::generate().expect("generate a key");
        let mut params = rcgen::CertificateParams::default();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, user);
        if let Some(group) = group {
            params
                .distinguished_name
                .push(rcgen::DnType::OrganizationName, group);
        }
        let csr = params
            .serialize_request(&key)
            .expect("CSR")
            .pem()
            .expect("CSR PEM");
        let name = format!("hau-{user}");
        self.apply(&json!({
            "apiVersion": "certificates.k8s.io/v1",
            "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": {
                "request": base64(csr.as_bytes()),
                "signerName": "kubernetes.io/kube-apiserver-client",
                "usages": ["client auth"],
                "expirationSeconds": 86400,
            }
        }));
        self.kubectl(&["certificate", "approve", &name]);
        let cert_pem = eventually("the signed certificate", Duration::from_secs(60), || {
            let b64 = self.kubectl(&["get", "csr", &name, "-o", "jsonpath={.status.certificate}"]);
            (!b64.trim().is_empty()).then(|| String::from_utf8(unbase64(b64.trim())).expect("PEM"))
        });
        let cert = dir.join(format!("{user}.crt"));
        let key_file = dir.join(format!("{user}.key"));
        fs::write(&cert, &cert_pem).expect("write cert");
        fs::write(&key_file, key.serialize_pem()).expect("write key");
        ClientCert {
            cert,
            key: key_file,
            cert_pem,
            key_pem: key.serialize_pem(),
        }
    }

    /// A ServiceAccount `name` in `namespace` and a token for it (TokenRequest).
    pub fn service_account_token(&self, namespace: &str, name: &str) -> String {
        self.apply(&json!({"apiVersion": "v1", "kind": "ServiceAccount",
                           "metadata": {"name": name, "namespace": namespace}}));
        self.kubectl(&["create", "token", name, "-n", namespace, "--duration=2h"])
            .trim()
            .to_string()
    }

    /// Binds `subject` (`{"kind": "User"|"Group"|"ServiceAccount", ...}`) to
    /// the ClusterRole `role` with a ClusterRoleBinding named `name`.
    pub fn bind_cluster_role(&self, name: &str, role: &str, subject: Value) {
        self.apply(&json!({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
            "subjects": [subject],
        }));
    }

    /// `helm <global> arc-uninstall <args>` with `helm`, the kubeconfig
    /// `kubeconfig` (KUBECONFIG) and `extra_env`.
    pub fn plugin(
        &self,
        helm: Helm,
        kubeconfig: &Path,
        global: &[&str],
        args: &[&str],
        extra_env: &[(&str, &str)],
    ) -> Output {
        let state = tempfile::Builder::new()
            .prefix("hau-state-")
            .tempdir_in(self.home.path())
            .expect("state dir");
        let mut cmd = self.home.helm(helm);
        cmd.env("KUBECONFIG", kubeconfig)
            .env("HELM_ARC_UNINSTALL_STATE_DIR", state.path())
            .args(global)
            .arg("arc-uninstall")
            .args(args);
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        output(&mut cmd)
    }
}

/// A client certificate and its key, as files and PEM.
pub struct ClientCert {
    /// Certificate file.
    pub cert: PathBuf,
    /// Key file.
    pub key: PathBuf,
    /// Certificate (PEM).
    pub cert_pem: String,
    /// Key (PEM).
    pub key_pem: String,
}

/// Standard base64 of `bytes`.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes standard base64.
pub fn unbase64(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .expect("base64")
}

/// Polls `check` every 200 ms until it returns a value; panics after `limit`.
pub fn eventually<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

pub use testenv::local_cluster::AuditEvent as Request;

/// Every request of the audit log so far.
pub fn audit() -> Vec<Request> {
    env().cluster.audit()
}

/// The users (as the server authenticated them, with impersonation) of `requests`.
pub fn users(requests: &[&Request]) -> BTreeSet<String> {
    requests
        .iter()
        .map(|r| {
            format!(
                "{} impersonating {}",
                r.user(),
                r.impersonated().cloned().unwrap_or(Value::Null)
            )
        })
        .collect()
}
