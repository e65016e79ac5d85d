//! A Job runner for kubectl Jobs: executes a Job whose containers all use a
//! kubectl image (such as the teardown hooks of `render --hooks`) by running
//! the real `kubectl` binary with the containers' arguments against the
//! simulator, and writes the Job's status from the exit codes as the Job
//! controller does: `startTime`, `active`, `succeeded`/`failed`, then the
//! `Complete` (with `SuccessCriteriaMet`) or `Failed` (with `FailureTarget`)
//! condition and `completionTime`. Helm 3's hook wait reads the conditions;
//! Helm 4's kstatus reader reads the conditions and the counters.
//!
//! Semantics: init containers then containers run one after the other, each a
//! kubectl child process this runner starts and, when needed, kills by its
//! PID; an attempt fails when one exits non-zero, and attempts repeat until
//! `backoffLimit` failures (`BackoffLimitExceeded`). `activeDeadlineSeconds`
//! counts from `startTime` (`DeadlineExceeded`, the running kubectl is
//! killed). Deleting the Job kills its kubectl. No Pods are created. Jobs with
//! any other image are left alone.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::sync::lock;
use kube_sim::api::{Actor, Api, Gvk, ListOptions, WatchEventType};

/// Settings of a [`JobRunner`].
#[derive(Clone, Debug)]
pub struct JobRunnerConfig {
    /// The kubectl binary to run.
    pub kubectl: PathBuf,
    /// Image repositories treated as kubectl (the part before `:tag`/`@digest`).
    /// A Job runs when every container's image is one of them.
    pub images: Vec<String>,
    /// Directory for the runner's kubeconfig and kubectl's cache.
    pub work_dir: PathBuf,
    /// The kubeconfig content pointing at the simulator.
    pub kubeconfig: String,
}

/// Default kubectl image repository.
pub const KUBECTL_IMAGE: &str = "registry.k8s.io/kubectl";

/// One kubectl run of a Job container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobRun {
    /// Job namespace.
    pub namespace: String,
    /// Job name.
    pub job: String,
    /// Container name.
    pub container: String,
    /// kubectl arguments.
    pub args: Vec<String>,
    /// Exit code (`None`: killed or failed to start).
    pub exit_code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error (or why it could not run).
    pub stderr: String,
    /// Process id of the kubectl child.
    pub pid: Option<u32>,
}

#[derive(Default)]
struct State {
    runs: Mutex<Vec<JobRun>>,
    started: Mutex<HashSet<String>>,
    cancel: Mutex<HashMap<String, Arc<Notify>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

/// A running Job runner. Dropping it stops it and kills its kubectl processes.
pub struct JobRunner {
    state: Arc<State>,
    task: JoinHandle<()>,
    work_dir: PathBuf,
}

const ACTOR: &str = "kube-sim:job-controller";

fn jobs_gvk() -> Gvk {
    Gvk::new("batch/v1", "Job")
}

impl JobRunner {
    /// Start on `runtime` against `api`.
    pub fn start_on(
        runtime: &tokio::runtime::Handle,
        api: Arc<dyn Api>,
        config: JobRunnerConfig,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.work_dir)?;
        std::fs::write(config.work_dir.join("kubeconfig"), &config.kubeconfig)?;
        let state = Arc::new(State::default());
        let work_dir = config.work_dir.clone();
        let task = runtime.spawn(watch_loop(api, Arc::new(config), state.clone()));
        Ok(Self {
            state,
            task,
            work_dir,
        })
    }

    /// Every kubectl run so far, in start order of completion.
    pub fn runs(&self) -> Vec<JobRun> {
        lock(&self.state.runs).clone()
    }
}

impl Drop for JobRunner {
    fn drop(&mut self) {
        self.task.abort();
        for task in lock(&self.state.tasks).drain(..) {
            // kill_on_drop ends the kubectl child of an aborted run.
            task.abort();
        }
        let _ = std::fs::remove_dir_all(&self.work_dir);
    }
}

