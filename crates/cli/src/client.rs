//! What `hallmark sign`, `attest` and `verify` share: where the servers are and which trust root
//! to use (flags, environment, or the ClientTrustConfig `hallmark trust-root` writes), the
//! identity token, and the HTTP calls to the CA (Fulcio v2 API) and the log (Rekor v1 API).
//!
//! A signing [`Session`] holds one ephemeral P-256 key, in memory only, and the certificate the
//! CA issued for it; it is reused for every file of one invocation while the certificate has
//! more than [`RENEW_BEFORE`] left, then replaced by a new key and certificate.
//!
//! Requests that fail in a way worth another try (the server cannot be reached, or answers 429,
//! 502, 503 or 504: busy, or its HSM or storage briefly away) are retried after
//! [`RETRY_PAUSES`], or the server's `Retry-After` when that is longer. A log entry whose first
//! attempt did land comes back as 409 with its location; the existing entry is fetched and used,
//! which also covers two identical files in one invocation (RFC 6979 signatures make identical
//! entries).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail, ensure};
use clap::Args;
use hallmark_oidc_client::{
    AcquireOptions, AcquiredToken, IdentityToken, LoginOptions, ServiceAccountToken,
};
use hallmark_sigstore::SigningConfig;
use hallmark_sigstore::fulcio::{SigningCertRequest, SigningCertResponse};
use p256::ecdsa::{DerSignature, SigningKey};
use serde_json::Value;
use tokio::sync::Mutex;

/// A certificate is replaced when less than this is left of its validity: an entry must reach
/// the log while its certificate is valid.
pub(crate) const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// The pauses between attempts of a request that may succeed later (about 16 s in all).
pub(crate) const RETRY_PAUSES: [Duration; 6] = [
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
];

/// The longest `Retry-After` honoured; a longer one is cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Where the trust config lives when no flag or variable names one.
fn default_trust_config() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("hallmark").join("trust-config.json"))
}

/// The trust root and server locations.
#[derive(Debug, Clone, Args)]
pub(crate) struct TrustArgs {
    /// ClientTrustConfig (trusted root + signing config) as written by `hallmark trust-root
    /// --client-trust-config`. Default: $XDG_CONFIG_HOME/hallmark/trust-config.json.
    #[arg(long, env = "HALLMARK_TRUST_CONFIG")]
    pub(crate) trust_config: Option<PathBuf>,
}

impl TrustArgs {
    /// The trust config file to read: the flag, the variable, else the default location.
    pub(crate) fn path(&self) -> Result<PathBuf> {
        if let Some(p) = &self.trust_config {
            return Ok(p.clone());
        }
        let default = default_trust_config()
            .context("no --trust-config given and no home directory to look in")?;
        ensure!(
            default.exists(),
            "no trust config: pass --trust-config FILE or set HALLMARK_TRUST_CONFIG (write one with \
             `hallmark trust-root --client-trust-config FILE` on the server, or copy it to {})",
            default.display()
        );
        Ok(default)
    }

    pub(crate) fn load(&self) -> Result<TrustConfig> {
        let path = self.path()?;
        let bytes = std::fs::read(&path)
            .with_context(|| format!("reading the trust config {}", path.display()))?;
        TrustConfig::parse(&path, &bytes)
    }
}

/// A parsed ClientTrustConfig.
#[derive(Debug)]
pub(crate) struct TrustConfig {
    pub(crate) root: hallmark_verify::TrustedRoot,
    pub(crate) ca_url: Option<String>,
    pub(crate) rekor_url: Option<String>,
    /// A Rekor v2 log (`majorApiVersion` 2), when the signing config offers one.
    pub(crate) rekor_v2_url: Option<String>,
    /// A timestamp authority's full URL (`.../api/v1/timestamp`).
    pub(crate) tsa_url: Option<String>,
    pub(crate) oidc_url: Option<String>,
}

