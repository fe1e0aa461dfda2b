//! Hostile input, as the production-hardening issue found it: each case failed before its fix.
#![allow(clippy::unwrap_used)]

mod common;

use common::{code, Project};

fn rev(id: &str, parent: &str, up: &str) -> String {
    format!("-- {id}\n-- Revision ID: {id}\n-- Revises: {parent}\n\n-- migrate:up\n{up}\n\n-- migrate:down\nSELECT 1;\n")
}

/// A revision ending in a comment that is never closed swallowed the bookkeeping and the COMMIT of its
/// one-round-trip batch: `Done ... now at r2` while nothing was applied.
#[test]
fn an_unterminated_comment_is_refused_before_anything_runs() {
    let p = Project::with_files(&[
        ("r1_a.sql", &rev("r1", "", "CREATE TABLE t1 (id INTEGER);")),
        (
            "r2_b.sql",
            &rev(
                "r2",
                "r1",
                "CREATE TABLE t2 (id INTEGER);\nINSERT INTO t1 VALUES (1) /* never closed",
            ),
        ),
        (
            "r3_c.sql",
            &rev("r3", "r2", "CREATE TABLE t3 (id INTEGER);"),
        ),
    ]);
    let (c, out, err) = code(&p, &["--url", "sqlite:app.db", "upgrade", "head"]);
    assert_eq!(c, 2, "{out}{err}");
    assert!(
        err.contains("migrations/r2_b.sql:7: unterminated block comment `/*`"),
        "{err}"
    );
    assert!(!err.contains("Done"), "{err}");
    // Nothing ran, nothing was recorded.
    let (c, out, _) = code(&p, &["--url", "sqlite:app.db", "current"]);
    assert!(c == 2 || !out.contains("r1"), "{out}");

    // Strings and dollar quotes the same way; a MySQL escape in a plain section is not refused.
    let p = Project::with_files(&[("r1_a.sql", &rev("r1", "", "SELECT 'it''s;\nSELECT 2;"))]);
    let (c, _, err) = code(&p, &["heads"]);
    assert_eq!(c, 2);
    assert!(err.contains("r1_a.sql:6: unterminated string"), "{err}");
    let p = Project::with_files(&[(
        "r1_a.sql",
        "-- a\n-- Revision ID: r1\n-- migrate:up postgresql\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1;\n",
    )]);
    let (c, _, err) = code(&p, &["heads"]);
    assert_eq!(c, 2);
    assert!(
        err.contains("r1_a.sql:4: unterminated dollar-quoted string"),
        "{err}"
    );
    let p = Project::with_files(&[(
        "r1_a.sql",
        &rev("r1", "", "INSERT INTO t VALUES ('it\\'s');"),
    )]);
    p.ok(&["heads"]);
    // ... but running it on SQLite, whose strings have no backslash escapes, is.
    let (c, _, err) = code(&p, &["--url", "sqlite:app.db", "upgrade", "head"]);
    assert_eq!(c, 2);
    assert!(err.contains("unterminated string `'` for sqlite"), "{err}");
}

/// A URL that fails to parse was printed whole, password included.
#[test]
fn no_password_in_url_errors_from_any_source() {
    let bad = [
        "postgres://app@127.0.0.1:99999/db?password=S3cr3tPw",
        "postgres://app@127.0.0.1:99999/db?sslpassword=S3cr3tPw",
        "postgres://app@127.0.0.1:99999/db?Password=S3cr3tPw",
        "postgres:app:S3cr3tPw@127.0.0.1:99999/db",
        "postgres://app:S3cr3tPw#x@127.0.0.1/db",
    ];
    for url in bad {
        let p = Project::with_files(&[("r1_a.sql", &rev("r1", "", "SELECT 1;"))]);
        // --url
        let (c, out, err) = code(&p, &["--url", url, "current"]);
        assert_eq!(c, 2, "{url}: {out}{err}");
        assert!(
            !format!("{out}{err}").contains("S3cr3t"),
            "--url {url}: {err}"
        );
        // $DATABASE_URL
        let o = p
            .cmd(&["current"])
            .env("DATABASE_URL", url)
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(o.status.code(), Some(2), "{all}");
        assert!(!all.contains("S3cr3t"), "$DATABASE_URL {url}: {all}");
        // .env
        p.write(".env", &format!("DATABASE_URL={url}\n"));
        let (c, out, err) = code(&p, &["current"]);
        assert_eq!(c, 2);
        assert!(
            !format!("{out}{err}").contains("S3cr3t"),
            ".env {url}: {err}"
        );
        std::fs::remove_file(p.path(".env")).unwrap();
        // alembix.toml
        p.write(
            "alembix.toml",
            &format!("migrations = \"migrations\"\nurl = \"{url}\"\n"),
        );
        let (c, out, err) = code(&p, &["current"]);
        assert_eq!(c, 2);
        assert!(
            !format!("{out}{err}").contains("S3cr3t"),
            "alembix.toml {url}: {err}"
        );
        // ... and an unquoted one, which is a TOML error quoting the line.
        p.write(
            "alembix.toml",
            &format!("migrations = \"migrations\"\nurl = {url}\n"),
        );
        let (c, out, err) = code(&p, &["current"]);
        assert_eq!(c, 2);
        assert!(
            !format!("{out}{err}").contains("S3cr3t"),
            "bad toml {url}: {err}"
        );
    }
}

