//! Why a wave did not finish: the objects still there, their finalizers, who
//! removes those, the likely cause, and the exact next command. Pure.

use super::preflight::{
    ClusterFacts, LadderKind, Wedge, assess, dead_job_runners, refusal_paragraph,
};
use super::rerun::Rerun;
use crate::arc::{
    self,
    versions::{self, Line},
};
use crate::model::Live;
use serde::Serialize;

/// One object still present.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeftObject {
    /// `Kind/namespace/name`.
    pub object: String,
    /// Its finalizers.
    pub finalizers: Vec<String>,
    /// Who is expected to remove each finalizer (same order).
    pub removed_by: Vec<String>,
    /// Whether it has a deletionTimestamp.
    pub terminating: bool,
}

/// The diagnosis of a stuck wave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// One of [`CAUSES`].
    pub cause: String,
    /// One paragraph.
    pub explanation: String,
    /// What to run next.
    pub next_command: String,
    /// The ladder `--force-finalizers` runs for this cause, if any.
    pub ladder: Option<LadderKind>,
    /// The objects still there (release objects first, then ARC's runtime objects).
    pub objects: Vec<LeftObject>,
}

/// Every cause a diagnosis can give, in the order they are checked
/// (`slow_controller` only when none of the others holds).
pub const CAUSES: &[&str] = &[
    "controller_down",
    "lost_rbac",
    "rbac_not_bound",
    "missing_credentials",
    "invalid_credentials",
    "missing_proxy_secret",
    "missing_tls_config",
    "version_skew",
    "stale_finalizer",
    "runner_pod_gone",
    "busy_runner",
    "scale_set_undeletable",
    "orphaned_cleanup_protection",
    "slow_controller",
];

/// Diagnose: `left` are the wave's objects still present, `facts` a fresh
/// preflight read, `rerun` the command line to suggest.
pub fn diagnose(left: &[Live], facts: &ClusterFacts, rerun: &Rerun) -> Diagnosis {
    let line = facts.line();
    let mut objects: Vec<LeftObject> = left.iter().map(|l| left_object(l, line)).collect();
    for set in &facts.runner_sets {
        for l in set
            .listeners
            .iter()
            .chain(&set.runner_sets)
            .chain(&set.runners)
        {
            objects.push(left_object(l, line));
        }
    }
    let (cause, explanation, next_command, ladder) = cause_of(left, facts, rerun);
    Diagnosis {
        cause: cause.to_string(),
        explanation,
        next_command,
        ladder,
        objects,
    }
}

