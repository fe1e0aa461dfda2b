//! The header index: the parsed headers of a migrations directory, kept between runs in the cache directory
//! and keyed by each file's name, size, modification and change times (nanoseconds), inode and device. A
//! command that needs only the graph then stats the revision files and reads one index file instead of
//! reading and parsing every revision; a file whose key differs is parsed again, as are files changed too
//! recently to trust their times (see [`TRUST_AFTER`]). Each entry also keeps the file's checksums, so that
//! checking the applied revisions for edits (every `upgrade`, also when there is nothing to do) reads no
//! file the index knows.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::{Header, Sums};

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    ino: u64,
    dev: u64,
}

impl Stamp {
    #[cfg(unix)]
    pub(crate) fn of(meta: &std::fs::Metadata) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        meta.is_file().then(|| Stamp {
            size: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            ino: meta.ino(),
            dev: meta.dev(),
        })
    }

    /// Without inode numbers and change times a stamp cannot tell a replaced file from the old one: no index.
    #[cfg(not(unix))]
    pub(crate) fn of(_meta: &std::fs::Metadata) -> Option<Stamp> {
        None
    }

    /// Whether the file's times are old enough, at `now`, that a later change must give it other times.
    ///
    /// File times come from a coarse clock (a few milliseconds on Linux, 1 or 2 seconds on some file systems),
    /// so a same-size edit made in the same tick as the version we read would keep every field of the stamp;
    /// a file changed within [`TRUST_AFTER`] of the moment it was stamped is therefore parsed on every run
    /// until it is older. The change time counts, not only the modification time: tools may set the latter
    /// back (`touch -d`, `cp -p`, `tar x`), and nothing sets the former back except a clock.
    fn trusted_at(&self, now: SystemTime) -> bool {
        let Ok(now) = now.duration_since(SystemTime::UNIX_EPOCH) else {
            return false;
        };
        let Some(limit) = now.checked_sub(TRUST_AFTER) else {
            return false;
        };
        let before = |(s, ns): (i64, i64)| {
            u64::try_from(s)
                .is_ok_and(|s| Duration::new(s, ns.clamp(0, 999_999_999) as u32) < limit)
        };
        before(self.mtime) && before(self.ctime)
    }
}

/// How long after its last change a file's stamp is trusted.
const TRUST_AFTER: Duration = Duration::from_secs(3);

/// One indexed file: its name in the directory, its stamp when it was parsed, its header and checksums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub name: String,
    pub stamp: Stamp,
    pub header: Header,
    pub sums: Sums,
}

/// The index file of the migrations directory `dir` in `cache_dir`: one per directory (by absolute path).
pub(crate) fn path_for(cache_dir: &Path, dir: &Path) -> PathBuf {
    use sha2::{Digest, Sha256};
    let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let digest = Sha256::digest(abs.as_os_str().as_encoded_bytes());
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    cache_dir.join(format!("revisions-{hex}.idx"))
}

/// The cache directory (`ALEMBIX_CACHE_DIR`, else `$XDG_CACHE_HOME/alembix`, else `~/.cache/alembix`), or
/// `None` when `ALEMBIX_NO_CACHE` is set: the same rules as the schema cache of autogenerate.
pub(crate) fn cache_dir() -> Option<PathBuf> {
    if std::env::var("ALEMBIX_NO_CACHE").is_ok_and(|v| !v.is_empty() && v != "0") {
        return None;
    }
    std::env::var_os("ALEMBIX_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("alembix")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/alembix")))
}

/// Changing what a header holds, or how a file is parsed, must change this: an index written by another
/// version of the parser is ignored.
const FORMAT: &[u8] = b"alembix-revision-index-2\0";

/// The entries of an index file, sorted by name; `None` when it is missing, from another version, or damaged.
#[cfg(test)]
pub(crate) fn read(path: &Path) -> Option<Vec<Entry>> {
    open(path)?.read()
}

/// An index file opened, with its size, so that a caller can tell whether reading it on another thread pays.
pub(crate) struct Opened {
    file: std::fs::File,
    pub len: u64,
}

/// The index file at `path`, opened; `None` when it is missing or unreadable.
pub(crate) fn open(path: &Path) -> Option<Opened> {
    let file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    Some(Opened { file, len })
}

