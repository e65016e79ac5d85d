//! A real Kubernetes control plane for a test: etcd, kube-apiserver,
//! kube-controller-manager and kube-scheduler v1.35.4 with a kwok fake node,
//! started by `scripts/local-cluster up` in a temp dir and stopped (by PID) by
//! `down` or when the [`LocalCluster`] is dropped. Serves TLS on 127.0.0.1 at a
//! free port; the kubeconfig holds an admin client certificate.
//!
//! The binaries come from `$HAU_CLUSTER_DIR` (set by `scripts/test`; a shell
//! gets it with `eval "$(scripts/build-go-tools)"`). Tests never build or
//! download them: without it they panic saying so. [`go_tool`] finds the other
//! Go tools (kapp, kpt) the same way.
//!
//! Include beside `mod support;` with
//! `#[path = "support/local_cluster.rs"] mod local_cluster;`.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tempfile::TempDir;

pub use crate::support::go_tool;
use crate::support::{Helm, repo_root, tools_dir};

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

/// A running local cluster; stopped when dropped.
pub struct LocalCluster {
    dir: TempDir,
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
            dir,
            pids,
            running: true,
        }
    }

    /// The directory the cluster lives in (`--dir`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
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
