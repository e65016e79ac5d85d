//! Why a wave did not finish: the objects still there, their finalizers, who
//! removes those, the likely cause, and the exact next command. Pure.

use super::arc;
use super::live::Live;
use super::preflight::{Facts, Wedge, assess};
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
    /// `controller_down`, `lost_rbac`, `missing_credentials`, `busy_runner` or `slow_controller`.
    pub cause: String,
    /// One paragraph.
    pub explanation: String,
    /// What to run next.
    pub next_command: String,
    /// The objects still there (release objects first, then ARC's runtime objects).
    pub objects: Vec<LeftObject>,
}

/// Diagnose: `left` are the wave's objects still present, `facts` a fresh
/// preflight read, `rerun` the command line to suggest (without flags added here).
pub fn diagnose(left: &[Live], facts: &Facts, rerun: &str) -> Diagnosis {
    let mut objects: Vec<LeftObject> = left.iter().map(left_object).collect();
    for set in &facts.runner_sets {
        objects.extend(set.listener.iter().map(left_object));
        objects.extend(set.runner_sets.iter().map(left_object));
        objects.extend(set.runners.iter().map(left_object));
    }
    let assessment = assess(facts);
    let (cause, explanation, next_command) = if let Some(wedge) = assessment.wedges.first() {
        let next = format!("{rerun} --force-finalizers");
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
        };
        (wedge.name().to_string(), text, next)
    } else if !assessment.busy.is_empty() {
        let names: Vec<String> = assessment
            .busy
            .iter()
            .map(|b| match &b.since {
                Some(since) => format!("{} (since {since})", b.name),
                None => b.name.clone(),
            })
            .collect();
        (
            "busy_runner".to_string(),
            format!(
                "Busy runner: {} still running a job; ARC keeps the runner, its set and the AutoscalingRunnerSet until \
                 the job ends. Let the job finish (or cancel the workflow run on GitHub) and rerun with a longer --timeout.",
                names.join(", ")
            ),
            format!("{rerun} --timeout 30m"),
        )
    } else {
        (
            "slow_controller".to_string(),
            "The ARC controller is running and has what it needs, but has not finished yet. Check its logs \
             (kubectl logs -l app.kubernetes.io/part-of=gha-rs-controller -A) and rerun; the teardown resumes from \
             the current state."
                .to_string(),
            rerun.to_string(),
        )
    };
    Diagnosis {
        cause,
        explanation,
        next_command,
        objects,
    }
}

fn left_object(live: &Live) -> LeftObject {
    let finalizers = live.finalizers();
    let removed_by = finalizers
        .iter()
        .map(|f| arc::finalizer_owner(f, &live.id.kind).to_string())
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
    use crate::teardown::arc::RunnerSetRefs;
    use crate::teardown::preflight::{Controller, RunnerSetFacts};
    use serde_json::json;

    use crate::teardown::live::arc_test_object as live;

    fn facts() -> (Vec<Live>, Facts) {
        let ars_json = json!({"metadata": {"name": "set", "namespace": "runners",
            "deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": [arc::ARS_FINALIZER],
            "annotations": {"actions.github.com/cleanup-manager-role-binding": "set-gha-rs-manager"}}});
        let ars = live("AutoscalingRunnerSet", "set", ars_json.clone());
        let facts = Facts {
            controllers: vec![Controller {
                name: "arc-systems/arc".into(),
                available: true,
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
        let d = diagnose(&left, &f, "helm arc-uninstall set -n runners");
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
        let d = diagnose(&left, &f, "helm arc-uninstall set");
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
        assert_eq!(diagnose(&left, &f, "x").cause, "controller_down");
    }

    #[test]
    fn otherwise_slow_controller() {
        let (left, f) = facts();
        let d = diagnose(&left, &f, "x");
        assert_eq!(d.cause, "slow_controller");
        assert_eq!(d.next_command, "x");
    }
}
