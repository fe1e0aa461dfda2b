//! The project's own Python: finding its interpreter and running the helpers alembix carries (the SQLAlchemy
//! models printer, the Alembic importer) in it, so nothing has to be copied into the project.

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
            words: vec![if cfg!(windows) { "python" } else { "python3" }.into()],
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

    fn command(&self, helper: Helper, args: &[String], cwd: &Path) -> Result<Command> {
        let script = materialise(helper)?;
        let mut cmd = Command::new(&self.words[0]);
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
