//! Introspection: the whole schema in a constant number of catalog queries (one per kind of object).
//!
//! Every query reads the current schema (`current_schema()`) as a whole and returns text only; the rows are
//! grouped by table in Rust. The queries are the fixed list [`QUERIES`], each run exactly once, whatever the
//! number of tables.

use std::collections::{BTreeMap, HashSet};

use crate::dialect::{literal, Connection, DbError, ProbeScope};
use crate::schema::{
    Check, Column, EnumType, Exclusion, FkAction, ForeignKey, Function, Generated, Identity, Index,
    IndexPart, PrimaryKey, Schema, Sequence, Table, Trigger, Unique, View,
};
use crate::url::Dialect;

/// The namespace being read.
const NS: &str = "(SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = current_schema())";

/// Separator of the elements of a list in one text cell (column names never contain it in practice).
const SEP: char = '\u{1f}';

/// Plain and partitioned tables, not partitions.
const TABLE_KINDS: &str = "c.relkind IN ('r', 'p') AND NOT c.relispartition";

/// Tables, their comments and partition keys.
const TABLES_SQL: &str = "SELECT c.relname::text, d.description, \
       CASE WHEN c.relkind = 'p' THEN pg_catalog.pg_get_partkeydef(c.oid) END \
     FROM pg_catalog.pg_class c \
     LEFT JOIN pg_catalog.pg_description d \
       ON d.objoid = c.oid AND d.classoid = 'pg_catalog.pg_class'::regclass AND d.objsubid = 0 \
     WHERE c.relnamespace = {NS} AND {TABLE_KINDS} \
     ORDER BY c.relname";

/// Columns: type, nullability, default or generation expression, identity, comment.
const COLUMNS_SQL: &str = "SELECT c.relname::text, a.attname::text, pg_catalog.format_type(a.atttypid, a.atttypmod), \
       a.attnotnull::text, pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), a.attidentity::text, \
       a.attgenerated::text, d.description, \
       (SELECT pg_catalog.quote_ident(co.collname) FROM pg_catalog.pg_collation co \
         WHERE co.oid = a.attcollation AND a.attcollation <> ty.typcollation), \
       (SELECT concat_ws(',', q.seqstart, q.seqincrement, q.seqmin, q.seqmax, q.seqcache, q.seqcycle) \
          FROM pg_catalog.pg_depend dep JOIN pg_catalog.pg_sequence q ON q.seqrelid = dep.objid \
         WHERE dep.classid = 'pg_catalog.pg_class'::regclass AND dep.refclassid = 'pg_catalog.pg_class'::regclass \
           AND dep.refobjid = c.oid AND dep.refobjsubid = a.attnum AND dep.deptype = 'i') \
     FROM pg_catalog.pg_attribute a \
     JOIN pg_catalog.pg_class c ON c.oid = a.attrelid \
     JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid \
     LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
     LEFT JOIN pg_catalog.pg_description d \
       ON d.objoid = c.oid AND d.classoid = 'pg_catalog.pg_class'::regclass AND d.objsubid = a.attnum \
     WHERE c.relnamespace = {NS} AND {TABLE_KINDS} AND a.attnum > 0 AND NOT a.attisdropped \
     ORDER BY c.relname, a.attnum";

/// Primary-key, unique, check and foreign-key constraints.
const CONSTRAINTS_SQL: &str = "SELECT c.relname::text, con.conname::text, con.contype::text, \
       (SELECT string_agg(a.attname::text, chr(31) ORDER BY k.i) \
          FROM unnest(con.conkey) WITH ORDINALITY AS k(n, i) \
          JOIN pg_catalog.pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n), \
       CASE WHEN fc.oid IS NULL THEN NULL \
            WHEN fc.relnamespace = c.relnamespace THEN fc.relname::text \
            ELSE fn.nspname::text || '.' || fc.relname::text END, \
       (SELECT string_agg(a.attname::text, chr(31) ORDER BY k.i) \
          FROM unnest(con.confkey) WITH ORDINALITY AS k(n, i) \
          JOIN pg_catalog.pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n), \
       con.confupdtype::text, con.confdeltype::text, pg_catalog.pg_get_constraintdef(con.oid), \
       con.condeferrable::text, con.condeferred::text \
     FROM pg_catalog.pg_constraint con \
     JOIN pg_catalog.pg_class c ON c.oid = con.conrelid \
     LEFT JOIN pg_catalog.pg_class fc ON fc.oid = con.confrelid \
     LEFT JOIN pg_catalog.pg_namespace fn ON fn.oid = fc.relnamespace \
     WHERE c.relnamespace = {NS} AND {TABLE_KINDS} AND con.contype IN ('p', 'u', 'c', 'f', 'x') \
     ORDER BY c.relname, con.conname";

