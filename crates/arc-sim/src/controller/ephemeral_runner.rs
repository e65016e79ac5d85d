//! `EphemeralRunnerReconciler` (ephemeralrunner_controller.go, 0.14.2),
//! plus the runner process: it exits 0 when its job ended.

use std::time::Instant;

use serde_json::{Value, json};

use super::client::{Ctx, Failure, Outcome, Reconciled};
use super::kubelet;
use super::names::*;
use super::version::ArcLine;

/// `v1alpha1.EphemeralRunnerContainerName`.
const RUNNER_CONTAINER: &str = "runner";
/// `maxFailures`: a runner whose pod failed more often is deleted.
const MAX_FAILURES: usize = 5;

/// Reconcile one EphemeralRunner.
pub(crate) fn reconcile(ctx: &Ctx<'_>, namespace: &str, name: &str) -> Reconciled {
    let Some(er) = ctx.cached_get(&er_gvk(), namespace, name)? else {
        return Ok(Outcome::Done);
    };
    if is_deleting(&er) {
        return finalize(ctx, er);
    }
    let phase = str_at(&er, "/status/phase");
    let outdated_phase = ctx.version.line() != ArcLine::V0_13 && phase == "Outdated";
    if phase == "Succeeded" || phase == "Failed" || outdated_phase {
        ctx.info("Cleaning up resources after after ephemeral runner termination");
        cleanup_resources(ctx, &er)
            .inspect_err(|e| ctx.error("Failed to clean up ephemeral runner owned resources", e))?;
        ctx.info("EphemeralRunner has already finished. Stopping reconciliation and waiting for EphemeralRunnerSet to clean it up");
        return Ok(Outcome::Done);
    }

    // The runner process exits when its job ends, whether or not the
    // controller may still read the runner's Secret.
    let runner_id = er.pointer("/status/runnerId").and_then(Value::as_i64);
    if job_ended(ctx, &er)
        && let Some(pod) = ctx.cached_get(&core("Pod"), namespace, name)?
    {
        runner_exits(ctx, &pod);
    }

    let mut er = er;
    if !has_finalizer(&er, ER_FINALIZER) || !has_finalizer(&er, ER_REGISTRATION_FINALIZER) {
        ctx.info("Adding finalizers");
        er = ctx
            .add_finalizers(&er_gvk(), &er, &[ER_FINALIZER, ER_REGISTRATION_FINALIZER])
            .inspect_err(|e| ctx.error("Failed to update with finalizer set", &e.message))?;
        ctx.info("Successfully added finalizers");
    }

    let secret = match ctx.live_get(&core("Secret"), namespace, name) {
        Ok(Some(secret)) => secret,
        Ok(None) => match create_jit_secret(ctx, &er) {
            Ok(secret) => secret,
            Err(e) => {
                ctx.error("Failed to create ephemeral runners secret", &e);
                return Err(e);
            }
        },
        Err(e) => {
            ctx.error("Failed to fetch secret", &e.message);
            return Err(e.into());
        }
    };

    if runner_id.is_none_or(|id| id == 0) {
        ctx.info("Updating ephemeral runner status with runnerId and runnerName");
        let id: i64 = decode(&secret, "runnerId").parse().unwrap_or(0);
        let mut status = er.get("status").cloned().unwrap_or(json!({}));
        status["runnerId"] = json!(id);
        status["runnerName"] = json!(decode(&secret, "runnerName"));
        er = ctx.set_status(&er, status).map_err(|e| {
            Failure(format!(
                "failed to update runner status for RunnerId/RunnerName/RunnerJITConfig: {}",
                e.message
            ))
        })?;
        ctx.info("Updated ephemeral runner status with runnerId and runnerName");
    }

    let failures = er
        .pointer("/status/failures")
        .and_then(Value::as_object)
        .map_or(0, |f| f.len());
    if failures > MAX_FAILURES {
        ctx.info(format!("EphemeralRunner has failed more than {MAX_FAILURES} times. Deleting ephemeral runner so it can be re-created"));
        ctx.delete(&er_gvk(), namespace, name)?;
        return Ok(Outcome::Done);
    }

    let pod = match ctx.cached_get(&core("Pod"), namespace, name)? {
        Some(pod) => pod,
        None => {
            ctx.info("Ephemeral runner pod does not exist. Creating new ephemeral runner");
            return create_pod(ctx, &er);
        }
    };

    let container_done = kubelet::exit_code(&pod, RUNNER_CONTAINER);
    if str_at(&pod, "/status/phase") == "Failed" {
        ctx.info("Pod is in failed phase, inspecting runner container status");
        return match container_done {
            None => {
                ctx.info("Runner container does not have state set, deleting pod as failed so it can be restarted");
                delete_ephemeral_runner_or_pod(ctx, &er, &pod)
            }
            Some(0) => {
                ctx.info("Runner container has succeeded but pod is in failed phase; Assume successful exit");
                ctx.delete(&er_gvk(), namespace, name).inspect_err(|e| {
                    ctx.error(
                        "Failed to delete ephemeral runner after successful completion",
                        &e.message,
                    )
                })?;
                Ok(Outcome::Done)
            }
            Some(7) if ctx.version.line() != ArcLine::V0_13 => mark_as_outdated(ctx, &er),
            Some(code) => {
                ctx.error(
                    "Ephemeral runner container has failed, and runner container termination exit code is non-zero",
                    &format!("ephemeral runner container has failed, with runner container exit code non-zero (exit code {code})"),
                );
                delete_ephemeral_runner_or_pod(ctx, &er, &pod)
            }
        };
    }
    match container_done {
        None if !kubelet::has_container_status(&pod, RUNNER_CONTAINER) => {
            ctx.info("Waiting for runner container status to be available");
            Ok(Outcome::Done)
        }
        None => {
            ctx.info("Runner container is still running; updating ephemeral runner status");
            update_run_status_from_pod(ctx, &er, &pod)?;
            Ok(busy_requeue(ctx, &er, &pod))
        }
        Some(7) if ctx.version.line() != ArcLine::V0_13 => mark_as_outdated(ctx, &er),
        Some(0) => {
            ctx.info("Ephemeral runner has finished successfully, deleting ephemeral runner");
            ctx.delete(&er_gvk(), namespace, name).inspect_err(|e| {
                ctx.error(
                    "Failed to delete ephemeral runner after successful completion",
                    &e.message,
                )
            })?;
            Ok(Outcome::Done)
        }
        Some(code) => {
            ctx.info_kv(
                "Ephemeral runner container failed",
                &[("exitCode", &code.to_string())],
            );
            delete_ephemeral_runner_or_pod(ctx, &er, &pod)
        }
    }
}

