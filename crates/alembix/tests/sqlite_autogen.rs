//! SQLite autogenerate end to end, on in-memory databases (always runs): apply a "from" and a "to" schema,
//! inspect both, diff, render up and down, then apply up (inside a transaction, like the executor) to a
//! database that holds rows, check that it now inspects equal to "to" and that the rows survived, apply down
//! and check that it is back to "from".
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use alembix::dialect::{self, Connection};
use alembix::schema::{diff, Change, RenameHints, Schema};
use alembix::{DatabaseUrl, Dialect};

async fn db() -> Connection {
    Connection::connect(
        &DatabaseUrl::parse("sqlite::memory:").unwrap(),
        None,
        |_, _| {},
    )
    .await
    .unwrap()
}

async fn db_with(ddl: &str) -> Connection {
    let mut c = db().await;
    if !ddl.trim().is_empty() {
        c.execute(ddl)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{ddl}"));
    }
    c
}

async fn inspect(c: &mut Connection) -> Schema {
    dialect::inspect(c, &[]).await.unwrap()
}

fn opts() -> alembix::schema::DiffOptions {
    dialect::diff_options(Dialect::Sqlite)
}

/// Apply statements like the executor: one transaction, `foreign_key_check` must return nothing.
async fn apply(c: &mut Connection, stmts: &[String]) {
    c.execute("BEGIN IMMEDIATE").await.unwrap();
    for s in stmts {
        if s.trim_start().starts_with("PRAGMA foreign_key_check") {
            let rows = c
                .query_text(
                    "SELECT \"table\", CAST(rowid AS TEXT), parent FROM pragma_foreign_key_check",
                )
                .await
                .unwrap();
            assert!(
                rows.is_empty(),
                "foreign key violations {rows:?}\nscript:\n{}",
                stmts.join(";\n")
            );
            continue;
        }
        if let Err(e) = c.execute(s).await {
            panic!("{e}\nin statement:\n{s}\nscript:\n{}", stmts.join(";\n"));
        }
    }
    c.execute("COMMIT").await.unwrap();
}

/// Rows of `select` (one text column per row), e.g. `SELECT quote(id) || ',' || quote(name) FROM t ORDER BY id`.
async fn rows(c: &mut Connection, select: &str) -> Vec<String> {
    c.query_text(select)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{select}"))
        .into_iter()
        .map(|r| {
            r.into_iter()
                .next()
                .flatten()
                .unwrap_or_else(|| "NULL".into())
        })
        .collect()
}

struct Outcome {
    db: Connection,
    up: Vec<String>,
    down: Vec<String>,
}

/// The whole round trip; `seed` fills the "from" database, `check_up` / `check_down` are (query, rows)
/// pairs that must hold after each direction.
async fn roundtrip(
    from_ddl: &str,
    to_ddl: &str,
    hints: &RenameHints,
    seed: &str,
    check_up: &[(&str, &[&str])],
    check_down: &[(&str, &[&str])],
) -> Outcome {
    let mut from_db = db_with(from_ddl).await;
    let mut to_db = db_with(to_ddl).await;
    let from = inspect(&mut from_db).await;
    let to = inspect(&mut to_db).await;
    let up_changes = diff(&from, &to, hints, opts());
    assert!(
        !up_changes.is_empty(),
        "no changes between\n{from_ddl}\nand\n{to_ddl}"
    );
    let up = dialect::render(Dialect::Sqlite, &up_changes, &from, &to);
    let down_changes = diff(&to, &from, &hints.reversed(), opts());
    let down = dialect::render(Dialect::Sqlite, &down_changes, &to, &from);

    if !seed.trim().is_empty() {
        from_db
            .execute(seed)
            .await
            .unwrap_or_else(|e| panic!("{e}\n{seed}"));
    }
    let mut c = from_db;
    apply(&mut c, &up).await;
    let after = inspect(&mut c).await;
    let left = diff(&after, &to, &RenameHints::default(), opts());
    assert!(
        left.is_empty(),
        "after up, still differs from target: {:?}\nup:\n{}\nchanges: {up_changes:#?}",
        left.iter().map(Change::describe).collect::<Vec<_>>(),
        up.join(";\n")
    );
    for (q, want) in check_up {
        assert_eq!(
            rows(&mut c, q).await,
            *want,
            "after up: {q}\nup:\n{}",
            up.join(";\n")
        );
    }
    apply(&mut c, &down).await;
    let back = inspect(&mut c).await;
    let left = diff(&back, &from, &RenameHints::default(), opts());
    assert!(
        left.is_empty(),
        "after down, differs from start: {:?}\ndown:\n{}",
        left.iter().map(Change::describe).collect::<Vec<_>>(),
        down.join(";\n")
    );
    for (q, want) in check_down {
        assert_eq!(
            rows(&mut c, q).await,
            *want,
            "after down: {q}\ndown:\n{}",
            down.join(";\n")
        );
    }
    if std::env::var("ALEMBIX_SHOW_SQL").is_ok() {
        eprintln!(
            "--- up\n{};\n--- down\n{};",
            up.join(";\n"),
            down.join(";\n")
        );
    }
    Outcome { db: c, up, down }
}

