//! Engine tests through the public library API, on PostgreSQL, MySQL/MariaDB and SQLite: every scenario is
//! one async fn run once per dialect, and checks the database by reading it back with SQL.
#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use std::time::Duration;

use alembix::dialect;
use alembix::migrate::{MigrateError, MigrateOptions, Operation, StatementFailure};
use alembix::{Direction, Event};

use common::{migrate_error, migrator, migrator_with, rev, strings, Kind, TestDb};

fn statement_failure(e: &alembix::Error) -> &StatementFailure {
    match migrate_error(e) {
        MigrateError::Statement(f) => f,
        other => panic!("expected a statement failure, got: {other}"),
    }
}

fn create(table: &str) -> String {
    format!("CREATE TABLE {table} (id INT);")
}

fn drop_table(table: &str) -> String {
    format!("DROP TABLE {table};")
}

/// A revision that creates table `t_<id>` and drops it going down.
fn table_rev(id: &str, revises: &[&str], headers: &[(&str, &str)]) -> (String, String) {
    let t = format!("t_{id}");
    rev(id, revises, headers, &create(&t), &drop_table(&t))
}

// ---------------------------------------------------------------------------------------------------------
// 1. Branches, merges and dependencies.

/// rootrev -> arev1 -> arev2 -> mergerev <- brev1 <- rootrev; crootrev (label `cside`) -> crev1, which
/// depends on arev1 (and writes into its table, so it fails if run before it).
fn branchy_project() -> Vec<(String, String)> {
    vec![
        table_rev("rootrev", &[], &[]),
        table_rev("arev1", &["rootrev"], &[]),
        table_rev("arev2", &["arev1"], &[]),
        table_rev("brev1", &["rootrev"], &[]),
        table_rev("mergerev", &["arev2", "brev1"], &[]),
        table_rev("crootrev", &[], &[("Branch Labels", "cside")]),
        rev(
            "crev1",
            &["crootrev"],
            &[("Depends On", "arev1")],
            "CREATE TABLE t_crev1 (id INT);\nINSERT INTO t_arev1 (id) VALUES (1);",
            "DELETE FROM t_arev1;\nDROP TABLE t_crev1;",
        ),
    ]
}

const BRANCHY_TABLES: [&str; 7] = [
    "t_rootrev",
    "t_arev1",
    "t_arev2",
    "t_brev1",
    "t_mergerev",
    "t_crootrev",
    "t_crev1",
];

async fn branches_and_merges(db: TestDb) {
    let m = migrator(branchy_project());
    let state = |db: &TestDb| {
        let db = db.clone();
        async move { (db.versions().await, db.existing(&BRANCHY_TABLES).await) }
    };

    // A branch head only.
    let out = db.upgrade(&m, "arev2").await.unwrap();
    assert_eq!(out.heads_after, strings(&["arev2"]));
    assert_eq!(
        state(&db).await,
        (
            strings(&["arev2"]),
            strings(&["t_rootrev", "t_arev1", "t_arev2"])
        )
    );

    // A label's head on the other root: pulls in its own root; its dependency is already there.
    db.upgrade(&m, "cside@head").await.unwrap();
    assert_eq!(
        state(&db).await,
        (
            strings(&["arev2", "crev1"]),
            strings(&["t_rootrev", "t_arev1", "t_arev2", "t_crootrev", "t_crev1"])
        )
    );
    assert_eq!(
        db.column(&format!("SELECT {} FROM t_arev1", db.text("id")))
            .await,
        strings(&["1"])
    );

    // All heads: the other side of the branch and the merge.
    let out = db.upgrade(&m, "heads").await.unwrap();
    let applied: Vec<&str> = out.steps.iter().map(|s| s.revision.as_str()).collect();
    assert_eq!(applied, ["brev1", "mergerev"]);
    assert_eq!(
        state(&db).await,
        (strings(&["crev1", "mergerev"]), strings(&BRANCHY_TABLES))
    );
    let history_len = db.history().await.len();
    assert_eq!(history_len, 7);

    // `upgrade heads` again is a no-op.
    let out = db.upgrade(&m, "heads").await.unwrap();
    assert!(out.steps.is_empty(), "{:?}", out.steps);
    assert_eq!(db.history().await.len(), history_len);
    assert_eq!(db.versions().await, strings(&["crev1", "mergerev"]));

    // One step down on a branch.
    db.downgrade(&m, "cside@-1").await.unwrap();
    assert_eq!(
        state(&db).await,
        (
            strings(&["crootrev", "mergerev"]),
            strings(&[
                "t_rootrev",
                "t_arev1",
                "t_arev2",
                "t_brev1",
                "t_mergerev",
                "t_crootrev"
            ])
        )
    );
    assert!(db
        .column(&format!("SELECT {} FROM t_arev1", db.text("id")))
        .await
        .is_empty());

    // Undo the merge: both of its parents become heads again.
    db.downgrade(&m, "brev1").await.unwrap();
    assert_eq!(
        state(&db).await,
        (
            strings(&["arev2", "brev1", "crootrev"]),
            strings(&["t_rootrev", "t_arev1", "t_arev2", "t_brev1", "t_crootrev"])
        )
    );

    // Back to the branch point.
    let out = db.downgrade(&m, "rootrev").await.unwrap();
    assert_eq!(out.steps.len(), 3, "{:?}", out.steps);
    assert!(out.steps.iter().all(|s| s.direction == Direction::Down));
    assert_eq!(
        state(&db).await,
        (
            strings(&["crootrev", "rootrev"]),
            strings(&["t_rootrev", "t_crootrev"])
        )
    );

    // A dependency takes its dependents down with it (`REV-1`: arev1 and everything above it).
    db.upgrade(&m, "heads").await.unwrap();
    assert_eq!(db.existing(&BRANCHY_TABLES).await.len(), 7);
    db.downgrade(&m, "arev1-1").await.unwrap();
    assert_eq!(
        state(&db).await,
        (
            strings(&["brev1", "crootrev"]),
            strings(&["t_rootrev", "t_brev1", "t_crootrev"])
        )
    );

    // A label's base, then `-1` with a single head.
    db.downgrade(&m, "cside@base").await.unwrap();
    assert_eq!(
        state(&db).await,
        (strings(&["brev1"]), strings(&["t_rootrev", "t_brev1"]))
    );
    db.downgrade(&m, "-1").await.unwrap();
    assert_eq!(
        state(&db).await,
        (strings(&["rootrev"]), strings(&["t_rootrev"]))
    );

    // Everything up, then everything down.
    db.upgrade(&m, "heads").await.unwrap();
    let out = db.downgrade(&m, "base").await.unwrap();
    assert_eq!(out.steps.len(), 7);
    assert!(out.heads_after.is_empty());
    assert_eq!(state(&db).await, (Vec::new(), Vec::new()));
    let history = db.history().await;
    let downs = history.iter().filter(|(_, d)| d == "down").count();
    let ups = history.iter().filter(|(_, d)| d == "up").count();
    assert_eq!((ups, downs), (3 + 2 + 2 + 5 + 6, 1 + 1 + 3 + 4 + 1 + 1 + 7));
}

