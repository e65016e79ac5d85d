//! Property tests of the simulator's pure parts: label selectors, strategic
//! merge of keyed lists, and server-side apply round trips.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use kube_sim::api::{Actor, Api, Gvk, Patch};
use kube_sim::patch::strategic_merge;
use kube_sim::selector::LabelSelector;
use kube_sim::store::{Store, StoreConfig, Subresource, WriteOptions};
use proptest::prelude::*;
use serde_json::{Value, json};

#[derive(Clone, Debug)]
enum Req {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "app.kubernetes.io/name"]).prop_map(str::to_string)
}

fn val() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["x", "y", "z-1"]).prop_map(str::to_string)
}

fn req() -> impl Strategy<Value = Req> {
    prop_oneof![
        (key(), val()).prop_map(|(k, v)| Req::Eq(k, v)),
        (key(), val()).prop_map(|(k, v)| Req::NotEq(k, v)),
        (key(), prop::collection::vec(val(), 1..3)).prop_map(|(k, v)| Req::In(k, v)),
        (key(), prop::collection::vec(val(), 1..3)).prop_map(|(k, v)| Req::NotIn(k, v)),
        key().prop_map(Req::Exists),
        key().prop_map(Req::NotExists),
    ]
}

fn render(r: &Req) -> String {
    match r {
        Req::Eq(k, v) => format!("{k}={v}"),
        Req::NotEq(k, v) => format!("{k}!={v}"),
        Req::In(k, vs) => format!("{k} in ({})", vs.join(",")),
        Req::NotIn(k, vs) => format!("{k} notin ({})", vs.join(", ")),
        Req::Exists(k) => k.clone(),
        Req::NotExists(k) => format!("!{k}"),
    }
}

fn holds(r: &Req, labels: &BTreeMap<String, String>) -> bool {
    match r {
        Req::Eq(k, v) => labels.get(k) == Some(v),
        Req::NotEq(k, v) => labels.get(k) != Some(v),
        Req::In(k, vs) => labels.get(k).is_some_and(|x| vs.contains(x)),
        Req::NotIn(k, vs) => labels.get(k).is_none_or(|x| !vs.contains(x)),
        Req::Exists(k) => labels.contains_key(k),
        Req::NotExists(k) => !labels.contains_key(k),
    }
}

fn cm(name: &str, data: &BTreeMap<String, String>) -> Value {
    json!({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":name,"namespace":"default"},"data":data})
}

proptest! {
    /// A selector matches exactly when every requirement holds (AND semantics of `labels.Parse`).
    #[test]
    fn label_selector_is_the_conjunction_of_its_requirements(
        labels in prop::collection::btree_map(key(), val(), 0..3),
        reqs in prop::collection::vec(req(), 0..4),
    ) {
        let text: Vec<String> = reqs.iter().map(render).collect();
        let sel = LabelSelector::parse(&text.join(",")).unwrap();
        let obj = json!({"metadata": {"labels": labels}});
        prop_assert_eq!(sel.matches(&obj), reqs.iter().all(|r| holds(r, &labels)));
    }

    /// Strategic merge of containers by name: patched names override, others keep their place.
    #[test]
    fn strategic_merge_of_keyed_list_is_a_map_update(
        base in prop::collection::btree_map("[a-e]", "[0-9]", 0..5),
        patch in prop::collection::btree_map("[a-e]", "[0-9]", 0..5),
    ) {
        let list = |m: &BTreeMap<String, String>| -> Value {
            Value::Array(m.iter().map(|(n, i)| json!({"name": n, "image": i})).collect())
        };
        let doc = json!({"spec": {"containers": list(&base)}});
        let out = strategic_merge(&doc, &json!({"spec": {"containers": list(&patch)}})).unwrap();
        let mut want = base.clone();
        want.extend(patch.clone());
        let got: BTreeMap<String, String> = out["spec"]["containers"].as_array().unwrap().iter()
            .map(|c| (c["name"].as_str().unwrap().to_string(), c["image"].as_str().unwrap().to_string()))
            .collect();
        prop_assert_eq!(got, want);
        // base items keep their relative order at the front
        let names: Vec<&str> = out["spec"]["containers"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
        let base_names: Vec<&str> = base.keys().map(String::as_str).collect();
        prop_assert_eq!(&names[..base_names.len()], &base_names[..]);
    }

    /// SSA by one manager converges to exactly the last applied data, and re-applying is a no-op.
    #[test]
    fn server_side_apply_converges_to_the_last_configuration(
        configs in prop::collection::vec(prop::collection::btree_map("k[0-4]", "[a-c]", 0..4), 1..5),
    ) {
        let store = Store::new(StoreConfig::default());
        let t = store.resolve(&Gvk::new("v1", "ConfigMap")).unwrap();
        let actor = Actor("prop".into());
        let apply = |data: &BTreeMap<String, String>| {
            store.patch_with(&actor, &t, Some("default"), "c",
                Patch::Apply { body: cm("c", data), field_manager: "helm".into(), force: false },
                Subresource::Main, &WriteOptions::default()).unwrap().0
        };
        let mut last = Value::Null;
        for c in &configs {
            last = apply(c);
        }
        let want = configs.last().unwrap();
        let got: BTreeMap<String, String> = last.get("data").and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect())
            .unwrap_or_default();
        prop_assert_eq!(&got, want);
        let rv = store.resource_version();
        apply(want);
        prop_assert_eq!(store.resource_version(), rv, "re-applying the same configuration writes nothing");
        let again = store.get(&actor, &Gvk::new("v1", "ConfigMap"), Some("default"), "c").unwrap();
        prop_assert_eq!(again["metadata"]["managedFields"][0]["manager"].as_str(), Some("helm"));
    }
}
