//! Server configuration: a YAML file (every field optional), then environment overrides, then
//! defaults, validated once into [`Settings`], a value that is known good.
//!
//! ```yaml
//! listen: 127.0.0.1:3000
//! public_url: http://127.0.0.1:3000     # what clients and the trust root call this server
//! data_dir: .hallmark/data              # logs (redb) and CA certificates
//! hsm:
//!   module: /usr/lib/softhsm/libsofthsm2.so
//!   pin_file: .hallmark/hsm/user-pin    # or the HALLMARK_PKCS11_PIN variable
//!   max_sessions: 8                     # PKCS#11 sessions on loan at once, per key's token handle
//! ca:
//!   root_key: pkcs11:token=hallmark-root;object=ca-root   # its own token: the server never opens it
//!   root_pin_file: .hallmark/hsm/root-user-pin            # that token's PIN (`ca init` only)
//!   issuing_key: pkcs11:token=hallmark;object=ca-issuing
//!   organization: Hallmark
//!   common_name: Hallmark
//!   curve: p256                         # or p384, for the root and issuing keys
//! ct_log:
//!   key: pkcs11:token=hallmark;object=ct-log
//! log:                                  # the signature transparency log (Rekor v1 API)
//!   key: pkcs11:token=hallmark;object=log-key
//!   max_entry_bytes: 131072
//!   accept_any_signer: false            # true: keys and certificates from any CA are logged
//! log_v2:                               # the Rekor v2 log (tiles; checkpoints, no SETs)
//!   enabled: true
//!   key: pkcs11:token=hallmark;object=log-v2-key
//!   key_type: p256                      # or ed25519: the checkpoint key's type (see below)
//!   frozen: false                       # true: writes answer 405, reads go on
//!   tiles_dir: /srv/tiles               # also write checkpoint and tiles here (static hosting)
//!   max_queue: 1024                     # appends waiting for the sequencer; beyond: 503 + Retry-After
//!   witnesses:                          # C2SP tlog-witnesses that cosign its checkpoints (see below)
//!     - url: http://witness.example:7380    # the submission prefix (add-checkpoint is under it)
//!       vkey: witness.example/w1+cd18f6d3+BOaK...  # its cosignature/v1 verifier key
//!   witness_quorum: 1                   # cosignatures a checkpoint needs to be published (default: all)
//!   witness_wait_ms: 1500               # how long a write waits for a witnessed checkpoint
//! tsa:                                  # the RFC 3161 timestamp authority (/api/v1/timestamp)
//!   key: pkcs11:token=hallmark;object=hallmark-tsa   # P-256; its certificate is ca/tsa.pem
//!   policy_oid: 1.3.6.1.4.1.57264.2     # the policy tokens are issued under (and requests may name)
//!   max_concurrent: 4                   # timestamps being signed at once
//!   max_queue: 256                      # more waiting for a signer; beyond that: 503 + Retry-After
//! oidc:
//!   issuers_file: issuers.yaml          # Hallmark's format or Fulcio's (OIDCIssuers / MetaIssuers)
//! dev_oidc: false                       # a development OIDC issuer at <public_url>/dev-oidc
//! dev_oidc_unsafe_allow_anywhere: false # let it run off loopback or beside an issuers file
//! max_body_bytes: 65536
//! http:                                 # limits for untrusted clients (defaults shown)
//!   header_read_timeout_secs: 10        # a request head (also idle keep-alive) within this
//!   body_timeout_secs: 30               # a request body that stalls this long: 408
//!   request_timeout_secs: 60            # a whole request: 503 after this
//!   max_connections: 4096               # open connections; more wait to be accepted
//! max_concurrent_reads: 16              # log reads (entries, proofs, search) running at once
//! storage:
//!   backend: redb                       # redb files in data_dir (default), or postgres
//!   redb_cache_mib: 64                  # redb's page cache per file (six files); larger logs
//!                                       # look their duplicates up faster with more
//!   postgres:                           # several replicas on one database (see below)
//!     url_file: /run/secrets/pg-url     # the connection URL, password included; or HALLMARK_PG_URL
//!     pool_size: 16                     # connections per log per replica
//!     ca_file: /etc/hallmark/pg-ca.pem  # extra CA for TLS to the database (sslmode=require)
//!     advertise_url: http://10.0.0.5:3000   # where the other replicas reach this one (default:
//!                                       # http://<listen address>; required when listening on 0.0.0.0)
//!     replica_key_file: /run/secrets/replica-key   # a secret every replica shares, outside the
//!                                       # database (at least 32 bytes); see below
//! ```
//!
//! Environment overrides: `HALLMARK_LISTEN`, `HALLMARK_PUBLIC_URL`, `HALLMARK_DATA_DIR`,
//! `HALLMARK_PKCS11_MODULE`, `HALLMARK_PKCS11_PIN_FILE`, `HALLMARK_OIDC_ISSUERS`, `HALLMARK_DEV_OIDC`,
//! `HALLMARK_DEV_OIDC_UNSAFE_ALLOW_ANYWHERE`, `HALLMARK_STORAGE` (`redb` or `postgres`),
//! `HALLMARK_REDB_CACHE_MIB`, `HALLMARK_PG_URL_FILE`, `HALLMARK_PG_URL` (the URL itself: the variable is read at start-up, its
//! value never logged), `HALLMARK_REPLICA_KEY_FILE`. A variable that contradicts the file is an error, not an override, for the
//! development issuer's two switches.
//!
//! With `storage.backend: postgres`, the three logs live in one PostgreSQL database and any number
//! of replicas may run on it: exactly one (the holder of the logs' sequencer leases) writes; the
//! others serve reads, verify writes and hand the verified entries to it, and one of them takes over
//! within about a second when it dies (`HALLMARK_PG_ADVERTISE_URL` sets `advertise_url`). The
//! replicas authenticate the entries they hand the sequencer with a key stored in the database;
//! `replica_key_file` (`HALLMARK_REPLICA_KEY_FILE`) mixes a secret from outside the database into
//! it, so that reading the database (a dump, a backup) is not enough to hand the sequencer an
//! entry nobody verified. Every replica must have the same file.
//!
//! The development issuer mints tokens for anyone. It exists only in builds with the `dev-oidc`
//! cargo feature; it is refused on a non-loopback listen address or public URL and beside an
//! issuers file unless `dev_oidc_unsafe_allow_anywhere` is set.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hallmark_keys::{KeyRef, PinSource};
use serde::Deserialize;

use crate::http::HttpLimits;

/// Whether this build has the development OIDC issuer (the `dev-oidc` cargo feature).
pub const DEV_OIDC_BUILT: bool = cfg!(feature = "dev-oidc");

/// A configuration problem, found at start-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid YAML of the expected shape.
    #[error("config file {path} is invalid: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (names the field and line).
        source: serde_norway::Error,
    },
    /// A value is not acceptable.
    #[error("{field}: {problem}")]
    Invalid {
        /// The setting (as written in the file, or the environment variable).
        field: &'static str,
        /// What is wrong and how to fix it.
        problem: String,
    },
}

