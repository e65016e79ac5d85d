//! A fake GitHub Actions service, as the ARC controller sees it.
//!
//! It keeps the registrations the real service would keep (runner scale sets
//! and their runners, jobs running on runners), can be told to fail, and lets
//! tests assert that nothing leaked (`scale_sets()`, `runners()`,
//! `is_empty()`). The simulated controller reaches it only with credentials
//! read from the GitHub config Secret ([`Credentials::from_secret`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Name of the runner group used when a scale set names none.
pub const DEFAULT_RUNNER_GROUP: &str = "Default";

/// A registered runner scale set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScaleSet {
    /// Scale set id (the ARS annotation `runner-scale-set-id`).
    pub id: i64,
    /// Scale set name.
    pub name: String,
    /// Runner group name.
    pub runner_group: String,
    /// `githubConfigUrl` it was registered for.
    pub config_url: String,
}

/// A job running on a runner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// Job id.
    pub id: i64,
    /// When the job ends by itself; `None` = until [`FakeGitHub::finish_job`].
    pub ends_at: Option<Instant>,
}

/// A registered (JIT-configured) runner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Runner {
    /// Runner id (EphemeralRunner `status.runnerId`).
    pub id: i64,
    /// Runner name (the EphemeralRunner name).
    pub name: String,
    /// Scale set the runner belongs to.
    pub scale_set_id: i64,
    /// The job it is running, if any.
    pub job: Option<Job>,
}

/// One call made to the service, for assertions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// Method name, for example `DeleteRunnerScaleSet`.
    pub method: String,
    /// Short argument description.
    pub args: String,
    /// `None` on success, the error text otherwise.
    pub error: Option<String>,
}

/// Credentials taken from the GitHub config Secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// `githubConfigUrl` of the resource making the call.
    pub config_url: String,
}

/// Errors the Actions service returns.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GitHubError {
    /// `RemoveRunner` on a runner with a job in progress.
    #[error("JobStillRunningException: runner {runner_id} is still running a job")]
    JobStillRunning {
        /// The runner.
        runner_id: i64,
    },
    /// An object the call named does not exist.
    #[error("actions error: StatusCode 404, {0}")]
    NotFound(String),
    /// The secret holds no usable credentials.
    #[error("{0}")]
    Credentials(String),
    /// Injected failure (the service is down or rejects the token).
    #[error("actions error: StatusCode {code}, {message}")]
    Injected {
        /// HTTP status code.
        code: u16,
        /// Message.
        message: String,
    },
}

impl GitHubError {
    /// `true` for the error ARC treats as "runner busy, retry later".
    pub fn is_job_still_running(&self) -> bool {
        matches!(self, GitHubError::JobStillRunning { .. })
    }
}

impl Credentials {
    /// Read credentials from a Secret object (as returned by the API):
    /// `github_token`, or the three `github_app_*` keys. Values are not kept.
    pub fn from_secret(secret: &Value, config_url: &str) -> Result<Self, GitHubError> {
        let has = |k: &str| {
            secret
                .pointer(&format!("/data/{k}"))
                .or_else(|| secret.pointer(&format!("/stringData/{k}")))
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        };
        let app = [
            "github_app_id",
            "github_app_installation_id",
            "github_app_private_key",
        ];
        if has("github_token") || app.iter().all(|k| has(k)) {
            Ok(Self {
                config_url: config_url.to_string(),
            })
        } else {
            Err(GitHubError::Credentials(
                "failed to get actions client: github_token or github_app_id, github_app_installation_id and github_app_private_key are required".to_string(),
            ))
        }
    }
}

#[derive(Debug, Default)]
struct State {
    next_id: i64,
    scale_sets: BTreeMap<i64, ScaleSet>,
    runners: BTreeMap<i64, Runner>,
    /// Runners whose job ended: GitHub removed them (ephemeral runners run one job).
    finished_runners: BTreeSet<i64>,
    fail_all: Option<(u16, String)>,
    fail_next: u32,
    calls: Vec<Call>,
}

impl State {
    fn id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// Jobs past their end time finish; their ephemeral runners leave.
    fn sweep(&mut self, now: Instant) {
        let ended: Vec<i64> = self
            .runners
            .values()
            .filter(|r| {
                r.job
                    .as_ref()
                    .and_then(|j| j.ends_at)
                    .is_some_and(|t| t <= now)
            })
            .map(|r| r.id)
            .collect();
        for id in ended {
            self.runners.remove(&id);
            self.finished_runners.insert(id);
        }
    }

    fn injected(&mut self) -> Option<GitHubError> {
        if let Some((code, message)) = &self.fail_all {
            return Some(GitHubError::Injected {
                code: *code,
                message: message.clone(),
            });
        }
        if self.fail_next > 0 {
            self.fail_next -= 1;
            return Some(GitHubError::Injected {
                code: 503,
                message: "Service Unavailable".to_string(),
            });
        }
        None
    }
}

