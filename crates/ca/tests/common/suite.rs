//! The issuance suite: root -> intermediate -> leaf with an embedded SCT, checked by our own code,
//! by the `openssl` CLI and by Python `cryptography`, for any key backend. `hallmark-ca`'s tests
//! run it with in-memory keys; `hallmark-server`'s `ca_softhsm` test runs it with SoftHSM keys
//! (through PKCS#11), which this pure crate does not depend on.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use der::asn1::{Null, ObjectIdentifier, OctetString, Utf8StringRef};
use der::{Decode, Encode};
use hallmark_ca::{CaError, CaSubject, Certificate, Issuance, IssuingKey, LEAF_VALIDITY};
use hallmark_sigstore::ct::{self, CtError, Sct};
use hallmark_sigstore::identity::{Identity, SubjectAltName};
use hallmark_sigstore::oid;
use signature::Signer;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAltName as San,
    SubjectKeyIdentifier,
};

pub const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
pub const ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
pub const KU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
pub const EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
pub const SKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
pub const AKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.35");
pub const SAN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.17");
pub const BC: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");

pub fn subject(cn: &str) -> CaSubject {
    CaSubject {
        organization: "Hallmark Test".into(),
        common_name: cn.into(),
    }
}

pub fn der(cert: &Certificate) -> Vec<u8> {
    cert.to_der().unwrap()
}

pub fn pem(cert: &Certificate) -> String {
    hallmark_ca::certificate_pem(cert).unwrap()
}

pub fn ext<'a>(cert: &'a Certificate, oid: &ObjectIdentifier) -> &'a x509_cert::ext::Extension {
    cert.tbs_certificate()
        .extensions()
        .unwrap()
        .iter()
        .find(|e| e.extn_id == *oid)
        .unwrap_or_else(|| panic!("extension {oid} missing"))
}

pub fn ski_of(cert: &Certificate) -> OctetString {
    SubjectKeyIdentifier::from_der(ext(cert, &SKI).extn_value.as_bytes())
        .unwrap()
        .0
}

/// SHA-1 via openssl (an independent implementation of the key identifier).
pub fn sha1(bytes: &[u8]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = super::write(dir.path(), "in", bytes);
    let out = super::openssl_ok(&["dgst", "-sha1", "-r", p.to_str().unwrap()]);
    let hexs = out.split_whitespace().next().unwrap();
    (0..hexs.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hexs[i..i + 2], 16).unwrap())
        .collect()
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The expected extension OIDs of a leaf for `identity`, in order.
pub fn expected_order(identity: &Identity) -> Vec<ObjectIdentifier> {
    let mut v = vec![KU, EKU, SKI, AKI, SAN, oid::FULCIO_ISSUER_V1];
    if identity.github_v1.is_some() {
        v.extend([
            oid::FULCIO_GITHUB_WORKFLOW_TRIGGER,
            oid::FULCIO_GITHUB_WORKFLOW_SHA,
            oid::FULCIO_GITHUB_WORKFLOW_NAME,
            oid::FULCIO_GITHUB_WORKFLOW_REPOSITORY,
            oid::FULCIO_GITHUB_WORKFLOW_REF,
        ]);
    }
    v.push(oid::FULCIO_ISSUER_V2);
    let ci = &identity.extensions;
    for (o, val) in [
        (oid::FULCIO_BUILD_SIGNER_URI, &ci.build_signer_uri),
        (oid::FULCIO_BUILD_SIGNER_DIGEST, &ci.build_signer_digest),
        (oid::FULCIO_RUNNER_ENVIRONMENT, &ci.runner_environment),
        (oid::FULCIO_SOURCE_REPOSITORY_URI, &ci.source_repository_uri),
        (
            oid::FULCIO_SOURCE_REPOSITORY_DIGEST,
            &ci.source_repository_digest,
        ),
        (oid::FULCIO_SOURCE_REPOSITORY_REF, &ci.source_repository_ref),
        (
            oid::FULCIO_SOURCE_REPOSITORY_IDENTIFIER,
            &ci.source_repository_identifier,
        ),
        (
            oid::FULCIO_SOURCE_REPOSITORY_OWNER_URI,
            &ci.source_repository_owner_uri,
        ),
        (
            oid::FULCIO_SOURCE_REPOSITORY_OWNER_IDENTIFIER,
            &ci.source_repository_owner_identifier,
        ),
        (oid::FULCIO_BUILD_CONFIG_URI, &ci.build_config_uri),
        (oid::FULCIO_BUILD_CONFIG_DIGEST, &ci.build_config_digest),
        (oid::FULCIO_BUILD_TRIGGER, &ci.build_trigger),
        (oid::FULCIO_RUN_INVOCATION_URI, &ci.run_invocation_uri),
        (
            oid::FULCIO_SOURCE_REPOSITORY_VISIBILITY,
            &ci.source_repository_visibility_at_signing,
        ),
        (
            oid::FULCIO_DEPLOYMENT_ENVIRONMENT,
            &ci.deployment_environment,
        ),
    ] {
        if val.as_deref().is_some_and(|v| !v.is_empty()) {
            v.push(o);
        }
    }
    if !identity.subject.is_empty() {
        v.push(oid::FULCIO_TOKEN_SUBJECT);
    }
    v
}

