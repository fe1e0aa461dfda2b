//! Database access. One module per engine, each with the same functions (`connect`, `try_lock`, `unlock`,
//! `lock_holder`, `table_exists_sql`, the bookkeeping DDL, `error`), and one enum that dispatches to them.

pub mod mysql;
pub mod postgres;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod server;
pub mod sqlite;

#[cfg(any(feature = "postgres", feature = "mysql"))]
pub use server::is_tls_error;

#[cfg(not(any(feature = "postgres", feature = "mysql", feature = "sqlite")))]
compile_error!("alembix needs at least one engine feature: `postgres`, `mysql` or `sqlite`");

use std::time::Duration;

use crate::schema::{Change, DiffOptions, Schema};
use crate::url::{DatabaseUrl, Dialect};

/// Read the connection's schema (all tables, views, enums) except the `exclude`d tables, normalised so that
/// two inspections of the same schema compare equal.
pub async fn inspect(conn: &mut Connection, exclude: &[String]) -> Result<Schema, DbError> {
    inspect_in(conn, exclude, &[]).await
}

/// [`inspect`], and on PostgreSQL the objects of the other `schemas` too (named `schema.name`); the other
/// engines have no such schemas and ignore them.
pub async fn inspect_in(
    conn: &mut Connection,
    exclude: &[String],
    schemas: &[String],
) -> Result<Schema, DbError> {
    inspect_scoped(conn, exclude, schemas, ProbeScope::Own, None).await
}

/// [`inspect_in`] inside a transaction the caller holds open (and will roll back): the probes that bring
/// PostgreSQL's printed checks and views to a fixed point undo themselves with a savepoint, not with a
/// rollback that would end the caller's transaction.
pub async fn inspect_in_transaction(
    conn: &mut Connection,
    exclude: &[String],
    schemas: &[String],
) -> Result<Schema, DbError> {
    inspect_scoped(conn, exclude, schemas, ProbeScope::Nested, None).await
}

/// Reads one connection's schema again and again, as [`inspect_in`] does, but faster from the second read
/// on: on PostgreSQL the catalog queries are prepared in the session (see
/// [`postgres::inspect::Prepared`]). For `verify`, which reads the scratch database three times per
/// revision.
#[derive(Debug, Default)]
pub struct Inspector {
    prepared: postgres::inspect::Prepared,
}

impl Inspector {
    pub fn new() -> Inspector {
        Inspector::default()
    }

    /// [`inspect_in`] on `conn`, which must be the same connection every time.
    pub async fn inspect_in(
        &mut self,
        conn: &mut Connection,
        exclude: &[String],
        schemas: &[String],
    ) -> Result<Schema, DbError> {
        inspect_scoped(
            conn,
            exclude,
            schemas,
            ProbeScope::Own,
            Some(&mut self.prepared),
        )
        .await
    }
}

async fn inspect_scoped(
    conn: &mut Connection,
    exclude: &[String],
    schemas: &[String],
    scope: ProbeScope,
    prepared: Option<&mut postgres::inspect::Prepared>,
) -> Result<Schema, DbError> {
    let mut schema = match (conn.dialect(), prepared) {
        // Other schemas are read with their names in the queries: only the current one is prepared.
        (Dialect::Postgres, Some(prepared)) if schemas.is_empty() => {
            postgres::inspect::inspect_prepared(conn, exclude, prepared).await?
        }
        (Dialect::Postgres, _) => postgres::inspect::inspect_in(conn, exclude, schemas).await?,
        (Dialect::Mysql, _) => mysql::inspect::inspect(conn, exclude).await?,
        (Dialect::Sqlite, _) => sqlite::inspect::inspect(conn, exclude).await?,
    };
    schema.normalise();
    stabilise_views(conn, &mut schema, scope).await;
    stabilise_checks(conn, &mut schema, scope).await;
    Ok(schema)
}

