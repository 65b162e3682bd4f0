//! `pkcs11:` key references ([RFC 7512](https://www.rfc-editor.org/rfc/rfc7512)).
//!
//! Supported, all else rejected with a reason (an attribute Hallmark silently ignored could make a
//! reference select a different key than its author meant):
//!
//! | part | attribute | meaning |
//! | --- | --- | --- |
//! | path | `token` (required) | token label (`CKA_LABEL` of the token, at most 32 bytes) |
//! | path | `object` (required) | key label (`CKA_LABEL` of the key pair) |
//! | path | `type=private` | accepted: the signer always uses the private key; other types rejected |
//! | query | `module-path` | absolute path of the PKCS#11 module |
//! | query | `pin-source` | `file:/path` or `env:VAR` (Hallmark extension) |
//! | query | `pin-value` | **rejected**: secrets never go in URIs or argv |
//!
//! `id`, `serial`, `manufacturer`, `model`, `slot-*`, `library-*` and `module-name` are standard
//! but not supported (keys are found by token label and object label); they are rejected rather
//! than ignored. Values are percent-decoded (`%2F` is `/`); `token` and `object` must decode to
//! UTF-8.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::{KeyError, PinSource};

/// PKCS#11 token labels are 32 bytes, blank padded.
pub(crate) const MAX_TOKEN_LABEL: usize = 32;

/// A reference to an HSM-held key: `pkcs11:token=hallmark;object=log-key`, optionally with
/// `?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/pin`.
///
/// Parse with [`FromStr`]; [`Display`](fmt::Display) prints the canonical form back (it never
/// holds a secret, so it is safe to log).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyRef {
    token: String,
    object: String,
    module_path: Option<PathBuf>,
    pin_source: Option<PinSource>,
}

impl KeyRef {
    /// A reference to key `object` on the token labelled `token`.
    ///
    /// # Errors
    /// [`KeyError::BadKeyRef`] when a label is empty, holds a NUL byte, or the token label is
    /// longer than 32 bytes.
    pub fn new(token: impl Into<String>, object: impl Into<String>) -> Result<Self, KeyError> {
        let token = token.into();
        let object = object.into();
        check_label("token", &token)?;
        check_label("object", &object)?;
        Ok(KeyRef {
            token,
            object,
            module_path: None,
            pin_source: None,
        })
    }

    /// The same reference with `module-path` set.
    #[must_use]
    pub fn with_module_path(mut self, module: impl Into<PathBuf>) -> Self {
        self.module_path = Some(module.into());
        self
    }

    /// The same reference with `pin-source` set.
    #[must_use]
    pub fn with_pin_source(mut self, pin: PinSource) -> Self {
        self.pin_source = Some(pin);
        self
    }

    /// The token label.
    #[must_use]
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The key label.
    #[must_use]
    pub fn object(&self) -> &str {
        &self.object
    }

    /// The module path, when the URI names one.
    #[must_use]
    pub fn module_path(&self) -> Option<&Path> {
        self.module_path.as_deref()
    }

    /// The PIN source, when the URI names one.
    #[must_use]
    pub fn pin_source(&self) -> Option<&PinSource> {
        self.pin_source.as_ref()
    }

    /// The [`Pkcs11Config`](crate::Pkcs11Config) to open this key's token: the URI's module path
    /// and PIN source win over the defaults given here.
    ///
    /// # Errors
    /// [`KeyError::BadKeyRef`] when neither the URI nor `default_pin` gives a PIN source.
    pub fn config(
        &self,
        default_module: &Path,
        default_pin: Option<&PinSource>,
    ) -> Result<crate::Pkcs11Config, KeyError> {
        let pin = self
            .pin_source
            .as_ref()
            .or(default_pin)
            .cloned()
            .ok_or_else(|| KeyError::BadKeyRef {
                reason: format!(
                    "{self} names no pin-source and no default was configured; add \
                     ?pin-source=file:/path/to/pin or env:VAR"
                ),
            })?;
        Ok(crate::Pkcs11Config {
            module: self
                .module_path
                .clone()
                .unwrap_or_else(|| default_module.to_path_buf()),
            token_label: self.token.clone(),
            pin,
        })
    }
}

