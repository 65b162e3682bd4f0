//! Classic in-toto documents written by stock in-toto-python (see
//! `fixtures/intoto/README.md`): parsed, re-serialized to the bytes their signatures cover,
//! checked with the spec layer's signature verification, and the layout's rules applied to
//! the link. Plus Hallmark's keyless functionary keys.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::BTreeMap;

use base64::Engine;
use hallmark_sigstore::HashAlgorithm;
use hallmark_sigstore::crypto::{PublicKey, Scheme};
use hallmark_sigstore::intoto::{
    self, ArtifactSide, Expires, IdentityMismatch, IntotoError, LayoutKey, OidcFunctionary,
    SignedLayout, SignedLink, TextMatch, TrustRootRef, apply_rules, cjson,
};
use hallmark_sigstore::oid::CiExtension;
use sha2::{Digest, Sha256};

const LAYOUT: &[u8] = include_bytes!("fixtures/intoto/root.layout");
const LINK: &[u8] = include_bytes!("fixtures/intoto/write-code.63d00ee3.link");
/// SHA-256 of in-toto-python's `Layout.signable_bytes` for `root.layout`.
const SIGNABLE_SHA256: &str = "13eecacb32d9495cf1d135262dd4116fde1ff90c4fce50b3979221940bfba5eb";
/// SHA-256 of in-toto-python's `Link.signable_bytes` for the link.
const LINK_SIGNABLE_SHA256: &str =
    "c45b0881f18c076728936f92c0e68bb8da8e63ca2e884b1ce06e56dbc22c666e";
const OWNER_KEYID: &str = "55445b6b43db73c0371eac481a6ca1d12d6a0fe792c4883ee7f8eccf960ebdd5";
const ALICE_KEYID: &str = "63d00ee3cf4f5c61ad94efa696c68f13b608fe56ecea13fb144a6fd18e9235b9";
const OWNER_PEM: &str = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEn62Erq4Iu+9/AQAU2CzvagneKwz4\ncbXODE8dE6WaWTQHy0V2nxBw4sJHD+Wxv+YxM8CwzcZOpL83kajsKgf9Tw==\n-----END PUBLIC KEY-----\n";

