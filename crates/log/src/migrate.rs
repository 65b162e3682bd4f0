//! Copying a whole log from one store into another — the embedded redb log into PostgreSQL — and
//! checking the copy against the original.
//!
//! [`copy_log`] copies, in order: every entry with its integration time, its entry signature (the
//! SET) and its search keys; the tree hashes (recomputed from the entries' leaf hashes and checked
//! against the source's stored ones as they go); the checkpoint history; and last the latest
//! signed checkpoint. It writes through [`LogStore::append`], one batch per run of entries that
//! share an integration time (a batch has one), at most [`CopyOptions::batch_entries`] entries,
//! ending at every size the history keeps a checkpoint for (a batch writes the history entry at
//! its own end). A source logged under load (large batches) copies in batches of the full size;
//! one sequenced an entry at a time copies an entry per transaction.
//!
//! [`verify_copy`] then compares everything: sizes, the latest checkpoint, the root recomputed
//! from the target's stored hashes and from its entries' leaf hashes against the source's root
//! and the checkpoint's, every stored tree hash against the ones the target's entries give, every
//! entry and entry signature, the checkpoint history, and every search key's list of entries.
//!
//! # An interrupted copy
//!
//! A copy interrupted half-way must never be served as the log:
//! - [`migrate_to_postgres`] copies under a staging name (`<log>.migrating`) that no server opens,
//!   and gives the log its real name ([`PgStore::rename_log`]) in one transaction only after the
//!   copy verified. Run again after an interruption, it resumes the staging log where it stopped
//!   (after checking that the part copied has the source's root at that size).
//! - Besides, intermediate batches store as their latest checkpoint an unsigned marker for size 0
//!   ([`INCOMPLETE_ORIGIN`]), which `Sequencer::start` refuses ("stored checkpoint does not match
//!   the stored tree"); only the last batch stores the source's latest signed checkpoint. A batch
//!   that ends where the history keeps a checkpoint stores that one (the only way a batch writes
//!   history), so [`copy_log`] alone, into a log a server could open, is not enough: the staging
//!   name is what guards the real log.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use hallmark_tlog::note::Checkpoint;
use hallmark_tlog::tree::{Frontier, root_at, stored_count};
use hallmark_tlog::{Hash, leaf_hash};

use crate::store::{Batch, EntrySearchKeys, LogStore, NewEntry, TreeReader};
use crate::{PgOptions, PgStore, StoreError};

/// Origin line of the marker checkpoint stored by intermediate batches of a copy.
pub const INCOMPLETE_ORIGIN: &str = "hallmark-migration-incomplete";

/// Suffix of the staging name a log is copied under before it is renamed.
pub const STAGING_SUFFIX: &str = ".migrating";

/// Search results read per page while comparing a key's entries.
const SEARCH_PAGE: usize = 1000;

/// A failed copy or a copy that does not match its source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    /// A store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Merkle math or a checkpoint's text was rejected.
    #[error(transparent)]
    Tree(#[from] hallmark_tlog::Error),
    /// The target log already holds entries: a migration copies only into an empty log.
    #[error(
        "log {log:?} in the database already holds {size} entries: the migration copies only \
         into an empty log (drop the database, or point the configuration at a new one, and run \
         it again)"
    )]
    TargetNotEmpty {
        /// The log's name.
        log: String,
        /// Its size.
        size: u64,
    },
    /// The (staging) target holds more entries than the source.
    #[error("the target holds {target} entries, more than the source's {source_size}")]
    TargetAhead {
        /// The target's size.
        target: u64,
        /// The source's size.
        source_size: u64,
    },
    /// The target holds a prefix that is not the source's: its root at its size differs.
    #[error(
        "the target's {size} entries are not the source's first {size} (their roots differ): \
         drop the target and copy again"
    )]
    TargetDiverges {
        /// The target's size.
        size: u64,
    },
    /// The source contradicts itself (a corrupt source file): nothing more is copied.
    #[error("the source log is inconsistent at index {index}: {what}")]
    SourceInconsistent {
        /// What disagreed.
        what: &'static str,
        /// Where.
        index: u64,
    },
    /// The copy differs from the source.
    #[error("the copy differs from the source: {what} (at {at})")]
    Mismatch {
        /// What differs.
        what: &'static str,
        /// The index, tree size or key number where it was found.
        at: u64,
    },
}

/// How to copy.
#[derive(Clone, Debug)]
pub struct CopyOptions {
    /// Most entries written per transaction (default 10,000).
    pub batch_entries: usize,
}

impl Default for CopyOptions {
    fn default() -> Self {
        Self {
            batch_entries: 10_000,
        }
    }
}

/// What [`copy_log`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyReport {
    /// Entries copied by this call.
    pub copied: u64,
    /// Entries the target held before (a resumed copy).
    pub resumed_from: u64,
    /// Transactions written.
    pub batches: u64,
    /// The source's size: the target's size now.
    pub size: u64,
}

