//! Revision expressions (Alembic's syntax): full ids, unique prefixes, branch labels, `head`, `heads`,
//! `base`, `current`, relative `+N` / `-N` / `REV+N` / `REV-N`, and branch forms `X@head`, `X@base`,
//! `X@+N`, `X@-N`, `X@REV`.

use super::{GraphError, Rev, RevisionGraph};

/// What an expression designates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Nothing applied.
    Base,
    /// These revisions (the heads of the desired state).
    Revisions(Vec<Rev>),
    /// A walk down (`-N`, `REV-N`) or `X@base`: the revisions taken away, and where that lands
    /// (the parents left behind; empty means base).
    Below {
        removed: Vec<Rev>,
        landing: Vec<Rev>,
    },
}

impl Target {
    /// The revisions this target stands at (for upgrade, `show`, ranges); empty for base.
    pub fn revisions(&self) -> &[Rev] {
        match self {
            Target::Base => &[],
            Target::Revisions(r) => r,
            Target::Below { landing, .. } => landing,
        }
    }
}

impl RevisionGraph {
    /// Resolve an expression. `current` is the database's applied heads where known; expressions that need
    /// it (`current`, `+1`, `-1`, `X@+1`) fail with [`GraphError::NeedsCurrent`] without it.
    pub fn resolve(&self, expr: &str, current: Option<&[Rev]>) -> Result<Target, GraphError> {
        let expr = expr.trim();
        let bad = |reason: &str| GraphError::BadExpression {
            expr: expr.to_string(),
            reason: reason.to_string(),
        };
        if expr.is_empty() {
            return Err(bad("empty revision"));
        }
        match expr {
            "base" => return Ok(Target::Base),
            "heads" => return Ok(Target::Revisions(self.heads().to_vec())),
            "head" => {
                return self
                    .single_head(expr, self.heads().to_vec())
                    .map(|r| Target::Revisions(vec![r]))
            }
            "current" => {
                let cur = current.ok_or_else(|| GraphError::NeedsCurrent {
                    expr: expr.to_string(),
                })?;
                return Ok(if cur.is_empty() {
                    Target::Base
                } else {
                    Target::Revisions(cur.to_vec())
                });
            }
            _ => {}
        }
        if let Some((branch, rest)) = expr.split_once('@') {
            return self.resolve_branch(expr, branch, rest, current);
        }
        if let Some(pos) = expr.rfind(['+', '-']) {
            let (base, rel) = expr.split_at(pos);
            let n = parse_count(expr, &rel[1..])?;
            let up = rel.starts_with('+');
            let start: Vec<Rev> = if base.is_empty() {
                current
                    .ok_or_else(|| GraphError::NeedsCurrent {
                        expr: expr.to_string(),
                    })?
                    .to_vec()
            } else {
                match self.resolve(base, current)? {
                    Target::Revisions(r) => r,
                    Target::Base => Vec::new(),
                    Target::Below { landing, .. } => landing,
                }
            };
            return if up {
                self.walk_up(expr, &start, n, None)
                    .map(|r| Target::Revisions(r.into_iter().collect()))
            } else {
                self.walk_down(expr, &start, n)
            };
        }
        self.lookup(expr, None).map(|r| Target::Revisions(vec![r]))
    }

    /// Resolve an expression that must name exactly one revision (for `show`, `--head`, `--depends-on`).
    pub fn resolve_one(&self, expr: &str, current: Option<&[Rev]>) -> Result<Rev, GraphError> {
        match self.resolve(expr, current)? {
            Target::Revisions(r) if r.len() == 1 => Ok(r[0]),
            Target::Below { landing, .. } if landing.len() == 1 => Ok(landing[0]),
            // `head` with several heads already failed in `resolve`, with its own guidance; this is an
            // expression that legitimately names several revisions (`heads`, a walk past a merge).
            Target::Revisions(r) | Target::Below { landing: r, .. } if r.len() > 1 => {
                Err(GraphError::BadExpression {
                    expr: expr.to_string(),
                    reason: format!(
                        "names {} revisions ({}); one is needed here",
                        r.len(),
                        self.ids(&r).join(", ")
                    ),
                })
            }
            _ => Err(GraphError::BadExpression {
                expr: expr.to_string(),
                reason: "does not name a single revision".into(),
            }),
        }
    }

    fn single_head(&self, expr: &str, heads: Vec<Rev>) -> Result<Rev, GraphError> {
        match heads[..] {
            [one] => Ok(one),
            [] => Err(GraphError::BadExpression {
                expr: expr.to_string(),
                reason: "there are no revisions yet; create one with `alembix revision -m MESSAGE`"
                    .into(),
            }),
            _ => Err(GraphError::MultipleHeads {
                expr: expr.to_string(),
                heads: self.ids(&heads),
            }),
        }
    }

