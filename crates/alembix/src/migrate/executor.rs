//! The apply loop: read the version table, check edits, plan, and run each step with its bookkeeping.
//! It runs against a `Driver`: a live connection, or a `Recorder` that keeps the SQL instead of running it
//! (dry run, offline `--sql`), so both show exactly what a real run does.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::split::{split, Statement};
use super::{
    CurrentHead, Edit, Event, MigrateError, Migrator, Outcome, PlannedStep, StatementFailure,
};
use crate::dialect::{self, begin_sql, literal, Connection, DbError};
use crate::error::{Error, Result};
use crate::graph::{Direction, Plan, Rev, RevisionGraph, Step};
use crate::url::Dialect;

/// What to do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    Upgrade(String),
    Downgrade(String),
    /// Set the version table without running SQL; `purge` first forgets what the table says.
    Stamp {
        target: String,
        purge: bool,
    },
    /// Record the current checksums of these applied revisions (accepting intentional edits).
    Rehash(Vec<String>),
    /// Forget an interrupted step (after its committed statements were undone by hand).
    Repair,
}

/// What the executor needs from a database. Reads go to the database; writes may be recorded instead.
pub(crate) trait Driver {
    fn dialect(&self) -> Dialect;
    /// Run SQL that changes the database.
    async fn execute(&mut self, sql: &str) -> Result<(), DbError>;
    async fn table_exists(&mut self, table: &str) -> Result<bool, DbError>;
    /// [`Driver::table_exists`] of each table, in order; a connection asks in one round trip.
    async fn tables_exist(&mut self, tables: &[&str]) -> Result<Vec<bool>, DbError> {
        let mut out = Vec::with_capacity(tables.len());
        for t in tables {
            out.push(self.table_exists(t).await?);
        }
        Ok(out)
    }
    async fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError>;
    /// The rows of each query; a connection sends them in one round trip where it can (PostgreSQL, MySQL).
    async fn query_text_sets(
        &mut self,
        statements: &[String],
    ) -> Result<Vec<Vec<Vec<Option<String>>>>, DbError> {
        let mut sets = Vec::with_capacity(statements.len());
        for st in statements {
            sets.push(self.query_text(st).await?);
        }
        Ok(sets)
    }
    /// A comment for a recorded script; ignored by a live connection.
    fn note(&mut self, _text: &str) {}
    /// Run a statement that reports problems as rows (SQLite's `PRAGMA foreign_key_check`): any row fails.
    async fn check(&mut self, sql: &str) -> Result<(), DbError> {
        self.execute(sql).await
    }
    /// Several statements in one round trip; on failure, how many completed before it.
    async fn execute_counting(&mut self, sql: &str) -> Result<(), (usize, DbError)> {
        self.execute(sql).await.map_err(|e| (usize::MAX, e))
    }
    /// Whether a transactional step may go to the database in one round trip (a recorder keeps statements
    /// apart so its script reads well).
    fn batches(&self) -> bool {
        false
    }
    /// Whether steps that commit statement by statement record their progress (a recorder does not:
    /// its script is for people).
    fn tracks_progress(&self) -> bool {
        true
    }
    /// A statement to run right after `BEGIN` in a migration transaction, if one is needed. None in a
    /// recorded script: whoever runs it is the client, and alembix's watch for a dead client is not theirs.
    fn transaction_setup(&self) -> Option<&'static str> {
        None
    }
    /// Called once before the first step runs (not at all when there is none).
    async fn prepare_to_migrate(&mut self) {}
}

impl Driver for Connection {
    fn dialect(&self) -> Dialect {
        Connection::dialect(self)
    }
    fn batches(&self) -> bool {
        Connection::dialect(self) != Dialect::Mysql
    }
    fn transaction_setup(&self) -> Option<&'static str> {
        Connection::transaction_setup(self)
    }
    async fn prepare_to_migrate(&mut self) {
        Connection::prepare_to_migrate(self).await
    }
    async fn execute_counting(&mut self, sql: &str) -> Result<(), (usize, DbError)> {
        Connection::execute_counting(self, sql).await
    }
    async fn execute(&mut self, sql: &str) -> Result<(), DbError> {
        Connection::execute(self, sql).await
    }
    async fn table_exists(&mut self, table: &str) -> Result<bool, DbError> {
        Connection::table_exists(self, table).await
    }
    async fn tables_exist(&mut self, tables: &[&str]) -> Result<Vec<bool>, DbError> {
        Connection::tables_exist(self, tables).await
    }
    async fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError> {
        Connection::query_text(self, sql).await
    }
    async fn query_text_sets(
        &mut self,
        statements: &[String],
    ) -> Result<Vec<Vec<Vec<Option<String>>>>, DbError> {
        Connection::query_text_sets(self, statements).await
    }
    async fn check(&mut self, sql: &str) -> Result<(), DbError> {
        // The table-valued form, with text casts: the pragma's rowid is an integer.
        let table = sql
            .split_once('(')
            .map(|(_, rest)| {
                rest.trim_end()
                    .trim_end_matches(';')
                    .trim_end_matches(')')
                    .trim()
                    .to_string()
            })
            .filter(|t| !t.is_empty());
        let query = format!(
            "SELECT \"table\", CAST(rowid AS TEXT), parent FROM pragma_foreign_key_check{}",
            table
                .map(|t| format!(
                    "({})",
                    literal(t.trim_matches(['\'', '"']), Dialect::Sqlite)
                ))
                .unwrap_or_default()
        );
        let rows = Connection::query_text(self, &query).await?;
        if rows.is_empty() {
            return Ok(());
        }
        let shown: Vec<String> = rows
            .iter()
            .take(5)
            .map(|r| {
                let cell = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
                format!("{} row {} references missing {}", cell(0), cell(1), cell(2))
            })
            .collect();
        Err(DbError::new(format!(
            "foreign key violations ({} in all): {}",
            rows.len(),
            shown.join("; ")
        )))
    }
}

/// Keeps writes as SQL text; reads go to `inner` when there is one (dry run), else see an empty database.
pub(crate) struct Recorder<'a> {
    dialect: Dialect,
    inner: Option<&'a mut Connection>,
    pub log: Vec<String>,
}

impl<'a> Recorder<'a> {
    pub fn new(dialect: Dialect, inner: Option<&'a mut Connection>) -> Self {
        Recorder {
            dialect,
            inner,
            log: Vec::new(),
        }
    }
}

impl Driver for Recorder<'_> {
    fn dialect(&self) -> Dialect {
        self.dialect
    }
    async fn execute(&mut self, sql: &str) -> Result<(), DbError> {
        self.log.push(sql.to_string());
        Ok(())
    }
    async fn table_exists(&mut self, table: &str) -> Result<bool, DbError> {
        match &mut self.inner {
            Some(c) => c.table_exists(table).await,
            None => Ok(false),
        }
    }
    async fn tables_exist(&mut self, tables: &[&str]) -> Result<Vec<bool>, DbError> {
        match &mut self.inner {
            Some(c) => c.tables_exist(tables).await,
            None => Ok(vec![false; tables.len()]),
        }
    }
    async fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError> {
        match &mut self.inner {
            Some(c) => c.query_text(sql).await,
            None => Ok(Vec::new()),
        }
    }
    fn note(&mut self, text: &str) {
        self.log.push(format!("-- {text}"));
    }
    fn tracks_progress(&self) -> bool {
        false
    }
}

