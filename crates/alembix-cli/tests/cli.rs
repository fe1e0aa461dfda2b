//! End-to-end tests of the writing commands (`init`, `revision`, `merge`) and the read-only graph commands
//! (`heads`, `branches`, `history`, `show`) on temporary projects.

#![allow(clippy::unwrap_used)]

mod common;

use common::{redact, Project};

/// A project built with the CLI itself:
///
/// ```text
/// 6f0000000006  add phone
/// 5e0000000005  join audit (merge of 2b0000000002 and 4d0000000004)
/// 4d0000000004  audit triggers
/// 3c0000000003  audit log (branch label `audit`, spliced from 1a0000000001)
/// 2b0000000002  add email index
/// 1a0000000001  create users
/// ```
fn branchy() -> Project {
    let p = Project::init();
    p.ok(&["revision", "-m", "create users", "--rev-id", "1a0000000001"]);
    p.ok(&[
        "revision",
        "-m",
        "add email index",
        "--rev-id",
        "2b0000000002",
    ]);
    p.ok(&[
        "revision",
        "-m",
        "audit log",
        "--rev-id",
        "3c0000000003",
        "--head",
        "1a0000000001",
        "--splice",
        "--branch-label",
        "audit",
    ]);
    p.ok(&[
        "revision",
        "-m",
        "audit triggers",
        "--rev-id",
        "4d0000000004",
        "--head",
        "audit@head",
    ]);
    p.ok(&[
        "merge",
        "heads",
        "-m",
        "join audit",
        "--rev-id",
        "5e0000000005",
    ]);
    p.ok(&["revision", "-m", "add phone", "--rev-id", "6f0000000006"]);
    p
}

/// Three revisions in a line.
fn linear() -> Project {
    let p = Project::init();
    p.ok(&["revision", "-m", "create users", "--rev-id", "1a0000000001"]);
    p.ok(&[
        "revision",
        "-m",
        "add email index",
        "--rev-id",
        "2b0000000002",
    ]);
    p.ok(&["revision", "-m", "add phone", "--rev-id", "3c0000000003"]);
    p
}

// ---------------------------------------------------------------------------------------------------------
// init

#[test]
fn init_creates_the_project() {
    let p = Project::empty();
    insta::assert_snapshot!("init", p.snap(&["init"]));
    assert!(p.path("alembix.toml").is_file());
    assert!(p.path("migrations").is_dir());
    assert!(p.path("migrations/script.sql.j2").is_file());
    assert!(p.path("schema.sql").is_file());
    // The scaffold is a working project: no revisions yet, no heads.
    assert_eq!(p.ok(&["heads"]), "");
    assert_eq!(p.ok(&["history"]), "");
}

#[test]
fn init_into_a_subdirectory() {
    let p = Project::empty();
    insta::assert_snapshot!("init_subdir", p.snap(&["init", "proj"]));
    assert!(p.path("proj/alembix.toml").is_file());
    assert!(p.path("proj/migrations/script.sql.j2").is_file());
}

#[test]
fn init_refuses_to_overwrite() {
    let p = Project::init();
    let before = p.read("alembix.toml");
    insta::assert_snapshot!("init_again", p.snap(&["init"]));
    assert_eq!(p.read("alembix.toml"), before);
}

#[test]
fn init_refuses_when_only_one_file_exists() {
    let p = Project::empty();
    p.write("schema.sql", "-- mine\n");
    insta::assert_snapshot!("init_schema_exists", p.snap(&["init"]));
    assert_eq!(p.read("schema.sql"), "-- mine\n");
    assert!(!p.path("alembix.toml").exists());
    assert!(!p.path("migrations").exists());
}

// ---------------------------------------------------------------------------------------------------------
// revision

#[test]
fn revision_first_and_second() {
    let p = Project::init();
    insta::assert_snapshot!(
        "revision_first",
        p.snap(&["revision", "-m", "create users", "--rev-id", "1a0000000001"])
    );
    insta::assert_snapshot!(
        "revision_first_file",
        redact(&p.read("migrations/1a0000000001_create_users.sql"))
    );
    insta::assert_snapshot!(
        "revision_second_json",
        p.snap(&[
            "revision",
            "-m",
            "Add e-mail index!",
            "--rev-id",
            "2b0000000002",
            "--json"
        ])
    );
    insta::assert_snapshot!(
        "revision_second_file",
        redact(&p.read("migrations/2b0000000002_add_e_mail_index.sql"))
    );
}

