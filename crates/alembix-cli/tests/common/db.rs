//! Databases for end-to-end tests: a uniquely named database on the server named by
//! `ALEMBIX_TEST_POSTGRES_URL` / `ALEMBIX_TEST_MYSQL_URL` (created per test, dropped afterwards, also when the
//! test fails), or a SQLite file in a temporary directory. Read and written through the library.
//!
//! Without the variable a server test prints `SKIPPED ...` and does not run; with
//! `ALEMBIX_TEST_REQUIRE_SERVERS=1` a missing variable or an unreachable server fails it.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use alembix::dialect::Connection;
use alembix::DatabaseUrl;

pub type Rows = Vec<Vec<Option<String>>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Postgres,
    Mysql,
    Sqlite,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
            Engine::Sqlite => "sqlite",
        }
    }

    /// The variable holding the server URL (none for SQLite).
    pub fn env_var(self) -> Option<&'static str> {
        match self {
            Engine::Postgres => Some("ALEMBIX_TEST_POSTGRES_URL"),
            Engine::Mysql => Some("ALEMBIX_TEST_MYSQL_URL"),
            Engine::Sqlite => None,
        }
    }

    /// `expr` (e.g. `count(*)`) as text, for `query`.
    pub fn text(self, expr: &str) -> String {
        match self {
            Engine::Postgres => format!("({expr})::text"),
            Engine::Mysql => format!("CAST({expr} AS CHAR)"),
            Engine::Sqlite => format!("CAST({expr} AS TEXT)"),
        }
    }

    /// The names of the tables in the current database/schema.
    pub fn tables_sql(self) -> &'static str {
        match self {
            Engine::Postgres => {
                "SELECT table_name::text FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
            }
            Engine::Mysql => {
                "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES \
                 WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'"
            }
            Engine::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            }
        }
    }
}

/// A line on the real stderr, visible even when the test harness captures output.
pub fn notice(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}

pub fn servers_required() -> bool {
    std::env::var("ALEMBIX_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1")
}

/// Run `f` to completion on a fresh current-thread runtime.
pub fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Connect to `url`, run `f` on the connection, close it.
pub fn with_conn<T>(
    url: &str,
    f: impl AsyncFnOnce(&mut Connection) -> Result<T, String>,
) -> Result<T, String> {
    let parsed = DatabaseUrl::parse(url).map_err(|e| e.to_string())?;
    block_on(async {
        let mut conn = Connection::connect(&parsed, None, |_, _| {})
            .await
            .map_err(|e| e.message)?;
        let result = f(&mut conn).await;
        conn.close().await;
        result
    })
}

pub fn try_execute(url: &str, sql: &str) -> Result<(), String> {
    with_conn(url, async |c| c.execute(sql).await.map_err(|e| e.message))
}

pub fn try_query(url: &str, sql: &str) -> Result<Rows, String> {
    with_conn(url, async |c| {
        c.query_text(sql).await.map_err(|e| e.message)
    })
}

/// `url` with its database (the path) replaced by `db`; user, host and query string kept.
pub fn with_database(url: &str, db: &str) -> String {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, Some(q)),
        None => (url, None),
    };
    let after_scheme = main.find("://").map_or(0, |i| i + 3);
    let base = match main[after_scheme..].find('/') {
        Some(i) => &main[..after_scheme + i],
        None => main,
    };
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

/// A database for one test, dropped with the value.
pub struct TestDb {
    pub engine: Engine,
    /// Where the test works (pass to `--url`).
    pub url: String,
    /// Server URL and database name to drop afterwards.
    server: Option<(String, String)>,
    /// Holds a SQLite database; removed with the value.
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh database named after `test`, or `None` (after printing `SKIPPED ...`) when the engine's
    /// server is not configured and not required.
    pub fn create(engine: Engine, test: &str) -> Option<TestDb> {
        let Some(var) = engine.env_var() else {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite:{}", dir.path().join("test.db").display());
            return Some(TestDb {
                engine,
                url,
                server: None,
                _dir: Some(dir),
            });
        };
        let server = match std::env::var(var) {
            Ok(v) if !v.trim().is_empty() => v,
            _ if servers_required() => {
                panic!("{test}: {var} is not set, and ALEMBIX_TEST_REQUIRE_SERVERS=1 requires it")
            }
            _ => {
                notice(&format!(
                    "SKIPPED {test} on {}: {var} is not set",
                    engine.name()
                ));
                return None;
            }
        };
        let name = unique_name(test);
        if let Err(e) = try_execute(&server, &format!("CREATE DATABASE {name}")) {
            panic!(
                "{test}: cannot create database {name} on the server of {var} (is it running?): {e}"
            );
        }
        Some(TestDb {
            engine,
            url: with_database(&server, &name),
            server: Some((server, name)),
            _dir: None,
        })
    }

