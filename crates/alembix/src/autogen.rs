//! Autogenerate: the declared schema is applied to a scratch ("dev") database of the same engine, both sides
//! are read by the same introspection code, and the diff is rendered as up and down SQL. Also `check` (do
//! the migrations produce the declared schema?) and `verify` (does every downgrade undo its upgrade?).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::config::Config;
use crate::dialect::{self, Connection, DbError};
use crate::error::{Error, Result};
use crate::migrate::split::split;
use crate::migrate::{MigrateError, Migrator, Operation};
use crate::schema::{diff, Change, RenameHints, Schema};
use crate::url::{DatabaseUrl, Dialect};

mod fold;
mod prebuild;
mod units;

/// MySQL/MariaDB: plain `CREATE INDEX`es folded into their `CREATE TABLE` for scratch builds (public for the
/// tests that check a folded build reads as the unfolded one).
pub use fold::fold_indexes as fold_mysql_indexes;
pub use prebuild::Prebuild;
pub use units::{declared_schema, BuildStats};

/// The declared schema: DDL text per source (file or command), and the rename hints found in it.
#[derive(Debug, Clone)]
pub struct DesiredSchema {
    /// (where it came from, DDL)
    pub sources: Vec<(String, String)>,
    pub hints: RenameHints,
    /// The project whose SQLAlchemy models printed the DDL: where to look for the model line of an object
    /// the scratch database rejects.
    pub models_root: Option<PathBuf>,
    /// PostgreSQL schemas compared beside the current one (`schemas` in the config).
    pub schemas: Vec<String>,
}

/// Read `schema` (a file or a directory of `.sql` files) or run `schema_command`. The command learns the
/// engine from `ALEMBIX_DIALECT` (`postgresql`, `mysql`, `sqlite`), so it can print DDL for it.
pub fn load_desired(config: &Config, dialect: Dialect) -> Result<DesiredSchema> {
    load_desired_from(config, dialect, None)
}

/// [`load_desired`], with the models' DDL given when it was printed already.
fn load_desired_from(
    config: &Config,
    dialect: Dialect,
    models: Option<String>,
) -> Result<DesiredSchema> {
    let mut sources = Vec::new();
    if !config.models.is_empty() {
        let ddl = match models {
            Some(ddl) => ddl,
            None => models_ddl(config, dialect, &SchemaCache::from_env())?,
        };
        sources.push((format!("models `{}`", config.models.join(",")), ddl));
    } else if let Some(command) = &config.schema_command {
        let mut cmd = std::process::Command::new("sh");
        for (k, v) in &config.x_args {
            cmd.env(format!("ALEMBIX_X_{}", k.to_ascii_uppercase()), v);
        }
        if !config.x_args.is_empty() {
            let all: Vec<String> = config
                .x_args
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            cmd.env("ALEMBIX_X", all.join(","));
        }
        let out = cmd
            .arg("-c")
            .arg(command)
            .env("ALEMBIX_DIALECT", dialect.name())
            .current_dir(&config.root)
            .output()
            .map_err(|e| Error::Usage(format!("cannot run schema_command `{command}`: {e}")))?;
        if !out.status.success() {
            return Err(Error::Usage(format!(
                "schema_command `{command}` failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim_end()
            )));
        }
        let text = String::from_utf8(out.stdout).map_err(|_| {
            Error::Usage(format!("schema_command `{command}` printed invalid UTF-8"))
        })?;
        sources.push((format!("`{command}`"), text));
    } else if let Some(path) = &config.schema {
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| Error::io(path, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "sql"))
                .collect();
            files.sort();
            for f in files {
                let text = std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))?;
                sources.push((f.display().to_string(), text));
            }
        } else {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            sources.push((path.display().to_string(), text));
        }
    } else {
        return Err(Error::Usage(
            "no declared schema: set `models` (SQLAlchemy models, e.g. \"app.models:Base\"), `schema` (a .sql file \
             or directory) or `schema_command` in the config".into(),
        ));
    }
    let mut hints = RenameHints::default();
    for (_, text) in &sources {
        parse_hints(text, &mut hints);
    }
    Ok(DesiredSchema {
        sources,
        hints,
        models_root: (!config.models.is_empty()).then(|| config.root.clone()),
        schemas: config.schemas.clone(),
    })
}