fn bad(reason: impl Into<String>) -> KeyError {
    KeyError::BadKeyRef {
        reason: reason.into(),
    }
}

fn check_label(name: &str, value: &str) -> Result<(), KeyError> {
    if value.is_empty() {
        return Err(bad(format!("{name}= is empty")));
    }
    if value.contains('\0') {
        return Err(bad(format!("{name}= contains a NUL byte")));
    }
    if name == "token" && value.len() > MAX_TOKEN_LABEL {
        return Err(bad(format!(
            "token label is {} bytes; PKCS#11 token labels are at most {MAX_TOKEN_LABEL}",
            value.len()
        )));
    }
    Ok(())
}

/// Percent-decode one attribute value (RFC 3986 §2.1, as RFC 7512 §2.3 requires).
fn percent_decode(name: &str, raw: &str) -> Result<Vec<u8>, KeyError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'%' => {
                let hex = |j: usize| bytes.get(j).and_then(|c| (*c as char).to_digit(16));
                match (hex(i + 1), hex(i + 2)) {
                    (Some(hi), Some(lo)) => {
                        // Two hex digits make at most 0xff, so this cannot truncate.
                        out.push(u8::try_from(hi * 16 + lo).unwrap_or(u8::MAX));
                        i += 3;
                    }
                    _ => {
                        return Err(bad(format!(
                            "{name}: '%' must be followed by two hex digits (write %25 for '%')"
                        )));
                    }
                }
            }
            b if b.is_ascii_control() || b == b' ' || b == b'#' || b == b'"' => {
                return Err(bad(format!(
                    "{name}: character {:?} must be percent-encoded",
                    b as char
                )));
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

fn decode_utf8(name: &str, raw: &str) -> Result<String, KeyError> {
    String::from_utf8(percent_decode(name, raw)?)
        .map_err(|_| bad(format!("{name}: value is not UTF-8 after percent-decoding")))
}

fn set_once<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), KeyError> {
    if slot.is_some() {
        return Err(bad(format!("{name} appears more than once")));
    }
    *slot = Some(value);
    Ok(())
}

