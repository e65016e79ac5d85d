//! Kahn layering of the teardown graph, and cycle extraction when it fails.

use super::Edge;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use std::collections::VecDeque;

/// Waves of a graph without cycles.
#[derive(Debug)]
pub(crate) struct Layered {
    /// Per object index: its wave, `None` for non-members.
    pub wave: Vec<Option<usize>>,
    /// Per wave: object indices in document order.
    pub waves: Vec<Vec<usize>>,
}

/// Layer `members` (object indices in document order) by `edges`. On failure,
/// returns one cycle per strongly connected component that is left, each as
/// a list of indices into `edges`.
pub(crate) fn layer(
    object_count: usize,
    members: &[usize],
    edges: &[Edge],
) -> Result<Layered, Vec<Vec<usize>>> {
    let mut graph: DiGraph<usize, usize> = DiGraph::with_capacity(members.len(), edges.len());
    let mut node_of = vec![NodeIndex::end(); object_count];
    for &m in members {
        node_of[m] = graph.add_node(m);
    }
    for (e, edge) in edges.iter().enumerate() {
        graph.add_edge(node_of[edge.before], node_of[edge.after], e);
    }

    let mut in_degree: Vec<usize> = graph
        .node_indices()
        .map(|n| graph.neighbors_directed(n, petgraph::Incoming).count())
        .collect();
    let mut wave = vec![None; object_count];
    let mut waves: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<NodeIndex> = graph
        .node_indices()
        .filter(|n| in_degree[n.index()] == 0)
        .collect();
    let mut placed = 0;
    while !current.is_empty() {
        current.sort_by_key(|&n| graph[n]);
        let mut next = Vec::new();
        for &n in &current {
            wave[graph[n]] = Some(waves.len());
            for m in graph.neighbors_directed(n, petgraph::Outgoing) {
                in_degree[m.index()] -= 1;
                if in_degree[m.index()] == 0 {
                    next.push(m);
                }
            }
        }
        placed += current.len();
        waves.push(current.iter().map(|&n| graph[n]).collect());
        current = next;
    }
    if placed == members.len() {
        return Ok(Layered { wave, waves });
    }

    // What is left holds at least one cycle. Keep only unplaced nodes.
    graph.retain_nodes(|g, n| wave[g[n]].is_none());
    let mut cycles: Vec<Vec<usize>> = tarjan_scc(&graph)
        .into_iter()
        .filter(|scc| scc.len() > 1)
        .filter_map(|scc| cycle_in(&graph, &scc))
        .collect();
    cycles.sort_by_key(|c| c.first().map(|&e| edges[e].before));
    Err(cycles)
}

/// A shortest cycle through the first (lowest document index) node of a
/// strongly connected component, as edge weights (edge indices).
fn cycle_in(graph: &DiGraph<usize, usize>, scc: &[NodeIndex]) -> Option<Vec<usize>> {
    let start = *scc.iter().min_by_key(|&&n| graph[n])?;
    let in_scc = |n: NodeIndex| scc.contains(&n);
    // Breadth-first from start; parent edge per node.
    let mut parent: Vec<Option<petgraph::graph::EdgeIndex>> = vec![None; graph.node_count()];
    let mut queue = VecDeque::from([start]);
    let mut seen = vec![false; graph.node_count()];
    seen[start.index()] = true;
    while let Some(n) = queue.pop_front() {
        let mut outgoing: Vec<_> = graph.edges(n).filter(|e| in_scc(e.target())).collect();
        outgoing.sort_by_key(|e| (graph[e.target()], *e.weight()));
        for e in outgoing {
            let target = e.target();
            if target == start {
                let mut path = vec![*e.weight()];
                let mut at = n;
                while let Some(pe) = parent[at.index()] {
                    path.push(graph[pe]);
                    at = graph.edge_endpoints(pe)?.0;
                }
                path.reverse();
                return Some(path);
            }
            if !seen[target.index()] {
                seen[target.index()] = true;
                parent[target.index()] = Some(e.id());
                queue.push_back(target);
            }
        }
    }
    None
}
