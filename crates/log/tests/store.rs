//! One suite, run against every `LogStore` implementation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hallmark_log::store::{Batch, LogStore, MemoryStore, NewEntry};
use hallmark_log::{RedbStore, StoreError};
use hallmark_tlog::leaf_hash;
use hallmark_tlog::tree::{Frontier, HashReader, MemoryHashes, root_at};

struct Reader<'a>(&'a dyn LogStore);
impl HashReader for Reader<'_> {
    type Error = StoreError;
    fn read_hashes(&self, i: &[u64]) -> Result<Vec<hallmark_tlog::Hash>, StoreError> {
        self.0.read_hashes(i)
    }
}

fn append(store: &dyn LogStore, frontier: &mut Frontier, datas: &[&str], ms: u64, keep: bool) {
    let first = frontier.size();
    let entries: Vec<NewEntry> = datas
        .iter()
        .map(|d| NewEntry {
            data: d.as_bytes().to_vec(),
            index_keys: vec![format!("key:{}", &d[..1])],
        })
        .collect();
    let leaves: Vec<_> = entries.iter().map(|e| leaf_hash(&e.data)).collect();
    let mut hashes = Vec::new();
    for l in &leaves {
        frontier.append_into(*l, &mut hashes);
    }
    let note = format!("checkpoint {}\n", frontier.size());
    store
        .append(&Batch {
            first_index: first,
            integrated_ms: ms,
            entries: &entries,
            leaf_hashes: &leaves,
            tree_hashes: &hashes,
            checkpoint: &note,
            keep_checkpoint: keep,
        })
        .unwrap();
}

fn suite(store: &dyn LogStore) {
    assert_eq!(store.state().unwrap().size, 0);
    assert_eq!(store.state().unwrap().checkpoint, None);
    let mut f = Frontier::new();
    append(store, &mut f, &["a1", "b1", "a2"], 1000, true);
    append(store, &mut f, &["c1"], 2000, false);
    append(store, &mut f, &["a3", "b2"], 3000, true);

    let st = store.state().unwrap();
    assert_eq!(st.size, 6);
    assert_eq!(st.checkpoint.as_deref(), Some("checkpoint 6\n"));

    let e = store.entry(3).unwrap().unwrap();
    assert_eq!(
        (e.integrated_ms, e.data.as_slice()),
        (2000, b"c1".as_slice())
    );
    assert_eq!(store.entry(6).unwrap(), None);
    let all = store.entries(0, 100).unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(all[5].data, b"b2");
    assert!(store.entries(4, 2).unwrap().is_empty());
    assert_eq!(store.entries(5, 6).unwrap().len(), 1);

    let found = store
        .find_leaves(&[leaf_hash(b"a2"), leaf_hash(b"nope"), leaf_hash(b"b2")])
        .unwrap();
    assert_eq!(found, vec![Some(2), None, Some(5)]);

    assert_eq!(store.search("key:a", 10).unwrap(), vec![0, 2, 4]);
    assert_eq!(store.search("key:a", 2).unwrap(), vec![0, 2]);
    assert!(store.search("key:z", 10).unwrap().is_empty());

    let history = store.checkpoints(0, 100).unwrap();
    assert_eq!(
        history.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        vec![3, 6]
    );
    assert!(store.checkpoints(7, 3).unwrap().is_empty());

    // The stored hashes reproduce every root, as an independent in-memory tree computes it.
    let mut m = MemoryHashes::new();
    for d in ["a1", "b1", "a2", "c1", "a3", "b2"] {
        m.append(leaf_hash(d.as_bytes()));
        assert_eq!(root_at(m.size(), &Reader(store)).unwrap(), m.root());
    }
    assert_eq!(f.root(), m.root());

    // A batch that does not start at the end of the log is refused and changes nothing.
    let err = store
        .append(&Batch {
            first_index: 2,
            integrated_ms: 1,
            entries: &[NewEntry::new("x")],
            leaf_hashes: &[leaf_hash(b"x")],
            tree_hashes: &[leaf_hash(b"x")],
            checkpoint: "bad\n",
            keep_checkpoint: false,
        })
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::NotContiguous {
            batch_start: 2,
            stored_size: 6
        }
    ));
    assert_eq!(store.state().unwrap().size, 6);
    // Reading past the tree is an error, not a panic.
    assert!(store.read_hashes(&[1_000_000]).is_err());
}

