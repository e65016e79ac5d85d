//! `doctor`: what is stuck in an ARC installation and why, from one read-only
//! snapshot of the cluster. Pure: [`diagnose`] turns a [`Snapshot`] into
//! [`Finding`]s, each with the exact command that fixes it; only the upgrade
//! trap carries a [`Finding::safe_patch`] that `doctor --fix` may apply.

use crate::arc::{
    self, ARS_KIND, CLEANUP_ANNOTATIONS, CLEANUP_PROTECTION, LISTENER_KIND, LISTENER_NAME_LABEL,
    LISTENER_NAMESPACE_LABEL,
};
use crate::arc::{RELEASE_NAME_ANNOTATION, RELEASE_NAMESPACE_ANNOTATION};
use crate::model::{Live, patch};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;

use crate::arc::versions::major_minor;
use crate::arc::{SCALE_SET_NAME_LABEL, SCALE_SET_NAMESPACE_LABEL, VERSION_LABEL};

/// Seconds an object may be Terminating, with a controller available, before
/// it counts as stuck.
pub const DEFAULT_STUCK_AFTER_SECONDS: i64 = 600;

/// Everything `doctor` reads, in one snapshot.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Deployments labelled `app.kubernetes.io/part-of=gha-rs-controller`.
    pub controllers: Vec<Live>,
    /// AutoscalingRunnerSets in scope.
    pub runner_sets: Vec<Live>,
    /// AutoscalingListeners (all namespaces: they live with the controller).
    pub listeners: Vec<Live>,
    /// Other objects in scope: EphemeralRunnerSets, EphemeralRunners,
    /// ServiceAccounts, Secrets, Roles, RoleBindings.
    pub others: Vec<Live>,
    /// Pods of the namespaces [`pod_namespaces`] names (what still runs as
    /// a ServiceAccount or mounts a Secret of an upgrade trap).
    pub pods: Vec<Live>,
    /// The namespace read (`None`: every namespace); listeners are read in
    /// every namespace and judged only when their runner set's is in scope.
    pub namespace: Option<String>,
    /// `Some`: controllers (and listeners) were looked for only in these
    /// namespaces (the user may not list them in every namespace).
    pub controllers_only_in: Option<Vec<String>>,
    /// Now, in seconds since the epoch.
    pub now: i64,
    /// See [`DEFAULT_STUCK_AFTER_SECONDS`].
    pub stuck_after_seconds: i64,
}

/// What kind of problem a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Runner sets exist but no ARC controller Deployment does.
    ControllerMissing,
    /// A controller Deployment has no available replica.
    ControllerUnavailable,
    /// An object is Terminating and nothing will remove its finalizers.
    StuckTerminating,
    /// An object dropped by `helm upgrade` is Terminating forever: it keeps
    /// `cleanup-protection` and no runner set names it.
    UpgradeTrap,
    /// A listener Role/RoleBinding whose listener is gone.
    OrphanedListenerRbac,
    /// A live listener whose runner set is gone (left behind by a rename,
    /// upstream #4629): it runs and fails on every pass.
    OrphanedListener,
    /// A live listener of a runner set under a name the controller no longer
    /// computes (runner group or URL change, or an upgrade from 0.13.0): a
    /// second listener that the runner set's cleanup never deletes.
    StaleListener,
    /// An ARS whose chart version (major.minor) differs from the controller's.
    VersionSkew,
}

/// One problem, with the command that fixes it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    /// What kind of problem.
    pub kind: FindingKind,
    /// `Kind/namespace/name` of the object concerned.
    pub object: String,
    /// The Helm release the object belongs to (directly or through its ARS), if known.
    pub release: Option<String>,
    /// Finalizers still on the object (Terminating findings).
    pub finalizers: Vec<String>,
    /// Who would remove those finalizers.
    pub owner: Option<String>,
    /// One paragraph for people.
    pub message: String,
    /// The exact command that fixes it.
    pub fix: String,
    /// The JSON patch `doctor --fix` applies (only provably safe fixes have one).
    pub safe_patch: Option<Value>,
}

