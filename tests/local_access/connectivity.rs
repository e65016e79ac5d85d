//! Issue #12 item 5: every way a kubeconfig (or Helm's `--kube-*` flags)
//! reaches a real cluster, one test each. Each installs the example runner
//! set in a namespace of its own and runs `helm <flags> arc-uninstall
//! arc-runner-set --force-finalizers -o json` (no ARC controller runs here,
//! so the finalizers go the forced way) with a kubeconfig that reaches the
//! API server only that way, as a user of its own. It then checks, from the
//! API server's audit log, that the plugin's requests and Helm's reached
//! this server as that user, with the same credential (the certificate's or
//! token's id), and none other; and, where the way has one, from the
//! middle-man's own record (proxy, relay, exec plugin).
//!
//! Where a wrong choice could still reach the cluster, the kubeconfig makes
//! it fail: a server address nothing listens on (to be replaced by
//! `--kube-apiserver` or reached only through the proxy), a CA that did not
//! sign the server's certificate (to be replaced by `--kube-ca-file` or
//! skipped by `insecure-skip-tls-verify`), an address the certificate does
//! not name (to be checked for `tls-server-name`), credentials of another
//! user (to be replaced by `--kube-token`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::{Value, json};

use crate::harness::{ClientCert, RELEASE, Request, audit, base64, env, users};
use crate::net::{LoopbackProxy, SniRelay};
use crate::scenario::cli_output::{describe, first_event, summary};
use crate::support::Helm;

/// A name the API server's certificate holds besides its address (kwokctl's
/// serving certificate names the in-cluster service names).
const CERT_NAME: &str = "kubernetes.default.svc";

/// One way to reach the cluster, set up.
struct Way {
    name: String,
    dir: tempfile::TempDir,
    /// The user every request must be made as (`user.username`).
    user: String,
    /// The impersonated user and groups, when impersonating.
    impersonated: Option<(String, Vec<String>)>,
}

impl Way {
    /// A namespace `way-NAME` with the example runner set installed.
    fn new(name: &str) -> Way {
        let env = env();
        let ns = format!("way-{name}");
        env.namespace(&ns);
        env.install_runner_set(&ns, &[]);
        Way {
            name: name.to_string(),
            dir: tempfile::Builder::new()
                .prefix("hau-way-")
                .tempdir_in(env.home.path())
                .expect("way dir"),
            user: String::new(),
            impersonated: None,
        }
    }

