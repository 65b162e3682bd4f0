//! `hallmark intoto verify`: a supply chain against its layout, with
//! [`hallmark_verify::intoto`] doing every check (see its docs for the order and semantics).
//!
//! This file does the I/O around the engine:
//!
//! - **Layout trust**: `--layout-key PEM` (each must have signed; keys are turned into
//!   in-toto key dicts as securesystemslib's `SSlibKey.from_crypto` does, so key ids match
//!   in-toto-python's) and/or `--layout-identity SAN --layout-issuer ISS` (a keyless layout
//!   signature, against the first `--trust-root`, else the trust config).
//! - **Trust roots**: every `--trust-root FILE` (trusted_root.json or ClientTrustConfig), plus
//!   the client trust config (`--trust-config`, `HALLMARK_TRUST_CONFIG` or the default
//!   location) when one is given or found, or when no `--trust-root` is. Keyless
//!   functionaries name theirs by `TrustRootRef` (SHA-256 of the root's canonical JSON).
//! - **Links**: `--links` takes directories and files. In a directory, `*.link` and
//!   `*.link.sigstore.json` files must parse as links; other `*.sigstore.json` files are taken
//!   when they hold a link statement, skipped (with a note) when they are valid Sigstore
//!   bundles of something else (artifact bundles often sit beside links), and refused when
//!   they are not bundles at all. Files named explicitly must parse.
//! - **Inspections** run as in-toto-python runs them: in the current directory, after the
//!   steps' rules hold, each command with every file under `.` recorded as materials before
//!   and products after (as `intoto run` records, with in-toto's default excludes), a
//!   non-zero exit failing the verification. Each runs in a process group of its own, its
//!   output captured, and the whole group is killed at `--inspection-timeout` (also when the
//!   command exited leaving children that hold its output). Unlike in-toto-python, no
//!   inspection link is written to the directory. The VSA names the products of the link
//!   verification used, never a file read again after the inspections ran.
//! - **Output**: a text report, or with `--json` one JSON object on stdout:
//!   `{"verified": true, "layout": {"file", "sha256", "expires", "signers": [SIGNER]},
//!   "steps": [{"name", "threshold", "accepted": [{"file", "signer": SIGNER, "functionary",
//!   "log_entries": [{"log", "log_index", "integrated_time"}], "signing_times": [unix]}],
//!   "rejected": [{"file", "signer": SIGNER|null, "reason"}]}], "inspections": [name],
//!   "warnings": [text], "vsa": path|null}` where SIGNER is `{"keyid"}` or `{"issuer",
//!   "san"}`; on failure `{"verified": false, "error": text, "kind": "layout" | "expired" |
//!   "link" | "threshold" | "disagreement" | "rule" | "inspection" | "input", "step"?,
//!   "rule"? {"side", "index", "text"}, "artifacts"?}`. The exit status is non-zero on any
//!   failure.
//! - **VSA** (`--vsa OUT`): on success, a SLSA Verification Summary Attestation v1 as an
//!   in-toto Statement, signed keylessly through `hallmark attest`'s machinery (DSSE, logged).
//!   Its subjects are the products of the layout's last step; `policy` is the layout (URI and
//!   SHA-256), `inputAttestations` the accepted link files with their SHA-256.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use clap::Args;
use hallmark_sigstore::intoto::layout::{OidcFunctionary, TextMatch};
use hallmark_sigstore::intoto::{
    Artifacts, Link, PublicKey, ResourceDescriptor, RuleFailureReason, SignedLayout, Statement,
    TrustRootRef,
};
use hallmark_verify::TrustedRoot;
use hallmark_verify::intoto::{
    Acceptance, Candidate, ChainError, Input, LayoutTrust, Report, SignerId, TrustRoots,
    verify_steps,
};
use serde_json::{Value, json};

use crate::client::{SignerArgs, now_unix};

/// The VSA's predicate type.
const VSA_V1: &str = "https://slsa.dev/verification_summary/v1";
/// The VSA's verifier id: this command, under the project's repository URL (the workspace's
/// `repository`), so a deployment that publishes Hallmark elsewhere changes it in one place.
const VERIFIER_ID: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/intoto-verify");