/// The witnesses of `log_v2.witnesses`, each URL and vkey checked.
fn witnesses(file: Vec<WitnessFile>) -> Result<Vec<WitnessSettings>, ConfigError> {
    let field = "log_v2.witnesses";
    let mut out: Vec<WitnessSettings> = Vec::new();
    for w in file {
        let url = url::Url::parse(&w.url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| invalid(field, format!("url {:?} is not an http(s) URL", w.url)))?;
        let verifier = hallmark_tlog::cosignature::CosignatureVerifier::from_vkey(&w.vkey)
            .map_err(|e| invalid(field, format!("vkey {:?}: {e}", w.vkey)))?;
        if out.iter().any(|o| o.verifier.key_id() == verifier.key_id()) {
            return Err(invalid(
                field,
                format!("witness {} is listed twice", w.vkey),
            ));
        }
        out.push(WitnessSettings { url, verifier });
    }
    Ok(out)
}

fn invalid(field: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field,
        problem: problem.into(),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Option<String>,
    public_url: Option<String>,
    data_dir: Option<PathBuf>,
    #[serde(default)]
    hsm: HsmFile,
    #[serde(default)]
    ca: CaFile,
    #[serde(default)]
    ct_log: CtFile,
    #[serde(default)]
    log: LogFile,
    #[serde(default)]
    log_v2: LogV2File,
    #[serde(default)]
    oidc: OidcFile,
    #[serde(default)]
    tsa: TsaFile,
    dev_oidc: Option<bool>,
    dev_oidc_unsafe_allow_anywhere: Option<bool>,
    max_body_bytes: Option<usize>,
    max_concurrent_reads: Option<usize>,
    #[serde(default)]
    http: HttpFile,
    #[serde(default)]
    storage: StorageFile,
}

/// `storage:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StorageFile {
    backend: Option<String>,
    redb_cache_mib: Option<usize>,
    #[serde(default)]
    postgres: PostgresFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PostgresFile {
    url_file: Option<PathBuf>,
    pool_size: Option<usize>,
    ca_file: Option<PathBuf>,
    advertise_url: Option<String>,
    replica_key_file: Option<PathBuf>,
}

/// Where the logs are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// redb files in the data directory: one machine (the default).
    Redb,
    /// One PostgreSQL database shared by any number of replicas.
    Postgres(PostgresSettings),
}

/// `storage.postgres`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresSettings {
    /// Where the connection URL is read from at start-up (it holds the password): a file or an
    /// environment variable, never the command line.
    pub url: PinSource,
    /// Connections each log's store holds open at most.
    pub pool_size: usize,
    /// Extra PEM CA certificates for TLS to the database.
    pub ca_file: Option<PathBuf>,
    /// Where the other replicas reach this one (the sequencer's address they hand entries to);
    /// `None`: `http://<bound address>`, settled by [`Settings::resolve_advertise_url`].
    pub advertise_url: Option<String>,
    /// A file holding a secret every replica shares, mixed into the key that authenticates the
    /// entries standbys hand the sequencer ([`PostgresSettings::read_replica_secret`]).
    pub replica_key_file: Option<PathBuf>,
}

/// The shortest replica secret [`PostgresSettings::read_replica_secret`] takes, in bytes.
pub const MIN_REPLICA_SECRET_BYTES: usize = 32;