    fn namespace(&self) -> String {
        format!("way-{}", self.name)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// A client certificate for user `way-NAME`, bound to cluster-admin; the
    /// requests must be made as that user.
    fn certificate(&mut self) -> ClientCert {
        let user = format!("way-{}", self.name);
        let cert = env().client_cert(&user, None, self.dir.path());
        env().bind_cluster_role(
            &user,
            "cluster-admin",
            json!({"kind": "User", "name": user, "apiGroup": "rbac.authorization.k8s.io"}),
        );
        self.user = user;
        cert
    }

    /// A token of the ServiceAccount `way` in this namespace, bound to
    /// cluster-admin; the requests must be made as it.
    fn token(&mut self) -> String {
        let ns = self.namespace();
        let token = env().service_account_token(&ns, "way");
        env().bind_cluster_role(
            &format!("way-{}", self.name),
            "cluster-admin",
            json!({"kind": "ServiceAccount", "name": "way", "namespace": ns}),
        );
        self.user = format!("system:serviceaccount:{ns}:way");
        token
    }

    /// Writes a kubeconfig with one context of `cluster` and `user`.
    fn kubeconfig(&self, cluster: Value, user: Value) -> PathBuf {
        let config = json!({
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": "way",
            "clusters": [{"name": "way", "cluster": cluster}],
            "users": [{"name": "way", "user": user}],
            "contexts": [{"name": "way", "context": {"cluster": "way", "user": "way"}}],
        });
        let path = self.path("kubeconfig");
        std::fs::write(&path, config.to_string()).expect("write kubeconfig");
        path
    }

    /// Runs the teardown through `helm <global> arc-uninstall` and checks
    /// it succeeded and that every request of the plugin and of Helm
    /// reached this cluster as [`Way::user`]. Returns the run and the
    /// plugin's and Helm's requests.
    fn tear_down(
        &self,
        helm: Helm,
        kubeconfig: &Path,
        global: &[&str],
        server: &str,
    ) -> (Output, Vec<Request>) {
        let env = env();
        let ns = self.namespace();
        let before = audit().len();
        let out = env.plugin(
            helm,
            kubeconfig,
            global,
            &[
                RELEASE,
                "-n",
                &ns,
                "--force-finalizers",
                "--timeout",
                "60s",
                "-o",
                "json",
            ],
            &[],
        );
        let text = describe(&out);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert_eq!(summary(&out)["outcome"], "success", "{text}");
        assert!(
            env.release_left(&ns).is_empty(),
            "left: {:?}\n{text}",
            env.release_left(&ns)
        );
        assert_eq!(first_event(&out, "start")["server"], server, "{text}");

        let ours: Vec<Request> = audit()
            .into_iter()
            .skip(before)
            .filter(|r| r.by_plugin() || r.by_helm())
            .filter(|r| {
                r.namespace() == ns
                    || r.username() == self.user
                    || self.impersonated.as_ref().is_some_and(|(u, _)| {
                        r.impersonated().and_then(|i| i["username"].as_str()) == Some(u)
                    })
            })
            .collect();
        let plugin: Vec<&Request> = ours.iter().filter(|r| r.by_plugin()).collect();
        let helm_requests: Vec<&Request> = ours.iter().filter(|r| r.by_helm()).collect();
        let all = ours
            .iter()
            .map(Request::describe)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            plugin.iter().any(|r| r.verb() == "delete"
                && r.resource() == "autoscalingrunnersets"
                && r.code() == 200),
            "the plugin's DELETE of the runner set is not in the audit log as {}:\n{all}",
            self.user
        );
        assert!(
            plugin
                .iter()
                .any(|r| r.verb() == "watch" || r.verb() == "list"),
            "the plugin listed nothing:\n{all}"
        );
        assert!(
            helm_requests.iter().any(|r| r.verb() == "delete"
                && r.resource() == "secrets"
                && r.name().starts_with("sh.helm.release.v1.")),
            "Helm's DELETE of the release record is not in the audit log as {}:\n{all}",
            self.user
        );
        for r in &ours {
            assert_eq!(
                r.username(),
                self.user,
                "a request as another user: {}\n{all}",
                r.describe()
            );
            let impersonated = r.impersonated().map(|i| {
                let mut groups: Vec<String> = i["groups"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .filter(|g| *g != "system:authenticated")
                    .map(str::to_string)
                    .collect();
                // Helm sends each --kube-as-group twice (it reads its flags
                // twice), and so does the plugin: compared as a set here, as
                // sent by [`users`].
                groups.sort();
                groups.dedup();
                (
                    i["username"].as_str().unwrap_or_default().to_string(),
                    groups,
                )
            });
            assert_eq!(impersonated, self.impersonated, "{}\n{all}", r.describe());
            assert!(!matches!(r.code(), 401 | 403), "refused: {}", r.describe());
        }
        // The same credential (the server's id of the certificate or token).
        assert_eq!(users(&plugin), users(&helm_requests), "{all}");
        (out, ours)
    }
}

/// An address nothing listens on (a port just released).
fn dead_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").to_string()
}

fn cert_files(cert: &ClientCert) -> Value {
    json!({"client-certificate": cert.cert, "client-key": cert.key})
}

fn ca_file() -> Value {
    json!(env().ca_file)
}

/// A CA that did not sign the API server's certificate.
fn another_ca() -> String {
    base64(
        kube_sim::TestCa::new("not the cluster's CA")
            .expect("CA")
            .cert_pem()
            .as_bytes(),
    )
}