/// What [`verify_copy`] found equal in source and target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The tree size.
    pub size: u64,
    /// The root, recomputed from both stores' hashes and the target's entries, equal to the
    /// signed checkpoint's.
    pub root: Hash,
    /// Entries compared (data, integration time, entry signature).
    pub entries: u64,
    /// Distinct search keys whose entry lists were compared.
    pub search_keys: u64,
    /// Checkpoints of the history compared.
    pub checkpoints: u64,
}

/// The marker checkpoint of an incomplete copy: a note for size 0 without a signature, which no
/// server accepts as the checkpoint of a non-empty tree.
pub fn incomplete_marker() -> String {
    let mut note = Checkpoint::new(INCOMPLETE_ORIGIN, 0, hallmark_tlog::EMPTY_ROOT).to_text();
    note.push('\n');
    note
}

/// The checkpoint body of a signed note.
fn note_checkpoint(note: &str) -> Result<Checkpoint, MigrateError> {
    let text = note.split_once("\n\n").map_or(note, |(t, _)| t);
    Ok(Checkpoint::parse(&format!("{text}\n"))?)
}

/// Copies what `target` does not hold yet of `source`; see the module documentation. `progress`
/// is called after each transaction with (entries the target holds, the source's size). The
/// source must not change during the copy (stop the server using it).
pub fn copy_log<S, T>(
    source: &S,
    target: &T,
    options: &CopyOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<CopyReport, MigrateError>
where
    S: LogStore + EntrySearchKeys + ?Sized,
    T: LogStore + ?Sized,
{
    let src = source.state()?;
    let total = src.size;
    let start = target.state()?.size;
    if start > total {
        return Err(MigrateError::TargetAhead {
            target: start,
            source_size: total,
        });
    }
    if start > 0 && root_at(start, &TreeReader(target))? != root_at(start, &TreeReader(source))? {
        return Err(MigrateError::TargetDiverges { size: start });
    }
    let latest = match src.checkpoint {
        Some(c) => c,
        None if total == 0 => return Ok(empty_report(start)),
        None => {
            return Err(MigrateError::SourceInconsistent {
                what: "the log has entries but no checkpoint",
                index: total,
            });
        }
    };
    let history: BTreeMap<u64, String> = source.checkpoints(start, total)?.into_iter().collect();
    let marker = incomplete_marker();
    let mut frontier = Frontier::load(start, &TreeReader(target))?;
    let mut batches = 0u64;
    // A history entry for the size the copy starts at (an empty log's, or a resumed copy whose
    // last batch was interrupted before it): an empty batch writes it.
    if let Some(note) = history.get(&start)
        && !target
            .checkpoints(start, start)?
            .iter()
            .any(|(_, c)| c == note)
    {
        append_empty(target, start, note, true)?;
        batches += 1;
    }
    let batch_entries = options.batch_entries.max(1) as u64;
    let mut pos = start;
    let mut tree_hashes = Vec::new();
    while pos < total {
        let chunk_end = (pos + batch_entries).min(total);
        let chunk = read_chunk(source, pos, chunk_end)?;
        let mut run_start = 0usize;
        while run_start < chunk.len() {
            let run_end = run_end(&chunk, pos, run_start, &history);
            let first = pos + run_start as u64;
            let end = pos + run_end as u64;
            let run = &chunk[run_start..run_end];
            let entries: Vec<NewEntry> = run.iter().map(|c| c.entry.clone()).collect();
            let signatures: Vec<Vec<u8>> = run.iter().filter_map(|c| c.signature.clone()).collect();
            let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(&e.data)).collect();
            tree_hashes.clear();
            for leaf in &leaves {
                frontier.append_into(*leaf, &mut tree_hashes);
            }
            let stored: Vec<u64> = (stored_count(first)..stored_count(end)).collect();
            let source_hashes = source.read_hashes(&stored)?;
            if let Some(at) = tree_hashes
                .iter()
                .zip(&source_hashes)
                .position(|(a, b)| a != b)
            {
                return Err(MigrateError::SourceInconsistent {
                    what: "a stored tree hash differs from the one its entries give",
                    index: stored.get(at).copied().unwrap_or(first),
                });
            }
            let (checkpoint, keep) = match history.get(&end) {
                Some(note) => (note.as_str(), true),
                None if end == total => (latest.as_str(), false),
                None => (marker.as_str(), false),
            };
            target.append(&Batch {
                first_index: first,
                integrated_ms: run.first().map_or(0, |c| c.integrated_ms),
                entries: &entries,
                entry_signatures: &signatures,
                leaf_hashes: &leaves,
                tree_hashes: &tree_hashes,
                checkpoint,
                keep_checkpoint: keep,
            })?;
            batches += 1;
            run_start = run_end;
        }
        pos = chunk_end;
        progress(pos, total);
    }
    // The last batch stored the history's note for the final size: the latest may be another.
    if target.state()?.checkpoint.as_deref() != Some(latest.as_str()) {
        append_empty(target, total, &latest, false)?;
        batches += 1;
    }
    Ok(CopyReport {
        copied: total - start,
        resumed_from: start,
        batches,
        size: total,
    })
}

