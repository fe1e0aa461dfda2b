//! Revision files: one `.sql` file per revision with a `-- Key: value` header and `-- migrate:up` /
//! `-- migrate:down` sections. This module parses, checksums, renders and loads them; it knows nothing of
//! the graph they form.

pub(crate) mod index;
pub mod lex;
mod parse;
mod render;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

use sha2::{Digest, Sha256};

use crate::url::Dialect;

pub use parse::parse;
pub use render::{file_name, render, slugify, validate_file_template, NewScript, DEFAULT_TEMPLATE};

/// A parse error in one file, with the line it concerns (1-based) when there is one.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ScriptError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

/// One section body (`up` or `down`) and the 1-based line of its first body line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub start_line: usize,
    pub(crate) range: std::ops::Range<usize>,
}

/// One `-- migrate:up` / `-- migrate:down` section: for every engine, or for the one its marker names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub up: bool,
    pub dialect: Option<Dialect>,
    pub section: Section,
}

/// A parsed revision file.
#[derive(Debug, Clone)]
pub struct Script {
    pub path: PathBuf,
    pub revision: String,
    /// Parents (`Revises`); empty for a root, several for a merge.
    pub down_revisions: Vec<String>,
    pub message: String,
    pub create_date: Option<String>,
    pub branch_labels: Vec<String>,
    pub depends_on: Vec<String>,
    /// `false` for statements that may not run in a transaction (`CREATE INDEX CONCURRENTLY`).
    pub transactional: bool,
    /// `-- Review: why`: the revision must be read by a person before it runs (an imported data migration
    /// whose effect could not be captured). Deleting the line marks it reviewed.
    pub review: Option<String>,
    /// `-- Squashes: a, b, …`: this revision (a baseline written by `alembix squash`) replaced these ones;
    /// databases they built are at this revision already, so its checksum is not compared with theirs.
    pub squashes: Vec<String>,
    /// The text and sections: set when the file was parsed, left for later when the header came from the
    /// header index (see [`index`]); [`Script::load_body`] reads it then.
    content: OnceLock<Content>,
    /// The checksums of the bodies, from the header index: until the body is read, they answer
    /// [`Script::checksum_for`] and [`Script::text_checksum`], so that checking applied revisions for
    /// edits reads no file whose stamp the index knows.
    sums: Option<Box<Sums>>,
}

/// A file's checksums as the header index keeps them (raw SHA-256 digests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sums {
    /// [`Script::checksum_for`] PostgreSQL, MySQL and SQLite, in that order.
    pub by_dialect: [[u8; 32]; 3],
    /// [`Script::text_checksum`].
    pub text: [u8; 32],
}

fn dialect_slot(d: Dialect) -> usize {
    match d {
        Dialect::Postgres => 0,
        Dialect::Mysql => 1,
        Dialect::Sqlite => 2,
    }
}

/// Lower-case hex, as `format!("{:x}", digest)` prints it (an upgrade formats every applied revision's).
fn hex(digest: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// What a revision file holds beyond its header.
#[derive(Debug, Clone)]
struct Content {
    /// The file text with the BOM removed and line endings normalised to `\n`.
    text: String,
    /// Sections in file order; at least one is an up section.
    bodies: Vec<Body>,
}

/// The header fields of a [`Script`]: what the revision graph needs, and what the header index keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub revision: String,
    pub down_revisions: Vec<String>,
    pub message: String,
    pub create_date: Option<String>,
    pub branch_labels: Vec<String>,
    pub depends_on: Vec<String>,
    pub transactional: bool,
    pub review: Option<String>,
    pub squashes: Vec<String>,
}

impl Script {
    /// A script whose header is known (from the header index) and whose body is read on first use.
    pub(crate) fn from_header(path: PathBuf, h: Header, sums: Sums) -> Script {
        Script {
            path,
            revision: h.revision,
            down_revisions: h.down_revisions,
            message: h.message,
            create_date: h.create_date,
            branch_labels: h.branch_labels,
            depends_on: h.depends_on,
            transactional: h.transactional,
            review: h.review,
            squashes: h.squashes,
            content: OnceLock::new(),
            sums: Some(Box::new(sums)),
        }
    }

    /// Whether the body has been read (tests of what a command reads).
    #[cfg(test)]
    pub(crate) fn body_read(&self) -> bool {
        self.content.get().is_some()
    }

