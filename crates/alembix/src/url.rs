//! Database URLs: every form a user may already have in `DATABASE_URL` (sqlx-style and SQLAlchemy-style),
//! parsed into one typed value whose `Display` and `Debug` never show the password.

use std::fmt;
use std::path::PathBuf;

/// The database engines alembix speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Postgres,
    Mysql,
    Sqlite,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgresql",
            Dialect::Mysql => "mysql",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// A dialect by the names people use for it (`postgresql`, `postgres`, `mysql`, `mariadb`, `sqlite`),
    /// any case.
    pub fn from_name(name: &str) -> Option<Dialect> {
        Some(match name.to_ascii_lowercase().as_str() {
            "postgresql" | "postgres" | "pg" => Dialect::Postgres,
            "mysql" | "mariadb" => Dialect::Mysql,
            "sqlite" | "sqlite3" => Dialect::Sqlite,
            _ => return None,
        })
    }

    pub const ALL: [Dialect; 3] = [Dialect::Postgres, Dialect::Mysql, Dialect::Sqlite];
}

/// In config files a dialect is any of the names [`Dialect::from_name`] knows.
impl<'de> serde::Deserialize<'de> for Dialect {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Dialect, D::Error> {
        let name = String::deserialize(d)?;
        Dialect::from_name(&name).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown engine `{name}`; expected postgresql, mysql or sqlite"
            ))
        })
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where a SQLite database lives.
#[derive(Clone, PartialEq, Eq)]
pub enum SqliteLocation {
    Memory,
    File(PathBuf),
}

/// A parsed database URL.
///
/// For server databases the URL is kept in the canonical form the driver understands
/// (`postgres://…` or `mysql://…`, SQLAlchemy's `+driver` suffix removed).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    dialect: Dialect,
    /// Canonical driver URL for servers; for SQLite the path (or `:memory:`) plus query.
    url: url::Url,
    sqlite: Option<SqliteLocation>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid database URL `{shown}`: {reason}")]
pub struct UrlError {
    /// The URL with any password masked.
    pub shown: String,
    pub reason: String,
}

const MASK: &str = "***";

impl DatabaseUrl {
    /// Parse any accepted URL form.
    ///
    /// ```
    /// use alembix::{DatabaseUrl, Dialect};
    ///
    /// let url = DatabaseUrl::parse("postgresql+asyncpg://app:s3cret@db:5432/app").unwrap();
    /// assert_eq!(url.dialect(), Dialect::Postgres);
    /// assert_eq!(url.to_string(), "postgres://app:***@db:5432/app"); // never the password
    /// assert_eq!(DatabaseUrl::parse("sqlite:///app.db").unwrap().to_string(), "sqlite:app.db");
    /// ```
    pub fn parse(input: &str) -> Result<DatabaseUrl, UrlError> {
        let input = input.trim();
        let fail = |reason: &str| UrlError {
            shown: mask_raw(input),
            reason: reason.to_string(),
        };
        let Some((scheme, rest)) = input.split_once(':') else {
            return Err(fail(
                "expected a scheme such as postgres://, mysql:// or sqlite:",
            ));
        };
        let scheme_lc = scheme.to_ascii_lowercase();
        let (base, _driver) = scheme_lc
            .split_once('+')
            .map_or((scheme_lc.as_str(), None), |(b, d)| (b, Some(d)));
        let dialect = match base {
            "postgres" | "postgresql" | "pgsql" => Dialect::Postgres,
            "mysql" | "mariadb" => Dialect::Mysql,
            "sqlite" | "sqlite3" => Dialect::Sqlite,
            _ => {
                return Err(fail(&format!(
                "unsupported scheme `{scheme}`; use postgresql://, mysql://, mariadb:// or sqlite:"
            )))
            }
        };
        if dialect == Dialect::Sqlite {
            return Self::parse_sqlite(rest).map_err(|r| fail(&r));
        }
        let canonical_scheme = match dialect {
            Dialect::Postgres => "postgres",
            _ => "mysql",
        };
        let mut url = url::Url::parse(&format!("{canonical_scheme}:{rest}"))
            .map_err(|e| fail(&e.to_string()))?;
        if url.host_str().is_none_or(str::is_empty) && !url.query_pairs().any(|(k, _)| k == "host")
        {
            return Err(fail("no host given"));
        }
        // A `#`, or an `@` after the host, is a password with special characters that were not
        // percent-encoded: the URL would split inside the password (and show the rest of it).
        if url.fragment().is_some()
            || url.path().contains('@')
            || url.query().is_some_and(|q| q.contains('@'))
        {
            return Err(fail(
                "the URL splits in an odd place (a `#`, or an `@` after the host): if the password has special \
                 characters, percent-encode them (`#` as %23, `@` as %40, `/` as %2F, `?` as %3F)",
            ));
        }
        // SQLAlchemy/asyncpg spell TLS as `ssl=require`; the Rust drivers read `sslmode`.
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if dialect == Dialect::Mysql && pairs.iter().any(|(k, _)| k == "ssl" || k == "ssl_mode") {
            // SQLAlchemy/PyMySQL: `ssl=require` / `ssl=true` / `ssl_mode=REQUIRED`; sqlx reads `ssl-mode`.
            let mut q = url.query_pairs_mut();
            q.clear();
            for (k, v) in &pairs {
                match k.as_str() {
                    "ssl" | "ssl_mode" => {
                        let mode = match v.to_ascii_lowercase().as_str() {
                            "require" | "required" | "true" | "1" => "REQUIRED",
                            "false" | "0" | "disable" | "disabled" => "DISABLED",
                            "verify_ca" | "verify-ca" => "VERIFY_CA",
                            "verify_identity" | "verify-full" | "verify_full" => "VERIFY_IDENTITY",
                            _ => "PREFERRED",
                        };
                        q.append_pair("ssl-mode", mode);
                    }
                    _ => {
                        q.append_pair(k, v);
                    }
                }
            }
        } else if pairs.iter().any(|(k, _)| k == "ssl")
            && !pairs.iter().any(|(k, _)| k == "sslmode")
        {
            let mut q = url.query_pairs_mut();
            q.clear();
            for (k, v) in &pairs {
                let key = if k == "ssl" { "sslmode" } else { k.as_str() };
                let value = match (key, v.as_str()) {
                    ("sslmode", "true") => "require",
                    ("sslmode", "false") => "disable",
                    _ => v.as_str(),
                };
                q.append_pair(key, value);
            }
        }
        Ok(DatabaseUrl {
            dialect,
            url,
            sqlite: None,
        })
    }