#[test]
fn small_defects_found_the_same_way() {
    let p = Project::with_files(&[("r1_a.sql", &rev("r1", "", "CREATE TABLE t1 (id INTEGER);"))]);

    // `--wait 3s` waits the whole three seconds, not half of them.
    let started = std::time::Instant::now();
    let (c, _, err) = code(
        &p,
        &[
            "--url",
            "postgres://app@127.0.0.1:1/db",
            "current",
            "--wait",
            "3s",
        ],
    );
    let took = started.elapsed();
    assert_eq!(c, 2, "{err}");
    assert!(
        took >= std::time::Duration::from_millis(2900),
        "gave up after {took:?}: {err}"
    );

    // `upgrade` reads the revision files while it connects: a broken file is reported at once, as when
    // they were read first, not after waiting for the server.
    let broken = Project::with_files(&[
        ("r1_a.sql", &rev("r1", "", "CREATE TABLE t1 (id INTEGER);")),
        (
            "r2_b.sql",
            "-- b\n-- Revision ID: r2\n-- Revises: nosuch\n-- migrate:up\nSELECT 1;\n",
        ),
    ]);
    let started = std::time::Instant::now();
    let (c, _, err) = code(
        &broken,
        &[
            "--url",
            "postgres://app@127.0.0.1:1/db",
            "upgrade",
            "head",
            "--wait",
            "30s",
        ],
    );
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("nosuch"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "waited {:?} for the server: {err}",
        started.elapsed()
    );
    // Nor does it leave an empty SQLite database behind.
    let (c, _, err) = code(&broken, &["--url", "sqlite:fresh.db", "upgrade", "head"]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("nosuch"), "{err}");
    assert!(!broken.path("fresh.db").exists());

    // Reading never creates a SQLite database.
    let (c, _, err) = code(&p, &["--url", "sqlite:typo.db", "current"]);
    assert_eq!(c, 2);
    assert!(err.contains("no SQLite database at typo.db"), "{err}");
    assert!(!p.path("typo.db").exists());

    // A MySQL URL without a database says so at once.
    let (c, _, err) = code(&p, &["--url", "mysql://root@127.0.0.1:3306", "current"]);
    assert_eq!(c, 2);
    assert!(err.contains("names no database"), "{err}");

    // The SQLite lock is on the real file, whichever path names it; and `user@host` comes from the
    // operating system when $USER is unset (as in containers).
    std::os::unix::fs::symlink(p.path("real.db"), p.path("link.db")).unwrap();
    std::fs::write(p.path("real.db"), b"").unwrap();
    let out = p
        .cmd(&["--url", "sqlite:link.db", "upgrade", "head"])
        .env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("USERNAME")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::render(&out));
    let real = std::fs::canonicalize(p.path("real.db")).unwrap();
    assert!(std::path::Path::new(&format!("{}.alembix-lock", real.display())).exists());
    assert!(!p.path("link.db.alembix-lock").exists());
    let shown = p.ok(&["--url", "sqlite:real.db", "current", "-v"]);
    assert!(!shown.contains("unknown@"), "{shown}");
}

/// A revision of tens of thousands of statements: linear time (SQLite used to copy the rest of the text for
/// every statement), and a failure deep inside is still pinned to its statement and line, with nothing kept.
#[test]
fn a_big_revision_runs_in_pieces_and_fails_at_the_right_statement() {
    let mut up = String::from("CREATE TABLE t1 (id INTEGER);\n");
    for i in 0..20_000 {
        if i == 15_000 {
            up.push_str("INSERT INTO missing VALUES (1);\n");
        } else {
            up.push_str(&format!("INSERT INTO t1 VALUES ({i});\n"));
        }
    }
    let p = Project::with_files(&[("r1_big.sql", &rev("r1", "", &up))]);
    let (c, _, err) = code(&p, &["--url", "sqlite:app.db", "upgrade", "head"]);
    assert_eq!(c, 2, "{err}");
    // Statement 15,002 of 20,001 (the CREATE TABLE is the first), on line 5 + 15,002 of the file.
    assert!(err.contains("failed at statement 15002 of 20001"), "{err}");
    assert!(err.contains("r1_big.sql:15007"), "{err}");
    assert!(err.contains("no such table: missing"), "{err}");
    assert!(err.contains("rolled back"), "{err}");

    let fixed = up.replace(
        "INSERT INTO missing VALUES (1);",
        "INSERT INTO t1 VALUES (-1);",
    );
    p.write("migrations/r1_big.sql", &rev("r1", "", &fixed));
    p.ok(&["--url", "sqlite:app.db", "upgrade", "head"]);
    assert!(p.ok(&["--url", "sqlite:app.db", "current"]).contains("r1"));
}

