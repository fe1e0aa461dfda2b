//! Running revisions against a database: the `Migrator` (the API apps embed and the CLI calls), its
//! events and errors. The apply loop lives in `executor`; it runs against a real connection, or against a
//! recorder for `--dry-run` and `--sql`, so there is one loop.

mod executor;
pub mod split;

use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Duration;

use crate::config::Config;
use crate::dialect::{self, Connection};
use crate::error::{Error, Result};
use crate::graph::{Direction, RevisionGraph};
use crate::script::{self, Script};
use crate::url::{DatabaseUrl, Dialect};

pub use executor::{Operation, RawCurrent};

/// Default name of the append-only history table.
pub const DEFAULT_HISTORY_TABLE: &str = "alembix_history";
/// Default name of the table that records a step whose statements commit one by one while it runs.
pub const DEFAULT_PROGRESS_TABLE: &str = "alembix_progress";

#[derive(Debug, Clone)]
pub struct MigrateOptions {
    pub version_table: String,
    pub history_table: String,
    /// One row while a step whose statements commit one by one (MySQL, `Transactional: false`) runs: how
    /// many have committed, so an interrupted run is found and can be resumed.
    pub progress_table: String,
    /// Continue an interrupted step from its first statement that had not committed.
    pub resume: bool,
    /// Each revision commits on its own (true), or consecutive transactional revisions share one
    /// transaction (false; PostgreSQL and SQLite).
    pub transaction_per_migration: bool,
    /// How long to wait for another run's migration lock.
    pub lock_timeout: Duration,
    /// Retry connecting for this long while the server refuses connections.
    pub wait: Option<Duration>,
    /// Run revisions marked `-- Review:` anyway (the import's own proof run).
    pub allow_review: bool,
}

impl Default for MigrateOptions {
    fn default() -> Self {
        MigrateOptions {
            version_table: crate::config::DEFAULT_VERSION_TABLE.into(),
            history_table: DEFAULT_HISTORY_TABLE.into(),
            progress_table: DEFAULT_PROGRESS_TABLE.into(),
            resume: false,
            transaction_per_migration: true,
            lock_timeout: Duration::from_secs(300),
            wait: None,
            allow_review: false,
        }
    }
}

impl MigrateOptions {
    pub fn from_config(config: &Config) -> MigrateOptions {
        // The history table lives in the same schema as the version table.
        let beside = |name: &str| match config.version_table.rsplit_once('.') {
            Some((schema, _)) => format!("{schema}.{name}"),
            None => name.to_string(),
        };
        MigrateOptions {
            version_table: config.version_table.clone(),
            history_table: beside(DEFAULT_HISTORY_TABLE),
            progress_table: beside(DEFAULT_PROGRESS_TABLE),
            transaction_per_migration: config.transaction_per_migration,
            ..MigrateOptions::default()
        }
    }
}

/// Progress, as it happens. The library never prints; the CLI renders these.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Event {
    ConnectRetry {
        attempt: u32,
        message: String,
    },
    LockWait {
        holder: Option<String>,
    },
    LockAcquired {
        waited: Duration,
    },
    /// The database was migrated by another tool (Alembic): its applied revisions were recorded as adopted.
    Adopted {
        revisions: usize,
    },
    /// The version table had redundant rows (written by another tool); rewritten to the heads.
    VersionTableNormalised {
        rows: Vec<String>,
    },
    StepStarted {
        step: PlannedStep,
    },
    StepFinished {
        step: PlannedStep,
        duration: Duration,
    },
}

/// One step of a plan, in words.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlannedStep {
    pub revision: String,
    pub direction: Direction,
    /// The revisions on the other side of the step (parents going up, where it lands going down).
    pub from: Vec<String>,
    pub message: String,
    pub path: PathBuf,
    pub transactional: bool,
}

/// What a run did (or, for a dry run, would do).
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub steps: Vec<PlannedStep>,
    pub heads_before: Vec<String>,
    pub heads_after: Vec<String>,
    /// The SQL that was recorded instead of executed (dry run and offline).
    pub sql: Vec<String>,
}

