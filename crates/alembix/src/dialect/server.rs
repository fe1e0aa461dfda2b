//! What PostgreSQL and MySQL share: sqlx's text protocol, its errors, and connecting over a network with
//! retries. Not built into an alembix for SQLite alone, which calls SQLite directly.

use std::time::{Duration, Instant};

use futures_util::{StreamExt, TryStreamExt};
use sqlx::{AssertSqlSafe, Row};

#[cfg(feature = "mysql")]
use super::mysql;
#[cfg(feature = "postgres")]
use super::postgres;
use super::{scrub, ConnectError, Connection, DbError};
use crate::url::{DatabaseUrl, Dialect};

/// A server connection, borrowed from a [`Connection`].
pub(super) enum Server<'a> {
    #[cfg(feature = "postgres")]
    Postgres(&'a mut sqlx::PgConnection),
    #[cfg(feature = "mysql")]
    Mysql(&'a mut sqlx::MySqlConnection),
}

/// Run `$body` with `$conn` bound to the sqlx connection, whichever engine it is.
macro_rules! on_server {
    ($server:expr, $conn:ident => $body:expr) => {
        match $server {
            #[cfg(feature = "postgres")]
            Server::Postgres($conn) => $body,
            #[cfg(feature = "mysql")]
            Server::Mysql($conn) => $body,
        }
    };
}

impl Server<'_> {
    fn dialect(&self) -> Dialect {
        match self {
            #[cfg(feature = "postgres")]
            Server::Postgres(_) => Dialect::Postgres,
            #[cfg(feature = "mysql")]
            Server::Mysql(_) => Dialect::Mysql,
        }
    }

    pub(super) async fn execute(self, sql: &str) -> Result<(), DbError> {
        let dialect = self.dialect();
        let q = sqlx::raw_sql(AssertSqlSafe(sql.to_string()));
        on_server!(self, c => q.execute(c).await.map(drop)).map_err(|e| from_sqlx(&e, dialect))
    }

    pub(super) async fn execute_counting(self, sql: &str) -> Result<(), (usize, DbError)> {
        let dialect = self.dialect();
        let q = sqlx::raw_sql(AssertSqlSafe(sql.to_string()));
        let mut done = 0usize;
        on_server!(self, c => {
            let mut stream = q.execute_many(c);
            while let Some(item) = stream.next().await {
                match item {
                    Ok(_) => done += 1,
                    Err(e) => return Err((done, from_sqlx(&e, dialect))),
                }
            }
            Ok(())
        })
    }

    pub(super) async fn query_text(self, sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError> {
        let dialect = self.dialect();
        let map = |e: sqlx::Error| from_sqlx(&e, dialect);
        // The simple-query protocol, like `execute`: a named prepared statement lives in the server
        // session, which a transaction-mode pooler (PgBouncer, Supabase) shares between clients.
        let q = sqlx::raw_sql(AssertSqlSafe(sql.to_string()));
        on_server!(self, c => {
            let rows = q.fetch_all(c).await.map_err(map)?;
            rows.iter()
                .map(|row| {
                    (0..row.len())
                        .map(|i| row.try_get::<Option<String>, _>(i))
                        .collect::<Result<Vec<_>, _>>()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(map)
        })
    }

    pub(super) async fn query_text_sets(
        self,
        statements: &[String],
    ) -> Result<Vec<Vec<Vec<Option<String>>>>, DbError> {
        let dialect = self.dialect();
        let map = |e: sqlx::Error| from_sqlx(&e, dialect);
        let q = sqlx::raw_sql(AssertSqlSafe(statements.join(";\n")));
        on_server!(self, c => {
            let mut stream = q.fetch_many(c);
            let mut sets = Vec::with_capacity(statements.len());
            let mut rows = Vec::new();
            while let Some(item) = stream.try_next().await.map_err(map)? {
                match item {
                    sqlx::Either::Left(_) => sets.push(std::mem::take(&mut rows)),
                    sqlx::Either::Right(row) => rows.push(
                        (0..row.len())
                            .map(|i| row.try_get::<Option<String>, _>(i))
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(map)?,
                    ),
                }
            }
            Ok(sets)
        })
    }
}

/// Connect to a server; with `wait`, retry with backoff while it refuses connections (container start-up).
pub(super) async fn connect(
    url: &DatabaseUrl,
    wait: Option<Duration>,
    mut on_retry: impl FnMut(u32, &str),
) -> Result<Connection, ConnectError> {
    let started = Instant::now();
    let mut delay = Duration::from_millis(100);
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let result = match url.dialect() {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => postgres::connect(url).await.map(Connection::Postgres),
            #[cfg(feature = "mysql")]
            Dialect::Mysql => mysql::connect(url).await.map(Connection::Mysql),
            #[allow(unreachable_patterns)]
            other => return Err(super::not_built(other)),
        };
        match result {
            Ok(c) => return Ok(c),
            Err(e) => {
                let retryable = is_retryable(&e);
                let message = scrub(&from_sqlx(&e, url.dialect()).message, url);
                let Some(wait) = wait.filter(|_| retryable) else {
                    return Err(ConnectError { message, retryable });
                };
                // Wait the whole time given: the last sleep is cut to what is left, then one more try.
                let left = wait.saturating_sub(started.elapsed());
                if left.is_zero() {
                    return Err(ConnectError {
                        message: format!(
                            "{message} (gave up after {attempt} attempts in {:.1?})",
                            started.elapsed()
                        ),
                        retryable,
                    });
                }
                on_retry(attempt, &message);
                tokio::time::sleep(delay.min(left)).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}

pub(super) fn from_sqlx(e: &sqlx::Error, dialect: Dialect) -> DbError {
    match e {
        sqlx::Error::Database(db) => match dialect {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => postgres::error(db.as_ref()),
            #[cfg(feature = "mysql")]
            Dialect::Mysql => mysql::error(db.as_ref()),
            #[allow(unreachable_patterns)]
            _ => DbError::new(db.message()),
        },
        sqlx::Error::Io(io) => DbError::new(io.to_string()),
        other => DbError::new(other.to_string()),
    }
}

fn is_retryable(e: &sqlx::Error) -> bool {
    use std::io::ErrorKind::*;
    if is_tls_error(e) {
        return false;
    }
    match e {
        // DNS failures while a container network comes up have no stable kind; any I/O error is worth a retry.
        sqlx::Error::Io(io) => !matches!(io.kind(), PermissionDenied | InvalidInput),
        sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("57P03")),
        sqlx::Error::PoolTimedOut => true,
        _ => false,
    }
}

/// A TLS handshake or certificate failure: the server is up, retrying will not help.
pub fn is_tls_error(e: &sqlx::Error) -> bool {
    if matches!(e, sqlx::Error::Tls(_)) {
        return true;
    }
    let text = e.to_string().to_ascii_lowercase();
    ["certificate", "tls", "ssl", "handshake"]
        .iter()
        .any(|w| text.contains(w))
}
