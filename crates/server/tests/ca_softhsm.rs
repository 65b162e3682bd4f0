//! `hallmark-ca`'s issuance suite (root -> intermediate -> leaf with an embedded SCT, checked by
//! our code, `openssl` and Python `cryptography`) with SoftHSM keys through PKCS#11: the keys the
//! server signs with. The suite lives with the CA's tests; the CA crate has no key backend, so
//! the HSM run is here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../ca/tests/common/mod.rs"]
mod common;

use common::suite::{ECDSA_SHA256, ECDSA_SHA384, suite};
use hallmark_keys::testing::{TestToken, unique_label};

#[test]
fn softhsm_p256_ca() {
    let hsm = TestToken::shared().open();
    suite(
        "SoftHSM P-256",
        &hsm.generate_p256(&unique_label("ca-root")).unwrap(),
        &hsm.generate_p256(&unique_label("ca-inter")).unwrap(),
        &hsm.generate_p256(&unique_label("ct")).unwrap(),
        &hsm.generate_p256(&unique_label("ca-other")).unwrap(),
        ECDSA_SHA256,
    );
}

#[test]
fn softhsm_p384_ca() {
    let hsm = TestToken::shared().open();
    suite(
        "SoftHSM P-384",
        &hsm.generate_p384(&unique_label("ca-root")).unwrap(),
        &hsm.generate_p384(&unique_label("ca-inter")).unwrap(),
        &hsm.generate_p256(&unique_label("ct")).unwrap(),
        &hsm.generate_p384(&unique_label("ca-other")).unwrap(),
        ECDSA_SHA384,
    );
}
