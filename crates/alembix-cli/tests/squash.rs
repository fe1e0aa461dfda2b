//! `alembix squash`: the revisions up to REV become one baseline with REV's id; a database already past REV
//! carries on with no edit alarm and nothing to stamp, a fresh one builds the same schema.
#![allow(clippy::unwrap_used)]

mod common;

use common::db::{Engine, TestDb};
use common::{code, Project};

fn rev(id: &str, parent: &str, up: &str, down: &str, extra: &str) -> String {
    format!(
        "-- {id}\n--\n-- Revision ID: {id}\n-- Revises: {parent}\n{extra}\n-- migrate:up\n{up}\n\n-- migrate:down\n{down}\n"
    )
}

fn project() -> Project {
    Project::with_files(&[
        (
            "s1_users.sql",
            &rev("s1", "", "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL);", "DROP TABLE users;", ""),
        ),
        (
            "s2_posts.sql",
            &rev(
                "s2",
                "s1",
                "CREATE TABLE posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id));\nCREATE INDEX ix_posts_user ON posts (user_id);",
                "DROP TABLE posts;",
                "",
            ),
        ),
        (
            "s3_phone.sql",
            &rev("s3", "s2", "ALTER TABLE users ADD COLUMN phone VARCHAR(32);", "ALTER TABLE users DROP COLUMN phone;", ""),
        ),
        (
            "s4_tags.sql",
            &rev(
                "s4",
                "s3",
                "CREATE TABLE tags (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL UNIQUE);",
                "DROP TABLE tags;",
                "-- Depends On: s2",
            ),
        ),
    ])
}

fn squash_on(engine: Engine) {
    let Some(db) = TestDb::create(engine, "squash") else {
        return;
    };
    let Some(fresh) = TestDb::create(engine, "squash_fresh") else {
        return;
    };
    let p = project();
    let url = db.url.as_str();
    p.ok(&["--url", url, "upgrade", "head"]);
    let before = db.tables();

    let (c, out, err) = code(&p, &["--url", url, "squash", "s3", "-m", "baseline"]);
    assert_eq!(c, 0, "{out}{err}");
    assert!(out.contains("Squashed 3 revision(s) into s3"), "{out}");
    let files = p.files("migrations");
    assert_eq!(files.len(), 2, "{files:?}");
    let baseline = p.read(files.iter().find(|f| f.contains("s3_")).unwrap());
    assert!(baseline.contains("-- Squashes: s1, s2"), "{baseline}");
    assert!(baseline.contains("-- Revises:\n"), "{baseline}");
    // s4 depended on s2, which is gone: it depends on the baseline now.
    let later = p.read("migrations/s4_tags.sql");
    assert!(later.contains("-- Depends On: s3"), "{later}");

    // The database that was at head: no edit alarm, nothing to do, and it can go down and up again.
    let (c, out, err) = code(&p, &["--url", url, "upgrade", "head"]);
    assert_eq!(c, 0, "{out}{err}");
    p.ok(&["--url", url, "downgrade", "-1"]);
    p.ok(&["--url", url, "upgrade", "head"]);
    assert_eq!(db.tables(), before);

    // A fresh database builds the same schema from the baseline.
    p.ok(&["--url", &fresh.url, "upgrade", "head"]);
    assert_eq!(fresh.tables(), before);
    p.ok(&["--url", &fresh.url, "downgrade", "base"]);
    assert!(
        fresh.tables().iter().all(|t| t.starts_with("alembix_")),
        "{:?}",
        fresh.tables()
    );
}

#[test]
fn squash_on_sqlite() {
    squash_on(Engine::Sqlite);
}

#[test]
fn squash_on_postgres() {
    squash_on(Engine::Postgres);
}

#[test]
fn squash_on_mysql() {
    squash_on(Engine::Mysql);
}

#[test]
fn squash_refuses_a_branch_below_the_point() {
    let p = project();
    p.write(
        "migrations/s5_side.sql",
        &rev("s5", "s2", "SELECT 1;", "SELECT 1;", ""),
    );
    let (c, _, err) = code(&p, &["squash", "s3"]);
    assert_eq!(c, 2);
    assert!(
        err.contains("revision s5 branches off s2, below s3"),
        "{err}"
    );
    assert_eq!(p.files("migrations").len(), 5);
}
