//! `hallmark intoto run`, `record start|stop` and `sign-layout`.
//!
//! Recording follows in-toto-python 3.1.0 (`hallmark_intoto`); what is written:
//!
//! - keyless (default): `<step>.<keyid8>.link.sigstore.json`, a Sigstore bundle v0.3 whose
//!   DSSE envelope holds the link as an in-toto Statement v1 (link predicate v0.3, products as
//!   subjects), logged, verified against the trust root before it is written; with
//!   `--classic` also `<step>.<keyid8>.link`, the classic Metablock whose signature carries
//!   its own bundle: a DSSE envelope of type [`SIGNED_PAYLOAD_TYPE`] whose payload is the
//!   canonical `signed` bytes (a second, `dsse`, log entry made with the same certificate; not
//!   a message signature, which any blob signer could have made over the same bytes), `sig`
//!   being the envelope's signature. The key id is that of the layout's `hallmark-oidc` key the
//!   signer satisfies (`--layout`), else that of the signer's exact-identity key.
//! - `--key PEM`: `<step>.<keyid8>.link` signed as in-toto-python signs, not logged.
//!
//! Exit status of `run`, as in-toto-run: the link is written even when the command fails, and
//! then `run` exits with the command's exit code; a command that cannot be started (not found)
//! is an error and nothing is written. Unlike in-toto-run there is no 10-second default
//! timeout (`--run-timeout` sets one), and without `--record-streams` the command's output
//! goes to the terminal instead of being discarded (the link records empty strings either way).
//!
//! `sign-layout` without `--key` signs the layout's canonical `signed` bytes the same way.
//!
//! `record start` writes the unfinished link `.<step>.<keyid8>.link-unfinished` (signed, with
//! `--key`, as in-toto-record) or `.<step>.link-unfinished` (keyless: unsigned; only the
//! finished link is signed) in the metadata directory; `record stop` reads it back (checking
//! the signature with `--key`), records the products, signs, and removes it. Keyless, nothing
//! protects the unfinished file between the two: code run during the step that can write the
//! metadata directory can change the materials `stop` will sign. Keep that directory out of
//! the step's reach (in-toto-record's signed file protects only against a step that cannot
//! read the key, and a keyless step holds its token).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use clap::{Args, Subcommand};
use hallmark_intoto::{ExcludeSet, LstripPaths, RecordOptions, SkipReason, run_command};
use hallmark_sigstore::intoto::{
    Layout, LayoutKey, Link, Metablock, OidcFunctionary, SIGNED_PAYLOAD_TYPE, Signature,
    SignedLayout, SignedLink, TextMatch, TrustRootRef, link_file_name,
};
use serde_json::{Map, Value};

use super::classic_key::ClassicKey;
use crate::client::{Session, SignerArgs, TrustConfig};
use crate::sign_cmd::{Content, INTOTO_PAYLOAD_TYPE, runtime, sign_content, write_bundle};

/// How artifacts are recorded (in-toto-run's options).
#[derive(Debug, Args)]
pub(crate) struct RecordingArgs {
    /// Gitignore-style patterns of paths not to record. Given, they replace in-toto's
    /// defaults (*.link*, .git, *.pyc, *~).
    #[arg(long = "exclude", num_args = 1.., value_name = "PATTERN")]
    exclude: Vec<String>,
    /// Record paths relative to this directory (not part of the recorded names).
    #[arg(long, value_name = "DIR")]
    base_path: Option<PathBuf>,
    /// Strip these prefixes from recorded names (none may be a prefix of another).
    #[arg(long, num_args = 1.., value_name = "PREFIX")]
    lstrip_paths: Vec<String>,
    /// Walk symlinks to directories: the default, as in-toto-run and in-toto-record do.
    #[arg(long, overrides_with = "no_follow_symlink_dirs")]
    follow_symlink_dirs: bool,
    /// Do not walk symlinks to directories.
    #[arg(long)]
    no_follow_symlink_dirs: bool,
    /// Hash CRLF and CR line endings as LF.
    #[arg(long)]
    normalize_line_endings: bool,
}

impl RecordingArgs {
    fn options(&self) -> Result<RecordOptions> {
        let exclude = if self.exclude.is_empty() {
            ExcludeSet::in_toto_defaults()
        } else {
            ExcludeSet::new(&self.exclude)?
        };
        Ok(RecordOptions {
            exclude,
            base_path: self.base_path.clone(),
            follow_symlink_dirs: !self.no_follow_symlink_dirs,
            normalize_line_endings: self.normalize_line_endings,
            lstrip_paths: LstripPaths::new(self.lstrip_paths.clone())?,
            threads: 0,
        })
    }
}

