//! The container image (`deploy/build-image.sh`), run without a container engine the way the
//! Helm chart's pod runs it: the OCI layout in `HALLMARK_IMAGE` (`DIR:TAG`, built by
//! `scripts/test.sh`) is unpacked with umoci (`HALLMARK_UMOCI`), and each of the chart's
//! containers that uses the image runs under bubblewrap (`HALLMARK_BWRAP`) as the image's user,
//! with the image's environment plus the container's, the image's root file system read-only
//! and writable only where the chart mounts a writable volume (the data volume, `/tmp`, the
//! trust-root output). The containers, their commands, environment and mounts, and the files in
//! the ConfigMap come from `helm template` (`HALLMARK_HELM`) of `charts/hallmark/ci/*.yaml`, so
//! the test runs what a cluster would.
//!
//! A missing tool or image fails the test, saying how to get it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The user the chart's securityContext runs as (values.yaml `runAsUser`/`runAsGroup`).
const CHART_USER: &str = "10001:10001";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A path from the variable `scripts/test.sh` exports; panics (fails) when it is absent.
fn from_env(var: &str) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "{var} is not set: run ./scripts/test.sh (it installs umoci and bubblewrap, builds \
             the image with deploy/build-image.sh and exports HALLMARK_IMAGE, HALLMARK_UMOCI, \
             HALLMARK_BWRAP and HALLMARK_HELM)"
        )
    })
}

fn tool(var: &str) -> PathBuf {
    let path = from_env(var);
    assert!(
        path.is_file(),
        "{var}={} does not exist: run ./scripts/test.sh to install it",
        path.display()
    );
    path
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// The image: its OCI config (read from the layout, not through umoci) and unpacked root.
struct Image {
    config: Value,
    rootfs: PathBuf,
    _dir: tempfile::TempDir,
}

/// `DIR:TAG` -> the image config blob, following index.json and the manifest (OCI image-spec).
fn image_config(layout: &Path, tag: &str) -> Value {
    let index = read_json(&layout.join("index.json"));
    let manifest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("{}: no manifest tagged {tag}", layout.display()));
    let blob = |digest: &Value| {
        let d = digest.as_str().unwrap();
        let (alg, hex) = d.split_once(':').unwrap();
        read_json(&layout.join("blobs").join(alg).join(hex))
    };
    let manifest = blob(&manifest["digest"]);
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    blob(&manifest["config"]["digest"])
}

fn unpack() -> Image {
    let umoci = tool("HALLMARK_UMOCI");
    let image = from_env("HALLMARK_IMAGE");
    let image = image.to_str().unwrap().to_owned();
    let (layout, tag) = image
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("HALLMARK_IMAGE={image} is not DIR:TAG"));
    assert!(
        Path::new(layout).join("index.json").is_file(),
        "HALLMARK_IMAGE={image}: no OCI layout there; run deploy/build-image.sh (./scripts/test.sh does)"
    );
    let config = image_config(Path::new(layout), tag);
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    // --rootless: the files belong to whoever runs the test, so it can add mount points (below)
    // as a container runtime does before it makes the root read-only.
    let out = Command::new(&umoci)
        .args(["unpack", "--rootless", "--image", &image])
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "umoci unpack {image}:\n{}",
        text(&out)
    );
    Image {
        config,
        rootfs: bundle.join("rootfs"),
        _dir: dir,
    }
}

/// Resolves `path` inside `root` the way the container sees it: symlinks (like /var/run -> /run)
/// are followed within `root`, never into the host.
fn resolve_in(root: &Path, path: &str) -> PathBuf {
    let mut resolved = PathBuf::from("/");
    let mut pending: Vec<String> = path
        .split('/')
        .filter(|c| !c.is_empty())
        .rev()
        .map(str::to_owned)
        .collect();
    let mut hops = 0;
    while let Some(c) = pending.pop() {
        let next = resolved.join(&c);
        let host = root.join(next.strip_prefix("/").unwrap());
        match std::fs::read_link(&host) {
            Ok(target) => {
                hops += 1;
                assert!(hops < 40, "symlink loop resolving {path}");
                if target.is_absolute() {
                    resolved = PathBuf::from("/");
                }
                for c in target.components().rev() {
                    match c {
                        Component::Normal(s) => pending.push(s.to_str().unwrap().to_owned()),
                        Component::ParentDir => pending.push("..".to_owned()),
                        _ => {}
                    }
                }
            }
            Err(_) if c == ".." => {
                resolved.pop();
            }
            Err(_) => resolved = next,
        }
    }
    resolved
}