#[test]
fn revision_random_id_is_12_hex() {
    let p = Project::init();
    let out = p.ok(&["revision", "-m", "first"]);
    let files: Vec<String> = p
        .files("migrations")
        .into_iter()
        .filter(|f| f.ends_with(".sql"))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].strip_prefix("migrations/").unwrap();
    let id = &name[..12];
    assert!(
        id.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
        "{id}"
    );
    assert_eq!(&name[12..], "_first.sql");
    assert_eq!(
        out,
        format!("Created revision {id} in migrations/{id}_first.sql\n")
    );
}

#[test]
fn revision_options_are_written_to_the_file() {
    let p = linear();
    insta::assert_snapshot!(
        "revision_options",
        p.snap(&[
            "revision",
            "-m",
            "index concurrently",
            "--rev-id",
            "9f0000000009",
            "--head",
            "2b00",
            "--splice",
            "--branch-label",
            "perf",
            "--branch-label",
            "idx",
            "--depends-on",
            "3c0000000003",
            "--depends-on",
            "1a00",
            "--no-transaction",
        ])
    );
    insta::assert_snapshot!(
        "revision_options_file",
        redact(&p.read("migrations/9f0000000009_index_concurrently.sql"))
    );
    // The graph sees what the file says.
    insta::assert_snapshot!("revision_options_show", p.snap(&["show", "perf@head"]));
}

#[test]
fn revision_head_must_be_a_head_without_splice() {
    let p = linear();
    insta::assert_snapshot!(
        "revision_not_a_head",
        p.snap(&["revision", "-m", "x", "--head", "1a0000000001"])
    );
    assert_eq!(p.files("migrations").len(), 4);
}

#[test]
fn revision_head_base_starts_a_new_root() {
    let p = linear();
    p.ok(&[
        "revision",
        "-m",
        "second root",
        "--rev-id",
        "7a0000000007",
        "--head",
        "base",
        "--branch-label",
        "other",
    ]);
    insta::assert_snapshot!(
        "revision_new_root_file",
        redact(&p.read("migrations/7a0000000007_second_root.sql"))
    );
    insta::assert_snapshot!("revision_new_root_heads", p.snap(&["heads"]));
    insta::assert_snapshot!("revision_new_root_history", p.snap(&["history"]));
}

#[test]
fn revision_with_two_heads_needs_head_or_merge() {
    let p = linear();
    p.ok(&[
        "revision",
        "-m",
        "side",
        "--rev-id",
        "4d0000000004",
        "--head",
        "2b0000000002",
        "--splice",
    ]);
    insta::assert_snapshot!("revision_two_heads", p.snap(&["revision", "-m", "next"]));
    insta::assert_snapshot!(
        "revision_two_heads_head",
        p.snap(&["revision", "-m", "next", "--head", "head"])
    );
    // Naming one of the heads works.
    p.ok(&[
        "revision",
        "-m",
        "next",
        "--rev-id",
        "5e0000000005",
        "--head",
        "4d00",
    ]);
}

#[test]
fn revision_rejects_bad_and_taken_ids_and_labels() {
    let p = Project::init();
    p.ok(&[
        "revision",
        "-m",
        "one",
        "--rev-id",
        "1a0000000001",
        "--branch-label",
        "core",
    ]);
    insta::assert_snapshot!(
        "revision_id_taken",
        p.snap(&["revision", "-m", "two", "--rev-id", "1a0000000001"])
    );
    insta::assert_snapshot!(
        "revision_id_reserved_char",
        p.snap(&["revision", "-m", "two", "--rev-id", "a-b"])
    );
    insta::assert_snapshot!(
        "revision_id_reserved_word",
        p.snap(&["revision", "-m", "two", "--rev-id", "heads"])
    );
    insta::assert_snapshot!(
        "revision_label_taken",
        p.snap(&["revision", "-m", "two", "--branch-label", "core"])
    );
    insta::assert_snapshot!(
        "revision_unknown_depends_on",
        p.snap(&["revision", "-m", "two", "--depends-on", "ffff"])
    );
    // Nothing was written by the failed attempts.
    assert_eq!(
        p.files("migrations"),
        [
            "migrations/1a0000000001_one.sql",
            "migrations/script.sql.j2"
        ]
    );
}