/// MySQL cannot roll back DDL: a failure in the middle of a revision leaves part of it committed. The next
/// run says which revision was interrupted and what had committed (it used to run it again and fail on
/// `Table ... already exists`, claiming a rollback); --resume finishes it, `repair` forgets it.
#[test]
fn an_interrupted_mysql_revision_is_reported_and_resumed() {
    let Some(db) = common::db::TestDb::create(common::db::Engine::Mysql, "interrupted_mysql")
    else {
        return;
    };
    let up = "CREATE TABLE a1 (id INT);\nCREATE TABLE b1 (id INT);\nINSERT INTO missing VALUES (1);\nCREATE TABLE c1 (id INT);";
    let p = Project::with_files(&[
        ("r1_a.sql", &rev("r1", "", "CREATE TABLE z0 (id INT);")),
        ("r2_b.sql", &rev("r2", "r1", up)),
    ]);
    let url = db.url.as_str();
    let (c, _, err) = code(&p, &["--url", url, "upgrade", "head"]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("failed at statement 3 of 4"), "{err}");
    assert!(err.contains("already committed"), "{err}");
    assert!(!err.contains("was rolled back"), "{err}");
    assert!(err.contains("--resume"), "{err}");

    // The next run does not start the revision again.
    let (c, _, err) = code(&p, &["--url", url, "upgrade", "head"]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("the upgrade of revision r2"), "{err}");
    assert!(err.contains("was interrupted"), "{err}");
    assert!(err.contains("2 of its 4 statements had committed"), "{err}");
    assert!(err.contains("1: CREATE TABLE a1"), "{err}");

    // Fixed, and resumed from statement 3: a1 and b1 are not created twice.
    p.write(
        "migrations/r2_b.sql",
        &rev(
            "r2",
            "r1",
            &up.replace("INSERT INTO missing", "INSERT INTO a1"),
        ),
    );
    p.ok(&["--url", url, "upgrade", "head", "--resume"]);
    assert!(p.ok(&["--url", url, "current"]).contains("r2"));
    assert!(db.tables().contains(&"c1".to_string()), "{:?}", db.tables());
    assert_eq!(
        db.value("SELECT CAST(count(*) AS CHAR) FROM alembix_progress"),
        "0"
    );

    // --resume with nothing to resume is refused; `repair` forgets an interrupted step.
    let (c, _, err) = code(&p, &["--url", url, "upgrade", "head", "--resume"]);
    assert_eq!(c, 2);
    assert!(err.contains("no interrupted step"), "{err}");
    p.write(
        "migrations/r3_c.sql",
        &rev(
            "r3",
            "r2",
            "CREATE TABLE d1 (id INT);\nINSERT INTO missing VALUES (1);",
        ),
    );
    let (c, _, _) = code(&p, &["--url", url, "upgrade", "head"]);
    assert_eq!(c, 2);
    db.execute("DROP TABLE d1");
    p.ok(&["--url", url, "repair"]);
    p.write(
        "migrations/r3_c.sql",
        &rev("r3", "r2", "CREATE TABLE d1 (id INT);"),
    );
    p.ok(&["--url", url, "upgrade", "head"]);
    assert!(p.ok(&["--url", url, "current"]).contains("r3"));

    // Data statements commit with their progress, at the next DDL: a failure takes back the rows inserted
    // since the last DDL, and the record says exactly what stayed.
    p.write(
        "migrations/r4_d.sql",
        &rev("r4", "r3", "CREATE TABLE e1 (id INT);\nINSERT INTO e1 VALUES (1);\nINSERT INTO missing VALUES (1);"),
    );
    let (c, _, err) = code(&p, &["--url", url, "upgrade", "head"]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("1: CREATE TABLE e1"), "{err}");
    assert!(!err.contains("2: INSERT INTO e1"), "{err}");
    assert_eq!(db.value("SELECT CAST(count(*) AS CHAR) FROM e1"), "0");
    assert_eq!(
        db.value("SELECT CAST(statements_done AS CHAR) FROM alembix_progress"),
        "1"
    );
    p.write(
        "migrations/r4_d.sql",
        &rev(
            "r4",
            "r3",
            "CREATE TABLE e1 (id INT);\nINSERT INTO e1 VALUES (1);\nINSERT INTO e1 VALUES (2);",
        ),
    );
    p.ok(&["--url", url, "upgrade", "head", "--resume"]);
    assert_eq!(db.value("SELECT CAST(count(*) AS CHAR) FROM e1"), "2");
}
