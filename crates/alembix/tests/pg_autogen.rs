//! PostgreSQL autogenerate round trips on a real server: a "from" and a "to" schema are applied to two scratch
//! databases, both are inspected, the diff is rendered up and down, up is applied to the "from" database and
//! must inspect equal to "to", down must bring it back to "from", and up again must work.
//!
//! Needs `ALEMBIX_TEST_POSTGRES_URL` (an account that may create databases); when unset the tests print a
//! notice and pass, unless `ALEMBIX_TEST_REQUIRE_SERVERS=1`.
#![allow(clippy::unwrap_used)]

use std::future::Future;
use std::io::Write;

use alembix::dialect::{self, Connection};
use alembix::schema::{diff, Change, RenameHints, Schema};
use alembix::{DatabaseUrl, Dialect};

const ENV: &str = "ALEMBIX_TEST_POSTGRES_URL";

fn notice(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// The admin URL, or `None` after a notice (a panic when servers are required).
fn admin_url() -> Option<DatabaseUrl> {
    let Ok(raw) = std::env::var(ENV) else {
        let text = format!("SKIPPED postgres: {ENV} is not set");
        if std::env::var("ALEMBIX_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1") {
            panic!("{text} (ALEMBIX_TEST_REQUIRE_SERVERS=1)");
        }
        notice(&text);
        return None;
    };
    Some(DatabaseUrl::parse(&raw).unwrap())
}

async fn connect(url: &DatabaseUrl) -> Connection {
    match Connection::connect(url, None, |_, _| {}).await {
        Ok(c) => c,
        Err(e) => panic!("cannot connect to {url}: {}", e.message),
    }
}

/// Run `body` with `n` fresh databases (`alembix_t_<hex>`), dropped afterwards whatever happens; a panic of
/// the body is propagated after the cleanup.
async fn with_databases<F, Fut>(n: usize, body: F)
where
    F: FnOnce(Vec<DatabaseUrl>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(admin) = admin_url() else {
        return;
    };
    let mut names = Vec::new();
    let mut conn = connect(&admin).await;
    for _ in 0..n {
        let name = format!("alembix_t_{:016x}", getrandom::u64().unwrap());
        if let Err(e) = conn.execute(&format!("CREATE DATABASE {name}")).await {
            drop_databases(&mut conn, &names).await;
            panic!("CREATE DATABASE {name}: {e}");
        }
        names.push(name);
    }
    let urls = names.iter().map(|n| admin.with_database(n)).collect();
    let result = tokio::spawn(body(urls)).await;
    drop_databases(&mut conn, &names).await;
    conn.close().await;
    if let Err(e) = result {
        match e.try_into_panic() {
            Ok(payload) => std::panic::resume_unwind(payload),
            Err(e) => panic!("test task failed: {e}"),
        }
    }
}

async fn drop_databases(conn: &mut Connection, names: &[String]) {
    for name in names {
        if let Err(e) = conn
            .execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await
        {
            notice(&format!(
                "warning: could not drop test database {name}: {e}"
            ));
        }
    }
}

async fn inspect(conn: &mut Connection) -> Schema {
    dialect::inspect(conn, &[])
        .await
        .unwrap_or_else(|e| panic!("inspect: {e}"))
}

fn changes(from: &Schema, to: &Schema, hints: &RenameHints) -> Vec<Change> {
    diff(from, to, hints, dialect::diff_options(Dialect::Postgres))
}

/// Apply statements in one transaction, naming the statement that fails.
async fn apply(conn: &mut Connection, statements: &[String], label: &str) {
    conn.execute("BEGIN").await.unwrap();
    for s in statements {
        if let Err(e) = conn.execute(s).await {
            let _ = conn.execute("ROLLBACK").await;
            panic!(
                "{label}: {s}\n  failed: {e}\n  all statements:\n{}",
                statements.join(";\n")
            );
        }
    }
    conn.execute("COMMIT").await.unwrap();
}

/// What a round trip produced, for checks on the SQL.
struct Rendered {
    up: Vec<String>,
    down: Vec<String>,
}

impl Rendered {
    fn up_has(&self, needle: &str) {
        assert!(
            self.up.iter().any(|s| s.contains(needle)),
            "no up statement contains {needle:?}:\n{}",
            self.up.join(";\n")
        );
    }

    fn down_has(&self, needle: &str) {
        assert!(
            self.down.iter().any(|s| s.contains(needle)),
            "no down statement contains {needle:?}:\n{}",
            self.down.join(";\n")
        );
    }

    fn up_lacks(&self, needle: &str) {
        assert!(
            !self.up.iter().any(|s| s.contains(needle)),
            "an up statement contains {needle:?}:\n{}",
            self.up.join(";\n")
        );
    }
}

/// The round trip; `check` looks at the rendered SQL afterwards.
async fn round_trip(
    from_ddl: &'static str,
    to_ddl: &'static str,
    hints: RenameHints,
    check: fn(&Rendered),
) {
    with_databases(2, move |urls| async move {
        let mut a = connect(&urls[0]).await;
        let mut b = connect(&urls[1]).await;
        a.execute(from_ddl)
            .await
            .unwrap_or_else(|e| panic!("from DDL: {e}"));
        b.execute(to_ddl)
            .await
            .unwrap_or_else(|e| panic!("to DDL: {e}"));
        let from = inspect(&mut a).await;
        let to = inspect(&mut b).await;
        b.close().await;
        assert_ne!(from, to, "the two schemas should differ");

        let up_changes = changes(&from, &to, &hints);
        let down_changes = changes(&to, &from, &hints.reversed());
        let rendered = Rendered {
            up: dialect::render(Dialect::Postgres, &up_changes, &from, &to),
            down: dialect::render(Dialect::Postgres, &down_changes, &to, &from),
        };
        let show =
            |r: &Rendered| format!("up:\n{};\ndown:\n{};", r.up.join(";\n"), r.down.join(";\n"));

        for round in 1..=2 {
            apply(&mut a, &rendered.up, &format!("up (round {round})")).await;
            let after = inspect(&mut a).await;
            let left = changes(&after, &to, &RenameHints::default());
            assert!(
                left.is_empty(),
                "after up (round {round}) the database still differs from the target: {:#?}\n{}",
                left.iter().map(Change::describe).collect::<Vec<_>>(),
                show(&rendered)
            );

            apply(&mut a, &rendered.down, &format!("down (round {round})")).await;
            let back = inspect(&mut a).await;
            let left = changes(&back, &from, &RenameHints::default());
            assert!(
                left.is_empty(),
                "after down (round {round}) the database differs from the start: {:#?}\n{}",
                left.iter().map(Change::describe).collect::<Vec<_>>(),
                show(&rendered)
            );
        }
        a.close().await;
        check(&rendered);
    })
    .await
}

fn no_hints() -> RenameHints {
    RenameHints::default()
}

#[tokio::test]
async fn columns_add_drop_alter() {
    round_trip(
        "CREATE TABLE users (id integer PRIMARY KEY, name text, age integer, score integer DEFAULT 0, \
             nick varchar(10) NOT NULL, flag boolean);
         INSERT INTO users VALUES (1, 'ann', 30, 5, 'a', true);",
        "CREATE TABLE users (id integer PRIMARY KEY, age bigint NOT NULL DEFAULT 18, score integer, \
             nick varchar(20), flag integer, phone text);",
        no_hints(),
        |r| {
            r.up_has("ALTER TABLE users ADD COLUMN phone text");
            r.up_has("ALTER TABLE users DROP COLUMN name");
            r.up_has("ALTER COLUMN age TYPE bigint USING age::bigint");
            r.up_has("ALTER COLUMN age SET NOT NULL");
            r.up_has("ALTER COLUMN age SET DEFAULT 18");
            r.up_has("ALTER COLUMN score DROP DEFAULT");
            r.up_has("ALTER COLUMN nick TYPE character varying(20)");
            r.up_has("ALTER COLUMN nick DROP NOT NULL");
            r.up_has("ALTER COLUMN flag TYPE integer USING flag::integer");
        },
    )
    .await
}

#[tokio::test]
async fn identity_and_serial() {
    round_trip(
        "CREATE TABLE t (id integer NOT NULL, n serial, label text);
         CREATE TABLE u (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY);
         INSERT INTO t (id, label) VALUES (1, 'x');",
        "CREATE TABLE t (id integer GENERATED ALWAYS AS IDENTITY, n integer, label text);
         CREATE TABLE u (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);
         CREATE TABLE fresh (id bigserial PRIMARY KEY, k smallint GENERATED BY DEFAULT AS IDENTITY);",
        no_hints(),
        |r| {
            r.up_has("ALTER TABLE t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY");
            r.up_has("ALTER TABLE t ALTER COLUMN n DROP DEFAULT");
            r.up_has("ALTER TABLE u ALTER COLUMN id SET GENERATED ALWAYS");
            r.up_has("id bigserial NOT NULL");
            r.up_has("k smallint GENERATED BY DEFAULT AS IDENTITY NOT NULL");
            r.down_has("ALTER TABLE t ALTER COLUMN id DROP IDENTITY");
            r.down_has("SET DEFAULT nextval('t_n_seq'::regclass)");
        },
    )
    .await
}

#[tokio::test]
async fn generated_columns() {
    round_trip(
        "CREATE TABLE p (a integer, b integer, total integer GENERATED ALWAYS AS (a + b) STORED, x integer);
         CREATE INDEX p_total ON p (total);
         INSERT INTO p (a, b, x) VALUES (2, 3, 4);",
        "CREATE TABLE p (a integer, b integer, total integer GENERATED ALWAYS AS (a * b) STORED, \
             x integer GENERATED ALWAYS AS (a * 2) STORED);
         CREATE INDEX p_total ON p (total);",
        no_hints(),
        |r| {
            r.up_has("ALTER TABLE p DROP COLUMN total");
            r.up_has("ADD COLUMN total integer GENERATED ALWAYS AS (");
            r.up_has("CREATE INDEX p_total ON p (total)");
            r.down_has("ALTER TABLE p ALTER COLUMN x DROP EXPRESSION");
        },
    )
    .await
}

#[tokio::test]
async fn primary_key_changes() {
    round_trip(
        "CREATE TABLE k (a integer NOT NULL, b integer NOT NULL, CONSTRAINT k_pk PRIMARY KEY (a));
         CREATE TABLE m (a integer, b integer);
         CREATE TABLE n (a integer PRIMARY KEY);",
        "CREATE TABLE k (a integer NOT NULL, b integer NOT NULL, PRIMARY KEY (a, b));
         CREATE TABLE m (a integer PRIMARY KEY, b integer);
         CREATE TABLE n (a integer NOT NULL);",
        no_hints(),
        |r| {
            r.up_has("ALTER TABLE k DROP CONSTRAINT k_pk");
            r.up_has("ALTER TABLE k ADD CONSTRAINT k_pkey PRIMARY KEY (a, b)");
            r.up_has("ALTER TABLE m ADD CONSTRAINT m_pkey PRIMARY KEY (a)");
            r.up_has("ALTER TABLE n DROP CONSTRAINT n_pkey");
            r.down_has("ALTER TABLE m ALTER COLUMN a DROP NOT NULL");
        },
    )
    .await
}

#[tokio::test]
async fn unique_check_and_foreign_keys_with_actions() {
    round_trip(
        "CREATE TABLE parent (id integer PRIMARY KEY, code text);
         CREATE TABLE child (id integer PRIMARY KEY, parent_id integer REFERENCES parent ON DELETE CASCADE, \
             qty integer, code text, CONSTRAINT child_qty_small CHECK (qty < 100));",
        "CREATE TABLE parent (id integer PRIMARY KEY, code text UNIQUE);
         CREATE TABLE child (id integer PRIMARY KEY, \
             parent_id integer REFERENCES parent ON DELETE SET NULL ON UPDATE CASCADE, \
             qty integer CHECK (qty > 0), code text REFERENCES parent (code) ON DELETE RESTRICT, \
             CONSTRAINT child_u UNIQUE (parent_id, qty));",
        no_hints(),
        |r| {
            r.up_has("ALTER TABLE parent ADD CONSTRAINT parent_code_key UNIQUE (code)");
            r.up_has("ALTER TABLE child ADD CONSTRAINT child_u UNIQUE (parent_id, qty)");
            r.up_has("ALTER TABLE child ADD CONSTRAINT child_qty_check CHECK ((qty > 0))");
            r.up_has("ALTER TABLE child DROP CONSTRAINT child_qty_small");
            r.up_has("REFERENCES parent (id) ON UPDATE CASCADE ON DELETE SET NULL");
            r.up_has("REFERENCES parent (code) ON DELETE RESTRICT");
            r.up_has("ALTER TABLE child DROP CONSTRAINT child_parent_id_fkey");
            // The unique constraint the new foreign key needs comes first.
            let unique = r.up.iter().position(|s| s.contains("UNIQUE (code)")).unwrap();
            let fk = r.up.iter().position(|s| s.contains("REFERENCES parent (code)")).unwrap();
            assert!(unique < fk, "{:#?}", r.up);
        },
    )
    .await
}

#[tokio::test]
async fn partial_expression_and_unique_indexes() {
    round_trip(
        "CREATE TABLE docs (id integer, title text, body text, tags text[], deleted_at timestamptz);
         CREATE INDEX docs_title ON docs (title);",
        "CREATE TABLE docs (id integer, title text, body text, tags text[], deleted_at timestamptz);
         CREATE UNIQUE INDEX docs_title_live ON docs (lower(title)) WHERE deleted_at IS NULL;
         CREATE INDEX docs_tags ON docs USING gin (tags);
         CREATE INDEX docs_multi ON docs (id DESC, (title || body));
         CREATE UNIQUE INDEX docs_id ON docs (id);",
        no_hints(),
        |r| {
            r.up_has("DROP INDEX docs_title");
            r.up_has("CREATE UNIQUE INDEX docs_title_live ON docs ((lower(title))) WHERE (deleted_at IS NULL)");
            r.up_has("CREATE INDEX docs_tags ON docs USING gin (tags)");
            r.up_has("CREATE INDEX docs_multi ON docs (id DESC, ((title || body)))");
            r.up_has("CREATE UNIQUE INDEX docs_id ON docs (id)");
        },
    )
    .await
}

#[tokio::test]
async fn comments() {
    round_trip(
        "CREATE TABLE notes (id integer, body text);
         COMMENT ON TABLE notes IS 'old';
         COMMENT ON COLUMN notes.id IS 'identifier';",
        "CREATE TABLE notes (id integer, body text);
         COMMENT ON TABLE notes IS 'Notes, it''s new';
         COMMENT ON COLUMN notes.body IS 'the text';
         CREATE TABLE tags (id integer);
         COMMENT ON TABLE tags IS 'Tags';
         COMMENT ON COLUMN tags.id IS 'tag id';",
        no_hints(),
        |r| {
            r.up_has("COMMENT ON TABLE notes IS 'Notes, it''s new'");
            r.up_has("COMMENT ON COLUMN notes.body IS 'the text'");
            r.up_has("COMMENT ON COLUMN notes.id IS NULL");
            r.up_has("COMMENT ON TABLE tags IS 'Tags'");
            r.up_has("COMMENT ON COLUMN tags.id IS 'tag id'");
        },
    )
    .await
}

#[tokio::test]
async fn enums_create_add_value_recreate() {
    round_trip(
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
         CREATE TYPE color AS ENUM ('red', 'green');
         CREATE TABLE people (id integer PRIMARY KEY, m mood NOT NULL DEFAULT 'ok', hist mood[], c color);
         INSERT INTO people VALUES (1, 'happy', '{ok,happy}', 'red');",
        "CREATE TYPE mood AS ENUM ('ok', 'happy', 'ecstatic');
         CREATE TYPE color AS ENUM ('red', 'green', 'blue');
         CREATE TYPE size AS ENUM ('s', 'm');
         CREATE TABLE people (id integer PRIMARY KEY, m mood NOT NULL DEFAULT 'ok', hist mood[], c color, \
             sz size DEFAULT 's');",
        no_hints(),
        |r| {
            r.up_has("ALTER TYPE color ADD VALUE 'blue'");
            r.up_has("CREATE TYPE size AS ENUM ('s', 'm')");
            r.up_has("ALTER TYPE mood RENAME TO mood__old");
            r.up_has("CREATE TYPE mood AS ENUM ('ok', 'happy', 'ecstatic')");
            r.up_has("ALTER TABLE people ALTER COLUMN m TYPE mood USING m::text::mood");
            r.up_has("ALTER TABLE people ALTER COLUMN hist TYPE mood[] USING hist::text[]::mood[]");
            r.up_has("DROP TYPE mood__old");
            r.down_has("DROP TYPE size");
            // Removing 'blue' again is a recreate.
            r.down_has("ALTER TYPE color RENAME TO color__old");
        },
    )
    .await
}

#[tokio::test]
async fn views_including_one_over_an_altered_column() {
    round_trip(
        "CREATE TABLE t (id integer, amount integer);
         CREATE VIEW big AS SELECT id, amount FROM t WHERE amount > 10;
         CREATE VIEW old_v AS SELECT id FROM t;",
        "CREATE TABLE t (id integer, amount bigint);
         CREATE VIEW big AS SELECT id, amount FROM t WHERE amount > 10;
         CREATE VIEW bigger AS SELECT id FROM big WHERE amount > 100;
         CREATE VIEW lonely AS SELECT 1 AS one;",
        no_hints(),
        |r| {
            r.up_has("DROP VIEW old_v");
            r.up_has("DROP VIEW big");
            r.up_has("CREATE VIEW big AS");
            r.up_has("CREATE VIEW bigger AS");
            r.up_has("CREATE VIEW lonely AS");
            let pos = |needle: &str| r.up.iter().position(|s| s.contains(needle)).unwrap();
            assert!(pos("DROP VIEW big") < pos("TYPE bigint"));
            assert!(pos("TYPE bigint") < pos("CREATE VIEW big AS"));
            assert!(pos("CREATE VIEW big AS") < pos("CREATE VIEW bigger AS"));
        },
    )
    .await
}

#[tokio::test]
async fn foreign_key_cycle_between_new_tables() {
    round_trip(
        "CREATE TABLE other (id integer);",
        "CREATE TABLE other (id integer);
         CREATE TABLE a (id integer PRIMARY KEY, b_id integer);
         CREATE TABLE b (id integer PRIMARY KEY, a_id integer REFERENCES a);
         ALTER TABLE a ADD CONSTRAINT a_b_fk FOREIGN KEY (b_id) REFERENCES b;
         CREATE TABLE selfref (id integer PRIMARY KEY, parent integer REFERENCES selfref);",
        no_hints(),
        |r| {
            r.up_has("CREATE TABLE a");
            r.up_has("CREATE TABLE b");
            r.up_has("FOREIGN KEY (parent) REFERENCES selfref (id)");
            r.down_has("DROP TABLE a");
            r.down_has("DROP TABLE b");
        },
    )
    .await
}

#[tokio::test]
async fn rename_table_and_column_with_hints() {
    round_trip(
        "CREATE TABLE customers (id serial PRIMARY KEY, fullname text NOT NULL, email text);
         CREATE INDEX customers_email_idx ON customers (email);
         CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer REFERENCES customers);
         CREATE VIEW emails AS SELECT email FROM customers;
         INSERT INTO customers (fullname, email) VALUES ('Ann', 'ann@example.com');",
        "CREATE TABLE clients (id serial PRIMARY KEY, name text NOT NULL, email text);
         CREATE INDEX clients_email_idx ON clients (email);
         CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer REFERENCES clients);
         CREATE VIEW emails AS SELECT email FROM clients;",
        RenameHints {
            tables: vec![("customers".into(), "clients".into())],
            columns: vec![("clients".into(), "fullname".into(), "name".into())],
        },
        |r| {
            r.up_has("ALTER TABLE customers RENAME TO clients");
            r.up_has("ALTER TABLE clients RENAME COLUMN fullname TO name");
            r.up_has("ALTER SEQUENCE customers_id_seq RENAME TO clients_id_seq");
            r.up_lacks("DROP TABLE");
            r.up_lacks("DROP COLUMN");
        },
    )
    .await
}