/// `hallmark intoto verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The signed layout (a classic in-toto `.layout` file).
    #[arg(long)]
    layout: PathBuf,
    /// A public key (PEM) that must have signed the layout; repeat for several.
    #[arg(long = "layout-key", value_name = "PEM")]
    layout_keys: Vec<PathBuf>,
    /// The SAN of the identity that must have signed the layout keylessly.
    #[arg(long, requires = "layout_issuer")]
    layout_identity: Option<String>,
    /// The OIDC issuer of that identity.
    #[arg(long, requires = "layout_identity")]
    layout_issuer: Option<String>,
    /// A trusted root (trusted_root.json or ClientTrustConfig) keyless functionaries may name;
    /// repeat for several.
    #[arg(long = "trust-root", value_name = "FILE")]
    trust_roots: Vec<PathBuf>,
    /// The links: directories (`*.link`, `*.sigstore.json`) or files.
    #[arg(long, required = true, num_args = 1..)]
    links: Vec<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// On success, write a signed SLSA Verification Summary Attestation (a Sigstore bundle)
    /// here, signed keylessly with the signer options.
    #[arg(long, value_name = "OUT")]
    vsa: Option<PathBuf>,
    /// The VSA's resourceUri (default: the name of its first subject).
    #[arg(long, requires = "vsa")]
    resource_uri: Option<String>,
    /// The VSA's verifiedLevels; repeat for several.
    #[arg(
        long = "verified-level",
        requires = "vsa",
        default_value = "SLSA_BUILD_LEVEL_0"
    )]
    verified_levels: Vec<String>,
    /// Seconds an inspection command may run.
    #[arg(long, default_value_t = 10)]
    inspection_timeout: u64,
    /// Verify as of this Unix time instead of now (layout expiry, future log times): for
    /// audits and tests. Certificates are always checked at their log times, never at this.
    #[arg(long, hide = true)]
    at_time: Option<i64>,
    #[command(flatten)]
    signer: SignerArgs,
}

/// A read file: its name for messages and reports, and its SHA-256.
struct ReadFile {
    name: String,
    sha256: String,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes))
}

/// `hallmark intoto verify`.
pub(crate) fn verify(args: VerifyArgs) -> Result<()> {
    let json = args.json;
    match run(&args) {
        Ok(out) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            }
            Ok(())
        }
        Err(e) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&failure_json(&e))?);
            }
            // Attacker-written text (step names, paths, identities) reaches the message.
            Err(anyhow::anyhow!("{}", terminal_safe(&format!("{e:#}"))))
        }
    }
}

fn run(args: &VerifyArgs) -> Result<Value> {
    let now = args.at_time.unwrap_or_else(now_unix);
    let layout_bytes = std::fs::read(&args.layout)
        .with_context(|| format!("reading the layout {}", args.layout.display()))?;
    let layout = SignedLayout::parse(&layout_bytes)
        .with_context(|| format!("{} is not an in-toto layout", args.layout.display()))?;
    let layout_file = ReadFile {
        name: args.layout.display().to_string(),
        sha256: sha256_hex(&layout_bytes),
    };

    let (roots, first_root) = load_roots(args, &layout)?;
    let mut trust = LayoutTrust::default();
    for path in &args.layout_keys {
        trust.keys.push(classic_key(path)?);
    }
    if let (Some(san), Some(issuer)) = (&args.layout_identity, &args.layout_issuer) {
        let trust_root = first_root
            .context("--layout-identity needs a trust root: pass --trust-root or --trust-config")?;
        trust.identities.push(OidcFunctionary {
            issuer: TextMatch::Exact(issuer.clone()),
            identity: TextMatch::Exact(san.clone()),
            extensions: BTreeMap::new(),
            trust_root,
        });
    }
    ensure!(
        !trust.keys.is_empty() || !trust.identities.is_empty(),
        "say who must have signed the layout: --layout-key PEM, or --layout-identity SAN --layout-issuer ISS"
    );

    let (candidates, files, notes) = read_links(&args.links)?;
    if !args.json {
        // Now, so they are seen when verification fails too.
        for n in &notes {
            eprintln!("note: {}", terminal_safe(n));
        }
    }
    let input = Input {
        layout: &layout,
        trust: &trust,
        roots: &roots,
        links: &candidates,
        now,
    };
    let steps = verify_steps(&input)?;
    let mut inspection_links = BTreeMap::new();
    for inspection in steps.inspections() {
        let link = run_inspection(
            &inspection.name,
            &inspection.run,
            Duration::from_secs(args.inspection_timeout),
        )?;
        inspection_links.insert(inspection.name.clone(), link);
    }
    let mut report = steps.finish(inspection_links)?;
    if args.json {
        report.warnings.extend(notes);
    }

    let vsa = match &args.vsa {
        Some(out) => {
            let statement = vsa_statement(args, &layout, &layout_file, &report, &files, now)?;
            let index = crate::sign_cmd::attest_statement(&args.signer, statement, out)?;
            if !args.json {
                println!(
                    "verification summary -> {} (log index {index})",
                    out.display()
                );
            }
            Some(out.display().to_string())
        }
        None => None,
    };
    if !args.json {
        print_report(&layout_file, &report);
    }
    Ok(report_json(&layout_file, &report, &files, vsa))
}

