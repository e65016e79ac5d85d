//! Which annotations each object gets: the teardown wave and predecessors,
//! plus the opt-in Argo CD, kapp and kpt (`depends-on`) forms.

use crate::graph::{AFTER_ANNOTATION, Teardown};
use crate::manifest::ObjectId;

/// `teardown.helm-arc-uninstall/wave`: the object's teardown wave (0 first).
pub const WAVE_ANNOTATION: &str = "teardown.helm-arc-uninstall/wave";
/// Argo CD deletes the highest sync wave first.
pub const ARGOCD_SYNC_WAVE: &str = "argocd.argoproj.io/sync-wave";
/// kapp change group.
pub const KAPP_CHANGE_GROUP: &str = "kapp.k14s.io/change-group";
/// kapp change rule.
pub const KAPP_CHANGE_RULE: &str = "kapp.k14s.io/change-rule";
/// kpt / cli-utils dependency list (`A depends-on B`: A is deleted before B).
pub const DEPENDS_ON: &str = "config.kubernetes.io/depends-on";

/// Keys `render` owns and removes when they no longer apply.
pub(crate) const OWN_KEYS: &[&str] = &[WAVE_ANNOTATION, AFTER_ANNOTATION];
/// Every key [`annotations`] may write.
pub(crate) const WRITTEN_KEYS: &[&str] = &[
    WAVE_ANNOTATION,
    AFTER_ANNOTATION,
    ARGOCD_SYNC_WAVE,
    KAPP_CHANGE_GROUP,
    KAPP_CHANGE_RULE,
    DEPENDS_ON,
];

/// The teardown facts stamped on one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Teardown wave (0 = first).
    pub wave: usize,
    /// Value of `teardown.helm-arc-uninstall/after` (its direct
    /// predecessors), `None` when it waits on nothing.
    pub after: Option<String>,
    /// Objects that wait for this one (direct successors), for `depends-on`.
    pub successors: Vec<ObjectId>,
}

/// Which extra annotation forms to write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Extras {
    /// `argocd.argoproj.io/sync-wave` (highest for wave 0).
    pub argocd: bool,
    /// `kapp.k14s.io/change-group` and `change-rule`.
    pub kapp: bool,
    /// `config.kubernetes.io/depends-on`.
    pub depends_on: bool,
}

/// Stamps for every object of a planned teardown (`None` for hooks), by
/// object index; with `successors` only when asked (they are only written by
/// `depends-on`).
pub fn from_teardown(teardown: &Teardown<'_>, with_successors: bool) -> Vec<Option<Stamp>> {
    let objects = teardown.objects();
    let mut successors: Vec<Vec<ObjectId>> = vec![Vec::new(); objects.len()];
    for (i, object) in objects.iter().enumerate().filter(|_| with_successors) {
        for &before in teardown.after(i) {
            successors[before].push(object.id.clone());
        }
    }
    successors
        .into_iter()
        .enumerate()
        .map(|(i, successors)| {
            teardown.wave(i).map(|wave| Stamp {
                wave,
                after: teardown.after_annotation(i),
                successors,
            })
        })
        .collect()
}

/// The annotations (key, value) for one stamp, in output order.
pub fn annotations(stamp: &Stamp, max_wave: usize, extras: Extras) -> Vec<(String, String)> {
    let mut out = vec![(WAVE_ANNOTATION.to_string(), stamp.wave.to_string())];
    if let Some(after) = &stamp.after {
        out.push((AFTER_ANNOTATION.to_string(), after.clone()));
    }
    if extras.argocd {
        out.push((
            ARGOCD_SYNC_WAVE.to_string(),
            (max_wave - stamp.wave.min(max_wave)).to_string(),
        ));
    }
    if extras.kapp {
        out.push((KAPP_CHANGE_GROUP.to_string(), kapp_group(stamp.wave)));
        if stamp.wave < max_wave {
            out.push((
                KAPP_CHANGE_RULE.to_string(),
                format!("delete before deleting {}", kapp_group(stamp.wave + 1)),
            ));
        }
    }
    if extras.depends_on && !stamp.successors.is_empty() {
        let refs: Vec<String> = stamp.successors.iter().map(depends_on_ref).collect();
        out.push((DEPENDS_ON.to_string(), refs.join(",")));
    }
    out
}

fn kapp_group(wave: usize) -> String {
    format!("teardown.helm-arc-uninstall/wave-{wave}")
}

/// cli-utils object reference: `group/namespaces/ns/Kind/name` or `group/Kind/name`.
fn depends_on_ref(id: &ObjectId) -> String {
    match &id.namespace {
        Some(ns) => format!("{}/namespaces/{ns}/{}/{}", id.group, id.kind, id.name),
        None => format!("{}/{}/{}", id.group, id.kind, id.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(group: &str, kind: &str, ns: Option<&str>, name: &str) -> ObjectId {
        ObjectId {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
            namespace: ns.map(str::to_string),
            name: name.into(),
        }
    }

    #[test]
    fn written_keys_cover_every_form() {
        let stamp = Stamp {
            wave: 0,
            after: Some("Secret/s".into()),
            successors: vec![id("", "Secret", Some("ns"), "s")],
        };
        let all = Extras {
            argocd: true,
            kapp: true,
            depends_on: true,
        };
        let keys: Vec<String> = annotations(&stamp, 1, all)
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, WRITTEN_KEYS);
    }

    #[test]
    fn all_forms() {
        let stamp = Stamp {
            wave: 0,
            after: None,
            successors: vec![
                id("", "Secret", Some("ns"), "s"),
                id("rbac.authorization.k8s.io", "ClusterRole", None, "c"),
            ],
        };
        let all = Extras {
            argocd: true,
            kapp: true,
            depends_on: true,
        };
        assert_eq!(
            annotations(&stamp, 2, all),
            [
                (WAVE_ANNOTATION.into(), "0".into()),
                (ARGOCD_SYNC_WAVE.into(), "2".into()),
                (
                    KAPP_CHANGE_GROUP.into(),
                    "teardown.helm-arc-uninstall/wave-0".into()
                ),
                (
                    KAPP_CHANGE_RULE.into(),
                    "delete before deleting teardown.helm-arc-uninstall/wave-1".into()
                ),
                (
                    DEPENDS_ON.into(),
                    "/namespaces/ns/Secret/s,rbac.authorization.k8s.io/ClusterRole/c".into()
                ),
            ]
        );
        let last = Stamp {
            wave: 2,
            after: Some("Role/r".into()),
            successors: vec![],
        };
        assert_eq!(
            annotations(&last, 2, all),
            [
                (WAVE_ANNOTATION.into(), "2".into()),
                (AFTER_ANNOTATION.into(), "Role/r".into()),
                (ARGOCD_SYNC_WAVE.into(), "0".into()),
                (
                    KAPP_CHANGE_GROUP.into(),
                    "teardown.helm-arc-uninstall/wave-2".into()
                ),
            ]
        );
        assert_eq!(annotations(&last, 2, Extras::default()).len(), 2);
    }
}
