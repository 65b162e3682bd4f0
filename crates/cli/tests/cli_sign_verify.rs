//! `hallmark sign`, `attest` and `verify` against a running Hallmark, cross-checked with an
//! unmodified sigstore-python 4.5.1 in both directions; `hallmark verify`'s failures on tampered
//! bundles; the identity-token sources (stand-ins for GitHub Actions, GitLab CI, Kubernetes and
//! SIGSTORE_ID_TOKEN, serving real tokens from the development issuer); one certificate for
//! 1,000 files; and the sigstore-conformance bundle-verify suite through the binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::login::*;
use common::*;
use serde_json::{Value, json};

const EMAIL: &str = "builder@example.com";

/// `client(..)` plus the sign/attest flags that keep ambient token sources out.
fn signer(stack: &Stack, tc: &Path, sub: &str) -> Command {
    let mut c = client(stack, tc);
    c.arg(sub)
        .args(["--no-login", "--kubernetes-token-file"])
        .arg(stack.dir().join("no-such-k8s-token"));
    c
}

fn token_file(stack: &Stack, email: &str) -> PathBuf {
    let path = stack.dir().join(format!("{email}.jwt"));
    std::fs::write(&path, email_token(stack, email)).unwrap();
    path
}

/// The command failed and its message names `check`.
fn assert_fails_naming(what: &str, out: &Output, check: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what}: verification passed");
    assert!(
        stderr.contains(&format!("verification failed: {check}:")),
        "{what}: expected the {check:?} check to fail, got: {stderr}"
    );
}

/// `hallmark sign` of one file with a token file; the bundle written beside it.
fn hallmark_sign(stack: &Stack, tc: &Path, tok: &Path, artifact: &Path) -> PathBuf {
    hallmark_sign_with(stack, tc, tok, artifact, &[])
}

/// [`hallmark_sign`] with more arguments (`--rekor-version 1`).
fn hallmark_sign_with(
    stack: &Stack,
    tc: &Path,
    tok: &Path,
    artifact: &Path,
    args: &[&str],
) -> PathBuf {
    run(signer(stack, tc, "sign")
        .arg("--identity-token-file")
        .arg(tok)
        .args(args)
        .arg(artifact));
    PathBuf::from(format!("{}.sigstore.json", artifact.display()))
}

