//! The state machine of one release's teardown: observe, decide (preflight),
//! then wave by wave delete, run the ladder when asked, wait, and diagnose
//! what does not finish. The parts it sequences are
//! [`super::observe`] (reads), `delete` (DELETEs),
//! [`super::ladder::run`] (ladder steps) and `wait` (watches).

use super::checks::checks;
use super::delete::Deleter;
use super::diagnosis::diagnose;
use super::error::TeardownError;
use super::events::{Event, Reporter};
use super::ladder::run::{LadderRunner, StepRunner};
use super::observe::{LiveMap, Observer, is_ars};
use super::options::Options;
use super::preflight::{self, Assessment, ClusterFacts, LadderKind, assess};
use super::wait::{Waited, Waiter, fresh_of};
use crate::arc::RunnerSetRefs;
use crate::kube::Cluster;
use crate::manifest::Object;
use crate::model::{Live, ObjectId};
pub use crate::outcome::Outcome;
use std::time::{Duration, Instant};
use tokio::time::Instant as Deadline;

/// While a ladder is active, how often the wave is planned again from a fresh read.
const REPLAN_INTERVAL: Duration = Duration::from_secs(5);
/// Ladders started by a diagnosis at a wave's timeout, at most, per wave.
const MAX_LATE_LADDERS: usize = 2;

/// What a teardown did (before `helm uninstall`).
#[derive(Clone, Debug)]
pub struct Report {
    /// How it ended: every wave finished (`Success`, `DryRun`), preflight
    /// refused (`Refused`, nothing deleted) or a wave ran out of time
    /// (`TimedOut`).
    pub outcome: Outcome,
    /// Why it was refused or timed out (the diagnosis cause).
    pub cause: Option<String>,
}

/// The teardown engine over a cluster and a reporter.
pub struct Engine<'a> {
    cluster: &'a Cluster,
    ui: &'a dyn Reporter,
    opts: &'a Options,
    ladders: LadderRunner<'a>,
}

/// One wave as the engine runs it.
struct Wave<'w> {
    index: usize,
    /// Every manifest object (ladders and diagnoses read them all again).
    objects: &'w [&'w Object],
    /// When the wave started, for its `wave_done` event.
    started: Instant,
}

impl<'a> Engine<'a> {
    /// Build an engine. What it does reaches `ui` as events (a
    /// `ui::Counting` reporter counts the DELETEs that took effect).
    pub fn new(cluster: &'a Cluster, ui: &'a dyn Reporter, opts: &'a Options) -> Self {
        let steps = StepRunner { cluster, ui, opts };
        Self {
            cluster,
            ui,
            opts,
            ladders: LadderRunner::new(steps),
        }
    }

