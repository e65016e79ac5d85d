use super::*;
use crate::manifest::{Content, parse};
use serde_json::Value;

const ARC_HELM4: &str = include_str!("../../examples/runner-set/helm4-postrender-input.yaml");
const ARC_HELM3: &str = include_str!("../../examples/runner-set/rendered.yaml");

fn render_opts() -> RenderOptions {
    RenderOptions::default()
}

fn hooks_of(output: &str) -> Vec<Value> {
    parse(output, &ParseOptions::default())
        .unwrap()
        .objects()
        .filter(|o| o.label("app.kubernetes.io/component") == Some(COMPONENT))
        .map(|o| o.value.clone())
        .collect()
}

fn kind_names(hooks: &[Value]) -> Vec<String> {
    hooks
        .iter()
        .map(|h| {
            format!(
                "{}/{}",
                h["kind"].as_str().unwrap(),
                h["metadata"]["name"].as_str().unwrap()
            )
        })
        .collect()
}

fn arc_output() -> String {
    render_with_hooks(ARC_HELM4, &render_opts(), &HookOptions::default()).unwrap()
}

/// The objects of waves before the last: what the hooks may touch.
fn early_targets(input: &str) -> Vec<ObjectId> {
    let manifest = parse(input, &ParseOptions::default()).unwrap();
    let objects: Vec<&Object> = manifest.objects().collect();
    let plan = graph::plan(objects.iter().copied()).unwrap();
    let waves = plan.waves();
    waves[..waves.len() - 1]
        .iter()
        .flatten()
        .map(|&i| objects[i].id.clone())
        .collect()
}