/// A version-table row and what the history says about it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CurrentHead {
    pub revision: String,
    /// `false` when no revision file has this id.
    pub known: bool,
    pub is_head: bool,
    pub message: Option<String>,
    pub applied_at: Option<String>,
    pub applied_by: Option<String>,
    pub direction: Option<String>,
}

/// A statement that failed, with everything needed to find and fix it.
#[derive(Debug, Clone)]
pub struct StatementFailure {
    pub revision: String,
    pub file: PathBuf,
    pub direction: Direction,
    /// 1-based index of the statement in its section, and the section's statement count.
    pub index: usize,
    pub count: usize,
    /// Line in the file.
    pub line: usize,
    pub sql: String,
    pub error: String,
    /// Statements of this revision that had been committed before the failure (MySQL DDL, or a
    /// `Transactional: false` revision); empty when the step was rolled back.
    pub committed: Vec<(usize, String)>,
    /// Earlier revisions of this run rolled back with it (`transaction_per_migration = false`).
    pub rolled_back_steps: Vec<String>,
    /// Whether the step ran in a transaction (so a failure rolled it back).
    pub transactional: bool,
}

impl std::fmt::Display for StatementFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let dir = match self.direction {
            Direction::Up => "upgrade",
            Direction::Down => "downgrade",
        };
        writeln!(
            f,
            "{dir} of revision {} failed at statement {} of {} ({}:{}):",
            self.revision,
            self.index,
            self.count,
            self.file.display(),
            self.line
        )?;
        writeln!(f, "    {}", excerpt(&self.sql))?;
        writeln!(f, "  {}", self.error.replace('\n', "\n  "))?;
        if self.committed.is_empty() && !self.transactional {
            write!(
                f,
                "None of its statements had committed; the version table is unchanged. Fix the statement and run \
                 again."
            )?;
        } else if self.committed.is_empty() {
            write!(
                f,
                "The revision was rolled back; the version table is unchanged."
            )?;
            if !self.rolled_back_steps.is_empty() {
                write!(
                    f,
                    " Rolled back with it (one transaction for the run): {}.",
                    self.rolled_back_steps.join(", ")
                )?;
            }
        } else {
            writeln!(
                f,
                "These statements of the revision were already committed and could not be rolled back:"
            )?;
            for (i, sql) in &self.committed {
                writeln!(f, "    {i}: {}", excerpt(sql))?;
            }
            write!(
                f,
                "The version table was NOT updated: revision {} is partially applied. Fix statement {}, then run \
                 the same command with --resume (it continues from there); or undo those statements by hand and \
                 run `alembix repair`.",
                self.revision, self.index
            )?;
        }
        Ok(())
    }
}

fn excerpt(sql: &str) -> String {
    let first = sql.lines().next().unwrap_or("");
    let more = sql.lines().count() > 1;
    let mut s: String = first.chars().take(100).collect();
    if more || first.chars().count() > 100 {
        s.push_str(" …");
    }
    s
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    #[error("cannot connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("could not take the migration lock within {}{}; another alembix run is migrating this database (raise --lock-timeout to wait longer)",
        humantime(*waited), holder.as_ref().map(|h| format!(" (held by {h})")).unwrap_or_default())]
    LockTimeout {
        waited: Duration,
        holder: Option<String>,
    },
    #[error("{context}: {message}")]
    Database { context: String, message: String },
    #[error("{0}")]
    Statement(Box<StatementFailure>),
    #[error("Can't locate revision {revision}: the database's version table names it, but no file in {dir} has \
             `-- Revision ID: {revision}`. Restore the file (e.g. from version control); if it was removed on purpose, \
             record where the database really is with `alembix stamp --purge REV`")]
    UnknownRevision { revision: String, dir: String },
    #[error("{} applied revision(s) were edited after they ran on this database:\n{}\nRevert the edits, or if they \
             are intentional (the database already matches), record the new checksums with `alembix rehash REV...`",
        edits.len(), edits.iter().map(|e| format!("  {} ({}): applied {}, file now {}", e.revision, e.file.display(), &e.recorded[..12.min(e.recorded.len())], &e.actual[..12])).collect::<Vec<_>>().join("\n"))]
    Edited { edits: Vec<Edit> },
    #[error("revision {revision} ({}) {}", file.display(), match irreversible {
        Some(why) => format!("is irreversible: {why}. Nothing was downgraded; to go below it, restore from a backup or write a `-- migrate:down` section"),
        None => "has no `-- migrate:down` section, so it cannot be downgraded; add one (empty if there is nothing to undo)".to_string(),
    })]
    NoDownSection {
        revision: String,
        file: PathBuf,
        /// Why the revision has no down section, when its file says (`-- Irreversible: ...`).
        irreversible: Option<String>,
    },
    #[error("revision {revision} ({}) has no SQL for {dialect}: {}", file.display(), if has.is_empty() {
        "it has no section for every engine".to_string()
    } else {
        format!("its sections are for {} only; add a `-- migrate:up {dialect}` section (and its `-- migrate:down {dialect}`), or a plain `-- migrate:up` for every engine", has.iter().map(|d| d.name()).collect::<Vec<_>>().join(", "))
    })]
    NoBodyForDialect {
        revision: String,
        file: PathBuf,
        dialect: Dialect,
        has: Vec<Dialect>,
    },
    #[error("{}", interrupted_message(.0))]
    Interrupted(Box<Interrupted>),
    #[error("revision {revision} ({}) needs review before it runs: {why}\nRead it, make its SQL do what the original did, then delete its `-- Review:` header line", file.display())]
    NeedsReview {
        revision: String,
        file: PathBuf,
        why: String,
    },
}

