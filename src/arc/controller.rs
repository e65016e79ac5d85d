//! The ARC controller as its Deployment shows it: whether it is available,
//! the ServiceAccount it runs as, the namespace it watches, its version.
//! Pure.

use super::{
    CONTROLLER_SA_NAME_LABEL, CONTROLLER_SA_NAMESPACE_LABEL, VERSION_LABEL,
    WATCH_SINGLE_NAMESPACE_LABEL,
};
use crate::model::Live;
use serde::Serialize;

/// One ARC controller Deployment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Controller {
    /// `namespace/name`.
    pub name: String,
    /// Whether it reports at least one available replica.
    pub available: bool,
    /// The ServiceAccount it runs as (`namespace/name`), from its
    /// `actions.github.com/controller-service-account-*` labels.
    pub service_account: Option<(String, String)>,
    /// The one namespace it watches (`actions.github.com/controller-watch-single-namespace`).
    pub watch_namespace: Option<String>,
    /// Its version (`app.kubernetes.io/version`, else the image tag).
    pub version: Option<String>,
}

impl Controller {
    /// Read a controller Deployment.
    pub fn from_deployment(d: &Live) -> Self {
        let label = |k: &str| d.label(k).filter(|v| !v.is_empty()).map(str::to_string);
        let service_account = match (
            label(CONTROLLER_SA_NAMESPACE_LABEL),
            label(CONTROLLER_SA_NAME_LABEL),
        ) {
            (Some(ns), Some(name)) => Some((ns, name)),
            _ => None,
        };
        let image_tag = d
            .value
            .pointer("/spec/template/spec/containers/0/image")
            .and_then(serde_json::Value::as_str)
            .and_then(|image| image.rsplit_once(':'))
            .map(|(_, tag)| tag.to_string())
            .filter(|tag| !tag.contains('/'));
        Self {
            name: d.id.namespaced_name(),
            available: d
                .value
                .pointer("/status/availableReplicas")
                .and_then(serde_json::Value::as_i64)
                .unwrap_or(0)
                > 0,
            service_account,
            watch_namespace: label(WATCH_SINGLE_NAMESPACE_LABEL),
            version: label(VERSION_LABEL).or(image_tag),
        }
    }

    /// Whether it reconciles runner sets in `namespace`.
    pub fn serves(&self, namespace: &str) -> bool {
        self.watch_namespace
            .as_deref()
            .is_none_or(|watched| watched == namespace)
    }
}
