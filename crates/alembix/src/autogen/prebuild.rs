//! The scratch build of the declared schema, started while the models are still being imported.
//!
//! On a first run (no printout of the models cached yet), importing a few hundred SQLAlchemy models takes a
//! second of Python, and building their tables on the scratch database takes about as long again, one after
//! the other. The models printer can say which tables are defined while it is still importing the rest
//! (`--early`), so their statements run on the scratch database in the meantime: on PostgreSQL inside the
//! transaction (in the temporary schema) that the build is read in and rolled back; on MySQL/MariaDB on the
//! temporary scratch database.
//!
//! What ran early is a guess until the final DDL arrives. The build is finished from it only when every
//! statement that ran is one of the final statements (as a multiset): the rest then runs in declaration
//! order, and the result is read back as from any build. Otherwise (a table changed after it was printed, a
//! statement failed, an object left the temporary schema) the early build is thrown away and the declared
//! schema is built as if nothing had run.

use std::collections::HashMap;

use super::{begin_rolled_back, build_text, db, read_rolled_back, DevDatabase};
use crate::dialect;
use crate::error::Result;
use crate::migrate::split::split;
use crate::schema::Schema;
use crate::url::{DatabaseUrl, Dialect};

/// A scratch build in progress: what ran so far, on a scratch database of the server's engine.
pub struct Prebuild {
    dev: DevDatabase,
    /// The statements run, as the splitter gives them (unfolded).
    executed: Vec<String>,
    /// A statement failed: nothing more runs, and the build is discarded.
    failed: bool,
    /// PostgreSQL: the database's own objects before the build (none may appear outside the temporary
    /// schema).
    before: Option<String>,
}

impl Prebuild {
    /// A scratch database with a build open on it; `None` on SQLite or when none can be had (the build then
    /// happens later, as without this).
    pub async fn start(server: &DatabaseUrl) -> Option<Prebuild> {
        match server.dialect() {
            Dialect::Postgres => {
                let mut dev = DevDatabase::shared(server).await?;
                let Some(Some(before)) = begin_rolled_back(&mut dev.conn, true).await else {
                    let _ = dev.conn.execute("ROLLBACK").await;
                    dev.dispose().await;
                    return None;
                };
                Some(Prebuild {
                    dev,
                    executed: Vec::new(),
                    failed: false,
                    before: Some(before),
                })
            }
            Dialect::Mysql => Some(Prebuild {
                dev: DevDatabase::create(server, None).await.ok()?,
                executed: Vec::new(),
                failed: false,
                before: None,
            }),
            Dialect::Sqlite => None,
        }
    }

    /// Run a batch of statements (DDL text as printed); after a failure nothing runs.
    pub async fn run(&mut self, statements: &[String]) {
        if self.failed {
            return;
        }
        let dialect = self.dev.dialect();
        let text: String = statements.iter().map(|s| format!("{s};\n\n")).collect();
        let parsed: Vec<String> = split(&text, dialect).into_iter().map(|s| s.sql).collect();
        if parsed.is_empty() {
            return;
        }
        if self.execute(&parsed).await.is_err() {
            self.failed = true;
            return;
        }
        self.executed.extend(parsed);
    }

    async fn execute(&mut self, statements: &[String]) -> std::result::Result<(), ()> {
        let sql = build_text(self.dev.dialect(), statements);
        self.dev.conn.execute(&sql).await.map_err(drop)
    }

    /// How many statements ran.
    pub fn statements_run(&self) -> usize {
        self.executed.len()
    }

    /// Throw the build away: roll it back (PostgreSQL) and let the scratch database go.
    pub async fn discard(mut self) {
        if self.before.is_some() {
            let _ = self.dev.conn.execute("ROLLBACK").await;
        }
        self.dev.dispose().await;
    }

