//! A project on disk: its config and its migrations directory, loaded into a revision graph, and the
//! operations that write files (`init`, new revisions, merges).

use std::path::{Path, PathBuf};

use crate::config::{self, Config};
use crate::error::{Error, Result};
use crate::graph::{Rev, RevisionGraph, Target};
use crate::script::{self, NewScript, Script};

/// Load every revision file of the configured migrations directory and validate the graph.
pub fn load_graph(config: &Config) -> Result<RevisionGraph> {
    load_graph_with(config, script::load_dir)
}

/// [`load_graph`] for commands that need only the graph and the headers (`heads`, `history`, `current`,
/// ...): unchanged files' headers come from the header index (see [`script::load_dir_headers`]), and a
/// script's body is read when it is asked for.
pub fn load_graph_headers(config: &Config) -> Result<RevisionGraph> {
    load_graph_with(config, script::load_dir_headers)
}

fn load_graph_with(
    config: &Config,
    load: fn(&Path) -> Result<Vec<Script>>,
) -> Result<RevisionGraph> {
    if config.path.is_none() && !config.migrations.is_dir() {
        return Err(no_project(&config.root));
    }
    let scripts = load(&config.migrations)?;
    if scripts.is_empty() {
        let python = python_revisions(&config.migrations);
        if python > 0 {
            return Err(Error::Usage(format!(
                "{} holds {python} Python file(s) and no .sql revision: alembix reads `.sql` revisions only. \
                 If this is an Alembic versions directory, convert the project with `alembix import alembic`",
                config.migrations.display()
            )));
        }
    }
    Ok(RevisionGraph::new(scripts)?)
}

/// The error for a directory with no alembix project, saying what was looked for and what to do.
pub fn no_project(dir: &Path) -> Error {
    let hint = match alembic_project(dir) {
        Some(found) => format!(
            "{} is an Alembic project: convert it with `alembix import alembic` (keeps its revision ids \
             and its alembic_version table)",
            found.display()
        ),
        None => "run `alembix init` to create a project, or pass --config".to_string(),
    };
    Error::Usage(format!("{}; {hint}", config::searched_description(dir)))
}

/// The Alembic config of a project in `dir` or its parents, if there is one (`alembic.ini`, or
/// `pyproject.toml` with `[tool.alembic]`).
pub fn alembic_project(dir: &Path) -> Option<PathBuf> {
    let abs = std::path::absolute(dir).ok()?;
    for d in abs.ancestors() {
        if let Some(found) = alembic_config_in(d) {
            return Some(found);
        }
        if d.join(config::CONFIG_FILE).is_file() || d.join(".git").exists() {
            break;
        }
    }
    None
}

/// The Alembic config in `dir` itself: `alembic.ini`, else `pyproject.toml` with `[tool.alembic]`.
pub fn alembic_config_in(dir: &Path) -> Option<PathBuf> {
    let ini = dir.join("alembic.ini");
    if ini.is_file() {
        return Some(ini);
    }
    let py = dir.join(config::PYPROJECT_FILE);
    std::fs::read_to_string(&py)
        .is_ok_and(|t| t.contains("[tool.alembic]"))
        .then_some(py)
}

/// How many `*.py` files other than `__init__.py` a directory holds.
fn python_revisions(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(|e| e.ok())
            .filter(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.ends_with(".py") && name != "__init__.py" && !name.starts_with('.')
            })
            .count()
    })
}

/// What `revision` should create.
#[derive(Debug, Clone, Default)]
pub struct RevisionRequest {
    pub message: String,
    /// Where to attach: `None` = the single head; `base` = a new root; otherwise an expression naming a head
    /// (or any revision with `splice`).
    pub head: Option<String>,
    /// Allow `head` to name a revision that is not a head (creates a branch).
    pub splice: bool,
    pub branch_labels: Vec<String>,
    pub depends_on: Vec<String>,
    pub rev_id: Option<String>,
    /// Several parents: a merge. When set, `head` and `splice` are ignored.
    pub merge_of: Option<Vec<String>>,
    pub transactional: bool,
    pub up: String,
    pub down: String,
}

impl RevisionRequest {
    pub fn new(message: impl Into<String>) -> RevisionRequest {
        RevisionRequest {
            message: message.into(),
            transactional: true,
            ..RevisionRequest::default()
        }
    }
}

