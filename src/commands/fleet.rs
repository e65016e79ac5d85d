//! `uninstall --all-runner-sets` and the controller guard: the I/O side of
//! fleet operations (the decisions are in `crate::fleet`): discovery, bounded
//! concurrent teardowns (each release through [`Session::teardown`], its
//! events tagged with it), the controller guard, `--with-controller` and
//! `--delete-crds`.

use super::uninstall::{Args, RunReporter, release_spec, teardown_options};
use crate::arc::{self, RELEASE_NAME_ANNOTATION, RELEASE_NAMESPACE_ANNOTATION};
use crate::exit::{Code, WithCode};
use crate::fleet::{ReleaseOutcome, ReleaseRef, releases_of, split_release, worst};
use crate::kube::{Cluster, Deleted};
use crate::manifest;
use crate::model::{Live, ObjectId};
use crate::outcome::Outcome;
use crate::release::Session;
use crate::teardown::events::DeleteResult;
use crate::teardown::observe;
use crate::ui::{Counting, Event, Reporter, Tagged};
use anyhow::{Context, anyhow};
use futures::StreamExt;
use std::time::Instant;

/// Fleet flags of `uninstall`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct FleetArgs {
    /// Tear down every release that owns an AutoscalingRunnerSet (in `-n`, or everywhere with `-A`).
    #[arg(long, conflicts_with = "rescue")]
    pub all_runner_sets: bool,

    /// With --all-runner-sets: every namespace.
    #[arg(short = 'A', long, requires = "all_runner_sets")]
    pub all_namespaces: bool,

    /// Releases torn down at the same time.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,

    /// After every runner set is gone: uninstall this controller release (`RELEASE` or `NAMESPACE/RELEASE`);
    /// while runner sets are left anywhere it is kept (exit 4).
    #[arg(long, value_name = "RELEASE", requires = "all_runner_sets")]
    pub with_controller: Option<String>,

    /// Last: delete the actions.github.com CRDs, only when no custom resource of them is left
    /// (else they are kept, "CRDs kept: ..." names what is left, exit 4).
    #[arg(long, requires = "all_runner_sets")]
    pub delete_crds: bool,

    /// Uninstalling the controller release while runner sets exist: tear them down first.
    #[arg(long, conflicts_with = "all_runner_sets")]
    pub cascade_runner_sets: bool,
}

/// Tear down `releases` with at most `concurrency` at a time.
async fn teardown_releases(
    session: &Session,
    args: &Args,
    ui: &dyn Reporter,
    releases: &[ReleaseRef],
) -> Vec<ReleaseOutcome> {
    let concurrency = usize::from(args.fleet.concurrency).max(1);
    futures::stream::iter(
        releases
            .iter()
            .map(|r| teardown_one(session, args, ui, &r.namespace, &r.name)),
    )
    .buffer_unordered(concurrency)
    .collect()
    .await
}

/// Tear down release `name` in `namespace`, its events tagged
/// `namespace/name`; an error becomes its `release_error` event and a
/// failed outcome.
async fn teardown_one(
    session: &Session,
    args: &Args,
    ui: &dyn Reporter,
    namespace: &str,
    name: &str,
) -> ReleaseOutcome {
    let started = Instant::now();
    let ui = Counting::new(Tagged::new(ui, format!("{namespace}/{name}")));
    let spec = release_spec(args, name, namespace);
    let (outcome, exit_code, message) =
        match session.teardown(&spec, &teardown_options(args), &ui).await {
            Ok(ended) => (ended.outcome, ended.outcome.code() as i32, ended.message),
            Err(err) => {
                let err = anyhow::Error::new(err);
                let message = format!("{err:#}");
                ui.emit(&Event::ReleaseError {
                    message: message.clone(),
                });
                (Outcome::Failed, crate::exit::code_for(&err) as i32, message)
            }
        };
    ReleaseOutcome {
        namespace: namespace.to_string(),
        release: name.to_string(),
        outcome,
        exit_code,
        deleted: ui.deleted(),
        seconds: started.elapsed().as_secs_f64(),
        message,
    }
}

