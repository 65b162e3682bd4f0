//! `hallmark storage`: moving the embedded logs into PostgreSQL.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use hallmark_log::migrate::{CopyOptions, migrate_to_postgres};
use hallmark_log::{PgOptions, RedbStore};
use hallmark_server::config::Storage;

/// The redb files of a data directory and the names `hallmark serve` gives their logs in
/// PostgreSQL.
const LOGS: [(&str, &str); 3] = [
    ("log.redb", "rekor"),
    ("ct-log.redb", "ct"),
    ("log-v2.redb", "rekor-v2"),
];

#[derive(Debug, Subcommand)]
pub(crate) enum StorageCommand {
    /// Copy the embedded (redb) logs of a data directory into the PostgreSQL database the
    /// configuration names (storage.postgres.url_file, HALLMARK_PG_URL_FILE or HALLMARK_PG_URL),
    /// verify every copy against its source, and only then make it the log `serve` opens. Stop
    /// the server first. Safe to run again: an interrupted copy resumes, a finished one is
    /// verified again.
    Migrate(MigrateArgs),
}

/// `hallmark storage migrate`.
#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// YAML configuration file, as for `serve` (the database settings come from its
    /// `storage.postgres` block and the same variables; `storage.backend` need not be postgres).
    #[arg(long, env = "HALLMARK_CONFIG")]
    config: Option<PathBuf>,
    /// The data directory holding log.redb, ct-log.redb and log-v2.redb (default: the
    /// configured data_dir).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Entries written per transaction at most.
    #[arg(long, default_value_t = 10_000)]
    batch: usize,
}

pub(crate) fn run(command: StorageCommand) -> Result<()> {
    match command {
        StorageCommand::Migrate(args) => migrate(&args),
    }
}

fn migrate(args: &MigrateArgs) -> Result<()> {
    // The database settings as `serve` reads them with `storage.backend: postgres`.
    let settings = hallmark_server::config::load(args.config.as_deref(), |k| {
        if k == "HALLMARK_STORAGE" {
            Some("postgres".to_owned())
        } else {
            std::env::var(k).ok()
        }
    })
    .context("loading configuration")?;
    let Storage::Postgres(pg) = &settings.storage else {
        bail!("the configuration does not select PostgreSQL storage");
    };
    let url = pg.read_url().context("reading the database URL")?;
    let data_dir = args.data_dir.as_ref().unwrap_or(&settings.data_dir);
    let present: Vec<(PathBuf, &str)> = LOGS
        .iter()
        .map(|(file, log)| (data_dir.join(file), *log))
        .filter(|(path, _)| path.is_file())
        .collect();
    if present.is_empty() {
        bail!(
            "no log to migrate: none of {} is in {}",
            LOGS.map(|(f, _)| f).join(", "),
            data_dir.display()
        );
    }
    let copy = CopyOptions {
        batch_entries: args.batch.max(1),
    };
    for (path, log) in &present {
        let source = open_source(path)?;
        let options = PgOptions {
            url: url.clone(),
            log: (*log).to_owned(),
            pool_size: 4,
            ca_file: pg.ca_file.clone(),
        };
        let started = Instant::now();
        let mut last_report = Instant::now();
        let mut copy_done = None;
        let m = migrate_to_postgres(&source, &options, &copy, &mut |phase, done, total| {
            if phase == "verify" && copy_done.is_none() {
                copy_done = Some(started.elapsed());
            }
            if last_report.elapsed() >= Duration::from_secs(5) || done == total {
                last_report = Instant::now();
                eprintln!("{log}: {phase} {done}/{total}");
            }
        })
        .with_context(|| {
            format!(
                "migrating {} into log {log:?}: nothing was made the log `serve` opens",
                path.display()
            )
        })?;
        let copy_secs = copy_done.unwrap_or_else(|| started.elapsed()).as_secs_f64();
        if m.already_migrated {
            println!(
                "{log}: already in the database ({} entries), verified again",
                m.verified.size
            );
        } else {
            println!(
                "{log}: copied {} entries in {copy_secs:.1} s ({:.0} entries/s{})",
                m.copy.copied,
                m.copy.copied as f64 / copy_secs.max(1e-3),
                if m.copy.resumed_from > 0 {
                    format!(", resumed after {}", m.copy.resumed_from)
                } else {
                    String::new()
                }
            );
        }
        println!(
            "{log}: verified size {} root {} ({} search keys, {} kept checkpoints) in {:.1} s",
            m.verified.size,
            m.verified.root.to_hex(),
            m.verified.search_keys,
            m.verified.checkpoints,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Opens a redb log, saying what to do when a server still has it open.
fn open_source(path: &Path) -> Result<RedbStore> {
    RedbStore::open(path).map_err(|e| {
        let chain = format!("{:#}", anyhow::Error::from(e));
        if chain.contains("already open") || chain.contains("lock") {
            anyhow::anyhow!(
                "{} is in use ({chain}): stop `hallmark serve` on this data directory before \
                 migrating",
                path.display()
            )
        } else {
            anyhow::anyhow!("opening {}: {chain}", path.display())
        }
    })
}
