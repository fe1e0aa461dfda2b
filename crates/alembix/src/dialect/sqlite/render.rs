//! Rendering schema changes as SQL statements for SQLite.
//!
//! `ALTER TABLE` does little in SQLite: add a column (with limits), rename a table or a column, drop a column
//! (with limits). Every other change to a table is done by the official 12-step rebuild
//! (<https://www.sqlite.org/lang_altertable.html#otheralter>): create the new table under a temporary name,
//! copy the rows, drop the old table, rename the new one, recreate its indexes and triggers, and recreate the
//! views (and other tables' triggers) that mention it. All changes of one table go into one rebuild. Foreign
//! keys are off on our connections (SQLite's default), so the old table can be dropped while others reference
//! it; a `PRAGMA foreign_key_check` at the end proves the data still holds together (the executor fails the
//! migration when it returns rows).

use std::collections::{BTreeSet, HashMap, HashSet};

use super::inspect::{is_word, text, tokenize, Tok};
use crate::schema::{
    Change, Column, FkAction, ForeignKey, Identity, Index, Schema, Table, Trigger, View,
};

/// The statement run after rebuilds; the executor fails the migration when it returns rows.
pub const FOREIGN_KEY_CHECK: &str = "PRAGMA foreign_key_check";

/// Prefix of the temporary table a rebuild creates.
pub const REBUILD_PREFIX: &str = "_alembix_new_";

/// SQL statements (without terminators) that apply `changes`, which turn `from` into `to`.
pub fn render(changes: &[Change], from: &Schema, to: &Schema) -> Vec<String> {
    let plan = Plan::new(changes, from, to);
    let mut out = Vec::new();
    let mut deferred_views: Vec<View> = Vec::new();
    let rebuild_at = changes.iter().position(is_late).unwrap_or(changes.len());
    let mut recreate = Recreate::default();
    for (i, change) in changes.iter().enumerate() {
        if i == rebuild_at && !plan.rebuilt.is_empty() {
            recreate = plan.render_rebuilds(&mut out);
        }
        if let Change::CreateView(v) = change {
            deferred_views.push(v.clone());
            continue;
        }
        plan.render_change(change, &mut out);
    }
    if rebuild_at == changes.len() && !plan.rebuilt.is_empty() {
        recreate = plan.render_rebuilds(&mut out);
    }
    // Views last, each after the views it reads; then the triggers a rebuild took away.
    let created: HashSet<String> = deferred_views.iter().map(|v| v.name.clone()).collect();
    for v in recreate.views {
        if !created.contains(&v.name) {
            deferred_views.push(v);
        }
    }
    for v in order_views(deferred_views) {
        out.push(create_view_sql(&v));
    }
    for c in changes {
        if let Change::CreateTable(t) = c {
            out.extend(t.triggers.iter().map(|tr| tr.sql.clone()));
        }
    }
    for t in recreate.triggers {
        out.push(t.sql);
    }
    if !plan.rebuilt.is_empty() {
        out.push(FOREIGN_KEY_CHECK.to_string());
    }
    out
}

/// Changes from the "columns" phase of the diff on: the rebuilds go just before the first of them, after
/// the drops, renames and table creations.
fn is_late(c: &Change) -> bool {
    matches!(
        c,
        Change::AddColumn { .. }
            | Change::DropColumn { .. }
            | Change::RenameColumn { .. }
            | Change::AlterColumn { .. }
            | Change::SetPrimaryKey { .. }
            | Change::AddUnique { .. }
            | Change::AddCheck { .. }
            | Change::AddForeignKey { .. }
            | Change::CreateIndex { .. }
            | Change::RenameIndex { .. }
            | Change::SetTableComment { .. }
            | Change::SetTableOptions { .. }
            | Change::CreateTrigger { .. }
            | Change::CreateView(_)
            | Change::DropEnum(_)
            | Change::DropSequence(_)
            | Change::DropFunction(_)
            | Change::DropSchema(_)
    )
}

#[derive(Default)]
struct Recreate {
    views: Vec<View>,
    triggers: Vec<Trigger>,
}

/// What the change list means for SQLite: which tables are rebuilt, which foreign keys ride on an
/// `ADD COLUMN`, and the renames.
struct Plan<'a> {
    changes: &'a [Change],
    from: &'a Schema,
    to: &'a Schema,
    /// New table names, in the order of their first change.
    rebuilt: Vec<String>,
    /// new table name -> old table name
    table_renames: HashMap<String, String>,
    /// (new table name, new column name) -> old column name
    column_renames: HashMap<(String, String), String>,
    /// (table, column) -> the foreign key added with the column by `ADD COLUMN ... REFERENCES`.
    inline_fks: HashMap<(String, String), ForeignKey>,
}

impl<'a> Plan<'a> {
    fn new(changes: &'a [Change], from: &'a Schema, to: &'a Schema) -> Plan<'a> {
        let mut plan = Plan {
            changes,
            from,
            to,
            rebuilt: Vec::new(),
            table_renames: HashMap::new(),
            column_renames: HashMap::new(),
            inline_fks: HashMap::new(),
        };
        for c in changes {
            match c {
                Change::RenameTable { from, to } => {
                    plan.table_renames.insert(to.clone(), from.clone());
                }
                Change::RenameColumn { table, from, to } => {
                    plan.column_renames
                        .insert((table.clone(), to.clone()), from.clone());
                }
                _ => {}
            }
        }
        for c in changes {
            if let Change::AddForeignKey { table, foreign_key } = c {
                if let Some(col) = plan.inline_fk_column(table, foreign_key) {
                    plan.inline_fks
                        .insert((table.clone(), col), foreign_key.clone());
                }
            }
        }
        let mut rebuilt = Vec::new();
        for c in changes {
            if let Some(t) = plan.needs_rebuild(c) {
                if !rebuilt.contains(&t) {
                    rebuilt.push(t);
                }
            }
        }
        plan.rebuilt = rebuilt;
        plan
    }

    /// Names picked out of the change list (what the diff itself drops or creates).
    fn names(&self, pick: impl Fn(&'a Change) -> Option<&'a str>) -> HashSet<&'a str> {
        self.changes.iter().filter_map(pick).collect()
    }

    fn old_name<'b>(&'b self, new: &'b str) -> &'b str {
        self.table_renames.get(new).map_or(new, String::as_str)
    }

    /// The table as it was before the changes, by its new name.
    fn old_table(&self, new: &str) -> Option<&'a Table> {
        self.from.table(self.old_name(new))
    }

