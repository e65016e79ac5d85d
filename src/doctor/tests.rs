use super::*;
use crate::model::ObjectId;
use serde_json::json;

const NOW: i64 = 1_800_000_000;
const LONG_AGO: &str = "2026-01-01T00:00:00Z";

fn live(group: &str, kind: &str, ns: &str, name: &str, value: Value) -> Live {
    let mut value = value;
    value["metadata"]["name"] = json!(name);
    value["metadata"]["namespace"] = json!(ns);
    value["metadata"]["resourceVersion"] = json!("42");
    Live::new(
        ObjectId {
            group: group.into(),
            version: if group.is_empty() {
                "v1".into()
            } else {
                "v1alpha1".into()
            },
            kind: kind.into(),
            namespace: Some(ns.into()),
            name: name.into(),
        },
        value,
    )
}

fn controller(available: i64, version: &str) -> Live {
    live(
        "apps",
        "Deployment",
        "arc-systems",
        "arc-gha-rs-controller",
        json!({"metadata": {"labels": {"app.kubernetes.io/version": version},
            "annotations": {"meta.helm.sh/release-name": "arc"}},
            "spec": {"replicas": 1}, "status": {"availableReplicas": available}}),
    )
}

fn ars(name: &str, version: &str, terminating: bool) -> Live {
    let mut v = json!({"metadata": {
        "labels": {"app.kubernetes.io/version": version},
        "annotations": {
            "meta.helm.sh/release-name": name,
            "meta.helm.sh/release-namespace": "runners",
            "actions.github.com/cleanup-manager-role-name": format!("{name}-gha-rs-manager"),
            "actions.github.com/cleanup-manager-role-binding": format!("{name}-gha-rs-manager"),
            "actions.github.com/cleanup-no-permission-service-account-name": format!("{name}-gha-rs-no-permission"),
        },
        "finalizers": ["autoscalingrunnerset.actions.github.com/finalizer"]}});
    if terminating {
        v["metadata"]["deletionTimestamp"] = json!(LONG_AGO);
    }
    live(
        "actions.github.com",
        "AutoscalingRunnerSet",
        "runners",
        name,
        v,
    )
}

fn protected(kind: &str, name: &str, terminating: bool) -> Live {
    let group = if kind.starts_with("Role") {
        "rbac.authorization.k8s.io"
    } else {
        ""
    };
    let mut v = json!({"metadata": {"finalizers": ["actions.github.com/cleanup-protection"],
        "annotations": {"meta.helm.sh/release-name": "set"}}});
    if terminating {
        v["metadata"]["deletionTimestamp"] = json!(LONG_AGO);
    }
    live(group, kind, "runners", name, v)
}

fn snapshot(controllers: Vec<Live>, runner_sets: Vec<Live>, others: Vec<Live>) -> Snapshot {
    Snapshot {
        controllers,
        runner_sets,
        listeners: Vec::new(),
        others,
        pods: Vec::new(),
        namespace: None,
        controllers_only_in: None,
        now: NOW,
        stuck_after_seconds: DEFAULT_STUCK_AFTER_SECONDS,
    }
}

fn kinds(findings: &[Finding]) -> Vec<(FindingKind, String)> {
    findings
        .iter()
        .map(|f| (f.kind, f.object.clone()))
        .collect()
}

#[test]
fn healthy_installation_is_clean() {
    let s = snapshot(
        vec![controller(1, "0.14.2")],
        vec![ars("set", "0.14.1", false)],
        vec![protected("Role", "set-gha-rs-manager", false)],
    );
    assert_eq!(diagnose(&s), vec![]);
}

