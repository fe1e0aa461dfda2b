//! `revision --autogenerate`, `check` and `verify`: compare the declared schema with the database or with
//! what the migrations produce, on scratch databases of the same engine.

use std::io::{BufRead, Write};
use std::process::ExitCode;

use alembix::autogen::{self, DesiredSchema, DevDatabase, Generated, PossibleRename, SchemaCache};
use alembix::project;
use alembix::schema::Schema;
use alembix::{Config, DatabaseUrl, Migrator};

use super::{CliError, CliResult};
use crate::cli::{CheckArgs, GlobalArgs, RevisionArgs, SquashArgs, VerifyArgs};
use crate::output::{paint, show_path, Printer, ID, WARN};

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// The engine to compare on: the configured database's, or SQLite when none is configured.
fn server_url(config: &Config, global: &GlobalArgs) -> Result<DatabaseUrl, CliError> {
    match config.resolve_url(global.url.as_deref()) {
        Ok(url) => Ok(url),
        Err(alembix::Error::NoUrl { .. }) => Ok(DatabaseUrl::parse("sqlite::memory:").map_err(
            |error| alembix::Error::Url {
                source_name: "default".into(),
                error,
            },
        )?),
        Err(e) => Err(e.into()),
    }
}

fn warn(text: &str) {
    let _ = writeln!(anstream::stderr(), "{} {text}", paint(WARN, "warning:"));
}

/// The current schema: the live database's, or the migrations replayed on a scratch database (cached).
async fn current_side(
    m: &Migrator,
    config: &Config,
    server: &DatabaseUrl,
    from_migrations: bool,
    cache: &SchemaCache,
) -> alembix::Result<(Schema, String)> {
    if !from_migrations {
        return autogen::live_schema(m, server, &config.schemas).await;
    }
    let fingerprint = autogen::server_fingerprint(server).await?;
    let key = autogen::migrations_key(&fingerprint, m, &config.schemas);
    let schema = match cache.get(&key) {
        Some(s) => s,
        None => {
            let mut dev = DevDatabase::create(server, config.dev_url.as_deref()).await?;
            let s = autogen::migrations_schema(m, &mut dev, &config.schemas).await;
            dev.dispose().await;
            let s = s?;
            cache.put(&key, &s);
            s
        }
    };
    Ok((schema, fingerprint))
}

fn schema_cache(config: &Config) -> SchemaCache {
    if config.dev_url.is_some() {
        // A configured dev database may differ from the server in ways the key cannot see.
        SchemaCache::disabled()
    } else {
        SchemaCache::from_env()
    }
}

/// The current schema as read by [`current_side`] (with the server's fingerprint), and the declared
/// schema, its scratch-database build served from `cache` when its inputs have not changed.
async fn both_sides(
    m: &Migrator,
    config: &Config,
    server: &DatabaseUrl,
    desired: &DesiredSchema,
    prebuild: Option<autogen::Prebuild>,
    current: alembix::Result<(Schema, String)>,
    cache: &SchemaCache,
) -> alembix::Result<(Schema, Schema)> {
    let exclude = autogen::own_tables(m);
    let (current, fingerprint) = match current {
        Ok(c) => c,
        Err(e) => {
            // A scratch database opened for the declared side is let go on every way out.
            if let Some(p) = prebuild {
                p.discard().await;
            }
            return Err(e);
        }
    };
    let key = autogen::desired_key(&fingerprint, desired, &exclude);
    let wanted = match cache.get(&key) {
        Some(s) => {
            if let Some(p) = prebuild {
                p.discard().await;
            }
            s
        }
        None => {
            // Only the tables an edit touched are rebuilt; the others come from the per-table cache.
            let (s, stats) = autogen::declared_schema(
                server,
                config.dev_url.as_deref(),
                desired,
                &exclude,
                &fingerprint,
                cache,
                prebuild,
            )
            .await?;
            // How the declared schema was built, for benchmarks and tests (`ALEMBIX_TRACE_BUILD=1`).
            if std::env::var_os("ALEMBIX_TRACE_BUILD").is_some() {
                let _ = writeln!(
                    anstream::stderr(),
                    "build: {} built, {} reused, {} stubs, {} overlapped, full {}",
                    stats.built,
                    stats.reused,
                    stats.stubs,
                    stats.overlapped,
                    stats.full
                );
            }
            cache.put(&key, &s);
            s
        }
    };
    // What `[compare]` leaves out is on neither side.
    let filter = config.compare_filter()?;
    let (mut current, mut wanted) = (current, wanted);
    filter.apply(&mut current);
    filter.apply(&mut wanted);
    Ok((current, wanted))
}

