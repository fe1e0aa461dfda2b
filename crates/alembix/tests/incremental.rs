//! The declared schema is rebuilt table by table after an edit (issue #11: "the edit-autogenerate loop ...
//! the schema cache is always cold then", 2.7-9.6 s): only the tables an edit touched, and the tables that
//! name them, are built on the scratch database; the result is the one a full build gives.

#![allow(clippy::unwrap_used)]

#[macro_use]
mod common;

use alembix::autogen::{self, BuildStats, DesiredSchema, SchemaCache};
use alembix::schema::Schema;
use common::{Kind, TestDb};

fn desired(sql: &str) -> DesiredSchema {
    DesiredSchema {
        sources: vec![("schema.sql".into(), sql.into())],
        hints: Default::default(),
        models_root: None,
        schemas: Vec::new(),
    }
}

/// `n` tables, each with a foreign key to the one before, an index and a comment; on PostgreSQL an enum
/// column on the first.
fn model(kind: Kind, n: usize, edit: impl Fn(usize, String) -> String) -> String {
    let mut out = String::new();
    if kind == Kind::Postgres {
        out.push_str("CREATE TYPE mood AS ENUM ('calm', 'busy');\n");
    }
    for i in 1..=n {
        let parent = if i > 1 { i - 1 } else { 1 };
        let mood = if kind == Kind::Postgres && i == 1 {
            ",\n    mood mood NOT NULL DEFAULT 'calm'"
        } else {
            ""
        };
        let table = format!(
            "CREATE TABLE t{i} (\n    id INTEGER NOT NULL PRIMARY KEY,\n    parent_id INTEGER NULL,\n    \
             name VARCHAR(40) NOT NULL DEFAULT 'x'{mood},\n    \
             CONSTRAINT fk_t{i}_parent FOREIGN KEY (parent_id) REFERENCES t{parent} (id)\n);\n\
             CREATE INDEX ix_t{i}_name ON t{i} (name);\n"
        );
        out.push_str(&edit(i, table));
    }
    out
}

/// The declared schema built whole, without any cache: what every incremental result must equal.
async fn full(db: &TestDb, sql: &str) -> alembix::Result<Schema> {
    let fp = autogen::server_fingerprint(&db.url).await?;
    let (schema, stats) = autogen::declared_schema(
        &db.url,
        None,
        &desired(sql),
        &[],
        &fp,
        &SchemaCache::disabled(),
        None,
    )
    .await?;
    assert!(stats.full, "{stats:?}");
    Ok(schema)
}

async fn incremental(
    db: &TestDb,
    cache: &SchemaCache,
    sql: &str,
) -> alembix::Result<(Schema, BuildStats)> {
    let fp = autogen::server_fingerprint(&db.url).await?;
    autogen::declared_schema(&db.url, None, &desired(sql), &[], &fp, cache, None).await
}

