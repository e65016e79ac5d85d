//! Preflight: the read-only facts about the cluster and the pure verdict on
//! them. A plan that would wedge (controller absent, RBAC or credentials gone)
//! is refused before anything is deleted, unless `--force-finalizers`.

use super::arc::{self, RunnerSetRefs};
use super::live::Live;
use crate::manifest::ObjectId;
use serde::Serialize;

/// One ARC controller Deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Controller {
    /// `namespace/name`.
    pub name: String,
    /// Whether it reports at least one available replica.
    pub available: bool,
}

/// What the cluster says about one AutoscalingRunnerSet of the release.
#[derive(Clone, Debug, Default)]
pub struct RunnerSetFacts {
    /// Names read from the ARS (live if present, else the manifest).
    pub refs: Option<RunnerSetRefs>,
    /// The live ARS; `None` when already gone.
    pub ars: Option<Live>,
    /// Whether the manager Role exists (`None` when not annotated).
    pub manager_role: Option<bool>,
    /// Whether the manager RoleBinding exists (`None` when not annotated).
    pub manager_role_binding: Option<bool>,
    /// Whether `spec.githubConfigSecret` exists (`None` when not set).
    pub github_secret: Option<bool>,
    /// The AutoscalingListener, if any.
    pub listener: Option<Live>,
    /// The ARS's EphemeralRunnerSets.
    pub runner_sets: Vec<Live>,
    /// The runners of those sets.
    pub runners: Vec<Live>,
    /// Listener Role/RoleBinding in the runner namespace.
    pub listener_rbac: Vec<Live>,
}

/// Everything preflight reads.
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// ARC controller Deployments found by label.
    pub controllers: Vec<Controller>,
    /// One entry per ARS in the release.
    pub runner_sets: Vec<RunnerSetFacts>,
    /// Release objects already Terminating.
    pub terminating: Vec<Live>,
    /// Manifest objects present in the cluster but owned by another release (or none).
    pub not_owned: Vec<ObjectId>,
    /// `pre-delete` hooks recorded with the release.
    pub pre_delete_hooks: Vec<String>,
    /// Whether the user passed `--no-hooks`.
    pub no_hooks: bool,
}

/// Why the teardown would wedge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum Wedge {
    /// No available ARC controller.
    ControllerDown,
    /// The manager Role or RoleBinding is missing.
    RbacLost {
        /// The missing objects.
        missing: Vec<String>,
    },
    /// The GitHub config Secret is missing.
    CredentialsGone {
        /// `namespace/name` of the Secret.
        secret: String,
    },
}

impl Wedge {
    /// Short name used in events and exit summaries.
    pub fn name(&self) -> &'static str {
        match self {
            Wedge::ControllerDown => "controller_down",
            Wedge::RbacLost { .. } => "lost_rbac",
            Wedge::CredentialsGone { .. } => "missing_credentials",
        }
    }
}

/// A runner that is running a job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BusyRunner {
    /// `namespace/name`.
    pub name: String,
    /// When the runner was created (RFC 3339), as a lower bound of the job's age.
    pub since: Option<String>,
}

/// Which finalizer ladder `--force-finalizers` runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LadderKind {
    /// Controller alive, credentials gone: drop GitHub deregistration, let the controller clean Kubernetes.
    Credentials,
    /// Controller absent (or unable): strip ARC's finalizers bottom-up.
    BottomUp,
}

/// The verdict.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Assessment {
    /// Causes that would wedge the teardown.
    pub wedges: Vec<Wedge>,
    /// Reasons to stop that no flag overrides.
    pub blockers: Vec<String>,
    /// Runners running a job (the teardown waits for them).
    pub busy: Vec<BusyRunner>,
    /// Objects already Terminating, with their finalizers.
    pub terminating: Vec<String>,
}

impl Assessment {
    /// The ladder `--force-finalizers` would run, if any.
    pub fn ladder(&self) -> Option<LadderKind> {
        if self
            .wedges
            .iter()
            .any(|w| matches!(w, Wedge::ControllerDown | Wedge::RbacLost { .. }))
        {
            Some(LadderKind::BottomUp)
        } else if self
            .wedges
            .iter()
            .any(|w| matches!(w, Wedge::CredentialsGone { .. }))
        {
            Some(LadderKind::Credentials)
        } else {
            None
        }
    }
}