/// Diagnose a snapshot. Findings are sorted by kind, then object.
pub fn diagnose(snapshot: &Snapshot) -> Vec<Finding> {
    let mut findings = Vec::new();
    let available = snapshot.controllers.iter().any(is_available);
    controller_findings(snapshot, &mut findings);
    let trapped = upgrade_trap(snapshot, &mut findings);
    stuck_terminating(snapshot, available, &trapped, &mut findings);
    orphaned_listener_rbac(snapshot, &mut findings);
    listeners(snapshot, &mut findings);
    version_skew(snapshot, &mut findings);
    findings.sort_by(|a, b| (a.kind, &a.object).cmp(&(b.kind, &b.object)));
    findings
}

/// Keep only the findings that concern `release` (controller findings always stay).
pub fn for_release(findings: Vec<Finding>, release: &str) -> Vec<Finding> {
    findings
        .into_iter()
        .filter(|f| {
            matches!(
                f.kind,
                FindingKind::ControllerMissing | FindingKind::ControllerUnavailable
            ) || f.release.as_deref() == Some(release)
        })
        .collect()
}

/// Whether a Deployment reports at least one available replica.
pub fn is_available(deployment: &Live) -> bool {
    deployment
        .value
        .pointer("/status/availableReplicas")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        > 0
}

fn controller_findings(snapshot: &Snapshot, out: &mut Vec<Finding>) {
    if snapshot.controllers.is_empty() {
        if let Some(first) = snapshot.runner_sets.first() {
            let names: Vec<String> = snapshot
                .runner_sets
                .iter()
                .map(|a| a.id.to_string())
                .collect();
            out.push(Finding {
                kind: FindingKind::ControllerMissing,
                object: first.id.to_string(),
                release: None,
                finalizers: Vec::new(),
                owner: None,
                message: format!(
                    "{} AutoscalingRunnerSet(s) exist but no ARC controller Deployment (label {}) does, so \
                     nothing reconciles or cleans them up: {}{}",
                    names.len(),
                    arc::CONTROLLER_SELECTOR,
                    names.join(", "),
                    match &snapshot.controllers_only_in {
                        Some(namespaces) => format!(
                            " (looked for only in namespaces {}: listing Deployments in every namespace is \
                             forbidden for this user; if the controller runs elsewhere, grant list on \
                             deployments.apps there)",
                            namespaces.join(", ")
                        ),
                        None => String::new(),
                    }
                ),
                fix: "helm install arc oci://ghcr.io/actions/actions-runner-controller-charts/gha-runner-scale-set-controller \
                      -n arc-systems --create-namespace   # reinstall the controller so it finishes the cleanup"
                    .to_string(),
                safe_patch: None,
            });
        }
        return;
    }
    for deployment in snapshot.controllers.iter().filter(|d| !is_available(d)) {
        let ns = deployment.id.namespace.as_deref().unwrap_or_default();
        let name = &deployment.id.name;
        let replicas = deployment
            .value
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1);
        let fix = if replicas == 0 {
            format!("kubectl -n {ns} scale deployment/{name} --replicas=1")
        } else {
            format!(
                "kubectl -n {ns} rollout restart deployment/{name} && kubectl -n {ns} rollout status deployment/{name}"
            )
        };
        out.push(Finding {
            kind: FindingKind::ControllerUnavailable,
            object: deployment.id.to_string(),
            release: deployment.annotation(RELEASE_NAME_ANNOTATION).map(str::to_string),
            finalizers: Vec::new(),
            owner: None,
            message: format!(
                "the ARC controller {ns}/{name} has no available replica (spec.replicas {replicas}): no runner set \
                 is reconciled and no ARC finalizer is removed until it runs again"
            ),
            fix,
            safe_patch: None,
        });
    }
}

/// Names (`namespace`, kind, name) that some ARS lists in its cleanup annotations.
fn names_claimed_by_runner_sets(snapshot: &Snapshot) -> BTreeSet<(String, String, String)> {
    let mut claimed = BTreeSet::new();
    for ars in &snapshot.runner_sets {
        let ns = ars.id.namespace.clone().unwrap_or_default();
        for (key, _group, kind) in CLEANUP_ANNOTATIONS {
            if let Some(name) = ars.annotation(key) {
                claimed.insert((ns.clone(), kind.to_string(), name.to_string()));
            }
        }
    }
    claimed
}