fn cause_of(
    left: &[Live],
    facts: &ClusterFacts,
    rerun: &Rerun,
) -> (&'static str, String, String, Option<LadderKind>) {
    let forced = rerun.with_force_finalizers();
    let assessment = assess(facts);
    if let Some(wedge) = assessment.wedges.first() {
        let text = match wedge {
            Wedge::ControllerDown => format!(
                "The ARC controller is not running (no available Deployment labelled {}), so nobody removes ARC's \
                 finalizers. Start it again and rerun, or strip them with --force-finalizers (the scale set stays \
                 registered on GitHub).",
                arc::CONTROLLER_SELECTOR
            ),
            Wedge::RbacLost { missing } => format!(
                "Lost RBAC: {} is gone, so the ARC controller's calls in the runner namespace are forbidden and its \
                 cleanup stalls. Restore it (helm rollback / helm upgrade --reuse-values) and rerun, or strip the \
                 finalizers with --force-finalizers.",
                missing.join(" and ")
            ),
            Wedge::CredentialsGone { secret } => format!(
                "Missing credentials: the GitHub config Secret {secret} is gone, so the controller cannot remove runners \
                 or the scale set from GitHub and retries forever. Recreate it and rerun, or let the controller finish \
                 without GitHub with --force-finalizers."
            ),
            other => refusal_paragraph(other, rerun),
        };
        return (wedge.name(), text, forced, Some(wedge.ladder()));
    }
    let pods_gone: Vec<String> = facts
        .runner_sets
        .iter()
        .flat_map(dead_job_runners)
        .map(|r| r.id.namespaced_name())
        .collect();
    if !pods_gone.is_empty() {
        return (
            "runner_pod_gone",
            format!(
                "Runner stuck on a job whose pod is gone: {}. GitHub still counts the job as running (upstream #4585), so \
                 the controller's RemoveRunner answers JobStillRunning and it retries every 30 s until GitHub times the \
                 job out (hours). Cancel the workflow run on GitHub and rerun, or rerun with --force-finalizers to drop \
                 these runners' GitHub registration finalizer (they stay listed on GitHub until the job times out).",
                pods_gone.join(", ")
            ),
            forced,
            Some(LadderKind::DeadJobs),
        );
    }
    if !assessment.busy.is_empty() {
        let names: Vec<String> = assessment
            .busy
            .iter()
            .map(|b| match &b.since {
                Some(since) => format!("{} (since {since})", b.name),
                None => b.name.clone(),
            })
            .collect();
        return (
            "busy_runner",
            format!(
                "Busy runner: {} still running a job; ARC keeps the runner, its set and the AutoscalingRunnerSet until \
                 the job ends. Let the job finish (or cancel the workflow run on GitHub) and rerun with a longer --timeout.",
                names.join(", ")
            ),
            rerun.with_timeout("30m"),
            None,
        );
    }
    let undeletable: Vec<String> = facts
        .runner_sets
        .iter()
        .filter_map(|s| {
            let ars = s.ars.as_ref()?;
            let id = ars.annotation(arc::SCALE_SET_ID_ANNOTATION)?;
            (ars.is_terminating() && s.listeners.is_empty() && s.runner_sets.is_empty())
                .then(|| format!("{} (scale set id {id})", ars.id))
        })
        .collect();
    if !undeletable.is_empty() {
        return (
            "scale_set_undeletable",
            format!(
                "The scale set cannot be deleted on GitHub: {} has no listener and no runner set left but still holds \
                 {}, so the controller's DeleteRunnerScaleSet keeps failing (a revoked token or uninstalled GitHub App, \
                 or a scale set already deleted on GitHub, for example by a runner set sharing its registration). Fix \
                 the credentials and rerun, or rerun with --force-finalizers to remove the annotation so the controller \
                 finishes without GitHub (remove the scale set on GitHub yourself if it is still there).",
                undeletable.join(", "),
                arc::SCALE_SET_ID_ANNOTATION
            ),
            forced,
            Some(LadderKind::Credentials),
        );
    }
    let release_ars_gone = facts.runner_sets.iter().all(|s| s.ars.is_none());
    let orphaned: Vec<String> = left
        .iter()
        .filter(|l| {
            l.is_terminating() && l.finalizers().iter().any(|f| f == arc::CLEANUP_PROTECTION)
        })
        .map(|l| l.id.to_string())
        .collect();
    if release_ars_gone && !facts.runner_sets.is_empty() && !orphaned.is_empty() {
        return (
            "orphaned_cleanup_protection",
            format!(
                "{} keep {} but their AutoscalingRunnerSet is gone, so nothing removes it (the controller strips it \
                 only while it finalizes the runner set; a runner set deleted without cleanup, for example by the \
                 controller on a version skew, leaves it behind). Rerun with --force-finalizers to strip it from the \
                 release's objects.",
                orphaned.join(", "),
                arc::CLEANUP_PROTECTION
            ),
            forced,
            Some(LadderKind::BottomUp),
        );
    }
    (
        "slow_controller",
        "The ARC controller is running and has what it needs (every cause above was checked: controller, RBAC, \
         credentials, proxy and TLS, version, finalizers nobody removes, runners and their pods, the scale set), but \
         has not finished yet. Check its logs (kubectl logs -l app.kubernetes.io/part-of=gha-rs-controller -A) and \
         rerun; the teardown resumes from the current state."
            .to_string(),
        rerun.as_given(),
        None,
    )
}

