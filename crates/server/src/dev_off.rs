//! A build without the `dev-oidc` cargo feature: there is no development issuer. The type below
//! has no values, so every use of one is unreachable, and start-up ([`crate::config`]) refuses
//! `dev_oidc: true` with a message saying this build has none.

use std::sync::Arc;

use anyhow::Result;
use axum::Router;
use hallmark_oidc::config::IssuersFile;

use crate::{AppState, Settings};

/// No development issuer exists in this build.
#[derive(Clone, Debug)]
pub(crate) enum DevIssuer {}

pub(crate) fn issuer(_: &Settings) -> Result<Option<DevIssuer>> {
    Ok(None)
}

pub(crate) fn add_to(_: &mut IssuersFile, dev: &DevIssuer) {
    match *dev {}
}

pub(crate) fn mount(_: Router<Arc<AppState>>, dev: &DevIssuer) -> Router<Arc<AppState>> {
    match *dev {}
}

pub(crate) fn banner(_: &Settings) -> Option<String> {
    None
}
