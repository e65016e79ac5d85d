//! The connection flags shared by the commands that talk to the cluster.
//! Helm strips its own `--kube-*` flags from a plugin's argv and passes them
//! as `HELM_KUBE*` variables (and `--kubeconfig` as `KUBECONFIG`); the same
//! flags work when the binary runs on its own. See [`crate::kube::connection`].

use crate::exit::{Code, WithCode};
use crate::kube::Cluster;
use crate::kube::connection::{Inputs, Token};
use anyhow::Context;

/// How to reach the cluster, as Helm's global flags say it.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct ConnectionArgs {
    /// Kubeconfig context (Helm passes `--kube-context` as HELM_KUBECONTEXT).
    #[arg(long, env = "HELM_KUBECONTEXT", value_name = "CONTEXT")]
    pub kube_context: Option<String>,

    /// Kubeconfig file(s), a path list (Helm passes `--kubeconfig` as KUBECONFIG).
    #[arg(long, env = "KUBECONFIG", value_name = "PATH")]
    pub kubeconfig: Option<String>,

    /// API server URL instead of the kubeconfig's (HELM_KUBEAPISERVER).
    #[arg(long, env = "HELM_KUBEAPISERVER", value_name = "URL")]
    pub kube_apiserver: Option<String>,

    /// Bearer token instead of the kubeconfig user's credentials (HELM_KUBETOKEN; never printed).
    #[arg(
        long,
        env = "HELM_KUBETOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub kube_token: Option<Token>,

    /// User to impersonate (HELM_KUBEASUSER).
    #[arg(long, env = "HELM_KUBEASUSER", value_name = "USER")]
    pub kube_as_user: Option<String>,

    /// Group to impersonate, repeatable (HELM_KUBEASGROUPS, comma-separated).
    #[arg(
        long,
        env = "HELM_KUBEASGROUPS",
        value_name = "GROUP",
        value_delimiter = ','
    )]
    pub kube_as_group: Vec<String>,

    /// CA file to verify the API server with (HELM_KUBECAFILE).
    #[arg(long, env = "HELM_KUBECAFILE", value_name = "PATH")]
    pub kube_ca_file: Option<String>,

    /// Do not verify the API server's certificate (HELM_KUBEINSECURE_SKIP_TLS_VERIFY).
    #[arg(long, env = "HELM_KUBEINSECURE_SKIP_TLS_VERIFY", value_name = "BOOL",
          num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub kube_insecure_skip_tls_verify: Option<String>,

    /// Server name to verify the API server's certificate for (HELM_KUBETLS_SERVER_NAME).
    #[arg(long, env = "HELM_KUBETLS_SERVER_NAME", value_name = "NAME")]
    pub kube_tls_server_name: Option<String>,
}

impl ConnectionArgs {
    /// The inputs of [`crate::kube::connection::resolve`].
    pub fn inputs(&self) -> Inputs {
        Inputs {
            kubeconfig: self.kubeconfig.clone(),
            context: self.kube_context.clone(),
            api_server: self.kube_apiserver.clone(),
            token: self.kube_token.clone(),
            as_user: self.kube_as_user.clone(),
            as_groups: self.kube_as_group.clone(),
            ca_file: self.kube_ca_file.clone(),
            insecure_skip_tls_verify: self.kube_insecure_skip_tls_verify.clone(),
            tls_server_name: self.kube_tls_server_name.clone(),
        }
        .normalized()
    }

    /// The context, when one was given.
    pub fn context(&self) -> Option<&str> {
        self.kube_context.as_deref().filter(|c| !c.is_empty())
    }

    /// Resolve the connection as Helm would and build the client. An input
    /// that cannot be honoured exits 2 before anything is read or written.
    pub async fn connect(&self) -> anyhow::Result<Cluster> {
        let spec = crate::kube::resolve_connection(&self.inputs())
            .context("reach the cluster Helm would reach")
            .exit_code(Code::BadInput)?;
        Cluster::connect(&spec)
            .await
            .with_context(|| format!("connect to {}", spec.server))
            .exit_code(Code::BadInput)
    }

    /// The flags to repeat in a suggested command line (the token as a
    /// placeholder: it is never printed).
    pub fn rerun_flags(&self) -> Vec<String> {
        let n = self.inputs();
        let mut out = Vec::new();
        if let Some(c) = &n.context {
            out.push(format!("--kube-context {}", shell_word(c)));
        }
        // A path list is the user's KUBECONFIG, still set for the rerun;
        // `--kubeconfig` takes one file.
        if let Some(k) = n.kubeconfig.as_deref().filter(|k| {
            std::env::split_paths(k)
                .filter(|p| !p.as_os_str().is_empty())
                .count()
                == 1
        }) {
            out.push(format!("--kubeconfig {}", shell_word(k)));
        }
        if let Some(s) = &n.api_server {
            out.push(format!("--kube-apiserver {}", shell_word(s)));
        }
        if n.token.is_some() {
            out.push("--kube-token <TOKEN>".to_string());
        }
        if let Some(u) = &n.as_user {
            out.push(format!("--kube-as-user {}", shell_word(u)));
        }
        for g in &n.as_groups {
            out.push(format!("--kube-as-group {}", shell_word(g)));
        }
        if let Some(f) = &n.ca_file {
            out.push(format!("--kube-ca-file {}", shell_word(f)));
        }
        if n.insecure().unwrap_or(false) {
            out.push("--kube-insecure-skip-tls-verify".to_string());
        }
        if let Some(t) = &n.tls_server_name {
            out.push(format!("--kube-tls-server-name {}", shell_word(t)));
        }
        out
    }
}

/// `word` quoted for a POSIX shell when it needs it.
pub fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rerun_flags_repeat_every_connection_input_but_never_the_token() {
        let args = ConnectionArgs {
            kube_context: Some("b".into()),
            kubeconfig: Some("/k/config".into()),
            kube_apiserver: Some("https://b.example".into()),
            kube_token: Some(Token("s3cret".into())),
            kube_as_user: Some("alice".into()),
            kube_as_group: vec!["g 1".into()],
            kube_ca_file: Some("/ca.pem".into()),
            kube_insecure_skip_tls_verify: Some("false".into()),
            kube_tls_server_name: Some("api.internal".into()),
        };
        let flags = args.rerun_flags().join(" ");
        assert_eq!(
            flags,
            "--kube-context b --kubeconfig /k/config --kube-apiserver https://b.example --kube-token <TOKEN> \
             --kube-as-user alice --kube-as-group 'g 1' --kube-ca-file /ca.pem --kube-tls-server-name api.internal"
        );
        assert!(!flags.contains("s3cret"));
        let list = ConnectionArgs {
            kubeconfig: Some("/a:/b".into()),
            kube_insecure_skip_tls_verify: Some("true".into()),
            ..ConnectionArgs::default()
        };
        assert_eq!(list.rerun_flags(), ["--kube-insecure-skip-tls-verify"]);
    }
}