#[test]
fn hallmark_and_sigstore_python_bundles_verify_with_each_other() {
    let (stack, tc) = stack_and_trust();
    let dir = stack.dir().to_path_buf();
    let tok = token_file(&stack, EMAIL);
    let artifact = dir.join("app.tar.gz");
    std::fs::write(&artifact, b"the build output\n").unwrap();

    // hallmark sign -> both verify
    let bundle = hallmark_sign(&stack, &tc, &tok, &artifact);
    let doc: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    assert_eq!(
        doc["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    assert_ok(
        "sigstore-python on hallmark's bundle",
        &python_verify(&stack, &tc, &artifact, &bundle, EMAIL),
    );
    assert_ok(
        "hallmark on its own bundle",
        &hallmark_verify(&stack, &tc, &artifact, &bundle, EMAIL),
    );
    // by digest too
    let digest = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
            b"the build output\n"
        ))
    );
    let out = client(&stack, &tc)
        .args(["verify", &digest, "--bundle"])
        .arg(&bundle)
        .args([
            "--cert-identity",
            EMAIL,
            "--cert-oidc-issuer",
            &stack.issuer(),
        ])
        .output()
        .unwrap();
    assert_ok("hallmark verify by digest", &out);

    // hallmark attest: SLSA provenance and an in-toto link -> both verify
    for (name, predicate_type, predicate) in [
        (
            "provenance",
            "https://slsa.dev/provenance/v1",
            json!({"buildDefinition": {"buildType": "https://hallmark.local/ci/v1", "externalParameters": {}},
                   "runDetails": {"builder": {"id": "https://hallmark.local/runner"}}}),
        ),
        (
            "link",
            "https://in-toto.io/attestation/link/v0.3",
            json!({"name": "build", "command": ["make", "dist"], "materials": [], "byproducts": {}}),
        ),
    ] {
        let pred = dir.join(format!("{name}.json"));
        std::fs::write(&pred, predicate.to_string()).unwrap();
        let out = dir.join(format!("{name}.sigstore.json"));
        run(signer(&stack, &tc, "attest")
            .arg("--identity-token-file")
            .arg(&tok)
            .arg("--predicate")
            .arg(&pred)
            .args(["--type", predicate_type, "--bundle"])
            .arg(&out)
            .arg(&artifact));
        assert_ok(
            &format!("sigstore-python on hallmark's {name} attestation"),
            &python_verify(&stack, &tc, &artifact, &out, EMAIL),
        );
        assert_ok(
            &format!("hallmark on its {name} attestation"),
            &hallmark_verify(&stack, &tc, &artifact, &out, EMAIL),
        );
        // No artifact: refused unless asked for explicitly (then only the signature and the
        // log entry are checked).
        let verify_alone = |extra: &[&str]| {
            client(&stack, &tc)
                .arg("verify")
                .args(extra)
                .arg("--bundle")
                .arg(&out)
                .args([
                    "--cert-identity",
                    EMAIL,
                    "--cert-oidc-issuer",
                    &stack.issuer(),
                ])
                .output()
                .unwrap()
        };
        let alone = verify_alone(&[]);
        assert!(!alone.status.success(), "verified without an artifact");
        assert!(
            String::from_utf8_lossy(&alone.stderr).contains("--no-artifact"),
            "{}",
            String::from_utf8_lossy(&alone.stderr)
        );
        assert_ok(
            &format!("hallmark verify --no-artifact on its {name} attestation"),
            &verify_alone(&["--no-artifact"]),
        );
        // the statement names the artifact; another file is not its subject
        let other = dir.join("other.bin");
        std::fs::write(&other, b"not the subject").unwrap();
        assert_fails_naming(
            "attestation for another file",
            &hallmark_verify(&stack, &tc, &other, &out, EMAIL),
            "artifact digest",
        );
    }

    // sigstore-python sign and attest -> hallmark verify
    let token = std::fs::read_to_string(&tok).unwrap();
    let py_artifact = dir.join("py.txt");
    std::fs::write(&py_artifact, b"signed by sigstore-python\n").unwrap();
    let py_bundle = dir.join("py.sigstore.json");
    run(python_sigstore(&stack, &tc)
        .args(["sign", "--identity-token", &token, "--bundle"])
        .arg(&py_bundle)
        .arg(&py_artifact));
    assert_ok(
        "hallmark on sigstore-python's bundle",
        &hallmark_verify(&stack, &tc, &py_artifact, &py_bundle, EMAIL),
    );
    let pred = dir.join("provenance.json");
    let py_att = dir.join("py-att.sigstore.json");
    python_attest_slsa(&stack, &tc, &token, &pred, &py_att, &py_artifact);
    assert_ok(
        "hallmark on sigstore-python's attestation",
        &hallmark_verify(&stack, &tc, &py_artifact, &py_att, EMAIL),
    );
}

/// Rewrites a bundle's JSON with `edit` into a new file.
fn tampered(bundle: &Path, name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut doc: Value = serde_json::from_slice(&std::fs::read(bundle).unwrap()).unwrap();
    edit(&mut doc);
    let out = bundle.with_file_name(name);
    std::fs::write(&out, serde_json::to_vec(&doc).unwrap()).unwrap();
    out
}

/// Flips the last bit of a base64 value's decoded bytes.
fn flip_b64(v: &mut Value) {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut bytes = b64.decode(v.as_str().unwrap()).unwrap();
    *bytes.last_mut().unwrap() ^= 1;
    *v = Value::String(b64.encode(bytes));
}

