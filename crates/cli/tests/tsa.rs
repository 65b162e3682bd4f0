//! The RFC 3161 timestamp authority end to end: `hallmark serve` on SoftHSM after `ca init`
//! (which made the TSA key and certificate), queried and checked by stock `openssl ts`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{Stack, bin, run};
use hallmark_sigstore::rfc3161::ParsedResponse;

/// `POST /api/v1/timestamp` with a DER query; status and the reply's bytes.
fn stamp(stack: &Stack, query: &[u8]) -> (u16, Vec<u8>) {
    let mut resp = ureq::post(format!("{}/api/v1/timestamp", stack.url))
        .config()
        .http_status_as_error(false)
        .build()
        .header("content-type", "application/timestamp-query")
        .send(query)
        .unwrap();
    let status = resp.status().as_u16();
    assert_eq!(
        resp.headers()["content-type"],
        "application/timestamp-reply"
    );
    (status, resp.body_mut().read_to_vec().unwrap())
}

fn openssl(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed")
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The `Nonce:` line of `openssl ts -query|-reply -text`.
fn nonce_line(out: &str) -> String {
    out.lines()
        .find(|l| l.starts_with("Nonce:"))
        .unwrap_or_else(|| panic!("no nonce in {out}"))
        .to_owned()
}

#[test]
fn openssl_verifies_hallmark_timestamps_and_refuses_other_data() {
    let mut stack = Stack::start(&bin()).unwrap();
    let dir = stack.dir().join("ts");
    std::fs::create_dir_all(&dir).unwrap();

    // The chain, leaf first, from the static endpoint.
    let (status, chain) = stack.get("/api/v1/timestamp/certchain").unwrap();
    assert_eq!(status, 200);
    let blocks = hallmark_sigstore::pem::decode_all(chain.as_bytes()).unwrap();
    assert_eq!(blocks.len(), 2, "leaf and root");
    let pem = |der: &[u8]| {
        use der::{Decode as _, EncodePem as _};
        x509_cert::Certificate::from_der(der)
            .unwrap()
            .to_pem(der::pem::LineEnding::LF)
            .unwrap()
    };
    std::fs::write(dir.join("leaf.pem"), pem(&blocks[0].der)).unwrap();
    std::fs::write(dir.join("root.pem"), pem(&blocks[1].der)).unwrap();
    let leaf_text = text(&openssl(
        &dir,
        &["x509", "-in", "leaf.pem", "-noout", "-text"],
    ));
    assert!(
        leaf_text.contains("X509v3 Extended Key Usage: critical")
            && leaf_text.contains("Time Stamping"),
        "{leaf_text}"
    );
    std::fs::write(dir.join("data"), b"what hallmark stamps").unwrap();
    std::fs::write(dir.join("other"), b"something else").unwrap();

    // A query with a nonce and certReq, as `openssl ts -query` makes it.
    let q = openssl(
        &dir,
        &[
            "ts", "-query", "-data", "data", "-sha256", "-cert", "-out", "q.tsq",
        ],
    );
    assert!(q.status.success(), "{}", text(&q));
    let (status, reply) = stamp(&stack, &std::fs::read(dir.join("q.tsq")).unwrap());
    assert_eq!(status, 200);
    std::fs::write(dir.join("r.tsr"), &reply).unwrap();
    assert_eq!(ParsedResponse::from_der(&reply).unwrap().certificates, 1);
    let verify = |query: &[&str], reply: &str, untrusted: bool| {
        let mut args = vec!["ts", "-verify"];
        args.extend_from_slice(query);
        args.extend_from_slice(&["-in", reply, "-CAfile", "root.pem"]);
        if untrusted {
            args.extend_from_slice(&["-untrusted", "leaf.pem"]);
        }
        openssl(&dir, &args)
    };
    let ok = verify(&["-queryfile", "q.tsq"], "r.tsr", true);
    assert!(text(&ok).contains("Verification: OK"), "{}", text(&ok));
    let ok = verify(&["-data", "data"], "r.tsr", false);
    assert!(text(&ok).contains("Verification: OK"), "{}", text(&ok));
    let bad = verify(&["-data", "other"], "r.tsr", true);
    assert!(!bad.status.success(), "{}", text(&bad));
    assert!(text(&bad).contains("FAILED"), "{}", text(&bad));

    // The nonce is echoed.
    let q_text = text(&openssl(&dir, &["ts", "-query", "-in", "q.tsq", "-text"]));
    let r_text = text(&openssl(&dir, &["ts", "-reply", "-in", "r.tsr", "-text"]));
    assert_eq!(nonce_line(&q_text), nonce_line(&r_text));
    assert!(
        r_text.contains("Policy OID: 1.3.6.1.4.1.57264.2"),
        "{r_text}"
    );

    // Without certReq the token carries no certificate; it still verifies with the chain.
    let q = openssl(
        &dir,
        &["ts", "-query", "-data", "data", "-sha512", "-out", "q2.tsq"],
    );
    assert!(q.status.success());
    let (status, reply) = stamp(&stack, &std::fs::read(dir.join("q2.tsq")).unwrap());
    assert_eq!(status, 200);
    std::fs::write(dir.join("r2.tsr"), &reply).unwrap();
    assert_eq!(ParsedResponse::from_der(&reply).unwrap().certificates, 0);
    let ok = verify(&["-queryfile", "q2.tsq"], "r2.tsr", true);
    assert!(text(&ok).contains("Verification: OK"), "{}", text(&ok));

    // Another policy, or SHA-1: refused with an RFC 3161 rejection.
    for (args, reason) in [
        (
            vec!["-sha256", "-tspolicy", "1.2.3.4"],
            "TSA policy is not supported",
        ),
        (vec!["-sha1"], "unsupported algorithm"),
    ] {
        let mut a = vec!["ts", "-query", "-data", "data", "-out", "bad.tsq"];
        a.extend_from_slice(&args);
        assert!(openssl(&dir, &a).status.success());
        let (status, reply) = stamp(&stack, &std::fs::read(dir.join("bad.tsq")).unwrap());
        assert_eq!(status, 400);
        std::fs::write(dir.join("bad.tsr"), &reply).unwrap();
        let t = text(&openssl(&dir, &["ts", "-reply", "-in", "bad.tsr", "-text"]));
        assert!(t.contains("Status: Rejected"), "{t}");
        assert!(t.contains(reason), "{args:?}: {t}");
    }

    // The trust material names the TSA: chain leaf then root, and the URL in the signing config.
    let out = run(stack
        .command()
        .args(["trust-root", "--url", &stack.url, "--config"])
        .arg(stack.config()));
    let config: serde_json::Value = serde_json::from_str(&out).unwrap();
    let tsa = &config["trustedRoot"]["timestampAuthorities"][0];
    let chain = tsa["certChain"]["certificates"].as_array().unwrap();
    assert_eq!(chain.len(), 2);
    let raw = |i: usize| {
        base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            chain[i]["rawBytes"].as_str().unwrap(),
        )
        .unwrap()
    };
    assert_eq!(
        (raw(0), raw(1)),
        (blocks[0].der.clone(), blocks[1].der.clone())
    );
    let url = format!("{}/api/v1/timestamp", stack.url);
    assert_eq!(tsa["uri"], url.as_str());
    let tsa_urls = &config["signingConfig"]["tsaUrls"];
    assert_eq!(tsa_urls[0]["url"], url.as_str());
    assert_eq!(tsa_urls[0]["majorApiVersion"], 1);

    // ca init-tsa never overwrites.
    let again = stack
        .command()
        .args(["ca", "init-tsa", "--config"])
        .arg(stack.config())
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(text(&again).contains("already exists"), "{}", text(&again));

    // A CA without a TSA certificate (made before the TSA existed) gets one from init-tsa,
    // signed by the root, for the existing key; the server serves it after a restart.
    std::fs::remove_file(find(stack.dir(), "tsa.pem").expect("ca init wrote tsa.pem")).unwrap();
    let out = run(stack
        .command()
        .args(["ca", "init-tsa", "--config"])
        .arg(stack.config()));
    assert!(out.contains("already exists; kept"), "{out}");
    assert!(
        out.contains("wrote the timestamp authority certificate"),
        "{out}"
    );
    stack.restart().unwrap();
    let (_, chain) = stack.get("/api/v1/timestamp/certchain").unwrap();
    let renewed = hallmark_sigstore::pem::decode_all(chain.as_bytes()).unwrap();
    assert_ne!(renewed[0].der, blocks[0].der, "a new leaf");
    assert_eq!(renewed[1].der, blocks[1].der, "the same root");
    let (status, _) = stamp(&stack, &std::fs::read(dir.join("q.tsq")).unwrap());
    assert_eq!(status, 200);
}

/// The first file called `name` under `dir`.
fn find(dir: &Path, name: &str) -> Option<std::path::PathBuf> {
    for entry in std::fs::read_dir(dir).ok()? {
        let path = entry.ok()?.path();
        if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
        if path.is_dir()
            && let Some(found) = find(&path, name)
        {
            return Some(found);
        }
    }
    None
}
