//! `hallmark bench ...`: measurements quoted in issue notes. Each prints one line per figure.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Subcommand;
use hallmark_keys::KeyRef;
use hallmark_log::store::{Batch, LogStore, NewEntry, TreeReader};
use hallmark_log::{PgStore, RedbStore, Sequencer, SequencerConfig};
use hallmark_tlog::proof::{verify_consistency, verify_inclusion};
use hallmark_tlog::tree::{Frontier, consistency_proof, inclusion_proof, root_at};
use hallmark_tlog::{Hash, leaf_hash};
use p256::ecdsa::{DerSignature, SigningKey, VerifyingKey};
use signature::{Keypair, Signer};

use crate::HsmArgs;

#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Durable appends per second under concurrent load (group commit, fsync per batch), beside
    /// the raw storage's own group-commit rate (redb: the same entries and tree hashes written
    /// in transactions of the same size, one fsync each, with nothing of ours in between).
    Log {
        /// Entries to append.
        #[arg(long, default_value_t = 200_000)]
        entries: u64,
        /// Report the cost as the log grows: at each of these sizes (comma-separated, e.g.
        /// `1000000,5000000,10000000`; the last is the number of entries, instead of
        /// `--entries`), the appends/s and latency since the previous size, inclusion and
        /// consistency proof times, the index merge cost per entry and disk bytes per entry.
        #[arg(long, value_delimiter = ',')]
        milestones: Vec<u64>,
        /// Concurrent clients (async tasks).
        #[arg(long, default_value_t = 256)]
        clients: u64,
        /// Bytes per entry.
        #[arg(long, default_value_t = 500)]
        entry_bytes: usize,
        /// Directory for the database (default: a temporary directory, removed afterwards).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The store: `redb` (embedded, in `--dir`) or `postgres` (a new log in the database at
        /// the URL in the environment variable `--pg-url-env`).
        #[arg(long, value_enum, default_value_t = BenchStore::Redb)]
        store: BenchStore,
        /// With `--store postgres`: the environment variable holding the database URL (which
        /// may hold a password, so it is never taken from the command line).
        #[arg(long, default_value = "HALLMARK_BENCH_PG_URL")]
        pg_url_env: String,
        /// With `--store postgres`: connections in the store's pool.
        #[arg(long, default_value_t = 8)]
        pg_pool: usize,
        /// With `--store redb`: redb's page cache for each of the log's two files, in MiB
        /// (the server's default).
        #[arg(long, default_value_t = hallmark_log::DEFAULT_REDB_CACHE_MIB)]
        redb_cache_mib: usize,
        /// Sign checkpoints with this HSM key (default: an in-memory key).
        #[arg(long)]
        key: Option<KeyRef>,
        #[command(flatten)]
        hsm: HsmArgs,
    },
    /// Inclusion and consistency proof generation in a large stored tree.
    Proofs {
        /// Tree size.
        #[arg(long, default_value_t = 1_000_000)]
        size: u64,
        /// Proofs of each kind to time.
        #[arg(long, default_value_t = 20_000)]
        samples: u64,
        /// Directory for the database (default: a temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Certificates per second from a running server: POST /api/v2/signingCert over HTTP with
    /// real tokens from a development issuer, from concurrent clients. Every answer is checked
    /// after the run (so that checking takes no CPU from the server while it is measured): its
    /// certificate chains to the CA's trust bundle, holds the client's key and email and was
    /// valid when it arrived; with a trust config, its embedded SCT verifies with the CT log's
    /// key (Hallmark's 201 or Fulcio's 200; embedded- or, without a trust config,
    /// detached-SCT form).
    Ca {
        /// The server.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
        /// A Hallmark server whose development issuer mints the tokens (default: `--url`), so
        /// that another CA that trusts that issuer, such as Fulcio, can be measured.
        #[arg(long)]
        issuer_url: Option<String>,
        /// Concurrent clients (closed loop: each sends its next request when the last returns).
        #[arg(long, default_value_t = 64)]
        clients: usize,
        /// Seconds to run.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Open loop instead: send this many requests per second, whatever the latency.
        #[arg(long)]
        rate: Option<f64>,
        /// A trusted root or ClientTrustConfig naming the CA and its CT log: every answer's
        /// embedded SCT is then verified with the CT log's key too, and the CA's root must be
        /// one of its certificate authorities.
        #[arg(long)]
        trust_config: Option<PathBuf>,
        #[command(flatten)]
        ceiling: HsmCeiling,
    },
    /// Entries per second into a running server's signature log, hashedrekord entries
    /// pre-signed with a certificate from the server's CA, from concurrent clients. Rekor v1
    /// (`POST /api/v1/log/entries`): every 201 must carry a SET and an inclusion proof. Rekor v2
    /// (`--api 2`, `POST /api/v2/log/entries`): every answer is checked, its inclusion proof
    /// against its checkpoint and the checkpoint's signature with the v2 log key from
    /// `--trust-config`, or with `--log-key` and `--origin` for a log that no Hallmark trust
    /// config lists (rekor-tiles).
    LogApi {
        /// The server.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
        /// A Hallmark server whose CA (with its development issuer) certifies the entries' key
        /// (default: `--url`). A log that does not chain-validate certificates, such as
        /// rekor-tiles, can then be measured.
        #[arg(long)]
        ca_url: Option<String>,
        /// Concurrent clients.
        #[arg(long, default_value_t = 128)]
        clients: usize,
        /// Entries to post (each distinct).
        #[arg(long, default_value_t = 50_000)]
        entries: usize,
        /// The log API: 1 (Rekor v1) or 2 (Rekor v2).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=2))]
        api: u32,
        /// The server's ClientTrustConfig or trusted root (for `--api 2`: the v2 log key that
        /// checks each answer's checkpoint).
        #[arg(long, conflicts_with = "log_key")]
        trust_config: Option<PathBuf>,
        /// For `--api 2` instead of `--trust-config`: the log's checkpoint key, a PEM ECDSA
        /// P-256 public key (C2SP signed-note key ID: the first four bytes of SHA-256 of its
        /// SubjectPublicKeyInfo, as Hallmark and rekor-tiles compute it).
        #[arg(long, requires = "origin")]
        log_key: Option<PathBuf>,
        /// With `--log-key`: the checkpoint origin, which is also the note's key name (rekor-tiles:
        /// its `--hostname`).
        #[arg(long, requires = "log_key")]
        origin: Option<String>,
        #[command(flatten)]
        ceiling: HsmCeiling,
    },
    /// `hallmark sign` on many small files in one invocation against a running server (with
    /// its development OIDC issuer): signatures per second, and how many certificates it took.
    Sign {
        /// The server.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
        /// The server's ClientTrustConfig (`hallmark trust-root --client-trust-config`).
        #[arg(long, env = "HALLMARK_TRUST_CONFIG")]
        trust_config: PathBuf,
        /// Files to sign.
        #[arg(long, default_value_t = 1000)]
        files: usize,
        /// Log requests in flight (`hallmark sign --parallel`).
        #[arg(long, default_value_t = 32)]
        parallel: usize,
    },
    /// Timestamps per second from the RFC 3161 authority, beside the raw single-session HSM
    /// signing rate measured in the same run on the same token: in-process (the configured TSA
    /// key and chain: DER query parsed, checked, token signed in the HSM, answer parsed and
    /// checked, on 1 and 2 threads), then over HTTP against the running server (POST
    /// /api/v1/timestamp from concurrent clients). Every answer is checked: granted, imprint,
    /// nonce, signature by the TSA leaf.
    Tsa {
        #[command(flatten)]
        config: crate::serve_cmd::ConfigArgs,
        /// The server.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        url: String,
        /// The key for the raw signing rate (created if missing), on the TSA's token.
        #[arg(long, default_value = "pkcs11:token=hallmark;object=bench-key")]
        key: KeyRef,
        /// Concurrent clients (closed loop).
        #[arg(long, default_value_t = 32)]
        clients: usize,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// Only the HTTP measurement (no raw HSM rate, no in-process figures): for a timestamp
        /// authority that is not this one (tests/bench/peers.sh measures Sigstore's with it).
        #[arg(long)]
        http_only: bool,
        #[command(flatten)]
        hsm: HsmArgs,
    },
    /// HSM signing rate: the module's own rate (raw C_Sign) against the key handle.
    Hsm {
        /// The key to sign with (created if missing).
        #[arg(long, default_value = "pkcs11:token=hallmark;object=bench-key")]
        key: KeyRef,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
        #[command(flatten)]
        hsm: HsmArgs,
    },
}

/// Where `bench log` appends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BenchStore {
    /// The embedded redb store.
    Redb,
    /// The PostgreSQL store.
    Postgres,
}

/// A store for `bench log`, and how to open it again to check what was acknowledged.
enum LogTarget {
    /// The file, and the cache per file in bytes.
    Redb(PathBuf, usize),
    Postgres {
        url: String,
        log: String,
        pool: usize,
    },
}

impl LogTarget {
    fn describe(&self) -> String {
        match self {
            Self::Redb(path, cache) => {
                format!(
                    "redb {}, {} MiB cache per file",
                    path.display(),
                    cache >> 20
                )
            }
            Self::Postgres { log, pool, .. } => {
                format!("postgres, log {log}, {pool} pooled connections")
            }
        }
    }
}

