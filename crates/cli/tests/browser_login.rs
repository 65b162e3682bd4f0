//! The pages a person sees during `hallmark`'s logins, in a real headless browser (Debian's
//! chromium through chromedriver): the development issuer's login form and its "logged in"
//! page, the device-code page, the client's "login complete" page, and the error page of a form
//! submitted twice. Nothing here talks to those pages except the browser; each test ends with a
//! bundle that verifies for the address typed into the browser.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;

use common::browser::Browser;
use common::login::*;
use common::*;

/// `hallmark sign` with no token: it prints the issuer's login URL; a person opens it, types an
/// address, presses "Log in", and lands on hallmark's own "Login complete" page while the
/// signing goes on.
#[test]
fn a_person_signs_after_logging_in_in_a_browser() {
    let (stack, tc) = stack_and_trust();
    let artifact = stack.dir().join("browser.txt");
    std::fs::write(&artifact, b"signed after a login in a real browser").unwrap();
    let (child, url, rest) = sign_with_browser_login(&stack, &tc, &artifact);

    let mut browser = Browser::start("sign");
    browser.goto(&url);
    let form = browser.wait_for_heading("Log in to sign with Hallmark", "login-form");
    assert!(browser.title().starts_with("Log in to sign with Hallmark"));
    assert!(form.contains("asks for an identity token"), "{form}");
    assert!(form.contains("Development issuer"), "{form}");
    browser.assert_no_policy_violation();

    // A half-typed address: the browser itself refuses it (an email field), the form stays.
    browser.type_into("input[name=email]", "nobody@");
    browser.click("button[type=submit]");
    browser.wait_for_heading("Log in to sign with Hallmark", "login-form-again");

    browser.type_into("input[name=email]", "person@example.com");
    browser.click("button[type=submit]");
    let done = browser.wait_for_heading("Login complete", "login-complete");
    assert!(
        done.contains("hallmark is logged in as person@example.com"),
        "{done}"
    );
    assert!(done.contains("You can close this tab"), "{done}");
    assert!(
        browser.url().contains("/auth/callback?"),
        "{}",
        browser.url()
    );
    browser.assert_no_policy_violation();

    signed_as(&stack, &tc, &artifact, "person@example.com", child, rest);
}

/// `hallmark token --device-login`: the terminal shows a code and a page; the person types the
/// code and an address there; the token written verifies as that address when signing.
#[test]
fn a_person_gets_a_token_with_a_device_code_in_a_browser() {
    let (stack, tc) = stack_and_trust();
    let page = format!("{}/device", stack.issuer());
    let token_path = stack.dir().join("device.jwt");
    let args: Vec<&std::ffi::OsStr> = vec![
        "token".as_ref(),
        "--device-login".as_ref(),
        "-o".as_ref(),
        token_path.as_os_str(),
    ];
    let (mut child, code, rest) = run_with_login(&stack, &tc, &args, device_code(&page));

    let mut browser = Browser::start("device");
    browser.goto(&page);
    let form = browser.wait_for_heading("Log in a terminal to Hallmark", "device-form");
    assert!(form.contains("Type the code it shows"), "{form}");
    browser.assert_no_policy_violation();

    // A wrong code first: the form says so and what to do.
    browser.type_into("input[name=user_code]", "BBBB-BBBB");
    browser.type_into("input[name=email]", "remote@example.com");
    browser.click("button[type=submit]");
    let again = browser.wait_for_heading("Log in a terminal to Hallmark", "device-wrong-code");
    assert!(
        again.contains("No login is waiting for that code"),
        "{again}"
    );

    browser.type_into("input[name=user_code]", &code.to_lowercase());
    browser.type_into("input[name=email]", "remote@example.com");
    browser.click("button[type=submit]");
    let done = browser.wait_for_heading("Login approved", "device-approved");
    assert!(done.contains("logged in as remote@example.com"), "{done}");
    assert!(done.contains(&code), "{done}");
    browser.assert_no_policy_violation();

    let status = child.wait().unwrap();
    let rest = rest.join().unwrap().join("\n");
    assert!(status.success(), "hallmark token failed: {rest}");
    // Sign with the token the browser login produced; the bundle verifies as the address typed.
    let artifact = stack.dir().join("device.txt");
    std::fs::write(&artifact, b"signed with a token from a device login").unwrap();
    run(client(&stack, &tc)
        .args(["sign", "--identity-token-file"])
        .arg(&token_path)
        .arg(&artifact));
    assert_ok(
        "signed with the device-login token",
        &hallmark_verify(
            &stack,
            &tc,
            &artifact,
            &PathBuf::from(format!("{}.sigstore.json", artifact.display())),
            "remote@example.com",
        ),
    );
}

/// A login form is good once: the same form submitted again (the back button, a replay) or a
/// form whose request the issuer does not hold (expired) shows an error page saying what to do,
/// not a blank page, and issues no second code.
#[test]
fn a_login_form_submitted_twice_shows_an_error_page() {
    let (stack, tc) = stack_and_trust();
    let artifact = stack.dir().join("twice.txt");
    std::fs::write(&artifact, b"signed once").unwrap();
    let (child, url, rest) = sign_with_browser_login(&stack, &tc, &artifact);

    let mut browser = Browser::start("replay");
    browser.goto(&url);
    browser.wait_for_heading("Log in to sign with Hallmark", "login-form");
    let request = browser
        .attribute("input[name=request]", "value")
        .expect("the form names its request");
    browser.type_into("input[name=email]", "once@example.com");
    browser.click("button[type=submit]");
    browser.wait_for_heading("Login complete", "login-complete");
    signed_as(&stack, &tc, &artifact, "once@example.com", child, rest);

    // The same form, submitted again by the browser from a page of its own.
    let action = format!("{}/authorize", stack.issuer());
    for (name, id) in [
        ("replayed", request.as_str()),
        ("expired", "no-such-request"),
    ] {
        let replay = format!(
            "data:text/html,<form method=post action='{action}'>\
             <input name=request value='{id}'><input name=email value='mallory@example.com'>\
             <button type=submit>again</button></form>"
        );
        browser.goto(&replay);
        browser.click("button[type=submit]");
        let page =
            browser.wait_for_heading("This login page has expired or was already used", name);
        assert!(page.contains("run the hallmark command again"), "{page}");
        assert!(
            browser.title().starts_with("This login page has expired"),
            "{}",
            browser.title()
        );
        assert!(!browser.url().contains("/auth/callback"));
    }
}
