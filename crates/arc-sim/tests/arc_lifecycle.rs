//! The simulated ARC controller, in process: full lifecycle, busy runner,
//! lost manager RoleBinding, controller stopped (arc-teardown.md §3-§5).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use arc_sim::controller::names::*;
use kube_sim::api::Gvk;
use serde_json::{Value, json};
use testenv::SimCluster;

const CONTROLLER: &str = "system:serviceaccount:arc-systems:arc-gha-rs-controller";
const LISTENER: &str = "arc-runner-set-6c9b97c4-listener";
const MANAGER: &str = "arc-runner-set-gha-rs-manager";
const GITHUB_SECRET: &str = "arc-runner-set-gha-rs-github-secret";
/// A CA bundle as the TLS ConfigMap holds it (the controller parses PEM).
const CA_PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIBsimulated\n-----END CERTIFICATE-----\n";

/// Position of the first event-log entry matching.
fn position(c: &SimCluster, actor: &str, verb: &str, kind: &str, name: &str) -> usize {
    let log = c.sim.event_log();
    log.iter()
        .position(|e| e.actor == actor && e.verb == verb && e.kind == kind && e.name == name)
        .unwrap_or_else(|| {
            for e in &log {
                eprintln!(
                    "{} {} {} {:?}/{} -> {}",
                    e.actor, e.verb, e.kind, e.namespace, e.name, e.result
                );
            }
            panic!("no {verb} of {kind} {name} by {actor} in the event log")
        })
}

/// A negative check needs a window: 10 ARS requeue periods of the fast timing.
fn quiet_period(c: &SimCluster) {
    let mut rx = c.api.subscribe();
    c.sim.handle().block_on(async {
        let _ = tokio::time::timeout(Duration::from_millis(500), async {
            while rx.recv().await.is_ok() {}
        })
        .await;
    });
}

/// The live copy of a chart object, if any.
fn live(c: &SimCluster, o: &Value) -> Option<Value> {
    c.get(
        &Gvk::new(str_at(o, "/apiVersion"), str_at(o, "/kind")),
        namespace(o),
        name(o),
    )
}

fn chart_objects_gone(c: &SimCluster, objs: &[Value]) -> bool {
    objs.iter().all(|o| live(c, o).is_none())
}

/// A started cluster with the runner set installed and `runners` runners up.
fn ready_cluster(runners: i64) -> (SimCluster, Vec<Value>) {
    let c = SimCluster::start();
    let objs = c.install_runner_set(runners);
    c.wait_ready(usize::try_from(runners).unwrap());
    (c, objs)
}

/// Wait until the ARS and every chart object are gone.
fn wait_release_gone(c: &SimCluster, objs: &[Value], what: &str) {
    c.wait_until(what, |c| c.ars().is_none() && chart_objects_gone(c, objs));
}

/// `helm uninstall` while the controller is down; `meanwhile` runs before it restarts.
fn uninstall_while_stopped(c: &SimCluster, objs: &[Value], meanwhile: impl FnOnce(&SimCluster)) {
    c.arc.stop();
    c.helm_delete(objs);
    meanwhile(c);
    c.arc.restart();
}

/// The chart's manager Role or RoleBinding in the runner namespace.
fn manager_rbac(c: &SimCluster, kind: &str) -> Option<Value> {
    c.get(&rbac(kind), "arc-runners", MANAGER)
}

/// `status.availableReplicas` of the controller Deployment.
fn controller_replicas(c: &SimCluster) -> Value {
    c.get(&deployment_gvk(), "arc-systems", "arc-gha-rs-controller")
        .unwrap()["status"]["availableReplicas"]
        .clone()
}

/// No event since log position `from` was written by the controller.
fn controller_silent_since(c: &SimCluster, from: usize) -> bool {
    c.sim.event_log()[from..]
        .iter()
        .all(|e| e.actor != CONTROLLER)
}

fn runner_namespace_gone(c: &SimCluster) -> bool {
    c.api
        .get(&c.user, &core("Namespace"), None, "arc-runners")
        .is_err()
}

