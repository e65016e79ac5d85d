//! The Helm subprocess edge: `get manifest`, `get hooks`, `uninstall`.
//!
//! Helm runs a CLI plugin with `HELM_BIN` set to the word the user typed
//! (`helm`, `./helm4`), so the binary is resolved here: a path with a
//! separator is taken as is, a bare name is looked up in `PATH`. Namespace and
//! context are passed as flags, the other connection inputs as the `HELM_KUBE*`
//! variables and `KUBECONFIG` ([`HelmCli::with_env`]), so Helm reaches the
//! cluster this plugin reaches.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use tokio::process::Command;

/// Errors of the Helm edge.
#[derive(Debug, thiserror::Error)]
pub enum HelmError {
    /// The binary could not be found.
    #[error("cannot find the Helm binary `{0}` (set HELM_BIN or put helm on PATH)")]
    NotFound(String),
    /// The binary could not be started.
    #[error("cannot run {bin}: {source}")]
    Spawn {
        /// The binary.
        bin: String,
        /// Why.
        source: std::io::Error,
    },
    /// Helm did not finish in time; it was killed.
    #[error("`helm {args}` did not finish within {}; it was stopped", crate::duration::format_duration(*after))]
    TimedOut {
        /// The arguments.
        args: String,
        /// The deadline.
        after: std::time::Duration,
    },
    /// The API server refused one of Helm's requests (403).
    #[error(
        "missing permission: `helm {args}` was refused: {stderr} (Helm reads and writes the release record as \
         Secrets of the release namespace; README \"Permissions\" lists what each command needs)"
    )]
    Forbidden {
        /// The arguments.
        args: String,
        /// Helm's stderr, trimmed.
        stderr: String,
    },
    /// Helm exited non-zero.
    #[error("`helm {args}` failed: {stderr}")]
    Failed {
        /// The arguments.
        args: String,
        /// Helm's stderr, trimmed.
        stderr: String,
    },
}

