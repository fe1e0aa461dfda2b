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
                  Revision expressions: a full id, a unique prefix (any length), a branch label, `head`, \
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
    /// Database URL (default: $DATABASE_URL, also read from .env, then `url` in alembix.toml)
    #[arg(long, global = true, value_name = "URL", hide_env_values = true)]
    pub url: Option<String>,
    /// Extra argument `key=value` (repeatable): `x.key` in script templates, `$ALEMBIX_X_KEY` for schema_command
    #[arg(short = 'x', global = true, value_name = "KEY=VALUE", value_parser = parse_x)]
    pub x: Vec<(String, String)>,
}

fn parse_x(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("`{s}`: expected key=value")),
    }
}

/// Options of the commands that connect.
#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Keep retrying to connect for this long while the server refuses connections (e.g. `30s`)
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub wait: Option<std::time::Duration>,
    /// How long to wait for another run's migration lock
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, default_value = "5m")]
    pub lock_timeout: std::time::Duration,
    /// Continue an interrupted step (MySQL, `Transactional: false`) from its first statement that had not committed
    #[arg(long)]
    pub resume: bool,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Target revision (`-1`, `base`, an id, `LABEL@-1`, ...); with --sql a range `FROM:TO`
    #[arg(allow_hyphen_values = true)]
    pub target: String,
    /// Print the SQL script instead of running it (offline: no database needed)
    #[arg(long, conflicts_with = "dry_run")]
    pub sql: bool,
    /// Connect, show what would run (as SQL), change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Database kind for --sql when no URL is configured
    #[arg(long, value_enum, requires = "sql")]
    pub dialect: Option<DialectArg>,
    /// Print the outcome as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum DialectArg {
    #[value(alias = "postgres")]
    Postgresql,
    #[value(alias = "mariadb")]
    Mysql,
    Sqlite,
}

