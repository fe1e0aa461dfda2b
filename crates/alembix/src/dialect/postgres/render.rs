//! Rendering schema changes as SQL statements for this database.

use std::collections::{HashMap, HashSet};

use crate::dialect::literal;
use crate::schema::{
    Change, Check, Column, EnumType, FkAction, ForeignKey, Identity, Index, PrimaryKey, Schema,
    Sequence, Table, Unique,
};
use crate::url::Dialect;

/// Keywords that cannot be used as bare identifiers everywhere (every category but "unreserved", as
/// `quote_ident` does), PostgreSQL 15 plus later additions.
const KEYWORDS: &str = "\
     all analyse analyze and any array as asc asymmetric authorization between bigint binary bit boolean \
     both case cast char character check coalesce collate collation column concurrently constraint create \
     cross current_catalog current_date current_role current_schema current_time current_timestamp \
     current_user dec decimal default deferrable desc distinct do else end except exists extract false \
     fetch float for foreign freeze from full grant greatest group grouping having ilike in initially \
     inner inout int integer intersect interval into is isnull join json json_array json_arrayagg \
     json_exists json_object json_objectagg json_query json_scalar json_serialize json_table json_value \
     lateral leading least left like limit localtime localtimestamp merge_action national natural nchar \
     none normalize not notnull null nullif numeric offset on only or order out outer overlaps overlay \
     placing position precision primary real references returning right row select session_user setof \
     similar smallint some substring symmetric system_user table tablesample then time timestamp to \
     trailing treat trim true union unique user using values varchar variadic verbose when where window \
     with xmlattributes xmlconcat xmlelement xmlexists xmlforest xmlnamespaces xmlparse xmlpi xmlroot \
     xmlserialize xmltable";