#[tokio::test]
async fn triggers_with_a_plpgsql_function() {
    round_trip(
        concat!(
            "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS ",
            "$$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;",
            "CREATE TABLE items (id integer, updated_at timestamptz);",
            "CREATE TABLE old_items (id integer, updated_at timestamptz);",
            "CREATE TRIGGER old_touch BEFORE UPDATE ON old_items FOR EACH ROW EXECUTE FUNCTION touch();"
        ),
        concat!(
            "CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS ",
            "$$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;",
            "CREATE TABLE items (id integer, updated_at timestamptz);",
            "CREATE TRIGGER items_touch BEFORE INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION touch();",
            "CREATE TABLE old_items (id integer, updated_at timestamptz);",
            "CREATE TABLE logs (id integer, updated_at timestamptz);",
            "CREATE TRIGGER logs_touch BEFORE UPDATE ON logs FOR EACH ROW EXECUTE FUNCTION touch();"
        ),
        no_hints(),
        |r| {
            r.up_has("CREATE TRIGGER items_touch BEFORE INSERT OR UPDATE ON public.items");
            r.up_has("CREATE TRIGGER logs_touch");
            r.up_has("DROP TRIGGER old_touch ON old_items");
        },
    )
    .await
}

#[tokio::test]
async fn quoted_identifiers() {
    round_trip(
        "CREATE TABLE \"Order Items\" (\"Id\" integer PRIMARY KEY, \"user\" text);",
        "CREATE TABLE \"Order Items\" (\"Id\" integer PRIMARY KEY, \"user\" text NOT NULL, \"Qty\" integer);
         CREATE INDEX \"Order_Qty\" ON \"Order Items\" (\"Qty\");
         CREATE TABLE \"select\" (\"from\" integer REFERENCES \"Order Items\");",
        no_hints(),
        |r| {
            r.up_has("ALTER TABLE \"Order Items\" ADD COLUMN \"Qty\" integer");
            r.up_has("ALTER TABLE \"Order Items\" ALTER COLUMN \"user\" SET NOT NULL");
            r.up_has("CREATE INDEX \"Order_Qty\" ON \"Order Items\" (\"Qty\")");
            r.up_has("CREATE TABLE \"select\"");
        },
    )
    .await
}