/// [`load_desired`] for a compare against `server`, with the scratch build started while the models are
/// imported: when the models' DDL has never been printed for this project (so every table will be
/// built), the printer prints each table as soon as it is defined, and those statements run on a scratch
/// database of `server`'s engine in the meantime. [`declared_schema`] finishes that build when the
/// final DDL agrees with what ran, and discards it otherwise. Only with models, no `dev_url`, no other
/// `schemas`, a schema cache, and a server engine (SQLite builds in memory in no time).
pub async fn load_desired_overlapped(
    config: &Config,
    server: &DatabaseUrl,
) -> Result<(DesiredSchema, Option<Prebuild>)> {
    let dialect = server.dialect();
    if config.models.is_empty() {
        return Ok((load_desired(config, dialect)?, None));
    }
    let cache = SchemaCache::from_env();
    let python = crate::python::Interpreter::for_project(config, None)?;
    // Once per run: the key hashes the printer's source and looks the interpreter up.
    let entry = models_entry(config, &python, dialect, &cache);
    let cold = config.dev_url.is_none()
        && config.schemas.is_empty()
        && dialect != Dialect::Sqlite
        && std::env::var_os("ALEMBIX_NO_OVERLAP").is_none()
        && entry.as_deref().is_some_and(|p| !p.exists());
    if !cold {
        let ddl = models_ddl_streamed(config, &python, dialect, entry, None)?;
        return Ok((load_desired_from(config, dialect, Some(ddl))?, None));
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<String>>();
    let printer = {
        let config = config.clone();
        std::thread::spawn(move || {
            let mut send = |batch: Vec<String>| {
                let _ = tx.send(batch);
            };
            models_ddl_streamed(&config, &python, dialect, entry, Some(&mut send))
        })
    };
    // The channel closes when the printer ends; until then each batch runs as it arrives.
    let mut prebuild = Prebuild::start(server).await;
    while let Some(batch) = rx.recv().await {
        if let Some(p) = prebuild.as_mut() {
            p.run(&batch).await;
        }
    }
    let printed = match printer.join() {
        Ok(r) => r,
        Err(_) => Err(Error::Usage("the models printer's thread panicked".into())),
    };
    match printed.and_then(|ddl| load_desired_from(config, dialect, Some(ddl))) {
        Ok(desired) => Ok((desired, prebuild)),
        Err(e) => {
            if let Some(p) = prebuild {
                p.discard().await;
            }
            Err(e)
        }
    }
}

/// Alembic's best-known trap: models that were not imported make autogenerate drop every table. Refuse when
/// the declared schema has no tables, or when the changes would drop all or most of a database's tables,
/// naming the likely cause; `allow` (a flag) says it is intended.
pub fn guard_mass_drop(
    config: &Config,
    current: &Schema,
    wanted: &Schema,
    changes: &[Change],
    allow: bool,
) -> Result<()> {
    if allow {
        return Ok(());
    }
    let source = if !config.models.is_empty() {
        format!("models `{}`", config.models.join(","))
    } else if let Some(cmd) = &config.schema_command {
        format!("schema_command `{cmd}`")
    } else if let Some(p) = &config.schema {
        format!("schema {}", p.display())
    } else {
        "declared schema".into()
    };
    let hint = if config.models.is_empty() {
        "Is the schema source complete (did the command print every table)?".to_string()
    } else {
        "Are the models imported? Name the package that holds every model module (`models = \"app.models\"`: \
         alembix imports all of its submodules), or import them all in the module you name."
            .to_string()
    };
    let flag = "pass --allow-drop-tables if this is intended";
    if wanted.tables.is_empty() {
        return Err(Error::Usage(format!(
            "the {source} declares no tables{}. {hint} Refusing to go on; {flag}",
            if current.tables.is_empty() {
                String::new()
            } else {
                format!(
                    ", so every table of the database ({}) would be dropped",
                    current.tables.len()
                )
            }
        )));
    }
    let mut dropped: Vec<&str> = changes
        .iter()
        .filter_map(|c| match c {
            Change::DropTable(t) => Some(t.name.as_str()),
            _ => None,
        })
        .collect();
    dropped.sort_unstable();
    let total = current.tables.len();
    if total >= 2 && (dropped.len() == total || (dropped.len() >= 3 && dropped.len() * 2 > total)) {
        let mut names = dropped
            .iter()
            .take(8)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if dropped.len() > 8 {
            names.push_str(", …");
        }
        return Err(Error::Usage(format!(
            "the {source} would drop {} of the database's {total} tables ({names}). {hint} Refusing to go on; {flag}",
            dropped.len()
        )));
    }
    Ok(())
}

/// The DDL of the configured SQLAlchemy models for `dialect`, printed by the helper alembix carries, run in
/// the project's Python. The result is cached with the size and modification time of every project file the
/// import touched (and of their directories, so a new model module counts too): when none has changed, no
/// Python runs at all.
pub fn models_ddl(config: &Config, dialect: Dialect, cache: &SchemaCache) -> Result<String> {
    let python = crate::python::Interpreter::for_project(config, None)?;
    let entry = models_entry(config, &python, dialect, cache);
    models_ddl_streamed(config, &python, dialect, entry, None)
}

/// Where the models printout for `dialect` is cached (`None`: no cache).
fn models_entry(
    config: &Config,
    python: &crate::python::Interpreter,
    dialect: Dialect,
    cache: &SchemaCache,
) -> Option<PathBuf> {
    let dir = cache.dir()?;
    let root = std::path::absolute(&config.root).unwrap_or_else(|_| config.root.clone());
    let key = cache_key(&[
        "models",
        &config.models.join(","),
        dialect.name(),
        &python.identity(&root),
        &config.root.display().to_string(),
        crate::python::MODELS.source,
    ]);
    Some(dir.join(format!("models-{key}.json")))
}

/// [`models_ddl`], cached at `entry` ([`models_entry`]); with `early`, the printer also prints the
/// statements of tables as they are defined, while the models are imported (`--early`), and each batch
/// goes to `early` as it comes.
fn models_ddl_streamed(
    config: &Config,
    python: &crate::python::Interpreter,
    dialect: Dialect,
    entry: Option<PathBuf>,
    early: Option<&mut dyn FnMut(Vec<String>)>,
) -> Result<String> {
    let spec = config.models.join(",");
    if let Some(hit) = entry.as_deref().and_then(ModelsEntry::read) {
        if hit.fresh() {
            return Ok(hit.ddl);
        }
    }
    let root = std::path::absolute(&config.root).unwrap_or_else(|_| config.root.clone());
    let mut args: Vec<String> = vec![
        "--models".into(),
        spec.clone(),
        "--dialect".into(),
        dialect.name().into(),
        "--json".into(),
        "--project-root".into(),
        root.display().to_string(),
    ];
    let out = match early {
        None => python.run(crate::python::MODELS, &args, &root)?,
        Some(early) => {
            #[derive(serde::Deserialize)]
            struct Early {
                early: Vec<String>,
            }
            args.push("--early".into());
            let mut on_line = |line: &str| {
                if let Ok(batch) = serde_json::from_str::<Early>(line) {
                    early(batch.early);
                }
            };
            python.run_streaming(
                crate::python::MODELS,
                &args,
                &root,
                "{\"early\"",
                &mut on_line,
            )?
        }
    };
    #[derive(serde::Deserialize)]
    struct Printed {
        ddl: String,
        #[serde(default)]
        sources: Vec<PathBuf>,
        /// Package directories walked: a new module there changes their modification time.
        #[serde(default)]
        directories: Vec<PathBuf>,
        /// The interpreter and SQLAlchemy's `__init__.py`: another Python or SQLAlchemy may print other
        /// DDL for the same models.
        #[serde(default)]
        runtime: Vec<PathBuf>,
    }
    let printed: Printed = serde_json::from_str(&out).map_err(|e| {
        Error::Usage(format!(
            "the models printer returned something unexpected ({e}); its output began: {}",
            out.chars().take(200).collect::<String>()
        ))
    })?;
    if let Some(path) = entry {
        let mut watched: Vec<PathBuf> = printed.sources.clone();
        watched.extend(printed.directories.iter().cloned());
        watched.extend(printed.runtime.iter().cloned());
        for src in &printed.sources {
            if let Some(parent) = src.parent() {
                watched.push(parent.to_path_buf());
            }
        }
        watched.sort();
        watched.dedup();
        let entry = ModelsEntry {
            ddl: printed.ddl.clone(),
            stamps: watched.iter().map(|p| (p.clone(), stamp(p))).collect(),
        };
        entry.write(&path);
    }
    Ok(printed.ddl)
}

/// A cached models printout and the files it depends on.
#[derive(serde::Serialize, serde::Deserialize)]
struct ModelsEntry {
    ddl: String,
    stamps: Vec<(PathBuf, Option<(u64, u128)>)>,
}

impl ModelsEntry {
    fn read(path: &Path) -> Option<ModelsEntry> {
        serde_json::from_slice(&std::fs::read(path).ok()?).ok()
    }

    fn fresh(&self) -> bool {
        !self.stamps.is_empty() && self.stamps.iter().all(|(p, s)| stamp(p) == *s)
    }

    /// Best effort: a cache that cannot be written is no cache.
    fn write(&self, path: &Path) {
        if let Ok(text) = serde_json::to_vec(self) {
            let _ = write_atomic(path, &text);
        }
    }
}

/// Write `bytes` to `path` (creating its directory) through a temporary file and a rename, so a concurrent
/// reader never sees half a file.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// Size and modification time (ns) of a file or directory, `None` when it is gone.
fn stamp(path: &Path) -> Option<(u64, u128)> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some((if meta.is_dir() { 0 } else { meta.len() }, mtime))
}

/// `-- alembix:renamed-from OLD` on the line before `CREATE TABLE new` renames a table; inside a
/// `CREATE TABLE` body, on the line before a column, it renames that column.
pub fn parse_hints(sql: &str, hints: &mut RenameHints) {
    let mut table: Option<String> = None;
    let mut pending: Option<String> = None;
    let mut depth: i32 = 0;
    for line in sql.lines() {
        let trimmed = line.trim();
        if let Some(rest) = trimmed.strip_prefix("--") {
            if let Some(old) = rest.trim().strip_prefix("alembix:renamed-from") {
                pending = Some(unquote(old.trim()).to_string());
            }
            continue;
        }
        if trimmed.is_empty() {
            continue;
        }
        let words: Vec<&str> = trimmed.split_whitespace().collect();
        let upper: Vec<String> = words
            .iter()
            .take(6)
            .map(|w| w.to_ascii_uppercase())
            .collect();
        if depth == 0 && upper.first().map(String::as_str) == Some("CREATE") {
            if let Some(pos) = upper.iter().position(|w| w == "TABLE") {
                let mut name_at = pos + 1;
                if upper.get(name_at).map(String::as_str) == Some("IF") {
                    name_at += 3; // IF NOT EXISTS
                }
                if let Some(name) = words.get(name_at) {
                    let name = unquote(name.split('(').next().unwrap_or(name)).to_string();
                    if let Some(old) = pending.take() {
                        hints.tables.push((old, name.clone()));
                    }
                    table = Some(name);
                }
            }
        } else if depth == 1 {
            if let (Some(old), Some(t), Some(first)) = (pending.take(), &table, words.first()) {
                let col = unquote(first.trim_end_matches(',')).to_string();
                hints.columns.push((t.clone(), old, col));
            }
        }
        pending = None;
        for c in line.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ => {}
            }
        }
        if depth <= 0 {
            depth = 0;
            if trimmed.ends_with(';') {
                table = None;
            }
        }
    }
}

fn unquote(s: &str) -> &str {
    s.trim_matches(|c| c == '"' || c == '`' || c == '[' || c == ']' || c == ';')
}

/// A private scratch database: in memory for SQLite, a temporary database on the same server otherwise
/// (created and dropped by alembix), or the configured `dev_url`.
pub struct DevDatabase {
    pub conn: Connection,
    url: DatabaseUrl,
    /// A `dev_url` from the config: emptied after use instead of dropped.
    configured: bool,
    /// For a temporary server database: the admin connection and the name to drop.
    temp: Option<(DatabaseUrl, String)>,
    /// PostgreSQL schemas alembix created in it (`schemas` in the config), dropped when a `dev_url` is
    /// emptied.
    created_schemas: Vec<String>,
    /// PostgreSQL: the next run's spare scratch database, being created while this run works.
    refill: Option<tokio::task::JoinHandle<()>>,
}