impl TrustConfig {
    pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<TrustConfig> {
        let root = hallmark_verify::TrustedRoot::from_json(bytes)
            .with_context(|| format!("{} is not a usable trust root", path.display()))?;
        // A ClientTrustConfig names the servers; a bare trusted root does not.
        let doc: Value = serde_json::from_slice(bytes)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let signing: SigningConfig = match doc.get("signingConfig") {
            Some(sc) => serde_json::from_value(sc.clone())
                .with_context(|| format!("the signingConfig of {}", path.display()))?,
            None => SigningConfig::default(),
        };
        // The first service of each kind whose window is open; signing configs list the
        // current one first.
        let rekor = |v1: bool| {
            let services: Vec<_> = signing
                .rekor_tlog_urls
                .iter()
                .filter(|s| (s.major_api_version.unwrap_or(1) == 1) == v1)
                .filter(|s| v1 || s.major_api_version == Some(2))
                .cloned()
                .collect();
            SigningConfig::current_url(&services)
        };
        Ok(TrustConfig {
            root,
            ca_url: SigningConfig::current_url(&signing.ca_urls),
            rekor_url: rekor(true),
            rekor_v2_url: rekor(false),
            tsa_url: SigningConfig::current_url(&signing.tsa_urls),
            oidc_url: SigningConfig::current_url(&signing.oidc_urls),
        })
    }
}

/// How to get an identity token, and where the servers are (beyond the trust config).
#[derive(Debug, Clone, Args)]
pub(crate) struct SignerArgs {
    #[command(flatten)]
    pub(crate) trust: TrustArgs,
    /// CA base URL (default: the trust config's signing config).
    #[arg(long, env = "HALLMARK_CA_URL")]
    pub(crate) ca_url: Option<String>,
    /// Signature log base URL (default: the trust config's signing config).
    #[arg(long, env = "HALLMARK_REKOR_URL")]
    pub(crate) rekor_url: Option<String>,
    /// The log API to write to: 2 (Rekor v2: checkpoints, and a timestamp authority for the
    /// signing time) or 1 (Rekor v1: a signed entry timestamp per entry). Default: 2 when the
    /// signing config offers a v2 log and a timestamp authority, else 1.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=2))]
    pub(crate) rekor_version: Option<u32>,
    /// Timestamp authority URL, the full `.../api/v1/timestamp` (default: the signing
    /// config's). Used with Rekor v2.
    #[arg(long, env = "HALLMARK_TSA_URL")]
    pub(crate) tsa_url: Option<String>,
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    /// Requests to the log in flight at once.
    #[arg(long, default_value_t = 32)]
    pub(crate) parallel: usize,
}

/// Where the identity token comes from: flags, the CI system, Kubernetes, or a login.
#[derive(Debug, Clone, Args)]
pub(crate) struct TokenArgs {
    /// The OIDC identity token itself. Prefer --identity-token-file or SIGSTORE_ID_TOKEN: a
    /// token on the command line is visible to other users of the machine.
    #[arg(long, env = "HALLMARK_IDENTITY_TOKEN", hide_env_values = true)]
    pub(crate) identity_token: Option<String>,
    /// A file holding the identity token.
    #[arg(long)]
    pub(crate) identity_token_file: Option<PathBuf>,
    /// An environment variable holding the token, read before SIGSTORE_ID_TOKEN (e.g. the name
    /// of a GitLab CI `id_tokens` entry).
    #[arg(long)]
    pub(crate) identity_token_env: Option<String>,
    /// Kubernetes projected service-account token file (read if it exists).
    #[arg(long, default_value = hallmark_oidc_client::DEFAULT_KUBERNETES_TOKEN_PATH)]
    pub(crate) kubernetes_token_file: PathBuf,
    /// The token audience the CA expects.
    #[arg(long, default_value = "sigstore")]
    pub(crate) audience: String,
    /// OIDC issuer for an interactive login when no token is found (default: the trust
    /// config's OIDC URL). Never used in CI.
    #[arg(long, env = "HALLMARK_OIDC_ISSUER")]
    pub(crate) oidc_issuer: Option<String>,
    /// OIDC client ID for the interactive login.
    #[arg(long, default_value = "sigstore")]
    pub(crate) oidc_client_id: String,
    /// No interactive login: fail when no token is found.
    #[arg(long)]
    pub(crate) no_login: bool,
    /// Open the login URL in a browser (otherwise it is printed).
    #[arg(long, conflicts_with = "device_login")]
    pub(crate) open_browser: bool,
    /// Log in with a code entered on another device (OAuth device grant, RFC 8628) instead of
    /// a browser redirect to this machine: for SSH sessions and machines without a browser.
    #[arg(long)]
    pub(crate) device_login: bool,
}

