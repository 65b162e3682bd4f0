//! `hallmark sign` and `hallmark attest`: keyless signing against Hallmark (or any Sigstore
//! deployment speaking the Fulcio v2 and Rekor v1 APIs), writing Sigstore bundles v0.3.
//!
//! For each file: SHA-256 of the file, an ECDSA signature over it with the session's ephemeral
//! key, then one of:
//! - Rekor v1: a `hashedrekord` 0.0.1 entry, and a bundle from the log's answer (SET, inclusion
//!   proof, checkpoint);
//! - Rekor v2 (the default when the signing config offers a v2 log and a timestamp authority): an
//!   RFC 3161 timestamp over the signature from the timestamp authority, a `hashedRekordRequestV002`
//!   entry, and a bundle with the log's entry (inclusion proof in a signed checkpoint, no SET) and
//!   the timestamp, which is the bundle's trusted signing time.
//!
//! Each bundle is verified offline against the trust root before it is written, so a misbehaving
//! server (bad proof, bad SET or timestamp, foreign CA) is caught at signing time. `attest` wraps
//! an in-toto Statement v1 in a DSSE envelope and logs a `dsse` 0.0.1 entry (v1) or a
//! hashedrekord over SHA-256 of the envelope's PAE (v2, as sigstore-python and cosign do).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use hallmark_sigstore::body::Body as EntryBody;
use hallmark_sigstore::body::v2::Verifier as V2Verifier;
use hallmark_sigstore::bundle::{
    Bundle, BundleContent, Envelope, MessageSignature, Rfc3161SignedTimestamp,
    TimestampVerificationData, TransparencyLogEntry,
};
use hallmark_sigstore::intoto::{ResourceDescriptor, Statement};
use hallmark_sigstore::protojson::{Base64, Int64};
use hallmark_sigstore::rekor_v2::CreateEntryRequest;
use hallmark_sigstore::rfc3161::{ParsedResponse, TimestampRequest};
use hallmark_verify::{IdentityPolicy, Matcher, Policy};
use serde_json::Value;
use signature::hazmat::PrehashSigner as _;

use crate::client::{Session, SignerArgs, TrustConfig, now_unix};

/// The DSSE payload type of in-toto statements (the spec layer's).
pub(crate) use hallmark_sigstore::intoto::statement::PAYLOAD_TYPE as INTOTO_PAYLOAD_TYPE;