    fn is_rebuilt(&self, table: &str) -> bool {
        self.rebuilt.iter().any(|t| t == table)
    }

    /// The column a foreign key can be declared on with `ADD COLUMN ... REFERENCES`: a one-column key on a
    /// column added by this change list, addable, whose default is NULL.
    fn inline_fk_column(&self, table: &str, fk: &ForeignKey) -> Option<String> {
        let [col] = fk.columns.as_slice() else {
            return None;
        };
        let to_table = self.to.table(table)?;
        self.old_table(table)?;
        let added = self.changes.iter().any(|c| {
            matches!(c, Change::AddColumn { table: t, column } if t == table && column.name == *col)
        });
        let column = to_table.column(col)?;
        let null_default = column
            .default
            .as_deref()
            .is_none_or(|d| d.eq_ignore_ascii_case("NULL"));
        (added && null_default && can_add_column(to_table, column)).then(|| col.clone())
    }

    /// The table this change forces to rebuild, if any.
    fn needs_rebuild(&self, c: &Change) -> Option<String> {
        let table = c.table()?;
        // Only a table that exists on both sides is rebuilt (a dropped table takes its constraints along).
        let to_table = self.to.table(table)?;
        let from_table = self.old_table(table)?;
        let rebuild = match c {
            Change::AlterColumn { .. }
            | Change::SetPrimaryKey { .. }
            | Change::AddUnique { .. }
            | Change::DropUnique { .. }
            | Change::AddCheck { .. }
            | Change::DropCheck { .. }
            | Change::DropForeignKey { .. }
            | Change::SetTableOptions { .. } => true,
            Change::AddForeignKey { foreign_key, .. } => {
                foreign_key.columns.first().is_none_or(|col| {
                    self.inline_fks.get(&(table.to_string(), col.clone())) != Some(foreign_key)
                })
            }
            Change::AddColumn { column, .. } => !can_add_column(to_table, column),
            Change::DropColumn { column, .. } => !self.can_drop_column(from_table, column),
            _ => false,
        };
        rebuild.then(|| table.to_string())
    }

    /// Whether `ALTER TABLE ... DROP COLUMN` works, conservatively: SQLite refuses it for a column in a
    /// key, an index, a constraint, a generated expression, a trigger or a view.
    fn can_drop_column(&self, table: &Table, column: &Column) -> bool {
        let name = column.name.as_str();
        let dropped_index = |i: &Index| {
            self.changes
                .iter()
                .any(|c| matches!(c, Change::DropIndex { index, .. } if index.name == i.name))
        };
        let dropped_trigger = |t: &Trigger| {
            self.changes
                .iter()
                .any(|c| matches!(c, Change::DropTrigger { trigger, .. } if trigger.name == t.name))
        };
        let dropped_view = |v: &View| {
            self.changes
                .iter()
                .any(|c| matches!(c, Change::DropView(x) if x.name == v.name))
        };
        let same = |c: &String| c.eq_ignore_ascii_case(name);
        // A generated column itself can be dropped (only one that others' expressions use cannot).
        if column.identity.is_some()
            || table
                .primary_key
                .as_ref()
                .is_some_and(|pk| pk.columns.iter().any(same))
            || table.uniques.iter().any(|u| u.columns.iter().any(same))
            || table
                .foreign_keys
                .iter()
                .any(|fk| fk.columns.iter().any(same))
            || table.checks.iter().any(|c| mentions(&c.expression, name))
            || table.columns.iter().any(|c| {
                c.generated
                    .as_ref()
                    .is_some_and(|g| mentions(&g.expression, name))
            })
        {
            return false;
        }
        let indexed = table.indexes.iter().filter(|i| !dropped_index(i)).any(|i| {
            i.predicate.as_deref().is_some_and(|p| mentions(p, name))
                || i.parts.iter().any(|p| {
                    if p.is_column {
                        same(&p.expression)
                    } else {
                        mentions(&p.expression, name)
                    }
                })
        });
        let referenced = self.from.tables.iter().any(|t| {
            t.foreign_keys.iter().any(|fk| {
                fk.ref_table.eq_ignore_ascii_case(&table.name) && fk.ref_columns.iter().any(same)
            })
        });
        let in_trigger = self
            .from
            .tables
            .iter()
            .flat_map(|t| &t.triggers)
            .filter(|t| !dropped_trigger(t))
            .any(|t| mentions(&t.sql, name));
        let in_view = self
            .from
            .views
            .iter()
            .filter(|v| !dropped_view(v))
            .any(|v| mentions(v.sql.as_deref().unwrap_or(&v.definition), name));
        !(indexed || referenced || in_trigger || in_view)
    }