// ---------------------------------------------------------------------------------------------------------
// merge

#[test]
fn merge_heads() {
    let p = linear();
    p.ok(&[
        "revision",
        "-m",
        "side",
        "--rev-id",
        "4d0000000004",
        "--head",
        "2b0000000002",
        "--splice",
    ]);
    insta::assert_snapshot!(
        "merge_heads",
        p.snap(&[
            "merge",
            "heads",
            "-m",
            "merge side",
            "--rev-id",
            "5e0000000005"
        ])
    );
    insta::assert_snapshot!(
        "merge_heads_file",
        redact(&p.read("migrations/5e0000000005_merge_side.sql"))
    );
    assert_eq!(
        p.ok(&["heads"]),
        "5e0000000005 (head) (mergepoint)\n",
        "one head after the merge"
    );
    // A new revision goes on top of the merge without --head.
    p.ok(&["revision", "-m", "after", "--rev-id", "6f0000000006"]);
    assert!(p
        .read("migrations/6f0000000006_after.sql")
        .contains("-- Revises: 5e0000000005\n"));
}

#[test]
fn merge_with_own_ancestor_is_an_error() {
    let p = linear();
    insta::assert_snapshot!(
        "merge_ancestor",
        p.snap(&["merge", "1a0000000001", "3c0000000003", "-m", "pointless"])
    );
    insta::assert_snapshot!(
        "merge_single_head",
        p.snap(&["merge", "heads", "-m", "pointless"])
    );
    assert_eq!(p.files("migrations").len(), 4);
}

#[test]
fn merge_heads_joined_by_a_dependency() {
    // A `Depends On` edge orders two heads but does not join them: both stay heads, `revision` asks for a
    // merge, and the merge it suggests must work.
    let p = Project::init();
    p.ok(&["revision", "-m", "root", "--rev-id", "1a0000000001"]);
    p.ok(&["revision", "-m", "left", "--rev-id", "2b0000000002"]);
    p.ok(&[
        "revision",
        "-m",
        "right",
        "--rev-id",
        "3c0000000003",
        "--head",
        "1a0000000001",
        "--splice",
        "--depends-on",
        "2b0000000002",
    ]);
    assert_eq!(
        p.ok(&["heads"]),
        "2b0000000002 (head)\n3c0000000003 (head)\n"
    );
    assert_eq!(p.run(&["revision", "-m", "next"]).status.code(), Some(2));
    insta::assert_snapshot!(
        "merge_dependency_heads",
        p.snap(&["merge", "heads", "-m", "join", "--rev-id", "4d0000000004"])
    );
    assert_eq!(p.ok(&["heads"]), "4d0000000004 (head) (mergepoint)\n");
}

// ---------------------------------------------------------------------------------------------------------
// heads, branches

#[test]
fn heads_linear() {
    let p = linear();
    insta::assert_snapshot!("heads_linear", p.snap(&["heads"]));
}

#[test]
fn heads_two_heads() {
    let p = linear();
    p.ok(&[
        "revision",
        "-m",
        "side",
        "--rev-id",
        "4d0000000004",
        "--head",
        "1a0000000001",
        "--splice",
        "--branch-label",
        "side",
    ]);
    insta::assert_snapshot!("heads_two", p.snap(&["heads"]));
    insta::assert_snapshot!("heads_two_verbose", p.snap(&["heads", "-v"]));
    insta::assert_snapshot!("heads_two_json", p.snap(&["heads", "--json"]));
    insta::assert_snapshot!("branches", p.snap(&["branches"]));
    insta::assert_snapshot!("branches_verbose", p.snap(&["branches", "-v"]));
    insta::assert_snapshot!("branches_json", p.snap(&["branches", "--json"]));
}

#[test]
fn branches_none() {
    let p = linear();
    insta::assert_snapshot!("branches_none", p.snap(&["branches"]));
    assert_eq!(p.ok(&["branches", "--json"]), "[]\n");
}

// ---------------------------------------------------------------------------------------------------------
// history

