//! Signed Helm 4 plugin packages (README.md "Install"): `scripts/package-release
//! --sign` makes the `arc-uninstall` and `arc-uninstall-render` packages with
//! Helm 4's `helm plugin package --sign` and a throwaway gpg key; Helm 4.1.4
//! installs them with `--verify --keyring` from the files and from a loopback
//! OCI registry (pushed by `scripts/push-plugins` with oras), then runs
//! `helm arc-uninstall` and the post-renderer through Helm. A tampered package,
//! one without its `.prov` and one signed by another key are refused. A Helm
//! 3.17.3 sharing the plugins directory keeps working.
//!
//! Needs gpg, the tools from `scripts/fetch-tools` and the registry and oras
//! built by `scripts/build-go-tools` (see tests/support).
// Test helpers outside #[test] fns panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::{
    Helm, HelmHome, go_tool, hau_bin, helm_platform, output, release_target, repo_root, run_ok,
};
use tempfile::TempDir;

const VERSION: &str = env!("CARGO_PKG_VERSION");
const CLI: &str = "arc-uninstall";
const RENDER: &str = "arc-uninstall-render";

// ---------------------------------------------------------------------------
// Throwaway signing keys.

/// One OpenPGP key: its user id and binary keyrings, as Helm reads them.
struct Key {
    uid: String,
    secring: PathBuf,
    pubring: PathBuf,
}

/// Two ed25519 keys made by gpg in a temp GNUPGHOME: `signer` signs the
/// packages, `stranger` stands for anyone else.
struct Keys {
    _dir: TempDir,
    signer: Key,
    stranger: Key,
}

impl Keys {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("hau-gpg-")
            .tempdir()
            .unwrap();
        let home = dir.path().join("gnupg");
        fs::create_dir(&home).unwrap();
        fs::set_permissions(&home, fs::Permissions::from_mode(0o700)).unwrap();
        let gpg = |args: &[&str]| -> Vec<u8> {
            let out = output(
                Command::new("gpg")
                    .arg("--homedir")
                    .arg(&home)
                    .args(["--batch", "--no-tty", "--pinentry-mode", "loopback"])
                    .args(["--passphrase", ""])
                    .args(args)
                    .stdin(Stdio::null()),
            );
            assert!(
                out.status.success(),
                "gpg {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        };
        let make = |name: &str| {
            let uid = format!("{name} <{name}@example.invalid>");
            gpg(&["--quick-gen-key", &uid, "ed25519", "sign", "never"]);
            let secring = dir.path().join(format!("{name}.secring.gpg"));
            fs::write(&secring, gpg(&["--export-secret-keys", &uid])).unwrap();
            let pubring = dir.path().join(format!("{name}.pubring.gpg"));
            fs::write(&pubring, gpg(&["--export", &uid])).unwrap();
            Key {
                uid,
                secring,
                pubring,
            }
        };
        let signer = make("hau-test-signer");
        let stranger = make("hau-test-stranger");
        // gpg started an agent for this GNUPGHOME; end that one agent.
        let _ = Command::new("gpgconf")
            .arg("--homedir")
            .arg(&home)
            .args(["--kill", "gpg-agent"])
            .status();
        Keys {
            _dir: dir,
            signer,
            stranger,
        }
    }
}

// ---------------------------------------------------------------------------
// Packaging.

/// The packages scripts/package-release wrote for one platform.
struct Packages {
    dir: PathBuf,
}

impl Packages {
    fn tgz(&self, plugin: &str) -> PathBuf {
        self.dir.join(format!("{plugin}-{VERSION}.tgz"))
    }

