//! The declared schema table by table, so that an edit rebuilds only what it touched.
//!
//! Building the declared schema on a scratch database is most of the cost of `revision --autogenerate` and
//! `check` right after a model edit: hundreds of `CREATE TABLE`s for a change to one. So the inspected
//! result is also cached per table, keyed by everything that table's inspection depends on:
//!
//! - its own statements (`CREATE TABLE`, the `CREATE INDEX`/`ALTER TABLE`/`COMMENT ON` naming it);
//! - the statements of every declared table its text names (a foreign key's target, `INHERITS`, `LIKE`):
//!   an edit of a parent rebuilds its children with it, so a child whose foreign key the edit broke is
//!   rejected as in a full build;
//! - the global statements it names (an enum type, a sequence) and the unnamed ones (extensions);
//! - the engine and its version, the excluded tables, the alembix version.
//!
//! A run builds, on the scratch database, the global statements, a stub of every cached table a rebuilt one
//! names (columns, keys and unique indexes, as the cache has them: what a foreign key needs), then the
//! rebuilt tables' own statements in declaration order; it reads them back and takes only the rebuilt
//! tables. Whatever cannot be attributed to one table (a view, a trigger, a function, a `DO` block, a
//! statement of another schema) makes the whole declared schema one unit, built as before; so does any
//! failure of a partial build, which then reports the rejected objects the full build names.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::prebuild::Prebuild;
use super::{
    build_in_transaction, build_rolled_back, build_text, cache_key, db, desired_schema,
    desired_schema_one_by_one, write_atomic, DesiredSchema, DevDatabase, SchemaCache,
};
use crate::dialect::{self, Connection};
use crate::error::Result;
use crate::migrate::split::split;
use crate::schema::{Change, Schema, Table};
use crate::url::{DatabaseUrl, Dialect};

/// How a declared schema was obtained: tables built on a scratch database and tables taken from the
/// per-table cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BuildStats {
    /// Declared tables built on the scratch database (all of them in a full build).
    pub built: usize,
    /// Statements that ran on the scratch database while the models were still being imported.
    pub overlapped: usize,
    /// Declared tables taken from the per-table cache.
    pub reused: usize,
    /// Cached tables created as stubs for a rebuilt table's foreign keys.
    pub stubs: usize,
    /// The whole declared schema was built as one unit (it has objects not attributable to one table,
    /// or a partial build failed).
    pub full: bool,
}

