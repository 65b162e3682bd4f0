//! One suite, run against every `LogStore` implementation.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hallmark_log::store::{Batch, LogStore, MemoryStore, NewEntry};
use hallmark_log::testing::PgCluster;
use hallmark_log::{PgStore, RedbStore, StoreError};
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
            entry_signatures: &[],
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
    // Readers' lookups (another pool on PostgreSQL) answer the same.
    let looked_up = store
        .lookup_leaves(&[leaf_hash(b"a2"), leaf_hash(b"nope"), leaf_hash(b"b2")])
        .unwrap();
    assert_eq!(looked_up, found);
    assert!(store.lookup_leaves(&[]).unwrap().is_empty());

    assert_eq!(store.search("key:a", None, 10).unwrap(), vec![4, 2, 0]);
    assert_eq!(store.search("key:a", None, 2).unwrap(), vec![4, 2]);
    assert_eq!(store.search("key:a", Some(2), 10).unwrap(), vec![0]);
    assert_eq!(
        store.search("key:a", Some(0), 10).unwrap(),
        Vec::<u64>::new()
    );
    assert!(store.search("key:z", None, 10).unwrap().is_empty());

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
            entry_signatures: &[],
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

/// A new database on the private PostgreSQL cluster shared by this binary's tests, and a store
/// of log `rekor` in it. The cluster stops when the last test holding it ends.
fn pg_store(test: &str) -> (PgStore, String, std::sync::Arc<PgCluster>) {
    let cluster = PgCluster::shared().unwrap_or_else(|e| panic!("{e}"));
    let url = cluster.fresh_database(test).unwrap();
    (PgStore::open(&url, "rekor", 4).unwrap(), url, cluster)
}

#[test]
fn pg_store_and_reopen() {
    let (s, url, _cluster) = pg_store("suite");
    suite(&s);
    drop(s);
    let s = PgStore::open(&url, "rekor", 2).unwrap();
    assert_eq!(s.state().unwrap().size, 6);
    assert_eq!(
        s.state().unwrap().checkpoint.as_deref(),
        Some("checkpoint 6\n")
    );
    assert_eq!(s.entry(5).unwrap().unwrap().data, b"b2");
    assert_eq!(s.search("key:a", None, 10).unwrap(), vec![4, 2, 0]);
}

/// Several logs share one database, each seeing only its own entries.
#[test]
fn pg_logs_in_one_database_are_separate() {
    let (rekor, url, _cluster) = pg_store("two_logs");
    suite(&rekor);
    let ct = PgStore::open(&url, "ct", 2).unwrap();
    suite(&ct);
    let other = PgStore::open(&url, "rekor-v2", 2).unwrap();
    assert_eq!(other.state().unwrap().size, 0);
    assert!(other.search("key:a", None, 10).unwrap().is_empty());
    assert_eq!(other.find_leaves(&[leaf_hash(b"a1")]).unwrap(), vec![None]);
    assert!(other.checkpoints(0, 100).unwrap().is_empty());
    assert_eq!(rekor.state().unwrap().size, 6);
}

#[test]
fn redb_refuses_a_foreign_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("not-a-db");
    std::fs::write(&path, b"this is not a redb database at all, just some text").unwrap();
    assert!(RedbStore::open(&path).is_err());
}

