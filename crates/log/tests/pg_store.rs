//! What only the PostgreSQL store has: writers on several machines (the contiguity fence, the
//! sequencer epoch), schema migrations, and a database that restarts under it. Each test runs on a
//! private cluster (`hallmark_log::testing`); the store suite itself is in `store.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Barrier};

use hallmark_log::store::{Batch, LogStore, NewEntry};
use hallmark_log::testing::PgCluster;
use hallmark_log::{PgStore, SCHEMA_VERSION, StoreError};
use hallmark_tlog::leaf_hash;
use hallmark_tlog::tree::{Frontier, root_at};

fn cluster() -> Arc<PgCluster> {
    PgCluster::shared().unwrap_or_else(|e| panic!("{e}"))
}

/// Appends `datas` as one batch at the tree `f` describes (advancing `f` only on success).
fn append(store: &PgStore, f: &mut Frontier, datas: &[String]) -> Result<(), StoreError> {
    let entries: Vec<NewEntry> = datas.iter().map(|d| NewEntry::new(d.as_bytes())).collect();
    let leaves: Vec<_> = entries.iter().map(|e| leaf_hash(&e.data)).collect();
    let mut next = f.clone();
    let mut hashes = Vec::new();
    for l in &leaves {
        next.append_into(*l, &mut hashes);
    }
    let note = format!("checkpoint {}\n", next.size());
    store.append(&Batch {
        first_index: f.size(),
        integrated_ms: 1,
        entries: &entries,
        entry_signatures: &[],
        leaf_hashes: &leaves,
        tree_hashes: &hashes,
        checkpoint: &note,
        keep_checkpoint: true,
    })?;
    *f = next;
    Ok(())
}

fn batch_of(tag: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{tag} {i}")).collect()
}

/// Two stores (two machines) on one log, both sure the tree has `n` entries, append at index
/// `n` at the same moment: exactly one commits; the other is refused and wrote nothing.
#[test]
fn two_writers_at_one_index_exactly_one_commits() {
    let c = cluster();
    let url = c.fresh_database("conflict").unwrap();
    let a = Arc::new(PgStore::open(&url, "rekor", 2).unwrap());
    let b = Arc::new(PgStore::open(&url, "rekor", 2).unwrap());
    let mut f = Frontier::new();
    for round in 0..20 {
        let barrier = Arc::new(Barrier::new(2));
        let results: Vec<_> = [("a", a.clone()), ("b", b.clone())]
            .into_iter()
            .map(|(name, s)| {
                let barrier = barrier.clone();
                let mut mine = f.clone();
                std::thread::spawn(move || {
                    let datas = batch_of(&format!("{name} round {round}"), 3);
                    barrier.wait();
                    append(&s, &mut mine, &datas).map(|()| mine)
                })
            })
            // Spawn both before joining either: they meet at the barrier.
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        let won: Vec<_> = results.iter().filter(|r| r.is_ok()).collect();
        assert_eq!(won.len(), 1, "round {round}: {results:?}");
        for r in &results {
            if let Err(e) = r {
                assert!(
                    matches!(e, StoreError::NotContiguous { batch_start, stored_size }
                        if *batch_start == f.size() && *stored_size == f.size() + 3),
                    "round {round}: {e}"
                );
            }
        }
        f = results.into_iter().find_map(Result::ok).unwrap();
    }
    // Every index holds exactly one batch's entry, and the stored hashes give the winners' root.
    let st = a.state().unwrap();
    assert_eq!(st.size, 60);
    assert_eq!(a.entries(0, 100).unwrap().len(), 60);
    let root = root_at(60, &hallmark_log::store::TreeReader(&*b)).unwrap();
    assert_eq!(root, f.root());
    // A stale writer, behind by a batch, is refused too.
    let mut stale = Frontier::new();
    let err = append(&b, &mut stale, &batch_of("stale", 1)).unwrap_err();
    assert!(matches!(
        err,
        StoreError::NotContiguous {
            batch_start: 0,
            stored_size: 60
        }
    ));
}