/// Terminating chart objects with `cleanup-protection` that no ARS names: the
/// controller will never strip them. Returns their ids (as strings).
fn upgrade_trap(snapshot: &Snapshot, out: &mut Vec<Finding>) -> BTreeSet<String> {
    let claimed = names_claimed_by_runner_sets(snapshot);
    let mut trapped = BTreeSet::new();
    for live in &snapshot.others {
        if !live.is_terminating() || !live.finalizers().iter().any(|f| f == CLEANUP_PROTECTION) {
            continue;
        }
        let kind = live.id.kind.as_str();
        if !matches!(kind, "ServiceAccount" | "Secret" | "Role" | "RoleBinding") {
            continue;
        }
        let ns = live.id.namespace.clone().unwrap_or_default();
        if claimed.contains(&(ns, kind.to_string(), live.id.name.clone())) {
            continue;
        }
        let Some(patch) = patch::strip_finalizers(live, &[CLEANUP_PROTECTION.to_string()]) else {
            continue;
        };
        trapped.insert(live.id.to_string());
        let users = still_used_by(live, snapshot);
        let (message, safe_patch) = if users.is_empty() {
            (
                format!(
                    "{} is Terminating with {CLEANUP_PROTECTION}, but no AutoscalingRunnerSet names it in its cleanup \
                     annotations (typically `helm upgrade` dropped it, e.g. after a containerMode change). The controller \
                     strips this finalizer only while it finalizes a runner set, so it stays Terminating forever. \
                     Removing the finalizer is safe: no runner set, runner or listener uses it any more",
                    live.id
                ),
                Some(patch.clone()),
            )
        } else {
            (
                format!(
                    "{} is Terminating with {CLEANUP_PROTECTION} and no AutoscalingRunnerSet names it, but it is still \
                     used by {} (draining runners of an older spec deregister through it); not patched: removing the \
                     finalizer now would delete it under them. Run the fix once they are gone",
                    live.id,
                    users.join(", ")
                ),
                None,
            )
        };
        out.push(Finding {
            kind: FindingKind::UpgradeTrap,
            object: live.id.to_string(),
            release: release_of(live, snapshot),
            finalizers: live.finalizers(),
            owner: Some(arc::finalizer_owner(CLEANUP_PROTECTION, kind).to_string()),
            message,
            fix: kubectl_json_patch(live, &patch),
            safe_patch,
        });
    }
    trapped
}

/// The controller's namespaces as the runner sets name them: the
/// namespaces of the ServiceAccounts their manager RoleBindings (among
/// `others`) bind.
pub fn controller_namespaces(runner_sets: &[Live], others: &[Live]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for ars in runner_sets {
        let ns = ars.id.namespace.as_deref().unwrap_or_default();
        let refs = arc::RunnerSetRefs::from_ars(&ars.value, ns);
        let Some(name) = &refs.manager_role_binding else {
            continue;
        };
        let binding = others.iter().find(|o| {
            o.id.kind == "RoleBinding"
                && o.id.name == *name
                && o.id.namespace.as_deref() == Some(ns)
        });
        for account in binding
            .map(|b| arc::rbac::bound_service_accounts(&b.value))
            .unwrap_or_default()
        {
            if let Some((namespace, _)) = account.split_once('/')
                && !namespace.is_empty()
            {
                out.insert(namespace.to_string());
            }
        }
    }
    out
}

/// Namespaces whose pods [`diagnose`] needs: those holding a Terminating
/// object with `cleanup-protection` (a possible upgrade trap, freed only
/// when no pod runs as it or mounts it).
pub fn pod_namespaces(others: &[Live]) -> BTreeSet<String> {
    others
        .iter()
        .filter(|l| l.is_terminating() && l.finalizers().iter().any(|f| f == CLEANUP_PROTECTION))
        .filter_map(|l| l.id.namespace.clone())
        .collect()
}

/// Whether a pod may still run (not `Succeeded` or `Failed`); a pod being
/// deleted still runs until its containers stop.
fn pod_may_run(pod: &Live) -> bool {
    !matches!(pod.str_at("/status/phase"), Some("Succeeded" | "Failed"))
}

