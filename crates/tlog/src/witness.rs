//! The request and response bodies of [C2SP tlog-witness](https://c2sp.org/tlog-witness)
//! `add-checkpoint`, built by a log and parsed by a witness (and the reverse for the answers).
//!
//! A request body is
//!
//! ```text
//! old <N>\n                  ASCII decimal, no leading zeros: the size the log thinks the witness has
//! <base64 hash>\n × 0..=63    an RFC 6962 consistency proof from size N to the checkpoint's size
//! \n
//! <checkpoint note>          origin, size, root, extension lines, blank line, signature lines
//! ```
//!
//! A witness answers 200 with its cosignature lines, or 409 with the size it last cosigned as
//! `<size>\n` of type [`SIZE_CONTENT_TYPE`], or another error status.

use crate::note::Note;
use crate::{Error, Hash};

/// The content type of a 409 answer's body: the witness's latest cosigned size.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";
/// At most this many consistency proof lines (C2SP: a client MUST NOT send more).
pub const MAX_PROOF_LINES: usize = 63;
/// The largest request body a witness reads (a checkpoint with its signatures and a full proof
/// fit in a fraction of it).
pub const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// An `add-checkpoint` request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the checkpoint the log believes the witness cosigned last (0 if none).
    pub old_size: u64,
    /// The consistency proof from `old_size` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note (text and signature lines), as sent.
    pub checkpoint: String,
}

fn malformed(reason: &'static str) -> Error {
    Error::MalformedWitnessRequest { reason }
}

impl AddCheckpoint {
    /// Parses a request body. Checks its shape only: neither the proof nor the note's signatures
    /// (the note must parse as a signed note).
    pub fn parse(body: &[u8]) -> Result<Self, Error> {
        if body.len() > MAX_REQUEST_BYTES {
            return Err(malformed("the request is larger than 16 KiB"));
        }
        let body = std::str::from_utf8(body).map_err(|_| malformed("the request is not UTF-8"))?;
        let (first, mut rest) = body
            .split_once('\n')
            .ok_or(malformed("the request has no \"old <size>\" line"))?;
        let old = first
            .strip_prefix("old ")
            .ok_or(malformed("the request does not start with \"old <size>\""))?;
        let old_size = crate::note::parse_decimal(old).ok_or(malformed(
            "the old size is not a decimal number without leading zeros",
        ))?;
        let mut proof = Vec::new();
        loop {
            let (line, after) = rest.split_once('\n').ok_or(malformed(
                "the request has no blank line before the checkpoint",
            ))?;
            rest = after;
            if line.is_empty() {
                break;
            }
            if proof.len() == MAX_PROOF_LINES {
                return Err(malformed("the consistency proof has more than 63 lines"));
            }
            proof.push(
                Hash::from_base64(line)
                    .map_err(|_| malformed("a proof line is not a base64 32-byte hash"))?,
            );
        }
        Note::parse(rest)?;
        Ok(Self {
            old_size,
            proof,
            checkpoint: rest.to_owned(),
        })
    }

    /// The request body.
    pub fn encode(&self) -> String {
        let mut body = format!("old {}\n", self.old_size);
        for h in &self.proof {
            body.push_str(&h.to_base64());
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.checkpoint);
        body
    }
}

/// Parses a 409 answer's body, `<size>\n`.
pub fn parse_size_body(body: &[u8]) -> Result<u64, Error> {
    std::str::from_utf8(body)
        .ok()
        .and_then(|s| s.strip_suffix('\n'))
        .and_then(crate::note::parse_decimal)
        .ok_or(malformed(
            "a text/x.tlog.size body is a decimal size and a newline",
        ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use crate::leaf_hash;
    use proptest::prelude::*;

    const NOTE: &str =
        "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\u{2014} o AAAAAAA=\n";

    #[test]
    fn round_trip() {
        let req = AddCheckpoint {
            old_size: 3,
            proof: vec![leaf_hash(b"a"), leaf_hash(b"b")],
            checkpoint: NOTE.to_owned(),
        };
        let body = req.encode();
        assert!(body.starts_with("old 3\n"));
        assert_eq!(AddCheckpoint::parse(body.as_bytes()).unwrap(), req);
        let empty = AddCheckpoint {
            old_size: 0,
            proof: vec![],
            checkpoint: NOTE.to_owned(),
        };
        assert_eq!(empty.encode(), format!("old 0\n\n{NOTE}"));
        assert_eq!(
            AddCheckpoint::parse(empty.encode().as_bytes()).unwrap(),
            empty
        );
    }

    #[test]
    fn malformed_requests_are_errors() {
        let h = leaf_hash(b"a").to_base64();
        let long = format!("old 1\n{}\n{NOTE}", format!("{h}\n").repeat(64));
        for body in [
            String::new(),
            "old 1".to_owned(),
            format!("old 01\n\n{NOTE}"),
            format!("old -1\n\n{NOTE}"),
            format!("old  1\n\n{NOTE}"),
            format!("new 1\n\n{NOTE}"),
            format!("old 1\n{NOTE}"),
            format!("old 1\nnot base64\n\n{NOTE}"),
            format!("old 1\nAAAA\n\n{NOTE}"),
            format!("old 99999999999999999999\n\n{NOTE}"),
            "old 1\n\nno signatures\n".to_owned(),
            long,
        ] {
            assert!(AddCheckpoint::parse(body.as_bytes()).is_err(), "{body:?}");
        }
        assert!(AddCheckpoint::parse(&vec![b'a'; MAX_REQUEST_BYTES + 1]).is_err());
        let ok = format!("old 1\n{}\n{NOTE}", format!("{h}\n").repeat(63));
        assert_eq!(AddCheckpoint::parse(ok.as_bytes()).unwrap().proof.len(), 63);
    }

    #[test]
    fn size_bodies() {
        assert_eq!(parse_size_body(b"12\n").unwrap(), 12);
        assert_eq!(parse_size_body(b"0\n").unwrap(), 0);
        for bad in [&b""[..], b"12", b"012\n", b"x\n", b"1 2\n"] {
            assert!(parse_size_body(bad).is_err());
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(body in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = AddCheckpoint::parse(&body);
            let _ = parse_size_body(&body);
        }

        #[test]
        fn encode_then_parse_is_identity(old in any::<u64>(), n in 0usize..=63, seed in any::<u8>()) {
            let req = AddCheckpoint {
                old_size: old,
                proof: (0..n).map(|i| leaf_hash(&[seed, i as u8])).collect(),
                checkpoint: NOTE.to_owned(),
            };
            prop_assert_eq!(AddCheckpoint::parse(req.encode().as_bytes()).unwrap(), req);
        }

        #[test]
        fn parse_never_panics_on_text(body in "(old [0-9]{0,3}\n)?([A-Za-z0-9+/=]{0,44}\n){0,3}\n?\\PC{0,60}(\n\n\u{2014} \\PC{0,20})?\n?") {
            let _ = AddCheckpoint::parse(body.as_bytes());
        }
    }
}
