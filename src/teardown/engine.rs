//! The wave executor: read the live state, run preflight, delete wave by wave
//! with UID preconditions, wait with watches, run the finalizer ladder when
//! asked, and diagnose what does not finish.

use super::diagnosis::diagnose;
use super::events::{Event, Reporter};
use super::ladder::{self, Action, Step};
use super::preflight::{self, Controller, Facts, LadderKind, RunnerSetFacts, assess};
use crate::arc::{self, RunnerSetRefs, kept_by_policy, owned_by};
use crate::kube::{Cascade, Cluster, Deleted, KubeError, Patched, WatchItem, WideList};
use crate::manifest::Object;
use crate::model::{Live, ObjectId};
use futures::StreamExt;
use futures::stream::BoxStream;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// While a ladder is active, how often the wave is planned again from a fresh read.
const REPLAN_INTERVAL: Duration = Duration::from_secs(5);
/// Ladders started by a diagnosis at a wave's timeout, at most, per wave.
const MAX_LATE_LADDERS: usize = 2;

/// How to run a teardown.
#[derive(Clone, Debug)]
pub struct Options {
    /// Release name.
    pub release: String,
    /// Release namespace.
    pub namespace: String,
    /// Per-wave timeout.
    pub timeout: Duration,
    /// Show every step, write nothing.
    pub dry_run: bool,
    /// Run the finalizer ladder when the plan would wedge.
    pub force_finalizers: bool,
    /// `propagationPolicy` of our DELETEs.
    pub cascade: Cascade,
    /// The command line to suggest for a rerun.
    pub rerun: super::rerun::Rerun,
    /// `pre-delete` hooks of the release.
    pub pre_delete_hooks: Vec<String>,
    /// The user passed `--no-hooks`.
    pub no_hooks: bool,
    /// Tear down a runner set that shares its GitHub registration, leaving the registration to the others.
    pub keep_registration: bool,
}

/// How a teardown ended (before `helm uninstall`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every wave finished.
    Success,
    /// Preflight refused; nothing was deleted.
    Refused,
    /// A wave ran out of time; objects are left.
    TimedOut,
    /// Dry run: nothing was written.
    DryRun,
}

/// What a teardown did.
#[derive(Clone, Debug)]
pub struct Report {
    /// How it ended.
    pub outcome: Outcome,
    /// DELETEs that took effect.
    pub deleted: usize,
    /// Why it was refused or timed out (the diagnosis cause).
    pub cause: Option<String>,
}

/// Reads and patches of one ladder step before it gives up on conflicts.
const PATCH_ATTEMPTS: usize = 8;

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
pub enum TeardownError {
    /// A Kubernetes call failed.
    #[error(transparent)]
    Kube(#[from] KubeError),
    /// DELETEs of a wave failed (every failed object is named).
    #[error("wave {wave}: DELETE failed for {} of {total} objects: {}", failures.len(), failures.join("; "))]
    Deletes {
        /// The wave.
        wave: usize,
        /// Objects the wave tried to delete.
        total: usize,
        /// `Kind/namespace/name: error`, one per failed DELETE.
        failures: Vec<String>,
    },
    /// The API server refused to list or watch what a wave waits for.
    #[error(
        "{}cannot {verb} {resource} to wait for wave {wave}: {code} {reason}; the wave's objects cannot be \
         followed, so the run stops instead of waiting out --timeout{}",
        if *code == 403 { "missing permission: " } else { "" },
        if *code == 403 { " (README \"Permissions\" lists what each command needs)" } else { "" }
    )]
    WatchRefused {
        /// The wave.
        wave: usize,
        /// `list` or `watch`.
        verb: &'static str,
        /// The RBAC resource and where: `secrets in namespace NS`,
        /// `autoscalinglisteners.actions.github.com in every namespace`.
        resource: String,
        /// HTTP status code (401, 403 or 404).
        code: u16,
        /// The API server's reason and message.
        reason: String,
    },
    /// A step of a wave could not finish within `--timeout`.
    #[error("wave {wave}: {what} did not finish within --timeout")]
    OutOfTime {
        /// The wave.
        wave: usize,
        /// The step.
        what: String,
    },
    /// A finalizer-ladder patch kept finding its object changed.
    #[error(
        "gave up patching {object} after {attempts} conflicts (it changed between every read and patch); \
         rerun the same command"
    )]
    Conflicts {
        /// The object.
        object: String,
        /// Patch attempts made.
        attempts: usize,
    },
}

/// `namespace/name` of a live object.
fn namespaced_name(l: &Live) -> String {
    format!(
        "{}/{}",
        l.id.namespace.as_deref().unwrap_or_default(),
        l.id.name
    )
}

fn is_ars(id: &ObjectId) -> bool {
    id.group == arc::GROUP && id.kind == arc::ARS_KIND
}

/// An object waited on: group, kind, namespace, name (two kinds of one name
/// in different groups are different objects).
type Key = (String, String, Option<String>, String);

fn key(id: &ObjectId) -> Key {
    (
        id.group.clone(),
        id.kind.clone(),
        id.namespace.clone(),
        id.name.clone(),
    )
}

/// What one target watch covers: a kind of a group in a namespace (or all).
#[derive(Clone, Debug, PartialEq, Eq)]
struct WatchTag {
    group: String,
    kind: String,
    namespace: Option<String>,
}

impl WatchTag {
    fn covers(&self, k: &Key) -> bool {
        k.0 == self.group && k.1 == self.kind && k.2 == self.namespace
    }

    /// `RESOURCE in namespace NS` (or `in every namespace`) for messages,
    /// `resource` being the RBAC name of the watched kind.
    fn describe(&self, resource: &str) -> String {
        match &self.namespace {
            Some(ns) => format!("{resource} in namespace {ns}"),
            None => format!("{resource} in every namespace"),
        }
    }
}

/// The teardown engine over a cluster and a reporter.
pub struct Engine<'a> {
    cluster: &'a Cluster,
    ui: &'a dyn Reporter,
    opts: &'a Options,
    deleted: Arc<AtomicUsize>,
    /// The last leak reported per runner set (a ladder planned again reports only changes).
    leaks: HashMap<String, ladder::Leak>,
}

