//! `doctor [RELEASE | --all]`: read a snapshot of ARC's objects, print what is
//! stuck and why with the fix command for each; `--fix` applies only the
//! provably safe fixes (the upgrade trap). Exit codes: 0 clean, 2 problems
//! found, 3 refused (a safe fix found its object changed and did not patch it).

use crate::doctor::{self, Finding, FindingKind, Snapshot};
use crate::exit::{self, Code};
use crate::kube::Patched;
use crate::model::ObjectId;
use crate::outcome::Outcome;
use crate::teardown::observe;
use anyhow::Context;
use serde::Serialize;

/// Arguments of `doctor`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only findings about this release (controller findings always show).
    #[arg(value_name = "RELEASE", conflicts_with = "all")]
    pub release: Option<String>,

    /// Every namespace (default: the release namespace, `-n`).
    #[arg(long, short = 'A', visible_alias = "all-namespaces")]
    pub all: bool,

    /// Namespace (Helm passes `-n` as HELM_NAMESPACE).
    #[arg(short = 'n', long, env = "HELM_NAMESPACE")]
    pub namespace: Option<String>,

    /// How to reach the cluster (Helm's `--kube-*` flags, as Helm passes them).
    #[command(flatten)]
    pub connection: super::connection::ConnectionArgs,

    /// Apply the provably safe fixes (the upgrade trap); print the others.
    #[arg(long)]
    pub fix: bool,

    /// Seconds an object may be Terminating, with a controller available, before it counts as stuck.
    #[arg(long, default_value_t = doctor::DEFAULT_STUCK_AFTER_SECONDS)]
    pub stuck_after: i64,

    /// Output: text or one JSON document.
    #[arg(short = 'o', long, value_enum, default_value_t = super::uninstall::OutputArg::Text)]
    pub output: super::uninstall::OutputArg,
}

/// One applied (or refused) safe fix.
#[derive(Debug, Serialize)]
struct Applied {
    object: String,
    result: &'static str,
}

#[derive(Debug, Serialize)]
struct JsonReport<'a> {
    scope: String,
    /// `server`, `context`, `user`, `as_user`, `as_groups`: where and as whom it read.
    #[serde(flatten)]
    target: &'a crate::kube::connection::Target,
    findings: &'a [Finding],
    fixed: &'a [Applied],
    exit_code: i32,
}

/// Run `doctor`.
pub fn run(args: Args) -> anyhow::Result<Code> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(run_async(&args))
}

async fn run_async(args: &Args) -> anyhow::Result<Code> {
    let cluster = args.connection.connect().await?;
    let namespace = match args.namespace.as_deref().filter(|n| !n.is_empty()) {
        Some(ns) => ns.to_string(),
        None => cluster.default_namespace().to_string(),
    };
    let scope = (!args.all).then_some(namespace.as_str());
    let snapshot = observe::doctor_snapshot(&cluster, scope, args.stuck_after)
        .await
        .context("read the cluster")?;
    let mut findings = doctor::diagnose(&snapshot);
    if let Some(release) = &args.release {
        findings = doctor::for_release(findings, release);
    }

    let mut fixed = Vec::new();
    if args.fix {
        for finding in findings.iter().filter(|f| f.safe_patch.is_some()) {
            let Some(id) = find_id(&snapshot, &finding.object) else {
                continue;
            };
            let Some(patch) = &finding.safe_patch else {
                continue;
            };
            let result = match cluster
                .json_patch(&id, patch)
                .await
                .with_context(|| format!("patch {}", finding.object))?
            {
                Patched::Applied(_) | Patched::NotFound => FIXED,
                Patched::Conflict => REFUSED,
            };
            fixed.push(Applied {
                object: finding.object.clone(),
                result,
            });
        }
    }
    let code = outcome(&findings, &fixed);

    let scope_text = match (&args.release, args.all) {
        (Some(r), _) => format!("release {r} in {namespace}"),
        (None, true) => "all namespaces".to_string(),
        (None, false) => format!("namespace {namespace}"),
    };
    let text = if args.output == super::uninstall::OutputArg::Json {
        let report = JsonReport {
            scope: scope_text,
            target: cluster.target(),
            findings: &findings,
            fixed: &fixed,
            exit_code: code.code() as i32,
        };
        format!(
            "{}\n",
            serde_json::to_string_pretty(&report).context("serialize the report")?
        )
    } else {
        let scope = format!("{scope_text} on {}", cluster.target().describe());
        render_text(&scope, &findings, &fixed, args.fix)
    };
    exit::write_stdout(text.as_bytes())?;
    Ok(code.code())
}

/// [`Applied::result`] of a fix the server took.
const FIXED: &str = "fixed";
/// [`Applied::result`] of a fix the server turned down: the JSON patch's
/// `test` of the resourceVersion failed, so the object changed since the snapshot.
const REFUSED: &str = "refused: the object changed since it was read; run doctor again";