    fn prov(&self, plugin: &str) -> PathBuf {
        self.dir.join(format!("{plugin}-{VERSION}.tgz.prov"))
    }
}

fn package_release(bin: &Path, target: &str, out: &Path, key: &Key, extra: &[&str]) -> String {
    run_ok(
        Command::new(repo_root().join("scripts/package-release"))
            .arg("--bin")
            .arg(bin)
            .args(["--target", target, "--out"])
            .arg(out)
            .arg("--sign")
            .arg(&key.secring)
            .args(["--key", &key.uid, "--helm"])
            .arg(Helm::V4.helm())
            .args(extra),
    )
}

/// Signed packages of `bin` for this machine's platform, in `parent`.
fn packages(bin: &Path, parent: &Path, key: &Key) -> Packages {
    let out = parent.join("dist");
    package_release(bin, &release_target(), &out, key, &["--plugins-only"]);
    Packages {
        dir: out.join("helm4").join(helm_platform()),
    }
}

/// A stand-in binary that answers `--version` (for tests that never run it
/// through Helm).
fn fake_binary(path: &Path) -> PathBuf {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(
        path,
        format!("#!/bin/sh\necho helm-arc-uninstall {VERSION}\n"),
    )
    .unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

/// `(mode, path)` of each entry of a .tgz, sorted by path.
fn listing(tgz: &Path) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = run_ok(Command::new("tar").arg("-tzvf").arg(tgz))
        .lines()
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            (
                fields[0].to_string(),
                fields.last().unwrap().trim_end_matches('/').to_string(),
            )
        })
        .collect();
    entries.sort_by(|a, b| a.1.cmp(&b.1));
    entries
}

fn file_in(tgz: &Path, path: &str) -> Vec<u8> {
    let out = output(Command::new("tar").arg("-xzOf").arg(tgz).arg(path));
    assert!(out.status.success(), "{path} not in {}", tgz.display());
    out.stdout
}

#[test]
fn package_release_signs_both_plugin_packages_with_the_binary_inside() {
    let keys = Keys::new();
    let tmp = tempfile::tempdir().unwrap();
    let bin = fake_binary(&tmp.path().join("built/helm-arc-uninstall"));
    let out = tmp.path().join("dist");
    let printed = package_release(
        &bin,
        "aarch64-apple-darwin",
        &out,
        &keys.signer,
        &["--plugins-only"],
    );
    let packages = Packages {
        dir: out.join("helm4/darwin-arm64"),
    };
    assert_eq!(
        printed.lines().collect::<Vec<_>>(),
        [
            packages.tgz(CLI).display().to_string(),
            packages.tgz(RENDER).display().to_string()
        ]
    );
    let mut written: Vec<String> = walk(&out)
        .iter()
        .map(|p| p.strip_prefix(&out).unwrap().display().to_string())
        .collect();
    written.sort();
    assert_eq!(
        written,
        [
            format!("helm4/darwin-arm64/{CLI}-{VERSION}.tgz"),
            format!("helm4/darwin-arm64/{CLI}-{VERSION}.tgz.prov"),
            format!("helm4/darwin-arm64/{RENDER}-{VERSION}.tgz"),
            format!("helm4/darwin-arm64/{RENDER}-{VERSION}.tgz.prov"),
        ],
        "--plugins-only writes no archive"
    );

    let exec = "-rwxr-xr-x".to_string();
    let cli = listing(&packages.tgz(CLI));
    let names: Vec<&str> = cli.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            CLI,
            "arc-uninstall/bin",
            "arc-uninstall/bin/helm-arc-uninstall",
            "arc-uninstall/plugin.yaml",
            "arc-uninstall/plugins",
            "arc-uninstall/plugins/arc-uninstall-render",
            "arc-uninstall/plugins/arc-uninstall-render/plugin.yaml",
            "arc-uninstall/scripts",
            "arc-uninstall/scripts/plugin-install-hook",
        ]
    );
    for (mode, name) in &cli {
        if name.ends_with("/helm-arc-uninstall") || name.ends_with("/plugin-install-hook") {
            assert_eq!(mode, &exec, "{name}");
        }
    }
    // The CLI plugin is the same legacy file Helm 3 reads, the nested
    // post-renderer the same file as in a checkout.
    let repo_cli_yaml = fs::read(repo_root().join("plugin.yaml")).unwrap();
    let nested_yaml =
        fs::read_to_string(repo_root().join("plugins/arc-uninstall-render/plugin.yaml")).unwrap();
    assert_eq!(
        file_in(&packages.tgz(CLI), "arc-uninstall/plugin.yaml"),
        repo_cli_yaml
    );
    assert_eq!(
        file_in(
            &packages.tgz(CLI),
            "arc-uninstall/plugins/arc-uninstall-render/plugin.yaml"
        ),
        nested_yaml.as_bytes()
    );
    assert_eq!(
        file_in(&packages.tgz(CLI), "arc-uninstall/bin/helm-arc-uninstall"),
        fs::read(&bin).unwrap()
    );

    // The standalone post-renderer runs its own copy of the binary.
    let render = listing(&packages.tgz(RENDER));
    assert_eq!(
        render,
        [
            ("drwxr-xr-x".to_string(), RENDER.to_string()),
            (
                "drwxr-xr-x".to_string(),
                "arc-uninstall-render/bin".to_string()
            ),
            (
                exec.clone(),
                "arc-uninstall-render/bin/helm-arc-uninstall".to_string()
            ),
            (
                "-rw-r--r--".to_string(),
                "arc-uninstall-render/plugin.yaml".to_string()
            ),
        ]
    );
    let standalone_yaml = String::from_utf8(file_in(
        &packages.tgz(RENDER),
        "arc-uninstall-render/plugin.yaml",
    ))
    .unwrap();
    assert!(nested_yaml.contains("${HELM_PLUGIN_DIR}/../../bin/helm-arc-uninstall"));
    assert_eq!(
        standalone_yaml,
        nested_yaml.replace("${HELM_PLUGIN_DIR}/../../bin/", "${HELM_PLUGIN_DIR}/bin/")
    );

    // Each .prov is a signature by the signer over its package.
    for plugin in [CLI, RENDER] {
        let verified = run_ok(
            Command::new(Helm::V4.helm())
                .args(["plugin", "verify"])
                .arg(packages.tgz(plugin))
                .arg("--keyring")
                .arg(&keys.signer.pubring),
        );
        assert!(
            verified.contains(&format!("Signed by: {}", keys.signer.uid)),
            "{verified}"
        );
        let prov = fs::read_to_string(packages.prov(plugin)).unwrap();
        assert!(
            prov.starts_with("-----BEGIN PGP SIGNED MESSAGE-----"),
            "{prov}"
        );
        assert!(
            prov.contains(&format!("{plugin}-{VERSION}.tgz: sha256:")),
            "{prov}"
        );
    }
}

