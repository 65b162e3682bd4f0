//! The stored-hash layout and proof generation.
//!
//! Every complete subtree of the log is hashed once, when the leaf that completes it is appended, and
//! stored at a position of a single append-only sequence of hashes. Appending leaf `i` stores its leaf
//! hash followed by the hashes of the `trailing_ones(i)` subtrees it completes, so after `n` leaves the
//! sequence holds `2n - popcount(n)` hashes and never changes again below that point. A subtree at
//! `level` (covering `2^level` leaves) with index `k` (its first leaf is `k << level`) sits at
//! [`stored_index`]`(level, k)`.
//!
//! Any hash the RFC 6962 proof algorithms need is either a stored complete subtree or the root of a
//! right-edge range, which splits into at most 64 complete subtrees. The functions here therefore work
//! in two steps: compute which stored hashes a result needs (a read plan), ask the [`HashReader`] for all
//! of them in one call, and fold them. Proofs cost `O(log n)` reads and never rebuild the tree.

use crate::{EMPTY_ROOT, Error, Hash, node_hash};

/// Largest tree this layout addresses: positions stay below `2^64` for any tree of at most
/// `2^62` leaves.
pub const MAX_LEAVES: u64 = 1 << 62;

/// [`stored_index`] for untrusted coordinates: `None` when the subtree would end beyond
/// [`MAX_LEAVES`].
pub fn checked_stored_index(level: u8, index: u64) -> Option<u64> {
    let end = index.checked_add(1)?.checked_shl(u32::from(level))?;
    if level >= 63 || end > MAX_LEAVES || end >> level != index + 1 {
        return None;
    }
    Some(stored_index(level, index))
}

/// Position of the stored hash of the complete subtree at `level` with index `index`. The subtree
/// must end within [`MAX_LEAVES`] leaves (true of every tree that can exist); use
/// [`checked_stored_index`] for coordinates from outside.
pub fn stored_index(level: u8, index: u64) -> u64 {
    // The subtree is completed by the append of its last leaf; its hash is stored `level` places after
    // that leaf's own hash.
    let last_leaf = ((index + 1) << level) - 1;
    leaf_position(last_leaf) + u64::from(level)
}

/// How many hashes a tree of `size` leaves has stored.
pub fn stored_count(size: u64) -> u64 {
    2 * size - u64::from(size.count_ones())
}

/// Position of leaf `leaf`'s own hash: every earlier leaf `j` stored `1 + trailing_ones(j)` hashes.
fn leaf_position(leaf: u64) -> u64 {
    stored_count(leaf)
}

/// Reads stored hashes by position. Implemented by each storage backend.
pub trait HashReader {
    /// The backend's error.
    type Error: From<Error>;

    /// Returns the hashes at `indexes`, in the same order. Every index is below the stored count of the
    /// tree the caller is asking about.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error>;
}

/// The right edge of a tree: the hashes of the complete subtrees its size decomposes into, largest
/// first. Enough to append leaves and compute the root without reading storage.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Loads the frontier of a tree of `size` leaves from storage.
    pub fn load<R: HashReader>(size: u64, store: &R) -> Result<Self, R::Error> {
        let indexes: Vec<u64> = range_pieces(0, size)
            .map(|(level, index)| stored_index(level, index))
            .collect();
        let hashes = read_exact(store, &indexes)?;
        Ok(Self { size, hashes })
    }

    /// A frontier from its parts, as [`Frontier::hashes`] gave them: one hash per one bit of
    /// `size`, the largest subtree first. For callers that persist a frontier themselves (an
    /// auditor resuming a long recomputation).
    pub fn from_hashes(size: u64, hashes: Vec<Hash>) -> Result<Self, Error> {
        if hashes.len() != size.count_ones() as usize || size > MAX_LEAVES {
            return Err(Error::StoreShortRead {
                got: hashes.len(),
                want: size.count_ones() as usize,
            });
        }
        Ok(Self { size, hashes })
    }

    /// The hashes of the complete subtrees the size decomposes into, largest first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends a leaf hash. Returns the hashes to store, which belong at positions
    /// `stored_count(old size)..` in order: the leaf itself, then each subtree it completes.
    pub fn append(&mut self, leaf: Hash) -> Vec<Hash> {
        let mut stored = Vec::with_capacity(1 + self.size.trailing_ones() as usize);
        self.append_into(leaf, &mut stored);
        stored
    }

    /// Like [`Frontier::append`], pushing onto `stored` to avoid an allocation per leaf.
    pub fn append_into(&mut self, leaf: Hash, stored: &mut Vec<Hash>) {
        let mut cur = leaf;
        stored.push(cur);
        for _ in 0..self.size.trailing_ones() {
            // Each trailing one bit of the old size is a complete subtree on the right edge of the
            // same size as `cur`; it is the left sibling.
            let left = self.hashes.pop().unwrap_or(EMPTY_ROOT);
            cur = node_hash(&left, &cur);
            stored.push(cur);
        }
        self.hashes.push(cur);
        self.size += 1;
    }

    /// The RFC 6962 root hash of the tree.
    pub fn root(&self) -> Hash {
        fold_right(&self.hashes).unwrap_or(EMPTY_ROOT)
    }
}