/// List an ARC kind; a kind the server does not serve (ARC CRDs absent) is empty.
async fn list_or_empty(
    cluster: &Cluster,
    kind: &str,
    namespace: Option<&str>,
) -> anyhow::Result<Vec<Live>> {
    observe::list_or_empty(cluster, (arc::GROUP, arc::VERSION, kind), namespace, None)
        .await
        .with_context(|| format!("list {kind}"))
}

/// `uninstall --all-runner-sets [-A | -n NS] [--with-controller R] [--delete-crds]`.
pub async fn all_runner_sets(
    session: &Session,
    args: &Args,
    ui: &RunReporter,
) -> anyhow::Result<Code> {
    let started = Instant::now();
    let cluster = session.cluster();
    let namespace = session.namespace_or_default(args.namespace.as_deref());
    let scope = (!args.fleet.all_namespaces).then_some(namespace.as_str());
    let runner_sets = list_or_empty(cluster, arc::ARS_KIND, scope).await?;
    let (releases, unmapped) = releases_of(&runner_sets);
    let scope_text = scope.map_or("all namespaces".to_string(), |n| format!("namespace {n}"));
    if !unmapped.is_empty() {
        let message = format!(
            "refused: {} AutoscalingRunnerSet(s) in {scope_text} belong to no Helm release (no {RELEASE_NAME_ANNOTATION} \
             annotation), so they cannot be torn down by release: {}. Remove them first (kubectl delete, with the controller \
             running); nothing was deleted",
            unmapped.len(),
            unmapped.join(", ")
        );
        summary(
            ui,
            Outcome::Refused,
            Code::Refused,
            Vec::new(),
            started,
            message,
        );
        return Ok(Code::Refused);
    }
    ui.emit(&Event::FleetStart {
        scope: scope_text,
        releases: releases.clone(),
        concurrency: args.fleet.concurrency,
        dry_run: args.dry_run,
        target: cluster.target().clone(),
    });
    let mut outcomes = teardown_releases(session, args, ui, &releases).await;
    outcomes.sort_by(|a, b| (&a.namespace, &a.release).cmp(&(&b.namespace, &b.release)));
    let mut code = worst(&outcomes);
    let mut message = format!(
        "{} of {} runner-set release(s) torn down",
        outcomes.iter().filter(|o| o.exit_code == 0).count(),
        outcomes.len()
    );

    if code == Code::Success
        && let Some(spec) = &args.fleet.with_controller
    {
        let (step_code, step_message, outcome) = with_controller(session, args, ui, spec).await?;
        outcomes.extend(outcome);
        code = step_code;
        message = format!("{message}; {step_message}");
    }
    if code == Code::Success && args.fleet.delete_crds {
        let (step_code, step_message) = delete_crds(cluster, args, ui).await?;
        code = step_code;
        message = format!("{message}; {step_message}");
    }
    let outcome = Outcome::of_code(code, args.dry_run);
    summary(ui, outcome, code, outcomes, started, message);
    Ok(code)
}

/// The `fleet_summary` event, with the run's totals (also the one of a
/// fleet run that failed or was interrupted: `failed`, no releases).
pub(super) fn summary(
    ui: &RunReporter,
    outcome: Outcome,
    code: Code,
    releases: Vec<ReleaseOutcome>,
    started: Instant,
    message: String,
) {
    ui.emit(&Event::FleetSummary {
        outcome,
        exit_code: code as i32,
        releases,
        deleted: ui.deleted(),
        seconds: started.elapsed().as_secs_f64(),
        requests: ui.requests(),
        message,
    });
}

