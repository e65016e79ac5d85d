//! [`HelmHome`]: real Helm and kubectl isolated in a temp dir, the one
//! harness every test uses to run them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use tempfile::TempDir;

use crate::tools::Helm;

/// An isolated Helm + kubectl environment rooted in a temp dir (removed on
/// drop): its own HELM_CACHE_HOME, HELM_CONFIG_HOME, HELM_DATA_HOME,
/// KUBECACHEDIR and KUBECONFIG.
///
/// The kubeconfig is `<dir>/kubeconfig` (write the cluster's there), or an
/// existing file given to [`HelmHome::with_kubeconfig`]. Several Helm
/// versions may share one `HelmHome` (they then share the plugins directory
/// `$HELM_DATA_HOME/plugins`, as on a real machine).
pub struct HelmHome {
    root: TempDir,
    kubeconfig: PathBuf,
}

impl Default for HelmHome {
    fn default() -> Self {
        Self::new()
    }
}

impl HelmHome {
    /// Fresh, empty Helm cache/config/data dirs and a kube cache dir; the
    /// kubeconfig is `<dir>/kubeconfig` (not written yet).
    pub fn new() -> Self {
        let root = tempfile::Builder::new()
            .prefix("hau-helm-")
            .tempdir()
            .expect("create temp dir");
        for dir in ["cache", "config", "data", "kubecache"] {
            fs::create_dir_all(root.path().join(dir)).expect("create helm home dir");
        }
        let kubeconfig = root.path().join("kubeconfig");
        HelmHome { root, kubeconfig }
    }

    /// As [`HelmHome::new`], with an existing kubeconfig (a cluster the
    /// tests did not start).
    pub fn with_kubeconfig(kubeconfig: PathBuf) -> Self {
        HelmHome {
            kubeconfig,
            ..Self::new()
        }
    }

    /// The temp dir everything lives in (tests may put their own files here).
    pub fn path(&self) -> &Path {
        self.root.path()
    }

    /// The kubeconfig every command of this home uses (KUBECONFIG).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// Where `helm plugin install` puts plugins (`helm env HELM_PLUGINS`).
    pub fn plugins_dir(&self) -> PathBuf {
        self.path().join("data").join("helm").join("plugins")
    }

    /// Where `helm-arc-uninstall render` run under this home logs its errors
    /// (`HELM_ARC_UNINSTALL_LOG`).
    pub fn render_log(&self) -> PathBuf {
        self.path().join("render.log")
    }

    /// A `helm` command of `version` with every Helm/kube location isolated.
    pub fn helm(&self, version: Helm) -> Command {
        let mut cmd = Command::new(version.helm());
        self.isolate(&mut cmd);
        cmd
    }

    /// A `kubectl` command (the one fetched with `version`) with
    /// KUBECONFIG/KUBECACHEDIR isolated.
    pub fn kubectl(&self, version: Helm) -> Command {
        let mut cmd = Command::new(version.kubectl());
        self.isolate(&mut cmd);
        cmd
    }

    /// Applies this home's environment to any command (e.g. a hook script):
    /// inherited HELM_* and KUBECONFIG are removed, the home's set, stdin
    /// is null.
    pub fn isolate(&self, cmd: &mut Command) {
        for (key, _) in std::env::vars_os() {
            let key_str = key.to_string_lossy();
            if key_str.starts_with("HELM_") || key_str == "KUBECONFIG" {
                cmd.env_remove(&key);
            }
        }
        let root = self.path();
        cmd.env("HELM_CACHE_HOME", root.join("cache").join("helm"))
            .env("HELM_CONFIG_HOME", root.join("config").join("helm"))
            .env("HELM_DATA_HOME", root.join("data").join("helm"))
            .env("KUBECONFIG", &self.kubeconfig)
            .env("KUBECACHEDIR", root.join("kubecache"))
            .env("HELM_ARC_UNINSTALL_LOG", self.render_log())
            .stdin(Stdio::null());
    }
}

/// Runs `cmd`, panicking with its full output unless it exits 0. Returns stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = output(cmd);
    assert!(
        out.status.success(),
        "command failed ({}): {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        cmd,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("stdout is UTF-8")
}

/// Runs `cmd` and returns its output whatever the exit status.
pub fn output(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

/// Real Helm of one version and its kubectl, run from a [`HelmHome`]: the
/// calls a scenario makes, each returning the command's output.
pub struct HelmClient {
    /// Where the commands run (isolated dirs, kubeconfig).
    pub home: HelmHome,
    /// Which Helm (and kubectl) runs.
    pub version: Helm,
}

impl HelmClient {
    /// `version`'s Helm and kubectl from `home`.
    pub fn new(home: HelmHome, version: Helm) -> Self {
        HelmClient { home, version }
    }

    /// `helm args` (not run yet).
    pub fn helm_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.home.helm(self.version);
        cmd.args(args);
        cmd
    }

    /// Run `helm args`, whatever its exit status.
    pub fn helm(&self, args: &[&str]) -> Output {
        output(&mut self.helm_cmd(args))
    }

    /// Run `helm args`, which must succeed.
    pub fn ok(&self, args: &[&str]) -> Output {
        let out = self.helm(args);
        assert!(
            out.status.success(),
            "helm {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Start `helm args` with stdout and stderr piped.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.helm_cmd(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start helm {args:?}: {e}"))
    }

    /// `kubectl args` (not run yet).
    pub fn kubectl_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.home.kubectl(self.version);
        cmd.args(args);
        cmd
    }

    /// Run `kubectl args`, whatever its exit status (for best-effort cleanup).
    pub fn kubectl_try(&self, args: &[&str]) -> Output {
        output(&mut self.kubectl_cmd(args))
    }

    /// Run `kubectl args`, which must succeed.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        let out = self.kubectl_try(args);
        assert!(
            out.status.success(),
            "kubectl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The items of `kubectl get args -o json`.
    pub fn kubectl_items(&self, args: &[&str]) -> Vec<serde_json::Value> {
        let mut full = vec!["get"];
        full.extend_from_slice(args);
        full.extend_from_slice(&["-o", "json"]);
        let out = self.kubectl(&full);
        let list: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("kubectl get -o json prints JSON");
        list["items"].as_array().cloned().unwrap_or_default()
    }
}
