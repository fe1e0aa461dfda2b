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
