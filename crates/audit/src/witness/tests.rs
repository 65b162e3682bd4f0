#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use hallmark_tlog::leaf_hash;
use hallmark_tlog::note::{Ed25519NoteSigner, NoteSigner};
use hallmark_tlog::tree::{MemoryHashes, consistency_proof, root_at};
use proptest::prelude::*;

use super::*;

const ORIGIN: &str = "log.example/test";
const NOW: u64 = 1_800_000_000;

/// A log: its leaves and Ed25519 checkpoint key.
struct Log {
    tree: MemoryHashes,
    key: Ed25519NoteSigner<ed25519_dalek::SigningKey>,
    origin: String,
}

impl Log {
    fn new(seed: u8) -> Self {
        Self {
            tree: MemoryHashes::new(),
            key: Ed25519NoteSigner(ed25519_dalek::SigningKey::from_bytes(&[seed; 32])),
            origin: ORIGIN.to_owned(),
        }
    }

    fn grow(&mut self, n: u64, tag: u8) {
        for i in 0..n {
            let i = self.tree.size() + i;
            self.tree.append(leaf_hash(&[tag, i as u8, (i >> 8) as u8]));
        }
    }

    fn vkey(&self) -> String {
        NoteVerifier::ed25519(&self.origin, self.key.0.verifying_key())
            .unwrap()
            .vkey()
            .unwrap()
    }

    fn checkpoint_at(&self, size: u64) -> String {
        let root = root_at(size, &self.tree).unwrap();
        let id = self.key.note_key(&self.origin).unwrap();
        Checkpoint::new(self.origin.clone(), size, root)
            .sign(&id, &self.key)
            .unwrap()
    }

    fn request(&self, old: u64, size: u64) -> Vec<u8> {
        let proof = if old == 0 || old == size {
            vec![]
        } else {
            consistency_proof(old, size, &self.tree).unwrap()
        };
        AddCheckpoint {
            old_size: old,
            proof,
            checkpoint: self.checkpoint_at(size),
        }
        .encode()
        .into_bytes()
    }
}

fn witness(log: &Log, state: Arc<dyn WitnessState>) -> Witness<ed25519_dalek::SigningKey> {
    let mut logs = LogRegistry::new();
    logs.add_spec(&log.vkey()).unwrap();
    Witness::new(
        "witness.example/w1",
        ed25519_dalek::SigningKey::from_bytes(&[42; 32]),
        logs,
        state,
    )
    .unwrap()
}

fn status(r: Result<String, WitnessError>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e.status(),
    }
}

#[test]
fn honest_growth_is_cosigned_and_verifies() {
    let mut log = Log::new(1);
    let w = witness(&log, Arc::new(MemoryState::default()));
    let v = CosignatureVerifier::from_vkey(w.vkey()).unwrap();
    log.grow(5, 0);
    let line = w.add_checkpoint(&log.request(0, 5), NOW).unwrap();
    let note = Note::parse(&format!("{}{line}", log.checkpoint_at(5))).unwrap();
    assert_eq!(v.verify(&note).unwrap(), NOW);
    log.grow(13, 0);
    w.add_checkpoint(&log.request(5, 18), NOW + 1).unwrap();
    // The same checkpoint again: cosigned again.
    w.add_checkpoint(&log.request(18, 18), NOW + 2).unwrap();
    let latest = w.latest(ORIGIN).unwrap().unwrap();
    assert_eq!(latest.size, 18);
    assert_eq!(
        v.verify(&Note::parse(&latest.note).unwrap()).unwrap(),
        NOW + 2
    );
}