/// Indexes not backing a constraint, one row per key part.
const INDEXES_SQL: &str = "SELECT c.relname::text, ic.relname::text, ix.indisunique::text, am.amname::text, \
       pg_catalog.pg_get_expr(ix.indpred, ix.indrelid), (ix.indkey[k - 1] <> 0)::text, a.attname::text, \
       pg_catalog.pg_get_indexdef(ix.indexrelid, k, true), ((ix.indoption[k - 1]::int & 1) = 1)::text, \
       (SELECT string_agg(ia.attname::text, chr(31) ORDER BY n) \
          FROM generate_series(ix.indnkeyatts::int + 1, ix.indnatts::int) AS n \
          JOIN pg_catalog.pg_attribute ia ON ia.attrelid = ix.indrelid AND ia.attnum = ix.indkey[n - 1]), \
       (SELECT oc.opcname::text FROM pg_catalog.pg_opclass oc \
         WHERE oc.oid = ix.indclass[k - 1] AND NOT oc.opcdefault) \
     FROM pg_catalog.pg_index ix \
     JOIN pg_catalog.pg_class ic ON ic.oid = ix.indexrelid \
     JOIN pg_catalog.pg_class c ON c.oid = ix.indrelid \
     JOIN pg_catalog.pg_am am ON am.oid = ic.relam \
     CROSS JOIN LATERAL generate_series(1, ix.indnkeyatts::int) AS k \
     LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = ix.indkey[k - 1] \
     WHERE c.relnamespace = {NS} AND ({TABLE_KINDS} OR c.relkind = 'm') AND NOT ix.indisprimary \
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint con \
                       WHERE con.conindid = ix.indexrelid AND con.conrelid = ix.indrelid \
                         AND con.contype IN ('p', 'u', 'x')) \
     ORDER BY c.relname, ic.relname, k";

/// Views (and materialized views) and their queries.
const VIEWS_SQL: &str =
    "SELECT c.relname::text, pg_catalog.pg_get_viewdef(c.oid), (c.relkind = 'm')::text \
     FROM pg_catalog.pg_class c \
     WHERE c.relnamespace = {NS} AND c.relkind IN ('v', 'm') \
     ORDER BY c.relname";

/// Enum types and their values in order.
const ENUMS_SQL: &str = "SELECT t.typname::text, e.enumlabel::text \
     FROM pg_catalog.pg_type t \
     LEFT JOIN pg_catalog.pg_enum e ON e.enumtypid = t.oid \
     WHERE t.typnamespace = {NS} AND t.typtype = 'e' \
     ORDER BY t.typname, e.enumsortorder";

/// Triggers written by users (not the internal ones behind foreign keys).
const TRIGGERS_SQL: &str =
    "SELECT c.relname::text, tg.tgname::text, pg_catalog.pg_get_triggerdef(tg.oid) \
     FROM pg_catalog.pg_trigger tg \
     JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid \
     WHERE c.relnamespace = {NS} AND {TABLE_KINDS} AND NOT tg.tgisinternal \
     ORDER BY c.relname, tg.tgname";

/// Sequences no column owns (`serial` and identity sequences belong to their column).
const SEQUENCES_SQL: &str = "SELECT s.relname::text, pg_catalog.format_type(q.seqtypid, NULL), \
       q.seqstart::text, q.seqincrement::text, q.seqmin::text, q.seqmax::text, q.seqcache::text, \
       q.seqcycle::text \
     FROM pg_catalog.pg_sequence q \
     JOIN pg_catalog.pg_class s ON s.oid = q.seqrelid \
     WHERE s.relnamespace = {NS} \
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d \
                       WHERE d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = s.oid \
                         AND d.refclassid = 'pg_catalog.pg_class'::regclass AND d.deptype IN ('a', 'i')) \
     ORDER BY s.relname";

/// Functions and procedures of the schema that no extension brought.
const FUNCTIONS_SQL: &str =
    "SELECT p.oid::regprocedure::text, pg_catalog.pg_get_functiondef(p.oid) \
     FROM pg_catalog.pg_proc p \
     WHERE p.pronamespace = {NS} AND p.prokind IN ('f', 'p') \
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d \
                       WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid \
                         AND d.deptype = 'e') \
     ORDER BY 1";

/// Every catalog query introspection runs, each once: the count does not depend on the schema.
pub const QUERIES: [&str; 9] = [
    TABLES_SQL,
    COLUMNS_SQL,
    CONSTRAINTS_SQL,
    INDEXES_SQL,
    VIEWS_SQL,
    ENUMS_SQL,
    TRIGGERS_SQL,
    SEQUENCES_SQL,
    FUNCTIONS_SQL,
];