/// The CA and log endpoints of one invocation.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    pub(crate) ca: String,
    pub(crate) rekor: String,
    /// The log's API: 1 or 2.
    pub(crate) rekor_version: u32,
    /// The timestamp authority (always set with Rekor v2).
    pub(crate) tsa: Option<String>,
}

impl SignerArgs {
    pub(crate) fn endpoints(&self, trust: &TrustConfig) -> Result<Endpoints> {
        let pick = |flag: &Option<String>, config: &Option<String>, what: &str, f: &str| {
            flag.as_ref()
                .map(|u| u.trim_end_matches('/').to_owned())
                .or_else(|| config.clone())
                .ok_or_else(|| {
                    anyhow!(
                        "no {what} URL: the trust config's signing config lists none; pass --{f}"
                    )
                })
        };
        let tsa = self
            .tsa_url
            .as_ref()
            .map(|u| u.trim_end_matches('/').to_owned())
            .or_else(|| trust.tsa_url.clone());
        let offers_v2 = trust.rekor_v2_url.is_some() && tsa.is_some();
        let rekor_version = match self.rekor_version {
            Some(2) if tsa.is_none() => {
                return Err(anyhow!(
                    "--rekor-version 2 needs a timestamp authority (Rekor v2 gives no signed \
                     entry timestamp): the signing config lists none; pass --tsa-url"
                ));
            }
            Some(v) => v,
            None if offers_v2 => 2,
            None => 1,
        };
        let config_rekor = if rekor_version == 2 {
            &trust.rekor_v2_url
        } else {
            &trust.rekor_url
        };
        Ok(Endpoints {
            ca: pick(&self.ca_url, &trust.ca_url, "CA", "ca-url")?,
            rekor: pick(&self.rekor_url, config_rekor, "log", "rekor-url")?,
            rekor_version,
            tsa: if rekor_version == 2 { tsa } else { None },
        })
    }
}

impl TokenArgs {
    /// Where to look for a token; an interactive login goes to `--oidc-issuer`, else to the
    /// trust config's OIDC URL (if any).
    pub(crate) fn acquire_options(&self, trust: Option<&TrustConfig>) -> AcquireOptions {
        let mut o = AcquireOptions::default();
        o.audience = self.audience.clone();
        o.token = self.identity_token.as_ref().map(IdentityToken::new);
        o.token_file = self.identity_token_file.clone();
        o.token_variable = self.identity_token_env.clone();
        o.kubernetes = ServiceAccountToken::IfPresent(self.kubernetes_token_file.clone());
        if !self.no_login
            && let Some(issuer) = self
                .oidc_issuer
                .clone()
                .or_else(|| trust.and_then(|t| t.oidc_url.clone()))
        {
            let mut login = LoginOptions::new(issuer);
            login.client_id = self.oidc_client_id.clone();
            login.open_browser = self.open_browser;
            login.device = self.device_login;
            o.login = Some(login);
        }
        o
    }
}

/// Unix seconds now.
pub(crate) fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// An ephemeral key and the certificate the CA issued for it.
#[derive(Debug)]
pub(crate) struct Credential {
    pub(crate) key: SigningKey,
    /// Leaf certificate, DER.
    pub(crate) cert_der: Vec<u8>,
    /// Leaf certificate, PEM (what log entries carry).
    pub(crate) cert_pem: String,
    pub(crate) not_after: SystemTime,
}

impl Credential {
    fn fresh_enough(&self) -> bool {
        self.not_after
            .duration_since(SystemTime::now())
            .is_ok_and(|left| left > RENEW_BEFORE)
    }
}

