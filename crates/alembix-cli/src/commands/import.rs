//! `alembix import alembic`: convert an Alembic project and report what needs a person.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use alembix::import::{self, ImportOptions, ImportReport};
use alembix::{Config, DatabaseUrl};

use super::CliResult;
use crate::cli::{GlobalArgs, ImportAlembicArgs};
use crate::output::{paint, show_path, Printer, ID, WARN};

pub fn alembic(printer: &mut Printer, global: &GlobalArgs, args: &ImportAlembicArgs) -> CliResult {
    let alembic_config = match &args.alembic_config {
        Some(p) => p.clone(),
        None => import::find_alembic_config(Path::new("."))?,
    };
    let project = alembic_config
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    // Servers to render and prove on: --url, else $DATABASE_URL (environment or .env).
    let defaults = Config::defaults(&project);
    let mut servers: Vec<DatabaseUrl> = Vec::new();
    for raw in &args.servers {
        servers.push(
            DatabaseUrl::parse(raw).map_err(|error| alembix::Error::Url {
                source_name: "--server".into(),
                error,
            })?,
        );
    }
    if servers.is_empty() {
        match defaults.resolve_url(global.url.as_deref()) {
            Ok(url) => servers.push(url),
            Err(alembix::Error::NoUrl { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let opts = ImportOptions {
        alembic_config: std::path::absolute(&alembic_config).unwrap_or(alembic_config),
        name: args.name.clone(),
        python: args.python.clone(),
        dialects: args.dialects.iter().map(|d| (*d).into()).collect(),
        servers,
        migrations: args.migrations.clone(),
        prove: !args.no_prove,
    };
    let quiet = printer.quiet;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(import::import_alembic(&project, &opts, &mut |what| {
        if !quiet {
            let _ = writeln!(anstream::stderr(), "{what} ...");
        }
    }))?;
    let ok = report.review.is_empty()
        && report
            .proofs
            .iter()
            .all(|p| matches!((&p.upgrade, &p.downgrade), (Ok(a), Ok(b)) if a.is_empty() && b.is_empty()));
    if args.json {
        printer.json(&report)?;
    } else {
        render(printer, &report)?;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn ids(list: &[String]) -> String {
    let mut s = list.iter().take(10).cloned().collect::<Vec<_>>().join(", ");
    if list.len() > 10 {
        s.push_str(&format!(", … ({} in all)", list.len()));
    }
    s
}

fn render(printer: &mut Printer, r: &ImportReport) -> std::io::Result<()> {
    let engines: Vec<&str> = r.dialects.iter().map(|d| d.name()).collect();
    printer.line(format!(
        "Converted {} Alembic revision(s) into {} for {}; wrote {} (version_table = \"{}\")",
        r.files.len(),
        show_path(&r.migrations),
        engines.join(", "),
        show_path(&r.config_path),
        r.version_table
    ))?;
    if !r.replayed.is_empty() {
        let list: Vec<String> = r
            .replayed
            .iter()
            .map(|(rev, d, dir)| format!("{rev} {dir} ({d})"))
            .collect();
        printer.line(format!(
            "  replayed on a scratch database (Alembic could not render them offline): {}",
            ids(&list)
        ))?;
    }
    if !r.empty_downgrades.is_empty() {
        printer.line(format!(
            "  empty downgrades, kept empty: {}",
            ids(&r.empty_downgrades)
        ))?;
    }
    if !r.irreversible.is_empty() {
        printer.line(format!(
            "  irreversible (downgrade() raises or is missing; no down section): {}",
            ids(&r.irreversible)
        ))?;
    }
    for note in &r.notes {
        printer.line(format!("  {} {note}", paint(WARN, "note:")))?;
    }
    for p in &r.proofs {
        let show = |x: &Result<Vec<String>, String>| match x {
            Ok(d) if d.is_empty() => "identical".to_string(),
            Ok(d) => format!("{} difference(s):\n      {}", d.len(), d.join("\n      ")),
            Err(e) => format!("not compared: {e}"),
        };
        printer.line(format!(
            "Proof on {}: the schema built by alembix and by Alembic, after upgrade heads: {}",
            p.dialect,
            show(&p.upgrade)
        ))?;
        printer.line(format!(
            "Proof on {}: after downgrade {}: {}",
            p.dialect,
            p.downgrade_target,
            show(&p.downgrade)
        ))?;
    }
    if r.review.is_empty() {
        printer.line(
            "Next: `alembix current` on your database (alembix continues from its alembic_version), then \
             `alembix upgrade head`.",
        )?;
    } else {
        printer.line(format!(
            "{} {} revision(s) need review: alembix will not run them until their `-- Review:` header line \
             is deleted (after making their SQL do what the Python did):",
            paint(WARN, "review:"),
            r.review.len()
        ))?;
        for n in &r.review {
            printer.line(format!(
                "  {} ({}): {}",
                paint(ID, &n.revision),
                show_path(&n.file),
                n.reasons.join("; ")
            ))?;
        }
    }
    Ok(())
}