pub(crate) fn run(cmd: BenchCommand) -> Result<()> {
    match cmd {
        BenchCommand::Log {
            entries,
            milestones,
            clients,
            entry_bytes,
            dir,
            store,
            pg_url_env,
            pg_pool,
            redb_cache_mib,
            key,
            hsm,
        } => {
            let (_tmp, dir) = workdir(dir)?;
            let target = match store {
                BenchStore::Redb => {
                    let path = dir.join("bench-log.redb");
                    let _ = std::fs::remove_file(&path);
                    let _ = std::fs::remove_file(dir.join("bench-log.redb.index"));
                    LogTarget::Redb(path, redb_cache_mib << 20)
                }
                BenchStore::Postgres => {
                    let url = std::env::var(&pg_url_env).with_context(|| {
                        format!("--store postgres reads the database URL from ${pg_url_env}")
                    })?;
                    // A new log each run, so runs never see each other's entries.
                    let stamp = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_millis();
                    LogTarget::Postgres {
                        url,
                        log: format!("bench-{stamp}"),
                        pool: pg_pool,
                    }
                }
            };
            let mut milestones = milestones;
            milestones.sort_unstable();
            milestones.dedup();
            milestones.retain(|&m| m > 0);
            if milestones.is_empty() {
                milestones.push(entries);
            }
            let run = LogRun {
                milestones,
                clients,
                entry_bytes,
                dir: dir.clone(),
            };
            match key {
                Some(k) => {
                    let signer = hsm.load_or_generate_p256(&k)?;
                    println!("checkpoint key: {k} (HSM)");
                    bench_log(signer, &target, &run)
                }
                None => {
                    println!("checkpoint key: in-memory P-256");
                    bench_log(memory_key()?, &target, &run)
                }
            }
        }
        BenchCommand::Proofs { size, samples, dir } => {
            let (_tmp, dir) = workdir(dir)?;
            bench_proofs(&dir, size, samples)
        }
        BenchCommand::Hsm { key, seconds, hsm } => bench_hsm(&hsm, &key, seconds),
        BenchCommand::Tsa {
            config,
            url,
            key,
            clients,
            seconds,
            http_only,
            hsm,
        } => {
            let local = if http_only {
                None
            } else {
                Some((config.load()?, hsm, key))
            };
            bench_tsa(local, &url, clients, seconds)
        }
        BenchCommand::Sign {
            url,
            trust_config,
            files,
            parallel,
        } => bench_sign(&url, &trust_config, files, parallel),
        BenchCommand::Ca {
            url,
            issuer_url,
            clients,
            seconds,
            rate,
            trust_config,
            ceiling,
        } => {
            let issuer = issuer_url.unwrap_or_else(|| url.clone());
            bench_ca(
                &url,
                &issuer,
                clients,
                seconds,
                rate,
                trust_config.as_deref(),
                &ceiling,
            )
        }
        BenchCommand::LogApi {
            url,
            ca_url,
            clients,
            entries,
            api,
            trust_config,
            log_key,
            origin,
            ceiling,
        } => {
            let checker = match (api, trust_config, log_key.zip(origin)) {
                (1, None, None) => None,
                (1, _, _) => {
                    bail!("--trust-config and --log-key check Rekor v2 answers: add --api 2")
                }
                (_, Some(tc), _) => Some(Arc::new(V2Checker::from_trust_config(&url, &tc)?)),
                (_, None, Some((pem, origin))) => {
                    Some(Arc::new(V2Checker::from_pem(&pem, &origin)?))
                }
                (_, None, None) => {
                    bail!(
                        "--api 2 needs --trust-config, or --log-key and --origin (the v2 log key)"
                    )
                }
            };
            let ca_url = ca_url.unwrap_or_else(|| url.clone());
            // Rekor v1 signs a SET per entry on the sequencer's one session; Rekor v2 signs
            // once per batch, so the HSM is not its ceiling.
            let before = if api == 1 {
                ceiling.measure("entries", 1.0, 1, ", before the run")?
            } else {
                ensure!(
                    ceiling.hsm_key.is_none(),
                    "--hsm-key: Rekor v2 signs one checkpoint per batch, not per entry; the HSM \
                     is not its ceiling"
                );
                None
            };
            let got = bench_log_api(&url, &ca_url, clients, entries, checker)?;
            if before.is_some() {
                let after = ceiling.measure("entries", 1.0, 1, ", after the run")?;
                print_ratio(got, before.zip(after).map(|(b, a)| (b + a) / 2.0));
            }
            Ok(())
        }
    }
}

fn memory_key() -> Result<SigningKey> {
    hallmark_keys::generate_memory_p256().context("generating an in-memory key")
}

fn workdir(dir: Option<PathBuf>) -> Result<(Option<tempfile::TempDir>, PathBuf)> {
    match dir {
        Some(d) => {
            std::fs::create_dir_all(&d).with_context(|| format!("creating {}", d.display()))?;
            Ok((None, d))
        }
        None => {
            let t = tempfile::tempdir_in(std::env::temp_dir()).context("creating a temp dir")?;
            let p = t.path().to_path_buf();
            Ok((Some(t), p))
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// What one `bench log` run does.
struct LogRun {
    /// Sizes to report at; the last is the number of entries.
    milestones: Vec<u64>,
    clients: u64,
    entry_bytes: usize,
    /// The working directory (its files' bytes per entry, for redb).
    dir: PathBuf,
}

fn bench_log<K>(signer: K, target: &LogTarget, run: &LogRun) -> Result<()>
where
    K: Signer<DerSignature> + Keypair<VerifyingKey = VerifyingKey> + Send + Sync + 'static,
{
    let what = target.describe();
    match target {
        LogTarget::Redb(path, cache) => {
            let ours = bench_log_on(
                signer,
                || RedbStore::open_with_cache(path, *cache),
                |s: &RedbStore| {
                    let (merged, merge_time) = s.merge_stats();
                    let (filter_ready, filter_bytes) = s.leaf_filter();
                    Some(IndexStats {
                        merged,
                        merge_time,
                        filter_bytes,
                        filter_ready,
                    })
                },
                Some(&run.dir),
                &what,
                run,
            )?;
            let raw = raw_redb_rate(&run.dir, run)?;
            println!(
                "ratio              {:.2} of the raw redb commit rate",
                ours / raw
            );
            Ok(())
        }
        LogTarget::Postgres { url, log, pool } => bench_log_on(
            signer,
            || PgStore::open(url, log, *pool),
            |_: &PgStore| None,
            None,
            &what,
            run,
        )
        .map(|_| ()),
    }
}

/// Appends from `clients` tasks until `next` reaches `until`; each task's latencies (µs).
async fn append_until(
    seq: &Sequencer<impl LogStore>,
    next: &Arc<AtomicU64>,
    until: u64,
    clients: u64,
    entry_bytes: usize,
) -> Result<Vec<u64>> {
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let seq = seq.clone();
        let next = next.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            // Claims the next entry number below `until`, without overshooting it.
            while let Ok(n) = next.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < until).then_some(n + 1)
            }) {
                let mut data = vec![b'x'; entry_bytes];
                let tag = n.to_be_bytes();
                let k = tag.len().min(entry_bytes);
                data[..k].copy_from_slice(&tag[..k]);
                let t = Instant::now();
                let a = seq.append(NewEntry::new(data)).await;
                lat.push(t.elapsed().as_micros() as u64);
                match a {
                    Ok(a) if !a.duplicate => {}
                    Ok(a) => bail!("entry {n} answered as a duplicate of {}", a.index),
                    Err(e) => bail!("append {n} failed: {e}"),
                }
            }
            Ok(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}

/// Inclusion and consistency proof times (ns) at tree size `size`, `samples` each; one proof in
/// 50 is verified against the root.
fn proof_times<S: LogStore>(
    seq: &Sequencer<S>,
    size: u64,
    root: &Hash,
    samples: u64,
) -> Result<(Vec<u64>, Vec<u64>)> {
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d ^ size);
    let store = seq.store();
    let mut incl = Vec::with_capacity(samples as usize);
    for s in 0..samples {
        let i = rng.next() % size;
        let t = Instant::now();
        let p = seq.inclusion_proof(i, size)?;
        incl.push(t.elapsed().as_nanos() as u64);
        if s % 50 == 0 {
            let e = store
                .entry(i)?
                .with_context(|| format!("entry {i} missing"))?;
            verify_inclusion(i, size, &leaf_hash(&e.data).0, &p, &root.0)?;
        }
    }
    let mut cons = Vec::with_capacity(samples as usize);
    for s in 0..samples {
        let m = 1 + rng.next() % size.max(2).saturating_sub(1);
        let t = Instant::now();
        let p = seq.consistency_proof(m, size)?;
        cons.push(t.elapsed().as_nanos() as u64);
        if s % 50 == 0 {
            let old = seq.root_at(m)?;
            verify_consistency(m, size, &old.0, &root.0, &p)?;
        }
    }
    incl.sort_unstable();
    cons.sort_unstable();
    Ok((incl, cons))
}

/// Bytes in the regular files directly in `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// What a store's derived index has cost so far (the redb store's; `None` for others).
#[derive(Debug, Default)]
struct IndexStats {
    /// Entries merged into the index file, and the merges' wall time.
    merged: u64,
    merge_time: Duration,
    /// The leaf filter's bits, and whether it answers lookups yet.
    filter_bytes: u64,
    filter_ready: bool,
}

/// One row of the growth table.
struct GrowthRow {
    size: u64,
    rate: f64,
    p50_us: u64,
    p99_us: u64,
    incl_ns: (u64, u64),
    cons_ns: (u64, u64),
    /// Index merge time per entry merged during the segment (µs; none merged: `None`), entries
    /// left unmerged, and the leaf filter's memory per entry (bytes).
    merge: Option<(Option<f64>, u64, f64)>,
    disk_per_entry: Option<f64>,
}

