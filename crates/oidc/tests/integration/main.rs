//! Integration tests: real signed JWTs from a
//! [`DevIssuer`](hallmark_dev_issuer::DevIssuer) served with axum on 127.0.0.1, verified over
//! HTTP by a real `TokenVerifier`, and issuer configuration files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod cache;
mod common;
mod config_files;
mod identities;
mod key_source;
mod never_panics;
mod rejections;
mod tls;