impl DevDatabase {
    /// `server` is any URL of the engine to use (the live database's, normally).
    pub async fn create(server: &DatabaseUrl, dev_url: Option<&str>) -> Result<DevDatabase> {
        if let Some(dev) = dev_url {
            let url = DatabaseUrl::parse(dev).map_err(|error| Error::Url {
                source_name: "`dev_url`".into(),
                error,
            })?;
            let mut conn = connect(&url).await?;
            let existing = dialect::inspect(&mut conn, &[])
                .await
                .map_err(db("reading dev_url"))?;
            if !existing.tables.is_empty() || !existing.views.is_empty() {
                conn.close().await;
                return Err(Error::Usage(format!(
                    "the dev database {url} is not empty ({} tables); autogenerate needs an empty scratch database",
                    existing.tables.len()
                )));
            }
            return Ok(DevDatabase {
                conn,
                url,
                temp: None,
                configured: true,
                created_schemas: Vec::new(),
                refill: None,
            });
        }
        match server.dialect() {
            Dialect::Sqlite => {
                let url = DatabaseUrl::parse("sqlite::memory:").map_err(|error| Error::Url {
                    source_name: "dev database".into(),
                    error,
                })?;
                Ok(DevDatabase {
                    conn: connect(&url).await?,
                    url,
                    temp: None,
                    configured: false,
                    created_schemas: Vec::new(),
                    refill: None,
                })
            }
            Dialect::Postgres | Dialect::Mysql => DevDatabase::temporary(server, true).await,
        }
    }

    /// A temporary scratch database on a PostgreSQL or MySQL server, dropped by [`DevDatabase::dispose`].
    /// `use_spare`: PostgreSQL may claim the spare the last run left, and leaves one for the next.
    async fn temporary(server: &DatabaseUrl, use_spare: bool) -> Result<DevDatabase> {
        // The creation time is in the name, so a later run can tell a scratch database that a
        // crashed run or a server restart left behind from one a live run is using.
        let now = unix_now();
        let name = format!("{SCRATCH_PREFIX}{now}_{}", crate::script::new_revision_id());
        let mut admin = connect(server).await?;
        remove_abandoned_scratch_databases(&mut admin, now).await;
        // PostgreSQL: CREATE DATABASE copies the template and syncs it, a quarter of a second here.
        // A spare made by the last run is claimed instead, by renaming it (atomic: two runs cannot
        // both get it, and it fails while anyone is connected to it), and the next run's spare is
        // made while this run works.
        let spare = (use_spare && server.dialect() == Dialect::Postgres)
            .then(|| format!("{SPARE_SCRATCH}_{}", user_suffix(server)));
        let claimed = match &spare {
            Some(spare) => admin
                .execute(&format!("ALTER DATABASE {spare} RENAME TO {name}"))
                .await
                .is_ok(),
            None => false,
        };
        let created = if claimed {
            Ok(())
        } else {
            admin.execute(&format!("CREATE DATABASE {name}")).await
        };
        let refill = match spare {
            Some(spare) if created.is_ok() => Some(tokio::spawn(async move {
                let _ = admin.execute(&format!("CREATE DATABASE {spare}")).await;
                admin.close().await;
            })),
            _ => {
                admin.close().await;
                None
            }
        };
        if let Err(e) = created {
            return Err(Error::Usage(format!(
                "cannot create a scratch database on {server}: {e}. Autogenerate needs one: grant the \
                 user CREATE DATABASE (PostgreSQL: CREATEDB), or set `dev_url` in alembix.toml to an \
                 empty database alembix may use"
            )));
        }
        let url = server.with_database(&name);
        match connect(&url).await {
            Ok(mut conn) => {
                // A spare nobody else should touch; if something was put in it, it is not used (and a
                // fresh database is made instead, so a template holding objects cannot loop this).
                if claimed && user_objects(&mut conn).await.as_deref() != Some("0") {
                    conn.close().await;
                    drop_database(server, &name).await;
                    finish_refill(refill).await;
                    return Box::pin(DevDatabase::temporary(server, false)).await;
                }
                Ok(DevDatabase {
                    conn,
                    url,
                    temp: Some((server.clone(), name)),
                    configured: false,
                    created_schemas: Vec::new(),
                    refill,
                })
            }
            Err(e) => {
                drop_database(server, &name).await;
                finish_refill(refill).await;
                Err(e)
            }
        }
    }

    /// PostgreSQL: the scratch database alembix keeps on the server (`alembix_scratch_<user>`, created on
    /// first use) for builds that are read inside one transaction and rolled back, so it never holds
    /// anything between runs. It saves the `CREATE DATABASE` and `DROP DATABASE` of a temporary one on
    /// every edit-and-compare run. `None` (use [`DevDatabase::create`]) on other engines, when it cannot
    /// be created or reached, or when something was committed to it.
    pub async fn shared(server: &DatabaseUrl) -> Option<DevDatabase> {
        if server.dialect() != Dialect::Postgres {
            return None;
        }
        let name = format!("{SHARED_SCRATCH}_{}", user_suffix(server));
        let url = server.with_database(&name);
        let mut conn = match connect(&url).await {
            Ok(c) => c,
            Err(_) => {
                let mut admin = connect(server).await.ok()?;
                // A concurrent run may create it first: its "already exists" is fine.
                let _ = admin.execute(&format!("CREATE DATABASE {name}")).await;
                admin.close().await;
                connect(&url).await.ok()?
            }
        };
        // What runs that died left behind is removed from here as from an admin connection.
        let now = unix_now();
        remove_abandoned_scratch_databases(&mut conn, now).await;
        // Empty means no object of its own: rolled-back builds leave none. Asked with the catalogs' dead
        // rows, which are tidied here, before any build: a run lets the database go with its build still
        // open (see `Prebuild::finish`), where no VACUUM can run.
        let sql = format!(
            "SELECT x.c, (SELECT n_dead_tup::text FROM pg_catalog.pg_stat_sys_tables \
             WHERE relid = 'pg_catalog.pg_attribute'::regclass) FROM ({}) AS x(c)",
            user_objects_sql()
        );
        let row = conn
            .query_text(&sql)
            .await
            .ok()
            .and_then(|r| r.into_iter().next());
        let (objects, dead) = match row.as_deref() {
            Some([objects, dead]) => (objects.as_deref(), dead.as_deref()),
            _ => (None, None),
        };
        if objects != Some("0") {
            conn.close().await;
            return None;
        }
        if dead.and_then(|n| n.parse::<u64>().ok()).unwrap_or(0) > KEPT_CATALOG_DEAD_ROWS {
            tidy_kept_catalogs(&mut conn).await;
        }
        Some(DevDatabase {
            conn,
            url,
            temp: None,
            configured: false,
            created_schemas: Vec::new(),
            refill: None,
        })
    }

    /// Close the connection and drop the temporary database, if alembix created one; a configured `dev_url`
    /// (empty when alembix started using it) is emptied again.
    pub async fn dispose(mut self) {
        if self.temp.is_none() && self.configured {
            empty_database(&mut self.conn).await;
            for s in &self.created_schemas {
                let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", pg_ident(s));
                let _ = self.conn.execute(&sql).await;
            }
        }
        match self.temp {
            Some((_, name)) if self.conn.dialect() == Dialect::Mysql => {
                drop_mysql_detached(self.conn, &name).await;
            }
            Some((server, name)) => {
                self.conn.close().await;
                drop_database(&server, &name).await;
            }
            None => self.conn.close().await,
        }
        finish_refill(self.refill).await;
    }

    pub fn dialect(&self) -> Dialect {
        self.conn.dialect()
    }

    /// Make PostgreSQL schema `name` exist here (remembered, so that a `dev_url` is left as it was found).
    pub async fn ensure_schema(&mut self, name: &str) -> Result<()> {
        let exists = self
            .conn
            .query_text(&format!(
                "SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = {}",
                crate::dialect::literal(name, Dialect::Postgres)
            ))
            .await
            .map_err(db("reading the scratch database"))?;
        if exists.is_empty() {
            self.conn
                .execute(&format!("CREATE SCHEMA {}", pg_ident(name)))
                .await
                .map_err(db("creating a schema on the scratch database"))?;
            self.created_schemas.push(name.to_string());
        }
        Ok(())
    }

    /// Where the scratch database is (for another client, such as Alembic in the proof of an import).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }
}

/// Drop every view, table and enum in a scratch database (it held nothing else when alembix took it).
async fn empty_database(conn: &mut Connection) {
    let Ok(schema) = dialect::inspect(conn, &[]).await else {
        return;
    };
    let d = conn.dialect();
    let mut sql: Vec<String> = Vec::new();
    if d == Dialect::Mysql {
        sql.push("SET FOREIGN_KEY_CHECKS = 0".into());
    }
    // Each engine's own quoting (`schema.name` on PostgreSQL for the other compared schemas).
    let quote = |name: &str| match d {
        Dialect::Mysql => crate::dialect::mysql::render::ident(name),
        Dialect::Postgres => crate::dialect::postgres::render::qualified(name),
        Dialect::Sqlite => crate::dialect::sqlite::render::quote(name),
    };
    for v in &schema.views {
        let kind = if v.materialized {
            "MATERIALIZED VIEW"
        } else {
            "VIEW"
        };
        let cascade = if d == Dialect::Postgres {
            " CASCADE"
        } else {
            ""
        };
        sql.push(format!("DROP {kind} IF EXISTS {}{cascade}", quote(&v.name)));
    }
    // PostgreSQL's other objects alembix reads (they would be taken for declared ones next time).
    for f in &schema.functions {
        sql.push(format!(
            "DROP {} IF EXISTS {} CASCADE",
            f.kind(),
            f.signature
        ));
    }
    for t in &schema.tables {
        let cascade = if d == Dialect::Postgres {
            " CASCADE"
        } else {
            ""
        };
        sql.push(format!("DROP TABLE IF EXISTS {}{cascade}", quote(&t.name)));
    }
    for e in &schema.enums {
        sql.push(format!("DROP TYPE IF EXISTS {} CASCADE", quote(&e.name)));
    }
    for q in &schema.sequences {
        sql.push(format!(
            "DROP SEQUENCE IF EXISTS {} CASCADE",
            quote(&q.name)
        ));
    }
    if d == Dialect::Mysql {
        sql.push("SET FOREIGN_KEY_CHECKS = 1".into());
    }
    for st in sql {
        let _ = conn.execute(&st).await;
    }
}