    /// `X@head`, `X@heads`, `X@base`, `X@+N`, `X@-N`, `X@REV`. X is a branch label or a revision; a revision
    /// stands for itself and its descendants.
    fn resolve_branch(
        &self,
        expr: &str,
        branch: &str,
        rest: &str,
        current: Option<&[Rev]>,
    ) -> Result<Target, GraphError> {
        let members = match self.label_members(branch) {
            Some(m) => m,
            None => {
                let r = self.lookup(branch, None).map_err(|e| match e {
                    GraphError::Unknown { .. } => GraphError::Unknown {
                        expr: expr.to_string(),
                        hint: Some(format!(
                            "`{branch}` is neither a branch label nor a revision"
                        )),
                    },
                    other => other,
                })?;
                let mut m = self.closure(&[r], |x| self.children[x.idx()].iter());
                m[r.idx()] = true;
                m
            }
        };
        let in_branch = |r: &Rev| members[r.idx()];
        match rest {
            "head" => {
                let heads: Vec<Rev> = self.heads().iter().copied().filter(in_branch).collect();
                self.single_head(expr, heads)
                    .map(|r| Target::Revisions(vec![r]))
            }
            "heads" => Ok(Target::Revisions(
                self.heads().iter().copied().filter(in_branch).collect(),
            )),
            "base" => {
                let removed: Vec<Rev> = self
                    .order
                    .iter()
                    .copied()
                    .filter(|r| in_branch(r) && !self.parents(*r).iter().any(in_branch))
                    .collect();
                let mut landing: Vec<Rev> = removed
                    .iter()
                    .flat_map(|r| self.parents(*r).iter().copied())
                    .filter(|p| !in_branch(p))
                    .collect();
                landing.sort_unstable();
                landing.dedup();
                Ok(Target::Below { removed, landing })
            }
            _ if rest.starts_with('+') || rest.starts_with('-') => {
                let n = parse_count(expr, &rest[1..])?;
                let cur = current.ok_or_else(|| GraphError::NeedsCurrent {
                    expr: expr.to_string(),
                })?;
                // The branch's applied head: the deepest applied member.
                let applied = self.ancestors_mask(cur);
                let start: Vec<Rev> = self.heads_of_mask(&mask_and(&applied, &members));
                if rest.starts_with('+') {
                    self.walk_up(expr, &start, n, Some(&members))
                        .map(|r| Target::Revisions(r.into_iter().collect()))
                } else {
                    self.walk_down(expr, &start, n)
                }
            }
            _ => self
                .lookup(rest, Some(&members))
                .map(|r| Target::Revisions(vec![r])),
        }
    }

    /// Walk `n` steps up from `start` (a single revision, or nothing = from base). A branch point on the way
    /// is ambiguous; the error lists what to type instead.
    fn walk_up(
        &self,
        expr: &str,
        start: &[Rev],
        n: usize,
        members: Option<&[bool]>,
    ) -> Result<Option<Rev>, GraphError> {
        let in_branch = |r: &Rev| members.is_none_or(|m| m[r.idx()]);
        let (mut cur, steps) = match start {
            [] if n == 0 => return Ok(None),
            [] => {
                // Nothing applied: the first step lands on the (single) base.
                let roots: Vec<Rev> = self
                    .order
                    .iter()
                    .copied()
                    .filter(|r| in_branch(r) && !self.parents(*r).iter().any(in_branch))
                    .collect();
                match roots[..] {
                    [one] => (one, n - 1),
                    [] => {
                        return Err(GraphError::Plan(format!(
                            "`{expr}`: there is no revision to walk to"
                        )))
                    }
                    _ => {
                        return Err(GraphError::AmbiguousWalk {
                            expr: expr.to_string(),
                            reason: format!(
                                "nothing is applied and there are {} bases",
                                roots.len()
                            ),
                            suggestion: suggest(self, &roots, n - 1, '+'),
                        })
                    }
                }
            }
            [one] => (*one, n),
            _ => {
                return Err(GraphError::AmbiguousWalk {
                    expr: expr.to_string(),
                    reason: format!(
                        "{} heads are applied ({})",
                        start.len(),
                        self.ids(start).join(", ")
                    ),
                    suggestion: suggest(self, start, n, '+'),
                })
            }
        };
        for step in 0..steps {
            let kids: Vec<Rev> = self
                .children(cur)
                .iter()
                .copied()
                .filter(in_branch)
                .collect();
            match kids[..] {
                [k] => cur = k,
                [] => {
                    return Err(GraphError::Plan(format!(
                        "`{expr}`: {} is a head; only {} step(s) of {n} were possible",
                        self.id(cur),
                        n - steps + step
                    )))
                }
                _ => {
                    return Err(GraphError::AmbiguousWalk {
                        expr: expr.to_string(),
                        reason: format!(
                            "revision {} branches into {}",
                            self.id(cur),
                            self.ids(&kids).join(", ")
                        ),
                        suggestion: suggest(self, &kids, steps - step - 1, '+'),
                    })
                }
            }
        }
        Ok(Some(cur))
    }