    /// The checksums for the header index: computed from the body when it was read, else the index's.
    pub(crate) fn sums(&self) -> Option<Sums> {
        if self.content.get().is_none() {
            return self.sums.as_deref().cloned();
        }
        Some(Sums {
            by_dialect: [Dialect::Postgres, Dialect::Mysql, Dialect::Sqlite]
                .map(|d| self.digest_for(d)),
            text: self.text_digest(),
        })
    }

    pub(crate) fn header(&self) -> Header {
        Header {
            revision: self.revision.clone(),
            down_revisions: self.down_revisions.clone(),
            message: self.message.clone(),
            create_date: self.create_date.clone(),
            branch_labels: self.branch_labels.clone(),
            depends_on: self.depends_on.clone(),
            transactional: self.transactional,
            review: self.review.clone(),
            squashes: self.squashes.clone(),
        }
    }

    /// Read and parse the file for its body, when only the header is known (a no-op otherwise). Fails when
    /// the file cannot be read or parsed, or no longer has the header the graph was built from (it was
    /// edited while this run was going on).
    pub fn load_body(&self) -> Result<(), crate::Error> {
        if self.content.get().is_some() {
            return Ok(());
        }
        let parsed = load_file(self.path.clone(), &mut Vec::new())?;
        if parsed.header() != self.header() {
            return Err(ScriptError {
                path: self.path.clone(),
                line: None,
                message: "the file changed while alembix was reading it; run the command again"
                    .into(),
            }
            .into());
        }
        if let Some(content) = parsed.content.into_inner() {
            // Another thread may have set it meanwhile, from the same file: either is right.
            let _ = self.content.set(content);
        }
        Ok(())
    }

    fn content(&self) -> &Content {
        // Body accessors are infallible; a script from the header index has its body read here on first use
        // unless the caller read it with `load_body` (which reports a failure as an error) — the commands
        // that use bodies load full graphs, so this is only a backstop.
        self.content
            .get_or_init(|| match load_file(self.path.clone(), &mut Vec::new()) {
                Ok(parsed) if parsed.header() == self.header() => parsed
                    .content
                    .into_inner()
                    .unwrap_or_else(|| unreachable!("a parsed script has its content")),
                Ok(_) => panic!(
                    "{} changed while alembix was reading it",
                    self.path.display()
                ),
                Err(e) => panic!("reading the body of {}: {e}", self.path.display()),
            })
    }

    fn find(&self, up: bool, dialect: Option<Dialect>) -> Option<&Body> {
        self.content()
            .bodies
            .iter()
            .find(|b| b.up == up && b.dialect == dialect)
    }

    fn sql_of(&self, body: &Body) -> &str {
        &self.content().text[body.section.range.clone()]
    }

    /// The up SQL that `dialect` runs: its own section, else the section for every engine.
    pub fn up_for(&self, dialect: Dialect) -> Option<(&str, &Section)> {
        self.find(true, Some(dialect))
            .or_else(|| self.find(true, None))
            .map(|b| (self.sql_of(b), &b.section))
    }

    /// The down SQL that `dialect` runs, chosen like [`Script::up_for`].
    pub fn down_for(&self, dialect: Dialect) -> Option<(&str, &Section)> {
        // A dialect with its own up section and no down of its own has no down: the shared down was
        // written for the shared up.
        let own_up = self.find(true, Some(dialect)).is_some();
        self.find(false, Some(dialect))
            .or_else(|| if own_up { None } else { self.find(false, None) })
            .map(|b| (self.sql_of(b), &b.section))
    }

    /// The SQL under `-- migrate:up` (the section for every engine; empty when the file only has
    /// per-dialect sections).
    pub fn up_sql(&self) -> &str {
        self.find(true, None).map_or("", |b| self.sql_of(b))
    }

    /// The SQL under `-- migrate:down`, or `None` when the file has no such section.
    pub fn down_sql(&self) -> Option<&str> {
        self.find(false, None).map(|b| self.sql_of(b))
    }

    /// Every section, in file order, with its SQL.
    pub fn bodies(&self) -> impl Iterator<Item = (&Body, &str)> {
        self.content().bodies.iter().map(|b| (b, self.sql_of(b)))
    }

    /// Whether the file has a section for every engine or one for `dialect`.
    pub fn runs_on(&self, dialect: Dialect) -> bool {
        self.up_for(dialect).is_some()
    }

    /// The dialects that have sections of their own.
    pub fn dialects(&self) -> Vec<Dialect> {
        let mut out: Vec<Dialect> = Vec::new();
        for d in self.content().bodies.iter().filter_map(|b| b.dialect) {
            if !out.contains(&d) {
                out.push(d);
            }
        }
        out
    }

