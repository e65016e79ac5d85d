//! Distribution: scripts/package-release's archive layout, the install
//! hook's download with SHA-256 verification against a local file:// URL (a
//! corrupted or unverifiable archive is refused), and `helm plugin install`
//! from a local checkout and from a local release archive on Helm 3.17.3 and
//! Helm 4.1.4, then `helm arc-uninstall demo` through Helm.
//!
//! Needs the tools from `scripts/fetch-tools` (see tests/support).
// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use support::{
    Helm, HelmHome, PLUGIN_DIR_NAME, hau_bin, output, plugin_checkout, release_target, repo_root,
    run_ok,
};

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn stage(target: &str) -> String {
    format!("helm-arc-uninstall-{VERSION}-{target}")
}

/// A PATH with only these tools (never cargo).
fn tools_path(dir: &Path) -> PathBuf {
    let bin = dir.join("path-bin");
    fs::create_dir_all(&bin).unwrap();
    for tool in [
        "sh",
        "mkdir",
        "ln",
        "dirname",
        "uname",
        "tar",
        "gzip",
        "sha256sum",
        "cp",
        "rm",
    ] {
        let found = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{tool} not found in /usr/bin or /bin"));
        std::os::unix::fs::symlink(found, bin.join(tool)).unwrap();
    }
    bin
}

/// A tiny stand-in binary that answers `--version`.
fn fake_binary(path: &Path) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(
        path,
        format!("#!/bin/sh\necho helm-arc-uninstall {VERSION}\n"),
    )
    .unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// scripts/package-release of `bin` for `target` into `out`; returns the archive.
fn package(bin: &Path, target: &str, out: &Path) -> PathBuf {
    let stdout = run_ok(
        Command::new(repo_root().join("scripts/package-release"))
            .arg("--bin")
            .arg(bin)
            .args(["--target", target, "--out"])
            .arg(out),
    );
    let archive = out.join(format!("{}.tar.gz", stage(target)));
    assert_eq!(stdout.trim(), archive.display().to_string());
    archive
}

fn run_hook(plugin: &Path, event: &str, path: &Path, url: &str) -> Output {
    output(
        Command::new("/bin/sh")
            .arg(plugin.join("scripts/plugin-install-hook"))
            .arg(event)
            .current_dir(plugin)
            .env("HELM_PLUGIN_DIR", plugin)
            .env("PATH", path)
            .env("HELM_ARC_UNINSTALL_RELEASE_URL", url)
            .env_remove("HELM_ARC_UNINSTALL_BIN")
            .env_remove("HELM_ARC_UNINSTALL_TARGET"),
    )
}

fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

#[test]
fn archive_holds_one_directory_with_the_binary_and_a_matching_checksum() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin/helm-arc-uninstall");
    fake_binary(&bin);
    let target = "aarch64-apple-darwin";
    let archive = package(&bin, target, &tmp.path().join("dist"));
    let listing = run_ok(Command::new("tar").arg("-tzvf").arg(&archive));
    let mut entries: Vec<(String, String)> = listing
        .lines()
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            (fields[0].to_string(), fields.last().unwrap().to_string())
        })
        .collect();
    entries.sort_by(|a, b| a.1.cmp(&b.1));
    let dir = stage(target);
    let names: Vec<&str> = entries.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            format!("{dir}/"),
            format!("{dir}/README.md"),
            format!("{dir}/helm-arc-uninstall")
        ]
    );
    let mode = &entries
        .iter()
        .find(|(_, n)| n.ends_with("/helm-arc-uninstall"))
        .unwrap()
        .0;
    assert_eq!(mode, "-rwxr-xr-x", "the binary is executable");

    let sums = fs::read_to_string(archive.with_extension("gz.sha256")).unwrap();
    let (hash, name) = sums.trim_end().split_once("  ").expect("sha256sum format");
    assert_eq!(hash.len(), 64);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(name, format!("{dir}.tar.gz"));
    run_ok(
        Command::new("sha256sum")
            .args(["-c", &format!("{dir}.tar.gz.sha256")])
            .current_dir(archive.parent().unwrap()),
    );
}

#[test]
fn package_release_refuses_a_missing_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let out = output(
        Command::new(repo_root().join("scripts/package-release"))
            .arg("--bin")
            .arg(tmp.path().join("nope"))
            .args(["--target", "x86_64-unknown-linux-musl", "--out"])
            .arg(tmp.path()),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not an executable file"));
}

/// A plugin checkout, a release dir with a packaged fake binary for this host, and a PATH without cargo.
fn hook_env(tmp: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let plugin = plugin_checkout(&tmp.join("src"));
    let bin = tmp.join("built/helm-arc-uninstall");
    fake_binary(&bin);
    let dist = tmp.join("dist");
    package(&bin, &release_target(), &dist);
    (plugin, dist, tools_path(tmp))
}

