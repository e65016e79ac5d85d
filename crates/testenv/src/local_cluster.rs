//! A real Kubernetes control plane for a test: etcd, kube-apiserver,
//! kube-controller-manager and kube-scheduler v1.35.4 with a kwok fake node,
//! started by `scripts/local-cluster up` in a temp dir and stopped (by PID) by
//! `down` or when the [`LocalCluster`] is dropped. Serves TLS on 127.0.0.1 at a
//! free port; the kubeconfig holds an admin client certificate.
//!
//! [`LocalCluster::shared`] is one cluster for a whole test binary (tests
//! isolate themselves by namespace), stopped when the test process exits.
//!
//! The binaries come from `$HAU_CLUSTER_DIR` (set by `scripts/test`; a shell
//! gets it with `eval "$(scripts/build-go-tools)"`). Tests never build or
//! download them: without it they panic saying so. [`go_tool`] finds the other
//! Go tools (kapp, kpt) the same way.

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use kube_sim::LogEntry;
use serde_json::Value;
use tempfile::TempDir;

use crate::tools::{Helm, go_tool, tools_dir};

/// The user agent of the plugin's own requests (`helm-arc-uninstall/<version>`).
pub const PLUGIN_AGENT: &str = "helm-arc-uninstall/";

/// The Kubernetes release the cluster runs (`/version` `gitVersion`).
pub const KUBE_VERSION: &str = "v1.35.4";

/// The binaries `scripts/local-cluster` runs from `$HAU_CLUSTER_DIR`.
pub const BINARIES: [&str; 6] = [
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kwok",
    "kwokctl",
];

/// `$HAU_CLUSTER_DIR`, checked to hold every binary of [`BINARIES`].
pub fn cluster_bin_dir() -> PathBuf {
    for binary in BINARIES {
        go_tool("HAU_CLUSTER_DIR", binary);
    }
    PathBuf::from(std::env::var_os("HAU_CLUSTER_DIR").unwrap_or_default())
}

/// Where and as whom a test reaches an API server over HTTPS: what a
/// kubeconfig's current context says, with every file read in.
#[derive(Clone, Debug)]
pub struct ApiEndpoint {
    /// `https://127.0.0.1:PORT`.
    pub server: String,
    /// The CA that signed the server's certificate (PEM).
    pub ca_pem: String,
    /// The client certificate (PEM) the user authenticates with.
    pub client_cert_pem: String,
    /// Its private key (PEM).
    pub client_key_pem: String,
}

/// A running local cluster; stopped when dropped.
pub struct LocalCluster {
    dir: PathBuf,
    /// Removes `dir` on drop (taken when the watcher of [`Self::shared`] owns it).
    temp: Option<TempDir>,
    server: String,
    node: String,
    pids: Vec<(String, u32)>,
    running: bool,
}

impl LocalCluster {
    /// Starts a cluster in a fresh temp dir and waits until it is ready:
    /// `/readyz` answers, the `default` ServiceAccount exists and the kwok node
    /// is Ready. Panics with the script's output if it cannot start.
    pub fn up() -> LocalCluster {
        let bin = cluster_bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("hau-cluster-")
            .tempdir()
            .expect("create cluster temp dir");
        let out = script("up", dir.path(), &bin)
            .output()
            .expect("run scripts/local-cluster up");
        if !out.status.success() {
            let log = fs::read_to_string(dir.path().join("kwokctl.log")).unwrap_or_default();
            let _ = script("down", dir.path(), &bin).output();
            panic!(
                "scripts/local-cluster up failed ({}):\n{}\n--- kwokctl.log\n{log}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let env = fs::read_to_string(dir.path().join("cluster.env")).expect("read cluster.env");
        let var = |name: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .unwrap_or_else(|| panic!("cluster.env has no {name}:\n{env}"))
                .to_string()
        };
        let pids = fs::read_to_string(dir.path().join("pids"))
            .expect("read pids")
            .lines()
            .filter_map(|l| {
                let (name, pid) = l.split_once(' ')?;
                Some((name.to_string(), pid.trim().parse().ok()?))
            })
            .collect();
        LocalCluster {
            server: var("HAU_LOCAL_CLUSTER_SERVER"),
            node: var("HAU_LOCAL_CLUSTER_NODE"),
            dir: dir.path().to_path_buf(),
            temp: Some(dir),
            pids,
            running: true,
        }
    }

    /// One cluster for the whole test process, started on first use and
    /// stopped (`scripts/local-cluster down`, then its directory removed)
    /// when the process exits, however it exits: a watcher process started
    /// here waits for the end of a pipe only this process holds. Tests that
    /// share it isolate themselves (a namespace each, unique cluster-scoped
    /// names).
    pub fn shared() -> &'static LocalCluster {
        static SHARED: OnceLock<LocalCluster> = OnceLock::new();
        SHARED.get_or_init(|| {
            let mut cluster = LocalCluster::up();
            cluster.stop_when_this_process_exits();
            cluster
        })
    }

