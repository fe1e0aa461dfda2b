//! Diff unit tests on hand-built schemas (no database); the fixture suite covers every dialect end to end.

use super::*;
use crate::schema::{EnumType, FkAction, IndexPart, PrimaryKey};

fn col(name: &str, ty: &str) -> Column {
    Column::new(name, ty)
}

fn table(name: &str, cols: &[(&str, &str)]) -> Table {
    Table {
        name: name.into(),
        columns: cols.iter().map(|(n, t)| col(n, t)).collect(),
        primary_key: Some(PrimaryKey {
            name: None,
            columns: vec![cols[0].0.into()],
        }),
        ..Table::default()
    }
}

fn fk(cols: &str, to: &str) -> ForeignKey {
    ForeignKey {
        deferrable: None,
        name: None,
        columns: vec![cols.into()],
        ref_table: to.into(),
        ref_columns: vec!["id".into()],
        on_delete: FkAction::NoAction,
        on_update: FkAction::NoAction,
    }
}

fn schema(tables: Vec<Table>) -> Schema {
    Schema {
        tables,
        ..Schema::default()
    }
}

fn kinds(changes: &[Change]) -> Vec<String> {
    changes.iter().map(Change::describe).collect()
}

#[test]
fn identical_schemas_have_no_changes() {
    let s = schema(vec![table(
        "users",
        &[("id", "integer"), ("email", "text")],
    )]);
    assert!(diff(&s, &s, &RenameHints::default(), DiffOptions::default()).is_empty());
}

#[test]
fn add_drop_and_alter_columns() {
    let from = schema(vec![table(
        "users",
        &[("id", "integer"), ("name", "text"), ("age", "integer")],
    )]);
    let mut users = table(
        "users",
        &[("id", "integer"), ("age", "bigint"), ("phone", "text")],
    );
    users.columns[1].nullable = false;
    let to = schema(vec![users]);
    let changes = diff(&from, &to, &RenameHints::default(), DiffOptions::default());
    assert_eq!(
        kinds(&changes),
        [
            "alter column users.age",
            "add column users.phone",
            "drop column users.name"
        ]
    );
    assert!(changes[0].warning().is_some());
    assert!(changes[2]
        .warning()
        .unwrap()
        .contains("drops column users.name"));
}

#[test]
fn declared_renames_are_renames_and_undeclared_are_drop_add() {
    let from = schema(vec![table(
        "people",
        &[("id", "integer"), ("name", "text")],
    )]);
    let to = schema(vec![table(
        "users",
        &[("id", "integer"), ("full_name", "text")],
    )]);
    let none = diff(&from, &to, &RenameHints::default(), DiffOptions::default());
    assert_eq!(kinds(&none), ["drop table people", "create table users"]);
    let hints = RenameHints {
        tables: vec![("people".into(), "users".into())],
        columns: vec![("users".into(), "name".into(), "full_name".into())],
    };
    let renamed = diff(&from, &to, &hints, DiffOptions::default());
    assert_eq!(
        kinds(&renamed),
        [
            "rename table people to users",
            "rename column users.name to full_name"
        ]
    );
    // And back.
    let back = diff(&to, &from, &hints.reversed(), DiffOptions::default());
    assert_eq!(
        kinds(&back),
        [
            "rename table users to people",
            "rename column people.full_name to name"
        ]
    );
}

#[test]
fn tables_are_created_in_dependency_order_and_cycles_defer_foreign_keys() {
    let mut a = table("a", &[("id", "integer"), ("b_id", "integer")]);
    a.foreign_keys.push(fk("b_id", "b"));
    let mut b = table("b", &[("id", "integer"), ("a_id", "integer")]);
    b.foreign_keys.push(fk("a_id", "a"));
    let mut c = table("c", &[("id", "integer"), ("a_id", "integer")]);
    c.foreign_keys.push(fk("a_id", "a"));
    let to = schema(vec![a, b, c]);
    let changes = diff(
        &Schema::default(),
        &to,
        &RenameHints::default(),
        DiffOptions::default(),
    );
    let k = kinds(&changes);
    // c comes after a; in the a<->b cycle, the key of the table created first is added at the end.
    let pos = |s: &str| k.iter().position(|x| x == s).unwrap();
    assert!(pos("create table a") < pos("create table c"), "{k:?}");
    assert_eq!(
        k.iter()
            .filter(|x| x.starts_with("add foreign key"))
            .count(),
        1,
        "{k:?}"
    );
    // Inline (SQLite): no separate foreign-key changes.
    let inline = diff(
        &Schema::default(),
        &to,
        &RenameHints::default(),
        DiffOptions {
            inline_foreign_keys: true,
        },
    );
    assert!(inline.iter().all(|c| matches!(c, Change::CreateTable(_))));
    // Dropping them all: the cycle's keys go first, then the tables, referencing ones first.
    let down = diff(
        &to,
        &Schema::default(),
        &RenameHints::default(),
        DiffOptions::default(),
    );
    let k = kinds(&down);
    assert!(k[0].starts_with("drop foreign key"), "{k:?}");
    assert!(
        k.iter().position(|x| x == "drop table c").unwrap()
            < k.iter().position(|x| x == "drop table a").unwrap()
    );
}

