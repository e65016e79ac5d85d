//! A fake Azure Key Vault, for runner sets with `spec.vaultConfig`.
//!
//! With `vaultConfig.type: azure_key_vault` the controller reads the GitHub
//! credentials (`spec.githubConfigSecret` names a vault secret holding the
//! app-config JSON) and the proxy credentials from the vault, never from a
//! Kubernetes Secret (`secretresolver/secret_resolver.go`, `vaultResolver`).
//! Tests put secrets in and make the vault unreachable.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::sync::lock;

#[derive(Debug)]
struct State {
    reachable: bool,
    secrets: BTreeMap<String, String>,
}

/// The fake vault. Cheap to clone (shared state). Reachable and empty at first.
#[derive(Clone, Debug)]
pub struct FakeVault {
    state: Arc<Mutex<State>>,
}

impl Default for FakeVault {
    fn default() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                reachable: true,
                secrets: BTreeMap::new(),
            })),
        }
    }
}

impl FakeVault {
    /// A reachable, empty vault.
    pub fn new() -> Self {
        Self::default()
    }

    /// Store a secret (for the GitHub config: JSON with `github_token`, or
    /// `github_app_id`, `github_app_installation_id` (a number) and
    /// `github_app_private_key`; for a proxy: `{"username", "password"}`).
    pub fn put(&self, key: &str, value: &str) {
        lock(&self.state)
            .secrets
            .insert(key.to_string(), value.to_string());
    }

    /// Store the GitHub config of a personal access token under `key`.
    pub fn put_token(&self, key: &str, token: &str) {
        self.put(key, &serde_json::json!({"github_token": token}).to_string());
    }

    /// Delete a secret.
    pub fn remove(&self, key: &str) {
        lock(&self.state).secrets.remove(key);
    }

    /// Make the vault (un)reachable from the controller.
    pub fn set_reachable(&self, reachable: bool) {
        lock(&self.state).reachable = reachable;
    }

    /// Whether the controller can reach the vault.
    pub fn is_reachable(&self) -> bool {
        lock(&self.state).reachable
    }

    /// `GetSecret` as `vault/azurekeyvault` reports it: the value, or the
    /// error text (`failed to get secret: …`; the Azure SDK's own wording is
    /// approximated).
    pub(crate) fn get_secret(&self, vault_url: &str, key: &str) -> Result<String, String> {
        let s = lock(&self.state);
        let url = format!("{}/secrets/{key}/", vault_url.trim_end_matches('/'));
        if !s.reachable {
            let host = vault_url
                .split_once("://")
                .map_or(vault_url, |(_, rest)| rest)
                .split('/')
                .next()
                .unwrap_or(vault_url);
            return Err(format!(
                "failed to get secret: Get \"{url}?api-version=7.5\": dial tcp: lookup {host}: no such host"
            ));
        }
        s.secrets.get(key).cloned().ok_or_else(|| {
            format!(
                "failed to get secret: GET {url}: RESPONSE 404: 404 Not Found, ERROR CODE: SecretNotFound"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_vault_answers_nothing() {
        let v = FakeVault::new();
        v.put_token("gh", "t");
        assert!(v.get_secret("https://kv.example/", "gh").is_ok());
        assert!(
            v.get_secret("https://kv.example/", "other")
                .unwrap_err()
                .contains("SecretNotFound")
        );
        v.set_reachable(false);
        assert!(
            v.get_secret("https://kv.example/", "gh")
                .unwrap_err()
                .contains("no such host")
        );
    }
}
