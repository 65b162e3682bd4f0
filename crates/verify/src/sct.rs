//! Embedded signed certificate timestamps ([RFC 6962 §3.2–3.3](https://www.rfc-editor.org/rfc/rfc6962#section-3.2)).
//!
//! A verifier rebuilds the precertificate TBS the CT log saw by removing the SCT list extension
//! from the final certificate's TBS (keeping every other byte), then checks each SCT's signature
//! over `version | type | timestamp | precert entry | issuer key hash | TBS | extensions`.
//! SCT extensions (non-empty for Static CT logs, which put the leaf index there) are signed
//! as they are.

use hallmark_sigstore::HashAlgorithm;

use crate::asn1;
use crate::cert::{Cert, OID_SCT_LIST};
use crate::crypto::{Scheme, sha256};
use crate::error::{Check, Result, fail};
use crate::trust::TrustedRoot;

/// One decoded SCT.
#[derive(Clone, Debug)]
struct Sct<'a> {
    log_id: &'a [u8],
    timestamp_ms: u64,
    extensions: &'a [u8],
    hash: u8,
    signature_algorithm: u8,
    signature: &'a [u8],
}

/// Reads TLS-encoded values, failing on truncation.
struct Tls<'a>(&'a [u8]);

impl<'a> Tls<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16_vec(&mut self) -> Option<&'a [u8]> {
        let len = self.take(2)?;
        self.take(usize::from(u16::from_be_bytes([len[0], len[1]])))
    }
}

fn parse_sct(bytes: &[u8]) -> Option<Sct<'_>> {
    let mut r = Tls(bytes);
    if r.u8()? != 0 {
        return None; // only v1 exists
    }
    let log_id = r.take(32)?;
    let mut ts = [0u8; 8];
    ts.copy_from_slice(r.take(8)?);
    let extensions = r.u16_vec()?;
    let hash = r.u8()?;
    let signature_algorithm = r.u8()?;
    let signature = r.u16_vec()?;
    r.0.is_empty().then_some(Sct {
        log_id,
        timestamp_ms: u64::from_be_bytes(ts),
        extensions,
        hash,
        signature_algorithm,
        signature,
    })
}

/// The SCTs in the certificate's SCT list extension.
fn embedded_scts(leaf: &Cert) -> Result<Vec<Sct<'_>>> {
    let ext = leaf.extension(&OID_SCT_LIST).ok_or_else(|| {
        fail(
            Check::Sct,
            "the certificate has no embedded SCT list (extension 1.3.6.1.4.1.11129.2.4.2)",
        )
    })?;
    let malformed = |what: &str| fail(Check::Sct, format!("malformed SCT list: {what}"));
    let list = asn1::read_only(ext.extn_value.as_bytes(), asn1::OCTET_STRING)
        .ok_or_else(|| malformed("not an OCTET STRING"))?;
    let mut r = Tls(list.value);
    let mut items = Tls(r.u16_vec().ok_or_else(|| malformed("truncated list"))?);
    if !r.0.is_empty() {
        return Err(malformed("trailing bytes"));
    }
    let mut out = Vec::new();
    while !items.0.is_empty() {
        let one = items
            .u16_vec()
            .ok_or_else(|| malformed("truncated entry"))?;
        out.push(parse_sct(one).ok_or_else(|| malformed("undecodable SCT"))?);
    }
    Ok(out)
}

