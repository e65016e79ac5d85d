//! The committed renders in examples/runner-set/ are what real Helm renders
//! from examples/charts/ today (regenerate with `scripts/render-examples`),
//! and the example chart keeps the upstream ARC object set.
//!
//! Needs the tools from `scripts/fetch-tools` (see tests/support).
// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use support::{Helm, HelmHome, kind_name, kubectl_objects, run_ok};

fn examples() -> PathBuf {
    support::repo_root().join("examples")
}

fn committed(name: &str) -> String {
    fs::read_to_string(examples().join("runner-set").join(name))
        .unwrap_or_else(|e| panic!("examples/runner-set/{name}: {e}"))
}

const STALE: &str = "stale: run scripts/render-examples and commit the result";

fn helm3_template(home: &HelmHome, release: &str, chart: &str, ns: &str, extra: &[&str]) -> String {
    run_ok(
        home.helm(Helm::V3)
            .args(["template", release])
            .arg(examples().join("charts").join(chart))
            .args(["-n", ns])
            .args(extra),
    )
}

#[test]
fn committed_helm3_renders_are_current() {
    let home = HelmHome::new();
    let cases = [
        (
            "rendered.yaml",
            "arc-runner-set",
            "arc-runner-set",
            "arc-runners",
            &[][..],
        ),
        (
            "rendered-default-mode.yaml",
            "arc-runner-set",
            "arc-runner-set",
            "arc-runners",
            &["--set", "containerMode.type="][..],
        ),
        (
            "controller-rendered.yaml",
            "arc",
            "arc-controller",
            "arc-systems",
            &[][..],
        ),
    ];
    for (file, release, chart, ns, extra) in cases {
        assert_eq!(
            helm3_template(&home, release, chart, ns, extra),
            committed(file),
            "{file} {STALE}"
        );
    }
}

#[test]
fn committed_helm4_post_renderer_input_is_current() {
    let home = HelmHome::new();
    let plugin = home.path().join("capture");
    fs::create_dir_all(&plugin).expect("mkdir");
    fs::write(
        plugin.join("plugin.yaml"),
        "apiVersion: v1\ntype: postrenderer/v1\nname: hau-capture\nversion: 0.1.0\n\
         runtime: subprocess\nconfig: {}\nruntimeConfig:\n  platformCommand:\n    \
         - command: ${HELM_PLUGIN_DIR}/capture.sh\n",
    )
    .expect("write plugin.yaml");
    let script = plugin.join("capture.sh");
    fs::write(
        &script,
        "#!/bin/sh\ncat >\"$HAU_CAPTURE_FILE\" && cat \"$HAU_CAPTURE_FILE\"\n",
    )
    .expect("write capture.sh");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    run_ok(home.helm(Helm::V4).args(["plugin", "install"]).arg(&plugin));
    let captured = home.path().join("captured.yaml");
    run_ok(
        home.helm(Helm::V4)
            .args(["template", "arc-runner-set"])
            .arg(examples().join("charts/arc-runner-set"))
            .args(["-n", "arc-runners", "--post-renderer", "hau-capture"])
            .env("HAU_CAPTURE_FILE", &captured),
    );
    assert_eq!(
        fs::read_to_string(&captured).expect("captured input"),
        committed("helm4-postrender-input.yaml"),
        "helm4-postrender-input.yaml {STALE}"
    );
}

/// Kind/name of every object in a stream, in order.
fn kinds(home: &HelmHome, stream: &str) -> Vec<String> {
    kubectl_objects(home, stream)
        .iter()
        .map(kind_name)
        .collect()
}

#[test]
fn example_runner_set_has_the_upstream_object_sets() {
    let home = HelmHome::new();
    assert_eq!(
        kinds(&home, &committed("rendered.yaml")),
        [
            "ServiceAccount/arc-runner-set-gha-rs-kube-mode",
            "Secret/arc-runner-set-gha-rs-github-secret",
            "Role/arc-runner-set-gha-rs-kube-mode",
            "Role/arc-runner-set-gha-rs-manager",
            "RoleBinding/arc-runner-set-gha-rs-kube-mode",
            "RoleBinding/arc-runner-set-gha-rs-manager",
            "AutoscalingRunnerSet/arc-runner-set",
        ]
    );
    assert_eq!(
        kinds(&home, &committed("rendered-default-mode.yaml")),
        [
            "ServiceAccount/arc-runner-set-gha-rs-no-permission",
            "Secret/arc-runner-set-gha-rs-github-secret",
            "Role/arc-runner-set-gha-rs-manager",
            "RoleBinding/arc-runner-set-gha-rs-manager",
            "AutoscalingRunnerSet/arc-runner-set",
        ]
    );
    // Names follow runnerScaleSetName, not the release name, as upstream.
    let renamed = helm3_template(
        &home,
        "rel",
        "arc-runner-set",
        "ns1",
        &["--set", "runnerScaleSetName=my-runners"],
    );
    assert!(
        kinds(&home, &renamed)
            .iter()
            .all(|k| k.contains("/my-runners")),
        "{renamed}"
    );
    // A pre-existing Secret (string value): no Secret object, no cleanup annotation for it.
    let own_secret = helm3_template(
        &home,
        "rel",
        "arc-runner-set",
        "ns1",
        &["--set", "githubConfigSecret=mine"],
    );
    assert!(!own_secret.contains("kind: Secret"));
    assert!(!own_secret.contains("cleanup-github-secret-name"));
    assert!(own_secret.contains("githubConfigSecret: mine"));
}

/// With the shared upstream renders present, the example chart matches the
/// upstream chart object for object (kubernetes and default modes), apart
/// from the values hash and the token.
#[test]
fn example_runner_set_matches_upstream_when_fixtures_are_present() {
    let Some(dir) = support::arc_fixtures_dir() else {
        eprintln!("shared/fixtures/arc not present: skipping");
        return;
    };
    let home = HelmHome::new();
    let normalise = |stream: &str| {
        let mut objects = kubectl_objects(&home, stream);
        for object in &mut objects {
            if let Some(a) = object["metadata"]["annotations"].as_object_mut() {
                a.remove("actions.github.com/values-hash");
            }
            if let Some(data) = object["data"].as_object_mut() {
                for value in data.values_mut() {
                    *value = serde_json::Value::String("<redacted>".into());
                }
            }
        }
        objects
    };
    for (fixture, extra) in [
        ("kubernetes.yaml", &[][..]),
        ("default.yaml", &["--set", "containerMode.type="][..]),
    ] {
        let upstream = fs::read_to_string(dir.join(fixture)).expect("read fixture");
        let ours = helm3_template(
            &home,
            "arc-runner-set",
            "arc-runner-set",
            "arc-runners",
            extra,
        );
        assert_eq!(normalise(&ours), normalise(&upstream), "{fixture}");
    }
}