/// How many queries [`inspect`] runs, whatever the size of the schema.
pub const fn inspect_query_count() -> usize {
    QUERIES.len()
}

type Rows = Vec<Vec<Option<String>>>;

/// Read every table, view (and enum) of the connection's current schema, except the `exclude`d tables.
pub async fn inspect(conn: &mut Connection, exclude: &[String]) -> Result<Schema, DbError> {
    inspect_namespace(conn, exclude, NS).await
}

/// [`inspect`], and the objects of `schemas` (other schemas, `schemas` in the config) that exist, named
/// `schema.name`; the queries run once more for each of them.
pub async fn inspect_in(
    conn: &mut Connection,
    exclude: &[String],
    schemas: &[String],
) -> Result<Schema, DbError> {
    let mut schema = inspect(conn, exclude).await?;
    if schemas.is_empty() {
        return Ok(schema);
    }
    let current = conn
        .query_text("SELECT current_schema()::text")
        .await?
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .unwrap_or_default();
    let list = schemas
        .iter()
        .map(|s| literal(s, Dialect::Postgres))
        .collect::<Vec<_>>()
        .join(", ");
    let existing: Vec<String> = conn
        .query_text(&format!(
            "SELECT nspname::text FROM pg_catalog.pg_namespace WHERE nspname IN ({list}) ORDER BY 1"
        ))
        .await?
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .filter(|s| *s != current)
        .collect();
    for ns_name in existing {
        let ns = format!(
            "(SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = {})",
            literal(&ns_name, Dialect::Postgres)
        );
        let part = inspect_namespace(conn, exclude, &ns).await?;
        let q = |name: &str| format!("{ns_name}.{name}");
        for mut t in part.tables {
            t.name = q(&t.name);
            for fk in &mut t.foreign_keys {
                fk.ref_table = match fk.ref_table.split_once('.') {
                    None => q(&fk.ref_table),
                    Some((s, rest)) if s == current => rest.to_string(),
                    Some(_) => fk.ref_table.clone(),
                };
            }
            schema.tables.push(t);
        }
        schema.views.extend(part.views.into_iter().map(|mut v| {
            v.name = q(&v.name);
            v
        }));
        schema.enums.extend(part.enums.into_iter().map(|mut e| {
            e.name = q(&e.name);
            e
        }));
        schema
            .sequences
            .extend(part.sequences.into_iter().map(|mut s| {
                s.name = q(&s.name);
                s
            }));
        schema.functions.extend(part.functions);
        schema.schemas.push(ns_name);
    }
    Ok(schema)
}

/// The catalog queries prepared in one session, for a caller that reads the same connection's schema many
/// times (`verify` reads it three times per revision). Planning the nine catalog joins is about 40% of a
/// read (5 of 12 ms on a 25-table schema here); a prepared statement is planned once.
///
/// Nothing depends on the prepared statements being there: behind a transaction-mode pooler the next read
/// may reach a server session that lacks them, and then (or when preparing fails) this falls back to the
/// plain queries for the rest of its life. The names carry a hash of the query text, so a server session
/// that a pooler shares between clients never holds two texts under one name.
#[derive(Debug, Default)]
pub struct Prepared {
    state: PreparedState,
}

#[derive(Debug, Default)]
enum PreparedState {
    #[default]
    NotYet,
    /// The `EXECUTE` batch of one read, as prepared.
    Ready(Vec<String>),
    Off,
}

/// The name of the prepared statement for `query` in the current schema.
fn prepared_name(i: usize, query: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(query.as_bytes());
    let hash: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("alembix_inspect_{hash}_{i}")
}

/// [`inspect`] with the catalog queries prepared in the session (see [`Prepared`]).
pub async fn inspect_prepared(
    conn: &mut Connection,
    exclude: &[String],
    prepared: &mut Prepared,
) -> Result<Schema, DbError> {
    if let PreparedState::NotYet = prepared.state {
        let mut prepare = Vec::with_capacity(QUERIES.len());
        let mut execute = vec!["SET LOCAL jit = off".to_string()];
        for (i, q) in QUERIES.iter().enumerate() {
            let q = q.replace("{NS}", NS).replace("{TABLE_KINDS}", TABLE_KINDS);
            let name = prepared_name(i, &q);
            prepare.push(format!("PREPARE {name} AS {q}"));
            execute.push(format!("EXECUTE {name}"));
        }
        prepared.state = match conn.execute(&prepare.join(";\n")).await {
            Ok(()) => PreparedState::Ready(execute),
            Err(_) => PreparedState::Off,
        };
    }
    if let PreparedState::Ready(execute) = &prepared.state {
        match conn.query_text_sets(execute).await {
            Ok(results) => return assemble_sets(exclude, results, execute.len()),
            // A server session without them (a pooler), or anything else: the plain queries say which.
            Err(_) => prepared.state = PreparedState::Off,
        }
    }
    inspect(conn, exclude).await
}