async fn only_edited_tables_are_rebuilt(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let cache = SchemaCache::at(dir.path());
    let kind = db.kind;
    let n = 12;
    let v1 = model(kind, n, |_, t| t);

    // First run: every table is built, in one partial build that fills the per-table cache.
    let (s1, stats) = incremental(&db, &cache, &v1).await.unwrap();
    assert_eq!(
        (stats.built, stats.reused, stats.full),
        (n, 0, false),
        "{stats:?}"
    );
    assert_eq!(s1, full(&db, &v1).await.unwrap());
    assert_eq!(s1.tables.len(), n);

    // An edit of a leaf: it alone is rebuilt, with a stub of its parent.
    let v2 = model(kind, n, |i, t| {
        if i == n {
            t.replace("VARCHAR(40)", "VARCHAR(80)")
        } else {
            t
        }
    });
    let (s2, stats) = incremental(&db, &cache, &v2).await.unwrap();
    assert_eq!(
        (stats.built, stats.reused, stats.stubs),
        (1, n - 1, 1),
        "{stats:?}"
    );
    assert_eq!(s2, full(&db, &v2).await.unwrap());
    assert_ne!(s1, s2);

    // An edit of a parent rebuilds its child too: t5 and t6, with a stub of t4.
    let v3 = model(kind, n, |i, t| {
        if i == 5 {
            t.replace("DEFAULT 'x'", "DEFAULT 'y'")
        } else {
            t
        }
    });
    let (s3, stats) = incremental(&db, &cache, &v3).await.unwrap();
    assert_eq!(
        (stats.built, stats.reused, stats.stubs),
        (2, n - 2, 1),
        "{stats:?}"
    );
    assert_eq!(s3, full(&db, &v3).await.unwrap());

    // A table removed: nothing to build, no scratch database.
    let v4: String = v3
        .split_inclusive(";\n")
        .filter(|st| !st.contains(&format!("t{n} ")) && !st.contains(&format!("ix_t{n}_")))
        .collect();
    let (s4, stats) = incremental(&db, &cache, &v4).await.unwrap();
    assert_eq!((stats.built, stats.reused), (0, n - 1), "{stats:?}");
    assert_eq!(s4, full(&db, &v4).await.unwrap());

    // Back to the first model: all from the cache.
    let (s5, stats) = incremental(&db, &cache, &v1).await.unwrap();
    assert_eq!((stats.built, stats.reused), (0, n), "{stats:?}");
    assert_eq!(s5, s1);

    // An edit of the parent that breaks its child's foreign key is rejected as in a full build: the child
    // is rebuilt with it. (SQLite does not check a foreign key's target when it creates a table.)
    if kind != Kind::Sqlite {
        let broken = model(kind, n, |i, t| {
            if i == 3 {
                t.replace(
                    "id INTEGER NOT NULL PRIMARY KEY",
                    "id VARCHAR(10) NOT NULL PRIMARY KEY",
                )
            } else {
                t
            }
        });
        let e = incremental(&db, &cache, &broken)
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("rejected") && e.contains("t4"), "{e}");
        assert!(full(&db, &broken).await.is_err());
    }

    // On PostgreSQL, an edit of the enum rebuilds the table that uses it, and only that one.
    if kind == Kind::Postgres {
        let v6 = v1.replace("('calm', 'busy')", "('calm', 'busy', 'away')");
        let (s6, stats) = incremental(&db, &cache, &v6).await.unwrap();
        assert_eq!((stats.built, stats.reused), (1, n - 1), "{stats:?}");
        assert_eq!(s6, full(&db, &v6).await.unwrap());
    }
}

per_dialect!(only_edited_tables_are_rebuilt =>
    only_edited_tables_are_rebuilt_postgres,
    only_edited_tables_are_rebuilt_mysql,
    only_edited_tables_are_rebuilt_sqlite);

async fn what_no_table_owns_is_built_whole(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let cache = SchemaCache::at(dir.path());
    let sql = "CREATE TABLE a (id INTEGER NOT NULL PRIMARY KEY, name VARCHAR(20));\n\
               CREATE VIEW v AS SELECT id, name FROM a;\n";
    let (s, stats) = incremental(&db, &cache, sql).await.unwrap();
    assert!(stats.full, "{stats:?}");
    assert_eq!(s.views.len(), 1);
    assert_eq!(s, full(&db, sql).await.unwrap());
}

per_dialect!(what_no_table_owns_is_built_whole =>
    what_no_table_owns_is_built_whole_postgres,
    what_no_table_owns_is_built_whole_mysql,
    what_no_table_owns_is_built_whole_sqlite);

/// The PostgreSQL build in the session's temporary schema (no WAL, no fsync per index) reads back exactly
/// as the build in the current schema, on every schema of the PostgreSQL autogenerate fixtures.
#[tokio::test]
async fn temporary_schema_build_reads_as_the_regular_one() {
    common::run(Kind::Postgres, |db| async move {
        let mut conn = common::connect(&db.url).await;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/autogen/postgres");
        let mut cases: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        cases.sort();
        let (mut same, mut regular_only, mut neither) = (0, Vec::new(), 0);
        for case in &cases {
            for side in ["from.sql", "to.sql"] {
                let sql = std::fs::read_to_string(case.join(side)).unwrap();
                let d = desired(&sql);
                let regular = autogen::build_declared_rolled_back(&mut conn, &d, &[], false).await;
                let temp = autogen::build_declared_rolled_back(&mut conn, &d, &[], true).await;
                let name = format!("{}/{side}", case.file_name().unwrap().to_string_lossy());
                match (regular, temp) {
                    (Some(Ok(r)), Some(Ok(t))) => {
                        assert_eq!(r, t, "{name}: the temporary-schema build reads differently");
                        same += 1;
                    }
                    (Some(Ok(_)), None) => regular_only.push(name),
                    (None, None) => neither += 1,
                    (r, t) => panic!(
                        "{name}: regular {:?}, temporary {:?}",
                        r.map(|x| x.map(|_| ())),
                        t.map(|x| x.map(|_| ()))
                    ),
                }
            }
        }
        common::notice(&format!(
            "temporary-schema build: {same} schemas read the same, {} fell back ({}), {neither} build in neither",
            regular_only.len(),
            regular_only.join(", ")
        ));
        // Most fixtures are plain tables, indexes, constraints and enums: they must take the fast way.
        assert!(same >= cases.len(), "only {same} of {} schemas built in the temporary schema", 2 * cases.len());
        conn.close().await;
    })
    .await
}

