//! Inclusion and consistency proofs built from [C2SP tlog-tiles](https://c2sp.org/tlog-tiles),
//! which has no proof endpoint.
//!
//! The proof algorithms of [`hallmark_tlog::tree`] ask a [`HashReader`] for the stored hashes
//! (complete subtrees) a proof needs, in one call. Here they run twice: first against a reader
//! that only records which hashes are asked for, then, once the tiles holding them are fetched,
//! against those hashes. A subtree at level `L` is in the hash tile at level `L / 8` when `L` is a
//! multiple of 8, and otherwise is the Merkle hash of `2^(L % 8)` adjacent hashes of that tile.
//! Tiles are read at the width they have in the tree of the size proven, so a proof costs
//! `O(log n)` hashes from at most a few tiles per tile level.
//!
//! Tiles are not trusted: a proof built from wrong tiles does not verify against the signed
//! roots, which is all a proof is for.

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;

use hallmark_tlog::tile::{TILE_HEIGHT, TILE_WIDTH, Tile};
use hallmark_tlog::tree::{self, HashReader, stored_count};
use hallmark_tlog::{Hash, node_hash};

use crate::AuditError;

/// Fetches a tile's bytes.
pub trait TileReader: Send + Sync {
    /// The bytes of `tile` (a hash tile: `width` hashes of 32 bytes).
    fn read_tile(&self, tile: &Tile) -> impl Future<Output = Result<Vec<u8>, AuditError>> + Send;
}

/// Records the stored positions asked for, answering zeros.
struct Recorder(RefCell<Vec<u64>>);

impl HashReader for Recorder {
    type Error = hallmark_tlog::Error;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error> {
        self.0.borrow_mut().extend_from_slice(indexes);
        Ok(vec![Hash::default(); indexes.len()])
    }
}

/// Answers from hashes fetched from tiles.
struct Fetched(HashMap<u64, Hash>);

impl HashReader for Fetched {
    type Error = hallmark_tlog::Error;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error> {
        indexes
            .iter()
            .map(|i| {
                self.0
                    .get(i)
                    .copied()
                    .ok_or(hallmark_tlog::Error::StoreShortRead {
                        got: 0,
                        want: indexes.len(),
                    })
            })
            .collect()
    }
}

