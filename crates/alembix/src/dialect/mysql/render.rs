//! Rendering schema changes as SQL statements for MySQL / MariaDB.
//!
//! A few MySQL habits shape what is rendered beyond a one-to-one translation:
//! - a foreign key needs an index on its columns; the server creates one named after the constraint when none
//!   exists (introspection hides it), and `DROP FOREIGN KEY` leaves it behind, so dropping such a foreign key
//!   drops that index too, and dropping the last index that serves a foreign key that stays puts an index named
//!   after the constraint in its place;
//! - an `AUTO_INCREMENT` column must be a key, so a primary-key change of the same table goes in the same
//!   `ALTER TABLE` as the column change that adds or removes `AUTO_INCREMENT`;
//! - MariaDB keeps a column-level `CHECK` (named after the column) inside the column definition, which
//!   `MODIFY COLUMN` replaces: such checks are dropped by modifying the column, and kept by repeating them;
//!   a table-level check stays one even when it is named like a column (introspection reads the level);
//! - the diff lists drops of constraints of a renamed table under its new name, before the rename; they are
//!   rendered under the old name.

use std::collections::HashMap;

use crate::dialect::literal;
use crate::schema::{
    Change, Check, Column, ForeignKey, Identity, Index, IndexPart, PrimaryKey, Schema, Table,
    Unique,
};
use crate::url::Dialect;

/// SQL statements (without terminators) that apply `changes`, which turn `from` into `to`.
pub fn render(changes: &[Change], from: &Schema, to: &Schema) -> Vec<String> {
    let mut r = Renderer::new(changes, from, to);
    // What each index drop does for the foreign keys it served, decided once (the drops and the changes
    // they fold into or move to all read it).
    let plans: HashMap<usize, (String, Vec<FkIndexStep>)> = changes
        .iter()
        .enumerate()
        .filter_map(|(d, ch)| {
            let (table, name, cols): (&str, &str, Vec<&str>) = match ch {
                Change::DropIndex { table, index } => (table, &index.name, index_columns(index)),
                Change::DropUnique {
                    table,
                    unique:
                        Unique {
                            name: Some(n),
                            columns,
                            ..
                        },
                } => (table, n, columns.iter().map(String::as_str).collect()),
                _ => return None,
            };
            Some((
                d,
                (name.to_string(), r.fk_index_plan(table, d, name, &cols)),
            ))
        })
        .collect();
    r.fk_plans = plans;
    let mut out = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        r.change(i, change, &mut out);
    }
    out
}

struct Renderer<'a> {
    changes: &'a [Change],
    from: &'a Schema,
    to: &'a Schema,
    /// new table name -> (old name, position of the `RenameTable` change)
    table_renames: HashMap<&'a str, (&'a str, usize)>,
    /// Tables whose primary-key change is folded into a column change: table -> position of that change.
    pk_folded: HashMap<&'a str, usize>,
    /// Position of each index drop -> (the index's name, its `fk_index_plan`), filled by `render`.
    fk_plans: HashMap<usize, (String, Vec<FkIndexStep<'a>>)>,
}

