/// Every failure this crate reports. Variants carry the values that were wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A hash was not 32 bytes long.
    #[error("hash is {len} bytes long, want 32")]
    HashLength {
        /// The length that was given.
        len: usize,
    },
    /// A leaf index lies outside the tree.
    #[error("leaf index {index} is outside a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index asked for.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof was asked between sizes that cannot be compared.
    #[error("cannot prove consistency from tree size {first} to tree size {second}")]
    BadSizes {
        /// The older tree size.
        first: u64,
        /// The newer tree size.
        second: u64,
    },
    /// A proof had the wrong number of hashes for its sizes.
    #[error("proof has {got} hashes, want {want}")]
    ProofLength {
        /// Hashes in the proof.
        got: usize,
        /// Hashes the sizes call for.
        want: usize,
    },
    /// A proof was well-formed but did not lead to the expected root.
    #[error("proof does not lead to the expected root hash")]
    RootMismatch,
    /// The hash store returned a different number of hashes than asked for.
    #[error("hash store returned {got} hashes for {want} indexes")]
    StoreShortRead {
        /// Hashes returned.
        got: usize,
        /// Hashes asked for.
        want: usize,
    },
    /// A signed note or checkpoint could not be parsed.
    #[error("malformed note: {reason}")]
    MalformedNote {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No signature on a note came from a key the verifier knows.
    #[error("note has no signature from key {name:?}")]
    UnknownSigner {
        /// The key name the verifier looked for.
        name: String,
    },
    /// A signature from a known key failed to verify.
    #[error("signature by {name:?} does not verify")]
    BadSignature {
        /// The key name on the signature line.
        name: String,
    },
    /// A C2SP tlog-witness `add-checkpoint` request (or answer) body could not be read.
    #[error("malformed add-checkpoint request: {reason}")]
    MalformedWitnessRequest {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A C2SP verifier key (`vkey`) could not be read.
    #[error("malformed verifier key: {reason}")]
    MalformedVkey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A cosignature's timestamp is zero or above 2^63 - 1.
    #[error("cosignature timestamp {timestamp} is out of range (1 to 2^63 - 1)")]
    BadTimestamp {
        /// The timestamp.
        timestamp: u64,
    },
    /// A public key could not be encoded or decoded.
    #[error("public key is not a usable P-256 or P-384 SPKI")]
    BadPublicKey,
    /// The signer failed (for an HSM: unreachable, locked out, ...).
    #[error("signing failed")]
    Signing(#[source] signature::Error),
    /// An entry bundle is not a sequence of 16-bit-length-prefixed entries.
    #[error("malformed entry bundle: {reason}")]
    MalformedEntryBundle {
        /// What is wrong.
        reason: &'static str,
    },
    /// An entry too large for an entry bundle (its length is a 16-bit number).
    #[error("an entry of {len} bytes does not fit an entry bundle (at most 65535)")]
    EntryTooLarge {
        /// The entry's length.
        len: usize,
    },
    /// A tile or entry bundle path is not canonical C2SP.
    #[error("malformed tile path: {reason}")]
    MalformedTilePath {
        /// What is wrong with it.
        reason: &'static str,
    },
}