#[test]
fn full_lifecycle_creates_everything_and_tears_down_in_the_documented_order() {
    let started = Instant::now();
    let (c, objs) = ready_cluster(2);
    let ready = started.elapsed();

    // Controller-made objects, with the real names, finalizers and owners.
    let ars = c.ars().unwrap();
    assert_eq!(finalizers(&ars), vec![ARS_FINALIZER]);
    let listener = c.listener().unwrap();
    assert_eq!(finalizers(&listener), vec![LISTENER_FINALIZER]);
    assert_eq!(
        listener["spec"]["autoscalingRunnerSetName"],
        "arc-runner-set"
    );
    for kind in ["Pod", "ServiceAccount"] {
        let o = c.get(&core(kind), "arc-systems", LISTENER).unwrap();
        assert_eq!(controller_owner(&o).unwrap().0, "AutoscalingListener");
    }
    assert!(
        c.get(
            &core("Secret"),
            "arc-systems",
            &format!("{LISTENER}-config")
        )
        .is_some()
    );
    for kind in ["Role", "RoleBinding"] {
        let o = c.get(&rbac(kind), "arc-runners", LISTENER).unwrap();
        assert_eq!(label(&o, LABEL_LISTENER_NAME), Some(LISTENER));
        assert!(o["metadata"].get("ownerReferences").is_none());
    }
    let sets = c.list(&ers_gvk(), Some("arc-runners"));
    assert_eq!(sets.len(), 1);
    let ers = &sets[0];
    assert!(name(ers).starts_with("arc-runner-set-"));
    assert_eq!(finalizers(ers), vec![ER_FINALIZER]);
    assert_eq!(controller_owner(ers).unwrap().1, "arc-runner-set");
    for er in c.runners() {
        assert!(name(&er).starts_with(&format!("{}-runner-", name(ers))));
        assert!(has_finalizer(&er, ER_FINALIZER) && has_finalizer(&er, ER_REGISTRATION_FINALIZER));
        let pod = c.get(&core("Pod"), "arc-runners", name(&er)).unwrap();
        assert_eq!(label(&pod, LABEL_EPHEMERAL_RUNNER), Some("True"));
        assert!(
            c.get(&core("Secret"), "arc-runners", name(&er)).is_some(),
            "JIT secret"
        );
    }
    let scale_sets = c.github.scale_sets();
    assert_eq!(scale_sets.len(), 1);
    assert_eq!(
        annotation(&ars, ANN_SCALE_SET_ID),
        Some(scale_sets[0].id.to_string().as_str())
    );
    assert_eq!(c.github.runners().len(), 2);
    assert_eq!(controller_replicas(&c), 1);

    // helm uninstall: everything goes, in §5 order.
    c.helm_delete(&objs);
    wait_release_gone(&c, &objs, "the release is gone");
    c.wait_until("runner pods and secrets are gone", |c| {
        c.list(&core("Pod"), Some("arc-runners")).is_empty()
            && c.list(&core("Pod"), Some("arc-systems")).is_empty()
    });
    assert!(
        c.github.is_empty(),
        "leaked on GitHub: {:?} {:?}",
        c.github.scale_sets(),
        c.github.runners()
    );
    assert!(
        c.listener().is_none() && c.runners().is_empty() && c.list(&ers_gvk(), None).is_empty()
    );

    eprintln!(
        "in-process: ready after {ready:?}, install-and-uninstall {:?}",
        started.elapsed()
    );
    let listener_deleted = position(&c, CONTROLLER, "delete", "AutoscalingListener", LISTENER);
    let listener_rb = position(&c, CONTROLLER, "delete", "RoleBinding", LISTENER);
    let listener_role = position(&c, CONTROLLER, "delete", "Role", LISTENER);
    let ers_deleted = position(&c, CONTROLLER, "delete", "EphemeralRunnerSet", name(ers));
    assert!(
        listener_deleted < listener_rb
            && listener_rb < listener_role
            && listener_role < ers_deleted
    );
    let order = [
        ("RoleBinding", "arc-runner-set-gha-rs-kube-mode"),
        ("Role", "arc-runner-set-gha-rs-kube-mode"),
        ("ServiceAccount", "arc-runner-set-gha-rs-kube-mode"),
        ("Secret", "arc-runner-set-gha-rs-github-secret"),
        ("RoleBinding", "arc-runner-set-gha-rs-manager"),
        ("Role", "arc-runner-set-gha-rs-manager"),
    ];
    let mut positions: Vec<usize> = order
        .iter()
        .map(|(k, n)| position(&c, CONTROLLER, "patch", k, n))
        .collect();
    let ars_finalizer_removed = c
        .sim
        .event_log()
        .iter()
        .rposition(|e| {
            e.actor == CONTROLLER && e.verb == "patch" && e.kind == "AutoscalingRunnerSet"
        })
        .unwrap();
    positions.push(ars_finalizer_removed);
    assert!(
        ers_deleted < positions[0],
        "dependents unblocked only after the runner sets are gone"
    );
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "cleanup-protection order: {positions:?}"
    );

    // The controller log tells the same story.
    c.wait_until("the ARS reconciler logged its last step", |c| {
        c.arc.log().iter().any(|l| {
            l.controller == "AutoscalingRunnerSet"
                && l.message == "Successfully removed finalizer after cleanup"
        })
    });
    let log: Vec<String> = c
        .arc
        .log()
        .into_iter()
        .filter(|l| l.controller == "AutoscalingRunnerSet")
        .map(|l| l.message)
        .collect();
    let at = |m: &str| {
        log.iter()
            .position(|l| l == m)
            .unwrap_or_else(|| panic!("{m:?} not logged"))
    };
    assert!(
        at("All ephemeral runner sets are deleted")
            < at("Deleted the runner scale set from Actions service")
    );
    assert!(
        at("Deleted the runner scale set from Actions service")
            < at("Removed finalizer from manager role")
    );
    assert!(
        at("Removed finalizer from manager role")
            < at("Successfully removed finalizer after cleanup")
    );
}

