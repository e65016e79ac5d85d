//! Waiting for a wave: one watch per kind and namespace of what the wave
//! deleted, an object counted gone only when its UID is gone (a recreated
//! object of the same name is not the one deleted), and the controller's
//! progress (listener, runner sets, runners) from watches of its objects.

use super::error::TeardownError;
use super::events::{Event, Reporter};
use super::observe::{LiveMap, is_ars};
use crate::arc::{self, RunnerSetRefs};
use crate::kube::{Cluster, KubeError, WatchItem};
use crate::model::{Live, ObjectId};
use futures::StreamExt;
use futures::stream::BoxStream;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;

/// An object waited on: group, kind, namespace, name (two kinds of one name
/// in different groups are different objects).
type Key = (String, String, Option<String>, String);

fn key(id: &ObjectId) -> Key {
    (
        id.group.clone(),
        id.kind.clone(),
        id.namespace.clone(),
        id.name.clone(),
    )
}

/// What one target watch covers: a kind of a group in a namespace (or all).
#[derive(Clone, Debug, PartialEq, Eq)]
struct WatchTag {
    group: String,
    kind: String,
    namespace: Option<String>,
}

impl WatchTag {
    fn covers(&self, k: &Key) -> bool {
        k.0 == self.group && k.1 == self.kind && k.2 == self.namespace
    }

    /// `RESOURCE in namespace NS` (or `in every namespace`) for messages,
    /// `resource` being the RBAC name of the watched kind.
    fn describe(&self, resource: &str) -> String {
        match &self.namespace {
            Some(ns) => format!("{resource} in namespace {ns}"),
            None => format!("{resource} in every namespace"),
        }
    }
}

/// Waits on the cluster for a wave's objects to be gone.
#[derive(Clone, Copy)]
pub(super) struct Waiter<'a> {
    cluster: &'a Cluster,
    ui: &'a dyn Reporter,
}

impl<'a> Waiter<'a> {
    /// A waiter on `cluster` reporting to `ui`.
    pub(super) fn new(cluster: &'a Cluster, ui: &'a dyn Reporter) -> Self {
        Self { cluster, ui }
    }