/// One `helm template` of the chart; the rendered documents as JSON.
fn render(values: &[&Path], set: &[String]) -> Vec<Value> {
    let helm = tool("HALLMARK_HELM");
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(helm);
    cmd.args(["template", "hm"])
        .arg(root().join("charts/hallmark"))
        .args(["--namespace", "signing"])
        .env("HELM_CACHE_HOME", home.path().join("cache"))
        .env("HELM_CONFIG_HOME", home.path().join("config"))
        .env("HELM_DATA_HOME", home.path().join("data"));
    for v in values {
        cmd.arg("--values").arg(v);
    }
    for s in set {
        cmd.args(["--set", s]);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "helm template:\n{}", text(&out));
    let yaml = String::from_utf8(out.stdout).unwrap();
    serde_norway::Deserializer::from_str(&yaml)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &serde_norway::Value| !v.is_null())
        .map(|v| serde_json::to_value(v).unwrap())
        .collect()
}

/// The pod: the rendered StatefulSet's pod spec, and a host directory for each of its volumes.
struct Pod {
    spec: Value,
    volumes: BTreeMap<String, (PathBuf, bool)>,
    _dir: tempfile::TempDir,
}

/// The PINs the test's Secret holds.
fn pin(key: &str) -> &'static str {
    match key {
        "user-pin" => "1234-user",
        "so-pin" => "5678-so",
        "root-user-pin" => "4321-root",
        "root-so-pin" => "8765-root-so",
        other => panic!("the chart asks the PIN Secret for {other}"),
    }
}

