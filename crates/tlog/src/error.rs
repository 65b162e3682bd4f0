/// Every failure this crate reports. Variants carry the values that were wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A hash was not 32 bytes long.
    #[error("hash is {len} bytes long, want 32")]
    HashLength { len: usize },
    /// A leaf index lies outside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    /// A consistency proof was asked between sizes that cannot be compared.
    #[error("cannot prove consistency from tree size {first} to tree size {second}")]
    BadSizes { first: u64, second: u64 },
    /// A proof had the wrong number of hashes for its sizes.
    #[error("proof has {got} hashes, want {want}")]
    ProofLength { got: usize, want: usize },
    /// A proof was well-formed but did not lead to the expected root.
    #[error("proof does not lead to the expected root hash")]
    RootMismatch,
    /// The hash store returned a different number of hashes than asked for.
    #[error("hash store returned {got} hashes for {want} indexes")]
    StoreShortRead { got: usize, want: usize },
    /// A signed note or checkpoint could not be parsed.
    #[error("malformed note: {reason}")]
    MalformedNote { reason: &'static str },
    /// No signature on a note came from a key the verifier knows.
    #[error("note has no signature from key {name:?}")]
    UnknownSigner { name: String },
    /// A signature from a known key failed to verify.
    #[error("signature by {name:?} does not verify")]
    BadSignature { name: String },
    /// A public key could not be encoded or decoded.
    #[error("public key is not a usable P-256 or P-384 SPKI")]
    BadPublicKey,
    /// The signer failed (for an HSM: unreachable, locked out, ...).
    #[error("signing failed")]
    Signing(#[source] signature::Error),
    /// A tile path could not be parsed.
    #[error("malformed tile path: {reason}")]
    MalformedTilePath { reason: &'static str },
}