/// How the link is signed and where it goes.
#[derive(Debug, Args)]
pub(crate) struct LinkSigningArgs {
    /// Sign with this classic key (PEM PKCS#8: Ed25519, ECDSA P-256/P-384, RSA) as
    /// in-toto-python does, instead of keylessly. Nothing is logged.
    #[arg(long, value_name = "PEM")]
    key: Option<PathBuf>,
    /// Also write the keyless classic link <step>.<keyid8>.link (for in-toto-python with
    /// Hallmark's plugin).
    #[arg(long, conflicts_with = "key")]
    classic: bool,
    /// The layout the link is for: its key id is that of the layout's hallmark-oidc key for
    /// this step that the signer's identity satisfies.
    #[arg(long, value_name = "LAYOUT", conflicts_with = "key")]
    layout: Option<PathBuf>,
    /// Write the link (and keep record start's state) in this directory.
    #[arg(short = 'd', long, value_name = "DIR", default_value = ".")]
    metadata_directory: PathBuf,
    /// Replace existing link files.
    #[arg(long)]
    overwrite: bool,
    #[command(flatten)]
    signer: SignerArgs,
}

/// What the link records about the environment.
#[derive(Debug, Args)]
pub(crate) struct EnvironmentArgs {
    /// Record the working directory (`environment.workdir`, as in-toto's record_environment).
    #[arg(long)]
    record_environment: bool,
    /// Record these environment variables (`environment.variables.NAME`); each must be set.
    #[arg(long = "env", num_args = 1.., value_name = "NAME")]
    env: Vec<String>,
}

impl EnvironmentArgs {
    fn environment(&self) -> Result<Map<String, Value>> {
        let mut env = Map::new();
        if self.record_environment {
            let cwd = std::env::current_dir().context("reading the working directory")?;
            let cwd = cwd
                .to_str()
                .context("the working directory is not UTF-8")?
                .replace('\\', "/");
            env.insert("workdir".into(), cwd.into());
        }
        if !self.env.is_empty() {
            let mut vars = Map::new();
            for name in &self.env {
                let value = std::env::var(name).with_context(|| {
                    format!("--env {name}: the variable is not set (or not UTF-8)")
                })?;
                vars.insert(name.clone(), value.into());
            }
            env.insert("variables".into(), Value::Object(vars));
        }
        Ok(env)
    }
}

/// `hallmark intoto run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The step's name (as the layout names it).
    #[arg(short = 'n', long)]
    step_name: String,
    /// Paths to record before the command (directories are walked).
    #[arg(short = 'm', long, num_args = 1.., value_name = "PATH")]
    materials: Vec<String>,
    /// Paths to record after the command.
    #[arg(short = 'p', long, num_args = 1.., value_name = "PATH")]
    products: Vec<String>,
    /// Show and record the command's standard output and error.
    #[arg(short = 's', long)]
    record_streams: bool,
    /// Run no command: record materials and products only.
    #[arg(short = 'x', long, conflicts_with = "command")]
    no_command: bool,
    /// Kill the command after this many seconds (default: no limit).
    #[arg(long, value_name = "SECONDS")]
    run_timeout: Option<f64>,
    #[command(flatten)]
    environment: EnvironmentArgs,
    #[command(flatten)]
    recording: RecordingArgs,
    #[command(flatten)]
    signing: LinkSigningArgs,
    /// The command and its arguments, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<String>,
}

/// `hallmark intoto record`.
#[derive(Debug, Subcommand)]
pub(crate) enum RecordCommand {
    /// Record the materials before the step.
    Start(RecordStartArgs),
    /// Record the products after the step and sign the link.
    Stop(RecordStopArgs),
}

/// `hallmark intoto record start`.
#[derive(Debug, Args)]
pub(crate) struct RecordStartArgs {
    /// The step's name.
    #[arg(short = 'n', long)]
    step_name: String,
    /// Paths to record now.
    #[arg(short = 'm', long, num_args = 1.., value_name = "PATH")]
    materials: Vec<String>,
    #[command(flatten)]
    environment: EnvironmentArgs,
    #[command(flatten)]
    recording: RecordingArgs,
    #[command(flatten)]
    signing: LinkSigningArgs,
}