#[test]
fn upgrade_trap_is_found_and_only_it_has_a_safe_patch() {
    // The kube-mode Role was dropped by `helm upgrade` (containerMode change):
    // Terminating, protected, named by no ARS. The manager Role is named.
    let s = snapshot(
        vec![controller(1, "0.14.2")],
        vec![ars("set", "0.14.2", false)],
        vec![
            protected("Role", "set-gha-rs-kube-mode", true),
            protected("Role", "set-gha-rs-manager", false),
        ],
    );
    let findings = diagnose(&s);
    assert_eq!(
        kinds(&findings),
        vec![(
            FindingKind::UpgradeTrap,
            "Role/runners/set-gha-rs-kube-mode".to_string()
        )]
    );
    let f = &findings[0];
    assert_eq!(
        f.safe_patch,
        Some(json!([
            {"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
            {"op": "remove", "path": "/metadata/finalizers/0"}
        ]))
    );
    assert_eq!(f.release.as_deref(), Some("set"));
    assert!(
        f.fix.starts_with(
            "kubectl -n runners patch role.rbac.authorization.k8s.io set-gha-rs-kube-mode --type=json -p '[{\"op\":\"test\""
        ),
        "{}",
        f.fix
    );
}

#[test]
fn a_protected_object_an_ars_still_names_is_not_the_trap() {
    // Someone deleted the manager Role while its runner set lives: stripping
    // the finalizer would break the runner set's cleanup. Not safe, not the trap.
    let s = snapshot(
        vec![controller(1, "0.14.2")],
        vec![ars("set", "0.14.2", false)],
        vec![protected("Role", "set-gha-rs-manager", true)],
    );
    let findings = diagnose(&s);
    assert_eq!(
        kinds(&findings),
        vec![(
            FindingKind::StuckTerminating,
            "Role/runners/set-gha-rs-manager".to_string()
        )]
    );
    assert_eq!(findings[0].safe_patch, None);
}

#[test]
fn controller_down_makes_every_terminating_object_stuck_with_the_scale_up_fix() {
    let s = snapshot(
        vec![controller(0, "0.14.2")],
        vec![ars("set", "0.14.2", true)],
        vec![protected("Role", "set-gha-rs-manager", true)],
    );
    let findings = diagnose(&s);
    assert_eq!(
        kinds(&findings),
        vec![
            (
                FindingKind::ControllerUnavailable,
                "Deployment/arc-systems/arc-gha-rs-controller".to_string()
            ),
            (
                FindingKind::StuckTerminating,
                "AutoscalingRunnerSet/runners/set".to_string()
            ),
            (
                FindingKind::StuckTerminating,
                "Role/runners/set-gha-rs-manager".to_string()
            ),
        ]
    );
    let ars = &findings[1];
    assert_eq!(
        ars.finalizers,
        vec!["autoscalingrunnerset.actions.github.com/finalizer"]
    );
    assert_eq!(
        ars.owner.as_deref(),
        Some("ARC controller (AutoscalingRunnerSet reconciler)")
    );
    assert!(
        ars.fix.starts_with(
            "kubectl -n arc-systems scale deployment/arc-gha-rs-controller --replicas=1"
        )
    );
    assert!(findings.iter().all(|f| f.safe_patch.is_none()));
}

#[test]
fn controller_gone_suggests_the_rescue_command() {
    let s = snapshot(vec![], vec![ars("set", "0.14.2", true)], vec![]);
    let findings = diagnose(&s);
    assert_eq!(findings[0].kind, FindingKind::ControllerMissing);
    assert_eq!(findings[1].kind, FindingKind::StuckTerminating);
    assert_eq!(
        findings[1].fix,
        "helm arc-uninstall set -n runners --rescue --force-finalizers   # controller gone: strip ARC's finalizers bottom-up"
    );
}

#[test]
fn recent_deletion_with_a_live_controller_is_in_progress_not_stuck() {
    let mut recent = ars("set", "0.14.2", true);
    recent.value["metadata"]["deletionTimestamp"] = json!("2027-01-15T07:59:00Z"); // 60 s before NOW
    assert_eq!(
        jiff::Timestamp::from_second(NOW)
            .ok()
            .map(|t| t.to_string()),
        Some("2027-01-15T08:00:00Z".to_string())
    );
    let s = snapshot(vec![controller(1, "0.14.2")], vec![recent], vec![]);
    assert_eq!(diagnose(&s), vec![]);
    let old = snapshot(
        vec![controller(1, "0.14.2")],
        vec![ars("set", "0.14.2", true)],
        vec![],
    );
    let findings = diagnose(&old);
    assert_eq!(findings.len(), 1);
    assert!(
        findings[0]
            .fix
            .contains("logs deployment/arc-gha-rs-controller")
    );
}

#[test]
fn orphaned_listener_rbac_is_found() {
    let labels = json!({"metadata": {"labels": {
        "auto-scaling-listener-name": "set-6c9b97c4-listener",
        "auto-scaling-listener-namespace": "arc-systems"}}});
    let role = live(
        "rbac.authorization.k8s.io",
        "Role",
        "runners",
        "set-6c9b97c4-listener",
        labels.clone(),
    );
    let rb = live(
        "rbac.authorization.k8s.io",
        "RoleBinding",
        "runners",
        "set-6c9b97c4-listener",
        labels,
    );
    let mut s = snapshot(vec![controller(1, "0.14.2")], vec![], vec![role, rb]);
    let findings = diagnose(&s);
    assert_eq!(findings.len(), 2);
    assert!(
        findings
            .iter()
            .all(|f| f.kind == FindingKind::OrphanedListenerRbac)
    );
    assert_eq!(
        findings[0].fix,
        "kubectl -n runners delete role.rbac.authorization.k8s.io set-6c9b97c4-listener"
    );
    // With its listener present, nothing is wrong.
    s.listeners.push(live(
        "actions.github.com",
        "AutoscalingListener",
        "arc-systems",
        "set-6c9b97c4-listener",
        json!({}),
    ));
    assert_eq!(diagnose(&s), vec![]);
}

#[test]
fn version_skew_compares_major_minor() {
    let s = snapshot(
        vec![controller(1, "0.14.2")],
        vec![ars("new", "0.14.0", false), ars("old", "0.13.1", false)],
        vec![],
    );
    let findings = diagnose(&s);
    assert_eq!(
        kinds(&findings),
        vec![(
            FindingKind::VersionSkew,
            "AutoscalingRunnerSet/runners/old".to_string()
        )]
    );
    assert!(findings[0].fix.contains("--version 0.14.2"));
    assert_eq!(findings[0].release.as_deref(), Some("old"));
}

#[test]
fn major_minor_parses_versions() {
    assert_eq!(major_minor("0.14.2"), Some((0, 14)));
    assert_eq!(major_minor("v1.2"), Some((1, 2)));
    assert_eq!(major_minor("0.15-rc1"), Some((0, 15)));
    assert_eq!(major_minor("latest"), None);
}

#[test]
fn release_filter_keeps_controller_findings() {
    let s = snapshot(
        vec![controller(0, "0.14.2")],
        vec![ars("a", "0.14.2", true), ars("b", "0.14.2", true)],
        vec![],
    );
    let only_a = for_release(diagnose(&s), "a");
    assert_eq!(
        kinds(&only_a),
        vec![
            (
                FindingKind::ControllerUnavailable,
                "Deployment/arc-systems/arc-gha-rs-controller".to_string()
            ),
            (
                FindingKind::StuckTerminating,
                "AutoscalingRunnerSet/runners/a".to_string()
            ),
        ]
    );
}

#[test]
fn upgrade_trap_still_used_by_draining_runners_is_reported_not_patched() {
    // After an upgrade the old GitHub Secret and kube-mode ServiceAccount,
    // Role and RoleBinding are named by no ARS, but a draining runner of the
    // old spec still deregisters through the Secret and runs as the account.
    let runner = live(
        "actions.github.com",
        "EphemeralRunner",
        "runners",
        "set-old-runner-a",
        json!({"metadata": {"deletionTimestamp": LONG_AGO,
            "finalizers": ["ephemeralrunner.actions.github.com/runner-registration-finalizer"]},
            "spec": {"githubConfigSecret": "set-old-github-secret",
                     "spec": {"serviceAccountName": "set-old-kube-mode"}}}),
    );
    let mut binding = protected("RoleBinding", "set-old-kube-mode", true);
    binding.value["roleRef"] = json!({"kind": "Role", "name": "set-old-kube-mode"});
    binding.value["subjects"] =
        json!([{"kind": "ServiceAccount", "name": "set-old-kube-mode", "namespace": "runners"}]);
    let s = snapshot(
        vec![controller(1, "0.14.2")],
        vec![ars("set", "0.14.2", false)],
        vec![
            protected("Secret", "set-old-github-secret", true),
            protected("ServiceAccount", "set-old-kube-mode", true),
            protected("Role", "set-old-kube-mode", true),
            binding,
            runner.clone(),
        ],
    );
    let traps: Vec<Finding> = diagnose(&s)
        .into_iter()
        .filter(|f| f.kind == FindingKind::UpgradeTrap)
        .collect();
    assert_eq!(traps.len(), 4);
    for f in &traps {
        assert_eq!(f.safe_patch, None, "{}: still used, not patched", f.object);
        assert!(f.message.contains("still used by"), "{}", f.message);
    }
    // Once the runner is gone, every one of them is safe to free.
    let mut s = s;
    s.others.retain(|o| o.id != runner.id);
    assert!(
        diagnose(&s)
            .iter()
            .filter(|f| f.kind == FindingKind::UpgradeTrap)
            .all(|f| f.safe_patch.is_some())
    );
}

#[test]
fn upgrade_trap_is_not_freed_while_a_pod_still_runs_as_it_or_reads_it() {
    // The runner objects are gone, but a runner pod still runs (graceful
    // termination) as the dropped ServiceAccount and reads the old Secret.
    let pod = |phase: &str| {
        Live::new(
            ObjectId {
                group: String::new(),
                version: "v1".into(),
                kind: "Pod".into(),
                namespace: Some("runners".into()),
                name: "set-old-runner-a".into(),
            },
            json!({"metadata": {"name": "set-old-runner-a", "namespace": "runners",
                    "deletionTimestamp": LONG_AGO},
                   "spec": {"serviceAccountName": "set-old-kube-mode",
                            "containers": [{"name": "runner", "env": [{"name": "T",
                                "valueFrom": {"secretKeyRef": {"name": "set-old-github-secret", "key": "k"}}}]}]},
                   "status": {"phase": phase}}),
        )
    };
    let mut binding = protected("RoleBinding", "set-old-kube-mode", true);
    binding.value["roleRef"] = json!({"kind": "Role", "name": "set-old-kube-mode"});
    binding.value["subjects"] =
        json!([{"kind": "ServiceAccount", "name": "set-old-kube-mode", "namespace": "runners"}]);
    let mut s = snapshot(
        vec![controller(1, "0.14.2")],
        vec![ars("set", "0.14.2", false)],
        vec![
            protected("Secret", "set-old-github-secret", true),
            protected("ServiceAccount", "set-old-kube-mode", true),
            protected("Role", "set-old-kube-mode", true),
            binding,
            protected("ServiceAccount", "unrelated", false),
        ],
    );
    assert_eq!(
        pod_namespaces(&s.others).into_iter().collect::<Vec<_>>(),
        vec!["runners"]
    );
    s.pods.push(pod("Running"));
    let traps = |s: &Snapshot| -> Vec<Finding> {
        diagnose(s)
            .into_iter()
            .filter(|f| f.kind == FindingKind::UpgradeTrap)
            .collect()
    };
    let found = traps(&s);
    assert_eq!(found.len(), 4);
    for f in &found {
        assert_eq!(f.safe_patch, None, "{}", f.object);
        let by = if f.object.starts_with("Role/") {
            "RoleBinding/runners/set-old-kube-mode"
        } else {
            "Pod/runners/set-old-runner-a"
        };
        assert!(f.message.contains(by), "{}", f.message);
    }
    // A pod that has finished uses nothing.
    s.pods[0] = pod("Succeeded");
    assert!(traps(&s).iter().all(|f| f.safe_patch.is_some()));
}

fn listener(name: &str, ars_name: &str) -> Live {
    live(
        "actions.github.com",
        "AutoscalingListener",
        "arc-systems",
        name,
        json!({"metadata": {"finalizers": ["autoscalinglistener.actions.github.com/finalizer"]},
               "spec": {"autoscalingRunnerSetName": ars_name, "autoscalingRunnerSetNamespace": "runners"}}),
    )
}

fn grouped_ars(name: &str, group: Option<&str>) -> Live {
    let mut a = ars(name, "0.14.2", false);
    a.value["spec"] = json!({"githubConfigUrl": "https://github.com/example/repo"});
    if let Some(g) = group {
        a.value["spec"]["runnerGroup"] = json!(g);
    }
    a
}

#[test]
fn a_listener_of_another_name_than_the_controller_computes_is_stale() {
    let set = grouped_ars("set", Some("larger-runners"));
    let current = crate::arc::RunnerSetRefs::from_ars(&set.value, "runners").listener_name();
    let before = crate::arc::RunnerSetRefs::from_ars(&grouped_ars("set", None).value, "runners")
        .listener_name();
    let mut s = snapshot(vec![controller(1, "0.14.2")], vec![set], vec![]);
    s.listeners = vec![listener(&current, "set"), listener(&before, "set")];
    let findings = diagnose(&s);
    assert_eq!(
        kinds(&findings),
        vec![(
            FindingKind::StaleListener,
            format!("AutoscalingListener/arc-systems/{before}")
        )]
    );
    let f = &findings[0];
    assert_eq!(f.release.as_deref(), Some("set"));
    assert!(
        f.message.contains(&format!("arc-systems/{current}")),
        "{}",
        f.message
    );
    assert_eq!(
        f.fix,
        format!(
            "kubectl -n arc-systems delete autoscalinglistener.actions.github.com {before}   # the runner set keeps its listener {current}"
        )
    );
    assert_eq!(f.safe_patch, None);
    // A Terminating listener is the controller's business (or stuck_terminating's).
    s.listeners[1].value["metadata"]["deletionTimestamp"] = json!("2027-01-15T07:59:30Z");
    assert_eq!(diagnose(&s), vec![]);
}

#[test]
fn a_0_13_0_controller_computes_the_namespace_hash_only() {
    let set = grouped_ars("set", Some("larger-runners"));
    let legacy = crate::arc::legacy_listener_name("set", "runners");
    let modern = crate::arc::RunnerSetRefs::from_ars(&set.value, "runners").listener_name();
    for (version, current, stale) in [("0.13.0", &legacy, &modern), ("0.13.1", &modern, &legacy)] {
        let mut set = set.clone();
        set.value["metadata"]["labels"]["app.kubernetes.io/version"] = json!(version);
        let mut s = snapshot(vec![controller(1, version)], vec![set], vec![]);
        s.listeners = vec![listener(current, "set"), listener(stale, "set")];
        assert_eq!(
            kinds(&diagnose(&s)),
            vec![(
                FindingKind::StaleListener,
                format!("AutoscalingListener/arc-systems/{stale}")
            )],
            "controller {version}"
        );
    }
}

#[test]
fn a_listener_whose_runner_set_is_gone_is_orphaned_with_its_rbac_deleted_first() {
    let mut s = snapshot(vec![controller(1, "0.14.2")], vec![], vec![]);
    s.listeners = vec![listener("set-0123abcd-listener", "set")];
    let findings = diagnose(&s);
    assert_eq!(
        kinds(&findings),
        vec![(
            FindingKind::OrphanedListener,
            "AutoscalingListener/arc-systems/set-0123abcd-listener".to_string()
        )]
    );
    assert_eq!(
        findings[0].fix,
        "kubectl -n runners delete role,rolebinding -l auto-scaling-listener-name=set-0123abcd-listener,\
         auto-scaling-listener-namespace=arc-systems && kubectl -n arc-systems delete \
         autoscalinglistener.actions.github.com set-0123abcd-listener"
    );
    // Listeners of runner sets outside the namespace doctor reads are not judged.
    s.namespace = Some("other".into());
    assert_eq!(diagnose(&s), vec![]);
    s.namespace = Some("runners".into());
    assert_eq!(diagnose(&s).len(), 1);
}

#[test]
fn the_controller_namespace_is_the_one_the_manager_role_binding_binds() {
    let ars = live(
        "actions.github.com",
        "AutoscalingRunnerSet",
        "runners",
        "set",
        json!({"metadata": {"annotations": {
            "actions.github.com/cleanup-manager-role-binding": "set-gha-rs-manager"}}}),
    );
    let binding = live(
        "rbac.authorization.k8s.io",
        "RoleBinding",
        "runners",
        "set-gha-rs-manager",
        json!({"subjects": [{"kind": "ServiceAccount", "name": "arc-gha-rs-controller", "namespace": "arc-systems"}]}),
    );
    let other = live(
        "rbac.authorization.k8s.io",
        "RoleBinding",
        "runners",
        "unrelated",
        json!({"subjects": [{"kind": "ServiceAccount", "name": "x", "namespace": "elsewhere"}]}),
    );
    assert_eq!(
        crate::doctor::controller_namespaces(std::slice::from_ref(&ars), &[binding, other.clone()]),
        BTreeSet::from(["arc-systems".to_string()])
    );
    assert!(crate::doctor::controller_namespaces(&[ars], &[other]).is_empty());
}