#[test]
fn history_linear() {
    let p = linear();
    insta::assert_snapshot!("history_linear", p.snap(&["history"]));
    insta::assert_snapshot!("history_linear_verbose", p.snap(&["history", "-v"]));
    insta::assert_snapshot!("history_linear_graph", p.snap(&["history", "--graph"]));
}

#[test]
fn history_ranges() {
    let p = linear();
    insta::assert_snapshot!(
        "history_range_closed",
        p.snap(&["history", "-r", "1a0000000001:2b0000000002"])
    );
    insta::assert_snapshot!(
        "history_range_open_upper",
        p.snap(&["history", "-r", "2b00:"])
    );
    insta::assert_snapshot!(
        "history_range_open_lower",
        p.snap(&["history", "-r", ":2b00"])
    );
    insta::assert_snapshot!(
        "history_range_relative",
        p.snap(&["history", "--rev-range", "head-1:head"])
    );
    insta::assert_snapshot!(
        "history_range_base_heads",
        p.snap(&["history", "-r", "base:heads"])
    );
    insta::assert_snapshot!("history_range_bad", p.snap(&["history", "-r", "2b00"]));
    insta::assert_snapshot!("history_range_unknown", p.snap(&["history", "-r", "ffff:"]));
}

#[test]
fn history_graph_with_branch_and_merge() {
    let p = branchy();
    insta::assert_snapshot!("history_branchy", p.snap(&["history"]));
    insta::assert_snapshot!("history_branchy_verbose", p.snap(&["history", "-v"]));
    insta::assert_snapshot!(
        "history_branchy_no_graph",
        p.snap(&["history", "--no-graph"])
    );
    insta::assert_snapshot!(
        "history_branchy_range",
        p.snap(&["history", "-r", "3c00:5e00"])
    );
    insta::assert_snapshot!(
        "history_graph_conflicts",
        p.snap(&["history", "--graph", "--no-graph"])
    );
}

#[test]
fn history_json() {
    let p = branchy();
    let out = p.run(&["history", "--json"]);
    assert!(out.status.success());
    assert!(out.stderr.is_empty());
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = value
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["revision"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "6f0000000006",
            "5e0000000005",
            "4d0000000004",
            "3c0000000003",
            "2b0000000002",
            "1a0000000001"
        ]
    );
    insta::assert_snapshot!("history_json", p.snap(&["history", "--json"]));
    insta::assert_snapshot!(
        "history_json_range",
        p.snap(&["history", "--json", "-r", "5e00:"])
    );
}

// ---------------------------------------------------------------------------------------------------------
// show

#[test]
fn show_forms() {
    let p = branchy();
    insta::assert_snapshot!("show_prefix", p.snap(&["show", "3c00"]));
    insta::assert_snapshot!("show_head", p.snap(&["show", "head"]));
    insta::assert_snapshot!("show_merge", p.snap(&["show", "5e0000000005"]));
    insta::assert_snapshot!("show_branchpoint", p.snap(&["show", "1a0000000001"]));
    // `audit` is declared by 3c; its head is the head of the line it is on.
    assert_eq!(p.ok(&["show", "audit@head"]), p.ok(&["show", "6f00"]));
    assert_eq!(p.ok(&["show", "audit"]), p.ok(&["show", "3c0000000003"]));
    assert_eq!(p.ok(&["show", "head-1"]), p.ok(&["show", "5e0000000005"]));
    assert_eq!(p.ok(&["show", "4d00-1"]), p.ok(&["show", "3c0000000003"]));
    // Two steps down from the head crosses the merge: there is no single revision there.
    insta::assert_snapshot!("show_walk_past_merge", p.snap(&["show", "head-2"]));
}

#[test]
fn show_with_sql_and_without_down() {
    let p = Project::with_files(&[
        (
            "a_first.sql",
            &common::rev_file("a1a1a1a1", "", "first", "-- Branch Labels: core"),
        ),
        (
            "b_second.sql",
            "-- second, irreversible\n-- Revision ID: b2b2b2b2\n-- Revises: a1a1a1a1\n\
             -- Transactional: false\n\n-- migrate:up\nCREATE INDEX CONCURRENTLY i ON t (x);\n",
        ),
    ]);
    insta::assert_snapshot!("show_label_head", p.snap(&["show", "core@head"]));
    insta::assert_snapshot!("show_no_down", p.snap(&["show", "b2b2"]));
}

