//! Autogenerate that settles: right after `upgrade head` of a generated revision, `check` finds nothing.
//! Each case failed before its fix.
#![allow(clippy::unwrap_used)]

mod common;

use common::db::{Engine, TestDb};
use common::Project;

/// A project whose declared schema is `schema.sql`, with an empty migrations directory; `extra` goes at
/// the end of `alembix.toml`.
fn schema_project(extra: &str) -> Project {
    let p = Project::empty();
    p.write(
        "alembix.toml",
        &format!("migrations = \"migrations\"\nschema = \"schema.sql\"\n{extra}"),
    );
    std::fs::create_dir(p.path("migrations")).unwrap();
    p
}

/// `alembix ARGS` in `p` with the schema cache off (every run builds its scratch database).
fn cold(p: &Project, args: &[&str]) -> std::process::Output {
    p.cmd(args).env("ALEMBIX_NO_CACHE", "1").output().unwrap()
}

/// PostgreSQL prints `CHECK (stage IN ('active','deleted'))` on a varchar column differently after one more
/// round (the casts move), so `check` proposed to drop and re-add it forever.
#[test]
fn a_postgres_check_with_an_in_list_settles() {
    let Some(db) = TestDb::create(Engine::Postgres, "check_in_list") else {
        return;
    };
    let p = schema_project("");
    p.write(
        "schema.sql",
        "CREATE TABLE runs (\n    id INTEGER PRIMARY KEY,\n    stage VARCHAR(20) NOT NULL,\n    \
         CONSTRAINT runs_stage CHECK (stage IN ('active', 'deleted'))\n);\n\
         CREATE TABLE tags (\n    id INTEGER PRIMARY KEY,\n    kind VARCHAR(10) CHECK (kind IN ('a', 'b', 'c'))\n);\n",
    );
    let url = db.url.as_str();
    let run = |args: &[&str]| {
        let out = cold(&p, &[&["--url", url][..], args].concat());
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (c, out) = run(&["revision", "--autogenerate", "-m", "init"]);
    assert_eq!(c, 0, "{out}");
    p.ok(&["--url", url, "upgrade", "head"]);
    let (c, out) = run(&["check", "--live"]);
    assert_eq!(c, 0, "{out}");
    let (c, out) = run(&["check"]);
    assert_eq!(c, 0, "{out}");
    let (c, out) = run(&["revision", "--autogenerate", "-m", "again"]);
    assert_eq!((c, out.trim()), (0, "No changes detected"));
}

/// A server restart during autogenerate left `alembix_dev_*` scratch databases behind; a later run removes
/// those no live run owns (old, and nobody connected), and leaves a recent one alone.
fn abandoned_scratch_databases_are_removed(engine: Engine) {
    let Some(db) = TestDb::create(engine, "scratch_cleanup") else {
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let old = "alembix_dev_1000_0123456789ab".to_string();
    let fresh = format!("alembix_dev_{now}_ba9876543210");
    let server = std::env::var(engine.env_var().unwrap()).unwrap();
    for name in [&old, &fresh] {
        common::db::try_execute(&server, &format!("CREATE DATABASE {name}")).unwrap();
    }
    let p = schema_project("");
    p.write("schema.sql", "CREATE TABLE t (id INTEGER PRIMARY KEY);\n");
    let out = cold(&p, &["--url", &db.url, "check", "--live"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::render(&out));
    let list = match engine {
        Engine::Postgres => "SELECT datname::text FROM pg_database WHERE datname LIKE 'alembix_dev_%'",
        _ => "SELECT CAST(SCHEMA_NAME AS CHAR) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'alembix_dev_%'",
    };
    let left: Vec<String> = common::db::try_query(&server, list)
        .unwrap()
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect();
    let _ = common::db::try_execute(&server, &format!("DROP DATABASE IF EXISTS {fresh}"));
    assert!(!left.contains(&old), "{left:?}");
    assert!(left.contains(&fresh), "{left:?}");
}

#[test]
fn abandoned_scratch_databases_are_removed_postgres() {
    abandoned_scratch_databases_are_removed(Engine::Postgres);
}

#[test]
fn abandoned_scratch_databases_are_removed_mysql() {
    abandoned_scratch_databases_are_removed(Engine::Mysql);
}

/// MySQL: a run no longer waits for its scratch database's `DROP DATABASE` (most of a cold `check` of
/// hundreds of tables); the server finishes the drop after the run has let the connection go. Whatever the
/// timing, the scratch database must be gone soon after the run, not left for the abandoned clean-up.
#[test]
fn the_mysql_scratch_database_is_gone_soon_after_the_run() {
    let Some(db) = TestDb::create(Engine::Mysql, "scratch_detached") else {
        return;
    };
    // The test database's name is unique, so a table named after it finds this run's scratch database
    // among those of tests running alongside.
    let marker = db.url.rsplit('/').next().unwrap().to_string();
    let p = schema_project("");
    let mut schema = String::new();
    for i in 0..40 {
        schema.push_str(&format!(
            "CREATE TABLE {marker}_{i} (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL);\n"
        ));
    }
    p.write("schema.sql", &schema);
    let out = cold(&p, &["--url", &db.url, "check", "--live"]);
    assert_eq!(out.status.code(), Some(1), "{}", common::render(&out));
    let server = std::env::var(Engine::Mysql.env_var().unwrap()).unwrap();
    let left = || {
        common::db::try_query(
            &server,
            &format!(
                "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.TABLES WHERE TABLE_NAME LIKE '{marker}\\_%' \
                 AND TABLE_SCHEMA LIKE 'alembix\\_dev\\_%'"
            ),
        )
        .unwrap()[0][0]
            .clone()
            .unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while left() != "0" {
        assert!(
            std::time::Instant::now() < deadline,
            "the scratch database of the run is still there a minute later"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Making a column NOT NULL behaved differently by engine: SQLite's rebuild filled NULLs with the default
/// while PostgreSQL failed on them. Now every engine fills NULLs with the declared default (and the revision
/// says so), and fails on NULLs when there is no default.
fn not_null_means_the_same_everywhere(engine: Engine) {
    let Some(db) = TestDb::create(engine, "not_null_same") else {
        return;
    };
    let p = schema_project("");
    let url = db.url.as_str();
    let generate = |schema: &str, message: &str| {
        p.write("schema.sql", schema);
        let out = cold(
            &p,
            &["--url", url, "revision", "--autogenerate", "-m", message],
        );
        assert_eq!(out.status.code(), Some(0), "{}", common::render(&out));
        let file = p
            .files("migrations")
            .into_iter()
            .find(|f| f.contains(&message.replace(' ', "_")))
            .unwrap();
        p.read(&file)
    };
    generate(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, nick VARCHAR(20), bio VARCHAR(50));\n",
        "init",
    );
    p.ok(&["--url", url, "upgrade", "head"]);
    db.execute("INSERT INTO users (id, nick, bio) VALUES (1, NULL, NULL)");

    let text = generate(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, nick VARCHAR(20) NOT NULL DEFAULT 'anon', bio VARCHAR(50));\n",
        "nick required",
    );
    assert!(
        text.contains("rows with NULL there get its default"),
        "{engine:?}: {text}"
    );
    p.ok(&["--url", url, "upgrade", "head"]);
    assert_eq!(db.value("SELECT nick FROM users WHERE id = 1"), "anon");

    let text = generate(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, nick VARCHAR(20) NOT NULL DEFAULT 'anon', bio VARCHAR(50) NOT NULL);\n",
        "bio required",
    );
    assert!(
        text.contains("fails if a row has NULL there"),
        "{engine:?}: {text}"
    );
    let out = p.run(&["--url", url, "upgrade", "head"]);
    let text = common::render(&out);
    assert_eq!(out.status.code(), Some(2), "{engine:?}: {text}");
    assert!(text.contains("failed at statement"), "{engine:?}: {text}");
    assert_eq!(
        db.value(&format!(
            "SELECT {} FROM users WHERE bio IS NULL",
            engine.text("count(*)")
        )),
        "1",
        "{engine:?}: the row was changed"
    );
}

#[test]
fn not_null_means_the_same_everywhere_sqlite() {
    not_null_means_the_same_everywhere(Engine::Sqlite);
}

#[test]
fn not_null_means_the_same_everywhere_postgres() {
    not_null_means_the_same_everywhere(Engine::Postgres);
}

#[test]
fn not_null_means_the_same_everywhere_mysql() {
    not_null_means_the_same_everywhere(Engine::Mysql);
}

/// A trigger made by hand in a migration (Alembic's `op.execute`) is not in the models, so `check` proposed
/// to drop it; `[compare] exclude` leaves it out of the comparison, by kind and name pattern.
fn excluded_objects_are_not_compared(engine: Engine) {
    let Some(db) = TestDb::create(engine, "compare_exclude") else {
        return;
    };
    let (table, trigger) = match engine {
        Engine::Postgres => (
            "CREATE TABLE runs (id INTEGER PRIMARY KEY, touched INTEGER NOT NULL DEFAULT 0)",
            "CREATE FUNCTION trg_audit_runs_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             NEW.touched := NEW.touched + 1; RETURN NEW; END $$;\n\
             CREATE TRIGGER trg_audit_runs BEFORE UPDATE ON runs FOR EACH ROW EXECUTE FUNCTION trg_audit_runs_fn();",
        ),
        _ => (
            "CREATE TABLE runs (id INTEGER PRIMARY KEY, touched INTEGER NOT NULL DEFAULT 0)",
            "CREATE TRIGGER trg_audit_runs AFTER UPDATE ON runs BEGIN \
             UPDATE runs SET touched = touched + 1 WHERE id = NEW.id AND NEW.touched = OLD.touched; END;",
        ),
    };
    let p = schema_project("");
    p.write("schema.sql", &format!("{table};\n"));
    p.write(
        "migrations/0001_init.sql",
        &format!(
            "-- init\n--\n-- Revision ID: 0001\n-- Revises:\n-- Create Date: 2026-01-01 00:00:00\n\n\
             -- migrate:up\n{table};\n\n{trigger}\n\n-- migrate:down\nDROP TABLE runs;\n"
        ),
    );
    let config = "migrations = \"migrations\"\nschema = \"schema.sql\"\n";
    let url = db.url.as_str();
    p.ok(&["--url", url, "upgrade", "head"]);
    let check = |args: &[&str]| {
        let out = cold(&p, &[&["--url", url, "check"][..], args].concat());
        (out.status.code(), common::render(&out))
    };
    let (c, out) = check(&["--live"]);
    assert_eq!(c, Some(1), "{engine:?}: {out}");
    assert!(out.contains("drop trigger trg_audit_runs on runs"), "{out}");

    p.write(
        "alembix.toml",
        &format!(
            "{config}\n[compare]\nexclude = [\"trigger:trg_audit_*\", \"function:trg_audit_*\"]\n"
        ),
    );
    for args in [&["--live"][..], &[][..]] {
        let (c, out) = check(args);
        assert_eq!(c, Some(0), "{engine:?} {args:?}: {out}");
    }

    p.write(
        "alembix.toml",
        &format!("{config}\n[compare]\nexclude = [\"trigers:trg_audit_*\"]\n"),
    );
    let (c, out) = check(&["--live"]);
    assert_eq!(c, Some(2), "{out}");
    assert!(out.contains("unknown object kind `trigers`"), "{out}");
}

#[test]
fn excluded_objects_are_not_compared_sqlite() {
    excluded_objects_are_not_compared(Engine::Sqlite);
}

#[test]
fn excluded_objects_are_not_compared_postgres() {
    excluded_objects_are_not_compared(Engine::Postgres);
}

/// On SQLite `DEFAULT 0` and `DEFAULT '0'` store the same value in an INTEGER column (and `DEFAULT 1` and
/// `DEFAULT '1'` in a TEXT one): `check` reported a change; it compares defaults as the column stores them.
#[test]
fn sqlite_defaults_compare_as_stored() {
    let Some(db) = TestDb::create(Engine::Sqlite, "sqlite_defaults") else {
        return;
    };
    let p = schema_project("");
    p.write(
        "schema.sql",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT 0, code VARCHAR(5) DEFAULT 1, \
         r REAL DEFAULT '2', s TEXT DEFAULT 'x');\n",
    );
    p.write(
        "migrations/0001_init.sql",
        "-- init\n--\n-- Revision ID: 0001\n-- Revises:\n-- Create Date: 2026-01-01 00:00:00\n\n\
         -- migrate:up\nCREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL DEFAULT '0', \
         code VARCHAR(5) DEFAULT '1', r REAL DEFAULT 2, s TEXT DEFAULT 'x');\n\n-- migrate:down\nDROP TABLE t;\n",
    );
    p.ok(&["--url", &db.url, "upgrade", "head"]);
    for args in [&["check", "--live"][..], &["check"][..]] {
        let out = cold(&p, &[&["--url", db.url.as_str()][..], args].concat());
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            common::render(&out)
        );
    }
}

/// Real models that the scratch database rejects (a foreign key to a non-unique column, an index declared
/// without columns) made `check --live` exit 2 with a bare SQL error. Now it names every rejected object
/// with the model line that declares it and the server's reason.
fn rejected_model_objects_are_named(engine: Engine) {
    if !common::python_has("sqlalchemy", "models tests") {
        return;
    }
    let Some(db) = TestDb::create(engine, "rejected_models") else {
        return;
    };
    let p = Project::empty();
    std::fs::create_dir_all(p.path("app")).unwrap();
    std::fs::create_dir(p.path("migrations")).unwrap();
    p.write("app/__init__.py", "");
    p.write(
        "app/models.py",
        "from sqlalchemy import Column, ForeignKey, Index, Integer, String\n\
         from sqlalchemy.orm import declarative_base\n\
         \n\
         Base = declarative_base()\n\
         \n\
         \n\
         class Input(Base):\n    __tablename__ = \"inputs\"\n    id = Column(Integer, primary_key=True)\n    \
         source_id = Column(String(36))\n\
         \n\
         \n\
         class InputTag(Base):\n    __tablename__ = \"input_tags\"\n    id = Column(Integer, primary_key=True)\n    \
         input_source = Column(String(36), ForeignKey(\"inputs.source_id\"))\n\
         \n\
         \n\
         class TraceTag(Base):\n    __tablename__ = \"trace_tags\"\n    __table_args__ = (Index(\"ix_trace_tags_nothing\"),)\n    \
         id = Column(Integer, primary_key=True)\n",
    );
    p.write(
        "alembix.toml",
        "migrations = \"migrations\"\nmodels = \"app.models\"\n",
    );
    let out = p
        .cmd(&["--url", &db.url, "check", "--live"])
        .env("ALEMBIX_CACHE_DIR", p.path(".cache"))
        .env_remove("VIRTUAL_ENV")
        .output()
        .unwrap();
    let text = common::render(&out);
    assert_eq!(out.status.code(), Some(2), "{engine:?}: {text}");
    assert!(
        text.contains("the scratch database rejected"),
        "{engine:?}: {text}"
    );
    assert!(
        text.contains("index ix_trace_tags_nothing on trace_tags (app/models.py:21)"),
        "{engine:?}: {text}"
    );
    if engine != Engine::Sqlite {
        // SQLite does not check a foreign key's target when the table is created.
        assert!(
            text.contains("table input_tags (app/models.py:14)"),
            "{engine:?}: {text}"
        );
    }
}

#[test]
fn rejected_model_objects_are_named_sqlite() {
    rejected_model_objects_are_named(Engine::Sqlite);
}

#[test]
fn rejected_model_objects_are_named_postgres() {
    rejected_model_objects_are_named(Engine::Postgres);
}

#[test]
fn rejected_model_objects_are_named_mysql() {
    rejected_model_objects_are_named(Engine::Mysql);
}

/// PostgreSQL schemas other than the current one (Alembic's `include_schemas`) were not compared at all:
/// with `schemas = ["billing"]` their tables, enums, views, indexes and foreign keys across schemas are
/// generated, applied, compared clean, verified and taken back down, schema and all.
#[test]
fn other_postgres_schemas_are_compared() {
    let Some(db) = TestDb::create(Engine::Postgres, "other_schemas") else {
        return;
    };
    let p = schema_project("schemas = [\"billing\"]\n");
    let v1 = "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);\n\
              CREATE SCHEMA billing;\n\
              CREATE TYPE billing.invoice_state AS ENUM ('draft', 'sent');\n\
              CREATE TABLE billing.invoices (\n    id SERIAL PRIMARY KEY,\n    \
              user_id INTEGER NOT NULL REFERENCES users (id),\n    \
              state billing.invoice_state NOT NULL DEFAULT 'draft',\n    \
              total NUMERIC(10, 2) CHECK (total >= 0)\n);\n\
              CREATE INDEX ix_invoices_user ON billing.invoices (user_id);\n\
              CREATE TABLE billing.lines (id INTEGER PRIMARY KEY, \
              invoice_id INTEGER NOT NULL REFERENCES billing.invoices (id));\n\
              CREATE VIEW billing.open_invoices AS SELECT id FROM billing.invoices WHERE state = 'draft';\n";
    let url = db.url.as_str();
    let run = |args: &[&str]| {
        let out = cold(&p, &[&["--url", url][..], args].concat());
        (out.status.code().unwrap_or(-1), common::render(&out))
    };
    p.write("schema.sql", v1);
    let (c, out) = run(&["revision", "--autogenerate", "-m", "init"]);
    assert_eq!(c, 0, "{out}");
    let (c, out) = run(&["upgrade", "head"]);
    assert_eq!(c, 0, "{out}");
    for args in [&["check", "--live"][..], &["check"][..], &["verify"][..]] {
        let (c, out) = run(args);
        assert_eq!(c, 0, "{args:?}: {out}");
    }
    // A change inside the other schema: a column, an enum value, a renamed index.
    p.write(
        "schema.sql",
        &v1.replace("('draft', 'sent')", "('draft', 'sent', 'paid')")
            .replace(
                "CHECK (total >= 0)\n",
                "CHECK (total >= 0),\n    note TEXT\n",
            )
            .replace("ix_invoices_user", "ix_invoices_user_id"),
    );
    let (c, out) = run(&["revision", "--autogenerate", "-m", "more"]);
    assert_eq!(c, 0, "{out}");
    assert!(out.contains("add column billing.invoices.note"), "{out}");
    assert!(
        out.contains("rename index ix_invoices_user on billing.invoices"),
        "{out}"
    );
    let (c, out) = run(&["upgrade", "head"]);
    assert_eq!(c, 0, "{out}");
    let (c, out) = run(&["check", "--live"]);
    assert_eq!(c, 0, "{out}");
    let (c, out) = run(&["downgrade", "base"]);
    assert_eq!(c, 0, "{out}");
    assert_eq!(
        db.value("SELECT count(*)::text FROM pg_namespace WHERE nspname = 'billing'"),
        "0"
    );
}

/// A configured `dev_url` is emptied after each use; materialized views, functions and sequences (read
/// since this round) were left in it: the next run found it "not empty", or took them for declared ones.
#[test]
fn a_dev_url_is_left_empty() {
    let Some(db) = TestDb::create(Engine::Postgres, "dev_url_empty") else {
        return;
    };
    let Some(dev) = TestDb::create(Engine::Postgres, "dev_url_empty_dev") else {
        return;
    };
    let p = schema_project(&format!(
        "dev_url = \"{}\"\nschemas = [\"billing\"]\n",
        dev.url
    ));
    p.write(
        "schema.sql",
        "CREATE SEQUENCE ticket_no START 100;\n\
         CREATE TABLE t (id INTEGER PRIMARY KEY, no BIGINT DEFAULT nextval('ticket_no'));\n\
         CREATE FUNCTION twice(x integer) RETURNS integer LANGUAGE sql IMMUTABLE RETURN x * 2;\n\
         CREATE MATERIALIZED VIEW mv AS SELECT id FROM t;\n\
         CREATE TABLE billing.invoices (id INTEGER PRIMARY KEY);\n",
    );
    for round in 0..2 {
        let out = cold(&p, &["--url", &db.url, "check", "--live"]);
        let text = common::render(&out);
        assert_eq!(out.status.code(), Some(1), "round {round}: {text}");
        assert!(text.contains("create function twice(integer)"), "{text}");
    }
    let left = dev.value(
        "SELECT ((SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                  WHERE n.nspname = 'public') \
               + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
                  WHERE n.nspname = 'public') \
               + (SELECT count(*) FROM pg_namespace WHERE nspname = 'billing'))::text",
    );
    assert_eq!(left, "0", "the dev database was not left empty");
}
