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
