//! The project's own Python: finding its interpreter and running the helpers alembix carries (the SQLAlchemy
//! models printer, the Alembic importer) in it, so nothing has to be copied into the project.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::config::Config;
use crate::error::{Error, Result};

/// A helper script compiled into alembix.
#[derive(Debug, Clone, Copy)]
pub struct Helper {
    pub name: &'static str,
    pub source: &'static str,
}

/// Prints SQLAlchemy models as DDL (`models = "app.models:Base"`).
pub const MODELS: Helper = Helper {
    name: "alembix_models.py",
    source: include_str!("../python/alembix_models.py"),
};

/// Reads an Alembic project and renders its revisions as SQL (`alembix import alembic`).
pub const ALEMBIC: Helper = Helper {
    name: "alembix_alembic.py",
    source: include_str!("../python/alembix_alembic.py"),
};

/// How to start the project's Python: `python` from the config (`"uv run python"`), else the active
/// virtualenv (`$VIRTUAL_ENV`), else `.venv` beside the config, else `python3` from `PATH`.
#[derive(Debug, Clone)]
pub struct Interpreter {
    pub words: Vec<String>,
    /// Where the choice came from, for messages.
    pub origin: String,
}

impl Interpreter {
    pub fn for_project(config: &Config, explicit: Option<&str>) -> Result<Interpreter> {
        if let Some(cmd) = explicit.or(config.python.as_deref()) {
            let words = shlex::split(cmd)
                .filter(|w| !w.is_empty())
                .ok_or_else(|| Error::Usage(format!("python `{cmd}`: cannot split into words")))?;
            let origin = if explicit.is_some() {
                "--python"
            } else {
                "`python` in the config"
            };
            return Ok(Interpreter {
                words,
                origin: origin.into(),
            });
        }
        if let Some(venv) = std::env::var_os("VIRTUAL_ENV").filter(|v| !v.is_empty()) {
            let exe = venv_python(Path::new(&venv));
            if exe.is_file() {
                return Ok(Interpreter::at(exe, "$VIRTUAL_ENV"));
            }
        }
        for dir in [".venv", "venv"] {
            let exe = venv_python(&config.root.join(dir));
            if exe.is_file() {
                return Ok(Interpreter::at(exe, &format!("{dir}/ beside the config")));
            }
        }
        Ok(Interpreter {
            words: vec![DEFAULT_PYTHON.into()],
            origin: "PATH (no `python` in the config, no $VIRTUAL_ENV, no .venv)".into(),
        })
    }

    fn at(exe: PathBuf, origin: &str) -> Interpreter {
        Interpreter {
            words: vec![exe.display().to_string()],
            origin: origin.into(),
        }
    }

    pub fn display(&self) -> String {
        self.words.join(" ")
    }

    /// Run `helper` with `args` in `cwd`; returns its stdout. A non-zero exit is an error carrying the
    /// helper's stderr (which it writes for people: what failed and what to do).
    pub fn run(&self, helper: Helper, args: &[String], cwd: &Path) -> Result<String> {
        let out = self
            .command(helper, args, cwd)?
            .output()
            .map_err(|e| self.cannot_start(e))?;
        self.finish(helper, out)
    }