/// How the stabilising probes undo what they create: in a transaction of their own, or, when the caller
/// reads inside its own transaction (a declared schema built and read before it is rolled back), in a
/// savepoint of it, whose rollback keeps what the caller built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeScope {
    Own,
    Nested,
}

impl ProbeScope {
    pub(crate) fn begin(self) -> &'static str {
        match self {
            ProbeScope::Own => "BEGIN",
            ProbeScope::Nested => "SAVEPOINT alembix_probe",
        }
    }

    pub(crate) fn end(self) -> &'static str {
        match self {
            ProbeScope::Own => "ROLLBACK",
            ProbeScope::Nested => "ROLLBACK TO SAVEPOINT alembix_probe",
        }
    }
}

/// CHECK conditions at the form PostgreSQL prints for them when they are created again from printed text
/// (an IN list on a varchar column gains casts on the second round), so that a check created from a
/// declared schema and the same check created by the generated revision compare equal.
async fn stabilise_checks(conn: &mut Connection, schema: &mut Schema, scope: ProbeScope) {
    if conn.dialect() != Dialect::Postgres {
        return;
    }
    let probes: Vec<(String, String)> = schema
        .tables
        .iter()
        .flat_map(|t| {
            t.checks
                .iter()
                .map(|c| (t.name.clone(), c.expression.clone()))
        })
        .collect();
    if probes.is_empty() {
        return;
    }
    let stable = postgres::inspect::stable_check_expressions(conn, &probes, scope).await;
    let mut it = stable.into_iter();
    for t in &mut schema.tables {
        for c in &mut t.checks {
            if let Some(Some(expr)) = it.next() {
                c.expression = expr;
            }
        }
        t.checks
            .sort_by(|a, b| (&a.name, &a.expression).cmp(&(&b.name, &b.expression)));
    }
}

/// Bring view definitions to the form the server prints for them when re-created, so that a view written
/// by hand and the same view re-created from printed text compare equal. The probes run on the inspected
/// database itself (it has the tables the views read), in transactions that are rolled back.
async fn stabilise_views(conn: &mut Connection, schema: &mut Schema, scope: ProbeScope) {
    if conn.dialect() != Dialect::Postgres || schema.views.is_empty() {
        return;
    }
    let defs: Vec<String> = schema.views.iter().map(|v| v.definition.clone()).collect();
    let stable = postgres::inspect::stable_view_definitions(conn, &defs, scope).await;
    for (view, def) in schema.views.iter_mut().zip(stable) {
        if let Some(def) = def {
            view.definition = def;
        }
    }
}

/// SQL statements that apply `changes` (which turn `from` into `to`) on `dialect`.
pub fn render(dialect: Dialect, changes: &[Change], from: &Schema, to: &Schema) -> Vec<String> {
    match dialect {
        Dialect::Postgres => postgres::render::render(changes, from, to),
        Dialect::Mysql => mysql::render::render(changes, from, to),
        Dialect::Sqlite => sqlite::render::render(changes, from, to),
    }
}

/// How the diff orders changes for `dialect`.
pub fn diff_options(dialect: Dialect) -> DiffOptions {
    DiffOptions {
        inline_foreign_keys: dialect == Dialect::Sqlite,
    }
}

/// A database error reduced to what a user needs: the server's message, its code, and for PostgreSQL the
/// 1-based character position in the statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    pub message: String,
    pub code: Option<String>,
    pub position: Option<usize>,
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl DbError {
    pub fn new(message: impl Into<String>) -> DbError {
        DbError {
            message: message.into(),
            code: None,
            position: None,
        }
    }
}

/// One live connection to one of the engines.
pub enum Connection {
    #[cfg(feature = "postgres")]
    Postgres(postgres::PgConn),
    #[cfg(feature = "mysql")]
    Mysql(sqlx::MySqlConnection),
    #[cfg(feature = "sqlite")]
    Sqlite(sqlite::SqliteConn),
}

/// Why connecting failed, and whether waiting could help.
#[derive(Debug)]
pub struct ConnectError {
    pub message: String,
    pub retryable: bool,
}

