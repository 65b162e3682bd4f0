//! Following a log: what the auditor does with each signed head it sees.
//!
//! [`decide`] is the whole policy, pure: a head smaller than the trusted one means the log
//! shrank; the same size with another root is a fork (or a split view, when the other head came
//! from another auditor); a larger head is trusted only once a consistency proof from the last
//! trusted head verifies. [`Auditor`] applies it to one log: it fetches (through a
//! [`LogSource`]), verifies signatures against the trust root, proves, and records what it
//! verified in the [`AuditStore`]. It also recomputes the root from every entry
//! ([`Auditor::full`]), checks checkpoints other auditors saw ([`Auditor::check_gossip`]) and
//! proves inclusion against a checkpoint it verified itself ([`Auditor::inclusion`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hallmark_tlog::proof::{verify_consistency, verify_inclusion};
use hallmark_tlog::tree::Frontier;
use hallmark_tlog::{EMPTY_ROOT, Hash};

use crate::AuditError;
use crate::source::{EntryRange, LogSource};
use crate::store::{AuditStore, FullProgress, StoredCheckpoint};
use crate::trust::{AuditedLog, VerifiedHead};

/// What to do with a verified head, given the latest trusted one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing trusted yet: trust it (on first use).
    First,
    /// The trusted head again.
    Unchanged,
    /// Larger: trust it once the consistency proof from `from` (size, root) verifies.
    Extend {
        /// The trusted size.
        from: u64,
        /// The trusted root.
        from_root: Hash,
    },
}

/// The policy: what a new head of `(size, root)` means after `trusted`. `log` and `context`
/// (where the head came from, or empty) go into the error messages.
///
/// # Errors
/// [`AuditError::Shrank`] for a smaller size, [`AuditError::Fork`] for the same size and another
/// root.
pub fn decide(
    log: &str,
    trusted: Option<(u64, Hash)>,
    new: (u64, Hash),
    context: &str,
) -> Result<Step, AuditError> {
    let Some((size, root)) = trusted else {
        return Ok(Step::First);
    };
    if new.0 < size {
        return Err(AuditError::Shrank {
            log: log.to_owned(),
            trusted_size: size,
            size: new.0,
        });
    }
    if new.0 == size {
        if new.1 != root {
            return Err(AuditError::Fork {
                log: log.to_owned(),
                size,
                trusted_root: root.to_hex(),
                root: new.1.to_hex(),
                context: context.to_owned(),
            });
        }
        return Ok(Step::Unchanged);
    }
    Ok(Step::Extend {
        from: size,
        from_root: root,
    })
}

/// What a sync did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Synced {
    /// The size trusted before (none on first use).
    pub previous: Option<u64>,
    /// The head trusted now.
    pub head: StoredCheckpoint,
    /// What was decided.
    pub step: Step,
}

/// Where a `--full` run stands, for progress reports.
#[derive(Clone, Copy, Debug)]
pub struct FullStatus {
    /// Entries hashed (from index 0).
    pub done: u64,
    /// Entries to hash in all (the verified size).
    pub total: u64,
    /// Where this run started (after a resumed run, where the last one stopped).
    pub started_at: u64,
    /// Time since this run started.
    pub elapsed: Duration,
}

/// What a `--full` run checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FullReport {
    /// The size recomputed up to (the verified checkpoint's).
    pub size: u64,
    /// Where this run started (nonzero when it resumed an interrupted one).
    pub started_at: u64,
    /// How many verified checkpoints' roots were compared.
    pub checkpoints_compared: usize,
}

/// An inclusion proof checked against a head this auditor verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Included {
    /// The entry's index.
    pub index: u64,
    /// The tree size of the verified head.
    pub size: u64,
    /// Its root.
    pub root: Hash,
}

/// What a gossiped head told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gossip {
    /// The same head this auditor trusts.
    Same,
    /// An older head, consistent with (or stored in) this auditor's view.
    Older,
    /// A newer head, consistent with this auditor's view, now trusted.
    Newer,
}

