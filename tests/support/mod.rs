//! Shared helpers for integration tests that run real Helm and kubectl.
//!
//! - From the workspace's test environment (crate `testenv`): [`Helm`] (the
//!   real binaries fetched by `scripts/fetch-tools`), [`HelmHome`] (an
//!   isolated Helm/kubectl environment), [`run_ok`] and [`output`].
//! - [`hau_bin`]: the binary under test (a per-process snapshot).
//! - [`plugin_checkout`]: a copy of the plugin files as `helm plugin install` sees a checkout.
//! - [`arc_fixtures_dir`] and [`chart_from_render`]: the shared upstream ARC
//!   renders, when present, and a static chart that re-renders one of them.
//! - [`kubectl_objects`]: parse a YAML stream the way kubectl (Go YAML) does.
//! - `test_each!` and `on_both_helms!`: one `#[test]` per case (Helm version,
//!   target, ...) of a scenario function.
//!
//! Include with `mod support;` from a test crate.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

// Each test binary uses its own subset.
#[allow(unused_imports)]
pub use testenv::{Helm, HelmHome, go_tool, output, run_ok, tools_dir};

/// One `#[test]` per case for each scenario function of one argument:
/// `crate::test_each!([helm3: Helm::V3, helm4: Helm::V4], a, b)` makes
/// `a::helm3` (which calls `a(Helm::V3)`), `a::helm4`, `b::helm3` and
/// `b::helm4`. The case values are written as at the call site.
#[macro_export]
macro_rules! test_each {
    ($cases:tt, $($name:ident),* $(,)?) => {$(
        $crate::test_each!(@one $name $cases);
    )*};
    (@one $name:ident [$($case:ident: $arg:expr),+ $(,)?]) => {
        mod $name {
            use super::*;
            $(
                #[test]
                fn $case() {
                    super::$name($arg)
                }
            )+
        }
    };
}

/// Every scenario on Helm 3.17.3 and on Helm 4.1.4: `<scenario>::helm3`,
/// `<scenario>::helm4` (each scenario function takes the [`Helm`]).
#[macro_export]
macro_rules! on_both_helms {
    ($($name:ident),* $(,)?) => {
        $crate::test_each!([helm3: Helm::V3, helm4: Helm::V4], $($name),*);
    };
}

/// Root of this repository (the crate's manifest directory).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary under test, as built by cargo for this test run: a
/// per-process snapshot ([`testenv::snapshot`]), so that a build of another
/// checkout sharing the same `CARGO_TARGET_DIR` cannot swap it mid-run.
pub fn hau_bin() -> PathBuf {
    testenv::snapshot(Path::new(env!("CARGO_BIN_EXE_helm-arc-uninstall")))
}

/// The release target (Rust triple) of this machine, as scripts/package-release
/// names archives and the install hook looks them up: `<arch>-unknown-linux-musl`
/// or `<arch>-apple-darwin`.
pub fn release_target() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "x86_64",
        "aarch64" => "aarch64",
        other => panic!("no release target for arch {other}"),
    };
    match std::env::consts::OS {
        "linux" => format!("{arch}-unknown-linux-musl"),
        "macos" => format!("{arch}-apple-darwin"),
        other => panic!("no release target for OS {other}"),
    }
}

/// Helm's name (`<GOOS>-<GOARCH>`) of this machine's platform: the directory
/// scripts/package-release writes the Helm 4 plugin packages to.
pub fn helm_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => panic!("no Helm platform for arch {other}"),
    };
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    format!("{os}-{arch}")
}

/// Files and directories of the repository that make up the Helm plugin.
pub const PLUGIN_FILES: [&str; 3] = ["plugin.yaml", "plugins", "scripts"];

/// Copies the plugin files of this checkout into `<parent>/helm-arc-uninstall`
/// (the directory name a clone or `helm plugin install <git URL>` gets) and
/// returns that directory. Build outputs (`target/`, `bin/`) are not copied.
pub fn plugin_checkout(parent: &Path) -> PathBuf {
    let dest = parent.join("helm-arc-uninstall");
    fs::create_dir_all(&dest).expect("create plugin checkout dir");
    for entry in PLUGIN_FILES {
        copy_tree(&repo_root().join(entry), &dest.join(entry));
    }
    dest
}