#[test]
fn package_release_writes_the_archive_and_the_packages_together() {
    let keys = Keys::new();
    let tmp = tempfile::tempdir().unwrap();
    let bin = fake_binary(&tmp.path().join("built/helm-arc-uninstall"));
    let out = tmp.path().join("dist");
    let printed = package_release(&bin, "x86_64-unknown-linux-musl", &out, &keys.signer, &[]);
    let archive = out.join(format!(
        "helm-arc-uninstall-{VERSION}-x86_64-unknown-linux-musl.tar.gz"
    ));
    let dir = out.join("helm4/linux-amd64");
    assert_eq!(
        printed.lines().collect::<Vec<_>>(),
        [
            archive.display().to_string(),
            dir.join(format!("{CLI}-{VERSION}.tgz"))
                .display()
                .to_string(),
            dir.join(format!("{RENDER}-{VERSION}.tgz"))
                .display()
                .to_string(),
        ]
    );
    assert!(
        out.join(format!(
            "{}.sha256",
            archive.file_name().unwrap().to_str().unwrap()
        ))
        .is_file()
    );
}

#[test]
fn package_release_refuses_to_sign_without_helm4_or_a_key_name() {
    let keys = Keys::new();
    let tmp = tempfile::tempdir().unwrap();
    let bin = fake_binary(&tmp.path().join("built/helm-arc-uninstall"));
    let script = repo_root().join("scripts/package-release");
    let base = |helm: &Path| {
        let mut cmd = Command::new(&script);
        cmd.arg("--bin")
            .arg(&bin)
            .args(["--target", "x86_64-unknown-linux-musl", "--out"])
            .arg(tmp.path().join("dist"))
            .arg("--sign")
            .arg(&keys.signer.secring)
            .arg("--helm")
            .arg(helm);
        cmd
    };
    let helm3 = output(base(&Helm::V3.helm()).args(["--key", &keys.signer.uid]));
    assert_eq!(helm3.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&helm3.stderr).contains("the plugin packages need Helm 4"),
        "{}",
        String::from_utf8_lossy(&helm3.stderr)
    );
    let no_key = output(&mut base(&Helm::V4.helm()));
    assert_eq!(no_key.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&no_key.stderr).contains("--sign needs --key NAME"));
    let only = output(
        Command::new(&script)
            .arg("--bin")
            .arg(&bin)
            .arg("--plugins-only"),
    );
    assert_eq!(only.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&only.stderr).contains("--plugins-only needs --sign"));
    assert!(!tmp.path().join("dist").exists(), "nothing written");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