fn empty_report(size: u64) -> CopyReport {
    CopyReport {
        copied: 0,
        resumed_from: size,
        batches: 0,
        size,
    }
}

fn append_empty<T: LogStore + ?Sized>(
    target: &T,
    size: u64,
    checkpoint: &str,
    keep: bool,
) -> Result<(), StoreError> {
    target.append(&Batch {
        first_index: size,
        integrated_ms: 0,
        entries: &[],
        entry_signatures: &[],
        leaf_hashes: &[],
        tree_hashes: &[],
        checkpoint,
        keep_checkpoint: keep,
    })
}

/// One source entry with everything stored about it.
struct Copied {
    integrated_ms: u64,
    entry: NewEntry,
    signature: Option<Vec<u8>>,
}

fn read_chunk<S>(source: &S, start: u64, end: u64) -> Result<Vec<Copied>, MigrateError>
where
    S: LogStore + EntrySearchKeys + ?Sized,
{
    let entries = source.entries(start, end)?;
    if entries.len() as u64 != end - start {
        return Err(MigrateError::SourceInconsistent {
            what: "entries are missing below the recorded size",
            index: start + entries.len() as u64,
        });
    }
    let mut keys: HashMap<u64, Vec<String>> =
        source.entry_search_keys(start, end)?.into_iter().collect();
    entries
        .into_iter()
        .zip(start..)
        .map(|(e, index)| {
            Ok(Copied {
                integrated_ms: e.integrated_ms,
                entry: NewEntry {
                    data: e.data,
                    index_keys: keys.remove(&index).unwrap_or_default(),
                },
                signature: source.entry_signature(index)?,
            })
        })
        .collect()
}

/// Where the run of `chunk` starting at `from` ends (exclusive): at the first entry with another
/// integration time or another signedness (a batch has one time, and signatures for all its
/// entries or none), or just after an entry that completes a size the history keeps.
fn run_end(chunk: &[Copied], base: u64, from: usize, history: &BTreeMap<u64, String>) -> usize {
    let Some(head) = chunk.get(from) else {
        return from;
    };
    let mut end = from;
    for (i, c) in chunk.iter().enumerate().skip(from) {
        if c.integrated_ms != head.integrated_ms
            || c.signature.is_some() != head.signature.is_some()
        {
            break;
        }
        end = i + 1;
        if history.contains_key(&(base + end as u64)) {
            break;
        }
    }
    end
}

/// Compares `target` with `source` in full; see the module documentation. `progress` is called
/// with (entries compared, size).
pub fn verify_copy<S, T>(
    source: &S,
    target: &T,
    chunk_entries: usize,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Verified, MigrateError>
where
    S: LogStore + EntrySearchKeys + ?Sized,
    T: LogStore + ?Sized,
{
    let mismatch = |what, at| MigrateError::Mismatch { what, at };
    let src = source.state()?;
    let tgt = target.state()?;
    let size = src.size;
    if tgt.size != size {
        return Err(mismatch("tree size", tgt.size));
    }
    if tgt.checkpoint != src.checkpoint {
        return Err(mismatch("latest signed checkpoint", size));
    }
    let root = root_at(size, &TreeReader(source))?;
    if root_at(size, &TreeReader(target))? != root {
        return Err(mismatch(
            "root recomputed from the stored tree hashes",
            size,
        ));
    }
    if let Some(note) = &src.checkpoint {
        let cp = note_checkpoint(note)?;
        if cp.size != size || cp.root != root {
            return Err(MigrateError::SourceInconsistent {
                what: "the signed checkpoint does not match the stored tree",
                index: size,
            });
        }
    }
    let mut leaves = Frontier::new();
    let mut expected = Vec::new();
    let mut keys = BTreeSet::new();
    let step = chunk_entries.max(1) as u64;
    let mut pos = 0;
    while pos < size {
        let end = (pos + step).min(size);
        let ours = target.entries(pos, end)?;
        if ours != source.entries(pos, end)? {
            let at = ours
                .iter()
                .zip(source.entries(pos, end)?)
                .position(|(a, b)| *a != b)
                .map_or(pos + ours.len() as u64, |i| pos + i as u64);
            return Err(mismatch("entry (data or integration time)", at));
        }
        // Every stored hash of the range, against the ones the entries give.
        expected.clear();
        for (index, e) in (pos..).zip(&ours) {
            leaves.append_into(leaf_hash(&e.data), &mut expected);
            if target.entry_signature(index)? != source.entry_signature(index)? {
                return Err(mismatch("entry signature", index));
            }
        }
        let positions: Vec<u64> = (stored_count(pos)..stored_count(end)).collect();
        if let Some(i) = target
            .read_hashes(&positions)?
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b)
        {
            return Err(mismatch(
                "stored tree hash (position)",
                positions.get(i).copied().unwrap_or(pos),
            ));
        }
        for (_, entry_keys) in source.entry_search_keys(pos, end)? {
            keys.extend(entry_keys);
        }
        pos = end;
        progress(pos, size);
    }
    if leaves.root() != root {
        return Err(mismatch(
            "root recomputed from the entries' leaf hashes",
            size,
        ));
    }
    let history = source.checkpoints(0, size)?;
    if target.checkpoints(0, size)? != history {
        return Err(mismatch("checkpoint history", size));
    }
    for (n, key) in (0u64..).zip(&keys) {
        let mut before = None;
        loop {
            let a = source.search(key, before, SEARCH_PAGE)?;
            if target.search(key, before, SEARCH_PAGE)? != a {
                return Err(mismatch("entries filed under a search key (key number)", n));
            }
            match a.last() {
                Some(&last) if a.len() == SEARCH_PAGE => before = Some(last),
                _ => break,
            }
        }
    }
    Ok(Verified {
        size,
        root,
        entries: size,
        search_keys: keys.len() as u64,
        checkpoints: history.len() as u64,
    })
}