async fn inspect_namespace(
    conn: &mut Connection,
    exclude: &[String],
    ns: &str,
) -> Result<Schema, DbError> {
    // All the catalog queries in one round trip, with the JIT off for them: the planner's estimates for
    // catalog joins are high enough to compile them (~70 ms here) and they never run long enough to gain.
    // `SET LOCAL` ends with the implicit transaction of the batch, so a pooled session keeps its setting.
    let mut batch = vec!["SET LOCAL jit = off".to_string()];
    batch.extend(
        QUERIES
            .iter()
            .map(|q| q.replace("{NS}", ns).replace("{TABLE_KINDS}", TABLE_KINDS)),
    );
    let results = conn.query_text_sets(&batch).await?;
    assemble_sets(exclude, results, batch.len())
}

/// The result sets of a batch of `expected` statements (`SET LOCAL jit`, then [`QUERIES`] in order) as a
/// schema.
fn assemble_sets(
    exclude: &[String],
    mut results: Vec<Rows>,
    expected: usize,
) -> Result<Schema, DbError> {
    if results.len() != expected {
        return Err(DbError::new(format!(
            "the catalog queries returned {} result sets, expected {expected}",
            results.len(),
        )));
    }
    results.remove(0);
    let mut it = results.into_iter();
    let mut next = || it.next().unwrap_or_default();
    let (tables, columns, constraints, indexes, views, enums, triggers) =
        (next(), next(), next(), next(), next(), next(), next());
    let sequences = next();
    let functions = next();
    Ok(assemble(
        exclude,
        tables,
        columns,
        constraints,
        indexes,
        views,
        enums,
        triggers,
        sequences,
        functions,
    ))
}

fn cell(row: &[Option<String>], i: usize) -> Option<String> {
    row.get(i).cloned().flatten()
}

fn text(row: &[Option<String>], i: usize) -> String {
    cell(row, i).unwrap_or_default()
}

fn flag(row: &[Option<String>], i: usize) -> bool {
    cell(row, i).as_deref() == Some("true")
}

