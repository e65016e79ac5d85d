//! `uninstall` (the default): the flags mapped onto a [`Session`] and one
//! [`Session::teardown`] (the ordered, watched teardown of a release, then
//! `helm uninstall` for the release record), or onto the fleet.

use crate::duration::{format_duration, parse_duration};
use crate::exit::{self, Code, WithCode};
use crate::kube::Cascade;
use crate::outcome::Outcome;
use crate::release::{
    DEFAULT_TIMEOUT, HelmSetup, ManifestInput, ReleaseSpec, Session, TeardownOptions,
};
use crate::teardown::rerun::Rerun;
use crate::teardown::state;
use crate::ui::{self, Counting, Event, Reporter};
use anyhow::{Context, anyhow};
use std::path::PathBuf;
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
}

/// The reporter of a run: the chosen renderer, counting what the run did.
pub type RunReporter = Counting<Box<dyn Reporter>>;

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
    let fleet = args.fleet.all_runner_sets;
    let reporter = Counting::new(if fleet {
        ui::fleet_reporter(json)
    } else {
        ui::reporter(json)
    });
    let started = Instant::now();
    let result = runtime.block_on(async {
        tokio::select! {
            result = run_async(&args, &reporter) => result,
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
        let (code, message) = (exit::code_for(err), format!("{err:#}"));
        if fleet {
            super::fleet::summary(
                &reporter,
                Outcome::Failed,
                code,
                Vec::new(),
                started,
                message,
            );
        } else if json {
            reporter.emit(&Event::Summary {
                outcome: Outcome::Failed,
                exit_code: code as i32,
                deleted: reporter.deleted(),
                seconds: started.elapsed().as_secs_f64(),
                requests: reporter.requests(),
                message,
            });
        }
    }
    result
}

async fn run_async(args: &Args, ui: &RunReporter) -> anyhow::Result<Code> {
    let session = session(args, ui).await?;
    if args.fleet.all_runner_sets {
        return super::fleet::all_runner_sets(&session, args, ui).await;
    }
    if let Some(code) = super::fleet::controller_guard(&session, args, ui).await? {
        return Ok(code);
    }
    let namespace = session.namespace_or_default(args.namespace.as_deref());
    let spec = release_spec(args, &args.release, &namespace);
    let ended = session.teardown(&spec, &teardown_options(args), ui).await?;
    Ok(ended.outcome.code())
}

/// The run's session: the cluster Helm would reach (its requests counted by
/// `ui`), Helm (`HELM_BIN`) told the same connection, the state directory.
async fn session(args: &Args, ui: &RunReporter) -> anyhow::Result<Session> {
    let cluster = args
        .connection
        .connect()
        .await?
        .count_requests_in(ui.request_counter())
        .with_request_timeout(args.timeout.min(crate::kube::REQUEST_TIMEOUT));
    let env = args
        .connection
        .inputs()
        .helm_env()
        .exit_code(Code::BadInput)?;
    let helm = HelmSetup::new(
        std::env::var("HELM_BIN").ok(),
        args.connection.context().map(str::to_string),
        env,
        args.timeout,
    );
    let state_root = state::state_root(args.state_dir.as_deref());
    Ok(Session::new(cluster, Some(helm), state_root))
}

/// Release `name` in `namespace`, read through Helm, with the rerun the
/// command line gives it.
pub(super) fn release_spec(args: &Args, name: &str, namespace: &str) -> ReleaseSpec {
    ReleaseSpec {
        name: name.to_string(),
        namespace: namespace.to_string(),
        manifest: ManifestInput::Helm,
        rerun: rerun_command(args, name, namespace),
    }
}

/// The teardown options the flags give.
pub(super) fn teardown_options(args: &Args) -> TeardownOptions {
    TeardownOptions {
        timeout: args.timeout,
        dry_run: args.dry_run,
        force_finalizers: args.force_finalizers,
        keep_registration: args.keep_registration,
        rescue: args.rescue,
        cascade: args.cascade.cascade(),
        keep_history: args.keep_history,
        description: args.description.clone(),
        no_hooks: args.no_hooks,
        ignore_not_found: args.ignore_not_found,
    }
}

/// The command to suggest for a rerun of `release`: every flag given
/// (connection, release, options), so the rerun does the same where this run did it.
fn rerun_command(args: &Args, release: &str, namespace: &str) -> Rerun {
    use super::connection::shell_word;
    let mut words = vec![
        "helm arc-uninstall".to_string(),
        shell_word(release),
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
        words.push(format!("--cascade {}", args.cascade.cascade().name()));
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
        let rerun = rerun_command(&args, "rel", "ns");
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
        let given = rerun_command(&args, "rel", "ns").as_given();
        // (KUBECONFIG or HELM_KUBE* of the test's environment may add flags between.)
        assert!(given.starts_with("helm arc-uninstall rel -n ns"), "{given}");
        assert!(given.ends_with(" --force-finalizers") && !given.contains("--timeout"));
        assert!(
            reparse(&rerun_command(&args, "rel", "ns").with_force_finalizers()).force_finalizers
        );
    }
}