/// `hallmark intoto record stop`.
#[derive(Debug, Args)]
pub(crate) struct RecordStopArgs {
    /// The step's name.
    #[arg(short = 'n', long)]
    step_name: String,
    /// Paths to record now.
    #[arg(short = 'p', long, num_args = 1.., value_name = "PATH")]
    products: Vec<String>,
    #[command(flatten)]
    recording: RecordingArgs,
    #[command(flatten)]
    signing: LinkSigningArgs,
}

/// `hallmark intoto sign-layout`.
#[derive(Debug, Args)]
pub(crate) struct SignLayoutArgs {
    /// The layout: a bare layout (`{"_type": "layout", ...}`) or a signed one (a signature is
    /// added; one by the same key is replaced).
    layout: PathBuf,
    /// Where to write the signed layout.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Sign with this classic key (PEM PKCS#8) instead of keylessly.
    #[arg(long, value_name = "PEM")]
    key: Option<PathBuf>,
    /// Replace --out if it exists.
    #[arg(long)]
    overwrite: bool,
    #[command(flatten)]
    signer: SignerArgs,
}

fn record_paths(
    what: &str,
    paths: &[String],
    options: &RecordOptions,
) -> Result<hallmark_sigstore::intoto::Artifacts> {
    let r = hallmark_intoto::record_artifacts(paths, options)
        .with_context(|| format!("recording the {what}"))?;
    for s in &r.skipped {
        let why = match s.reason {
            SkipReason::Missing => "does not exist",
            SkipReason::BrokenSymlink => "is a broken symlink",
            SkipReason::NotRegular => "is not a regular file",
        };
        eprintln!(
            "warning: {what}: {} {why}: not recorded (as in-toto-run)",
            s.path
        );
    }
    Ok(r.artifacts)
}

/// `hallmark intoto run`.
pub(crate) fn run(args: RunArgs) -> Result<()> {
    ensure!(
        args.no_command || !args.command.is_empty(),
        "no command given: put it after `--` (or pass --no-command to record only)"
    );
    let options = args.recording.options()?;
    let signing = Signing::prepare(&args.signing)?;
    signing.check_outputs(&args.step_name)?;
    let environment = args.environment.environment()?;
    let mut link = Link::new(args.step_name.clone());
    link.materials = record_paths("materials", &args.materials, &options)?;
    let mut return_value = 0;
    if !args.no_command {
        let timeout = args
            .run_timeout
            .map(Duration::try_from_secs_f64)
            .transpose()
            .context("--run-timeout must be a positive number of seconds")?;
        let b = run_command(&args.command, args.record_streams, timeout)?;
        return_value = b.return_value;
        link.command.clone_from(&args.command);
        link.byproducts = b.to_map();
    }
    link.products = record_paths("products", &args.products, &options)?;
    link.environment = environment;
    for path in signing.finish(&link)? {
        println!("wrote {}", path.display());
    }
    if return_value != 0 {
        eprintln!(
            "the command exited with {return_value}: the link records it; exiting with it (as in-toto-run)"
        );
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        std::process::exit(return_value);
    }
    Ok(())
}

/// `hallmark intoto record start|stop`.
pub(crate) fn record(command: RecordCommand) -> Result<()> {
    match command {
        RecordCommand::Start(a) => record_start(a),
        RecordCommand::Stop(a) => record_stop(a),
    }
}

fn unfinished_path(dir: &Path, step: &str, key: Option<&ClassicKey>) -> PathBuf {
    dir.join(match key {
        Some(k) => format!(".{step}.{}.link-unfinished", short(k.keyid())),
        None => format!(".{step}.link-unfinished"),
    })
}

fn short(keyid: &str) -> &str {
    keyid.get(..8).unwrap_or(keyid)
}

fn record_start(args: RecordStartArgs) -> Result<()> {
    let options = args.recording.options()?;
    let key = args
        .signing
        .key
        .as_deref()
        .map(ClassicKey::load)
        .transpose()?;
    let mut link = Link::new(args.step_name.clone());
    link.materials = record_paths("materials", &args.materials, &options)?;
    link.environment = args.environment.environment()?;
    let mut block = Metablock::new(link);
    if let Some(k) = &key {
        k.sign_metablock(&mut block)?;
    }
    let path = unfinished_path(
        &args.signing.metadata_directory,
        &args.step_name,
        key.as_ref(),
    );
    write_json(&path, &block, true)?;
    println!("wrote {}", path.display());
    Ok(())
}

