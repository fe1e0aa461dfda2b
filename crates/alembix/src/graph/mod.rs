//! The revision graph: a DAG of revisions (parent edges from `Revises`, extra ordering edges from
//! `Depends On`), validated once at load time. Pure: it holds parsed scripts and answers questions about
//! them; resolving revision expressions and planning upgrades/downgrades live in the submodules.

mod plan;
mod resolve;

use std::collections::HashMap;
use std::fmt;

use crate::script::Script;

pub use plan::{Direction, Plan, Step};
pub use resolve::Target;

/// A revision's index in its graph. Cheap to copy; only meaningful for the graph that produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rev(u32);

impl Rev {
    fn idx(self) -> usize {
        self.0 as usize
    }

    /// Index into the masks returned by [`RevisionGraph::ancestors_mask`] and friends.
    pub fn index(self) -> usize {
        self.idx()
    }
}

/// Why a directory of revisions does not form a valid graph, or why an expression does not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    #[error("revision id {id} is defined twice: {first} and {second}")]
    DuplicateId {
        id: String,
        first: String,
        second: String,
    },
    #[error("{file}: revision {id} revises {missing}, which does not exist (no file has `-- Revision ID: {missing}`)")]
    MissingParent {
        id: String,
        file: String,
        missing: String,
    },
    #[error("{file}: revision {id} depends on {missing}, which does not exist")]
    MissingDependency {
        id: String,
        file: String,
        missing: String,
    },
    #[error("the revision graph has a cycle: {}", path.join(" -> "))]
    Cycle { path: Vec<String> },
    #[error("branch label `{label}` is used by two revisions: {first} and {second}")]
    DuplicateLabel {
        label: String,
        first: String,
        second: String,
    },
    #[error("branch label `{label}` of revision {id} is also a revision id")]
    LabelIsRevision { label: String, id: String },

    #[error("no revision matches `{expr}`{}", hint_suffix(hint))]
    Unknown { expr: String, hint: Option<String> },
    #[error("`{expr}` is ambiguous: it matches {}{}", candidates.join(", "), more_suffix(*more))]
    AmbiguousPrefix {
        expr: String,
        candidates: Vec<String>,
        more: usize,
    },
    #[error("`{expr}` is ambiguous: there are {} heads ({}). Use a specific revision, `LABEL@head`, or `heads` for all of them", heads.len(), heads.join(", "))]
    MultipleHeads { expr: String, heads: Vec<String> },
    #[error("ambiguous walk for `{expr}`: {reason}. {suggestion}")]
    AmbiguousWalk {
        expr: String,
        reason: String,
        suggestion: String,
    },
    #[error("`{expr}`: {reason}")]
    BadExpression { expr: String, reason: String },
    #[error("`{expr}` needs the database's current revision; it cannot be used here")]
    NeedsCurrent { expr: String },
    #[error("{0}")]
    Plan(String),
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!("; {h}")).unwrap_or_default()
}

fn more_suffix(more: usize) -> String {
    if more == 0 {
        String::new()
    } else {
        format!(" and {more} more")
    }
}

/// The validated revision graph.
pub struct RevisionGraph {
    scripts: Vec<Script>,
    by_id: HashMap<String, Rev>,
    /// Ids sorted, for prefix lookup by binary search.
    sorted_ids: Vec<Rev>,
    parents: Vec<Vec<Rev>>,
    dependencies: Vec<Vec<Rev>>,
    children: Vec<Vec<Rev>>,
    dependents: Vec<Vec<Rev>>,
    /// Topological order (parents and dependencies first), branches kept contiguous.
    order: Vec<Rev>,
    position: Vec<u32>,
    heads: Vec<Rev>,
    bases: Vec<Rev>,
    /// Declared branch label -> the revision that declares it.
    labels: HashMap<String, Rev>,
}