    fn observer(&self) -> Observer<'a> {
        Observer::new(self.cluster, self.opts)
    }

    fn deleter(&self) -> Deleter<'_> {
        let steps = StepRunner {
            cluster: self.cluster,
            ui: self.ui,
            opts: self.opts,
        };
        Deleter::new(steps)
    }

    /// Run the teardown of `waves` (manifest objects, wave 0 first).
    pub async fn run(&mut self, waves: &[Vec<Object>]) -> Result<Report, TeardownError> {
        let objects: Vec<&Object> = waves.iter().flatten().collect();
        let live = self.observer().read_live(&objects).await?;
        let facts = self.observer().gather(&objects, &live).await?;
        let assessment = assess(&facts);
        let mut problems = Vec::new();
        for check in checks(&facts, &assessment) {
            if !check.ok {
                problems.push(check.problem());
            }
            self.ui.emit(&Event::Check {
                check: check.check,
                ok: check.ok,
                detail: check.detail,
            });
        }
        if let Some((cause, message)) =
            self.refusal(&facts, &assessment, &objects, &live, &problems)
        {
            self.ui.emit(&Event::Refused {
                cause: cause.clone(),
                message,
            });
            return Ok(self.report(Outcome::Refused, Some(cause)));
        }
        let keep: Vec<String> = if self.opts.keep_registration {
            assessment
                .shared
                .iter()
                .map(|s| s.runner_set.clone())
                .collect()
        } else {
            Vec::new()
        };
        let ladder = assessment.ladder();
        for (index, wave) in waves.iter().enumerate() {
            let wave_run = Wave {
                index,
                objects: &objects,
                started: Instant::now(),
            };
            let foreground = &assessment.foreground;
            if let Some(report) = self
                .run_wave(&wave_run, wave, &live, &keep, foreground, ladder)
                .await?
            {
                return Ok(report);
            }
        }
        let outcome = if self.opts.dry_run {
            Outcome::DryRun
        } else {
            Outcome::Success
        };
        Ok(self.report(outcome, None))
    }

    /// Why preflight stops the run before any write (cause and the paragraph
    /// for the user), if it does.
    fn refusal(
        &self,
        facts: &ClusterFacts,
        assessment: &Assessment,
        objects: &[&Object],
        live: &LiveMap,
        problems: &[String],
    ) -> Option<(String, String)> {
        let rerun = &self.opts.rerun;
        if let Some(blocker) = assessment.blockers.first() {
            return Some(("blocked".into(), blocker.clone()));
        }
        if let Some(shared) = assessment.shared.first()
            && !self.opts.keep_registration
        {
            let message = preflight::shared_paragraph(shared, rerun);
            return Some(("shared_registration".into(), message));
        }
        if let Some(wedge) = assessment.wedges.first()
            && !self.opts.force_finalizers
        {
            let mut message = preflight::refusal_paragraph(wedge, rerun);
            if matches!(wedge, preflight::Wedge::ControllerDown)
                && let Some(namespaces) = &facts.controllers_only_in
            {
                message.push_str(&format!(
                    " (The controller was looked for only in namespaces {}: listing Deployments in every namespace \
                     is forbidden for this user. If it runs elsewhere, grant list on deployments.apps there.)",
                    namespaces.join(", ")
                ));
            }
            return Some((wedge.name().into(), message));
        }
        // Nothing of the release exists here while preflight found problems:
        // the wrong cluster, or objects removed by hand. Not a success
        // (`helm uninstall` would then remove the record of objects that may
        // be wedged elsewhere).
        let present = objects
            .iter()
            .filter(|o| matches!(live.get(&o.id), Some(Some(_))))
            .count();
        if present == 0 && !objects.is_empty() && !problems.is_empty() {
            let message = preflight::nothing_found_paragraph(
                objects.len(),
                problems,
                &self.cluster.target().describe(),
                &self.opts.release,
                &self.opts.namespace,
            );
            return Some((preflight::NOTHING_FOUND.into(), message));
        }
        None
    }

    /// Delete one wave, run the ladder preflight chose, and wait for the
    /// wave. `Some` ends the run (a wave out of time).
    async fn run_wave(
        &mut self,
        run: &Wave<'_>,
        wave: &[Object],
        live: &LiveMap,
        keep: &[String],
        foreground: &[String],
        ladder_kind: Option<LadderKind>,
    ) -> Result<Option<Report>, TeardownError> {
        let index = run.index;
        let targets = self.deleter().wave_targets(wave, live);
        let names: Vec<String> = targets.iter().map(|(_, l)| l.id.to_string()).collect();
        if names.is_empty() {
            return Ok(None);
        }
        self.ui.emit(&Event::WaveStart {
            wave: index,
            objects: names,
        });
        // --timeout bounds the whole wave: its DELETEs, patches and wait.
        let deadline = Deadline::now() + self.opts.timeout;
        let out_of_time = |what: &str| TeardownError::OutOfTime {
            wave: index,
            what: what.into(),
        };
        // --keep-registration: a live runner set loses its scale set id
        // before its DELETE (see `Deleter::keep_registration_then_delete`).
        let mut kept_first: Vec<ObjectId> = Vec::new();
        let mut pending_first: Vec<Live> = Vec::new();
        if !self.opts.dry_run {
            for (_, ars) in targets.iter().filter(|(o, l)| {
                is_ars(&o.id) && !l.is_terminating() && keep.contains(&l.id.namespaced_name())
            }) {
                let deleter = self.deleter();
                let waited = deleter.keep_registration_then_delete(index, ars, foreground);
                let waited = tokio::time::timeout_at(deadline, waited)
                    .await
                    .map_err(|_| out_of_time("keeping the GitHub registration"))??;
                kept_first.push(ars.id.clone());
                pending_first.extend(waited);
            }
        }
        let rest: Vec<(&Object, Live)> = targets
            .iter()
            .filter(|(_, l)| !kept_first.contains(&l.id))
            .map(|(o, l)| (*o, l.clone()))
            .collect();
        let deleter = self.deleter();
        let mut pending =
            match tokio::time::timeout_at(deadline, deleter.delete_wave(index, &rest, foreground))
                .await
            {
                Ok(result) => result?,
                // Out of time before every DELETE answered: on to the
                // diagnosis of what is left.
                Err(_) => rest.iter().map(|(_, l)| l.clone()).collect(),
            };
        pending.extend(pending_first);
        let has_ars = targets.iter().any(|(o, _)| is_ars(&o.id));
        if has_ars {
            // A dry run, or a runner set already Terminating: the id is
            // removed after the fact, as well as it still can be.
            tokio::time::timeout_at(deadline, deleter.keep_registrations(&rest, keep))
                .await
                .map_err(|_| out_of_time("keeping the GitHub registration"))??;
        }
        // The ladder preflight chose runs right after the ARS DELETE; while
        // the wave waits it is planned again every REPLAN_INTERVAL from a
        // fresh read (a running controller may create runners behind it).
        let ladder = match ladder_kind {
            Some(kind) if has_ars && self.opts.force_finalizers => Some(kind),
            _ => None,
        };
        if let Some(kind) = ladder {
            self.ladders
                .ladders_until(deadline, kind, run.objects)
                .await?;
        }
        if self.opts.dry_run {
            return Ok(None);
        }
        let sets: Vec<RunnerSetRefs> = targets
            .iter()
            .filter(|(o, _)| is_ars(&o.id))
            .map(|(_, l)| RunnerSetRefs::from_ars(&l.value, &self.opts.namespace))
            .collect();
        self.wait_out(run, pending, &sets, has_ars, deadline, ladder)
            .await
    }

    /// Wait for a wave until its objects are gone. With `--force-finalizers`
    /// an active ladder is planned again every [`REPLAN_INTERVAL`], and a
    /// wedge found only when the wave times out (RBAC or credentials lost
    /// mid-teardown, a scale set GitHub refuses to delete) gets its ladder,
    /// then one more `--timeout`. `Some` ends the run (out of time).
    async fn wait_out(
        &mut self,
        run: &Wave<'_>,
        mut pending: Vec<Live>,
        sets: &[RunnerSetRefs],
        has_ars: bool,
        mut deadline: Deadline,
        mut ladder: Option<LadderKind>,
    ) -> Result<Option<Report>, TeardownError> {
        let (index, objects) = (run.index, run.objects);
        let mut late_ladders = 0;
        loop {
            let until = match ladder {
                Some(_) => deadline.min(Deadline::now() + REPLAN_INTERVAL),
                None => deadline,
            };
            let waiter = Waiter::new(self.cluster, self.ui);
            let left = match waiter
                .wait_wave(index, pending, sets, has_ars, until)
                .await?
            {
                Waited::Done => {
                    self.ui.emit(&Event::WaveDone {
                        wave: index,
                        seconds: run.started.elapsed().as_secs_f64(),
                    });
                    return Ok(None);
                }
                Waited::TimedOut(left) => left,
            };
            let fresh = self.observer().read_live(objects).await?;
            let still: Vec<Live> = left.iter().filter_map(|l| fresh_of(&fresh, l)).collect();
            pending = still.clone();
            if let Some(kind) = ladder
                && Deadline::now() < deadline
            {
                self.ladders.ladders_until(deadline, kind, objects).await?;
                continue;
            }
            self.ui.emit(&Event::WaveTimedOut {
                wave: index,
                timeout: crate::duration::format_duration(self.opts.timeout),
            });
            let facts = self.observer().gather(objects, &fresh).await?;
            let diagnosis = diagnose(&still, &facts, &self.opts.rerun);
            let cause = diagnosis.cause.clone();
            let late = diagnosis.ladder;
            self.ui.emit(&Event::Diagnosis { diagnosis });
            let late = match late {
                Some(kind) if self.opts.force_finalizers && late_ladders < MAX_LATE_LADDERS => kind,
                _ => return Ok(Some(self.report(Outcome::TimedOut, Some(cause)))),
            };
            late_ladders += 1;
            ladder = Some(late);
            deadline = Deadline::now() + self.opts.timeout;
            self.ladders.ladders_until(deadline, late, objects).await?;
        }
    }

    fn report(&self, outcome: Outcome, cause: Option<String>) -> Report {
        Report { outcome, cause }
    }
}