fn decode(secret: &Value, key: &str) -> String {
    use base64::Engine;
    secret
        .pointer(&format!("/data/{key}"))
        .and_then(Value::as_str)
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Whether GitHub has ended this runner's job (the runner left the service).
fn job_ended(ctx: &Ctx<'_>, er: &Value) -> bool {
    er.pointer("/status/runnerId")
        .and_then(Value::as_i64)
        .is_some_and(|id| ctx.github.runner_finished(id))
}

/// The runner process model: the runner container of `pod` exits 0, unless
/// it already did (the kubelet reports it; that pod event brings the runner
/// back to the reconciler).
fn runner_exits(ctx: &Ctx<'_>, pod: &Value) {
    if kubelet::exit_code(pod, RUNNER_CONTAINER).is_none() {
        kubelet::terminate(ctx.api, pod, RUNNER_CONTAINER, 0, "Completed");
    }
}

/// The runner process model: while GitHub runs a job on it, look again when
/// the job is due to end (at most every busy-runner period), so its exit is
/// seen. A job that ended while this reconcile ran (after its first look)
/// ends the runner process now: no later look is scheduled.
fn busy_requeue(ctx: &Ctx<'_>, er: &Value, pod: &Value) -> Outcome {
    let Some(id) = er.pointer("/status/runnerId").and_then(Value::as_i64) else {
        return Outcome::Done;
    };
    match ctx.github.running_job(id) {
        Some(job) => {
            let until_end = job
                .ends_at
                .map(|t| t.saturating_duration_since(Instant::now()));
            Outcome::RequeueAfter(until_end.map_or(ctx.timing.busy_runner_requeue, |d| {
                d.min(ctx.timing.busy_runner_requeue)
            }))
        }
        None => {
            if job_ended(ctx, er) {
                runner_exits(ctx, pod);
            }
            Outcome::Done
        }
    }
}

/// `createRunnerJitConfig` + `createSecret`: register with GitHub, keep the
/// JIT config in a Secret named after the runner.
fn create_jit_secret(ctx: &Ctx<'_>, er: &Value) -> Result<Value, Failure> {
    ctx.info("Creating ephemeral runner JIT config");
    let client = ctx.actions_service(er).map_err(|e| {
        Failure(format!(
            "failed to get actions client for generating JIT config: {e}"
        ))
    })?;
    let scale_set_id = er
        .pointer("/spec/runnerScaleSetId")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let runner = ctx
        .github
        .generate_jit_runner_config(&client, scale_set_id, name(er))
        .map_err(|e| {
            Failure(format!(
                "failed to generate JIT config with generic error: {e}"
            ))
        })?;
    ctx.info_kv(
        "Created ephemeral runner JIT config",
        &[("runnerId", &runner.id.to_string())],
    );
    ctx.info("Creating new ephemeral runner secret for jitconfig.");
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name(er), "namespace": namespace(er), "ownerReferences": [owner_ref(er)]},
        "stringData": {
            "jitToken": "simulated-jit-config",
            "runnerName": runner.name,
            "runnerId": runner.id.to_string(),
            "scaleSetId": scale_set_id.to_string(),
        },
    });
    let created = ctx.create(secret).map_err(|e| {
        Failure(format!(
            "failed to create secret: failed to create jit secret: {}",
            e.message
        ))
    })?;
    ctx.info("Created new ephemeral runner secret for jitconfig.");
    Ok(created)
}

