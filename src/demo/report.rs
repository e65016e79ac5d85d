//! What the demo shows after a run: a before/after snapshot of the cluster
//! and the fake GitHub service, and the event-log proof of the order.
//! Pure functions over snapshots and log entries.

use super::{NAMESPACE, RELEASE, World};
use kube_sim::LogEntry;
use serde_json::Value;
use std::fmt::Write;

/// The kinds the snapshot counts, in the runner namespace (and, for the
/// listener and its pod, anywhere).
const KINDS: &[(&str, &str)] = &[
    ("actions.github.com/v1alpha1", "AutoscalingRunnerSet"),
    ("actions.github.com/v1alpha1", "AutoscalingListener"),
    ("actions.github.com/v1alpha1", "EphemeralRunnerSet"),
    ("actions.github.com/v1alpha1", "EphemeralRunner"),
    ("v1", "Pod"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "Role"),
    ("v1", "Secret"),
    ("v1", "ServiceAccount"),
];

/// Kinds of the runner-set release's own objects (its dependents and the ARS).
const DEPENDENT_KINDS: &[&str] = &["RoleBinding", "Role", "Secret", "ServiceAccount"];

/// Counts of one kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KindCount {
    /// The kind.
    pub kind: &'static str,
    /// Objects present.
    pub objects: usize,
    /// Of those, Terminating.
    pub terminating: usize,
    /// Finalizers on them, in total.
    pub finalizers: usize,
}

/// The cluster and GitHub at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// Per kind.
    pub kinds: Vec<KindCount>,
    /// Scale sets registered on the fake GitHub.
    pub scale_sets: Vec<String>,
    /// Runners registered on the fake GitHub.
    pub runners: usize,
}

impl Census {
    /// Take a snapshot of `world`.
    pub fn take(world: &World) -> Census {
        let kinds = KINDS
            .iter()
            .map(|(api_version, kind)| {
                let ns = match *kind {
                    "AutoscalingListener" => None,
                    _ => Some(NAMESPACE),
                };
                let mut items = world.list(api_version, kind, ns);
                if *kind == "Pod" {
                    // Runner pods, and the listener pod in the controller namespace.
                    items.extend(
                        world
                            .list(api_version, kind, Some(super::CONTROLLER_NAMESPACE))
                            .into_iter()
                            .filter(|p| name_of(p).contains("-listener")),
                    );
                }
                count(kind, &items)
            })
            .collect();
        let github = world.github();
        Census {
            kinds,
            scale_sets: github
                .scale_sets()
                .iter()
                .map(|s| format!("{} (id {})", s.name, s.id))
                .collect(),
            runners: github.runners().len(),
        }
    }

    /// Objects present, all kinds.
    pub fn objects(&self) -> usize {
        self.kinds.iter().map(|k| k.objects).sum()
    }
}

fn name_of(o: &Value) -> &str {
    o.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
}

fn count(kind: &'static str, items: &[Value]) -> KindCount {
    KindCount {
        kind,
        objects: items.len(),
        terminating: items
            .iter()
            .filter(|o| o.pointer("/metadata/deletionTimestamp").is_some())
            .count(),
        finalizers: items
            .iter()
            .filter_map(|o| o.pointer("/metadata/finalizers").and_then(Value::as_array))
            .map(Vec::len)
            .sum(),
    }
}

/// The before/after table.
pub fn before_after(before: &Census, after: &Census) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:>18}   {:>18}",
        format!("in {NAMESPACE}"),
        "before",
        "after"
    );
    let cell = |k: Option<&KindCount>| match k {
        None => "0".to_string(),
        Some(k) if k.objects == 0 => "0".to_string(),
        Some(k) => {
            let mut s = format!("{}", k.objects);
            if k.terminating > 0 {
                s.push_str(&format!(" ({} Terminating)", k.terminating));
            }
            if k.finalizers > 0 {
                s.push_str(&format!(" [{} fin]", k.finalizers));
            }
            s
        }
    };
    for b in &before.kinds {
        let a = after.kinds.iter().find(|k| k.kind == b.kind);
        let _ = writeln!(
            out,
            "  {:<22} {:>18}   {:>18}",
            b.kind,
            cell(Some(b)),
            cell(a)
        );
    }
    let _ = writeln!(out, "fake GitHub");
    let list = |s: &[String]| {
        if s.is_empty() {
            "none".to_string()
        } else {
            s.join(", ")
        }
    };
    let _ = writeln!(
        out,
        "  {:<22} {:>18}   {:>18}",
        "scale sets",
        list(&before.scale_sets),
        list(&after.scale_sets)
    );
    let _ = writeln!(
        out,
        "  {:<22} {:>18}   {:>18}",
        "runners", before.runners, after.runners
    );
    out
}

/// The order the event log proves.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderProof {
    /// Log entries about the release's own objects (writes), in order.
    pub entries: Vec<LogEntry>,
    /// `seq` of the entry where the ARS disappeared (its last finalizer
    /// removed, or a DELETE without finalizers).
    pub ars_gone: Option<u64>,
    /// `seq` of the first DELETE of a dependent (RBAC, Secret, ServiceAccount).
    pub first_dependent_delete: Option<u64>,
}