/// What [`migrate_to_postgres`] did.
#[derive(Clone, Debug)]
pub struct Migrated {
    /// The copy (nothing copied when the log was migrated before).
    pub copy: CopyReport,
    /// The verification.
    pub verified: Verified,
    /// The database already held exactly this log (an earlier run finished it): only verified.
    pub already_migrated: bool,
}

/// Whether the log `options.log` can receive `source`: `Ok(false)` when it is empty, `Ok(true)`
/// when it already holds the same log (same size and latest checkpoint: an earlier run finished
/// it), and [`MigrateError::TargetNotEmpty`] otherwise. Opening creates the log's (empty) row.
pub fn check_postgres_target<S>(source: &S, options: &PgOptions) -> Result<bool, MigrateError>
where
    S: LogStore + ?Sized,
{
    let target = PgStore::open_with(options)?.state()?;
    if target.size == 0 {
        return Ok(false);
    }
    if target == source.state()? {
        return Ok(true);
    }
    Err(MigrateError::TargetNotEmpty {
        log: options.log.clone(),
        size: target.size,
    })
}

/// Copies `source` into the log `options.log` of a PostgreSQL database, which must hold no
/// entries ([`check_postgres_target`]): under the staging name `<log>.migrating` (resuming an
/// interrupted run), verified in full, then renamed to `options.log` in one transaction. A log
/// the database already holds in full (an earlier run) is verified again, not copied. `progress`
/// gets (phase, done, total), phase `"copy"` or `"verify"`.
pub fn migrate_to_postgres<S>(
    source: &S,
    options: &PgOptions,
    copy: &CopyOptions,
    progress: &mut dyn FnMut(&'static str, u64, u64),
) -> Result<Migrated, MigrateError>
where
    S: LogStore + EntrySearchKeys + ?Sized,
{
    if check_postgres_target(source, options)? {
        let target = PgStore::open_with(options)?;
        let verified = verify_copy(source, &target, copy.batch_entries, &mut |d, t| {
            progress("verify", d, t)
        })?;
        return Ok(Migrated {
            copy: empty_report(verified.size),
            verified,
            already_migrated: true,
        });
    }
    let staging_name = format!("{}{STAGING_SUFFIX}", options.log);
    let staging = PgStore::open_with(&PgOptions {
        log: staging_name,
        ..options.clone()
    })?;
    let copied = copy_log(source, &staging, copy, &mut |d, t| progress("copy", d, t))?;
    let verified = verify_copy(source, &staging, copy.batch_entries, &mut |d, t| {
        progress("verify", d, t)
    })?;
    staging.rename_log(&options.log).map_err(|e| match e {
        // Someone wrote to the log since the check above.
        StoreError::NotContiguous { stored_size, .. } => MigrateError::TargetNotEmpty {
            log: options.log.clone(),
            size: stored_size,
        },
        e => e.into(),
    })?;
    // What a server will open now.
    let renamed = PgStore::open_with(options)?;
    let state = renamed.state()?;
    let root = root_at(state.size, &TreeReader(&renamed))?;
    if state.size != verified.size || root != verified.root {
        return Err(MigrateError::Mismatch {
            what: "the renamed log's size or root",
            at: state.size,
        });
    }
    Ok(Migrated {
        copy: copied,
        verified,
        already_migrated: false,
    })
}
