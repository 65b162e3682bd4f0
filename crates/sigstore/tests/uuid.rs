//! Entry UUIDs from clients: the two accepted forms parse, everything else is a clean error,
//! whatever the text (multi-byte characters included).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hallmark_sigstore::{EntryError, entry_uuid, parse_entry_uuid};
use hallmark_tlog::Hash;
use proptest::prelude::*;

#[test]
fn both_forms_parse_and_round_trip() {
    let leaf = Hash([0xab; 32]);
    let uuid = entry_uuid(0x1234_5678_9abc_def0, &leaf);
    let parsed = parse_entry_uuid(&uuid).unwrap();
    assert_eq!(parsed.tree_id, Some(0x1234_5678_9abc_def0));
    assert_eq!(parsed.leaf_hash, leaf);
    let bare = parse_entry_uuid(&uuid[16..].to_ascii_uppercase()).unwrap();
    assert_eq!(bare.tree_id, None);
    assert_eq!(bare.leaf_hash, leaf);
}

#[test]
fn a_multibyte_character_at_the_split_is_an_error_not_a_panic() {
    // 80 bytes with 'é' (2 bytes) across byte 16: slicing at 16 would split the character.
    let uuid = format!("{}é{}", "a".repeat(15), "b".repeat(63));
    assert_eq!(uuid.len(), 80);
    let e = parse_entry_uuid(&uuid).unwrap_err();
    assert!(matches!(e, EntryError::BadUuid { .. }), "{e}");
    // 64 bytes, not hex.
    let e = parse_entry_uuid(&format!("{}€", "c".repeat(61))).unwrap_err();
    assert!(e.to_string().contains("not an entry UUID"), "{e}");
    for bad in ["", "xyz", &"g".repeat(64), &"a".repeat(79), &"a".repeat(81)] {
        assert!(parse_entry_uuid(bad).is_err(), "{bad}");
    }
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,90}") {
        let _ = parse_entry_uuid(&s);
    }

    #[test]
    fn hex_with_one_character_replaced_is_refused_or_parsed(
        tree in any::<u64>(),
        leaf in any::<[u8; 32]>(),
        at in 0usize..80,
        c in any::<char>(),
    ) {
        let uuid = entry_uuid(tree, &Hash(leaf));
        let mut chars: Vec<char> = uuid.chars().collect();
        chars[at] = c;
        let mutated: String = chars.into_iter().collect();
        match parse_entry_uuid(&mutated) {
            Ok(p) => prop_assert!(c.is_ascii_hexdigit() && p.tree_id.is_some()),
            Err(e) => {
                prop_assert!(matches!(e, EntryError::BadUuid { .. }), "{}", e);
                prop_assert!(!c.is_ascii_hexdigit());
            }
        }
    }
}
