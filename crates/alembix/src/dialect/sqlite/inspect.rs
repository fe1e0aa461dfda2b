//! Introspection: the whole schema in a constant number of catalog queries (one per kind of object).
//!
//! SQLite's catalog is `sqlite_master` (the original `CREATE` statements) plus the table-valued pragmas. Every
//! query below joins `sqlite_master` with a pragma, so the number of queries is fixed ([`QUERIES`]), whatever
//! the number of tables. What the pragmas do not tell (constraint names, `CHECK` constraints, generated-column
//! expressions, `AUTOINCREMENT`, index expressions and `WHERE` clauses) is parsed out of the stored SQL with a
//! small tokenizer that respects quotes, comments and parentheses.

use std::collections::{BTreeMap, HashMap};

use crate::dialect::{Connection, DbError};
use crate::schema::{
    Check, Column, FkAction, ForeignKey, Generated, Identity, Index, IndexPart, PrimaryKey, Schema,
    Table, Trigger, Unique, View,
};

/// Every query introspection runs, in order; exactly these, once each: (the columns of each row, the rest of
/// the query, its order). [`query`] makes one statement of each.
pub const QUERIES: [(&str, &str, &str); 4] = [
    // 0: objects: type, name, table, sql
    (
        "m.type, m.name, m.tbl_name, m.sql",
        "FROM sqlite_master m \
         WHERE m.type IN ('table', 'view', 'trigger') AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        "m.type, m.name",
    ),
    // 1: columns
    (
        "m.name, CAST(p.cid AS TEXT), p.name, p.type, CAST(p.\"notnull\" AS TEXT), p.dflt_value, \
         CAST(p.pk AS TEXT), CAST(p.hidden AS TEXT)",
        "FROM sqlite_master m JOIN pragma_table_xinfo(m.name) p \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         AND upper(substr(ltrim(m.sql), 1, 14)) <> 'CREATE VIRTUAL'",
        "m.name, p.cid",
    ),
    // 2: index key columns
    (
        "m.name, il.name, CAST(il.\"unique\" AS TEXT), il.origin, CAST(il.partial AS TEXT), \
         CAST(ix.seqno AS TEXT), CAST(ix.cid AS TEXT), ix.name, CAST(ix.\"desc\" AS TEXT), s.sql",
        "FROM sqlite_master m JOIN pragma_index_list(m.name) il JOIN pragma_index_xinfo(il.name) ix \
         LEFT JOIN sqlite_master s ON s.type = 'index' AND s.name = il.name \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         AND upper(substr(ltrim(m.sql), 1, 14)) <> 'CREATE VIRTUAL' AND ix.key = 1",
        "m.name, il.name, ix.seqno",
    ),
    // 3: foreign keys
    (
        "m.name, CAST(f.id AS TEXT), CAST(f.seq AS TEXT), f.\"table\", f.\"from\", f.\"to\", f.on_update, \
         f.on_delete",
        "FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f \
         WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
         AND upper(substr(ltrim(m.sql), 1, 14)) <> 'CREATE VIRTUAL'",
        "m.name, f.id, f.seq",
    ),
];

/// One of [`QUERIES`] as a statement that returns its whole result as one JSON array of rows (SQLite 3.44's
/// ordered aggregate keeps the order): one result to decode instead of a row per column, index and key
/// (with sqlx's SQLite worker thread, a thread switch each, which cost `verify` more than SQLite did).
fn query((columns, rest, order): (&str, &str, &str)) -> String {
    format!("SELECT json_group_array(json_array({columns}) ORDER BY {order}) {rest}")
}

/// The rows of one of [`QUERIES`], every cell as text (numbers are cast in the queries).
async fn rows(
    conn: &mut Connection,
    q: (&str, &str, &str),
) -> Result<Vec<Vec<Option<String>>>, DbError> {
    let result = conn.query_text(&query(q)).await?;
    let text = result
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .unwrap_or_else(|| "[]".to_string());
    let parsed: Vec<Vec<serde_json::Value>> = serde_json::from_str(&text)
        .map_err(|e| DbError::new(format!("reading the catalog: {e}")))?;
    Ok(parsed
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|v| match v {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(s) => Some(s),
                    other => Some(other.to_string()),
                })
                .collect()
        })
        .collect())
}

/// Read every table and view of the database, except the `exclude`d tables.
pub async fn inspect(conn: &mut Connection, exclude: &[String]) -> Result<Schema, DbError> {
    inspect_counted(conn, exclude).await.map(|(s, _)| s)
}

