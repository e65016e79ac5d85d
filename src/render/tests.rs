use super::*;

fn id(kind: &str, ns: Option<&str>, name: &str) -> ObjectId {
    ObjectId {
        group: String::new(),
        version: "v1".into(),
        kind: kind.into(),
        namespace: ns.map(str::to_string),
        name: name.into(),
    }
}

fn stamps(entries: &[(ObjectId, usize, Option<&str>)]) -> HashMap<ObjectId, Stamp> {
    entries
        .iter()
        .map(|(id, wave, after)| {
            (
                id.clone(),
                Stamp {
                    wave: *wave,
                    after: after.map(str::to_string),
                    successors: vec![],
                },
            )
        })
        .collect()
}

fn cm(name: &str, wave: usize) -> HashMap<ObjectId, Stamp> {
    stamps(&[(id("ConfigMap", Some("default"), name), wave, None)])
}

fn verified() -> RenderOptions {
    RenderOptions {
        verify: true,
        ..RenderOptions::default()
    }
}

fn run(input: &str, s: &HashMap<ObjectId, Stamp>) -> String {
    render_with_stamps(input, s, &verified()).unwrap()
}

#[test]
fn block_metadata_without_annotations() {
    let input = "---\n# Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a # keep\n  labels:\n    x: \"y\"\ndata:\n  k: |\n    v\n";
    let out = run(input, &cm("a", 0));
    assert_eq!(
        out,
        "---\n# Source: c/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  annotations:\n    teardown.helm-arc-uninstall/wave: \"0\"\n  name: a # keep\n  labels:\n    x: \"y\"\ndata:\n  k: |\n    v\n"
    );
    assert_eq!(run(&out, &cm("a", 0)), out, "idempotent");
}

#[test]
fn block_annotations_get_entries_on_top_with_same_indent() {
    let input = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n    name: a\n    annotations:\n        # comment\n        b: c\n";
    let s = stamps(&[(id("ConfigMap", Some("default"), "a"), 2, Some("Role/r"))]);
    let out = run(input, &s);
    assert_eq!(
        out,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n    name: a\n    annotations:\n        # comment\n        teardown.helm-arc-uninstall/wave: \"2\"\n        teardown.helm-arc-uninstall/after: \"Role/r\"\n        b: c\n"
    );
    assert_eq!(run(&out, &s), out);
    // Re-render with another plan: replaced in place, stale `after` removed.
    let again = run(&out, &cm("a", 1));
    assert_eq!(
        again,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n    name: a\n    annotations:\n        # comment\n        teardown.helm-arc-uninstall/wave: \"1\"\n        b: c\n"
    );
}

#[test]
fn flow_styles_and_json() {
    let input = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: {b: c}}\n";
    assert_eq!(
        run(input, &cm("a", 0)),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: {\"teardown.helm-arc-uninstall/wave\": \"0\", b: c}}\n"
    );
    let input = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: {}}\n";
    assert_eq!(
        run(input, &cm("a", 0)),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: {\"teardown.helm-arc-uninstall/wave\": \"0\"}}\n"
    );
    let input =
        "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"a\"}}\n";
    let out = run(input, &cm("a", 3));
    assert_eq!(
        out,
        "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"annotations\": {\"teardown.helm-arc-uninstall/wave\": \"3\"}, \"name\": \"a\"}}\n"
    );
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["metadata"]["annotations"]["teardown.helm-arc-uninstall/wave"],
        "3"
    );
    let s = stamps(&[(id("ConfigMap", Some("default"), "a"), 1, Some("Secret/s"))]);
    let with_after = run(input, &s);
    assert_eq!(
        run(&with_after, &cm("a", 3)),
        out,
        "flow removal of stale after"
    );
}

