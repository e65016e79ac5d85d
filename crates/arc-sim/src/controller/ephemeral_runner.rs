//! `EphemeralRunnerReconciler` (ephemeralrunner_controller.go, 0.14.2).

use std::time::Instant;

use serde_json::{Value, json};

use super::client::{Ctx, Failure, Outcome, Reconciled};
use super::names::*;

/// Reconcile one EphemeralRunner.
pub(crate) fn reconcile(ctx: &Ctx<'_>, namespace: &str, name: &str) -> Reconciled {
    let Some(er) = ctx.cached_get(&er_gvk(), namespace, name)? else {
        return Ok(Outcome::Done);
    };
    if is_deleting(&er) {
        return finalize(ctx, &er);
    }
    let missing: Vec<&str> = [ER_REGISTRATION_FINALIZER, ER_FINALIZER]
        .into_iter()
        .filter(|f| !has_finalizer(&er, f))
        .collect();
    if !missing.is_empty() {
        ctx.info("Adding finalizer");
        ctx.add_finalizers(&er_gvk(), &er, &missing)?;
        return Ok(Outcome::Done);
    }
    let phase = str_at(&er, "/status/phase");
    if phase == "Succeeded" || phase == "Failed" {
        return Ok(Outcome::Done);
    }
    let spec = er.pointer("/spec").cloned().unwrap_or(json!({}));
    let Some(runner_id) = er.pointer("/status/runnerId").and_then(Value::as_i64) else {
        ctx.info(
            "Creating new ephemeral runner registration and updating status with runner config",
        );
        let creds = ctx.actions_service(namespace, &spec).inspect_err(|e| {
            ctx.error("Failed to get actions client for generating JIT config", e)
        })?;
        let scale_set_id = spec
            .get("runnerScaleSetId")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let runner = ctx
            .github
            .generate_jit_runner_config(&creds, scale_set_id, name)
            .inspect_err(|e| ctx.error("Failed to generate JIT config", e))?;
        let mut status = er.get("status").cloned().unwrap_or(json!({}));
        status["runnerId"] = json!(runner.id);
        status["runnerName"] = json!(runner.name);
        status["phase"] = json!("Pending");
        ctx.set_status(&er, status)?;
        ctx.info("Updated ephemeral runner status with runnerId and runnerJITConfig");
        return Ok(Outcome::Done);
    };

    // The runner process exits when its job ends and the kubelet reports the
    // pod Succeeded, whether or not the controller may read the runner's Secret.
    if ctx.github.runner_finished(runner_id)
        && let Some(pod) = ctx.cached_get(&core("Pod"), namespace, name)?
        && str_at(&pod, "/status/phase") != "Succeeded"
    {
        super::kubelet_set_phase(ctx.api, &pod, "Succeeded");
    }

    if ctx.live_get(&core("Secret"), namespace, name)?.is_none() {
        ctx.info("Creating new ephemeral runner secret for jitconfig.");
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace, "ownerReferences": [owner_ref(&er)]},
            "stringData": {
                "jitToken": "simulated-jit-config",
                "runnerName": name,
                "runnerId": runner_id.to_string(),
                "scaleSetId": spec.get("runnerScaleSetId").map(|v| v.to_string()).unwrap_or_default(),
            },
        });
        ctx.create(secret)
            .inspect_err(|e| ctx.error("Failed to create secret", &e.message))?;
        ctx.info("Created ephemeral runner secret for jitconfig.");
        return Ok(Outcome::Done);
    }

    let pod = match ctx.cached_get(&core("Pod"), namespace, name)? {
        Some(pod) => pod,
        None => {
            ctx.info("Creating new EphemeralRunner pod.");
            let mut labels = labels(&er);
            labels[LABEL_EPHEMERAL_RUNNER] = json!("True");
            let mut pod_spec = spec.get("spec").cloned().unwrap_or(json!({}));
            if pod_spec.get("containers").is_none() {
                pod_spec["containers"] =
                    json!([{"name": "runner", "image": "ghcr.io/actions/actions-runner:latest"}]);
            }
            let pod = json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": namespace, "labels": labels, "ownerReferences": [owner_ref(&er)]},
                "spec": pod_spec,
            });
            let created = ctx.create(pod).inspect_err(|e| {
                ctx.error(
                    "Failed to create pod resource for ephemeral runner.",
                    &e.message,
                )
            })?;
            ctx.info("Created ephemeral runner pod");
            super::kubelet_run(ctx.api, &created);
            return Ok(Outcome::Done);
        }
    };

    // The runner process: a job that ended makes it exit (pod Succeeded).
    if ctx.github.runner_finished(runner_id) {
        if str_at(&pod, "/status/phase") != "Succeeded" {
            super::kubelet_set_phase(ctx.api, &pod, "Succeeded");
        }
        ctx.info("Ephemeral runner has finished successfully");
        let mut status = er.get("status").cloned().unwrap_or(json!({}));
        status["phase"] = json!("Succeeded");
        ctx.set_status(&er, status)?;
        return Ok(Outcome::Done);
    }
    if str_at(&pod, "/status/phase") == "Running" && phase != "Running" {
        let mut status = er.get("status").cloned().unwrap_or(json!({}));
        status["phase"] = json!("Running");
        status["ready"] = json!(true);
        ctx.set_status(&er, status)?;
        ctx.info("Updated ephemeral runner status with pod phase");
    }
    match ctx.github.running_job(runner_id) {
        Some(job) => {
            let until_end = job
                .ends_at
                .map(|t| t.saturating_duration_since(Instant::now()));
            let wait = until_end.map_or(ctx.timing.busy_runner_requeue, |d| {
                d.min(ctx.timing.busy_runner_requeue)
            });
            Ok(Outcome::RequeueAfter(wait))
        }
        None => Ok(Outcome::Done),
    }
}