/// The Secrets a pod reads: volumes (also projected), `env` and `envFrom`.
fn pod_secrets(pod: &Live) -> BTreeSet<&str> {
    let spec = pod.value.get("spec");
    let mut names = BTreeSet::new();
    let volumes = spec
        .and_then(|s| s.get("volumes"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for volume in volumes {
        names.extend(volume.pointer("/secret/secretName").and_then(Value::as_str));
        let sources = volume
            .pointer("/projected/sources")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        names.extend(sources.filter_map(|s| s.pointer("/secret/name").and_then(Value::as_str)));
    }
    let containers = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| spec.and_then(|s| s.get(*k)).and_then(Value::as_array))
        .flatten();
    for container in containers {
        let env = container
            .get("env")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        names.extend(env.filter_map(|e| {
            e.pointer("/valueFrom/secretKeyRef/name")
                .and_then(Value::as_str)
        }));
        let env_from = container
            .get("envFrom")
            .and_then(Value::as_array)
            .into_iter()
            .flatten();
        names.extend(env_from.filter_map(|e| e.pointer("/secretRef/name").and_then(Value::as_str)));
    }
    names
}

/// The objects that still use a chart object: EphemeralRunnerSets,
/// EphemeralRunners and listeners naming a Secret as `githubConfigSecret`,
/// runners and pods running as a ServiceAccount, pods reading a Secret, and
/// the RoleBindings (and their Roles) that bind such a ServiceAccount.
/// Objects being deleted still count: a draining runner deregisters through
/// them, and a pod runs until its containers stop.
fn still_used_by(live: &Live, snapshot: &Snapshot) -> Vec<String> {
    let ns = live.id.namespace.as_deref();
    let name = live.id.name.as_str();
    let runtime: Vec<&Live> = snapshot
        .others
        .iter()
        .chain(&snapshot.listeners)
        .filter(|o| {
            matches!(
                o.id.kind.as_str(),
                "EphemeralRunnerSet" | "EphemeralRunner" | "AutoscalingListener"
            )
        })
        .filter(|o| {
            o.id.namespace.as_deref() == ns || o.str_at("/spec/autoscalingRunnerSetNamespace") == ns
        })
        .collect();
    let secret_of = |o: &Live| {
        o.str_at("/spec/githubConfigSecret")
            .or_else(|| o.str_at("/spec/ephemeralRunnerSpec/githubConfigSecret"))
            .map(str::to_string)
    };
    let account_of = |o: &Live| {
        o.str_at("/spec/spec/serviceAccountName")
            .or_else(|| o.str_at("/spec/ephemeralRunnerSpec/spec/serviceAccountName"))
            .map(str::to_string)
    };
    let pods: Vec<&Live> = snapshot
        .pods
        .iter()
        .filter(|p| p.id.namespace.as_deref() == ns && pod_may_run(p))
        .collect();
    let pod_account = |p: &Live| p.str_at("/spec/serviceAccountName").map(str::to_string);
    let accounts: BTreeSet<String> = runtime
        .iter()
        .filter_map(|o| account_of(o))
        .chain(pods.iter().filter_map(|p| pod_account(p)))
        .collect();
    let qualified = |account: &str| format!("{}/{account}", ns.unwrap_or_default());
    let binds_used = |rb: &Live| {
        crate::arc::rbac::bound_service_accounts(&rb.value)
            .iter()
            .any(|sa| accounts.iter().any(|a| sa == &qualified(a)))
    };
    let names = |objects: Vec<&Live>| objects.iter().map(|o| o.id.to_string()).collect::<Vec<_>>();
    match live.id.kind.as_str() {
        "Secret" => names(
            runtime
                .into_iter()
                .filter(|o| secret_of(o).as_deref() == Some(name))
                .chain(pods.into_iter().filter(|p| pod_secrets(p).contains(name)))
                .collect(),
        ),
        "ServiceAccount" => names(
            runtime
                .into_iter()
                .filter(|o| account_of(o).as_deref() == Some(name))
                .chain(
                    pods.into_iter()
                        .filter(|p| pod_account(p).as_deref() == Some(name)),
                )
                .collect(),
        ),
        "RoleBinding" => {
            let bound = crate::arc::rbac::bound_service_accounts(&live.value);
            let binds = |account: Option<String>| {
                account.is_some_and(|a| bound.iter().any(|sa| sa == &qualified(&a)))
            };
            names(
                runtime
                    .into_iter()
                    .filter(|o| binds(account_of(o)))
                    .chain(pods.into_iter().filter(|p| binds(pod_account(p))))
                    .collect(),
            )
        }
        "Role" => snapshot
            .others
            .iter()
            .filter(|rb| {
                rb.id.kind == "RoleBinding"
                    && rb.id.namespace.as_deref() == ns
                    && crate::arc::rbac::bound_role(&rb.value) == Some(name)
                    && binds_used(rb)
            })
            .map(|rb| rb.id.to_string())
            .collect(),
        _ => Vec::new(),
    }
}

fn stuck_terminating(
    snapshot: &Snapshot,
    controller_available: bool,
    trapped: &BTreeSet<String>,
    out: &mut Vec<Finding>,
) {
    let all = snapshot
        .runner_sets
        .iter()
        .chain(&snapshot.listeners)
        .chain(&snapshot.others);
    for live in all {
        let finalizers = live.finalizers();
        if !live.is_terminating() || finalizers.is_empty() || trapped.contains(&live.id.to_string())
        {
            continue;
        }
        let age = live
            .deletion_timestamp()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| snapshot.now - t.as_second());
        let stuck = !controller_available || age.is_some_and(|a| a >= snapshot.stuck_after_seconds);
        if !stuck {
            continue;
        }
        let owners: BTreeSet<&str> = finalizers
            .iter()
            .map(|f| arc::finalizer_owner(f, &live.id.kind))
            .collect();
        let owner = owners.into_iter().collect::<Vec<_>>().join("; ");
        let release = release_of(live, snapshot);
        let (why, fix) = if !controller_available {
            let why = "no ARC controller is available, so nothing removes these finalizers";
            let fix = match snapshot.controllers.first() {
                Some(d) => format!(
                    "kubectl -n {} scale deployment/{} --replicas=1   # the controller resumes the cleanup",
                    d.id.namespace.as_deref().unwrap_or_default(),
                    d.id.name
                ),
                None => match (&release, release_namespace_of(live, snapshot)) {
                    (Some(r), Some(ns)) => format!(
                        "helm arc-uninstall {r} -n {ns} --rescue --force-finalizers   # controller gone: strip ARC's finalizers bottom-up"
                    ),
                    _ => kubectl_clear_finalizers(live),
                },
            };
            (why.to_string(), fix)
        } else {
            let why = format!(
                "Terminating for {}s although a controller is available; read the controller log for this object",
                age.unwrap_or_default()
            );
            let fix = match snapshot.controllers.iter().find(|d| is_available(d)) {
                Some(d) => format!(
                    "kubectl -n {} logs deployment/{} | grep {}",
                    d.id.namespace.as_deref().unwrap_or_default(),
                    d.id.name,
                    live.id.name
                ),
                None => kubectl_clear_finalizers(live),
            };
            (why, fix)
        };
        out.push(Finding {
            kind: FindingKind::StuckTerminating,
            object: live.id.to_string(),
            release,
            finalizers: finalizers.clone(),
            owner: Some(owner),
            message: format!(
                "{} is Terminating since {} with finalizers {}: {why}",
                live.id,
                live.deletion_timestamp().unwrap_or("?"),
                finalizers.join(", ")
            ),
            fix,
            safe_patch: None,
        });
    }
}