#[test]
fn arc_release_gets_service_account_rbac_and_one_job_per_early_wave_in_order() {
    let hooks = hooks_of(&arc_output());
    let base = "arc-runner-set-teardown-";
    let names = kind_names(&hooks);
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(names[0].starts_with(&format!("ServiceAccount/{base}")));
    assert!(names[1].starts_with(&format!("Role/{base}")));
    assert!(names[2].starts_with(&format!("RoleBinding/{base}")));
    assert!(names[3].starts_with(&format!("Job/{base}")) && names[3].ends_with("-w0"));
    assert!(names[4].starts_with(&format!("Job/{base}")) && names[4].ends_with("-w1"));
    let weights: Vec<i64> = hooks
        .iter()
        .map(|h| {
            h["metadata"]["annotations"]["helm.sh/hook-weight"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert_eq!(weights, [-30, -20, -10, 0, 1]);
    for h in &hooks {
        let a = &h["metadata"]["annotations"];
        assert_eq!(a["helm.sh/hook"], "pre-delete");
        assert_eq!(
            a["helm.sh/hook-delete-policy"],
            "before-hook-creation,hook-succeeded"
        );
        assert_eq!(h["metadata"]["namespace"], "arc-runners");
        assert!(h["metadata"]["name"].as_str().unwrap().len() <= 63);
        assert_eq!(
            a[POSTRENDER_FILENAME],
            "arc-runner-set/templates/helm-arc-uninstall-hooks.yaml"
        );
    }
    // Wave 0: the runner set alone; wave 1: the Secret and the RoleBindings.
    let args = |job: &Value| -> Vec<String> {
        serde_json::from_value(job["spec"]["template"]["spec"]["containers"][0]["args"].clone())
            .unwrap()
    };
    assert_eq!(
        args(&hooks[3]),
        [
            "delete",
            "--namespace=arc-runners",
            "--ignore-not-found=true",
            "--wait=true",
            "--timeout=120s",
            "AutoscalingRunnerSet.v1alpha1.actions.github.com/arc-runner-set"
        ]
    );
    let w1 = args(&hooks[4]);
    assert_eq!(
        w1[5..],
        [
            "Secret.v1./arc-runner-set-gha-rs-github-secret",
            "RoleBinding.v1.rbac.authorization.k8s.io/arc-runner-set-gha-rs-kube-mode",
            "RoleBinding.v1.rbac.authorization.k8s.io/arc-runner-set-gha-rs-manager"
        ]
    );
}

#[test]
fn jobs_are_hardened_and_bounded() {
    let hooks = hooks_of(&arc_output());
    for job in hooks.iter().filter(|h| h["kind"] == "Job") {
        let spec = &job["spec"];
        assert_eq!(spec["backoffLimit"], 1);
        assert_eq!(spec["activeDeadlineSeconds"], 270);
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        assert_eq!(pod["serviceAccountName"], hooks[0]["metadata"]["name"]);
        assert!(pod.get("initContainers").is_none());
        let c = &pod["containers"][0];
        assert_eq!(c["image"], DEFAULT_IMAGE);
        assert!(
            c.get("command").is_none(),
            "exec form through the image entrypoint"
        );
        let sc = &c["securityContext"];
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        assert_eq!(sc["readOnlyRootFilesystem"], true);
        assert_eq!(sc["runAsNonRoot"], true);
        assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
        for k in ["requests", "limits"] {
            assert!(
                c["resources"][k]["cpu"].is_string() && c["resources"][k]["memory"].is_string()
            );
        }
    }
}

/// Reads every hook Role back and checks each rule: only the four verbs,
/// always restricted by resourceNames, and every named object is one the
/// hooks delete in that namespace; and every such object is granted.
#[test]
fn hook_role_grants_nothing_beyond_the_named_objects() {
    let output = arc_output();
    let targets = early_targets(ARC_HELM4);
    let manifest = parse(&output, &ParseOptions::default()).unwrap();
    let plurals = BTreeMap::new();
    let mut granted = BTreeSet::new();
    let roles: Vec<&Object> = manifest
        .objects()
        .filter(|o| o.label("app.kubernetes.io/component") == Some(COMPONENT))
        .filter(|o| o.id.kind == "Role" || o.id.kind == "ClusterRole")
        .collect();
    assert_eq!(roles.len(), 1);
    for role in roles {
        let rules = role.value["rules"].as_array().unwrap();
        assert!(!rules.is_empty());
        for rule in rules {
            let keys: BTreeSet<&str> = rule
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                keys,
                BTreeSet::from(["apiGroups", "resources", "resourceNames", "verbs"]),
                "no nonResourceURLs or other fields"
            );
            let verbs: Vec<&str> = rule["verbs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(verbs, VERBS);
            let names = rule["resourceNames"].as_array().unwrap();
            assert!(
                !names.is_empty(),
                "a rule without resourceNames grants every object"
            );
            for group in rule["apiGroups"].as_array().unwrap() {
                for resource in rule["resources"].as_array().unwrap() {
                    let (group, resource) = (group.as_str().unwrap(), resource.as_str().unwrap());
                    assert!(group != "*" && resource != "*" && !resource.contains('/'));
                    for name in names {
                        let name = name.as_str().unwrap();
                        let target = targets.iter().find(|t| {
                            t.group == group
                                && resource_of(t, &plurals) == resource
                                && t.name == name
                                && t.namespace == role.id.namespace
                        });
                        assert!(
                            target.is_some(),
                            "{group}/{resource}/{name} is not deleted by a hook"
                        );
                        granted.insert(target.unwrap().clone());
                    }
                }
            }
        }
    }
    assert_eq!(granted, targets.iter().cloned().collect::<BTreeSet<_>>());
}

#[test]
fn rendered_stream_is_kept_byte_for_byte_and_hooks_are_appended() {
    let output = arc_output();
    let stamped = render::render(ARC_HELM4, &render_opts()).unwrap();
    assert!(output.starts_with(&stamped));
    assert!(output[stamped.len()..].starts_with("---\napiVersion: v1\nkind: ServiceAccount\n"));
}

#[test]
fn output_is_deterministic() {
    assert_eq!(arc_output(), arc_output());
}

#[test]
fn helm3_input_is_refused() {
    let err = render_with_hooks(ARC_HELM3, &render_opts(), &HookOptions::default()).unwrap_err();
    assert!(matches!(err, HookError::Helm3Input), "{err}");
    let message = err.to_string();
    assert!(message.contains("helm arc-uninstall"), "{message}");
    assert!(message.contains("Helm 3"), "{message}");
    // Without --hooks the same input renders.
    assert!(render::render(ARC_HELM3, &render_opts()).is_ok());
}

#[test]
fn single_wave_stream_gets_no_hooks() {
    let input = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n    postrenderer.helm.sh/postrender-filename: 'c/templates/a.yaml'\n";
    let output = render_with_hooks(input, &render_opts(), &HookOptions::default()).unwrap();
    assert_eq!(output, render::render(input, &render_opts()).unwrap());
}

#[test]
fn chart_hooks_are_kept_and_never_targeted() {
    let chart_hook = "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: chart-pre-delete\n  namespace: arc-runners\n  annotations:\n    helm.sh/hook: pre-delete\n    postrenderer.helm.sh/postrender-filename: 'arc-runner-set/templates/hook.yaml'\nspec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}\n";
    let input = format!("{ARC_HELM4}{chart_hook}");
    let output = render_with_hooks(&input, &render_opts(), &HookOptions::default()).unwrap();
    assert!(output.contains(chart_hook), "chart hook document untouched");
    assert!(!output.contains("Job.v1.batch/chart-pre-delete"));
}

#[test]
fn names_never_collide_with_chart_objects() {
    let first = render_with_hooks(ARC_HELM4, &render_opts(), &HookOptions::default()).unwrap();
    let base = hooks_of(&first)[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let clash = format!(
        "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {base}\n  namespace: arc-runners\n  annotations:\n    postrenderer.helm.sh/postrender-filename: 'arc-runner-set/templates/x.yaml'\n"
    );
    let input = format!("{ARC_HELM4}{clash}");
    let output = render_with_hooks(&input, &render_opts(), &HookOptions::default()).unwrap();
    let hooks = hooks_of(&output);
    let other = hooks[0]["metadata"]["name"].as_str().unwrap();
    assert_ne!(other, base);
    assert!(other.starts_with("arc-runner-set-teardown-"));
}

#[test]
fn long_names_stay_within_63_characters() {
    let long = "a".repeat(60);
    let input = ARC_HELM4.replace("name: arc-runner-set\n", &format!("name: {long}\n"));
    let output = render_with_hooks(&input, &render_opts(), &HookOptions::default()).unwrap();
    for h in hooks_of(&output) {
        let name = h["metadata"]["name"].as_str().unwrap();
        assert!(name.len() <= 63 && is_dns_label(name), "{name}");
    }
}

#[test]
fn kept_objects_are_not_deleted_by_hooks() {
    let input = ARC_HELM4.replace(
        "    postrenderer.helm.sh/postrender-filename: 'arc-runner-set/templates/githubsecret.yaml'",
        "    helm.sh/resource-policy: keep\n    postrenderer.helm.sh/postrender-filename: 'arc-runner-set/templates/githubsecret.yaml'",
    );
    assert_ne!(input, ARC_HELM4);
    let output = render_with_hooks(&input, &render_opts(), &HookOptions::default()).unwrap();
    assert!(!output.contains("Secret.v1./arc-runner-set-gha-rs-github-secret"));
    assert!(!output.contains("- arc-runner-set-gha-rs-github-secret\n  verbs"));
}

#[test]
fn options_reach_the_pods() {
    let opts = HookOptions {
        image: "registry.example/kubectl@sha256:0123".into(),
        namespace: Some("ops".into()),
        timeout_seconds: 30,
        active_deadline_seconds: 90,
        backoff_limit: 0,
        image_pull_secrets: vec!["pull".into()],
        node_selector: vec![("kubernetes.io/os".into(), "linux".into())],
        tolerations: vec![Toleration::parse("dedicated=ci:NoSchedule").unwrap()],
    };
    let output = render_with_hooks(ARC_HELM4, &render_opts(), &opts).unwrap();
    let hooks = hooks_of(&output);
    assert_eq!(hooks[0]["metadata"]["namespace"], "ops");
    // Roles and bindings stay in the objects' namespace; the subject is in `ops`.
    assert_eq!(hooks[1]["metadata"]["namespace"], "arc-runners");
    assert_eq!(hooks[2]["subjects"][0]["namespace"], "ops");
    let job = &hooks[3];
    assert_eq!(job["metadata"]["namespace"], "ops");
    assert_eq!(job["spec"]["activeDeadlineSeconds"], 90);
    assert_eq!(job["spec"]["backoffLimit"], 0);
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(
        pod["imagePullSecrets"],
        serde_json::json!([{"name": "pull"}])
    );
    assert_eq!(
        pod["nodeSelector"],
        serde_json::json!({"kubernetes.io/os": "linux"})
    );
    assert_eq!(
        pod["tolerations"],
        serde_json::json!([{"key": "dedicated", "operator": "Equal", "value": "ci", "effect": "NoSchedule"}])
    );
    assert_eq!(
        pod["containers"][0]["image"],
        "registry.example/kubectl@sha256:0123"
    );
    assert!(
        pod["containers"][0]["args"]
            .as_array()
            .unwrap()
            .contains(&Value::from("--timeout=30s"))
    );
}

#[test]
fn bad_options_are_refused() {
    for opts in [
        HookOptions {
            image: "".into(),
            ..Default::default()
        },
        HookOptions {
            namespace: Some("Not_A_Namespace".into()),
            ..Default::default()
        },
    ] {
        let err = render_with_hooks(ARC_HELM4, &render_opts(), &opts).unwrap_err();
        assert!(matches!(err, HookError::Option(_)), "{err}");
    }
}

#[test]
fn objects_in_several_namespaces_run_one_kubectl_per_namespace_in_sequence() {
    let input = "\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: sa
  namespace: a
  annotations:
    postrenderer.helm.sh/postrender-filename: 'c/templates/x.yaml'
---
apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: a
  annotations:
    postrenderer.helm.sh/postrender-filename: 'c/templates/x.yaml'
spec:
  serviceAccountName: sa
  containers: [{name: c, image: x}]
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
  namespace: b
  annotations:
    postrenderer.helm.sh/postrender-filename: 'c/templates/x.yaml'
    teardown.helm-arc-uninstall/before: ServiceAccount/a/sa
spec:
  selector: {matchLabels: {a: b}}
  template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: x}]}}
";
    let output = render_with_hooks(input, &render_opts(), &HookOptions::default()).unwrap();
    let hooks = hooks_of(&output);
    let kinds: Vec<String> = kind_names(&hooks);
    let roles: Vec<&Value> = hooks.iter().filter(|h| h["kind"] == "Role").collect();
    assert_eq!(roles.len(), 2, "{kinds:?}");
    let job = hooks.iter().find(|h| h["kind"] == "Job").unwrap();
    let pod = &job["spec"]["template"]["spec"];
    let init = pod["initContainers"].as_array().unwrap();
    assert_eq!(init.len(), 1);
    assert!(
        init[0]["args"]
            .as_array()
            .unwrap()
            .contains(&Value::from("--namespace=a"))
    );
    assert!(
        pod["containers"][0]["args"]
            .as_array()
            .unwrap()
            .contains(&Value::from("--namespace=b"))
    );
}

