//! MySQL / MariaDB autogenerate round trips on a real server: a "from" and a "to" database are built from DDL,
//! both are inspected, the up and down SQL are rendered from the diff, and applying up to "from" must make it
//! inspect equal to "to", then applying down must bring it back.
//!
//! Needs `ALEMBIX_TEST_MYSQL_URL` (e.g. `mysql://root@127.0.0.1:3306/test`); when unset the tests print a
//! notice and pass, unless `ALEMBIX_TEST_REQUIRE_SERVERS=1`. Every scratch database (`alembix_t_<hex>`) is
//! dropped afterwards, also when the test fails.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::future::Future;
use std::io::Write;

use alembix::dialect::{self, Connection};
use alembix::schema::{diff, Change, RenameHints, Schema};
use alembix::{DatabaseUrl, Dialect};

fn admin_url() -> Option<DatabaseUrl> {
    match std::env::var("ALEMBIX_TEST_MYSQL_URL") {
        Ok(raw) => Some(DatabaseUrl::parse(&raw).unwrap()),
        Err(_) => {
            if std::env::var("ALEMBIX_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1") {
                panic!("ALEMBIX_TEST_MYSQL_URL is not set, and ALEMBIX_TEST_REQUIRE_SERVERS=1 requires it");
            }
            // Straight to the process's stderr, so the notice shows although libtest captures output.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED mysql: ALEMBIX_TEST_MYSQL_URL is not set"
            );
            None
        }
    }
}

async fn connect(url: &DatabaseUrl) -> Connection {
    match Connection::connect(url, None, |_, _| {}).await {
        Ok(c) => c,
        Err(e) => panic!("cannot connect to {url}: {}", e.message),
    }
}

/// Run `body` with `n` fresh databases; they are dropped afterwards whatever happens.
async fn with_databases<F, Fut>(n: usize, body: F)
where
    F: FnOnce(Vec<DatabaseUrl>) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let Some(admin) = admin_url() else { return };
    let mut conn = connect(&admin).await;
    let mut names = Vec::new();
    for _ in 0..n {
        let name = format!("alembix_t_{:016x}", getrandom::u64().unwrap());
        conn.execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        names.push(name);
    }
    let urls = names.iter().map(|n| admin.with_database(n)).collect();
    let local = tokio::task::LocalSet::new();
    let fut = body(urls);
    let result = local
        .run_until(async move { tokio::task::spawn_local(fut).await })
        .await;
    drop(local);
    for name in &names {
        if let Err(e) = conn
            .execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .await
        {
            eprintln!("warning: could not drop test database {name}: {e}");
        }
    }
    conn.close().await;
    if let Err(e) = result {
        match e.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(e) => panic!("test task failed: {e}"),
        }
    }
}

async fn apply(url: &DatabaseUrl, statements: &[String], what: &str) {
    let mut c = connect(url).await;
    for s in statements {
        if let Err(e) = c.execute(s).await {
            panic!(
                "{what}: {e}\nin: {s}\nall statements:\n{}",
                statements.join(";\n")
            );
        }
    }
    c.close().await;
}

async fn inspect(url: &DatabaseUrl) -> Schema {
    let mut c = connect(url).await;
    let s = dialect::inspect(&mut c, &[]).await.unwrap();
    c.close().await;
    s
}

fn changes(from: &Schema, to: &Schema, hints: &RenameHints) -> Vec<Change> {
    diff(from, to, hints, dialect::diff_options(Dialect::Mysql))
}

