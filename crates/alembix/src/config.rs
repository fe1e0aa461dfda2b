//! `alembix.toml`: where the migrations live, how files are named, and where the database URL comes from.
//! Paths in the file are relative to the file's own directory.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::url::DatabaseUrl;

/// The config file name looked up in the current directory.
pub const CONFIG_FILE: &str = "alembix.toml";
pub const DEFAULT_VERSION_TABLE: &str = "alembix_version";
pub const DEFAULT_FILE_TEMPLATE: &str = "{rev}_{slug}";
pub const DEFAULT_URL_ENV: &str = "DATABASE_URL";
/// The script template looked up inside the migrations directory.
pub const SCRIPT_TEMPLATE_FILE: &str = "script.sql.j2";

/// The file as written by the user. Unknown keys are rejected.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    url: Option<String>,
    url_env: Option<String>,
    migrations: Option<PathBuf>,
    file_template: Option<String>,
    version_table: Option<String>,
    schema: Option<PathBuf>,
    schema_command: Option<String>,
    dev_url: Option<String>,
    transaction_per_migration: Option<bool>,
    script_template: Option<PathBuf>,
}

/// Resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file, if one was found.
    pub path: Option<PathBuf>,
    /// Directory that relative paths are resolved against.
    pub root: PathBuf,
    pub url: Option<String>,
    pub url_env: String,
    pub migrations: PathBuf,
    pub file_template: String,
    pub version_table: String,
    pub schema: Option<PathBuf>,
    pub schema_command: Option<String>,
    pub dev_url: Option<String>,
    /// `true` (default): each revision commits on its own; `false`: one transaction for the whole run
    /// where the database allows it.
    pub transaction_per_migration: bool,
    /// A user template for new revision files (defaults to `script.sql.j2` in the migrations directory, if present).
    pub script_template: Option<PathBuf>,
}

impl Config {
    /// Defaults for a project rooted at `root` with no config file.
    pub fn defaults(root: &Path) -> Config {
        Config::from_raw(RawConfig::default(), None, root)
    }

    fn from_raw(raw: RawConfig, path: Option<PathBuf>, root: &Path) -> Config {
        // `./migrations` would show in every message; a project in the current directory keeps paths short.
        let abs = |p: PathBuf| {
            if p.is_absolute() || root == Path::new(".") {
                p
            } else {
                root.join(p)
            }
        };
        Config {
            path,
            root: root.to_path_buf(),
            url: raw.url,
            url_env: raw.url_env.unwrap_or_else(|| DEFAULT_URL_ENV.to_string()),
            migrations: abs(raw
                .migrations
                .unwrap_or_else(|| PathBuf::from("migrations"))),
            file_template: raw
                .file_template
                .unwrap_or_else(|| DEFAULT_FILE_TEMPLATE.to_string()),
            version_table: raw
                .version_table
                .unwrap_or_else(|| DEFAULT_VERSION_TABLE.to_string()),
            schema: raw.schema.map(abs),
            schema_command: raw.schema_command,
            dev_url: raw.dev_url,
            transaction_per_migration: raw.transaction_per_migration.unwrap_or(true),
            script_template: raw.script_template.map(abs),
        }
    }