impl PostgresSettings {
    /// Reads the connection URL (one trailing newline removed).
    pub fn read_url(&self) -> Result<String, ConfigError> {
        let raw = match &self.url {
            PinSource::File(path) => std::fs::read_to_string(path).map_err(|e| {
                invalid(
                    "storage.postgres.url_file (HALLMARK_PG_URL_FILE)",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?,
            PinSource::Env(var) => std::env::var(var).map_err(|_| {
                invalid(
                    "storage.postgres (HALLMARK_PG_URL)",
                    format!("{var} is not set"),
                )
            })?,
        };
        let url = raw.trim_end_matches(['\n', '\r']).to_owned();
        if url.is_empty() {
            return Err(invalid(
                "storage.postgres",
                "the database connection URL is empty",
            ));
        }
        Ok(url)
    }

    /// The replicas' shared secret from `replica_key_file` (one trailing line ending removed), if
    /// one is configured: at least [`MIN_REPLICA_SECRET_BYTES`] bytes.
    ///
    /// # Errors
    /// An unreadable file, or a secret that is too short.
    pub fn read_replica_secret(&self) -> Result<Option<secrecy::SecretBox<[u8]>>, ConfigError> {
        let Some(path) = &self.replica_key_file else {
            return Ok(None);
        };
        let what = "storage.postgres.replica_key_file (HALLMARK_REPLICA_KEY_FILE)";
        let raw = secrecy::zeroize::Zeroizing::new(
            std::fs::read(path)
                .map_err(|e| invalid(what, format!("cannot read {}: {e}", path.display())))?,
        );
        // One trailing line ending (a file written by `echo`) is not part of the secret; any
        // other byte is, so a raw binary secret keeps every byte.
        let secret = raw.strip_suffix(b"\n").unwrap_or(&raw);
        let secret = secret.strip_suffix(b"\r").unwrap_or(secret);
        if secret.len() < MIN_REPLICA_SECRET_BYTES {
            return Err(invalid(
                what,
                format!(
                    "{} holds {} bytes; the replicas' secret needs at least \
                     {MIN_REPLICA_SECRET_BYTES} (e.g. `head -c 32 /dev/urandom | base64`)",
                    path.display(),
                    secret.len()
                ),
            ));
        }
        Ok(Some(secrecy::SecretBox::new(secret.into())))
    }
}

/// `http:`: connection and request limits ([`HttpLimits`]).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HttpFile {
    header_read_timeout_secs: Option<u64>,
    body_timeout_secs: Option<u64>,
    request_timeout_secs: Option<u64>,
    max_connections: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HsmFile {
    module: Option<PathBuf>,
    pin_file: Option<PathBuf>,
    max_sessions: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaFile {
    root_key: Option<String>,
    root_pin_file: Option<PathBuf>,
    issuing_key: Option<String>,
    organization: Option<String>,
    common_name: Option<String>,
    curve: Option<CaCurve>,
}

/// The curve of the CA's root and issuing keys (the CT log key is always P-256, which every
/// client accepts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaCurve {
    /// NIST P-256.
    #[default]
    P256,
    /// NIST P-384.
    P384,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CtFile {
    key: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogFile {
    key: Option<String>,
    max_entry_bytes: Option<usize>,
    accept_any_signer: Option<bool>,
}

/// `tsa:`: the timestamp authority.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TsaFile {
    key: Option<String>,
    policy_oid: Option<String>,
    max_concurrent: Option<usize>,
    max_queue: Option<usize>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LogV2File {
    enabled: Option<bool>,
    key: Option<String>,
    key_type: Option<LogV2KeyType>,
    frozen: Option<bool>,
    tiles_dir: Option<PathBuf>,
    max_queue: Option<usize>,
    witnesses: Option<Vec<WitnessFile>>,
    witness_quorum: Option<usize>,
    witness_wait_ms: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WitnessFile {
    url: String,
    vkey: String,
}

/// A witness the Rekor v2 log submits its checkpoints to (`log_v2.witnesses[]`).
#[derive(Debug, Clone)]
pub struct WitnessSettings {
    /// Its submission prefix: requests go to `<url>/add-checkpoint`.
    pub url: url::Url,
    /// Its `cosignature/v1` verifier.
    pub verifier: hallmark_tlog::cosignature::CosignatureVerifier,
}

/// The longest a write may wait for a witnessed checkpoint (`log_v2.witness_wait_ms`): writes
/// must answer well within Sigstore clients' 5 s.
pub const MAX_WITNESS_WAIT_MS: u64 = 4000;

/// The type of the Rekor v2 log's checkpoint key (`log_v2.key_type`).
///
/// C2SP checkpoints may be signed by ECDSA P-256 (signature type `0x02`, key ID = the first four
/// bytes of SHA-256 of the SPKI) or by Ed25519 (type `0x01`, key ID from SHA-256 of the origin,
/// `0x01` and the key), as Sigstore's public Rekor v2 logs are. The trusted root then names the
/// log by that 32-byte hash (`logId`, `checkpointKeyId`). Both keys live in the HSM; `ca init` /
/// `ca upgrade` generate the configured type. Changing it means a new key, and so a new log:
/// name another key object in `log_v2.key` and start from an empty `log-v2.redb`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogV2KeyType {
    /// ECDSA P-256 (the default).
    #[default]
    P256,
    /// Ed25519 (pure EdDSA, `CKM_EDDSA`).
    Ed25519,
}

impl LogV2KeyType {
    /// `"P-256"` or `"Ed25519"`, for messages.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            LogV2KeyType::P256 => "P-256",
            LogV2KeyType::Ed25519 => "Ed25519",
        }
    }
}

/// The Rekor v2 log's settings (`log_v2:`).
#[derive(Debug, Clone)]
pub struct LogV2Settings {
    /// Whether the server runs the Rekor v2 log (and lists it in the trust root).
    pub enabled: bool,
    /// Its checkpoint key (in the HSM).
    pub key: KeyRef,
    /// The checkpoint key's type.
    pub key_type: LogV2KeyType,
    /// Frozen: writes answer 405; checkpoint and tiles are still served.
    pub frozen: bool,
    /// A directory the server also writes the checkpoint and tiles to, for a static file
    /// server or CDN.
    pub tiles_dir: Option<PathBuf>,
    /// Appends that may wait for the sequencer; more are refused at once (503 with
    /// `Retry-After`). Below `http.max_connections`, so that pushback can happen.
    pub max_queue: usize,
    /// Witnesses that cosign the log's checkpoints; none: the log publishes its own checkpoints.
    pub witnesses: Vec<WitnessSettings>,
    /// How many of them must cosign a checkpoint before `/checkpoint` (and `tiles_dir`) shows
    /// it: between 1 and the number of witnesses (default: all).
    pub witness_quorum: usize,
    /// How long a write waits for a witnessed checkpoint that covers its entry before it answers
    /// with the log-signed checkpoint alone.
    pub witness_wait: std::time::Duration,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OidcFile {
    issuers_file: Option<PathBuf>,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The base URL clients reach this server at (no trailing slash). When not configured it is
    /// `http://<listen address>`, resolved after binding (so port 0 works).
    pub public_url: Option<String>,
    /// Where logs and CA certificates live.
    pub data_dir: PathBuf,
    /// PKCS#11 module.
    pub module: PathBuf,
    /// Default PIN source for key references that name none.
    pub pin: Option<PinSource>,
    /// CA root key.
    pub root_key: KeyRef,
    /// The root key's token PIN, when it is not the serving PIN (`ca.root_pin_file`,
    /// `HALLMARK_ROOT_PKCS11_PIN_FILE`). Only `ca init` uses it: the server never opens the
    /// root's token.
    pub root_pin: Option<PinSource>,
    /// CA issuing (intermediate) key.
    pub issuing_key: KeyRef,
    /// Subject organization of the CA certificates.
    pub organization: String,
    /// Subject common name of the CA certificates.
    pub common_name: String,
    /// Curve of new CA keys (`ca init`).
    pub ca_curve: CaCurve,
    /// CT log key.
    pub ct_key: KeyRef,
    /// Signature log key.
    pub log_key: KeyRef,
    /// The Rekor v2 log.
    pub log_v2: LogV2Settings,
    /// Largest accepted log entry request, and largest canonical entry the log's sequencer
    /// takes (at most [`hallmark_sigstore::MAX_ENTRY_BYTES`]).
    pub max_entry_bytes: usize,
    /// Log entries signed by keys or certificates from any CA, not only this one.
    pub accept_any_signer: bool,
    /// OIDC issuer policy file, if any.
    pub issuers_file: Option<PathBuf>,
    /// Whether to run the development OIDC issuer.
    pub dev_oidc: bool,
    /// Request body limit.
    pub max_body_bytes: usize,
    /// Connection and request limits.
    pub http: HttpLimits,
    /// PKCS#11 sessions each opened token handle lends out at once (the server opens one handle
    /// per key: the issuing key, the CT log key, the signature log key).
    pub hsm_max_sessions: usize,
    /// Log reads (entries, proofs, search) running on blocking threads at once.
    pub max_concurrent_reads: usize,
    /// The timestamp authority's key (P-256, label `hallmark-tsa` by default).
    pub tsa_key: KeyRef,
    /// The policy the timestamp authority issues tokens under.
    pub tsa_policy: der::asn1::ObjectIdentifier,
    /// Timestamps signed at once.
    pub tsa_max_concurrent: usize,
    /// Where the logs are stored.
    pub storage: Storage,
    /// With redb storage: redb's page cache per file, in MiB (`storage.redb_cache_mib`,
    /// `HALLMARK_REDB_CACHE_MIB`; default 64). Six files (three logs and their indexes) may each
    /// fill theirs: memory the process holds, beside the system's own page cache.
    pub redb_cache_mib: usize,
    /// Timestamp requests waiting for a signer beyond those; more are answered 503.
    pub tsa_max_queue: usize,
}

impl Settings {
    /// The CA certificate files under the data directory.
    pub fn root_cert_path(&self) -> PathBuf {
        self.data_dir.join("ca").join("root.pem")
    }

    /// The issuing CA certificate file.
    pub fn issuing_cert_path(&self) -> PathBuf {
        self.data_dir.join("ca").join("issuing.pem")
    }

    /// The timestamp authority's certificate (the leaf; the chain is it and the root).
    pub fn tsa_cert_path(&self) -> PathBuf {
        self.data_dir.join("ca").join("tsa.pem")
    }

    /// The public URL once the listening address is known.
    pub fn resolve_public_url(&mut self, bound: SocketAddr) -> String {
        self.public_url
            .get_or_insert_with(|| format!("http://{bound}"))
            .clone()
    }

    /// With PostgreSQL storage, settles where the other replicas reach this one: the configured
    /// `advertise_url`, else `http://<bound address>`, which must then be a specific address.
    pub fn resolve_advertise_url(&mut self, bound: SocketAddr) -> Result<(), ConfigError> {
        if let Storage::Postgres(p) = &mut self.storage
            && p.advertise_url.is_none()
        {
            if bound.ip().is_unspecified() {
                return Err(invalid(
                    "storage.postgres.advertise_url (HALLMARK_PG_ADVERTISE_URL)",
                    format!(
                        "listening on {bound}, the other replicas need this one's address: set it \
                         (e.g. http://<pod IP>:{})",
                        bound.port()
                    ),
                ));
            }
            p.advertise_url = Some(format!("http://{bound}"));
        }
        Ok(())
    }

    /// The public URL (after [`Settings::resolve_public_url`]), else one from the listen address.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
    }

    /// The URL of the development OIDC issuer, when enabled.
    pub fn dev_issuer_url(&self) -> String {
        format!("{}/dev-oidc", self.public_url())
    }

    /// The host name of the public URL, without port: a C2SP checkpoint's origin (the Rekor v2
    /// log's).
    pub fn public_host_name(&self) -> String {
        url::Url::parse(&self.public_url())
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "hallmark.local".to_owned())
    }

    /// The host (and port) part of the public URL: the name logs sign checkpoints under.
    pub fn public_host(&self) -> String {
        url::Url::parse(&self.public_url())
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| {
                    u.port()
                        .map_or_else(|| h.to_owned(), |p| format!("{h}:{p}"))
                })
            })
            .unwrap_or_else(|| "hallmark.local".to_owned())
    }
}

