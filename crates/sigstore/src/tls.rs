//! The TLS presentation language's encoding ([RFC 5246 §4](https://www.rfc-editor.org/rfc/rfc5246#section-4)),
//! as far as RFC 6962 structures use it: big-endian integers and variable-length vectors
//! prefixed by their byte length in 2 or 3 bytes.
//!
//! [`TlsReader`] takes untrusted bytes and returns errors that name the structure and the byte
//! offset, never panics; [`put_u16_vec`] and [`put_u24_vec`] refuse values too long for their
//! prefix instead of truncating them.

/// Largest value of a 16-bit length prefix.
pub const MAX_U16: usize = 0xffff;
/// Largest value of a 24-bit length prefix.
pub const MAX_U24: usize = 0xff_ffff;

/// A TLS-encoded structure that does not decode, or a value too long to encode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The bytes do not decode.
    #[error("{what} is malformed at byte {offset}: {reason}")]
    Decode {
        /// The structure, e.g. `"SignedCertificateTimestamp"`.
        what: &'static str,
        /// Byte offset where decoding failed.
        offset: usize,
        /// What was wrong there.
        reason: &'static str,
    },
    /// A field is too long for its length prefix.
    #[error("{what} is {len} bytes, over the {max}-byte limit of its TLS length prefix")]
    TooLong {
        /// The field.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Append `bytes` with a 16-bit length prefix (`opaque x<0..2^16-1>`); `what` names the field
/// in errors.
///
/// # Errors
/// [`TlsError::TooLong`] over 65535 bytes.
pub fn put_u16_vec(w: &mut Vec<u8>, what: &'static str, bytes: &[u8]) -> Result<(), TlsError> {
    let len = u16::try_from(bytes.len()).map_err(|_| TlsError::TooLong {
        what,
        len: bytes.len(),
        max: MAX_U16,
    })?;
    w.extend_from_slice(&len.to_be_bytes());
    w.extend_from_slice(bytes);
    Ok(())
}

/// Append `bytes` with a 24-bit length prefix (`opaque x<0..2^24-1>`); `what` names the field
/// in errors.
///
/// # Errors
/// [`TlsError::TooLong`] over 2^24 - 1 bytes.
pub fn put_u24_vec(w: &mut Vec<u8>, what: &'static str, bytes: &[u8]) -> Result<(), TlsError> {
    let too_long = || TlsError::TooLong {
        what,
        len: bytes.len(),
        max: MAX_U24,
    };
    if bytes.len() > MAX_U24 {
        return Err(too_long());
    }
    let len = u32::try_from(bytes.len()).map_err(|_| too_long())?;
    w.extend_from_slice(&len.to_be_bytes()[1..]);
    w.extend_from_slice(bytes);
    Ok(())
}

/// A cursor over TLS-encoded bytes that reports where decoding failed.
#[derive(Clone, Debug)]
pub struct TlsReader<'a> {
    what: &'static str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> TlsReader<'a> {
    /// A reader over `bytes`, an encoded `what` (named in errors).
    #[must_use]
    pub fn new(what: &'static str, bytes: &'a [u8]) -> Self {
        TlsReader {
            what,
            bytes,
            pos: 0,
        }
    }

    fn error_at(&self, offset: usize, reason: &'static str) -> TlsError {
        TlsError::Decode {
            what: self.what,
            offset,
            reason,
        }
    }

    /// An error about the `n` bytes just read.
    #[must_use]
    pub fn error_before(&self, n: usize, reason: &'static str) -> TlsError {
        self.error_at(self.pos.saturating_sub(n), reason)
    }

    /// Whether every byte was read.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pos >= self.bytes.len()
    }

    /// The next `n` bytes.
    ///
    /// # Errors
    /// [`TlsError::Decode`] ("truncated") when fewer remain.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], TlsError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| self.error_at(self.pos, "truncated"))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// A fixed-size array (`opaque x[N]`).
    ///
    /// # Errors
    /// [`TlsError::Decode`] when truncated.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], TlsError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// A `uint8`.
    ///
    /// # Errors
    /// [`TlsError::Decode`] when truncated.
    pub fn u8(&mut self) -> Result<u8, TlsError> {
        Ok(self.array::<1>()?[0])
    }

    /// A `uint16`.
    ///
    /// # Errors
    /// [`TlsError::Decode`] when truncated.
    pub fn u16(&mut self) -> Result<u16, TlsError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A `uint24`.
    ///
    /// # Errors
    /// [`TlsError::Decode`] when truncated.
    pub fn u24(&mut self) -> Result<usize, TlsError> {
        let [a, b, c] = self.array::<3>()?;
        Ok(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c))
    }

    /// A `uint64`.
    ///
    /// # Errors
    /// [`TlsError::Decode`] when truncated.
    pub fn u64(&mut self) -> Result<u64, TlsError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A vector with a 16-bit length prefix.
    ///
    /// # Errors
    /// [`TlsError::Decode`] when truncated.
    pub fn u16_vec(&mut self) -> Result<&'a [u8], TlsError> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    /// A vector with a 24-bit length prefix.
    ///
    /// # Errors
    /// [`TlsError::Decode`] when truncated.
    pub fn u24_vec(&mut self) -> Result<&'a [u8], TlsError> {
        let len = self.u24()?;
        self.take(len)
    }

    /// Check that every byte was read.
    ///
    /// # Errors
    /// [`TlsError::Decode`] ("trailing bytes") otherwise.
    pub fn finish(&self) -> Result<(), TlsError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.error_at(self.pos, "trailing bytes"))
        }
    }
}
