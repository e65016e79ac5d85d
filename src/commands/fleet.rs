//! `uninstall --all-runner-sets` and the controller guard: the I/O side of
//! fleet operations (the decisions are in `crate::fleet`): discovery, bounded concurrent teardowns
//! (each release through [`super::uninstall::run_release`]), the
//! controller guard, `--with-controller` and `--delete-crds`.

use super::uninstall::{Args, OutputArg, Tally, run_release};
use crate::arc::{self, RELEASE_NAME_ANNOTATION, RELEASE_NAMESPACE_ANNOTATION};
use crate::exit::{Code, WithCode};
use crate::fleet::{ReleaseRef, releases_of, split_release};
use crate::kube::{Cluster, Deleted, KubeError};
use crate::manifest;
use crate::model::{Live, ObjectId};
use crate::outcome::Outcome;
use crate::ui::{self, Event, Reporter};
use anyhow::{Context, anyhow};
use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
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

/// Outcome of one release of the fleet.
#[derive(Clone, Debug, Serialize)]
pub struct ReleaseOutcome {
    /// Release namespace.
    pub namespace: String,
    /// Release name.
    pub release: String,
    /// How the release's teardown ended.
    pub outcome: Outcome,
    /// Its exit code.
    pub exit_code: i32,
    /// Objects deleted.
    pub deleted: usize,
    /// Wall time.
    pub seconds: f64,
    /// One line.
    pub message: String,
}

/// Writes fleet-level lines and tags every engine event with its release.
struct Output {
    json: bool,
    out: Mutex<Box<dyn Write + Send>>,
}

impl Output {
    fn new(json: bool) -> Self {
        Self {
            json,
            out: Mutex::new(Box::new(std::io::stdout())),
        }
    }

    fn write(&self, line: &str) {
        if let Ok(mut out) = self.out.lock() {
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }

    /// A fleet event: JSON object, or its `text` line.
    fn fleet(&self, value: Value, text: &str) {
        if self.json {
            self.write(&value.to_string());
        } else {
            self.write(text);
        }
    }
}

/// The reporter of one release: tags events, remembers the summary.
struct Tagged<'a> {
    output: &'a Output,
    release: String,
    summary: Mutex<Option<(Outcome, i32, usize, String)>>,
}

impl Reporter for Tagged<'_> {
    fn emit(&self, event: &Event) {
        if let Event::Summary {
            outcome,
            exit_code,
            deleted,
            message,
            ..
        } = event
            && let Ok(mut s) = self.summary.lock()
        {
            *s = Some((*outcome, *exit_code, *deleted, message.clone()));
        }
        if self.output.json {
            if let Ok(mut value) = serde_json::to_value(event) {
                if let Some(map) = value.as_object_mut() {
                    map.insert("release".into(), json!(self.release));
                }
                self.output.write(&value.to_string());
            }
        } else {
            self.output
                .write(&format!("[{}] {}", self.release, ui::line(event)));
        }
    }
}

/// Tear down `releases` with at most `concurrency` at a time.
async fn teardown_releases(
    cluster: &Cluster,
    args: &Args,
    output: &Output,
    releases: &[ReleaseRef],
    tally: &Tally,
) -> Vec<ReleaseOutcome> {
    let concurrency = usize::from(args.fleet.concurrency).max(1);
    futures::stream::iter(releases.iter().map(|r| {
        let mut one = args.clone();
        one.release = r.name.clone();
        one.namespace = Some(r.namespace.clone());
        one.fleet = FleetArgs::default();
        async move {
            teardown_one(
                cluster,
                &one,
                output,
                &format!("{}/{}", r.namespace, r.name),
                tally,
            )
            .await
        }
    }))
    .buffer_unordered(concurrency)
    .collect()
    .await
}

