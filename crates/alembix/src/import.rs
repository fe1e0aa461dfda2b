//! `alembix import alembic`: an Alembic project becomes an alembix project with the same revision ids, graph
//! and version table. Alembic itself, run in the project's Python, renders each revision's SQL (offline, or
//! replayed on an empty scratch database where offline rendering cannot work); this module turns that into
//! revision files, and proves the result by building one scratch database with alembix and one with Alembic
//! and comparing them with alembix's introspection.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::autogen::{self, DevDatabase};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::migrate::{MigrateOptions, Migrator, Operation};
use crate::python::{Interpreter, ALEMBIC};
use crate::schema::diff;
use crate::url::{DatabaseUrl, Dialect, SqliteLocation};

/// What `scan` reports of an Alembic project.
#[derive(Debug, Clone, Deserialize)]
pub struct AlembicProject {
    pub config_file: PathBuf,
    pub script_location: PathBuf,
    #[serde(default)]
    pub version_locations: Vec<PathBuf>,
    pub sqlalchemy_url: Option<String>,
    pub version_table: Option<String>,
    pub version_table_schema: Option<String>,
    pub transaction_per_migration: Option<bool>,
    pub revisions: Vec<AlembicRevision>,
}

/// One Alembic revision, as `scan` reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct AlembicRevision {
    pub id: String,
    #[serde(default)]
    pub down_revisions: Vec<String>,
    #[serde(default)]
    pub branch_labels: Vec<String>,
    #[serde(default)]
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub message: String,
    pub create_date: Option<String>,
    pub path: PathBuf,
    #[serde(default)]
    pub upgrade_source: String,
    #[serde(default)]
    pub downgrade_source: String,
    #[serde(default = "normal")]
    pub upgrade_kind: String,
    #[serde(default = "normal")]
    pub downgrade_kind: String,
    #[serde(default)]
    pub data_dependent_up: Vec<String>,
    #[serde(default)]
    pub data_dependent_down: Vec<String>,
    #[serde(default)]
    pub non_transactional: bool,
}

fn normal() -> String {
    "normal".into()
}

/// The SQL of one direction of one revision for one engine, as `render` reports it.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct Rendered {
    #[serde(default)]
    pub sql: String,
    /// `offline`, `replay` or `none`.
    #[serde(default)]
    pub source: String,
    pub error: Option<String>,
    pub offline_error: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RenderedRevision {
    #[serde(default)]
    pub up: Rendered,
    #[serde(default)]
    pub down: Rendered,
}

#[derive(Debug, Clone, Deserialize)]
struct RenderOutput {
    revisions: HashMap<String, RenderedRevision>,
    /// With `--include-scan`: the project as `scan` reads it.
    scan: Option<AlembicProject>,
}

/// What to import, and how.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// `alembic.ini` or `pyproject.toml`.
    pub alembic_config: PathBuf,
    /// The ini section (`alembic` by default; `-n` in Alembic).
    pub name: Option<String>,
    pub python: Option<String>,
    /// Engines to render for; empty: the engine of the project's URL, else SQLite.
    pub dialects: Vec<Dialect>,
    /// Servers to render and prove on, by engine (from `--url`, `$DATABASE_URL`, `sqlalchemy.url`).
    pub servers: Vec<DatabaseUrl>,
    /// Where the revision files go (relative to the project directory).
    pub migrations: PathBuf,
    /// Build both schemas and compare them after converting.
    pub prove: bool,
}

/// A revision that needs a person before it runs.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NeedsReview {
    pub revision: String,
    pub file: PathBuf,
    pub reasons: Vec<String>,
}