/// The sequencer lease: one holder at a time; a new holder gets a higher epoch, and a store
/// writing under the old epoch is fenced off even when its batch is contiguous.
#[test]
fn sequencer_lease_and_epoch_fence() {
    let c = cluster();
    let url = c.fresh_database("epoch").unwrap();
    let a = PgStore::open(&url, "rekor", 2).unwrap();
    let b = PgStore::open(&url, "rekor", 2).unwrap();
    // Another log's lease is independent.
    let ct = PgStore::open(&url, "ct", 1).unwrap();

    let lease_a = a.acquire_sequencer("host-a").unwrap().expect("free lease");
    assert!(b.acquire_sequencer("host-b").unwrap().is_none());
    assert!(a.acquire_sequencer("host-a again").unwrap().is_none());
    let ct_lease = ct
        .acquire_sequencer("host-b")
        .unwrap()
        .expect("ct lease is separate");
    assert_eq!(
        a.epoch_holder().unwrap(),
        (lease_a.epoch(), Some("host-a".into()))
    );
    a.set_epoch(lease_a.epoch());
    let mut f = Frontier::new();
    append(&a, &mut f, &batch_of("a", 2)).unwrap();

    // A lets go (its lease dropped: connection closed): B takes over with a higher epoch.
    let epoch_a = lease_a.epoch();
    drop(lease_a);
    let mut lease_b = b.acquire_sequencer("host-b").unwrap().expect("released");
    assert!(lease_b.epoch() > epoch_a);
    assert!(lease_b.is_held());
    b.set_epoch(lease_b.epoch());
    // A, still believing it leads and with the right index, is fenced off; nothing is written.
    let err = append(&a, &mut f.clone(), &batch_of("a late", 1)).unwrap_err();
    assert!(
        matches!(err, StoreError::Fenced { epoch, current } if epoch == epoch_a && current == lease_b.epoch()),
        "{err}"
    );
    assert!(
        err.to_string().contains("another sequencer took over"),
        "{err}"
    );
    assert_eq!(b.state().unwrap().size, 2);
    append(&b, &mut f, &batch_of("b", 2)).unwrap();

    // B's connection is killed (its machine vanished): the lock goes with it, and A takes over.
    let mut admin = c.client("postgres").unwrap();
    let killed: bool = admin
        .query_one("SELECT pg_terminate_backend($1)", &[&lease_b.backend_pid()])
        .unwrap()
        .get(0);
    assert!(killed);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let lease_a2 = loop {
        if let Some(l) = a.acquire_sequencer("host-a").unwrap() {
            break l;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the killed lease was never released"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(!lease_b.is_held());
    assert!(lease_a2.epoch() > lease_b.epoch());
    a.set_epoch(lease_a2.epoch());
    let err = append(&b, &mut f.clone(), &batch_of("b late", 1)).unwrap_err();
    assert!(matches!(err, StoreError::Fenced { .. }), "{err}");
    append(&a, &mut f, &batch_of("a again", 1)).unwrap();
    assert_eq!(a.state().unwrap().size, 5);
    // A store never told an epoch does not check it (single-replica use).
    let plain = PgStore::open(&url, "rekor", 1).unwrap();
    append(&plain, &mut f, &batch_of("plain", 1)).unwrap();
    drop(ct_lease);
}

/// Migrations run once, however many processes open the database at the same moment; reopening
/// changes nothing; a database migrated by a newer build is refused.
#[test]
fn migrations_run_once_and_newer_schemas_are_refused() {
    let c = cluster();
    let url = c.fresh_database("migrate").unwrap();
    let barrier = Arc::new(Barrier::new(6));
    let opens: Vec<_> = (0..6)
        .map(|i| {
            let url = url.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                PgStore::open(&url, if i % 2 == 0 { "rekor" } else { "ct" }, 1)
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    for o in &opens {
        assert!(o.is_ok(), "{o:?}");
    }
    let s = PgStore::open(&url, "rekor", 1).unwrap();
    let mut f = Frontier::new();
    append(&s, &mut f, &batch_of("x", 3)).unwrap();
    drop((s, opens));
    let s = PgStore::open(&url, "rekor", 1).unwrap();
    assert_eq!(s.state().unwrap().size, 3);

    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    let mut admin = c.client(db).unwrap();
    let version: i32 = admin
        .query_one("SELECT version FROM hallmark_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, SCHEMA_VERSION);
    let logs: i64 = admin
        .query_one("SELECT count(*) FROM hallmark_logs", &[])
        .unwrap()
        .get(0);
    assert_eq!(logs, 2);

    // A database left at version 1 (the leaf index led by log_id, no replicas' key) is brought
    // to the current one.
    admin
        .batch_execute(
            "DROP INDEX hallmark_entries_by_leaf; \
             CREATE INDEX hallmark_entries_by_leaf ON hallmark_entries (log_id, leaf_hash); \
             DROP TABLE hallmark_replica_key; \
             UPDATE hallmark_schema SET version = 1",
        )
        .unwrap();
    let s = PgStore::open(&url, "rekor", 1).unwrap();
    assert_eq!(s.find_leaves(&[leaf_hash(b"x 1")]).unwrap(), vec![Some(1)]);
    let (version, index): (i32, String) = {
        let r = admin
            .query_one(
                "SELECT (SELECT version FROM hallmark_schema), \
                 pg_get_indexdef('hallmark_entries_by_leaf'::regclass)",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(version, SCHEMA_VERSION);
    assert!(index.ends_with("(leaf_hash)"), "{index}");
    assert_eq!(s.replica_key(&[3; 32]).unwrap(), [3; 32]);
    drop(s);

    admin
        .execute("UPDATE hallmark_schema SET version = version + 1", &[])
        .unwrap();
    let err = PgStore::open(&url, "rekor", 1).unwrap_err();
    assert!(
        matches!(err, StoreError::UnsupportedSchema { found, supported }
            if found == i64::from(SCHEMA_VERSION) + 1 && supported == i64::from(SCHEMA_VERSION)),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade Hallmark"), "{err}");
}

/// A statement that cannot finish (here: the log's row locked by a transaction that never ends,
/// as a paused old sequencer would) fails after the statement timeout instead of hanging the
/// append forever, and the store works again once the lock is gone.
#[test]
fn a_hung_append_times_out() {
    let c = cluster();
    let url = c.fresh_database("hung").unwrap();
    // The URL's own options replace the default of 30 s.
    let short = format!("{url}&options=-c%20statement_timeout%3D1s");
    let s = PgStore::open(&short, "rekor", 1).unwrap();
    let mut f = Frontier::new();
    append(&s, &mut f, &batch_of("before", 2)).unwrap();
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    let mut admin = c.client(db).unwrap();
    let mut tx = admin.transaction().unwrap();
    tx.execute(
        "SELECT 1 FROM hallmark_logs WHERE name = 'rekor' FOR UPDATE",
        &[],
    )
    .unwrap();
    let t = std::time::Instant::now();
    let err = append(&s, &mut f, &batch_of("blocked", 2)).unwrap_err();
    assert!(
        t.elapsed() < std::time::Duration::from_secs(10),
        "took {:?}",
        t.elapsed()
    );
    let mut why = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(e) = source {
        why.push_str(&format!(": {e}"));
        source = e.source();
    }
    assert!(why.contains("statement timeout"), "{why}");
    tx.rollback().unwrap();
    assert_eq!(s.state().unwrap().size, 2);
    append(&s, &mut f, &batch_of("after", 2)).unwrap();
    assert_eq!(s.state().unwrap().size, 4);
}

/// Every replica on one database gets the same key, whoever stored it first, and a later
/// replica's fresh key never replaces it.
#[test]
fn replicas_share_one_key() {
    let c = cluster();
    let url = c.fresh_database("replica_key").unwrap();
    let a = PgStore::open(&url, "rekor", 1).unwrap();
    let b = PgStore::open(&url, "ct", 1).unwrap();
    let first = a.replica_key(&[7; 32]).unwrap();
    assert_eq!(first, [7; 32]);
    assert_eq!(b.replica_key(&[9; 32]).unwrap(), [7; 32]);
    assert_eq!(a.replica_key(&[1; 32]).unwrap(), [7; 32]);
    let other = PgStore::open(&c.fresh_database("replica_key_2").unwrap(), "rekor", 1).unwrap();
    assert_eq!(other.replica_key(&[9; 32]).unwrap(), [9; 32]);
}

/// Tables that disagree with the recorded size (a hand-edited or half-restored database) are
/// refused at open.
#[test]
fn inconsistent_tables_are_refused() {
    let c = cluster();
    let url = c.fresh_database("corrupt").unwrap();
    let s = PgStore::open(&url, "rekor", 1).unwrap();
    append(&s, &mut Frontier::new(), &batch_of("x", 3)).unwrap();
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    c.client(db)
        .unwrap()
        .execute("UPDATE hallmark_logs SET size = 2", &[])
        .unwrap();
    let err = PgStore::open(&url, "rekor", 1).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
}

/// A database restart closes every pooled connection; the pool does not stay poisoned: the next
/// calls connect afresh, reads and appends alike, from many threads. While the server is down,
/// calls fail with an error instead of hanging, and work again once it is back.
#[test]
fn the_pool_survives_a_database_restart() {
    // Its own cluster: restarting the shared one would break the other tests' connections.
    let c = PgCluster::start().unwrap_or_else(|e| panic!("{e}"));
    let url = c.fresh_database("restart").unwrap();
    let s = Arc::new(PgStore::open(&url, "rekor", 4).unwrap());
    let mut f = Frontier::new();
    append(&s, &mut f, &batch_of("before", 10)).unwrap();
    // Fill the pool: 8 threads reading at once over 4 connections.
    let read_all = |s: &Arc<PgStore>, size: u64| {
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        assert_eq!(s.state()?.size, size);
                        assert!(s.entry(i % size)?.is_some());
                    }
                    Ok::<_, StoreError>(())
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap().unwrap();
        }
    };
    read_all(&s, 10);

    c.restart().unwrap();
    // The first append after the restart meets a dead connection before COMMIT: retried on a
    // new one.
    append(&s, &mut f, &batch_of("after restart", 5)).unwrap();
    read_all(&s, 15);

    c.restart().unwrap();
    read_all(&s, 15);

    c.stop().unwrap();
    let started = std::time::Instant::now();
    assert!(s.state().is_err());
    assert!(append(&s, &mut f.clone(), &batch_of("down", 1)).is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    c.start_again().unwrap();
    append(&s, &mut f, &batch_of("back", 1)).unwrap();
    read_all(&s, 16);
    assert_eq!(
        root_at(16, &hallmark_log::store::TreeReader(&*s)).unwrap(),
        f.root()
    );
}

/// TLS to the database: `sslmode=require` verifies the server against the system's roots and the
/// configured CA file; a server whose certificate chains to neither is refused.
#[test]
fn tls_to_the_database() {
    let c = PgCluster::start_tls().unwrap_or_else(|e| panic!("{e}"));
    let url = c
        .fresh_database("tls")
        .unwrap()
        .replace("sslmode=disable", "sslmode=require");
    let options = hallmark_log::PgOptions {
        url: url.clone(),
        log: "rekor".into(),
        pool_size: 2,
        ca_file: Some(c.tls_ca()),
    };
    let s = PgStore::open_with(&options).unwrap();
    append(&s, &mut Frontier::new(), &batch_of("over tls", 2)).unwrap();
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    let encrypted: i64 = c
        .client(db)
        .unwrap()
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE ssl AND application_name = 'hallmark'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(encrypted >= 1, "no TLS connection from the store");
    // Without the CA the server's certificate is not trusted: refused, not silently accepted.
    let err = PgStore::open(&url, "rekor", 1).unwrap_err();
    assert!(matches!(err, StoreError::Backend { .. }), "{err}");
    assert!(
        format!("{err:?}").contains("UnknownIssuer"),
        "not refused for its certificate: {err:?}"
    );
    // The Debug form never shows the URL.
    assert!(!format!("{options:?} {s:?}").contains("postgres@"));
}
