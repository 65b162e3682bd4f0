//! The Helm chart `charts/hallmark`, checked with the real tools `scripts/test.sh` installs
//! (`scripts/lib.sh`: `ensure_helm`, `ensure_venv`), whose paths come in `HALLMARK_HELM`,
//! `HALLMARK_KUBERNETES_VALIDATE` and `HALLMARK_CHECKOV`. A missing tool fails the test, saying
//! how to get it: a chart check that passes without its checker checks nothing.
//!
//! For each values file in `charts/hallmark/ci/` (one per HSM mode): `helm lint --strict`,
//! `helm template`, `kubernetes-validate --strict` for Kubernetes 1.30 and 1.35 (offline
//! schemas), `checkov --framework kubernetes --skip-download` with no failed check and a reason
//! on every skipped one, and the secure defaults read back from the manifests. Each values file
//! in `tests/fixtures/helm-invalid/` is refused with the messages its `# expect:` lines name.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// Kubernetes versions the manifests must be valid for: the chart's minimum and a newer one.
const KUBERNETES_VERSIONS: [&str; 2] = ["1.30.0", "1.35.0"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn chart() -> PathBuf {
    root().join("charts/hallmark")
}

/// A tool's path from the variable `scripts/test.sh` exports; panics (fails) when it is absent.
fn tool(var: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "{var} is not set: run ./scripts/test.sh, or `source scripts/lib.sh && ensure_venv && \
             ensure_helm` and export the variables it sets, then run this test"
        )
    });
    assert!(
        path.is_file(),
        "{var}={} does not exist: run ./scripts/test.sh to install it",
        path.display()
    );
    path
}

/// Runs a command with Helm's state in a temporary directory (no user config, no network).
fn run(cmd: &mut Command, home: &Path) -> Output {
    cmd.env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn values_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no values files in {}", dir.display());
    files
}

/// `helm template` with a values file; the rendered documents.
fn render(helm: &Path, values: &Path, home: &Path) -> (String, Vec<serde_norway::Value>) {
    let out = run(
        Command::new(helm)
            .args(["template", "hm"])
            .arg(chart())
            .args(["--namespace", "signing", "--values"])
            .arg(values),
        home,
    );
    assert!(
        out.status.success(),
        "helm template -f {}:\n{}",
        values.display(),
        text(&out)
    );
    let yaml = String::from_utf8(out.stdout).unwrap();
    let docs = serde_norway::Deserializer::from_str(&yaml)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .filter(|v: &serde_norway::Value| !v.is_null())
        .collect();
    (yaml, docs)
}

fn json(v: &serde_norway::Value) -> Value {
    serde_json::to_value(v).unwrap()
}

fn kind<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn names(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(|x| x["name"].as_str()).collect())
        .unwrap_or_default()
}