/// Create a revision file in the migrations directory. Returns the parsed new script.
pub fn create_revision(
    config: &Config,
    graph: &RevisionGraph,
    req: &RevisionRequest,
) -> Result<Script> {
    let parents = parents_for(graph, req)?;
    let revision = match &req.rev_id {
        Some(id) => {
            script::validate_identifier(id, "revision id").map_err(Error::Usage)?;
            if graph.get(id).is_some() {
                return Err(Error::Usage(format!("revision id {id} already exists")));
            }
            id.clone()
        }
        None => loop {
            let id = script::new_revision_id();
            if graph.get(&id).is_none() {
                break id;
            }
        },
    };
    for label in &req.branch_labels {
        script::validate_identifier(label, "branch label").map_err(Error::Usage)?;
        if graph.label_members(label).is_some() {
            return Err(Error::Usage(format!(
                "branch label `{label}` is already used"
            )));
        }
    }
    let mut depends_on = Vec::new();
    for d in &req.depends_on {
        let r = graph.resolve_one(d, None)?;
        depends_on.push(graph.id(r).to_string());
    }
    let now = time::OffsetDateTime::now_utc();
    let create_date = now
        .format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]+00:00"
        ))
        .map_err(|e| Error::Usage(format!("cannot format the date: {e}")))?;
    let new = NewScript {
        revision: revision.clone(),
        down_revisions: parents,
        message: req.message.clone(),
        create_date,
        branch_labels: req.branch_labels.clone(),
        depends_on,
        transactional: req.transactional,
        up: req.up.clone(),
        down: req.down.clone(),
        x: config.x_args.iter().cloned().collect(),
    };
    let name = script::file_name(&config.file_template, &revision, &req.message, now);
    let path = config.migrations.join(&name);
    let template = match config.script_template_path() {
        Some(p) => Some(std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?),
        None => None,
    };
    let (text, parsed) = script::render(&new, template.as_deref(), &path).map_err(Error::Usage)?;
    if !config.migrations.is_dir() {
        return Err(Error::Usage(format!(
            "migrations directory {} does not exist; run `alembix init` first",
            config.migrations.display()
        )));
    }
    write_new(&path, &text)?;
    Ok(parsed)
}

/// The parents of a new revision, per Alembic's rules for `--head` and `--splice`.
fn parents_for(graph: &RevisionGraph, req: &RevisionRequest) -> Result<Vec<String>> {
    if let Some(revs) = &req.merge_of {
        let mut parents: Vec<Rev> = Vec::new();
        for expr in revs {
            for r in graph.resolve(expr, None)?.revisions() {
                if !parents.contains(r) {
                    parents.push(*r);
                }
            }
        }
        if parents.len() < 2 {
            return Err(Error::Usage(format!(
                "a merge needs at least two revisions; {} resolved to {}",
                revs.join(" "),
                graph.ids(&parents).join(", ")
            )));
        }
        // Merging a revision with its own ancestor would create a redundant edge. Ancestry here follows
        // `Revises` only: a `Depends On` edge orders two lines without joining them (both stay heads), and
        // joining such heads is exactly what a merge is for.
        for &a in &parents {
            let anc = revises_ancestors(graph, a);
            if let Some(&b) = parents.iter().find(|&&b| b != a && anc[b.index()]) {
                return Err(Error::Usage(format!(
                    "{} is already an ancestor of {}; there is nothing to merge",
                    graph.id(b),
                    graph.id(a)
                )));
            }
        }
        // As in Alembic: a merge joins heads; joining a revision that already has children needs --splice.
        if !req.splice {
            if let Some(&r) = parents.iter().find(|&&r| !graph.is_head(r)) {
                return Err(Error::Usage(format!(
                    "revision {} is not a head; pass --splice to merge it anyway",
                    graph.id(r)
                )));
            }
        }
        graph.sort_topological(&mut parents);
        return Ok(graph.ids(&parents));
    }
    match req.head.as_deref() {
        Some("base") => Ok(Vec::new()),
        None | Some("head") if graph.heads().len() > 1 => Err(Error::Usage(format!(
            "there are {} heads ({}); choose one with `--head REV` (or `LABEL@head`), or join them first with \
             `alembix merge heads -m \"merge\"`",
            graph.heads().len(),
            graph.ids(graph.heads()).join(", ")
        ))),
        None | Some("head") => Ok(graph.ids(graph.heads())),
        Some(expr) => {
            let target = graph.resolve(expr, None)?;
            let revs = match &target {
                Target::Base => return Ok(Vec::new()),
                t => t.revisions().to_vec(),
            };
            for r in &revs {
                if !graph.is_head(*r) && !req.splice {
                    return Err(Error::Usage(format!(
                        "revision {} is not a head; pass --splice to start a new branch from it",
                        graph.id(*r)
                    )));
                }
            }
            if revs.len() > 1 {
                return Err(Error::Usage(format!(
                    "`{expr}` names {} revisions ({}); a new revision has one parent (use `merge` to join heads)",
                    revs.len(),
                    graph.ids(&revs).join(", ")
                )));
            }
            Ok(graph.ids(&revs))
        }
    }
}

