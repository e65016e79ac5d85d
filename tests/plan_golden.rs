//! Golden plans (insta) for the bundled examples and, when present, every
//! upstream ARC render in shared/fixtures/arc; plus the structural promises
//! of the plan over every ARC variant, and idempotence over `after`
//! annotations.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use helm_arc_uninstall::graph::{self, AFTER_ANNOTATION};
use helm_arc_uninstall::manifest::{self, Object, ParseOptions};
use helm_arc_uninstall::plan::{Format, for_manifest as render};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The upstream ARC renders, when present beside the repository or at /work.
fn arc_fixtures_dir() -> Option<PathBuf> {
    [
        repo().join("../shared/fixtures/arc"),
        PathBuf::from("/work/shared/fixtures/arc"),
    ]
    .into_iter()
    .find(|d| d.join("README.md").is_file())
}

/// `*.yaml` files of a directory, sorted, keyed by a snapshot-safe name.
fn yaml_files(dir: &Path, prefix: &str) -> BTreeMap<String, PathBuf> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let stem = path
                .file_stem()
                .unwrap()
                .to_str()
                .unwrap()
                .replace('.', "_");
            files.insert(format!("{prefix}{stem}"), path);
        }
    }
    files
}

/// Every fixture file (top level, head/, helm4-postrender-input/).
fn arc_fixture_files() -> Option<BTreeMap<String, PathBuf>> {
    let dir = arc_fixtures_dir()?;
    let mut files = yaml_files(&dir, "");
    files.extend(yaml_files(&dir.join("head"), "head-"));
    files.extend(yaml_files(&dir.join("helm4-postrender-input"), "helm4-"));
    Some(files)
}

/// The bundled examples that plan successfully.
fn example_files() -> BTreeMap<String, PathBuf> {
    let mut files = yaml_files(&repo().join("examples/manifests"), "");
    files.remove("cycle");
    files.extend(yaml_files(
        &repo().join("examples/runner-set"),
        "runner-set-",
    ));
    files
}

fn snapshot_plans(name: &str, path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let json = render(&text, "default", Format::Json).unwrap_or_else(|e| panic!("{name}: {e:#}"));
    let human = render(&text, "default", Format::Text).unwrap();
    insta::assert_snapshot!(format!("{name}-json"), json);
    insta::assert_snapshot!(format!("{name}-text"), human);
}

#[test]
fn example_plans_match_golden_files() {
    let files = example_files();
    assert!(files.len() >= 8, "examples missing: {files:?}");
    for (name, path) in files {
        snapshot_plans(&format!("example-{name}"), &path);
    }
}

#[test]
fn arc_fixture_plans_match_golden_files() {
    let Some(files) = arc_fixture_files() else {
        eprintln!("shared/fixtures/arc not present: skipping");
        return;
    };
    for (name, path) in files {
        snapshot_plans(&format!("arc-{name}"), &path);
    }
}

#[test]
fn cycle_example_names_every_object_and_rule() {
    let text = std::fs::read_to_string(repo().join("examples/manifests/cycle.yaml")).unwrap();
    let err = render(&text, "default", Format::Json).unwrap_err();
    insta::assert_snapshot!("example-cycle-error", format!("{err:#}"));
}

fn objects_of(path: &Path) -> Vec<Object> {
    let text = std::fs::read_to_string(path).unwrap();
    manifest::parse(&text, &ParseOptions::default())
        .unwrap()
        .objects()
        .cloned()
        .collect()
}

fn is_runner_set(o: &Object) -> bool {
    o.id.group == "actions.github.com" && o.id.kind == "AutoscalingRunnerSet"
}