impl OrderProof {
    /// Whether the ARS was gone before any dependent was deleted.
    pub fn holds(&self) -> bool {
        match (self.ars_gone, self.first_dependent_delete) {
            (Some(gone), Some(dep)) => gone < dep,
            _ => false,
        }
    }
}

fn is_write(e: &LogEntry) -> bool {
    matches!(e.verb.as_str(), "delete" | "patch" | "update" | "apply")
}

fn is_release_object(e: &LogEntry) -> bool {
    e.namespace.as_deref() == Some(NAMESPACE)
        && ((e.kind == "AutoscalingRunnerSet" && e.name == RELEASE)
            || (DEPENDENT_KINDS.contains(&e.kind.as_str())
                && e.name.starts_with(&format!("{RELEASE}-gha-rs-"))))
}

/// Read the proof out of the simulator's log, from entry `from` on.
/// `ars_present`: whether the ARS still exists now (then it was never gone);
/// otherwise it disappeared with its last successful write (the patch that
/// removed its last finalizer, or a DELETE without finalizers).
pub fn order_proof(log: &[LogEntry], from: usize, ars_present: bool) -> OrderProof {
    let entries: Vec<LogEntry> = log
        .iter()
        .skip(from)
        .filter(|e| is_release_object(e) && is_write(e) && e.code < 300)
        .cloned()
        .collect();
    let ars_gone = if ars_present {
        None
    } else {
        entries
            .iter()
            .rfind(|e| e.kind == "AutoscalingRunnerSet")
            .map(|e| e.seq)
    };
    let first_dependent_delete = entries
        .iter()
        .find(|e| e.verb == "delete" && DEPENDENT_KINDS.contains(&e.kind.as_str()))
        .map(|e| e.seq);
    OrderProof {
        entries,
        ars_gone,
        first_dependent_delete,
    }
}

/// The proof as text: the log lines, then the verdict.
pub fn proof_text(proof: &OrderProof) -> String {
    let mut out = String::new();
    for e in &proof.entries {
        let time = e.time.split('T').nth(1).unwrap_or(&e.time);
        let mark = if Some(e.seq) == proof.ars_gone {
            "   <- AutoscalingRunnerSet gone"
        } else if Some(e.seq) == proof.first_dependent_delete {
            "   <- first dependent DELETE"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  #{:<5} {} {:<34} {:<6} {}/{}: {}{mark}",
            e.seq,
            time.trim_end_matches('Z'),
            e.actor.trim_start_matches("system:serviceaccount:"),
            e.verb,
            e.kind,
            e.name,
            e.result
        );
    }
    let verdict = match (proof.ars_gone, proof.first_dependent_delete) {
        (Some(g), Some(d)) if g < d => format!(
            "proof: the AutoscalingRunnerSet was gone at #{g}, before the first DELETE of a dependent at #{d}"
        ),
        (Some(g), Some(d)) => format!(
            "out of order: a dependent was deleted at #{d}, before the AutoscalingRunnerSet was gone at #{g}"
        ),
        (None, Some(d)) => format!(
            "the AutoscalingRunnerSet is still there; its dependents were deleted from #{d} on"
        ),
        (Some(g), None) => {
            format!("the AutoscalingRunnerSet was gone at #{g}; no dependent deleted")
        }
        (None, None) => "nothing was deleted".to_string(),
    };
    let _ = writeln!(out, "{verdict}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, verb: &str, kind: &str, name: &str, result: &str) -> LogEntry {
        LogEntry {
            seq,
            rv: seq,
            time: "2026-01-01T00:00:00.000Z".into(),
            actor: "x".into(),
            verb: verb.into(),
            group: String::new(),
            version: "v1".into(),
            kind: kind.into(),
            namespace: Some(NAMESPACE.into()),
            name: name.into(),
            code: 200,
            result: result.into(),
        }
    }

    #[test]
    fn proof_needs_the_ars_gone_before_the_first_dependent_delete() {
        let secret = format!("{RELEASE}-gha-rs-github-secret");
        let good = vec![
            entry(1, "delete", "AutoscalingRunnerSet", RELEASE, "terminating"),
            entry(2, "patch", "AutoscalingRunnerSet", RELEASE, "patched"),
            entry(3, "delete", "Secret", &secret, "terminating"),
        ];
        let proof = order_proof(&good, 0, false);
        assert_eq!(
            (proof.ars_gone, proof.first_dependent_delete),
            (Some(2), Some(3))
        );
        assert!(proof.holds());
        assert!(proof_text(&proof).contains("proof: the AutoscalingRunnerSet was gone at #2"));

        let bad = vec![
            entry(1, "delete", "Secret", &secret, "terminating"),
            entry(2, "delete", "AutoscalingRunnerSet", RELEASE, "terminating"),
        ];
        let proof = order_proof(&bad, 0, false);
        assert!(!proof.holds());
        // An ARS still present was never gone.
        assert_eq!(order_proof(&good, 0, true).ars_gone, None);
        // Objects of other releases and reads are not part of the proof.
        let other = vec![entry(1, "delete", "Secret", "other", "deleted")];
        assert!(order_proof(&other, 0, false).entries.is_empty());
    }
}