#[test]
fn hallmark_verify_names_the_check_that_fails() {
    let (stack, tc) = stack_and_trust();
    let dir = stack.dir().to_path_buf();
    let tok = token_file(&stack, EMAIL);
    let artifact = dir.join("release.bin");
    std::fs::write(&artifact, b"release 1.0\n").unwrap();
    // Rekor v2 (the default): the signing time is the TSA's; a changed timestamp or checkpoint
    // is named.
    let v2 = hallmark_sign(&stack, &tc, &tok, &artifact);
    let v2 = tampered(&v2, "v2.sigstore.json", |_| {});
    assert_ok(
        "the untouched v2 bundle",
        &hallmark_verify(&stack, &tc, &artifact, &v2, EMAIL),
    );
    let stamp = tampered(&v2, "stamp.json", |d| {
        flip_b64(
            &mut d["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"],
        );
    });
    assert_fails_naming(
        "tampered RFC 3161 timestamp",
        &hallmark_verify(&stack, &tc, &artifact, &stamp, EMAIL),
        "signed timestamp",
    );
    let checkpoint = tampered(&v2, "checkpoint.json", |d| {
        let cp = &mut d["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]["envelope"];
        let text = cp.as_str().unwrap().replacen('\n', "\n1", 1);
        *cp = Value::String(text);
    });
    assert!(
        !hallmark_verify(&stack, &tc, &artifact, &checkpoint, EMAIL)
            .status
            .success(),
        "a changed checkpoint verified"
    );
    // Rekor v1 for the rest (the SET and integrated time are v1's).
    let bundle = hallmark_sign_with(
        &stack,
        &tc,
        &tok,
        &artifact,
        &["--rekor-version", "1", "--overwrite"],
    );
    assert_ok(
        "the untouched bundle",
        &hallmark_verify(&stack, &tc, &artifact, &bundle, EMAIL),
    );

    let modified = dir.join("modified.bin");
    std::fs::write(&modified, b"release 1.0 with a backdoor\n").unwrap();
    assert_fails_naming(
        "modified artifact",
        &hallmark_verify(&stack, &tc, &modified, &bundle, EMAIL),
        "artifact digest",
    );

    let wrong_identity = hallmark_verify(&stack, &tc, &artifact, &bundle, "mallory@example.com");
    assert_fails_naming("wrong identity", &wrong_identity, "identity");
    let out = client(&stack, &tc)
        .arg("verify")
        .arg(&artifact)
        .arg("--bundle")
        .arg(&bundle)
        .args([
            "--cert-identity",
            EMAIL,
            "--cert-oidc-issuer",
            "https://accounts.google.com",
        ])
        .output()
        .unwrap();
    assert_fails_naming("wrong issuer", &out, "issuer");
    let out = client(&stack, &tc)
        .arg("verify")
        .arg(&artifact)
        .arg("--bundle")
        .arg(&bundle)
        .args([
            "--cert-identity-regexp",
            ".*@example\\.com",
            "--cert-oidc-issuer",
            &stack.issuer(),
        ])
        .args(["--source-repository", "https://git.example.com/app"])
        .output()
        .unwrap();
    assert_fails_naming(
        "required CI extension absent",
        &out,
        "certificate extension",
    );

    let proof = tampered(&bundle, "proof.json", |d| {
        flip_b64(&mut d["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["rootHash"]);
    });
    assert_fails_naming(
        "tampered inclusion proof",
        &hallmark_verify(&stack, &tc, &artifact, &proof, EMAIL),
        "inclusion proof",
    );
    let set = tampered(&bundle, "set.json", |d| {
        flip_b64(
            &mut d["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"],
        );
    });
    assert_fails_naming(
        "tampered SET",
        &hallmark_verify(&stack, &tc, &artifact, &set, EMAIL),
        "signed entry timestamp",
    );
    let time = tampered(&bundle, "time.json", |d| {
        let entry = &mut d["verificationMaterial"]["tlogEntries"][0];
        let t: i64 = entry["integratedTime"].as_str().unwrap().parse().unwrap();
        entry["integratedTime"] = Value::String((t + 3600).to_string());
    });
    assert_fails_naming(
        "integrated time moved past the certificate",
        &hallmark_verify(&stack, &tc, &artifact, &time, EMAIL),
        "signed entry timestamp",
    );
    let sig = tampered(&bundle, "sig.json", |d| {
        flip_b64(&mut d["messageSignature"]["signature"])
    });
    let out = hallmark_verify(&stack, &tc, &artifact, &sig, EMAIL);
    assert!(!out.status.success(), "a tampered signature verified");

    // A bundle from another Hallmark (another CA and log) against this trust root.
    let (other, other_tc) = stack_and_trust();
    let other_tok = token_file(&other, EMAIL);
    let foreign_artifact = other.dir().join("release.bin");
    std::fs::write(&foreign_artifact, b"release 1.0\n").unwrap();
    let foreign = hallmark_sign(&other, &other_tc, &other_tok, &foreign_artifact);
    let out = client(&stack, &tc)
        .arg("verify")
        .arg(&artifact)
        .arg("--bundle")
        .arg(&foreign)
        .args([
            "--cert-identity",
            EMAIL,
            "--cert-oidc-issuer",
            &other.issuer(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a bundle from another trust root verified"
    );
    assert!(
        stderr.contains("verification failed: transparency log:")
            || stderr.contains("verification failed: certificate chain:")
            || stderr.contains("verification failed: signed timestamp:"),
        "{stderr}"
    );
    // ... and it does verify against its own.
    let out = client(&other, &other_tc)
        .arg("verify")
        .arg(&foreign_artifact)
        .args([
            "--cert-identity",
            EMAIL,
            "--cert-oidc-issuer",
            &other.issuer(),
        ])
        .output()
        .unwrap();
    assert_ok("the other stack's bundle against its own root", &out);
}

/// A one-request HTTP server standing in for GitHub Actions' token endpoint: answers
/// `{"value": token}` when the request carries the bearer request token and `audience=sigstore`.
fn github_token_endpoint(token: String) -> (String, std::thread::JoinHandle<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/_apis/token?api-version=2.0",
        listener.local_addr().unwrap()
    );
    let handle = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut request = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                break;
            }
            request.push_str(&line);
        }
        let authorised = request
            .lines()
            .any(|l| l.eq_ignore_ascii_case("authorization: bearer runner-request-token"));
        let (status, body) = if authorised
            && request.starts_with("GET /_apis/token?api-version=2.0&audience=sigstore ")
        {
            ("200 OK", json!({ "value": token }).to_string())
        } else {
            (
                "401 Unauthorized",
                r#"{"message":"bad request token"}"#.to_owned(),
            )
        };
        write!(
            conn,
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        request
    });
    (url, handle)
}

#[test]
fn identity_tokens_come_from_each_ci_system() {
    let (stack, tc) = stack_and_trust();
    let dir = stack.dir().to_path_buf();
    let sign = |name: &str, setup: &dyn Fn(&mut Command)| -> PathBuf {
        let artifact = dir.join(name);
        std::fs::write(&artifact, name.as_bytes()).unwrap();
        let mut c = signer(&stack, &tc, "sign");
        setup(&mut c);
        run(c.arg(&artifact));
        artifact
    };
    let verified_as = |artifact: &Path, email: &str| {
        let bundle = PathBuf::from(format!("{}.sigstore.json", artifact.display()));
        assert_ok(
            &format!("{} signed as {email}", artifact.display()),
            &hallmark_verify(&stack, &tc, artifact, &bundle, email),
        );
    };

    // GitHub Actions: the runner's token endpoint.
    let (url, server) = github_token_endpoint(email_token(&stack, "gha@example.com"));
    let a = sign("gha.txt", &|c| {
        c.env("GITHUB_ACTIONS", "true")
            .env("ACTIONS_ID_TOKEN_REQUEST_URL", &url)
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "runner-request-token");
    });
    let request = server.join().unwrap();
    assert!(request.contains("audience=sigstore"), "{request}");
    verified_as(&a, "gha@example.com");

    // GitHub Actions without `permissions: id-token: write`: a message saying so.
    let artifact = dir.join("gha-denied.txt");
    std::fs::write(&artifact, b"x").unwrap();
    let out = signer(&stack, &tc, "sign")
        .env("GITHUB_ACTIONS", "true")
        .arg(&artifact)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("id-token: write"), "{stderr}");

    // GitLab CI: an `id_tokens:` variable named on the command line.
    let a = sign("gitlab.txt", &|c| {
        c.env("GITLAB_CI", "true")
            .env(
                "HALLMARK_GITLAB_TOKEN",
                email_token(&stack, "gitlab@example.com"),
            )
            .args(["--identity-token-env", "HALLMARK_GITLAB_TOKEN"]);
    });
    verified_as(&a, "gitlab@example.com");

    // The generic variable.
    let a = sign("env.txt", &|c| {
        c.env("SIGSTORE_ID_TOKEN", email_token(&stack, "env@example.com"));
    });
    verified_as(&a, "env@example.com");

    // A Kubernetes projected service-account token file.
    let k8s = dir.join("k8s-token");
    std::fs::write(&k8s, email_token(&stack, "k8s@example.com")).unwrap();
    let artifact = dir.join("k8s.txt");
    std::fs::write(&artifact, b"k8s").unwrap();
    let mut c = client(&stack, &tc);
    run(c
        .args(["sign", "--no-login", "--kubernetes-token-file"])
        .arg(&k8s)
        .arg(&artifact));
    verified_as(&artifact, "k8s@example.com");

    // No source at all: a clear error, no bundle.
    let artifact = dir.join("none.txt");
    std::fs::write(&artifact, b"none").unwrap();
    let out = signer(&stack, &tc, "sign").arg(&artifact).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("identity token"));
    assert!(!dir.join("none.txt.sigstore.json").exists());

    // An expired token is refused before anything is sent.
    let expired = stack
        .mint(json!({"sub": EMAIL, "email": EMAIL, "email_verified": true, "exp": 1_000_000, "iat": 999_000}))
        .unwrap();
    let out = signer(&stack, &tc, "sign")
        .env("SIGSTORE_ID_TOKEN", expired)
        .arg(&artifact)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("expired"));
}