/// The trust roots by reference, and the reference of the first (for a layout identity).
fn load_roots(
    args: &VerifyArgs,
    layout: &SignedLayout,
) -> Result<(TrustRoots, Option<TrustRootRef>)> {
    let mut roots = TrustRoots::new();
    let mut first = None;
    let mut add = |path: &Path| -> Result<()> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading the trust root {}", path.display()))?;
        let r = TrustRootRef::of_document(&bytes)
            .with_context(|| format!("{} is not a trusted root", path.display()))?;
        let root = TrustedRoot::from_json(&bytes)
            .with_context(|| format!("{} is not a usable trusted root", path.display()))?;
        first.get_or_insert(r);
        roots.insert(r, root);
        Ok(())
    };
    for p in &args.trust_roots {
        add(p)?;
    }
    let needs_keyless = args.layout_identity.is_some()
        || layout
            .signed
            .keys
            .values()
            .any(|k| matches!(k, hallmark_sigstore::intoto::LayoutKey::Oidc { .. }));
    let explicit = args.signer.trust.trust_config.is_some();
    if explicit || args.trust_roots.is_empty() {
        match args.signer.trust.path() {
            Ok(p) => add(&p)?,
            // A layout of classic keys needs no trust root.
            Err(e) if needs_keyless && args.trust_roots.is_empty() => return Err(e),
            Err(_) => {}
        }
    }
    Ok((roots, first))
}

/// A PEM public key as the in-toto key dict securesystemslib makes of it (`from_crypto`).
fn classic_key(path: &Path) -> Result<PublicKey> {
    let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let block = hallmark_sigstore::pem::decode_first(&pem)
        .with_context(|| format!("{} is not PEM", path.display()))?;
    PublicKey::from_spki_der(&block.der)
        .with_context(|| format!("{} is not a supported public key", path.display()))
}

type Links = (Vec<Candidate>, BTreeMap<String, ReadFile>, Vec<String>);

/// Candidate links from directories and files, with each file's digest by name, and notes on
/// skipped files.
fn read_links(paths: &[PathBuf]) -> Result<Links> {
    let mut candidates = Vec::new();
    let mut files = BTreeMap::new();
    let mut notes = Vec::new();
    let mut take = |path: &Path, strict: bool| -> Result<()> {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        // `--links .` lists `./x.link`: named `x.link`, still relative to the directory.
        let name = path.strip_prefix(".").unwrap_or(path).display().to_string();
        match Candidate::parse(name.clone(), &bytes) {
            Ok(c) => {
                files.insert(
                    name.clone(),
                    ReadFile {
                        name,
                        sha256: sha256_hex(&bytes),
                    },
                );
                candidates.push(c);
            }
            // A Sigstore bundle of something else (an artifact's, beside the links) is
            // skipped; a file that is no bundle at all is an error, as is any link file.
            Err(e) if !strict && hallmark_verify::Bundle::from_json(&bytes).is_ok() => {
                notes.push(format!("skipped {name}: {e}"));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    };
    for p in paths {
        if p.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("listing {}", p.display()))?
                .map(|e| e.map(|e| e.path()))
                .collect::<Result<_, _>>()
                .with_context(|| format!("listing {}", p.display()))?;
            entries.sort();
            for e in entries.iter().filter(|e| e.is_file()) {
                let name = e
                    .file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default();
                if name.ends_with(".link") || name.ends_with(".link.sigstore.json") {
                    take(e, true)?;
                } else if name.ends_with(".sigstore.json") {
                    take(e, false)?;
                }
            }
        } else {
            take(p, true)?;
        }
    }
    ensure!(!candidates.is_empty(), "no link files found in {paths:?}");
    Ok((candidates, files, notes))
}

/// Every file under `.` as in-toto-python's inspections record it: `hallmark intoto run`'s
/// recording with in-toto's default excludes (`*.link*`, `.git`, `*.pyc`, `*~`).
fn record_cwd() -> Result<Artifacts> {
    let r = hallmark_intoto::record_artifacts(&["."], &hallmark_intoto::RecordOptions::default())
        .context("recording the current directory")?;
    Ok(r.artifacts)
}

