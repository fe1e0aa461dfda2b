//! The commands that talk to a database: `upgrade`, `downgrade`, `current`, `stamp`, `rehash`.
//! Progress goes to stderr (one line per revision, with its time); results and SQL go to stdout.

use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

use alembix::migrate::{Event, PlannedStep};
use alembix::{Config, DatabaseUrl, Dialect, Direction, Migrator, Operation, Outcome};

use super::{CliError, CliResult};
use crate::cli::{
    ConnectArgs, CurrentArgs, DialectArg, GlobalArgs, MigrateArgs, RehashArgs, StampArgs,
};
use crate::output::{paint, Printer, DIM, ID, TAG, WARN};

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// The migrator of the commands that change the database. Its graph comes from the header index: the run
/// reads the bodies of the steps it takes, and `upgrade` with nothing to do reads no revision file the index
/// knows (the edit check takes their checksums from it).
fn migrator(config: &Config, connect: &ConnectArgs) -> Result<Migrator, CliError> {
    Ok(Migrator::from_config_headers(config)?.with_options(options(config, connect)))
}

fn options(config: &Config, connect: &ConnectArgs) -> alembix::MigrateOptions {
    let mut opts = alembix::MigrateOptions::from_config(config);
    opts.wait = connect.wait;
    opts.lock_timeout = connect.lock_timeout;
    opts.resume = connect.resume;
    opts
}

/// Renders progress events on stderr.
struct Progress {
    quiet: bool,
    /// A "Running ..." line is waiting for its time (or for FAILED).
    open_line: bool,
}

impl Progress {
    fn new(quiet: bool) -> Progress {
        Progress {
            quiet,
            open_line: false,
        }
    }

    /// End a "Running ..." line left open by a failing step, before the error is printed.
    fn finish<T>(&mut self, result: Result<T, alembix::Error>) -> Result<T, CliError> {
        if result.is_err() && self.open_line {
            let _ = writeln!(
                anstream::stderr(),
                "{}",
                paint(crate::output::ERROR, "FAILED")
            );
            self.open_line = false;
        }
        Ok(result?)
    }

    fn handle(&mut self, event: Event) {
        if self.quiet {
            return;
        }
        let mut err = anstream::stderr();
        match event {
            Event::ConnectRetry { attempt, message } => {
                let _ = writeln!(
                    err,
                    "Waiting for the database (attempt {attempt}): {message}"
                );
            }
            Event::LockWait { holder } => {
                let who = holder.map(|h| format!(" held by {h}")).unwrap_or_default();
                let _ = writeln!(err, "Waiting for the migration lock{who} ...");
            }
            Event::LockAcquired { waited } => {
                let _ = writeln!(err, "Took the migration lock after {}", ms(waited));
            }
            Event::VersionTableNormalised { rows } => {
                let _ = writeln!(
                    err,
                    "{} the version table held redundant rows ({}); rewrote it to the heads",
                    paint(WARN, "note:"),
                    rows.join(", ")
                );
            }
            Event::Adopted { revisions } => {
                let _ = writeln!(
                    err,
                    "{} this database was migrated by another tool (Alembic); adopted its {revisions} applied \
                     revision(s) and recorded their checksums",
                    paint(WARN, "note:")
                );
            }
            Event::StepStarted { step } => {
                let _ = write!(err, "{} ... ", describe(&step));
                let _ = err.flush();
                self.open_line = true;
            }
            Event::StepFinished { duration, .. } => {
                let _ = writeln!(err, "{}", paint(DIM, ms(duration)));
                self.open_line = false;
            }
            _ => {}
        }
    }
}

fn ms(d: std::time::Duration) -> String {
    format!("{} ms", d.as_millis())
}

/// `Running upgrade 9a8b7c -> 5c1e2d, add phone to users`
fn describe(step: &PlannedStep) -> String {
    let from = if step.from.is_empty() {
        "<base>".to_string()
    } else {
        step.from.join(", ")
    };
    let (verb, a, b) = match step.direction {
        Direction::Up => ("upgrade", from, step.revision.clone()),
        Direction::Down => ("downgrade", step.revision.clone(), from),
    };
    format!(
        "Running {verb} {} -> {}, {}",
        paint(ID, a),
        paint(ID, b),
        step.message
    )
}