/// Judge the facts. Pure.
pub fn assess(facts: &Facts) -> Assessment {
    let mut out = Assessment::default();
    let live_sets: Vec<&RunnerSetFacts> = facts
        .runner_sets
        .iter()
        .filter(|s| s.ars.is_some())
        .collect();
    if !live_sets.is_empty() && !facts.controllers.iter().any(|c| c.available) {
        out.wedges.push(Wedge::ControllerDown);
    }
    for set in &live_sets {
        let Some(refs) = &set.refs else { continue };
        let mut missing = Vec::new();
        if set.manager_role_binding == Some(false) {
            missing.push(format!(
                "RoleBinding/{}/{}",
                refs.namespace,
                refs.manager_role_binding.as_deref().unwrap_or_default()
            ));
        }
        if set.manager_role == Some(false) {
            missing.push(format!(
                "Role/{}/{}",
                refs.namespace,
                refs.manager_role.as_deref().unwrap_or_default()
            ));
        }
        if !missing.is_empty() {
            out.wedges.push(Wedge::RbacLost { missing });
        }
        if set.github_secret == Some(false) {
            out.wedges.push(Wedge::CredentialsGone {
                secret: format!(
                    "{}/{}",
                    refs.namespace,
                    refs.github_config_secret.as_deref().unwrap_or_default()
                ),
            });
        }
        for runner in set.runners.iter().filter(|r| arc::runner_is_busy(r)) {
            out.busy.push(BusyRunner {
                name: format!(
                    "{}/{}",
                    runner.id.namespace.as_deref().unwrap_or_default(),
                    runner.id.name
                ),
                since: runner
                    .str_at("/metadata/creationTimestamp")
                    .map(str::to_string),
            });
        }
    }
    out.terminating = facts
        .terminating
        .iter()
        .map(|l| format!("{} (finalizers: {})", l.id, list_or_none(&l.finalizers())))
        .collect();
    if !facts.not_owned.is_empty() {
        let names: Vec<String> = facts.not_owned.iter().map(ToString::to_string).collect();
        out.blockers.push(format!(
            "{} in the release manifest exist but are not owned by this release (meta.helm.sh/release-name/-namespace differ); \
             `helm uninstall` would delete them anyway, so nothing was touched. Fix their ownership annotations or remove them from the release first.",
            names.join(", ")
        ));
    }
    if !facts.pre_delete_hooks.is_empty() && !facts.no_hooks {
        out.blockers.push(format!(
            "the release has pre-delete hooks ({}); they would run only after the objects they prepare are gone. \
             Rerun with --no-hooks to skip the chart's hooks, or run `helm uninstall` yourself.",
            facts.pre_delete_hooks.join(", ")
        ));
    }
    out
}

/// One paragraph a user can act on, for a refusal.
pub fn refusal_paragraph(wedge: &Wedge, rerun: &str) -> String {
    match wedge {
        Wedge::ControllerDown => format!(
            "The ARC controller is not running (no available Deployment labelled {}), so nothing would remove the \
             finalizers of the AutoscalingRunnerSet and of the RBAC, ServiceAccounts and Secret it protects: they \
             would stay Terminating. Start the controller again (install or scale up the gha-runner-scale-set-controller \
             chart) and rerun `{rerun}`, or rerun with --force-finalizers to strip ARC's finalizers bottom-up; the scale \
             set and its runners then stay registered on GitHub and must be removed there.",
            arc::CONTROLLER_SELECTOR
        ),
        Wedge::RbacLost { missing } => format!(
            "{} that the ARC controller needs in the runner namespace {} missing, so it cannot delete the listener's \
             Role/RoleBinding, read the GitHub secret or remove runners, and cleanup would stall. Restore it \
             (`helm rollback` or `helm upgrade --reuse-values` of this release recreates it) and rerun `{rerun}`, or rerun \
             with --force-finalizers to strip ARC's finalizers bottom-up.",
            missing.join(" and "),
            if missing.len() == 1 { "is" } else { "are" }
        ),
        Wedge::CredentialsGone { secret } => format!(
            "The GitHub config Secret {secret} named by the AutoscalingRunnerSet's spec.githubConfigSecret does not \
             exist, so the controller cannot remove runners or the scale set from GitHub and would retry forever. \
             Recreate the Secret with valid credentials and rerun `{rerun}`, or rerun with --force-finalizers to let \
             the controller clean up Kubernetes without GitHub (the scale set and runners then stay registered on \
             GitHub and must be removed there)."
        ),
    }
}

