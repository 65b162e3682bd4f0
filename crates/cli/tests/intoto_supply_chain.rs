//! The point of Hallmark, end to end: a container-build supply chain (checkout -> build -> scan
//! -> package) whose four steps are recorded with `hallmark intoto run` by four different OIDC
//! identities against a running `hallmark serve`, each link signed with a 10-minute certificate
//! and logged; then `hallmark intoto verify` checks the chain against a keylessly signed layout
//! that names every functionary by identity.
//!
//! Identities: three from the server's development issuer (email identities), and the build
//! step from an *external* IdP configured through a Fulcio-format issuers file as a GitHub
//! Actions (`ci-provider` / `github-workflow`) issuer. The external IdP is a second Hallmark
//! process's development issuer: a real issuer on loopback, serving discovery and a JWKS over
//! HTTP, whose signed tokens the first server verifies as it would GitHub's. The layout pins
//! the build step's repository through a certificate-extension constraint.
//!
//! The scan step has threshold 2: two scanners (a regular-expression identity) must agree.
//!
//! Then each attack or mistake fails with a message naming what failed: an artifact changed
//! between steps, a step signed by the wrong identity or the wrong issuer, a missing step, a
//! step below its threshold (two links by one identity count once), an expired layout, a link
//! absent from the log, a tampered inclusion proof. And verification still succeeds five hours
//! later (libfaketime), when every certificate has long expired: validity is checked at the
//! log's integrated time, never the current time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use serde_json::{Value, json};

const REPO: &str = "acme/app";

/// The GitHub-style claims the external IdP puts in the build step's token.
fn github_claims(repo: &str, workflow_ref: &str) -> Value {
    let (owner, _) = repo.split_once('/').unwrap();
    json!({
        "sub": format!("repo:{repo}:ref:refs/heads/main"),
        "repository": repo,
        "repository_id": "4242",
        "repository_owner": owner,
        "repository_owner_id": "42",
        "repository_visibility": "private",
        "workflow": "build",
        "workflow_ref": format!("{repo}/.github/workflows/build.yml@refs/heads/main"),
        "workflow_sha": "0123456789abcdef0123456789abcdef01234567",
        "job_workflow_ref": workflow_ref,
        "job_workflow_sha": "0123456789abcdef0123456789abcdef01234567",
        "ref": "refs/heads/main",
        "sha": "89abcdef0123456789abcdef0123456789abcdef",
        "event_name": "push",
        "run_id": "1001",
        "run_attempt": "1",
        "runner_environment": "self-hosted",
    })
}

/// The chain's world: the signing stack, the external IdP, the trust config, a token per
/// identity, and a working directory per step.
struct Chain {
    stack: Stack,
    idp: Stack,
    /// A second external IdP, email-type, for identities from the wrong issuer.
    other: Stack,
    tc: PathBuf,
    dir: PathBuf,
    dev: String,
    ext: String,
}

impl Chain {
    fn start() -> Self {
        // The external IdP: a second Hallmark process, only for its development issuer.
        let idp = Stack::start(&bin()).unwrap();
        let other = Stack::start(&bin()).unwrap();
        let ext = idp.issuer();
        let scratch = tempfile::tempdir().unwrap().keep();
        let issuers = scratch.join("fulcio-config.json");
        std::fs::write(
            &issuers,
            serde_json::to_vec_pretty(&json!({
                "OIDCIssuers": {
                    ext.clone(): {
                        "IssuerURL": ext,
                        "ClientID": "sigstore",
                        "Type": "ci-provider",
                        "CIProvider": "github-workflow",
                    },
                    other.issuer(): {
                        "IssuerURL": other.issuer(),
                        "ClientID": "sigstore",
                        "Type": "email",
                    }
                }
            }))
            .unwrap(),
        )
        .unwrap();
        // Its own development issuer too (allowed beside an issuers file only by saying so).
        let stack = Stack::start_with(
            &bin(),
            &format!(
                "dev_oidc_unsafe_allow_anywhere: true\noidc:\n  issuers_file: {}\n",
                issuers.display()
            ),
        )
        .unwrap();
        let dir = stack.dir().join("chain");
        std::fs::create_dir_all(&dir).unwrap();
        let tc = stack.dir().join("trust-config.json");
        write_trust_config(&stack, &tc, None);
        let dev = stack.issuer();
        Chain {
            stack,
            idp,
            other,
            tc,
            dir,
            dev,
            ext,
        }
    }

