//! The one place that writes to stdout: plain text (coloured on a terminal unless NO_COLOR), or JSON.
//! Diagnostics go to stderr.

use std::io::{self, Write};

use alembix::{Rev, RevisionGraph};
use anstyle::{AnsiColor, Style};
use serde::Serialize;

pub const ID: Style = AnsiColor::Yellow.on_default();
pub const TAG: Style = AnsiColor::Green.on_default().bold();
pub const DIM: Style = Style::new().dimmed();
pub const WARN: Style = AnsiColor::Yellow.on_default().bold();
pub const ERROR: Style = AnsiColor::Red.on_default().bold();

/// Buffers output (stdout is line-buffered, which costs a write per line on long histories) and hands it to
/// an `AutoStream`, which drops colours when stdout is not a terminal or `NO_COLOR` is set.
pub struct Printer {
    out: anstream::AutoStream<io::StdoutLock<'static>>,
    buf: Vec<u8>,
    pub quiet: bool,
}

const FLUSH_AT: usize = 64 * 1024;

impl Printer {
    pub fn new(quiet: bool) -> Printer {
        Printer {
            out: anstream::AutoStream::auto(io::stdout().lock()),
            buf: Vec::with_capacity(FLUSH_AT),
            quiet,
        }
    }

    pub fn line(&mut self, text: impl std::fmt::Display) -> io::Result<()> {
        writeln!(self.buf, "{text}")?;
        if self.buf.len() >= FLUSH_AT {
            self.flush()?;
        }
        Ok(())
    }

    pub fn json<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut self.buf, value).map_err(io::Error::other)?;
        writeln!(self.buf)?;
        self.flush()
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.out.flush()
    }
}

pub fn paint(style: Style, text: impl std::fmt::Display) -> String {
    format!("{style}{text}{style:#}")
}

/// A path for people: relative to the current directory when under it.
pub fn show_path(path: &std::path::Path) -> String {
    let p = path.strip_prefix("./").unwrap_or(path);
    if let Ok(cwd) = std::env::current_dir() {
        if let Ok(rel) = p.strip_prefix(&cwd) {
            return rel.display().to_string();
        }
    }
    p.display().to_string()
}

/// A revision as JSON.
#[derive(Serialize)]
pub struct RevisionJson {
    pub revision: String,
    pub down_revisions: Vec<String>,
    pub depends_on: Vec<String>,
    pub branch_labels: Vec<String>,
    pub message: String,
    pub create_date: Option<String>,
    pub path: String,
    pub is_head: bool,
    pub is_base: bool,
    pub is_branch_point: bool,
    pub is_merge_point: bool,
    pub transactional: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
}

impl RevisionJson {
    pub fn new(graph: &RevisionGraph, r: Rev) -> RevisionJson {
        let s = graph.script(r);
        RevisionJson {
            revision: s.revision.clone(),
            down_revisions: s.down_revisions.clone(),
            depends_on: graph.ids(graph.dependencies(r)),
            branch_labels: s.branch_labels.clone(),
            message: s.message.clone(),
            create_date: s.create_date.clone(),
            path: show_path(&s.path),
            is_head: graph.is_head(r),
            is_base: graph.is_base(r),
            is_branch_point: graph.is_branch_point(r),
            is_merge_point: graph.is_merge_point(r),
            transactional: s.transactional,
            checksum: None,
        }
    }
}

/// `id (label) (head) (branchpoint) (mergepoint)` — the tags Alembic users know.
pub fn tagged_id(graph: &RevisionGraph, r: Rev) -> String {
    let s = graph.script(r);
    let mut out = paint(ID, &s.revision);
    for label in &s.branch_labels {
        out.push_str(&format!(" ({})", paint(TAG, label)));
    }
    if graph.is_head(r) {
        out.push_str(&format!(" ({})", paint(TAG, "head")));
    }
    if graph.is_branch_point(r) {
        out.push_str(" (branchpoint)");
    }
    if graph.is_merge_point(r) {
        out.push_str(" (mergepoint)");
    }
    out
}

/// The verbose block for a revision (used by `heads -v`, `branches -v`, `history -v`, `show`).
pub fn verbose_lines(graph: &RevisionGraph, r: Rev) -> Vec<String> {
    let s = graph.script(r);
    let mut lines = vec![format!("Rev: {}", tagged_id(graph, r))];
    let parents = graph.parents(r);
    match parents.len() {
        0 => lines.push("Parent: <base>".into()),
        1 => lines.push(format!("Parent: {}", graph.id(parents[0]))),
        _ => lines.push(format!("Merges: {}", graph.ids(parents).join(", "))),
    }
    if !graph.dependencies(r).is_empty() {
        lines.push(format!(
            "Depends on: {}",
            graph.ids(graph.dependencies(r)).join(", ")
        ));
    }
    if graph.is_branch_point(r) {
        lines.push(format!(
            "Branches into: {}",
            graph.ids(graph.children(r)).join(", ")
        ));
    }
    if !s.branch_labels.is_empty() {
        lines.push(format!("Branch names: {}", s.branch_labels.join(", ")));
    }
    lines.push(format!("Path: {}", show_path(&s.path)));
    if let Some(date) = &s.create_date {
        lines.push(format!("Create Date: {date}"));
    }
    if !s.transactional {
        lines.push("Transactional: false".into());
    }
    lines.push(String::new());
    lines.push(format!("    {}", s.message));
    lines.push(String::new());
    lines
}
