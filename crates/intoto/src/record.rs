//! Recording artifacts: in-toto-python 3.1.0's `record_artifacts_as_dict` (its `FileResolver`).
//!
//! For each path given, in order: `normpath` it; skip it when an exclude pattern matches;
//! skip it (reported as [`Skipped`]) when it does not exist; a file is recorded under its
//! path; a directory is walked top-down, pruning directories the patterns exclude, recording
//! every file under `<dir>/<...>` (normalized) unless excluded, skipping broken symlinks and
//! non-regular files. Symlinks to files are recorded with their target's digest; symlinks to
//! directories are walked only with [`RecordOptions::follow_symlink_dirs`]. A recorded key
//! has `\` replaced by `/` and the first matching `lstrip` prefix removed; when prefixes are
//! given, two artifacts under the same key are an error.
//!
//! Where this differs from in-toto-python, on purpose: an unreadable directory is an error
//! (Python's `os.walk` skips it silently), and a symlink cycle while following symlinked
//! directories is an error (Python recurses until the path is too long). Files are hashed in
//! parallel; the result does not depend on it.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use hallmark_sigstore::intoto::{Artifacts, DigestSet};

use crate::RecordError;
use crate::hash::sha256_file;
use crate::path::{join, normpath};
use crate::pattern::ExcludeSet;

/// Left-strip prefixes, none a prefix of another (in-toto-python refuses such pairs).
#[derive(Clone, Debug, Default)]
pub struct LstripPaths(Vec<String>);

impl LstripPaths {
    /// Checks the prefixes.
    ///
    /// # Errors
    ///
    /// [`RecordError::LstripConflict`] when one prefix starts with another.
    pub fn new(prefixes: Vec<String>) -> Result<Self, RecordError> {
        for (i, a) in prefixes.iter().enumerate() {
            for b in &prefixes[i + 1..] {
                if a.starts_with(b.as_str()) || b.starts_with(a.as_str()) {
                    return Err(RecordError::LstripConflict {
                        first: a.clone(),
                        second: b.clone(),
                    });
                }
            }
        }
        Ok(LstripPaths(prefixes))
    }

    /// Whether no prefix was given.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `path` without the first prefix it starts with.
    #[must_use]
    pub fn strip<'a>(&self, path: &'a str) -> &'a str {
        self.0
            .iter()
            .find_map(|p| path.strip_prefix(p.as_str()))
            .unwrap_or(path)
    }
}

/// How to record.
#[derive(Clone, Debug)]
pub struct RecordOptions {
    /// Paths matching these are not recorded (in-toto's defaults when none are given).
    pub exclude: ExcludeSet,
    /// Paths are relative to this directory (default: the current directory); it is not part
    /// of the recorded keys.
    pub base_path: Option<PathBuf>,
    /// Walk symlinks to directories (in-toto-run and in-toto-record always do).
    pub follow_symlink_dirs: bool,
    /// Hash CRLF and CR as LF.
    pub normalize_line_endings: bool,
    /// Prefixes stripped from recorded keys.
    pub lstrip_paths: LstripPaths,
    /// Hashing threads (0: one per available core).
    pub threads: usize,
}

impl Default for RecordOptions {
    fn default() -> Self {
        RecordOptions {
            exclude: ExcludeSet::in_toto_defaults(),
            base_path: None,
            follow_symlink_dirs: true,
            normalize_line_endings: false,
            lstrip_paths: LstripPaths::default(),
            threads: 0,
        }
    }
}

/// Why a path was not recorded (in-toto-python logs these and goes on).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// A path given does not exist (or is a broken symlink).
    Missing,
    /// A symlink inside a walked directory whose target does not exist.
    BrokenSymlink,
    /// Not a regular file nor a directory (a socket, a FIFO, a device).
    NotRegular,
}

/// A path that was not recorded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The path (normalized, relative to the base path).
    pub path: String,
    /// Why.
    pub reason: SkipReason,
}

/// What [`record_artifacts`] found.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    /// The artifacts by key, with their `sha256` digests.
    pub artifacts: Artifacts,
    /// Paths not recorded, in the order met.
    pub skipped: Vec<Skipped>,
}

