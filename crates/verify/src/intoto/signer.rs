//! Who signed a candidate link (or the layout): classic key signatures, and keyless
//! signatures whose Sigstore bundles verify against a functionary's trust root.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use hallmark_sigstore::intoto::{
    LayoutKey, OidcFunctionary, SIGNED_PAYLOAD_TYPE, Signature, TrustRootRef,
};

use super::candidate::{Candidate, Form};
use super::{Acceptance, LogEntryInfo, RejectReason, Rejection, SignerId, TrustRoots};
use crate::cert::Cert;
use crate::{
    Bundle, Content, IdentityPolicy, Matcher, Policy, Signed, Signer, TrustedRoot, Verified,
};

/// The policy that accepts any certificate identity: the bundle check proves the chain, the
/// log and the time; the identity is matched afterwards against each functionary.
fn any_identity() -> &'static Policy {
    static ANY: OnceLock<Policy> = OnceLock::new();
    ANY.get_or_init(|| {
        // A constant pattern that compiles: `.*` cannot fail.
        #[allow(clippy::expect_used)]
        let any = || Matcher::regex(".*").expect("`.*` is a valid regular expression");
        Policy::Identity(IdentityPolicy {
            san: any(),
            issuer: any(),
            extensions: Vec::new(),
        })
    })
}

/// A keyless signature that verified against a trust root: the certificate and what the
/// bundle proved.
struct Keyless {
    issuer: String,
    cert: Cert,
    verified: Verified,
}

/// The functionaries a step (or the layout's owner) may be signed by.
pub(crate) struct Functionaries<'a> {
    /// Classic keys by key id.
    pub(crate) classic: BTreeMap<&'a str, &'a hallmark_sigstore::intoto::PublicKey>,
    /// Keyless functionaries with their key ids.
    pub(crate) oidc: Vec<(&'a str, &'a OidcFunctionary)>,
}

impl<'a> Functionaries<'a> {
    pub(crate) fn from_keys(keys: impl Iterator<Item = (&'a str, &'a LayoutKey)>) -> Self {
        let mut classic = BTreeMap::new();
        let mut oidc = Vec::new();
        for (id, key) in keys {
            match key {
                LayoutKey::Classic(k) => {
                    classic.insert(id, k);
                }
                LayoutKey::Oidc { functionary, .. } => oidc.push((id, functionary)),
            }
        }
        Functionaries { classic, oidc }
    }
}

fn entries(v: &Verified) -> (Vec<LogEntryInfo>, Vec<i64>) {
    let log = v
        .entries
        .iter()
        .map(|e| LogEntryInfo {
            log: e.log.clone(),
            log_index: e.log_index,
            integrated_time: e.integrated_time,
        })
        .collect();
    let times = v.signing_times.iter().map(|t| t.unix).collect();
    (log, times)
}

/// Verifies `bundle` (a DSSE bundle: its envelope signature over the PAE, and the log entry
/// binding that envelope) against `root` and returns the certificate identity.
fn verify_bundle(
    bundle: &Bundle,
    root: &TrustedRoot,
    now: i64,
) -> Result<Keyless, crate::VerifyError> {
    let verified = crate::verify(bundle, None, root, any_identity(), now)?;
    let Signer::Certificate {
        issuer,
        certificate_der,
        ..
    } = &verified.signer
    else {
        return Err(crate::error::fail(
            crate::Check::Key,
            "a keyless link is signed with a certificate, not a managed key",
        ));
    };
    let cert = Cert::parse(certificate_der)
        .map_err(|e| crate::error::fail_with(crate::Check::Certificate, "", e))?;
    Ok(Keyless {
        issuer: issuer.clone(),
        cert,
        verified,
    })
}