fn create_pod(ctx: &Ctx<'_>, er: &Value) -> Reconciled {
    let (ns, name) = (namespace(er), name(er));
    let mut labels = labels(er);
    labels[LABEL_EPHEMERAL_RUNNER] = json!("True");
    let mut pod_spec = er.pointer("/spec/spec").cloned().unwrap_or(json!({}));
    if pod_spec.get("containers").is_none() {
        pod_spec["containers"] =
            json!([{"name": RUNNER_CONTAINER, "image": "ghcr.io/actions/actions-runner:latest"}]);
    }
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels, "ownerReferences": [owner_ref(er)]},
        "spec": pod_spec,
    });
    ctx.info("Creating new pod for ephemeral runner");
    let created = match ctx
        .admit_runner_pod(&pod)
        .and_then(|()| ctx.create(kubelet::schedule(pod, ctx.timing)))
    {
        Ok(created) => created,
        Err(e) if e.code == 409 => {
            ctx.info("Runner pod already exists. Waiting for the pod event to be received");
            return Ok(Outcome::RequeueAfter(ctx.timing.ars_requeue));
        }
        Err(e) if e.code == 403 && e.message.contains("exceeded quota:") => {
            ctx.error(
                "Resource quota is exceeded; requeue in 30s to retry pod creation",
                &e.message,
            );
            return Ok(Outcome::RequeueAfter(ctx.timing.busy_runner_requeue));
        }
        Err(e) if e.code == 422 || e.code == 403 => {
            ctx.error(
                "Failed to create a pod due to unrecoverable failure",
                &e.message,
            );
            mark_as_failed(ctx, er, &format!("Failed to create the pod: {}", e.message))
                .inspect_err(|f| ctx.error("Failed to set ephemeral runner to phase Failed", f))?;
            return Ok(Outcome::Done);
        }
        Err(e) => {
            ctx.error("Failed to create the pod", &e.message);
            return Err(e.into());
        }
    };
    ctx.info("Created ephemeral runner pod");
    kubelet::run(ctx.api, &created);
    Ok(Outcome::Done)
}