fn bench_log_on<K, S: LogStore>(
    signer: K,
    open: impl Fn() -> Result<S, hallmark_log::StoreError>,
    index_stats: impl Fn(&S) -> Option<IndexStats>,
    disk_dir: Option<&Path>,
    what: &str,
    run: &LogRun,
) -> Result<f64>
where
    K: Signer<DerSignature> + Keypair<VerifyingKey = VerifyingKey> + Send + Sync + 'static,
{
    let entries = *run.milestones.last().context("no size to reach")?;
    let store = Arc::new(open()?);
    let mut config = SequencerConfig::new("bench.hallmark - 0", "bench.hallmark");
    config.max_batch = 8192;
    let seq = Sequencer::start(store, signer, config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let next = Arc::new(AtomicU64::new(0));
    let growth = run.milestones.len() > 1;
    let mut rows = Vec::new();
    let mut all = Vec::new();
    let mut busy = Duration::ZERO;
    let IndexStats {
        merged: mut merged0,
        merge_time: mut merge_time0,
        ..
    } = index_stats(seq.store()).unwrap_or_default();
    let mut prev = 0u64;
    for &m in &run.milestones {
        let t = Instant::now();
        let mut lat = rt.block_on(append_until(&seq, &next, m, run.clients, run.entry_bytes))?;
        let took = t.elapsed();
        busy += took;
        lat.sort_unstable();
        let latest = seq.latest();
        ensure!(
            latest.size == m,
            "the log has {} entries after reaching {m}",
            latest.size
        );
        let merge = index_stats(seq.store()).map(|x| {
            // No merge in this segment: no cost to report.
            let per = (x.merged > merged0).then(|| {
                (x.merge_time - merge_time0).as_secs_f64() * 1e6 / (x.merged - merged0) as f64
            });
            (merged0, merge_time0) = (x.merged, x.merge_time);
            (per, m - x.merged, x.filter_bytes as f64 / m as f64)
        });
        let (incl, cons) = if growth {
            proof_times(&seq, m, &latest.root, 2_000)?
        } else {
            (Vec::new(), Vec::new())
        };
        rows.push(GrowthRow {
            size: m,
            rate: (m - prev) as f64 / took.as_secs_f64(),
            p50_us: percentile(&lat, 0.5),
            p99_us: percentile(&lat, 0.99),
            incl_ns: (percentile(&incl, 0.5), percentile(&incl, 0.99)),
            cons_ns: (percentile(&cons, 0.5), percentile(&cons, 0.99)),
            merge,
            disk_per_entry: disk_dir.map(|d| dir_bytes(d) as f64 / m as f64),
        });
        all.extend(lat);
        prev = m;
    }
    all.sort_unstable();
    let latest = seq.latest();
    let batches = seq.store().checkpoints(0, u64::MAX)?.len();
    drop(seq);

    // Everything acknowledged is durable: reopen the store and compare.
    let reopening = Instant::now();
    let reopened = open()?;
    // What a restart costs before lookups are answered from memory again.
    let mut filter_ready = None;
    while reopening.elapsed() < Duration::from_secs(300) {
        match index_stats(&reopened) {
            Some(x) if !x.filter_ready => std::thread::sleep(Duration::from_millis(10)),
            Some(x) => {
                filter_ready = Some((reopening.elapsed(), x.filter_bytes));
                break;
            }
            None => break,
        }
    }
    let state = reopened.state()?;
    ensure!(
        state.size == entries,
        "reopened log has {} entries, want {entries}",
        state.size
    );
    let root = root_at(state.size, &TreeReader(&reopened))?;
    ensure!(
        root == latest.root,
        "reopened root differs from the acknowledged root"
    );

    println!("store              {what}");
    println!(
        "entries            {entries} x {} bytes, {} concurrent clients",
        run.entry_bytes, run.clients
    );
    let rate = entries as f64 / busy.as_secs_f64();
    println!("durable appends/s  {rate:.0}");
    print_latency(&all);
    println!("checkpoints kept   {batches} (history interval 1 s)");
    if let Some((took, bytes)) = filter_ready {
        println!(
            "leaf filter        ready {:.2} s after reopening ({:.1} MB)",
            took.as_secs_f64(),
            bytes as f64 / 1e6
        );
    }
    println!(
        "reopened           size {} root {} (matches)",
        state.size, root
    );
    if growth {
        println!(
            "{:>11} {:>10} {:>9} {:>9} {:>17} {:>17} {:>14} {:>10} {:>11} {:>13}",
            "size",
            "appends/s",
            "p50 ms",
            "p99 ms",
            "inclusion p50/99",
            "consist. p50/99",
            "merge us/entry",
            "unmerged",
            "disk B/entry",
            "filter B/entry"
        );
        for r in &rows {
            let (merge, unmerged, filter) = match r.merge {
                Some((per, left, filter)) => (
                    per.map_or_else(|| "-".into(), |p| format!("{p:.2}")),
                    left.to_string(),
                    format!("{filter:.2}"),
                ),
                None => ("-".into(), "-".into(), "-".into()),
            };
            println!(
                "{:>11} {:>10.0} {:>9.2} {:>9.2} {:>17} {:>17} {:>14} {:>10} {:>11} {:>13}",
                r.size,
                r.rate,
                r.p50_us as f64 / 1000.0,
                r.p99_us as f64 / 1000.0,
                format!(
                    "{:.1}/{:.1} us",
                    r.incl_ns.0 as f64 / 1000.0,
                    r.incl_ns.1 as f64 / 1000.0
                ),
                format!(
                    "{:.1}/{:.1} us",
                    r.cons_ns.0 as f64 / 1000.0,
                    r.cons_ns.1 as f64 / 1000.0
                ),
                merge,
                unmerged,
                r.disk_per_entry
                    .map_or_else(|| "-".into(), |b| format!("{b:.0}")),
                filter,
            );
        }
        if let (Some(first), Some(last)) = (rows.first(), rows.last()) {
            println!(
                "growth             appends/s at {} is {:.2}x the rate at {}",
                last.size,
                last.rate / first.rate,
                first.size
            );
        }
    }
    Ok(rate)
}

/// redb's own durable group-commit rate on this disk: the entries `bench log` appended (same
/// count, size and tree hashes per entry) written by one thread in transactions of `clients`
/// entries (the batch a closed loop of that many clients fills), each committed with an fsync,
/// with nothing of ours in between. Printed with `bench log`'s rate as a ratio.
fn raw_redb_rate(dir: &Path, run: &LogRun) -> Result<f64> {
    use redb::{Database, TableDefinition};
    const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
    const HASHES: TableDefinition<u64, [u8; 32]> = TableDefinition::new("tree_hashes");
    let entries = *run.milestones.last().context("no size")?;
    // Up to a million entries: the rate of a log's first million is what the ceiling is about.
    let n = entries.min(1_000_000);
    let path = dir.join("bench-raw.redb");
    let _ = std::fs::remove_file(&path);
    let db = Database::create(&path).with_context(|| format!("creating {}", path.display()))?;
    let batch = run.clients.max(1);
    let data = vec![b'x'; run.entry_bytes];
    let t = Instant::now();
    let mut i = 0u64;
    let mut pos = 0u64;
    while i < n {
        let txn = db.begin_write()?;
        {
            let mut e = txn.open_table(ENTRIES)?;
            let mut h = txn.open_table(HASHES)?;
            for _ in 0..batch.min(n - i) {
                e.insert(i, data.as_slice())?;
                // About two stored hashes per entry, as the log keeps.
                for _ in 0..2 {
                    h.insert(pos, [pos as u8; 32])?;
                    pos += 1;
                }
                i += 1;
            }
        }
        txn.commit()?;
    }
    let raw = n as f64 / t.elapsed().as_secs_f64();
    drop(db);
    let _ = std::fs::remove_file(&path);
    println!(
        "raw redb commit    {raw:.0} entries/s ({n} entries, {batch} per fsynced transaction, \
         one thread): the storage ceiling"
    );
    Ok(raw)
}

fn bench_proofs(dir: &std::path::Path, size: u64, samples: u64) -> Result<()> {
    ensure!(size >= 2, "--size must be at least 2");
    let path = dir.join("bench-proofs.redb");
    let _ = std::fs::remove_file(&path);
    let store = RedbStore::open(&path)?;
    let build = Instant::now();
    let mut frontier = Frontier::new();
    let chunk = 50_000u64;
    let mut first = 0u64;
    while first < size {
        let n = chunk.min(size - first);
        let entries: Vec<NewEntry> = (first..first + n)
            .map(|i| NewEntry::new(i.to_be_bytes().to_vec()))
            .collect();
        let leaves: Vec<Hash> = entries.iter().map(|e| leaf_hash(&e.data)).collect();
        let mut hashes = Vec::with_capacity(leaves.len() * 2 + 64);
        for l in &leaves {
            frontier.append_into(*l, &mut hashes);
        }
        store.append(&Batch {
            first_index: first,
            integrated_ms: 0,
            entries: &entries,
            entry_signatures: &[],
            leaf_hashes: &leaves,
            tree_hashes: &hashes,
            checkpoint: "bench\n",
            keep_checkpoint: false,
        })?;
        first += n;
    }
    println!(
        "tree               {size} entries built in {:.1} s",
        build.elapsed().as_secs_f64()
    );
    let root = frontier.root();
    let reader = TreeReader(&store);
    ensure!(root_at(size, &reader)? == root, "stored root differs");

    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    // Inclusion proofs at the full size, random leaves.
    let mut times = Vec::with_capacity(samples as usize);
    for s in 0..samples {
        let i = rng.next() % size;
        let t = Instant::now();
        let p = inclusion_proof(i, size, &reader)?;
        times.push(t.elapsed().as_nanos() as u64);
        if s % 1000 == 0 {
            verify_inclusion(i, size, &leaf_hash(&i.to_be_bytes()).0, &p, &root.0)?;
        }
    }
    report("inclusion proof", &mut times);
    // Consistency proofs from a random older size to the full size.
    let mut times = Vec::with_capacity(samples as usize);
    for s in 0..samples {
        let m = 1 + rng.next() % (size - 1);
        let t = Instant::now();
        let p = consistency_proof(m, size, &reader)?;
        times.push(t.elapsed().as_nanos() as u64);
        if s % 1000 == 0 {
            let old = root_at(m, &reader)?;
            verify_consistency(m, size, &old.0, &root.0, &p)?;
        }
    }
    report("consistency proof", &mut times);
    Ok(())
}

fn report(what: &str, times: &mut [u64]) {
    times.sort_unstable();
    let mean = times.iter().sum::<u64>() as f64 / times.len().max(1) as f64;
    println!(
        "{what:<18} mean {:.1} us, p50 {:.1} us, p99 {:.1} us ({} samples)",
        mean / 1000.0,
        percentile(times, 0.5) as f64 / 1000.0,
        percentile(times, 0.99) as f64 / 1000.0,
        times.len()
    );
}

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn bench_hsm(hsm: &HsmArgs, key: &KeyRef, seconds: f64) -> Result<()> {
    let signer = hsm.load_or_generate_p256(key)?;
    let token = signer.hsm().clone();
    let dur = Duration::from_secs_f64(seconds);
    let raw = raw_sign_rate(&token, key.object(), dur)?;
    println!("raw C_Sign (1 session)        {raw:.0} signatures/s");
    for threads in [1usize, 2] {
        let rate = handle_sign_rate(&signer, threads, dur)?;
        println!(
            "key handle, {threads} thread(s)          {rate:.0} signatures/s ({:.0}% of raw)",
            100.0 * rate / raw
        );
    }
    Ok(())
}

/// Signatures per second through our key handle (hashing, session pool, `C_Sign`) from
/// `threads` threads at once.
fn handle_sign_rate(
    signer: &(impl Signer<DerSignature> + Sync),
    threads: usize,
    dur: Duration,
) -> Result<f64> {
    let msg = b"hallmark bench message: a checkpoint is about this long.....";
    let count = AtomicU64::new(0);
    let start = Instant::now();
    let stop = start + dur;
    let failed = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    while Instant::now() < stop {
                        let r: Result<DerSignature, _> = signer.try_sign(msg);
                        if r.is_err() {
                            return true;
                        }
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    false
                })
            })
            .collect();
        handles.into_iter().any(|h| h.join().unwrap_or(true))
    });
    if failed {
        bail!("signing through the key handle failed");
    }
    Ok(count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64())
}

/// The HSM's own limit for a benchmark over HTTP, measured on the server's token just before
/// it: `bench ca` signs twice per certificate (SCT, certificate) on the server's two cores, so
/// its ceiling is half the key handle's rate on two threads; a Rekor v1 append signs its SET on
/// the sequencer's one session, so `bench log-api --api 1`'s is raw `C_Sign` on one session.
/// The key (created if missing) must be on the server's token.
#[derive(clap::Args, Debug)]
pub(crate) struct HsmCeiling {
    /// Measure the HSM's signing rate with this key just before the run and print the ratio to
    /// it (for example `pkcs11:token=hallmark;object=bench-key`, on the server's token).
    #[arg(long)]
    hsm_key: Option<KeyRef>,
    /// Seconds to measure the HSM for.
    #[arg(long, default_value_t = 3.0)]
    hsm_seconds: f64,
    #[command(flatten)]
    hsm: HsmArgs,
}

impl HsmCeiling {
    /// The ceiling in operations per second (`signatures` HSM signatures each, on `sessions`
    /// sessions at once), printed; `None` without `--hsm-key`. `when` ends the printed line.
    fn measure(
        &self,
        what: &str,
        signatures: f64,
        sessions: usize,
        when: &str,
    ) -> Result<Option<f64>> {
        let Some(key) = &self.hsm_key else {
            return Ok(None);
        };
        let signer = self.hsm.load_or_generate_p256(key)?;
        let dur = Duration::from_secs_f64(self.hsm_seconds);
        let (sig_rate, how) = if sessions == 1 {
            (
                raw_sign_rate(signer.hsm(), key.object(), dur)?,
                "raw C_Sign, 1 session".to_owned(),
            )
        } else {
            (
                handle_sign_rate(&signer, sessions, dur)?,
                format!("key handle, {sessions} threads"),
            )
        };
        let ceiling = sig_rate / signatures;
        println!(
            "HSM ceiling        {ceiling:.0} {what}/s ({sig_rate:.0} signatures/s, {how}; \
             {signatures} per {}){when}",
            what.strip_suffix("ies").map_or_else(
                || what.trim_end_matches('s').to_owned(),
                |w| format!("{w}y")
            )
        );
        Ok(Some(ceiling))
    }
}

/// Prints a benchmark's rate as a fraction of its HSM ceiling.
fn print_ratio(rate: f64, ceiling: Option<f64>) {
    if let Some(c) = ceiling {
        println!(
            "ratio              {:.2} of the HSM ceiling (the mean of before and after)",
            rate / c
        );
    }
}