/// A person without a token: `hallmark sign` prints the development issuer's login URL, the
/// "browser" (an HTTP client) fills in the form, and the loopback redirect completes the login.
#[test]
fn a_person_logs_in_at_the_development_issuer_and_signs() {
    let (stack, tc) = stack_and_trust();
    let artifact = stack.dir().join("login.txt");
    std::fs::write(&artifact, b"signed after an interactive login").unwrap();
    let (child, url, rest) = sign_with_browser_login(&stack, &tc, &artifact);

    let browser: ureq::Agent = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .into();
    let mut page = browser.get(&url).call().unwrap();
    assert_eq!(page.status(), 200);
    let page = page.body_mut().read_to_string().unwrap();
    assert!(page.contains("name=email"), "no login form: {page}");
    // What the form posts: the id of the request the issuer keeps, plus the address typed.
    let request = page
        .split("name=\"request\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    let mut answer = browser
        .post(format!("{}/authorize", stack.issuer()))
        .content_type("application/x-www-form-urlencoded")
        .send(format!("request={request}&email=person%40example.com"))
        .unwrap();
    // A page that moves on to the loopback redirect (no cross-origin redirect of a form POST,
    // which browsers check against the page's form-action policy).
    assert_eq!(answer.status(), 200);
    let page = answer.body_mut().read_to_string().unwrap();
    let callback = page
        .split("content=\"0;url=")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .replace("&amp;", "&");
    assert!(callback.starts_with("http://localhost:"), "{callback}");
    // The listener is always on 127.0.0.1 (and on ::1 only where the machine has it); a browser
    // falls back from one to the other, this client need not.
    let callback = callback.replacen("http://localhost:", "http://127.0.0.1:", 1);
    let mut done = browser.get(&callback).call().unwrap();
    assert_eq!(done.status(), 200);
    assert!(
        done.body_mut()
            .read_to_string()
            .unwrap()
            .contains("Login complete")
    );

    signed_as(&stack, &tc, &artifact, "person@example.com", child, rest);

    // In CI (`CI` set) no login is tried: a clear error at once, no bundle.
    let other = stack.dir().join("ci.txt");
    std::fs::write(&other, b"ci").unwrap();
    let out = client(&stack, &tc)
        .env("CI", "true")
        .args(["sign", "--kubernetes-token-file"])
        .arg(stack.dir().join("no-such-k8s-token"))
        .arg(&other)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("looks like a CI job"), "{stderr}");
    assert!(!stack.dir().join("ci.txt.sigstore.json").exists());
}

