//! Many `alembix upgrade` processes at once, a run killed mid-revision, and `CREATE INDEX CONCURRENTLY`
//! while another run waits for the lock: on PostgreSQL, MariaDB/MySQL and SQLite. Each revision is applied
//! exactly once, the version table matches the schema, and a dead run's lock does not wedge the next.
//!
//! Server tests need `ALEMBIX_TEST_POSTGRES_URL` / `ALEMBIX_TEST_MYSQL_URL` (see `common/db.rs`).

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use common::db::{Engine, TestDb};
use common::{render, Project, BIN};

// ---------------------------------------------------------------------------------------------------------
// Helpers

fn id(i: usize) -> String {
    format!("c0c0000000{i:02}")
}

fn table(i: usize) -> String {
    format!("t_{i:02}")
}

/// A revision file: `header` lines (e.g. `-- Transactional: false`) go after `Create Date`.
fn rev_text(i: usize, header: &str, up: &str, down: &str) -> String {
    let revises = if i == 0 { String::new() } else { id(i - 1) };
    format!(
        "-- revision {i}\n--\n-- Revision ID: {}\n-- Revises: {revises}\n-- Create Date: 2026-01-01 00:00:00\n\
         {header}\n-- migrate:up\n{up}\n\n-- migrate:down\n{down}\n",
        id(i)
    )
}

fn file_name(i: usize) -> String {
    format!("{}_revision_{i}.sql", id(i))
}

/// The ordinary body of revision `i`: create its table, insert one row.
fn create_and_insert(i: usize) -> String {
    let t = table(i);
    format!(
        "CREATE TABLE {t} (id INTEGER PRIMARY KEY, note VARCHAR(40) NOT NULL);\n\
         INSERT INTO {t} (id, note) VALUES (1, 'revision {i}');"
    )
}

fn drop_table(i: usize) -> String {
    format!("DROP TABLE {};", table(i))
}

/// A linear project: revision `i` has the up SQL `ups[i]`.
fn project(ups: &[String]) -> Project {
    let p = Project::with_files(&[]);
    for (i, up) in ups.iter().enumerate() {
        p.write(
            &format!("migrations/{}", file_name(i)),
            &rev_text(i, "", up, &drop_table(i)),
        );
    }
    p
}

