//! Where the auditor reads a log from: the [`LogSource`] trait (HTTP in [`crate::http`],
//! in memory in tests), and [`EntryRange`], which reads a range of entries with several requests
//! in flight and hands them back in order with their leaf hashes, for `--full` and for anything
//! else that walks a log's entries (`audit watch`).
//!
//! Nothing a source returns is trusted: heads are verified against the trust root, proofs
//! against verified roots, entries by recomputing the root.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;

use hallmark_tlog::{Hash, leaf_hash};

use crate::AuditError;

/// An inclusion proof as a log answered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InclusionAnswer {
    /// The audit path, from the leaf up.
    pub proof: Vec<Hash>,
    /// The tree size the proof is for. The Rekor v1 API proves entries only against its latest
    /// tree, so this may be larger than the size asked for.
    pub size: u64,
    /// The signed head of that size when the log sent one (Rekor v1), to be verified and
    /// checked for consistency before the proof is used.
    pub signed_head: Option<Vec<u8>>,
}

/// Reads one log. Every method may be called concurrently.
pub trait LogSource: Send + Sync + 'static {
    /// The latest signed head as received: a checkpoint note (Rekor) or `get-sth` JSON (CT).
    fn latest(&self) -> impl Future<Output = Result<Vec<u8>, AuditError>> + Send;

    /// The consistency proof from the tree of `first` entries to the tree of `second`
    /// (`0 < first < second`).
    fn consistency_proof(
        &self,
        first: u64,
        second: u64,
    ) -> impl Future<Output = Result<Vec<Hash>, AuditError>> + Send;

    /// The inclusion proof of entry `index`, whose leaf hash is `leaf`, in the tree of `size`
    /// entries (or, see [`InclusionAnswer::size`], a larger one).
    fn inclusion_proof(
        &self,
        index: u64,
        leaf: Hash,
        size: u64,
    ) -> impl Future<Output = Result<InclusionAnswer, AuditError>> + Send;

    /// Entries `[start, end)` of the tree of `size` entries, as the log stores and hashes them
    /// (Rekor: canonical bodies; CT: `MerkleTreeLeaf`s). May return fewer than asked, never
    /// none (unless `start == end`) and never more.
    fn entries(
        &self,
        start: u64,
        end: u64,
        size: u64,
    ) -> impl Future<Output = Result<Vec<Vec<u8>>, AuditError>> + Send;

    /// How many entries one read returns at most; ranges are read in pieces aligned to it.
    fn page(&self) -> u64;
}

/// A piece of a range of entries, in log order.
#[derive(Clone, Debug, Default)]
pub struct Chunk {
    /// The index of the first entry.
    pub start: u64,
    /// The entries' bytes.
    pub entries: Vec<Vec<u8>>,
    /// Their RFC 6962 leaf hashes.
    pub leaf_hashes: Vec<Hash>,
}

impl Chunk {
    /// Each entry with its index and leaf hash.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u8], &Hash)> {
        (self.start..)
            .zip(&self.entries)
            .zip(&self.leaf_hashes)
            .map(|((i, e), h)| (i, e.as_slice(), h))
    }

    /// Index after the last entry.
    pub fn end(&self) -> u64 {
        self.start + self.entries.len() as u64
    }
}

/// Reads `[start, end)` of the tree of `size` entries in pieces of [`LogSource::page`] entries,
/// `concurrency` pieces in flight (each fetched and leaf-hashed on the runtime's worker threads),
/// returned in order. Must run inside a Tokio runtime.
#[derive(Debug)]
pub struct EntryRange<S: LogSource> {
    source: Arc<S>,
    next_fetch: u64,
    end: u64,
    size: u64,
    concurrency: usize,
    inflight: VecDeque<tokio::task::JoinHandle<Result<Chunk, AuditError>>>,
}

impl<S: LogSource> EntryRange<S> {
    /// A reader of `[start, end)` (clamped to `size`).
    pub fn new(source: Arc<S>, start: u64, end: u64, size: u64, concurrency: usize) -> Self {
        Self {
            source,
            next_fetch: start,
            end: end.min(size),
            size,
            concurrency: concurrency.max(1),
            inflight: VecDeque::new(),
        }
    }

    fn refill(&mut self) {
        let page = self.source.page().max(1);
        while self.inflight.len() < self.concurrency && self.next_fetch < self.end {
            let start = self.next_fetch;
            let end = ((start / page + 1) * page).min(self.end);
            self.next_fetch = end;
            let source = self.source.clone();
            let size = self.size;
            self.inflight.push_back(tokio::spawn(async move {
                let mut entries = Vec::with_capacity((end - start) as usize);
                while (entries.len() as u64) < end - start {
                    let at = start + entries.len() as u64;
                    let got = source.entries(at, end, size).await?;
                    if got.is_empty() || got.len() as u64 > end - at {
                        return Err(AuditError::malformed(
                            "log",
                            "entries",
                            format!("asked for entries {at}..{end}, got {} entries", got.len()),
                        ));
                    }
                    entries.extend(got);
                }
                let leaf_hashes = entries.iter().map(|e| leaf_hash(e)).collect();
                Ok(Chunk {
                    start,
                    entries,
                    leaf_hashes,
                })
            }));
        }
    }

    /// The next piece, or `None` at the end of the range.
    pub async fn next(&mut self) -> Option<Result<Chunk, AuditError>> {
        self.refill();
        let task = self.inflight.pop_front()?;
        let result = match task.await {
            Ok(r) => r,
            Err(e) => Err(AuditError::malformed("log", "entries", e)),
        };
        if result.is_err() {
            // Stop: the caller sees the first error once.
            for t in self.inflight.drain(..) {
                t.abort();
            }
            self.next_fetch = self.end;
        }
        Some(result)
    }
}

impl<S: LogSource> Drop for EntryRange<S> {
    fn drop(&mut self) {
        for t in self.inflight.drain(..) {
            t.abort();
        }
    }
}