impl From<DialectArg> for alembix::Dialect {
    fn from(d: DialectArg) -> alembix::Dialect {
        match d {
            DialectArg::Postgresql => alembix::Dialect::Postgres,
            DialectArg::Mysql => alembix::Dialect::Mysql,
            DialectArg::Sqlite => alembix::Dialect::Sqlite,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create alembix.toml, a migrations directory and an example schema (never overwrites)
    Init {
        /// Directory to scaffold (default: the current directory)
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Declare the schema with SQLAlchemy models instead of schema.sql (`app.models`, `app.db:Base`)
        #[arg(long, value_name = "MODULE[:ATTR]")]
        models: Option<String>,
        /// Create the project even beside an Alembic project (use `alembix import alembic` to convert one)
        #[arg(long)]
        force: bool,
    },
    /// Create a new revision file
    Revision(RevisionArgs),
    /// Create a merge revision joining two or more revisions (usually `heads`)
    Merge(MergeArgs),
    /// Show the head revisions of the migrations directory
    Heads(HeadsArgs),
    /// Show the branch points
    Branches(ListArgs),
    /// List revisions, newest first; draws the graph when there are branches
    History(HistoryArgs),
    /// Show one revision in full, with its SQL
    Show(ShowArgs),
    /// Open a revision file in $EDITOR (default `head`)
    Edit(EditArgs),
    /// Apply revisions up to a target (default `heads`)
    Upgrade(UpgradeArgs),
    /// Revert revisions down to a target (`-1`, `base`, a revision)
    Downgrade(MigrateArgs),
    /// Show the database's current revision(s)
    Current(CurrentArgs),
    /// Set the version table to a revision without running any SQL
    Stamp(StampArgs),
    /// Accept intentional edits of applied revisions by recording their new checksums
    Rehash(RehashArgs),
    /// Forget an interrupted step after undoing its committed statements by hand (see --resume to finish it instead)
    Repair(RepairArgs),
    /// Exit 1 if the migrations do not produce the declared schema (for CI)
    Check(CheckArgs),
    /// Replace REV and every revision below it by one baseline revision that creates the schema at REV
    /// (keeps REV's id: databases at REV or later need nothing)
    Squash(SquashArgs),
    /// Stairway test on a scratch database: every revision up, down, and up again, schema compared each time
    Verify(VerifyArgs),
    /// Convert another tool's project: `alembix import alembic` (same revision ids, same version table)
    #[command(subcommand)]
    Import(ImportCommand),
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
    /// Write the SQL that turns the database (at head) into the declared schema (`schema` / `schema_command`)
    #[arg(long)]
    pub autogenerate: bool,
    /// With --autogenerate: compare with the migrations replayed on a scratch database, not the live database
    #[arg(long, requires = "autogenerate")]
    pub from_migrations: bool,
    /// With --autogenerate: go on when the declared schema is empty or would drop most tables (models not imported?)
    #[arg(long, requires = "autogenerate")]
    pub allow_drop_tables: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Revisions to merge (e.g. `heads`, or two or more ids)
    #[arg(required = true, value_name = "REVS")]
    pub revisions: Vec<String>,
    /// Message (first line of the file, and its name)
    #[arg(short, long)]
    pub message: String,
    /// Branch label for the new revision (repeatable)
    #[arg(long = "branch-label", value_name = "LABEL")]
    pub branch_label: Vec<String>,
    /// Use this id instead of a random one
    #[arg(long = "rev-id", value_name = "ID")]
    pub rev_id: Option<String>,
    /// Allow revisions that are not heads to be merged (Alembic's `merge --splice`)
    #[arg(long)]
    pub splice: bool,
    /// Print the result as JSON
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
pub struct HeadsArgs {
    #[command(flatten)]
    pub list: ListArgs,
    /// Treat `Depends On` as an edge too: a head that another revision depends on is not a head
    #[arg(long)]
    pub resolve_dependencies: bool,
}

#[derive(Debug, Args)]
pub struct EditArgs {
    /// Revision expression (id, prefix, `head`, `LABEL@head`, ...)
    #[arg(default_value = "head", allow_hyphen_values = true)]
    pub revision: String,
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
    /// Show every detail of each revision
    #[arg(short, long)]
    pub verbose: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
    /// Always draw the graph, even for a linear history
    #[arg(long, conflicts_with = "no_graph")]
    pub graph: bool,
    /// Never draw the graph
    #[arg(long)]
    pub no_graph: bool,
    /// Mark the database's current revision(s) (connects to the database)
    #[arg(short = 'i', long)]
    pub indicate_current: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Revision expression (id, prefix, `head`, `LABEL@head`, ...)
    #[arg(allow_hyphen_values = true)]
    pub revision: String,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UpgradeArgs {
    /// Target revision (default `heads`; `head`, `+1`, an id, `LABEL@head`, ...); with --sql a range `A:B`
    #[arg(default_value = "heads", allow_hyphen_values = true)]
    pub target: String,
    /// Print the SQL script instead of running it (offline: no database needed)
    #[arg(long, conflicts_with = "dry_run")]
    pub sql: bool,
    /// Connect, show what would run (as SQL), change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Database kind for --sql when no URL is configured
    #[arg(long, value_enum, requires = "sql")]
    pub dialect: Option<DialectArg>,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

impl UpgradeArgs {
    pub fn into_migrate(self) -> MigrateArgs {
        MigrateArgs {
            target: self.target,
            sql: self.sql,
            dry_run: self.dry_run,
            dialect: self.dialect,
            json: self.json,
            connect: self.connect,
        }
    }
}

#[derive(Debug, Args)]
pub struct CurrentArgs {
    /// Also show when and by whom each revision was applied
    #[arg(short, long)]
    pub verbose: bool,
    /// Exit 1 unless the database is at every head
    #[arg(long)]
    pub check_heads: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub struct StampArgs {
    /// Revision to record (`head`, `heads`, `base`, an id, ...)
    #[arg(allow_hyphen_values = true)]
    pub revision: String,
    /// Forget what the version table says first (e.g. it names a revision whose file is gone)
    #[arg(long)]
    pub purge: bool,
    /// Print the SQL instead of running it (offline); the revision may be a range `FROM:TO`
    #[arg(long)]
    pub sql: bool,
    /// Database kind for --sql when no URL is configured
    #[arg(long, value_enum, requires = "sql")]
    pub dialect: Option<DialectArg>,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub struct RehashArgs {
    /// Applied revisions whose edited files are accepted (default: every edited applied revision)
    pub revisions: Vec<String>,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub struct RepairArgs {
    #[command(flatten)]
    pub connect: ConnectArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Compare with the live database (which must be at head) instead of the migrations
    #[arg(long)]
    pub live: bool,
    /// Compare with the migrations replayed on a scratch database (the default)
    #[arg(long, conflicts_with = "live")]
    pub from_migrations: bool,
    /// Go on when the declared schema is empty or would drop most tables (models not imported?)
    #[arg(long)]
    pub allow_drop_tables: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {}

#[derive(Debug, Args)]
pub struct SquashArgs {
    /// The revision to squash up to (inclusive), e.g. `head` or an id
    #[arg(allow_hyphen_values = true)]
    pub revision: String,
    /// Message of the baseline revision
    #[arg(short, long, default_value = "baseline")]
    pub message: String,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Convert an Alembic project: one .sql revision per Alembic revision, SQL rendered by Alembic itself in
    /// the project's Python, alembix.toml using the project's alembic_version table, then a proof that both
    /// build the same schema
    Alembic(ImportAlembicArgs),
}

#[derive(Debug, Args)]
pub struct ImportAlembicArgs {
    /// The Alembic config (default: alembic.ini, or pyproject.toml with [tool.alembic], in the current directory)
    #[arg(long, value_name = "FILE")]
    pub alembic_config: Option<PathBuf>,
    /// The section of alembic.ini to read (Alembic's -n/--name)
    #[arg(short = 'n', long, value_name = "SECTION")]
    pub name: Option<String>,
    /// The Python that has Alembic and the app installed (default: $VIRTUAL_ENV, ./.venv, python3), e.g. "uv run python"
    #[arg(long, value_name = "CMD")]
    pub python: Option<String>,
    /// Engine to render SQL for (repeatable: one section per engine where they differ); default: the engine of
    /// --url / $DATABASE_URL / sqlalchemy.url, else sqlite
    #[arg(long = "dialect", value_enum, value_name = "ENGINE")]
    pub dialects: Vec<DialectArg>,
    /// A server to replay and prove on, one per engine (repeatable; default: --url, else $DATABASE_URL).
    /// alembix creates and drops scratch databases there
    #[arg(long = "server", value_name = "URL", hide_env_values = true)]
    pub servers: Vec<String>,
    /// Directory for the revision files, relative to the project
    #[arg(long, value_name = "DIR", default_value = "migrations")]
    pub migrations: PathBuf,
    /// Skip the proof (building the schema with alembix and with Alembic and comparing them)
    #[arg(long)]
    pub no_prove: bool,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}