    /// Finish the build whose statements, in order, are `statements`: run what has not run yet and read the
    /// result. `None` when what ran is not part of `statements`, or anything failed: the caller then builds
    /// from scratch. The scratch database is let go either way.
    pub(crate) async fn finish(
        mut self,
        statements: &[String],
        exclude: &[String],
    ) -> Option<Result<Schema>> {
        let rest = if self.failed {
            None
        } else {
            remaining(&self.executed, statements)
        };
        let Some(rest) = rest else {
            self.discard().await;
            return None;
        };
        let read = async {
            if !rest.is_empty() {
                self.execute(&rest).await.ok()?;
            }
            if self.before.is_some() {
                read_rolled_back(&mut self.dev.conn, self.before.as_deref(), exclude, &[]).await
            } else {
                Some(
                    dialect::inspect_in(&mut self.dev.conn, exclude, &[])
                        .await
                        .map_err(db("reading the declared schema")),
                )
            }
        }
        .await;
        // Names the server made up (an unnamed constraint that collided gets a digit appended) can depend
        // on the order the tables were built in, which differs here: such a result is not taken.
        let read = read.filter(|r| match r {
            Ok(schema) => !has_made_up_names(schema, statements, self.before.is_none()),
            Err(_) => true,
        });
        if read.is_some() {
            // Read: the connection is closed without waiting for the ROLLBACK, in which the server unlinks
            // the files of every relation built (seven per table of the benchmark). Ending the session
            // rolls the transaction back all the same, and nothing of it was outside the temporary schema.
            self.dev.dispose().await;
        } else {
            self.discard().await;
        }
        read
    }
}

/// Whether some object of `schema` has a name that ends in a digit and appears nowhere in `statements`:
/// one the server numbered to avoid a collision (PostgreSQL's `t_a_key1`). MySQL numbers unnamed foreign
/// keys per table (`t_ibfk_1`), in the order of the table's own statement, so `mysql` lets those pass.
fn has_made_up_names(schema: &Schema, statements: &[String], mysql: bool) -> bool {
    fn walk(v: &serde_json::Value, text: &str, mysql: bool) -> bool {
        match v {
            serde_json::Value::Object(map) => map.iter().any(|(k, v)| {
                let made_up = k == "name"
                    && v.as_str().is_some_and(|n| {
                        n.ends_with(|c: char| c.is_ascii_digit())
                            && !text.contains(&n.to_ascii_lowercase())
                            && !(mysql && n.contains("_ibfk_"))
                    });
                made_up || walk(v, text, mysql)
            }),
            serde_json::Value::Array(items) => items.iter().any(|v| walk(v, text, mysql)),
            _ => false,
        }
    }
    let text = statements.join("\n").to_ascii_lowercase();
    serde_json::to_value(schema).map_or(true, |v| walk(&v, &text, mysql))
}

/// The statements of `all` that have not run, in `all`'s order, when everything in `ran` is one of them
/// (counting repeats); `None` otherwise.
fn remaining(ran: &[String], all: &[String]) -> Option<Vec<String>> {
    let mut pending: HashMap<&str, usize> = HashMap::new();
    for s in ran {
        *pending.entry(s.as_str()).or_default() += 1;
    }
    let mut rest = Vec::new();
    for s in all {
        match pending.get_mut(s.as_str()) {
            Some(n) if *n > 0 => *n -= 1,
            _ => rest.push(s.clone()),
        }
    }
    pending.values().all(|n| *n == 0).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::remaining;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn what_ran_must_be_part_of_the_build() {
        let all = v(&["a", "b", "c", "b"]);
        assert_eq!(remaining(&v(&["b", "a"]), &all), Some(v(&["c", "b"])));
        assert_eq!(remaining(&v(&["b", "b"]), &all), Some(v(&["a", "c"])));
        assert_eq!(remaining(&[], &all), Some(all.clone()));
        assert_eq!(remaining(&v(&["b", "b", "b"]), &all), None);
        assert_eq!(remaining(&v(&["x"]), &all), None);
    }
}