/// A yes/no setting from the file and the environment; the two must not disagree.
fn switch(
    env: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    field: &'static str,
    from_file: Option<bool>,
) -> Result<bool, ConfigError> {
    let from_env = match env(var).as_deref().map(str::trim) {
        None => None,
        Some("1" | "true" | "yes") => Some(true),
        Some("0" | "false" | "no" | "") => Some(false),
        Some(other) => {
            return Err(invalid(
                var,
                format!("{other:?} is not 1/true/yes or 0/false/no"),
            ));
        }
    };
    match (from_env, from_file) {
        (Some(e), Some(f)) if e != f => Err(invalid(
            field,
            format!(
                "the config file says {f} and {var} says {e}: remove one of them (neither \
                 overrides the other)"
            ),
        )),
        (e, f) => Ok(e.or(f).unwrap_or(false)),
    }
}

/// Whether a URL's host is on this machine only.
fn loopback_url(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The development issuer is built in, and (unless explicitly allowed anywhere) reachable from
/// this machine only and not mixed with real issuers.
fn check_dev_oidc(
    listen: &SocketAddr,
    public_url: Option<&str>,
    has_issuers_file: bool,
    anywhere: bool,
) -> Result<(), ConfigError> {
    let field = "dev_oidc (HALLMARK_DEV_OIDC)";
    if !DEV_OIDC_BUILT {
        return Err(invalid(
            field,
            "this hallmark is a production build without the development issuer (cargo feature \
             dev-oidc); name real issuers in oidc.issuers_file",
        ));
    }
    if anywhere {
        return Ok(());
    }
    let why = "the development issuer gives anyone who reaches it a certificate for any email \
               address; set dev_oidc_unsafe_allow_anywhere: true only if that is really meant";
    if has_issuers_file {
        return Err(invalid(
            field,
            format!("refused beside an issuers file (oidc.issuers_file): {why}"),
        ));
    }
    if !listen.ip().is_loopback() {
        return Err(invalid(
            field,
            format!("refused on the non-loopback listen address {listen}: {why}"),
        ));
    }
    match public_url {
        Some(u) if !url::Url::parse(u).is_ok_and(|u| loopback_url(&u)) => Err(invalid(
            field,
            format!("refused with the non-loopback public_url {u}: {why}"),
        )),
        _ => Ok(()),
    }
}

/// Reads the optional file, applies `env` (a lookup, so tests need not touch the process
/// environment), fills defaults and validates.
pub fn load(
    path: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    let file: File = match path {
        None => File::default(),
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.to_path_buf(),
                source,
            })?;
            serde_norway::from_str(&text).map_err(|source| ConfigError::Parse {
                path: p.to_path_buf(),
                source,
            })?
        }
    };
    let pick = |var: &str, v: Option<String>| env(var).or(v);

    let listen_s = pick("HALLMARK_LISTEN", file.listen).unwrap_or_else(|| "127.0.0.1:3000".into());
    let listen: SocketAddr = listen_s.parse().map_err(|_| {
        invalid(
            "listen (HALLMARK_LISTEN)",
            format!("{listen_s:?} is not an address:port such as 127.0.0.1:3000"),
        )
    })?;
    let public_url = match pick("HALLMARK_PUBLIC_URL", file.public_url) {
        None => None,
        Some(u) => {
            let parsed = url::Url::parse(&u)
                .map_err(|e| invalid("public_url (HALLMARK_PUBLIC_URL)", format!("{u:?}: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(invalid(
                    "public_url (HALLMARK_PUBLIC_URL)",
                    format!("{u:?} must be an http:// or https:// URL with a host"),
                ));
            }
            Some(u.trim_end_matches('/').to_owned())
        }
    };
    let data_dir = env("HALLMARK_DATA_DIR")
        .map(PathBuf::from)
        .or(file.data_dir)
        .unwrap_or_else(|| PathBuf::from(".hallmark/data"));
    let module = env("HALLMARK_PKCS11_MODULE")
        .map(PathBuf::from)
        .or(file.hsm.module)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/softhsm/libsofthsm2.so"));
    let pin = match env("HALLMARK_PKCS11_PIN_FILE")
        .map(PathBuf::from)
        .or(file.hsm.pin_file)
    {
        Some(p) => Some(PinSource::File(p)),
        None => env("HALLMARK_PKCS11_PIN").map(|_| PinSource::Env("HALLMARK_PKCS11_PIN".into())),
    };
    let key =
        |field: &'static str, v: Option<String>, default: &str| -> Result<KeyRef, ConfigError> {
            let s = v.unwrap_or_else(|| default.to_owned());
            s.parse()
                .map_err(|e: hallmark_keys::KeyError| invalid(field, e.to_string()))
        };
    let root_key = key(
        "ca.root_key",
        file.ca.root_key,
        "pkcs11:token=hallmark-root;object=ca-root",
    )?;
    let issuing_key = key(
        "ca.issuing_key",
        file.ca.issuing_key,
        "pkcs11:token=hallmark;object=ca-issuing",
    )?;
    let ct_key = key(
        "ct_log.key",
        file.ct_log.key,
        "pkcs11:token=hallmark;object=ct-log",
    )?;
    let log_key = key(
        "log.key",
        file.log.key,
        "pkcs11:token=hallmark;object=log-key",
    )?;
    let mut log_v2 = LogV2Settings {
        enabled: file.log_v2.enabled.unwrap_or(true),
        key: key(
            "log_v2.key",
            file.log_v2.key,
            "pkcs11:token=hallmark;object=log-v2-key",
        )?,
        key_type: file.log_v2.key_type.unwrap_or_default(),
        frozen: file.log_v2.frozen.unwrap_or(false),
        tiles_dir: file.log_v2.tiles_dir,
        max_queue: file.log_v2.max_queue.unwrap_or(1024),
        witnesses: witnesses(file.log_v2.witnesses.unwrap_or_default())?,
        witness_quorum: 0,
        witness_wait: std::time::Duration::ZERO,
    };
    let n = log_v2.witnesses.len();
    log_v2.witness_quorum = file.log_v2.witness_quorum.unwrap_or(n);
    if n > 0 && !(1..=n).contains(&log_v2.witness_quorum) {
        return Err(invalid(
            "log_v2.witness_quorum",
            format!("must be between 1 and the number of witnesses ({n})"),
        ));
    }
    if n == 0 && file.log_v2.witness_quorum.is_some_and(|q| q > 0) {
        return Err(invalid(
            "log_v2.witness_quorum",
            "needs log_v2.witnesses to count cosignatures from",
        ));
    }
    let wait_ms = file.log_v2.witness_wait_ms.unwrap_or(1500);
    if wait_ms > MAX_WITNESS_WAIT_MS {
        return Err(invalid(
            "log_v2.witness_wait_ms",
            format!(
                "must be at most {MAX_WITNESS_WAIT_MS} (writes answer within Sigstore clients' 5 s)"
            ),
        ));
    }
    log_v2.witness_wait = std::time::Duration::from_millis(wait_ms);
    if !(1..=1 << 20).contains(&log_v2.max_queue) {
        return Err(invalid("log_v2.max_queue", "must be between 1 and 1048576"));
    }
    let tsa_key = key(
        "tsa.key",
        file.tsa.key,
        "pkcs11:token=hallmark;object=hallmark-tsa",
    )?;
    // Anonymous callers make the TSA key sign (every Sigstore client calls a TSA without
    // credentials): it must not be a key that signs anything else.
    for (other, name) in [
        (&root_key, "ca.root_key"),
        (&issuing_key, "ca.issuing_key"),
        (&ct_key, "ct_log.key"),
        (&log_key, "log.key"),
        (&log_v2.key, "log_v2.key"),
    ] {
        if other.token() == tsa_key.token() && other.object() == tsa_key.object() {
            return Err(invalid(
                "tsa.key",
                format!(
                    "is the same key as {name} ({other}): the timestamp authority signs for \
                     anyone who asks, so it needs a key of its own"
                ),
            ));
        }
    }
    let tsa_policy = match file.tsa.policy_oid.as_deref() {
        None => hallmark_sigstore::rfc3161::DEFAULT_POLICY,
        Some(s) => der::asn1::ObjectIdentifier::new(s)
            .map_err(|e| invalid("tsa.policy_oid", format!("{s:?} is not an OID: {e}")))?,
    };
    let tsa_max_concurrent = file.tsa.max_concurrent.unwrap_or(4);
    if !(1..=1024).contains(&tsa_max_concurrent) {
        return Err(invalid("tsa.max_concurrent", "must be between 1 and 1024"));
    }
    let tsa_max_queue = file.tsa.max_queue.unwrap_or(256);
    if tsa_max_queue > 100_000 {
        return Err(invalid("tsa.max_queue", "must be at most 100000"));
    }
    let max_entry_bytes = file.log.max_entry_bytes.unwrap_or(128 * 1024);
    // The request body, the entry parser and the sequencer all take this one limit; the parser
    // refuses bodies above MAX_ENTRY_BYTES whatever the configuration says.
    if !(1024..=hallmark_sigstore::MAX_ENTRY_BYTES).contains(&max_entry_bytes) {
        return Err(invalid(
            "log.max_entry_bytes",
            format!(
                "{max_entry_bytes} is not between 1024 and {} (the largest entry the log can \
                 parse)",
                hallmark_sigstore::MAX_ENTRY_BYTES
            ),
        ));
    }
    let dev_oidc = switch(&env, "HALLMARK_DEV_OIDC", "dev_oidc", file.dev_oidc)?;
    let dev_anywhere = switch(
        &env,
        "HALLMARK_DEV_OIDC_UNSAFE_ALLOW_ANYWHERE",
        "dev_oidc_unsafe_allow_anywhere",
        file.dev_oidc_unsafe_allow_anywhere,
    )?;
    let issuers_file = env("HALLMARK_OIDC_ISSUERS")
        .map(PathBuf::from)
        .or(file.oidc.issuers_file);
    if dev_oidc {
        check_dev_oidc(
            &listen,
            public_url.as_deref(),
            issuers_file.is_some(),
            dev_anywhere,
        )?;
    }
    if issuers_file.is_none() && !dev_oidc {
        return Err(invalid(
            "oidc.issuers_file (HALLMARK_OIDC_ISSUERS)",
            "no OIDC issuers are configured: name an issuers file, or enable the development \
             issuer with dev_oidc: true (HALLMARK_DEV_OIDC=1) for local use",
        ));
    }
    let max_body_bytes = file.max_body_bytes.unwrap_or(64 * 1024);
    if !(1024..=16 << 20).contains(&max_body_bytes) {
        return Err(invalid(
            "max_body_bytes",
            "must be between 1 KiB and 16 MiB",
        ));
    }
    let http = http_limits(&file.http)?;
    let hsm_max_sessions = file
        .hsm
        .max_sessions
        .unwrap_or(hallmark_keys::DEFAULT_MAX_SESSIONS);
    if !(1..=1024).contains(&hsm_max_sessions) {
        return Err(invalid("hsm.max_sessions", "must be between 1 and 1024"));
    }
    let max_concurrent_reads = file
        .max_concurrent_reads
        .unwrap_or(DEFAULT_CONCURRENT_READS);
    if !(1..=4096).contains(&max_concurrent_reads) {
        return Err(invalid(
            "max_concurrent_reads",
            "must be between 1 and 4096",
        ));
    }
    let storage = storage(&file.storage, &env)?;
    let redb_cache_mib = match env("HALLMARK_REDB_CACHE_MIB") {
        Some(v) => v.trim().parse().map_err(|_| {
            invalid(
                "storage.redb_cache_mib (HALLMARK_REDB_CACHE_MIB)",
                format!("{v:?} is not a whole number of MiB"),
            )
        })?,
        None => file
            .storage
            .redb_cache_mib
            .unwrap_or(hallmark_log::DEFAULT_REDB_CACHE_MIB),
    };
    if !(1..=65_536).contains(&redb_cache_mib) {
        return Err(invalid(
            "storage.redb_cache_mib (HALLMARK_REDB_CACHE_MIB)",
            "must be between 1 and 65536",
        ));
    }
    let root_pin = env("HALLMARK_ROOT_PKCS11_PIN_FILE")
        .map(PathBuf::from)
        .or(file.ca.root_pin_file)
        .map(PinSource::File);
    Ok(Settings {
        listen,
        public_url,
        data_dir,
        module,
        pin,
        root_key,
        root_pin,
        issuing_key,
        organization: file.ca.organization.unwrap_or_else(|| "Hallmark".into()),
        common_name: file.ca.common_name.unwrap_or_else(|| "Hallmark".into()),
        ca_curve: file.ca.curve.unwrap_or_default(),
        ct_key,
        log_key,
        log_v2,
        max_entry_bytes,
        accept_any_signer: file.log.accept_any_signer.unwrap_or(false),
        issuers_file,
        dev_oidc,
        max_body_bytes,
        hsm_max_sessions,
        max_concurrent_reads,
        http,
        tsa_key,
        tsa_policy,
        tsa_max_concurrent,
        tsa_max_queue,
        storage,
        redb_cache_mib,
    })
}

