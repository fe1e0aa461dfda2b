//! The diff, written once for every dialect: match objects between two schemas, and list the changes in an
//! order that applies (views and foreign keys out of the way first, tables created in dependency order, foreign
//! keys in cycles added last).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::{Change, Check, Column, ForeignKey, Index, Schema, Table, View};

/// Renames declared by the user (`-- alembix:renamed-from OLD` in the schema). Renames are never guessed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenameHints {
    /// (old table name, new table name)
    pub tables: Vec<(String, String)>,
    /// (table name in the desired schema, old column name, new column name)
    pub columns: Vec<(String, String, String)>,
}

impl RenameHints {
    /// The same renames seen from the other side (for the down direction).
    pub fn reversed(&self) -> RenameHints {
        let table_back: HashMap<&str, &str> = self
            .tables
            .iter()
            .map(|(o, n)| (n.as_str(), o.as_str()))
            .collect();
        RenameHints {
            tables: self
                .tables
                .iter()
                .map(|(o, n)| (n.clone(), o.clone()))
                .collect(),
            columns: self
                .columns
                .iter()
                .map(|(t, o, n)| {
                    let old_table = table_back
                        .get(t.as_str())
                        .map_or(t.clone(), |s| s.to_string());
                    (old_table, n.clone(), o.clone())
                })
                .collect(),
        }
    }
}

/// What the dialect can do, as far as ordering is concerned.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiffOptions {
    /// Foreign keys stay inside `CREATE TABLE` even when they point at tables created later (SQLite: it
    /// cannot add them afterwards, and does not check the referenced table at creation).
    pub inline_foreign_keys: bool,
}