/// How a run ended: a refused fix wins; else a success when every finding
/// was fixed, problems found otherwise.
fn outcome(findings: &[Finding], fixed: &[Applied]) -> Outcome {
    if fixed.iter().any(|a| a.result == REFUSED) {
        return Outcome::Refused;
    }
    let left = findings.iter().any(|f| {
        !fixed
            .iter()
            .any(|a| a.object == f.object && a.result == FIXED)
    });
    if left {
        Outcome::ProblemsFound
    } else {
        Outcome::Success
    }
}

fn render_text(scope: &str, findings: &[Finding], fixed: &[Applied], fix: bool) -> String {
    let mut out = String::new();
    if findings.is_empty() {
        out.push_str(&format!("doctor ({scope}): no problems found\n"));
        return out;
    }
    out.push_str(&format!(
        "doctor ({scope}): {} problem(s)\n",
        findings.len()
    ));
    for f in findings {
        out.push_str(&format!("\n[{}] {}\n", kind_name(f.kind), f.object));
        if let Some(r) = &f.release {
            out.push_str(&format!("  release: {r}\n"));
        }
        if !f.finalizers.is_empty() {
            out.push_str(&format!("  finalizers: {}\n", f.finalizers.join(", ")));
        }
        if let Some(o) = &f.owner {
            out.push_str(&format!("  removed by: {o}\n"));
        }
        out.push_str(&format!("  {}\n", f.message));
        match fixed.iter().find(|a| a.object == f.object) {
            Some(a) => out.push_str(&format!("  --fix: {}\n", a.result)),
            None => {
                out.push_str(&format!("  fix: {}\n", f.fix));
                if f.safe_patch.is_some() && !fix {
                    out.push_str("  (safe: `doctor --fix` applies it)\n");
                }
            }
        }
    }
    out
}

fn kind_name(kind: FindingKind) -> &'static str {
    match kind {
        FindingKind::ControllerMissing => "controller missing",
        FindingKind::ControllerUnavailable => "controller unavailable",
        FindingKind::StuckTerminating => "stuck Terminating",
        FindingKind::UpgradeTrap => "upgrade trap",
        FindingKind::OrphanedListenerRbac => "orphaned listener RBAC",
        FindingKind::OrphanedListener => "orphaned listener",
        FindingKind::StaleListener => "stale listener",
        FindingKind::VersionSkew => "version skew",
    }
}

fn find_id(snapshot: &Snapshot, object: &str) -> Option<ObjectId> {
    snapshot
        .others
        .iter()
        .find(|l| l.id.to_string() == object)
        .map(|l| l.id.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arc;

    fn trap(object: &str) -> Finding {
        Finding {
            kind: FindingKind::UpgradeTrap,
            object: object.to_string(),
            release: Some("set".to_string()),
            finalizers: vec![arc::CLEANUP_PROTECTION.to_string()],
            owner: None,
            message: "stays Terminating forever".to_string(),
            fix: "kubectl patch ...".to_string(),
            safe_patch: Some(serde_json::json!([])),
        }
    }

    fn applied(object: &str, result: &'static str) -> Applied {
        Applied {
            object: object.to_string(),
            result,
        }
    }

    #[test]
    fn a_refused_fix_exits_3_even_when_nothing_else_is_left() {
        let findings = [trap("Role/runners/a"), trap("RoleBinding/runners/a")];
        let fixed = [
            applied("Role/runners/a", REFUSED),
            applied("RoleBinding/runners/a", FIXED),
        ];
        assert_eq!(outcome(&findings, &fixed), Outcome::Refused);
        assert_eq!(Outcome::Refused.code() as u8, 4);
        assert_eq!(Outcome::ProblemsFound.code() as u8, 5);
    }

    #[test]
    fn fixed_findings_are_clean_and_the_rest_are_problems() {
        let findings = [trap("Role/runners/a"), trap("RoleBinding/runners/a")];
        assert_eq!(outcome(&[], &[]), Outcome::Success);
        assert_eq!(outcome(&findings, &[]), Outcome::ProblemsFound);
        let both = [
            applied("Role/runners/a", FIXED),
            applied("RoleBinding/runners/a", FIXED),
        ];
        assert_eq!(outcome(&findings, &both), Outcome::Success);
        assert_eq!(outcome(&findings, &both[..1]), Outcome::ProblemsFound);
        assert_eq!(Outcome::Success.code() as u8, 0);
        assert_eq!(Outcome::ProblemsFound.code() as u8, 5);
    }

    #[test]
    fn text_output_says_a_refused_fix_was_not_applied_and_what_to_do() {
        let findings = [trap("Role/runners/a")];
        let text = render_text(
            "namespace runners",
            &findings,
            &[applied("Role/runners/a", REFUSED)],
            true,
        );
        assert!(
            text.contains(
                "  --fix: refused: the object changed since it was read; run doctor again\n"
            ),
            "{text}"
        );
        assert!(!text.contains("  fix: "), "{text}");
    }
}
