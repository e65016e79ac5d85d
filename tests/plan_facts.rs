//! The compact model `render` plans from equals the full one: on every YAML
//! file of `examples/`, `tests/data/` and the shared ARC fixtures (when
//! present), planning from `graph::Facts` extracted while decoding, with the
//! objects' values dropped, gives the same waves, edges,
//! reasons and `after` annotations (or the same error) as planning the full
//! objects; and `render` without `--verify` (which keeps only what it needs)
//! writes exactly what `render --verify` (full values) writes. A rule that
//! starts reading a field `graph::Facts` does not carry fails here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use helm_arc_uninstall::graph::{self, Facts};
use helm_arc_uninstall::manifest::{self, ParseOptions};
use helm_arc_uninstall::render::{self, Extras, RenderOptions};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Every `.yaml` file below `dir`, sorted.
fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml") {
            out.push(path);
        }
    }
}

fn fixtures() -> Vec<PathBuf> {
    let root = support::repo_root();
    let mut files = Vec::new();
    yaml_files(&root.join("examples"), &mut files);
    yaml_files(&root.join("tests/data"), &mut files);
    match support::arc_fixtures_dir() {
        Some(dir) => yaml_files(&dir, &mut files),
        None => eprintln!("shared/fixtures/arc not found: checking the project's own files only"),
    }
    files.sort();
    files
}

/// A plan as comparable text: waves, edges with every reason, `after` values.
fn describe(plan: &graph::Teardown<'_>) -> String {
    let ids: Vec<String> = plan.objects().iter().map(|o| o.id.to_string()).collect();
    let mut out = format!("waves {:?}\n", plan.waves());
    for e in plan.edges() {
        out.push_str(&format!(
            "{} -> {}: {:?}\n",
            ids[e.before], ids[e.after], e.reasons
        ));
    }
    for (i, id) in ids.iter().enumerate() {
        out.push_str(&format!("{id} after {:?}\n", plan.after_annotation(i)));
    }
    out
}

/// Plan `text` from full values and from facts; both must agree.
fn assert_same_plan(name: &str, text: &str) {
    let opts = ParseOptions {
        default_namespace: "arc-runners".into(),
    };
    let Ok(full) = manifest::parse(text, &opts) else {
        return;
    };
    let mut facts = Vec::new();
    let compact = manifest::parse_with(text, &opts, |object| {
        facts.push(Facts::of(&object.value));
        object.value = Value::Null;
    })
    .unwrap();
    let full_objects: Vec<_> = full.objects().collect();
    let compact_objects: Vec<_> = compact.objects().collect();
    if full
        .documents
        .iter()
        .any(|d| matches!(d.content, manifest::Content::NotAnObject { .. }))
    {
        return;
    }
    assert_eq!(
        facts.len(),
        compact_objects.len(),
        "{name}: facts out of step"
    );
    let ids = |objects: &[&manifest::Object]| -> Vec<String> {
        objects.iter().map(|o| o.id.to_string()).collect()
    };
    assert_eq!(
        ids(&full_objects),
        ids(&compact_objects),
        "{name}: identities"
    );
    let from_full = graph::plan(full_objects.iter().copied()).map(|p| describe(&p));
    let from_facts =
        graph::plan_with_facts(compact_objects.iter().copied().zip(facts)).map(|p| describe(&p));
    assert_eq!(
        from_full.map_err(|e| e.to_string()),
        from_facts.map_err(|e| e.to_string()),
        "{name}: plans differ"
    );
}

#[test]
fn every_fixture_plans_the_same_from_facts() {
    let files = fixtures();
    assert!(files.len() >= 10, "fixtures found: {files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        assert_same_plan(&file.display().to_string(), &text);
    }
}

#[test]
fn every_fixture_renders_the_same_without_verification() {
    for file in fixtures() {
        let name = file.display().to_string();
        let input = std::fs::read_to_string(&file).unwrap();
        for extras in [
            Extras::default(),
            Extras {
                argocd: true,
                kapp: true,
                depends_on: true,
            },
        ] {
            let opts = |verify| RenderOptions {
                default_namespace: "arc-runners".into(),
                extras,
                verify,
            };
            let verified = render::render(&input, &opts(true)).map_err(|e| e.to_string());
            let fast = render::render(&input, &opts(false)).map_err(|e| e.to_string());
            assert_eq!(fast, verified, "{name}: fast and verified render differ");
        }
    }
}
