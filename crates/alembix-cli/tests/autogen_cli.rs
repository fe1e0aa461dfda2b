//! The autogenerate workflow end to end through the binary, on SQLite (no server): edit the declared schema,
//! `revision --autogenerate`, `upgrade head`, `check`, `verify`; and the SQLAlchemy recipe (models printed as
//! DDL by `schema_command`), which needs Python with SQLAlchemy: skipped with a notice when it is missing,
//! unless `ALEMBIX_TEST_REQUIRE_SQLALCHEMY=1` (set by `.ci/run`).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::path::Path;

use common::{code, Project};

fn sqlalchemy_available() -> bool {
    common::python_has("sqlalchemy", "sqlalchemy recipe")
}

fn project_with_schema(schema: &str) -> Project {
    let p = Project::empty();
    p.write(
        "alembix.toml",
        "migrations = \"migrations\"\nurl = \"sqlite:app.db\"\nschema = \"schema.sql\"\n",
    );
    std::fs::create_dir(p.path("migrations")).unwrap();
    p.write("schema.sql", schema);
    p
}

const V1: &str = "CREATE TABLE users (\n    id INTEGER PRIMARY KEY,\n    email VARCHAR(255) NOT NULL UNIQUE\n);\n";
const V2: &str = "CREATE TABLE users (\n    id INTEGER PRIMARY KEY,\n    email VARCHAR(255) NOT NULL UNIQUE,\n    phone VARCHAR(32)\n);\n\
CREATE TABLE posts (\n    id INTEGER PRIMARY KEY,\n    author_id INTEGER NOT NULL REFERENCES users (id),\n    title TEXT NOT NULL\n);\n\
CREATE INDEX ix_posts_author ON posts (author_id);\n";

#[test]
fn autogenerate_upgrade_check_verify_on_sqlite() {
    let p = project_with_schema(V1);
    // Nothing yet: check finds the whole schema missing.
    let (c, out, _) = code(&p, &["check"]);
    assert_eq!(c, 1, "{out}");
    assert!(out.contains("create table users"), "{out}");

    let (c, out, err) = code(
        &p,
        &[
            "revision",
            "--autogenerate",
            "-m",
            "create users",
            "--rev-id",
            "a0000001",
        ],
    );
    assert_eq!(c, 0, "{out}{err}");
    let text = p.read("migrations/a0000001_create_users.sql");
    assert!(text.contains("CREATE TABLE users"), "{text}");
    assert!(text.contains("DROP TABLE users"), "{text}");

    let (c, out, err) = code(&p, &["check"]);
    assert_eq!(c, 0, "{out}{err}");
    assert_eq!(code(&p, &["upgrade", "head"]).0, 0);

    // Against the live database (at head): nothing to do.
    let (c, out, _) = code(&p, &["revision", "--autogenerate", "-m", "nothing"]);
    assert_eq!(c, 0);
    assert!(out.contains("No changes detected"), "{out}");
    assert_eq!(p.files("migrations").len(), 1);

    // Edit the schema: a column and a table with a foreign key and an index.
    p.write("schema.sql", V2);
    let (c, _, _) = code(&p, &["check"]);
    assert_eq!(c, 1);
    let (c, out, err) = code(
        &p,
        &[
            "revision",
            "--autogenerate",
            "-m",
            "posts",
            "--rev-id",
            "a0000002",
        ],
    );
    assert_eq!(c, 0, "{out}{err}");
    let text = p.read("migrations/a0000002_posts.sql");
    assert!(text.contains("phone"), "{text}");
    assert!(text.contains("ix_posts_author"), "{text}");
    assert_eq!(code(&p, &["upgrade", "head"]).0, 0);
    assert_eq!(code(&p, &["check", "--live"]).0, 0);

    let (c, out, err) = code(&p, &["verify"]);
    assert_eq!(c, 0, "{out}{err}");

    // A live database that is not at head is refused.
    assert_eq!(code(&p, &["downgrade", "-1"]).0, 0);
    let (c, _, err) = code(&p, &["revision", "--autogenerate", "-m", "x"]);
    assert_eq!(c, 2);
    assert!(err.contains("Target database is not up to date"), "{err}");
}

