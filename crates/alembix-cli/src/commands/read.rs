//! The read-only graph commands: `heads`, `branches`, `history`, `show`. No database involved.

use std::process::ExitCode;

use alembix::{GraphError, Rev, RevisionGraph, Target};

use super::{CliError, CliResult};
use crate::cli::{EditArgs, HeadsArgs, HistoryArgs, ListArgs, ShowArgs};
use crate::graph_view;
use crate::output::{paint, tagged_id, verbose_lines, Printer, RevisionJson, DIM, ID};

pub fn heads(printer: &mut Printer, graph: &RevisionGraph, args: &HeadsArgs) -> CliResult {
    let mut heads = graph.heads().to_vec();
    if args.resolve_dependencies {
        // A head that another revision depends on is, with dependencies as edges, not a head.
        let mut needed = vec![false; graph.len()];
        for &r in graph.topological() {
            for d in graph.dependencies(r) {
                needed[d.index()] = true;
            }
        }
        heads.retain(|r| !needed[r.index()]);
    }
    list(printer, graph, &heads, &args.list, |p, r| {
        p.line(tagged_id(graph, r))
    })
}

/// Open a revision's file in `$VISUAL` / `$EDITOR` (default `vi`), as Alembic's `edit` does.
pub fn edit(graph: &RevisionGraph, args: &EditArgs) -> CliResult {
    let r = graph.resolve_one(&args.revision, None)?;
    let path = &graph.script(r).path;
    let editor = std::env::var("VISUAL")
        .ok()
        .filter(|e| !e.trim().is_empty())
        .or_else(|| {
            std::env::var("EDITOR")
                .ok()
                .filter(|e| !e.trim().is_empty())
        })
        .unwrap_or_else(|| "vi".to_string());
    let words = shlex::split(&editor)
        .filter(|w| !w.is_empty())
        .ok_or_else(|| {
            alembix::Error::Usage(format!("$EDITOR `{editor}` cannot be split into words"))
        })?;
    let status = std::process::Command::new(&words[0])
        .args(&words[1..])
        .arg(path)
        .status()
        .map_err(|e| alembix::Error::Usage(format!("cannot start the editor `{editor}`: {e}")))?;
    if !status.success() {
        return Err(
            alembix::Error::Usage(format!("the editor `{editor}` exited with {status}")).into(),
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn branches(printer: &mut Printer, graph: &RevisionGraph, args: &ListArgs) -> CliResult {
    let points = graph.branch_points();
    list(printer, graph, &points, args, |p, r| {
        p.line(tagged_id(graph, r))?;
        for &c in graph.children(r) {
            p.line(format!(
                "    -> {}, {}",
                tagged_id(graph, c),
                graph.script(c).message
            ))?;
        }
        Ok(())
    })
}

/// Shared shape of `heads` and `branches`: JSON array, verbose blocks, or one line each.
fn list(
    printer: &mut Printer,
    graph: &RevisionGraph,
    revs: &[Rev],
    args: &ListArgs,
    short: impl Fn(&mut Printer, Rev) -> std::io::Result<()>,
) -> CliResult {
    if args.json {
        let items: Vec<RevisionJson> = revs.iter().map(|r| RevisionJson::new(graph, *r)).collect();
        printer.json(&items)?;
    } else {
        for &r in revs {
            if args.verbose {
                for line in verbose_lines(graph, r) {
                    printer.line(line)?;
                }
            } else {
                short(printer, r)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks the database for its current heads, for expressions such as `current` or `-1`.
pub type CurrentFetch<'a> = &'a mut dyn FnMut() -> Result<Vec<Rev>, CliError>;

pub fn history(
    printer: &mut Printer,
    graph: &RevisionGraph,
    args: &HistoryArgs,
    fetch_current: CurrentFetch<'_>,
) -> CliResult {
    let mut current: Option<Vec<Rev>> = None;
    let in_range = match range_mask(graph, args.range.as_deref(), None) {
        Err(GraphError::NeedsCurrent { .. }) => {
            let at = current.insert(fetch_current()?);
            range_mask(graph, args.range.as_deref(), Some(at))?
        }
        other => other?,
    };
    if args.indicate_current && current.is_none() {
        current = Some(fetch_current()?);
    }
    let marks: Vec<Rev> = if args.indicate_current {
        current.unwrap_or_default()
    } else {
        Vec::new()
    };
    let tag = |r: Rev| {
        let mut t = tagged_id(graph, r);
        if marks.contains(&r) {
            t.push_str(" (current)");
        }
        t
    };
    let nodes: Vec<Rev> = graph
        .topological()
        .iter()
        .rev()
        .copied()
        .filter(|r| in_range.as_ref().is_none_or(|m| m[r.index()]))
        .collect();
    if args.json {
        let items: Vec<RevisionJson> = nodes.iter().map(|r| RevisionJson::new(graph, *r)).collect();
        printer.json(&items)?;
        return Ok(ExitCode::SUCCESS);
    }
    let branched = graph.bases().len() > 1
        || nodes
            .iter()
            .any(|r| graph.is_merge_point(*r) || graph.is_branch_point(*r));
    let draw = args.graph || (branched && !args.no_graph);
    if !draw {
        for &r in &nodes {
            if args.verbose {
                for line in verbose_lines(graph, r) {
                    printer.line(line)?;
                }
            } else {
                printer.line(linear_line(graph, r, &tag(r)))?;
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let rows = graph_view::layout(graph, &nodes);
    for (&r, row) in nodes.iter().zip(rows) {
        let s = graph.script(r);
        let mut deps = String::new();
        if !graph.dependencies(r).is_empty() {
            deps = paint(
                DIM,
                format!(
                    " (depends on {})",
                    graph.ids(graph.dependencies(r)).join(", ")
                ),
            );
        }
        printer.line(format!("{} {}{deps}, {}", row.node, tag(r), s.message))?;
        if args.verbose {
            for line in verbose_lines(graph, r).into_iter().skip(1) {
                printer.line(format!("{}  {line}", row.continuation).trim_end())?;
            }
        }
        for c in row.connectors {
            printer.line(c)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Alembic's one-line form: `parent -> rev (head), message`.
fn linear_line(graph: &RevisionGraph, r: Rev, tagged: &str) -> String {
    let parents = graph.parents(r);
    let from = match parents.len() {
        0 => "<base>".to_string(),
        1 => graph.id(parents[0]).to_string(),
        _ => format!("({})", graph.ids(parents).join(", ")),
    };
    format!(
        "{} -> {tagged}, {}",
        paint(ID, from),
        graph.script(r).message
    )
}

/// `A:B` → revisions that descend from A (inclusive) and that B needs (inclusive).
fn range_mask(
    graph: &RevisionGraph,
    range: Option<&str>,
    current: Option<&[Rev]>,
) -> Result<Option<Vec<bool>>, GraphError> {
    let Some(range) = range else { return Ok(None) };
    let Some((lower, upper)) = range.split_once(':') else {
        return Err(GraphError::BadExpression {
            expr: range.to_string(),
            reason: "a history range is `A:B`, `A:` or `:B`".into(),
        });
    };
    let mut mask = vec![true; graph.len()];
    let lower = lower.trim();
    if !lower.is_empty() && lower != "base" {
        let from = match graph.resolve(lower, current)? {
            Target::Below { landing, .. } => landing,
            t => t.revisions().to_vec(),
        };
        if !from.is_empty() {
            let desc = graph.descendants_mask(&from);
            mask.iter_mut().zip(desc).for_each(|(m, d)| *m &= d);
        }
    }
    let upper = upper.trim();
    if !upper.is_empty() && upper != "heads" {
        let to = graph.resolve(upper, current)?;
        let anc = graph.ancestors_mask(to.revisions());
        mask.iter_mut().zip(anc).for_each(|(m, a)| *m &= a);
    }
    Ok(Some(mask))
}

pub fn show(
    printer: &mut Printer,
    graph: &RevisionGraph,
    args: &ShowArgs,
    fetch_current: CurrentFetch<'_>,
) -> CliResult {
    let r = match graph.resolve_one(&args.revision, None) {
        Err(GraphError::NeedsCurrent { .. }) => {
            let current = fetch_current()?;
            graph.resolve_one(&args.revision, Some(&current))?
        }
        other => other?,
    };
    let s = graph.script(r);
    // The graph may hold only the headers (from the header index): read this one file.
    s.load_body()?;
    if args.json {
        let mut info = RevisionJson::new(graph, r);
        info.checksum = Some(s.checksum());
        let mut value = serde_json::to_value(info).map_err(std::io::Error::other)?;
        value["up"] = s.up_sql().into();
        value["down"] = s.down_sql().into();
        let per_dialect: serde_json::Map<String, serde_json::Value> = s
            .dialects()
            .into_iter()
            .map(|d| {
                let up = s.up_for(d).map(|(sql, _)| sql);
                let down = s.down_for(d).map(|(sql, _)| sql);
                (
                    d.name().to_string(),
                    serde_json::json!({"up": up, "down": down}),
                )
            })
            .collect();
        if !per_dialect.is_empty() {
            value["dialects"] = per_dialect.into();
        }
        if let Some(why) = &s.review {
            value["review"] = why.clone().into();
        }
        printer.json(&value)?;
        return Ok(ExitCode::SUCCESS);
    }
    for line in verbose_lines(graph, r) {
        printer.line(line)?;
    }
    printer.line(format!("Checksum: {}", s.checksum()))?;
    if let Some(why) = &s.review {
        printer.line(format!("Review: {why}"))?;
    }
    for (body, sql) in s.bodies() {
        let kind = if body.up { "up" } else { "down" };
        let marker = match body.dialect {
            Some(d) => format!("-- migrate:{kind} {d}"),
            None => format!("-- migrate:{kind}"),
        };
        printer.line("")?;
        printer.line(paint(DIM, &marker))?;
        printer.line(sql.trim_matches('\n'))?;
    }
    if s.down_sql().is_none() && s.dialects().iter().all(|d| s.down_for(*d).is_none()) {
        printer.line("")?;
        printer.line(paint(
            DIM,
            "-- (no migrate:down section: this revision cannot be downgraded)",
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