fn rebuilds(stmts: &[String], table: &str) -> bool {
    stmts
        .iter()
        .any(|s| s.starts_with("CREATE TABLE") && s.contains(&format!("_alembix_new_{table}")))
}

fn none() -> RenameHints {
    RenameHints::default()
}

#[tokio::test]
async fn add_column_simple() {
    let o = roundtrip(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL)",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, phone TEXT, \
         active INTEGER NOT NULL DEFAULT 1, tag TEXT DEFAULT 'x''y')",
        &none(),
        "INSERT INTO users (id, name) VALUES (1, 'a'), (2, 'b')",
        &[(
            "SELECT quote(id) || ',' || name || ',' || quote(phone) || ',' || active || ',' || tag FROM users ORDER BY id",
            &["1,a,NULL,1,x'y", "2,b,NULL,1,x'y"],
        )],
        &[("SELECT id || ',' || name FROM users ORDER BY id", &["1,a", "2,b"])],
    )
    .await;
    assert!(!rebuilds(&o.up, "users"), "{:#?}", o.up);
    assert!(!rebuilds(&o.down, "users"), "{:#?}", o.down);
    assert!(
        o.up.iter()
            .any(|s| s == "ALTER TABLE users ADD COLUMN phone TEXT"),
        "{:#?}",
        o.up
    );
    assert!(
        o.down
            .iter()
            .any(|s| s == "ALTER TABLE users DROP COLUMN phone"),
        "{:#?}",
        o.down
    );
    assert!(!o.up.iter().any(|s| s.contains("foreign_key_check")));
}

#[tokio::test]
async fn add_column_with_foreign_key_is_an_alter() {
    let o = roundtrip(
        "CREATE TABLE teams (id INTEGER PRIMARY KEY); CREATE TABLE users (id INTEGER PRIMARY KEY)",
        "CREATE TABLE teams (id INTEGER PRIMARY KEY);
         CREATE TABLE users (id INTEGER PRIMARY KEY,
           team_id INT CONSTRAINT fk_team REFERENCES teams (id) ON DELETE CASCADE)",
        &none(),
        "INSERT INTO teams VALUES (1); INSERT INTO users VALUES (1)",
        &[("SELECT id || quote(team_id) FROM users", &["1NULL"])],
        &[("SELECT CAST(id AS TEXT) FROM users", &["1"])],
    )
    .await;
    assert_eq!(
        o.up,
        ["ALTER TABLE users ADD COLUMN team_id INT CONSTRAINT fk_team REFERENCES teams (id) ON DELETE CASCADE"]
    );
    // SQLite cannot drop a column in a foreign key: down rebuilds.
    assert!(rebuilds(&o.down, "users"), "{:#?}", o.down);
}

#[tokio::test]
async fn add_column_needing_rebuild() {
    let o = roundtrip(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, \
         created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP, code TEXT UNIQUE, \
         twice INTEGER GENERATED ALWAYS AS (id * 2) STORED, score INT DEFAULT (1 + 1))",
        &none(),
        "INSERT INTO users (id, name) VALUES (1, 'a'), (2, 'b')",
        &[(
            "SELECT id || ',' || name || ',' || (created_at IS NOT NULL) || ',' || twice || ',' || score \
             FROM users ORDER BY id",
            &["1,a,1,2,2", "2,b,1,4,2"],
        )],
        &[("SELECT id || ',' || name FROM users ORDER BY id", &["1,a", "2,b"])],
    )
    .await;
    assert!(rebuilds(&o.up, "users"), "{:#?}", o.up);
    // One rebuild for all the changes of the table.
    assert_eq!(
        o.up.iter()
            .filter(|s| s.starts_with("CREATE TABLE"))
            .count(),
        1,
        "{:#?}",
        o.up
    );
    assert!(rebuilds(&o.down, "users"), "{:#?}", o.down);
    assert_eq!(
        o.up.last().map(String::as_str),
        Some("PRAGMA foreign_key_check")
    );
}