impl<'a> Renderer<'a> {
    fn new(changes: &'a [Change], from: &'a Schema, to: &'a Schema) -> Renderer<'a> {
        let mut table_renames = HashMap::new();
        for (i, c) in changes.iter().enumerate() {
            if let Change::RenameTable { from, to } = c {
                table_renames.insert(to.as_str(), (from.as_str(), i));
            }
        }
        let mut pk_folded = HashMap::new();
        for c in changes {
            if let Change::SetPrimaryKey { table, .. } = c {
                let host = changes.iter().position(|x| match x {
                    Change::AddColumn { table: t, column }
                    | Change::DropColumn { table: t, column } => {
                        t == table && column.identity == Some(Identity::AutoIncrement)
                    }
                    Change::AlterColumn { table: t, from, to } => {
                        t == table
                            && from.identity != to.identity
                            && (from.identity == Some(Identity::AutoIncrement)
                                || to.identity == Some(Identity::AutoIncrement))
                    }
                    _ => false,
                });
                if let Some(p) = host {
                    pk_folded.insert(table.as_str(), p);
                }
            }
        }
        Renderer {
            changes,
            from,
            to,
            table_renames,
            pk_folded,
            fk_plans: HashMap::new(),
        }
    }

    /// The name of `table` (a name of the desired schema) when change `at` runs: the old name while a rename
    /// of that table is still to come.
    fn name_at(&self, table: &'a str, at: usize) -> &'a str {
        match self.table_renames.get(table) {
            Some((old, pos)) if at < *pos => old,
            _ => table,
        }
    }

    /// The table as it is in the current schema.
    fn current_table(&self, table: &str) -> Option<&'a Table> {
        self.from.table(table).or_else(|| {
            self.table_renames
                .get(table)
                .and_then(|(old, _)| self.from.table(old))
        })
    }

    fn change(&self, i: usize, change: &'a Change, out: &mut Vec<String>) {
        match change {
            Change::CreateEnum(_)
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
            | Change::RecreateEnum { .. } => {}
            Change::CreateTable(t) => {
                out.push(create_table(t));
                for tr in &t.triggers {
                    out.push(tr.sql.clone());
                }
            }
            Change::DropTable(t) => out.push(format!("DROP TABLE {}", ident(&t.name))),
            Change::RenameTable { from, to } => {
                out.push(format!("RENAME TABLE {} TO {}", ident(from), ident(to)))
            }
            Change::AddColumn { table, column } => {
                let mut sql = format!(
                    "ALTER TABLE {} ADD COLUMN {}",
                    ident(self.name_at(table, i)),
                    column_def(column)
                );
                sql.push_str(&self.position(table, &column.name));
                self.fold_pk(i, table, &mut sql);
                out.push(sql);
            }
            Change::DropColumn { table, column } => {
                let mut sql = format!(
                    "ALTER TABLE {} DROP COLUMN {}",
                    ident(self.name_at(table, i)),
                    ident(&column.name)
                );
                self.fold_pk(i, table, &mut sql);
                out.push(sql);
            }
            Change::RenameColumn { table, from, to } => out.push(format!(
                "ALTER TABLE {} RENAME COLUMN {} TO {}",
                ident(self.name_at(table, i)),
                ident(from),
                ident(to)
            )),
            Change::AlterColumn { table, from, to } => {
                let mut def = column_def(to);
                // Column-level checks (MariaDB) that `MODIFY` would lose and that stay.
                let old_name = self.old_column_name(table, &from.name);
                if let (Some(ft), Some(tt)) = (self.current_table(table), self.to.table(table)) {
                    for c in &ft.checks {
                        let named_after = c.column_level
                            && c.name
                                .as_deref()
                                .is_some_and(|n| n == old_name || n == to.name);
                        if named_after && tt.checks.iter().any(|x| x.expression == c.expression) {
                            def.push_str(&format!(" CHECK ({})", c.expression));
                        }
                    }
                }
                let t = ident(self.name_at(table, i));
                // NULLs take the declared default first, as on every engine; without one, NULLs make the
                // `MODIFY` fail (in strict mode, MariaDB's and MySQL's default).
                if let (true, false, Some(d), None) =
                    (from.nullable, to.nullable, &to.default, &to.generated)
                {
                    out.push(format!(
                        "UPDATE {t} SET {c} = {} WHERE {c} IS NULL",
                        default_sql(split_on_update(d).0),
                        c = ident(&to.name)
                    ));
                }
                let mut sql = if needs_rebuild(from, to) {
                    self.rebuild_column(i, table, old_name, to, &def)
                } else {
                    format!("ALTER TABLE {t} MODIFY COLUMN {def}")
                };
                self.fold_pk(i, table, &mut sql);
                out.push(sql);
            }
            Change::SetPrimaryKey { table, from, to } => {
                if self.pk_folded.contains_key(table.as_str()) {
                    return;
                }
                let clauses = pk_clauses(from.as_ref(), to.as_ref());
                if !clauses.is_empty() {
                    out.push(format!(
                        "ALTER TABLE {} {clauses}",
                        ident(self.name_at(table, i))
                    ));
                }
            }
            Change::CreateIndex { table, index } => {
                if let Some(sql) = self.add_with_deferred_drops(table, i) {
                    out.push(sql);
                } else if !self.folded(i) {
                    out.push(create_index(self.name_at(table, i), index))
                }
            }
            Change::RenameIndex { table, from, index } => out.push(format!(
                "ALTER TABLE {} RENAME INDEX {} TO {}",
                ident(self.name_at(table, i)),
                ident(from),
                ident(&index.name)
            )),
            Change::DropIndex { table, index } => {
                let t = self.name_at(table, i);
                // Moved to the change that adds the index replacing it (see `fk_index_plan`).
                let Some(keep) = self.keep_fk_index(i) else {
                    return;
                };
                out.push(format!(
                    "ALTER TABLE {} {keep}DROP INDEX {}",
                    ident(t),
                    ident(&index.name)
                ));
            }
            Change::AddUnique { table, unique } => {
                if let Some(sql) = self.add_with_deferred_drops(table, i) {
                    out.push(sql);
                } else if !self.folded(i) {
                    out.push(format!(
                        "ALTER TABLE {} ADD {}",
                        ident(self.name_at(table, i)),
                        unique_clause(unique)
                    ));
                }
            }
            Change::DropUnique { table, unique } => {
                let t = self.name_at(table, i);
                let Some(name) = &unique.name else {
                    out.push(format!(
                        "-- cannot drop an unnamed unique constraint on {t} ({})",
                        unique.columns.join(", ")
                    ));
                    return;
                };
                let Some(keep) = self.keep_fk_index(i) else {
                    return;
                };
                out.push(format!(
                    "ALTER TABLE {} {keep}DROP INDEX {}",
                    ident(t),
                    ident(name)
                ));
            }
            Change::AddCheck { table, check } => {
                // Declared on the column (MariaDB), so declared there again.
                if let Some(col) = check
                    .name
                    .as_deref()
                    .filter(|_| check.column_level)
                    .and_then(|n| self.to.table(table).and_then(|t| t.column(n)))
                {
                    out.push(format!(
                        "ALTER TABLE {} MODIFY COLUMN {} CHECK ({})",
                        ident(self.name_at(table, i)),
                        column_def(col),
                        check.expression
                    ));
                    return;
                }
                let name = check
                    .name
                    .as_ref()
                    .map_or(String::new(), |n| format!("CONSTRAINT {} ", ident(n)));
                out.push(format!(
                    "ALTER TABLE {} ADD {name}CHECK ({})",
                    ident(self.name_at(table, i)),
                    check.expression
                ));
            }
            Change::DropCheck { table, check } => out.push(self.drop_check(i, table, check)),
            Change::AddForeignKey { table, foreign_key } => out.push(format!(
                "ALTER TABLE {} ADD {}",
                ident(self.name_at(table, i)),
                fk_def(foreign_key)
            )),
            Change::DropForeignKey { table, foreign_key } => {
                let t = self.name_at(table, i);
                let mut sql = match &foreign_key.name {
                    Some(n) => format!("ALTER TABLE {} DROP FOREIGN KEY {}", ident(t), ident(n)),
                    None => format!("-- cannot drop an unnamed foreign key on {t}"),
                };
                // The index the server created for the foreign key stays behind unless dropped too (not
                // worth it when the table itself is dropped next).
                let table_dropped = self
                    .changes
                    .iter()
                    .any(|c| matches!(c, Change::DropTable(t) if t.name == *table));
                if let (Some(n), Some(ft), false) =
                    (&foreign_key.name, self.current_table(table), table_dropped)
                {
                    let cols: Vec<&str> = foreign_key.columns.iter().map(String::as_str).collect();
                    if !covered(ft, &cols, None) {
                        sql.push_str(&format!(", DROP INDEX {}", ident(n)));
                    }
                }
                out.push(sql);
            }
            Change::SetTableComment { table, to, .. } => out.push(format!(
                "ALTER TABLE {} COMMENT = {}",
                ident(self.name_at(table, i)),
                literal(to.as_deref().unwrap_or(""), Dialect::Mysql)
            )),
            Change::SetTableOptions { table, from, to } => {
                let t = self.name_at(table, i);
                // Removed options go back to the database's defaults.
                let want = |key: &str| option(to, key).or_else(|| option(&self.to.defaults, key));
                let mut clauses = Vec::new();
                if option(from, "ENGINE") != option(to, "ENGINE") {
                    if let Some(e) = want("ENGINE") {
                        clauses.push(format!("ENGINE={e}"));
                    }
                }
                let collation_changes = option(from, "COLLATE") != option(to, "COLLATE");
                if collation_changes {
                    if let (Some(cs), Some(coll)) = (want("DEFAULT CHARSET"), want("COLLATE")) {
                        clauses.push(format!("DEFAULT CHARSET={cs} COLLATE={coll}"));
                    }
                    // The columns keep their collation unless declared again (not `CONVERT TO`, which
                    // can also change TEXT into MEDIUMTEXT).
                    if let (Some(ft), Some(tt)) = (self.current_table(table), self.to.table(table))
                    {
                        for c in tt.columns.iter().filter(|c| {
                            c.generated.is_none()
                                && is_character_type(&c.data_type)
                                && ft.column(self.old_column_name(table, &c.name)).is_some()
                        }) {
                            clauses.push(format!("MODIFY COLUMN {}", column_def(c)));
                        }
                    }
                }
                if !clauses.is_empty() {
                    out.push(format!("ALTER TABLE {} {}", ident(t), clauses.join(", ")));
                }
            }
            Change::CreateTrigger { trigger, .. } => out.push(trigger.sql.clone()),
            Change::DropTrigger { trigger, .. } => {
                out.push(format!("DROP TRIGGER {}", ident(&trigger.name)))
            }
            Change::CreateView(v) => out.push(format!(
                "CREATE VIEW {} AS {}",
                ident(&v.name),
                v.definition
            )),
            Change::DropView(v) => out.push(format!("DROP VIEW {}", ident(&v.name))),
        }
    }

    /// ` FIRST` / ` AFTER col` for a column added to `table`, to keep the declared order (the server
    /// appends otherwise); empty for the last column.
    fn position(&self, table: &str, column: &str) -> String {
        let Some(cols) = self.to.table(table).map(|t| &t.columns) else {
            return String::new();
        };
        match cols.iter().position(|c| c.name == column) {
            Some(p) if p + 1 == cols.len() => String::new(),
            Some(0) => " FIRST".to_string(),
            Some(p) => format!(" AFTER {}", ident(&cols[p - 1].name)),
            None => String::new(),
        }
    }

    /// A column the server cannot `MODIFY` into its new form (virtual <-> stored): dropped and added again in
    /// one statement, with the indexes and unique constraints that use it.
    fn rebuild_column(
        &self,
        i: usize,
        table: &'a str,
        old_name: &str,
        to: &Column,
        def: &str,
    ) -> String {
        let mut drops = Vec::new();
        let mut adds = Vec::new();
        let dropped_before = |name: &str| {
            self.changes[..i].iter().any(|c| match c {
                Change::DropIndex { table: t, index } => t == table && index.name == name,
                Change::DropUnique { table: t, unique } => {
                    t == table && unique.name.as_deref() == Some(name)
                }
                _ => false,
            })
        };
        let renamed = |col: &str| -> String {
            self.changes[..i]
                .iter()
                .find_map(|c| match c {
                    Change::RenameColumn { table: t, from, to } if t == table && from == col => {
                        Some(to.clone())
                    }
                    _ => None,
                })
                .unwrap_or_else(|| col.to_string())
        };
        if let Some(ft) = self.current_table(table) {
            for x in &ft.indexes {
                let uses = x
                    .parts
                    .iter()
                    .any(|p| p.is_column && split_prefix(&p.expression).0 == old_name);
                if uses && !dropped_before(&x.name) {
                    drops.push(format!("DROP INDEX {}", ident(&x.name)));
                    let mut x = x.clone();
                    for p in x.parts.iter_mut().filter(|p| p.is_column) {
                        p.expression = match split_prefix(&p.expression) {
                            (c, Some(len)) => format!("{}({len})", renamed(c)),
                            (c, None) => renamed(c),
                        };
                    }
                    adds.push(format!("ADD {}", inline_index(&x)));
                }
            }
            for u in &ft.uniques {
                let Some(name) = &u.name else { continue };
                if u.columns.iter().any(|c| c == old_name) && !dropped_before(name) {
                    drops.push(format!("DROP INDEX {}", ident(name)));
                    let cols: Vec<String> = u.columns.iter().map(|c| renamed(c)).collect();
                    adds.push(format!(
                        "ADD CONSTRAINT {} UNIQUE ({})",
                        ident(name),
                        idents(&cols)
                    ));
                }
            }
        }
        drops.push(format!("DROP COLUMN {}", ident(&to.name)));
        drops.push(format!(
            "ADD COLUMN {def}{}",
            self.position(table, &to.name)
        ));
        drops.extend(adds);
        format!(
            "ALTER TABLE {} {}",
            ident(self.name_at(table, i)),
            drops.join(", ")
        )
    }

    /// Append the table's primary-key change to the column change it was folded into.
    fn fold_pk(&self, i: usize, table: &str, sql: &mut String) {
        if self.pk_folded.get(table) != Some(&i) {
            return;
        }
        for c in self.changes {
            if let Change::SetPrimaryKey { table: t, from, to } = c {
                if t == table {
                    let clauses = pk_clauses(from.as_ref(), to.as_ref());
                    if !clauses.is_empty() {
                        sql.push_str(", ");
                        sql.push_str(&clauses);
                    }
                }
            }
        }
    }

    /// The name a column of `table` had before a rename in these changes.
    fn old_column_name<'b>(&'b self, table: &str, name: &'b str) -> &'b str {
        self.changes
            .iter()
            .find_map(|c| match c {
                Change::RenameColumn { table: t, from, to } if t == table && to == name => {
                    Some(from.as_str())
                }
                _ => None,
            })
            .unwrap_or(name)
    }

    /// When dropping index `name` (on `cols`) at change `at` leaves a foreign key that stays without an
    /// index, what gives it one in the same `ALTER TABLE`: the later change of these that creates an index
    /// or unique constraint starting with its columns, folded in here (`Fold`) or, when that index needs
    /// columns added later, the drop moved to that change (`Defer`); else a stand-in index named after the
    /// constraint (`StandIn`).
    fn fk_index_plan(
        &self,
        table: &str,
        at: usize,
        name: &str,
        cols: &[&str],
    ) -> Vec<FkIndexStep<'a>> {
        let Some(ft) = self.current_table(table) else {
            return Vec::new();
        };
        let mut plan = Vec::new();
        for fk in &ft.foreign_keys {
            let fk_cols: Vec<&str> = fk.columns.iter().map(String::as_str).collect();
            if !cols.starts_with(&fk_cols) || covered(ft, &fk_cols, Some(name)) {
                continue;
            }
            let dropped_before = self.changes[..at].iter().any(|c| {
                matches!(c, Change::DropForeignKey { table: t, foreign_key } if t == table && foreign_key.name == fk.name)
            });
            if dropped_before {
                continue;
            }
            let starts =
                |list: &[&str]| list.len() >= fk_cols.len() && list[..fk_cols.len()] == fk_cols;
            let later = self.changes.iter().enumerate().skip(at + 1).find_map(|(c, ch)| {
                let covering: Vec<&str> = match ch {
                    Change::CreateIndex { table: t, index } if t == table && index.method.is_none() => {
                        index_columns(index)
                    }
                    Change::AddUnique { table: t, unique } if t == table => {
                        unique.columns.iter().map(String::as_str).collect()
                    }
                    _ => return None,
                };
                if !starts(&covering) {
                    return None;
                }
                // Its columns exist now (not added or renamed later in these changes): folded in here.
                let renamed = |col: &str| {
                    self.changes.iter().any(|x| {
                        matches!(x, Change::RenameColumn { table: t, to, .. } if t == table && to == col)
                    })
                };
                let present = covering
                    .iter()
                    .all(|col| ft.column(col).is_some() && !renamed(col));
                Some(if present {
                    FkIndexStep::Fold(c)
                } else {
                    FkIndexStep::Defer(c)
                })
            });
            match later {
                Some(step) if !plan.contains(&step) => plan.push(step),
                Some(_) => {}
                None if fk.name.is_some() => plan.push(FkIndexStep::StandIn(fk)),
                None => {}
            }
        }
        plan
    }