    /// As [`Interpreter::run`], but each line of stdout that starts with `prefix` goes to `on_line` as soon
    /// as the helper prints it; the other lines are returned.
    pub fn run_streaming(
        &self,
        helper: Helper,
        args: &[String],
        cwd: &Path,
        prefix: &str,
        on_line: &mut dyn FnMut(&str),
    ) -> Result<String> {
        use std::io::{BufRead, BufReader, Read};
        use std::process::Stdio;
        let mut child = self
            .command(helper, args, cwd)?
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.cannot_start(e))?;
        // stderr is drained on its own thread, so a helper that writes much there never blocks.
        let mut err_pipe = child.stderr.take();
        let errs = std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(p) = err_pipe.as_mut() {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        });
        let mut rest = Vec::new();
        if let Some(out) = child.stdout.take() {
            let mut reader = BufReader::new(out);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
                match std::str::from_utf8(&line) {
                    Ok(text) if text.starts_with(prefix) => on_line(text),
                    _ => rest.extend_from_slice(&line),
                }
                line.clear();
            }
        }
        let status = child.wait().map_err(|e| self.cannot_start(e))?;
        let stderr = errs.join().unwrap_or_default();
        self.finish(
            helper,
            std::process::Output {
                status,
                stdout: rest,
                stderr,
            },
        )
    }

    /// What decides which Python runs in `cwd`, for caches of what it printed: the words, and for
    /// `python3` from `PATH` the file found there and, behind a pyenv shim, the version pyenv selects.
    pub fn identity(&self, cwd: &Path) -> String {
        if !self.on_path() {
            return self.display();
        }
        let found = self.look_up(cwd);
        format!(
            "{}\0{}\0{}",
            self.display(),
            found.file.as_deref().unwrap_or(Path::new("")).display(),
            found.versions.map(|v| v.join(":")).unwrap_or_default()
        )
    }

    /// What `python3` on `PATH` is in `cwd` (see [`look_up`]).
    fn look_up(&self, cwd: &Path) -> OnPath {
        let path = std::env::var_os("PATH").unwrap_or_default();
        look_up(&path, &self.words[0], cwd, &|k| std::env::var_os(k))
    }

    /// `python3` from `PATH`, as chosen when nothing else names the interpreter.
    fn on_path(&self) -> bool {
        self.words.len() == 1 && self.words[0] == DEFAULT_PYTHON
    }

    fn command(&self, helper: Helper, args: &[String], cwd: &Path) -> Result<Command> {
        let script = materialise(helper)?;
        let direct = if self.on_path() {
            self.look_up(cwd).direct
        } else {
            None
        };
        let mut cmd = match &direct {
            Some(d) => {
                let mut cmd = Command::new(&d.exe);
                cmd.env("PATH", &d.path).env("PYENV_VERSION", &d.version);
                cmd
            }
            None => Command::new(&self.words[0]),
        };
        cmd.args(&self.words[1..])
            .arg(&script)
            .args(args)
            .current_dir(cwd)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUNBUFFERED", "1");
        Ok(cmd)
    }

    fn cannot_start(&self, e: std::io::Error) -> Error {
        Error::Usage(format!(
            "cannot run the project's Python `{}` (from {}): {e}. Set `python` in the config to the \
             interpreter that has the project installed, e.g. `python = \".venv/bin/python\"` or \
             `python = \"uv run python\"`",
            self.display(),
            self.origin
        ))
    }

    fn finish(&self, helper: Helper, out: std::process::Output) -> Result<String> {
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stderr = stderr.trim_end();
            let hint = if stderr.contains("No module named 'sqlalchemy'")
                || stderr.contains("No module named 'alembic'")
            {
                format!(
                    "\n(the Python used was `{}`, from {}; set `python` in the config, or pass --python, \
                     to the interpreter that has the project installed)",
                    self.display(),
                    self.origin
                )
            } else {
                String::new()
            };
            return Err(Error::Usage(format!(
                "{}{hint}",
                if stderr.is_empty() {
                    format!("`{}` exited with {}", self.display(), out.status)
                } else {
                    stderr.to_string()
                }
            )));
        }
        String::from_utf8(out.stdout)
            .map_err(|_| Error::Usage(format!("{} printed output that is not UTF-8", helper.name)))
    }
}

/// The interpreter looked up on `PATH` when nothing else names one.
const DEFAULT_PYTHON: &str = if cfg!(windows) { "python" } else { "python3" };

/// An interpreter that pyenv's shim would start, and the environment `pyenv exec` gives it.
#[derive(Debug, PartialEq, Eq)]
struct PyenvDirect {
    exe: PathBuf,
    /// `PATH` with the version's `bin` directory first.
    path: OsString,
    /// `PYENV_VERSION` as `pyenv exec` exports it (the selected versions, `:`-separated).
    version: String,
}

/// pyenv's shim for `program` (the first one on `path`; pyenv at `root`, selecting `versions`) is a bash
/// script that runs `pyenv exec`: three more bash processes, about 50 ms, before the interpreter starts (a
/// `python3 -c pass` took 73 ms through it and 25 ms without). Where pyenv's choice is plain, the
/// interpreter it would run is run directly, with the environment `pyenv exec` gives it: the versions
/// (from `PYENV_VERSION`, the nearest `.python-version` or pyenv's global file, see [`pyenv_version`])
/// installed under exactly those names, the first holding `program`, and no hook installed that could
/// change the choice. Anything else (`system`, a version prefix pyenv would resolve, a version not
/// installed, a hook) is left to the shim.
fn pyenv_direct(
    root: &Path,
    versions: &[String],
    path: &OsStr,
    program: &str,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Option<PyenvDirect> {
    if pyenv_hooks_may_choose(root, env) {
        return None;
    }
    let first = versions.first()?;
    let installed = |v: &String| {
        v != "system" && v != ".." && !v.contains('/') && root.join("versions").join(v).is_dir()
    };
    if !versions.iter().all(installed) {
        return None;
    }
    let bin = root.join("versions").join(first).join("bin");
    let exe = bin.join(program);
    if !is_executable(&exe) {
        return None;
    }
    let path =
        std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(path))).ok()?;
    Some(PyenvDirect {
        exe,
        path,
        version: versions.join(":"),
    })
}

