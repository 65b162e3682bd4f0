//! Shared test helpers: identities, external oracles (the `openssl` CLI and Python
//! `cryptography`), temporary files.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    dead_code,
    unreachable_pub
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use ecdsa::elliptic_curve::Generate as _;
use hallmark_sigstore::identity::{CiExtensions, GithubV1Extensions, Identity, SubjectAltName};

pub mod suite;

/// A fresh in-memory P-256 key (the RustCrypto type, as `hallmark_keys::MemoryKey` is).
pub fn generate_memory_p256() -> Result<p256::ecdsa::SigningKey, String> {
    p256::ecdsa::SigningKey::try_generate().map_err(|e| e.to_string())
}

/// A fresh in-memory P-384 key.
pub fn generate_memory_p384() -> Result<p384::ecdsa::SigningKey, String> {
    p384::ecdsa::SigningKey::try_generate().map_err(|e| e.to_string())
}

/// An email identity (the sigstore-js/python interactive flow).
pub fn email_identity() -> Identity {
    Identity {
        issuer: "https://accounts.example.com".into(),
        san: SubjectAltName::Email("alice@example.com".into()),
        challenge: "alice@example.com".into(),
        subject: "alice@example.com".into(),
        extensions: CiExtensions::default(),
        github_v1: None,
    }
}

/// A GitHub Actions workflow identity with CI extensions and the deprecated v1 extensions.
pub fn workflow_identity() -> Identity {
    Identity {
        issuer: "https://token.actions.githubusercontent.com".into(),
        san: SubjectAltName::Uri(
            "https://github.com/octo/app/.github/workflows/release.yml@refs/tags/v1.2.3".into(),
        ),
        challenge: "repo:octo/app:ref:refs/tags/v1.2.3".into(),
        subject: "repo:octo/app:ref:refs/tags/v1.2.3".into(),
        extensions: CiExtensions {
            build_signer_uri: Some(
                "https://github.com/octo/app/.github/workflows/release.yml@refs/tags/v1.2.3".into(),
            ),
            build_signer_digest: Some("0123456789abcdef0123456789abcdef01234567".into()),
            runner_environment: Some("github-hosted".into()),
            source_repository_uri: Some("https://github.com/octo/app".into()),
            source_repository_digest: Some("0123456789abcdef0123456789abcdef01234567".into()),
            source_repository_ref: Some("refs/tags/v1.2.3".into()),
            source_repository_identifier: Some("123456".into()),
            source_repository_owner_uri: Some("https://github.com/octo".into()),
            source_repository_owner_identifier: Some("7890".into()),
            build_config_uri: Some(
                "https://github.com/octo/app/.github/workflows/release.yml@refs/tags/v1.2.3".into(),
            ),
            build_config_digest: Some("0123456789abcdef0123456789abcdef01234567".into()),
            build_trigger: Some("push".into()),
            run_invocation_uri: Some(
                "https://github.com/octo/app/actions/runs/42/attempts/1".into(),
            ),
            source_repository_visibility_at_signing: Some("public".into()),
            // Empty values are left out, as Fulcio does.
            deployment_environment: Some(String::new()),
        },
        github_v1: Some(GithubV1Extensions {
            trigger: "push".into(),
            sha: "0123456789abcdef0123456789abcdef01234567".into(),
            name: "release".into(),
            repository: "octo/app".into(),
            git_ref: "refs/tags/v1.2.3".into(),
        }),
    }
}

/// A `username` issuer identity (otherName SAN).
pub fn username_identity() -> Identity {
    Identity {
        issuer: "https://auth.example.org".into(),
        san: SubjectAltName::OtherName("bob!example.org".into()),
        challenge: "bob".into(),
        subject: "bob".into(),
        extensions: CiExtensions::default(),
        github_v1: None,
    }
}