#[test]
fn tolerations_parse_like_kubectl_taint() {
    assert_eq!(
        Toleration::parse("k=v:NoExecute").unwrap(),
        Toleration {
            key: "k".into(),
            value: Some("v".into()),
            effect: Some("NoExecute".into())
        }
    );
    assert_eq!(
        Toleration::parse("k").unwrap(),
        Toleration {
            key: "k".into(),
            value: None,
            effect: None
        }
    );
    assert!(Toleration::parse("k:Sometimes").is_err());
    assert!(Toleration::parse("=v").is_err());
}

#[test]
fn resources_follow_kubernetes_pluralisation() {
    let id = |group: &str, kind: &str| ObjectId {
        group: group.into(),
        version: "v1".into(),
        kind: kind.into(),
        namespace: None,
        name: "x".into(),
    };
    let none = BTreeMap::new();
    assert_eq!(resource_of(&id("", "Secret"), &none), "secrets");
    assert_eq!(
        resource_of(&id("networking.k8s.io", "NetworkPolicy"), &none),
        "networkpolicies"
    );
    assert_eq!(
        resource_of(&id("networking.k8s.io", "Ingress"), &none),
        "ingresses"
    );
    assert_eq!(resource_of(&id("", "Endpoints"), &none), "endpoints");
    assert_eq!(
        resource_of(&id("actions.github.com", "AutoscalingRunnerSet"), &none),
        "autoscalingrunnersets"
    );
    let crds = BTreeMap::from([(
        ("example.com".to_string(), "Moose".to_string()),
        "moose".to_string(),
    )]);
    assert_eq!(resource_of(&id("example.com", "Moose"), &crds), "moose");
}

