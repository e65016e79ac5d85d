//! Which cluster, as which user: the connection Helm would use, resolved from
//! the same inputs and with the same precedence (client-go's `clientcmd`, as
//! Helm's `genericclioptions.ConfigFlags` drives it).
//!
//! Helm hands its connection flags to a plugin as environment variables:
//! `--kubeconfig` as `KUBECONFIG` (a path list), `--kube-context` as
//! `HELM_KUBECONTEXT`, and the overrides `--kube-apiserver`, `--kube-token`,
//! `--kube-as-user`, `--kube-as-group`, `--kube-ca-file`,
//! `--kube-insecure-skip-tls-verify` and `--kube-tls-server-name` as
//! `HELM_KUBEAPISERVER`, `HELM_KUBETOKEN`, `HELM_KUBEASUSER`,
//! `HELM_KUBEASGROUPS` (comma-joined), `HELM_KUBECAFILE`,
//! `HELM_KUBEINSECURE_SKIP_TLS_VERIFY` and `HELM_KUBETLS_SERVER_NAME`; an
//! empty value means "not given". The `helm` this plugin runs reads the same
//! variables, so both act on the same cluster only if this module resolves
//! them exactly as client-go does:
//!
//! 1. the context: `HELM_KUBECONTEXT`, else the kubeconfig's `current-context`
//!    (a named context that does not exist is an error; a missing
//!    current context is an empty one);
//! 2. its cluster and user entries, then the overrides on top: a non-empty
//!    value replaces the kubeconfig's; a CA file or
//!    `insecure-skip-tls-verify=true` replaces the kubeconfig's CA and TLS
//!    verification settings together; a server or TLS server name override
//!    replaces the kubeconfig's `tls-server-name`;
//! 3. impersonation only with a user to impersonate (groups alone are
//!    dropped by client-go);
//! 4. over plain `http://` no credentials are sent (client-go reads them
//!    only for TLS), impersonation headers are;
//! 5. with no server from the kubeconfig or the overrides, the in-cluster
//!    service account, with only the token, CA file and TLS verification
//!    overrides applied.
//!
//! Where Helm would do something this plugin cannot do the same way, or
//! would silently ignore an input, [`resolve`] refuses with an error naming
//! the variable: guessing could mean acting on another cluster or as another
//! user than Helm. [`resolve`] is pure; reading the kubeconfig files and the
//! in-cluster environment happens in [`crate::kube`].

use kube::config::{AuthInfo, Cluster as ClusterEntry, Kubeconfig};
use secrecy::SecretString;
use serde::Serialize;

/// `KUBECONFIG`: the kubeconfig path list (Helm's `--kubeconfig`).
pub const KUBECONFIG: &str = "KUBECONFIG";
/// Helm's `--kube-context`.
pub const HELM_KUBECONTEXT: &str = "HELM_KUBECONTEXT";
/// Helm's `--kube-apiserver`.
pub const HELM_KUBEAPISERVER: &str = "HELM_KUBEAPISERVER";
/// Helm's `--kube-token`.
pub const HELM_KUBETOKEN: &str = "HELM_KUBETOKEN";
/// Helm's `--kube-as-user`.
pub const HELM_KUBEASUSER: &str = "HELM_KUBEASUSER";
/// Helm's `--kube-as-group` (comma-joined).
pub const HELM_KUBEASGROUPS: &str = "HELM_KUBEASGROUPS";
/// Helm's `--kube-ca-file`.
pub const HELM_KUBECAFILE: &str = "HELM_KUBECAFILE";
/// Helm's `--kube-insecure-skip-tls-verify`.
pub const HELM_KUBEINSECURE_SKIP_TLS_VERIFY: &str = "HELM_KUBEINSECURE_SKIP_TLS_VERIFY";
/// Helm's `--kube-tls-server-name`.
pub const HELM_KUBETLS_SERVER_NAME: &str = "HELM_KUBETLS_SERVER_NAME";

/// A bearer token: compared and passed on, never shown (`Debug` prints `<redacted>`).
#[derive(Clone, PartialEq, Eq)]
pub struct Token(pub String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::str::FromStr for Token {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Token(s.to_string()))
    }
}