/// `updateRunStatusFromPod`: phase and readiness from the pod.
fn update_run_status_from_pod(ctx: &Ctx<'_>, er: &Value, pod: &Value) -> Result<(), Failure> {
    let pod_phase = str_at(pod, "/status/phase");
    if pod_phase == "Succeeded" || pod_phase == "Failed" {
        return Ok(());
    }
    let ready = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| str_at(c, "/type") == "Ready"))
        .is_some_and(|c| str_at(c, "/status") == "True");
    let phase_changed = str_at(er, "/status/phase") != pod_phase;
    let ready_changed = er
        .pointer("/status/ready")
        .and_then(Value::as_bool)
        .unwrap_or(false)
        != ready;
    if !phase_changed && !ready_changed {
        return Ok(());
    }
    ctx.info("Updating ephemeral runner status");
    let mut status = er.get("status").cloned().unwrap_or(json!({}));
    status["phase"] = json!(pod_phase);
    status["ready"] = json!(ready);
    ctx.set_status(er, status).map_err(|e| {
        Failure(format!(
            "failed to update runner status for Phase/Reason/Message/Ready: {}",
            e.message
        ))
    })?;
    ctx.info("Updated ephemeral runner status");
    Ok(())
}

/// `deleteRunnerFromService`.
fn delete_runner_from_service(ctx: &Ctx<'_>, er: &Value) -> Result<(), DeleteError> {
    let client = ctx.actions_service(er).map_err(|e| {
        DeleteError::Other(Failure(format!(
            "failed to get actions client for runner: {e}"
        )))
    })?;
    let runner_id = er
        .pointer("/status/runnerId")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    ctx.info_kv(
        "Removing runner from the service",
        &[("runnerId", &runner_id.to_string())],
    );
    match ctx.github.remove_runner(&client, runner_id) {
        Ok(()) => {}
        Err(e) if e.is_job_still_running() => {
            return Err(DeleteError::JobStillRunning(Failure(format!(
                "failed to remove runner from the service: {e}"
            ))));
        }
        Err(e) => {
            return Err(DeleteError::Other(Failure(format!(
                "failed to remove runner from the service: {e}"
            ))));
        }
    }
    ctx.info_kv(
        "Removed runner from the service",
        &[("runnerId", &runner_id.to_string())],
    );
    Ok(())
}

enum DeleteError {
    JobStillRunning(Failure),
    Other(Failure),
}

impl DeleteError {
    fn into_failure(self) -> Failure {
        match self {
            DeleteError::JobStillRunning(f) | DeleteError::Other(f) => f,
        }
    }
}

/// `markAsFailed`: phase Failed (the set counts it and keeps it), then
/// leave the service.
fn mark_as_failed(ctx: &Ctx<'_>, er: &Value, message: &str) -> Result<(), Failure> {
    ctx.info("Updating ephemeral runner status to Failed");
    let mut status = er.get("status").cloned().unwrap_or(json!({}));
    status["phase"] = json!("Failed");
    status["reason"] = json!("InvalidPod");
    status["message"] = json!(message);
    let er = ctx.set_status(er, status).map_err(|e| {
        Failure(format!(
            "failed to update ephemeral runner status Phase/Message: {}",
            e.message
        ))
    })?;
    ctx.info("Removing the runner from the service");
    delete_runner_from_service(ctx, &er).map_err(|e| {
        Failure(format!(
            "failed to remove the runner from service: {}",
            e.into_failure()
        ))
    })?;
    ctx.info("EphemeralRunner is marked as Failed and deleted from the service");
    Ok(())
}

/// `markAsOutdated` (0.14+): the runner exited with code 7.
fn mark_as_outdated(ctx: &Ctx<'_>, er: &Value) -> Reconciled {
    ctx.info("Updating ephemeral runner status to Outdated");
    let mut status = er.get("status").cloned().unwrap_or(json!({}));
    status["phase"] = json!("Outdated");
    status["reason"] = json!("Outdated");
    status["message"] = json!("Runner is deprecated");
    let er = ctx.set_status(er, status).map_err(|e| {
        let f = Failure(format!(
            "failed to update ephemeral runner status Phase/Message: {}",
            e.message
        ));
        ctx.error("Failed to set ephemeral runner to phase Outdated", &f);
        f
    })?;
    ctx.info("Removing the runner from the service");
    delete_runner_from_service(ctx, &er).map_err(|e| {
        let f = Failure(format!(
            "failed to remove the runner from service: {}",
            e.into_failure()
        ));
        ctx.error("Failed to set ephemeral runner to phase Outdated", &f);
        f
    })?;
    Ok(Outcome::Done)
}

