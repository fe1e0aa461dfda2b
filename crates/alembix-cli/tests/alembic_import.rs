//! `alembix import alembic` on a realistic Alembic project (tests/fixtures/alembic_project: 23 revisions,
//! batch mode, a native enum, a branch and a merge, depends_on, a revision that inspects the database, a data
//! migration, an irreversible and two empty downgrades), on SQLite, PostgreSQL and MariaDB, with real Alembic:
//! the schemas built by alembix and by Alembic are identical, a database Alembic migrated half-way is finished
//! by alembix and brought back down, and the data migration is flagged. Needs python3 with Alembic and
//! SQLAlchemy (plus psycopg2 and PyMySQL for the servers): skipped with a notice when missing, unless
//! `ALEMBIX_TEST_REQUIRE_SQLALCHEMY=1` (set by `.ci/run`).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::db::{Engine, TestDb};
use common::{copy_dir, Project};

fn alembic_available() -> bool {
    common::python_has(
        "alembic, sqlalchemy, psycopg2, pymysql",
        "alembic import tests",
    )
}

const DATA_MIGRATION: &str = "3680b23eee7f";
const IRREVERSIBLE: &str = "ec5c849ec9b3";
/// Where Alembic leaves the database before alembix takes over (revision 10 of 23).
const HALF_WAY: &str = "5f886d669e42";
const HEAD: &str = "a27bddc76fcc";

fn alembic_project() -> Project {
    let p = Project::empty();
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/alembic_project"),
        p.dir.path(),
    );
    p
}

fn run(p: &Project, args: &[&str], url: Option<&str>) -> (i32, String, String) {
    let mut cmd = p.cmd(args);
    cmd.env("ALEMBIX_NO_CACHE", "1").env_remove("VIRTUAL_ENV");
    if let Some(u) = url {
        cmd.env("DATABASE_URL", u);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The same database as a SQLAlchemy URL, for Alembic.
fn sqlalchemy_url(db: &TestDb) -> String {
    match db.engine {
        Engine::Sqlite => format!("sqlite:///{}", db.url.trim_start_matches("sqlite:")),
        Engine::Postgres => db.url.replacen("postgres://", "postgresql://", 1),
        Engine::Mysql => db.url.replacen("mysql://", "mysql+pymysql://", 1),
    }
}

fn alembic(p: &Project, db: &TestDb, args: &[&str]) {
    let out = std::process::Command::new("python3")
        .args(["-m", "alembic", "-c", "alembic.ini"])
        .args(args)
        .current_dir(p.dir.path())
        .env("DATABASE_URL", sqlalchemy_url(db))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "alembic {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn dialect(engine: Engine) -> &'static str {
    match engine {
        Engine::Postgres => "postgresql",
        Engine::Mysql => "mysql",
        Engine::Sqlite => "sqlite",
    }
}

fn import_then_continue(engine: Engine) {
    if !alembic_available() {
        return;
    }
    // The import's own scratch databases are made on this server (or in memory for SQLite).
    let Some(server) = TestDb::create(engine, "import_scratch") else {
        return;
    };
    let p = alembic_project();
    let mut args = vec!["import", "alembic", "--dialect", dialect(engine)];
    if engine != Engine::Sqlite {
        args.extend(["--server", &server.url]);
    }
    let (c, out, err) = run(&p, &args, None);
    // Exit 1: the data migration waits for review.
    assert_eq!(c, 1, "{out}{err}");
    assert!(out.contains("Converted 23 Alembic revision(s)"), "{out}");
    assert!(
        out.contains("after upgrade heads: identical"),
        "the schemas differ:\n{out}{err}"
    );
    assert!(
        out.contains(&format!("after downgrade {IRREVERSIBLE}: identical")),
        "the downgraded schemas differ:\n{out}{err}"
    );
    assert!(out.contains("1 revision(s) need review"), "{out}");
    assert!(out.contains(DATA_MIGRATION), "{out}");
    assert!(
        out.contains(&format!(
            "irreversible (downgrade() raises or is missing; no down section): {IRREVERSIBLE}"
        )),
        "{out}"
    );
    let config = p.read("alembix.toml");
    assert!(
        config.contains("version_table = \"alembic_version\""),
        "{config}"
    );
    assert_eq!(p.files("migrations").len(), 23);

    // The data migration is flagged in its file, with the original Python quoted.
    let flagged = p
        .files("migrations")
        .into_iter()
        .find(|f| f.contains(DATA_MIGRATION))
        .unwrap();
    let text = p.read(&flagged);
    assert!(
        text.contains("-- Review: upgrade() depends on the data"),
        "{text}"
    );
    assert!(text.contains("--   def upgrade()"), "{text}");

    // A database that Alembic migrated half-way.
    let db = TestDb::create(engine, "import_half_way").unwrap();
    alembic(&p, &db, &["upgrade", HALF_WAY]);
    let url = Some(db.url.as_str());
    let (c, out, err) = run(&p, &["current"], url);
    assert_eq!(c, 0, "{out}{err}");
    assert!(out.contains(HALF_WAY), "{out}");

    // Going on runs into the data migration, which waits for a person: nothing runs.
    let (c, _, err) = run(&p, &["upgrade", "head"], url);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("needs review before it runs"), "{err}");
    // The first run adopted what Alembic had applied (recorded, not run).
    assert!(err.contains("adopted its 10 applied revision(s)"), "{err}");
    let (_, out, _) = run(&p, &["current"], url);
    assert!(out.contains(HALF_WAY), "{out}");

    // Reviewed: the documented way is to delete the Review line.
    let reviewed: String = text
        .lines()
        .filter(|l| !l.starts_with("-- Review:"))
        .map(|l| format!("{l}\n"))
        .collect();
    p.write(&flagged, &reviewed);
    let (c, out, err) = run(&p, &["upgrade", "head"], url);
    assert_eq!(c, 0, "{out}{err}");
    assert!(!err.contains("adopted"), "adopted twice: {err}");
    let (c, out, err) = run(&p, &["current", "--check-heads"], url);
    assert_eq!(c, 0, "{out}{err}");
    assert!(out.contains(HEAD), "{out}");

    // And back down, through the merge and the branches, to the irreversible revision.
    let (c, out, err) = run(&p, &["downgrade", "-1"], url);
    assert_eq!(c, 0, "{out}{err}");
    let (c, out, err) = run(&p, &["downgrade", IRREVERSIBLE], url);
    assert_eq!(c, 0, "{out}{err}");
    let (c, _, err) = run(&p, &["downgrade", "base"], url);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("is irreversible: downgrade() raises"), "{err}");
    // Alembic itself agrees on where the database is, and can take it up again.
    alembic(&p, &db, &["upgrade", "head"]);
    let (_, out, _) = run(&p, &["current"], url);
    assert!(out.contains(HEAD), "{out}");
}

