//! `render` fidelity: over every fixture (the project's own examples and, when
//! present, the shared upstream ARC renders in Helm 3 and Helm 4 form) and a
//! generated corpus of awkward scalars, the output is byte-identical to the
//! input outside the added annotation lines, and kubectl's YAML parser (Go
//! YAML 1.1, `kubectl annotate --local -o json`) sees exactly the input
//! objects plus the added annotations. The same oracle checks that our own
//! parser decodes every input to the values Go does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use helm_arc_uninstall::manifest::{self, ParseOptions};
use helm_arc_uninstall::render::{self, RenderOptions};
use proptest::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use support::{HelmHome, arc_fixtures_dir, kubectl_objects};

/// Annotation keys `render` may add.
const ADDED: &[&str] = &[
    "teardown.helm-arc-uninstall/wave",
    "teardown.helm-arc-uninstall/after",
    "argocd.argoproj.io/sync-wave",
    "kapp.k14s.io/change-group",
    "kapp.k14s.io/change-rule",
    "config.kubernetes.io/depends-on",
];

fn opts() -> RenderOptions {
    RenderOptions {
        default_namespace: "arc-runners".into(),
        extras: render::Extras {
            argocd: true,
            kapp: true,
            depends_on: true,
        },
        verify: true,
    }
}

/// The project's own example renders plus the shared fixtures when present.
fn fixture_files() -> Vec<PathBuf> {
    let root = support::repo_root();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("examples/runner-set"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    if let Some(dir) = arc_fixtures_dir() {
        for sub in [
            dir.clone(),
            dir.join("head"),
            dir.join("helm4-postrender-input"),
        ] {
            files.extend(support::arc_helm3_fixtures(&sub));
        }
    } else {
        eprintln!("shared/fixtures/arc not found: checking the project's own examples only");
    }
    files.sort();
    files
}

/// Numbers beyond i64 are floats in kubectl's unstructured objects.
fn normalize(v: &mut Value) {
    match v {
        Value::Number(n) if n.as_i64().is_none() && n.as_f64().is_some() && !n.is_f64() => {
            *v = serde_json::json!(n.as_f64().unwrap());
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        Value::Object(map) => map.values_mut().for_each(normalize),
        _ => {}
    }
}

/// kubectl's annotate rewrites `metadata.annotations` as a string map: a
/// null or empty map comes back absent and null values as "".
fn drop_empty_annotations(v: &mut Value) {
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            for value in ann.values_mut().filter(|v| v.is_null()) {
                *value = Value::String(String::new());
            }
        }
        let empty = meta
            .get("annotations")
            .is_some_and(|a| a.is_null() || a.as_object().is_some_and(|m| m.is_empty()));
        if empty {
            meta.remove("annotations");
        }
    }
}

/// Remove the annotations `render` adds (and an emptied annotations map).
fn strip_added(mut object: Value, input_had_annotations: bool) -> Value {
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return object;
    };
    if let Some(ann) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
        for key in ADDED {
            ann.remove(*key);
        }
        if ann.is_empty() && !input_had_annotations {
            meta.remove("annotations");
        }
    }
    object
}

/// Our parser agrees with Go's on the input, and kubectl sees the output as
/// the input plus annotations (a wave on every non-hook object).
fn check_with_oracle(home: &HelmHome, name: &str, input: &str, output: &str) {
    let go_in = kubectl_objects(home, input);
    let ours: Vec<Value> = manifest::parse(input, &ParseOptions::default())
        .unwrap()
        .objects()
        .map(|o| {
            let mut v = o.value.clone();
            normalize(&mut v);
            drop_empty_annotations(&mut v);
            v
        })
        .collect();
    let mut go_norm = go_in.clone();
    go_norm.iter_mut().for_each(normalize);
    if ours != go_norm {
        let dump = std::env::temp_dir().join("render-fidelity-mismatch.yaml");
        std::fs::write(&dump, input).unwrap();
        let (a, b) = ours
            .iter()
            .zip(&go_norm)
            .find(|(a, b)| a != b)
            .unwrap_or((&Value::Null, &Value::Null));
        panic!(
            "{name}: our parser decodes differently from Go YAML (input in {}; {} vs {} objects)\nours: {a}\ngo:   {b}",
            dump.display(),
            ours.len(),
            go_norm.len()
        );
    }
    let go_out = kubectl_objects(home, output);
    assert_eq!(go_in.len(), go_out.len(), "{name}: object count changed");
    for (before, after) in go_in.iter().zip(go_out) {
        let hook = before["metadata"]["annotations"]["helm.sh/hook"].is_string();
        let wave = after["metadata"]["annotations"]["teardown.helm-arc-uninstall/wave"].as_str();
        assert_eq!(
            wave.is_some(),
            !hook,
            "{name}: wave on {}",
            before["metadata"]["name"]
        );
        let had = before["metadata"].get("annotations").is_some();
        assert_eq!(
            &strip_added(after, had),
            before,
            "{name}: object changed beyond the added annotations"
        );
    }
}

