//! Running a step's command and recording its byproducts, as in-toto-python's
//! `execute_link`: `{"return-value": <exit code>, "stdout": "...", "stderr": "..."}`.
//!
//! With `record_streams` the command's standard output and error are shown as they come and
//! recorded (decoded as UTF-8, invalid bytes replaced, newlines translated as Python's
//! universal newlines do: CRLF and CR become LF). Without it, in-toto-python discards the
//! output and records empty strings; here the command keeps the terminal (the output is
//! shown, not discarded) and the strings are empty too. A command killed by a signal has the
//! negative signal number as return value (Python's `returncode`).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use crate::RecordError;

/// What running a command left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Byproducts {
    /// Exit code, or minus the signal that ended it.
    pub return_value: i32,
    /// Standard output (empty unless recorded).
    pub stdout: String,
    /// Standard error (empty unless recorded).
    pub stderr: String,
}

impl Byproducts {
    /// The link's `byproducts` object.
    #[must_use]
    pub fn to_map(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("return-value".into(), self.return_value.into());
        m.insert("stderr".into(), self.stderr.clone().into());
        m.insert("stdout".into(), self.stdout.clone().into());
        m
    }
}

/// Runs `args` (program and arguments), waiting at most `timeout`.
///
/// # Errors
///
/// [`RecordError::NoCommand`] for an empty command, [`RecordError::CommandNotFound`] /
/// [`RecordError::CommandStart`] when it cannot be started, [`RecordError::CommandTimeout`]
/// when it ran too long (it is killed), [`RecordError::CommandWait`] when waiting fails.
pub fn run_command(
    args: &[String],
    record_streams: bool,
    timeout: Option<Duration>,
) -> Result<Byproducts, RecordError> {
    let (program, rest) = args.split_first().ok_or(RecordError::NoCommand)?;
    let mut cmd = Command::new(program);
    cmd.args(rest);
    if record_streams {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let mut child = cmd.spawn().map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            RecordError::CommandNotFound {
                program: program.clone(),
                source,
            }
        } else {
            RecordError::CommandStart {
                program: program.clone(),
                source,
            }
        }
    })?;
    let tees = record_streams.then(|| {
        let out = child.stdout.take().map(|s| tee(s, std::io::stdout));
        let err = child.stderr.take().map(|s| tee(s, std::io::stderr));
        (out, err)
    });
    let wait_error = |source| RecordError::CommandWait {
        program: program.clone(),
        source,
    };
    let status = match timeout {
        None => child.wait().map_err(wait_error)?,
        Some(limit) => {
            let start = Instant::now();
            loop {
                if let Some(status) = child.try_wait().map_err(wait_error)? {
                    break status;
                }
                if start.elapsed() > limit {
                    // Best effort: the error says it timed out either way.
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(RecordError::CommandTimeout {
                        program: program.clone(),
                        seconds: limit.as_secs_f64(),
                    });
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    };
    let return_value = status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt as _;
        status.signal().map_or(-1, |s| -s)
    });
    let (stdout, stderr) = match tees {
        Some((out, err)) => (joined(out), joined(err)),
        None => (String::new(), String::new()),
    };
    Ok(Byproducts {
        return_value,
        stdout,
        stderr,
    })
}

type Tee = std::thread::JoinHandle<Vec<u8>>;

/// Copies `source` to the terminal stream as it comes, keeping a copy.
fn tee<R, W, F>(mut source: R, sink: F) -> Tee
where
    R: Read + Send + 'static,
    W: Write,
    F: Fn() -> W + Send + 'static,
{
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match source.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    kept.extend_from_slice(&buf[..n]);
                    // The terminal may be gone; recording goes on.
                    let mut w = sink();
                    let _ = w.write_all(&buf[..n]);
                    let _ = w.flush();
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        kept
    })
}

fn joined(handle: Option<Tee>) -> String {
    let bytes = handle.and_then(|h| h.join().ok()).unwrap_or_default();
    universal_newlines(&String::from_utf8_lossy(&bytes))
}

/// Python's universal-newline translation on reading: CRLF and lone CR become LF.
#[must_use]
pub fn universal_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    #[test]
    fn records_streams_and_codes() {
        let b = run_command(
            &s(&["sh", "-c", "printf 'a\\r\\nb'; printf e >&2; exit 3"]),
            true,
            None,
        )
        .unwrap();
        assert_eq!(b.return_value, 3);
        assert_eq!(b.stdout, "a\nb");
        assert_eq!(b.stderr, "e");
        let b = run_command(&s(&["sh", "-c", "kill -9 $$"]), false, None).unwrap();
        assert_eq!(b.return_value, -9);
        assert_eq!(b.stdout, "");
    }

    #[test]
    fn failures() {
        let e = run_command(&s(&["/nonexistent/tool"]), false, None).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/tool"), "{e}");
        assert!(matches!(e, RecordError::CommandNotFound { .. }));
        let e =
            run_command(&s(&["sleep", "5"]), false, Some(Duration::from_millis(100))).unwrap_err();
        assert!(matches!(e, RecordError::CommandTimeout { .. }), "{e}");
        assert!(matches!(
            run_command(&[], false, None),
            Err(RecordError::NoCommand)
        ));
    }
}