/// What the chart promises in every mode, read back from the manifests.
fn check_secure_defaults(file: &str, docs: &[Value]) {
    // One workload: a StatefulSet on redb, a Deployment on PostgreSQL.
    let sts = kind(docs, "StatefulSet");
    let deployments = kind(docs, "Deployment");
    assert_eq!(
        sts.len() + deployments.len(),
        1,
        "{file}: one StatefulSet or Deployment"
    );
    let workload = sts.first().or(deployments.first()).unwrap();
    let spec = &workload["spec"]["template"]["spec"];
    assert_eq!(spec["automountServiceAccountToken"], false, "{file}");
    assert_eq!(spec["securityContext"]["runAsNonRoot"], true, "{file}");
    assert_eq!(
        spec["securityContext"]["seccompProfile"]["type"], "RuntimeDefault",
        "{file}"
    );
    let containers: Vec<&Value> = spec["containers"]
        .as_array()
        .unwrap()
        .iter()
        .chain(spec["initContainers"].as_array().into_iter().flatten())
        .collect();
    for c in &containers {
        let sc = &c["securityContext"];
        let name = &c["name"];
        assert_eq!(sc["readOnlyRootFilesystem"], true, "{file}: {name}");
        assert_eq!(sc["allowPrivilegeEscalation"], false, "{file}: {name}");
        assert_eq!(sc["runAsNonRoot"], true, "{file}: {name}");
        assert_eq!(
            sc["capabilities"]["drop"],
            serde_json::json!(["ALL"]),
            "{file}: {name}"
        );
        assert!(
            c["resources"]["requests"].is_object(),
            "{file}: {name} has requests"
        );
    }
    // The serving container: probes on /healthz and /readyz, and only the serving token's PIN.
    let server = &spec["containers"][0];
    assert_eq!(server["args"], serde_json::json!(["serve"]), "{file}");
    assert_eq!(
        server["startupProbe"]["httpGet"]["path"], "/healthz",
        "{file}"
    );
    assert_eq!(
        server["readinessProbe"]["httpGet"]["path"], "/readyz",
        "{file}"
    );
    assert_eq!(
        server["livenessProbe"]["httpGet"]["path"], "/healthz",
        "{file}"
    );
    let mounts = names(&server["volumeMounts"]);
    assert!(mounts.contains(&"pins"), "{file}: {mounts:?}");
    assert!(
        !mounts.contains(&"init-pins"),
        "{file}: the server must not see the root PIN"
    );
    let pins = spec["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "pins")
        .unwrap();
    assert_eq!(
        pins["secret"]["items"].as_array().unwrap().len(),
        1,
        "{file}: the serving PIN volume holds the user PIN only"
    );
    // The root PIN reaches `ca init` and nothing else that runs hallmark serve.
    for c in &containers {
        if names(&c["volumeMounts"]).contains(&"init-pins") {
            assert!(
                ["hsm-init", "ca-init"].contains(&c["name"].as_str().unwrap()),
                "{file}: {} sees the init PINs",
                c["name"]
            );
        }
    }
    // The log's single writer on redb; on PostgreSQL, replicas that keep nothing in the pod.
    if let Some(sts) = sts.first() {
        assert!(sts["spec"]["replicas"].as_u64().unwrap() <= 1, "{file}");
        assert!(
            sts["spec"]["volumeClaimTemplates"].is_array(),
            "{file}: data on a PersistentVolume"
        );
    } else {
        check_postgres_workload(file, workload);
    }
    for k in [
        "Service",
        "NetworkPolicy",
        "PodDisruptionBudget",
        "ConfigMap",
    ] {
        assert!(!kind(docs, k).is_empty(), "{file}: no {k}");
    }
    // Hallmark's configuration: a production image has no development issuer.
    let config = kind(docs, "ConfigMap")
        .into_iter()
        .find(|c| c["data"]["config.yaml"].is_string())
        .unwrap_or_else(|| panic!("{file}: no ConfigMap with config.yaml"));
    let server_yaml: serde_norway::Value =
        serde_norway::from_str(config["data"]["config.yaml"].as_str().unwrap()).unwrap();
    let server_cfg = json(&server_yaml);
    assert!(server_cfg.get("dev_oidc").is_none(), "{file}: {server_cfg}");
    assert!(
        server_cfg["hsm"]["pin_file"].is_string(),
        "{file}: PIN from a file"
    );
    let issuers: serde_norway::Value =
        serde_norway::from_str(config["data"]["issuers.yaml"].as_str().unwrap()).unwrap();
    assert!(json(&issuers).is_object(), "{file}: issuers.yaml");
}

/// The PostgreSQL mode's Deployment: no volume claims, the database URL from its Secret, the CA
/// certificates from their ConfigMap, no `ca init`, and each pod advertising its own address.
fn check_postgres_workload(file: &str, d: &Value) {
    assert!(d["spec"]["volumeClaimTemplates"].is_null(), "{file}");
    assert_eq!(
        d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0,
        "{file}"
    );
    let spec = &d["spec"]["template"]["spec"];
    let volumes = spec["volumes"].as_array().unwrap();
    let volume = |name: &str| {
        volumes
            .iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("{file}: no volume {name}"))
    };
    assert!(volume("data")["emptyDir"].is_object(), "{file}");
    assert!(
        volume("pg-url")["secret"]["secretName"].is_string(),
        "{file}"
    );
    assert!(
        volume("ca-certificates")["configMap"]["name"].is_string(),
        "{file}"
    );
    let inits = names(&spec["initContainers"]);
    assert!(!inits.contains(&"ca-init"), "{file}: {inits:?}");
    let server = &spec["containers"][0];
    assert!(names(&server["volumeMounts"]).contains(&"pg-url"), "{file}");
    // The replicas' shared secret, from its Secret, mounted where the config names it.
    assert_eq!(
        volume("replica-key")["secret"]["items"][0]["path"],
        "key",
        "{file}"
    );
    assert!(
        names(&server["volumeMounts"]).contains(&"replica-key"),
        "{file}"
    );
    let env = names(&server["env"]);
    assert!(
        env.contains(&"HALLMARK_PG_ADVERTISE_URL"),
        "{file}: {env:?}"
    );
}

