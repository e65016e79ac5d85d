//! `demo`: the real ordered teardown against an embedded simulator with the
//! simulated ARC controller and fake GitHub service; no cluster and no Helm
//! needed. The release manifest the engine plans from is the one the demo
//! installed (the seam that replaces `helm get manifest`); everything after
//! that is the real engine with the normal progress display.

use crate::demo::report::{Census, before_after, order_proof, proof_text};
use crate::demo::{NAMESPACE, RELEASE, Setup, World};
use crate::duration::parse_duration;
use crate::exit::{self, Code};
use crate::kube::Cluster;
use crate::outcome::Outcome;
use crate::release::{ManifestInput, ReleaseSpec, Session, TeardownOptions};
use crate::teardown::rerun::Rerun;
use crate::ui::{self, Reporter};
use crate::{arc, plan};
use anyhow::Context;
use std::time::{Duration, Instant};

/// Arguments of `demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Break the cluster first, then show the refusal and the way out.
    #[arg(long, value_enum, value_name = "SCENARIO")]
    pub broken: Option<Broken>,

    /// First show `helm uninstall`'s own kind order on a separate simulator
    /// (dependents first, the AutoscalingRunnerSet last) leaving objects Terminating.
    #[arg(long)]
    pub compare: bool,

    /// `minRunners` of the demo runner set.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub min_runners: u32,

    /// How long the busy runner's job runs (Helm duration syntax; 0s: no job).
    #[arg(long, default_value = "3s", value_parser = parse_job)]
    pub job: Duration,
}

/// `--broken` scenarios.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Broken {
    /// The ARC controller is stopped: preflight refuses, then `--force-finalizers`
    /// strips ARC's finalizers bottom-up and reports what stays on GitHub.
    ControllerDown,
    /// The GitHub config Secret was deleted by hand: preflight refuses, then
    /// `--force-finalizers` lets the controller finish and reports the leak.
    LostCredentials,
    /// The manager RoleBinding was deleted by hand: the controller is
    /// Forbidden in the runner namespace; preflight refuses, then
    /// `--force-finalizers` strips ARC's finalizers bottom-up.
    LostRbac,
}

impl Broken {
    /// Break `world` this way; returns what was done, for the transcript.
    fn apply(self, world: &World) -> anyhow::Result<String> {
        Ok(match self {
            Broken::ControllerDown => {
                world.stop_controller();
                "the ARC controller is stopped (as if its chart were uninstalled)".to_string()
            }
            Broken::LostCredentials => {
                let lost = world.lose_dependent(arc::GITHUB_SECRET_ANNOTATION, "v1", "Secret")?;
                format!("{lost} (the GitHub credentials) was deleted by hand")
            }
            Broken::LostRbac => {
                let lost = world.lose_dependent(
                    arc::MANAGER_ROLE_BINDING_ANNOTATION,
                    "rbac.authorization.k8s.io/v1",
                    "RoleBinding",
                )?;
                format!("{lost} (the controller's permissions in {NAMESPACE}) was deleted by hand")
            }
        })
    }
}