fn pem_der(pem: &str) -> Vec<u8> {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

#[test]
fn layout_from_in_toto_python_verifies() {
    let layout = SignedLayout::parse(LAYOUT).unwrap();
    let bytes = layout.signed_bytes().unwrap();
    assert_eq!(hex::encode(Sha256::digest(&bytes)), SIGNABLE_SHA256);
    let sig = layout.signature_by(OWNER_KEYID).unwrap();
    let owner = PublicKey::from_spki_der(&pem_der(OWNER_PEM)).unwrap();
    owner
        .verify(
            Scheme::Ecdsa(HashAlgorithm::Sha256),
            &bytes,
            &hex::decode(&sig.sig).unwrap(),
        )
        .unwrap();
    assert_eq!(
        intoto::PublicKey::ecdsa_p256(OWNER_PEM)
            .compute_keyid()
            .unwrap(),
        OWNER_KEYID
    );

    // Typed content, lower-case rules kept as written.
    let l = &layout.signed;
    assert_eq!(l.expires.to_string(), "2030-01-01T00:00:00Z");
    assert_eq!(l.steps[1].expected_materials[0].tokens()[0], "match");
    let LayoutKey::Classic(alice) = &l.keys[ALICE_KEYID] else {
        panic!("classic key expected")
    };
    assert_eq!(alice.compute_keyid().unwrap(), ALICE_KEYID);
    assert_eq!(l.functionaries(&l.steps[0]).count(), 1);

    // Re-serialized JSON parses to the same layout.
    let again = SignedLayout::parse(&serde_json::to_vec(&layout).unwrap()).unwrap();
    assert_eq!(again, layout);

    // A field in-toto-python would drop is refused (the signature would not cover it).
    let mut v: serde_json::Value = serde_json::from_slice(LAYOUT).unwrap();
    v["signed"]["steps"][0]["functionaries"] = serde_json::json!([]);
    assert!(SignedLayout::parse(&serde_json::to_vec(&v).unwrap()).is_err());
}

#[test]
fn link_from_in_toto_run_verifies_and_satisfies_the_layout() {
    let link = SignedLink::parse(LINK).unwrap();
    let bytes = link.signed_bytes().unwrap();
    assert_eq!(hex::encode(Sha256::digest(&bytes)), LINK_SIGNABLE_SHA256);
    let sig = link.signature_by(ALICE_KEYID).unwrap();
    assert_eq!(
        link.signed.file_name(&sig.keyid),
        "write-code.63d00ee3.link"
    );
    let layout = SignedLayout::parse(LAYOUT).unwrap().signed;
    let LayoutKey::Classic(alice) = &layout.keys[ALICE_KEYID] else {
        panic!("classic key expected")
    };
    let mut spki = hex::decode("302a300506032b6570032100").unwrap();
    spki.extend(hex::decode(&alice.keyval.public).unwrap());
    PublicKey::from_spki_der(&spki)
        .unwrap()
        .verify(Scheme::Ed25519, &bytes, &hex::decode(&sig.sig).unwrap())
        .unwrap();
    link.verify_signature(ALICE_KEYID, alice).unwrap();
    // The same link as in-toto-python's DSSE payload.
    let payload = serde_json::to_vec(&link.signed).unwrap();
    assert_eq!(intoto::Link::parse_payload(&payload).unwrap(), link.signed);
    assert_eq!(
        link.signed.products["foo.py"]["sha256"],
        hex::encode(Sha256::digest(b"print('hi')\n"))
    );

    let links = BTreeMap::from([("write-code".to_owned(), link.signed.clone())]);
    let step = &layout.steps[0];
    apply_rules(
        &step.name,
        ArtifactSide::Products,
        &step.expected_products,
        &links,
    )
    .unwrap();
    // The link as a Statement v1 and back.
    assert_eq!(link.signed.to_statement().to_link().unwrap(), link.signed);
}

/// Hallmark's keyless functionary: a `hallmark-oidc` key. Key id from securesystemslib's
/// `compute_default_keyid("hallmark-oidc", "hallmark-oidc-v1", keyval)` (make_fixtures.py).
#[test]
fn oidc_functionary_key() {
    let f = OidcFunctionary {
        issuer: TextMatch::Exact("https://token.actions.githubusercontent.com".into()),
        identity: TextMatch::Regex(
            intoto::AnchoredRegex::new(
                r"https://github.com/acme/app/\.github/workflows/.*@refs/heads/main",
            )
            .unwrap(),
        ),
        extensions: BTreeMap::from([(
            CiExtension::SourceRepositoryUri,
            TextMatch::Exact("https://github.com/acme/app".into()),
        )]),
        trust_root: TrustRootRef([0xab; 32]),
    };
    let (keyid, key) = LayoutKey::oidc(f.clone()).unwrap();
    assert_eq!(
        keyid,
        "9fc0f79c5af17cf6de85f3764ee61e766c24039fe605e678d6060e546ea5129b"
    );
    let json = serde_json::to_value(&key).unwrap();
    assert_eq!(json["keytype"], "hallmark-oidc");
    assert_eq!(
        json["keyval"]["identity"]["regex"],
        r"https://github.com/acme/app/\.github/workflows/.*@refs/heads/main"
    );
    assert_eq!(
        json["keyval"]["extensions"]["sourceRepositoryURI"],
        "https://github.com/acme/app"
    );
    assert_eq!(
        json["keyval"]["trust_root"],
        format!("sha256:{}", "ab".repeat(32))
    );
    let back: LayoutKey = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, key);
    // Extensions by name only: an OID or arc alias would re-serialize as the name, changing
    // the signed bytes and the key id.
    for alias in ["1.3.6.1.4.1.57264.1.12", "12"] {
        let mut by_alias = json.clone();
        by_alias["keyval"]["extensions"] =
            serde_json::json!({alias: "https://github.com/acme/app"});
        let e = serde_json::from_value::<LayoutKey>(by_alias).unwrap_err();
        assert!(e.to_string().contains("OIDs are not accepted"), "{e}");
    }

    let ext = |e: CiExtension| {
        (e == CiExtension::SourceRepositoryUri).then_some("https://github.com/acme/app")
    };
    let wf = "https://github.com/acme/app/.github/workflows/build.yml@refs/heads/main";
    f.check("https://token.actions.githubusercontent.com", wf, ext)
        .unwrap();
    // Anchored: a prefix or suffix is not enough.
    assert!(matches!(
        f.check(
            "https://token.actions.githubusercontent.com",
            &format!("{wf}x"),
            ext
        ),
        Err(IdentityMismatch::Identity { .. })
    ));
    assert!(matches!(
        f.check("https://issuer.example", wf, ext),
        Err(IdentityMismatch::Issuer { .. })
    ));
    let err = f
        .check("https://token.actions.githubusercontent.com", wf, |_| None)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "certificate extension sourceRepositoryURI (1.3.6.1.4.1.57264.1.12) is None, which does not match \"https://github.com/acme/app\""
    );

    // Refusals: bad regex, unknown extension, bad trust root, wrong scheme.
    let mut bad = json.clone();
    bad["keyval"]["identity"] = serde_json::json!({"regex": "("});
    assert!(serde_json::from_value::<LayoutKey>(bad).is_err());
    let mut bad = json.clone();
    bad["keyval"]["extensions"] = serde_json::json!({"repo": "x"});
    assert!(
        serde_json::from_value::<LayoutKey>(bad)
            .unwrap_err()
            .to_string()
            .contains("unknown certificate extension")
    );
    let mut bad = json.clone();
    bad["keyval"]["trust_root"] = serde_json::json!("sha256:ab");
    assert!(serde_json::from_value::<LayoutKey>(bad).is_err());
    let mut bad = json;
    bad["scheme"] = serde_json::json!("ed25519");
    assert!(serde_json::from_value::<LayoutKey>(bad).is_err());
}

