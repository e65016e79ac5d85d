//! Unit tests of the store's API semantics (in-process, no HTTP).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::api::{
    Actor, Api, ApiError, DeleteOptions, DeleteOutcome, Gvk, ListOptions, Patch, Propagation,
    WatchEventType,
};
use crate::control::Control;
use crate::store::{Store, StoreConfig};

fn store() -> Arc<Store> {
    Store::new(StoreConfig::default())
}

fn me() -> Actor {
    Actor("test".into())
}

fn cm(name: &str) -> Value {
    json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":name,"namespace":"default"},"data":{"k":"v"}})
}

fn cm_gvk() -> Gvk {
    Gvk::new("v1", "ConfigMap")
}

/// DELETE of ConfigMap `name` in `default`.
fn delete_cm(s: &Store, name: &str, opts: &DeleteOptions) -> Result<DeleteOutcome, ApiError> {
    s.delete(&me(), &cm_gvk(), Some("default"), name, opts)
}

/// PATCH of ConfigMap `name` in `ns`.
fn patch_cm(s: &Store, ns: &str, name: &str, patch: Patch) -> Result<Value, ApiError> {
    s.patch(&me(), &cm_gvk(), Some(ns), name, patch)
}

/// Strip every finalizer of ConfigMap `name` in `ns`.
fn strip_cm_finalizers(s: &Store, ns: &str, name: &str) -> Value {
    patch_cm(
        s,
        ns,
        name,
        Patch::Merge(json!({"metadata":{"finalizers":null}})),
    )
    .unwrap()
}

fn propagation(p: Propagation) -> DeleteOptions {
    DeleteOptions {
        propagation: Some(p),
        ..Default::default()
    }
}

/// Server-side apply of `body` as ConfigMap `a` in `default`: (object, created).
fn apply_cm(
    s: &Store,
    body: Value,
    field_manager: &str,
    force: bool,
) -> Result<(Value, bool), ApiError> {
    let t = s.resolve(&cm_gvk()).unwrap();
    s.patch_with(
        &me(),
        &t,
        Some("default"),
        "a",
        Patch::Apply {
            body,
            field_manager: field_manager.into(),
            force,
        },
        crate::store::Subresource::Main,
        &Default::default(),
    )
}

/// A store with its controllers (GC, namespaces, CRDs) running at `period`.
fn store_with_controllers(period: Duration) -> (Arc<Store>, Control) {
    let s = store();
    let control = Control::new(period);
    tokio::spawn(crate::controllers::run(s.clone(), control.clone()));
    (s, control)
}

fn widget_crd() -> Value {
    json!({"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
      "metadata":{"name":"widgets.example.com"},
      "spec":{"group":"example.com","scope":"Namespaced",
        "names":{"kind":"Widget","plural":"widgets","singular":"widget","listKind":"WidgetList"},
        "versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}})
}

#[test]
fn create_sets_bookkeeping_and_one_global_rv() {
    let s = store();
    let rv0 = s.resource_version();
    let a = s.create(&me(), cm("a")).unwrap();
    let uid = a["metadata"]["uid"].as_str().unwrap();
    assert_eq!(uid.len(), 36);
    assert_eq!(&uid[14..15], "4");
    let ts = a["metadata"]["creationTimestamp"].as_str().unwrap();
    assert!(ts.ends_with('Z') && ts.len() == 20, "{ts}");
    assert_eq!(
        a["metadata"]["resourceVersion"],
        json!((rv0 + 1).to_string())
    );
    assert!(a["metadata"].get("generation").is_none());
    let d = s
        .create(&me(), json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"generateName":"web-","namespace":"default"},"spec":{"replicas":1}}))
        .unwrap();
    assert_eq!(
        d["metadata"]["resourceVersion"],
        json!((rv0 + 2).to_string())
    );
    assert_eq!(d["metadata"]["generation"], json!(1));
    let name = d["metadata"]["name"].as_str().unwrap();
    assert!(name.starts_with("web-") && name.len() == 9);
    assert!(
        name[4..]
            .chars()
            .all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c))
    );
}