/// One invocation's signing state: the token and the current credential.
#[derive(Debug)]
pub(crate) struct Session {
    http: reqwest::Client,
    endpoints: Endpoints,
    options: AcquireOptions,
    token: Mutex<Option<AcquiredToken>>,
    credential: Mutex<Option<Arc<Credential>>>,
    /// How many certificates this session obtained.
    pub(crate) certificates: std::sync::atomic::AtomicUsize,
}

impl Session {
    pub(crate) fn new(endpoints: Endpoints, options: AcquireOptions) -> Result<Session> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("hallmark/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the HTTP client")?;
        Ok(Session {
            http,
            endpoints,
            options,
            token: Mutex::new(None),
            credential: Mutex::new(None),
            certificates: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// A valid identity token, acquired (again) when there is none or it expired.
    async fn token(&self) -> Result<AcquiredToken> {
        let mut slot = self.token.lock().await;
        if let Some(t) = slot.as_ref()
            && i64::try_from(t.claims.expires_at.0).unwrap_or(i64::MAX) > now_unix() + 5
        {
            return Ok(t.clone());
        }
        let t = hallmark_oidc_client::acquire(&self.options)
            .await
            .context("getting an identity token")?;
        tracing::info!(source = %t.source, identity = t.claims.identity(), issuer = %t.claims.issuer, "using identity token");
        *slot = Some(t.clone());
        Ok(t)
    }

    /// The current credential, or a new key and certificate when it is about to expire.
    pub(crate) async fn credential(&self) -> Result<Arc<Credential>> {
        let mut slot = self.credential.lock().await;
        if let Some(c) = slot.as_ref()
            && c.fresh_enough()
        {
            return Ok(c.clone());
        }
        let token = self.token().await?;
        let c = Arc::new(self.request_certificate(&token).await?);
        self.certificates
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *slot = Some(c.clone());
        Ok(c)
    }

    /// A fresh ephemeral key and a certificate for it (CSR with the token as bearer).
    async fn request_certificate(&self, token: &AcquiredToken) -> Result<Credential> {
        let key = hallmark_keys::generate_memory_p256().context("generating the ephemeral key")?;
        let csr = csr_der(&key)?;
        let url = format!("{}/api/v2/signingCert", self.endpoints.ca);
        let request = SigningCertRequest::csr(&csr).to_json()?;
        let resp = self
            .send("the CA", &url, || {
                self.http
                    .post(&url)
                    .bearer_auth(token.token.secret())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(request.clone())
            })
            .await?;
        let body = answer_text(resp, "the CA", &url).await?;
        let pem = SigningCertResponse::parse(body.as_bytes())
            .and_then(|r| r.leaf().map(str::to_owned))
            .with_context(|| format!("the CA at {url}"))?;
        let der = pem_to_der(&pem).context("the CA's leaf certificate")?;
        let cert = {
            use der::Decode as _;
            x509_cert::Certificate::from_der(&der).context("the CA's leaf certificate")?
        };
        let spki = {
            use der::Encode as _;
            cert.tbs_certificate()
                .subject_public_key_info()
                .to_der()
                .context("the CA's leaf certificate's public key")?
        };
        ensure!(
            spki == key_spki(&key)?,
            "the CA issued a certificate for another public key"
        );
        Ok(Credential {
            key,
            cert_der: der,
            cert_pem: pem,
            not_after: cert.tbs_certificate().validity().not_after.to_system_time(),
        })
    }

    /// `POST /api/v1/log/entries`: the created entry (Rekor's `{uuid: entry}` map's value).
    /// An equivalent entry already in the log (409: an earlier attempt of ours landed, or an
    /// identical file was signed with the same key) is fetched and returned instead.
    pub(crate) async fn create_entry(
        &self,
        request: Vec<u8>,
    ) -> Result<hallmark_sigstore::LogEntry> {
        let url = format!("{}/api/v1/log/entries", self.endpoints.rekor);
        let resp = self.post_json("the log", &url, &request).await?;
        let resp = match existing_entry_uuid(&resp) {
            Some(uuid) => {
                let url = format!("{}/api/v1/log/entries/{uuid}", self.endpoints.rekor);
                tracing::debug!(%uuid, "the log holds this entry already; fetching it");
                self.send("the log", &url, || self.http.get(&url)).await?
            }
            None => resp,
        };
        let body = answer(resp, "the log", &url).await?;
        let (_, entry) = hallmark_sigstore::LogEntry::from_value(body)
            .context("the log's answer is not a Rekor log entry")?;
        Ok(entry)
    }
}

impl Session {
    /// `POST` JSON to `url` (retried as [`Session::send`] does).
    async fn post_json(&self, who: &str, url: &str, body: &[u8]) -> Result<reqwest::Response> {
        self.send(who, url, || {
            self.http
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec())
        })
        .await
    }

    /// The log's API version and, with Rekor v2, the timestamp authority.
    pub(crate) fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// `POST /api/v2/log/entries` (Rekor v2): the entry as the log answers it, in a signed
    /// checkpoint. A 409 (the entry is logged already, for instance by an earlier attempt of
    /// ours whose answer was lost) is an error naming its index: Rekor v2 has no API to read an
    /// entry back with its proof.
    pub(crate) async fn create_entry_v2(
        &self,
        request: Vec<u8>,
    ) -> Result<hallmark_sigstore::bundle::TransparencyLogEntry> {
        let url = format!("{}/api/v2/log/entries", self.endpoints.rekor);
        let resp = self.post_json("the log", &url, &request).await?;
        if resp.status() == reqwest::StatusCode::CONFLICT {
            let index = resp
                .headers()
                .get("x-log-index")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?")
                .to_owned();
            bail!(
                "the log at {url} already holds this signature (log index {index}); sign again \
                 to get a new signature"
            );
        }
        let body = answer(resp, "the log", &url).await?;
        serde_json::from_value(body)
            .context("the log's answer is not a Rekor v2 TransparencyLogEntry")
    }

    /// `POST` an RFC 3161 `TimeStampReq` (DER) to the timestamp authority; its
    /// `TimeStampResp` (DER).
    pub(crate) async fn timestamp(&self, request_der: Vec<u8>) -> Result<Vec<u8>> {
        let url = self
            .endpoints
            .tsa
            .clone()
            .context("no timestamp authority is configured")?;
        let resp = self
            .send("the timestamp authority", &url, || {
                self.http
                    .post(&url)
                    .header(reqwest::header::CONTENT_TYPE, "application/timestamp-query")
                    .body(request_der.clone())
            })
            .await?;
        let status = resp.status();
        // A timestamp is a few kilobytes: read at most 1 MiB of whatever comes back.
        const MAX_ANSWER: usize = 1 << 20;
        let mut resp = resp;
        let mut bytes = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .with_context(|| format!("reading the answer of the timestamp authority at {url}"))?
        {
            ensure!(
                bytes.len() + chunk.len() <= MAX_ANSWER,
                "the timestamp authority at {url} answered with more than {MAX_ANSWER} bytes"
            );
            bytes.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            let text: String = String::from_utf8_lossy(&bytes)
                .chars()
                .take(300)
                .filter(|c| !c.is_control())
                .collect();
            bail!("the timestamp authority at {url} answered {status}: {text}");
        }
        Ok(bytes)
    }

    /// Sends the request `build` makes, again after a pause while it fails in a way that may
    /// pass: no connection, a timeout, or 429/502/503/504. The last outcome is returned.
    async fn send(
        &self,
        who: &str,
        url: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response> {
        let mut pauses = RETRY_PAUSES.iter();
        loop {
            let outcome = build().send().await;
            let transient = match &outcome {
                Ok(resp) if is_transient(resp.status()) => {
                    Some((resp.status().to_string(), retry_after(resp)))
                }
                Ok(_) => None,
                // No connection, a timeout, or the connection lost mid-request: a POST is safe
                // to repeat (a log entry that did land comes back as 409, handled by the caller).
                Err(e) if e.is_connect() || e.is_timeout() || e.is_request() => {
                    Some((e.to_string(), None))
                }
                Err(_) => None,
            };
            let (why, pause) = match (transient, pauses.next()) {
                (Some((why, after)), Some(pause)) => (why, after.map_or(*pause, |a| a.max(*pause))),
                _ => return outcome.with_context(|| format!("cannot reach {who} at {url}")),
            };
            tracing::warn!(%url, %why, pause_ms = pause.as_millis(), "retrying {who}");
            tokio::time::sleep(pause).await;
        }
    }
}

/// Statuses that say "later": too many requests, or a gateway or the service briefly away.
fn is_transient(status: reqwest::StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 502 | 503 | 504)
}

/// A `Retry-After` in seconds, at most [`MAX_RETRY_AFTER`].
fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    let secs: u64 = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER))
}

