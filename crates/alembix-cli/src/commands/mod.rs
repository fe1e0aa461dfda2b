//! One module per command. Each returns an exit code or an error; the printer owns stdout.

mod autogen;
mod import;
mod init;
mod migrate;
mod read;
mod revision;

use std::process::ExitCode;

use alembix::{Config, RevisionGraph};

use crate::cli::{Cli, Command};
use crate::output::Printer;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Lib(#[from] alembix::Error),
    /// Writing to stdout failed (a closed pipe is not reported).
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

impl From<alembix::GraphError> for CliError {
    fn from(e: alembix::GraphError) -> Self {
        CliError::Lib(e.into())
    }
}

pub type CliResult = Result<ExitCode, CliError>;

pub fn run(cli: Cli) -> CliResult {
    let mut printer = Printer::new(cli.global.quiet);
    let code = match cli.command {
        Command::Init { dir, models, force } => init::run(
            &mut printer,
            &dir,
            &alembix::project::InitOptions { models, force },
        )?,
        Command::Import(crate::cli::ImportCommand::Alembic(args)) => {
            import::alembic(&mut printer, &cli.global, &args)?
        }
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            // Generated into memory: clap_complete panics on a write error, and a closed pipe is not one.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "alembix", &mut script);
            std::io::Write::write_all(&mut std::io::stdout().lock(), &script)?;
            ExitCode::SUCCESS
        }
        command => {
            let config = load_config(&cli.global)?;
            match command {
                Command::Revision(args) if args.autogenerate => {
                    autogen::revision(&mut printer, &config, &cli.global, &args)?
                }
                Command::Revision(args) => revision::revision(&mut printer, &config, &args)?,
                Command::Check(args) => autogen::check(&mut printer, &config, &cli.global, &args)?,
                Command::Squash(args) => {
                    autogen::squash(&mut printer, &config, &cli.global, &args)?
                }
                Command::Verify(args) => {
                    autogen::verify(&mut printer, &config, &cli.global, &args)?
                }
                Command::Merge(args) => revision::merge(&mut printer, &config, &args)?,
                Command::Heads(args) => read::heads(&mut printer, load_graph(&config)?, &args)?,
                Command::Edit(args) => read::edit(load_graph(&config)?, &args)?,
                Command::Branches(args) => {
                    read::branches(&mut printer, load_graph(&config)?, &args)?
                }
                Command::History(args) => {
                    let m = reading_migrator(&config)?;
                    let mut fetch = || migrate::current_revs(m, &config, &cli.global);
                    read::history(&mut printer, m.graph(), &args, &mut fetch)?
                }
                Command::Show(args) => {
                    let m = reading_migrator(&config)?;
                    let mut fetch = || migrate::current_revs(m, &config, &cli.global);
                    read::show(&mut printer, m.graph(), &args, &mut fetch)?
                }
                Command::Upgrade(args) => migrate::upgrade_or_downgrade(
                    &mut printer,
                    &config,
                    &cli.global,
                    &args.into_migrate(),
                    alembix::Direction::Up,
                )?,
                Command::Downgrade(args) => migrate::upgrade_or_downgrade(
                    &mut printer,
                    &config,
                    &cli.global,
                    &args,
                    alembix::Direction::Down,
                )?,
                Command::Current(args) => {
                    migrate::current(&mut printer, &config, &cli.global, &args)?
                }
                Command::Stamp(args) => migrate::stamp(&mut printer, &config, &cli.global, &args)?,
                Command::Repair(args) => {
                    migrate::repair(&mut printer, &config, &cli.global, &args)?
                }
                Command::Rehash(args) => {
                    migrate::rehash(&mut printer, &config, &cli.global, &args)?
                }
                Command::Init { .. } | Command::Completions { .. } | Command::Import(_) => {
                    unreachable!("handled above")
                }
            }
        }
    };
    printer.flush()?;
    Ok(code)
}

fn load_config(global: &crate::cli::GlobalArgs) -> Result<Config, CliError> {
    let mut config = Config::load(global.config.as_deref(), std::path::Path::new("."))?;
    config.x_args = global.x.clone();
    Ok(config)
}

/// The graph for the commands that need headers only (`heads`, `branches`, `edit`, `revision`, `merge`):
/// from the header index.
///
/// Never freed: the process ends when the command does, and freeing every script of a large history one by
/// one costs more than the command itself (a sixth of `heads` on 10,000 revisions).
fn load_graph(config: &Config) -> Result<&'static RevisionGraph, CliError> {
    Ok(Box::leak(Box::new(alembix::project::load_graph_headers(
        config,
    )?)))
}

/// [`alembix::Migrator::from_config_headers`], never freed (see [`load_graph`]).
fn reading_migrator(config: &Config) -> Result<&'static alembix::Migrator, CliError> {
    Ok(Box::leak(Box::new(alembix::Migrator::from_config_headers(
        config,
    )?)))
}