fn pg_ident(name: &str) -> String {
    crate::dialect::postgres::render::ident(name)
}

/// Scratch databases are named `alembix_dev_<unix time>_<random>`.
const SCRATCH_PREFIX: &str = "alembix_dev_";
/// The PostgreSQL scratch database kept for rolled-back builds (see [`DevDatabase::shared`]).
const SHARED_SCRATCH: &str = "alembix_scratch";
/// PostgreSQL: an empty database a run leaves for the next one to claim as its temporary scratch database.
const SPARE_SCRATCH: &str = "alembix_spare";

/// Wait for the next run's spare database to be made (best effort: if it could not be, the next run creates
/// its scratch database itself).
async fn finish_refill(refill: Option<tokio::task::JoinHandle<()>>) {
    if let Some(refill) = refill {
        let _ = refill.await;
    }
}

/// The user's name as a database name suffix (one shared and one spare scratch database per user).
fn user_suffix(server: &DatabaseUrl) -> String {
    let user: String = server
        .username()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if user.is_empty() {
        "default".into()
    } else {
        user
    }
}

/// A scratch database older than this with no session on it belongs to no live run (a build of hundreds
/// of tables takes seconds).
const ABANDONED_AFTER_SECS: u64 = 15 * 60;

/// Seconds since the epoch, as scratch database names carry them.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Drop the scratch databases that runs which died (a crash, a server restart mid-autogenerate) left
/// behind: older than [`ABANDONED_AFTER_SECS`] and with no session connected. Best effort, quiet.
async fn remove_abandoned_scratch_databases(admin: &mut Connection, now: u64) {
    let (list, busy) = match admin.dialect() {
        Dialect::Postgres => (
            "SELECT datname::text FROM pg_catalog.pg_database WHERE datname LIKE 'alembix\\_dev\\_%'",
            "SELECT DISTINCT datname::text FROM pg_catalog.pg_stat_activity WHERE datname LIKE 'alembix\\_dev\\_%'",
        ),
        Dialect::Mysql => (
            "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA \
             WHERE SCHEMA_NAME LIKE 'alembix\\_dev\\_%'",
            "SELECT DISTINCT CAST(DB AS CHAR) FROM information_schema.PROCESSLIST WHERE DB LIKE 'alembix\\_dev\\_%'",
        ),
        Dialect::Sqlite => return,
    };
    let names = |rows: Vec<Vec<Option<String>>>| -> Vec<String> {
        rows.into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect()
    };
    let Ok(all) = admin.query_text(list).await.map(names) else {
        return;
    };
    let Ok(in_use) = admin.query_text(busy).await.map(names) else {
        return;
    };
    for name in all {
        let created = name
            .strip_prefix(SCRATCH_PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .and_then(|(secs, _)| secs.parse::<u64>().ok());
        let abandoned = created.is_some_and(|t| now.saturating_sub(t) > ABANDONED_AFTER_SECS)
            && !in_use.contains(&name)
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if abandoned {
            let _ = admin
                .execute(&format!("DROP DATABASE IF EXISTS {name}"))
                .await;
        }
    }
}

/// MySQL/MariaDB: drop the scratch database `name` on the connection that used it, waiting for the server's
/// answer only [`DETACH_DROP_AFTER`]. Dropping deletes a file or two per table (0.8 s for 300 tables on the
/// dev VM, most of a cold `check`), and the server finishes a statement whose client has gone: a longer
/// drop goes on after the connection is let go, and the command does not wait for it. Should the server not
/// finish it (it stopped meanwhile), the database is abandoned and a later run's clean-up removes it.
async fn drop_mysql_detached(conn: Connection, name: &str) {
    let (conn, dropped) = drop_detached(conn, &format!("DROP DATABASE IF EXISTS {name}")).await;
    note_failed_drop(name, dropped);
    if let Some(conn) = conn {
        conn.close().await;
    }
}

/// Drop the scratch database `name` from a new connection to the server, waiting for the answer only
/// [`DETACH_DROP_AFTER`], as [`drop_mysql_detached`] does. PostgreSQL 15 checkpoints on every `DROP DATABASE`
/// (0.2 s here: a third of a `verify` of 53 tables); the backend runs the statement to its end and commits
/// before it writes to the client again, so a client that has gone does not stop it (unless the server
/// sets `client_connection_check_interval`, or ends the session: then the database is left for a later
/// run's clean-up of abandoned ones).
async fn drop_database(server: &DatabaseUrl, name: &str) {
    let Ok(admin) = connect(server).await else {
        return;
    };
    let plain = format!("DROP DATABASE IF EXISTS {name}");
    let postgres = server.dialect() == Dialect::Postgres;
    // FORCE (PostgreSQL 13+) also ends a connection a failed run left open.
    let first = if postgres {
        format!("{plain} WITH (FORCE)")
    } else {
        plain.clone()
    };
    let (admin, dropped) = drop_detached(admin, &first).await;
    let Some(mut admin) = admin else {
        return;
    };
    // Refused at once: an older PostgreSQL takes the plain form, which is waited for.
    let dropped = match dropped {
        Err(_) if postgres => admin.execute(&plain).await,
        other => other,
    };
    note_failed_drop(name, dropped);
    admin.close().await;
}

fn note_failed_drop(name: &str, dropped: std::result::Result<(), DbError>) {
    if let Err(e) = dropped {
        tracing_note(&format!(
            "could not drop the scratch database {name}: {e}; drop it by hand"
        ));
    }
}

/// Send a `DROP DATABASE` and wait [`DETACH_DROP_AFTER`] for its answer. The connection comes back when the
/// answer came (the drop is done, or refused: the error); when it is still running, the socket is just
/// closed (closing properly would wait behind the statement) and the server finishes it alone.
async fn drop_detached(
    mut conn: Connection,
    drop: &str,
) -> (Option<Connection>, std::result::Result<(), DbError>) {
    match tokio::time::timeout(DETACH_DROP_AFTER, conn.execute(drop)).await {
        Ok(result) => (Some(conn), result),
        Err(_) => {
            std::mem::drop(conn);
            (None, Ok(()))
        }
    }
}

/// How long a scratch database's `DROP DATABASE` is waited for before the server is left to finish it: long
/// enough for the statement to be sent and for a refusal (no privilege) to come back and be reported, not
/// for the drop itself (of 300 tables: 0.2-0.8 s; waiting 50 ms was a third of what a cold `check` spent
/// after the models were imported).
const DETACH_DROP_AFTER: std::time::Duration = std::time::Duration::from_millis(5);

/// The library never prints, but a leaked scratch database must not go unnoticed: it is reported on stderr.
#[allow(clippy::print_stderr)]
fn tracing_note(text: &str) {
    eprintln!("warning: {text}");
}

pub async fn connect(url: &DatabaseUrl) -> Result<Connection> {
    Connection::connect(url, None, |_, _| {})
        .await
        .map_err(|e| {
            MigrateError::Connect {
                url: url.to_string(),
                message: e.message,
            }
            .into()
        })
}

fn db(context: &str) -> impl FnOnce(DbError) -> Error + '_ {
    move |e| {
        MigrateError::Database {
            context: context.to_string(),
            message: e.message,
        }
        .into()
    }
}

/// Apply DDL text to a database statement by statement; an error names the source and line.
pub async fn apply_ddl(conn: &mut Connection, origin: &str, sql: &str) -> Result<()> {
    for st in split(sql, conn.dialect()) {
        if let Err(e) = conn.execute(&st.sql).await {
            return Err(Error::Usage(format!("{origin}:{}: {}", st.line, e.message)));
        }
    }
    Ok(())
}

