//! The engine's pure logic with in-memory classic keys (keyless links are tested end to end
//! against a running stack in the CLI's `tests/intoto_verify.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;

use base64::Engine as _;
use hallmark_sigstore::intoto::{
    ArtifactRule, Expires, Inspection, Layout, LayoutKey, Link, Metablock, PublicKey, Signature,
    SignedLayout, SignedLink, Step,
};
use p256::ecdsa::{SigningKey, signature::Signer as _};
use p256::pkcs8::{EncodePublicKey, LineEnding};

use super::*;

/// A deterministic P-256 key and its classic public key dict.
pub(super) fn key(seed: u8) -> (SigningKey, PublicKey, String) {
    let sk = SigningKey::from_slice(&[seed; 32]).unwrap();
    let pem = sk
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let pk = PublicKey::ecdsa_p256(&pem);
    let id = pk.compute_keyid().unwrap();
    (sk, pk, id)
}

pub(super) fn sign<T: serde::Serialize>(mb: &mut Metablock<T>, sk: &SigningKey, keyid: &str) {
    let sig: p256::ecdsa::Signature = sk.sign(&mb.signed_bytes().unwrap());
    mb.signatures.push(Signature {
        keyid: keyid.to_owned(),
        sig: hex::encode(sig.to_der().as_bytes()),
        cert: None,
        bundle: None,
    });
}

fn rules(list: &[&str]) -> Vec<ArtifactRule> {
    list.iter().map(|r| r.parse().unwrap()).collect()
}

fn digest(tag: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("sha256".to_owned(), hex::encode(tag.as_bytes()))])
}

const NOW: i64 = 1_800_000_000;

struct Chain {
    layout: SignedLayout,
    owner: PublicKey,
    build: (SigningKey, String),
    package: (SigningKey, String),
}

/// checkout-free 2-step chain: build creates `app` from `src`; package matches `app` and
/// creates `app.tar`; an inspection matches `app.tar`.
fn chain() -> Chain {
    let (owner_sk, owner, owner_id) = key(1);
    let (bsk, bpk, bid) = key(2);
    let (psk, ppk, pid) = key(3);
    let mut layout = Layout::new(Expires::from_unix(NOW + 3600).unwrap());
    for pk in [bpk, ppk] {
        let (id, k) = LayoutKey::classic(pk).unwrap();
        layout.keys.insert(id, k);
    }
    let mut build = Step::new("build");
    build.pubkeys = vec![bid.clone()];
    build.expected_command = vec!["make".into()];
    build.expected_materials = rules(&["ALLOW src", "DISALLOW *"]);
    build.expected_products = rules(&["CREATE app", "DISALLOW *"]);
    let mut package = Step::new("package");
    package.pubkeys = vec![pid.clone()];
    package.expected_materials = rules(&["MATCH app WITH PRODUCTS FROM build", "DISALLOW *"]);
    package.expected_products = rules(&[
        "CREATE app.tar",
        "MATCH app WITH PRODUCTS FROM build",
        "DISALLOW *",
    ]);
    layout.steps = vec![build, package];
    let mut untar = Inspection::new("untar", vec!["tar".into(), "xf".into(), "app.tar".into()]);
    untar.expected_materials = rules(&[
        "MATCH app.tar WITH PRODUCTS FROM package",
        "DISALLOW app.tar",
    ]);
    layout.inspect = vec![untar];
    let mut signed = Metablock::new(layout);
    sign(&mut signed, &owner_sk, &owner_id);
    Chain {
        layout: signed,
        owner,
        build: (bsk, bid),
        package: (psk, pid),
    }
}

fn build_link() -> Link {
    let mut l = Link::new("build");
    l.command = vec!["make".into()];
    l.materials.insert("src".into(), digest("src"));
    l.products.insert("app".into(), digest("app"));
    l
}

fn package_link(app: &str) -> Link {
    let mut l = Link::new("package");
    l.materials.insert("app".into(), digest(app));
    l.products.insert("app".into(), digest(app));
    l.products.insert("app.tar".into(), digest("tar"));
    l
}

fn signed(link: Link, k: &(SigningKey, String)) -> SignedLink {
    let mut mb = Metablock::new(link);
    sign(&mut mb, &k.0, &k.1);
    mb
}

fn candidate(name: &str, mb: &SignedLink) -> Candidate {
    Candidate::parse(name, &serde_json::to_vec(mb).unwrap()).unwrap()
}

fn inspection_links() -> BTreeMap<String, Link> {
    let mut l = Link::new("untar");
    l.materials.insert("app.tar".into(), digest("tar"));
    BTreeMap::from([("untar".to_owned(), l)])
}

