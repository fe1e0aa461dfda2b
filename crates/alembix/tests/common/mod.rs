//! Harness for engine tests: one scratch database per test (PostgreSQL, MySQL/MariaDB, SQLite), dropped
//! afterwards even when the test fails, and helpers to build projects in memory and read the database back.
//!
//! Server tests read `ALEMBIX_TEST_POSTGRES_URL` / `ALEMBIX_TEST_MYSQL_URL`; when unset they print a notice
//! and pass, unless `ALEMBIX_TEST_REQUIRE_SERVERS=1`, which turns a skip into a failure.
#![allow(dead_code, clippy::unwrap_used)]

use std::cell::RefCell;
use std::future::Future;
use std::io::Write;
use std::rc::Rc;

use alembix::dialect::Connection;
use alembix::migrate::{MigrateError, MigrateOptions, Operation, Outcome};
use alembix::{DatabaseUrl, Dialect, EmbeddedMigrations, Migrator};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Postgres,
    Mysql,
    Sqlite,
}

impl Kind {
    pub fn dialect(self) -> Dialect {
        match self {
            Kind::Postgres => Dialect::Postgres,
            Kind::Mysql => Dialect::Mysql,
            Kind::Sqlite => Dialect::Sqlite,
        }
    }

    fn env(self) -> &'static str {
        match self {
            Kind::Postgres => "ALEMBIX_TEST_POSTGRES_URL",
            Kind::Mysql => "ALEMBIX_TEST_MYSQL_URL",
            Kind::Sqlite => "",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Kind::Postgres => "postgres",
            Kind::Mysql => "mysql",
            Kind::Sqlite => "sqlite",
        }
    }
}