/// SoftHSM's own rate: `C_Sign` with `CKM_ECDSA` over a precomputed SHA-256 digest, in a loop on one
/// session, with nothing of ours in between.
fn raw_sign_rate(token: &hallmark_keys::Hsm, label: &str, dur: Duration) -> Result<f64> {
    use hallmark_keys::cryptoki::mechanism::Mechanism;
    use hallmark_keys::cryptoki::object::{Attribute, ObjectClass};
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(b"hallmark bench message");
    let label = label.to_owned();
    token.with_raw_session(move |session| -> Result<f64> {
        let handles = session.find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Label(label.clone().into_bytes()),
        ])?;
        let handle = *handles
            .first()
            .context("bench key not found on the token")?;
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < dur {
            session.sign(&Mechanism::Ecdsa, handle, &digest)?;
            n += 1;
        }
        Ok(n as f64 / start.elapsed().as_secs_f64())
    })?
}

/// Checks one timestamp answer: granted, over `digest`, echoing `nonce`, signed by `tsa_key`
/// (the leaf's public key, uncompressed point).
fn check_timestamp(answer: &[u8], digest: &[u8], nonce: u64, tsa_key: &[u8]) -> Result<()> {
    use hallmark_sigstore::rfc3161::ParsedResponse;
    let parsed = ParsedResponse::from_der(answer).context("not a TimeStampResp")?;
    ensure!(parsed.status == 0, "status {} (not granted)", parsed.status);
    let info = parsed.tst_info.context("granted without a token")?;
    ensure!(
        info.message_imprint.hashed_message.as_bytes() == digest,
        "the token is over other data"
    );
    let echoed = info.nonce.context("the nonce is missing")?;
    let want = der::asn1::Int::from(der::asn1::Uint::new(&nonce.to_be_bytes())?);
    ensure!(echoed == want, "another nonce");
    aws_lc_rs::signature::UnparsedPublicKey::new(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_ASN1,
        tsa_key,
    )
    .verify(&parsed.signed_attrs_der, &parsed.signature)
    .map_err(|_| anyhow::anyhow!("the token's signature does not verify"))
}

/// The configured TSA in this process: its key on the HSM and its chain (leaf, root) from the
/// data directory.
fn local_tsa(
    settings: &hallmark_server::Settings,
) -> Result<(
    hallmark_sigstore::rfc3161::TimestampAuthority,
    hallmark_keys::Pkcs11Key<p256::NistP256>,
    Vec<u8>,
)> {
    let read = |path: PathBuf| -> Result<Vec<u8>> {
        let pem = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        Ok(hallmark_sigstore::pem::decode_first(&pem)?.der)
    };
    let chain = vec![
        read(settings.tsa_cert_path())?,
        read(settings.root_cert_path())?,
    ];
    let config = settings
        .tsa_key
        .config(&settings.module, settings.pin.as_ref())?;
    let key = hallmark_keys::Hsm::open(config)?.load_p256(settings.tsa_key.object())?;
    let leaf = {
        use der::Decode as _;
        x509_cert::Certificate::from_der(&chain[0])?
            .tbs_certificate()
            .subject_public_key_info()
            .subject_public_key
            .raw_bytes()
            .to_vec()
    };
    let authority =
        hallmark_sigstore::rfc3161::TimestampAuthority::new(&chain, settings.tsa_policy)?;
    Ok((authority, key, leaf))
}

/// Timestamps per second per thread that `tsa_in_process` prepares queries for: above any
/// SoftHSM signing rate seen on this machine (about 22,000 per second on one session).
const RAW_RATE_CEILING: f64 = 40_000.0;

/// One timestamp request for request number `n`: its DER, digest and nonce.
fn tsa_query(n: u64) -> Result<(Vec<u8>, [u8; 32])> {
    use hallmark_sigstore::HashAlgorithm;
    use hallmark_sigstore::rfc3161::TimestampRequest;
    use sha2::Digest as _;
    let digest: [u8; 32] = sha2::Sha256::digest(n.to_be_bytes()).into();
    let mut req = TimestampRequest::new(HashAlgorithm::Sha256, &digest)?;
    req.nonce = Some(der::asn1::Int::from(der::asn1::Uint::new(
        &n.to_be_bytes(),
    )?));
    req.cert_req = n.is_multiple_of(2);
    Ok((req.to_der()?, digest))
}

/// A timestamp answer kept for checking: request number, digest, the `TimeStampResp`.
type Answer = (u64, [u8; 32], Vec<u8>);

/// Timestamps per second through the TSA core in this process, on `threads` threads. Every
/// answer is kept and checked after the timed window (the checking, an ECDSA verification each,
/// is the client's work, not the authority's; on this machine it would share the two cores).
fn tsa_in_process(
    authority: &hallmark_sigstore::rfc3161::TimestampAuthority,
    key: &hallmark_keys::Pkcs11Key<p256::NistP256>,
    leaf_key: &[u8],
    threads: u64,
    dur: Duration,
) -> Result<f64> {
    use hallmark_sigstore::rfc3161::TimestampRequest;
    // The queries are the client's work: built before the timed window (as `bench log-api`
    // signs its entries beforehand), enough for twice the raw single-session rate per thread
    // (SoftHSM signs one at a time per token, so no thread gets near that).
    let count = (dur.as_secs_f64() * RAW_RATE_CEILING * threads as f64) as u64;
    let queries: Vec<(Vec<u8>, [u8; 32])> = (1..=count).map(tsa_query).collect::<Result<_>>()?;
    let next = AtomicU64::new(1);
    let start = Instant::now();
    let stop = start + dur;
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| -> Result<Vec<Answer>> {
                    let mut done = Vec::new();
                    while Instant::now() < stop {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let Some((query, digest)) = queries.get(n as usize - 1) else {
                            anyhow::bail!(
                                "ran out of the {count} prepared queries: the TSA signs faster than \
                                 {RAW_RATE_CEILING} per second per thread; raise RAW_RATE_CEILING"
                            );
                        };
                        let digest = *digest;
                        let request = TimestampRequest::from_der(query)?;
                        let mut serial = [0u8; 16];
                        serial[..8].copy_from_slice(&n.to_be_bytes());
                        let answer = authority.respond::<_, DerSignature>(
                            &request,
                            &serial,
                            std::time::SystemTime::now(),
                            key,
                        )?;
                        done.push((n, digest, answer));
                    }
                    Ok(done)
                })
            })
            .collect();
        let mut answers = Vec::new();
        for w in workers {
            answers.extend(
                w.join()
                    .map_err(|_| anyhow::anyhow!("a bench thread panicked"))??,
            );
        }
        let rate = answers.len() as f64 / start.elapsed().as_secs_f64();
        for (n, digest, answer) in &answers {
            check_timestamp(answer, digest, *n, leaf_key)
                .with_context(|| format!("timestamp {n}"))?;
        }
        Ok(rate)
    })
}

fn bench_tsa(
    local: Option<(hallmark_server::Settings, HsmArgs, KeyRef)>,
    url: &str,
    clients: usize,
    seconds: f64,
) -> Result<()> {
    use der::Decode as _;
    let url = url.trim_end_matches('/').to_owned();
    ensure!(
        clients >= 1 && seconds > 0.0,
        "--clients and --seconds must be positive"
    );
    let dur = Duration::from_secs_f64(seconds);
    // The TSA leaf's key, from the static chain endpoint.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let chain = rt
        .block_on(async {
            reqwest::get(format!("{url}/api/v1/timestamp/certchain"))
                .await?
                .error_for_status()?
                .bytes()
                .await
        })
        .context("fetching the TSA chain (is the server running, with its TSA?)")?;
    let leaf = hallmark_sigstore::pem::decode_all(&chain)?
        .into_iter()
        .next()
        .context("the TSA chain is empty")?;
    let leaf = x509_cert::Certificate::from_der(&leaf.der)?;
    let tsa_key: Arc<[u8]> = leaf
        .tbs_certificate()
        .subject_public_key_info()
        .subject_public_key
        .raw_bytes()
        .into();

    // The raw rate first, on the same machine, so both figures come from one run.
    let mut raw = None;
    if let Some((settings, hsm, key)) = &local {
        let signer = hsm.load_or_generate_p256(key)?;
        let r = raw_sign_rate(signer.hsm(), key.object(), dur)?;
        drop(signer);
        println!("raw C_Sign         {r:.0} signatures/s (1 session, {key})");
        let (authority, tsa_hsm_key, leaf_key) = local_tsa(settings)?;
        for threads in [1, 2] {
            let rate = tsa_in_process(&authority, &tsa_hsm_key, &leaf_key, threads, dur)?;
            println!(
                "in-process         {rate:.0} timestamps/s on {threads} thread(s), {:.0}% of raw (TSA key {})",
                100.0 * rate / r,
                settings.tsa_key
            );
        }
        raw = Some(r);
    }

    let endpoint: Arc<str> = format!("{url}/api/v1/timestamp").into();
    let next = Arc::new(AtomicU64::new(1));
    let (answers, elapsed) = rt.block_on(async move {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(clients.max(64))
            .build()?;
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let http = http.clone();
            let endpoint = endpoint.clone();
            let next = next.clone();
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                while start.elapsed() < dur {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Ok((body, digest)) = tsa_query(n) else {
                        break;
                    };
                    let t = Instant::now();
                    let answer = http
                        .post(&*endpoint)
                        .header("content-type", "application/timestamp-query")
                        .body(body)
                        .send()
                        .await;
                    let body = match answer {
                        // Hallmark answers 200; Sigstore's timestamp-authority 201.
                        Ok(r) if matches!(r.status().as_u16(), 200 | 201) => r.bytes().await.ok(),
                        _ => None,
                    };
                    out.push((t.elapsed().as_micros() as u64, n, digest, body));
                }
                out
            }));
        }
        let mut answers = Vec::new();
        for t in tasks {
            answers.extend(t.await?);
        }
        Ok::<_, anyhow::Error>((answers, start.elapsed()))
    })?;
    // Every answer checked, after the timed window.
    let mut latencies = Vec::with_capacity(answers.len());
    let mut failures = 0u64;
    for (us, n, digest, body) in &answers {
        match body {
            Some(b) if check_timestamp(b, digest, *n, &tsa_key).is_ok() => latencies.push(*us),
            _ => failures += 1,
        }
    }
    latencies.sort_unstable();
    let rate = latencies.len() as f64 / elapsed.as_secs_f64();
    println!(
        "path               HTTP POST /api/v1/timestamp (DER, nonce), {clients} clients, {seconds:.0} s; every answer checked after the timed window"
    );
    println!(
        "timestamps/s       {rate:.0} (HTTP; answers checked: {}, failures: {failures}){}",
        latencies.len(),
        raw.map_or_else(String::new, |r| format!(
            ", {:.0}% of raw",
            100.0 * rate / r
        ))
    );
    print_latency(&latencies);
    ensure!(
        failures == 0,
        "{failures} timestamps failed or did not check"
    );
    Ok(())
}

/// One `bench ca` client: its request body (a token from the development issuer of the Hallmark
/// server at the issuer URL, an in-memory P-256 key, and the proof of possession: its signature
/// over the token's email), and what its certificates must say.
struct CaClient {
    body: Arc<Vec<u8>>,
    email: String,
    /// The key's DER `SubjectPublicKeyInfo`, as the certificate must hold it.
    spki: Vec<u8>,
    /// The key as PEM and the proof, for timing the server's proof-of-possession check.
    pem: String,
    proof: Vec<u8>,
}