/// The fake service. Cheap to clone (shared state).
#[derive(Clone, Debug, Default)]
pub struct FakeGitHub {
    state: Arc<Mutex<State>>,
}

impl FakeGitHub {
    /// An empty service.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }

    /// Run one API call: sweep finished jobs, apply injected failures, record it.
    fn call<T>(
        &self,
        method: &str,
        args: String,
        f: impl FnOnce(&mut State) -> Result<T, GitHubError>,
    ) -> Result<T, GitHubError> {
        let mut s = self.lock();
        s.sweep(Instant::now());
        let result = match s.injected() {
            Some(e) => Err(e),
            None => f(&mut s),
        };
        let error = result.as_ref().err().map(ToString::to_string);
        s.calls.push(Call {
            method: method.to_string(),
            args,
            error,
        });
        result
    }

    // ---- the API the controller uses -------------------------------------------------

    /// `GetRunnerScaleSet`: the scale set with this name in this runner group.
    pub fn get_runner_scale_set(
        &self,
        creds: &Credentials,
        runner_group: &str,
        name: &str,
    ) -> Result<Option<ScaleSet>, GitHubError> {
        self.call("GetRunnerScaleSet", format!("{runner_group}/{name}"), |s| {
            Ok(s.scale_sets
                .values()
                .find(|ss| {
                    ss.runner_group == runner_group
                        && ss.name == name
                        && ss.config_url == creds.config_url
                })
                .cloned())
        })
    }

    /// `CreateRunnerScaleSet`.
    pub fn create_runner_scale_set(
        &self,
        creds: &Credentials,
        runner_group: &str,
        name: &str,
    ) -> Result<ScaleSet, GitHubError> {
        self.call(
            "CreateRunnerScaleSet",
            format!("{runner_group}/{name}"),
            |s| {
                let id = s.id();
                let ss = ScaleSet {
                    id,
                    name: name.to_string(),
                    runner_group: runner_group.to_string(),
                    config_url: creds.config_url.clone(),
                };
                s.scale_sets.insert(id, ss.clone());
                Ok(ss)
            },
        )
    }

    /// `DeleteRunnerScaleSet` (its runners go with it). Unknown id: 404 error, as the real client.
    pub fn delete_runner_scale_set(
        &self,
        _creds: &Credentials,
        id: i64,
    ) -> Result<(), GitHubError> {
        self.call("DeleteRunnerScaleSet", id.to_string(), |s| {
            if s.scale_sets.remove(&id).is_none() {
                return Err(GitHubError::NotFound(format!(
                    "runner scale set {id} not found"
                )));
            }
            s.runners.retain(|_, r| r.scale_set_id != id);
            Ok(())
        })
    }

    /// `GenerateJitRunnerConfig`: registers a runner in the scale set.
    pub fn generate_jit_runner_config(
        &self,
        _creds: &Credentials,
        scale_set_id: i64,
        runner_name: &str,
    ) -> Result<Runner, GitHubError> {
        self.call(
            "GenerateJitRunnerConfig",
            format!("{scale_set_id}/{runner_name}"),
            |s| {
                if !s.scale_sets.contains_key(&scale_set_id) {
                    return Err(GitHubError::NotFound(format!(
                        "runner scale set {scale_set_id} not found"
                    )));
                }
                if let Some(r) = s
                    .runners
                    .values()
                    .find(|r| r.name == runner_name && r.scale_set_id == scale_set_id)
                {
                    return Ok(r.clone());
                }
                let id = s.id();
                let r = Runner {
                    id,
                    name: runner_name.to_string(),
                    scale_set_id,
                    job: None,
                };
                s.runners.insert(id, r.clone());
                Ok(r)
            },
        )
    }

    /// `RemoveRunner`: fails with JobStillRunning while a job runs; an unknown
    /// runner counts as removed.
    pub fn remove_runner(&self, _creds: &Credentials, runner_id: i64) -> Result<(), GitHubError> {
        self.call("RemoveRunner", runner_id.to_string(), |s| {
            if s.runners.get(&runner_id).is_some_and(|r| r.job.is_some()) {
                return Err(GitHubError::JobStillRunning { runner_id });
            }
            s.runners.remove(&runner_id);
            Ok(())
        })
    }

    // ---- what the runner/listener side knows (no failure injection) ----------------

    /// The job a runner is running now (after sweeping ended jobs).
    pub fn running_job(&self, runner_id: i64) -> Option<Job> {
        let mut s = self.lock();
        s.sweep(Instant::now());
        s.runners.get(&runner_id).and_then(|r| r.job.clone())
    }

    /// `true` once the runner finished a job (it left the service by itself).
    pub fn runner_finished(&self, runner_id: i64) -> bool {
        let mut s = self.lock();
        s.sweep(Instant::now());
        s.finished_runners.contains(&runner_id)
    }

