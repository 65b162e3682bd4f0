//! Start-up: open the HSM and the keys, the CA certificates, the CT log, the token verifier; and
//! `hallmark ca init`, which creates what start-up needs.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use hallmark_ca::{Issuance, IssuingKey, Prepared};
use hallmark_keys::{Hsm, KeyError, KeyRef, Pkcs11Key};
use hallmark_log::{RedbStore, Sequencer, SequencerConfig};
use hallmark_oidc::config::{IssuerType, IssuersFile};
use hallmark_oidc::{IssuerConfig, TokenVerifier};
use metrics_exporter_prometheus::PrometheusHandle;
use x509_cert::Certificate;

use crate::Settings;
use crate::config::CaCurve;
use crate::ct::CtLog;
use crate::dev::{self, DevIssuer};
use crate::error::ApiError;
use crate::rekor::RekorLog;
use sha2::Digest as _;

/// Everything a request handler needs.
pub struct AppState {
    pub(crate) settings: Settings,
    pub(crate) hsm: Hsm,
    pub(crate) ct: Arc<CtLog>,
    pub(crate) rekor: Arc<RekorLog>,
    pub(crate) ca: CaService,
    pub(crate) verifier: TokenVerifier,
    pub(crate) dev_issuer: Option<DevIssuer>,
    /// Whether the CA root key is on a token the server opened (it should not be).
    pub(crate) root_key_reachable: bool,
    pub(crate) metrics: PrometheusHandle,
    /// Permits for the blocking read path (`crate::reads`).
    pub(crate) reads: tokio::sync::Semaphore,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("public_url", &self.settings.public_url())
            .finish_non_exhaustive()
    }
}

/// The issuing side of the CA.
pub(crate) struct CaService {
    /// Issuing CA, then root, as PEM.
    pub(crate) chain_pem: Vec<String>,
    pub(crate) issuance: Issuance,
    issuing_key: Arc<dyn IssuingKey + Send + Sync>,
    issuing_cert: Certificate,
    accept_any_signer: bool,
    /// Signing certificates already checked against the issuing CA, by SHA-256 of their DER, with
    /// their validity window. A CI job logs many entries with one 10-minute certificate; this
    /// saves a chain signature check per entry. Bounded: cleared when full.
    checked_certs: Mutex<HashMap<[u8; 32], x509_cert::time::Validity>>,
}

/// Most signing certificates [`CaService::check_entry_signers`] remembers.
const CHECKED_CERTS_MAX: usize = 16_384;

fn ca_error(e: hallmark_ca::CaError) -> ApiError {
    ApiError::from(e)
}

impl CaService {
    /// When the log accepts only this CA's signers (the default), every verifier of an entry
    /// must be a certificate issued by this CA and valid now (the entry's integration time).
    /// A bare public key, a certificate from another CA, or one outside its validity is refused
    /// with a 400 naming the verifier.
    pub(crate) fn check_entry_signers(
        &self,
        signers: &[hallmark_sigstore::EntrySigner],
    ) -> Result<(), ApiError> {
        if self.accept_any_signer {
            return Ok(());
        }
        self.check_signers_at(signers, SystemTime::now())
    }

    fn check_signers_at(
        &self,
        signers: &[hallmark_sigstore::EntrySigner],
        now: SystemTime,
    ) -> Result<(), ApiError> {
        if signers.is_empty() {
            return Err(ApiError::bad_request(
                "the entry names no verifier; this log accepts only certificates issued by its CA",
            ));
        }
        let n = signers.len();
        for (i, signer) in signers.iter().enumerate() {
            let which = format!("verifier {} of {n}", i + 1);
            let Some(der) = &signer.certificate_der else {
                return Err(ApiError::bad_request(format!(
                    "{which} is a bare public key; this log accepts only certificates issued by \
                     its CA"
                )));
            };
            self.check_signer_certificate_at(der, now)
                .map_err(|e| ApiError::new(e.status(), format!("{which}: {}", e.message())))?;
        }
        Ok(())
    }

