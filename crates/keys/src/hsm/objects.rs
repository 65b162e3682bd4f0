//! Finding key objects on the token and reading their public keys.

use crate::KeyError;
use crate::algorithm::HsmAlgorithm;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

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

/// Read and check a public key object: of algorithm `A`'s key type, on its curve, with a valid
/// `CKA_EC_POINT`.
pub(super) fn read_public_key<A: HsmAlgorithm>(
    s: &Session,
    handle: ObjectHandle,
    label: &str,
    token: &str,
) -> Result<A::VerifyingKey, KeyError> {
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
        expected: A::NAME,
        found,
    };
    let expected_type = A::key_type();
    if key_type != Some(expected_type) {
        return Err(mismatch(match key_type {
            Some(t) => format!("a {t} key, not a {expected_type} key"),
            None => "a key without CKA_KEY_TYPE".to_owned(),
        }));
    }
    let params = params.ok_or_else(|| mismatch("a key without CKA_EC_PARAMS".to_owned()))?;
    A::check_params(&params).map_err(mismatch)?;
    let point = point.ok_or_else(|| KeyError::BadPublicKey {
        label: label.to_owned(),
        reason: "no CKA_EC_POINT",
    })?;
    A::verifying_key_from_point(&point).ok_or_else(|| KeyError::BadPublicKey {
        label: label.to_owned(),
        reason: "CKA_EC_POINT is not a point on the curve",
    })
}
