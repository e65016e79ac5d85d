//! The plugin acts on the cluster Helm acts on, as the user Helm acts as
//! (issue #11): two simulators, A (where the kubeconfig points) and B (where
//! the release is), and a run of `helm <connection flags> arc-uninstall ...`
//! through real Helm 3.17.3 and 4.1.4, one test per connection input Helm
//! passes to plugins. Each checks, from the servers' request records, that
//! A got no request at all and that every request of the plugin and of Helm
//! reached B with the same credentials (`Authorization`, `Impersonate-*`,
//! TLS server name).
//!
//! Slow (seconds each): their own test binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/scenario/mod.rs"]
mod scenario;
mod support;

use arc_sim::controller::ArcConfig;
use kube_sim::{RequestRecord, Sim, SimConfig, TestCa};
use scenario::cli_output::{describe, first_event, summary};
use scenario::event_log::is_write;
use scenario::sim_env::{ARC_API, ScenarioEnv, chart, start, wait_until};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;
use support::{Helm, install_plugin, output};

const RELEASE: &str = "arc-runner-set";
const NS: &str = "arc-runners";
/// The actor (User-Agent) of the plugin's own requests.
const OURS: &str = "helm-arc-uninstall";

/// How the requests to B must look.
#[derive(Clone, Debug, Default, PartialEq)]
struct Credentials {
    authorization: Option<String>,
    as_user: Option<String>,
    as_groups: Vec<String>,
    tls: bool,
    sni: Option<String>,
}

/// Server A (empty: the decoy the kubeconfig names) and server B (ARC, the
/// controller and a ready runner set), with the plugin installed in B's Helm home.
struct TwoServers {
    a: Sim,
    b: ScenarioEnv,
}

impl TwoServers {
    /// `b_server_name`: the name B's certificate is checked for, when it is
    /// not the address (`tls-server-name` in B's kubeconfig).
    fn start(
        helm: Helm,
        a_config: SimConfig,
        b_config: SimConfig,
        b_server_name: Option<&str>,
    ) -> TwoServers {
        let a = Sim::start(a_config).expect("start A");
        let b = start(helm, b_config, ArcConfig::default());
        let b_kubeconfig = match b_server_name {
            Some(name) => b.sim().sim.kubeconfig().replace(
                "    server: ",
                &format!("    tls-server-name: {name}\n    server: "),
            ),
            None => b.sim().sim.kubeconfig(),
        };
        std::fs::write(b.helm.home.kubeconfig(), &b_kubeconfig).unwrap();
        // Installed through a kubeconfig that names B, then A takes its place.
        b.install_controller(&[]);
        b.helm_ok(&[
            "install",
            RELEASE,
            chart("arc-runner-set").to_str().unwrap(),
            "-n",
            NS,
            "--create-namespace",
            "--set",
            "minRunners=1",
        ]);
        wait_until("runner set ready", Duration::from_secs(20), || {
            b.list(ARC_API, "EphemeralRunner", Some(NS))
                .iter()
                .any(|r| r.pointer("/status/runnerId").is_some())
                && b.list(ARC_API, "AutoscalingListener", None).len() == 1
        });
        install_plugin(&b.helm.home, helm);
        let env = TwoServers { a, b };
        env.write_file("kubeconfig-b", &b_kubeconfig);
        env.write_kubeconfig(&env.a.kubeconfig());
        env
    }

    fn path(&self, name: &str) -> PathBuf {
        self.b.helm.home.path().join(name)
    }

    fn write_file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Replace the kubeconfig of the Helm home (`KUBECONFIG`).
    fn write_kubeconfig(&self, text: &str) {
        std::fs::write(self.b.helm.home.kubeconfig(), text).unwrap();
    }

    /// B's CA as a file (`--kube-ca-file`).
    fn b_ca_file(&self) -> String {
        let pem = self.b.sim().sim.ca_pem().expect("B serves TLS");
        self.write_file("ca-b.pem", pem).display().to_string()
    }

    /// `helm <global> arc-uninstall RELEASE -n NS -o json --timeout 30s`,
    /// as a user types it; both servers' records are cut at the start.
    fn run(&self, global: &[&str]) -> Run {
        self.run_with(global, &["-o", "json"])
    }