impl Connection {
    /// Connect; with `wait`, retry with backoff while the server refuses connections (container start-up).
    /// `on_retry` hears about each failed attempt.
    pub async fn connect(
        url: &DatabaseUrl,
        wait: Option<Duration>,
        on_retry: impl FnMut(u32, &str),
    ) -> Result<Connection, ConnectError> {
        #[cfg(feature = "sqlite")]
        if url.dialect() == Dialect::Sqlite {
            // A file or memory: nothing to wait for.
            return blocking(|| sqlite::connect(url))
                .map(Connection::Sqlite)
                .map_err(|e| ConnectError {
                    message: scrub(&e.message, url),
                    retryable: false,
                });
        }
        #[cfg(any(feature = "postgres", feature = "mysql"))]
        return server::connect(url, wait, on_retry).await;
        #[cfg(not(any(feature = "postgres", feature = "mysql")))]
        {
            let _ = (wait, on_retry);
            Err(not_built(url.dialect()))
        }
    }

    /// Before a session's first migration statement: PostgreSQL asks the server to watch for a client that
    /// dies mid-statement (see [`postgres::PgConn::watch_client`]).
    pub async fn prepare_to_migrate(&mut self) {
        match self {
            #[cfg(feature = "postgres")]
            Connection::Postgres(c) => c.watch_client().await,
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }

    /// A statement to run right after `BEGIN` in a migration transaction, if this connection needs one.
    pub fn transaction_setup(&self) -> Option<&'static str> {
        match self {
            #[cfg(feature = "postgres")]
            Connection::Postgres(c) => c.transaction_setup(),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            #[cfg(feature = "postgres")]
            Connection::Postgres(_) => Dialect::Postgres,
            #[cfg(feature = "mysql")]
            Connection::Mysql(_) => Dialect::Mysql,
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// The engine's side of the connection: SQLite in process, or a server through sqlx.
    fn side(&mut self) -> Side<'_> {
        match self {
            #[cfg(feature = "postgres")]
            Connection::Postgres(c) => Side::Server(server::Server::Postgres(&mut c.conn)),
            #[cfg(feature = "mysql")]
            Connection::Mysql(c) => Side::Server(server::Server::Mysql(c)),
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(c) => Side::Sqlite(c),
        }
    }

    /// Run SQL text (one statement, or several for bookkeeping) without preparing it.
    pub async fn execute(&mut self, sql: &str) -> Result<(), DbError> {
        match self.side() {
            #[cfg(any(feature = "postgres", feature = "mysql"))]
            Side::Server(s) => s.execute(sql).await,
            #[cfg(feature = "sqlite")]
            Side::Sqlite(c) => blocking(|| c.execute_counting(sql)).map_err(|(_, e)| e),
        }
    }

    /// Run several statements in one round trip; on failure, also say how many statements had completed
    /// (the failing one is the next), so nothing needs to run twice to be located.
    pub async fn execute_counting(&mut self, sql: &str) -> Result<(), (usize, DbError)> {
        match self.side() {
            #[cfg(any(feature = "postgres", feature = "mysql"))]
            Side::Server(s) => s.execute_counting(sql).await,
            #[cfg(feature = "sqlite")]
            Side::Sqlite(c) => blocking(|| c.execute_counting(sql)),
        }
    }

    /// Rows of a query whose columns are all text (or NULL).
    pub async fn query_text(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError> {
        match self.side() {
            #[cfg(any(feature = "postgres", feature = "mysql"))]
            Side::Server(s) => s.query_text(sql).await,
            #[cfg(feature = "sqlite")]
            Side::Sqlite(c) => blocking(|| c.query_text(sql)),
        }
    }

    /// Several statements in one round trip, each statement's rows apart: one entry per statement, in
    /// order, including those that return no rows. PostgreSQL (the simple-query protocol runs them as one
    /// implicit transaction) and MySQL (multi-statement text, each statement on its own); SQLite runs them
    /// one by one, in process.
    pub async fn query_text_sets(
        &mut self,
        statements: &[String],
    ) -> Result<Vec<Vec<Vec<Option<String>>>>, DbError> {
        match self.side() {
            #[cfg(any(feature = "postgres", feature = "mysql"))]
            Side::Server(s) => s.query_text_sets(statements).await,
            #[cfg(feature = "sqlite")]
            Side::Sqlite(c) => blocking(|| {
                statements
                    .iter()
                    .map(|st| c.query_text(st))
                    .collect::<Result<Vec<_>, _>>()
            }),
        }
    }

    /// Take the migration lock without waiting; `true` if now held.
    #[cfg_attr(
        not(any(feature = "postgres", feature = "mysql")),
        allow(unused_variables)
    )]
    pub async fn try_lock(&mut self, name: &str) -> Result<bool, DbError> {
        match self {
            #[cfg(feature = "postgres")]
            Connection::Postgres(_) => {
                // One round trip: the simple-query protocol runs both, and the rows are the SELECT's.
                let rows = self
                    .query_text(&format!("BEGIN; {}", postgres::try_lock_sql(name)))
                    .await;
                let held = matches!(&rows, Ok(r) if r.first().and_then(|r| r.get(1)).cloned().flatten().as_deref() == Some("true"));
                if !held {
                    let _ = self.execute("ROLLBACK").await;
                }
                rows.map(|_| held)
            }
            #[cfg(feature = "mysql")]
            Connection::Mysql(_) => {
                let rows = self.query_text(&mysql::try_lock_sql(name)).await?;
                Ok(first_cell(&rows).as_deref() == Some("1"))
            }
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(c) => c.try_lock(),
        }
    }