#[derive(Debug, Args)]
pub(crate) struct SignArgs {
    #[command(flatten)]
    pub(crate) signer: SignerArgs,
    /// Write the bundle here (one file only). Default: FILE.sigstore.json beside each file.
    #[arg(long)]
    pub(crate) bundle: Option<PathBuf>,
    /// Replace existing bundles.
    #[arg(long)]
    pub(crate) overwrite: bool,
    /// The files to sign.
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct AttestArgs {
    #[command(flatten)]
    pub(crate) signer: SignerArgs,
    /// The predicate (a JSON file) to wrap in an in-toto Statement v1 about the subject files.
    #[arg(long, requires = "predicate_type", conflicts_with = "statement")]
    pub(crate) predicate: Option<PathBuf>,
    /// The predicate type URI, e.g. https://slsa.dev/provenance/v1 or
    /// https://in-toto.io/attestation/link/v0.3.
    #[arg(long = "type", id = "predicate_type")]
    pub(crate) predicate_type: Option<String>,
    /// Sign this complete in-toto Statement v1 (a JSON file) as it is.
    #[arg(long)]
    pub(crate) statement: Option<PathBuf>,
    /// Write the bundle here. Default: the first subject's FILE.sigstore.json, or
    /// STATEMENT.sigstore.json with --statement.
    #[arg(long)]
    pub(crate) bundle: Option<PathBuf>,
    /// Replace an existing bundle.
    #[arg(long)]
    pub(crate) overwrite: bool,
    /// The subjects (artifact files) of the statement built from --predicate.
    pub(crate) subjects: Vec<PathBuf>,
}

/// What one signature covers.
pub(crate) enum Content {
    /// A SHA-256 digest (of a file).
    Digest([u8; 32]),
    /// A DSSE envelope's payload.
    Dsse {
        payload_type: String,
        payload: Vec<u8>,
    },
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// `hallmark sign`.
pub(crate) fn sign(args: SignArgs) -> Result<()> {
    ensure!(
        args.bundle.is_none() || args.files.len() == 1,
        "--bundle names one bundle, but {} files were given: drop --bundle to write FILE.sigstore.json beside each",
        args.files.len()
    );
    let outputs: Vec<PathBuf> = match &args.bundle {
        Some(b) => vec![b.clone()],
        None => args.files.iter().map(|f| bundle_beside(f)).collect(),
    };
    for (file, out) in args.files.iter().zip(&outputs) {
        ensure!(file.is_file(), "{} is not a readable file", file.display());
        ensure!(
            args.overwrite || !out.exists(),
            "{} exists: pass --overwrite to replace it",
            out.display()
        );
    }
    let trust = args.signer.trust.load()?;
    let session = Arc::new(Session::new(
        args.signer.endpoints(&trust)?,
        args.signer.token.acquire_options(Some(&trust)),
    )?);
    let trust = Arc::new(trust);
    let start = Instant::now();
    let files: Vec<(PathBuf, PathBuf)> = args.files.into_iter().zip(outputs).collect();
    let n = files.len();
    let parallel = args.signer.parallel.max(1);
    runtime()?.block_on(async move {
        let limit = Arc::new(tokio::sync::Semaphore::new(parallel));
        let same = SameContent::default();
        let mut tasks = tokio::task::JoinSet::new();
        for (file, out) in files {
            let (session, trust, limit, same) =
                (session.clone(), trust.clone(), limit.clone(), same.clone());
            tasks.spawn(async move {
                let _permit = limit.acquire().await;
                let result = sign_file(&session, &trust, &same, &file, &out).await;
                (file, out, result)
            });
        }
        let mut failed = 0usize;
        while let Some(joined) = tasks.join_next().await {
            let (file, out, result) = joined.context("a signing task failed")?;
            match result {
                Ok(index) => println!(
                    "signed {} -> {} (log index {index})",
                    file.display(),
                    out.display()
                ),
                Err(e) => {
                    failed += 1;
                    eprintln!("error: signing {}: {e:#}", file.display());
                }
            }
        }
        let certs = session
            .certificates
            .load(std::sync::atomic::Ordering::Relaxed);
        let secs = start.elapsed().as_secs_f64();
        let done = n - failed;
        // A rate means something over many files, not over one that waited for a login.
        let rate = if done >= 10 {
            format!(" ({:.0}/s)", done as f64 / secs.max(1e-9))
        } else {
            String::new()
        };
        eprintln!("{done} of {n} file(s) signed in {secs:.2} s{rate} with {certs} certificate(s)");
        ensure!(failed == 0, "{failed} of {n} file(s) could not be signed");
        Ok(())
    })
}

/// `FILE.sigstore.json` beside `file`.
fn bundle_beside(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".sigstore.json");
    PathBuf::from(name)
}

/// SHA-256 of a file, streamed, off the async executor.
async fn file_sha256(path: &Path) -> Result<[u8; 32]> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || sha256_file(&path))
        .await
        .context("hashing task failed")?
}

/// SHA-256 of a file, streamed (the recorder's hashing, one reused buffer per thread).
pub(crate) fn sha256_file(path: &Path) -> Result<[u8; 32]> {
    Ok(hallmark_intoto::hash::sha256_file(path, false)?)
}

/// Files of one invocation with the same content share one signature and log entry: the
/// session's key signs deterministically (RFC 6979), so a second entry would be the first one
/// again, which a Rekor v2 log answers with 409 and cannot hand back. Per digest: the first
/// bundle written and its log index (the bundle itself is read back from that file, so memory
/// does not grow with the number of files).
type SameContent =
    Arc<std::sync::Mutex<HashMap<[u8; 32], Arc<tokio::sync::OnceCell<(PathBuf, u64)>>>>>;

async fn sign_file(
    session: &Session,
    trust: &TrustConfig,
    same: &SameContent,
    file: &Path,
    out: &Path,
) -> Result<u64> {
    let digest = file_sha256(file).await?;
    let cell = same
        .lock()
        .map_err(|_| anyhow::anyhow!("a signing task panicked"))?
        .entry(digest)
        .or_default()
        .clone();
    let (first, index) = cell
        .get_or_try_init(|| async {
            let signed = sign_content(session, trust, &Content::Digest(digest)).await?;
            write_bundle(out, &signed.bundle)?;
            Ok::<_, anyhow::Error>((out.to_path_buf(), signed.log_index))
        })
        .await?;
    if first != out {
        let bundle = std::fs::read(first)
            .with_context(|| format!("reading {} (same content)", first.display()))?;
        write_bundle(out, &bundle)?;
    }
    Ok(*index)
}

/// A signature made, logged and verified by [`sign_content`].
#[derive(Debug)]
pub(crate) struct Signed {
    /// The Sigstore bundle v0.3, JSON.
    pub(crate) bundle: Vec<u8>,
    /// Its log index.
    pub(crate) log_index: u64,
    /// The signature (ECDSA, DER), over the digest or the DSSE PAE.
    pub(crate) signature: Vec<u8>,
    /// The signer's certificate identity, as the bundle verified.
    pub(crate) signer: hallmark_verify::Signer,
}

