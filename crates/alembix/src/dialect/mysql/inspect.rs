//! Introspection: the whole schema in a constant number of catalog queries (one per kind of object).
//!
//! MySQL and MariaDB differ in what `information_schema` reports; what both sides of a comparison see comes
//! from the same server, so the differences only matter for rendering SQL that the server accepts back:
//! - MariaDB reports `COLUMN_DEFAULT` as an expression (`'abc'`, `NULL`, `current_timestamp()`), MySQL as the
//!   bare value with `DEFAULT_GENERATED` in `EXTRA` for expressions; both become an expression here, and "no
//!   default" is `None`. `ON UPDATE …` (in `EXTRA`) is appended to the default, where the renderer writes it.
//! - MariaDB stores `JSON` as `longtext` with a column-level `CHECK (json_valid(col))`; such a column is
//!   reported as `json` and the check is left out.
//! - a unique index made of plain columns is a unique constraint (`Unique`), not also an `Index`;
//! - the index the server creates for a foreign key is listed like any other: it is named after the
//!   constraint, or after the column when the constraint has no name, so the diff matches it by its columns;
//!   hiding it made a model's `fk_x` and a database's `x` disagree, and hid the indexes a renderer had to
//!   reckon with when it replaced the index a foreign key uses.

//!
//! MySQL 8 where it differs from MariaDB (read from MySQL's reference manual; no MySQL 8 server runs in
//! these tests, so these paths are checked on paper):
//! - generated columns: `EXTRA` says `VIRTUAL GENERATED` / `STORED GENERATED` (MariaDB: `VIRTUAL GENERATED`
//!   / `STORED GENERATED`, older ones `PERSISTENT GENERATED`); `GENERATION_EXPRESSION` carries charset
//!   introducers (`_utf8mb4'x'`) on MySQL, which both sides print alike;
//! - CHECK: `CHECK_CONSTRAINTS` has no `TABLE_NAME` or `LEVEL` (the table comes from `TABLE_CONSTRAINTS`);
//!   names are unique per schema and a column-level check becomes a table-level one named `<table>_chk_<n>`,
//!   so `column_level` is always false there, which is what MySQL itself does;
//! - functional indexes (8.0.13+): `STATISTICS.EXPRESSION` holds the expression and the hidden column
//!   behind it is not listed in `COLUMNS`; MariaDB has no functional index parts (a test skips there);
//! - `JSON` is a type of its own with no collation (MariaDB: `longtext` + `json_valid` check, handled above);
//! - a foreign key's own index is named after the constraint, or after the first column without a name, as
//!   on MariaDB; the default collation is `utf8mb4_0900_ai_ci`, which the table options are relative to.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::render::ident;
use crate::dialect::{literal, Connection, DbError};
use crate::schema::{
    Check, Column, FkAction, ForeignKey, Generated, Identity, Index, IndexPart, PrimaryKey, Schema,
    Table, Trigger, Unique, View,
};
use crate::url::Dialect;

/// Read every table and view of the connection's current database, except the `exclude`d tables.
pub async fn inspect(conn: &mut Connection, exclude: &[String]) -> Result<Schema, DbError> {
    Ok(inspect_counted(conn, exclude).await?.0)
}