// ---------------------------------------------------------------------------
// Installing through Helm 4 with verification.

/// `helm plugin install SOURCE --verify --keyring KEYRING` on Helm 4.
fn install(home: &HelmHome, source: &str, keyring: &Path, extra: &[&str]) -> Output {
    output(
        home.helm(Helm::V4)
            .args(["plugin", "install", source, "--verify", "--keyring"])
            .arg(keyring)
            .args(extra)
            // Should the hook ever look beyond the package: never the
            // network from a test (loopback only).
            .env("HELM_ARC_UNINSTALL_RELEASE_URL", "none"),
    )
}

fn assert_installed_signed(out: &Output, keys: &Keys, plugin: &str) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{plugin}: {stdout}\n{stderr}");
    assert!(stdout.contains("Verifying plugin signature..."), "{stdout}");
    assert!(
        stdout.contains(&format!("Signed by: {}", keys.signer.uid)),
        "{stdout}"
    );
    assert!(stdout.contains("Plugin Hash Verified: sha256:"), "{stdout}");
    assert!(
        stdout.contains(&format!("Installed plugin: {plugin}")),
        "{stdout}"
    );
}

fn assert_refused(home: &HelmHome, out: &Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "installed anyway:\n{stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in:\n{stderr}"
    );
    let left: Vec<_> = fs::read_dir(home.plugins_dir())
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in the plugins dir: {left:?}");
}

/// `helm arc-uninstall --help` through `helm` prints the binary's own help.
fn assert_help_reaches_binary(home: &HelmHome, helm: Helm) {
    let through_helm = run_ok(home.helm(helm).args(["arc-uninstall", "--help"]));
    let direct = run_ok(Command::new(hau_bin()).arg("--help"));
    assert_eq!(through_helm, direct, "{helm:?}");
}

/// A `helm plugin list` row of Helm 4, split into columns.
fn plugin_row(home: &HelmHome, plugins_path: Option<&std::ffi::OsStr>, name: &str) -> Vec<String> {
    let mut cmd = home.helm(Helm::V4);
    cmd.args(["plugin", "list"]);
    if let Some(path) = plugins_path {
        cmd.env("HELM_PLUGINS", path);
    }
    let list = run_ok(&mut cmd);
    list.lines()
        .map(|l| l.split_whitespace().map(str::to_string).collect::<Vec<_>>())
        .find(|cols| cols.first().map(String::as_str) == Some(name))
        .unwrap_or_else(|| panic!("{name} not in:\n{list}"))
}

/// `helm template` of the example chart with `extra` post-renderer flags.
fn template_with_post_renderer(
    home: &HelmHome,
    helm: Helm,
    cmd_setup: impl FnOnce(&mut Command),
) -> String {
    let mut cmd = home.helm(helm);
    cmd.args(["template", "arc-runner-set"])
        .arg(repo_root().join("examples/charts/arc-runner-set"))
        .args(["-n", "arc-runners"]);
    cmd_setup(&mut cmd);
    run_ok(&mut cmd)
}

/// The post-renderer ran: the runner set carries its teardown wave.
fn assert_rendered(label: &str, manifest: &str) {
    let runner_set = manifest
        .split("\n---")
        .find(|doc| doc.contains("kind: AutoscalingRunnerSet"))
        .unwrap_or_else(|| panic!("{label}: no AutoscalingRunnerSet in:\n{manifest}"));
    assert!(
        runner_set.contains("teardown.helm-arc-uninstall/wave:"),
        "{label}: not post-rendered:\n{runner_set}"
    );
}