    /// One change that is not part of a rebuild.
    fn render_change(&self, change: &Change, out: &mut Vec<String>) {
        if let Some(t) = change.table() {
            // Part of the rebuild; a trigger to drop still goes first (its body may mention another
            // rebuilt table, which would break that table's rename).
            let keep = matches!(
                change,
                Change::RenameTable { .. } | Change::DropTrigger { .. }
            );
            if self.is_rebuilt(t) && !keep {
                return;
            }
        }
        match change {
            Change::CreateTable(t) => {
                // Its indexes here; its triggers at the end (see `render`).
                out.push(create_table_sql(t, &t.name));
                out.extend(t.indexes.iter().map(|i| create_index_sql(&t.name, i)));
            }
            Change::DropTable(t) => out.push(format!("DROP TABLE {}", quote(&t.name))),
            Change::RenameTable { from, to } => out.push(format!(
                "ALTER TABLE {} RENAME TO {}",
                quote(from),
                quote(to)
            )),
            Change::AddColumn { table, column } => {
                let mut sql = format!(
                    "ALTER TABLE {} ADD COLUMN {}",
                    quote(table),
                    column_sql(column, None)
                );
                if let Some(fk) = self.inline_fks.get(&(table.clone(), column.name.clone())) {
                    sql.push(' ');
                    sql.push_str(&references_sql(fk, true));
                }
                out.push(sql);
            }
            Change::DropColumn { table, column } => out.push(format!(
                "ALTER TABLE {} DROP COLUMN {}",
                quote(table),
                quote(&column.name)
            )),
            Change::RenameColumn { table, from, to } => out.push(format!(
                "ALTER TABLE {} RENAME COLUMN {} TO {}",
                quote(table),
                quote(from),
                quote(to)
            )),
            Change::AddForeignKey { .. } => {} // inline in ADD COLUMN (anything else rebuilds)
            Change::CreateIndex { table, index } => out.push(create_index_sql(table, index)),
            Change::DropIndex { index, .. } => {
                out.push(format!("DROP INDEX {}", quote(&index.name)))
            }
            // SQLite cannot rename an index: the same index is made again under the new name.
            Change::RenameIndex { table, from, index } => {
                out.push(format!("DROP INDEX {}", quote(from)));
                out.push(create_index_sql(table, index));
            }
            Change::CreateTrigger { trigger, .. } => out.push(trigger.sql.clone()),
            Change::DropTrigger { trigger, .. } => {
                out.push(format!("DROP TRIGGER {}", quote(&trigger.name)))
            }
            Change::CreateView(v) => out.push(create_view_sql(v)),
            Change::DropView(v) => out.push(format!("DROP VIEW {}", quote(&v.name))),
            // No comments, no enums in SQLite; the rest always rebuilds (see `needs_rebuild`).
            Change::SetTableComment { .. }
            | Change::SetTableOptions { .. }
            | Change::CreateEnum(_)
            | Change::DropEnum(_)
            | Change::CreateSequence(_)
            | Change::DropSequence(_)
            | Change::AlterSequence { .. }
            | Change::AddExclusion { .. }
            | Change::DropExclusion { .. }
            | Change::CreateFunction(_)
            | Change::DropFunction(_)
            | Change::ReplaceFunction { .. }
            | Change::CreateSchema(_)
            | Change::DropSchema(_)
            | Change::AddEnumValues { .. }
            | Change::RecreateEnum { .. }
            | Change::AlterColumn { .. }
            | Change::SetPrimaryKey { .. }
            | Change::AddUnique { .. }
            | Change::DropUnique { .. }
            | Change::AddCheck { .. }
            | Change::DropCheck { .. }
            | Change::DropForeignKey { .. } => {}
        }
    }

    /// Drop what would break the renames of the rebuilds (views and triggers that mention a rebuilt table),
    /// rebuild every table, and say what to recreate at the end.
    fn render_rebuilds(&self, out: &mut Vec<String>) -> Recreate {
        let mut names: Vec<&str> = Vec::new();
        for t in &self.rebuilt {
            names.push(t);
            names.push(self.old_name(t));
        }
        let mentions_rebuilt = |sql: &str| names.iter().any(|n| mentions(sql, n));

        // Views that still exist here (the diff's own drops come first), and those that read them.
        let dropped_by_diff: HashSet<&str> = self.names(|c| match c {
            Change::DropView(v) => Some(v.name.as_str()),
            _ => None,
        });
        let existing: Vec<&View> = self
            .from
            .views
            .iter()
            .filter(|v| !dropped_by_diff.contains(v.name.as_str()))
            .collect();
        let mut drop_views: Vec<&View> = Vec::new();
        loop {
            let more: Vec<&View> = existing
                .iter()
                .copied()
                .filter(|v| !drop_views.iter().any(|d| d.name == v.name))
                .filter(|v| {
                    let sql = view_text(v);
                    mentions_rebuilt(sql) || drop_views.iter().any(|d| mentions(sql, &d.name))
                })
                .collect();
            if more.is_empty() {
                break;
            }
            drop_views.extend(more);
        }
        for v in drop_views.iter().rev() {
            out.push(format!("DROP VIEW {}", quote(&v.name)));
        }

        // Triggers on the rebuilt tables, or whose body mentions one.
        let dropped_tables: HashSet<&str> = self.names(|c| match c {
            Change::DropTable(t) => Some(t.name.as_str()),
            _ => None,
        });
        let dropped_triggers: HashSet<&str> = self.names(|c| match c {
            Change::DropTrigger { trigger, .. } => Some(trigger.name.as_str()),
            _ => None,
        });
        let rebuilt_old: HashSet<&str> = self.rebuilt.iter().map(|t| self.old_name(t)).collect();
        let mut drop_triggers: Vec<&str> = Vec::new();
        for t in self
            .from
            .tables
            .iter()
            .filter(|t| !dropped_tables.contains(t.name.as_str()))
        {
            for tr in &t.triggers {
                if dropped_triggers.contains(tr.name.as_str()) {
                    continue;
                }
                if rebuilt_old.contains(t.name.as_str()) || mentions_rebuilt(&tr.sql) {
                    out.push(format!("DROP TRIGGER {}", quote(&tr.name)));
                    drop_triggers.push(&tr.name);
                }
            }
        }

        for name in &self.rebuilt {
            if let (Some(old), Some(new)) = (self.old_table(name), self.to.table(name)) {
                out.extend(self.rebuild_sql(old, new));
            }
        }

        // What to put back: views in `to` that were dropped here (unless the diff creates them), the rebuilt
        // tables' triggers, and the other triggers dropped here (unless the diff creates them).
        let created_triggers: HashSet<&str> = self.names(|c| match c {
            Change::CreateTrigger { trigger, .. } => Some(trigger.name.as_str()),
            _ => None,
        });
        let mut recreate = Recreate::default();
        for v in &drop_views {
            if let Some(v) = self.to.view(&v.name) {
                recreate.views.push(v.clone());
            }
        }
        for t in &self.to.tables {
            let rebuilt = self.is_rebuilt(&t.name);
            for tr in &t.triggers {
                let dropped_here = drop_triggers.contains(&tr.name.as_str());
                if rebuilt || (dropped_here && !created_triggers.contains(tr.name.as_str())) {
                    recreate.triggers.push(tr.clone());
                }
            }
        }
        recreate
    }

