//! The supply-chain engine on keyless links whose bundles come from a deployment built in
//! memory, for what a correct Hallmark log never produces and so the end-to-end test
//! (`crates/cli/tests/intoto_supply_chain.rs`) cannot reach: a link whose certificate had
//! expired (or was not yet valid) when the log integrated it, as a misbehaving or compromised
//! log could vouch for. Its signature, SET, inclusion proof and checkpoint all verify; only
//! the certificate's validity at the integrated time is wrong, and the link must not count.
//! The same link integrated inside the window verifies, also hours after the certificate
//! expired. And domain separation on classic keyless links: only a DSSE envelope of
//! Hallmark's payload type over the canonical bytes counts, never a message signature.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;

use common::*;
use hallmark_sigstore::intoto::layout::{LayoutKey, OidcFunctionary, Step, TextMatch};
use hallmark_sigstore::intoto::{
    Expires, Layout, Link, Metablock, PublicKey, Signature, SignedLayout, TrustRootRef,
};
use hallmark_verify::TrustedRoot;
use hallmark_verify::intoto::{Candidate, ChainError, Input, LayoutTrust, TrustRoots, verify};

struct World {
    layout: SignedLayout,
    owner: PublicKey,
    roots: TrustRoots,
    deployment: Deployment,
}

fn world() -> World {
    let deployment = Deployment::new(40);
    let root_json = serde_json::to_vec(&deployment.trusted_root()).unwrap();
    let trust_root = TrustRootRef::of_document(&root_json).unwrap();
    let roots = TrustRoots::from([(trust_root, TrustedRoot::from_json(&root_json).unwrap())]);
    let (keyid, key) = LayoutKey::oidc(OidcFunctionary {
        issuer: TextMatch::Exact(ISSUER.into()),
        identity: TextMatch::Exact(SAN.into()),
        extensions: BTreeMap::new(),
        trust_root,
    })
    .unwrap();
    let mut layout = Layout::new(Expires::from_unix(T0 + 86_400 * 30).unwrap());
    layout.keys.insert(keyid.clone(), key);
    let mut build = Step::new("build");
    build.pubkeys = vec![keyid];
    build.expected_products = vec!["CREATE app".parse().unwrap()];
    layout.steps = vec![build];
    let owner_key = key_for_owner();
    let pem = spki::EncodePublicKey::to_public_key_pem(
        owner_key.verifying_key(),
        spki::der::pem::LineEnding::LF,
    )
    .unwrap();
    let owner = PublicKey::ecdsa_p256(&pem).with_keyid().unwrap();
    let owner_id = owner.compute_keyid().unwrap();
    let mut signed = Metablock::new(layout);
    let sig = sign(&owner_key, &signed.signed_bytes().unwrap());
    signed.signatures.push(Signature {
        keyid: owner_id,
        sig: hex::encode(sig),
        cert: None,
        bundle: None,
    });
    World {
        layout: signed,
        owner,
        roots,
        deployment,
    }
}

fn key_for_owner() -> p256::ecdsa::SigningKey {
    key(77)
}

/// The build link as a DSSE bundle, integrated by the log at `integrated_time`.
fn build_link(w: &World, integrated_time: i64) -> Candidate {
    let mut link = Link::new("build");
    link.products.insert(
        "app".into(),
        BTreeMap::from([("sha256".to_owned(), hex::encode(sha256(b"app")))]),
    );
    let payload = link.to_statement().to_json().unwrap();
    let bundle = w.deployment.bundle(&Options {
        dsse: true,
        payload: Some(payload),
        integrated_time,
        ..Options::default()
    });
    Candidate::parse("build.sigstore.json", &serde_json::to_vec(&bundle).unwrap()).unwrap()
}

fn run(
    w: &World,
    links: &[Candidate],
    now: i64,
) -> Result<hallmark_verify::intoto::Report, ChainError> {
    let trust = LayoutTrust {
        keys: vec![w.owner.clone()],
        identities: Vec::new(),
    };
    verify(
        &Input {
            layout: &w.layout,
            trust: &trust,
            roots: &w.roots,
            links,
            now,
        },
        BTreeMap::new(),
    )
}

#[test]
fn a_keyless_link_integrated_while_its_certificate_was_valid_verifies_hours_later() {
    let w = world();
    let leaf = Options::default();
    let links = [build_link(&w, T0)];
    // Five hours after the ten-minute certificate expired.
    let report = run(&w, &links, leaf.leaf_not_after + 5 * 3600).unwrap();
    let accepted = &report.steps[0].accepted;
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].signing_times, vec![T0]);
}