/// Drop every table and view of the connection's database (MySQL/MariaDB).
async fn empty_mysql_database(conn: &mut alembix::dialect::Connection) {
    let rows = conn
        .query_text(
            "SELECT table_type, table_name FROM information_schema.tables WHERE table_schema = DATABASE()",
        )
        .await
        .unwrap();
    let mut sql = String::from("SET foreign_key_checks = 0;\n");
    for row in rows {
        let (kind, name) = (row[0].clone().unwrap(), row[1].clone().unwrap());
        let what = if kind == "VIEW" { "VIEW" } else { "TABLE" };
        sql.push_str(&format!("DROP {what} `{name}`;\n"));
    }
    sql.push_str("SET foreign_key_checks = 1;\n");
    conn.execute(&sql).await.unwrap();
}

/// MySQL/MariaDB builds fold each plain `CREATE INDEX` into its `CREATE TABLE` (one DDL statement, so one
/// table-definition rewrite, instead of two). The folded build must read back exactly as the statements as
/// written, including where an index serves a foreign key (the implicit index InnoDB would make otherwise),
/// on every schema of the MySQL autogenerate fixtures and on the benchmark's shape.
#[tokio::test]
async fn folded_mysql_indexes_read_as_written() {
    common::run(Kind::Mysql, |db| async move {
        let mut conn = common::connect(&db.url).await;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/autogen/mysql");
        let mut sources: Vec<(String, String)> = Vec::new();
        let mut cases: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        cases.sort();
        for case in &cases {
            for side in ["from.sql", "to.sql"] {
                let name = format!("{}/{side}", case.file_name().unwrap().to_string_lossy());
                sources.push((name, std::fs::read_to_string(case.join(side)).unwrap()));
            }
        }
        sources.push(("bench shape".into(), model(Kind::Mysql, 6, |_, t| t)));
        sources.push((
            "index on a foreign-key column".into(),
            "CREATE TABLE p (id INTEGER NOT NULL PRIMARY KEY);\n\
             CREATE TABLE c (id INTEGER NOT NULL PRIMARY KEY, p_id INTEGER,\n\
               CONSTRAINT fk_c_p FOREIGN KEY (p_id) REFERENCES p (id));\n\
             CREATE INDEX ix_c_p ON c (p_id);\n\
             CREATE UNIQUE INDEX uq_c_p_id ON c (p_id, id);\n"
                .into(),
        ));
        let mut folded_cases = 0;
        for (name, sql) in &sources {
            let statements: Vec<String> =
                alembix::migrate::split::split(sql, alembix::Dialect::Mysql)
                    .into_iter()
                    .map(|s| s.sql)
                    .collect();
            let folded = autogen::fold_mysql_indexes(&statements);
            if folded.len() == statements.len() {
                continue;
            }
            folded_cases += 1;
            let mut read = Vec::new();
            for list in [&statements, &folded] {
                empty_mysql_database(&mut conn).await;
                for st in list {
                    if let Err(e) = conn.execute(st).await {
                        panic!("{name}: {st}: {}", e.message);
                    }
                }
                read.push(alembix::dialect::inspect(&mut conn, &[]).await.unwrap());
            }
            assert_eq!(
                read[0], read[1],
                "{name}: the folded build reads differently"
            );
        }
        empty_mysql_database(&mut conn).await;
        common::notice(&format!(
            "folded MySQL builds: {folded_cases} schemas compared"
        ));
        assert!(
            folded_cases >= 8,
            "only {folded_cases} schemas had an index to fold"
        );
        conn.close().await;
    })
    .await
}