/// [`inspect`], also returning how many queries it ran (for the test that proves the count is constant).
pub async fn inspect_counted(
    conn: &mut Connection,
    exclude: &[String],
) -> Result<(Schema, usize), DbError> {
    let mut results = Vec::with_capacity(QUERIES.len());
    for q in QUERIES {
        results.push(rows(conn, q).await?);
    }
    let count = results.len();
    let mut it = results.into_iter();
    let mut next = || it.next().unwrap_or_default();
    let (objects, columns, indexes, fks) = (next(), next(), next(), next());
    Ok((build(&objects, &columns, &indexes, &fks, exclude), count))
}

fn cell(row: &[Option<String>], i: usize) -> &str {
    row.get(i).and_then(|c| c.as_deref()).unwrap_or("")
}

/// `STRICT` and `WITHOUT ROWID`, from what follows the column list of `CREATE TABLE` (comments dropped).
fn table_options(sql: &str) -> Vec<String> {
    let Some(end) = sql.rfind(')') else {
        return Vec::new();
    };
    let mut tail = String::new();
    let mut rest = &sql[end + 1..];
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.find('\n').map_or("", |i| &r[i..]);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.find("*/").map_or("", |i| &r[i + 2..]);
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            tail.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    let mut options: Vec<String> = tail
        .split(',')
        .map(|o| {
            o.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_ascii_uppercase()
        })
        .filter(|o| o == "STRICT" || o == "WITHOUT ROWID")
        .collect();
    options.sort();
    options.dedup();
    options
}

/// A literal default as the column stores it, so that `DEFAULT 0` and `DEFAULT '0'` on an INTEGER column
/// (both store the integer 0) compare equal, as do `DEFAULT 1` and `DEFAULT '1'` on a TEXT column (both store
/// the text '1'). SQLite's type affinity decides (https://sqlite.org/datatype3.html, 3.1); expressions,
/// other literals and BLOB / untyped columns are left as written.
fn stored_default(declared_type: &str, default: &str) -> String {
    let ty = declared_type.to_ascii_uppercase();
    let numeric = if ty.contains("INT") {
        true
    } else if ty.contains("CHAR") || ty.contains("CLOB") || ty.contains("TEXT") {
        false
    } else if ty.contains("BLOB") || ty.trim().is_empty() {
        return default.to_string();
    } else {
        true // REAL and NUMERIC affinity
    };
    let integer = |s: &str| {
        let digits = s.strip_prefix(['-', '+']).unwrap_or(s);
        !digits.is_empty() && digits.len() < 19 && digits.bytes().all(|b| b.is_ascii_digit())
    };
    let quoted = default
        .strip_prefix('\'')
        .and_then(|s| s.strip_suffix('\''))
        .filter(|s| !s.contains('\''));
    match (numeric, quoted) {
        (true, Some(inner)) if integer(inner) => inner
            .parse::<i64>()
            .map_or_else(|_| default.to_string(), |n| n.to_string()),
        (true, None) if integer(default) => default
            .parse::<i64>()
            .map_or_else(|_| default.to_string(), |n| n.to_string()),
        (false, None) if integer(default) => format!("'{default}'"),
        _ => default.to_string(),
    }
}

fn opt(row: &[Option<String>], i: usize) -> Option<&str> {
    row.get(i).and_then(|c| c.as_deref())
}

fn excluded(name: &str, exclude: &[String]) -> bool {
    exclude.iter().any(|e| {
        let e = e.rsplit('.').next().unwrap_or(e);
        e.eq_ignore_ascii_case(name)
    })
}

type Rows = [Vec<Option<String>>];