#[test]
fn busy_runner_holds_the_teardown_until_its_job_ends() {
    let (c, objs) = ready_cluster(1);
    let er = c.runners().remove(0);
    let runner_id = c.arc.start_job("arc-runners", name(&er), None).unwrap();

    c.helm_delete(&objs);
    c.wait_until("the runner set skipped the busy runner", |c| {
        c.logged("Runner is still running a job, skipping deletion") >= 1
    });
    let waits = c.logged("Waiting for ephemeral runner sets to be deleted");
    c.wait_until("the ARS requeued three more times", |c| {
        c.logged("Waiting for ephemeral runner sets to be deleted") >= waits + 3
    });
    assert!(c.listener().is_none(), "the listener goes first");
    let ars = c.ars().expect("ARS held");
    assert!(is_deleting(&ars) && has_finalizer(&ars, ARS_FINALIZER));
    let held = c
        .get(&er_gvk(), "arc-runners", name(&er))
        .expect("busy runner kept");
    assert!(has_finalizer(&held, ER_REGISTRATION_FINALIZER) && !is_deleting(&held));
    assert_eq!(
        held["status"]["jobId"],
        json!(c.github.runners()[0].job.as_ref().unwrap().id.to_string())
    );
    let manager_rb = manager_rbac(&c, "RoleBinding").expect("RBAC kept");
    assert!(is_deleting(&manager_rb) && has_finalizer(&manager_rb, CLEANUP_PROTECTION));
    assert_eq!(c.github.scale_sets().len(), 1);

    c.github.finish_job(runner_id);
    wait_release_gone(&c, &objs, "the release is gone after the job");
    assert!(c.github.is_empty());
}

#[test]
fn a_job_with_a_duration_ends_by_itself() {
    let (c, objs) = ready_cluster(1);
    let er = c.runners().remove(0);
    let started = Instant::now();
    c.arc
        .start_job("arc-runners", name(&er), Some(Duration::from_millis(300)))
        .unwrap();
    c.helm_delete(&objs);
    wait_release_gone(&c, &objs, "the release is gone");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "teardown waited for the job"
    );
    assert!(c.github.is_empty());
}

