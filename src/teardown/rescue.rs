//! Rescue: when the release record is gone (someone ran `helm uninstall` and
//! objects were left Terminating), rebuild the release's objects from the
//! AutoscalingRunnerSet and the names in its cleanup annotations.

use crate::arc::RunnerSetRefs;
use crate::model::ObjectId;

/// The objects an ARS names in its cleanup annotations (and its GitHub
/// config Secret), in its namespace. Pure.
pub fn dependent_ids(refs: &RunnerSetRefs) -> Vec<ObjectId> {
    let mut ids: Vec<ObjectId> = refs
        .dependents
        .iter()
        .map(|d| ObjectId {
            group: d.group.to_string(),
            version: "v1".to_string(),
            kind: d.kind.to_string(),
            namespace: Some(refs.namespace.clone()),
            name: d.name.clone(),
        })
        .collect();
    if let Some(secret) = &refs.github_config_secret {
        let id = ObjectId {
            group: String::new(),
            version: "v1".into(),
            kind: "Secret".into(),
            namespace: Some(refs.namespace.clone()),
            name: secret.clone(),
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_come_from_annotations_and_the_secret_reference() {
        let ars = json!({"metadata": {"name": "s", "namespace": "ns", "annotations": {
            "actions.github.com/cleanup-manager-role-name": "s-gha-rs-manager",
            "actions.github.com/cleanup-no-permission-service-account-name": "s-gha-rs-no-permission"}},
            "spec": {"githubConfigSecret": "user-secret"}});
        let ids: Vec<String> = dependent_ids(&RunnerSetRefs::from_ars(&ars, "ns"))
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            ids,
            [
                "ServiceAccount/ns/s-gha-rs-no-permission",
                "Role/ns/s-gha-rs-manager",
                "Secret/ns/user-secret"
            ]
        );
    }
}
