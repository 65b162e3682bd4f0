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
    let mut child = cmd.spawn().map_err(|e| start_error(program, e))?;
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

/// Runs an inspection's command for a verifier: in a process group of its own, its output
/// captured (never shown: the verifier's own output may be JSON), the whole group killed once
/// `timeout` has passed (whether the command is still running or has exited leaving children
/// that hold its output open) and in any case once it has exited, so nothing it started in
/// the background outlives it. (A child that leaves the group with `setsid` escapes this.)
///
/// # Errors
///
/// As [`run_command`]; [`RecordError::CommandTimeout`] when the deadline passes.
pub fn run_inspection_command(
    args: &[String],
    timeout: Duration,
) -> Result<Byproducts, RecordError> {
    use std::os::unix::process::CommandExt as _;
    use std::sync::mpsc;
    let (program, rest) = args.split_first().ok_or(RecordError::NoCommand)?;
    let mut child = Command::new(program)
        .args(rest)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| start_error(program, e))?;
    let group = child.id();
    let kill_group = || {
        // The group id is the child's pid (process_group(0)). Best effort: the group may be
        // gone already.
        if let Some(pgid) = i32::try_from(group)
            .ok()
            .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process_group(pgid, rustix::process::Signal::KILL);
        }
    };
    let (tx, rx) = mpsc::channel::<(bool, Vec<u8>)>();
    for (is_out, pipe) in [
        (
            true,
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
        (
            false,
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            let _ = tx.send((is_out, buf));
        });
    }
    drop(tx);
    let deadline = Instant::now() + timeout;
    let timed_out = || RecordError::CommandTimeout {
        program: program.clone(),
        seconds: timeout.as_secs_f64(),
    };
    let wait_error = |source| RecordError::CommandWait {
        program: program.clone(),
        source,
    };
    let status = loop {
        if let Some(status) = child.try_wait().map_err(wait_error)? {
            break status;
        }
        if Instant::now() >= deadline {
            kill_group();
            let _ = child.wait();
            return Err(timed_out());
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    for _ in 0..2 {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((true, b)) => stdout = b,
            Ok((false, b)) => stderr = b,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // Exited, but something it started still holds the output open.
                kill_group();
                return Err(timed_out());
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    // Nothing the inspection started outlives it: background processes could change files
    // after the products were recorded.
    kill_group();
    let return_value = status.code().unwrap_or_else(|| {
        use std::os::unix::process::ExitStatusExt as _;
        status.signal().map_or(-1, |s| -s)
    });
    Ok(Byproducts {
        return_value,
        stdout: universal_newlines(&String::from_utf8_lossy(&stdout)),
        stderr: universal_newlines(&String::from_utf8_lossy(&stderr)),
    })
}

/// Why `program` could not be started.
fn start_error(program: &str, source: std::io::Error) -> RecordError {
    let program = program.to_owned();
    if source.kind() == std::io::ErrorKind::NotFound {
        RecordError::CommandNotFound { program, source }
    } else {
        RecordError::CommandStart { program, source }
    }
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

    /// An inspection's output is captured whole, however large (the pipes are drained while
    /// it runs), and its exit code kept.
    #[test]
    fn inspections_capture_large_output() {
        let b = run_inspection_command(
            &s(&[
                "sh",
                "-c",
                "yes line | head -n 100000; echo oops >&2; exit 3",
            ]),
            Duration::from_secs(30),
        )
        .unwrap();
        assert_eq!(b.stdout.len(), 500_000);
        assert_eq!(b.stderr, "oops\n");
        assert_eq!(b.return_value, 3);
    }

    /// Background processes an inspection started do not outlive it.
    #[test]
    fn inspection_background_processes_are_killed() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("bg.pid");
        let script = format!(
            "sleep 30 >/dev/null 2>&1 & echo $! > {}",
            pid_file.display()
        );
        run_inspection_command(&s(&["sh", "-c", &script]), Duration::from_secs(30)).unwrap();
        let pid = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .to_owned();
        // Killed, and reaped by init once it was re-parented: /proc has no such process, or
        // (briefly) a zombie.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
            let alive = state.is_some_and(|s| !s.contains(") Z "));
            if !alive {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "background process {pid} still runs"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The deadline holds when the command runs on, and when it exits leaving a child that
    /// keeps its output open; the whole process group is killed.
    #[test]
    fn inspection_deadlines_hold_for_the_whole_process_group() {
        for script in ["sleep 30", "sleep 30 & exit 0"] {
            let start = Instant::now();
            let e = run_inspection_command(&s(&["sh", "-c", script]), Duration::from_millis(500))
                .unwrap_err();
            assert!(
                matches!(e, RecordError::CommandTimeout { .. }),
                "{script}: {e}"
            );
            assert!(start.elapsed() < Duration::from_secs(10), "{script}");
        }
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
