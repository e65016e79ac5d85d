//! `helm install` with the post-renderer, on real Helm 3.17.3 and 4.1.4,
//! against each target: the API simulator (kube-sim, 127.0.0.1) and the
//! local control plane (kube-apiserver v1.35.4 of `scripts/local-cluster`,
//! TLS, one per test process, a namespace per test): the teardown
//! annotations reach the cluster and the stored release manifest (`helm get
//! manifest`), which is where `uninstall` reads them back.
//!
//! Needs the tools from `scripts/fetch-tools` (see tests/support) and, for
//! the local target, `$HAU_CLUSTER_DIR` (set by scripts/test).
// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{
    Helm, annotation, install_plugin, kind_name, kubectl_objects, run_ok, with_post_renderer,
};
use testenv::{ScenarioEnv, Target, TargetKind};

const WAVE: &str = "teardown.helm-arc-uninstall/wave";

/// The target with ARC's CRDs (no controller), Helm `helm` pointed at it,
/// the plugin installed from this checkout; the example runner set
/// installed through the post-renderer into its own namespace.
fn install_with_post_renderer(helm: Helm, target: TargetKind) {
    let env = ScenarioEnv::new(Target::of(target), helm);
    let home = &env.helm.home;
    let ns = format!("arc-runners-{}", helm.slot());
    let plugin_dir = install_plugin(home, helm);

    let chart = support::repo_root().join("examples/charts/arc-runner-set");
    let mut install = home.helm(helm);
    install
        .args(["install", "arc-runner-set"])
        .arg(&chart)
        .args(["-n", &ns, "--create-namespace"]);
    run_ok(with_post_renderer(&mut install, home, helm, &plugin_dir));

    // The stored release manifest carries the waves.
    let manifest = run_ok(
        home.helm(helm)
            .args(["get", "manifest", "arc-runner-set", "-n", &ns]),
    );
    let objects = kubectl_objects(home, &manifest);
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
    let ars = env
        .get(
            "actions.github.com/v1alpha1",
            "AutoscalingRunnerSet",
            Some(&ns),
            "arc-runner-set",
        )
        .expect("ARS created");
    assert_eq!(annotation(&ars, WAVE), Some("0"), "{helm:?}");
    let secret = env
        .get(
            "v1",
            "Secret",
            Some(&ns),
            "arc-runner-set-gha-rs-github-secret",
        )
        .expect("Secret created");
    let secret_wave: u32 = annotation(&secret, WAVE)
        .expect("wave")
        .parse()
        .expect("number");
    assert!(secret_wave > 0, "{helm:?}");
}

/// `<name>::sim` and `<name>::local`: the scenario on each target.
macro_rules! on_both_targets {
    ($($name:ident => $helm:expr),* $(,)?) => {$(
        mod $name {
            use super::*;
            #[test]
            fn sim() {
                install_with_post_renderer($helm, TargetKind::Sim)
            }
            #[test]
            fn local() {
                install_with_post_renderer($helm, TargetKind::Local)
            }
        }
    )*};
}

on_both_targets!(
    helm3_install_with_the_post_renderer_stores_the_waves => Helm::V3,
    helm4_install_with_the_post_renderer_plugin_stores_the_waves => Helm::V4,
);