#[test]
fn each_refusal_has_the_specs_status() {
    let mut log = Log::new(1);
    let w = witness(&log, Arc::new(MemoryState::default()));
    log.grow(8, 0);
    assert_eq!(status(w.add_checkpoint(b"garbage", NOW)), 400);
    // Unknown origin: 404.
    let mut other = Log::new(1);
    other.origin = "other.example/log".to_owned();
    other.grow(3, 0);
    assert_eq!(status(w.add_checkpoint(&other.request(0, 3), NOW)), 404);
    // Right origin, another key: 403.
    let mut forger = Log::new(2);
    forger.grow(3, 0);
    assert_eq!(status(w.add_checkpoint(&forger.request(0, 3), NOW)), 403);
    // old > size: 400.
    let mut body = log.request(0, 4);
    body.splice(0..5, b"old 9".iter().copied());
    assert_eq!(status(w.add_checkpoint(&body, NOW)), 400);
    // Nothing cosigned yet, old 3: 409 naming 0.
    let e = w.add_checkpoint(&log.request(3, 8), NOW).unwrap_err();
    assert!(
        matches!(
            e,
            WitnessError::SizeMismatch {
                latest: 0,
                old: 3,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(e.status(), 409);
    w.add_checkpoint(&log.request(0, 4), NOW).unwrap();
    // Replayed old 0: 409 naming 4.
    let e = w.add_checkpoint(&log.request(0, 8), NOW).unwrap_err();
    assert!(
        matches!(e, WitnessError::SizeMismatch { latest: 4, .. }),
        "{e}"
    );
    // A proof that does not hold: 422.
    let mut bad = AddCheckpoint::parse(&log.request(4, 8)).unwrap();
    bad.proof[0] = leaf_hash(b"wrong");
    let e = w.add_checkpoint(bad.encode().as_bytes(), NOW).unwrap_err();
    assert_eq!(e.status(), 422, "{e}");
    assert!(
        e.to_string().contains("size 8") && e.to_string().contains("size 4"),
        "{e}"
    );
    // The state did not move.
    assert_eq!(w.latest(ORIGIN).unwrap().unwrap().size, 4);
    assert_eq!(status(w.add_checkpoint(&log.request(4, 8), NOW)), 200);
}

#[test]
fn a_fork_is_refused() {
    let mut log = Log::new(1);
    let w = witness(&log, Arc::new(MemoryState::default()));
    log.grow(6, 0);
    w.add_checkpoint(&log.request(0, 6), NOW).unwrap();
    // The same key signs another history: the first 4 entries, then different ones.
    let mut fork = Log::new(1);
    fork.tree = MemoryHashes::new();
    for i in 0..4u64 {
        fork.tree.append(leaf_hash(&[0, i as u8, 0]));
    }
    fork.grow(2, 9);
    // Same size, different root: 422.
    let e = w.add_checkpoint(&fork.request(6, 6), NOW).unwrap_err();
    assert_eq!(e.status(), 422);
    assert!(e.to_string().contains("fork"), "{e}");
    // An extension of the fork from 6: its proof starts from the fork's root, not the cosigned
    // one: 422.
    fork.grow(5, 9);
    let e = w.add_checkpoint(&fork.request(6, 11), NOW).unwrap_err();
    assert_eq!(e.status(), 422, "{e}");
    // A non-empty proof from 0, or between equal sizes: 422.
    let mut req = AddCheckpoint::parse(&log.request(6, 6)).unwrap();
    req.proof = vec![leaf_hash(b"x")];
    assert_eq!(status(w.add_checkpoint(req.encode().as_bytes(), NOW)), 422);
    // An empty tree with another root: 422.
    let mut empty = Log::new(1);
    empty.origin = ORIGIN.to_owned();
    let id = empty.key.note_key(ORIGIN).unwrap();
    let cp = Checkpoint::new(ORIGIN, 0, leaf_hash(b"not empty"))
        .sign(&id, &empty.key)
        .unwrap();
    let body = AddCheckpoint {
        old_size: 0,
        proof: vec![],
        checkpoint: cp,
    }
    .encode();
    assert_eq!(status(w.add_checkpoint(body.as_bytes(), NOW)), 422);
}

#[test]
fn redb_state_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("witness.redb");
    let mut log = Log::new(1);
    log.grow(7, 0);
    {
        let w = witness(&log, Arc::new(RedbState::open(&path).unwrap()));
        w.add_checkpoint(&log.request(0, 7), NOW).unwrap();
    }
    let w = witness(&log, Arc::new(RedbState::open(&path).unwrap()));
    assert_eq!(w.latest(ORIGIN).unwrap().unwrap().size, 7);
    let e = w.add_checkpoint(&log.request(0, 7), NOW).unwrap_err();
    assert!(
        matches!(e, WitnessError::SizeMismatch { latest: 7, .. }),
        "{e}"
    );
    log.grow(1, 0);
    w.add_checkpoint(&log.request(7, 8), NOW).unwrap();
}

/// Two requests from the same old size race: exactly one advances the state.
#[test]
fn concurrent_requests_cannot_both_advance() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = Log::new(1);
    log.grow(3, 0);
    let w = Arc::new(witness(
        &log,
        Arc::new(RedbState::open(&dir.path().join("w.redb")).unwrap()),
    ));
    w.add_checkpoint(&log.request(0, 3), NOW).unwrap();
    let mut a = Log::new(1);
    a.tree = log.tree.clone();
    a.grow(4, 1);
    let mut b = Log::new(1);
    b.tree = log.tree.clone();
    b.grow(4, 2);
    let (ra, rb) = (a.request(3, 7), b.request(3, 7));
    let results: Vec<u16> = std::thread::scope(|s| {
        let hs: Vec<_> = [ra, rb]
            .into_iter()
            .flat_map(|r| std::iter::repeat_n(r, 8))
            .map(|r| {
                let w = Arc::clone(&w);
                s.spawn(move || status(w.add_checkpoint(&r, NOW)))
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    // One of the two views got cosigned (perhaps several times); the other was always refused.
    let latest = w.latest(ORIGIN).unwrap().unwrap();
    let winner_a = latest.root == a.tree.root();
    let (wins, losses) = results.split_at(8);
    let (wins, losses) = if winner_a {
        (wins, losses)
    } else {
        (losses, wins)
    };
    assert!(wins.iter().all(|&s| s == 200 || s == 409), "{results:?}");
    assert!(wins.contains(&200), "{results:?}");
    assert!(losses.iter().all(|&s| s == 409 || s == 422), "{results:?}");
}

#[test]
fn registry_specs() {
    let log = Log::new(1);
    let mut r = LogRegistry::new();
    r.add_spec(&format!("custom/origin={}", log.vkey()))
        .unwrap();
    r.add_spec(&log.vkey()).unwrap();
    assert_eq!(
        r.origins().collect::<Vec<_>>(),
        vec!["custom/origin", ORIGIN]
    );
    assert!(r.add_spec("origin=not a vkey").is_err());
    assert!(r.add_spec("").is_err());
}

proptest! {
    /// Any request body: an answer, never a panic, and only a well-formed honest one is cosigned.
    #[test]
    fn add_checkpoint_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let log = Log::new(1);
        let w = witness(&log, Arc::new(MemoryState::default()));
        prop_assert!(w.add_checkpoint(&body, NOW).is_err());
    }

    /// Honest growth in random steps is always cosigned; the state follows it.
    #[test]
    fn honest_growth_in_any_steps(steps in proptest::collection::vec(0u64..40, 1..6)) {
        let mut log = Log::new(1);
        let w = witness(&log, Arc::new(MemoryState::default()));
        let mut old = 0;
        for n in steps {
            log.grow(n, 0);
            let size = log.tree.size();
            prop_assert!(w.add_checkpoint(&log.request(old, size), NOW).is_ok());
            old = size;
        }
        prop_assert_eq!(w.latest(ORIGIN).unwrap().map_or(0, |c| c.size), old);
    }
}