/// Once the index is large, the merger waits for a tail of an eighth of it (so the pages a
/// merge dirties per entry stay flat as the log grows): a tail above the configured minimum
/// but below an eighth of the index stays in memory, and is merged once it reaches it.
#[test]
fn redb_index_merge_waits_for_a_tail_in_proportion_to_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let s = RedbStore::open(dir.path().join("log.redb")).unwrap();
    s.set_index_merge_entries(4);
    let mut f = Frontier::new();
    let names: Vec<String> = (0..80).map(|i| format!("x{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    append(&s, &mut f, &refs, 1, false);
    s.merge_index().unwrap();
    assert_eq!(s.unmerged(), 0);
    // 5 waiting: above the minimum of 4, below 80 / 8.
    append(&s, &mut f, &["y1", "y2", "y3", "y4", "y5"], 2, false);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        s.unmerged(),
        5,
        "merged a tail under an eighth of the index"
    );
    assert_eq!(s.find_leaves(&[leaf_hash(b"y3")]).unwrap(), vec![Some(82)]);
    // 10 waiting: an eighth of the index.
    append(&s, &mut f, &["z1", "z2", "z3", "z4", "z5"], 3, false);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while s.unmerged() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        s.unmerged(),
        0,
        "the merger did not run at an eighth of the index"
    );
    assert_eq!(
        s.find_leaves(&[leaf_hash(b"x7"), leaf_hash(b"z5")])
            .unwrap(),
        vec![Some(7), Some(89)]
    );
    assert_eq!(s.search("key:z", None, 2).unwrap(), vec![89, 88]);
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
        assert_eq!(s.search("key:a", None, 10).unwrap(), vec![2, 0]);
        s.merge_index().unwrap();
        assert_eq!(s.unmerged(), 0);
        append(&s, &mut f, &["a3"], 2, false);
        // Half merged, half not: both are found, in order, without duplicates.
        assert_eq!(s.search("key:a", None, 10).unwrap(), vec![3, 2, 0]);
        assert_eq!(s.search("key:a", None, 2).unwrap(), vec![3, 2]);
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
        assert_eq!(s.search("key:a", None, 10).unwrap(), vec![3, 2, 0]);
        assert_eq!(s.find_leaves(&[leaf_hash(b"a3")]).unwrap(), vec![Some(3)]);
        // The background merger catches up by itself once enough entries wait.
        s.set_index_merge_entries(2);
        append(&s, &mut f, &["c2", "b3"], 3, false);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while s.unmerged() > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(s.unmerged(), 0, "the merger did not run");
        assert_eq!(s.search("key:b", None, 10).unwrap(), vec![5, 1]);
    }
    // Lose the index file: it is rebuilt from the log.
    let index = dir.path().join("log.redb.index");
    std::fs::remove_file(&index).unwrap();
    {
        let s = RedbStore::open(&path).unwrap();
        assert_eq!(s.unmerged(), 6);
        assert_eq!(s.search("key:a", None, 10).unwrap(), vec![3, 2, 0]);
        s.merge_index().unwrap();
    }
    // Garbage in the index file: rebuilt too.
    std::fs::write(&index, b"garbage garbage garbage garbage").unwrap();
    let s = RedbStore::open(&path).unwrap();
    assert_eq!(s.find_leaves(&[leaf_hash(b"b3")]).unwrap(), vec![Some(5)]);
    assert_eq!(s.state().unwrap().size, 6);
}

/// The leaf filter in front of the index file: after a restart it holds the leaves indexed
/// before (read back from the index file by the merger), the unmerged tail and everything
/// appended since, so a lookup finds every entry at its index, and hashes never appended are
/// not found.
#[test]
fn redb_leaf_filter_finds_every_leaf_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.redb");
    let mut f = Frontier::new();
    let names: Vec<String> = (0..3000).map(|i| format!("m{i}")).collect();
    let wait_ready = |s: &RedbStore| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !s.leaf_filter().0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(s.leaf_filter().0, "the leaf filter never became ready");
    };
    {
        let s = RedbStore::open(&path).unwrap();
        wait_ready(&s);
        for chunk in names[..2900].chunks(100) {
            let refs: Vec<&str> = chunk.iter().map(String::as_str).collect();
            append(&s, &mut f, &refs, 1, false);
        }
        s.merge_index().unwrap();
        let refs: Vec<&str> = names[2900..].iter().map(String::as_str).collect();
        append(&s, &mut f, &refs, 2, false);
        assert_eq!(s.unmerged(), 100);
    }
    let s = RedbStore::open(&path).unwrap();
    wait_ready(&s);
    let (_, bytes) = s.leaf_filter();
    assert!(bytes > 0, "a ready filter of 3,000 leaves holds no bits");
    append(&s, &mut f, &["n1", "n2"], 3, false);
    let mut hashes: Vec<_> = names.iter().map(|n| leaf_hash(n.as_bytes())).collect();
    hashes.push(leaf_hash(b"n2"));
    let absent: Vec<_> = (0..500)
        .map(|i| leaf_hash(format!("never{i}").as_bytes()))
        .collect();
    hashes.extend(&absent);
    let found = s.find_leaves(&hashes).unwrap();
    for (i, got) in found[..3000].iter().enumerate() {
        assert_eq!(*got, Some(i as u64), "entry {i} not found after reopen");
    }
    assert_eq!(found[3000], Some(3001));
    assert!(found[3001..].iter().all(Option::is_none));
    // Merged now, the tail loaded at the reopening and the entries appended since are found in
    // the index file: the filter held them too.
    s.merge_index().unwrap();
    assert_eq!(s.unmerged(), 0);
    assert_eq!(s.find_leaves(&hashes).unwrap(), found);
}