/// Records `paths` (files or directories, relative to the base path or absolute).
///
/// # Errors
///
/// [`RecordError::BasePath`] when the base path is not a directory, [`RecordError::Io`] for a
/// file or directory that cannot be read, [`RecordError::NotUtf8`] for a name that is not
/// UTF-8, [`RecordError::DuplicateKey`] when stripping prefixes makes two keys equal,
/// [`RecordError::SymlinkLoop`] for a symlinked directory inside itself.
pub fn record_artifacts<S: AsRef<str>>(
    paths: &[S],
    options: &RecordOptions,
) -> Result<Recording, RecordError> {
    let mut walker = Walker {
        options,
        base: options.base_path.clone().unwrap_or_default(),
        files: Vec::new(),
        keys: BTreeMap::new(),
        skipped: Vec::new(),
    };
    if paths.is_empty() {
        return Ok(Recording::default());
    }
    if let Some(base) = &options.base_path {
        match std::fs::metadata(base) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(RecordError::BasePath {
                    path: base.clone(),
                    source: std::io::Error::other("not a directory"),
                });
            }
            Err(source) => {
                return Err(RecordError::BasePath {
                    path: base.clone(),
                    source,
                });
            }
        }
    }
    for p in paths {
        walker.top(p.as_ref())?;
    }
    let digests = hash_all(&walker.files, options)?;
    let mut artifacts = Artifacts::new();
    for (key, index) in walker.keys {
        let mut set = DigestSet::new();
        set.insert("sha256".into(), hex::encode(digests[index]));
        artifacts.insert(key, set);
    }
    Ok(Recording {
        artifacts,
        skipped: walker.skipped,
    })
}

struct Walker<'a> {
    options: &'a RecordOptions,
    base: PathBuf,
    /// Filesystem paths to hash.
    files: Vec<PathBuf>,
    /// Recorded key to index in `files` (a later file under the same key replaces the
    /// earlier, as Python's dict assignment).
    keys: BTreeMap<String, usize>,
    skipped: Vec<Skipped>,
}

impl Walker<'_> {
    fn fs(&self, path: &str) -> PathBuf {
        self.base.join(path)
    }

    fn top(&mut self, given: &str) -> Result<(), RecordError> {
        let path = normpath(given);
        if self.options.exclude.is_excluded(&path) {
            return Ok(());
        }
        let fs = self.fs(&path);
        let Ok(meta) = std::fs::metadata(&fs) else {
            self.skipped.push(Skipped {
                path,
                reason: SkipReason::Missing,
            });
            return Ok(());
        };
        if meta.is_file() {
            self.add(&path, fs)?;
        } else if meta.is_dir() {
            let mut ancestors = vec![(meta.dev(), meta.ino())];
            self.walk(&path, &mut ancestors)?;
        } else {
            self.skipped.push(Skipped {
                path,
                reason: SkipReason::NotRegular,
            });
        }
        Ok(())
    }

    /// One directory of `os.walk(top, followlinks)`, top-down.
    fn walk(&mut self, dir: &str, ancestors: &mut Vec<(u64, u64)>) -> Result<(), RecordError> {
        let fs_dir = self.fs(dir);
        let io = |source| RecordError::Io {
            path: fs_dir.clone(),
            source,
        };
        let mut dirs = Vec::new();
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&fs_dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|raw| RecordError::NotUtf8 {
                    path: fs_dir.join(raw),
                })?;
            let file_type = entry.file_type().map_err(io)?;
            let is_symlink = file_type.is_symlink();
            // os.walk's DirEntry.is_dir() follows symlinks.
            let is_dir = if is_symlink {
                std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir())
            } else {
                file_type.is_dir()
            };
            if is_dir {
                dirs.push((name, is_symlink));
            } else {
                names.push(name);
            }
        }
        dirs.sort();
        names.sort();
        for name in names {
            let path = normpath(&join(dir, &name));
            if self.options.exclude.is_excluded(&path) {
                continue;
            }
            let fs = self.fs(&path);
            match std::fs::metadata(&fs) {
                Ok(m) if m.is_file() => self.add(&path, fs)?,
                Ok(_) => self.skipped.push(Skipped {
                    path,
                    reason: SkipReason::NotRegular,
                }),
                Err(_) => self.skipped.push(Skipped {
                    path,
                    reason: SkipReason::BrokenSymlink,
                }),
            }
        }
        for (name, is_symlink) in dirs {
            let joined = join(dir, &name);
            if self.options.exclude.is_excluded(&normpath(&joined)) {
                continue;
            }
            if is_symlink && !self.options.follow_symlink_dirs {
                continue;
            }
            let fs = self.fs(&joined);
            let meta = std::fs::metadata(&fs).map_err(|source| RecordError::Io {
                path: fs.clone(),
                source,
            })?;
            let id = (meta.dev(), meta.ino());
            if ancestors.contains(&id) {
                return Err(RecordError::SymlinkLoop { path: fs });
            }
            ancestors.push(id);
            self.walk(&joined, ancestors)?;
            ancestors.pop();
        }
        Ok(())
    }

    fn add(&mut self, path: &str, fs: PathBuf) -> Result<(), RecordError> {
        let slashed = path.replace('\\', "/");
        let key = self.options.lstrip_paths.strip(&slashed).to_owned();
        if !self.options.lstrip_paths.is_empty() && self.keys.contains_key(&key) {
            return Err(RecordError::DuplicateKey { key });
        }
        self.files.push(fs);
        self.keys.insert(key, self.files.len() - 1);
        Ok(())
    }
}