/// Tables alembix keeps for itself, never part of a compared schema.
pub fn own_tables(m: &Migrator) -> Vec<String> {
    let opts = m.options();
    [
        &opts.version_table,
        &opts.history_table,
        &opts.progress_table,
    ]
    .iter()
    .map(|t| t.rsplit('.').next().unwrap_or(t).to_string())
    .collect()
}

/// The declared schema as the engine sees it.
pub async fn desired_schema(
    dev: &mut DevDatabase,
    desired: &DesiredSchema,
    exclude: &[String],
) -> Result<Schema> {
    // PostgreSQL: the whole declared schema in one transaction, read before it is rolled back (no commit
    // per statement, which was most of the time on hundreds of tables, and none at all). A statement that
    // cannot run there, or that fails, sends it back to the statement-by-statement way below, which names
    // every rejected object.
    // The other schemas compared exist on the scratch database before the declared objects that go in
    // them (SQLAlchemy's create_all does not create schemas); a declared CREATE SCHEMA of one is skipped.
    let postgres = dev.conn.dialect() == Dialect::Postgres;
    if postgres {
        for s in &desired.schemas {
            dev.ensure_schema(s).await?;
        }
        if let Some(read) = build_in_transaction(dev, desired, exclude).await {
            return read;
        }
    }
    desired_schema_one_by_one(dev, desired, exclude).await
}

/// The declared schema applied statement by statement (after any `schemas` exist on `dev`): every
/// statement is tried, so that one message names every object the server rejects.
pub(crate) async fn desired_schema_one_by_one(
    dev: &mut DevDatabase,
    desired: &DesiredSchema,
    exclude: &[String],
) -> Result<Schema> {
    let postgres = dev.conn.dialect() == Dialect::Postgres;
    let mut rejected = Vec::new();
    for (origin, sql) in &desired.sources {
        for st in split(sql, dev.conn.dialect()) {
            if postgres && creates_known_schema(desired, &st.sql) {
                continue;
            }
            if let Err(e) = dev.conn.execute(&st.sql).await {
                rejected.push((origin.as_str(), st.line, st.sql.clone(), e.message));
            }
        }
    }
    if !rejected.is_empty() {
        return Err(Error::Usage(rejected_message(
            dev.dialect(),
            &rejected,
            desired.models_root.as_deref(),
        )));
    }
    dialect::inspect_in(&mut dev.conn, exclude, &desired.schemas)
        .await
        .map_err(db("reading the declared schema"))
}

/// A declared `CREATE SCHEMA` of a schema the scratch database already has (`schemas` in the config).
fn creates_known_schema(desired: &DesiredSchema, sql: &str) -> bool {
    let words: Vec<String> = sql
        .split_whitespace()
        .map(|w| {
            w.trim_end_matches(';')
                .trim_matches('"')
                .to_ascii_lowercase()
        })
        .collect();
    let name = match words.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["create", "schema", "if", "not", "exists", name, ..] | ["create", "schema", name, ..] => {
            name
        }
        _ => return false,
    };
    desired
        .schemas
        .iter()
        .any(|s| s.to_ascii_lowercase() == name)
}

/// PostgreSQL: the declared schema built in one transaction and read before it is rolled back, so nothing
/// is committed (or flushed) and the scratch database is as empty afterwards as before. `None` when a
/// statement fails: the caller then learns which ones, statement by statement.
async fn build_in_transaction(
    dev: &mut DevDatabase,
    desired: &DesiredSchema,
    exclude: &[String],
) -> Option<Result<Schema>> {
    let statements = postgres_statements(desired);
    build_rolled_back(&mut dev.conn, &statements, exclude, &desired.schemas).await
}

/// The declared statements for PostgreSQL, without a `CREATE SCHEMA` of a schema the scratch database has.
fn postgres_statements(desired: &DesiredSchema) -> Vec<String> {
    desired
        .sources
        .iter()
        .flat_map(|(_, sql)| split(sql, Dialect::Postgres))
        .filter(|st| !creates_known_schema(desired, &st.sql))
        .map(|st| st.sql)
        .collect()
}

/// PostgreSQL: a build that is rolled back runs first with `search_path = pg_temp`, so that the declared
/// objects go in the session's temporary schema. Temporary relations are neither WAL-logged nor synced,
/// where every index of a regular table is fsynced as it is built (four per table of the 300-table
/// benchmark: most of the build's time). With the temporary schema first in the path, the catalog prints
/// the objects as it prints them in a regular schema (unqualified type and sequence names, `REFERENCES
/// t(id)`), and `current_schema()` is the temporary schema, so the inspection reads it as it reads
/// `public`. What cannot go there (an extension, a function called unqualified, a name qualified with
/// another schema) fails or is caught by [`ESCAPED_SQL`], and the build runs again in the regular schema.
/// Not with other `schemas` compared, whose objects are qualified on purpose.
pub(crate) async fn build_rolled_back(
    conn: &mut Connection,
    statements: &[String],
    exclude: &[String],
    schemas: &[String],
) -> Option<Result<Schema>> {
    if schemas.is_empty() && std::env::var_os("ALEMBIX_NO_TEMP_BUILD").is_none() {
        if let Some(read) = attempt_rolled_back(conn, statements, exclude, schemas, true).await {
            return Some(read);
        }
    }
    attempt_rolled_back(conn, statements, exclude, schemas, false).await
}

/// One rolled-back build of the declared schema on PostgreSQL, in the session's temporary schema or in the
/// current one, without the fallback of [`build_rolled_back`]: for tests that compare the two. `None`
/// when a statement fails or (`temp`) an object left the temporary schema.
pub async fn build_declared_rolled_back(
    conn: &mut Connection,
    desired: &DesiredSchema,
    exclude: &[String],
    temp: bool,
) -> Option<Result<Schema>> {
    let statements = postgres_statements(desired);
    attempt_rolled_back(conn, &statements, exclude, &desired.schemas, temp).await
}

/// Objects of the connection's database outside the system and temporary schemas (relations, types,
/// functions): a build in the temporary schema must not change this number.
const ESCAPED_SQL: &str = "SELECT ((SELECT count(*) FROM pg_catalog.pg_class c WHERE c.relnamespace IN (SELECT oid FROM n)) \
     + (SELECT count(*) FROM pg_catalog.pg_type t WHERE t.typnamespace IN (SELECT oid FROM n)) \
     + (SELECT count(*) FROM pg_catalog.pg_proc p WHERE p.pronamespace IN (SELECT oid FROM n)))::text";

async fn user_objects(conn: &mut Connection) -> Option<String> {
    first_text(conn, &user_objects_sql()).await
}

fn user_objects_sql() -> String {
    format!(
        "WITH n AS (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname NOT IN ('pg_catalog', \
         'information_schema') AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp\\_%') \
         {ESCAPED_SQL}"
    )
}

async fn first_text(conn: &mut Connection, sql: &str) -> Option<String> {
    conn.query_text(sql)
        .await
        .ok()?
        .first()
        .and_then(|r| r.first().cloned().flatten())
}

/// [`user_objects`] and the server process of the session, for work that spans transactions in the
/// temporary schema: behind a transaction-mode pooler the next transaction may reach another server
/// session, which has neither the search path nor the temporary objects (a stairway read there would
/// compare empty schemas and pass). Either changing makes the work inconclusive.
async fn temp_session_state(conn: &mut Connection) -> Option<String> {
    let sql = format!(
        "SELECT x.c || ':' || pg_catalog.pg_backend_pid()::text FROM ({}) AS x(c)",
        user_objects_sql()
    );
    first_text(conn, &sql).await
}

/// A scratch build's statements as one text for a single simple-query round trip. Each ends on a line of
/// its own, so a trailing `--` comment cannot swallow the separator. MySQL/MariaDB commit and rewrite a
/// table's definition per DDL statement, so there plain indexes are folded into their CREATE TABLE first
/// (half the statements of a typical model set).
pub(crate) fn build_text(dialect: Dialect, statements: &[String]) -> String {
    let folded;
    let statements = if dialect == Dialect::Mysql {
        folded = fold::fold_indexes(statements);
        &folded[..]
    } else {
        statements
    };
    let mut out = String::with_capacity(statements.iter().map(|s| s.len() + 3).sum());
    for sql in statements {
        out.push_str(sql);
        out.push_str("\n;\n");
    }
    out
}

/// One rolled-back build; `None` when a statement failed or (`temp`) an object left the temporary schema.
async fn attempt_rolled_back(
    conn: &mut Connection,
    statements: &[String],
    exclude: &[String],
    schemas: &[String],
    temp: bool,
) -> Option<Result<Schema>> {
    let read = async {
        let before = begin_rolled_back(conn, temp).await?;
        // One round trip for the whole build (1,200 statements for 300 tables).
        if !statements.is_empty() {
            conn.execute(&build_text(Dialect::Postgres, statements))
                .await
                .ok()?;
        }
        read_rolled_back(conn, before.as_deref(), exclude, schemas).await
    }
    .await;
    let _ = conn.execute("ROLLBACK").await;
    read
}