/// The structural promises over one stream holding runner sets: runner sets
/// alone in wave 0, everything their cleanup annotations name later, each
/// RoleBinding before the Role it binds, and no edge between two sets.
fn assert_arc_order(name: &str, objects: &[Object]) {
    let plan = graph::plan(objects).unwrap();
    let runner_sets: Vec<usize> = (0..objects.len())
        .filter(|&i| is_runner_set(&objects[i]))
        .collect();
    assert_eq!(
        plan.waves()[0],
        runner_sets,
        "{name}: wave 0 is exactly the runner sets"
    );
    let wave = |i: usize| plan.wave(i).unwrap();
    let find = |kind: &str, ns: &Option<String>, name: &str| {
        (0..objects.len()).find(|&i| {
            objects[i].id.kind == kind
                && &objects[i].id.namespace == ns
                && objects[i].id.name == name
        })
    };
    let mut named = 0;
    for &ars in &runner_sets {
        let annotations = objects[ars].value["metadata"]["annotations"]
            .as_object()
            .unwrap();
        for (key, value) in annotations {
            let Some(suffix) = key.strip_prefix("actions.github.com/cleanup-") else {
                continue;
            };
            let kind = if suffix.contains("role-binding") {
                "RoleBinding"
            } else if suffix.contains("role") {
                "Role"
            } else if suffix.contains("service-account") {
                "ServiceAccount"
            } else {
                "Secret"
            };
            if let Some(target) = find(kind, &objects[ars].id.namespace, value.as_str().unwrap()) {
                named += 1;
                assert!(
                    wave(target) > wave(ars),
                    "{name}: {key} target after the runner set"
                );
                assert!(
                    plan.after(target).contains(&ars),
                    "{name}: {key} target waits on its runner set"
                );
            }
        }
    }
    assert!(named >= 3, "{name}: annotations name the chart objects");
    for (b, rb) in objects
        .iter()
        .enumerate()
        .filter(|(_, o)| o.id.kind == "RoleBinding")
    {
        let role = rb.value["roleRef"]["name"].as_str().unwrap();
        if let Some(r) = find("Role", &rb.id.namespace, role) {
            assert!(wave(b) < wave(r), "{name}: {} before its Role", rb.id);
        }
    }
    // Several sets: each keeps its own order (no edge joins two namespaces).
    for edge in plan.edges() {
        assert_eq!(
            objects[edge.before].id.namespace, objects[edge.after].id.namespace,
            "{name}"
        );
    }
}

#[test]
fn every_arc_variant_puts_the_runner_set_first() {
    let mut streams: Vec<(String, PathBuf)> = example_files()
        .into_iter()
        .filter(|(n, _)| n.contains("runner-set") || n.contains("runner-sets"))
        .collect();
    streams.extend(arc_fixture_files().into_iter().flatten());
    let mut checked = 0;
    for (name, path) in streams {
        let objects = objects_of(&path);
        if objects.iter().any(is_runner_set) {
            assert_arc_order(&name, &objects);
            checked += 1;
        }
    }
    assert!(checked >= 4, "runner-set streams found: {checked}");
}

#[test]
fn planning_after_annotations_gives_the_same_plan() {
    let mut streams: Vec<(String, PathBuf)> = example_files().into_iter().collect();
    streams.extend(arc_fixture_files().into_iter().flatten());
    for (name, path) in streams {
        let objects = objects_of(&path);
        let plan = graph::plan(&objects).unwrap();
        let annotated: Vec<Object> = objects
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let mut value = o.value.clone();
                if let Some(after) = plan.after_annotation(i) {
                    let metadata = value["metadata"].as_object_mut().unwrap();
                    let annotations = metadata
                        .entry("annotations")
                        .or_insert_with(|| serde_json::json!({}));
                    if annotations.is_null() {
                        *annotations = serde_json::json!({});
                    }
                    annotations[AFTER_ANNOTATION] = after.into();
                }
                Object::from_value(value, o.doc, "default").unwrap()
            })
            .collect();
        let again = graph::plan(&annotated).unwrap();
        assert_eq!(again.waves(), plan.waves(), "{name}");
        assert_eq!(
            again.edges(),
            plan.edges(),
            "{name}: same edges and reasons"
        );
    }
}