#[test]
fn hook_installs_a_verified_prebuilt_binary_from_a_file_url() {
    let tmp = tempfile::tempdir().unwrap();
    let (plugin, dist, path) = hook_env(tmp.path());
    for event in ["install", "update"] {
        let out = run_hook(&plugin, event, &path, &file_url(&dist));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{event}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "verified {}.tar.gz (sha256 ",
                stage(&release_target())
            )),
            "{stderr}"
        );
        let expected = plugin
            .join("release")
            .join(stage(&release_target()))
            .join("helm-arc-uninstall");
        assert_eq!(
            fs::read_link(plugin.join("bin/helm-arc-uninstall")).unwrap(),
            expected
        );
        assert!(
            !plugin.join("release/.download").exists(),
            "download dir cleaned up"
        );
    }
}

#[test]
fn hook_refuses_a_corrupted_archive() {
    let tmp = tempfile::tempdir().unwrap();
    let (plugin, dist, path) = hook_env(tmp.path());
    let archive = dist.join(format!("{}.tar.gz", stage(&release_target())));
    let mut bytes = fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    fs::write(&archive, bytes).unwrap();
    let out = run_hook(&plugin, "install", &path, &file_url(&dist));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert!(
        stderr.contains("failed verification and cargo is not installed"),
        "{stderr}"
    );
    assert!(!plugin.join("bin/helm-arc-uninstall").exists());
    assert!(
        !plugin
            .join("release")
            .join(stage(&release_target()))
            .exists(),
        "nothing extracted"
    );
}

#[test]
fn hook_refuses_an_archive_without_its_checksum() {
    let tmp = tempfile::tempdir().unwrap();
    let (plugin, dist, path) = hook_env(tmp.path());
    fs::remove_file(dist.join(format!("{}.tar.gz.sha256", stage(&release_target())))).unwrap();
    let out = run_hook(&plugin, "install", &path, &file_url(&dist));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("refusing the unverified archive"),
        "{stderr}"
    );
    assert!(!plugin.join("bin/helm-arc-uninstall").exists());
}

#[test]
fn hook_without_an_archive_for_the_version_says_so_and_falls_back() {
    let tmp = tempfile::tempdir().unwrap();
    let (plugin, _dist, path) = hook_env(tmp.path());
    let empty = tmp.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    let out = run_hook(&plugin, "install", &path, &file_url(&empty));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no prebuilt archive at file://"),
        "{stderr}"
    );
    assert!(stderr.contains("cargo is not installed"), "{stderr}");
}

// ---------------------------------------------------------------------------
// Through real Helm.

/// The real test binary packaged for this host, once per test run.
fn real_dist() -> PathBuf {
    static DIST: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    DIST.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dist = tmp.path().join("dist");
        package(&hau_bin(), &release_target(), &dist);
        (tmp, dist)
    })
    .1
    .clone()
}

fn assert_demo_through_helm(home: &HelmHome, helm: Helm, path: Option<&Path>) {
    let mut cmd = home.helm(helm);
    cmd.args(["arc-uninstall", "demo", "--job", "0s"]);
    if let Some(path) = path {
        cmd.env("PATH", path);
    }
    let out = run_ok(&mut cmd);
    assert!(
        out.contains("proof: the AutoscalingRunnerSet was gone at #"),
        "{helm:?}:\n{out}"
    );
}

fn install_from_release_archive(helm: Helm) {
    let home = HelmHome::new();
    let path = tools_path(home.path());
    let checkout = plugin_checkout(&home.path().join("src"));
    let out = output(
        home.helm(helm)
            .args(["plugin", "install"])
            .arg(&checkout)
            .env("PATH", &path)
            .env("HELM_ARC_UNINSTALL_RELEASE_URL", file_url(&real_dist())),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{helm:?}: {stderr}");
    assert!(
        stderr.contains("arc-uninstall: verified "),
        "{helm:?}: {stderr}"
    );
    let plugin = home.plugins_dir().join(PLUGIN_DIR_NAME);
    let linked = fs::read_link(plugin.join("bin/helm-arc-uninstall")).unwrap();
    assert!(
        linked.ends_with(format!(
            "release/{}/helm-arc-uninstall",
            stage(&release_target())
        )),
        "{linked:?}"
    );
    assert_demo_through_helm(&home, helm, Some(&path));

    run_ok(
        home.helm(helm)
            .args(["plugin", "uninstall", "arc-uninstall"]),
    );
    let left: Vec<_> = fs::read_dir(home.plugins_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        left.is_empty(),
        "{helm:?}: left in the plugins dir: {left:?}"
    );
}

#[test]
fn helm3_installs_from_a_local_release_archive_and_runs_the_demo() {
    install_from_release_archive(Helm::V3);
}

#[test]
fn helm4_installs_from_a_local_release_archive_and_runs_the_demo() {
    install_from_release_archive(Helm::V4);
}

#[test]
fn helm3_and_helm4_install_from_a_local_checkout_and_run_the_demo() {
    for helm in Helm::ALL {
        let home = HelmHome::new();
        support::install_plugin(&home, helm);
        assert_demo_through_helm(&home, helm, None);
    }
}