/// The SAN of `cert` that satisfies `f`, or why none does.
fn match_identity(
    issuer: &str,
    cert: &Cert,
    f: &OidcFunctionary,
) -> Result<String, hallmark_sigstore::intoto::IdentityMismatch> {
    let values: BTreeMap<_, _> = f
        .extensions
        .keys()
        .filter_map(|e| {
            cert.fulcio_value(&e.oid(), e.is_raw())
                .and_then(Result::ok)
                .map(|v| (*e, v))
        })
        .collect();
    let sans = cert.sans().unwrap_or_default();
    let mut first_err = None;
    for san in &sans {
        match f.check(issuer, san, |e| values.get(&e).map(String::as_str)) {
            Ok(()) => return Ok(san.clone()),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    Err(
        first_err.unwrap_or(hallmark_sigstore::intoto::IdentityMismatch::Identity {
            expected: f.identity.to_string(),
            actual: String::new(),
        }),
    )
}

/// The key id of the first of `keys` whose identity the certificate `der` states (its issuer
/// as verification reads it, any of its SANs, its CI extensions), or why none matches.
///
/// For a signer choosing the key id its link goes under before anything is signed or logged:
/// nothing is verified here (the verifier checks the chain, the log and the identity again).
///
/// # Errors
///
/// [`crate::VerifyError`] when the certificate does not parse or names no issuer;
/// [`FunctionaryMismatch`] listing each key's mismatch.
pub fn functionary_for_certificate<'k>(
    der: &[u8],
    keys: &'k [(String, OidcFunctionary)],
) -> Result<&'k str, FunctionaryMismatch> {
    let cert =
        Cert::parse(der).map_err(|e| crate::error::fail_with(crate::Check::Certificate, "", e))?;
    let issuer = crate::identity::issuer_of(&cert)?;
    let mut why = Vec::new();
    for (id, f) in keys {
        match match_identity(&issuer, &cert, f) {
            Ok(_) => return Ok(id),
            Err(e) => why.push((id.clone(), e)),
        }
    }
    Err(FunctionaryMismatch::NoMatch(why))
}

/// Why [`functionary_for_certificate`] found no key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FunctionaryMismatch {
    /// The certificate cannot be read.
    #[error(transparent)]
    Certificate(#[from] crate::VerifyError),
    /// No key matches; each key id with its mismatch.
    #[error("{}", .0.iter().map(|(id, e)| format!("key {}: {e}", id.get(..8).unwrap_or(id))).collect::<Vec<_>>().join("; "))]
    NoMatch(Vec<(String, hallmark_sigstore::intoto::IdentityMismatch)>),
}

/// What a keyless signature must prove about the signed content.
enum Over<'b> {
    /// A classic signature (link or layout): the bundle's DSSE envelope has Hallmark's
    /// payload type [`SIGNED_PAYLOAD_TYPE`], its payload is these canonical bytes, and its
    /// signature is the `sig` given (DER, from hex). Never a message signature: any blob
    /// signer makes those, so one over these bytes proves no intent to sign in-toto metadata.
    Classic {
        signed_bytes: &'b [u8],
        sig: &'b str,
    },
    /// A DSSE bundle: its verified payload is this statement payload.
    Dsse { payload: &'b [u8] },
}

/// The reason a classic keyless signature refused because of a message-signature bundle
/// (what `hallmark intoto verify` prints and the tests look for).
pub(crate) const MESSAGE_SIGNATURE_REFUSED: &str = "the bundle holds a message signature, which any blob signer (hallmark sign, cosign sign-blob) makes over any file: a keyless signature on a classic link or layout must be a DSSE envelope of type application/vnd.hallmark.intoto-signed+json over its canonical signed bytes (domain separation)";

/// Why a classic keyless signature's bundle is not Hallmark's DSSE signature of
/// `signed_bytes` with signature `sig`.
fn classic_envelope(bundle: &Bundle, signed_bytes: &[u8], sig: &str) -> Result<(), &'static str> {
    let env = match &bundle.content {
        Content::Dsse(env) => env,
        Content::MessageSignature { .. } => return Err(MESSAGE_SIGNATURE_REFUSED),
    };
    if env.payload_type != SIGNED_PAYLOAD_TYPE {
        return Err(
            "the bundle's DSSE payload type is not application/vnd.hallmark.intoto-signed+json, the only type a keyless signature on a classic link or layout may have (domain separation)",
        );
    }
    if env.payload != signed_bytes {
        return Err("the bundle's DSSE payload is not these canonical signed bytes");
    }
    let [one] = env.signatures.as_slice() else {
        return Err("the bundle's DSSE envelope must carry exactly one signature");
    };
    if hex::decode(sig).ok().as_deref() != Some(one.as_slice()) {
        return Err("the signature's sig is not the signature in its bundle");
    }
    Ok(())
}

