//! The dialect-neutral schema model that introspection produces and the diff compares, and the closed set of
//! changes the diff yields. Both sides of a comparison are read from the same kind of server by the same
//! introspection code, so types, defaults and expressions arrive already normalised by the server.

mod diff;
mod filter;

use serde::{Deserialize, Serialize};

pub use diff::{diff, mentions, DiffOptions, RenameHints};
pub use filter::ObjectFilter;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Schema {
    /// PostgreSQL schemas other than the current one that were compared (`schemas` in the config) and
    /// exist; their objects are named `schema.name`, the current schema's unqualified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemas: Vec<String>,
    /// Sorted by name.
    pub tables: Vec<Table>,
    /// Sorted by name.
    pub views: Vec<View>,
    /// PostgreSQL enum types, sorted by name.
    pub enums: Vec<EnumType>,
    /// PostgreSQL sequences that no column owns (a `serial` column's and an identity's are part of the
    /// column), sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sequences: Vec<Sequence>,
    /// PostgreSQL functions and procedures (not an extension's), sorted by signature.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<Function>,
    /// What `Table::options` are relative to (MySQL: the database's `ENGINE=`, `DEFAULT CHARSET=` and
    /// `COLLATE=`): a table option equal to its default is not listed, and dropping one restores this.
    /// Not compared: two databases may have different defaults and still hold the same tables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub defaults: Vec<String>,
}

impl Schema {
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    pub fn view(&self, name: &str) -> Option<&View> {
        self.views.iter().find(|v| v.name == name)
    }