/// The declared schema as built on a scratch database of `server`'s engine (or `dev_url`), reusing the
/// tables whose inputs did not change since a cached build. A `prebuild` started while the models were
/// imported ([`super::load_desired_overlapped`]) is finished when every table is to be built and what ran
/// agrees with the declared statements, and discarded otherwise.
pub async fn declared_schema(
    server: &DatabaseUrl,
    dev_url: Option<&str>,
    desired: &DesiredSchema,
    exclude: &[String],
    fingerprint: &str,
    cache: &SchemaCache,
    mut prebuild: Option<Prebuild>,
) -> Result<(Schema, BuildStats)> {
    let dialect = server.dialect();
    let units = match (dev_url, cache.dir()) {
        (None, Some(_)) => Units::of(desired, dialect),
        _ => None,
    };
    if let Some(units) = units {
        let mut ctx_parts = vec!["units", dialect.name(), fingerprint];
        ctx_parts.extend(exclude.iter().map(String::as_str));
        let ctx = cache_key(&ctx_parts);
        let mut store = Store::load(cache, &ctx);
        let keys = units.keys(&ctx);
        let globals_key = units.globals_key(&ctx);
        let missing: BTreeSet<&str> = units
            .tables
            .keys()
            .filter(|t| !store.tables.contains_key(&keys[t.as_str()]))
            .map(String::as_str)
            .collect();
        let globals = store.globals.get(&globals_key).cloned();
        let mut stats = BuildStats {
            reused: units.tables.len() - missing.len(),
            built: missing.len(),
            ..BuildStats::default()
        };
        // A build started while the models were imported serves when it is the whole build (no stubs).
        let mut early = None;
        if let Some(pre) = prebuild.take() {
            if !missing.is_empty() && units.stubs(&missing).is_empty() {
                let ran = pre.statements_run();
                let statements = units.statements(&missing, &[]);
                early = pre
                    .finish(&statements, exclude)
                    .await
                    .and_then(|r| r.ok())
                    .and_then(|s| units.accept(s));
                if early.is_some() {
                    stats.overlapped = ran;
                }
            } else {
                pre.discard().await;
            }
        }
        let built = match (&globals, missing.is_empty(), early) {
            (_, _, Some(schema)) => Some(schema),
            (Some(g), true, None) => Some(g.clone()),
            _ => {
                let mut dev = match DevDatabase::shared(server).await {
                    Some(dev) => dev,
                    None => DevDatabase::create(server, None).await?,
                };
                let built = units
                    .build(&mut dev.conn, &missing, &store, &keys, &globals, exclude)
                    .await;
                dev.dispose().await;
                built
            }
        };
        if let Some(built) = built {
            stats.stubs = units.stubs(&missing).len();
            // The built schema holds the rebuilt tables (and stubs, not kept) and everything global.
            let mut globals = built.clone();
            globals.tables.clear();
            let mut fresh: HashMap<String, Option<Table>> = HashMap::new();
            for name in &missing {
                let table = built
                    .tables
                    .iter()
                    .find(|t| t.name.eq_ignore_ascii_case(name))
                    .cloned();
                fresh.insert(keys[*name].clone(), table);
            }
            let mut schema = globals.clone();
            for name in units.tables.keys() {
                let key = &keys[name.as_str()];
                let table = fresh
                    .get(key)
                    .or_else(|| store.tables.get(key))
                    .cloned()
                    .flatten();
                schema.tables.extend(table);
            }
            schema.normalise();
            store.tables.extend(fresh);
            store.globals.insert(globals_key.clone(), globals);
            let keep: BTreeSet<&String> = keys.values().chain([&globals_key]).collect();
            store.save(cache, &ctx, &keep);
            return Ok((schema, stats));
        }
    }
    // One unit: the declared schema built whole. On PostgreSQL first in one rolled-back transaction on
    // the kept scratch database; then (or when that fails) on a temporary one, statement by statement
    // where the engine has no transactional DDL or a statement failed.
    if let Some(pre) = prebuild {
        pre.discard().await;
    }
    let full = BuildStats {
        full: true,
        ..BuildStats::default()
    };
    let mut tried_in_transaction = false;
    if dev_url.is_none() && desired.schemas.is_empty() {
        if let Some(mut dev) = DevDatabase::shared(server).await {
            let read = build_in_transaction(&mut dev, desired, exclude).await;
            dev.dispose().await;
            if let Some(schema) = read {
                let schema = schema?;
                let built = schema.tables.len();
                return Ok((schema, BuildStats { built, ..full }));
            }
            tried_in_transaction = true;
        }
    }
    let mut dev = DevDatabase::create(server, dev_url).await?;
    // A transaction that already failed on the kept database would fail the same way here.
    let schema = if tried_in_transaction {
        desired_schema_one_by_one(&mut dev, desired, exclude).await
    } else {
        desired_schema(&mut dev, desired, exclude).await
    };
    dev.dispose().await;
    let schema = schema?;
    let built = schema.tables.len();
    Ok((schema, BuildStats { built, ..full }))
}

/// The declared statements, attributed to their tables.
struct Units {
    /// Statements about no one table, in order: the name of what each creates (`None`: it concerns all).
    globals: Vec<(Option<String>, String)>,
    /// Per declared table (lower-case name): its statements, in order.
    tables: BTreeMap<String, Vec<String>>,
    /// Every table statement in declaration order, with its table.
    order: Vec<(String, String)>,
}

impl Units {
    /// `None` when some statement belongs to no single table and is not a known global one, or when other
    /// PostgreSQL schemas are compared (their objects are named `schema.name`).
    fn of(desired: &DesiredSchema, dialect: Dialect) -> Option<Units> {
        if !desired.schemas.is_empty() {
            return None;
        }
        let mut units = Units {
            globals: Vec::new(),
            tables: BTreeMap::new(),
            order: Vec::new(),
        };
        for (_, text) in &desired.sources {
            for st in split(text, dialect) {
                match classify(&st.sql)? {
                    Kind::Table(t) => {
                        units
                            .tables
                            .entry(t.clone())
                            .or_default()
                            .push(st.sql.clone());
                        units.order.push((t, st.sql));
                    }
                    Kind::Global(name) => units.globals.push((name, st.sql)),
                }
            }
        }
        // Every statement must name a table that is created here (an `ALTER TABLE` of another is not a
        // declared table of its own).
        let created: BTreeSet<&String> = units
            .tables
            .iter()
            .filter(|(_, sts)| sts.iter().any(|s| creates_table(s)))
            .map(|(t, _)| t)
            .collect();
        if created.len() != units.tables.len() {
            return None;
        }
        Some(units)
    }