fn db_err(context: impl Into<String>) -> impl FnOnce(DbError) -> Error {
    let context = context.into();
    move |e| {
        MigrateError::Database {
            context,
            message: e.message,
        }
        .into()
    }
}

/// Take the migration lock, polling with backoff (never blocking inside a transaction) until `timeout`.
pub(crate) async fn acquire_lock(
    conn: &mut Connection,
    name: &str,
    timeout: Duration,
    events: &mut dyn FnMut(Event),
) -> Result<()> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(20);
    let mut announced = false;
    loop {
        if conn
            .try_lock(name)
            .await
            .map_err(db_err("taking the migration lock"))?
        {
            if announced {
                events(Event::LockAcquired {
                    waited: started.elapsed(),
                });
            }
            return Ok(());
        }
        if !announced {
            announced = true;
            let holder = conn.lock_holder(name).await;
            events(Event::LockWait { holder });
        }
        if started.elapsed() >= timeout {
            let holder = conn.lock_holder(name).await;
            return Err(MigrateError::LockTimeout {
                waited: started.elapsed(),
                holder,
            }
            .into());
        }
        let remaining = timeout.saturating_sub(started.elapsed());
        tokio::time::sleep(delay.min(remaining).max(Duration::from_millis(1))).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

/// The state read from the database before planning.
struct DbState {
    rows: Vec<String>,
    heads: Vec<Rev>,
    tables_exist: bool,
    /// The progress table exists (asked with the others, in the same round trip).
    progress_exists: bool,
    /// The recorded checksums, when asked for (read with the version rows, in the same round trip).
    recorded: Option<HashMap<String, String>>,
    /// The interrupted step, when it was read with them (`Some(None)`: none).
    interrupted: Option<Option<ProgressRow>>,
}

/// With `checksums`, the recorded checksums too (for [`check_edits`]), when the tables exist.
async fn read_state<D: Driver>(
    m: &Migrator,
    driver: &mut D,
    tolerate_unknown: bool,
    checksums: bool,
) -> Result<DbState> {
    let opts = &m.options;
    // The three bookkeeping tables in one round trip (each a catalog query of its own before: on a
    // scratch database `verify` runs this three times per revision).
    let exist = driver
        .tables_exist(&[
            &opts.version_table,
            &opts.history_table,
            &opts.progress_table,
        ])
        .await
        .map_err(db_err(
            "checking for the version, history and progress tables",
        ))?;
    let (version, history, progress) = (exist[0], exist[1], exist[2]);
    let mut recorded = None;
    let mut interrupted = None;
    let rows = if version && history && checksums {
        // With the interrupted step, where the engine records one (MySQL), in the same round trip.
        let with_progress = progress && driver.tracks_progress();
        let mut queries = vec![version_rows_sql(opts), recorded_checksums_sql(m)];
        if with_progress {
            queries.push(progress_sql(m, driver.dialect()));
        }
        let sets = driver
            .query_text_sets(&queries)
            .await
            .map_err(db_err(format!(
                "reading {}, {} and {}",
                opts.version_table, opts.history_table, opts.progress_table
            )))?;
        let mut sets = sets.into_iter();
        let rows = version_rows(sets.next().unwrap_or_default());
        recorded = Some(recorded_map(sets.next().unwrap_or_default()));
        if with_progress {
            interrupted = Some(progress_row(sets.next().unwrap_or_default()));
        }
        rows
    } else if version {
        read_version_rows(opts, driver).await?
    } else {
        Vec::new()
    };
    let tables_exist = version && history;
    let mut heads = Vec::new();
    for row in &rows {
        match m.graph.get(row) {
            Some(r) => heads.push(r),
            None if tolerate_unknown => {}
            None => {
                return Err(MigrateError::UnknownRevision {
                    revision: row.clone(),
                    dir: m.source.clone(),
                }
                .into())
            }
        }
    }
    Ok(DbState {
        rows,
        heads,
        tables_exist,
        progress_exists: progress,
        recorded,
        interrupted,
    })
}

/// Last recorded checksum of each revision (up, stamp or rehash rows).
async fn recorded_checksums<D: Driver>(
    m: &Migrator,
    driver: &mut D,
) -> Result<HashMap<String, String>> {
    let rows = driver
        .query_text(&recorded_checksums_sql(m))
        .await
        .map_err(db_err(format!("reading {}", m.options.history_table)))?;
    Ok(recorded_map(rows))
}

fn recorded_checksums_sql(m: &Migrator) -> String {
    // Only the latest checksum row of each revision: the history only grows, reading it all would not scale.
    let h = &m.options.history_table;
    format!(
        "SELECT revision, checksum FROM {h} WHERE id IN (SELECT MAX(id) FROM {h} \
         WHERE checksum IS NOT NULL AND direction <> 'down' GROUP BY revision)"
    )
}

fn recorded_map(rows: Vec<Vec<Option<String>>>) -> HashMap<String, String> {
    rows.into_iter()
        .filter_map(|r| {
            let mut it = r.into_iter();
            Some((it.next().flatten()?, it.next().flatten()?))
        })
        .collect()
}

/// Refuse to run when an applied revision's file changed since it was applied.
async fn check_edits<D: Driver>(
    m: &Migrator,
    driver: &mut D,
    heads: &[Rev],
    recorded: Option<HashMap<String, String>>,
) -> Result<()> {
    let recorded = match recorded {
        Some(r) => r,
        None => recorded_checksums(m, driver).await?,
    };
    if recorded.is_empty() {
        return Ok(());
    }
    let applied = m.graph.ancestors_mask(heads);
    let mut edits = Vec::new();
    for &r in m.graph.topological() {
        if !applied[r.index()] {
            continue;
        }
        let s = m.graph.script(r);
        if !s.squashes.is_empty() {
            // A squash baseline keeps the id of the revision it ends at; what was applied under that id
            // was the old file.
            continue;
        }
        if let Some(rec) = recorded.get(&s.revision) {
            let actual = s.checksum_checked(driver.dialect())?;
            if *rec != actual {
                edits.push(Edit {
                    revision: s.revision.clone(),
                    file: s.path.clone(),
                    recorded: rec.clone(),
                    actual,
                });
            }
        }
    }
    if edits.is_empty() {
        Ok(())
    } else {
        Err(MigrateError::Edited { edits }.into())
    }
}

/// `version table` and `history table` exist, created if needed (a recorder just records the DDL).
async fn ensure_tables<D: Driver>(m: &Migrator, driver: &mut D, exist: bool) -> Result<()> {
    if exist {
        return Ok(());
    }
    for ddl in dialect::bookkeeping_ddl(
        driver.dialect(),
        &m.options.version_table,
        &m.options.history_table,
    ) {
        driver
            .execute(&ddl)
            .await
            .map_err(db_err("creating the version and history tables"))?;
    }
    Ok(())
}

pub(crate) async fn execute<D: Driver>(
    m: &Migrator,
    driver: &mut D,
    op: &Operation,
    start: Option<Vec<String>>,
    events: &mut dyn FnMut(Event),
) -> Result<Outcome> {
    let graph = &m.graph;
    // A graph from the header index (`Migrator::from_config_headers`) has not read its bodies yet. Upgrade
    // and downgrade read those of the steps they run, once the plan is known and before the first step
    // runs; the edit check takes the other revisions' checksums from the index, so an `upgrade` with
    // nothing to do reads no revision file the index knows. Everything else reads them all now, where a
    // file that cannot be read is an error rather than on first use.
    let load_all = || -> Result<()> {
        for &r in graph.topological() {
            graph.script(r).load_body()?;
        }
        Ok(())
    };
    if !matches!(op, Operation::Upgrade(_) | Operation::Downgrade(_)) {
        load_all()?;
    }
    let purge = matches!(op, Operation::Stamp { purge: true, .. });
    let edits_checked = matches!(op, Operation::Upgrade(_) | Operation::Downgrade(_));
    let mut state = read_state(m, driver, purge, edits_checked).await?;
    if let Some(start) = start {
        state.heads = start
            .iter()
            .map(|s| graph.resolve(s, None).map(|t| t.revisions().to_vec()))
            .collect::<Result<Vec<_>, _>>()?
            .concat();
        state.rows = graph.ids(&state.heads);
    }
    if purge {
        state.heads.clear();
    }
    ensure_tables(m, driver, state.tables_exist).await?;
    if !state.tables_exist && !state.heads.is_empty() {
        // Which revisions run on this engine is in their bodies.
        load_all()?;
        // A version table with rows and no history: another tool (Alembic) migrated this database. Its
        // applied revisions are adopted once, with the checksums of the files as they are now, so later
        // edits are caught from here on.
        adopt(m, driver, &state.heads).await?;
        events(Event::Adopted {
            revisions: m
                .graph
                .ancestors_mask(&state.heads)
                .iter()
                .filter(|a| **a)
                .count(),
        });
    }
    if state.tables_exist && !purge && matches!(op, Operation::Upgrade(_) | Operation::Downgrade(_))
    {
        check_edits(m, driver, &state.heads, state.recorded.take()).await?;
    }
    let interrupted = if state.tables_exist && state.progress_exists && driver.tracks_progress() {
        match state.interrupted.take() {
            Some(read) => read,
            None => read_progress(m, driver).await?,
        }
    } else {
        None
    };
    if interrupted.is_some() {
        // Rare: what the interrupted step ran, and what is left of it, is in its body.
        load_all()?;
    }
    if let Operation::Repair = op {
        return repair(m, driver, interrupted).await;
    }
    let resume =
        match (&interrupted, op) {
            (Some(row), Operation::Upgrade(_) | Operation::Downgrade(_)) if !m.options.resume => {
                return Err(MigrateError::Interrupted(Box::new(describe_interrupted(
                    m,
                    driver.dialect(),
                    row,
                )))
                .into())
            }
            (Some(row), Operation::Upgrade(_) | Operation::Downgrade(_)) => Some(row.clone()),
            (None, _) if m.options.resume => return Err(Error::Usage(
                "--resume: no interrupted step is recorded in this database; run without --resume"
                    .into(),
            )),
            _ => None,
        };
    let current = state.heads.clone();
    let plan = match op {
        Operation::Upgrade(t) => {
            let target = graph.resolve(t, Some(&current))?;
            let plan = graph.plan_upgrade(&current, &target)?;
            refuse_backwards(graph, t, &target, &plan)?;
            plan
        }
        Operation::Downgrade(t) => {
            graph.plan_downgrade(&current, &graph.resolve(t, Some(&current))?)?
        }
        Operation::Stamp { target, .. } => {
            graph.plan_stamp(&current, &graph.resolve(target, Some(&current))?)?
        }
        Operation::Rehash(revs) => return rehash(m, driver, &current, revs).await,
        Operation::Repair => unreachable!("handled above"),
    };
    for step in &plan.steps {
        graph.script(step.revision).load_body()?;
    }
    if let Some(row) = &resume {
        let first = plan.steps.first().map(|s| {
            (
                graph.id(s.revision).to_string(),
                if s.direction == Direction::Up {
                    "up"
                } else {
                    "down"
                },
            )
        });
        if first.as_ref().map(|(r, d)| (r.as_str(), *d))
            != Some((row.revision.as_str(), row.direction.as_str()))
        {
            return Err(Error::Usage(format!(
                "--resume: the interrupted step is the {} of {}, but this command would start with {}",
                if row.direction == "down" { "downgrade" } else { "upgrade" },
                row.revision,
                first.map_or_else(|| "nothing".to_string(), |(r, d)| format!("the {d} of {r}"))
            )));
        }
    }
    let steps: Vec<PlannedStep> = plan.steps.iter().map(|s| planned(graph, s)).collect();
    let outcome = Outcome {
        steps,
        heads_before: graph.ids(&plan.heads_before),
        heads_after: graph.ids(&plan.heads_after),
        sql: Vec::new(),
    };
    // Rows that are not exactly the heads (redundant rows written by another tool) are rewritten first.
    let mut sorted_rows = state.rows.clone();
    sorted_rows.sort();
    let mut normal = outcome.heads_before.clone();
    normal.sort();
    let needs_normalising = !purge && sorted_rows != normal;

    if let Operation::Stamp { .. } = op {
        if interrupted.is_some() {
            // Saying where the database is settles an interrupted step too.
            driver
                .execute(&format!("DELETE FROM {}", m.options.progress_table))
                .await
                .map_err(db_err("clearing the interrupted step"))?;
        }
        stamp(m, driver, &plan, purge || needs_normalising).await?;
        return Ok(outcome);
    }
    if needs_normalising {
        rewrite_versions(m, driver, &plan.heads_before).await?;
        events(Event::VersionTableNormalised { rows: state.rows });
    }
    check_runnable(m, driver.dialect(), &plan)?;
    if !plan.steps.is_empty() {
        driver.prepare_to_migrate().await;
    }
    run_steps(
        m,
        driver,
        &plan,
        &outcome.steps,
        resume.map(|r| r.done),
        events,
    )
    .await?;
    Ok(outcome)
}

/// Every step of the plan has SQL for this engine and needs no review, checked before anything runs.
fn check_runnable(m: &Migrator, dialect: Dialect, plan: &Plan) -> Result<()> {
    for step in &plan.steps {
        let s = m.graph.script(step.revision);
        if !s.runs_on(dialect) {
            return Err(MigrateError::NoBodyForDialect {
                revision: s.revision.clone(),
                file: s.path.clone(),
                dialect,
                has: s.dialects(),
            }
            .into());
        }
        let body = match step.direction {
            Direction::Up => s.up_for(dialect),
            Direction::Down => s.down_for(dialect),
        };
        if let Some((sql, section)) = body {
            // The file loaded (no engine's rules found it unterminated), but this engine's may.
            if let Some((line, what)) = crate::script::lex::unterminated(sql, dialect) {
                return Err(crate::script::ScriptError {
                    path: s.path.clone(),
                    line: Some(section.start_line + line - 1),
                    message: format!(
                        "unterminated {what} for {dialect}: it runs to the end of the section and would swallow \
                         the statements after it; close it"
                    ),
                }
                .into());
            }
        }
        if let Some(why) = &s.review {
            if !m.options.allow_review {
                return Err(MigrateError::NeedsReview {
                    revision: s.revision.clone(),
                    file: s.path.clone(),
                    why: why.clone(),
                }
                .into());
            }
        }
        if step.direction == Direction::Down && s.down_for(dialect).is_none() {
            return Err(MigrateError::NoDownSection {
                revision: s.revision.clone(),
                file: s.path.clone(),
                irreversible: irreversible_note(s),
            }
            .into());
        }
    }
    Ok(())
}

/// The reason an imported revision gives for having no down section (`-- Irreversible: ...` in its text).
fn irreversible_note(s: &crate::script::Script) -> Option<String> {
    s.text().lines().find_map(|l| {
        l.trim()
            .strip_prefix("-- Irreversible:")
            .map(|r| r.trim().to_string())
    })
}

/// `upgrade` to something below where the database is would do nothing; say so instead of succeeding quietly
/// (Alembic: "not a valid upgrade target").
fn refuse_backwards(
    graph: &RevisionGraph,
    expr: &str,
    target: &crate::graph::Target,
    plan: &Plan,
) -> Result<()> {
    if !plan.steps.is_empty() || plan.heads_before.is_empty() {
        return Ok(());
    }
    let below: Vec<Rev> = match target {
        crate::graph::Target::Base => Vec::new(),
        crate::graph::Target::Below { landing, .. } => landing.clone(),
        crate::graph::Target::Revisions(r) => r.clone(),
    };
    let backwards = matches!(
        target,
        crate::graph::Target::Base | crate::graph::Target::Below { .. }
    ) || below.iter().any(|r| !plan.heads_before.contains(r));
    if !backwards {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "`{expr}` is below the database's current revision ({}): upgrade only moves forward; to go back, use \
         `alembix downgrade {expr}`",
        graph.ids(&plan.heads_before).join(", ")
    )))
}

