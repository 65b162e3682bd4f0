//! Start-up: open the HSM and the keys, the CA certificates, the CT log and the signature log
//! (redb files in `data_dir`), and the token verifier, into an [`AppState`].

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use hallmark_ca::{Issuance, IssuingKey};
use hallmark_keys::{Ed25519, Hsm, KeyError, KeyRef, Pkcs11Key};
use hallmark_log::{PgOptions, PgStore, RedbStore};
use hallmark_tlog::note::Ed25519NoteSigner;
use metrics_exporter_prometheus::PrometheusHandle;
use x509_cert::Certificate;

use crate::Settings;
use crate::ca_service::CaService;
use crate::config::{LogV2KeyType, Storage};
use crate::leadership::{LeaderLog, Leadership};
use crate::state::{AppState, KeyCustody};
use crate::store::SharedStore;

/// Opens the token holding `key`, with the configured PIN and session limit.
pub(crate) fn open_token(settings: &Settings, key: &KeyRef) -> Result<Hsm> {
    let config = key
        .config(&settings.module, settings.pin.as_ref())
        .with_context(|| format!("key {key}"))?;
    let hsm = Hsm::open(config).with_context(|| format!("opening the token of {key}"))?;
    hsm.set_max_sessions(settings.hsm_max_sessions);
    Ok(hsm)
}

fn read_cert(path: &Path) -> Result<Certificate> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "reading {} (run `hallmark ca init` to create the CA)",
            path.display()
        )
    })?;
    Ok(hallmark_ca::parse_certificate("CA certificate", &bytes)?)
}

/// The CA's issuing key, on whichever curve it was made.
fn load_issuing_key(hsm: &Hsm, key: &KeyRef) -> Result<Arc<dyn IssuingKey + Send + Sync>> {
    match hsm.load_p256(key.object()) {
        Ok(k) => Ok(Arc::new(k)),
        Err(KeyError::CurveMismatch { .. }) => Ok(Arc::new(hsm.load_p384(key.object())?)),
        Err(e) => Err(e).with_context(|| format!("loading {key} (run `hallmark ca init`?)")),
    }
}

/// A log's P-256 key on its token.
fn load_log_key(s: &Settings, key: &KeyRef, what: &str) -> Result<Pkcs11Key<p256::NistP256>> {
    let hsm = open_token(s, key)?;
    hsm.load_p256(key.object())
        .with_context(|| format!("loading the {what} {key} (run `hallmark ca init`?)"))
}

/// The Rekor v2 log's checkpoint key on its token, of the configured type.
enum LogV2Key {
    P256(Pkcs11Key<p256::NistP256>),
    Ed25519(Pkcs11Key<Ed25519>),
}

impl LogV2Key {
    fn load(s: &Settings) -> Result<Self> {
        let key = &s.log_v2.key;
        let hsm = open_token(s, key)?;
        let loaded = match s.log_v2.key_type {
            LogV2KeyType::P256 => hsm.load_p256(key.object()).map(LogV2Key::P256),
            LogV2KeyType::Ed25519 => hsm.load_ed25519(key.object()).map(LogV2Key::Ed25519),
        };
        loaded.with_context(|| {
            format!(
                "loading the Rekor v2 log key {key} ({}, log_v2.key_type) (for a CA made before \
                 the v2 log, `hallmark ca upgrade` adds it; or set log_v2.enabled: false)",
                s.log_v2.key_type.name()
            )
        })
    }

    fn signature_count(&self) -> u64 {
        match self {
            LogV2Key::P256(k) => k.signature_count(),
            LogV2Key::Ed25519(k) => k.signature_count(),
        }
    }

    fn hsm(&self) -> &Hsm {
        match self {
            LogV2Key::P256(k) => k.hsm(),
            LogV2Key::Ed25519(k) => k.hsm(),
        }
    }

    /// The v2 log over `store`, its checkpoints signed by this key.
    fn log(&self, store: SharedStore, s: &Settings) -> Result<crate::rekor_v2::RekorV2Log> {
        match self {
            LogV2Key::P256(k) => crate::logs::rekor_v2_log(store, k.clone(), s),
            LogV2Key::Ed25519(k) => {
                crate::logs::rekor_v2_log(store, Ed25519NoteSigner(k.clone()), s)
            }
        }
    }
}