    /// For the drop of index `name` at change `at`: `None` when the drop moves to a later change (see
    /// `fk_index_plan`), else the `ADD ...` clauses (each followed by `, `) that go before it.
    fn keep_fk_index(&self, at: usize) -> Option<String> {
        let plan = self
            .fk_plans
            .get(&at)
            .map_or(&[][..], |(_, p)| p.as_slice());
        if plan.iter().any(|s| matches!(s, FkIndexStep::Defer(_))) {
            return None;
        }
        let mut clauses = String::new();
        for step in plan {
            match *step {
                FkIndexStep::Fold(c) => clauses.push_str(&format!("ADD {}, ", self.add_clause(c))),
                FkIndexStep::StandIn(fk) => clauses.push_str(&format!(
                    "ADD INDEX {} ({}), ",
                    ident(fk.name.as_deref().unwrap_or_default()),
                    idents(&fk.columns)
                )),
                FkIndexStep::Defer(_) => {}
            }
        }
        Some(clauses)
    }

    /// The `ADD` clause (without `ADD`) of the index or unique constraint that change `at` creates.
    fn add_clause(&self, at: usize) -> String {
        match &self.changes[at] {
            Change::CreateIndex { index, .. } => inline_index(index),
            Change::AddUnique { unique, .. } => unique_clause(unique),
            _ => String::new(),
        }
    }