fn orphaned_listener_rbac(snapshot: &Snapshot, out: &mut Vec<Finding>) {
    for live in &snapshot.others {
        if !matches!(live.id.kind.as_str(), "Role" | "RoleBinding") || live.is_terminating() {
            continue;
        }
        let (Some(name), Some(ns)) = (
            live.label(LISTENER_NAME_LABEL),
            live.label(LISTENER_NAMESPACE_LABEL),
        ) else {
            continue;
        };
        let exists = snapshot
            .listeners
            .iter()
            .any(|l| l.id.name == name && l.id.namespace.as_deref() == Some(ns));
        if exists {
            continue;
        }
        out.push(Finding {
            kind: FindingKind::OrphanedListenerRbac,
            object: live.id.to_string(),
            release: release_of(live, snapshot),
            finalizers: Vec::new(),
            owner: None,
            message: format!(
                "{} was created for the {LISTENER_KIND} {ns}/{name}, which no longer exists; the listener's cleanup \
                 (which deletes it) did not run, so it leaked",
                live.id
            ),
            fix: format!(
                "kubectl -n {} delete {} {}",
                live.id.namespace.as_deref().unwrap_or_default(),
                kubectl_resource(live),
                live.id.name
            ),
            safe_patch: None,
        });
    }
}

/// The version of the controller that serves listeners in `namespace` (the
/// Deployment there, available ones first), as preflight reads it.
fn controller_version_in(snapshot: &Snapshot, namespace: Option<&str>) -> Option<String> {
    let mut here: Vec<&Live> = snapshot
        .controllers
        .iter()
        .filter(|d| d.id.namespace.as_deref() == namespace)
        .collect();
    here.sort_by_key(|d| !is_available(d));
    here.first()
        .and_then(|d| crate::arc::controller::Controller::from_deployment(d).version)
}