/// The `storage:` block and its variables.
fn storage(
    file: &StorageFile,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Storage, ConfigError> {
    let backend = env("HALLMARK_STORAGE").or_else(|| file.backend.clone());
    match backend.as_deref() {
        None | Some("redb") => Ok(Storage::Redb),
        Some("postgres") => {
            let pg = &file.postgres;
            let url = match env("HALLMARK_PG_URL_FILE")
                .map(PathBuf::from)
                .or(pg.url_file.clone())
            {
                Some(path) => PinSource::File(path),
                None if env("HALLMARK_PG_URL").is_some() => {
                    PinSource::Env("HALLMARK_PG_URL".into())
                }
                None => {
                    return Err(invalid(
                        "storage.postgres",
                        "give the database URL in a file (storage.postgres.url_file or \
                         HALLMARK_PG_URL_FILE) or in the HALLMARK_PG_URL variable",
                    ));
                }
            };
            let pool_size = pg.pool_size.unwrap_or(16);
            if !(1..=1024).contains(&pool_size) {
                return Err(invalid(
                    "storage.postgres.pool_size",
                    "must be between 1 and 1024",
                ));
            }
            let advertise_url = match env("HALLMARK_PG_ADVERTISE_URL").or(pg.advertise_url.clone())
            {
                None => None,
                Some(u) => {
                    let parsed = url::Url::parse(&u).map_err(|e| {
                        invalid("storage.postgres.advertise_url", format!("{u:?}: {e}"))
                    })?;
                    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                        return Err(invalid(
                            "storage.postgres.advertise_url",
                            format!("{u:?} must be an http:// or https:// URL with a host"),
                        ));
                    }
                    Some(u.trim_end_matches('/').to_owned())
                }
            };
            Ok(Storage::Postgres(PostgresSettings {
                url,
                pool_size,
                ca_file: pg.ca_file.clone(),
                advertise_url,
                replica_key_file: env("HALLMARK_REPLICA_KEY_FILE")
                    .map(PathBuf::from)
                    .or(pg.replica_key_file.clone()),
            }))
        }
        Some(other) => Err(invalid(
            "storage.backend (HALLMARK_STORAGE)",
            format!("{other:?}: use redb or postgres"),
        )),
    }
}

