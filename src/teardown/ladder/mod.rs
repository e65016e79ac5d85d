//! The `--force-finalizers` ladders (arc-teardown.md §9 item 5), as pure
//! plans, and the JSON patches they apply. Every patch starts with a `test`
//! of the object's current resourceVersion and removes only the named
//! finalizers, so a patch built from a stale read fails instead of clobbering
//! someone else's change.

pub mod run;

use super::preflight::{LadderKind, RunnerSetFacts, dead_job_runners};
use crate::arc::{
    self,
    versions::{self, Line, Owner},
};
use crate::model::{Live, ObjectId};
use serde::Serialize;
use serde_json::Value;

/// What one ladder step does to one object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Remove these finalizers (those present); DELETE first when `delete` and not yet deleting.
    Strip {
        /// Finalizer names to remove.
        finalizers: Vec<String>,
        /// Whether to DELETE the object first.
        delete: bool,
    },
    /// DELETE the object (it has no finalizers of its own).
    Delete,
    /// Remove one annotation.
    RemoveAnnotation {
        /// The annotation key.
        key: String,
    },
}

/// One step of a ladder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Short label of the rung, for example `EphemeralRunners`.
    pub rung: &'static str,
    /// The object.
    pub object: ObjectId,
    /// What to do.
    pub action: Action,
}

fn strip(rung: &'static str, live: &Live, names: &[&str], delete: bool) -> Step {
    Step {
        rung,
        object: live.id.clone(),
        action: Action::Strip {
            finalizers: names.iter().map(|s| s.to_string()).collect(),
            delete,
        },
    }
}

/// The steps of `kind` for one runner set, in order. `chart_objects` are the
/// release's own objects (already filtered to ones the release owns), in the
/// controller's stripping order; `line` is the running controller's ARC line
/// (`None`: unknown), which decides which finalizers nobody removes. Every
/// strip names only finalizers the tool knows ([`versions::strippable`]).
pub fn plan(
    kind: LadderKind,
    set: &RunnerSetFacts,
    chart_objects: &[Live],
    line: Option<Line>,
) -> Vec<Step> {
    let mut steps = Vec::new();
    // A running controller scales a live EphemeralRunnerSet back up while its
    // runners are stripped (with credentials gone, the new runners cannot
    // register and its cleanup then wedges); once it is deleting, it never
    // creates runners again.
    let delete_sets = |steps: &mut Vec<Step>| {
        for runner_set in set.runner_sets.iter().filter(|s| !s.is_terminating()) {
            steps.push(Step {
                rung: "EphemeralRunnerSets",
                object: runner_set.id.clone(),
                action: Action::Delete,
            });
        }
    };
    match kind {
        LadderKind::Credentials => {
            delete_sets(&mut steps);
            if let Some(ars) = &set.ars
                && ars.annotation(arc::SCALE_SET_ID_ANNOTATION).is_some()
            {
                steps.push(Step {
                    rung: "AutoscalingRunnerSet scale set id",
                    object: ars.id.clone(),
                    action: Action::RemoveAnnotation {
                        key: arc::SCALE_SET_ID_ANNOTATION.to_string(),
                    },
                });
            }
            for runner in &set.runners {
                steps.push(strip(
                    "EphemeralRunners",
                    runner,
                    &[arc::ER_REGISTRATION_FINALIZER],
                    true,
                ));
            }
        }
        LadderKind::BottomUp => {
            delete_sets(&mut steps);
            for runner in &set.runners {
                steps.push(strip(
                    "EphemeralRunners",
                    runner,
                    versions::strippable(arc::ER_KIND),
                    true,
                ));
            }
            for runner_set in &set.runner_sets {
                steps.push(strip(
                    "EphemeralRunnerSets",
                    runner_set,
                    versions::strippable(arc::ERS_KIND),
                    true,
                ));
            }
            for listener in &set.listeners {
                steps.push(strip(
                    "AutoscalingListener",
                    listener,
                    versions::strippable(arc::LISTENER_KIND),
                    true,
                ));
            }
            for rbac in &set.listener_rbac {
                steps.push(Step {
                    rung: "AutoscalingListener",
                    object: rbac.id.clone(),
                    action: Action::Delete,
                });
            }
            if let Some(ars) = &set.ars {
                steps.push(strip(
                    "AutoscalingRunnerSet",
                    ars,
                    versions::strippable(arc::ARS_KIND),
                    false,
                ));
            }
            for object in chart_objects {
                steps.push(strip(
                    "cleanup-protection",
                    object,
                    &[arc::CLEANUP_PROTECTION],
                    false,
                ));
            }
        }
        LadderKind::DeadJobs => {
            for runner in dead_job_runners(set) {
                steps.push(strip(
                    "EphemeralRunners stuck on a dead job",
                    runner,
                    &[arc::ER_REGISTRATION_FINALIZER],
                    true,
                ));
            }
        }
        LadderKind::Stale => {
            let objects = set
                .runners
                .iter()
                .chain(&set.runner_sets)
                .chain(&set.listeners)
                .chain(set.ars.iter())
                .chain(chart_objects);
            for live in objects.filter(|l| l.is_terminating()) {
                let stale: Vec<String> = live
                    .finalizers()
                    .into_iter()
                    .filter(|f| matches!(versions::owner(line, f, &live.id.kind), Owner::Nobody(_)))
                    .collect();
                if !stale.is_empty() {
                    steps.push(Step {
                        rung: "stale finalizers",
                        object: live.id.clone(),
                        action: Action::Strip {
                            finalizers: stale,
                            delete: false,
                        },
                    });
                }
            }
        }
    }
    steps
}