/// Live listeners of runner sets in scope that the controller will never
/// clean up: their runner set is gone, or it now computes another name for
/// its listener (upstream #4629).
fn listeners(snapshot: &Snapshot, out: &mut Vec<Finding>) {
    for listener in snapshot.listeners.iter().filter(|l| !l.is_terminating()) {
        let (Some(ars_name), Some(ars_ns)) = (
            listener.str_at("/spec/autoscalingRunnerSetName"),
            listener.str_at("/spec/autoscalingRunnerSetNamespace"),
        ) else {
            continue;
        };
        if snapshot
            .namespace
            .as_deref()
            .is_some_and(|scope| scope != ars_ns)
        {
            continue;
        }
        let lns = listener.id.namespace.as_deref().unwrap_or_default();
        let lname = &listener.id.name;
        let delete = format!(
            "kubectl -n {lns} delete {} {lname}",
            kubectl_resource(listener)
        );
        let ars = snapshot.runner_sets.iter().find(|a| {
            a.id.kind == ARS_KIND
                && a.id.name == ars_name
                && a.id.namespace.as_deref() == Some(ars_ns)
        });
        let Some(ars) = ars else {
            out.push(Finding {
                kind: FindingKind::OrphanedListener,
                object: listener.id.to_string(),
                release: None,
                finalizers: Vec::new(),
                owner: None,
                message: format!(
                    "{} belongs to {ARS_KIND} {ars_ns}/{ars_name}, which no longer exists. The runner set's cleanup \
                     deletes only the listener of the name it computes then, so this one (left by a runner group or \
                     githubConfigUrl change, or an upgrade from ARC 0.13.0 or older; upstream #4629) still runs and \
                     fails on every pass (\"Failed to find AutoscalingRunnerSet.\"). Delete it: the controller removes \
                     its pod and Secrets, and its Role/RoleBinding in {ars_ns} are deleted first because the \
                     controller needs the runner set's manager RBAC, gone with it, to delete them",
                    listener.id
                ),
                fix: format!(
                    "kubectl -n {ars_ns} delete role,rolebinding -l {LISTENER_NAME_LABEL}={lname},\
                     {LISTENER_NAMESPACE_LABEL}={lns} && {delete}"
                ),
                safe_patch: None,
            });
            continue;
        };
        let refs = arc::RunnerSetRefs::from_ars(&ars.value, ars_ns);
        let version = controller_version_in(snapshot, Some(lns));
        let expected = refs.listener_name_at(version.as_deref());
        if *lname == expected {
            continue;
        }
        out.push(Finding {
            kind: FindingKind::StaleListener,
            object: listener.id.to_string(),
            release: release_of(listener, snapshot),
            finalizers: Vec::new(),
            owner: None,
            message: format!(
                "{} serves {} under a name the controller no longer computes: it looks for {lns}/{expected} now \
                 (the runner group or githubConfigUrl changed, or the controller was upgraded from 0.13.0 or older, \
                 which hashed the namespace only; upstream #4629). The controller never looks this listener up \
                 again: it keeps running next to the current one and the runner set's cleanup does not delete it, \
                 so it outlives the runner set. Delete it: the controller removes its pod, Secrets and RBAC",
                listener.id, ars.id
            ),
            fix: format!("{delete}   # the runner set keeps its listener {expected}"),
            safe_patch: None,
        });
    }
}