/// Written straight to the process's stderr, so the notice shows even though libtest captures output.
pub fn notice(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

fn require_servers() -> bool {
    std::env::var("ALEMBIX_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

/// Skip (with a notice), or fail when servers are required.
fn skip(kind: Kind, why: &str) {
    let text = format!("SKIPPED {}: {why}", kind.label());
    if require_servers() {
        panic!("{text} (ALEMBIX_TEST_REQUIRE_SERVERS=1)");
    }
    notice(&text);
}

pub fn parse_url(text: &str) -> DatabaseUrl {
    DatabaseUrl::parse(text).unwrap()
}

pub async fn connect(url: &DatabaseUrl) -> Connection {
    match Connection::connect(url, None, |_, _| {}).await {
        Ok(c) => c,
        Err(e) => panic!("cannot connect to {url}: {}", e.message),
    }
}

/// A scratch database of one test. Cheap to clone; the harness owns the database's lifetime.
#[derive(Clone)]
pub struct TestDb {
    pub kind: Kind,
    pub url: DatabaseUrl,
    /// One connection for reading the state back, kept between checks (connecting with TLS in a debug
    /// build costs ~100 ms). Taken out while in use, so no borrow lives across an `await`.
    checker: Rc<RefCell<Option<Connection>>>,
}

impl std::fmt::Debug for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TestDb({:?}, {})", self.kind, self.url)
    }
}

/// What to remove when the test is over.
enum Cleanup {
    Server { admin: DatabaseUrl, name: String },
    Dir(tempfile::TempDir),
}

impl Cleanup {
    async fn run(self, kind: Kind) {
        match self {
            Cleanup::Dir(dir) => drop(dir),
            Cleanup::Server { admin, name } => {
                let sql = match kind {
                    // FORCE: a connection a failed test left open must not keep the database alive.
                    Kind::Postgres => format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    _ => format!("DROP DATABASE IF EXISTS {name}"),
                };
                match Connection::connect(&admin, None, |_, _| {}).await {
                    Ok(mut c) => {
                        if kind == Kind::Postgres {
                            wait_for_scratch_drops(&mut c, &name).await;
                        }
                        if let Err(e) = c.execute(&sql).await {
                            notice(&format!(
                                "warning: could not drop test database {name}: {e}"
                            ));
                        }
                        c.close().await;
                    }
                    Err(e) => notice(&format!(
                        "warning: could not drop test database {name}: {}",
                        e.message
                    )),
                }
            }
        }
    }
}

/// alembix leaves a scratch database's `DROP DATABASE` to the server after a few milliseconds, on a
/// connection to the test's database; dropping that database `WITH (FORCE)` would end the session and
/// leave the scratch database behind (for alembix's clean-up of abandoned ones, 15 minutes later). So the
/// drops still running there are waited for, up to 10 s.
async fn wait_for_scratch_drops(admin: &mut Connection, name: &str) {
    let sql = format!(
        "SELECT count(*)::text FROM pg_catalog.pg_stat_activity WHERE datname = '{name}' \
         AND state = 'active' AND query ILIKE 'DROP DATABASE%alembix\\_dev\\_%'"
    );
    for _ in 0..200 {
        let busy = admin
            .query_text(&sql)
            .await
            .ok()
            .and_then(|rows| rows.into_iter().next())
            .and_then(|row| row.into_iter().next().flatten());
        match busy.as_deref() {
            None | Some("0") => return,
            Some(_) => tokio::time::sleep(std::time::Duration::from_millis(50)).await,
        }
    }
}

async fn create(kind: Kind) -> Option<(TestDb, Cleanup)> {
    if kind == Kind::Sqlite {
        let dir = tempfile::tempdir().unwrap();
        let url = parse_url(&format!("sqlite:{}", dir.path().join("test.db").display()));
        return Some((TestDb::new(kind, url), Cleanup::Dir(dir)));
    }
    let Ok(raw) = std::env::var(kind.env()) else {
        skip(kind, &format!("{} is not set", kind.env()));
        return None;
    };
    let admin = parse_url(&raw);
    assert_eq!(
        admin.dialect(),
        kind.dialect(),
        "{} has the wrong scheme",
        kind.env()
    );
    let mut conn = match Connection::connect(&admin, None, |_, _| {}).await {
        Ok(c) => c,
        Err(e) => {
            skip(kind, &format!("cannot connect to {admin}: {}", e.message));
            return None;
        }
    };
    let name = format!("alembix_t_{:016x}", getrandom::u64().unwrap());
    conn.execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {admin}: {e}"));
    conn.close().await;
    let url = admin.with_database(&name);
    Some((TestDb::new(kind, url), Cleanup::Server { admin, name }))
}

/// Run `scenario` on a fresh database of `kind`; the database is dropped afterwards whatever happens, then
/// a panic of the scenario is propagated.
pub async fn run<F, Fut>(kind: Kind, scenario: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let Some((db, cleanup)) = create(kind).await else {
        return;
    };
    let local = tokio::task::LocalSet::new();
    let body = scenario(db);
    let result = local
        .run_until(async move { tokio::task::spawn_local(body).await })
        .await;
    drop(local);
    cleanup.run(kind).await;
    if let Err(e) = result {
        match e.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(e) => panic!("test task failed: {e}"),
        }
    }
}

/// The text of a revision file.
pub fn revision_text(
    id: &str,
    revises: &[&str],
    headers: &[(&str, &str)],
    up: &str,
    down: &str,
) -> String {
    let mut text = format!(
        "-- Revision {id}\n--\n-- Revision ID: {id}\n-- Revises: {}\n",
        revises.join(", ")
    );
    for (k, v) in headers {
        text.push_str(&format!("-- {k}: {v}\n"));
    }
    text.push_str(&format!(
        "\n-- migrate:up\n{up}\n\n-- migrate:down\n{down}\n"
    ));
    text
}

/// `(file name, text)` of a revision.
pub fn rev(
    id: &str,
    revises: &[&str],
    headers: &[(&str, &str)],
    up: &str,
    down: &str,
) -> (String, String) {
    (
        format!("{id}_rev.sql"),
        revision_text(id, revises, headers, up, down),
    )
}

pub fn migrator(files: Vec<(String, String)>) -> Migrator {
    Migrator::new(EmbeddedMigrations::from_files(files)).unwrap()
}

pub fn migrator_with(files: Vec<(String, String)>, options: MigrateOptions) -> Migrator {
    migrator(files).with_options(options)
}

/// The `MigrateError` inside an error, or a panic naming what it was instead.
pub fn migrate_error(e: &alembix::Error) -> &MigrateError {
    match e {
        alembix::Error::Migrate(m) => m,
        other => panic!("expected a MigrateError, got: {other}"),
    }
}