    /// Hands the stopping of this cluster to a watcher process (see
    /// [`Self::shared`]); dropping the value then stops nothing.
    fn stop_when_this_process_exits(&mut self) {
        let mut watcher = Command::new("sh");
        watcher
            .args([
                "-c",
                r#"cat >/dev/null; "$0" down --dir "$1" >"$1.down.log" 2>&1 && rm -rf "$1" "$1.down.log""#,
            ])
            .arg(repo_root().join("scripts/local-cluster"))
            .arg(self.dir())
            .env("HAU_CLUSTER_DIR", cluster_bin_dir())
            .env("HAU_TOOLS_DIR", tools_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Not in the test's process group: Ctrl-C stops the tests, the
            // watcher still stops the cluster.
            .process_group(0);
        // Never waited for: it outlives this process by design.
        #[allow(clippy::zombie_processes)]
        let mut child = watcher.spawn().expect("start the cluster's watcher");
        // The write end stays open until this process exits (Rust opens
        // pipes close-on-exec, so no other child inherits it).
        std::mem::forget(child.stdin.take());
        self.running = false;
        // The watcher removes the directory after `down`.
        if let Some(temp) = self.temp.take() {
            let _kept = temp.keep();
        }
    }

    /// Server, CA and client certificate of the admin kubeconfig.
    pub fn endpoint(&self) -> ApiEndpoint {
        let text = fs::read_to_string(self.kubeconfig()).expect("read kubeconfig");
        let config: serde_json::Value = yaml_serde::from_str(&text).expect("parse kubeconfig");
        let current = config["current-context"].as_str().expect("current-context");
        let named = |list: &str, name: &str| -> serde_json::Value {
            config[list]
                .as_array()
                .and_then(|items| items.iter().find(|i| i["name"] == name))
                .unwrap_or_else(|| panic!("kubeconfig has no {list} entry {name}"))
                .clone()
        };
        let context = &named("contexts", current)["context"];
        let cluster = &named("clusters", context["cluster"].as_str().expect("cluster"))["cluster"];
        let user = &named("users", context["user"].as_str().expect("user"))["user"];
        ApiEndpoint {
            server: cluster["server"].as_str().expect("server").to_string(),
            ca_pem: pem_of(cluster, "certificate-authority"),
            client_cert_pem: pem_of(user, "client-certificate"),
            client_key_pem: pem_of(user, "client-key"),
        }
    }

    /// The directory the cluster lives in (`--dir`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Every request of the API server's audit log so far, in order.
    pub fn audit(&self) -> Vec<AuditEvent> {
        let path = self.dir().join("audit.log");
        fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .map(AuditEvent)
            .collect()
    }

    /// The admin kubeconfig (client certificate, CA, current context set).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir().join("kubeconfig")
    }

    /// Copies the admin kubeconfig to `to` (e.g. a `HelmHome`'s kubeconfig).
    pub fn write_kubeconfig(&self, to: &Path) {
        fs::copy(self.kubeconfig(), to).expect("copy kubeconfig");
    }

