//! `AutoscalingRunnerSetReconciler` (autoscalingrunnerset_controller.go, 0.14.2).

use serde_json::{Value, json};

use super::client::{Ctx, Failure, Outcome, Reconciled};
use super::names::*;
use crate::github::DEFAULT_RUNNER_GROUP;

/// Reconcile one AutoscalingRunnerSet.
pub(crate) fn reconcile(ctx: &Ctx<'_>, namespace: &str, name: &str) -> Reconciled {
    let Some(ars) = ctx.cached_get(&ars_gvk(), namespace, name)? else {
        return Ok(Outcome::Done);
    };
    if is_deleting(&ars) {
        return finalize(ctx, &ars);
    }
    if !has_finalizer(&ars, ARS_FINALIZER) {
        ctx.info("Adding finalizer");
        ctx.add_finalizers(&ars_gvk(), &ars, &[ARS_FINALIZER])
            .map_err(|e| {
                ctx.error(
                    "Failed to update autoscaling runner set with finalizer added",
                    &e.message,
                );
                Failure(e.message)
            })?;
        ctx.info("Successfully added finalizer");
        return Ok(Outcome::Done);
    }
    let version = label(&ars, "app.kubernetes.io/version").unwrap_or("");
    if !version_allowed(version) {
        ctx.info("Autoscaling runner set version doesn't match the build version. Deleting the resource.");
        ctx.api.delete(
            &ctx.actor,
            &ars_gvk(),
            Some(namespace),
            name,
            &Default::default(),
        )?;
        return Ok(Outcome::Done);
    }
    let scale_set_id = annotation(&ars, ANN_SCALE_SET_ID).and_then(|s| s.parse::<i64>().ok());
    let Some(scale_set_id) = scale_set_id else {
        ctx.info("Runner scale set id annotation does not exist. Creating a new runner scale set.");
        return create_runner_scale_set(ctx, &ars);
    };

    let children = owned_runner_sets(ctx, &ars)?;
    let Some(ers) = children.first() else {
        ctx.info("Creating a new EphemeralRunnerSet");
        create_ephemeral_runner_set(ctx, &ars, scale_set_id)?;
        return Ok(Outcome::Done);
    };

    let listener_name = listener_name(&ars);
    if ctx
        .cached_get(&listener_gvk(), &ctx.ident.namespace, &listener_name)?
        .is_none()
    {
        ctx.info("Creating a new AutoscalingListener for the runner set");
        create_listener(ctx, &ars, ers, &listener_name, scale_set_id)?;
        return Ok(Outcome::Done);
    }

    let status = json!({
        "currentRunners": ers.pointer("/status/currentReplicas").cloned().unwrap_or(json!(0)),
        "pendingEphemeralRunners": ers.pointer("/status/pendingEphemeralRunners").cloned().unwrap_or(json!(0)),
        "runningEphemeralRunners": ers.pointer("/status/runningEphemeralRunners").cloned().unwrap_or(json!(0)),
        "failedEphemeralRunners": ers.pointer("/status/failedEphemeralRunners").cloned().unwrap_or(json!(0)),
        "state": "Running",
    });
    ctx.set_status(&ars, status)?;
    Ok(Outcome::Done)
}

/// Major.minor of the ARS chart version must match the controller's (0.12.0+).
fn version_allowed(version: &str) -> bool {
    let major_minor = |v: &str| v.split('.').take(2).collect::<Vec<_>>().join(".");
    version.is_empty() || major_minor(version) == major_minor(CONTROLLER_VERSION)
}

fn owned_runner_sets(ctx: &Ctx<'_>, ars: &Value) -> Result<Vec<Value>, Failure> {
    let all = ctx.cached_list(&ers_gvk(), namespace(ars), None)?;
    Ok(all
        .into_iter()
        .filter(|e| {
            controller_owner(e)
                .is_some_and(|(kind, n, _)| kind == "AutoscalingRunnerSet" && n == name(ars))
        })
        .collect())
}