/// An identifier, double-quoted only when it has to be (not a plain lowercase name, or a keyword).
pub fn ident(name: &str) -> String {
    let mut chars = name.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$')
        && !KEYWORDS.split_ascii_whitespace().any(|k| k == name);
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// A table name that introspection may have qualified with its schema (`other.table`, for a foreign key
/// to another schema).
pub(crate) fn qualified(name: &str) -> String {
    match name.split_once('.') {
        Some((schema, table)) => format!("{}.{}", ident(schema), ident(table)),
        None => ident(name),
    }
}

fn lit(value: &str) -> String {
    literal(value, Dialect::Postgres)
}

fn idents(names: &[String]) -> String {
    names
        .iter()
        .map(|n| ident(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The sequence of a `nextval('seq'::regclass)` default, as SQL text (already quoted by the server).
fn nextval_sequence(default: &str) -> Option<&str> {
    let inner = default
        .strip_prefix("nextval('")?
        .strip_suffix("'::regclass)")?;
    (!inner.contains('\'')).then_some(inner)
}

/// The name PostgreSQL gives the sequence of a `serial` column, when it is not truncated.
fn serial_sequence_name(table: &str, column: &str) -> Option<String> {
    let name = format!("{table}_{column}_seq");
    (local(&name).len() <= 63).then(|| qualified(&name))
}

/// The name within its schema (`invoices` of `billing.invoices`).
fn local(name: &str) -> &str {
    name.split_once('.').map_or(name, |(_, n)| n)
}

/// `schema.` of a qualified name, or nothing: an index or trigger lives in its table's schema.
fn schema_prefix(name: &str) -> String {
    name.split_once('.')
        .map_or_else(String::new, |(s, _)| format!("{}.", ident(s)))
}

/// `serial`, `bigserial` or `smallserial` when the column is what such a type creates.
fn serial_type(table: &str, c: &Column) -> Option<&'static str> {
    if c.identity.is_some() || c.generated.is_some() {
        return None;
    }
    let seq = nextval_sequence(c.default.as_deref()?)?;
    if Some(seq) != serial_sequence_name(table, &c.name).as_deref() {
        return None;
    }
    match c.data_type.as_str() {
        "integer" => Some("serial"),
        "bigint" => Some("bigserial"),
        "smallint" => Some("smallserial"),
        _ => None,
    }
}

/// A column definition, with what has to run before it (a sequence its default reads) and after it.
struct ColumnDef {
    before: Vec<String>,
    sql: String,
    after: Vec<String>,
}

fn column_def(table: &str, c: &Column) -> ColumnDef {
    let mut before = Vec::new();
    let mut after = Vec::new();
    let serial = serial_type(table, c);
    let mut sql = format!("{} {}", ident(&c.name), serial.unwrap_or(&c.data_type));
    if let Some(coll) = &c.collation {
        sql.push_str(&format!(" COLLATE {coll}"));
    }
    match c.identity {
        Some(Identity::Always) => sql.push_str(" GENERATED ALWAYS AS IDENTITY"),
        Some(Identity::ByDefault | Identity::AutoIncrement) => {
            sql.push_str(" GENERATED BY DEFAULT AS IDENTITY")
        }
        None => {}
    }
    if c.identity.is_some() && !c.identity_options.is_empty() {
        sql.push_str(&format!(" ({})", c.identity_options.join(" ")));
    }
    if let Some(g) = &c.generated {
        sql.push_str(&format!(
            " GENERATED ALWAYS AS ({}) {}",
            g.expression,
            if g.stored { "STORED" } else { "VIRTUAL" }
        ));
    }
    if serial.is_none() {
        if let Some(d) = &c.default {
            if let Some(seq) = nextval_sequence(d) {
                before.push(format!("CREATE SEQUENCE IF NOT EXISTS {seq}"));
            }
            sql.push_str(&format!(" DEFAULT {d}"));
        }
    }
    if !c.nullable {
        sql.push_str(" NOT NULL");
    } else if serial.is_some() {
        after.push(format!(
            "ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL",
            qualified(table),
            ident(&c.name)
        ));
    }
    ColumnDef { before, sql, after }
}

/// `SET ...` clauses that take an identity from options `from` to `to` (an option left out goes back to
/// its default).
fn identity_option_changes(from: &[String], to: &[String]) -> String {
    let key = |o: &str| {
        [
            "INCREMENT BY",
            "MINVALUE",
            "MAXVALUE",
            "START WITH",
            "CACHE",
            "CYCLE",
        ]
        .into_iter()
        .find(|k| o.starts_with(k))
        .unwrap_or("")
    };
    let mut clauses: Vec<String> = to.iter().map(|o| format!("SET {o}")).collect();
    for o in from {
        let k = key(o);
        if to.iter().any(|t| key(t) == k) {
            continue;
        }
        clauses.push(
            match k {
                "INCREMENT BY" => "SET INCREMENT BY 1",
                "MINVALUE" => "SET NO MINVALUE",
                "MAXVALUE" => "SET NO MAXVALUE",
                "START WITH" => "SET START WITH 1",
                "CACHE" => "SET CACHE 1",
                _ => "SET NO CYCLE",
            }
            .to_string(),
        );
    }
    clauses.join(" ")
}

/// Every option of a sequence, so that the statement means the same on any server.
fn sequence_options(s: &Sequence) -> String {
    format!(
        "AS {} INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {} {}",
        s.data_type,
        s.increment,
        s.min,
        s.max,
        s.start,
        s.cache,
        if s.cycle { "CYCLE" } else { "NO CYCLE" }
    )
}

fn named(name: &Option<String>) -> String {
    name.as_ref()
        .map_or_else(String::new, |n| format!("CONSTRAINT {} ", ident(n)))
}

fn pk_clause(pk: &PrimaryKey) -> String {
    format!("{}PRIMARY KEY ({})", named(&pk.name), idents(&pk.columns))
}

fn unique_clause(u: &Unique) -> String {
    let mut s = format!("{}UNIQUE ({})", named(&u.name), idents(&u.columns));
    if let Some(d) = &u.deferrable {
        s.push(' ');
        s.push_str(d);
    }
    s
}

fn check_clause(c: &Check) -> String {
    format!("{}CHECK ({})", named(&c.name), c.expression)
}

fn fk_clause(fk: &ForeignKey) -> String {
    let mut s = format!(
        "{}FOREIGN KEY ({}) REFERENCES {} ({})",
        named(&fk.name),
        idents(&fk.columns),
        qualified(&fk.ref_table),
        idents(&fk.ref_columns)
    );
    if fk.on_update != FkAction::NoAction {
        s.push_str(&format!(" ON UPDATE {}", fk.on_update.sql()));
    }
    if fk.on_delete != FkAction::NoAction {
        s.push_str(&format!(" ON DELETE {}", fk.on_delete.sql()));
    }
    if let Some(d) = &fk.deferrable {
        s.push(' ');
        s.push_str(d);
    }
    s
}

fn create_index(table: &str, i: &Index) -> String {
    let parts: Vec<String> = i
        .parts
        .iter()
        .map(|p| {
            let mut e = if p.is_column {
                ident(&p.expression)
            } else {
                format!("({})", p.expression)
            };
            if let Some(op) = &p.opclass {
                e.push(' ');
                e.push_str(op);
            }
            if p.descending {
                format!("{e} DESC")
            } else {
                e
            }
        })
        .collect();
    let mut s = format!(
        "CREATE {}INDEX {} ON {}",
        if i.unique { "UNIQUE " } else { "" },
        ident(&i.name),
        qualified(table)
    );
    if let Some(m) = &i.method {
        s.push_str(&format!(" USING {m}"));
    }
    s.push_str(&format!(" ({})", parts.join(", ")));
    if !i.include.is_empty() {
        let cols: Vec<String> = i.include.iter().map(|c| ident(c)).collect();
        s.push_str(&format!(" INCLUDE ({})", cols.join(", ")));
    }
    if let Some(p) = &i.predicate {
        s.push_str(&format!(" WHERE {p}"));
    }
    s
}

fn comment_literal(c: &Option<String>) -> String {
    c.as_deref().map_or_else(|| "NULL".to_string(), lit)
}

fn column_comment(table: &str, column: &str, c: &Option<String>) -> String {
    format!(
        "COMMENT ON COLUMN {}.{} IS {}",
        qualified(table),
        ident(column),
        comment_literal(c)
    )
}

fn table_comment(table: &str, c: &Option<String>) -> String {
    format!(
        "COMMENT ON TABLE {} IS {}",
        qualified(table),
        comment_literal(c)
    )
}

fn create_enum(e: &EnumType) -> String {
    let values: Vec<String> = e.values.iter().map(|v| lit(v)).collect();
    format!(
        "CREATE TYPE {} AS ENUM ({})",
        qualified(&e.name),
        values.join(", ")
    )
}

fn create_table(t: &Table, out: &mut Vec<String>) {
    let mut lines = Vec::new();
    let mut after = Vec::new();
    for c in &t.columns {
        let def = column_def(&t.name, c);
        out.extend(def.before);
        after.extend(def.after);
        lines.push(def.sql);
    }
    if let Some(pk) = &t.primary_key {
        lines.push(pk_clause(pk));
    }
    lines.extend(t.uniques.iter().map(unique_clause));
    lines.extend(t.checks.iter().map(check_clause));
    lines.extend(t.foreign_keys.iter().map(fk_clause));
    lines.extend(
        t.exclusions
            .iter()
            .map(|x| format!("CONSTRAINT {} {}", ident(&x.name), x.definition)),
    );
    let mut sql = format!(
        "CREATE TABLE {} (\n    {}\n)",
        qualified(&t.name),
        lines.join(",\n    ")
    );
    for o in &t.options {
        sql.push(' ');
        sql.push_str(o);
    }
    out.push(sql);
    out.extend(after);
    out.extend(t.indexes.iter().map(|i| create_index(&t.name, i)));
    if t.comment.is_some() {
        out.push(table_comment(&t.name, &t.comment));
    }
    for c in t.columns.iter().filter(|c| c.comment.is_some()) {
        out.push(column_comment(&t.name, &c.name, &c.comment));
    }
    out.extend(t.triggers.iter().map(|tr| tr.sql.clone()));
}

/// Where the renderer is in the list of changes: tables renamed later in the list still have their old name.
struct Renderer<'a> {
    changes: &'a [Change],
    from: &'a Schema,
    to: &'a Schema,
    /// New name -> old name, for renames not rendered yet.
    pending_renames: HashMap<String, String>,
    /// Tables whose primary key was dropped ahead of its `SetPrimaryKey` (before a column change that needs it
    /// gone).
    pk_dropped: HashSet<String>,
    out: Vec<String>,
}

/// SQL statements (without terminators) that apply `changes`, which turn `from` into `to`.
pub fn render(changes: &[Change], from: &Schema, to: &Schema) -> Vec<String> {
    let pending_renames = changes
        .iter()
        .filter_map(|c| match c {
            Change::RenameTable { from, to } => Some((to.clone(), from.clone())),
            _ => None,
        })
        .collect();
    let mut r = Renderer {
        changes,
        from,
        to,
        pending_renames,
        pk_dropped: HashSet::new(),
        out: Vec::new(),
    };
    for (i, c) in changes.iter().enumerate() {
        r.change(i, c);
    }
    // A default's `CREATE SEQUENCE IF NOT EXISTS` is for a sequence the schema does not list; one it lists
    // exists or is created by its own change.
    let listed: HashSet<String> = to
        .sequences
        .iter()
        .map(|s| format!("CREATE SEQUENCE IF NOT EXISTS {}", qualified(&s.name)))
        .collect();
    r.out.retain(|s| !listed.contains(s));
    r.out
}

impl Renderer<'_> {
    /// The name `table` (a name of the desired schema) has at this point of the migration.
    fn now<'b>(&'b self, table: &'b str) -> &'b str {
        self.pending_renames
            .get(table)
            .map_or(table, |s| s.as_str())
    }

    /// The table of the current schema that becomes `table` of the desired schema.
    fn table_before(&self, table: &str) -> Option<&Table> {
        let old = self
            .changes
            .iter()
            .find_map(|c| match c {
                Change::RenameTable { from, to } if to == table => Some(from.as_str()),
                _ => None,
            })
            .unwrap_or(table);
        self.from.table(old)
    }

    fn alter(&self, table: &str) -> String {
        format!("ALTER TABLE {}", qualified(self.now(table)))
    }

    fn push(&mut self, s: String) {
        self.out.push(s);
    }

    fn change(&mut self, i: usize, c: &Change) {
        match c {
            Change::CreateEnum(e) => self.push(create_enum(e)),
            Change::DropEnum(e) => self.push(format!("DROP TYPE {}", qualified(&e.name))),
            Change::CreateSchema(name) => {
                self.push(format!("CREATE SCHEMA IF NOT EXISTS {}", ident(name)))
            }
            Change::DropSchema(name) => self.push(format!("DROP SCHEMA {}", ident(name))),
            Change::CreateFunction(f) | Change::ReplaceFunction { to: f, .. } => {
                self.push(f.definition.trim_end().trim_end_matches(';').to_string())
            }
            Change::DropFunction(f) => self.push(format!("DROP {} {}", f.kind(), f.signature)),
            Change::CreateSequence(s) => self.push(format!(
                "CREATE SEQUENCE {} {}",
                qualified(&s.name),
                sequence_options(s)
            )),
            Change::DropSequence(s) => self.push(format!("DROP SEQUENCE {}", qualified(&s.name))),
            Change::AlterSequence { to, .. } => self.push(format!(
                "ALTER SEQUENCE {} {}",
                qualified(&to.name),
                sequence_options(to)
            )),
            Change::AddEnumValues { name, values } => {
                for v in values {
                    self.push(format!(
                        "ALTER TYPE {} ADD VALUE {}",
                        qualified(name),
                        lit(v)
                    ));
                }
            }
            Change::RecreateEnum { from, to } => self.recreate_enum(from, to),
            Change::CreateTable(t) => create_table(t, &mut self.out),
            Change::DropTable(t) => {
                self.push(format!("DROP TABLE {}", qualified(self.now(&t.name))))
            }
            Change::RenameTable { from, to } => {
                self.push(format!(
                    "ALTER TABLE {} RENAME TO {}",
                    qualified(from),
                    ident(local(to))
                ));
                self.pending_renames.remove(to);
                if let (Some(ft), Some(tt)) = (self.from.table(from), self.to.table(to)) {
                    for tc in &tt.columns {
                        if let Some(fc) = ft.column(&tc.name) {
                            self.rename_sequence(from, fc, to, tc);
                        }
                    }
                }
            }
            Change::AddColumn { table, column } => {
                let def = column_def(table, column);
                self.out.extend(def.before);
                self.push(format!("{} ADD COLUMN {}", self.alter(table), def.sql));
                self.out.extend(def.after);
                if column.comment.is_some() {
                    self.push(column_comment(table, &column.name, &column.comment));
                }
            }
            Change::DropColumn { table, column } => {
                self.push(format!(
                    "{} DROP COLUMN {}",
                    self.alter(table),
                    ident(&column.name)
                ));
            }
            Change::RenameColumn { table, from, to } => {
                self.push(format!(
                    "{} RENAME COLUMN {} TO {}",
                    self.alter(table),
                    ident(from),
                    ident(to)
                ));
                let from_table = self.table_before(table).cloned();
                if let (Some(ft), Some(tt)) = (from_table, self.to.table(table)) {
                    if let (Some(fc), Some(tc)) = (ft.column(from), tt.column(to)) {
                        self.rename_sequence(&ft.name, fc, table, tc);
                    }
                }
            }
            Change::AlterColumn { table, from, to } => {
                self.drop_pk_early(i, table);
                self.alter_column(table, from, to);
            }
            Change::SetPrimaryKey { table, from, to } => {
                if let Some(pk) = from {
                    if !self.pk_dropped.contains(table) {
                        let name = self.pk_name(table, pk);
                        self.push(format!(
                            "{} DROP CONSTRAINT {}",
                            self.alter(table),
                            ident(&name)
                        ));
                    }
                }
                if let Some(pk) = to {
                    self.push(format!("{} ADD {}", self.alter(table), pk_clause(pk)));
                }
            }
            Change::CreateIndex { table, index } => self.push(create_index(self.now(table), index)),
            Change::DropIndex { table, index } => self.push(format!(
                "DROP INDEX {}{}",
                schema_prefix(table),
                ident(&index.name)
            )),
            Change::RenameIndex { table, from, index } => self.push(format!(
                "ALTER INDEX {}{} RENAME TO {}",
                schema_prefix(table),
                ident(from),
                ident(&index.name)
            )),
            Change::AddUnique { table, unique } => {
                self.push(format!(
                    "{} ADD {}",
                    self.alter(table),
                    unique_clause(unique)
                ));
            }
            Change::DropUnique { table, unique } => {
                let name = unique.name.clone().unwrap_or_else(|| {
                    format!("{}_{}_key", self.now(table), unique.columns.join("_"))
                });
                self.push(format!(
                    "{} DROP CONSTRAINT {}",
                    self.alter(table),
                    ident(&name)
                ));
            }
            Change::AddCheck { table, check } => {
                self.push(format!("{} ADD {}", self.alter(table), check_clause(check)));
            }
            Change::DropCheck { table, check } => {
                let name = check
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{}_check", self.now(table)));
                self.push(format!(
                    "{} DROP CONSTRAINT {}",
                    self.alter(table),
                    ident(&name)
                ));
            }
            Change::AddForeignKey { table, foreign_key } => {
                self.push(format!(
                    "{} ADD {}",
                    self.alter(table),
                    fk_clause(foreign_key)
                ));
            }
            Change::DropForeignKey { table, foreign_key } => {
                let name = foreign_key.name.clone().unwrap_or_else(|| {
                    format!("{}_{}_fkey", self.now(table), foreign_key.columns.join("_"))
                });
                self.push(format!(
                    "{} DROP CONSTRAINT {}",
                    self.alter(table),
                    ident(&name)
                ));
            }
            Change::SetTableComment { table, to, .. } => {
                self.push(table_comment(self.now(table), to))
            }
            // The partition key: PostgreSQL cannot change it in place (the warning says so).
            Change::SetTableOptions { table, from, to } => self.push(format!(
                "-- alembix: {} is partitioned {}; it was {}: recreate it by hand",
                self.now(table),
                if to.is_empty() {
                    "no more".to_string()
                } else {
                    format!("as {}", to.join(" "))
                },
                if from.is_empty() {
                    "not partitioned".to_string()
                } else {
                    from.join(" ")
                }
            )),
            Change::AddExclusion { table, exclusion } => self.push(format!(
                "{} ADD CONSTRAINT {} {}",
                self.alter(table),
                ident(&exclusion.name),
                exclusion.definition
            )),
            Change::DropExclusion { table, exclusion } => self.push(format!(
                "{} DROP CONSTRAINT {}",
                self.alter(table),
                ident(&exclusion.name)
            )),
            Change::CreateTrigger { trigger, .. } => self.push(trigger.sql.clone()),
            Change::DropTrigger { table, trigger } => {
                self.push(format!(
                    "DROP TRIGGER {} ON {}",
                    ident(&trigger.name),
                    qualified(self.now(table))
                ));
            }
            Change::CreateView(v) => self.push(format!(
                "CREATE {}VIEW {} AS\n{}",
                if v.materialized { "MATERIALIZED " } else { "" },
                qualified(&v.name),
                v.definition
            )),
            Change::DropView(v) => self.push(format!(
                "DROP {}VIEW {}",
                if v.materialized { "MATERIALIZED " } else { "" },
                qualified(&v.name)
            )),
        }
    }

    fn pk_name(&self, table: &str, pk: &PrimaryKey) -> String {
        pk.name
            .clone()
            .unwrap_or_else(|| format!("{}_pkey", self.now(table)))
    }

    /// A column that stops being NOT NULL cannot stay in the primary key: when the key changes later in the
    /// list, drop it before the first column change of its table.
    fn drop_pk_early(&mut self, i: usize, table: &str) {
        if self.pk_dropped.contains(table) {
            return;
        }
        let later = self.changes[i..].iter().find_map(|c| match c {
            Change::SetPrimaryKey {
                table: t,
                from: Some(pk),
                ..
            } if t == table => Some(pk.clone()),
            _ => None,
        });
        if let Some(pk) = later {
            let name = self.pk_name(table, &pk);
            self.push(format!(
                "{} DROP CONSTRAINT {}",
                self.alter(table),
                ident(&name)
            ));
            self.pk_dropped.insert(table.to_string());
        }
    }

    /// A `serial` sequence follows its table or column rename, so the default reads the same on both sides.
    fn rename_sequence(&mut self, from_table: &str, fc: &Column, to_table: &str, tc: &Column) {
        let (Some(fd), Some(td)) = (fc.default.as_deref(), tc.default.as_deref()) else {
            return;
        };
        let (Some(fs), Some(ts)) = (nextval_sequence(fd), nextval_sequence(td)) else {
            return;
        };
        if fs != ts
            && Some(fs) == serial_sequence_name(from_table, &fc.name).as_deref()
            && Some(ts) == serial_sequence_name(to_table, &tc.name).as_deref()
        {
            self.push(format!("ALTER SEQUENCE {fs} RENAME TO {ts}"));
        }
    }

    fn set_default(&mut self, alter: &str, col: &str, d: &str) {
        if let Some(seq) = nextval_sequence(d) {
            self.push(format!("CREATE SEQUENCE IF NOT EXISTS {seq}"));
        }
        self.push(format!("{alter} ALTER COLUMN {col} SET DEFAULT {d}"));
    }

    fn alter_column(&mut self, table: &str, from: &Column, to: &Column) {
        let alter = self.alter(table);
        let col = ident(&to.name);
        let mut from = from.clone();
        // Generated expression: PostgreSQL can only drop one (keeping the values); anything else re-creates
        // the column.
        if from.generated != to.generated {
            if to.generated.is_none() {
                self.push(format!("{alter} ALTER COLUMN {col} DROP EXPRESSION"));
                from.generated = None;
                from.default = None;
            } else {
                self.push(format!("{alter} DROP COLUMN {col}"));
                let def = column_def(self.now(table), to);
                self.out.extend(def.before);
                self.push(format!("{alter} ADD COLUMN {}", def.sql));
                self.out.extend(def.after);
                if to.comment.is_some() {
                    self.push(column_comment(self.now(table), &to.name, &to.comment));
                }
                self.recreate_dependents(table, &to.name);
                return;
            }
        }
        let type_changes = from.data_type != to.data_type || from.collation != to.collation;
        if from.identity.is_some() && to.identity.is_none() {
            self.push(format!("{alter} ALTER COLUMN {col} DROP IDENTITY"));
        }
        let default_changes = from.default != to.default;
        let dropped_default = from.default.is_some() && (default_changes || type_changes);
        if dropped_default {
            self.push(format!("{alter} ALTER COLUMN {col} DROP DEFAULT"));
        }
        if type_changes {
            if to.generated.is_some() {
                self.push(format!("{alter} ALTER COLUMN {col} TYPE {}", to.data_type));
            } else {
                let collate = to
                    .collation
                    .as_ref()
                    .map_or(String::new(), |c| format!(" COLLATE {c}"));
                // There is no cast between two enum types (nor from an enum to most types): such a
                // value goes through its text.
                let is_enum = |ty: &str| {
                    let base = ty.trim_end_matches("[]");
                    self.from
                        .enums
                        .iter()
                        .chain(&self.to.enums)
                        .any(|e| qualified(&e.name) == base)
                };
                let via = if is_enum(&from.data_type) {
                    if from.data_type.ends_with("[]") {
                        "::text[]"
                    } else {
                        "::text"
                    }
                } else {
                    ""
                };
                self.push(format!(
                    "{alter} ALTER COLUMN {col} TYPE {ty}{collate} USING {col}{via}::{ty}",
                    ty = to.data_type
                ));
            }
        }
        let set_default = to
            .default
            .as_ref()
            .filter(|_| dropped_default || from.default.is_none());
        let mut default_set = false;
        if from.nullable && !to.nullable {
            // NULLs take the declared default first, as on every engine; without one, NULLs make this fail.
            if let Some(d) = &to.default {
                if let Some(d) = set_default {
                    self.set_default(&alter, &col, d);
                    default_set = true;
                }
                self.push(format!(
                    "UPDATE {} SET {col} = {d} WHERE {col} IS NULL",
                    qualified(self.now(table))
                ));
            }
            self.push(format!("{alter} ALTER COLUMN {col} SET NOT NULL"));
        }
        if !from.nullable && to.nullable {
            self.push(format!("{alter} ALTER COLUMN {col} DROP NOT NULL"));
        }
        if let Some(d) = set_default.filter(|_| !default_set) {
            self.set_default(&alter, &col, d);
        }
        let options = if to.identity_options.is_empty() {
            String::new()
        } else {
            format!(" ({})", to.identity_options.join(" "))
        };
        match (from.identity, to.identity) {
            (None, Some(Identity::Always)) => self.push(format!(
                "{alter} ALTER COLUMN {col} ADD GENERATED ALWAYS AS IDENTITY{options}"
            )),
            (None, Some(_)) => self.push(format!(
                "{alter} ALTER COLUMN {col} ADD GENERATED BY DEFAULT AS IDENTITY{options}"
            )),
            (Some(a), Some(b)) if a != b => {
                let how = if b == Identity::Always {
                    "ALWAYS"
                } else {
                    "BY DEFAULT"
                };
                self.push(format!("{alter} ALTER COLUMN {col} SET GENERATED {how}"));
            }
            _ => {}
        }
        if from.identity.is_some()
            && to.identity.is_some()
            && from.identity_options != to.identity_options
        {
            self.push(format!(
                "{alter} ALTER COLUMN {col} {}",
                identity_option_changes(&from.identity_options, &to.identity_options)
            ));
        }
        if from.comment != to.comment {
            self.push(column_comment(self.now(table), &to.name, &to.comment));
        }
    }

    /// After a column was dropped and added again: its indexes and unique constraints of the desired schema
    /// that no other change creates.
    fn recreate_dependents(&mut self, table: &str, column: &str) {
        let Some(t) = self.to.table(table) else {
            return;
        };
        let created_elsewhere = |c: &Change| match c {
            Change::CreateIndex { table: ct, index } => Some((ct.clone(), index.name.clone())),
            _ => None,
        };
        let created: HashSet<(String, String)> =
            self.changes.iter().filter_map(created_elsewhere).collect();
        let uniques_added: Vec<&Unique> = self
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::AddUnique { table: ct, unique } if ct == table => Some(unique),
                _ => None,
            })
            .collect();
        let mut stmts = Vec::new();
        for i in &t.indexes {
            let uses = i.parts.iter().any(|p| {
                if p.is_column {
                    p.expression == column
                } else {
                    p.expression.contains(column)
                }
            });
            if uses && !created.contains(&(table.to_string(), i.name.clone())) {
                stmts.push(create_index(self.now(table), i));
            }
        }
        for u in &t.uniques {
            if u.columns.iter().any(|c| c == column)
                && !uniques_added.iter().any(|x| x.columns == u.columns)
            {
                stmts.push(format!("{} ADD {}", self.alter(table), unique_clause(u)));
            }
        }
        self.out.extend(stmts);
    }

    /// Rename the old type out of the way, create the new one, move every column over, drop the old one.
    fn recreate_enum(&mut self, from: &EnumType, to: &EnumType) {
        let old = format!("{}__old", from.name);
        self.push(format!(
            "ALTER TYPE {} RENAME TO {}",
            qualified(&from.name),
            ident(local(&old))
        ));
        self.push(create_enum(to));
        let name = qualified(&to.name);
        let array = format!("{name}[]");
        let dropped: HashSet<&str> = self
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::DropTable(t) => Some(t.name.as_str()),
                _ => None,
            })
            .collect();
        let mut stmts = Vec::new();
        // The columns as they are when enums change (before table and column renames).
        for t in self
            .from
            .tables
            .iter()
            .filter(|t| !dropped.contains(t.name.as_str()))
        {
            for c in &t.columns {
                let cast = if c.data_type == name {
                    format!("{}::text::{name}", ident(&c.name))
                } else if c.data_type == array {
                    format!("{}::text[]::{array}", ident(&c.name))
                } else {
                    continue;
                };
                let alter = format!(
                    "ALTER TABLE {} ALTER COLUMN {}",
                    qualified(&t.name),
                    ident(&c.name)
                );
                // The default reads the old type; it is set again on the new one.
                let default = self
                    .to
                    .table(&t.name)
                    .and_then(|tt| tt.column(&c.name))
                    .filter(|tc| tc.data_type == c.data_type)
                    .map_or(c.default.clone(), |tc| tc.default.clone());
                if c.default.is_some() {
                    stmts.push(format!("{alter} DROP DEFAULT"));
                }
                stmts.push(format!("{alter} TYPE {} USING {cast}", c.data_type));
                if let (Some(_), Some(d)) = (&c.default, default) {
                    stmts.push(format!("{alter} SET DEFAULT {d}"));
                }
            }
        }
        self.out.extend(stmts);
        self.push(format!("DROP TYPE {}", qualified(&old)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Generated, IndexPart, Trigger, View};

    fn col(name: &str, ty: &str) -> Column {
        Column::new(name, ty)
    }

    fn not_null(mut c: Column) -> Column {
        c.nullable = false;
        c
    }

    fn one(change: Change) -> Vec<String> {
        render(&[change], &Schema::default(), &Schema::default())
    }

    fn users() -> Table {
        Table {
            name: "users".into(),
            columns: vec![not_null(col("id", "integer")), col("email", "text")],
            primary_key: Some(PrimaryKey {
                name: Some("users_pkey".into()),
                columns: vec!["id".into()],
            }),
            ..Table::default()
        }
    }

    fn fk(name: Option<&str>) -> ForeignKey {
        ForeignKey {
            deferrable: None,
            name: name.map(str::to_string),
            columns: vec!["user_id".into()],
            ref_table: "users".into(),
            ref_columns: vec!["id".into()],
            on_delete: FkAction::Cascade,
            on_update: FkAction::NoAction,
        }
    }

    #[test]
    fn identifiers_are_quoted_only_when_needed() {
        assert_eq!(ident("users"), "users");
        assert_eq!(ident("_a1$"), "_a1$");
        assert_eq!(ident("Users"), "\"Users\"");
        assert_eq!(ident("user"), "\"user\"");
        assert_eq!(ident("order"), "\"order\"");
        assert_eq!(ident("1a"), "\"1a\"");
        assert_eq!(ident("a b"), "\"a b\"");
        assert_eq!(ident("say\"hi"), "\"say\"\"hi\"");
        assert_eq!(ident("name"), "name");
        assert_eq!(qualified("other.t"), "other.t");
    }

    #[test]
    fn create_table_with_everything() {
        let mut t = users();
        t.name = "posts".into();
        let mut id = not_null(col("id", "integer"));
        id.default = Some("nextval('posts_id_seq'::regclass)".into());
        let mut seq = not_null(col("n", "bigint"));
        seq.identity = Some(Identity::Always);
        let mut total = col("total", "integer");
        total.generated = Some(Generated {
            expression: "(n * 2)".into(),
            stored: true,
        });
        let mut state = not_null(col("state", "text"));
        state.default = Some("'new'::text".into());
        state.comment = Some("it's the state".into());
        t.columns = vec![id, seq, total, state, not_null(col("user_id", "integer"))];
        t.uniques = vec![Unique {
            deferrable: None,
            name: Some("posts_state_key".into()),
            columns: vec!["state".into(), "user_id".into()],
        }];
        t.checks = vec![Check {
            name: Some("posts_n_check".into()),
            expression: "(n > 0)".into(),
            column_level: false,
        }];
        t.foreign_keys = vec![fk(Some("posts_user_id_fkey"))];
        t.primary_key = Some(PrimaryKey {
            name: None,
            columns: vec!["id".into()],
        });
        t.indexes = vec![Index {
            include: Vec::new(),
            name: "posts_lower".into(),
            parts: vec![IndexPart {
                opclass: None,
                expression: "lower(state)".into(),
                is_column: false,
                descending: false,
            }],
            unique: false,
            predicate: None,
            method: None,
        }];
        t.comment = Some("Posts".into());
        t.triggers = vec![Trigger {
            name: "trg".into(),
            sql: "CREATE TRIGGER trg BEFORE UPDATE ON public.posts FOR EACH ROW EXECUTE FUNCTION touch()".into(),
        }];
        assert_eq!(
            one(Change::CreateTable(t)),
            [
                "CREATE TABLE posts (\n    \
                 id serial NOT NULL,\n    \
                 n bigint GENERATED ALWAYS AS IDENTITY NOT NULL,\n    \
                 total integer GENERATED ALWAYS AS ((n * 2)) STORED,\n    \
                 state text DEFAULT 'new'::text NOT NULL,\n    \
                 user_id integer NOT NULL,\n    \
                 PRIMARY KEY (id),\n    \
                 CONSTRAINT posts_state_key UNIQUE (state, user_id),\n    \
                 CONSTRAINT posts_n_check CHECK ((n > 0)),\n    \
                 CONSTRAINT posts_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE\n)",
                "CREATE INDEX posts_lower ON posts ((lower(state)))",
                "COMMENT ON TABLE posts IS 'Posts'",
                "COMMENT ON COLUMN posts.state IS 'it''s the state'",
                "CREATE TRIGGER trg BEFORE UPDATE ON public.posts FOR EACH ROW EXECUTE FUNCTION touch()",
            ]
        );
    }

    #[test]
    fn nondefault_sequences_are_created_first() {
        let mut t = users();
        t.columns[0].default = Some("nextval('shared_seq'::regclass)".into());
        let out = one(Change::CreateTable(t));
        assert_eq!(out[0], "CREATE SEQUENCE IF NOT EXISTS shared_seq");
        assert!(
            out[1].contains("id integer DEFAULT nextval('shared_seq'::regclass) NOT NULL"),
            "{}",
            out[1]
        );
    }

    #[test]
    fn drop_and_rename_tables() {
        assert_eq!(one(Change::DropTable(users())), ["DROP TABLE users"]);
        assert_eq!(
            one(Change::RenameTable {
                from: "users".into(),
                to: "User".into()
            }),
            ["ALTER TABLE users RENAME TO \"User\""]
        );
    }

    #[test]
    fn rename_table_moves_its_serial_sequence_and_earlier_drops_use_the_old_name() {
        let mut from_t = users();
        from_t.columns[0].default = Some("nextval('users_id_seq'::regclass)".into());
        let mut to_t = from_t.clone();
        to_t.name = "people".into();
        to_t.columns[0].default = Some("nextval('people_id_seq'::regclass)".into());
        let from = Schema {
            tables: vec![from_t],
            ..Schema::default()
        };
        let to = Schema {
            tables: vec![to_t],
            ..Schema::default()
        };
        let changes = [
            Change::DropCheck {
                table: "people".into(),
                check: Check {
                    name: Some("users_c".into()),
                    expression: "true".into(),
                    column_level: false,
                },
            },
            Change::RenameTable {
                from: "users".into(),
                to: "people".into(),
            },
            Change::AddColumn {
                table: "people".into(),
                column: col("x", "text"),
            },
        ];
        assert_eq!(
            render(&changes, &from, &to),
            [
                "ALTER TABLE users DROP CONSTRAINT users_c",
                "ALTER TABLE users RENAME TO people",
                "ALTER SEQUENCE users_id_seq RENAME TO people_id_seq",
                "ALTER TABLE people ADD COLUMN x text",
            ]
        );
    }

    #[test]
    fn add_drop_rename_columns() {
        let mut c = not_null(col("Phone", "character varying(20)"));
        c.default = Some("''::character varying".into());
        c.comment = Some("mobile".into());
        assert_eq!(
            one(Change::AddColumn {
                table: "users".into(),
                column: c.clone()
            }),
            [
                "ALTER TABLE users ADD COLUMN \"Phone\" character varying(20) DEFAULT ''::character varying NOT NULL",
                "COMMENT ON COLUMN users.\"Phone\" IS 'mobile'",
            ]
        );
        assert_eq!(
            one(Change::DropColumn {
                table: "users".into(),
                column: c
            }),
            ["ALTER TABLE users DROP COLUMN \"Phone\""]
        );
        assert_eq!(
            one(Change::RenameColumn {
                table: "users".into(),
                from: "name".into(),
                to: "full_name".into()
            }),
            ["ALTER TABLE users RENAME COLUMN name TO full_name"]
        );
    }

    #[test]
    fn alter_column_type_null_default_comment() {
        let mut from = col("age", "integer");
        from.default = Some("0".into());
        let mut to = not_null(col("age", "bigint"));
        to.default = Some("1".into());
        to.comment = Some("years".into());
        assert_eq!(
            one(Change::AlterColumn {
                table: "users".into(),
                from,
                to
            }),
            [
                "ALTER TABLE users ALTER COLUMN age DROP DEFAULT",
                "ALTER TABLE users ALTER COLUMN age TYPE bigint USING age::bigint",
                "ALTER TABLE users ALTER COLUMN age SET DEFAULT 1",
                "UPDATE users SET age = 1 WHERE age IS NULL",
                "ALTER TABLE users ALTER COLUMN age SET NOT NULL",
                "COMMENT ON COLUMN users.age IS 'years'",
            ]
        );
        let from = not_null(col("age", "integer"));
        let to = col("age", "integer");
        assert_eq!(
            one(Change::AlterColumn {
                table: "users".into(),
                from: from.clone(),
                to: to.clone()
            }),
            ["ALTER TABLE users ALTER COLUMN age DROP NOT NULL"]
        );
        let mut commented = to.clone();
        commented.comment = Some("x".into());
        assert_eq!(
            one(Change::AlterColumn {
                table: "users".into(),
                from: commented,
                to
            }),
            ["COMMENT ON COLUMN users.age IS NULL"]
        );
    }

    #[test]
    fn alter_column_default_only() {
        let from = col("state", "text");
        let mut to = from.clone();
        to.default = Some("'a'::text".into());
        assert_eq!(
            one(Change::AlterColumn {
                table: "t".into(),
                from: from.clone(),
                to: to.clone()
            }),
            ["ALTER TABLE t ALTER COLUMN state SET DEFAULT 'a'::text"]
        );
        assert_eq!(
            one(Change::AlterColumn {
                table: "t".into(),
                from: to,
                to: from
            }),
            ["ALTER TABLE t ALTER COLUMN state DROP DEFAULT"]
        );
    }

    #[test]
    fn alter_column_identity() {
        let from = not_null(col("id", "integer"));
        let mut to = from.clone();
        to.identity = Some(Identity::ByDefault);
        let alter = |from: &Column, to: &Column| {
            one(Change::AlterColumn {
                table: "t".into(),
                from: from.clone(),
                to: to.clone(),
            })
        };
        assert_eq!(
            alter(&from, &to),
            ["ALTER TABLE t ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY"]
        );
        assert_eq!(
            alter(&to, &from),
            ["ALTER TABLE t ALTER COLUMN id DROP IDENTITY"]
        );
        let mut always = to.clone();
        always.identity = Some(Identity::Always);
        assert_eq!(
            alter(&to, &always),
            ["ALTER TABLE t ALTER COLUMN id SET GENERATED ALWAYS"]
        );
        // serial -> identity: the default goes first.
        let mut serial = from.clone();
        serial.default = Some("nextval('t_id_seq'::regclass)".into());
        assert_eq!(
            alter(&serial, &always),
            [
                "ALTER TABLE t ALTER COLUMN id DROP DEFAULT",
                "ALTER TABLE t ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY",
            ]
        );
        assert_eq!(
            alter(&always, &serial),
            [
                "ALTER TABLE t ALTER COLUMN id DROP IDENTITY",
                "CREATE SEQUENCE IF NOT EXISTS t_id_seq",
                "ALTER TABLE t ALTER COLUMN id SET DEFAULT nextval('t_id_seq'::regclass)",
            ]
        );
    }

    #[test]
    fn alter_column_generated() {
        let plain = col("total", "integer");
        let mut generated = plain.clone();
        generated.generated = Some(Generated {
            expression: "(a + b)".into(),
            stored: true,
        });
        let mut to_table = users();
        to_table.name = "t".into();
        to_table.indexes = vec![Index {
            include: Vec::new(),
            name: "t_total_idx".into(),
            parts: vec![IndexPart {
                opclass: None,
                expression: "total".into(),
                is_column: true,
                descending: true,
            }],
            unique: false,
            predicate: None,
            method: None,
        }];
        let to = Schema {
            tables: vec![to_table],
            ..Schema::default()
        };
        assert_eq!(
            render(
                &[Change::AlterColumn {
                    table: "t".into(),
                    from: plain.clone(),
                    to: generated.clone()
                }],
                &Schema::default(),
                &to
            ),
            [
                "ALTER TABLE t DROP COLUMN total",
                "ALTER TABLE t ADD COLUMN total integer GENERATED ALWAYS AS ((a + b)) STORED",
                "CREATE INDEX t_total_idx ON t (total DESC)",
            ]
        );
        assert_eq!(
            one(Change::AlterColumn {
                table: "t".into(),
                from: generated,
                to: plain
            }),
            ["ALTER TABLE t ALTER COLUMN total DROP EXPRESSION"]
        );
    }

    #[test]
    fn primary_keys() {
        let pk = |name: Option<&str>, cols: &[&str]| PrimaryKey {
            name: name.map(str::to_string),
            columns: cols.iter().map(|c| c.to_string()).collect(),
        };
        assert_eq!(
            one(Change::SetPrimaryKey {
                table: "t".into(),
                from: Some(pk(Some("t_pk"), &["a"])),
                to: Some(pk(Some("t_pkey"), &["a", "b"])),
            }),
            [
                "ALTER TABLE t DROP CONSTRAINT t_pk",
                "ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY (a, b)",
            ]
        );
        assert_eq!(
            one(Change::SetPrimaryKey {
                table: "t".into(),
                from: Some(pk(None, &["a"])),
                to: None,
            }),
            ["ALTER TABLE t DROP CONSTRAINT t_pkey"]
        );
        assert_eq!(
            one(Change::SetPrimaryKey {
                table: "t".into(),
                from: None,
                to: Some(pk(None, &["a"])),
            }),
            ["ALTER TABLE t ADD PRIMARY KEY (a)"]
        );
        // A column leaving the key becomes nullable: the key goes first.
        let changes = [
            Change::AlterColumn {
                table: "t".into(),
                from: not_null(col("b", "integer")),
                to: col("b", "integer"),
            },
            Change::SetPrimaryKey {
                table: "t".into(),
                from: Some(pk(Some("t_pkey"), &["a", "b"])),
                to: Some(pk(Some("t_pkey"), &["a"])),
            },
        ];
        assert_eq!(
            render(&changes, &Schema::default(), &Schema::default()),
            [
                "ALTER TABLE t DROP CONSTRAINT t_pkey",
                "ALTER TABLE t ALTER COLUMN b DROP NOT NULL",
                "ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY (a)",
            ]
        );
    }

    #[test]
    fn indexes() {
        let index = Index {
            include: Vec::new(),
            name: "ix_docs".into(),
            parts: vec![
                IndexPart {
                    opclass: None,
                    expression: "Body".into(),
                    is_column: true,
                    descending: false,
                },
                IndexPart {
                    opclass: None,
                    expression: "(a + b)".into(),
                    is_column: false,
                    descending: true,
                },
            ],
            unique: true,
            predicate: Some("(deleted_at IS NULL)".into()),
            method: None,
        };
        assert_eq!(
            one(Change::CreateIndex {
                table: "docs".into(),
                index: index.clone()
            }),
            ["CREATE UNIQUE INDEX ix_docs ON docs (\"Body\", ((a + b)) DESC) WHERE (deleted_at IS NULL)"]
        );
        let gin = Index {
            include: Vec::new(),
            name: "docs_tags".into(),
            parts: vec![IndexPart {
                opclass: None,
                expression: "tags".into(),
                is_column: true,
                descending: false,
            }],
            unique: false,
            predicate: None,
            method: Some("gin".into()),
        };
        assert_eq!(
            one(Change::CreateIndex {
                table: "docs".into(),
                index: gin
            }),
            ["CREATE INDEX docs_tags ON docs USING gin (tags)"]
        );
        assert_eq!(
            one(Change::DropIndex {
                table: "docs".into(),
                index
            }),
            ["DROP INDEX ix_docs"]
        );
    }

    #[test]
    fn constraints() {
        let unique = Unique {
            deferrable: None,
            name: Some("u_email".into()),
            columns: vec!["email".into()],
        };
        assert_eq!(
            one(Change::AddUnique {
                table: "users".into(),
                unique: unique.clone()
            }),
            ["ALTER TABLE users ADD CONSTRAINT u_email UNIQUE (email)"]
        );
        assert_eq!(
            one(Change::DropUnique {
                table: "users".into(),
                unique
            }),
            ["ALTER TABLE users DROP CONSTRAINT u_email"]
        );
        assert_eq!(
            one(Change::DropUnique {
                table: "users".into(),
                unique: Unique {
                    deferrable: None,
                    name: None,
                    columns: vec!["a".into(), "b".into()]
                }
            }),
            ["ALTER TABLE users DROP CONSTRAINT users_a_b_key"]
        );
        let check = Check {
            name: None,
            expression: "(age >= 0)".into(),
            column_level: false,
        };
        assert_eq!(
            one(Change::AddCheck {
                table: "users".into(),
                check: check.clone()
            }),
            ["ALTER TABLE users ADD CHECK ((age >= 0))"]
        );
        assert_eq!(
            one(Change::DropCheck {
                table: "users".into(),
                check: Check {
                    name: Some("users_age_check".into()),
                    ..check
                }
            }),
            ["ALTER TABLE users DROP CONSTRAINT users_age_check"]
        );
        let mut f = fk(Some("posts_user_fk"));
        f.on_update = FkAction::SetNull;
        assert_eq!(
            one(Change::AddForeignKey {
                table: "posts".into(),
                foreign_key: f.clone()
            }),
            ["ALTER TABLE posts ADD CONSTRAINT posts_user_fk FOREIGN KEY (user_id) REFERENCES users (id) \
              ON UPDATE SET NULL ON DELETE CASCADE"]
        );
        assert_eq!(
            one(Change::DropForeignKey {
                table: "posts".into(),
                foreign_key: f
            }),
            ["ALTER TABLE posts DROP CONSTRAINT posts_user_fk"]
        );
        assert_eq!(
            one(Change::DropForeignKey {
                table: "posts".into(),
                foreign_key: fk(None)
            }),
            ["ALTER TABLE posts DROP CONSTRAINT posts_user_id_fkey"]
        );
    }

    #[test]
    fn comments_triggers_views() {
        assert_eq!(
            one(Change::SetTableComment {
                table: "users".into(),
                from: None,
                to: Some("People".into())
            }),
            ["COMMENT ON TABLE users IS 'People'"]
        );
        assert_eq!(
            one(Change::SetTableComment {
                table: "users".into(),
                from: Some("People".into()),
                to: None
            }),
            ["COMMENT ON TABLE users IS NULL"]
        );
        let trigger = Trigger {
            name: "touch".into(),
            sql: "CREATE TRIGGER touch BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION f()".into(),
        };
        assert_eq!(
            one(Change::CreateTrigger {
                table: "users".into(),
                trigger: trigger.clone()
            }),
            std::slice::from_ref(&trigger.sql)
        );
        assert_eq!(
            one(Change::DropTrigger {
                table: "users".into(),
                trigger
            }),
            ["DROP TRIGGER touch ON users"]
        );
        let view = View {
            indexes: Vec::new(),
            materialized: false,
            name: "active".into(),
            definition: "SELECT users.id\n   FROM users".into(),
            sql: None,
        };
        assert_eq!(
            one(Change::CreateView(view.clone())),
            ["CREATE VIEW active AS\nSELECT users.id\n   FROM users"]
        );
        assert_eq!(one(Change::DropView(view)), ["DROP VIEW active"]);
    }

    #[test]
    fn enums() {
        let mood = EnumType {
            name: "mood".into(),
            values: vec!["sad".into(), "ok".into()],
        };
        assert_eq!(
            one(Change::CreateEnum(mood.clone())),
            ["CREATE TYPE mood AS ENUM ('sad', 'ok')"]
        );
        assert_eq!(one(Change::DropEnum(mood.clone())), ["DROP TYPE mood"]);
        assert_eq!(
            one(Change::AddEnumValues {
                name: "mood".into(),
                values: vec!["happy".into(), "it's".into()]
            }),
            [
                "ALTER TYPE mood ADD VALUE 'happy'",
                "ALTER TYPE mood ADD VALUE 'it''s'"
            ]
        );
    }

    #[test]
    fn recreate_enum_moves_columns() {
        let from_e = EnumType {
            name: "mood".into(),
            values: vec!["sad".into(), "ok".into(), "happy".into()],
        };
        let to_e = EnumType {
            name: "mood".into(),
            values: vec!["ok".into(), "happy".into()],
        };
        let mut m = not_null(col("m", "mood"));
        m.default = Some("'ok'::mood".into());
        let table = Table {
            name: "people".into(),
            columns: vec![col("id", "integer"), m, col("history", "mood[]")],
            ..Table::default()
        };
        let s = Schema {
            tables: vec![table],
            ..Schema::default()
        };
        assert_eq!(
            render(
                &[Change::RecreateEnum {
                    from: from_e,
                    to: to_e
                }],
                &s,
                &s
            ),
            [
                "ALTER TYPE mood RENAME TO mood__old",
                "CREATE TYPE mood AS ENUM ('ok', 'happy')",
                "ALTER TABLE people ALTER COLUMN m DROP DEFAULT",
                "ALTER TABLE people ALTER COLUMN m TYPE mood USING m::text::mood",
                "ALTER TABLE people ALTER COLUMN m SET DEFAULT 'ok'::mood",
                "ALTER TABLE people ALTER COLUMN history TYPE mood[] USING history::text[]::mood[]",
                "DROP TYPE mood__old",
            ]
        );
    }
}