#[tokio::test]
async fn drop_column_simple_and_rebuild() {
    let o = roundtrip(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, bio TEXT, email TEXT);
         CREATE INDEX ix_users_email ON users (email)",
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)",
        &none(),
        "INSERT INTO users VALUES (1, 'a', 'bio', 'a@x'), (2, 'b', NULL, NULL)",
        &[(
            "SELECT id || ',' || name FROM users ORDER BY id",
            &["1,a", "2,b"],
        )],
        &[(
            "SELECT id || ',' || name || ',' || quote(bio) FROM users ORDER BY id",
            &["1,a,NULL", "2,b,NULL"],
        )],
    )
    .await;
    // The index goes first, so both columns drop with ALTER TABLE.
    assert!(!rebuilds(&o.up, "users"), "{:#?}", o.up);
    assert!(
        o.up.iter().any(|s| s == "DROP INDEX ix_users_email"),
        "{:#?}",
        o.up
    );
    assert!(
        o.up.iter()
            .any(|s| s == "ALTER TABLE users DROP COLUMN email"),
        "{:#?}",
        o.up
    );

    // A column in a CHECK, one in a foreign key, one read by a trigger: rebuild.
    let o = roundtrip(
        "CREATE TABLE teams (id INTEGER PRIMARY KEY);
         CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, age INT CHECK (age > 0), \
           team_id INT REFERENCES teams (id), flag INT);
         CREATE TABLE log (msg TEXT);
         CREATE TRIGGER trg_flag AFTER UPDATE ON users BEGIN INSERT INTO log VALUES (new.flag); END",
        "CREATE TABLE teams (id INTEGER PRIMARY KEY);
         CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, flag INT);
         CREATE TABLE log (msg TEXT);
         CREATE TRIGGER trg_flag AFTER UPDATE ON users BEGIN INSERT INTO log VALUES (new.flag); END",
        &none(),
        "INSERT INTO teams VALUES (1); INSERT INTO users VALUES (1, 'a', 30, 1, 0), (2, 'b', NULL, NULL, 1)",
        &[("SELECT id || ',' || name || ',' || flag FROM users ORDER BY id", &["1,a,0", "2,b,1"])],
        &[("SELECT id || ',' || name || ',' || quote(age) FROM users ORDER BY id", &["1,a,NULL", "2,b,NULL"])],
    )
    .await;
    assert!(rebuilds(&o.up, "users"), "{:#?}", o.up);
    // The trigger came back with the rebuilt table.
    let mut c = o.db;
    c.execute("UPDATE users SET flag = 7 WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(rows(&mut c, "SELECT msg FROM log").await, ["7"]);
}

#[tokio::test]
async fn alter_type_null_default() {
    let o = roundtrip(
        "CREATE TABLE items (id INTEGER PRIMARY KEY, qty TEXT, price REAL, note TEXT DEFAULT 'x')",
        "CREATE TABLE items (id INTEGER PRIMARY KEY, qty INTEGER, price REAL NOT NULL DEFAULT 0, note TEXT)",
        &none(),
        "INSERT INTO items VALUES (1, '5', 2.5, 'n'), (2, '7', NULL, NULL)",
        &[(
            "SELECT id || ',' || typeof(qty) || ',' || qty || ',' || price || ',' || quote(note) FROM items ORDER BY id",
            &["1,integer,5,2.5,'n'", "2,integer,7,0.0,NULL"],
        )],
        &[("SELECT id || ',' || typeof(qty) || ',' || qty FROM items ORDER BY id", &["1,text,5", "2,text,7"])],
    )
    .await;
    assert!(rebuilds(&o.up, "items"));
    assert!(
        o.up.iter().any(|s| s.contains("COALESCE(price, 0)")),
        "{:#?}",
        o.up
    );
}

#[tokio::test]
async fn primary_key_change() {
    let o = roundtrip(
        "CREATE TABLE t (a INT NOT NULL, b INT NOT NULL, c TEXT, PRIMARY KEY (a))",
        "CREATE TABLE t (a INT NOT NULL, b INT NOT NULL, c TEXT, CONSTRAINT pk_t PRIMARY KEY (a, b))",
        &none(),
        "INSERT INTO t VALUES (1, 1, 'x'), (2, 1, 'y')",
        &[("SELECT a || ',' || b || ',' || c FROM t ORDER BY a", &["1,1,x", "2,1,y"])],
        &[("SELECT a || ',' || b || ',' || c FROM t ORDER BY a", &["1,1,x", "2,1,y"])],
    )
    .await;
    assert!(rebuilds(&o.up, "t") && rebuilds(&o.down, "t"));
    assert!(
        o.up[0].contains("CONSTRAINT pk_t PRIMARY KEY (a, b)"),
        "{:#?}",
        o.up
    );
}