async fn teardown_one(
    cluster: &Cluster,
    args: &Args,
    output: &Output,
    tag: &str,
    tally: &Tally,
) -> ReleaseOutcome {
    let started = Instant::now();
    let reporter = Tagged {
        output,
        release: tag.to_string(),
        summary: Mutex::new(None),
    };
    let deleted = tally.deleted_counter();
    let result = run_release(cluster, args, &reporter, deleted.clone()).await;
    let summary = reporter.summary.lock().ok().and_then(|s| s.clone());
    let (outcome, exit_code, deleted, message) = match (result, summary) {
        (Ok(_), Some(s)) => s,
        (Ok(code), None) => (
            if code == Code::Success {
                Outcome::Success
            } else {
                Outcome::Failed
            },
            code as i32,
            deleted.load(Ordering::Relaxed),
            String::new(),
        ),
        (Err(err), _) => {
            let code = crate::exit::code_for(&err) as i32;
            let message = format!("{err:#}");
            output.fleet(
                json!({"event": "release_error", "release": tag, "message": message}),
                &format!("[{tag}] error: {message}"),
            );
            (
                Outcome::Failed,
                code,
                deleted.load(Ordering::Relaxed),
                message,
            )
        }
    };
    ReleaseOutcome {
        namespace: args.namespace.clone().unwrap_or_default(),
        release: args.release.clone(),
        outcome,
        exit_code,
        deleted,
        seconds: started.elapsed().as_secs_f64(),
        message,
    }
}

/// List a kind; a kind the server does not serve (ARC CRDs absent) is empty.
async fn list_or_empty(
    cluster: &Cluster,
    kind: &str,
    namespace: Option<&str>,
) -> anyhow::Result<Vec<Live>> {
    match cluster
        .list(arc::GROUP, arc::VERSION, kind, namespace, None)
        .await
    {
        Ok(items) => Ok(items),
        Err(KubeError::UnknownKind(_)) => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("list {kind}")),
    }
}

fn worst(outcomes: &[ReleaseOutcome]) -> Code {
    let codes: Vec<i32> = outcomes.iter().map(|o| o.exit_code).collect();
    if codes.contains(&(Code::Failure as i32)) {
        Code::Failure
    } else if codes.contains(&(Code::Refused as i32)) {
        Code::Refused
    } else if codes.contains(&(Code::TimedOut as i32)) {
        Code::TimedOut
    } else if codes.iter().any(|&c| c != 0) {
        Code::Failure
    } else {
        Code::Success
    }
}

/// `uninstall --all-runner-sets [-A | -n NS] [--with-controller R] [--delete-crds]`.
pub async fn all_runner_sets(
    cluster: &Cluster,
    args: &Args,
    _ui: &dyn Reporter,
    tally: &Tally,
) -> anyhow::Result<Code> {
    let started = Instant::now();
    let output = Output::new(args.output == OutputArg::Json);
    let namespace = match args.namespace.as_deref().filter(|n| !n.is_empty()) {
        Some(ns) => ns.to_string(),
        None => cluster.default_namespace().to_string(),
    };
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
            &output,
            Outcome::Refused,
            Code::Refused,
            &[],
            started,
            tally,
            &message,
        );
        return Ok(Code::Refused);
    }
    announce(cluster, args, &output, &releases, &scope_text);
    let mut outcomes = teardown_releases(cluster, args, &output, &releases, tally).await;
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
        let (step_code, step_message, outcome) =
            with_controller(cluster, args, &output, spec, tally).await?;
        outcomes.extend(outcome);
        code = step_code;
        message = format!("{message}; {step_message}");
    }
    if code == Code::Success && args.fleet.delete_crds {
        let (step_code, step_message) = delete_crds(cluster, args, &output).await?;
        code = step_code;
        message = format!("{message}; {step_message}");
    }
    let outcome = Outcome::of_code(code, args.dry_run);
    summary(&output, outcome, code, &outcomes, started, tally, &message);
    Ok(code)
}

/// The `fleet_start` event: what will be torn down, where, as whom.
fn announce(
    cluster: &Cluster,
    args: &Args,
    output: &Output,
    releases: &[ReleaseRef],
    scope_text: &str,
) {
    let target = cluster.target();
    output.fleet(
        json!({"event": "fleet_start", "scope": scope_text, "releases": releases,
               "concurrency": args.fleet.concurrency, "dry_run": args.dry_run,
               "server": target.server, "context": target.context, "user": target.user,
               "as_user": target.as_user, "as_groups": target.as_groups}),
        &format!(
            "{}tearing down {} runner-set release(s) in {scope_text} on {}, {} at a time",
            if args.dry_run { "dry run: " } else { "" },
            releases.len(),
            target.describe(),
            args.fleet.concurrency
        ),
    );
}

