//! Losing the HSM mid-run: requests get 503 with a JSON message (never a 500, never a hang), the
//! readiness probe says not ready, and both recover on their own once the token is back; a
//! `hallmark sign` running through the outage retries and finishes. Its own test binary, because
//! it takes the stacks' SoftHSM tokens away.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use common::*;
use serde_json::json;

#[test]
fn hsm_outage_gives_503_then_recovers() {
    let stack = Stack::start(&bin()).unwrap();
    let dir = stack.dir().to_path_buf();
    let (_key, csr) = openssl_key_and_csr(&dir, "c");
    let body = serde_json::to_vec(&json!({
        "certificateSigningRequest": STANDARD.encode(std::fs::read_to_string(&csr).unwrap())
    }))
    .unwrap();
    let token = || {
        stack
            .mint(json!({"email": "a@example.com", "email_verified": true}))
            .unwrap()
    };
    let (status, resp) = stack
        .post("/api/v2/signingCert", &body, Some(&token()))
        .unwrap();
    assert_eq!(status, 200, "{resp}");

    // Take the token away (we are root: permissions would not stop SoftHSM; moving does).
    let tokens = stack.token_info().dir.clone();
    let away = tokens.with_extension("away");
    std::fs::rename(&tokens, &away).unwrap();
    let mut saw_503 = false;
    for _ in 0..5 {
        let (status, resp) = stack
            .post("/api/v2/signingCert", &body, Some(&token()))
            .unwrap();
        assert!(status == 503 || status == 200, "{status}: {resp}");
        if status == 503 {
            assert!(
                resp["message"].as_str().unwrap().contains("unavailable"),
                "{resp}"
            );
            saw_503 = true;
            break;
        }
    }
    assert!(saw_503, "no 503 while the token was gone");
    // The 503 says when to come back.
    let resp = ureq::post(format!("{}/api/v2/signingCert", stack.url))
        .config()
        .http_status_as_error(false)
        .build()
        .header("authorization", format!("Bearer {}", token()))
        .header("content-type", "application/json")
        .send(&body[..])
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    let (status, ready) = stack.get("/readyz").unwrap();
    assert_eq!(status, 503, "{ready}");
    // The HSM's error text (token, PKCS#11 function, CKR code) is logged, not answered.
    assert_eq!(ready, "not ready: HSM unavailable\n");

    // Bring it back: the same server recovers without a restart.
    std::fs::rename(&away, &tokens).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, resp) = stack
            .post("/api/v2/signingCert", &body, Some(&token()))
            .unwrap();
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{resp}");
        assert!(Instant::now() < deadline, "no recovery within 20 s");
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(stack.get("/readyz").unwrap().0, 200);
}

#[test]
fn hallmark_sign_rides_out_a_short_hsm_outage() {
    let stack = Stack::start(&bin()).unwrap();
    let dir = stack.dir().to_path_buf();
    let tc = dir.join("trust-config.json");
    write_trust_config(&stack, &tc, None);
    let tok = dir.join("token.jwt");
    std::fs::write(&tok, email_token(&stack, "outage@example.com")).unwrap();
    let files: Vec<_> = (0..5)
        .map(|i| {
            let f = dir.join(format!("f{i}.txt"));
            std::fs::write(&f, format!("file {i}")).unwrap();
            f
        })
        .collect();

    // The HSM is away when signing starts (the certificate request gets 503) and comes back
    // two seconds later, well inside the client's retry budget.
    let tokens = stack.token_info().dir.clone();
    let away = tokens.with_extension("away");
    std::fs::rename(&tokens, &away).unwrap();
    let child = std::process::Command::new(bin())
        .env_remove("SIGSTORE_ID_TOKEN")
        .args(["sign", "--no-login", "--trust-config"])
        .arg(&tc)
        .arg("--identity-token-file")
        .arg(&tok)
        .args(&files)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    std::fs::rename(&away, &tokens).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "hallmark sign failed: {stderr}");
    assert!(
        stderr.contains("retrying the CA") && stderr.contains("503"),
        "no retry was logged: {stderr}"
    );
    for f in &files {
        let bundle = format!("{}.sigstore.json", f.display());
        let out = std::process::Command::new(bin())
            .args(["verify", "--trust-config"])
            .arg(&tc)
            .args(["--bundle", &bundle, "--cert-identity", "outage@example.com"])
            .args(["--cert-oidc-issuer", &stack.issuer()])
            .arg(f)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{bundle}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
