//! Command-line arguments (clap). Alembic's command names and revision syntax.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "alembix",
    version,
    about = "Database schema migrations: SQL revisions in a graph with branches and merges",
    long_about = "Database schema migrations: SQL revision files forming a graph with branches and merges, \
                  Alembic's commands and revision syntax, for PostgreSQL, MySQL/MariaDB and SQLite.\n\n\
                  Revision expressions: a full id, a unique prefix (4+ characters), a branch label, `head`, \
                  `heads`, `base`, `current`, relative `+N` `-N` `REV+N` `REV-N`, and branch forms \
                  `LABEL@head` `LABEL@base` `LABEL@+N` `LABEL@-N`.",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Config file (default: alembix.toml in the current directory)
    #[arg(short = 'c', long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Print less: no progress lines, only results and errors
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create alembix.toml, a migrations directory and an example schema (never overwrites)
    Init {
        /// Directory to scaffold (default: the current directory)
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Create a new revision file
    Revision(RevisionArgs),
    /// Create a merge revision joining two or more revisions (usually `heads`)
    Merge(MergeArgs),
    /// Show the head revisions of the migrations directory
    Heads(ListArgs),
    /// Show the branch points
    Branches(ListArgs),
    /// List revisions, newest first; draws the graph when there are branches
    History(HistoryArgs),
    /// Show one revision in full, with its SQL
    Show(ShowArgs),
    /// Print shell completions
    Completions {
        /// Shell to generate completions for
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct RevisionArgs {
    /// Message (first line of the file, and its name)
    #[arg(short, long)]
    pub message: String,
    /// Parent of the new revision: a head, `LABEL@head`, `base` for a new root, or any revision with --splice
    #[arg(long, value_name = "REV")]
    pub head: Option<String>,
    /// Allow --head to name a revision that is not a head, starting a new branch
    #[arg(long)]
    pub splice: bool,
    /// Branch label for the new revision (repeatable)
    #[arg(long = "branch-label", value_name = "LABEL")]
    pub branch_label: Vec<String>,
    /// A revision the new one depends on, beyond its parent (repeatable)
    #[arg(long = "depends-on", value_name = "REV")]
    pub depends_on: Vec<String>,
    /// Use this id instead of a random one
    #[arg(long = "rev-id", value_name = "ID")]
    pub rev_id: Option<String>,
    /// Mark the revision non-transactional (for CREATE INDEX CONCURRENTLY and the like)
    #[arg(long = "no-transaction")]
    pub no_transaction: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Revisions to merge (e.g. `heads`, or two or more ids)
    #[arg(required = true, value_name = "REVS")]
    pub revisions: Vec<String>,
    #[arg(short, long)]
    pub message: String,
    #[arg(long = "branch-label", value_name = "LABEL")]
    pub branch_label: Vec<String>,
    #[arg(long = "rev-id", value_name = "ID")]
    pub rev_id: Option<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Show every detail of each revision
    #[arg(short, long)]
    pub verbose: bool,
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Range `A:B` (either side may be empty): revisions from A up to B, inclusive
    #[arg(
        short = 'r',
        long = "rev-range",
        value_name = "A:B",
        allow_hyphen_values = true
    )]
    pub range: Option<String>,
    #[arg(short, long)]
    pub verbose: bool,
    #[arg(long)]
    pub json: bool,
    /// Always draw the graph, even for a linear history
    #[arg(long, conflicts_with = "no_graph")]
    pub graph: bool,
    /// Never draw the graph
    #[arg(long)]
    pub no_graph: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Revision expression (id, prefix, `head`, `LABEL@head`, ...)
    pub revision: String,
    #[arg(long)]
    pub json: bool,
}
