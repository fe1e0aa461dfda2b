//! MySQL/MariaDB: a plain `CREATE [UNIQUE] INDEX name ON t (parts)` after `CREATE TABLE t (...)` folded into
//! that table's definition, for scratch builds only.
//!
//! Every DDL statement on MySQL and MariaDB commits and rewrites the table's definition (a new `.frm` and
//! tablespace metadata, synced): a `CREATE INDEX` on a table just created costs as much as creating it.
//! SQLAlchemy prints each `index=True` column as its own `CREATE INDEX`, so a 300-table model set is 600
//! statements where 300 give the same tables. The index is the same object either way (same name, parts,
//! uniqueness; an implicit foreign-key index is never created when an explicit one covers it, and one
//! created first is dropped when an explicit one arrives, so both orders end alike).
//!
//! Only the plain form is folded: no `IF NOT EXISTS`, `USING`, `FULLTEXT`/`SPATIAL`, lock or algorithm
//! options, or text after the parts; and only into a `CREATE TABLE` whose body is a parenthesised list
//! followed by table options (no `AS SELECT`, `LIKE`, partitions), with no other statement about that table
//! in between. Anything else is left as it is. A build that fails is redone unfolded, statement by statement,
//! so an error still names the statement as written.

use std::collections::HashMap;

/// The statements with foldable indexes moved into their `CREATE TABLE`.
pub fn fold_indexes(statements: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(statements.len());
    // Table name as written, unquoted (names are case-sensitive on most MySQL servers) → (index in `out`
    // of its CREATE TABLE, byte offset of the body's closing paren).
    let mut open: HashMap<String, (usize, usize)> = HashMap::new();
    for sql in statements {
        if let Some((table, close)) = create_table(sql) {
            // A table that references itself stays as written: an index folded in could make a foreign
            // key valid that the statements as written reject (no index on the referenced column yet).
            let own = words(sql)
                .filter(|w| *w == table.to_ascii_lowercase())
                .count();
            if own < 2 {
                open.insert(table, (out.len(), close));
            } else {
                open.remove(&table);
            }
            out.push(sql.clone());
            continue;
        }
        if let Some(ix) = plain_index(sql) {
            let target = open
                .get(&ix.table)
                .copied()
                .filter(|&(at, _)| !keys_auto_increment(&out[at], &ix.parts));
            if let Some((at, close)) = target {
                let clause = format!(
                    ",\n\t{}INDEX {} {}\n",
                    if ix.unique { "UNIQUE " } else { "" },
                    ix.name,
                    ix.parts
                );
                out[at].insert_str(close, &clause);
                open.insert(ix.table, (at, close + clause.len()));
                continue;
            }
        }
        // Any other statement naming a table ends folding into it (an ALTER TABLE in between must stay
        // between).
        let named: Vec<String> = words(sql).collect();
        open.retain(|t, _| !named.contains(&t.to_ascii_lowercase()));
        out.push(sql.clone());
    }
    out
}

struct PlainIndex {
    unique: bool,
    /// As written (quotes kept).
    name: String,
    /// Lower-case, unquoted.
    table: String,
    /// `(...)` as written.
    parts: String,
}

/// `CREATE [UNIQUE] INDEX name ON table (parts)` and nothing else.
fn plain_index(sql: &str) -> Option<PlainIndex> {
    let sql = sql.trim().trim_end_matches(';').trim_end();
    let mut rest = sql;
    let mut word = || -> Option<&str> {
        let t = rest.trim_start();
        let end = t
            .find(|c: char| c.is_whitespace() || c == '(')
            .unwrap_or(t.len());
        let (w, r) = t.split_at(end);
        rest = r;
        (!w.is_empty()).then_some(w)
    };
    if !word()?.eq_ignore_ascii_case("CREATE") {
        return None;
    }
    let mut w = word()?;
    let unique = w.eq_ignore_ascii_case("UNIQUE");
    if unique {
        w = word()?;
    }
    if !w.eq_ignore_ascii_case("INDEX") {
        return None;
    }
    let name = word()?;
    if name.eq_ignore_ascii_case("IF") || !simple_name(name) {
        return None;
    }
    if !word()?.eq_ignore_ascii_case("ON") {
        return None;
    }
    let table = word()?;
    if !simple_name(table) || table.contains('.') {
        return None;
    }
    let parts = rest.trim();
    if !parts.starts_with('(') || closing_paren(parts, 0)? != parts.len() - 1 {
        return None;
    }
    Some(PlainIndex {
        unique,
        name: name.to_string(),
        table: unquote(table),
        parts: parts.to_string(),
    })
}

/// `CREATE TABLE name (body) [options]`: the table (lower-case, unquoted) and the offset of the body's
/// closing paren.
fn create_table(sql: &str) -> Option<(String, usize)> {
    let lead = sql.len() - sql.trim_start().len();
    let t = &sql[lead..];
    let mut it = t.split_whitespace();
    if !it.next()?.eq_ignore_ascii_case("CREATE") || !it.next()?.eq_ignore_ascii_case("TABLE") {
        return None;
    }
    let after_table = t.to_ascii_uppercase().find("TABLE")? + "TABLE".len();
    let rest = &t[after_table..];
    let name_start = rest.len() - rest.trim_start().len();
    let name_len = rest[name_start..].find(|c: char| c.is_whitespace() || c == '(')?;
    let name = &rest[name_start..name_start + name_len];
    if name.eq_ignore_ascii_case("IF") || !simple_name(name) || name.contains('.') {
        return None;
    }
    let after_name = after_table + name_start + name_len;
    let open = after_name + t[after_name..].find(|c: char| !c.is_whitespace())?;
    if t.as_bytes()[open] != b'(' {
        return None;
    }
    let close = closing_paren(t, open)?;
    let options = t[close + 1..].to_ascii_uppercase();
    if words(&options).any(|w| matches!(w.as_str(), "select" | "as" | "partition" | "like")) {
        return None;
    }
    Some((unquote(name), lead + close))
}