/// Changes that turn `from` into `to`.
pub fn diff(from: &Schema, to: &Schema, hints: &RenameHints, opts: DiffOptions) -> Vec<Change> {
    let mut phases = Phases::default();

    // Tables: by name, then by declared rename.
    let mut paired: Vec<(&Table, &Table)> = Vec::new();
    let mut created: Vec<&Table> = Vec::new();
    let mut matched_from: BTreeSet<&str> = BTreeSet::new();
    let mut table_renames: HashMap<&str, &str> = HashMap::new(); // old -> new
    for t in &to.tables {
        if let Some(f) = from.table(&t.name) {
            paired.push((f, t));
            matched_from.insert(&f.name);
        } else if let Some((old, _)) = hints.tables.iter().find(|(old, new)| {
            *new == t.name && from.table(old).is_some() && to.table(old).is_none()
        }) {
            let f = from.table(old).expect("checked above");
            phases.rename_tables.push(Change::RenameTable {
                from: f.name.clone(),
                to: t.name.clone(),
            });
            table_renames.insert(&f.name, &t.name);
            paired.push((f, t));
            matched_from.insert(&f.name);
        } else {
            created.push(t);
        }
    }
    let dropped: Vec<&Table> = from
        .tables
        .iter()
        .filter(|t| !matched_from.contains(t.name.as_str()))
        .collect();

    // Column renames, per table (new table name -> old column -> new column).
    let mut column_renames: HashMap<&str, HashMap<&str, &str>> = HashMap::new();
    for (f, t) in &paired {
        for (table, old, new) in &hints.columns {
            if *table == t.name
                && f.column(old).is_some()
                && t.column(old).is_none()
                && t.column(new).is_some()
            {
                column_renames
                    .entry(t.name.as_str())
                    .or_default()
                    .insert(old.as_str(), new.as_str());
            }
        }
    }
    let rename_col = |table_new: &str, col: &str| -> String {
        column_renames
            .get(table_new)
            .and_then(|m| m.get(col))
            .map_or_else(|| col.to_string(), |c| c.to_string())
    };
    let new_table_name = |old: &str| -> String {
        table_renames
            .get(old)
            .map_or_else(|| old.to_string(), |n| n.to_string())
    };
    // A foreign key of the old schema, renamed into the new schema's names.
    let map_fk = |table_new: &str, fk: &ForeignKey| -> ForeignKey {
        let ref_new = new_table_name(&fk.ref_table);
        ForeignKey {
            columns: fk
                .columns
                .iter()
                .map(|c| rename_col(table_new, c))
                .collect(),
            ref_columns: fk
                .ref_columns
                .iter()
                .map(|c| rename_col(&ref_new, c))
                .collect(),
            ref_table: ref_new,
            ..fk.clone()
        }
    };

    // Enums recreated (values removed or reordered): what reads their columns must step aside for the swap.
    let recreated_enums: Vec<&str> = to
        .enums
        .iter()
        .filter(|e| {
            from.enums
                .iter()
                .any(|x| x.name == e.name && !e.values.starts_with(&x.values))
        })
        .map(|e| e.name.as_str())
        .collect();

    let mut touched_tables: BTreeSet<String> = BTreeSet::new();
    for t in &dropped {
        touched_tables.insert(t.name.clone());
    }
    for old in table_renames.keys() {
        touched_tables.insert(old.to_string());
    }

    for (f, t) in &paired {
        let tn = t.name.as_str();
        // Drops run before the table is renamed, so they name the table as it is then.
        let old = f.name.as_str();
        let renames = column_renames.get(tn);
        // Columns.
        for c in &t.columns {
            let old_name = renames
                .and_then(|m| {
                    m.iter()
                        .find(|(_, new)| **new == c.name)
                        .map(|(old, _)| *old)
                })
                .unwrap_or(c.name.as_str());
            match f.column(old_name) {
                Some(fc) => {
                    if old_name != c.name {
                        phases.columns.push(Change::RenameColumn {
                            table: tn.to_string(),
                            from: old_name.to_string(),
                            to: c.name.clone(),
                        });
                        touched_tables.insert(f.name.clone());
                    }
                    let renamed = Column {
                        name: c.name.clone(),
                        ..fc.clone()
                    };
                    if renamed != *c {
                        if renamed.data_type != c.data_type || renamed.generated != c.generated {
                            touched_tables.insert(f.name.clone());
                        }
                        phases.columns.push(Change::AlterColumn {
                            table: tn.to_string(),
                            from: renamed,
                            to: c.clone(),
                        });
                    }
                }
                None => phases.columns.push(Change::AddColumn {
                    table: tn.to_string(),
                    column: c.clone(),
                }),
            }
        }
        for fc in &f.columns {
            let new_name = rename_col(tn, &fc.name);
            if t.column(&new_name).is_none() {
                touched_tables.insert(f.name.clone());
                phases.drop_columns.push(Change::DropColumn {
                    table: tn.to_string(),
                    column: fc.clone(),
                });
            }
        }
        // Primary key.
        let from_pk = f.primary_key.as_ref().map(|pk| super::PrimaryKey {
            columns: pk.columns.iter().map(|c| rename_col(tn, c)).collect(),
            ..pk.clone()
        });
        if from_pk.as_ref().map(|p| &p.columns) != t.primary_key.as_ref().map(|p| &p.columns) {
            phases.primary_keys.push(Change::SetPrimaryKey {
                table: tn.to_string(),
                from: f.primary_key.clone(),
                to: t.primary_key.clone(),
            });
        }
        // Indexes: matched by what they index, not by name (generated names differ between databases).
        let index_key = |i: &Index, map: bool| {
            let parts: Vec<(String, bool, bool, Option<String>)> = i
                .parts
                .iter()
                .map(|p| {
                    let e = if map && p.is_column {
                        rename_col(tn, &p.expression)
                    } else {
                        p.expression.clone()
                    };
                    (e, p.is_column, p.descending, p.opclass.clone())
                })
                .collect();
            let include: Vec<String> = i
                .include
                .iter()
                .map(|c| if map { rename_col(tn, c) } else { c.clone() })
                .collect();
            (
                parts,
                i.unique,
                i.predicate.clone(),
                i.method.clone(),
                include,
            )
        };
        let to_idx: Vec<_> = t.indexes.iter().map(|i| index_key(i, false)).collect();
        let from_idx: Vec<_> = f.indexes.iter().map(|i| index_key(i, true)).collect();
        let (pair, taken) = match_indexes(&f.indexes, &from_idx, &t.indexes, &to_idx);
        // An enum swapped under a column (rename the type, create it anew, cast the column) fails on an
        // index predicate, an index expression or a check that compares the column with the old type's
        // values: those are dropped before the swap and created again after it; views reading the table too.
        let enum_columns: Vec<&str> = f
            .columns
            .iter()
            .filter(|c| {
                let ty = c.data_type.trim_end_matches("[]").trim_matches('"');
                recreated_enums.contains(&ty)
            })
            .map(|c| c.name.as_str())
            .collect();
        let reads_swapped_enum = |sql: &str| {
            enum_columns.iter().any(|c| mentions(sql, c))
                || recreated_enums.iter().any(|e| mentions(sql, e))
        };
        if !enum_columns.is_empty() {
            touched_tables.insert(f.name.clone());
        }
        for (fi, i) in f.indexes.iter().enumerate() {
            let reads_enum = !enum_columns.is_empty()
                && (i.predicate.as_deref().is_some_and(reads_swapped_enum)
                    || i.parts
                        .iter()
                        .any(|p| !p.is_column && reads_swapped_enum(&p.expression)));
            match pair[fi] {
                None => phases.drop_constraints.push(Change::DropIndex {
                    table: old.to_string(),
                    index: i.clone(),
                }),
                // Kept, but made again around the enum swap (under its new name, if renamed).
                Some(ti) if reads_enum => {
                    phases.drop_constraints.push(Change::DropIndex {
                        table: old.to_string(),
                        index: i.clone(),
                    });
                    phases.add_constraints.push(Change::CreateIndex {
                        table: tn.to_string(),
                        index: t.indexes[ti].clone(),
                    });
                }
                // Renamed in the declaration; the names the server gives a foreign key's index are its own.
                Some(ti)
                    if t.indexes[ti].name != i.name
                        && !server_named(f, i)
                        && !server_named(t, &t.indexes[ti]) =>
                {
                    phases.columns.push(Change::RenameIndex {
                        table: tn.to_string(),
                        from: i.name.clone(),
                        index: t.indexes[ti].clone(),
                    })
                }
                Some(_) => {}
            }
        }
        for (ti, i) in t.indexes.iter().enumerate() {
            if !taken[ti] {
                phases.add_constraints.push(Change::CreateIndex {
                    table: tn.to_string(),
                    index: i.clone(),
                });
            }
        }
        // Unique constraints by columns.
        for u in &f.uniques {
            let cols: Vec<String> = u.columns.iter().map(|c| rename_col(tn, c)).collect();
            if !t
                .uniques
                .iter()
                .any(|x| x.columns == cols && x.deferrable == u.deferrable)
            {
                phases.drop_constraints.push(Change::DropUnique {
                    table: old.to_string(),
                    unique: u.clone(),
                });
            }
        }
        for u in &t.uniques {
            if !f.uniques.iter().any(|x| {
                x.columns
                    .iter()
                    .map(|c| rename_col(tn, c))
                    .collect::<Vec<_>>()
                    == u.columns
                    && x.deferrable == u.deferrable
            }) {
                phases.add_constraints.push(Change::AddUnique {
                    table: tn.to_string(),
                    unique: u.clone(),
                });
            }
        }
        // Checks by expression and level (MariaDB's column-level checks behave differently under `MODIFY`).
        let same_check =
            |a: &Check, b: &Check| a.expression == b.expression && a.column_level == b.column_level;
        for c in &f.checks {
            if !t.checks.iter().any(|x| same_check(x, c)) {
                phases.drop_constraints.push(Change::DropCheck {
                    table: old.to_string(),
                    check: c.clone(),
                });
            }
        }
        for c in &t.checks {
            if !f.checks.iter().any(|x| same_check(x, c)) {
                phases.add_constraints.push(Change::AddCheck {
                    table: tn.to_string(),
                    check: c.clone(),
                });
            }
        }
        if !enum_columns.is_empty() {
            for c in f
                .checks
                .iter()
                .filter(|c| reads_swapped_enum(&c.expression))
            {
                if let Some(x) = t.checks.iter().find(|x| same_check(x, c)) {
                    phases.drop_constraints.push(Change::DropCheck {
                        table: old.to_string(),
                        check: c.clone(),
                    });
                    phases.add_constraints.push(Change::AddCheck {
                        table: tn.to_string(),
                        check: x.clone(),
                    });
                }
            }
        }
        // Exclusion constraints by definition.
        for x in &f.exclusions {
            if !t.exclusions.iter().any(|y| y.definition == x.definition) {
                phases.drop_constraints.push(Change::DropExclusion {
                    table: old.to_string(),
                    exclusion: x.clone(),
                });
            }
        }
        for x in &t.exclusions {
            if !f.exclusions.iter().any(|y| y.definition == x.definition) {
                phases.add_constraints.push(Change::AddExclusion {
                    table: tn.to_string(),
                    exclusion: x.clone(),
                });
            }
        }
        // Foreign keys by definition.
        let same_fk = |a: &ForeignKey, b: &ForeignKey| {
            a.columns == b.columns
                && a.ref_table == b.ref_table
                && a.ref_columns == b.ref_columns
                && a.on_delete == b.on_delete
                && a.on_update == b.on_update
                && a.deferrable == b.deferrable
        };
        for fk in &f.foreign_keys {
            let mapped = map_fk(tn, fk);
            if !t.foreign_keys.iter().any(|x| same_fk(x, &mapped)) {
                phases.drop_fks.push(Change::DropForeignKey {
                    table: old.to_string(),
                    foreign_key: fk.clone(),
                });
            }
        }
        for fk in &t.foreign_keys {
            if !f.foreign_keys.iter().any(|x| same_fk(&map_fk(tn, x), fk)) {
                phases.add_fks.push(Change::AddForeignKey {
                    table: tn.to_string(),
                    foreign_key: fk.clone(),
                });
            }
        }
        if f.comment != t.comment {
            phases.comments.push(Change::SetTableComment {
                table: tn.to_string(),
                from: f.comment.clone(),
                to: t.comment.clone(),
            });
        }
        if f.options != t.options {
            phases.columns.push(Change::SetTableOptions {
                table: tn.to_string(),
                from: f.options.clone(),
                to: t.options.clone(),
            });
        }
        // Triggers by name and text.
        for tr in &f.triggers {
            if !t.triggers.contains(tr) {
                phases.drop_triggers.push(Change::DropTrigger {
                    table: old.to_string(),
                    trigger: tr.clone(),
                });
            }
        }
        for tr in &t.triggers {
            if !f.triggers.contains(tr) {
                phases.create_triggers.push(Change::CreateTrigger {
                    table: tn.to_string(),
                    trigger: tr.clone(),
                });
            }
        }
    }

    // Foreign keys of remaining tables that point at dropped tables go before the tables.
    drop_tables(&dropped, &mut phases);
    create_tables(&created, from, opts, &mut phases);

    // Views: dropped, changed, or reading a table whose shape changes are dropped first and created last.
    for v in &from.views {
        let target = to.view(&v.name);
        let depends_on_touched = touched_tables.iter().any(|t| mentions(&v.definition, t));
        let changed = |t: &View| t.definition != v.definition || t.materialized != v.materialized;
        if target.is_none_or(changed) || depends_on_touched {
            phases.drop_views.push(Change::DropView(v.clone()));
        }
    }
    let dropped_views: BTreeSet<&str> = phases
        .drop_views
        .iter()
        .filter_map(|c| match c {
            Change::DropView(v) => Some(v.name.as_str()),
            _ => None,
        })
        .collect();
    // A materialized view's indexes: with the view when it is created, else matched like a table's.
    let view_index_key = |i: &Index| {
        (
            i.parts.clone(),
            i.unique,
            i.predicate.clone(),
            i.method.clone(),
            i.include.clone(),
        )
    };
    for v in &to.views {
        if from.view(&v.name).is_none() || dropped_views.contains(v.name.as_str()) {
            phases.create_views.push(Change::CreateView(v.clone()));
            for i in &v.indexes {
                phases.create_view_indexes.push(Change::CreateIndex {
                    table: v.name.clone(),
                    index: i.clone(),
                });
            }
        } else if let Some(fv) = from.view(&v.name) {
            let to_keys: Vec<_> = v.indexes.iter().map(view_index_key).collect();
            let from_keys: Vec<_> = fv.indexes.iter().map(view_index_key).collect();
            let (pair, taken) = match_indexes(&fv.indexes, &from_keys, &v.indexes, &to_keys);
            for (i, p) in fv.indexes.iter().zip(&pair) {
                match p {
                    None => phases.drop_constraints.push(Change::DropIndex {
                        table: v.name.clone(),
                        index: i.clone(),
                    }),
                    Some(ti) if v.indexes[*ti].name != i.name => {
                        phases.add_constraints.push(Change::RenameIndex {
                            table: v.name.clone(),
                            from: i.name.clone(),
                            index: v.indexes[*ti].clone(),
                        })
                    }
                    Some(_) => {}
                }
            }
            for (i, _) in v.indexes.iter().zip(&taken).filter(|(_, t)| !**t) {
                phases.add_constraints.push(Change::CreateIndex {
                    table: v.name.clone(),
                    index: i.clone(),
                });
            }
        }
    }
    order_views(&mut phases.drop_views, true);
    order_views(&mut phases.create_views, false);

    // Enums.
    for e in &to.enums {
        match from.enums.iter().find(|x| x.name == e.name) {
            None => phases.create_enums.push(Change::CreateEnum(e.clone())),
            Some(old) if old.values == e.values => {}
            Some(old) if e.values.starts_with(&old.values) => {
                phases.create_enums.push(Change::AddEnumValues {
                    name: e.name.clone(),
                    values: e.values[old.values.len()..].to_vec(),
                })
            }
            Some(old) => phases.create_enums.push(Change::RecreateEnum {
                from: old.clone(),
                to: e.clone(),
            }),
        }
    }
    for e in &from.enums {
        if !to.enums.iter().any(|x| x.name == e.name) {
            phases.drop_enums.push(Change::DropEnum(e.clone()));
        }
    }
    // Functions: created before the tables, checks, defaults and triggers that call them, dropped after.
    for fnc in &to.functions {
        match from.functions.iter().find(|x| x.signature == fnc.signature) {
            None => phases
                .create_enums
                .push(Change::CreateFunction(fnc.clone())),
            Some(old) if old.definition != fnc.definition => {
                phases.create_enums.push(Change::ReplaceFunction {
                    from: old.clone(),
                    to: fnc.clone(),
                })
            }
            Some(_) => {}
        }
    }
    for fnc in &from.functions {
        if !to.functions.iter().any(|x| x.signature == fnc.signature) {
            phases.drop_enums.push(Change::DropFunction(fnc.clone()));
        }
    }
    // Sequences: created before the tables whose defaults read them, dropped after.
    for s in &to.sequences {
        match from.sequences.iter().find(|x| x.name == s.name) {
            None => phases.create_enums.push(Change::CreateSequence(s.clone())),
            Some(old) if old != s => phases.create_enums.push(Change::AlterSequence {
                from: old.clone(),
                to: s.clone(),
            }),
            Some(_) => {}
        }
    }
    for s in &from.sequences {
        if !to.sequences.iter().any(|x| x.name == s.name) {
            phases.drop_enums.push(Change::DropSequence(s.clone()));
        }
    }
    // Schemas: created first, dropped last (empty by then).
    for s in to.schemas.iter().filter(|s| !from.schemas.contains(s)) {
        phases.create_schemas.push(Change::CreateSchema(s.clone()));
    }
    for s in from.schemas.iter().filter(|s| !to.schemas.contains(s)) {
        phases.drop_schemas.push(Change::DropSchema(s.clone()));
    }
    phases.into_changes()
}