/// The subtree `(level, index)` stored at position `p` of the stored-hash sequence: the inverse
/// of [`tree::stored_index`]. Leaf `j`'s own hash sits at `stored_count(j)`, followed by the
/// subtrees it completes.
pub fn subtree_at(p: u64) -> (u8, u64) {
    // The largest j with stored_count(j) <= p (stored_count is increasing, about 2j).
    let (mut lo, mut hi) = (0u64, p / 2 + 64);
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if stored_count(mid) <= p {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    let level = (p - stored_count(lo)) as u8;
    (level, ((lo + 1) >> level) - 1)
}

/// Fetches the stored hashes at `positions` of the tree of `size` entries from tiles.
async fn fetch_hashes<R: TileReader>(
    reader: &R,
    positions: &[u64],
    size: u64,
) -> Result<HashMap<u64, Hash>, AuditError> {
    let height = u32::from(TILE_HEIGHT);
    // Which tile-level hashes each position needs.
    let mut wanted: Vec<(u64, u8, u64, u64)> = Vec::new(); // (position, tile level, first, count)
    for &p in positions {
        let (level, index) = subtree_at(p);
        let tile_level = u32::from(level) / height;
        let rest = u32::from(level) % height;
        let first = index << rest;
        wanted.push((p, tile_level as u8, first, 1 << rest));
    }
    let mut tiles: HashMap<(u8, u64), Vec<u8>> = HashMap::new();
    for &(_, tl, first, count) in &wanted {
        let last = first + count - 1;
        for n in first / TILE_WIDTH..=last / TILE_WIDTH {
            if tiles.contains_key(&(tl, n)) {
                continue;
            }
            let items = size >> (u32::from(tl) * height);
            let width = items.saturating_sub(n * TILE_WIDTH).min(TILE_WIDTH);
            if width == 0 {
                return Err(AuditError::malformed(
                    "tiles",
                    "proof",
                    format!("tile {tl}/{n} is beyond the tree of size {size}"),
                ));
            }
            let tile = Tile {
                level: Some(tl),
                index: n,
                width: width as u16,
            };
            let bytes = reader.read_tile(&tile).await?;
            if bytes.len() as u64 != width * 32 {
                return Err(AuditError::malformed(
                    "tiles",
                    &tile.path(),
                    format!("{} bytes, want {}", bytes.len(), width * 32),
                ));
            }
            tiles.insert((tl, n), bytes);
        }
    }
    let hash_at = |tl: u8, i: u64| -> Option<Hash> {
        let bytes = tiles.get(&(tl, i / TILE_WIDTH))?;
        let at = (i % TILE_WIDTH) as usize * 32;
        Hash::from_slice(bytes.get(at..at + 32)?).ok()
    };
    let mut out = HashMap::with_capacity(wanted.len());
    for (p, tl, first, count) in wanted {
        let mut level: Vec<Hash> = (first..first + count)
            .map(|i| hash_at(tl, i))
            .collect::<Option<_>>()
            .ok_or_else(|| AuditError::malformed("tiles", "proof", "a tile is short"))?;
        while level.len() > 1 {
            level = level.chunks(2).map(|c| node_hash(&c[0], &c[1])).collect();
        }
        if let Some(h) = level.pop() {
            out.insert(p, h);
        }
    }
    Ok(out)
}

fn proof_error(e: hallmark_tlog::Error) -> AuditError {
    AuditError::malformed("tiles", "proof", e)
}

/// The consistency proof from `first` to `second` entries, from tiles of the tree of `second`.
pub async fn consistency_proof<R: TileReader>(
    reader: &R,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, AuditError> {
    let rec = Recorder(RefCell::new(Vec::new()));
    tree::consistency_proof(first, second, &rec).map_err(proof_error)?;
    let positions = rec.0.into_inner();
    let fetched = Fetched(fetch_hashes(reader, &positions, second).await?);
    tree::consistency_proof(first, second, &fetched).map_err(proof_error)
}

/// The inclusion proof of `index` in the tree of `size` entries, from its tiles.
pub async fn inclusion_proof<R: TileReader>(
    reader: &R,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, AuditError> {
    let rec = Recorder(RefCell::new(Vec::new()));
    tree::inclusion_proof(index, size, &rec).map_err(proof_error)?;
    let positions = rec.0.into_inner();
    let fetched = Fetched(fetch_hashes(reader, &positions, size).await?);
    tree::inclusion_proof(index, size, &fetched).map_err(proof_error)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use std::sync::atomic::{AtomicUsize, Ordering};

    use hallmark_tlog::leaf_hash;
    use hallmark_tlog::proof::{verify_consistency, verify_inclusion};
    use hallmark_tlog::tree::{MemoryHashes, stored_index};

    use super::*;

    /// Tiles cut from an in-memory tree, counting reads.
    pub(crate) struct MemTiles {
        pub(crate) tree: MemoryHashes,
        pub(crate) reads: AtomicUsize,
    }

    impl TileReader for MemTiles {
        async fn read_tile(&self, tile: &Tile) -> Result<Vec<u8>, AuditError> {
            self.reads.fetch_add(1, Ordering::Relaxed);
            assert!(tile.in_tree_of(self.tree.size()), "{}", tile.path());
            let pos = tile.stored_indexes().unwrap();
            Ok(self
                .tree
                .read_hashes(&pos)
                .unwrap()
                .iter()
                .flat_map(|h| h.0)
                .collect())
        }
    }

    fn tree(n: u64) -> MemoryHashes {
        let mut m = MemoryHashes::new();
        for i in 0..n {
            m.append(leaf_hash(&i.to_be_bytes()));
        }
        m
    }

    #[test]
    fn subtree_at_inverts_stored_index() {
        for level in 0..20u8 {
            for index in [0u64, 1, 2, 3, 7, 100, 12345] {
                assert_eq!(subtree_at(stored_index(level, index)), (level, index));
            }
        }
        for p in 0..5000 {
            let (l, i) = subtree_at(p);
            assert_eq!(stored_index(l, i), p);
        }
    }

    #[tokio::test]
    async fn proofs_from_tiles_verify() {
        let size = 70_000;
        let m = tree(size);
        let root = m.root();
        let tiles = MemTiles {
            tree: m,
            reads: AtomicUsize::new(0),
        };
        for first in [1u64, 2, 255, 256, 257, 1000, 65_535, 65_536, 69_999] {
            let p = consistency_proof(&tiles, first, size).await.unwrap();
            let first_root = tree::root_at(first, &tiles.tree).unwrap();
            verify_consistency(first, size, &first_root.0, &root.0, &p).unwrap();
        }
        for index in [0u64, 1, 255, 256, 40_000, 69_999] {
            let p = inclusion_proof(&tiles, index, size).await.unwrap();
            verify_inclusion(index, size, &leaf_hash(&index.to_be_bytes()).0, &p, &root.0).unwrap();
        }
    }

    /// Incremental sync costs O(log n): the tiles read for one consistency proof stay a few per
    /// tile level, however large the tree.
    #[tokio::test]
    async fn a_consistency_proof_reads_a_few_tiles_per_level() {
        for size in [1_000u64, 100_000, 1_000_000] {
            let tiles = MemTiles {
                tree: tree(size),
                reads: AtomicUsize::new(0),
            };
            let levels = {
                let mut l = 1;
                while size >> (8 * l) > 0 {
                    l += 1;
                }
                l
            };
            for first in [size / 3, size - 1, size / 2 + 7] {
                tiles.reads.store(0, Ordering::Relaxed);
                consistency_proof(&tiles, first, size).await.unwrap();
                let reads = tiles.reads.load(Ordering::Relaxed);
                assert!(
                    reads <= 2 * levels,
                    "{first}->{size}: {reads} tile reads for {levels} tile levels"
                );
            }
        }
    }
}