fn parse_job(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

/// Run `demo`.
pub fn run(args: Args) -> anyhow::Result<Code> {
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let reporter = ui::reporter(false);
    let setup = Setup {
        min_runners: args.min_runners,
        busy_for: (!args.job.is_zero()).then_some(args.job),
    };
    if args.compare {
        say(
            "== 1/2: `helm uninstall` as Helm does it (simulated: DELETEs in Helm's UninstallOrder, no waiting)\n",
        )?;
        compare_helm_order(&setup, args.broken)?;
        say("\n== 2/2: the same release with helm-arc-uninstall\n")?;
    }
    let world = World::start(&setup).context("set up the demo")?;
    say(&format!(
        "Embedded API server with the simulated ARC controller and fake GitHub. Installed as Helm leaves them:\n  \
         release arc (controller, arc-systems) and release {RELEASE} ({NAMESPACE}), minRunners={}{}\n",
        args.min_runners,
        world
            .busy_runner()
            .map(|r| format!(", runner {r} busy with a job for {}s", args.job.as_secs()))
            .unwrap_or_default()
    ))?;
    let before = Census::take(&world);
    if let Some(broken) = args.broken {
        say(&format!("Broken: {}.\n", broken.apply(&world)?))?;
    }
    let log_start = world.event_log().len();

    say("\n$ helm-arc-uninstall plan   (of the release manifest)\n")?;
    let plan = plan::for_manifest(world.manifest(), NAMESPACE, plan::Format::Text)?;
    say(&plan)?;

    let kubeconfig = world.kubeconfig();
    let first = if args.broken.is_some() {
        "\n$ helm arc-uninstall arc-runner-set -n arc-runners\n"
    } else {
        "\n$ helm arc-uninstall arc-runner-set -n arc-runners   (the real engine, normal progress display)\n"
    };
    say(first)?;
    let mut outcome = runtime.block_on(teardown(
        &kubeconfig,
        world.manifest(),
        reporter.as_ref(),
        false,
    ))?;
    if args.broken.is_some() && outcome == Outcome::Refused {
        say("\n$ helm arc-uninstall arc-runner-set -n arc-runners --force-finalizers\n")?;
        outcome = runtime.block_on(teardown(
            &kubeconfig,
            world.manifest(),
            reporter.as_ref(),
            true,
        ))?;
    }
    say(&format!(
        "\n(`helm uninstall {RELEASE}` would now remove the release record; the demo has no Helm, and every object is already gone)\n"
    ))?;

    let proven = show_the_result(&world, &before, log_start)?;
    say(&format!(
        "\ndemo finished in {:.1}s\n",
        started.elapsed().as_secs_f64()
    ))?;
    Ok(if outcome == Outcome::Success && proven {
        Code::Success
    } else {
        Code::Failure
    })
}

/// The before/after table and the API server's event log; whether the log
/// shows the runner set gone before any of its dependents was deleted.
fn show_the_result(world: &World, before: &Census, log_start: usize) -> anyhow::Result<bool> {
    // Runner pods and secrets of stripped runners go by garbage collection.
    world.settle(Duration::from_millis(300), Duration::from_secs(5));
    let after = Census::take(world);
    say("\nBefore and after:\n")?;
    say(&before_after(before, &after))?;
    let proof = order_proof(&world.event_log(), log_start, world.ars_present());
    say("\nEvent log of the API server (writes to the release's objects):\n")?;
    say(&proof_text(&proof))?;
    Ok(proof.holds())
}

/// Helm's own order against a fresh world (broken the same way): what
/// `helm uninstall` leaves when it returns, and a few seconds later.
fn compare_helm_order(setup: &Setup, broken: Option<Broken>) -> anyhow::Result<()> {
    let world = World::start(setup).context("set up the comparison")?;
    if let Some(broken) = broken {
        say(&format!("Broken: {}.\n", broken.apply(&world)?))?;
    }
    let before = Census::take(&world);
    let log_start = world.event_log().len();
    let started = Instant::now();
    for (object, result) in world.helm_uninstall_order() {
        say(&format!("helm (simulated): DELETE {object}: {result}\n"))?;
    }
    say(
        "helm (simulated): release \"arc-runner-set\" uninstalled (Helm does not wait for finalizers)\n",
    )?;
    std::thread::sleep(Duration::from_millis(300));
    let at_return = Census::take(&world);
    say("\nBefore, and when `helm uninstall` returns:\n")?;
    say(&before_after(&before, &at_return))?;
    world.settle(Duration::from_millis(800), Duration::from_secs(8));
    let later = Census::take(&world);
    let stuck = later
        .kinds
        .iter()
        .filter(|k| k.terminating > 0)
        .map(|k| format!("{} {}", k.terminating, k.kind))
        .collect::<Vec<_>>();
    say(&format!(
        "\n{:.1}s later: {}; GitHub still lists {}.\n",
        started.elapsed().as_secs_f64(),
        if stuck.is_empty() {
            "nothing left Terminating (the chart's cleanup-protection finalizers kept the RBAC until the controller \
             finalized the AutoscalingRunnerSet)"
                .to_string()
        } else {
            format!(
                "still Terminating: {} (nothing will remove their finalizers)",
                stuck.join(", ")
            )
        },
        if later.scale_sets.is_empty() {
            "no scale set".to_string()
        } else {
            later.scale_sets.join(", ")
        }
    ))?;
    let proof = order_proof(&world.event_log(), log_start, world.ars_present());
    say("\nEvent log of the API server (writes to the release's objects):\n")?;
    say(&proof_text(&proof))?;
    Ok(())
}

/// One run of the real teardown against the simulator, its release
/// manifest given in place of `helm get manifest` (no Helm, no state copy).
async fn teardown(
    kubeconfig: &str,
    manifest_text: &str,
    ui: &dyn Reporter,
    force_finalizers: bool,
) -> anyhow::Result<Outcome> {
    let config = kube::config::Kubeconfig::from_yaml(kubeconfig)
        .context("read the simulator's kubeconfig")?;
    let spec = crate::kube::connection::resolve(&Default::default(), &config, None)
        .context("resolve the simulator's connection")?;
    let cluster = Cluster::connect(&spec)
        .await
        .context("connect to the simulator")?;
    let session = Session::new(cluster, None, None);
    let release = ReleaseSpec {
        name: RELEASE.into(),
        namespace: NAMESPACE.into(),
        manifest: ManifestInput::Given(manifest_text.to_string()),
        rerun: Rerun::new(
            format!("helm arc-uninstall {RELEASE} -n {NAMESPACE}"),
            None,
            force_finalizers,
        ),
    };
    let opts = TeardownOptions {
        timeout: Duration::from_secs(30),
        force_finalizers,
        ..TeardownOptions::default()
    };
    let ended = session
        .teardown(&release, &opts, ui)
        .await
        .context("teardown")?;
    Ok(ended.outcome)
}

fn say(text: &str) -> anyhow::Result<()> {
    exit::write_stdout(text.as_bytes())
}