#[test]
fn generated_documents_are_single_objects() {
    let output = arc_output();
    let manifest = parse(&output, &ParseOptions::default()).unwrap();
    let hook_docs = manifest
        .documents
        .iter()
        .filter(|d| matches!(&d.content, Content::Object(o) if o.label("app.kubernetes.io/component") == Some(COMPONENT)))
        .count();
    assert_eq!(hook_docs, 5);
}

/// The Flux example's vendored hooks: `render --hooks` of the example runner
/// set (kubernetes mode), hook documents only, without Helm 4's file-name
/// annotation. `HAU_UPDATE_EXAMPLES=1` rewrites the file.
#[test]
fn flux_example_hooks_are_current() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/pipelines/flux/arc-runner-set-teardown/templates/teardown-hooks.yaml"
    );
    let output = arc_output();
    let stamped = render::render(ARC_HELM4, &render_opts()).unwrap();
    let hooks: String = output[stamped.len()..]
        .lines()
        .filter(|l| !l.contains(POSTRENDER_FILENAME))
        .map(|l| format!("{l}\n"))
        .collect();
    let expected = format!(
        "# Generated by `helm-arc-uninstall render --hooks` from the Helm 4 render of\n\
         # gha-runner-scale-set 0.14.2, release arc-runner-set in arc-runners, kubernetes\n\
         # mode (examples/runner-set/helm4-postrender-input.yaml); only the hook\n\
         # documents, without the postrender-filename annotation. Regenerate with the\n\
         # command in examples/pipelines/README.md when the runner set's values change.\n\
         {hooks}"
    );
    if std::env::var_os("HAU_UPDATE_EXAMPLES").is_some() {
        std::fs::write(path, &expected).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == expected,
        "{path} is stale: rerun with HAU_UPDATE_EXAMPLES=1"
    );
}