#[tokio::test]
async fn unique_and_check_add_and_drop() {
    let o = roundtrip(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT, age INT, CONSTRAINT age_pos CHECK (age >= 0))",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT CONSTRAINT uq_email UNIQUE, age INT, \
         CHECK (age < 200))",
        &none(),
        "INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20)",
        &[("SELECT id || email || age FROM t ORDER BY id", &["1a10", "2b20"])],
        &[("SELECT id || email || age FROM t ORDER BY id", &["1a10", "2b20"])],
    )
    .await;
    assert!(rebuilds(&o.up, "t"));
    let mut c = o.db; // back at "from": the named check is there again, the unique is gone
    assert!(c
        .execute("INSERT INTO t VALUES (3, 'a', -1)")
        .await
        .is_err());
    c.execute("INSERT INTO t VALUES (3, 'a', 1)").await.unwrap();
}

#[tokio::test]
async fn foreign_keys_with_actions_while_referenced() {
    let from = "CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT);
         CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INT, title TEXT, editor_id INT REFERENCES authors (id));
         CREATE TABLE reviews (id INTEGER PRIMARY KEY, book_id INT REFERENCES books (id) ON DELETE CASCADE);
         CREATE INDEX ix_books_author ON books (author_id)";
    let to = "CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT);
         CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INT, title TEXT, editor_id INT,
           CONSTRAINT fk_author FOREIGN KEY (author_id) REFERENCES authors (id) ON DELETE SET NULL ON UPDATE CASCADE);
         CREATE TABLE reviews (id INTEGER PRIMARY KEY, book_id INT REFERENCES books (id) ON DELETE CASCADE);
         CREATE INDEX ix_books_author ON books (author_id)";
    let o = roundtrip(
        from,
        to,
        &none(),
        "INSERT INTO authors VALUES (1, 'ann'), (2, 'bob');
         INSERT INTO books VALUES (10, 1, 'x', 2), (11, 2, 'y', NULL);
         INSERT INTO reviews VALUES (100, 10), (101, 11)",
        &[(
            "SELECT id || ',' || author_id || ',' || title FROM books ORDER BY id",
            &["10,1,x", "11,2,y"],
        )],
        &[(
            "SELECT id || ',' || author_id || ',' || title FROM books ORDER BY id",
            &["10,1,x", "11,2,y"],
        )],
    )
    .await;
    assert!(rebuilds(&o.up, "books") && rebuilds(&o.down, "books"));
    assert!(!rebuilds(&o.up, "reviews"));
    assert!(
        o.up.iter()
            .any(|s| s.starts_with("CREATE INDEX ix_books_author")),
        "{:#?}",
        o.up
    );

    // Up again, then the new actions work and reviews still cascades from books.
    let mut c = o.db;
    apply(&mut c, &o.up).await;
    c.execute("PRAGMA foreign_keys = ON").await.unwrap();
    c.execute("DELETE FROM authors WHERE id = 1").await.unwrap();
    assert_eq!(
        rows(&mut c, "SELECT quote(author_id) FROM books WHERE id = 10").await,
        ["NULL"]
    );
    c.execute("DELETE FROM books WHERE id = 11").await.unwrap();
    assert_eq!(
        rows(&mut c, "SELECT CAST(id AS TEXT) FROM reviews").await,
        ["100"]
    );
}

#[tokio::test]
async fn foreign_key_violation_is_caught_by_the_check() {
    // Rows that break the new foreign key: the rebuild ends with a check that reports them.
    let mut from_db = db_with("CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INT)").await;
    let mut to_db = db_with("CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INT REFERENCES p (id))").await;
    let (from, to) = (inspect(&mut from_db).await, inspect(&mut to_db).await);
    let up = dialect::render(
        Dialect::Sqlite,
        &diff(&from, &to, &none(), opts()),
        &from,
        &to,
    );
    assert_eq!(
        up.last().map(String::as_str),
        Some("PRAGMA foreign_key_check")
    );
    from_db
        .execute("INSERT INTO c VALUES (1, 42)")
        .await
        .unwrap();
    from_db.execute("BEGIN IMMEDIATE").await.unwrap();
    for s in &up[..up.len() - 1] {
        from_db.execute(s).await.unwrap();
    }
    let violations = from_db
        .query_text("SELECT \"table\", parent FROM pragma_foreign_key_check")
        .await
        .unwrap();
    assert_eq!(
        violations,
        [vec![Some("c".to_string()), Some("p".to_string())]]
    );
    from_db.execute("ROLLBACK").await.unwrap();
}