    /// The rebuild of one table, from its old shape to its new one.
    fn rebuild_sql(&self, old: &Table, new: &Table) -> Vec<String> {
        let name = new.name.as_str();
        let tmp = format!("{REBUILD_PREFIX}{name}");
        let mut out = vec![create_table_sql(new, &tmp)];

        let mut targets = Vec::new();
        let mut sources = Vec::new();
        let mut warnings = Vec::new();
        for c in new.columns.iter().filter(|c| c.generated.is_none()) {
            let source_name = self
                .column_renames
                .get(&(name.to_string(), c.name.clone()))
                .cloned()
                .unwrap_or_else(|| c.name.clone());
            match old.column(&source_name) {
                Some(src) => {
                    targets.push(quote(&c.name));
                    let mut expr = quote(&src.name);
                    if !c.nullable && src.nullable {
                        if let Some(d) = &c.default {
                            expr = format!("COALESCE({expr}, {})", default_sql(d));
                        }
                    }
                    sources.push(expr);
                }
                None => {
                    let rowid = is_rowid_alias(new, c);
                    if !c.nullable && c.default.is_none() && c.identity.is_none() && !rowid {
                        warnings.push(format!(
                            "-- WARNING: {name}.{} is NOT NULL without a default: copying existing rows fails",
                            c.name
                        ));
                    }
                }
            }
        }
        if targets.is_empty() {
            warnings.push(format!(
                "-- WARNING: no column of {name} is kept: its rows are not copied"
            ));
        } else {
            let mut sql = warnings.join("\n");
            if !sql.is_empty() {
                sql.push('\n');
            }
            sql.push_str(&format!(
                "INSERT INTO {} ({}) SELECT {} FROM {}",
                quote(&tmp),
                targets.join(", "),
                sources.join(", "),
                quote(name)
            ));
            out.push(sql);
            warnings.clear();
        }
        if new
            .columns
            .iter()
            .any(|c| c.identity == Some(Identity::AutoIncrement))
        {
            // Keep the AUTOINCREMENT counter: ids of deleted rows are never reused.
            let (t, n) = (string_literal(&tmp), string_literal(name));
            out.push(format!(
                "UPDATE sqlite_sequence SET seq = (SELECT max(seq) FROM sqlite_sequence WHERE name IN ({t}, {n})) \
                 WHERE name = {t}"
            ));
            out.push(format!(
                "INSERT INTO sqlite_sequence (name, seq) SELECT {t}, seq FROM sqlite_sequence WHERE name = {n} \
                 AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = {t})"
            ));
        }
        let mut drop = warnings.join("\n");
        if !drop.is_empty() {
            drop.push('\n');
        }
        drop.push_str(&format!("DROP TABLE {}", quote(name)));
        out.push(drop);
        out.push(format!(
            "ALTER TABLE {} RENAME TO {}",
            quote(&tmp),
            quote(name)
        ));
        for i in &new.indexes {
            out.push(create_index_sql(name, i));
        }
        out
    }
}

fn view_text(v: &View) -> &str {
    v.sql.as_deref().unwrap_or(&v.definition)
}

/// Whether `ALTER TABLE ... ADD COLUMN` can add this column: not in the key or a unique constraint, not
/// STORED, a constant default (not `CURRENT_*`, not an expression), and a non-NULL default when NOT NULL.
pub fn can_add_column(table: &Table, column: &Column) -> bool {
    let same = |c: &String| c.eq_ignore_ascii_case(&column.name);
    if column.identity.is_some()
        || table
            .primary_key
            .as_ref()
            .is_some_and(|pk| pk.columns.iter().any(same))
        || table.uniques.iter().any(|u| u.columns.iter().any(same))
    {
        return false;
    }
    if let Some(g) = &column.generated {
        return !g.stored && column.nullable && column.default.is_none();
    }
    match column.default.as_deref() {
        None => column.nullable,
        Some(d) => {
            let constant = is_literal(d) && !d.to_ascii_uppercase().starts_with("CURRENT_");
            constant && (column.nullable || !d.eq_ignore_ascii_case("NULL"))
        }
    }
}

/// Whether a default as SQLite reports it can follow `DEFAULT` without parentheses.
fn is_literal(default: &str) -> bool {
    let toks = tokenize(default);
    let kinds: Vec<Tok> = toks.iter().map(|t| t.kind).collect();
    match kinds.as_slice() {
        [Tok::Str] | [Tok::Num] | [Tok::Word] => true,
        [Tok::Other, Tok::Num] => matches!(text(default, &toks[0]), "-" | "+"),
        [Tok::Word, Tok::Str] => is_word(default, &toks[0], "X") && toks[0].end == toks[1].start,
        _ => false,
    }
}

fn default_sql(default: &str) -> String {
    if is_literal(default) {
        default.to_string()
    } else {
        format!("({default})")
    }
}