/// The declared schema, loaded with its scratch build started while the models are imported, and both
/// sides of the compare (`revision --autogenerate` and `check`).
async fn load_and_compare(
    m: &Migrator,
    config: &Config,
    server: &DatabaseUrl,
    from_migrations: bool,
) -> alembix::Result<(DesiredSchema, Schema, Schema)> {
    // The current side is read while the models are imported (it does not depend on them): the live
    // database's connection and inspection, or the migrations' replay on a scratch database (a cold replay
    // takes about as long as importing a real app's models), are then off the critical path, which after
    // the import is the declared schema's scratch build alone.
    let cache = schema_cache(config);
    let current = current_side(m, config, server, from_migrations, &cache);
    let (loaded, current) = tokio::join!(autogen::load_desired_overlapped(config, server), current);
    // On an error here the replay's scratch database is gone already: `current_side` disposes of it.
    let (desired, prebuild) = loaded?;
    let (current, wanted) =
        both_sides(m, config, server, &desired, prebuild, current, &cache).await?;
    Ok((desired, current, wanted))
}

fn ask(p: &PossibleRename) -> bool {
    let mut err = anstream::stderr();
    let _ = write!(err, "Was {} a rename? [y/N] ", p.describe());
    let _ = err.flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
}

/// A section body: warning comments, then the statements.
fn section(warnings: &[String], statements: &[String]) -> String {
    let mut out = String::new();
    for w in warnings {
        out.push_str(&format!("-- WARNING: {w}\n"));
    }
    for (i, st) in statements.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(st.trim_end_matches(';'));
        out.push_str(";\n");
    }
    out
}

/// The up and down sections for engine `d`, which is not the one compared with: the declared schema for
/// `d` against the migrations replayed on a scratch database of `d` (SQLite in memory; a server engine
/// needs `dev_url` of that engine).
async fn other_engine(
    m: &Migrator,
    config: &Config,
    d: alembix::Dialect,
    hints: &alembix::schema::RenameHints,
) -> Result<(String, String), CliError> {
    let mut scratch_config = config.clone();
    let server = match d {
        alembix::Dialect::Sqlite => {
            scratch_config.dev_url = None;
            DatabaseUrl::parse("sqlite::memory:").map_err(|error| alembix::Error::Url {
                source_name: "scratch database".into(),
                error,
            })?
        }
        _ => match config
            .dev_url
            .as_deref()
            .and_then(|u| DatabaseUrl::parse(u).ok())
            .filter(|u| u.dialect() == d)
        {
            Some(url) => url,
            None => {
                return Err(alembix::Error::Usage(format!(
                    "`dialects` names {d}, but there is no {d} server to build its section on: set `dev_url` to \
                     an empty {d} database, or run alembix against a {d} database"
                ))
                .into())
            }
        },
    };
    let mut desired = autogen::load_desired(config, d)?;
    desired.hints = hints.clone();
    let cache = schema_cache(&scratch_config);
    let current = current_side(m, &scratch_config, &server, true, &cache).await;
    let (current, wanted) =
        both_sides(m, &scratch_config, &server, &desired, None, current, &cache).await?;
    let generated = autogen::generate(d, &current, &wanted, &desired.hints);
    Ok((
        section(&generated.up_warnings, &generated.up),
        section(&generated.down_warnings, &generated.down),
    ))
}