/// Signs, logs, builds the bundle and verifies it against the trust root.
pub(crate) async fn sign_content(
    session: &Session,
    trust: &TrustConfig,
    content: &Content,
) -> Result<Signed> {
    let cred = session.credential().await?;
    // The signature, the v1 entry, and the digest a v2 entry names (of the file, or of the
    // DSSE envelope's PAE: Rekor v2 logs envelopes as hashedrekord).
    let (signature, proposed, bundle_content, signed_digest) = match content {
        Content::Digest(digest) => {
            let sig: p256::ecdsa::Signature = cred
                .key
                .sign_prehash(digest)
                .context("signing the digest")?;
            let sig = sig.to_der();
            (
                sig.as_bytes().to_vec(),
                EntryBody::hashedrekord(
                    sig.as_bytes(),
                    cred.cert_pem.as_bytes(),
                    hallmark_sigstore::HashAlgorithm::Sha256,
                    digest,
                )
                .to_json()?,
                BundleContent::MessageSignature(MessageSignature::new(
                    hallmark_sigstore::HashAlgorithm::Sha256,
                    digest,
                    sig.as_bytes(),
                )),
                *digest,
            )
        }
        Content::Dsse {
            payload_type,
            payload,
        } => {
            let pae = hallmark_sigstore::dsse_pae(payload_type, payload);
            let sig: p256::ecdsa::DerSignature = signature::Signer::try_sign(&cred.key, &pae)
                .context("signing the DSSE envelope")?;
            let envelope = Envelope::new(payload_type, payload, sig.as_bytes());
            (
                sig.as_bytes().to_vec(),
                EntryBody::dsse(&envelope, &[cred.cert_pem.as_bytes()])?.to_json()?,
                BundleContent::Dsse(envelope),
                hallmark_sigstore::crypto::sha256(&pae),
            )
        }
    };
    let (index, json) = if session.endpoints().rekor_version == 2 {
        // Rekor v2 signs no entry timestamp: the signing time comes from the timestamp
        // authority, over the signature, asked first.
        let timestamp = timestamp_signature(session, &signature).await?;
        let request = CreateEntryRequest::hashed_rekord(
            &signed_digest,
            &signature,
            V2Verifier::certificate(&cred.cert_der, hallmark_sigstore::KeyType::EcdsaP256),
        )
        .to_json()?;
        let tlog_entry = session.create_entry_v2(request).await?;
        let index = tlog_entry
            .log_index
            .and_then(Int64::unsigned)
            .context("the log's answer has no log index")?;
        let mut bundle = Bundle::v0_3(&cred.cert_der, bundle_content, tlog_entry);
        if let Some(vm) = bundle.verification_material.as_mut() {
            vm.timestamp_verification_data = Some(TimestampVerificationData {
                rfc3161_timestamps: vec![Rfc3161SignedTimestamp {
                    signed_timestamp: Some(Base64::encode(&timestamp)),
                }],
            });
        }
        (index, bundle.to_json()?)
    } else {
        let entry = session.create_entry(proposed).await?;
        let tlog_entry = TransparencyLogEntry::from_rekor_v1(&entry)
            .context("the log's answer cannot go into a bundle")?;
        (
            entry.log_index,
            Bundle::v0_3(&cred.cert_der, bundle_content, tlog_entry).to_json()?,
        )
    };
    let verified = check_bundle(trust, &json, content)?;
    Ok(Signed {
        bundle: json,
        log_index: index,
        signature,
        signer: verified.signer,
    })
}

/// An RFC 3161 timestamp (the DER `TimeStampResp`) over SHA-256 of `signature`, with a fresh
/// nonce and the authority's certificate asked for; the answer's status and nonce are checked
/// here, its signature with the bundle.
async fn timestamp_signature(session: &Session, signature: &[u8]) -> Result<Vec<u8>> {
    let digest = hallmark_sigstore::crypto::sha256(signature);
    let mut request = TimestampRequest::new(hallmark_sigstore::HashAlgorithm::Sha256, &digest)
        .context("building the timestamp request")?;
    let mut nonce = [0u8; 8];
    aws_lc_rs::rand::fill(&mut nonce).context("drawing a nonce")?;
    request.nonce = Some(
        der::asn1::Uint::new(&nonce)
            .map(der::asn1::Int::from)
            .context("encoding the nonce")?,
    );
    request.cert_req = true;
    let answer = session
        .timestamp(request.to_der().context("encoding the timestamp request")?)
        .await?;
    let parsed = ParsedResponse::from_der(&answer)
        .context("the timestamp authority's answer is not an RFC 3161 TimeStampResp")?;
    let tst = parsed.tst_info.as_ref().with_context(|| {
        format!(
            "the timestamp authority refused the request (status {}, failure bits {:?})",
            parsed.status, parsed.fail_bits
        )
    })?;
    ensure!(
        tst.nonce == request.nonce,
        "the timestamp authority's answer does not echo our nonce"
    );
    Ok(answer)
}