fn string_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A one-column INTEGER primary key: SQLite fills it in (the rowid).
fn is_rowid_alias(table: &Table, column: &Column) -> bool {
    table
        .primary_key
        .as_ref()
        .is_some_and(|pk| pk.columns.len() == 1 && pk.columns[0] == column.name)
        && column.data_type.eq_ignore_ascii_case("INTEGER")
}

/// A column definition; `pk` when the column is the table's one-column primary key (its constraint name).
fn column_sql(c: &Column, pk: Option<&Option<String>>) -> String {
    let mut s = quote(&c.name);
    if !c.data_type.is_empty() {
        s.push(' ');
        s.push_str(&c.data_type);
    }
    if let Some(name) = pk {
        if let Some(n) = name {
            s.push_str(&format!(" CONSTRAINT {}", quote(n)));
        }
        s.push_str(" PRIMARY KEY");
        if c.identity == Some(Identity::AutoIncrement) {
            s.push_str(" AUTOINCREMENT");
        }
    }
    if !c.nullable {
        s.push_str(" NOT NULL");
    }
    if let Some(d) = &c.default {
        s.push_str(" DEFAULT ");
        s.push_str(&default_sql(d));
    }
    if let Some(g) = &c.generated {
        s.push_str(&format!(
            " GENERATED ALWAYS AS ({}) {}",
            g.expression,
            if g.stored { "STORED" } else { "VIRTUAL" }
        ));
    }
    s
}

fn name_prefix(name: &Option<String>) -> String {
    name.as_ref()
        .map_or_else(String::new, |n| format!("CONSTRAINT {} ", quote(n)))
}

fn column_list(cols: &[String]) -> String {
    cols.iter().map(|c| quote(c)).collect::<Vec<_>>().join(", ")
}

/// `REFERENCES t (c) ON DELETE ...` (with its constraint name when `named`).
fn references_sql(fk: &ForeignKey, named: bool) -> String {
    let mut s = if named {
        name_prefix(&fk.name)
    } else {
        String::new()
    };
    s.push_str(&format!("REFERENCES {}", quote(&fk.ref_table)));
    if !fk.ref_columns.is_empty() {
        s.push_str(&format!(" ({})", column_list(&fk.ref_columns)));
    }
    if fk.on_delete != FkAction::NoAction {
        s.push_str(&format!(" ON DELETE {}", fk.on_delete.sql()));
    }
    if fk.on_update != FkAction::NoAction {
        s.push_str(&format!(" ON UPDATE {}", fk.on_update.sql()));
    }
    s
}

/// `CREATE TABLE name (...)` for `t` (under `name`, which differs during a rebuild).
pub fn create_table_sql(t: &Table, name: &str) -> String {
    let single_pk = t.primary_key.as_ref().filter(|pk| pk.columns.len() == 1);
    let mut lines: Vec<String> = t
        .columns
        .iter()
        .map(|c| {
            let pk = single_pk
                .filter(|pk| pk.columns[0] == c.name)
                .map(|pk| &pk.name);
            column_sql(c, pk)
        })
        .collect();
    if let Some(pk) = t.primary_key.as_ref().filter(|pk| pk.columns.len() > 1) {
        lines.push(format!(
            "{}PRIMARY KEY ({})",
            name_prefix(&pk.name),
            column_list(&pk.columns)
        ));
    }
    for u in &t.uniques {
        lines.push(format!(
            "{}UNIQUE ({})",
            name_prefix(&u.name),
            column_list(&u.columns)
        ));
    }
    for c in &t.checks {
        lines.push(format!("{}CHECK ({})", name_prefix(&c.name), c.expression));
    }
    for fk in &t.foreign_keys {
        lines.push(format!(
            "{}FOREIGN KEY ({}) {}",
            name_prefix(&fk.name),
            column_list(&fk.columns),
            references_sql(fk, false)
        ));
    }
    let mut sql = format!(
        "CREATE TABLE {} (\n    {}\n)",
        quote(name),
        lines.join(",\n    ")
    );
    if !t.options.is_empty() {
        sql.push(' ');
        sql.push_str(&t.options.join(", "));
    }
    sql
}

pub fn create_index_sql(table: &str, i: &Index) -> String {
    let parts: Vec<String> = i
        .parts
        .iter()
        .map(|p| {
            let mut s = if p.is_column {
                quote(&p.expression)
            } else {
                p.expression.clone()
            };
            if p.descending {
                s.push_str(" DESC");
            }
            s
        })
        .collect();
    let mut sql = format!(
        "CREATE {}INDEX {} ON {} ({})",
        if i.unique { "UNIQUE " } else { "" },
        quote(&i.name),
        quote(table),
        parts.join(", ")
    );
    if let Some(p) = &i.predicate {
        sql.push_str(" WHERE ");
        sql.push_str(p);
    }
    sql
}

fn create_view_sql(v: &View) -> String {
    match &v.sql {
        Some(sql) => sql.clone(),
        None => format!("CREATE VIEW {} AS {}", quote(&v.name), v.definition),
    }
}

/// Views in creation order: each after the views it mentions.
fn order_views(views: Vec<View>) -> Vec<View> {
    let mut pending = views;
    let mut out: Vec<View> = Vec::new();
    while !pending.is_empty() {
        let ready = pending.iter().position(|v| {
            !pending
                .iter()
                .any(|o| o.name != v.name && mentions(view_text(v), &o.name))
        });
        // A cycle cannot be created anyway; keep the order then.
        out.push(pending.remove(ready.unwrap_or(0)));
    }
    out
}

pub use crate::schema::mentions;