    /// The normalised file text.
    pub fn text(&self) -> &str {
        &self.content().text
    }

    pub fn is_merge(&self) -> bool {
        self.down_revisions.len() > 1
    }

    /// SHA-256 (hex) over the up and down bodies that `dialect` runs. Line endings, a BOM, trailing blanks
    /// on a line and blank lines around a body do not change it, so an editor's re-save is not an "edit";
    /// the header (message, dates) is not covered, so fixing a typo in the message is not either; nor are
    /// the sections of other engines, so adding a MySQL body to a file applied on PostgreSQL is not.
    ///
    /// Read from the header index when the body has not been read (see [`Script::checksum_checked`]).
    pub fn checksum_for(&self, dialect: Dialect) -> String {
        match (self.content.get(), &self.sums) {
            (None, Some(sums)) => hex(&sums.by_dialect[dialect_slot(dialect)]),
            _ => hex(&self.digest_for(dialect)),
        }
    }

    /// [`Script::checksum_for`], reading the body first when the index does not know the checksums, so
    /// that a file that cannot be read or changed meanwhile is an error here.
    pub fn checksum_checked(&self, dialect: Dialect) -> Result<String, crate::Error> {
        if self.sums.is_none() {
            self.load_body()?;
        }
        Ok(self.checksum_for(dialect))
    }

    fn digest_for(&self, dialect: Dialect) -> [u8; 32] {
        let up = self.up_for(dialect).map_or("", |(sql, _)| sql);
        let down = self.down_for(dialect).map(|(sql, _)| sql);
        checksum_of(up, down)
    }

    /// SHA-256 of every section of the file, whatever its engine (for caches keyed by the files).
    pub fn text_checksum(&self) -> String {
        match (self.content.get(), &self.sums) {
            (None, Some(sums)) => hex(&sums.text),
            _ => hex(&self.text_digest()),
        }
    }

    fn text_digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        for (b, sql) in self.bodies() {
            h.update(format!("\x00{}{:?}\x00", b.up, b.dialect).as_bytes());
            hash_body(&mut h, sql);
        }
        h.finalize().into()
    }

    /// [`Script::checksum_for`] of the sections for every engine.
    pub fn checksum(&self) -> String {
        hex(&checksum_of(self.up_sql(), self.down_sql()))
    }
}

fn checksum_of(up: &str, down: Option<&str>) -> [u8; 32] {
    let mut h = Sha256::new();
    hash_body(&mut h, up);
    h.update(b"\x00migrate:down\x00");
    if let Some(down) = down {
        hash_body(&mut h, down);
    }
    h.finalize().into()
}

fn hash_body(h: &mut Sha256, body: &str) {
    let mut pending_blank = 0usize;
    let mut started = false;
    for line in body.split('\n') {
        let line = line.trim_end();
        if line.is_empty() {
            pending_blank += 1;
            continue;
        }
        if started {
            for _ in 0..pending_blank {
                h.update(b"\n");
            }
            h.update(b"\n");
        }
        pending_blank = 0;
        started = true;
        h.update(line.as_bytes());
    }
}

/// Characters that may not appear in a revision id or branch label, because revision expressions use them.
pub const RESERVED_CHARS: &[char] = &['@', '-', '+', ':', ',', '/', '\\'];
/// Words that revision expressions reserve.
pub const RESERVED_WORDS: &[&str] = &["head", "heads", "base", "current"];

/// Check a revision id or branch label; the error says why it is not accepted.
///
/// ```
/// use alembix::script::validate_identifier;
///
/// assert!(validate_identifier("5c1e2d3f4a6b", "revision id").is_ok());
/// assert!(validate_identifier("head", "revision id").is_err()); // reserved by revision expressions
/// assert!(validate_identifier("a-b", "revision id").is_err()); // `-` is a relative step
/// ```
pub fn validate_identifier(id: &str, what: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if let Some(c) = id
        .chars()
        .find(|c| RESERVED_CHARS.contains(c) || c.is_whitespace())
    {
        return Err(format!(
            "{what} `{id}` contains `{c}`; ids and labels may not contain `@ - + : , / \\` or whitespace"
        ));
    }
    if RESERVED_WORDS.contains(&id.to_ascii_lowercase().as_str()) {
        return Err(format!(
            "{what} `{id}` is a reserved word (head, heads, base, current)"
        ));
    }
    Ok(())
}