/// Open a build that will be rolled back; with `temp`, in the session's temporary schema, and then the
/// count of the database's own objects (none may appear outside the temporary schema). `None` when the
/// transaction cannot be opened (the caller rolls back).
pub(crate) async fn begin_rolled_back(conn: &mut Connection, temp: bool) -> Option<Option<String>> {
    conn.execute("BEGIN").await.ok()?;
    if !temp {
        return Some(None);
    }
    conn.execute("SET LOCAL search_path = pg_temp").await.ok()?;
    Some(Some(user_objects(conn).await?))
}

/// Read a build opened by [`begin_rolled_back`], inside its transaction; `None` when an object left the
/// temporary schema (`before`: the count of objects it started with).
pub(crate) async fn read_rolled_back(
    conn: &mut Connection,
    before: Option<&str>,
    exclude: &[String],
    schemas: &[String],
) -> Option<Result<Schema>> {
    if let Some(before) = before {
        if user_objects(conn).await.as_deref() != Some(before) {
            return None;
        }
    }
    Some(
        dialect::inspect_in_transaction(conn, exclude, schemas)
            .await
            .map_err(db("reading the declared schema")),
    )
}

/// What the scratch database refused of the declared schema: each object, where it is declared (for
/// models, the line of the model file that names it), the server's reason and the statement's first line.
fn rejected_message(
    dialect: Dialect,
    rejected: &[(&str, usize, String, String)],
    models_root: Option<&Path>,
) -> String {
    let mut out = format!(
        "the declared schema does not build on {dialect}: the scratch database rejected {} statement{}, so \
         nothing was compared",
        rejected.len(),
        if rejected.len() == 1 { "" } else { "s" }
    );
    let py_files = models_root.map(python_files).unwrap_or_default();
    for (origin, line, sql, message) in rejected.iter().take(20) {
        let object = statement_object(sql);
        let place = match (models_root, &object) {
            (Some(root), Some((_, name, table))) => {
                model_line(root, &py_files, name, table.as_deref())
                    .unwrap_or_else(|| format!("{origin}, statement at line {line}"))
            }
            _ => format!("{origin}:{line}"),
        };
        let what = object.map_or("statement".to_string(), |(kind, name, table)| match table {
            Some(t) => format!("{kind} {name} on {t}"),
            None => format!("{kind} {name}"),
        });
        let first = sql
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        out.push_str(&format!("\n  - {what} ({place}): {message}\n      {first}"));
    }
    if rejected.len() > 20 {
        out.push_str(&format!("\n  ... and {} more", rejected.len() - 20));
    }
    out.push_str(
        "\nhint: fix the declaration (a foreign key must reference a primary key or unique columns; an index \
         needs at least one column); a later statement that names a rejected table fails with it",
    );
    out
}

/// (kind, name, table) of a `CREATE TABLE` / `CREATE [UNIQUE] INDEX ... ON` / `ALTER TABLE` statement.
fn statement_object(sql: &str) -> Option<(&'static str, String, Option<String>)> {
    let words: Vec<String> = sql
        .split(|c: char| c.is_whitespace() || c == '(')
        .filter(|w| !w.is_empty())
        .filter(|w| !w.starts_with("--"))
        .take(12)
        .map(|w| w.trim_matches(|c| c == '"' || c == '`').to_string())
        .collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let at = |i: usize| upper.get(i).map(String::as_str);
    let skip_if_not_exists = |i: usize| {
        if at(i) == Some("IF") && at(i + 1) == Some("NOT") && at(i + 2) == Some("EXISTS") {
            i + 3
        } else {
            i
        }
    };
    match (at(0), at(1)) {
        (Some("CREATE"), Some("TABLE")) => {
            let i = skip_if_not_exists(2);
            Some(("table", words.get(i)?.clone(), None))
        }
        (Some("CREATE"), Some("INDEX" | "UNIQUE")) => {
            let mut i = if at(1) == Some("UNIQUE") { 3 } else { 2 };
            i = skip_if_not_exists(i);
            let on = upper.iter().position(|w| w == "ON")?;
            let name = if i < on {
                words[i].clone()
            } else {
                String::new()
            };
            Some(("index", name, Some(words.get(on + 1)?.clone())))
        }
        (Some("ALTER"), Some("TABLE")) => Some(("table", words.get(2)?.clone(), None)),
        _ => None,
    }
}

/// The project's `.py` files (not in virtualenvs or hidden directories) and their text, for `model_line`.
fn python_files(root: &Path) -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                let venv = path.join("pyvenv.cfg").exists();
                if !name.starts_with('.')
                    && !venv
                    && name != "node_modules"
                    && name != "__pycache__"
                {
                    stack.push(path);
                }
            } else if name.ends_with(".py") && out.len() < 5000 {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    out.push((path, text));
                }
            }
        }
    }
    out.sort();
    out
}

/// `file:line` of the model that declares `name` (an index name, or a table's `__tablename__` /
/// `Table("name", ...)`), else of the model of `table`.
fn model_line(
    root: &Path,
    files: &[(PathBuf, String)],
    name: &str,
    table: Option<&str>,
) -> Option<String> {
    let quoted = |n: &str| [format!("\"{n}\""), format!("'{n}'")];
    let find = |n: &str, marks: &[&str]| {
        if n.is_empty() {
            return None;
        }
        let q = quoted(n);
        files.iter().find_map(|(f, text)| {
            let (i, _) = text.lines().enumerate().find(|(_, l)| {
                q.iter().any(|q| l.contains(q.as_str())) && marks.iter().any(|m| l.contains(m))
            })?;
            let rel = f.strip_prefix(root).unwrap_or(f);
            Some(format!("{}:{}", rel.display(), i + 1))
        })
    };
    let table_marks = ["__tablename__", "Table("];
    match table {
        Some(t) => find(name, &["Index(", "UniqueConstraint(", "index=", "name="])
            .or_else(|| find(t, &table_marks)),
        None => find(name, &table_marks),
    }
}

/// A scratch database is thrown away: on PostgreSQL its commits (one per revision) need not wait for the
/// disk. Only this session's commits are affected; nothing is lost but the scratch database on a crash.
async fn relax_durability(conn: &mut Connection) {
    if conn.dialect() == Dialect::Postgres {
        let _ = conn.execute("SET synchronous_commit TO off").await;
    }
}

/// The schema the migrations produce, replayed on a scratch database.
pub async fn migrations_schema(
    m: &Migrator,
    dev: &mut DevDatabase,
    schemas: &[String],
) -> Result<Schema> {
    relax_durability(&mut dev.conn).await;
    m.run_on(
        &mut dev.conn,
        &Operation::Upgrade("heads".into()),
        &mut |_| {},
    )
    .await?;
    dialect::inspect_in(&mut dev.conn, &own_tables(m), schemas)
        .await
        .map_err(db("reading the migrated schema"))
}

/// The live database's schema (it must be at every head) and the server's fingerprint for the cache, read
/// on one connection: with TLS each connection costs a round of handshakes.
pub async fn live_schema(
    m: &Migrator,
    url: &DatabaseUrl,
    schemas: &[String],
) -> Result<(Schema, String)> {
    let mut conn = connect(url).await?;
    let result = live_schema_on(m, &mut conn, schemas).await;
    conn.close().await;
    result
}

async fn live_schema_on(
    m: &Migrator,
    conn: &mut Connection,
    schemas: &[String],
) -> Result<(Schema, String)> {
    let fingerprint = fingerprint(conn).await?;
    let raw = crate::migrate::read_current_on(m.options(), conn).await?;
    let graph = m.graph();
    let mut at: Vec<&str> = raw.rows.iter().map(String::as_str).collect();
    at.sort_unstable();
    let mut all: Vec<&str> = graph.heads().iter().map(|r| graph.id(*r)).collect();
    all.sort_unstable();
    if at != all {
        return Err(Error::Usage(format!(
            "Target database is not up to date: it is at {}, the heads are {}. Run `alembix upgrade heads` first, \
             or compare with the migrations instead (`--from-migrations`)",
            if at.is_empty() { "base".to_string() } else { at.join(", ") },
            if all.is_empty() { "base".to_string() } else { all.join(", ") }
        )));
    }
    let schema = dialect::inspect_in(conn, &own_tables(m), schemas)
        .await
        .map_err(db("reading the database schema"))?;
    Ok((schema, fingerprint))
}

