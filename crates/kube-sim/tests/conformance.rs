//! Conformance of the simulator with kube-apiserver, over HTTP: one test per
//! rule of `apiserver-semantics.md` (section numbers in the test names' docs).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{Http, eventually, sim, sim_and_http};
use serde_json::{Value, json};

const CMS: &str = "/api/v1/namespaces/default/configmaps";

fn rv(o: &Value) -> u64 {
    o["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

fn widget_crd() -> Value {
    json!({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
      "metadata":{"name":"widgets.example.com"},
      "spec":{"group":"example.com","scope":"Namespaced",
        "names":{"kind":"Widget","plural":"widgets","singular":"widget","shortNames":["wd"],"categories":["all"],"listKind":"WidgetList"},
        "versions":[{"name":"v1","served":true,"storage":true,"subresources":{"status":{}},
          "schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}})
}

const WIDGETS: &str = "/apis/example.com/v1/namespaces/default/widgets";

async fn with_widgets(h: &Http) {
    let r = h
        .post(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions",
            &widget_crd(),
        )
        .await;
    assert_eq!(r.code, 201, "{:?}", r.body);
}

/// §3.1: POST → 201 with uid (v4), creationTimestamp (RFC 3339 seconds), one global resourceVersion.
#[tokio::test]
async fn create_sets_uid_timestamp_and_global_resource_version() {
    let (_sim, h) = sim_and_http();
    let a = h.cm("a", json!({})).await;
    let uid = a["metadata"]["uid"].as_str().unwrap();
    assert_eq!(uid.len(), 36);
    assert_eq!(uid.as_bytes()[14], b'4');
    let ts = a["metadata"]["creationTimestamp"].as_str().unwrap();
    assert_eq!(ts.len(), 20);
    assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T');
    assert_eq!(a["apiVersion"], "v1");
    assert_eq!(a["kind"], "ConfigMap");
    let sec = h
        .post(
            "/api/v1/namespaces/default/secrets",
            &json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"}}),
        )
        .await;
    assert_eq!(sec.code, 201);
    assert_eq!(rv(&sec.body), rv(&a) + 1, "one counter across types");
    assert_eq!(sec.body["type"], "Opaque");
    let d = h
        .post(
            "/apis/apps/v1/namespaces/default/deployments",
            &json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"generateName":"web-"},"spec":{"replicas":1}}),
        )
        .await;
    assert_eq!(d.code, 201);
    assert_eq!(d.body["metadata"]["generation"], 1);
    let name = d.body["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("web-") && name.len() == 9, "{name}");
    assert!(
        name[4..]
            .chars()
            .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c))
    );
}

/// §3.1/§3.3: POST with an existing name → 409 AlreadyExists with the exact Status.
#[tokio::test]
async fn create_existing_is_409_already_exists() {
    let (_sim, h) = sim_and_http();
    h.cm("a", json!({})).await;
    let r = h
        .post(
            CMS,
            &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}),
        )
        .await;
    assert_eq!(r.code, 409);
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"configmaps \"a\" already exists","reason":"AlreadyExists",
            "details":{"name":"a","kind":"configmaps"},"code":409})
    );
    // terminating object: message prefixed
    h.cm("t", json!({"finalizers":["example.com/hold"]})).await;
    h.delete(&format!("{CMS}/t"), None).await;
    let r = h
        .post(
            CMS,
            &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"t"}}),
        )
        .await;
    assert_eq!(
        r.body["message"],
        "object is being deleted: configmaps \"t\" already exists"
    );
}

/// §3.1: namespaced object in a missing namespace → 404 `namespaces "x" not found`.
#[tokio::test]
async fn create_in_missing_namespace_is_404() {
    let (_sim, h) = sim_and_http();
    let r = h
        .post(
            "/api/v1/namespaces/nope/configmaps",
            &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}),
        )
        .await;
    assert_eq!(r.code, 404);
    assert_eq!(r.body["message"], "namespaces \"nope\" not found");
    assert_eq!(
        r.body["details"],
        json!({"name":"nope","kind":"namespaces"})
    );
}

/// §3.1/§3.4: a terminating namespace refuses new content (403) and its contents are deleted, then it.
#[tokio::test]
async fn terminating_namespace_refuses_content_and_empties() {
    let (_sim, h) = sim_and_http();
    assert_eq!(
        h.post(
            "/api/v1/namespaces",
            &json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"t"}})
        )
        .await
        .code,
        201
    );
    let r = h
        .post("/api/v1/namespaces/t/configmaps", &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"held","finalizers":["example.com/hold"]}}))
        .await;
    assert_eq!(r.code, 201);
    let r = h.delete("/api/v1/namespaces/t", None).await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["status"]["phase"], "Terminating");
    assert_eq!(r.body["spec"]["finalizers"], json!(["kubernetes"]));
    let r = h
        .post(
            "/api/v1/namespaces/t/configmaps",
            &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"new"}}),
        )
        .await;
    assert_eq!(r.code, 403);
    assert_eq!(r.body["reason"], "Forbidden");
    assert_eq!(
        r.body["message"],
        "configmaps \"new\" is forbidden: unable to create new content in namespace t because it is being terminated"
    );
    eventually(|| async {
        h.get("/api/v1/namespaces/t/configmaps/held").await.body["metadata"]["deletionTimestamp"]
            .is_string()
    })
    .await;
    assert_eq!(
        h.get("/api/v1/namespaces/t").await.code,
        200,
        "content with a finalizer holds the namespace"
    );
    h.merge(
        "/api/v1/namespaces/t/configmaps/held",
        json!({"metadata":{"finalizers":null}}),
    )
    .await;
    eventually(|| async { h.get("/api/v1/namespaces/t").await.code == 404 }).await;
}

/// §3.2: PUT with a stale resourceVersion → 409 Conflict with the optimistic-lock message.
#[tokio::test]
async fn update_with_stale_resource_version_is_409() {
    let (_sim, h) = sim_and_http();
    let a = h.cm("a", json!({})).await;
    let mut b = a.clone();
    b["data"]["k"] = json!("2");
    assert_eq!(h.put(&format!("{CMS}/a"), &b).await.code, 200);
    let r = h.put(&format!("{CMS}/a"), &b).await;
    assert_eq!(r.code, 409);
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"Operation cannot be fulfilled on configmaps \"a\": the object has been modified; please apply your changes to the latest version and try again",
            "reason":"Conflict","details":{"name":"a","kind":"configmaps"},"code":409})
    );
    // unconditional update allowed for built-ins
    let mut c = b.clone();
    c["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("resourceVersion");
    c["data"]["k"] = json!("3");
    assert_eq!(h.put(&format!("{CMS}/a"), &c).await.code, 200);
    // missing object: 404, no create-on-update
    let mut m = c.clone();
    m["metadata"]["name"] = json!("missing");
    assert_eq!(h.put(&format!("{CMS}/missing"), &m).await.code, 404);
}

/// §3.2: custom resources need a resourceVersion on PUT (422).
#[tokio::test]
async fn update_of_custom_resource_without_resource_version_is_422() {
    let (_sim, h) = sim_and_http();
    with_widgets(&h).await;
    let w = json!({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"spec":{"a":1}});
    assert_eq!(h.post(WIDGETS, &w).await.code, 201);
    let r = h.put(&format!("{WIDGETS}/w"), &w).await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body["message"],
        "Widget.example.com \"w\" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update"
    );
}