#[test]
fn undeclared_rename_is_drop_and_add_with_a_warning_and_a_hint_makes_it_a_rename() {
    let p =
        project_with_schema("CREATE TABLE t (\n    id INTEGER PRIMARY KEY,\n    name TEXT\n);\n");
    assert_eq!(
        code(
            &p,
            &[
                "revision",
                "--autogenerate",
                "-m",
                "init",
                "--rev-id",
                "b0000001"
            ]
        )
        .0,
        0
    );
    p.write(
        "schema.sql",
        "CREATE TABLE t (\n    id INTEGER PRIMARY KEY,\n    full_name TEXT\n);\n",
    );
    let (c, _, err) = code(
        &p,
        &[
            "revision",
            "--autogenerate",
            "-m",
            "guess",
            "--rev-id",
            "b0000002",
            "--from-migrations",
        ],
    );
    assert_eq!(c, 0, "{err}");
    assert!(
        err.contains("warning:") && err.contains("renamed-from"),
        "{err}"
    );
    let text = p.read("migrations/b0000002_guess.sql");
    assert!(text.contains("-- WARNING"), "{text}");
    std::fs::remove_file(p.path("migrations/b0000002_guess.sql")).unwrap();

    p.write(
        "schema.sql",
        "CREATE TABLE t (\n    id INTEGER PRIMARY KEY,\n    -- alembix:renamed-from name\n    full_name TEXT\n);\n",
    );
    let (c, _, err) = code(
        &p,
        &[
            "revision",
            "--autogenerate",
            "-m",
            "rename",
            "--rev-id",
            "b0000003",
            "--from-migrations",
        ],
    );
    assert_eq!(c, 0, "{err}");
    let text = p.read("migrations/b0000003_rename.sql");
    assert!(text.to_uppercase().contains("RENAME COLUMN"), "{text}");
    assert!(!text.contains("-- WARNING"), "{text}");
}

#[test]
fn verify_reports_a_downgrade_that_does_not_undo() {
    let p = Project::with_files(&[(
        "c1_bad.sql",
        "-- bad down\n-- Revision ID: c1\n-- Revises:\n-- migrate:up\nCREATE TABLE t (id INTEGER PRIMARY KEY);\nCREATE TABLE u (id INTEGER);\n-- migrate:down\nDROP TABLE t;\n",
    )]);
    let (c, out, err) = code(&p, &["verify"]);
    assert_eq!(c, 1, "{out}{err}");
    assert!(out.contains("c1") && out.contains("drop table u"), "{out}");
}

#[test]
fn sqlalchemy_models_drive_autogenerate() {
    if !sqlalchemy_available() {
        return;
    }
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/sqlalchemy");
    let p = Project::empty();
    for f in ["models.py", "print_ddl.py", "alembix.toml"] {
        p.write(f, &std::fs::read_to_string(example.join(f)).unwrap());
    }
    std::fs::create_dir(p.path("migrations")).unwrap();
    let (c, out, err) = code(
        &p,
        &[
            "revision",
            "--autogenerate",
            "-m",
            "from models",
            "--rev-id",
            "d0000001",
        ],
    );
    assert_eq!(c, 0, "{out}{err}");
    let text = p.read("migrations/d0000001_from_models.sql");
    assert!(text.contains("users") && text.contains("posts"), "{text}");
    assert_eq!(code(&p, &["check"]).0, 0);
    // A new model column shows up as a change.
    let models = p.read("models.py").replace(
        "    phone_number: Mapped[str | None] = mapped_column(String(32))\n",
        "    phone_number: Mapped[str | None] = mapped_column(String(32))\n    nickname: Mapped[str | None] = mapped_column(String(50))\n",
    );
    p.write("models.py", &models);
    let (c, out, _) = code(&p, &["check"]);
    assert_eq!(c, 1, "{out}");
    assert!(out.contains("nickname"), "{out}");
}