/// `alembix -c <project>/alembix.toml --url URL ARGS...`, output captured.
fn alembix(p: &Project, url: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.current_dir(p.dir.path())
        .arg("-c")
        .arg(p.path("alembix.toml"))
        .arg("--url")
        .arg(url)
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Child processes, killed if the test ends (or panics) before they are waited for.
struct Running(Vec<Child>);

impl Running {
    fn spawn(cmds: impl IntoIterator<Item = Command>) -> Running {
        Running(
            cmds.into_iter()
                .map(|mut c| c.spawn().expect("spawn alembix"))
                .collect(),
        )
    }

    /// Wait for every process, at most until `deadline` (then kill all and fail).
    fn wait_all(mut self, deadline: Duration) -> Vec<Output> {
        let until = Instant::now() + deadline;
        let mut statuses: Vec<Option<ExitStatus>> = vec![None; self.0.len()];
        while statuses.iter().any(Option::is_none) {
            for (child, status) in self.0.iter_mut().zip(statuses.iter_mut()) {
                if status.is_none() {
                    *status = child.try_wait().unwrap();
                }
            }
            if Instant::now() > until && statuses.iter().any(Option::is_none) {
                let outputs: Vec<String> = std::mem::take(&mut self.0)
                    .into_iter()
                    .map(|mut c| {
                        let _ = c.kill();
                        render(&c.wait_with_output().unwrap())
                    })
                    .collect();
                panic!(
                    "alembix runs did not finish within {deadline:?}:\n{}",
                    outputs.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        std::mem::take(&mut self.0)
            .into_iter()
            .zip(statuses)
            .map(|(mut c, status)| {
                let mut stdout = Vec::new();
                let mut stderr = Vec::new();
                c.stdout.take().unwrap().read_to_end(&mut stdout).unwrap();
                c.stderr.take().unwrap().read_to_end(&mut stderr).unwrap();
                Output {
                    status: status.unwrap(),
                    stdout,
                    stderr,
                }
            })
            .collect()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn assert_success(what: &str, out: &Output) {
    assert!(out.status.success(), "{what} failed:\n{}", render(out));
}

/// Poll `cond` every 50 ms until it holds; fail after `limit`.
fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Revisions recorded as applied ('up' rows in the history), sorted; empty before the tables exist.
fn applied(db: &TestDb) -> Vec<String> {
    let sql = "SELECT revision FROM alembix_history WHERE direction = 'up'";
    let mut v: Vec<String> = common::db::try_query(&db.url, sql)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| r.into_iter().next().flatten())
        .collect();
    v.sort();
    v
}

/// The database says what the schema is: the version table holds exactly `head`, the history one 'up' row
/// per revision `0..=head` and nothing else, and each of those revisions' tables exists with its one row.
fn assert_at(db: &TestDb, head: usize, extra_tables: &[&str]) {
    let e = db.engine;
    assert_eq!(
        db.column("SELECT version_num FROM alembix_version"),
        vec![id(head)],
        "{}: version table",
        e.name()
    );
    let expected: Vec<String> = (0..=head).map(id).collect();
    assert_eq!(
        applied(db),
        expected,
        "{}: 'up' rows in the history",
        e.name()
    );
    assert_eq!(
        db.value(&format!(
            "SELECT {} FROM alembix_history",
            e.text("count(*)")
        )),
        (head + 1).to_string(),
        "{}: history rows",
        e.name()
    );
    let mut tables: Vec<String> = (0..=head).map(table).collect();
    tables.extend(["alembix_history", "alembix_version"].map(String::from));
    tables.extend(extra_tables.iter().map(|s| s.to_string()));
    tables.sort();
    assert_eq!(db.tables(), tables, "{}: tables", e.name());
    for i in 0..=head {
        assert_eq!(
            db.value(&format!("SELECT {} FROM {}", e.text("count(*)"), table(i))),
            "1",
            "{}: rows in {}",
            e.name(),
            table(i)
        );
    }
}

/// PostgreSQL: advisory locks held in the test's database (none once every run is over).
fn advisory_locks(db: &TestDb) -> String {
    db.value(
        "SELECT count(*)::text FROM pg_locks WHERE locktype = 'advisory' \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
    )
}

/// After everything: no lock left behind (a run with a short lock timeout does not wait), nothing to do.
fn assert_lock_free(db: &TestDb, p: &Project) {
    if db.engine == Engine::Postgres {
        // The backends of finished runs release their locks as they exit.
        wait_for(
            "advisory locks to be released",
            Duration::from_secs(5),
            || advisory_locks(db) == "0",
        );
    }
    let out = alembix(p, &db.url, &["upgrade", "head", "--lock-timeout", "2s"])
        .output()
        .unwrap();
    assert_success("a final upgrade", &out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("Waiting for the migration lock") && !stderr.contains("Running upgrade"),
        "a final upgrade waited or ran something:\n{}",
        render(&out)
    );
    if db.engine == Engine::Postgres {
        wait_for(
            "advisory locks to be released",
            Duration::from_secs(5),
            || advisory_locks(db) == "0",
        );
    }
}

// ---------------------------------------------------------------------------------------------------------
// 1. Sixteen runs at once

const REVISIONS: usize = 20;
const RUNS: usize = 16;
const SLOW: [usize; 2] = [6, 13];

fn concurrent_upgrades(engine: Engine) {
    let Some(db) = TestDb::create(engine, &format!("concurrent_upgrades_{}", engine.name())) else {
        return;
    };
    let url = db.url.clone();
    concurrent_upgrades_at(engine, &db, &url);
}

/// Sixteen runs at once against `url`, which reaches `db` (directly, or through a pooler).
fn concurrent_upgrades_at(engine: Engine, db: &TestDb, url: &str) {
    let ups: Vec<String> = (0..REVISIONS)
        .map(|i| {
            let mut up = create_and_insert(i);
            if SLOW.contains(&i) {
                up.push('\n');
                up.push_str(&match engine {
                    Engine::Postgres => "SELECT pg_sleep(0.2);".to_string(),
                    Engine::Mysql => "SELECT SLEEP(0.2);".to_string(),
                    Engine::Sqlite => format!(
                        "CREATE TABLE bulk_{i:02} (n INTEGER NOT NULL);\n\
                         WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000)\n\
                         INSERT INTO bulk_{i:02} (n) SELECT x FROM c;"
                    ),
                });
            }
            up
        })
        .collect();
    let p = project(&ups);

    let runs = Running::spawn(
        (0..RUNS).map(|_| alembix(&p, url, &["upgrade", "head", "--lock-timeout", "60s"])),
    );
    let outputs = runs.wait_all(Duration::from_secs(60));

    for (n, out) in outputs.iter().enumerate() {
        assert_success(&format!("{}: run {n} of {RUNS}", engine.name()), out);
    }
    // Each revision ran in exactly one of the processes.
    let steps: usize = outputs
        .iter()
        .map(|o| {
            String::from_utf8_lossy(&o.stderr)
                .matches("Running upgrade")
                .count()
        })
        .sum();
    assert_eq!(steps, REVISIONS, "{}: steps run in all", engine.name());

    let bulk: Vec<String> = if engine == Engine::Sqlite {
        SLOW.iter().map(|i| format!("bulk_{i:02}")).collect()
    } else {
        Vec::new()
    };
    let bulk_refs: Vec<&str> = bulk.iter().map(String::as_str).collect();
    assert_at(db, REVISIONS - 1, &bulk_refs);
    for t in &bulk {
        assert_eq!(
            db.value(&format!("SELECT CAST(count(*) AS TEXT) FROM {t}")),
            "200000"
        );
    }
    assert_lock_free(db, &p);
}

#[test]
fn concurrent_upgrades_postgres() {
    concurrent_upgrades(Engine::Postgres);
}

#[test]
fn concurrent_upgrades_mysql() {
    concurrent_upgrades(Engine::Mysql);
}

#[test]
fn concurrent_upgrades_sqlite() {
    concurrent_upgrades(Engine::Sqlite);
}

// ---------------------------------------------------------------------------------------------------------
// 2. A run killed in the middle of a revision

/// The revision that runs long, killed while it does.
const LONG: usize = 2;

/// How long MySQL's long statement sleeps. The server notices a killed client only once the running
/// statement ends (there is no equivalent of PostgreSQL's `client_connection_check_interval`), so the
/// lock is released then; the next run waits that long. Kept well under the next run's lock timeout.
const MYSQL_SLEEP_S: u64 = 6;

fn long_up(engine: Engine) -> String {
    let t = table(LONG);
    match engine {
        // One transaction: the table and the row vanish with the killed run.
        Engine::Postgres => format!("{}\nSELECT pg_sleep(30);", create_and_insert(LONG)),
        // DDL commits at once on MySQL: sleep first, so the kill lands before anything is committed.
        Engine::Mysql => format!("SELECT SLEEP({MYSQL_SLEEP_S});\n{}", create_and_insert(LONG)),
        // CPU for far longer than the test waits (nothing is inserted: x is never negative).
        Engine::Sqlite => format!(
            "{}\nWITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000000)\n\
             INSERT INTO {t} (id, note) SELECT x + 1, 'never' FROM c WHERE x < 0;",
            create_and_insert(LONG)
        ),
    }
}

/// Whether the long statement is running (on the servers, seen in their process lists).
fn long_statement_running(db: &TestDb) -> bool {
    let sql = match db.engine {
        Engine::Postgres => {
            "SELECT count(*)::text FROM pg_stat_activity WHERE datname = current_database() \
             AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%SELECT pg_sleep(30)%' \
             AND query NOT LIKE '%pg_stat_activity%'"
        }
        Engine::Mysql => {
            "SELECT CAST(count(*) AS CHAR) FROM information_schema.PROCESSLIST \
             WHERE DB = DATABASE() AND ID <> CONNECTION_ID() AND INFO LIKE 'SELECT SLEEP(%'"
        }
        // Recorded the revision before it, and busy with this one for a moment.
        Engine::Sqlite => {
            if applied(db).contains(&id(LONG - 1)) {
                std::thread::sleep(Duration::from_millis(500));
                return true;
            }
            return false;
        }
    };
    common::db::try_query(&db.url, sql)
        .ok()
        .and_then(|rows| rows.into_iter().next())
        .and_then(|r| r.into_iter().next().flatten())
        .is_some_and(|n| n != "0")
}

fn killed_run(engine: Engine) {
    let Some(db) = TestDb::create(engine, &format!("killed_run_{}", engine.name())) else {
        return;
    };
    let url = db.url.clone();
    killed_run_at(engine, &db, &url);
}

/// A run killed in the middle of a revision, against `url` (reaching `db` directly or through a pooler).
fn killed_run_at(engine: Engine, db: &TestDb, url: &str) {
    let mut ups: Vec<String> = (0..=LONG + 1).map(create_and_insert).collect();
    ups[LONG] = long_up(engine);
    let p = project(&ups);

    let mut first = Running::spawn([alembix(
        &p,
        url,
        &["upgrade", "head", "--lock-timeout", "20s"],
    )]);
    wait_for(
        "the long revision to start",
        Duration::from_secs(20),
        || long_statement_running(db),
    );
    let child = &mut first.0[0];
    assert!(
        child.try_wait().unwrap().is_none(),
        "the first run ended before it was killed"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    drop(first);
    let killed_at = Instant::now();

    // Nothing of the killed revision is recorded or visible.
    assert_eq!(
        applied(db),
        vec![id(0), id(1)],
        "{}: after the kill",
        engine.name()
    );
    assert!(
        !db.tables().contains(&table(LONG)),
        "{}: the killed revision's table is visible: {:?}",
        engine.name(),
        db.tables()
    );

    // The revision was never recorded, so its checksum is not checked: make it fast and run again. On MySQL
    // it keeps its shape (a first statement, then the table), since --resume continues by statement number.
    let fast = if engine == Engine::Mysql {
        format!("SELECT 1;\n{}", create_and_insert(LONG))
    } else {
        create_and_insert(LONG)
    };
    p.write(
        &format!("migrations/{}", file_name(LONG)),
        &rev_text(LONG, "", &fast, &drop_table(LONG)),
    );
    let started = Instant::now();
    let mut args = vec!["upgrade", "head", "--lock-timeout", "20s"];
    if engine == Engine::Mysql {
        // MySQL commits statement by statement, so the killed step is recorded as interrupted: the next run
        // says so (which revision, when, by whom, what had committed) instead of running it again blindly,
        // and --resume continues it.
        let out = alembix(&p, url, &args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}", render(&out));
        assert!(
            err.contains(&format!("the upgrade of revision {} (", id(LONG)))
                && err.contains("was interrupted")
                // The killed client's SLEEP runs to its end on the server, and its progress update with it,
                // or not: either is recorded truthfully.
                && (err.contains("0 of its 3 statements had committed")
                    || err.contains("1 of its 3 statements had committed"))
                && err.contains("--resume"),
            "{}",
            render(&out)
        );
        args.push("--resume");
    }
    let out = alembix(&p, url, &args).output().unwrap();
    let took = started.elapsed();
    assert_success(&format!("{}: the run after the kill", engine.name()), &out);
    let prompt = match engine {
        Engine::Mysql => Duration::from_secs(MYSQL_SLEEP_S + 5),
        _ => Duration::from_secs(5),
    };
    assert!(
        took < prompt,
        "{}: the run after the kill took {took:?} (killed {:?} before it started):\n{}",
        engine.name(),
        started - killed_at,
        render(&out)
    );
    assert_at(db, LONG + 1, &[]);
    assert_lock_free(db, &p);
}

#[test]
fn killed_run_postgres() {
    killed_run(Engine::Postgres);
}

#[test]
fn killed_run_mysql() {
    killed_run(Engine::Mysql);
}

#[test]
fn killed_run_sqlite() {
    killed_run(Engine::Sqlite);
}

// ---------------------------------------------------------------------------------------------------------
// 3. PostgreSQL: CREATE INDEX CONCURRENTLY while another run waits for the lock

#[test]
fn create_index_concurrently_while_another_run_waits_postgres() {
    let Some(db) = TestDb::create(
        Engine::Postgres,
        "create_index_concurrently_while_another_run_waits_postgres",
    ) else {
        return;
    };
    let p = Project::with_files(&[]);
    let files = [
        rev_text(
            0,
            "",
            "CREATE TABLE t_00 (id INTEGER PRIMARY KEY, note VARCHAR(40) NOT NULL);\n\
             INSERT INTO t_00 (id, note) SELECT g, 'row ' || g FROM generate_series(1, 20000) g;",
            "DROP TABLE t_00;",
        ),
        rev_text(
            1,
            "-- Transactional: false",
            "SELECT pg_sleep(1);\nCREATE INDEX CONCURRENTLY t_00_note_idx ON t_00 (note);",
            "DROP INDEX CONCURRENTLY t_00_note_idx;",
        ),
        rev_text(
            2,
            "",
            "CREATE TABLE t_02 (id INTEGER PRIMARY KEY);",
            "DROP TABLE t_02;",
        ),
    ];
    for (i, text) in files.iter().enumerate() {
        p.write(&format!("migrations/{}", file_name(i)), text);
    }
    let args = ["upgrade", "head", "--lock-timeout", "60s"];
    let mut runs = Running::spawn([alembix(&p, &db.url, &args)]);
    // The first run is in the non-transactional revision once the one before it is recorded.
    wait_for(
        "the first revision to be recorded",
        Duration::from_secs(10),
        || applied(&db).contains(&id(0)),
    );
    std::thread::sleep(Duration::from_millis(200));
    runs.0.push(alembix(&p, &db.url, &args).spawn().unwrap());
    // Both done within 20 s (no deadlock between the index build and the run waiting for the lock).
    let outputs = runs.wait_all(Duration::from_secs(20));

    assert_success("the run with CREATE INDEX CONCURRENTLY", &outputs[0]);
    assert_success("the run that waited", &outputs[1]);
    assert!(
        String::from_utf8_lossy(&outputs[1].stderr).contains("Waiting for the migration lock"),
        "the second run did not wait for the lock:\n{}",
        render(&outputs[1])
    );
    assert_eq!(
        db.value(
            "SELECT i.indisvalid::text FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
             WHERE c.relname = 't_00_note_idx'"
        ),
        "true"
    );
    assert_eq!(applied(&db), vec![id(0), id(1), id(2)]);
    assert_eq!(db.value("SELECT count(*)::text FROM alembix_history"), "3");
    assert_eq!(
        db.column("SELECT version_num FROM alembix_version"),
        vec![id(2)]
    );
    assert_lock_free(&db, &p);
}

// ---------------------------------------------------------------------------------------------------------
// 4. PostgreSQL behind PgBouncer (Supabase's pooled URL, Render, Heroku): transaction and session pooling

#[test]
fn concurrent_upgrades_through_pgbouncer_transaction_mode() {
    let test = "concurrent_upgrades_pgbouncer";
    let Some(db) = TestDb::create(Engine::Postgres, test) else {
        return;
    };
    let Some(url) = common::db::pooled(&db, "ALEMBIX_TEST_PGBOUNCER_URL", test) else {
        return;
    };
    concurrent_upgrades_at(Engine::Postgres, &db, &url);
}

#[test]
fn killed_run_through_pgbouncer_transaction_mode() {
    let test = "killed_run_pgbouncer";
    let Some(db) = TestDb::create(Engine::Postgres, test) else {
        return;
    };
    let Some(url) = common::db::pooled(&db, "ALEMBIX_TEST_PGBOUNCER_URL", test) else {
        return;
    };
    killed_run_at(Engine::Postgres, &db, &url);
}

/// Every command, twice over, through the pooler: the first run used to work and every later one to fail
/// on sqlx's prepared statements, and the session lock to stay behind on a pooled server connection.
fn every_command_through(var: &str, test: &str) {
    let Some(db) = TestDb::create(Engine::Postgres, test) else {
        return;
    };
    let Some(url) = common::db::pooled(&db, var, test) else {
        return;
    };
    let p = project(&(0..3).map(create_and_insert).collect::<Vec<_>>());
    for round in 0..2 {
        for args in [
            &["upgrade", "head"][..],
            &["current", "-v"][..],
            &["history", "-r", "current:"][..],
            &["history", "-i"][..],
            &["downgrade", "-1"][..],
            &["current", "--check-heads"][..],
            &["upgrade", "head", "--dry-run"][..],
            &["upgrade", "+1"][..],
            &["stamp", "head"][..],
            &["rehash"][..],
            &["show", "current"][..],
            // A scratch database through the pooler, read three times per revision with prepared
            // catalog queries that a pooled server connection may not have.
            &["verify"][..],
        ] {
            let out = alembix(&p, &url, args).output().unwrap();
            let ok = if args == ["current", "--check-heads"] {
                out.status.code() == Some(1)
            } else {
                out.status.success()
            };
            assert!(
                ok,
                "round {round}: alembix {args:?} through {var}:\n{}",
                render(&out)
            );
        }
    }
    assert_eq!(
        db.column("SELECT version_num FROM alembix_version"),
        vec![id(2)]
    );
    // No lock left on a pooled server connection: a direct run does not wait, nor does a pooled one.
    assert_lock_free(&db, &p);
    let out = alembix(&p, &url, &["upgrade", "head", "--lock-timeout", "2s"])
        .output()
        .unwrap();
    assert_success("a last pooled run", &out);
}

#[test]
fn every_command_through_pgbouncer_transaction_mode() {
    every_command_through(
        "ALEMBIX_TEST_PGBOUNCER_URL",
        "every_command_pgbouncer_transaction",
    );
}

#[test]
fn every_command_through_pgbouncer_session_mode() {
    every_command_through(
        "ALEMBIX_TEST_PGBOUNCER_SESSION_URL",
        "every_command_pgbouncer_session",
    );
}