/// §3.2: BeforeUpdate keeps uid/creationTimestamp/deletionTimestamp; generation bumps on spec change only.
#[tokio::test]
async fn update_keeps_system_fields_and_bumps_generation_on_spec_change() {
    let (_sim, h) = sim_and_http();
    let path = "/apis/apps/v1/namespaces/default/deployments";
    let d = h
        .post(path, &json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":1}}))
        .await
        .body;
    let mut u = d.clone();
    u["metadata"]["creationTimestamp"] = json!("2000-01-01T00:00:00Z");
    u["metadata"]["labels"] = json!({"x":"1"});
    let r = h.put(&format!("{path}/d"), &u).await;
    assert_eq!(
        r.body["metadata"]["creationTimestamp"],
        d["metadata"]["creationTimestamp"]
    );
    assert_eq!(
        r.body["metadata"]["generation"], 1,
        "metadata change keeps generation"
    );
    let r = h
        .merge(&format!("{path}/d"), json!({"spec":{"replicas":3}}))
        .await;
    assert_eq!(r.body["metadata"]["generation"], 2);
}

/// §3.3: 404 body, details.kind is the plural resource, details.group for non-core.
#[tokio::test]
async fn not_found_status_bodies() {
    let (_sim, h) = sim_and_http();
    let r = h.get(&format!("{CMS}/a")).await;
    assert_eq!(r.code, 404);
    assert_eq!(r.content_type, "application/json");
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"configmaps \"a\" not found","reason":"NotFound",
            "details":{"name":"a","kind":"configmaps"},"code":404})
    );
    let r = h
        .get("/apis/apps/v1/namespaces/default/deployments/x")
        .await;
    assert_eq!(r.body["message"], "deployments.apps \"x\" not found");
    assert_eq!(
        r.body["details"],
        json!({"name":"x","group":"apps","kind":"deployments"})
    );
    assert_eq!(h.get("/apis/nope.io/v1/things").await.code, 404);
}

/// §3.4: DELETE without finalizers → 200 Success Status with details.uid; watchers see DELETED.
#[tokio::test]
async fn delete_without_finalizers_returns_success_status_with_uid() {
    let (_sim, h) = sim_and_http();
    let a = h.cm("a", json!({})).await;
    let mut w = h
        .watch(&format!("{CMS}?watch=true&resourceVersion={}", rv(&a)))
        .await;
    let r = h
        .delete(
            &format!("{CMS}/a"),
            Some(json!({"propagationPolicy":"Background"})),
        )
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success",
            "details":{"name":"a","group":"","kind":"configmaps","uid":a["metadata"]["uid"]}})
    );
    let e = w.next().await.unwrap();
    assert_eq!(e["type"], "DELETED");
    assert_eq!(e["object"]["metadata"]["name"], "a");
    assert!(rv(&e["object"]) > rv(&a));
    assert_eq!(h.get(&format!("{CMS}/a")).await.code, 404);
    let r = h.delete(&format!("{CMS}/a"), None).await;
    assert_eq!(r.code, 404);
    assert_eq!(r.body["message"], "configmaps \"a\" not found");
}

/// §3.4: stores with ReturnDeletedObject (pods, services, serviceaccounts) answer with the object.
#[tokio::test]
async fn delete_of_pod_and_service_account_returns_the_object() {
    let (_sim, h) = sim_and_http();
    for (path, kind) in [
        (
            "/api/v1/namespaces/default/serviceaccounts",
            "ServiceAccount",
        ),
        ("/api/v1/namespaces/default/pods", "Pod"),
    ] {
        let mut o = json!({"apiVersion":"v1","kind":kind,"metadata":{"name":"x"}});
        if kind == "Pod" {
            o["spec"] = json!({"containers":[{"name":"c","image":"i"}]});
        }
        assert_eq!(h.post(path, &o).await.code, 201);
        let r = h.delete(&format!("{path}/x"), Some(json!({}))).await;
        assert_eq!(r.code, 200);
        assert_eq!(r.body["kind"], kind);
        assert_eq!(r.body["metadata"]["name"], "x");
    }
}

/// §3.4: finalizers keep the object with deletionTimestamp; 200 + object (202 only for orphanDependents:false).
#[tokio::test]
async fn delete_with_finalizers_marks_terminating() {
    let (_sim, h) = sim_and_http();
    h.cm("a", json!({"finalizers":["example.com/hold"]})).await;
    let r = h
        .delete(
            &format!("{CMS}/a"),
            Some(json!({"kind":"DeleteOptions","apiVersion":"meta.k8s.io/v1"})),
        )
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["kind"], "ConfigMap");
    assert!(r.body["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(r.body["metadata"]["deletionGracePeriodSeconds"], 0);
    assert_eq!(
        r.body["metadata"]["finalizers"],
        json!(["example.com/hold"])
    );
    // second DELETE: no write
    let again = h.delete(&format!("{CMS}/a"), None).await;
    assert_eq!(again.code, 200);
    assert_eq!(rv(&again.body), rv(&r.body));
    h.cm("b", json!({"finalizers":["example.com/hold"]})).await;
    let r = h
        .delete(&format!("{CMS}/b"), Some(json!({"orphanDependents":false})))
        .await;
    assert_eq!(r.code, 202);
}

/// §3.4: preconditions mismatch → 409.
#[tokio::test]
async fn delete_precondition_mismatch_is_409() {
    let (_sim, h) = sim_and_http();
    let a = h.cm("a", json!({})).await;
    let r = h
        .delete(
            &format!("{CMS}/a"),
            Some(json!({"preconditions":{"uid":"0000"}})),
        )
        .await;
    assert_eq!(r.code, 409);
    assert_eq!(r.body["reason"], "Conflict");
    assert_eq!(
        r.body["message"],
        format!(
            "Operation cannot be fulfilled on configmaps \"a\": the UID in the precondition (0000) does not match the UID in record ({}). The object might have been deleted and then recreated",
            a["metadata"]["uid"].as_str().unwrap()
        )
    );
    let r = h
        .delete(
            &format!("{CMS}/a"),
            Some(json!({"preconditions":{"resourceVersion":"1"}})),
        )
        .await;
    assert_eq!(r.code, 409);
    let r = h
        .delete(
            &format!("{CMS}/a"),
            Some(json!({"preconditions":{"uid":a["metadata"]["uid"]}})),
        )
        .await;
    assert_eq!(r.code, 200);
}

/// §3.4: options from query parameters; invalid combinations → 422 on DeleteOptions; dryRun writes nothing.
#[tokio::test]
async fn delete_options_from_query_validation_and_dry_run() {
    let (_sim, h) = sim_and_http();
    h.cm("a", json!({})).await;
    let r = h
        .delete(
            &format!("{CMS}/a?propagationPolicy=Foreground&dryRun=All"),
            None,
        )
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(
        r.body["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    let g = h.get(&format!("{CMS}/a")).await;
    assert_eq!(g.code, 200);
    assert!(
        g.body["metadata"].get("deletionTimestamp").is_none(),
        "dry run wrote nothing"
    );
    let r = h
        .delete(
            &format!("{CMS}/a"),
            Some(json!({"orphanDependents":true,"propagationPolicy":"Foreground"})),
        )
        .await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body["message"],
        "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Invalid value: \"Foreground\": orphanDependents and deletionPropagation cannot be both set"
    );
    let r = h
        .delete(
            &format!("{CMS}/a"),
            Some(json!({"propagationPolicy":"Sideways"})),
        )
        .await;
    assert_eq!(r.code, 422);
    let r = h
        .delete(&format!("{CMS}/a?propagationPolicy=Foreground"), None)
        .await;
    assert_eq!(
        r.body["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
}

/// §3.4: a second DELETE can switch the GC policy (foreground added later).
#[tokio::test]
async fn second_delete_recomputes_gc_finalizers() {
    let (_sim, h) = sim_and_http();
    h.cm("a", json!({"finalizers":["example.com/hold"]})).await;
    h.delete(&format!("{CMS}/a"), None).await;
    let r = h
        .delete(
            &format!("{CMS}/a"),
            Some(json!({"propagationPolicy":"Foreground"})),
        )
        .await;
    assert_eq!(
        r.body["metadata"]["finalizers"],
        json!(["example.com/hold", "foregroundDeletion"])
    );
}

/// §3.4: pods with a node and grace > 0 terminate gracefully; a kubelet removes them.
#[tokio::test]
async fn pod_graceful_deletion() {
    let (_sim, h) = sim_and_http();
    let p = "/api/v1/namespaces/default/pods";
    let pod = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"nodeName":"n1","terminationGracePeriodSeconds":30,"containers":[{"name":"c","image":"i"}]}});
    assert_eq!(h.post(p, &pod).await.code, 201);
    let r = h.delete(&format!("{p}/p"), None).await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["metadata"]["deletionGracePeriodSeconds"], 30);
    eventually(|| async { h.get(&format!("{p}/p")).await.code == 404 }).await;
}

