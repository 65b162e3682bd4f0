//! `ct-merkle` as an independent oracle: for every tree size 1..=300, roots agree, and for every leaf
//! and every (m, n) pair our proofs equal ct-merkle's byte for byte and each side verifies the other's.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use hallmark_tlog::proof::{verify_consistency, verify_inclusion};
use hallmark_tlog::tree::{MemoryHashes, consistency_proof, inclusion_proof, root_at};
use hallmark_tlog::{Hash, leaf_hash};
use sha2::Sha256;

const MAX: u64 = 300;

fn concat(hashes: &[Hash]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

#[test]
fn agrees_with_ct_merkle_for_every_size_to_300() {
    let mut oracle: MemoryBackedTree<Sha256, Vec<u8>> = MemoryBackedTree::new();
    let mut ours = MemoryHashes::new();
    let mut roots = vec![hallmark_tlog::EMPTY_ROOT];
    let (mut inclusions, mut consistencies) = (0u64, 0u64);
    for n in 1..=MAX {
        let leaf = format!("entry {n}").into_bytes();
        ours.append(leaf_hash(&leaf));
        oracle.push(leaf);
        let oracle_root = oracle.root();
        let root = ours.root();
        assert_eq!(
            root.0.as_slice(),
            oracle_root.as_bytes().as_slice(),
            "root at {n}"
        );
        assert_eq!(root_at(n, &ours).unwrap(), root);
        roots.push(root);

        for i in 0..n {
            let proof = inclusion_proof(i, n, &ours).unwrap();
            let theirs = oracle.prove_inclusion(i as usize);
            assert_eq!(concat(&proof), theirs.as_bytes(), "inclusion {i} in {n}");
            let item = oracle.get(i as usize).unwrap();
            oracle_root
                .verify_inclusion(
                    item,
                    i,
                    &InclusionProof::<Sha256>::from_bytes(concat(&proof)),
                )
                .unwrap();
            verify_inclusion(i, n, &leaf_hash(item).0, &proof, &root.0).unwrap();
            inclusions += 1;
        }
        for m in 1..n {
            let proof = consistency_proof(m, n, &ours).unwrap();
            let theirs = oracle.prove_consistency((n - m) as usize);
            assert_eq!(concat(&proof), theirs.as_bytes(), "consistency {m} -> {n}");
            let old = RootHash::<Sha256>::new(roots[m as usize].0.into(), m);
            oracle_root
                .verify_consistency(
                    &old,
                    &ConsistencyProof::<Sha256>::try_from_bytes(concat(&proof)).unwrap(),
                )
                .unwrap();
            verify_consistency(m, n, &roots[m as usize].0, &root.0, &proof).unwrap();
            // A root from any other size does not verify.
            let wrong = &roots[(m as usize + 1) % n as usize];
            assert!(verify_consistency(m, n, &wrong.0, &root.0, &proof).is_err());
            consistencies += 1;
        }
    }
    assert_eq!(inclusions, MAX * (MAX + 1) / 2);
    assert_eq!(consistencies, MAX * (MAX - 1) / 2);
}