#[test]
fn lost_manager_rolebinding_stalls_the_teardown_with_forbidden() {
    let (c, objs) = ready_cluster(1);

    uninstall_while_stopped(&c, &objs, |c| {
        // Someone "unsticks" the Terminating manager RoleBinding: it is gone for good.
        c.strip_finalizers(&rbac("RoleBinding"), "arc-runners", MANAGER);
        assert!(manager_rbac(c, "RoleBinding").is_none());
    });

    let forbidden = format!(
        "rolebindings.rbac.authorization.k8s.io \"{LISTENER}\" is forbidden: User \"{CONTROLLER}\" cannot delete resource \"rolebindings\" in API group \"rbac.authorization.k8s.io\" in the namespace \"arc-runners\""
    );
    c.wait_until(
        "the listener cleanup failed three times with Forbidden",
        |c| c.errors_containing(&forbidden) >= 3,
    );
    let listener = c.listener().expect("listener stuck");
    assert!(is_deleting(&listener) && has_finalizer(&listener, LISTENER_FINALIZER));
    assert!(
        c.get(&core("Pod"), "arc-systems", LISTENER).is_none(),
        "controller-namespace cleanup still works"
    );
    assert!(
        c.get(&rbac("RoleBinding"), "arc-runners", LISTENER)
            .is_some()
    );
    let ars = c.ars().expect("ARS stuck");
    assert!(has_finalizer(&ars, ARS_FINALIZER));
    assert_eq!(c.github.scale_sets().len(), 1, "scale set still registered");
    let manager_role = manager_rbac(&c, "Role").unwrap();
    assert!(has_finalizer(&manager_role, CLEANUP_PROTECTION));

    // Restoring the binding lets the controller finish.
    let mut rb = objs
        .iter()
        .find(|o| str_at(o, "/kind") == "RoleBinding" && name(o) == MANAGER)
        .unwrap()
        .clone();
    rb["metadata"]["finalizers"] = json!([]);
    c.api.create(&c.user, rb).unwrap();
    c.wait_until("the ARS is gone once RBAC is back", |c| c.ars().is_none());
    assert!(c.github.is_empty());
}

#[test]
fn missing_github_secret_stalls_with_the_real_error() {
    let (c, objs) = ready_cluster(1);
    uninstall_while_stopped(&c, &objs, |c| {
        c.strip_finalizers(&core("Secret"), "arc-runners", GITHUB_SECRET);
    });
    // 0.14.2 secretresolver: NotFound and Forbidden read the same.
    let msg = "failed to resolve app config: failed to get kubernetes secret: \"arc-runners/arc-runner-set-gha-rs-github-secret\"";
    c.wait_until("runner removal fails for want of the secret", |c| {
        c.errors_containing(msg) >= 2
    });
    assert!(c.ars().is_some());
    assert_eq!(c.github.scale_sets().len(), 1);
}

#[test]
fn stopped_controller_leaves_everything_terminating_and_resumes_on_restart() {
    let (c, objs) = ready_cluster(1);
    c.arc.stop();
    assert_eq!(controller_replicas(&c), 0, "stopped controller is visible");

    c.helm_delete(&objs);
    c.wait_until("every chart object is Terminating", |c| {
        objs.iter()
            .all(|o| live(c, o).is_some_and(|v| is_deleting(&v)))
    });
    // Nothing reconciles: give it many requeue periods, then look for controller writes.
    let before = c.sim.event_log().len();
    quiet_period(&c);
    assert!(controller_silent_since(&c, before));
    for o in &objs {
        let v = live(&c, o).unwrap();
        let expected = if str_at(o, "/kind") == "AutoscalingRunnerSet" {
            ARS_FINALIZER
        } else {
            CLEANUP_PROTECTION
        };
        assert_eq!(finalizers(&v), vec![expected], "{}", name(o));
    }
    assert!(
        c.listener()
            .is_some_and(|l| has_finalizer(&l, LISTENER_FINALIZER) && !is_deleting(&l))
    );
    assert!(
        c.runners()
            .iter()
            .all(|r| has_finalizer(r, ER_FINALIZER) && has_finalizer(r, ER_REGISTRATION_FINALIZER))
    );
    assert_eq!(c.github.scale_sets().len(), 1);
    assert_eq!(c.github.runners().len(), 1);

    c.arc.restart();
    wait_release_gone(&c, &objs, "the release is gone after restart");
    assert!(c.github.is_empty());
    assert_eq!(controller_replicas(&c), 1);
}