/// §3.5: background propagation: the owner goes at once, dependents follow after the GC delay.
#[tokio::test]
async fn gc_background_deletes_dependents_after_the_owner() {
    let s = sim();
    s.control().set_gc_delay(Duration::from_millis(200));
    let h = Http::new(&s);
    let owner = h.cm("owner", json!({})).await;
    let refs = json!({"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":owner["metadata"]["uid"]}]});
    h.cm("dep", refs).await;
    let r = h
        .delete(
            &format!("{CMS}/owner"),
            Some(json!({"propagationPolicy":"Background"})),
        )
        .await;
    assert_eq!(r.body["status"], "Success");
    assert_eq!(h.get(&format!("{CMS}/owner")).await.code, 404);
    assert_eq!(
        h.get(&format!("{CMS}/dep")).await.code,
        200,
        "dependent outlives the owner for the GC delay"
    );
    eventually(|| async { h.get(&format!("{CMS}/dep")).await.code == 404 }).await;
    let log = s.event_log();
    let dep_del = log
        .iter()
        .find(|e| e.name == "dep" && e.verb == "delete")
        .unwrap();
    assert_eq!(dep_del.actor, "garbage-collector");
}

/// §3.5: foreground: owner stays with foregroundDeletion until blocking dependents are gone;
/// non-blocking dependents are deleted but not waited for.
#[tokio::test]
async fn gc_foreground_waits_for_blocking_dependents() {
    let (_sim, h) = sim_and_http();
    let owner = h.cm("owner", json!({})).await;
    let oref = |block: bool| json!({"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":owner["metadata"]["uid"],"blockOwnerDeletion":block}]});
    let mut blocking = oref(true);
    blocking["finalizers"] = json!(["example.com/hold"]);
    h.cm("blocking", blocking).await;
    let mut nonblocking = oref(false);
    nonblocking["finalizers"] = json!(["example.com/hold"]);
    h.cm("nonblocking", nonblocking).await;
    let r = h
        .delete(
            &format!("{CMS}/owner"),
            Some(json!({"propagationPolicy":"Foreground"})),
        )
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(
        r.body["metadata"]["finalizers"],
        json!(["foregroundDeletion"])
    );
    assert!(r.body["metadata"]["deletionTimestamp"].is_string());
    eventually(|| async {
        h.get(&format!("{CMS}/blocking")).await.body["metadata"]["deletionTimestamp"].is_string()
            && h.get(&format!("{CMS}/nonblocking")).await.body["metadata"]["deletionTimestamp"]
                .is_string()
    })
    .await;
    // release the non-blocking one first: owner still waits
    h.merge(
        &format!("{CMS}/nonblocking"),
        json!({"metadata":{"finalizers":null}}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(h.get(&format!("{CMS}/owner")).await.code, 200);
    h.merge(
        &format!("{CMS}/blocking"),
        json!({"metadata":{"finalizers":null}}),
    )
    .await;
    eventually(|| async { h.get(&format!("{CMS}/owner")).await.code == 404 }).await;
}

/// §3.5: orphan: dependents lose the ownerReference, the owner goes, dependents stay.
#[tokio::test]
async fn gc_orphan_keeps_dependents_without_the_reference() {
    let (_sim, h) = sim_and_http();
    let owner = h.cm("owner", json!({})).await;
    let other = h.cm("other", json!({})).await;
    let refs = json!({"ownerReferences":[
        {"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":owner["metadata"]["uid"]},
        {"apiVersion":"v1","kind":"ConfigMap","name":"other","uid":other["metadata"]["uid"]}]});
    h.cm("dep", refs).await;
    let r = h
        .delete(&format!("{CMS}/owner?propagationPolicy=Orphan"), None)
        .await;
    assert_eq!(r.body["metadata"]["finalizers"], json!(["orphan"]));
    eventually(|| async { h.get(&format!("{CMS}/owner")).await.code == 404 }).await;
    let d = h.get(&format!("{CMS}/dep")).await;
    assert_eq!(d.code, 200);
    let refs = d.body["metadata"]["ownerReferences"].as_array().unwrap();
    assert_eq!(
        refs.len(),
        1,
        "only the orphaning owner's reference is removed"
    );
    assert_eq!(refs[0]["uid"], other["metadata"]["uid"]);
}

/// §3.5: the GC can be paused (dependents stay) and resumed.
#[tokio::test]
async fn gc_pause_holds_dependents() {
    let (_sim, h) = sim_and_http();
    let owner = h.cm("owner", json!({})).await;
    h.cm("dep", json!({"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"owner","uid":owner["metadata"]["uid"]}]})).await;
    assert_eq!(
        h.req("POST", "/_sim/gc/pause", None, vec![]).await.code,
        200
    );
    h.delete(&format!("{CMS}/owner"), None).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(h.get(&format!("{CMS}/dep")).await.code, 200);
    h.req("POST", "/_sim/gc/resume", None, vec![]).await;
    eventually(|| async { h.get(&format!("{CMS}/dep")).await.code == 404 }).await;
}

/// §3.6: removing the last finalizer deletes: PUT/PATCH answer 200 + object, watchers see DELETED, GET 404.
#[tokio::test]
async fn removing_the_last_finalizer_deletes_the_object() {
    let (_sim, h) = sim_and_http();
    h.cm("a", json!({"finalizers":["example.com/a","example.com/b"]}))
        .await;
    let t = h.delete(&format!("{CMS}/a"), None).await.body;
    let mut w = h
        .watch(&format!("{CMS}?watch=1&resourceVersion={}", rv(&t)))
        .await;
    // removing one (json patch with test) is a MODIFIED
    let r = h
        .patch(
            &format!("{CMS}/a"),
            "application/json-patch+json",
            &json!([{"op":"test","path":"/metadata/finalizers","value":["example.com/a","example.com/b"]},{"op":"remove","path":"/metadata/finalizers/0"}]),
        )
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(w.next().await.unwrap()["type"], "MODIFIED");
    // removing the last via PUT
    let mut last = r.body.clone();
    last["metadata"]["finalizers"] = json!([]);
    let r = h.put(&format!("{CMS}/a"), &last).await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["kind"], "ConfigMap");
    let e = w.next().await.unwrap();
    assert_eq!(e["type"], "DELETED");
    assert_eq!(
        e["object"]["metadata"]["resourceVersion"],
        r.body["metadata"]["resourceVersion"]
    );
    assert_eq!(h.get(&format!("{CMS}/a")).await.code, 404);
    // merge patch works the same way
    h.cm("b", json!({"finalizers":["example.com/a"]})).await;
    h.delete(&format!("{CMS}/b"), None).await;
    let r = h
        .merge(&format!("{CMS}/b"), json!({"metadata":{"finalizers":null}}))
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(h.get(&format!("{CMS}/b")).await.code, 404);
}

/// §3.6: no new finalizers on a terminating object (422 with the exact message); deletionTimestamp stays.
#[tokio::test]
async fn no_new_finalizers_on_terminating_objects() {
    let (_sim, h) = sim_and_http();
    h.cm("a", json!({"finalizers":["example.com/a"]})).await;
    h.delete(&format!("{CMS}/a"), None).await;
    let r = h
        .merge(
            &format!("{CMS}/a"),
            json!({"metadata":{"finalizers":["example.com/a","x"]}}),
        )
        .await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"ConfigMap \"a\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"x\"}",
            "reason":"Invalid",
            "details":{"name":"a","group":"","kind":"ConfigMap","causes":[{"reason":"FieldValueForbidden",
              "message":"Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"x\"}",
              "field":"metadata.finalizers"}]},"code":422})
    );
    let r = h
        .merge(
            &format!("{CMS}/a"),
            json!({"metadata":{"deletionTimestamp":null,"labels":{"still":"editable"}}}),
        )
        .await;
    assert_eq!(r.code, 200);
    assert!(r.body["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(r.body["metadata"]["labels"]["still"], "editable");
}

/// §3.5: orphan and foregroundDeletion may not both be set (422).
#[tokio::test]
async fn orphan_and_foreground_finalizers_conflict() {
    let (_sim, h) = sim_and_http();
    let r = h
        .post(CMS, &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","finalizers":["orphan","foregroundDeletion"]}}))
        .await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body["details"]["causes"][0]["field"],
        "metadata.finalizers"
    );
}

/// §3.7: watch without RV sends synthetic ADDED, then changes; RV X resumes after X.
#[tokio::test]
async fn watch_initial_events_and_resume() {
    let (_sim, h) = sim_and_http();
    let a = h.cm("a", json!({})).await;
    let b = h.cm("b", json!({})).await;
    let mut w = h.watch(&format!("{CMS}?watch=true")).await;
    assert_eq!(w.code, 200);
    let e1 = w.next().await.unwrap();
    let e2 = w.next().await.unwrap();
    assert_eq!(
        (e1["type"].as_str(), e2["type"].as_str()),
        (Some("ADDED"), Some("ADDED"))
    );
    assert_eq!(e1["object"]["kind"], "ConfigMap");
    h.merge(&format!("{CMS}/a"), json!({"data":{"x":"1"}}))
        .await;
    let e3 = w.next().await.unwrap();
    assert_eq!(e3["type"], "MODIFIED");
    // resume from a's creation: sees b's ADDED and a's MODIFIED, in order
    let mut r = h
        .watch(&format!("{CMS}?watch=true&resourceVersion={}", rv(&a)))
        .await;
    let x = r.next().await.unwrap();
    assert_eq!(
        (x["type"].as_str(), rv(&x["object"])),
        (Some("ADDED"), rv(&b))
    );
    let y = r.next().await.unwrap();
    assert_eq!(y["type"], "MODIFIED");
    assert_eq!(y["object"]["metadata"]["name"], "a");
    // deprecated path form
    let mut d = h
        .watch(&format!(
            "/api/v1/watch/namespaces/default/configmaps/a?resourceVersion={}",
            rv(&y["object"])
        ))
        .await;
    h.merge(&format!("{CMS}/b"), json!({"data":{"x":"1"}}))
        .await;
    h.merge(&format!("{CMS}/a"), json!({"data":{"x":"2"}}))
        .await;
    let z = d.next().await.unwrap();
    assert_eq!(
        z["object"]["metadata"]["name"], "a",
        "the name filter hides b"
    );
}

/// §3.7: RV older than the retained history → 200 stream with an ERROR 410 Expired event.
#[tokio::test]
async fn watch_from_compacted_resource_version_is_410_expired() {
    let (s, h) = sim_and_http();
    let a = h.cm("a", json!({})).await;
    h.cm("b", json!({})).await;
    assert_eq!(h.req("POST", "/_sim/compact", None, vec![]).await.code, 200);
    let now = s.store().resource_version();
    let mut w = h
        .watch(&format!("{CMS}?watch=true&resourceVersion={}", rv(&a)))
        .await;
    assert_eq!(w.code, 200);
    let e = w.next().await.unwrap();
    assert_eq!(e["type"], "ERROR");
    assert_eq!(
        e["object"],
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":format!("too old resource version: {} ({})", rv(&a), now + 1),"reason":"Expired","code":410})
    );
    assert!(w.next().await.is_none(), "stream ends after the error");
}

/// §3.7: selectors are evaluated on old and new state: leaving the selector is DELETED, entering ADDED.
#[tokio::test]
async fn watch_selector_transitions() {
    let (_sim, h) = sim_and_http();
    let a = h.cm("a", json!({"labels":{"app":"x"}})).await;
    let mut w = h
        .watch(&format!(
            "{CMS}?watch=true&labelSelector=app%3Dx&resourceVersion={}",
            rv(&a)
        ))
        .await;
    let out = h
        .merge(
            &format!("{CMS}/a"),
            json!({"metadata":{"labels":{"app":"y"}}}),
        )
        .await
        .body;
    let e = w.next().await.unwrap();
    assert_eq!(e["type"], "DELETED");
    assert_eq!(
        e["object"]["metadata"]["labels"]["app"], "x",
        "previous object"
    );
    assert_eq!(
        e["object"]["metadata"]["resourceVersion"], out["metadata"]["resourceVersion"],
        "event RV"
    );
    h.merge(
        &format!("{CMS}/a"),
        json!({"metadata":{"labels":{"app":"x"}}}),
    )
    .await;
    assert_eq!(w.next().await.unwrap()["type"], "ADDED");
    h.merge(&format!("{CMS}/a"), json!({"data":{"z":"1"}}))
        .await;
    assert_eq!(w.next().await.unwrap()["type"], "MODIFIED");
}

/// §3.7: BOOKMARK events carry kind and apiVersion.
#[tokio::test]
async fn watch_bookmarks_carry_kind_and_api_version() {
    let s = sim();
    s.control().set_bookmark_interval(Duration::from_millis(50));
    let h = Http::new(&s);
    let a = h.cm("a", json!({})).await;
    let mut w = h
        .watch(&format!(
            "{CMS}?watch=true&allowWatchBookmarks=true&resourceVersion={}",
            rv(&a)
        ))
        .await;
    let e = w.next().await.unwrap();
    assert_eq!(e["type"], "BOOKMARK");
    assert_eq!(e["object"]["kind"], "ConfigMap");
    assert_eq!(e["object"]["apiVersion"], "v1");
    assert!(e["object"]["metadata"]["resourceVersion"].is_string());
    // without allowWatchBookmarks: none
    let mut q = h
        .watch(&format!("{CMS}?watch=true&resourceVersion={}", rv(&a)))
        .await;
    assert!(q.next_within(Duration::from_millis(200)).await.is_err());
}

/// §3.7: sendInitialEvents is refused with the exact 422 (client-go falls back to LIST+WATCH).
#[tokio::test]
async fn watch_send_initial_events_is_422() {
    let (_sim, h) = sim_and_http();
    let r = h
        .get(&format!("{CMS}?allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&sendInitialEvents=true&timeoutSeconds=300&watch=true"))
        .await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled",
            "reason":"Invalid",
            "details":{"group":"meta.k8s.io","kind":"ListOptions","causes":[{"reason":"FieldValueForbidden",
              "message":"Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled",
              "field":"sendInitialEvents"}]},"code":422})
    );
}