    /// Walk `n` revisions down from the single revision in `start`, collecting them: a downgrade takes
    /// exactly those away. A merge point before the last step is ambiguous.
    fn walk_down(&self, expr: &str, start: &[Rev], n: usize) -> Result<Target, GraphError> {
        let mut cur = match start {
            [one] => *one,
            [] if n == 0 => return Ok(Target::Base),
            [] => {
                return Err(GraphError::Plan(format!(
                    "`{expr}`: nothing is applied, so there is nothing below to walk to"
                )))
            }
            _ => {
                return Err(GraphError::AmbiguousWalk {
                    expr: expr.to_string(),
                    reason: format!(
                        "{} heads are applied ({})",
                        start.len(),
                        self.ids(start).join(", ")
                    ),
                    suggestion: suggest(self, start, n, '-'),
                })
            }
        };
        if n == 0 {
            return Ok(Target::Revisions(vec![cur]));
        }
        let mut removed = Vec::with_capacity(n.min(self.len()));
        for step in 0..n {
            removed.push(cur);
            let parents = self.parents(cur);
            if step + 1 == n {
                return Ok(Target::Below {
                    removed,
                    landing: parents.to_vec(),
                });
            }
            match parents {
                [p] => cur = *p,
                [] => {
                    return Err(GraphError::Plan(format!(
                        "`{expr}`: only {} revision(s) below and including {}; use `base` to go all the way",
                        step + 1,
                        self.id(start[0])
                    )))
                }
                _ => {
                    return Err(GraphError::AmbiguousWalk {
                        expr: expr.to_string(),
                        reason: format!("revision {} merges {}", self.id(cur), self.ids(parents).join(", ")),
                        suggestion: suggest(self, parents, n - step - 1, '-'),
                    })
                }
            }
        }
        unreachable!("the loop returns on its last step")
    }

    /// Exact id, branch label, or unique prefix (optionally among `members` only).
    pub(crate) fn lookup(&self, text: &str, members: Option<&[bool]>) -> Result<Rev, GraphError> {
        let allowed = |r: &Rev| members.is_none_or(|m| m[r.idx()]);
        if let Some(r) = self.get(text).filter(allowed) {
            return Ok(r);
        }
        if let Some(&r) = self.labels.get(text).filter(|r| allowed(r)) {
            return Ok(r);
        }
        let start = self.sorted_ids.partition_point(|r| self.id(*r) < text);
        let matches: Vec<Rev> = self.sorted_ids[start..]
            .iter()
            .take_while(|r| self.id(**r).starts_with(text))
            .copied()
            .filter(allowed)
            .collect();
        if matches.is_empty() {
            let hint = if text.chars().all(|c| c.is_ascii_digit()) {
                Some(format!("for a relative step write `+{text}` or `-{text}`"))
            } else if let Some(label) = self.labels.keys().find(|l| l.eq_ignore_ascii_case(text)) {
                Some(format!("did you mean branch label `{label}`?"))
            } else if members.is_some() {
                Some("no such revision on that branch".into())
            } else {
                None
            };
            return Err(GraphError::Unknown {
                expr: text.to_string(),
                hint,
            });
        }
        if let [one] = matches[..] {
            return Ok(one);
        }
        const SHOWN: usize = 8;
        Err(GraphError::AmbiguousPrefix {
            expr: text.to_string(),
            candidates: matches
                .iter()
                .take(SHOWN)
                .map(|r| {
                    let s = self.script(*r);
                    if s.message.is_empty() {
                        s.revision.clone()
                    } else {
                        format!("{} ({})", s.revision, s.message)
                    }
                })
                .collect(),
            more: matches.len().saturating_sub(SHOWN),
        })
    }
}

fn parse_count(expr: &str, digits: &str) -> Result<usize, GraphError> {
    digits
        .parse::<usize>()
        .map_err(|_| GraphError::BadExpression {
            expr: expr.to_string(),
            reason: format!(
                "`{digits}` is not a number of steps (expected e.g. `+1`, `-2`, `REV+1`)"
            ),
        })
}

fn mask_and(a: &[bool], b: &[bool]) -> Vec<bool> {
    a.iter().zip(b).map(|(x, y)| *x && *y).collect()
}

/// "use `a1+2` or `b1+2`" for an ambiguous walk.
fn suggest(graph: &RevisionGraph, options: &[Rev], remaining: usize, sign: char) -> String {
    let forms: Vec<String> = options
        .iter()
        .map(|r| {
            let id = graph.id(*r);
            let short = id.char_indices().nth(12).map_or(id, |(i, _)| &id[..i]);
            if remaining == 0 {
                format!("`{short}`")
            } else {
                format!("`{short}{sign}{remaining}`")
            }
        })
        .collect();
    format!("Name the branch instead: {}", forms.join(" or "))
}
