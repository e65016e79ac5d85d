//! `helm template` with the post-renderer on real Helm 3.17.3 (the binary,
//! `--post-renderer <path> --post-renderer-args render`) and Helm 4.1.4 (the
//! `arc-uninstall-render` plugin by name), over the example chart and over a
//! static chart per upstream ARC render in shared/fixtures/arc (when present).
//!
//! Each check compares, through kubectl's YAML parser, the objects Helm
//! renders without the post-renderer with those it renders with it: equal
//! except for the added `teardown.helm-arc-uninstall/*` annotations; every
//! object has a wave, the AutoscalingRunnerSet wave 0, every object its
//! cleanup annotations name a later wave, each RoleBinding a wave before its Role.
// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{
    Helm, HelmHome, annotation, arc_fixtures_dir, arc_helm3_fixtures, chart_from_render,
    install_plugin, kind_name, kubectl_objects, output, run_ok, with_post_renderer,
};

const WAVE: &str = "teardown.helm-arc-uninstall/wave";
const ADDED_PREFIX: &str = "teardown.helm-arc-uninstall/";

/// A Helm home with the CLI plugin installed (hook pointed at the test binary).
struct Rig {
    home: HelmHome,
    helm: Helm,
    plugin_dir: PathBuf,
}

impl Rig {
    fn new(helm: Helm) -> Self {
        let home = HelmHome::new();
        let plugin_dir = install_plugin(&home, helm);
        Rig {
            home,
            helm,
            plugin_dir,
        }
    }