#[test]
fn uninstalled_controller_deployment_stops_reconciling() {
    let c = SimCluster::start();
    let objs = c.install_runner_set(0);
    c.wait_until("the scale set is registered", |c| {
        c.ars()
            .is_some_and(|a| annotation(&a, ANN_SCALE_SET_ID).is_some())
            && c.listener().is_some()
    });
    c.delete(
        &deployment_gvk(),
        Some("arc-systems"),
        "arc-gha-rs-controller",
    );
    c.wait_until("the controller noticed its Deployment is gone", |c| {
        !c.arc.is_active()
    });
    let from = c.sim.event_log().len();
    c.helm_delete(&objs);
    quiet_period(&c);
    assert!(
        controller_silent_since(&c, from),
        "a controller without its Deployment must not act"
    );
    let ars = c.ars().unwrap();
    assert!(is_deleting(&ars) && has_finalizer(&ars, ARS_FINALIZER));
    assert!(c.listener().is_some_and(|l| !is_deleting(&l)));
    assert_eq!(c.github.scale_sets().len(), 1);
}

#[test]
fn github_outage_stalls_the_teardown_until_the_service_heals() {
    let (c, objs) = ready_cluster(1);
    c.github.fail_all(Some((503, "Service Unavailable")));
    c.helm_delete(&objs);
    c.wait_until("runner removal failed three times", |c| {
        c.errors_containing("failed(status=\"503 Service Unavailable\")") >= 3
            && c.github
                .calls()
                .iter()
                .filter(|call| call.error.is_some())
                .count()
                >= 3
    });
    let ars = c.ars().expect("ARS held");
    assert!(has_finalizer(&ars, ARS_FINALIZER));
    assert_eq!(
        c.runners().len(),
        1,
        "the runner is not deleted while it cannot leave the service"
    );
    assert_eq!(c.github.scale_sets().len(), 1);

    c.github.fail_all(None);
    wait_release_gone(&c, &objs, "the release is gone once GitHub is back");
    assert!(c.github.is_empty());
    let failed = c
        .github
        .calls()
        .iter()
        .filter(|call| call.error.is_some())
        .count();
    assert!(failed >= 3, "the outage was visible to the controller");
}

#[test]
fn per_step_delay_keeps_the_order_and_completes() {
    let c = SimCluster::start_with(arc_sim::controller::Timing {
        step_delay: Duration::from_millis(20),
        ..arc_sim::controller::Timing::fast()
    });
    let objs = c.install_runner_set(1);
    c.wait_ready(1);
    let started = Instant::now();
    c.helm_delete(&objs);
    wait_release_gone(&c, &objs, "the release is gone");
    // At least: ARS reacts, listener finalizes, ERS, runner (two finalizers), ERS again, ARS again.
    assert!(
        started.elapsed() >= Duration::from_millis(120),
        "{:?}",
        started.elapsed()
    );
    let listener = position(&c, CONTROLLER, "delete", "AutoscalingListener", LISTENER);
    let manager_role = position(
        &c,
        CONTROLLER,
        "patch",
        "Role",
        "arc-runner-set-gha-rs-manager",
    );
    assert!(listener < manager_role);
    assert!(c.github.is_empty());
}

