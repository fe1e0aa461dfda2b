//! Python teams' projects through the binary: SQLAlchemy models as the schema source (the printer alembix
//! carries, run in the project's Python), its errors, the empty-models guard, config in pyproject.toml and
//! found from a subdirectory, and the traps of a directory that holds an Alembic project. The models tests
//! need python3 with SQLAlchemy: skipped with a notice when it is missing, unless
//! `ALEMBIX_TEST_REQUIRE_SQLALCHEMY=1` (set by `.ci/run`).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{code, copy_dir, Project};

fn sqlalchemy_available() -> bool {
    common::python_has("sqlalchemy", "models tests")
}

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A project made of a fixture's files, with `alembix.toml` given and an empty migrations directory.
fn project(fixture_name: &str, config: &str) -> Project {
    let p = Project::empty();
    copy_dir(&fixture(fixture_name), p.dir.path());
    p.write("alembix.toml", config);
    std::fs::create_dir_all(p.path("migrations")).unwrap();
    p
}

/// Each test gets a cache of its own, so the models' cache is exercised but not shared.
fn isolated(p: &Project, args: &[&str]) -> (i32, String, String) {
    outcome(
        p.cmd(args)
            .env("ALEMBIX_CACHE_DIR", p.path(".cache"))
            .env_remove("VIRTUAL_ENV"),
    )
}