    pub fn execute(&self, sql: &str) {
        if let Err(e) = try_execute(&self.url, sql) {
            panic!("{sql}: {e}");
        }
    }

    pub fn query(&self, sql: &str) -> Rows {
        try_query(&self.url, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// The first column of each row (NULL as an empty string).
    pub fn column(&self, sql: &str) -> Vec<String> {
        self.query(sql)
            .into_iter()
            .map(|r| r.into_iter().next().flatten().unwrap_or_default())
            .collect()
    }

    /// Like `column`, sorted.
    pub fn sorted(&self, sql: &str) -> Vec<String> {
        let mut v = self.column(sql);
        v.sort();
        v
    }

    /// A single value.
    pub fn value(&self, sql: &str) -> String {
        let col = self.column(sql);
        assert_eq!(col.len(), 1, "{sql}: expected one row, got {col:?}");
        col.into_iter().next().unwrap()
    }

    /// Table names, sorted.
    /// The tables, without `alembix_progress` (created only where a step ran statement by statement, so
    /// on MySQL and not elsewhere).
    pub fn tables(&self) -> Vec<String> {
        let mut t = self.sorted(self.engine.tables_sql());
        t.retain(|name| name != "alembix_progress");
        t
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = &self.server else {
            return;
        };
        let sql = match self.engine {
            // FORCE (PostgreSQL 13+): a test that failed may leave a child process connected.
            Engine::Postgres => {
                wait_for_scratch_drops(server, name);
                format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            }
            _ => format!("DROP DATABASE IF EXISTS {name}"),
        };
        if let Err(e) = try_execute(server, &sql) {
            notice(&format!(
                "warning: could not drop test database {name}: {e}"
            ));
        }
    }
}

/// alembix leaves a scratch database's `DROP DATABASE` to the server after a few milliseconds, on a
/// connection to the test's database; dropping that database `WITH (FORCE)` would end the session and
/// leave the scratch database behind (for alembix's clean-up of abandoned ones, 15 minutes later). So the
/// drops still running there are waited for, up to 10 s.
fn wait_for_scratch_drops(server: &str, name: &str) {
    let sql = format!(
        "SELECT count(*)::text FROM pg_catalog.pg_stat_activity WHERE datname = '{name}' \
         AND state = 'active' AND query ILIKE 'DROP DATABASE%alembix\\_dev\\_%'"
    );
    for _ in 0..200 {
        let busy = try_query(server, &sql)
            .ok()
            .and_then(|rows| rows.into_iter().next())
            .and_then(|row| row.into_iter().next().flatten());
        match busy.as_deref() {
            None | Some("0") => return,
            Some(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
}

/// `alembix_<test>_<pid>_<n>`: unique across concurrent test processes and within one.
fn unique_name(test: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let slug: String = test
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(32)
        .collect();
    format!(
        "alembix_{slug}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The test database `db` (PostgreSQL) reached through the pooler named by `var`
/// (`ALEMBIX_TEST_PGBOUNCER_URL`: transaction pooling, `ALEMBIX_TEST_PGBOUNCER_SESSION_URL`: session
/// pooling), or `None` with a `SKIPPED` notice when it is not set and servers are not required.
pub fn pooled(db: &TestDb, var: &str, test: &str) -> Option<String> {
    let pooler = match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => v,
        _ if servers_required() => {
            panic!("{test}: {var} is not set, and ALEMBIX_TEST_REQUIRE_SERVERS=1 requires it")
        }
        _ => {
            notice(&format!("SKIPPED {test}: {var} is not set"));
            return None;
        }
    };
    let name = db.url.rsplit('/').next().unwrap_or_default();
    let name = name.split('?').next().unwrap_or_default();
    Some(with_database(&pooler, name))
}
