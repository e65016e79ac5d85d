//! A fake GitHub Actions service, as the ARC controller sees it.
//!
//! It keeps the registrations the real service would keep (runner scale sets
//! and their runners, jobs running on runners), can be told to fail, to
//! reject credentials or to lose a scale set, and lets tests assert that
//! nothing leaked (`scale_sets()`, `runners()`, `is_empty()`). The simulated
//! controller reaches it only with [`Credentials`] its secret resolver built
//! from a GitHub config Secret or vault secret. Errors read like those of
//! `github.com/actions/scaleset` v0.4.0 (`errors.go`,
//! `newRequestResponseError`), the client ARC 0.14.2 uses.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Name of the runner group used when a scale set names none.
pub const DEFAULT_RUNNER_GROUP: &str = "Default";

/// Base of the Actions service URLs in error texts.
const ACTIONS_URL: &str = "https://pipelines.actions.githubusercontent.com/kube-sim/_apis/runtime";

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

/// How a client authenticates (no secret values are kept).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// A personal access token, by fingerprint.
    Token {
        /// FNV fingerprint of the token.
        fingerprint: String,
    },
    /// A GitHub App installation.
    App {
        /// `github_app_id` (or client id).
        app_id: String,
        /// `github_app_installation_id`.
        installation_id: i64,
    },
}

/// What the controller's Actions client was built from: the config URL and
/// the credentials its secret resolver read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// `githubConfigUrl` of the resource making the call.
    pub config_url: String,
    /// Token or App.
    pub auth: Auth,
}

fn fingerprint(token: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in token.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

impl Credentials {
    /// A client authenticating with a personal access token.
    pub fn token(config_url: &str, token: &str) -> Self {
        Self {
            config_url: config_url.to_string(),
            auth: Auth::Token {
                fingerprint: fingerprint(token),
            },
        }
    }

    /// A client authenticating as a GitHub App installation.
    pub fn app(config_url: &str, app_id: &str, installation_id: i64) -> Self {
        Self {
            config_url: config_url.to_string(),
            auth: Auth::App {
                app_id: app_id.to_string(),
                installation_id,
            },
        }
    }
}

/// An error of the Actions service client.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GitHubError {
    /// `RemoveRunner` on a runner with a job in progress (`JobStillRunningError`).
    #[error("{message}")]
    JobStillRunning {
        /// The runner.
        runner_id: i64,
        /// Full error text.
        message: String,
    },
    /// Any other failed request: its HTTP status and the full error text.
    #[error("{message}")]
    Http {
        /// HTTP status code.
        status: u16,
        /// Full error text.
        message: String,
    },
}

impl GitHubError {
    /// `true` for the error ARC treats as "runner busy, retry later".
    pub fn is_job_still_running(&self) -> bool {
        matches!(self, GitHubError::JobStillRunning { .. })
    }

    /// HTTP status of the failed request (400 for JobStillRunning).
    pub fn status(&self) -> u16 {
        match self {
            GitHubError::JobStillRunning { .. } => 400,
            GitHubError::Http { status, .. } => *status,
        }
    }
}

/// `Status` text of an HTTP code.
fn status_line(code: u16) -> String {
    let reason = match code {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    };
    format!("{code} {reason}")
}

/// `newRequestResponseError`: `request <M> <URL> failed(status="<s>"): <err>: <detail>`.
fn request_error(method: &str, url: &str, code: u16, err: &str, detail: &str) -> String {
    format!(
        "request {method} {url} failed(status=\"{}\"): {err}: {detail}",
        status_line(code)
    )
}

/// The registration-token endpoint of a config URL (`createRegistrationTokenPath`).
fn registration_token_url(config_url: &str) -> String {
    let (scheme_host, path) = match config_url.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('/') {
            Some((host, path)) => (format!("{scheme}://{host}"), path),
            None => (format!("{scheme}://{rest}"), ""),
        },
        None => (String::new(), config_url),
    };
    let api = if scheme_host == "https://github.com" {
        "https://api.github.com".to_string()
    } else {
        format!("{scheme_host}/api/v3")
    };
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let scoped = match parts.as_slice() {
        ["enterprises", e, ..] => format!("/enterprises/{e}"),
        [org] => format!("/orgs/{org}"),
        [org, repo, ..] => format!("/repos/{org}/{repo}"),
        _ => String::new(),
    };
    format!("{api}{scoped}/actions/runners/registration-token")
}

