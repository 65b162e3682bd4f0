//! `hallmark verify`: offline verification of any Sigstore bundle (v0.1 to v0.3, Rekor v1 and
//! v2 entries, message signatures and DSSE) against a trust root, with an identity policy or a
//! public key. Exit 0 only when every check holds; otherwise the message names the failed check.
//!
//! Several artifacts can be verified in one invocation (each against `FILE.sigstore.json`), as a
//! deploy gate checks what `hallmark sign dist/*` signed; the exit status is 0 only if all of them
//! verify. Files up to [`IN_MEMORY_LIMIT`] are read whole (any key type and digest algorithm);
//! larger ones are hashed as they are read (SHA-256, what Sigstore's clients sign with), so memory
//! stays bounded whatever the artifact's size.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use clap::Args;
use hallmark_verify::{
    Artifact, Bundle, CiExtension, IdentityPolicy, Matcher, Policy, PublicKey, Signed, Signer,
    TimeSource, TrustedRoot, Verified,
};
use serde_json::{Value, json};

use crate::client::{TrustArgs, now_unix};

/// Artifacts up to this size are read into memory; larger ones are hashed as they are read.
pub(crate) const IN_MEMORY_LIMIT: u64 = 256 << 20;

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The artifacts: files, or `sha256:<hex>` for a digest. Required, unless --no-artifact.
    pub(crate) artifacts: Vec<String>,
    /// Check a DSSE bundle's signature, certificate and log entry only, without an artifact:
    /// the statement's subjects are then not checked against anything.
    #[arg(long, conflicts_with = "artifacts", requires = "bundle")]
    pub(crate) no_artifact: bool,
    /// The bundle, for one artifact. Default: ARTIFACT.sigstore.json beside each file.
    #[arg(long)]
    pub(crate) bundle: Option<PathBuf>,
    /// A trusted_root.json (or a ClientTrustConfig) to verify against, e.g. the public-good
    /// Sigstore root. Default: the trust config (--trust-config).
    #[arg(long)]
    pub(crate) trusted_root: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) trust: TrustArgs,
    /// The certificate's identity (SAN) must be exactly this (email, URI, ...).
    #[arg(long, alias = "certificate-identity", conflicts_with_all = ["cert_identity_regexp", "key"])]
    pub(crate) cert_identity: Option<String>,
    /// ... or match this regular expression (whole value).
    #[arg(long, alias = "certificate-identity-regexp", conflicts_with = "key")]
    pub(crate) cert_identity_regexp: Option<String>,
    /// The certificate's OIDC issuer must be exactly this.
    #[arg(long, alias = "certificate-oidc-issuer", conflicts_with_all = ["cert_oidc_issuer_regexp", "key"])]
    pub(crate) cert_oidc_issuer: Option<String>,
    /// ... or match this regular expression (whole value).
    #[arg(long, alias = "certificate-oidc-issuer-regexp", conflicts_with = "key")]
    pub(crate) cert_oidc_issuer_regexp: Option<String>,
    /// Required source repository URI (Fulcio extension 1.3.6.1.4.1.57264.1.12).
    #[arg(long, conflicts_with = "key")]
    pub(crate) source_repository: Option<String>,
    /// Required source repository ref, e.g. refs/heads/main (1.3.6.1.4.1.57264.1.14).
    #[arg(long, conflicts_with = "key")]
    pub(crate) source_ref: Option<String>,
    /// Required source repository commit digest (1.3.6.1.4.1.57264.1.13).
    #[arg(long, conflicts_with = "key")]
    pub(crate) source_digest: Option<String>,
    /// Required build signer URI, e.g. the workflow (1.3.6.1.4.1.57264.1.9).
    #[arg(long, conflicts_with = "key")]
    pub(crate) build_signer_uri: Option<String>,
    /// Required runner environment, e.g. github-hosted (1.3.6.1.4.1.57264.1.11).
    #[arg(long, conflicts_with = "key")]
    pub(crate) runner_environment: Option<String>,
    /// Any other Fulcio extension, as OID=VALUE (e.g. 1.3.6.1.4.1.57264.1.20=push).
    #[arg(
        long = "cert-extension",
        value_name = "OID=VALUE",
        conflicts_with = "key"
    )]
    pub(crate) cert_extensions: Vec<String>,
    /// Verify with this public key (PEM) instead of a certificate identity (managed keys).
    #[arg(long)]
    pub(crate) key: Option<PathBuf>,
    /// Accepted and ignored, for sigstore-python's and cosign's habits: verification here is
    /// always offline.
    #[arg(long, hide = true)]
    pub(crate) offline: bool,
    /// Print one JSON object per artifact on stdout (JSON Lines) instead of text: `verified`,
    /// and the signer, digest, signing times and log entries, or the failed `check` and `error`.
    #[arg(long)]
    pub(crate) json: bool,
    /// A witness whose cosignature the bundle's log checkpoint must carry: its C2SP
    /// `cosignature/v1` vkey (`<name>+<hex id>+<base64>`). Repeatable; see --min-witnesses.
    #[arg(long = "witness", value_name = "VKEY")]
    pub(crate) witnesses: Vec<String>,
    /// How many of the --witness keys must have cosigned the checkpoint the bundle's inclusion
    /// proof leads to (default: all of them).
    #[arg(long, requires = "witnesses")]
    pub(crate) min_witnesses: Option<usize>,
    /// Artifacts larger than this many bytes are hashed as they are read instead of read whole.
    #[arg(long, hide = true, default_value_t = IN_MEMORY_LIMIT)]
    pub(crate) in_memory_limit: u64,
}

