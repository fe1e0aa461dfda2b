//! SQLite: connect (bundled library, no server), run statements in process, a lock file for the migration
//! lock, catalog checks, error messages.
//!
//! SQLite is called directly (rusqlite), on the thread that runs the migration. A driver with a worker
//! thread (sqlx's) hands every statement's result across threads: applying 500 one-table revisions cost
//! 11,700 voluntary context switches instead of 6,600, about 10% of the run.

pub mod inspect;
pub mod render;

#[cfg(feature = "sqlite")]
use std::fs::File;
#[cfg(feature = "sqlite")]
use std::path::PathBuf;
#[cfg(feature = "sqlite")]
use std::time::Duration;

#[cfg(feature = "sqlite")]
use rusqlite::{types::ValueRef, OpenFlags};

#[cfg_attr(not(feature = "sqlite"), allow(unused_imports))]
use super::{literal, DbError};
#[cfg_attr(not(feature = "sqlite"), allow(unused_imports))]
use crate::url::{DatabaseUrl, Dialect, SqliteLocation};

#[cfg(feature = "sqlite")]
/// A SQLite connection and, for a file database, the lock file beside it.
pub struct SqliteConn {
    conn: rusqlite::Connection,
    lock_path: Option<PathBuf>,
    lock: Option<File>,
}

#[cfg(feature = "sqlite")]
/// Rows of text cells, as [`super::Connection::query_text`] returns them.
type Rows = Vec<Vec<Option<String>>>;

#[cfg(feature = "sqlite")]
pub fn connect(url: &DatabaseUrl) -> Result<SqliteConn, DbError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let (conn, lock_path) = match url.sqlite_location() {
        Some(SqliteLocation::File(p)) => {
            // Options in the URL (`?mode=ro`, `cache=shared`, `immutable=1`, `vfs=…`) are SQLite's own URI
            // parameters: the file is opened as a `file:` URI with them.
            let query = uri_query(url)?;
            let conn = if query.is_empty() {
                rusqlite::Connection::open_with_flags(p, flags - OpenFlags::SQLITE_OPEN_URI)
            } else {
                rusqlite::Connection::open_with_flags(file_uri(p, &query), flags)
            }
            .map_err(|e| open_error(&e, p))?;
            // The database's real path: through a symlink or `..` two runs must find the same lock.
            let p = std::fs::canonicalize(p).unwrap_or_else(|_| p.clone());
            let mut name = p.as_os_str().to_owned();
            name.push(".alembix-lock");
            (conn, Some(PathBuf::from(name)))
        }
        _ => (
            rusqlite::Connection::open_in_memory_with_flags(flags).map_err(|e| error(&e))?,
            None,
        ),
    };
    // Another writer (the app itself) is waited for. Foreign keys off: SQLite's own default, as with the
    // sqlite3 shell and Python, which migrations that rebuild tables need; the bundled library is built
    // with them on.
    conn.busy_timeout(Duration::from_secs(30))
        .and_then(|()| conn.execute_batch("PRAGMA foreign_keys = OFF"))
        .map_err(|e| error(&e))?;
    Ok(SqliteConn {
        conn,
        lock_path,
        lock: None,
    })
}

#[cfg(feature = "sqlite")]
/// SQLite's own URI parameters, which a URL may carry.
const URI_PARAMETERS: [&str; 6] = ["mode", "cache", "immutable", "vfs", "nolock", "psow"];

#[cfg(feature = "sqlite")]
/// Parameters of Python's `sqlite3` module, which a SQLAlchemy URL may carry; they mean nothing here.
const PYTHON_PARAMETERS: [&str; 6] = [
    "check_same_thread",
    "uri",
    "timeout",
    "isolation_level",
    "detect_types",
    "cached_statements",
];

/// The URL's SQLite URI parameters as a query string (empty when there are none); an unknown parameter is
/// an error, a Python driver's is ignored.
#[cfg(feature = "sqlite")]
fn uri_query(url: &DatabaseUrl) -> Result<String, DbError> {
    let mut query = String::new();
    for (key, value) in url.query_pairs() {
        if PYTHON_PARAMETERS.contains(&key.as_str()) {
            continue;
        }
        if !URI_PARAMETERS.contains(&key.as_str()) {
            return Err(DbError::new(format!(
                "unknown parameter `{key}` in the SQLite URL; SQLite takes {}",
                URI_PARAMETERS.join(", ")
            )));
        }
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(&key);
        query.push('=');
        query.push_str(&escape(&value, "%&#"));
    }
    Ok(query)
}

/// `file:` URI of a path with a query: the characters a URI gives meaning to are escaped.
#[cfg(feature = "sqlite")]
fn file_uri(path: &std::path::Path, query: &str) -> String {
    format!("file:{}?{query}", escape(&path.to_string_lossy(), "%?#"))
}

#[cfg(feature = "sqlite")]
fn escape(text: &str, special: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if special.contains(c) {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(feature = "sqlite")]
fn open_error(e: &rusqlite::Error, path: &std::path::Path) -> DbError {
    let mut err = error(e);
    err.message = format!("{} ({})", err.message, path.display());
    err
}

#[cfg(feature = "sqlite")]
impl SqliteConn {
    /// Run SQL text of one or more statements; on failure, how many had completed (the failing one is the
    /// next). Rows that statements return are dropped.
    pub fn execute_counting(&mut self, sql: &str) -> Result<(), (usize, DbError)> {
        let mut done = 0usize;
        self.each_statement(sql, |_| Ok(()), &mut done)
            .map_err(|e| (done, e))
    }

    /// The rows of every statement of the text, one after the other, every cell as text.
    pub fn query_text(&mut self, sql: &str) -> Result<Rows, DbError> {
        let mut rows = Vec::new();
        let mut done = 0usize;
        self.each_statement(
            sql,
            |row| {
                rows.push(row);
                Ok(())
            },
            &mut done,
        )?;
        Ok(rows)
    }

    /// Prepare and run each statement of `sql` in turn (SQLite reads the text from where the last one
    /// ended, without copying it), handing every row to `on_row`; `done` counts the statements that ran.
    fn each_statement(
        &mut self,
        sql: &str,
        mut on_row: impl FnMut(Vec<Option<String>>) -> Result<(), DbError>,
        done: &mut usize,
    ) -> Result<(), DbError> {
        use rusqlite::fallible_iterator::FallibleIterator as _;
        let mut batch = rusqlite::Batch::new(&self.conn, sql);
        while let Some(mut stmt) = batch.next().map_err(|e| error(&e))? {
            let columns = stmt.column_count();
            let mut rows = stmt.raw_query();
            while let Some(row) = rows.next().map_err(|e| error(&e))? {
                let mut cells = Vec::with_capacity(columns);
                for i in 0..columns {
                    cells.push(text(row.get_ref(i).map_err(|e| error(&e))?));
                }
                on_row(cells)?;
            }
            *done += 1;
        }
        Ok(())
    }

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
/// A cell as text. Queries that read numbers cast them to text in SQL, so SQLite's own formatting is
/// what they see; an uncast real gets Rust's shortest round-trip form.
fn text(v: ValueRef<'_>) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(format!("{f:?}")),
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
    }
}

#[cfg(feature = "sqlite")]
pub fn error(e: &rusqlite::Error) -> DbError {
    match e {
        rusqlite::Error::SqliteFailure(code, message) => DbError {
            message: message.clone().unwrap_or_else(|| code.to_string()),
            code: Some(code.extended_code.to_string()),
            position: None,
        },
        other => DbError::new(other.to_string()),
    }
}