/// What `program` on `path` is.
#[derive(Debug, Default)]
struct OnPath {
    /// The first executable of that name.
    file: Option<PathBuf>,
    /// When it is pyenv's shim: the versions pyenv selects in the working directory.
    versions: Option<Vec<String>>,
    /// The interpreter to run instead of the shim, when pyenv's choice is plain ([`pyenv_direct`]).
    direct: Option<PyenvDirect>,
}

/// `program` on `path`, and behind a pyenv shim what pyenv selects in `cwd`: one lookup for the cache key
/// and the command alike.
fn look_up(
    path: &OsStr,
    program: &str,
    cwd: &Path,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> OnPath {
    let file = first_on_path(path, program);
    let Some(root) = file.as_deref().and_then(pyenv_root_of_shim) else {
        return OnPath {
            file,
            ..OnPath::default()
        };
    };
    let versions = pyenv_version(&root, cwd, env);
    let direct = pyenv_direct(&root, &versions, path, program, env);
    OnPath {
        file,
        versions: Some(versions),
        direct,
    }
}

/// The first executable `program` in `path`'s directories.
fn first_on_path(path: &OsStr, program: &str) -> Option<PathBuf> {
    std::env::split_paths(path)
        .filter(|d| !d.as_os_str().is_empty())
        .map(|d| d.join(program))
        .find(|f| is_executable(f))
}

fn is_executable(file: &Path) -> bool {
    let Ok(meta) = std::fs::metadata(file) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// `PYENV_ROOT` as a pyenv shim sets it (`export PYENV_ROOT="…"`), when `file` is one (a bash script that
/// ends in `exec "…/libexec/pyenv" exec "$program" "$@"`).
fn pyenv_root_of_shim(file: &Path) -> Option<PathBuf> {
    use std::io::Read;
    let mut head = Vec::with_capacity(2048);
    std::fs::File::open(file)
        .ok()?
        .take(4096)
        .read_to_end(&mut head)
        .ok()?;
    let text = std::str::from_utf8(&head).ok()?;
    if !text.starts_with("#!") || !text.contains("/libexec/pyenv\" exec \"$program\"") {
        return None;
    }
    let root = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("export PYENV_ROOT=\""))?
        .strip_suffix('"')?;
    (!root.is_empty() && !root.contains(['"', '$', '`', '\\'])).then(|| PathBuf::from(root))
}

/// Whether a pyenv hook for `exec`, `version-name` or `which` is installed (in `PYENV_HOOK_PATH`, pyenv's
/// own hook directories, or a plugin's): one could change the version, the command or its environment.
/// Those that ship with pyenv and pyenv-virtualenv are not such hooks: `pip-rehash` runs after `pip`, and
/// the `which` hooks of pyenv-virtualenv look elsewhere only for a command the version does not have.
fn pyenv_hooks_may_choose(root: &Path, env: &dyn Fn(&str) -> Option<OsString>) -> bool {
    let mut dirs: Vec<PathBuf> = env("PYENV_HOOK_PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.push(root.join("pyenv.d"));
    for d in [
        "/usr/etc/pyenv.d",
        "/usr/local/etc/pyenv.d",
        "/etc/pyenv.d",
        "/usr/lib/pyenv/hooks",
    ] {
        dirs.push(PathBuf::from(d));
    }
    if let Ok(plugins) = std::fs::read_dir(root.join("plugins")) {
        dirs.extend(plugins.flatten().map(|p| p.path().join("etc/pyenv.d")));
    }
    const HARMLESS: [(&str, &[&str]); 3] = [
        ("exec", &["pip-rehash.bash"]),
        ("version-name", &[]),
        (
            "which",
            &[
                "conda.bash",
                "python-config.bash",
                "system-site-packages.bash",
            ],
        ),
    ];
    dirs.iter().any(|d| {
        HARMLESS.iter().any(|(cmd, harmless)| {
            std::fs::read_dir(d.join(cmd)).is_ok_and(|entries| {
                entries.flatten().any(|e| {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    name.ends_with(".bash") && !harmless.contains(&name.as_ref())
                })
            })
        })
    })
}

/// The versions pyenv selects in `cwd`, as `pyenv version-name` reads them (before it resolves prefixes):
/// `PYENV_VERSION`, else the first `.python-version` from `PYENV_DIR` up, then from `cwd` up, else
/// `PYENV_ROOT/version`; each non-empty line's first word, `#` lines skipped; `system` when none.
fn pyenv_version(root: &Path, cwd: &Path, env: &dyn Fn(&str) -> Option<OsString>) -> Vec<String> {
    if let Some(v) = env("PYENV_VERSION").filter(|v| !v.is_empty()) {
        return v.to_string_lossy().split(':').map(str::to_string).collect();
    }
    let local = |from: &Path| {
        from.ancestors()
            .map(|d| d.join(".python-version"))
            .find(|f| f.is_file())
    };
    let pyenv_dir = env("PYENV_DIR").map(PathBuf::from);
    let file = pyenv_dir
        .as_deref()
        .and_then(local)
        .or_else(|| local(cwd))
        .unwrap_or_else(|| root.join("version"));
    let versions: Vec<String> = std::fs::read_to_string(&file)
        .map(|text| {
            text.lines()
                .filter_map(|l| l.split_whitespace().next())
                .filter(|w| !w.starts_with('#'))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if versions.is_empty() {
        vec!["system".into()]
    } else {
        versions
    }
}

fn venv_python(venv: &Path) -> PathBuf {
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

/// The helper as a file: written once per alembix version and content into a private directory (the cache
/// directory, else the temporary one), so Python can run it and show real file names in tracebacks.
fn materialise(helper: Helper) -> Result<PathBuf> {
    use sha2::{Digest, Sha256};
    let digest = format!("{:x}", Sha256::digest(helper.source.as_bytes()));
    let base = crate::autogen::SchemaCache::from_env()
        .dir()
        .map(Path::to_path_buf)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("python-{}", &digest[..16]));
    let path = dir.join(helper.name);
    if std::fs::read(&path).is_ok_and(|t| t == helper.source.as_bytes()) {
        return Ok(path);
    }
    crate::autogen::write_atomic(&path, helper.source.as_bytes())
        .map_err(|e| Error::io(&path, e))?;
    Ok(path)
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A pyenv root in a temporary directory: its shim, versions `3.12.1` (with `python3`) and `3.11`
    /// (without), and a project directory below.
    struct Fake {
        dir: tempfile::TempDir,
    }

    impl Fake {
        fn new() -> Fake {
            let dir = tempfile::tempdir().unwrap();
            let f = Fake { dir };
            let root = f.root();
            std::fs::create_dir_all(root.join("shims")).unwrap();
            std::fs::create_dir_all(root.join("versions/3.12.1/bin")).unwrap();
            std::fs::create_dir_all(root.join("versions/3.11/bin")).unwrap();
            std::fs::create_dir_all(f.project()).unwrap();
            f.exe(&root.join("versions/3.12.1/bin/python3"), "#!/bin/sh\n");
            f.exe(
                &root.join("shims/python3"),
                &format!(
                    "#!/usr/bin/env bash\nset -e\nprogram=\"${{0##*/}}\"\nexport PYENV_ROOT=\"{}\"\n\
                     exec \"{}/libexec/pyenv\" exec \"$program\" \"$@\"\n",
                    root.display(),
                    root.display()
                ),
            );
            f
        }
        fn root(&self) -> PathBuf {
            self.dir.path().join("pyenv")
        }
        fn project(&self) -> PathBuf {
            self.dir.path().join("work/app")
        }
        fn exe(&self, file: &Path, text: &str) {
            std::fs::write(file, text).unwrap();
            std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        fn path(&self) -> OsString {
            std::env::join_paths([self.root().join("shims"), PathBuf::from("/usr/bin")]).unwrap()
        }
        fn direct(&self, vars: &[(&str, &str)]) -> Option<PyenvDirect> {
            let vars: Vec<(String, OsString)> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), OsString::from(v)))
                .collect();
            let env = move |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            look_up(&self.path(), "python3", &self.project(), &env).direct
        }
    }

    #[test]
    fn the_selected_version_runs_without_the_shim() {
        let f = Fake::new();
        // No version file anywhere: pyenv's `system`, left to the shim.
        assert_eq!(f.direct(&[]), None);
        std::fs::write(f.root().join("version"), "# global\n\n3.12.1\n").unwrap();
        let d = f.direct(&[]).unwrap();
        assert_eq!(d.exe, f.root().join("versions/3.12.1/bin/python3"));
        assert_eq!(d.version, "3.12.1");
        let first = std::env::split_paths(&d.path).next().unwrap();
        assert_eq!(first, f.root().join("versions/3.12.1/bin"));
        // A `.python-version` above the project wins over the global file; PYENV_VERSION over both.
        std::fs::write(f.dir.path().join("work/.python-version"), "system\n").unwrap();
        assert_eq!(f.direct(&[]), None);
        assert_eq!(
            f.direct(&[("PYENV_VERSION", "3.12.1")]).unwrap().version,
            "3.12.1"
        );
        // PYENV_DIR is searched before the working directory.
        let elsewhere = f.dir.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join(".python-version"), "3.12.1 extra words\n").unwrap();
        let d = f
            .direct(&[("PYENV_DIR", elsewhere.to_str().unwrap())])
            .unwrap();
        assert_eq!(d.version, "3.12.1");
    }

    #[test]
    fn what_pyenv_would_resolve_otherwise_is_left_to_the_shim() {
        let f = Fake::new();
        for version in [
            "3.12",          // a prefix, which pyenv resolves to the latest installed
            "3.11",          // installed without python3: pyenv looks in the next version
            "3.12.1:3.13",   // one not installed
            "3.12.1:system", // the system Python, found on PATH without the shims
            "../3.12.1",     // outside the versions directory
        ] {
            assert_eq!(f.direct(&[("PYENV_VERSION", version)]), None, "{version}");
        }
        assert_eq!(
            f.direct(&[("PYENV_VERSION", "3.12.1:3.11")])
                .unwrap()
                .version,
            "3.12.1:3.11"
        );
        // pyenv's own pip-rehash hook changes nothing; any other exec or version-name hook may.
        let hooks = f.root().join("pyenv.d/exec");
        std::fs::create_dir_all(&hooks).unwrap();
        std::fs::write(hooks.join("pip-rehash.bash"), "").unwrap();
        assert!(f.direct(&[("PYENV_VERSION", "3.12.1")]).is_some());
        // pyenv-virtualenv's `which` hooks act only on a command the version lacks.
        let which = f.root().join("plugins/pyenv-virtualenv/etc/pyenv.d/which");
        std::fs::create_dir_all(&which).unwrap();
        std::fs::write(which.join("system-site-packages.bash"), "").unwrap();
        assert!(f.direct(&[("PYENV_VERSION", "3.12.1")]).is_some());
        std::fs::write(which.join("redirect.bash"), "").unwrap();
        assert_eq!(f.direct(&[("PYENV_VERSION", "3.12.1")]), None);
        std::fs::remove_file(which.join("redirect.bash")).unwrap();
        let plugin = f
            .root()
            .join("plugins/pyenv-custom/etc/pyenv.d/version-name");
        std::fs::create_dir_all(&plugin).unwrap();
        std::fs::write(plugin.join("choose.bash"), "").unwrap();
        assert_eq!(f.direct(&[("PYENV_VERSION", "3.12.1")]), None);
        let extra = f.dir.path().join("hooks");
        std::fs::create_dir_all(extra.join("exec")).unwrap();
        std::fs::remove_dir_all(f.root().join("plugins")).unwrap();
        std::fs::write(extra.join("exec/wrap.bash"), "").unwrap();
        assert_eq!(
            f.direct(&[
                ("PYENV_VERSION", "3.12.1"),
                ("PYENV_HOOK_PATH", extra.to_str().unwrap())
            ]),
            None
        );
    }

    #[test]
    fn only_a_pyenv_shim_first_on_path_is_bypassed() {
        let f = Fake::new();
        // A python3 before the shim on PATH is the one that runs.
        let before = f.dir.path().join("bin");
        std::fs::create_dir_all(&before).unwrap();
        f.exe(&before.join("python3"), "#!/bin/sh\n");
        let path = std::env::join_paths([before, f.root().join("shims")]).unwrap();
        let env = |k: &str| (k == "PYENV_VERSION").then(|| OsString::from("3.12.1"));
        assert_eq!(look_up(&path, "python3", &f.project(), &env).direct, None);
        // Another script in a shims directory is not pyenv's.
        f.exe(
            &f.root().join("shims/python3"),
            "#!/bin/sh\nexec /usr/bin/python3 \"$@\"\n",
        );
        assert_eq!(f.direct(&[("PYENV_VERSION", "3.12.1")]), None);
    }
}
