//! `render`: the Helm post-renderer. Reads a rendered stream on stdin, writes
//! it back on stdout with teardown annotations added (see `crate::render`).
//!
//! Fails closed: on bad input nothing is written to stdout, the process exits
//! 2 with one line on stderr, and the same line is appended to a log file
//! (Helm 4 discards a post-renderer's stderr): `$HELM_ARC_UNINSTALL_LOG`, else
//! `$XDG_STATE_HOME/helm-arc-uninstall/render.log`, else
//! `~/.local/state/helm-arc-uninstall/render.log`.

use crate::exit::{self, Code, WithCode};
use crate::render::{self, Extras, RenderOptions};
use anyhow::Context;
use std::io::{Read, Write};
use std::path::PathBuf;

/// Arguments of `render`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Namespace of objects that do not name one (the release namespace).
    #[arg(short = 'n', long, env = "HELM_NAMESPACE", default_value = "default")]
    pub namespace: String,

    /// Also write `argocd.argoproj.io/sync-wave` (Argo CD deletes the highest
    /// wave first, so the AutoscalingRunnerSet gets the highest).
    #[arg(long)]
    pub argocd: bool,

    /// Also write `kapp.k14s.io/change-group` and `kapp.k14s.io/change-rule`
    /// ("delete before deleting" the next wave's group).
    #[arg(long)]
    pub kapp: bool,

    /// Also write `config.kubernetes.io/depends-on` (kpt, cli-utils): each
    /// object depends on the objects that wait for it.
    #[arg(long = "depends-on", visible_alias = "kpt")]
    pub depends_on: bool,

    /// Re-parse the output and check that it decodes to exactly the input
    /// objects plus the added annotations before writing it (slower).
    #[arg(
        long,
        env = "HELM_ARC_UNINSTALL_VERIFY",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub verify: bool,

    /// `--hooks` and its settings (Helm 4 pre-delete hooks).
    #[command(flatten)]
    pub hooks: super::render_hooks::HookArgs,
}

/// Run `render`: stdin to stdout.
pub fn run(args: Args) -> anyhow::Result<exit::Code> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .context("read the manifest from stdin")
        .exit_code(Code::BadInput)
        .inspect_err(|e| log_failure(&format!("{e:#}")))?;
    let opts = RenderOptions {
        default_namespace: args.namespace,
        extras: Extras {
            argocd: args.argocd,
            kapp: args.kapp,
            depends_on: args.depends_on,
        },
        verify: args.verify,
    };
    let rendered = if args.hooks.hooks {
        crate::hooks::render_with_hooks(&input, &opts, &args.hooks.options())
            .map(render::Output::from)
            .map_err(anyhow::Error::new)
    } else {
        render::render_retaining(&input, &opts)
            .map(|(output, parsed)| {
                // The process exits right after writing: freeing the parsed
                // stream would only cost time.
                std::mem::forget(parsed);
                output
            })
            .map_err(anyhow::Error::new)
    };
    let output = match rendered {
        Ok(output) => output,
        Err(e) => {
            // One line, whatever the input held (keys may contain newlines).
            let line = e.to_string().replace('\r', "\\r").replace('\n', "\\n");
            log_failure(&line);
            return Err(anyhow::anyhow!(line))
                .context("render")
                .exit_code(Code::BadInput);
        }
    };
    let mut stdout = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    output
        .write_to(&mut stdout)
        .context("write the manifest to stdout")?;
    stdout.flush().context("write the manifest to stdout")?;
    drop(stdout);
    std::mem::forget(output);
    Ok(Code::Success)
}

/// Where `render` appends its errors.
pub fn log_path() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(path) = var("HELM_ARC_UNINSTALL_LOG") {
        return Some(path);
    }
    let state =
        var("XDG_STATE_HOME").or_else(|| var("HOME").map(|h| h.join(".local").join("state")))?;
    Some(state.join("helm-arc-uninstall").join("render.log"))
}

/// Append one line to the log; failures to log are ignored (stderr has it).
fn log_failure(message: &str) {
    let Some(path) = log_path() else {
        return;
    };
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let line = format!(
        "{} helm-arc-uninstall render: error: {message}\n",
        jiff::Timestamp::now()
    );
    let _ = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
}
