//! `hallmark audit`: follow Hallmark's logs as an independent auditor (`hallmark_audit`).
//!
//! - `sync`: for each log in the trust material (Rekor v1, Rekor v2, CT), fetch the latest
//!   signed head, verify it against the trust root and prove it consistent with the last one
//!   this auditor trusted; `--full` also re-reads every entry and recomputes the root;
//!   `--gossip` checks heads other auditors saw against this auditor's view.
//! - `inclusion`: prove an entry (a bundle's, an entry UUID's, a log index's, or an artifact
//!   digest's entries) included in a checkpoint this auditor verified.
//! - `checkpoints`: print the latest verified head of each log, as JSON lines another auditor
//!   can take as `--gossip`.
//! - `watch`: every certificate and signature in a watched identity's name since the last run.
//! - `witness`: the auditor as a C2SP tlog-witness (`crate::witness_cmd`).
//!
//! Misbehaviour (a shrunk log, a fork, an inconsistent or badly signed head, entries that do
//! not hash to the signed root, an entry not included) is an error naming the sizes involved,
//! and the exit status is non-zero.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use hallmark_audit::http::HttpSource;
use hallmark_audit::sync::{FullStatus, parse_gossip};
use hallmark_audit::{AuditStore, AuditedLog, Auditor, LogKind, LogSource};
use hallmark_tlog::leaf_hash;
use serde_json::json;

use crate::client::{TrustArgs, now_unix};

/// The auditor's subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AuditCommand {
    /// Verify each log's latest signed head and its consistency with what this auditor trusted
    /// before; with --full, recompute every root from the entries.
    Sync(SyncArgs),
    /// Prove an entry is in a tree this auditor verified.
    Inclusion(InclusionArgs),
    /// Print the latest verified head of each log (JSON lines; another auditor's --gossip).
    Checkpoints(CommonArgs),
    /// Report every certificate (CT log) and every signature (Rekor v1 and v2) made in a watched
    /// identity's name since the last run, as JSON lines; exit non-zero when one of them is
    /// unexpected. Resumes where it stopped (a cron job or a Kubernetes CronJob).
    Watch(WatchArgs),
    /// The auditor as a C2SP tlog-witness: cosigns checkpoints of the logs it follows, only when
    /// consistent with what it cosigned before.
    #[command(subcommand)]
    Witness(crate::witness_cmd::WitnessCommand),
}

/// `hallmark audit watch`.
#[derive(Debug, Args)]
pub(crate) struct WatchArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// A watched identity (SAN), exactly. Repeatable; with --issuer (or --issuer-regexp).
    #[arg(long)]
    identity: Vec<String>,
    /// A watched identity as a regular expression over the whole SAN. Repeatable.
    #[arg(long)]
    identity_regexp: Vec<String>,
    /// The watched identities' OIDC issuer, exactly. Repeatable.
    #[arg(long)]
    issuer: Vec<String>,
    /// The watched identities' OIDC issuer as a regular expression. Repeatable.
    #[arg(long)]
    issuer_regexp: Vec<String>,
    /// A YAML file of rules with expectations (see `hallmark_audit::watch::WatchConfig`).
    #[arg(long)]
    config: Option<PathBuf>,
    /// The name of this watch's position in each log, kept in the state directory: watches with
    /// different rules over the same logs keep separate positions.
    #[arg(long, default_value = "watch")]
    cursor: String,
    /// Requests in flight.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

/// Which logs to audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogChoice {
    /// The Rekor v1 log.
    V1,
    /// The Rekor v2 (tlog-tiles) log.
    V2,
    /// The CT log.
    Ct,
    /// Every log in the trust material.
    All,
}

/// What every audit command takes.
#[derive(Debug, Args)]
pub(crate) struct CommonArgs {
    #[command(flatten)]
    trust: TrustArgs,
    /// The auditor's state directory (its store of verified checkpoints). Default:
    /// $XDG_DATA_HOME/hallmark/audit (~/.local/share/hallmark/audit).
    #[arg(long, env = "HALLMARK_AUDIT_STATE")]
    state: Option<PathBuf>,
    /// Which logs.
    #[arg(long, value_enum, default_value = "all")]
    log: LogChoice,
}