/// Runs an inspection in the current directory and records its link.
fn run_inspection(name: &str, command: &[String], timeout: Duration) -> Result<Link> {
    let materials = record_cwd()?;
    // Its own process group, output captured (never mixed into ours), and the whole group
    // killed at the deadline, children holding the output open included.
    let byproducts = hallmark_intoto::command::run_inspection_command(command, timeout).map_err(
        |e| match e {
            hallmark_intoto::RecordError::CommandTimeout { .. } => anyhow::anyhow!(
                "inspection '{name}': {command:?} ran longer than {} s (--inspection-timeout)",
                timeout.as_secs()
            ),
            e => anyhow::Error::new(e).context(format!("inspection '{name}'")),
        },
    )?;
    ensure!(
        byproducts.return_value == 0,
        "inspection '{name}': {command:?} exited with {} (stderr: {})",
        byproducts.return_value,
        byproducts.stderr.trim()
    );
    let mut link = Link::new(name);
    link.command = command.to_vec();
    link.materials = materials;
    link.products = record_cwd()?;
    link.byproducts = byproducts.to_map();
    Ok(link)
}

fn signer_json(s: &SignerId) -> Value {
    match s {
        SignerId::Key { keyid } => json!({ "keyid": keyid }),
        SignerId::Identity { issuer, san } => json!({ "issuer": issuer, "san": san }),
    }
}

fn acceptance_json(a: &Acceptance, files: &BTreeMap<String, ReadFile>) -> Value {
    json!({
        "file": a.source,
        "sha256": files.get(&a.source).map(|f| f.sha256.clone()),
        "signer": signer_json(&a.signer),
        "functionary": a.functionary,
        "log_entries": a.log_entries.iter().map(|e| json!({
            "log": e.log, "log_index": e.log_index, "integrated_time": e.integrated_time,
        })).collect::<Vec<_>>(),
        "signing_times": a.signing_times,
    })
}