    /// [`TwoServers::run`] with the plugin's own `args` instead of `-o json`.
    fn run_with(&self, global: &[&str], args: &[&str]) -> Run {
        let (a_from, b_from) = (self.a.requests().len(), self.b.sim().sim.requests().len());
        let mut cmd = self.b.helm.home.helm(self.b.helm.version);
        cmd.args(global)
            .args(["arc-uninstall", RELEASE, "-n", NS, "--timeout", "30s"])
            .args(args);
        cmd.env(
            "HELM_ARC_UNINSTALL_STATE_DIR",
            self.b.helm.home.path().join("state"),
        );
        let out = output(&mut cmd);
        Run {
            out,
            a: self.a.requests().split_off(a_from),
            b: self.b.sim().sim.requests().split_off(b_from),
        }
    }

    fn release_objects_left(&self) -> Vec<String> {
        let mut left = Vec::new();
        for (api_version, kind) in [
            ("v1", "ServiceAccount"),
            ("v1", "Secret"),
            ("rbac.authorization.k8s.io/v1", "Role"),
            ("rbac.authorization.k8s.io/v1", "RoleBinding"),
            (ARC_API, "AutoscalingRunnerSet"),
        ] {
            for o in self.b.list(api_version, kind, Some(NS)) {
                if o.pointer("/metadata/annotations/meta.helm.sh~1release-name")
                    .and_then(Value::as_str)
                    == Some(RELEASE)
                {
                    left.push(format!("{kind}/{}", o["metadata"]["name"]));
                }
            }
        }
        left
    }

    /// The release record in B (read directly: `helm status` would go to A).
    fn release_record_exists(&self) -> bool {
        !self.b.list("v1", "Secret", Some(NS)).iter().all(|s| {
            s.pointer("/metadata/labels/owner").and_then(Value::as_str) != Some("helm")
                || s.pointer("/metadata/labels/status").and_then(Value::as_str)
                    == Some("uninstalled")
        })
    }
}

/// One run and the requests each server got meanwhile.
struct Run {
    out: Output,
    a: Vec<RequestRecord>,
    b: Vec<RequestRecord>,
}

fn is_helm(r: &RequestRecord) -> bool {
    r.actor != OURS && r.actor.to_lowercase().starts_with("helm")
}

impl Run {
    /// A got nothing; B got the plugin's reads (and writes) and Helm's, every
    /// one of them with `expected` credentials, and none was refused for them.
    fn assert_same_server_same_credentials(&self, expected: &Credentials, b_url: &str) {
        let text = describe(&self.out);
        assert!(
            self.a.is_empty(),
            "server A (the kubeconfig's) got requests: {:?}\n{text}",
            self.a
                .iter()
                .map(|r| format!("{} {} {}", r.actor, r.method, r.path))
                .collect::<Vec<_>>()
        );
        let ours: Vec<&RequestRecord> = self.b.iter().filter(|r| r.actor == OURS).collect();
        let helm: Vec<&RequestRecord> = self.b.iter().filter(|r| is_helm(r)).collect();
        assert!(
            ours.iter().any(|r| r.method == "GET" && !r.watch),
            "the plugin read nothing on B\n{text}"
        );
        assert!(!helm.is_empty(), "Helm made no request to B\n{text}");
        // Exactly Helm's headers (Helm sends each --kube-as-group twice:
        // it parses its global flags twice; so does this plugin, from
        // HELM_KUBEASGROUPS).
        let groups_of = |rs: &[&RequestRecord]| {
            let mut all: Vec<Vec<String>> =
                rs.iter().map(|r| r.impersonate_groups.clone()).collect();
            all.dedup();
            all
        };
        assert_eq!(groups_of(&ours), groups_of(&helm), "{text}");
        for r in ours.iter().chain(&helm) {
            let mut as_groups = r.impersonate_groups.clone();
            as_groups.sort();
            as_groups.dedup();
            let seen = Credentials {
                authorization: r.authorization.clone(),
                as_user: r.impersonate_user.clone(),
                as_groups,
                tls: r.tls,
                sni: r.sni.clone(),
            };
            assert_eq!(
                &seen, expected,
                "{} {} {} {}",
                r.actor, r.method, r.path, r.query
            );
            assert_ne!(r.code, 401, "{} {} was refused", r.actor, r.path);
        }
        let start = first_event(&self.out, "start");
        assert_eq!(start["server"], b_url, "{start}");
    }

    /// Exit 0, the plugin deleted the runner set on B.
    fn assert_torn_down(&self, env: &TwoServers) {
        assert_eq!(self.out.status.code(), Some(0), "{}", describe(&self.out));
        assert_eq!(summary(&self.out)["outcome"], "success");
        assert!(
            self.b.iter().any(|r| r.actor == OURS
                && r.method == "DELETE"
                && r.path.contains("/autoscalingrunnersets/")),
            "the plugin deleted the runner set on B"
        );
        assert!(
            env.release_objects_left().is_empty(),
            "left on B: {:?}",
            env.release_objects_left()
        );
        assert!(!env.release_record_exists(), "the release record is gone");
    }
}