/// A step whose statements commit one by one that did not finish: a crash, a restart, a failed statement.
#[derive(Debug, Clone)]
pub struct Interrupted {
    pub revision: String,
    pub direction: String,
    pub file: Option<PathBuf>,
    /// How many of its statements had committed, and the statements themselves when the file is there.
    pub done: usize,
    pub committed: Vec<String>,
    pub total: Option<usize>,
    pub started_at: String,
    pub by: String,
}

fn interrupted_message(i: &Interrupted) -> String {
    let mut s = format!(
        "the {} of revision {}{} was interrupted: it started at {} (by {}), and {} of its {}statements had \
         committed; it is not recorded as applied.",
        if i.direction == "down" { "downgrade" } else { "upgrade" },
        i.revision,
        i.file
            .as_ref()
            .map(|f| format!(" ({})", f.display()))
            .unwrap_or_default(),
        i.started_at,
        i.by,
        i.done,
        i.total.map(|t| format!("{t} ")).unwrap_or_default(),
    );
    for (n, sql) in i.committed.iter().enumerate() {
        s.push_str(&format!("\n    {}: {}", n + 1, excerpt(sql)));
    }
    s.push_str(&format!(
        "\nTo finish it, fix what failed and run the same command with --resume (it continues from statement {}). \
         To start over, undo the committed statements by hand and run `alembix repair`.",
        i.done + 1
    ));
    s
}

#[derive(Debug, Clone)]
pub struct Edit {
    pub revision: String,
    pub file: PathBuf,
    pub recorded: String,
    pub actual: String,
}

