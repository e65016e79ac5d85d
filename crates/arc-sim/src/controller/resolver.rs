//! The secret resolver (`controllers/actions.github.com/secretresolver/`
//! `secret_resolver.go`, 0.14.2): what the controller reads to reach GitHub,
//! in upstream's order and with its error texts.
//!
//! - `GetAppConfig`: the GitHub config from the Kubernetes Secret named by
//!   `githubConfigSecret` (keys `github_token`, or `github_app_id`,
//!   `github_app_installation_id`, `github_app_private_key`), or with
//!   `vaultConfig.type` set, from the vault secret of that name (whose own
//!   proxy credentials `vaultConfig.proxy.*.credentialSecretRef` are
//!   Kubernetes Secrets).
//! - `GetActionsService`: the app config, then `proxy.*.credentialSecretRef`
//!   (from the same resolver), then the `githubServerTLS` ConfigMap.
//!
//! Every Secret and ConfigMap read is live (RBAC applies); Forbidden and
//! NotFound read the same (`failed to get kubernetes secret: "<ns>/<name>"`).

use base64::Engine;
use serde_json::Value;

use super::client::{Ctx, Failure};
use super::names::*;
use crate::github::Credentials;

/// The only vault type upstream knows (`vault.VaultTypeAzureKeyVault`).
pub const VAULT_TYPE_AZURE_KEY_VAULT: &str = "azure_key_vault";

/// The fields `object.ActionsGitHubObject` exposes, wherever the kind keeps them.
fn github_spec(obj: &Value) -> &Value {
    let spec = if str_at(obj, "/kind") == "EphemeralRunnerSet" {
        obj.pointer("/spec/ephemeralRunnerSpec")
    } else {
        obj.get("spec")
    };
    spec.unwrap_or(&Value::Null)
}

/// `appconfig.AppConfig`, tidied: a token, or an App.
enum AppConfig {
    Token(String),
    App {
        app_id: String,
        installation_id: i64,
    },
}

/// Where the credentials come from (`resolverForObject`).
enum Resolver<'v> {
    Kubernetes,
    Vault { url: &'v str },
}