/// The comparison of the schemas built by alembix and by Alembic on one engine.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Proof {
    pub dialect: Dialect,
    /// After `upgrade heads`: the differences (empty: identical), or why it could not be built.
    pub upgrade: std::result::Result<Vec<String>, String>,
    /// After downgrading both as far as the revisions allow.
    pub downgrade: std::result::Result<Vec<String>, String>,
    /// Where the downgrade stopped (`base`, or the revisions above an irreversible one).
    pub downgrade_target: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ImportReport {
    pub config_path: PathBuf,
    pub migrations: PathBuf,
    pub files: Vec<PathBuf>,
    pub dialects: Vec<Dialect>,
    pub version_table: String,
    /// (revision, engine, direction) rendered by replaying on a scratch database.
    pub replayed: Vec<(String, Dialect, String)>,
    pub review: Vec<NeedsReview>,
    /// Revisions whose downgrade raises or is missing: no down section.
    pub irreversible: Vec<String>,
    /// Revisions whose downgrade is `pass`.
    pub empty_downgrades: Vec<String>,
    pub proofs: Vec<Proof>,
    /// Things that could not be done (an engine with no server to replay or prove on).
    pub notes: Vec<String>,
}

/// Find the Alembic config of the project in `dir`: `alembic.ini`, else `pyproject.toml` with
/// `[tool.alembic]`.
pub fn find_alembic_config(dir: &Path) -> Result<PathBuf> {
    crate::project::alembic_config_in(dir).ok_or_else(|| Error::Usage(format!(
        "no alembic.ini, and no pyproject.toml with [tool.alembic], in {}; run this in the Alembic project's \
         directory or pass --alembic-config PATH",
        std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf()).display()
    )))
}

/// A SQLAlchemy URL for a database alembix knows, for the Python side (no driver named: the helper picks
/// an installed one).
pub fn sqlalchemy_url(url: &DatabaseUrl) -> String {
    match url.sqlite_location() {
        Some(SqliteLocation::File(p)) => {
            let abs = std::path::absolute(p).unwrap_or_else(|_| p.clone());
            format!("sqlite:///{}", abs.display())
        }
        Some(SqliteLocation::Memory) => "sqlite://".into(),
        None => {
            let raw = url.expose_driver_url();
            let rest = raw.split_once("://").map_or(raw.as_str(), |(_, r)| r);
            // sqlx's TLS parameters mean nothing to the Python drivers.
            let rest = rest.split('?').next().unwrap_or(rest);
            match url.dialect() {
                Dialect::Postgres => format!("postgresql://{rest}"),
                _ => format!("mysql://{rest}"),
            }
        }
    }
}

fn helper_args(opts: &ImportOptions, command: &str) -> Vec<String> {
    let mut args = vec![
        command.to_string(),
        "--config".into(),
        opts.alembic_config.display().to_string(),
    ];
    if let Some(name) = &opts.name {
        args.push("--name".into());
        args.push(name.clone());
    }
    args
}