impl Pod {
    /// Materialises the volumes: ConfigMaps from the rendered documents, the PIN Secret's items,
    /// emptyDirs and the data PVC as empty directories. Secrets and ConfigMaps are read-only, as
    /// the kubelet mounts them.
    fn new(docs: &[Value]) -> Pod {
        let sts = docs.iter().find(|d| d["kind"] == "StatefulSet").unwrap();
        let spec = sts["spec"]["template"]["spec"].clone();
        let dir = tempfile::tempdir().unwrap();
        let mut volumes = BTreeMap::new();
        let mk = |name: &str| {
            let p = dir.path().join(name);
            std::fs::create_dir_all(&p).unwrap();
            p
        };
        for claim in sts["spec"]["volumeClaimTemplates"].as_array().unwrap() {
            let name = claim["metadata"]["name"].as_str().unwrap();
            volumes.insert(name.to_owned(), (mk(name), false));
        }
        for vol in spec["volumes"].as_array().unwrap() {
            let name = vol["name"].as_str().unwrap();
            let path = mk(name);
            let read_only = if let Some(cm) = vol.get("configMap") {
                let cm_name = cm["name"].as_str().unwrap();
                if let Some(doc) = docs
                    .iter()
                    .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == cm_name)
                {
                    for (k, v) in doc["data"].as_object().unwrap() {
                        std::fs::write(path.join(k), v.as_str().unwrap()).unwrap();
                    }
                } else {
                    // Only optional ConfigMaps may be missing (the previously published trust root).
                    assert_eq!(
                        cm["optional"], true,
                        "volume {name}: ConfigMap {cm_name} is not rendered"
                    );
                }
                true
            } else if let Some(secret) = vol.get("secret") {
                for item in secret["items"].as_array().unwrap() {
                    let file = path.join(item["path"].as_str().unwrap());
                    std::fs::write(file, pin(item["key"].as_str().unwrap())).unwrap();
                }
                true
            } else {
                vol.get("projected").is_some()
            };
            volumes.insert(name.to_owned(), (path, read_only));
        }
        Pod {
            spec,
            volumes,
            _dir: dir,
        }
    }

    /// The bubblewrap command line for one of the pod's containers.
    fn command(&self, image: &Image, container: &Value) -> Command {
        let bwrap = tool("HALLMARK_BWRAP");
        let config = &image.config["config"];
        let user = config["User"].as_str().unwrap();
        let (uid, gid) = user.split_once(':').unwrap();
        let mut cmd = Command::new(bwrap);
        cmd.args(["--unshare-all", "--share-net", "--unshare-user"])
            .args(["--uid", uid, "--gid", gid])
            .args(["--cap-drop", "ALL", "--die-with-parent", "--new-session"])
            .arg("--clearenv")
            .arg("--ro-bind")
            .arg(&image.rootfs)
            .arg("/")
            .args(["--proc", "/proc", "--dev", "/dev"]);
        for e in config["Env"].as_array().unwrap() {
            let (k, v) = e.as_str().unwrap().split_once('=').unwrap();
            cmd.args(["--setenv", k, v]);
        }
        for e in container["env"].as_array().into_iter().flatten() {
            let value = e["value"]
                .as_str()
                .unwrap_or_else(|| panic!("env {e}: only plain values are supported"));
            cmd.args(["--setenv", e["name"].as_str().unwrap(), value]);
        }
        for m in container["volumeMounts"].as_array().unwrap() {
            let name = m["name"].as_str().unwrap();
            let (host, vol_ro) = &self.volumes[name];
            let at = resolve_in(&image.rootfs, m["mountPath"].as_str().unwrap());
            // The runtime creates the mount point, then mounts; the root stays read-only.
            std::fs::create_dir_all(image.rootfs.join(at.strip_prefix("/").unwrap())).unwrap();
            let ro = *vol_ro || m["readOnly"] == true;
            cmd.arg(if ro { "--ro-bind" } else { "--bind" })
                .arg(host)
                .arg(&at);
        }
        cmd.arg("--chdir")
            .arg(config["WorkingDir"].as_str().unwrap());
        cmd.arg("--");
        // Kubernetes: command replaces the image's Entrypoint, args its Cmd.
        let strings = |v: &Value| -> Vec<String> {
            v.as_array()
                .into_iter()
                .flatten()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect()
        };
        let (command, args) = match container.get("command") {
            Some(c) => (strings(c), strings(&container["args"])),
            None if container.get("args").is_some() => {
                (strings(&config["Entrypoint"]), strings(&container["args"]))
            }
            None => (strings(&config["Entrypoint"]), strings(&config["Cmd"])),
        };
        cmd.args(command).args(args);
        cmd
    }

    /// Runs one container to completion; its output.
    fn run(&self, image: &Image, container: &Value) -> String {
        let out = self.command(image, container).output().unwrap();
        let name = container["name"].as_str().unwrap();
        assert!(out.status.success(), "container {name}:\n{}", text(&out));
        text(&out)
    }

    /// The init containers that run the Hallmark image to completion (not the publisher, which
    /// runs kubectl's image, nor a native sidecar, which runs for the pod's life).
    fn hallmark_inits(&self, reference: &str) -> Vec<Value> {
        self.spec["initContainers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["image"] == reference && c["restartPolicy"] != "Always")
            .cloned()
            .collect()
    }
}

/// The image's own promises: its config says what the chart relies on.
fn check_config(image: &Image) {
    let config = &image.config["config"];
    assert_eq!(config["User"], CHART_USER, "{config}");
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/usr/local/bin/hallmark"])
    );
    assert_eq!(config["WorkingDir"], "/var/lib/hallmark");
    for label in [
        "org.opencontainers.image.title",
        "org.opencontainers.image.version",
        "org.opencontainers.image.revision",
        "org.opencontainers.image.source",
        "org.opencontainers.image.licenses",
    ] {
        assert!(
            config["Labels"][label].is_string(),
            "label {label} missing: {config}"
        );
    }
    for (path, what) in [
        ("usr/lib/softhsm/libsofthsm2.so", "SoftHSM (softhsm mode)"),
        (
            "usr/lib/x86_64-linux-gnu/pkcs11/p11-kit-client.so",
            "p11-kit-client.so (p11kit mode)",
        ),
        ("usr/bin/p11-kit", "p11-kit (the p11kit sidecar)"),
        ("bin/sh", "/bin/sh (the chart's init containers)"),
        (
            "etc/ssl/certs/ca-certificates.crt",
            "CA certificates (OIDC issuers)",
        ),
    ] {
        assert!(
            image.rootfs.join(path).exists(),
            "the image lacks {what}: /{path}"
        );
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the sandbox (bwrap's child dies with it: --die-with-parent) when the test ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(url: &str) -> Option<(u16, String)> {
    let mut resp = ureq::get(url)
        .config()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(5)))
        .build()
        .call()
        .ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.body_mut().read_to_string().ok()?))
}