/// Verifies a keyless signature against each keyless functionary's trust root and matches
/// the identity. One acceptance (the first functionary matched), or why none matched.
fn keyless(
    source: &str,
    bundle: &Bundle,
    over: &Over<'_>,
    fs: &Functionaries<'_>,
    roots: &TrustRoots,
    now: i64,
) -> Result<Acceptance, Box<Rejection>> {
    let reject = |signer: Option<SignerId>, reason| {
        Box::new(Rejection {
            source: source.to_owned(),
            signer,
            reason,
        })
    };
    if fs.oidc.is_empty() {
        return Err(reject(None, RejectReason::NoKeylessFunctionary));
    }
    if let Over::Classic { signed_bytes, sig } = over
        && let Err(reason) = classic_envelope(bundle, signed_bytes, sig)
    {
        return Err(reject(None, RejectReason::NotThisLink { reason }));
    }
    // One bundle verification per trust root.
    let mut by_root: Vec<(TrustRootRef, Vec<(&str, &OidcFunctionary)>)> = Vec::new();
    for (id, f) in &fs.oidc {
        match by_root.iter_mut().find(|(r, _)| *r == f.trust_root) {
            Some((_, v)) => v.push((id, f)),
            None => by_root.push((f.trust_root, vec![(id, f)])),
        }
    }
    let mut reasons = Vec::new();
    for (root_ref, functionaries) in by_root {
        let Some(root) = roots.get(&root_ref) else {
            reasons.push(RejectReason::UnknownTrustRoot {
                functionaries: functionaries
                    .iter()
                    .map(|(id, _)| (*id).to_owned())
                    .collect(),
                trust_root: root_ref,
            });
            continue;
        };
        let k = match verify_bundle(bundle, root, now) {
            Ok(k) => k,
            Err(source) => {
                reasons.push(RejectReason::Bundle {
                    trust_root: root_ref,
                    source,
                });
                continue;
            }
        };
        // What the bundle verification proved signed (the envelope, over its PAE) must be
        // what was checked above.
        let (want_type, want_payload, reason) = match over {
            Over::Dsse { payload } => (
                hallmark_sigstore::intoto::statement::PAYLOAD_TYPE,
                *payload,
                "the bundle's verified payload is not this link statement",
            ),
            Over::Classic { signed_bytes, .. } => (
                SIGNED_PAYLOAD_TYPE,
                *signed_bytes,
                "the bundle's verified payload is not these canonical signed bytes",
            ),
        };
        let same = matches!(&k.verified.signed,
            Signed::Dsse { payload: p, payload_type } if p == want_payload
                && payload_type == want_type);
        if !same {
            return Err(reject(None, RejectReason::NotThisLink { reason }));
        }
        let mut mismatches = Vec::new();
        for (id, f) in functionaries {
            match match_identity(&k.issuer, &k.cert, f) {
                Ok(san) => {
                    let (log_entries, signing_times) = entries(&k.verified);
                    return Ok(Acceptance {
                        source: source.to_owned(),
                        signer: SignerId::Identity {
                            issuer: k.issuer.clone(),
                            san,
                        },
                        functionary: id.to_owned(),
                        log_entries,
                        signing_times,
                    });
                }
                Err(m) => mismatches.push((id.to_owned(), m)),
            }
        }
        let san = k.cert.sans().ok().and_then(|s| s.into_iter().next());
        return Err(reject(
            san.map(|san| SignerId::Identity {
                issuer: k.issuer.clone(),
                san,
            }),
            RejectReason::Identity { mismatches },
        ));
    }
    Err(reject(None, RejectReason::Keyless { reasons }))
}

