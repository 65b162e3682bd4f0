//! Key custody (being written).