    /// The declared tables a table's statements name, itself excepted.
    fn deps(&self, table: &str) -> BTreeSet<&str> {
        let mut out = BTreeSet::new();
        for sql in &self.tables[table] {
            for w in words(sql) {
                if w != table {
                    if let Some((t, _)) = self.tables.get_key_value(w.as_str()) {
                        out.insert(t.as_str());
                    }
                }
            }
        }
        out
    }

    /// The cache key of every table.
    fn keys(&self, ctx: &str) -> HashMap<&str, String> {
        self.tables
            .iter()
            .map(|(t, own)| {
                let named: BTreeSet<String> = own.iter().flat_map(|s| words(s)).collect();
                let mut parts: Vec<&str> = vec!["table", ctx, t];
                for (name, sql) in &self.globals {
                    if name.as_ref().is_none_or(|n| named.contains(n)) {
                        parts.push("global");
                        parts.push(sql);
                    }
                }
                parts.push("own");
                parts.extend(own.iter().map(String::as_str));
                for d in self.deps(t) {
                    parts.push("dep");
                    parts.push(d);
                    parts.extend(self.tables[d].iter().map(String::as_str));
                }
                (t.as_str(), cache_key(&parts))
            })
            .collect()
    }

    fn globals_key(&self, ctx: &str) -> String {
        let mut parts: Vec<&str> = vec!["globals", ctx];
        parts.extend(self.globals.iter().map(|(_, s)| s.as_str()));
        cache_key(&parts)
    }

    /// The cached tables that tables to rebuild name.
    fn stubs<'a>(&'a self, missing: &BTreeSet<&'a str>) -> BTreeSet<&'a str> {
        missing
            .iter()
            .flat_map(|t| self.deps(t))
            .filter(|d| !missing.contains(d))
            .collect()
    }

    /// Build the global statements, stubs and the `missing` tables; read them back. `None` when anything
    /// fails (the caller then builds everything, which names what the server rejects).
    async fn build(
        &self,
        conn: &mut Connection,
        missing: &BTreeSet<&str>,
        store: &Store,
        keys: &HashMap<&str, String>,
        globals: &Option<Schema>,
        exclude: &[String],
    ) -> Option<Schema> {
        let dialect = conn.dialect();
        let mut stubs = Vec::new();
        let mut to = globals.clone().unwrap_or_default();
        for s in self.stubs(missing) {
            let table = store.tables.get(&keys[s])?.as_ref()?;
            let stub = stub(table);
            to.tables = vec![stub.clone()];
            let change = Change::CreateTable(stub);
            stubs.extend(dialect::render(dialect, &[change], &Schema::default(), &to));
        }
        let statements = self.statements(missing, &stubs);
        // PostgreSQL: one transaction, read before it is rolled back (nothing committed or flushed).
        let result = if dialect == Dialect::Postgres {
            build_rolled_back(conn, &statements, exclude, &[])
                .await?
                .ok()
        } else {
            async {
                if !statements.is_empty() {
                    conn.execute(&build_text(dialect, &statements)).await.ok()?;
                }
                dialect::inspect_in(conn, exclude, &[])
                    .await
                    .map_err(db("reading the declared schema"))
                    .ok()
            }
            .await
        };
        self.accept(result?)
    }

    /// What a build of `missing` runs: the global statements, the `stubs`, then the statements of the
    /// missing tables in declaration order.
    fn statements(&self, missing: &BTreeSet<&str>, stubs: &[String]) -> Vec<String> {
        let mut out: Vec<String> = self.globals.iter().map(|(_, sql)| sql.clone()).collect();
        out.extend(stubs.iter().cloned());
        out.extend(
            self.order
                .iter()
                .filter(|(t, _)| missing.contains(t.as_str()))
                .map(|(_, sql)| sql.clone()),
        );
        out
    }