    /// A signing certificate must have been issued by this CA and be valid at `now`.
    fn check_signer_certificate_at(&self, der: &[u8], now: SystemTime) -> Result<(), ApiError> {
        let id: [u8; 32] = sha2::Sha256::digest(der).into();
        let known = self
            .checked_certs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .copied();
        let validity = match known {
            Some(validity) => validity,
            None => {
                let cert =
                    hallmark_ca::parse_certificate("signing certificate", der).map_err(ca_error)?;
                hallmark_ca::verify_issued_by(
                    "signing certificate",
                    &cert,
                    "issuing CA",
                    &self.issuing_cert,
                )
                .map_err(|e| {
                    ApiError::bad_request(format!(
                        "the signing certificate was not issued by this authority's CA: {e}"
                    ))
                })?;
                let validity = *cert.tbs_certificate().validity();
                let mut checked = self
                    .checked_certs
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if checked.len() >= CHECKED_CERTS_MAX {
                    checked.clear();
                }
                checked.insert(id, validity);
                validity
            }
        };
        if now < validity.not_before.to_system_time() || now > validity.not_after.to_system_time() {
            return Err(ApiError::bad_request(format!(
                "the signing certificate is not valid now (valid from {} to {})",
                validity.not_before, validity.not_after
            )));
        }
        Ok(())
    }

    /// On a blocking thread: the CT key signs the SCT over the precertificate (already durable in
    /// the CT log at `timestamp_ms`), the issuing key signs the certificate. Returns its PEM.
    pub(crate) fn finish(
        &self,
        prepared: Prepared,
        timestamp_ms: u64,
        ct: &CtLog,
    ) -> Result<String, ApiError> {
        let sct = hallmark_ca::ct::sign_sct(
            &ct.key,
            ct.log_id,
            timestamp_ms,
            prepared.issuer_key_hash(),
            prepared.precert_tbs_der(),
        )
        .map_err(ca_error)?;
        let cert = prepared
            .finish(&sct, self.issuing_key.as_ref())
            .map_err(ca_error)?;
        hallmark_ca::certificate_pem(&cert).map_err(ca_error)
    }
}

fn open_token(settings: &Settings, key: &KeyRef) -> Result<Hsm> {
    let config = key
        .config(&settings.module, settings.pin.as_ref())
        .with_context(|| format!("key {key}"))?;
    let hsm = Hsm::open(config).with_context(|| format!("opening the token of {key}"))?;
    hsm.set_max_sessions(settings.hsm_max_sessions);
    Ok(hsm)
}

/// The root key's token, with its own PIN when one is configured (`ca init` only).
fn open_root_token(settings: &Settings) -> Result<Hsm> {
    let key = &settings.root_key;
    let pin = settings.root_pin.as_ref().or(settings.pin.as_ref());
    let config = key
        .config(&settings.module, pin)
        .with_context(|| format!("key {key}"))?;
    Hsm::open(config).with_context(|| format!("opening the root key's token ({key})"))
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

/// The signature log's sequencer settings: its entry limit is the configured one (the
/// sequencer's default of 1 MiB would silently cap a larger `log.max_entry_bytes`).
fn rekor_sequencer_config(s: &Settings, tree_id: u64) -> SequencerConfig {
    let host = s.public_host();
    let mut config = SequencerConfig::new(format!("{host} - {tree_id}"), host);
    config.max_entry_bytes = s.max_entry_bytes;
    config
}

/// Opens the signature log (`data_dir/log.redb`) with its HSM key.
fn open_rekor(s: &Settings) -> Result<RekorLog> {
    use spki::EncodePublicKey as _;
    let hsm = open_token(s, &s.log_key)?;
    let key: Pkcs11Key<p256::NistP256> = hsm.load_p256(s.log_key.object()).with_context(|| {
        format!(
            "loading the log key {} (run `hallmark ca init`?)",
            s.log_key
        )
    })?;
    let spki = key.public_key_der();
    let log_id: [u8; 32] = sha2::Sha256::digest(&spki).into();
    let mut id = [0u8; 8];
    id.copy_from_slice(&log_id[..8]);
    let tree_id = u64::from_be_bytes(id) >> 1;
    let public_key_pem = p256::ecdsa::VerifyingKey::from(*key.as_ref())
        .to_public_key_pem(spki::der::pem::LineEnding::LF)
        .context("encoding the log public key")?;
    let db = s.data_dir.join("log.redb");
    let store =
        Arc::new(RedbStore::open(&db).with_context(|| format!("opening {}", db.display()))?);
    // Each entry's SET is signed once, in the batch that appends it, and stored with it.
    let set_signer = Arc::new(crate::rekor::SetSigner {
        key: key.clone(),
        log_id_hex: hex::encode(log_id),
    });
    let seq = Sequencer::start_with_entry_signer(
        store,
        key.clone(),
        set_signer,
        rekor_sequencer_config(s, tree_id),
    )
    .context("starting the signature log (signing the SETs of entries that have none)")?;
    Ok(RekorLog {
        seq,
        key,
        log_id,
        tree_id,
        public_key_pem,
        workers: tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map_or(2, usize::from)
                * crate::rekor::WORKERS_PER_CORE,
        ),
    })
}