/// Every input line is in the output, in order; every other output line is
/// an added annotation entry or an added `annotations:` key.
fn assert_only_added_lines(name: &str, input: &str, output: &str) {
    let mut input_lines = input.split_inclusive('\n').peekable();
    for line in output.split_inclusive('\n') {
        if input_lines.peek() == Some(&line) {
            input_lines.next();
            continue;
        }
        let t = line.trim();
        let added = t == "annotations:" || ADDED.iter().any(|k| t.starts_with(&format!("{k}: \"")));
        assert!(
            added,
            "{name}: output line {line:?} is neither input nor an added annotation"
        );
    }
    assert_eq!(
        input_lines.next(),
        None,
        "{name}: input lines missing from the output"
    );
}

#[test]
fn every_fixture_renders_byte_faithfully_and_kubectl_agrees() {
    let home = HelmHome::new();
    let files = fixture_files();
    assert!(files.len() >= 4, "fixtures found: {files:?}");
    for file in files {
        let name = file.display().to_string();
        let input = std::fs::read_to_string(&file).unwrap();
        let output = render::render(&input, &opts()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let fast = render::render(
            &input,
            &RenderOptions {
                verify: false,
                ..opts()
            },
        )
        .unwrap();
        assert_eq!(fast, output, "{name}: the unverified path differs");
        assert_only_added_lines(&name, &input, &output);
        assert_eq!(
            render::render(&output, &opts()).unwrap(),
            output,
            "{name}: not idempotent"
        );
        check_with_oracle(&home, &name, &input, &output);
    }
}

#[test]
fn awkward_manifest_golden_and_oracle() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/render-awkward.yaml");
    let input = std::fs::read_to_string(path).unwrap();
    let output = render::render(
        &input,
        &RenderOptions {
            verify: true,
            ..RenderOptions::default()
        },
    )
    .unwrap();
    insta::assert_snapshot!("render_awkward", output);
    assert_eq!(
        render::render(
            &output,
            &RenderOptions {
                verify: true,
                ..RenderOptions::default()
            }
        )
        .unwrap(),
        output
    );
    check_with_oracle(&HelmHome::new(), "render-awkward.yaml", &input, &output);
}

/// Awkward scalar texts, each with the styles it may be written in.
fn scalar() -> impl Strategy<Value = String> {
    let plain_safe = prop::sample::select(vec![
        "yes",
        "no",
        "on",
        "off",
        "y",
        "n",
        "Y",
        "NO",
        "True",
        "FALSE",
        "~",
        "null",
        "Null",
        "0777",
        "08",
        "0o17",
        "1_000",
        "1:20",
        "190:20:30",
        "0x1F",
        "0b101",
        "-0b11",
        ".5",
        "-.5",
        "1e3",
        "1E-2",
        "1.",
        "-0",
        "+12",
        "2001-12-14",
        "2001-12-14t21:59:43.10-05:00",
        "2001-12-14 21:59:43.10 -5",
        "12:30:00",
        "0.",
        "1__0",
        "99999999999999999999",
        "9223372036854775808",
        "-9223372036854775809",
        "<<",
        "=",
        "é✓",
        "a b",
        "x#y",
        ".nan.",
        "0x",
        "1e",
        "_1",
        "oN",
        "nULL",
        "3.14",
        "-0.0",
    ]);
    let quoted_only = prop::sample::select(vec![
        "",
        " lead",
        "trail ",
        "#hash",
        "a: b",
        "- x",
        "{a}",
        "[b]",
        "*alias",
        "&anchor",
        "!tag",
        "%pct",
        "@at",
        "line1\nline2",
        "tab\there",
        "quote\"s",
        "it's",
        "back\\slash",
        "---",
        "...",
        "? q",
    ]);
    let text = prop_oneof![
        plain_safe.prop_map(str::to_string),
        quoted_only.prop_map(str::to_string)
    ];
    (text, 0..4u8).prop_map(|(t, style)| {
        let plain_ok = !t.is_empty()
            && !t.contains([
                '\n', '\t', '"', '\'', '\\', '#', ':', '{', '[', '*', '&', '!', '%', '@', '?',
            ])
            && !t.starts_with([' ', '-', '.'])
            && !t.ends_with(' ')
            || [
                "1:20",
                "190:20:30",
                "12:30:00",
                "-0b11",
                "-.5",
                "-0",
                ".5",
                "-9223372036854775809",
                "-0.0",
                "x#y",
                ".nan.",
            ]
            .contains(&t.as_str());
        match style {
            0 if plain_ok => t,
            1 if !t.contains(['\n', '\t']) => format!("'{}'", t.replace('\'', "''")),
            3 if t.contains('\n') => format!(
                "|-\n{}",
                t.lines()
                    .map(|l| format!("      {l}\n"))
                    .collect::<String>()
                    .trim_end()
            ),
            _ => serde_json::to_string(&t).unwrap(),
        }
    })
}