fn build(objects: &Rows, columns: &Rows, indexes: &Rows, fks: &Rows, exclude: &[String]) -> Schema {
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    let mut parsed: HashMap<String, ParsedTable> = HashMap::new();
    let mut views = Vec::new();
    let mut triggers: Vec<(String, Trigger)> = Vec::new();
    // Virtual tables and their shadow tables (`<name>_data`, ...) belong to their module: not inspected.
    let virtual_tables: Vec<String> = objects
        .iter()
        .filter(|r| cell(r, 0) == "table" && is_virtual(cell(r, 3)))
        .map(|r| format!("{}_", cell(r, 1).to_ascii_lowercase()))
        .collect();
    let shadow = |name: &str| {
        let name = name.to_ascii_lowercase();
        virtual_tables.iter().any(|p| name.starts_with(p.as_str()))
    };
    for row in objects {
        let (kind, name, tbl, sql) = (cell(row, 0), cell(row, 1), cell(row, 2), cell(row, 3));
        match kind {
            "table" if !excluded(name, exclude) && !is_virtual(sql) && !shadow(name) => {
                parsed.insert(name.to_string(), parse_create_table(sql));
                tables.insert(
                    name.to_string(),
                    Table {
                        name: name.to_string(),
                        options: table_options(sql),
                        ..Table::default()
                    },
                );
            }
            "view" => views.push(View {
                indexes: Vec::new(),
                materialized: false,
                name: name.to_string(),
                definition: view_definition(sql),
                sql: Some(sql.to_string()),
            }),
            "trigger" => triggers.push((
                tbl.to_string(),
                Trigger {
                    name: name.to_string(),
                    sql: sql.to_string(),
                },
            )),
            _ => {}
        }
    }

    // Columns and primary keys.
    let mut pk_cols: HashMap<String, Vec<(i64, String)>> = HashMap::new();
    for row in columns {
        let tname = cell(row, 0);
        let Some(table) = tables.get_mut(tname) else {
            continue;
        };
        let name = cell(row, 2).to_string();
        let hidden: i64 = cell(row, 7).parse().unwrap_or(0);
        if hidden == 1 {
            continue;
        }
        let p = parsed.get(tname);
        let pc = p.and_then(|p| p.column(&name));
        let pk: i64 = cell(row, 6).parse().unwrap_or(0);
        if pk > 0 {
            pk_cols
                .entry(tname.to_string())
                .or_default()
                .push((pk, name.clone()));
        }
        let generated = match hidden {
            2 | 3 => Some(Generated {
                expression: pc.and_then(|c| c.generated.clone()).unwrap_or_default(),
                stored: hidden == 3,
            }),
            _ => None,
        };
        table.columns.push(Column {
            identity_options: Vec::new(),
            collation: None,
            identity: pc
                .filter(|c| c.autoincrement && pk > 0)
                .map(|_| Identity::AutoIncrement),
            data_type: match pc.and_then(|c| c.collation.as_deref()) {
                Some(coll) if cell(row, 3).is_empty() => format!("COLLATE {coll}"),
                Some(coll) => format!("{} COLLATE {coll}", cell(row, 3)),
                None => cell(row, 3).to_string(),
            },
            name,
            nullable: cell(row, 4) != "1",
            default: opt(row, 5).map(|d| stored_default(cell(row, 3), d)),
            generated,
            comment: None,
        });
    }
    for (tname, mut cols) in pk_cols {
        cols.sort();
        if let Some(t) = tables.get_mut(&tname) {
            t.primary_key = Some(PrimaryKey {
                name: parsed.get(&tname).and_then(|p| p.pk_name.clone()),
                columns: cols.into_iter().map(|(_, c)| c).collect(),
            });
        }
    }

    // Indexes and unique constraints: rows are (table, index, unique, origin, partial, seqno, cid, name, desc, sql).
    let mut current: Option<(String, String)> = None;
    let mut acc: Vec<&Vec<Option<String>>> = Vec::new();
    let flush = |acc: &mut Vec<&Vec<Option<String>>>, tables: &mut BTreeMap<String, Table>| {
        if let Some(first) = acc.first() {
            let tname = cell(first, 0);
            if let Some(t) = tables.get_mut(tname) {
                add_index(t, acc, parsed.get(tname));
            }
        }
        acc.clear();
    };
    for row in indexes {
        let key = (cell(row, 0).to_string(), cell(row, 1).to_string());
        if current.as_ref() != Some(&key) {
            flush(&mut acc, &mut tables);
            current = Some(key);
        }
        acc.push(row);
    }
    flush(&mut acc, &mut tables);

    // Foreign keys, grouped by (table, id).
    let mut groups: BTreeMap<(String, i64), Vec<&Vec<Option<String>>>> = BTreeMap::new();
    for row in fks {
        let id: i64 = cell(row, 1).parse().unwrap_or(0);
        groups
            .entry((cell(row, 0).to_string(), id))
            .or_default()
            .push(row);
    }
    let pks: HashMap<String, Vec<String>> = tables
        .values()
        .map(|t| {
            (
                t.name.to_ascii_lowercase(),
                t.primary_key
                    .as_ref()
                    .map(|p| p.columns.clone())
                    .unwrap_or_default(),
            )
        })
        .collect();
    let actual_name: HashMap<String, String> = tables
        .keys()
        .map(|n| (n.to_ascii_lowercase(), n.clone()))
        .collect();
    for ((tname, _), rows) in groups.into_iter().rev() {
        let Some(first) = rows.first() else { continue };
        let ref_raw = cell(first, 3);
        let ref_table = actual_name
            .get(&ref_raw.to_ascii_lowercase())
            .cloned()
            .unwrap_or_else(|| ref_raw.to_string());
        let columns: Vec<String> = rows.iter().map(|r| cell(r, 4).to_string()).collect();
        let mut ref_columns: Vec<String> = rows.iter().map(|r| cell(r, 5).to_string()).collect();
        if rows.iter().all(|r| opt(r, 5).is_none()) {
            ref_columns = pks
                .get(&ref_table.to_ascii_lowercase())
                .cloned()
                .unwrap_or_default();
        }
        let name = parsed
            .get(&tname)
            .and_then(|p| p.fk_name(&columns, &ref_table));
        if let Some(t) = tables.get_mut(&tname) {
            t.foreign_keys.push(ForeignKey {
                deferrable: None,
                name,
                columns,
                ref_table,
                ref_columns,
                on_update: FkAction::parse(cell(first, 6)),
                on_delete: FkAction::parse(cell(first, 7)),
            });
        }
    }

    // Checks, triggers.
    for t in tables.values_mut() {
        if let Some(p) = parsed.get(&t.name) {
            t.checks = p.checks.clone();
        }
    }
    for (tbl, trigger) in triggers {
        if let Some(t) = tables.get_mut(&tbl) {
            t.triggers.push(trigger);
        } else if let Some(t) = tables
            .values_mut()
            .find(|t| t.name.eq_ignore_ascii_case(&tbl))
        {
            t.triggers.push(trigger);
        }
    }
    Schema {
        schemas: Vec::new(),
        functions: Vec::new(),
        sequences: Vec::new(),
        defaults: Vec::new(),
        tables: tables.into_values().collect(),
        views,
        enums: Vec::new(),
    }
}