impl<'a> Engine<'a> {
    /// Build an engine. `deleted` counts the DELETEs that took effect (shared
    /// so a caller can still report it when the run is interrupted).
    pub fn new(
        cluster: &'a Cluster,
        ui: &'a dyn Reporter,
        opts: &'a Options,
        deleted: Arc<AtomicUsize>,
    ) -> Self {
        Self {
            cluster,
            ui,
            opts,
            deleted,
            leaks: HashMap::new(),
        }
    }

    /// Run the teardown of `waves` (manifest objects, wave 0 first).
    pub async fn run(&mut self, waves: &[Vec<Object>]) -> Result<Report, TeardownError> {
        let objects: Vec<&Object> = waves.iter().flatten().collect();
        let live = self.read_live(&objects).await?;
        let facts = self.gather(&objects, &live).await?;
        let assessment = assess(&facts);
        let problems = self.report_checks(&facts, &assessment);
        if let Some(blocker) = assessment.blockers.first() {
            self.ui.emit(&Event::Refused {
                cause: "blocked".into(),
                message: blocker.clone(),
            });
            return Ok(self.report(Outcome::Refused, Some("blocked".into())));
        }
        if let Some(shared) = assessment.shared.first()
            && !self.opts.keep_registration
        {
            self.ui.emit(&Event::Refused {
                cause: "shared_registration".into(),
                message: preflight::shared_paragraph(shared, &self.opts.rerun),
            });
            return Ok(self.report(Outcome::Refused, Some("shared_registration".into())));
        }
        let ladder_kind = assessment.ladder();
        if let Some(wedge) = assessment.wedges.first()
            && !self.opts.force_finalizers
        {
            let mut message = preflight::refusal_paragraph(wedge, &self.opts.rerun);
            if matches!(wedge, preflight::Wedge::ControllerDown)
                && let Some(namespaces) = &facts.controllers_only_in
            {
                message.push_str(&format!(
                    " (The controller was looked for only in namespaces {}: listing Deployments in every namespace \
                     is forbidden for this user. If it runs elsewhere, grant list on deployments.apps there.)",
                    namespaces.join(", ")
                ));
            }
            self.ui.emit(&Event::Refused {
                cause: wedge.name().into(),
                message,
            });
            return Ok(self.report(Outcome::Refused, Some(wedge.name().into())));
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
            self.ui.emit(&Event::Refused {
                cause: preflight::NOTHING_FOUND.into(),
                message: preflight::nothing_found_paragraph(
                    objects.len(),
                    &problems,
                    &self.cluster.target().describe(),
                    &self.opts.release,
                    &self.opts.namespace,
                ),
            });
            return Ok(self.report(Outcome::Refused, Some(preflight::NOTHING_FOUND.into())));
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

        for (index, wave) in waves.iter().enumerate() {
            let targets = self.wave_targets(wave, &live);
            let names: Vec<String> = targets.iter().map(|(_, l)| l.id.to_string()).collect();
            if names.is_empty() {
                continue;
            }
            self.ui.emit(&Event::WaveStart {
                wave: index,
                objects: names,
            });
            let started = Instant::now();
            // --timeout bounds the whole wave: its DELETEs, patches and wait.
            let mut deadline = tokio::time::Instant::now() + self.opts.timeout;
            // --keep-registration: a live runner set loses its scale set id
            // before its DELETE (see `keep_registration_then_delete`).
            let mut kept_first: Vec<ObjectId> = Vec::new();
            let mut pending_first: Vec<Live> = Vec::new();
            if !self.opts.dry_run {
                for (_, ars) in targets.iter().filter(|(o, l)| {
                    is_ars(&o.id) && !l.is_terminating() && keep.contains(&namespaced_name(l))
                }) {
                    let waited = tokio::time::timeout_at(
                        deadline,
                        self.keep_registration_then_delete(index, ars),
                    )
                    .await
                    .map_err(|_| TeardownError::OutOfTime {
                        wave: index,
                        what: "keeping the GitHub registration".into(),
                    })??;
                    kept_first.push(ars.id.clone());
                    pending_first.extend(waited);
                }
            }
            let rest: Vec<(&Object, Live)> = targets
                .iter()
                .filter(|(_, l)| !kept_first.contains(&l.id))
                .map(|(o, l)| (*o, l.clone()))
                .collect();
            let mut pending =
                match tokio::time::timeout_at(deadline, self.delete_wave(index, &rest)).await {
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
                tokio::time::timeout_at(deadline, self.keep_registrations(&rest, &keep))
                    .await
                    .map_err(|_| TeardownError::OutOfTime {
                        wave: index,
                        what: "keeping the GitHub registration".into(),
                    })??;
            }
            // The ladder preflight chose runs right after the ARS DELETE; while
            // the wave waits it is planned again every REPLAN_INTERVAL from a
            // fresh read (a running controller may create runners behind it).
            let mut ladder = match ladder_kind {
                Some(kind) if has_ars && self.opts.force_finalizers => Some(kind),
                _ => None,
            };
            if let Some(kind) = ladder {
                self.ladders_until(deadline, kind, &objects).await?;
            }
            if self.opts.dry_run {
                continue;
            }
            let sets: Vec<RunnerSetRefs> = targets
                .iter()
                .filter(|(o, _)| is_ars(&o.id))
                .map(|(_, l)| RunnerSetRefs::from_ars(&l.value, &self.opts.namespace))
                .collect();
            // With --force-finalizers, a wedge found only when the wave times
            // out (RBAC or credentials lost mid-teardown, a scale set GitHub
            // refuses to delete) gets its ladder, then one more --timeout.
            let mut late_ladders = 0;
            let mut pending = pending;
            loop {
                let until = match ladder {
                    Some(_) => deadline.min(tokio::time::Instant::now() + REPLAN_INTERVAL),
                    None => deadline,
                };
                match self
                    .wait_wave(index, pending, &sets, has_ars, until)
                    .await?
                {
                    Waited::Done => {
                        self.ui.emit(&Event::WaveDone {
                            wave: index,
                            seconds: started.elapsed().as_secs_f64(),
                        });
                        break;
                    }
                    Waited::TimedOut(left) => {
                        let fresh = self.read_live(&objects).await?;
                        let still: Vec<Live> =
                            left.iter().filter_map(|l| fresh_of(&fresh, l)).collect();
                        if let Some(kind) = ladder
                            && tokio::time::Instant::now() < deadline
                        {
                            self.ladders_until(deadline, kind, &objects).await?;
                            pending = still;
                            continue;
                        }
                        self.ui.emit(&Event::WaveTimedOut {
                            wave: index,
                            timeout: crate::duration::format_duration(self.opts.timeout),
                        });
                        let facts = self.gather(&objects, &fresh).await?;
                        let diagnosis = diagnose(&still, &facts, &self.opts.rerun);
                        let cause = diagnosis.cause.clone();
                        let late = diagnosis.ladder;
                        self.ui.emit(&Event::Diagnosis { diagnosis });
                        let late = match late {
                            Some(kind)
                                if self.opts.force_finalizers
                                    && late_ladders < MAX_LATE_LADDERS =>
                            {
                                kind
                            }
                            _ => return Ok(self.report(Outcome::TimedOut, Some(cause))),
                        };
                        late_ladders += 1;
                        ladder = Some(late);
                        deadline = tokio::time::Instant::now() + self.opts.timeout;
                        self.ladders_until(deadline, late, &objects).await?;
                        pending = still;
                    }
                }
            }
        }
        let outcome = if self.opts.dry_run {
            Outcome::DryRun
        } else {
            Outcome::Success
        };
        Ok(self.report(outcome, None))
    }

    fn report(&self, outcome: Outcome, cause: Option<String>) -> Report {
        Report {
            outcome,
            deleted: self.deleted.load(Ordering::Relaxed),
            cause,
        }
    }

    /// GET every manifest object; `None` for absent ones. Keyed by manifest identity.
    async fn read_live(
        &self,
        objects: &[&Object],
    ) -> Result<HashMap<ObjectId, Option<Live>>, TeardownError> {
        let reads = futures::stream::iter(objects.iter().map(|o| async move {
            let result = match self.cluster.get(&o.id).await {
                Err(KubeError::UnknownKind(_)) => Ok(None),
                other => other,
            };
            (o.id.clone(), result)
        }))
        .buffer_unordered(8)
        .collect::<Vec<_>>()
        .await;
        let mut map = HashMap::new();
        for (id, result) in reads {
            map.insert(id, result?);
        }
        Ok(map)
    }

    /// Read everything preflight and diagnosis need.
    async fn gather(
        &self,
        objects: &[&Object],
        live: &HashMap<ObjectId, Option<Live>>,
    ) -> Result<Facts, TeardownError> {
        let mut facts = Facts {
            pre_delete_hooks: self.opts.pre_delete_hooks.clone(),
            no_hooks: self.opts.no_hooks,
            ..Facts::default()
        };
        for object in objects {
            let Some(Some(l)) = live.get(&object.id) else {
                continue;
            };
            if !owned_by(l, &self.opts.release, &self.opts.namespace) {
                facts.not_owned.push(object.id.clone());
            } else if l.is_terminating() {
                facts.terminating.push(l.clone());
            }
        }
        let ars_objects: Vec<&&Object> = objects.iter().filter(|o| is_ars(&o.id)).collect();
        if ars_objects.is_empty() {
            return Ok(facts);
        }
        // Controllers, listeners and other runner sets are looked for in
        // every namespace; for a user whose rights are Roles, where they
        // live: controllers and listeners in the controller's namespace (of
        // the ServiceAccount the manager RoleBinding binds), runner sets in
        // the release's.
        let (controller_namespaces, runner_namespaces) = self.namespaces_that_matter(objects, live);
        let controllers = self
            .wide_or_empty(
                ("apps", "v1", "Deployment"),
                Some(arc::CONTROLLER_SELECTOR),
                &controller_namespaces,
            )
            .await?;
        facts.controllers = controllers
            .items
            .iter()
            .map(Controller::from_deployment)
            .collect();
        facts.controllers_only_in = controllers.only_in.clone();
        let listeners = self
            .wide_or_empty(
                (arc::GROUP, arc::VERSION, arc::LISTENER_KIND),
                None,
                &controller_namespaces,
            )
            .await?;
        let runner_sets = self
            .wide_or_empty(
                (arc::GROUP, arc::VERSION, arc::ARS_KIND),
                None,
                &runner_namespaces,
            )
            .await?;
        for (what, list) in [
            ("ARC controller Deployments", &controllers),
            ("AutoscalingListeners", &listeners),
            (
                "AutoscalingRunnerSets (for shared GitHub registrations)",
                &runner_sets,
            ),
        ] {
            if let Some(namespaces) = &list.only_in {
                facts.narrowed.push(format!(
                    "{what} looked for only in namespaces {} (listing them in every namespace is forbidden for this user)",
                    namespaces.join(", ")
                ));
            }
        }
        let listeners = listeners.items;
        facts.cluster_runner_sets = runner_sets
            .items
            .iter()
            .map(|a| RunnerSetRefs::from_ars(&a.value, &self.opts.namespace))
            .collect();
        for object in ars_objects {
            let ars = live.get(&object.id).cloned().flatten();
            let refs = RunnerSetRefs::from_ars(
                ars.as_ref().map_or(&object.value, |l| &l.value),
                &self.opts.namespace,
            );
            let mut set = RunnerSetFacts {
                ars: ars.clone(),
                ..Default::default()
            };
            let ns = refs.namespace.clone();
            let rbac = "rbac.authorization.k8s.io";
            if let Some(name) = &refs.manager_role {
                set.manager_role_object = self.read(live, rbac, "v1", "Role", &ns, name).await?;
                set.manager_role = Some(set.manager_role_object.is_some());
            }
            if let Some(name) = &refs.manager_role_binding {
                set.manager_role_binding_object = self
                    .read(live, rbac, "v1", "RoleBinding", &ns, name)
                    .await?;
                set.manager_role_binding = Some(set.manager_role_binding_object.is_some());
            }
            if let Some(name) = refs.github.kubernetes_config_secret() {
                let secret = self.read(live, "", "v1", "Secret", &ns, name).await?;
                set.github_secret = Some(secret.is_some());
                set.github_secret_keys = secret.map(|s| s.data_keys()).unwrap_or_default();
            }
            for (name, field) in &refs.github.proxy_secrets {
                let exists = self
                    .read(live, "", "v1", "Secret", &ns, name)
                    .await?
                    .is_some();
                set.proxy_secrets.push((name.clone(), field, exists));
            }
            if let Some((name, _)) = &refs.github.tls {
                let cm = self.read(live, "", "v1", "ConfigMap", &ns, name).await?;
                set.tls_config_map = Some(cm.map(|c| c.data_keys()));
            }
            if let Some(ars) = &ars {
                set.listeners = listeners
                    .iter()
                    .filter(|l| arc::listener_belongs_to(l, &refs.name, &ns))
                    .cloned()
                    .collect();
                let runner_sets: Vec<Live> = self
                    .list_or_empty(arc::GROUP, arc::VERSION, arc::ERS_KIND, Some(&ns), None)
                    .await?
                    .into_iter()
                    .filter(|s| s.owner_uids().contains(&ars.uid()))
                    .collect();
                let set_uids: BTreeSet<&str> = runner_sets.iter().map(Live::uid).collect();
                set.runners = self
                    .list_or_empty(arc::GROUP, arc::VERSION, arc::ER_KIND, Some(&ns), None)
                    .await?
                    .into_iter()
                    .filter(|r| r.owner_uids().iter().any(|u| set_uids.contains(u)))
                    .collect();
                set.runner_sets = runner_sets;
                // A busy runner's pod (same name): whether it is gone decides
                // between a busy runner and one stuck on a dead job.
                for runner in set.runners.iter().filter(|r| arc::runner_is_busy(r)) {
                    if let Some(pod) = self
                        .read(live, "", "v1", "Pod", &ns, &runner.id.name)
                        .await?
                    {
                        set.pods.push(pod);
                    }
                }
                for listener in &set.listeners {
                    let selector = format!(
                        "{}={},{}={}",
                        arc::LISTENER_NAME_LABEL,
                        listener.id.name,
                        arc::LISTENER_NAMESPACE_LABEL,
                        listener.id.namespace.as_deref().unwrap_or_default()
                    );
                    for kind in ["RoleBinding", "Role"] {
                        set.listener_rbac.extend(
                            self.list_or_empty(rbac, "v1", kind, Some(&ns), Some(&selector))
                                .await?,
                        );
                    }
                }
            }
            set.refs = Some(refs);
            facts.runner_sets.push(set);
        }
        Ok(facts)
    }

    /// The controller's namespaces (of the ServiceAccounts the runner sets'
    /// manager RoleBindings bind, from the live RoleBinding or, when it is
    /// gone, the manifest's; the release's when none is named) and the
    /// runner sets' (the release's and the runner sets').
    fn namespaces_that_matter(
        &self,
        objects: &[&Object],
        live: &HashMap<ObjectId, Option<Live>>,
    ) -> (Vec<String>, Vec<String>) {
        let mut runner_namespaces = vec![self.opts.namespace.clone()];
        let mut controller_namespaces = Vec::new();
        for object in objects.iter().filter(|o| is_ars(&o.id)) {
            let ars = live.get(&object.id).cloned().flatten();
            let refs = RunnerSetRefs::from_ars(
                ars.as_ref().map_or(&object.value, |l| &l.value),
                &self.opts.namespace,
            );
            runner_namespaces.push(refs.namespace.clone());
            let Some(name) = &refs.manager_role_binding else {
                continue;
            };
            let id = ObjectId {
                group: "rbac.authorization.k8s.io".into(),
                version: "v1".into(),
                kind: "RoleBinding".into(),
                namespace: Some(refs.namespace.clone()),
                name: name.clone(),
            };
            let binding = match live.get(&id) {
                Some(Some(l)) => Some(&l.value),
                _ => objects.iter().find(|o| o.id == id).map(|o| &o.value),
            };
            for account in binding
                .map(arc::rbac::bound_service_accounts)
                .unwrap_or_default()
            {
                if let Some((ns, _)) = account.split_once('/')
                    && !ns.is_empty()
                {
                    controller_namespaces.push(ns.to_string());
                }
            }
        }
        if controller_namespaces.is_empty() {
            controller_namespaces.push(self.opts.namespace.clone());
        }
        (controller_namespaces, runner_namespaces)
    }

    /// [`Cluster::list_wide`]; a kind the server does not serve is empty.
    async fn wide_or_empty(
        &self,
        kind: (&str, &str, &str),
        selector: Option<&str>,
        fallback: &[String],
    ) -> Result<WideList, TeardownError> {
        match self.cluster.list_wide(kind, selector, fallback).await {
            Ok(list) => Ok(list),
            Err(KubeError::UnknownKind(_)) => Ok(WideList::default()),
            Err(e) => Err(e.into()),
        }
    }

    async fn list_or_empty(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Result<Vec<Live>, TeardownError> {
        match self
            .cluster
            .list(group, version, kind, namespace, selector)
            .await
        {
            Ok(items) => Ok(items),
            Err(KubeError::UnknownKind(_)) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// Read an object, from the live map when the manifest has it.
    async fn read(
        &self,
        live: &HashMap<ObjectId, Option<Live>>,
        group: &str,
        version: &str,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Live>, TeardownError> {
        let id = ObjectId {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            namespace: Some(namespace.into()),
            name: name.into(),
        };
        if let Some(known) = live.get(&id) {
            return Ok(known.clone());
        }
        Ok(self.cluster.get(&id).await?)
    }

    /// Emit the preflight findings; returns the problems (`check: detail`).
    fn report_checks(&self, facts: &Facts, assessment: &preflight::Assessment) -> Vec<String> {
        let mut problems = Vec::new();
        let mut check = |check: String, ok: bool, detail: String| {
            if !ok {
                problems.push(format!("{check}: {detail}"));
            }
            self.ui.emit(&Event::Check { check, ok, detail });
        };
        if !facts.runner_sets.is_empty() {
            let available: Vec<&str> = facts
                .controllers
                .iter()
                .filter(|c| c.available)
                .map(|c| c.name.as_str())
                .collect();
            check(
                "ARC controller".into(),
                !available.is_empty(),
                if available.is_empty() {
                    format!(
                        "no available Deployment labelled {}",
                        arc::CONTROLLER_SELECTOR
                    )
                } else {
                    format!("{} available", available.join(", "))
                },
            );
        }
        for set in &facts.runner_sets {
            let Some(refs) = &set.refs else { continue };
            let present = |v: Option<bool>| match v {
                Some(true) => "present",
                Some(false) => "MISSING",
                None => "not annotated",
            };
            // The manager RBAC matters while the runner set exists; once it
            // is gone, so may its RBAC be (a rerun after our own teardown).
            let gone = set.ars.is_none();
            let ok = gone
                || (set.manager_role != Some(false) && set.manager_role_binding != Some(false));
            check(
                format!("manager RBAC of {}/{}", refs.namespace, refs.name),
                ok,
                format!(
                    "Role {} {}, RoleBinding {} {}{}",
                    refs.manager_role.as_deref().unwrap_or("-"),
                    present(set.manager_role),
                    refs.manager_role_binding.as_deref().unwrap_or("-"),
                    present(set.manager_role_binding),
                    if gone {
                        " (not needed: the AutoscalingRunnerSet is gone)"
                    } else {
                        ""
                    }
                ),
            );
            let credentials = match (&refs.github.vault, set.github_secret) {
                (Some(vault), _) => format!(
                    "{} is a key in a vault ({vault}): not checked",
                    refs.github_config_secret.as_deref().unwrap_or("-")
                ),
                (None, Some(true)) => format!(
                    "{} present, {}",
                    refs.github_config_secret.as_deref().unwrap_or("-"),
                    match crate::arc::credentials::config_secret_problem(&set.github_secret_keys) {
                        Some(problem) => problem,
                        None => "holds credentials (keys checked, values not read)".to_string(),
                    }
                ),
                (None, other) => format!(
                    "{} {}",
                    refs.github_config_secret.as_deref().unwrap_or("-"),
                    present(other)
                ),
            };
            let broken = assessment.wedges.iter().any(|w| {
                matches!(
                    w,
                    preflight::Wedge::CredentialsGone { .. }
                        | preflight::Wedge::CredentialsInvalid { .. }
                        | preflight::Wedge::ProxySecretMissing { .. }
                        | preflight::Wedge::TlsConfigMissing { .. }
                )
            });
            check(
                format!("GitHub access of {}/{}", refs.namespace, refs.name),
                !broken,
                credentials,
            );
        }
        for note in &assessment.notes {
            check("note".into(), true, note.clone());
        }
        for narrowed in &facts.narrowed {
            check("permissions".into(), true, narrowed.clone());
        }
        if !assessment.busy.is_empty() {
            let names: Vec<String> = assessment
                .busy
                .iter()
                .map(|b| match b.since.as_deref().and_then(running_for) {
                    Some(age) => format!("{} (running for {age})", b.name),
                    None => b.name.clone(),
                })
                .collect();
            check(
                "busy runners".into(),
                true,
                format!(
                    "{} running a job; the teardown waits for them: {}",
                    names.len(),
                    names.join(", ")
                ),
            );
        }
        for t in &assessment.terminating {
            check("already terminating".into(), true, t.clone());
        }
        problems
    }

    /// The wave's objects that exist, are owned by the release and not kept.
    fn wave_targets<'o>(
        &self,
        wave: &'o [Object],
        live: &HashMap<ObjectId, Option<Live>>,
    ) -> Vec<(&'o Object, Live)> {
        let mut out = Vec::new();
        for object in wave {
            match live.get(&object.id) {
                Some(Some(l)) if !owned_by(l, &self.opts.release, &self.opts.namespace) => {
                    self.ui.emit(&Event::Skip {
                        object: object.id.to_string(),
                        reason: "not owned by this release".into(),
                    });
                }
                Some(Some(_)) if kept_by_policy(object) => {
                    self.ui.emit(&Event::Skip {
                        object: object.id.to_string(),
                        reason: "kept by helm.sh/resource-policy".into(),
                    });
                }
                Some(Some(l)) => out.push((object, l.clone())),
                _ => self.ui.emit(&Event::Skip {
                    object: object.id.to_string(),
                    reason: "already gone".into(),
                }),
            }
        }
        out
    }

    /// DELETE the wave's objects in parallel; returns those still to wait for.
    async fn delete_wave(
        &mut self,
        wave: usize,
        targets: &[(&Object, Live)],
    ) -> Result<Vec<Live>, TeardownError> {
        let cascade = self.opts.cascade;
        let dry_run = self.opts.dry_run;
        let cluster = self.cluster;
        let calls = targets.iter().map(|(_, l)| async move {
            if l.is_terminating() {
                return (l, Ok(None));
            }
            if dry_run {
                return (l, Ok(Some(Deleted::Terminating(l.clone()))));
            }
            (l, cluster.delete(&l.id, l.uid(), cascade).await.map(Some))
        });
        let results = futures::future::join_all(calls).await;
        let mut pending = Vec::new();
        let mut failures = Vec::new();
        for (l, result) in results {
            let result = match result {
                Ok(result) => result,
                Err(e) => {
                    self.ui.emit(&Event::Delete {
                        wave,
                        object: l.id.to_string(),
                        result: "failed".into(),
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
    /// Terminating) and counts it; returns the object to wait for, if any.
    fn record_delete(&self, wave: usize, l: &Live, result: Option<Deleted>) -> Option<Live> {
        let (result, wait_for) = match result {
            None => ("already_terminating", Some(l.clone())),
            Some(_) if self.opts.dry_run => ("would_delete", None),
            Some(Deleted::Gone) => {
                self.deleted.fetch_add(1, Ordering::Relaxed);
                ("gone", None)
            }
            Some(Deleted::Terminating(now)) => {
                self.deleted.fetch_add(1, Ordering::Relaxed);
                ("terminating", Some(now))
            }
            Some(Deleted::NotFound) => ("already_gone", None),
            Some(Deleted::UidMismatch) => ("uid_changed", None),
            // Only `delete_at` asks for it; it is read again and retried.
            Some(Deleted::Changed) => ("changed", Some(l.clone())),
        };
        self.ui.emit(&Event::Delete {
            wave,
            object: l.id.to_string(),
            result: result.into(),
        });
        if result == "gone" || result == "already_gone" || result == "uid_changed" {
            self.ui.emit(&Event::Gone {
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
    async fn keep_registration_then_delete(
        &mut self,
        wave: usize,
        ars: &Live,
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
            let Some(current) = self.cluster.get(&ars.id).await? else {
                return Ok(self.record_delete(wave, ars, Some(Deleted::NotFound)));
            };
            if current.uid() != ars.uid() {
                return Ok(self.record_delete(wave, ars, Some(Deleted::UidMismatch)));
            }
            if current.is_terminating() {
                // Deleted by someone else meanwhile: remove the id as well as
                // it still can be.
                self.run_step(&step).await?;
                return Ok(self.record_delete(wave, &current, None));
            }
            let read = match ladder::remove_annotation_patch(&current, key) {
                None => current,
                Some(patch) => {
                    self.ui.emit(&Event::Ladder {
                        rung: step.rung.to_string(),
                        object: step.object.to_string(),
                        action: "patch".to_string(),
                        patch: Some(patch.clone()),
                        removes: vec![key.to_string()],
                        dry_run: false,
                    });
                    match self.cluster.json_patch(&ars.id, &patch).await? {
                        Patched::Applied(patched) => patched,
                        Patched::Conflict => continue,
                        Patched::NotFound => {
                            return Ok(self.record_delete(wave, ars, Some(Deleted::NotFound)));
                        }
                    }
                }
            };
            match self
                .cluster
                .delete_at(
                    &read.id,
                    read.uid(),
                    Some(read.resource_version()),
                    self.opts.cascade,
                )
                .await?
            {
                Deleted::Changed => continue,
                deleted => return Ok(self.record_delete(wave, &read, Some(deleted))),
            }
        }
        self.ui.emit(&Event::Ladder {
            rung: step.rung.to_string(),
            object: step.object.to_string(),
            action: "gave_up_after_conflicts".to_string(),
            patch: None,
            removes: Vec::new(),
            dry_run: false,
        });
        Err(TeardownError::Conflicts {
            object: step.object.to_string(),
            attempts: PATCH_ATTEMPTS,
        })
    }

    /// [`Engine::run_ladders`] until `deadline`; out of time, the wait that
    /// follows ends at once with the diagnosis of what is left.
    async fn ladders_until(
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
    async fn run_ladders(
        &mut self,
        kind: LadderKind,
        objects: &[&Object],
    ) -> Result<(), TeardownError> {
        let live = self.read_live(objects).await?;
        let facts = self.gather(objects, &live).await?;
        let line = facts.line();
        let chart: Vec<Live> = chart_objects_in_order(
            &facts,
            objects,
            &live,
            &self.opts.release,
            &self.opts.namespace,
        );
        for set in &facts.runner_sets {
            // Without its ARS only the release's own objects are left to free
            // (a runner set deleted without cleanup leaves cleanup-protection).
            if set.ars.is_none() && kind == LadderKind::Credentials {
                continue;
            }
            let steps = ladder::plan(kind, set, &chart, line);
            for step in &steps {
                self.run_step(step).await?;
            }
            let leak = ladder::leak(set, kind);
            if set.ars.is_some()
                && (leak.scale_set_id.is_some() || !leak.runners.is_empty())
                && self.leaks.get(&leak.runner_set) != Some(&leak)
            {
                self.leaks.insert(leak.runner_set.clone(), leak.clone());
                self.ui.emit(&Event::Leak { leak });
            }
        }
        Ok(())
    }

    /// `--keep-registration` where [`Engine::keep_registration_then_delete`]
    /// did not run (a dry run, or a runner set already Terminating): remove
    /// `runner-scale-set-id` after the DELETE, before the controller's
    /// deletion branch reads it (once the listener and the runner sets are
    /// gone), as well as that can still be done.
    async fn keep_registrations(
        &mut self,
        targets: &[(&Object, Live)],
        keep: &[String],
    ) -> Result<(), TeardownError> {
        for (_, ars) in targets.iter().filter(|(o, _)| is_ars(&o.id)) {
            let name = format!(
                "{}/{}",
                ars.id.namespace.as_deref().unwrap_or_default(),
                ars.id.name
            );
            if keep.contains(&name) {
                let step = Step {
                    rung: "keep shared registration",
                    object: ars.id.clone(),
                    action: Action::RemoveAnnotation {
                        key: arc::SCALE_SET_ID_ANNOTATION.to_string(),
                    },
                };
                self.run_step(&step).await?;
            }
        }
        Ok(())
    }

    async fn run_step(&mut self, step: &Step) -> Result<(), TeardownError> {
        let dry_run = self.opts.dry_run;
        let emit =
            |action: &str, patch: Option<serde_json::Value>, removes: Vec<String>| Event::Ladder {
                rung: step.rung.to_string(),
                object: step.object.to_string(),
                action: action.to_string(),
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
                self.ui.emit(&emit("delete", None, Vec::new()));
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
                Action::Strip { finalizers, .. } => ladder::strip_patch(&current, finalizers),
                Action::RemoveAnnotation { key } => ladder::remove_annotation_patch(&current, key),
            };
            let Some(patch) = patch else {
                self.ui.emit(&emit("nothing_to_remove", None, Vec::new()));
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
            self.ui.emit(&emit("patch", Some(patch.clone()), removes));
            if dry_run {
                return Ok(());
            }
            match self.cluster.json_patch(&step.object, &patch).await? {
                Patched::Applied(_) | Patched::NotFound => return Ok(()),
                Patched::Conflict => continue,
            }
        }
        self.ui
            .emit(&emit("gave_up_after_conflicts", None, Vec::new()));
        Err(TeardownError::Conflicts {
            object: step.object.to_string(),
            attempts: PATCH_ATTEMPTS,
        })
    }

    /// Wait until every pending object is gone (UID-aware) or the timeout passes.
    async fn wait_wave(
        &self,
        wave: usize,
        pending: Vec<Live>,
        sets: &[RunnerSetRefs],
        with_progress: bool,
        deadline: tokio::time::Instant,
    ) -> Result<Waited, TeardownError> {
        let mut pending: HashMap<Key, Live> =
            pending.into_iter().map(|l| (key(&l.id), l)).collect();
        if pending.is_empty() {
            return Ok(Waited::Done);
        }
        let mut groups: BTreeMap<(String, String, String, Option<String>), Vec<String>> =
            BTreeMap::new();
        for l in pending.values() {
            groups
                .entry((
                    l.id.group.clone(),
                    l.id.version.clone(),
                    l.id.kind.clone(),
                    l.id.namespace.clone(),
                ))
                .or_default()
                .push(l.id.name.clone());
        }
        let mut streams: Vec<BoxStream<'static, (Source, WatchItem)>> = Vec::new();
        for ((group, version, kind, ns), names) in &groups {
            let name = if names.len() == 1 {
                names.first().map(String::as_str)
            } else {
                None
            };
            let s = self
                .cluster
                .watch(group, version, kind, ns.as_deref(), name)
                .await?;
            let tag = WatchTag {
                group: group.clone(),
                kind: kind.clone(),
                namespace: ns.clone(),
            };
            streams.push(
                s.map(move |item| (Source::Target(tag.clone()), item))
                    .boxed(),
            );
        }
        let mut progress_streams = 0usize;
        if with_progress && !sets.is_empty() {
            let ns = sets.first().map(|s| s.namespace.clone());
            for (kind, namespace, source) in [
                (arc::LISTENER_KIND, None, Source::Listener),
                (arc::ERS_KIND, ns.clone(), Source::RunnerSets),
                (arc::ER_KIND, ns, Source::Runners),
            ] {
                match self
                    .cluster
                    .watch(arc::GROUP, arc::VERSION, kind, namespace.as_deref(), None)
                    .await
                {
                    Ok(s) => {
                        progress_streams += 1;
                        // What the user may not watch (a Role in the
                        // runner namespace only) is left out of the
                        // progress: the stream ends at its first refusal,
                        // as an empty list.
                        let refused = std::sync::atomic::AtomicBool::new(false);
                        let s =
                            s.take_while(move |item| {
                                futures::future::ready(!refused.swap(
                                    matches!(item, WatchItem::Refused { .. }),
                                    Ordering::Relaxed,
                                ))
                            });
                        streams.push(
                            s.map(move |item| {
                                let item = match item {
                                    WatchItem::Refused { .. } => WatchItem::Restart(Vec::new()),
                                    other => other,
                                };
                                (source.clone(), item)
                            })
                            .boxed(),
                        );
                    }
                    Err(KubeError::UnknownKind(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let mut merged = futures::stream::select_all(streams);
        let mut progress = ProgressCache::default();
        let mut last_progress = String::new();
        while !pending.is_empty() {
            let next = tokio::select! {
                _ = tokio::time::sleep_until(deadline) => None,
                item = merged.next() => item,
            };
            let Some((source, item)) = next else {
                return Ok(Waited::TimedOut(pending.into_values().collect()));
            };
            match source {
                Source::Target(tag) => {
                    if let WatchItem::Refused {
                        verb,
                        resource,
                        code,
                        reason,
                    } = item
                    {
                        return Err(TeardownError::WatchRefused {
                            wave,
                            verb,
                            resource: tag.describe(&resource),
                            code,
                            reason,
                        });
                    }
                    for gone in track(&mut pending, &tag, item) {
                        self.ui.emit(&Event::Gone {
                            wave,
                            object: gone.id.to_string(),
                        });
                    }
                }
                other => progress.apply(other, item),
            }
            if with_progress {
                let event = progress.event(wave, &pending, sets);
                let text = serde_json::to_string(&event).unwrap_or_default();
                let synced = progress.synced.count_ones() as usize >= progress_streams;
                if synced && text != last_progress && !pending.is_empty() {
                    self.ui.emit(&event);
                    last_progress = text;
                }
            }
        }
        Ok(Waited::Done)
    }
}

/// How long ago an RFC 3339 timestamp was, in Helm's duration syntax (seconds).
fn running_for(since: &str) -> Option<String> {
    let since: k8s_openapi::jiff::Timestamp = since.parse().ok()?;
    let elapsed = k8s_openapi::jiff::Timestamp::now().duration_since(since);
    let seconds = u64::try_from(elapsed.as_secs()).ok()?;
    Some(crate::duration::format_duration(Duration::from_secs(
        seconds,
    )))
}

/// The release's chart objects carrying `cleanup-protection`, in the
/// controller's stripping order (named by cleanup annotations first).
fn chart_objects_in_order(
    facts: &Facts,
    objects: &[&Object],
    live: &HashMap<ObjectId, Option<Live>>,
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

fn fresh_of(fresh: &HashMap<ObjectId, Option<Live>>, old: &Live) -> Option<Live> {
    fresh
        .values()
        .flatten()
        .find(|l| key(&l.id) == key(&old.id) && l.uid() == old.uid())
        .cloned()
}

/// How a wait ended.
enum Waited {
    Done,
    TimedOut(Vec<Live>),
}

/// Which watch an item came from.
#[derive(Clone, Debug)]
enum Source {
    /// A watch of the wave's objects.
    Target(WatchTag),
    Listener,
    RunnerSets,
    Runners,
}

/// Apply a watch item to the pending set; returns the objects that are gone.
fn track(pending: &mut HashMap<Key, Live>, tag: &WatchTag, item: WatchItem) -> Vec<Live> {
    let mut gone = Vec::new();
    let in_group = |k: &Key| tag.covers(k);
    match item {
        WatchItem::Restart(list) => {
            let keys: Vec<Key> = pending.keys().filter(|k| in_group(k)).cloned().collect();
            for k in keys {
                let still = list.iter().find(|l| key(&l.id) == k);
                let uid = pending
                    .get(&k)
                    .map(|p| p.uid().to_string())
                    .unwrap_or_default();
                match still {
                    Some(l) if l.uid() == uid => {
                        pending.insert(k, l.clone());
                    }
                    _ => gone.extend(pending.remove(&k)),
                }
            }
        }
        WatchItem::Apply(l) => {
            let k = key(&l.id);
            if let Some(p) = pending.get(&k) {
                if p.uid() == l.uid() {
                    pending.insert(k, l);
                } else {
                    gone.extend(pending.remove(&k));
                }
            }
        }
        WatchItem::Delete(l) => {
            let k = key(&l.id);
            if pending.get(&k).is_some_and(|p| p.uid() == l.uid()) {
                gone.extend(pending.remove(&k));
            }
        }
        // Handled by the caller (the wait ends with an error).
        WatchItem::Refused { .. } => {}
    }
    gone
}

/// What the controller's objects look like now.
#[derive(Default)]
struct ProgressCache {
    /// Bits of the watches that delivered their initial list (1 listener, 2 sets, 4 runners).
    synced: u8,
    listeners: HashMap<String, Live>,
    runner_sets: HashMap<String, Live>,
    runners: HashMap<String, Live>,
}

impl ProgressCache {
    fn apply(&mut self, source: Source, item: WatchItem) {
        let map = match &source {
            Source::Listener => &mut self.listeners,
            Source::RunnerSets => &mut self.runner_sets,
            Source::Runners => &mut self.runners,
            Source::Target(..) => return,
        };
        match item {
            WatchItem::Restart(list) => {
                *map = list.into_iter().map(|l| (l.uid().to_string(), l)).collect();
                let bit = match source {
                    Source::Listener => 1,
                    Source::RunnerSets => 2,
                    _ => 4,
                };
                self.synced |= bit;
            }
            WatchItem::Apply(l) => {
                map.insert(l.uid().to_string(), l);
            }
            WatchItem::Delete(l) => {
                map.remove(l.uid());
            }
            // Progress is shown without what cannot be watched.
            WatchItem::Refused { .. } => {}
        }
    }

    fn event(&self, wave: usize, pending: &HashMap<Key, Live>, sets: &[RunnerSetRefs]) -> Event {
        let ars_uids: BTreeSet<&str> = pending
            .values()
            .filter(|l| is_ars(&l.id))
            .map(Live::uid)
            .collect();
        let listener = self
            .listeners
            .values()
            .find(|l| {
                sets.iter()
                    .any(|s| arc::is_listener_of(l, &s.name, &s.namespace))
            })
            .map(|l| l.id.to_string());
        let set_uids: BTreeSet<&str> = self
            .runner_sets
            .values()
            .filter(|s| s.owner_uids().iter().any(|u| ars_uids.contains(u)))
            .map(Live::uid)
            .collect();
        let mut runners: BTreeMap<String, usize> = BTreeMap::new();
        let mut busy = Vec::new();
        for r in self
            .runners
            .values()
            .filter(|r| r.owner_uids().iter().any(|u| set_uids.contains(u)))
        {
            *runners.entry(arc::runner_phase(r).to_string()).or_default() += 1;
            if arc::runner_is_busy(r) {
                busy.push(r.id.name.clone());
            }
        }
        busy.sort();
        let mut finalizers_left: Vec<String> =
            pending.values().flat_map(Live::finalizers).collect();
        finalizers_left.sort();
        finalizers_left.dedup();
        Event::Progress {
            wave,
            waiting_for: pending.len(),
            listener,
            runner_sets: set_uids.len(),
            runners,
            busy,
            finalizers_left,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(name: &str, uid: &str) -> Live {
        Live::new(
            ObjectId {
                group: String::new(),
                version: "v1".into(),
                kind: "Secret".into(),
                namespace: Some("ns".into()),
                name: name.into(),
            },
            json!({"metadata": {"name": name, "namespace": "ns", "uid": uid}}),
        )
    }

    fn pending(items: &[Live]) -> HashMap<Key, Live> {
        items.iter().map(|l| (key(&l.id), l.clone())).collect()
    }

    fn tag(group: &str, kind: &str) -> WatchTag {
        WatchTag {
            group: group.into(),
            kind: kind.into(),
            namespace: Some("ns".into()),
        }
    }

    fn widget(group: &str, uid: &str) -> Live {
        Live::new(
            ObjectId {
                group: group.into(),
                version: "v1".into(),
                kind: "Widget".into(),
                namespace: Some("ns".into()),
                name: "w".into(),
            },
            json!({"metadata": {"name": "w", "namespace": "ns", "uid": uid}}),
        )
    }

    #[test]
    fn the_same_kind_and_name_in_two_groups_are_two_objects() {
        let mut p = pending(&[widget("a.example", "1"), widget("b.example", "2")]);
        assert_eq!(p.len(), 2, "both are waited on");
        // A watch of a.example's Widgets says nothing about b.example's.
        let gone = track(
            &mut p,
            &tag("a.example", "Widget"),
            WatchItem::Restart(vec![]),
        );
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].id.group, "a.example");
        assert!(p.contains_key(&key(&widget("b.example", "2").id)));
        let gone = track(
            &mut p,
            &tag("b.example", "Widget"),
            WatchItem::Delete(widget("b.example", "2")),
        );
        assert_eq!(gone.len(), 1);
        assert!(p.is_empty());
        assert_eq!(
            tag("a.example", "Widget").describe("widgets.a.example"),
            "widgets.a.example in namespace ns"
        );
    }

    #[test]
    fn delete_event_with_the_same_uid_is_gone() {
        let mut p = pending(&[live("a", "1"), live("b", "2")]);
        let gone = track(
            &mut p,
            &tag("", "Secret"),
            WatchItem::Delete(live("a", "1")),
        );
        assert_eq!(gone.len(), 1);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn delete_of_an_older_incarnation_is_ignored_and_a_new_uid_means_gone() {
        let mut p = pending(&[live("a", "1")]);
        assert!(
            track(
                &mut p,
                &tag("", "Secret"),
                WatchItem::Delete(live("a", "0"))
            )
            .is_empty()
        );
        assert_eq!(
            track(&mut p, &tag("", "Secret"), WatchItem::Apply(live("a", "9"))).len(),
            1
        );
        assert!(p.is_empty());
    }

    #[test]
    fn restart_without_the_object_means_gone() {
        let mut p = pending(&[live("a", "1"), live("b", "2")]);
        let gone = track(
            &mut p,
            &tag("", "Secret"),
            WatchItem::Restart(vec![live("b", "2")]),
        );
        assert_eq!(gone[0].id.name, "a");
        assert!(p.contains_key(&key(&live("b", "2").id)));
        // Other groups are untouched by a restart.
        let gone = track(&mut p, &tag("", "Role"), WatchItem::Restart(vec![]));
        assert!(gone.is_empty());
    }

    #[test]
    fn busy_runner_age_is_a_helm_duration() {
        let age = running_for("2000-01-01T00:00:00Z").unwrap();
        assert!(age.contains('h') && age.ends_with('s'), "{age}");
        assert_eq!(running_for("yesterday"), None);
    }
}