fn planned(graph: &RevisionGraph, step: &Step) -> PlannedStep {
    let s = graph.script(step.revision);
    PlannedStep {
        revision: s.revision.clone(),
        direction: step.direction,
        from: graph.ids(graph.parents(step.revision)),
        message: s.message.clone(),
        path: s.path.clone(),
        transactional: s.transactional,
    }
}

/// Bookkeeping for one step: version-table changes and the history row.
fn bookkeeping(
    m: &Migrator,
    dialect: Dialect,
    step: &Step,
    graph: &RevisionGraph,
    started: &str,
    duration_sql: &str,
) -> String {
    let opts = &m.options;
    let lit = |s: &str| literal(s, dialect);
    let mut sql = Vec::new();
    if !step.delete.is_empty() {
        let ids: Vec<String> = step.delete.iter().map(|r| lit(graph.id(*r))).collect();
        sql.push(format!(
            "DELETE FROM {} WHERE version_num IN ({})",
            opts.version_table,
            ids.join(", ")
        ));
    }
    for r in &step.insert {
        sql.push(format!(
            "INSERT INTO {} (version_num) VALUES ({})",
            opts.version_table,
            lit(graph.id(*r))
        ));
    }
    let s = graph.script(step.revision);
    let direction = match step.direction {
        Direction::Up => "up",
        Direction::Down => "down",
    };
    sql.push(history_insert(
        m,
        dialect,
        &s.revision,
        direction,
        Some(&s.checksum_for(dialect)),
        started,
        duration_sql,
    ));
    sql.join(";\n")
}