fn plain(helm: Helm) -> TwoServers {
    TwoServers::start(helm, SimConfig::default(), SimConfig::default(), None)
}

/// A and B over TLS, each with its own CA; B's certificate names `names`
/// (the first is the name to check when it is not 127.0.0.1).
fn tls(helm: Helm, names: &[&str], b_tokens: &[&str]) -> TwoServers {
    let ca_a = TestCa::new("CA of A").unwrap();
    let ca_b = TestCa::new("CA of B").unwrap();
    TwoServers::start(
        helm,
        SimConfig {
            tls: Some(ca_a.issue(&["127.0.0.1"]).unwrap()),
            tokens: vec!["token-of-a".into()],
            ..SimConfig::default()
        },
        SimConfig {
            tls: Some(ca_b.issue(names).unwrap()),
            tokens: b_tokens.iter().map(|t| t.to_string()).collect(),
            ..SimConfig::default()
        },
        names.first().filter(|n| **n != "127.0.0.1").copied(),
    )
}

/// With `--kube-apiserver` the kubeconfig user's credentials (A's token)
/// still go along, in Helm's requests and the plugin's alike.
fn kubeconfig_users_token() -> Option<String> {
    Some("Bearer token-of-a".into())
}

/// HELM_KUBEAPISERVER (`helm --kube-apiserver B`).
fn kube_apiserver(helm: Helm) {
    let env = plain(helm);
    let b = env.b.sim().sim.url();
    let run = env.run(&["--kube-apiserver", &b]);
    run.assert_same_server_same_credentials(&Credentials::default(), &b);
    run.assert_torn_down(&env);
}

/// The reproduction of issue #11: with the controller stopped in B, the
/// plugin must see B's wedge and refuse, not find everything "already gone"
/// in A, run `helm uninstall` on B and report success.
fn kube_apiserver_sees_the_wedge_helm_would_leave(helm: Helm) {
    let env = plain(helm);
    env.b.sim().arc.stop();
    let b = env.b.sim().sim.url();
    // Every run says where it acts, and as whom.
    let text = env.run_with(&["--kube-apiserver", &b], &[]);
    assert_eq!(text.out.status.code(), Some(4), "{}", describe(&text.out));
    let stdout = String::from_utf8_lossy(&text.out.stdout);
    assert!(
        stdout.contains(&format!(
            "on {b} (context sim, user anonymous (plain HTTP: no credentials are sent, as Helm does))"
        )),
        "{stdout}"
    );
    let run = env.run(&["--kube-apiserver", &b]);
    assert_eq!(run.out.status.code(), Some(4), "{}", describe(&run.out));
    assert_eq!(first_event(&run.out, "refused")["cause"], "controller_down");
    assert!(run.a.is_empty(), "A got requests");
    assert!(
        !run.b
            .iter()
            .any(|r| r.method != "GET" && (r.actor == OURS || is_helm(r))),
        "nothing was written on B"
    );
    assert!(env.release_record_exists());
    assert!(env.b.log().iter().all(|e| e.actor != OURS || !is_write(e)));
}

/// HELM_KUBECONTEXT (`helm --kube-context b`).
fn kube_context(helm: Helm) {
    let env = plain(helm);
    let b = env.b.sim().sim.url();
    let both = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: a\nclusters:\n- name: a\n  cluster: {{server: '{}'}}\n\
         - name: b\n  cluster: {{server: '{b}'}}\ncontexts:\n- name: a\n  context: {{cluster: a, user: u}}\n\
         - name: b\n  context: {{cluster: b, user: u}}\nusers:\n- name: u\n  user: {{}}\n",
        env.a.url()
    );
    env.write_kubeconfig(&both);
    let run = env.run(&["--kube-context", "b"]);
    run.assert_same_server_same_credentials(&Credentials::default(), &b);
    run.assert_torn_down(&env);
    assert_eq!(first_event(&run.out, "start")["context"], "b");
}

/// KUBECONFIG (`helm --kubeconfig FILE`, while KUBECONFIG names A's).
fn kubeconfig(helm: Helm) {
    let env = plain(helm);
    let b = env.b.sim().sim.url();
    let file = env.path("kubeconfig-b").display().to_string();
    let run = env.run(&["--kubeconfig", &file]);
    run.assert_same_server_same_credentials(&Credentials::default(), &b);
    run.assert_torn_down(&env);
}