    fn parse_sqlite(rest: &str) -> Result<DatabaseUrl, String> {
        let (path_part, query) = rest.split_once('?').unwrap_or((rest, ""));
        let location = if path_part.is_empty() || path_part == "//" || path_part == ":memory:" {
            // `sqlite://` is SQLAlchemy's in-memory database; `sqlite::memory:` is sqlx's.
            SqliteLocation::Memory
        } else if let Some(p) = path_part.strip_prefix("///") {
            // SQLAlchemy: `sqlite:///rel.db` is relative, `sqlite:////abs.db` absolute.
            if p.is_empty() || p == ":memory:" {
                SqliteLocation::Memory
            } else {
                SqliteLocation::File(PathBuf::from(p))
            }
        } else if let Some(p) = path_part.strip_prefix("//") {
            // sqlx: `sqlite://app.db` means the file app.db.
            SqliteLocation::File(PathBuf::from(p))
        } else {
            SqliteLocation::File(PathBuf::from(path_part))
        };
        if let SqliteLocation::File(p) = &location {
            if p.as_os_str().is_empty() {
                return Err("no file name given".into());
            }
        }
        let display = match &location {
            SqliteLocation::Memory => ":memory:".to_string(),
            SqliteLocation::File(p) => p.display().to_string(),
        };
        // Keep a URL-shaped value so the query string survives; the path is carried separately.
        let mut url = url::Url::parse("sqlite:placeholder").map_err(|e| e.to_string())?;
        url.set_path(&display);
        if !query.is_empty() {
            url.set_query(Some(query));
        }
        Ok(DatabaseUrl {
            dialect: Dialect::Sqlite,
            url,
            sqlite: Some(location),
        })
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// For SQLite, where the database lives.
    pub fn sqlite_location(&self) -> Option<&SqliteLocation> {
        self.sqlite.as_ref()
    }

    /// Query parameters as given.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    /// The database name for server URLs (`/name` path), if any.
    pub fn database(&self) -> Option<&str> {
        if self.dialect == Dialect::Sqlite {
            return None;
        }
        let name = self.url.path().trim_start_matches('/');
        (!name.is_empty()).then_some(name)
    }

    pub fn host(&self) -> Option<&str> {
        self.url.host_str()
    }

    pub fn port(&self) -> Option<u16> {
        self.url.port()
    }

    pub fn username(&self) -> &str {
        self.url.username()
    }

    /// The URL in the form the driver understands, **including the password**. Never print it.
    pub fn expose_driver_url(&self) -> String {
        match &self.sqlite {
            Some(SqliteLocation::Memory) => "sqlite::memory:".to_string(),
            Some(SqliteLocation::File(p)) => match self.url.query() {
                Some(q) => format!("sqlite:{}?{q}", p.display()),
                None => format!("sqlite:{}", p.display()),
            },
            None => self.url.to_string(),
        }
    }

    /// A copy pointing at another database on the same server (for scratch databases).
    pub fn with_database(&self, name: &str) -> DatabaseUrl {
        let mut copy = self.clone();
        if copy.sqlite.is_none() {
            copy.url.set_path(&format!("/{name}"));
        }
        copy
    }

    /// For a relative SQLite file, the same file seen from `dir`.
    pub fn relative_to(mut self, dir: &std::path::Path) -> DatabaseUrl {
        if let Some(SqliteLocation::File(p)) = &self.sqlite {
            if p.is_relative() && dir != std::path::Path::new(".") && !dir.as_os_str().is_empty() {
                self.sqlite = Some(SqliteLocation::File(dir.join(p)));
            }
        }
        self
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sqlite {
            Some(SqliteLocation::Memory) => f.write_str("sqlite::memory:"),
            Some(SqliteLocation::File(p)) => write!(f, "sqlite:{}", p.display()),
            None => {
                let mut shown = self.url.clone();
                if shown.password().is_some() {
                    let _ = shown.set_password(Some(MASK));
                }
                // Passwords can also ride in the query string.
                let pairs = self.query_pairs();
                if pairs.iter().any(|(k, _)| is_secret_param(k)) {
                    let mut q = shown.query_pairs_mut();
                    q.clear();
                    for (k, v) in &pairs {
                        q.append_pair(k, if is_secret_param(k) { MASK } else { v });
                    }
                }
                f.write_str(shown.as_str())
            }
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

fn is_secret_param(key: &str) -> bool {
    matches!(
        key.to_ascii_lowercase().as_str(),
        "password"
            | "pass"
            | "passwd"
            | "pwd"
            | "sslpassword"
            | "sslkey_password"
            | "token"
            | "secret"
    )
}

/// Mask every secret in a string that may not even parse as a URL, for error messages: the password of the
/// user-info part (with or without `//` after the scheme), and the values of `password=`, `sslpassword=`
/// (any case) query parameters. When in doubt it hides more, never less.
pub fn mask_raw(input: &str) -> String {
    let (head, query) = match input.find('?') {
        Some(q) => (&input[..q], Some(&input[q + 1..])),
        None => (input, None),
    };
    let mut out = mask_userinfo(head);
    if let Some(query) = query {
        out.push('?');
        let parts: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if is_secret_param(k.trim()) => format!("{k}={MASK}"),
                _ => pair.to_string(),
            })
            .collect();
        out.push_str(&parts.join("&"));
    }
    // A password may contain `?` or `&`: an `@` after the query start means the user info ran into it.
    if query.is_some_and(|q| q.contains('@')) {
        return mask_userinfo(input);
    }
    out
}

/// `scheme://user:password@host…` or `scheme:user:password@host…` with the password hidden: everything
/// between the first `:` of the user info and the last `@` (a password may hold `/`, `:` or `@`).
fn mask_userinfo(input: &str) -> String {
    let Some(scheme_end) = input.find(':') else {
        return input.to_string();
    };
    let after_scheme = &input[scheme_end + 1..];
    let prefix_len =
        scheme_end + 1 + after_scheme.len() - after_scheme.trim_start_matches('/').len();
    let rest = &input[prefix_len..];
    match (rest.find(':'), rest.rfind('@')) {
        (Some(colon), Some(at)) if colon < at => {
            format!(
                "{}{}:{MASK}{}",
                &input[..prefix_len],
                &rest[..colon],
                &rest[at..]
            )
        }
        _ => input.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> DatabaseUrl {
        DatabaseUrl::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn server_forms() {
        for (input, dialect, driver) in [
            (
                "postgres://u:secret@h:5432/db",
                Dialect::Postgres,
                "postgres://u:secret@h:5432/db",
            ),
            (
                "postgresql://u@h/db",
                Dialect::Postgres,
                "postgres://u@h/db",
            ),
            (
                "postgresql+asyncpg://u:pw@h/db",
                Dialect::Postgres,
                "postgres://u:pw@h/db",
            ),
            (
                "postgresql+psycopg2://u:pw@h/db?sslmode=require",
                Dialect::Postgres,
                "postgres://u:pw@h/db?sslmode=require",
            ),
            (
                "mysql://root@127.0.0.1:3306/test",
                Dialect::Mysql,
                "mysql://root@127.0.0.1:3306/test",
            ),
            (
                "mariadb://root@h/test",
                Dialect::Mysql,
                "mysql://root@h/test",
            ),
            (
                "mysql+pymysql://u:p@h/db",
                Dialect::Mysql,
                "mysql://u:p@h/db",
            ),
        ] {
            let u = p(input);
            assert_eq!(u.dialect(), dialect, "{input}");
            assert_eq!(u.expose_driver_url(), driver, "{input}");
        }
        assert_eq!(p("postgres://u@h:5432/app").database(), Some("app"));
    }

    #[test]
    fn asyncpg_ssl_param_is_translated() {
        let u = p("postgresql+asyncpg://u@h/db?ssl=require");
        assert_eq!(u.expose_driver_url(), "postgres://u@h/db?sslmode=require");
    }

    #[test]
    fn sqlite_forms() {
        let file = |s: &str| match p(s).sqlite_location() {
            Some(SqliteLocation::File(f)) => f.display().to_string(),
            Some(SqliteLocation::Memory) => ":memory:".into(),
            None => panic!("not sqlite"),
        };
        assert_eq!(file("sqlite:app.db"), "app.db");
        assert_eq!(file("sqlite://app.db"), "app.db");
        assert_eq!(file("sqlite:///app.db"), "app.db");
        assert_eq!(file("sqlite:////var/lib/app.db"), "/var/lib/app.db");
        assert_eq!(file("sqlite+aiosqlite:///data/app.db"), "data/app.db");
        assert_eq!(file("sqlite::memory:"), ":memory:");
        assert_eq!(file("sqlite://"), ":memory:");
        assert_eq!(file("sqlite:///:memory:"), ":memory:");
        assert_eq!(
            p("sqlite:app.db?mode=rwc").expose_driver_url(),
            "sqlite:app.db?mode=rwc"
        );
    }

    #[test]
    fn password_never_displayed() {
        let u = p("postgresql+asyncpg://alice:hunter2@db.example:5432/app?password=hunter3");
        let shown = format!("{u} {u:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("hunter3"), "{shown}");
        assert!(shown.contains("alice:***@db.example"), "{shown}");
    }

    #[test]
    fn errors_mask_password_and_explain() {
        let e = DatabaseUrl::parse("oracle://scott:tiger@h/db").unwrap_err();
        assert!(!e.to_string().contains("tiger"));
        assert!(e.to_string().contains("unsupported scheme"));
        let e = DatabaseUrl::parse("postgres://app:Zm9v/YmFy@db/app").unwrap_err();
        assert!(!e.to_string().contains("Zm9v"), "{e}");
        let e = DatabaseUrl::parse("postgres://u:pw@:5432/db").unwrap_err();
        assert!(!e.to_string().contains(":pw@"), "{e}");
        assert!(DatabaseUrl::parse("nonsense").is_err());
        assert!(DatabaseUrl::parse("sqlite:").is_ok()); // in-memory
    }

    #[test]
    fn mysql_ssl_spellings_of_sqlalchemy() {
        for (given, want) in [
            ("ssl=require", "ssl-mode=REQUIRED"),
            ("ssl=true", "ssl-mode=REQUIRED"),
            ("ssl_mode=VERIFY_IDENTITY", "ssl-mode=VERIFY_IDENTITY"),
            (
                "ssl=false&charset=utf8mb4",
                "ssl-mode=DISABLED&charset=utf8mb4",
            ),
        ] {
            let url = p(&format!("mysql+pymysql://u@h/db?{given}"));
            assert!(
                url.expose_driver_url().ends_with(want),
                "{given}: {}",
                url.expose_driver_url()
            );
        }
    }
}