/// Search keys round-trip exactly, whatever bytes they hold: a key with NUL in it is found as
/// itself — not as the pieces around the NUL — after a restart rebuilds the index from the log
/// file, and after the index file itself is rebuilt. (Keys were stored NUL-joined; a restart
/// split them.)
#[test]
fn redb_search_keys_round_trip_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.redb");
    let keys = [
        "email:a\0b@example.com".to_owned(),
        "\0".to_owned(),
        "sha256:\u{1F512}\u{0}\u{7f}\u{ff}end".to_owned(),
        "email:a".to_owned(),
    ];
    let entry = NewEntry {
        data: b"entry with odd keys".to_vec(),
        index_keys: keys.to_vec(),
    };
    let other = NewEntry {
        data: b"a plain entry".to_vec(),
        index_keys: vec!["email:a".into(), "b@example.com".into()],
    };
    let mut f = Frontier::new();
    {
        let s = RedbStore::open(&path).unwrap();
        for e in [&entry, &other] {
            let leaves = [leaf_hash(&e.data)];
            let mut hashes = Vec::new();
            f.append_into(leaves[0], &mut hashes);
            s.append(&Batch {
                first_index: f.size() - 1,
                integrated_ms: 1,
                entries: std::slice::from_ref(e),
                entry_signatures: &[],
                leaf_hashes: &leaves,
                tree_hashes: &hashes,
                checkpoint: "c\n",
                keep_checkpoint: false,
            })
            .unwrap();
        }
    }
    let check = |s: &RedbStore, when: &str| {
        for k in &keys[..3] {
            assert_eq!(s.search(k, None, 10).unwrap(), vec![0], "{when}: {k:?}");
        }
        assert_eq!(s.search("email:a", None, 10).unwrap(), vec![1, 0], "{when}");
        // The pieces around a NUL are not keys of their own.
        for piece in ["b@example.com", "email:a", "", "sha256:\u{1F512}", "end"] {
            let found = s.search(piece, None, 10).unwrap();
            let want: &[u64] = match piece {
                "b@example.com" => &[1],
                "email:a" => &[1, 0],
                _ => &[],
            };
            assert_eq!(found, want, "{when}: {piece:?}");
        }
    };
    // Reopened with nothing merged: the in-memory index is rebuilt from the log file's records.
    {
        let s = RedbStore::open(&path).unwrap();
        assert_eq!(s.unmerged(), 2);
        check(&s, "unmerged after reopen");
        s.merge_index().unwrap();
        check(&s, "merged");
    }
    {
        let s = RedbStore::open(&path).unwrap();
        assert_eq!(s.unmerged(), 0);
        check(&s, "merged, reopened");
    }
    std::fs::remove_file(dir.path().join("log.redb.index")).unwrap();
    let s = RedbStore::open(&path).unwrap();
    check(&s, "index file rebuilt");
}