/// §3.7: the server ends the stream after timeoutSeconds; control can drop streams.
#[tokio::test]
async fn watch_timeout_and_dropped_streams_end() {
    let (s, h) = sim_and_http();
    let mut w = h
        .watch(&format!(
            "{CMS}?watch=true&timeoutSeconds=1&resourceVersion=1"
        ))
        .await;
    let mut ended = false;
    for _ in 0..20 {
        match w.next_within(Duration::from_secs(3)).await {
            Ok(None) => {
                ended = true;
                break;
            }
            Ok(Some(_)) => {}
            Err(()) => panic!("stream did not end after timeoutSeconds=1"),
        }
    }
    assert!(ended);
    let mut d = h
        .watch(&format!(
            "{CMS}?watch=true&resourceVersion={}",
            s.store().resource_version()
        ))
        .await;
    h.req("POST", "/_sim/watches/drop", None, vec![]).await;
    assert_eq!(d.next_within(Duration::from_secs(3)).await, Ok(None));
}

/// §3.8: LIST shape, label selector grammar, field selectors, unknown field → 400.
#[tokio::test]
async fn list_shape_and_selectors() {
    let (s, h) = sim_and_http();
    for (n, app, tier) in [("a", "x", "web"), ("b", "y", "web"), ("c", "x", "db")] {
        h.cm(n, json!({"labels":{"app":app,"tier":tier}})).await;
    }
    let r = h.get(CMS).await;
    assert_eq!(r.body["kind"], "ConfigMapList");
    assert_eq!(r.body["apiVersion"], "v1");
    assert_eq!(
        r.body["metadata"]["resourceVersion"],
        s.store().resource_version().to_string()
    );
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&r.body), vec!["a", "b", "c"]);
    for (sel, want) in [
        ("app%3Dx", vec!["a", "c"]),
        ("app%3D%3Dx%2Ctier%3Dweb", vec!["a"]),
        ("app%21%3Dx", vec!["b"]),
        ("tier%20in%20(db%2Cweb)", vec!["a", "b", "c"]),
        ("tier%20notin%20(web)", vec!["c"]),
        ("app", vec!["a", "b", "c"]),
        ("%21app", vec![]),
    ] {
        let r = h.get(&format!("{CMS}?labelSelector={sel}")).await;
        assert_eq!(r.code, 200, "{sel}");
        assert_eq!(names(&r.body), want, "{sel}");
    }
    let r = h
        .get(&format!(
            "{CMS}?fieldSelector=metadata.name%3Db&limit=500&resourceVersion=0"
        ))
        .await;
    assert_eq!(names(&r.body), vec!["b"]);
    let r = h
        .get("/api/v1/configmaps?fieldSelector=metadata.namespace%21%3Ddefault")
        .await;
    assert_eq!(names(&r.body), Vec::<String>::new());
    let r = h.get(&format!("{CMS}?fieldSelector=spec.foo%3D1")).await;
    assert_eq!(r.code, 400);
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"\"spec.foo\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
            "reason":"BadRequest","code":400})
    );
    // per-type field: secrets type
    h.post("/api/v1/namespaces/default/secrets", &json!({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"type":"kubernetes.io/tls"})).await;
    let r = h
        .get("/api/v1/namespaces/default/secrets?fieldSelector=type%3Dkubernetes.io%2Ftls")
        .await;
    assert_eq!(names(&r.body), vec!["s"]);
}

