//! CSRs and proof-of-possession public keys from clients parse or fail cleanly.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = hallmark_ca::parse_csr(data);
    let _ = hallmark_ca::verify_proof_of_possession(data, "fuzz@example.com", data);
});