    /// Parse config text; `path` is used for messages and to resolve relative paths.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            // The message quotes the offending line, which may hold a URL with a password.
            message: mask_urls(e.to_string().trim_end()),
        })?;
        let root = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let config = Config::from_raw(raw, Some(path.to_path_buf()), root);
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        let bad = |message: String| Error::Config {
            path: self.path.clone().unwrap_or_default(),
            message,
        };
        let table = &self.version_table;
        if table.is_empty()
            || !table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err(bad(format!(
                "version_table `{table}` must be a plain identifier (letters, digits, `_`, optionally `schema.table`)"
            )));
        }
        crate::script::validate_file_template(&self.file_template).map_err(bad)?;
        if self.url_env.is_empty() {
            return Err(bad("url_env must not be empty".into()));
        }
        Ok(())
    }

    /// Load the config given explicitly, or `alembix.toml` in `dir` if it exists, or defaults.
    pub fn load(explicit: Option<&Path>, dir: &Path) -> Result<Config> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let candidate = dir.join(CONFIG_FILE);
                if !candidate.is_file() {
                    return Ok(Config::defaults(dir));
                }
                candidate
            }
        };
        let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        Config::from_toml(&text, &path)
    }

    /// The database URL: `--url`, then the environment variable named by `url_env` (the real environment
    /// first, then `.env` beside the config), then `url` in the config.
    pub fn resolve_url(&self, cli_url: Option<&str>) -> Result<DatabaseUrl> {
        let (raw, source) = if let Some(u) = cli_url {
            (u.to_string(), "--url".to_string())
        } else if let Some(u) = self.env_value(&self.url_env)? {
            (u, format!("${}", self.url_env))
        } else if let Some(u) = &self.url {
            let url = DatabaseUrl::parse(u).map_err(|e| Error::Url {
                source_name: format!("`url` in {}", self.display_path()),
                error: e,
            })?;
            // A SQLite file named in the config file lives beside it, wherever alembix runs from.
            return Ok(url.relative_to(&self.root));
        } else {
            return Err(Error::NoUrl {
                env: self.url_env.clone(),
            });
        };
        DatabaseUrl::parse(&raw).map_err(|e| Error::Url {
            source_name: source,
            error: e,
        })
    }

    /// A variable from the real environment, else from `.env` in the project root. `.env` never overrides.
    pub fn env_value(&self, name: &str) -> Result<Option<String>> {
        if let Ok(v) = std::env::var(name) {
            if !v.is_empty() {
                return Ok(Some(v));
            }
        }
        let dotenv = self.root.join(".env");
        if !dotenv.is_file() {
            return Ok(None);
        }
        let iter = dotenvy::from_path_iter(&dotenv).map_err(|e| Error::Config {
            path: dotenv.clone(),
            message: e.to_string(),
        })?;
        for (n, item) in iter.enumerate() {
            // dotenvy's message repeats the whole line, which may be any secret: say where, not what.
            let (k, v) = item.map_err(|_| Error::Config {
                path: dotenv.clone(),
                message: format!("entry {} cannot be parsed (expected KEY=VALUE)", n + 1),
            })?;
            if k == name {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    fn display_path(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| CONFIG_FILE.to_string(), |p| p.display().to_string())
    }

    /// The script template to use for new revisions, if the user has one.
    pub fn script_template_path(&self) -> Option<PathBuf> {
        if let Some(p) = &self.script_template {
            return Some(p.clone());
        }
        let p = self.migrations.join(SCRIPT_TEMPLATE_FILE);
        p.is_file().then_some(p)
    }
}

/// Mask the password of every URL-looking word in a message.
fn mask_urls(message: &str) -> String {
    message
        .split_inclusive(char::is_whitespace)
        .map(|w| {
            if w.contains("://") && w.contains('@') {
                let trimmed = w.trim_end();
                let masked = crate::url::mask_raw(trimmed.trim_matches(['"', '\'', '`']));
                let lead = &trimmed[..trimmed.find(|c: char| c.is_alphanumeric()).unwrap_or(0)];
                format!("{lead}{masked}{}", &w[trimmed.len()..])
            } else {
                w.to_string()
            }
        })
        .collect()
}

/// The `alembix.toml` written by `alembix init`.
pub fn default_config_text() -> &'static str {
    r#"# alembix configuration. Paths are relative to this file.

# Where revision files live.
migrations = "migrations"

# The database URL is read from the environment variable named here (also from a `.env` file beside this
# file), unless `--url` is given. SQLAlchemy-style URLs work unchanged.
url_env = "DATABASE_URL"

# Used when neither --url nor the environment variable is set.
url = "sqlite:app.db"

# Table that records the applied heads (Alembic's shape; "alembic_version" continues an Alembic project).
version_table = "alembix_version"

# New revision file names. Placeholders: {rev} {slug} {year} {month} {day} {hour} {minute} {second} {epoch}
file_template = "{rev}_{slug}"

# The desired schema, for `revision --autogenerate` and `check`.
schema = "schema.sql"
# Or a command that prints DDL, e.g. from SQLAlchemy models:
# schema_command = "python -m myapp.print_ddl"

# Scratch database for autogenerate on PostgreSQL/MySQL (default: a temporary database on the same server).
# dev_url = "postgres://postgres@localhost/alembix_dev"

# Each revision in its own transaction (true), or the whole run in one where the database allows (false).
transaction_per_migration = true
"#
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_names_key_and_file() {
        let err = Config::from_toml("migratons = \"m\"\n", Path::new("/p/alembix.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("migratons"), "{err}");
        assert!(err.contains("/p/alembix.toml"), "{err}");
    }

    #[test]
    fn parse_errors_do_not_show_passwords() {
        let err = Config::from_toml("url = postgres://u:s3cret@h/db\n", Path::new("a.toml"))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn paths_are_relative_to_config_file() {
        let c = Config::from_toml("migrations = \"db/m\"\n", Path::new("/p/alembix.toml")).unwrap();
        assert_eq!(c.migrations, PathBuf::from("/p/db/m"));
        assert_eq!(c.version_table, DEFAULT_VERSION_TABLE);
        assert!(c.transaction_per_migration);
    }

    #[test]
    fn default_text_parses() {
        Config::from_toml(default_config_text(), Path::new("/p/alembix.toml")).unwrap();
    }

    #[test]
    fn bad_version_table_is_rejected() {
        let err =
            Config::from_toml("version_table = \"x; drop\"\n", Path::new("a.toml")).unwrap_err();
        assert!(err.to_string().contains("version_table"));
    }

    #[test]
    fn url_resolution_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alembix.toml");
        std::fs::write(
            &path,
            "url = \"sqlite:from_config.db\"\nurl_env = \"ALEMBIX_TEST_URL_ORDER\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&path), dir.path()).unwrap();
        // A relative SQLite path in the config file is relative to the file.
        assert_eq!(
            c.resolve_url(None).unwrap().to_string(),
            format!("sqlite:{}", dir.path().join("from_config.db").display())
        );
        std::fs::write(
            dir.path().join(".env"),
            "ALEMBIX_TEST_URL_ORDER=sqlite:from_dotenv.db\n",
        )
        .unwrap();
        assert_eq!(
            c.resolve_url(None).unwrap().to_string(),
            "sqlite:from_dotenv.db"
        );
        assert_eq!(
            c.resolve_url(Some("sqlite:from_cli.db"))
                .unwrap()
                .to_string(),
            "sqlite:from_cli.db"
        );
    }
}