fn run(c: &Chain, links: &[Candidate], now: i64) -> Result<Report, ChainError> {
    let trust = LayoutTrust {
        keys: vec![c.owner.clone()],
        identities: Vec::new(),
    };
    let roots = TrustRoots::new();
    verify(
        &Input {
            layout: &c.layout,
            trust: &trust,
            roots: &roots,
            links,
            now,
        },
        inspection_links(),
    )
}

fn good_links(c: &Chain) -> Vec<Candidate> {
    vec![
        candidate("build.link", &signed(build_link(), &c.build)),
        candidate("package.link", &signed(package_link("app"), &c.package)),
    ]
}

#[test]
fn a_good_chain_verifies_and_reports_its_signers() {
    let c = chain();
    let report = run(&c, &good_links(&c), NOW).unwrap();
    assert_eq!(report.steps.len(), 2);
    assert_eq!(
        report.steps[0].accepted[0].signer,
        SignerId::Key {
            keyid: c.build.1.clone()
        }
    );
    assert_eq!(report.inspections, ["untar"]);
    // package ran no command although none is expected: no warning; build's matches.
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[test]
fn a_command_mismatch_is_a_warning() {
    let c = chain();
    let mut l = build_link();
    l.command = vec!["make".into(), "evil".into()];
    let links = vec![
        candidate("build.link", &signed(l, &c.build)),
        candidate("package.link", &signed(package_link("app"), &c.package)),
    ];
    let report = run(&c, &links, NOW).unwrap();
    assert!(
        report.warnings[0].contains("step 'build'"),
        "{:?}",
        report.warnings
    );
}

#[test]
fn a_tampered_link_is_rejected_by_name_and_key() {
    let c = chain();
    let mut mb = signed(build_link(), &c.build);
    mb.signed.products.insert("app".into(), digest("evil"));
    let links = vec![
        candidate("build.link", &mb),
        candidate("package.link", &signed(package_link("app"), &c.package)),
    ];
    let e = run(&c, &links, NOW).unwrap_err().to_string();
    assert!(
        e.contains("step 'build' needs links signed by 1 distinct"),
        "{e}"
    );
    assert!(
        e.contains(&format!("build.link signed by key {}", c.build.1)),
        "{e}"
    );
    assert!(
        e.contains("does not verify") || e.contains("signature"),
        "{e}"
    );
}

#[test]
fn a_link_by_another_key_does_not_count() {
    let c = chain();
    let links = vec![
        candidate("build.link", &signed(build_link(), &c.package)),
        candidate("package.link", &signed(package_link("app"), &c.package)),
    ];
    let e = run(&c, &links, NOW).unwrap_err().to_string();
    assert!(e.contains("not a functionary of this step"), "{e}");
    assert!(e.contains(&c.package.1), "{e}");
}

#[test]
fn an_expired_layout_fails() {
    let c = chain();
    let e = run(&c, &good_links(&c), NOW + 3600).unwrap_err();
    assert!(matches!(e, ChainError::LayoutExpired { .. }), "{e}");
    assert!(e.to_string().contains("expired at"), "{e}");
}

#[test]
fn a_changed_artifact_names_the_rule_and_the_artifact() {
    let c = chain();
    let links = vec![
        candidate("build.link", &signed(build_link(), &c.build)),
        candidate("package.link", &signed(package_link("other"), &c.package)),
    ];
    let e = run(&c, &links, NOW).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains(
            "package: expected_materials rule #2 'DISALLOW *': disallowed artifacts: app"
        ),
        "{text}"
    );
    assert!(
        text.contains("rule #1 'MATCH app WITH PRODUCTS FROM build' did not match it"),
        "{text}"
    );
    assert!(text.contains(&format!("key {}", c.package.1)), "{text}");
}

#[test]
fn a_missing_step_fails_its_threshold() {
    let c = chain();
    let links = vec![candidate("build.link", &signed(build_link(), &c.build))];
    let e = run(&c, &links, NOW).unwrap_err().to_string();
    assert!(
        e.contains("step 'package' (threshold 1): no link names this step"),
        "{e}"
    );
}