fn list(row: &[Option<String>], i: usize) -> Vec<String> {
    cell(row, i)
        .map(|s| s.split(SEP).map(str::to_string).collect())
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    exclude: &[String],
    tables: Rows,
    columns: Rows,
    constraints: Rows,
    indexes: Rows,
    views: Rows,
    enums: Rows,
    triggers: Rows,
    sequences: Rows,
    functions: Rows,
) -> Schema {
    let excluded: HashSet<&str> = exclude
        .iter()
        .map(|t| t.rsplit('.').next().unwrap_or(t))
        .collect();
    let mut by_name: BTreeMap<String, Table> = BTreeMap::new();
    for row in &tables {
        let name = text(row, 0);
        if excluded.contains(name.as_str()) {
            continue;
        }
        by_name.insert(
            name.clone(),
            Table {
                name,
                comment: cell(row, 1),
                options: cell(row, 2)
                    .map(|k| vec![format!("PARTITION BY {k}")])
                    .unwrap_or_default(),
                ..Table::default()
            },
        );
    }

    for row in &columns {
        let Some(t) = by_name.get_mut(&text(row, 0)) else {
            continue;
        };
        let identity = match cell(row, 5).as_deref() {
            Some("a") => Some(Identity::Always),
            Some("d") => Some(Identity::ByDefault),
            _ => None,
        };
        let expr = cell(row, 4);
        let (default, generated) = match cell(row, 6).as_deref() {
            Some("s") => (
                None,
                Some(Generated {
                    expression: expr.unwrap_or_default(),
                    stored: true,
                }),
            ),
            _ => (if identity.is_some() { None } else { expr }, None),
        };
        let identity_options = cell(row, 9)
            .map(|s| identity_options(&text(row, 2), &s))
            .unwrap_or_default();
        t.columns.push(Column {
            identity_options,
            name: text(row, 1),
            data_type: text(row, 2),
            nullable: !flag(row, 3),
            default,
            identity,
            generated,
            comment: cell(row, 7),
            collation: cell(row, 8),
        });
    }

    for row in &constraints {
        let Some(t) = by_name.get_mut(&text(row, 0)) else {
            continue;
        };
        let name = Some(text(row, 1));
        let cols = list(row, 3);
        let deferrable = flag(row, 9).then(|| {
            if flag(row, 10) {
                "DEFERRABLE INITIALLY DEFERRED".to_string()
            } else {
                "DEFERRABLE".to_string()
            }
        });
        match text(row, 2).as_str() {
            "p" => {
                t.primary_key = Some(PrimaryKey {
                    name,
                    columns: cols,
                })
            }
            "u" => t.uniques.push(Unique {
                deferrable: deferrable.clone(),
                name,
                columns: cols,
            }),
            "c" => t.checks.push(Check {
                name,
                expression: check_expression(&text(row, 8)),
                column_level: false,
            }),
            "f" => t.foreign_keys.push(ForeignKey {
                deferrable,
                name,
                columns: cols,
                ref_table: text(row, 4),
                ref_columns: list(row, 5),
                on_update: FkAction::parse(&text(row, 6)),
                on_delete: FkAction::parse(&text(row, 7)),
            }),
            "x" => t.exclusions.push(Exclusion {
                name: text(row, 1),
                definition: text(row, 8),
            }),
            _ => {}
        }
    }

    // Indexes of tables, and of materialized views (kept with the view).
    let mut view_indexes: BTreeMap<String, Vec<Index>> = BTreeMap::new();
    for row in &indexes {
        let owner = text(row, 0);
        let list = match by_name.get_mut(&owner) {
            Some(t) => &mut t.indexes,
            None => view_indexes.entry(owner).or_default(),
        };
        let name = text(row, 1);
        let is_column = flag(row, 5);
        let part = IndexPart {
            opclass: cell(row, 10),
            expression: if is_column {
                text(row, 6)
            } else {
                text(row, 7)
            },
            is_column,
            descending: flag(row, 8),
        };
        match list.last_mut() {
            Some(last) if last.name == name => last.parts.push(part),
            _ => list.push(Index {
                name,
                parts: vec![part],
                unique: flag(row, 2),
                predicate: cell(row, 4),
                method: cell(row, 3).filter(|m| m != "btree"),
                include: cell(row, 9)
                    .map(|s| s.split(SEP).map(str::to_string).collect())
                    .unwrap_or_default(),
            }),
        }
    }

    for row in &triggers {
        let Some(t) = by_name.get_mut(&text(row, 0)) else {
            continue;
        };
        t.triggers.push(Trigger {
            name: text(row, 1),
            sql: text(row, 2),
        });
    }

    let views = views
        .iter()
        .map(|row| View {
            indexes: view_indexes.remove(&text(row, 0)).unwrap_or_default(),
            materialized: flag(row, 2),
            name: text(row, 0),
            definition: view_definition(&text(row, 1)),
            sql: None,
        })
        .collect();

    let mut enum_list: Vec<EnumType> = Vec::new();
    for row in &enums {
        let name = text(row, 0);
        if enum_list.last().is_none_or(|e| e.name != name) {
            enum_list.push(EnumType {
                name,
                values: Vec::new(),
            });
        }
        if let (Some(e), Some(v)) = (enum_list.last_mut(), cell(row, 1)) {
            e.values.push(v);
        }
    }

    let number = |row: &[Option<String>], i: usize| text(row, i).parse::<i64>().unwrap_or_default();
    let sequences = sequences
        .iter()
        .map(|row| Sequence {
            name: text(row, 0),
            data_type: text(row, 1),
            start: number(row, 2),
            increment: number(row, 3),
            min: number(row, 4),
            max: number(row, 5),
            cache: number(row, 6),
            cycle: flag(row, 7),
        })
        .collect();
    let functions = functions
        .iter()
        .map(|row| Function {
            signature: text(row, 0),
            definition: text(row, 1),
        })
        .collect();
    Schema {
        schemas: Vec::new(),
        functions,
        sequences,
        defaults: Vec::new(),
        tables: by_name.into_values().collect(),
        views,
        enums: enum_list,
    }
}

