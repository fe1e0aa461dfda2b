//! End-to-end tests of error reporting: every error exits 2 and names what the user must fix.

#![allow(clippy::unwrap_used)]

mod common;

use common::{rev_file, Project};

fn assert_exit_2(p: &Project, args: &[&str]) -> String {
    let out = p.run(args);
    assert_eq!(out.status.code(), Some(2), "{}", common::render(&out));
    assert!(out.stdout.is_empty(), "{}", common::render(&out));
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn ambiguous_prefix_lists_candidates() {
    let p = Project::with_files(&[
        ("1_a.sql", &rev_file("abcd00000001", "", "first", "")),
        (
            "2_b.sql",
            &rev_file("abcd00000002", "abcd00000001", "second", ""),
        ),
        (
            "3_c.sql",
            &rev_file("abce00000003", "abcd00000002", "third", ""),
        ),
    ]);
    insta::assert_snapshot!("ambiguous_prefix", p.snap(&["show", "abcd"]));
    insta::assert_snapshot!(
        "ambiguous_prefix_range",
        p.snap(&["history", "-r", "abcd:"])
    );
    // One more character makes it unique; a shorter prefix works when it is unique (as in Alembic) and
    // lists the candidates when it is not.
    p.ok(&["show", "abcd00000002"]);
    p.ok(&["show", "abce"]);
    insta::assert_snapshot!("short_prefix", p.snap(&["show", "abc"]));
}

#[test]
fn unknown_revision() {
    let p = Project::with_files(&[("1_a.sql", &rev_file("abcd00000001", "", "first", ""))]);
    insta::assert_snapshot!("unknown_revision", p.snap(&["show", "ffff"]));
    insta::assert_snapshot!("unknown_label", p.snap(&["show", "nolabel@head"]));
    assert_exit_2(&p, &["revision", "-m", "x", "--head", "ffff"]);
    assert_exit_2(&p, &["merge", "abcd00000001", "ffff", "-m", "x"]);
}

#[test]
fn show_head_with_two_heads() {
    let p = Project::with_files(&[
        ("1_a.sql", &rev_file("aaaa0001", "", "root", "")),
        ("2_b.sql", &rev_file("bbbb0002", "aaaa0001", "left", "")),
        ("3_c.sql", &rev_file("cccc0003", "aaaa0001", "right", "")),
    ]);
    insta::assert_snapshot!("show_head_two_heads", p.snap(&["show", "head"]));
    insta::assert_snapshot!("show_heads", p.snap(&["show", "heads"]));
}

#[test]
fn show_head_without_revisions() {
    let p = Project::init();
    insta::assert_snapshot!("show_head_empty", p.snap(&["show", "head"]));
}

#[test]
fn malformed_revision_file_names_file_and_line() {
    let p = Project::with_files(&[
        ("1_a.sql", &rev_file("aaaa0001", "", "root", "")),
        (
            "2_bad.sql",
            "-- bad\n-- Revision ID: bbbb0002\n-- Revises: aaaa0001\nCREATE TABLE t (x int);\n-- migrate:up\n",
        ),
    ]);
    insta::assert_snapshot!("malformed_sql_in_header", p.snap(&["heads"]));
    // Every command that loads the graph reports it.
    for args in [
        &["history"][..],
        &["branches"],
        &["show", "aaaa0001"],
        &["revision", "-m", "x"],
    ] {
        let stderr = assert_exit_2(&p, args);
        assert!(stderr.contains("migrations/2_bad.sql:4: "), "{stderr}");
    }
}

#[test]
fn malformed_revision_files() {
    let cases: &[(&str, &str)] = &[
        (
            "malformed_bad_marker",
            "-- m\n-- Revision ID: bbbb0002\n\n-- migrate:up\nSELECT 1;\n-- migrate:sideways\n",
        ),
        (
            "malformed_no_revision_id",
            "-- m\n-- Revises:\n-- migrate:up\nSELECT 1;\n",
        ),
        ("malformed_no_up", "-- m\n-- Revision ID: bbbb0002\n"),
        (
            "malformed_duplicate_key",
            "-- m\n-- Revision ID: bbbb0002\n-- revision id: cccc0003\n-- migrate:up\n",
        ),
        (
            "malformed_bad_transactional",
            "-- m\n-- Revision ID: bbbb0002\n-- Transactional: sometimes\n-- migrate:up\n",
        ),
        (
            "malformed_down_before_up",
            "-- m\n-- Revision ID: bbbb0002\n-- migrate:down\n-- migrate:up\n",
        ),
    ];
    for (name, text) in cases {
        let p = Project::with_files(&[("x.sql", text)]);
        insta::assert_snapshot!(*name, p.snap(&["heads"]));
    }
}

#[test]
fn invalid_utf8_names_file() {
    let p = Project::with_files(&[]);
    std::fs::write(
        p.path("migrations/x.sql"),
        b"-- m\n-- Revision ID: a\xff\n-- migrate:up\n",
    )
    .unwrap();
    insta::assert_snapshot!("invalid_utf8", p.snap(&["heads"]));
}

#[test]
fn duplicate_revision_id_names_both_files() {
    let p = Project::with_files(&[
        ("1_first.sql", &rev_file("aaaa0001", "", "first", "")),
        ("2_copy.sql", &rev_file("aaaa0001", "", "copy", "")),
    ]);
    insta::assert_snapshot!("duplicate_id", p.snap(&["history"]));
}

#[test]
fn duplicate_branch_label_names_both() {
    let p = Project::with_files(&[
        (
            "1_a.sql",
            &rev_file("aaaa0001", "", "first", "-- Branch Labels: core"),
        ),
        (
            "2_b.sql",
            &rev_file("bbbb0002", "", "second", "-- Branch Labels: core"),
        ),
    ]);
    insta::assert_snapshot!("duplicate_label", p.snap(&["heads"]));
}

#[test]
fn missing_parent() {
    let p = Project::with_files(&[
        ("1_a.sql", &rev_file("aaaa0001", "", "first", "")),
        ("2_b.sql", &rev_file("bbbb0002", "ffff9999", "orphan", "")),
    ]);
    insta::assert_snapshot!("missing_parent", p.snap(&["heads"]));
}

#[test]
fn missing_dependency() {
    let p = Project::with_files(&[(
        "1_a.sql",
        &rev_file("aaaa0001", "", "first", "-- Depends On: nothere"),
    )]);
    insta::assert_snapshot!("missing_dependency", p.snap(&["heads"]));
}

#[test]
fn cycle() {
    let p = Project::with_files(&[
        ("0_root.sql", &rev_file("r0r0", "", "root", "")),
        ("1_a.sql", &rev_file("aaaa0001", "r0r0, cccc0003", "a", "")),
        ("2_b.sql", &rev_file("bbbb0002", "aaaa0001", "b", "")),
        ("3_c.sql", &rev_file("cccc0003", "bbbb0002", "c", "")),
    ]);
    insta::assert_snapshot!("cycle", p.snap(&["history"]));
}

#[test]
fn cycle_through_a_dependency() {
    let p = Project::with_files(&[
        (
            "1_a.sql",
            &rev_file("aaaa0001", "", "a", "-- Depends On: bbbb0002"),
        ),
        ("2_b.sql", &rev_file("bbbb0002", "aaaa0001", "b", "")),
    ]);
    insta::assert_snapshot!("cycle_dependency", p.snap(&["heads"]));
}

#[test]
fn unknown_config_key_names_key_and_file() {
    let p = Project::with_files(&[]);
    p.write(
        "alembix.toml",
        "migrations = \"migrations\"\nmigratons = \"m\"\n",
    );
    insta::assert_snapshot!("config_unknown_key", p.snap(&["heads"]));
}

#[test]
fn config_errors() {
    let p = Project::with_files(&[]);
    p.write("alembix.toml", "migrations = [\n");
    insta::assert_snapshot!("config_bad_toml", p.snap(&["heads"]));
    p.write("alembix.toml", "file_template = \"{rev}_{nope}\"\n");
    insta::assert_snapshot!("config_bad_file_template", p.snap(&["heads"]));
    insta::assert_snapshot!(
        "config_explicit_missing",
        p.snap(&["-c", "nope.toml", "heads"])
    );
}

#[test]
fn explicit_config_in_another_directory() {
    // Paths in the config are relative to the config file, not the current directory.
    let p = Project::empty();
    std::fs::create_dir_all(p.path("db/versions")).unwrap();
    p.write("db/alembix.toml", "migrations = \"versions\"\n");
    p.write(
        "db/versions/1_a.sql",
        &rev_file("aaaa0001", "", "first", ""),
    );
    assert_eq!(
        p.ok(&["--config", "db/alembix.toml", "heads"]),
        "aaaa0001 (head)\n"
    );
}

#[test]
fn missing_migrations_directory() {
    let p = Project::empty();
    // The message names the directory searched: a temporary one here.
    let dir = std::fs::canonicalize(p.dir.path()).unwrap();
    let shown = p
        .snap(&["history"])
        .replace(&dir.display().to_string(), "[PROJECT]")
        .replace(&p.dir.path().display().to_string(), "[PROJECT]");
    insta::assert_snapshot!("no_project", shown);
    p.write("alembix.toml", "migrations = \"db/versions\"\n");
    insta::assert_snapshot!("migrations_dir_missing", p.snap(&["heads"]));
    insta::assert_snapshot!(
        "migrations_dir_missing_revision",
        p.snap(&["revision", "-m", "first"])
    );
}