#[derive(Debug, Default)]
struct State {
    next_id: i64,
    scale_sets: BTreeMap<i64, ScaleSet>,
    runners: BTreeMap<i64, Runner>,
    /// Runners whose job ended: GitHub removed them (ephemeral runners run one job).
    finished_runners: BTreeSet<i64>,
    /// Runner group ids by name (`Default` is 1).
    groups: BTreeMap<String, i64>,
    revoked_tokens: BTreeSet<String>,
    uninstalled_apps: BTreeSet<i64>,
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

    /// The admin-token refresh every call starts with
    /// (`updateTokenIfNeeded`): rejected credentials fail here.
    fn authenticate(&self, creds: &Credentials) -> Result<(), GitHubError> {
        let prefix = "failed to create new actions service request: failed to issue update token if needed: failed to get runner registration token on refresh";
        match &creds.auth {
            Auth::Token { fingerprint } if self.revoked_tokens.contains(fingerprint) => {
                Err(GitHubError::Http {
                    status: 401,
                    message: format!(
                        "{prefix}: {}",
                        request_error(
                            "POST",
                            &registration_token_url(&creds.config_url),
                            401,
                            "failed to get runner registration token (401 Unauthorized)",
                            r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}"#,
                        )
                    ),
                })
            }
            Auth::App {
                installation_id, ..
            } if self.uninstalled_apps.contains(installation_id) => Err(GitHubError::Http {
                status: 404,
                message: format!(
                    "{prefix}: failed to fetch access token: {}",
                    request_error(
                        "POST",
                        &format!(
                            "https://api.github.com/app/installations/{installation_id}/access_tokens"
                        ),
                        404,
                        "failed to get access token for GitHub App auth (404 Not Found)",
                        r#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app","status":"404"}"#,
                    )
                ),
            }),
            _ => Ok(()),
        }
    }

    fn injected(&mut self, method: &str, url: &str) -> Option<GitHubError> {
        let (code, message) = match (&self.fail_all, self.fail_next) {
            (Some((code, message)), _) => (*code, message.clone()),
            (None, n) if n > 0 => {
                self.fail_next -= 1;
                (503, "Service Unavailable".to_string())
            }
            _ => return None,
        };
        Some(GitHubError::Http {
            status: code,
            message: request_error(
                method,
                url,
                code,
                &format!("unexpected status code: {code}"),
                &message,
            ),
        })
    }
}

/// The fake service. Cheap to clone (shared state).
#[derive(Clone, Debug, Default)]
pub struct FakeGitHub {
    state: Arc<Mutex<State>>,
    /// Woken when a job starts or ends (the runner processes react to it).
    jobs_changed: Arc<tokio::sync::Notify>,
}

fn actions_url(path: &str) -> String {
    format!("{ACTIONS_URL}/{path}?api-version=6.0-preview")
}