    /// The API server URL (`https://127.0.0.1:PORT`).
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Name of the kwok fake node.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// `(component, PID)` of every process `up` started.
    pub fn pids(&self) -> &[(String, u32)] {
        &self.pids
    }

    /// The PIDs of [`Self::pids`] still running from this cluster's directory.
    pub fn running_pids(&self) -> Vec<u32> {
        self.pids
            .iter()
            .map(|(_, pid)| *pid)
            .filter(|pid| runs_from(*pid, self.dir()))
            .collect()
    }

    /// kubectl 1.35 (the one fetched beside Helm 4) against this cluster.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(Helm::V4.kubectl());
        cmd.env_remove("KUBECONFIG")
            .arg("--kubeconfig")
            .arg(self.kubeconfig())
            .env("KUBECACHEDIR", self.dir().join("kubecache"))
            .stdin(Stdio::null());
        cmd
    }

    /// Stops the cluster (`scripts/local-cluster down`); panics if it fails
    /// or leaves a process running.
    pub fn down(&mut self) {
        if let Err(e) = self.stop() {
            panic!("{e}");
        }
    }

    fn stop(&mut self) -> Result<(), String> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        let out = script("down", self.dir(), &cluster_bin_dir())
            .output()
            .map_err(|e| format!("cannot run scripts/local-cluster down: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "scripts/local-cluster down failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(())
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("{e}");
        }
    }
}

/// `scripts/local-cluster CMD --dir DIR` with the binaries of `bin`.
pub fn script(cmd: &str, dir: &Path, bin: &Path) -> Command {
    let mut command = Command::new(repo_root().join("scripts/local-cluster"));
    command
        .arg(cmd)
        .arg("--dir")
        .arg(dir)
        .env("HAU_CLUSTER_DIR", bin)
        .env("HAU_TOOLS_DIR", tools_dir())
        .stdin(Stdio::null());
    command
}

/// Whether `pid` is a live (not zombie) process whose command line names a
/// path under `dir` (every component of a cluster does; PIDs get reused).
pub fn runs_from(pid: u32, dir: &Path) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the parenthesised command name.
    let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
    if state == Some(Some('Z')) {
        return false;
    }
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let cmdline = String::from_utf8_lossy(&cmdline);
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let dir = format!("{}/", dir.display());
    cmdline.split('\0').any(|arg| arg.contains(&dir))
}

