//! What ARC's controller reads to reach GitHub, and pure checks over what the
//! cluster holds. The controller (`secretresolver`, `appconfig.FromSecret` in
//! 0.14) builds its Actions client from: the config Secret named by
//! `spec.githubConfigSecret` (a PAT in `github_token`, or a GitHub App in
//! `github_app_id`, `github_app_installation_id` and `github_app_private_key`;
//! exactly one of the two), the proxy credential Secrets
//! (`spec.proxy.{http,https}.credentialSecretRef`), and the CA bundle of
//! `spec.githubServerTLS.certificateFrom.configMapKeyRef`. With
//! `spec.vaultConfig` the config Secret and the proxy credentials are keys in
//! the vault, not Kubernetes Secrets (only `spec.vaultConfig.proxy`'s
//! credentials are). Any of these missing and every GitHub call fails, so the
//! controller retries its cleanup forever.
//!
//! Only key names are ever looked at: Secret values are dropped when read
//! ([`crate::model::Live::new`]) and never printed.

use serde_json::Value;

/// Key of a personal access token in the config Secret.
pub const TOKEN_KEY: &str = "github_token";
/// Key of the GitHub App id.
pub const APP_ID_KEY: &str = "github_app_id";
/// Key of the GitHub App installation id.
pub const APP_INSTALLATION_ID_KEY: &str = "github_app_installation_id";
/// Key of the GitHub App private key.
pub const APP_PRIVATE_KEY_KEY: &str = "github_app_private_key";
/// The three keys of a GitHub App.
pub const APP_KEYS: [&str; 3] = [APP_ID_KEY, APP_INSTALLATION_ID_KEY, APP_PRIVATE_KEY_KEY];

/// What a runner set's spec says the controller reads to reach GitHub.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GitHubAccess {
    /// `spec.githubConfigSecret`: a Secret, or with a vault a key in the vault.
    pub config_secret: Option<String>,
    /// `spec.vaultConfig.type` when set.
    pub vault: Option<String>,
    /// Secrets of the runner namespace holding proxy credentials, with the
    /// spec field naming each (without a vault `spec.proxy.*`; with one
    /// `spec.vaultConfig.proxy.*`).
    pub proxy_secrets: Vec<(String, &'static str)>,
    /// ConfigMap and key of `spec.githubServerTLS.certificateFrom.configMapKeyRef`.
    pub tls: Option<(String, String)>,
}

const PROXY_FIELDS: [(&str, &str); 2] = [
    (
        "/proxy/http/credentialSecretRef",
        "spec.proxy.http.credentialSecretRef",
    ),
    (
        "/proxy/https/credentialSecretRef",
        "spec.proxy.https.credentialSecretRef",
    ),
];
const VAULT_PROXY_FIELDS: [(&str, &str); 2] = [
    (
        "/vaultConfig/proxy/http/credentialSecretRef",
        "spec.vaultConfig.proxy.http.credentialSecretRef",
    ),
    (
        "/vaultConfig/proxy/https/credentialSecretRef",
        "spec.vaultConfig.proxy.https.credentialSecretRef",
    ),
];