#[derive(Default)]
struct Phases {
    create_schemas: Vec<Change>,
    drop_views: Vec<Change>,
    drop_triggers: Vec<Change>,
    drop_fks: Vec<Change>,
    drop_constraints: Vec<Change>,
    drop_tables: Vec<Change>,
    create_enums: Vec<Change>,
    rename_tables: Vec<Change>,
    create_tables: Vec<Change>,
    columns: Vec<Change>,
    primary_keys: Vec<Change>,
    drop_columns: Vec<Change>,
    add_constraints: Vec<Change>,
    add_fks: Vec<Change>,
    comments: Vec<Change>,
    create_triggers: Vec<Change>,
    create_views: Vec<Change>,
    create_view_indexes: Vec<Change>,
    drop_enums: Vec<Change>,
    drop_schemas: Vec<Change>,
}

impl Phases {
    fn into_changes(self) -> Vec<Change> {
        [
            self.create_schemas,
            self.drop_views,
            self.drop_triggers,
            self.drop_fks,
            self.drop_constraints,
            self.drop_tables,
            self.create_enums,
            self.rename_tables,
            self.create_tables,
            self.columns,
            self.primary_keys,
            self.drop_columns,
            self.add_constraints,
            self.add_fks,
            self.comments,
            self.create_triggers,
            self.create_views,
            self.create_view_indexes,
            self.drop_enums,
            self.drop_schemas,
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// Drop tables that reference others first; foreign keys inside a cycle of dropped tables are dropped
/// before any of them.
fn drop_tables(dropped: &[&Table], phases: &mut Phases) {
    let names: BTreeSet<&str> = dropped.iter().map(|t| t.name.as_str()).collect();
    let deps: BTreeMap<&str, BTreeSet<&str>> = dropped
        .iter()
        .map(|t| {
            let refs = t
                .foreign_keys
                .iter()
                .map(|fk| fk.ref_table.as_str())
                .filter(|r| names.contains(r) && *r != t.name)
                .collect();
            (t.name.as_str(), refs)
        })
        .collect();
    // Creation order (referenced first), reversed for dropping.
    let (order, cyclic) = topo(&deps);
    for t in dropped {
        for fk in &t.foreign_keys {
            if cyclic.contains(t.name.as_str()) && cyclic.contains(fk.ref_table.as_str()) {
                phases.drop_fks.push(Change::DropForeignKey {
                    table: t.name.clone(),
                    foreign_key: fk.clone(),
                });
            }
        }
    }
    for name in order.iter().rev() {
        if let Some(t) = dropped.iter().find(|t| t.name == *name) {
            phases.drop_tables.push(Change::DropTable((*t).clone()));
        }
    }
}

/// Create referenced tables first. Foreign keys to tables created later (cycles) are added afterwards,
/// unless the dialect keeps them inline.
fn create_tables(created: &[&Table], from: &Schema, opts: DiffOptions, phases: &mut Phases) {
    let names: BTreeSet<&str> = created.iter().map(|t| t.name.as_str()).collect();
    let deps: BTreeMap<&str, BTreeSet<&str>> = created
        .iter()
        .map(|t| {
            let refs = t
                .foreign_keys
                .iter()
                .map(|fk| fk.ref_table.as_str())
                .filter(|r| names.contains(r) && *r != t.name)
                .collect();
            (t.name.as_str(), refs)
        })
        .collect();
    let (order, _) = topo(&deps);
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for name in &order {
        let Some(t) = created.iter().find(|t| t.name == *name) else {
            continue;
        };
        let mut table = (*t).clone();
        if !opts.inline_foreign_keys {
            let (keep, defer): (Vec<ForeignKey>, Vec<ForeignKey>) =
                table.foreign_keys.into_iter().partition(|fk| {
                    fk.ref_table == t.name
                        || done.contains(fk.ref_table.as_str())
                        || from.table(&fk.ref_table).is_some()
                        || !names.contains(fk.ref_table.as_str())
                });
            table.foreign_keys = keep;
            for fk in defer {
                phases.add_fks.push(Change::AddForeignKey {
                    table: t.name.clone(),
                    foreign_key: fk,
                });
            }
        }
        done.insert(name);
        phases.create_tables.push(Change::CreateTable(table));
    }
}

/// Topological order of `deps` (each name after what it depends on), names in cycles last; and the set of
/// names in cycles.
fn topo<'a>(deps: &BTreeMap<&'a str, BTreeSet<&'a str>>) -> (Vec<&'a str>, BTreeSet<&'a str>) {
    let mut order = Vec::new();
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    loop {
        let ready: Vec<&str> = deps
            .iter()
            .filter(|(n, d)| !placed.contains(*n) && d.iter().all(|x| placed.contains(x)))
            .map(|(n, _)| *n)
            .collect();
        if ready.is_empty() {
            break;
        }
        for n in ready {
            placed.insert(n);
            order.push(n);
        }
    }
    let cyclic: BTreeSet<&str> = deps
        .keys()
        .copied()
        .filter(|n| !placed.contains(n))
        .collect();
    order.extend(cyclic.iter().copied());
    (order, cyclic)
}

/// Whether SQL text mentions `name` as a word, case-insensitively (a view or trigger reading a table).
/// Conservative: the word inside a string literal counts too.
pub fn mentions(sql: &str, name: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    let name = name.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let word =
        |b: Option<&u8>| b.is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'$');
    let mut start = 0;
    while let Some(i) = lower[start..].find(&name) {
        let at = start + i;
        if !word(at.checked_sub(1).and_then(|j| bytes.get(j))) && !word(bytes.get(at + name.len()))
        {
            return true;
        }
        start = at + name.len();
    }
    false
}

/// Pair indexes of `from` with indexes of `to` one to one by their keys (two indexes on the same columns are
/// two indexes), the same name first, then any of the same definition (a rename). Returns, for each `from`
/// index, its partner in `to`, and which `to` indexes have one.
fn match_indexes<K: PartialEq>(
    from: &[Index],
    from_keys: &[K],
    to: &[Index],
    to_keys: &[K],
) -> (Vec<Option<usize>>, Vec<bool>) {
    let mut pair: Vec<Option<usize>> = vec![None; from.len()];
    let mut taken = vec![false; to.len()];
    for same_name in [true, false] {
        for (fi, k) in from_keys.iter().enumerate() {
            if pair[fi].is_some() {
                continue;
            }
            let found = (0..to.len()).find(|&ti| {
                !taken[ti] && to_keys[ti] == *k && (!same_name || to[ti].name == from[fi].name)
            });
            if let Some(ti) = found {
                pair[fi] = Some(ti);
                taken[ti] = true;
            }
        }
    }
    (pair, taken)
}

/// Whether `index` is one the server made and named for a foreign key of `t` (MySQL/MariaDB: after the
/// constraint, or after its first column, `_2`, `_3` on a clash), on exactly its columns.
fn server_named(t: &Table, index: &Index) -> bool {
    !index.unique
        && index.parts.iter().all(|p| p.is_column)
        && t.foreign_keys.iter().any(|fk| {
            let cols: Vec<&str> = index.parts.iter().map(|p| p.expression.as_str()).collect();
            let first = fk.columns.first().map(String::as_str).unwrap_or("");
            cols == fk.columns.iter().map(String::as_str).collect::<Vec<_>>()
                && (fk.name.as_deref() == Some(index.name.as_str())
                    || index.name == first
                    || index.name.strip_prefix(first).is_some_and(|rest| {
                        rest.strip_prefix('_')
                            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                    }))
        })
}

/// Views that read other views: create the read ones first, drop them last.
fn order_views(changes: &mut [Change], dropping: bool) {
    let views: Vec<View> = changes
        .iter()
        .filter_map(|c| match c {
            Change::CreateView(v) | Change::DropView(v) => Some(v.clone()),
            _ => None,
        })
        .collect();
    let deps: BTreeMap<&str, BTreeSet<&str>> = views
        .iter()
        .map(|v| {
            (
                v.name.as_str(),
                views
                    .iter()
                    .filter(|o| o.name != v.name && mentions(&v.definition, &o.name))
                    .map(|o| o.name.as_str())
                    .collect(),
            )
        })
        .collect();
    let (order, _) = topo(&deps);
    let position: HashMap<&str, usize> = order.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let key = |c: &Change| match c {
        Change::CreateView(v) | Change::DropView(v) => {
            position.get(v.name.as_str()).copied().unwrap_or(0)
        }
        _ => 0,
    };
    changes.sort_by_key(|c| {
        let k = key(c);
        if dropping {
            usize::MAX - k
        } else {
            k
        }
    });
}

#[cfg(test)]
mod tests;