pub(crate) fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_string()
    } else {
        items.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::teardown::live::arc_test_object as live;

    fn healthy() -> Facts {
        let ars = json!({"metadata": {"name": "set", "namespace": "runners", "annotations": {
            "actions.github.com/cleanup-manager-role-name": "set-gha-rs-manager",
            "actions.github.com/cleanup-manager-role-binding": "set-gha-rs-manager"}},
            "spec": {"githubConfigSecret": "set-gha-rs-github-secret"}});
        Facts {
            controllers: vec![Controller {
                name: "arc-systems/arc".into(),
                available: true,
            }],
            runner_sets: vec![RunnerSetFacts {
                refs: Some(RunnerSetRefs::from_ars(&ars, "runners")),
                ars: Some(live("AutoscalingRunnerSet", "set", ars)),
                manager_role: Some(true),
                manager_role_binding: Some(true),
                github_secret: Some(true),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn healthy_release_passes() {
        let a = assess(&healthy());
        assert_eq!(a, Assessment::default());
        assert_eq!(a.ladder(), None);
    }

    #[test]
    fn controller_down_wedges_and_picks_bottom_up() {
        let mut f = healthy();
        f.controllers[0].available = false;
        let a = assess(&f);
        assert_eq!(a.wedges, vec![Wedge::ControllerDown]);
        assert_eq!(a.ladder(), Some(LadderKind::BottomUp));
    }

    #[test]
    fn controller_absent_does_not_matter_once_the_ars_is_gone() {
        let mut f = healthy();
        f.controllers.clear();
        f.runner_sets[0].ars = None;
        assert!(assess(&f).wedges.is_empty());
    }

    #[test]
    fn lost_rbac_and_credentials_are_named() {
        let mut f = healthy();
        f.runner_sets[0].manager_role_binding = Some(false);
        f.runner_sets[0].github_secret = Some(false);
        let a = assess(&f);
        assert_eq!(
            a.wedges,
            vec![
                Wedge::RbacLost {
                    missing: vec!["RoleBinding/runners/set-gha-rs-manager".into()]
                },
                Wedge::CredentialsGone {
                    secret: "runners/set-gha-rs-github-secret".into()
                },
            ]
        );
        assert_eq!(a.ladder(), Some(LadderKind::BottomUp));
        let text = refusal_paragraph(&a.wedges[0], "helm arc-uninstall set -n runners");
        assert!(
            text.contains("RoleBinding/runners/set-gha-rs-manager that the ARC controller needs")
        );
        assert!(text.contains("--force-finalizers"));
    }

    #[test]
    fn credentials_alone_pick_the_credential_ladder() {
        let mut f = healthy();
        f.runner_sets[0].github_secret = Some(false);
        assert_eq!(assess(&f).ladder(), Some(LadderKind::Credentials));
    }

    #[test]
    fn busy_runners_are_reported_not_refused() {
        let mut f = healthy();
        f.runner_sets[0].runners.push(live(
            "EphemeralRunner",
            "set-abc-runner-x",
            json!({"metadata": {"creationTimestamp": "2026-01-01T00:00:00Z"}, "status": {"phase": "Running", "jobId": "j1"}}),
        ));
        let a = assess(&f);
        assert!(a.wedges.is_empty());
        assert_eq!(
            a.busy,
            vec![BusyRunner {
                name: "runners/set-abc-runner-x".into(),
                since: Some("2026-01-01T00:00:00Z".into())
            }]
        );
    }

    #[test]
    fn objects_owned_by_someone_else_block() {
        let mut f = healthy();
        f.not_owned.push(ObjectId {
            group: String::new(),
            version: "v1".into(),
            kind: "Secret".into(),
            namespace: Some("runners".into()),
            name: "shared".into(),
        });
        let a = assess(&f);
        assert_eq!(a.blockers.len(), 1);
        assert!(a.blockers[0].starts_with("Secret/runners/shared in the release manifest exist"));
    }

    #[test]
    fn pre_delete_hooks_block_unless_no_hooks() {
        let mut f = healthy();
        f.pre_delete_hooks = vec!["Job/runners/cleanup".into()];
        assert_eq!(assess(&f).blockers.len(), 1);
        f.no_hooks = true;
        assert!(assess(&f).blockers.is_empty());
    }
}