#[test]
fn hooks_already_in_the_input_are_kept_and_not_added_again() {
    let once = arc_output();
    let twice = render_with_hooks(&once, &render_opts(), &HookOptions::default()).unwrap();
    assert_eq!(hooks_of(&twice).len(), 5);
    assert_eq!(twice, render::render(&once, &render_opts()).unwrap());
}

#[test]
fn cluster_scoped_objects_get_a_cluster_role_with_resource_names() {
    let input = "\
apiVersion: v1
kind: ServiceAccount
metadata:
  name: sa
  namespace: a
  annotations:
    postrenderer.helm.sh/postrender-filename: 'c/templates/x.yaml'
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: crb
  annotations:
    postrenderer.helm.sh/postrender-filename: 'c/templates/x.yaml'
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: sa, namespace: a}]
";
    let output = render_with_hooks(input, &render_opts(), &HookOptions::default()).unwrap();
    let hooks = hooks_of(&output);
    let kinds: Vec<&str> = hooks.iter().map(|h| h["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Job"]
    );
    let role = &hooks[1];
    assert!(role["metadata"].get("namespace").is_none());
    assert_eq!(
        role["rules"],
        serde_json::json!([{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterrolebindings"],
                            "resourceNames": ["crb"], "verbs": VERBS}])
    );
    assert_eq!(hooks[2]["subjects"][0]["namespace"], "a");
    let args = hooks[3]["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap();
    assert!(
        !args
            .iter()
            .any(|a| a.as_str().unwrap().starts_with("--namespace"))
    );
    assert!(args.contains(&Value::from(
        "ClusterRoleBinding.v1.rbac.authorization.k8s.io/crb"
    )));
}