/// The PostgreSQL store keeps search keys as bytes: any key, NUL included, is found as itself.
#[test]
fn pg_search_keys_round_trip() {
    let (s, _url, _cluster) = pg_store("keys");
    let keys = [
        "email:a\0b@example.com".to_owned(),
        "\0".to_owned(),
        "sha256:\u{1F512}\u{0}\u{7f}\u{ff}end".to_owned(),
        "email:a".to_owned(),
        "email:a".to_owned(),
    ];
    let entry = NewEntry {
        data: b"entry with odd keys".to_vec(),
        index_keys: keys.to_vec(),
    };
    let mut f = Frontier::new();
    let leaves = [leaf_hash(&entry.data)];
    let mut hashes = Vec::new();
    f.append_into(leaves[0], &mut hashes);
    s.append(&Batch {
        first_index: 0,
        integrated_ms: 1,
        entries: std::slice::from_ref(&entry),
        entry_signatures: &[],
        leaf_hashes: &leaves,
        tree_hashes: &hashes,
        checkpoint: "c\n",
        keep_checkpoint: false,
    })
    .unwrap();
    for k in &keys {
        assert_eq!(s.search(k, None, 10).unwrap(), vec![0], "{k:?}");
    }
    for piece in ["email:a\0b", "", "sha256:\u{1F512}", "end", "b@example.com"] {
        assert!(s.search(piece, None, 10).unwrap().is_empty(), "{piece:?}");
    }
}

/// Appends `n` entries filed under `key` (and nothing else) to a store whose tree is `f`.
fn append_under(store: &dyn LogStore, f: &mut Frontier, key: &str, tag: &str, n: u64) {
    let first = f.size();
    let entries: Vec<NewEntry> = (first..first + n)
        .map(|i| NewEntry {
            data: format!("{tag} {i}").into_bytes(),
            index_keys: vec![key.to_owned()],
        })
        .collect();
    let leaves: Vec<_> = entries.iter().map(|e| leaf_hash(&e.data)).collect();
    let mut hashes = Vec::new();
    for l in &leaves {
        f.append_into(*l, &mut hashes);
    }
    store
        .append(&Batch {
            first_index: first,
            integrated_ms: 1,
            entries: &entries,
            entry_signatures: &[],
            leaf_hashes: &leaves,
            tree_hashes: &hashes,
            checkpoint: "c\n",
            keep_checkpoint: false,
        })
        .unwrap();
}

/// 10,000+ junk entries under an identity do not hide a later real one: search answers newest
/// first, and paging with `before` walks every entry exactly once. (Search answered the lowest
/// 10,000 indexes, with no way to ask for more.)
fn flood_suite(store: &dyn LogStore, merge: &dyn Fn()) {
    const KEY: &str = "email:victim@example.com";
    let mut f = Frontier::new();
    for _ in 0..10 {
        append_under(store, &mut f, KEY, "junk", 1_005);
        // Part of it merged into the index file, part not (for the redb store).
        merge();
    }
    append_under(store, &mut f, "email:other@example.com", "noise", 10);
    append_under(store, &mut f, KEY, "real", 1);
    let real = f.size() - 1;
    assert_eq!(store.search(KEY, None, 10_000).unwrap()[0], real);
    assert_eq!(store.search(KEY, None, 1).unwrap(), vec![real]);
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store.search(KEY, before, 999).unwrap();
        assert!(page.len() <= 999);
        assert!(page.windows(2).all(|w| w[0] > w[1]), "not newest first");
        match page.last() {
            Some(&last) => before = Some(last),
            None => break,
        }
        seen.extend(page);
    }
    let mut want: Vec<u64> = (0..10_050).collect();
    want.push(real);
    want.reverse();
    assert_eq!(seen.len(), want.len());
    assert_eq!(seen, want);
}

#[test]
fn memory_store_search_cannot_be_flooded() {
    flood_suite(&MemoryStore::new(), &|| {});
}

#[test]
fn redb_search_cannot_be_flooded() {
    let dir = tempfile::tempdir().unwrap();
    let s = RedbStore::open(dir.path().join("log.redb")).unwrap();
    let merges = std::cell::Cell::new(0);
    flood_suite(&s, &|| {
        // Merge after every other batch, so both the index file and the in-memory tail answer.
        merges.set(merges.get() + 1);
        if merges.get() % 2 == 0 {
            s.merge_index().unwrap();
        }
    });
}