/// What Helm gives a plugin to reach the cluster. Empty strings mean "not
/// given", as Helm sets every variable, empty for flags not used.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inputs {
    /// `KUBECONFIG`.
    pub kubeconfig: Option<String>,
    /// `HELM_KUBECONTEXT`.
    pub context: Option<String>,
    /// `HELM_KUBEAPISERVER`.
    pub api_server: Option<String>,
    /// `HELM_KUBETOKEN`.
    pub token: Option<Token>,
    /// `HELM_KUBEASUSER`.
    pub as_user: Option<String>,
    /// `HELM_KUBEASGROUPS`, split.
    pub as_groups: Vec<String>,
    /// `HELM_KUBECAFILE`.
    pub ca_file: Option<String>,
    /// `HELM_KUBEINSECURE_SKIP_TLS_VERIFY`, as given (checked by [`resolve`]).
    pub insecure_skip_tls_verify: Option<String>,
    /// `HELM_KUBETLS_SERVER_NAME`.
    pub tls_server_name: Option<String>,
}

impl Inputs {
    /// The same inputs with empty values dropped.
    pub fn normalized(&self) -> Inputs {
        let some = |v: &Option<String>| v.clone().filter(|s| !s.trim().is_empty());
        Inputs {
            kubeconfig: some(&self.kubeconfig),
            context: some(&self.context),
            api_server: some(&self.api_server),
            token: self.token.clone().filter(|t| !t.0.trim().is_empty()),
            as_user: some(&self.as_user),
            as_groups: self
                .as_groups
                .iter()
                .filter(|g| !g.trim().is_empty())
                .cloned()
                .collect(),
            ca_file: some(&self.ca_file),
            insecure_skip_tls_verify: some(&self.insecure_skip_tls_verify),
            tls_server_name: some(&self.tls_server_name),
        }
    }

    /// `HELM_KUBEINSECURE_SKIP_TLS_VERIFY` as a bool, parsed as Go's
    /// `strconv.ParseBool` does (what Helm uses).
    pub fn insecure(&self) -> Result<bool, ConnectionError> {
        match self.insecure_skip_tls_verify.as_deref().map(str::trim) {
            None | Some("") => Ok(false),
            Some("1" | "t" | "T" | "TRUE" | "true" | "True") => Ok(true),
            Some("0" | "f" | "F" | "FALSE" | "false" | "False") => Ok(false),
            Some(other) => Err(ConnectionError::Input {
                var: HELM_KUBEINSECURE_SKIP_TLS_VERIFY,
                problem: format!("`{other}` is not a boolean (true or false)"),
            }),
        }
    }

    /// The environment a `helm` child process gets so that it resolves the
    /// same connection: every variable, empty when not given (Helm reads an
    /// empty one as unset), and `KUBECONFIG` when given.
    pub fn helm_env(&self) -> Result<Vec<(&'static str, String)>, ConnectionError> {
        let n = self.normalized();
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut env = vec![
            (HELM_KUBECONTEXT, text(&n.context)),
            (HELM_KUBEAPISERVER, text(&n.api_server)),
            (
                HELM_KUBETOKEN,
                n.token.as_ref().map(|t| t.0.clone()).unwrap_or_default(),
            ),
            (HELM_KUBEASUSER, text(&n.as_user)),
            (HELM_KUBEASGROUPS, n.as_groups.join(",")),
            (HELM_KUBECAFILE, text(&n.ca_file)),
            (HELM_KUBEINSECURE_SKIP_TLS_VERIFY, n.insecure()?.to_string()),
            (HELM_KUBETLS_SERVER_NAME, text(&n.tls_server_name)),
        ];
        if let Some(k) = n.kubeconfig {
            env.push((KUBECONFIG, k));
        }
        Ok(env)
    }
}

/// The in-cluster service account (client-go's `rest.InClusterConfig`), as
/// found by the edge: only when its environment and token file exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InCluster {
    /// `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT`.
    pub server: String,
    /// The service account's CA file.
    pub ca_file: String,
    /// The service account's token file.
    pub token_file: String,
    /// The service account's namespace, if readable.
    pub namespace: Option<String>,
}

