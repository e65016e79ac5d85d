//! The DELETEs of a wave: only objects the release owns and does not keep,
//! each with a UID precondition, in parallel; `--keep-registration`'s
//! remove-then-delete of a runner set that shares its GitHub registration.

use super::error::TeardownError;
use super::events::{DeleteResult, Event, LadderAction, SkipReason};
use super::ladder::run::{PATCH_ATTEMPTS, StepRunner};
use super::ladder::{Action, Step};
use super::observe::{LiveMap, is_ars};
use crate::arc::{self, kept_by_policy, owned_by};
use crate::kube::{Cascade, Deleted, Patched};
use crate::manifest::Object;
use crate::model::{Live, patch};

/// Deletes a wave's objects and reports each answer.
pub(super) struct Deleter<'a> {
    steps: StepRunner<'a>,
}

impl<'a> Deleter<'a> {
    /// A deleter acting through `steps`.
    pub(super) fn new(steps: StepRunner<'a>) -> Self {
        Self { steps }
    }

    /// The wave's objects that exist, are owned by the release and not kept.
    pub(super) fn wave_targets<'o>(
        &self,
        wave: &'o [Object],
        live: &LiveMap,
    ) -> Vec<(&'o Object, Live)> {
        let mut out = Vec::new();
        for object in wave {
            match live.get(&object.id) {
                Some(Some(l))
                    if !owned_by(l, &self.steps.opts.release, &self.steps.opts.namespace) =>
                {
                    self.steps.ui.emit(&Event::Skip {
                        object: object.id.to_string(),
                        reason: SkipReason::NotOwned,
                    });
                }
                Some(Some(_)) if kept_by_policy(object) => {
                    self.steps.ui.emit(&Event::Skip {
                        object: object.id.to_string(),
                        reason: SkipReason::KeptByPolicy,
                    });
                }
                Some(Some(l)) => out.push((object, l.clone())),
                _ => self.steps.ui.emit(&Event::Skip {
                    object: object.id.to_string(),
                    reason: SkipReason::AlreadyGone,
                }),
            }
        }
        out
    }

    /// The propagation of `l`'s DELETE: `--cascade`, but foreground for a
    /// runner set of `foreground` (see `Assessment::foreground`) when that is
    /// background, so the runner set stays until the sets it owns are gone.
    fn cascade_for(&self, l: &Live, foreground: &[String]) -> Cascade {
        let cascade = self.steps.opts.cascade;
        let name = l.id.namespaced_name();
        if cascade == Cascade::Background && is_ars(&l.id) && foreground.contains(&name) {
            Cascade::Foreground
        } else {
            cascade
        }
    }

    /// DELETE the wave's objects in parallel (runner sets of `foreground`
    /// with foreground propagation); returns those still to wait for.
    pub(super) async fn delete_wave(
        &self,
        wave: usize,
        targets: &[(&Object, Live)],
        foreground: &[String],
    ) -> Result<Vec<Live>, TeardownError> {
        let dry_run = self.steps.opts.dry_run;
        let cluster = self.steps.cluster;
        let calls = targets.iter().map(|(_, l)| async move {
            if l.is_terminating() {
                return (l, Ok(None));
            }
            if dry_run {
                return (l, Ok(Some(Deleted::Terminating(l.clone()))));
            }
            let cascade = self.cascade_for(l, foreground);
            (l, cluster.delete(&l.id, l.uid(), cascade).await.map(Some))
        });
        let results = futures::future::join_all(calls).await;
        let mut pending = Vec::new();
        let mut failures = Vec::new();
        for (l, result) in results {
            let result = match result {
                Ok(result) => result,
                Err(e) => {
                    self.steps.ui.emit(&Event::Delete {
                        wave,
                        object: l.id.to_string(),
                        result: DeleteResult::Failed,
                    });
                    failures.push(format!("{}: {e}", l.id));
                    continue;
                }
            };
            pending.extend(self.record_delete(wave, l, result));
        }
        if !failures.is_empty() {
            return Err(TeardownError::Deletes {
                wave,
                total: targets.len(),
                failures,
            });
        }
        Ok(pending)
    }

    /// Reports one DELETE's result (`None`: the object was already
    /// Terminating); returns the object to wait for, if any.
    fn record_delete(&self, wave: usize, l: &Live, result: Option<Deleted>) -> Option<Live> {
        let (result, wait_for) = match result {
            None => (DeleteResult::AlreadyTerminating, Some(l.clone())),
            Some(_) if self.steps.opts.dry_run => (DeleteResult::WouldDelete, None),
            Some(Deleted::Gone) => (DeleteResult::Gone, None),
            Some(Deleted::Terminating(now)) => (DeleteResult::Terminating, Some(now)),
            Some(Deleted::NotFound) => (DeleteResult::AlreadyGone, None),
            Some(Deleted::UidMismatch) => (DeleteResult::UidChanged, None),
            // Only `delete_at` asks for it; it is read again and retried.
            Some(Deleted::Changed) => (DeleteResult::Changed, Some(l.clone())),
        };
        self.steps.ui.emit(&Event::Delete {
            wave,
            object: l.id.to_string(),
            result,
        });
        if result.is_gone() {
            self.steps.ui.emit(&Event::Gone {
                wave,
                object: l.id.to_string(),
            });
        }
        wait_for
    }

    /// `--keep-registration` for a live runner set that shares its GitHub
    /// registration: remove its `runner-scale-set-id` first, then DELETE it
    /// with preconditions on its UID and on the resourceVersion the patch
    /// produced. The controller's deletion branch then has no scale set to
    /// delete. A live runner set without the id gets it back from the
    /// controller; if that happened between the two calls, the DELETE fails
    /// its precondition and both are tried again (the deletion branch itself
    /// never creates a scale set).
    pub(super) async fn keep_registration_then_delete(
        &self,
        wave: usize,
        ars: &Live,
        foreground: &[String],
    ) -> Result<Option<Live>, TeardownError> {
        let key = arc::SCALE_SET_ID_ANNOTATION;
        let step = Step {
            rung: "keep shared registration",
            object: ars.id.clone(),
            action: Action::RemoveAnnotation {
                key: key.to_string(),
            },
        };
        for _attempt in 0..PATCH_ATTEMPTS {
            let Some(current) = self.steps.cluster.get(&ars.id).await? else {
                return Ok(self.record_delete(wave, ars, Some(Deleted::NotFound)));
            };
            if current.uid() != ars.uid() {
                return Ok(self.record_delete(wave, ars, Some(Deleted::UidMismatch)));
            }
            if current.is_terminating() {
                // Deleted by someone else meanwhile: remove the id as well as
                // it still can be.
                self.steps.run(&step).await?;
                return Ok(self.record_delete(wave, &current, None));
            }
            let read = match patch::remove_annotation(&current, key) {
                None => current,
                Some(patch) => {
                    self.steps.ui.emit(&Event::Ladder {
                        rung: step.rung.to_string(),
                        object: step.object.to_string(),
                        action: LadderAction::Patch,
                        patch: Some(patch.clone()),
                        removes: vec![key.to_string()],
                        dry_run: false,
                    });
                    match self.steps.cluster.json_patch(&ars.id, &patch).await? {
                        Patched::Applied(patched) => patched,
                        Patched::Conflict => continue,
                        Patched::NotFound => {
                            return Ok(self.record_delete(wave, ars, Some(Deleted::NotFound)));
                        }
                    }
                }
            };
            match self
                .steps
                .cluster
                .delete_at(
                    &read.id,
                    read.uid(),
                    Some(read.resource_version()),
                    self.cascade_for(&read, foreground),
                )
                .await?
            {
                Deleted::Changed => continue,
                deleted => return Ok(self.record_delete(wave, &read, Some(deleted))),
            }
        }
        self.steps.ui.emit(&Event::Ladder {
            rung: step.rung.to_string(),
            object: step.object.to_string(),
            action: LadderAction::GaveUpAfterConflicts,
            patch: None,
            removes: Vec::new(),
            dry_run: false,
        });
        Err(TeardownError::Conflicts {
            object: step.object.to_string(),
            attempts: PATCH_ATTEMPTS,
        })
    }

    /// `--keep-registration` where [`Deleter::keep_registration_then_delete`]
    /// did not run (a dry run, or a runner set already Terminating): remove
    /// `runner-scale-set-id` after the DELETE, before the controller's
    /// deletion branch reads it (once the listener and the runner sets are
    /// gone), as well as that can still be done.
    pub(super) async fn keep_registrations(
        &self,
        targets: &[(&Object, Live)],
        keep: &[String],
    ) -> Result<(), TeardownError> {
        for (_, ars) in targets.iter().filter(|(o, _)| is_ars(&o.id)) {
            let name = ars.id.namespaced_name();
            if keep.contains(&name) {
                let step = Step {
                    rung: "keep shared registration",
                    object: ars.id.clone(),
                    action: Action::RemoveAnnotation {
                        key: arc::SCALE_SET_ID_ANNOTATION.to_string(),
                    },
                };
                self.steps.run(&step).await?;
            }
        }
        Ok(())
    }
}
