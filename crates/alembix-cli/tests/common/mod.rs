//! Helpers shared by the end-to-end tests: a temporary project, running the `alembix` binary in it, and
//! turning a run into a deterministic text for snapshots.

#![allow(dead_code)]

pub mod db;

use std::path::{Path, PathBuf};
use std::process::Output;

pub const BIN: &str = env!("CARGO_BIN_EXE_alembix");

/// A project in a temporary directory. Commands run with it as the current directory.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// An empty directory.
    pub fn empty() -> Project {
        Project {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A project scaffolded by `alembix init`.
    pub fn init() -> Project {
        let p = Project::empty();
        p.ok(&["init"]);
        p
    }

    /// A bare project: `alembix.toml` with `migrations = "migrations"` and the given revision files, written
    /// directly (no script template), so tests control every byte.
    pub fn with_files(files: &[(&str, &str)]) -> Project {
        let p = Project::empty();
        p.write("alembix.toml", "migrations = \"migrations\"\n");
        std::fs::create_dir(p.path("migrations")).unwrap();
        for (name, text) in files {
            p.write(&format!("migrations/{name}"), text);
        }
        p
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        std::fs::write(self.path(rel), text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    /// Files (not directories) under `rel`, sorted, as paths relative to the project.
    pub fn files(&self, rel: &str) -> Vec<String> {
        let mut out: Vec<String> = std::fs::read_dir(self.path(rel))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let rel_path = Path::new(rel).join(e.file_name());
                rel_path.display().to_string()
            })
            .collect();
        out.sort();
        out
    }

    /// The `alembix` command with this project as the current directory and a neutral environment.
    pub fn cmd(&self, args: &[&str]) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(BIN);
        cmd.current_dir(self.dir.path());
        env(&mut cmd);
        cmd.args(args);
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Run, expect exit 0 and an empty stderr, return stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "alembix {args:?} failed:\n{}",
            render(&out)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Run and render status, stdout and stderr for a snapshot.
    pub fn snap(&self, args: &[&str]) -> String {
        let out = self.run(args);
        format!("$ alembix {}\n{}", args.join(" "), render(&out))
    }
}

/// The environment every test run gets: no colours, no database URL, fixed help width.
pub fn env(cmd: &mut assert_cmd::Command) {
    cmd.env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .env_remove("DATABASE_URL")
        .env("COLUMNS", "100");
}

/// `exit: N`, then stdout and stderr, with creation dates redacted.
pub fn render(out: &Output) -> String {
    let code = out
        .status
        .code()
        .map_or_else(|| "signal".to_string(), |c| c.to_string());
    format!(
        "exit: {code}\n--- stdout\n{}--- stderr\n{}",
        redact(&String::from_utf8_lossy(&out.stdout)),
        redact(&String::from_utf8_lossy(&out.stderr)),
    )
}

/// Replace creation dates (`Create Date: ...` in files and verbose output, `"create_date": "..."` in JSON)
/// with `[DATE]`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let (body, nl) = match line.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (line, ""),
        };
        if let Some(pos) = body.find("Create Date: ") {
            out.push_str(&body[..pos + "Create Date: ".len()]);
            out.push_str("[DATE]");
        } else if let Some(pos) = body.find("\"create_date\": \"") {
            let comma = if body.ends_with(',') { "," } else { "" };
            out.push_str(&body[..pos + "\"create_date\": ".len()]);
            out.push_str("\"[DATE]\"");
            out.push_str(comma);
        } else {
            out.push_str(body);
        }
        out.push_str(nl);
    }
    out
}

/// The text of a revision file with a fixed creation date.
pub fn rev_file(id: &str, revises: &str, message: &str, extra_header: &str) -> String {
    format!(
        "-- {message}\n--\n-- Revision ID: {id}\n-- Revises: {revises}\n-- Create Date: 2026-01-01 00:00:00\n\
         {extra_header}\n-- migrate:up\nSELECT '{id} up';\n\n-- migrate:down\nSELECT '{id} down';\n"
    )
}

/// Run and return exit code, stdout and stderr.
pub fn code(p: &Project, args: &[&str]) -> (i32, String, String) {
    let out = p.run(args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether `python3 -c "import MODULES"` works. When it does not, the test is skipped with a notice, or
/// fails when `ALEMBIX_TEST_REQUIRE_SQLALCHEMY=1` (set by `.ci/run`).
pub fn python_has(modules: &str, what: &str) -> bool {
    let ok = std::process::Command::new("python3")
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let msg = format!("SKIPPED {what}: python3 cannot import {modules} (pip install them)");
        if std::env::var("ALEMBIX_TEST_REQUIRE_SQLALCHEMY").is_ok_and(|v| v == "1") {
            panic!("{msg} (ALEMBIX_TEST_REQUIRE_SQLALCHEMY=1)");
        }
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "{msg}");
    }
    ok
}

/// Compile `file` (relative to `dir`) to its .pyc in one second, then replace `from` by `to` (same size) in
/// the same second: the edit Python's whole-second, size-checked .pyc validation cannot see.
pub fn edit_in_the_second_of_its_bytecode(dir: &Path, file: &str, from: &str, to: &str) {
    assert_eq!(from.len(), to.len(), "a same-size edit");
    let second = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
    let set_mtime = |path: &Path, at: std::time::SystemTime| {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(at)
            .unwrap();
    };
    let source = dir.join(file);
    set_mtime(&source, second);
    let compiled = std::process::Command::new("python3")
        .args(["-m", "py_compile", file])
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(compiled.success());
    let stem = source.file_stem().unwrap().to_string_lossy().into_owned();
    let pyc = std::fs::read_dir(source.parent().unwrap().join("__pycache__"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|f| {
            f.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("{stem}."))
        })
        .unwrap();
    let text = std::fs::read_to_string(&source).unwrap();
    assert!(text.contains(from), "{file} has no {from}");
    std::fs::write(&source, text.replace(from, to)).unwrap();
    set_mtime(&pyc, second + std::time::Duration::from_millis(200));
    set_mtime(&source, second + std::time::Duration::from_millis(500));
}

/// Copy a fixture directory (without Python caches).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_name() == "__pycache__" {
            continue;
        }
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}