/// Recursively copies a file or directory, keeping the executable bits.
pub fn copy_tree(from: &Path, to: &Path) {
    let meta = fs::metadata(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    if meta.is_dir() {
        fs::create_dir_all(to).expect("create dir");
        for entry in fs::read_dir(from).expect("read dir") {
            let entry = entry.expect("dir entry");
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        fs::copy(from, to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
    }
}

/// The shared upstream ARC renders (`shared/fixtures/arc`), when present:
/// `$CARGO_MANIFEST_DIR/../shared/fixtures/arc`, else `/work/shared/fixtures/arc`.
pub fn arc_fixtures_dir() -> Option<PathBuf> {
    [
        repo_root().join("../shared/fixtures/arc"),
        PathBuf::from("/work/shared/fixtures/arc"),
    ]
    .into_iter()
    .find(|dir| dir.join("kubernetes.yaml").is_file())
}

/// The Helm 3 form fixtures of the shared ARC renders (`*.yaml` at the top
/// level, i.e. `helm template` output with `# Source:` lines), sorted by name.
pub fn arc_helm3_fixtures(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read fixtures dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension() == Some(OsStr::new("yaml")))
        .collect();
    files.sort();
    files
}

/// Writes a chart into `dir` whose `helm template` reproduces `render` (a
/// Helm 3 `helm template` stream): one template file per `# Source:` path,
/// the chart named after the sources' first path segment. Returns the chart
/// name. Panics on documents without a `# Source:` line or on template
/// delimiters, which a static chart cannot carry.
pub fn chart_from_render(render: &str, dir: &Path) -> String {
    let mut files: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut chart_name = None;
    let mut current: Option<String> = None;
    for doc in render
        .split("\n---\n")
        .map(|d| d.trim_start_matches("---\n"))
    {
        if doc.trim().is_empty() {
            continue;
        }
        let (first, rest) = doc.split_once('\n').unwrap_or((doc, ""));
        // A `# Source:` line starts a file; CRD files (which begin with their
        // own `---`) show up as a header-only document followed by the bodies.
        let body = match first.strip_prefix("# Source: ") {
            Some(source) => {
                let (chart, path) = source
                    .split_once('/')
                    .expect("source path has a chart prefix");
                chart_name.get_or_insert_with(|| chart.to_string());
                files.entry(path.to_string()).or_default();
                current = Some(path.to_string());
                rest
            }
            None => doc,
        };
        let path = current
            .as_ref()
            .unwrap_or_else(|| panic!("document before any # Source: line: {first:?}"));
        assert!(
            !body.contains("{{") && !body.contains("}}"),
            "{path}: template delimiters cannot go into a static chart"
        );
        if !body.trim().is_empty() {
            files
                .entry(path.clone())
                .or_default()
                .push(body.to_string());
        }
    }
    let name = chart_name.expect("render holds at least one document");
    fs::write(
        dir.join("Chart.yaml"),
        format!("apiVersion: v2\nname: {name}\nversion: 0.0.0\n"),
    )
    .expect("write Chart.yaml");
    for (path, docs) in files {
        let file = dir.join(&path);
        fs::create_dir_all(file.parent().expect("template has a parent dir")).expect("mkdir");
        fs::write(&file, docs.join("\n---\n")).expect("write template");
    }
    name
}

/// Objects in a YAML stream as kubectl (Go YAML 1.1) reads them, in stream
/// order, via `kubectl annotate --local -o json` (no cluster needed). The
/// oracle's own marker annotation is removed again.
pub fn kubectl_objects(home: &HelmHome, stream: &str) -> Vec<serde_json::Value> {
    const MARKER: &str = "helm-arc-uninstall.test/oracle";
    let file = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile_in(home.path())
        .expect("temp file");
    fs::write(file.path(), stream).expect("write stream");
    let json = run_ok(
        home.kubectl(Helm::V4)
            .args(["annotate", "--local", "-o", "json", "-f"])
            .arg(file.path())
            .arg(format!("{MARKER}=1")),
    );
    serde_json::Deserializer::from_str(&json)
        .into_iter::<serde_json::Value>()
        .map(|object| {
            let mut object = object.expect("kubectl printed JSON");
            let annotations = object["metadata"]["annotations"]
                .as_object_mut()
                .expect("oracle annotation present");
            annotations.remove(MARKER);
            if annotations.is_empty() {
                object["metadata"]
                    .as_object_mut()
                    .expect("metadata is a map")
                    .remove("annotations");
            }
            object
        })
        .collect()
}

/// `metadata.annotations[key]` of a kubectl-parsed object, if any.
pub fn annotation<'a>(object: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    object["metadata"]["annotations"][key].as_str()
}

/// `Kind/name` of a kubectl-parsed object, for messages.
pub fn kind_name(object: &serde_json::Value) -> String {
    format!(
        "{}/{}",
        object["kind"].as_str().unwrap_or("?"),
        object["metadata"]["name"].as_str().unwrap_or("?")
    )
}

/// Directory name of the plugin installed by [`install_plugin`].
pub const PLUGIN_DIR_NAME: &str = "helm-arc-uninstall";

/// `helm plugin install` of a [`plugin_checkout`] into `home`, with the
/// install hook pointed at the test binary. Returns the installed plugin dir.
pub fn install_plugin(home: &HelmHome, helm: Helm) -> PathBuf {
    let checkout = plugin_checkout(&home.path().join("src"));
    run_ok(
        home.helm(helm)
            .args(["plugin", "install"])
            .arg(&checkout)
            .env("HELM_ARC_UNINSTALL_BIN", hau_bin()),
    );
    home.plugins_dir().join(PLUGIN_DIR_NAME)
}

/// Adds the post-renderer to a `helm template|install|upgrade` command the
/// way README.md documents it: Helm 3 runs `<plugin>/bin/helm-arc-uninstall
/// render`; Helm 4 runs the `arc-uninstall-render` plugin found through a
/// HELM_PLUGINS path list.
pub fn with_post_renderer<'c>(
    cmd: &'c mut Command,
    home: &HelmHome,
    helm: Helm,
    plugin_dir: &Path,
) -> &'c mut Command {
    match helm {
        Helm::V3 => cmd
            .arg("--post-renderer")
            .arg(plugin_dir.join("bin").join("helm-arc-uninstall"))
            .args(["--post-renderer-args", "render"]),
        Helm::V4 => cmd
            .env(
                "HELM_PLUGINS",
                std::env::join_paths([home.plugins_dir(), plugin_dir.join("plugins")])
                    .expect("plugin paths hold no separator"),
            )
            .args(["--post-renderer", "arc-uninstall-render"]),
    }
}