/// Who the requests are made as, for people and the `start` event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// The credentials used: the kubeconfig user's name, `HELM_KUBETOKEN`,
    /// the in-cluster service account, or anonymous.
    pub user: String,
    /// The user impersonated (`Impersonate-User`), if any.
    pub as_user: Option<String>,
    /// The groups impersonated (`Impersonate-Group`).
    pub as_groups: Vec<String>,
}

/// The API server, context and user a run acts on and as (printed by every
/// run, and the `server`, `context`, `user`, `as_user`, `as_groups` fields
/// of the `start` event).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The API server URL.
    pub server: String,
    /// The kubeconfig context (`None`: no context, or in-cluster).
    pub context: Option<String>,
    /// The credentials used (see [`Identity::user`]).
    pub user: String,
    /// The user impersonated, if any.
    pub as_user: Option<String>,
    /// The groups impersonated.
    pub as_groups: Vec<String>,
}

impl Target {
    /// One line for people: `https://… (context c, user u, as v in groups g1, g2)`.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{} (context {}, user {}",
            self.server,
            self.context.as_deref().unwrap_or("none"),
            self.user
        );
        if let Some(as_user) = &self.as_user {
            text.push_str(&format!(", as {as_user}"));
            if !self.as_groups.is_empty() {
                text.push_str(&format!(" in groups {}", self.as_groups.join(", ")));
            }
        }
        text.push(')');
        text
    }
}

/// The resolved connection.
#[derive(Clone, Debug)]
pub struct Spec {
    /// The API server URL.
    pub server: String,
    /// The kubeconfig context used (`None`: none, or in-cluster).
    pub context: Option<String>,
    /// The context's (or service account's) namespace.
    pub namespace: Option<String>,
    /// The cluster entry with the overrides applied.
    pub cluster: ClusterEntry,
    /// The user entry with the overrides applied.
    pub auth: AuthInfo,
    /// Who the requests are made as.
    pub identity: Identity,
    /// The proxy the server is reached through, as Helm would choose it
    /// (see [`super::proxy`]; set by [`crate::kube::resolve_connection`]).
    pub proxy: Option<String>,
}

impl Spec {
    /// What to print about this connection.
    pub fn target(&self) -> Target {
        Target {
            server: self.server.clone(),
            context: self.context.clone(),
            user: self.identity.user.clone(),
            as_user: self.identity.as_user.clone(),
            as_groups: self.identity.as_groups.clone(),
        }
    }
}

/// Why the connection cannot be resolved as Helm resolves it (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// An input cannot be honoured or is invalid.
    #[error("{var}: {problem}; nothing was done")]
    Input {
        /// The variable (or flag) at fault.
        var: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// A kubeconfig file cannot be read.
    #[error("KUBECONFIG: cannot read {path}: {problem}; nothing was done")]
    Kubeconfig {
        /// The file.
        path: String,
        /// Why.
        problem: String,
    },
}

fn input(var: &'static str, problem: impl Into<String>) -> ConnectionError {
    ConnectionError::Input {
        var,
        problem: problem.into(),
    }
}