fn left_object(live: &Live, line: Option<Line>) -> LeftObject {
    let finalizers = live.finalizers();
    let removed_by = finalizers
        .iter()
        .map(|f| versions::owner(line, f, &live.id.kind).text().to_string())
        .collect();
    LeftObject {
        object: live.id.to_string(),
        finalizers,
        removed_by,
        terminating: live.is_terminating(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arc::RunnerSetRefs;
    use crate::teardown::preflight::{Controller, RunnerSetFacts};
    use serde_json::json;

    use crate::arc::test_object as live;

    fn facts() -> (Vec<Live>, ClusterFacts) {
        let ars_json = json!({"metadata": {"name": "set", "namespace": "runners",
            "deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": [arc::ARS_FINALIZER],
            "annotations": {"actions.github.com/cleanup-manager-role-binding": "set-gha-rs-manager"}}});
        let ars = live("AutoscalingRunnerSet", "set", ars_json.clone());
        let facts = ClusterFacts {
            controllers: vec![Controller {
                name: "arc-systems/arc".into(),
                available: true,
                ..Default::default()
            }],
            runner_sets: vec![RunnerSetFacts {
                refs: Some(RunnerSetRefs::from_ars(&ars_json, "runners")),
                ars: Some(ars.clone()),
                manager_role_binding: Some(true),
                ..Default::default()
            }],
            ..Default::default()
        };
        (vec![ars], facts)
    }

    #[test]
    fn lost_role_binding_is_lost_rbac() {
        let (left, mut f) = facts();
        f.runner_sets[0].manager_role_binding = Some(false);
        let d = diagnose(
            &left,
            &f,
            &Rerun::new("helm arc-uninstall set -n runners", None, false),
        );
        assert_eq!(d.cause, "lost_rbac");
        assert!(
            d.explanation
                .contains("RoleBinding/runners/set-gha-rs-manager")
        );
        assert_eq!(
            d.next_command,
            "helm arc-uninstall set -n runners --force-finalizers"
        );
        assert_eq!(d.objects[0].finalizers, vec![arc::ARS_FINALIZER]);
        assert_eq!(
            d.objects[0].removed_by,
            vec!["ARC controller (AutoscalingRunnerSet reconciler)"]
        );
    }

    #[test]
    fn busy_runner_suggests_a_longer_timeout() {
        let (left, mut f) = facts();
        f.runner_sets[0].runners.push(live(
            "EphemeralRunner",
            "set-x-runner-a",
            json!({"metadata": {"finalizers": [arc::ER_REGISTRATION_FINALIZER]}, "status": {"phase": "Running", "jobRequestId": 9}}),
        ));
        let pod = Live::new(
            crate::model::ObjectId {
                group: String::new(),
                version: "v1".into(),
                kind: "Pod".into(),
                namespace: Some("runners".into()),
                name: "set-x-runner-a".into(),
            },
            json!({}),
        );
        f.runner_sets[0].pods.push(pod);
        let d = diagnose(
            &left,
            &f,
            &Rerun::new("helm arc-uninstall set", None, false),
        );
        assert_eq!(d.cause, "busy_runner");
        assert!(d.explanation.contains("runners/set-x-runner-a"));
        assert_eq!(d.objects.len(), 2);
        assert_eq!(
            d.objects[1].removed_by,
            vec!["ARC controller, after the runner is removed from GitHub"]
        );
    }

    #[test]
    fn controller_down_comes_first() {
        let (left, mut f) = facts();
        f.controllers.clear();
        assert_eq!(
            diagnose(&left, &f, &Rerun::new("x", None, false)).cause,
            "controller_down"
        );
    }

    #[test]
    fn otherwise_slow_controller() {
        let (left, f) = facts();
        let d = diagnose(&left, &f, &Rerun::new("x", None, false));
        assert_eq!(d.cause, "slow_controller");
        assert_eq!(d.next_command, "x");
    }

    #[test]
    fn a_busy_runner_whose_pod_is_gone_is_named_as_such() {
        let (left, mut f) = facts();
        f.runner_sets[0].runners.push(live(
            "EphemeralRunner",
            "set-x-runner-a",
            json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z",
                "finalizers": [arc::ER_REGISTRATION_FINALIZER, arc::ER_FINALIZER]},
                "status": {"phase": "Running", "jobRequestId": 9}}),
        ));
        let d = diagnose(&left, &f, &Rerun::new("x", None, false));
        assert_eq!(d.cause, "runner_pod_gone");
        assert!(d.explanation.contains("runners/set-x-runner-a"));
        assert_eq!(d.ladder, Some(LadderKind::DeadJobs));
        assert_eq!(d.next_command, "x --force-finalizers");
    }

    #[test]
    fn an_ars_left_with_its_scale_set_id_cannot_delete_it_on_github() {
        let (left, mut f) = facts();
        let mut ars = f.runner_sets[0].ars.clone().unwrap();
        ars.value["metadata"]["annotations"]["runner-scale-set-id"] = json!("12");
        f.runner_sets[0].ars = Some(ars);
        let d = diagnose(&left, &f, &Rerun::new("x", None, false));
        assert_eq!(d.cause, "scale_set_undeletable");
        assert_eq!(d.ladder, Some(LadderKind::Credentials));
        // While a listener or runner set is left, the controller is still at an earlier step.
        f.runner_sets[0]
            .listeners
            .push(live("AutoscalingListener", "l", json!({})));
        assert_eq!(
            diagnose(&left, &f, &Rerun::new("x", None, false)).cause,
            "slow_controller"
        );
    }

    #[test]
    fn chart_objects_left_with_cleanup_protection_after_their_ars() {
        let (_, mut f) = facts();
        f.runner_sets[0].ars = None;
        let role = live(
            "Role",
            "set-gha-rs-manager",
            json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z",
                "finalizers": [arc::CLEANUP_PROTECTION]}}),
        );
        let d = diagnose(&[role], &f, &Rerun::new("x", None, false));
        assert_eq!(d.cause, "orphaned_cleanup_protection");
        assert_eq!(d.ladder, Some(LadderKind::BottomUp));
    }

    #[test]
    fn owners_follow_the_controller_line() {
        let (left, mut f) = facts();
        f.controllers[0].version = Some("0.15.0".into());
        f.runner_sets[0].runner_sets.push(live(
            "EphemeralRunnerSet",
            "set-x",
            json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z",
                "finalizers": [arc::ER_FINALIZER]}}),
        ));
        let d = diagnose(&left, &f, &Rerun::new("x", None, false));
        assert_eq!(d.cause, "stale_finalizer");
        assert!(d.objects[1].removed_by[0].starts_with("nobody: the ARC 0.15 controller"));
    }

    /// `slow_controller` is what is left when every other cause was checked:
    /// each other cause has a scenario test that reaches it (on the running
    /// simulated controller, through the binary), so a cause added without
    /// one fails here.
    #[test]
    fn every_cause_but_slow_controller_has_a_scenario_test() {
        assert_eq!(CAUSES.last(), Some(&"slow_controller"));
        let scenarios = [
            include_str!("../../tests/scenarios_diagnosis.rs"),
            include_str!("../../tests/scenarios_teardown.rs"),
            include_str!("../../tests/scenarios_connection.rs"),
        ]
        .concat();
        let missing: Vec<&str> = CAUSES[..CAUSES.len() - 1]
            .iter()
            .copied()
            .filter(|cause| !scenarios.contains(&format!("\"{cause}\"")))
            .collect();
        assert_eq!(
            missing,
            Vec::<&str>::new(),
            "causes without a scenario test"
        );
    }

    /// Every wedge preflight can find is a cause a diagnosis can give.
    #[test]
    fn every_wedge_is_a_cause() {
        // The arms of `Wedge::name`: `Wedge::X { .. } => "cause",`.
        let names: Vec<&str> = include_str!("preflight.rs")
            .lines()
            .filter(|line| line.trim_start().starts_with("Wedge::"))
            .filter_map(|line| line.split_once("} => \"").map(|(_, rest)| rest))
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert!(
            names.len() >= 9,
            "the arms of Wedge::name were found: {names:?}"
        );
        for name in names {
            assert!(CAUSES.contains(&name), "{name} is not in CAUSES");
        }
    }
}