/// Check the CA certificates' profile.
pub fn check_ca_profile(cert: &Certificate, path_len: u8, code_signing: bool, key: &[u8]) {
    let bc = ext(cert, &BC);
    assert!(bc.critical, "basicConstraints must be critical");
    let bc = BasicConstraints::from_der(bc.extn_value.as_bytes()).unwrap();
    assert!(bc.ca);
    assert_eq!(bc.path_len_constraint, Some(path_len));
    let ku = ext(cert, &KU);
    assert!(ku.critical);
    let ku = KeyUsage::from_der(ku.extn_value.as_bytes()).unwrap();
    assert!(ku.key_cert_sign() && ku.crl_sign() && !ku.digital_signature());
    let has_eku = cert
        .tbs_certificate()
        .extensions()
        .unwrap()
        .iter()
        .any(|e| e.extn_id == EKU);
    assert_eq!(has_eku, code_signing);
    if code_signing {
        let eku = ExtendedKeyUsage::from_der(ext(cert, &EKU).extn_value.as_bytes()).unwrap();
        assert_eq!(eku.0, vec![oid::KP_CODE_SIGNING]);
    }
    // SKI = SHA-1 of the subjectPublicKey bits (RFC 5280 method 1).
    let spki = spki::SubjectPublicKeyInfoRef::from_der(key).unwrap();
    assert_eq!(
        ski_of(cert).as_bytes(),
        sha1(spki.subject_public_key.raw_bytes()).as_slice()
    );
    let serial = cert.tbs_certificate().serial_number().as_bytes();
    assert!(serial.len() >= 9, "serial has at least 64 random bits");
    assert!(serial[0] & 0x80 == 0, "serial is positive");
}