/// `hallmark audit sync`.
#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Also re-read every entry, hash it and compare the recomputed root with every checkpoint
    /// this auditor verified (resumes an interrupted run).
    #[arg(long)]
    full: bool,
    /// A checkpoint another auditor saw: a file or URL holding a checkpoint note, `get-sth`
    /// JSON, or `hallmark audit checkpoints` output. Repeatable.
    #[arg(long, value_name = "SOURCE")]
    gossip: Vec<String>,
    /// Requests in flight during --full.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
}

/// `hallmark audit inclusion`.
#[derive(Debug, Args)]
#[group(id = "target", required = true, multiple = false)]
pub(crate) struct InclusionArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The entries of a Sigstore bundle.
    #[arg(long, group = "target")]
    bundle: Option<PathBuf>,
    /// A Rekor v1 entry UUID.
    #[arg(long, group = "target")]
    uuid: Option<String>,
    /// A log index (with --log v1, v2 or ct).
    #[arg(long, group = "target")]
    index: Option<u64>,
    /// Every Rekor v1 entry of an artifact digest (sha256:<hex>), by the log's search index.
    #[arg(long, group = "target")]
    digest: Option<String>,
}

/// `hallmark audit`.
pub(crate) fn run(cmd: AuditCommand) -> Result<()> {
    let rt = || crate::sign_cmd::runtime();
    match cmd {
        AuditCommand::Sync(a) => rt()?.block_on(sync(a)),
        AuditCommand::Inclusion(a) => rt()?.block_on(inclusion(a)),
        AuditCommand::Checkpoints(a) => checkpoints(&a),
        AuditCommand::Watch(a) => rt()?.block_on(watch(a)),
        AuditCommand::Witness(c) => crate::witness_cmd::run(c),
    }
}

fn default_state() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(base.join("hallmark").join("audit"))
}

/// The logs chosen, their auditors, and the store.
struct Audit {
    auditors: Vec<Auditor<HttpSource>>,
}

impl CommonArgs {
    fn open(&self) -> Result<Audit> {
        let path = self.trust.path()?;
        let bytes = std::fs::read(&path)
            .with_context(|| format!("reading the trust config {}", path.display()))?;
        let root = hallmark_sigstore::trust::TrustedRoot::from_json_or_client_config(&bytes)
            .with_context(|| format!("{} is not a trusted root or trust config", path.display()))?;
        let logs = AuditedLog::from_trusted_root(&root, now_unix())
            .with_context(|| format!("the logs in {}", path.display()))?;
        let want = |k: LogKind| match self.log {
            LogChoice::All => true,
            LogChoice::V1 => k == LogKind::RekorV1,
            LogChoice::V2 => k == LogKind::RekorV2,
            LogChoice::Ct => k == LogKind::Ct,
        };
        let logs: Vec<AuditedLog> = logs.into_iter().filter(|l| want(l.kind())).collect();
        if logs.is_empty() {
            bail!(
                "{} lists no {} log whose key is still valid",
                path.display(),
                match self.log {
                    LogChoice::All => "",
                    LogChoice::V1 => "Rekor v1",
                    LogChoice::V2 => "Rekor v2",
                    LogChoice::Ct => "CT",
                }
            );
        }
        let state = match &self.state {
            Some(s) => s.clone(),
            None => default_state().context("no --state given and no home directory")?,
        };
        let store = Arc::new(AuditStore::open(&state)?);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .context("building the HTTP client")?;
        let auditors = logs
            .into_iter()
            .map(|l| {
                let source = Arc::new(HttpSource::new(&l, client.clone()));
                Auditor::new(l, source, store.clone())
            })
            .collect();
        Ok(Audit { auditors })
    }
}