async fn watch_loop(api: Arc<dyn Api>, config: Arc<JobRunnerConfig>, state: Arc<State>) {
    let mut rx = api.subscribe();
    let actor = Actor(ACTOR.to_string());
    let scan = |api: &Arc<dyn Api>| {
        if let Ok(jobs) = api.list(&actor, &jobs_gvk(), None, &ListOptions::default()) {
            for job in jobs {
                consider(api, &config, &state, &job);
            }
        }
    };
    scan(&api);
    loop {
        match rx.recv().await {
            Ok(ev) if ev.gvk.group == "batch" && ev.gvk.kind == "Job" => {
                let uid = str_at(&ev.object, "/metadata/uid").to_string();
                let deleting = ev
                    .object
                    .pointer("/metadata/deletionTimestamp")
                    .is_some_and(|v| !v.is_null());
                if ev.kind == WatchEventType::Deleted || deleting {
                    if let Some(n) = lock(&state.cancel).remove(&uid) {
                        n.notify_one();
                    }
                } else {
                    consider(&api, &config, &state, &ev.object);
                }
            }
            Ok(_) => {}
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => scan(&api),
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// `repo` of `repo:tag`, `repo@digest`, `repo:tag@digest` (a `:` in the host part is kept).
pub fn image_repository(image: &str) -> &str {
    let no_digest = image.split_once('@').map_or(image, |(r, _)| r);
    match no_digest.rfind(':') {
        Some(i) if !no_digest[i..].contains('/') => &no_digest[..i],
        _ => no_digest,
    }
}

fn finished(job: &Value) -> bool {
    job.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter().any(|c| {
                matches!(str_at(c, "/type"), "Complete" | "Failed")
                    && str_at(c, "/status") == "True"
            })
        })
}

fn containers(job: &Value) -> Vec<Value> {
    let spec = job.pointer("/spec/template/spec");
    let list = |key: &str| {
        spec.and_then(|s| s.get(key))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut all = list("initContainers");
    all.extend(list("containers"));
    all
}

fn consider(api: &Arc<dyn Api>, config: &Arc<JobRunnerConfig>, state: &Arc<State>, job: &Value) {
    let uid = str_at(job, "/metadata/uid").to_string();
    if uid.is_empty() || finished(job) {
        return;
    }
    let all = containers(job);
    let runnable = !all.is_empty()
        && all.iter().all(|c| {
            let repo = image_repository(str_at(c, "/image"));
            config.images.iter().any(|i| i == repo)
        });
    if !runnable || !lock(&state.started).insert(uid.clone()) {
        return;
    }
    let cancel = Arc::new(Notify::new());
    lock(&state.cancel).insert(uid, cancel.clone());
    let task = tokio::spawn(run_job(
        api.clone(),
        config.clone(),
        state.clone(),
        job.clone(),
        cancel,
    ));
    lock(&state.tasks).push(task);
}

enum Outcome {
    Succeeded,
    Failed,
    DeadlineExceeded,
    Cancelled,
}

async fn run_job(
    api: Arc<dyn Api>,
    config: Arc<JobRunnerConfig>,
    state: Arc<State>,
    job: Value,
    cancel: Arc<Notify>,
) {
    let namespace = str_at(&job, "/metadata/namespace").to_string();
    let name = str_at(&job, "/metadata/name").to_string();
    let uid = str_at(&job, "/metadata/uid").to_string();
    let backoff_limit = job
        .pointer("/spec/backoffLimit")
        .and_then(Value::as_u64)
        .unwrap_or(6);
    let deadline = job
        .pointer("/spec/activeDeadlineSeconds")
        .and_then(Value::as_u64)
        .map(|s| Instant::now() + Duration::from_secs(s));
    let start_time = now();
    write_status(&api, &namespace, &name, &uid, |s| {
        s.insert("startTime".into(), json!(start_time));
        s.insert("active".into(), json!(1));
        s.insert("ready".into(), json!(0));
        s.insert("terminating".into(), json!(0));
        s.insert("uncountedTerminatedPods".into(), json!({}));
    });
    let mut failed = 0u64;
    let outcome = loop {
        match run_attempt(&config, &state, &job, deadline, &cancel).await {
            Outcome::Failed => {
                failed += 1;
                write_status(&api, &namespace, &name, &uid, |s| {
                    s.insert("failed".into(), json!(failed));
                });
                if failed > backoff_limit {
                    break Outcome::Failed;
                }
            }
            other => break other,
        }
    };
    let (reason, message) = match outcome {
        Outcome::Cancelled => return,
        Outcome::Succeeded => ("", ""),
        Outcome::Failed => (
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
        ),
        Outcome::DeadlineExceeded => (
            "DeadlineExceeded",
            "Job was active longer than specified deadline",
        ),
    };
    let end = now();
    write_status(&api, &namespace, &name, &uid, |s| {
        s.insert("active".into(), json!(0));
        s.insert("ready".into(), json!(0));
        let condition = |kind: &str, reason: &str, message: &str| {
            json!({"type": kind, "status": "True", "reason": reason, "message": message,
                   "lastProbeTime": end, "lastTransitionTime": end})
        };
        if reason.is_empty() {
            s.insert("succeeded".into(), json!(1));
            s.insert("completionTime".into(), json!(end));
            s.insert(
                "conditions".into(),
                json!([
                    condition(
                        "SuccessCriteriaMet",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods"
                    ),
                    condition(
                        "Complete",
                        "CompletionsReached",
                        "Reached expected number of succeeded pods"
                    ),
                ]),
            );
        } else {
            if reason == "DeadlineExceeded" {
                s.insert("failed".into(), json!(failed + 1));
            }
            s.insert(
                "conditions".into(),
                json!([
                    condition("FailureTarget", reason, message),
                    condition("Failed", reason, message)
                ]),
            );
        }
    });
    lock(&state.cancel).remove(&uid);
}

/// Run every container once, in order.
async fn run_attempt(
    config: &JobRunnerConfig,
    state: &State,
    job: &Value,
    deadline: Option<Instant>,
    cancel: &Notify,
) -> Outcome {
    for c in containers(job) {
        let mut args: Vec<String> = Vec::new();
        let strings = |key: &str| kube_sim::value::string_list(c.get(key));
        let command = strings("command");
        // The image's entrypoint is kubectl; an explicit command must name it.
        if let Some((first, rest)) = command.split_first() {
            if Path::new(first).file_name().and_then(|f| f.to_str()) != Some("kubectl") {
                record(
                    state,
                    job,
                    &c,
                    command.clone(),
                    None,
                    None,
                    String::new(),
                    format!("kube-sim job runner: command {first} is not kubectl"),
                );
                return Outcome::Failed;
            }
            args.extend(rest.iter().cloned());
        }
        args.extend(strings("args"));
        match run_kubectl(config, state, job, &c, args, deadline, cancel).await {
            Outcome::Succeeded => {}
            other => return other,
        }
    }
    Outcome::Succeeded
}

async fn run_kubectl(
    config: &JobRunnerConfig,
    state: &State,
    job: &Value,
    container: &Value,
    args: Vec<String>,
    deadline: Option<Instant>,
    cancel: &Notify,
) -> Outcome {
    let home = &config.work_dir;
    let mut cmd = tokio::process::Command::new(&config.kubectl);
    cmd.args(&args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("KUBECONFIG", home.join("kubeconfig"))
        .env("KUBECACHEDIR", home.join("kubecache"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            record(
                state,
                job,
                container,
                args,
                None,
                None,
                String::new(),
                format!("cannot start {}: {e}", config.kubectl.display()),
            );
            return Outcome::Failed;
        }
    };
    let pid = child.id();
    let remaining = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    let wait = child.wait_with_output();
    tokio::pin!(wait);
    let sleep = async {
        match remaining {
            Some(r) => tokio::time::sleep(r).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        out = &mut wait => match out {
            Ok(out) => {
                let code = out.status.code();
                record(state, job, container, args, code, pid,
                       String::from_utf8_lossy(&out.stdout).into_owned(),
                       String::from_utf8_lossy(&out.stderr).into_owned());
                if code == Some(0) { Outcome::Succeeded } else { Outcome::Failed }
            }
            Err(e) => {
                record(state, job, container, args, None, pid, String::new(), e.to_string());
                Outcome::Failed
            }
        },
        () = sleep => {
            // Dropping the wait future drops the child: kill_on_drop sends SIGKILL to its PID.
            record(state, job, container, args, None, pid, String::new(), "killed: activeDeadlineSeconds exceeded".into());
            Outcome::DeadlineExceeded
        },
        () = cancel.notified() => {
            record(state, job, container, args, None, pid, String::new(), "killed: Job deleted".into());
            Outcome::Cancelled
        },
    }
}

// One field per JobRun column (the lint was allowed crate-wide in kube-sim).
#[allow(clippy::too_many_arguments)]
fn record(
    state: &State,
    job: &Value,
    container: &Value,
    args: Vec<String>,
    exit_code: Option<i32>,
    pid: Option<u32>,
    stdout: String,
    stderr: String,
) {
    lock(&state.runs).push(JobRun {
        namespace: str_at(job, "/metadata/namespace").to_string(),
        job: str_at(job, "/metadata/name").to_string(),
        container: str_at(container, "/name").to_string(),
        args,
        exit_code,
        stdout,
        stderr,
        pid,
    });
}

fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

/// GET the Job, change its status, PUT it to the status subresource; retry on conflicts.
fn write_status(
    api: &Arc<dyn Api>,
    namespace: &str,
    name: &str,
    uid: &str,
    change: impl Fn(&mut serde_json::Map<String, Value>),
) {
    let actor = Actor(ACTOR.to_string());
    for _ in 0..10 {
        let Ok(mut job) = api.get(&actor, &jobs_gvk(), Some(namespace), name) else {
            return;
        };
        if str_at(&job, "/metadata/uid") != uid {
            return;
        }
        if !job.get("status").is_some_and(Value::is_object) {
            job["status"] = json!({});
        }
        if let Some(status) = job.get_mut("status").and_then(Value::as_object_mut) {
            change(status);
        }
        match api.update_status(&actor, job) {
            Err(e) if e.code == 409 => continue,
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::image_repository;

    #[test]
    fn image_repository_strips_tag_and_digest() {
        assert_eq!(
            image_repository("registry.k8s.io/kubectl:v1.35.2"),
            "registry.k8s.io/kubectl"
        );
        assert_eq!(
            image_repository("registry.k8s.io/kubectl@sha256:ab"),
            "registry.k8s.io/kubectl"
        );
        assert_eq!(
            image_repository("r:5000/kubectl:v1@sha256:ab"),
            "r:5000/kubectl"
        );
        assert_eq!(image_repository("r:5000/kubectl"), "r:5000/kubectl");
        assert_eq!(image_repository("kubectl"), "kubectl");
    }
}