fn decode(secret: &Value, key: &str) -> String {
    secret
        .pointer(&format!("/data/{key}"))
        .and_then(Value::as_str)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// `AppConfig.Validate` + `tidy`.
fn validated(
    token: String,
    app_id: String,
    installation_id: i64,
    private_key: String,
) -> Result<AppConfig, String> {
    let has_token = !token.is_empty();
    let has_app = !app_id.is_empty() && installation_id > 0 && !private_key.is_empty();
    match (has_token, has_app) {
        (true, true) => {
            Err("both PAT and GitHub App credentials provided. should only provide one".to_string())
        }
        (false, false) => Err(
            "no credentials provided: either a PAT or GitHub App credentials should be provided"
                .to_string(),
        ),
        (true, false) => Ok(AppConfig::Token(token)),
        (false, true) => Ok(AppConfig::App {
            app_id,
            installation_id,
        }),
    }
}

/// `appconfig.FromSecret`.
fn from_secret(secret: &Value) -> Result<AppConfig, String> {
    let raw_installation = decode(secret, "github_app_installation_id");
    let installation_id = if raw_installation.is_empty() {
        0
    } else {
        raw_installation.parse::<i64>().map_err(|_| {
            format!("strconv.ParseInt: parsing {raw_installation:?}: invalid syntax")
        })?
    };
    validated(
        decode(secret, "github_token"),
        decode(secret, "github_app_id"),
        installation_id,
        decode(secret, "github_app_private_key"),
    )
    .map_err(|e| format!("failed to validate config: {e}"))
}

/// `appconfig.FromJSONString`.
fn from_json(value: &str) -> Result<AppConfig, String> {
    let v: Value = serde_json::from_str(value).map_err(|e| e.to_string())?;
    let s = |k: &str| str_at(&v, &format!("/{k}")).to_string();
    validated(
        s("github_token"),
        s("github_app_id"),
        v.get("github_app_installation_id")
            .and_then(Value::as_i64)
            .unwrap_or(0),
        s("github_app_private_key"),
    )
    .map_err(|e| format!("failed to validate app config decoded from string: {e}"))
}

impl Ctx<'_> {
    /// `resolverForObject`: the Kubernetes resolver, or the vault one (after
    /// reading the vault's proxy credential Secrets).
    fn resolver<'v>(&self, obj: &'v Value) -> Result<Resolver<'v>, String> {
        let spec = github_spec(obj);
        let vault_type = str_at(spec, "/vaultConfig/type");
        if vault_type.is_empty() {
            return Ok(Resolver::Kubernetes);
        }
        for scheme in ["http", "https"] {
            let cred = str_at(
                spec,
                &format!("/vaultConfig/proxy/{scheme}/credentialSecretRef"),
            );
            if cred.is_empty() {
                continue;
            }
            self.live_get_strict(&core("Secret"), namespace(obj), cred)
                .map_err(|e| {
                    format!(
                        "failed to create proxy config: failed to get secret {cred} for {scheme} proxy: failed to get secret {cred}: {}",
                        e.message
                    )
                })?;
        }
        if vault_type != VAULT_TYPE_AZURE_KEY_VAULT {
            return Err(format!("unknown vault type {vault_type:?}"));
        }
        Ok(Resolver::Vault {
            url: spec
                .pointer("/vaultConfig/azureKeyVault/url")
                .and_then(Value::as_str)
                .unwrap_or(""),
        })
    }

    /// The Kubernetes Secret `name` in the object's namespace, as `k8sResolver` reads it.
    fn kubernetes_secret(&self, obj: &Value, name: &str) -> Result<Value, String> {
        self.live_get_strict(&core("Secret"), namespace(obj), name)
            .map_err(|_| {
                format!(
                    "failed to get kubernetes secret: \"{}/{name}\"",
                    namespace(obj)
                )
            })
    }

    fn app_config_with(&self, resolver: &Resolver<'_>, obj: &Value) -> Result<AppConfig, String> {
        let key = str_at(github_spec(obj), "/githubConfigSecret");
        let config = match resolver {
            Resolver::Kubernetes => self
                .kubernetes_secret(obj, key)
                .and_then(|s| from_secret(&s)),
            Resolver::Vault { url } => self
                .vault
                .get_secret(url, key)
                .map_err(|e| format!("failed to resolve secret: {e}"))
                .and_then(|v| from_json(&v)),
        };
        config.map_err(|e| format!("failed to resolve app config: {e}"))
    }

    /// `GetAppConfig`: the credentials only (the listener builds its config from them).
    pub fn app_config_check(&self, obj: &Value) -> Result<(), Failure> {
        let resolver = self
            .resolver(obj)
            .map_err(|e| Failure(format!("failed to get resolver for object: {e}")))?;
        self.app_config_with(&resolver, obj).map_err(Failure)?;
        Ok(())
    }

    /// `GetActionsService`: a client for the object's `githubConfigUrl`
    /// built from its app config, proxy credentials and TLS ConfigMap.
    pub fn actions_service(&self, obj: &Value) -> Result<Credentials, Failure> {
        let spec = github_spec(obj);
        let resolver = self
            .resolver(obj)
            .map_err(|e| Failure(format!("failed to get resolver for object: {e}")))?;
        let config = self.app_config_with(&resolver, obj).map_err(Failure)?;
        for scheme in ["http", "https"] {
            let cred = str_at(spec, &format!("/proxy/{scheme}/credentialSecretRef"));
            if spec
                .pointer(&format!("/proxy/{scheme}"))
                .is_none_or(Value::is_null)
                || cred.is_empty()
            {
                continue;
            }
            let found = match &resolver {
                Resolver::Kubernetes => self.kubernetes_secret(obj, cred).map(|_| ()),
                Resolver::Vault { url } => self
                    .vault
                    .get_secret(url, cred)
                    .map(|_| ())
                    .map_err(|e| format!("failed to resolve secret: {e}")),
            };
            found.map_err(|e| Failure(format!("failed to resolve proxy credentials: {e}")))?;
        }
        if spec.get("githubServerTLS").is_some_and(|t| !t.is_null()) {
            self.tls_certificate(obj)
                .map_err(|e| Failure(format!("failed to get tls config: {e}")))?;
        }
        let url = str_at(spec, "/githubConfigUrl");
        Ok(match config {
            AppConfig::Token(token) => Credentials::token(url, &token),
            AppConfig::App {
                app_id,
                installation_id,
            } => Credentials::app(url, &app_id, installation_id),
        })
    }

    /// `TLSConfig.ToCertPool` with the resolver's ConfigMap fetcher: the
    /// PEM at `certificateFrom.configMapKeyRef`.
    pub fn tls_certificate(&self, obj: &Value) -> Result<String, String> {
        let tls = github_spec(obj)
            .get("githubServerTLS")
            .unwrap_or(&Value::Null);
        let Some(from) = tls.get("certificateFrom").filter(|v| !v.is_null()) else {
            return Err("certificateFrom not specified".to_string());
        };
        let Some(key_ref) = from.get("configMapKeyRef").filter(|v| !v.is_null()) else {
            return Err("configMapKeyRef not specified".to_string());
        };
        let (cm, key) = (str_at(key_ref, "/name"), str_at(key_ref, "/key"));
        let configmap = self
            .live_get_strict(&core("ConfigMap"), namespace(obj), cm)
            .map_err(|e| {
                format!(
                    "failed to fetch key {key:?} in configmap {cm:?}: failed to get configmap {cm}: {}",
                    e.message
                )
            })?;
        let pem = str_at(&configmap, &format!("/data/{key}"));
        if !pem.contains("-----BEGIN CERTIFICATE-----") {
            return Err("failed to parse certificate".to_string());
        }
        Ok(pem.to_string())
    }

    /// `ProxyConfig.ToSecretData` for the listener and runner-set proxy
    /// Secrets: `http_proxy`, `https_proxy`, `no_proxy`, with the credentials
    /// read from Kubernetes Secrets in `namespace` (always Kubernetes, even
    /// with a vault). `fetcher_wraps`: the listener's fetcher adds
    /// `failed to get secret <name>: ` to the API error, the runner set's does not.
    pub fn proxy_secret_data(
        &self,
        namespace: &str,
        proxy: &Value,
        fetcher_wraps: bool,
    ) -> Result<Value, Failure> {
        let mut data = serde_json::Map::new();
        for scheme in ["http", "https"] {
            let server = proxy.get(scheme).filter(|v| !v.is_null());
            let mut url = server
                .map(|s| str_at(s, "/url").to_string())
                .unwrap_or_default();
            if let Some(server) = server {
                let cred = str_at(server, "/credentialSecretRef");
                if !cred.is_empty() {
                    let secret = self
                        .live_get_strict(&core("Secret"), namespace, cred)
                        .map_err(|e| {
                            let inner = if fetcher_wraps {
                                format!("failed to get secret {cred}: {}", e.message)
                            } else {
                                e.message
                            };
                            Failure(format!(
                                "failed to convert proxy config to secret data: failed to get secret {cred} for {scheme} proxy: {inner}"
                            ))
                        })?;
                    if let Some((scheme_part, rest)) = url.split_once("://") {
                        url = format!(
                            "{scheme_part}://{}:{}@{rest}",
                            decode(&secret, "username"),
                            decode(&secret, "password")
                        );
                    }
                }
            }
            data.insert(format!("{scheme}_proxy"), Value::String(url));
        }
        let no_proxy: Vec<&str> = proxy
            .get("noProxy")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        data.insert("no_proxy".to_string(), Value::String(no_proxy.join(",")));
        Ok(Value::Object(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn secrets_need_a_token_or_a_complete_app_but_not_both() {
        let e = |v: Value| from_secret(&json!({"data": v})).err();
        assert_eq!(
            e(json!({})).as_deref(),
            Some(
                "failed to validate config: no credentials provided: either a PAT or GitHub App credentials should be provided"
            )
        );
        assert!(e(json!({"github_app_id": b64("1")})).is_some());
        assert!(e(json!({"github_token": b64("t")})).is_none());
        let app = json!({"github_app_id": b64("1"), "github_app_installation_id": b64("2"), "github_app_private_key": b64("k")});
        assert!(e(app.clone()).is_none());
        let mut both = app;
        both["github_token"] = json!(b64("t"));
        assert!(
            e(both)
                .unwrap()
                .contains("both PAT and GitHub App credentials")
        );
        assert_eq!(
            e(json!({"github_app_installation_id": b64("x")})).as_deref(),
            Some("strconv.ParseInt: parsing \"x\": invalid syntax")
        );
    }

    #[test]
    fn vault_values_are_app_config_json() {
        assert!(from_json(r#"{"github_token": "t"}"#).is_ok());
        assert!(
            from_json(r#"{"github_app_id": "1", "github_app_installation_id": 2, "github_app_private_key": "k"}"#)
                .is_ok()
        );
        assert!(
            from_json("{}")
                .err()
                .unwrap()
                .starts_with("failed to validate app config decoded from string: ")
        );
    }
}