impl CaClient {
    fn new(issuer: &str, n: usize, key: &SigningKey) -> Result<Self> {
        use spki::EncodePublicKey as _;
        let email = format!("bench-{n}@hallmark.local");
        let token = crate::serve_cmd::dev_token(issuer, &email)?;
        let public = key.verifying_key();
        let pem = public
            .to_public_key_pem(spki::der::pem::LineEnding::LF)
            .context("encoding the public key")?;
        let spki = public
            .to_public_key_der()
            .context("encoding the public key")?
            .into_vec();
        let proof: DerSignature = key.sign(email.as_bytes());
        let body = hallmark_sigstore::fulcio::SigningCertRequest::public_key(
            &token,
            "ECDSA",
            &pem,
            proof.as_bytes(),
        )
        .to_json()?;
        Ok(Self {
            body: Arc::new(body),
            email,
            spki,
            pem,
            proof: proof.as_bytes().to_vec(),
        })
    }
}

fn ca_request_body_for(issuer: &str, n: usize, key: &SigningKey) -> Result<Vec<u8>> {
    Ok(Arc::unwrap_or_clone(CaClient::new(issuer, n, key)?.body))
}

/// One answer of `bench ca`, kept for the check after the run: which client, when, the body.
struct CaAnswer {
    client: usize,
    at: std::time::SystemTime,
    body: Vec<u8>,
}

/// Checks `bench ca`'s answers: every certificate chains to the CA's trust bundle, holds the
/// client's key and email, is valid when it arrived, and (with a trust config) carries an SCT
/// that verifies with a CT log key of the trust config.
struct CaChecker {
    /// The trust bundle's chains (issuing CA first, root last), as DER, with the issuing CA.
    chains: Vec<(Vec<Vec<u8>>, x509_cert::Certificate)>,
    /// DER `SubjectPublicKeyInfo` of the trust config's CT logs; empty without one.
    ct_keys: Vec<Vec<u8>>,
    /// Serial numbers of the certificates checked so far: each answer must be a new certificate
    /// (a server that replayed one would otherwise pass, every client sending one request body).
    serials: std::sync::Mutex<std::collections::HashSet<Vec<u8>>>,
}

/// How far the server's clock may be ahead of the load generator's when a certificate's validity
/// is checked against its arrival time.
const CLOCK_SKEW: Duration = Duration::from_secs(60);

impl CaChecker {
    /// The CA's chains from `GET /api/v2/trustBundle` (each certificate issued by the next, the
    /// last self-signed, and with `trust_config` the root one of its certificate authorities'),
    /// and the CT log keys of `trust_config`.
    fn fetch(url: &str, trust_config: Option<&Path>) -> Result<Self> {
        use der::Decode as _;
        let answer = crate::client::get_blocking(&format!("{url}/api/v2/trustBundle"))
            .context("getting the CA's trust bundle")?;
        let json: serde_json::Value =
            serde_json::from_slice(&answer).context("the trust bundle is not JSON")?;
        let trusted = trust_config
            .map(|path| -> Result<_> {
                let bytes =
                    std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                hallmark_sigstore::trust::TrustedRoot::from_json_or_client_config(&bytes)
                    .context("--trust-config is not a trusted root or ClientTrustConfig")
            })
            .transpose()?;
        let trusted_certs: Vec<Vec<u8>> = trusted
            .iter()
            .flat_map(|t| &t.certificate_authorities)
            .filter_map(|ca| ca.cert_chain.as_ref())
            .flat_map(|c| &c.certificates)
            .filter_map(|c| c.raw_bytes.as_ref()?.decode().ok())
            .collect();
        let mut chains = Vec::new();
        for chain in json["chains"].as_array().into_iter().flatten() {
            let der: Vec<Vec<u8>> = chain["certificates"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|pem| crate::client::pem_to_der(pem.as_str().unwrap_or_default()))
                .collect::<Result<_>>()
                .context("a trust bundle certificate")?;
            let certs: Vec<x509_cert::Certificate> = der
                .iter()
                .map(|d| x509_cert::Certificate::from_der(d))
                .collect::<std::result::Result<_, _>>()
                .context("a trust bundle certificate")?;
            let (Some(issuing), Some(root)) = (certs.first(), certs.last()) else {
                continue;
            };
            for pair in certs.windows(2) {
                hallmark_ca::verify_issued_by("chain certificate", &pair[0], "next", &pair[1])
                    .context("the trust bundle's chain")?;
            }
            hallmark_ca::verify_issued_by("root", root, "root", root)
                .context("the trust bundle's root is not self-signed")?;
            // With a trust config, only chains to one of its roots count (a bundle may also
            // carry a retired chain).
            if trusted.is_some() && !der.last().is_some_and(|r| trusted_certs.contains(r)) {
                continue;
            }
            chains.push((der, issuing.clone()));
        }
        ensure!(
            !chains.is_empty(),
            "the CA's trust bundle holds no chain{}",
            if trusted.is_some() {
                " to a root of --trust-config"
            } else {
                ""
            }
        );
        let ct_keys: Vec<Vec<u8>> = trusted
            .iter()
            .flat_map(|t| &t.ctlogs)
            .filter_map(|l| l.public_key.as_ref()?.raw_bytes.as_ref()?.decode().ok())
            .collect();
        ensure!(
            trusted.is_none() || !ct_keys.is_empty(),
            "--trust-config lists no CT log"
        );
        Ok(Self {
            chains,
            ct_keys,
            serials: std::sync::Mutex::new(std::collections::HashSet::new()),
        })
    }

    /// What every answer is checked for, for the report.
    fn describe(&self) -> &'static str {
        if self.ct_keys.is_empty() {
            "chain to the trust bundle, the client's key and email, validity, a new serial; no \
             SCT check without --trust-config"
        } else {
            "chain to the trust bundle, the client's key and email, validity, a new serial, the \
             embedded SCT with the trust config's CT log key"
        }
    }

    fn check(&self, answer: &CaAnswer, client: &CaClient) -> std::result::Result<(), String> {
        use der::{Decode as _, Encode as _};
        let json: serde_json::Value =
            serde_json::from_slice(&answer.body).map_err(|e| format!("not JSON: {e}"))?;
        let (form, pems) = [
            "signedCertificateEmbeddedSct",
            "signedCertificateDetachedSct",
        ]
        .into_iter()
        .find_map(|f| Some((f, json[f]["chain"]["certificates"].as_array()?)))
        .ok_or("no certificate chain in the answer")?;
        let der: Vec<Vec<u8>> = pems
            .iter()
            .map(|p| crate::client::pem_to_der(p.as_str().unwrap_or_default()))
            .collect::<Result<_>>()
            .map_err(|e| format!("a certificate of the answer: {e}"))?;
        let (leaf_der, rest) = der.split_first().ok_or("an empty chain")?;
        let (_, issuing) = self
            .chains
            .iter()
            .find(|(chain, _)| chain.as_slice() == rest)
            .ok_or("the answer's chain is not the trust bundle's")?;
        let leaf = x509_cert::Certificate::from_der(leaf_der)
            .map_err(|e| format!("the leaf certificate: {e}"))?;
        hallmark_ca::verify_issued_by("leaf", &leaf, "issuing CA", issuing)
            .map_err(|e| e.to_string())?;
        let tbs = leaf.tbs_certificate();
        let spki = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(|e| e.to_string())?;
        if spki != client.spki {
            return Err("the certificate holds another key than the client's".into());
        }
        let email_san = tbs
            .extensions()
            .into_iter()
            .flatten()
            .filter(|e| e.extn_id == hallmark_sigstore::oid::SUBJECT_ALT_NAME)
            .filter_map(|e| {
                x509_cert::ext::pkix::SubjectAltName::from_der(e.extn_value.as_bytes()).ok()
            })
            .flat_map(|san| san.0)
            .any(|name| {
                matches!(&name, x509_cert::ext::pkix::name::GeneralName::Rfc822Name(m)
                    if m.as_str() == client.email)
            });
        if !email_san {
            return Err(format!("no email SAN {}", client.email));
        }
        let validity = tbs.validity();
        if answer.at + CLOCK_SKEW < validity.not_before.to_system_time()
            || answer.at > validity.not_after.to_system_time() + CLOCK_SKEW
        {
            return Err("the certificate was not valid when it arrived".into());
        }
        let fresh = self
            .serials
            .lock()
            .map_err(|_| "a checking thread panicked")?
            .insert(tbs.serial_number().as_bytes().to_vec());
        if !fresh {
            return Err("the same certificate (serial number) was answered twice".into());
        }
        if !self.ct_keys.is_empty() {
            if form != "signedCertificateEmbeddedSct" {
                return Err("no embedded SCT".into());
            }
            let issuer_spki = issuing
                .tbs_certificate()
                .subject_public_key_info()
                .to_der()
                .map_err(|e| e.to_string())?;
            if !self.ct_keys.iter().any(|k| {
                hallmark_sigstore::ct::verify_embedded_scts(leaf_der, &issuer_spki, k).is_ok()
            }) {
                return Err(
                    "no embedded SCT verifies with a CT log key of the trust config".into(),
                );
            }
        }
        Ok(())
    }
}

/// Runs `check` on every item, on every core; returns the failures and the first one's
/// description (the benchmarks check their answers after the clock stops).
fn check_all<T: Sync>(
    items: &[T],
    check: impl Fn(&T) -> std::result::Result<(), String> + Sync,
) -> (u64, Option<String>) {
    let threads = std::thread::available_parallelism().map_or(2, usize::from);
    let per = items.len().div_ceil(threads).max(1);
    let check = &check;
    std::thread::scope(|s| {
        let parts: Vec<_> = items
            .chunks(per)
            .map(|part| {
                s.spawn(move || {
                    let mut failed = 0u64;
                    let mut first = None;
                    for item in part {
                        if let Err(why) = check(item) {
                            failed += 1;
                            first.get_or_insert(why);
                        }
                    }
                    (failed, first)
                })
            })
            .collect();
        parts
            .into_iter()
            .fold((0, None), |(n, first), h| match h.join() {
                Ok((f, why)) => (n + f, first.or(why)),
                Err(_) => (n + 1, first.or(Some("a checking thread panicked".into()))),
            })
    })
}

/// Checkpoints already verified, by their note text, with their size and root: a batch's answers
/// share one, so its signature is checked once.
#[derive(Default)]
struct VerifiedCheckpoints(std::sync::Mutex<std::collections::HashMap<String, (u64, Hash)>>);

impl VerifiedCheckpoints {
    /// The size and root of `note`, verified by `verify` unless it was before.
    fn get<E>(
        &self,
        note: &str,
        verify: impl FnOnce(&str) -> std::result::Result<hallmark_tlog::note::Checkpoint, E>,
    ) -> std::result::Result<(u64, Hash), E> {
        if let Some(v) = self.0.lock().ok().and_then(|m| m.get(note).copied()) {
            return Ok(v);
        }
        let cp = verify(note)?;
        if let Ok(mut m) = self.0.lock() {
            m.insert(note.to_owned(), (cp.size, cp.root));
        }
        Ok((cp.size, cp.root))
    }
}

/// Checks Rekor v1 answers: the SET with the log's key over the entry as answered, the log ID,
/// and the inclusion proof against the answer's checkpoint, whose signature by the log key is
/// checked once per distinct checkpoint.
struct V1Checker {
    key: VerifyingKey,
    log_id_hex: String,
    checkpoints: VerifiedCheckpoints,
    /// Log indexes answered so far: each entry must have an index of its own.
    indexes: std::sync::Mutex<std::collections::HashSet<u64>>,
}

