//! `EphemeralRunnerSetReconciler` (ephemeralrunnerset_controller.go, 0.14.2).

use serde_json::{Value, json};

use super::client::{Ctx, Failure, Outcome, Reconciled};
use super::names::*;

/// Child runners of a set, by phase.
#[derive(Default)]
struct Counts {
    pending: Vec<Value>,
    running: Vec<Value>,
    finished: Vec<Value>,
    failed: Vec<Value>,
    deleting: Vec<Value>,
}

fn classify(children: Vec<Value>) -> Counts {
    let mut c = Counts::default();
    for er in children {
        if is_deleting(&er) {
            c.deleting.push(er);
            continue;
        }
        match str_at(&er, "/status/phase") {
            "Running" => c.running.push(er),
            "Succeeded" => c.finished.push(er),
            "Failed" => c.failed.push(er),
            _ => c.pending.push(er),
        }
    }
    c
}

fn children(ctx: &Ctx<'_>, ers: &Value) -> Result<Vec<Value>, Failure> {
    let all = ctx.cached_list(&er_gvk(), namespace(ers), None)?;
    Ok(all
        .into_iter()
        .filter(|er| {
            controller_owner(er).is_some_and(|(kind, _, owner_uid)| {
                kind == "EphemeralRunnerSet" && owner_uid == uid(ers)
            })
        })
        .collect())
}

/// Reconcile one EphemeralRunnerSet.
pub(crate) fn reconcile(ctx: &Ctx<'_>, namespace: &str, name: &str) -> Reconciled {
    let Some(ers) = ctx.cached_get(&ers_gvk(), namespace, name)? else {
        return Ok(Outcome::Done);
    };
    if is_deleting(&ers) {
        if !has_finalizer(&ers, ER_FINALIZER) {
            return Ok(Outcome::Done);
        }
        ctx.info("Deleting resources");
        let done = clean_up_ephemeral_runners(ctx, &ers)
            .inspect_err(|e| ctx.error("Failed to clean up ephemeral runners", e))?;
        if !done {
            ctx.info("Waiting for resources to be deleted");
            return Ok(Outcome::Done);
        }
        ctx.info("Removing finalizer");
        ctx.remove_finalizer(&ers_gvk(), &ers, ER_FINALIZER)
            .inspect_err(|e| {
                ctx.error(
                    "Failed to update ephemeral runner set with removed finalizer",
                    &e.message,
                )
            })?;
        ctx.info("Successfully removed finalizer after cleanup");
        return Ok(Outcome::Done);
    }
    if !has_finalizer(&ers, ER_FINALIZER) {
        ctx.info("Adding finalizer");
        ctx.add_finalizers(&ers_gvk(), &ers, &[ER_FINALIZER])?;
        ctx.info("Successfully added finalizer");
        return Ok(Outcome::Done);
    }

    ensure_proxy_secret(ctx, &ers)?;
    let counts = classify(children(ctx, &ers)?);
    for er in counts.finished.iter().chain(&counts.failed) {
        ctx.info("Deleting finished ephemeral runner");
        delete_runner(ctx, er)?;
    }
    let replicas = ers
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let total = i64::try_from(counts.pending.len() + counts.running.len()).unwrap_or(i64::MAX);
    if total < replicas {
        let n = replicas - total;
        ctx.info(format!("Scaling up ephemeral runners (count {n})"));
        for _ in 0..n {
            create_ephemeral_runner(ctx, &ers)?;
        }
    } else if total > replicas {
        scale_down(ctx, &ers, &counts, total - replicas)?;
    }
    let as_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let status = json!({
        "currentReplicas": total,
        "pendingEphemeralRunners": as_i64(counts.pending.len()),
        "runningEphemeralRunners": as_i64(counts.running.len()),
        "failedEphemeralRunners": as_i64(counts.failed.len()),
    });
    ctx.set_status(&ers, status)?;
    Ok(Outcome::Done)
}

fn delete_runner(ctx: &Ctx<'_>, er: &Value) -> Result<(), Failure> {
    match ctx.delete(&er_gvk(), namespace(er), name(er)) {
        Ok(_) => Ok(()),
        Err(e) if e.code == 404 => Ok(()),
        Err(e) => Err(Failure(format!(
            "failed to delete ephemeral runner: {}",
            e.message
        ))),
    }
}

fn create_ephemeral_runner(ctx: &Ctx<'_>, ers: &Value) -> Result<(), Failure> {
    let mut spec = ers
        .pointer("/spec/ephemeralRunnerSpec")
        .cloned()
        .unwrap_or(json!({}));
    if has_proxy(&spec) {
        spec["proxySecretRef"] = json!(ers_proxy_secret_name(ers));
    }
    let er = json!({
        "apiVersion": ARC_API_VERSION,
        "kind": "EphemeralRunner",
        "metadata": {
            "generateName": format!("{}-runner-", name(ers)),
            "namespace": namespace(ers),
            "labels": labels(ers),
            "finalizers": [ER_REGISTRATION_FINALIZER, ER_FINALIZER],
            "ownerReferences": [owner_ref(ers)],
        },
        "spec": spec,
    });
    ctx.create(er)
        .inspect_err(|e| ctx.error("failed to create ephemeral runner", &e.message))?;
    Ok(())
}

