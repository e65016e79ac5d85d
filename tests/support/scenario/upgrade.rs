//! Upgrade states of the example runner set staged through `helm upgrade`,
//! and the conditions that say the controller has acted on them. Reads go
//! through [`ScenarioEnv::list`], so they work on any target.

use super::sim_env::{ARC_API, ScenarioEnv, chart};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The ServiceAccount a runner of an EphemeralRunnerSet, EphemeralRunner or
/// Pod runs as.
pub fn runs_as(object: &Value) -> Option<&str> {
    object
        .pointer("/spec/ephemeralRunnerSpec/spec/serviceAccountName")
        .or_else(|| object.pointer("/spec/spec/serviceAccountName"))
        .or_else(|| object.pointer("/spec/serviceAccountName"))
        .and_then(Value::as_str)
}

/// `helm upgrade --reuse-values --set containerMode.type=` of `release`
/// (kubernetes mode -> default mode): Helm deletes the kube-mode
/// ServiceAccount, Role and RoleBinding, which keep cleanup-protection (no
/// runner set names them any more), and the controller replaces the runner
/// set's runners. Returns at once with the dropped objects' name.
pub fn drop_kube_mode(env: &ScenarioEnv, ns: &str, release: &str) -> String {
    drop_kube_mode_and(env, ns, release, &[])
}

/// [`drop_kube_mode`] with more `helm upgrade` arguments in the same upgrade.
pub fn drop_kube_mode_and(env: &ScenarioEnv, ns: &str, release: &str, extra: &[&str]) -> String {
    let chart = chart("arc-runner-set");
    let mut args = vec![
        "upgrade",
        release,
        chart.to_str().expect("UTF-8 path"),
        "-n",
        ns,
        "--reuse-values",
        "--set",
        "containerMode.type=",
    ];
    args.extend_from_slice(extra);
    env.helm_ok(&args);
    format!("{release}-gha-rs-kube-mode")
}

/// Objects in `ns` (runner sets, runners, pods that may still run) that
/// run as `account`, as `Kind/name`.
pub fn running_as(env: &ScenarioEnv, ns: &str, account: &str) -> Vec<String> {
    let mut users = Vec::new();
    for (api_version, kind) in [
        (ARC_API, "EphemeralRunnerSet"),
        (ARC_API, "EphemeralRunner"),
        ("v1", "Pod"),
    ] {
        for o in env.list(api_version, kind, Some(ns)) {
            let finished = matches!(
                o.pointer("/status/phase").and_then(Value::as_str),
                Some("Succeeded" | "Failed")
            );
            if runs_as(&o) == Some(account) && !(kind == "Pod" && finished) {
                let name = o["metadata"]["name"].as_str().unwrap_or_default();
                users.push(format!("{kind}/{name}"));
            }
        }
    }
    users
}

/// Wait (event by event: the condition is read every 20 ms, no fixed
/// delay) until the controller has acted on [`drop_kube_mode`]: a runner
/// set of the new spec exists (so no runner set of the old one can be made
/// any more) and nothing runs as the kube-mode account: `doctor` may then
/// free its objects.
pub fn wait_kube_mode_unused(env: &ScenarioEnv, ns: &str, release: &str, limit: Duration) {
    let kube_mode = format!("{release}-gha-rs-kube-mode");
    let no_permission = format!("{release}-gha-rs-no-permission");
    wait_new_runner_set(env, ns, &no_permission, limit);
    super::sim_env::wait_until("nothing runs as the kube-mode account", limit, || {
        running_as(env, ns, &kube_mode).is_empty()
    });
}

/// Wait until a live EphemeralRunnerSet of `ns` runs as `account` (the
/// controller has read the upgraded runner set).
pub fn wait_new_runner_set(env: &ScenarioEnv, ns: &str, account: &str, limit: Duration) {
    super::sim_env::wait_until("a runner set of the new spec", limit, || {
        env.list(ARC_API, "EphemeralRunnerSet", Some(ns))
            .iter()
            .any(|s| {
                runs_as(s) == Some(account) && s.pointer("/metadata/deletionTimestamp").is_none()
            })
    });
}

/// A copy of the repository's example chart `name` as the chart of ARC
/// `version` (its `version` and `appVersion`, hence the version labels, and
/// for the controller the image tag: what `helm upgrade --version` of the
/// upstream charts changes), under `dir`. Its path.
pub fn chart_at(dir: &Path, name: &str, version: &str) -> PathBuf {
    let to = dir.join(format!("{name}-{version}"));
    copy_dir(&chart(name), &to);
    for file in ["Chart.yaml", "values.yaml"] {
        let path = to.join(file);
        let text = std::fs::read_to_string(&path).expect("read chart file");
        std::fs::write(&path, text.replace("0.14.2", version)).expect("write chart file");
    }
    to
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create chart dir");
    for entry in std::fs::read_dir(from).expect("read chart dir") {
        let entry = entry.expect("chart dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy chart file");
        }
    }
}