/// Everything a leaf must satisfy, checked by our code, openssl and Python.
#[allow(clippy::too_many_arguments)]
pub fn check_leaf(
    dir: &std::path::Path,
    identity: &Identity,
    leaf: &Certificate,
    prepared_tbs: &[u8],
    sct: &Sct,
    inter: &Certificate,
    root_pem: &std::path::Path,
    inter_pem: &std::path::Path,
    ct_spki: &[u8],
    issuing_spki: &[u8],
    leaf_spki: &[u8],
    now: SystemTime,
    sig_alg: ObjectIdentifier,
) {
    let leaf_der = der(leaf);
    let tbs = leaf.tbs_certificate();

    // Profile: empty subject, exact validity, algorithm of the issuing key.
    assert!(tbs.subject().is_empty());
    let nb = tbs.validity().not_before.to_system_time();
    let na = tbs.validity().not_after.to_system_time();
    assert_eq!(unix(nb), unix(now), "notBefore is now (whole seconds)");
    assert_eq!(na.duration_since(nb).unwrap(), Duration::from_secs(600));
    assert_eq!(LEAF_VALIDITY, Duration::from_secs(600));
    assert_eq!(leaf.signature_algorithm().oid, sig_alg);
    assert_eq!(tbs.signature().oid, sig_alg);
    assert_eq!(tbs.issuer(), inter.tbs_certificate().subject());
    assert_eq!(tbs.subject_public_key_info().to_der().unwrap(), leaf_spki);

    // Extensions in profile order, SCT list last, no poison.
    let exts = tbs.extensions().unwrap();
    let mut order = expected_order(identity);
    order.push(oid::CT_SCT_LIST);
    let got: Vec<_> = exts.iter().map(|e| e.extn_id).collect();
    assert_eq!(got, order);
    assert!(exts.iter().all(|e| e.extn_id != oid::CT_POISON));

    let ku = ext(leaf, &KU);
    assert!(ku.critical);
    let ku = KeyUsage::from_der(ku.extn_value.as_bytes()).unwrap();
    assert!(ku.digital_signature() && !ku.key_cert_sign());
    let eku = ExtendedKeyUsage::from_der(ext(leaf, &EKU).extn_value.as_bytes()).unwrap();
    assert_eq!(eku.0, vec![oid::KP_CODE_SIGNING]);
    // SKI of the leaf key, AKI = the intermediate's SKI.
    let leaf_key = spki::SubjectPublicKeyInfoRef::from_der(leaf_spki).unwrap();
    assert_eq!(
        ski_of(leaf).as_bytes(),
        sha1(leaf_key.subject_public_key.raw_bytes()).as_slice()
    );
    let aki = AuthorityKeyIdentifier::from_der(ext(leaf, &AKI).extn_value.as_bytes()).unwrap();
    assert_eq!(aki.key_identifier.unwrap(), ski_of(inter));

    let san = ext(leaf, &SAN);
    assert!(san.critical, "SAN is critical: the subject is empty");
    let san = San::from_der(san.extn_value.as_bytes()).unwrap();
    assert_eq!(san.0.len(), 1);
    match (&san.0[0], &identity.san) {
        (GeneralName::Rfc822Name(n), SubjectAltName::Email(e)) => assert_eq!(n.as_str(), e),
        (GeneralName::UniformResourceIdentifier(n), SubjectAltName::Uri(u)) => {
            assert_eq!(n.as_str(), u)
        }
        (GeneralName::OtherName(o), SubjectAltName::OtherName(u)) => {
            assert_eq!(o.type_id, oid::FULCIO_OTHERNAME_SAN);
            assert_eq!(
                o.value.decode_as::<Utf8StringRef<'_>>().unwrap().as_str(),
                u
            );
        }
        (got, want) => panic!("SAN {got:?} for {want:?}"),
    }

    // .1 and .2-.6 are bare bytes; .8 onwards DER UTF8String.
    assert_eq!(
        ext(leaf, &oid::FULCIO_ISSUER_V1).extn_value.as_bytes(),
        identity.issuer.as_bytes()
    );
    let v2 = ext(leaf, &oid::FULCIO_ISSUER_V2).extn_value.as_bytes();
    assert_eq!(
        Utf8StringRef::from_der(v2).unwrap().as_str(),
        identity.issuer
    );
    assert_eq!(v2[0], 0x0c, "UTF8String tag");
    if let Some(gh) = &identity.github_v1 {
        assert_eq!(
            ext(leaf, &oid::FULCIO_GITHUB_WORKFLOW_SHA)
                .extn_value
                .as_bytes(),
            gh.sha.as_bytes()
        );
        assert_eq!(
            ext(leaf, &oid::FULCIO_GITHUB_WORKFLOW_REPOSITORY)
                .extn_value
                .as_bytes(),
            gh.repository.as_bytes()
        );
    }
    if let Some(uri) = &identity.extensions.source_repository_uri {
        let v = ext(leaf, &oid::FULCIO_SOURCE_REPOSITORY_URI)
            .extn_value
            .as_bytes();
        assert_eq!(Utf8StringRef::from_der(v).unwrap().as_str(), uri);
    }
    let sub = ext(leaf, &oid::FULCIO_TOKEN_SUBJECT).extn_value.as_bytes();
    assert_eq!(
        Utf8StringRef::from_der(sub).unwrap().as_str(),
        identity.subject
    );
    for e in exts {
        let critical = [KU, SAN].contains(&e.extn_id);
        assert_eq!(e.critical, critical, "criticality of {}", e.extn_id);
    }

    // The SCT: exactly one, ours, verifying over the reconstructed TBS.
    let scts = ct::embedded_scts(&leaf_der).unwrap();
    assert_eq!(scts, vec![sct.clone()]);
    let rebuilt = ct::reconstruct_precert_tbs(&leaf_der).unwrap();
    assert_eq!(
        rebuilt, prepared_tbs,
        "removing the SCT list gives the signed TBS"
    );
    let ikh = ct::issuer_key_hash(issuing_spki);
    ct::verify_sct(&scts[0], ct_spki, &ikh, &rebuilt).unwrap();
    ct::verify_embedded_scts(&leaf_der, issuing_spki, ct_spki).unwrap();
    hallmark_ca::verify_issued_by("leaf", leaf, "intermediate", inter).unwrap();

    // openssl: the chain verifies inside the validity window, not outside it.
    let leaf_pem = super::write(dir, "leaf.pem", pem(leaf));
    let verify_at = |t: u64| {
        super::openssl(&[
            "verify",
            "-CAfile",
            root_pem.to_str().unwrap(),
            "-untrusted",
            inter_pem.to_str().unwrap(),
            "-purpose",
            "any",
            "-attime",
            &t.to_string(),
            leaf_pem.to_str().unwrap(),
        ])
    };
    // (OpenSSL treats the notAfter second itself as expired; RFC 5280 says inclusive.)
    for t in [unix(nb), unix(nb) + 1, unix(na) - 1] {
        let (ok, text) = verify_at(t);
        assert!(ok && text.contains(": OK"), "openssl verify at {t}: {text}");
    }
    let (ok, text) = verify_at(unix(na) + 1);
    assert!(!ok && text.contains("expired"), "after notAfter: {text}");
    let (ok, text) = verify_at(unix(nb) - 1);
    assert!(
        !ok && text.contains("not yet valid"),
        "before notBefore: {text}"
    );

    // openssl x509 -text shows the profile.
    let text = super::openssl_ok(&["x509", "-in", leaf_pem.to_str().unwrap(), "-noout", "-text"]);
    let after = |label: &str| -> String {
        let i = text
            .find(label)
            .unwrap_or_else(|| panic!("{label} missing in:\n{text}"));
        text[i..].lines().take(3).collect::<Vec<_>>().join("\n")
    };
    assert!(after("X509v3 Subject Alternative Name").contains("critical"));
    let san_text = after("X509v3 Subject Alternative Name");
    match &identity.san {
        SubjectAltName::Email(e) => assert!(san_text.contains(&format!("email:{e}")), "{san_text}"),
        SubjectAltName::Uri(u) => assert!(san_text.contains(&format!("URI:{u}")), "{san_text}"),
        SubjectAltName::OtherName(_) => assert!(
            san_text.contains("othername:") && san_text.contains("1.3.6.1.4.1.57264.1.7"),
            "{san_text}"
        ),
        _ => unreachable!(),
    }
    assert!(after("X509v3 Key Usage").contains("critical"));
    assert!(after("X509v3 Key Usage").contains("Digital Signature"));
    assert!(after("X509v3 Extended Key Usage").contains("Code Signing"));
    assert!(text.contains("X509v3 Subject Key Identifier"));
    assert!(text.contains("X509v3 Authority Key Identifier"));
    let issuer_text = after("1.3.6.1.4.1.57264.1.1:");
    assert!(
        issuer_text.lines().nth(1).unwrap().trim() == identity.issuer,
        "57264.1.1 holds the bare issuer URL:\n{issuer_text}"
    );
    let issuer_v2 = after("1.3.6.1.4.1.57264.1.8:");
    assert!(
        issuer_v2
            .lines()
            .nth(1)
            .unwrap()
            .trim()
            .ends_with(&identity.issuer),
        "57264.1.8 holds the issuer URL:\n{issuer_v2}"
    );
    let subject_text = after("1.3.6.1.4.1.57264.1.24:");
    assert!(subject_text.contains(&identity.subject), "{subject_text}");
    if let Some(uri) = &identity.extensions.build_signer_uri {
        assert!(after("1.3.6.1.4.1.57264.1.9:").contains(uri.as_str()));
        assert!(after("1.3.6.1.4.1.57264.1.11:").contains("github-hosted"));
        assert!(after("1.3.6.1.4.1.57264.1.22:").contains("public"));
        assert!(
            !text.contains("1.3.6.1.4.1.57264.1.23:"),
            "empty values are left out"
        );
    }
    if let Some(gh) = &identity.github_v1 {
        let t = after("1.3.6.1.4.1.57264.1.5:");
        assert_eq!(t.lines().nth(1).unwrap().trim(), gh.repository);
    }
    let sct_text = after("CT Precertificate SCTs");
    assert!(
        sct_text.contains("Signed Certificate Timestamp"),
        "{sct_text}"
    );
    assert_eq!(text.matches("Signed Certificate Timestamp:").count(), 1);
    assert!(!text.contains("CT Precertificate Poison"));

    // Python cryptography: independent SCT verification and TBS reconstruction.
    let ct_pem = super::write(
        dir,
        "ct.pem",
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64_lines(ct_spki)
        ),
    );
    let py = super::python_kv(
        super::PY_SCT_CHECK,
        &[
            leaf_pem.to_str().unwrap(),
            inter_pem.to_str().unwrap(),
            ct_pem.to_str().unwrap(),
        ],
    );
    assert_eq!(py["sct_count"], "1");
    assert_eq!(py["sct_verified"], "yes");
    assert_eq!(py["cert_signature_verified"], "yes");
    assert_eq!(
        py["tbs"],
        hex(prepared_tbs),
        "cryptography's precert TBS = ours"
    );
    assert_eq!(py["log_id"], hex(&sct.log_id));
    assert_eq!(py["log_id"], py["expected_log_id"]);
    assert_eq!(py["timestamp_ms"], sct.timestamp_ms.to_string());
    assert_eq!(py["version"], "v1");
    assert_eq!(py["entry_type"], "PRE_CERTIFICATE");
    assert_eq!(py["hash"], "sha256");
    assert_eq!(py["sig_alg"], "ECDSA");
    assert_eq!(py["san_critical"], "True");
    assert_eq!(
        py["ext_1.3.6.1.4.1.57264.1.1"],
        hex(identity.issuer.as_bytes())
    );
    let mut utf8 = vec![0x0c, u8::try_from(identity.issuer.len()).unwrap()];
    utf8.extend_from_slice(identity.issuer.as_bytes());
    assert_eq!(py["ext_1.3.6.1.4.1.57264.1.8"], hex(&utf8));
    assert_eq!(py["validity_s"], "600");
    assert_eq!(py["subject_rdns"], "0");
}

