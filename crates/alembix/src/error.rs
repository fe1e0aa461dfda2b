//! The library's error type. Each variant carries what a user needs to act: the file, the line, the revision,
//! and where it helps, what to type instead.

use std::path::PathBuf;

pub use crate::graph::GraphError;
pub use crate::script::ScriptError;
use crate::url::UrlError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{}: {message}", path.display())]
    Config { path: PathBuf, message: String },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("no database URL: pass --url, set ${env} (the environment or a .env file), or set `url` in alembix.toml")]
    NoUrl { env: String },

    #[error("{error} (from {source_name})")]
    Url {
        source_name: String,
        error: UrlError,
    },

    #[error(transparent)]
    Script(#[from] ScriptError),

    #[error(transparent)]
    Graph(#[from] GraphError),

    #[error(transparent)]
    Migrate(#[from] crate::migrate::MigrateError),

    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
