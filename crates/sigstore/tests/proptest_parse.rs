#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hallmark_sigstore::ProposedEntry;
use proptest::prelude::*;

proptest! {
    #[test]
    fn random_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(p) = ProposedEntry::parse(&body) {
            let _ = p.verify();
        }
    }

    #[test]
    fn random_fields_never_panic(
        kind in prop_oneof![Just("hashedrekord".to_owned()), Just("dsse".to_owned()), ".{0,12}"],
        sig in ".{0,40}",
        key in "[A-Za-z0-9+/=]{0,80}",
        alg in prop_oneof![Just("sha256".to_owned()), Just("sha384".to_owned()), ".{0,8}"],
        value in "[0-9a-fA-F]{0,128}",
        env in ".{0,80}",
    ) {
        let hr = serde_json::json!({"apiVersion":"0.0.1","kind":kind,"spec":{
            "signature":{"content":sig,"publicKey":{"content":key}},
            "data":{"hash":{"algorithm":alg,"value":value}},
            "proposedContent":{"envelope":env,"verifiers":[key]}}});
        let body = serde_json::to_vec(&hr).unwrap();
        if let Ok(p) = ProposedEntry::parse(&body) {
            let _ = p.verify();
        }
    }
}