fn create_runner_scale_set(ctx: &Ctx<'_>, ars: &Value) -> Reconciled {
    let ns = namespace(ars);
    let creds = ctx
        .actions_service(ns, ars.get("spec").unwrap_or(&Value::Null))
        .inspect_err(|e| {
            ctx.error(
                "Failed to initialize Actions service client for creating a new runner scale set",
                e,
            );
        })?;
    let group = match str_at(ars, "/spec/runnerGroup") {
        "" => DEFAULT_RUNNER_GROUP,
        g => g,
    };
    let scale_set_name = match str_at(ars, "/spec/runnerScaleSetName") {
        "" => name(ars),
        n => n,
    };
    let scale_set = match ctx
        .github
        .get_runner_scale_set(&creds, group, scale_set_name)?
    {
        Some(ss) => ss,
        None => {
            ctx.info("Runner scale set does not exist. Creating a new runner scale set.");
            ctx.github
                .create_runner_scale_set(&creds, group, scale_set_name)
                .inspect_err(|e| {
                    ctx.error(
                        "Failed to create a new runner scale set on Actions service",
                        e,
                    );
                })?
        }
    };
    ctx.info("Created/Reused a runner scale set");
    ctx.merge_patch(
        &ars_gvk(),
        ns,
        name(ars),
        json!({"metadata": {"annotations": {
            ANN_SCALE_SET_ID: scale_set.id.to_string(),
            ANN_RUNNER_GROUP_NAME: scale_set.runner_group,
            ANN_SCALE_SET_NAME: scale_set.name,
        }}}),
    )?;
    ctx.info("Updated with runner scale set ID as an annotation");
    Ok(Outcome::Done)
}

fn create_ephemeral_runner_set(
    ctx: &Ctx<'_>,
    ars: &Value,
    scale_set_id: i64,
) -> Result<(), Failure> {
    let ers = json!({
        "apiVersion": ARC_API_VERSION,
        "kind": "EphemeralRunnerSet",
        "metadata": {
            "generateName": format!("{}-", name(ars)),
            "namespace": namespace(ars),
            "labels": labels(ars),
            "ownerReferences": [owner_ref(ars)],
        },
        "spec": {
            "replicas": 0,
            "ephemeralRunnerSpec": {
                "githubConfigUrl": str_at(ars, "/spec/githubConfigUrl"),
                "githubConfigSecret": str_at(ars, "/spec/githubConfigSecret"),
                "runnerScaleSetId": scale_set_id,
                "spec": ars.pointer("/spec/template/spec").cloned().unwrap_or(json!({})),
                "proxy": ars.pointer("/spec/proxy").cloned().unwrap_or(Value::Null),
                "githubServerTLS": ars.pointer("/spec/githubServerTLS").cloned().unwrap_or(Value::Null),
            },
        },
    });
    ctx.create(ers)
        .inspect_err(|e| ctx.error("Failed to create a new EphemeralRunnerSet", &e.message))?;
    ctx.info("Created a new EphemeralRunnerSet");
    Ok(())
}

fn create_listener(
    ctx: &Ctx<'_>,
    ars: &Value,
    ers: &Value,
    listener_name: &str,
    scale_set_id: i64,
) -> Result<(), Failure> {
    let listener = json!({
        "apiVersion": ARC_API_VERSION,
        "kind": "AutoscalingListener",
        "metadata": {
            "name": listener_name,
            "namespace": ctx.ident.namespace,
            "labels": labels(ars),
        },
        "spec": {
            "githubConfigUrl": str_at(ars, "/spec/githubConfigUrl"),
            "githubConfigSecret": str_at(ars, "/spec/githubConfigSecret"),
            "runnerScaleSetId": scale_set_id,
            "autoscalingRunnerSetNamespace": namespace(ars),
            "autoscalingRunnerSetName": name(ars),
            "ephemeralRunnerSetName": name(ers),
            "minRunners": ars.pointer("/spec/minRunners").cloned().unwrap_or(json!(0)),
            "maxRunners": ars.pointer("/spec/maxRunners").cloned().unwrap_or(Value::Null),
            "image": format!("ghcr.io/actions/gha-runner-scale-set-controller:{CONTROLLER_VERSION}"),
            "proxy": ars.pointer("/spec/proxy").cloned().unwrap_or(Value::Null),
            "githubServerTLS": ars.pointer("/spec/githubServerTLS").cloned().unwrap_or(Value::Null),
        },
    });
    ctx.create(listener)
        .inspect_err(|e| ctx.error("Failed to create AutoscalingListener resource", &e.message))?;
    ctx.info("Created AutoscalingListener resource");
    Ok(())
}