/// The step's duration in milliseconds, computed by the server when the bookkeeping runs in the same
/// round trip as the statements (the client cannot know it beforehand).
fn server_duration_sql(dialect: Dialect, started: &str) -> String {
    match dialect {
        Dialect::Postgres => {
            "CAST(EXTRACT(EPOCH FROM clock_timestamp() - transaction_timestamp()) * 1000 AS BIGINT)"
                .into()
        }
        Dialect::Sqlite => format!(
            "CAST((julianday('now') - julianday({})) * 86400000 AS INTEGER)",
            literal(&started[..started.len().min(23)], dialect)
        ),
        Dialect::Mysql => "0".into(),
    }
}

fn history_insert(
    m: &Migrator,
    dialect: Dialect,
    revision: &str,
    direction: &str,
    checksum: Option<&str>,
    started: &str,
    duration_sql: &str,
) -> String {
    let lit = |s: &str| literal(s, dialect);
    format!(
        "INSERT INTO {} (revision, direction, checksum, started_at, duration_ms, applied_by, tool_version) \
         VALUES ({}, {}, {}, {}, {duration_sql}, {}, {})",
        m.options.history_table,
        lit(revision),
        lit(direction),
        checksum.map_or_else(|| "NULL".to_string(), lit),
        lit(started),
        lit(&super::who()),
        lit(crate::VERSION)
    )
}

/// MySQL notes when each step started, for its duration, which the server computes: the step's last
/// statement and its bookkeeping share one round trip, so the client cannot time it.
const MYSQL_STEP_STARTED: &str = "SET @alembix_step_started = NOW(6)";
const MYSQL_STEP_DURATION: &str =
    "COALESCE(TIMESTAMPDIFF(MICROSECOND, @alembix_step_started, NOW(6)) DIV 1000, 0)";

fn progress_insert(
    m: &Migrator,
    dialect: Dialect,
    revision: &str,
    direction: &str,
    started: &str,
) -> String {
    format!(
        "INSERT INTO {} (revision, direction, statements_done, started_at, applied_by) \
         VALUES ({}, {}, 0, {}, {})",
        m.options.progress_table,
        literal(revision, dialect),
        literal(direction, dialect),
        literal(started, dialect),
        literal(&super::who(), dialect)
    )
}

fn now_text() -> String {
    time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]+00:00"
        ))
        .unwrap_or_default()
}