impl Opened {
    /// The entries, sorted by name; `None` when the file is from another version or damaged.
    pub(crate) fn read(mut self) -> Option<Vec<Entry>> {
        use std::io::Read;
        let mut bytes = Vec::with_capacity(usize::try_from(self.len).ok()?.saturating_add(1));
        self.file.read_to_end(&mut bytes).ok()?;
        decode(&bytes)
    }
}

/// Write the index (best effort: a cache that cannot be written is no cache). Entries whose stamps are
/// too recent to trust at `now` are left out.
pub(crate) fn write(path: &Path, entries: &[Entry], now: SystemTime) {
    let kept: Vec<&Entry> = entries.iter().filter(|e| e.stamp.trusted_at(now)).collect();
    if crate::autogen::write_atomic(path, &encode(&kept)).is_ok() {
        if let Some(dir) = path.parent() {
            prune(dir);
        }
    }
}

/// Keep the indexes of the most recently used directories only (one file per directory ever seen).
fn prune(dir: &Path) {
    prune_cache_files(dir, "revisions-", ".idx", 128);
}

/// Remove all but the `keep` most recently modified files of `dir` named `{prefix}…{suffix}` (the cache
/// directory's own files; best effort).
pub(crate) fn prune_cache_files(dir: &Path, prefix: &str, suffix: &str, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(SystemTime, PathBuf)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(prefix) && name.ends_with(suffix)
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if files.len() <= keep {
        return;
    }
    files.sort();
    for (_, p) in &files[..files.len() - keep] {
        let _ = std::fs::remove_file(p);
    }
}

/// Whether `stamp` is old enough at `now` to go into the index.
pub(crate) fn trusted(stamp: &Stamp, now: SystemTime) -> bool {
    stamp.trusted_at(now)
}

fn version_tag() -> Vec<u8> {
    let mut tag = FORMAT.to_vec();
    tag.extend_from_slice(crate::VERSION.as_bytes());
    tag.push(0);
    tag
}

fn encode(entries: &[&Entry]) -> Vec<u8> {
    let mut out = version_tag();
    put_u64(&mut out, entries.len() as u64);
    for e in entries {
        put_str(&mut out, &e.name);
        let s = &e.stamp;
        for v in [s.size, s.ino, s.dev] {
            put_u64(&mut out, v);
        }
        for v in [s.mtime.0, s.mtime.1, s.ctime.0, s.ctime.1] {
            put_u64(&mut out, v as u64);
        }
        let h = &e.header;
        put_str(&mut out, &h.revision);
        put_list(&mut out, &h.down_revisions);
        put_str(&mut out, &h.message);
        put_opt(&mut out, h.create_date.as_deref());
        put_list(&mut out, &h.branch_labels);
        put_list(&mut out, &h.depends_on);
        out.push(u8::from(h.transactional));
        put_opt(&mut out, h.review.as_deref());
        put_list(&mut out, &h.squashes);
        // Most files have no engine's own section, and then one checksum serves all three.
        let d = &e.sums.by_dialect;
        if d[0] == d[1] && d[1] == d[2] {
            out.push(0);
            out.extend_from_slice(&d[0]);
        } else {
            out.push(1);
            for x in d {
                out.extend_from_slice(x);
            }
        }
        out.extend_from_slice(&e.sums.text);
    }
    let sum = checksum(&out);
    put_u64(&mut out, sum);
    out
}

fn decode(bytes: &[u8]) -> Option<Vec<Entry>> {
    let tag = version_tag();
    let body_len = bytes.len().checked_sub(8)?;
    let (body, sum) = bytes.split_at(body_len);
    if !body.starts_with(&tag) || checksum(body) != u64::from_le_bytes(sum.try_into().ok()?) {
        return None;
    }
    let mut r = Reader {
        bytes: body,
        at: tag.len(),
    };
    let n = usize::try_from(r.u64()?).ok()?;
    // Each entry takes more than 64 bytes: a count beyond that is damage, not a reason to allocate.
    if n > body.len() / 64 {
        return None;
    }
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.string()?;
        let (size, ino, dev) = (r.u64()?, r.u64()?, r.u64()?);
        let mut t = [0i64; 4];
        for v in &mut t {
            *v = r.u64()? as i64;
        }
        let stamp = Stamp {
            size,
            mtime: (t[0], t[1]),
            ctime: (t[2], t[3]),
            ino,
            dev,
        };
        let header = Header {
            revision: r.string()?,
            down_revisions: r.list()?,
            message: r.string()?,
            create_date: r.opt()?,
            branch_labels: r.list()?,
            depends_on: r.list()?,
            transactional: match r.byte()? {
                0 => false,
                1 => true,
                _ => return None,
            },
            review: r.opt()?,
            squashes: r.list()?,
        };
        let by_dialect = match r.byte()? {
            0 => [r.digest()?; 3],
            1 => [r.digest()?, r.digest()?, r.digest()?],
            _ => return None,
        };
        let sums = Sums {
            by_dialect,
            text: r.digest()?,
        };
        entries.push(Entry {
            name,
            stamp,
            header,
            sums,
        });
    }
    (r.at == body.len() && entries.windows(2).all(|w| w[0].name < w[1].name)).then_some(entries)
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    // A length that does not fit is written as one that cannot be read back: the index is then ignored.
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_len(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.push(0),
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
    }
}