/// Resolve the connection from `inputs` over the merged `kubeconfig` (empty
/// when no file exists), falling back to `in_cluster` as client-go does.
/// Pure.
pub fn resolve(
    inputs: &Inputs,
    kubeconfig: &Kubeconfig,
    in_cluster: Option<&InCluster>,
) -> Result<Spec, ConnectionError> {
    let inputs = inputs.normalized();
    let insecure = inputs.insecure()?;
    if !inputs.as_groups.is_empty() && inputs.as_user.is_none() {
        return Err(input(
            HELM_KUBEASGROUPS,
            "groups to impersonate without a user (--kube-as-user); Helm would ignore them. Give both or neither",
        ));
    }

    // 1. The context.
    let context_name = inputs
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
        .filter(|c| !c.is_empty());
    let context = match &context_name {
        Some(name) => match kubeconfig.contexts.iter().find(|c| &c.name == name) {
            Some(found) => found.context.clone(),
            None if inputs.context.is_some() => {
                return Err(input(
                    HELM_KUBECONTEXT,
                    format!(
                        "context `{name}` is not in the kubeconfig ({})",
                        kubeconfig_names(kubeconfig)
                    ),
                ));
            }
            None => None,
        },
        None => None,
    };
    let context = context.unwrap_or_default();

    // 2. Its cluster and user, then the overrides.
    let mut cluster = kubeconfig
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.clone())
        .unwrap_or_default();
    let user_name = context.user.clone().filter(|u| !u.is_empty());
    let mut auth = user_name
        .as_ref()
        .and_then(|name| kubeconfig.auth_infos.iter().find(|u| &u.name == name))
        .and_then(|u| u.auth_info.clone())
        .unwrap_or_default();

    let has_server =
        cluster.server.as_deref().is_some_and(|s| !s.is_empty()) || inputs.api_server.is_some();
    if !has_server {
        return match in_cluster {
            Some(ic) => in_cluster_spec(&inputs, insecure, ic),
            None => Err(input(
                KUBECONFIG,
                match &context_name {
                    Some(name) => format!(
                        "context `{name}` names no cluster with a server, and HELM_KUBEAPISERVER (--kube-apiserver) is empty"
                    ),
                    None => "no kubeconfig context (no current-context, no --kube-context) and no --kube-apiserver: \
                             which cluster is meant? Helm would fail the same way"
                        .to_string(),
                },
            )),
        };
    }

    if let Some(server) = &inputs.api_server {
        cluster.server = Some(server.clone());
    }
    if insecure || inputs.ca_file.is_some() {
        cluster.insecure_skip_tls_verify = Some(insecure);
        cluster.certificate_authority = inputs.ca_file.clone();
        cluster.certificate_authority_data = None;
    }
    if inputs.tls_server_name.is_some() || inputs.api_server.is_some() {
        cluster.tls_server_name = inputs.tls_server_name.clone();
    }

    if let Some(token) = &inputs.token {
        if let Some(file) = &auth.token_file {
            return Err(input(
                HELM_KUBETOKEN,
                format!(
                    "the kubeconfig user `{}` also names a token file ({file}), and Helm would send that file's token instead. \
                     Remove one of them",
                    user_name.as_deref().unwrap_or_default()
                ),
            ));
        }
        if auth.username.is_some() || auth.password.is_some() {
            return Err(input(
                HELM_KUBETOKEN,
                format!(
                    "the kubeconfig user `{}` has a username and password; Helm refuses both at once",
                    user_name.as_deref().unwrap_or_default()
                ),
            ));
        }
        auth.token = Some(SecretString::from(token.0.clone()));
        // A bearer token takes the place of the exec and auth-provider
        // credentials (client-go's wrappers step aside when it is set).
        auth.exec = None;
        auth.auth_provider = None;
    }
    if let Some(user) = &inputs.as_user {
        auth.impersonate = Some(user.clone());
    }
    if !inputs.as_groups.is_empty() {
        auth.impersonate_groups = Some(inputs.as_groups.clone());
    }
    // 3. client-go impersonates only with a user.
    if auth.impersonate.as_deref().is_none_or(str::is_empty) {
        auth.impersonate = None;
        auth.impersonate_groups = None;
        auth.impersonate_uid = None;
        auth.impersonate_user_extra = None;
    }

    let server = normalize_server(
        cluster.server.as_deref().unwrap_or_default(),
        &cluster,
        &auth,
    )
    .map_err(|problem| {
        input(
            if inputs.api_server.is_some() {
                HELM_KUBEAPISERVER
            } else {
                KUBECONFIG
            },
            problem,
        )
    })?;
    cluster.server = Some(server.clone());

    // 4. No credentials over plain HTTP.
    let plain = server.starts_with("http://");
    let user = if plain {
        auth = AuthInfo {
            impersonate: auth.impersonate.clone(),
            impersonate_groups: auth.impersonate_groups.clone(),
            impersonate_uid: auth.impersonate_uid.clone(),
            impersonate_user_extra: auth.impersonate_user_extra.clone(),
            ..AuthInfo::default()
        };
        "anonymous (plain HTTP: no credentials are sent, as Helm does)".to_string()
    } else if inputs.token.is_some()
        && (auth.client_certificate.is_some() || auth.client_certificate_data.is_some())
    {
        // client-go presents the certificate and sends the token; the API
        // server authenticates the certificate first.
        format!(
            "{} (client certificate: the API server checks it before the {HELM_KUBETOKEN} token, which is sent too)",
            user_name.as_deref().unwrap_or("kubeconfig user")
        )
    } else if inputs.token.is_some() {
        format!("bearer token from {HELM_KUBETOKEN}")
    } else {
        match &user_name {
            Some(name) => name.clone(),
            None => "anonymous".to_string(),
        }
    };
    let identity = Identity {
        user,
        as_user: auth.impersonate.clone(),
        as_groups: auth.impersonate_groups.clone().unwrap_or_default(),
    };
    Ok(Spec {
        server,
        context: context_name,
        namespace: context.namespace.clone().filter(|n| !n.is_empty()),
        cluster,
        auth,
        identity,
        proxy: None,
    })
}