fn record_stop(args: RecordStopArgs) -> Result<()> {
    let options = args.recording.options()?;
    let signing = Signing::prepare(&args.signing)?;
    let key = match &signing {
        Signing::Key { key, .. } => Some(key),
        Signing::Keyless { .. } => None,
    };
    let unfinished = unfinished_path(&args.signing.metadata_directory, &args.step_name, key);
    let bytes = std::fs::read(&unfinished).with_context(|| {
        format!(
            "reading {} (run `hallmark intoto record start --step-name {}` first, with the same --key and --metadata-directory)",
            unfinished.display(),
            args.step_name
        )
    })?;
    let block = SignedLink::parse(&bytes)
        .with_context(|| format!("{} is not an unfinished link", unfinished.display()))?;
    if let Some(k) = key {
        block
            .verify_signature(k.keyid(), k.public())
            .with_context(|| format!("{} was not signed by this key", unfinished.display()))?;
    }
    ensure!(
        block.signed.name == args.step_name,
        "{} records step {:?}, not {:?}",
        unfinished.display(),
        block.signed.name,
        args.step_name
    );
    signing.check_outputs(&args.step_name)?;
    let mut link = block.signed;
    link.products = record_paths("products", &args.products, &options)?;
    for path in signing.finish(&link)? {
        println!("wrote {}", path.display());
    }
    std::fs::remove_file(&unfinished)
        .with_context(|| format!("removing {}", unfinished.display()))?;
    Ok(())
}

/// A prepared signer for links.
enum Signing<'a> {
    Key {
        key: ClassicKey,
        args: &'a LinkSigningArgs,
    },
    Keyless {
        trust: TrustConfig,
        trust_ref: TrustRootRef,
        layout: Option<Layout>,
        args: &'a LinkSigningArgs,
    },
}

impl<'a> Signing<'a> {
    fn prepare(args: &'a LinkSigningArgs) -> Result<Self> {
        let dir = &args.metadata_directory;
        ensure!(
            dir.is_dir(),
            "the metadata directory {} is not a directory",
            dir.display()
        );
        if let Some(k) = &args.key {
            return Ok(Signing::Key {
                key: ClassicKey::load(k)?,
                args,
            });
        }
        let (trust, trust_ref) = load_trust(&args.signer)?;
        let layout = match &args.layout {
            Some(p) => Some(read_layout(p)?),
            None => None,
        };
        Ok(Signing::Keyless {
            trust,
            trust_ref,
            layout,
            args,
        })
    }

    /// Fails early when a file this signer would write exists (the key id, and so the file
    /// name, is known beforehand with --key only; keyless names are checked again at the end).
    fn check_outputs(&self, step: &str) -> Result<()> {
        if let Signing::Key { key, args } = self {
            let path = args
                .metadata_directory
                .join(link_file_name(step, key.keyid()));
            refuse_existing(&path, args.overwrite)?;
        }
        Ok(())
    }

    /// Signs `link` and writes the files; returns their paths.
    fn finish(&self, link: &Link) -> Result<Vec<PathBuf>> {
        link.validate().context("the recorded link")?;
        match self {
            Signing::Key { key, args } => {
                let mut block = Metablock::new(link.clone());
                key.sign_metablock(&mut block)?;
                let path = args
                    .metadata_directory
                    .join(link_file_name(&link.name, key.keyid()));
                write_json(&path, &block, args.overwrite)?;
                Ok(vec![path])
            }
            Signing::Keyless {
                trust,
                trust_ref,
                layout,
                args,
            } => sign_keyless(link, trust, *trust_ref, layout.as_ref(), args),
        }
    }
}