#[test]
fn certificate_authority_data() {
    let mut way = Way::new("ca-data");
    let cert = way.certificate();
    let server = env().server();
    let kubeconfig = way.kubeconfig(
        json!({"server": server, "certificate-authority-data": base64(env().ca_pem().as_bytes())}),
        cert_files(&cert),
    );
    way.tear_down(Helm::V4, &kubeconfig, &[], server);
}

#[test]
fn certificate_authority_file() {
    let mut way = Way::new("ca-file");
    let cert = way.certificate();
    let server = env().server();
    let kubeconfig = way.kubeconfig(
        json!({"server": server, "certificate-authority": ca_file()}),
        cert_files(&cert),
    );
    way.tear_down(Helm::V3, &kubeconfig, &[], server);
}

#[test]
fn client_certificate_data() {
    let mut way = Way::new("cert-data");
    let cert = way.certificate();
    let server = env().server();
    let kubeconfig = way.kubeconfig(
        json!({"server": server, "certificate-authority": ca_file()}),
        json!({"client-certificate-data": base64(cert.cert_pem.as_bytes()),
               "client-key-data": base64(cert.key_pem.as_bytes())}),
    );
    way.tear_down(Helm::V4, &kubeconfig, &[], server);
}

#[test]
fn client_certificate_files() {
    let mut way = Way::new("cert-files");
    let cert = way.certificate();
    let server = env().server();
    let kubeconfig = way.kubeconfig(
        json!({"server": server, "certificate-authority-data": base64(env().ca_pem().as_bytes())}),
        cert_files(&cert),
    );
    way.tear_down(Helm::V3, &kubeconfig, &[], server);
}

#[test]
fn bearer_token() {
    let mut way = Way::new("token");
    let token = way.token();
    let server = env().server();
    let kubeconfig = way.kubeconfig(
        json!({"server": server, "certificate-authority": ca_file()}),
        json!({"token": token}),
    );
    let (out, _) = way.tear_down(Helm::V4, &kubeconfig, &[], server);
    assert!(
        !describe(&out).contains(&token),
        "the token is never printed"
    );
}

#[test]
fn bearer_token_file() {
    let mut way = Way::new("token-file");
    let token = way.token();
    let file = way.path("token");
    std::fs::write(&file, &token).expect("write token");
    let server = env().server();
    let kubeconfig = way.kubeconfig(
        json!({"server": server, "certificate-authority": ca_file()}),
        json!({"tokenFile": file}),
    );
    way.tear_down(Helm::V3, &kubeconfig, &[], server);
}

#[test]
fn insecure_skip_tls_verify() {
    let mut way = Way::new("insecure");
    let cert = way.certificate();
    let server = env().server();
    // No CA at all: only skipping verification reaches the server.
    let kubeconfig = way.kubeconfig(
        json!({"server": server, "insecure-skip-tls-verify": true}),
        cert_files(&cert),
    );
    way.tear_down(Helm::V4, &kubeconfig, &[], server);
}

#[test]
fn tls_server_name() {
    let mut way = Way::new("tls-server-name");
    let cert = way.certificate();
    // 127.0.0.2 is not in the server's certificate: only a client that
    // checks the certificate for `tls-server-name` accepts it.
    let relay = SniRelay::start(env().server_addr());
    let server = format!("https://{}", relay.addr());
    let kubeconfig = way.kubeconfig(
        json!({"server": server, "certificate-authority": ca_file(), "tls-server-name": CERT_NAME}),
        cert_files(&cert),
    );
    way.tear_down(Helm::V4, &kubeconfig, &[], &server);
    let names = relay.server_names();
    assert!(
        names.len() >= 2,
        "the plugin and Helm connected through the relay: {names:?}"
    );
    assert!(
        names.iter().all(|n| n.as_deref() == Some(CERT_NAME)),
        "every connection asked for {CERT_NAME}: {names:?}"
    );
}