/// The README's Helm 4 route from the package files, on a machine where Helm
/// 3 shares the plugins directory: the CLI package only (its legacy
/// plugin.yaml loads on both), the nested post-renderer through a
/// HELM_PLUGINS path list.
#[test]
fn helm4_installs_the_signed_cli_package_and_helm3_sharing_the_dir_keeps_working() {
    let keys = Keys::new();
    let home = HelmHome::new();
    let packages = packages(&hau_bin(), home.path(), &keys.signer);

    let out = install(
        &home,
        packages.tgz(CLI).to_str().unwrap(),
        &keys.signer.pubring,
        &[],
    );
    assert_installed_signed(&out, &keys, CLI);
    let installed = home.plugins_dir().join(CLI);
    let bin = installed.join("bin/helm-arc-uninstall");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!(
            "arc-uninstall: using the packaged binary {}",
            bin.display()
        )),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        fs::symlink_metadata(&bin).unwrap().is_file(),
        "a copy, not a link"
    );
    assert_eq!(fs::read(&bin).unwrap(), fs::read(hau_bin()).unwrap());
    let row = plugin_row(&home, None, CLI);
    assert_eq!(row[1..], [VERSION, "cli/v1", "legacy", "signed", "unknown"]);

    assert_help_reaches_binary(&home, Helm::V4);
    assert_help_reaches_binary(&home, Helm::V3);
    let h3_list = run_ok(home.helm(Helm::V3).args(["plugin", "list"]));
    assert!(h3_list.contains(CLI), "{h3_list}");

    // Post-renderer: Helm 4 through the path list, Helm 3 through the binary.
    let path = std::env::join_paths([home.plugins_dir(), installed.join("plugins")]).unwrap();
    let h4 = template_with_post_renderer(&home, Helm::V4, |cmd| {
        cmd.env("HELM_PLUGINS", &path)
            .args(["--post-renderer", RENDER]);
    });
    assert_rendered("Helm 4, nested post-renderer", &h4);
    let h3 = template_with_post_renderer(&home, Helm::V3, |cmd| {
        cmd.arg("--post-renderer")
            .arg(&bin)
            .args(["--post-renderer-args", "render"]);
    });
    assert_rendered("Helm 3, packaged binary", &h3);

    run_ok(home.helm(Helm::V4).args(["plugin", "uninstall", CLI]));
    let left: Vec<_> = fs::read_dir(home.plugins_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "left in the plugins dir: {left:?}");
}

/// On a Helm-4-only machine the post-renderer package installs on its own
/// and `--post-renderer arc-uninstall-render` finds it without a path list.
#[test]
fn helm4_installs_the_signed_post_renderer_package_on_its_own() {
    let keys = Keys::new();
    let home = HelmHome::new();
    let packages = packages(&hau_bin(), home.path(), &keys.signer);
    let out = install(
        &home,
        packages.tgz(RENDER).to_str().unwrap(),
        &keys.signer.pubring,
        &[],
    );
    assert_installed_signed(&out, &keys, RENDER);
    let row = plugin_row(&home, None, RENDER);
    assert_eq!(row[2..5], ["postrenderer/v1", "v1", "signed"]);
    let rendered = template_with_post_renderer(&home, Helm::V4, |cmd| {
        cmd.args(["--post-renderer", RENDER]);
    });
    assert_rendered("Helm 4, post-renderer package", &rendered);
}

/// Fake-binary packages for the refusal tests (nothing gets to run them).
fn fake_packages(parent: &Path, key: &Key) -> Packages {
    let bin = fake_binary(&parent.join("built/helm-arc-uninstall"));
    packages(&bin, parent, key)
}

#[test]
fn helm4_refuses_a_tampered_package() {
    let keys = Keys::new();
    let home = HelmHome::new();
    let packages = fake_packages(home.path(), &keys.signer);
    let tgz = packages.tgz(CLI);
    let mut bytes = fs::read(&tgz).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    fs::write(&tgz, bytes).unwrap();
    let out = install(&home, tgz.to_str().unwrap(), &keys.signer.pubring, &[]);
    assert_refused(
        &home,
        &out,
        &format!("plugin verification failed: sha256 sum does not match for {CLI}-{VERSION}.tgz"),
    );
}