/// Files below this many are hashed on the calling thread.
const PARALLEL_FROM: usize = 8;

/// Hashes `files` on up to `options.threads` threads (each takes the next file).
fn hash_all(files: &[PathBuf], options: &RecordOptions) -> Result<Vec<[u8; 32]>, RecordError> {
    let normalize = options.normalize_line_endings;
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        n => n,
    }
    .min(files.len().div_ceil(PARALLEL_FROM).max(1));
    if threads <= 1 {
        return files.iter().map(|f| sha256_file(f, normalize)).collect();
    }
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<[u8; 32]>>> = Mutex::new(vec![None; files.len()]);
    let first_error: Mutex<Option<RecordError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let mut local = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(f) = files.get(i) else { break };
                    match sha256_file(f, normalize) {
                        Ok(d) => local.push((i, d)),
                        Err(e) => {
                            // Stop every worker: the recording failed.
                            next.store(files.len(), Ordering::Relaxed);
                            if let Ok(mut slot) = first_error.lock() {
                                slot.get_or_insert(e);
                            }
                            break;
                        }
                    }
                }
                if let Ok(mut r) = results.lock() {
                    for (i, d) in local {
                        r[i] = Some(d);
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    let results = results.into_inner().map_err(|_| RecordError::HashWorker)?;
    results
        .into_iter()
        .map(|d| d.ok_or(RecordError::HashWorker))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn opts() -> RecordOptions {
        RecordOptions::default()
    }

    #[test]
    fn lstrip_conflicts() {
        assert!(LstripPaths::new(vec!["a/".into(), "b/".into()]).is_ok());
        let e = LstripPaths::new(vec!["dir/".into(), "dir/sub/".into()]).unwrap_err();
        assert!(e.to_string().contains("'dir/' and 'dir/sub/'"), "{e}");
    }

    #[test]
    fn walks_and_strips() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a/b")).unwrap();
        std::fs::create_dir_all(d.path().join("c/b")).unwrap();
        std::fs::write(d.path().join("a/b/x"), "1").unwrap();
        std::fs::write(d.path().join("c/b/x"), "2").unwrap();
        std::fs::write(d.path().join("a/y.pyc"), "3").unwrap();
        let mut o = opts();
        o.base_path = Some(d.path().to_path_buf());
        let r = record_artifacts(&[".", "missing"], &o).unwrap();
        let keys: Vec<&String> = r.artifacts.keys().collect();
        assert_eq!(keys, ["a/b/x", "c/b/x"]);
        assert_eq!(
            r.skipped,
            [Skipped {
                path: "missing".into(),
                reason: SkipReason::Missing
            }]
        );
        o.lstrip_paths = LstripPaths::new(vec!["a/".into()]).unwrap();
        let r = record_artifacts(&["a"], &o).unwrap();
        assert!(r.artifacts.contains_key("b/x"));
        o.lstrip_paths = LstripPaths::new(vec!["a/".into(), "c/".into()]).unwrap();
        let e = record_artifacts(&["a", "c"], &o).unwrap_err();
        assert!(
            matches!(e, RecordError::DuplicateKey { ref key } if key == "b/x"),
            "{e}"
        );
    }

    #[test]
    fn symlink_loops_are_errors() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("a")).unwrap();
        std::os::unix::fs::symlink("..", d.path().join("a/up")).unwrap();
        let mut o = opts();
        o.base_path = Some(d.path().to_path_buf());
        assert!(matches!(
            record_artifacts(&["a"], &o),
            Err(RecordError::SymlinkLoop { .. })
        ));
        o.follow_symlink_dirs = false;
        assert!(record_artifacts(&["a"], &o).unwrap().artifacts.is_empty());
    }

    #[test]
    fn parallel_equals_serial() {
        let d = tempfile::tempdir().unwrap();
        for i in 0..100 {
            std::fs::write(d.path().join(format!("f{i}")), format!("{i}")).unwrap();
        }
        let mut o = opts();
        o.base_path = Some(d.path().to_path_buf());
        o.threads = 1;
        let serial = record_artifacts(&["."], &o).unwrap().artifacts;
        o.threads = 4;
        assert_eq!(record_artifacts(&["."], &o).unwrap().artifacts, serial);
        assert_eq!(serial.len(), 100);
    }
}