#[test]
fn history_and_show_resolve_current_from_the_database() {
    let p = project_with_schema(V1);
    for (id, msg) in [
        ("e0000001", "one"),
        ("e0000002", "two"),
        ("e0000003", "three"),
    ] {
        assert_eq!(code(&p, &["revision", "-m", msg, "--rev-id", id]).0, 0);
    }
    assert_eq!(code(&p, &["upgrade", "e0000002"]).0, 0);
    let (c, out, err) = code(&p, &["history", "-r", "current:"]);
    assert_eq!(c, 0, "{err}");
    assert!(
        out.contains("e0000002") && out.contains("e0000003") && !out.contains("<base>"),
        "{out}"
    );
    let (c, out, _) = code(&p, &["history", "-r", ":current"]);
    assert_eq!(c, 0);
    assert!(!out.contains("e0000003"), "{out}");
    let (c, out, _) = code(&p, &["show", "current"]);
    assert_eq!(c, 0);
    assert!(out.starts_with("Rev: e0000002"), "{out}");
}

#[test]
fn a_configured_dev_database_is_emptied_after_each_use() {
    let p = project_with_schema(V1);
    p.write(
        "alembix.toml",
        "migrations = \"migrations\"\nurl = \"sqlite:app.db\"\nschema = \"schema.sql\"\ndev_url = \"sqlite:dev.db\"\n",
    );
    assert_eq!(
        code(
            &p,
            &[
                "revision",
                "--autogenerate",
                "-m",
                "init",
                "--rev-id",
                "f0000001",
                "--from-migrations"
            ]
        )
        .0,
        0
    );
    // check replays the migrations and builds the declared schema on the same dev database, twice in a row.
    for _ in 0..2 {
        let (c, out, err) = code(&p, &["check"]);
        assert_eq!(c, 0, "{out}{err}");
    }
    assert_eq!(code(&p, &["verify"]).0, 0);
    let (c, out, _) = code(&p, &["--url", "sqlite:dev.db", "current"]);
    assert_eq!(c, 0);
    assert!(
        out.is_empty(),
        "the dev database still has a version table: {out}"
    );
}

/// At a terminal, a drop and an add that look like a rename are asked about; `script` gives the run a
/// pseudo-terminal and types the answer.
#[test]
fn at_a_terminal_a_possible_rename_is_asked() {
    let has_script = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_script {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED rename question: `script` (util-linux) is not installed"
        );
        return;
    }
    let p =
        project_with_schema("CREATE TABLE t (\n    id INTEGER PRIMARY KEY,\n    name TEXT\n);\n");
    assert_eq!(
        code(
            &p,
            &[
                "revision",
                "--autogenerate",
                "-m",
                "init",
                "--rev-id",
                "g0000001"
            ]
        )
        .0,
        0
    );
    p.write(
        "schema.sql",
        "CREATE TABLE t (\n    id INTEGER PRIMARY KEY,\n    full_name TEXT\n);\n",
    );
    for (answer, id, expect_rename) in [("n", "g0000002", false), ("y", "g0000003", true)] {
        let cmd = format!(
            "{} revision --autogenerate -m answer --rev-id {id} --from-migrations",
            common::BIN
        );
        let mut child = std::process::Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .current_dir(p.dir.path())
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{answer}\n").as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{shown}");
        assert!(
            shown.contains("Was column t.name -> t.full_name a rename?"),
            "{shown}"
        );
        let text = p.read(&format!("migrations/{id}_answer.sql"));
        assert_eq!(
            text.contains("RENAME COLUMN name TO full_name"),
            expect_rename,
            "{text}"
        );
        std::fs::remove_file(p.path(&format!("migrations/{id}_answer.sql"))).unwrap();
    }
}

/// Drops the test's role and what it owns, even when the test fails.
struct RoleGuard {
    admin: String,
    role: String,
}

impl Drop for RoleGuard {
    fn drop(&mut self) {
        let owned = common::db::try_query(
            &self.admin,
            &format!(
                "SELECT d.datname::text FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba \
                 WHERE r.rolname = '{}'",
                self.role
            ),
        )
        .unwrap_or_default();
        for row in owned {
            if let Some(Some(name)) = row.into_iter().next() {
                let _ = common::db::try_execute(
                    &self.admin,
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                );
            }
        }
        let _ = common::db::try_execute(&self.admin, &format!("DROP ROLE IF EXISTS {}", self.role));
    }
}

