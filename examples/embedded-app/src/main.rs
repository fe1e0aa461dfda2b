//! An application that migrates its database at start-up with revisions compiled into the binary: the same
//! lock, checks and history as `alembix upgrade head`, so every replica can do this at once.

// An example application talks to its user on stdout/stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite::memory:".to_string());
    match migrate(&url).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("migration failed: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(url: &str) -> alembix::Result<()> {
    let migrator = alembix::Migrator::new(alembix::embed!("../quickstart/migrations"))?;
    let outcome = migrator.upgrade(url, "head").await?;
    for step in &outcome.steps {
        eprintln!("applied {} ({})", step.revision, step.message);
    }
    println!("database at {}", outcome.heads_after.join(", "));
    Ok(())
}