/// The UUID of the existing entry a 409 from the log points to (`Location: .../entries/UUID`).
fn existing_entry_uuid(resp: &reqwest::Response) -> Option<String> {
    if resp.status() != reqwest::StatusCode::CONFLICT {
        return None;
    }
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)?
        .to_str()
        .ok()?;
    let uuid = location.rsplit('/').next()?;
    (!uuid.is_empty() && uuid.bytes().all(|b| b.is_ascii_hexdigit())).then(|| uuid.to_owned())
}

/// The JSON body of a 2xx answer, or an error quoting the server's message.
async fn answer(resp: reqwest::Response, who: &str, url: &str) -> Result<Value> {
    let text = answer_text(resp, who, url).await?;
    serde_json::from_str(&text).with_context(|| format!("{who} at {url} answered with non-JSON"))
}

/// The text of a 2xx answer; a non-2xx one is an error carrying the server's `message`.
async fn answer_text(resp: reqwest::Response, who: &str, url: &str) -> Result<String> {
    let status = resp.status();
    let text = resp
        .text()
        .await
        .with_context(|| format!("reading the answer of {who} at {url}"))?;
    if !status.is_success() {
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| text.chars().take(300).collect());
        bail!("{who} at {url} answered {status}: {message}");
    }
    Ok(text)
}

