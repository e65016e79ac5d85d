//! One release's teardown as a library call.
//!
//! A [`Session`] is built once per run (the cluster client, how to invoke
//! Helm, the state directory); [`Session::teardown`] tears down one release
//! ([`ReleaseSpec`] + [`TeardownOptions`] + a reporter) and ends with its
//! summary event: it reads the release's objects (its Helm record, else with
//! `rescue` the saved copy or the cluster), plans the waves, runs the
//! [`Engine`] and lets `helm uninstall` drop the record. `helm arc-uninstall
//! RELEASE`, every release of a fleet and `demo` go through it.

use crate::duration::format_duration;
use crate::graph::GraphError;
use crate::helm::{HelmCli, HelmError};
use crate::kube::{Cascade, Cluster, KubeError};
use crate::manifest::{self, ManifestError, Object};
use crate::outcome::Outcome;
use crate::teardown::events::ManifestSource;
use crate::teardown::rerun::Rerun;
use crate::teardown::{Engine, Options, TeardownError, observe, state};
use crate::ui::{Counting, Event, Reporter};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Errors of one release's teardown. Outcomes that are not errors (refused,
/// timed out, `helm uninstall` failing) are [`Ended`] values instead.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// Helm could not be run or refused a read.
    #[error(transparent)]
    Helm(#[from] HelmError),
    /// The session has no Helm and the release needs it.
    #[error("release {0} is read through Helm, and this run has none")]
    NoHelm(String),
    /// The release manifest does not parse.
    #[error("read the release manifest")]
    Manifest(#[source] ManifestError),
    /// The release's hooks do not parse.
    #[error("read the release hooks")]
    Hooks(#[source] ManifestError),
    /// The objects cannot be ordered.
    #[error("plan the teardown")]
    Plan(#[source] GraphError),
    /// The manifest copy could not be written.
    #[error("save a copy of the manifest to {}", path.display())]
    SaveCopy {
        /// The copy's path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The manifest copy could not be removed.
    #[error("remove the manifest copy {}", path.display())]
    RemoveCopy {
        /// The copy's path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No release record, and neither `rescue` nor `ignore_not_found`.
    #[error(
        "release {release} not found in namespace {namespace}. If it was already uninstalled and left \
         objects Terminating, rerun with --rescue"
    )]
    NotFound {
        /// Release name.
        release: String,
        /// Release namespace.
        namespace: String,
    },
    /// `rescue` could not read the runner sets.
    #[error(transparent)]
    Rescue(#[from] KubeError),
    /// The engine failed.
    #[error(transparent)]
    Teardown(#[from] TeardownError),
}

/// How to invoke Helm for a release: the binary (`HELM_BIN`), the context
/// and connection environment of this run, and the deadline of each call.
#[derive(Clone, Debug)]
pub struct HelmSetup {
    bin: Option<String>,
    context: Option<String>,
    env: Vec<(&'static str, String)>,
    deadline: Duration,
}

impl HelmSetup {
    /// Helm from `bin` (else `helm` on PATH), on kubeconfig `context`, with
    /// `env` (the connection as this run resolved it) and a `deadline` per call.
    pub fn new(
        bin: Option<String>,
        context: Option<String>,
        env: Vec<(&'static str, String)>,
        deadline: Duration,
    ) -> Self {
        Self {
            bin,
            context,
            env,
            deadline,
        }
    }

    /// Helm told the release namespace (so its reads and writes go where ours do).
    pub fn for_namespace(&self, namespace: &str) -> Result<HelmCli, HelmError> {
        Ok(
            HelmCli::resolve(self.bin.as_deref(), namespace, self.context.as_deref())?
                .with_env(self.env.clone())
                .with_deadline(self.deadline),
        )
    }
}

/// What one run works with, built once: the cluster client, Helm, and the
/// state directory of manifest copies.
pub struct Session {
    cluster: Cluster,
    helm: Option<HelmSetup>,
    state_root: Option<PathBuf>,
}

impl Session {
    /// A session on `cluster`. Without `helm`, only releases with a given
    /// manifest can be torn down; without `state_root`, no copy is kept.
    pub fn new(cluster: Cluster, helm: Option<HelmSetup>, state_root: Option<PathBuf>) -> Self {
        Self {
            cluster,
            helm,
            state_root,
        }
    }

    /// The cluster client.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// `namespace` when given and not empty, else the kubeconfig context's.
    pub fn namespace_or_default(&self, namespace: Option<&str>) -> String {
        match namespace.filter(|n| !n.is_empty()) {
            Some(ns) => ns.to_string(),
            None => self.cluster.default_namespace().to_string(),
        }
    }

    /// Helm for a release in `namespace`.
    pub fn helm(&self, release: &str, namespace: &str) -> Result<HelmCli, ReleaseError> {
        let setup = self
            .helm
            .as_ref()
            .ok_or_else(|| ReleaseError::NoHelm(release.to_string()))?;
        Ok(setup.for_namespace(namespace)?)
    }

    /// Tear down one release, ending with its `summary` event (not when the
    /// release does not exist and `ignore_not_found` is set).
    pub async fn teardown(
        &self,
        spec: &ReleaseSpec,
        opts: &TeardownOptions,
        ui: &dyn Reporter,
    ) -> Result<Ended, ReleaseError> {
        let started = Instant::now();
        let ui = Counting::new(ui);
        let release = &spec.name;
        let namespace = &spec.namespace;
        let state_path = self
            .state_root
            .as_deref()
            .map(|root| state::manifest_path(root, namespace, release));

        let (objects, record) = match &spec.manifest {
            ManifestInput::Given(text) => (parse_objects(text, namespace)?, Record::Given),
            ManifestInput::Helm => {
                let helm = self.helm(release, namespace)?;
                let found = self
                    .read_release(spec, opts, helm, state_path.as_deref(), &ui)
                    .await?;
                let Some(found) = found else {
                    return Ok(Ended {
                        outcome: Outcome::Success,
                        deleted: 0,
                        seconds: started.elapsed().as_secs_f64(),
                        message: format!("release {release} not found (--ignore-not-found)"),
                    });
                };
                found
            }
        };
        let waves = plan_waves(&objects)?;
        let pre_delete_hooks = match &record {
            Record::Helm(helm) if !opts.no_hooks => match helm.get_hooks(release).await? {
                Some(text) => pre_delete_hooks(&text, namespace)?,
                None => Vec::new(),
            },
            _ => Vec::new(),
        };

        ui.emit(&Event::Start {
            release: release.clone(),
            namespace: namespace.clone(),
            waves: waves.iter().map(Vec::len).collect(),
            dry_run: opts.dry_run,
            rescue: matches!(record, Record::Rescued(_)),
            source: record.source(),
            target: self.cluster.target().clone(),
        });
        let engine_opts = opts.engine_options(spec, pre_delete_hooks);
        let report = Engine::new(&self.cluster, &ui, &engine_opts)
            .run(&waves)
            .await?;

        let (outcome, message) = finish(spec, opts, &record, report.outcome, &ui).await?;
        let outcome = if opts.dry_run && outcome == Outcome::Success {
            Outcome::DryRun
        } else {
            outcome
        };
        // The release is gone: so goes its copy.
        if outcome == Outcome::Success {
            forget_saved_copy(state_path.as_deref(), &ui)?;
        }
        let ended = Ended {
            outcome,
            deleted: ui.deleted(),
            seconds: started.elapsed().as_secs_f64(),
            message,
        };
        ui.emit(&Event::Summary {
            outcome,
            exit_code: outcome.code() as i32,
            deleted: ended.deleted,
            seconds: ended.seconds,
            requests: self.cluster.request_count(),
            message: ended.message.clone(),
        });
        Ok(ended)
    }

    /// Where a Helm release's objects come from: its record (a redacted copy
    /// is saved first), else with `rescue` the saved copy or the cluster.
    /// `None`: no release and `ignore_not_found`.
    async fn read_release(
        &self,
        spec: &ReleaseSpec,
        opts: &TeardownOptions,
        helm: HelmCli,
        state_path: Option<&Path>,
        ui: &dyn Reporter,
    ) -> Result<Option<(Vec<Object>, Record)>, ReleaseError> {
        let namespace = &spec.namespace;
        if let Some(text) = helm.get_manifest(&spec.name).await? {
            if !opts.dry_run
                && let Some(path) = state_path
            {
                let copy =
                    state::redacted_manifest(&text, namespace).map_err(ReleaseError::Manifest)?;
                state::save_manifest(path, &copy).map_err(|source| ReleaseError::SaveCopy {
                    path: path.to_path_buf(),
                    source,
                })?;
                ui.emit(&Event::ManifestSaved {
                    path: path.display().to_string(),
                });
            }
            return Ok(Some((parse_objects(&text, namespace)?, Record::Helm(helm))));
        }
        if opts.rescue {
            return Ok(Some(match state_path.and_then(state::load_manifest) {
                Some(text) => (
                    parse_objects(&text, namespace)?,
                    Record::Rescued(ManifestSource::SavedManifest),
                ),
                None => (
                    observe::rescue_objects(&self.cluster, &spec.name, namespace).await?,
                    Record::Rescued(ManifestSource::Cluster),
                ),
            }));
        }
        if opts.ignore_not_found {
            return Ok(None);
        }
        Err(ReleaseError::NotFound {
            release: spec.name.clone(),
            namespace: namespace.clone(),
        })
    }
}

/// The release to tear down.
#[derive(Clone, Debug)]
pub struct ReleaseSpec {
    /// Release name.
    pub name: String,
    /// Release namespace.
    pub namespace: String,
    /// Where its objects are read from.
    pub manifest: ManifestInput,
    /// The command a diagnosis suggests for a rerun.
    pub rerun: Rerun,
}

/// Where a release's objects are read from.
#[derive(Clone, Debug)]
pub enum ManifestInput {
    /// Its Helm record (`helm get manifest`); `helm uninstall` drops the
    /// record at the end.
    Helm,
    /// A manifest given in its place (the demo's seam); there is no record.
    Given(String),
}

/// How to tear a release down: the command's flags, resolved once.
#[derive(Clone, Debug)]
pub struct TeardownOptions {
    /// Time each wave may take.
    pub timeout: Duration,
    /// Show every step; write nothing.
    pub dry_run: bool,
    /// Strip ARC's finalizers when the teardown would wedge.
    pub force_finalizers: bool,
    /// Tear down a runner set that shares its GitHub registration, leaving the registration.
    pub keep_registration: bool,
    /// No release record: find the objects in the saved copy or the cluster.
    pub rescue: bool,
    /// Deletion propagation of our DELETEs and `helm uninstall`.
    pub cascade: Cascade,
    /// `helm uninstall --keep-history`.
    pub keep_history: bool,
    /// `helm uninstall --description`.
    pub description: Option<String>,
    /// `helm uninstall --no-hooks` (and the chart's pre-delete hooks are not run).
    pub no_hooks: bool,
    /// A release that does not exist is a success.
    pub ignore_not_found: bool,
}

/// The time a wave may take unless told otherwise (`--timeout`'s `5m0s`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

impl Default for TeardownOptions {
    /// What `helm arc-uninstall RELEASE` does without flags: 5 minutes a
    /// wave, background propagation, nothing forced, the record removed.
    fn default() -> Self {
        Self {
            timeout: DEFAULT_TIMEOUT,
            dry_run: false,
            force_finalizers: false,
            keep_registration: false,
            rescue: false,
            cascade: Cascade::Background,
            keep_history: false,
            description: None,
            no_hooks: false,
            ignore_not_found: false,
        }
    }
}

impl TeardownOptions {
    /// The engine's options for `spec`.
    fn engine_options(&self, spec: &ReleaseSpec, pre_delete_hooks: Vec<String>) -> Options {
        Options {
            release: spec.name.clone(),
            namespace: spec.namespace.clone(),
            timeout: self.timeout,
            dry_run: self.dry_run,
            force_finalizers: self.force_finalizers,
            cascade: self.cascade,
            rerun: spec.rerun.clone(),
            pre_delete_hooks,
            no_hooks: self.no_hooks,
            keep_registration: self.keep_registration,
        }
    }

    /// The flags passed to `helm uninstall`.
    pub fn helm_uninstall_flags(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.keep_history {
            out.push("--keep-history".to_string());
        }
        if let Some(d) = &self.description {
            out.push(format!("--description={d}"));
        }
        if self.no_hooks {
            out.push("--no-hooks".to_string());
        }
        if self.cascade != Cascade::Background {
            out.push(format!("--cascade={}", self.cascade.name()));
        }
        if self.ignore_not_found {
            out.push("--ignore-not-found".to_string());
        }
        out
    }
}

/// How a release's teardown ended: what its summary event says.
#[derive(Clone, Debug)]
pub struct Ended {
    /// The outcome.
    pub outcome: Outcome,
    /// DELETEs that took effect.
    pub deleted: usize,
    /// Wall time.
    pub seconds: f64,
    /// One line for people.
    pub message: String,
}

/// The release record the teardown starts from and ends with.
enum Record {
    /// In Helm: the objects are its manifest; `helm uninstall` drops it.
    Helm(HelmCli),
    /// Gone already (`rescue`): the objects came from this source.
    Rescued(ManifestSource),
    /// None: the manifest was given.
    Given,
}

impl Record {
    /// Where the objects came from (a given manifest stands for the record).
    fn source(&self) -> ManifestSource {
        match self {
            Record::Helm(_) | Record::Given => ManifestSource::Release,
            Record::Rescued(source) => *source,
        }
    }
}

/// After the engine: `helm uninstall` when every object is gone and there is
/// a release record; the outcome and the summary line.
async fn finish(
    spec: &ReleaseSpec,
    opts: &TeardownOptions,
    record: &Record,
    outcome: Outcome,
    ui: &dyn Reporter,
) -> Result<(Outcome, String), ReleaseError> {
    let release = &spec.name;
    Ok(match (outcome, record) {
        (Outcome::Refused, _) => (
            Outcome::Refused,
            "refused by preflight; nothing was deleted".to_string(),
        ),
        (Outcome::TimedOut, _) => (
            Outcome::TimedOut,
            format!(
                "a wave did not finish within {}",
                format_duration(opts.timeout)
            ),
        ),
        (Outcome::DryRun | Outcome::Success, Record::Rescued(_)) => (
            Outcome::Success,
            "every object is gone (no release record to remove)".to_string(),
        ),
        (Outcome::DryRun | Outcome::Success, Record::Given) => (
            Outcome::Success,
            "every object of the release is gone".to_string(),
        ),
        (Outcome::DryRun, Record::Helm(helm)) => {
            ui.emit(&Event::Helm {
                args: helm.uninstall_args(release, &opts.helm_uninstall_flags()),
                dry_run: true,
                status: None,
            });
            (Outcome::DryRun, "dry run: nothing was written".to_string())
        }
        // The engine ends in none of these; named for the match to be exhaustive.
        (Outcome::Failed | Outcome::ProblemsFound, _) => {
            (outcome, format!("the teardown ended: {outcome}"))
        }
        (Outcome::Success, Record::Helm(helm)) => {
            let flags = opts.helm_uninstall_flags();
            let run = helm.uninstall(release, &flags).await?;
            ui.emit(&Event::Helm {
                args: helm.uninstall_args(release, &flags),
                dry_run: false,
                status: Some(run.status),
            });
            if run.status == 0 {
                (Outcome::Success, format!("release {release} uninstalled"))
            } else if crate::helm::is_forbidden(&run.stderr) {
                (
                    Outcome::Failed,
                    format!(
                        "missing permission: helm uninstall was refused: {} (README \"Permissions\")",
                        run.stderr.trim()
                    ),
                )
            } else {
                (
                    Outcome::Failed,
                    format!("helm uninstall failed: {}", run.stderr.trim()),
                )
            }
        }
    })
}

/// Removes the saved copy of the manifest, if any (the release is gone).
fn forget_saved_copy(state_path: Option<&Path>, ui: &dyn Reporter) -> Result<(), ReleaseError> {
    if let Some(path) = state_path.filter(|p| p.exists()) {
        state::remove_manifest(path).map_err(|source| ReleaseError::RemoveCopy {
            path: path.to_path_buf(),
            source,
        })?;
        ui.emit(&Event::ManifestRemoved {
            path: path.display().to_string(),
        });
    }
    Ok(())
}

/// Parse `helm get` output of a release in `namespace`.
fn parse_in(text: &str, namespace: &str) -> Result<manifest::Manifest, ManifestError> {
    let opts = manifest::ParseOptions {
        default_namespace: namespace.to_string(),
    };
    manifest::parse(text, &opts)
}

/// Parse a manifest into its (non-hook) objects.
fn parse_objects(text: &str, namespace: &str) -> Result<Vec<Object>, ReleaseError> {
    let manifest = parse_in(text, namespace).map_err(ReleaseError::Manifest)?;
    Ok(manifest
        .objects()
        .filter(|o| crate::graph::is_teardown_member(o))
        .cloned()
        .collect())
}

/// The teardown waves of `objects`.
fn plan_waves(objects: &[Object]) -> Result<Vec<Vec<Object>>, ReleaseError> {
    let plan = crate::graph::plan(objects).map_err(ReleaseError::Plan)?;
    Ok(plan
        .waves()
        .iter()
        .map(|wave| wave.iter().map(|&i| objects[i].clone()).collect())
        .collect())
}

/// `Kind/namespace/name` of every pre-delete hook in `helm get hooks` output,
/// except those `render --hooks` generated: they delete what this command
/// deletes (and find nothing left, `--ignore-not-found`, when Helm runs them).
fn pre_delete_hooks(text: &str, namespace: &str) -> Result<Vec<String>, ReleaseError> {
    let manifest = parse_in(text, namespace).map_err(ReleaseError::Hooks)?;
    Ok(manifest
        .objects()
        .filter(|o| o.hook_events().contains(&"pre-delete"))
        .filter(|o| !crate::hooks::is_generated(o))
        .map(|o| o.id.to_string())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> TeardownOptions {
        TeardownOptions::default()
    }

    #[test]
    fn helm_uninstall_gets_only_the_flags_given() {
        assert!(options().helm_uninstall_flags().is_empty());
        let given = TeardownOptions {
            keep_history: true,
            description: Some("bye now".into()),
            no_hooks: true,
            cascade: Cascade::Foreground,
            ignore_not_found: true,
            // Ours alone: never passed to Helm.
            force_finalizers: true,
            keep_registration: true,
            rescue: true,
            dry_run: true,
            ..options()
        };
        assert_eq!(
            given.helm_uninstall_flags(),
            [
                "--keep-history",
                "--description=bye now",
                "--no-hooks",
                "--cascade=foreground",
                "--ignore-not-found",
            ]
        );
    }

    #[test]
    fn the_engine_runs_the_release_of_the_spec_with_its_rerun() {
        let spec = ReleaseSpec {
            name: "rel".into(),
            namespace: "ns".into(),
            manifest: ManifestInput::Helm,
            rerun: Rerun::new("helm arc-uninstall rel -n ns", None, false),
        };
        let opts = TeardownOptions {
            cascade: Cascade::Orphan,
            no_hooks: true,
            ..options()
        };
        let engine = opts.engine_options(&spec, vec!["Job/ns/pre".into()]);
        assert_eq!(
            (engine.release.as_str(), engine.namespace.as_str()),
            ("rel", "ns")
        );
        assert_eq!(engine.rerun, spec.rerun);
        assert_eq!(engine.cascade, Cascade::Orphan);
        assert!(engine.no_hooks);
        assert_eq!(engine.pre_delete_hooks, ["Job/ns/pre"]);
    }

    #[test]
    fn a_manifest_that_does_not_parse_or_plan_is_bad_input() {
        let err = parse_objects("kind: [", "ns").unwrap_err();
        assert!(matches!(err, ReleaseError::Manifest(_)), "{err:?}");
        let message = format!("{:#}", anyhow::Error::new(err));
        assert!(
            message.starts_with("read the release manifest: "),
            "{message}"
        );
    }
}