/// Exit code, stdout and stderr of `cmd`.
fn outcome(cmd: &mut assert_cmd::Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const MODELS_CONFIG: &str =
    "migrations = \"migrations\"\nurl = \"sqlite:app.db\"\nmodels = \"app.models\"\n";

#[test]
fn a_models_package_finds_the_module_nothing_imports() {
    if !sqlalchemy_available() {
        return;
    }
    let p = project("fastapi_app", MODELS_CONFIG);
    let args = [
        "revision",
        "--autogenerate",
        "-m",
        "init",
        "--rev-id",
        "a0000001",
    ];
    let (c, out, err) = isolated(&p, &args);
    assert_eq!(c, 0, "{out}{err}");
    let text = p.read("migrations/a0000001_init.sql");
    for table in ["users", "items", "audit_log"] {
        assert!(
            text.contains(&format!("CREATE TABLE {table}")),
            "{table}:\n{text}"
        );
    }
    let (c, out, err) = isolated(&p, &["upgrade", "head"]);
    assert_eq!(c, 0, "{out}{err}");
    let (c, out, err) = isolated(&p, &["check", "--live"]);
    assert_eq!(c, 0, "{out}{err}");

    // The printed DDL is cached with the stamps of the model files: a model file that changes is seen.
    let user = p.read("app/models/user.py");
    let edited = user.replacen(
        "class User(Base):",
        "class Extra(Base):\n    __tablename__ = \"extras\"\n    id: Mapped[int] = mapped_column(primary_key=True)\n\n\nclass User(Base):",
        1,
    );
    assert_ne!(user, edited, "the fixture's User model moved");
    p.write("app/models/user.py", &edited);
    let (c, out, _) = isolated(&p, &["check", "--live"]);
    assert_eq!(c, 1, "{out}");
    assert!(out.contains("extras"), "{out}");
}

/// The printer ends its process without the interpreter's teardown (a third of the import's time on 300
/// models), but what a normal exit does that a project can see still happens: its `atexit` functions run.
/// A project that writes to stdout and stderr while it is imported and at exit still gets a complete DDL.
#[test]
fn the_printer_exits_fast_but_runs_the_projects_exit_functions() {
    if !sqlalchemy_available() {
        return;
    }
    let p = project("fastapi_app", MODELS_CONFIG);
    let marker = p.path("atexit-ran");
    let audit = p.read("app/models/audit.py");
    p.write(
        "app/models/audit.py",
        &format!(
            "import atexit as _atexit\nimport sys as _sys\n\n\
             def _bye():\n    open({marker:?}, 'w').write('ran')\n    _sys.stderr.write('project atexit ran')\n\n\
             _atexit.register(_bye)\nprint('buffered stdout of the project', end='')\n\n{audit}",
            marker = marker.display().to_string()
        ),
    );
    let (c, out, err) = isolated(&p, &["check"]);
    assert_eq!(c, 1, "{out}{err}");
    for table in ["users", "items", "audit_log"] {
        assert!(out.contains(table), "{table}: {out}{err}");
    }
    assert_eq!(
        std::fs::read_to_string(&marker).ok().as_deref(),
        Some("ran"),
        "{out}{err}"
    );
}

#[test]
fn a_plain_module_spec_sees_only_what_it_imports() {
    if !sqlalchemy_available() {
        return;
    }
    let p = project(
        "fastapi_app",
        "migrations = \"migrations\"\nurl = \"sqlite:app.db\"\nmodels = \"app.models:Base\"\n",
    );
    let (c, out, err) = isolated(
        &p,
        &[
            "revision",
            "--autogenerate",
            "-m",
            "init",
            "--rev-id",
            "a0000002",
        ],
    );
    assert_eq!(c, 0, "{out}{err}");
    assert!(p
        .read("migrations/a0000002_init.sql")
        .contains("CREATE TABLE audit_log"));
}

#[test]
fn models_errors_say_what_to_do() {
    if !sqlalchemy_available() {
        return;
    }
    // The module does not exist: the working directory and sys.path are shown.
    let p = project(
        "fastapi_app",
        "migrations = \"migrations\"\nmodels = \"nosuch.models:Base\"\n",
    );
    let (c, _, err) = isolated(&p, &["check"]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("cannot import 'nosuch.models'"), "{err}");
    assert!(err.contains("working directory:"), "{err}");
    assert!(err.contains("sys.path"), "{err}");

    // An attribute that is not there.
    let p = project(
        "fastapi_app",
        "migrations = \"migrations\"\nmodels = \"app.db:Bsae\"\n",
    );
    let (c, _, err) = isolated(&p, &["check"]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("has no attribute 'Bsae'"), "{err}");

    // No models at all in the module.
    let p = project(
        "no_models",
        "migrations = \"migrations\"\nmodels = \"app.models\"\n",
    );
    let (c, _, err) = isolated(&p, &["check"]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("defines no SQLAlchemy models"), "{err}");

    // The import raises: the exception and the traceback's last lines.
    let p = project(
        "broken_models",
        "migrations = \"migrations\"\nmodels = \"app.models\"\n",
    );
    let (c, _, err) = isolated(&p, &["check"]);
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("raised"), "{err}");
    assert!(err.contains("user.py"), "{err}");

    // An interpreter that does not exist.
    let p = project(
        "fastapi_app",
        "migrations = \"migrations\"\nmodels = \"app.models\"\npython = \"/nonexistent/python\"\n",
    );
    let (c, _, err) = isolated(&p, &["check"]);
    assert_eq!(c, 2, "{err}");
    assert!(
        err.contains("cannot run the project's Python `/nonexistent/python`"),
        "{err}"
    );
}