per_dialect!(branches_and_merges => postgres_branches_and_merges, mysql_branches_and_merges, sqlite_branches_and_merges);

// ---------------------------------------------------------------------------------------------------------
// 2. Stamp.

fn linear_project(n: usize) -> Vec<(String, String)> {
    (1..=n)
        .map(|i| {
            let id = format!("lin{i}");
            let parent = format!("lin{}", i - 1);
            let parents: Vec<&str> = if i == 1 { vec![] } else { vec![&parent] };
            table_rev(&id, &parents, &[])
        })
        .collect()
}

const LINEAR_TABLES: [&str; 3] = ["t_lin1", "t_lin2", "t_lin3"];

async fn stamp(db: TestDb) {
    let m = migrator(linear_project(3));
    let stamp = |target: &str, purge: bool| Operation::Stamp {
        target: target.into(),
        purge,
    };

    db.run(&m, stamp("lin2", false)).await.unwrap();
    assert_eq!(db.versions().await, strings(&["lin2"]));
    assert!(db.existing(&LINEAR_TABLES).await.is_empty());
    assert_eq!(
        db.history().await,
        vec![
            ("lin1".to_string(), "stamp".to_string()),
            ("lin2".to_string(), "stamp".to_string())
        ]
    );

    db.run(&m, stamp("head", false)).await.unwrap();
    assert_eq!(db.versions().await, strings(&["lin3"]));
    assert!(db.existing(&LINEAR_TABLES).await.is_empty());

    // Already at head: nothing runs.
    let out = db.upgrade(&m, "head").await.unwrap();
    assert!(out.steps.is_empty());
    assert!(db.existing(&LINEAR_TABLES).await.is_empty());

    // Stamp down, then a real upgrade runs only what the stamp says is missing.
    db.run(&m, stamp("lin1", false)).await.unwrap();
    assert_eq!(db.versions().await, strings(&["lin1"]));
    assert!(db.existing(&LINEAR_TABLES).await.is_empty());
    db.upgrade(&m, "head").await.unwrap();
    assert_eq!(db.versions().await, strings(&["lin3"]));
    assert_eq!(
        db.existing(&LINEAR_TABLES).await,
        strings(&["t_lin2", "t_lin3"])
    );

    // The version table names a revision no file has.
    db.exec(
        "DELETE FROM alembix_version; INSERT INTO alembix_version (version_num) VALUES ('deadbeef0000')",
    )
    .await;
    let history_len = db.history().await.len();
    for op in [Operation::Upgrade("head".into()), stamp("lin2", false)] {
        let e = db.run(&m, op.clone()).await.unwrap_err();
        match migrate_error(&e) {
            MigrateError::UnknownRevision { revision, .. } => assert_eq!(revision, "deadbeef0000"),
            other => panic!("{op:?}: expected UnknownRevision, got {other}"),
        }
        assert_eq!(db.versions().await, strings(&["deadbeef0000"]));
    }
    assert_eq!(db.history().await.len(), history_len);

    // `--purge` forgets what the table says.
    db.run(&m, stamp("lin2", true)).await.unwrap();
    assert_eq!(db.versions().await, strings(&["lin2"]));
    assert_eq!(
        db.existing(&LINEAR_TABLES).await,
        strings(&["t_lin2", "t_lin3"]),
        "a stamp runs no SQL"
    );

    // Stamp base empties the table.
    db.run(&m, stamp("base", false)).await.unwrap();
    assert!(db.versions().await.is_empty());
    assert_eq!(db.existing(&LINEAR_TABLES).await.len(), 2);
}

per_dialect!(stamp => postgres_stamp, mysql_stamp, sqlite_stamp);

// ---------------------------------------------------------------------------------------------------------
// 3. A statement fails in the middle of a revision.