fn humantime(d: Duration) -> String {
    if d.as_secs() >= 1 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// Where revisions come from when they are compiled into an application (see [`crate::embed!`]).
#[derive(Debug, Clone, Default)]
pub struct EmbeddedMigrations {
    files: Vec<(String, Cow<'static, [u8]>)>,
}

impl EmbeddedMigrations {
    #[doc(hidden)]
    pub fn from_embed<E: rust_embed::RustEmbed>() -> EmbeddedMigrations {
        let mut files: Vec<(String, Cow<'static, [u8]>)> = E::iter()
            .filter(|name| name.ends_with(".sql") && !name.contains('/'))
            .filter_map(|name| E::get(&name).map(|f| (name.to_string(), f.data)))
            .collect();
        files.sort_by(|a, b| a.0.cmp(&b.0));
        EmbeddedMigrations { files }
    }

    /// Files given directly: `(file name, contents)`.
    pub fn from_files(files: impl IntoIterator<Item = (String, String)>) -> EmbeddedMigrations {
        EmbeddedMigrations {
            files: files
                .into_iter()
                .map(|(n, t)| (n, Cow::Owned(t.into_bytes())))
                .collect(),
        }
    }

    fn scripts(&self) -> Result<Vec<Script>> {
        self.files
            .iter()
            .map(|(name, data)| {
                let path = PathBuf::from(name);
                let text = String::from_utf8(data.to_vec()).map_err(|_| script::ScriptError {
                    path: path.clone(),
                    line: None,
                    message: "not valid UTF-8".into(),
                })?;
                Ok(script::parse(&path, text)?)
            })
            .collect()
    }
}

/// Embed a migrations directory (relative to the crate's `Cargo.toml`) into the binary at compile time.
///
/// ```ignore
/// let migrator = alembix::Migrator::new(alembix::embed!("migrations"))?;
/// migrator.upgrade(&std::env::var("DATABASE_URL")?, "head").await?;
/// ```
#[macro_export]
macro_rules! embed {
    ($dir:tt) => {{
        #[derive($crate::__private::RustEmbed)]
        #[folder = $dir]
        #[crate_path = "alembix::__private::rust_embed"]
        struct AlembixEmbeddedMigrations;
        $crate::migrate::EmbeddedMigrations::from_embed::<AlembixEmbeddedMigrations>()
    }};
}

/// Runs revisions against databases. Shared by the CLI and embedding applications: same lock, checks,
/// history and apply loop.
pub struct Migrator {
    graph: RevisionGraph,
    /// Where the revision files live, for messages.
    source: String,
    options: MigrateOptions,
}

impl std::fmt::Debug for Migrator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Migrator")
            .field("graph", &self.graph)
            .field("source", &self.source)
            .finish()
    }
}

impl Migrator {
    /// From revisions embedded with [`crate::embed!`].
    pub fn new(migrations: EmbeddedMigrations) -> Result<Migrator> {
        Ok(Migrator {
            graph: RevisionGraph::new(migrations.scripts()?)?,
            source: "the embedded migrations".into(),
            options: MigrateOptions::default(),
        })
    }

    /// From a project's config (its migrations directory and options).
    pub fn from_config(config: &Config) -> Result<Migrator> {
        Ok(Migrator {
            graph: crate::project::load_graph(config)?,
            source: config.migrations.display().to_string(),
            options: MigrateOptions::from_config(config),
        })
    }

    /// [`Migrator::from_config`] with the graph from the header index where it can (see
    /// [`crate::project::load_graph_headers`]): for reading the state (`current`, `history`, `show`), and for
    /// `upgrade` / `downgrade`, which read the bodies of the steps they run (before the first runs) and take
    /// the checksums of the applied revisions from the index.
    pub fn from_config_headers(config: &Config) -> Result<Migrator> {
        Ok(Migrator {
            graph: crate::project::load_graph_headers(config)?,
            source: config.migrations.display().to_string(),
            options: MigrateOptions::from_config(config),
        })
    }

    pub fn with_options(mut self, options: MigrateOptions) -> Migrator {
        self.options = options;
        self
    }

    pub fn options(&self) -> &MigrateOptions {
        &self.options
    }

    pub fn graph(&self) -> &RevisionGraph {
        &self.graph
    }

    /// Upgrade the database at `url` to `target` (e.g. `"head"`).
    pub async fn upgrade(&self, url: &str, target: &str) -> Result<Outcome> {
        let url = parse_url(url)?;
        self.run(&url, &Operation::Upgrade(target.into()), false, &mut |_| {})
            .await
    }

    /// Downgrade the database at `url` to `target` (e.g. `"-1"` or `"base"`).
    pub async fn downgrade(&self, url: &str, target: &str) -> Result<Outcome> {
        let url = parse_url(url)?;
        self.run(
            &url,
            &Operation::Downgrade(target.into()),
            false,
            &mut |_| {},
        )
        .await
    }

    /// The version-table rows of the database at `url`.
    pub async fn current(&self, url: &str) -> Result<Vec<CurrentHead>> {
        let url = parse_url(url)?;
        self.current_of(&url, &mut |_| {}).await
    }

    /// Connect, take the lock (unless `dry_run`), run `op`, release the lock on every path.
    pub async fn run(
        &self,
        url: &DatabaseUrl,
        op: &Operation,
        dry_run: bool,
        events: &mut dyn FnMut(Event),
    ) -> Result<Outcome> {
        run_loading(url, &self.options, async { Ok(self) }, op, dry_run, events).await
    }

    /// Run `op` on a connection the caller owns and nobody else uses (a scratch database): no lock.
    pub async fn run_on(
        &self,
        conn: &mut Connection,
        op: &Operation,
        events: &mut dyn FnMut(Event),
    ) -> Result<Outcome> {
        executor::execute(self, conn, op, None, events).await
    }

    /// The SQL for `op` without a database (`--sql`): `start` is where the database is assumed to be.
    pub async fn offline(
        &self,
        dialect: Dialect,
        op: &Operation,
        start: Vec<String>,
    ) -> Result<Outcome> {
        let mut recorder = executor::Recorder::new(dialect, None);
        let outcome = executor::execute(self, &mut recorder, op, Some(start), &mut |_| {}).await?;
        Ok(Outcome {
            sql: recorder.log,
            ..outcome
        })
    }

    pub async fn current_of(
        &self,
        url: &DatabaseUrl,
        events: &mut dyn FnMut(Event),
    ) -> Result<Vec<CurrentHead>> {
        let raw = read_current(url, &self.options, true, events).await?;
        Ok(self.describe_current(&raw))
    }

    /// Match rows read by [`read_current`] with this migrator's revisions.
    pub fn describe_current(&self, raw: &RawCurrent) -> Vec<CurrentHead> {
        executor::describe_current(&self.graph, raw)
    }
}

/// [`Migrator::run`] with a migrator that is still being loaded (`load`: the revision files read on another
/// thread, say): the connections are opened and the lock is taken meanwhile, and the run waits for the
/// migrator only when it needs the revisions. `options` are the connection and lock options the migrator
/// will have. No bookkeeping table is read or written before both are ready; a failed load releases the
/// lock and closes the connections.
pub async fn run_loading<M: std::borrow::Borrow<Migrator>>(
    url: &DatabaseUrl,
    options: &MigrateOptions,
    load: impl std::future::Future<Output = Result<M>>,
    op: &Operation,
    dry_run: bool,
    events: &mut dyn FnMut(Event),
) -> Result<Outcome> {
    // Load first where overlapping gains nothing: SQLite opens a file in a millisecond (and opening creates
    // it, so a project that fails to load would leave an empty database behind); a dry run takes no lock.
    if !dry_run && url.dialect() != Dialect::Sqlite {
        return connect_lock_and_run(url, options, load, op, events).await;
    }
    let m = load.await?;
    if !dry_run {
        return connect_lock_and_run(url, options, async { Ok(m) }, op, events).await;
    }
    let mut conn = connect(url, options.wait, events).await?;
    let mut recorder = executor::Recorder::new(url.dialect(), Some(&mut conn));
    let result = executor::execute(m.borrow(), &mut recorder, op, None, events).await;
    let sql = std::mem::take(&mut recorder.log);
    drop(recorder);
    conn.close().await;
    result.map(|o| Outcome { sql, ..o })
}

/// Connect and take the lock while `load` runs, then run.
async fn connect_lock_and_run<M: std::borrow::Borrow<Migrator>>(
    url: &DatabaseUrl,
    options: &MigrateOptions,
    load: impl std::future::Future<Output = Result<M>>,
    op: &Operation,
    events: &mut dyn FnMut(Event),
) -> Result<Outcome> {
    let lock = dialect::lock_name(url, &options.version_table);
    let (opened, m) = {
        let opened = open_locked(url, options, &lock, events);
        tokio::pin!(opened, load);
        tokio::select! {
            m = &mut load => match m {
                // A broken project is reported at once, not after waiting for the server (`--wait`).
                Err(e) => return Err(e),
                Ok(m) => (opened.await, m),
            },
            o = &mut opened => match (o, load.await) {
                (o, Ok(m)) => (o, m),
                // The project's error first, as when the files were read before connecting.
                (Ok((conn, lock_conn)), Err(e)) => {
                    release(conn, lock_conn, &lock).await;
                    return Err(e);
                }
                (Err(_), Err(e)) => return Err(e),
            },
        }
    };
    let (mut conn, lock_conn) = opened?;
    let result = executor::execute(m.borrow(), &mut conn, op, None, events).await;
    release(conn, lock_conn, &lock).await;
    result
}

/// Release the lock and close the run's connections (closing releases the lock too, should unlocking fail).
async fn release(mut conn: Connection, lock_conn: Option<Connection>, lock: &str) {
    match lock_conn {
        Some(mut c) => {
            let _ = c.unlock(lock).await;
            c.close().await;
        }
        None => {
            let _ = conn.unlock(lock).await;
        }
    }
    conn.close().await;
}

/// The run's connection, and on PostgreSQL the one that holds the lock, with the lock taken.
async fn open_locked(
    url: &DatabaseUrl,
    options: &MigrateOptions,
    lock: &str,
    events: &mut dyn FnMut(Event),
) -> Result<(Connection, Option<Connection>)> {
    let (mut conn, mut lock_conn) = if dialect::lock_needs_own_connection(url.dialect()) {
        // PostgreSQL: the lock lives in a transaction of its own connection (see `dialect::postgres`).
        // Both connections are opened at once: each costs round trips (TCP, TLS, authentication), which
        // over a network or through a pooler are most of a run that has nothing to do. The lock
        // connection's retries (`--wait`) are not reported: the main connection reports the same wait.
        let mut quiet = |_: Event| {};
        let (conn, lock_conn) = tokio::join!(
            connect(url, options.wait, events),
            connect(url, options.wait, &mut quiet)
        );
        match (conn, lock_conn) {
            (Ok(conn), Ok(lock_conn)) => (conn, Some(lock_conn)),
            // The error of the one that failed (the main connection's when both did).
            (Ok(other), Err(e)) | (Err(e), Ok(other)) => {
                other.close().await;
                return Err(e);
            }
            (Err(e), Err(_)) => return Err(e),
        }
    } else {
        (connect(url, options.wait, events).await?, None)
    };
    let holder = lock_conn.as_mut().unwrap_or(&mut conn);
    if let Err(e) = executor::acquire_lock(holder, lock, options.lock_timeout, events).await {
        if let Some(c) = lock_conn {
            c.close().await;
        }
        conn.close().await;
        return Err(e);
    }
    Ok((conn, lock_conn))
}

/// The version-table rows and their latest history, without the revision files: a caller can load those at
/// the same time (`alembix current` does) and match them with [`Migrator::describe_current`].
///
/// With `history` unset the history table is not read (two queries fewer), and the heads have no
/// `applied_at`, `applied_by` or `direction`.
pub async fn read_current(
    url: &DatabaseUrl,
    options: &MigrateOptions,
    history: bool,
    events: &mut dyn FnMut(Event),
) -> Result<RawCurrent> {
    if let Some(crate::url::SqliteLocation::File(path)) = url.sqlite_location() {
        if !path.exists() {
            return Err(Error::Usage(format!(
                "no SQLite database at {} (reading never creates one; `alembix upgrade` does)",
                path.display()
            )));
        }
    }
    let mut conn = connect(url, options.wait, events).await?;
    let result = executor::read_current(options, &mut conn, history).await;
    conn.close().await;
    result
}

/// [`read_current`] on a connection the caller already has.
pub(crate) async fn read_current_on(
    options: &MigrateOptions,
    conn: &mut Connection,
) -> Result<RawCurrent> {
    executor::read_current(options, conn, true).await
}

async fn connect(
    url: &DatabaseUrl,
    wait: Option<Duration>,
    events: &mut dyn FnMut(Event),
) -> Result<Connection> {
    if url.dialect() == Dialect::Mysql && url.database().is_none() {
        return Err(Error::Usage(format!(
            "{url} names no database: MySQL keeps the version table in one, so give it as mysql://user@host/DBNAME"
        )));
    }
    Connection::connect(url, wait, |attempt, message| {
        events(Event::ConnectRetry {
            attempt,
            message: message.to_string(),
        })
    })
    .await
    .map_err(|e| {
        let lower = e.message.to_ascii_lowercase();
        let hint = if ["certificate", "tls", "ssl", "handshake"].iter().any(|w| lower.contains(w)) {
            " (a TLS problem, not a server that is down: check `sslmode` and `sslrootcert` in the URL)"
        } else if e.retryable && wait.is_none() {
            " (is the server running? `--wait 30s` retries while it starts)"
        } else {
            ""
        };
        MigrateError::Connect {
            url: url.to_string(),
            message: format!("{}{hint}", e.message),
        }
        .into()
    })
}

fn parse_url(url: &str) -> Result<DatabaseUrl> {
    DatabaseUrl::parse(url).map_err(|error| Error::Url {
        source_name: "the given URL".into(),
        error,
    })
}

/// `user@host`, recorded in the history table.
pub fn who() -> String {
    // Asked once per process: every step's history row names it, and asking the system reads the user
    // database (`/etc/passwd` through NSS) each time.
    static WHO: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    WHO.get_or_init(ask_who).clone()
}

fn ask_who() -> String {
    // `$USER` is often unset in containers: ask the operating system, then the environment.
    let user = whoami::username()
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            ["USER", "LOGNAME", "USERNAME"]
                .iter()
                .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        })
        .unwrap_or_else(|| "unknown".into());
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    format!("{user}@{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revision(dir: &std::path::Path, i: usize, body: &str) {
        let parent = if i == 0 {
            String::new()
        } else {
            format!("r{:04}", i - 1)
        };
        let text = format!(
            "-- step {i}\n-- Revision ID: r{i:04}\n-- Revises: {parent}\n\n-- migrate:up\n{body}\n\n\
             -- migrate:down\nDROP TABLE t{i};\n"
        );
        std::fs::write(dir.join(format!("r{i:04}_step.sql")), text).unwrap();
    }

    /// `upgrade` with nothing to do (every replica's start) reads no revision file the header index knows:
    /// the edit check takes the applied revisions' checksums from it. The steps that run are read, and an
    /// edited applied file is still caught (its stamp changed, so it is parsed again).
    #[tokio::test]
    async fn an_upgrade_reads_only_the_files_it_runs() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("m");
        std::fs::create_dir(&dir).unwrap();
        for i in 0..3 {
            revision(&dir, i, &format!("CREATE TABLE t{i} (a int);"));
        }
        let index = tmp.path().join("cache/revisions.idx");
        // Stamps are trusted only some seconds after a change: pretend that much time has passed.
        let later = std::time::SystemTime::now() + Duration::from_secs(60);
        let load = || Migrator {
            graph: RevisionGraph::new(
                crate::script::load_dir_indexed(&dir, &index, later).unwrap(),
            )
            .unwrap(),
            source: "test".into(),
            options: MigrateOptions::default(),
        };
        let read = |m: &Migrator| -> Vec<String> {
            let g = m.graph();
            g.topological()
                .iter()
                .map(|&r| g.script(r))
                .filter(|s| s.body_read())
                .map(|s| s.revision.clone())
                .collect()
        };
        let db = tmp.path().join("app.db");
        let url = DatabaseUrl::parse(&format!("sqlite:{}", db.display())).unwrap();
        let up = Operation::Upgrade("heads".into());
        load().run(&url, &up, false, &mut |_| {}).await.unwrap();

        let m = load();
        let outcome = m.run(&url, &up, false, &mut |_| {}).await.unwrap();
        assert!(outcome.steps.is_empty());
        assert_eq!(read(&m), Vec::<String>::new());

        revision(&dir, 3, "CREATE TABLE t3 (a int);");
        let m = load();
        let outcome = m.run(&url, &up, false, &mut |_| {}).await.unwrap();
        assert_eq!(outcome.steps.len(), 1);
        assert_eq!(read(&m), vec!["r0003".to_string()]);

        revision(&dir, 1, "CREATE TABLE t1 (b int);");
        let e = load().run(&url, &up, false, &mut |_| {}).await.unwrap_err();
        assert!(
            matches!(e, Error::Migrate(MigrateError::Edited { ref edits }) if edits.len() == 1),
            "{e}"
        );
    }
}