/// A person on a machine without a browser: `hallmark sign --device-login` shows a code and a
/// URL, the person enters the code and an address there (here: an HTTP client), and the signing
/// goes on once the issuer approves.
#[test]
fn a_person_logs_in_with_a_device_code_and_signs() {
    let (stack, tc) = stack_and_trust();
    let artifact = stack.dir().join("device.txt");
    std::fs::write(&artifact, b"signed after a device login").unwrap();
    let page = format!("{}/device", stack.issuer());
    let (child, code, rest) = sign_with_login(
        &stack,
        &tc,
        &artifact,
        &["--device-login"],
        device_code(&page),
    );
    approve_device(&page, &code, "remote@example.com");

    signed_as(&stack, &tc, &artifact, "remote@example.com", child, rest);
}

/// `hallmark token`: log in once (here with a device code), keep the token in a private file,
/// sign several times with it.
#[test]
fn a_person_logs_in_once_with_hallmark_token_and_signs_twice() {
    let (stack, tc) = stack_and_trust();
    let tok = stack.dir().join("me.jwt");
    let page = format!("{}/device", stack.issuer());
    let args: Vec<&std::ffi::OsStr> = vec![
        "token".as_ref(),
        "--device-login".as_ref(),
        "--output".as_ref(),
        tok.as_os_str(),
    ];
    let (mut child, code, rest) = run_with_login(&stack, &tc, &args, device_code(&page));
    approve_device(&page, &code, "once@example.com");
    let status = child.wait().unwrap();
    let rest = rest.join().unwrap().join("\n");
    assert!(status.success(), "hallmark token failed: {rest}");
    assert!(
        rest.contains("identity token for once@example.com"),
        "{rest}"
    );
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&tok).unwrap().permissions().mode() & 0o777,
        0o600
    );
    for name in ["first.txt", "second.txt"] {
        let artifact = stack.dir().join(name);
        std::fs::write(&artifact, name).unwrap();
        let bundle = hallmark_sign(&stack, &tc, &tok, &artifact);
        assert_ok(
            name,
            &hallmark_verify(&stack, &tc, &artifact, &bundle, "once@example.com"),
        );
    }
    // The token is not printed anywhere else: stdout stayed empty with --output.
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    assert!(stdout.is_empty(), "{stdout}");
}

