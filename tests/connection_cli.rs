//! Connection inputs the plugin cannot honour as Helm does are refused with
//! exit 2, naming the variable, before any request (issue #11).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use kube_sim::{Sim, SimConfig};
use std::process::{Command, Output};
use support::{HelmHome, hau_bin};

/// A server the kubeconfig names, and the binary as Helm runs it with `env`.
fn run(env: &[(&str, &str)]) -> (Output, Sim, HelmHome) {
    let sim = Sim::start(SimConfig::default()).unwrap();
    let home = HelmHome::new();
    let kubeconfig = sim.kubeconfig().replace(
        "users:\n- name: sim\n  user: {}\n",
        "users:\n- name: sim\n  user: {}\n- name: filer\n  user: {tokenFile: /var/run/token}\n",
    );
    let kubeconfig = kubeconfig.replace(
        "contexts:\n",
        "contexts:\n- name: file-token\n  context: {cluster: sim, user: filer}\n",
    );
    std::fs::write(home.path().join("kubeconfig"), kubeconfig).unwrap();
    let mut cmd = Command::new(hau_bin());
    home.isolate(&mut cmd);
    // Helm sets every variable, empty when its flag was not given.
    for var in [
        "HELM_KUBECONTEXT",
        "HELM_KUBEAPISERVER",
        "HELM_KUBETOKEN",
        "HELM_KUBEASUSER",
        "HELM_KUBEASGROUPS",
        "HELM_KUBECAFILE",
        "HELM_KUBETLS_SERVER_NAME",
    ] {
        cmd.env(var, "");
    }
    cmd.env("HELM_KUBEINSECURE_SKIP_TLS_VERIFY", "false")
        .env("HELM_NAMESPACE", "arc-runners")
        .env("HELM_BIN", "/nonexistent/helm")
        .env("HELM_ARC_UNINSTALL_STATE_DIR", home.path().join("state"))
        .args(["uninstall", "arc-runner-set"]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    (cmd.output().unwrap(), sim, home)
}

fn assert_refused(env: &[(&str, &str)], var: &str, says: &str) {
    let (out, sim, _home) = run(env);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(var), "names {var}: {stderr}");
    assert!(stderr.contains(says), "says {says:?}: {stderr}");
    assert!(stderr.contains("nothing was done"), "{stderr}");
    assert!(sim.requests().is_empty(), "the server got a request");
}

#[test]
fn groups_without_a_user_are_refused() {
    assert_refused(
        &[("HELM_KUBEASGROUPS", "ops")],
        "HELM_KUBEASGROUPS",
        "without a user",
    );
}

#[test]
fn an_unknown_context_is_refused() {
    assert_refused(
        &[("HELM_KUBECONTEXT", "elsewhere")],
        "HELM_KUBECONTEXT",
        "`elsewhere` is not in the kubeconfig",
    );
}

#[test]
fn an_invalid_insecure_value_is_refused() {
    assert_refused(
        &[("HELM_KUBEINSECURE_SKIP_TLS_VERIFY", "maybe")],
        "HELM_KUBEINSECURE_SKIP_TLS_VERIFY",
        "`maybe` is not a boolean",
    );
}

#[test]
fn an_unreadable_ca_file_is_refused() {
    assert_refused(
        &[("HELM_KUBECAFILE", "/nonexistent/ca.pem")],
        "HELM_KUBECAFILE",
        "/nonexistent/ca.pem",
    );
}

#[test]
fn a_missing_kubeconfig_file_is_refused() {
    assert_refused(
        &[("KUBECONFIG", "/nonexistent/kubeconfig")],
        "KUBECONFIG",
        "/nonexistent/kubeconfig",
    );
}

#[test]
fn a_token_that_helm_would_not_send_is_refused_and_never_printed() {
    let (out, sim, _home) = run(&[
        ("HELM_KUBECONTEXT", "file-token"),
        ("HELM_KUBETOKEN", "s3cret-token"),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("HELM_KUBETOKEN") && stderr.contains("/var/run/token"));
    assert!(!stderr.contains("s3cret-token"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("s3cret-token"));
    assert!(sim.requests().is_empty());
}

#[test]
fn help_does_not_show_the_token() {
    let out = Command::new(hau_bin())
        .args(["uninstall", "--help"])
        .env("HELM_KUBETOKEN", "s3cret-token")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("--kube-token"), "{help}");
    assert!(help.contains("--kube-apiserver") && help.contains("--kube-tls-server-name"));
    assert!(!help.contains("s3cret-token"), "{help}");
}

#[test]
fn every_connection_variable_is_documented() {
    let readme = std::fs::read_to_string(support::repo_root().join("README.md")).unwrap();
    let help = Command::new(hau_bin()).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for var in [
        "KUBECONFIG",
        "HELM_KUBECONTEXT",
        "HELM_KUBEAPISERVER",
        "HELM_KUBETOKEN",
        "HELM_KUBEASUSER",
        "HELM_KUBEASGROUPS",
        "HELM_KUBECAFILE",
        "HELM_KUBEINSECURE_SKIP_TLS_VERIFY",
        "HELM_KUBETLS_SERVER_NAME",
    ] {
        assert!(readme.contains(var), "README.md does not name {var}");
        assert!(help.contains(var), "--help does not name {var}");
    }
}