async fn run_steps<D: Driver>(
    m: &Migrator,
    driver: &mut D,
    plan: &Plan,
    planned: &[PlannedStep],
    mut resume_at: Option<usize>,
    events: &mut dyn FnMut(Event),
) -> Result<()> {
    let graph = &m.graph;
    let dialect = driver.dialect();
    let mut progress_table_ready = false;
    // MySQL commits DDL implicitly, so a transaction there would only pretend.
    let can_transact = dialect != Dialect::Mysql;
    let mut open_tx: Vec<String> = Vec::new(); // revisions inside the open shared transaction
    let mut in_tx = false;
    // MySQL: the progress row of the step about to run was written by the previous step's last commit,
    // and the session runs with autocommit off from the first step to the last.
    let mut progress_preinserted = false;
    let mut autocommit_off = false;
    for (idx, (step, info)) in plan.steps.iter().zip(planned).enumerate() {
        let script = graph.script(step.revision);
        let body = match step.direction {
            Direction::Up => script.up_for(dialect),
            Direction::Down => script.down_for(dialect),
        };
        let Some((body, section)) = body else {
            unreachable!("checked before the loop")
        };
        let statements = split(body, dialect);
        let transactional = can_transact && script.transactional;
        events(Event::StepStarted { step: info.clone() });
        let verb = if step.direction == Direction::Up {
            "upgrade"
        } else {
            "downgrade"
        };
        let from = if info.from.is_empty() {
            "<base>".to_string()
        } else {
            info.from.join(", ")
        };
        driver.note(&format!(
            "Running {verb} {} {} {}, {}",
            if step.direction == Direction::Up {
                &from
            } else {
                &info.revision
            },
            "->",
            if step.direction == Direction::Up {
                &info.revision
            } else {
                &from
            },
            info.message
        ));
        let started_text = now_text();
        let started = Instant::now();
        // Resuming the interrupted step: its first statements had committed already.
        let skip = resume_at.take().unwrap_or(0);
        let batch = skip == 0
            && transactional
            && m.options.transaction_per_migration
            && !in_tx
            && driver.batches()
            && !statements.iter().any(|s| is_foreign_key_check(&s.sql));
        if batch {
            let book = bookkeeping(
                m,
                dialect,
                step,
                graph,
                &started_text,
                &server_duration_sql(dialect, &started_text),
            );
            run_batch(driver, &statements, &book)
                .await
                .map_err(|f| match f {
                    BatchFailure::Statement(i, e) => statement_failure(
                        script,
                        step,
                        section,
                        &statements,
                        i,
                        e,
                        Vec::new(),
                        Vec::new(),
                        true,
                    ),
                    BatchFailure::Other(e) => {
                        db_err(format!("running revision {}", script.revision))(e)
                    }
                })?;
            events(Event::StepFinished {
                step: info.clone(),
                duration: started.elapsed(),
            });
            continue;
        }
        if !transactional && in_tx {
            commit(driver, &mut in_tx, &mut open_tx).await?;
        }
        if transactional && !in_tx {
            driver
                .execute(begin_sql(dialect))
                .await
                .map_err(db_err("starting a transaction"))?;
            if let Some(setup) = driver.transaction_setup() {
                driver
                    .execute(setup)
                    .await
                    .map_err(db_err("starting a transaction"))?;
            }
            in_tx = true;
        }
        // Statements that commit one by one: the progress row says how far the step got, so a crash, a
        // server restart or a failed statement leaves a record the next run reports (and can resume from).
        let track = !transactional && driver.tracks_progress();
        let direction = if step.direction == Direction::Up {
            "up"
        } else {
            "down"
        };
        let progress_where = format!(
            "revision = {} AND direction = {}",
            literal(&script.revision, dialect),
            literal(direction, dialect)
        );
        if track && !progress_table_ready {
            driver
                .execute(&dialect::progress_ddl(&m.options.progress_table))
                .await
                .map_err(db_err("creating the progress table"))?;
            progress_table_ready = true;
        }
        // On MySQL the statement and its progress update travel in one round trip (the server splits them);
        // PostgreSQL must get `CREATE INDEX CONCURRENTLY` and the like alone. And MySQL runs the step with
        // autocommit off: data statements and their progress commit together, at the next statement that
        // commits implicitly (DDL), which is sent with its own progress update and a COMMIT. So the record
        // is exact for data statements, a crash rolls back only what had not committed anyway, and there is
        // no commit (no fsync) per INSERT.
        let progress_with_statement = track && dialect == Dialect::Mysql;
        let mut committed_upto = skip;
        if track && skip == 0 && !progress_preinserted {
            let mut sql = progress_insert(m, dialect, &script.revision, direction, &started_text);
            if progress_with_statement {
                sql.push_str(";\nSET autocommit = 0;\n");
                sql.push_str(MYSQL_STEP_STARTED);
                autocommit_off = true;
            }
            driver
                .execute(&sql)
                .await
                .map_err(db_err("recording the start of the step"))?;
        } else if progress_with_statement && !autocommit_off {
            driver
                .execute(&format!("SET autocommit = 0;\n{MYSQL_STEP_STARTED}"))
                .await
                .map_err(db_err("starting the step"))?;
            autocommit_off = true;
        }
        progress_preinserted = false;
        // MySQL: the step's last statement goes with the step's bookkeeping, which commits with the start
        // of the next step (its progress row), so a one-statement step is one round trip and two commits
        // (the statement's own, implicit one, and this one). A crash between the two leaves the same record
        // a separate progress update would: that window is the same round trip either way.
        let next = plan
            .steps
            .get(idx + 1)
            .filter(|_| progress_with_statement)
            .map(|n| graph.script(n.revision))
            .filter(|n| !(can_transact && n.transactional));
        let finish = |book: &str| {
            let mut sql = format!(
                "{book};\nDELETE FROM {} WHERE {progress_where}",
                m.options.progress_table
            );
            if let Some(n) = next {
                let next_direction = if plan.steps[idx + 1].direction == Direction::Up {
                    "up"
                } else {
                    "down"
                };
                sql.push_str(";\n");
                sql.push_str(&progress_insert(
                    m,
                    dialect,
                    &n.revision,
                    next_direction,
                    &now_text(),
                ));
                // The timer is not transactional; set before the COMMIT, it is never the one statement
                // that fails after the record committed.
                sql.push_str(";\n");
                sql.push_str(MYSQL_STEP_STARTED);
                sql.push_str(";\nCOMMIT");
            } else {
                sql.push_str(";\nCOMMIT;\nSET autocommit = 1");
            }
            sql
        };
        let mysql_book =
            || bookkeeping(m, dialect, step, graph, &started_text, MYSQL_STEP_DURATION);
        let mut finished = false;
        let progress_sql = |done: usize| {
            format!(
                "UPDATE {} SET statements_done = {done} WHERE {progress_where}",
                m.options.progress_table
            )
        };
        for (i, st) in statements.iter().enumerate().skip(skip) {
            let result = if dialect == Dialect::Sqlite && is_foreign_key_check(&st.sql) {
                driver.check(&st.sql).await
            } else if progress_with_statement {
                // The statement on its own line: it may end in a `--` comment.
                let commits = commits_implicitly(&st.sql);
                let last = i + 1 == statements.len();
                let sql = if last {
                    format!("{}\n;\n{}", st.sql, finish(&mysql_book()))
                } else if commits {
                    format!("{}\n;\n{};\nCOMMIT", st.sql, progress_sql(i + 1))
                } else {
                    format!("{}\n;\n{}", st.sql, progress_sql(i + 1))
                };
                match driver.execute_counting(&sql).await {
                    Ok(()) => {
                        if commits {
                            committed_upto = i + 1;
                        }
                        finished = last;
                        Ok(())
                    }
                    // The statement ran; only its bookkeeping failed.
                    Err((done, e)) if done >= 1 && last => {
                        let _ = driver.execute("ROLLBACK").await;
                        if commits {
                            // The statement stays committed: say so, for the next run to resume from.
                            let _ = driver
                                .execute(&format!("{};\nCOMMIT", progress_sql(i + 1)))
                                .await;
                            return Err(db_err(format!(
                                "recording revision {} (its statements were committed; the version table was not updated)",
                                script.revision
                            ))(e));
                        }
                        return Err(db_err(format!(
                            "recording revision {} (its statements since statement {} were rolled back; the \
                             progress table records the {committed_upto} that had committed)",
                            script.revision,
                            committed_upto + 1
                        ))(e));
                    }
                    // The statement ran; only its progress update failed.
                    Err((done, e)) if done >= 1 => {
                        return Err(db_err("recording the step's progress")(e));
                    }
                    Err((_, e)) => Err(e),
                }
            } else {
                driver.execute(&st.sql).await
            };
            if let Err(e) = result {
                if in_tx {
                    let _ = driver.execute("ROLLBACK").await;
                }
                // MySQL: the data statements since the last implicit commit go back with their progress.
                let done = if progress_with_statement {
                    let _ = driver.execute("ROLLBACK").await;
                    committed_upto
                } else {
                    i
                };
                let committed = if transactional {
                    Vec::new()
                } else {
                    statements[..done]
                        .iter()
                        .enumerate()
                        .map(|(j, s)| (j + 1, s.sql.clone()))
                        .collect()
                };
                return Err(statement_failure(
                    script,
                    step,
                    section,
                    &statements,
                    i,
                    e,
                    committed,
                    std::mem::take(&mut open_tx),
                    transactional,
                ));
            }
            if track && !progress_with_statement {
                driver
                    .execute(&progress_sql(i + 1))
                    .await
                    .map_err(db_err("recording the step's progress"))?;
            }
        }
        let book = || {
            let ms = started.elapsed().as_millis().to_string();
            bookkeeping(m, dialect, step, graph, &started_text, &ms)
        };
        if transactional {
            open_tx.push(script.revision.clone());
            let book = book();
            if m.options.transaction_per_migration {
                let sql = format!("{book};\nCOMMIT");
                if let Err(e) = driver.execute(&sql).await {
                    let _ = driver.execute("ROLLBACK").await;
                    return Err(db_err(format!("recording revision {}", script.revision))(e));
                }
                in_tx = false;
                open_tx.clear();
            } else if let Err(e) = driver.execute(&book).await {
                let _ = driver.execute("ROLLBACK").await;
                return Err(db_err(format!("recording revision {}", script.revision))(e));
            }
        } else if progress_with_statement {
            if !finished {
                // No statement left to carry the bookkeeping (an empty step, or one resumed after its last).
                if let Err(e) = driver.execute(&finish(&mysql_book())).await {
                    let _ = driver.execute("ROLLBACK").await;
                    return Err(db_err(format!(
                        "recording revision {} (its statements were committed; the version table was not updated)",
                        script.revision
                    ))(e));
                }
            }
            progress_preinserted = next.is_some();
            autocommit_off = next.is_some();
        } else {
            let done = if track {
                format!(
                    ";\nDELETE FROM {} WHERE {progress_where}",
                    m.options.progress_table
                )
            } else {
                String::new()
            };
            let sql = format!("{};\n{}{done};\nCOMMIT", begin_sql(dialect), book());
            if let Err(e) = driver.execute(&sql).await {
                let _ = driver.execute("ROLLBACK").await;
                return Err(db_err(format!(
                    "recording revision {} (its statements were committed; the version table was not updated)",
                    script.revision
                ))(e));
            }
        }
        events(Event::StepFinished {
            step: info.clone(),
            duration: started.elapsed(),
        });
    }
    if in_tx {
        commit(driver, &mut in_tx, &mut open_tx).await?;
    }
    Ok(())
}