/// A resolved Helm binary with the release's namespace and context.
#[derive(Clone, Debug)]
pub struct HelmCli {
    /// Absolute path of the binary.
    pub bin: PathBuf,
    /// `--namespace`.
    pub namespace: String,
    /// `--kube-context`, if any.
    pub kube_context: Option<String>,
    /// Environment variables set on every Helm process (the connection inputs).
    pub env: Vec<(&'static str, String)>,
    /// How long one Helm process may run before it is killed.
    pub deadline: std::time::Duration,
}

/// Default deadline of one Helm process (see [`HelmCli::with_deadline`]).
pub const DEADLINE: std::time::Duration = std::time::Duration::from_secs(300);

/// The output of a finished Helm run.
#[derive(Clone, Debug)]
pub struct HelmRun {
    /// Exit code (-1 when killed by a signal).
    pub status: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl HelmCli {
    /// Resolve `HELM_BIN` (default `helm`) against `PATH`.
    pub fn resolve(
        helm_bin: Option<&str>,
        namespace: &str,
        kube_context: Option<&str>,
    ) -> Result<Self, HelmError> {
        let word = helm_bin.filter(|s| !s.is_empty()).unwrap_or("helm");
        let bin = resolve_binary(word, std::env::var_os("PATH"))
            .ok_or_else(|| HelmError::NotFound(word.to_string()))?;
        Ok(Self {
            bin,
            namespace: namespace.to_string(),
            kube_context: kube_context.filter(|c| !c.is_empty()).map(str::to_string),
            env: Vec::new(),
            deadline: DEADLINE,
        })
    }

    /// Kill a Helm process that runs longer than `deadline`.
    pub fn with_deadline(mut self, deadline: std::time::Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Set these variables on every Helm process.
    pub fn with_env(mut self, env: Vec<(&'static str, String)>) -> Self {
        self.env = env;
        self
    }

    /// The global flags every call gets.
    fn global_args(&self) -> Vec<String> {
        let mut args = vec!["--namespace".to_string(), self.namespace.clone()];
        if let Some(ctx) = &self.kube_context {
            args.push("--kube-context".to_string());
            args.push(ctx.clone());
        }
        args
    }

    /// Run Helm with `args` (global flags appended), killing it at the
    /// deadline or when this future is dropped (the run was interrupted).
    pub async fn run(&self, args: &[String]) -> Result<HelmRun, HelmError> {
        let mut all = args.to_vec();
        all.extend(self.global_args());
        let running = Command::new(&self.bin)
            .args(&all)
            .envs(self.env.iter().map(|(k, v)| (*k, v)))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(self.deadline, running)
            .await
            .map_err(|_| HelmError::TimedOut {
                args: args.join(" "),
                after: self.deadline,
            })?
            .map_err(|source| HelmError::Spawn {
                bin: self.bin.display().to_string(),
                source,
            })?;
        Ok(HelmRun {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// `helm get manifest RELEASE`; `None` when the release does not exist.
    pub async fn get_manifest(&self, release: &str) -> Result<Option<String>, HelmError> {
        self.get("manifest", release).await
    }

    /// `helm get hooks RELEASE`; `None` when the release does not exist.
    pub async fn get_hooks(&self, release: &str) -> Result<Option<String>, HelmError> {
        self.get("hooks", release).await
    }

    async fn get(&self, what: &str, release: &str) -> Result<Option<String>, HelmError> {
        let args = vec!["get".to_string(), what.to_string(), release.to_string()];
        let run = self.run(&args).await?;
        if run.status == 0 {
            Ok(Some(run.stdout))
        } else if is_release_not_found(&run.stderr) {
            Ok(None)
        } else {
            Err(failed(args.join(" "), run.stderr.trim().to_string()))
        }
    }

    /// The argv of `helm uninstall` (global flags included) for display.
    pub fn uninstall_args(&self, release: &str, passthrough: &[String]) -> Vec<String> {
        let mut args = vec!["uninstall".to_string(), release.to_string()];
        args.extend(passthrough.iter().cloned());
        args.extend(self.global_args());
        args
    }

    /// `helm uninstall RELEASE [passthrough]`.
    pub async fn uninstall(
        &self,
        release: &str,
        passthrough: &[String],
    ) -> Result<HelmRun, HelmError> {
        let mut args = vec!["uninstall".to_string(), release.to_string()];
        args.extend(passthrough.iter().cloned());
        self.run(&args).await
    }
}

/// `helm get manifest RELEASE` for synchronous callers (`plan RELEASE`):
/// resolves `HELM_BIN`, uses `HELM_KUBECONTEXT`; fails when the release does not exist.
pub fn release_manifest_blocking(release: &str, namespace: &str) -> Result<String, HelmError> {
    let helm_bin = std::env::var("HELM_BIN").ok();
    let context = std::env::var("HELM_KUBECONTEXT").ok();
    let helm = HelmCli::resolve(helm_bin.as_deref(), namespace, context.as_deref())?;
    let mut args = vec![
        "get".to_string(),
        "manifest".to_string(),
        release.to_string(),
    ];
    args.extend(helm.global_args());
    let output = output_within(
        std::process::Command::new(&helm.bin)
            .args(&args)
            .stdin(std::process::Stdio::null()),
        DEADLINE,
    )
    .map_err(|e| match e {
        RunError::Failed(source) => HelmError::Spawn {
            bin: helm.bin.display().to_string(),
            source,
        },
        RunError::TimedOut => HelmError::TimedOut {
            args: args.join(" "),
            after: DEADLINE,
        },
    })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(failed(
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ))
    }
}

/// A failed Helm run: [`HelmError::Forbidden`] when the API server refused
/// it (client-go's `... is forbidden: User "..." cannot ...`), else
/// [`HelmError::Failed`].
pub fn failed(args: String, stderr: String) -> HelmError {
    if is_forbidden(&stderr) {
        HelmError::Forbidden { args, stderr }
    } else {
        HelmError::Failed { args, stderr }
    }
}

/// Whether Helm's stderr holds an API server's 403 (`... is forbidden: User`).
pub fn is_forbidden(stderr: &str) -> bool {
    stderr.contains(" is forbidden: User ")
}

enum RunError {
    Failed(std::io::Error),
    TimedOut,
}

/// Run `cmd` to the end and collect its output, killing it after `deadline`.
fn output_within(
    cmd: &mut std::process::Command,
    deadline: std::time::Duration,
) -> Result<std::process::Output, RunError> {
    use std::io::Read;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(RunError::Failed)?;
    // Drain both pipes on threads so a chatty Helm cannot block on a full one.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(RunError::Failed)? {
            break status;
        }
        if start.elapsed() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(RunError::TimedOut);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    Ok(std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Whether Helm's stderr says the release does not exist.
pub fn is_release_not_found(stderr: &str) -> bool {
    stderr.contains("release: not found")
}

/// Resolve a command word like a shell does: with a `/` it is a path, else
/// the first executable file of that name in `path`.
pub fn resolve_binary(word: &str, path: Option<OsString>) -> Option<PathBuf> {
    if word.contains(std::path::MAIN_SEPARATOR) || word.contains('/') {
        let p = Path::new(word);
        let abs = if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().ok()?.join(p)
        };
        return is_executable(&abs).then_some(abs);
    }
    std::env::split_paths(&path?)
        .map(|dir| dir.join(word))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_403_is_a_missing_permission_not_a_missing_release() {
        let stderr = "Error: query: failed to query with labels: secrets is forbidden: User \"u\" cannot list \
                      resource \"secrets\" in API group \"\" in the namespace \"ns\"";
        assert!(!is_release_not_found(stderr));
        let e = failed("get manifest r".into(), stderr.into());
        assert!(matches!(e, HelmError::Forbidden { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with("missing permission: `helm get manifest r` was refused")
        );
        let e = failed("get manifest r".into(), "Error: release: not found".into());
        assert!(matches!(e, HelmError::Failed { .. }));
    }

    #[test]
    fn resolves_bare_names_on_path_and_paths_as_given() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("helm4");
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let path = std::env::join_paths([dir.path()]).unwrap();
        assert_eq!(
            resolve_binary("helm4", Some(path.clone())),
            Some(bin.clone())
        );
        assert_eq!(resolve_binary("nope", Some(path)), None);
        assert_eq!(resolve_binary(bin.to_str().unwrap(), None), Some(bin));
    }

    #[test]
    fn uninstall_args_carry_namespace_and_context() {
        let helm = HelmCli {
            bin: "/bin/helm".into(),
            namespace: "ns".into(),
            kube_context: Some("c".into()),
            env: Vec::new(),
            deadline: DEADLINE,
        };
        assert_eq!(
            helm.uninstall_args("r", &["--keep-history".into()]),
            [
                "uninstall",
                "r",
                "--keep-history",
                "--namespace",
                "ns",
                "--kube-context",
                "c"
            ]
        );
        assert!(is_release_not_found("Error: release: not found\n"));
    }
}
