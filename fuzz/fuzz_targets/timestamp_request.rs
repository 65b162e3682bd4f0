//! The RFC 3161 request parsers (DER `TimeStampReq` and the Sigstore TSA's JSON form) and the
//! response reader never panic; a request that parses re-encodes to one that parses to the same
//! request.
#![no_main]

use hallmark_sigstore::rfc3161::{ParsedResponse, TimestampRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = TimestampRequest::from_der(data) {
        let der = req.to_der().expect("a parsed request encodes");
        assert_eq!(TimestampRequest::from_der(&der).expect("it parses back"), req);
    }
    if let Ok(req) = TimestampRequest::from_json(data) {
        let der = req.to_der().expect("a parsed JSON request encodes");
        assert_eq!(TimestampRequest::from_der(&der).expect("it parses back"), req);
    }
    let _ = ParsedResponse::from_der(data);
});
