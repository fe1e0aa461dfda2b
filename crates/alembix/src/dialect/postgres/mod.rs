//! PostgreSQL: connect, advisory lock, catalog checks, error messages.

pub mod inspect;
pub mod render;

#[cfg(feature = "postgres")]
use std::str::FromStr;

use sha2::{Digest, Sha256};
#[cfg(feature = "postgres")]
use sqlx::postgres::{PgConnectOptions, PgConnection, PgDatabaseError, PgErrorPosition};
#[cfg(feature = "postgres")]
use sqlx::ConnectOptions;

#[cfg_attr(not(feature = "postgres"), allow(unused_imports))]
use super::{literal, DbError};
#[cfg_attr(not(feature = "postgres"), allow(unused_imports))]
use crate::url::{DatabaseUrl, Dialect};

/// A PostgreSQL connection, and what its server was found to support when it was opened.
#[cfg(feature = "postgres")]
pub struct PgConn {
    pub conn: PgConnection,
    /// Whether the server took `client_connection_check_interval` (PostgreSQL 14+, on a platform that can
    /// watch sockets), once [`PgConn::watch_client`] asked: migration transactions set it too (see
    /// [`PgConn::transaction_setup`]). `None` before: reading commands and the lock's connection never
    /// run a long statement, so they do not spend a round trip on it.
    watches_client: Option<bool>,
}

#[cfg(feature = "postgres")]
impl PgConn {
    /// Run first in each migration transaction: behind a transaction-mode pooler the session setting made
    /// at connect time stays on whichever server connection took it, so each transaction sets it for
    /// itself. A plain `SET LOCAL`, sent only when the server took the setting at connect time: asking
    /// `pg_settings` instead cost half a millisecond per step, and a server that rejects the value (one on
    /// a platform without the check) would fail every migration.
    pub fn transaction_setup(&self) -> Option<&'static str> {
        (self.watches_client == Some(true))
            .then_some("SET LOCAL client_connection_check_interval = 1000")
    }

    /// Before the first migration statement of the session. Without this the server notices a client that
    /// died mid-statement (kill -9, a lost container) only when the statement ends: its transaction and
    /// the run's lock outlive it by as long as the statement runs (minutes for an index build).
    /// PostgreSQL 14+ can check the socket while a query runs; older servers lack the setting (no row,
    /// skipped) and platforms without support reject it (ignored).
    pub async fn watch_client(&mut self) {
        if self.watches_client.is_some() {
            return;
        }
        let took = sqlx::raw_sql(
            "SELECT set_config('client_connection_check_interval', '1000', false) \
             WHERE current_setting('client_connection_check_interval', true) IS NOT NULL",
        )
        .fetch_optional(&mut self.conn)
        .await
        .is_ok_and(|row| row.is_some());
        self.watches_client = Some(took);
    }
}

#[cfg(feature = "postgres")]
pub async fn connect(url: &DatabaseUrl) -> Result<PgConn, sqlx::Error> {
    let conn = PgConnectOptions::from_str(&url.expose_driver_url())?
        .application_name("alembix")
        .connect()
        .await?;
    Ok(PgConn {
        conn,
        watches_client: None,
    })
}

/// The advisory-lock key: 64 bits of SHA-256 of the lock name.
pub fn lock_key(name: &str) -> i64 {
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// Polled with backoff by the caller, never blocking: a session waiting inside `pg_advisory_lock` would
/// hold a snapshot that `CREATE INDEX CONCURRENTLY` in the lock holder waits for.
/// The migration lock is a transaction-scoped advisory lock, taken in a transaction that a connection of its
/// own keeps open for the run: it needs no session state, so it works the same behind a transaction-mode
/// pooler (where a session lock stays on whichever server connection took it, long after the run), and it
/// goes with the transaction when the run ends or dies. Idle-in-transaction timeouts are lifted for it.
pub fn try_lock_sql(name: &str) -> String {
    format!(
        "SELECT set_config('idle_in_transaction_session_timeout', '0', true), \
         pg_try_advisory_xact_lock({})::text",
        lock_key(name)
    )
}

pub fn lock_holder_sql(name: &str) -> String {
    let key = lock_key(name);
    // A bigint key shows in pg_locks as classid (high 32 bits) and objid (low 32 bits), objsubid 1.
    let (hi, lo) = ((key >> 32) & 0xffff_ffff, key & 0xffff_ffff);
    format!(
        "SELECT 'pid ' || a.pid || ' (' || coalesce(a.usename, '?') || '@' || coalesce(host(a.client_addr), 'local') \
         || ', application ' || quote_literal(coalesce(a.application_name, '')) || ', connected since ' \
         || to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS') || ')' \
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
         WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = {hi} AND l.objid::bigint = {lo} AND l.objsubid = 1 \
         AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
}

pub fn table_exists_sql(table: &str) -> String {
    format!(
        "SELECT 'yes' WHERE to_regclass({}) IS NOT NULL",
        literal(table, Dialect::Postgres)
    )
}

#[cfg(feature = "postgres")]
pub fn error(db: &(dyn sqlx::error::DatabaseError + 'static)) -> DbError {
    let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() else {
        return DbError::new(db.message());
    };
    // Not `to_string()`: sqlx appends the server's C source line, which reads like a line of the user's SQL.
    let mut message = pg.message().to_string();
    if let Some(detail) = pg.detail() {
        message.push_str(&format!("\nDETAIL: {detail}"));
    }
    if let Some(hint) = pg.hint() {
        message.push_str(&format!("\nHINT: {hint}"));
    }
    message.push_str(&format!(" (SQLSTATE {})", pg.code()));
    let position = match pg.position() {
        Some(PgErrorPosition::Original(p)) => Some(p),
        _ => None,
    };
    DbError {
        message,
        code: Some(pg.code().to_string()),
        position,
    }
}
