//! The revision file parser: one pass over the lines, header first, then the two sections.

use std::path::Path;

use super::{validate_identifier, Script, ScriptError, Section};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    RevisionId,
    Revises,
    CreateDate,
    BranchLabels,
    DependsOn,
    Transactional,
}

impl Key {
    fn from_name(name: &str) -> Option<Key> {
        // Keys are case-insensitive and tolerate `Revision-ID`, `revision_id`, extra spaces.
        let norm: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        Some(match norm.as_str() {
            "revisionid" | "revision" => Key::RevisionId,
            "revises" | "downrevision" | "downrevisions" => Key::Revises,
            "createdate" => Key::CreateDate,
            "branchlabels" | "branchlabel" => Key::BranchLabels,
            "dependson" => Key::DependsOn,
            "transactional" => Key::Transactional,
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
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Marker {
    Up,
    Down,
}

/// Recognise `-- migrate:up` / `-- migrate:down` (any case, any spacing after `--`).
/// `Err` carries a message for a line that looks like a marker but is not a valid one.
fn marker(line: &str) -> Result<Option<Marker>, String> {
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
    let which = match words.next().map(str::to_ascii_lowercase).as_deref() {
        Some("up") => Marker::Up,
        Some("down") => Marker::Down,
        other => return Err(format!(
            "unknown section marker `-- migrate:{}`; expected `-- migrate:up` or `-- migrate:down`",
            other.unwrap_or("")
        )),
    };
    if let Some(extra) = words.next() {
        return Err(format!(
            "unexpected `{extra}` after the section marker; options go in the header \
             (e.g. `-- Transactional: false`)"
        ));
    }
    Ok(Some(which))
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
    let err = |line: Option<usize>, message: String| ScriptError {
        path: path.to_path_buf(),
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
    let mut key_lines: Vec<(Key, usize)> = Vec::new();

    // (marker, line number of the marker, byte offset of the marker line, byte offset just after it)
    let mut markers: Vec<(Marker, usize, usize, usize)> = Vec::new();
    let mut offset = 0usize;
    for (idx, raw_line) in text.split_inclusive('\n').enumerate() {
        let lineno = idx + 1;
        let line_start = offset;
        offset += raw_line.len();
        let line = raw_line.trim_end_matches('\n');
        match marker(line).map_err(|m| err(Some(lineno), m))? {
            Some(m) => {
                if let Some((_, first, _, _)) = markers.iter().find(|(k, ..)| *k == m) {
                    let name = if m == Marker::Up { "up" } else { "down" };
                    return Err(err(
                        Some(lineno),
                        format!("duplicate `-- migrate:{name}` (first at line {first})"),
                    ));
                }
                if m == Marker::Down && markers.is_empty() {
                    return Err(err(
                        Some(lineno),
                        "`-- migrate:down` comes before `-- migrate:up`; put the up section first"
                            .into(),
                    ));
                }
                markers.push((m, lineno, line_start, offset));
                continue;
            }
            None if !markers.is_empty() => continue,
            None => {}
        }
        // Still in the header.
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
                    Key::Transactional => {
                        transactional = match value.to_ascii_lowercase().as_str() {
                            "true" | "yes" | "on" | "1" => true,
                            "false" | "no" | "off" | "0" => false,
                            _ => {
                                return Err(err(
                                    Some(lineno),
                                    format!("`Transactional: {value}`: expected true or false"),
                                ))
                            }
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

    let Some(revision) = revision else {
        return Err(err(
            None,
            "no `-- Revision ID:` line in the header; every revision file starts with its header \
             (see `alembix revision`)"
                .into(),
        ));
    };
    let Some(&(_, up_line, _, up_start)) = markers.iter().find(|(m, ..)| *m == Marker::Up) else {
        return Err(err(None, "no `-- migrate:up` section".into()));
    };
    let down = markers.iter().find(|(m, ..)| *m == Marker::Down);
    let up = Section {
        start_line: up_line + 1,
        range: up_start..down.map_or(text.len(), |&(_, _, marker_start, _)| marker_start),
    };
    let down = down.map(|&(_, line, _, start)| Section {
        start_line: line + 1,
        range: start..text.len(),
    });
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
        path: path.to_path_buf(),
        revision,
        down_revisions,
        message: message.unwrap_or_default(),
        create_date,
        branch_labels,
        depends_on,
        transactional,
        text,
        up,
        down,
    })
}

fn line_of(keys: &[(Key, usize)], key: Key) -> Option<usize> {
    keys.iter().find(|(k, _)| *k == key).map(|(_, l)| *l)
}

/// Drop a BOM and turn CRLF / lone CR into LF, without copying when there is nothing to change.
fn normalise(text: String) -> String {
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    };
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
        assert_eq!(s.up_section().start_line, 8);
        assert_eq!(s.down_section().unwrap().start_line, 11);
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
}
