//! alembix: database schema migrations with a revision graph (branches, merges, dependencies),
//! Alembic's revision syntax, and plain SQL revision files.
//!
//! The library never prints: it returns values and errors; the `alembix` CLI renders them.

pub mod autogen;
pub mod config;
pub mod dialect;
pub mod error;
pub mod graph;
pub mod import;
pub mod migrate;
pub mod project;
pub mod python;
pub mod schema;
pub mod script;
pub mod squash;
pub mod url;

pub use config::Config;
pub use error::{Error, Result};
pub use graph::{Direction, GraphError, Plan, Rev, RevisionGraph, Step, Target};
pub use migrate::{
    EmbeddedMigrations, Event, MigrateError, MigrateOptions, Migrator, Operation, Outcome,
};
pub use script::{Script, ScriptError};
pub use url::{DatabaseUrl, Dialect};

/// The version of this library, recorded in the history table.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[doc(hidden)]
pub mod __private {
    pub use rust_embed::{self, RustEmbed};
}
