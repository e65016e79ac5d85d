//! The teardown graph: which objects of a release must be gone before which
//! others are deleted, and the waves that follow from it. Pure: no I/O.
//!
//! **Edge convention.** An edge `a -> b` means "`a` must be gone before `b` is
//! deleted". Wave 0 holds the objects nothing waits on being gone first; wave
//! `n + 1` holds objects whose every predecessor is in a wave `<= n` (Kahn
//! layers). Within a wave objects keep document order.
//!
//! Every edge comes from one rule (see [`Rule`]) and carries a reason a person
//! can read. Helm hooks (`helm.sh/hook`) are not part of the teardown: they
//! get no wave and no edges.

mod facts;
mod index;
mod reference;
mod rules;
mod waves;

pub use facts::Facts;
pub use reference::{
    AFTER_ANNOTATION, BEFORE_ANNOTATION, ParsedReference, ReferenceSyntaxError,
    parse_reference_list,
};
pub use rules::Rule;

use crate::manifest::{Object, ObjectId};
use index::Index;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

/// Why an edge exists: the rule and a sentence naming the evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// The rule that produced the edge.
    pub rule: Rule,
    /// What in the manifest made the rule apply. Shared between the edges
    /// with the same text (a fleet of runner sets repeats a handful of
    /// sentences thousands of times).
    #[serde(serialize_with = "serialize_text")]
    pub text: Arc<str>,
}

fn serialize_text<S: serde::Serializer>(text: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(text)
}

/// An ordering edge: `objects[before]` must be gone before `objects[after]`
/// is deleted. Indices point into the slice given to [`plan`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The object that goes first.
    pub before: usize,
    /// The object that waits.
    pub after: usize,
    /// Every rule that orders this pair, in rule order; the first is the
    /// primary reason. Never empty.
    pub reasons: Vec<Reason>,
}

impl Edge {
    /// The primary (first) reason.
    pub fn reason(&self) -> &Reason {
        &self.reasons[0]
    }
}

/// One step of a dependency cycle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CycleStep {
    /// The object that would have to go first.
    pub before: ObjectId,
    /// The object that would wait for it.
    pub after: ObjectId,
    /// The rule behind this step.
    pub rule: Rule,
}

/// A cycle: each step's `after` is the next step's `before`, the last step
/// closes on the first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cycle(pub Vec<CycleStep>);

impl fmt::Display for Cycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            if i == 0 {
                write!(f, "{}", step.before)?;
            }
            write!(f, " -({})-> {}", step.rule, step.after)?;
        }
        Ok(())
    }
}

/// Why a teardown cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    /// The rules order some objects in a circle.
    #[error("dependency cycle: {}", join_cycles(.0))]
    Cycle(Vec<Cycle>),
    /// An explicit-edge annotation is malformed.
    #[error("{object}: annotation {annotation}: {source}")]
    BadReference {
        /// The annotated object (`Kind/namespace/name`).
        object: String,
        /// The annotation key.
        annotation: &'static str,
        /// What is wrong.
        source: ReferenceSyntaxError,
    },
    /// An explicit-edge annotation names an object that is not in the teardown.
    #[error("{object}: annotation {annotation}: `{reference}` {problem}")]
    UnresolvedReference {
        /// The annotated object (`Kind/namespace/name`).
        object: String,
        /// The annotation key.
        annotation: &'static str,
        /// The reference as written.
        reference: String,
        /// Why it does not resolve.
        problem: String,
    },
}

fn join_cycles(cycles: &[Cycle]) -> String {
    cycles
        .iter()
        .map(Cycle::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// A planned teardown over a slice of objects (in document order).
#[derive(Debug)]
pub struct Teardown<'a> {
    objects: Vec<&'a Object>,
    ids: Vec<&'a ObjectId>,
    index: Index<'a>,
    edges: Vec<Edge>,
    incoming: Vec<Vec<usize>>,
    after: Vec<Vec<usize>>,
    wave: Vec<Option<usize>>,
    waves: Vec<Vec<usize>>,
}

/// Whether an object takes part in the teardown (Helm hooks do not).
pub fn is_teardown_member(object: &Object) -> bool {
    object.hook_events().is_empty()
}

/// Build the teardown graph of `objects` (document order, for example
/// `Manifest::objects()`) and its waves. Object `i` below is the `i`-th item.
pub fn plan<'a>(objects: impl IntoIterator<Item = &'a Object>) -> Result<Teardown<'a>, GraphError> {
    plan_with_facts(objects.into_iter().map(|o| (o, Facts::of(&o.value))))
}

