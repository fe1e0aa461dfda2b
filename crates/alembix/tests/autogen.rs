//! Fixture-driven autogenerate tests: `tests/autogen/<dialect>/<case>/` holds `from.sql` (the current schema)
//! and `to.sql` (the declared one; `-- alembix:renamed-from` hints allowed). For each case the generated up
//! and down SQL are pinned as insta snapshots in the case folder (`up.snap`, `down.snap`), and checked on a
//! real database: after up the schema inspects equal to `to.sql`, after down equal to `from.sql` again.
//! Adding a case is adding a folder.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use alembix::autogen::{self, DevDatabase};
use alembix::dialect::{self, Connection};
use alembix::schema::{diff, RenameHints, Schema};
use alembix::Dialect;
use common::{Kind, TestDb};

fn cases(dialect_dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/autogen")
        .join(dialect_dir);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    dirs.sort();
    dirs
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

fn script(statements: &[String]) -> String {
    statements
        .iter()
        .map(|s| format!("{};\n", s.trim_end_matches(';')))
        .collect::<Vec<_>>()
        .join("\n")
}

fn differences(a: &Schema, b: &Schema, d: Dialect) -> Vec<String> {
    diff(a, b, &RenameHints::default(), dialect::diff_options(d))
        .iter()
        .map(|c| c.describe())
        .collect()
}

async fn apply(conn: &mut Connection, statements: &[String], what: &str, case: &str) {
    let transactional = conn.dialect() != Dialect::Mysql;
    if transactional {
        conn.execute(dialect::begin_sql(conn.dialect()))
            .await
            .unwrap();
    }
    for st in statements {
        if let Err(e) = conn.execute(st).await {
            panic!("{case}: {what} statement failed: {e}\n{st}");
        }
    }
    if transactional {
        conn.execute("COMMIT").await.unwrap();
    }
}

async fn check_case(db: TestDb, dir: PathBuf) {
    let case = format!(
        "{}/{}",
        dir.parent().unwrap().file_name().unwrap().to_string_lossy(),
        dir.file_name().unwrap().to_string_lossy()
    );
    let d = db.dialect();
    let from_sql = read(&dir, "from.sql");
    let to_sql = read(&dir, "to.sql");

    let mut conn = db.conn().await;
    autogen::apply_ddl(&mut conn, &format!("{case}/from.sql"), &from_sql)
        .await
        .unwrap();
    let from = dialect::inspect(&mut conn, &[]).await.unwrap();

    let mut dev = DevDatabase::create(&db.url, None).await.unwrap();
    let to = {
        let r = autogen::apply_ddl(&mut dev.conn, &format!("{case}/to.sql"), &to_sql).await;
        let s = dialect::inspect(&mut dev.conn, &[]).await;
        dev.dispose().await;
        r.unwrap();
        s.unwrap()
    };
    let mut hints = RenameHints::default();
    autogen::parse_hints(&to_sql, &mut hints);
    let generated = autogen::generate(d, &from, &to, &hints);
    assert!(!generated.changes.is_empty(), "{case}: no changes detected");

    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(&dir);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    settings.set_description(case.clone());
    settings.bind(|| {
        insta::assert_snapshot!("up", script(&generated.up));
        insta::assert_snapshot!("down", script(&generated.down));
    });

    apply(&mut conn, &generated.up, "up", &case).await;
    let after_up = dialect::inspect(&mut conn, &[]).await.unwrap();
    let left = differences(&after_up, &to, d);
    assert!(
        left.is_empty(),
        "{case}: after up the schema differs from to.sql: {left:#?}"
    );

    apply(&mut conn, &generated.down, "down", &case).await;
    let after_down = dialect::inspect(&mut conn, &[]).await.unwrap();
    let left = differences(&after_down, &from, d);
    assert!(
        left.is_empty(),
        "{case}: after down the schema differs from from.sql: {left:#?}"
    );
    conn.close().await;
}

async fn run_all(kind: Kind, dir: &str) {
    let all = cases(dir);
    assert!(
        !all.is_empty(),
        "no fixture cases under tests/autogen/{dir}"
    );
    for case in all {
        common::run(kind, move |db| check_case(db, case)).await;
    }
}

#[tokio::test]
async fn sqlite_fixtures() {
    run_all(Kind::Sqlite, "sqlite").await;
}

#[tokio::test]
async fn postgres_fixtures() {
    run_all(Kind::Postgres, "postgres").await;
}

#[tokio::test]
async fn mysql_fixtures() {
    run_all(Kind::Mysql, "mysql").await;
}