/// [`inspect`], also returning how many queries it sent to the server (it does not depend on the number of
/// tables: a test holds it to that).
pub async fn inspect_counted(
    conn: &mut Connection,
    exclude: &[String],
) -> Result<(Schema, usize), DbError> {
    let mut cat = Catalog { conn, queries: 0 };
    let caps = cat.rows(CAPABILITIES).await?;
    let caps = caps
        .first()
        .ok_or_else(|| DbError::new("no answer to the capabilities query"))?;
    let flag = |i: usize| cell(caps, i).is_some_and(|v| v != "0");
    let mariadb = cell(caps, 0).is_some_and(|v| v.to_ascii_lowercase().contains("mariadb"));
    let Some(db) = cell(caps, 1).map(str::to_string) else {
        return Err(DbError::new(
            "no database selected: the URL must name a database",
        ));
    };
    let has_expression = flag(2);
    let check_has_table = flag(3);
    let check_has_level = flag(4);
    let has_checks = flag(5);
    // Table options are listed where they differ from the database's defaults.
    let default_collation = cell(caps, 6).unwrap_or("").to_string();
    let default_charset = cell(caps, 7).unwrap_or("").to_string();
    let default_engine = cell(caps, 8).unwrap_or("").to_string();
    let defaults = vec![
        format!("COLLATE={default_collation}"),
        format!("DEFAULT CHARSET={default_charset}"),
        format!("ENGINE={default_engine}"),
    ];

    let excluded = |name: &str| {
        exclude
            .iter()
            .any(|e| e == name || e.rsplit_once('.').is_some_and(|(_, t)| t == name))
    };

    // Tables.
    let mut tables: Vec<Table> = Vec::new();
    let mut table_collations: Vec<Option<String>> = Vec::new();
    for row in cat.rows(TABLES).await? {
        let (Some(name), Some(kind)) = (cell(&row, 0), cell(&row, 1)) else {
            continue;
        };
        if excluded(name) || !matches!(kind, "BASE TABLE" | "SYSTEM VERSIONED") {
            continue;
        }
        let mut options = Vec::new();
        if let Some(engine) = cell(&row, 3).filter(|e| !e.eq_ignore_ascii_case(&default_engine)) {
            options.push(format!("ENGINE={engine}"));
        }
        let collation = cell(&row, 4).map(str::to_string);
        if let (Some(coll), Some(cs)) = (&collation, cell(&row, 5)) {
            if *coll != default_collation {
                options.push(format!("COLLATE={coll}"));
                options.push(format!("DEFAULT CHARSET={cs}"));
            }
        }
        options.sort();
        table_collations.push(collation);
        tables.push(Table {
            options,
            name: name.to_string(),
            comment: cell(&row, 2).filter(|c| !c.is_empty()).map(str::to_string),
            ..Table::default()
        });
    }
    let pos: HashMap<String, usize> = tables
        .iter()
        .enumerate()
        .map(|(i, t)| (t.name.clone(), i))
        .collect();

    // Columns.
    for row in cat.rows(COLUMNS).await? {
        let (Some(table), Some(name), Some(ty)) = (cell(&row, 0), cell(&row, 1), cell(&row, 2))
        else {
            continue;
        };
        let Some(&ti) = pos.get(table) else { continue };
        let extra = cell(&row, 5).unwrap_or("").to_string();
        let extra_lower = extra.to_ascii_lowercase();
        let generated = if extra_lower.contains("virtual generated") {
            Some(false)
        } else if extra_lower.contains("stored generated")
            || extra_lower.contains("persistent generated")
        {
            Some(true)
        } else {
            None
        }
        .map(|stored| Generated {
            expression: cell(&row, 6).unwrap_or("").to_string(),
            stored,
        });
        let mut default = if generated.is_some() {
            None
        } else {
            normalise_default(cell(&row, 4), ty, &extra_lower, mariadb)
        };
        if let Some(at) = extra_lower.find("on update ") {
            let on_update = &extra[at + "on update ".len()..];
            let base = default.take().unwrap_or_else(|| "NULL".to_string());
            default = Some(format!("{base} ON UPDATE {on_update}"));
        }
        let collation = cell(&row, 8)
            .filter(|c| table_collations[ti].as_deref() != Some(*c))
            .map(str::to_string);
        tables[ti].columns.push(Column {
            identity_options: Vec::new(),
            collation,
            name: name.to_string(),
            data_type: ty.to_string(),
            nullable: cell(&row, 3) == Some("YES"),
            default,
            identity: extra_lower
                .contains("auto_increment")
                .then_some(Identity::AutoIncrement),
            generated,
            comment: cell(&row, 7).filter(|c| !c.is_empty()).map(str::to_string),
        });
    }

    // Indexes (primary key and unique constraints included; sorted out below).
    let statistics = if has_expression {
        STATISTICS.replace("{expression}", "EXPRESSION")
    } else {
        STATISTICS.replace("{expression}", "NULL")
    };
    let mut indexes: BTreeMap<(usize, String), Index> = BTreeMap::new();
    for row in cat.rows(&statistics).await? {
        let (Some(table), Some(name)) = (cell(&row, 0), cell(&row, 1)) else {
            continue;
        };
        let Some(&ti) = pos.get(table) else { continue };
        let part = match (cell(&row, 3), cell(&row, 7)) {
            (Some(col), _) => IndexPart {
                opclass: None,
                expression: match cell(&row, 4) {
                    Some(len) => format!("{col}({len})"),
                    None => col.to_string(),
                },
                is_column: true,
                descending: cell(&row, 5) == Some("D"),
            },
            (None, Some(expr)) => IndexPart {
                opclass: None,
                expression: expr.to_string(),
                is_column: false,
                descending: cell(&row, 5) == Some("D"),
            },
            (None, None) => continue,
        };
        let index = indexes
            .entry((ti, name.to_string()))
            .or_insert_with(|| Index {
                include: Vec::new(),
                name: name.to_string(),
                parts: Vec::new(),
                unique: cell(&row, 2) == Some("0"),
                predicate: None,
                method: cell(&row, 6)
                    .filter(|m| !m.eq_ignore_ascii_case("BTREE"))
                    .map(str::to_string),
            });
        index.parts.push(part);
    }

    // Primary keys and foreign-key columns.
    let mut fks: BTreeMap<(usize, String), ForeignKey> = BTreeMap::new();
    for row in cat.rows(KEY_COLUMNS).await? {
        let (Some(table), Some(name), Some(col)) = (cell(&row, 0), cell(&row, 1), cell(&row, 2))
        else {
            continue;
        };
        let Some(&ti) = pos.get(table) else { continue };
        match (cell(&row, 3), cell(&row, 4)) {
            (Some(ref_table), Some(ref_col)) => {
                let fk = fks
                    .entry((ti, name.to_string()))
                    .or_insert_with(|| ForeignKey {
                        deferrable: None,
                        name: Some(name.to_string()),
                        columns: Vec::new(),
                        ref_table: ref_table.to_string(),
                        ref_columns: Vec::new(),
                        on_delete: FkAction::NoAction,
                        on_update: FkAction::NoAction,
                    });
                fk.columns.push(col.to_string());
                fk.ref_columns.push(ref_col.to_string());
            }
            _ if name == "PRIMARY" => tables[ti]
                .primary_key
                .get_or_insert_with(|| PrimaryKey {
                    name: None,
                    columns: Vec::new(),
                })
                .columns
                .push(col.to_string()),
            _ => {}
        }
    }
    for row in cat.rows(REFERENTIAL).await? {
        let (Some(table), Some(name)) = (cell(&row, 0), cell(&row, 1)) else {
            continue;
        };
        let Some(&ti) = pos.get(table) else { continue };
        if let Some(fk) = fks.get_mut(&(ti, name.to_string())) {
            fk.on_update = FkAction::parse(cell(&row, 2).unwrap_or(""));
            fk.on_delete = FkAction::parse(cell(&row, 3).unwrap_or(""));
        }
    }
    for ((ti, _), fk) in fks {
        tables[ti].foreign_keys.push(fk);
    }

    for ((ti, name), index) in indexes {
        let t = &mut tables[ti];
        if name == "PRIMARY" {
            continue;
        }
        let plain = index.parts.iter().all(|p| {
            p.is_column && !p.descending && super::render::split_prefix(&p.expression).1.is_none()
        });
        let columns: Vec<String> = index.parts.iter().map(|p| p.expression.clone()).collect();
        if index.unique && plain && index.method.is_none() {
            t.uniques.push(Unique {
                deferrable: None,
                name: Some(name),
                columns,
            });
            continue;
        }
        t.indexes.push(index);
    }

    // Checks.
    if has_checks {
        let sql = match (check_has_table, check_has_level) {
            (true, true) => CHECKS_MARIADB.replace("{level}", "LEVEL"),
            (true, false) => CHECKS_MARIADB.replace("{level}", "'Table'"),
            _ => CHECKS_MYSQL.to_string(),
        };
        let mut json_columns: HashSet<(usize, String)> = HashSet::new();
        for row in cat.rows(&sql).await? {
            let (Some(table), Some(name), Some(clause)) =
                (cell(&row, 0), cell(&row, 1), cell(&row, 3))
            else {
                continue;
            };
            let Some(&ti) = pos.get(table) else { continue };
            let column_level = cell(&row, 2) == Some("Column");
            if column_level {
                // MariaDB's own check for a JSON column.
                if let Some(c) = tables[ti]
                    .columns
                    .iter()
                    .find(|c| clause == format!("json_valid({})", backticked(&c.name)))
                {
                    json_columns.insert((ti, c.name.clone()));
                    continue;
                }
            }
            tables[ti].checks.push(Check {
                name: Some(name.to_string()),
                expression: clause.to_string(),
                column_level,
            });
        }
        for (ti, col) in json_columns {
            if let Some(c) = tables[ti].columns.iter_mut().find(|c| c.name == col) {
                if c.data_type.eq_ignore_ascii_case("longtext") {
                    c.data_type = "json".to_string();
                    // JSON is utf8mb4_bin by definition.
                    c.collation = None;
                }
            }
        }
    }

    // Views, without the database name the server puts before every table and column.
    let qualifier = format!("{}.", backticked(&db));
    let mut views = Vec::new();
    for row in cat.rows(VIEWS).await? {
        let (Some(name), Some(definition)) = (cell(&row, 0), cell(&row, 1)) else {
            continue;
        };
        if excluded(name) {
            continue;
        }
        views.push(View {
            indexes: Vec::new(),
            materialized: false,
            name: name.to_string(),
            definition: definition.replace(&qualifier, ""),
            sql: None,
        });
    }

    // Triggers, as the statement that creates them.
    for row in cat.rows(TRIGGERS).await? {
        let (Some(name), Some(table), Some(timing), Some(event), Some(body)) = (
            cell(&row, 0),
            cell(&row, 1),
            cell(&row, 2),
            cell(&row, 3),
            cell(&row, 4),
        ) else {
            continue;
        };
        let Some(&ti) = pos.get(table) else { continue };
        tables[ti].triggers.push(Trigger {
            name: name.to_string(),
            sql: format!(
                "CREATE TRIGGER {} {timing} {event} ON {} FOR EACH ROW {body}",
                ident(name),
                ident(table)
            ),
        });
    }

    let queries = cat.queries;
    let mut schema = Schema {
        schemas: Vec::new(),
        functions: Vec::new(),
        sequences: Vec::new(),
        defaults,
        tables,
        views,
        enums: Vec::new(),
    };
    schema.normalise();
    Ok((schema, queries))
}

