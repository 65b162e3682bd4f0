//! Tile paths parse or fail cleanly, and whatever parses prints back to the same path.
#![no_main]

use hallmark_tlog::tile::Tile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(path) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(tile) = Tile::parse(path) {
        assert_eq!(tile.path(), path);
        let _ = tile.stored_indexes();
    }
});