async fn sync(args: SyncArgs) -> Result<()> {
    let audit = args.common.open()?;
    let mut failures = 0usize;
    for a in &audit.auditors {
        let log = a.log().to_string();
        match a.sync().await {
            Ok(s) => match s.previous {
                None => println!(
                    "{log}: trusted on first use: size {} root {}",
                    s.head.size, s.head.root
                ),
                Some(p) if p == s.head.size => {
                    println!("{log}: unchanged at size {} root {}", p, s.head.root)
                }
                Some(p) => println!(
                    "{log}: grew from {p} to {} (consistency proven), root {}",
                    s.head.size, s.head.root
                ),
            },
            Err(e) => {
                eprintln!("error: {e}");
                failures += 1;
                continue;
            }
        }
        if args.full {
            match full(a, args.concurrency).await {
                Ok(()) => {}
                Err(e) => {
                    eprintln!("error: {e:#}");
                    failures += 1;
                }
            }
        }
    }
    for src in &args.gossip {
        if let Err(e) = gossip(&audit, src).await {
            eprintln!("error: {e:#}");
            failures += 1;
        }
    }
    if failures > 0 {
        bail!("{failures} check(s) failed: see the errors above");
    }
    Ok(())
}

async fn full(a: &Auditor<HttpSource>, concurrency: usize) -> Result<()> {
    let log = a.log().to_string();
    let mut last = Instant::now();
    let started = Instant::now();
    let report = a
        .full(concurrency, Duration::from_secs(2), |s: &FullStatus| {
            if last.elapsed() >= Duration::from_secs(3) {
                last = Instant::now();
                let done = s.done - s.started_at;
                let rate = done as f64 / s.elapsed.as_secs_f64().max(1e-3);
                let eta = (s.total - s.done) as f64 / rate.max(1.0);
                eprintln!(
                    "{log}: full sync {}/{} entries, {rate:.0} entries/s, ETA {eta:.0} s",
                    s.done, s.total
                );
            }
        })
        .await?;
    let secs = started.elapsed().as_secs_f64();
    let read = report.size - report.started_at;
    println!(
        "{log}: full sync: {} entries recomputed{} to the signed root of size {} ({} verified \
         checkpoint(s) compared), {read} entries in {secs:.2} s ({:.0} entries/s)",
        report.size,
        if report.started_at > 0 {
            format!(" (resumed at {})", report.started_at)
        } else {
            String::new()
        },
        report.size,
        report.checkpoints_compared,
        read as f64 / secs.max(1e-6)
    );
    Ok(())
}

async fn read_source(src: &str) -> Result<Vec<u8>> {
    if src.starts_with("http://") || src.starts_with("https://") {
        let resp = reqwest::get(src)
            .await
            .with_context(|| format!("fetching {src}"))?;
        let status = resp.status();
        let body = resp
            .bytes()
            .await
            .with_context(|| format!("reading {src}"))?;
        if !status.is_success() {
            bail!("{src} answered {status}");
        }
        Ok(body.to_vec())
    } else {
        std::fs::read(src).with_context(|| format!("reading {src}"))
    }
}

async fn gossip(audit: &Audit, src: &str) -> Result<()> {
    let bytes = read_source(src).await?;
    let heads = parse_gossip(src, &bytes)?;
    for signed in heads {
        let is_sth = signed.trim_start().starts_with('{');
        let mut matched = None;
        let mut refusals = Vec::new();
        for a in &audit.auditors {
            if (a.log().kind() == LogKind::Ct) != is_sth {
                continue;
            }
            match a.log().verify_head(signed.as_bytes()) {
                Ok(h) => {
                    matched = Some((a, h));
                    break;
                }
                Err(e) => refusals.push(e.to_string()),
            }
        }
        let Some((a, head)) = matched else {
            bail!(
                "a checkpoint gossiped by {src} is signed by none of the audited logs: {}",
                refusals.join("; ")
            );
        };
        let size = head.size;
        let outcome = a.check_gossip(head, src).await?;
        println!(
            "{}: the checkpoint of size {size} gossiped by {src} agrees with this auditor's view ({outcome:?})",
            a.log()
        );
    }
    Ok(())
}