/// The timestamp authority, when its certificate exists: the leaf must hold the TSA key and be
/// issued by the root. Without the certificate the server runs without a TSA (an authority
/// created before the TSA existed, until `hallmark ca init-tsa`).
fn load_tsa(
    s: &Settings,
    root: &Certificate,
) -> Result<Option<(crate::tsa::Tsa, Pkcs11Key<p256::NistP256>)>> {
    let path = s.tsa_cert_path();
    if !path.exists() {
        tracing::warn!(
            path = %path.display(),
            "no timestamp authority certificate: /api/v1/timestamp is off (run `hallmark ca init-tsa`)"
        );
        return Ok(None);
    }
    let leaf = read_cert(&path)?;
    let key = load_log_key(s, &s.tsa_key, "timestamp authority key")?;
    hallmark_ca::check_key_matches("timestamp authority", &leaf, &key.public_key_der())
        .with_context(|| format!("{} and {}", path.display(), s.tsa_key))?;
    hallmark_ca::verify_issued_by("timestamp authority", &leaf, "root", root)
        .with_context(|| format!("{} is not issued by the CA root", path.display()))?;
    let chain = [&leaf, root];
    let chain_der = chain
        .iter()
        .map(|c| hallmark_ca::certificate_der(c))
        .collect::<Result<Vec<_>, _>>()?;
    let chain_pem = chain
        .iter()
        .map(|c| hallmark_ca::certificate_pem(c))
        .collect::<Result<String, _>>()?;
    let tsa = crate::tsa::Tsa::new(
        &chain_der,
        chain_pem,
        Arc::new(key.clone()),
        s.tsa_policy,
        s.tsa_max_concurrent,
        s.tsa_max_queue,
    )?;
    Ok(Some((tsa, key)))
}

/// A redb store at `data_dir/<file>`.
/// The logs' stores as configured. With PostgreSQL, the stores opened so far, for leadership.
struct Stores<'a> {
    settings: &'a Settings,
    /// The database URL, read once (it holds the password; never logged).
    pg_url: Option<String>,
    pg: Vec<(&'static str, Arc<PgStore>)>,
}

impl<'a> Stores<'a> {
    fn new(settings: &'a Settings) -> Result<Self> {
        let pg_url = match &settings.storage {
            Storage::Redb => None,
            Storage::Postgres(p) => Some(p.read_url()?),
        };
        Ok(Self {
            settings,
            pg_url,
            pg: Vec::new(),
        })
    }

    /// The store of one log: `file` in the data directory (redb), or log `name` in the database.
    fn open(&mut self, file: &str, name: &'static str) -> Result<SharedStore> {
        let s = self.settings;
        match (&s.storage, &self.pg_url) {
            (Storage::Postgres(p), Some(url)) => {
                let store = Arc::new(
                    PgStore::open_with(&PgOptions {
                        url: url.clone(),
                        log: name.to_owned(),
                        pool_size: p.pool_size,
                        ca_file: p.ca_file.clone(),
                    })
                    .with_context(|| format!("opening the {name} log in PostgreSQL"))?,
                );
                // A standby until the election says otherwise.
                crate::leadership::fence(&store);
                self.pg.push((name, store.clone()));
                Ok(SharedStore::networked(store))
            }
            _ => {
                let db = s.data_dir.join(file);
                let store = RedbStore::open_with_cache(&db, s.redb_cache_mib << 20)
                    .with_context(|| format!("opening {}", db.display()))?;
                Ok(SharedStore::new(store))
            }
        }
    }

    /// The PostgreSQL store opened for log `name`.
    fn pg(&self, name: &str) -> Option<Arc<PgStore>> {
        self.pg
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s.clone())
    }
}

/// The keys on their HSM tokens: readiness asks the issuing key's token; metrics count each
/// log key's signatures and the sessions on loan per token handle.
struct HsmCustody {
    issuing: Hsm,
    log: Pkcs11Key<p256::NistP256>,
    ct: Pkcs11Key<p256::NistP256>,
    log_v2: Option<LogV2Key>,
    tsa: Option<Pkcs11Key<p256::NistP256>>,
}

impl KeyCustody for HsmCustody {
    fn health(&self) -> Result<(), KeyError> {
        self.issuing.health()
    }

    fn record_metrics(&self) {
        // HSM work by key (the issuing key's signatures are `hallmark_certificates_issued_total`),
        // and sessions on loan per token handle.
        for (key, signatures) in [
            ("log", self.log.signature_count()),
            ("ct_log", self.ct.signature_count()),
        ] {
            metrics::counter!("hallmark_hsm_signatures_total", "key" => key).absolute(signatures);
        }
        if let Some(k) = &self.log_v2 {
            metrics::counter!("hallmark_hsm_signatures_total", "key" => "log_v2")
                .absolute(k.signature_count());
            metrics::gauge!("hallmark_hsm_sessions_in_use", "handle" => "log_v2")
                .set(k.hsm().sessions_in_use() as f64);
        }
        if let Some(tsa) = &self.tsa {
            metrics::counter!("hallmark_hsm_signatures_total", "key" => "tsa")
                .absolute(tsa.signature_count());
            metrics::gauge!("hallmark_hsm_sessions_in_use", "handle" => "tsa")
                .set(tsa.hsm().sessions_in_use() as f64);
        }
        for (handle, hsm) in [
            ("issuing", &self.issuing),
            ("log", self.log.hsm()),
            ("ct_log", self.ct.hsm()),
        ] {
            metrics::gauge!("hallmark_hsm_sessions_in_use", "handle" => handle)
                .set(hsm.sessions_in_use() as f64);
        }
    }
}

