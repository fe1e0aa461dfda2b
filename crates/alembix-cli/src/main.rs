//! `alembix`: the command-line front end. Parses arguments, runs one command, renders its result, and maps
//! failures to exit codes (0 ok, 1 a finding, 2 an error).

mod cli;
mod commands;
mod graph_view;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli) {
        Ok(code) => code,
        Err(commands::CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            report(&e);
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on stderr.
fn report(err: &commands::CliError) {
    use std::io::Write;
    let mut stderr = anstream::stderr();
    let mut shown = err.to_string();
    let _ = writeln!(stderr, "{} {shown}", output::paint(output::ERROR, "error:"));
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        // Many errors already include their cause in their message (`path: No such file or directory`);
        // do not repeat it.
        let text = cause.to_string();
        if !shown.contains(&text) {
            let _ = writeln!(stderr, "  caused by: {text}");
            shown = text;
        }
        source = cause.source();
    }
}