/// Starts `container` (a long-running one) in the background.
fn start(pod: &Pod, image: &Image, container: &Value) -> Running {
    let mut cmd = pod.command(image, container);
    Running(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// Polls `/readyz` (the chart's readiness probe) until it answers; checks `/healthz` too.
fn wait_ready(port: u16) {
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let ready = loop {
        if let Some(r) = get(&format!("{base}/readyz")) {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "hallmark serve did not answer within 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(ready, (200, "ready\n".to_owned()));
    let (status, _) = get(&format!("{base}/healthz")).unwrap();
    assert_eq!(status, 200);
}

fn names(containers: &[Value]) -> Vec<&str> {
    containers
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect()
}

/// An OIDC issuer standing in for the cluster's service-account issuer: `tests/py/oidc_idp.py`,
/// a separate Python process (pyca/cryptography, not Hallmark's code) serving discovery and a
/// JWKS over HTTP on loopback and minting ES256 tokens.
struct Idp {
    child: Child,
    issuer: String,
}

impl Idp {
    fn start() -> Idp {
        let python = tool("HALLMARK_PYTHON");
        let mut child = Command::new(python)
            .arg(root().join("tests/py/oidc_idp.py"))
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let issuer = line.trim().to_owned();
        assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer:?}");
        Idp { child, issuer }
    }

    /// A token with `claims`, as the API server would project one for a service account.
    fn mint(&self, claims: &Value) -> String {
        self.mint_at("mint", claims)
    }

    /// The same, signed with a key the issuer's JWKS does not hold (under its key id).
    fn mint_forged(&self, claims: &Value) -> String {
        self.mint_at("mint-forged", claims)
    }

    fn mint_at(&self, path: &str, claims: &Value) -> String {
        let mut resp = ureq::post(format!("{}/{path}", self.issuer))
            .send_json(claims)
            .unwrap();
        resp.body_mut().read_to_string().unwrap()
    }
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn image_runs_the_charts_softhsm_pod_as_its_user_with_a_read_only_root() {
    let image = unpack();
    check_config(&image);
    let port = free_port();
    let idp = Idp::start();
    let docs = render(
        &[&root().join("charts/hallmark/ci/softhsm-values.yaml")],
        &[
            format!("server.port={port}"),
            // Clients reach the server here (the trust config names it).
            format!("publicUrl=http://127.0.0.1:{port}"),
            // No cluster here: the service-account issuer is the test's, and the
            // kube-root-ca.crt ConfigMap does not exist.
            format!("oidc.kubernetes.issuerUrl={}", idp.issuer),
            "oidc.kubernetes.useClusterCA=false".to_owned(),
        ],
    );
    let pod = Pod::new(&docs);
    let main = pod.spec["containers"][0].clone();
    assert_eq!(main["name"], "hallmark");
    let reference = main["image"].as_str().unwrap().to_owned();

    // The entrypoint, and what the sandbox is: the image's user, and a root nothing can write.
    let mut probe = main.clone();
    probe.as_object_mut().unwrap().remove("args");
    probe["command"] = serde_json::json!([
        "/bin/sh",
        "-ec",
        "hallmark --version; id -u; id -g; \
         if touch /usr/local/bin/x /etc/x 2>/dev/null; then echo root-writable; fi; \
         touch /var/lib/hallmark/.w /tmp/.w && echo volumes-writable"
    ]);
    let out = pod.run(&image, &probe);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("hallmark "), "{out}");
    assert_eq!(&lines[1..], ["10001", "10001", "volumes-writable"], "{out}");

    // The init containers, twice (a pod restart): the second run changes nothing.
    let inits = pod.hallmark_inits(&reference);
    assert_eq!(names(&inits), ["hsm-init", "ca-init", "trust-root"]);
    let first: Vec<String> = inits.iter().map(|c| pod.run(&image, c)).collect();
    assert!(
        first[0].contains("token \"hallmark\" initialised"),
        "{}",
        first[0]
    );
    assert!(
        first[0].contains("token \"hallmark-root\" initialised"),
        "{}",
        first[0]
    );
    assert!(
        first[1].contains("wrote the root certificate"),
        "{}",
        first[1]
    );
    let second: Vec<String> = inits.iter().map(|c| pod.run(&image, c)).collect();
    assert!(second[0].contains("already present"), "{}", second[0]);
    // The second start upgrades in place: everything exists, so everything is kept.
    assert!(
        second[1].contains("the CA exists; adding what this version lacks"),
        "{}",
        second[1]
    );
    assert!(
        second[1].contains("Rekor v2 log key") && second[1].contains("already exists; kept"),
        "{}",
        second[1]
    );
    assert!(
        second[1].contains("timestamp authority certificate") && !second[1].contains("wrote"),
        "{}",
        second[1]
    );
    let trust_out = &pod.volumes["trust-out"].0;
    let configmap = std::fs::read_to_string(trust_out.join("configmap.yaml")).unwrap();
    assert!(configmap.contains("trusted_root.json: |"), "{configmap}");
    let trusted_root = read_json(&trust_out.join("trusted_root.json"));
    assert_eq!(
        trusted_root["certificateAuthorities"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // The server: ready once the HSM answers.
    let _server = start(&pod, &image, &main);
    wait_ready(port);

    // An unmodified sigstore-python signs as an in-cluster workload would: the trust config
    // the chart publishes, and a service-account token (audience sigstore) read from its
    // projected file into SIGSTORE_IDENTITY_TOKEN, as the chart's example Job does.
    let work = tempfile::tempdir().unwrap();
    let token_file = work.path().join("token");
    let claims = serde_json::json!({
        "sub": "system:serviceaccount:ci:release-bot",
        "kubernetes.io": {
            "namespace": "ci",
            "serviceaccount": {"name": "release-bot", "uid": "8a7c1f52-0d6e-4f0e-9a51-3b1c2d4e5f60"},
        },
    });
    let token = idp.mint(&claims);
    std::fs::write(&token_file, &token).unwrap();
    let artifact = work.path().join("release.tar");
    std::fs::write(&artifact, b"a release built in the cluster\n").unwrap();
    let bundle = work.path().join("release.tar.sigstore.json");
    let trust_config = trust_out.join("trust-config.json");
    let sigstore = tool("HALLMARK_PYTHON").parent().unwrap().join("sigstore");
    let sign = Command::new(&sigstore)
        .arg("--trust-config")
        .arg(&trust_config)
        .args(["sign", "--bundle"])
        .arg(&bundle)
        .arg(&artifact)
        .env(
            "SIGSTORE_IDENTITY_TOKEN",
            std::fs::read_to_string(&token_file).unwrap(),
        )
        .output()
        .unwrap();
    assert!(sign.status.success(), "sigstore sign:\n{}", text(&sign));
    let verify = |identity: &str| {
        Command::new(&sigstore)
            .arg("--trust-config")
            .arg(&trust_config)
            .args(["verify", "identity", "--offline", "--bundle"])
            .arg(&bundle)
            .args([
                "--cert-identity",
                identity,
                "--cert-oidc-issuer",
                &idp.issuer,
            ])
            .arg(&artifact)
            .output()
            .unwrap()
    };
    // A forged token (the same claims and key id, another key) gets no certificate.
    let forged_bundle = work.path().join("forged.sigstore.json");
    let forged = Command::new(&sigstore)
        .arg("--trust-config")
        .arg(&trust_config)
        .args(["sign", "--bundle"])
        .arg(&forged_bundle)
        .arg(&artifact)
        .env("SIGSTORE_IDENTITY_TOKEN", idp.mint_forged(&claims))
        .output()
        .unwrap();
    assert!(
        !forged.status.success() && !forged_bundle.exists(),
        "a forged token signed:\n{}",
        text(&forged)
    );
    assert!(
        text(&forged).contains("401 Client Error: Unauthorized"),
        "the CA should refuse the forged token (401):\n{}",
        text(&forged)
    );
    let ok = verify("https://kubernetes.io/namespaces/ci/serviceaccounts/release-bot");
    assert!(ok.status.success(), "sigstore verify:\n{}", text(&ok));
    let other = verify("https://kubernetes.io/namespaces/ci/serviceaccounts/someone-else");
    assert!(
        !other.status.success(),
        "another identity verified:\n{}",
        text(&other)
    );
}

/// The sidecar's vendor HSM for the test: SoftHSM with its token store on a volume only the
/// sidecar mounts, so Hallmark's containers reach the keys through the socket alone.
const P11KIT_SIDECAR_VALUES: &str = "\
hsm:
  p11kit:
    sidecar:
      env:
        - name: SOFTHSM2_CONF
          value: /var/lib/vendor-hsm/softhsm2.conf
      volumeMounts:
        - name: vendor-hsm
          mountPath: /var/lib/vendor-hsm
  extraVolumes:
    - name: vendor-hsm
      emptyDir: {}
";

#[test]
fn image_runs_the_charts_p11kit_pod_with_softhsm_behind_p11_kit_server() {
    let image = unpack();
    let port = free_port();
    let extra = tempfile::tempdir().unwrap();
    let extra_values = extra.path().join("sidecar.yaml");
    std::fs::write(&extra_values, P11KIT_SIDECAR_VALUES).unwrap();
    let docs = render(
        &[
            &root().join("charts/hallmark/ci/p11kit-values.yaml"),
            &extra_values,
        ],
        &[format!("server.port={port}")],
    );
    let pod = Pod::new(&docs);
    let main = pod.spec["containers"][0].clone();
    let reference = main["image"].as_str().unwrap().to_owned();
    let sidecar = pod.spec["initContainers"][0].clone();
    assert_eq!(sidecar["name"], "p11kit-server");
    assert_eq!(sidecar["restartPolicy"], "Always");
    for c in [&main].into_iter().chain(&pod.hallmark_inits(&reference)) {
        let mounts = names(c["volumeMounts"].as_array().unwrap());
        assert!(!mounts.contains(&"vendor-hsm"), "{}: {mounts:?}", c["name"]);
    }

    // The vendor's provisioning, done before the chart is installed: two tokens, PINs from the
    // Secret (the SO PIN is the user PIN here; the chart never sees it in this mode).
    let mut provision = sidecar.clone();
    provision["name"] = "provision".into();
    provision["volumeMounts"].as_array_mut().unwrap().extend([
        serde_json::json!({"name": "pins", "mountPath": "/etc/hallmark/pins"}),
        serde_json::json!({"name": "init-pins", "mountPath": "/etc/hallmark/init-pins"}),
    ]);
    provision["command"] = serde_json::json!([
        "/bin/sh",
        "-ec",
        "mkdir -p /var/lib/vendor-hsm/tokens
         printf 'directories.tokendir = /var/lib/vendor-hsm/tokens\\nobjectstore.backend = file\\n' >\"$SOFTHSM2_CONF\"
         m=/usr/lib/softhsm/libsofthsm2.so; u=/etc/hallmark/pins/user-pin; r=/etc/hallmark/init-pins/root-user-pin
         hallmark hsm init-token --module $m --label hallmark --so-pin-file $u --pin-file $u
         hallmark hsm init-token --module $m --label hallmark-root --so-pin-file $r --pin-file $r"
    ]);
    pod.run(&image, &provision);

    // The native sidecar starts first and runs for the pod's life.
    let _sidecar = start(&pod, &image, &sidecar);
    let socket = pod.volumes["p11kit-socket"].0.join("pkcs11.sock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        assert!(
            Instant::now() < deadline,
            "p11-kit server made no socket in 20 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let inits = pod.hallmark_inits(&reference);
    assert_eq!(names(&inits), ["ca-init"]);
    let out = pod.run(&image, &inits[0]);
    assert!(
        out.contains("generated root key pkcs11:token=hallmark-root"),
        "{out}"
    );
    assert!(out.contains("wrote the issuing certificate"), "{out}");

    let _server = start(&pod, &image, &main);
    wait_ready(port);
}