/// The in-cluster service account with the overrides client-go applies there
/// (token, CA file, TLS verification); others are refused.
fn in_cluster_spec(
    inputs: &Inputs,
    insecure: bool,
    ic: &InCluster,
) -> Result<Spec, ConnectionError> {
    for (var, given) in [
        (HELM_KUBEASUSER, inputs.as_user.is_some()),
        (HELM_KUBETLS_SERVER_NAME, inputs.tls_server_name.is_some()),
        (HELM_KUBEINSECURE_SKIP_TLS_VERIFY, insecure),
    ] {
        if given {
            return Err(input(
                var,
                "no kubeconfig context: Helm would use the in-cluster service account and ignore (or, for TLS \
                 verification, fail on) this setting. Use a kubeconfig",
            ));
        }
    }
    let cluster = ClusterEntry {
        server: Some(ic.server.clone()),
        certificate_authority: Some(inputs.ca_file.clone().unwrap_or_else(|| ic.ca_file.clone())),
        ..ClusterEntry::default()
    };
    let (auth, user) = match &inputs.token {
        Some(token) => (
            AuthInfo {
                token: Some(SecretString::from(token.0.clone())),
                ..AuthInfo::default()
            },
            format!("bearer token from {HELM_KUBETOKEN}"),
        ),
        None => (
            AuthInfo {
                token_file: Some(ic.token_file.clone()),
                ..AuthInfo::default()
            },
            "in-cluster service account".to_string(),
        ),
    };
    Ok(Spec {
        server: ic.server.clone(),
        context: None,
        namespace: ic.namespace.clone(),
        cluster,
        auth,
        identity: Identity {
            user,
            as_user: None,
            as_groups: Vec::new(),
        },
        proxy: None,
    })
}

/// The server URL as client-go uses it: a bare `host:port` gets `https://`
/// when TLS settings are present, else `http://`; query and fragment are dropped.
fn normalize_server(raw: &str, cluster: &ClusterEntry, auth: &AuthInfo) -> Result<String, String> {
    let raw = raw.trim();
    let with_scheme = if raw.contains("://") {
        raw.to_string()
    } else {
        let tls = cluster.certificate_authority.is_some()
            || cluster.certificate_authority_data.is_some()
            || cluster.insecure_skip_tls_verify == Some(true)
            || auth.client_certificate.is_some()
            || auth.client_certificate_data.is_some();
        format!("{}://{raw}", if tls { "https" } else { "http" })
    };
    let uri: http::Uri = with_scheme
        .parse()
        .map_err(|e| format!("`{raw}` is not a server URL: {e}"))?;
    match uri.scheme_str() {
        Some("https" | "http") => {}
        _ => return Err(format!("`{raw}` is not an http:// or https:// URL")),
    }
    if uri.authority().is_none() {
        return Err(format!("`{raw}` has no host"));
    }
    let path = uri.path().trim_end_matches('/');
    Ok(format!(
        "{}://{}{}",
        uri.scheme_str().unwrap_or("https"),
        uri.authority().map(|a| a.as_str()).unwrap_or_default(),
        path
    ))
}

