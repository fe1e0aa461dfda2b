//! Autogenerate that settles: right after `upgrade head` of a generated revision, `check` finds nothing.
//! Each case failed before its fix.
#![allow(clippy::unwrap_used)]

mod common;

use common::db::{Engine, TestDb};
use common::Project;

/// PostgreSQL prints `CHECK (stage IN ('active','deleted'))` on a varchar column differently after one more
/// round (the casts move), so `check` proposed to drop and re-add it forever.
#[test]
fn a_postgres_check_with_an_in_list_settles() {
    let Some(db) = TestDb::create(Engine::Postgres, "check_in_list") else {
        return;
    };
    let p = Project::empty();
    p.write(
        "alembix.toml",
        "migrations = \"migrations\"\nschema = \"schema.sql\"\n",
    );
    std::fs::create_dir(p.path("migrations")).unwrap();
    p.write(
        "schema.sql",
        "CREATE TABLE runs (\n    id INTEGER PRIMARY KEY,\n    stage VARCHAR(20) NOT NULL,\n    \
         CONSTRAINT runs_stage CHECK (stage IN ('active', 'deleted'))\n);\n\
         CREATE TABLE tags (\n    id INTEGER PRIMARY KEY,\n    kind VARCHAR(10) CHECK (kind IN ('a', 'b', 'c'))\n);\n",
    );
    let url = db.url.as_str();
    let run = |args: &[&str]| {
        let out = p
            .cmd(&[&["--url", url][..], args].concat())
            .env("ALEMBIX_NO_CACHE", "1")
            .output()
            .unwrap();
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
    let p = Project::empty();
    p.write(
        "alembix.toml",
        "migrations = \"migrations\"\nschema = \"schema.sql\"\n",
    );
    std::fs::create_dir(p.path("migrations")).unwrap();
    p.write("schema.sql", "CREATE TABLE t (id INTEGER PRIMARY KEY);\n");
    let out = p
        .cmd(&["--url", &db.url, "check", "--live"])
        .env("ALEMBIX_NO_CACHE", "1")
        .output()
        .unwrap();
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

/// Making a column NOT NULL behaved differently by engine: SQLite's rebuild filled NULLs with the default
/// while PostgreSQL failed on them. Now every engine fills NULLs with the declared default (and the revision
/// says so), and fails on NULLs when there is no default.
fn not_null_means_the_same_everywhere(engine: Engine) {
    let Some(db) = TestDb::create(engine, "not_null_same") else {
        return;
    };
    let p = Project::empty();
    p.write(
        "alembix.toml",
        "migrations = \"migrations\"\nschema = \"schema.sql\"\n",
    );
    std::fs::create_dir(p.path("migrations")).unwrap();
    let url = db.url.as_str();
    let generate = |schema: &str, message: &str| {
        p.write("schema.sql", schema);
        let out = p
            .cmd(&["--url", url, "revision", "--autogenerate", "-m", message])
            .env("ALEMBIX_NO_CACHE", "1")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", common::render(&out));
        let file = p
            .files("migrations")
            .into_iter()
            .find(|f| f.contains(&message.replace(' ', "_")))
            .unwrap();
        p.read(&format!("migrations/{file}"))
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
    assert_eq!(
        out.status.code(),
        Some(1),
        "{engine:?}: {}",
        common::render(&out)
    );
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
