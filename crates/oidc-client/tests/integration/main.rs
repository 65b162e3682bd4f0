//! Integration tests: tokens acquired from CI token services, files and interactive logins
//! against a [`DevIssuer`](hallmark_dev_issuer::DevIssuer) served with axum on 127.0.0.1, and
//! checked by a real `TokenVerifier`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod acquire;
// The fixtures of hallmark-oidc's tests (a served development IdP, verifiers for it), shared
// rather than copied; this suite uses a part of them.
#[allow(dead_code)]
#[path = "../../../oidc/tests/integration/common.rs"]
mod common;
mod login;
