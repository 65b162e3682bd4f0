//! Tile addressing per [C2SP tlog-tiles](https://c2sp.org/tlog-tiles).
//!
//! A tile at level `L` with index `N` holds up to 256 consecutive hashes of tree level `8·L`, starting
//! at subtree index `256·N`. Its path is `tile/<L>/<N>` with `N` written in groups of three digits,
//! all but the last prefixed with `x` (`1234067` becomes `x001/x234/067`), and `.p/<W>` appended for a
//! partial tile of width `W < 256`. Entry bundles use `tile/entries/<N>`.

use crate::Error;
use crate::tree::checked_stored_index;

/// Hashes (or entries) per full tile.
pub const TILE_WIDTH: u64 = 256;
/// Tree levels per tile level.
pub const TILE_HEIGHT: u8 = 8;

/// A hash tile or an entry bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Tile {
    /// Tile level; `None` for an entry bundle.
    pub level: Option<u8>,
    /// Tile index at its level.
    pub index: u64,
    /// Number of hashes or entries it holds, 1..=256.
    pub width: u16,
}

impl Tile {
    /// The C2SP path of the tile, relative to the log's prefix.
    pub fn path(&self) -> String {
        let level = match self.level {
            Some(l) => l.to_string(),
            None => "entries".to_owned(),
        };
        let mut p = format!("tile/{level}/{}", encode_index(self.index));
        if u64::from(self.width) < TILE_WIDTH {
            p.push_str(&format!(".p/{}", self.width));
        }
        p
    }