pub fn base64_lines(der: &[u8]) -> String {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    b.as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The suite: `root_key` signs the root and the intermediate, `issuing_key` (the intermediate's
/// key) signs leaves, `ct_key` signs SCTs. `other_key` is some unrelated CA key.
pub fn suite<R, I, T, O>(
    name: &str,
    root_key: &R,
    issuing_key: &I,
    ct_key: &T,
    other_key: &O,
    leaf_sig_alg: ObjectIdentifier,
) where
    R: IssuingKey,
    I: IssuingKey,
    T: IssuingKey + Signer<p256::ecdsa::DerSignature>,
    O: IssuingKey,
{
    let dir = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let year = Duration::from_secs(365 * 86_400);

    // CA certificates.
    let root_spki = root_key.public_key_der().unwrap();
    let issuing_spki = issuing_key.public_key_der().unwrap();
    let root =
        hallmark_ca::root_certificate(root_key, &subject(&format!("{name} root")), now, 10 * year)
            .unwrap();
    let inter = hallmark_ca::intermediate_certificate(
        root_key,
        &root,
        &issuing_spki,
        &subject(&format!("{name} intermediate")),
        now,
        year,
    )
    .unwrap();
    check_ca_profile(&root, 1, false, &root_spki);
    check_ca_profile(&inter, 0, true, &issuing_spki);
    assert_eq!(ski_of(&root), {
        AuthorityKeyIdentifier::from_der(ext(&root, &AKI).extn_value.as_bytes())
            .unwrap()
            .key_identifier
            .unwrap()
    });
    assert_eq!(
        AuthorityKeyIdentifier::from_der(ext(&inter, &AKI).extn_value.as_bytes())
            .unwrap()
            .key_identifier
            .unwrap(),
        ski_of(&root)
    );
    assert_ne!(
        root.tbs_certificate().serial_number(),
        inter.tbs_certificate().serial_number()
    );
    hallmark_ca::check_ca_chain(&root, &inter).unwrap();
    hallmark_ca::check_key_matches("root", &root, &root_spki).unwrap();
    hallmark_ca::check_key_matches("intermediate", &inter, &issuing_spki).unwrap();
    let err = hallmark_ca::check_key_matches("intermediate", &inter, &root_spki).unwrap_err();
    assert!(matches!(
        err,
        CaError::CertificateKeyMismatch {
            what: "intermediate"
        }
    ));
    assert!(
        err.to_string().contains("certificate not matching key"),
        "{err}"
    );

    // An intermediate from another root does not chain.
    let other_root =
        hallmark_ca::root_certificate(other_key, &subject(&format!("{name} root")), now, year)
            .unwrap();
    let err = hallmark_ca::check_ca_chain(&other_root, &inter).unwrap_err();
    assert!(matches!(err, CaError::NotIssuedBy { .. }), "{err}");
    // Issuing from the root cert with the wrong key is refused.
    let err = hallmark_ca::intermediate_certificate(
        other_key,
        &root,
        &issuing_spki,
        &subject("x"),
        now,
        year,
    )
    .unwrap_err();
    assert!(matches!(
        err,
        CaError::CertificateKeyMismatch { what: "root" }
    ));
    // A leaf-issuing setup with the wrong key is refused.
    assert!(matches!(
        Issuance::new(&inter, root_key).unwrap_err(),
        CaError::CertificateKeyMismatch { .. }
    ));

    let root_pem = super::write(dir.path(), "root.pem", pem(&root));
    let inter_pem = super::write(dir.path(), "inter.pem", pem(&inter));
    let (ok, text) = super::openssl(&[
        "verify",
        "-CAfile",
        root_pem.to_str().unwrap(),
        inter_pem.to_str().unwrap(),
    ]);
    assert!(ok, "openssl verifies the intermediate: {text}");

    let ct_spki = ct_key.public_key_der().unwrap();
    let log_id = ct::log_id(&ct_spki);
    let issuance = Issuance::new(&inter, issuing_key).unwrap();
    assert_eq!(
        issuance.issuer_key_hash(),
        &ct::issuer_key_hash(&issuing_spki)
    );

    let mut serials = HashSet::new();
    for (i, identity) in [
        super::email_identity(),
        super::workflow_identity(),
        super::username_identity(),
    ]
    .iter()
    .enumerate()
    {
        let client = if i == 1 {
            super::generate_memory_p384()
                .unwrap()
                .public_key_der()
                .unwrap()
        } else {
            super::generate_memory_p256()
                .unwrap()
                .public_key_der()
                .unwrap()
        };
        let now = SystemTime::now();
        let prepared = issuance.prepare(&client, identity, now).unwrap();
        let precert_tbs = prepared.precert_tbs_der().to_vec();
        assert_eq!(unix(prepared.not_before()), unix(now));
        assert_eq!(
            prepared
                .not_after()
                .duration_since(prepared.not_before())
                .unwrap(),
            LEAF_VALIDITY
        );

        // The signed precertificate: the same TBS plus the critical poison.
        let precert_der = prepared.precertificate_der(issuing_key).unwrap();
        let precert = Certificate::from_der(&precert_der).unwrap();
        let pexts = precert.tbs_certificate().extensions().unwrap();
        let poison = pexts.last().unwrap();
        assert_eq!(poison.extn_id, oid::CT_POISON);
        assert!(poison.critical);
        assert_eq!(poison.extn_value.as_bytes(), Null.to_der().unwrap());
        hallmark_ca::verify_issued_by("precertificate", &precert, "intermediate", &inter).unwrap();
        let mut expected_pre = expected_order(identity);
        expected_pre.push(oid::CT_POISON);
        assert_eq!(
            pexts.iter().map(|e| e.extn_id).collect::<Vec<_>>(),
            expected_pre
        );

        // The CT log's leaf round-trips and carries exactly the TBS the SCT signs.
        let ts = u64::try_from(now.duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap() + 3;
        let mtl = prepared.merkle_tree_leaf(ts);
        let decoded = ct::MerkleTreeLeaf::decode(&mtl.encode().unwrap()).unwrap();
        assert_eq!(decoded, mtl);
        assert!(matches!(
            &decoded.entry,
            ct::LogEntry::Precert { tbs_certificate, issuer_key_hash }
                if *tbs_certificate == precert_tbs && issuer_key_hash == issuance.issuer_key_hash()
        ));
        let chain = ct::PrecertChainEntry {
            pre_certificate: precert_der.clone(),
            precertificate_chain: vec![der(&inter), der(&root)],
        };
        assert_eq!(
            ct::PrecertChainEntry::decode(&chain.encode().unwrap()).unwrap(),
            chain
        );

        let sct =
            hallmark_ca::ct::sign_sct(ct_key, log_id, ts, prepared.issuer_key_hash(), &precert_tbs)
                .unwrap();
        ct::verify_sct(&sct, &ct_spki, prepared.issuer_key_hash(), &precert_tbs).unwrap();
        // Tampering anywhere breaks the SCT.
        let mut later = sct.clone();
        later.timestamp_ms += 1;
        assert!(matches!(
            ct::verify_sct(&later, &ct_spki, prepared.issuer_key_hash(), &precert_tbs),
            Err(CtError::SctSignature { .. })
        ));
        assert!(matches!(
            ct::verify_sct(&sct, &ct_spki, &[0; 32], &precert_tbs),
            Err(CtError::SctSignature { .. })
        ));
        let mut other_tbs = precert_tbs.clone();
        *other_tbs.last_mut().unwrap() ^= 1;
        assert!(ct::verify_sct(&sct, &ct_spki, prepared.issuer_key_hash(), &other_tbs).is_err());
        assert!(matches!(
            ct::verify_sct(&sct, &root_spki, prepared.issuer_key_hash(), &precert_tbs),
            Err(CtError::SctLogMismatch { .. })
        ));

        // finish refuses another key; the right one makes the final certificate.
        assert!(matches!(
            prepared.clone().finish(&sct, root_key).unwrap_err(),
            CaError::CertificateKeyMismatch { .. }
        ));
        let leaf = prepared.finish(&sct, issuing_key).unwrap();
        assert!(serials.insert(leaf.tbs_certificate().serial_number().as_bytes().to_vec()));
        assert_eq!(
            leaf.tbs_certificate().serial_number(),
            precert.tbs_certificate().serial_number(),
            "the precertificate and the certificate share the serial (RFC 6962 §3.1)"
        );
        check_leaf(
            dir.path(),
            identity,
            &leaf,
            &precert_tbs,
            &sct,
            &inter,
            &root_pem,
            &inter_pem,
            &ct_spki,
            &issuing_spki,
            &client,
            now,
            leaf_sig_alg,
        );
    }
    assert_eq!(serials.len(), 3, "serials differ");
}