/// Run the importer: scan, render per engine, write files and config, prove. `project` is the directory
/// that gets `alembix.toml`.
pub async fn import_alembic(
    project: &Path,
    opts: &ImportOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<ImportReport> {
    let config_path = project.join(crate::config::CONFIG_FILE);
    if config_path.exists() {
        return Err(Error::Usage(format!(
            "{} already exists; the import writes a new one. Move it away first",
            config_path.display()
        )));
    }
    let migrations = if opts.migrations.is_absolute() {
        opts.migrations.clone()
    } else {
        project.join(&opts.migrations)
    };
    if std::fs::read_dir(&migrations).is_ok_and(|mut d| d.next().is_some()) {
        return Err(Error::Usage(format!(
            "{} is not empty; the import writes its revision files into an empty directory (choose another \
             with --migrations DIR)",
            migrations.display()
        )));
    }
    let base = Config::defaults(project);
    let python = Interpreter::for_project(&base, opts.python.as_deref())?;
    progress(&format!(
        "Reading the Alembic project with {}",
        python.display()
    ));
    // When the first engine is known, one Python process reads the project and renders it (importing
    // Alembic and SQLAlchemy is a quarter of a second of every process); otherwise the project's
    // sqlalchemy.url decides, so it is read first.
    let mut notes = Vec::new();
    let mut rendered: Vec<(Dialect, HashMap<String, RenderedRevision>)> = Vec::new();
    let known = opts
        .dialects
        .first()
        .copied()
        .or_else(|| opts.servers.first().map(|s| s.dialect()));
    let alembic: AlembicProject = match known {
        Some(d) => {
            let (scan, revisions) = render_for(&python, opts, project, d, true, &mut notes).await?;
            rendered.push((d, revisions));
            scan.ok_or_else(|| {
                Error::Usage("the Alembic renderer did not include the project it read".into())
            })?
        }
        None => {
            let scanned = python.run(ALEMBIC, &helper_args(opts, "scan"), project)?;
            serde_json::from_str(&scanned).map_err(|e| {
                Error::Usage(format!(
                    "the Alembic reader returned something unexpected: {e}"
                ))
            })?
        }
    };
    if alembic.revisions.is_empty() {
        return Err(Error::Usage(format!(
            "the Alembic project {} has no revisions in {}",
            alembic.config_file.display(),
            alembic.script_location.display()
        )));
    }
    for r in &alembic.revisions {
        crate::script::validate_identifier(&r.id, "revision id").map_err(|m| {
            Error::Usage(format!(
                "{}: {m}; alembix cannot keep this id",
                r.path.display()
            ))
        })?;
    }

    let mut dialects = opts.dialects.clone();
    if dialects.is_empty() {
        let from_ini = alembic
            .sqlalchemy_url
            .as_deref()
            .and_then(|u| DatabaseUrl::parse(u).ok())
            .map(|u| u.dialect());
        dialects.push(
            opts.servers
                .first()
                .map(|s| s.dialect())
                .or(from_ini)
                .unwrap_or(Dialect::Sqlite),
        );
    }
    for &d in &dialects {
        if rendered.iter().any(|(done, _)| *done == d) {
            continue;
        }
        progress(&format!(
            "Rendering {} revisions for {d}",
            alembic.revisions.len()
        ));
        let (_, revisions) = render_for(&python, opts, project, d, false, &mut notes).await?;
        rendered.push((d, revisions));
    }
    // Files follow the order of the engines as given.
    rendered.sort_by_key(|(d, _)| dialects.iter().position(|x| x == d));

    std::fs::create_dir_all(&migrations).map_err(|e| Error::io(&migrations, e))?;
    let mut report = ImportReport {
        config_path: config_path.clone(),
        migrations: migrations.clone(),
        files: Vec::new(),
        dialects: dialects.clone(),
        version_table: match (&alembic.version_table_schema, &alembic.version_table) {
            (Some(schema), table) => {
                format!("{schema}.{}", table.as_deref().unwrap_or("alembic_version"))
            }
            (None, table) => table.clone().unwrap_or_else(|| "alembic_version".into()),
        },
        replayed: Vec::new(),
        review: Vec::new(),
        irreversible: Vec::new(),
        empty_downgrades: Vec::new(),
        proofs: Vec::new(),
        notes,
    };
    let now = time::OffsetDateTime::now_utc();
    for rev in &alembic.revisions {
        let per: Vec<(Dialect, RenderedRevision)> = rendered
            .iter()
            .map(|(d, map)| (*d, map.get(&rev.id).cloned().unwrap_or_default()))
            .collect();
        for (d, r) in &per {
            for (dir, x) in [("up", &r.up), ("down", &r.down)] {
                if x.source == "replay" {
                    report.replayed.push((rev.id.clone(), *d, dir.into()));
                }
            }
        }
        let shown = relative_to(&rev.path, project);
        let (text, reasons) = revision_text(rev, &per, &shown);
        let name = crate::script::file_name(
            crate::config::DEFAULT_FILE_TEMPLATE,
            &rev.id,
            &rev.message,
            now,
        );
        let path = migrations.join(name);
        // The file must read back as what was meant.
        crate::script::parse(&path, text.clone())?;
        std::fs::write(&path, &text).map_err(|e| Error::io(&path, e))?;
        if !reasons.is_empty() {
            report.review.push(NeedsReview {
                revision: rev.id.clone(),
                file: path.clone(),
                reasons,
            });
        }
        match rev.downgrade_kind.as_str() {
            "raises" | "missing" => report.irreversible.push(rev.id.clone()),
            "empty" => report.empty_downgrades.push(rev.id.clone()),
            _ => {}
        }
        report.files.push(path);
    }
    let config_text = config_text(&alembic, opts, project, &report);
    std::fs::write(&config_path, config_text).map_err(|e| Error::io(&config_path, e))?;

    if opts.prove {
        let config = Config::load(Some(&config_path), project)?;
        for &d in &dialects {
            let Some(server) = server_for(opts, d).cloned().or_else(|| {
                (d == Dialect::Sqlite).then(|| DatabaseUrl::parse("sqlite::memory:").ok())?
            }) else {
                continue;
            };
            progress(&format!(
                "Proving on {d}: building the schema with alembix and with Alembic"
            ));
            report
                .proofs
                .push(prove(&config, opts, &python, project, &server).await?);
        }
    }
    Ok(report)
}

/// Render every revision for `d` (on a scratch database of that engine where one can be had), with the
/// project's scan too when `include_scan`.
async fn render_for(
    python: &Interpreter,
    opts: &ImportOptions,
    project: &Path,
    d: Dialect,
    include_scan: bool,
    notes: &mut Vec<String>,
) -> Result<(Option<AlembicProject>, HashMap<String, RenderedRevision>)> {
    let mut args = helper_args(opts, "render");
    args.push("--dialect".into());
    args.push(d.name().into());
    if include_scan {
        args.push("--include-scan".into());
    }
    let scratch = match (d, server_for(opts, d)) {
        (Dialect::Sqlite, _) => None,
        (_, Some(server)) => Some(DevDatabase::create(server, None).await?),
        (_, None) => {
            notes.push(format!(
                "no {d} server was given (--server, --url or $DATABASE_URL), so revisions that Alembic cannot \
                 render offline were not replayed for {d}, and the result was not proved on {d}"
            ));
            None
        }
    };
    if let Some(dev) = &scratch {
        args.push("--scratch-url".into());
        args.push(sqlalchemy_url(dev.url()));
    }
    let out = python.run(ALEMBIC, &args, project);
    if let Some(dev) = scratch {
        dev.dispose().await;
    }
    let out: RenderOutput = serde_json::from_str(&out?).map_err(|e| {
        Error::Usage(format!(
            "the Alembic renderer returned something unexpected: {e}"
        ))
    })?;
    Ok((out.scan, out.revisions))
}

fn server_for(opts: &ImportOptions, d: Dialect) -> Option<&DatabaseUrl> {
    opts.servers.iter().find(|s| s.dialect() == d)
}

fn relative_to(path: &Path, dir: &Path) -> PathBuf {
    let abs_dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    path.strip_prefix(&abs_dir)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

/// The body of one direction for one engine.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Sql(String),
    /// Commented text only (an empty downgrade, a data migration awaiting review).
    Note(String),
    /// No down section at all.
    Irreversible,
}

fn quoted(source: &str) -> String {
    source
        .trim_end()
        .lines()
        .map(|l| format!("--   {l}").trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// One direction's part, and the reason it needs review (if it does).
fn part(rev: &AlembicRevision, up: bool, r: &Rendered, shown: &Path) -> (Part, Option<String>) {
    let (func, kind, source, data) = if up {
        (
            "upgrade",
            &rev.upgrade_kind,
            &rev.upgrade_source,
            &rev.data_dependent_up,
        )
    } else {
        (
            "downgrade",
            &rev.downgrade_kind,
            &rev.downgrade_source,
            &rev.data_dependent_down,
        )
    };
    if !up && (kind == "raises" || kind == "missing") {
        return (Part::Irreversible, None);
    }
    if kind == "empty" {
        return (
            Part::Note(format!(
                "-- {func}() of the Alembic revision is empty (`pass`): nothing to {}.\n",
                if up { "do" } else { "undo" }
            )),
            None,
        );
    }
    let mut note = String::new();
    let reason = if !data.is_empty() {
        Some(format!(
            "{func}() depends on the data in the database ({}), so its effect could not be captured as SQL",
            data.join("; ")
        ))
    } else {
        r.error.as_ref().map(|e| {
            format!(
                "Alembic could not render {func}() as SQL, offline or replayed: {}",
                e.lines().next().unwrap_or(e)
            )
        })
    };
    let Some(reason) = reason else {
        return (Part::Sql(r.sql.clone()), None);
    };
    note.push_str(&format!(
        "-- REVIEW: {reason}.\n-- Make this section do what it did, then delete the `-- Review:` line of the header.\n\
         -- The original Python ({}):\n{}\n",
        shown.display(),
        quoted(source)
    ));
    if r.sql.trim().is_empty() {
        return (Part::Note(note), Some(reason));
    }
    // What it ran on an empty database stays live (its schema changes are real, and later revisions build
    // on them); the Review line keeps it from running anywhere until a person has added what the data
    // part did.
    note.push_str(
        "-- Below: the statements it ran on an empty database. What it did for each existing row is not \
         among them.\n",
    );
    note.push_str(&r.sql);
    (Part::Sql(note), Some(reason))
}

/// The text of the revision file, and why it needs review (empty when it does not).
fn revision_text(
    rev: &AlembicRevision,
    per: &[(Dialect, RenderedRevision)],
    shown: &Path,
) -> (String, Vec<String>) {
    let mut reasons: Vec<String> = Vec::new();
    let mut parts: Vec<(Dialect, Part, Part)> = Vec::new();
    for (d, r) in per {
        let (up, why_up) = part(rev, true, &r.up, shown);
        let (down, why_down) = part(rev, false, &r.down, shown);
        for why in [why_up, why_down].into_iter().flatten() {
            if !reasons.contains(&why) {
                reasons.push(why);
            }
        }
        parts.push((*d, up, down));
    }
    let mut out = String::new();
    let message = rev.message.lines().next().unwrap_or("").trim();
    out.push_str(&format!(
        "-- {}\n--\n-- Revision ID: {}\n-- Revises: {}\n",
        if message.is_empty() {
            "(no message)"
        } else {
            message
        },
        rev.id,
        rev.down_revisions.join(", ")
    ));
    if let Some(date) = &rev.create_date {
        out.push_str(&format!("-- Create Date: {date}\n"));
    }
    if !rev.branch_labels.is_empty() {
        out.push_str(&format!(
            "-- Branch Labels: {}\n",
            rev.branch_labels.join(", ")
        ));
    }
    if !rev.depends_on.is_empty() {
        out.push_str(&format!("-- Depends On: {}\n", rev.depends_on.join(", ")));
    }
    if rev.non_transactional {
        out.push_str("-- Transactional: false\n");
    }
    if !reasons.is_empty() {
        out.push_str(&format!("-- Review: {}\n", reasons.join("; ")));
    }
    if matches!(rev.downgrade_kind.as_str(), "raises" | "missing") {
        out.push_str(&format!(
            "-- Irreversible: {} in the Alembic revision\n",
            if rev.downgrade_kind == "raises" {
                "downgrade() raises"
            } else {
                "there is no downgrade()"
            }
        ));
    }
    out.push_str(&format!(
        "-- Imported from {} by alembix import alembic\n",
        shown.display()
    ));
    let same = parts
        .windows(2)
        .all(|w| w[0].1 == w[1].1 && w[0].2 == w[1].2);
    let sections: Vec<(Option<Dialect>, &Part, &Part)> = if same {
        parts
            .first()
            .map(|(_, u, d)| (None, u, d))
            .into_iter()
            .collect()
    } else {
        parts.iter().map(|(d, u, dn)| (Some(*d), u, dn)).collect()
    };
    for (d, up, down) in sections {
        let suffix = d.map(|d| format!(" {d}")).unwrap_or_default();
        out.push_str(&format!("\n-- migrate:up{suffix}\n"));
        push_part(&mut out, up);
        match down {
            Part::Irreversible => {
                if rev.downgrade_kind == "raises" {
                    out.push_str(&format!(
                        "\n-- No migrate:down{suffix} section: the original downgrade() raises, so this revision \
                         cannot be downgraded.\n{}\n",
                        quoted(&rev.downgrade_source)
                    ));
                }
            }
            other => {
                out.push_str(&format!("\n-- migrate:down{suffix}\n"));
                push_part(&mut out, other);
            }
        }
    }
    (out, reasons)
}

fn push_part(out: &mut String, part: &Part) {
    match part {
        Part::Sql(sql) | Part::Note(sql) => {
            let body = sql.trim_matches('\n');
            if !body.is_empty() {
                out.push_str(body);
                out.push('\n');
            }
        }
        Part::Irreversible => {}
    }
}

fn config_text(
    alembic: &AlembicProject,
    opts: &ImportOptions,
    project: &Path,
    report: &ImportReport,
) -> String {
    let q = crate::project::toml_string;
    let migrations = relative_to(
        &std::path::absolute(&report.migrations).unwrap_or_else(|_| report.migrations.clone()),
        project,
    );
    let mut text = format!(
        "# alembix configuration, converted from {} by `alembix import alembic`.\n\
         # Paths are relative to this file.\n\n\
         # The revisions, one .sql file each, with the Alembic revision ids.\n\
         migrations = {}\n\n\
         # Alembic's version table: the databases Alembic migrated continue where they are.\n\
         version_table = {}\n\n\
         # The database URL comes from this environment variable (also from .env), unless --url is given.\n\
         url_env = \"DATABASE_URL\"\n",
        relative_to(&alembic.config_file, project).display(),
        q(&migrations.display().to_string()),
        q(&report.version_table),
    );
    if let Some(url) = &alembic.sqlalchemy_url {
        // Kept only when it is a SQLite file: a server URL may hold a password, and belongs in the environment.
        // A file inside the project is kept relative to it (alembix.toml's URLs are relative to the file).
        let abs_project = std::path::absolute(project).unwrap_or_else(|_| project.to_path_buf());
        let url = match url.strip_prefix("sqlite:///") {
            Some(path) if Path::new(path).is_absolute() => {
                match Path::new(path).strip_prefix(&abs_project) {
                    Ok(rel) => format!("sqlite:///{}", rel.display()),
                    Err(_) => url.clone(),
                }
            }
            _ => url.clone(),
        };
        if url.starts_with("sqlite") {
            text.push_str(&format!(
                "\n# From sqlalchemy.url, used when $DATABASE_URL is not set.\nurl = {}\n",
                q(&url)
            ));
        }
    }
    if report.dialects.len() > 1 {
        let names: Vec<String> = report.dialects.iter().map(|d| q(d.name())).collect();
        text.push_str(&format!(
            "\n# Engines the revisions carry SQL for; `revision --autogenerate` writes a section for each.\n\
             dialects = [{}]\n",
            names.join(", ")
        ));
    }
    if let Some(tpm) = alembic.transaction_per_migration {
        text.push_str(&format!("\ntransaction_per_migration = {tpm}\n"));
    }
    if let Some(py) = &opts.python {
        text.push_str(&format!("\n# The project's Python.\npython = {}\n", q(py)));
    }
    text.push_str(
        "\n# The desired schema for `revision --autogenerate` and `check`, e.g. the SQLAlchemy models:\n\
         # models = \"app.models\"\n",
    );
    text
}

/// Build the schema with alembix (the new revisions) and with Alembic (the original ones) on two scratch
/// databases of the engine, and compare; then downgrade both as far as the revisions allow and compare again.
async fn prove(
    config: &Config,
    opts: &ImportOptions,
    python: &Interpreter,
    project: &Path,
    server: &DatabaseUrl,
) -> Result<Proof> {
    let d = server.dialect();
    let options = MigrateOptions {
        allow_review: true,
        ..MigrateOptions::from_config(config)
    };
    let m = Migrator::from_config(config)?.with_options(options);
    let graph = m.graph();
    // Where a full downgrade stops: just above the topmost irreversible revision, if any.
    let irreversible: Vec<crate::graph::Rev> = graph
        .topological()
        .iter()
        .copied()
        .filter(|&r| graph.script(r).down_for(d).is_none())
        .collect();
    let downgrade_target = match irreversible.last() {
        None => "base".to_string(),
        Some(&r) => graph.id(r).to_string(),
    };
    let mut exclude = autogen::own_tables(&m);
    exclude.push("alembic_version".into());

    // alembix's side.
    let ours_dev = DevDatabase::create(server, None).await?;
    // Alembic's side: a server scratch database, or a SQLite file (Python cannot see alembix's memory).
    let tmp = tempfile_dir()?;
    let theirs_dev = match d {
        Dialect::Sqlite => None,
        _ => Some(DevDatabase::create(server, None).await?),
    };
    let theirs_url = match &theirs_dev {
        Some(dev) => dev.url().clone(),
        None => DatabaseUrl::parse(&format!("sqlite:{}", tmp.join("alembic.db").display()))
            .map_err(|error| Error::Url {
                source_name: "scratch database".into(),
                error,
            })?,
    };
    let mut ours_dev = ours_dev;
    let result = async {
        let step = |target: &str, op: &str| {
            let mut args = helper_args(opts, op);
            args.extend([
                "--url".into(),
                sqlalchemy_url(&theirs_url),
                "--target".into(),
                target.into(),
            ]);
            python.run(ALEMBIC, &args, project).map(|_| ())
        };
        let compare = async |conn: &mut crate::dialect::Connection| -> Result<Vec<String>> {
            let ours = crate::dialect::inspect(conn, &exclude)
                .await
                .map_err(|e| Error::Usage(format!("reading the alembix scratch database: {e}")))?;
            let mut theirs_conn = autogen::connect(&theirs_url).await?;
            let theirs = crate::dialect::inspect(&mut theirs_conn, &exclude).await;
            theirs_conn.close().await;
            let theirs = theirs
                .map_err(|e| Error::Usage(format!("reading the Alembic scratch database: {e}")))?;
            Ok(
                diff(&theirs, &ours, &Default::default(), Default::default())
                    .iter()
                    .map(|c| c.describe())
                    .collect(),
            )
        };
        let upgrade = match (
            m.run_on(
                &mut ours_dev.conn,
                &Operation::Upgrade("heads".into()),
                &mut |_| {},
            )
            .await,
            step("heads", "upgrade"),
        ) {
            (Err(e), _) => Err(format!("alembix upgrade heads failed: {e}")),
            (_, Err(e)) => Err(format!("Alembic upgrade heads failed: {e}")),
            (Ok(_), Ok(())) => compare(&mut ours_dev.conn).await.map_err(|e| e.to_string()),
        };
        let downgrade = if upgrade.is_err() {
            Err("not tried: the upgrade did not complete".to_string())
        } else {
            match (
                m.run_on(
                    &mut ours_dev.conn,
                    &Operation::Downgrade(downgrade_target.clone()),
                    &mut |_| {},
                )
                .await,
                step(&downgrade_target, "downgrade"),
            ) {
                (Err(e), _) => Err(format!("alembix downgrade {downgrade_target} failed: {e}")),
                (_, Err(e)) => Err(format!("Alembic downgrade {downgrade_target} failed: {e}")),
                (Ok(_), Ok(())) => compare(&mut ours_dev.conn).await.map_err(|e| e.to_string()),
            }
        };
        Proof {
            dialect: d,
            upgrade,
            downgrade,
            downgrade_target: downgrade_target.clone(),
        }
    }
    .await;
    ours_dev.dispose().await;
    if let Some(dev) = theirs_dev {
        dev.dispose().await;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(result)
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!(
        "alembix-import-{}-{}",
        std::process::id(),
        crate::script::new_revision_id()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev() -> AlembicRevision {
        AlembicRevision {
            id: "ae1027a6acf0".into(),
            down_revisions: vec!["1975ea83b712".into()],
            branch_labels: vec![],
            depends_on: vec![],
            message: "add users".into(),
            create_date: Some("2024-01-02 10:30:00.123456".into()),
            path: PathBuf::from("alembic/versions/ae1027a6acf0_add_users.py"),
            upgrade_source: "def upgrade():\n    op.create_table('users')\n".into(),
            downgrade_source: "def downgrade():\n    op.drop_table('users')\n".into(),
            upgrade_kind: "normal".into(),
            downgrade_kind: "normal".into(),
            data_dependent_up: vec![],
            data_dependent_down: vec![],
            non_transactional: false,
        }
    }

    fn sql(s: &str) -> Rendered {
        Rendered {
            sql: s.into(),
            source: "offline".into(),
            error: None,
            offline_error: None,
        }
    }

    fn parsed(text: &str) -> crate::Script {
        crate::script::parse(Path::new("x.sql"), text.to_string()).unwrap()
    }

    #[test]
    fn one_engine_gives_the_plain_format() {
        let r = RenderedRevision {
            up: sql("CREATE TABLE users (id INTEGER);\n"),
            down: sql("DROP TABLE users;\n"),
        };
        let (text, review) = revision_text(&rev(), &[(Dialect::Sqlite, r)], Path::new("a.py"));
        assert!(review.is_empty());
        let s = parsed(&text);
        assert_eq!(s.revision, "ae1027a6acf0");
        assert_eq!(s.down_revisions, vec!["1975ea83b712"]);
        assert_eq!(s.message, "add users");
        assert!(s.dialects().is_empty());
        assert_eq!(s.up_sql().trim(), "CREATE TABLE users (id INTEGER);");
        assert_eq!(s.down_sql().unwrap().trim(), "DROP TABLE users;");
    }

    #[test]
    fn engines_that_differ_get_their_own_sections() {
        let pg = RenderedRevision {
            up: sql("CREATE TABLE users (id SERIAL);\n"),
            down: sql("DROP TABLE users;\n"),
        };
        let lite = RenderedRevision {
            up: sql("CREATE TABLE users (id INTEGER);\n"),
            down: sql("DROP TABLE users;\n"),
        };
        let (text, _) = revision_text(
            &rev(),
            &[(Dialect::Postgres, pg), (Dialect::Sqlite, lite)],
            Path::new("a.py"),
        );
        let s = parsed(&text);
        assert_eq!(s.dialects(), vec![Dialect::Postgres, Dialect::Sqlite]);
        assert!(s.up_for(Dialect::Postgres).unwrap().0.contains("SERIAL"));
        assert!(s.up_for(Dialect::Sqlite).unwrap().0.contains("INTEGER"));
        assert!(!s.runs_on(Dialect::Mysql));
    }

    #[test]
    fn data_migrations_are_flagged_and_quoted_not_run() {
        let mut r = rev();
        r.data_dependent_up = vec!["iterates over the result of bind.execute(...)".into()];
        r.upgrade_source = "def upgrade():\n    for row in bind.execute(sa.text('SELECT id FROM t')):\n        ...\n".into();
        let rendered = RenderedRevision {
            up: Rendered {
                source: "replay".into(),
                ..sql("DELETE FROM t;\n")
            },
            down: sql(""),
        };
        let (text, review) = revision_text(&r, &[(Dialect::Sqlite, rendered)], Path::new("a.py"));
        assert_eq!(review.len(), 1);
        let s = parsed(&text);
        assert!(s.review.as_deref().unwrap().contains("depends on the data"));
        // The Python is quoted; what it ran on an empty database is kept, and the Review line stops it
        // from running until a person has read it.
        assert!(s.up_sql().contains("--   def upgrade():"));
        assert!(s.up_sql().lines().any(|l| l == "DELETE FROM t;"));
    }

    #[test]
    fn raising_downgrade_has_no_down_section_and_empty_one_says_so() {
        let mut r = rev();
        r.downgrade_kind = "raises".into();
        r.downgrade_source = "def downgrade():\n    raise NotImplementedError()\n".into();
        let rendered = RenderedRevision {
            up: sql("CREATE TABLE t (a int);\n"),
            down: Rendered::default(),
        };
        let (text, _) = revision_text(
            &r,
            &[(Dialect::Sqlite, rendered.clone())],
            Path::new("a.py"),
        );
        let s = parsed(&text);
        assert!(s.down_sql().is_none());
        assert!(text.contains("-- Irreversible: downgrade() raises"));

        r.downgrade_kind = "empty".into();
        let (text, _) = revision_text(&r, &[(Dialect::Sqlite, rendered)], Path::new("a.py"));
        let s = parsed(&text);
        assert!(s.down_sql().unwrap().contains("is empty (`pass`)"));
    }
}