#[tokio::test]
async fn excluded_tables_and_constraint_indexes_are_not_listed() {
    with_databases(1, |urls| async move {
        let mut c = connect(&urls[0]).await;
        c.execute(
            "CREATE TABLE alembix_version (version_num varchar(32) PRIMARY KEY);
             CREATE TABLE t (id integer PRIMARY KEY, email text UNIQUE, n integer);
             CREATE INDEX t_n ON t (n);",
        )
        .await
        .unwrap();
        let s = dialect::inspect(&mut c, &["public.alembix_version".to_string()])
            .await
            .unwrap();
        assert_eq!(
            s.tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            ["t"]
        );
        let t = &s.tables[0];
        assert_eq!(
            t.indexes
                .iter()
                .map(|i| i.name.as_str())
                .collect::<Vec<_>>(),
            ["t_n"]
        );
        assert_eq!(t.uniques[0].name.as_deref(), Some("t_email_key"));
        assert_eq!(
            t.primary_key.as_ref().unwrap().name.as_deref(),
            Some("t_pkey")
        );
        c.close().await;
    })
    .await
}

/// Committed transactions of the connection's database as the server counts them, after flushing this
/// session's pending statistics (PostgreSQL 15+). Every statement run in autocommit is one transaction.
async fn server_commits(conn: &mut Connection) -> Option<i64> {
    conn.execute("SELECT pg_stat_force_next_flush()")
        .await
        .ok()?;
    let rows = conn
        .query_text(
            "SELECT xact_commit::text FROM pg_stat_database WHERE datname = current_database()",
        )
        .await
        .ok()?;
    rows.first()?.first()?.as_ref()?.parse().ok()
}

