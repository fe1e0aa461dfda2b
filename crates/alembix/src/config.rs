//! `alembix.toml`: where the migrations live, how files are named, and where the database URL comes from.
//! Paths in the file are relative to the file's own directory.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::url::DatabaseUrl;

/// The config file name looked up in the current directory and its parents.
pub const CONFIG_FILE: &str = "alembix.toml";
/// Python projects may keep the config as `[tool.alembix]` in this file instead.
pub const PYPROJECT_FILE: &str = "pyproject.toml";
/// Names a config file to use, like `--config`.
pub const CONFIG_ENV: &str = "ALEMBIX_CONFIG";
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
    models: Option<OneOrMany>,
    python: Option<String>,
    dialects: Option<Vec<crate::url::Dialect>>,
    compare: Option<RawCompare>,
    schemas: Option<Vec<String>>,
}

/// `[compare]`: which objects `check` and `revision --autogenerate` compare.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCompare {
    include: Option<Vec<String>>,
    exclude: Option<Vec<String>>,
}

/// A key that takes one string or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
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
    /// SQLAlchemy models as the declared schema: `app.models:Base`, `app.models` (a package, all of whose
    /// modules are imported), `app.db:metadata`, `sqlmodel:SQLModel`.
    pub models: Vec<String>,
    /// How to run the project's Python (`"uv run python"`, `.venv/bin/python`); default: `$VIRTUAL_ENV`,
    /// then `./.venv`, then `python3`.
    pub python: Option<String>,
    /// Engines that `revision --autogenerate` writes a body for (one file, one section per engine);
    /// empty: the engine of the database it compares with, in a plain section.
    pub dialects: Vec<crate::url::Dialect>,
    /// `-x key=value` from the command line (Alembic's habit): `x.key` in script templates, and
    /// `ALEMBIX_X_KEY` (plus `ALEMBIX_X` with all of them) for `schema_command`.
    pub x_args: Vec<(String, String)>,
    /// `[compare] include`: `kind:pattern` entries; when one names a kind, only matching objects of that
    /// kind are compared (see `schema::ObjectFilter`).
    pub compare_include: Vec<String>,
    /// `[compare] exclude`: objects left out of the comparison, such as a trigger the models cannot declare.
    pub compare_exclude: Vec<String>,
    /// PostgreSQL schemas compared beside the current one (Alembic's `include_schemas`); their objects are
    /// named `schema.name`.
    pub schemas: Vec<String>,
}

impl Config {
    /// Defaults for a project rooted at `root` with no config file.
    pub fn defaults(root: &Path) -> Config {
        Config::from_raw(RawConfig::default(), None, root)
    }