    /// A build's result, when it holds only declared tables and no view (views are not attributed to
    /// tables).
    fn accept(&self, schema: Schema) -> Option<Schema> {
        let declared = |name: &str| self.tables.contains_key(&name.to_ascii_lowercase());
        (schema.views.is_empty() && schema.tables.iter().all(|t| declared(&t.name)))
            .then_some(schema)
    }
}

/// What a foreign key to `table` needs of it: its columns (types, nullability, collation), its primary key,
/// its unique constraints and unique indexes. No defaults, identities, generated expressions, checks,
/// foreign keys or triggers, which could name what the partial build does not create.
fn stub(table: &Table) -> Table {
    let mut t = table.clone();
    for c in &mut t.columns {
        c.default = None;
        c.identity = None;
        c.identity_options.clear();
        c.generated = None;
        c.comment = None;
    }
    t.indexes
        .retain(|i| i.unique && i.predicate.is_none() && i.parts.iter().all(|p| p.is_column));
    t.checks.clear();
    t.foreign_keys.clear();
    t.comment = None;
    t.triggers.clear();
    t.exclusions.clear();
    t
}

enum Kind {
    Table(String),
    /// A statement about no one table: the name of what it creates, `None` when it concerns all.
    Global(Option<String>),
}

/// Lower-case identifier words of a statement (quotes dropped, qualifiers split off).
fn words(sql: &str) -> impl Iterator<Item = String> + '_ {
    sql.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
}

/// The object name of a word such as `public."Users"` or `` `t` ``: the last part, unquoted, lower-case.
fn object_name(word: &str) -> String {
    let last = word.rsplit('.').next().unwrap_or(word);
    last.trim_matches(|c| c == '"' || c == '`')
        .trim_end_matches(';')
        .to_ascii_lowercase()
}

fn creates_table(sql: &str) -> bool {
    let upper: Vec<String> = sql
        .split_whitespace()
        .take(2)
        .map(str::to_ascii_uppercase)
        .collect();
    upper == ["CREATE", "TABLE"]
}

/// Which table a statement is about, or which global object it creates; `None` when neither is known.
fn classify(sql: &str) -> Option<Kind> {
    let words: Vec<&str> = sql
        .split(|c: char| c.is_whitespace() || c == '(')
        .filter(|w| !w.is_empty())
        .take(12)
        .collect();
    let upper: Vec<String> = words.iter().map(|w| w.to_ascii_uppercase()).collect();
    let at = |i: usize| upper.get(i).map(String::as_str);
    // Skip `IF [NOT] EXISTS` and `ONLY` after position `i`.
    let skip = |mut i: usize| loop {
        match (at(i), at(i + 1), at(i + 2)) {
            (Some("IF"), Some("NOT"), Some("EXISTS")) => i += 3,
            (Some("IF"), Some("EXISTS"), _) => i += 2,
            (Some("ONLY"), _, _) => i += 1,
            _ => return i,
        }
    };
    let name = |i: usize| words.get(i).map(|w| object_name(w));
    match (at(0), at(1)) {
        (Some("CREATE"), Some("TABLE")) | (Some("ALTER"), Some("TABLE")) => {
            Some(Kind::Table(name(skip(2))?))
        }
        (Some("CREATE"), Some("INDEX" | "UNIQUE")) => {
            let on = upper.iter().position(|w| w == "ON")?;
            Some(Kind::Table(name(skip(on + 1))?))
        }
        (Some("COMMENT"), Some("ON")) => match at(2)? {
            "TABLE" => Some(Kind::Table(name(3)?)),
            "COLUMN" => {
                // `t.c` or `schema.t.c`: the table is the part before the column.
                let parts: Vec<&str> = words.get(3)?.split('.').collect();
                let t = parts.len().checked_sub(2).map(|i| parts[i])?;
                Some(Kind::Table(object_name(t)))
            }
            _ => None,
        },
        (Some("CREATE"), Some("TYPE")) if upper.iter().any(|w| w == "ENUM") => {
            Some(Kind::Global(Some(name(2)?)))
        }
        (Some("CREATE"), Some("SEQUENCE")) => Some(Kind::Global(Some(name(skip(2))?))),
        (Some("CREATE"), Some("EXTENSION")) => Some(Kind::Global(None)),
        _ => None,
    }
}

/// The per-table cache of one engine and exclusion set: one file, read once and written once per build.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Store {
    /// Table key → the inspected table (`None`: the statements made no table that is compared).
    tables: HashMap<String, Option<Table>>,
    /// Key of the global statements → what they made (no tables).
    globals: HashMap<String, Schema>,
}