impl FromStr for KeyRef {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let rest = match s.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case("pkcs11:") => &s[7..],
            _ => {
                return Err(bad(
                    "expected a pkcs11: URI such as pkcs11:token=hallmark;object=ca-root",
                ));
            }
        };
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };

        let mut token = None;
        let mut object = None;
        let mut ktype = None;
        for attr in path.split(';') {
            let (name, value) = attr.split_once('=').ok_or_else(|| {
                bad(if attr.is_empty() {
                    "empty path attribute (stray ';')".to_owned()
                } else {
                    format!("path attribute {:?} has no '='", truncate(attr))
                })
            })?;
            match name {
                "token" => set_once(&mut token, name, decode_utf8(name, value)?)?,
                "object" => set_once(&mut object, name, decode_utf8(name, value)?)?,
                "type" => {
                    let t = decode_utf8(name, value)?;
                    if t != "private" {
                        return Err(bad(format!(
                            "type={} is not supported: a signing key reference names the private key (type=private, or omit type)",
                            truncate(&t)
                        )));
                    }
                    set_once(&mut ktype, name, t)?;
                }
                "id"
                | "serial"
                | "manufacturer"
                | "model"
                | "library-manufacturer"
                | "library-description"
                | "library-version"
                | "slot-manufacturer"
                | "slot-description"
                | "slot-id" => {
                    return Err(bad(format!(
                        "path attribute {name}= is not supported; Hallmark finds keys by token= and object= labels only"
                    )));
                }
                other => {
                    return Err(bad(format!(
                        "unknown path attribute {:?} (supported: token, object, type=private)",
                        truncate(other)
                    )));
                }
            }
        }

        let mut module_path: Option<PathBuf> = None;
        let mut pin_source = None;
        if let Some(query) = query {
            for attr in query.split('&') {
                let (name, value) = attr.split_once('=').ok_or_else(|| {
                    bad(if attr.is_empty() {
                        "empty query attribute (stray '&' or '?')".to_owned()
                    } else {
                        format!("query attribute {:?} has no '='", truncate(attr))
                    })
                })?;
                match name {
                    "pin-value" => {
                        return Err(bad(
                            "pin-value is refused: secrets never go in URIs or on the command line \
                             (they end up in process listings, shell history and logs); use \
                             pin-source=file:/path/to/pin or pin-source=env:VAR",
                        ));
                    }
                    "module-path" => {
                        let p = decode_utf8(name, value)?;
                        if !p.starts_with('/') || p.contains('\0') {
                            return Err(bad(
                                "module-path must be an absolute path to the PKCS#11 module",
                            ));
                        }
                        set_once(&mut module_path, name, PathBuf::from(p))?;
                    }
                    "pin-source" => {
                        let v = decode_utf8(name, value)?;
                        let pin = v.parse::<PinSource>().map_err(|e| match e {
                            KeyError::BadPinSource { reason } => {
                                bad(format!("pin-source: {reason}"))
                            }
                            other => other,
                        })?;
                        set_once(&mut pin_source, name, pin)?;
                    }
                    "module-name" => {
                        return Err(bad(
                            "module-name is not supported; give module-path=/absolute/path/to/module.so",
                        ));
                    }
                    other => {
                        return Err(bad(format!(
                            "unknown query attribute {:?} (supported: module-path, pin-source)",
                            truncate(other)
                        )));
                    }
                }
            }
        }

        let token = token.ok_or_else(|| bad("token= is required (the token's label)"))?;
        let object = object.ok_or_else(|| bad("object= is required (the key's label)"))?;
        let mut key = KeyRef::new(token, object)?;
        key.module_path = module_path;
        key.pin_source = pin_source;
        Ok(key)
    }
}

/// Names in error messages are cut short so a pasted secret is not echoed whole.
fn truncate(s: &str) -> String {
    let cut: String = s.chars().take(24).collect();
    if cut.len() < s.len() {
        format!("{cut}...")
    } else {
        cut
    }
}

/// Write `value`, percent-encoding everything but unreserved characters and `extra`.
fn encode(f: &mut fmt::Formatter<'_>, value: &str, extra: &[u8]) -> fmt::Result {
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || extra.contains(&b) {
            write!(f, "{}", b as char)?;
        } else {
            write!(f, "%{b:02X}")?;
        }
    }
    Ok(())
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pkcs11:token=")?;
        encode(f, &self.token, b":@!$'()*+,")?;
        f.write_str(";object=")?;
        encode(f, &self.object, b":@!$'()*+,")?;
        let mut sep = '?';
        if let Some(module) = &self.module_path {
            write!(f, "{sep}module-path=")?;
            encode(f, &module.to_string_lossy(), b"/:@+,")?;
            sep = '&';
        }
        if let Some(pin) = &self.pin_source {
            write!(f, "{sep}pin-source=")?;
            encode(f, &pin.to_string(), b"/:@+,")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn full_reference_round_trips() {
        let k: KeyRef = "pkcs11:token=hallmark;object=log%20key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin"
            .parse()
            .unwrap();
        assert_eq!(k.token(), "hallmark");
        assert_eq!(k.object(), "log key");
        assert_eq!(
            k.module_path(),
            Some(Path::new("/usr/lib/softhsm/libsofthsm2.so"))
        );
        assert_eq!(k.pin_source(), Some(&PinSource::File("/run/pin".into())));
        assert_eq!(k.to_string().parse::<KeyRef>().unwrap(), k);
        assert_eq!(
            k.to_string(),
            "pkcs11:token=hallmark;object=log%20key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/pin"
        );
    }
}