/// Two files with the same content, one key: RFC 6979 makes the two entries identical, the log
/// answers the second with 409 and its location, and both bundles carry the one entry.
#[test]
fn identical_files_in_one_invocation_share_their_log_entry() {
    let (stack, tc) = stack_and_trust();
    let tok = token_file(&stack, EMAIL);
    let a = stack.dir().join("a.bin");
    let b = stack.dir().join("b.bin");
    std::fs::write(&a, b"same bytes").unwrap();
    std::fs::write(&b, b"same bytes").unwrap();
    run(signer(&stack, &tc, "sign")
        .arg("--identity-token-file")
        .arg(&tok)
        .args([&a, &b]));
    let index = |f: &Path| {
        let bundle = PathBuf::from(format!("{}.sigstore.json", f.display()));
        assert_ok(
            &format!("{}", f.display()),
            &hallmark_verify(&stack, &tc, f, &bundle, EMAIL),
        );
        let doc: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
        doc["verificationMaterial"]["tlogEntries"][0]["logIndex"].clone()
    };
    assert_eq!(index(&a), index(&b));
    // One entry, in the Rekor v2 log (the default), none in v1.
    let (_, checkpoint) = stack.get("/checkpoint").unwrap();
    assert_eq!(checkpoint.lines().nth(1), Some("1"), "{checkpoint}");
    let (_, log) = stack.get("/api/v1/log").unwrap();
    let log: Value = serde_json::from_str(&log).unwrap();
    assert_eq!(log["treeSize"], 0, "{log}");
}

