//! The C2SP tlog-witness `add-checkpoint` request parser, the 409 size body and witness /
//! log vkeys never panic on any input, and a parsed request encodes back to what was parsed.
#![no_main]

use hallmark_tlog::cosignature::CosignatureVerifier;
use hallmark_tlog::note::NoteVerifier;
use hallmark_tlog::witness::{AddCheckpoint, parse_size_body};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = AddCheckpoint::parse(data) {
        let again = AddCheckpoint::parse(req.encode().as_bytes()).expect("an encoded request parses");
        assert_eq!(again, req);
    }
    let _ = parse_size_body(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = CosignatureVerifier::from_vkey(s);
        let _ = NoteVerifier::from_vkey(s);
    }
});