fn non_empty(spec: &Value, pointer: &str) -> Option<String> {
    spec.pointer(pointer)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

impl GitHubAccess {
    /// Read from an AutoscalingRunnerSet's `spec`.
    pub fn from_spec(spec: &Value) -> Self {
        let vault = non_empty(spec, "/vaultConfig/type");
        let fields: &[(&str, &'static str)] = if vault.is_some() {
            &VAULT_PROXY_FIELDS
        } else {
            &PROXY_FIELDS
        };
        let mut proxy_secrets: Vec<(String, &'static str)> = Vec::new();
        for (pointer, field) in fields {
            if let Some(name) = non_empty(spec, pointer)
                && !proxy_secrets.iter().any(|(n, _)| *n == name)
            {
                proxy_secrets.push((name, field));
            }
        }
        let tls = non_empty(
            spec,
            "/githubServerTLS/certificateFrom/configMapKeyRef/name",
        )
        .map(|name| {
            (
                name,
                non_empty(spec, "/githubServerTLS/certificateFrom/configMapKeyRef/key")
                    .unwrap_or_default(),
            )
        });
        Self {
            config_secret: non_empty(spec, "/githubConfigSecret"),
            vault,
            proxy_secrets,
            tls,
        }
    }

    /// The Kubernetes Secret holding the GitHub credentials: `None` with a
    /// vault (the name is a vault key the tool cannot read).
    pub fn kubernetes_config_secret(&self) -> Option<&str> {
        match self.vault {
            Some(_) => None,
            None => self.config_secret.as_deref(),
        }
    }
}

/// What is wrong with a config Secret holding the data keys `keys` (names
/// of non-empty values), as the controller's validation sees it; `None` when
/// it holds one complete set of credentials.
pub fn config_secret_problem(keys: &[String]) -> Option<String> {
    let has = |k: &str| keys.iter().any(|key| key == k);
    let token = has(TOKEN_KEY);
    let app: Vec<&str> = APP_KEYS.iter().copied().filter(|k| has(k)).collect();
    match (token, app.len()) {
        (true, 3) => Some(format!(
            "holds both {TOKEN_KEY} and a GitHub App ({}); the controller accepts only one",
            APP_KEYS.join(", ")
        )),
        (true, _) => None,
        (false, 3) => None,
        (false, 0) => Some(format!(
            "holds neither {TOKEN_KEY} nor the GitHub App keys {}",
            APP_KEYS.join(", ")
        )),
        (false, _) => {
            let missing: Vec<&str> = APP_KEYS
                .iter()
                .copied()
                .filter(|k| !app.contains(k))
                .collect();
            Some(format!(
                "holds no {TOKEN_KEY} and an incomplete GitHub App: {} missing or empty",
                missing.join(", ")
            ))
        }
    }
}

/// What is wrong with the TLS ConfigMap (`data` keys present), if anything.
pub fn tls_problem(config_map_data_keys: Option<&[String]>, key: &str) -> Option<String> {
    match config_map_data_keys {
        None => Some("does not exist".to_string()),
        Some(keys) if !key.is_empty() && !keys.iter().any(|k| k == key) => {
            Some(format!("has no key {key}"))
        }
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_token_or_a_complete_app() {
        assert_eq!(config_secret_problem(&keys(&[TOKEN_KEY])), None);
        assert_eq!(config_secret_problem(&keys(&APP_KEYS)), None);
        assert!(
            config_secret_problem(&keys(&[]))
                .unwrap()
                .starts_with("holds neither github_token")
        );
        assert_eq!(
            config_secret_problem(&keys(&[APP_ID_KEY, APP_PRIVATE_KEY_KEY])).unwrap(),
            "holds no github_token and an incomplete GitHub App: github_app_installation_id missing or empty"
        );
        let both = keys(&[
            TOKEN_KEY,
            APP_ID_KEY,
            APP_INSTALLATION_ID_KEY,
            APP_PRIVATE_KEY_KEY,
        ]);
        assert!(config_secret_problem(&both).unwrap().contains("only one"));
        // A token with a partial app is accepted (the token wins).
        assert_eq!(config_secret_problem(&keys(&[TOKEN_KEY, APP_ID_KEY])), None);
    }

    #[test]
    fn reads_proxy_tls_and_vault_from_the_spec() {
        let plain = GitHubAccess::from_spec(&json!({
            "githubConfigSecret": "gh",
            "proxy": {"http": {"url": "http://p", "credentialSecretRef": "proxy-creds"},
                      "https": {"url": "http://p", "credentialSecretRef": "proxy-creds"}},
            "githubServerTLS": {"certificateFrom": {"configMapKeyRef": {"name": "ca", "key": "ca.crt"}}},
        }));
        assert_eq!(plain.kubernetes_config_secret(), Some("gh"));
        assert_eq!(
            plain.proxy_secrets,
            vec![(
                "proxy-creds".to_string(),
                "spec.proxy.http.credentialSecretRef"
            )]
        );
        assert_eq!(plain.tls, Some(("ca".into(), "ca.crt".into())));

        let vault = GitHubAccess::from_spec(&json!({
            "githubConfigSecret": "vault-key",
            "proxy": {"https": {"url": "http://p", "credentialSecretRef": "vault-proxy-key"}},
            "vaultConfig": {"type": "azure_key_vault",
                "proxy": {"https": {"url": "http://p", "credentialSecretRef": "vault-proxy-creds"}}},
        }));
        assert_eq!(vault.vault.as_deref(), Some("azure_key_vault"));
        assert_eq!(vault.kubernetes_config_secret(), None);
        assert_eq!(
            vault.proxy_secrets,
            vec![(
                "vault-proxy-creds".to_string(),
                "spec.vaultConfig.proxy.https.credentialSecretRef"
            )]
        );
    }

    #[test]
    fn tls_config_map_needs_its_key() {
        assert_eq!(tls_problem(None, "ca.crt").unwrap(), "does not exist");
        assert_eq!(
            tls_problem(Some(&keys(&["other"])), "ca.crt").unwrap(),
            "has no key ca.crt"
        );
        assert_eq!(tls_problem(Some(&keys(&["ca.crt"])), "ca.crt"), None);
    }
}