#[tokio::test]
async fn partial_and_expression_indexes() {
    let from = "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, deleted_at TEXT)";
    let to = "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT, deleted_at TEXT);
         CREATE UNIQUE INDEX ux_email ON users (lower(email)) WHERE deleted_at IS NULL;
         CREATE INDEX ix_del ON users (deleted_at DESC, id)";
    let o = roundtrip(
        from,
        to,
        &none(),
        "INSERT INTO users VALUES (1, 'A@x', NULL)",
        &[],
        &[],
    )
    .await;
    assert!(!rebuilds(&o.up, "users"));
    assert!(
        o.up.iter().any(|s| s
            == "CREATE UNIQUE INDEX ux_email ON users (lower(email)) WHERE deleted_at IS NULL"),
        "{:#?}",
        o.up
    );
    assert!(
        o.up.iter()
            .any(|s| s == "CREATE INDEX ix_del ON users (deleted_at DESC, id)"),
        "{:#?}",
        o.up
    );

    // The same indexes survive a rebuild of their table.
    let from2 = format!("{to}; ");
    let to2 = to.replace(
        "deleted_at TEXT)",
        "deleted_at TEXT, CHECK (email LIKE '%@%'))",
    );
    let o = roundtrip(
        &from2,
        &to2,
        &none(),
        "INSERT INTO users VALUES (1, 'A@x', NULL)",
        &[],
        &[],
    )
    .await;
    assert!(rebuilds(&o.up, "users"));
    let mut c = o.db;
    apply(&mut c, &o.up).await;
    assert!(
        c.execute("INSERT INTO users VALUES (2, 'a@X', NULL)")
            .await
            .is_err(),
        "unique index lost"
    );
}

#[tokio::test]
async fn triggers_survive_a_rebuild() {
    let from = "CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INT);
         CREATE TABLE audit (id INTEGER PRIMARY KEY, account_id INT, delta INT);
         CREATE TRIGGER trg_audit AFTER UPDATE OF balance ON accounts
         BEGIN INSERT INTO audit (account_id, delta) VALUES (new.id, new.balance - old.balance); END;
         CREATE TRIGGER trg_audit_guard BEFORE INSERT ON audit
         BEGIN SELECT RAISE(ABORT, 'no account') WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE id = new.account_id); END";
    let to = from.replace("balance INT)", "balance INT NOT NULL DEFAULT 0)");
    let o = roundtrip(
        from,
        &to,
        &none(),
        "INSERT INTO accounts VALUES (1, 10), (2, NULL)",
        &[],
        &[],
    )
    .await;
    assert!(rebuilds(&o.up, "accounts"));
    assert!(!rebuilds(&o.up, "audit"));
    let mut c = o.db;
    apply(&mut c, &o.up).await;
    c.execute("UPDATE accounts SET balance = 15 WHERE id = 1")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut c, "SELECT account_id || ':' || delta FROM audit").await,
        ["1:5"]
    );
    assert!(c
        .execute("INSERT INTO audit (account_id, delta) VALUES (99, 1)")
        .await
        .is_err());
    assert_eq!(
        rows(
            &mut c,
            "SELECT CAST(balance AS TEXT) FROM accounts WHERE id = 2"
        )
        .await,
        ["0"]
    );
}

#[tokio::test]
async fn views_over_a_rebuilt_table_survive() {
    let from = "CREATE TABLE orders (id INTEGER PRIMARY KEY, amount INT, status TEXT);
         CREATE VIEW big_orders AS SELECT id, amount FROM orders WHERE amount > 100;
         CREATE VIEW big_count AS SELECT count(*) AS n FROM big_orders;
         CREATE VIEW other AS SELECT 1 AS one";
    let to = from.replace("status TEXT)", "status TEXT, CHECK (amount >= 0))");
    let o = roundtrip(
        from,
        &to,
        &none(),
        "INSERT INTO orders VALUES (1, 50, 'a'), (2, 500, 'b')",
        &[("SELECT CAST(n AS TEXT) FROM big_count", &["1"])],
        &[("SELECT CAST(n AS TEXT) FROM big_count", &["1"])],
    )
    .await;
    assert!(rebuilds(&o.up, "orders"));
    for v in ["big_orders", "big_count"] {
        assert_eq!(
            o.up.iter()
                .filter(|s| **s == format!("DROP VIEW {v}"))
                .count(),
            1,
            "{:#?}",
            o.up
        );
        assert_eq!(
            o.up.iter()
                .filter(|s| s.starts_with(&format!("CREATE VIEW {v} ")))
                .count(),
            1
        );
    }
    assert!(
        !o.up.iter().any(|s| s.contains("VIEW other")),
        "{:#?}",
        o.up
    );
    // The reading view comes back after the view it reads.
    let pos = |name: &str| {
        o.up.iter()
            .position(|s| s.starts_with(&format!("CREATE VIEW {name} ")))
            .unwrap()
    };
    assert!(pos("big_orders") < pos("big_count"));
}

