//! Rescue: when the release record is gone (someone ran `helm uninstall` and
//! objects were left Terminating), rebuild the release's objects from the
//! AutoscalingRunnerSet and the names in its cleanup annotations.

use crate::arc::{self, RunnerSetRefs, owned_by};
use crate::kube::{Cluster, KubeError};
use crate::manifest::Object;
use crate::model::{Live, ObjectId};

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

/// Find the release's runner sets in `namespace` and the dependents they name
/// that the release owns. Returned as manifest objects built from the live
/// state (Secret payloads already removed).
pub async fn find_objects(
    cluster: &Cluster,
    release: &str,
    namespace: &str,
) -> Result<Vec<Object>, KubeError> {
    let sets = match cluster
        .list(
            arc::GROUP,
            arc::VERSION,
            arc::ARS_KIND,
            Some(namespace),
            None,
        )
        .await
    {
        Ok(items) => items,
        Err(KubeError::UnknownKind(_)) => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut lives: Vec<Live> = Vec::new();
    for ars in sets.into_iter().filter(|a| owned_by(a, release, namespace)) {
        let refs = RunnerSetRefs::from_ars(&ars.value, namespace);
        lives.push(ars);
        for id in dependent_ids(&refs) {
            if let Some(l) = cluster.get(&id).await?
                && owned_by(&l, release, namespace)
                && !lives.iter().any(|x| x.id == l.id)
            {
                lives.push(l);
            }
        }
    }
    Ok(lives
        .into_iter()
        .enumerate()
        .filter_map(|(i, l)| {
            let mut value = l.value;
            if let Some(map) = value.as_object_mut() {
                map.insert("apiVersion".into(), l.id.api_version().into());
                map.insert("kind".into(), l.id.kind.clone().into());
            }
            Object::from_value(value, i, namespace).ok()
        })
        .collect())
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