/// A build started while the models were imported ([`autogen::Prebuild`]) is finished when what ran is
/// part of the declared statements, and thrown away when it is not (a table that changed after it was
/// printed) or when a statement failed; the result is always the full build's.
async fn an_early_build_is_finished_or_discarded(db: TestDb) {
    let sql = model(db.kind, 8, |_, t| t);
    let whole = full(&db, &sql).await.unwrap();
    let statements: Vec<String> = alembix::migrate::split::split(&sql, db.url.dialect())
        .into_iter()
        .map(|s| s.sql)
        .collect();
    let fp = autogen::server_fingerprint(&db.url).await.unwrap();
    let cases: [(Vec<String>, bool); 4] = [
        (statements[..7].to_vec(), true),
        (statements.clone(), true),
        (
            vec!["CREATE TABLE t1 (id INTEGER NOT NULL PRIMARY KEY)".into()],
            false,
        ),
        (vec!["CREATE TABLE t1 (id no_such_type)".into()], false),
    ];
    for (early, used) in cases {
        let dir = tempfile::tempdir().unwrap();
        let cache = SchemaCache::at(dir.path());
        let mut pre = autogen::Prebuild::start(&db.url).await.unwrap();
        pre.run(&early).await;
        let (schema, stats) =
            autogen::declared_schema(&db.url, None, &desired(&sql), &[], &fp, &cache, Some(pre))
                .await
                .unwrap();
        assert_eq!(schema, whole, "early {early:?}");
        assert_eq!(stats.overlapped > 0, used, "early {early:?}: {stats:?}");
    }
    // Unnamed constraints whose made-up names collide (PostgreSQL numbers the second `a_b_c_key`): built
    // in another order early, they would be named the other way round; such a result is not taken.
    let clash = "CREATE TABLE a_b (id INTEGER NOT NULL PRIMARY KEY, c INTEGER UNIQUE);\n\
                 CREATE TABLE a (id INTEGER NOT NULL PRIMARY KEY, b_c INTEGER UNIQUE);\n";
    let whole_clash = full(&db, clash).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut pre = autogen::Prebuild::start(&db.url).await.unwrap();
    pre.run(&["CREATE TABLE a (id INTEGER NOT NULL PRIMARY KEY, b_c INTEGER UNIQUE)".into()])
        .await;
    let (schema, stats) = autogen::declared_schema(
        &db.url,
        None,
        &desired(clash),
        &[],
        &fp,
        &SchemaCache::at(dir.path()),
        Some(pre),
    )
    .await
    .unwrap();
    assert_eq!(schema, whole_clash);
    let numbered = db.kind == Kind::Postgres;
    assert_eq!(stats.overlapped == 0, numbered, "{stats:?}");
    // Nothing is left behind on the kept scratch database (PostgreSQL), so the next build can use it.
    let again = incremental(&db, &SchemaCache::disabled(), &sql)
        .await
        .unwrap()
        .0;
    assert_eq!(again, whole);
}

#[tokio::test]
async fn an_early_build_is_finished_or_discarded_postgres() {
    common::run(Kind::Postgres, an_early_build_is_finished_or_discarded).await
}

#[tokio::test]
async fn an_early_build_is_finished_or_discarded_mysql() {
    common::run(Kind::Mysql, an_early_build_is_finished_or_discarded).await
}