/// What stays registered on GitHub after a ladder: the scale set and runners.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Leak {
    /// ARS `namespace/name`.
    pub runner_set: String,
    /// `spec.githubConfigUrl`.
    pub github_config_url: Option<String>,
    /// The scale set id (`runner-scale-set-id`).
    pub scale_set_id: Option<String>,
    /// Runner names (`status.runnerName`, else the object name) with ids.
    pub runners: Vec<String>,
}

/// The leak a ladder leaves for this runner set (read before it runs).
pub fn leak(set: &RunnerSetFacts, kind: LadderKind) -> Leak {
    let refs = set.refs.as_ref();
    let scale_set_id = matches!(kind, LadderKind::Credentials | LadderKind::BottomUp)
        .then(|| {
            set.ars
                .as_ref()
                .and_then(|a| a.annotation(arc::SCALE_SET_ID_ANNOTATION))
                .map(str::to_string)
                .or_else(|| refs.and_then(|r| r.scale_set_id.clone()))
        })
        .flatten();
    let runners = set
        .runners
        .iter()
        .filter(|r| {
            kind == LadderKind::BottomUp
                || (kind != LadderKind::DeadJobs || dead_job_runners(set).contains(r))
                    && r.finalizers()
                        .iter()
                        .any(|f| f == arc::ER_REGISTRATION_FINALIZER)
        })
        .map(|r| {
            let name = r.str_at("/status/runnerName").unwrap_or(&r.id.name);
            match r.value.pointer("/status/runnerId").and_then(Value::as_i64) {
                Some(id) if id != 0 => format!("{name} (id {id})"),
                _ => name.to_string(),
            }
        })
        .collect();
    Leak {
        runner_set: refs
            .map(|r| format!("{}/{}", r.namespace, r.name))
            .unwrap_or_default(),
        github_config_url: refs.and_then(|r| r.github_config_url.clone()),
        scale_set_id,
        runners,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arc::RunnerSetRefs;
    use serde_json::json;

    use crate::arc::test_object as live;

    fn facts() -> RunnerSetFacts {
        let ars_json = json!({"metadata": {"name": "set", "namespace": "runners", "resourceVersion": "5",
            "annotations": {"runner-scale-set-id": "7"}}, "spec": {"githubConfigUrl": "https://github.com/o"}});
        RunnerSetFacts {
            refs: Some(RunnerSetRefs::from_ars(&ars_json, "runners")),
            ars: Some(live("AutoscalingRunnerSet", "set", ars_json)),
            listeners: vec![live("AutoscalingListener", "set-1234-listener", json!({}))],
            runner_sets: vec![live("EphemeralRunnerSet", "set-x", json!({}))],
            runners: vec![live(
                "EphemeralRunner",
                "set-x-runner-a",
                json!({"metadata": {"finalizers": [arc::ER_REGISTRATION_FINALIZER]}, "status": {"runnerId": 3, "runnerName": "set-x-runner-a"}}),
            )],
            ..Default::default()
        }
    }

    #[test]
    fn bottom_up_order_is_sets_deleted_then_runners_sets_listener_ars_chart() {
        let chart = vec![live("Role", "set-gha-rs-manager", json!({}))];
        let steps = plan(LadderKind::BottomUp, &facts(), &chart, Some(Line::V0_14));
        assert_eq!(
            steps[0].action,
            Action::Delete,
            "the runner set is deleting before its runners are stripped"
        );
        let rungs: Vec<_> = steps
            .iter()
            .map(|s| (s.rung, s.object.kind.clone()))
            .collect();
        assert_eq!(
            rungs,
            vec![
                ("EphemeralRunnerSets", "EphemeralRunnerSet".into()),
                ("EphemeralRunners", "EphemeralRunner".into()),
                ("EphemeralRunnerSets", "EphemeralRunnerSet".into()),
                ("AutoscalingListener", "AutoscalingListener".into()),
                ("AutoscalingRunnerSet", "AutoscalingRunnerSet".into()),
                ("cleanup-protection", "Role".into()),
            ]
        );
    }

    #[test]
    fn credential_ladder_deletes_the_sets_then_drops_scale_set_id_then_registrations() {
        let steps = plan(LadderKind::Credentials, &facts(), &[], Some(Line::V0_14));
        assert_eq!(
            (
                steps[0].rung,
                steps[0].object.kind.as_str(),
                &steps[0].action
            ),
            ("EphemeralRunnerSets", "EphemeralRunnerSet", &Action::Delete),
            "a live runner set would recreate runners that cannot register"
        );
        assert_eq!(
            steps[1].action,
            Action::RemoveAnnotation {
                key: "runner-scale-set-id".into()
            }
        );
        assert_eq!(
            steps[2].action,
            Action::Strip {
                finalizers: vec![arc::ER_REGISTRATION_FINALIZER.into()],
                delete: true
            }
        );
        assert_eq!(steps.len(), 3);
        // A set already deleting is not deleted again.
        let mut deleting = facts();
        deleting.runner_sets[0].value["metadata"]["deletionTimestamp"] =
            json!("2026-01-01T00:00:00Z");
        let steps = plan(LadderKind::Credentials, &deleting, &[], Some(Line::V0_14));
        assert_eq!(steps[0].rung, "AutoscalingRunnerSet scale set id");
    }

    #[test]
    fn every_listener_of_the_set_is_stripped() {
        let mut f = facts();
        f.listeners.push(live(
            "AutoscalingListener",
            "set-old00000-listener",
            json!({}),
        ));
        let steps = plan(LadderKind::BottomUp, &f, &[], None);
        let listeners: Vec<&str> = steps
            .iter()
            .filter(|s| s.object.kind == "AutoscalingListener")
            .map(|s| s.object.name.as_str())
            .collect();
        assert_eq!(
            listeners,
            vec!["set-1234-listener", "set-old00000-listener"]
        );
    }

    #[test]
    fn unknown_finalizers_are_never_named_in_a_strip() {
        let mut f = facts();
        f.runner_sets[0].value["metadata"]["finalizers"] =
            json!([arc::ERS_FINALIZER_HEAD, "example.com/keep"]);
        for line in [None, Some(Line::V0_13), Some(Line::V0_14), Some(Line::Next)] {
            for kind in [
                LadderKind::BottomUp,
                LadderKind::Credentials,
                LadderKind::Stale,
            ] {
                for step in plan(kind, &f, &[], line) {
                    if let Action::Strip { finalizers, .. } = &step.action {
                        assert!(
                            !finalizers.iter().any(|n| n == "example.com/keep"),
                            "{step:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn stale_ladder_strips_only_what_nobody_removes() {
        let mut f = facts();
        // Created under 0.14, deleted under 0.15: the old name stays.
        f.runner_sets[0].value["metadata"] = json!({"deletionTimestamp": "2026-01-01T00:00:00Z",
            "finalizers": [arc::ER_FINALIZER, arc::ERS_FINALIZER_HEAD]});
        let steps = plan(LadderKind::Stale, &f, &[], Some(Line::Next));
        assert_eq!(
            steps,
            vec![Step {
                rung: "stale finalizers",
                object: f.runner_sets[0].id.clone(),
                action: Action::Strip {
                    finalizers: vec![arc::ER_FINALIZER.into()],
                    delete: false
                }
            }]
        );
        assert!(plan(LadderKind::Stale, &f, &[], Some(Line::V0_14)).iter().all(|s| {
            !matches!(&s.action, Action::Strip { finalizers, .. } if finalizers.contains(&arc::ER_FINALIZER.to_string()))
        }));
    }

    #[test]
    fn leak_names_scale_set_and_runners() {
        let l = leak(&facts(), LadderKind::Credentials);
        assert_eq!(l.runner_set, "runners/set");
        assert_eq!(l.scale_set_id.as_deref(), Some("7"));
        assert_eq!(l.runners, vec!["set-x-runner-a (id 3)"]);
    }
}
