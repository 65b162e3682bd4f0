//! PKCS#11 key references (RFC 7512 URIs) parse or fail cleanly, and round-trip through Display.
#![no_main]

use hallmark_keys::KeyRef;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(uri) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = uri.parse::<KeyRef>() {
        let again: KeyRef = key.to_string().parse().expect("Display output parses");
        assert_eq!(again, key);
    }
});
