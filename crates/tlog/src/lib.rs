//! Pure RFC 6962 transparency-log math for Hallmark.
//!
//! What it implements:
//! - leaf and node hashing ([RFC 6962 §2.1](https://www.rfc-editor.org/rfc/rfc6962#section-2.1));
//! - a stored-hash layout in which every complete subtree's hash is written exactly once, in append
//!   order, so tree roots and proofs cost `O(log n)` reads ([`tree`]);
//! - inclusion and consistency proofs, generated ([`tree::inclusion_proof`],
//!   [`tree::consistency_proof`]) and verified ([`proof`], per
//!   [RFC 9162 §2.1.3.2 and §2.1.4.2](https://www.rfc-editor.org/rfc/rfc9162#section-2.1.3.2));
//! - signed notes ([C2SP signed-note](https://c2sp.org/signed-note)) and checkpoints in both the
//!   Rekor v1 and [C2SP tlog-checkpoint](https://c2sp.org/tlog-checkpoint) shapes ([`note`]);
//! - witness cosignatures ([C2SP tlog-cosignature](https://c2sp.org/tlog-cosignature),
//!   `cosignature/v1`) and verifier keys ([`cosignature`]);
//! - the [C2SP tlog-witness](https://c2sp.org/tlog-witness) `add-checkpoint` bodies
//!   ([`witness`]);
//! - tile addressing per [C2SP tlog-tiles](https://c2sp.org/tlog-tiles) ([`tile`]).
//!
//! Nothing here does I/O or async: storage sits behind [`tree::HashReader`], keys behind the
//! RustCrypto [`signature`] traits.

pub mod cosignature;
pub mod hash;
pub mod note;
pub mod proof;
pub mod tile;
pub mod tree;
pub mod witness;

mod error;

pub use error::Error;
pub use hash::{EMPTY_ROOT, Hash, HashBuildHasher, leaf_hash, node_hash};