#[test]
fn helm4_refuses_a_package_signed_by_another_key() {
    let keys = Keys::new();
    let home = HelmHome::new();
    let packages = fake_packages(home.path(), &keys.stranger);
    for plugin in [CLI, RENDER] {
        let out = install(
            &home,
            packages.tgz(plugin).to_str().unwrap(),
            &keys.signer.pubring,
            &[],
        );
        assert_refused(
            &home,
            &out,
            "plugin verification failed: openpgp: signature made by unknown entity",
        );
    }
}

#[test]
fn helm4_refuses_a_package_without_its_provenance() {
    let keys = Keys::new();
    let home = HelmHome::new();
    let packages = fake_packages(home.path(), &keys.signer);
    fs::remove_file(packages.prov(CLI)).unwrap();
    let out = install(
        &home,
        packages.tgz(CLI).to_str().unwrap(),
        &keys.signer.pubring,
        &[],
    );
    assert_refused(
        &home,
        &out,
        "plugin verification failed: no provenance file (.prov) found",
    );
}

// ---------------------------------------------------------------------------
// OCI: a registry on 127.0.0.1, fed by scripts/push-plugins.

/// A distribution registry (tools/go/registry) serving plain HTTP on a free
/// loopback port, storing into a temp dir; stopped (by its pid) on drop.
struct Registry {
    child: Child,
    addr: String,
    _dir: TempDir,
}

impl Registry {
    fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("hau-registry-")
            .tempdir()
            .unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new(go_tool("HAU_OCI_DIR", "registry"))
            .arg("serve")
            .arg(&config)
            .env("OTEL_TRACES_EXPORTER", "none")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.path().join("registry.log")).unwrap())
            .spawn()
            .unwrap();
        let mut registry = Registry {
            child,
            addr,
            _dir: dir,
        };
        registry.wait_ready();
        registry
    }

    /// Polls `GET /v2/` until it answers 200 (at most 30 s).
    fn wait_ready(&mut self) {
        use std::io::{Read, Write};
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log =
                    fs::read_to_string(self._dir.path().join("registry.log")).unwrap_or_default();
                panic!("registry exited ({status}):\n{log}");
            }
            if let Ok(mut stream) = std::net::TcpStream::connect(&self.addr) {
                let request = format!("GET /v2/ HTTP/1.0\r\nHost: {}\r\n\r\n", self.addr);
                let mut answer = String::new();
                if stream.write_all(request.as_bytes()).is_ok()
                    && stream.read_to_string(&mut answer).is_ok()
                    && answer.starts_with("HTTP/1.0 200")
                {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "registry at {} never answered",
                self.addr
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// scripts/push-plugins of one platform dir to `repo`; returns the references.
fn push(packages: &Packages, repo: &str) -> Vec<String> {
    run_ok(
        Command::new(repo_root().join("scripts/push-plugins"))
            .arg(&packages.dir)
            .arg(repo)
            .arg("--plain-http")
            .arg("--oras")
            .arg(go_tool("HAU_OCI_DIR", "oras"))
            // oras keeps its login state here; never the user's.
            .env("HOME", packages.dir.parent().unwrap()),
    )
    .lines()
    .map(str::to_string)
    .collect()
}

/// scripts/push-plugins never pushes a package without its signature.
#[test]
fn push_plugins_refuses_an_unsigned_package() {
    let keys = Keys::new();
    let tmp = tempfile::tempdir().unwrap();
    let packages = fake_packages(tmp.path(), &keys.signer);
    fs::remove_file(packages.prov(RENDER)).unwrap();
    let out = output(
        Command::new(repo_root().join("scripts/push-plugins"))
            .arg(&packages.dir)
            .arg("127.0.0.1:1/nowhere")
            // Never reached: the check comes first.
            .args(["--oras", "/nonexistent/oras"]),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{RENDER}-{VERSION}.tgz has no {RENDER}-{VERSION}.tgz.prov: refusing to push an unsigned package"
        )),
        "{stderr}"
    );
}