/// Audits one log.
#[derive(Debug)]
pub struct Auditor<S: LogSource> {
    log: AuditedLog,
    name: String,
    key: String,
    source: Arc<S>,
    store: Arc<AuditStore>,
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl<S: LogSource> Auditor<S> {
    /// An auditor of `log` reading through `source`, remembering in `store`.
    pub fn new(log: AuditedLog, source: Arc<S>, store: Arc<AuditStore>) -> Self {
        Self {
            name: log.to_string(),
            key: log.store_key(),
            log,
            source,
            store,
        }
    }

    /// The log.
    pub fn log(&self) -> &AuditedLog {
        &self.log
    }

    /// The source it reads.
    pub fn source(&self) -> &Arc<S> {
        &self.source
    }

    /// The latest head this auditor trusts.
    pub fn trusted(&self) -> Result<Option<StoredCheckpoint>, AuditError> {
        self.store.latest(&self.key)
    }

    fn trusted_pair(&self) -> Result<Option<(StoredCheckpoint, Hash)>, AuditError> {
        self.trusted()?
            .map(|t| {
                let r = t.root_hash()?;
                Ok((t, r))
            })
            .transpose()
    }

    /// Fetches the log's latest head, verifies its signature, and trusts it if [`decide`] and
    /// the consistency proof allow.
    pub async fn sync(&self) -> Result<Synced, AuditError> {
        let raw = self.source.latest().await?;
        let head = self.log.verify_head(&raw)?;
        self.accept(head, "").await
    }

    /// Applies [`decide`] to a verified head and records it when it is trusted. `context` says
    /// where it came from, for messages.
    pub async fn accept(&self, head: VerifiedHead, context: &str) -> Result<Synced, AuditError> {
        let trusted = self.trusted_pair()?;
        if let (Some((t, _)), Some(origin)) = (&trusted, &head.origin)
            && let Some(old) = &t.origin
            && self.origin_identity(old) != self.origin_identity(origin)
        {
            return Err(AuditError::OriginChanged {
                log: self.name.clone(),
                size: head.size,
                trusted: old.clone(),
                got: origin.clone(),
            });
        }
        let step = decide(
            &self.name,
            trusted.as_ref().map(|(t, r)| (t.size, *r)),
            (head.size, head.root),
            context,
        )?;
        if let Step::Extend { from, from_root } = step {
            self.prove_consistency(from, from_root, head.size, head.root, context)
                .await?;
        }
        let stored = StoredCheckpoint {
            size: head.size,
            root: head.root.to_hex(),
            origin: head.origin,
            signed: head.signed,
            seen_unix: now_unix(),
        };
        if step != Step::Unchanged {
            self.store.record(&self.key, &stored)?;
        }
        Ok(Synced {
            previous: trusted.map(|(t, _)| t.size),
            head: stored,
            step,
        })
    }

    /// What of an origin line must not change: a C2SP log's whole origin; for Rekor v1
    /// (`<hostname> - <tree id>`) the tree ID, since the host name is how clients reach the
    /// log (a Hallmark server names itself after its public URL) and the key is what binds it.
    fn origin_identity<'a>(&self, origin: &'a str) -> &'a str {
        match self.log.kind() {
            crate::trust::LogKind::RekorV1 => origin.rsplit(" - ").next().unwrap_or(origin),
            _ => origin,
        }
    }

    async fn prove_consistency(
        &self,
        first: u64,
        first_root: Hash,
        second: u64,
        second_root: Hash,
        context: &str,
    ) -> Result<(), AuditError> {
        let proof = if first == 0 {
            Vec::new()
        } else {
            self.source.consistency_proof(first, second).await?
        };
        let result = if first == 0 {
            if first_root == EMPTY_ROOT {
                Ok(())
            } else {
                Err(hallmark_tlog::Error::RootMismatch)
            }
        } else {
            verify_consistency(first, second, &first_root.0, &second_root.0, &proof)
        };
        result.map_err(|source| AuditError::Inconsistent {
            log: self.name.as_str().into(),
            first,
            first_root,
            second,
            second_root,
            context: context.into(),
            source: Box::new(source),
        })
    }

    /// Checks a head another auditor saw (already verified with this log's key) against this
    /// auditor's view: the same size must have the same root; an older one must be a prefix of
    /// the trusted tree; a newer one must extend it (and is then trusted). `from` names the
    /// source for messages.
    pub async fn check_gossip(&self, head: VerifiedHead, from: &str) -> Result<Gossip, AuditError> {
        let context = format!(
            " (the checkpoint of size {} was gossiped by {from})",
            head.size
        );
        let Some((ours, ours_root)) = self.trusted_pair()? else {
            self.accept(head, &context).await?;
            return Ok(Gossip::Newer);
        };
        if head.size > ours.size {
            self.accept(head, &context).await?;
            return Ok(Gossip::Newer);
        }
        if head.size == ours.size {
            decide(
                &self.name,
                Some((ours.size, ours_root)),
                (head.size, head.root),
                &context,
            )?;
            return Ok(Gossip::Same);
        }
        if let Some(stored) = self.store.at(&self.key, head.size)? {
            decide(
                &self.name,
                Some((stored.size, stored.root_hash()?)),
                (head.size, head.root),
                &context,
            )?;
            return Ok(Gossip::Older);
        }
        self.prove_consistency(head.size, head.root, ours.size, ours_root, &context)
            .await?;
        Ok(Gossip::Older)
    }

    /// Re-reads every entry of the trusted tree, hashes them, and compares the recomputed root
    /// with every checkpoint this auditor verified along the way (the last being the latest
    /// trusted). Resumes an interrupted run of this log from the store, saving progress every
    /// `save_every`. `on_progress` is called after each piece read.
    pub async fn full(
        &self,
        concurrency: usize,
        save_every: Duration,
        on_progress: impl FnMut(&FullStatus),
    ) -> Result<FullReport, AuditError> {
        let report = self
            .walk(&self.key, concurrency, save_every, on_progress, |_, _| {
                Ok(())
            })
            .await?;
        // A full sync recomputes everything each time it runs.
        self.store.set_full_progress(&self.key, None)?;
        Ok(report)
    }

    /// Reads the entries the cursor `name` has not yet passed, up to the latest trusted head,
    /// handing each to `on_entry` (index, bytes) in log order, and checks the recomputed roots
    /// against every verified checkpoint on the way, as [`Auditor::full`] does. The cursor (its
    /// position and the tree's frontier there) is saved every `save_every` and at the end, so
    /// the next call goes on from there: `hallmark audit watch`. An entry handed out before a
    /// crash may be handed out again by the next call; an entry is never skipped.
    ///
    /// # Errors
    /// As [`Auditor::full`], and whatever `on_entry` returns (the cursor then stays at the last
    /// save).
    pub async fn follow(
        &self,
        name: &str,
        concurrency: usize,
        save_every: Duration,
        on_progress: impl FnMut(&FullStatus),
        on_entry: impl FnMut(u64, &[u8]) -> Result<(), AuditError>,
    ) -> Result<FullReport, AuditError> {
        let key = format!("{}#follow:{name}", self.key);
        self.walk(&key, concurrency, save_every, on_progress, on_entry)
            .await
    }

    /// The loop of [`Auditor::full`] and [`Auditor::follow`]: progress kept under `key`, saved
    /// every `save_every` and at the end.
    async fn walk(
        &self,
        key: &str,
        concurrency: usize,
        save_every: Duration,
        mut on_progress: impl FnMut(&FullStatus),
        mut on_entry: impl FnMut(u64, &[u8]) -> Result<(), AuditError>,
    ) -> Result<FullReport, AuditError> {
        let Some((trusted, _)) = self.trusted_pair()? else {
            return Err(AuditError::malformed(
                &self.name,
                "full sync",
                "no verified checkpoint to recompute (sync first)",
            ));
        };
        let total = trusted.size;
        let mut frontier = match self.store.full_progress(key)? {
            Some(p) if p.next <= total && p.target <= total => {
                let hashes = p
                    .frontier
                    .iter()
                    .map(|h| Hash::from_hex(h))
                    .collect::<Result<Vec<_>, _>>()
                    .and_then(|h| Frontier::from_hashes(p.next, h));
                match hashes {
                    Ok(f) => f,
                    Err(_) => Frontier::new(),
                }
            }
            _ => Frontier::new(),
        };
        let started_at = frontier.size();
        let checkpoints = self.store.between(&self.key, started_at + 1, total)?;
        let mut next_cp = checkpoints.iter().peekable();
        let mut compared = 0usize;
        let started = Instant::now();
        let mut last_save = Instant::now();
        let mut range = EntryRange::new(self.source.clone(), started_at, total, total, concurrency);
        let mut scratch = Vec::with_capacity(64);
        while let Some(chunk) = range.next().await {
            let chunk = chunk?;
            if chunk.start != frontier.size() {
                return Err(AuditError::malformed(
                    &self.name,
                    "entries",
                    format!("expected index {}, got {}", frontier.size(), chunk.start),
                ));
            }
            for (index, data, leaf) in chunk.iter() {
                on_entry(index, data)?;
                scratch.clear();
                frontier.append_into(*leaf, &mut scratch);
                if next_cp.peek().is_some_and(|c| c.size == frontier.size())
                    && let Some(cp) = next_cp.next()
                {
                    let computed = frontier.root();
                    if computed.to_hex() != cp.root {
                        return Err(AuditError::RootMismatch {
                            log: self.name.clone(),
                            size: cp.size,
                            signed: cp.root.clone(),
                            computed: computed.to_hex(),
                        });
                    }
                    compared += 1;
                }
            }
            on_progress(&FullStatus {
                done: frontier.size(),
                total,
                started_at,
                elapsed: started.elapsed(),
            });
            if last_save.elapsed() >= save_every {
                self.save_progress(key, total, &frontier)?;
                last_save = Instant::now();
            }
        }
        if frontier.size() != total {
            return Err(AuditError::malformed(
                &self.name,
                "entries",
                format!("read {} entries of {total}", frontier.size()),
            ));
        }
        if total == 0 && trusted.root != EMPTY_ROOT.to_hex() {
            return Err(AuditError::RootMismatch {
                log: self.name.clone(),
                size: 0,
                signed: trusted.root,
                computed: EMPTY_ROOT.to_hex(),
            });
        }
        self.save_progress(key, total, &frontier)?;
        Ok(FullReport {
            size: total,
            started_at,
            checkpoints_compared: compared,
        })
    }

    fn save_progress(&self, key: &str, target: u64, frontier: &Frontier) -> Result<(), AuditError> {
        self.store.set_full_progress(
            key,
            Some(&FullProgress {
                target,
                next: frontier.size(),
                frontier: frontier.hashes().iter().map(Hash::to_hex).collect(),
            }),
        )
    }

    /// Proves that entry `index` with leaf hash `leaf` is in a tree this auditor verified: the
    /// latest trusted head (synced first when the entry lies beyond it), or, for a log that
    /// proves only against its newest tree (Rekor v1), that tree's head once it is verified and
    /// proven consistent with the trusted one.
    pub async fn inclusion(&self, index: u64, leaf: Hash) -> Result<Included, AuditError> {
        let mut trusted = self.trusted_pair()?;
        if trusted.as_ref().is_none_or(|(t, _)| index >= t.size) {
            self.sync().await?;
            trusted = self.trusted_pair()?;
        }
        let Some((t, mut root)) = trusted else {
            return Err(AuditError::malformed(
                &self.name,
                "inclusion",
                "no verified checkpoint",
            ));
        };
        let not_included = |size: u64, root: &Hash, reason: String| AuditError::NotIncluded {
            log: self.name.as_str().into(),
            index,
            leaf,
            size,
            root: *root,
            reason: reason.into(),
        };
        if index >= t.size {
            return Err(not_included(
                t.size,
                &root,
                format!(
                    "index {index} is beyond the verified tree of size {}",
                    t.size
                ),
            ));
        }
        let answer = match self.source.inclusion_proof(index, leaf, t.size).await {
            // The log says it has no such leaf in that tree (a CT log looks proofs up by hash).
            Err(AuditError::Status {
                status: 404, body, ..
            }) => {
                return Err(not_included(
                    t.size,
                    &root,
                    format!("the log has no inclusion proof for it: {body}"),
                ));
            }
            r => r?,
        };
        let mut size = t.size;
        if answer.size != t.size {
            let signed = answer.signed_head.as_deref().ok_or_else(|| {
                AuditError::malformed(
                    &self.name,
                    "inclusion proof",
                    format!("a proof for size {} without its checkpoint", answer.size),
                )
            })?;
            let head = self.log.verify_head(signed)?;
            if head.size != answer.size {
                return Err(AuditError::malformed(
                    &self.name,
                    "inclusion proof",
                    format!(
                        "a proof for size {} with a checkpoint of size {}",
                        answer.size, head.size
                    ),
                ));
            }
            root = head.root;
            size = head.size;
            self.accept(head, " (the checkpoint of an inclusion proof)")
                .await?;
        }
        verify_inclusion(index, size, &leaf.0, &answer.proof, &root.0)
            .map_err(|e| not_included(size, &root, e.to_string()))?;
        Ok(Included { index, size, root })
    }
}