/// `r` and its ancestors along `Revises` edges (not `Depends On`), as a membership mask.
fn revises_ancestors(graph: &RevisionGraph, r: Rev) -> Vec<bool> {
    let mut mask = vec![false; graph.len()];
    let mut stack = vec![r];
    mask[r.index()] = true;
    while let Some(cur) = stack.pop() {
        for &p in graph.parents(cur) {
            if !mask[p.index()] {
                mask[p.index()] = true;
                stack.push(p);
            }
        }
    }
    mask
}

/// Write a file that must not exist yet.
fn write_new(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::Usage(format!(
                    "{} already exists; not overwriting it",
                    path.display()
                ))
            } else {
                Error::io(path, e)
            }
        })?;
    f.write_all(text.as_bytes()).map_err(|e| Error::io(path, e))
}

/// Files created by `init`.
#[derive(Debug)]
pub struct InitReport {
    pub created: Vec<PathBuf>,
}

/// What `init` should write.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// SQLAlchemy models as the declared schema (`app.models:Base`) instead of an example `schema.sql`.
    pub models: Option<String>,
    /// Go on beside an Alembic project (the new project gets its own version table).
    pub force: bool,
}

/// Scaffold a project in `dir`: `alembix.toml`, `migrations/` with the script template, and `schema.sql`
/// (or `models = ...`). Refuses to touch a directory that already has any of them, and to start a second
/// history beside an Alembic project, which `alembix import alembic` converts instead.
pub fn init(dir: &Path, opts: &InitOptions) -> Result<InitReport> {
    if !opts.force {
        if let Some(found) = alembic_project(dir) {
            return Err(Error::Usage(format!(
                "{} belongs to an Alembic project. `init` would start a second, empty history with its own \
                 version table, and `upgrade head` would then try to create tables that already exist. Convert \
                 the Alembic project instead: `alembix import alembic` (same revision ids, same alembic_version \
                 table). Pass --force to create a separate project anyway",
                found.display()
            )));
        }
    }
    let config_path = dir.join(config::CONFIG_FILE);
    let migrations = dir.join("migrations");
    let template = migrations.join(config::SCRIPT_TEMPLATE_FILE);
    let schema = dir.join("schema.sql");
    let mut wanted = vec![&config_path, &migrations];
    if opts.models.is_none() {
        wanted.push(&schema);
    }
    let existing: Vec<String> = wanted
        .iter()
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        return Err(Error::Usage(format!(
            "{} already exist(s); `init` does not overwrite anything",
            existing.join(", ")
        )));
    }
    std::fs::create_dir_all(&migrations).map_err(|e| Error::io(&migrations, e))?;
    let text = match &opts.models {
        Some(models) => config::default_config_text().replace(
            "schema = \"schema.sql\"\n# Or a command that prints DDL, e.g. from SQLAlchemy models:\n# schema_command = \"python -m myapp.print_ddl\"\n",
            &format!(
                "models = {}\n# How to run the project's Python (default: $VIRTUAL_ENV, then .venv, then python3):\n# python = \"uv run python\"\n",
                toml_string(models)
            ),
        ),
        None => config::default_config_text().to_string(),
    };
    write_new(&config_path, &text)?;
    write_new(&template, script::DEFAULT_TEMPLATE)?;
    let mut created = vec![config_path, migrations, template];
    if opts.models.is_none() {
        write_new(
            &schema,
            "-- The desired schema. `alembix revision --autogenerate` compares the database with it.\n\n\
             CREATE TABLE users (\n    id INTEGER PRIMARY KEY,\n    email VARCHAR(255) NOT NULL UNIQUE\n);\n",
        )?;
        created.push(schema);
    }
    Ok(InitReport { created })
}

/// A TOML basic string.
pub fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}