impl VerifyArgs {
    fn policy(&self) -> Result<Policy> {
        if let Some(path) = &self.key {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("reading the public key {}", path.display()))?;
            return Ok(Policy::Key(PublicKey::from_pem(&pem).with_context(
                || format!("{} is not a PEM public key", path.display()),
            )?));
        }
        let san = match (&self.cert_identity, &self.cert_identity_regexp) {
            (Some(exact), None) => Matcher::exact(exact),
            (None, Some(re)) => Matcher::regex(re).context("--cert-identity-regexp")?,
            _ => bail!(
                "say who must have signed: --cert-identity (or --cert-identity-regexp), or --key for a managed key"
            ),
        };
        let issuer = match (&self.cert_oidc_issuer, &self.cert_oidc_issuer_regexp) {
            (Some(exact), None) => Matcher::exact(exact),
            (None, Some(re)) => Matcher::regex(re).context("--cert-oidc-issuer-regexp")?,
            _ => bail!(
                "say which OIDC issuer must have vouched for the signer: --cert-oidc-issuer (or --cert-oidc-issuer-regexp)"
            ),
        };
        let mut extensions = Vec::new();
        for (ext, value) in [
            (CiExtension::SourceRepositoryUri, &self.source_repository),
            (CiExtension::SourceRepositoryRef, &self.source_ref),
            (CiExtension::SourceRepositoryDigest, &self.source_digest),
            (CiExtension::BuildSignerUri, &self.build_signer_uri),
            (CiExtension::RunnerEnvironment, &self.runner_environment),
        ] {
            if let Some(v) = value {
                extensions.push((ext, v.clone()));
            }
        }
        for spec in &self.cert_extensions {
            let (oid, value) = spec
                .split_once('=')
                .with_context(|| format!("--cert-extension {spec:?}: expected OID=VALUE"))?;
            let ext = CiExtension::from_oid_str(oid).with_context(|| {
                format!("--cert-extension: {oid} is not a Fulcio extension (1.3.6.1.4.1.57264.1.N)")
            })?;
            extensions.push((ext, value.to_owned()));
        }
        Ok(Policy::Identity(IdentityPolicy {
            san,
            issuer,
            extensions,
        }))
    }
}