/// §5.3: leave the service (busy: retry every 30s forever), delete pod and
/// JIT secret (and container-hook leftovers), then drop the finalizer.
fn finalize(ctx: &Ctx<'_>, er: &Value) -> Reconciled {
    if !has_finalizer(er, ER_FINALIZER) {
        return Ok(Outcome::Done);
    }
    let ns = namespace(er);
    let name = name(er);
    if has_finalizer(er, ER_REGISTRATION_FINALIZER) {
        ctx.info("Trying to clean up runner from the service");
        let spec = er.pointer("/spec").cloned().unwrap_or(json!({}));
        let creds = ctx
            .actions_service(ns, &spec)
            .inspect_err(|e| ctx.error("Failed to clean up runner from service", e))?;
        ctx.info("Removing runner from the service");
        let runner_id = er
            .pointer("/status/runnerId")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        match ctx.github.remove_runner(&creds, runner_id) {
            Ok(()) => {}
            Err(e) if e.is_job_still_running() => {
                ctx.info(
                    "Runner job is still running, cannot remove the runner from the service yet",
                );
                ctx.info("Runner is not finished yet, retrying in 30s");
                return Ok(Outcome::RequeueAfter(ctx.timing.busy_runner_requeue));
            }
            Err(e) => {
                let f = Failure(format!("failed to remove runner from the service: {e}"));
                ctx.error("Failed to clean up runner from service", &f);
                return Err(f);
            }
        }
        ctx.info("Runner is cleaned up from the service, removing finalizer");
        ctx.remove_finalizer(&er_gvk(), er, ER_REGISTRATION_FINALIZER)?;
        ctx.info("Removed finalizer from ephemeral runner");
        return Ok(Outcome::Done);
    }

    ctx.info("Finalizing ephemeral runner");
    ctx.info("Cleaning up the runner pod");
    match ctx.cached_get(&core("Pod"), ns, name)? {
        None => ctx.info("Runner pod is deleted"),
        Some(pod) if is_deleting(&pod) => ctx.info("Pod contains deletion timestamp"),
        Some(_) => match ctx.delete(&core("Pod"), ns, name) {
            Ok(_) => ctx.info("Deleted the runner pod"),
            Err(e) if e.code == 404 => ctx.info("Runner pod is deleted"),
            Err(e) => {
                let f = Failure(format!("failed to delete pod: {}", e.message));
                ctx.error("Failed to clean up ephemeral runner owned resources", &f);
                return Err(f);
            }
        },
    }
    ctx.info("Cleaning up the runner jitconfig secret");
    let secret = ctx.live_get(&core("Secret"), ns, name).map_err(|e| {
        let f = Failure(format!("failed to get secret: {}", e.message));
        ctx.error("Failed to clean up ephemeral runner owned resources", &f);
        f
    })?;
    match secret {
        None => ctx.info("Runner jitconfig secret is deleted"),
        Some(_) => match ctx.delete(&core("Secret"), ns, name) {
            Ok(_) => ctx.info("Deleted jitconfig secret"),
            Err(e) if e.code == 404 => ctx.info("Runner jitconfig secret is deleted"),
            Err(e) => {
                let f = Failure(format!("failed to delete secret: {}", e.message));
                ctx.error("Failed to clean up ephemeral runner owned resources", &f);
                return Err(f);
            }
        },
    }
    if uses_container_hooks(er) {
        cleanup_container_hooks_resources(ctx, ns, name)?;
    }
    ctx.info("Removing finalizer");
    ctx.remove_finalizer(&er_gvk(), er, ER_FINALIZER)?;
    ctx.info("Successfully removed finalizer after cleanup");
    Ok(Outcome::Done)
}

fn uses_container_hooks(er: &Value) -> bool {
    er.pointer("/spec/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|c| {
            c.get("env")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .any(|e| str_at(&e, "/name") == "ACTIONS_RUNNER_CONTAINER_HOOKS")
}

fn cleanup_container_hooks_resources(ctx: &Ctx<'_>, ns: &str, name: &str) -> Result<(), Failure> {
    let selector = format!("{LABEL_RUNNER_POD}={name}");
    for pod in ctx.cached_list(&core("Pod"), ns, Some(&selector))? {
        ctx.info("Deleting container hooks runner-linked pod");
        match ctx.delete(&core("Pod"), ns, super::names::name(&pod)) {
            Ok(_) => {}
            Err(e) if e.code == 404 => {}
            Err(e) => {
                return Err(Failure(format!(
                    "failed to delete runner-linked pod: {}",
                    e.message
                )));
            }
        }
    }
    let secrets = ctx
        .live_list(&core("Secret"), ns, Some(&selector))
        .map_err(|e| {
            Failure(format!(
                "failed to list runner-linked secrets: {}",
                e.message
            ))
        })?;
    for secret in secrets {
        ctx.info("Deleting container hooks runner-linked secret");
        match ctx.delete(&core("Secret"), ns, super::names::name(&secret)) {
            Ok(_) => {}
            Err(e) if e.code == 404 => {}
            Err(e) => {
                return Err(Failure(format!(
                    "failed to delete runner-linked secret: {}",
                    e.message
                )));
            }
        }
    }
    Ok(())
}