impl FakeGitHub {
    /// An empty service.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        crate::sync::lock(&self.state)
    }

    /// Notified when a job starts or ends.
    pub(crate) fn jobs_changed(&self) -> Arc<tokio::sync::Notify> {
        self.jobs_changed.clone()
    }

    /// Run one API call: sweep finished jobs, authenticate, apply injected
    /// failures, record it.
    fn call<T>(
        &self,
        creds: &Credentials,
        method: &str,
        http: (&str, String),
        args: String,
        f: impl FnOnce(&mut State, &str) -> Result<T, GitHubError>,
    ) -> Result<T, GitHubError> {
        let mut s = self.lock();
        s.sweep(Instant::now());
        let (verb, url) = http;
        let result = match s.authenticate(creds) {
            Err(e) => Err(e),
            Ok(()) => match s.injected(verb, &url) {
                Some(e) => Err(e),
                None => f(&mut s, &url),
            },
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

    /// `GetRunnerGroupByName` (`Default` is group 1; other names exist on first use).
    fn group_id(s: &mut State, name: &str) -> i64 {
        if name.eq_ignore_ascii_case(DEFAULT_RUNNER_GROUP) {
            return 1;
        }
        let next = 2 + i64::try_from(s.groups.len()).unwrap_or(0);
        *s.groups.entry(name.to_string()).or_insert(next)
    }

    /// `GetRunnerScaleSet`: the scale set with this name in this runner group
    /// of the config URL's scope (so two runner sets with the same name,
    /// group and URL find the same registration).
    pub fn get_runner_scale_set(
        &self,
        creds: &Credentials,
        runner_group: &str,
        name: &str,
    ) -> Result<Option<ScaleSet>, GitHubError> {
        let url = actions_url(&format!("runnerscalesets?name={name}"));
        self.call(
            creds,
            "GetRunnerScaleSet",
            ("GET", url),
            format!("{runner_group}/{name}"),
            |s, _| {
                Self::group_id(s, runner_group);
                Ok(s.scale_sets
                    .values()
                    .find(|ss| {
                        ss.runner_group.eq_ignore_ascii_case(runner_group)
                            && ss.name == name
                            && ss.config_url == creds.config_url
                    })
                    .cloned())
            },
        )
    }

    /// `CreateRunnerScaleSet`.
    pub fn create_runner_scale_set(
        &self,
        creds: &Credentials,
        runner_group: &str,
        name: &str,
    ) -> Result<ScaleSet, GitHubError> {
        self.call(
            creds,
            "CreateRunnerScaleSet",
            ("POST", actions_url("runnerscalesets")),
            format!("{runner_group}/{name}"),
            |s, _| {
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

    /// `UpdateRunnerScaleSet`: move the scale set to another runner group
    /// and/or rename it.
    pub fn update_runner_scale_set(
        &self,
        creds: &Credentials,
        id: i64,
        runner_group: Option<&str>,
        name: Option<&str>,
    ) -> Result<ScaleSet, GitHubError> {
        self.call(
            creds,
            "UpdateRunnerScaleSet",
            ("PATCH", actions_url(&format!("runnerscalesets/{id}"))),
            format!("{id} group={runner_group:?} name={name:?}"),
            |s, url| {
                let Some(ss) = s.scale_sets.get_mut(&id) else {
                    return Err(not_found_scale_set("PATCH", url, id));
                };
                if let Some(g) = runner_group {
                    ss.runner_group = g.to_string();
                }
                if let Some(n) = name {
                    ss.name = n.to_string();
                }
                Ok(ss.clone())
            },
        )
    }

    /// `DeleteRunnerScaleSet` (its runners go with it). Any status but 204 is
    /// an error for the client: an unknown id answers 404.
    pub fn delete_runner_scale_set(&self, creds: &Credentials, id: i64) -> Result<(), GitHubError> {
        self.call(
            creds,
            "DeleteRunnerScaleSet",
            ("DELETE", actions_url(&format!("runnerscalesets/{id}"))),
            id.to_string(),
            |s, url| {
                if s.scale_sets.remove(&id).is_none() {
                    return Err(not_found_scale_set("DELETE", url, id));
                }
                s.runners.retain(|_, r| r.scale_set_id != id);
                Ok(())
            },
        )
    }

    /// `GenerateJitRunnerConfig`: registers a runner in the scale set.
    pub fn generate_jit_runner_config(
        &self,
        creds: &Credentials,
        scale_set_id: i64,
        runner_name: &str,
    ) -> Result<Runner, GitHubError> {
        self.call(
            creds,
            "GenerateJitRunnerConfig",
            (
                "POST",
                actions_url(&format!("runnerscalesets/{scale_set_id}/generatejitconfig")),
            ),
            format!("{scale_set_id}/{runner_name}"),
            |s, url| {
                if !s.scale_sets.contains_key(&scale_set_id) {
                    return Err(not_found_scale_set("POST", url, scale_set_id));
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

    /// `RemoveRunner`: fails with JobStillRunning while a job runs; a runner
    /// that already left (its job ended, or removed before) counts as removed.
    pub fn remove_runner(&self, creds: &Credentials, runner_id: i64) -> Result<(), GitHubError> {
        self.call(
            creds,
            "RemoveRunner",
            ("DELETE", actions_url(&format!("runners/{runner_id}"))),
            runner_id.to_string(),
            |s, url| {
                if s.runners.get(&runner_id).is_some_and(|r| r.job.is_some()) {
                    return Err(GitHubError::JobStillRunning {
                        runner_id,
                        message: request_error(
                            "DELETE",
                            url,
                            400,
                            "job still running",
                            &format!("Runner {runner_id} is currently running a job and cannot be deleted."),
                        ),
                    });
                }
                s.runners.remove(&runner_id);
                Ok(())
            },
        )
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
        let Some(runner) = s.runners.get_mut(&runner_id) else {
            return Err(GitHubError::Http {
                status: 404,
                message: format!("runner {runner_id} not found"),
            });
        };
        runner.job = Some(Job {
            id,
            ends_at: duration.map(|d| Instant::now() + d),
        });
        drop(s);
        self.jobs_changed.notify_one();
        Ok(id)
    }

    /// End the job on a runner now.
    pub fn finish_job(&self, runner_id: i64) {
        let mut s = self.lock();
        if let Some(job) = s.runners.get_mut(&runner_id).and_then(|r| r.job.as_mut()) {
            job.ends_at = Some(Instant::now());
        }
        s.sweep(Instant::now());
        drop(s);
        self.jobs_changed.notify_one();
    }

    /// Every call fails with this status and message (`None` heals the service).
    pub fn fail_all(&self, failure: Option<(u16, &str)>) {
        self.lock().fail_all = failure.map(|(c, m)| (c, m.to_string()));
    }

    /// The next `n` calls fail with 503.
    pub fn fail_next(&self, n: u32) {
        self.lock().fail_next = n;
    }

    /// The personal access token is revoked: every call made with it fails
    /// with 401 Bad credentials (at the registration-token refresh). The
    /// real client keeps its admin token for up to an hour; here the
    /// revocation takes effect at once.
    pub fn revoke_token(&self, token: &str) {
        self.lock().revoked_tokens.insert(fingerprint(token));
    }

    /// The GitHub App installation is removed: calls with it fail (404 on
    /// the installation access token).
    pub fn uninstall_app(&self, installation_id: i64) {
        self.lock().uninstalled_apps.insert(installation_id);
    }

    /// Undo [`FakeGitHub::revoke_token`] and [`FakeGitHub::uninstall_app`].
    pub fn restore_credentials(&self) {
        let mut s = self.lock();
        s.revoked_tokens.clear();
        s.uninstalled_apps.clear();
    }

    /// Someone deletes the scale set on GitHub behind the controller's back
    /// (its runners go with it). Returns it if it existed.
    pub fn delete_scale_set(&self, id: i64) -> Option<ScaleSet> {
        let mut s = self.lock();
        let gone = s.scale_sets.remove(&id);
        if gone.is_some() {
            s.runners.retain(|_, r| r.scale_set_id != id);
        }
        gone
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

/// A 404 for a scale set id (the exception name is this model's).
fn not_found_scale_set(method: &str, url: &str, id: i64) -> GitHubError {
    GitHubError::Http {
        status: 404,
        message: request_error(
            method,
            url,
            404,
            "unexpected status code: 404",
            &format!("RunnerScaleSetNotFoundException: Runner scale set {id} not found."),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials::token("https://github.com/o/r", "tok")
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
        let busy = gh.remove_runner(&c, r.id).unwrap_err();
        assert!(busy.is_job_still_running());
        assert!(
            busy.to_string()
                .contains("failed(status=\"400 Bad Request\"): job still running: ")
        );
        gh.finish_job(r.id);
        assert!(gh.runner_finished(r.id));
        gh.remove_runner(&c, r.id).unwrap();
        gh.delete_runner_scale_set(&c, ss.id).unwrap();
        assert!(gh.is_empty());
        let gone = gh.delete_runner_scale_set(&c, ss.id).unwrap_err();
        assert_eq!(gone.status(), 404);
        assert!(gone.to_string().starts_with(&format!(
            "request DELETE https://pipelines.actions.githubusercontent.com/kube-sim/_apis/runtime/runnerscalesets/{}?api-version=6.0-preview failed(status=\"404 Not Found\"): unexpected status code: 404: ",
            ss.id
        )));
    }

    #[test]
    fn injected_failures_are_counted_and_recorded() {
        let gh = FakeGitHub::new();
        gh.fail_next(1);
        assert!(gh.get_runner_scale_set(&creds(), "Default", "x").is_err());
        assert!(gh.get_runner_scale_set(&creds(), "Default", "x").is_ok());
        gh.fail_all(Some((503, "Service Unavailable")));
        let e = gh
            .create_runner_scale_set(&creds(), "Default", "x")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "request POST https://pipelines.actions.githubusercontent.com/kube-sim/_apis/runtime/runnerscalesets?api-version=6.0-preview failed(status=\"503 Service Unavailable\"): unexpected status code: 503: Service Unavailable"
        );
        assert_eq!(gh.calls().len(), 3);
        assert!(gh.scale_sets().is_empty());
    }

    #[test]
    fn a_revoked_token_fails_every_call_with_401_until_restored() {
        let gh = FakeGitHub::new();
        let ss = gh
            .create_runner_scale_set(&creds(), "Default", "x")
            .unwrap();
        gh.revoke_token("tok");
        let e = gh.delete_runner_scale_set(&creds(), ss.id).unwrap_err();
        assert_eq!(e.status(), 401);
        assert!(e.to_string().contains(
            "request POST https://api.github.com/repos/o/r/actions/runners/registration-token failed(status=\"401 Unauthorized\")"
        ));
        assert!(e.to_string().contains("Bad credentials"));
        let other = Credentials::token("https://github.com/o/r", "other");
        assert!(gh.get_runner_scale_set(&other, "Default", "x").is_ok());
        gh.restore_credentials();
        gh.delete_runner_scale_set(&creds(), ss.id).unwrap();
    }

    #[test]
    fn an_uninstalled_app_cannot_get_an_access_token() {
        let gh = FakeGitHub::new();
        let app = Credentials::app("https://github.com/o", "123", 456);
        gh.uninstall_app(456);
        let e = gh.get_runner_scale_set(&app, "Default", "x").unwrap_err();
        assert!(e.to_string().contains(
            "failed to fetch access token: request POST https://api.github.com/app/installations/456/access_tokens failed(status=\"404 Not Found\")"
        ));
    }

    #[test]
    fn scale_sets_are_found_by_name_group_and_url() {
        let gh = FakeGitHub::new();
        let ss = gh
            .create_runner_scale_set(&creds(), "Default", "x")
            .unwrap();
        let found = gh.get_runner_scale_set(&creds(), "default", "x").unwrap();
        assert_eq!(found, Some(ss.clone()), "the same registration is shared");
        let org = Credentials::token("https://github.com/o", "tok");
        assert_eq!(gh.get_runner_scale_set(&org, "Default", "x").unwrap(), None);
        assert_eq!(gh.delete_scale_set(ss.id), Some(ss));
        assert!(gh.scale_sets().is_empty());
    }

    #[test]
    fn registration_token_urls_follow_the_config_scope() {
        assert_eq!(
            registration_token_url("https://github.com/o"),
            "https://api.github.com/orgs/o/actions/runners/registration-token"
        );
        assert_eq!(
            registration_token_url("https://ghe.example/enterprises/e"),
            "https://ghe.example/api/v3/enterprises/e/actions/runners/registration-token"
        );
    }
}