/// SQLite keywords: an identifier spelled like one is quoted.
const KEYWORDS: &[&str] = &[
    "ABORT",
    "ACTION",
    "ADD",
    "AFTER",
    "ALL",
    "ALTER",
    "ALWAYS",
    "ANALYZE",
    "AND",
    "AS",
    "ASC",
    "ATTACH",
    "AUTOINCREMENT",
    "BEFORE",
    "BEGIN",
    "BETWEEN",
    "BY",
    "CASCADE",
    "CASE",
    "CAST",
    "CHECK",
    "COLLATE",
    "COLUMN",
    "COMMIT",
    "CONFLICT",
    "CONSTRAINT",
    "CREATE",
    "CROSS",
    "CURRENT",
    "CURRENT_DATE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "DATABASE",
    "DEFAULT",
    "DEFERRABLE",
    "DEFERRED",
    "DELETE",
    "DESC",
    "DETACH",
    "DISTINCT",
    "DO",
    "DROP",
    "EACH",
    "ELSE",
    "END",
    "ESCAPE",
    "EXCEPT",
    "EXCLUDE",
    "EXCLUSIVE",
    "EXISTS",
    "EXPLAIN",
    "FAIL",
    "FILTER",
    "FIRST",
    "FOLLOWING",
    "FOR",
    "FOREIGN",
    "FROM",
    "FULL",
    "GENERATED",
    "GLOB",
    "GROUP",
    "GROUPS",
    "HAVING",
    "IF",
    "IGNORE",
    "IMMEDIATE",
    "IN",
    "INDEX",
    "INDEXED",
    "INITIALLY",
    "INNER",
    "INSERT",
    "INSTEAD",
    "INTERSECT",
    "INTO",
    "IS",
    "ISNULL",
    "JOIN",
    "KEY",
    "LAST",
    "LEFT",
    "LIKE",
    "LIMIT",
    "MATCH",
    "MATERIALIZED",
    "NATURAL",
    "NO",
    "NOT",
    "NOTHING",
    "NOTNULL",
    "NULL",
    "NULLS",
    "OF",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OTHERS",
    "OUTER",
    "OVER",
    "PARTITION",
    "PLAN",
    "PRAGMA",
    "PRECEDING",
    "PRIMARY",
    "QUERY",
    "RAISE",
    "RANGE",
    "RECURSIVE",
    "REFERENCES",
    "REGEXP",
    "REINDEX",
    "RELEASE",
    "RENAME",
    "REPLACE",
    "RESTRICT",
    "RETURNING",
    "RIGHT",
    "ROLLBACK",
    "ROW",
    "ROWS",
    "SAVEPOINT",
    "SELECT",
    "SET",
    "TABLE",
    "TEMP",
    "TEMPORARY",
    "THEN",
    "TIES",
    "TO",
    "TRANSACTION",
    "TRIGGER",
    "UNBOUNDED",
    "UNION",
    "UNIQUE",
    "UPDATE",
    "USING",
    "VACUUM",
    "VALUES",
    "VIEW",
    "VIRTUAL",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
    "WITHOUT",
];

