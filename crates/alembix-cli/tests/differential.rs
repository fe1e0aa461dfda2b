//! Differential test of autogenerate on a real model set from PyPI: optuna's storage models, edited one
//! change at a time; after each `revision --autogenerate` + `upgrade head` (and each `downgrade -1`) the
//! database must equal SQLAlchemy's own `create_all` of the same models, both read through SQLAlchemy's
//! Inspector. The work is done by `tests/fixtures/differential/run.py` (its docstring lists the edits,
//! the comparison and the known failures); this runs it once per engine, each on databases of its own.
//!
//! Needs python3 with SQLAlchemy, optuna (`pip install 'optuna==5.0.0'`, done by `.ci/run`) and the
//! engine's driver (psycopg2, PyMySQL): skipped with a notice when they are missing, unless
//! `ALEMBIX_TEST_REQUIRE_SQLALCHEMY=1`.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::db::{Engine, TestDb};

fn differential(engine: Engine) {
    let modules = match engine {
        Engine::Sqlite => "sqlalchemy, optuna",
        Engine::Postgres => "sqlalchemy, optuna, psycopg2",
        Engine::Mysql => "sqlalchemy, optuna, pymysql",
    };
    if !common::python_has(modules, "differential test") {
        return;
    }
    // The database alembix migrates, the one create_all fills, and an empty scratch database for
    // autogenerate (`dev_url`, so each run does not create and drop one of its own).
    let Some(target) = TestDb::create(engine, "differential") else {
        return;
    };
    let Some(reference) = TestDb::create(engine, "differential_ref") else {
        return;
    };
    let dev = match engine {
        Engine::Sqlite => None,
        _ => TestDb::create(engine, "differential_dev"),
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/differential/run.py");
    let work = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("python3");
    cmd.arg(&script)
        .args(["--alembix", common::BIN])
        .args(["--engine", engine.name()])
        .args(["--url", &target.url])
        .args(["--reference-url", &reference.url])
        .arg("--work")
        .arg(work.path())
        .env("NO_COLOR", "1")
        .env_remove("DATABASE_URL");
    if let Some(dev) = &dev {
        cmd.args(["--dev-url", &dev.url]);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The summary line shows in the test's output even when it passes (`--nocapture` shows it all).
    if let Some(summary) = stdout.lines().rfind(|l| l.starts_with("differential ")) {
        common::db::notice(summary);
    }
    assert!(
        out.status.success(),
        "differential test on {} exited {:?}:\n{stdout}\n{stderr}",
        engine.name(),
        out.status.code()
    );
}

#[test]
fn optuna_models_edit_by_edit_sqlite() {
    differential(Engine::Sqlite);
}

#[test]
fn optuna_models_edit_by_edit_postgres() {
    differential(Engine::Postgres);
}

#[test]
fn optuna_models_edit_by_edit_mysql() {
    differential(Engine::Mysql);
}
