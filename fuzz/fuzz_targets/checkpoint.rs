//! Signed-note and checkpoint parsing, and verification of whatever parses, never panic.
#![no_main]

use hallmark_tlog::note::{Checkpoint, Note, NoteVerifier};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Checkpoint::parse(text);
    if let Ok(note) = Note::parse(text) {
        if let Ok(cp) = Checkpoint::parse(&note.text) {
            // What parses must print back to the same text.
            assert_eq!(cp.to_text(), note.text);
        }
    }
    let key = p256::ecdsa::SigningKey::from_slice(&[1u8; 32]).expect("fixed valid scalar");
    let verifier = NoteVerifier::ecdsa("fuzz.example", *key.verifying_key()).expect("valid name");
    let _ = verifier.verify_checkpoint(text);
});