/// HELM_KUBETOKEN (`helm --kube-token`): B accepts only its own token; the
/// kubeconfig's user has A's.
fn kube_token(helm: Helm) {
    let env = tls(helm, &["127.0.0.1"], &["token-of-b"]);
    let b = env.b.sim().sim.url();
    let ca = env.b_ca_file();
    let run = env.run(&[
        "--kube-apiserver",
        &b,
        "--kube-ca-file",
        &ca,
        "--kube-token",
        "token-of-b",
    ]);
    run.assert_same_server_same_credentials(
        &Credentials {
            authorization: Some("Bearer token-of-b".into()),
            tls: true,
            ..Credentials::default()
        },
        &b,
    );
    run.assert_torn_down(&env);
    let start = first_event(&run.out, "start");
    assert_eq!(start["user"], "bearer token from HELM_KUBETOKEN");
    let all = format!("{}{}", describe(&run.out), start);
    assert!(!all.contains("token-of-b"), "the token is never printed");
}

/// HELM_KUBEASUSER (`helm --kube-as-user`).
fn kube_as_user(helm: Helm) {
    let env = plain(helm);
    let b = env.b.sim().sim.url();
    let run = env.run(&["--kube-apiserver", &b, "--kube-as-user", "alice"]);
    run.assert_same_server_same_credentials(
        &Credentials {
            as_user: Some("alice".into()),
            ..Credentials::default()
        },
        &b,
    );
    run.assert_torn_down(&env);
    assert_eq!(first_event(&run.out, "start")["as_user"], "alice");
}

/// HELM_KUBEASGROUPS (`helm --kube-as-group`, twice).
fn kube_as_group(helm: Helm) {
    let env = plain(helm);
    let b = env.b.sim().sim.url();
    let run = env.run(&[
        "--kube-apiserver",
        &b,
        "--kube-as-user",
        "alice",
        "--kube-as-group",
        "ops",
        "--kube-as-group",
        "arc-admins",
    ]);
    run.assert_same_server_same_credentials(
        &Credentials {
            as_user: Some("alice".into()),
            as_groups: vec!["arc-admins".into(), "ops".into()],
            ..Credentials::default()
        },
        &b,
    );
    run.assert_torn_down(&env);
}

/// HELM_KUBECAFILE (`helm --kube-ca-file`): the kubeconfig trusts A's CA only.
fn kube_ca_file(helm: Helm) {
    let env = tls(helm, &["127.0.0.1"], &[]);
    let b = env.b.sim().sim.url();
    let ca = env.b_ca_file();
    let run = env.run(&["--kube-apiserver", &b, "--kube-ca-file", &ca]);
    run.assert_same_server_same_credentials(
        &Credentials {
            authorization: kubeconfig_users_token(),
            tls: true,
            ..Credentials::default()
        },
        &b,
    );
    run.assert_torn_down(&env);
}

/// HELM_KUBEINSECURE_SKIP_TLS_VERIFY (`helm --kube-insecure-skip-tls-verify=true`:
/// after the bare flag, Helm 3 and 4 pass a plugin no arguments at all).
fn kube_insecure_skip_tls_verify(helm: Helm) {
    let env = tls(helm, &["127.0.0.1"], &[]);
    let b = env.b.sim().sim.url();
    let run = env.run(&[
        "--kube-apiserver",
        &b,
        "--kube-insecure-skip-tls-verify=true",
    ]);
    run.assert_same_server_same_credentials(
        &Credentials {
            authorization: kubeconfig_users_token(),
            tls: true,
            ..Credentials::default()
        },
        &b,
    );
    run.assert_torn_down(&env);
}

/// HELM_KUBETLS_SERVER_NAME (`helm --kube-tls-server-name`): B's certificate
/// names only `b.kube-sim.test`, not the address it is reached at.
fn kube_tls_server_name(helm: Helm) {
    let env = tls(helm, &["b.kube-sim.test"], &[]);
    let b = env.b.sim().sim.url();
    let ca = env.b_ca_file();
    let run = env.run(&[
        "--kube-apiserver",
        &b,
        "--kube-ca-file",
        &ca,
        "--kube-tls-server-name",
        "b.kube-sim.test",
    ]);
    run.assert_same_server_same_credentials(
        &Credentials {
            authorization: kubeconfig_users_token(),
            tls: true,
            sni: Some("b.kube-sim.test".into()),
            ..Credentials::default()
        },
        &b,
    );
    run.assert_torn_down(&env);
}

crate::on_both_helms!(
    kube_apiserver,
    kube_apiserver_sees_the_wedge_helm_would_leave,
    kube_context,
    kubeconfig,
    kube_token,
    kube_as_user,
    kube_as_group,
    kube_ca_file,
    kube_insecure_skip_tls_verify,
    kube_tls_server_name,
);