#[test]
fn import_and_continue_on_sqlite() {
    import_then_continue(Engine::Sqlite);
}

#[test]
fn import_and_continue_on_postgres() {
    import_then_continue(Engine::Postgres);
}

#[test]
fn import_and_continue_on_mysql() {
    import_then_continue(Engine::Mysql);
}

/// Python uses a revision's .pyc when it records the source's size and mtime in whole seconds: an edit that
/// keeps the size, made in the second the .pyc was written, must still be what is converted.
#[test]
fn an_edit_in_the_second_its_bytecode_was_written_is_converted() {
    if !alembic_available() {
        return;
    }
    let p = alembic_project();
    common::edit_in_the_second_of_its_bytecode(
        p.dir.path(),
        "alembic/versions/2d57c4b42d38_create_tags.py",
        "sa.String(length=40)",
        "sa.String(length=48)",
    );

    let (c, out, err) = run(&p, &["import", "alembic", "--dialect", "sqlite"], None);
    assert_eq!(c, 1, "{out}{err}");
    let converted = p
        .files("migrations")
        .into_iter()
        .find(|f| f.contains("2d57c4b42d38"))
        .unwrap();
    let sql = p.read(&converted);
    assert!(sql.contains("VARCHAR(48)"), "{sql}");
}

#[test]
fn several_engines_in_one_file_where_their_sql_differs() {
    if !alembic_available() {
        return;
    }
    let p = alembic_project();
    let (c, out, err) = run(
        &p,
        &[
            "import",
            "alembic",
            "--dialect",
            "sqlite",
            "--dialect",
            "postgresql",
            "--no-prove",
        ],
        None,
    );
    assert_eq!(c, 1, "{out}{err}");
    let orders = p
        .files("migrations")
        .into_iter()
        .find(|f| f.contains("408572defe75"))
        .unwrap();
    let text = p.read(&orders);
    assert!(text.contains("-- migrate:up postgresql"), "{text}");
    assert!(text.contains("-- migrate:up sqlite"), "{text}");
    assert!(text.contains("CREATE TYPE order_status"), "{text}");
    assert!(p
        .read("alembix.toml")
        .contains("dialects = [\"sqlite\", \"postgresql\"]"));
    // Without a PostgreSQL server, what needs a replay there is said, not hidden.
    assert!(out.contains("no postgresql server was given"), "{out}");
}

#[test]
fn import_refuses_to_overwrite_and_explains_a_missing_project() {
    let p = Project::empty();
    let (c, _, err) = run(&p, &["import", "alembic"], None);
    assert_eq!(c, 2);
    assert!(err.contains("no alembic.ini"), "{err}");
    let p = alembic_project();
    p.write("alembix.toml", "migrations = \"m\"\n");
    let (c, _, err) = run(&p, &["import", "alembic"], None);
    assert_eq!(c, 2);
    assert!(err.contains("alembix.toml already exists"), "{err}");
}
