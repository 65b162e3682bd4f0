//! Integration tests: real signed JWTs from a [`DevIssuer`](hallmark_oidc::dev::DevIssuer)
//! served with axum on 127.0.0.1, verified over HTTP by a real `TokenVerifier`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod acquire;
mod cache;
mod common;
mod config_files;
mod dev_issuer;
mod dev_login;
mod identities;
mod login;
mod never_panics;
mod rejections;
mod tls;