async fn failure_mid_migration(db: TestDb) {
    let bad = rev(
        "badrev",
        &["okrev"],
        &[],
        "CREATE TABLE partial (id INT);\nINSERT INTO partial (id)\nSELECT id FROM missing_table;",
        "DROP TABLE partial;",
    );
    let line_of = |needle: &str| bad.1.lines().position(|l| l.contains(needle)).unwrap() + 1;
    // PostgreSQL reports where in the statement the error is; the others, where the statement starts.
    let expected_line = match db.kind {
        Kind::Postgres => line_of("FROM missing_table"),
        _ => line_of("INSERT INTO partial"),
    };
    let m = migrator(vec![table_rev("okrev", &[], &[]), bad.clone()]);
    let mut finished = Vec::new();
    let e = m
        .run(
            &db.url,
            &Operation::Upgrade("head".into()),
            false,
            &mut |ev| {
                if let Event::StepFinished { step, .. } = ev {
                    finished.push(step.revision);
                }
            },
        )
        .await
        .unwrap_err();
    assert_eq!(finished, ["okrev"]);
    let f = statement_failure(&e);
    assert_eq!(f.revision, "badrev");
    assert_eq!(f.file, std::path::PathBuf::from("badrev_rev.sql"));
    assert_eq!(f.direction, Direction::Up);
    assert_eq!((f.index, f.count), (2, 2));
    assert_eq!(f.line, expected_line, "{e}");
    assert!(f.sql.starts_with("INSERT INTO partial"), "{}", f.sql);
    assert!(f.error.contains("missing_table"), "{}", f.error);
    assert!(f.rolled_back_steps.is_empty());

    // The revision before it stays applied and recorded; nothing is recorded for the failed one.
    assert_eq!(db.versions().await, strings(&["okrev"]));
    assert!(db.has_table("t_okrev").await);
    assert_eq!(
        db.history().await,
        vec![("okrev".to_string(), "up".to_string())]
    );
    if db.kind == Kind::Mysql {
        // DDL commits implicitly: statement 1 happened, and the error says so.
        assert!(db.has_table("partial").await);
        assert_eq!(f.committed.len(), 1, "{:?}", f.committed);
        assert_eq!(f.committed[0].0, 1);
        assert!(
            f.committed[0].1.starts_with("CREATE TABLE partial"),
            "{:?}",
            f.committed
        );
        assert!(e.to_string().contains("partially applied"), "{e}");
    } else {
        assert!(
            !db.has_table("partial").await,
            "statement 1 was not rolled back"
        );
        assert!(f.committed.is_empty(), "{:?}", f.committed);
        assert!(e.to_string().contains("rolled back"), "{e}");
    }

    // The lock was released: a second run gets the same far without waiting.
    let quick = migrator_with(
        vec![table_rev("okrev", &[], &[]), bad],
        MigrateOptions {
            lock_timeout: Duration::from_millis(300),
            ..MigrateOptions::default()
        },
    );
    let e = db.upgrade(&quick, "head").await.unwrap_err();
    if db.kind == Kind::Mysql {
        // MySQL: the first attempt's statement 1 committed. The second run does not run the revision again
        // (its table would be in the way); it says the revision was interrupted and what had committed.
        match migrate_error(&e) {
            MigrateError::Interrupted(i) => {
                assert_eq!(
                    (i.revision.as_str(), i.done, i.total),
                    ("badrev", 1, Some(2)),
                    "{e}"
                );
                assert!(i.committed[0].starts_with("CREATE TABLE partial"), "{e}");
            }
            other => panic!("expected an interrupted step, got: {other}"),
        }
    } else {
        let f = statement_failure(&e);
        assert_eq!(f.revision, "badrev");
        assert_eq!(f.index, 2, "{e}");
    }
    assert_eq!(db.versions().await, strings(&["okrev"]));
    assert_eq!(db.history().await.len(), 1);
}

per_dialect!(failure_mid_migration => postgres_failure_mid_migration, mysql_failure_mid_migration, sqlite_failure_mid_migration);

// ---------------------------------------------------------------------------------------------------------
// 4. Checksums.

async fn checksums(db: TestDb) {
    let r1 = table_rev("sum1", &[], &[]);
    let r2 = table_rev("sum2", &["sum1"], &[]);
    let r3 = table_rev("sum3", &["sum2"], &[]);
    let m = migrator(vec![r1.clone(), r2.clone(), r3.clone()]);
    db.upgrade(&m, "sum1").await.unwrap();

    // Only line endings changed: not an edit.
    let crlf = (r1.0.clone(), r1.1.replace('\n', "\r\n"));
    let m_crlf = migrator(vec![crlf, r2.clone(), r3.clone()]);
    db.upgrade(&m_crlf, "sum2").await.unwrap();
    assert_eq!(db.versions().await, strings(&["sum2"]));

    // A real edit of an applied revision stops the run before anything happens.
    let edited = (
        r1.0.clone(),
        r1.1.replace("(id INT)", "(id INT, note VARCHAR(10))"),
    );
    assert_ne!(edited.1, r1.1);
    let m_edit = migrator(vec![edited, r2.clone(), r3.clone()]);
    for op in [
        Operation::Upgrade("head".into()),
        Operation::Downgrade("base".into()),
    ] {
        let e = db.run(&m_edit, op).await.unwrap_err();
        match migrate_error(&e) {
            MigrateError::Edited { edits } => {
                assert_eq!(edits.len(), 1, "{e}");
                assert_eq!(edits[0].revision, "sum1");
                assert_eq!(edits[0].file, std::path::PathBuf::from("sum1_rev.sql"));
                assert_ne!(edits[0].recorded, edits[0].actual);
            }
            other => panic!("expected Edited, got {other}"),
        }
        assert!(e.to_string().contains("sum1_rev.sql"), "{e}");
        assert_eq!(db.versions().await, strings(&["sum2"]));
        assert_eq!(
            db.existing(&["t_sum1", "t_sum2", "t_sum3"]).await,
            strings(&["t_sum1", "t_sum2"])
        );
    }

    // An unedited, unapplied revision does not count; an edited applied one can be accepted.
    let out = db
        .run(&m_edit, Operation::Rehash(vec!["sum1".into()]))
        .await
        .unwrap();
    assert_eq!(out.steps.len(), 1);
    assert_eq!(
        db.history().await.last().unwrap(),
        &("sum1".to_string(), "rehash".to_string())
    );
    db.upgrade(&m_edit, "head").await.unwrap();
    assert_eq!(db.versions().await, strings(&["sum3"]));
    assert!(db.has_table("t_sum3").await);

    // Now the original file is the "edit".
    let e = db.upgrade(&m, "head").await.unwrap_err();
    assert!(
        matches!(migrate_error(&e), MigrateError::Edited { edits } if edits[0].revision == "sum1"),
        "{e}"
    );
}

