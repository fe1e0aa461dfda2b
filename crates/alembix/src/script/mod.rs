//! Revision files: one `.sql` file per revision with a `-- Key: value` header and `-- migrate:up` /
//! `-- migrate:down` sections. This module parses, checksums, renders and loads them; it knows nothing of
//! the graph they form.

mod parse;
mod render;

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

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
    range: std::ops::Range<usize>,
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
    /// The file text with the BOM removed and line endings normalised to `\n`.
    text: String,
    up: Section,
    down: Option<Section>,
}

impl Script {
    /// The SQL under `-- migrate:up`.
    pub fn up_sql(&self) -> &str {
        &self.text[self.up.range.clone()]
    }

    /// The SQL under `-- migrate:down`, or `None` when the file has no down section.
    pub fn down_sql(&self) -> Option<&str> {
        self.down.as_ref().map(|s| &self.text[s.range.clone()])
    }

    pub fn up_section(&self) -> &Section {
        &self.up
    }

    pub fn down_section(&self) -> Option<&Section> {
        self.down.as_ref()
    }

    /// The normalised file text.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_merge(&self) -> bool {
        self.down_revisions.len() > 1
    }

    /// SHA-256 (hex) over the up and down bodies. Line endings, a BOM, trailing blanks on a line and blank
    /// lines around a body do not change it, so an editor's re-save is not an "edit"; the header (message,
    /// dates) is not covered, so fixing a typo in the message is not either.
    pub fn checksum(&self) -> String {
        let mut h = Sha256::new();
        hash_body(&mut h, self.up_sql());
        h.update(b"\x00migrate:down\x00");
        if let Some(down) = self.down_sql() {
            hash_body(&mut h, down);
        }
        format!("{:x}", h.finalize())
    }
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
pub const RESERVED_CHARS: &[char] = &['@', '-', '+', ':', ','];
/// Words that revision expressions reserve.
pub const RESERVED_WORDS: &[&str] = &["head", "heads", "base", "current"];

/// Check a revision id or branch label; the error says why it is not accepted.
pub fn validate_identifier(id: &str, what: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if let Some(c) = id
        .chars()
        .find(|c| RESERVED_CHARS.contains(c) || c.is_whitespace())
    {
        return Err(format!(
            "{what} `{id}` contains `{c}`; ids and labels may not contain `@ - + : ,` or whitespace"
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
pub fn load_dir(dir: &Path) -> Result<Vec<Script>, crate::Error> {
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
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| crate::Error::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') || !name.ends_with(".sql") {
            continue;
        }
        paths.push(entry.path());
    }
    paths.sort();
    let mut scripts = Vec::with_capacity(paths.len());
    for path in paths {
        let bytes = std::fs::read(&path).map_err(|e| crate::Error::io(&path, e))?;
        let text = String::from_utf8(bytes).map_err(|e| ScriptError {
            path: path.clone(),
            line: None,
            message: format!("not valid UTF-8 (byte {})", e.utf8_error().valid_up_to()),
        })?;
        scripts.push(parse(&path, text)?);
    }
    Ok(scripts)
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
}