/// A name alembix can compare: plain or back-quoted, without quotes inside.
fn simple_name(name: &str) -> bool {
    let inner = name.strip_prefix('`').and_then(|n| n.strip_suffix('`'));
    match inner {
        Some(n) => !n.is_empty() && !n.contains('`'),
        None => name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '$'),
    }
}

fn unquote(name: &str) -> String {
    name.trim_matches('`').to_string()
}

/// Whether the index's first part is an `AUTO_INCREMENT` column of the table: as written, such a column
/// must be keyed in its own `CREATE TABLE` (error 1075 otherwise), which a folded index would hide.
fn keys_auto_increment(create: &str, parts: &str) -> bool {
    let first = parts
        .trim_start_matches('(')
        .split(|c: char| c == ',' || c == '(' || c == ')' || c.is_whitespace())
        .find(|w| !w.is_empty())
        .map(|w| w.trim_matches('`').to_ascii_lowercase());
    let Some(first) = first else {
        return true;
    };
    create.lines().chain(create.split(',')).any(|piece| {
        let upper = piece.to_ascii_uppercase();
        upper.contains("AUTO_INCREMENT")
            && piece.split_whitespace().next().is_some_and(|w| {
                w.trim_start_matches('(')
                    .trim_matches('`')
                    .to_ascii_lowercase()
                    == first
            })
    })
}

/// Offset of the paren closing the one at `open`, skipping quoted text and comments.
fn closing_paren(text: &str, open: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < b.len() {
        match b[i] {
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            q @ (b'\'' | b'"' | b'`') => {
                i += 1;
                while i < b.len() && b[i] != q {
                    if b[i] == b'\\' && q != b'`' {
                        i += 1;
                    }
                    i += 1;
                }
                if i >= b.len() {
                    return None;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = i + text[i..].find('\n')?;
            }
            b'#' => i = i + text[i..].find('\n')?,
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = i + 2 + text[i + 2..].find("*/")? + 1;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Lower-case identifier words (quotes dropped).
fn words(sql: &str) -> impl Iterator<Item = String> + '_ {
    sql.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fold(sql: &[&str]) -> Vec<String> {
        fold_indexes(&sql.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn plain_indexes_go_into_their_table() {
        let out = fold(&[
            "CREATE TABLE t (\n\tid INTEGER NOT NULL, \n\tcode VARCHAR(3), \n\tPRIMARY KEY (id)\n)ENGINE=InnoDB",
            "CREATE INDEX ix_t_code ON t (code)",
            "CREATE UNIQUE INDEX `uq_t` ON `t` (code(2), id)",
            "CREATE TABLE u (id INTEGER, note TEXT COMMENT 'a (b'' c)')",
            "CREATE INDEX ix_u ON u (id)",
        ]);
        assert_eq!(out.len(), 2, "{out:#?}");
        assert_eq!(
            out[0],
            "CREATE TABLE t (\n\tid INTEGER NOT NULL, \n\tcode VARCHAR(3), \n\tPRIMARY KEY (id)\n,\n\t\
             INDEX ix_t_code (code)\n,\n\tUNIQUE INDEX `uq_t` (code(2), id)\n)ENGINE=InnoDB"
        );
        assert_eq!(
            out[1],
            "CREATE TABLE u (id INTEGER, note TEXT COMMENT 'a (b'' c)',\n\tINDEX ix_u (id)\n)"
        );
    }

    #[test]
    fn anything_else_stays_as_written() {
        let keep = [
            "CREATE TABLE t (id INTEGER, code TEXT)",
            "CREATE FULLTEXT INDEX ix_f ON t (code)",
            "CREATE INDEX ix_u USING BTREE ON t (id)",
            "CREATE INDEX ix_a ON t (id) ALGORITHM=INPLACE",
            "CREATE INDEX IF NOT EXISTS ix_b ON t (id)",
            "CREATE INDEX ix_c ON other (id)",
            "CREATE INDEX ix_d ON db.t (id)",
            "CREATE TABLE s AS SELECT 1 AS a",
            "CREATE INDEX ix_s ON s (a)",
        ];
        assert_eq!(fold(&keep), keep);
        // Names that differ by case are different tables; a self-reference, or an AUTO_INCREMENT column keyed
        // only by the index, stays as written.
        let keep = [
            "CREATE TABLE Foo (id INTEGER)",
            "CREATE TABLE foo (id INTEGER)",
            "CREATE INDEX ix_foo ON Foo (id)",
            "CREATE TABLE s (id INTEGER, p INTEGER, FOREIGN KEY (p) REFERENCES s (p))",
            "CREATE INDEX ix_s ON s (p)",
            "CREATE TABLE a (\n\tn INTEGER NOT NULL AUTO_INCREMENT, \n\tx INTEGER\n)",
            "CREATE INDEX ix_a ON a (n, x)",
        ];
        let out = fold(&keep);
        assert!(out[0].contains("INDEX ix_foo (id)"), "{out:#?}");
        assert_eq!(
            out[1..],
            keep[1..2]
                .iter()
                .chain(&keep[3..])
                .copied()
                .collect::<Vec<_>>()[..]
        );
        // An ALTER TABLE in between keeps the later index after it.
        let out = fold(&[
            "CREATE TABLE t (id INTEGER)",
            "ALTER TABLE t ADD COLUMN c INTEGER",
            "CREATE INDEX ix_c ON t (c)",
        ]);
        assert_eq!(out.len(), 3);
    }
}