/// Write `contents` to `dir/name`, returning the path.
pub fn write(dir: &Path, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// Run `openssl` with `args`; (success, stdout + stderr).
pub fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl CLI is needed for these tests (apt-get install openssl)");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// Run `openssl` and require success.
pub fn openssl_ok(args: &[&str]) -> String {
    let (ok, text) = openssl(args);
    assert!(ok, "openssl {args:?} failed:\n{text}");
    text
}

/// The Python interpreter: `$HALLMARK_PYTHON`, else `python3`.
pub fn python() -> String {
    std::env::var("HALLMARK_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// Run a Python snippet with `args`; it must print `key=value` lines. Fails loudly (never skips)
/// when Python or `cryptography` is missing.
pub fn python_kv(script: &str, args: &[&str]) -> BTreeMap<String, String> {
    let py = python();
    let out = Command::new(&py)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {py} ({e}): the SCT cross-check needs Python with `cryptography` \
                 (set HALLMARK_PYTHON to an interpreter that has it, e.g. a venv with \
                 `pip install cryptography`)"
            )
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{py} failed (does it have `cryptography`? set HALLMARK_PYTHON to a venv with \
         `pip install cryptography`):\n{stdout}\n{stderr}"
    );
    stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Python `cryptography` as an independent oracle for the embedded SCT: it parses the leaf,
/// rebuilds the precertificate TBS itself (`tbs_precertificate_bytes`), rebuilds the RFC 6962
/// signed data, verifies the SCT signature with the CT key, and reports what it saw.
/// Arguments: leaf PEM, issuer PEM, CT public key PEM.
pub const PY_SCT_CHECK: &str = r#"
import sys, hashlib, struct, calendar
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, ObjectIdentifier

leaf = x509.load_pem_x509_certificate(open(sys.argv[1], 'rb').read())
issuer = x509.load_pem_x509_certificate(open(sys.argv[2], 'rb').read())
ct_key = serialization.load_pem_public_key(open(sys.argv[3], 'rb').read())

ext = leaf.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps)
scts = list(ext.value)
print("sct_count=%d" % len(scts))
sct = scts[0]
tbs = leaf.tbs_precertificate_bytes
spki = lambda k: k.public_bytes(serialization.Encoding.DER,
                                serialization.PublicFormat.SubjectPublicKeyInfo)
ikh = hashlib.sha256(spki(issuer.public_key())).digest()
t = sct.timestamp
ts = calendar.timegm(t.utctimetuple()) * 1000 + t.microsecond // 1000
data = (struct.pack('>BBQH', 0, 0, ts, 1) + ikh + len(tbs).to_bytes(3, 'big') + tbs
        + struct.pack('>H', len(sct.extension_bytes)) + sct.extension_bytes)
ct_key.verify(sct.signature, data, ec.ECDSA(hashes.SHA256()))
print("sct_verified=yes")
print("tbs=" + tbs.hex())
print("log_id=" + sct.log_id.hex())
print("expected_log_id=" + hashlib.sha256(spki(ct_key)).hexdigest())
print("timestamp_ms=%d" % ts)
print("version=" + sct.version.name)
print("entry_type=" + sct.entry_type.name)
print("hash=" + sct.signature_hash_algorithm.name)
print("sig_alg=" + sct.signature_algorithm.name)
# The issuer's signature over the final certificate.
issuer.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes,
                           ec.ECDSA(leaf.signature_hash_algorithm))
print("cert_signature_verified=yes")
san = leaf.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
print("san_critical=%s" % san.critical)
for dotted in ["1.3.6.1.4.1.57264.1.1", "1.3.6.1.4.1.57264.1.8"]:
    v = leaf.extensions.get_extension_for_oid(ObjectIdentifier(dotted)).value.value
    print("ext_%s=%s" % (dotted, v.hex()))
print("validity_s=%d" % (leaf.not_valid_after_utc - leaf.not_valid_before_utc).total_seconds())
print("subject_rdns=%d" % len(leaf.subject.rdns))
"#;
