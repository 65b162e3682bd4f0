//! RFC 6962 TLS encodings (SCTs, SCT lists, Merkle tree leaves, chain entries) and embedded-SCT
//! extraction from certificates decode or fail cleanly; what decodes re-encodes to the same bytes.
#![no_main]

use hallmark_sigstore::ct::{
    MerkleTreeLeaf, PrecertChainEntry, Sct, decode_sct_list, embedded_scts,
    precert_tbs_without_poison, reconstruct_precert_tbs,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(sct) = Sct::decode(data) {
        assert_eq!(sct.encode().expect("a decoded SCT encodes"), data);
    }
    let _ = decode_sct_list(data);
    if let Ok(leaf) = MerkleTreeLeaf::decode(data) {
        assert_eq!(leaf.encode().expect("a decoded leaf encodes"), data);
    }
    let _ = PrecertChainEntry::decode(data);
    let _ = embedded_scts(data);
    let _ = reconstruct_precert_tbs(data);
    let _ = precert_tbs_without_poison(data);
});