fn report_json(
    layout: &ReadFile,
    r: &Report,
    files: &BTreeMap<String, ReadFile>,
    vsa: Option<String>,
) -> Value {
    json!({
        "verified": true,
        "layout": {
            "file": layout.name,
            "sha256": layout.sha256,
            "expires": r.expires,
            "signers": r.layout_signers.iter().map(|a| signer_json(&a.signer)).collect::<Vec<_>>(),
        },
        "steps": r.steps.iter().map(|s| json!({
            "name": s.name,
            "threshold": s.threshold,
            "accepted": s.accepted.iter().map(|a| acceptance_json(a, files)).collect::<Vec<_>>(),
            "rejected": s.rejected.iter().map(|x| json!({
                "file": x.source,
                "signer": x.signer.as_ref().map(signer_json),
                "reason": x.reason.to_string(),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "inspections": r.inspections,
        "warnings": r.warnings,
        "vsa": vsa,
    })
}

fn failure_json(e: &anyhow::Error) -> Value {
    let mut out = json!({ "verified": false, "error": format!("{e:#}") });
    let Some(chain) = e.downcast_ref::<ChainError>() else {
        out["kind"] = json!(if format!("{e:#}").contains("inspection '") {
            "inspection"
        } else {
            "input"
        });
        return out;
    };
    let kind = match chain {
        ChainError::NoLayoutTrust
        | ChainError::LayoutKey { .. }
        | ChainError::LayoutIdentity { .. } => "layout",
        ChainError::LayoutExpired { .. } => "expired",
        ChainError::Candidate { .. } | ChainError::Sublayout { .. } => "link",
        ChainError::Threshold { step, .. } => {
            out["step"] = json!(step);
            "threshold"
        }
        ChainError::Disagreement { step, artifact, .. } => {
            out["step"] = json!(step);
            out["artifacts"] = json!([artifact]);
            "disagreement"
        }
        ChainError::Rule {
            failure, signers, ..
        } => {
            out["step"] = json!(failure.item);
            out["rule"] = json!({
                "side": failure.side.to_string(),
                "index": failure.index,
                "text": failure.rule,
            });
            out["signers"] = json!(signers.iter().map(signer_json).collect::<Vec<_>>());
            out["artifacts"] = match &failure.reason {
                RuleFailureReason::Disallowed { artifacts } => json!(artifacts),
                RuleFailureReason::Required { artifact } => json!([artifact]),
                _ => json!([]),
            };
            "rule"
        }
        _ => "input",
    };
    out["kind"] = json!(kind);
    out
}

fn time_text(t: i64) -> String {
    hallmark_sigstore::time::rfc3339(t).unwrap_or_else(|_| t.to_string())
}

/// Text for a terminal: control characters (newlines, escape sequences) that link files,
/// step names or identities may carry are shown escaped, so they cannot fake lines or colours
/// in the report.
fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    // Control characters, and the invisible ones that reorder or hide text: bidi marks,
    // embeddings, overrides and isolates, zero-width characters, line and paragraph
    // separators, the byte-order mark.
    let hidden = |c: char| {
        c.is_control()
            || matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
    };
    if !text.chars().any(hidden) {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if hidden(c) {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// `println!` through [`terminal_safe`].
macro_rules! say {
    ($($arg:tt)*) => {
        println!("{}", terminal_safe(&format!($($arg)*)))
    };
}

fn print_report(layout: &ReadFile, r: &Report) {
    let signers: Vec<String> = r
        .layout_signers
        .iter()
        .map(|a| a.signer.to_string())
        .collect();
    say!(
        "layout {} (sha256 {}) signed by {}; expires {}",
        layout.name,
        layout.sha256,
        signers.join(", "),
        r.expires
    );
    for s in &r.steps {
        say!("step '{}' (threshold {}):", s.name, s.threshold);
        for a in &s.accepted {
            let log: Vec<String> = a
                .log_entries
                .iter()
                .map(|e| {
                    format!(
                        "log index {}{}",
                        e.log_index,
                        e.integrated_time
                            .map(|t| format!(" integrated {}", time_text(t)))
                            .unwrap_or_default()
                    )
                })
                .collect();
            let log = if log.is_empty() {
                String::new()
            } else {
                format!(" [{}]", log.join("; "))
            };
            say!("  accepted {} by {}{log}", a.source, a.signer);
        }
        for x in &s.rejected {
            say!("  set aside {x}");
        }
    }
    for i in &r.inspections {
        say!("inspection '{i}': rules hold");
    }
    for w in &r.warnings {
        say!("warning: {w}");
    }
    say!("PASSED: the supply chain verifies against {}", layout.name);
}

/// The VSA statement (JSON bytes).
fn vsa_statement(
    args: &VerifyArgs,
    layout: &SignedLayout,
    layout_file: &ReadFile,
    report: &Report,
    files: &BTreeMap<String, ReadFile>,
    now: i64,
) -> Result<Vec<u8>> {
    let last = layout
        .signed
        .steps
        .last()
        .context("the layout has no steps to summarize")?;
    // The products of the link verification used, never the file read again (an inspection
    // or another writer may have replaced it since).
    let products: Vec<ResourceDescriptor> = report
        .steps
        .iter()
        .find(|s| s.name == last.name)
        .and_then(|s| s.link.as_ref())
        .context("no verified link for the last step")?
        .products
        .iter()
        .map(|(name, digest)| ResourceDescriptor::artifact(name.clone(), digest.clone()))
        .collect();
    ensure!(
        !products.is_empty(),
        "the last step '{}' has no products to name as the VSA's subjects",
        last.name
    );
    let resource_uri = match &args.resource_uri {
        Some(u) => u.clone(),
        None => products[0].name.clone().unwrap_or_default(),
    };
    let mut inputs: Vec<Value> = Vec::new();
    for s in &report.steps {
        for a in &s.accepted {
            if let Some(f) = files.get(&a.source)
                && !inputs.iter().any(|i| i["uri"] == json!(f.name))
            {
                inputs.push(json!({ "uri": f.name, "digest": { "sha256": f.sha256 } }));
            }
        }
    }
    let predicate = json!({
        "verifier": { "id": VERIFIER_ID, "version": { "hallmark": env!("CARGO_PKG_VERSION") } },
        "timeVerified": time_text(now),
        "resourceUri": resource_uri,
        "policy": { "uri": layout_file.name, "digest": { "sha256": layout_file.sha256 } },
        "inputAttestations": inputs,
        "verificationResult": "PASSED",
        "verifiedLevels": args.verified_levels,
        "slsaVersion": "1.0",
    });
    Ok(Statement::new(products, VSA_V1, predicate).to_json()?)
}

#[cfg(test)]
mod tests {
    use super::terminal_safe;

    /// A step name or path carrying a newline or an escape sequence cannot fake report lines.
    #[test]
    fn attacker_text_is_escaped_for_the_terminal() {
        assert_eq!(terminal_safe("build"), "build");
        assert_eq!(
            terminal_safe("x\nPASSED: all good\u{1b}[32m"),
            "x\\nPASSED: all good\\u{1b}[32m"
        );
        // A right-to-left override and a zero-width space are shown, not obeyed.
        assert_eq!(
            terminal_safe("a\u{202E}b\u{200B}c"),
            "a\\u{202e}b\\u{200b}c"
        );
    }
}