/// §3.9: /version, /api, /apis, per-GV resource lists.
#[tokio::test]
async fn discovery_documents() {
    let (_sim, h) = sim_and_http();
    let v = h.get("/version?timeout=5s").await.body;
    assert_eq!(v["major"], "1");
    let minor: u32 = v["minor"].as_str().unwrap().parse().unwrap();
    assert!((27..=33).contains(&minor));
    let api = h.get("/api").await.body;
    assert_eq!(api["kind"], "APIVersions");
    assert_eq!(api["versions"], json!(["v1"]));
    assert_eq!(
        api["serverAddressByClientCIDRs"][0]["clientCIDR"],
        "0.0.0.0/0"
    );
    let apis = h.get("/apis").await.body;
    assert_eq!(apis["kind"], "APIGroupList");
    let apps = apis["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "apps")
        .unwrap();
    assert_eq!(
        *apps,
        json!({"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}})
    );
    let rl = h.get("/apis/apps/v1").await.body;
    assert_eq!(rl["kind"], "APIResourceList");
    assert_eq!(rl["groupVersion"], "apps/v1");
    let res = rl["resources"].as_array().unwrap();
    let d = res.iter().find(|r| r["name"] == "deployments").unwrap();
    assert_eq!(
        *d,
        json!({"name":"deployments","singularName":"deployment","namespaced":true,"kind":"Deployment",
            "verbs":["create","delete","deletecollection","get","list","patch","update","watch"],"shortNames":["deploy"],"categories":["all"]})
    );
    let st = res
        .iter()
        .find(|r| r["name"] == "deployments/status")
        .unwrap();
    assert_eq!(st["verbs"], json!(["get", "patch", "update"]));
    let core = h.get("/api/v1").await.body;
    let cm = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "configmaps")
        .unwrap();
    assert_eq!(cm["shortNames"], json!(["cm"]));
    assert_eq!(cm["namespaced"], true);
    let ns = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "namespaces")
        .unwrap();
    assert_eq!(ns["namespaced"], false);
}

/// §3.9: /openapi/v3 index and per-GV documents with x-kubernetes-group-version-kind and fieldValidation.
#[tokio::test]
async fn openapi_v3_documents() {
    let (_sim, h) = sim_and_http();
    let idx = h.get("/openapi/v3").await.body;
    let url = idx["paths"]["api/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap();
    assert!(url.starts_with("/openapi/v3/api/v1?hash="));
    assert!(idx["paths"]["apis/apps/v1"].is_object());
    let doc = h.get(url).await.body;
    assert_eq!(doc["openapi"], "3.0.0");
    let p = &doc["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"];
    assert_eq!(
        p["x-kubernetes-group-version-kind"],
        json!({"group":"","version":"v1","kind":"ConfigMap"})
    );
    assert_eq!(
        p["parameters"][0],
        json!({"name":"fieldValidation","in":"query","schema":{"type":"string"}})
    );
    assert!(
        doc["paths"]["/api/v1/namespaces/{name}"].is_object(),
        "cluster-scoped path"
    );
    assert_eq!(h.get("/openapi/v3/apis/example.com/v1").await.code, 404);
}

/// §3.9: a CRD adds its resource to discovery and OpenAPI, is Established; deleting it deletes its CRs.
#[tokio::test]
async fn crd_discovery_established_and_cleanup() {
    let (_sim, h) = sim_and_http();
    with_widgets(&h).await;
    let crd = h
        .get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
        .await
        .body;
    let conds = crd["status"]["conditions"].as_array().unwrap();
    for t in ["NamesAccepted", "Established"] {
        assert!(
            conds
                .iter()
                .any(|c| c["type"] == t && c["status"] == "True"),
            "{t}"
        );
    }
    let apis = h.get("/apis").await.body;
    assert!(
        apis["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "example.com")
    );
    let rl = h.get("/apis/example.com/v1").await.body;
    let w = &rl["resources"][0];
    assert_eq!(
        (
            w["name"].as_str(),
            w["kind"].as_str(),
            w["singularName"].as_str()
        ),
        (Some("widgets"), Some("Widget"), Some("widget"))
    );
    assert_eq!(w["shortNames"], json!(["wd"]));
    assert_eq!(rl["resources"][1]["name"], "widgets/status");
    assert!(h.get("/openapi/v3").await.body["paths"]["apis/example.com/v1"].is_object());
    assert_eq!(h.get("/openapi/v3/apis/example.com/v1").await.code, 200);
    let r = h.post(WIDGETS, &json!({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","finalizers":["example.com/hold"]},"status":{"x":1}})).await;
    assert_eq!(r.code, 201);
    assert!(
        r.body.get("status").is_none(),
        "status is dropped on create when the status subresource exists"
    );
    // status subresource
    let mut st = r.body.clone();
    st["status"] = json!({"ready":true});
    let r2 = h.put(&format!("{WIDGETS}/w/status"), &st).await;
    assert_eq!(r2.code, 200);
    assert_eq!(r2.body["status"]["ready"], true);
    let del = h
        .delete(
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com",
            None,
        )
        .await;
    assert_eq!(del.code, 200);
    eventually(|| async {
        h.get(&format!("{WIDGETS}/w")).await.body["metadata"]["deletionTimestamp"].is_string()
    })
    .await;
    assert_eq!(
        h.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
            .await
            .code,
        200
    );
    h.merge(
        &format!("{WIDGETS}/w"),
        json!({"metadata":{"finalizers":null}}),
    )
    .await;
    eventually(|| async { h.get("/apis/example.com/v1").await.code == 404 }).await;
    assert_eq!(
        h.get("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com")
            .await
            .code,
        404
    );
}

/// §3.10: JSON patch (with test), merge patch, strategic merge (keyed lists), 415 for unknown types and for CR strategic.
#[tokio::test]
async fn patch_types() {
    let (_sim, h) = sim_and_http();
    h.cm("a", json!({"finalizers":["example.com/a"]})).await;
    let p = format!("{CMS}/a");
    let r = h.patch(&p, "application/json-patch+json", &json!([{"op":"test","path":"/data/k","value":"wrong"},{"op":"replace","path":"/data/k","value":"x"}])).await;
    assert_eq!(r.code, 422);
    assert_eq!(r.body["reason"], "Invalid");
    let r = h.patch(&p, "application/json-patch+json", &json!([{"op":"test","path":"/data/k","value":"v"},{"op":"replace","path":"/data/k","value":"x"}])).await;
    assert_eq!((r.code, &r.body["data"]["k"]), (200, &json!("x")));
    let r = h
        .patch(
            &p,
            "application/strategic-merge-patch+json",
            &json!({"metadata":{"finalizers":["example.com/b"]}}),
        )
        .await;
    assert_eq!(
        r.body["metadata"]["finalizers"],
        json!(["example.com/a", "example.com/b"]),
        "finalizers merge as a set"
    );
    let dep = "/apis/apps/v1/namespaces/default/deployments";
    h.post(dep, &json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},
        "spec":{"template":{"spec":{"containers":[{"name":"a","image":"a:1"},{"name":"b","image":"b:1"}]}}}})).await;
    let r = h
        .patch(
            &format!("{dep}/d"),
            "application/strategic-merge-patch+json",
            &json!({"spec":{"template":{"spec":{"containers":[{"name":"b","image":"b:2"}]}}}}),
        )
        .await;
    assert_eq!(
        r.body["spec"]["template"]["spec"]["containers"],
        json!([{"name":"a","image":"a:1"},{"name":"b","image":"b:2"}])
    );
    let r = h.patch(&p, "text/plain", &json!({})).await;
    assert_eq!(r.code, 415);
    with_widgets(&h).await;
    h.post(
        WIDGETS,
        &json!({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"}}),
    )
    .await;
    let r = h
        .patch(
            &format!("{WIDGETS}/w"),
            "application/strategic-merge-patch+json",
            &json!({"spec":{}}),
        )
        .await;
    assert_eq!(r.code, 415);
    let r = h
        .merge(&format!("{WIDGETS}/w"), json!({"spec":{"a":1}}))
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["metadata"]["generation"], 2);
}

/// §3.10: SSA create (201), update (200), conflict (409 exact), force transfers ownership, fieldManager required.
#[tokio::test]
async fn server_side_apply_create_update_conflict() {
    let (_sim, h) = sim_and_http();
    let ct = "application/apply-patch+yaml";
    let body = json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","labels":{"x":"1"}},"data":{"key":"1","other":"1"}});
    let r = h
        .patch(
            &format!("{CMS}/a?fieldManager=helm&fieldValidation=Strict&force=false"),
            ct,
            &body,
        )
        .await;
    assert_eq!(r.code, 201, "{:?}", r.body);
    let mf = &r.body["metadata"]["managedFields"][0];
    assert_eq!(
        (mf["manager"].as_str(), mf["operation"].as_str()),
        (Some("helm"), Some("Apply"))
    );
    assert_eq!(mf["fieldsV1"]["f:data"]["f:key"], json!({}));
    // update by the same manager: omitted fields are removed
    let r = h
        .patch(&format!("{CMS}/a?fieldManager=helm&force=false"), ct, &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"key":"1"}}))
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["data"], json!({"key":"1"}));
    assert!(r.body["metadata"].get("labels").is_none());
    // another manager changes the value: conflict
    let other =
        json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"key":"2"}});
    let r = h
        .patch(
            &format!("{CMS}/a?fieldManager=kubectl&force=false"),
            ct,
            &other,
        )
        .await;
    assert_eq!(r.code, 409);
    assert_eq!(
        r.body,
        json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
            "message":"Apply failed with 1 conflict: conflict with \"helm\" using v1: .data.key",
            "reason":"Conflict","details":{"causes":[{"reason":"FieldManagerConflict","message":"conflict with \"helm\" using v1","field":".data.key"}]},"code":409})
    );
    let r = h
        .patch(
            &format!("{CMS}/a?fieldManager=kubectl&force=true"),
            ct,
            &other,
        )
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["data"]["key"], "2");
    let managers: Vec<&str> = r.body["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, vec!["kubectl"], "helm lost its only field");
    // client-side writes are Update entries, and conflict with apply
    h.put(
        &format!("{CMS}/a?fieldManager=kubectl-client-side-apply"),
        &{
            let mut o = r.body.clone();
            o["data"]["csa"] = json!("1");
            o
        },
    )
    .await;
    let r = h
        .patch(&format!("{CMS}/a?fieldManager=helm"), ct, &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"csa":"2"}}))
        .await;
    assert_eq!(
        r.body["message"],
        "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using v1: .data.csa"
    );
    // fieldManager is required
    let r = h.patch(&format!("{CMS}/a"), ct, &other).await;
    assert_eq!(r.code, 422);
    assert_eq!(
        r.body["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
}

/// Helm release storage: protobuf Secret bodies (k8s\0 + runtime.Unknown) answered in JSON; protobuf DeleteOptions.
#[tokio::test]
async fn protobuf_secret_create_and_update() {
    use base64::Engine;
    let (_sim, h) = sim_and_http();
    let pb = kube_sim::protobuf::encode_secret(
        "sh.helm.release.v1.r.v1",
        "default",
        &[
            ("name", "r"),
            ("owner", "helm"),
            ("status", "deployed"),
            ("version", "1"),
        ],
        &[("release", b"H4sIAAAA")],
        "helm.sh/release.v1",
    );
    let r = h
        .req(
            "POST",
            "/api/v1/namespaces/default/secrets",
            Some("application/vnd.kubernetes.protobuf"),
            pb,
        )
        .await;
    assert_eq!(r.code, 201, "{:?}", r.raw);
    assert_eq!(r.content_type, "application/json");
    assert_eq!(r.body["kind"], "Secret");
    assert_eq!(r.body["type"], "helm.sh/release.v1");
    assert_eq!(
        r.body["data"]["release"],
        base64::engine::general_purpose::STANDARD.encode(b"H4sIAAAA")
    );
    let l = h
        .get("/api/v1/namespaces/default/secrets?labelSelector=name%3Dr%2Cowner%3Dhelm")
        .await;
    assert_eq!(l.body["items"].as_array().unwrap().len(), 1);
    let pb2 = kube_sim::protobuf::encode_secret(
        "sh.helm.release.v1.r.v1",
        "default",
        &[("owner", "helm"), ("status", "superseded")],
        &[("release", b"x")],
        "helm.sh/release.v1",
    );
    let r = h
        .req(
            "PUT",
            "/api/v1/namespaces/default/secrets/sh.helm.release.v1.r.v1",
            Some("application/vnd.kubernetes.protobuf"),
            pb2,
        )
        .await;
    assert_eq!(r.code, 200, "{:?}", r.body);
    assert_eq!(r.body["metadata"]["labels"]["status"], "superseded");
    let del = kube_sim::protobuf::encode_delete_options(Some("Background"), None);
    let r = h
        .req(
            "DELETE",
            "/api/v1/namespaces/default/secrets/sh.helm.release.v1.r.v1",
            Some("application/vnd.kubernetes.protobuf"),
            del,
        )
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["status"], "Success");
    let r = h
        .req(
            "POST",
            "/api/v1/namespaces/default/secrets",
            Some("application/vnd.kubernetes.protobuf"),
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(r.code, 400);
}

/// Control: injected 5xx/429 at a rate (deterministic), latency, and the event log over HTTP.
#[tokio::test]
async fn control_faults_and_event_log() {
    let (s, h) = sim_and_http();
    let f = json!({"error_rate":1.0,"error_code":503,"path_contains":"configmaps","seed":3});
    assert_eq!(
        h.req(
            "PUT",
            "/_sim/faults",
            Some("application/json"),
            serde_json::to_vec(&f).unwrap()
        )
        .await
        .code,
        200
    );
    let r = h.get(CMS).await;
    assert_eq!(r.code, 503);
    assert_eq!(r.body["reason"], "ServiceUnavailable");
    assert_eq!(h.get("/api/v1/namespaces/default/secrets").await.code, 200);
    let f = json!({"throttle_rate":1.0});
    h.req(
        "PUT",
        "/_sim/faults",
        Some("application/json"),
        serde_json::to_vec(&f).unwrap(),
    )
    .await;
    let r = h.get(CMS).await;
    assert_eq!(r.code, 429);
    assert_eq!(r.body["details"]["retryAfterSeconds"], 1);
    h.req("DELETE", "/_sim/faults", None, vec![]).await;
    h.cm("a", json!({})).await;
    let log = h.get("/_sim/log").await.body;
    let last = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["verb"], "create");
    assert_eq!(last["actor"], "conformance");
    assert_eq!(last["kind"], "ConfigMap");
    assert_eq!(last["code"], 201);
    assert_eq!(last["rv"], json!(s.store().resource_version()));
}