/// Find the controller release's namespace: `NS/RELEASE`, else the Helm
/// annotations of a controller Deployment of that release, else `-n`.
async fn controller_namespace(
    session: &Session,
    args: &Args,
    spec: &str,
) -> anyhow::Result<(String, String)> {
    let cluster = session.cluster();
    let (ns, name) = split_release(spec);
    if let Some(ns) = ns {
        return Ok((ns.to_string(), name.to_string()));
    }
    let deployments = cluster
        .list(
            "apps",
            "v1",
            "Deployment",
            None,
            Some(arc::CONTROLLER_SELECTOR),
        )
        .await
        .context("list controller Deployments")?;
    let found = deployments.iter().find_map(|d| {
        (d.annotation(RELEASE_NAME_ANNOTATION) == Some(name))
            .then(|| {
                d.annotation(RELEASE_NAMESPACE_ANNOTATION)
                    .or(d.id.namespace.as_deref())
            })
            .flatten()
    });
    let ns = match found {
        Some(ns) => ns.to_string(),
        None => session.namespace_or_default(args.namespace.as_deref()),
    };
    Ok((ns, name.to_string()))
}

async fn with_controller(
    session: &Session,
    args: &Args,
    ui: &dyn Reporter,
    spec: &str,
) -> anyhow::Result<(Code, String, Option<ReleaseOutcome>)> {
    let (ns, name) = controller_namespace(session, args, spec).await?;
    if !args.dry_run {
        let left = list_or_empty(session.cluster(), arc::ARS_KIND, None).await?;
        if !left.is_empty() {
            let names: Vec<String> = left.iter().map(|l| l.id.to_string()).collect();
            return Ok((
                Code::Refused,
                format!(
                    "controller release {ns}/{name} kept: runner sets still exist: {}",
                    names.join(", ")
                ),
                None,
            ));
        }
    }
    let outcome = teardown_one(session, args, ui, &ns, &name).await;
    let code = if outcome.exit_code == 0 {
        Code::Success
    } else {
        worst(std::slice::from_ref(&outcome))
    };
    Ok((
        code,
        format!("controller release {ns}/{name}: {}", outcome.outcome),
        Some(outcome),
    ))
}

async fn delete_crds(
    cluster: &Cluster,
    args: &Args,
    ui: &dyn Reporter,
) -> anyhow::Result<(Code, String)> {
    let mut left = Vec::new();
    for (_, kind) in arc::CRDS {
        left.extend(
            list_or_empty(cluster, kind, None)
                .await?
                .into_iter()
                .map(|l| l.id.to_string()),
        );
    }
    if !left.is_empty() {
        return Ok((
            Code::Refused,
            format!(
                "CRDs kept: {} custom resource(s) of them remain: {}",
                left.len(),
                left.join(", ")
            ),
        ));
    }
    let mut deleted = 0;
    for (crd, _) in arc::CRDS {
        let id = ObjectId {
            group: "apiextensions.k8s.io".into(),
            version: "v1".into(),
            kind: "CustomResourceDefinition".into(),
            namespace: None,
            name: (*crd).to_string(),
        };
        let Some(live) = cluster
            .get(&id)
            .await
            .with_context(|| format!("read {id}"))?
        else {
            continue;
        };
        let result = if args.dry_run {
            DeleteResult::WouldDelete
        } else {
            match cluster
                .delete(&id, live.uid(), crate::kube::Cascade::Background)
                .await
                .with_context(|| format!("delete {id}"))?
            {
                Deleted::Gone | Deleted::NotFound => DeleteResult::Gone,
                Deleted::Terminating(_) => DeleteResult::Terminating,
                Deleted::UidMismatch => DeleteResult::UidChanged,
                Deleted::Changed => DeleteResult::Changed,
            }
        };
        deleted += usize::from(result != DeleteResult::WouldDelete);
        ui.emit(&Event::Crd {
            object: id.to_string(),
            result,
        });
    }
    Ok((Code::Success, format!("{deleted} CRD(s) deleted")))
}