    /// Parses a path produced by [`Tile::path`].
    pub fn parse(path: &str) -> Result<Self, Error> {
        let rest = path.strip_prefix("tile/").ok_or(Error::MalformedTilePath {
            reason: "does not start with tile/",
        })?;
        let (level_s, rest) = rest
            .split_once('/')
            .ok_or(Error::MalformedTilePath { reason: "no level" })?;
        let level = if level_s == "entries" {
            None
        } else {
            let l: u8 = parse_small(level_s).ok_or(Error::MalformedTilePath {
                reason: "level is not a small decimal number",
            })?;
            if l > 63 / TILE_HEIGHT {
                return Err(Error::MalformedTilePath {
                    reason: "level too high",
                });
            }
            Some(l)
        };
        let (index_s, width) = match rest.split_once(".p/") {
            Some((i, w)) => {
                let w: u16 = parse_small(w).ok_or(Error::MalformedTilePath {
                    reason: "partial width is not a decimal number",
                })?;
                if w == 0 || u64::from(w) >= TILE_WIDTH {
                    return Err(Error::MalformedTilePath {
                        reason: "partial width must be 1..255",
                    });
                }
                (i, w)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let index = decode_index(index_s).ok_or(Error::MalformedTilePath {
            reason: "index is not x-prefixed groups of three digits",
        })?;
        let tile = Self {
            level,
            index,
            width,
        };
        if tile.level.is_some() && tile.stored_indexes().is_none() {
            return Err(Error::MalformedTilePath {
                reason: "tile lies beyond any possible tree",
            });
        }
        Ok(tile)
    }

    /// Positions in the stored-hash sequence ([`crate::tree`]) of the hashes a hash tile holds;
    /// empty for entry bundles. `None` for a tile beyond any possible tree.
    pub fn stored_indexes(&self) -> Option<Vec<u64>> {
        let Some(level) = self.level else {
            return Some(Vec::new());
        };
        let first = self.index.checked_mul(TILE_WIDTH)?;
        let end = first.checked_add(u64::from(self.width))?;
        (first..end)
            .map(|i| checked_stored_index(level.checked_mul(TILE_HEIGHT)?, i))
            .collect()
    }
}

/// The tiles at every level that a tree of `size` leaves has, the last one at each level partial.
pub fn tiles_for_size(size: u64) -> Vec<Tile> {
    let mut tiles = Vec::new();
    let mut level = 0u8;
    loop {
        let hashes = size >> (u32::from(level) * u32::from(TILE_HEIGHT));
        if hashes == 0 {
            break;
        }
        for index in 0..hashes.div_ceil(TILE_WIDTH) {
            let width = (hashes - index * TILE_WIDTH).min(TILE_WIDTH) as u16;
            tiles.push(Tile {
                level: Some(level),
                index,
                width,
            });
        }
        level += 1;
    }
    tiles
}

impl Tile {
    /// Whether a tree of `size` entries has this tile (at this width or wider).
    pub fn in_tree_of(&self, size: u64) -> bool {
        let items = match self.level {
            None => size,
            Some(l) => size
                .checked_shr(u32::from(l) * u32::from(TILE_HEIGHT))
                .unwrap_or(0),
        };
        self.index
            .checked_mul(TILE_WIDTH)
            .and_then(|first| first.checked_add(u64::from(self.width)))
            .is_some_and(|end| end <= items)
    }

    /// The entries an entry bundle holds: `[first, end)`. `None` for a hash tile.
    pub fn entry_range(&self) -> Option<(u64, u64)> {
        if self.level.is_some() {
            return None;
        }
        let first = self.index.checked_mul(TILE_WIDTH)?;
        Some((first, first.checked_add(u64::from(self.width))?))
    }
}

/// The tiles (entry bundles and hash tiles at every level) that differ between a tree of `old`
/// entries and one of `new`: at each level, from the tile holding the first new item to the
/// last, the last one partial when not full. What a tile writer must (re)write after growing
/// the tree from `old` to `new`.
pub fn changed_tiles(old: u64, new: u64) -> Vec<Tile> {
    let mut out = Vec::new();
    let mut push_level = |level: Option<u8>, old_items: u64, new_items: u64| {
        if new_items <= old_items {
            return;
        }
        for index in old_items / TILE_WIDTH..new_items.div_ceil(TILE_WIDTH) {
            let width = (new_items - index * TILE_WIDTH).min(TILE_WIDTH);
            out.push(Tile {
                level,
                index,
                width: u16::try_from(width).unwrap_or(u16::MAX),
            });
        }
    };
    push_level(None, old, new);
    let mut level = 0u8;
    while let Some(shift) = u32::from(level).checked_mul(u32::from(TILE_HEIGHT)) {
        let (o, n) = (
            old.checked_shr(shift).unwrap_or(0),
            new.checked_shr(shift).unwrap_or(0),
        );
        if n == 0 {
            break;
        }
        push_level(Some(level), o, n);
        level += 1;
    }
    out
}

/// Encodes an entry bundle: each entry as a 16-bit big-endian length and its bytes.
///
/// # Errors
/// [`Error::EntryTooLarge`] for an entry longer than 65535 bytes.
pub fn encode_entry_bundle<'a>(
    entries: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    for e in entries {
        let len = u16::try_from(e.len()).map_err(|_| Error::EntryTooLarge { len: e.len() })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Decodes an entry bundle into its entries.
///
/// # Errors
/// [`Error::MalformedEntryBundle`] when a length or an entry is cut short.
pub fn decode_entry_bundle(mut bytes: &[u8]) -> Result<Vec<&[u8]>, Error> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let [a, b, rest @ ..] = bytes else {
            return Err(Error::MalformedEntryBundle {
                reason: "a length is cut short",
            });
        };
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        let (entry, rest) = rest
            .split_at_checked(len)
            .ok_or(Error::MalformedEntryBundle {
                reason: "an entry is cut short",
            })?;
        out.push(entry);
        bytes = rest;
    }
    Ok(out)
}

fn encode_index(mut n: u64) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    n /= 1000;
    while n > 0 {
        groups.push(format!("x{:03}", n % 1000));
        n /= 1000;
    }
    groups.reverse();
    groups.join("/")
}

fn decode_index(s: &str) -> Option<u64> {
    let parts: Vec<&str> = s.split('/').collect();
    let (last, init) = parts.split_last()?;
    let mut n: u64 = 0;
    for p in init {
        let digits = p.strip_prefix('x')?;
        n = n.checked_mul(1000)?.checked_add(three_digits(digits)?)?;
    }
    n = n.checked_mul(1000)?.checked_add(three_digits(last)?)?;
    // Reject non-canonical encodings such as x000/001.
    (encode_index(n) == s).then_some(n)
}

