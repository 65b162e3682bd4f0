//! Leaf issuance throughput with SoftHSM keys through PKCS#11: the SCT and the certificate are
//! both signed by the HSM. The measuring code is `hallmark-ca`'s (its `issue` bench runs it with
//! in-memory keys); it lives there, this crate adds the key backend.
//!
//! `cargo bench -p hallmark-server --bench ca_issue_softhsm`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../ca/benches/common/mod.rs"]
mod common;

use hallmark_keys::testing::{TestToken, unique_label};

fn main() {
    let hsm = TestToken::shared().open();
    common::issue_bench(
        "(b) SoftHSM P-256 CA + CT key",
        &hsm.generate_p256(&unique_label("bench-root")).unwrap(),
        &hsm.generate_p256(&unique_label("bench-inter")).unwrap(),
        &hsm.generate_p256(&unique_label("bench-ct")).unwrap(),
    );
    common::issue_bench(
        "(b) SoftHSM P-384 CA, P-256 CT",
        &hsm.generate_p384(&unique_label("bench-root")).unwrap(),
        &hsm.generate_p384(&unique_label("bench-inter")).unwrap(),
        &hsm.generate_p256(&unique_label("bench-ct")).unwrap(),
    );
}
