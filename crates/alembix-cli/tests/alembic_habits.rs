//! Alembic's command-line habits, so its users' fingers and scripts keep working: short unique prefixes,
//! `history -i`, `heads --resolve-dependencies`, `stamp --sql`, `edit`, `-x key=value`. Output pinned with
//! snapshots where it is deterministic.
#![allow(clippy::unwrap_used)]

mod common;

use common::{rev_file, Project};

/// d88a01 <- e11b02 (head); f22c03 (side, a second root); a33d04 off d88a01, depending on f22c03.
fn project() -> Project {
    let p = Project::with_files(&[
        ("d88a01_one.sql", &rev_file("d88a01", "", "one", "")),
        ("e11b02_two.sql", &rev_file("e11b02", "d88a01", "two", "")),
        (
            "f22c03_side.sql",
            &rev_file("f22c03", "", "side", "-- Branch Labels: side"),
        ),
        (
            "a33d04_dep.sql",
            &rev_file("a33d04", "d88a01", "dep", "-- Depends On: f22c03"),
        ),
    ]);
    p.write(
        "alembix.toml",
        "migrations = \"migrations\"\nurl = \"sqlite:app.db\"\n",
    );
    p
}

#[test]
fn a_short_unique_prefix_resolves() {
    let p = project();
    insta::assert_snapshot!("habits_show_d88", p.snap(&["show", "d88"]));
    insta::assert_snapshot!("habits_show_unknown", p.snap(&["show", "x"]));
}

#[test]
fn heads_resolve_dependencies() {
    let p = project();
    insta::assert_snapshot!("habits_heads", p.snap(&["heads"]));
    insta::assert_snapshot!(
        "habits_heads_resolved",
        p.snap(&["heads", "--resolve-dependencies"])
    );
}

#[test]
fn history_indicates_current() {
    let p = project();
    p.ok(&["upgrade", "e11b02"]);
    insta::assert_snapshot!("habits_history_i", p.snap(&["history", "-i"]));
    insta::assert_snapshot!(
        "habits_history_i_linear",
        p.snap(&["history", "--indicate-current", "--no-graph"])
    );
}

#[test]
fn stamp_sql_prints_the_stamp_offline() {
    let p = project();
    let out = p.ok(&["stamp", "--sql", "e11", "--dialect", "postgresql"]);
    assert!(out.contains("DELETE FROM alembix_version;"), "{out}");
    assert!(
        out.contains("INSERT INTO alembix_version (version_num) VALUES ('e11b02');"),
        "{out}"
    );
    assert!(out.contains("BEGIN;") && out.contains("COMMIT;"), "{out}");
    // Nothing was written: the database file does not even exist.
    assert!(!p.path("app.db").exists());
    let out = p.ok(&["stamp", "--sql", "d88a01:e11b02", "--dialect", "sqlite"]);
    assert!(out.contains("VALUES ('e11b02')"), "{out}");
}

#[test]
fn edit_opens_the_file_in_the_editor() {
    let p = project();
    // The editor is a command that appends to the file it is given.
    let out = p
        .cmd(&["edit", "e11"])
        .env("EDITOR", "sh -c 'echo \"-- edited\" >> \"$0\"'")
        .env_remove("VISUAL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::render(&out));
    assert!(p.read("migrations/e11b02_two.sql").ends_with("-- edited\n"));
    let out = p
        .cmd(&["edit", "e11"])
        .env("EDITOR", "false")
        .env_remove("VISUAL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn x_arguments_reach_templates_and_schema_commands() {
    let p = Project::empty();
    p.write(
        "alembix.toml",
        "migrations = \"migrations\"\nurl = \"sqlite:app.db\"\nschema_command = \"echo \\\"CREATE TABLE $ALEMBIX_X_TABLE (id INTEGER PRIMARY KEY);\\\"\"\n",
    );
    std::fs::create_dir(p.path("migrations")).unwrap();
    p.write(
        "migrations/script.sql.j2",
        "-- {{ message }}\n-- Revision ID: {{ revision }}\n-- Revises: {{ revises }}\n-- ticket: {{ x.ticket }}\n\n-- migrate:up\n{{ up }}\n\n-- migrate:down\n{{ down }}\n",
    );
    p.ok(&[
        "-x",
        "ticket=OPS-42",
        "-x",
        "table=things",
        "revision",
        "--autogenerate",
        "-m",
        "things",
        "--rev-id",
        "c0000001",
    ]);
    let text = p.read("migrations/c0000001_things.sql");
    assert!(text.contains("-- ticket: OPS-42"), "{text}");
    assert!(text.contains("CREATE TABLE things"), "{text}");
    let (c, _, err) = common::code(&p, &["-x", "novalue", "heads"]);
    assert_eq!(c, 2);
    assert!(err.contains("expected key=value"), "{err}");
}

#[test]
fn merge_joins_heads_and_splice_allows_others() {
    let p = project();
    // d88a01 has children: merging it with a head needs --splice, as in Alembic.
    let (c, _, err) = common::code(&p, &["merge", "d88a01", "f22c03", "-m", "m"]);
    assert_eq!(c, 2);
    assert!(
        err.contains("revision d88a01 is not a head; pass --splice"),
        "{err}"
    );
    p.ok(&["merge", "e11b02", "f22c03", "-m", "heads", "--rev-id", "m1"]);
    // f22c03 is no head now (m1 merged it): merging it again needs --splice.
    let (c, _, err) = common::code(&p, &["merge", "f22c03", "a33d04", "-m", "m"]);
    assert_eq!(c, 2);
    assert!(err.contains("revision f22c03 is not a head"), "{err}");
    p.ok(&[
        "merge", "f22c03", "a33d04", "-m", "spliced", "--rev-id", "m2", "--splice",
    ]);
    let heads = p.ok(&["heads"]);
    assert!(heads.contains("m1") && heads.contains("m2"), "{heads}");
}
