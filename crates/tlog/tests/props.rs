//! Property tests over random tree sizes: proofs from the stored-hash layout verify, roots equal a
//! naive recursive RFC 6962 implementation, and any single-bit change to a proof is rejected.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hallmark_tlog::proof::{verify_consistency, verify_inclusion};
use hallmark_tlog::tree::{MemoryHashes, consistency_proof, inclusion_proof, root_at};
use hallmark_tlog::{Hash, leaf_hash, node_hash};
use proptest::prelude::*;

/// RFC 6962 MTH written straight from the definition.
fn naive_root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => hallmark_tlog::EMPTY_ROOT,
        1 => leaves[0],
        n => {
            // The largest power of two strictly below n.
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
        }
    }
}

fn tree(n: u64) -> (MemoryHashes, Vec<Hash>) {
    let mut m = MemoryHashes::new();
    let leaves: Vec<Hash> = (0..n).map(|i| leaf_hash(&i.to_le_bytes())).collect();
    for l in &leaves {
        m.append(*l);
    }
    (m, leaves)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn proofs_verify_and_tampering_fails(n in 1u64..3000, i_seed: u64, m_seed: u64, bit in 0usize..256) {
        let (store, leaves) = tree(n);
        let i = i_seed % n;
        let root = store.root();
        prop_assert_eq!(root, naive_root(&leaves));

        let proof = inclusion_proof(i, n, &store).unwrap();
        prop_assert!(verify_inclusion(i, n, &leaves[i as usize].0, &proof, &root.0).is_ok());
        if !proof.is_empty() {
            let mut bad = proof.clone();
            let at = bit % bad.len();
            bad[at].0[(bit / 8) % 32] ^= 1 << (bit % 8);
            prop_assert!(verify_inclusion(i, n, &leaves[i as usize].0, &bad, &root.0).is_err());
        }
        // The wrong index never verifies.
        if n > 1 {
            let j = (i + 1) % n;
            prop_assert!(verify_inclusion(j, n, &leaves[i as usize].0, &proof, &root.0).is_err());
        }

        let m = 1 + m_seed % n;
        let old_root = root_at(m, &store).unwrap();
        prop_assert_eq!(old_root, naive_root(&leaves[..m as usize]));
        let cproof = consistency_proof(m, n, &store).unwrap();
        prop_assert!(verify_consistency(m, n, &old_root.0, &root.0, &cproof).is_ok());
        if !cproof.is_empty() {
            let mut bad = cproof.clone();
            let at = bit % bad.len();
            bad[at].0[(bit / 8) % 32] ^= 1 << (bit % 8);
            prop_assert!(verify_consistency(m, n, &old_root.0, &root.0, &bad).is_err());
        }
    }

    #[test]
    fn verifiers_never_panic(i: u64, n: u64, m: u64, proof in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..70), root in proptest::collection::vec(any::<u8>(), 0..40)) {
        let _ = verify_inclusion(i, n, &root, &proof, &root);
        let _ = verify_consistency(m, n, &root, &root, &proof);
    }
}