per_dialect!(checksums => postgres_checksums, mysql_checksums, sqlite_checksums);

// ---------------------------------------------------------------------------------------------------------
// 5. Dry run and offline SQL.

async fn dry_run_and_offline(db: TestDb) {
    let m = migrator(vec![
        table_rev("dry1", &[], &[]),
        table_rev("dry2", &["dry1"], &[]),
    ]);
    let up = Operation::Upgrade("head".into());

    let out = m.run(&db.url, &up, true, &mut |_| {}).await.unwrap();
    assert_eq!(out.steps.len(), 2);
    let sql = out.sql.join("\n");
    assert!(
        sql.contains("CREATE TABLE IF NOT EXISTS alembix_version"),
        "{sql}"
    );
    assert!(sql.contains("CREATE TABLE t_dry1 (id INT)"), "{sql}");
    assert!(sql.contains("CREATE TABLE t_dry2 (id INT)"), "{sql}");
    assert!(sql.contains("INSERT INTO alembix_version"), "{sql}");
    assert!(db
        .existing(&["alembix_version", "alembix_history", "t_dry1", "t_dry2"])
        .await
        .is_empty());

    // Against a database that is part-way: only what is missing, and still nothing changes.
    db.upgrade(&m, "dry1").await.unwrap();
    let out = m.run(&db.url, &up, true, &mut |_| {}).await.unwrap();
    let sql = out.sql.join("\n");
    assert_eq!(out.steps.len(), 1);
    assert!(!sql.contains("t_dry1"), "{sql}");
    assert!(
        !sql.contains("CREATE TABLE IF NOT EXISTS alembix_version"),
        "{sql}"
    );
    assert!(sql.contains("CREATE TABLE t_dry2"), "{sql}");
    let down = Operation::Downgrade("base".into());
    let out = m.run(&db.url, &down, true, &mut |_| {}).await.unwrap();
    assert!(out.sql.join("\n").contains("DROP TABLE t_dry1"));
    assert_eq!(db.versions().await, strings(&["dry1"]));
    assert_eq!(
        db.existing(&["t_dry1", "t_dry2"]).await,
        strings(&["t_dry1"])
    );
    assert_eq!(db.history().await.len(), 1);

    // Offline: no database at all.
    let out = m.offline(db.dialect(), &up, vec![]).await.unwrap();
    let sql = out.sql.join("\n");
    assert!(
        sql.contains("CREATE TABLE IF NOT EXISTS alembix_version"),
        "{sql}"
    );
    assert!(sql.contains("CREATE TABLE t_dry1 (id INT)"), "{sql}");
    assert!(sql.contains("CREATE TABLE t_dry2 (id INT)"), "{sql}");
    assert!(sql.contains("'dry2'"), "{sql}");
    let out = m
        .offline(db.dialect(), &up, vec!["dry1".into()])
        .await
        .unwrap();
    let sql = out.sql.join("\n");
    assert!(!sql.contains("CREATE TABLE t_dry1"), "{sql}");
    assert!(sql.contains("CREATE TABLE t_dry2"), "{sql}");
}

per_dialect!(dry_run_and_offline => postgres_dry_run_and_offline, mysql_dry_run_and_offline, sqlite_dry_run_and_offline);

// ---------------------------------------------------------------------------------------------------------
// 6. The migration lock.

async fn lock(db: TestDb) {
    let m = migrator_with(
        vec![table_rev("lck1", &[], &[])],
        MigrateOptions {
            lock_timeout: Duration::from_millis(300),
            ..MigrateOptions::default()
        },
    );
    let name = dialect::lock_name(&db.url, "alembix_version");
    let mut holder = db.conn().await;
    match db.kind {
        Kind::Postgres => {
            let key = dialect::postgres::lock_key(&name);
            holder
                .execute(&format!("SELECT pg_advisory_lock({key})"))
                .await
                .unwrap();
        }
        Kind::Mysql => {
            let rows = holder
                .query_text(&format!(
                    "SELECT CAST(GET_LOCK({}, 0) AS CHAR)",
                    dialect::literal(&name, db.dialect())
                ))
                .await
                .unwrap();
            assert_eq!(rows, vec![vec![Some("1".to_string())]]);
        }
        Kind::Sqlite => assert!(holder.try_lock(&name).await.unwrap()),
    }

    let mut waits = Vec::new();
    let started = std::time::Instant::now();
    let e = m
        .run(
            &db.url,
            &Operation::Upgrade("head".into()),
            false,
            &mut |ev| {
                if let Event::LockWait { holder } = ev {
                    waits.push(holder);
                }
            },
        )
        .await
        .unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(started.elapsed() < Duration::from_secs(10));
    match migrate_error(&e) {
        MigrateError::LockTimeout { waited, holder } => {
            assert!(*waited >= Duration::from_millis(300));
            if db.kind != Kind::Sqlite {
                let h = holder
                    .as_deref()
                    .unwrap_or_else(|| panic!("no holder: {e}"));
                assert!(!h.is_empty());
            }
        }
        other => panic!("expected LockTimeout, got {other}"),
    }
    assert_eq!(waits.len(), 1);
    assert!(!db.has_table("t_lck1").await);
    assert!(db.versions().await.is_empty());

    match db.kind {
        Kind::Postgres => {
            let key = dialect::postgres::lock_key(&name);
            let rows = holder
                .query_text(&format!("SELECT pg_advisory_unlock({key})::text"))
                .await
                .unwrap();
            assert_eq!(rows, vec![vec![Some("true".to_string())]]);
        }
        _ => holder.unlock(&name).await.unwrap(),
    }
    db.upgrade(&m, "head").await.unwrap();
    assert!(db.has_table("t_lck1").await);
    assert_eq!(db.versions().await, strings(&["lck1"]));

    // The run released it: the other connection can take it at once.
    assert!(holder.try_lock(&name).await.unwrap());
    holder.unlock(&name).await.unwrap();
    holder.close().await;
}