/// arc-teardown.md §9.5 credential ladder: with the GitHub secret gone and the
/// runner set already Terminating, dropping the scale set id and the runners'
/// registration finalizers lets the live controller finish the Kubernetes
/// side; GitHub keeps the scale set (leak). Applied earlier, while the runner
/// set is still live, the set would just create new runners that cannot register.
#[test]
fn credential_ladder_lets_the_controller_finish_without_github() {
    let (c, objs) = ready_cluster(1);
    uninstall_while_stopped(&c, &objs, |c| {
        c.strip_finalizers(&core("Secret"), "arc-runners", GITHUB_SECRET);
    });
    c.wait_until(
        "the runner set is Terminating and cannot reach GitHub",
        |c| {
            c.list(&ers_gvk(), Some("arc-runners"))
                .iter()
                .all(is_deleting)
                && c.errors_containing("failed to get kubernetes secret") >= 2
        },
    );
    let patch = |gvk: &Gvk, name: &str, body: Value| {
        c.api
            .patch(
                &c.user,
                gvk,
                Some("arc-runners"),
                name,
                kube_sim::api::Patch::Merge(body),
            )
            .unwrap();
    };
    patch(
        &ars_gvk(),
        "arc-runner-set",
        json!({"metadata": {"annotations": {ANN_SCALE_SET_ID: null}}}),
    );
    // DELETE first, then strip (as the credential ladder does): a runner that
    // is not yet deleting gets the registration finalizer re-added by its
    // reconciler, and a deleting one cannot gain finalizers.
    for er in c.runners() {
        c.delete(&er_gvk(), Some("arc-runners"), name(&er));
        let er = c
            .get(&er_gvk(), "arc-runners", name(&er))
            .expect("the runner is Terminating on its finalizers");
        let kept: Vec<String> = finalizers(&er)
            .into_iter()
            .filter(|f| f != ER_REGISTRATION_FINALIZER)
            .collect();
        patch(
            &er_gvk(),
            name(&er),
            json!({"metadata": {"finalizers": kept}}),
        );
    }
    wait_release_gone(&c, &objs, "the release is gone without GitHub");
    assert_eq!(
        c.github.scale_sets().len(),
        1,
        "the scale set must be removed on GitHub by hand"
    );
    assert!(c.logged("GitHub secret has already been deleted") >= 1);
}

/// A user-owned proxy credential Secret (no finalizer) deleted before the
/// teardown stalls it like a missing GitHub secret (§5.6); proxy Secrets the
/// controller made are cleaned up with the listener and the runner set.
#[test]
fn proxy_and_tls_references_are_read_and_their_loss_stalls_the_teardown() {
    let c = SimCluster::start();
    let proxy_auth = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "proxy-auth", "namespace": "arc-runners"},
        "data": {"username": "dQ==", "password": "cA=="}});
    let ca = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "github-ca", "namespace": "arc-runners"}, "data": {"ca.crt": CA_PEM}});
    c.api.create(&c.user, proxy_auth.clone()).unwrap();
    c.api.create(&c.user, ca).unwrap();
    let rs = arc_sim::controller::RunnerSet {
        min_runners: 1,
        proxy: Some(
            json!({"https": {"url": "http://proxy.example:3128", "credentialSecretRef": "proxy-auth"}}),
        ),
        github_server_tls_configmap: Some("github-ca".to_string()),
        ..Default::default()
    };
    let objs = c.install(&rs);
    c.wait_ready(1);
    assert!(
        c.get(&core("Secret"), "arc-systems", &format!("{LISTENER}-proxy"))
            .is_some()
    );
    let ers = c.list(&ers_gvk(), Some("arc-runners")).remove(0);
    let ers_proxy = ers_proxy_secret_name(&ers);
    assert!(c.get(&core("Secret"), "arc-runners", &ers_proxy).is_some());
    assert_eq!(c.runners()[0]["spec"]["proxySecretRef"], json!(ers_proxy));

    uninstall_while_stopped(&c, &objs, |c| {
        c.delete(&core("Secret"), Some("arc-runners"), "proxy-auth");
    });
    c.wait_until("runner removal fails for want of the proxy secret", |c| {
        c.errors_containing(
            "failed to resolve proxy credentials: failed to get kubernetes secret: \"arc-runners/proxy-auth\"",
        ) >= 2
    });
    assert!(c.ars().is_some());
    assert_eq!(c.github.scale_sets().len(), 1);

    c.api.create(&c.user, proxy_auth).unwrap();
    wait_release_gone(
        &c,
        &objs,
        "the release is gone once the proxy secret is back",
    );
    assert!(c.get(&core("Secret"), "arc-runners", &ers_proxy).is_none());
    assert!(
        c.get(&core("Secret"), "arc-systems", &format!("{LISTENER}-proxy"))
            .is_none()
    );
    assert!(c.github.is_empty());
}