#[test]
fn layout_rules_beyond_serde() {
    let mut v: serde_json::Value = serde_json::from_slice(LAYOUT).unwrap();
    v["signed"]["steps"][1]["name"] = serde_json::json!("untar");
    let e = SignedLayout::parse(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(e.to_string().contains("must be unique"), "{e}");

    let mut v: serde_json::Value = serde_json::from_slice(LAYOUT).unwrap();
    v["signed"]["steps"][0]["pubkeys"] = serde_json::json!(["abcd"]);
    let e = SignedLayout::parse(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(e.to_string().contains("steps.write-code.pubkeys"), "{e}");

    let mut v: serde_json::Value = serde_json::from_slice(LAYOUT).unwrap();
    v["signed"]["keys"][ALICE_KEYID]["keyid"] = serde_json::json!(OWNER_KEYID);
    assert!(matches!(
        SignedLayout::parse(&serde_json::to_vec(&v).unwrap()),
        Err(IntotoError::Invalid { .. })
    ));

    for bad in [
        "2030-01-01",
        "2030-01-01T00:00:00+00:00",
        "2030-02-30T00:00:00Z",
        "2030-01-01T00:00:00.5Z",
    ] {
        assert!(Expires::parse(bad).is_err(), "{bad}");
    }
    let e = Expires::parse("2030-01-01T00:00:00Z").unwrap();
    assert_eq!(Expires::from_unix(e.unix()).unwrap(), e);
    assert!(e.is_expired_at(e.unix()) && !e.is_expired_at(e.unix() - 1));
    let mut v: serde_json::Value = serde_json::from_slice(LAYOUT).unwrap();
    v["signed"]["expires"] = serde_json::json!("tomorrow");
    assert!(SignedLayout::parse(&serde_json::to_vec(&v).unwrap()).is_err());

    // Canonical JSON refuses floats anywhere in a signed document.
    let mut link = SignedLink::parse(LINK).unwrap();
    link.signed
        .environment
        .insert("load".into(), serde_json::json!(0.5));
    assert!(matches!(
        link.signed_bytes(),
        Err(IntotoError::Float { .. })
    ));
    assert!(cjson::encode(&serde_json::json!(1)).is_ok());
}

/// What `hallmark intoto` will build: a layout naming one keyless and one classic functionary,
/// signed as a Metablock; it parses back to itself.
#[test]
fn build_a_layout() {
    use hallmark_sigstore::intoto::{ArtifactRule, Layout, Metablock, Signature, Step};
    let (oidc_id, oidc) = LayoutKey::oidc(OidcFunctionary {
        issuer: TextMatch::Exact("https://issuer.example".into()),
        identity: TextMatch::Exact("builder@example.com".into()),
        extensions: BTreeMap::new(),
        trust_root: TrustRootRef::of_document(b"{}").unwrap(),
    })
    .unwrap();
    let (classic_id, classic) =
        LayoutKey::classic(intoto::PublicKey::ecdsa_p256(OWNER_PEM)).unwrap();
    assert_eq!(classic_id, OWNER_KEYID);
    let mut layout = Layout::new(Expires::parse("2030-01-01T00:00:00Z").unwrap());
    layout.keys.insert(oidc_id.clone(), oidc);
    layout.keys.insert(classic_id.clone(), classic);
    let mut build = Step::new("build");
    build.pubkeys = vec![oidc_id, classic_id];
    build.threshold = 2;
    build.expected_products = vec![
        "CREATE app".parse::<ArtifactRule>().unwrap(),
        "DISALLOW *".parse().unwrap(),
    ];
    layout.steps.push(build);
    layout.validate().unwrap();
    let mut signed = Metablock::new(layout);
    signed.signatures.push(Signature {
        keyid: OWNER_KEYID.into(),
        sig: "00".into(),
        cert: None,
        bundle: None,
    });
    let bytes = serde_json::to_vec_pretty(&signed).unwrap();
    assert_eq!(SignedLayout::parse(&bytes).unwrap(), signed);
    let canonical = String::from_utf8(signed.signed_bytes().unwrap()).unwrap();
    assert!(
        canonical.starts_with(
            r#"{"_type":"layout","expires":"2030-01-01T00:00:00Z","inspect":[],"keys":{"#
        ),
        "{canonical}"
    );
}

/// A layout's patterns are read before its signature is checked: the regex form takes no
/// other member (it would be dropped from the key id and the signed bytes), and an overlong or
/// oversized pattern is refused instead of compiled.
#[test]
fn hostile_patterns_are_refused() {
    let parse = |v: serde_json::Value| serde_json::from_value::<TextMatch>(v);
    assert!(matches!(
        parse(serde_json::json!({"regex": "a.*"})).unwrap(),
        TextMatch::Regex(_)
    ));
    let extra = parse(serde_json::json!({"regex": "a.*", "flags": "i"}));
    assert!(extra.is_err(), "an unknown member was accepted");
    let long = "a".repeat(hallmark_sigstore::intoto::layout::MAX_REGEX_LEN + 1);
    let err = parse(serde_json::json!({ "regex": long })).unwrap_err();
    assert!(err.to_string().contains("longer than"), "{err}");
    // Short to write, huge once compiled: nested counted repetitions.
    let err = parse(serde_json::json!({"regex": "((a{100}){100}){100}"})).unwrap_err();
    assert!(err.to_string().contains("regular expression"), "{err}");
}

/// A trust-root reference names the root, not its file: re-indented, reordered or wrapped in a
/// ClientTrustConfig it is the same; a changed root is not; non-objects are refused.
#[test]
fn trust_root_reference_is_canonical() {
    let bare = br#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[{"baseUrl":"http://x","logId":{"keyId":"AAEC"}}],"certificateAuthorities":[]}"#;
    let pretty = br#"{
      "certificateAuthorities": [],
      "tlogs": [ { "logId": { "keyId": "AAEC" }, "baseUrl": "http://x" } ],
      "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
    }"#;
    let wrapped = format!(
        r#"{{"mediaType":"application/vnd.dev.sigstore.clienttrustconfig.v0.1+json","signingConfig":{{"caUrls":[]}},"trustedRoot":{}}}"#,
        std::str::from_utf8(bare).unwrap()
    );
    let r = TrustRootRef::of_document(bare).unwrap();
    assert_eq!(TrustRootRef::of_document(pretty).unwrap(), r);
    assert_eq!(TrustRootRef::of_document(wrapped.as_bytes()).unwrap(), r);
    let changed = String::from_utf8(bare.to_vec())
        .unwrap()
        .replace("AAEC", "AAED");
    assert_ne!(TrustRootRef::of_document(changed.as_bytes()).unwrap(), r);
    // The value is SHA-256 of the canonical form, as securesystemslib would encode it.
    let canonical = br#"{"certificateAuthorities":[],"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[{"baseUrl":"http://x","logId":{"keyId":"AAEC"}}]}"#;
    assert_eq!(r.0, <[u8; 32]>::from(Sha256::digest(canonical)));
    assert!(TrustRootRef::of_document(b"[1]").is_err());
    assert!(TrustRootRef::of_document(b"not json").is_err());
}

/// A functionary's pattern that closes the anchoring group early is refused (it would match
/// any identity once wrapped in `^(?:...)$`); alternations stay anchored.
#[test]
fn identity_patterns_cannot_escape_their_anchors() {
    use hallmark_sigstore::intoto::AnchoredRegex;
    for escape in [r"alice@corp\.com)|(.*", r".*)|(?:x", ")("] {
        assert!(AnchoredRegex::new(escape).is_err(), "{escape}");
    }
    let r = AnchoredRegex::new(r"alice@corp\.com|bob@corp\.com").unwrap();
    assert!(r.is_match("bob@corp.com"));
    assert!(!r.is_match("mallory@evil.com") && !r.is_match("bob@corp.com.evil"));
}