/// Entries kept beyond the current build's, so that switching between branches of a project still hits.
const KEEP_OTHERS: usize = 2048;

impl Store {
    fn path(cache: &SchemaCache, ctx: &str) -> Option<std::path::PathBuf> {
        cache.dir().map(|d| d.join(format!("units-{ctx}.json")))
    }

    fn load(cache: &SchemaCache, ctx: &str) -> Store {
        Store::path(cache, ctx)
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Best effort, as the schema cache: keep this build's entries and at most `KEEP_OTHERS` others.
    fn save(mut self, cache: &SchemaCache, ctx: &str, keep: &BTreeSet<&String>) {
        let Some(path) = Store::path(cache, ctx) else {
            return;
        };
        let mut others = 0;
        self.tables.retain(|k, _| {
            keep.contains(k) || {
                others += 1;
                others <= KEEP_OTHERS
            }
        });
        let mut others = 0;
        self.globals.retain(|k, _| {
            keep.contains(k) || {
                others += 1;
                others <= KEEP_OTHERS / 64
            }
        });
        if let Ok(bytes) = serde_json::to_vec(&self) {
            let _ = write_atomic(&path, &bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(sql: &str) -> Option<Units> {
        let desired = DesiredSchema {
            sources: vec![("schema.sql".into(), sql.into())],
            hints: Default::default(),
            models_root: None,
            schemas: Vec::new(),
        };
        Units::of(&desired, Dialect::Postgres)
    }

    #[test]
    fn statements_are_attributed_to_their_tables() {
        let u = units(
            "CREATE TYPE mood AS ENUM ('a', 'b');\n\
             CREATE TABLE parent (id int PRIMARY KEY, m mood);\n\
             CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent (id));\n\
             CREATE INDEX ix_child_parent ON child (parent_id);\n\
             ALTER TABLE ONLY parent ADD COLUMN x int;\n\
             COMMENT ON COLUMN public.child.parent_id IS 'p';",
        )
        .unwrap();
        assert_eq!(u.tables["parent"].len(), 2);
        assert_eq!(u.tables["child"].len(), 3);
        assert_eq!(u.deps("child").into_iter().collect::<Vec<_>>(), ["parent"]);
        assert!(u.deps("parent").is_empty());
        assert_eq!(u.globals.len(), 1);
    }

    #[test]
    fn keys_follow_a_table_its_parents_and_the_globals_it_names() {
        let base = "CREATE TYPE mood AS ENUM ('a');\n\
                    CREATE TABLE parent (id int PRIMARY KEY, m mood);\n\
                    CREATE TABLE child (id int PRIMARY KEY, parent_id int REFERENCES parent (id));\n\
                    CREATE TABLE other (id int PRIMARY KEY);";
        let k = |sql: &str| {
            let u = units(sql).unwrap();
            let keys = u.keys("ctx");
            ["parent", "child", "other"].map(|t| keys[t].clone())
        };
        let [p, c, o] = k(base);
        // An edit of the parent rebuilds its child; the unrelated table stays.
        let [p2, c2, o2] = k(&base.replace("id int PRIMARY KEY, m", "id bigint PRIMARY KEY, m"));
        assert!(p != p2 && c != c2 && o == o2);
        // An edit of the enum rebuilds the table that names it only.
        let [p3, c3, o3] = k(&base.replace("('a')", "('a', 'b')"));
        assert!(p != p3 && c == c3 && o == o3);
        // An edit of the child rebuilds it alone.
        let [p4, c4, o4] = k(&base.replace("parent_id int", "parent_id int NOT NULL"));
        assert!(p == p4 && c != c4 && o == o4);
    }

    #[test]
    fn what_belongs_to_no_table_makes_one_unit() {
        assert!(units("CREATE TABLE a (id int); CREATE VIEW v AS SELECT * FROM a;").is_none());
        assert!(units(
            "CREATE TABLE a (id int); CREATE FUNCTION f() RETURNS int AS 'select 1' LANGUAGE sql;"
        )
        .is_none());
        assert!(units("ALTER TABLE elsewhere ADD COLUMN x int;").is_none());
        assert!(units("CREATE TABLE a (id int); CREATE INDEX ix ON a (id);").is_some());
    }
}