/// Keys Go cannot turn into JSON (null, merge, unsigned 64-bit) or that
/// are block scalars are replaced by a plain word.
fn plain_key(k: &str) -> &str {
    let bad = ["~", "null", "Null", "<<", "9223372036854775808", "\"\""];
    if k.starts_with('|') || bad.contains(&k) {
        "key"
    } else {
        k
    }
}

/// A document with awkward values and one of several metadata shapes.
fn document() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((scalar(), scalar()), 1..6),
        0..6u8,
        0..3u8,
    )
        .prop_map(|(pairs, meta_shape, body_shape)| {
            let name = format!(
                "w{}",
                pairs.len() * 7 + meta_shape as usize * 3 + body_shape as usize
            );
            let metadata = match meta_shape {
                0 => format!("metadata:\n  name: {name}\n"),
                1 => format!("metadata: {{name: {name}}}\n"),
                2 => format!(
                    "metadata:\n  name: {name}\n  annotations:\n    a: {}\n",
                    serde_json::to_string(&pairs[0].1).unwrap()
                ),
                3 => format!("metadata:\n  annotations:\n  name: {name}\n"),
                4 => format!("metadata:\n    annotations: {{\"x\": \"1\"}}\n    name: {name}\n"),
                _ => format!("metadata:\n  name: {name}\n  annotations: null\n"),
            };
            let body = match body_shape {
                0 => pairs
                    .iter()
                    .enumerate()
                    .map(|(i, (_, v))| format!("  k{i}: {v}\n"))
                    .collect::<String>(),
                1 => {
                    let items: Vec<String> = pairs
                        .iter()
                        .map(|(_, v)| v.replace('\n', " "))
                        .filter(|v| !v.starts_with('|'))
                        .collect();
                    format!("  list: [{}]\n", items.join(", "))
                }
                _ => pairs
                    .iter()
                    .enumerate()
                    .map(|(i, (k, v))| format!("  nested{i}:\n    {}: {v}\n", plain_key(k)))
                    .collect::<String>(),
            };
            format!("apiVersion: example.com/v1\nkind: Widget\n{metadata}spec:\n{body}")
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// Generated awkward documents: kubectl agrees with our parser on the
    /// input, and sees the output as the input plus annotations.
    #[test]
    fn awkward_scalars_survive_render(docs in prop::collection::vec(document(), 20..40)) {
        let mut input = String::new();
        for (i, doc) in docs.iter().enumerate() {
            let doc = doc.replacen("name: w", &format!("name: w{i}-"), 1).replacen("{name: w", &format!("{{name: w{i}-"), 1);
            input.push_str(&format!("---\n# Source: corpus/templates/t{i}.yaml\n{doc}"));
        }
        let home = HelmHome::new();
        let output = render::render(&input, &opts());
        prop_assert!(output.is_ok(), "refused: {:?}\n{input}", output.err().map(|e| e.to_string()));
        let output = output.unwrap();
        // The compact model (facts only, values dropped) renders the same.
        let fast = render::render(&input, &RenderOptions { verify: false, ..opts() }).unwrap();
        prop_assert_eq!(&fast, &output);
        check_with_oracle(&home, "corpus", &input, &output);
    }
}

/// Inputs the fuzzer found: each is either refused or renders idempotently,
/// with the fast and verified paths agreeing.
#[test]
fn fuzz_regressions() {
    let dir = support::repo_root().join("tests/data/fuzz-regressions");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let Ok(input) = std::fs::read_to_string(&path) else {
            continue;
        };
        let fast = render::render(&input, &RenderOptions::default());
        let checked = render::render(
            &input,
            &RenderOptions {
                verify: true,
                ..RenderOptions::default()
            },
        );
        match (fast, checked) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a, b, "{}", path.display());
                assert_eq!(
                    render::render(&a, &RenderOptions::default()).unwrap(),
                    a,
                    "{}",
                    path.display()
                );
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            (a, b) => panic!(
                "{}: fast {:?} vs verified {:?}",
                path.display(),
                a.is_ok(),
                b.is_ok()
            ),
        }
    }
}