enum BatchFailure {
    /// The statement at this index failed.
    Statement(usize, DbError),
    /// Something else failed (the bookkeeping, or the commit).
    Other(DbError),
}

/// `BEGIN; statements; bookkeeping; COMMIT` in one round trip. On failure the transaction is rolled back and
/// the failing statement named: from the server's error position where it gives one, else from the number
/// of statements that completed. Nothing runs twice.
async fn run_batch<D: Driver>(
    driver: &mut D,
    statements: &[Statement],
    book: &str,
) -> Result<(), BatchFailure> {
    let dialect = driver.dialect();
    let size: usize = statements.iter().map(|s| s.sql.len()).sum();
    if dialect == Dialect::Sqlite && size > SQLITE_BATCH_BYTES {
        return run_batch_in_pieces(driver, statements, book).await;
    }
    // Positions are counted in characters: that is how PostgreSQL reports them.
    let mut text = format!("{};\n", begin_sql(dialect));
    // Statements before the revision's own: BEGIN, and the dialect's transaction setup.
    let mut preamble = 1;
    if let Some(setup) = driver.transaction_setup() {
        text.push_str(setup);
        text.push_str(";\n");
        preamble += 1;
    }
    let mut chars = text.chars().count();
    let mut starts = Vec::with_capacity(statements.len());
    for st in statements {
        starts.push(chars);
        text.push_str(&st.sql);
        // On its own line: a statement may end in a `--` comment that would swallow the `;`.
        text.push_str("\n;\n");
        chars += st.sql.chars().count() + 3;
    }
    let book_start = chars;
    text.push_str(book);
    text.push_str(";\nCOMMIT");
    let Err((completed, e)) = driver.execute_counting(&text).await else {
        return Ok(());
    };
    let _ = driver.execute("ROLLBACK").await;
    // PostgreSQL says where (in characters of the whole text); otherwise the count of completed statements
    // does: the preamble comes first, so the failing statement is `completed - preamble`.
    if let Some(pos) = e.position {
        let at = pos.saturating_sub(1);
        if at >= book_start {
            return Err(BatchFailure::Other(e));
        }
        if let Some(i) = starts.iter().rposition(|&s| s <= at) {
            let relative = DbError {
                position: Some(at - starts[i] + 1),
                ..e
            };
            return Err(BatchFailure::Statement(i, relative));
        }
        return Err(BatchFailure::Other(e));
    }
    match completed.checked_sub(preamble) {
        Some(i) if i < statements.len() => Err(BatchFailure::Statement(i, e)),
        _ => Err(BatchFailure::Other(e)),
    }
}

/// SQLite copies the rest of a multi-statement text each time it prepares the next statement, so one text
/// of tens of thousands of statements costs quadratic time (64,000 INSERTs: 84 s). A big revision goes as
/// pieces of about this size, still in one transaction.
const SQLITE_BATCH_BYTES: usize = 8 * 1024;

