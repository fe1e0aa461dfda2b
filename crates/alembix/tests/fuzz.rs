//! Property tests (proptest) standing in for fuzz targets of the three parsers that read user input:
//! database URLs, revision files and the statement splitter. Invariants: no panic on any input; no
//! password, or any part of one, in any message; statement line numbers point at the statement.
//! `PROPTEST_CASES` sets how many inputs each runs (CI keeps the default, a few seconds in all).
#![allow(clippy::unwrap_used)]

use std::path::Path;

use alembix::migrate::split::split;
use alembix::{DatabaseUrl, Dialect};
use proptest::prelude::*;

/// A password that cannot occur by chance in the rest of a message: a marker and 6 to 20 characters,
/// URL-special ones included.
fn password() -> impl Strategy<Value = String> {
    "[A-Za-z0-9!#$%&()*+,;=~@:/?\\[\\]-]{6,20}".prop_map(|s| format!("Zq{s}"))
}

fn url_forms(pw: &str) -> Vec<String> {
    let enc: String = pw
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    vec![
        format!("postgres://app:{pw}@127.0.0.1:5432/db"),
        format!("postgres://app:{enc}@127.0.0.1:99999/db"),
        format!("postgresql+asyncpg://app:{pw}@db:5432/app?ssl=require"),
        format!("postgres://app@127.0.0.1:99999/db?password={enc}"),
        format!("postgres://app@127.0.0.1:99999/db?sslpassword={enc}&x=1"),
        format!("postgres://app@h:99999/db?Password={enc}"),
        format!("postgres:app:{pw}@127.0.0.1/db"),
        format!("mysql:app:{pw}@db:3306/app"),
        format!("mysql+pymysql://app:{pw}@db:70000/app"),
        format!("mariadb://app:{enc}@/app"),
        format!("oracle://app:{pw}@db/app"),
    ]
}

proptest! {
    #[test]
    fn no_password_in_any_url_message(pw in password()) {
        for input in url_forms(&pw) {
            let shown = match DatabaseUrl::parse(&input) {
                Ok(url) => format!("{url} {url:?}"),
                Err(e) => e.to_string(),
            };
            // The password, and any 6-character piece of it, stay hidden.
            let chars: Vec<char> = pw.chars().collect();
            for piece in chars.windows(6) {
                let piece: String = piece.iter().collect();
                prop_assert!(!shown.contains(&piece), "{input} showed {shown}");
            }
        }
    }

    #[test]
    fn url_parser_never_panics(input in "\\PC{0,80}") {
        let _ = DatabaseUrl::parse(&input);
    }

    #[test]
    fn revision_parser_never_panics(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("-- migrate:up\n".to_string()),
                Just("-- migrate:down\n".to_string()),
                Just("-- migrate:up postgresql\n".to_string()),
                Just("-- migrate:down sqlite\n".to_string()),
                Just("-- Revision ID: a1\n".to_string()),
                Just("-- Revises: a0\n".to_string()),
                Just("-- Review: x\n".to_string()),
                Just("/* ".to_string()),
                Just("'".to_string()),
                Just("$$".to_string()),
                "\\PC{0,20}\n",
            ],
            0..12,
        )
    ) {
        let _ = alembix::script::parse(Path::new("x.sql"), parts.concat());
    }

    /// Statements joined with odd whitespace and comments: each statement's line is where it starts.
    #[test]
    fn statement_lines_point_at_the_statement(
        stmts in proptest::collection::vec(
            prop_oneof![
                Just("SELECT 1"),
                Just("INSERT INTO t VALUES ('a;b', 'it''s')"),
                Just("CREATE TABLE \"x;y\" (a int)"),
                Just("SELECT 'multi\nline'"),
            ],
            1..8,
        ),
        seps in proptest::collection::vec(
            prop_oneof![
                Just(";\n"),
                Just(";\u{a0}\n"),
                Just(";\u{2028}\n"),
                Just(";\u{b}\n"),
                Just("; -- note\n\n"),
                Just(";\n/* c\n c */\n"),
            ],
            8,
        ),
        dialect in prop_oneof![Just(Dialect::Postgres), Just(Dialect::Mysql), Just(Dialect::Sqlite)],
    ) {
        let mut body = String::new();
        for (s, sep) in stmts.iter().zip(&seps) {
            body.push_str(s);
            body.push_str(sep);
        }
        let out = split(&body, dialect);
        prop_assert_eq!(out.len(), stmts.len(), "{:?}", body);
        let lines: Vec<&str> = body.split('\n').collect();
        for (st, want) in out.iter().zip(&stmts) {
            prop_assert_eq!(st.sql.as_str(), *want);
            let first = want.split('\n').next().unwrap();
            prop_assert!(
                lines[st.line - 1].trim_start().starts_with(first),
                "statement {:?} said line {} ({:?}) in {:?}", want, st.line, lines[st.line - 1], body
            );
        }
    }
}