/// `hallmark verify`.
pub(crate) fn verify(args: VerifyArgs) -> Result<()> {
    let policy = args.policy()?;
    if args.artifacts.len() > 1 && args.bundle.is_some() {
        bail!(
            "--bundle names one bundle: give one artifact, or leave --bundle out to use \
             FILE.sigstore.json beside each file"
        );
    }
    let root_path = match &args.trusted_root {
        Some(p) => p.clone(),
        None => args.trust.path()?,
    };
    let root_bytes = std::fs::read(&root_path)
        .with_context(|| format!("reading the trust root {}", root_path.display()))?;
    let root = TrustedRoot::from_json(&root_bytes)
        .with_context(|| format!("{} is not a usable trust root", root_path.display()))?;
    let targets: Vec<Option<&str>> = if args.artifacts.is_empty() {
        if !args.no_artifact {
            bail!(
                "name the artifact to verify (a file, or sha256:<hex>); to check only a DSSE \
                 bundle's signature and log entry, without its subjects, pass --no-artifact"
            );
        }
        vec![None]
    } else {
        args.artifacts.iter().map(|a| Some(a.as_str())).collect()
    };
    let mut failures = Vec::new();
    for artifact in &targets {
        let what = artifact.unwrap_or("the statement");
        let result = check_one(&args, *artifact, &root, &policy);
        if args.json {
            println!("{}", json_report(what, &result));
        } else if let Ok(verified) = &result {
            print_report(what, verified);
        }
        if let Err(e) = result {
            failures.push((what, e));
        }
    }
    match failures.len() {
        0 => Ok(()),
        // One artifact: its error is the command's error.
        1 if targets.len() == 1 => Err(failures.remove(0).1),
        n => {
            for (what, e) in &failures {
                eprintln!("error: {what}: {e:#}");
            }
            bail!("{n} of {} artifacts did not verify", targets.len())
        }
    }
}

/// A verification that ran and failed a check (as opposed to unreadable inputs).
#[derive(Debug)]
struct Failed(hallmark_verify::VerifyError);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "verification failed: {}", self.0)
    }
}

impl std::error::Error for Failed {}

/// Verifies one artifact (or a DSSE bundle alone).
fn check_one(
    args: &VerifyArgs,
    artifact: Option<&str>,
    root: &TrustedRoot,
    policy: &Policy,
) -> Result<Verified> {
    let bundle_path = match (&args.bundle, artifact) {
        (Some(b), _) => b.clone(),
        (None, Some(a)) if !a.starts_with("sha256:") => PathBuf::from(format!("{a}.sigstore.json")),
        _ => bail!("name the bundle with --bundle"),
    };
    let bundle_bytes = std::fs::read(&bundle_path)
        .with_context(|| format!("reading the bundle {}", bundle_path.display()))?;
    let bundle = Bundle::from_json(&bundle_bytes)
        .with_context(|| format!("{} is not a valid Sigstore bundle", bundle_path.display()))?;
    let data;
    let artifact_input = match artifact {
        None => None,
        Some(a) if a.starts_with("sha256:") => Some(Artifact::parse_digest(a)?),
        Some(a) => {
            let path = Path::new(a);
            let size = std::fs::metadata(path)
                .with_context(|| format!("reading the artifact {a}"))?
                .len();
            if size > args.in_memory_limit {
                Some(Artifact::Sha256(crate::sign_cmd::sha256_file(path)?))
            } else {
                data = std::fs::read(path).with_context(|| format!("reading the artifact {a}"))?;
                Some(Artifact::Bytes(&data))
            }
        }
    };
    let verified =
        hallmark_verify::verify(&bundle, artifact_input.as_ref(), root, policy, now_unix())
            .map_err(|e| anyhow::Error::from(Failed(e)))?;
    if !args.witnesses.is_empty() {
        check_witnesses(&bundle_bytes, &args.witnesses, args.min_witnesses)
            .with_context(|| format!("{}: witness policy", bundle_path.display()))?;
    }
    Ok(verified)
}