#[test]
fn a_link_whose_certificate_was_expired_at_integration_time_does_not_count() {
    let w = world();
    let leaf = Options::default();
    for (what, at) in [
        ("expired", leaf.leaf_not_after + 60),
        ("not yet valid", leaf.leaf_not_before - 60),
    ] {
        let links = [build_link(&w, at)];
        let e = run(&w, &links, T0 + 3600).unwrap_err();
        assert!(matches!(e, ChainError::Threshold { .. }), "{what}: {e}");
        let text = e.to_string();
        assert!(
            text.contains("step 'build'") && text.contains("build.sigstore.json"),
            "{what}: the failure names the step and the link: {text}"
        );
        assert!(
            text.contains(
                "(integrated time of https://rekor.test) is outside the certificate's validity"
            ),
            "{what}: the failure says the certificate was not valid then: {text}"
        );
    }
}

/// The build link as a classic link whose keyless signature carries `bundle` (made by the
/// deployment's leaf key) with `sig` the hex of `sig_of(bundle)`.
fn classic_build_link(w: &World, o: impl FnOnce(&[u8]) -> Options) -> Candidate {
    let mut link = Link::new("build");
    link.products.insert(
        "app".into(),
        BTreeMap::from([("sha256".to_owned(), hex::encode(sha256(b"app")))]),
    );
    let mut block = Metablock::new(link);
    let bundle = w.deployment.bundle(&o(&block.signed_bytes().unwrap()));
    let sig = bundle["dsseEnvelope"]["signatures"][0]["sig"]
        .as_str()
        .or(bundle["messageSignature"]["signature"].as_str())
        .unwrap();
    let sig = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, sig).unwrap();
    block.signatures.push(Signature {
        keyid: "0".repeat(64),
        sig: hex::encode(sig),
        cert: None,
        bundle: Some(bundle),
    });
    Candidate::parse("build.00000000.link", &serde_json::to_vec(&block).unwrap()).unwrap()
}

/// Domain separation: a keyless signature on a classic link counts only as a DSSE envelope of
/// Hallmark's payload type over the canonical bytes. A message signature over the very same
/// bytes (what a blob signer makes over a file an attacker chose) is refused, as are an
/// envelope of another type and one over other bytes; each fully verifies as a bundle.
#[test]
fn a_classic_keyless_signature_must_be_hallmarks_dsse_envelope_of_the_link() {
    let w = world();
    let ok = classic_build_link(&w, |bytes| Options {
        dsse: true,
        payload: Some(bytes.to_vec()),
        payload_type: Some(hallmark_sigstore::intoto::SIGNED_PAYLOAD_TYPE.into()),
        ..Options::default()
    });
    let report = run(&w, &[ok], T0 + 3600).unwrap();
    assert_eq!(report.steps[0].accepted.len(), 1);

    let refused: [(&str, Candidate, &str); 3] = [
        (
            "message signature",
            classic_build_link(&w, |bytes| Options {
                payload: Some(bytes.to_vec()),
                ..Options::default()
            }),
            "the bundle holds a message signature, which any blob signer (hallmark sign, cosign sign-blob) makes over any file: a keyless signature on a classic link or layout must be a DSSE envelope of type application/vnd.hallmark.intoto-signed+json over its canonical signed bytes (domain separation)",
        ),
        (
            "in-toto payload type",
            classic_build_link(&w, |bytes| Options {
                dsse: true,
                payload: Some(bytes.to_vec()),
                ..Options::default()
            }),
            "the bundle's DSSE payload type is not application/vnd.hallmark.intoto-signed+json",
        ),
        (
            "other bytes",
            classic_build_link(&w, |_| Options {
                dsse: true,
                payload: Some(b"{}".to_vec()),
                payload_type: Some(hallmark_sigstore::intoto::SIGNED_PAYLOAD_TYPE.into()),
                ..Options::default()
            }),
            "the bundle's DSSE payload is not these canonical signed bytes",
        ),
    ];
    for (what, link, reason) in refused {
        let e = run(&w, &[link], T0 + 3600).unwrap_err();
        assert!(matches!(e, ChainError::Threshold { .. }), "{what}: {e}");
        let text = e.to_string();
        assert!(
            text.contains("build.00000000.link") && text.contains(reason),
            "{what}: {text}"
        );
    }
}
