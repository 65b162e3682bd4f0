//! `hallmark ca init`: creates what start-up needs (the CA's keys and certificates, the logs'
//! keys). Not on the serving path: only the `hallmark ca init` command calls it.

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use hallmark_ca::IssuingKey;
use hallmark_keys::{Hsm, KeyError, KeyRef};

use crate::Settings;
use crate::config::{CaCurve, LogV2KeyType};
use crate::startup::open_token;

/// The root key's token, with its own PIN when one is configured (`ca init` only).
fn open_root_token(settings: &Settings) -> Result<Hsm> {
    let key = &settings.root_key;
    let pin = settings.root_pin.as_ref().or(settings.pin.as_ref());
    let config = key
        .config(&settings.module, pin)
        .with_context(|| format!("key {key}"))?;
    Hsm::open(config).with_context(|| format!("opening the root key's token ({key})"))
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
/// Timestamp authority certificate validity (cut to the root's end).
const TSA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 86_400);

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
    add_tsa(settings, root_key.as_ref(), &root, &mut report)?;
    add_log_keys(settings, &mut report)?;
    Ok(report)
}

/// The logs' P-256 keys, each generated inside the HSM unless it exists (kept).
fn add_log_keys(settings: &Settings, report: &mut CaInitReport) -> Result<()> {
    for (what, key) in [
        ("CT log", &settings.ct_key),
        ("signature log", &settings.log_key),
    ] {
        add_key(settings, what, key, LogV2KeyType::P256, report)?;
    }
    add_key(
        settings,
        "Rekor v2 log",
        &settings.log_v2.key,
        settings.log_v2.key_type,
        report,
    )
}

/// Generates the key `key` of type `key_type` inside the HSM unless it exists; an existing key of
/// another type is an error.
fn add_key(
    settings: &Settings,
    what: &str,
    key: &KeyRef,
    key_type: LogV2KeyType,
    report: &mut CaInitReport,
) -> Result<()> {
    let hsm = open_token(settings, key)?;
    let found = match key_type {
        LogV2KeyType::P256 => hsm.load_p256(key.object()).map(drop),
        LogV2KeyType::Ed25519 => hsm.load_ed25519(key.object()).map(drop),
    };
    let name = key_type.name();
    match found {
        Ok(()) => report
            .lines
            .push(format!("{what} key {key} already exists; kept")),
        Err(KeyError::KeyNotFound { .. }) => {
            match key_type {
                LogV2KeyType::P256 => hsm.generate_p256(key.object()).map(drop)?,
                LogV2KeyType::Ed25519 => hsm.generate_ed25519(key.object()).map(drop)?,
            }
            report.lines.push(format!(
                "generated {what} key {key} ({name}) inside the HSM"
            ));
        }
        Err(e @ KeyError::CurveMismatch { .. }) => {
            return Err(e).with_context(|| {
                format!("the {what} key {key} exists but is not a {name} key; nothing was changed")
            });
        }
        Err(e) => return Err(e).with_context(|| format!("checking the {what} key {key}")),
    }
    Ok(())
}

/// The timestamp authority: its P-256 key generated inside the HSM (or an existing one kept), and
/// its certificate signed by the root key, written to `ca/tsa.pem` (which must not exist).
fn add_tsa(
    settings: &Settings,
    root_key: &dyn IssuingKey,
    root: &hallmark_ca::Certificate,
    report: &mut CaInitReport,
) -> Result<()> {
    let path = settings.tsa_cert_path();
    if path.exists() {
        bail!(
            "refusing to create the timestamp authority: {} already exists. Nothing was changed.",
            path.display()
        );
    }
    let key = &settings.tsa_key;
    let hsm = open_token(settings, key)?;
    let tsa_key = match hsm.load_p256(key.object()) {
        Ok(k) => {
            report.lines.push(format!(
                "timestamp authority key {key} already exists; kept"
            ));
            k
        }
        Err(KeyError::KeyNotFound { .. }) => {
            let k = hsm.generate_p256(key.object())?;
            report.lines.push(format!(
                "generated timestamp authority key {key} (P-256) inside the HSM"
            ));
            k
        }
        Err(e) => return Err(e).with_context(|| format!("checking the TSA key {key}")),
    };
    let subject = hallmark_ca::CaSubject {
        organization: settings.organization.clone(),
        common_name: format!("{} timestamp authority", settings.common_name),
    };
    let leaf = hallmark_ca::tsa_certificate(
        root_key,
        root,
        &tsa_key.public_key_der(),
        &subject,
        SystemTime::now(),
        TSA_VALIDITY,
    )?;
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
    write_new(&path, hallmark_ca::certificate_pem(&leaf)?.as_bytes())?;
    report.lines.push(format!(
        "wrote the timestamp authority certificate to {} (chain: it, then the root)",
        path.display()
    ));
    Ok(())
}

/// `hallmark ca init-tsa`: adds the timestamp authority to an existing CA (one made before the
/// TSA existed). Opens the root key's token (the root signs the TSA certificate); never
/// overwrites: an existing `ca/tsa.pem` is an error.
pub fn ca_init_tsa(settings: &Settings) -> Result<CaInitReport> {
    let mut report = CaInitReport::default();
    add_tsa_to_existing_ca(settings, &mut report)?;
    Ok(report)
}

/// `hallmark ca upgrade`: brings a CA made by an earlier version up to what this one serves,
/// adding only what is missing and never replacing anything: the logs' keys (the Rekor v2 log's
/// is new) and the timestamp authority (key and certificate; opens the root's token only then).
/// Running it again changes nothing.
pub fn ca_upgrade(settings: &Settings) -> Result<CaInitReport> {
    let mut report = CaInitReport::default();
    add_log_keys(settings, &mut report)?;
    if settings.tsa_cert_path().exists() {
        report.lines.push(format!(
            "timestamp authority certificate {} already exists; kept",
            settings.tsa_cert_path().display()
        ));
    } else {
        add_tsa_to_existing_ca(settings, &mut report)?;
    }
    Ok(report)
}

fn add_tsa_to_existing_ca(settings: &Settings, report: &mut CaInitReport) -> Result<()> {
    let root_path = settings.root_cert_path();
    let bytes = std::fs::read(&root_path).with_context(|| {
        format!(
            "reading {} (no CA yet: `hallmark ca init` creates the TSA too)",
            root_path.display()
        )
    })?;
    let root = hallmark_ca::parse_certificate("CA root certificate", &bytes)?;
    let root_hsm = open_root_token(settings)?;
    let key = &settings.root_key;
    let root_key: Box<dyn IssuingKey> = match root_hsm.load_p256(key.object()) {
        Ok(k) => Box::new(k),
        Err(KeyError::CurveMismatch { .. }) => Box::new(root_hsm.load_p384(key.object())?),
        Err(e) => return Err(e).with_context(|| format!("loading the root key {key}")),
    };
    hallmark_ca::check_key_matches("root", &root, &root_key.public_key_der()?)
        .with_context(|| format!("{} and {key}", root_path.display()))?;
    add_tsa(settings, root_key.as_ref(), &root, report)
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