    /// The index drops of earlier changes that `step(at)` names: folded into them (`Fold`), or moved here
    /// (`Defer`).
    fn drops_naming(&self, at: usize, deferred: bool) -> Vec<String> {
        let step = if deferred {
            FkIndexStep::Defer(at)
        } else {
            FkIndexStep::Fold(at)
        };
        let mut found: Vec<(usize, String)> = self
            .fk_plans
            .iter()
            .filter(|(_, (_, plan))| plan.contains(&step))
            .map(|(d, (name, _))| (*d, name.clone()))
            .collect();
        found.sort();
        found.into_iter().map(|(_, name)| name).collect()
    }

    /// Whether change `at` (an index or unique constraint) was folded into an earlier drop's `ALTER TABLE`.
    fn folded(&self, at: usize) -> bool {
        !self.drops_naming(at, false).is_empty()
    }

    /// `ALTER TABLE` for change `at` that adds an index or unique constraint, with the drops moved to it.
    fn add_with_deferred_drops(&self, table: &'a str, at: usize) -> Option<String> {
        let drops = self.drops_naming(at, true);
        if drops.is_empty() {
            return None;
        }
        let mut sql = format!(
            "ALTER TABLE {} ADD {}",
            ident(self.name_at(table, at)),
            self.add_clause(at)
        );
        for d in drops {
            sql.push_str(&format!(", DROP INDEX {}", ident(&d)));
        }
        Some(sql)
    }

    fn drop_check(&self, i: usize, table: &'a str, check: &Check) -> String {
        let t = self.name_at(table, i);
        let Some(name) = &check.name else {
            return format!(
                "-- cannot drop an unnamed check constraint on {t}: {}",
                check.expression
            );
        };
        // MariaDB: a column-level check carries the column's name and goes away when the column is modified.
        if let Some(col) = self
            .current_table(table)
            .filter(|_| check.column_level)
            .and_then(|ft| ft.column(name))
        {
            return format!("ALTER TABLE {} MODIFY COLUMN {}", ident(t), column_def(col));
        }
        format!("ALTER TABLE {} DROP CONSTRAINT {}", ident(t), ident(name))
    }
}

/// How an index drop keeps a foreign key served (see `Renderer::fk_index_plan`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FkIndexStep<'a> {
    /// The later change at this position is added in the drop's `ALTER TABLE`.
    Fold(usize),
    /// The drop goes into the `ALTER TABLE` of the later change at this position.
    Defer(usize),
    /// An index named after the constraint, on its columns.
    StandIn(&'a ForeignKey),
}

/// Whether the server refuses to `MODIFY` `from` into `to`: a virtual generated column becoming stored or
/// a plain column, or the other way round.
fn needs_rebuild(from: &Column, to: &Column) -> bool {
    let kind = |c: &Column| c.generated.as_ref().map(|g| g.stored);
    kind(from) != kind(to) && (kind(from) == Some(false) || kind(to) == Some(false))
}

/// Whether an index, unique constraint or primary key of `t` (other than `except`) starts with `cols`.
fn covered(t: &Table, cols: &[&str], except: Option<&str>) -> bool {
    let starts = |list: &[&str]| list.len() >= cols.len() && list[..cols.len()] == *cols;
    if let Some(pk) = &t.primary_key {
        let pk_cols: Vec<&str> = pk.columns.iter().map(String::as_str).collect();
        if except != Some("PRIMARY") && starts(&pk_cols) {
            return true;
        }
    }
    t.uniques
        .iter()
        .filter(|u| except.is_none() || u.name.as_deref() != except)
        .any(|u| starts(&u.columns.iter().map(String::as_str).collect::<Vec<_>>()))
        || t.indexes
            .iter()
            .filter(|x| Some(x.name.as_str()) != except && x.method.is_none())
            .any(|x| starts(&index_columns(x)))
}

/// The plain columns an index starts with (stops at an expression or a prefix part).
fn index_columns(index: &Index) -> Vec<&str> {
    index
        .parts
        .iter()
        .map_while(|p| {
            (p.is_column && split_prefix(&p.expression).1.is_none())
                .then_some(p.expression.as_str())
        })
        .collect()
}

fn pk_clauses(from: Option<&PrimaryKey>, to: Option<&PrimaryKey>) -> String {
    let mut clauses = Vec::new();
    if from.is_some() {
        clauses.push("DROP PRIMARY KEY".to_string());
    }
    if let Some(pk) = to {
        clauses.push(format!("ADD PRIMARY KEY ({})", idents(&pk.columns)));
    }
    clauses.join(", ")
}

fn create_table(t: &Table) -> String {
    // A check declared on a column (MariaDB names it after the column) is declared there again.
    let column_check =
        |c: &Check| c.column_level && c.name.as_deref().is_some_and(|n| t.column(n).is_some());
    let mut lines: Vec<String> = t
        .columns
        .iter()
        .map(|col| {
            let mut def = column_def(col);
            for c in t
                .checks
                .iter()
                .filter(|c| column_check(c) && c.name.as_deref() == Some(col.name.as_str()))
            {
                def.push_str(&format!(" CHECK ({})", c.expression));
            }
            def
        })
        .collect();
    if let Some(pk) = &t.primary_key {
        lines.push(format!("PRIMARY KEY ({})", idents(&pk.columns)));
    }
    for u in &t.uniques {
        match &u.name {
            Some(n) => lines.push(format!(
                "CONSTRAINT {} UNIQUE ({})",
                ident(n),
                idents(&u.columns)
            )),
            None => lines.push(format!("UNIQUE ({})", idents(&u.columns))),
        }
    }
    for i in &t.indexes {
        lines.push(inline_index(i));
    }
    for c in t.checks.iter().filter(|c| !column_check(c)) {
        match &c.name {
            Some(n) => lines.push(format!("CONSTRAINT {} CHECK ({})", ident(n), c.expression)),
            None => lines.push(format!("CHECK ({})", c.expression)),
        }
    }
    for fk in &t.foreign_keys {
        lines.push(fk_def(fk));
    }
    let mut sql = format!(
        "CREATE TABLE {} (\n    {}\n)",
        ident(&t.name),
        lines.join(",\n    ")
    );
    for o in &t.options {
        sql.push(' ');
        sql.push_str(o);
    }
    if let Some(c) = &t.comment {
        sql.push_str(&format!(" COMMENT = {}", literal(c, Dialect::Mysql)));
    }
    sql
}

/// The value of option `key=` in `options`, if there.
fn option<'o>(options: &'o [String], key: &str) -> Option<&'o str> {
    options
        .iter()
        .find_map(|o| o.strip_prefix(key).and_then(|v| v.strip_prefix('=')))
}