/// An identifier, in double quotes only when it needs them.
pub fn quote(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(name));
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// Table names this change list rebuilds (for tests and summaries).
pub fn rebuilt_tables(changes: &[Change], from: &Schema, to: &Schema) -> BTreeSet<String> {
    Plan::new(changes, from, to).rebuilt.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Check, Generated, IndexPart, PrimaryKey, Unique};

    fn col(name: &str, ty: &str) -> Column {
        Column::new(name, ty)
    }

    fn users() -> Table {
        Table {
            name: "users".into(),
            columns: vec![
                col("id", "INTEGER"),
                col("name", "TEXT"),
                col("email", "TEXT"),
            ],
            primary_key: Some(PrimaryKey {
                name: None,
                columns: vec!["id".into()],
            }),
            indexes: vec![Index {
                include: Vec::new(),
                name: "ix_email".into(),
                parts: vec![IndexPart {
                    opclass: None,
                    expression: "email".into(),
                    is_column: true,
                    descending: false,
                }],
                unique: false,
                predicate: None,
                method: None,
            }],
            ..Table::default()
        }
    }

    fn schema(tables: Vec<Table>) -> Schema {
        Schema {
            tables,
            ..Schema::default()
        }
    }

    fn fk(col: &str, to: &str) -> ForeignKey {
        ForeignKey {
            deferrable: None,
            name: None,
            columns: vec![col.into()],
            ref_table: to.into(),
            ref_columns: vec!["id".into()],
            on_delete: FkAction::Cascade,
            on_update: FkAction::NoAction,
        }
    }

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(quote("users"), "users");
        assert_eq!(quote("_x1"), "_x1");
        assert_eq!(quote("order"), "\"order\"");
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote("x\"y"), "\"x\"\"y\"");
        assert_eq!(quote("1a"), "\"1a\"");
        assert_eq!(quote(""), "\"\"");
    }

    #[test]
    fn defaults_get_parentheses_when_they_are_expressions() {
        for lit in [
            "'x'",
            "'it''s'",
            "0",
            "-1",
            "+2.5",
            "NULL",
            "CURRENT_TIMESTAMP",
            "x'00ff'",
            "TRUE",
        ] {
            assert_eq!(default_sql(lit), lit);
        }
        assert_eq!(default_sql("1+2"), "(1+2)");
        assert_eq!(default_sql("lower('X')"), "(lower('X'))");
        assert_eq!(default_sql("- 1 - 2"), "(- 1 - 2)");
    }

    #[test]
    fn add_column_rules() {
        let t = users();
        let c = |f: &dyn Fn(&mut Column)| {
            let mut c = col("extra", "INT");
            f(&mut c);
            can_add_column(&t, &c)
        };
        assert!(c(&|_| {}));
        assert!(!c(&|c| c.nullable = false));
        assert!(c(&|c| {
            c.nullable = false;
            c.default = Some("0".into());
        }));
        assert!(!c(&|c| {
            c.nullable = false;
            c.default = Some("NULL".into());
        }));
        assert!(!c(&|c| c.default = Some("CURRENT_TIMESTAMP".into())));
        assert!(!c(&|c| c.default = Some("1+2".into())));
        assert!(c(&|c| c.default = Some("'x'".into())));
        assert!(!c(&|c| c.identity = Some(Identity::AutoIncrement)));
        assert!(c(&|c| {
            c.generated = Some(Generated {
                expression: "id * 2".into(),
                stored: false,
            })
        }));
        assert!(!c(&|c| {
            c.generated = Some(Generated {
                expression: "id * 2".into(),
                stored: true,
            })
        }));
        let mut with_unique = users();
        with_unique.uniques.push(Unique {
            deferrable: None,
            name: None,
            columns: vec!["extra".into()],
        });
        assert!(!can_add_column(&with_unique, &col("extra", "INT")));
        assert!(!can_add_column(&t, &col("id", "INTEGER")));
    }

    #[test]
    fn which_changes_rebuild() {
        let from = schema(vec![users()]);
        let mut to_t = users();
        to_t.columns.push(col("phone", "TEXT"));
        let to = schema(vec![to_t.clone()]);
        let add = vec![Change::AddColumn {
            table: "users".into(),
            column: col("phone", "TEXT"),
        }];
        assert!(rebuilt_tables(&add, &from, &to).is_empty());
        assert_eq!(
            render(&add, &from, &to),
            ["ALTER TABLE users ADD COLUMN phone TEXT"]
        );

        let check = Check {
            name: None,
            expression: "length(name) > 0".into(),
            column_level: false,
        };
        to_t.checks.push(check.clone());
        let to = schema(vec![to_t]);
        let mut changes = add.clone();
        changes.push(Change::AddCheck {
            table: "users".into(),
            check,
        });
        assert_eq!(
            rebuilt_tables(&changes, &from, &to),
            BTreeSet::from(["users".to_string()])
        );
        let sql = render(&changes, &from, &to);
        assert_eq!(
            sql,
            [
                "CREATE TABLE _alembix_new_users (\n    id INTEGER PRIMARY KEY,\n    name TEXT,\n    email TEXT,\n    \
                 phone TEXT,\n    CHECK (length(name) > 0)\n)",
                "INSERT INTO _alembix_new_users (id, name, email) SELECT id, name, email FROM users",
                "DROP TABLE users",
                "ALTER TABLE _alembix_new_users RENAME TO users",
                "CREATE INDEX ix_email ON users (email)",
                "PRAGMA foreign_key_check",
            ]
        );
    }

    #[test]
    fn drop_column_is_simple_only_when_nothing_uses_it() {
        let from = schema(vec![users()]);
        let mut to_t = users();
        to_t.columns.retain(|c| c.name != "email");
        to_t.indexes.clear();
        let to = schema(vec![to_t]);
        let drop = Change::DropColumn {
            table: "users".into(),
            column: col("email", "TEXT"),
        };
        // Still indexed: rebuild.
        assert_eq!(
            rebuilt_tables(std::slice::from_ref(&drop), &from, &to).len(),
            1
        );
        // The index is dropped first: ALTER TABLE ... DROP COLUMN.
        let changes = vec![
            Change::DropIndex {
                table: "users".into(),
                index: users().indexes[0].clone(),
            },
            drop.clone(),
        ];
        assert!(rebuilt_tables(&changes, &from, &to).is_empty());
        assert_eq!(
            render(&changes, &from, &to),
            ["DROP INDEX ix_email", "ALTER TABLE users DROP COLUMN email"]
        );
        // A generated column nothing else uses: ALTER TABLE ... DROP COLUMN too; one that another generated
        // column reads: rebuild.
        let mut gen_from = users();
        gen_from.columns.push(Column {
            generated: Some(Generated {
                expression: "lower(email)".into(),
                stored: true,
            }),
            ..col("email_lower", "TEXT")
        });
        let drop_gen = Change::DropColumn {
            table: "users".into(),
            column: gen_from.columns[3].clone(),
        };
        let gen_to = schema(vec![users()]);
        assert_eq!(
            render(
                std::slice::from_ref(&drop_gen),
                &schema(vec![gen_from.clone()]),
                &gen_to
            ),
            ["ALTER TABLE users DROP COLUMN email_lower"]
        );
        gen_from.columns.push(Column {
            generated: Some(Generated {
                expression: "email_lower || '!'".into(),
                stored: false,
            }),
            ..col("shout", "TEXT")
        });
        assert_eq!(
            rebuilt_tables(&[drop_gen], &schema(vec![gen_from]), &gen_to).len(),
            1
        );
        // A view or a trigger that mentions it: rebuild.
        let mut with_view = from.clone();
        with_view.views.push(View {
            indexes: Vec::new(),
            materialized: false,
            name: "v".into(),
            definition: "SELECT email FROM users".into(),
            sql: Some("CREATE VIEW v AS SELECT email FROM users".into()),
        });
        assert_eq!(rebuilt_tables(&changes, &with_view, &to).len(), 1);
        let mut with_trigger = from.clone();
        with_trigger.tables[0].triggers.push(Trigger {
            name: "t".into(),
            sql: "CREATE TRIGGER t AFTER UPDATE ON users BEGIN SELECT new.email; END".into(),
        });
        assert_eq!(rebuilt_tables(&changes, &with_trigger, &to).len(), 1);
    }

    #[test]
    fn foreign_key_on_a_new_nullable_column_rides_on_add_column() {
        let teams = Table {
            name: "teams".into(),
            columns: vec![col("id", "INTEGER")],
            ..Table::default()
        };
        let from = schema(vec![teams.clone(), users()]);
        let mut to_t = users();
        to_t.columns.push(col("team_id", "INT"));
        to_t.foreign_keys.push(fk("team_id", "teams"));
        let to = schema(vec![teams, to_t]);
        let changes = vec![
            Change::AddColumn {
                table: "users".into(),
                column: col("team_id", "INT"),
            },
            Change::AddForeignKey {
                table: "users".into(),
                foreign_key: fk("team_id", "teams"),
            },
        ];
        assert!(rebuilt_tables(&changes, &from, &to).is_empty());
        assert_eq!(
            render(&changes, &from, &to),
            ["ALTER TABLE users ADD COLUMN team_id INT REFERENCES teams (id) ON DELETE CASCADE"]
        );
        // On an existing column it is a rebuild.
        let changes = vec![Change::AddForeignKey {
            table: "users".into(),
            foreign_key: fk("name", "teams"),
        }];
        assert_eq!(rebuilt_tables(&changes, &from, &to).len(), 1);
    }

    #[test]
    fn dropped_tables_are_never_rebuilt() {
        let mut a = users();
        a.foreign_keys.push(fk("name", "users"));
        let from = schema(vec![a.clone()]);
        let to = schema(vec![]);
        let changes = vec![
            Change::DropForeignKey {
                table: "users".into(),
                foreign_key: fk("name", "users"),
            },
            Change::DropTable(a),
        ];
        assert_eq!(render(&changes, &from, &to), ["DROP TABLE users"]);
    }

    #[test]
    fn rebuild_maps_renamed_columns_and_warns_about_unfillable_ones() {
        let from = schema(vec![users()]);
        let mut to_t = users();
        to_t.columns[1].name = "full_name".into();
        let mut code = col("code", "TEXT");
        code.nullable = false;
        to_t.columns.push(code.clone());
        to_t.indexes.clear();
        let to = schema(vec![to_t]);
        let changes = vec![
            Change::DropIndex {
                table: "users".into(),
                index: users().indexes[0].clone(),
            },
            Change::RenameColumn {
                table: "users".into(),
                from: "name".into(),
                to: "full_name".into(),
            },
            Change::AddColumn {
                table: "users".into(),
                column: code,
            },
        ];
        let sql = render(&changes, &from, &to);
        assert_eq!(
            sql[1],
            "-- WARNING: users.code is NOT NULL without a default: copying existing rows fails\n\
             INSERT INTO _alembix_new_users (id, full_name, email) SELECT id, name, email FROM users"
        );
        // No separate RENAME COLUMN, no DROP INDEX (the old table takes it along).
        assert!(
            !sql.iter()
                .any(|s| s.contains("RENAME COLUMN") || s.starts_with("DROP INDEX")),
            "{sql:#?}"
        );
    }

    #[test]
    fn create_table_renders_every_constraint() {
        let t = Table {
            name: "order".into(),
            columns: vec![
                col("a", "INT"),
                col("b", ""),
                Column {
                    nullable: false,
                    default: Some("1+1".into()),
                    ..col("c", "NUMERIC(10, 2)")
                },
            ],
            primary_key: Some(PrimaryKey {
                name: Some("pk".into()),
                columns: vec!["a".into(), "b".into()],
            }),
            uniques: vec![Unique {
                deferrable: None,
                name: Some("uq".into()),
                columns: vec!["c".into()],
            }],
            checks: vec![Check {
                name: None,
                expression: "c > 0".into(),
                column_level: false,
            }],
            foreign_keys: vec![ForeignKey {
                name: Some("fk".into()),
                on_update: FkAction::SetNull,
                ..fk("a", "other")
            }],
            ..Table::default()
        };
        assert_eq!(
            create_table_sql(&t, "order"),
            "CREATE TABLE \"order\" (\n    a INT,\n    b,\n    c NUMERIC(10, 2) NOT NULL DEFAULT (1+1),\n    \
             CONSTRAINT pk PRIMARY KEY (a, b),\n    CONSTRAINT uq UNIQUE (c),\n    CHECK (c > 0),\n    \
             CONSTRAINT fk FOREIGN KEY (a) REFERENCES other (id) ON DELETE CASCADE ON UPDATE SET NULL\n)"
        );
    }

    #[test]
    fn views_on_rebuilt_tables_are_dropped_once_and_recreated_once() {
        let view = |def: &str| View {
            indexes: Vec::new(),
            materialized: false,
            name: "v".into(),
            definition: def.into(),
            sql: Some(format!("CREATE VIEW v AS {def}")),
        };
        let mut from = schema(vec![users()]);
        from.views.push(view("SELECT id FROM users"));
        let mut to_t = users();
        to_t.checks.push(Check {
            name: None,
            expression: "id > 0".into(),
            column_level: false,
        });
        let mut to = schema(vec![to_t.clone()]);
        to.views.push(view("SELECT id, name FROM users"));
        let check = Change::AddCheck {
            table: "users".into(),
            check: to_t.checks[0].clone(),
        };
        // The diff changes the view itself.
        let changes = vec![
            Change::DropView(from.views[0].clone()),
            check.clone(),
            Change::CreateView(to.views[0].clone()),
        ];
        let sql = render(&changes, &from, &to);
        assert_eq!(
            sql.iter().filter(|s| s.starts_with("DROP VIEW")).count(),
            1,
            "{sql:#?}"
        );
        assert_eq!(
            sql.iter().filter(|s| s.starts_with("CREATE VIEW")).count(),
            1,
            "{sql:#?}"
        );
        // The view is unchanged: the rebuild drops and recreates it.
        to.views[0] = from.views[0].clone();
        let sql = render(std::slice::from_ref(&check), &from, &to);
        assert_eq!(sql.first().map(String::as_str), Some("DROP VIEW v"));
        assert_eq!(
            sql.iter()
                .filter(|s| s.starts_with("CREATE VIEW v AS SELECT id FROM users"))
                .count(),
            1
        );
    }

    #[test]
    fn mentions_is_word_based() {
        assert!(mentions("SELECT * FROM \"Users\"", "users"));
        assert!(!mentions("SELECT * FROM users_archive", "users"));
        assert!(!mentions("SELECT x_email FROM t", "email"));
    }
}
