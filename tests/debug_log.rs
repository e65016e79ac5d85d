//! `--debug`, `HELM_DEBUG=true` (what `helm --debug` gives a plugin) and
//! `RUST_LOG` turn on the diagnostic log on stderr: one line per Kubernetes
//! request. Off by default; never on stdout; never the bearer token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use kube_sim::{Sim, SimConfig, TestCa};
use std::process::{Command, Output};
use support::{HelmHome, hau_bin};

const TOKEN: &str = "sekrit-token-value-0123456789";

/// `doctor -n arc-runners` (read-only) on an empty simulated cluster, with
/// `args` after it and `env` set, as Helm runs the plugin with `--kube-token`.
fn doctor(args: &[&str], env: &[(&str, &str)]) -> Output {
    let ca = TestCa::new("debug log CA").unwrap();
    let sim = Sim::start(SimConfig {
        tls: Some(ca.issue(&["127.0.0.1"]).unwrap()),
        tokens: vec![TOKEN.into()],
        ..SimConfig::default()
    })
    .unwrap();
    let home = HelmHome::new();
    std::fs::write(home.path().join("kubeconfig"), sim.kubeconfig()).unwrap();
    let ca_file = home.path().join("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    let mut cmd = Command::new(hau_bin());
    home.isolate(&mut cmd);
    cmd.env_remove("RUST_LOG")
        .env_remove("HELM_DEBUG")
        .env("HELM_KUBEAPISERVER", sim.url())
        .env("HELM_KUBETOKEN", TOKEN)
        .env("HELM_KUBECAFILE", &ca_file)
        .env("HELM_KUBEINSECURE_SKIP_TLS_VERIFY", "false")
        .args(["doctor", "-n", "arc-runners"])
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    drop(sim);
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The log lines of finished HTTP requests (kube-rs's `HTTP` span closing).
fn request_lines(out: &Output) -> Vec<String> {
    stderr(out)
        .lines()
        .filter(|l| l.contains("HTTP") && l.contains("close"))
        .map(str::to_string)
        .collect()
}

#[test]
fn quiet_by_default() {
    let out = doctor(&[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(request_lines(&out).is_empty(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("DEBUG"), "{}", stderr(&out));
}

#[test]
fn debug_flag_logs_each_request_to_stderr_only() {
    let quiet = doctor(&[], &[]);
    let out = doctor(&["--debug"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = request_lines(&out);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("GET") && l.contains("/apis/apps/v1")),
        "a line per request with its method and URL:\n{}",
        stderr(&out)
    );
    // The product's own output is the same with and without the log (but
    // for the server's port: each run has a server of its own).
    let without_port = |o: &Output| {
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        let (head, tail) = text.split_once("127.0.0.1:").expect("names the server");
        format!(
            "{head}127.0.0.1:PORT{}",
            tail.trim_start_matches(|c: char| c.is_ascii_digit())
        )
    };
    assert_eq!(without_port(&out), without_port(&quiet));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
}

#[test]
fn helm_debug_turns_it_on_as_helm_dash_dash_debug_does() {
    let out = doctor(&[], &[("HELM_DEBUG", "true")]);
    assert!(!request_lines(&out).is_empty(), "{}", stderr(&out));
    let out = doctor(&[], &[("HELM_DEBUG", "false")]);
    assert!(request_lines(&out).is_empty(), "{}", stderr(&out));
}

#[test]
fn rust_log_chooses_the_filter() {
    // Our crate's debug events only: no request spans of the client.
    let out = doctor(&["--debug"], &[("RUST_LOG", "helm_arc_uninstall=debug")]);
    assert!(request_lines(&out).is_empty(), "{}", stderr(&out));
    let out = doctor(&[], &[("RUST_LOG", "kube_client=debug")]);
    assert!(!request_lines(&out).is_empty(), "{}", stderr(&out));
    let out = doctor(&[], &[("RUST_LOG", "[[not a filter")]);
    assert!(
        stderr(&out).contains("not a valid filter"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_token_is_never_logged() {
    let out = doctor(&["--debug"], &[("RUST_LOG", "trace")]);
    assert!(!request_lines(&out).is_empty(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains(TOKEN),
        "the bearer token reached the log"
    );
}