    #[cfg_attr(not(feature = "mysql"), allow(unused_variables))]
    pub async fn unlock(&mut self, name: &str) -> Result<(), DbError> {
        match self {
            #[cfg(feature = "postgres")]
            // The lock ends with its transaction.
            Connection::Postgres(_) => self.execute("ROLLBACK").await,
            #[cfg(feature = "mysql")]
            Connection::Mysql(_) => self.query_text(&mysql::unlock_sql(name)).await.map(drop),
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(c) => {
                c.unlock();
                Ok(())
            }
        }
    }

    /// Who holds the migration lock, if the database can tell.
    #[cfg_attr(
        not(any(feature = "postgres", feature = "mysql")),
        allow(unused_variables)
    )]
    pub async fn lock_holder(&mut self, name: &str) -> Option<String> {
        let sql: String = match self {
            #[cfg(feature = "postgres")]
            Connection::Postgres(_) => postgres::lock_holder_sql(name),
            #[cfg(feature = "mysql")]
            Connection::Mysql(_) => mysql::lock_holder_sql(name),
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(c) => return c.lock_holder(),
        };
        #[allow(unreachable_code)]
        let rows = self.query_text(&sql).await.ok()?;
        first_cell(&rows)
    }

    pub async fn table_exists(&mut self, table: &str) -> Result<bool, DbError> {
        Ok(self.tables_exist(&[table]).await?.first() == Some(&true))
    }

    /// Whether each table exists, in order, in one round trip.
    pub async fn tables_exist(&mut self, tables: &[&str]) -> Result<Vec<bool>, DbError> {
        if tables.is_empty() {
            return Ok(Vec::new());
        }
        let dialect = self.dialect();
        let sql = tables
            .iter()
            .enumerate()
            .map(|(i, table)| {
                let one = match dialect {
                    Dialect::Postgres => postgres::table_exists_sql(table),
                    Dialect::Mysql => mysql::table_exists_sql(table),
                    Dialect::Sqlite => sqlite::table_exists_sql(table),
                };
                format!("SELECT '{i}' WHERE EXISTS ({one})")
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let mut out = vec![false; tables.len()];
        for row in self.query_text(&sql).await? {
            let index = row
                .into_iter()
                .next()
                .flatten()
                .and_then(|c| c.parse::<usize>().ok());
            if let Some(slot) = index.and_then(|i| out.get_mut(i)) {
                *slot = true;
            }
        }
        Ok(out)
    }

    pub async fn close(self) {
        match self {
            #[cfg(feature = "postgres")]
            Connection::Postgres(c) => drop(sqlx::Connection::close(c.conn).await),
            #[cfg(feature = "mysql")]
            Connection::Mysql(c) => drop(sqlx::Connection::close(c).await),
            // SQLite closes the database when the connection is dropped.
            #[cfg(feature = "sqlite")]
            Connection::Sqlite(c) => drop(c),
        }
    }
}

/// What [`Connection::side`] returns.
enum Side<'a> {
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    Server(server::Server<'a>),
    #[cfg(feature = "sqlite")]
    Sqlite(&'a mut sqlite::SqliteConn),
}

/// The error for a URL of an engine this build left out.
fn not_built(dialect: Dialect) -> ConnectError {
    let feature = match dialect {
        Dialect::Postgres => "postgres",
        Dialect::Mysql => "mysql",
        Dialect::Sqlite => "sqlite",
    };
    ConnectError {
        message: format!(
            "this alembix was built without {dialect} support (cargo feature `{feature}`)"
        ),
        retryable: false,
    }
}

/// Run in-process SQLite work on this thread. On a multi-threaded tokio runtime (an app that embeds
/// alembix), the runtime is first told that this worker blocks, so its other tasks move to other workers;
/// on a current-thread runtime (the CLI) there is nothing to move.
#[cfg(feature = "sqlite")]
fn blocking<T>(work: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(h) if h.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}

fn first_cell(rows: &[Vec<Option<String>>]) -> Option<String> {
    rows.first().and_then(|r| r.first()).cloned().flatten()
}

/// Remove the password from a message, whatever the driver put in it.
pub fn scrub(message: &str, url: &DatabaseUrl) -> String {
    // SASLprep errors may quote the offending character of the password.
    if message.to_ascii_lowercase().contains("saslprep") {
        return "the password cannot be used for SCRAM authentication: SASLprep rejects one of its characters"
            .to_string();
    }
    let raw = url.expose_driver_url();
    let mut out = message.replace(&raw, &url.to_string());
    if let Ok(parsed) = url::Url::parse(&raw) {
        if let Some(pw) = parsed.password().filter(|p| p.len() >= 3) {
            out = out.replace(pw, "***");
        }
    }
    out
}

/// A SQL string literal, escaped for the dialect.
pub fn literal(value: &str, dialect: Dialect) -> String {
    let mut escaped = value.replace('\'', "''");
    if dialect == Dialect::Mysql {
        escaped = escaped.replace('\\', "\\\\");
    }
    format!("'{escaped}'")
}

/// Whether the migration lock is held on a connection of its own (PostgreSQL: a transaction-scoped lock),
/// rather than on the migration connection (MySQL's `GET_LOCK`, SQLite's lock file).
pub fn lock_needs_own_connection(dialect: Dialect) -> bool {
    dialect == Dialect::Postgres
}

/// `BEGIN` for a migration transaction (SQLite takes the write lock at once).
pub fn begin_sql(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => "BEGIN",
        Dialect::Mysql => "START TRANSACTION",
        Dialect::Sqlite => "BEGIN IMMEDIATE",
    }
}

/// DDL for the version table (Alembic's shape) and the history table.
pub fn bookkeeping_ddl(dialect: Dialect, version_table: &str, history_table: &str) -> Vec<String> {
    let pk_name = format!(
        "{}_pkc",
        version_table.rsplit('.').next().unwrap_or(version_table)
    );
    // SQLite: every step commits a change to both tables, and each page a commit touches is journalled and
    // written twice, so the tables are shaped to touch as few as can be: the version table is one B-tree
    // (`WITHOUT ROWID`, rather than a table plus the index of its primary key), and the history's id is
    // the rowid without `AUTOINCREMENT` (which updates `sqlite_sequence` on every insert). Rows are never
    // deleted from the history, so ids still only grow. Tables created by earlier versions keep their shape.
    let without_rowid = if dialect == Dialect::Sqlite {
        " WITHOUT ROWID"
    } else {
        ""
    };
    let version = format!(
        "CREATE TABLE IF NOT EXISTS {version_table} (\n    version_num VARCHAR(255) NOT NULL,\n    \
         CONSTRAINT {pk_name} PRIMARY KEY (version_num)\n){without_rowid}"
    );
    let id = match dialect {
        Dialect::Postgres => "id BIGSERIAL PRIMARY KEY",
        Dialect::Mysql => "id BIGINT AUTO_INCREMENT PRIMARY KEY",
        Dialect::Sqlite => "id INTEGER PRIMARY KEY",
    };
    let history = format!(
        "CREATE TABLE IF NOT EXISTS {history_table} (\n    {id},\n    revision VARCHAR(255) NOT NULL,\n    \
         direction VARCHAR(16) NOT NULL,\n    checksum VARCHAR(64),\n    started_at VARCHAR(40) NOT NULL,\n    \
         duration_ms BIGINT NOT NULL,\n    applied_by VARCHAR(255) NOT NULL,\n    tool_version VARCHAR(32) NOT NULL\n)"
    );
    vec![version, history]
}

/// DDL for the progress table (created the first time a step runs statement by statement).
pub fn progress_ddl(progress_table: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {progress_table} (\n    revision VARCHAR(255) NOT NULL,\n    \
         direction VARCHAR(16) NOT NULL,\n    statements_done INTEGER NOT NULL,\n    started_at VARCHAR(40) NOT NULL,\n    \
         applied_by VARCHAR(255) NOT NULL\n)"
    )
}