/// Verifies a freshly made bundle offline against the trust root (any identity: the point is
/// the log's and the CA's answers).
fn check_bundle(
    trust: &TrustConfig,
    bundle_json: &[u8],
    content: &Content,
) -> Result<hallmark_verify::Verified> {
    static ANY_SIGNER: std::sync::OnceLock<Option<Policy>> = std::sync::OnceLock::new();
    let parsed = hallmark_verify::Bundle::from_json(bundle_json)
        .context("the bundle just built does not parse")?;
    let policy = ANY_SIGNER
        .get_or_init(|| {
            Some(Policy::Identity(IdentityPolicy {
                san: Matcher::regex(".*").ok()?,
                issuer: Matcher::regex(".*").ok()?,
                extensions: Vec::new(),
            }))
        })
        .as_ref()
        .context("building the any-signer policy")?;
    let artifact = match content {
        Content::Digest(d) => Some(hallmark_verify::Artifact::Sha256(*d)),
        Content::Dsse { .. } => None,
    };
    hallmark_verify::verify(&parsed, artifact.as_ref(), &trust.root, policy, now_unix())
        .context("the server's answer does not verify against the trust root")
}

/// Writes the bundle JSON to `out` atomically (a temporary file beside it, then a rename).
pub(crate) fn write_bundle(out: &Path, bundle_json: &[u8]) -> Result<()> {
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bundle_json)
        .with_context(|| format!("writing a file in {}", dir.display()))?;
    tmp.persist(out)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(())
}

/// `hallmark attest`.
pub(crate) fn attest(args: AttestArgs) -> Result<()> {
    let (statement, default_out) = match (&args.statement, &args.predicate) {
        (Some(path), None) => {
            ensure!(
                args.subjects.is_empty(),
                "--statement signs a complete statement: its subjects are inside it, drop the file arguments"
            );
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            Statement::parse(&bytes)
                .with_context(|| format!("{} is not an in-toto Statement v1", path.display()))?;
            (bytes, bundle_beside(path))
        }
        (None, Some(path)) => {
            let first = args
                .subjects
                .first()
                .context("name the artifact file(s) the predicate is about")?;
            let predicate: Value = serde_json::from_slice(
                &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
            )
            .with_context(|| format!("the predicate {} is not JSON", path.display()))?;
            let Some(predicate_type) = &args.predicate_type else {
                bail!("--predicate needs --type (the predicate type URI)");
            };
            let statement = build_statement(&args.subjects, predicate_type, predicate)?;
            (statement.to_json()?, bundle_beside(first))
        }
        _ => bail!("give either --predicate FILE --type URI SUBJECT... or --statement FILE"),
    };
    let out = args.bundle.clone().unwrap_or(default_out);
    ensure!(
        args.overwrite || !out.exists(),
        "{} exists: pass --overwrite to replace it",
        out.display()
    );
    let index = attest_statement(&args.signer, statement, &out)?;
    println!("attested -> {} (log index {index})", out.display());
    Ok(())
}

/// An in-toto Statement v1 with a SHA-256 subject per file (named by its file name).
fn build_statement(
    subjects: &[PathBuf],
    predicate_type: &str,
    predicate: Value,
) -> Result<Statement> {
    let subjects = subjects
        .iter()
        .map(|p| -> Result<ResourceDescriptor> {
            let digest = sha256_file(p)?;
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| p.display().to_string());
            Ok(ResourceDescriptor::artifact(
                name,
                [("sha256".to_owned(), hex::encode(digest))].into(),
            ))
        })
        .collect::<Result<_>>()?;
    Ok(Statement::new(subjects, predicate_type, predicate))
}

/// Signs a complete in-toto `statement` keylessly as `hallmark attest --statement` does (DSSE,
/// logged, the bundle verified before it is written) and writes the bundle to `out`. Returns
/// the log index. (`intoto verify --vsa` signs its summary with it.)
pub(crate) fn attest_statement(signer: &SignerArgs, statement: Vec<u8>, out: &Path) -> Result<u64> {
    Statement::parse(&statement).context("the statement to sign is not an in-toto Statement v1")?;
    let trust = signer.trust.load()?;
    let session = Session::new(
        signer.endpoints(&trust)?,
        signer.token.acquire_options(Some(&trust)),
    )?;
    let content = Content::Dsse {
        payload_type: INTOTO_PAYLOAD_TYPE.to_owned(),
        payload: statement,
    };
    let signed = runtime()?.block_on(sign_content(&session, &trust, &content))?;
    write_bundle(out, &signed.bundle)?;
    Ok(signed.log_index)
}