    /// `helm template` without and with the post-renderer, as the README
    /// documents it for this Helm version.
    fn template(
        &self,
        chart: &Path,
        release: &str,
        namespace: &str,
        extra: &[&str],
    ) -> (String, String) {
        let base = |cmd: &mut std::process::Command| {
            cmd.args(["template", release])
                .arg(chart)
                .args(["-n", namespace])
                .args(extra);
        };
        let mut plain = self.home.helm(self.helm);
        base(&mut plain);
        let plain = run_ok(&mut plain);

        let mut post = self.home.helm(self.helm);
        base(&mut post);
        with_post_renderer(&mut post, &self.home, self.helm, &self.plugin_dir);
        let out = output(&mut post);
        assert!(
            out.status.success(),
            "{:?} helm template {} with the post-renderer failed:\n{}",
            self.helm,
            chart.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        (plain, String::from_utf8(out.stdout).expect("utf-8"))
    }
}

fn identity(object: &Value) -> (String, String, String, String) {
    let field = |v: &Value| v.as_str().unwrap_or_default().to_string();
    (
        field(&object["apiVersion"]),
        field(&object["kind"]),
        field(&object["metadata"]["namespace"]),
        field(&object["metadata"]["name"]),
    )
}

fn wave_of(object: &Value) -> u32 {
    let wave = annotation(object, WAVE)
        .unwrap_or_else(|| panic!("{} has no {WAVE} annotation", kind_name(object)));
    wave.parse()
        .unwrap_or_else(|_| panic!("{}: wave {wave:?} is not a number", kind_name(object)))
}

/// Asserts the post-rendered stream is the plain one plus the teardown
/// annotations, with the ARC ordering in its waves.
fn check(home: &HelmHome, label: &str, plain: &str, rendered: &str) {
    let before: BTreeMap<_, _> = kubectl_objects(home, plain)
        .into_iter()
        .map(|o| (identity(&o), o))
        .collect();
    let after_list = kubectl_objects(home, rendered);
    assert_eq!(
        after_list.len(),
        before.len(),
        "{label}: object count changed"
    );
    let mut waves = BTreeMap::new();
    for object in &after_list {
        let id = identity(object);
        let original = before
            .get(&id)
            .unwrap_or_else(|| panic!("{label}: unexpected object {id:?}"));
        waves.insert(id.clone(), wave_of(object));
        let mut stripped = object.clone();
        if let Some(annotations) = stripped["metadata"]["annotations"].as_object_mut() {
            annotations.retain(|key, _| {
                !key.starts_with(ADDED_PREFIX)
                    || original["metadata"]["annotations"].get(key).is_some()
            });
            if annotations.is_empty() && original["metadata"].get("annotations").is_none() {
                stripped["metadata"]
                    .as_object_mut()
                    .expect("map")
                    .remove("annotations");
            }
        }
        assert_eq!(
            &stripped, original,
            "{label}: {id:?} changed beyond the added annotations"
        );
    }

    let wave_by = |kind: &str, namespace: &str, name: &str| {
        waves
            .iter()
            .find(|((_, k, ns, n), _)| k == kind && ns == namespace && n == name)
            .map(|(_, wave)| *wave)
    };
    for object in &after_list {
        let (_, kind, namespace, _) = identity(object);
        match kind.as_str() {
            "AutoscalingRunnerSet" => {
                assert_eq!(
                    wave_of(object),
                    0,
                    "{label}: {} not in wave 0",
                    kind_name(object)
                );
                let annotations = object["metadata"]["annotations"]
                    .as_object()
                    .expect("annotations");
                for (key, value) in annotations {
                    let Some(what) = key.strip_prefix("actions.github.com/cleanup-") else {
                        continue;
                    };
                    let target_kind = if what.contains("role-binding") {
                        "RoleBinding"
                    } else if what.contains("role") {
                        "Role"
                    } else if what.contains("service-account") {
                        "ServiceAccount"
                    } else if what.contains("secret") {
                        "Secret"
                    } else {
                        continue;
                    };
                    let name = value.as_str().expect("annotation value");
                    if let Some(wave) = wave_by(target_kind, &namespace, name) {
                        assert!(
                            wave > 0,
                            "{label}: {target_kind}/{name} ({key}) in wave 0 with the ARS"
                        );
                    }
                }
            }
            "RoleBinding" => {
                let role = object["roleRef"]["name"].as_str().unwrap_or_default();
                if object["roleRef"]["kind"] == "Role"
                    && let Some(role_wave) = wave_by("Role", &namespace, role)
                {
                    assert!(
                        wave_of(object) < role_wave,
                        "{label}: {} not before Role/{role}",
                        kind_name(object)
                    );
                }
            }
            _ => {}
        }
    }
}

fn example_chart() -> PathBuf {
    support::repo_root().join("examples/charts/arc-runner-set")
}

fn example_chart_renders(helm: Helm) {
    let rig = Rig::new(helm);
    for (mode, extra) in [
        ("kubernetes", &[][..]),
        ("default", &["--set", "containerMode.type="][..]),
    ] {
        let (plain, rendered) =
            rig.template(&example_chart(), "arc-runner-set", "arc-runners", extra);
        check(
            &rig.home,
            &format!("{helm:?} example chart, {mode} mode"),
            &plain,
            &rendered,
        );
    }
}

#[test]
fn helm3_template_with_the_post_renderer_over_the_example_chart() {
    example_chart_renders(Helm::V3);
}

#[test]
fn helm4_template_with_the_post_renderer_plugin_over_the_example_chart() {
    example_chart_renders(Helm::V4);
}

fn fixture_charts_render(helm: Helm) {
    let Some(dir) = arc_fixtures_dir() else {
        eprintln!("shared/fixtures/arc not present: skipping the upstream renders");
        return;
    };
    let rig = Rig::new(helm);
    let mut checked = 0;
    for fixture in arc_helm3_fixtures(&dir) {
        let render = std::fs::read_to_string(&fixture).expect("read fixture");
        let only_crds = render
            .lines()
            .filter_map(|l| l.strip_prefix("# Source: "))
            .all(|source| source.contains("/crds/"));
        // Helm 4 never passes crds/ to a post-renderer; Helm 3 does with --include-crds.
        if helm == Helm::V4 && only_crds {
            continue;
        }
        let chart = tempfile::tempdir_in(rig.home.path()).expect("chart dir");
        chart_from_render(&render, chart.path());
        let extra: &[&str] = if helm == Helm::V3 {
            &["--include-crds"]
        } else {
            &[]
        };
        let (plain, rendered) = rig.template(chart.path(), "arc-runner-set", "arc-runners", extra);
        check(
            &rig.home,
            &format!("{helm:?} {}", fixture.display()),
            &plain,
            &rendered,
        );
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} upstream renders checked");
}

#[test]
fn helm3_template_with_the_post_renderer_over_upstream_arc_renders() {
    fixture_charts_render(Helm::V3);
}

#[test]
fn helm4_template_with_the_post_renderer_plugin_over_upstream_arc_renders() {
    fixture_charts_render(Helm::V4);
}

/// The static charts built from the upstream renders reproduce them: the
/// harness the render tests rely on (runs without the post-renderer).
#[test]
fn static_charts_reproduce_the_upstream_renders() {
    let Some(dir) = arc_fixtures_dir() else {
        eprintln!("shared/fixtures/arc not present: skipping");
        return;
    };
    let home = HelmHome::new();
    for fixture in arc_helm3_fixtures(&dir) {
        let render = std::fs::read_to_string(&fixture).expect("read fixture");
        let chart = tempfile::tempdir_in(home.path()).expect("chart dir");
        chart_from_render(&render, chart.path());
        let again = run_ok(
            home.helm(Helm::V3)
                .args(["template", "arc-runner-set"])
                .arg(chart.path())
                .args(["-n", "arc-runners", "--include-crds"]),
        );
        assert_eq!(
            kubectl_objects(&home, &again),
            kubectl_objects(&home, &render),
            "{}: static chart renders different objects",
            fixture.display()
        );
    }
}

/// A chart whose explicit teardown edges form a cycle: Helm accepts it, the
/// post-renderer must refuse it.
fn cyclic_chart(dir: &Path) {
    std::fs::create_dir_all(dir.join("templates")).expect("mkdir");
    std::fs::write(
        dir.join("Chart.yaml"),
        "apiVersion: v2\nname: cyclic\nversion: 0.1.0\n",
    )
    .expect("write Chart.yaml");
    std::fs::write(
        dir.join("templates/configmaps.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    \
         teardown.helm-arc-uninstall/after: \"ConfigMap/b\"\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  annotations:\n    \
         teardown.helm-arc-uninstall/after: \"ConfigMap/a\"\n",
    )
    .expect("write template");
}

/// README.md "Where render errors go": Helm 3 shows the post-renderer's
/// message; Helm 4 drops it, and the user finds it in the render log.
#[test]
fn render_errors_reach_the_user_through_both_helm_versions() {
    for helm in Helm::ALL {
        let rig = Rig::new(helm);
        let chart = rig.home.path().join("cyclic");
        cyclic_chart(&chart);
        let mut cmd = rig.home.helm(helm);
        cmd.args(["template", "r"]).arg(&chart);
        with_post_renderer(&mut cmd, &rig.home, helm, &rig.plugin_dir);
        let out = output(&mut cmd);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{helm:?} accepted a cyclic chart");
        assert!(out.stdout.is_empty(), "{helm:?} printed a manifest");
        let log = std::fs::read_to_string(rig.home.render_log()).unwrap_or_default();
        assert!(
            log.contains("dependency cycle"),
            "{helm:?}: render log: {log:?}"
        );
        match helm {
            Helm::V3 => assert!(stderr.contains("dependency cycle"), "{stderr}"),
            Helm::V4 => assert!(
                stderr.contains("arc-uninstall-render") && !stderr.contains("dependency cycle"),
                "Helm 4 started showing post-renderer stderr; update README.md:\n{stderr}"
            ),
        }
    }
}