#[test]
fn exec_credential_plugin() {
    let mut way = Way::new("exec");
    let token = way.token();
    let credential = json!({"apiVersion": "client.authentication.k8s.io/v1", "kind": "ExecCredential",
                            "status": {"token": token}});
    std::fs::write(way.path("credential.json"), credential.to_string()).expect("write credential");
    let script = way.path("get-token");
    // Records which program ran it (its parent), then prints the credential.
    std::fs::write(
        &script,
        "#!/bin/sh\ncat /proc/$PPID/comm >> \"$0.calls\"\ncat \"$(dirname \"$0\")/credential.json\"\n",
    )
    .expect("write script");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    let server = env().server();
    let kubeconfig = way.kubeconfig(
        json!({"server": server, "certificate-authority": ca_file()}),
        json!({"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": script,
                        "interactiveMode": "Never"}}),
    );
    way.tear_down(Helm::V4, &kubeconfig, &[], server);
    let calls = std::fs::read_to_string(way.path("get-token.calls")).expect("the plugin ran");
    let callers: Vec<&str> = calls.lines().collect();
    assert!(
        callers.iter().any(|c| c.starts_with("helm-arc-unin")),
        "the plugin ran it: {callers:?}"
    );
    assert!(callers.contains(&"helm"), "Helm ran it: {callers:?}");
}

/// `proxy-url` of `scheme`: the server address is one nothing listens on,
/// which only the proxy maps to the API server.
fn proxy_url(name: &str, scheme: &str, protocol: &str) {
    let mut way = Way::new(name);
    let cert = way.certificate();
    let unreachable = dead_address();
    let proxy = LoopbackProxy::start(HashMap::from([(unreachable.clone(), env().server_addr())]));
    let server = format!("https://{unreachable}");
    let kubeconfig = way.kubeconfig(
        json!({"server": server, "certificate-authority": ca_file(),
               "proxy-url": format!("{scheme}://{}", proxy.addr())}),
        cert_files(&cert),
    );
    way.tear_down(Helm::V4, &kubeconfig, &[], &server);
    let tunnels = proxy.tunnels();
    assert!(
        tunnels.len() >= 2,
        "the plugin and Helm went through the proxy: {tunnels:?}"
    );
    assert!(
        tunnels
            .iter()
            .all(|t| t.protocol == protocol && t.target == unreachable && t.opened),
        "{tunnels:?}"
    );
}

#[test]
fn proxy_url_http() {
    proxy_url("proxy-http", "http", "http-connect");
}

#[test]
fn proxy_url_socks5() {
    proxy_url("proxy-socks5", "socks5", "socks5");
}

/// Helm's `--kube-apiserver`: the kubeconfig names an address nothing listens on.
fn kube_apiserver(helm: Helm) {
    let mut way = Way::new(&format!("kube-apiserver-{}", helm.slot()));
    let cert = way.certificate();
    let kubeconfig = way.kubeconfig(
        json!({"server": format!("https://{}", dead_address()), "certificate-authority": ca_file()}),
        cert_files(&cert),
    );
    let server = env().server();
    way.tear_down(helm, &kubeconfig, &["--kube-apiserver", server], server);
}

/// Helm's `--kube-token`: the kubeconfig's user has a token of another
/// ServiceAccount (one with no rights), which the flag replaces.
fn kube_token(helm: Helm) {
    let mut way = Way::new(&format!("kube-token-{}", helm.slot()));
    let decoy = env().service_account_token(&way.namespace(), "decoy");
    let token = way.token();
    let server = env().server();
    let kubeconfig = way.kubeconfig(
        json!({"server": server, "certificate-authority": ca_file()}),
        json!({"token": decoy}),
    );
    let (out, _) = way.tear_down(helm, &kubeconfig, &["--kube-token", &token], server);
    assert_eq!(
        first_event(&out, "start")["user"],
        "bearer token from HELM_KUBETOKEN"
    );
}