fn is_virtual(sql: &str) -> bool {
    let toks = tokenize(sql);
    toks.len() > 1 && is_word(sql, &toks[0], "CREATE") && is_word(sql, &toks[1], "VIRTUAL")
}

/// One index's key-column rows.
fn add_index(t: &mut Table, rows: &[&Vec<Option<String>>], parsed: Option<&ParsedTable>) {
    let Some(first) = rows.first() else { return };
    let name = cell(first, 1).to_string();
    let unique = cell(first, 2) == "1";
    let origin = cell(first, 3);
    let cols = || -> Vec<String> { rows.iter().map(|r| cell(r, 7).to_string()).collect() };
    match origin {
        "pk" => {}
        "u" => {
            let columns = cols();
            let name = parsed.and_then(|p| p.unique_name(&columns));
            t.uniques.push(Unique {
                deferrable: None,
                name,
                columns,
            });
        }
        _ => {
            let sql = cell(first, 9);
            let parsed_index = parse_create_index(sql);
            let pk_alias = t
                .primary_key
                .as_ref()
                .and_then(|p| p.columns.first().cloned());
            let parts = rows
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let cid: i64 = cell(r, 6).parse().unwrap_or(0);
                    let descending = cell(r, 8) == "1";
                    match cid {
                        -2 => IndexPart {
                            opclass: None,
                            expression: parsed_index
                                .parts
                                .get(i)
                                .map(|p| p.0.clone())
                                .unwrap_or_default(),
                            is_column: false,
                            descending,
                        },
                        // A column with an explicit collation: the model has no place for it, so the part
                        // is kept as the expression `col COLLATE x`.
                        _ if parsed_index.parts.get(i).is_some_and(|p| p.1) => IndexPart {
                            opclass: None,
                            expression: parsed_index
                                .parts
                                .get(i)
                                .map(|p| p.0.clone())
                                .unwrap_or_default(),
                            is_column: false,
                            descending,
                        },
                        -1 => IndexPart {
                            opclass: None,
                            expression: pk_alias.clone().unwrap_or_else(|| "rowid".into()),
                            is_column: true,
                            descending,
                        },
                        _ => IndexPart {
                            opclass: None,
                            expression: cell(r, 7).to_string(),
                            is_column: true,
                            descending,
                        },
                    }
                })
                .collect();
            t.indexes.push(Index {
                include: Vec::new(),
                name,
                parts,
                unique,
                predicate: if cell(first, 4) == "1" {
                    parsed_index.predicate
                } else {
                    None
                },
                method: None,
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Tokenizer

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A bare word: keyword or identifier.
    Word,
    /// `"x"`, `` `x` ``, `[x]`.
    Quoted,
    /// `'text'`.
    Str,
    Num,
    LParen,
    RParen,
    Comma,
    Semi,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub start: usize,
    pub end: usize,
}

/// Split SQL text into tokens, skipping whitespace and comments. Unterminated quotes run to the end.
pub(crate) fn tokenize(sql: &str) -> Vec<Token> {
    let b = sql.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let word_char = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80;
    while i < b.len() {
        let c = b[i];
        let start = i;
        let kind = match c {
            c if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i = (i + 2).min(b.len());
                continue;
            }
            b'\'' | b'"' | b'`' => {
                i += 1;
                loop {
                    if i >= b.len() {
                        break;
                    }
                    if b[i] == c {
                        if b.get(i + 1) == Some(&c) {
                            i += 2;
                            continue;
                        }
                        i += 1;
                        break;
                    }
                    i += 1;
                }
                if c == b'\'' {
                    Tok::Str
                } else {
                    Tok::Quoted
                }
            }
            b'[' => {
                while i < b.len() && b[i] != b']' {
                    i += 1;
                }
                i = (i + 1).min(b.len());
                Tok::Quoted
            }
            b'(' => {
                i += 1;
                Tok::LParen
            }
            b')' => {
                i += 1;
                Tok::RParen
            }
            b',' => {
                i += 1;
                Tok::Comma
            }
            b';' => {
                i += 1;
                Tok::Semi
            }
            c if c.is_ascii_digit()
                || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) =>
            {
                while i < b.len() && (word_char(b[i]) || b[i] == b'.') {
                    i += 1;
                }
                Tok::Num
            }
            c if word_char(c) => {
                while i < b.len() && word_char(b[i]) {
                    i += 1;
                }
                Tok::Word
            }
            _ => {
                // One character (multi-byte safe).
                i += sql[i..].chars().next().map_or(1, char::len_utf8);
                Tok::Other
            }
        };
        out.push(Token {
            kind,
            start,
            end: i,
        });
    }
    out
}