fn version_skew(snapshot: &Snapshot, out: &mut Vec<Finding>) {
    let Some((controller, version)) = snapshot.controllers.iter().find_map(|d| {
        d.label(VERSION_LABEL)
            .or_else(|| d.str_at("/spec/template/metadata/labels/app.kubernetes.io~1version"))
            .map(|v| (d, v))
    }) else {
        return;
    };
    let Some(want) = major_minor(version) else {
        return;
    };
    for ars in snapshot.runner_sets.iter().filter(|a| !a.is_terminating()) {
        let Some(have_text) = ars.label(VERSION_LABEL) else {
            continue;
        };
        if major_minor(have_text).is_none_or(|have| have == want) {
            continue;
        }
        let release = ars.annotation(RELEASE_NAME_ANNOTATION).map(str::to_string);
        let ns = ars.id.namespace.as_deref().unwrap_or_default();
        let fix = format!(
            "helm upgrade {} oci://ghcr.io/actions/actions-runner-controller-charts/gha-runner-scale-set -n {ns} \
             --version {version} --reuse-values",
            release.as_deref().unwrap_or(&ars.id.name)
        );
        out.push(Finding {
            kind: FindingKind::VersionSkew,
            object: ars.id.to_string(),
            release,
            finalizers: Vec::new(),
            owner: None,
            message: format!(
                "{} is chart version {have_text} but the controller {} is {version}: the controller only reconciles \
                 runner sets of its own major.minor (and deletes the others)",
                ars.id, controller.id
            ),
            fix,
            safe_patch: None,
        });
    }
}

/// The release of `live`: its own Helm annotation, else through the ARS it
/// belongs to (labels `scale-set-name/-namespace`, or a listener's spec).
fn release_of(live: &Live, snapshot: &Snapshot) -> Option<String> {
    if let Some(r) = live.annotation(RELEASE_NAME_ANNOTATION) {
        return Some(r.to_string());
    }
    owning_ars(live, snapshot)
        .and_then(|a| a.annotation(RELEASE_NAME_ANNOTATION))
        .map(str::to_string)
}

fn release_namespace_of(live: &Live, snapshot: &Snapshot) -> Option<String> {
    if let Some(ns) = live.annotation(RELEASE_NAMESPACE_ANNOTATION) {
        return Some(ns.to_string());
    }
    owning_ars(live, snapshot)
        .and_then(|a| a.annotation(RELEASE_NAMESPACE_ANNOTATION))
        .map(str::to_string)
}

fn owning_ars<'s>(live: &Live, snapshot: &'s Snapshot) -> Option<&'s Live> {
    let (name, ns) = if live.id.kind == LISTENER_KIND {
        (
            live.str_at("/spec/autoscalingRunnerSetName")?,
            live.str_at("/spec/autoscalingRunnerSetNamespace")?,
        )
    } else {
        (
            live.label(SCALE_SET_NAME_LABEL)?,
            live.label(SCALE_SET_NAMESPACE_LABEL)
                .or(live.id.namespace.as_deref())?,
        )
    };
    snapshot.runner_sets.iter().find(|a| {
        a.id.kind == ARS_KIND && a.id.name == name && a.id.namespace.as_deref() == Some(ns)
    })
}

/// The `kubectl` resource word for a kind (`role.rbac.authorization.k8s.io`).
pub fn kubectl_resource(live: &Live) -> String {
    let kind = live.id.kind.to_lowercase();
    if live.id.group.is_empty() {
        kind
    } else {
        format!("{kind}.{}", live.id.group)
    }
}

fn kubectl_json_patch(live: &Live, patch: &Value) -> String {
    format!(
        "kubectl -n {} patch {} {} --type=json -p '{}'",
        live.id.namespace.as_deref().unwrap_or_default(),
        kubectl_resource(live),
        live.id.name,
        patch
    )
}

fn kubectl_clear_finalizers(live: &Live) -> String {
    format!(
        "kubectl -n {} patch {} {} --type=merge -p '{{\"metadata\":{{\"finalizers\":null}}}}'   # last resort: skips the controller's cleanup",
        live.id.namespace.as_deref().unwrap_or_default(),
        kubectl_resource(live),
        live.id.name
    )
}

#[cfg(test)]
mod tests;