fn three_digits(s: &str) -> Option<u64> {
    (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn parse_small<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if s.len() > 1 && s.starts_with('0') {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_the_spec_examples() {
        let t = Tile {
            level: Some(0),
            index: 1_234_067,
            width: 256,
        };
        assert_eq!(t.path(), "tile/0/x001/x234/067");
        let p = Tile {
            level: None,
            index: 5,
            width: 17,
        };
        assert_eq!(p.path(), "tile/entries/005.p/17");
        for t in [t, p] {
            assert_eq!(Tile::parse(&t.path()).unwrap(), t);
        }
    }

    #[test]
    fn bad_paths_are_errors() {
        for p in [
            "",
            "tile/",
            "tile/0/",
            "tile/0/1",
            "tile/0/x000/001",
            "tile/0/001.p/0",
            "tile/0/001.p/256",
            "tile/9/001",
            "tile/00/001",
            "tile/0/x1234/001",
            "tile/0/x999/x999/x999/x999/x999/x999/999",
            "tile/7/030",
        ] {
            assert!(Tile::parse(p).is_err(), "{p}");
        }
    }

    #[test]
    fn changed_tiles_cover_new_items_at_every_level() {
        let paths = |o, n| {
            changed_tiles(o, n)
                .iter()
                .map(Tile::path)
                .collect::<Vec<_>>()
        };
        assert_eq!(paths(0, 3), ["tile/entries/000.p/3", "tile/0/000.p/3"]);
        assert_eq!(
            paths(3, 300),
            [
                "tile/entries/000",
                "tile/entries/001.p/44",
                "tile/0/000",
                "tile/0/001.p/44",
                "tile/1/000.p/1"
            ]
        );
        // Nothing new at level 1 between 300 and 310 (still one level-8 hash).
        assert_eq!(
            paths(300, 310),
            ["tile/entries/001.p/54", "tile/0/001.p/54"]
        );
        assert!(paths(5, 5).is_empty());
        // Level 2 appears at 65,536 entries.
        assert!(paths(0, 65_536).contains(&"tile/2/000.p/1".to_owned()));
        // Every changed tile is in the new tree; from 0 they are exactly the tree's tiles.
        for t in changed_tiles(1000, 70_000) {
            assert!(t.in_tree_of(70_000), "{}", t.path());
        }
        let mut from_zero = changed_tiles(0, 70_000);
        from_zero.retain(|t| t.level.is_some());
        assert_eq!(from_zero, tiles_for_size(70_000));
    }

    #[test]
    fn entry_bundles_round_trip_and_refuse_truncation() {
        let entries: [&[u8]; 3] = [b"", b"one", &[7u8; 300]];
        let bundle = encode_entry_bundle(entries).unwrap();
        assert_eq!(&bundle[..5], [0, 0, 0, 3, b'o']);
        assert_eq!(decode_entry_bundle(&bundle).unwrap(), entries);
        for cut in [1, 4, bundle.len() - 1] {
            assert!(decode_entry_bundle(&bundle[..cut]).is_err(), "{cut}");
        }
        assert!(encode_entry_bundle([&[0u8; 65_536][..]]).is_err());
        let t = Tile::parse("tile/entries/001.p/4").unwrap();
        assert_eq!(t.entry_range(), Some((256, 260)));
        assert!(t.in_tree_of(260) && !t.in_tree_of(259));
    }

    #[test]
    fn tiles_cover_the_tree() {
        let tiles = tiles_for_size(70_000);
        // 70000 leaves: 274 level-0 tiles (last of width 112), 273 level-1 hashes -> 2 tiles,
        // 1 level-2 hash -> 1 tile.
        assert_eq!(tiles.iter().filter(|t| t.level == Some(0)).count(), 274);
        assert_eq!(tiles.iter().filter(|t| t.level == Some(1)).count(), 2);
        assert_eq!(tiles.iter().filter(|t| t.level == Some(2)).count(), 1);
        assert_eq!(
            tiles.iter().find(|t| t.index == 273).map(|t| t.width),
            Some(112)
        );
    }
}
