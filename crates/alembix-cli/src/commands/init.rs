//! `alembix init [DIR]`

use std::path::Path;
use std::process::ExitCode;

use super::CliResult;
use crate::output::{show_path, Printer};

pub fn run(printer: &mut Printer, dir: &Path, opts: &alembix::project::InitOptions) -> CliResult {
    let report = alembix::project::init(dir, opts)?;
    for path in &report.created {
        printer.line(format!("Created {}", show_path(path)))?;
    }
    printer.flush()?;
    if !printer.quiet {
        eprintln_hint(dir);
    }
    Ok(ExitCode::SUCCESS)
}

fn eprintln_hint(dir: &Path) {
    use std::io::Write;
    let cd = if dir == Path::new(".") {
        String::new()
    } else {
        format!("cd {} && ", dir.display())
    };
    let _ = writeln!(
        anstream::stderr(),
        "Next: set DATABASE_URL (or `url` in alembix.toml), then `{cd}alembix revision -m \"create users\"`"
    );
}