    /// Sort every list so that two inspections of the same schema compare equal.
    pub fn normalise(&mut self) {
        self.schemas.sort();
        self.tables.sort_by(|a, b| a.name.cmp(&b.name));
        self.views.sort_by(|a, b| a.name.cmp(&b.name));
        for v in &mut self.views {
            v.indexes.sort_by(|a, b| a.name.cmp(&b.name));
        }
        self.enums.sort_by(|a, b| a.name.cmp(&b.name));
        self.sequences.sort_by(|a, b| a.name.cmp(&b.name));
        self.functions.sort_by(|a, b| a.signature.cmp(&b.signature));
        for t in &mut self.tables {
            t.indexes.sort_by(|a, b| a.name.cmp(&b.name));
            t.uniques
                .sort_by(|a, b| a.columns.cmp(&b.columns).then(a.name.cmp(&b.name)));
            t.checks
                .sort_by(|a, b| a.expression.cmp(&b.expression).then(a.name.cmp(&b.name)));
            t.foreign_keys.sort_by(|a, b| {
                (&a.columns, &a.ref_table, &a.ref_columns).cmp(&(
                    &b.columns,
                    &b.ref_table,
                    &b.ref_columns,
                ))
            });
            t.triggers.sort_by(|a, b| a.name.cmp(&b.name));
            t.exclusions.sort_by(|a, b| a.name.cmp(&b.name));
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    /// In column order.
    pub columns: Vec<Column>,
    pub primary_key: Option<PrimaryKey>,
    /// Indexes that are not backing a primary-key or unique constraint.
    pub indexes: Vec<Index>,
    pub uniques: Vec<Unique>,
    pub checks: Vec<Check>,
    pub foreign_keys: Vec<ForeignKey>,
    pub comment: Option<String>,
    /// Triggers on the table, kept verbatim (a SQLite table rebuild must recreate them).
    pub triggers: Vec<Trigger>,
    /// Table options that change how rows are stored, upper-case and sorted: SQLite's `STRICT` and
    /// `WITHOUT ROWID`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// PostgreSQL exclusion constraints, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclusions: Vec<Exclusion>,
}

/// A PostgreSQL `EXCLUDE` constraint, kept as the server prints it (`EXCLUDE USING gist (during WITH &&)`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusion {
    pub name: String,
    pub definition: String,
}

impl Table {
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    /// The type as the server spells it (`integer`, `character varying(255)`, `varchar(255)`, `INTEGER`).
    pub data_type: String,
    pub nullable: bool,
    /// The default expression as the server reports it.
    pub default: Option<String>,
    pub identity: Option<Identity>,
    /// PostgreSQL identity sequence options that differ from their defaults, each as written in
    /// `GENERATED ... AS IDENTITY (...)`: `START WITH 1000`, `INCREMENT BY 10`, `CYCLE`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub identity_options: Vec<String>,
    pub generated: Option<Generated>,
    pub comment: Option<String>,
    /// A collation other than the type's default (PostgreSQL) or the table's (MySQL); SQLite keeps
    /// `COLLATE` in `data_type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collation: Option<String>,
}

impl Column {
    pub fn new(name: impl Into<String>, data_type: impl Into<String>) -> Column {
        Column {
            identity_options: Vec::new(),
            name: name.into(),
            data_type: data_type.into(),
            nullable: true,
            default: None,
            identity: None,
            generated: None,
            comment: None,
            collation: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Identity {
    /// PostgreSQL `GENERATED ALWAYS AS IDENTITY`.
    Always,
    /// PostgreSQL `GENERATED BY DEFAULT AS IDENTITY`.
    ByDefault,
    /// MySQL `AUTO_INCREMENT`, SQLite `AUTOINCREMENT`.
    AutoIncrement,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generated {
    pub expression: String,
    pub stored: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrimaryKey {
    pub name: Option<String>,
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    pub parts: Vec<IndexPart>,
    pub unique: bool,
    /// `WHERE` of a partial index.
    pub predicate: Option<String>,
    /// Access method when not the default (`gin`, `hash`, `FULLTEXT`, ...).
    pub method: Option<String>,
    /// PostgreSQL `INCLUDE (...)`: columns stored in the index, not part of its key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexPart {
    /// A column name, or an expression when `is_column` is false.
    pub expression: String,
    pub is_column: bool,
    pub descending: bool,
    /// A PostgreSQL operator class other than the type's default (`text_pattern_ops`, `gin_trgm_ops`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opclass: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unique {
    pub name: Option<String>,
    pub columns: Vec<String>,
    /// PostgreSQL `DEFERRABLE [INITIALLY DEFERRED]`, as written there; `None`: not deferrable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferrable: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: Option<String>,
    /// The condition, without `CHECK`, as the server prints it.
    pub expression: String,
    /// Declared inside a column definition (MariaDB keeps the level: such a check carries the column's name
    /// and a `MODIFY COLUMN` replaces it). Table-level everywhere else.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub column_level: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignKey {
    pub name: Option<String>,
    pub columns: Vec<String>,
    pub ref_table: String,
    pub ref_columns: Vec<String>,
    pub on_delete: FkAction,
    pub on_update: FkAction,
    /// `DEFERRABLE [INITIALLY DEFERRED]` (PostgreSQL); `None`: not deferrable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deferrable: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FkAction {
    #[default]
    NoAction,
    Restrict,
    Cascade,
    SetNull,
    SetDefault,
}

impl FkAction {
    pub fn sql(self) -> &'static str {
        match self {
            FkAction::NoAction => "NO ACTION",
            FkAction::Restrict => "RESTRICT",
            FkAction::Cascade => "CASCADE",
            FkAction::SetNull => "SET NULL",
            FkAction::SetDefault => "SET DEFAULT",
        }
    }

    /// Parse `CASCADE`, `set null`, PostgreSQL's one-letter codes (`a r c n d`).
    pub fn parse(text: &str) -> FkAction {
        match text.trim().to_ascii_uppercase().as_str() {
            "CASCADE" | "C" => FkAction::Cascade,
            "RESTRICT" | "R" => FkAction::Restrict,
            "SET NULL" | "N" => FkAction::SetNull,
            "SET DEFAULT" | "D" => FkAction::SetDefault,
            _ => FkAction::NoAction,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trigger {
    pub name: String,
    /// The complete `CREATE TRIGGER` statement.
    pub sql: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct View {
    pub name: String,
    /// The query, as the server prints it (without `CREATE VIEW … AS`).
    pub definition: String,
    /// SQLite keeps the original statement; rebuilding a table recreates views from it.
    pub sql: Option<String>,
    /// PostgreSQL `MATERIALIZED VIEW`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub materialized: bool,
    /// A materialized view's indexes (a unique one lets `REFRESH ... CONCURRENTLY` run), sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Index>,
}

/// A free-standing sequence (`CREATE SEQUENCE invoice_no START 1000`), with every option as the server
/// reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sequence {
    pub name: String,
    /// `bigint`, `integer`, `smallint`.
    pub data_type: String,
    pub start: i64,
    pub increment: i64,
    pub min: i64,
    pub max: i64,
    pub cache: i64,
    pub cycle: bool,
}

/// A PostgreSQL function or procedure, kept opaque: its signature and its definition as
/// `pg_get_functiondef` prints it (`CREATE OR REPLACE FUNCTION ...`), which reads back the same.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Function {
    /// `touch_updated_at()`, `add(integer, integer)`.
    pub signature: String,
    pub definition: String,
}

impl Function {
    /// `FUNCTION` or `PROCEDURE`, as `DROP` needs it.
    pub fn kind(&self) -> &'static str {
        if self.definition.contains(" PROCEDURE ") {
            "PROCEDURE"
        } else {
            "FUNCTION"
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumType {
    pub name: String,
    pub values: Vec<String>,
}

/// One schema change. The diff yields them in an order that can be applied as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// A PostgreSQL schema (namespace) for objects named `schema.name`.
    CreateSchema(String),
    DropSchema(String),
    CreateEnum(EnumType),
    DropEnum(EnumType),
    CreateFunction(Function),
    DropFunction(Function),
    /// A function's body or attributes changed (same signature): `CREATE OR REPLACE`.
    ReplaceFunction {
        from: Function,
        to: Function,
    },
    CreateSequence(Sequence),
    DropSequence(Sequence),
    /// Options of a sequence changed (its current value is left alone).
    AlterSequence {
        from: Sequence,
        to: Sequence,
    },
    /// Values appended to an enum (PostgreSQL can add values, not remove them).
    AddEnumValues {
        name: String,
        values: Vec<String>,
    },
    /// An enum whose values changed in a way `ADD VALUE` cannot express; the renderer recreates it.
    RecreateEnum {
        from: EnumType,
        to: EnumType,
    },
    CreateTable(Table),
    DropTable(Table),
    RenameTable {
        from: String,
        to: String,
    },
    AddColumn {
        table: String,
        column: Column,
    },
    DropColumn {
        table: String,
        column: Column,
    },
    RenameColumn {
        table: String,
        from: String,
        to: String,
    },
    /// Type, nullability, default, identity, generated expression or comment changed.
    AlterColumn {
        table: String,
        from: Column,
        to: Column,
    },
    SetPrimaryKey {
        table: String,
        from: Option<PrimaryKey>,
        to: Option<PrimaryKey>,
    },
    CreateIndex {
        table: String,
        index: Index,
    },
    DropIndex {
        table: String,
        index: Index,
    },
    /// The same index under a new name (`index` as it is to be).
    RenameIndex {
        table: String,
        from: String,
        index: Index,
    },
    AddUnique {
        table: String,
        unique: Unique,
    },
    DropUnique {
        table: String,
        unique: Unique,
    },
    AddCheck {
        table: String,
        check: Check,
    },
    AddExclusion {
        table: String,
        exclusion: Exclusion,
    },
    DropExclusion {
        table: String,
        exclusion: Exclusion,
    },
    DropCheck {
        table: String,
        check: Check,
    },
    AddForeignKey {
        table: String,
        foreign_key: ForeignKey,
    },
    DropForeignKey {
        table: String,
        foreign_key: ForeignKey,
    },
    SetTableComment {
        table: String,
        from: Option<String>,
        to: Option<String>,
    },
    /// `Table::options` changed (SQLite: a rebuild).
    SetTableOptions {
        table: String,
        from: Vec<String>,
        to: Vec<String>,
    },
    CreateTrigger {
        table: String,
        trigger: Trigger,
    },
    DropTrigger {
        table: String,
        trigger: Trigger,
    },
    CreateView(View),
    DropView(View),
}

impl Change {
    /// The table this change is about, if any.
    pub fn table(&self) -> Option<&str> {
        Some(match self {
            Change::CreateTable(t) | Change::DropTable(t) => &t.name,
            Change::RenameTable { to, .. } => to,
            Change::AddColumn { table, .. }
            | Change::DropColumn { table, .. }
            | Change::RenameColumn { table, .. }
            | Change::AlterColumn { table, .. }
            | Change::SetPrimaryKey { table, .. }
            | Change::CreateIndex { table, .. }
            | Change::DropIndex { table, .. }
            | Change::RenameIndex { table, .. }
            | Change::AddUnique { table, .. }
            | Change::DropUnique { table, .. }
            | Change::AddCheck { table, .. }
            | Change::AddExclusion { table, .. }
            | Change::DropExclusion { table, .. }
            | Change::DropCheck { table, .. }
            | Change::AddForeignKey { table, .. }
            | Change::DropForeignKey { table, .. }
            | Change::SetTableComment { table, .. }
            | Change::SetTableOptions { table, .. }
            | Change::CreateTrigger { table, .. }
            | Change::DropTrigger { table, .. } => table,
            _ => return None,
        })
    }

    /// A warning when applying this change can lose data or fail on existing rows.
    pub fn warning(&self) -> Option<String> {
        match self {
            Change::DropTable(t) => Some(format!("drops table {} and all its rows", t.name)),
            Change::DropColumn { table, column } => {
                Some(format!("drops column {table}.{} and its data", column.name))
            }
            Change::AlterColumn { table, from, to } if from.data_type != to.data_type => Some(format!(
                "changes the type of {table}.{} from {} to {}; values that do not convert are lost or fail",
                to.name, from.data_type, to.data_type
            )),
            Change::AlterColumn { table, from, to } if from.nullable && !to.nullable => {
                Some(match (&to.default, &to.generated) {
                    (Some(d), None) => format!(
                        "makes {table}.{} NOT NULL; rows with NULL there get its default ({d}) first",
                        to.name
                    ),
                    _ => format!(
                        "makes {table}.{} NOT NULL; fails if a row has NULL there",
                        to.name
                    ),
                })
            }
            Change::DropEnum(e) => Some(format!("drops enum type {}", e.name)),
            Change::SetTableOptions { table, from, to }
                if from.iter().chain(to).any(|o| o.starts_with("PARTITION BY")) =>
            {
                Some(format!(
                    "changes how {table} is partitioned, which PostgreSQL cannot do in place: recreate the \
                     table and move its rows by hand"
                ))
            }
            Change::DropSequence(s) => Some(format!(
                "drops sequence {} and its current value",
                s.name
            )),
            Change::RecreateEnum { from, to } => {
                let removed: Vec<&String> = from.values.iter().filter(|v| !to.values.contains(v)).collect();
                (!removed.is_empty()).then(|| {
                    format!(
                        "removes value(s) {} from enum {}; rows using them make this fail",
                        removed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                        to.name
                    )
                })
            }
            _ => None,
        }
    }

    /// One line for people (`check`, `--dry-run` summaries).
    pub fn describe(&self) -> String {
        match self {
            Change::CreateSchema(s) => format!("create schema {s}"),
            Change::DropSchema(s) => format!("drop schema {s}"),
            Change::CreateEnum(e) => format!("create enum {}", e.name),
            Change::DropEnum(e) => format!("drop enum {}", e.name),
            Change::CreateSequence(s) => format!("create sequence {}", s.name),
            Change::CreateFunction(f) => format!("create function {}", f.signature),
            Change::DropFunction(f) => format!("drop function {}", f.signature),
            Change::ReplaceFunction { to, .. } => format!("replace function {}", to.signature),
            Change::DropSequence(s) => format!("drop sequence {}", s.name),
            Change::AlterSequence { to, .. } => format!("alter sequence {}", to.name),
            Change::AddEnumValues { name, values } => {
                format!("add value(s) {} to enum {name}", values.join(", "))
            }
            Change::RecreateEnum { to, .. } => format!("change the values of enum {}", to.name),
            Change::CreateTable(t) => format!("create table {}", t.name),
            Change::DropTable(t) => format!("drop table {}", t.name),
            Change::RenameTable { from, to } => format!("rename table {from} to {to}"),
            Change::AddColumn { table, column } => format!("add column {table}.{}", column.name),
            Change::DropColumn { table, column } => format!("drop column {table}.{}", column.name),
            Change::RenameColumn { table, from, to } => {
                format!("rename column {table}.{from} to {to}")
            }
            Change::AlterColumn { table, to, .. } => format!("alter column {table}.{}", to.name),
            Change::SetPrimaryKey { table, .. } => format!("change the primary key of {table}"),
            Change::CreateIndex { table, index } => {
                format!("create index {} on {table}", index.name)
            }
            Change::DropIndex { table, index } => format!("drop index {} on {table}", index.name),
            Change::RenameIndex { table, from, index } => {
                format!("rename index {from} on {table} to {}", index.name)
            }
            Change::AddUnique { table, unique } => {
                format!("add unique ({}) on {table}", unique.columns.join(", "))
            }
            Change::DropUnique { table, unique } => {
                format!("drop unique ({}) on {table}", unique.columns.join(", "))
            }
            Change::AddCheck { table, check } => {
                format!("add check ({}) on {table}", check.expression)
            }
            Change::DropCheck { table, check } => {
                format!("drop check ({}) on {table}", check.expression)
            }
            Change::AddExclusion { table, exclusion } => {
                format!(
                    "add {} ({}) on {table}",
                    exclusion.name, exclusion.definition
                )
            }
            Change::DropExclusion { table, exclusion } => {
                format!(
                    "drop {} ({}) on {table}",
                    exclusion.name, exclusion.definition
                )
            }
            Change::AddForeignKey {
                table,
                foreign_key: fk,
            } => format!(
                "add foreign key {table}({}) -> {}({})",
                fk.columns.join(", "),
                fk.ref_table,
                fk.ref_columns.join(", ")
            ),
            Change::DropForeignKey {
                table,
                foreign_key: fk,
            } => format!(
                "drop foreign key {table}({}) -> {}",
                fk.columns.join(", "),
                fk.ref_table
            ),
            Change::SetTableComment { table, .. } => format!("set the comment of {table}"),
            Change::SetTableOptions { table, to, .. } => {
                if to.is_empty() {
                    format!("drop the table options of {table}")
                } else {
                    format!("set the table options of {table} to {}", to.join(", "))
                }
            }
            Change::CreateTrigger { table, trigger } => {
                format!("create trigger {} on {table}", trigger.name)
            }
            Change::DropTrigger { table, trigger } => {
                format!("drop trigger {} on {table}", trigger.name)
            }
            Change::CreateView(v) => format!("create view {}", v.name),
            Change::DropView(v) => format!("drop view {}", v.name),
        }
    }
}