/// The lock name for a database and version table: two projects on one server do not block each other, and
/// two spellings of the same database (`postgres://u@h` and `postgres://u@h/u`, `public.alembix_version`)
/// take the same lock.
pub fn lock_name(url: &DatabaseUrl, version_table: &str) -> String {
    let table = version_table
        .strip_prefix("public.")
        .unwrap_or(version_table)
        .to_ascii_lowercase();
    match url.dialect() {
        // Advisory locks are per database already.
        Dialect::Postgres => format!("alembix:{table}"),
        Dialect::Mysql => format!("alembix:{}:{table}", url.database().unwrap_or("")),
        Dialect::Sqlite => {
            let db = match url.sqlite_location() {
                Some(crate::url::SqliteLocation::File(p)) => p.display().to_string(),
                _ => ":memory:".into(),
            };
            format!("alembix:{db}:{table}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape() {
        assert_eq!(literal("it's", Dialect::Postgres), "'it''s'");
        assert_eq!(literal("a\\'b", Dialect::Mysql), "'a\\\\''b'");
    }

    #[test]
    fn sqlite_bookkeeping_tables_touch_few_pages() {
        // Each page a commit touches is journalled and written: one B-tree for the version table, and no
        // `sqlite_sequence` row to update per history insert.
        let ddl = bookkeeping_ddl(Dialect::Sqlite, "alembix_version", "alembix_history");
        assert!(ddl[0].ends_with(") WITHOUT ROWID"), "{}", ddl[0]);
        assert!(ddl[1].contains("id INTEGER PRIMARY KEY,"), "{}", ddl[1]);
        assert!(!ddl[1].contains("AUTOINCREMENT"));
        let pg = bookkeeping_ddl(Dialect::Postgres, "alembix_version", "alembix_history");
        assert!(!pg[0].contains("WITHOUT ROWID"));
    }

    #[test]
    fn scrub_hides_password() {
        let url = DatabaseUrl::parse("postgres://u:s3cret@h/db").unwrap();
        let msg = scrub("failed for postgres://u:s3cret@h/db with s3cret", &url);
        assert!(!msg.contains("s3cret"), "{msg}");
    }
}