/// Statements inspect sends, counted by the server; the least of a few tries (autovacuum may commit in the
/// same database meanwhile).
async fn inspect_statements(conn: &mut Connection) -> Option<i64> {
    let mut best: Option<i64> = None;
    for _ in 0..3 {
        let before = server_commits(conn).await?;
        let _ = inspect(conn).await;
        let after = server_commits(conn).await?;
        // The reading query of `before` and the flush of `after` are counted too.
        let n = after - before - 2;
        best = Some(best.map_or(n, |b| b.min(n)));
    }
    best
}

#[tokio::test]
async fn inspect_query_count_does_not_grow_with_tables() {
    with_databases(1, |urls| async move {
        let mut c = connect(&urls[0]).await;
        let table = |i: usize| {
            format!(
                "CREATE TABLE t{i} (id integer PRIMARY KEY, v text UNIQUE, n integer CHECK (n > 0), \
                 p integer REFERENCES t0 (id)) WITH (autovacuum_enabled = false);
                 CREATE INDEX t{i}_n ON t{i} (n); COMMENT ON TABLE t{i} IS 'table {i}';"
            )
        };
        c.execute(&table(0)).await.unwrap();
        let Some(one) = inspect_statements(&mut c).await else {
            notice("SKIPPED query count on the server: pg_stat_force_next_flush() needs PostgreSQL 15+");
            return;
        };
        for i in 1..50 {
            c.execute(&table(i)).await.unwrap();
        }
        let fifty = inspect_statements(&mut c).await.unwrap();
        assert_eq!(inspect(&mut c).await.tables.len(), 50);
        assert_eq!(one, fifty, "inspect ran {one} statements for 1 table and {fifty} for 50");
        // The catalog queries go in one batch: one round trip, one (implicit) transaction.
        assert_eq!(
            one, 1,
            "the server counted {one} transactions for the {} catalog queries, expected one batch",
            alembix::dialect::postgres::inspect::inspect_query_count()
        );
        c.close().await;
    })
    .await
}

