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