/// Whether a column of this type has a collation (what a change of the table's collation re-declares).
fn is_character_type(data_type: &str) -> bool {
    let t = data_type.to_ascii_lowercase();
    let base = t.split(['(', ' ']).next().unwrap_or("");
    matches!(
        base,
        "char" | "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" | "enum" | "set"
    )
}

/// A column definition as in `CREATE TABLE` / `ADD COLUMN` / `MODIFY COLUMN`.
pub(crate) fn column_def(c: &Column) -> String {
    let mut sql = format!("{} {}", ident(&c.name), c.data_type);
    if let Some(coll) = &c.collation {
        sql.push_str(&format!(" COLLATE {coll}"));
    }
    if let Some(g) = &c.generated {
        sql.push_str(&format!(
            " GENERATED ALWAYS AS ({}) {}",
            g.expression,
            if g.stored { "STORED" } else { "VIRTUAL" }
        ));
    }
    if !c.nullable {
        sql.push_str(" NOT NULL");
    } else if c.generated.is_none() && c.data_type.to_ascii_lowercase().starts_with("timestamp") {
        // Without it, a server with `explicit_defaults_for_timestamp` off makes the column NOT NULL.
        sql.push_str(" NULL");
    }
    if let Some(d) = &c.default {
        sql.push_str(" DEFAULT ");
        sql.push_str(&default_sql(d));
    }
    if c.identity.is_some() {
        sql.push_str(" AUTO_INCREMENT");
    }
    if let Some(comment) = &c.comment {
        sql.push_str(&format!(" COMMENT {}", literal(comment, Dialect::Mysql)));
    }
    sql
}

/// A default and the ` ON UPDATE …` clause introspection folded into it (empty when there is none).
fn split_on_update(d: &str) -> (&str, &str) {
    match d.to_ascii_lowercase().find(" on update ") {
        Some(at) => (&d[..at], &d[at..]),
        None => (d, ""),
    }
}

/// A default as written after `DEFAULT`: literals and `CURRENT_TIMESTAMP` bare, other expressions in
/// parentheses. An `ON UPDATE` clause that introspection folded into the default follows it.
fn default_sql(d: &str) -> String {
    let (value, on_update) = split_on_update(d);
    let v = value.trim();
    let lower = v.to_ascii_lowercase();
    let is_literal = v.starts_with('\'')
        || lower == "null"
        || lower.starts_with("b'")
        || lower.starts_with("x'")
        || lower.starts_with("0x")
        || lower.starts_with("_")
        || lower.starts_with('(')
        || v.parse::<f64>().is_ok()
        || lower.starts_with("current_timestamp")
        || lower.starts_with("localtime")
        || lower.starts_with("now(");
    if is_literal {
        format!("{v}{on_update}")
    } else {
        format!("({v}){on_update}")
    }
}

fn fk_def(fk: &ForeignKey) -> String {
    let name = fk
        .name
        .as_ref()
        .map_or(String::new(), |n| format!("CONSTRAINT {} ", ident(n)));
    format!(
        "{name}FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {} ON UPDATE {}",
        idents(&fk.columns),
        ident(&fk.ref_table),
        idents(&fk.ref_columns),
        fk.on_delete.sql(),
        fk.on_update.sql()
    )
}

fn index_kind(i: &Index) -> (&'static str, &'static str) {
    match i.method.as_deref().map(str::to_ascii_uppercase).as_deref() {
        Some("FULLTEXT") => ("FULLTEXT ", ""),
        Some("SPATIAL") => ("SPATIAL ", ""),
        Some("HASH") => (if i.unique { "UNIQUE " } else { "" }, " USING HASH"),
        Some("RTREE") => (if i.unique { "UNIQUE " } else { "" }, " USING RTREE"),
        _ => (if i.unique { "UNIQUE " } else { "" }, ""),
    }
}

/// `CONSTRAINT name UNIQUE (cols)`, as `ALTER TABLE ... ADD` takes it.
fn unique_clause(u: &Unique) -> String {
    let name = u
        .name
        .as_ref()
        .map_or(String::new(), |n| format!("CONSTRAINT {} ", ident(n)));
    format!("{name}UNIQUE ({})", idents(&u.columns))
}

fn inline_index(i: &Index) -> String {
    let (kind, using) = index_kind(i);
    format!(
        "{kind}KEY {} ({}){using}",
        ident(&i.name),
        index_parts(&i.parts)
    )
}

fn create_index(table: &str, i: &Index) -> String {
    let (kind, using) = index_kind(i);
    format!(
        "CREATE {kind}INDEX {} ON {} ({}){using}",
        ident(&i.name),
        ident(table),
        index_parts(&i.parts)
    )
}

