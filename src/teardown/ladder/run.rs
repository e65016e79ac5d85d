//! Carrying out the ladders [`super::plan`] plans: each step read, patched
//! with a resourceVersion test and retried on conflicts; the ladder planned
//! again from a fresh read each time it runs.

use super::{Action, Leak, Step};
use crate::arc::{self, owned_by};
use crate::kube::{Cluster, Deleted, Patched};
use crate::manifest::Object;
use crate::model::{Live, patch};
use crate::teardown::error::TeardownError;
use crate::teardown::events::{Event, LadderAction, Reporter};
use crate::teardown::observe::{LiveMap, Observer};
use crate::teardown::options::Options;
use crate::teardown::preflight::{ClusterFacts, LadderKind};
use std::collections::HashMap;

/// Reads and patches of one ladder step before it gives up on conflicts.
pub(in crate::teardown) const PATCH_ATTEMPTS: usize = 8;

/// Carries out single ladder steps on the cluster.
#[derive(Clone, Copy)]
pub(in crate::teardown) struct StepRunner<'a> {
    pub(in crate::teardown) cluster: &'a Cluster,
    pub(in crate::teardown) ui: &'a dyn Reporter,
    pub(in crate::teardown) opts: &'a Options,
}

impl StepRunner<'_> {
    /// Carry out one step: DELETE first where it asks, then the patch that
    /// removes its finalizers or annotation, read again and retried on a
    /// conflict up to [`PATCH_ATTEMPTS`] times.
    pub(in crate::teardown) async fn run(&self, step: &Step) -> Result<(), TeardownError> {
        let dry_run = self.opts.dry_run;
        let emit = |action: LadderAction,
                    patch: Option<serde_json::Value>,
                    removes: Vec<String>| Event::Ladder {
            rung: step.rung.to_string(),
            object: step.object.to_string(),
            action,
            patch,
            removes,
            dry_run,
        };
        for _attempt in 0..PATCH_ATTEMPTS {
            let Some(mut current) = self.cluster.get(&step.object).await? else {
                return Ok(());
            };
            let wants_delete = matches!(
                step.action,
                Action::Delete | Action::Strip { delete: true, .. }
            );
            if wants_delete && !current.is_terminating() {
                self.ui.emit(&emit(LadderAction::Delete, None, Vec::new()));
                if !dry_run {
                    match self
                        .cluster
                        .delete(&current.id, current.uid(), self.opts.cascade)
                        .await?
                    {
                        Deleted::Terminating(now) => current = now,
                        _ => return Ok(()),
                    }
                }
            }
            let patch = match &step.action {
                Action::Delete => return Ok(()),
                Action::Strip { finalizers, .. } => patch::strip_finalizers(&current, finalizers),
                Action::RemoveAnnotation { key } => patch::remove_annotation(&current, key),
            };
            let Some(patch) = patch else {
                self.ui
                    .emit(&emit(LadderAction::NothingToRemove, None, Vec::new()));
                return Ok(());
            };
            let removes = match &step.action {
                Action::Strip { finalizers, .. } => current
                    .finalizers()
                    .into_iter()
                    .filter(|f| finalizers.contains(f))
                    .collect(),
                Action::RemoveAnnotation { key } => vec![key.clone()],
                Action::Delete => Vec::new(),
            };
            self.ui
                .emit(&emit(LadderAction::Patch, Some(patch.clone()), removes));
            if dry_run {
                return Ok(());
            }
            match self.cluster.json_patch(&step.object, &patch).await? {
                Patched::Applied(_) | Patched::NotFound => return Ok(()),
                Patched::Conflict => continue,
            }
        }
        self.ui
            .emit(&emit(LadderAction::GaveUpAfterConflicts, None, Vec::new()));
        Err(TeardownError::Conflicts {
            object: step.object.to_string(),
            attempts: PATCH_ATTEMPTS,
        })
    }
}

/// Runs a release's ladders, remembering the leaks it reported.
pub(in crate::teardown) struct LadderRunner<'a> {
    steps: StepRunner<'a>,
    /// The last leak reported per runner set (a ladder planned again reports only changes).
    leaks: HashMap<String, Leak>,
}

impl<'a> LadderRunner<'a> {
    /// A ladder runner carrying out its steps with `steps`.
    pub(in crate::teardown) fn new(steps: StepRunner<'a>) -> Self {
        Self {
            steps,
            leaks: HashMap::new(),
        }
    }

    /// [`LadderRunner::run_ladders`] until `deadline`; out of time, the wait that
    /// follows ends at once with the diagnosis of what is left.
    pub(in crate::teardown) async fn ladders_until(
        &mut self,
        deadline: tokio::time::Instant,
        kind: LadderKind,
        objects: &[&Object],
    ) -> Result<(), TeardownError> {
        match tokio::time::timeout_at(deadline, self.run_ladders(kind, objects)).await {
            Ok(result) => result,
            Err(_) => Ok(()),
        }
    }

    /// Run the ladder for every runner set of the release, from a fresh read
    /// (the controller may have created or removed runners meanwhile).
    pub(in crate::teardown) async fn run_ladders(
        &mut self,
        kind: LadderKind,
        objects: &[&Object],
    ) -> Result<(), TeardownError> {
        let observer = Observer::new(self.steps.cluster, self.steps.opts);
        let live = observer.read_live(objects).await?;
        let facts = observer.gather(objects, &live).await?;
        let line = facts.line();
        let chart: Vec<Live> = chart_objects_in_order(
            &facts,
            objects,
            &live,
            &self.steps.opts.release,
            &self.steps.opts.namespace,
        );
        for set in &facts.runner_sets {
            // Without its ARS only the release's own objects are left to free
            // (a runner set deleted without cleanup leaves cleanup-protection).
            if set.ars.is_none() && kind == LadderKind::Credentials {
                continue;
            }
            let steps = super::plan(kind, set, &chart, line);
            for step in &steps {
                self.steps.run(step).await?;
            }
            let leak = super::leak(set, kind);
            if set.ars.is_some()
                && (leak.scale_set_id.is_some() || !leak.runners.is_empty())
                && self.leaks.get(&leak.runner_set) != Some(&leak)
            {
                self.leaks.insert(leak.runner_set.clone(), leak.clone());
                self.steps.ui.emit(&Event::Leak { leak });
            }
        }
        Ok(())
    }
}

/// The release's chart objects carrying `cleanup-protection`, in the
/// controller's stripping order (named by cleanup annotations first).
fn chart_objects_in_order(
    facts: &ClusterFacts,
    objects: &[&Object],
    live: &LiveMap,
    release: &str,
    namespace: &str,
) -> Vec<Live> {
    let protected: Vec<&Live> = objects
        .iter()
        .filter_map(|o| live.get(&o.id).and_then(Option::as_ref))
        .filter(|l| owned_by(l, release, namespace))
        .filter(|l| l.finalizers().iter().any(|f| f == arc::CLEANUP_PROTECTION))
        .collect();
    let mut ordered: Vec<Live> = Vec::new();
    for set in &facts.runner_sets {
        let Some(refs) = &set.refs else { continue };
        for dep in &refs.dependents {
            if let Some(l) = protected.iter().find(|l| {
                l.id.kind == dep.kind
                    && l.id.name == dep.name
                    && l.id.namespace.as_deref() == Some(refs.namespace.as_str())
            }) && !ordered.iter().any(|o| o.id == l.id)
            {
                ordered.push((*l).clone());
            }
        }
    }
    for l in protected {
        if !ordered.iter().any(|o| o.id == l.id) {
            ordered.push(l.clone());
        }
    }
    ordered
}