fn checkpoints(args: &CommonArgs) -> Result<()> {
    let audit = args.open()?;
    for a in &audit.auditors {
        if let Some(cp) = a.trusted()? {
            println!(
                "{}",
                json!({
                    "log": a.log().store_key(),
                    "kind": a.log().kind().name(),
                    "url": a.log().base_url(),
                    "size": cp.size,
                    "root": cp.root,
                    "origin": cp.origin,
                    "seen": cp.seen_unix,
                    "signed": cp.signed,
                })
            );
        }
    }
    Ok(())
}

async fn inclusion(args: InclusionArgs) -> Result<()> {
    let audit = args.common.open()?;
    let by_kind = |k: LogKind| {
        audit
            .auditors
            .iter()
            .find(|a| a.log().kind() == k)
            .with_context(|| format!("the trust material lists no {k}"))
    };
    // (auditor, index, leaf data)
    let mut targets: Vec<(&Auditor<HttpSource>, u64, Vec<u8>)> = Vec::new();
    if let Some(path) = &args.bundle {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading the bundle {}", path.display()))?;
        let bundle = hallmark_verify::Bundle::from_json(&bytes)
            .with_context(|| format!("{} is not a Sigstore bundle", path.display()))?;
        if bundle.tlog_entries.is_empty() {
            bail!("{} has no transparency log entry", path.display());
        }
        for e in bundle.tlog_entries {
            let a = audit
                .auditors
                .iter()
                .find(|a| a.log().log_id().as_slice() == e.log_id.as_slice())
                .with_context(|| {
                    format!(
                        "the bundle's entry is in log {}, which the trust material does not list",
                        hex::encode(&e.log_id)
                    )
                })?;
            targets.push((a, e.log_index, e.canonicalized_body));
        }
    } else if let Some(uuid) = &args.uuid {
        let a = by_kind(LogKind::RekorV1)?;
        let (index, body) = a.source().v1_entry_by_uuid(uuid).await?;
        targets.push((a, index, body));
    } else if let Some(digest) = &args.digest {
        let a = by_kind(LogKind::RekorV1)?;
        let uuids = a.source().v1_search_digest(digest).await?;
        if uuids.is_empty() {
            bail!("{} has no entry for {digest}", a.log());
        }
        for u in uuids {
            let (index, body) = a.source().v1_entry_by_uuid(&u).await?;
            targets.push((a, index, body));
        }
    } else if let Some(index) = args.index {
        if audit.auditors.len() != 1 {
            bail!("--index needs --log v1, v2 or ct: which log's index?");
        }
        let a = &audit.auditors[0];
        let mut size = a.trusted()?.map_or(0, |t| t.size);
        if index >= size {
            size = a.sync().await?.head.size;
        }
        if index >= size {
            bail!(
                "{}: index {index} is beyond the verified tree of size {size}",
                a.log()
            );
        }
        let data = a
            .source()
            .entries(index, index + 1, size)
            .await?
            .pop()
            .context("the log returned no entry")?;
        targets.push((a, index, data));
    }
    for (a, index, data) in targets {
        let included = a.inclusion(index, leaf_hash(&data)).await?;
        println!(
            "{}: entry {index} is included in the verified checkpoint of size {} (root {})",
            a.log(),
            included.size,
            included.root
        );
    }
    Ok(())
}