    // ---- test controls ------------------------------------------------------------

    /// Assign a job to a registered runner; it ends after `duration` (or at
    /// [`FakeGitHub::finish_job`] when `None`). Returns the job id.
    pub fn start_job(
        &self,
        runner_id: i64,
        duration: Option<Duration>,
    ) -> Result<i64, GitHubError> {
        let mut s = self.lock();
        s.sweep(Instant::now());
        let id = s.id();
        let runner = s
            .runners
            .get_mut(&runner_id)
            .ok_or_else(|| GitHubError::NotFound(format!("runner {runner_id} not found")))?;
        runner.job = Some(Job {
            id,
            ends_at: duration.map(|d| Instant::now() + d),
        });
        Ok(id)
    }

    /// End the job on a runner now.
    pub fn finish_job(&self, runner_id: i64) {
        let mut s = self.lock();
        if let Some(job) = s.runners.get_mut(&runner_id).and_then(|r| r.job.as_mut()) {
            job.ends_at = Some(Instant::now());
        }
        s.sweep(Instant::now());
    }

    /// Every call fails with this status and message (`None` heals the service).
    pub fn fail_all(&self, failure: Option<(u16, &str)>) {
        self.lock().fail_all = failure.map(|(c, m)| (c, m.to_string()));
    }

    /// The next `n` calls fail with 503.
    pub fn fail_next(&self, n: u32) {
        self.lock().fail_next = n;
    }

    /// Register a scale set directly (for example one leaked by an earlier run).
    pub fn add_scale_set(&self, name: &str, runner_group: &str, config_url: &str) -> ScaleSet {
        let mut s = self.lock();
        let id = s.id();
        let ss = ScaleSet {
            id,
            name: name.to_string(),
            runner_group: runner_group.to_string(),
            config_url: config_url.to_string(),
        };
        s.scale_sets.insert(id, ss.clone());
        ss
    }

    // ---- queries for assertions ---------------------------------------------------

    /// Registered scale sets, by id.
    pub fn scale_sets(&self) -> Vec<ScaleSet> {
        self.lock().scale_sets.values().cloned().collect()
    }

    /// Registered runners, by id.
    pub fn runners(&self) -> Vec<Runner> {
        let mut s = self.lock();
        s.sweep(Instant::now());
        s.runners.values().cloned().collect()
    }

    /// No scale set and no runner registered: nothing leaked.
    pub fn is_empty(&self) -> bool {
        self.scale_sets().is_empty() && self.runners().is_empty()
    }

    /// Every call made so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn creds() -> Credentials {
        Credentials::from_secret(
            &json!({"data": {"github_token": "dG9r"}}),
            "https://github.com/o/r",
        )
        .unwrap()
    }

    #[test]
    fn credentials_need_a_token_or_a_complete_app() {
        assert!(Credentials::from_secret(&json!({"data": {}}), "u").is_err());
        assert!(
            Credentials::from_secret(&json!({"data": {"github_app_id": "MQ=="}}), "u").is_err()
        );
        let app = json!({"data": {"github_app_id": "MQ==", "github_app_installation_id": "Mg==", "github_app_private_key": "aw=="}});
        assert!(Credentials::from_secret(&app, "u").is_ok());
    }

    #[test]
    fn busy_runner_cannot_be_removed_until_its_job_ends() {
        let gh = FakeGitHub::new();
        let c = creds();
        let ss = gh
            .create_runner_scale_set(&c, DEFAULT_RUNNER_GROUP, "set")
            .unwrap();
        let r = gh
            .generate_jit_runner_config(&c, ss.id, "set-abc-runner-x")
            .unwrap();
        gh.start_job(r.id, None).unwrap();
        assert!(
            gh.remove_runner(&c, r.id)
                .unwrap_err()
                .is_job_still_running()
        );
        gh.finish_job(r.id);
        assert!(gh.runner_finished(r.id));
        gh.remove_runner(&c, r.id).unwrap();
        gh.delete_runner_scale_set(&c, ss.id).unwrap();
        assert!(gh.is_empty());
        assert!(matches!(
            gh.delete_runner_scale_set(&c, ss.id),
            Err(GitHubError::NotFound(_))
        ));
    }

    #[test]
    fn injected_failures_are_counted_and_recorded() {
        let gh = FakeGitHub::new();
        gh.fail_next(1);
        assert!(gh.get_runner_scale_set(&creds(), "Default", "x").is_err());
        assert!(gh.get_runner_scale_set(&creds(), "Default", "x").is_ok());
        gh.fail_all(Some((401, "Bad credentials")));
        let e = gh
            .create_runner_scale_set(&creds(), "Default", "x")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "actions error: StatusCode 401, Bad credentials"
        );
        assert_eq!(gh.calls().len(), 3);
        assert!(gh.scale_sets().is_empty());
    }
}
