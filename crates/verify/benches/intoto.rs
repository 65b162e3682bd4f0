//! `hallmark_verify::intoto` on a 4-step layout with 10,000 artifacts per step, classic-key
//! links (ECDSA P-256), MATCH rules between consecutive steps; beside it, in the same run, the
//! parsing of the layout and links alone and the bare rule engine
//! (`hallmark_sigstore::intoto::apply_rules`) alone.
//!
//! `cargo bench -p hallmark-verify --bench intoto` (`BENCH_RUNS` runs each, default 10;
//! `BENCH_ARTIFACTS` per step, default 10000). A plain harness like the workspace's other
//! benchmarks: best and median wall time of the runs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hallmark_sigstore::intoto::{
    ArtifactSide, Expires, Layout, LayoutKey, Link, Metablock, PublicKey, Signature, SignedLayout,
    Step, apply_rules,
};
use hallmark_verify::intoto::{Candidate, Input, LayoutTrust, TrustRoots, verify};
use p256::ecdsa::{SigningKey, signature::Signer as _};
use p256::pkcs8::{EncodePublicKey, LineEnding};

const STEPS: [&str; 4] = ["checkout", "build", "scan", "package"];
const NOW: i64 = 1_800_000_000;

fn key(seed: u8) -> (SigningKey, PublicKey, String) {
    let sk = SigningKey::from_slice(&[seed; 32]).unwrap();
    let pem = sk
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let pk = PublicKey::ecdsa_p256(&pem);
    let id = pk.compute_keyid().unwrap();
    (sk, pk, id)
}

fn sign<T: serde::Serialize>(mb: &mut Metablock<T>, sk: &SigningKey, keyid: &str) {
    let sig: p256::ecdsa::Signature = sk.sign(&mb.signed_bytes().unwrap());
    mb.signatures.push(Signature {
        keyid: keyid.to_owned(),
        sig: hex::encode(sig.to_der().as_bytes()),
        cert: None,
        bundle: None,
    });
}

/// Files by name, as JSON bytes.
type Files = Vec<(String, Vec<u8>)>;

/// The layout and link files (JSON bytes), and the layout key.
fn fixture(n: usize) -> (Vec<u8>, Files, PublicKey) {
    let (owner_sk, owner, owner_id) = key(1);
    let mut layout = Layout::new(Expires::from_unix(NOW + 3600).unwrap());
    let mut functionaries = Vec::new();
    for (i, name) in STEPS.iter().enumerate() {
        let (sk, pk, id) = key(10 + i as u8);
        let (kid, k) = LayoutKey::classic(pk).unwrap();
        layout.keys.insert(kid, k);
        let mut step = Step::new(*name);
        step.pubkeys = vec![id.clone()];
        let r = |s: &str| s.parse().unwrap();
        if i == 0 {
            step.expected_products = vec![r("CREATE *"), r("DISALLOW *")];
        } else {
            let prev = STEPS[i - 1];
            step.expected_materials = vec![
                r(&format!("MATCH * WITH PRODUCTS FROM {prev}")),
                r("DISALLOW *"),
            ];
            step.expected_products = vec![
                r(&format!("MATCH * WITH PRODUCTS FROM {prev}")),
                r("DISALLOW *"),
            ];
        }
        layout.steps.push(step);
        functionaries.push((sk, id));
    }
    let mut signed = Metablock::new(layout);
    sign(&mut signed, &owner_sk, &owner_id);
    let artifacts: BTreeMap<String, BTreeMap<String, String>> = (0..n)
        .map(|i| {
            let path = format!("src/module{:03}/file{i:05}.rs", i % 100);
            let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(path.as_bytes()));
            (path, BTreeMap::from([("sha256".to_owned(), digest)]))
        })
        .collect();
    let links = STEPS
        .iter()
        .zip(&functionaries)
        .enumerate()
        .map(|(i, (name, (sk, id)))| {
            let mut l = Link::new(*name);
            if i > 0 {
                l.materials = artifacts.clone();
            }
            l.products = artifacts.clone();
            let mut mb = Metablock::new(l);
            sign(&mut mb, sk, id);
            (
                format!("{name}.{}.link", &id[..8]),
                serde_json::to_vec(&mb).unwrap(),
            )
        })
        .collect();
    (serde_json::to_vec(&signed).unwrap(), links, owner)
}

fn measure(runs: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    times.sort();
    (times[0], times[times.len() / 2])
}

fn main() {
    let env = |k: &str, d: usize| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let runs = env("BENCH_RUNS", 10).max(1);
    let n = env("BENCH_ARTIFACTS", 10_000);
    let (layout_bytes, link_files, owner) = fixture(n);
    let bytes: usize = link_files.iter().map(|(_, b)| b.len()).sum();
    println!(
        "intoto verify: {} steps x {n} artifacts, {:.1} MiB of links; best / median of {runs} runs",
        STEPS.len(),
        bytes as f64 / (1 << 20) as f64
    );

    let parse = || {
        let layout = SignedLayout::parse(&layout_bytes).unwrap();
        let links: Vec<Candidate> = link_files
            .iter()
            .map(|(name, b)| Candidate::parse(name.clone(), b).unwrap())
            .collect();
        (layout, links)
    };
    let (layout, candidates) = parse();
    let trust = LayoutTrust {
        keys: vec![owner],
        identities: Vec::new(),
    };
    let roots = TrustRoots::new();
    let input = Input {
        layout: &layout,
        trust: &trust,
        roots: &roots,
        links: &candidates,
        now: NOW,
    };
    let by_step: BTreeMap<String, Link> = candidates
        .iter()
        .map(|c| (c.step().to_owned(), c.link().clone()))
        .collect();

    let rows = [
        ("parse (layout + 4 links)", measure(runs, || drop(parse()))),
        (
            "verify (signatures, thresholds, rules)",
            measure(runs, || {
                verify(&input, BTreeMap::new()).unwrap();
            }),
        ),
        (
            "bare rule engine (apply_rules x 8)",
            measure(runs, || {
                for step in &layout.signed.steps {
                    apply_rules(
                        &step.name,
                        ArtifactSide::Materials,
                        &step.expected_materials,
                        &by_step,
                    )
                    .unwrap();
                    apply_rules(
                        &step.name,
                        ArtifactSide::Products,
                        &step.expected_products,
                        &by_step,
                    )
                    .unwrap();
                }
            }),
        ),
        (
            "parse + verify",
            measure(runs, || {
                let (layout, links) = parse();
                let input = Input {
                    layout: &layout,
                    links: &links,
                    ..input
                };
                verify(&input, BTreeMap::new()).unwrap();
            }),
        ),
    ];
    println!("{:<40} {:>10} {:>10}", "phase", "best ms", "median ms");
    for (name, (best, median)) in rows {
        println!(
            "{name:<40} {:>10.1} {:>10.1}",
            best.as_secs_f64() * 1e3,
            median.as_secs_f64() * 1e3
        );
    }
}
