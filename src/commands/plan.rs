//! `plan`: show the teardown order of a rendered manifest.

use crate::exit::{self, Code, WithCode};
use crate::plan;
use anyhow::{Context, bail};
use std::io::Read;
use std::path::PathBuf;

/// Arguments of `plan`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Rendered manifest to plan (`-` reads stdin), as `helm template` or
    /// `helm get manifest` prints it.
    #[arg(
        short = 'f',
        long = "file",
        visible_alias = "filename",
        value_name = "FILE"
    )]
    pub file: Option<PathBuf>,

    /// Plan the live release RELEASE (its stored manifest) instead of a file.
    #[arg(
        value_name = "RELEASE",
        conflicts_with = "file",
        required_unless_present = "file"
    )]
    pub release: Option<String>,

    /// Namespace of objects that do not name one.
    #[arg(short = 'n', long, env = "HELM_NAMESPACE", default_value = "default")]
    pub namespace: String,

    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = FormatArg::Text)]
    pub output: FormatArg,
}

/// `-o` values of `plan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// Waves, objects and the reasons each object waits.
    Text,
    /// Versioned JSON (schemaVersion 1, see docs/design.md).
    Json,
    /// Graphviz dot.
    Dot,
    /// Mermaid flowchart.
    Mermaid,
}

impl FormatArg {
    fn format(self) -> plan::Format {
        match self {
            FormatArg::Text => plan::Format::Text,
            FormatArg::Json => plan::Format::Json,
            FormatArg::Dot => plan::Format::Dot,
            FormatArg::Mermaid => plan::Format::Mermaid,
        }
    }
}

/// Where the manifest comes from: a file (or stdin) or a release.
enum Input {
    File(PathBuf),
    Release(String),
}

/// Run `plan`.
pub fn run(args: Args) -> anyhow::Result<exit::Code> {
    let source = match (args.file, args.release) {
        (Some(path), _) => Input::File(path),
        (None, Some(release)) => Input::Release(release),
        (None, None) => bail!("give a manifest with -f FILE (or - for stdin)"),
    };
    let text = read_source(&source, &args.namespace)?;
    let rendered = plan::for_manifest(&text, &args.namespace, args.output.format())
        .exit_code(Code::BadInput)?;
    exit::write_stdout(rendered.as_bytes())?;
    Ok(Code::Success)
}

/// Read the manifest text of a source.
fn read_source(source: &Input, namespace: &str) -> anyhow::Result<String> {
    match source {
        Input::File(path) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("read manifest from stdin")
                .map(|_| text)
        }
        Input::File(path) => std::fs::read_to_string(path)
            .with_context(|| format!("read manifest {}", path.display()))
            .exit_code(Code::BadInput),
        // Seam for the teardown engine: fetch the release's stored manifest.
        Input::Release(release) => crate::helm::release_manifest_blocking(release, namespace)
            .with_context(|| format!("read the manifest of release {release}")),
    }
}