impl fmt::Debug for RevisionGraph {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevisionGraph")
            .field("revisions", &self.scripts.len())
            .field("heads", &self.ids(&self.heads))
            .finish()
    }
}

impl RevisionGraph {
    /// Build and validate the graph. Every structural problem is an error naming the files involved.
    pub fn new(scripts: Vec<Script>) -> Result<RevisionGraph, GraphError> {
        let n = scripts.len();
        let file = |i: usize| scripts[i].path.display().to_string();
        let mut by_id: HashMap<String, Rev> = HashMap::with_capacity(n);
        for (i, s) in scripts.iter().enumerate() {
            let rev =
                Rev(u32::try_from(i).map_err(|_| GraphError::Plan("too many revisions".into()))?);
            if let Some(prev) = by_id.insert(s.revision.clone(), rev) {
                return Err(GraphError::DuplicateId {
                    id: s.revision.clone(),
                    first: file(prev.idx()),
                    second: file(i),
                });
            }
        }
        let mut parents = vec![Vec::new(); n];
        let mut dependencies = vec![Vec::new(); n];
        let mut children = vec![Vec::new(); n];
        let mut dependents = vec![Vec::new(); n];
        for (i, s) in scripts.iter().enumerate() {
            for p in &s.down_revisions {
                let Some(&pr) = by_id.get(p) else {
                    return Err(GraphError::MissingParent {
                        id: s.revision.clone(),
                        file: file(i),
                        missing: p.clone(),
                    });
                };
                if !parents[i].contains(&pr) {
                    parents[i].push(pr);
                    children[pr.idx()].push(Rev(i as u32));
                }
            }
        }
        let mut labels: HashMap<String, Rev> = HashMap::new();
        for (i, s) in scripts.iter().enumerate() {
            for label in &s.branch_labels {
                if let Some(prev) = labels.insert(label.clone(), Rev(i as u32)) {
                    return Err(GraphError::DuplicateLabel {
                        label: label.clone(),
                        first: format!("{} ({})", scripts[prev.idx()].revision, file(prev.idx())),
                        second: format!("{} ({})", s.revision, file(i)),
                    });
                }
                if by_id.contains_key(label) {
                    return Err(GraphError::LabelIsRevision {
                        label: label.clone(),
                        id: s.revision.clone(),
                    });
                }
            }
        }
        for (i, s) in scripts.iter().enumerate() {
            for d in &s.depends_on {
                // A dependency may name a revision or a branch label (meaning the revision declaring it).
                let Some(&dr) = by_id.get(d).or_else(|| labels.get(d)) else {
                    return Err(GraphError::MissingDependency {
                        id: s.revision.clone(),
                        file: file(i),
                        missing: d.clone(),
                    });
                };
                if dr.idx() == i {
                    return Err(GraphError::Cycle {
                        path: vec![s.revision.clone(), s.revision.clone()],
                    });
                }
                if !dependencies[i].contains(&dr) && !parents[i].contains(&dr) {
                    dependencies[i].push(dr);
                    dependents[dr.idx()].push(Rev(i as u32));
                }
            }
        }
        // Siblings in a stable, meaningful order: creation date, then id.
        let sort_key = |r: &Rev| {
            let s = &scripts[r.idx()];
            (
                s.create_date.clone().unwrap_or_default(),
                s.revision.clone(),
            )
        };
        for list in children.iter_mut().chain(dependents.iter_mut()) {
            if list.len() > 1 {
                list.sort_by_cached_key(sort_key);
            }
        }
        let heads: Vec<Rev> = (0..n as u32)
            .map(Rev)
            .filter(|r| children[r.idx()].is_empty())
            .collect();
        let mut bases: Vec<Rev> = (0..n as u32)
            .map(Rev)
            .filter(|r| parents[r.idx()].is_empty())
            .collect();
        bases.sort_by_cached_key(sort_key);

        let mut graph = RevisionGraph {
            sorted_ids: Vec::new(),
            scripts,
            by_id,
            parents,
            dependencies,
            children,
            dependents,
            order: Vec::new(),
            position: Vec::new(),
            heads,
            bases,
            labels,
        };
        graph.order = graph.topological_order()?;
        graph.position = vec![0; n];
        for (pos, r) in graph.order.iter().enumerate() {
            graph.position[r.idx()] = pos as u32;
        }
        let mut heads = std::mem::take(&mut graph.heads);
        heads.sort_by_key(|r| graph.position[r.idx()]);
        graph.heads = heads;
        let mut sorted: Vec<Rev> = (0..n as u32).map(Rev).collect();
        sorted.sort_by(|a, b| graph.id(*a).cmp(graph.id(*b)));
        graph.sorted_ids = sorted;
        Ok(graph)
    }