    /// Wait until every pending object is gone (UID-aware) or the timeout passes.
    pub(super) async fn wait_wave(
        &self,
        wave: usize,
        pending: Vec<Live>,
        sets: &[RunnerSetRefs],
        with_progress: bool,
        deadline: tokio::time::Instant,
    ) -> Result<Waited, TeardownError> {
        let mut pending: HashMap<Key, Live> =
            pending.into_iter().map(|l| (key(&l.id), l)).collect();
        if pending.is_empty() {
            return Ok(Waited::Done);
        }
        let mut groups: BTreeMap<(String, String, String, Option<String>), Vec<String>> =
            BTreeMap::new();
        for l in pending.values() {
            groups
                .entry((
                    l.id.group.clone(),
                    l.id.version.clone(),
                    l.id.kind.clone(),
                    l.id.namespace.clone(),
                ))
                .or_default()
                .push(l.id.name.clone());
        }
        let mut streams: Vec<BoxStream<'static, (WatchOf, WatchItem)>> = Vec::new();
        for ((group, version, kind, ns), names) in &groups {
            let name = if names.len() == 1 {
                names.first().map(String::as_str)
            } else {
                None
            };
            let s = self
                .cluster
                .watch(group, version, kind, ns.as_deref(), name)
                .await?;
            let tag = WatchTag {
                group: group.clone(),
                kind: kind.clone(),
                namespace: ns.clone(),
            };
            streams.push(
                s.map(move |item| (WatchOf::Wave(tag.clone()), item))
                    .boxed(),
            );
        }
        let mut progress_streams = 0usize;
        if with_progress && !sets.is_empty() {
            let ns = sets.first().map(|s| s.namespace.clone());
            for (kind, namespace, source) in [
                (arc::LISTENER_KIND, None, WatchOf::Listener),
                (arc::ERS_KIND, ns.clone(), WatchOf::RunnerSets),
                (arc::ER_KIND, ns, WatchOf::Runners),
            ] {
                match self
                    .cluster
                    .watch(arc::GROUP, arc::VERSION, kind, namespace.as_deref(), None)
                    .await
                {
                    Ok(s) => {
                        progress_streams += 1;
                        // What the user may not watch (a Role in the
                        // runner namespace only) is left out of the
                        // progress: the stream ends at its first refusal,
                        // as an empty list.
                        let refused = std::sync::atomic::AtomicBool::new(false);
                        let s =
                            s.take_while(move |item| {
                                futures::future::ready(!refused.swap(
                                    matches!(item, WatchItem::Refused { .. }),
                                    Ordering::Relaxed,
                                ))
                            });
                        streams.push(
                            s.map(move |item| {
                                let item = match item {
                                    WatchItem::Refused { .. } => WatchItem::Restart(Vec::new()),
                                    other => other,
                                };
                                (source.clone(), item)
                            })
                            .boxed(),
                        );
                    }
                    Err(KubeError::UnknownKind(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        let mut merged = futures::stream::select_all(streams);
        let mut progress = ProgressCache::default();
        let mut last_progress = String::new();
        while !pending.is_empty() {
            let next = tokio::select! {
                _ = tokio::time::sleep_until(deadline) => None,
                item = merged.next() => item,
            };
            let Some((source, item)) = next else {
                return Ok(Waited::TimedOut(pending.into_values().collect()));
            };
            match source {
                WatchOf::Wave(tag) => {
                    if let WatchItem::Refused {
                        verb,
                        resource,
                        code,
                        reason,
                    } = item
                    {
                        return Err(TeardownError::WatchRefused {
                            wave,
                            verb,
                            resource: tag.describe(&resource),
                            code,
                            reason,
                        });
                    }
                    for gone in track(&mut pending, &tag, item) {
                        self.ui.emit(&Event::Gone {
                            wave,
                            object: gone.id.to_string(),
                        });
                    }
                }
                other => progress.apply(other, item),
            }
            if with_progress {
                let event = progress.event(wave, &pending, sets);
                let text = serde_json::to_string(&event).unwrap_or_default();
                let synced = progress.synced.count_ones() as usize >= progress_streams;
                if synced && text != last_progress && !pending.is_empty() {
                    self.ui.emit(&event);
                    last_progress = text;
                }
            }
        }
        Ok(Waited::Done)
    }
}

/// `old` as read again in `fresh`, if it is still the same object (same UID).
pub(super) fn fresh_of(fresh: &LiveMap, old: &Live) -> Option<Live> {
    fresh
        .values()
        .flatten()
        .find(|l| key(&l.id) == key(&old.id) && l.uid() == old.uid())
        .cloned()
}

/// How a wait ended.
pub(super) enum Waited {
    /// Every object is gone.
    Done,
    /// The deadline passed; these are left.
    TimedOut(Vec<Live>),
}

/// Which watch an item came from.
#[derive(Clone, Debug)]
enum WatchOf {
    /// The wave's objects (of one kind).
    Wave(WatchTag),
    /// AutoscalingListeners.
    Listener,
    /// EphemeralRunnerSets.
    RunnerSets,
    /// EphemeralRunners.
    Runners,
}

/// Apply a watch item to the pending set; returns the objects that are gone.
fn track(pending: &mut HashMap<Key, Live>, tag: &WatchTag, item: WatchItem) -> Vec<Live> {
    let mut gone = Vec::new();
    let in_group = |k: &Key| tag.covers(k);
    match item {
        WatchItem::Restart(list) => {
            let keys: Vec<Key> = pending.keys().filter(|k| in_group(k)).cloned().collect();
            for k in keys {
                let still = list.iter().find(|l| key(&l.id) == k);
                let uid = pending
                    .get(&k)
                    .map(|p| p.uid().to_string())
                    .unwrap_or_default();
                match still {
                    Some(l) if l.uid() == uid => {
                        pending.insert(k, l.clone());
                    }
                    _ => gone.extend(pending.remove(&k)),
                }
            }
        }
        WatchItem::Apply(l) => {
            let k = key(&l.id);
            if let Some(p) = pending.get(&k) {
                if p.uid() == l.uid() {
                    pending.insert(k, l);
                } else {
                    gone.extend(pending.remove(&k));
                }
            }
        }
        WatchItem::Delete(l) => {
            let k = key(&l.id);
            if pending.get(&k).is_some_and(|p| p.uid() == l.uid()) {
                gone.extend(pending.remove(&k));
            }
        }
        // Handled by the caller (the wait ends with an error).
        WatchItem::Refused { .. } => {}
    }
    gone
}

/// What the controller's objects look like now.
#[derive(Default)]
struct ProgressCache {
    /// Bits of the watches that delivered their initial list (1 listener, 2 sets, 4 runners).
    synced: u8,
    listeners: HashMap<String, Live>,
    runner_sets: HashMap<String, Live>,
    runners: HashMap<String, Live>,
}

impl ProgressCache {
    fn apply(&mut self, watch: WatchOf, item: WatchItem) {
        let map = match &watch {
            WatchOf::Listener => &mut self.listeners,
            WatchOf::RunnerSets => &mut self.runner_sets,
            WatchOf::Runners => &mut self.runners,
            WatchOf::Wave(..) => return,
        };
        match item {
            WatchItem::Restart(list) => {
                *map = list.into_iter().map(|l| (l.uid().to_string(), l)).collect();
                let bit = match watch {
                    WatchOf::Listener => 1,
                    WatchOf::RunnerSets => 2,
                    _ => 4,
                };
                self.synced |= bit;
            }
            WatchItem::Apply(l) => {
                map.insert(l.uid().to_string(), l);
            }
            WatchItem::Delete(l) => {
                map.remove(l.uid());
            }
            // Progress is shown without what cannot be watched.
            WatchItem::Refused { .. } => {}
        }
    }

    fn event(&self, wave: usize, pending: &HashMap<Key, Live>, sets: &[RunnerSetRefs]) -> Event {
        let ars_uids: BTreeSet<&str> = pending
            .values()
            .filter(|l| is_ars(&l.id))
            .map(Live::uid)
            .collect();
        let listener = self
            .listeners
            .values()
            .find(|l| {
                sets.iter()
                    .any(|s| arc::is_listener_of(l, &s.name, &s.namespace))
            })
            .map(|l| l.id.to_string());
        let set_uids: BTreeSet<&str> = self
            .runner_sets
            .values()
            .filter(|s| s.owner_uids().iter().any(|u| ars_uids.contains(u)))
            .map(Live::uid)
            .collect();
        let mut runners: BTreeMap<String, usize> = BTreeMap::new();
        let mut busy = Vec::new();
        for r in self
            .runners
            .values()
            .filter(|r| r.owner_uids().iter().any(|u| set_uids.contains(u)))
        {
            *runners.entry(arc::runner_phase(r).to_string()).or_default() += 1;
            if arc::runner_is_busy(r) {
                busy.push(r.id.name.clone());
            }
        }
        busy.sort();
        let mut finalizers_left: Vec<String> =
            pending.values().flat_map(Live::finalizers).collect();
        finalizers_left.sort();
        finalizers_left.dedup();
        Event::Progress {
            wave,
            waiting_for: pending.len(),
            listener,
            runner_sets: set_uids.len(),
            runners,
            busy,
            finalizers_left,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::model::test_secret as live;

    fn pending(items: &[Live]) -> HashMap<Key, Live> {
        items.iter().map(|l| (key(&l.id), l.clone())).collect()
    }

    fn tag(group: &str, kind: &str) -> WatchTag {
        WatchTag {
            group: group.into(),
            kind: kind.into(),
            namespace: Some("ns".into()),
        }
    }

    fn widget(group: &str, uid: &str) -> Live {
        Live::new(
            ObjectId {
                group: group.into(),
                version: "v1".into(),
                kind: "Widget".into(),
                namespace: Some("ns".into()),
                name: "w".into(),
            },
            json!({"metadata": {"name": "w", "namespace": "ns", "uid": uid}}),
        )
    }

    #[test]
    fn the_same_kind_and_name_in_two_groups_are_two_objects() {
        let mut p = pending(&[widget("a.example", "1"), widget("b.example", "2")]);
        assert_eq!(p.len(), 2, "both are waited on");
        // A watch of a.example's Widgets says nothing about b.example's.
        let gone = track(
            &mut p,
            &tag("a.example", "Widget"),
            WatchItem::Restart(vec![]),
        );
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].id.group, "a.example");
        assert!(p.contains_key(&key(&widget("b.example", "2").id)));
        let gone = track(
            &mut p,
            &tag("b.example", "Widget"),
            WatchItem::Delete(widget("b.example", "2")),
        );
        assert_eq!(gone.len(), 1);
        assert!(p.is_empty());
        assert_eq!(
            tag("a.example", "Widget").describe("widgets.a.example"),
            "widgets.a.example in namespace ns"
        );
    }

    #[test]
    fn delete_event_with_the_same_uid_is_gone() {
        let mut p = pending(&[live("a", "1"), live("b", "2")]);
        let gone = track(
            &mut p,
            &tag("", "Secret"),
            WatchItem::Delete(live("a", "1")),
        );
        assert_eq!(gone.len(), 1);
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn delete_of_an_older_incarnation_is_ignored_and_a_new_uid_means_gone() {
        let mut p = pending(&[live("a", "1")]);
        assert!(
            track(
                &mut p,
                &tag("", "Secret"),
                WatchItem::Delete(live("a", "0"))
            )
            .is_empty()
        );
        assert_eq!(
            track(&mut p, &tag("", "Secret"), WatchItem::Apply(live("a", "9"))).len(),
            1
        );
        assert!(p.is_empty());
    }

    #[test]
    fn restart_without_the_object_means_gone() {
        let mut p = pending(&[live("a", "1"), live("b", "2")]);
        let gone = track(
            &mut p,
            &tag("", "Secret"),
            WatchItem::Restart(vec![live("b", "2")]),
        );
        assert_eq!(gone[0].id.name, "a");
        assert!(p.contains_key(&key(&live("b", "2").id)));
        // Other groups are untouched by a restart.
        let gone = track(&mut p, &tag("", "Role"), WatchItem::Restart(vec![]));
        assert!(gone.is_empty());
    }
}