fn verifier(settings: &Settings) -> Result<(TokenVerifier, Option<DevIssuer>)> {
    let dev = dev::issuer(settings)?;
    let config = match (&settings.issuers_file, &dev) {
        (Some(path), None) => {
            IssuerConfig::load(path).with_context(|| format!("OIDC issuers {}", path.display()))?
        }
        (file, Some(dev)) => {
            let mut issuers = match file {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    serde_norway::from_str::<IssuersFile>(&text).with_context(|| {
                        format!(
                            "{}: with the development issuer enabled, the issuers file must be in \
                             Hallmark's format (issuers: / meta_issuers:)",
                            path.display()
                        )
                    })?
                }
                None => IssuersFile::default(),
            };
            dev::add_to(&mut issuers, dev);
            let base = file.as_deref().and_then(Path::parent);
            IssuerConfig::from_file(issuers, base)?
        }
        (None, None) => bail!("no OIDC issuers configured"),
    };
    Ok((TokenVerifier::new(config)?, dev))
}

impl AppState {
    /// Opens everything; fails with a message naming what is missing and how to fix it.
    pub async fn open(settings: Settings) -> Result<Self> {
        let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
            .install_recorder()
            .context("installing the metrics recorder")?;
        let s = settings.clone();
        let (hsm, ca, ct, rekor, root_key_reachable) =
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
                let ct_hsm = open_token(&s, &s.ct_key)?;
                let ct_key: Pkcs11Key<p256::NistP256> =
                    ct_hsm.load_p256(s.ct_key.object()).with_context(|| {
                        format!(
                            "loading the CT log key {} (run `hallmark ca init`?)",
                            s.ct_key
                        )
                    })?;
                let log_id = hallmark_sigstore::ct::log_id(&ct_key.public_key_der());
                std::fs::create_dir_all(&s.data_dir)
                    .with_context(|| format!("creating {}", s.data_dir.display()))?;
                let db = s.data_dir.join("ct-log.redb");
                let store = Arc::new(
                    RedbStore::open(&db).with_context(|| format!("opening {}", db.display()))?,
                );
                let host = s.public_host();
                let seq = Sequencer::start(
                    store,
                    ct_key.clone(),
                    SequencerConfig::new(format!("{host} - ct"), host.clone()),
                )?;
                let ct = Arc::new(CtLog::new(seq, ct_key, log_id, chain_der));
                let rekor = Arc::new(open_rekor(&s)?);
                let ca = CaService {
                    chain_pem,
                    issuance,
                    issuing_key,
                    issuing_cert,
                    accept_any_signer: s.accept_any_signer,
                    checked_certs: Mutex::new(HashMap::new()),
                };
                Ok((hsm, ca, ct, rekor, root_key_reachable))
            })
            .await
            .context("start-up task")??;
        let (verifier, dev_issuer) = verifier(&settings)?;
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
            hsm,
            ct,
            rekor,
            ca,
            verifier,
            dev_issuer,
            root_key_reachable,
            metrics,
            reads,
        })
    }

    /// Fulcio's `/api/v2/configuration`: the issuers this CA accepts.
    pub(crate) fn issuer_configuration(&self) -> serde_json::Value {
        let issuers: Vec<serde_json::Value> = self
            .verifier
            .config()
            .issuers()
            .map(|i| {
                let url_key = if i.url().contains('*') { "wildcardIssuerUrl" } else { "issuerUrl" };
                serde_json::json!({
                    url_key: i.url(),
                    "audience": i.audience(),
                    "challengeClaim": if i.issuer_type() == IssuerType::Email { "email" } else { "sub" },
                    "issuerType": i.issuer_type().as_str(),
                })
            })
            .collect();
        serde_json::json!({ "issuers": issuers })
    }
}

