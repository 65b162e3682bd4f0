//! The interactive logins of the `hallmark` client commands, driven from a test: the client runs
//! with no token anywhere, its prompt is read from stderr, and the bundle it writes is checked.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};

use super::{Stack, assert_ok, bin, client, hallmark_verify, write_trust_config};

/// A started stack and a trust config for it.
pub fn stack_and_trust() -> (Stack, PathBuf) {
    let stack = Stack::start(&bin()).unwrap();
    let tc = stack.dir().join("trust-config.json");
    write_trust_config(&stack, &tc, None);
    (stack, tc)
}

/// `hallmark ARGS...` with no token anywhere (and `CI` unset, so it logs in), stderr read line
/// by line until `until` picks something out of a line; then the rest of stderr is collected in
/// the background. Returns the child, the pick, and the collector.
pub fn run_with_login<T>(
    stack: &Stack,
    tc: &Path,
    args: &[&std::ffi::OsStr],
    mut until: impl FnMut(&str) -> Option<T>,
) -> (std::process::Child, T, std::thread::JoinHandle<Vec<String>>) {
    let mut child = client(stack, tc)
        .env_remove("CI")
        .args(args)
        .arg("--kubernetes-token-file")
        .arg(stack.dir().join("no-such-k8s-token"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let picked = loop {
        let line = stderr
            .next()
            .expect("hallmark exited before showing how to log in")
            .unwrap();
        if let Some(picked) = until(line.trim()) {
            break picked;
        }
    };
    let rest = std::thread::spawn(move || stderr.map_while(Result::ok).collect::<Vec<_>>());
    (child, picked, rest)
}

/// `hallmark sign EXTRA... ARTIFACT` through [`run_with_login`].
pub fn sign_with_login<T>(
    stack: &Stack,
    tc: &Path,
    artifact: &Path,
    extra: &[&str],
    until: impl FnMut(&str) -> Option<T>,
) -> (std::process::Child, T, std::thread::JoinHandle<Vec<String>>) {
    let mut args: Vec<&std::ffi::OsStr> = vec!["sign".as_ref()];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    args.push(artifact.as_os_str());
    run_with_login(stack, tc, &args, until)
}

/// The user code of a device login's prompt, checking the prompt's other lines on the way.
pub fn device_code(page: &str) -> impl FnMut(&str) -> Option<String> + '_ {
    move |line| {
        if line.contains(page) {
            assert!(
                line.contains("enter the code") || line.starts_with("(or open"),
                "{line}"
            );
        }
        (line.len() == 9 && line.as_bytes()[4] == b'-').then(|| line.to_owned())
    }
}

/// Approves a device login at the development issuer for `email`.
pub fn approve_device(page: &str, code: &str, email: &str) {
    let mut answer = ureq::post(page)
        .content_type("application/x-www-form-urlencoded")
        .send(format!(
            "user_code={code}&email={}",
            email.replace('@', "%40")
        ))
        .unwrap();
    assert!(
        answer
            .body_mut()
            .read_to_string()
            .unwrap()
            .contains("Approved")
    );
}

/// Waits for a `sign_with_login` child and checks the bundle verifies as `email`.
pub fn signed_as(
    stack: &Stack,
    tc: &Path,
    artifact: &Path,
    email: &str,
    mut child: std::process::Child,
    rest: std::thread::JoinHandle<Vec<String>>,
) {
    let status = child.wait().unwrap();
    let rest = rest.join().unwrap().join("\n");
    assert!(status.success(), "hallmark sign failed: {rest}");
    let bundle = PathBuf::from(format!("{}.sigstore.json", artifact.display()));
    assert_ok(
        &format!("signed as {email} after a login"),
        &hallmark_verify(stack, tc, artifact, &bundle, email),
    );
}

/// `hallmark sign ARTIFACT` with no token: returns once it printed the development issuer's
/// login URL, with the child, that URL and the rest of stderr.
pub fn sign_with_browser_login(
    stack: &Stack,
    tc: &Path,
    artifact: &Path,
) -> (
    std::process::Child,
    String,
    std::thread::JoinHandle<Vec<String>>,
) {
    let authorize = format!("{}/authorize?", stack.issuer());
    sign_with_login(stack, tc, artifact, &[], |line| {
        line.find(&authorize).map(|at| line[at..].to_owned())
    })
}
