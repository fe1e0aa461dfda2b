//! The revision file parser: the header line by line, then a fast scan of the bodies for the
//! `-- migrate:` marker lines.

use std::path::{Path, PathBuf};

use super::{validate_identifier, Body, Script, ScriptError, Section};
use crate::url::Dialect;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    RevisionId,
    Revises,
    CreateDate,
    BranchLabels,
    DependsOn,
    Transactional,
    Review,
    Squashes,
}

impl Key {
    fn from_name(name: &str) -> Option<Key> {
        // Keys are case-insensitive and tolerate `Revision-ID`, `revision_id`, extra spaces: keep only
        // the ASCII letters and digits, lowercased. The longest key is 13 of them (`downrevisions`), so
        // a small stack buffer does; a longer name is no key.
        let mut buf = [0u8; 16];
        let mut len = 0;
        for b in name.bytes().filter(u8::is_ascii_alphanumeric) {
            if len == buf.len() {
                return None;
            }
            buf[len] = b.to_ascii_lowercase();
            len += 1;
        }
        Some(match &buf[..len] {
            b"revisionid" | b"revision" => Key::RevisionId,
            b"revises" | b"downrevision" | b"downrevisions" => Key::Revises,
            b"createdate" => Key::CreateDate,
            b"branchlabels" | b"branchlabel" => Key::BranchLabels,
            b"dependson" => Key::DependsOn,
            b"transactional" => Key::Transactional,
            b"review" => Key::Review,
            b"squashes" => Key::Squashes,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Key::RevisionId => "Revision ID",
            Key::Revises => "Revises",
            Key::CreateDate => "Create Date",
            Key::BranchLabels => "Branch Labels",
            Key::DependsOn => "Depends On",
            Key::Transactional => "Transactional",
            Key::Review => "Review",
            Key::Squashes => "Squashes",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Marker {
    Up,
    Down,
}

/// Recognise `-- migrate:up` / `-- migrate:down` (any case, any spacing after `--`), optionally followed by
/// a dialect (`-- migrate:up postgresql`) for a body that only that engine runs.
/// `Err` carries a message for a line that looks like a marker but is not a valid one.
fn marker(line: &str) -> Result<Option<(Marker, Option<Dialect>)>, String> {
    let Some(rest) = line.trim().strip_prefix("--") else {
        return Ok(None);
    };
    let rest = rest.trim();
    let Some(name) = rest
        .get(..8)
        .filter(|p| p.eq_ignore_ascii_case("migrate:"))
        .map(|_| &rest[8..])
    else {
        return Ok(None);
    };
    let mut words = name.split_whitespace();
    let word = words.next();
    let which = match word {
        Some(w) if w.eq_ignore_ascii_case("up") => Marker::Up,
        Some(w) if w.eq_ignore_ascii_case("down") => Marker::Down,
        other => {
            return Err(format!(
            "unknown section marker `-- migrate:{}`; expected `-- migrate:up` or `-- migrate:down`",
            other.unwrap_or("").to_ascii_lowercase()
        ))
        }
    };
    let dialect = match words.next() {
        None => None,
        Some(word) => Some(Dialect::from_name(word).ok_or_else(|| {
            format!(
                "unexpected `{word}` after the section marker; a marker may name a dialect \
                 (`-- migrate:up postgresql`, `mysql`, `sqlite`), options go in the header \
                 (e.g. `-- Transactional: false`)"
            )
        })?),
    };
    if let Some(extra) = words.next() {
        return Err(format!(
            "unexpected `{extra}` after the section marker; options go in the header \
             (e.g. `-- Transactional: false`)"
        ));
    }
    Ok(Some((which, dialect)))
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Parse one revision file. `text` may have a BOM and CRLF line endings.
pub fn parse(path: &Path, text: String) -> Result<Script, ScriptError> {
    parse_owned(path.to_path_buf(), text)
}

/// [`parse`], taking the path by value (it ends up in the [`Script`]).
pub(super) fn parse_owned(path: PathBuf, text: String) -> Result<Script, ScriptError> {
    let err = |line: Option<usize>, message: String| ScriptError {
        path: path.clone(),
        line,
        message,
    };
    let text = normalise(text);

    let mut message: Option<String> = None;
    let mut seen_key = false;
    let mut revision: Option<String> = None;
    let mut down_revisions = Vec::new();
    let mut create_date = None;
    let mut branch_labels = Vec::new();
    let mut depends_on = Vec::new();
    let mut transactional = true;
    let mut review = None;
    let mut squashes = Vec::new();
    let mut key_lines: Vec<(Key, usize)> = Vec::new();

    // The header, line by line, up to the first marker: (its line number, its dialect, byte offset
    // just after that line).
    let mut up_marker: Option<(usize, Option<Dialect>, usize)> = None;
    let mut offset = 0usize;
    let mut lineno = 0usize;
    while offset < text.len() {
        lineno += 1;
        let (line, next) = line_at(&text, offset);
        offset = next;
        match marker(line).map_err(|m| err(Some(lineno), m))? {
            Some((Marker::Up, dialect)) => {
                up_marker = Some((lineno, dialect, next));
                break;
            }
            Some((Marker::Down, _)) => {
                return Err(err(
                    Some(lineno),
                    "`-- migrate:down` comes before `-- migrate:up`; put the up section first"
                        .into(),
                ))
            }
            None => {}
        }
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let Some(comment) = trimmed.strip_prefix("--") else {
            return Err(err(
                Some(lineno),
                "SQL before `-- migrate:up`; statements belong under `-- migrate:up` or `-- migrate:down`"
                    .into(),
            ));
        };
        let comment = comment.trim();
        if comment.is_empty() {
            continue;
        }
        if let Some((name, value)) = comment.split_once(':') {
            if let Some(key) = Key::from_name(name) {
                if let Some((_, first)) = key_lines.iter().find(|(k, _)| *k == key) {
                    return Err(err(
                        Some(lineno),
                        format!("`{}` given twice (first at line {first})", key.name()),
                    ));
                }
                key_lines.push((key, lineno));
                seen_key = true;
                let value = value.trim();
                match key {
                    Key::RevisionId => {
                        validate_identifier(value, "revision id")
                            .map_err(|m| err(Some(lineno), m))?;
                        revision = Some(value.to_string());
                    }
                    Key::Revises => {
                        if !value.eq_ignore_ascii_case("<base>") {
                            down_revisions = split_list(value);
                        }
                    }
                    Key::CreateDate => {
                        create_date = Some(value.to_string()).filter(|v| !v.is_empty())
                    }
                    Key::BranchLabels => {
                        branch_labels = split_list(value);
                        for label in &branch_labels {
                            validate_identifier(label, "branch label")
                                .map_err(|m| err(Some(lineno), m))?;
                        }
                    }
                    Key::DependsOn => depends_on = split_list(value),
                    Key::Review => review = Some(value.to_string()).filter(|v| !v.is_empty()),
                    Key::Squashes => squashes = split_list(value),
                    Key::Transactional => {
                        transactional = if ["true", "yes", "on", "1"]
                            .iter()
                            .any(|v| value.eq_ignore_ascii_case(v))
                        {
                            true
                        } else if ["false", "no", "off", "0"]
                            .iter()
                            .any(|v| value.eq_ignore_ascii_case(v))
                        {
                            false
                        } else {
                            return Err(err(
                                Some(lineno),
                                format!("`Transactional: {value}`: expected true or false"),
                            ));
                        }
                    }
                }
                continue;
            }
        }
        if message.is_none() && !seen_key {
            message = Some(comment.to_string());
        }
    }

    // The bodies: only marker lines matter there (and lines that look like markers but are not valid
    // ones). Every marker line contains `migrate:` in some ASCII case, so look only at the lines with
    // a `:` preceded by `migrate` (a fast byte search) and run the full check on those.
    // Each marker: (kind, dialect, its line number, byte offset of the line, byte offset just after it).
    let mut markers: Vec<(Marker, Option<Dialect>, usize, usize, usize)> = Vec::new();
    if let Some((up_line, dialect, body_start)) = up_marker {
        markers.push((Marker::Up, dialect, up_line, body_start, body_start));
        let bytes = text.as_bytes();
        // Line numbers are counted lazily: `counted_line` is the number of the line starting at
        // `counted_at`.
        let (mut counted_at, mut counted_line) = (body_start, up_line + 1);
        let mut search = body_start;
        while let Some(i) = text[search..].find(':') {
            let colon = search + i;
            search = colon + 1;
            if colon < 7 || !bytes[colon - 7..colon].eq_ignore_ascii_case(b"migrate") {
                continue;
            }
            // `body_start` follows a `\n`, so the line start is never before it.
            let line_start = text[..colon].rfind('\n').map_or(0, |p| p + 1);
            let (line, next) = line_at(&text, line_start);
            // Further colons on this line need no look: the whole line is checked here.
            search = next;
            let found = match marker(line) {
                Ok(None) => continue,
                Ok(Some(m)) => Ok(m),
                Err(message) => Err(message),
            };
            counted_line += count_newlines(&bytes[counted_at..line_start]);
            counted_at = line_start;
            let lineno = counted_line;
            let (m, dialect) = found.map_err(|message| err(Some(lineno), message))?;
            let name = |m: Marker| {
                let kind = if m == Marker::Up { "up" } else { "down" };
                match dialect {
                    Some(d) => format!("migrate:{kind} {d}"),
                    None => format!("migrate:{kind}"),
                }
            };
            if let Some(&(.., first, _, _)) =
                markers.iter().find(|(k, d, ..)| *k == m && *d == dialect)
            {
                return Err(err(
                    Some(lineno),
                    format!("duplicate `-- {}` (first at line {first})", name(m)),
                ));
            }
            if m == Marker::Down
                && !markers
                    .iter()
                    .any(|(k, d, ..)| *k == Marker::Up && *d == dialect)
            {
                return Err(err(
                    Some(lineno),
                    format!(
                        "`-- {}` comes before `-- {}`; put the up section first",
                        name(Marker::Down),
                        name(Marker::Up)
                    ),
                ));
            }
            markers.push((m, dialect, lineno, line_start, next));
        }
    }

    let Some(revision) = revision else {
        return Err(err(
            None,
            "no `-- Revision ID:` line in the header; every revision file starts with its header \
             (see `alembix revision`)"
                .into(),
        ));
    };
    if markers.is_empty() {
        return Err(err(None, "no `-- migrate:up` section".into()));
    }
    let bodies: Vec<Body> = markers
        .iter()
        .enumerate()
        .map(|(i, &(m, dialect, line, _, start))| Body {
            up: m == Marker::Up,
            dialect,
            section: Section {
                start_line: line + 1,
                range: start..markers.get(i + 1).map_or(text.len(), |next| next.3),
            },
        })
        .collect();
    // A comment, string or dollar quote never closed swallows the rest of the section, and with it the
    // bookkeeping alembix runs after it: refuse the file. A plain section may run anywhere, so it is
    // refused only when it is unterminated by every engine's rules.
    for body in &bodies {
        let sql = &text[body.section.range.clone()];
        let found = match body.dialect {
            Some(d) => super::lex::unterminated(sql, d),
            None => super::lex::unterminated_anywhere(sql),
        };
        if let Some((line, what)) = found {
            return Err(err(
                Some(body.section.start_line + line - 1),
                format!(
                    "unterminated {what}: it runs to the end of the section and would swallow the statements \
                     after it; close it"
                ),
            ));
        }
    }
    for parent in &down_revisions {
        validate_identifier(parent, "Revises entry")
            .map_err(|m| err(line_of(&key_lines, Key::Revises), m))?;
    }
    if down_revisions.contains(&revision) {
        return Err(err(
            line_of(&key_lines, Key::Revises),
            format!("revision {revision} revises itself"),
        ));
    }
    Ok(Script {
        path,
        revision,
        down_revisions,
        message: message.unwrap_or_default(),
        create_date,
        branch_labels,
        depends_on,
        transactional,
        review,
        squashes,
        content: std::sync::OnceLock::from(super::Content { text, bodies }),
        sums: None,
    })
}

/// The line starting at byte `start` (without its `\n`) and the offset of the next line.
fn line_at(text: &str, start: usize) -> (&str, usize) {
    match text[start..].find('\n') {
        Some(i) => (&text[start..start + i], start + i + 1),
        None => (&text[start..], text.len()),
    }
}

fn count_newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b == b'\n').count()
}

fn line_of(keys: &[(Key, usize)], key: Key) -> Option<usize> {
    keys.iter().find(|(k, _)| *k == key).map(|(_, l)| *l)
}

/// Drop a BOM and turn CRLF / lone CR into LF, without copying when there is nothing to change.
fn normalise(text: String) -> String {
    let mut text = text;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    if !text.contains('\r') {
        return text;
    }
    text.replace("\r\n", "\n").replace('\r', "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "-- Add phone_number to users
--
-- Revision ID: 5c1e2d3f4a6b
-- Revises: 9a8b7c6d5e4f
-- Create Date: 2026-11-22 10:30:00.123456+00:00

-- migrate:up
ALTER TABLE users ADD COLUMN phone_number text;

-- migrate:down
ALTER TABLE users DROP COLUMN phone_number;
";

    fn p(text: &str) -> Result<Script, ScriptError> {
        parse(Path::new("m/x.sql"), text.to_string())
    }

    #[test]
    fn parses_the_documented_format() {
        let s = p(SAMPLE).unwrap();
        assert_eq!(s.revision, "5c1e2d3f4a6b");
        assert_eq!(s.down_revisions, vec!["9a8b7c6d5e4f"]);
        assert_eq!(s.message, "Add phone_number to users");
        assert_eq!(
            s.create_date.as_deref(),
            Some("2026-11-22 10:30:00.123456+00:00")
        );
        assert!(s.transactional);
        assert_eq!(
            s.up_sql().trim(),
            "ALTER TABLE users ADD COLUMN phone_number text;"
        );
        assert_eq!(
            s.down_sql().unwrap().trim(),
            "ALTER TABLE users DROP COLUMN phone_number;"
        );
        assert_eq!(s.up_for(Dialect::Sqlite).unwrap().1.start_line, 8);
        assert_eq!(s.down_for(Dialect::Sqlite).unwrap().1.start_line, 11);
    }

    #[test]
    fn keys_are_case_insensitive_and_lists_split() {
        let s = p(
            "-- merge\n-- revision id: m1\n-- REVISES: a1, b1\n-- branch labels: x,y\n\
                   -- depends on: d1\n-- transactional: false\n-- migrate:up\n",
        )
        .unwrap();
        assert_eq!(s.down_revisions, vec!["a1", "b1"]);
        assert_eq!(s.branch_labels, vec!["x", "y"]);
        assert_eq!(s.depends_on, vec!["d1"]);
        assert!(!s.transactional);
        assert!(s.down_sql().is_none());
        assert_eq!(s.up_sql(), "");
    }

    #[test]
    fn root_revision_has_no_parents() {
        let s = p("-- first\n-- Revision ID: r0\n-- Revises:\n-- migrate:up\nSELECT 1;\n").unwrap();
        assert!(s.down_revisions.is_empty());
    }

    #[test]
    fn crlf_and_bom_do_not_change_checksum() {
        let lf = p(SAMPLE).unwrap();
        let crlf = p(&format!("\u{feff}{}", SAMPLE.replace('\n', "\r\n"))).unwrap();
        assert_eq!(lf.checksum(), crlf.checksum());
        assert_eq!(
            crlf.up_sql().trim(),
            "ALTER TABLE users ADD COLUMN phone_number text;"
        );
        let trailing = p(&SAMPLE.replace("text;\n", "text;   \n\n\n")).unwrap();
        assert_eq!(lf.checksum(), trailing.checksum());
        let header_edit = p(&SAMPLE.replace("Add phone_number", "Add a phone number")).unwrap();
        assert_eq!(lf.checksum(), header_edit.checksum());
    }

    #[test]
    fn body_edits_change_checksum() {
        let a = p(SAMPLE).unwrap();
        let b = p(&SAMPLE.replace("phone_number text", "phone_number varchar(20)")).unwrap();
        assert_ne!(a.checksum(), b.checksum());
        let c = p(&SAMPLE.replace("DROP COLUMN", "DROP COLUMN IF EXISTS")).unwrap();
        assert_ne!(a.checksum(), c.checksum());
        assert_eq!(a.checksum().len(), 64);
    }

    fn err_of(text: &str) -> ScriptError {
        p(text).unwrap_err()
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = err_of("-- m\n-- Revision ID: a1\nCREATE TABLE t(x int);\n-- migrate:up\n");
        assert_eq!(e.line, Some(3));
        assert!(e.to_string().starts_with("m/x.sql:3: SQL before"), "{e}");

        let e = err_of("-- m\n-- Revision ID: a1\n-- migrate:up\nx;\n-- migrate:up\n");
        assert_eq!(e.line, Some(5));
        assert!(
            e.message
                .contains("duplicate `-- migrate:up` (first at line 3)"),
            "{e}"
        );

        let e = err_of("-- m\n-- Revision ID: a1\n");
        assert!(e.message.contains("no `-- migrate:up`"), "{e}");

        let e = err_of("-- m\n-- Revises: b\n-- migrate:up\n");
        assert!(e.message.contains("Revision ID"), "{e}");

        let e = err_of("-- m\n-- Revision ID: a1\n-- Revision ID: a2\n-- migrate:up\n");
        assert_eq!(e.line, Some(3));

        let e = err_of("-- m\n-- Revision ID: a-1\n-- migrate:up\n");
        assert_eq!(e.line, Some(2));

        let e = err_of("-- m\n-- Revision ID: a1\n-- migrate:down\n-- migrate:up\n");
        assert_eq!(e.line, Some(3));

        let e = err_of("-- m\n-- Revision ID: a1\n-- migrate:sideways\n");
        assert!(e.message.contains("unknown section marker"), "{e}");

        let e = err_of("-- m\n-- Revision ID: a1\n-- Transactional: maybe\n-- migrate:up\n");
        assert_eq!(e.line, Some(3));

        let e = err_of("-- m\n-- Revision ID: a1\n-- Revises: a1\n-- migrate:up\n");
        assert!(e.message.contains("revises itself"), "{e}");
    }

    #[test]
    fn markers_inside_bodies_and_comment_lines() {
        // A comment that only mentions migrate: without being a marker is SQL.
        let s = p(
            "-- m\n-- Revision ID: a1\n-- migrate:up\n-- note: keep\nSELECT 1;\n-- migrate:down\n",
        )
        .unwrap();
        assert_eq!(s.up_sql(), "-- note: keep\nSELECT 1;\n");
        assert_eq!(s.down_sql(), Some(""));
    }

    #[test]
    fn markers_are_case_insensitive_in_header_and_bodies() {
        let s = p(
            "-- m\n-- Revision ID: a1\n  --  MIGRATE:UP\nSELECT 1;\n-- Migrate:Down \nSELECT 2;\n",
        )
        .unwrap();
        assert_eq!(s.up_sql(), "SELECT 1;\n");
        assert_eq!(s.down_sql(), Some("SELECT 2;\n"));
        assert_eq!(s.up_for(Dialect::Sqlite).unwrap().1.start_line, 4);
        assert_eq!(s.down_for(Dialect::Sqlite).unwrap().1.start_line, 6);

        let s =
            p("-- m\r\n-- Revision ID: a1\r\n-- migrate:up\r\nx;\r\n--MIGRATE:DOWN\r\ny;").unwrap();
        assert_eq!(s.up_sql(), "x;\n");
        assert_eq!(s.down_sql(), Some("y;"));

        let e = err_of("-- m\n-- Revision ID: a1\n-- migrate:up\nx;\n\n-- MIGRATE:UP\n");
        assert_eq!(e.line, Some(6));
        assert!(
            e.message
                .contains("duplicate `-- migrate:up` (first at line 3)"),
            "{e}"
        );

        let e = err_of("-- m\n-- Revision ID: a1\n-- MIGRATE:DOWN\n-- migrate:up\n");
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("comes before"), "{e}");
    }

    #[test]
    fn marker_like_lines_in_bodies() {
        // Not markers: `migrate:` inside SQL, not after `--`, or after other text.
        let text = "-- m\n-- Revision ID: a1\n-- migrate:up\nSELECT 'x -- migrate:down';\n\
                    SELECT a::int, b::text;\n--- migrate:down\n-- xmigrate:down\nmigrate:down\n";
        let s = p(text).unwrap();
        assert_eq!(s.up_sql(), &text[text.find("SELECT").unwrap()..]);
        assert!(s.down_sql().is_none());

        // Invalid markers in a body are errors at their own line.
        let e = err_of("-- m\n-- Revision ID: a1\n-- migrate:up\na: b;\n\n-- Migrate:Sideways\n");
        assert_eq!(e.line, Some(6));
        assert!(
            e.message
                .contains("unknown section marker `-- migrate:sideways`"),
            "{e}"
        );

        let e = err_of("-- m\n-- Revision ID: a1\n-- migrate:up\nx;\n-- migrate:down\ny;\n-- MIGRATE:DOWN now\n");
        assert_eq!(e.line, Some(7));
        assert!(e.message.contains("unexpected `now`"), "{e}");

        let e =
            err_of("-- m\n-- Revision ID: a1\n-- migrate:up\n-- migrate:down\n\n-- migrate:down\n");
        assert_eq!(e.line, Some(6));
        assert!(
            e.message
                .contains("duplicate `-- migrate:down` (first at line 4)"),
            "{e}"
        );

        // Leading Unicode whitespace is trimmed, as for any line.
        let s =
            p("-- m\n-- Revision ID: a1\n-- migrate:up\nx;\n\u{a0}-- migrate:down\ny;\n").unwrap();
        assert_eq!(s.up_sql(), "x;\n");
        assert_eq!(s.down_for(Dialect::Sqlite).unwrap().1.start_line, 6);
    }

    #[test]
    fn long_and_odd_header_keys() {
        let s = p(
            "-- m\n-- Revision - ID: a1\n-- down_revisions: b1\n-- this is not a key at all: x\n\
                   -- migrate:up\n",
        )
        .unwrap();
        assert_eq!(s.revision, "a1");
        assert_eq!(s.down_revisions, vec!["b1"]);
        assert_eq!(s.message, "m");
        assert!(
            p("-- m\n-- Revision ID: a1\n-- Transactional: OFF\n-- migrate:up\n")
                .map(|s| !s.transactional)
                .unwrap()
        );
    }

    #[test]
    fn per_dialect_sections() {
        let text = "-- m\n-- Revision ID: a1\n\n-- migrate:up\nCREATE TABLE t (id int);\n\n\
                    -- migrate:down\nDROP TABLE t;\n\n-- migrate:up postgresql\nCREATE TABLE t (id serial);\n\n\
                    -- migrate:down postgresql\nDROP TABLE t CASCADE;\n\n-- MIGRATE:UP SQLite\nCREATE TABLE t (id integer);\n";
        let s = p(text).unwrap();
        assert_eq!(s.dialects(), vec![Dialect::Postgres, Dialect::Sqlite]);
        let (up, sec) = s.up_for(Dialect::Postgres).unwrap();
        assert_eq!(up.trim(), "CREATE TABLE t (id serial);");
        assert_eq!(sec.start_line, 11);
        assert_eq!(
            s.down_for(Dialect::Postgres).unwrap().0.trim(),
            "DROP TABLE t CASCADE;"
        );
        // MySQL has no section of its own: it runs the sections for every engine.
        assert_eq!(
            s.up_for(Dialect::Mysql).unwrap().0.trim(),
            "CREATE TABLE t (id int);"
        );
        assert_eq!(
            s.down_for(Dialect::Mysql).unwrap().0.trim(),
            "DROP TABLE t;"
        );
        // SQLite has its own up and no own down: the shared down was written for the shared up.
        assert_eq!(
            s.up_for(Dialect::Sqlite).unwrap().0.trim(),
            "CREATE TABLE t (id integer);"
        );
        assert!(s.down_for(Dialect::Sqlite).is_none());
        // Each engine's checksum covers only what it runs; a one-engine file is unchanged by this.
        assert_ne!(
            s.checksum_for(Dialect::Postgres),
            s.checksum_for(Dialect::Mysql)
        );
        assert_eq!(s.checksum_for(Dialect::Mysql), s.checksum());
        let plain = p(SAMPLE).unwrap();
        assert_eq!(plain.checksum_for(Dialect::Postgres), plain.checksum());
        assert!(plain.dialects().is_empty());

        // Only per-dialect sections: an engine without one has nothing to run.
        let s =
            p("-- m\n-- Revision ID: a1\n-- migrate:up sqlite\nx;\n-- migrate:down sqlite\ny;\n")
                .unwrap();
        assert!(s.runs_on(Dialect::Sqlite));
        assert!(!s.runs_on(Dialect::Postgres));
        assert_eq!(s.up_sql(), "");

        let e = err_of("-- m\n-- Revision ID: a1\n-- migrate:up\nx;\n-- migrate:up oracle\n");
        assert_eq!(e.line, Some(5));
        assert!(e.message.contains("unexpected `oracle`"), "{e}");
        let e = err_of("-- m\n-- Revision ID: a1\n-- migrate:up\nx;\n-- migrate:down mysql\n");
        assert_eq!(e.line, Some(5));
        assert!(
            e.message
                .contains("`-- migrate:down mysql` comes before `-- migrate:up mysql`"),
            "{e}"
        );
        let e =
            err_of("-- m\n-- Revision ID: a1\n-- migrate:up mysql\nx;\n-- migrate:up mariadb\n");
        assert!(
            e.message
                .contains("duplicate `-- migrate:up mysql` (first at line 3)"),
            "{e}"
        );
    }

    #[test]
    fn review_header() {
        let s = p("-- m\n-- Revision ID: a1\n-- Review: reads rows\n-- migrate:up\n").unwrap();
        assert_eq!(s.review.as_deref(), Some("reads rows"));
        assert!(p(SAMPLE).unwrap().review.is_none());
    }
}