impl V1Checker {
    /// The log key from the server's `GET /api/v1/log/publicKey`. Rekor v1 signs a checkpoint
    /// under the host name its origin line starts with (`<host> - <tree id>`).
    fn fetch(url: &str) -> Result<Self> {
        use spki::{DecodePublicKey as _, EncodePublicKey as _};
        let pem = crate::client::get_blocking(&format!("{url}/api/v1/log/publicKey"))
            .context("getting the log's public key")?;
        let key = VerifyingKey::from_public_key_pem(&String::from_utf8_lossy(&pem))
            .context("the log's public key (ECDSA P-256 PEM)")?;
        let spki = key.to_public_key_der().context("the log's public key")?;
        Ok(Self {
            key,
            log_id_hex: hex::encode(hallmark_sigstore::rekor_log_id(spki.as_bytes())),
            checkpoints: VerifiedCheckpoints::default(),
            indexes: std::sync::Mutex::new(std::collections::HashSet::new()),
        })
    }

    /// Checks the answer to the hashedrekord entry over `digest`: the entry answered is that
    /// one, at an index no other answer has, with its SET, proof and checkpoint.
    fn check(&self, answer: &[u8], digest: &[u8]) -> std::result::Result<(), String> {
        use base64::Engine as _;
        use signature::Verifier as _;
        let b64 = &base64::engine::general_purpose::STANDARD;
        let (_, e) =
            hallmark_sigstore::LogEntry::from_response(answer).map_err(|e| e.to_string())?;
        if e.log_id != self.log_id_hex {
            return Err(format!("logID {} is not the log key's", e.log_id));
        }
        let set = b64
            .decode(&e.verification.signed_entry_timestamp)
            .ok()
            .and_then(|der| p256::ecdsa::Signature::from_der(&der).ok())
            .ok_or("the SET is not a base64 DER ECDSA signature")?;
        let payload =
            hallmark_sigstore::set_payload(&e.body, e.integrated_time, &e.log_id, e.log_index);
        self.key
            .verify(&payload, &set)
            .map_err(|_| "the SET does not verify with the log's key")?;
        let proof = &e.verification.inclusion_proof;
        let (size, root) = self.checkpoints.get(&proof.checkpoint, |note| {
            let name = note.split([' ', '\n']).next().unwrap_or_default();
            hallmark_tlog::note::NoteVerifier::ecdsa(name, self.key)
                .and_then(|v| v.verify_checkpoint(note))
                .map_err(|e| format!("the checkpoint: {e}"))
        })?;
        let hashes: Vec<Vec<u8>> = proof
            .hashes
            .iter()
            .map(hex::decode)
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| "a proof hash is not hex")?;
        let body = b64.decode(&e.body).map_err(|_| "the body is not base64")?;
        let sent = match hallmark_sigstore::body::CanonicalBody::parse(&body) {
            Ok(hallmark_sigstore::body::CanonicalBody::HashedRekord(h)) => {
                h.data.hash.digest("spec.data.hash").ok()
            }
            _ => None,
        };
        if sent.is_none_or(|(_, d)| d != digest) {
            return Err("the answer is for another entry than the one sent".into());
        }
        let fresh = self
            .indexes
            .lock()
            .map_err(|_| "a checking thread panicked")?
            .insert(e.log_index);
        if !fresh {
            return Err(format!("log index {} was answered twice", e.log_index));
        }
        if proof.tree_size != size
            || proof.log_index != e.log_index
            || hex::decode(&proof.root_hash).ok().as_deref() != Some(root.0.as_slice())
        {
            return Err("the proof is not for the answer's checkpoint and index".into());
        }
        verify_inclusion(e.log_index, size, &leaf_hash(&body).0, &hashes, &root.0)
            .map_err(|e| format!("the inclusion proof: {e}"))
    }
}

/// Mean time of the server's proof-of-possession check (`hallmark_ca::verify_proof_of_possession`,
/// one P-256 verification) on one thread of this machine: work every certificate needs besides
/// the HSM's two signatures, for the report's arithmetic.
fn proof_check_us(client: &CaClient) -> Result<f64> {
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < Duration::from_millis(500) {
        hallmark_ca::verify_proof_of_possession(
            client.pem.as_bytes(),
            &client.email,
            &client.proof,
        )
        .context("the proof of possession")?;
        n += 1;
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / f64::from(n))
}

/// `bench ca`: the rate of answers that check out, with `--hsm-key` the HSM ceiling measured
/// before and after the run (their mean is the ratio's reference; the machine's speed drifts).
fn bench_ca(
    url: &str,
    issuer: &str,
    clients: usize,
    seconds: f64,
    rate: Option<f64>,
    trust_config: Option<&Path>,
    ceiling: &HsmCeiling,
) -> Result<()> {
    let url = url.trim_end_matches('/').to_owned();
    let issuer = issuer.trim_end_matches('/');
    ensure!(
        clients >= 1 && seconds > 0.0,
        "--clients and --seconds must be positive"
    );
    let checker = CaChecker::fetch(&url, trust_config)?;
    let all: Vec<CaClient> = (0..clients)
        .map(|n| CaClient::new(issuer, n, &memory_key()?))
        .collect::<Result<_>>()?;
    let before = ceiling.measure("certificates", 2.0, 2, ", before the run")?;
    let (answers, latencies, failures, first_failure, elapsed) =
        post_ca_requests(&url, &all, seconds, rate)?;
    let after = if before.is_some() {
        ceiling.measure("certificates", 2.0, 2, ", after the run")?
    } else {
        None
    };
    let mode = match rate {
        Some(r) => format!("open loop at {r:.0}/s"),
        None => format!("{clients} concurrent clients"),
    };
    println!("mode               {mode}, {seconds:.0} s");
    let t = Instant::now();
    let (bad, first_bad) = check_all(&answers, |a| checker.check(a, &all[a.client]));
    let good = answers.len() as u64 - bad;
    let got = good as f64 / elapsed.as_secs_f64();
    println!(
        "certificates/s     {got:.0} (answers with a certificate that checks out: {good}, \
         failures: {})",
        failures + bad
    );
    println!(
        "checked            {} answers after the run, in {:.1} s: {}",
        answers.len(),
        t.elapsed().as_secs_f64(),
        checker.describe()
    );
    print_latency(&latencies);
    if let Some(why) = first_failure.or(first_bad) {
        println!("first failure      {why}");
    }
    if let (Some(b), Some(a)) = (before, after) {
        let pop = proof_check_us(&all[0])?;
        // Two signatures on two threads take 2 / (2 * ceiling) s of the machine's two cores.
        let hsm_us = 2.0 * 1e6 / ((a + b) / 2.0);
        println!(
            "besides the HSM    the proof-of-possession check alone takes {pop:.0} us of one \
             core per certificate (the HSM's two signatures: {hsm_us:.0} us of core time); \
             with nothing else, the ratio could reach {:.2}",
            hsm_us / (hsm_us + pop)
        );
        print_ratio(got, Some((a + b) / 2.0));
    }
    ensure!(failures + bad == 0, "{} requests failed", failures + bad);
    Ok(())
}

/// The load of `bench ca`: each client posts its request again as soon as its last answer came
/// (or, with `rate`, requests go out at that rate); an answer counts if it is 200/201. Returns
/// the answers, the sorted latencies, the failures with the first one's description, and the
/// time taken.
#[allow(clippy::type_complexity)]
fn post_ca_requests(
    url: &str,
    clients: &[CaClient],
    seconds: f64,
    rate: Option<f64>,
) -> Result<(Vec<CaAnswer>, Vec<u64>, u64, Option<String>, Duration)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let endpoint: Arc<str> = format!("{url}/api/v2/signingCert").into();
    let dur = Duration::from_secs_f64(seconds);
    let bodies: Vec<Arc<Vec<u8>>> = clients.iter().map(|c| c.body.clone()).collect();
    let n = clients.len();
    rt.block_on(async move {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(n.max(64))
            .build()?;
        type Outcome = (u64, std::result::Result<CaAnswer, String>);
        let post = move |client: usize, body: Arc<Vec<u8>>| {
            let req = http
                .post(&*endpoint)
                .header("content-type", "application/json")
                .body((*body).clone());
            async move {
                let t = Instant::now();
                let answer = async {
                    let r = req
                        .send()
                        .await
                        .map_err(|e| format!("request failed: {e}"))?;
                    let status = r.status().as_u16();
                    let body = r
                        .bytes()
                        .await
                        .map_err(|e| format!("HTTP {status}, body unread: {e}"))?;
                    if status != 200 && status != 201 {
                        let start = String::from_utf8_lossy(&body[..body.len().min(300)]);
                        return Err(format!("HTTP {status}: {start}"));
                    }
                    Ok(CaAnswer {
                        client,
                        at: std::time::SystemTime::now(),
                        body: body.to_vec(),
                    })
                }
                .await;
                (t.elapsed().as_micros() as u64, answer)
            }
        };
        let start = Instant::now();
        let mut tasks: Vec<tokio::task::JoinHandle<Vec<Outcome>>> = Vec::new();
        match rate {
            None => {
                for (client, body) in bodies.into_iter().enumerate() {
                    let post = post.clone();
                    tasks.push(tokio::spawn(async move {
                        let mut out = Vec::new();
                        while start.elapsed() < dur {
                            out.push(post(client, body.clone()).await);
                        }
                        out
                    }));
                }
            }
            Some(r) => {
                ensure!(r > 0.0, "--rate must be positive");
                let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / r));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let mut i = 0usize;
                while start.elapsed() < dur {
                    tick.tick().await;
                    let fut = post(i % n, bodies[i % n].clone());
                    tasks.push(tokio::spawn(async move { vec![fut.await] }));
                    i += 1;
                }
            }
        }
        let mut answers = Vec::new();
        let mut latencies = Vec::new();
        let (mut failures, mut first) = (0u64, None);
        for t in tasks {
            for (us, outcome) in t.await? {
                match outcome {
                    Ok(a) => {
                        latencies.push(us);
                        answers.push(a);
                    }
                    Err(why) => {
                        failures += 1;
                        first.get_or_insert(why);
                    }
                }
            }
        }
        let elapsed = start.elapsed();
        latencies.sort_unstable();
        Ok((answers, latencies, failures, first, elapsed))
    })
}

/// Judges one answer: `Err` describes a failure (transport error, status not accepted, or an
/// answer that `check` refuses), with the start of the body, so that a run can say why.
async fn judge(
    sent: reqwest::Result<reqwest::Response>,
    accept: impl FnOnce(u16) -> bool,
    check: impl FnOnce(&[u8]) -> bool,
) -> std::result::Result<(), String> {
    let r = sent.map_err(|e| format!("request failed: {e}"))?;
    let status = r.status().as_u16();
    let body = r
        .bytes()
        .await
        .map_err(|e| format!("HTTP {status}, body unread: {e}"))?;
    let start = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    if !accept(status) {
        return Err(format!("HTTP {status}: {start}"));
    }
    if !check(&body) {
        return Err(format!(
            "HTTP {status}, the answer does not check out: {start}"
        ));
    }
    Ok(())
}