impl TestDb {
    fn new(kind: Kind, url: DatabaseUrl) -> TestDb {
        TestDb {
            kind,
            url,
            checker: Rc::new(RefCell::new(None)),
        }
    }

    pub fn dialect(&self) -> Dialect {
        self.kind.dialect()
    }

    pub async fn conn(&self) -> Connection {
        connect(&self.url).await
    }

    pub async fn run(&self, m: &Migrator, op: Operation) -> alembix::Result<Outcome> {
        m.run(&self.url, &op, false, &mut |_| {}).await
    }

    pub async fn upgrade(&self, m: &Migrator, target: &str) -> alembix::Result<Outcome> {
        self.run(m, Operation::Upgrade(target.into())).await
    }

    pub async fn downgrade(&self, m: &Migrator, target: &str) -> alembix::Result<Outcome> {
        self.run(m, Operation::Downgrade(target.into())).await
    }

    /// The checking connection (not the one the migrator uses); hand it back with `put_back`.
    async fn checker(&self) -> Connection {
        let cached = self.checker.borrow_mut().take();
        match cached {
            Some(c) => c,
            None => self.conn().await,
        }
    }

    fn put_back(&self, c: Connection) {
        *self.checker.borrow_mut() = Some(c);
    }

    /// Run SQL (autocommit).
    pub async fn exec(&self, sql: &str) {
        let mut c = self.checker().await;
        c.execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        self.put_back(c);
    }

    /// Rows of a query whose columns are text.
    pub async fn query(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let mut c = self.checker().await;
        let rows = c
            .query_text(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        self.put_back(c);
        rows
    }

    /// The first column of each row, NULL as "NULL", sorted.
    pub async fn column(&self, sql: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .query(sql)
            .await
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .next()
                    .flatten()
                    .unwrap_or_else(|| "NULL".into())
            })
            .collect();
        v.sort();
        v
    }

    pub async fn has_table(&self, table: &str) -> bool {
        let mut c = self.checker().await;
        let yes = c
            .table_exists(table)
            .await
            .unwrap_or_else(|e| panic!("does {table} exist: {e}"));
        self.put_back(c);
        yes
    }

    /// Which of `tables` exist, in the order given.
    pub async fn existing(&self, tables: &[&str]) -> Vec<String> {
        let mut out = Vec::new();
        for t in tables {
            if self.has_table(t).await {
                out.push((*t).to_string());
            }
        }
        out
    }

    /// The rows of the version table, sorted (empty when the table does not exist).
    pub async fn versions(&self) -> Vec<String> {
        if !self.has_table("alembix_version").await {
            return Vec::new();
        }
        self.column("SELECT version_num FROM alembix_version").await
    }

    /// `(revision, direction)` of each history row, oldest first (empty when the table does not exist).
    pub async fn history(&self) -> Vec<(String, String)> {
        if !self.has_table("alembix_history").await {
            return Vec::new();
        }
        self.query("SELECT revision, direction FROM alembix_history ORDER BY id")
            .await
            .into_iter()
            .map(|r| (r[0].clone().unwrap(), r[1].clone().unwrap()))
            .collect()
    }

    /// SQL turning an integer expression into text, for `query_text`.
    pub fn text(&self, expr: &str) -> String {
        match self.kind {
            Kind::Postgres => format!("CAST({expr} AS TEXT)"),
            Kind::Mysql => format!("CAST({expr} AS CHAR)"),
            Kind::Sqlite => format!("CAST({expr} AS TEXT)"),
        }
    }
}

pub fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_string()).collect()
}

/// One `#[tokio::test]` per dialect for a scenario `async fn(TestDb)`.
#[allow(unused_macros)]
macro_rules! per_dialect {
    ($scenario:ident => $pg:ident, $my:ident, $lite:ident) => {
        #[tokio::test]
        async fn $pg() {
            common::run(Kind::Postgres, $scenario).await
        }
        #[tokio::test]
        async fn $my() {
            common::run(Kind::Mysql, $scenario).await
        }
        #[tokio::test]
        async fn $lite() {
            common::run(Kind::Sqlite, $scenario).await
        }
    };
}
