//! Finding key objects on the token and reading their public keys.

use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use der::Decode;
use ecdsa::VerifyingKey;
use spki::ObjectIdentifier;

use crate::KeyError;
use crate::curve::{HsmCurve, curve_name};

pub(super) fn find(
    s: &Session,
    class: ObjectClass,
    label: &str,
    token: &str,
) -> Result<Vec<ObjectHandle>, KeyError> {
    s.find_objects(&[
        Attribute::Class(class),
        Attribute::Label(label.as_bytes().to_vec()),
    ])
    .map_err(|e| KeyError::from_ck(e, token))
}

pub(super) fn find_key(
    s: &Session,
    class: ObjectClass,
    label: &str,
    token: &str,
) -> Result<ObjectHandle, KeyError> {
    let object = if class == ObjectClass::PRIVATE_KEY {
        "private key"
    } else {
        "public key"
    };
    match find(s, class, label, token)?.as_slice() {
        [] => Err(KeyError::KeyNotFound {
            label: label.to_owned(),
            object,
        }),
        [one] => Ok(*one),
        many => Err(KeyError::AmbiguousLabel {
            label: label.to_owned(),
            object,
            count: many.len(),
        }),
    }
}

/// Read and check a public key object: EC, on curve `C`, with a valid `CKA_EC_POINT`.
pub(super) fn read_public_key<C: HsmCurve>(
    s: &Session,
    handle: ObjectHandle,
    label: &str,
    token: &str,
) -> Result<VerifyingKey<C>, KeyError> {
    let attrs = s
        .get_attributes(
            handle,
            &[
                AttributeType::KeyType,
                AttributeType::EcParams,
                AttributeType::EcPoint,
            ],
        )
        .map_err(|e| KeyError::from_ck(e, token))?;
    let mut key_type = None;
    let mut params = None;
    let mut point = None;
    for attr in attrs {
        match attr {
            Attribute::KeyType(t) => key_type = Some(t),
            Attribute::EcParams(p) => params = Some(p),
            Attribute::EcPoint(p) => point = Some(p),
            _ => {}
        }
    }
    let mismatch = |found: String| KeyError::CurveMismatch {
        label: label.to_owned(),
        expected: C::NAME,
        found,
    };
    if key_type != Some(KeyType::EC) {
        return Err(mismatch(match key_type {
            Some(t) => format!("a {t} key, not an EC key"),
            None => "a key without CKA_KEY_TYPE".to_owned(),
        }));
    }
    let params = params.ok_or_else(|| mismatch("an EC key without CKA_EC_PARAMS".to_owned()))?;
    let oid = ObjectIdentifier::from_der(&params)
        .map_err(|_| mismatch("an EC key with explicit or unreadable CKA_EC_PARAMS".to_owned()))?;
    if oid != C::OID {
        return Err(mismatch(curve_name(&oid)));
    }
    let point = point.ok_or_else(|| KeyError::BadPublicKey {
        label: label.to_owned(),
        reason: "no CKA_EC_POINT",
    })?;
    C::verifying_key_from_sec1(sec1_from_ec_point(&point, C::FIELD_BYTES)).ok_or_else(|| {
        KeyError::BadPublicKey {
            label: label.to_owned(),
            reason: "CKA_EC_POINT is not a point on the curve",
        }
    })
}

/// `CKA_EC_POINT` is specified as a DER OCTET STRING wrapping the SEC1 point (SoftHSM does this:
/// `04 41 04 x y` for P-256); some modules return the bare point. Decide by length: a bare
/// uncompressed point is exactly `1 + 2 * field_bytes` long.
pub(super) fn sec1_from_ec_point(raw: &[u8], field_bytes: usize) -> &[u8] {
    if raw.len() == 1 + 2 * field_bytes {
        return raw;
    }
    match <&der::asn1::OctetStringRef>::from_der(raw) {
        Ok(inner) => inner.as_bytes(),
        Err(_) => raw,
    }
}