#[tokio::test]
async fn view_changed_and_table_rebuilt_is_not_duplicated() {
    // The diff itself drops and creates the view (its table's column type changes); the rebuild must not
    // drop or create it a second time.
    let from = "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);
         CREATE VIEW tv AS SELECT id, v FROM t";
    let to = "CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER);
         CREATE VIEW tv AS SELECT id, v FROM t WHERE v > 0";
    let o = roundtrip(
        from,
        to,
        &none(),
        "INSERT INTO t VALUES (1, '3')",
        &[("SELECT CAST(v AS TEXT) FROM tv", &["3"])],
        &[],
    )
    .await;
    assert_eq!(
        o.up.iter().filter(|s| s.starts_with("DROP VIEW")).count(),
        1,
        "{:#?}",
        o.up
    );
    assert_eq!(
        o.up.iter().filter(|s| s.starts_with("CREATE VIEW")).count(),
        1,
        "{:#?}",
        o.up
    );
    assert_eq!(
        o.down
            .iter()
            .filter(|s| s.starts_with("CREATE VIEW"))
            .count(),
        1,
        "{:#?}",
        o.down
    );
}

#[tokio::test]
async fn autoincrement_is_kept_and_changed() {
    // Rebuilding keeps AUTOINCREMENT and its counter: a deleted top id is not reused.
    let from = "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT)";
    let to =
        "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL DEFAULT '')";
    let o = roundtrip(
        from,
        to,
        &none(),
        "INSERT INTO events (name) VALUES ('a'), ('b'), ('c'); DELETE FROM events WHERE id = 3",
        &[("SELECT id || name FROM events ORDER BY id", &["1a", "2b"])],
        &[],
    )
    .await;
    assert!(rebuilds(&o.up, "events"));
    let mut c = o.db;
    c.execute("INSERT INTO events (name) VALUES ('d')")
        .await
        .unwrap();
    assert_eq!(
        rows(&mut c, "SELECT CAST(max(id) AS TEXT) FROM events").await,
        ["4"]
    );

    // Turning AUTOINCREMENT on and off is a rebuild too.
    let o = roundtrip(
        "CREATE TABLE e (id INTEGER PRIMARY KEY, name TEXT)",
        "CREATE TABLE e (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT)",
        &none(),
        "INSERT INTO e VALUES (5, 'x')",
        &[("SELECT id || name FROM e", &["5x"])],
        &[("SELECT id || name FROM e", &["5x"])],
    )
    .await;
    assert!(rebuilds(&o.up, "e") && rebuilds(&o.down, "e"));
    assert!(
        o.up[0].contains("id INTEGER PRIMARY KEY AUTOINCREMENT"),
        "{:#?}",
        o.up
    );
}

#[tokio::test]
async fn generated_columns() {
    let o = roundtrip(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a INT, b INT)",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a INT, b INT, s INT GENERATED ALWAYS AS (a + b) VIRTUAL)",
        &none(),
        "INSERT INTO t VALUES (1, 2, 3)",
        &[("SELECT CAST(s AS TEXT) FROM t", &["5"])],
        &[("SELECT a || b FROM t", &["23"])],
    )
    .await;
    assert!(!rebuilds(&o.up, "t"), "{:#?}", o.up);

    let o = roundtrip(
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a INT, b INT, s INT AS (a + b))",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, a INT, b INT, s INT AS (a - b), p INT AS (a * b) STORED)",
        &none(),
        "INSERT INTO t VALUES (1, 2, 3)",
        &[("SELECT s || ',' || p FROM t", &["-1,6"])],
        &[("SELECT CAST(s AS TEXT) FROM t", &["5"])],
    )
    .await;
    assert!(rebuilds(&o.up, "t") && rebuilds(&o.down, "t"));
}