/// Scale down: idle runners leave the service first, busy ones stay.
fn scale_down(ctx: &Ctx<'_>, ers: &Value, counts: &Counts, mut excess: i64) -> Result<(), Failure> {
    let spec = ers
        .pointer("/spec/ephemeralRunnerSpec")
        .cloned()
        .unwrap_or(json!({}));
    let creds = ctx.actions_service(namespace(ers), &spec)?;
    for er in counts.pending.iter().chain(&counts.running) {
        if excess == 0 {
            break;
        }
        let runner_id = er
            .pointer("/status/runnerId")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        match ctx.github.remove_runner(&creds, runner_id) {
            Ok(()) => {
                ctx.info("Deleting ephemeral runner after removing from the service");
                delete_runner(ctx, er)?;
                excess -= 1;
            }
            Err(e) if e.is_job_still_running() => {
                ctx.info("Runner is still running a job, skipping deletion")
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// §5.2 `cleanUpEphemeralRunners`; `true` when no child runner is left.
fn clean_up_ephemeral_runners(ctx: &Ctx<'_>, ers: &Value) -> Result<bool, Failure> {
    let list = children(ctx, ers)?;
    if list.is_empty() {
        clean_up_proxy_secret(ctx, ers)?;
        ctx.info("All ephemeral runners are deleted");
        return Ok(true);
    }
    let c = classify(list);
    ctx.info(format!(
        "Clean up runner counts (pending {}, running {}, finished {}, failed {}, deleting {})",
        c.pending.len(),
        c.running.len(),
        c.finished.len(),
        c.failed.len(),
        c.deleting.len()
    ));
    ctx.info("Cleanup terminated ephemeral runners");
    for er in c.finished.iter().chain(&c.failed) {
        ctx.info("Deleting ephemeral runner");
        delete_runner(ctx, er)?;
    }
    if c.pending.is_empty() && c.running.is_empty() {
        return Ok(false);
    }
    let spec = ers
        .pointer("/spec/ephemeralRunnerSpec")
        .cloned()
        .unwrap_or(json!({}));
    let creds = ctx.actions_service(namespace(ers), &spec)?;
    ctx.info("Cleanup pending or running ephemeral runners");
    for er in c.pending.iter().chain(&c.running) {
        ctx.info("Removing the ephemeral runner from the service");
        let runner_id = er
            .pointer("/status/runnerId")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        match ctx.github.remove_runner(&creds, runner_id) {
            Ok(()) => {
                ctx.info("Deleting ephemeral runner after removing from the service");
                delete_runner(ctx, er)?;
                ctx.info("Deleted ephemeral runner");
            }
            Err(e) if e.is_job_still_running() => {
                ctx.info("Runner is still running a job, skipping deletion")
            }
            Err(e) => {
                return Err(Failure(format!(
                    "failed to remove runner from the service: {e}"
                )));
            }
        }
    }
    Ok(false)
}

/// The runner set's proxy Secret (`<ers>-<fnv8(ns)>-runner-proxy`), owned by the set.
fn ensure_proxy_secret(ctx: &Ctx<'_>, ers: &Value) -> Result<(), Failure> {
    let spec = ers
        .pointer("/spec/ephemeralRunnerSpec")
        .cloned()
        .unwrap_or(json!({}));
    if !has_proxy(&spec) {
        return Ok(());
    }
    let secret_name = ers_proxy_secret_name(ers);
    if ctx
        .live_get(&core("Secret"), namespace(ers), &secret_name)?
        .is_some()
    {
        return Ok(());
    }
    ctx.info("Creating a proxy secret for the ephemeral runner set");
    let data = ctx.proxy_secret_data(namespace(ers), &spec)?;
    let secret = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": secret_name, "namespace": namespace(ers), "ownerReferences": [owner_ref(ers)]},
        "stringData": data,
    });
    ctx.create(secret)
        .inspect_err(|e| ctx.error("Failed to create proxy secret", &e.message))?;
    Ok(())
}

/// `cleanUpProxySecret`: delete the set's proxy Secret once its runners are gone.
fn clean_up_proxy_secret(ctx: &Ctx<'_>, ers: &Value) -> Result<(), Failure> {
    let spec = ers
        .pointer("/spec/ephemeralRunnerSpec")
        .cloned()
        .unwrap_or(json!({}));
    if !has_proxy(&spec) {
        return Ok(());
    }
    ctx.info("Deleting proxy secret");
    match ctx.delete(&core("Secret"), namespace(ers), &ers_proxy_secret_name(ers)) {
        Ok(_) => {
            ctx.info("Deleted proxy secret");
            Ok(())
        }
        Err(e) if e.code == 404 => Ok(()),
        Err(e) => Err(Failure(format!(
            "failed to delete proxy secret: {}",
            e.message
        ))),
    }
}