/// The `http:` block, each value within sane bounds.
fn http_limits(file: &HttpFile) -> Result<HttpLimits, ConfigError> {
    let defaults = HttpLimits::default();
    let secs = |field: &'static str, v: Option<u64>, default: std::time::Duration| match v {
        None => Ok(default),
        Some(s) if (1..=3600).contains(&s) => Ok(std::time::Duration::from_secs(s)),
        Some(_) => Err(invalid(field, "must be between 1 and 3600 seconds")),
    };
    let max_connections = file.max_connections.unwrap_or(defaults.max_connections);
    if !(1..=1_000_000).contains(&max_connections) {
        return Err(invalid(
            "http.max_connections",
            "must be between 1 and 1000000",
        ));
    }
    Ok(HttpLimits {
        header_read_timeout: secs(
            "http.header_read_timeout_secs",
            file.header_read_timeout_secs,
            defaults.header_read_timeout,
        )?,
        body_timeout: secs(
            "http.body_timeout_secs",
            file.body_timeout_secs,
            defaults.body_timeout,
        )?,
        request_timeout: secs(
            "http.request_timeout_secs",
            file.request_timeout_secs,
            defaults.request_timeout,
        )?,
        max_connections,
    })
}

/// Log reads running at once unless configured: enough to keep two cores and the storage busy,
/// far below tokio's 512 blocking threads.
const DEFAULT_CONCURRENT_READS: usize = 16;

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn defaults_with_dev_oidc() {
        let s = load(None, env_of(&[("HALLMARK_DEV_OIDC", "1")])).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(s.public_url(), "http://127.0.0.1:3000");
        assert_eq!(s.public_host(), "127.0.0.1:3000");
        assert_eq!(s.dev_issuer_url(), "http://127.0.0.1:3000/dev-oidc");
        assert_eq!(s.root_key.object(), "ca-root");
        assert_eq!(s.tsa_key.object(), "hallmark-tsa");
        assert_eq!(s.tsa_policy.to_string(), "1.3.6.1.4.1.57264.2");
        assert_eq!((s.tsa_max_concurrent, s.tsa_max_queue), (4, 256));
    }

    #[test]
    fn storage_settings() {
        let s = load(None, env_of(&[("HALLMARK_DEV_OIDC", "1")])).unwrap();
        assert_eq!(s.storage, Storage::Redb, "the embedded default");
        assert_eq!(s.redb_cache_mib, 64, "the default redb cache per file");
        const BIG: &[(&str, &str)] = &[
            ("HALLMARK_DEV_OIDC", "1"),
            ("HALLMARK_REDB_CACHE_MIB", "1024"),
        ];
        assert_eq!(load(None, env_of(BIG)).unwrap().redb_cache_mib, 1024);
        const ZERO: &[(&str, &str)] =
            &[("HALLMARK_DEV_OIDC", "1"), ("HALLMARK_REDB_CACHE_MIB", "0")];
        const WORDS: &[(&str, &str)] = &[
            ("HALLMARK_DEV_OIDC", "1"),
            ("HALLMARK_REDB_CACHE_MIB", "lots"),
        ];
        const HUGE: &[(&str, &str)] = &[
            ("HALLMARK_DEV_OIDC", "1"),
            ("HALLMARK_REDB_CACHE_MIB", "100000"),
        ];
        for bad in [ZERO, WORDS, HUGE] {
            let e = load(None, env_of(bad)).unwrap_err().to_string();
            assert!(e.contains("storage.redb_cache_mib"), "{e}");
        }
        // PostgreSQL: the URL from a variable (read at start-up), never a flag.
        let s = load(
            None,
            env_of(&[
                ("HALLMARK_DEV_OIDC", "1"),
                ("HALLMARK_STORAGE", "postgres"),
                ("HALLMARK_PG_URL", "postgres://u:secret@db/hallmark"),
            ]),
        )
        .unwrap();
        let Storage::Postgres(pg) = &s.storage else {
            panic!("{:?}", s.storage)
        };
        assert_eq!(pg.url, PinSource::Env("HALLMARK_PG_URL".into()));
        assert_eq!(pg.pool_size, 16);
        assert!(
            !format!("{s:?}").contains("secret"),
            "settings never hold the URL"
        );
        // From a file, with the file's settings.
        let url = tempfile_path("pg-url");
        std::fs::write(&url, "postgres://u:pw@db/h\n").unwrap();
        let p = tempfile_path("storage");
        std::fs::write(
            &p,
            format!(
                "dev_oidc: true\nstorage:\n  backend: postgres\n  postgres:\n    url_file: {}\n    pool_size: 4\n    advertise_url: http://10.1.2.3:3000/\n",
                url.display()
            ),
        )
        .unwrap();
        let s = load(Some(&p), env_of(&[])).unwrap();
        let Storage::Postgres(pg) = &s.storage else {
            panic!("{:?}", s.storage)
        };
        assert_eq!(
            (pg.pool_size, pg.advertise_url.as_deref()),
            (4, Some("http://10.1.2.3:3000"))
        );
        assert_eq!(pg.read_url().unwrap(), "postgres://u:pw@db/h");
        assert!(
            pg.read_replica_secret().unwrap().is_none(),
            "none configured"
        );
        // The replicas' secret: from HALLMARK_REPLICA_KEY_FILE, trailing newline removed, at
        // least 32 bytes, and never in the settings' Debug output.
        let key = tempfile_path("replica-key");
        std::fs::write(&key, format!("{}\n", "k".repeat(40))).unwrap();
        let key_var = key.to_str().unwrap().to_owned();
        let env = move |k: &str| (k == "HALLMARK_REPLICA_KEY_FILE").then(|| key_var.clone());
        let s = load(Some(&p), env).unwrap();
        let Storage::Postgres(pg) = &s.storage else {
            panic!("{:?}", s.storage)
        };
        let secret = pg.read_replica_secret().unwrap().unwrap();
        assert_eq!(
            secrecy::ExposeSecret::expose_secret(&secret),
            "k".repeat(40).as_bytes()
        );
        assert!(!format!("{s:?} {secret:?}").contains("kkkk"), "{s:?}");
        // Only a line ending is dropped: a binary secret ending in whitespace keeps every byte.
        let mut binary = vec![0xa5u8; 31];
        binary.push(b' ');
        std::fs::write(&key, &binary).unwrap();
        let secret = pg.read_replica_secret().unwrap().unwrap();
        assert_eq!(secrecy::ExposeSecret::expose_secret(&secret), &binary[..]);
        std::fs::write(&key, "short\n").unwrap();
        let e = pg.read_replica_secret().unwrap_err().to_string();
        assert!(
            e.contains("replica_key_file") && e.contains("at least 32"),
            "{e}"
        );
        std::fs::remove_file(&key).ok();
        let e = pg.read_replica_secret().unwrap_err().to_string();
        assert!(e.contains("cannot read"), "{e}");
        // No URL, an unknown backend, a silly pool: clear errors.
        const NO_URL: &[(&str, &str)] =
            &[("HALLMARK_DEV_OIDC", "1"), ("HALLMARK_STORAGE", "postgres")];
        const SLED: &[(&str, &str)] = &[("HALLMARK_DEV_OIDC", "1"), ("HALLMARK_STORAGE", "sled")];
        for (env, field) in [(NO_URL, "storage.postgres"), (SLED, "storage.backend")] {
            let e = load(None, env_of(env)).unwrap_err().to_string();
            assert!(e.contains(field), "{e}");
        }
        std::fs::write(
            &p,
            "dev_oidc: true\nstorage:\n  postgres:\n    pool_size: 0\n",
        )
        .unwrap();
        let e = load(
            Some(&p),
            env_of(&[("HALLMARK_STORAGE", "postgres"), ("HALLMARK_PG_URL", "x")]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("pool_size"), "{e}");
        std::fs::remove_file(&p).ok();
        std::fs::remove_file(&url).ok();
    }

    #[test]
    fn tsa_settings() {
        let p = tempfile_path("tsa");
        std::fs::write(
            &p,
            "dev_oidc: true\ntsa:\n  key: pkcs11:token=t;object=ts\n  policy_oid: 1.2.3.4\n  max_concurrent: 2\n  max_queue: 0\n",
        )
        .unwrap();
        let s = load(Some(&p), env_of(&[])).unwrap();
        assert_eq!(s.tsa_key.object(), "ts");
        assert_eq!(s.tsa_policy.to_string(), "1.2.3.4");
        assert_eq!((s.tsa_max_concurrent, s.tsa_max_queue), (2, 0));
        assert_eq!(s.log_v2.key_type, LogV2KeyType::P256, "the default");
        std::fs::write(&p, "dev_oidc: true\nlog_v2:\n  key_type: ed25519\n").unwrap();
        let s = load(Some(&p), env_of(&[])).unwrap();
        assert_eq!(s.log_v2.key_type, LogV2KeyType::Ed25519);
        for (yaml, field) in [
            (
                "dev_oidc: true\ntsa:\n  policy_oid: nope\n",
                "tsa.policy_oid",
            ),
            (
                "dev_oidc: true\ntsa:\n  max_concurrent: 0\n",
                "tsa.max_concurrent",
            ),
            ("dev_oidc: true\ntsa:\n  keys: x\n", "keys"),
            (
                "dev_oidc: true\ntsa:\n  key: pkcs11:token=hallmark;object=ca-issuing\n",
                "the same key as ca.issuing_key",
            ),
            (
                "dev_oidc: true\ntsa:\n  key: pkcs11:token=hallmark;object=log-v2-key\n",
                "the same key as log_v2.key",
            ),
            (
                "dev_oidc: true\nlog_v2:\n  max_queue: 0\n",
                "log_v2.max_queue",
            ),
            ("dev_oidc: true\nlog_v2:\n  key_type: rsa\n", "key_type"),
        ] {
            std::fs::write(&p, yaml).unwrap();
            let e = load(Some(&p), env_of(&[])).unwrap_err().to_string();
            assert!(e.contains(field), "{yaml}: {e}");
        }
        std::fs::remove_file(p).ok();
    }

    #[test]
    fn witness_settings() {
        const VKEY: &str =
            "witness.example/lw1+cd18f6d3+BOaKGO+5X0pTb2LjWJ8zct+RJtK4WfIxNQJuoof53pYQ";
        let p = tempfile_path("witnesses");
        let w = |url: &str, vkey: &str| format!("    - url: {url}\n      vkey: \"{vkey}\"\n");
        std::fs::write(
            &p,
            format!(
                "dev_oidc: true\nlog_v2:\n  witnesses:\n{}",
                w("http://w.example:7380", VKEY)
            ),
        )
        .unwrap();
        let s = load(Some(&p), env_of(&[])).unwrap();
        assert_eq!(s.log_v2.witnesses.len(), 1);
        assert_eq!(s.log_v2.witness_quorum, 1, "default: all");
        assert_eq!(s.log_v2.witness_wait.as_millis(), 1500);
        assert_eq!(s.log_v2.witnesses[0].verifier.vkey(), VKEY);
        let s = load(None, env_of(&[("HALLMARK_DEV_OIDC", "1")])).unwrap();
        assert!(s.log_v2.witnesses.is_empty());
        for (yaml, field) in [
            (
                format!("log_v2:\n  witnesses:\n{}", w("ftp://w", VKEY)),
                "not an http(s) URL",
            ),
            (
                format!(
                    "log_v2:\n  witnesses:\n{}",
                    w("http://w", "name+00000000+AAAA")
                ),
                "log_v2.witnesses",
            ),
            (
                format!(
                    "log_v2:\n  witness_quorum: 2\n  witnesses:\n{}",
                    w("http://w", VKEY)
                ),
                "log_v2.witness_quorum",
            ),
            (
                format!(
                    "log_v2:\n  witnesses:\n{}{}",
                    w("http://a", VKEY),
                    w("http://b", VKEY)
                ),
                "listed twice",
            ),
            (
                "log_v2:\n  witness_quorum: 1\n".to_owned(),
                "needs log_v2.witnesses",
            ),
            (
                "log_v2:\n  witness_wait_ms: 5000\n".to_owned(),
                "witness_wait_ms",
            ),
        ] {
            std::fs::write(&p, format!("dev_oidc: true\n{yaml}")).unwrap();
            let e = load(Some(&p), env_of(&[])).unwrap_err().to_string();
            assert!(e.contains(field), "{yaml}: {e}");
        }
        std::fs::remove_file(p).ok();
    }

    #[test]
    fn file_then_env() {
        let dir = tempfile_path("cfg");
        std::fs::write(
            &dir,
            "listen: 0.0.0.0:8080\npublic_url: https://sign.example.com/\noidc:\n  issuers_file: i.yaml\nct_log:\n  key: pkcs11:token=t;object=ct\n",
        )
        .unwrap();
        let s = load(Some(&dir), env_of(&[("HALLMARK_LISTEN", "127.0.0.1:9")])).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:9");
        assert_eq!(s.public_url(), "https://sign.example.com");
        assert_eq!(s.public_host(), "sign.example.com");
        assert_eq!(s.ct_key.token(), "t");
        std::fs::remove_file(dir).ok();
    }

    #[test]
    fn the_development_issuer_stays_on_loopback_and_alone() {
        // File and environment disagree: an error, whichever way round.
        let p = tempfile_path("dev-conflict");
        std::fs::write(&p, "dev_oidc: false\n").unwrap();
        let e = load(Some(&p), env_of(&[("HALLMARK_DEV_OIDC", "1")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("neither overrides the other"), "{e}");
        std::fs::write(&p, "dev_oidc: true\n").unwrap();
        let e = load(Some(&p), env_of(&[("HALLMARK_DEV_OIDC", "0")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("neither overrides the other"), "{e}");
        let e = load(None, env_of(&[("HALLMARK_DEV_OIDC", "maybe")]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("HALLMARK_DEV_OIDC"), "{e}");

        // Off loopback, or beside real issuers: refused unless explicitly allowed.
        for env in [
            &[
                ("HALLMARK_DEV_OIDC", "1"),
                ("HALLMARK_LISTEN", "0.0.0.0:3000"),
            ][..],
            &[("HALLMARK_DEV_OIDC", "1"), ("HALLMARK_LISTEN", "[::]:3000")][..],
            &[
                ("HALLMARK_DEV_OIDC", "1"),
                ("HALLMARK_PUBLIC_URL", "https://sign.example.com"),
            ][..],
            &[
                ("HALLMARK_DEV_OIDC", "1"),
                ("HALLMARK_OIDC_ISSUERS", "i.yaml"),
            ][..],
        ] {
            let leaked: &'static [(&'static str, &'static str)] = Box::leak(env.to_vec().into());
            let e = load(None, env_of(leaked)).unwrap_err().to_string();
            assert!(e.contains("refused"), "{env:?}: {e}");
            assert!(e.contains("dev_oidc_unsafe_allow_anywhere"), "{e}");
            let mut allowed = env.to_vec();
            allowed.push(("HALLMARK_DEV_OIDC_UNSAFE_ALLOW_ANYWHERE", "1"));
            let allowed: &'static [(&'static str, &'static str)] = Box::leak(allowed.into());
            assert!(load(None, env_of(allowed)).unwrap().dev_oidc, "{env:?}");
        }
        // Loopback in every spelling is fine.
        for url in [
            "http://localhost:3000",
            "http://[::1]:3000",
            "http://127.0.0.2",
        ] {
            let env: &'static [(&'static str, &'static str)] =
                Box::leak(vec![("HALLMARK_DEV_OIDC", "1"), ("HALLMARK_PUBLIC_URL", url)].into());
            assert!(load(None, env_of(env)).unwrap().dev_oidc, "{url}");
        }
        std::fs::remove_file(p).ok();
    }

    #[test]
    fn session_and_read_limits() {
        let s = load(None, env_of(&[("HALLMARK_DEV_OIDC", "1")])).unwrap();
        assert_eq!(s.hsm_max_sessions, hallmark_keys::DEFAULT_MAX_SESSIONS);
        assert_eq!(s.max_concurrent_reads, DEFAULT_CONCURRENT_READS);
        let p = tempfile_path("limits");
        std::fs::write(
            &p,
            "dev_oidc: true\nhsm:\n  max_sessions: 3\nmax_concurrent_reads: 5\n",
        )
        .unwrap();
        let s = load(Some(&p), env_of(&[])).unwrap();
        assert_eq!((s.hsm_max_sessions, s.max_concurrent_reads), (3, 5));
        for (yaml, field) in [
            (
                "dev_oidc: true\nhsm:\n  max_sessions: 0\n",
                "hsm.max_sessions",
            ),
            (
                "dev_oidc: true\nmax_concurrent_reads: 0\n",
                "max_concurrent_reads",
            ),
            (
                "dev_oidc: true\nmax_concurrent_readers: 3\n",
                "max_concurrent_readers",
            ),
        ] {
            std::fs::write(&p, yaml).unwrap();
            let e = load(Some(&p), env_of(&[])).unwrap_err().to_string();
            assert!(e.contains(field), "{yaml}: {e}");
        }
        std::fs::remove_file(p).ok();
    }

    #[test]
    fn bad_configs_name_the_problem() {
        let e = load(None, env_of(&[])).unwrap_err().to_string();
        assert!(e.contains("no OIDC issuers"), "{e}");
        let e = load(
            None,
            env_of(&[("HALLMARK_DEV_OIDC", "1"), ("HALLMARK_LISTEN", "nope")]),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("listen"), "{e}");
        let p = tempfile_path("bad");
        std::fs::write(&p, "dev_oidc: true\nlisten_port: 3\n").unwrap();
        let e = load(Some(&p), env_of(&[])).unwrap_err().to_string();
        assert!(e.contains("listen_port"), "{e}");
        std::fs::write(
            &p,
            "dev_oidc: true\nca:\n  root_key: pkcs11:token=x;object=y;pin-value=1\n",
        )
        .unwrap();
        let e = load(Some(&p), env_of(&[])).unwrap_err().to_string();
        assert!(e.contains("ca.root_key"), "{e}");
        std::fs::remove_file(p).ok();
    }

    #[test]
    fn max_entry_bytes_is_bounded_by_what_the_log_can_take() {
        let p = tempfile_path("entry");
        let with = |n: usize| {
            std::fs::write(
                &p,
                format!("dev_oidc: true\nlog:\n  max_entry_bytes: {n}\n"),
            )
            .unwrap();
            load(Some(&p), env_of(&[]))
        };
        let max = hallmark_sigstore::MAX_ENTRY_BYTES;
        assert_eq!(with(max).unwrap().max_entry_bytes, max);
        assert_eq!(with(3 << 20).unwrap().max_entry_bytes, 3 << 20);
        for bad in [max + 1, 16 << 20, 64 << 20, 1023] {
            let e = with(bad).unwrap_err().to_string();
            assert!(
                e.contains("log.max_entry_bytes") && e.contains(&max.to_string()),
                "{bad}: {e}"
            );
        }
        std::fs::remove_file(p).ok();
    }

    fn tempfile_path(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("hallmark-config-{tag}-{}.yaml", std::process::id()))
    }
}