fn index_parts(parts: &[IndexPart]) -> String {
    parts
        .iter()
        .map(|p| {
            let mut s = if p.is_column {
                match split_prefix(&p.expression) {
                    (col, Some(len)) => format!("{}({len})", ident(col)),
                    (col, None) => ident(col),
                }
            } else {
                format!("({})", p.expression)
            };
            if p.descending {
                s.push_str(" DESC");
            }
            s
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `name(10)` (an index on a prefix of the column, as introspection spells it) -> (`name`, Some(`10`)).
pub(crate) fn split_prefix(part: &str) -> (&str, Option<&str>) {
    if let Some(open) = part.rfind('(') {
        let len = &part[open + 1..];
        if let Some(len) = len.strip_suffix(')') {
            if open > 0 && !len.is_empty() && len.bytes().all(|b| b.is_ascii_digit()) {
                return (&part[..open], Some(len));
            }
        }
    }
    (part, None)
}

fn idents(names: &[String]) -> String {
    names
        .iter()
        .map(|n| ident(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An identifier, in backticks only when it needs them (not a plain word, or a reserved word).
pub fn ident(name: &str) -> String {
    let plain = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$');
    if plain && !is_reserved(name) {
        name.to_string()
    } else {
        format!("`{}`", name.replace('`', "``"))
    }
}

fn is_reserved(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    RESERVED.binary_search(&upper.as_str()).is_ok()
}

/// MySQL 8 / MariaDB reserved words (sorted).
const RESERVED: &[&str] = &[
    "ACCESSIBLE",
    "ADD",
    "ALL",
    "ALTER",
    "ANALYZE",
    "AND",
    "AS",
    "ASC",
    "ASENSITIVE",
    "BEFORE",
    "BETWEEN",
    "BIGINT",
    "BINARY",
    "BLOB",
    "BOTH",
    "BY",
    "CALL",
    "CASCADE",
    "CASE",
    "CHANGE",
    "CHAR",
    "CHARACTER",
    "CHECK",
    "COLLATE",
    "COLUMN",
    "CONDITION",
    "CONSTRAINT",
    "CONTINUE",
    "CONVERT",
    "CREATE",
    "CROSS",
    "CUBE",
    "CUME_DIST",
    "CURRENT_DATE",
    "CURRENT_ROLE",
    "CURRENT_TIME",
    "CURRENT_TIMESTAMP",
    "CURRENT_USER",
    "CURSOR",
    "DATABASE",
    "DATABASES",
    "DAY_HOUR",
    "DAY_MICROSECOND",
    "DAY_MINUTE",
    "DAY_SECOND",
    "DEC",
    "DECIMAL",
    "DECLARE",
    "DEFAULT",
    "DELAYED",
    "DELETE",
    "DENSE_RANK",
    "DESC",
    "DESCRIBE",
    "DETERMINISTIC",
    "DISTINCT",
    "DISTINCTROW",
    "DIV",
    "DOUBLE",
    "DROP",
    "DUAL",
    "EACH",
    "ELSE",
    "ELSEIF",
    "EMPTY",
    "ENCLOSED",
    "ESCAPED",
    "EXCEPT",
    "EXISTS",
    "EXIT",
    "EXPLAIN",
    "FALSE",
    "FETCH",
    "FIRST_VALUE",
    "FLOAT",
    "FLOAT4",
    "FLOAT8",
    "FOR",
    "FORCE",
    "FOREIGN",
    "FROM",
    "FULLTEXT",
    "FUNCTION",
    "GENERATED",
    "GET",
    "GRANT",
    "GROUP",
    "GROUPING",
    "GROUPS",
    "HAVING",
    "HIGH_PRIORITY",
    "HOUR_MICROSECOND",
    "HOUR_MINUTE",
    "HOUR_SECOND",
    "IF",
    "IGNORE",
    "IN",
    "INDEX",
    "INFILE",
    "INNER",
    "INOUT",
    "INSENSITIVE",
    "INSERT",
    "INT",
    "INT1",
    "INT2",
    "INT3",
    "INT4",
    "INT8",
    "INTEGER",
    "INTERSECT",
    "INTERVAL",
    "INTO",
    "IO_AFTER_GTIDS",
    "IO_BEFORE_GTIDS",
    "IS",
    "ITERATE",
    "JOIN",
    "JSON_TABLE",
    "KEY",
    "KEYS",
    "KILL",
    "LAG",
    "LAST_VALUE",
    "LATERAL",
    "LEAD",
    "LEADING",
    "LEAVE",
    "LEFT",
    "LIKE",
    "LIMIT",
    "LINEAR",
    "LINES",
    "LOAD",
    "LOCALTIME",
    "LOCALTIMESTAMP",
    "LOCK",
    "LONG",
    "LONGBLOB",
    "LONGTEXT",
    "LOOP",
    "LOW_PRIORITY",
    "MASTER_BIND",
    "MASTER_SSL_VERIFY_SERVER_CERT",
    "MATCH",
    "MAXVALUE",
    "MEDIUMBLOB",
    "MEDIUMINT",
    "MEDIUMTEXT",
    "MIDDLEINT",
    "MINUTE_MICROSECOND",
    "MINUTE_SECOND",
    "MOD",
    "MODIFIES",
    "NATURAL",
    "NOT",
    "NO_WRITE_TO_BINLOG",
    "NTH_VALUE",
    "NTILE",
    "NULL",
    "NUMERIC",
    "OF",
    "OFFSET",
    "ON",
    "OPTIMIZE",
    "OPTIMIZER_COSTS",
    "OPTION",
    "OPTIONALLY",
    "OR",
    "ORDER",
    "OUT",
    "OUTER",
    "OUTFILE",
    "OVER",
    "PARTITION",
    "PERCENT_RANK",
    "PRECISION",
    "PRIMARY",
    "PROCEDURE",
    "PURGE",
    "RANGE",
    "RANK",
    "READ",
    "READS",
    "READ_WRITE",
    "REAL",
    "RECURSIVE",
    "REFERENCES",
    "REGEXP",
    "RELEASE",
    "RENAME",
    "REPEAT",
    "REPLACE",
    "REQUIRE",
    "RESIGNAL",
    "RESTRICT",
    "RETURN",
    "RETURNING",
    "REVOKE",
    "RIGHT",
    "RLIKE",
    "ROW",
    "ROWS",
    "ROW_NUMBER",
    "SCHEMA",
    "SCHEMAS",
    "SECOND_MICROSECOND",
    "SELECT",
    "SENSITIVE",
    "SEPARATOR",
    "SET",
    "SHOW",
    "SIGNAL",
    "SMALLINT",
    "SPATIAL",
    "SPECIFIC",
    "SQL",
    "SQLEXCEPTION",
    "SQLSTATE",
    "SQLWARNING",
    "SQL_BIG_RESULT",
    "SQL_CALC_FOUND_ROWS",
    "SQL_SMALL_RESULT",
    "SSL",
    "STARTING",
    "STORED",
    "STRAIGHT_JOIN",
    "SYSTEM",
    "TABLE",
    "TERMINATED",
    "THEN",
    "TINYBLOB",
    "TINYINT",
    "TINYTEXT",
    "TO",
    "TRAILING",
    "TRIGGER",
    "TRUE",
    "UNDO",
    "UNION",
    "UNIQUE",
    "UNLOCK",
    "UNSIGNED",
    "UPDATE",
    "USAGE",
    "USE",
    "USING",
    "UTC_DATE",
    "UTC_TIME",
    "UTC_TIMESTAMP",
    "VALUES",
    "VARBINARY",
    "VARCHAR",
    "VARCHARACTER",
    "VARYING",
    "VIRTUAL",
    "WHEN",
    "WHERE",
    "WHILE",
    "WINDOW",
    "WITH",
    "WRITE",
    "XOR",
    "YEAR_MONTH",
    "ZEROFILL",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{EnumType, FkAction, Generated, Trigger, Unique, View};

    fn col(name: &str, ty: &str) -> Column {
        Column::new(name, ty)
    }

    fn one(change: Change) -> Vec<String> {
        render(&[change], &Schema::default(), &Schema::default())
    }

    fn table(name: &str, columns: Vec<Column>) -> Table {
        Table {
            name: name.into(),
            columns,
            ..Table::default()
        }
    }

    fn fk(name: &str, cols: &[&str], ref_table: &str) -> ForeignKey {
        ForeignKey {
            deferrable: None,
            name: Some(name.into()),
            columns: cols.iter().map(|c| c.to_string()).collect(),
            ref_table: ref_table.into(),
            ref_columns: vec!["id".into()],
            on_delete: FkAction::Cascade,
            on_update: FkAction::Restrict,
        }
    }

    fn schema(tables: Vec<Table>) -> Schema {
        Schema {
            tables,
            ..Schema::default()
        }
    }

    #[test]
    fn reserved_words_are_sorted_and_quoted() {
        assert!(RESERVED.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(ident("users"), "users");
        assert_eq!(ident("order"), "`order`");
        assert_eq!(ident("Key"), "`Key`");
        assert_eq!(ident("my col"), "`my col`");
        assert_eq!(ident("a`b"), "`a``b`");
        assert_eq!(ident("1abc"), "`1abc`");
    }

    #[test]
    fn create_table_with_everything() {
        let mut id = col("id", "int(11)");
        id.nullable = false;
        id.identity = Some(Identity::AutoIncrement);
        let mut name = col("name", "varchar(50)");
        name.default = Some("'it''s'".into());
        name.comment = Some("the name".into());
        let mut g = col("g", "int(11)");
        g.generated = Some(Generated {
            expression: "`id` * 2".into(),
            stored: true,
        });
        let mut t = table(
            "users",
            vec![id, name, g, col("qty", "int(11)"), col("pid", "int(11)")],
        );
        t.primary_key = Some(PrimaryKey {
            name: None,
            columns: vec!["id".into()],
        });
        t.uniques.push(Unique {
            deferrable: None,
            name: Some("uq_name".into()),
            columns: vec!["name".into()],
        });
        t.indexes.push(Index {
            include: Vec::new(),
            name: "ix".into(),
            parts: vec![
                IndexPart {
                    opclass: None,
                    expression: "g".into(),
                    is_column: true,
                    descending: true,
                },
                IndexPart {
                    opclass: None,
                    expression: "name(10)".into(),
                    is_column: true,
                    descending: false,
                },
            ],
            unique: false,
            predicate: None,
            method: None,
        });
        t.checks.push(Check {
            name: Some("ck".into()),
            expression: "`g` > 0".into(),
            column_level: false,
        });
        t.checks.push(Check {
            name: Some("qty".into()),
            expression: "`qty` < 10".into(),
            column_level: true,
        });
        t.foreign_keys.push(fk("fk_p", &["pid"], "parent"));
        t.comment = Some("all users".into());
        t.triggers.push(Trigger {
            name: "tr".into(),
            sql: "CREATE TRIGGER tr BEFORE INSERT ON users FOR EACH ROW SET NEW.qty = 1".into(),
        });
        let sql = one(Change::CreateTable(t));
        assert_eq!(
            sql[0],
            "CREATE TABLE users (\n    \
             id int(11) NOT NULL AUTO_INCREMENT,\n    \
             name varchar(50) DEFAULT 'it''s' COMMENT 'the name',\n    \
             g int(11) GENERATED ALWAYS AS (`id` * 2) STORED,\n    \
             qty int(11) CHECK (`qty` < 10),\n    \
             pid int(11),\n    \
             PRIMARY KEY (id),\n    \
             CONSTRAINT uq_name UNIQUE (name),\n    \
             KEY ix (g DESC, name(10)),\n    \
             CONSTRAINT ck CHECK (`g` > 0),\n    \
             CONSTRAINT fk_p FOREIGN KEY (pid) REFERENCES parent (id) ON DELETE CASCADE ON UPDATE RESTRICT\n\
             ) COMMENT = 'all users'"
        );
        assert_eq!(
            sql[1],
            "CREATE TRIGGER tr BEFORE INSERT ON users FOR EACH ROW SET NEW.qty = 1"
        );
    }

    #[test]
    fn tables_and_columns() {
        assert_eq!(
            one(Change::DropTable(table("order", vec![])))[0],
            "DROP TABLE `order`"
        );
        assert_eq!(
            one(Change::RenameTable {
                from: "a".into(),
                to: "b".into()
            }),
            ["RENAME TABLE a TO b"]
        );
        let to = schema(vec![table(
            "t",
            vec![col("a", "int"), col("b", "int"), col("c", "int")],
        )]);
        let add = |name: &str| Change::AddColumn {
            table: "t".into(),
            column: col(name, "int"),
        };
        let f = Schema::default();
        assert_eq!(
            render(&[add("a")], &f, &to),
            ["ALTER TABLE t ADD COLUMN a int FIRST"]
        );
        assert_eq!(
            render(&[add("b")], &f, &to),
            ["ALTER TABLE t ADD COLUMN b int AFTER a"]
        );
        assert_eq!(
            render(&[add("c")], &f, &to),
            ["ALTER TABLE t ADD COLUMN c int"]
        );
        assert_eq!(
            one(Change::DropColumn {
                table: "t".into(),
                column: col("a", "int")
            }),
            ["ALTER TABLE t DROP COLUMN a"]
        );
        assert_eq!(
            one(Change::RenameColumn {
                table: "t".into(),
                from: "a".into(),
                to: "b".into()
            }),
            ["ALTER TABLE t RENAME COLUMN a TO b"]
        );
        let mut to_col = col("a", "bigint(20)");
        to_col.nullable = false;
        to_col.default = Some("current_timestamp() ON UPDATE current_timestamp()".into());
        assert_eq!(
            one(Change::AlterColumn {
                table: "t".into(),
                from: col("a", "int"),
                to: to_col
            }),
            [
                "UPDATE t SET a = current_timestamp() WHERE a IS NULL",
                "ALTER TABLE t MODIFY COLUMN a bigint(20) NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp()"
            ]
        );
        let mut v = col("g", "int");
        v.generated = Some(Generated {
            expression: "a + 1".into(),
            stored: false,
        });
        let mut st = v.clone();
        st.generated = Some(Generated {
            expression: "a + 1".into(),
            stored: true,
        });
        assert_eq!(
            one(Change::AlterColumn {
                table: "t".into(),
                from: v,
                to: st
            }),
            ["ALTER TABLE t DROP COLUMN g, ADD COLUMN g int GENERATED ALWAYS AS (a + 1) STORED"]
        );
    }

    #[test]
    fn defaults() {
        assert_eq!(default_sql("'x'"), "'x'");
        assert_eq!(default_sql("5"), "5");
        assert_eq!(default_sql("-1.5"), "-1.5");
        assert_eq!(default_sql("NULL"), "NULL");
        assert_eq!(default_sql("current_timestamp()"), "current_timestamp()");
        assert_eq!(default_sql("uuid()"), "(uuid())");
        assert_eq!(
            default_sql("NULL ON UPDATE current_timestamp()"),
            "NULL ON UPDATE current_timestamp()"
        );
    }

    #[test]
    fn primary_keys_fold_into_auto_increment_changes() {
        let pk = |c: &str| {
            Some(PrimaryKey {
                name: None,
                columns: vec![c.into()],
            })
        };
        assert_eq!(
            one(Change::SetPrimaryKey {
                table: "t".into(),
                from: pk("a"),
                to: pk("b")
            }),
            ["ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (b)"]
        );
        assert_eq!(
            one(Change::SetPrimaryKey {
                table: "t".into(),
                from: None,
                to: pk("b")
            }),
            ["ALTER TABLE t ADD PRIMARY KEY (b)"]
        );
        let mut id = col("id", "int");
        id.nullable = false;
        id.identity = Some(Identity::AutoIncrement);
        let changes = [
            Change::AddColumn {
                table: "t".into(),
                column: id,
            },
            Change::SetPrimaryKey {
                table: "t".into(),
                from: None,
                to: pk("id"),
            },
        ];
        assert_eq!(
            render(&changes, &Schema::default(), &Schema::default()),
            ["ALTER TABLE t ADD COLUMN id int NOT NULL AUTO_INCREMENT, ADD PRIMARY KEY (id)"]
        );
    }

    #[test]
    fn indexes_and_constraints() {
        let index = Index {
            include: Vec::new(),
            name: "ix".into(),
            parts: vec![
                IndexPart {
                    opclass: None,
                    expression: "a".into(),
                    is_column: true,
                    descending: false,
                },
                IndexPart {
                    opclass: None,
                    expression: "lower(`b`)".into(),
                    is_column: false,
                    descending: true,
                },
            ],
            unique: true,
            predicate: None,
            method: None,
        };
        assert_eq!(
            one(Change::CreateIndex {
                table: "t".into(),
                index: index.clone()
            }),
            ["CREATE UNIQUE INDEX ix ON t (a, (lower(`b`)) DESC)"]
        );
        let ft = Index {
            include: Vec::new(),
            method: Some("FULLTEXT".into()),
            unique: false,
            parts: vec![index.parts[0].clone()],
            ..index.clone()
        };
        assert_eq!(
            one(Change::CreateIndex {
                table: "t".into(),
                index: ft
            }),
            ["CREATE FULLTEXT INDEX ix ON t (a)"]
        );
        assert_eq!(
            one(Change::DropIndex {
                table: "t".into(),
                index
            }),
            ["ALTER TABLE t DROP INDEX ix"]
        );
        let u = Unique {
            deferrable: None,
            name: Some("uq".into()),
            columns: vec!["a".into(), "b".into()],
        };
        assert_eq!(
            one(Change::AddUnique {
                table: "t".into(),
                unique: u.clone()
            }),
            ["ALTER TABLE t ADD CONSTRAINT uq UNIQUE (a, b)"]
        );
        assert_eq!(
            one(Change::DropUnique {
                table: "t".into(),
                unique: u
            }),
            ["ALTER TABLE t DROP INDEX uq"]
        );
        let ck = Check {
            name: Some("ck".into()),
            expression: "`a` > 0".into(),
            column_level: false,
        };
        assert_eq!(
            one(Change::AddCheck {
                table: "t".into(),
                check: ck.clone()
            }),
            ["ALTER TABLE t ADD CONSTRAINT ck CHECK (`a` > 0)"]
        );
        assert_eq!(
            one(Change::DropCheck {
                table: "t".into(),
                check: ck
            }),
            ["ALTER TABLE t DROP CONSTRAINT ck"]
        );
        // MariaDB column-level check (named after its column): dropped by redefining the column.
        let from = schema(vec![table("t", vec![col("a", "int(11)")])]);
        let col_ck = Check {
            name: Some("a".into()),
            expression: "`a` > 0".into(),
            column_level: true,
        };
        assert_eq!(
            render(
                &[Change::DropCheck {
                    table: "t".into(),
                    check: col_ck.clone()
                }],
                &from,
                &Schema::default()
            ),
            ["ALTER TABLE t MODIFY COLUMN a int(11)"]
        );
        assert_eq!(
            render(
                &[Change::AddCheck {
                    table: "t".into(),
                    check: col_ck
                }],
                &Schema::default(),
                &from
            ),
            ["ALTER TABLE t MODIFY COLUMN a int(11) CHECK (`a` > 0)"]
        );
    }

    #[test]
    fn foreign_keys_and_their_indexes() {
        assert_eq!(
            one(Change::AddForeignKey {
                table: "c".into(),
                foreign_key: fk("fk", &["pid"], "p")
            }),
            ["ALTER TABLE c ADD CONSTRAINT fk FOREIGN KEY (pid) REFERENCES p (id) ON DELETE CASCADE ON UPDATE RESTRICT"]
        );
        // No other index serves the foreign key: the server made one named after it.
        let mut c = table("c", vec![col("pid", "int")]);
        c.foreign_keys.push(fk("fk", &["pid"], "p"));
        let drop = Change::DropForeignKey {
            table: "c".into(),
            foreign_key: fk("fk", &["pid"], "p"),
        };
        assert_eq!(
            render(
                std::slice::from_ref(&drop),
                &schema(vec![c.clone()]),
                &Schema::default()
            ),
            ["ALTER TABLE c DROP FOREIGN KEY fk, DROP INDEX fk"]
        );
        // A foreign key dropped to break a cycle of dropped tables: its index goes with the table.
        assert_eq!(
            render(
                &[drop.clone(), Change::DropTable(c.clone())],
                &schema(vec![c.clone()]),
                &Schema::default()
            ),
            ["ALTER TABLE c DROP FOREIGN KEY fk", "DROP TABLE c"]
        );
        let ix = Index {
            include: Vec::new(),
            name: "ix_pid".into(),
            parts: vec![IndexPart {
                opclass: None,
                expression: "pid".into(),
                is_column: true,
                descending: false,
            }],
            unique: false,
            predicate: None,
            method: None,
        };
        c.indexes.push(ix.clone());
        assert_eq!(
            render(&[drop], &schema(vec![c.clone()]), &Schema::default()),
            ["ALTER TABLE c DROP FOREIGN KEY fk"]
        );
        // Dropping the index a kept foreign key uses puts the server's own index in its place.
        assert_eq!(
            render(
                &[Change::DropIndex {
                    table: "c".into(),
                    index: ix
                }],
                &schema(vec![c]),
                &Schema::default()
            ),
            ["ALTER TABLE c ADD INDEX fk (pid), DROP INDEX ix_pid"]
        );
    }

    #[test]
    fn drops_before_a_table_rename_use_the_old_name() {
        let changes = [
            Change::DropCheck {
                table: "new".into(),
                check: Check {
                    name: Some("ck".into()),
                    expression: "1".into(),
                    column_level: false,
                },
            },
            Change::RenameTable {
                from: "old".into(),
                to: "new".into(),
            },
            Change::AddColumn {
                table: "new".into(),
                column: col("x", "int"),
            },
        ];
        assert_eq!(
            render(&changes, &Schema::default(), &Schema::default()),
            [
                "ALTER TABLE old DROP CONSTRAINT ck",
                "RENAME TABLE old TO new",
                "ALTER TABLE new ADD COLUMN x int"
            ]
        );
    }

    #[test]
    fn comments_triggers_views_enums() {
        assert_eq!(
            one(Change::SetTableComment {
                table: "t".into(),
                from: None,
                to: Some("it's".into())
            }),
            ["ALTER TABLE t COMMENT = 'it''s'"]
        );
        assert_eq!(
            one(Change::SetTableComment {
                table: "t".into(),
                from: Some("x".into()),
                to: None
            }),
            ["ALTER TABLE t COMMENT = ''"]
        );
        let tr = Trigger {
            name: "tr".into(),
            sql: "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.a = 1".into(),
        };
        assert_eq!(
            one(Change::CreateTrigger {
                table: "t".into(),
                trigger: tr.clone()
            }),
            [tr.sql.as_str()]
        );
        assert_eq!(
            one(Change::DropTrigger {
                table: "t".into(),
                trigger: tr
            }),
            ["DROP TRIGGER tr"]
        );
        let v = View {
            indexes: Vec::new(),
            materialized: false,
            name: "v".into(),
            definition: "select `t`.`a` AS `a` from `t`".into(),
            sql: None,
        };
        assert_eq!(
            one(Change::CreateView(v.clone())),
            ["CREATE VIEW v AS select `t`.`a` AS `a` from `t`"]
        );
        assert_eq!(one(Change::DropView(v)), ["DROP VIEW v"]);
        let e = EnumType {
            name: "e".into(),
            values: vec!["a".into()],
        };
        assert!(one(Change::CreateEnum(e.clone())).is_empty());
        assert!(one(Change::DropEnum(e.clone())).is_empty());
        assert!(one(Change::AddEnumValues {
            name: "e".into(),
            values: vec![]
        })
        .is_empty());
        assert!(one(Change::RecreateEnum {
            from: e.clone(),
            to: e
        })
        .is_empty());
    }
}