/// Keeps the first failure's description; whether the request succeeded.
fn record(judged: std::result::Result<(), String>, first: &std::sync::OnceLock<String>) -> bool {
    match judged {
        Ok(()) => true,
        Err(why) => {
            let _ = first.set(why);
            false
        }
    }
}

fn print_first_failure(first: &std::sync::OnceLock<String>) {
    if let Some(why) = first.get() {
        println!("first failure      {why}");
    }
}

/// Checks Rekor v2 answers: the inclusion proof against the answer's checkpoint, and the
/// checkpoint's signature (once per distinct checkpoint: a batch's entries share one).
struct V2Checker {
    verifier: hallmark_tlog::note::NoteVerifier,
    checkpoints: VerifiedCheckpoints,
}

impl V2Checker {
    /// The v2 log key from a Hallmark trust config; the note name is the host of `url`.
    fn from_trust_config(url: &str, trust_config: &Path) -> Result<Self> {
        use spki::DecodePublicKey as _;
        let bytes = std::fs::read(trust_config)
            .with_context(|| format!("reading {}", trust_config.display()))?;
        let root = hallmark_sigstore::trust::TrustedRoot::from_json_or_client_config(&bytes)
            .context("--trust-config is not a trusted root or ClientTrustConfig")?;
        let spki = root
            .tlogs
            .iter()
            .find(|t| t.checkpoint_key_id.is_some())
            .and_then(|t| t.public_key.as_ref()?.raw_bytes.as_ref()?.decode().ok())
            .context("the trust config lists no Rekor v2 log (a tlog with checkpointKeyId)")?;
        let key = VerifyingKey::from_public_key_der(&spki).context("the v2 log key")?;
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .context("--url has no host")?;
        Self::with_key(&host, key)
    }

    /// A log key given as a PEM public key, signing checkpoints as `origin`.
    fn from_pem(pem: &Path, origin: &str) -> Result<Self> {
        use spki::DecodePublicKey as _;
        let text =
            std::fs::read_to_string(pem).with_context(|| format!("reading {}", pem.display()))?;
        let key = VerifyingKey::from_public_key_pem(&text).with_context(|| {
            format!(
                "{} is not a PEM ECDSA P-256 public key (Ed25519 log keys are not supported)",
                pem.display()
            )
        })?;
        Self::with_key(origin, key)
    }

    fn with_key(name: &str, key: VerifyingKey) -> Result<Self> {
        Ok(Self {
            verifier: hallmark_tlog::note::NoteVerifier::ecdsa(name, key)?,
            checkpoints: VerifiedCheckpoints::default(),
        })
    }

    /// Whether `answer` is a v2 entry included, by its proof, in a checkpoint the log signed.
    fn check(&self, answer: &[u8]) -> bool {
        let Ok(entry) =
            serde_json::from_slice::<hallmark_sigstore::bundle::TransparencyLogEntry>(answer)
        else {
            return false;
        };
        let (Some(body), Some(proof)) = (&entry.canonicalized_body, &entry.inclusion_proof) else {
            return false;
        };
        let Some(note) = proof.checkpoint.as_ref().and_then(|c| c.envelope.as_ref()) else {
            return false;
        };
        let Ok((size, root)) = self
            .checkpoints
            .get(note, |n| self.verifier.verify_checkpoint(n))
        else {
            return false;
        };
        let hashes: Option<Vec<Vec<u8>>> = proof.hashes.iter().map(|h| h.decode().ok()).collect();
        let (Some(hashes), Ok(body), Some(index), Some(tree)) = (
            hashes,
            body.decode(),
            proof.log_index.and_then(|i| i.unsigned()),
            proof.tree_size.and_then(|i| i.unsigned()),
        ) else {
            return false;
        };
        tree == size
            && proof
                .root_hash
                .as_ref()
                .and_then(|r| r.decode().ok())
                .is_some_and(|r| r == root.0)
            && verify_inclusion(index, size, &leaf_hash(&body).0, &hashes, &root.0).is_ok()
    }
}

fn bench_log_api(
    url: &str,
    ca_url: &str,
    clients: usize,
    entries: usize,
    v2: Option<Arc<V2Checker>>,
) -> Result<f64> {
    use sha2::Digest as _;
    use signature::hazmat::PrehashSigner as _;
    let url = url.trim_end_matches('/').to_owned();
    ensure!(
        clients >= 1 && entries >= 1,
        "--clients and --entries must be positive"
    );
    // A certificate from the CA (by default the server's own) for an in-memory key.
    let ca_url = ca_url.trim_end_matches('/');
    let key = memory_key()?;
    let request = ca_request_body_for(ca_url, 0, &key)?;
    let cert = crate::client::post_blocking(&format!("{ca_url}/api/v2/signingCert"), request)
        .context("getting a certificate")?;
    let leaf = hallmark_sigstore::fulcio::SigningCertResponse::parse(&cert)
        .and_then(|r| r.leaf().map(str::to_owned))
        .context("the CA's answer")?;
    let leaf_der = crate::client::pem_to_der(&leaf)?;
    // Pre-sign distinct digests, so that client-side signing is not measured.
    let run = std::process::id();
    let prepare = Instant::now();
    let digests: Vec<[u8; 32]> = (0..entries)
        .map(|i| sha2::Sha256::digest(format!("bench {run} {i}").as_bytes()).into())
        .collect();
    let bodies: Vec<Vec<u8>> = digests
        .iter()
        .map(|digest| {
            let sig: p256::ecdsa::Signature = key.sign_prehash(digest)?;
            if v2.is_some() {
                return Ok(
                    hallmark_sigstore::rekor_v2::CreateEntryRequest::hashed_rekord(
                        digest,
                        sig.to_der().as_bytes(),
                        hallmark_sigstore::body::v2::Verifier::certificate(
                            &leaf_der,
                            hallmark_sigstore::KeyType::EcdsaP256,
                        ),
                    )
                    .to_json()?,
                );
            }
            Ok(hallmark_sigstore::body::Body::hashedrekord(
                sig.to_der().as_bytes(),
                leaf.as_bytes(),
                hallmark_sigstore::HashAlgorithm::Sha256,
                digest,
            )
            .to_json()?)
        })
        .collect::<Result<_>>()?;
    println!(
        "prepared           {entries} signed entries in {:.1} s",
        prepare.elapsed().as_secs_f64()
    );
    let bodies = Arc::new(bodies);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let api = if v2.is_some() { 2 } else { 1 };
    let endpoint: Arc<str> = format!("{url}/api/v{api}/log/entries").into();
    let first_failure = Arc::new(std::sync::OnceLock::new());
    let first = first_failure.clone();
    let v1 = if v2.is_none() {
        Some(V1Checker::fetch(&url)?)
    } else {
        None
    };
    let (lat, failures, elapsed, kept) = rt.block_on(async move {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(clients)
            .build()?;
        let next = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..clients {
            let (http, next, bodies, endpoint, v2, first) = (
                http.clone(),
                next.clone(),
                bodies.clone(),
                endpoint.clone(),
                v2.clone(),
                first.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                // Rekor v1 answers, checked after the run.
                let mut kept = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(body) = bodies.get(i) else { break };
                    let t = Instant::now();
                    let sent = http
                        .post(&*endpoint)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    let judged = judge(
                        sent,
                        |s| s == 201,
                        |b| match &v2 {
                            Some(checker) => checker.check(b),
                            None => {
                                kept.push((i, b.to_vec()));
                                true
                            }
                        },
                    )
                    .await;
                    out.push((t.elapsed().as_micros() as u64, record(judged, &first)));
                }
                (out, kept)
            }));
        }
        let mut lat = Vec::new();
        let mut failed = 0u64;
        let mut kept = Vec::new();
        for t in tasks {
            let (out, answers) = t.await?;
            kept.extend(answers);
            for (us, ok) in out {
                if ok {
                    lat.push(us);
                } else {
                    failed += 1;
                }
            }
        }
        let elapsed = start.elapsed();
        lat.sort_unstable();
        Ok::<_, anyhow::Error>((lat, failed, elapsed, kept))
    })?;
    // Rekor v1 answers are checked now, so that checking takes no CPU from the server while it
    // is measured.
    let (good, failures) = match v1 {
        None => (lat.len(), failures),
        Some(checker) => {
            let t = Instant::now();
            let (bad, first_bad) = check_all(&kept, |(i, a)| checker.check(a, &digests[*i]));
            println!(
                "checked            {} answers after the run, in {:.1} s: the entry sent, a log \
                 index of its own, the SET with the log's key, the log ID, the inclusion proof in \
                 a checkpoint the log signed",
                kept.len(),
                t.elapsed().as_secs_f64()
            );
            if let Some(why) = first_bad {
                let _ = first_failure.set(why);
            }
            (lat.len().saturating_sub(bad as usize), failures + bad)
        }
    };
    println!("clients            {clients}");
    println!("log API            Rekor v{api}");
    let got = good as f64 / elapsed.as_secs_f64();
    println!(
        "entries/s          {got:.0} ({}: {}, failures: {failures})",
        if api == 2 {
            "201 with a proof that verifies in a signed checkpoint"
        } else {
            "201 with a SET and a proof that check out"
        },
        good
    );
    print_latency(&lat);
    print_first_failure(&first_failure);
    ensure!(failures == 0, "{failures} requests failed");
    Ok(got)
}

fn bench_sign(url: &str, trust_config: &Path, files: usize, parallel: usize) -> Result<()> {
    ensure!(files >= 1, "--files must be positive");
    let url = url.trim_end_matches('/');
    let dir = tempfile::Builder::new()
        .prefix("hallmark-bench-sign-")
        .tempdir()?;
    let paths: Vec<PathBuf> = (0..files)
        .map(|i| {
            let p = dir.path().join(format!("artifact-{i:05}.txt"));
            std::fs::write(&p, format!("artifact {i} of run {}\n", std::process::id()))?;
            Ok(p)
        })
        .collect::<Result<_>>()?;
    let token = dir.path().join("token");
    std::fs::write(
        &token,
        crate::serve_cmd::dev_token(url, "bench-signer@hallmark.local")?,
    )?;
    // The real CLI, as a CI job runs it: process start, token, key, certificate, one log entry
    // and one verified bundle per file.
    let start = Instant::now();
    let out = std::process::Command::new(std::env::current_exe()?)
        .arg("sign")
        .arg("--trust-config")
        .arg(trust_config)
        .args(["--ca-url", url, "--rekor-url", url, "--no-login"])
        .arg("--parallel")
        .arg(parallel.to_string())
        .arg("--identity-token-file")
        .arg(&token)
        .args(&paths)
        .env_remove("SIGSTORE_ID_TOKEN")
        .stdout(std::process::Stdio::null())
        .output()?;
    let secs = start.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(out.status.success(), "hallmark sign failed:\n{stderr}");
    let summary = stderr
        .lines()
        .find(|l| l.contains("file(s) signed"))
        .unwrap_or_default();
    println!("files              {files} (parallel {parallel})");
    println!("wall time          {secs:.2} s, whole process");
    println!("signatures/s       {:.0}", files as f64 / secs);
    println!("hallmark sign      {}", summary.trim());
    Ok(())
}

