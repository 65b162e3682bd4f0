//! Integration tests: the development issuer served with axum on 127.0.0.1, its tokens verified
//! over HTTP by a real `TokenVerifier`, and its login pages driven as a browser would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// The fixtures of hallmark-oidc's tests (a served development IdP, verifiers for it), shared
// rather than copied; this suite uses a part of them.
#[allow(dead_code)]
#[path = "../../../oidc/tests/integration/common.rs"]
mod common;
mod issuer;
mod login;