/// Every functionary signature on `c`: acceptances and rejections.
pub(crate) fn check_candidate(
    c: &Candidate,
    fs: &Functionaries<'_>,
    roots: &TrustRoots,
    now: i64,
) -> (Vec<Acceptance>, Vec<Rejection>) {
    let mut ok = Vec::new();
    let mut bad = Vec::new();
    let reject = |keyid: &str, reason| Rejection {
        source: c.source.clone(),
        signer: Some(SignerId::Key {
            keyid: keyid.to_owned(),
        }),
        reason,
    };
    match &c.form {
        Form::Classic(link) => {
            let signed_bytes = match link.signed_bytes() {
                Ok(b) => b,
                Err(source) => {
                    bad.push(Rejection {
                        source: c.source.clone(),
                        signer: None,
                        reason: RejectReason::Format { source },
                    });
                    return (ok, bad);
                }
            };
            check_classic_signatures(
                &c.source,
                &link.signatures,
                &signed_bytes,
                fs,
                roots,
                now,
                &mut ok,
                &mut bad,
            );
        }
        Form::Bundle { bundle, .. } => {
            let Content::Dsse(env) = &bundle.content else {
                return (ok, bad);
            };
            match keyless(
                &c.source,
                bundle,
                &Over::Dsse {
                    payload: &env.payload,
                },
                fs,
                roots,
                now,
            ) {
                Ok(a) => ok.push(a),
                Err(r) => bad.push(*r),
            }
        }
        Form::Dsse {
            payload,
            signatures,
            ..
        } => {
            let pae = hallmark_sigstore::dsse_pae(
                hallmark_sigstore::intoto::statement::PAYLOAD_TYPE,
                payload,
            );
            for (keyid, sig) in signatures {
                let Some(key) = fs.classic.get(keyid.as_str()) else {
                    bad.push(reject(keyid, RejectReason::NotAuthorized));
                    continue;
                };
                let result = key.verifier().and_then(|(v, scheme)| {
                    v.verify(scheme, &pae, sig).map_err(|source| {
                        hallmark_sigstore::intoto::IntotoError::BadSignature {
                            keyid: keyid.clone(),
                            source,
                        }
                    })
                });
                match result {
                    Ok(()) => ok.push(classic_acceptance(&c.source, keyid)),
                    Err(source) => bad.push(reject(keyid, RejectReason::Signature { source })),
                }
            }
        }
    }
    (ok, bad)
}

fn classic_acceptance(source: &str, keyid: &str) -> Acceptance {
    Acceptance {
        source: source.to_owned(),
        signer: SignerId::Key {
            keyid: keyid.to_owned(),
        },
        functionary: keyid.to_owned(),
        log_entries: Vec::new(),
        signing_times: Vec::new(),
    }
}

/// The signatures of a classic `{signed, signatures}` document (link or layout).
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_classic_signatures(
    source: &str,
    signatures: &[Signature],
    signed_bytes: &[u8],
    fs: &Functionaries<'_>,
    roots: &TrustRoots,
    now: i64,
    ok: &mut Vec<Acceptance>,
    bad: &mut Vec<Rejection>,
) {
    for sig in signatures {
        if let Some(bundle_json) = &sig.bundle {
            // A Value always serializes; from_json then checks it as any bundle file.
            let parsed = serde_json::to_vec(bundle_json)
                .map_err(|e| crate::VerifyError::parse_with(crate::Document::Bundle, "$", e))
                .and_then(|b| Bundle::from_json(&b));
            let bundle = match parsed {
                Ok(b) => b,
                Err(err) => {
                    bad.push(Rejection {
                        source: source.to_owned(),
                        signer: Some(SignerId::Key {
                            keyid: sig.keyid.clone(),
                        }),
                        reason: RejectReason::BadBundle { source: err },
                    });
                    continue;
                }
            };
            match keyless(
                source,
                &bundle,
                &Over::Classic {
                    signed_bytes,
                    sig: &sig.sig,
                },
                fs,
                roots,
                now,
            ) {
                Ok(a) => ok.push(a),
                Err(r) => bad.push(*r),
            }
            continue;
        }
        let reject = |reason| Rejection {
            source: source.to_owned(),
            signer: Some(SignerId::Key {
                keyid: sig.keyid.clone(),
            }),
            reason,
        };
        let Some(key) = fs.classic.get(sig.keyid.as_str()) else {
            bad.push(reject(RejectReason::NotAuthorized));
            continue;
        };
        let result = hex::decode(&sig.sig)
            .map_err(|_| hallmark_sigstore::intoto::IntotoError::Invalid {
                field: format!("signatures[{}].sig", sig.keyid),
                reason: "not hex".into(),
            })
            .and_then(|der| {
                let (v, scheme) = key.verifier()?;
                v.verify(scheme, signed_bytes, &der).map_err(|source| {
                    hallmark_sigstore::intoto::IntotoError::BadSignature {
                        keyid: sig.keyid.clone(),
                        source,
                    }
                })
            });
        match result {
            Ok(()) => ok.push(classic_acceptance(source, &sig.keyid)),
            Err(source) => bad.push(reject(RejectReason::Signature { source })),
        }
    }
}
