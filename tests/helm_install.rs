//! `helm install` with the post-renderer, on real Helm 3.17.3 and 4.1.4,
//! against the API simulator (kube-sim, 127.0.0.1): the teardown annotations
//! reach the cluster and the stored release manifest (`helm get manifest`),
//! which is where `uninstall` reads them back.
//!
//! Needs the tools from `scripts/fetch-tools` (see tests/support).
// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use kube_sim::api::{Actor, Gvk};
use kube_sim::{Sim, SimConfig};
use support::{
    Helm, HelmHome, annotation, install_plugin, kind_name, kubectl_objects, run_ok,
    with_post_renderer,
};

const WAVE: &str = "teardown.helm-arc-uninstall/wave";

fn install_with_post_renderer(helm: Helm) {
    let sim = Sim::start(SimConfig::default()).expect("simulator starts");
    let actor = Actor("test".to_string());
    arc_sim::controller::install_crds(&*sim.api(), &actor).expect("ARC CRDs");
    let home = HelmHome::new();
    sim.write_kubeconfig(&home.path().join("kubeconfig"))
        .expect("write kubeconfig");
    let plugin_dir = install_plugin(&home, helm);

    let chart = support::repo_root().join("examples/charts/arc-runner-set");
    let mut install = home.helm(helm);
    install
        .args(["install", "arc-runner-set"])
        .arg(&chart)
        .args(["-n", "arc-runners", "--create-namespace"]);
    run_ok(with_post_renderer(&mut install, &home, helm, &plugin_dir));

    // The stored release manifest carries the waves.
    let manifest =
        run_ok(
            home.helm(helm)
                .args(["get", "manifest", "arc-runner-set", "-n", "arc-runners"]),
        );
    let objects = kubectl_objects(&home, &manifest);
    assert_eq!(objects.len(), 7, "{helm:?}: {manifest}");
    for object in &objects {
        let wave = annotation(object, WAVE)
            .unwrap_or_else(|| panic!("{helm:?}: {} has no wave", kind_name(object)));
        let expected_zero = object["kind"] == "AutoscalingRunnerSet";
        assert_eq!(
            wave == "0",
            expected_zero,
            "{helm:?}: {} wave {wave}",
            kind_name(object)
        );
    }
    // Source names survive: Helm 3 stores the post-renderer's output as is;
    // Helm 4 rebuilds them from the postrender-filename annotation, which
    // render must keep.
    assert!(
        manifest.contains("# Source: arc-runner-set/templates/autoscalingrunnerset.yaml"),
        "{helm:?}: {manifest}"
    );
    assert!(
        !manifest.contains("generated-by-postrender"),
        "{helm:?}: {manifest}"
    );
    assert!(
        !manifest.contains("postrenderer.helm.sh/postrender-filename"),
        "{helm:?}"
    );

    // The live objects carry them too.
    let api = sim.api();
    let ars = api
        .get(
            &actor,
            &Gvk::new("actions.github.com/v1alpha1", "AutoscalingRunnerSet"),
            Some("arc-runners"),
            "arc-runner-set",
        )
        .expect("ARS created");
    assert_eq!(annotation(&ars, WAVE), Some("0"), "{helm:?}");
    let secret = api
        .get(
            &actor,
            &Gvk::new("v1", "Secret"),
            Some("arc-runners"),
            "arc-runner-set-gha-rs-github-secret",
        )
        .expect("Secret created");
    let secret_wave: u32 = annotation(&secret, WAVE)
        .expect("wave")
        .parse()
        .expect("number");
    assert!(secret_wave > 0, "{helm:?}");
}

#[test]
fn helm3_install_with_the_post_renderer_stores_the_waves() {
    install_with_post_renderer(Helm::V3);
}

#[test]
fn helm4_install_with_the_post_renderer_plugin_stores_the_waves() {
    install_with_post_renderer(Helm::V4);
}