/// The options of an identity's sequence (`start,increment,min,max,cache,cycle`) that differ from what
/// `GENERATED ... AS IDENTITY` gives a column of `data_type` by default.
fn identity_options(data_type: &str, seq: &str) -> Vec<String> {
    let v: Vec<&str> = seq.split(',').collect();
    let n = |i: usize| {
        v.get(i)
            .and_then(|x| x.parse::<i128>().ok())
            .unwrap_or_default()
    };
    let (start, increment, min, max, cache) = (n(0), n(1), n(2), n(3), n(4));
    let cycle = v.get(5).is_some_and(|c| *c == "t" || *c == "true");
    let (type_min, type_max): (i128, i128) = match data_type {
        "smallint" => (i16::MIN.into(), i16::MAX.into()),
        "integer" => (i32::MIN.into(), i32::MAX.into()),
        _ => (i64::MIN.into(), i64::MAX.into()),
    };
    let (default_min, default_max) = if increment > 0 {
        (1, type_max)
    } else {
        (type_min, -1)
    };
    let default_start = if increment > 0 { min } else { max };
    let mut out = Vec::new();
    if increment != 1 {
        out.push(format!("INCREMENT BY {increment}"));
    }
    if min != default_min {
        out.push(format!("MINVALUE {min}"));
    }
    if max != default_max {
        out.push(format!("MAXVALUE {max}"));
    }
    if start != default_start {
        out.push(format!("START WITH {start}"));
    }
    if cache != 1 {
        out.push(format!("CACHE {cache}"));
    }
    if cycle {
        out.push("CYCLE".to_string());
    }
    out
}

/// The condition of `CHECK (cond) [NOT VALID | NO INHERIT]` as `pg_get_constraintdef` prints it.
pub(crate) fn check_expression(def: &str) -> String {
    let Some(rest) = def.trim().strip_prefix("CHECK ") else {
        return def.trim().to_string();
    };
    let rest = rest.trim_start();
    if !rest.starts_with('(') {
        return rest.to_string();
    }
    // Find the parenthesis closing the first one, skipping quoted text.
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (i, ch) in rest.char_indices() {
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => {}
            None => match ch {
                '\'' | '"' => quote = Some(ch),
                '(' => depth += 1,
                ')' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return rest[1..i].to_string();
                    }
                }
                _ => {}
            },
        }
    }
    rest.to_string()
}

/// The definition PostgreSQL prints for a view created from `definition`, repeated until it stops changing:
/// `pg_get_viewdef` output is not always a fixed point (an `IN (...)` list on a varchar column gains casts
/// when the printed text is read back), so both sides of a comparison are taken to the fixed point. Runs in
/// a transaction that is rolled back; `None` when the definition does not apply here.
pub async fn stable_view_definition(
    conn: &mut Connection,
    definition: &str,
    scope: ProbeScope,
) -> Option<String> {
    let mut current = definition.to_string();
    for _ in 0..4 {
        conn.execute(scope.begin()).await.ok()?;
        let created = conn
            .execute(&format!("CREATE VIEW alembix_view_probe AS {current}"))
            .await;
        let printed = match created {
            Ok(()) => conn
                .query_text("SELECT pg_catalog.pg_get_viewdef('alembix_view_probe'::regclass)")
                .await
                .ok(),
            Err(_) => None,
        };
        let _ = conn.execute(scope.end()).await;
        let next = view_definition(printed?.first()?.first()?.as_deref()?);
        if next == current {
            return Some(next);
        }
        current = next;
    }
    Some(current)
}

/// [`stable_view_definition`] for all views at once: each round creates every probe view in one round trip
/// and reads them back with one query, so the cost does not grow with the number of views. A round that
/// fails as a whole (a view that does not apply) falls back to one view at a time.
pub async fn stable_view_definitions(
    conn: &mut Connection,
    definitions: &[String],
    scope: ProbeScope,
) -> Vec<Option<String>> {
    let mut current: Vec<String> = definitions.to_vec();
    let mut stable = vec![false; current.len()];
    for _ in 0..4 {
        let pending: Vec<usize> = (0..current.len()).filter(|&i| !stable[i]).collect();
        if pending.is_empty() {
            break;
        }
        let mut script = format!("{};\n", scope.begin());
        for &i in &pending {
            script.push_str(&format!(
                "CREATE VIEW alembix_view_probe_{i} AS {}\n;\n",
                current[i]
            ));
        }
        let ids: Vec<String> = pending.iter().map(|i| i.to_string()).collect();
        let read = format!(
            "SELECT i::text, pg_catalog.pg_get_viewdef(('alembix_view_probe_' || i)::regclass) \
             FROM unnest(ARRAY[{}]::int[]) AS i",
            ids.join(", ")
        );
        let printed = match conn.execute(&script).await {
            Ok(()) => conn.query_text(&read).await.ok(),
            Err(_) => None,
        };
        let _ = conn.execute(scope.end()).await;
        let Some(rows) = printed else {
            let mut out = Vec::with_capacity(current.len());
            for (i, def) in current.iter().enumerate() {
                out.push(if stable[i] {
                    Some(def.clone())
                } else {
                    stable_view_definition(conn, def, scope).await
                });
            }
            return out;
        };
        for row in rows {
            if let [Some(i), Some(def)] = &row[..] {
                let Ok(i) = i.parse::<usize>() else { continue };
                let next = view_definition(def);
                if next == current[i] {
                    stable[i] = true;
                }
                current[i] = next;
            }
        }
    }
    current.into_iter().map(Some).collect()
}