    fn from_raw(raw: RawConfig, path: Option<PathBuf>, root: &Path) -> Config {
        let mut dialects = Vec::new();
        for d in raw.dialects.into_iter().flatten() {
            if !dialects.contains(&d) {
                dialects.push(d);
            }
        }
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
            models: match raw.models {
                None => Vec::new(),
                Some(OneOrMany::One(m)) => vec![m],
                Some(OneOrMany::Many(m)) => m,
            },
            python: raw.python.filter(|p| !p.trim().is_empty()),
            dialects,
            x_args: Vec::new(),
            compare_include: raw
                .compare
                .as_ref()
                .and_then(|c| c.include.clone())
                .unwrap_or_default(),
            compare_exclude: raw.compare.and_then(|c| c.exclude).unwrap_or_default(),
            schemas: raw.schemas.unwrap_or_default(),
        }
    }

    /// The `[compare]` settings, compiled.
    pub fn compare_filter(&self) -> Result<crate::schema::ObjectFilter> {
        crate::schema::ObjectFilter::new(&self.compare_include, &self.compare_exclude).map_err(
            |message| Error::Config {
                path: self.path.clone().unwrap_or_default(),
                message,
            },
        )
    }

    /// Parse config text; `path` is used for messages and to resolve relative paths.
    pub fn from_toml(text: &str, path: &Path) -> Result<Config> {
        let toml_err = |e: toml::de::Error| Error::Config {
            path: path.to_path_buf(),
            // The message quotes the offending line, which may hold a URL with a password.
            message: mask_urls(e.to_string().trim_end()),
        };
        let raw: RawConfig = if is_pyproject(path) {
            let table: toml::Table = toml::from_str(text).map_err(toml_err)?;
            let section = table
                .get("tool")
                .and_then(|t| t.get("alembix"))
                .cloned()
                .ok_or_else(|| Error::Config {
                    path: path.to_path_buf(),
                    message: "has no [tool.alembix] table".into(),
                })?;
            section
                .try_into()
                .map_err(|e: toml::de::Error| Error::Config {
                    path: path.to_path_buf(),
                    message: format!("[tool.alembix]: {}", mask_urls(e.to_string().trim_end())),
                })?
        } else {
            toml::from_str(text).map_err(toml_err)?
        };
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
        self.compare_filter()?;
        if let Some(name) = self.schemas.iter().find(|s| {
            s.is_empty()
                || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || s.starts_with(|c: char| c.is_ascii_digit())
        }) {
            return Err(bad(format!(
                "schemas: `{name}` must be a plain identifier (letters, digits, `_`)"
            )));
        }
        if self.url_env.is_empty() {
            return Err(bad("url_env must not be empty".into()));
        }
        let sources: Vec<&str> = [
            self.schema.as_ref().map(|_| "schema"),
            self.schema_command.as_ref().map(|_| "schema_command"),
            (!self.models.is_empty()).then_some("models"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if sources.len() > 1 {
            return Err(bad(format!(
                "{} are all set; the declared schema comes from exactly one of them: keep one",
                sources.join(" and ")
            )));
        }
        Ok(())
    }

    /// Load the config given explicitly, else the one `$ALEMBIX_CONFIG` names, else the first
    /// `alembix.toml` (or `pyproject.toml` with a `[tool.alembix]` table) in `dir` or its parents, like git
    /// and cargo find theirs; else defaults rooted at `dir`.
    pub fn load(explicit: Option<&Path>, dir: &Path) -> Result<Config> {
        let from_env = std::env::var_os(CONFIG_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let path = match explicit.map(Path::to_path_buf).or(from_env) {
            Some(p) => p,
            None => match discover(dir) {
                Some(p) => p,
                None => return Ok(Config::defaults(dir)),
            },
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

fn is_pyproject(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == PYPROJECT_FILE)
}

/// The config file for a project containing `dir`: in `dir` or the nearest parent, `alembix.toml`, or a
/// `pyproject.toml` that has a `[tool.alembix]` table (a pyproject.toml without one is not a config).
/// A file found in `dir` itself is returned as a bare name, so messages stay short.
pub fn discover(dir: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(dir).ok()?;
    for (depth, d) in abs.ancestors().enumerate() {
        let shown = |name: &str| {
            if depth == 0 && dir == Path::new(".") {
                PathBuf::from(name)
            } else {
                d.join(name)
            }
        };
        if d.join(CONFIG_FILE).is_file() {
            return Some(shown(CONFIG_FILE));
        }
        let py = d.join(PYPROJECT_FILE);
        if py.is_file()
            && std::fs::read_to_string(&py).is_ok_and(|t| {
                t.lines()
                    .any(|l| l.trim().trim_start_matches('[').starts_with("tool.alembix"))
            })
        {
            return Some(shown(PYPROJECT_FILE));
        }
    }
    None
}

/// What `load` looks for, for a message when nothing was found.
pub fn searched_description(dir: &Path) -> String {
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    format!(
        "no {CONFIG_FILE}, and no {PYPROJECT_FILE} with a [tool.alembix] table, in {} or any parent directory \
         (and ${CONFIG_ENV} is not set)",
        abs.display()
    )
}

/// Mask the password of every URL-looking word in a message.
fn mask_urls(message: &str) -> String {
    message
        .split_inclusive(char::is_whitespace)
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            if (w.contains(':') && w.contains('@'))
                || lower.contains("password=")
                || lower.contains("pwd=")
            {
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

# The desired schema, for `revision --autogenerate` and `check`: a .sql file or directory, or SQLAlchemy
# models (`models = "app.models"` imports every module of the package; `models = "app.db:Base"`).
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