/// `deleteEphemeralRunnerOrPod`: a runner with a job is deleted (and asked
/// off the service, errors only logged); without one, its pod is deleted
/// and the failure counted so it restarts.
fn delete_ephemeral_runner_or_pod(ctx: &Ctx<'_>, er: &Value, pod: &Value) -> Reconciled {
    let (ns, name) = (namespace(er), name(er));
    if !str_at(er, "/status/jobId").is_empty() {
        ctx.error(
            "Ephemeral runner either has faulty entrypoint or something external killing the runner",
            &"ephemeral runner has a job assigned, but the pod has failed",
        );
        ctx.info("Deleting the ephemeral runner that has a job assigned but the pod has failed");
        ctx.delete(&er_gvk(), ns, name).inspect_err(|e| {
            ctx.error(
                "Failed to delete the ephemeral runner that has a job assigned but the pod has failed",
                &e.message,
            )
        })?;
        ctx.info("Deleted the ephemeral runner that has a job assigned but the pod has failed");
        ctx.info("Trying to remove the runner from the service");
        let client = match ctx.actions_service(er) {
            Ok(c) => c,
            Err(e) => {
                ctx.error(
                    "Failed to get actions client for removing the runner from the service",
                    &e,
                );
                return Ok(Outcome::Done);
            }
        };
        let runner_id = er
            .pointer("/status/runnerId")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        match ctx.github.remove_runner(&client, runner_id) {
            Ok(()) => ctx.info("Removed the runner from the service"),
            Err(e) => ctx.error("Failed to remove the runner from the service", &e),
        }
        return Ok(Outcome::Done);
    }
    if !is_deleting(pod) {
        ctx.info("Deleting the ephemeral runner pod");
        ctx.delete_if_present(&core("Pod"), ns, name).map_err(|e| {
            Failure(format!(
                "failed to delete pod with status failed: {}",
                e.message
            ))
        })?;
    }
    ctx.info("Updating ephemeral runner status to track the failure count");
    let mut status = er.get("status").cloned().unwrap_or(json!({}));
    status["failures"][uid(pod)] = json!(format!("{:.0}", jiff::Timestamp::now()));
    status["ready"] = json!(false);
    ctx.set_status(er, status).map_err(|e| {
        Failure(format!(
            "failed to update ephemeral runner status: failed attempts: {}",
            e.message
        ))
    })?;
    ctx.info("EphemeralRunner pod is deleted and status is updated with failure count");
    Ok(Outcome::Done)
}

/// §5.3: leave the service (busy: retry every 30s forever), then in the
/// same pass delete pod and JIT secret (and container-hook leftovers) and
/// drop the finalizer.
fn finalize(ctx: &Ctx<'_>, mut er: Value) -> Reconciled {
    if !has_finalizer(&er, ER_FINALIZER) {
        return Ok(Outcome::Done);
    }
    let (ns, name) = (namespace(&er).to_string(), name(&er).to_string());
    if has_finalizer(&er, ER_REGISTRATION_FINALIZER) {
        ctx.info("Trying to clean up runner from the service");
        match delete_runner_from_service(ctx, &er) {
            Ok(()) => {}
            Err(DeleteError::JobStillRunning(_)) => {
                ctx.info(
                    "Runner job is still running, cannot remove the runner from the service yet",
                );
                ctx.info("Runner is not finished yet, retrying in 30s");
                return Ok(Outcome::RequeueAfter(ctx.timing.busy_runner_requeue));
            }
            Err(DeleteError::Other(f)) => {
                ctx.error("Failed to clean up runner from service", &f);
                return Err(f);
            }
        }
        ctx.info("Runner is cleaned up from the service, removing finalizer");
        er = ctx.remove_finalizer(&er_gvk(), &er, ER_REGISTRATION_FINALIZER)?;
        ctx.info("Removed finalizer from ephemeral runner");
    }

    ctx.info("Finalizing ephemeral runner");
    cleanup_resources(ctx, &er).inspect_err(|e| {
        ctx.error("Failed to clean up ephemeral runner owned resources", e);
    })?;
    if uses_container_hooks(&er) {
        ctx.info("Runner has container hook configured, cleaning up container hook resources");
        cleanup_container_hooks_resources(ctx, &ns, &name)
            .inspect_err(|e| ctx.error("Failed to clean up container hooks resources", e))?;
    }
    ctx.info("Removing finalizer");
    match ctx.remove_finalizer(&er_gvk(), &er, ER_FINALIZER) {
        Ok(_) => {}
        Err(e) if e.code == 404 => {}
        Err(e) => {
            ctx.error(
                "Failed to update ephemeral runner without the finalizer",
                &e.message,
            );
            return Err(e.into());
        }
    }
    ctx.info("Successfully removed finalizer after cleanup");
    Ok(Outcome::Done)
}