fn key_spki(key: &SigningKey) -> Result<Vec<u8>> {
    use spki::EncodePublicKey as _;
    Ok(key
        .verifying_key()
        .to_public_key_der()
        .context("encoding the public key")?
        .into_vec())
}

/// A PKCS#10 request with an empty subject, signed by `key` (proof of possession).
fn csr_der(key: &SigningKey) -> Result<Vec<u8>> {
    use der::Encode as _;
    use x509_cert::builder::{Builder as _, RequestBuilder};
    let builder = RequestBuilder::new(x509_cert::name::Name::default())
        .context("building the certificate request")?;
    let req = builder
        .build::<_, DerSignature>(key)
        .context("signing the certificate request")?;
    req.to_der().context("encoding the certificate request")
}

/// The DER of the first PEM block of `pem`.
pub(crate) fn pem_to_der(pem: &str) -> Result<Vec<u8>> {
    let (_, der) = der::pem::decode_vec(pem.as_bytes()).map_err(|e| anyhow!("bad PEM: {e}"))?;
    Ok(der)
}

/// POST a JSON body and parse the JSON answer, from synchronous code (a one-off request of a
/// command or a benchmark's set-up): fails on a non-2xx status.
pub(crate) fn post_json_blocking(url: &str, body: Vec<u8>) -> Result<Value> {
    Ok(serde_json::from_slice::<Value>(&post_blocking(url, body)?)?)
}

/// POST a JSON body and return the answer's bytes, from synchronous code: fails on a non-2xx
/// status.
pub(crate) fn post_blocking(url: &str, body: Vec<u8>) -> Result<Vec<u8>> {
    send_blocking(
        reqwest::Client::new()
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body),
    )
}

/// GET `url` and return the answer's bytes, from synchronous code: fails on a non-2xx status.
pub(crate) fn get_blocking(url: &str) -> Result<Vec<u8>> {
    send_blocking(reqwest::Client::new().get(url))
}

fn send_blocking(request: reqwest::RequestBuilder) -> Result<Vec<u8>> {
    let ask = async {
        let bytes = request.send().await?.error_for_status()?.bytes().await?;
        anyhow::Ok(bytes.to_vec())
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(ask)
}