pub fn revision(
    printer: &mut Printer,
    config: &Config,
    global: &GlobalArgs,
    args: &RevisionArgs,
) -> CliResult {
    let m = Migrator::from_config(config)?;
    let server = server_url(config, global)?;
    let rt = runtime()?;
    let (mut desired, current, wanted) =
        rt.block_on(load_and_compare(&m, config, &server, args.from_migrations))?;
    let mut generated: Generated =
        autogen::generate(server.dialect(), &current, &wanted, &desired.hints);
    autogen::guard_mass_drop(
        config,
        &current,
        &wanted,
        &generated.changes,
        args.allow_drop_tables,
    )?;
    if !generated.possible_renames.is_empty() && autogen::can_ask() {
        let possible = generated.possible_renames.clone();
        if autogen::confirm_renames(&possible, &mut desired.hints, &mut ask) {
            generated = autogen::generate(server.dialect(), &current, &wanted, &desired.hints);
        }
    }
    if generated.changes.is_empty() {
        printer.line("No changes detected")?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut up_warnings = generated.up_warnings.clone();
    for p in &generated.possible_renames {
        let text = format!(
            "dropped and added, not renamed: {}. If it is a rename, put `-- alembix:renamed-from {}` on the line \
             before the new name in the schema and generate again",
            p.describe(),
            p.from
        );
        warn(&text);
        up_warnings.push(text);
    }
    for w in &generated.up_warnings {
        warn(w);
    }
    let graph = m.graph();
    let mut req = super::revision::request(args);
    req.up = section(&up_warnings, &generated.up);
    req.down = section(&generated.down_warnings, &generated.down);
    // The other engines named in `dialects` get their own sections, each compared with the migrations
    // replayed on a scratch database of that engine.
    let live = server.dialect();
    let mut sections = String::new();
    for &d in config.dialects.iter().filter(|&&d| d != live) {
        let (other_up, other_down) = rt.block_on(other_engine(&m, config, d, &desired.hints))?;
        if other_up != req.up || other_down != req.down {
            sections.push_str(&format!(
                "\n-- migrate:up {d}\n{other_up}\n-- migrate:down {d}\n{other_down}"
            ));
        }
    }
    req.down.push_str(&sections);
    let script = project::create_revision(config, graph, &req)?;
    if args.json {
        printer.json(&serde_json::json!({
            "revision": script.revision,
            "path": show_path(&script.path),
            "changes": generated.changes.iter().map(|c| c.describe()).collect::<Vec<_>>(),
        }))?;
    } else {
        printer.line(format!(
            "Created revision {} in {}",
            paint(ID, &script.revision),
            show_path(&script.path)
        ))?;
        for c in &generated.changes {
            printer.line(format!("  - {}", c.describe()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn check(
    printer: &mut Printer,
    config: &Config,
    global: &GlobalArgs,
    args: &CheckArgs,
) -> CliResult {
    let m = Migrator::from_config(config)?;
    let server = server_url(config, global)?;
    let rt = runtime()?;
    let (desired, current, wanted) =
        rt.block_on(load_and_compare(&m, config, &server, !args.live))?;
    let generated = autogen::generate(server.dialect(), &current, &wanted, &desired.hints);
    autogen::guard_mass_drop(
        config,
        &current,
        &wanted,
        &generated.changes,
        args.allow_drop_tables,
    )?;
    if args.json {
        printer.json(&serde_json::json!({
            "up_to_date": generated.changes.is_empty(),
            "changes": generated.changes,
        }))?;
    } else if generated.changes.is_empty() {
        printer.line(if args.live {
            "No changes: the database matches the declared schema"
        } else {
            "No changes: the migrations produce the declared schema"
        })?;
    } else {
        printer.line(format!(
            "{} change(s) between the {} and the declared schema:",
            generated.changes.len(),
            if args.live { "database" } else { "migrations" }
        ))?;
        for c in &generated.changes {
            printer.line(format!("  - {}", c.describe()))?;
        }
        printer.line(
            "Run `alembix revision --autogenerate -m MESSAGE` to write a revision for them.",
        )?;
    }
    Ok(if generated.changes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub fn verify(
    printer: &mut Printer,
    config: &Config,
    global: &GlobalArgs,
    _args: &VerifyArgs,
) -> CliResult {
    let m = Migrator::from_config(config)?;
    let server = server_url(config, global)?;
    let rt = runtime()?;
    let quiet = printer.quiet;
    let count = m.graph().len();
    let finding = rt.block_on(autogen::verify(
        &m,
        &server,
        config.dev_url.as_deref(),
        &config.schemas,
        &mut |what| {
            if !quiet {
                let _ = writeln!(anstream::stderr(), "Checking {what}");
            }
        },
    ))?;
    match finding {
        None => {
            printer.line(format!(
                "All {count} revision(s) verified on {}: each downgrade restores the schema, and upgrading again \
                 gives the same schema",
                server.dialect()
            ))?;
            Ok(ExitCode::SUCCESS)
        }
        Some(f) => {
            printer.line(format!(
                "Revision {} ({}) failed verification: {}",
                paint(ID, &f.revision),
                show_path(&f.path),
                f.problem
            ))?;
            Ok(ExitCode::from(1))
        }
    }
}

pub fn squash(
    printer: &mut Printer,
    config: &Config,
    global: &GlobalArgs,
    args: &SquashArgs,
) -> CliResult {
    let m = Migrator::from_config(config)?;
    let server = server_url(config, global)?;
    let rt = runtime()?;
    let report = rt.block_on(alembix::squash::squash(
        config,
        &m,
        &server,
        &args.revision,
        &args.message,
    ))?;
    if args.json {
        printer.json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    printer.line(format!(
        "Squashed {} revision(s) into {} ({}), the schema at {} as {} builds it",
        report.squashed.len() + 1,
        paint(ID, &report.baseline),
        show_path(&report.file),
        report.baseline,
        server.dialect()
    ))?;
    for p in &report.rewritten {
        printer.line(format!("  depends on the baseline now: {}", show_path(p)))?;
    }
    printer.line(format!(
        "Databases at {} or later need nothing; one below it must first be upgraded to {} with the old files \
         (they are in version control).",
        report.baseline, report.baseline
    ))?;
    Ok(ExitCode::SUCCESS)
}