#[test]
fn memory_store() {
    suite(&MemoryStore::new());
}

#[test]
fn redb_store_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.redb");
    {
        let s = RedbStore::open(&path).unwrap();
        suite(&s);
    }
    let s = RedbStore::open(&path).unwrap();
    assert_eq!(s.state().unwrap().size, 6);
    assert_eq!(s.entry(5).unwrap().unwrap().data, b"b2");
}

#[test]
fn redb_refuses_a_foreign_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-db");
    std::fs::write(&path, b"this is not a redb database at all, just some text").unwrap();
    assert!(RedbStore::open(&path).is_err());
}

/// The derived index: lookups see unmerged and merged entries alike, a restart rebuilds the
/// unmerged tail from the log file, and a lost or damaged index file is rebuilt from the log.
#[test]
fn redb_index_merges_and_rebuilds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.redb");
    let mut f = Frontier::new();
    {
        let s = RedbStore::open(&path).unwrap();
        s.set_index_merge_entries(4);
        append(&s, &mut f, &["a1", "b1", "a2"], 1, false);
        assert_eq!(s.unmerged(), 3);
        // Before any merge, lookups are served from memory.
        assert_eq!(s.find_leaves(&[leaf_hash(b"a2")]).unwrap(), vec![Some(2)]);
        assert_eq!(s.search("key:a", 10).unwrap(), vec![0, 2]);
        s.merge_index().unwrap();
        assert_eq!(s.unmerged(), 0);
        append(&s, &mut f, &["a3"], 2, false);
        // Half merged, half not: both are found, in order, without duplicates.
        assert_eq!(s.search("key:a", 10).unwrap(), vec![0, 2, 3]);
        assert_eq!(s.search("key:a", 2).unwrap(), vec![0, 2]);
        assert_eq!(
            s.find_leaves(&[leaf_hash(b"a1"), leaf_hash(b"a3"), leaf_hash(b"zz")])
                .unwrap(),
            vec![Some(0), Some(3), None]
        );
    }
    // Reopen with an unmerged tail (entry 3 was never merged).
    {
        let s = RedbStore::open(&path).unwrap();
        assert_eq!(s.unmerged(), 1);
        assert_eq!(s.search("key:a", 10).unwrap(), vec![0, 2, 3]);
        assert_eq!(s.find_leaves(&[leaf_hash(b"a3")]).unwrap(), vec![Some(3)]);
        // The background merger catches up by itself once enough entries wait.
        s.set_index_merge_entries(2);
        append(&s, &mut f, &["c2", "b3"], 3, false);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while s.unmerged() > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(s.unmerged(), 0, "the merger did not run");
        assert_eq!(s.search("key:b", 10).unwrap(), vec![1, 5]);
    }
    // Lose the index file: it is rebuilt from the log.
    let index = dir.path().join("log.redb.index");
    std::fs::remove_file(&index).unwrap();
    {
        let s = RedbStore::open(&path).unwrap();
        assert_eq!(s.unmerged(), 6);
        assert_eq!(s.search("key:a", 10).unwrap(), vec![0, 2, 3]);
        s.merge_index().unwrap();
    }
    // Garbage in the index file: rebuilt too.
    std::fs::write(&index, b"garbage garbage garbage garbage").unwrap();
    let s = RedbStore::open(&path).unwrap();
    assert_eq!(s.find_leaves(&[leaf_hash(b"b3")]).unwrap(), vec![Some(5)]);
    assert_eq!(s.state().unwrap().size, 6);
}