#[test]
fn pg_search_cannot_be_flooded() {
    let (s, _url, _cluster) = pg_store("flood");
    flood_suite(&s, &|| {});
}

/// Entry signatures are stored with their batch, read back exactly, added once for entries that
/// have none, and never replaced.
fn entry_signature_suite(store: &dyn LogStore) {
    let entries = [NewEntry::new("s0"), NewEntry::new("s1")];
    let leaves: Vec<_> = entries.iter().map(|e| leaf_hash(&e.data)).collect();
    let mut f = Frontier::new();
    let mut hashes = Vec::new();
    for l in &leaves {
        f.append_into(*l, &mut hashes);
    }
    let batch = |sigs: &[Vec<u8>]| {
        store.append(&Batch {
            first_index: 0,
            integrated_ms: 1,
            entries: &entries,
            entry_signatures: sigs,
            leaf_hashes: &leaves,
            tree_hashes: &hashes,
            checkpoint: "c\n",
            keep_checkpoint: false,
        })
    };
    // Signatures for some entries but not all: refused, nothing written.
    assert!(batch(&[b"only one".to_vec()]).is_err());
    assert_eq!(store.state().unwrap().size, 0);
    batch(&[b"sig 0".to_vec(), b"sig 1".to_vec()]).unwrap();
    assert_eq!(store.entry_signature(0).unwrap().unwrap(), b"sig 0");
    assert_eq!(store.entry_signature(1).unwrap().unwrap(), b"sig 1");
    assert_eq!(store.entry_signature(2).unwrap(), None);
    assert!(store.unsigned_entries(0, 10).unwrap().is_empty());
    append_under(store, &mut f, "k", "unsigned", 3);
    assert_eq!(store.unsigned_entries(0, 10).unwrap(), vec![2, 3, 4]);
    assert_eq!(store.unsigned_entries(3, 1).unwrap(), vec![3]);
    // A stored signature is never replaced, and a failed add writes nothing.
    let err = store
        .add_entry_signatures(&[(2, b"new 2".to_vec()), (1, b"other".to_vec())])
        .unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadySigned { index: 1 }),
        "{err}"
    );
    assert_eq!(store.entry_signature(2).unwrap(), None);
    assert!(store.add_entry_signatures(&[(5, b"x".to_vec())]).is_err());
    store
        .add_entry_signatures(&[(2, b"new 2".to_vec()), (4, b"new 4".to_vec())])
        .unwrap();
    assert_eq!(store.unsigned_entries(0, 10).unwrap(), vec![3]);
    assert_eq!(store.entry_signature(1).unwrap().unwrap(), b"sig 1");
    assert_eq!(store.entry_signature(4).unwrap().unwrap(), b"new 4");
}

#[test]
fn memory_store_entry_signatures() {
    entry_signature_suite(&MemoryStore::new());
}

#[test]
fn redb_entry_signatures_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.redb");
    entry_signature_suite(&RedbStore::open(&path).unwrap());
    check_reopened_signatures(&RedbStore::open(&path).unwrap());
}

/// What [`entry_signature_suite`] left, as a reopened store must still have it.
fn check_reopened_signatures(s: &dyn LogStore) {
    assert_eq!(s.entry_signature(0).unwrap().unwrap(), b"sig 0");
    assert_eq!(s.entry_signature(4).unwrap().unwrap(), b"new 4");
    assert_eq!(s.unsigned_entries(0, 10).unwrap(), vec![3]);
}

#[test]
fn pg_entry_signatures_survive_reopen() {
    let (s, url, _cluster) = pg_store("signatures");
    entry_signature_suite(&s);
    drop(s);
    let s = PgStore::open(&url, "rekor", 1).unwrap();
    check_reopened_signatures(&s);
    // An index given twice in one call: the second would replace the first.
    let err = s
        .add_entry_signatures(&[(3, b"x".to_vec()), (3, b"y".to_vec())])
        .unwrap_err();
    assert!(
        matches!(err, StoreError::AlreadySigned { index: 3 }),
        "{err}"
    );
    assert_eq!(s.entry_signature(3).unwrap(), None);
}
