//! CLI contract of the fleet flags and `doctor` (no cluster needed).
// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use assert_cmd::Command;
use predicates::str::contains;

fn bin() -> Command {
    let mut cmd = Command::cargo_bin("helm-arc-uninstall").unwrap();
    cmd.env_remove("HELM_NAMESPACE")
        .env_remove("HELM_KUBECONTEXT")
        .env("KUBECONFIG", "/nonexistent/kubeconfig");
    cmd
}

#[test]
fn uninstall_needs_a_release_or_all_runner_sets() {
    bin()
        .arg("uninstall")
        .assert()
        .code(2)
        .stderr(contains("a RELEASE is required (or --all-runner-sets)"));
}

#[test]
fn fleet_flags_need_all_runner_sets() {
    for flag in [
        vec!["-A"],
        vec!["--with-controller", "arc"],
        vec!["--delete-crds"],
    ] {
        bin()
            .arg("uninstall")
            .args(&flag)
            .assert()
            .code(2)
            .stderr(contains("--all-runner-sets"));
    }
    bin()
        .args(["--all-runner-sets", "--cascade-runner-sets"])
        .assert()
        .code(2)
        .stderr(contains("cannot be used with"));
    bin()
        .args(["--all-runner-sets", "--concurrency", "0"])
        .assert()
        .code(2);
}

#[test]
fn doctor_takes_a_release_or_all_not_both() {
    bin()
        .args(["doctor", "arc-runner-set", "--all"])
        .assert()
        .code(2)
        .stderr(contains("cannot be used with"));
    bin()
        .args(["doctor", "--help"])
        .assert()
        .success()
        .stdout(contains("--fix"));
}