/// The connection, counting the queries sent.
struct Catalog<'a> {
    conn: &'a mut Connection,
    queries: usize,
}

impl Catalog<'_> {
    async fn rows(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>, DbError> {
        self.queries += 1;
        self.conn.query_text(sql).await
    }
}

fn cell(row: &[Option<String>], i: usize) -> Option<&str> {
    row.get(i).and_then(|c| c.as_deref())
}

fn backticked(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// `COLUMN_DEFAULT` as an expression the renderer can put after `DEFAULT`; `None` for no default.
fn normalise_default(
    raw: Option<&str>,
    data_type: &str,
    extra_lower: &str,
    mariadb: bool,
) -> Option<String> {
    let raw = raw?;
    if mariadb {
        // Already an expression; a NULL default is the text `NULL` (a string 'NULL' is quoted).
        return (raw != "NULL").then(|| raw.to_string());
    }
    if extra_lower.contains("default_generated") {
        return Some(raw.to_string());
    }
    let ty = data_type.to_ascii_lowercase();
    let numeric = [
        "int", "decimal", "numeric", "float", "double", "real", "year",
    ]
    .iter()
    .any(|n| {
        ty.starts_with(n) || ty.starts_with(&format!("tiny{n}")) || ty.contains(&format!("{n}("))
    }) || ty.starts_with("bigint")
        || ty.starts_with("smallint")
        || ty.starts_with("mediumint");
    if (numeric && raw.parse::<f64>().is_ok()) || ty.starts_with("bit") {
        Some(raw.to_string())
    } else {
        Some(literal(raw, Dialect::Mysql))
    }
}

/// Server flavour and which optional catalog columns exist; one row.
const CAPABILITIES: &str = "SELECT VERSION(), DATABASE(), \
    CAST((SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'information_schema' \
          AND TABLE_NAME = 'STATISTICS' AND COLUMN_NAME = 'EXPRESSION') AS CHAR), \
    CAST((SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'information_schema' \
          AND TABLE_NAME = 'CHECK_CONSTRAINTS' AND COLUMN_NAME = 'TABLE_NAME') AS CHAR), \
    CAST((SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = 'information_schema' \
          AND TABLE_NAME = 'CHECK_CONSTRAINTS' AND COLUMN_NAME = 'LEVEL') AS CHAR), \
    CAST((SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'information_schema' \
          AND TABLE_NAME = 'CHECK_CONSTRAINTS') AS CHAR), \
    (SELECT DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()), \
    (SELECT DEFAULT_CHARACTER_SET_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()), \
    @@default_storage_engine";

const TABLES: &str =
    "SELECT t.TABLE_NAME, t.TABLE_TYPE, t.TABLE_COMMENT, t.ENGINE, t.TABLE_COLLATION, \
    (SELECT co.CHARACTER_SET_NAME FROM information_schema.COLLATIONS co \
      WHERE co.COLLATION_NAME = t.TABLE_COLLATION) \
    FROM information_schema.TABLES t WHERE t.TABLE_SCHEMA = DATABASE() ORDER BY t.TABLE_NAME";

const COLUMNS: &str =
    "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, \
    GENERATION_EXPRESSION, COLUMN_COMMENT, COLLATION_NAME FROM information_schema.COLUMNS \
    WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION";

const STATISTICS: &str = "SELECT TABLE_NAME, INDEX_NAME, CAST(NON_UNIQUE AS CHAR), COLUMN_NAME, \
    CAST(SUB_PART AS CHAR), COLLATION, INDEX_TYPE, {expression} FROM information_schema.STATISTICS \
    WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX";

const KEY_COLUMNS: &str = "SELECT TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, \
    REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
    WHERE TABLE_SCHEMA = DATABASE() AND (CONSTRAINT_NAME = 'PRIMARY' OR REFERENCED_TABLE_NAME IS NOT NULL) \
    ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION";

const REFERENTIAL: &str = "SELECT TABLE_NAME, CONSTRAINT_NAME, UPDATE_RULE, DELETE_RULE \
    FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()";

/// MariaDB: checks carry their table (names are per table) and whether they were declared on a column.
const CHECKS_MARIADB: &str = "SELECT TABLE_NAME, CONSTRAINT_NAME, {level}, CHECK_CLAUSE \
    FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE()";

/// MySQL 8: check names are unique in the schema; the table comes from TABLE_CONSTRAINTS.
const CHECKS_MYSQL: &str = "SELECT tc.TABLE_NAME, cc.CONSTRAINT_NAME, 'Table', cc.CHECK_CLAUSE \
    FROM information_schema.CHECK_CONSTRAINTS cc JOIN information_schema.TABLE_CONSTRAINTS tc \
    ON tc.CONSTRAINT_SCHEMA = cc.CONSTRAINT_SCHEMA AND tc.CONSTRAINT_NAME = cc.CONSTRAINT_NAME \
    AND tc.CONSTRAINT_TYPE = 'CHECK' WHERE cc.CONSTRAINT_SCHEMA = DATABASE() AND tc.TABLE_SCHEMA = DATABASE()";

const VIEWS: &str = "SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS \
    WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME";

const TRIGGERS: &str =
    "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, \
    ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() \
    ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_normalise() {
        assert_eq!(normalise_default(None, "int(11)", "", true), None);
        assert_eq!(normalise_default(Some("NULL"), "int(11)", "", true), None);
        assert_eq!(
            normalise_default(Some("'NULL'"), "varchar(5)", "", true).as_deref(),
            Some("'NULL'")
        );
        assert_eq!(
            normalise_default(Some("current_timestamp()"), "datetime", "", true).as_deref(),
            Some("current_timestamp()")
        );
        // MySQL 8 reports bare values.
        assert_eq!(
            normalise_default(Some("abc"), "varchar(5)", "", false).as_deref(),
            Some("'abc'")
        );
        assert_eq!(
            normalise_default(Some("5"), "int", "", false).as_deref(),
            Some("5")
        );
        assert_eq!(
            normalise_default(
                Some("CURRENT_TIMESTAMP"),
                "timestamp",
                "default_generated",
                false
            )
            .as_deref(),
            Some("CURRENT_TIMESTAMP")
        );
    }

    #[test]
    fn queries_do_not_name_tables() {
        // Every catalog query reads the whole database: none is built per table.
        for q in [
            TABLES,
            COLUMNS,
            STATISTICS,
            KEY_COLUMNS,
            REFERENTIAL,
            CHECKS_MARIADB,
            CHECKS_MYSQL,
            VIEWS,
            TRIGGERS,
        ] {
            assert!(q.contains("DATABASE()"), "{q}");
        }
    }
}