    /// Kahn's algorithm with a stack, so that a branch is finished before the next one starts.
    fn topological_order(&self) -> Result<Vec<Rev>, GraphError> {
        let n = self.scripts.len();
        let mut pending: Vec<usize> = (0..n)
            .map(|i| self.parents[i].len() + self.dependencies[i].len())
            .collect();
        let mut stack: Vec<Rev> = self
            .bases
            .iter()
            .rev()
            .copied()
            .filter(|r| pending[r.idx()] == 0)
            .collect();
        let mut order = Vec::with_capacity(n);
        while let Some(r) = stack.pop() {
            order.push(r);
            // Push in reverse so the first child (by date) is taken next.
            let next = self.children[r.idx()]
                .iter()
                .chain(&self.dependents[r.idx()])
                .rev();
            for &c in next {
                pending[c.idx()] -= 1;
                if pending[c.idx()] == 0 {
                    stack.push(c);
                }
            }
        }
        if order.len() == n {
            return Ok(order);
        }
        Err(GraphError::Cycle {
            path: self.find_cycle(&pending),
        })
    }

    /// A cycle among the revisions Kahn's algorithm could not order, as ids (first = last).
    fn find_cycle(&self, pending: &[usize]) -> Vec<String> {
        // Every unordered revision has an unordered parent or dependency; walking those must revisit one.
        let Some(start) = (0..pending.len()).find(|&i| pending[i] > 0) else {
            return Vec::new();
        };
        let mut seen: HashMap<usize, usize> = HashMap::new();
        let mut path = Vec::new();
        let mut cur = start;
        loop {
            if let Some(&at) = seen.get(&cur) {
                let mut cycle: Vec<String> = path[at..]
                    .iter()
                    .rev()
                    .map(|&i: &usize| self.scripts[i].revision.clone())
                    .collect();
                cycle.push(cycle[0].clone());
                return cycle;
            }
            seen.insert(cur, path.len());
            path.push(cur);
            let Some(next) = self.parents[cur]
                .iter()
                .chain(&self.dependencies[cur])
                .find(|p| pending[p.idx()] > 0)
            else {
                return vec![self.scripts[cur].revision.clone()];
            };
            cur = next.idx();
        }
    }

    pub fn len(&self) -> usize {
        self.scripts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }

    pub fn script(&self, r: Rev) -> &Script {
        &self.scripts[r.idx()]
    }

    pub fn id(&self, r: Rev) -> &str {
        &self.scripts[r.idx()].revision
    }

    pub fn ids(&self, revs: &[Rev]) -> Vec<String> {
        revs.iter().map(|r| self.id(*r).to_string()).collect()
    }

    /// Exact lookup by full id.
    pub fn get(&self, id: &str) -> Option<Rev> {
        self.by_id.get(id).copied()
    }

    pub fn parents(&self, r: Rev) -> &[Rev] {
        &self.parents[r.idx()]
    }

    pub fn dependencies(&self, r: Rev) -> &[Rev] {
        &self.dependencies[r.idx()]
    }

    pub fn children(&self, r: Rev) -> &[Rev] {
        &self.children[r.idx()]
    }