/// §3.5: a reference to an absent owner (or one with another uid) is dangling: with no other owner the
/// dependent is deleted; with a solid owner only the dangling reference is removed.
#[tokio::test]
async fn gc_dangling_references() {
    let (_sim, h) = sim_and_http();
    let solid = h.cm("solid", json!({})).await;
    let gone = json!({"apiVersion":"v1","kind":"ConfigMap","name":"gone","uid":"3c0e5f1b-0000-4000-8000-000000000000"});
    h.cm("only-dangling", json!({"ownerReferences":[gone.clone()]}))
        .await;
    h.cm("mixed", json!({"ownerReferences":[gone, {"apiVersion":"v1","kind":"ConfigMap","name":"solid","uid":solid["metadata"]["uid"]}]})).await;
    // same name, other uid: dangling too
    h.cm("stale-uid", json!({"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"solid","uid":"other-uid"}]})).await;
    eventually(|| async {
        h.get(&format!("{CMS}/only-dangling")).await.code == 404
            && h.get(&format!("{CMS}/stale-uid")).await.code == 404
    })
    .await;
    eventually(|| async {
        h.get(&format!("{CMS}/mixed")).await.body["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(|r| r.len() == 1)
    })
    .await;
    let mixed = h.get(&format!("{CMS}/mixed")).await.body;
    assert_eq!(mixed["metadata"]["ownerReferences"][0]["name"], "solid");
}

/// §3.5: namespaced dependents of a cluster-scoped owner are collected too.
#[tokio::test]
async fn gc_cluster_scoped_owner() {
    let (_sim, h) = sim_and_http();
    let cr = h
        .post("/apis/rbac.authorization.k8s.io/v1/clusterroles", &json!({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"owner-role"},"rules":[]}))
        .await
        .body;
    h.cm("dep", json!({"ownerReferences":[{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","name":"owner-role","uid":cr["metadata"]["uid"]}]})).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        h.get(&format!("{CMS}/dep")).await.code,
        200,
        "owner exists: dependent kept"
    );
    h.delete(
        "/apis/rbac.authorization.k8s.io/v1/clusterroles/owner-role",
        None,
    )
    .await;
    eventually(|| async { h.get(&format!("{CMS}/dep")).await.code == 404 }).await;
}

/// DELETE on a collection deletes the selected objects (deletecollection).
#[tokio::test]
async fn delete_collection_with_selector() {
    let (_sim, h) = sim_and_http();
    h.cm("a", json!({"labels":{"app":"x"}})).await;
    h.cm(
        "b",
        json!({"labels":{"app":"x"},"finalizers":["example.com/hold"]}),
    )
    .await;
    h.cm("c", json!({"labels":{"app":"y"}})).await;
    let r = h
        .delete(&format!("{CMS}?labelSelector=app%3Dx"), None)
        .await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["kind"], "ConfigMapList");
    assert_eq!(h.get(&format!("{CMS}/a")).await.code, 404);
    assert!(h.get(&format!("{CMS}/b")).await.body["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(h.get(&format!("{CMS}/c")).await.code, 200);
}

/// Status subresource: the main resource ignores status changes, `/status` changes only status.
#[tokio::test]
async fn status_subresource_separates_spec_and_status() {
    let (_sim, h) = sim_and_http();
    let p = "/apis/apps/v1/namespaces/default/deployments";
    let d = h.post(p, &json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"replicas":1}})).await.body;
    let mut u = d.clone();
    u["status"] = json!({"readyReplicas":1});
    let r = h.put(&format!("{p}/d"), &u).await;
    assert!(
        r.body
            .get("status")
            .is_none_or(|s| s.get("readyReplicas").is_none()),
        "{:?}",
        r.body
    );
    let r = h.put(&format!("{p}/d/status"), &u).await;
    assert_eq!(r.code, 200);
    assert_eq!(r.body["status"]["readyReplicas"], 1);
    let mut v = r.body.clone();
    v["spec"]["replicas"] = json!(5);
    v["status"]["readyReplicas"] = json!(2);
    let r = h.put(&format!("{p}/d/status"), &v).await;
    assert_eq!(
        r.body["spec"]["replicas"], 1,
        "status writes leave spec alone"
    );
    assert_eq!(r.body["status"]["readyReplicas"], 2);
    let r = h
        .merge(
            &format!("{p}/d/status"),
            json!({"status":{"readyReplicas":3}}),
        )
        .await;
    assert_eq!(r.body["status"]["readyReplicas"], 3);
    assert_eq!(
        h.get("/apis/apps/v1/namespaces/default/deployments/d/scale")
            .await
            .code,
        404
    );
}

/// Watches across all namespaces and on custom resources.
#[tokio::test]
async fn watch_all_namespaces_and_custom_resources() {
    let (s, h) = sim_and_http();
    with_widgets(&h).await;
    let from = s.store().resource_version();
    let mut all = h
        .watch(&format!(
            "/apis/example.com/v1/widgets?watch=true&resourceVersion={from}"
        ))
        .await;
    h.post(
        "/api/v1/namespaces",
        &json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"other"}}),
    )
    .await;
    for ns in ["default", "other"] {
        let r = h
            .post(
                &format!("/apis/example.com/v1/namespaces/{ns}/widgets"),
                &json!({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"}}),
            )
            .await;
        assert_eq!(r.code, 201);
    }
    let a = all.next().await.unwrap();
    let b = all.next().await.unwrap();
    assert_eq!(
        (
            a["object"]["metadata"]["namespace"].as_str(),
            b["object"]["metadata"]["namespace"].as_str()
        ),
        (Some("default"), Some("other"))
    );
    assert_eq!(a["object"]["apiVersion"], "example.com/v1");
    let l = h.get("/apis/example.com/v1/widgets").await.body;
    assert_eq!(l["kind"], "WidgetList");
    assert_eq!(l["items"].as_array().unwrap().len(), 2);
}

/// A watch from a resourceVersion ahead of the store sees only changes after it.
#[tokio::test]
async fn watch_from_a_future_resource_version() {
    let (s, h) = sim_and_http();
    let now = s.store().resource_version();
    let mut w = h
        .watch(&format!("{CMS}?watch=true&resourceVersion={}", now + 2))
        .await;
    h.cm("a", json!({})).await;
    h.cm("b", json!({})).await;
    h.cm("c", json!({})).await;
    let e = w.next().await.unwrap();
    assert_eq!(e["object"]["metadata"]["name"], "c");
}

/// Control: watch streams can be dropped periodically (clients see the stream end and re-watch).
#[tokio::test]
async fn control_drops_watches_periodically() {
    let (s, h) = sim_and_http();
    assert_eq!(
        h.req("POST", "/_sim/watches/drop-every?seconds=0.2", None, vec![])
            .await
            .code,
        200
    );
    let mut w = h
        .watch(&format!(
            "{CMS}?watch=true&resourceVersion={}",
            s.store().resource_version()
        ))
        .await;
    assert_eq!(w.next_within(Duration::from_secs(3)).await, Ok(None));
    h.req("POST", "/_sim/watches/drop-every?seconds=0", None, vec![])
        .await;
    let mut w = h
        .watch(&format!(
            "{CMS}?watch=true&resourceVersion={}",
            s.store().resource_version()
        ))
        .await;
    assert!(
        w.next_within(Duration::from_millis(500)).await.is_err(),
        "stays open once periodic drops are off"
    );
}

/// §3.8: limit/continue pagination; a continue token from before a compaction is 410.
#[tokio::test]
async fn list_pagination() {
    let (s, h) = sim_and_http();
    for n in ["a", "b", "c", "d", "e"] {
        h.cm(n, json!({})).await;
    }
    let mut names = Vec::new();
    let mut cont = String::new();
    let mut pages = 0;
    let first_rv = s.store().resource_version().to_string();
    loop {
        let r = h.get(&format!("{CMS}?limit=2&continue={cont}")).await;
        assert_eq!(r.code, 200, "{:?}", r.body);
        assert_eq!(r.body["metadata"]["resourceVersion"], first_rv);
        pages += 1;
        names.extend(
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["metadata"]["name"].as_str().unwrap().to_string()),
        );
        match r.body["metadata"]["continue"].as_str() {
            Some(c) => {
                assert!(r.body["metadata"]["remainingItemCount"].as_u64().unwrap() > 0);
                cont = c.to_string();
            }
            None => break,
        }
    }
    assert_eq!(names, vec!["a", "b", "c", "d", "e"]);
    assert_eq!(pages, 3);
    let r = h.get(&format!("{CMS}?limit=2")).await;
    let c = r.body["metadata"]["continue"].as_str().unwrap().to_string();
    h.cm("f", json!({})).await;
    h.req("POST", "/_sim/compact", None, vec![]).await;
    let r = h.get(&format!("{CMS}?limit=2&continue={c}")).await;
    assert_eq!(r.code, 410);
    assert_eq!(r.body["reason"], "Expired");
    assert_eq!(
        h.get(&format!("{CMS}?limit=2&continue=garbage")).await.code,
        400
    );
}

/// Control: injected 409 and 410 are shaped like real Conflict and Expired answers.
#[tokio::test]
async fn control_injects_conflict_and_expired() {
    let (s, h) = sim_and_http();
    h.cm("a", json!({})).await;
    s.control().set_faults(kube_sim::Faults {
        error_rate: 1.0,
        error_code: Some(409),
        methods: vec!["PUT".into()],
        ..Default::default()
    });
    let r = h
        .put(
            &format!("{CMS}/a"),
            &json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}),
        )
        .await;
    assert_eq!((r.code, r.body["reason"].as_str()), (409, Some("Conflict")));
    assert_eq!(
        h.get(&format!("{CMS}/a")).await.code,
        200,
        "only PUT is affected"
    );
    s.control().set_faults(kube_sim::Faults {
        error_rate: 1.0,
        error_code: Some(410),
        ..Default::default()
    });
    let r = h.get(CMS).await;
    assert_eq!((r.code, r.body["reason"].as_str()), (410, Some("Expired")));
    s.control().clear_faults();
    assert_eq!(h.get(CMS).await.code, 200);
}

/// §3.9: aggregated discovery v2 when asked for it (Content-Type tells the client), legacy otherwise.
#[tokio::test]
async fn aggregated_discovery_v2() {
    let (_sim, h) = sim_and_http();
    with_widgets(&h).await;
    let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
    let get = |path: &'static str| {
        let h = &h;
        async move { h.req_with_accept(path, accept).await }
    };
    let apis = get("/apis").await;
    assert_eq!(
        apis.content_type,
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    assert_eq!(apis.body["kind"], "APIGroupDiscoveryList");
    assert_eq!(apis.body["apiVersion"], "apidiscovery.k8s.io/v2");
    let apps = apis.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["metadata"]["name"] == "apps")
        .unwrap();
    let d = apps["versions"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "deployments")
        .unwrap();
    assert_eq!(
        d["responseKind"],
        json!({"group":"apps","version":"v1","kind":"Deployment"})
    );
    assert_eq!(d["scope"], "Namespaced");
    assert_eq!(d["singularResource"], "deployment");
    assert_eq!(d["shortNames"], json!(["deploy"]));
    assert_eq!(d["subresources"][0]["subresource"], "status");
    assert!(
        apis.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["metadata"]["name"] == "example.com")
    );
    assert!(
        apis.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["metadata"]["name"] != "")
    );
    let core = get("/api").await;
    assert_eq!(core.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(core.body["items"][0]["metadata"]["name"], "");
    let ns = core.body["items"][0]["versions"][0]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["resource"] == "namespaces")
        .unwrap();
    assert_eq!(ns["scope"], "Cluster");
    // plain JSON Accept: legacy documents
    let legacy = h.get("/apis").await;
    assert_eq!(legacy.content_type, "application/json");
    assert_eq!(legacy.body["kind"], "APIGroupList");
}