#[test]
fn missing_github_tls_configmap_stalls_the_teardown() {
    let c = SimCluster::start();
    let ca = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "github-ca", "namespace": "arc-runners"}, "data": {"ca.crt": CA_PEM}});
    c.api.create(&c.user, ca).unwrap();
    let rs = arc_sim::controller::RunnerSet {
        min_runners: 1,
        github_server_tls_configmap: Some("github-ca".to_string()),
        ..Default::default()
    };
    let objs = c.install(&rs);
    c.wait_ready(1);
    uninstall_while_stopped(&c, &objs, |c| {
        c.delete(&core("ConfigMap"), Some("arc-runners"), "github-ca");
    });
    c.wait_until("runner removal fails for want of the CA", |c| {
        c.errors_containing(
            "failed to get tls config: failed to fetch key \"ca.crt\" in configmap \"github-ca\": failed to get configmap github-ca: configmaps \"github-ca\" not found",
        ) >= 2
    });
    assert!(c.ars().is_some_and(|a| has_finalizer(&a, ARS_FINALIZER)));
    assert_eq!(c.github.scale_sets().len(), 1);
}

/// `--cascade=foreground`: the GC deletes the runner set while the ARS waits
/// with `foregroundDeletion`; the controller's own flow still completes.
#[test]
fn foreground_deletion_of_the_ars_completes() {
    let (c, objs) = ready_cluster(1);
    let opts = kube_sim::api::DeleteOptions {
        propagation: Some(kube_sim::api::Propagation::Foreground),
        ..Default::default()
    };
    c.api
        .delete(
            &c.user,
            &ars_gvk(),
            Some("arc-runners"),
            "arc-runner-set",
            &opts,
        )
        .unwrap();
    let ars = c.ars().unwrap();
    assert!(has_finalizer(&ars, "foregroundDeletion") && has_finalizer(&ars, ARS_FINALIZER));
    c.wait_until("the ARS is gone", |c| c.ars().is_none());
    c.helm_delete(&objs);
    c.wait_until("the release is gone", |c| chart_objects_gone(c, &objs));
    assert!(c.github.is_empty());
    assert!(c.runners().is_empty() && c.list(&ers_gvk(), None).is_empty());
}

/// Deleting the runner namespace with the controller running: the namespace
/// controller deletes everything at once, the ARC controller still finalizes
/// in order, and the namespace goes away.
#[test]
fn runner_namespace_deletion_completes_with_the_controller_running() {
    let (c, _) = ready_cluster(1);
    c.delete(&core("Namespace"), None, "arc-runners");
    c.wait_until("the namespace is gone", runner_namespace_gone);
    assert!(c.listener().is_none());
    assert!(c.github.is_empty());
}

/// §5.6: with the controller down, deleting the runner namespace hangs on the
/// ARC finalizers; a restarted controller lets it finish.
#[test]
fn runner_namespace_deletion_hangs_while_the_controller_is_down() {
    let (c, _) = ready_cluster(1);
    c.arc.stop();
    c.delete(&core("Namespace"), None, "arc-runners");
    c.wait_until("the namespace content is Terminating", |c| {
        c.ars().is_some_and(|a| is_deleting(&a)) && c.runners().iter().all(is_deleting)
    });
    quiet_period(&c);
    let ns = c
        .api
        .get(&c.user, &core("Namespace"), None, "arc-runners")
        .unwrap();
    assert_eq!(ns["status"]["phase"], "Terminating");
    assert!(has_finalizer(&c.ars().unwrap(), ARS_FINALIZER));
    let rb = manager_rbac(&c, "RoleBinding").unwrap();
    assert_eq!(finalizers(&rb), vec![CLEANUP_PROTECTION]);

    c.arc.restart();
    c.wait_until("the namespace is gone", runner_namespace_gone);
    assert!(c.github.is_empty());
}