/// The certificate's TBS without the SCT list extension (dropping the extensions field when it
/// held nothing else).
fn precert_tbs(leaf: &Cert) -> Option<Vec<u8>> {
    let tbs = asn1::read_only(leaf.tbs(), asn1::SEQUENCE)?;
    let mut r = asn1::Reader::new(tbs.value);
    let mut body = Vec::with_capacity(tbs.value.len());
    while !r.is_empty() {
        let el = r.next_any()?;
        if el.tag != asn1::context(3) {
            body.extend_from_slice(el.raw);
            continue;
        }
        let exts = asn1::read_only(el.value, asn1::SEQUENCE)?;
        let mut er = asn1::Reader::new(exts.value);
        let mut kept = Vec::with_capacity(exts.value.len());
        while !er.is_empty() {
            let ext = er.next(asn1::SEQUENCE)?;
            let oid = asn1::oid(asn1::Reader::new(ext.value).next(asn1::OID)?)?;
            if oid != OID_SCT_LIST {
                kept.extend_from_slice(ext.raw);
            }
        }
        if !kept.is_empty() {
            let mut seq = Vec::with_capacity(kept.len() + 4);
            asn1::write(&mut seq, asn1::SEQUENCE, &kept);
            asn1::write(&mut body, asn1::context(3), &seq);
        }
    }
    let mut out = Vec::with_capacity(body.len() + 4);
    asn1::write(&mut out, asn1::SEQUENCE, &body);
    Some(out)
}

/// What an SCT signs for a precertificate entry.
fn signed_data(sct: &Sct<'_>, issuer_key_hash: &[u8; 32], tbs: &[u8]) -> Option<Vec<u8>> {
    let tbs_len = u32::try_from(tbs.len()).ok().filter(|l| *l < 1 << 24)?;
    let ext_len = u16::try_from(sct.extensions.len()).ok()?;
    let mut w = Vec::with_capacity(tbs.len() + sct.extensions.len() + 50);
    w.extend_from_slice(&[0, 0]); // v1, certificate_timestamp
    w.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
    w.extend_from_slice(&1u16.to_be_bytes()); // precert_entry
    w.extend_from_slice(issuer_key_hash);
    w.extend_from_slice(&tbs_len.to_be_bytes()[1..]);
    w.extend_from_slice(tbs);
    w.extend_from_slice(&ext_len.to_be_bytes());
    w.extend_from_slice(sct.extensions);
    Some(w)
}

/// Verifies the leaf's embedded SCTs: at least one must come from a CT log of the trusted root
/// and verify; an SCT from a trusted log that does not verify is an error. Returns how many
/// verified.
pub(crate) fn verify_embedded(leaf: &Cert, issuer: &Cert, root: &TrustedRoot) -> Result<usize> {
    let scts = embedded_scts(leaf)?;
    let tbs = precert_tbs(leaf)
        .ok_or_else(|| fail(Check::Sct, "cannot rebuild the precertificate TBS"))?;
    let issuer_key_hash = sha256(issuer.key.spki_der());
    let mut verified = 0;
    for sct in &scts {
        let Some(log) = root.ctlogs.iter().find(|l| l.log_id == sct.log_id) else {
            continue;
        };
        let scheme = match (sct.hash, sct.signature_algorithm) {
            (4, 3) => Scheme::Ecdsa(HashAlgorithm::Sha256),
            (4, 1) => Scheme::RsaPkcs1(HashAlgorithm::Sha256),
            (h, s) => {
                return Err(fail(
                    Check::Sct,
                    format!("unsupported SCT signature algorithm (hash {h}, signature {s})"),
                ));
            }
        };
        let data = signed_data(sct, &issuer_key_hash, &tbs)
            .ok_or_else(|| fail(Check::Sct, "certificate too large for an SCT"))?;
        if !log.key.verify_scheme(scheme, &data, sct.signature) {
            return Err(fail(
                Check::Sct,
                format!(
                    "SCT from CT log {} ({}) does not verify",
                    hex::encode(sct.log_id),
                    log.base_url
                ),
            ));
        }
        let t = i64::try_from(sct.timestamp_ms / 1000).unwrap_or(i64::MAX);
        if !log.valid_for.contains(t) {
            return Err(fail(
                Check::Sct,
                format!(
                    "SCT time {} is outside the CT log key's validity ({})",
                    crate::time::display(t),
                    log.valid_for.display()
                ),
            ));
        }
        verified += 1;
    }
    if verified == 0 {
        let ids: Vec<String> = scts.iter().map(|s| hex::encode(s.log_id)).collect();
        return Err(fail(
            Check::Sct,
            format!(
                "no SCT from a trusted CT log (SCT log ids: [{}])",
                ids.join(", ")
            ),
        ));
    }
    Ok(verified)
}