/// The root of the tree of `size` leaves (any size up to what the store holds).
pub fn root_at<R: HashReader>(size: u64, store: &R) -> Result<Hash, R::Error> {
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    let plan = Plan::new(&[(0, size)]);
    let hashes = read_exact(store, &plan.indexes)?;
    Ok(plan.fold(&hashes).pop().unwrap_or(EMPTY_ROOT))
}

/// The hash of leaf `index` (level-0 stored hash).
pub fn leaf_hash_at<R: HashReader>(index: u64, store: &R) -> Result<Hash, R::Error> {
    let mut h = read_exact(store, &[stored_index(0, index)])?;
    Ok(h.pop().unwrap_or(EMPTY_ROOT))
}

/// The RFC 6962 inclusion proof (audit path) of leaf `index` in the tree of `size` leaves, ordered
/// from the leaf upwards.
pub fn inclusion_proof<R: HashReader>(
    index: u64,
    size: u64,
    store: &R,
) -> Result<Vec<Hash>, R::Error> {
    let ranges = inclusion_ranges(index, size)?;
    let plan = Plan::new(&ranges);
    let hashes = read_exact(store, &plan.indexes)?;
    Ok(plan.fold(&hashes))
}

/// The RFC 6962 consistency proof from the tree of `first` leaves to the tree of `second` leaves.
pub fn consistency_proof<R: HashReader>(
    first: u64,
    second: u64,
    store: &R,
) -> Result<Vec<Hash>, R::Error> {
    let ranges = consistency_ranges(first, second)?;
    let plan = Plan::new(&ranges);
    let hashes = read_exact(store, &plan.indexes)?;
    Ok(plan.fold(&hashes))
}

/// The leaf ranges `[lo, hi)` whose subtree hashes make up the inclusion proof, bottom-up
/// (RFC 6962 §2.1.1 `PATH`, unrolled).
pub fn inclusion_ranges(index: u64, size: u64) -> Result<Vec<(u64, u64)>, Error> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    let (mut lo, mut hi) = (0, size);
    let mut ranges = Vec::with_capacity(64);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index < lo + k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
        }
    }
    ranges.reverse();
    Ok(ranges)
}

/// The leaf ranges whose subtree hashes make up the consistency proof, in proof order
/// (RFC 6962 §2.1.2 `SUBPROOF`, unrolled).
pub fn consistency_ranges(first: u64, second: u64) -> Result<Vec<(u64, u64)>, Error> {
    if first == 0 || first > second {
        return Err(Error::BadSizes { first, second });
    }
    if first == second {
        return Ok(Vec::new());
    }
    let (mut lo, mut hi, mut m) = (0u64, second, first);
    let mut complete = true; // the `b` flag of SUBPROOF: the range so far is a whole old tree
    let mut siblings = Vec::with_capacity(64);
    while m != hi - lo {
        let k = split_point(hi - lo);
        if m <= k {
            siblings.push((lo + k, hi));
            hi = lo + k;
        } else {
            siblings.push((lo, lo + k));
            lo += k;
            m -= k;
            complete = false;
        }
    }
    let mut ranges = Vec::with_capacity(siblings.len() + 1);
    if !complete {
        ranges.push((lo, hi));
    }
    ranges.extend(siblings.into_iter().rev());
    Ok(ranges)
}

/// The largest power of two strictly below `n` (n >= 2).
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

/// Splits `[lo, hi)` into complete subtrees, left to right, as `(level, index)`. Every range that the
/// proof algorithms produce starts at a multiple of the next power of two at or above its length, so
/// each piece is aligned.
fn range_pieces(lo: u64, hi: u64) -> impl Iterator<Item = (u8, u64)> {
    let len = hi - lo;
    let mut start = lo;
    (0..64u8).rev().filter_map(move |level| {
        if len & (1u64 << level) == 0 {
            return None;
        }
        let piece = (level, start >> level);
        start += 1u64 << level;
        Some(piece)
    })
}

/// RFC 6962 root of consecutive complete subtrees, largest first: `H(a, H(b, H(c, ...)))`.
fn fold_right(hashes: &[Hash]) -> Option<Hash> {
    let (last, rest) = hashes.split_last()?;
    Some(rest.iter().rev().fold(*last, |acc, h| node_hash(h, &acc)))
}

/// Which stored hashes a list of ranges needs, and how to fold them back.
struct Plan {
    indexes: Vec<u64>,
    /// Number of stored hashes each range folds.
    counts: Vec<usize>,
}