/// The witness policy (`--witness`, `--min-witnesses`): some log entry's checkpoint (whose log
/// signature and inclusion proof `verify` checked) carries valid `cosignature/v1` cosignatures
/// from at least `min` (default: all) of the witnesses `vkeys`.
fn check_witnesses(bundle_json: &[u8], vkeys: &[String], min: Option<usize>) -> Result<()> {
    use hallmark_tlog::cosignature::CosignatureVerifier;
    use hallmark_tlog::note::Note;
    let verifiers = vkeys
        .iter()
        .map(|v| CosignatureVerifier::from_vkey(v).with_context(|| format!("--witness {v:?}")))
        .collect::<Result<Vec<_>>>()?;
    let min = min.unwrap_or(verifiers.len());
    if min == 0 || min > verifiers.len() {
        bail!(
            "--min-witnesses must be between 1 and the number of --witness keys ({})",
            verifiers.len()
        );
    }
    let json: serde_json::Value =
        serde_json::from_slice(bundle_json).context("reading the bundle's log entries")?;
    let entries = json["verificationMaterial"]["tlogEntries"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut best: Vec<&str> = Vec::new();
    let mut problems = Vec::new();
    for envelope in entries
        .iter()
        .filter_map(|e| e["inclusionProof"]["checkpoint"]["envelope"].as_str())
    {
        let note = Note::parse(envelope).context("the bundle's checkpoint")?;
        let mut ok = Vec::new();
        for v in &verifiers {
            match v.verify(&note) {
                Ok(_) => ok.push(v.key_id().name()),
                Err(hallmark_tlog::Error::UnknownSigner { .. }) => {}
                Err(e) => problems.push(format!("{}: {e}", v.key_id().name())),
            }
        }
        if ok.len() >= min {
            return Ok(());
        }
        if ok.len() >= best.len() {
            best = ok;
        }
    }
    let names: Vec<&str> = verifiers.iter().map(|v| v.key_id().name()).collect();
    bail!(
        "the bundle's log checkpoint carries valid cosignatures from {} of the required witnesses          ({}), {min} needed (witnesses: {}){}; a log that publishes witnessed checkpoints          (log_v2.witnesses) puts them in the bundles it answers writes with",
        best.len(),
        if best.is_empty() {
            "none".to_owned()
        } else {
            best.join(", ")
        },
        names.join(", "),
        if problems.is_empty() {
            String::new()
        } else {
            format!("; invalid: {}", problems.join("; "))
        }
    )
}

/// The text report of a verified artifact.
fn print_report(what: &str, verified: &Verified) {
    match &verified.signer {
        Signer::Certificate { san, issuer, .. } => {
            println!("OK: {what} signed by {san} (issuer {issuer})");
        }
        Signer::Key { .. } => println!("OK: {what} signed by the given key"),
        _ => println!("OK: {what}"),
    }
    if let Signed::Dsse { payload_type, .. } = &verified.signed {
        println!("  DSSE payload type {payload_type}");
    }
    for e in &verified.entries {
        let time = e
            .integrated_time
            .map(|t| format!(", integrated {}", rfc3339(t)))
            .unwrap_or_default();
        println!("  log {} index {}{time}", e.log, e.log_index);
    }
}

/// The JSON report of one artifact, verified or not.
fn json_report(what: &str, result: &Result<Verified>) -> Value {
    let verified = match result {
        Ok(v) => v,
        Err(e) => {
            let check = e
                .downcast_ref::<Failed>()
                .and_then(|f| f.0.check())
                .map(|c| c.name());
            return json!({
                "artifact": what,
                "verified": false,
                "check": check,
                "error": format!("{e:#}"),
            });
        }
    };
    let signer = match &verified.signer {
        Signer::Certificate {
            san,
            issuer,
            authority,
            ..
        } => json!({ "identity": san, "issuer": issuer, "authority": authority }),
        Signer::Key { spki_der } => json!({ "key": STANDARD.encode(spki_der) }),
        _ => Value::Null,
    };
    let signed = match &verified.signed {
        Signed::Artifact { algorithm, digest } => {
            json!({ "digest": format!("{}:{}", algorithm.name(), hex::encode(digest)) })
        }
        Signed::Dsse { payload_type, .. } => json!({ "payloadType": payload_type }),
        _ => Value::Null,
    };
    let times: Vec<Value> = verified
        .signing_times
        .iter()
        .map(|t| {
            let source = match &t.source {
                TimeSource::TransparencyLog { log } => json!({ "log": log }),
                TimeSource::TimestampAuthority { authority } => {
                    json!({ "timestampAuthority": authority })
                }
                _ => Value::Null,
            };
            json!({ "time": rfc3339(t.unix), "source": source })
        })
        .collect();
    let entries: Vec<Value> = verified
        .entries
        .iter()
        .map(|e| {
            json!({
                "log": e.log,
                "logIndex": e.log_index,
                "kind": e.kind,
                "version": e.version,
                "integratedTime": e.integrated_time.map(rfc3339),
            })
        })
        .collect();
    json!({
        "artifact": what,
        "verified": true,
        "signer": signer,
        "signed": signed,
        "signingTimes": times,
        "entries": entries,
    })
}

/// RFC 3339 text of a verified time. Verified times come from a SET (an unsigned integrated
/// time no later than now) or an RFC 3161 `genTime` (read through `der::DateTime`), so they lie
/// in 1970..=9999; anything else is shown as its Unix seconds rather than hidden.
fn rfc3339(unix: i64) -> String {
    hallmark_sigstore::rfc3339(unix).unwrap_or_else(|_| unix.to_string())
}