#[test]
fn create_conflicts_and_namespace_rules() {
    let s = store();
    s.create(&me(), cm("a")).unwrap();
    let e = s.create(&me(), cm("a")).unwrap_err();
    assert_eq!(e.code, 409);
    assert_eq!(e.reason, "AlreadyExists");
    assert_eq!(e.message, "configmaps \"a\" already exists");
    let mut x = cm("b");
    x["metadata"]["namespace"] = json!("nope");
    let e = s.create(&me(), x).unwrap_err();
    assert_eq!(e.code, 404);
    assert_eq!(e.message, "namespaces \"nope\" not found");
}

#[test]
fn update_with_stale_rv_is_409_and_cr_needs_rv() {
    let s = store();
    let a = s.create(&me(), cm("a")).unwrap();
    let mut b = a.clone();
    b["data"]["k"] = json!("2");
    let b2 = s.update(&me(), b.clone()).unwrap();
    assert_eq!(b2["data"]["k"], "2");
    let e = s.update(&me(), b).unwrap_err();
    assert_eq!(e.code, 409);
    assert_eq!(
        e.message,
        "Operation cannot be fulfilled on configmaps \"a\": the object has been modified; please apply your changes to the latest version and try again"
    );
    // identical update: no write
    let rv = s.resource_version();
    s.update(&me(), b2.clone()).unwrap();
    assert_eq!(s.resource_version(), rv);
    // custom resources need a resourceVersion
    s.create(&me(), widget_crd()).unwrap();
    s.create(&me(), json!({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"default"}}))
        .unwrap();
    let e = s
        .update(&me(), json!({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"default"},"spec":{}}))
        .unwrap_err();
    assert_eq!(e.code, 422);
    assert_eq!(
        e.message,
        "widgets.example.com \"w\" is invalid: metadata.resourceVersion: Invalid value: 0: must be specified for an update"
    );
}

#[test]
fn delete_without_finalizers_removes_and_broadcasts() {
    let s = store();
    s.create(&me(), cm("a")).unwrap();
    let mut rx = s.subscribe();
    let out = delete_cm(&s, "a", &DeleteOptions::default()).unwrap();
    let DeleteOutcome::Deleted(obj) = out else {
        panic!("expected Deleted")
    };
    let ev = rx.try_recv().unwrap();
    assert_eq!(ev.kind, WatchEventType::Deleted);
    assert_eq!(
        ev.object["metadata"]["resourceVersion"],
        obj["metadata"]["resourceVersion"]
    );
    let e = s.get(&me(), &cm_gvk(), Some("default"), "a").unwrap_err();
    assert_eq!(e.status["details"], json!({"name":"a","kind":"configmaps"}));
}