/// The guard on `uninstall CONTROLLER_RELEASE`: while runner sets exist, refuse
/// (`Some(Refused)`), or with `--cascade-runner-sets` tear them down first.
/// `None`: go on with the release.
pub async fn controller_guard(
    session: &Session,
    args: &Args,
    ui: &dyn Reporter,
) -> anyhow::Result<Option<Code>> {
    let cluster = session.cluster();
    let namespace = session.namespace_or_default(args.namespace.as_deref());
    let helm = session.helm(&args.release, &namespace)?;
    let Some(text) = helm.get_manifest(&args.release).await? else {
        return Ok(None);
    };
    let opts = manifest::ParseOptions {
        default_namespace: namespace.clone(),
    };
    let Ok(parsed) = manifest::parse(&text, &opts) else {
        // The single-release path reports a bad manifest.
        return Ok(None);
    };
    let objects: Vec<_> = parsed.objects().cloned().collect();
    if !crate::fleet::is_controller_manifest(&objects) {
        return Ok(None);
    }
    let watched = crate::fleet::controller_watch_namespace(&objects);
    let runner_sets = list_or_empty(cluster, arc::ARS_KIND, watched.as_deref()).await?;
    if runner_sets.is_empty() {
        return Ok(None);
    }
    if !args.fleet.cascade_runner_sets {
        return Ok(Some(refuse_while_runner_sets_exist(
            cluster,
            args,
            ui,
            &runner_sets,
            watched.as_deref(),
            &namespace,
        )));
    }
    cascade_runner_sets(session, args, ui, &runner_sets, watched.as_deref()).await?;
    Ok(None)
}

/// The controller release is kept while runner sets exist: says which and
/// how to tear them down first.
fn refuse_while_runner_sets_exist(
    cluster: &Cluster,
    args: &Args,
    ui: &dyn Reporter,
    runner_sets: &[Live],
    watched: Option<&str>,
    namespace: &str,
) -> Code {
    let names: Vec<String> = runner_sets.iter().map(|l| l.id.to_string()).collect();
    let message = format!(
        "{} is the ARC controller release, and {} runner set(s) still exist: {}. The controller must outlive the \
         runner sets it owns (uninstalled first, every one of them hangs Terminating). Tear them down first: \
         `helm arc-uninstall --all-runner-sets {} --with-controller {namespace}/{}`, or rerun with --cascade-runner-sets",
        args.release,
        names.len(),
        names.join(", "),
        watched.map_or("-A".to_string(), |n| format!("-n {n}")),
        args.release,
    );
    ui.emit(&Event::Refused {
        cause: "runner_sets_exist".into(),
        message,
    });
    ui.emit(&Event::Summary {
        outcome: Outcome::Refused,
        exit_code: Code::Refused as i32,
        deleted: 0,
        seconds: 0.0,
        requests: cluster.request_count(),
        message: format!("refused: {} runner set(s) still exist", names.len()),
    });
    Code::Refused
}

/// `--cascade-runner-sets`: tears down every runner-set release the
/// controller serves; an error unless all of them are gone.
async fn cascade_runner_sets(
    session: &Session,
    args: &Args,
    ui: &dyn Reporter,
    runner_sets: &[Live],
    watched: Option<&str>,
) -> anyhow::Result<()> {
    let (releases, unmapped) = releases_of(runner_sets);
    if !unmapped.is_empty() {
        return Err(anyhow!(
            "refused: runner sets that belong to no Helm release exist: {}; nothing was deleted",
            unmapped.join(", ")
        ))
        .exit_code(Code::Refused);
    }
    let outcomes = teardown_releases(session, args, ui, &releases).await;
    let code = worst(&outcomes);
    if code != Code::Success {
        let failed: Vec<String> = outcomes
            .iter()
            .filter(|o| o.exit_code != 0)
            .map(|o| format!("{}/{} ({})", o.namespace, o.release, o.outcome))
            .collect();
        return Err(anyhow!(
            "controller release {} kept: runner-set releases did not finish: {}",
            args.release,
            failed.join(", ")
        ))
        .exit_code(code);
    }
    if !args.dry_run {
        let left = list_or_empty(session.cluster(), arc::ARS_KIND, watched).await?;
        if !left.is_empty() {
            let names: Vec<String> = left.iter().map(|l| l.id.to_string()).collect();
            return Err(anyhow!(
                "controller release {} kept: runner sets still exist: {}",
                args.release,
                names.join(", ")
            ))
            .exit_code(Code::Refused);
        }
    }
    Ok(())
}