impl Plan {
    fn new(ranges: &[(u64, u64)]) -> Self {
        let mut indexes = Vec::with_capacity(ranges.len() + 8);
        let mut counts = Vec::with_capacity(ranges.len());
        for &(lo, hi) in ranges {
            let before = indexes.len();
            indexes.extend(range_pieces(lo, hi).map(|(l, i)| stored_index(l, i)));
            counts.push(indexes.len() - before);
        }
        Self { indexes, counts }
    }

    fn fold(&self, hashes: &[Hash]) -> Vec<Hash> {
        let mut out = Vec::with_capacity(self.counts.len());
        let mut at = 0;
        for &n in &self.counts {
            out.push(fold_right(&hashes[at..at + n]).unwrap_or(EMPTY_ROOT));
            at += n;
        }
        out
    }
}

fn read_exact<R: HashReader>(store: &R, indexes: &[u64]) -> Result<Vec<Hash>, R::Error> {
    let hashes = store.read_hashes(indexes)?;
    if hashes.len() != indexes.len() {
        return Err(Error::StoreShortRead {
            got: hashes.len(),
            want: indexes.len(),
        }
        .into());
    }
    Ok(hashes)
}

/// A [`HashReader`] over a `Vec`, for tests and tools.
#[derive(Clone, Debug, Default)]
pub struct MemoryHashes {
    hashes: Vec<Hash>,
    frontier: Frontier,
}

impl MemoryHashes {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf hash.
    pub fn append(&mut self, leaf: Hash) {
        self.frontier.append_into(leaf, &mut self.hashes);
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.frontier.size()
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        self.frontier.root()
    }
}

impl HashReader for MemoryHashes {
    type Error = Error;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Error> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.hashes.get(i).copied())
                    .ok_or(Error::StoreShortRead {
                        got: 0,
                        want: indexes.len(),
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leaf_hash;

    #[test]
    fn stored_index_matches_append_order() {
        let mut m = MemoryHashes::new();
        for i in 0..1000u64 {
            m.append(leaf_hash(&i.to_le_bytes()));
            assert_eq!(m.hashes.len() as u64, stored_count(i + 1));
        }
        // Every complete subtree's hash sits where stored_index says.
        for level in 0..10u8 {
            for index in 0..(1000u64 >> level) {
                let lo = index << level;
                let want = if level == 0 {
                    leaf_hash(&lo.to_le_bytes())
                } else {
                    let l = m.hashes[stored_index(level - 1, 2 * index) as usize];
                    let r = m.hashes[stored_index(level - 1, 2 * index + 1) as usize];
                    node_hash(&l, &r)
                };
                assert_eq!(m.hashes[stored_index(level, index) as usize], want);
            }
        }
    }

    #[test]
    fn frontier_reloads_from_store() {
        let mut m = MemoryHashes::new();
        for i in 0..77u64 {
            m.append(leaf_hash(&i.to_le_bytes()));
            let f = Frontier::load(m.size(), &m).unwrap();
            assert_eq!(f, m.frontier);
            assert_eq!(root_at(m.size(), &m).unwrap(), m.root());
        }
    }

    #[test]
    fn frontier_round_trips_through_its_hashes() {
        let mut f = Frontier::new();
        for i in 0..37u64 {
            f.append(leaf_hash(&i.to_le_bytes()));
            let back = Frontier::from_hashes(f.size(), f.hashes().to_vec()).unwrap();
            assert_eq!(back, f);
        }
        assert!(Frontier::from_hashes(3, vec![EMPTY_ROOT]).is_err());
    }

    #[test]
    fn checked_stored_index_refuses_impossible_subtrees() {
        assert_eq!(checked_stored_index(3, 5), Some(stored_index(3, 5)));
        assert!(checked_stored_index(56, 30).is_some()); // 31 * 2^56 leaves: fits
        assert_eq!(checked_stored_index(56, 30 * 256), None); // tile/7/030: does not
        assert_eq!(checked_stored_index(0, u64::MAX), None);
        assert_eq!(checked_stored_index(63, 0), None);
        assert_eq!(
            checked_stored_index(0, MAX_LEAVES - 1),
            Some(stored_index(0, MAX_LEAVES - 1))
        );
        assert_eq!(checked_stored_index(0, MAX_LEAVES), None);
    }

    #[test]
    fn split_point_is_largest_power_below() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(1 << 40), 1 << 39);
        assert_eq!(split_point((1 << 40) + 1), 1 << 40);
    }

    #[test]
    fn bad_requests_are_errors() {
        let m = MemoryHashes::new();
        assert!(matches!(
            inclusion_proof(0, 0, &m),
            Err(Error::IndexOutOfRange { index: 0, size: 0 })
        ));
        assert!(consistency_proof(0, 3, &m).is_err());
        assert!(consistency_proof(4, 3, &m).is_err());
        // Asking past what is stored is a store error, not a panic.
        assert!(inclusion_proof(3, 9, &m).is_err());
    }
}