// ---- deletion: arc-teardown.md §5.1 ------------------------------------------------

fn finalize(ctx: &Ctx<'_>, ars: &Value) -> Reconciled {
    if !has_finalizer(ars, ARS_FINALIZER) {
        return Ok(Outcome::Done);
    }
    ctx.info("Deleting resources");
    let done = clean_up_resources(ctx, ars)
        .inspect_err(|e| ctx.error("Failed to clean up resources during deletion", e))?;
    if !done {
        ctx.info("Waiting for resources to be cleaned up before removing finalizer");
        return Ok(Outcome::RequeueAfter(ctx.timing.ars_requeue));
    }
    // Re-read: deleteRunnerScaleSet patched the annotations.
    let ars = ctx
        .cached_get(&ars_gvk(), namespace(ars), name(ars))?
        .unwrap_or_else(|| ars.clone());
    remove_finalizers_from_dependent_resources(ctx, &ars)
        .inspect_err(|e| ctx.error("Failed to remove finalizers on dependent resources", e))?;
    ctx.info("Removing finalizer");
    ctx.remove_finalizer(&ars_gvk(), &ars, ARS_FINALIZER)
        .inspect_err(|e| {
            ctx.error(
                "Failed to update autoscaling runner set without finalizer",
                &e.message,
            )
        })?;
    ctx.info("Successfully removed finalizer after cleanup");
    Ok(Outcome::Done)
}

fn clean_up_resources(ctx: &Ctx<'_>, ars: &Value) -> Result<bool, Failure> {
    ctx.info("Deleting the listener");
    if !cleanup_listener(ctx, ars).inspect_err(|e| ctx.error("Failed to clean up listener", e))? {
        ctx.info("Waiting for listener to be deleted");
        return Ok(false);
    }
    ctx.info("deleting ephemeral runner sets");
    if !cleanup_ephemeral_runner_sets(ctx, ars)
        .inspect_err(|e| ctx.error("Failed to clean up ephemeral runner sets", e))?
    {
        ctx.info("Waiting for ephemeral runner sets to be deleted");
        return Ok(false);
    }
    ctx.info("deleting runner scale set");
    delete_runner_scale_set(ctx, ars)
        .inspect_err(|e| ctx.error("Failed to delete runner scale set", e))?;
    Ok(true)
}

fn cleanup_listener(ctx: &Ctx<'_>, ars: &Value) -> Result<bool, Failure> {
    ctx.info("Cleaning up the listener");
    let listener_name = listener_name(ars);
    match ctx.cached_get(&listener_gvk(), &ctx.ident.namespace, &listener_name)? {
        None => {
            ctx.info("Listener is deleted");
            Ok(true)
        }
        Some(listener) => {
            if !is_deleting(&listener) {
                ctx.info("Deleting the listener");
                match ctx.delete(&listener_gvk(), &ctx.ident.namespace, &listener_name) {
                    Ok(_) => {}
                    Err(e) if e.code == 404 => {}
                    Err(e) => {
                        return Err(Failure(format!("failed to delete listener: {}", e.message)));
                    }
                }
            }
            Ok(false)
        }
    }
}