/// What `hallmark ca init` did.
#[derive(Debug, Default)]
pub struct CaInitReport {
    lines: Vec<String>,
}

impl fmt::Display for CaInitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for l in &self.lines {
            writeln!(f, "{l}")?;
        }
        Ok(())
    }
}

/// Root certificate validity.
const ROOT_VALIDITY: Duration = Duration::from_secs(20 * 365 * 86_400);
/// Issuing certificate validity.
const ISSUING_VALIDITY: Duration = Duration::from_secs(10 * 365 * 86_400);

/// `hallmark ca init`: root and issuing keys generated inside the HSM, their certificates written
/// as PEM (and stored on the token), and the CT log key. Never overwrites: an existing key or
/// certificate is an error that says what exists and what is missing.
pub fn ca_init(settings: &Settings) -> Result<CaInitReport> {
    let mut report = CaInitReport::default();
    let root_path = settings.root_cert_path();
    let issuing_path = settings.issuing_cert_path();
    let root_hsm = open_root_token(settings)?;
    let issuing_hsm = open_token(settings, &settings.issuing_key)?;

    // Refuse to touch an existing CA, and say exactly what exists.
    let mut existing = Vec::new();
    for (what, hsm, key) in [
        ("root key", &root_hsm, &settings.root_key),
        ("issuing key", &issuing_hsm, &settings.issuing_key),
    ] {
        match hsm.load_p256(key.object()) {
            Ok(_) | Err(KeyError::CurveMismatch { .. }) => existing.push(format!("{what} {key}")),
            Err(KeyError::KeyNotFound { .. }) => {}
            Err(e) => return Err(e).with_context(|| format!("checking {what} {key}")),
        }
    }
    for (what, path) in [
        ("root certificate", &root_path),
        ("issuing certificate", &issuing_path),
    ] {
        if path.exists() {
            existing.push(format!("{what} {}", path.display()));
        }
    }
    if !existing.is_empty() {
        bail!(
            "refusing to initialise the CA: {} already exist(s). Nothing was changed. \
             `hallmark ca init` never overwrites keys or certificates; to start over, delete them \
             deliberately (or use other key labels and data_dir).",
            existing.join(", ")
        );
    }

    let subject = hallmark_ca::CaSubject {
        organization: settings.organization.clone(),
        common_name: format!("{} root", settings.common_name),
    };
    let issuing_subject = hallmark_ca::CaSubject {
        organization: settings.organization.clone(),
        common_name: format!("{} issuing CA", settings.common_name),
    };
    let generate = |hsm: &Hsm, key: &KeyRef| -> Result<Box<dyn IssuingKey>> {
        Ok(match settings.ca_curve {
            CaCurve::P256 => Box::new(hsm.generate_p256(key.object())?),
            CaCurve::P384 => Box::new(hsm.generate_p384(key.object())?),
        })
    };
    let curve = match settings.ca_curve {
        CaCurve::P256 => "P-256",
        CaCurve::P384 => "P-384",
    };
    let root_key = generate(&root_hsm, &settings.root_key)?;
    report.lines.push(format!(
        "generated root key {} ({curve}) inside the HSM",
        settings.root_key
    ));
    let issuing_key = generate(&issuing_hsm, &settings.issuing_key)?;
    report.lines.push(format!(
        "generated issuing key {} ({curve}) inside the HSM",
        settings.issuing_key
    ));
    let now = SystemTime::now();
    let root = hallmark_ca::root_certificate(root_key.as_ref(), &subject, now, ROOT_VALIDITY)?;
    let issuing = hallmark_ca::intermediate_certificate(
        root_key.as_ref(),
        &root,
        &issuing_key.public_key_der()?,
        &issuing_subject,
        now,
        ISSUING_VALIDITY,
    )?;
    std::fs::create_dir_all(root_path.parent().unwrap_or(Path::new(".")))?;
    for (what, path, cert, hsm, label) in [
        (
            "root",
            &root_path,
            &root,
            &root_hsm,
            format!("{}-cert", settings.root_key.object()),
        ),
        (
            "issuing",
            &issuing_path,
            &issuing,
            &issuing_hsm,
            format!("{}-cert", settings.issuing_key.object()),
        ),
    ] {
        write_new(path, hallmark_ca::certificate_pem(cert)?.as_bytes())?;
        report.lines.push(format!(
            "wrote the {what} certificate to {}",
            path.display()
        ));
        match hsm.store_certificate(&label, &hallmark_ca::certificate_der(cert)?) {
            Ok(()) => report.lines.push(format!("stored the {what} certificate on the token as {label}")),
            Err(e) => report.lines.push(format!("could not store the {what} certificate on the token ({e}); the PEM file is the copy to back up")),
        }
    }
    for (what, key) in [
        ("CT log", &settings.ct_key),
        ("signature log", &settings.log_key),
    ] {
        let hsm = open_token(settings, key)?;
        match hsm.load_p256(key.object()) {
            Ok(_) => report
                .lines
                .push(format!("{what} key {key} already exists; kept")),
            Err(KeyError::KeyNotFound { .. }) => {
                hsm.generate_p256(key.object())?;
                report
                    .lines
                    .push(format!("generated {what} key {key} (P-256) inside the HSM"));
            }
            Err(e) => return Err(e).with_context(|| format!("checking the {what} key {key}")),
        }
    }
    Ok(report)
}

