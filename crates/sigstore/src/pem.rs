//! PEM ([RFC 7468](https://www.rfc-editor.org/rfc/rfc7468)) texts holding one block or several
//! (a certificate chain, leaf first): the one PEM reader of Hallmark, for Rekor verifiers, keys
//! given as policy and entry bodies.
//!
//! Each block is decoded by `pem-rfc7468` (through `der::pem`), detecting the line width, so
//! base64 written on one line (as some signers do) is read as well as the usual 64 columns.
//! Text before a block (an explanatory preamble) and after the last one is ignored.

use der::pem::Decoder;

/// Why a PEM text does not parse.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PemError {
    /// A block (counted from 0) that `pem-rfc7468` refuses: bad boundaries, mismatched labels,
    /// bad base64.
    #[error("PEM block {index}: {source}")]
    Block {
        /// The block's position in the text.
        index: usize,
        /// The decoder's complaint.
        #[source]
        source: der::pem::Error,
    },
    /// A `-----BEGIN` line without a matching `-----END ...-----` line.
    #[error("PEM block {index} has no -----END line")]
    NoFooter {
        /// The block's position in the text.
        index: usize,
    },
    /// No block at all.
    #[error("no PEM block")]
    Empty,
}

/// One decoded block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PemBlock {
    /// The label, e.g. `CERTIFICATE` or `PUBLIC KEY`.
    pub label: String,
    /// The DER contents.
    pub der: Vec<u8>,
}

const BEGIN: &[u8] = b"-----BEGIN ";
const END: &[u8] = b"-----END ";
const DASHES: &[u8] = b"-----";

/// Every block of `pem`, in order.
///
/// # Errors
/// [`PemError::Empty`] without any block, else the first block that does not decode.
pub fn decode_all(pem: &[u8]) -> Result<Vec<PemBlock>, PemError> {
    let mut blocks = Vec::new();
    let mut rest = pem;
    while let Some(begin) = find(rest, BEGIN) {
        let (block, after) = split_block(&rest[begin..], blocks.len())?;
        blocks.push(decode_block(block, blocks.len())?);
        rest = after;
    }
    if blocks.is_empty() {
        return Err(PemError::Empty);
    }
    Ok(blocks)
}

/// The first block of `pem`; what follows it (the rest of a chain) is not read.
///
/// # Errors
/// [`PemError::Empty`] without any block, else why the first block does not decode.
pub fn decode_first(pem: &[u8]) -> Result<PemBlock, PemError> {
    let begin = find(pem, BEGIN).ok_or(PemError::Empty)?;
    let (block, _) = split_block(&pem[begin..], 0)?;
    decode_block(block, 0)
}

/// `text` (starting at a `-----BEGIN`) split after its block's `-----END ...-----` line (and
/// that line's end).
fn split_block(text: &[u8], index: usize) -> Result<(&[u8], &[u8]), PemError> {
    let end = find(text, END).ok_or(PemError::NoFooter { index })?;
    let after_end = end + END.len();
    let dashes = find(&text[after_end..], DASHES).ok_or(PemError::NoFooter { index })?;
    let mut stop = after_end + dashes + DASHES.len();
    if text.get(stop) == Some(&b'\r') {
        stop += 1;
    }
    if text.get(stop) == Some(&b'\n') {
        stop += 1;
    }
    Ok(text.split_at(stop))
}

fn decode_block(block: &[u8], index: usize) -> Result<PemBlock, PemError> {
    let error = |source| PemError::Block { index, source };
    let mut decoder = Decoder::new_detect_wrap(block).map_err(error)?;
    let mut der = Vec::new();
    decoder.decode_to_end(&mut der).map_err(error)?;
    Ok(PemBlock {
        label: decoder.type_label().to_owned(),
        der,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn block(label: &str, der: &[u8]) -> String {
        der::pem::encode_string(label, der::pem::LineEnding::LF, der).unwrap()
    }

    #[test]
    fn reads_chains_preambles_and_one_line_base64() {
        let long = vec![7u8; 100];
        let chain = format!(
            "a preamble\n{}\n{}trailing text\n",
            block("CERTIFICATE", &long),
            block("PUBLIC KEY", b"key"),
        );
        let blocks = decode_all(chain.as_bytes()).unwrap();
        assert_eq!(
            blocks,
            [
                PemBlock {
                    label: "CERTIFICATE".into(),
                    der: long.clone()
                },
                PemBlock {
                    label: "PUBLIC KEY".into(),
                    der: b"key".to_vec()
                }
            ]
        );
        assert_eq!(decode_first(chain.as_bytes()).unwrap(), blocks[0]);
        // The same block with its base64 on one line.
        let one_line = format!(
            "-----BEGIN CERTIFICATE-----\r\n{}\r\n-----END CERTIFICATE-----",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &long)
        );
        assert_eq!(decode_first(one_line.as_bytes()).unwrap(), blocks[0]);
    }

    #[test]
    fn malformed_texts_are_errors() {
        assert!(matches!(decode_all(b"no pem here"), Err(PemError::Empty)));
        assert!(matches!(decode_first(b""), Err(PemError::Empty)));
        assert!(matches!(
            decode_all(b"-----BEGIN CERTIFICATE-----\nAAAA\n"),
            Err(PemError::NoFooter { index: 0 })
        ));
        assert!(matches!(
            decode_all(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END PUBLIC KEY-----\n"),
            Err(PemError::Block { index: 0, .. })
        ));
        let bad_second = format!(
            "{}-----BEGIN X-----\n%%%%\n-----END X-----\n",
            block("X", b"ok")
        );
        assert!(matches!(
            decode_all(bad_second.as_bytes()),
            Err(PemError::Block { index: 1, .. })
        ));
    }
}