/// Inspected schemas kept between runs, so that an unchanged declared schema (or an unchanged set of
/// revisions) is not rebuilt on a scratch database every time: that build is most of the cost of `check` on a
/// server. The key covers everything the result depends on: the DDL or the revisions' checksums, the engine and
/// its version, the excluded tables, and the alembix version. `ALEMBIX_CACHE_DIR` sets the place (default
/// `$XDG_CACHE_HOME/alembix` or `~/.cache/alembix`); `ALEMBIX_NO_CACHE=1` turns it off.
#[derive(Debug, Clone)]
pub struct SchemaCache {
    dir: Option<PathBuf>,
}

impl SchemaCache {
    pub fn from_env() -> SchemaCache {
        SchemaCache {
            dir: crate::script::index::cache_dir(),
        }
    }

    /// A cache in `dir` (tests, embedding applications).
    pub fn at(dir: impl Into<PathBuf>) -> SchemaCache {
        SchemaCache {
            dir: Some(dir.into()),
        }
    }

    pub fn disabled() -> SchemaCache {
        SchemaCache { dir: None }
    }

    /// The cache directory, when caching is on.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    fn path(&self, key: &str) -> Option<PathBuf> {
        self.dir
            .as_ref()
            .map(|d| d.join(format!("schema-{key}.json")))
    }

    pub fn get(&self, key: &str) -> Option<Schema> {
        let text = std::fs::read(self.path(key)?).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Best effort: a cache that cannot be written is no cache.
    pub fn put(&self, key: &str, schema: &Schema) {
        let (Some(dir), Some(path)) = (&self.dir, self.path(key)) else {
            return;
        };
        let Ok(text) = serde_json::to_vec(schema) else {
            return;
        };
        if write_atomic(&path, &text).is_ok() {
            self.prune(dir);
        }
    }

    /// Keep the newest entries only: every edit of a schema makes a new key.
    fn prune(&self, dir: &Path) {
        crate::script::index::prune_cache_files(dir, "schema-", "", 64);
    }
}

/// What the engine is, precisely enough for the cache key (`PostgreSQL 15.19 …`, `10.11.19-MariaDB`, SQLite's
/// bundled version).
pub async fn server_fingerprint(server: &DatabaseUrl) -> Result<String> {
    let mut conn = connect(server).await?;
    let result = fingerprint(&mut conn).await;
    conn.close().await;
    result
}

async fn fingerprint(conn: &mut Connection) -> Result<String> {
    let sql = match conn.dialect() {
        Dialect::Postgres => "SELECT version()",
        Dialect::Mysql => "SELECT CONCAT(VERSION(), ' ', @@sql_mode)",
        Dialect::Sqlite => "SELECT 'sqlite ' || sqlite_version()",
    };
    let rows = conn
        .query_text(sql)
        .await
        .map_err(db("reading the server version"))?;
    Ok(rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .unwrap_or_default())
}

fn cache_key(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(b"alembix-schema-cache-v3\0");
    h.update(crate::VERSION.as_bytes());
    for p in parts {
        h.update(b"\0");
        h.update(p.as_bytes());
    }
    format!("{:x}", h.finalize())[..32].to_string()
}

/// The cache key of a declared schema.
pub fn desired_key(fingerprint: &str, desired: &DesiredSchema, exclude: &[String]) -> String {
    let mut parts: Vec<&str> = vec!["desired", fingerprint];
    parts.extend(exclude.iter().map(String::as_str));
    // Which other schemas are read changes the result as much as the DDL does.
    parts.push("schemas");
    parts.extend(desired.schemas.iter().map(String::as_str));
    for (origin, text) in &desired.sources {
        parts.push(origin);
        parts.push(text);
    }
    cache_key(&parts)
}

/// The cache key of the schema the migrations produce.
pub fn migrations_key(fingerprint: &str, m: &Migrator, schemas: &[String]) -> String {
    let graph = m.graph();
    let sums: Vec<String> = graph
        .topological()
        .iter()
        .map(|&r| format!("{} {}", graph.id(r), graph.script(r).text_checksum()))
        .collect();
    let opts = m.options();
    let mut parts: Vec<&str> = vec![
        "migrations",
        fingerprint,
        &opts.version_table,
        &opts.history_table,
    ];
    parts.extend(sums.iter().map(String::as_str));
    parts.push("schemas");
    parts.extend(schemas.iter().map(String::as_str));
    cache_key(&parts)
}