/// Writes a file that must not exist yet.
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::time::{Duration, SystemTime};

    use hallmark_ca::{CaSubject, IssuingKey as _};
    use hallmark_oidc::{CiExtensions, Identity, SubjectAltName};
    use hallmark_sigstore::EntrySigner;

    use super::*;

    struct Ca {
        service: CaService,
        issuing_key: Arc<hallmark_keys::MemoryKey<p256::NistP256>>,
        ct_key: hallmark_keys::MemoryKey<p256::NistP256>,
        issuing_cert: Certificate,
    }

    fn subject(cn: &str) -> CaSubject {
        CaSubject {
            organization: "Test".into(),
            common_name: cn.into(),
        }
    }

    /// An in-memory CA (root, issuing CA) behind a `CaService` that accepts only its signers.
    fn ca(now: SystemTime) -> Ca {
        let root_key = hallmark_keys::generate_memory_p256().unwrap();
        let issuing_key = Arc::new(hallmark_keys::generate_memory_p256().unwrap());
        let year = Duration::from_secs(365 * 86_400);
        let root = hallmark_ca::root_certificate(&root_key, &subject("root"), now, year).unwrap();
        let issuing_cert = hallmark_ca::intermediate_certificate(
            &root_key,
            &root,
            &issuing_key.public_key_der().unwrap(),
            &subject("issuing"),
            now,
            year,
        )
        .unwrap();
        let service = CaService {
            chain_pem: Vec::new(),
            issuance: Issuance::new(&issuing_cert, issuing_key.as_ref()).unwrap(),
            issuing_key: issuing_key.clone(),
            issuing_cert: issuing_cert.clone(),
            accept_any_signer: false,
            checked_certs: Mutex::new(HashMap::new()),
        };
        Ca {
            service,
            issuing_key,
            ct_key: hallmark_keys::generate_memory_p256().unwrap(),
            issuing_cert,
        }
    }

    /// A 10-minute leaf from `ca`, for a fresh key, issued at `now`.
    fn leaf(ca: &Ca, now: SystemTime) -> Vec<u8> {
        let client = hallmark_keys::generate_memory_p256().unwrap();
        let identity = Identity {
            issuer: "https://idp.example.com".into(),
            san: SubjectAltName::Email("alice@example.com".into()),
            challenge: "alice@example.com".into(),
            subject: "alice@example.com".into(),
            extensions: CiExtensions::default(),
            github_v1: None,
        };
        let prepared = ca
            .service
            .issuance
            .prepare(&client.public_key_der().unwrap(), &identity, now)
            .unwrap();
        let ct_spki = ca.ct_key.public_key_der().unwrap();
        let sct = hallmark_ca::ct::sign_sct(
            &ca.ct_key,
            hallmark_sigstore::ct::log_id(&ct_spki),
            0,
            prepared.issuer_key_hash(),
            prepared.precert_tbs_der(),
        )
        .unwrap();
        let cert = prepared.finish(&sct, ca.issuing_key.as_ref()).unwrap();
        assert!(hallmark_ca::verify_issued_by("leaf", &cert, "ca", &ca.issuing_cert).is_ok());
        hallmark_ca::certificate_der(&cert).unwrap()
    }

    fn cert_signer(der: Vec<u8>) -> EntrySigner {
        EntrySigner::new(Some(der), Vec::new())
    }

    fn bare_signer() -> EntrySigner {
        let key = hallmark_keys::generate_memory_p256().unwrap();
        EntrySigner::new(None, key.public_key_der().unwrap())
    }

    #[test]
    fn the_sequencer_takes_the_configured_entry_limit() {
        let dir = std::env::temp_dir().join(format!("hallmark-seq-{}.yaml", std::process::id()));
        std::fs::write(&dir, "dev_oidc: true\nlog:\n  max_entry_bytes: 6291456\n").unwrap();
        let s = crate::config::load(Some(&dir), |_| None).unwrap();
        std::fs::remove_file(&dir).ok();
        let c = rekor_sequencer_config(&s, 7);
        assert_eq!(c.max_entry_bytes, 6 << 20);
        assert!(c.origin.ends_with(" - 7"), "{}", c.origin);
    }

    #[test]
    fn every_signer_must_be_a_current_certificate_of_this_ca() {
        let now = SystemTime::now();
        let ours = ca(now);
        let theirs = ca(now);
        let good = cert_signer(leaf(&ours, now));
        assert!(
            ours.service
                .check_signers_at(std::slice::from_ref(&good), now)
                .is_ok()
        );
        assert!(
            ours.service
                .check_signers_at(&[good.clone(), good.clone()], now)
                .is_ok()
        );

        let refused = |signers: &[EntrySigner], at: SystemTime, want: &str| {
            let e = ours.service.check_signers_at(signers, at).unwrap_err();
            assert_eq!(e.status(), axum::http::StatusCode::BAD_REQUEST);
            assert!(e.message().contains(want), "{}", e.message());
        };
        refused(
            &[good.clone(), bare_signer()],
            now,
            "verifier 2 of 2 is a bare public key; this log accepts only certificates issued by its CA",
        );
        refused(
            &[bare_signer()],
            now,
            "verifier 1 of 1 is a bare public key",
        );
        let foreign = cert_signer(leaf(&theirs, now));
        refused(
            &[good.clone(), good.clone(), foreign],
            now,
            "verifier 3 of 3: the signing certificate was not issued by this authority's CA",
        );
        // Our own certificate outside its 10 minutes, on either side.
        refused(
            std::slice::from_ref(&good),
            now + Duration::from_secs(11 * 60),
            "verifier 1 of 1: the signing certificate is not valid now",
        );
        refused(
            std::slice::from_ref(&good),
            now - Duration::from_secs(60),
            "is not valid now",
        );
        refused(&[], now, "names no verifier");

        // With accept_any_signer, anything goes.
        let mut any = ca(now);
        any.service.accept_any_signer = true;
        assert!(
            any.service
                .check_entry_signers(&[bare_signer(), cert_signer(leaf(&theirs, now))])
                .is_ok()
        );
    }
}