#[test]
fn show_json() {
    let p = Project::with_files(&[(
        "a_first.sql",
        &common::rev_file("a1a1a1a1", "", "first", "-- Branch Labels: core"),
    )]);
    let out = p.run(&["show", "--json", "a1a1"]);
    assert!(out.status.success());
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["up"], "SELECT 'a1a1a1a1 up';\n\n");
    assert_eq!(value["down"], "SELECT 'a1a1a1a1 down';\n");
    let checksum = value["checksum"].as_str().unwrap();
    assert_eq!(checksum.len(), 64);
    assert!(p.ok(&["show", "a1a1"]).contains(checksum));
    insta::assert_snapshot!("show_json", p.snap(&["show", "--json", "a1a1"]));
}

#[test]
fn completions_bash() {
    let p = Project::empty();
    let out = p.run(&["completions", "bash"]);
    assert!(out.status.success());
    assert!(out.stderr.is_empty());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("alembix"), "{text}");
    assert!(text.contains("history"), "{text}");
}

#[test]
fn help_exits_zero() {
    let p = Project::empty();
    let top = p.ok(&["--help"]);
    for command in [
        "init", "revision", "merge", "heads", "branches", "history", "show",
    ] {
        assert!(top.contains(command), "{command} missing from:\n{top}");
    }
    let history = p.ok(&["history", "--help"]);
    assert!(history.contains("--rev-range <A:B>"), "{history}");
    assert!(history.contains("--json"), "{history}");
    let version = p.ok(&["--version"]);
    assert!(version.starts_with("alembix "), "{version}");
}

#[test]
fn unknown_subcommand_exits_2() {
    let p = Project::empty();
    insta::assert_snapshot!("unknown_subcommand", p.snap(&["frobnicate"]));
}

#[test]
fn missing_required_argument_exits_2() {
    let p = Project::init();
    let out = p.run(&["revision"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--message <MESSAGE>"));
}

/// Read commands take unchanged headers from the header index in the cache directory, and see an edit of a
/// file at once, even one that keeps its size; `ALEMBIX_NO_CACHE=1` writes no index.
#[test]
fn header_index_follows_edits() {
    let one = "-- one\n-- Revision ID: aaaaaaaaaaaa\n-- Revises:\n-- migrate:up\nSELECT 1;\n";
    let two = "-- two\n-- Revision ID: bbbbbbbbbbbb\n-- Revises: aaaaaaaaaaaa\n-- migrate:up\nSELECT 2;\n";
    let p = Project::with_files(&[("a_one.sql", one), ("b_two.sql", two)]);
    let cache = p.path("cache");
    let heads = |extra: &[(&str, &str)]| {
        let mut cmd = p.cmd(&["heads"]);
        cmd.env("ALEMBIX_CACHE_DIR", &cache)
            .env_remove("ALEMBIX_NO_CACHE");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", common::render(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let indexes = || -> Vec<String> {
        std::fs::read_dir(&cache)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|n| n.starts_with("revisions-"))
                    .collect()
            })
            .unwrap_or_default()
    };
    // Files changed in the last 3 s are parsed every time and not indexed: let these get older.
    std::thread::sleep(std::time::Duration::from_millis(3300));
    heads(&[("ALEMBIX_NO_CACHE", "1")]);
    assert!(
        indexes().is_empty(),
        "ALEMBIX_NO_CACHE=1 wrote {:?}",
        indexes()
    );
    assert_eq!(heads(&[]), "bbbbbbbbbbbb (head)\n");
    assert_eq!(indexes().len(), 1);
    assert_eq!(heads(&[]), "bbbbbbbbbbbb (head)\n");
    // Same size, same second: b becomes a second root.
    let edited = two.replace("Revises: aaaaaaaaaaaa", "Revises:             ");
    assert_eq!(edited.len(), two.len());
    p.write("migrations/b_two.sql", &edited);
    let out = heads(&[]);
    assert!(
        out.contains("aaaaaaaaaaaa (head)") && out.contains("bbbbbbbbbbbb (head)"),
        "{out}"
    );
    assert!(p.ok(&["show", "bbbbbbbbbbbb"]).contains("SELECT 2;"));
}