/// As [`plan`], with each object's facts already extracted (by
/// [`Facts::of`], for example while decoding): the objects' values are not
/// read, so they may have been dropped.
pub fn plan_with_facts<'a>(
    objects: impl IntoIterator<Item = (&'a Object, Facts)>,
) -> Result<Teardown<'a>, GraphError> {
    let (objects, facts): (Vec<&'a Object>, Vec<Facts>) = objects.into_iter().unzip();
    let ids: Vec<&'a ObjectId> = objects.iter().map(|o| &o.id).collect();
    let index = Index::new(&ids, facts);
    let mut sink = EdgeSink::default();
    rules::apply_all(&ids, &index, &mut sink)?;
    let edges = sink.edges;
    let layered = waves::layer(objects.len(), &index.members, &edges).map_err(|cycles| {
        GraphError::Cycle(
            cycles
                .into_iter()
                .map(|steps| {
                    Cycle(
                        steps
                            .into_iter()
                            .map(|e| CycleStep {
                                before: objects[edges[e].before].id.clone(),
                                after: objects[edges[e].after].id.clone(),
                                rule: edges[e].reason().rule,
                            })
                            .collect(),
                    )
                })
                .collect(),
        )
    })?;
    let mut incoming = vec![Vec::new(); objects.len()];
    for (e, edge) in edges.iter().enumerate() {
        incoming[edge.after].push(e);
    }
    for list in &mut incoming {
        list.sort_by_key(|&e| (layered.wave[edges[e].before], edges[e].before));
    }
    let after = incoming
        .iter()
        .map(|list| list.iter().map(|&e| edges[e].before).collect())
        .collect();
    Ok(Teardown {
        objects,
        ids,
        index,
        edges,
        incoming,
        after,
        wave: layered.wave,
        waves: layered.waves,
    })
}

impl<'a> Teardown<'a> {
    /// The objects this teardown was planned over.
    pub fn objects(&self) -> &[&'a Object] {
        &self.objects
    }

    /// Whether `objects[i]` takes part in the teardown (is not a Helm hook).
    pub fn is_member(&self, i: usize) -> bool {
        self.index.facts.get(i).is_some_and(|f| !f.hook)
    }

    /// Indices of the objects that take part (not hooks), in document order.
    pub fn members(&self) -> &[usize] {
        &self.index.members
    }

    /// Waves: `waves()[n]` lists the objects of wave `n` in document order.
    pub fn waves(&self) -> &[Vec<usize>] {
        &self.waves
    }

    /// The wave of `objects[i]`; `None` for hooks.
    pub fn wave(&self, i: usize) -> Option<usize> {
        self.wave.get(i).copied().flatten()
    }

    /// The objects that must be gone before `objects[i]` is deleted (direct
    /// predecessors), ordered by wave then document order.
    pub fn after(&self, i: usize) -> &[usize] {
        self.after.get(i).map(Vec::as_slice).unwrap_or_default()
    }

    /// The edges into `objects[i]` (what it waits for), in the order of [`Teardown::after`].
    pub fn incoming(&self, i: usize) -> impl Iterator<Item = &Edge> {
        self.incoming
            .get(i)
            .into_iter()
            .flatten()
            .map(|&e| &self.edges[e])
    }

    /// Every edge, one per ordered pair, in the order the rules found them.
    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// How `objects[target]` is written in an explicit-edge annotation on
    /// `objects[from]`: the shortest form that resolves back to exactly it.
    pub fn reference(&self, target: usize, from: usize) -> String {
        reference::format(&self.ids, &self.index, target, from)
    }

    /// The value for a `teardown.helm-arc-uninstall/after` annotation on
    /// `objects[i]` (its direct predecessors), or `None` when it waits on nothing.
    /// Planning a stream that carries these values yields the same plan.
    pub fn after_annotation(&self, i: usize) -> Option<String> {
        let refs: Vec<String> = self
            .after(i)
            .iter()
            .map(|&b| self.reference(b, i))
            .collect();
        (!refs.is_empty()).then(|| refs.join(", "))
    }
}

/// Collects edges, one per ordered pair.
#[derive(Debug, Default)]
pub(crate) struct EdgeSink {
    edges: Vec<Edge>,
    pairs: HashMap<(usize, usize), usize>,
    texts: HashSet<Arc<str>>,
}

impl EdgeSink {
    /// Record that `before` must be gone before `after` is deleted. Self-edges
    /// are ignored; a further rule on a known pair adds its reason.
    pub(crate) fn add(&mut self, before: usize, after: usize, rule: Rule, text: impl Into<String>) {
        if before == after {
            return;
        }
        let text: String = text.into();
        let text = match self.texts.get(text.as_str()) {
            Some(shared) => Arc::clone(shared),
            None => {
                let shared: Arc<str> = Arc::from(text);
                self.texts.insert(Arc::clone(&shared));
                shared
            }
        };
        let reason = Reason { rule, text };
        match self.pairs.get(&(before, after)) {
            Some(&e) => {
                let reasons = &mut self.edges[e].reasons;
                if !reasons.iter().any(|r| r.rule == rule) {
                    reasons.push(reason);
                }
            }
            None => {
                self.pairs.insert((before, after), self.edges.len());
                self.edges.push(Edge {
                    before,
                    after,
                    reasons: vec![reason],
                });
            }
        }
    }

    /// The edges found so far.
    pub(crate) fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// Whether the pair is already ordered.
    pub(crate) fn has(&self, before: usize, after: usize) -> bool {
        self.pairs.contains_key(&(before, after))
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use crate::manifest::Object;
    use serde_json::Value;

    /// Objects from JSON values, document order, default namespace `default`.
    pub fn objects(values: Vec<Value>) -> Vec<Object> {
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| Object::from_value(v, i, "default").unwrap())
            .collect()
    }

    /// `(before, after, rule)` triples of a plan, as display strings.
    pub fn edge_list(objects: &[Object]) -> Vec<(String, String, String)> {
        let plan = super::plan(objects).unwrap();
        plan.edges()
            .iter()
            .map(|e| {
                (
                    objects[e.before].id.to_string(),
                    objects[e.after].id.to_string(),
                    e.reason().rule.to_string(),
                )
            })
            .collect()
    }
}
