//! RFC 6962 hashing: `leaf = SHA-256(0x00 || data)`, `node = SHA-256(0x01 || left || right)`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

use crate::Error;

/// A SHA-256 Merkle tree hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

/// The root of the empty tree: SHA-256 of the empty string.
pub const EMPTY_ROOT: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

impl Hash {
    /// Reads a hash from exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, Error> {
        <[u8; 32]>::try_from(bytes)
            .map(Hash)
            .map_err(|_| Error::HashLength { len: bytes.len() })
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Self, Error> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| Error::HashLength { len: s.len() / 2 })?;
        Ok(Hash(out))
    }

    /// Parses standard base64.
    pub fn from_base64(s: &str) -> Result<Self, Error> {
        let bytes = STANDARD
            .decode(s)
            .map_err(|_| Error::HashLength { len: 0 })?;
        Self::from_slice(&bytes)
    }

    /// Lower-case hex, as Rekor prints hashes.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Standard base64, as checkpoints carry roots.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }
}

impl AsRef<[u8]> for Hash {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A [`std::hash::BuildHasher`] for maps keyed by [`Hash`]: the keys are already uniform SHA-256
/// output, so the first eight bytes serve as the hash; no need to hash them again with SipHash.
pub type HashBuildHasher = std::hash::BuildHasherDefault<PrefixHasher>;

/// See [`HashBuildHasher`]. Only meant for keys that are cryptographic hashes.
#[derive(Debug, Default, Clone, Copy)]
pub struct PrefixHasher(u64);

impl std::hash::Hasher for PrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // `[u8; 32]` hashes as one `write` of the bytes (arrays hash their slice without a
        // length prefix); fold whatever arrives so that any key still hashes correctly.
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(b);
        }
    }
}

/// RFC 6962 leaf hash of an entry's bytes.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    Hash(h.finalize().into())
}

/// RFC 6962 interior node hash.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut buf = [0u8; 65];
    buf[0] = 1;
    buf[1..33].copy_from_slice(&left.0);
    buf[33..].copy_from_slice(&right.0);
    Hash(Sha256::digest(buf).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT.0, <[u8; 32]>::from(Sha256::digest([])));
    }

    #[test]
    fn hex_and_base64_round_trip() {
        let h = leaf_hash(b"hallmark");
        assert_eq!(Hash::from_hex(&h.to_hex()).unwrap(), h);
        assert_eq!(Hash::from_base64(&h.to_base64()).unwrap(), h);
        assert!(Hash::from_hex("abc").is_err());
        assert!(Hash::from_base64("!!").is_err());
        assert!(matches!(
            Hash::from_slice(&[0; 31]),
            Err(Error::HashLength { len: 31 })
        ));
    }
}