    pub fn dependents(&self, r: Rev) -> &[Rev] {
        &self.dependents[r.idx()]
    }

    /// Revisions nothing revises, in topological order.
    pub fn heads(&self) -> &[Rev] {
        &self.heads
    }

    /// Revisions that revise nothing.
    pub fn bases(&self) -> &[Rev] {
        &self.bases
    }

    pub fn is_head(&self, r: Rev) -> bool {
        self.children[r.idx()].is_empty()
    }

    pub fn is_base(&self, r: Rev) -> bool {
        self.parents[r.idx()].is_empty()
    }

    pub fn is_branch_point(&self, r: Rev) -> bool {
        self.children[r.idx()].len() > 1
    }

    pub fn is_merge_point(&self, r: Rev) -> bool {
        self.parents[r.idx()].len() > 1
    }

    /// All revisions in topological order: every revision after its parents and dependencies.
    pub fn topological(&self) -> &[Rev] {
        &self.order
    }

    /// Position in the topological order.
    pub fn position(&self, r: Rev) -> usize {
        self.position[r.idx()] as usize
    }

    /// Branch points (revisions with more than one child), in topological order.
    pub fn branch_points(&self) -> Vec<Rev> {
        self.order
            .iter()
            .copied()
            .filter(|r| self.is_branch_point(*r))
            .collect()
    }

    /// `revs` and everything they need (parents and dependencies, transitively), as a membership mask.
    pub fn ancestors_mask(&self, revs: &[Rev]) -> Vec<bool> {
        self.closure(revs, |r| {
            self.parents[r.idx()]
                .iter()
                .chain(&self.dependencies[r.idx()])
        })
    }

    /// `revs` and everything that needs them (children and dependents, transitively).
    pub fn descendants_mask(&self, revs: &[Rev]) -> Vec<bool> {
        self.closure(revs, |r| {
            self.children[r.idx()]
                .iter()
                .chain(&self.dependents[r.idx()])
        })
    }

    fn closure<'a, I>(&'a self, start: &[Rev], next: impl Fn(Rev) -> I) -> Vec<bool>
    where
        I: Iterator<Item = &'a Rev>,
    {
        let mut mask = vec![false; self.scripts.len()];
        let mut stack: Vec<Rev> = Vec::new();
        for &r in start {
            if !mask[r.idx()] {
                mask[r.idx()] = true;
                stack.push(r);
            }
        }
        while let Some(r) = stack.pop() {
            for &n in next(r) {
                if !mask[n.idx()] {
                    mask[n.idx()] = true;
                    stack.push(n);
                }
            }
        }
        mask
    }

    /// Revisions carrying branch label `label`: the declaring revision, its descendants along `Revises`,
    /// and its ancestors down to the nearest branch or merge point (Alembic's rule).
    pub fn label_members(&self, label: &str) -> Option<Vec<bool>> {
        let &declared = self.labels.get(label)?;
        let mut mask = self.closure(&[declared], |r| self.children[r.idx()].iter());
        let mut cur = declared;
        while let [p] = self.parents[cur.idx()][..] {
            if self.is_branch_point(p) || self.is_merge_point(p) {
                break;
            }
            mask[p.idx()] = true;
            cur = p;
        }
        Some(mask)
    }

    /// Given applied revisions as a mask (closed under ancestors), the rows of the version table:
    /// applied revisions with no applied child.
    pub fn heads_of_mask(&self, applied: &[bool]) -> Vec<Rev> {
        self.order
            .iter()
            .copied()
            .filter(|r| {
                applied[r.idx()] && !self.children[r.idx()].iter().any(|c| applied[c.idx()])
            })
            .collect()
    }

    /// Sort revisions by topological position.
    pub fn sort_topological(&self, revs: &mut [Rev]) {
        revs.sort_by_key(|r| self.position[r.idx()]);
    }
}

#[cfg(test)]
pub(crate) mod tests;