fn put_list(out: &mut Vec<u8>, items: &[String]) {
    put_len(out, items.len());
    for s in items {
        put_str(out, s);
    }
}

/// A 64-bit FNV-1a over 8-byte words: cheap enough for every run, and catches a damaged or truncated file
/// (the file is written through a rename, so a torn write is not expected; this is for everything else).
fn checksum(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut chunks = bytes.chunks_exact(8);
    for c in chunks.by_ref() {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h ^ w).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(29);
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^ bytes.len() as u64
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let s = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(s)
    }

    fn digest(&mut self) -> Option<[u8; 32]> {
        self.take(32)?.try_into().ok()
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn len(&mut self) -> Option<usize> {
        let n = u32::from_le_bytes(self.take(4)?.try_into().ok()?);
        usize::try_from(n).ok()
    }

    fn str(&mut self) -> Option<&'a str> {
        let n = self.len()?;
        std::str::from_utf8(self.take(n)?).ok()
    }

    fn string(&mut self) -> Option<String> {
        self.str().map(str::to_string)
    }

    fn opt(&mut self) -> Option<Option<String>> {
        match self.byte()? {
            0 => Some(None),
            1 => self.string().map(Some),
            _ => None,
        }
    }

    fn list(&mut self) -> Option<Vec<String>> {
        let n = self.len()?;
        if n > self.bytes.len() - self.at {
            return None;
        }
        (0..n).map(|_| self.string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, mtime: i64) -> Entry {
        Entry {
            name: name.into(),
            stamp: Stamp {
                size: 10,
                mtime: (mtime, 5),
                ctime: (mtime, 7),
                ino: 3,
                dev: 4,
            },
            header: Header {
                revision: format!("r_{name}"),
                down_revisions: vec!["a".into(), "b".into()],
                message: "msg".into(),
                create_date: Some("2026".into()),
                branch_labels: vec![],
                depends_on: vec!["c".into()],
                transactional: false,
                review: None,
                squashes: vec![],
            },
            sums: Sums {
                by_dialect: [[1; 32], [1; 32], [1; 32]],
                text: [2; 32],
            },
        }
    }

    #[test]
    fn round_trip_and_damage() {
        let mut own = entry("b.sql", 200);
        own.sums.by_dialect[2] = [3; 32];
        let entries = [entry("a.sql", 100), own];
        let refs: Vec<&Entry> = entries.iter().collect();
        let bytes = encode(&refs);
        assert_eq!(decode(&bytes).unwrap(), entries);
        // Any flipped byte or truncation makes the index unreadable, never a different index.
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x10;
            assert_eq!(decode(&bad), None, "byte {i}");
        }
        for n in 0..bytes.len() {
            assert_eq!(decode(&bytes[..n]), None, "length {n}");
        }
    }

    #[test]
    fn recent_changes_are_not_trusted() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        assert!(entry("a", 990).stamp.trusted_at(now));
        assert!(!entry("a", 998).stamp.trusted_at(now));
        assert!(!entry("a", 2_000).stamp.trusted_at(now));
        let mut touched_back = entry("a", 10);
        touched_back.stamp.ctime = (999, 0);
        assert!(!touched_back.stamp.trusted_at(now));
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.idx");
        write(&path, &[entry("a", 990), entry("b", 999)], now);
        assert_eq!(read(&path).unwrap(), vec![entry("a", 990)]);
    }
}