#[test]
fn finalizers_hold_the_object_until_the_last_is_removed() {
    let s = store();
    let mut x = cm("a");
    x["metadata"]["finalizers"] = json!(["example.com/a", "example.com/b"]);
    s.create(&me(), x).unwrap();
    let out = delete_cm(&s, "a", &DeleteOptions::default()).unwrap();
    let DeleteOutcome::Terminating(t) = out else {
        panic!("expected Terminating")
    };
    assert!(t["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(t["metadata"]["deletionGracePeriodSeconds"], json!(0));
    // second DELETE: no write
    let rv = s.resource_version();
    delete_cm(&s, "a", &DeleteOptions::default()).unwrap();
    assert_eq!(s.resource_version(), rv);
    // no new finalizers
    let e = patch_cm(
        &s,
        "default",
        "a",
        Patch::Merge(json!({"metadata":{"finalizers":["example.com/a","example.com/b","x.io/c"]}})),
    )
    .unwrap_err();
    assert_eq!(e.code, 422);
    assert_eq!(
        e.message,
        "ConfigMap \"a\" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"x.io/c\"}"
    );
    // deletionTimestamp cannot be cleared
    let kept = patch_cm(
        &s,
        "default",
        "a",
        Patch::Merge(json!({"metadata":{"deletionTimestamp":null,"labels":{"l":"1"}}})),
    )
    .unwrap();
    assert!(kept["metadata"]["deletionTimestamp"].is_string());
    // remove one: MODIFIED
    let mut rx = s.subscribe();
    patch_cm(&s, "default", "a", Patch::Json(json!([{"op":"test","path":"/metadata/finalizers/0","value":"example.com/a"},{"op":"remove","path":"/metadata/finalizers/0"}])))
        .unwrap();
    assert_eq!(rx.try_recv().unwrap().kind, WatchEventType::Modified);
    // remove the last: DELETED, response is the updated object
    let last = strip_cm_finalizers(&s, "default", "a");
    assert!(last["metadata"].get("finalizers").is_none());
    let ev = rx.try_recv().unwrap();
    assert_eq!(ev.kind, WatchEventType::Deleted);
    assert_eq!(
        ev.object["metadata"]["resourceVersion"],
        last["metadata"]["resourceVersion"]
    );
    assert_eq!(
        s.get(&me(), &cm_gvk(), Some("default"), "a")
            .unwrap_err()
            .code,
        404
    );
}

#[test]
fn delete_preconditions_and_propagation_finalizers() {
    let s = store();
    s.create(&me(), cm("a")).unwrap();
    let precondition = DeleteOptions {
        precondition_uid: Some("x".into()),
        ..Default::default()
    };
    let e = delete_cm(&s, "a", &precondition).unwrap_err();
    assert_eq!(e.code, 409);
    assert!(e.message.starts_with("Operation cannot be fulfilled on ConfigMap \"a\": the UID in the precondition (x) does not match the UID in record ("), "{}", e.message);
    let out = delete_cm(&s, "a", &propagation(Propagation::Foreground)).unwrap();
    let DeleteOutcome::Terminating(t) = out else {
        panic!()
    };
    assert_eq!(t["metadata"]["finalizers"], json!(["foregroundDeletion"]));
    // background after foreground strips the GC finalizer and deletes
    let out = delete_cm(&s, "a", &propagation(Propagation::Background)).unwrap();
    assert!(matches!(out, DeleteOutcome::Deleted(_)));
}

#[test]
fn pods_without_node_delete_immediately_and_with_node_gracefully() {
    let s = store();
    let pod = |n: &str, node: Option<&str>| {
        let mut p = json!({"apiVersion":"v1","kind":"Pod","metadata":{"name":n,"namespace":"default"},
            "spec":{"terminationGracePeriodSeconds":30,"containers":[{"name":"c","image":"i"}]}});
        if let Some(node) = node {
            p["spec"]["nodeName"] = json!(node);
        }
        p
    };
    let g = Gvk::new("v1", "Pod");
    s.create(&me(), pod("a", None)).unwrap();
    assert!(matches!(
        s.delete(&me(), &g, Some("default"), "a", &DeleteOptions::default())
            .unwrap(),
        DeleteOutcome::Deleted(_)
    ));
    s.create(&me(), pod("b", Some("n1"))).unwrap();
    let DeleteOutcome::Terminating(t) = s
        .delete(&me(), &g, Some("default"), "b", &DeleteOptions::default())
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(t["metadata"]["deletionGracePeriodSeconds"], json!(30));
}

#[test]
fn watch_history_and_compaction() {
    let s = store();
    let t = s.resolve(&cm_gvk()).unwrap();
    let rv = s.resource_version();
    s.create(&me(), cm("a")).unwrap();
    s.create(&me(), cm("b")).unwrap();
    let w = s.watch_start(&t, Some("default"), Some(rv)).unwrap();
    assert_eq!(w.initial.len(), 2);
    let w = s.watch_start(&t, Some("default"), None).unwrap();
    assert_eq!(w.initial.len(), 2);
    assert!(w.initial.iter().all(|e| e.kind == WatchEventType::Added));
    s.compact();
    let e = s.watch_start(&t, Some("default"), Some(rv)).err().unwrap();
    assert_eq!(e.code, 410);
    assert_eq!(
        e.message,
        format!(
            "too old resource version: {rv} ({})",
            s.resource_version() + 1
        )
    );
}

#[test]
fn list_with_selectors() {
    let s = store();
    for (n, l) in [("a", "x"), ("b", "y"), ("c", "x")] {
        let mut o = cm(n);
        o["metadata"]["labels"] = json!({"app": l});
        s.create(&me(), o).unwrap();
    }
    let got = s
        .list(
            &me(),
            &cm_gvk(),
            Some("default"),
            &ListOptions {
                label_selector: Some("app=x".into()),
                field_selector: None,
            },
        )
        .unwrap();
    let names: Vec<&str> = got
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["a", "c"]);
    let got = s
        .list(
            &me(),
            &cm_gvk(),
            None,
            &ListOptions {
                label_selector: None,
                field_selector: Some("metadata.name=b".into()),
            },
        )
        .unwrap();
    assert_eq!(got.len(), 1);
}

#[test]
fn server_side_apply_creates_then_conflicts() {
    let s = store();
    let (v, created) = apply_cm(&s, cm("a"), "helm", false).unwrap();
    assert!(created);
    assert_eq!(v["metadata"]["managedFields"][0]["operation"], "Apply");
    let mut other = cm("a");
    other["data"]["k"] = json!("other");
    let e = apply_cm(&s, other.clone(), "kubectl", false).unwrap_err();
    assert_eq!(e.code, 409);
    assert_eq!(
        e.message,
        "Apply failed with 1 conflict: conflict with \"helm\": .data.k"
    );
    let (v, created) = apply_cm(&s, other, "kubectl", true).unwrap();
    assert!(!created);
    assert_eq!(v["data"]["k"], "other");
}

#[test]
fn crd_registers_kind_with_established_condition() {
    let s = store();
    let crd = s.create(&me(), widget_crd()).unwrap();
    let conds = crd["status"]["conditions"].as_array().unwrap();
    assert!(
        conds
            .iter()
            .any(|c| c["type"] == "Established" && c["status"] == "True")
    );
    assert_eq!(
        crd["metadata"]["finalizers"],
        json!(["customresourcecleanup.apiextensions.k8s.io"])
    );
    assert!(s.resolve(&Gvk::new("example.com/v1", "Widget")).is_ok());
    let e = s
        .patch(
            &me(),
            &Gvk::new("example.com/v1", "Widget"),
            Some("default"),
            "w",
            Patch::Strategic(json!({})),
        )
        .unwrap_err();
    assert_eq!(e.code, 404);
}

async fn wait_until(mut f: impl FnMut() -> bool) {
    for _ in 0..400 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 4 s");
}

fn owned_cm(name: &str, owner: &Value, block: bool) -> Value {
    let mut o = cm(name);
    o["metadata"]["ownerReferences"] = json!([{"apiVersion":"v1","kind":"ConfigMap","name":owner["metadata"]["name"],
        "uid":owner["metadata"]["uid"],"blockOwnerDeletion":block}]);
    o
}

#[tokio::test]
async fn gc_background_foreground_orphan() {
    let (s, _control) = store_with_controllers(Duration::from_millis(20));
    let exists = |s: &Arc<Store>, n: &str| s.get(&me(), &cm_gvk(), Some("default"), n).is_ok();
    // background
    let o = s.create(&me(), cm("owner")).unwrap();
    s.create(&me(), owned_cm("dep", &o, false)).unwrap();
    delete_cm(&s, "owner", &DeleteOptions::default()).unwrap();
    assert!(exists(&s, "dep"));
    wait_until(|| !exists(&s, "dep")).await;
    // foreground with a blocking dependent held by a finalizer
    let o = s.create(&me(), cm("fg")).unwrap();
    let mut d = owned_cm("fgdep", &o, true);
    d["metadata"]["finalizers"] = json!(["example.com/hold"]);
    s.create(&me(), d).unwrap();
    delete_cm(&s, "fg", &propagation(Propagation::Foreground)).unwrap();
    wait_until(|| {
        s.get(&me(), &cm_gvk(), Some("default"), "fgdep")
            .is_ok_and(|d| d["metadata"]["deletionTimestamp"].is_string())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(exists(&s, "fg"), "owner waits for its blocking dependent");
    strip_cm_finalizers(&s, "default", "fgdep");
    wait_until(|| !exists(&s, "fg")).await;
    // orphan
    let o = s.create(&me(), cm("or")).unwrap();
    s.create(&me(), owned_cm("ordep", &o, true)).unwrap();
    delete_cm(&s, "or", &propagation(Propagation::Orphan)).unwrap();
    wait_until(|| !exists(&s, "or")).await;
    let dep = s.get(&me(), &cm_gvk(), Some("default"), "ordep").unwrap();
    assert!(dep["metadata"].get("ownerReferences").is_none());
}

#[tokio::test]
async fn namespace_termination_deletes_content_and_refuses_new() {
    let (s, control) = store_with_controllers(Duration::from_millis(10));
    let nsg = Gvk::new("v1", "Namespace");
    s.create(
        &me(),
        json!({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"t"}}),
    )
    .unwrap();
    let mut x = cm("a");
    x["metadata"]["namespace"] = json!("t");
    x["metadata"]["finalizers"] = json!(["example.com/hold"]);
    s.create(&me(), x).unwrap();
    control.set_gc_paused(true);
    let DeleteOutcome::Terminating(n) = s
        .delete(&me(), &nsg, None, "t", &DeleteOptions::default())
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(n["status"]["phase"], "Terminating");
    let mut y = cm("b");
    y["metadata"]["namespace"] = json!("t");
    let e = s.create(&me(), y).unwrap_err();
    assert_eq!(e.code, 403);
    assert_eq!(
        e.message,
        "configmaps \"b\" is forbidden: unable to create new content in namespace t because it is being terminated"
    );
    control.set_gc_paused(false);
    wait_until(|| {
        s.get(&me(), &cm_gvk(), Some("t"), "a")
            .is_ok_and(|o| o["metadata"]["deletionTimestamp"].is_string())
    })
    .await;
    assert!(s.get(&me(), &nsg, None, "t").is_ok());
    strip_cm_finalizers(&s, "t", "a");
    wait_until(|| s.get(&me(), &nsg, None, "t").is_err()).await;
}

#[tokio::test]
async fn deleting_a_crd_deletes_its_resources_then_the_kind() {
    let (s, _control) = store_with_controllers(Duration::from_millis(5));
    s.create(&me(), widget_crd()).unwrap();
    let wg = Gvk::new("example.com/v1", "Widget");
    s.create(&me(), json!({"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w","namespace":"default"}})).unwrap();
    let crdg = Gvk::new("apiextensions.k8s.io/v1", "CustomResourceDefinition");
    s.delete(
        &me(),
        &crdg,
        None,
        "widgets.example.com",
        &DeleteOptions::default(),
    )
    .unwrap();
    wait_until(|| s.get(&me(), &crdg, None, "widgets.example.com").is_err()).await;
    assert!(s.resolve(&wg).is_err());
    let log = s.event_log();
    let w = log
        .iter()
        .position(|e| e.kind == "Widget" && e.verb == "delete")
        .unwrap();
    let c = log
        .iter()
        .rposition(|e| e.kind == "CustomResourceDefinition" && e.result == "deleted")
        .unwrap();
    assert!(w < c);
}

#[test]
fn custom_resource_generation_counts_status_only_without_status_subresource() {
    let s = store();
    let mut crd = widget_crd();
    crd["spec"]["versions"][0]["subresources"] = json!({"status": {}});
    s.create(&me(), crd).unwrap();
    let mut gadget = widget_crd();
    gadget["metadata"]["name"] = json!("gadgets.example.com");
    gadget["spec"]["names"] = json!({"kind":"Gadget","plural":"gadgets","singular":"gadget"});
    s.create(&me(), gadget).unwrap();
    for (kind, want) in [("Widget", 1), ("Gadget", 2)] {
        let o = s
            .create(&me(), json!({"apiVersion":"example.com/v1","kind":kind,"metadata":{"name":"x","namespace":"default"},"spec":{"a":1}}))
            .unwrap();
        let g = Gvk::new("example.com/v1", kind);
        let out = s
            .patch(
                &me(),
                &g,
                Some("default"),
                "x",
                Patch::Merge(json!({"status":{"ready":true}})),
            )
            .unwrap();
        assert_eq!(out["metadata"]["generation"], json!(want), "{kind}");
        let _ = o;
    }
}
