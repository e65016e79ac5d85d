//! `uninstall` (the default): the ordered, watched teardown of a release,
//! then `helm uninstall` for the release record.

use crate::duration::{format_duration, parse_duration};
use crate::exit::{self, Code, WithCode};
use crate::helm::HelmCli;
use crate::kube::{Cascade, Cluster};
use crate::manifest::{self, Object};
use crate::teardown::events::ManifestSource;
use crate::teardown::rerun::Rerun;
use crate::teardown::{Engine, Options, Outcome};
use crate::teardown::{observe, state};
use crate::ui::{self, Event, Reporter};
use anyhow::{Context, anyhow};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Arguments of `uninstall`.
#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// The release to tear down (not with --all-runner-sets).
    #[arg(value_name = "RELEASE", default_value = "", hide_default_value = true)]
    pub release: String,

    /// Release namespace (Helm passes `-n` as HELM_NAMESPACE).
    #[arg(short = 'n', long, env = "HELM_NAMESPACE")]
    pub namespace: Option<String>,

    /// How to reach the cluster (Helm's `--kube-*` flags, as Helm passes them).
    #[command(flatten)]
    pub connection: super::connection::ConnectionArgs,

    /// Time each wave may take (its DELETEs, finalizer patches and the wait), in Helm's duration syntax.
    #[arg(long, default_value = "5m0s", value_parser = parse_timeout)]
    pub timeout: Duration,

    /// Show every step and every patch; write nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// When the teardown would wedge, strip ARC's finalizers (see README "Uninstall").
    #[arg(long)]
    pub force_finalizers: bool,

    /// A runner set shares its GitHub registration with another: tear it down and leave the
    /// registration (its runner-scale-set-id is removed first, then it is deleted on that version).
    #[arg(long)]
    pub keep_registration: bool,

    /// The release record is gone: find the objects from the AutoscalingRunnerSet.
    #[arg(long)]
    pub rescue: bool,

    /// Passed to `helm uninstall`: keep the release record.
    #[arg(long)]
    pub keep_history: bool,

    /// Passed to `helm uninstall`: the release description.
    #[arg(long)]
    pub description: Option<String>,

    /// Passed to `helm uninstall`: skip the chart's hooks (required when it has pre-delete hooks).
    #[arg(long)]
    pub no_hooks: bool,

    /// Deletion propagation for our DELETEs and `helm uninstall`.
    #[arg(long, value_enum, default_value_t = CascadeArg::Background)]
    pub cascade: CascadeArg,

    /// Passed to `helm uninstall`; also succeed when the release does not exist.
    #[arg(long)]
    pub ignore_not_found: bool,

    /// Accepted as `helm uninstall` accepts it (`--wait`, `--wait=true`,
    /// `--wait=watcher`, ...); this command always waits for every wave to be gone.
    #[arg(long, value_name = "STRATEGY", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_parser = parse_wait)]
    pub wait: Option<String>,

    /// Output: plain lines (bars on a terminal) or JSON Lines.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputArg::Text)]
    pub output: OutputArg,

    /// Where to keep the manifest copy (default: $XDG_STATE_HOME/helm-arc-uninstall).
    #[arg(long, env = "HELM_ARC_UNINSTALL_STATE_DIR")]
    pub state_dir: Option<PathBuf>,

    /// Fleet operations: every runner set, the controller guard, CRDs.
    #[command(flatten)]
    pub fleet: super::fleet::FleetArgs,
}

/// `--cascade` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CascadeArg {
    /// Owner first, dependents afterwards.
    Background,
    /// Owner waits for its dependents.
    Foreground,
    /// Dependents are left.
    Orphan,
}

/// `-o` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputArg {
    /// Progress bars on a terminal, plain lines otherwise.
    Text,
    /// JSON Lines events ending in a summary.
    Json,
}

/// `--timeout`'s default (`5m0s`).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

fn parse_timeout(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

impl CascadeArg {
    fn cascade(self) -> Cascade {
        match self {
            CascadeArg::Background => Cascade::Background,
            CascadeArg::Foreground => Cascade::Foreground,
            CascadeArg::Orphan => Cascade::Orphan,
        }
    }

    fn name(self) -> &'static str {
        match self {
            CascadeArg::Background => "background",
            CascadeArg::Foreground => "foreground",
            CascadeArg::Orphan => "orphan",
        }
    }
}