fn sign_keyless(
    link: &Link,
    trust: &TrustConfig,
    trust_ref: TrustRootRef,
    layout: Option<&Layout>,
    args: &LinkSigningArgs,
) -> Result<Vec<PathBuf>> {
    let statement = link.to_statement();
    ensure!(
        !statement.subject.is_empty(),
        "step {:?} recorded no products: a keyless link is an in-toto Statement, which needs at least one subject (product); record some with --products",
        link.name
    );
    let candidates = match layout {
        Some(l) => Some(layout_candidates(l, &link.name, trust_ref)?),
        None => None,
    };
    let payload = statement.to_json()?;
    let signer = &args.signer;
    let session = Session::new(
        signer.endpoints(trust)?,
        signer.token.acquire_options(Some(trust)),
    )?;
    let classic_block = Metablock::new(link.clone());
    let classic_signed = classic_content(classic_block.signed_bytes()?);
    let dir = &args.metadata_directory;
    runtime()?.block_on(async {
        // With a layout, the key id is chosen from the certificate before anything is signed
        // or logged: a signer the layout does not name leaves no entry behind.
        let layout_keyid = match &candidates {
            Some(keys) => {
                let cred = session.credential().await?;
                let id = hallmark_verify::intoto::functionary_for_certificate(&cred.cert_der, keys)
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "this signer is none of the layout's functionaries for step {:?}, so nothing was signed or logged: {e}",
                            link.name
                        )
                    })?;
                Some(id.to_owned())
            }
            None => None,
        };
        let dsse = sign_content(
            &session,
            trust,
            &Content::Dsse {
                payload_type: INTOTO_PAYLOAD_TYPE.to_owned(),
                payload,
            },
        )
        .await?;
        let (san, issuer) = identity(&dsse.signer)?;
        let keyid = match (layout_keyid, &candidates) {
            (Some(id), Some(keys)) => {
                // The certificate may have been renewed between the check and the signature
                // (it was close to expiry): the one that signed must satisfy the same key.
                let hallmark_verify::Signer::Certificate {
                    certificate_der, ..
                } = &dsse.signer
                else {
                    bail!("the bundle was not signed with a certificate");
                };
                let signed_as =
                    hallmark_verify::intoto::functionary_for_certificate(certificate_der, keys)
                        .map_err(|e| anyhow::anyhow!("the signing certificate: {e}"))?;
                ensure!(
                    signed_as == id,
                    "the certificate was renewed while signing and now satisfies layout key {} instead of {}: sign again",
                    short(signed_as),
                    short(&id)
                );
                id
            }
            _ => exact_keyid(&issuer, &san, trust_ref)?,
        };
        let bundle_path = dir.join(format!(
            "{}.sigstore.json",
            link_file_name(&link.name, &keyid)
        ));
        let classic_path = dir.join(link_file_name(&link.name, &keyid));
        refuse_existing(&bundle_path, args.overwrite)?;
        if args.classic {
            refuse_existing(&classic_path, args.overwrite)?;
        }
        write_bundle(&bundle_path, &dsse.bundle)?;
        eprintln!(
            "signed step {:?} as {san} ({issuer}), log index {}",
            link.name, dsse.log_index
        );
        let mut written = vec![bundle_path];
        if args.classic {
            let signed = sign_content(&session, trust, &classic_signed).await?;
            let mut block = classic_block;
            block.signatures.push(Signature {
                keyid,
                sig: hex::encode(&signed.signature),
                cert: None,
                bundle: Some(
                    serde_json::from_slice(&signed.bundle).context("the bundle just built")?,
                ),
            });
            write_json(&classic_path, &block, args.overwrite)?;
            written.push(classic_path);
        }
        Ok(written)
    })
}

/// What a keyless signature on a classic link or layout signs: its canonical `signed` bytes
/// as the payload of a DSSE envelope of Hallmark's own type, never a message signature (see
/// [`SIGNED_PAYLOAD_TYPE`]).
fn classic_content(signed_bytes: Vec<u8>) -> Content {
    Content::Dsse {
        payload_type: SIGNED_PAYLOAD_TYPE.to_owned(),
        payload: signed_bytes,
    }
}

/// The certificate identity (SAN, issuer) a verified bundle names.
fn identity(signer: &hallmark_verify::Signer) -> Result<(String, String)> {
    match signer {
        hallmark_verify::Signer::Certificate { san, issuer, .. } => {
            Ok((san.clone(), issuer.clone()))
        }
        _ => bail!("the bundle was not signed with a certificate"),
    }
}

/// The exact-identity `hallmark-oidc` key id for a signer.
fn exact_keyid(issuer: &str, san: &str, trust_root: TrustRootRef) -> Result<String> {
    Ok(OidcFunctionary {
        issuer: TextMatch::Exact(issuer.to_owned()),
        identity: TextMatch::Exact(san.to_owned()),
        extensions: BTreeMap::new(),
        trust_root,
    }
    .compute_keyid()?)
}