/// [`run_batch`] for a big SQLite revision: `BEGIN`, the statements in pieces of bounded size, then the
/// bookkeeping and `COMMIT`, all in one transaction. A failure is located by the count of statements that
/// completed in its piece.
async fn run_batch_in_pieces<D: Driver>(
    driver: &mut D,
    statements: &[Statement],
    book: &str,
) -> Result<(), BatchFailure> {
    let dialect = driver.dialect();
    let fail_other = async |driver: &mut D, e: DbError| {
        let _ = driver.execute("ROLLBACK").await;
        Err(BatchFailure::Other(e))
    };
    if let Err(e) = driver.execute(begin_sql(dialect)).await {
        return Err(BatchFailure::Other(e));
    }
    let mut first = 0;
    while first < statements.len() {
        let mut text = String::new();
        let mut end = first;
        while end < statements.len() && (end == first || text.len() < SQLITE_BATCH_BYTES) {
            text.push_str(&statements[end].sql);
            text.push_str("\n;\n");
            end += 1;
        }
        if let Err((completed, e)) = driver.execute_counting(&text).await {
            let _ = driver.execute("ROLLBACK").await;
            return match first.checked_add(completed) {
                Some(i) if i < end => Err(BatchFailure::Statement(i, e)),
                _ => Err(BatchFailure::Other(e)),
            };
        }
        first = end;
    }
    if let Err((_, e)) = driver.execute_counting(&format!("{book};\nCOMMIT")).await {
        return fail_other(driver, e).await;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn statement_failure(
    script: &crate::script::Script,
    step: &Step,
    section: &crate::script::Section,
    statements: &[Statement],
    i: usize,
    e: DbError,
    committed: Vec<(usize, String)>,
    rolled_back_steps: Vec<String>,
    transactional: bool,
) -> Error {
    let st = &statements[i];
    MigrateError::Statement(Box::new(StatementFailure {
        transactional,
        revision: script.revision.clone(),
        file: script.path.clone(),
        direction: step.direction,
        index: i + 1,
        count: statements.len(),
        line: section.start_line + st.line - 1 + line_within(st, e.position),
        sql: st.sql.clone(),
        error: e.message,
        committed,
        rolled_back_steps,
    }))
    .into()
}

async fn commit<D: Driver>(driver: &mut D, in_tx: &mut bool, open: &mut Vec<String>) -> Result<()> {
    driver
        .execute("COMMIT")
        .await
        .map_err(db_err(format!("committing {}", open.join(", "))))?;
    *in_tx = false;
    open.clear();
    Ok(())
}

/// Whether MySQL commits implicitly around `sql` (DDL, account and lock statements, transaction control):
/// such a statement is sent with a COMMIT of its own. When in doubt, yes: an extra commit costs an fsync,
/// a missing one a progress record that lags. A procedure `CALL` may run DDL, so it counts too.
fn commits_implicitly(sql: &str) -> bool {
    let first = sql
        .split(|c: char| !c.is_ascii_alphabetic())
        .find(|w| !w.is_empty())
        .unwrap_or("")
        .to_ascii_uppercase();
    !matches!(
        first.as_str(),
        "INSERT" | "UPDATE" | "DELETE" | "REPLACE" | "SELECT" | "WITH" | "DO" | "VALUES" | "TABLE"
    )
}

/// SQLite's `PRAGMA foreign_key_check` reports violations as rows instead of failing.
fn is_foreign_key_check(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split(|c: char| c.is_whitespace() || c == '(' || c == ';')
        .filter(|w| !w.is_empty())
        .take(2)
        .map(str::to_ascii_lowercase)
        .collect();
    words.len() == 2
        && words[0] == "pragma"
        && words[1].trim_start_matches("main.") == "foreign_key_check"
}

/// Lines into the statement where PostgreSQL says the error is (a 1-based character position).
fn line_within(st: &Statement, position: Option<usize>) -> usize {
    let Some(pos) = position else { return 0 };
    st.sql
        .chars()
        .take(pos.saturating_sub(1))
        .filter(|&c| c == '\n')
        .count()
}

async fn rewrite_versions<D: Driver>(m: &Migrator, driver: &mut D, heads: &[Rev]) -> Result<()> {
    let dialect = driver.dialect();
    let mut sql = vec![
        begin_sql(dialect).to_string(),
        format!("DELETE FROM {}", m.options.version_table),
    ];
    for r in heads {
        sql.push(format!(
            "INSERT INTO {} (version_num) VALUES ({})",
            m.options.version_table,
            literal(m.graph.id(*r), dialect)
        ));
    }
    sql.push("COMMIT".into());
    driver
        .execute(&sql.join(";\n"))
        .await
        .map_err(db_err("rewriting the version table"))
}

/// The progress row of an interrupted step.
#[derive(Debug, Clone)]
struct ProgressRow {
    revision: String,
    direction: String,
    done: usize,
    started_at: String,
    by: String,
}

async fn read_progress<D: Driver>(m: &Migrator, driver: &mut D) -> Result<Option<ProgressRow>> {
    let t = &m.options.progress_table;
    let rows = driver
        .query_text(&progress_sql(m, driver.dialect()))
        .await
        .map_err(db_err(format!("reading {t}")))?;
    Ok(progress_row(rows))
}

fn progress_sql(m: &Migrator, dialect: Dialect) -> String {
    let done = match dialect {
        Dialect::Postgres => "statements_done::text",
        Dialect::Mysql => "CAST(statements_done AS CHAR)",
        Dialect::Sqlite => "CAST(statements_done AS TEXT)",
    };
    format!(
        "SELECT revision, direction, {done}, started_at, applied_by FROM {}",
        m.options.progress_table
    )
}

fn progress_row(rows: Vec<Vec<Option<String>>>) -> Option<ProgressRow> {
    rows.into_iter().next().and_then(|r| {
        let mut it = r.into_iter();
        Some(ProgressRow {
            revision: it.next().flatten()?,
            direction: it.next().flatten()?,
            done: it.next().flatten()?.parse().ok()?,
            started_at: it.next().flatten()?,
            by: it.next().flatten()?,
        })
    })
}

fn describe_interrupted(m: &Migrator, dialect: Dialect, row: &ProgressRow) -> super::Interrupted {
    let script = m.graph.get(&row.revision).map(|r| m.graph.script(r));
    let statements = script.and_then(|s| {
        let body = if row.direction == "down" {
            s.down_for(dialect)
        } else {
            s.up_for(dialect)
        }?;
        Some(split(body.0, dialect))
    });
    super::Interrupted {
        revision: row.revision.clone(),
        direction: row.direction.clone(),
        file: script.map(|s| s.path.clone()),
        done: row.done,
        committed: statements
            .as_ref()
            .map(|st| st.iter().take(row.done).map(|s| s.sql.clone()).collect())
            .unwrap_or_default(),
        total: statements.map(|st| st.len()),
        started_at: row.started_at.clone(),
        by: row.by.clone(),
    }
}

/// `alembix repair`: forget the interrupted step (its committed statements were undone by hand), with a
/// history row saying so.
async fn repair<D: Driver>(
    m: &Migrator,
    driver: &mut D,
    interrupted: Option<ProgressRow>,
) -> Result<Outcome> {
    let Some(row) = interrupted else {
        return Err(Error::Usage(
            "nothing to repair: no interrupted step is recorded in this database".into(),
        ));
    };
    let dialect = driver.dialect();
    let sql = [
        begin_sql(dialect).to_string(),
        format!("DELETE FROM {}", m.options.progress_table),
        history_insert(m, dialect, &row.revision, "repair", None, &now_text(), "0"),
        "COMMIT".into(),
    ];
    driver
        .execute(&sql.join(";\n"))
        .await
        .map_err(db_err("clearing the interrupted step"))?;
    Ok(Outcome::default())
}

/// Record every revision applied below `heads` as adopted (direction `adopt`), in one transaction.
async fn adopt<D: Driver>(m: &Migrator, driver: &mut D, heads: &[Rev]) -> Result<()> {
    let dialect = driver.dialect();
    let applied = m.graph.ancestors_mask(heads);
    let now = now_text();
    let mut sql = vec![begin_sql(dialect).to_string()];
    for &r in m.graph.topological() {
        if applied[r.index()] {
            let s = m.graph.script(r);
            sql.push(history_insert(
                m,
                dialect,
                &s.revision,
                "adopt",
                s.runs_on(dialect)
                    .then(|| s.checksum_for(dialect))
                    .as_deref(),
                &now,
                "0",
            ));
        }
    }
    sql.push("COMMIT".into());
    driver
        .execute(&sql.join(";\n"))
        .await
        .map_err(db_err("recording the adopted revisions"))
}

/// Write the version table for a stamp, with one history row per stamped revision.
async fn stamp<D: Driver>(m: &Migrator, driver: &mut D, plan: &Plan, rewrite: bool) -> Result<()> {
    let dialect = driver.dialect();
    let graph = &m.graph;
    if plan.steps.is_empty() && !rewrite {
        return Ok(());
    }
    let now = now_text();
    let mut sql = vec![
        begin_sql(dialect).to_string(),
        format!("DELETE FROM {}", m.options.version_table),
    ];
    for r in &plan.heads_after {
        sql.push(format!(
            "INSERT INTO {} (version_num) VALUES ({})",
            m.options.version_table,
            literal(graph.id(*r), dialect)
        ));
    }
    for step in &plan.steps {
        let s = graph.script(step.revision);
        // An up-stamp vouches for the file as it is now; a down-stamp forgets the revision.
        let (direction, checksum) = match step.direction {
            Direction::Up => ("stamp", Some(s.checksum_for(dialect))),
            Direction::Down => ("down", None),
        };
        sql.push(history_insert(
            m,
            dialect,
            &s.revision,
            direction,
            checksum.as_deref(),
            &now,
            "0",
        ));
    }
    sql.push("COMMIT".into());
    driver
        .execute(&sql.join(";\n"))
        .await
        .map_err(db_err("writing the version table"))
}

/// Record the files' current checksums for applied revisions (all edited ones when `revs` is empty).
async fn rehash<D: Driver>(
    m: &Migrator,
    driver: &mut D,
    current: &[Rev],
    revs: &[String],
) -> Result<Outcome> {
    let graph = &m.graph;
    let applied = graph.ancestors_mask(current);
    let recorded = recorded_checksums(m, driver).await?;
    let mut targets = Vec::new();
    if revs.is_empty() {
        for &r in graph.topological() {
            let s = graph.script(r);
            if applied[r.index()]
                && recorded
                    .get(&s.revision)
                    .is_some_and(|c| *c != s.checksum_for(driver.dialect()))
            {
                targets.push(r);
            }
        }
    } else {
        for expr in revs {
            let r = graph.resolve_one(expr, Some(current))?;
            if !applied[r.index()] {
                return Err(Error::Usage(format!(
                    "revision {} is not applied; only applied revisions have a recorded checksum",
                    graph.id(r)
                )));
            }
            targets.push(r);
        }
    }
    let dialect = driver.dialect();
    let now = now_text();
    if !targets.is_empty() {
        let mut sql = vec![begin_sql(dialect).to_string()];
        for &r in &targets {
            let s = graph.script(r);
            sql.push(history_insert(
                m,
                dialect,
                &s.revision,
                "rehash",
                Some(&s.checksum_for(dialect)),
                &now,
                "0",
            ));
        }
        sql.push("COMMIT".into());
        driver
            .execute(&sql.join(";\n"))
            .await
            .map_err(db_err("recording checksums"))?;
    }
    Ok(Outcome {
        steps: targets
            .iter()
            .map(|&r| {
                let s = graph.script(r);
                PlannedStep {
                    revision: s.revision.clone(),
                    direction: Direction::Up,
                    from: Vec::new(),
                    message: s.message.clone(),
                    path: s.path.clone(),
                    transactional: s.transactional,
                }
            })
            .collect(),
        heads_before: graph.ids(current),
        heads_after: graph.ids(current),
        sql: Vec::new(),
    })
}

/// What the database says, before it is matched with the revision files: the version-table rows and the
/// latest history row of each. Needs no graph, so the files can be loaded at the same time.
#[derive(Debug, Clone, Default)]
pub struct RawCurrent {
    pub rows: Vec<String>,
    /// revision -> (direction, started_at, applied_by)
    last: HashMap<String, (String, String, String)>,
}

fn version_rows_sql(opts: &super::MigrateOptions) -> String {
    format!("SELECT version_num FROM {}", opts.version_table)
}

fn version_rows(rows: Vec<Vec<Option<String>>>) -> Vec<String> {
    rows.into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect()
}

/// The rows of the version table, which exists.
async fn read_version_rows<D: Driver>(
    opts: &super::MigrateOptions,
    driver: &mut D,
) -> Result<Vec<String>> {
    let rows = driver
        .query_text(&version_rows_sql(opts))
        .await
        .map_err(db_err(format!("reading {}", opts.version_table)))?;
    Ok(version_rows(rows))
}

pub(crate) async fn read_current(
    opts: &super::MigrateOptions,
    conn: &mut Connection,
    history: bool,
) -> Result<RawCurrent> {
    let h = &opts.history_table;
    // Both tables in one round trip (`current` is a read command: its catalog queries are most of it).
    let exist = conn
        .tables_exist(&[&opts.version_table, h])
        .await
        .map_err(db_err("checking for the version and history tables"))?;
    if !exist[0] {
        return Ok(RawCurrent::default());
    }
    let rows = read_version_rows(opts, conn).await?;
    let mut last = HashMap::new();
    if history && !rows.is_empty() && exist[1] {
        let ids: Vec<String> = rows.iter().map(|r| literal(r, conn.dialect())).collect();
        let found = conn
            .query_text(&format!(
                "SELECT revision, direction, started_at, applied_by FROM {h} WHERE id IN \
                 (SELECT MAX(id) FROM {h} WHERE revision IN ({}) GROUP BY revision)",
                ids.join(", ")
            ))
            .await
            .map_err(db_err(format!("reading {h}")))?;
        for r in found {
            if let [Some(rev), Some(dir), Some(at), Some(by)] = &r[..] {
                last.insert(rev.clone(), (dir.clone(), at.clone(), by.clone()));
            }
        }
    }
    Ok(RawCurrent { rows, last })
}

/// The rows matched with the revision files.
pub(crate) fn describe_current(graph: &RevisionGraph, raw: &RawCurrent) -> Vec<CurrentHead> {
    raw.rows
        .iter()
        .map(|row| {
            let rev = graph.get(row);
            let hist = raw.last.get(row);
            CurrentHead {
                revision: row.clone(),
                known: rev.is_some(),
                is_head: rev.is_some_and(|r| graph.is_head(r)),
                message: rev.map(|r| graph.script(r).message.clone()),
                applied_at: hist.map(|h| h.1.clone()),
                applied_by: hist.map(|h| h.2.clone()),
                direction: hist.map(|h| h.0.clone()),
            }
        })
        .collect()
}