    /// A token file for an email identity of the development issuer.
    fn email_token(&self, email: &str) -> PathBuf {
        self.token_file(email, &email_token(&self.stack, email))
    }

    /// A token file for the build workflow from the external IdP.
    fn github_token(&self, name: &str, workflow_ref: &str) -> PathBuf {
        let token = self.idp.mint(github_claims(REPO, workflow_ref)).unwrap();
        self.token_file(name, &token)
    }

    fn token_file(&self, name: &str, token: &str) -> PathBuf {
        let p = self.stack.dir().join(format!("{name}.token"));
        std::fs::write(&p, token).unwrap();
        p
    }

    fn hallmark(&self, cwd: &Path) -> Command {
        let mut c = client(&self.stack, &self.tc);
        c.current_dir(cwd);
        c
    }

    /// `hallmark intoto run` in `cwd`, links to `links`.
    #[allow(clippy::too_many_arguments)]
    fn run_step(
        &self,
        cwd: &Path,
        links: &Path,
        step: &str,
        token: &Path,
        materials: &[&str],
        products: &[&str],
        command: &[&str],
    ) -> Output {
        let mut c = self.hallmark(cwd);
        c.args(["intoto", "run", "--step-name", step, "--no-login"])
            .arg("--identity-token-file")
            .arg(token)
            .arg("--metadata-directory")
            .arg(links);
        if !materials.is_empty() {
            c.arg("--materials").args(materials);
        }
        if !products.is_empty() {
            c.arg("--products").args(products);
        }
        c.arg("--").args(command);
        c.output().unwrap()
    }