per_dialect!(lock => postgres_lock, mysql_lock, sqlite_lock);

// ---------------------------------------------------------------------------------------------------------
// 7. `Transactional: false`.

async fn non_transactional(db: TestDb) {
    let concurrently = if db.kind == Kind::Postgres {
        "CONCURRENTLY "
    } else {
        ""
    };
    let drop_index = |name: &str| match db.kind {
        Kind::Postgres => format!("DROP INDEX CONCURRENTLY {name};"),
        Kind::Mysql => format!("DROP INDEX {name} ON big;"),
        Kind::Sqlite => format!("DROP INDEX {name};"),
    };
    let m = migrator(vec![
        rev(
            "ntx1",
            &[],
            &[],
            "CREATE TABLE big (id INT, v INT);",
            "DROP TABLE big;",
        ),
        rev(
            "ntx2",
            &["ntx1"],
            &[("Transactional", "false")],
            &format!(
                "CREATE INDEX {concurrently}big_v ON big (v);\nCREATE INDEX {concurrently}big_id ON big (id);"
            ),
            &format!("{}\n{}", drop_index("big_id"), drop_index("big_v")),
        ),
        rev(
            "ntx3",
            &["ntx2"],
            &[("Transactional", "false")],
            &format!(
                "CREATE INDEX {concurrently}big_both ON big (id, v);\nCREATE INDEX {concurrently}big_nope ON nope (id);"
            ),
            &drop_index("big_both"),
        ),
    ]);
    let index_sql = match db.kind {
        Kind::Postgres => "SELECT indexname::text FROM pg_indexes WHERE tablename = 'big'",
        Kind::Mysql => {
            "SELECT DISTINCT INDEX_NAME FROM information_schema.STATISTICS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'big'"
        }
        Kind::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'big'",
    };

    let out = db.upgrade(&m, "ntx2").await.unwrap();
    assert!(!out.steps[1].transactional);
    assert_eq!(db.versions().await, strings(&["ntx2"]));
    assert_eq!(db.column(index_sql).await, strings(&["big_id", "big_v"]));
    assert_eq!(
        db.history().await,
        vec![
            ("ntx1".to_string(), "up".to_string()),
            ("ntx2".to_string(), "up".to_string())
        ]
    );

    // A failure outside a transaction: what ran is committed and the error lists it.
    let e = db.upgrade(&m, "head").await.unwrap_err();
    let f = statement_failure(&e);
    assert_eq!((f.revision.as_str(), f.index, f.count), ("ntx3", 2, 2));
    assert_eq!(f.committed.len(), 1, "{e}");
    assert!(f.committed[0].1.contains("big_both"), "{e}");
    assert_eq!(
        db.column(index_sql).await,
        strings(&["big_both", "big_id", "big_v"])
    );
    assert_eq!(db.versions().await, strings(&["ntx2"]));
    assert_eq!(db.history().await.len(), 2);
    // Undone by hand, the interrupted step is forgotten with `repair` (until then it blocks the next run).
    db.exec(&drop_index("big_both")).await;
    assert!(matches!(
        migrate_error(&db.downgrade(&m, "ntx1").await.unwrap_err()),
        MigrateError::Interrupted(_)
    ));
    db.run(&m, Operation::Repair).await.unwrap();

    db.downgrade(&m, "ntx1").await.unwrap();
    assert_eq!(db.versions().await, strings(&["ntx1"]));
    assert!(db.column(index_sql).await.is_empty());
}

per_dialect!(non_transactional => postgres_non_transactional, mysql_non_transactional, sqlite_non_transactional);

// ---------------------------------------------------------------------------------------------------------
// 8. Statement splitting, end to end: compound bodies with semicolons inside.