/// A new random revision id: 12 lowercase hex characters.
pub fn new_revision_id() -> String {
    let mut bytes = [0u8; 6];
    // getrandom only fails when the OS has no entropy source at all; fall back to the clock then.
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        bytes.copy_from_slice(&nanos.to_le_bytes()[..6]);
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Read and parse every `*.sql` file in `dir` (not recursive), in file-name order.
///
/// The files are read and parsed on up to [`MAX_LOAD_THREADS`] threads; the result is the same as a
/// sequential pass: the scripts in file-name order, or the error of the first failing file in that order.
pub fn load_dir(dir: &Path) -> Result<Vec<Script>, crate::Error> {
    let paths: Vec<PathBuf> = list_dir(dir, false)?.into_iter().map(|f| f.path).collect();
    load_paths(paths)
}

/// [`load_dir`] for commands that need only the headers (the graph): files whose stamp matches the header
/// index in the cache directory are not read; their bodies are read when asked for
/// ([`Script::load_body`]). The index is brought up to date when it was stale. Without a cache directory
/// (`ALEMBIX_NO_CACHE=1`) this is [`load_dir`].
pub fn load_dir_headers(dir: &Path) -> Result<Vec<Script>, crate::Error> {
    let Some(cache) = index::cache_dir() else {
        return load_dir(dir);
    };
    // Taken before the files are stamped: a file changed after this is stamped with a later time.
    let now = std::time::SystemTime::now();
    load_dir_indexed(dir, &index::path_for(&cache, dir), now)
}

/// [`load_dir_headers`] with the index file `index_path`, trusting stamps as of `now`.
pub(crate) fn load_dir_indexed(
    dir: &Path,
    index_path: &Path,
    now: std::time::SystemTime,
) -> Result<Vec<Script>, crate::Error> {
    // A large index (thousands of revisions) is read and decoded on another core while this one lists the
    // directory; a small one is not worth a thread.
    let (listed, indexed) = match index::open(index_path) {
        Some(file) if file.len >= OVERLAP_INDEX_BYTES => std::thread::scope(|s| {
            let reader = s.spawn(move || file.read());
            let listed = list_dir(dir, true);
            (listed, reader.join().ok().flatten())
        }),
        file => (list_dir(dir, true), file.and_then(index::Opened::read)),
    };
    let listed = listed?;
    let indexed = indexed.unwrap_or_default();
    let indexed_len = indexed.len();
    // Both are sorted by name: walk them together, taking each matching entry's header.
    let mut indexed = indexed.into_iter().peekable();
    // Each listed file: its script from the index, or `None` for a file to parse.
    let mut slots: Vec<Option<Script>> = Vec::with_capacity(listed.len());
    let mut to_parse = Vec::new();
    let mut hits = 0usize;
    // Kept for the index: each file's stamp and where its name starts in its path.
    let mut keys: Vec<(Option<index::Stamp>, usize)> = Vec::with_capacity(listed.len());
    for f in listed {
        let name = f.name();
        while indexed.next_if(|e| e.name.as_str() < name).is_some() {}
        let hit = indexed
            .next_if(|e| e.name == name)
            .filter(|e| f.stamp.is_some_and(|st| st == e.stamp));
        keys.push((f.stamp, f.name_at));
        match hit {
            Some(e) => {
                hits += 1;
                slots.push(Some(Script::from_header(f.path, e.header, e.sums)));
            }
            None => {
                to_parse.push(f.path);
                slots.push(None);
            }
        }
    }
    let mut parsed = load_paths(to_parse)?.into_iter();
    let scripts: Vec<Script> = slots
        .into_iter()
        .map(|slot| slot.or_else(|| parsed.next()))
        .collect::<Option<_>>()
        .unwrap_or_else(|| unreachable!("one parsed script per file not in the index"));
    // Rewrite the index when it would hold something it does not: a trusted stamp it lacks, or fewer
    // entries than it has (files removed or changed).
    let stale = hits != indexed_len
        || keys.iter().zip(&scripts).any(|((stamp, _), s)| {
            s.content.get().is_some() && stamp.is_some_and(|st| index::trusted(&st, now))
        });
    if stale {
        let entries: Vec<index::Entry> = keys
            .iter()
            .zip(&scripts)
            .filter_map(|(&(stamp, name_at), s)| {
                Some(index::Entry {
                    name: file_name_at(&s.path, name_at).to_string(),
                    stamp: stamp?,
                    header: s.header(),
                    sums: s.sums()?,
                })
            })
            .collect();
        index::write(index_path, &entries, now);
    }
    Ok(scripts)
}

/// Index files from this size on (about a thousand revisions) are read on a thread of their own.
const OVERLAP_INDEX_BYTES: u64 = 256 * 1024;

/// A revision file found in the migrations directory.
struct Listed {
    path: PathBuf,
    /// Where the file name starts in `path`.
    name_at: usize,
    /// Set when asked for and the file could be stamped (a symbolic link is stamped by its target).
    stamp: Option<index::Stamp>,
}

impl Listed {
    fn name_bytes(&self) -> &[u8] {
        &self.path.as_os_str().as_encoded_bytes()[self.name_at..]
    }

    fn name(&self) -> &str {
        file_name_at(&self.path, self.name_at)
    }
}

/// The file name that starts at byte `at` of `path` (`list_dir` keeps only names that are UTF-8).
fn file_name_at(path: &Path, at: usize) -> &str {
    std::str::from_utf8(&path.as_os_str().as_encoded_bytes()[at..]).unwrap_or("")
}

/// The `*.sql` files of `dir` (not hidden ones), sorted by name, with their stamps if `stamps` is set.
fn list_dir(dir: &Path, stamps: bool) -> Result<Vec<Listed>, crate::Error> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            crate::Error::Usage(format!(
                "migrations directory {} does not exist; run `alembix init` to create a project, \
                 or set `migrations` in alembix.toml",
                dir.display()
            ))
        } else {
            crate::Error::io(dir, e)
        }
    })?;
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| crate::Error::io(dir, e))?;
        // `entry.path()` is `dir.join(name)` in one allocation (`file_name()` would be another).
        let path = entry.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with('.') || !name.ends_with(".sql") {
            continue;
        }
        let name_at = path.as_os_str().len() - name.len();
        found.push((entry, path, name_at));
    }
    // The entry's own metadata is a stat relative to the open directory; a link needs its target's.
    let stamp = |entry: &std::fs::DirEntry, path: &Path| {
        let meta = match entry.file_type() {
            Ok(t) if t.is_symlink() => std::fs::metadata(path),
            _ => entry.metadata(),
        };
        meta.ok().as_ref().and_then(index::Stamp::of)
    };
    let mut stamped: Vec<Option<index::Stamp>> = vec![None; found.len()];
    if stamps {
        // One stat per file is most of a read command's time on thousands of revisions, and all of it in
        // the kernel: split it between the cores.
        let threads = threads_for(found.len().div_ceil(STAT_BATCH));
        let chunk = found.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let mut parts = found.chunks(chunk).zip(stamped.chunks_mut(chunk));
            let first = parts.next();
            for (files, out) in parts {
                s.spawn(move || {
                    for ((entry, path, _), slot) in files.iter().zip(out) {
                        *slot = stamp(entry, path);
                    }
                });
            }
            if let Some((files, out)) = first {
                for ((entry, path, _), slot) in files.iter().zip(out) {
                    *slot = stamp(entry, path);
                }
            }
        });
    }
    let mut listed: Vec<Listed> = found
        .into_iter()
        .zip(stamped)
        .map(|((_, path, name_at), stamp)| Listed {
            path,
            name_at,
            stamp,
        })
        .collect();
    // Comparing the names as strings is much cheaper than comparing paths component by component.
    listed.sort_unstable_by(|a, b| a.name_bytes().cmp(b.name_bytes()));
    Ok(listed)
}