#[test]
fn the_threshold_counts_distinct_signers_and_links_must_agree() {
    let mut c = chain();
    let (osk, opk, oid) = key(9);
    let (id, k) = LayoutKey::classic(opk).unwrap();
    c.layout.signed.keys.insert(id, k);
    c.layout.signed.steps[0].threshold = 2;
    c.layout.signed.steps[0].pubkeys.push(oid.clone());
    c.layout.signatures.clear();
    let (owner_sk, _, owner_id) = key(1);
    sign(&mut c.layout, &owner_sk, &owner_id);
    let other = (osk, oid);
    // The same key twice counts once.
    let twice = vec![
        candidate("build.a.link", &signed(build_link(), &c.build)),
        candidate("build.b.link", &signed(build_link(), &c.build)),
        candidate("package.link", &signed(package_link("app"), &c.package)),
    ];
    let e = run(&c, &twice, NOW).unwrap_err().to_string();
    assert!(
        e.contains(
            "needs links signed by 2 distinct functionaries (threshold); 2 link(s) name it, 1 distinct signer(s) accepted"
        ) && e.contains("links by one signer count once"),
        "{e}"
    );
    // Two keys agreeing pass.
    let two = vec![
        candidate("build.a.link", &signed(build_link(), &c.build)),
        candidate("build.b.link", &signed(build_link(), &other)),
        candidate("package.link", &signed(package_link("app"), &c.package)),
    ];
    run(&c, &two, NOW).unwrap();
    // Two keys disagreeing fail, naming the artifact.
    let mut changed = build_link();
    changed.products.insert("app".into(), digest("evil"));
    let disagree = vec![
        candidate("build.a.link", &signed(build_link(), &c.build)),
        candidate("build.b.link", &signed(changed, &other)),
        candidate("package.link", &signed(package_link("app"), &c.package)),
    ];
    let e = run(&c, &disagree, NOW).unwrap_err().to_string();
    assert!(e.contains("disagree on products artifact app"), "{e}");
}

#[test]
fn layout_trust_is_required_and_checked() {
    let c = chain();
    let roots = TrustRoots::new();
    let links = good_links(&c);
    let input = |trust| Input {
        layout: &c.layout,
        trust,
        roots: &roots,
        links: &links,
        now: NOW,
    };
    let none = LayoutTrust::default();
    assert!(matches!(
        verify_steps(&input(&none)),
        Err(ChainError::NoLayoutTrust)
    ));
    let wrong = LayoutTrust {
        keys: vec![key(7).1],
        identities: Vec::new(),
    };
    let e = verify_steps(&input(&wrong)).unwrap_err().to_string();
    assert!(
        e.contains(&format!("layout signature by key {}", key(7).2)),
        "{e}"
    );
    let mut tampered = c.layout.clone();
    tampered.signed.readme = "changed".into();
    let trust = LayoutTrust {
        keys: vec![c.owner.clone()],
        identities: Vec::new(),
    };
    let e = verify_steps(&Input {
        layout: &tampered,
        ..input(&trust)
    })
    .unwrap_err();
    assert!(matches!(e, ChainError::LayoutKey { .. }), "{e}");
}

#[test]
fn dsse_links_of_in_toto_python_verify() {
    let c = chain();
    let payload = serde_json::to_vec(&build_link()).unwrap();
    let pae = hallmark_sigstore::dsse_pae("application/vnd.in-toto+json", &payload);
    let sig: p256::ecdsa::Signature = c.build.0.sign(&pae);
    let b64 = base64::engine::general_purpose::STANDARD;
    let env = serde_json::json!({
        "payload": b64.encode(&payload),
        "payloadType": "application/vnd.in-toto+json",
        "signatures": [{"keyid": c.build.1, "sig": b64.encode(sig.to_der().as_bytes())}],
    });
    let links = vec![
        Candidate::parse("build.link", &serde_json::to_vec(&env).unwrap()).unwrap(),
        candidate("package.link", &signed(package_link("app"), &c.package)),
    ];
    run(&c, &links, NOW).unwrap();
}

#[test]
fn sublayouts_and_foreign_files_are_refused() {
    let c = chain();
    let bytes = serde_json::to_vec(&c.layout).unwrap();
    assert!(matches!(
        Candidate::parse("sub.link", &bytes),
        Err(ChainError::Sublayout { .. })
    ));
    let e = Candidate::parse("x.link", b"{\"a\": 1}")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("x.link: neither"), "{e}");
}

#[test]
fn a_missing_inspection_link_fails() {
    let c = chain();
    let trust = LayoutTrust {
        keys: vec![c.owner.clone()],
        identities: Vec::new(),
    };
    let roots = TrustRoots::new();
    let links = good_links(&c);
    let steps = verify_steps(&Input {
        layout: &c.layout,
        trust: &trust,
        roots: &roots,
        links: &links,
        now: NOW,
    })
    .unwrap();
    assert_eq!(steps.inspections()[0].name, "untar");
    let e = steps.finish(BTreeMap::new()).unwrap_err().to_string();
    assert!(e.contains("untar"), "{e}");
}