/// The layout's keyless keys for `step` bound to this trust root.
fn layout_candidates(
    layout: &Layout,
    step: &str,
    trust_ref: TrustRootRef,
) -> Result<Vec<(String, OidcFunctionary)>> {
    let s = layout
        .steps
        .iter()
        .find(|s| s.name == step)
        .with_context(|| {
            format!(
                "the layout has no step {step:?} (its steps: {})",
                layout
                    .steps
                    .iter()
                    .map(|s| format!("{:?}", s.name))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let keys: Vec<(String, OidcFunctionary)> = layout
        .functionaries(s)
        .filter_map(|(id, k)| match k {
            LayoutKey::Oidc { functionary, .. } if functionary.trust_root == trust_ref => {
                Some((id.to_owned(), functionary.clone()))
            }
            _ => None,
        })
        .collect();
    ensure!(
        !keys.is_empty(),
        "the layout's step {step:?} has no keyless (hallmark-oidc) functionary bound to this trust root ({trust_ref})"
    );
    Ok(keys)
}

fn load_trust(signer: &SignerArgs) -> Result<(TrustConfig, TrustRootRef)> {
    let path = signer.trust.path()?;
    let bytes = std::fs::read(&path)
        .with_context(|| format!("reading the trust config {}", path.display()))?;
    let trust = TrustConfig::parse(&path, &bytes)?;
    let trust_ref = TrustRootRef::of_document(&bytes)
        .with_context(|| format!("the trusted root in {}", path.display()))?;
    Ok((trust, trust_ref))
}

/// Reads a layout file: a bare layout or a signed one (its signatures are not checked here).
fn read_layout(path: &Path) -> Result<Layout> {
    Ok(read_layout_block(path)?.signed)
}

fn read_layout_block(path: &Path) -> Result<SignedLayout> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let value: Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not JSON", path.display()))?;
    let block = if value.get("signed").is_some() {
        SignedLayout::parse(&bytes)
    } else {
        serde_json::from_value::<Layout>(value)
            .map_err(|source| hallmark_sigstore::intoto::IntotoError::Json {
                what: "layout",
                source,
            })
            .and_then(|l| l.validate().map(|()| Metablock::new(l)))
    };
    block.with_context(|| format!("{} is not a valid in-toto layout", path.display()))
}

fn refuse_existing(path: &Path, overwrite: bool) -> Result<()> {
    ensure!(
        overwrite || !path.exists(),
        "{} exists: pass --overwrite to replace it",
        path.display()
    );
    Ok(())
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T, overwrite: bool) -> Result<()> {
    refuse_existing(path, overwrite)?;
    let mut json = serde_json::to_vec_pretty(value)?;
    json.push(b'\n');
    write_bundle(path, &json)
}

/// `hallmark intoto sign-layout`.
pub(crate) fn sign_layout(args: SignLayoutArgs) -> Result<()> {
    let mut block = read_layout_block(&args.layout)?;
    refuse_existing(&args.out, args.overwrite)?;
    if block
        .signed
        .expires
        .is_expired_at(crate::client::now_unix())
    {
        bail!(
            "the layout expired at {}: no verifier would accept it; set a later \"expires\"",
            block.signed.expires
        );
    }
    match &args.key {
        Some(k) => {
            let key = ClassicKey::load(k)?;
            key.sign_metablock(&mut block)?;
            println!(
                "signed the layout with key {} -> {}",
                key.keyid(),
                args.out.display()
            );
        }
        None => {
            let (trust, trust_ref) = load_trust(&args.signer)?;
            let session = Session::new(
                args.signer.endpoints(&trust)?,
                args.signer.token.acquire_options(Some(&trust)),
            )?;
            let content = classic_content(block.signed_bytes()?);
            let signed = runtime()?.block_on(sign_content(&session, &trust, &content))?;
            let (san, issuer) = identity(&signed.signer)?;
            let keyid = exact_keyid(&issuer, &san, trust_ref)?;
            block.signatures.retain(|s| s.keyid != keyid);
            block.signatures.push(Signature {
                keyid: keyid.clone(),
                sig: hex::encode(&signed.signature),
                cert: None,
                bundle: Some(
                    serde_json::from_slice(&signed.bundle).context("the bundle just built")?,
                ),
            });
            println!(
                "signed the layout as {san} ({issuer}), key {keyid}, log index {} -> {}",
                signed.log_index,
                args.out.display()
            );
        }
    }
    write_json(&args.out, &block, args.overwrite)
}