fn summary(
    output: &Output,
    outcome: Outcome,
    code: Code,
    releases: &[ReleaseOutcome],
    started: Instant,
    tally: &Tally,
    message: &str,
) {
    let seconds = started.elapsed().as_secs_f64();
    let (deleted, requests) = (tally.deleted(), tally.requests());
    output.fleet(
        json!({"event": "fleet_summary", "outcome": outcome, "exit_code": code as i32,
               "releases": releases, "deleted": deleted,
               "seconds": seconds, "requests": requests, "message": message}),
        &format!(
            "fleet {outcome} in {seconds:.1}s: {message} ({deleted} deleted, {requests} API requests)"
        ),
    );
}

/// The `fleet_summary` of a fleet run that failed or was interrupted before
/// its own summary: outcome `failed`, with what it did until then.
pub fn failed_summary(json: bool, code: Code, tally: &Tally, started: Instant, message: &str) {
    summary(
        &Output::new(json),
        Outcome::Failed,
        code,
        &[],
        started,
        tally,
        message,
    );
}

/// Find the controller release's namespace: `NS/RELEASE`, else the Helm
/// annotations of a controller Deployment of that release, else `-n`.
async fn controller_namespace(
    cluster: &Cluster,
    args: &Args,
    spec: &str,
) -> anyhow::Result<(String, String)> {
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
        None => args
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| cluster.default_namespace().to_string()),
    };
    Ok((ns, name.to_string()))
}

async fn with_controller(
    cluster: &Cluster,
    args: &Args,
    output: &Output,
    spec: &str,
    tally: &Tally,
) -> anyhow::Result<(Code, String, Option<ReleaseOutcome>)> {
    let (ns, name) = controller_namespace(cluster, args, spec).await?;
    if !args.dry_run {
        let left = list_or_empty(cluster, arc::ARS_KIND, None).await?;
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
    let mut one = args.clone();
    one.release = name.clone();
    one.namespace = Some(ns.clone());
    one.fleet = FleetArgs::default();
    let outcome = teardown_one(cluster, &one, output, &format!("{ns}/{name}"), tally).await;
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
    output: &Output,
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
            "would_delete"
        } else {
            match cluster
                .delete(&id, live.uid(), crate::kube::Cascade::Background)
                .await
                .with_context(|| format!("delete {id}"))?
            {
                Deleted::Gone | Deleted::NotFound => "gone",
                Deleted::Terminating(_) => "terminating",
                Deleted::UidMismatch => "uid_changed",
                Deleted::Changed => "changed",
            }
        };
        deleted += usize::from(result != "would_delete");
        output.fleet(
            json!({"event": "crd", "object": id.to_string(), "result": result}),
            &format!("CRD {crd}: {}", result.replace('_', " ")),
        );
    }
    Ok((Code::Success, format!("{deleted} CRD(s) deleted")))
}

/// The guard on `uninstall CONTROLLER_RELEASE`: while runner sets exist, refuse
/// (`Some(Refused)`), or with `--cascade-runner-sets` tear them down first.
/// `None`: go on with the release.
pub async fn controller_guard(
    cluster: &Cluster,
    args: &Args,
    ui: &dyn Reporter,
    tally: &Tally,
) -> anyhow::Result<Option<Code>> {
    let namespace = match args.namespace.as_deref().filter(|n| !n.is_empty()) {
        Some(ns) => ns.to_string(),
        None => cluster.default_namespace().to_string(),
    };
    let helm = super::uninstall::helm_for(args, &namespace)?;
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
    cascade_runner_sets(cluster, args, &runner_sets, watched.as_deref(), tally).await?;
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
    cluster: &Cluster,
    args: &Args,
    runner_sets: &[Live],
    watched: Option<&str>,
    tally: &Tally,
) -> anyhow::Result<()> {
    let (releases, unmapped) = releases_of(runner_sets);
    if !unmapped.is_empty() {
        return Err(anyhow!(
            "refused: runner sets that belong to no Helm release exist: {}; nothing was deleted",
            unmapped.join(", ")
        ))
        .exit_code(Code::Refused);
    }
    let output = Output::new(args.output == OutputArg::Json);
    let outcomes = teardown_releases(cluster, args, &output, &releases, tally).await;
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
        let left = list_or_empty(cluster, arc::ARS_KIND, watched).await?;
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