#[tokio::test]
async fn drop_a_referenced_table_and_add_not_null_column_with_default() {
    round_trip(
        "CREATE TABLE owners (id integer PRIMARY KEY);
         CREATE TABLE pets (id integer PRIMARY KEY, owner_id integer REFERENCES owners ON DELETE SET NULL);
         INSERT INTO owners VALUES (1); INSERT INTO pets VALUES (1, NULL);",
        "CREATE TABLE pets (id integer PRIMARY KEY, owner_id integer, \
             kind text NOT NULL DEFAULT 'cat', born date DEFAULT CURRENT_DATE);",
        no_hints(),
        |r| {
            r.up_has("ALTER TABLE pets DROP CONSTRAINT pets_owner_id_fkey");
            r.up_has("DROP TABLE owners");
            r.up_has("ALTER TABLE pets ADD COLUMN kind text DEFAULT 'cat'::text NOT NULL");
            r.up_has("ALTER TABLE pets ADD COLUMN born date DEFAULT CURRENT_DATE");
            let pos = |needle: &str| r.up.iter().position(|s| s.contains(needle)).unwrap();
            assert!(pos("DROP CONSTRAINT pets_owner_id_fkey") < pos("DROP TABLE owners"));
        },
    )
    .await
}

/// `verify` reads one connection's schema three times per revision with the catalog queries prepared in
/// the session. The prepared reads must see every change as the plain ones do, and a session that no
/// longer has the statements (a transaction-mode pooler hands out another server connection;
/// `DEALLOCATE ALL` stands in for it here) must still be read, with the plain queries.
#[tokio::test]
async fn prepared_reads_match_plain_reads_and_survive_a_session_without_them() {
    with_databases(1, |urls| async move {
        let mut conn = connect(&urls[0]).await;
        let mut inspector = dialect::Inspector::new();
        let steps = [
            "CREATE TABLE a (id bigint PRIMARY KEY, name text NOT NULL DEFAULT 'x')",
            "CREATE TABLE b (id serial PRIMARY KEY, a_id bigint REFERENCES a (id) ON DELETE CASCADE, \
             n int CHECK (n > 0), UNIQUE (a_id, n))",
            "CREATE INDEX b_n_idx ON b (n DESC) WHERE n > 1",
            "CREATE TYPE mood AS ENUM ('sad', 'ok'); ALTER TABLE a ADD COLUMN m mood",
            "CREATE VIEW v AS SELECT id FROM a",
            "DROP VIEW v; ALTER TABLE b DROP COLUMN n",
        ];
        let mut seen = Vec::new();
        for (i, sql) in steps.iter().enumerate() {
            conn.execute(sql).await.unwrap();
            if i == 3 {
                conn.execute("DEALLOCATE ALL").await.unwrap();
            }
            let prepared = inspector
                .inspect_in(&mut conn, &[], &[])
                .await
                .unwrap_or_else(|e| panic!("prepared read after {sql}: {e}"));
            let plain = inspect(&mut conn).await;
            assert_eq!(prepared, plain, "after {sql}");
            if i == 0 {
                // The reads really are prepared ones, one statement per catalog query.
                let rows = conn
                    .query_text(
                        "SELECT count(*)::text FROM pg_prepared_statements \
                         WHERE name LIKE 'alembix\\_inspect\\_%'",
                    )
                    .await
                    .unwrap();
                assert_eq!(rows[0][0].as_deref(), Some("9"));
            }
            seen.push(prepared);
        }
        // Each step changed what was read: the prepared reads are not a stale first result.
        for w in seen.windows(2) {
            assert_ne!(w[0], w[1]);
        }
        conn.close().await;
    })
    .await;
}