/// Each `(table, condition)` brought to PostgreSQL's printed fixed point: the condition is added to a
/// temporary copy of the table (`LIKE`, so only the columns matter; nothing touches the table itself) in a
/// transaction that is rolled back, and read back, until it prints the same twice. A fixed number of round
/// trips per round, whatever the number of checks. `None` where the server rejects the probe.
pub async fn stable_check_expressions(
    conn: &mut Connection,
    checks: &[(String, String)],
    scope: ProbeScope,
) -> Vec<Option<String>> {
    // `schema.table` for the tables of another schema (see `inspect_in`).
    let quote = super::render::qualified;
    let mut current: Vec<String> = checks.iter().map(|(_, e)| e.clone()).collect();
    let mut stable = vec![false; current.len()];
    for _ in 0..4 {
        let pending: Vec<usize> = (0..current.len()).filter(|&i| !stable[i]).collect();
        if pending.is_empty() {
            break;
        }
        let mut script = format!("{};\n", scope.begin());
        for &i in &pending {
            script.push_str(&format!(
                "CREATE TEMP TABLE alembix_check_probe_{i} (LIKE {});\n\
                 ALTER TABLE alembix_check_probe_{i} ADD CONSTRAINT alembix_probe CHECK ({}) NOT VALID\n;\n",
                quote(&checks[i].0),
                current[i]
            ));
        }
        let read = "SELECT substr(c.relname::text, 21), pg_catalog.pg_get_constraintdef(con.oid) \
             FROM pg_catalog.pg_constraint con JOIN pg_catalog.pg_class c ON c.oid = con.conrelid \
             WHERE c.relname::text LIKE 'alembix\\_check\\_probe\\_%' AND con.conname = 'alembix_probe'";
        let printed = match conn.execute(&script).await {
            Ok(()) => conn.query_text(read).await.ok(),
            Err(_) => None,
        };
        let _ = conn.execute(scope.end()).await;
        let Some(rows) = printed else {
            // One probe the server rejects spoils the batch: keep what is stable, leave the rest as read.
            return current
                .into_iter()
                .zip(stable)
                .map(|(c, s)| s.then_some(c))
                .collect();
        };
        for row in rows {
            if let [Some(i), Some(def)] = &row[..] {
                let Ok(i) = i.parse::<usize>() else { continue };
                let Some(cur) = current.get_mut(i) else {
                    continue;
                };
                let next = check_expression(def);
                if next == *cur {
                    stable[i] = true;
                }
                *cur = next;
            }
        }
    }
    current.into_iter().map(Some).collect()
}