fn cleanup_ephemeral_runner_sets(ctx: &Ctx<'_>, ars: &Value) -> Result<bool, Failure> {
    ctx.info("Cleaning up ephemeral runner sets");
    let sets = owned_runner_sets(ctx, ars)?;
    if sets.is_empty() {
        ctx.info("All ephemeral runner sets are deleted");
        return Ok(true);
    }
    ctx.info(format!(
        "Deleting all ephemeral runner sets (count {})",
        sets.len()
    ));
    for ers in &sets {
        if is_deleting(ers) {
            ctx.info("Skip ephemeral runner set since it is already marked for deletion");
            continue;
        }
        ctx.info("Deleting ephemeral runner set");
        match ctx.delete(&ers_gvk(), namespace(ers), name(ers)) {
            Ok(_) => ctx.info("Deleted ephemeral runner set"),
            Err(e) if e.code == 404 => {}
            Err(e) => {
                return Err(Failure(format!(
                    "failed to delete ephemeral runner set: {}",
                    e.message
                )));
            }
        }
    }
    Ok(false)
}

fn delete_runner_scale_set(ctx: &Ctx<'_>, ars: &Value) -> Result<(), Failure> {
    let Some(raw) = annotation(ars, ANN_SCALE_SET_ID) else {
        return Ok(()); // manual deletion of the scale set is required
    };
    let Ok(id) = raw.parse::<i64>() else {
        ctx.info("autoscaling runner set does not have annotation describing scale set id. Skip deletion");
        return Ok(());
    };
    ctx.info("Deleting the runner scale set from Actions service");
    let creds = ctx
        .actions_service(namespace(ars), ars.get("spec").unwrap_or(&Value::Null))
        .inspect_err(|e| ctx.error("Failed to initialize Actions service client for updating a existing runner scale set", e))?;
    ctx.github
        .delete_runner_scale_set(&creds, id)
        .inspect_err(|e| ctx.error("Failed to delete runner scale set", e))?;
    ctx.merge_patch(
        &ars_gvk(),
        namespace(ars),
        name(ars),
        json!({"metadata": {"annotations": {ANN_SCALE_SET_ID: null}}}),
    )
    .inspect_err(|e| {
        ctx.error(
            "Failed to patch autoscaling runner set with annotation removed",
            &e.message,
        )
    })?;
    ctx.info("Deleted the runner scale set from Actions service");
    Ok(())
}

/// `removeFinalizersFromDependentResources`: one pass in the fixed order, stop at the first error.
fn remove_finalizers_from_dependent_resources(ctx: &Ctx<'_>, ars: &Value) -> Result<(), Failure> {
    let ns = namespace(ars);
    for (key, kind, what) in CLEANUP_ANNOTATIONS {
        let Some(target) = annotation(ars, key) else {
            ctx.info(format!(
                "Skipping cleaning up {what}: annotation key \"{key}\" not present"
            ));
            continue;
        };
        ctx.info(format!("Removing finalizer from {what}"));
        let gvk = if kind == "Role" || kind == "RoleBinding" {
            rbac(kind)
        } else {
            core(kind)
        };
        // Secrets are read live (RBAC); the GitHub secret treats Forbidden as already deleted.
        let fetched = if kind == "Secret" {
            match ctx.live_get(&gvk, ns, target) {
                Err(e) if e.code == 403 => Ok(None),
                other => other,
            }
        } else {
            ctx.cached_get(&gvk, ns, target)
        };
        let obj = match fetched {
            Ok(Some(obj)) => obj,
            Ok(None) => {
                ctx.info(format!("{what} has already been deleted"));
                continue;
            }
            Err(e) => return Err(Failure(format!("failed to fetch {what}: {}", e.message))),
        };
        if !has_finalizer(&obj, CLEANUP_PROTECTION) {
            ctx.info(format!("{what} finalizer has already been removed"));
            continue;
        }
        match ctx.remove_finalizer(&gvk, &obj, CLEANUP_PROTECTION) {
            Ok(_) => ctx.info(format!("Removed finalizer from {what}")),
            Err(e) if e.code == 404 => ctx.info(format!("{what} has already been deleted")),
            Err(e) => {
                return Err(Failure(format!(
                    "failed to patch {what} without finalizer: {}",
                    e.message
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_major_minor() {
        assert!(version_allowed("0.14.0"));
        assert!(version_allowed("0.14.2"));
        assert!(!version_allowed("0.13.1"));
        assert!(version_allowed(""));
    }
}
