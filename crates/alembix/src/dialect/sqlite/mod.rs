//! SQLite: connect (bundled library, no server), a lock file for the migration lock, catalog checks,
//! error messages.

pub mod inspect;
pub mod render;

#[cfg(feature = "sqlite")]
use std::fs::File;
#[cfg(feature = "sqlite")]
use std::path::PathBuf;
#[cfg(feature = "sqlite")]
use std::str::FromStr;
#[cfg(feature = "sqlite")]
use std::time::Duration;

#[cfg(feature = "sqlite")]
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
#[cfg(feature = "sqlite")]
use sqlx::ConnectOptions;

#[cfg_attr(not(feature = "sqlite"), allow(unused_imports))]
use super::{literal, DbError};
#[cfg_attr(not(feature = "sqlite"), allow(unused_imports))]
use crate::url::{DatabaseUrl, Dialect, SqliteLocation};

#[cfg(feature = "sqlite")]
/// A SQLite connection and, for a file database, the lock file beside it.
pub struct SqliteConn {
    pub conn: SqliteConnection,
    lock_path: Option<PathBuf>,
    lock: Option<File>,
}

#[cfg(feature = "sqlite")]
pub async fn connect(url: &DatabaseUrl) -> Result<SqliteConn, sqlx::Error> {
    let conn = SqliteConnectOptions::from_str(&url.expose_driver_url())?
        .create_if_missing(true)
        .busy_timeout(Duration::from_secs(30))
        // SQLite's own default, as with the sqlite3 shell and Python: migrations that rebuild tables need it
        // off, and sqlx would turn it on.
        .foreign_keys(false)
        .connect()
        .await?;
    let lock_path = match url.sqlite_location() {
        Some(SqliteLocation::File(p)) => {
            // The database's real path: through a symlink or `..` two runs must find the same lock.
            let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
            let mut name = p.as_os_str().to_owned();
            name.push(".alembix-lock");
            Some(PathBuf::from(name))
        }
        _ => None,
    };
    Ok(SqliteConn {
        conn,
        lock_path,
        lock: None,
    })
}

#[cfg(feature = "sqlite")]
impl SqliteConn {
    /// An exclusive OS lock on `<db>.alembix-lock`, released when the process exits (even on `kill -9`).
    pub fn try_lock(&mut self) -> Result<bool, DbError> {
        let Some(path) = &self.lock_path else {
            return Ok(true); // an in-memory database is private to this connection
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| {
                let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                    " (it belongs to another user: make it writable for this one, or remove it when no alembix \
                     run is active)"
                } else {
                    ""
                };
                DbError::new(format!("cannot open lock file {}: {e}{hint}", path.display()))
            })?;
        match file.try_lock() {
            Ok(()) => {
                use std::io::Write;
                // Say who holds it, for the message of whoever waits.
                let _ = file.set_len(0);
                let _ = (&file).write_all(super::super::migrate::who().as_bytes());
                self.lock = Some(file);
                Ok(true)
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(false),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(DbError::new(format!("cannot lock {}: {e}", path.display())))
            }
        }
    }

    pub fn unlock(&mut self) {
        if let Some(f) = self.lock.take() {
            let _ = f.set_len(0);
            let _ = f.unlock();
        }
    }

    pub fn lock_holder(&self) -> Option<String> {
        let path = self.lock_path.as_ref()?;
        let who = std::fs::read_to_string(path).ok()?;
        let who = who.trim();
        (!who.is_empty()).then(|| format!("{who} (lock file {})", path.display()))
    }
}

pub fn table_exists_sql(table: &str) -> String {
    let name = table.rsplit('.').next().unwrap_or(table);
    format!(
        "SELECT 'yes' FROM sqlite_master WHERE type = 'table' AND name = {}",
        literal(name, Dialect::Sqlite)
    )
}

#[cfg(feature = "sqlite")]
pub fn error(db: &(dyn sqlx::error::DatabaseError + 'static)) -> DbError {
    DbError {
        message: db.message().to_string(),
        code: db.code().map(|c| c.to_string()),
        position: None,
    }
}