pub(crate) fn text<'a>(sql: &'a str, t: &Token) -> &'a str {
    &sql[t.start..t.end]
}

pub(crate) fn is_word(sql: &str, t: &Token, kw: &str) -> bool {
    t.kind == Tok::Word && text(sql, t).eq_ignore_ascii_case(kw)
}

/// The name an identifier token stands for (quotes removed, doubled quotes undone).
pub(crate) fn ident(sql: &str, t: &Token) -> String {
    let s = text(sql, t);
    match t.kind {
        Tok::Quoted | Tok::Str if s.len() >= 2 => {
            let q = s.as_bytes()[0];
            let inner = &s[1..s.len() - 1];
            match q {
                b'[' => inner.to_string(),
                b'"' => inner.replace("\"\"", "\""),
                b'`' => inner.replace("``", "`"),
                _ => inner.replace("''", "'"),
            }
        }
        _ => s.to_string(),
    }
}

/// Index of the `)` matching the `(` at `open` (or the last token when unbalanced).
fn matching(toks: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate().skip(open) {
        match t.kind {
            Tok::LParen => depth += 1,
            Tok::RParen => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    toks.len().saturating_sub(1)
}

/// Split `toks` on commas at parenthesis depth 0.
fn split_commas(toks: &[Token]) -> Vec<&[Token]> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        match t.kind {
            Tok::LParen => depth += 1,
            Tok::RParen => depth -= 1,
            Tok::Comma if depth == 0 => {
                out.push(&toks[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < toks.len() {
        out.push(&toks[start..]);
    }
    out
}

/// The source text of a run of tokens with comments dropped and whitespace collapsed to one space (quoted
/// text untouched), so that the same expression written on one line or several compares equal.
pub(crate) fn normalize_tokens(sql: &str, toks: &[Token]) -> String {
    let mut out = String::new();
    for (i, t) in toks.iter().enumerate() {
        if i > 0 && toks[i - 1].end < t.start {
            out.push(' ');
        }
        out.push_str(text(sql, t));
    }
    out
}

/// [`normalize_tokens`] of a whole text.
#[cfg(test)]
pub(crate) fn normalize_sql(sql: &str) -> String {
    normalize_tokens(sql, &tokenize(sql))
}

// ---------------------------------------------------------------------------------------------------------
// CREATE TABLE

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ParsedColumn {
    name: String,
    /// `COLLATE x` of the column (the model has no collation: it travels with the type).
    collation: Option<String>,
    generated: Option<String>,
    autoincrement: bool,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ParsedTable {
    columns: Vec<ParsedColumn>,
    checks: Vec<Check>,
    pk_name: Option<String>,
    /// (columns lower-cased, constraint name)
    unique_names: Vec<(Vec<String>, String)>,
    /// (columns lower-cased, referenced table lower-cased, constraint name)
    fk_names: Vec<(Vec<String>, String, String)>,
}

impl ParsedTable {
    fn column(&self, name: &str) -> Option<&ParsedColumn> {
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    fn unique_name(&self, cols: &[String]) -> Option<String> {
        let cols = lower(cols);
        self.unique_names
            .iter()
            .find(|(c, _)| *c == cols)
            .map(|(_, n)| n.clone())
    }

    fn fk_name(&self, cols: &[String], ref_table: &str) -> Option<String> {
        let cols = lower(cols);
        let rt = ref_table.to_ascii_lowercase();
        self.fk_names
            .iter()
            .find(|(c, r, _)| *c == cols && *r == rt)
            .map(|(_, _, n)| n.clone())
    }
}

fn lower(cols: &[String]) -> Vec<String> {
    cols.iter().map(|c| c.to_ascii_lowercase()).collect()
}

const TABLE_CONSTRAINT: [&str; 5] = ["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"];

/// Column names in a parenthesised list starting at `open` (`(a, b COLLATE nocase DESC)`).
fn name_list(sql: &str, toks: &[Token], open: usize) -> (Vec<String>, usize) {
    let close = matching(toks, open);
    let inner = toks.get(open + 1..close).unwrap_or(&[]);
    let names = split_commas(inner)
        .into_iter()
        .filter_map(|part| part.first().map(|t| ident(sql, t)))
        .collect();
    (names, close)
}

fn parse_create_table(sql: &str) -> ParsedTable {
    let toks = tokenize(sql);
    let mut out = ParsedTable::default();
    let Some(open) = toks.iter().position(|t| t.kind == Tok::LParen) else {
        return out; // CREATE TABLE ... AS SELECT
    };
    let close = matching(&toks, open);
    let body = toks.get(open + 1..close).unwrap_or(&[]);
    for def in split_commas(body) {
        let Some(first) = def.first() else { continue };
        let is_constraint =
            first.kind == Tok::Word && TABLE_CONSTRAINT.iter().any(|k| is_word(sql, first, k));
        if is_constraint {
            parse_table_constraint(sql, def, &mut out);
        } else {
            parse_column(sql, def, &mut out);
        }
    }
    out
}

fn parse_table_constraint(sql: &str, def: &[Token], out: &mut ParsedTable) {
    let mut i = 0;
    let mut name = None;
    if is_word(sql, &def[0], "CONSTRAINT") {
        name = def.get(1).map(|t| ident(sql, t));
        i = 2;
    }
    let Some(kw) = def.get(i) else { return };
    let open = def
        .iter()
        .skip(i)
        .position(|t| t.kind == Tok::LParen)
        .map(|p| p + i);
    if is_word(sql, kw, "PRIMARY") {
        out.pk_name = name;
    } else if is_word(sql, kw, "UNIQUE") {
        if let (Some(open), Some(name)) = (open, name) {
            let (cols, _) = name_list(sql, def, open);
            out.unique_names.push((lower(&cols), name));
        }
    } else if is_word(sql, kw, "CHECK") {
        if let Some(open) = open {
            let close = matching(def, open);
            out.checks.push(Check {
                name,
                expression: normalize_tokens(sql, def.get(open + 1..close).unwrap_or(&[])),
                column_level: false,
            });
        }
    } else if is_word(sql, kw, "FOREIGN") {
        if let (Some(open), Some(name)) = (open, name) {
            let (cols, close) = name_list(sql, def, open);
            let rest = def.get(close + 1..).unwrap_or(&[]);
            if let Some(r) = rest.iter().position(|t| is_word(sql, t, "REFERENCES")) {
                if let Some(t) = rest.get(r + 1) {
                    out.fk_names
                        .push((lower(&cols), ident(sql, t).to_ascii_lowercase(), name));
                }
            }
        }
    }
}

fn parse_column(sql: &str, def: &[Token], out: &mut ParsedTable) {
    let name = ident(sql, &def[0]);
    let mut col = ParsedColumn {
        name: name.clone(),
        ..ParsedColumn::default()
    };
    let mut pending: Option<String> = None;
    let mut i = 1;
    while i < def.len() {
        let t = &def[i];
        if t.kind == Tok::LParen {
            i = matching(def, i) + 1;
            continue;
        }
        if t.kind != Tok::Word {
            i += 1;
            continue;
        }
        let w = text(sql, t).to_ascii_uppercase();
        match w.as_str() {
            "CONSTRAINT" => {
                pending = def.get(i + 1).map(|t| ident(sql, t));
                i += 2;
                continue;
            }
            "PRIMARY" => {
                if let Some(n) = pending.take() {
                    out.pk_name = Some(n);
                }
            }
            "AUTOINCREMENT" => col.autoincrement = true,
            "UNIQUE" => {
                if let Some(n) = pending.take() {
                    out.unique_names.push((vec![name.to_ascii_lowercase()], n));
                }
            }
            "CHECK" if def.get(i + 1).is_some_and(|t| t.kind == Tok::LParen) => {
                let close = matching(def, i + 1);
                out.checks.push(Check {
                    name: pending.take(),
                    expression: normalize_tokens(sql, def.get(i + 2..close).unwrap_or(&[])),
                    column_level: false,
                });
                i = close + 1;
                continue;
            }
            "REFERENCES" => {
                let n = pending.take();
                if let (Some(n), Some(t)) = (n, def.get(i + 1)) {
                    out.fk_names.push((
                        vec![name.to_ascii_lowercase()],
                        ident(sql, t).to_ascii_lowercase(),
                        n,
                    ));
                }
                i += 2;
                continue;
            }
            "AS" if def.get(i + 1).is_some_and(|t| t.kind == Tok::LParen) => {
                let close = matching(def, i + 1);
                col.generated = Some(normalize_tokens(sql, def.get(i + 2..close).unwrap_or(&[])));
                i = close + 1;
                continue;
            }
            "DEFAULT" => {
                // Skip the value: a parenthesised expression, or a (signed) literal.
                match def.get(i + 1).map(|t| t.kind) {
                    Some(Tok::LParen) => i = matching(def, i + 1) + 1,
                    Some(Tok::Other) => i += 3,
                    _ => i += 2,
                }
                continue;
            }
            "COLLATE" => {
                pending = None;
                if let Some(t) = def.get(i + 1) {
                    col.collation = Some(ident(sql, t));
                    i += 2;
                    continue;
                }
            }
            "NULL" => pending = None,
            _ => {}
        }
        i += 1;
    }
    out.columns.push(col);
}

// ---------------------------------------------------------------------------------------------------------
// CREATE INDEX, CREATE VIEW

#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ParsedIndex {
    /// Each key part's text without `ASC` / `DESC`, and whether it ends with `COLLATE x`.
    parts: Vec<(String, bool)>,
    predicate: Option<String>,
}

fn parse_create_index(sql: &str) -> ParsedIndex {
    let toks = tokenize(sql);
    let mut out = ParsedIndex::default();
    let Some(on) = toks.iter().position(|t| is_word(sql, t, "ON")) else {
        return out;
    };
    let Some(open) = toks
        .iter()
        .skip(on)
        .position(|t| t.kind == Tok::LParen)
        .map(|p| p + on)
    else {
        return out;
    };
    let close = matching(&toks, open);
    for part in split_commas(toks.get(open + 1..close).unwrap_or(&[])) {
        let mut part = part;
        if part
            .last()
            .is_some_and(|t| is_word(sql, t, "ASC") || is_word(sql, t, "DESC"))
        {
            part = &part[..part.len() - 1];
        }
        let collated = part.len() >= 2 && is_word(sql, &part[part.len() - 2], "COLLATE");
        out.parts.push((normalize_tokens(sql, part), collated));
    }
    let rest = toks.get(close + 1..).unwrap_or(&[]);
    if let Some(w) = rest.iter().position(|t| is_word(sql, t, "WHERE")) {
        let mut pred = &rest[w + 1..];
        if pred.last().is_some_and(|t| t.kind == Tok::Semi) {
            pred = &pred[..pred.len() - 1];
        }
        out.predicate = Some(normalize_tokens(sql, pred));
    }
    out
}

/// The query of a `CREATE VIEW ... AS query` statement, as written.
fn view_definition(sql: &str) -> String {
    let toks = tokenize(sql);
    let mut depth = 0i32;
    for t in &toks {
        match t.kind {
            Tok::LParen => depth += 1,
            Tok::RParen => depth -= 1,
            _ if depth == 0 && is_word(sql, t, "AS") => {
                return sql[t.end..]
                    .trim()
                    .trim_end_matches(';')
                    .trim_end()
                    .to_string();
            }
            _ => {}
        }
    }
    sql.to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_table_options() {
        use super::table_options;
        assert_eq!(
            table_options("CREATE TABLE t (a INT CHECK (a > 0)) strict ,  without   rowid -- x"),
            ["STRICT", "WITHOUT ROWID"]
        );
        assert_eq!(table_options("CREATE TABLE t (a)"), Vec::<String>::new());
        assert_eq!(
            table_options("CREATE TABLE t (a TEXT PRIMARY KEY) /* c */ WITHOUT ROWID"),
            ["WITHOUT ROWID"]
        );
    }

    #[test]
    fn defaults_compare_as_stored() {
        use super::stored_default;
        assert_eq!(stored_default("INTEGER", "'0'"), "0");
        assert_eq!(stored_default("INTEGER", "0"), "0");
        assert_eq!(stored_default("BIGINT", "'-12'"), "-12");
        assert_eq!(stored_default("VARCHAR(10)", "1"), "'1'");
        assert_eq!(stored_default("TEXT", "'1'"), "'1'");
        assert_eq!(stored_default("TEXT", "'abc'"), "'abc'");
        assert_eq!(stored_default("INTEGER", "'abc'"), "'abc'");
        assert_eq!(stored_default("BLOB", "'0'"), "'0'");
        assert_eq!(stored_default("", "0"), "0");
        assert_eq!(
            stored_default("INTEGER", "CURRENT_TIMESTAMP"),
            "CURRENT_TIMESTAMP"
        );
        assert_eq!(stored_default("NUMERIC", "'5'"), "5");
    }

    use super::*;

    #[test]
    fn tokenizer_respects_quotes_comments_and_brackets() {
        let sql = "a 'it''s (' \"x\"\"y\" -- c, (\n [b c] /* ) */ ( 1.5e3 , x'00')";
        let toks = tokenize(sql);
        let kinds: Vec<Tok> = toks.iter().map(|t| t.kind).collect();
        assert_eq!(
            kinds,
            [
                Tok::Word,
                Tok::Str,
                Tok::Quoted,
                Tok::Quoted,
                Tok::LParen,
                Tok::Num,
                Tok::Comma,
                Tok::Word,
                Tok::Str,
                Tok::RParen
            ]
        );
        assert_eq!(ident(sql, &toks[2]), "x\"y");
        assert_eq!(ident(sql, &toks[3]), "b c");
    }

    #[test]
    fn normalizes_whitespace_outside_quotes() {
        assert_eq!(
            normalize_sql("a  >\n\t0 AND b = 'x  y' -- c\n"),
            "a > 0 AND b = 'x  y'"
        );
        assert_eq!(normalize_sql("lower( email )"), "lower( email )");
    }

    #[test]
    fn parses_table_constraints_checks_and_generated() {
        let sql = r#"CREATE TABLE "t x" (
            id INTEGER CONSTRAINT pk_t PRIMARY KEY AUTOINCREMENT,
            "Price" NUMERIC(10, 2) NOT NULL DEFAULT (1 + 2) CONSTRAINT price_pos CHECK (price > 0),
            code TEXT CONSTRAINT uq_code UNIQUE COLLATE nocase,
            parent INT CONSTRAINT fk_parent REFERENCES "t x"(id) ON DELETE CASCADE,
            total INT GENERATED ALWAYS AS (price *  2) STORED,
            half AS (price / 2),
            note TEXT DEFAULT 'CHECK (x)',
            CONSTRAINT two CHECK (code <> 'a,b' AND (id > 0)),
            CHECK (length(code) < 10),
            CONSTRAINT uq_pair UNIQUE (code, parent),
            CONSTRAINT fk_other FOREIGN KEY (parent, code) REFERENCES other (a, b)
        ) STRICT"#;
        let p = parse_create_table(sql);
        assert_eq!(
            p.columns
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            ["id", "Price", "code", "parent", "total", "half", "note"]
        );
        assert!(p.column("id").unwrap().autoincrement);
        assert!(!p.column("code").unwrap().autoincrement);
        assert_eq!(
            p.column("code").unwrap().collation.as_deref(),
            Some("nocase")
        );
        assert_eq!(
            p.column("total").unwrap().generated.as_deref(),
            Some("price * 2")
        );
        assert_eq!(
            p.column("half").unwrap().generated.as_deref(),
            Some("price / 2")
        );
        assert_eq!(p.pk_name.as_deref(), Some("pk_t"));
        let checks: Vec<(Option<&str>, &str)> = p
            .checks
            .iter()
            .map(|c| (c.name.as_deref(), c.expression.as_str()))
            .collect();
        assert_eq!(
            checks,
            [
                (Some("price_pos"), "price > 0"),
                (Some("two"), "code <> 'a,b' AND (id > 0)"),
                (None, "length(code) < 10"),
            ]
        );
        assert_eq!(p.unique_name(&["CODE".into()]).as_deref(), Some("uq_code"));
        assert_eq!(
            p.unique_name(&["code".into(), "parent".into()]).as_deref(),
            Some("uq_pair")
        );
        assert_eq!(
            p.fk_name(&["parent".into()], "T X").as_deref(),
            Some("fk_parent")
        );
        assert_eq!(
            p.fk_name(&["parent".into(), "code".into()], "other")
                .as_deref(),
            Some("fk_other")
        );
    }

    #[test]
    fn parses_index_parts_and_predicate() {
        let p = parse_create_index(
            "CREATE UNIQUE INDEX ix ON t (lower(email) COLLATE nocase DESC, \"a b\", (x + 1)) WHERE deleted_at IS NULL\n  AND x > 0",
        );
        let parts: Vec<(&str, bool)> = p.parts.iter().map(|(t, c)| (t.as_str(), *c)).collect();
        assert_eq!(
            parts,
            [
                ("lower(email) COLLATE nocase", true),
                ("\"a b\"", false),
                ("(x + 1)", false)
            ]
        );
        assert_eq!(p.predicate.as_deref(), Some("deleted_at IS NULL AND x > 0"));
        assert_eq!(parse_create_index("CREATE INDEX i ON t(a)").predicate, None);
    }

    #[test]
    fn view_definition_is_after_as() {
        assert_eq!(
            view_definition("CREATE VIEW v (a, b) AS SELECT 1 AS a, 2 AS b"),
            "SELECT 1 AS a, 2 AS b"
        );
        assert_eq!(
            view_definition("CREATE VIEW \"as\" AS\n  SELECT x FROM t"),
            "SELECT x FROM t"
        );
    }

    #[test]
    fn virtual_tables_are_recognised() {
        assert!(is_virtual("CREATE VIRTUAL TABLE f USING fts5(body)"));
        assert!(!is_virtual("CREATE TABLE virtual (a)"));
    }
}