/// A deploy gate checks everything one `hallmark sign` signed in one command; one bad file fails
/// the whole command and is named, the others are still reported.
#[test]
fn verify_checks_several_artifacts_at_once() {
    let (stack, tc) = stack_and_trust();
    let tok = token_file(&stack, EMAIL);
    let files: Vec<PathBuf> = (0..3)
        .map(|i| {
            let f = stack.dir().join(format!("dist-{i}.bin"));
            std::fs::write(&f, vec![i as u8; 1000 + i]).unwrap();
            f
        })
        .collect();
    run(signer(&stack, &tc, "sign")
        .arg("--identity-token-file")
        .arg(&tok)
        .args(&files));
    let verify_all = |extra: &[&str]| {
        client(&stack, &tc)
            .arg("verify")
            .args(&files)
            .args(["--certificate-identity", EMAIL, "--offline"])
            .args(["--cert-oidc-issuer", &stack.issuer()])
            .args(extra)
            .output()
            .unwrap()
    };
    let stdout = assert_ok("verify of three files", &verify_all(&[]));
    assert_eq!(stdout.matches("OK: ").count(), 3, "{stdout}");
    // Hashed as they are read instead of read whole: the same result.
    let stdout = assert_ok(
        "verify of three files, streamed",
        &verify_all(&["--in-memory-limit", "100"]),
    );
    assert_eq!(stdout.matches("OK: ").count(), 3, "{stdout}");

    std::fs::write(&files[1], b"replaced after signing").unwrap();
    for extra in [&[][..], &["--in-memory-limit", "10"][..]] {
        let out = verify_all(extra);
        assert!(!out.status.success());
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stdout.matches("OK: ").count(), 2, "{stdout}");
        assert!(
            stderr.contains(&format!(
                "{}: verification failed: artifact",
                files[1].display()
            )),
            "{stderr}"
        );
        assert!(
            stderr.contains("1 of 3 artifacts did not verify"),
            "{stderr}"
        );
    }

    // --json: one object per artifact on stdout, for a deploy gate to read.
    let out = verify_all(&["--json"]);
    assert!(!out.status.success());
    let reports: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 3, "{reports:?}");
    for (i, r) in reports.iter().enumerate() {
        assert_eq!(r["artifact"], files[i].display().to_string());
        if i == 1 {
            assert_eq!(r["verified"], false, "{r}");
            assert_eq!(r["check"], "artifact digest", "{r}");
            assert!(
                r["error"].as_str().unwrap().contains("verification failed"),
                "{r}"
            );
        } else {
            assert_eq!(r["verified"], true, "{r}");
            assert_eq!(r["signer"]["identity"], EMAIL, "{r}");
            assert_eq!(r["signer"]["issuer"], stack.issuer(), "{r}");
            let digest = format!("sha256:{}", sha256_hex(&std::fs::read(&files[i]).unwrap()));
            assert_eq!(r["signed"]["digest"], digest, "{r}");
            assert_eq!(r["entries"][0]["kind"], "hashedrekord", "{r}");
            assert!(r["entries"][0]["logIndex"].is_u64(), "{r}");
            assert!(
                r["signingTimes"][0]["time"]
                    .as_str()
                    .unwrap()
                    .ends_with('Z'),
                "{r}"
            );
        }
    }

    // One --bundle cannot serve several artifacts.
    let out = verify_all(&["--bundle", "x.sigstore.json"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bundle names one bundle"));
}

#[test]
fn a_thousand_files_share_one_certificate() {
    let (stack, tc) = stack_and_trust();
    let files_dir = stack.dir().join("files");
    std::fs::create_dir(&files_dir).unwrap();
    let files: Vec<PathBuf> = (0..1000)
        .map(|i| {
            let p = files_dir.join(format!("f{i:04}.txt"));
            std::fs::write(&p, format!("file {i}\n")).unwrap();
            p
        })
        .collect();
    let tok = token_file(&stack, EMAIL);
    let out = signer(&stack, &tc, "sign")
        .arg("--identity-token-file")
        .arg(&tok)
        .args(&files)
        .output()
        .unwrap();
    assert_ok("signing 1,000 files", &out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1000 of 1000 file(s) signed"), "{stderr}");
    assert!(stderr.contains("with 1 certificate(s)"), "{stderr}");
    let mut certs = std::collections::HashSet::new();
    let mut indexes = std::collections::HashSet::new();
    for f in &files {
        let bundle = PathBuf::from(format!("{}.sigstore.json", f.display()));
        let doc: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
        certs.insert(
            doc["verificationMaterial"]["certificate"]["rawBytes"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
        indexes.insert(
            doc["verificationMaterial"]["tlogEntries"][0]["logIndex"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        certs.len(),
        1,
        "the bundles carry {} certificates",
        certs.len()
    );
    assert_eq!(indexes.len(), 1000, "every file has its own log entry");
    // Spot-check with sigstore-python.
    assert_ok(
        "sigstore-python on one of the 1,000",
        &python_verify(
            &stack,
            &tc,
            &files[999],
            &PathBuf::from(format!("{}.sigstore.json", files[999].display())),
            EMAIL,
        ),
    );
    // The CT log holds exactly one certificate for this invocation.
    let (status, sth) = stack.get("/ct/v1/get-sth").unwrap();
    assert_eq!(status, 200);
    let sth: Value = serde_json::from_str(&sth).unwrap();
    assert_eq!(sth["tree_size"], 1, "certificates logged: {sth}");
}

/// The sigstore-conformance bundle-verify cases through the `hallmark verify` binary.
#[test]
fn hallmark_verify_passes_the_sigstore_conformance_suite() {
    let cases = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/testdata/sigstore-conformance/bundle-verify");
    assert!(
        cases.is_dir(),
        "{} is missing: the conformance cases live in ../shared beside the repository",
        cases.display()
    );
    let read = |p: PathBuf| std::fs::read_to_string(p).ok().map(|s| s.trim().to_owned());
    let mut wrong = Vec::new();
    let mut total = 0;
    let mut names: Vec<PathBuf> = std::fs::read_dir(&cases)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    names.sort();
    for case in names {
        total += 1;
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let mut c = Command::new(bin());
        c.env_remove("HALLMARK_TRUST_CONFIG").arg("verify");
        c.arg(if case.join("artifact").exists() {
            case.join("artifact")
        } else {
            cases.join("a.txt")
        });
        c.arg("--bundle").arg(case.join("bundle.sigstore.json"));
        c.arg("--trusted-root")
            .arg(if case.join("trusted_root.json").exists() {
                case.join("trusted_root.json")
            } else {
                cases.join("default_trusted_root.json")
            });
        if case.join("key.pub").exists() {
            c.arg("--key").arg(case.join("key.pub"));
        } else {
            c.arg("--cert-identity").arg(read(case.join("identity")).unwrap_or_else(|| {
                "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main".to_owned()
            }));
            c.arg("--cert-oidc-issuer").arg(
                read(case.join("issuer"))
                    .unwrap_or_else(|| "https://token.actions.githubusercontent.com".to_owned()),
            );
        }
        let out = c.output().unwrap();
        let should_pass = !name.ends_with("_fail");
        if out.status.success() != should_pass {
            wrong.push(format!(
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
    }
    assert_eq!(total, 70, "expected the 70 bundle-verify cases");
    assert!(
        wrong.is_empty(),
        "{} of {total} cases wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