/// PostgreSQL: every build on the kept scratch database is rolled back, which leaves its catalog rows dead,
/// and nothing else may clean them (autovacuum is off on some servers, this test's among them): a run that
/// finds more than 4,000 dead `pg_attribute` rows there vacuums the catalogs; a run that finds fewer does
/// not. The kept database is per user, so this test uses a role of its own and drops it at the end.
#[tokio::test]
async fn the_kept_scratch_database_has_its_catalogs_vacuumed_postgres() {
    common::run(Kind::Postgres, |db| async move {
        const ROLE: &str = "alembix_upkeep_test";
        let kept_name = format!("alembix_scratch_{ROLE}");
        let kept_admin = db.url.with_database(&kept_name);
        db.exec(&format!("DROP DATABASE IF EXISTS {kept_name} WITH (FORCE)"))
            .await;
        let mut admin = db.conn().await;
        let _ = admin
            .execute(&format!("CREATE ROLE {ROLE} LOGIN CREATEDB"))
            .await;
        admin.close().await;
        let url = common::parse_url(&format!(
            "postgres://{ROLE}@{}:{}/{}",
            db.url.host().unwrap_or("localhost"),
            db.url.port().unwrap_or(5432),
            db.url.database().unwrap()
        ));
        let fp = match autogen::server_fingerprint(&url).await {
            Ok(fp) => fp,
            Err(e) => {
                // A server that wants a password for a new role: nothing to learn here.
                common::notice(&format!("SKIPPED catalog upkeep: cannot connect as {ROLE}: {e}"));
                return;
            }
        };
        // `early`: the way `check` builds while the models are imported ([`autogen::Prebuild`]), whose
        // build is still open when the run lets the kept database go.
        let build = |sql: String, early: bool| {
            let (url, fp) = (url.clone(), fp.clone());
            async move {
                // The early build serves the per-table build, which needs a cache directory.
                let dir = tempfile::tempdir().unwrap();
                let cache = if early {
                    SchemaCache::at(dir.path())
                } else {
                    SchemaCache::disabled()
                };
                let pre = if early {
                    let first: Vec<String> = alembix::migrate::split::split(&sql, url.dialect())
                        .into_iter()
                        .take(1)
                        .map(|s| s.sql)
                        .collect();
                    let mut pre = autogen::Prebuild::start(&url).await.unwrap();
                    pre.run(&first).await;
                    Some(pre)
                } else {
                    None
                };
                let (_, stats) =
                    autogen::declared_schema(&url, None, &desired(&sql), &[], &fp, &cache, pre)
                        .await
                        .unwrap();
                assert_eq!(stats.full, !early, "{stats:?}");
                assert_eq!(stats.overlapped > 0, early, "{stats:?}");
            }
        };
        let attribute_stats = || {
            let kept_admin = kept_admin.clone();
            async move {
                let mut c = common::connect(&kept_admin).await;
                let rows = c
                    .query_text(
                        "SELECT n_dead_tup::text, vacuum_count::text FROM pg_catalog.pg_stat_sys_tables \
                         WHERE relid = 'pg_catalog.pg_attribute'::regclass",
                    )
                    .await
                    .unwrap();
                c.close().await;
                let n = |i: usize| rows[0][i].as_deref().unwrap().parse::<u64>().unwrap();
                (n(0), n(1))
            }
        };
        // 40 tables of 100 columns: with the 6 system columns, 4,240 `pg_attribute` rows per build.
        let wide: String = (1..=40)
            .map(|t| {
                let cols: Vec<String> = (1..=100).map(|c| format!("c{c} INTEGER")).collect();
                format!("CREATE TABLE w{t} ({});\n", cols.join(", "))
            })
            .collect();
        let small = model(Kind::Postgres, 3, |_, t| t);

        // The first builds find the fresh database clean: no vacuum.
        build(small.clone(), false).await;
        build(wide.clone(), false).await;
        assert_eq!(attribute_stats().await.1, 0, "vacuumed below the threshold");
        // The server counts a session's dead rows when the session ends, shortly after the run.
        let mut waited = 0;
        while attribute_stats().await.0 <= 4_000 {
            assert!(waited < 100, "the dead rows of the wide build were never counted");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            waited += 1;
        }
        // The next run finds them and vacuums, whichever way it builds.
        build(small.clone(), true).await;
        let (dead, vacuums) = attribute_stats().await;
        assert!(vacuums >= 1, "not vacuumed at {dead} dead rows");
        assert!(dead < 4_000, "{dead} dead rows left after the vacuum");
        build(wide, true).await;
        let mut waited = 0;
        while attribute_stats().await.0 <= 4_000 {
            assert!(waited < 100, "the dead rows of the early wide build were never counted");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            waited += 1;
        }
        build(small, false).await;
        let (dead, again) = attribute_stats().await;
        assert!(again > vacuums, "not vacuumed at {dead} dead rows after an early build");

        db.exec(&format!("DROP DATABASE IF EXISTS {kept_name} WITH (FORCE)"))
            .await;
        db.exec(&format!("DROP ROLE IF EXISTS {ROLE}")).await;
    })
    .await
}