/// README.md's Helm 4 install commands (`helm plugin install oci://...`, one
/// line each, `# ` comments dropped) as `helm` arguments, pointed at `registry`
/// with this machine's platform and the crate version put in.
fn readme_oci_installs(registry: &str) -> Vec<Vec<String>> {
    let readme = fs::read_to_string(repo_root().join("README.md")).unwrap();
    assert!(
        readme.contains(&format!("\nVERSION={VERSION}\n")),
        "README.md's install section names another version than {VERSION}"
    );
    readme
        .lines()
        .filter(|line| line.starts_with("helm plugin install oci://"))
        .map(|line| {
            let command = line.split(" # ").next().unwrap();
            assert!(!command.contains("--verify=false"), "{command}");
            command
                .replace(
                    "oci://ghcr.io/helm-arc-uninstall/helm-arc-uninstall/",
                    &format!("oci://{registry}/helm-arc-uninstall/"),
                )
                .replace("$PLATFORM", &helm_platform())
                .replace("$VERSION", VERSION)
                .split_whitespace()
                .skip(1)
                .map(str::to_string)
                .collect()
        })
        .collect()
}

/// README.md's Helm 4 route, run as written (registry swapped for a loopback
/// one, plus `--plain-http`): `helm plugin install oci://...` of the signed
/// packages, verified against the published key file, then `--help`, the demo
/// and the post-renderer through Helm. The same references checked against
/// another key are refused.
#[test]
fn helm4_installs_the_signed_packages_from_a_loopback_oci_registry_as_the_readme_says() {
    let keys = Keys::new();
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    let packages = packages(&hau_bin(), work.path(), &keys.signer);
    let repo = format!("{}/helm-arc-uninstall/{}", registry.addr, helm_platform());
    let refs = push(&packages, &repo);
    assert_eq!(
        refs,
        [
            format!("{repo}/{CLI}:{VERSION}"),
            format!("{repo}/{RENDER}:{VERSION}")
        ]
    );

    let stranger = HelmHome::new();
    for reference in &refs {
        let out = install(
            &stranger,
            &format!("oci://{reference}"),
            &keys.stranger.pubring,
            &["--plain-http"],
        );
        assert_refused(
            &stranger,
            &out,
            "plugin verification failed: openpgp: signature made by unknown entity",
        );
    }

    let commands = readme_oci_installs(&registry.addr);
    assert_eq!(commands.len(), 2, "{commands:?}");
    // The published key file, under the name README.md downloads it as.
    let downloads = work.path().join("downloads");
    fs::create_dir_all(&downloads).unwrap();
    fs::copy(
        &keys.signer.pubring,
        downloads.join("helm-arc-uninstall-signing-key.gpg"),
    )
    .unwrap();
    let readme_install = |home: &HelmHome, args: &[String]| {
        output(
            home.helm(Helm::V4)
                .args(args)
                .arg("--plain-http")
                .current_dir(&downloads)
                .env("HELM_ARC_UNINSTALL_RELEASE_URL", "none"),
        )
    };

    let home = HelmHome::new();
    assert!(
        commands[0][2].ends_with(&format!("/{CLI}:{VERSION}")),
        "{commands:?}"
    );
    let out = readme_install(&home, &commands[0]);
    assert_installed_signed(&out, &keys, CLI);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("using the packaged binary"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(plugin_row(&home, None, CLI)[4], "signed");
    assert_help_reaches_binary(&home, Helm::V4);
    assert_help_reaches_binary(&home, Helm::V3);
    let demo = run_ok(
        home.helm(Helm::V4)
            .args(["arc-uninstall", "demo", "--job", "0s"]),
    );
    assert!(
        demo.contains("proof: the AutoscalingRunnerSet was gone at #"),
        "{demo}"
    );

    // The post-renderer package, on a Helm-4-only machine.
    let h4_only = HelmHome::new();
    assert!(
        commands[1][2].ends_with(&format!("/{RENDER}:{VERSION}")),
        "{commands:?}"
    );
    let out = readme_install(&h4_only, &commands[1]);
    assert_installed_signed(&out, &keys, RENDER);
    let rendered = template_with_post_renderer(&h4_only, Helm::V4, |cmd| {
        cmd.args(["--post-renderer", RENDER]);
    });
    assert_rendered("Helm 4, post-renderer from OCI", &rendered);
}