/// PostgreSQL: a temporary scratch database cost a `CREATE DATABASE` (the template copied and synced) at the
/// start of every `verify`, `import` and statement-by-statement build. A run now claims the empty spare the
/// last run left, by renaming it, and makes the next one while it works; a spare with anything in it is not
/// used. The test runs as a role of its own, so that no other test shares its spare.
#[test]
fn postgres_runs_claim_the_spare_scratch_database_and_leave_one() {
    let Some(db) = common::db::TestDb::create(common::db::Engine::Postgres, "spare_scratch") else {
        return;
    };
    let admin = db.url.clone();
    let role = format!(
        "alembix_t_spare_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000_000
    );
    common::db::try_execute(&admin, &format!("CREATE ROLE {role} LOGIN CREATEDB")).unwrap();
    let _guard = RoleGuard {
        admin: admin.clone(),
        role: role.clone(),
    };
    let (scheme, rest) = admin.split_once("://").unwrap();
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let url = format!("{scheme}://{role}@{host}");
    let p = Project::empty();
    p.write(
        "alembix.toml",
        &format!("migrations = \"migrations\"\nurl = \"{url}\"\n"),
    );
    std::fs::create_dir(p.path("migrations")).unwrap();
    p.write(
        "migrations/a1_t.sql",
        "-- t\n--\n-- Revision ID: a1\n-- Revises:\n\n-- migrate:up\nCREATE TABLE t (id INT PRIMARY KEY);\n\n\
         -- migrate:down\nDROP TABLE t;\n",
    );
    // The regular way only: one scratch database per run (a temporary-schema pass that is not conclusive
    // makes a second).
    let verify_regular = |p: &Project| {
        let out = p
            .cmd(&["verify"])
            .env("ALEMBIX_NO_TEMP_BUILD", "1")
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let spare = format!("alembix_spare_{role}");
    let spare_oid = || -> Option<String> {
        let rows = common::db::try_query(
            &admin,
            &format!("SELECT oid::text FROM pg_database WHERE datname = '{spare}'"),
        )
        .unwrap();
        rows.into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten())
    };
    let databases_of_role = || -> Vec<String> {
        let rows = common::db::try_query(
            &admin,
            &format!(
                "SELECT d.datname::text FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba \
                 WHERE r.rolname = '{role}' ORDER BY 1"
            ),
        )
        .unwrap();
        rows.into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect()
    };
    let exists = |oid: &str| -> bool {
        !common::db::try_query(
            &admin,
            &format!("SELECT 'yes' FROM pg_database WHERE oid = {oid}"),
        )
        .unwrap()
        .is_empty()
    };
    // A run does not wait for its scratch database's `DROP DATABASE`: the server finishes it just after.
    let soon = |what: &str, done: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !done() {
            assert!(std::time::Instant::now() < deadline, "{what}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };

    let (c, out, err) = verify_regular(&p);
    assert_eq!(c, 0, "{out}{err}");
    let first = spare_oid().expect("the run left no spare scratch database");
    soon(
        "the run's scratch database is still there a minute later",
        &|| databases_of_role() == vec![spare.clone()],
    );

    // The next run uses that spare (it is gone, not just still there) and leaves a new one.
    let (c, out, err) = verify_regular(&p);
    assert_eq!(c, 0, "{out}{err}");
    let second = spare_oid().expect("the second run left no spare");
    assert_ne!(first, second);
    soon("the first spare was not used", &|| !exists(&first));
    soon("the second run's scratch database is still there", &|| {
        databases_of_role() == vec![spare.clone()]
    });

    // Something in the spare: it is not used for a scratch build, and not left behind.
    let spare_url = common::db::with_database(&admin, &spare);
    common::db::try_execute(&spare_url, "CREATE TABLE left_behind (x INT)").unwrap();
    let (c, out, err) = verify_regular(&p);
    assert_eq!(c, 0, "{out}{err}");
    soon("the spare with a table in it was kept", &|| {
        !exists(&second)
    });
    let third = spare_oid().expect("no spare after a dirty one");
    assert_ne!(third, second);
    let left = common::db::try_query(
        &spare_url,
        "SELECT count(*)::text FROM pg_tables WHERE schemaname = 'public'",
    )
    .unwrap();
    assert_eq!(left[0][0].as_deref(), Some("0"));
    soon("the third run's scratch database is still there", &|| {
        databases_of_role() == vec![spare.clone()]
    });
}

/// PostgreSQL: `verify` runs the stairway first in the session's temporary schema (no WAL, no file syncs).
/// Only a clean pass with nothing created outside that schema is taken from there; a statement that cannot
/// run in it (an unlogged table), an object qualified with another schema, or a finding send the whole run
/// again through the regular schema of a fresh scratch database, whose verdict is the one reported.
#[test]
fn postgres_verify_passes_in_the_temporary_schema_or_runs_again_outside_it() {
    let Some(db) = common::db::TestDb::create(common::db::Engine::Postgres, "verify_temp") else {
        return;
    };
    let project = |revisions: &[(&str, &str, &str)]| {
        let p = Project::empty();
        p.write(
            "alembix.toml",
            &format!("migrations = \"migrations\"\nurl = \"{}\"\n", db.url),
        );
        std::fs::create_dir(p.path("migrations")).unwrap();
        let mut parent = String::new();
        for (id, up, down) in revisions {
            p.write(
                &format!("migrations/{id}_r.sql"),
                &format!(
                    "-- r\n--\n-- Revision ID: {id}\n-- Revises: {parent}\n\n-- migrate:up\n{up}\n\n\
                     -- migrate:down\n{down}\n"
                ),
            );
            parent = id.to_string();
        }
        p
    };
    const AGAIN: &str = "again, outside the temporary schema";
    let plain = (
        "a1",
        "CREATE TYPE mood AS ENUM ('ok', 'sad');\nCREATE TABLE t (id SERIAL PRIMARY KEY, m mood, \
         u UUID DEFAULT gen_random_uuid());\nCREATE INDEX ix_t_m ON t (m);",
        "DROP TABLE t;\nDROP TYPE mood;",
    );

    // Everything runs in the temporary schema: one pass.
    let (c, out, err) = code(&project(&[plain]), &["verify"]);
    assert_eq!(c, 0, "{out}{err}");
    assert!(!err.contains(AGAIN), "{err}");

    // Each of these passes only the regular way: an unlogged table cannot be temporary (the pass there
    // fails), and a table put in `public` by name leaves the temporary schema (a downgrade that drops it
    // would hide that at the end: it is caught after the step).
    for (why, second) in [
        (
            "an unlogged table",
            (
                "a2",
                "CREATE UNLOGGED TABLE cache (k TEXT PRIMARY KEY);",
                "DROP TABLE cache;",
            ),
        ),
        (
            "a table in public",
            (
                "a2",
                "CREATE TABLE public.audit (id INT PRIMARY KEY);",
                "DROP TABLE public.audit;",
            ),
        ),
    ] {
        let (c, out, err) = code(&project(&[plain, second]), &["verify"]);
        assert_eq!(c, 0, "{why}: {out}{err}");
        assert!(err.contains(AGAIN), "{why}: {err}");
    }
    // What escaped went with its scratch database: not into the one `check --live` keeps, where every
    // later build would find it (the first version of this change put it there).
    let kept = common::db::with_database(&db.url, "alembix_scratch_postgres");
    if let Ok(rows) = common::db::try_query(
        &kept,
        "SELECT count(*)::text FROM pg_catalog.pg_tables WHERE schemaname = 'public' AND tablename = 'audit'",
    ) {
        assert_eq!(rows[0][0].as_deref(), Some("0"));
    }

    // A real finding is confirmed by the regular run and reported once.
    let bad = (
        "a2",
        "CREATE TABLE u (id INT PRIMARY KEY);\nCREATE TABLE w (id INT);",
        "DROP TABLE u;",
    );
    let (c, out, err) = code(&project(&[plain, bad]), &["verify"]);
    assert_eq!(c, 1, "{out}{err}");
    assert!(err.contains(AGAIN), "{err}");
    assert!(
        out.contains("a2")
            && out.contains("drop table w")
            && out.matches("failed verification").count() == 1,
        "{out}"
    );
}