    fn verify(&self, cwd: &Path, layout: &Path, links: &Path, faketime: Option<&str>) -> Output {
        let mut c = match faketime {
            Some(offset) => {
                let mut c = Command::new("faketime");
                c.arg(offset).arg(bin());
                let base = self.hallmark(cwd);
                for (k, v) in base.get_envs() {
                    match v {
                        Some(v) => c.env(k, v),
                        None => c.env_remove(k),
                    };
                }
                c.current_dir(cwd);
                c
            }
            None => self.hallmark(cwd),
        };
        c.args(["intoto", "verify", "--json", "--layout"])
            .arg(layout)
            .args([
                "--layout-identity",
                "owner@acme.example",
                "--layout-issuer",
                &self.dev,
                "--links",
            ])
            .arg(links);
        c.output().unwrap()
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn ok(what: &str, out: &Output) -> String {
    assert!(out.status.success(), "{what} failed:\n{}", text(out));
    text(out)
}

fn fails_with(what: &str, out: &Output, needles: &[&str]) {
    let t = text(out);
    assert!(!out.status.success(), "{what} should fail:\n{t}");
    eprintln!("--- {what}:\n{}", String::from_utf8_lossy(&out.stderr));
    for n in needles {
        assert!(t.contains(n), "{what}: expected {n:?} in:\n{t}");
    }
}

/// A copy of the directory tree `from` at `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// The one file in `dir` whose name starts with `step.` and ends with `suffix`.
fn link_file(dir: &Path, step: &str, suffix: &str) -> PathBuf {
    let found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.starts_with(&format!("{step}.")) && n.ends_with(suffix)
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "{step}*{suffix} in {}: {found:?}",
        dir.display()
    );
    found.into_iter().next().unwrap()
}

/// A fresh deployment directory holding only the packaged artifact (the inspection unpacks it).
fn deploy_dir(chain: &Chain, name: &str, work: &Path) -> PathBuf {
    let d = chain.dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::copy(work.join("app.tar"), d.join("app.tar")).unwrap();
    d
}

/// Replaces the links of `step` in `dir` by new ones, one signed with each token (each run in
/// its own metadata directory, then copied in under a name of its own).
#[allow(clippy::too_many_arguments)]
fn replace_step_links(
    chain: &Chain,
    work: &Path,
    dir: &Path,
    step: &str,
    tokens: &[PathBuf],
    materials: &[&str],
    products: &[&str],
    command: &[&str],
) {
    for p in std::fs::read_dir(dir).unwrap() {
        let p = p.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with(&format!("{step}."))
        {
            std::fs::remove_file(p).unwrap();
        }
    }
    for (i, token) in tokens.iter().enumerate() {
        let d = tempfile::tempdir().unwrap();
        ok(
            step,
            &chain.run_step(work, d.path(), step, token, materials, products, command),
        );
        let f = link_file(d.path(), step, ".sigstore.json");
        let name = dir.file_name().unwrap().to_str().unwrap();
        std::fs::copy(&f, dir.join(format!("{step}-{name}-{i}.sigstore.json"))).unwrap();
    }
}

fn rules(list: &[&str]) -> Value {
    Value::Array(
        list.iter()
            .map(|r| Value::Array(r.split(' ').map(|t| json!(t)).collect()))
            .collect(),
    )
}

#[test]
fn a_four_step_supply_chain_verifies_by_identity_and_every_attack_fails() {
    let chain = Chain::start();
    let work = chain.dir.join("work");
    let links = chain.dir.join("links");
    std::fs::create_dir_all(&work).unwrap();
    std::fs::create_dir_all(&links).unwrap();

    let build_workflow = format!("{REPO}/.github/workflows/build.yml@refs/heads/main");
    let tokens = (
        chain.email_token("checkout@acme.example"),
        chain.github_token("build", &build_workflow),
        chain.email_token("scanner-a@acme.example"),
        chain.email_token("scanner-b@acme.example"),
        chain.email_token("packager@acme.example"),
    );

    // The layout: every functionary an identity bound to this deployment's trust root.
    let trust_root =
        hallmark_sigstore::intoto::TrustRootRef::of_document(&std::fs::read(&chain.tc).unwrap())
            .unwrap()
            .to_string();
    let key = |issuer: &str, identity: Value, extensions: Value| {
        let mut keyval = json!({"issuer": issuer, "identity": identity, "trust_root": trust_root});
        if !extensions.is_null() {
            keyval["extensions"] = extensions;
        }
        let dict =
            json!({"keytype": "hallmark-oidc", "scheme": "hallmark-oidc-v1", "keyval": keyval});
        let keyid = hex::encode(sha256(
            &hallmark_sigstore::intoto::cjson::encode(&dict).unwrap(),
        ));
        let mut with_id = dict;
        with_id["keyid"] = json!(keyid);
        (keyid, with_id)
    };
    let (k_checkout, d_checkout) = key(&chain.dev, json!("checkout@acme.example"), Value::Null);
    let (k_build, d_build) = key(
        &chain.ext,
        json!({"regex": r"https://github\.com/acme/app/\.github/workflows/build\.yml@refs/heads/.+"}),
        json!({"sourceRepositoryURI": "https://github.com/acme/app"}),
    );
    let (k_scan, d_scan) = key(
        &chain.dev,
        json!({"regex": r"scanner-[a-z]+@acme\.example"}),
        Value::Null,
    );
    let (k_package, d_package) = key(&chain.dev, json!("packager@acme.example"), Value::Null);
    let expires = {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        hallmark_sigstore::intoto::Expires::from_unix(now + 86_400).unwrap()
    };
    let step = |name: &str, keyid: &str, threshold: u32, materials: &[&str], products: &[&str]| {
        json!({"_type": "step", "name": name, "pubkeys": [keyid], "threshold": threshold,
               "expected_command": [], "expected_materials": rules(materials),
               "expected_products": rules(products)})
    };
    let layout = json!({
        "_type": "layout",
        "expires": serde_json::to_value(&expires).unwrap(),
        "readme": "acme/app container build",
        "keys": {k_checkout.clone(): d_checkout, k_build.clone(): d_build,
                 k_scan.clone(): d_scan, k_package.clone(): d_package},
        "steps": [
            step("checkout", &k_checkout, 1, &[], &["CREATE src/*", "DISALLOW *"]),
            step("build", &k_build, 1,
                 &["MATCH src/* WITH PRODUCTS FROM checkout", "DISALLOW *"],
                 &["CREATE app.bin", "DISALLOW *"]),
            step("scan", &k_scan, 2,
                 &["MATCH app.bin WITH PRODUCTS FROM build", "DISALLOW *"],
                 &["CREATE scan-report.txt", "DISALLOW *"]),
            step("package", &k_package, 1,
                 &["MATCH app.bin WITH PRODUCTS FROM build",
                   "MATCH scan-report.txt WITH PRODUCTS FROM scan", "DISALLOW *"],
                 &["CREATE app.tar", "DISALLOW *"]),
        ],
        "inspect": [{
            "_type": "inspection", "name": "unpack", "run": ["sh", "-c", "tar xf app.tar && yes unpacked | head -n 50000"],
            "expected_materials": rules(&["MATCH app.tar WITH PRODUCTS FROM package", "DISALLOW *"]),
            "expected_products": rules(&["MATCH app.bin WITH PRODUCTS FROM build",
                                         "MATCH scan-report.txt WITH PRODUCTS FROM scan",
                                         "ALLOW app.tar", "DISALLOW *"]),
        }],
    });
    let layout_json = chain.dir.join("layout.json");
    std::fs::write(&layout_json, serde_json::to_vec_pretty(&layout).unwrap()).unwrap();
    let owner = chain.email_token("owner@acme.example");
    let root_layout = chain.dir.join("root.layout");
    ok(
        "sign-layout",
        &chain
            .hallmark(&chain.dir)
            .args([
                "intoto",
                "sign-layout",
                "--no-login",
                "--identity-token-file",
            ])
            .arg(&owner)
            .arg(&layout_json)
            .arg("--out")
            .arg(&root_layout)
            .output()
            .unwrap(),
    );

    // The four steps, each by its own identity.
    ok(
        "checkout",
        &chain.run_step(&work, &links, "checkout", &tokens.0, &[], &["src"], &[
            "sh",
            "-c",
            "mkdir -p src && printf 'int main(void) { return 0; }\\n' > src/main.c && printf 'all:\\n' > src/Makefile",
        ]),
    );
    ok(
        "build",
        &chain.run_step(
            &work,
            &links,
            "build",
            &tokens.1,
            &["src"],
            &["app.bin"],
            &["sh", "-c", "cat src/main.c src/Makefile > app.bin"],
        ),
    );
    let scan = ["sh", "-c", "sha256sum app.bin > scan-report.txt"];
    for (i, t) in [&tokens.2, &tokens.3].into_iter().enumerate() {
        ok(
            &format!("scan {i}"),
            &chain.run_step(
                &work,
                &links,
                "scan",
                t,
                &["app.bin"],
                &["scan-report.txt"],
                &scan,
            ),
        );
    }
    let package = [
        "tar",
        "--mtime=@0",
        "--owner=0",
        "--group=0",
        "-cf",
        "app.tar",
        "app.bin",
        "scan-report.txt",
    ];
    ok(
        "package",
        &chain.run_step(
            &work,
            &links,
            "package",
            &tokens.4,
            &["app.bin", "scan-report.txt"],
            &["app.tar"],
            &package,
        ),
    );

    // Verified now, and five hours later when every certificate has long expired.
    let report = ok(
        "verify",
        &chain.verify(
            &deploy_dir(&chain, "deploy-now", &work),
            &root_layout,
            &links,
            None,
        ),
    );
    for who in [
        "checkout@acme.example",
        "scanner-a@acme.example",
        "scanner-b@acme.example",
        "packager@acme.example",
        "https://github.com/acme/app/.github/workflows/build.yml@refs/heads/main",
    ] {
        assert!(report.contains(who), "the report names {who}:\n{report}");
    }
    ok(
        "verify five hours later",
        &chain.verify(
            &deploy_dir(&chain, "deploy-later", &work),
            &root_layout,
            &links,
            Some("+5 hours"),
        ),
    );
    // The same layout, two days on: expired.
    fails_with(
        "expired layout",
        &chain.verify(
            &deploy_dir(&chain, "deploy-expired", &work),
            &root_layout,
            &links,
            Some("+2 days"),
        ),
        &["expired"],
    );

    // Variants of the good chain, each in its own link directory.
    let variant = |name: &str| {
        let d = chain.dir.join(name);
        copy_dir(&links, &d);
        d
    };
    let verify_variant = |name: &str, d: &Path| {
        chain.verify(
            &deploy_dir(&chain, &format!("deploy-{name}"), &work),
            &root_layout,
            d,
            None,
        )
    };

    // An artifact changed between build and package: package records other materials.
    let tampered_work = chain.dir.join("tampered-work");
    copy_dir(&work, &tampered_work);
    std::fs::write(tampered_work.join("app.bin"), b"a backdoor\n").unwrap();
    let changed = variant("changed");
    std::fs::remove_file(link_file(&changed, "package", ".sigstore.json")).unwrap();
    ok(
        "package of a changed artifact",
        &chain.run_step(
            &tampered_work,
            &changed,
            "package",
            &chain.email_token("packager@acme.example"),
            &["app.bin", "scan-report.txt"],
            &["app.tar"],
            &package,
        ),
    );
    fails_with(
        "changed artifact",
        &verify_variant("changed", &changed),
        &[
            "package",
            "MATCH app.bin WITH PRODUCTS FROM build",
            "app.bin",
        ],
    );

    // The build signed by another workflow of the same repository: the wrong identity.
    let wrong_identity = variant("wrong-identity");
    std::fs::remove_file(link_file(&wrong_identity, "build", ".sigstore.json")).unwrap();
    let evil = format!("{REPO}/.github/workflows/evil.yml@refs/heads/main");
    ok(
        "build by another workflow",
        &chain.run_step(
            &work,
            &wrong_identity,
            "build",
            &chain.github_token("evil", &evil),
            &["src"],
            &["app.bin"],
            &["sh", "-c", "cat src/main.c src/Makefile > app.bin"],
        ),
    );
    fails_with(
        "wrong identity",
        &verify_variant("wrong-identity", &wrong_identity),
        &["build", "evil.yml"],
    );

    // A scanner's email from the wrong issuer: only one scan link counts.
    let wrong_issuer = variant("wrong-issuer");
    replace_step_links(
        &chain,
        &work,
        &wrong_issuer,
        "scan",
        &[
            chain.email_token("scanner-a@acme.example"),
            chain.token_file(
                "other-scanner",
                &email_token(&chain.other, "scanner-b@acme.example"),
            ),
        ],
        &["app.bin"],
        &["scan-report.txt"],
        &scan,
    );
    fails_with(
        "wrong issuer",
        &verify_variant("wrong-issuer", &wrong_issuer),
        &["scan", "scanner-b@acme.example", &chain.other.issuer()],
    );

    // A missing step.
    let missing = variant("missing");
    std::fs::remove_file(link_file(&missing, "checkout", ".sigstore.json")).unwrap();
    fails_with(
        "missing step",
        &verify_variant("missing", &missing),
        &["step 'checkout'", "no link names this step"],
    );

    // Below threshold: both scan links by scanner-a count once.
    let below = variant("below");
    let scanner_a = chain.email_token("scanner-a@acme.example");
    replace_step_links(
        &chain,
        &work,
        &below,
        "scan",
        &[scanner_a.clone(), scanner_a],
        &["app.bin"],
        &["scan-report.txt"],
        &scan,
    );
    fails_with(
        "below threshold",
        &verify_variant("below", &below),
        &[
            "step 'scan' needs links signed by 2 distinct functionaries",
            "scanner-a@acme.example",
            "links by one signer count once",
        ],
    );

    // A link absent from the log: its bundle without the log entry.
    let unlogged = variant("unlogged");
    let build_bundle = link_file(&unlogged, "build", ".sigstore.json");
    let mut b: Value = serde_json::from_slice(&std::fs::read(&build_bundle).unwrap()).unwrap();
    b["verificationMaterial"]["tlogEntries"] = json!([]);
    std::fs::write(&build_bundle, serde_json::to_vec(&b).unwrap()).unwrap();
    fails_with(
        "link absent from the log",
        &verify_variant("unlogged", &unlogged),
        &["build", "log"],
    );

    // A tampered inclusion proof.
    let tampered = variant("tampered-proof");
    let package_bundle = link_file(&tampered, "package", ".sigstore.json");
    let mut b: Value = serde_json::from_slice(&std::fs::read(&package_bundle).unwrap()).unwrap();
    let hashes = &mut b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["hashes"];
    let first = hashes[0].as_str().expect("a proof with hashes").to_owned();
    let mut raw =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &first).unwrap();
    raw[0] ^= 1;
    hashes[0] = json!(base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        raw
    ));
    std::fs::write(&package_bundle, serde_json::to_vec(&b).unwrap()).unwrap();
    fails_with(
        "tampered inclusion proof",
        &verify_variant("tampered-proof", &tampered),
        &["package", "inclusion proof"],
    );
}

fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(data).into()
}