fn kubeconfig_names(kubeconfig: &Kubeconfig) -> String {
    let names: Vec<&str> = kubeconfig
        .contexts
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    if names.is_empty() {
        "it has no contexts".to_string()
    } else {
        format!("it has {}", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const KUBECONFIG_AB: &str = "
apiVersion: v1
kind: Config
current-context: a
clusters:
- name: a
  cluster:
    server: https://a.example:6443
    certificate-authority-data: Q0EtQQ==
    tls-server-name: a-internal
- name: b
  cluster:
    server: http://127.0.0.1:8080
contexts:
- name: a
  context: {cluster: a, user: alice, namespace: team-a}
- name: b
  context: {cluster: b, user: alice}
- name: file-token
  context: {cluster: a, user: filer}
- name: exec
  context: {cluster: a, user: exec-user}
users:
- name: alice
  user:
    token: kubeconfig-token
    as-groups: [ignored-without-as]
- name: filer
  user: {tokenFile: /var/run/token}
- name: exec-user
  user:
    exec: {apiVersion: client.authentication.k8s.io/v1, command: get-token}
";

    fn kubeconfig() -> Kubeconfig {
        Kubeconfig::from_yaml(KUBECONFIG_AB).unwrap()
    }

    fn resolved(inputs: Inputs) -> Spec {
        resolve(&inputs, &kubeconfig(), None).unwrap()
    }

    fn refused(inputs: Inputs) -> (&'static str, String) {
        match resolve(&inputs, &kubeconfig(), None) {
            Err(ConnectionError::Input { var, problem }) => (var, problem),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    fn token(spec: &Spec) -> Option<String> {
        spec.auth
            .token
            .as_ref()
            .map(|t| t.expose_secret().to_string())
    }

    #[test]
    fn the_current_context_by_default_and_helm_kubecontext_over_it() {
        let spec = resolved(Inputs::default());
        assert_eq!(spec.server, "https://a.example:6443");
        assert_eq!(spec.context.as_deref(), Some("a"));
        assert_eq!(spec.namespace.as_deref(), Some("team-a"));
        assert_eq!(spec.identity.user, "alice");
        assert_eq!(token(&spec).as_deref(), Some("kubeconfig-token"));
        assert_eq!(spec.cluster.tls_server_name.as_deref(), Some("a-internal"));
        // Groups without a user to impersonate: client-go drops them.
        assert_eq!(spec.auth.impersonate_groups, None);

        let spec = resolved(Inputs {
            context: Some("b".into()),
            ..Inputs::default()
        });
        assert_eq!(spec.server, "http://127.0.0.1:8080");
        assert_eq!(spec.context.as_deref(), Some("b"));
        // Empty values are "not given", as Helm passes them.
        let spec = resolved(Inputs {
            context: Some(String::new()),
            api_server: Some(" ".into()),
            ..Inputs::default()
        });
        assert_eq!(spec.server, "https://a.example:6443");
    }

    #[test]
    fn an_unknown_context_is_refused_naming_the_variable() {
        let (var, problem) = refused(Inputs {
            context: Some("nope".into()),
            ..Inputs::default()
        });
        assert_eq!(var, HELM_KUBECONTEXT);
        assert!(problem.contains("`nope`") && problem.contains("a, b, file-token, exec"));
    }

    #[test]
    fn the_api_server_override_keeps_the_user_and_drops_the_tls_server_name() {
        let spec = resolved(Inputs {
            api_server: Some("https://b.example:443/".into()),
            ..Inputs::default()
        });
        assert_eq!(spec.server, "https://b.example:443");
        assert_eq!(
            spec.cluster.server.as_deref(),
            Some("https://b.example:443")
        );
        assert_eq!(spec.cluster.tls_server_name, None);
        assert_eq!(
            spec.cluster.certificate_authority_data.as_deref(),
            Some("Q0EtQQ==")
        );
        assert_eq!(token(&spec).as_deref(), Some("kubeconfig-token"));
        // With a TLS server name given too, that one.
        let spec = resolved(Inputs {
            api_server: Some("https://b.example".into()),
            tls_server_name: Some("b-internal".into()),
            ..Inputs::default()
        });
        assert_eq!(spec.cluster.tls_server_name.as_deref(), Some("b-internal"));
        // No kubeconfig at all: the server alone (anonymous).
        let spec = resolve(
            &Inputs {
                api_server: Some("http://127.0.0.1:1".into()),
                ..Inputs::default()
            },
            &Kubeconfig::default(),
            None,
        )
        .unwrap();
        assert_eq!(spec.server, "http://127.0.0.1:1");
        assert_eq!(spec.context, None);
    }

    #[test]
    fn a_bare_host_gets_the_scheme_client_go_gives_it() {
        let spec = resolve(
            &Inputs {
                api_server: Some("127.0.0.1:8443".into()),
                ca_file: Some("/ca.pem".into()),
                ..Inputs::default()
            },
            &Kubeconfig::default(),
            None,
        )
        .unwrap();
        assert_eq!(spec.server, "https://127.0.0.1:8443");
        let spec = resolve(
            &Inputs {
                api_server: Some("127.0.0.1:8080".into()),
                ..Inputs::default()
            },
            &Kubeconfig::default(),
            None,
        )
        .unwrap();
        assert_eq!(spec.server, "http://127.0.0.1:8080");
        let (var, _) = refused(Inputs {
            api_server: Some("ftp://x".into()),
            ..Inputs::default()
        });
        assert_eq!(var, HELM_KUBEAPISERVER);
    }

    #[test]
    fn the_token_override_replaces_the_kubeconfig_credentials() {
        let spec = resolved(Inputs {
            token: Some(Token("flag-token".into())),
            ..Inputs::default()
        });
        assert_eq!(token(&spec).as_deref(), Some("flag-token"));
        assert_eq!(spec.identity.user, "bearer token from HELM_KUBETOKEN");
        let spec = resolved(Inputs {
            context: Some("exec".into()),
            token: Some(Token("flag-token".into())),
            ..Inputs::default()
        });
        assert!(spec.auth.exec.is_none());
        // Helm would send the token file's token, not the override: refused.
        let (var, problem) = refused(Inputs {
            context: Some("file-token".into()),
            token: Some(Token("flag-token".into())),
            ..Inputs::default()
        });
        assert_eq!(var, HELM_KUBETOKEN);
        assert!(problem.contains("/var/run/token"));
        assert!(
            !problem.contains("flag-token"),
            "the token is never printed"
        );
        assert_eq!(format!("{:?}", Token("s3cret".into())), "<redacted>");
    }

    #[test]
    fn a_token_beside_a_client_certificate_is_sent_and_the_certificate_names_the_user() {
        let kubeconfig = Kubeconfig::from_yaml(
            "
apiVersion: v1
kind: Config
current-context: c
clusters:
- {name: c, cluster: {server: 'https://c.example'}}
contexts:
- {name: c, context: {cluster: c, user: carol}}
users:
- name: carol
  user: {client-certificate-data: Q0VSVA==, client-key-data: S0VZ}
",
        )
        .unwrap();
        let spec = resolve(
            &Inputs {
                token: Some(Token("flag-token".into())),
                ..Inputs::default()
            },
            &kubeconfig,
            None,
        )
        .unwrap();
        assert_eq!(token(&spec).as_deref(), Some("flag-token"));
        assert_eq!(
            spec.auth.client_certificate_data.as_deref(),
            Some("Q0VSVA==")
        );
        assert!(
            spec.identity.user.starts_with("carol (client certificate"),
            "{}",
            spec.identity.user
        );
    }

    #[test]
    fn impersonation_needs_a_user() {
        let spec = resolved(Inputs {
            as_user: Some("bob".into()),
            as_groups: vec!["g1".into(), "g2".into()],
            ..Inputs::default()
        });
        assert_eq!(spec.auth.impersonate.as_deref(), Some("bob"));
        assert_eq!(
            spec.auth.impersonate_groups,
            Some(vec!["g1".to_string(), "g2".to_string()])
        );
        assert_eq!(spec.identity.as_user.as_deref(), Some("bob"));
        assert_eq!(spec.identity.as_groups, ["g1", "g2"]);
        let (var, _) = refused(Inputs {
            as_groups: vec!["g1".into()],
            ..Inputs::default()
        });
        assert_eq!(var, HELM_KUBEASGROUPS);
    }

    #[test]
    fn a_ca_file_or_insecure_replaces_the_kubeconfig_tls_settings() {
        let spec = resolved(Inputs {
            ca_file: Some("/etc/ca.pem".into()),
            ..Inputs::default()
        });
        assert_eq!(
            spec.cluster.certificate_authority.as_deref(),
            Some("/etc/ca.pem")
        );
        assert_eq!(spec.cluster.certificate_authority_data, None);
        assert_eq!(spec.cluster.insecure_skip_tls_verify, Some(false));
        let spec = resolved(Inputs {
            insecure_skip_tls_verify: Some("true".into()),
            ..Inputs::default()
        });
        assert_eq!(spec.cluster.insecure_skip_tls_verify, Some(true));
        assert_eq!(spec.cluster.certificate_authority_data, None);
        // `false` (what Helm passes for "not given") changes nothing.
        let spec = resolved(Inputs {
            insecure_skip_tls_verify: Some("false".into()),
            ..Inputs::default()
        });
        assert_eq!(
            spec.cluster.certificate_authority_data.as_deref(),
            Some("Q0EtQQ==")
        );
        let (var, problem) = refused(Inputs {
            insecure_skip_tls_verify: Some("yes".into()),
            ..Inputs::default()
        });
        assert_eq!(var, HELM_KUBEINSECURE_SKIP_TLS_VERIFY);
        assert!(problem.contains("`yes`"));
    }

    #[test]
    fn plain_http_sends_no_credentials_but_impersonates() {
        let spec = resolved(Inputs {
            context: Some("b".into()),
            token: Some(Token("flag-token".into())),
            as_user: Some("bob".into()),
            ..Inputs::default()
        });
        assert_eq!(token(&spec), None);
        assert_eq!(spec.auth.impersonate.as_deref(), Some("bob"));
        assert!(spec.identity.user.starts_with("anonymous (plain HTTP"));
    }

    #[test]
    fn without_a_server_the_in_cluster_account_with_its_overrides() {
        let ic = InCluster {
            server: "https://10.0.0.1:443".into(),
            ca_file: "/sa/ca.crt".into(),
            token_file: "/sa/token".into(),
            namespace: Some("arc-systems".into()),
        };
        let empty = Kubeconfig::default();
        let spec = resolve(&Inputs::default(), &empty, Some(&ic)).unwrap();
        assert_eq!(spec.server, "https://10.0.0.1:443");
        assert_eq!(spec.auth.token_file.as_deref(), Some("/sa/token"));
        assert_eq!(spec.identity.user, "in-cluster service account");
        assert_eq!(spec.namespace.as_deref(), Some("arc-systems"));
        let spec = resolve(
            &Inputs {
                token: Some(Token("t".into())),
                ca_file: Some("/other-ca.pem".into()),
                ..Inputs::default()
            },
            &empty,
            Some(&ic),
        )
        .unwrap();
        assert_eq!(token(&spec).as_deref(), Some("t"));
        assert_eq!(
            spec.cluster.certificate_authority.as_deref(),
            Some("/other-ca.pem")
        );
        match resolve(
            &Inputs {
                as_user: Some("bob".into()),
                ..Inputs::default()
            },
            &empty,
            Some(&ic),
        ) {
            Err(ConnectionError::Input { var, .. }) => assert_eq!(var, HELM_KUBEASUSER),
            other => panic!("{other:?}"),
        }
        // Neither a kubeconfig nor in-cluster: refused.
        assert!(resolve(&Inputs::default(), &empty, None).is_err());
    }

    #[test]
    fn the_helm_child_gets_the_same_inputs() {
        let inputs = Inputs {
            kubeconfig: Some("/k1:/k2".into()),
            api_server: Some("https://b".into()),
            token: Some(Token("t".into())),
            as_groups: vec!["g1".into(), "g2".into()],
            insecure_skip_tls_verify: Some("1".into()),
            ..Inputs::default()
        };
        let env = inputs.helm_env().unwrap();
        let get = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get(HELM_KUBEAPISERVER), Some("https://b"));
        assert_eq!(get(HELM_KUBETOKEN), Some("t"));
        assert_eq!(get(HELM_KUBEASGROUPS), Some("g1,g2"));
        assert_eq!(get(HELM_KUBEINSECURE_SKIP_TLS_VERIFY), Some("true"));
        assert_eq!(get(HELM_KUBECONTEXT), Some(""));
        assert_eq!(get(KUBECONFIG), Some("/k1:/k2"));
    }
}