/// `pg_get_viewdef` output without surrounding blanks and the final `;`.
fn view_definition(def: &str) -> String {
    let d = def.trim();
    d.strip_suffix(';').unwrap_or(d).trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[Option<&str>]) -> Vec<Option<String>> {
        cells.iter().map(|c| c.map(str::to_string)).collect()
    }

    #[test]
    fn check_expressions() {
        assert_eq!(check_expression("CHECK ((price > 0))"), "(price > 0)");
        assert_eq!(
            check_expression("CHECK ((a = ')'::text)) NOT VALID"),
            "(a = ')'::text)"
        );
        assert_eq!(check_expression("CHECK (ok) NO INHERIT"), "ok");
    }

    #[test]
    fn view_definitions_lose_the_semicolon() {
        assert_eq!(
            view_definition(" SELECT t.id\n   FROM t;"),
            "SELECT t.id\n   FROM t"
        );
    }

    #[test]
    fn query_count_is_fixed() {
        assert_eq!(inspect_query_count(), 9);
        for q in QUERIES {
            assert!(
                !q.contains("ANY ($"),
                "queries take no per-table parameters"
            );
        }
    }

    #[test]
    fn assembles_rows_into_tables() {
        let s = "\u{1f}";
        let schema = assemble(
            &["public.alembix_version".to_string()],
            vec![
                row(&[Some("alembix_version"), None]),
                row(&[Some("items"), Some("things")]),
                row(&[Some("users"), None]),
            ],
            vec![
                row(&[
                    Some("alembix_version"),
                    Some("version_num"),
                    Some("text"),
                    Some("true"),
                    None,
                    Some(""),
                    Some(""),
                    None,
                ]),
                row(&[
                    Some("items"),
                    Some("id"),
                    Some("integer"),
                    Some("true"),
                    None,
                    Some("a"),
                    Some(""),
                    None,
                ]),
                row(&[
                    Some("items"),
                    Some("twice"),
                    Some("integer"),
                    Some("false"),
                    Some("(id * 2)"),
                    Some(""),
                    Some("s"),
                    None,
                ]),
                row(&[
                    Some("items"),
                    Some("owner"),
                    Some("integer"),
                    Some("false"),
                    None,
                    Some(""),
                    Some(""),
                    Some("who"),
                ]),
                row(&[
                    Some("users"),
                    Some("id"),
                    Some("integer"),
                    Some("true"),
                    Some("nextval('users_id_seq'::regclass)"),
                    Some(""),
                    Some(""),
                    None,
                ]),
            ],
            vec![
                row(&[
                    Some("items"),
                    Some("items_pkey"),
                    Some("p"),
                    Some("id"),
                    None,
                    None,
                    Some(" "),
                    Some(" "),
                    Some("PRIMARY KEY (id)"),
                ]),
                row(&[
                    Some("items"),
                    Some("items_owner_fkey"),
                    Some("f"),
                    Some("owner"),
                    Some("users"),
                    Some("id"),
                    Some("a"),
                    Some("c"),
                    Some("FOREIGN KEY (owner) REFERENCES users(id) ON DELETE CASCADE"),
                ]),
                row(&[
                    Some("items"),
                    Some("items_u"),
                    Some("u"),
                    Some(&format!("id{s}owner")),
                    None,
                    None,
                    Some(" "),
                    Some(" "),
                    Some("UNIQUE (id, owner)"),
                ]),
            ],
            vec![
                row(&[
                    Some("items"),
                    Some("ix"),
                    Some("false"),
                    Some("btree"),
                    Some("(owner > 0)"),
                    Some("true"),
                    Some("owner"),
                    Some("owner"),
                    Some("true"),
                ]),
                row(&[
                    Some("items"),
                    Some("ix"),
                    Some("false"),
                    Some("btree"),
                    Some("(owner > 0)"),
                    Some("false"),
                    None,
                    Some("(id + 1)"),
                    Some("false"),
                ]),
                row(&[
                    Some("items"),
                    Some("iy"),
                    Some("true"),
                    Some("gin"),
                    None,
                    Some("true"),
                    Some("id"),
                    Some("id"),
                    Some("false"),
                ]),
            ],
            vec![row(&[Some("v"), Some(" SELECT 1;")])],
            vec![
                row(&[Some("mood"), Some("a")]),
                row(&[Some("mood"), Some("b")]),
                row(&[Some("empty"), None]),
            ],
            vec![row(&[
                Some("items"),
                Some("trg"),
                Some("CREATE TRIGGER trg ..."),
            ])],
            vec![row(&[
                Some("invoice_no"),
                Some("bigint"),
                Some("1000"),
                Some("1"),
                Some("1"),
                Some("9223372036854775807"),
                Some("1"),
                Some("false"),
            ])],
            vec![],
        );
        assert_eq!(schema.sequences.len(), 1);
        assert_eq!(schema.sequences[0].start, 1000);
        assert_eq!(schema.tables.len(), 2);
        let items = &schema.tables[0];
        assert_eq!(items.comment.as_deref(), Some("things"));
        assert_eq!(items.columns[0].identity, Some(Identity::Always));
        assert!(!items.columns[0].nullable);
        assert_eq!(
            items.columns[1]
                .generated
                .as_ref()
                .map(|g| g.expression.as_str()),
            Some("(id * 2)")
        );
        assert_eq!(items.columns[1].default, None);
        assert_eq!(items.columns[2].comment.as_deref(), Some("who"));
        assert_eq!(
            items.primary_key.as_ref().map(|p| p.columns.clone()),
            Some(vec!["id".to_string()])
        );
        assert_eq!(items.foreign_keys[0].on_delete, FkAction::Cascade);
        assert_eq!(items.foreign_keys[0].on_update, FkAction::NoAction);
        assert_eq!(items.uniques[0].columns, ["id", "owner"]);
        assert_eq!(items.indexes.len(), 2);
        assert_eq!(items.indexes[0].parts.len(), 2);
        assert!(items.indexes[0].parts[0].descending);
        assert_eq!(items.indexes[0].parts[1].expression, "(id + 1)");
        assert_eq!(items.indexes[0].method, None);
        assert_eq!(items.indexes[1].method.as_deref(), Some("gin"));
        assert_eq!(items.triggers[0].name, "trg");
        assert_eq!(
            schema.tables[1].columns[0].default.as_deref(),
            Some("nextval('users_id_seq'::regclass)")
        );
        assert_eq!(schema.views[0].definition, "SELECT 1");
        assert_eq!(schema.enums[0].values, ["a", "b"]);
        assert!(schema.enums[1].values.is_empty());
    }
}