/// Files per thread below which stamping them on another thread does not pay for the thread.
const STAT_BATCH: usize = 2000;

/// How many threads to split `batches` batches of work between: at most one per batch, per core, and
/// [`MAX_LOAD_THREADS`]. The cores are asked only when there are batches to split, since asking reads
/// cgroup files (a tenth of a millisecond, on every read command).
fn threads_for(batches: usize) -> usize {
    if batches <= 1 {
        return 1;
    }
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_LOAD_THREADS)
        .min(batches)
}

/// Read and parse `paths` (in this order) on up to [`MAX_LOAD_THREADS`] threads.
fn load_paths(paths: Vec<PathBuf>) -> Result<Vec<Script>, crate::Error> {
    let threads = threads_for(paths.len().div_ceil(LOAD_BATCH));
    if threads == 1 {
        let mut buf = Vec::new();
        return paths
            .into_iter()
            .map(|path| load_file(path, &mut buf))
            .collect();
    }

    // Workers claim batches of consecutive files in order. A worker that fails records the failing
    // file's index; batches past the lowest failing index are not started, and every batch before it
    // has been claimed (claims go in order) and is finished, so the lowest failing index is exactly the
    // first error of a sequential pass.
    let total = paths.len();
    // Each batch's paths, moved out by the worker that claims it.
    let mut rest = paths.into_iter();
    let todo: Vec<Mutex<Vec<PathBuf>>> = (0..total.div_ceil(LOAD_BATCH))
        .map(|_| Mutex::new(rest.by_ref().take(LOAD_BATCH).collect()))
        .collect();
    let next_batch = AtomicUsize::new(0);
    let first_error = AtomicUsize::new(usize::MAX);
    let work = || {
        let mut buf = Vec::new();
        let mut done: Vec<(usize, Vec<Script>)> = Vec::new();
        let mut failed: Option<(usize, crate::Error)> = None;
        loop {
            let batch = next_batch.fetch_add(1, Ordering::Relaxed);
            let start = batch * LOAD_BATCH;
            if batch >= todo.len() || start > first_error.load(Ordering::Relaxed) {
                break;
            }
            let paths =
                std::mem::take(&mut *todo[batch].lock().unwrap_or_else(PoisonError::into_inner));
            let mut scripts = Vec::with_capacity(paths.len());
            for (i, path) in paths.into_iter().enumerate() {
                match load_file(path, &mut buf) {
                    Ok(script) => scripts.push(script),
                    Err(e) => {
                        first_error.fetch_min(start + i, Ordering::Relaxed);
                        failed = Some((start + i, e));
                        break;
                    }
                }
            }
            if failed.is_some() {
                break;
            }
            done.push((batch, scripts));
        }
        (done, failed)
    };
    let results: Vec<_> = std::thread::scope(|s| {
        let helpers: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let mut results = vec![work()];
        for helper in helpers {
            match helper.join() {
                Ok(r) => results.push(r),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        results
    });

    let mut batches = Vec::new();
    let mut error: Option<(usize, crate::Error)> = None;
    for (done, failed) in results {
        batches.extend(done);
        if let Some((i, e)) = failed {
            if error.as_ref().is_none_or(|(j, _)| i < *j) {
                error = Some((i, e));
            }
        }
    }
    if let Some((_, e)) = error {
        return Err(e);
    }
    batches.sort_unstable_by_key(|(batch, _)| *batch);
    let mut scripts = Vec::with_capacity(total);
    for (_, batch) in batches {
        scripts.extend(batch);
    }
    debug_assert_eq!(scripts.len(), total);
    Ok(scripts)
}

/// At most this many threads read and parse a migrations directory.
const MAX_LOAD_THREADS: usize = 8;
/// Files per unit of work handed to a loading thread (also: fewer files than this use one thread).
const LOAD_BATCH: usize = 64;

/// Read and parse one file, using `buf` as the read buffer. The file is read with plain `read` calls
/// until end of file (no size probe first: `std::fs::read` asks for the size with an extra `statx`).
fn load_file(path: PathBuf, buf: &mut Vec<u8>) -> Result<Script, crate::Error> {
    let io_err = |e| crate::Error::io(&path, e);
    let mut file = File::open(&path).map_err(io_err)?;
    if buf.is_empty() {
        buf.resize(16 * 1024, 0);
    }
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_err(e)),
        }
    }
    drop(file);
    let text = match std::str::from_utf8(&buf[..len]) {
        Ok(text) => text.to_owned(),
        Err(e) => {
            return Err(ScriptError {
                path,
                line: None,
                message: format!("not valid UTF-8 (byte {})", e.valid_up_to()),
            }
            .into())
        }
    };
    Ok(parse::parse_owned(path, text)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        assert!(validate_identifier("5c1e2d3f4a6b", "revision id").is_ok());
        assert!(validate_identifier("0001_init", "revision id").is_ok());
        for bad in ["", "a-b", "a b", "a@b", "x:y", "a,b", "+1", "head", "BASE"] {
            assert!(validate_identifier(bad, "revision id").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn new_ids_are_12_hex_and_differ() {
        let a = new_revision_id();
        let b = new_revision_id();
        assert_eq!(a.len(), 12);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }

    fn write_revisions(dir: &Path, n: usize) {
        // Created in reverse order, so directory order is unlikely to be name order.
        for i in (0..n).rev() {
            let parent = if i == 0 {
                String::new()
            } else {
                format!("r{:04}", i - 1)
            };
            let text = format!(
                "-- step {i}\n-- Revision ID: r{i:04}\n-- Revises: {parent}\n\n-- migrate:up\n\
                 CREATE TABLE t{i} (a int);\n\n-- MIGRATE:DOWN\nDROP TABLE t{i};\n"
            );
            std::fs::write(dir.join(format!("r{i:04}_step.sql")), text).unwrap();
        }
    }

    #[test]
    fn load_dir_reads_in_name_order_and_skips_other_files() {
        let tmp = tempfile::tempdir().unwrap();
        let n = 3 * LOAD_BATCH + 7;
        write_revisions(tmp.path(), n);
        std::fs::write(tmp.path().join(".hidden.sql"), "junk").unwrap();
        std::fs::write(tmp.path().join("notes.txt"), "junk").unwrap();
        let scripts = load_dir(tmp.path()).unwrap();
        assert_eq!(scripts.len(), n);
        for (i, s) in scripts.iter().enumerate() {
            assert_eq!(s.revision, format!("r{i:04}"));
            assert_eq!(s.path, tmp.path().join(format!("r{i:04}_step.sql")));
            assert_eq!(s.up_sql(), format!("CREATE TABLE t{i} (a int);\n\n"));
            assert_eq!(s.down_sql(), Some(format!("DROP TABLE t{i};\n").as_str()));
        }
        // A file larger than the initial read buffer.
        let big = format!(
            "-- big\n-- Revision ID: zz\n-- migrate:up\n{}",
            "SELECT 1;\n".repeat(5000)
        );
        std::fs::write(tmp.path().join("zz_big.sql"), &big).unwrap();
        let scripts = load_dir(tmp.path()).unwrap();
        assert_eq!(scripts.len(), n + 1);
        assert_eq!(scripts[n].text(), big);
    }

    #[test]
    fn load_dir_reports_the_first_bad_file_in_name_order() {
        let tmp = tempfile::tempdir().unwrap();
        write_revisions(tmp.path(), 4 * LOAD_BATCH);
        let bad = |i: usize| tmp.path().join(format!("r{i:04}_step.sql"));
        std::fs::write(
            bad(3 * LOAD_BATCH + 5),
            "-- x\n-- Revision ID: q\nSELECT 1;\n",
        )
        .unwrap();
        std::fs::write(bad(LOAD_BATCH + 1), b"-- x\n\xff\n").unwrap();
        std::fs::write(bad(2 * LOAD_BATCH), "-- x\n-- Revision ID: q\nSELECT 1;\n").unwrap();
        for _ in 0..20 {
            match load_dir(tmp.path()).unwrap_err() {
                crate::Error::Script(e) => {
                    assert_eq!(e.path, bad(LOAD_BATCH + 1));
                    assert_eq!(e.line, None);
                    assert_eq!(e.message, "not valid UTF-8 (byte 5)");
                }
                other => panic!("{other}"),
            }
        }
        std::fs::write(
            bad(LOAD_BATCH + 1),
            "-- x\n-- Revision ID: q\n-- migrate:up\n",
        )
        .unwrap();
        match load_dir(tmp.path()).unwrap_err() {
            crate::Error::Script(e) => {
                assert_eq!((e.path, e.line), (bad(2 * LOAD_BATCH), Some(3)));
            }
            other => panic!("{other}"),
        }
    }

    /// What a script is, header and bodies, for comparing two loads.
    fn summary(s: &Script) -> (PathBuf, Header, String, Option<String>) {
        (
            s.path.clone(),
            s.header(),
            s.up_sql().to_string(),
            s.down_sql().map(str::to_string),
        )
    }

    #[test]
    fn header_index_gives_the_same_scripts_and_follows_edits() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("m");
        std::fs::create_dir(&dir).unwrap();
        let index = tmp.path().join("cache/revisions.idx");
        write_revisions(&dir, 2 * LOAD_BATCH + 3);
        // Stamps are trusted only some seconds after the change: pretend that much time has passed.
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        let full: Vec<_> = load_dir(&dir).unwrap().iter().map(summary).collect();

        let first = load_dir_indexed(&dir, &index, later).unwrap();
        assert!(first.iter().all(|s| s.content.get().is_some()));
        assert_eq!(first.iter().map(summary).collect::<Vec<_>>(), full);
        assert_eq!(index::read(&index).unwrap().len(), full.len());

        let second = load_dir_indexed(&dir, &index, later).unwrap();
        assert!(
            second.iter().all(|s| s.content.get().is_none()),
            "all from the index"
        );
        // The checksums come from the index too, without reading the bodies.
        for (a, b) in first.iter().zip(&second) {
            for d in [Dialect::Postgres, Dialect::Mysql, Dialect::Sqlite] {
                assert_eq!(a.checksum_for(d), b.checksum_for(d));
            }
            assert_eq!(a.text_checksum(), b.text_checksum());
        }
        assert!(second.iter().all(|s| s.content.get().is_none()));
        second[3].load_body().unwrap();
        assert!(second[3].content.get().is_some());
        // Bodies are read on first use.
        assert_eq!(second.iter().map(summary).collect::<Vec<_>>(), full);

        // A same-size edit of the header: the new parent is as long as the old one. The file's times are
        // moved so that the edit cannot share them with the indexed version, whatever the clock's tick.
        let edited = dir.join("r0005_step.sql");
        let text = std::fs::read_to_string(&edited).unwrap();
        std::fs::write(&edited, text.replace("Revises: r0004", "Revises: r0003")).unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&edited)
            .unwrap()
            .set_modified(old)
            .unwrap();
        // One file removed, one added.
        std::fs::remove_file(dir.join("r0009_step.sql")).unwrap();
        std::fs::write(
            dir.join("zz_new.sql"),
            "-- new\n-- Revision ID: zz\n-- Revises: r0010\n-- migrate:up\nSELECT 1;\n",
        )
        .unwrap();
        let third = load_dir_indexed(&dir, &index, later).unwrap();
        assert_eq!(third[5].down_revisions, vec!["r0003".to_string()]);
        assert!(
            third[5].content.get().is_some(),
            "the edited file was parsed"
        );
        assert!(third[4].content.get().is_none(), "the others were not");
        let full: Vec<_> = load_dir(&dir).unwrap().iter().map(summary).collect();
        assert_eq!(third.iter().map(summary).collect::<Vec<_>>(), full);
        let names: Vec<String> = index::read(&index)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names.len(), full.len());
        assert!(!names.contains(&"r0009_step.sql".to_string()));
        assert!(names.contains(&"zz_new.sql".to_string()));

        // A damaged index is no index.
        let mut bytes = std::fs::read(&index).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        std::fs::write(&index, &bytes).unwrap();
        let fourth = load_dir_indexed(&dir, &index, later).unwrap();
        assert!(fourth.iter().all(|s| s.content.get().is_some()));
        assert_eq!(fourth.iter().map(summary).collect::<Vec<_>>(), full);
    }

    #[test]
    fn hex_is_sha2s_lower_hex() {
        let d = Sha256::digest(b"alembix");
        let raw: [u8; 32] = d.into();
        assert_eq!(hex(&raw), format!("{d:x}"));
    }

    #[test]
    fn header_index_skips_files_changed_just_now() {
        let tmp = tempfile::tempdir().unwrap();
        write_revisions(tmp.path(), 3);
        let index = tmp.path().join("revisions.idx");
        let now = std::time::SystemTime::now();
        let scripts = load_dir_indexed(tmp.path(), &index, now).unwrap();
        assert_eq!(scripts.len(), 3);
        // Just written: their times could be shared by an edit made in the same tick, so not indexed.
        assert!(index::read(&index).is_none_or(|e| e.is_empty()));
        let again = load_dir_indexed(tmp.path(), &index, now).unwrap();
        assert!(again.iter().all(|s| s.content.get().is_some()));
    }

    #[test]
    fn load_body_notices_a_file_changed_since_its_header_was_read() {
        let tmp = tempfile::tempdir().unwrap();
        write_revisions(tmp.path(), 2);
        let index = tmp.path().join("c/revisions.idx");
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(60);
        load_dir_indexed(tmp.path(), &index, later).unwrap();
        let scripts = load_dir_indexed(tmp.path(), &index, later).unwrap();
        let path = tmp.path().join("r0001_step.sql");
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace("Revises: r0000", "Revises: ")).unwrap();
        let e = scripts[1].load_body().unwrap_err();
        assert!(
            e.to_string()
                .contains("changed while alembix was reading it"),
            "{e}"
        );
        std::fs::remove_file(&path).unwrap();
        assert!(scripts[1].load_body().is_err());
    }

    #[test]
    fn load_dir_of_a_missing_or_empty_directory() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(load_dir(tmp.path()).unwrap().is_empty());
        assert!(matches!(
            load_dir(&tmp.path().join("nope")),
            Err(crate::Error::Usage(_))
        ));
    }
}