/// Up and down SQL for turning `current` into `desired`.
#[derive(Debug, Clone, Default)]
pub struct Generated {
    pub changes: Vec<Change>,
    pub up: Vec<String>,
    pub down: Vec<String>,
    /// Data-loss warnings of the up direction, and of the down direction.
    pub up_warnings: Vec<String>,
    pub down_warnings: Vec<String>,
    /// Drops paired with adds that may be renames nobody declared.
    pub possible_renames: Vec<PossibleRename>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PossibleRename {
    /// `None` for a table rename.
    pub table: Option<String>,
    pub from: String,
    pub to: String,
}

impl PossibleRename {
    pub fn describe(&self) -> String {
        match &self.table {
            Some(t) => format!("column {t}.{} -> {t}.{}", self.from, self.to),
            None => format!("table {} -> {}", self.from, self.to),
        }
    }
}

/// Diff and render both directions.
pub fn generate(
    dialect: Dialect,
    current: &Schema,
    desired: &Schema,
    hints: &RenameHints,
) -> Generated {
    let opts = dialect::diff_options(dialect);
    let changes = diff(current, desired, hints, opts);
    let back = diff(desired, current, &hints.reversed(), opts);
    Generated {
        up: dialect::render(dialect, &changes, current, desired),
        down: dialect::render(dialect, &back, desired, current),
        up_warnings: changes.iter().filter_map(Change::warning).collect(),
        down_warnings: back.iter().filter_map(Change::warning).collect(),
        possible_renames: possible_renames(&changes),
        changes,
    }
}

/// A dropped and an added column of the same type in one table (or a dropped and a created table with the
/// same columns) look like a rename; alembix asks or warns, never guesses.
pub fn possible_renames(changes: &[Change]) -> Vec<PossibleRename> {
    let mut out = Vec::new();
    for c in changes {
        if let Change::DropColumn { table, column } = c {
            for a in changes {
                if let Change::AddColumn {
                    table: t2,
                    column: added,
                } = a
                {
                    if t2 == table && added.data_type == column.data_type {
                        out.push(PossibleRename {
                            table: Some(table.clone()),
                            from: column.name.clone(),
                            to: added.name.clone(),
                        });
                    }
                }
            }
        }
        if let Change::DropTable(dropped) = c {
            for a in changes {
                if let Change::CreateTable(created) = a {
                    let cols = |t: &crate::schema::Table| {
                        t.columns
                            .iter()
                            .map(|c| c.data_type.clone())
                            .collect::<Vec<_>>()
                    };
                    if cols(dropped) == cols(created) {
                        out.push(PossibleRename {
                            table: None,
                            from: dropped.name.clone(),
                            to: created.name.clone(),
                        });
                    }
                }
            }
        }
    }
    out
}

/// Whether to ask about possible renames: only a person at a terminal is asked.
pub fn can_ask() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Add confirmed renames to `hints`.
pub fn confirm_renames(
    possible: &[PossibleRename],
    hints: &mut RenameHints,
    ask: &mut dyn FnMut(&PossibleRename) -> bool,
) -> bool {
    let mut any = false;
    for p in possible {
        if ask(p) {
            any = true;
            match &p.table {
                Some(t) => hints
                    .columns
                    .push((t.clone(), p.from.clone(), p.to.clone())),
                None => hints.tables.push((p.from.clone(), p.to.clone())),
            }
        }
    }
    any
}

/// One finding of `verify`.
#[derive(Debug, Clone)]
pub struct VerifyFinding {
    pub revision: String,
    pub path: PathBuf,
    pub problem: String,
}

/// Stairway test on a scratch database: for each revision in order, upgrade, snapshot, downgrade, compare
/// with the previous snapshot, upgrade again. Stops at the first finding.
pub async fn verify(
    m: &Migrator,
    server: &DatabaseUrl,
    dev_url: Option<&str>,
    schemas: &[String],
    progress: &mut dyn FnMut(&str),
) -> Result<Option<VerifyFinding>> {
    if server.dialect() == Dialect::Postgres
        && schemas.is_empty()
        && std::env::var_os("ALEMBIX_NO_TEMP_BUILD").is_none()
    {
        // Not in the kept scratch database that `check --live` builds in: a pass that lets an object out
        // of the temporary schema commits it there, and every later build would have to do without it.
        let mut dev = verify_scratch(server, dev_url).await?;
        let clean = verify_in_temp(m, &mut dev, progress).await;
        dev.dispose().await;
        if clean {
            return Ok(None);
        }
        // A failure or a finding there, or an object that left the temporary schema: the regular way
        // decides, on a fresh scratch database, and its finding is the one reported.
        progress("again, outside the temporary schema (the pass in it was not conclusive)");
    }
    let mut dev = verify_scratch(server, dev_url).await?;
    let result = verify_on(m, &mut dev, schemas, progress, None).await;
    dev.dispose().await;
    result
}

/// A scratch database for a stairway, whose commits need not survive a crash.
async fn verify_scratch(server: &DatabaseUrl, dev_url: Option<&str>) -> Result<DevDatabase> {
    let mut dev = DevDatabase::create(server, dev_url).await?;
    relax_durability(&mut dev.conn).await;
    Ok(dev)
}

/// PostgreSQL, the kept scratch database: every build in it (temporary tables, rolled-back builds) leaves
/// dead rows in its catalogs, which autovacuum removes, when it runs. Where it does not (it is off on the
/// dev VM), `pg_attribute` had grown to 6.9 MB with 40,000 dead rows and catalog work there was slower than
/// on a fresh database (a 50-revision stairway run in it: 1.32 s against 1.09 s; a cold `check --live` of
/// 53 models 0.39 -> 0.48 s over eight runs). Past a threshold the run that notices vacuums the catalogs
/// the builds write (the owner of a database may).
async fn tidy_kept_catalogs(conn: &mut Connection) {
    let _ = conn
        .execute(
            "VACUUM pg_catalog.pg_class, pg_catalog.pg_attribute, pg_catalog.pg_type, \
             pg_catalog.pg_depend, pg_catalog.pg_index, pg_catalog.pg_constraint, \
             pg_catalog.pg_attrdef, pg_catalog.pg_sequence, pg_catalog.pg_enum, \
             pg_catalog.pg_description",
        )
        .await;
}

/// Dead `pg_attribute` rows in the kept scratch database before a run vacuums its catalogs. A stairway of
/// 50 small revisions left about 1,200 there and was 15% slower at 17,000; vacuuming 17,000 took the
/// server about 50 ms, 4,000 about 20 ms.
const KEPT_CATALOG_DEAD_ROWS: u64 = 4_000;

/// PostgreSQL: the stairway run first in the session's temporary schema (`search_path = pg_temp`), as the
/// declared schema is built (see [`build_rolled_back`]): temporary relations are neither WAL-logged nor
/// synced, so each revision's tables cost a fraction of a regular build (the 53-table model set's two
/// revisions were 0.7 s, most of it the server creating and syncing files). `true` only for a clean pass
/// in which no object appeared outside the temporary schema after any step; anything else (a statement
/// that cannot run there, such as `CREATE EXTENSION` or an unlogged table, a finding, a name qualified with
/// another schema) is for the regular run to judge.
async fn verify_in_temp(
    m: &Migrator,
    dev: &mut DevDatabase,
    progress: &mut dyn FnMut(&str),
) -> bool {
    if dev.conn.execute("SET search_path = pg_temp").await.is_err() {
        return false;
    }
    let Some(before) = temp_session_state(&mut dev.conn).await else {
        return false;
    };
    matches!(
        verify_on(m, dev, &[], progress, Some(&before)).await,
        Ok(None)
    )
}

/// With `guard` ([`temp_session_state`] when a temporary-schema run began): an error when a step left an
/// object outside the temporary schema, or when the work reached another server session.
async fn check_guard(conn: &mut Connection, guard: Option<&str>) -> Result<()> {
    let Some(before) = guard else {
        return Ok(());
    };
    if temp_session_state(conn).await.as_deref() == Some(before) {
        Ok(())
    } else {
        Err(Error::Usage(
            "a migration created an object outside the temporary schema, or the server session changed"
                .into(),
        ))
    }
}

async fn verify_on(
    m: &Migrator,
    dev: &mut DevDatabase,
    schemas: &[String],
    progress: &mut dyn FnMut(&str),
    guard: Option<&str>,
) -> Result<Option<VerifyFinding>> {
    let graph = m.graph();
    let exclude = own_tables(m);
    let dialect = dev.dialect();
    // The same connection is read three times per revision.
    let mut inspector = dialect::Inspector::new();
    let mut before = inspector
        .inspect_in(&mut dev.conn, &exclude, schemas)
        .await
        .map_err(db("reading the scratch database"))?;
    for &r in graph.topological() {
        let s = graph.script(r);
        progress(&format!("{} {}", s.revision, s.message));
        let finding = |problem: String| {
            Ok(Some(VerifyFinding {
                revision: s.revision.clone(),
                path: s.path.clone(),
                problem,
            }))
        };
        let up_op = Operation::Upgrade(s.revision.clone());
        if let Err(e) = m.run_on(&mut dev.conn, &up_op, &mut |_| {}).await {
            return finding(format!("upgrade failed: {e}"));
        }
        check_guard(&mut dev.conn, guard).await?;
        let after = inspector
            .inspect_in(&mut dev.conn, &exclude, schemas)
            .await
            .map_err(db("reading the scratch database"))?;
        if s.down_for(dev.conn.dialect()).is_none() {
            return finding("has no `-- migrate:down` section".into());
        }
        let down_op = Operation::Downgrade(format!("{}-1", s.revision));
        if let Err(e) = m.run_on(&mut dev.conn, &down_op, &mut |_| {}).await {
            return finding(format!("downgrade failed: {e}"));
        }
        check_guard(&mut dev.conn, guard).await?;
        let reverted = inspector
            .inspect_in(&mut dev.conn, &exclude, schemas)
            .await
            .map_err(db("reading the scratch database"))?;
        let left = diff(
            &reverted,
            &before,
            &RenameHints::default(),
            dialect::diff_options(dialect),
        );
        if !left.is_empty() {
            return finding(format!(
                "the downgrade does not restore the schema; what differs from before the upgrade:\n{}",
                left.iter().map(|c| format!("  - {}", c.describe())).collect::<Vec<_>>().join("\n")
            ));
        }
        if let Err(e) = m.run_on(&mut dev.conn, &up_op, &mut |_| {}).await {
            return finding(format!("upgrade after downgrade failed: {e}"));
        }
        check_guard(&mut dev.conn, guard).await?;
        let again = inspector
            .inspect_in(&mut dev.conn, &exclude, schemas)
            .await
            .map_err(db("reading the scratch database"))?;
        let drift = diff(
            &again,
            &after,
            &RenameHints::default(),
            dialect::diff_options(dialect),
        );
        if !drift.is_empty() {
            return finding(format!(
                "upgrading again gives a different schema:\n{}",
                drift
                    .iter()
                    .map(|c| format!("  - {}", c.describe()))
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        before = again;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_hints_for_tables_and_columns() {
        let mut hints = RenameHints::default();
        parse_hints(
            "-- alembix:renamed-from people\nCREATE TABLE users (\n    id INTEGER PRIMARY KEY,\n    \
             -- alembix:renamed-from name\n    full_name TEXT,\n    email TEXT\n);\n\
             CREATE TABLE IF NOT EXISTS \"other\" (\n    -- alembix:renamed-from a\n    b INT\n);\n",
            &mut hints,
        );
        assert_eq!(
            hints.tables,
            vec![("people".to_string(), "users".to_string())]
        );
        assert_eq!(
            hints.columns,
            vec![
                (
                    "users".to_string(),
                    "name".to_string(),
                    "full_name".to_string()
                ),
                ("other".to_string(), "a".to_string(), "b".to_string()),
            ]
        );
    }

    #[test]
    fn cache_round_trips_and_keys_follow_their_inputs() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SchemaCache {
            dir: Some(dir.path().to_path_buf()),
        };
        let desired = |ddl: &str| DesiredSchema {
            sources: vec![("schema.sql".into(), ddl.into())],
            hints: RenameHints::default(),
            models_root: None,
            schemas: Vec::new(),
        };
        let k1 = desired_key("PostgreSQL 15", &desired("CREATE TABLE a (x int);"), &[]);
        let k2 = desired_key("PostgreSQL 15", &desired("CREATE TABLE a (x bigint);"), &[]);
        let k3 = desired_key("PostgreSQL 16", &desired("CREATE TABLE a (x int);"), &[]);
        assert!(k1 != k2 && k1 != k3);
        let mut with_schema = desired("CREATE TABLE a (x int);");
        with_schema.schemas.push("billing".into());
        assert_ne!(k1, desired_key("PostgreSQL 15", &with_schema, &[]));
        assert!(cache.get(&k1).is_none());
        let mut schema = Schema::default();
        schema.tables.push(crate::schema::Table {
            name: "a".into(),
            columns: vec![crate::schema::Column::new("x", "integer")],
            ..Default::default()
        });
        cache.put(&k1, &schema);
        assert_eq!(cache.get(&k1), Some(schema));
        assert!(SchemaCache::disabled().get(&k1).is_none());
    }
}