/// Run `uninstall`.
pub fn run(args: Args) -> anyhow::Result<Code> {
    if args.release.is_empty() && !args.fleet.all_runner_sets {
        return Err(anyhow!("a RELEASE is required (or --all-runner-sets)"))
            .exit_code(Code::BadInput);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let json = args.output == OutputArg::Json;
    let reporter = ui::reporter(json);
    let started = Instant::now();
    let tally = Tally::default();
    let result = runtime.block_on(async {
        tokio::select! {
            result = run_async(&args, reporter.as_ref(), &tally) => result,
            _ = tokio::signal::ctrl_c() => Err(anyhow!(
                "interrupted; objects already deleted stay deleted. Rerun the same command to continue from the live state"
            ))
            .exit_code(Code::Failure),
        }
    });
    // Every run ends with its summary, errors and interruptions included,
    // with what it did until then (the error line itself goes to stderr):
    // a fleet's in both output modes, a single release's in JSON mode.
    if let Err(err) = &result {
        let code = exit::code_for(err);
        let message = format!("{err:#}");
        if args.fleet.all_runner_sets {
            super::fleet::failed_summary(json, code, &tally, started, &message);
        } else if json {
            reporter.emit(&Event::Summary {
                outcome: Outcome::Failed,
                exit_code: code as i32,
                deleted: tally.deleted(),
                seconds: started.elapsed().as_secs_f64(),
                requests: tally.requests(),
                message,
            });
        }
    }
    result
}

/// What a run has done so far (API requests, DELETEs that took effect),
/// shared with every release it tears down, so that a run that fails or is
/// interrupted still reports it.
#[derive(Default)]
pub struct Tally {
    requests: Arc<AtomicU64>,
    deleted: std::sync::Mutex<Vec<Arc<AtomicUsize>>>,
}

impl Tally {
    /// A counter of one release's DELETEs, part of [`Tally::deleted`].
    pub fn deleted_counter(&self) -> Arc<AtomicUsize> {
        let counter = Arc::new(AtomicUsize::new(0));
        if let Ok(mut all) = self.deleted.lock() {
            all.push(counter.clone());
        }
        counter
    }

    /// DELETEs that took effect, every release together.
    pub fn deleted(&self) -> usize {
        self.deleted
            .lock()
            .map_or(0, |all| all.iter().map(|c| c.load(Ordering::Relaxed)).sum())
    }

    /// The counter the run's cluster client counts its requests in.
    pub fn request_counter(&self) -> Arc<AtomicU64> {
        self.requests.clone()
    }

    /// Non-watch API requests made so far (retries included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// Where the manifest came from.
enum Source {
    Release(String),
    Saved(String),
    Cluster(Vec<Object>),
}

async fn run_async(args: &Args, ui: &dyn Reporter, tally: &Tally) -> anyhow::Result<Code> {
    let cluster = args
        .connection
        .connect()
        .await?
        .count_requests_in(tally.request_counter())
        .with_request_timeout(args.timeout.min(crate::kube::REQUEST_TIMEOUT));
    if args.fleet.all_runner_sets {
        return super::fleet::all_runner_sets(&cluster, args, ui, tally).await;
    }
    if let Some(code) = super::fleet::controller_guard(&cluster, args, ui, tally).await? {
        return Ok(code);
    }
    run_release(&cluster, args, ui, tally.deleted_counter()).await
}

/// Tear down one release (`args.release` in `args.namespace`) on a connected
/// cluster, ending with a summary event. Also the unit of work of the fleet.
pub async fn run_release(
    cluster: &Cluster,
    args: &Args,
    ui: &dyn Reporter,
    deleted: Arc<AtomicUsize>,
) -> anyhow::Result<Code> {
    let started = Instant::now();
    let namespace = match args.namespace.as_deref().filter(|n| !n.is_empty()) {
        Some(ns) => ns.to_string(),
        None => cluster.default_namespace().to_string(),
    };
    let helm = helm_for(args, &namespace)?;
    let state_path = state::state_root(args.state_dir.as_deref())
        .map(|root| state::manifest_path(&root, &namespace, &args.release));

    let Some(source) =
        read_source(cluster, args, &helm, &namespace, state_path.as_deref(), ui).await?
    else {
        return Ok(Code::Success);
    };
    let has_record = matches!(source, Source::Release(_));
    let source_name = match source {
        Source::Release(_) => ManifestSource::Release,
        Source::Saved(_) => ManifestSource::SavedManifest,
        Source::Cluster(_) => ManifestSource::Cluster,
    };
    let objects = match source {
        Source::Release(text) | Source::Saved(text) => parse_objects(&text, &namespace)?,
        Source::Cluster(objects) => objects,
    };
    let waves = plan_waves(&objects)?;

    let pre_delete_hooks = if has_record && !args.no_hooks {
        match helm.get_hooks(&args.release).await? {
            Some(text) => pre_delete_hooks(&text, &namespace)?,
            None => Vec::new(),
        }
    } else {
        Vec::new()
    };

    ui.emit(&Event::Start {
        release: args.release.clone(),
        namespace: namespace.clone(),
        waves: waves.iter().map(Vec::len).collect(),
        dry_run: args.dry_run,
        rescue: !has_record,
        source: source_name,
        target: cluster.target().clone(),
    });
    let opts = options_for(args, &namespace, pre_delete_hooks);
    let mut engine = Engine::new(cluster, ui, &opts, deleted);
    let report = engine.run(&waves).await?;

    let (outcome, message) = finish(args, &helm, has_record, report.outcome, ui).await?;
    let outcome = if args.dry_run && outcome == Outcome::Success {
        Outcome::DryRun
    } else {
        outcome
    };
    // The release is gone: so goes its copy.
    if outcome == Outcome::Success {
        forget_saved_copy(state_path.as_deref(), ui)?;
    }
    let code = outcome.code();
    ui.emit(&Event::Summary {
        outcome,
        exit_code: code as i32,
        deleted: report.deleted,
        seconds: started.elapsed().as_secs_f64(),
        requests: cluster.request_count(),
        message,
    });
    Ok(code)
}

/// Where the release's objects come from: its record (a redacted copy is
/// saved first), else with `--rescue` the saved copy or the cluster. `None`:
/// no release and `--ignore-not-found`.
async fn read_source(
    cluster: &Cluster,
    args: &Args,
    helm: &HelmCli,
    namespace: &str,
    state_path: Option<&std::path::Path>,
    ui: &dyn Reporter,
) -> anyhow::Result<Option<Source>> {
    Ok(Some(match helm.get_manifest(&args.release).await? {
        Some(text) => {
            if !args.dry_run
                && let Some(path) = state_path
            {
                let copy = state::redacted_manifest(&text, namespace)
                    .context("read the release manifest")
                    .exit_code(Code::BadInput)?;
                state::save_manifest(path, &copy).with_context(|| {
                    format!("save a copy of the manifest to {}", path.display())
                })?;
                ui.emit(&Event::ManifestSaved {
                    path: path.display().to_string(),
                });
            }
            Source::Release(text)
        }
        None if args.rescue => match state_path.and_then(state::load_manifest) {
            Some(text) => Source::Saved(text),
            None => {
                Source::Cluster(observe::rescue_objects(cluster, &args.release, namespace).await?)
            }
        },
        None if args.ignore_not_found => return Ok(None),
        None => {
            return Err(anyhow!(
                "release {} not found in namespace {namespace}. If it was already uninstalled and left objects \
                 Terminating, rerun with --rescue",
                args.release
            ))
            .exit_code(Code::Failure);
        }
    }))
}

/// The engine's options for this release.
fn options_for(args: &Args, namespace: &str, pre_delete_hooks: Vec<String>) -> Options {
    Options {
        release: args.release.clone(),
        namespace: namespace.to_string(),
        timeout: args.timeout,
        dry_run: args.dry_run,
        force_finalizers: args.force_finalizers,
        cascade: args.cascade.cascade(),
        rerun: rerun_command(args, namespace),
        pre_delete_hooks,
        no_hooks: args.no_hooks,
        keep_registration: args.keep_registration,
    }
}

/// After the engine: `helm uninstall` when every object is gone and there is
/// a release record; the run's outcome and summary line.
async fn finish(
    args: &Args,
    helm: &HelmCli,
    has_record: bool,
    outcome: Outcome,
    ui: &dyn Reporter,
) -> anyhow::Result<(Outcome, String)> {
    Ok(match outcome {
        Outcome::Refused => (
            Outcome::Refused,
            "refused by preflight; nothing was deleted".to_string(),
        ),
        Outcome::TimedOut => (
            Outcome::TimedOut,
            format!(
                "a wave did not finish within {}",
                format_duration(args.timeout)
            ),
        ),
        Outcome::DryRun | Outcome::Success if !has_record => (
            Outcome::Success,
            "every object is gone (no release record to remove)".to_string(),
        ),
        Outcome::DryRun => {
            ui.emit(&Event::Helm {
                args: helm.uninstall_args(&args.release, &passthrough(args)),
                dry_run: true,
                status: None,
            });
            (Outcome::DryRun, "dry run: nothing was written".to_string())
        }
        // The engine ends in none of these; named for the match to be exhaustive.
        Outcome::Failed | Outcome::ProblemsFound => {
            (outcome, format!("the teardown ended: {outcome}"))
        }
        Outcome::Success => {
            let pass = passthrough(args);
            let run = helm.uninstall(&args.release, &pass).await?;
            ui.emit(&Event::Helm {
                args: helm.uninstall_args(&args.release, &pass),
                dry_run: false,
                status: Some(run.status),
            });
            if run.status == 0 {
                (
                    Outcome::Success,
                    format!("release {} uninstalled", args.release),
                )
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
fn forget_saved_copy(
    state_path: Option<&std::path::Path>,
    ui: &dyn Reporter,
) -> anyhow::Result<()> {
    if let Some(path) = state_path.filter(|p| p.exists()) {
        state::remove_manifest(path)
            .with_context(|| format!("remove the manifest copy {}", path.display()))?;
        ui.emit(&Event::ManifestRemoved {
            path: path.display().to_string(),
        });
    }
    Ok(())
}

/// Parse a manifest into its (non-hook) objects.
pub(crate) fn parse_objects(text: &str, namespace: &str) -> anyhow::Result<Vec<Object>> {
    let opts = manifest::ParseOptions {
        default_namespace: namespace.to_string(),
    };
    let manifest = manifest::parse(text, &opts)
        .context("read the release manifest")
        .exit_code(Code::BadInput)?;
    Ok(manifest
        .objects()
        .filter(|o| crate::graph::is_teardown_member(o))
        .cloned()
        .collect())
}

/// The teardown waves of `objects`.
pub(crate) fn plan_waves(objects: &[Object]) -> anyhow::Result<Vec<Vec<Object>>> {
    let plan = crate::graph::plan(objects)
        .context("plan the teardown")
        .exit_code(Code::BadInput)?;
    Ok(plan
        .waves()
        .iter()
        .map(|wave| wave.iter().map(|&i| objects[i].clone()).collect())
        .collect())
}

/// `Kind/namespace/name` of every pre-delete hook in `helm get hooks` output,
/// except those `render --hooks` generated: they delete what this command
/// deletes (and find nothing left, `--ignore-not-found`, when Helm runs them).
fn pre_delete_hooks(text: &str, namespace: &str) -> anyhow::Result<Vec<String>> {
    let opts = manifest::ParseOptions {
        default_namespace: namespace.to_string(),
    };
    let manifest = manifest::parse(text, &opts)
        .context("read the release hooks")
        .exit_code(Code::BadInput)?;
    Ok(manifest
        .objects()
        .filter(|o| o.hook_events().contains(&"pre-delete"))
        .filter(|o| !crate::hooks::is_generated(o))
        .map(|o| o.id.to_string())
        .collect())
}

/// The flags passed to `helm uninstall`.
fn passthrough(args: &Args) -> Vec<String> {
    let mut out = Vec::new();
    if args.keep_history {
        out.push("--keep-history".to_string());
    }
    if let Some(d) = &args.description {
        out.push(format!("--description={d}"));
    }
    if args.no_hooks {
        out.push("--no-hooks".to_string());
    }
    if args.cascade != CascadeArg::Background {
        out.push(format!("--cascade={}", args.cascade.name()));
    }
    if args.ignore_not_found {
        out.push("--ignore-not-found".to_string());
    }
    out
}

/// The Helm binary of `HELM_BIN`, told the release namespace and the same
/// connection inputs as this run (so its reads and writes go where ours do).
pub(crate) fn helm_for(args: &Args, namespace: &str) -> anyhow::Result<HelmCli> {
    let helm_bin = std::env::var("HELM_BIN").ok();
    let env = args
        .connection
        .inputs()
        .helm_env()
        .exit_code(Code::BadInput)?;
    Ok(
        HelmCli::resolve(helm_bin.as_deref(), namespace, args.connection.context())?
            .with_env(env)
            .with_deadline(args.timeout),
    )
}

/// The command to suggest for a rerun: every flag given (connection,
/// release, options), so the rerun does the same where this run did it.
fn rerun_command(args: &Args, namespace: &str) -> Rerun {
    use super::connection::shell_word;
    let mut words = vec![
        "helm arc-uninstall".to_string(),
        shell_word(&args.release),
        format!("-n {}", shell_word(namespace)),
    ];
    words.extend(args.connection.rerun_flags());
    if args.rescue {
        words.push("--rescue".into());
    }
    if args.keep_registration {
        words.push("--keep-registration".into());
    }
    if args.dry_run {
        words.push("--dry-run".into());
    }
    if args.keep_history {
        words.push("--keep-history".into());
    }
    if let Some(d) = &args.description {
        words.push(format!("--description {}", shell_word(d)));
    }
    if args.no_hooks {
        words.push("--no-hooks".into());
    }
    if args.cascade != CascadeArg::Background {
        words.push(format!("--cascade {}", args.cascade.name()));
    }
    if args.ignore_not_found {
        words.push("--ignore-not-found".into());
    }
    if let Some(w) = &args.wait {
        words.push(format!("--wait={w}"));
    }
    if args.output == OutputArg::Json {
        words.push("-o json".into());
    }
    if let Some(dir) = &args.state_dir {
        words.push(format!(
            "--state-dir {}",
            shell_word(&dir.display().to_string())
        ));
    }
    let timeout = format_duration(args.timeout);
    Rerun::new(
        words.join(" "),
        (args.timeout != DEFAULT_TIMEOUT).then_some(timeout),
        args.force_finalizers,
    )
}

/// `--wait` values Helm 3 (`true`/`false`) or Helm 4 (`watcher`, `legacy`,
/// `hookOnly`) accept. `false` and `hookOnly` are refused: waiting is what
/// this command is for.
fn parse_wait(value: &str) -> Result<String, String> {
    match value {
        "true" | "watcher" | "legacy" => Ok(value.to_string()),
        "false" | "hookOnly" => Err(format!(
            "`--wait={value}` would not wait, but this command always waits for every wave (leave --wait out)"
        )),
        _ => Err(format!(
            "`{value}` is not a wait strategy (true, watcher or legacy; this command always waits)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn parse(argv: &[&str]) -> Args {
        match Cli::try_parse_from(argv) {
            Ok(Cli {
                command: Command::Uninstall(args),
                ..
            }) => args,
            other => panic!("not an uninstall: {other:?}"),
        }
    }

    /// The suggested command as `helm arc-uninstall` would pass it to this
    /// binary (Helm strips `helm arc-uninstall`; the words are simple here).
    fn reparse(suggested: &str) -> Args {
        let rest = suggested
            .strip_prefix("helm arc-uninstall ")
            .expect("a helm arc-uninstall command");
        let mut argv = vec!["helm-arc-uninstall", "uninstall"];
        argv.extend(rest.split(' '));
        parse(&argv)
    }

    #[test]
    fn the_suggested_rerun_keeps_every_flag_given() {
        let args = parse(&[
            "helm-arc-uninstall",
            "uninstall",
            "rel",
            "-n",
            "ns",
            "--kube-context",
            "ctx",
            "--kube-apiserver",
            "https://b.example",
            "--no-hooks",
            "--keep-history",
            "--description",
            "bye",
            "--cascade",
            "foreground",
            "--ignore-not-found",
            "--wait=legacy",
            "--timeout",
            "2m",
            "-o",
            "json",
            "--state-dir",
            "/tmp/state",
        ]);
        let rerun = rerun_command(&args, "ns");
        let given = rerun.as_given();
        for flag in [
            "--kube-context ctx",
            "--kube-apiserver https://b.example",
            "--no-hooks",
            "--keep-history",
            "--description bye",
            "--cascade foreground",
            "--ignore-not-found",
            "--wait=legacy",
            "--timeout 2m0s",
            "-o json",
            "--state-dir /tmp/state",
        ] {
            assert!(given.contains(flag), "{flag} missing from {given}");
        }
        // What a diagnosis suggests parses, with the flag added once.
        let forced = reparse(&rerun.with_force_finalizers());
        assert!(forced.force_finalizers && forced.no_hooks && forced.keep_history);
        assert_eq!(forced.connection.context(), Some("ctx"));
        let longer = reparse(&rerun.with_timeout("30m"));
        assert_eq!(longer.timeout, Duration::from_secs(1800));
        assert_eq!(longer.cascade, CascadeArg::Foreground);
        // A forced run's rerun stays forced; the default timeout is left out.
        let args = parse(&[
            "helm-arc-uninstall",
            "uninstall",
            "rel",
            "--force-finalizers",
        ]);
        let given = rerun_command(&args, "ns").as_given();
        // (KUBECONFIG or HELM_KUBE* of the test's environment may add flags between.)
        assert!(given.starts_with("helm arc-uninstall rel -n ns"), "{given}");
        assert!(given.ends_with(" --force-finalizers") && !given.contains("--timeout"));
        assert!(reparse(&rerun_command(&args, "ns").with_force_finalizers()).force_finalizers);
    }
}