fn show(changes: &[Change]) -> String {
    changes
        .iter()
        .map(|c| format!("  {c:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The round trip: up turns "from" into "to", down turns it back. Returns (up, down) SQL for extra checks.
async fn round_trip(
    from_ddl: &[&str],
    to_ddl: &[&str],
    hints: RenameHints,
) -> (Vec<String>, Vec<String>) {
    let from_ddl: Vec<String> = from_ddl.iter().map(|s| s.to_string()).collect();
    let to_ddl: Vec<String> = to_ddl.iter().map(|s| s.to_string()).collect();
    let out = std::rc::Rc::new(std::cell::RefCell::new((Vec::new(), Vec::new())));
    let out2 = out.clone();
    with_databases(2, move |urls| async move {
        let (a, b) = (&urls[0], &urls[1]);
        apply(a, &from_ddl, "from DDL").await;
        apply(b, &to_ddl, "to DDL").await;
        let from = inspect(a).await;
        let to = inspect(b).await;
        let up = changes(&from, &to, &hints);
        assert!(!up.is_empty(), "no changes between from and to");
        let down = changes(&to, &from, &hints.reversed());
        let up_sql = dialect::render(Dialect::Mysql, &up, &from, &to);
        let down_sql = dialect::render(Dialect::Mysql, &down, &to, &from);
        eprintln!(
            "-- up\n{};\n-- down\n{};",
            up_sql.join(";\n"),
            down_sql.join(";\n")
        );

        apply(a, &up_sql, "up").await;
        let after_up = inspect(a).await;
        let rest = changes(&after_up, &to, &RenameHints::default());
        assert!(
            rest.is_empty(),
            "after up, still different from `to`:\n{}\nup SQL:\n{}",
            show(&rest),
            up_sql.join(";\n")
        );
        apply(a, &down_sql, "down").await;
        let after_down = inspect(a).await;
        let rest = changes(&after_down, &from, &RenameHints::default());
        assert!(
            rest.is_empty(),
            "after down, still different from `from`:\n{}\ndown SQL:\n{}",
            show(&rest),
            down_sql.join(";\n")
        );
        *out2.borrow_mut() = (up_sql, down_sql);
    })
    .await;
    let r = out.borrow().clone();
    r
}

#[tokio::test]
async fn columns_add_drop_alter() {
    round_trip(
        &["CREATE TABLE t (id int PRIMARY KEY, a int, b varchar(10) NOT NULL DEFAULT 'x', c text, \
           n int DEFAULT NULL, s varchar(10) DEFAULT 'it''s')"],
        &["CREATE TABLE t (id int PRIMARY KEY, a bigint NOT NULL DEFAULT 5, b varchar(20) NULL, \
           d datetime DEFAULT current_timestamp ON UPDATE current_timestamp, e json, \
           n int DEFAULT 7, s varchar(10) DEFAULT 'NULL', u char(36) DEFAULT (uuid()), z int)"],
        RenameHints::default(),
    )
    .await;
}

#[tokio::test]
async fn auto_increment_and_primary_key() {
    round_trip(
        &["CREATE TABLE t (id int NOT NULL, code varchar(10) NOT NULL, PRIMARY KEY (code))",
          "CREATE TABLE u (a int NOT NULL, b int NOT NULL, PRIMARY KEY (a))",
          "CREATE TABLE w (x int)"],
        &["CREATE TABLE t (id int NOT NULL AUTO_INCREMENT PRIMARY KEY, code varchar(10) NOT NULL)",
          "CREATE TABLE u (a int NOT NULL, b int NOT NULL, PRIMARY KEY (a, b))",
          "CREATE TABLE w (id bigint unsigned NOT NULL AUTO_INCREMENT PRIMARY KEY, x int)"],
        RenameHints::default(),
    )
    .await;
}

#[tokio::test]
async fn generated_columns() {
    round_trip(
        &["CREATE TABLE t (a int, b int, g int AS (a + 1) VIRTUAL)"],
        &[
            "CREATE TABLE t (a int, b bigint, g int AS (a + 2) VIRTUAL, s int AS (a + b) STORED, \
           v int GENERATED ALWAYS AS (a * 2) VIRTUAL, KEY ix_v (v))",
        ],
        RenameHints::default(),
    )
    .await;
}

#[tokio::test]
async fn unique_check_foreign_keys() {
    let (up, down) = round_trip(
        &["CREATE TABLE p (id int PRIMARY KEY, code int NOT NULL)",
          "CREATE TABLE c (id int PRIMARY KEY, pid int, code varchar(10), qty int, pcode int, \
           CONSTRAINT fk_old FOREIGN KEY (pcode) REFERENCES p (id) ON DELETE RESTRICT)"],
        &["CREATE TABLE p (id int PRIMARY KEY, code int NOT NULL, UNIQUE KEY uq_pcode (code))",
          "CREATE TABLE c (id int PRIMARY KEY, pid int, code varchar(10), qty int CHECK (qty < 1000), pcode int, \
           UNIQUE KEY uq_code (code), CONSTRAINT ck_qty CHECK (qty > 0), \
           CONSTRAINT fk_p FOREIGN KEY (pid) REFERENCES p (id) ON DELETE CASCADE ON UPDATE SET NULL, \
           CONSTRAINT fk_old FOREIGN KEY (pcode) REFERENCES p (id) ON DELETE CASCADE)"],
        RenameHints::default(),
    )
    .await;
    if !up.is_empty() {
        assert!(
            up.iter()
                .any(|s| s.contains("ADD CONSTRAINT fk_p FOREIGN KEY")),
            "{up:?}"
        );
        // Dropping fk_p also drops the index the server made for it (listed like any index).
        assert!(
            down.iter().any(|s| s.contains("DROP FOREIGN KEY fk_p"))
                && down.iter().any(|s| s.contains("DROP INDEX fk_p")),
            "{down:?}"
        );
    }
}

#[tokio::test]
async fn foreign_key_index_names_do_not_matter() {
    // The index a foreign key uses is named after the constraint by the server, after the column when the
    // constraint has none, or as declared: the same index all the same (it was reported as missing).
    with_databases(2, |urls| async move {
        let (a, b) = (&urls[0], &urls[1]);
        apply(
            a,
            &[
                "CREATE TABLE p (id int PRIMARY KEY)".to_string(),
                "CREATE TABLE c (id int PRIMARY KEY, pid int, FOREIGN KEY (pid) REFERENCES p (id))"
                    .to_string(),
                "CREATE TABLE d (id int PRIMARY KEY, pid int, KEY ix_pid (pid), \
                 CONSTRAINT fk_d FOREIGN KEY (pid) REFERENCES p (id))"
                    .to_string(),
            ],
            "a",
        )
        .await;
        apply(
            b,
            &[
                "CREATE TABLE p (id int PRIMARY KEY)".to_string(),
                "CREATE TABLE c (id int PRIMARY KEY, pid int, \
                 CONSTRAINT fk_c_pid FOREIGN KEY (pid) REFERENCES p (id))"
                    .to_string(),
                "CREATE TABLE d (id int PRIMARY KEY, pid int, CONSTRAINT fk_d FOREIGN KEY (pid) REFERENCES p (id))"
                    .to_string(),
            ],
            "b",
        )
        .await;
        let (from, to) = (inspect(a).await, inspect(b).await);
        let found = changes(&from, &to, &RenameHints::default());
        assert!(found.is_empty(), "{}", show(&found));
    })
    .await;
}

#[tokio::test]
async fn indexes_desc_prefix_fulltext_unique() {
    round_trip(
        &["CREATE TABLE t (id int PRIMARY KEY, a int, b int, txt text, name varchar(50), KEY ix_old (a))"],
        &["CREATE TABLE t (id int PRIMARY KEY, a int, b int, txt text, name varchar(50), \
           KEY ix_desc (a DESC, b), FULLTEXT KEY ft (txt), KEY ix_pre (txt(20)), UNIQUE KEY ux_ab (a, b), \
           UNIQUE KEY ux_name_desc (name DESC))"],
        RenameHints::default(),
    )
    .await;
}

#[tokio::test]
async fn expression_index() {
    // Functional index parts exist on MySQL 8.0.13+, not on MariaDB.
    let Some(admin) = admin_url() else { return };
    let mut c = connect(&admin).await;
    let version = c.query_text("SELECT VERSION()").await.unwrap()[0][0]
        .clone()
        .unwrap();
    c.close().await;
    if version.to_ascii_lowercase().contains("mariadb") {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED expression_index: {version} has no functional index parts"
        );
        return;
    }
    round_trip(
        &["CREATE TABLE t (id int PRIMARY KEY, a int, b int)"],
        &["CREATE TABLE t (id int PRIMARY KEY, a int, b int, KEY ix_sum ((a + b)), KEY ix_mix (a, (b * 2) DESC))"],
        RenameHints::default(),
    )
    .await;
}

#[tokio::test]
async fn comments() {
    round_trip(
        &[
            "CREATE TABLE t (id int PRIMARY KEY, a int COMMENT 'old') COMMENT = 'the table'",
            "CREATE TABLE u (id int)",
        ],
        &[
            "CREATE TABLE t (id int PRIMARY KEY COMMENT 'key', a int COMMENT 'it''s new')",
            "CREATE TABLE u (id int) COMMENT 'added'",
            "CREATE TABLE n (id int COMMENT 'c') COMMENT 'new table'",
        ],
        RenameHints::default(),
    )
    .await;
}

#[tokio::test]
async fn views() {
    round_trip(
        &[
            "CREATE TABLE t (id int PRIMARY KEY, a int)",
            "CREATE VIEW v AS SELECT id, a FROM t",
            "CREATE VIEW gone AS SELECT id FROM t",
        ],
        &[
            "CREATE TABLE t (id int PRIMARY KEY, a bigint, b int)",
            "CREATE VIEW v AS SELECT id, a FROM t",
            "CREATE VIEW v2 AS SELECT id, a, b FROM t WHERE a > 1",
            "CREATE VIEW v3 AS SELECT v2.id FROM v2 JOIN v ON v.id = v2.id",
        ],
        RenameHints::default(),
    )
    .await;
}

#[tokio::test]
async fn foreign_key_cycle_between_new_tables() {
    let (up, down) = round_trip(
        &["CREATE TABLE keep (id int)"],
        &["CREATE TABLE keep (id int)",
          "CREATE TABLE a (id int PRIMARY KEY, b_id int)",
          "CREATE TABLE b (id int PRIMARY KEY, a_id int, CONSTRAINT fk_b_a FOREIGN KEY (a_id) REFERENCES a (id))",
          "ALTER TABLE a ADD CONSTRAINT fk_a_b FOREIGN KEY (b_id) REFERENCES b (id) ON DELETE SET NULL"],
        RenameHints::default(),
    )
    .await;
    if !up.is_empty() {
        assert!(
            up.iter()
                .any(|s| s.starts_with("ALTER TABLE") && s.contains("ADD CONSTRAINT")),
            "{up:?}"
        );
        assert!(
            down.iter().filter(|s| s.starts_with("DROP TABLE")).count() == 2,
            "{down:?}"
        );
    }
}

#[tokio::test]
async fn renames_from_hints() {
    let hints = RenameHints {
        tables: vec![("old_t".into(), "new_t".into())],
        columns: vec![("new_t".into(), "old_c".into(), "new_c".into())],
    };
    let (up, _) = round_trip(
        &["CREATE TABLE old_t (id int PRIMARY KEY, old_c int, x int, KEY ix_x (x), KEY ix_gone (x, id))",
          "CREATE TABLE other (id int PRIMARY KEY, t_id int, \
           CONSTRAINT fk_o FOREIGN KEY (t_id) REFERENCES old_t (id))"],
        &["CREATE TABLE new_t (id int PRIMARY KEY, new_c bigint, x int, KEY ix_x (x))",
          "CREATE TABLE other (id int PRIMARY KEY, t_id int, \
           CONSTRAINT fk_o FOREIGN KEY (t_id) REFERENCES new_t (id))"],
        hints,
    )
    .await;
    if !up.is_empty() {
        assert!(
            up.contains(&"RENAME TABLE old_t TO new_t".to_string()),
            "{up:?}"
        );
        assert!(
            up.iter()
                .any(|s| s.contains("RENAME COLUMN old_c TO new_c")),
            "{up:?}"
        );
        assert!(!up.iter().any(|s| s.contains("DROP TABLE")), "{up:?}");
    }
}

#[tokio::test]
async fn triggers() {
    round_trip(
        &[
            "CREATE TABLE t (id int, a int)",
            "CREATE TRIGGER t_old BEFORE UPDATE ON t FOR EACH ROW SET NEW.a = 0",
        ],
        &[
            "CREATE TABLE t (id int, a int)",
            "CREATE TRIGGER t_ins BEFORE INSERT ON t FOR EACH ROW SET NEW.a = NEW.a + 1",
            "CREATE TABLE log (id int)",
            "CREATE TRIGGER log_ins AFTER INSERT ON log FOR EACH ROW SET @n = NEW.id",
        ],
        RenameHints::default(),
    )
    .await;
}

#[tokio::test]
async fn quoted_names() {
    round_trip(
        &["CREATE TABLE `order` (id int PRIMARY KEY, `group` int)"],
        &["CREATE TABLE `order` (id int PRIMARY KEY, `group` int, `key` int, `my col` int, KEY `select` (`key`))",
          "CREATE TABLE `user-data` (`desc` int) COMMENT 'a\\\\b'"],
        RenameHints::default(),
    )
    .await;
}

/// The number of catalog queries does not grow with the number of tables.
#[tokio::test]
async fn inspect_query_count_is_constant() {
    with_databases(1, |urls| async move {
        let url = &urls[0];
        let table = |i: usize| {
            vec![
                format!(
                    "CREATE TABLE t{i} (id int AUTO_INCREMENT PRIMARY KEY, a int CHECK (a > 0), b varchar(10) \
                     DEFAULT 'x' COMMENT 'b', j json, UNIQUE KEY u{i} (b), KEY i{i} (a DESC))"
                ),
                format!("CREATE VIEW v{i} AS SELECT id, a FROM t{i}"),
                format!("CREATE TRIGGER tr{i} BEFORE INSERT ON t{i} FOR EACH ROW SET NEW.a = 1"),
            ]
        };
        let mut c = connect(url).await;
        for s in table(0) {
            c.execute(&s).await.unwrap();
        }
        let (one, n1) = alembix::dialect::mysql::inspect::inspect_counted(&mut c, &[]).await.unwrap();
        assert_eq!(one.tables.len(), 1);
        for i in 1..50 {
            for s in table(i) {
                c.execute(&s).await.unwrap();
            }
            c.execute(&format!(
                "ALTER TABLE t{i} ADD COLUMN p int, ADD CONSTRAINT fk{i} FOREIGN KEY (p) REFERENCES t{} (id)",
                i - 1
            ))
            .await
            .unwrap();
        }
        let (fifty, n50) = alembix::dialect::mysql::inspect::inspect_counted(&mut c, &[]).await.unwrap();
        assert_eq!(fifty.tables.len(), 50);
        assert_eq!(fifty.views.len(), 50);
        assert_eq!(fifty.tables.iter().map(|t| t.foreign_keys.len()).sum::<usize>(), 49);
        assert_eq!(n1, n50, "queries for 1 table: {n1}, for 50 tables: {n50}");
        assert!(n1 <= 10, "{n1} queries");
        // Excluded tables are left out.
        let excluded = alembix::dialect::inspect(&mut c, &["t0".to_string()]).await.unwrap();
        assert!(excluded.table("t0").is_none() && excluded.table("t1").is_some());
        c.close().await;
    })
    .await;
}

/// What inspection makes of MariaDB/MySQL specifics.
#[tokio::test]
async fn inspect_details() {
    with_databases(1, |urls| async move {
        let url = &urls[0];
        apply(
            url,
            &[
                "CREATE TABLE p (id int AUTO_INCREMENT PRIMARY KEY, j json, n int DEFAULT NULL, m int NOT NULL, \
                 s varchar(10) DEFAULT 'it''s', g int AS (m * 2) VIRTUAL, UNIQUE KEY u_s (s)) COMMENT 'pc'"
                    .to_string(),
                "CREATE TABLE c (id int PRIMARY KEY, pid int, \
                 CONSTRAINT fk_p FOREIGN KEY (pid) REFERENCES p (id) ON DELETE CASCADE)"
                    .to_string(),
                "CREATE VIEW v AS SELECT id FROM p".to_string(),
            ],
            "DDL",
        )
        .await;
        let s = inspect(url).await;
        let p = s.table("p").unwrap();
        assert_eq!(p.comment.as_deref(), Some("pc"));
        assert_eq!(p.column("id").unwrap().identity, Some(alembix::schema::Identity::AutoIncrement));
        assert_eq!(p.column("j").unwrap().data_type, "json");
        assert!(p.checks.is_empty(), "{:?}", p.checks);
        assert_eq!(p.column("n").unwrap().default, None);
        assert_eq!(p.column("m").unwrap().default, None);
        assert_eq!(p.column("s").unwrap().default.as_deref(), Some("'it''s'"));
        assert!(p.column("g").unwrap().generated.as_ref().is_some_and(|g| !g.stored));
        assert_eq!(p.uniques.len(), 1);
        assert!(p.indexes.is_empty(), "{:?}", p.indexes);
        let c = s.table("c").unwrap();
        let names: Vec<&str> = c.indexes.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["fk_p"], "the server's index for the foreign key is listed");
        assert_eq!(c.foreign_keys[0].on_delete, alembix::schema::FkAction::Cascade);
        assert!(!s.views[0].definition.contains("alembix_t_"), "{}", s.views[0].definition);
    })
    .await;
}

#[tokio::test]
async fn renamed_table_with_trigger_fk_and_check() {
    let hints = RenameHints {
        tables: vec![("a".into(), "b".into())],
        columns: vec![],
    };
    round_trip(
        &[
            "CREATE TABLE p (id int PRIMARY KEY)",
            "CREATE TABLE a (id int PRIMARY KEY, pid int, q int, CONSTRAINT ck_q CHECK (q > 0), \
           CONSTRAINT fk_a FOREIGN KEY (pid) REFERENCES p (id))",
            "CREATE TRIGGER a_ins BEFORE INSERT ON a FOR EACH ROW SET NEW.q = 1",
        ],
        &[
            "CREATE TABLE p (id int PRIMARY KEY)",
            "CREATE TABLE b (id int PRIMARY KEY, pid int, q int)",
            "CREATE TRIGGER a_ins BEFORE INSERT ON b FOR EACH ROW SET NEW.q = 1",
        ],
        hints,
    )
    .await;
}

#[tokio::test]
async fn json_column_checks_and_long_unique() {
    round_trip(
        &["CREATE TABLE t (id int PRIMARY KEY, g int AS (id + 1) VIRTUAL)"],
        &["CREATE TABLE t (id int PRIMARY KEY, g int AS (id + 1) STORED)",
          "CREATE TABLE n (id int PRIMARY KEY, doc json, k int CHECK (k <> 3), body text, UNIQUE KEY ub (body), \
           CONSTRAINT CHECK (k < 100))"],
        RenameHints::default(),
    )
    .await;
}

#[tokio::test]
async fn virtual_to_stored_keeps_indexes() {
    let hints = RenameHints {
        tables: vec![],
        columns: vec![("t".into(), "g".into(), "g2".into())],
    };
    round_trip(
        &["CREATE TABLE t (id int PRIMARY KEY, h int, g int AS (id + 1) VIRTUAL, KEY ig (g, h), UNIQUE KEY ug (g), \
           KEY gone (g))"],
        &["CREATE TABLE t (id int PRIMARY KEY, h int, g2 int AS (id + 1) STORED, KEY ig (g2, h), UNIQUE KEY ug (g2))"],
        hints,
    )
    .await;
}