#[tokio::test]
async fn renames_from_hints() {
    let from = "CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, age INT);
         CREATE INDEX ix_name ON people (name);
         CREATE TABLE pets (id INTEGER PRIMARY KEY, owner_id INT REFERENCES people (id))";
    let to = "CREATE TABLE users (id INTEGER PRIMARY KEY, full_name TEXT, age INT);
         CREATE INDEX ix_name ON users (full_name);
         CREATE TABLE pets (id INTEGER PRIMARY KEY, owner_id INT REFERENCES users (id))";
    let hints = RenameHints {
        tables: vec![("people".into(), "users".into())],
        columns: vec![("users".into(), "name".into(), "full_name".into())],
    };
    let seed = "INSERT INTO people VALUES (1, 'ann', 30); INSERT INTO pets VALUES (1, 1)";
    let o = roundtrip(
        from,
        to,
        &hints,
        seed,
        &[("SELECT id || full_name || age FROM users", &["1ann30"])],
        &[("SELECT id || name || age FROM people", &["1ann30"])],
    )
    .await;
    assert_eq!(
        o.up,
        [
            "ALTER TABLE people RENAME TO users",
            "ALTER TABLE users RENAME COLUMN name TO full_name"
        ]
    );

    // Renamed and rebuilt at once: the copy maps the old column names.
    let to2 = to.replace("age INT)", "age INT NOT NULL DEFAULT 0)");
    let o = roundtrip(
        from,
        &to2,
        &hints,
        "INSERT INTO people VALUES (1, 'ann', NULL); INSERT INTO pets VALUES (1, 1)",
        &[("SELECT id || full_name || age FROM users", &["1ann0"])],
        &[("SELECT id || name || age FROM people", &["1ann0"])],
    )
    .await;
    assert!(
        rebuilds(&o.up, "users") && rebuilds(&o.down, "people"),
        "{:#?}",
        o.up
    );
    assert!(
        o.up.iter()
            .any(|s| s.contains("SELECT id, name, COALESCE(age, 0) FROM users")),
        "{:#?}",
        o.up
    );
}

#[tokio::test]
async fn foreign_key_cycle_between_new_tables() {
    let o = roundtrip(
        "CREATE TABLE keep (id INTEGER PRIMARY KEY)",
        "CREATE TABLE keep (id INTEGER PRIMARY KEY);
         CREATE TABLE a (id INTEGER PRIMARY KEY, b_id INT REFERENCES b (id) ON DELETE SET NULL);
         CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INT REFERENCES a (id))",
        &none(),
        "INSERT INTO keep VALUES (1)",
        &[("SELECT CAST(id AS TEXT) FROM keep", &["1"])],
        &[("SELECT CAST(id AS TEXT) FROM keep", &["1"])],
    )
    .await;
    assert_eq!(
        o.up.iter()
            .filter(|s| s.starts_with("CREATE TABLE"))
            .count(),
        2,
        "{:#?}",
        o.up
    );
    // The cycle's foreign keys go with the tables (no ALTER, no rebuild).
    let mut down = o.down.clone();
    down.sort();
    assert_eq!(down, ["DROP TABLE a", "DROP TABLE b"]);
}

#[tokio::test]
async fn new_table_with_indexes_and_triggers_and_collations() {
    let o = roundtrip(
        "CREATE TABLE keep (id INTEGER PRIMARY KEY, name TEXT)",
        "CREATE TABLE keep (id INTEGER PRIMARY KEY, name TEXT COLLATE NOCASE);
         CREATE INDEX ix_keep_name ON keep (name COLLATE BINARY DESC);
         CREATE TABLE tags (id INTEGER PRIMARY KEY, keep_id INT REFERENCES keep (id), label TEXT COLLATE NOCASE);
         CREATE UNIQUE INDEX ux_tags ON tags (keep_id, label);
         CREATE TRIGGER trg_tags AFTER INSERT ON tags BEGIN UPDATE keep SET name = new.label WHERE id = new.keep_id; END",
        &none(),
        "INSERT INTO keep VALUES (1, 'a')",
        &[("SELECT CAST(count(*) AS TEXT) FROM keep WHERE name = 'A'", &["1"])],
        &[("SELECT CAST(count(*) AS TEXT) FROM keep WHERE name = 'A'", &["0"])],
    )
    .await;
    assert!(
        rebuilds(&o.up, "keep"),
        "collation change rebuilds: {:#?}",
        o.up
    );
    let mut c = o.db;
    apply(&mut c, &o.up).await;
    c.execute("INSERT INTO tags (keep_id, label) VALUES (1, 'z')")
        .await
        .unwrap();
    assert!(c
        .execute("INSERT INTO tags (keep_id, label) VALUES (1, 'Z')")
        .await
        .is_err());
    assert_eq!(rows(&mut c, "SELECT name FROM keep").await, ["z"]);
}

