//! Which objects `check` and `revision --autogenerate` compare: `[compare] include` / `exclude` in the
//! config, each a list of `kind:pattern` (`trigger:audit_*`, `table:spatial_ref_sys`, `index:*.ix_tmp_*`),
//! or a bare pattern, which names tables and views. A pattern is a glob (`*`, `?`, `[...]`) matched against
//! the object's name and, for an object of a table, also against `table.name`.
//!
//! An object that an `exclude` pattern matches is left out of both sides of the comparison: it is neither
//! created nor dropped (a trigger made by `op.execute`, a table another tool owns). When `include` names a
//! kind, objects of that kind that no `include` pattern matches are left out too. `exclude` wins.

use globset::{GlobBuilder, GlobMatcher};

use super::Schema;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Table,
    View,
    Column,
    Index,
    Unique,
    Check,
    ForeignKey,
    Trigger,
    Enum,
    Sequence,
    Function,
}

const KINDS: &[(&str, Kind)] = &[
    ("table", Kind::Table),
    ("view", Kind::View),
    ("column", Kind::Column),
    ("index", Kind::Index),
    ("unique", Kind::Unique),
    ("check", Kind::Check),
    ("foreign_key", Kind::ForeignKey),
    ("trigger", Kind::Trigger),
    ("enum", Kind::Enum),
    ("sequence", Kind::Sequence),
    ("function", Kind::Function),
];

#[derive(Debug, Clone)]
struct Pattern {
    /// `None`: a bare pattern (tables and views).
    kind: Option<Kind>,
    glob: GlobMatcher,
}

impl Pattern {
    fn applies_to(&self, kind: Kind) -> bool {
        match self.kind {
            Some(k) => k == kind,
            None => matches!(kind, Kind::Table | Kind::View),
        }
    }
}

/// The compiled `[compare]` settings. The default compares everything.
#[derive(Debug, Clone, Default)]
pub struct ObjectFilter {
    include: Vec<Pattern>,
    exclude: Vec<Pattern>,
}

fn compile(list: &[String], setting: &str) -> Result<Vec<Pattern>, String> {
    list.iter()
        .map(|text| {
            let (kind, pattern) = match text.split_once(':') {
                Some((k, p)) => {
                    let Some(&(_, kind)) = KINDS.iter().find(|(name, _)| *name == k.trim()) else {
                        return Err(format!(
                            "{setting}: unknown object kind `{k}` in `{text}` (one of: {})",
                            KINDS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                        ));
                    };
                    (Some(kind), p.trim())
                }
                None => (None, text.trim()),
            };
            let glob = GlobBuilder::new(pattern)
                .literal_separator(false)
                .build()
                .map_err(|e| format!("{setting}: `{text}` is not a valid pattern: {e}"))?
                .compile_matcher();
            Ok(Pattern { kind, glob })
        })
        .collect()
}