async fn compound_statements(db: TestDb) {
    let (up, down, check, expected) = match db.kind {
        Kind::Sqlite => (
            "CREATE TABLE item (id INTEGER PRIMARY KEY, qty INT);\n\
             CREATE TABLE audit (item_id INT, note TEXT);\n\
             CREATE TRIGGER item_audit AFTER INSERT ON item\n\
             BEGIN\n\
             \x20   INSERT INTO audit (item_id, note) VALUES (NEW.id, 'added; qty=' || NEW.qty);\n\
             \x20   UPDATE item SET qty = qty * 10 WHERE id = NEW.id;\n\
             END;\n\
             INSERT INTO item (id, qty) VALUES (1, 2);",
            "DROP TRIGGER item_audit;\nDROP TABLE audit;\nDROP TABLE item;",
            "SELECT note || ' / ' || (SELECT CAST(qty AS TEXT) FROM item WHERE id = 1) FROM audit",
            "added; qty=2 / 20",
        ),
        Kind::Postgres => (
            "CREATE TABLE item (id INT PRIMARY KEY, qty INT);\n\
             CREATE TABLE audit (item_id INT, note TEXT);\n\
             CREATE FUNCTION item_audit() RETURNS trigger LANGUAGE plpgsql AS $$\n\
             DECLARE\n\
             \x20   msg text;\n\
             BEGIN\n\
             \x20   IF NEW.qty > 1 THEN\n\
             \x20       msg := 'added; qty=' || NEW.qty;\n\
             \x20   ELSE\n\
             \x20       msg := 'single';\n\
             \x20   END IF;\n\
             \x20   INSERT INTO audit (item_id, note) VALUES (NEW.id, msg);\n\
             \x20   RETURN NEW;\n\
             END;\n\
             $$;\n\
             CREATE TRIGGER item_audit AFTER INSERT ON item FOR EACH ROW EXECUTE FUNCTION item_audit();\n\
             INSERT INTO item (id, qty) VALUES (1, 2);",
            "DROP TRIGGER item_audit ON item;\nDROP FUNCTION item_audit();\nDROP TABLE audit;\nDROP TABLE item;",
            "SELECT note || ' / ' || (SELECT qty::text FROM item WHERE id = 1) FROM audit",
            "added; qty=2 / 2",
        ),
        Kind::Mysql => (
            "CREATE TABLE item (id INT PRIMARY KEY, qty INT);\n\
             CREATE TABLE audit (item_id INT, note VARCHAR(100));\n\
             CREATE PROCEDURE add_item(IN p_id INT, IN p_qty INT)\n\
             BEGIN\n\
             \x20   DECLARE msg VARCHAR(100);\n\
             \x20   IF p_qty > 1 THEN\n\
             \x20       SET msg = CONCAT('added; qty=', p_qty);\n\
             \x20   ELSE\n\
             \x20       SET msg = 'single';\n\
             \x20   END IF;\n\
             \x20   INSERT INTO item (id, qty) VALUES (p_id, p_qty);\n\
             \x20   INSERT INTO audit (item_id, note) VALUES (p_id, msg);\n\
             END;\n\
             CALL add_item(1, 2);",
            "DROP PROCEDURE add_item;\nDROP TABLE audit;\nDROP TABLE item;",
            "SELECT CONCAT(note, ' / ', (SELECT CAST(qty AS CHAR) FROM item WHERE id = 1)) FROM audit",
            "added; qty=2 / 2",
        ),
    };
    let m = migrator(vec![rev("cmp1", &[], &[], up, down)]);
    let out = m
        .offline(db.dialect(), &Operation::Upgrade("head".into()), vec![])
        .await
        .unwrap();
    // The bookkeeping DDL, a note, BEGIN, then the body in the expected number of statements.
    let body_statements = out
        .sql
        .iter()
        .filter(|s| s.contains("item") || s.contains("audit"))
        .count();
    let expected_count = match db.kind {
        Kind::Postgres => 5,
        _ => 4,
    };
    assert_eq!(body_statements, expected_count, "{:#?}", out.sql);

    db.upgrade(&m, "head").await.unwrap();
    assert_eq!(db.versions().await, strings(&["cmp1"]));
    assert_eq!(db.column(check).await, strings(&[expected]));
    db.downgrade(&m, "base").await.unwrap();
    assert!(db.existing(&["item", "audit"]).await.is_empty());
    assert!(db.versions().await.is_empty());
}

per_dialect!(compound_statements => postgres_compound_statements, mysql_compound_statements, sqlite_compound_statements);

/// MySQL dumps and procedures written for the `mysql` client use `DELIMITER`.
async fn mysql_delimiter(db: TestDb) {
    let up = "CREATE TABLE counter (n INT);\n\
              INSERT INTO counter VALUES (0);\n\
              DELIMITER $$\n\
              CREATE PROCEDURE bump()\n\
              BEGIN\n\
              \x20   UPDATE counter SET n = n + 1;\n\
              \x20   UPDATE counter SET n = n * 10;\n\
              END$$\n\
              DELIMITER ;\n\
              CALL bump();";
    let m = migrator(vec![rev(
        "dlm1",
        &[],
        &[],
        up,
        "DROP PROCEDURE bump;\nDROP TABLE counter;",
    )]);
    db.upgrade(&m, "head").await.unwrap();
    assert_eq!(
        db.column("SELECT CAST(n AS CHAR) FROM counter").await,
        strings(&["10"])
    );
    db.downgrade(&m, "base").await.unwrap();
    assert!(!db.has_table("counter").await);
}

#[tokio::test]
async fn mysql_delimiter_directive() {
    common::run(Kind::Mysql, mysql_delimiter).await
}

// ---------------------------------------------------------------------------------------------------------
// 9. One transaction for the whole run.