/// Every `checkov.io/skipN` annotation names a check and says why.
fn check_skip_reasons(file: &str, docs: &[Value]) {
    for d in docs {
        let Some(annotations) = d["metadata"]["annotations"].as_object() else {
            continue;
        };
        for (k, v) in annotations {
            if k.starts_with("checkov.io/skip") {
                let v = v.as_str().unwrap();
                let (check, reason) = v.split_once('=').unwrap_or((v, ""));
                assert!(
                    check.starts_with("CKV_") && reason.trim().len() >= 20,
                    "{file}: {k} on {} has no reason: {v:?}",
                    d["metadata"]["name"]
                );
            }
        }
    }
}

#[test]
fn chart_lints_renders_and_validates_in_each_hsm_mode() {
    let helm = tool("HALLMARK_HELM");
    let validate = tool("HALLMARK_KUBERNETES_VALIDATE");
    let checkov = tool("HALLMARK_CHECKOV");
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path();
    let mut modes = Vec::new();
    for values in values_files(&chart().join("ci")) {
        let file = values.file_name().unwrap().to_string_lossy().into_owned();
        let lint = run(
            Command::new(&helm)
                .args(["lint", "--strict"])
                .arg(chart())
                .arg("--values")
                .arg(&values),
            home,
        );
        assert!(
            lint.status.success(),
            "helm lint --strict -f {file}:\n{}",
            text(&lint)
        );

        let (yaml, docs) = render(&helm, &values, home);
        let docs: Vec<Value> = docs.iter().map(json).collect();
        let rendered = home.join(format!("{file}.rendered.yaml"));
        std::fs::write(&rendered, &yaml).unwrap();
        check_secure_defaults(&file, &docs);
        check_skip_reasons(&file, &docs);
        // An Ingress routes every public API, the Rekor v2 checkpoint and tiles included, and
        // not /metrics.
        for ingress in kind(&docs, "Ingress") {
            let paths: Vec<&str> = ingress["spec"]["rules"][0]["http"]["paths"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["path"].as_str().unwrap())
                .collect();
            for want in ["/api/", "/ct/", "/checkpoint", "/tile/"] {
                assert!(paths.contains(&want), "{file}: Ingress paths {paths:?}");
            }
            assert!(!paths.contains(&"/metrics"), "{file}: {paths:?}");
        }
        let cfg = kind(&docs, "ConfigMap")
            .into_iter()
            .find(|c| c["data"]["config.yaml"].is_string())
            .map(|c| c["data"]["config.yaml"].as_str().unwrap().to_owned())
            .unwrap();
        modes.push((file.clone(), cfg));

        for version in KUBERNETES_VERSIONS {
            let out = run(
                Command::new(&validate)
                    .args(["--strict", "--quiet", "--kubernetes-version", version])
                    .arg(&rendered),
                home,
            );
            let report = text(&out);
            assert!(
                out.status.success(),
                "kubernetes-validate --strict -k {version} ({file}):\n{report}"
            );
            // Only the ServiceMonitor (a Prometheus Operator CRD) has no built-in schema.
            for line in report
                .lines()
                .filter(|l| l.contains("Couldn't find schema"))
            {
                assert!(
                    line.contains("kind ServiceMonitor"),
                    "{file} {version}: {line}"
                );
            }
        }

        let out = run(
            Command::new(&checkov)
                .args(["--framework", "kubernetes", "--skip-download", "--compact"])
                .args(["--output", "json", "--file"])
                .arg(&rendered)
                .env("BC_SKIP_MAPPING", "TRUE"),
            home,
        );
        let report: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("checkov ({file}) printed no JSON ({e}):\n{}", text(&out)));
        let summary = &report["summary"];
        let failed: Vec<String> = report["results"]["failed_checks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| format!("{} on {}", c["check_id"], c["resource"]))
            .collect();
        assert!(
            failed.is_empty() && summary["failed"] == 0 && out.status.success(),
            "checkov ({file}) failed checks without a justified skip: {failed:?}"
        );
        assert_eq!(summary["parsing_errors"], 0, "checkov ({file}): {summary}");
        assert!(
            summary["passed"].as_u64().unwrap() > 50,
            "checkov ({file}) ran few checks: {summary}"
        );
        for s in report["results"]["skipped_checks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let comment = s["check_result"]["suppress_comment"].as_str().unwrap_or("");
            assert!(
                comment.len() >= 20,
                "checkov ({file}) skipped {} without a reason",
                s["check_id"]
            );
        }
    }
    // One values file per HSM mode, each wiring its module.
    for (mode, module) in [
        ("softhsm", "libsofthsm2.so"),
        ("pkcs11", "/opt/pkcs11/"),
        ("p11kit", "p11-kit-client.so"),
    ] {
        let (file, cfg) = modes
            .iter()
            .find(|(f, _)| f.starts_with(mode))
            .unwrap_or_else(|| panic!("no charts/hallmark/ci/{mode}-*.yaml"));
        assert!(cfg.contains(module), "{file}: module {module}:\n{cfg}");
    }
    // storage.postgres reaches the server's storage block, the URL as a file.
    let (file, cfg) = modes
        .iter()
        .find(|(f, _)| f.starts_with("postgres"))
        .unwrap();
    for want in [
        "backend: postgres",
        "url_file: /etc/hallmark/pg/url",
        "pool_size: 8",
        "ca_file: /etc/hallmark/pg-ca/ca.pem",
        "replica_key_file: /etc/hallmark/replica-key/key",
    ] {
        assert!(cfg.contains(want), "{file}: no {want:?} in:\n{cfg}");
    }
    // logV2.witnesses reach log_v2.witnesses (crates/server/src/config.rs parses the same shape).
    let (file, cfg) = modes.iter().find(|(f, _)| f.starts_with("pkcs11")).unwrap();
    for want in [
        "witnesses:",
        "- url: \"https://witness.example.net\"",
        "vkey: \"witness.example/lw1+cd18f6d3+",
        "witness_quorum: 1",
        "witness_wait_ms: 1500",
    ] {
        assert!(cfg.contains(want), "{file}: no {want:?} in:\n{cfg}");
    }
}

#[test]
fn invalid_values_are_refused_with_readable_messages() {
    let helm = tool("HALLMARK_HELM");
    let tmp = tempfile::tempdir().unwrap();
    for values in values_files(&root().join("tests/fixtures/helm-invalid")) {
        let file = values.file_name().unwrap().to_string_lossy().into_owned();
        let expected: Vec<String> = std::fs::read_to_string(&values)
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: ").map(str::to_owned))
            .collect();
        assert!(!expected.is_empty(), "{file} has no `# expect:` line");
        let out = run(
            Command::new(&helm)
                .args(["template", "hm"])
                .arg(chart())
                .arg("--values")
                .arg(&values),
            tmp.path(),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{file} was accepted");
        for e in &expected {
            assert!(
                stderr.contains(e.as_str()),
                "{file}: expected {e:?} in:\n{stderr}"
            );
        }
    }
}