#[tokio::test]
async fn inspect_reads_what_was_declared() {
    let mut c = db_with(
        "CREATE TABLE p (id INTEGER PRIMARY KEY AUTOINCREMENT, code TEXT NOT NULL DEFAULT 'x',
           n NUMERIC(10, 2) DEFAULT (1 + 2), g INT GENERATED ALWAYS AS (n * 2) STORED,
           CONSTRAINT uq_code UNIQUE (code), CONSTRAINT n_pos CHECK (n >   0));
         CREATE TABLE c (id INTEGER PRIMARY KEY, p_id INT CONSTRAINT fk_p REFERENCES p ON DELETE CASCADE);
         CREATE INDEX ix_c ON c (p_id DESC) WHERE p_id IS NOT NULL;
         CREATE VIEW pv AS SELECT id FROM p;
         CREATE VIRTUAL TABLE docs USING fts5(body);
         CREATE TABLE alembic_version (version_num TEXT)",
    )
    .await;
    let s = dialect::inspect(&mut c, &["alembic_version".to_string()])
        .await
        .unwrap();
    assert_eq!(
        s.tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["c", "p"]
    );
    let p = s.table("p").unwrap();
    let id = p.column("id").unwrap();
    assert_eq!(id.identity, Some(alembix::schema::Identity::AutoIncrement));
    assert_eq!(p.column("code").unwrap().default.as_deref(), Some("'x'"));
    assert!(!p.column("code").unwrap().nullable);
    assert_eq!(p.column("n").unwrap().data_type, "NUMERIC(10, 2)");
    let g = p.column("g").unwrap().generated.clone().unwrap();
    assert_eq!((g.expression.as_str(), g.stored), ("n * 2", true));
    assert_eq!(p.uniques[0].name.as_deref(), Some("uq_code"));
    assert_eq!(p.checks[0].expression, "n > 0");
    assert_eq!(p.checks[0].name.as_deref(), Some("n_pos"));
    let c_t = s.table("c").unwrap();
    let fk = &c_t.foreign_keys[0];
    assert_eq!(fk.name.as_deref(), Some("fk_p"));
    assert_eq!(fk.ref_columns, ["id"]);
    assert_eq!(fk.on_delete, alembix::schema::FkAction::Cascade);
    let ix = &c_t.indexes[0];
    assert!(ix.parts[0].descending);
    assert_eq!(ix.predicate.as_deref(), Some("p_id IS NOT NULL"));
    assert_eq!(s.views[0].definition, "SELECT id FROM p");
}

#[tokio::test]
async fn inspect_query_count_does_not_grow_with_tables() {
    let mut small = db_with("CREATE TABLE t0 (id INTEGER PRIMARY KEY)").await;
    let (_, n_small) = dialect::sqlite::inspect::inspect_counted(&mut small, &[])
        .await
        .unwrap();

    let mut ddl = String::new();
    for i in 0..60usize {
        ddl.push_str(&format!(
            "CREATE TABLE t{i} (id INTEGER PRIMARY KEY, name TEXT UNIQUE, parent INT REFERENCES t{} (id), \
             CHECK (id > 0));
             CREATE INDEX ix_t{i} ON t{i} (name, parent) WHERE parent IS NOT NULL;
             CREATE TRIGGER trg_t{i} AFTER INSERT ON t{i} BEGIN SELECT 1; END;
             CREATE VIEW v{i} AS SELECT id FROM t{i};\n",
            i.saturating_sub(1)
        ));
    }
    let mut big = db_with(&ddl).await;
    let (schema, n_big) = dialect::sqlite::inspect::inspect_counted(&mut big, &[])
        .await
        .unwrap();
    assert_eq!(schema.tables.len(), 60);
    assert_eq!(schema.views.len(), 60);
    assert_eq!(n_small, n_big);
    assert_eq!(n_big, dialect::sqlite::inspect::QUERIES.len());
}

/// The catalog comes back as one JSON document per query: text that JSON must escape (quotes, backslashes,
/// newlines, control characters, non-ASCII) and NULLs read back exactly as SQLite stores them.
#[tokio::test]
async fn catalog_text_survives_the_json_round_trip() {
    let ddl = "CREATE TABLE \"we\"\"ird\\\\ tåble\" (\n  id INTEGER PRIMARY KEY,\n  \
               note TEXT DEFAULT 'it''s a \\ back\nslash \u{1}',\n  \
               plain TEXT,\n  \
               CONSTRAINT \"chk \u{e9}\" CHECK (note <> '\"\\t\"')\n)";
    let mut c = db_with(ddl).await;
    let s = inspect(&mut c).await;
    let table = &s.tables[0];
    assert_eq!(table.name, "we\"ird\\\\ tåble");
    let note = table.columns.iter().find(|c| c.name == "note").unwrap();
    assert_eq!(
        note.default.as_deref(),
        Some("'it''s a \\ back\nslash \u{1}'")
    );
    let plain = table.columns.iter().find(|c| c.name == "plain").unwrap();
    assert_eq!(plain.default, None);
    assert_eq!(table.checks.len(), 1, "{:?}", table.checks);
    assert_eq!(table.checks[0].name.as_deref(), Some("chk \u{e9}"));
    assert!(
        table.checks[0].expression.contains("'\"\\t\"'"),
        "{:?}",
        table.checks[0]
    );
    // The same schema applied again compares equal to itself.
    let mut again = db_with(ddl).await;
    assert!(diff(
        &s,
        &inspect(&mut again).await,
        &RenameHints::default(),
        opts()
    )
    .is_empty());
}
