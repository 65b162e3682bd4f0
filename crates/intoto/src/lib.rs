//! Recording in-toto steps: what `hallmark intoto run` and `intoto record` measure before
//! signing.
//!
//! Implements in-toto-python 3.1.0's recording semantics (`in_toto.runlib`:
//! `record_artifacts_as_dict`, `execute_link`, `in_toto_run`) so that a link recorded here
//! and one recorded by stock `in-toto-run` on the same tree hold the same materials and
//! products:
//!
//! | module | what |
//! | --- | --- |
//! | [`record`] | walking files and directories, exclude patterns, base path, prefix stripping, symlinked directories, SHA-256 digests (parallel across files, streamed) |
//! | [`pattern`] | gitignore-style exclude patterns with Python `pathspec`'s semantics |
//! | [`path`] | `posixpath.normpath` and the path forms pattern matching uses |
//! | [`hash`] | streamed SHA-256, with CRLF/CR-to-LF normalization |
//! | [`command`] | running the command, its byproducts (`return-value`, `stdout`, `stderr`) |
//!
//! The link formats are `hallmark_sigstore::intoto`'s; this crate only measures (it touches
//! the filesystem and runs processes, so it is not in the pure spec crate). Specification:
//! [in-toto v1.0](https://github.com/in-toto/docs/blob/master/in-toto-spec.md) section 4.3.

use std::path::PathBuf;

pub mod command;
pub mod hash;
pub mod path;
pub mod pattern;
pub mod record;

pub use command::{Byproducts, run_command};
pub use pattern::ExcludeSet;
pub use record::{LstripPaths, RecordOptions, Recording, SkipReason, Skipped, record_artifacts};

/// Why recording a step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// An exclude pattern is invalid.
    #[error("exclude pattern {pattern:?}: {reason}")]
    Pattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong.
        reason: &'static str,
        /// The regular expression compiler's complaint, if it failed.
        #[source]
        source: Option<Box<regex::Error>>,
    },
    /// Two `--lstrip-paths` prefixes, one a prefix of the other (in-toto's wording).
    #[error(
        "lstrip prefixes '{first}' and '{second}' triggered a left substring error: one starts with the other"
    )]
    LstripConflict {
        /// One prefix.
        first: String,
        /// The other.
        second: String,
    },
    /// Stripping prefixes made two artifacts' keys equal.
    #[error(
        "prefix selection has resulted in non unique artifact path '{key}': two artifacts would be recorded under it"
    )]
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// The base path is not a readable directory.
    #[error("base path {}: {source}", path.display())]
    BasePath {
        /// The base path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file or directory cannot be read.
    #[error("reading {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A file name is not UTF-8 (a link cannot hold it).
    #[error("{} is not a UTF-8 path: in-toto links hold paths as JSON strings", path.display())]
    NotUtf8 {
        /// The path (lossy).
        path: PathBuf,
    },
    /// A symlinked directory leads back into one of its ancestors.
    #[error("{} is a symlink back into a directory being recorded (a cycle); exclude it or record without following symlinked directories", path.display())]
    SymlinkLoop {
        /// The symlink.
        path: PathBuf,
    },
    /// A hashing thread stopped without a result (it panicked).
    #[error("a hashing thread failed")]
    HashWorker,
    /// No command was given.
    #[error("no command to run")]
    NoCommand,
    /// The command does not exist.
    #[error("command {program:?} not found: {source}")]
    CommandNotFound {
        /// The program.
        program: String,
        /// The error starting it.
        #[source]
        source: std::io::Error,
    },
    /// The command could not be started.
    #[error("cannot start {program:?}: {source}")]
    CommandStart {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Waiting for the command failed.
    #[error("waiting for {program:?}: {source}")]
    CommandWait {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The command ran longer than allowed and was killed.
    #[error("{program:?} did not finish within {seconds} s and was killed")]
    CommandTimeout {
        /// The program.
        program: String,
        /// The limit.
        seconds: f64,
    },
}
