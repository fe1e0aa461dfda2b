//! The planner: from the applied heads (the version table) and a target, the ordered steps to run and how
//! the version table changes after each. The executor runs exactly this list.
//!
//! Model: the applied revisions form a set closed under parents and dependencies; the version table holds
//! its heads (applied revisions with no applied child), as Alembic does. Upgrading to T applies
//! `ancestors(T) - applied` in topological order; downgrading to T takes away the applied descendants of T
//! that T does not itself need, in reverse order.

use super::{GraphError, Rev, RevisionGraph, Target};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
}

/// One revision applied or reverted, and the version-table rows that change with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub revision: Rev,
    pub direction: Direction,
    /// Version-table rows to delete, then rows to insert, in the same transaction as the step.
    pub delete: Vec<Rev>,
    pub insert: Vec<Rev>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub direction: Direction,
    pub steps: Vec<Step>,
    /// Version-table rows before and after the whole plan (normalised heads).
    pub heads_before: Vec<Rev>,
    pub heads_after: Vec<Rev>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

impl RevisionGraph {
    /// Steps to reach `target` going up from the applied heads `current`.
    pub fn plan_upgrade(&self, current: &[Rev], target: &Target) -> Result<Plan, GraphError> {
        let mut applied = self.ancestors_mask(current);
        let heads_before = self.heads_of_mask(&applied);
        let want = self.ancestors_mask(target.revisions());
        let mut in_table = vec![false; self.len()];
        for r in &heads_before {
            in_table[r.idx()] = true;
        }
        let mut steps = Vec::new();
        for &r in &self.order {
            if !want[r.idx()] || applied[r.idx()] {
                continue;
            }
            let delete: Vec<Rev> = self
                .parents(r)
                .iter()
                .copied()
                .filter(|p| in_table[p.idx()])
                .collect();
            for p in &delete {
                in_table[p.idx()] = false;
            }
            in_table[r.idx()] = true;
            applied[r.idx()] = true;
            steps.push(Step {
                revision: r,
                direction: Direction::Up,
                delete,
                insert: vec![r],
            });
        }
        Ok(Plan {
            direction: Direction::Up,
            steps,
            heads_after: self.heads_of_mask(&applied),
            heads_before,
        })
    }

    /// Steps to reach `target` going down from the applied heads `current`.
    pub fn plan_downgrade(&self, current: &[Rev], target: &Target) -> Result<Plan, GraphError> {
        let mut applied = self.ancestors_mask(current);
        let heads_before = self.heads_of_mask(&applied);
        let not_applied = |revs: &[Rev]| -> Result<(), GraphError> {
            let missing: Vec<Rev> = revs.iter().copied().filter(|r| !applied[r.idx()]).collect();
            if missing.is_empty() {
                return Ok(());
            }
            let current = if heads_before.is_empty() {
                "nothing is applied".to_string()
            } else {
                format!("current: {}", self.ids(&heads_before).join(", "))
            };
            Err(GraphError::Plan(format!(
                "cannot downgrade to {}: not applied ({current}); to move forward use `upgrade`",
                self.ids(&missing).join(", ")
            )))
        };
        let remove: Vec<bool> = match target {
            Target::Base => applied.clone(),
            Target::Revisions(keep) => {
                not_applied(keep)?;
                let needed = self.ancestors_mask(keep);
                let above = self.descendants_mask(keep);
                (0..self.len())
                    .map(|i| applied[i] && above[i] && !needed[i])
                    .collect()
            }
            Target::Below { removed, .. } => {
                let applied_removed: Vec<Rev> = removed
                    .iter()
                    .copied()
                    .filter(|r| applied[r.idx()])
                    .collect();
                if applied_removed.is_empty() && !removed.is_empty() {
                    not_applied(removed)?;
                }
                let above = self.descendants_mask(&applied_removed);
                (0..self.len()).map(|i| applied[i] && above[i]).collect()
            }
        };
        let mut in_table = vec![false; self.len()];
        for r in &heads_before {
            in_table[r.idx()] = true;
        }
        let mut steps = Vec::new();
        for &r in self.order.iter().rev() {
            if !remove[r.idx()] {
                continue;
            }
            applied[r.idx()] = false;
            in_table[r.idx()] = false;
            let insert: Vec<Rev> = self
                .parents(r)
                .iter()
                .copied()
                .filter(|p| {
                    applied[p.idx()]
                        && !in_table[p.idx()]
                        && !self.children(*p).iter().any(|c| applied[c.idx()])
                })
                .collect();
            for p in &insert {
                in_table[p.idx()] = true;
            }
            steps.push(Step {
                revision: r,
                direction: Direction::Down,
                delete: vec![r],
                insert,
            });
        }
        Ok(Plan {
            direction: Direction::Down,
            steps,
            heads_after: self.heads_of_mask(&applied),
            heads_before,
        })
    }

    /// For `stamp`: up when the target is not (all) applied yet, down otherwise. No SQL runs for a stamp;
    /// the plan says which version-table rows change.
    pub fn plan_stamp(&self, current: &[Rev], target: &Target) -> Result<Plan, GraphError> {
        let applied = self.ancestors_mask(current);
        let all_applied = match target {
            Target::Base => true,
            Target::Revisions(r) => r.iter().all(|r| applied[r.idx()]),
            Target::Below { removed, .. } => removed.iter().any(|r| applied[r.idx()]),
        };
        if all_applied {
            self.plan_downgrade(current, target)
        } else {
            self.plan_upgrade(current, target)
        }
    }
}
