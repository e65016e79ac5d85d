//! The scenario environment of these tests: the workspace's [`ScenarioEnv`]
//! on the in-process simulator (ARC's CRDs, controller and fake GitHub),
//! driven by real Helm from an isolated home; plus running the built binary
//! as Helm runs it as a plugin.

use crate::support::{Helm, HelmHome, hau_bin};
use arc_sim::controller::ArcConfig;
use kube_sim::SimConfig;
use kube_sim::api::Actor;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};
use testenv::Target;

// Each scenario binary uses its own subset.
#[allow(unused_imports)]
pub use testenv::ScenarioEnv;
#[allow(unused_imports)]
pub use testenv::scenario::{CONTROLLER_NS, chart};

/// apiVersion of ARC's custom resources.
pub const ARC_API: &str = "actions.github.com/v1alpha1";

/// Who the tests are in the simulator's event log.
pub fn actor() -> Actor {
    Actor("scenario-test".to_string())
}

/// Start the simulator with ARC's CRDs and controller and a Helm home of
/// `helm` pointed at it; no release yet. The environment reads as [`actor`].
pub fn start(helm: Helm, sim_config: SimConfig, arc_config: ArcConfig) -> ScenarioEnv {
    let mut target = Target::sim(sim_config, arc_config);
    if let Target::Sim(cluster) = &mut target {
        cluster.user = actor();
    }
    ScenarioEnv::new(target, helm)
}

/// Poll `done` every 20 ms until it holds; panic after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Where the binary keeps its state (the manifest copies) under `home`.
pub fn state_dir(home: &HelmHome) -> PathBuf {
    home.path().join("state")
}

/// Give `cmd` the environment Helm gives a plugin run from `home` (its
/// isolation and HELM_BIN), and the binary's [`state_dir`].
pub fn plugin_env<'c>(cmd: &'c mut Command, home: &HelmHome, helm: Helm) -> &'c mut Command {
    home.isolate(cmd);
    cmd.env("HELM_BIN", helm.helm())
        .env("HELM_ARC_UNINSTALL_STATE_DIR", state_dir(home))
}

/// The built binary as Helm runs it as a plugin from `home`.
pub fn hau_for(home: &HelmHome, helm: Helm) -> Command {
    let mut cmd = Command::new(hau_bin());
    plugin_env(&mut cmd, home, helm);
    cmd
}

/// The built binary as Helm runs it as a plugin from `env`'s home ([`hau_for`]).
pub fn hau(env: &ScenarioEnv) -> Command {
    hau_for(&env.helm.home, env.helm.version)
}

/// [`hau`] with `args` and HELM_NAMESPACE (Helm's `-n`).
pub fn hau_in(env: &ScenarioEnv, namespace: &str, args: &[&str]) -> Command {
    let mut cmd = hau(env);
    cmd.env("HELM_NAMESPACE", namespace).args(args);
    cmd
}

/// Run [`hau_in`] to the end.
pub fn run_hau(env: &ScenarioEnv, namespace: &str, args: &[&str]) -> Output {
    hau_in(env, namespace, args)
        .output()
        .expect("run helm-arc-uninstall")
}

/// The finalizer block the example runner-set chart puts on its RBAC,
/// ServiceAccount and Secret (only ARC's controller removes it).
pub const CLEANUP_PROTECTION_BLOCK: &str =
    "  finalizers:\n    - actions.github.com/cleanup-protection\n";

/// A copy of `examples/charts/arc-runner-set` under `dir` without the
/// chart's `actions.github.com/cleanup-protection` finalizers: the runner
/// set as a cluster without ARC's controller can delete it (there nothing
/// would ever remove them). Everything else is the example chart's.
pub fn runner_set_chart_without_cleanup_protection(dir: &std::path::Path) -> PathBuf {
    let copy = dir.join("arc-runner-set");
    crate::support::copy_tree(&chart("arc-runner-set"), &copy);
    let mut removed = 0;
    for entry in std::fs::read_dir(copy.join("templates")).expect("templates") {
        let path = entry.expect("template").path();
        let text = std::fs::read_to_string(&path).expect("read template");
        removed += text.matches(CLEANUP_PROTECTION_BLOCK).count();
        std::fs::write(&path, text.replace(CLEANUP_PROTECTION_BLOCK, "")).expect("write template");
    }
    assert_eq!(removed, 7, "the chart's cleanup-protection blocks");
    copy
}