impl AppState {
    /// Opens everything; fails with a message naming what is missing and how to fix it.
    /// `metrics` renders the recorder the binary installed.
    pub async fn open(settings: Settings, metrics: PrometheusHandle) -> Result<Self> {
        let s = settings.clone();
        let (custody, ca, ct, rekor, rekor_v2, root_key_reachable, tsa, leadership) =
            tokio::task::spawn_blocking(move || -> Result<_> {
                let hsm = open_token(&s, &s.issuing_key)?;
                let issuing_key = load_issuing_key(&hsm, &s.issuing_key)?;
                // The root key should be on a token this process cannot open; if the serving token
                // holds it, a compromised server could mint intermediates.
                let root_key_reachable = matches!(
                    hsm.load_p256(s.root_key.object()),
                    Ok(_) | Err(KeyError::CurveMismatch { .. })
                );
                let root = read_cert(&s.root_cert_path())?;
                let issuing_cert = read_cert(&s.issuing_cert_path())?;
                let issuance =
                    Issuance::new(&issuing_cert, issuing_key.as_ref()).with_context(|| {
                        format!(
                            "{} cannot issue with the key {}",
                            s.issuing_cert_path().display(),
                            s.issuing_key
                        )
                    })?;
                hallmark_ca::check_ca_chain(&root, &issuing_cert)
                    .context("the issuing certificate does not chain to the root")?;
                let chain_pem = vec![
                    hallmark_ca::certificate_pem(&issuing_cert)?,
                    hallmark_ca::certificate_pem(&root)?,
                ];
                let chain_der = vec![
                    hallmark_ca::certificate_der(&issuing_cert)?,
                    hallmark_ca::certificate_der(&root)?,
                ];
                let ct_key = load_log_key(&s, &s.ct_key, "CT log key")?;
                std::fs::create_dir_all(&s.data_dir)
                    .with_context(|| format!("creating {}", s.data_dir.display()))?;
                let mut stores = Stores::new(&s)?;
                let ct = crate::logs::ct_log(
                    stores.open("ct-log.redb", "ct")?,
                    ct_key.clone(),
                    chain_der,
                    &s.public_host(),
                )?;
                let log_key = load_log_key(&s, &s.log_key, "log key")?;
                let rekor =
                    crate::logs::rekor_log(stores.open("log.redb", "rekor")?, log_key.clone(), &s)?;
                let (rekor_v2, log_v2_key) = if s.log_v2.enabled {
                    let key = LogV2Key::load(&s)?;
                    let log = key.log(stores.open("log-v2.redb", "rekor-v2")?, &s)?;
                    (Some(Arc::new(log)), Some(key))
                } else {
                    (None, None)
                };
                let ca = CaService::new(
                    chain_pem,
                    issuance,
                    issuing_key,
                    issuing_cert,
                    s.accept_any_signer,
                );
                let (tsa, tsa_key) = match load_tsa(&s, &root)? {
                    Some((tsa, key)) => (Some(Arc::new(tsa)), Some(key)),
                    None => (None, None),
                };
                let custody = HsmCustody {
                    issuing: hsm,
                    log: log_key,
                    ct: ct_key,
                    log_v2: log_v2_key,
                    tsa: tsa_key,
                };
                let leadership = match &s.storage {
                    Storage::Redb => None,
                    Storage::Postgres(p) => {
                        // The leases are taken in this order by every replica.
                        let mut logs = Vec::new();
                        let mut add = |name: &'static str, seq: &crate::store::LogSequencer| {
                            if let Some(store) = stores.pg(name) {
                                let seq = seq.clone();
                                logs.push(LeaderLog {
                                    name,
                                    store,
                                    reload: Box::new(move || seq.reload()),
                                });
                            }
                        };
                        add("rekor", &rekor.seq);
                        add("ct", &ct.seq);
                        if let Some(v2) = &rekor_v2 {
                            add("rekor-v2", &v2.seq);
                        }
                        let secret = p.read_replica_secret()?;
                        Some(
                            Leadership::start(
                                logs,
                                p.advertise_url.clone().unwrap_or_else(|| s.public_url()),
                                secret.as_ref().map(secrecy::ExposeSecret::expose_secret),
                            )
                            .context("starting the sequencer election")?,
                        )
                    }
                };
                Ok((
                    custody,
                    ca,
                    ct,
                    rekor,
                    rekor_v2,
                    root_key_reachable,
                    tsa,
                    leadership,
                ))
            })
            .await
            .context("start-up task")??;
        let (verifier, dev_issuer) = crate::issuers::verifier(&settings)?;
        let reads = tokio::sync::Semaphore::new(settings.max_concurrent_reads);
        tracing::info!(
            ct_log_id = %hex::encode(ct.log_id),
            ct_size = ct.latest().size,
            log_tree_id = rekor.tree_id,
            log_size = rekor.seq.latest().size,
            "CA, CT log and signature log ready"
        );
        Ok(Self {
            settings,
            custody: Arc::new(custody),
            ct: Arc::new(ct),
            rekor: Arc::new(rekor),
            rekor_v2,
            ca,
            verifier,
            dev_issuer,
            root_key_reachable,
            metrics,
            reads,
            tsa,
            leadership,
        })
    }
}