impl WatchArgs {
    /// The rules: the config file's, and one made of the flags' identities and issuers.
    fn rules(&self) -> Result<Vec<hallmark_audit::watch::Rule>> {
        use hallmark_verify::{IdentityPolicy, Matcher};
        let mut rules = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?;
                hallmark_audit::watch::WatchConfig::parse(&text)
                    .with_context(|| format!("in {}", path.display()))?
            }
            None => Vec::new(),
        };
        let mut sans = self
            .identity
            .iter()
            .cloned()
            .map(Matcher::exact)
            .collect::<Vec<_>>();
        for r in &self.identity_regexp {
            sans.push(Matcher::regex(r).context("--identity-regexp")?);
        }
        let mut issuers = self
            .issuer
            .iter()
            .cloned()
            .map(Matcher::exact)
            .collect::<Vec<_>>();
        for r in &self.issuer_regexp {
            issuers.push(Matcher::regex(r).context("--issuer-regexp")?);
        }
        match (sans.is_empty(), issuers.is_empty()) {
            (true, true) => {}
            (false, false) => {
                let name = self
                    .identity
                    .iter()
                    .chain(&self.identity_regexp)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ");
                let identities = sans
                    .iter()
                    .flat_map(|san| {
                        issuers.iter().map(|issuer| IdentityPolicy {
                            san: san.clone(),
                            issuer: issuer.clone(),
                            extensions: Vec::new(),
                        })
                    })
                    .collect();
                rules.push(hallmark_audit::watch::Rule {
                    name,
                    identities,
                    expected: Vec::new(),
                });
            }
            (true, false) => bail!("--issuer needs --identity or --identity-regexp"),
            (false, true) => bail!("--identity needs --issuer or --issuer-regexp"),
        }
        Ok(rules)
    }
}

// The per-entry closure returns the library's `AuditError` (which keeps its hashes and sizes
// inline for its messages); it runs once per entry, not in a hot loop of its own.
#[allow(clippy::result_large_err)]
async fn watch(args: WatchArgs) -> Result<()> {
    use hallmark_audit::watch::{EntryFormat, Watcher};
    use std::io::Write as _;
    let watcher = Watcher::new(args.rules()?)?;
    let audit = args.common.open()?;
    let mut failures = 0usize;
    let mut unexpected = 0usize;
    let mut found = 0usize;
    let stdout = std::io::stdout();
    for a in &audit.auditors {
        let log = a.log().to_string();
        if let Err(e) = a.sync().await {
            eprintln!("error: {e}");
            failures += 1;
            continue;
        }
        let format = match a.log().kind() {
            LogKind::Ct => EntryFormat::Ct,
            LogKind::RekorV1 => EntryFormat::RekorV1,
            LogKind::RekorV2 => EntryFormat::RekorV2,
        };
        let url = a.log().base_url().to_owned();
        let mut last = Instant::now();
        let walked = a
            .follow(
                &args.cursor,
                args.concurrency,
                Duration::from_secs(2),
                |s: &FullStatus| {
                    if last.elapsed() >= Duration::from_secs(3) {
                        last = Instant::now();
                        eprintln!("{log}: watch at {}/{} entries", s.done, s.total);
                    }
                },
                |index, data| {
                    for f in watcher.examine(format, &url, index, data)? {
                        found += 1;
                        if !f.expected {
                            unexpected += 1;
                        }
                        let line = serde_json::to_string(&f).map_err(|e| {
                            hallmark_audit::AuditError::entry(
                                &url,
                                index,
                                format!("writing the finding: {e}"),
                            )
                        })?;
                        let mut out = stdout.lock();
                        // A closed stdout ends the watch with an error: findings must not vanish.
                        writeln!(out, "{line}")
                            .and_then(|()| out.flush())
                            .map_err(|e| {
                                hallmark_audit::AuditError::entry(
                                    &url,
                                    index,
                                    format!("writing the finding: {e}"),
                                )
                            })?;
                    }
                    Ok(())
                },
            )
            .await;
        match walked {
            Ok(r) => eprintln!(
                "{log}: watched entries {} to {} (roots checked against {} verified checkpoint(s))",
                r.started_at, r.size, r.checkpoints_compared
            ),
            Err(e) => {
                eprintln!("error: {e}");
                failures += 1;
            }
        }
    }
    eprintln!("{found} finding(s), {unexpected} unexpected");
    if failures > 0 {
        bail!("{failures} log(s) could not be watched: see the errors above");
    }
    if unexpected > 0 {
        bail!("{unexpected} unexpected finding(s): see the JSON lines on stdout");
    }
    Ok(())
}
