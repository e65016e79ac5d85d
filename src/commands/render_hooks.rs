//! Flags of `render --hooks` (see `crate::hooks`).

use crate::duration::parse_duration;
use crate::hooks::{self, HookOptions, Toleration};

/// Hook flags of `render`.
#[derive(Debug, Clone, clap::Args)]
pub struct HookArgs {
    /// Also emit Helm pre-delete hooks (ServiceAccount, Role, RoleBinding,
    /// one kubectl Job per wave but the last) so a plain `helm uninstall`
    /// deletes in teardown order. Helm 4 only: refused on Helm 3 input.
    #[arg(long)]
    pub hooks: bool,

    /// Image of the hook Jobs; its entrypoint must be kubectl (tag or @sha256 digest).
    #[arg(long, value_name = "IMAGE", default_value = hooks::DEFAULT_IMAGE)]
    pub hook_image: String,

    /// Namespace of the hook ServiceAccount and Jobs [default: namespace of
    /// the first namespaced object deleted (the AutoscalingRunnerSet's)].
    #[arg(long, value_name = "NS")]
    pub hook_namespace: Option<String>,

    /// How long each hook Job's `kubectl delete --wait` waits for its wave.
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = seconds)]
    pub hook_timeout: u64,

    /// `activeDeadlineSeconds` of each hook Job (keep it below Helm's
    /// `--timeout`, 5m by default, so Helm reports the Job's failure).
    #[arg(long, value_name = "DURATION", default_value = "270s", value_parser = seconds)]
    pub hook_deadline: u64,

    /// `backoffLimit` of each hook Job.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub hook_backoff_limit: u32,

    /// Image pull secret of the hook pods (repeatable).
    #[arg(long = "hook-image-pull-secret", value_name = "NAME")]
    pub hook_image_pull_secrets: Vec<String>,

    /// Node selector of the hook pods, KEY=VALUE (repeatable).
    #[arg(long = "hook-node-selector", value_name = "KEY=VALUE", value_parser = key_value)]
    pub hook_node_selector: Vec<(String, String)>,

    /// Tolerations of the hook pods (`--hook-toleration`).
    #[arg(
        long = "hook-toleration",
        value_name = "KEY[=VALUE][:EFFECT]",
        value_parser = Toleration::parse,
        help = "Toleration of the hook pods, KEY[=VALUE][:EFFECT] (repeatable; without a value the operator is Exists)"
    )]
    pub hook_tolerations: Vec<Toleration>,
}

impl HookArgs {
    /// The hook options these flags describe.
    pub fn options(&self) -> HookOptions {
        HookOptions {
            image: self.hook_image.clone(),
            namespace: self.hook_namespace.clone(),
            timeout_seconds: self.hook_timeout,
            active_deadline_seconds: self.hook_deadline,
            backoff_limit: self.hook_backoff_limit,
            image_pull_secrets: self.hook_image_pull_secrets.clone(),
            node_selector: self.hook_node_selector.clone(),
            tolerations: self.hook_tolerations.clone(),
        }
    }
}

fn seconds(s: &str) -> Result<u64, String> {
    let d = parse_duration(s).map_err(|e| e.to_string())?;
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    if secs == 0 {
        return Err("must be at least 1s".into());
    }
    Ok(secs)
}

fn key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{s}` is not KEY=VALUE")),
    }
}
