//! `hallmark hsm ...`: token initialisation and key generation.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use hallmark_keys::{KeyError, KeyRef, PinSource, TokenInit, init_token};

use crate::HsmArgs;

#[derive(Debug, Subcommand)]
pub(crate) enum HsmCommand {
    /// Create the token if it does not exist (idempotent). PINs are read from files.
    InitToken {
        #[command(flatten)]
        hsm: HsmArgs,
        /// Token label.
        #[arg(long, default_value = "hallmark")]
        label: String,
        /// File holding the security officer PIN.
        #[arg(long)]
        so_pin_file: PathBuf,
    },
    /// Generate a key pair on the token, or print the existing one's public key with --if-missing.
    Keygen {
        #[command(flatten)]
        hsm: HsmArgs,
        /// The key, as a PKCS#11 URI: pkcs11:token=hallmark;object=log-key
        #[arg(long)]
        key: KeyRef,
        /// Curve.
        #[arg(long, value_enum, default_value_t = Curve::P256)]
        curve: Curve,
        /// Succeed without changes if the key already exists.
        #[arg(long)]
        if_missing: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Curve {
    P256,
    P384,
}

pub(crate) fn run(cmd: HsmCommand) -> Result<()> {
    match cmd {
        HsmCommand::InitToken {
            hsm,
            label,
            so_pin_file,
        } => {
            let Some(user_pin) = hsm.default_pin() else {
                bail!(
                    "no user PIN: pass --pin-file FILE or set HALLMARK_PKCS11_PIN_FILE (or HALLMARK_PKCS11_PIN)"
                );
            };
            let outcome = init_token(
                &hsm.module,
                &label,
                &PinSource::File(so_pin_file),
                &user_pin,
            )
            .with_context(|| format!("initialising token {label:?}"))?;
            match outcome {
                TokenInit::Initialised => println!("token {label:?} initialised"),
                TokenInit::AlreadyPresent => println!("token {label:?} already present"),
            }
            Ok(())
        }
        HsmCommand::Keygen {
            hsm,
            key,
            curve,
            if_missing,
        } => {
            let token = hsm.open(&key)?;
            let pem = match curve {
                Curve::P256 => match token.generate_p256(key.object()) {
                    Ok(k) => public_key_pem(&k.public_key_der())?,
                    Err(KeyError::KeyExists { .. }) if if_missing => {
                        public_key_pem(&token.load_p256(key.object())?.public_key_der())?
                    }
                    Err(e) => return Err(e.into()),
                },
                Curve::P384 => match token.generate_p384(key.object()) {
                    Ok(k) => public_key_pem(&k.public_key_der())?,
                    Err(KeyError::KeyExists { .. }) if if_missing => {
                        public_key_pem(&token.load_p384(key.object())?.public_key_der())?
                    }
                    Err(e) => return Err(e.into()),
                },
            };
            print!("{pem}");
            Ok(())
        }
    }
}

/// PEM "PUBLIC KEY" block (RFC 7468) for a DER SubjectPublicKeyInfo.
fn public_key_pem(der: &[u8]) -> Result<String> {
    Ok(spki::der::pem::encode_string(
        "PUBLIC KEY",
        spki::der::pem::LineEnding::LF,
        der,
    )?)
}