async fn one_transaction(db: TestDb) {
    let options = MigrateOptions {
        transaction_per_migration: false,
        ..MigrateOptions::default()
    };
    let mut files = linear_project(2);
    files.push(rev(
        "lin3",
        &["lin2"],
        &[],
        "CREATE TABLE t_lin3 (id INT);\nINSERT INTO nowhere (id) VALUES (1);",
        "DROP TABLE t_lin3;",
    ));
    let m = migrator_with(files, options.clone());
    let e = db.upgrade(&m, "head").await.unwrap_err();
    let f = statement_failure(&e);
    assert_eq!((f.revision.as_str(), f.index), ("lin3", 2));
    if db.kind == Kind::Mysql {
        // DDL cannot be rolled back: each revision commits on its own whatever the option says.
        assert!(f.rolled_back_steps.is_empty(), "{e}");
        assert_eq!(db.versions().await, strings(&["lin2"]));
        assert_eq!(db.existing(&LINEAR_TABLES).await, LINEAR_TABLES);
        assert_eq!(db.history().await.len(), 2);
        return;
    }
    assert_eq!(f.rolled_back_steps, strings(&["lin1", "lin2"]), "{e}");
    assert!(e.to_string().contains("lin1, lin2"), "{e}");
    assert!(db.versions().await.is_empty());
    assert!(db.existing(&LINEAR_TABLES).await.is_empty());
    assert!(db.history().await.is_empty());

    // Without the bad revision the shared transaction commits everything.
    let m = migrator_with(linear_project(2), options);
    let out = db.upgrade(&m, "head").await.unwrap();
    assert_eq!(out.steps.len(), 2);
    assert_eq!(db.versions().await, strings(&["lin2"]));
    assert_eq!(
        db.existing(&LINEAR_TABLES).await,
        strings(&["t_lin1", "t_lin2"])
    );
    assert_eq!(db.history().await.len(), 2);
    db.downgrade(&m, "base").await.unwrap();
    assert!(db.versions().await.is_empty());
    assert!(db.existing(&LINEAR_TABLES).await.is_empty());
}

per_dialect!(one_transaction => postgres_one_transaction, mysql_one_transaction, sqlite_one_transaction);

// ---------------------------------------------------------------------------------------------------------
// `current`.

async fn current(db: TestDb) {
    let m = migrator(linear_project(2));
    if db.kind == Kind::Sqlite {
        // Reading never creates a SQLite database: a file that is not there is said to be missing.
        let e = m.current_of(&db.url, &mut |_| {}).await.unwrap_err();
        assert!(e.to_string().contains("no SQLite database at"), "{e}");
        db.upgrade(&m, "base").await.unwrap();
    }
    assert!(m.current_of(&db.url, &mut |_| {}).await.unwrap().is_empty());
    db.upgrade(&m, "lin1").await.unwrap();
    let heads = m.current_of(&db.url, &mut |_| {}).await.unwrap();
    assert_eq!(heads.len(), 1);
    assert_eq!(heads[0].revision, "lin1");
    assert!(heads[0].known && !heads[0].is_head);
    assert_eq!(heads[0].direction.as_deref(), Some("up"));
    assert!(heads[0]
        .applied_by
        .as_deref()
        .is_some_and(|w| w.contains('@')));
    // Unknown rows are reported, not an error.
    db.exec("INSERT INTO alembix_version (version_num) VALUES ('0ddba11')")
        .await;
    let mut heads = m.current_of(&db.url, &mut |_| {}).await.unwrap();
    heads.sort_by(|a, b| a.revision.cmp(&b.revision));
    assert_eq!(heads.len(), 2);
    assert_eq!(heads[0].revision, "0ddba11");
    assert!(!heads[0].known);
}

per_dialect!(current => postgres_current, mysql_current, sqlite_current);

// ---------------------------------------------------------------------------------------------------------
// 10. What a MySQL step costs the server.

/// The session's count of explicit `COMMIT` statements.
async fn mysql_commits(conn: &mut dialect::Connection) -> u64 {
    let rows = conn
        .query_text(
            "SELECT variable_value FROM information_schema.session_status \
             WHERE variable_name = 'COM_COMMIT'",
        )
        .await
        .unwrap();
    rows[0][0].as_deref().unwrap().parse().unwrap()
}

/// MySQL commits each DDL statement on its own, and alembix's record of a step is a commit (an fsync) of
/// its own. A one-statement step used to cost four commits and four round trips: the progress row
/// (autocommitted), the statement, its progress update, and the version and history rows. The step's last
/// statement now carries the bookkeeping, which also writes the next step's progress row: one round trip
/// and one commit besides the statement's own. The step's duration, which the client can no longer time,
/// comes from the server.
async fn mysql_step_commits(db: TestDb) {
    let mut files = linear_project(20);
    files.push(rev(
        "slow",
        &["lin20"],
        &[],
        "CREATE TABLE t_slow (id INT);\nDO SLEEP(0.3);",
        "DROP TABLE t_slow;",
    ));
    let m = migrator(files);
    let mut conn = db.conn().await;
    m.run_on(&mut conn, &Operation::Upgrade("lin10".into()), &mut |_| {})
        .await
        .unwrap();
    let before = mysql_commits(&mut conn).await;
    m.run_on(&mut conn, &Operation::Upgrade("lin20".into()), &mut |_| {})
        .await
        .unwrap();
    assert_eq!(mysql_commits(&mut conn).await - before, 10);
    // The session is back to autocommit: a write outside alembix's steps is not left pending.
    conn.execute("CREATE TABLE after_run (id INT)")
        .await
        .unwrap();
    conn.execute("INSERT INTO after_run VALUES (1)")
        .await
        .unwrap();
    assert_eq!(
        db.column("SELECT CAST(count(*) AS CHAR) FROM after_run")
            .await,
        strings(&["1"])
    );
    assert!(db
        .column("SELECT revision FROM alembix_progress")
        .await
        .is_empty());

    m.run_on(&mut conn, &Operation::Upgrade("head".into()), &mut |_| {})
        .await
        .unwrap();
    let ms: u64 = db
        .column("SELECT CAST(duration_ms AS CHAR) FROM alembix_history WHERE revision = 'slow'")
        .await[0]
        .parse()
        .unwrap();
    assert!((300..10_000).contains(&ms), "{ms} ms");
    let before = mysql_commits(&mut conn).await;
    m.run_on(
        &mut conn,
        &Operation::Downgrade("lin10".into()),
        &mut |_| {},
    )
    .await
    .unwrap();
    assert_eq!(mysql_commits(&mut conn).await - before, 11);
    assert_eq!(db.versions().await, strings(&["lin10"]));
    assert!(db
        .column("SELECT revision FROM alembix_progress")
        .await
        .is_empty());
}