/// `cleanupResources`: delete the pod and the JIT secret (without waiting).
fn cleanup_resources(ctx: &Ctx<'_>, er: &Value) -> Result<(), Failure> {
    let (ns, name) = (namespace(er), name(er));
    ctx.info("Cleaning up the runner pod");
    match ctx.cached_get(&core("Pod"), ns, name)? {
        None => ctx.info("Runner pod is deleted"),
        Some(pod) if is_deleting(&pod) => ctx.info("Pod contains deletion timestamp"),
        Some(_) => {
            ctx.info("Deleting the runner pod");
            ctx.delete_if_present(&core("Pod"), ns, name)
                .map_err(|e| Failure(format!("failed to delete pod: {}", e.message)))?;
            ctx.info("Deleted the runner pod");
        }
    }
    ctx.info("Cleaning up the runner jitconfig secret");
    match ctx.live_get(&core("Secret"), ns, name)? {
        None => ctx.info("Runner jitconfig secret is deleted"),
        Some(secret) if is_deleting(&secret) => ctx.info("Secret contains deletion timestamp"),
        Some(_) => {
            ctx.info("Deleting the jitconfig secret");
            ctx.delete_if_present(&core("Secret"), ns, name)
                .map_err(|e| Failure(format!("failed to delete secret: {}", e.message)))?;
            ctx.info("Deleted jitconfig secret");
        }
    }
    Ok(())
}

fn uses_container_hooks(er: &Value) -> bool {
    er.pointer("/spec/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| str_at(c, "/name") == RUNNER_CONTAINER)
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
    let mut errors = Vec::new();
    ctx.info("Cleaning up runner linked pods");
    match ctx.cached_list(&core("Pod"), ns, Some(&selector)) {
        Err(e) => errors.push(format!("failed to list runner-linked pods: {}", e.message)),
        Ok(pods) if pods.is_empty() => ctx.info("Runner-linked pods are deleted"),
        Ok(pods) => {
            for pod in pods.iter().filter(|p| !is_deleting(p)) {
                let pod_name = super::names::name(pod);
                ctx.info_kv(
                    "Deleting container hooks runner-linked pod",
                    &[("name", pod_name)],
                );
                if let Err(e) = ctx.delete_if_present(&core("Pod"), ns, pod_name) {
                    errors.push(format!(
                        "failed to delete runner linked pod {pod_name:?}: {}",
                        e.message
                    ));
                }
            }
        }
    }
    ctx.info("Cleaning up runner linked secrets");
    match ctx.live_list(&core("Secret"), ns, Some(&selector)) {
        Err(e) => errors.push(format!(
            "failed to list runner-linked secrets: {}",
            e.message
        )),
        Ok(secrets) if secrets.is_empty() => ctx.info("Runner-linked secrets are deleted"),
        Ok(secrets) => {
            for secret in secrets.iter().filter(|s| !is_deleting(s)) {
                let secret_name = super::names::name(secret);
                ctx.info_kv(
                    "Deleting container hooks runner-linked secret",
                    &[("name", secret_name)],
                );
                if let Err(e) = ctx.delete_if_present(&core("Secret"), ns, secret_name) {
                    errors.push(format!(
                        "failed to delete runner linked secret {secret_name:?}: {}",
                        e.message
                    ));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure(errors.join("\n")))
    }
}