#[test]
fn the_guard_refuses_to_drop_every_table() {
    // Models that are not imported look like an empty schema: with a database that has tables,
    // autogenerate would drop them all.
    let p = Project::empty();
    p.write(
        "alembix.toml",
        "migrations = \"migrations\"\nurl = \"sqlite:app.db\"\nschema = \"schema.sql\"\n",
    );
    std::fs::create_dir(p.path("migrations")).unwrap();
    p.write(
        "schema.sql",
        "CREATE TABLE a (id INTEGER PRIMARY KEY);\nCREATE TABLE b (id INTEGER PRIMARY KEY);\n\
         CREATE TABLE c (id INTEGER PRIMARY KEY);\nCREATE TABLE d (id INTEGER PRIMARY KEY);\n",
    );
    p.ok(&[
        "revision",
        "--autogenerate",
        "-m",
        "four",
        "--rev-id",
        "g0000001",
    ]);
    p.ok(&["upgrade", "head"]);

    p.write("schema.sql", "-- nothing here\n");
    for args in [
        &["revision", "--autogenerate", "-m", "oops"][..],
        &["check", "--live"][..],
        &["check"][..],
    ] {
        let (c, out, err) = code(&p, args);
        assert_eq!(c, 2, "{args:?}: {out}{err}");
        assert!(err.contains("declares no tables"), "{err}");
        assert!(err.contains("--allow-drop-tables"), "{err}");
    }
    assert_eq!(p.files("migrations").len(), 1);

    // Most tables gone: the same.
    p.write("schema.sql", "CREATE TABLE a (id INTEGER PRIMARY KEY);\n");
    let (c, _, err) = code(&p, &["revision", "--autogenerate", "-m", "oops"]);
    assert_eq!(c, 2, "{err}");
    assert!(
        err.contains("would drop 3 of the database's 4 tables (b, c, d)"),
        "{err}"
    );

    // Said to be intended: it goes on.
    let (c, out, err) = code(
        &p,
        &[
            "revision",
            "--autogenerate",
            "-m",
            "drop three",
            "--allow-drop-tables",
        ],
    );
    assert_eq!(c, 0, "{out}{err}");
    assert_eq!(p.files("migrations").len(), 2);
}

#[test]
fn two_schema_sources_are_an_error() {
    let p = Project::empty();
    p.write(
        "alembix.toml",
        "migrations = \"migrations\"\nschema = \"schema.sql\"\nmodels = \"app.models\"\n",
    );
    let (c, _, err) = code(&p, &["heads"]);
    assert_eq!(c, 2);
    assert!(err.contains("schema and models are all set"), "{err}");
}