/// Helm's `--kube-token` for a kubeconfig user with a client certificate:
/// client-go sends both, and the API server authenticates the certificate
/// first, so Helm and the plugin act as the certificate's user, and the
/// plugin says so.
fn kube_token_beside_a_client_certificate(helm: Helm) {
    let mut way = Way::new(&format!("kube-token-cert-{}", helm.slot()));
    let token = env().service_account_token(&way.namespace(), "unused");
    let cert = way.certificate();
    let server = env().server();
    let kubeconfig = way.kubeconfig(
        json!({"server": server, "certificate-authority": ca_file()}),
        cert_files(&cert),
    );
    let (out, _) = way.tear_down(helm, &kubeconfig, &["--kube-token", &token], server);
    let user = first_event(&out, "start")["user"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(user.starts_with("way (client certificate"), "{user}");
}

/// Helm's `--kube-as-user` and `--kube-as-group`: the kubeconfig's user
/// (cluster-admin, so it may impersonate) acts as another user, whose group
/// holds the rights.
fn kube_as_user_and_group(helm: Helm) {
    let mut way = Way::new(&format!("kube-as-{}", helm.slot()));
    let cert = way.certificate();
    let as_user = format!("way-as-{}", helm.slot());
    let (group, other) = (
        format!("way-as-{}-admins", helm.slot()),
        format!("way-as-{}-ops", helm.slot()),
    );
    env().bind_cluster_role(
        &group,
        "cluster-admin",
        json!({"kind": "Group", "name": group, "apiGroup": "rbac.authorization.k8s.io"}),
    );
    let mut groups = vec![group.clone(), other.clone()];
    groups.sort();
    way.impersonated = Some((as_user.clone(), groups));
    let server = env().server();
    let kubeconfig = way.kubeconfig(
        json!({"server": server, "certificate-authority": ca_file()}),
        cert_files(&cert),
    );
    let (out, _) = way.tear_down(
        helm,
        &kubeconfig,
        &[
            "--kube-as-user",
            &as_user,
            "--kube-as-group",
            &group,
            "--kube-as-group",
            &other,
        ],
        server,
    );
    assert_eq!(first_event(&out, "start")["as_user"], as_user.as_str());
}

/// Helm's `--kube-ca-file`: the kubeconfig trusts another CA.
fn kube_ca_file(helm: Helm) {
    let mut way = Way::new(&format!("kube-ca-file-{}", helm.slot()));
    let cert = way.certificate();
    let server = env().server();
    let kubeconfig = way.kubeconfig(
        json!({"server": server, "certificate-authority-data": another_ca()}),
        cert_files(&cert),
    );
    let ca = env().ca_file.display().to_string();
    way.tear_down(helm, &kubeconfig, &["--kube-ca-file", &ca], server);
}

/// Helm's `--kube-insecure-skip-tls-verify=true`: the kubeconfig trusts another CA.
fn kube_insecure_skip_tls_verify(helm: Helm) {
    let mut way = Way::new(&format!("kube-insecure-{}", helm.slot()));
    let cert = way.certificate();
    let server = env().server();
    let kubeconfig = way.kubeconfig(
        json!({"server": server, "certificate-authority-data": another_ca()}),
        cert_files(&cert),
    );
    way.tear_down(
        helm,
        &kubeconfig,
        &["--kube-insecure-skip-tls-verify=true"],
        server,
    );
}

/// Helm's `--kube-tls-server-name`: the server is reached at an address its
/// certificate does not name.
fn kube_tls_server_name(helm: Helm) {
    let mut way = Way::new(&format!("kube-tls-server-name-{}", helm.slot()));
    let cert = way.certificate();
    let relay = SniRelay::start(env().server_addr());
    let server = format!("https://{}", relay.addr());
    let kubeconfig = way.kubeconfig(
        json!({"server": server, "certificate-authority": ca_file()}),
        cert_files(&cert),
    );
    way.tear_down(
        helm,
        &kubeconfig,
        &["--kube-tls-server-name", CERT_NAME],
        &server,
    );
    let names = relay.server_names();
    assert!(
        names.len() >= 2 && names.iter().all(|n| n.as_deref() == Some(CERT_NAME)),
        "{names:?}"
    );
}

crate::on_both_helms!(
    kube_apiserver,
    kube_token,
    kube_token_beside_a_client_certificate,
    kube_as_user_and_group,
    kube_ca_file,
    kube_insecure_skip_tls_verify,
    kube_tls_server_name,
);
