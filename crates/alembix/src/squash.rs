//! `alembix squash REV`: replace REV and every revision it needs by one baseline revision that creates the
//! schema as it is at REV (read by introspection from the revisions replayed on a scratch database), keeping
//! later revisions. The baseline keeps REV's id, so every database at REV or later is already where it
//! should be: nothing to stamp, and its recorded checksum is not compared (`-- Squashes:` says why).

use std::path::PathBuf;

use crate::autogen::{self, DevDatabase};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::graph::Rev;
use crate::migrate::{Migrator, Operation};
use crate::schema::{RenameHints, Schema};
use crate::url::DatabaseUrl;

/// What a squash did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SquashReport {
    pub baseline: String,
    pub file: PathBuf,
    /// The revisions replaced (without the baseline's own id).
    pub squashed: Vec<String>,
    pub removed_files: Vec<PathBuf>,
    /// Later revisions whose `Depends On` pointed into the squashed ones and now points at the baseline.
    pub rewritten: Vec<PathBuf>,
}

/// Squash `expr` (and all it needs) into one baseline revision with message `message`, built on the engine of
/// `server`.
pub async fn squash(
    config: &Config,
    m: &Migrator,
    server: &DatabaseUrl,
    expr: &str,
    message: &str,
) -> Result<SquashReport> {
    let graph = m.graph();
    let at = graph.resolve_one(expr, None)?;
    let set = graph.ancestors_mask(&[at]);
    let members: Vec<Rev> = graph
        .topological()
        .iter()
        .copied()
        .filter(|r| set[r.index()])
        .collect();
    if members.len() < 2 {
        return Err(Error::Usage(format!(
            "{} has nothing below it to squash",
            graph.id(at)
        )));
    }
    // Later revisions must grow out of `at` itself: one that branches off a squashed revision below it
    // would find the schema of `at` where it expected an older one.
    for &r in graph.topological() {
        if set[r.index()] {
            continue;
        }
        if let Some(&p) = graph
            .parents(r)
            .iter()
            .find(|p| set[p.index()] && **p != at)
        {
            return Err(Error::Usage(format!(
                "revision {} branches off {}, below {}: squash at a revision that every later revision \
                 grows from (e.g. a merge point), or merge first",
                graph.id(r),
                graph.id(p),
                graph.id(at)
            )));
        }
    }

    // The schema at `at`, as the engine sees it.
    let mut dev = DevDatabase::create(server, config.dev_url.as_deref()).await?;
    let built = async {
        m.run_on(
            &mut dev.conn,
            &Operation::Upgrade(graph.id(at).to_string()),
            &mut |_| {},
        )
        .await?;
        crate::dialect::inspect(&mut dev.conn, &autogen::own_tables(m))
            .await
            .map_err(|e| Error::Usage(format!("reading the scratch database: {e}")))
    }
    .await;
    dev.dispose().await;
    let schema = built?;
    let generated = autogen::generate(
        server.dialect(),
        &Schema::default(),
        &schema,
        &RenameHints::default(),
    );

    let squashed: Vec<String> = members
        .iter()
        .filter(|&&r| r != at)
        .map(|&r| graph.id(r).to_string())
        .collect();
    let mut labels: Vec<String> = Vec::new();
    for &r in &members {
        for l in &graph.script(r).branch_labels {
            if !labels.contains(l) {
                labels.push(l.clone());
            }
        }
    }
    let body = |statements: &[String]| {
        statements
            .iter()
            .map(|s| format!("{};\n", s.trim_end_matches(';')))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let old = graph.script(at);
    let mut text = format!(
        "-- {message}\n--\n-- Revision ID: {}\n-- Revises:\n",
        old.revision
    );
    if let Some(date) = &old.create_date {
        text.push_str(&format!("-- Create Date: {date}\n"));
    }
    if !labels.is_empty() {
        text.push_str(&format!("-- Branch Labels: {}\n", labels.join(", ")));
    }
    text.push_str(&format!(
        "-- Squashes: {}\n-- The schema at {} ({} revisions), read from {} by `alembix squash`.\n\n\
         -- migrate:up\n{}\n-- migrate:down\n{}",
        squashed.join(", "),
        old.revision,
        members.len(),
        server.dialect(),
        body(&generated.up),
        body(&generated.down)
    ));
    let name = crate::script::file_name(
        &config.file_template,
        &old.revision,
        message,
        time::OffsetDateTime::now_utc(),
    );
    let file = config.migrations.join(name);
    crate::script::parse(&file, text.clone())?;

    // Later revisions that depend on a squashed one now depend on the baseline.
    let mut rewrites: Vec<(PathBuf, String)> = Vec::new();
    for &r in graph.topological() {
        let s = graph.script(r);
        if set[r.index()] || !s.depends_on.iter().any(|d| squashed.contains(d)) {
            continue;
        }
        let mut deps: Vec<String> = Vec::new();
        for d in &s.depends_on {
            let d = if squashed.contains(d) {
                old.revision.clone()
            } else {
                d.clone()
            };
            if !deps.contains(&d) {
                deps.push(d);
            }
        }
        let new_text: String = s
            .text()
            .split_inclusive('\n')
            .map(|line| {
                let key = line.trim_start().strip_prefix("--").map(str::trim_start);
                match key.and_then(|k| k.split_once(':')) {
                    Some((k, _)) if k.trim().eq_ignore_ascii_case("depends on") => {
                        format!("-- Depends On: {}\n", deps.join(", "))
                    }
                    _ => line.to_string(),
                }
            })
            .collect();
        rewrites.push((s.path.clone(), new_text));
    }

    // Write: the baseline first (under a temporary name, so a failure leaves the old files whole), then
    // remove what it replaces.
    let tmp = file.with_extension("sql.tmp");
    std::fs::write(&tmp, &text).map_err(|e| Error::io(&tmp, e))?;
    let mut removed_files = Vec::new();
    for &r in &members {
        let p = &graph.script(r).path;
        std::fs::remove_file(p).map_err(|e| Error::io(p, e))?;
        removed_files.push(p.clone());
    }
    std::fs::rename(&tmp, &file).map_err(|e| Error::io(&file, e))?;
    for (p, t) in &rewrites {
        std::fs::write(p, t).map_err(|e| Error::io(p, e))?;
    }
    Ok(SquashReport {
        baseline: old.revision.clone(),
        file,
        squashed,
        removed_files,
        rewritten: rewrites.into_iter().map(|(p, _)| p).collect(),
    })
}
