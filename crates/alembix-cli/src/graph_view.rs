//! Drawing the revision DAG in the terminal, like `git log --graph`: one lane per line of development,
//! `*` for a revision, `|\` where a merge's parents fan out and `|/` where lines join a branch point.

use alembix::{Rev, RevisionGraph};

/// What to print for one revision: the lanes on its own line, the lanes for any further lines of its
/// text, and the connector rows that follow it.
pub struct Row {
    pub node: String,
    pub continuation: String,
    pub connectors: Vec<String>,
}

/// Lay out `nodes` (newest first: every revision before its parents). Only edges between displayed
/// revisions are drawn.
pub fn layout(graph: &RevisionGraph, nodes: &[Rev]) -> Vec<Row> {
    let mut shown = vec![false; graph.len()];
    for r in nodes {
        shown[r.index()] = true;
    }
    let mut lanes: Vec<Rev> = Vec::new();
    let mut rows = Vec::with_capacity(nodes.len());
    for &n in nodes {
        let col = lanes.iter().position(|&l| l == n).unwrap_or_else(|| {
            lanes.push(n);
            lanes.len() - 1
        });
        let node = lanes
            .iter()
            .enumerate()
            .map(|(i, _)| if i == col { "*" } else { "|" })
            .collect::<Vec<_>>()
            .join(" ");
        let parents: Vec<Rev> = graph
            .parents(n)
            .iter()
            .copied()
            .filter(|p| shown[p.index()])
            .collect();
        let continuation = lanes
            .iter()
            .enumerate()
            .map(|(i, _)| {
                if i != col || !parents.is_empty() {
                    "|"
                } else {
                    " "
                }
            })
            .collect::<Vec<_>>()
            .join(" ");

        let mut next: Vec<Rev> = lanes[..col].to_vec();
        next.extend(parents.iter().copied().filter(|p| !lanes.contains(p)));
        next.extend_from_slice(&lanes[col + 1..]);
        let index_in_next = |r: Rev| next.iter().position(|&x| x == r);
        let mut edges: Vec<(usize, usize)> = Vec::new();
        for (i, &l) in lanes.iter().enumerate() {
            if i != col {
                if let Some(t) = index_in_next(l) {
                    edges.push((i, t));
                }
            }
        }
        for &p in &parents {
            if let Some(t) = index_in_next(p) {
                edges.push((col, t));
            }
        }
        let mut connectors = connector_rows(&mut edges);
        if parents.is_empty() && edges.is_empty() && n != nodes[nodes.len() - 1] {
            // A root with nothing beside it: a blank row, so the next line of history does not look like
            // its parent.
            connectors.push(String::new());
        }
        rows.push(Row {
            node,
            continuation: continuation.trim_end().to_string(),
            connectors,
        });
        lanes = next;
    }
    rows
}

/// Rows of `|`, `/` and `\` that move each edge one column per row until it reaches its lane.
fn connector_rows(edges: &mut [(usize, usize)]) -> Vec<String> {
    let mut out = Vec::new();
    loop {
        if edges.iter().all(|(c, t)| c == t) {
            return out;
        }
        let width = edges
            .iter()
            .map(|(c, t)| c.max(t) * 2 + 2)
            .max()
            .unwrap_or(0);
        let mut row = vec![' '; width];
        for (cur, target) in edges.iter_mut() {
            if cur == target {
                row[*cur * 2] = '|';
            } else if *target > *cur {
                row[*cur * 2 + 1] = '\\';
                *cur += 1;
            } else {
                row[*cur * 2 - 1] = '/';
                *cur -= 1;
            }
        }
        out.push(row.into_iter().collect::<String>().trim_end().to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(spec: &[(&str, &str)]) -> RevisionGraph {
        let scripts = spec
            .iter()
            .enumerate()
            .map(|(i, (id, parents))| {
                alembix::script::parse(
                    std::path::Path::new(&format!("{id}.sql")),
                    format!(
                        "-- {id}\n-- Revision ID: {id}\n-- Revises: {parents}\n-- Create Date: 2026-01-01 00:00:{i:02}\n-- migrate:up\n"
                    ),
                )
                .unwrap()
            })
            .collect();
        RevisionGraph::new(scripts).unwrap()
    }

    fn draw(g: &RevisionGraph) -> String {
        let nodes: Vec<Rev> = g.topological().iter().rev().copied().collect();
        let rows = layout(g, &nodes);
        let mut out = String::new();
        for (r, row) in nodes.iter().zip(rows) {
            out.push_str(&format!("{} {}\n", row.node, g.id(*r)));
            for c in row.connectors {
                out.push_str(&c);
                out.push('\n');
            }
        }
        out
    }

    #[test]
    fn branch_and_merge() {
        let g = graph(&[("r", ""), ("a", "r"), ("b", "r"), ("m", "a,b")]);
        assert_eq!(draw(&g), "* m\n|\\\n| * b\n* | a\n|/\n* r\n");
    }

    #[test]
    fn two_heads() {
        let g = graph(&[("r", ""), ("a", "r"), ("b", "r")]);
        assert_eq!(draw(&g), "* b\n| * a\n|/\n* r\n");
    }

    #[test]
    fn linear_has_no_connectors() {
        let g = graph(&[("r", ""), ("a", "r")]);
        assert_eq!(draw(&g), "* a\n* r\n");
    }
}
