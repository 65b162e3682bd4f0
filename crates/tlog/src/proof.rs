//! Proof verification, per RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2 (consistency).
//!
//! Roots and leaf hashes are taken as byte slices and compared as bytes, so a verifier fed a hash of
//! the wrong length rejects it instead of failing to parse it. Proof elements must be 32 bytes.

use crate::{Error, Hash, node_hash};

fn proof_hash(h: &[u8]) -> Result<Hash, Error> {
    Hash::from_slice(h)
}

/// Computes the root that an inclusion proof leads to.
pub fn root_from_inclusion_proof<P: AsRef<[u8]>>(
    index: u64,
    size: u64,
    leaf_hash: &[u8],
    proof: &[P],
) -> Result<Hash, Error> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    let want = inclusion_proof_len(index, size);
    if proof.len() != want {
        return Err(Error::ProofLength {
            got: proof.len(),
            want,
        });
    }
    let mut r = Hash::from_slice(leaf_hash)?;
    let (mut fn_, mut sn) = (index, size - 1);
    for p in proof {
        let p = proof_hash(p.as_ref())?;
        if sn == 0 {
            return Err(Error::ProofLength {
                got: proof.len(),
                want,
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(&p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, &p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(Error::ProofLength {
            got: proof.len(),
            want,
        });
    }
    Ok(r)
}

/// Verifies that `leaf_hash` is leaf `index` of the tree of `size` leaves with root `root`.
pub fn verify_inclusion<P: AsRef<[u8]>>(
    index: u64,
    size: u64,
    leaf_hash: &[u8],
    proof: &[P],
    root: &[u8],
) -> Result<(), Error> {
    let got = root_from_inclusion_proof(index, size, leaf_hash, proof)?;
    if got.0.as_slice() != root {
        return Err(Error::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `first` leaves with root `first_root` is a prefix of the tree of `second`
/// leaves with root `second_root`.
pub fn verify_consistency<P: AsRef<[u8]>>(
    first: u64,
    second: u64,
    first_root: &[u8],
    second_root: &[u8],
    proof: &[P],
) -> Result<(), Error> {
    if first > second || (first == 0 && second != 0) {
        return Err(Error::BadSizes { first, second });
    }
    if first == second {
        if !proof.is_empty() {
            return Err(Error::ProofLength {
                got: proof.len(),
                want: 0,
            });
        }
        // An empty tree has exactly one root; any other claimed root for size 0 is wrong.
        if first == 0 && first_root != crate::EMPTY_ROOT.0.as_slice() {
            return Err(Error::RootMismatch);
        }
        if first_root != second_root {
            return Err(Error::RootMismatch);
        }
        return Ok(());
    }
    let want = consistency_proof_len(first, second);
    if proof.len() != want {
        return Err(Error::ProofLength {
            got: proof.len(),
            want,
        });
    }
    let first_root_h = Hash::from_slice(first_root)?;
    let mut hashes = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        hashes.push(first_root_h);
    }
    for p in proof {
        hashes.push(proof_hash(p.as_ref())?);
    }
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (hashes[0], hashes[0]);
    for c in &hashes[1..] {
        if sn == 0 {
            return Err(Error::ProofLength {
                got: proof.len(),
                want,
            });
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(Error::ProofLength {
            got: proof.len(),
            want,
        });
    }
    if fr != first_root_h || sr.0.as_slice() != second_root {
        return Err(Error::RootMismatch);
    }
    Ok(())
}

/// Number of hashes in the inclusion proof of `index` in a tree of `size`.
pub fn inclusion_proof_len(index: u64, size: u64) -> usize {
    // Levels where the paths to `index` and to the last leaf diverge, plus the right-edge levels
    // above them that still have a sibling.
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner + border) as usize
}

/// Number of hashes in the consistency proof from `first` to `second` (0 < first < second).
pub fn consistency_proof_len(first: u64, second: u64) -> usize {
    let inner = 64 - ((first - 1) ^ (second - 1)).leading_zeros();
    let shift = (first - 1).trailing_ones().min(inner);
    let border = (first - 1).checked_shr(inner).unwrap_or(0).count_ones();
    let extra = usize::from(!first.is_power_of_two());
    (inner - shift + border) as usize + extra
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leaf_hash;
    use crate::tree::{MemoryHashes, consistency_proof, inclusion_proof};

    #[test]
    fn proof_lengths_match_generated_proofs() {
        let mut m = MemoryHashes::new();
        for i in 0..70u64 {
            m.append(leaf_hash(&i.to_be_bytes()));
        }
        for size in 1..=70 {
            for index in 0..size {
                let p = inclusion_proof(index, size, &m).unwrap();
                assert_eq!(p.len(), inclusion_proof_len(index, size), "{index}/{size}");
            }
            for first in 1..size {
                let p = consistency_proof(first, size, &m).unwrap();
                assert_eq!(
                    p.len(),
                    consistency_proof_len(first, size),
                    "{first}->{size}"
                );
            }
        }
    }
}
