//! SHA-256 of files, streamed, optionally with line endings normalized.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::RecordError;

/// Read size: large enough that a system call costs little against hashing it.
const CHUNK: usize = 256 * 1024;

/// SHA-256 of the file at `path`. With `normalize_line_endings`, CRLF and then lone CR are
/// hashed as LF (in-toto-python's `_hash_file`; the result does not depend on where reads
/// split the file).
///
/// # Errors
///
/// [`RecordError::Io`] when the file cannot be opened or read.
pub fn sha256_file(path: &Path, normalize_line_endings: bool) -> Result<[u8; 32], RecordError> {
    let io = |source| RecordError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    // One buffer per thread: zeroing a fresh 256 KiB per file cost more than hashing 8 KiB.
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with_borrow_mut(|buf| {
        if buf.len() < CHUNK {
            buf.resize(CHUNK, 0);
        }
        hash_reader(&mut file, buf, normalize_line_endings).map_err(io)
    })
}

fn hash_reader(
    file: &mut std::fs::File,
    buf: &mut [u8],
    normalize_line_endings: bool,
) -> std::io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut normalizer = LineEndings::default();
    loop {
        let n = match file.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if normalize_line_endings {
            normalizer.feed(&buf[..n], |part| hasher.update(part));
        } else {
            hasher.update(&buf[..n]);
        }
    }
    Ok(hasher.finalize().into())
}

/// A streaming CRLF/CR-to-LF converter: state is whether the last byte fed was a CR.
#[derive(Debug, Default)]
pub struct LineEndings {
    after_cr: bool,
}

impl LineEndings {
    /// Converts `input`, passing the output to `out` in pieces (slices of `input` and `\n`).
    pub fn feed(&mut self, mut input: &[u8], mut out: impl FnMut(&[u8])) {
        if input.is_empty() {
            // Nothing read: a CR pending from the last piece stays pending.
            return;
        }
        if self.after_cr && input.first() == Some(&b'\n') {
            // The LF of a CRLF split across reads: the CR already became the LF.
            input = &input[1..];
        }
        self.after_cr = false;
        while let Some(pos) = input.iter().position(|&b| b == b'\r') {
            out(&input[..pos]);
            out(b"\n");
            match input.get(pos + 1) {
                Some(b'\n') => input = &input[pos + 2..],
                Some(_) => input = &input[pos + 1..],
                None => {
                    self.after_cr = true;
                    return;
                }
            }
        }
        out(input);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    /// in-toto-python's transform on the whole content.
    fn reference(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < data.len() {
            if data[i] == b'\r' {
                out.push(b'\n');
                if data.get(i + 1) == Some(&b'\n') {
                    i += 1;
                }
            } else {
                out.push(data[i]);
            }
            i += 1;
        }
        out
    }

    #[test]
    fn examples() {
        assert_eq!(reference(b"a\r\nb\rc\n\r\r\n"), b"a\nb\nc\n\n\n");
    }

    proptest! {
        /// However the input is split, the streamed output equals the whole-file transform.
        #[test]
        fn split_anywhere(data in prop::collection::vec(prop::sample::select(vec![b'\r', b'\n', b'a']), 0..64),
                          cuts in prop::collection::vec(0usize..64, 0..6)) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut n = LineEndings::default();
            let mut out = Vec::new();
            let mut start = 0;
            for c in cuts.into_iter().chain([data.len()]) {
                n.feed(&data[start..c], |p| out.extend_from_slice(p));
                start = c;
            }
            prop_assert_eq!(out, reference(&data));
        }
    }

    #[test]
    fn file_digests() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"x\r\ny\r").unwrap();
        let lf = Sha256::digest(b"x\ny\n");
        assert_eq!(sha256_file(&p, true).unwrap(), <[u8; 32]>::from(lf));
        let raw = Sha256::digest(b"x\r\ny\r");
        assert_eq!(sha256_file(&p, false).unwrap(), <[u8; 32]>::from(raw));
        assert!(matches!(
            sha256_file(&dir.path().join("missing"), false),
            Err(RecordError::Io { .. })
        ));
    }
}