#[tokio::test]
async fn mysql_one_statement_steps_commit_once_besides_the_statement() {
    common::run(Kind::Mysql, mysql_step_commits).await
}

// ---------------------------------------------------------------------------------------------------------
// Which bookkeeping tables exist: one round trip for all of them.

async fn tables_exist(db: TestDb) {
    db.exec("CREATE TABLE present_one (id INTEGER PRIMARY KEY)")
        .await;
    let mut c = db.conn().await;
    let found = c
        .tables_exist(&["missing_a", "present_one", "missing_b", "present_one"])
        .await
        .unwrap();
    assert_eq!(found, [false, true, false, true]);
    assert!(c.tables_exist(&[]).await.unwrap().is_empty());
    // The same answers as asking one by one.
    for t in ["missing_a", "present_one"] {
        assert_eq!(
            c.table_exists(t).await.unwrap(),
            c.tables_exist(&[t]).await.unwrap()[0]
        );
    }
}

per_dialect!(tables_exist => postgres_tables_exist, mysql_tables_exist, sqlite_tables_exist);

/// Several queries in one round trip come back one result per statement, in order, also when a statement
/// returns no rows or a NULL; a failing statement is an error (the run reads its version rows and its
/// recorded checksums this way).
async fn query_sets(db: TestDb) {
    db.exec("CREATE TABLE qs (a VARCHAR(10), b VARCHAR(10))")
        .await;
    db.exec("INSERT INTO qs VALUES ('x', NULL), ('y', 'z')")
        .await;
    let mut conn = db.conn().await;
    let sets = conn
        .query_text_sets(&strings(&[
            "SELECT a, b FROM qs ORDER BY a",
            "SELECT a FROM qs WHERE a = 'none'",
            "SELECT b FROM qs WHERE a = 'y'",
        ]))
        .await
        .unwrap();
    let s = |v: &str| Some(v.to_string());
    assert_eq!(
        sets,
        vec![
            vec![vec![s("x"), None], vec![s("y"), s("z")]],
            vec![],
            vec![vec![s("z")]],
        ]
    );
    assert!(conn
        .query_text_sets(&strings(&[
            "SELECT a FROM qs",
            "SELECT a FROM no_such_table"
        ]))
        .await
        .is_err());
    // The connection is usable after the failure (the run then releases its lock on it).
    assert_eq!(
        conn.query_text("SELECT 'ok'").await.unwrap(),
        vec![vec![s("ok")]]
    );
    conn.close().await;
}
per_dialect!(query_sets => postgres_query_sets, mysql_query_sets, sqlite_query_sets);

// ---------------------------------------------------------------------------------------------------------
// 13. SQLite: in process, on the caller's thread.

/// In an app that embeds alembix on a multi-threaded runtime, SQLite's calls block the thread they run on:
/// on a worker, its other tasks are handed to the other workers first. A connection used from a spawned
/// task and a migration awaited by the runtime's caller both work, and other tasks keep running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_on_a_multi_threaded_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let url = common::parse_url(&format!("sqlite:{}", dir.path().join("app.db").display()));
    let m = migrator(linear_project(3));
    m.run(&url, &Operation::Upgrade("head".into()), false, &mut |_| {})
        .await
        .unwrap();
    let reader = {
        let url = url.clone();
        tokio::spawn(async move {
            let mut conn = dialect::Connection::connect(&url, None, |_, _| {})
                .await
                .unwrap();
            conn.execute("CREATE TABLE from_a_worker (id INT)")
                .await
                .unwrap();
            let rows = conn
                .query_text("SELECT version_num FROM alembix_version")
                .await
                .unwrap();
            conn.close().await;
            rows
        })
    };
    let ticker = tokio::spawn(async {
        tokio::time::sleep(Duration::from_millis(1)).await;
        true
    });
    assert_eq!(reader.await.unwrap(), vec![vec![Some("lin3".to_string())]]);
    assert!(ticker.await.unwrap());
    let heads = m.current_of(&url, &mut |_| {}).await.unwrap();
    assert_eq!(heads[0].revision, "lin3");
}

/// SQLite's own URI parameters pass through (`mode=ro` opens read-only); a Python driver's are ignored;
/// anything else is an error that names what is accepted.
#[tokio::test]
async fn sqlite_url_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app #1.db");
    let m = migrator(linear_project(2));
    let rw = common::parse_url(&format!(
        "sqlite:{}?check_same_thread=false",
        file.display()
    ));
    m.run(&rw, &Operation::Upgrade("lin1".into()), false, &mut |_| {})
        .await
        .unwrap();
    let ro = common::parse_url(&format!("sqlite:{}?mode=ro", file.display()));
    let heads = m.current_of(&ro, &mut |_| {}).await.unwrap();
    assert_eq!(heads[0].revision, "lin1");
    let e = m
        .run(&ro, &Operation::Upgrade("head".into()), false, &mut |_| {})
        .await
        .unwrap_err();
    assert!(e.to_string().contains("readonly"), "{e}");
    let bad = common::parse_url(&format!("sqlite:{}?journal=wal", file.display()));
    let e = m.current_of(&bad, &mut |_| {}).await.unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("unknown parameter `journal`") && text.contains("mode, cache"),
        "{text}"
    );
}