/// The repository root (testenv lives in `crates/testenv`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The PEM text of a kubeconfig entry's `KEY-data` (base64) or `KEY` (a file).
fn pem_of(entry: &serde_json::Value, key: &str) -> String {
    use base64::Engine;
    if let Some(data) = entry[format!("{key}-data")].as_str() {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap_or_else(|e| panic!("kubeconfig {key}-data: {e}"));
        return String::from_utf8(bytes).expect("PEM is text");
    }
    let path = entry[key]
        .as_str()
        .unwrap_or_else(|| panic!("kubeconfig has neither {key} nor {key}-data"));
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// One request as the API server's audit log recorded it (`DIR/audit.log`,
/// Metadata level: see `scripts/local-cluster`).
#[derive(Clone, Debug)]
pub struct AuditEvent(pub Value);

impl AuditEvent {
    fn str(&self, pointer: &str) -> &str {
        self.0
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// `User-Agent`.
    pub fn agent(&self) -> &str {
        self.str("/userAgent")
    }

    /// Made by the plugin itself.
    pub fn by_plugin(&self) -> bool {
        self.agent().starts_with(PLUGIN_AGENT)
    }

    /// Made by Helm (the plugin's `helm` child, or the `helm` the user ran).
    pub fn by_helm(&self) -> bool {
        self.agent().to_ascii_lowercase().starts_with("helm/")
    }

    /// The authenticated user (name, groups, `extra` with the credential id).
    pub fn user(&self) -> &Value {
        &self.0["user"]
    }

    /// `user.username`.
    pub fn username(&self) -> &str {
        self.str("/user/username")
    }

    /// The impersonated user, if any.
    pub fn impersonated(&self) -> Option<&Value> {
        self.0.get("impersonatedUser")
    }

    /// `get`, `list`, `watch`, `delete`, `patch`, ...
    pub fn verb(&self) -> &str {
        self.str("/verb")
    }

    /// The resource (`secrets`, `autoscalingrunnersets`, ...).
    pub fn resource(&self) -> &str {
        self.str("/objectRef/resource")
    }

    /// The namespace ("" for cluster-scoped and cluster-wide requests).
    pub fn namespace(&self) -> &str {
        self.str("/objectRef/namespace")
    }

    /// The object name ("" for collections).
    pub fn name(&self) -> &str {
        self.str("/objectRef/name")
    }

    /// The HTTP status.
    pub fn code(&self) -> u64 {
        self.0
            .pointer("/responseStatus/code")
            .and_then(Value::as_u64)
            .unwrap_or_default()
    }

    /// One line for messages.
    pub fn describe(&self) -> String {
        format!(
            "{} {} {} {}/{} {} as {}{}",
            self.agent().split(' ').next().unwrap_or_default(),
            self.verb(),
            self.code(),
            self.namespace(),
            self.resource(),
            self.name(),
            self.username(),
            self.impersonated()
                .map(|i| format!(" (impersonating {i})"))
                .unwrap_or_default()
        )
    }

    /// `objectRef.subresource` (`status`, `scale`, ...), "" for none.
    pub fn subresource(&self) -> &str {
        self.str("/objectRef/subresource")
    }

    /// The request as an entry of the simulator's event log, so a scenario
    /// reads the calls the same way on both: the actor is the `User-Agent`
    /// up to its first `/` (as the simulator records it), the verb the
    /// audit verb (`update`/`patch` of the status: `update-status`), the
    /// kind from the resource.
    pub fn log_entry(&self, seq: u64) -> LogEntry {
        let agent = self.agent();
        let verb = match (self.verb(), self.subresource()) {
            ("update" | "patch", "status") => "update-status",
            (verb, _) => verb,
        };
        LogEntry {
            seq,
            rv: 0,
            time: self.str("/requestReceivedTimestamp").to_string(),
            actor: agent.split('/').next().unwrap_or(agent).to_string(),
            verb: verb.to_string(),
            group: self.str("/objectRef/apiGroup").to_string(),
            version: self.str("/objectRef/apiVersion").to_string(),
            kind: kind_of(self.resource()),
            namespace: Some(self.namespace())
                .filter(|ns| !ns.is_empty())
                .map(str::to_string),
            name: self.name().to_string(),
            code: u16::try_from(self.code()).unwrap_or(0),
            result: String::new(),
        }
    }
}

/// The kind of a resource the scenarios touch (the resource itself for
/// any other).
fn kind_of(resource: &str) -> String {
    const KINDS: &[(&str, &str)] = &[
        ("autoscalingrunnersets", "AutoscalingRunnerSet"),
        ("autoscalinglisteners", "AutoscalingListener"),
        ("ephemeralrunnersets", "EphemeralRunnerSet"),
        ("ephemeralrunners", "EphemeralRunner"),
        ("secrets", "Secret"),
        ("configmaps", "ConfigMap"),
        ("serviceaccounts", "ServiceAccount"),
        ("roles", "Role"),
        ("rolebindings", "RoleBinding"),
        ("clusterroles", "ClusterRole"),
        ("clusterrolebindings", "ClusterRoleBinding"),
        ("pods", "Pod"),
        ("jobs", "Job"),
        ("deployments", "Deployment"),
        ("replicasets", "ReplicaSet"),
        ("namespaces", "Namespace"),
        ("customresourcedefinitions", "CustomResourceDefinition"),
    ];
    KINDS
        .iter()
        .find(|(r, _)| *r == resource)
        .map_or(resource, |(_, kind)| kind)
        .to_string()
}