fn url(config: &Config, global: &GlobalArgs) -> Result<DatabaseUrl, CliError> {
    Ok(config.resolve_url(global.url.as_deref())?)
}

pub fn upgrade_or_downgrade(
    printer: &mut Printer,
    config: &Config,
    global: &GlobalArgs,
    args: &MigrateArgs,
    direction: Direction,
) -> CliResult {
    let rt = runtime()?;
    if args.sql {
        let m = migrator(config, &args.connect)?;
        return offline(printer, config, global, args, direction, &m, &rt);
    }
    let url = url(config, global)?;
    let op = match direction {
        Direction::Up => Operation::Upgrade(args.target.clone()),
        Direction::Down => Operation::Downgrade(args.target.clone()),
    };
    let mut progress = Progress::new(printer.quiet || args.dry_run);
    let started = Instant::now();
    // The revision files are read on another thread while the run connects and takes the lock (with
    // thousands of revisions, stamping them takes as long as connecting with TLS).
    let options = options(config, &args.connect);
    let loading = {
        let (config, options) = (config.clone(), options.clone());
        rt.spawn_blocking(move || {
            Migrator::from_config_headers(&config).map(|m| m.with_options(options))
        })
    };
    let loaded = async {
        loading.await.map_err(|_| {
            alembix::Error::Usage("loading the revisions failed (the thread panicked)".into())
        })?
    };
    let result = rt.block_on(alembix::migrate::run_loading(
        &url,
        &options,
        loaded,
        &op,
        args.dry_run,
        &mut |e| progress.handle(e),
    ));
    let outcome = progress.finish(result)?;
    if args.json {
        printer.json(&outcome_json(&outcome, args.dry_run))?;
    } else if args.dry_run {
        print_sql(printer, url.dialect(), &outcome)?;
    }
    if !printer.quiet && !args.json {
        let mut err = anstream::stderr();
        if outcome.steps.is_empty() {
            let at = if outcome.heads_before.is_empty() {
                "base".to_string()
            } else {
                outcome.heads_before.join(", ")
            };
            let _ = writeln!(
                err,
                "Nothing to do: the database is at {} already.",
                paint(ID, at)
            );
        } else if args.dry_run {
            let _ = writeln!(
                err,
                "Dry run: {} revision(s) would run; nothing was changed.",
                outcome.steps.len()
            );
        } else {
            let at = if outcome.heads_after.is_empty() {
                "base".to_string()
            } else {
                outcome.heads_after.join(", ")
            };
            let _ = writeln!(
                err,
                "Done: {} revision(s) in {}; now at {}.",
                outcome.steps.len(),
                ms(started.elapsed()),
                paint(ID, at)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The engine to write offline SQL for: `--dialect`, else the configured URL's.
fn offline_dialect(
    arg: Option<DialectArg>,
    config: &Config,
    global: &GlobalArgs,
) -> Result<Dialect, CliError> {
    match arg {
        Some(d) => Ok(d.into()),
        None => Ok(url(config, global)
            .map_err(|_| {
                CliError::Lib(alembix::Error::Usage(
                    "--sql needs to know the database kind: pass --dialect postgresql|mysql|sqlite, or configure a URL"
                        .into(),
                ))
            })?
            .dialect()),
    }
}

fn offline(
    printer: &mut Printer,
    config: &Config,
    global: &GlobalArgs,
    args: &MigrateArgs,
    direction: Direction,
    m: &Migrator,
    rt: &tokio::runtime::Runtime,
) -> CliResult {
    let dialect = offline_dialect(args.dialect, config, global)?;
    // `A:B` runs from A to B; a lone target runs from base (upgrade) or needs a start (downgrade).
    let (start, target) = match args.target.split_once(':') {
        Some((a, b)) => (a.trim().to_string(), b.trim().to_string()),
        None if direction == Direction::Up => ("base".to_string(), args.target.clone()),
        None => {
            return Err(CliError::Lib(alembix::Error::Usage(
                "downgrade --sql needs a range `FROM:TO` (e.g. `head:base`): there is no database to say where it is"
                    .into(),
            )))
        }
    };
    let start: Vec<String> = if start.is_empty() || start == "base" {
        Vec::new()
    } else {
        vec![start]
    };
    let op = match direction {
        Direction::Up => Operation::Upgrade(if target.is_empty() {
            "heads".into()
        } else {
            target
        }),
        Direction::Down => Operation::Downgrade(if target.is_empty() {
            "base".into()
        } else {
            target
        }),
    };
    let outcome = rt.block_on(m.offline(dialect, &op, start))?;
    if args.json {
        printer.json(&outcome_json(&outcome, true))?;
    } else {
        print_sql(printer, dialect, &outcome)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The recorded SQL as a script a client can run (`psql -f`, `mysql <`, `sqlite3`).
fn print_sql(printer: &mut Printer, dialect: Dialect, outcome: &Outcome) -> std::io::Result<()> {
    for sql in &outcome.sql {
        if sql.starts_with("-- ") {
            printer.line("")?;
            printer.line(sql)?;
        } else if dialect == Dialect::Mysql
            && sql.contains(';')
            && alembix::migrate::split::split(sql, dialect).len() == 1
        {
            // One statement with `;` inside (a procedure, a trigger body) needs another delimiter in the mysql
            // client; several statements (the bookkeeping) do not.
            printer.line(format!("DELIMITER $$\n{sql}$$\nDELIMITER ;"))?;
        } else {
            printer.line(format!("{sql};"))?;
        }
    }
    Ok(())
}

fn outcome_json(outcome: &Outcome, dry_run: bool) -> serde_json::Value {
    serde_json::json!({
        "dry_run": dry_run,
        "heads_before": outcome.heads_before,
        "heads_after": outcome.heads_after,
        "steps": outcome.steps,
        "sql": if dry_run { Some(&outcome.sql) } else { None },
    })
}

pub fn current(
    printer: &mut Printer,
    config: &Config,
    global: &GlobalArgs,
    args: &CurrentArgs,
) -> CliResult {
    let url = url(config, global)?;
    // Read the database while another thread loads the revision files: `current` is run often (health
    // checks, deploy scripts) and the two take about as long each.
    let loader = {
        let config = config.clone();
        std::thread::spawn(move || Migrator::from_config_headers(&config))
    };
    let mut options = alembix::MigrateOptions::from_config(config);
    options.wait = args.connect.wait;
    let rt = runtime()?;
    let mut progress = Progress::new(printer.quiet);
    // Who applied each head, and when, is shown only with --verbose and --json.
    let history = args.verbose || args.json;
    let raw = rt.block_on(alembix::migrate::read_current(
        &url,
        &options,
        history,
        &mut |e| progress.handle(e),
    ));
    let m = loader.join().map_err(|_| {
        CliError::Lib(alembix::Error::Usage("loading the revisions failed".into()))
    })??;
    // Never freed, like the graph of the other reading commands (see `commands::load_graph`).
    let m: &'static Migrator = Box::leak(Box::new(m));
    let heads = m.describe_current(&raw?);
    let graph = m.graph();
    let mut rows: Vec<&str> = heads.iter().map(|h| h.revision.as_str()).collect();
    rows.sort_unstable();
    let mut all: Vec<&str> = graph.heads().iter().map(|r| graph.id(*r)).collect();
    all.sort_unstable();
    let up_to_date = rows == all;
    if args.json {
        printer.json(&serde_json::json!({ "heads": heads, "up_to_date": up_to_date }))?;
    } else {
        for h in &heads {
            let mut line = paint(ID, &h.revision);
            if h.is_head {
                line.push_str(&format!(" ({})", paint(TAG, "head")));
            }
            if !h.known {
                line.push_str(&format!(
                    " ({})",
                    paint(WARN, "no revision file has this id")
                ));
            }
            if let Some(msg) = h.message.as_ref().filter(|m| !m.is_empty()) {
                line.push_str(&format!(", {msg}"));
            }
            if args.verbose {
                if let (Some(at), Some(by)) = (&h.applied_at, &h.applied_by) {
                    let how = match h.direction.as_deref() {
                        Some("stamp") => "stamped",
                        Some("rehash") => "rehashed",
                        _ => "applied",
                    };
                    line.push_str(&paint(DIM, format!(" — {how} {at} by {by}")));
                }
            }
            printer.line(line)?;
        }
        if heads.is_empty() && !printer.quiet {
            printer.flush()?;
            let _ = writeln!(
                anstream::stderr(),
                "No revision is applied (the database is at base)."
            );
        }
    }
    if args.check_heads && !up_to_date {
        printer.flush()?;
        let _ = writeln!(
            anstream::stderr(),
            "Target database is not up to date: at {}, heads are {}",
            if rows.is_empty() {
                "base".to_string()
            } else {
                rows.join(", ")
            },
            all.join(", ")
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn stamp(
    printer: &mut Printer,
    config: &Config,
    global: &GlobalArgs,
    args: &StampArgs,
) -> CliResult {
    let m = migrator(config, &args.connect)?;
    let rt = runtime()?;
    if args.sql {
        // Offline: `FROM:TO`, or a lone target stamped from base.
        let dialect = offline_dialect(args.dialect, config, global)?;
        let (start, target) = match args.revision.split_once(':') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => ("base", args.revision.as_str()),
        };
        let start = if start.is_empty() || start == "base" {
            Vec::new()
        } else {
            vec![start.to_string()]
        };
        let op = Operation::Stamp {
            target: if target.is_empty() { "heads" } else { target }.to_string(),
            purge: args.purge,
        };
        let outcome = rt.block_on(m.offline(dialect, &op, start))?;
        if args.json {
            printer.json(&outcome_json(&outcome, true))?;
        } else {
            print_sql(printer, dialect, &outcome)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let url = url(config, global)?;
    let mut progress = Progress::new(printer.quiet);
    let op = Operation::Stamp {
        target: args.revision.clone(),
        purge: args.purge,
    };
    let outcome = rt.block_on(m.run(&url, &op, false, &mut |e| progress.handle(e)))?;
    if args.json {
        printer.json(&outcome_json(&outcome, false))?;
    } else {
        let at = if outcome.heads_after.is_empty() {
            "base".to_string()
        } else {
            outcome.heads_after.join(", ")
        };
        printer.line(format!(
            "Stamped: the version table now says {}",
            paint(ID, at)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn rehash(
    printer: &mut Printer,
    config: &Config,
    global: &GlobalArgs,
    args: &RehashArgs,
) -> CliResult {
    let m = migrator(config, &args.connect)?;
    let url = url(config, global)?;
    let rt = runtime()?;
    let mut progress = Progress::new(printer.quiet);
    let op = Operation::Rehash(args.revisions.clone());
    let outcome = rt.block_on(m.run(&url, &op, false, &mut |e| progress.handle(e)))?;
    if outcome.steps.is_empty() {
        printer.line("No applied revision was edited; nothing recorded.")?;
    }
    for s in &outcome.steps {
        printer.line(format!(
            "Recorded the new checksum of {} ({})",
            paint(ID, &s.revision),
            crate::output::show_path(&s.path)
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The database's current heads as revisions of the graph (for `history -r current:`, `show current`).
pub fn current_revs(
    m: &Migrator,
    config: &Config,
    global: &GlobalArgs,
) -> Result<Vec<alembix::Rev>, CliError> {
    let url = url(config, global)?;
    let heads = runtime()?.block_on(m.current_of(&url, &mut |_| {}))?;
    heads
        .iter()
        .map(|h| {
            m.graph().get(&h.revision).ok_or_else(|| {
                CliError::Lib(
                    alembix::MigrateError::UnknownRevision {
                        revision: h.revision.clone(),
                        dir: config.migrations.display().to_string(),
                    }
                    .into(),
                )
            })
        })
        .collect()
}

pub fn repair(
    printer: &mut Printer,
    config: &Config,
    global: &GlobalArgs,
    args: &crate::cli::RepairArgs,
) -> CliResult {
    let m = migrator(config, &args.connect)?;
    let url = url(config, global)?;
    let rt = runtime()?;
    let mut progress = Progress::new(printer.quiet);
    rt.block_on(m.run(&url, &Operation::Repair, false, &mut |e| progress.handle(e)))?;
    printer.line(
        "Forgot the interrupted step: the version table was never changed by it, so the next run starts it \
         from its first statement.",
    )?;
    Ok(ExitCode::SUCCESS)
}