/// Prints the p50/p99 line of sorted latencies in microseconds.
fn print_latency(sorted_us: &[u64]) {
    println!(
        "latency p50/p99    {:.2} ms / {:.2} ms",
        percentile(sorted_us, 0.50) as f64 / 1000.0,
        percentile(sorted_us, 0.99) as f64 / 1000.0
    );
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use base64::Engine as _;
    use hallmark_tlog::note::{Checkpoint, NoteSigner as _};
    use spki::EncodePublicKey as _;

    use super::*;

    const HOST: &str = "log.example:3000";
    /// The digest of the hashedrekord entry the answers are for.
    const DIGEST: [u8; 32] = [3; 32];

    /// A Rekor v1 answer for entry 1 of a two-entry log whose key is `log_key`, with its
    /// checkpoint signed by `checkpoint_key`; `tamper` edits the answer's entry.
    fn answer(
        log_key: &SigningKey,
        checkpoint_key: &SigningKey,
        tamper: impl FnOnce(&mut serde_json::Value),
    ) -> Vec<u8> {
        let b64 = &base64::engine::general_purpose::STANDARD;
        // A hashedrekord over DIGEST, as the bench sends it (the signature need not verify: the
        // check ties the answer to the digest sent).
        let entry = hallmark_sigstore::body::Body::hashedrekord(
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
            b"-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n",
            hallmark_sigstore::HashAlgorithm::Sha256,
            &DIGEST,
        )
        .to_json()
        .unwrap();
        let bodies = [b"{\"first\":1}".as_slice(), entry.as_slice()];
        let leaves: Vec<Hash> = bodies.iter().map(|b| leaf_hash(b)).collect();
        let root = hallmark_tlog::node_hash(&leaves[0], &leaves[1]);
        let note = Checkpoint::new(format!("{HOST} - 42"), 2, root)
            .sign(&checkpoint_key.note_key(HOST).unwrap(), checkpoint_key)
            .unwrap();
        let spki = log_key.verifying_key().to_public_key_der().unwrap();
        let log_id_hex = hex::encode(hallmark_sigstore::rekor_log_id(spki.as_bytes()));
        let body_b64 = b64.encode(bodies[1]);
        let set: DerSignature = log_key.sign(&hallmark_sigstore::set_payload(
            &body_b64,
            1_700_000_000,
            &log_id_hex,
            1,
        ));
        let set_b64 = b64.encode(set.as_bytes());
        let mut json = hallmark_sigstore::log_entry_json(&hallmark_sigstore::LogEntryParts {
            uuid: "00",
            body_b64: &body_b64,
            integrated_time: 1_700_000_000,
            log_id_hex: &log_id_hex,
            log_index: 1,
            signed_entry_timestamp_b64: &set_b64,
            proof: hallmark_sigstore::InclusionProofParts {
                checkpoint: &note,
                hashes: &leaves[..1],
                root_hash: &root,
                tree_size: 2,
            },
        });
        tamper(&mut json["00"]);
        serde_json::to_vec(&json).unwrap()
    }

    fn checker(key: &SigningKey) -> V1Checker {
        let spki = key.verifying_key().to_public_key_der().unwrap();
        V1Checker {
            key: *key.verifying_key(),
            log_id_hex: hex::encode(hallmark_sigstore::rekor_log_id(spki.as_bytes())),
            checkpoints: VerifiedCheckpoints::default(),
            indexes: std::sync::Mutex::new(std::collections::HashSet::new()),
        }
    }

    /// `bench log-api`'s Rekor v1 check takes an answer whose SET, log ID, proof and checkpoint
    /// all check out, and refuses each one with any of them wrong.
    #[test]
    fn rekor_v1_answers_are_checked_in_full() {
        let key = memory_key().unwrap();
        let other = memory_key().unwrap();
        let c = checker(&key);
        c.check(&answer(&key, &key, |_| {}), &DIGEST).unwrap();
        // The same answer again: its index is taken.
        let twice = c.check(&answer(&key, &key, |_| {}), &DIGEST).unwrap_err();
        assert!(twice.contains("answered twice"), "{twice}");
        // An answer for another entry than the one sent.
        let other_entry = checker(&key)
            .check(&answer(&key, &key, |_| {}), &[4; 32])
            .unwrap_err();
        assert!(other_entry.contains("another entry"), "{other_entry}");
        let wrong: [(&str, Vec<u8>); 6] = [
            (
                "SET",
                answer(&key, &key, |e| e["integratedTime"] = 1_700_000_001.into()),
            ),
            ("SET by another key", answer(&other, &key, |_| {})),
            (
                "log ID",
                answer(&key, &key, |e| e["logID"] = hex::encode([7u8; 32]).into()),
            ),
            (
                "proof",
                answer(&key, &key, |e| {
                    e["verification"]["inclusionProof"]["hashes"][0] = hex::encode([1u8; 32]).into()
                }),
            ),
            (
                "index",
                answer(&key, &key, |e| {
                    e["verification"]["inclusionProof"]["logIndex"] = 0.into()
                }),
            ),
            ("checkpoint by another key", answer(&key, &other, |_| {})),
        ];
        for (what, a) in wrong {
            // A checker of its own each, so that no index is taken yet.
            assert!(
                checker(&key).check(&a, &DIGEST).is_err(),
                "a wrong {what} was accepted"
            );
        }
    }

    /// An in-memory CA as the server runs it: root, issuing CA, CT log key.
    struct TestCa {
        issuing_key: SigningKey,
        issuance: hallmark_ca::Issuance,
        chain_der: Vec<Vec<u8>>,
        issuing: x509_cert::Certificate,
        ct_key: SigningKey,
    }

    fn test_ca() -> TestCa {
        use std::time::SystemTime;
        let root_key = memory_key().unwrap();
        let issuing_key = memory_key().unwrap();
        let subject = |cn: &str| hallmark_ca::CaSubject {
            organization: "Test".into(),
            common_name: cn.into(),
        };
        let day = Duration::from_secs(86_400);
        let now = SystemTime::now() - day;
        let root =
            hallmark_ca::root_certificate(&root_key, &subject("root"), now, 30 * day).unwrap();
        let issuing = hallmark_ca::intermediate_certificate(
            &root_key,
            &root,
            issuing_key
                .verifying_key()
                .to_public_key_der()
                .unwrap()
                .as_bytes(),
            &subject("issuing"),
            now,
            30 * day,
        )
        .unwrap();
        TestCa {
            issuance: hallmark_ca::Issuance::new(&issuing, &issuing_key).unwrap(),
            issuing_key,
            chain_der: vec![
                hallmark_ca::certificate_der(&issuing).unwrap(),
                hallmark_ca::certificate_der(&root).unwrap(),
            ],
            issuing,
            ct_key: memory_key().unwrap(),
        }
    }

    /// The CA's answer, as the server writes it, for a certificate to `spki` and `email`.
    fn ca_answer(ca: &TestCa, spki: &[u8], email: &str) -> CaAnswer {
        use hallmark_sigstore::identity::{Identity, SubjectAltName};
        let now = std::time::SystemTime::now();
        let identity = Identity {
            issuer: "https://idp.example".into(),
            san: SubjectAltName::Email(email.into()),
            challenge: email.into(),
            subject: email.into(),
            extensions: Default::default(),
            github_v1: None,
        };
        let prepared = ca.issuance.prepare(spki, &identity, now).unwrap();
        let ct_spki = ca.ct_key.verifying_key().to_public_key_der().unwrap();
        let sct = hallmark_ca::ct::sign_sct(
            &ca.ct_key,
            hallmark_sigstore::ct::log_id(ct_spki.as_bytes()),
            1_700_000_000_000,
            prepared.issuer_key_hash(),
            prepared.precert_tbs_der(),
        )
        .unwrap();
        let leaf = prepared.finish_der(&sct, &ca.issuing_key).unwrap();
        let pems: Vec<String> = std::iter::once(&leaf)
            .chain(&ca.chain_der)
            .map(|d| hallmark_ca::certificate_der_to_pem(d).unwrap())
            .collect();
        CaAnswer {
            client: 0,
            at: now,
            body: serde_json::to_vec(&serde_json::json!({
                "signedCertificateEmbeddedSct": {"chain": {"certificates": pems}}
            }))
            .unwrap(),
        }
    }

    fn ca_checker(ca: &TestCa, ct_key: &SigningKey) -> CaChecker {
        CaChecker {
            chains: vec![(ca.chain_der.clone(), ca.issuing.clone())],
            ct_keys: vec![
                ct_key
                    .verifying_key()
                    .to_public_key_der()
                    .unwrap()
                    .into_vec(),
            ],
            serials: std::sync::Mutex::new(std::collections::HashSet::new()),
        }
    }

    fn client(key: &SigningKey, email: &str) -> CaClient {
        CaClient {
            body: Arc::new(Vec::new()),
            email: email.into(),
            spki: key.verifying_key().to_public_key_der().unwrap().into_vec(),
            pem: String::new(),
            proof: Vec::new(),
        }
    }

    /// `bench ca`'s check takes the certificate the CA issued to this client, once, and refuses
    /// another key, another email, another CA's chain or signature, an SCT of another log, an
    /// answer long after its validity, and the same certificate twice.
    #[test]
    fn certificates_are_checked_in_full() {
        let ca = test_ca();
        let key = memory_key().unwrap();
        let me = client(&key, "me@example.com");
        let answer = ca_answer(&ca, &me.spki, &me.email);
        let check = |checker: &CaChecker, a: &CaAnswer, c: &CaClient| checker.check(a, c);
        let fresh = || ca_checker(&ca, &ca.ct_key);
        let c = fresh();
        check(&c, &answer, &me).unwrap();
        let twice = check(&c, &answer, &me).unwrap_err();
        assert!(twice.contains("twice"), "{twice}");
        let other_key = client(&memory_key().unwrap(), "me@example.com");
        let other_email = client(&key, "you@example.com");
        let other_ca = test_ca();
        let late = CaAnswer {
            at: answer.at + Duration::from_secs(3_600),
            ..ca_answer(&ca, &me.spki, &me.email)
        };
        // Another CA's certificate for the same client, answered with this CA's chain.
        let mut forged = ca_answer(&other_ca, &me.spki, &me.email);
        let forged_json: serde_json::Value = serde_json::from_slice(&forged.body).unwrap();
        let mut pems: Vec<String> =
            forged_json["signedCertificateEmbeddedSct"]["chain"]["certificates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_str().unwrap().to_owned())
                .collect();
        for (pem, der) in pems.iter_mut().skip(1).zip(&ca.chain_der) {
            *pem = hallmark_ca::certificate_der_to_pem(der).unwrap();
        }
        forged.body = serde_json::to_vec(&serde_json::json!({
            "signedCertificateEmbeddedSct": {"chain": {"certificates": pems}}
        }))
        .unwrap();
        let cases: [(&str, CaChecker, CaAnswer, &CaClient); 6] = [
            (
                "key",
                fresh(),
                ca_answer(&ca, &me.spki, &me.email),
                &other_key,
            ),
            (
                "email",
                fresh(),
                ca_answer(&ca, &me.spki, &me.email),
                &other_email,
            ),
            (
                "chain",
                ca_checker(&other_ca, &ca.ct_key),
                ca_answer(&ca, &me.spki, &me.email),
                &me,
            ),
            ("issuing CA's signature", fresh(), forged, &me),
            (
                "CT log",
                ca_checker(&ca, &other_ca.ct_key),
                ca_answer(&ca, &me.spki, &me.email),
                &me,
            ),
            ("arrival time", fresh(), late, &me),
        ];
        for (what, checker, a, c) in cases {
            assert!(
                check(&checker, &a, c).is_err(),
                "another {what} was accepted"
            );
        }
    }
}