/// The signed heads in a gossip document: a checkpoint note, `get-sth` JSON, or what
/// `hallmark audit checkpoints` prints (JSON lines, or a JSON array, of objects with `signed`).
///
/// # Errors
/// [`AuditError::Malformed`] when it is none of these.
pub fn parse_gossip(source: &str, bytes: &[u8]) -> Result<Vec<String>, AuditError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| AuditError::malformed(source, "gossip", "not UTF-8"))?;
    let trimmed = text.trim_start();
    if !trimmed.starts_with('{') && !trimmed.starts_with('[') {
        return Ok(vec![text.to_owned()]);
    }
    let mut values = Vec::new();
    for item in serde_json::Deserializer::from_str(trimmed).into_iter::<serde_json::Value>() {
        match item.map_err(|e| AuditError::malformed(source, "gossip JSON", e))? {
            serde_json::Value::Array(a) => values.extend(a),
            v => values.push(v),
        }
    }
    let mut out = Vec::new();
    for v in values {
        if v.get("tree_head_signature").is_some() {
            out.push(v.to_string());
        } else if let Some(s) = v.get("signed").and_then(|s| s.as_str()) {
            out.push(s.to_owned());
        } else {
            return Err(AuditError::malformed(
                source,
                "gossip JSON",
                "an object that is neither a get-sth answer nor has a \"signed\" head",
            ));
        }
    }
    if out.is_empty() {
        return Err(AuditError::malformed(
            source,
            "gossip",
            "no checkpoint in it",
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use hallmark_tlog::leaf_hash;
    use hallmark_tlog::note::{Checkpoint, NoteSigner as _};
    use hallmark_tlog::tree::{MemoryHashes, consistency_proof, inclusion_proof};
    use p256::ecdsa::SigningKey;
    use proptest::prelude::*;

    use super::*;
    use crate::source::InclusionAnswer;
    use crate::trust::LogKind;

    /// A log in memory whose history can be rewritten, counting requests.
    struct MemLog {
        key: SigningKey,
        entries: Mutex<Vec<Vec<u8>>>,
        served: Mutex<Option<u64>>,
        requests: AtomicUsize,
    }

    impl MemLog {
        fn new(n: u64) -> Self {
            let log = Self {
                key: SigningKey::from_slice(&[5u8; 32]).unwrap(),
                entries: Mutex::new(Vec::new()),
                served: Mutex::new(None),
                requests: AtomicUsize::new(0),
            };
            log.grow(n, "a");
            log
        }
        fn grow(&self, n: u64, tag: &str) {
            let mut e = self.entries.lock().unwrap();
            for _ in 0..n {
                let i = e.len();
                e.push(format!("{tag}{i}").into_bytes());
            }
        }
        fn tree(&self, size: Option<u64>) -> MemoryHashes {
            let e = self.entries.lock().unwrap();
            let n = size.unwrap_or(e.len() as u64) as usize;
            let mut m = MemoryHashes::new();
            for d in &e[..n] {
                m.append(leaf_hash(d));
            }
            m
        }
        fn note(&self, size: u64, root: Hash) -> String {
            let id = self.key.note_key("mem.example").unwrap();
            Checkpoint::new("mem.example", size, root)
                .sign(&id, &self.key)
                .unwrap()
        }
        fn audited(&self) -> AuditedLog {
            AuditedLog::ecdsa_checkpoints(LogKind::RekorV2, "mem://", *self.key.verifying_key())
                .unwrap()
        }
    }

    impl LogSource for MemLog {
        async fn latest(&self) -> Result<Vec<u8>, AuditError> {
            self.requests.fetch_add(1, Ordering::Relaxed);
            let size = *self.served.lock().unwrap();
            let t = self.tree(size);
            Ok(self.note(t.size(), t.root()).into_bytes())
        }
        async fn consistency_proof(
            &self,
            first: u64,
            second: u64,
        ) -> Result<Vec<Hash>, AuditError> {
            self.requests.fetch_add(1, Ordering::Relaxed);
            Ok(consistency_proof(first, second, &self.tree(None)).unwrap())
        }
        async fn inclusion_proof(
            &self,
            index: u64,
            _: Hash,
            size: u64,
        ) -> Result<InclusionAnswer, AuditError> {
            self.requests.fetch_add(1, Ordering::Relaxed);
            Ok(InclusionAnswer {
                proof: inclusion_proof(index, size, &self.tree(None)).unwrap(),
                size,
                signed_head: None,
            })
        }
        async fn entries(&self, start: u64, end: u64, _: u64) -> Result<Vec<Vec<u8>>, AuditError> {
            self.requests.fetch_add(1, Ordering::Relaxed);
            let e = self.entries.lock().unwrap();
            Ok(e[start as usize..end.min(start + 7) as usize].to_vec())
        }
        fn page(&self) -> u64 {
            7
        }
    }

    fn auditor(log: Arc<MemLog>, store: Arc<AuditStore>) -> Auditor<MemLog> {
        Auditor::new(log.audited(), log, store)
    }

    #[test]
    fn the_policy() {
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        assert_eq!(decide("l", None, (5, a), "").unwrap(), Step::First);
        assert_eq!(
            decide("l", Some((5, a)), (5, a), "").unwrap(),
            Step::Unchanged
        );
        assert_eq!(
            decide("l", Some((5, a)), (9, b), "").unwrap(),
            Step::Extend {
                from: 5,
                from_root: a
            }
        );
        let e = decide("l", Some((5, a)), (4, a), "").unwrap_err();
        assert!(e.to_string().contains("shrank from 5 to 4"), "{e}");
        let e = decide("l", Some((5, a)), (5, b), "").unwrap_err();
        assert!(matches!(e, AuditError::Fork { size: 5, .. }));
        assert!(e.to_string().contains(&a.to_hex()) && e.to_string().contains(&b.to_hex()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn honest_growth_rewrites_and_forks() {
        let log = Arc::new(MemLog::new(10));
        let store = Arc::new(AuditStore::in_memory().unwrap());
        let a = auditor(log.clone(), store.clone());
        assert_eq!(a.sync().await.unwrap().step, Step::First);
        log.grow(25, "a");
        let s = a.sync().await.unwrap();
        assert_eq!((s.previous, s.head.size), (Some(10), 35));
        assert_eq!(a.sync().await.unwrap().step, Step::Unchanged);
        let full = a.full(3, Duration::ZERO, |_| {}).await.unwrap();
        assert_eq!((full.size, full.checkpoints_compared), (35, 2));
        a.inclusion(17, leaf_hash(b"a17")).await.unwrap();
        let e = a.inclusion(17, leaf_hash(b"x")).await.unwrap_err();
        assert!(
            e.to_string().contains("entry 17") && e.to_string().contains("size 35"),
            "{e}"
        );

        // An entry changed: the signed tree is not what the entries hash to.
        log.entries.lock().unwrap()[3] = b"changed".to_vec();
        log.grow(5, "a");
        let e = a.sync().await.unwrap_err();
        assert!(
            matches!(
                e,
                AuditError::Inconsistent {
                    first: 35,
                    second: 40,
                    ..
                }
            ),
            "{e}"
        );
        // Forked history: the first 20 entries kept, different ones after.
        log.entries.lock().unwrap().truncate(20);
        log.entries.lock().unwrap()[3] = b"a3".to_vec();
        log.grow(15, "b");
        let e = a.sync().await.unwrap_err();
        assert!(e.to_string().contains("fork at size 35"), "{e}");
        log.grow(10, "b");
        let e = a.sync().await.unwrap_err();
        assert!(
            e.to_string().contains("size 45") && e.to_string().contains("size 35"),
            "{e}"
        );
        // Truncated.
        log.entries.lock().unwrap().truncate(30);
        let e = a.sync().await.unwrap_err();
        assert!(e.to_string().contains("shrank from 35 to 30"), "{e}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn follow_hands_out_each_entry_once_and_resumes_at_the_end() {
        let log = Arc::new(MemLog::new(100));
        let store = Arc::new(AuditStore::in_memory().unwrap());
        let a = auditor(log.clone(), store.clone());
        a.sync().await.unwrap();
        let mut seen = Vec::new();
        let r = a
            .follow(
                "w",
                2,
                Duration::ZERO,
                |_| {},
                |i, _| {
                    seen.push(i);
                    Ok(())
                },
            )
            .await
            .unwrap();
        assert_eq!(seen, (0..100).collect::<Vec<_>>());
        assert_eq!((r.started_at, r.size), (0, 100));
        // Nothing new: nothing handed out; another cursor starts from the beginning.
        let mut again = 0;
        a.follow(
            "w",
            2,
            Duration::ZERO,
            |_| {},
            |_, _| {
                again += 1;
                Ok(())
            },
        )
        .await
        .unwrap();
        assert_eq!(again, 0);
        log.grow(5, "more");
        a.sync().await.unwrap();
        let mut new = Vec::new();
        a.follow(
            "w",
            2,
            Duration::ZERO,
            |_| {},
            |i, d| {
                new.push((i, d.to_vec()));
                Ok(())
            },
        )
        .await
        .unwrap();
        assert_eq!(
            new.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            (100..105).collect::<Vec<_>>()
        );
        let mut other = 0;
        a.follow(
            "other",
            2,
            Duration::ZERO,
            |_| {},
            |_, _| {
                other += 1;
                Ok(())
            },
        )
        .await
        .unwrap();
        assert_eq!(other, 105);
        // An entry changed behind the cursor's back is caught when its root is recomputed.
        log.entries.lock().unwrap()[102] = b"changed".to_vec();
        let e = a
            .follow("third", 2, Duration::ZERO, |_| {}, |_, _| Ok(()))
            .await
            .unwrap_err();
        assert!(matches!(e, AuditError::RootMismatch { .. }), "{e}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn full_detects_a_changed_entry_and_resumes() {
        let log = Arc::new(MemLog::new(100));
        let store = Arc::new(AuditStore::in_memory().unwrap());
        let a = auditor(log.clone(), store.clone());
        a.sync().await.unwrap();
        // Progress saved after each piece; stop after 50 entries by failing the callback's run.
        store.set_full_progress(&a.log().store_key(), None).unwrap();
        let mut f = Frontier::new();
        for i in 0..49u64 {
            f.append(leaf_hash(format!("a{i}").as_bytes()));
        }
        a.save_progress(&a.log().store_key(), 100, &f).unwrap();
        let r = a.full(2, Duration::ZERO, |_| {}).await.unwrap();
        assert_eq!((r.started_at, r.size), (49, 100));
        assert!(store.full_progress(&a.log().store_key()).unwrap().is_none());

        log.entries.lock().unwrap()[60] = b"changed".to_vec();
        let e = a.full(2, Duration::ZERO, |_| {}).await.unwrap_err();
        assert!(
            matches!(e, AuditError::RootMismatch { size: 100, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("0..100"), "{e}");
    }

    /// Incremental sync per new checkpoint costs O(1) requests here (one head, one proof) and
    /// O(log n) hashes (the proof).
    #[tokio::test]
    async fn incremental_sync_costs_two_requests() {
        let log = Arc::new(MemLog::new(1000));
        let store = Arc::new(AuditStore::in_memory().unwrap());
        let a = auditor(log.clone(), store);
        a.sync().await.unwrap();
        for _ in 0..5 {
            log.grow(333, "a");
            log.requests.store(0, Ordering::Relaxed);
            a.sync().await.unwrap();
            assert_eq!(log.requests.load(Ordering::Relaxed), 2);
        }
    }

    #[tokio::test]
    async fn gossip_detects_a_split_view() {
        let log = Arc::new(MemLog::new(10));
        let a = auditor(log.clone(), Arc::new(AuditStore::in_memory().unwrap()));
        a.sync().await.unwrap();
        // Another auditor was shown a different tree of the same size.
        let other = MemLog::new(0);
        other.grow(10, "z");
        let t = other.tree(None);
        let theirs = log
            .audited()
            .verify_head(log.note(10, t.root()).as_bytes())
            .unwrap();
        let e = a.check_gossip(theirs, "peer").await.unwrap_err();
        assert!(
            e.to_string().contains("fork at size 10") && e.to_string().contains("peer"),
            "{e}"
        );
        // ... or a smaller one that is not a prefix.
        let t = other.tree(Some(6));
        let theirs = log
            .audited()
            .verify_head(log.note(6, t.root()).as_bytes())
            .unwrap();
        let e = a.check_gossip(theirs, "peer").await.unwrap_err();
        assert!(
            matches!(
                e,
                AuditError::Inconsistent {
                    first: 6,
                    second: 10,
                    ..
                }
            ),
            "{e}"
        );
        // An honest older and newer head are fine.
        let t = log.tree(Some(4));
        let older = log
            .audited()
            .verify_head(log.note(4, t.root()).as_bytes())
            .unwrap();
        assert_eq!(a.check_gossip(older, "peer").await.unwrap(), Gossip::Older);
        log.grow(3, "a");
        let t = log.tree(None);
        let newer = log
            .audited()
            .verify_head(log.note(13, t.root()).as_bytes())
            .unwrap();
        assert_eq!(a.check_gossip(newer, "peer").await.unwrap(), Gossip::Newer);
        assert_eq!(a.trusted().unwrap().unwrap().size, 13);
    }

    #[test]
    fn a_head_signed_by_another_key_is_refused() {
        let log = MemLog::new(3);
        let mut other = MemLog::new(3);
        other.key = SigningKey::from_slice(&[9u8; 32]).unwrap();
        let t = other.tree(None);
        let e = log
            .audited()
            .verify_head(other.note(3, t.root()).as_bytes())
            .unwrap_err();
        assert!(matches!(e, AuditError::Signature { .. }), "{e}");
        assert!(e.to_string().contains("size 3"), "{e}");
    }

    #[test]
    fn gossip_documents() {
        let note = "o\n1\nAAAA\n\n\u{2014} o AAAAAAA=\n";
        assert_eq!(parse_gossip("f", note.as_bytes()).unwrap(), [note]);
        let lines = format!(
            "{}\n{}\n",
            serde_json::json!({"log": "v2:aa", "signed": note}),
            serde_json::json!({"tree_size": 1, "timestamp": 2, "sha256_root_hash": "", "tree_head_signature": ""})
        );
        let got = parse_gossip("f", lines.as_bytes()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], note);
        assert!(parse_gossip("f", b"{\"x\": 1}").is_err());
        assert!(parse_gossip("f", b"[]").is_err());
        assert!(parse_gossip("f", b"{").is_err());
    }

    proptest! {
        #[test]
        fn gossip_parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = parse_gossip("p", &bytes);
        }

        #[test]
        fn gossip_json_never_panics(s in "[\\[\\]{}\":,a-z0-9 \n]{0,80}") {
            let _ = parse_gossip("p", s.as_bytes());
        }
    }
}