impl ObjectFilter {
    /// From the config's `[compare] include` and `exclude` lists; the error names the bad entry.
    pub fn new(include: &[String], exclude: &[String]) -> Result<ObjectFilter, String> {
        Ok(ObjectFilter {
            include: compile(include, "compare.include")?,
            exclude: compile(exclude, "compare.exclude")?,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Whether an object of `kind` named `name` (on `table`, for the objects of a table) is compared.
    fn keeps(&self, kind: Kind, table: Option<&str>, name: Option<&str>) -> bool {
        let name = name.unwrap_or("");
        let qualified = table.map(|t| format!("{t}.{name}"));
        let hit = |p: &Pattern| {
            p.applies_to(kind)
                && (p.glob.is_match(name)
                    || qualified.as_deref().is_some_and(|q| p.glob.is_match(q)))
        };
        if self.exclude.iter().any(hit) {
            return false;
        }
        let mut restricting = self
            .include
            .iter()
            .filter(|p| p.applies_to(kind))
            .peekable();
        restricting.peek().is_none() || self.include.iter().any(hit)
    }

    /// Leave out of `schema` what is not compared.
    pub fn apply(&self, schema: &mut Schema) {
        if self.is_empty() {
            return;
        }
        schema
            .tables
            .retain(|t| self.keeps(Kind::Table, None, Some(&t.name)));
        schema
            .views
            .retain(|v| self.keeps(Kind::View, None, Some(&v.name)));
        schema
            .enums
            .retain(|e| self.keeps(Kind::Enum, None, Some(&e.name)));
        schema
            .sequences
            .retain(|q| self.keeps(Kind::Sequence, None, Some(&q.name)));
        // A function by its name, without the argument list.
        schema.functions.retain(|f| {
            let name = f.signature.split('(').next().unwrap_or(&f.signature);
            self.keeps(Kind::Function, None, Some(name))
        });
        for t in &mut schema.tables {
            let tn = t.name.clone();
            let on = Some(tn.as_str());
            t.columns
                .retain(|c| self.keeps(Kind::Column, on, Some(&c.name)));
            t.indexes
                .retain(|i| self.keeps(Kind::Index, on, Some(&i.name)));
            t.uniques
                .retain(|u| self.keeps(Kind::Unique, on, u.name.as_deref()));
            t.checks
                .retain(|c| self.keeps(Kind::Check, on, c.name.as_deref()));
            t.foreign_keys
                .retain(|f| self.keeps(Kind::ForeignKey, on, f.name.as_deref()));
            t.triggers
                .retain(|tr| self.keeps(Kind::Trigger, on, Some(&tr.name)));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::schema::{Table, Trigger, View};

    fn schema() -> Schema {
        let mut t = Table {
            name: "runs".into(),
            ..Table::default()
        };
        t.triggers.push(Trigger {
            name: "trg_audit_runs".into(),
            sql: "CREATE TRIGGER ...".into(),
        });
        t.triggers.push(Trigger {
            name: "trg_touch".into(),
            sql: "CREATE TRIGGER ...".into(),
        });
        Schema {
            tables: vec![
                t,
                Table {
                    name: "spatial_ref_sys".into(),
                    ..Table::default()
                },
            ],
            views: vec![View {
                indexes: Vec::new(),
                materialized: false,
                name: "v_report".into(),
                definition: "SELECT 1".into(),
                sql: None,
            }],
            ..Schema::default()
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn exclude_by_kind_and_pattern() {
        let f =
            ObjectFilter::new(&[], &strings(&["trigger:trg_audit_*", "spatial_ref_sys"])).unwrap();
        let mut s = schema();
        f.apply(&mut s);
        assert_eq!(s.tables.len(), 1);
        let names: Vec<&str> = s.tables[0]
            .triggers
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        assert_eq!(names, ["trg_touch"]);
        assert_eq!(s.views.len(), 1);
        // Qualified by table.
        let f = ObjectFilter::new(&[], &strings(&["trigger:runs.*"])).unwrap();
        let mut s = schema();
        f.apply(&mut s);
        assert!(s.tables[0].triggers.is_empty());
    }

    #[test]
    fn include_restricts_the_kinds_it_names() {
        let f = ObjectFilter::new(&strings(&["table:run*"]), &[]).unwrap();
        let mut s = schema();
        f.apply(&mut s);
        assert_eq!(s.tables.len(), 1);
        assert_eq!(s.tables[0].triggers.len(), 2, "triggers are not restricted");
        assert_eq!(s.views.len(), 1, "views are not restricted");
    }

    #[test]
    fn bad_entries_are_named() {
        let e = ObjectFilter::new(&[], &strings(&["trigge:x"])).unwrap_err();
        assert!(e.contains("unknown object kind `trigge`"), "{e}");
        let e = ObjectFilter::new(&strings(&["table:[x"]), &[]).unwrap_err();
        assert!(
            e.contains("compare.include: `table:[x` is not a valid pattern"),
            "{e}"
        );
    }
}