#[test]
fn empty_and_null_annotations() {
    let input = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations: # none";
    assert_eq!(
        run(input, &cm("a", 0)),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations: # none\n    teardown.helm-arc-uninstall/wave: \"0\"\n"
    );
    let input = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: }\n";
    assert_eq!(
        run(input, &cm("a", 0)),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, annotations: {\"teardown.helm-arc-uninstall/wave\": \"0\"} }\n"
    );
    let input =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n  labels: {}\n";
    assert_eq!(
        run(input, &cm("a", 0)),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    teardown.helm-arc-uninstall/wave: \"0\"\n  labels: {}\n"
    );
    let input = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations: ~ # none\n";
    assert_eq!(
        run(input, &cm("a", 0)),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations: {\"teardown.helm-arc-uninstall/wave\": \"0\"} # none\n"
    );
}

#[test]
fn hooks_comments_and_lists() {
    let input = "# top comment\n---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: h\n  annotations:\n    helm.sh/hook: pre-delete\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: a\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n";
    let s = stamps(&[
        (id("ConfigMap", Some("default"), "a"), 0, None),
        (id("ConfigMap", Some("default"), "b"), 1, None),
    ]);
    let out = run(input, &s);
    assert_eq!(
        out,
        "# top comment\n---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: h\n  annotations:\n    helm.sh/hook: pre-delete\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    annotations:\n      teardown.helm-arc-uninstall/wave: \"0\"\n    name: a\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {\"annotations\": {\"teardown.helm-arc-uninstall/wave\": \"1\"}, name: b}\n"
    );
}

#[test]
fn crlf_input_keeps_crlf() {
    let input = "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: a\r\n";
    assert_eq!(
        run(input, &cm("a", 0)),
        "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  annotations:\r\n    teardown.helm-arc-uninstall/wave: \"0\"\r\n  name: a\r\n"
    );
}

#[test]
fn fails_closed() {
    let err = |input: &str| {
        render_with_stamps(input, &cm("a", 0), &verified())
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(
            "---\n# Source: c/templates/x.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata: &m\n  name: a\n"
        ),
        "document 1 (# Source: c/templates/x.yaml): ConfigMap/default/a: cannot add annotations safely: an anchor is defined on metadata or its annotations"
    );
    assert!(
        err(
            "base: &b {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  <<: {name: a}\n"
        )
        .contains("document 1")
    );
    assert!(
        err("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  <<: {name: a}\n").contains("merge key")
    );
    assert!(
        err("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations: [x]\n")
            .contains("not a mapping")
    );
    assert!(err("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    teardown.helm-arc-uninstall/wave: |\n      7\n").contains("cannot be rewritten"));
    assert_eq!(
        err("---\n# Source: c/templates/y.yaml\nfoo: bar\n"),
        "document 1 (# Source: c/templates/y.yaml): not a Kubernetes object: missing or non-string field `apiVersion`"
    );
    assert!(
        err("apiVersion: v1\nkind: Secret\nmetadata:\n  name: other\n")
            .contains("no teardown stamp for Secret/default/other")
    );
}

#[test]
fn full_pipeline_uses_the_graph() {
    let input = "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  template:\n    spec:\n      serviceAccountName: sa\n";
    let out = render(
        input,
        &RenderOptions {
            default_namespace: "ns".into(),
            extras: Extras {
                argocd: true,
                ..Extras::default()
            },
            verify: true,
        },
    )
    .unwrap();
    let m = manifest::parse(&out, &ParseOptions::default()).unwrap();
    let waves: Vec<(String, Option<&str>, Option<&str>)> = m
        .objects()
        .map(|o| {
            (
                o.id.name.clone(),
                o.annotation(stamps::WAVE_ANNOTATION),
                o.annotation(stamps::ARGOCD_SYNC_WAVE),
            )
        })
        .collect();
    assert_eq!(
        waves,
        [
            ("sa".into(), Some("1"), Some("0")),
            ("d".into(), Some("0"), Some("1"))
        ]
    );
    assert_eq!(
        m.objects()
            .next()
            .unwrap()
            .annotation(graph::AFTER_ANNOTATION),
        Some("Deployment/d")
    );
}

#[test]
fn explicit_keys_and_tags() {
    let out = run(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  ? name\n  : a\n",
        &cm("a", 0),
    );
    assert_eq!(
        out,
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  annotations:\n    teardown.helm-arc-uninstall/wave: \"0\"\n  ? name\n  : a\n"
    );
    let out = run(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: !!map\n  name: a\n",
        &cm("a", 0),
    );
    assert!(out.contains("teardown.helm-arc-uninstall/wave"), "{out}");
}

#[test]
fn duplicate_objects_are_refused() {
    let input = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: default\n";
    let err = render(input, &verified()).unwrap_err().to_string();
    assert_eq!(
        err,
        "document 2: ConfigMap/default/a is also defined in document 1"
    );
}
