//! The Helm plugin packaging on real Helm 3.17.3 and 4.1.4: `helm plugin
//! install` of a checkout, `helm arc-uninstall` reaching the binary, the
//! nested Helm 4 post-renderer plugin, and the install hook's choices.
//!
//! Needs the tools from `scripts/fetch-tools` (see tests/support).
// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{Helm, HelmHome, PLUGIN_DIR_NAME, hau_bin, output, plugin_checkout, run_ok};

/// `helm plugin install <checkout>` with the hook pointed at the test binary.
/// Returns the installed plugin directory.
fn install_cli_plugin(home: &HelmHome, helm: Helm) -> PathBuf {
    let checkout = plugin_checkout(&home.path().join("src"));
    let out = output(
        home.helm(helm)
            .args(["plugin", "install"])
            .arg(&checkout)
            .env("HELM_ARC_UNINSTALL_BIN", hau_bin()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{helm:?} plugin install failed: {}\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.contains(&format!("arc-uninstall: using {}", hau_bin().display())),
        "install hook did not report the binary it linked:\n{stderr}"
    );
    home.plugins_dir().join(PLUGIN_DIR_NAME)
}

/// HELM_PLUGINS for Helm 4 so it also finds the nested post-renderer plugin.
fn helm4_plugins_path(home: &HelmHome) -> std::ffi::OsString {
    let plugins = home.plugins_dir();
    std::env::join_paths([
        plugins.clone(),
        plugins.join(PLUGIN_DIR_NAME).join("plugins"),
    ])
    .expect("plugin paths hold no separator")
}

fn assert_help_reaches_binary(home: &HelmHome, helm: Helm) {
    let through_helm = run_ok(home.helm(helm).args(["arc-uninstall", "--help"]));
    let direct = run_ok(Command::new(hau_bin()).arg("--help"));
    assert!(!direct.is_empty(), "the binary printed no help");
    assert_eq!(
        through_helm, direct,
        "{helm:?}: `helm arc-uninstall --help` did not print the binary's help"
    );
}

fn plugin_list(home: &HelmHome, helm: Helm, plugins_path: Option<&std::ffi::OsStr>) -> String {
    let mut cmd = home.helm(helm);
    cmd.args(["plugin", "list"]);
    if let Some(path) = plugins_path {
        cmd.env("HELM_PLUGINS", path);
    }
    let out = output(&mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("failed to load"),
        "{helm:?} plugin list: {}\n{stderr}",
        out.status
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// The row of `helm plugin list` for `name`, split into columns.
fn plugin_row(list: &str, name: &str) -> Option<Vec<String>> {
    list.lines()
        .map(|line| {
            line.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .find(|cols| cols.first().map(String::as_str) == Some(name))
}

fn cli_plugin_reaches_binary(helm: Helm) {
    let home = HelmHome::new();
    let installed = install_cli_plugin(&home, helm);
    let link = installed.join("bin").join("helm-arc-uninstall");
    assert_eq!(
        fs::canonicalize(&link).expect("bin link resolves"),
        fs::canonicalize(hau_bin()).expect("test binary exists"),
        "the hook must link $HELM_PLUGIN_DIR/bin/helm-arc-uninstall to HELM_ARC_UNINSTALL_BIN"
    );
    let list = plugin_list(&home, helm, None);
    let row = plugin_row(&list, "arc-uninstall").expect("arc-uninstall is listed");
    assert_eq!(
        row[1],
        env!("CARGO_PKG_VERSION"),
        "plugin.yaml version = crate version"
    );
    assert_help_reaches_binary(&home, helm);

    // Helm passes the binary's exit code through (usage error: 2).
    let direct = output(Command::new(hau_bin()).arg("--no-such-flag"));
    let through_helm = output(home.helm(helm).args(["arc-uninstall", "--no-such-flag"]));
    assert_eq!(direct.status.code(), Some(2));
    assert_eq!(
        through_helm.status.code(),
        direct.status.code(),
        "{helm:?} exit code"
    );
}

#[test]
fn cli_plugin_installs_from_a_checkout_and_reaches_the_binary_on_helm3() {
    cli_plugin_reaches_binary(Helm::V3);
}

#[test]
fn cli_plugin_installs_from_a_checkout_and_reaches_the_binary_on_helm4() {
    cli_plugin_reaches_binary(Helm::V4);
}

/// A git repository holding the plugin files, as `helm plugin install <git URL>` sees it.
fn plugin_git_repo(parent: &Path) -> PathBuf {
    let repo = plugin_checkout(parent);
    fs::copy(
        support::repo_root().join(".gitignore"),
        repo.join(".gitignore"),
    )
    .expect("copy .gitignore");
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"][..],
        &[
            "-c",
            "user.name=test",
            "-c",
            "user.email=test@example.invalid",
            "-c",
            "commit.gpgsign=false",
            "commit",
            "-q",
            "-m",
            "plugin",
        ][..],
    ] {
        let out = Command::new("git")
            .args(args)
            .current_dir(&repo)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git is needed for the git install tests");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    repo
}

fn cli_plugin_installs_and_updates_from_git(helm: Helm) {
    let home = HelmHome::new();
    let repo = plugin_git_repo(&home.path().join("remote"));
    let url = format!("file://{}", repo.display());
    let install = |extra: &[&str]| {
        output(
            home.helm(helm)
                .args(["plugin", "install", &url])
                .args(extra)
                .env("HELM_ARC_UNINSTALL_BIN", hau_bin()),
        )
    };
    if helm == Helm::V4 {
        // README.md: Helm 4 needs --verify=false for a git source.
        let refused = install(&[]);
        assert!(!refused.status.success());
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("--verify=false"),
            "{}",
            String::from_utf8_lossy(&refused.stderr)
        );
    }
    let extra: &[&str] = if helm == Helm::V4 {
        &["--verify=false"]
    } else {
        &[]
    };
    let out = install(extra);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let installed = home.plugins_dir().join(PLUGIN_DIR_NAME);
    assert!(
        !fs::symlink_metadata(&installed)
            .expect("installed")
            .is_symlink(),
        "a git install is a copy, not a dev symlink"
    );
    assert_help_reaches_binary(&home, helm);

    let out = output(
        home.helm(helm)
            .args(["plugin", "update", "arc-uninstall"])
            .env("HELM_ARC_UNINSTALL_BIN", hau_bin()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{helm:?} plugin update: {stderr}");
    assert!(
        stderr.contains("arc-uninstall: using"),
        "update hook did not run:\n{stderr}"
    );
    assert_help_reaches_binary(&home, helm);
}

#[test]
fn cli_plugin_installs_and_updates_from_a_git_repository_on_helm3() {
    cli_plugin_installs_and_updates_from_git(Helm::V3);
}

#[test]
fn cli_plugin_installs_and_updates_from_a_git_repository_on_helm4() {
    cli_plugin_installs_and_updates_from_git(Helm::V4);
}

/// The documented Helm 4 setup (HELM_PLUGINS path list) loads the
/// post-renderer while a Helm 3 sharing the plugins dir keeps working.
#[test]
fn helm4_finds_the_nested_post_renderer_and_helm3_sharing_the_dir_keeps_working() {
    let home = HelmHome::new();
    install_cli_plugin(&home, Helm::V3);

    let path = helm4_plugins_path(&home);
    let with_path = plugin_list(&home, Helm::V4, Some(&path));
    let render = plugin_row(&with_path, "arc-uninstall-render").expect("post-renderer listed");
    assert_eq!(render[2], "postrenderer/v1");
    assert_eq!(render[3], "v1");
    let cli = plugin_row(&with_path, "arc-uninstall").expect("cli plugin listed");
    assert_eq!(cli[2], "cli/v1");
    assert_eq!(cli[3], "legacy");

    let default_path = plugin_list(&home, Helm::V4, None);
    assert!(
        plugin_row(&default_path, "arc-uninstall-render").is_none(),
        "the nested plugin must stay invisible without the path list:\n{default_path}"
    );

    // Helm 3 scans only <plugins>/*/plugin.yaml: the nested v1 file is invisible.
    let h3 = plugin_list(&home, Helm::V3, None);
    assert!(plugin_row(&h3, "arc-uninstall").is_some(), "{h3}");
    assert!(plugin_row(&h3, "arc-uninstall-render").is_none(), "{h3}");
    assert_help_reaches_binary(&home, Helm::V3);
    assert_help_reaches_binary(&home, Helm::V4);
}

/// `helm plugin install` of the nested post-renderer works on Helm 4 (a
/// Helm-4-only plugins dir), with no name clash against the CLI plugin.
#[test]
fn helm4_plugin_install_of_the_nested_post_renderer_works() {
    let home = HelmHome::new();
    let installed = install_cli_plugin(&home, Helm::V4);
    run_ok(
        home.helm(Helm::V4)
            .args(["plugin", "install"])
            .arg(installed.join("plugins").join("arc-uninstall-render")),
    );
    let list = plugin_list(&home, Helm::V4, None);
    let render = plugin_row(&list, "arc-uninstall-render").expect("post-renderer listed");
    assert_eq!(render[2], "postrenderer/v1");
    assert!(plugin_row(&list, "arc-uninstall").is_some(), "{list}");
    assert_help_reaches_binary(&home, Helm::V4);
}

/// Why README.md says not to `helm plugin install` the post-renderer where a
/// Helm 3 shares the plugins dir: Helm 3 then fails to load every plugin.
#[test]
fn helm4_plugin_install_of_the_post_renderer_would_break_a_helm3_sharing_the_dir() {
    let home = HelmHome::new();
    let installed = install_cli_plugin(&home, Helm::V3);
    run_ok(
        home.helm(Helm::V4)
            .args(["plugin", "install"])
            .arg(installed.join("plugins").join("arc-uninstall-render")),
    );
    let out = output(home.helm(Helm::V3).args(["arc-uninstall", "--help"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(r#"unknown field "apiVersion""#),
        "Helm 3 behaviour changed, revisit README.md install notes:\n{stderr}"
    );
}

// ---------------------------------------------------------------------------
// The install hook on its own (scripts/plugin-install-hook).

/// A PATH holding only what the hook needs, so `cargo` is never found.
fn path_without_cargo(dir: &Path) -> PathBuf {
    let bin = dir.join("path-bin");
    fs::create_dir_all(&bin).expect("mkdir");
    for tool in ["mkdir", "ln", "dirname"] {
        let found = ["/usr/bin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(tool))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{tool} not found in /usr/bin or /bin"));
        std::os::unix::fs::symlink(found, bin.join(tool)).expect("symlink tool");
    }
    bin
}

fn run_hook(
    plugin_dir: &Path,
    event: &str,
    path: &Path,
    bin_env: Option<&Path>,
) -> std::process::Output {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg(plugin_dir.join("scripts").join("plugin-install-hook"))
        .arg(event)
        .current_dir(plugin_dir)
        .env("HELM_PLUGIN_DIR", plugin_dir)
        .env("PATH", path)
        // Never reach for the published release archive from a test: the
        // network is loopback only. tests/release.rs covers that path.
        .env("HELM_ARC_UNINSTALL_RELEASE_URL", "none")
        .env_remove("HELM_ARC_UNINSTALL_BIN");
    if let Some(bin) = bin_env {
        cmd.env("HELM_ARC_UNINSTALL_BIN", bin);
    }
    output(&mut cmd)
}

fn fake_binary(path: &Path) {
    fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    fs::write(path, "#!/bin/sh\necho fake\n").expect("write fake binary");
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn hook_without_binary_or_cargo_fails_with_instructions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let plugin = plugin_checkout(tmp.path());
    let out = run_hook(&plugin, "install", &path_without_cargo(tmp.path()), None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cargo is not installed"), "{stderr}");
    assert!(stderr.contains("HELM_ARC_UNINSTALL_BIN="), "{stderr}");
    assert!(!plugin.join("bin/helm-arc-uninstall").exists());
}

#[test]
fn hook_uses_an_existing_release_build_when_cargo_is_absent() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let plugin = plugin_checkout(tmp.path());
    let built = plugin.join("target/release/helm-arc-uninstall");
    fake_binary(&built);
    let path = path_without_cargo(tmp.path());
    for event in ["install", "update"] {
        let out = run_hook(&plugin, event, &path, None);
        assert!(
            out.status.success(),
            "{event}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            fs::read_link(plugin.join("bin/helm-arc-uninstall")).expect("link"),
            built,
            "{event}"
        );
    }
}

#[test]
fn hook_prefers_helm_arc_uninstall_bin_over_a_release_build() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let plugin = plugin_checkout(tmp.path());
    fake_binary(&plugin.join("target/release/helm-arc-uninstall"));
    let mine = tmp.path().join("elsewhere/helm-arc-uninstall");
    fake_binary(&mine);
    let out = run_hook(
        &plugin,
        "install",
        &path_without_cargo(tmp.path()),
        Some(&mine),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fs::read_link(plugin.join("bin/helm-arc-uninstall")).expect("link"),
        mine
    );
}

#[test]
fn hook_rejects_a_helm_arc_uninstall_bin_that_is_not_executable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let plugin = plugin_checkout(tmp.path());
    let not_exec = tmp.path().join("not-executable");
    fs::write(&not_exec, "not a binary").expect("write");
    let out = run_hook(
        &plugin,
        "install",
        &path_without_cargo(tmp.path()),
        Some(&not_exec),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("is not an executable file"), "{stderr}");
    assert!(!plugin.join("bin/helm-arc-uninstall").exists());
}

/// A plugin package (scripts/package-release --sign) ships the binary as a
/// regular file in bin/: the hook keeps it, even over HELM_ARC_UNINSTALL_BIN
/// (the packaged file is the one the signature covers).
#[test]
fn hook_keeps_the_binary_shipped_in_a_plugin_package() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let plugin = plugin_checkout(tmp.path());
    let packaged = plugin.join("bin/helm-arc-uninstall");
    fake_binary(&packaged);
    let before = fs::read(&packaged).expect("read");
    let mine = tmp.path().join("elsewhere/helm-arc-uninstall");
    fake_binary(&mine);
    let path = path_without_cargo(tmp.path());
    for event in ["install", "update"] {
        let out = run_hook(&plugin, event, &path, Some(&mine));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{event}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "arc-uninstall: using the packaged binary {}",
                packaged.display()
            )),
            "{event}: {stderr}"
        );
        assert!(stderr.contains("post-renderer, Helm 4:"), "{stderr}");
        let meta = fs::symlink_metadata(&packaged).expect("still there");
        assert!(meta.is_file(), "{event}: replaced by a link");
        assert_eq!(fs::read(&packaged).expect("read"), before, "{event}");
    }
}

/// A package for another platform: the hook fails the install with a line
/// naming the problem instead of leaving a plugin that cannot start.
#[test]
fn hook_refuses_a_packaged_binary_that_does_not_run_here() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let plugin = plugin_checkout(tmp.path());
    let packaged = plugin.join("bin/helm-arc-uninstall");
    fs::create_dir_all(packaged.parent().expect("parent")).expect("mkdir");
    // An executable this machine cannot run (no interpreter, not ELF).
    fs::write(&packaged, b"\xcf\xfa\xed\xfe not for this machine").expect("write");
    fs::set_permissions(&packaged, fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = run_hook(&plugin, "install", &path_without_cargo(tmp.path()), None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("does not run on this machine"), "{stderr}");
    assert!(
        stderr.contains("plugin package built for this platform"),
        "{stderr}"
    );
}