#[test]
fn indexes_match_by_definition_then_rename() {
    let mut from_t = table("t", &[("id", "integer"), ("x", "integer")]);
    from_t.indexes.push(Index {
        include: Vec::new(),
        name: "t_x_idx".into(),
        parts: vec![IndexPart {
            opclass: None,
            expression: "x".into(),
            is_column: true,
            descending: false,
        }],
        unique: false,
        predicate: None,
        method: None,
    });
    let mut to_t = from_t.clone();
    to_t.indexes[0].name = "ix_t_x".into();
    // The same index under another name: a rename, not a drop and a create.
    let k = kinds(&diff(
        &schema(vec![from_t.clone()]),
        &schema(vec![to_t.clone()]),
        &RenameHints::default(),
        DiffOptions::default(),
    ));
    assert_eq!(k, ["rename index t_x_idx on t to ix_t_x"]);
    // Two indexes on the same column are two indexes.
    let mut twice = from_t.clone();
    let mut second = twice.indexes[0].clone();
    second.name = "t_x_idx1".into();
    twice.indexes.push(second);
    let k = kinds(&diff(
        &schema(vec![from_t.clone()]),
        &schema(vec![twice]),
        &RenameHints::default(),
        DiffOptions::default(),
    ));
    assert_eq!(k, ["create index t_x_idx1 on t"]);
    // The index a MySQL server made for a foreign key is named by it: never a rename.
    let fk = ForeignKey {
        deferrable: None,
        name: Some("fk_t_x".into()),
        columns: vec!["x".into()],
        ref_table: "p".into(),
        ref_columns: vec!["id".into()],
        on_delete: FkAction::NoAction,
        on_update: FkAction::NoAction,
    };
    let mut a = from_t.clone();
    a.indexes[0].name = "x".into();
    a.foreign_keys.push(fk.clone());
    let mut b = a.clone();
    b.indexes[0].name = "fk_t_x".into();
    assert!(diff(
        &schema(vec![a]),
        &schema(vec![b]),
        &RenameHints::default(),
        DiffOptions::default()
    )
    .is_empty());
    to_t.indexes[0].predicate = Some("x > 0".into());
    let k = kinds(&diff(
        &schema(vec![from_t]),
        &schema(vec![to_t]),
        &RenameHints::default(),
        DiffOptions::default(),
    ));
    assert_eq!(k, ["drop index t_x_idx on t", "create index ix_t_x on t"]);
}

#[test]
fn views_reading_changed_tables_are_recreated() {
    let from_t = table("t", &[("id", "integer"), ("x", "integer")]);
    let mut to_t = from_t.clone();
    to_t.columns[1].data_type = "bigint".into();
    let v = View {
        indexes: Vec::new(),
        materialized: false,
        name: "v".into(),
        definition: "SELECT id, x FROM t".into(),
        sql: None,
    };
    let from = Schema {
        schemas: Vec::new(),
        functions: Vec::new(),
        sequences: Vec::new(),
        defaults: Vec::new(),
        tables: vec![from_t],
        views: vec![v.clone()],
        enums: vec![],
    };
    let to = Schema {
        schemas: Vec::new(),
        functions: Vec::new(),
        sequences: Vec::new(),
        defaults: Vec::new(),
        tables: vec![to_t],
        views: vec![v],
        enums: vec![],
    };
    let k = kinds(&diff(
        &from,
        &to,
        &RenameHints::default(),
        DiffOptions::default(),
    ));
    assert_eq!(k, ["drop view v", "alter column t.x", "create view v"]);
}

#[test]
fn enums_append_or_recreate() {
    let e = |vals: &[&str]| EnumType {
        name: "mood".into(),
        values: vals.iter().map(|s| s.to_string()).collect(),
    };
    let s = |en| Schema {
        enums: vec![en],
        ..Schema::default()
    };
    let add = diff(
        &s(e(&["a", "b"])),
        &s(e(&["a", "b", "c"])),
        &RenameHints::default(),
        DiffOptions::default(),
    );
    assert!(matches!(&add[..], [Change::AddEnumValues { values, .. }] if values == &["c"]));
    let re = diff(
        &s(e(&["a", "b"])),
        &s(e(&["b", "a"])),
        &RenameHints::default(),
        DiffOptions::default(),
    );
    assert!(matches!(&re[..], [Change::RecreateEnum { .. }]));
}
