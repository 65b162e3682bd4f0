//! Where a PIN comes from: a file or an environment variable, never a URI or the command line.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use cryptoki::types::AuthPin;
use secrecy::zeroize::Zeroize;

use crate::KeyError;

/// Where to read a token PIN from.
///
/// PINs never appear in key URIs, command lines or logs: a process listing or a shell history
/// would leak them. `Debug` and `Display` show the file path or the variable name, never the PIN.
///
/// Parsed from `file:/path/to/pin` (also `file:///path/to/pin`) or `env:VARNAME`. `env:` is a
/// Hallmark extension of RFC 7512's `pin-source` (which only names a URI to read).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PinSource {
    /// A file holding the PIN; one trailing newline (`\n` or `\r\n`) is removed. Keep it mode 0600
    /// (or a Kubernetes Secret volume).
    File(PathBuf),
    /// An environment variable holding the PIN.
    Env(String),
}

impl PinSource {
    /// Read the PIN.
    ///
    /// # Errors
    /// [`KeyError::PinFile`] when the file cannot be read, [`KeyError::PinEnv`] when the variable is
    /// unset or not UTF-8, [`KeyError::PinEmpty`] when the PIN is empty.
    pub fn read(&self) -> Result<AuthPin, KeyError> {
        let mut raw = match self {
            PinSource::File(path) => {
                std::fs::read_to_string(path).map_err(|source| KeyError::PinFile {
                    path: path.clone(),
                    source,
                })?
            }
            PinSource::Env(var) => match std::env::var(var) {
                Ok(value) => value,
                Err(std::env::VarError::NotPresent) => {
                    return Err(KeyError::PinEnv {
                        var: var.clone(),
                        problem: "not set",
                    });
                }
                Err(std::env::VarError::NotUnicode(value)) => {
                    std::os::unix::ffi::OsStringExt::into_vec(value).zeroize();
                    return Err(KeyError::PinEnv {
                        var: var.clone(),
                        problem: "not valid UTF-8",
                    });
                }
            },
        };
        let pin = trim_newline(&raw);
        let result = if pin.is_empty() {
            Err(KeyError::PinEmpty {
                pin_source: self.to_string(),
            })
        } else {
            Ok(AuthPin::from(pin))
        };
        raw.zeroize();
        result
    }
}

/// Strip one trailing `\n` or `\r\n` (editors and `echo` add one).
fn trim_newline(s: &str) -> &str {
    let s = s.strip_suffix('\n').unwrap_or(s);
    s.strip_suffix('\r').unwrap_or(s)
}

impl fmt::Display for PinSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // `file://x` would read as a host name: spell a leading `//` as `file:////x`.
            PinSource::File(path) if path.as_os_str().as_encoded_bytes().starts_with(b"//") => {
                write!(f, "file://{}", path.display())
            }
            PinSource::File(path) => write!(f, "file:{}", path.display()),
            PinSource::Env(var) => write!(f, "env:{var}"),
        }
    }
}

impl FromStr for PinSource {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |reason: String| KeyError::BadPinSource { reason };
        if let Some(rest) = s.strip_prefix("file:") {
            // `file:///abs` (empty authority) is the same as `file:/abs`; a host is not supported.
            let path = match rest.strip_prefix("//") {
                Some(after) if after.starts_with('/') => after,
                Some(_) => {
                    return Err(bad(
                        "file: URIs with a host are not supported; use file:/absolute/path".into(),
                    ));
                }
                None => rest,
            };
            if path.is_empty() {
                return Err(bad("file: needs a path, e.g. file:/etc/hallmark/pin".into()));
            }
            if path.contains('\0') {
                return Err(bad("the file path contains a NUL byte".into()));
            }
            Ok(PinSource::File(PathBuf::from(path)))
        } else if let Some(var) = s.strip_prefix("env:") {
            if !is_env_name(var) {
                return Err(bad(format!(
                    "{var:?} is not an environment variable name (letters, digits, '_', not starting with a digit)"
                )));
            }
            Ok(PinSource::Env(var.to_owned()))
        } else {
            Err(bad(
                "expected file:/path/to/pin or env:VARIABLE (PINs themselves never go in arguments)"
                    .into(),
            ))
        }
    }
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_both_forms() {
        assert_eq!(
            "file:/run/pin".parse::<PinSource>().unwrap(),
            PinSource::File("/run/pin".into())
        );
        assert_eq!(
            "file:///run/pin".parse::<PinSource>().unwrap(),
            PinSource::File("/run/pin".into())
        );
        assert_eq!(
            "env:HSM_PIN".parse::<PinSource>().unwrap(),
            PinSource::Env("HSM_PIN".into())
        );
        assert_eq!(
            "env:HSM_PIN".parse::<PinSource>().unwrap().to_string(),
            "env:HSM_PIN"
        );
        assert_eq!(
            PinSource::File("/run/pin".into()).to_string(),
            "file:/run/pin"
        );
        let odd = PinSource::File("//run/pin".into());
        assert_eq!(odd.to_string(), "file:////run/pin");
        assert_eq!(odd.to_string().parse::<PinSource>().unwrap(), odd);
    }

    #[test]
    fn trims_one_newline_only() {
        assert_eq!(trim_newline("1234\n"), "1234");
        assert_eq!(trim_newline("1234\r\n"), "1234");
        assert_eq!(trim_newline("1234\n\n"), "1234\n");
        assert_eq!(trim_newline(" 1234 "), " 1234 ");
    }
}