#[test]
fn config_is_found_from_a_subdirectory_and_in_pyproject() {
    let p = Project::with_files(&[("r1_first.sql", &common::rev_file("r1", "", "first", ""))]);
    std::fs::create_dir_all(p.path("app/api")).unwrap();
    let out = p
        .cmd(&["heads"])
        .current_dir(p.path("app/api"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::render(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("r1"));

    // [tool.alembix] in pyproject.toml, relative paths from that file.
    std::fs::remove_file(p.path("alembix.toml")).unwrap();
    p.write(
        "pyproject.toml",
        "[project]\nname = \"app\"\n\n[tool.alembix]\nmigrations = \"migrations\"\n",
    );
    let out = p
        .cmd(&["heads"])
        .current_dir(p.path("app"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::render(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("r1"));

    // A key that is not alembix's, inside [tool.alembix], names the file.
    p.write(
        "pyproject.toml",
        "[tool.alembix]\nmigratons = \"migrations\"\n",
    );
    let (c, _, err) = code(&p, &["heads"]);
    assert_eq!(c, 2);
    assert!(
        err.contains("pyproject.toml") && err.contains("migratons"),
        "{err}"
    );

    // $ALEMBIX_CONFIG names the file.
    p.write("elsewhere.toml", "migrations = \"migrations\"\n");
    let out = p
        .cmd(&["heads"])
        .env("ALEMBIX_CONFIG", p.path("elsewhere.toml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", common::render(&out));
}

#[test]
fn no_project_says_what_was_looked_for() {
    let p = Project::empty();
    let (c, _, err) = code(&p, &["history"]);
    assert_eq!(c, 2);
    assert!(
        err.contains("no alembix.toml, and no pyproject.toml with a [tool.alembix] table"),
        "{err}"
    );
    assert!(err.contains("alembix init"), "{err}");

    // Beside an Alembic project, the way forward is the import.
    p.write("alembic.ini", "[alembic]\nscript_location = alembic\n");
    let (c, _, err) = code(&p, &["history"]);
    assert_eq!(c, 2);
    assert!(err.contains("alembix import alembic"), "{err}");
    let (c, _, err) = code(&p, &["init"]);
    assert_eq!(c, 2);
    assert!(err.contains("alembix import alembic"), "{err}");
    assert!(!p.path("alembix.toml").exists());
    let (c, _, err) = code(&p, &["init", "--force"]);
    assert_eq!(c, 0, "{err}");
}

#[test]
fn a_migrations_directory_of_python_revisions_is_named() {
    let p = Project::empty();
    p.write("alembix.toml", "migrations = \"versions\"\n");
    std::fs::create_dir(p.path("versions")).unwrap();
    p.write(
        "versions/ae1027a6acf_add_users.py",
        "revision = 'ae1027a6acf'\n",
    );
    let (c, _, err) = code(&p, &["history"]);
    assert_eq!(c, 2);
    assert!(
        err.contains("holds 1 Python file(s) and no .sql revision"),
        "{err}"
    );
    assert!(err.contains("alembix import alembic"), "{err}");
}

#[test]
fn init_with_models_writes_the_models_key() {
    let p = Project::empty();
    p.ok(&["init", "--models", "app.models:Base"]);
    let text = p.read("alembix.toml");
    assert!(text.contains("models = \"app.models:Base\""), "{text}");
    assert!(!text.contains("\nschema = "), "{text}");
    assert!(!p.path("schema.sql").exists());
}

#[test]
fn autogenerate_writes_a_section_for_each_configured_engine() {
    let Some(db) = common::db::TestDb::create(common::db::Engine::Postgres, "autogen_dialects")
    else {
        return;
    };
    let p = Project::empty();
    p.write(
        "alembix.toml",
        "migrations = \"migrations\"\nschema = \"schema.sql\"\ndialects = [\"postgresql\", \"sqlite\"]\n",
    );
    std::fs::create_dir(p.path("migrations")).unwrap();
    p.write(
        "schema.sql",
        "CREATE TABLE users (\n    id INTEGER PRIMARY KEY,\n    active BOOLEAN NOT NULL DEFAULT true\n);\n",
    );
    let url = db.url.as_str();
    let (c, out, err) = code(
        &p,
        &[
            "--url",
            url,
            "revision",
            "--autogenerate",
            "-m",
            "users",
            "--rev-id",
            "e0000001",
        ],
    );
    assert_eq!(c, 0, "{out}{err}");
    let text = p.read("migrations/e0000001_users.sql");
    assert!(text.contains("-- migrate:up sqlite"), "{text}");
    assert!(text.contains("-- migrate:down sqlite"), "{text}");
    // Each engine runs what was written for it, and both end up matching the declared schema.
    p.ok(&["--url", url, "upgrade", "head"]);
    p.ok(&["--url", url, "check", "--live"]);
    p.ok(&["--url", "sqlite:app.db", "upgrade", "head"]);
    p.ok(&["--url", "sqlite:app.db", "check", "--live"]);
    p.ok(&["--url", url, "downgrade", "base"]);
    p.ok(&["--url", "sqlite:app.db", "downgrade", "base"]);

    // A server engine other than the one compared with needs a server of its own.
    p.write(
        "alembix.toml",
        "migrations = \"migrations\"\nschema = \"schema.sql\"\ndialects = [\"sqlite\", \"mysql\"]\n",
    );
    p.write("schema.sql", "CREATE TABLE t (id INTEGER PRIMARY KEY);\n");
    let (c, _, err) = code(
        &p,
        &[
            "--url",
            "sqlite:app.db",
            "revision",
            "--autogenerate",
            "--from-migrations",
            "-m",
            "t",
        ],
    );
    assert_eq!(c, 2, "{err}");
    assert!(
        err.contains("no mysql server to build its section on"),
        "{err}"
    );
}

/// A models package of `n` tables per module in three modules, each table with a foreign key to the one
/// before, an indexed column and a comment; `late` is appended to the last module.
fn chained_models(p: &Project, late: &str, after_t2: &str) {
    std::fs::create_dir_all(p.path("app/models")).unwrap();
    p.write("app/__init__.py", "");
    p.write(
        "app/models/__init__.py",
        "from . import m1, m2, m3  # noqa: F401\n",
    );
    p.write(
        "app/models/base.py",
        "from sqlalchemy.orm import DeclarativeBase\n\n\nclass Base(DeclarativeBase):\n    pass\n",
    );
    let mut k = 0;
    for m in 1..=3 {
        let mut text = String::from(
            "from sqlalchemy import ForeignKey, Integer, String\n\
             from sqlalchemy.orm import Mapped, mapped_column\n\nfrom .base import Base\n",
        );
        for _ in 0..12 {
            k += 1;
            let parent = if k == 1 { 1 } else { k - 1 };
            text.push_str(&format!(
                "\n\nclass T{k}(Base):\n    __tablename__ = \"t{k}\"\n    \
                 id: Mapped[int] = mapped_column(Integer, primary_key=True)\n    \
                 parent_id: Mapped[int | None] = mapped_column(ForeignKey(\"t{parent}.id\"))\n    \
                 code: Mapped[str] = mapped_column(String(20), index=True, comment=\"code of t{k}\")\n"
            ));
            if k == 2 {
                text.push_str(after_t2);
            }
        }
        if m == 3 {
            text.push_str(late);
        }
        p.write(&format!("app/models/m{m}.py"), &text);
    }
}

/// Issue #11, cold `check` on a few hundred models: importing them and building their tables on the
/// scratch database took one after the other. The printer now prints each table while it still imports
/// the rest, and the scratch build runs meanwhile; the result must be the one a build after the import
/// gives, also when a module changes a table after it was printed (which must throw the early build away).
#[test]
fn the_scratch_build_runs_while_the_models_are_imported() {
    if !sqlalchemy_available() {
        return;
    }
    for engine in [common::db::Engine::Postgres, common::db::Engine::Mysql] {
        let Some(db) = common::db::TestDb::create(engine, "overlapped_build") else {
            continue;
        };
        for (late, after_t2, used) in [
            // An index added to an earlier table afterwards: one more statement, still the early build.
            (
                "\n\nfrom sqlalchemy import Index\n\nfrom .m1 import T2\n\nIndex(\"ix_t2_parent\", T2.__table__.c.parent_id)\n",
                // A `once` DDL listener on a table printed early still fires in the final DDL.
                "\n\nfrom sqlalchemy import DDL, event\n\nevent.listen(T2.__table__, \"after_create\", \
                 DDL(\"CREATE INDEX ix_once ON t2 (code, id)\"), once=True)\n",
                true,
            ),
            // A column added to a printed table: its CREATE TABLE changed, the early build is discarded.
            (
                "\n\nfrom sqlalchemy import Column\n\nfrom .m1 import T3\n\nT3.__table__.append_column(Column(\"late\", Integer))\n",
                "",
                false,
            ),
        ] {
            let p = Project::empty();
            p.write("alembix.toml", MODELS_CONFIG);
            std::fs::create_dir_all(p.path("migrations")).unwrap();
            chained_models(&p, late, after_t2);
            let url = db.url.as_str();
            let run = |args: &[&str]| {
                p.cmd(args)
                    .env("ALEMBIX_CACHE_DIR", p.path(".cache"))
                    .env("ALEMBIX_TRACE_BUILD", "1")
                    .env_remove("VIRTUAL_ENV")
                    .output()
                    .unwrap()
            };
            let out = run(&["--url", url, "revision", "--autogenerate", "-m", "init", "--rev-id", "a1"]);
            let err = String::from_utf8_lossy(&out.stderr).to_string();
            assert!(out.status.success(), "{engine:?}: {err}");
            let overlapped = !err.contains(" 0 overlapped");
            assert!(err.contains(" overlapped"), "{engine:?}: no build trace in {err}");
            assert_eq!(overlapped, used, "{engine:?}, {late}: {err}");
            let text = p.read("migrations/a1_init.sql");
            assert_eq!(text.matches("CREATE TABLE").count(), 36, "{text}");
            assert!(text.contains("ix_t2_parent") == used, "{text}");
            assert!(text.contains("ix_once") == used, "{text}");
            assert!(text.contains("late") != used, "{text}");
            // What was generated builds the declared schema: a cold check (new cache) finds nothing to do.
            p.ok(&["--url", url, "upgrade", "head"]);
            let _ = std::fs::remove_dir_all(p.path(".cache"));
            let out = run(&["--url", url, "check", "--live"]);
            assert!(
                out.status.success(),
                "{engine:?}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            // Compared with the migrations, cold: they are replayed while the models are imported and
            // built early; the verdict is the same.
            let _ = std::fs::remove_dir_all(p.path(".cache"));
            let out = run(&["--url", url, "check"]);
            let err = String::from_utf8_lossy(&out.stderr).to_string();
            assert!(out.status.success(), "{engine:?}: {err}");
            assert_eq!(!err.contains(" 0 overlapped"), used, "{engine:?}: {err}");
            // A replay that fails meanwhile is reported as such (revision, statement), not as a finding.
            p.write(
                "migrations/a2_broken.sql",
                "-- Revision ID: a2\n-- Revises: a1\n\n-- migrate:up\nALTER TABLE t1 ADD COLUMN x no_such_type;\n\n\
                 -- migrate:down\nALTER TABLE t1 DROP COLUMN x;\n",
            );
            let _ = std::fs::remove_dir_all(p.path(".cache"));
            let out = run(&["--url", url, "check"]);
            let err = String::from_utf8_lossy(&out.stderr).to_string();
            assert_eq!(out.status.code(), Some(2), "{engine:?}: {err}");
            assert!(err.contains("a2") && err.contains("no_such_type"), "{engine:?}: {err}");
            std::fs::remove_file(p.path("migrations/a2_broken.sql")).unwrap();
            p.ok(&["--url", url, "downgrade", "base"]);
        }
    }
}

/// Python trusts a module's `.pyc` when it records the source's size and mtime in whole seconds. An edit
/// that keeps the size, saved in the second the `.pyc` was written (a formatter, a checkout, `sed -i`), was
/// not seen: `revision --autogenerate` wrote the old column, and the models cache kept it for the new file.
/// (Found by the benchmark's after-an-edit run on the real model set.) The `.pyc` here is written, then
/// the file edited, and both mtimes set within one second, the `.pyc` before the source.
#[test]
fn an_edit_in_the_second_its_bytecode_was_written_is_seen() {
    if !sqlalchemy_available() {
        return;
    }
    let p = project("fastapi_app", MODELS_CONFIG);
    let (c, out, err) = isolated(&p, &["check"]);
    assert_eq!(c, 1, "{out}{err}");
    common::edit_in_the_second_of_its_bytecode(
        p.dir.path(),
        "app/models/audit.py",
        "String(50)",
        "String(60)",
    );

    let (c, out, err) = isolated(
        &p,
        &[
            "revision",
            "--autogenerate",
            "-m",
            "init",
            "--rev-id",
            "b0000001",
        ],
    );
    assert_eq!(c, 0, "{out}{err}");
    let written = p.read("migrations/b0000001_init.sql");
    assert!(written.contains("VARCHAR(60)"), "{written}");
    // The revision now matches the models.
    let (c, out, err) = isolated(&p, &["check"]);
    assert_eq!(c, 0, "{out}{err}");
}

/// `python3` on `PATH` is often pyenv's shim, which costs three bash processes (~50 ms) per start. alembix
/// runs the interpreter the shim would choose when the choice is plain (here a `.python-version` naming an
/// installed version) and leaves the rest to the shim (here `system`). This shim refuses to run, so the
/// first run succeeds only without it; the models printout cached by that run is not taken for the second,
/// whose version differs.
#[cfg(unix)]
#[test]
fn a_pyenv_shim_is_bypassed_when_its_choice_is_plain() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    if !sqlalchemy_available() {
        return;
    }
    let real = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_string();
    let p = project("fastapi_app", MODELS_CONFIG);
    let root = p.path("pyenv");
    std::fs::create_dir_all(root.join("shims")).unwrap();
    std::fs::create_dir_all(root.join("versions/3.99.0/bin")).unwrap();
    symlink(&real, root.join("versions/3.99.0/bin/python3")).unwrap();
    let shim = root.join("shims/python3");
    std::fs::write(
        &shim,
        format!(
            "#!/usr/bin/env bash\nset -e\nprogram=\"${{0##*/}}\"\n\nexport PYENV_ROOT=\"{root}\"\n\
             echo 'the pyenv shim ran' >&2\nexit 3\nexec \"{root}/libexec/pyenv\" exec \"$program\" \"$@\"\n",
            root = root.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.write(".python-version", "3.99.0\n");
    let path = format!(
        "{}:{}",
        root.join("shims").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = |args: &[&str]| {
        outcome(
            p.cmd(args)
                .env("ALEMBIX_CACHE_DIR", p.path(".cache"))
                .env("PATH", &path)
                .env_remove("VIRTUAL_ENV")
                .env_remove("PYENV_VERSION")
                .env_remove("PYENV_DIR")
                .env_remove("PYENV_HOOK_PATH"),
        )
    };
    let (c, out, err) = run(&["check"]);
    assert_eq!(c, 1, "{out}{err}");
    assert!(out.contains("users"), "{out}{err}");
    p.write(".python-version", "system\n");
    let (c, out, err) = run(&["check"]);
    assert_eq!(c, 2, "{out}{err}");
    assert!(err.contains("the pyenv shim ran"), "{out}{err}");
}

/// An enum on the table every other one refers to (an organization's plan, say) kept the whole chain out
/// of the early build: on PostgreSQL the enum needs its `CREATE TYPE` first, and the printer left such
/// tables for the final DDL (8 of the 84 statements of the benchmark's 53-model set ran early). The
/// printer now prints each enum's `CREATE TYPE` once, before the first table that uses it; MySQL's enum
/// is part of its column. The build must still agree with a build after the import.
#[test]
fn tables_with_enums_are_built_while_the_models_are_imported() {
    if !sqlalchemy_available() {
        return;
    }
    for engine in [common::db::Engine::Postgres, common::db::Engine::Mysql] {
        let Some(db) = common::db::TestDb::create(engine, "overlapped_enums") else {
            continue;
        };
        let p = Project::empty();
        p.write("alembix.toml", MODELS_CONFIG);
        std::fs::create_dir_all(p.path("migrations")).unwrap();
        std::fs::create_dir_all(p.path("app/models")).unwrap();
        p.write("app/__init__.py", "");
        p.write(
            "app/models/__init__.py",
            "from . import m1, m2  # noqa: F401\n",
        );
        let mut m1 = String::from(
            "import enum\n\nfrom sqlalchemy import Enum, ForeignKey, Integer\n\
             from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column\n\n\n\
             class Base(DeclarativeBase):\n    pass\n\n\n\
             class Plan(enum.Enum):\n    free = \"free\"\n    team = \"team\"\n\n\n\
             class Org(Base):\n    __tablename__ = \"orgs\"\n    \
             id: Mapped[int] = mapped_column(Integer, primary_key=True)\n    \
             plan: Mapped[Plan] = mapped_column(Enum(Plan, name=\"org_plan\"), server_default=\"free\")\n",
        );
        let mut m2 = String::from(
            "from sqlalchemy import Enum, ForeignKey, Integer\nfrom sqlalchemy.orm import Mapped, mapped_column\n\n\
             from .m1 import Base, Plan\n",
        );
        for k in 1..=20 {
            let text = format!(
                "\n\nclass T{k}(Base):\n    __tablename__ = \"t{k}\"\n    \
                 id: Mapped[int] = mapped_column(Integer, primary_key=True)\n    \
                 org_id: Mapped[int] = mapped_column(ForeignKey(\"orgs.id\"))\n{}",
                if k % 7 == 0 {
                    "    plan: Mapped[Plan] = mapped_column(Enum(Plan, name=\"org_plan\"))\n"
                } else {
                    ""
                }
            );
            if k <= 10 {
                m1.push_str(&text);
            } else {
                m2.push_str(&text);
            }
        }
        p.write("app/models/m1.py", &m1);
        p.write("app/models/m2.py", &m2);
        let url = db.url.as_str();
        let run = |args: &[&str]| {
            p.cmd(args)
                .env("ALEMBIX_CACHE_DIR", p.path(".cache"))
                .env("ALEMBIX_TRACE_BUILD", "1")
                .env_remove("VIRTUAL_ENV")
                .output()
                .unwrap()
        };
        let out = run(&[
            "--url",
            url,
            "revision",
            "--autogenerate",
            "-m",
            "init",
            "--rev-id",
            "e1",
        ]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "{engine:?}: {err}");
        let ran: usize = err
            .split(" overlapped")
            .next()
            .and_then(|s| s.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{engine:?}: no build trace in {err}"));
        assert!(
            ran >= 10,
            "{engine:?}: only {ran} statements ran early: {err}"
        );
        let text = p.read("migrations/e1_init.sql");
        assert_eq!(text.matches("CREATE TABLE").count(), 21, "{text}");
        if engine == common::db::Engine::Postgres {
            assert_eq!(text.matches("CREATE TYPE org_plan").count(), 1, "{text}");
        }
        p.ok(&["--url", url, "upgrade", "head"]);
        let _ = std::fs::remove_dir_all(p.path(".cache"));
        let out = run(&["--url", url, "check", "--live"]);
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            out.status.success(),
            "{engine:?}: {}{err}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(!err.contains(" 0 overlapped"), "{engine:?}: {err}");
        p.ok(&["--url", url, "downgrade", "base"]);
    }
}

/// The models printout is cached with the stamps of the project's files; an upgraded SQLAlchemy (or
/// another Python) may print other DDL for the same files, and reusing the old printout would compare
/// the database with what the old version printed. SQLAlchemy here is the real one behind a package on
/// `PYTHONPATH` that counts its imports; rewriting its `__init__.py` (as `pip install -U` does) must make
/// the next run print the models again.
#[test]
fn an_upgraded_sqlalchemy_prints_the_models_again() {
    if !sqlalchemy_available() {
        return;
    }
    let real = std::process::Command::new("python3")
        .args([
            "-c",
            "import os, sqlalchemy; print(os.path.dirname(os.path.realpath(sqlalchemy.__file__)))",
        ])
        .output()
        .unwrap();
    let real = String::from_utf8(real.stdout).unwrap().trim().to_string();
    let p = project("fastapi_app", MODELS_CONFIG);
    // Outside the project, as site-packages is (the project's own files are watched anyway).
    let site = tempfile::tempdir().unwrap();
    let overlay = site.path().join("sqlalchemy");
    std::fs::create_dir_all(&overlay).unwrap();
    let counter = site.path().join("imports");
    let init = |version: &str| {
        format!(
            "# {version}\nimport os as _os\n__path__.insert(0, {real:?})\n\
             open({counter:?}, 'a').write('x')\n\
             _f = _os.path.join({real:?}, '__init__.py')\n\
             exec(compile(open(_f).read(), _f, 'exec'))\n",
            counter = counter.display().to_string()
        )
    };
    std::fs::write(overlay.join("__init__.py"), init("1.0")).unwrap();
    let run = || {
        let (c, out, err) = outcome(
            p.cmd(&["check"])
                .env("ALEMBIX_CACHE_DIR", p.path(".cache"))
                .env("PYTHONPATH", site.path())
                .env_remove("VIRTUAL_ENV"),
        );
        assert_eq!(c, 1, "{out}{err}");
        std::fs::read_to_string(&counter).unwrap_or_default().len()
    };
    assert_eq!(run(), 1, "the models were not printed");
    assert_eq!(
        run(),
        1,
        "nothing changed, yet the models were printed again"
    );
    std::fs::write(overlay.join("__init__.py"), init("2.0 (upgraded)")).unwrap();
    assert_eq!(
        run(),
        2,
        "SQLAlchemy changed, yet the old printout was used"
    );
}
