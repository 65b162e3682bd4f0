//! A real headless browser for the pages a person sees: Debian's `chromium`, driven through
//! WebDriver (`chromedriver`, from `chromium-driver`) with `fantoccini`. Nothing talks to the
//! pages but the browser, so the browser's own rules (Content Security Policy, redirects after a
//! form POST, meta refresh) are the ones tested.
//!
//! Every page the test looks at is screenshotted; when the test fails, the screenshots, the last
//! page's source and the browser console are written under
//! `$CARGO_TARGET_TMPDIR/browser-artifacts/<test>/` and the failure names that directory
//! (also when `HALLMARK_KEEP_BROWSER_ARTIFACTS` is set, to look at the pages).
//! `scripts/test.sh` installs the browser; without it the tests fail saying so.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// One browser at a time: two cores, and chromium is heavy.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// How long a page may take to appear.
const PAGE_TIMEOUT: Duration = Duration::from_secs(30);

/// A headless chromium session for one test.
pub struct Browser {
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    artifacts: PathBuf,
    shots: Vec<(String, Vec<u8>)>,
    _turn: MutexGuard<'static, ()>,
}

fn tool(var: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from);
    let found = Command::new(&path)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{} is missing: run ./scripts/test.sh (it installs Debian's chromium and \
         chromium-driver), or set {var}",
        path.display()
    );
    path
}

/// Chromium's console, which chromedriver keeps (`goog:loggingPrefs`).
#[derive(Debug)]
struct ConsoleLog;

impl WebDriverCompatibleCommand for ConsoleLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

impl Browser {
    /// Starts chromedriver on a free port and a headless chromium session; `test` names the
    /// artifacts directory.
    pub fn start(test: &str) -> Self {
        let turn = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
        let chromium = tool("HALLMARK_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = tool("HALLMARK_CHROMEDRIVER", "chromedriver");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let artifacts = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("browser-artifacts")
            .join(test);
        let _ = std::fs::remove_dir_all(&artifacts);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut browser = Self {
            rt,
            client: None,
            driver,
            artifacts,
            shots: vec![],
            _turn: turn,
        };
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                // --no-sandbox: CI runs as root, where chromium refuses its sandbox.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=900,700",
                         "--no-first-run", "--no-default-browser-check"],
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let webdriver = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = browser.rt.block_on(async {
            loop {
                let connector = hyper_util::client::legacy::connect::HttpConnector::new();
                match ClientBuilder::new(connector)
                    .capabilities(capabilities.clone())
                    .connect(&webdriver)
                    .await
                {
                    Ok(client) => break client,
                    Err(e) if Instant::now() < deadline => {
                        let _ = e;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => panic!("no WebDriver session from chromedriver: {e}"),
                }
            }
        });
        browser.client = Some(client);
        browser
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("a session")
    }

    /// Opens `url` and waits for it to load.
    pub fn goto(&mut self, url: &str) {
        let client = self.client().clone();
        self.rt
            .block_on(client.goto(url))
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    /// Types `text` into the element matching the CSS selector.
    pub fn type_into(&mut self, css: &str, text: &str) {
        let client = self.client().clone();
        self.rt.block_on(async {
            let field = client
                .wait()
                .at_most(PAGE_TIMEOUT)
                .for_element(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("no {css} on the page: {e}"));
            field.clear().await.unwrap();
            field.send_keys(text).await.unwrap();
        });
    }

    /// Clicks the element matching the CSS selector.
    pub fn click(&mut self, css: &str) {
        let client = self.client().clone();
        self.rt.block_on(async {
            client
                .find(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
                .click()
                .await
                .unwrap();
        });
    }

    /// The value of `attribute` of the element matching the CSS selector.
    pub fn attribute(&mut self, css: &str, attribute: &str) -> Option<String> {
        let client = self.client().clone();
        self.rt.block_on(async {
            client
                .find(Locator::Css(css))
                .await
                .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
                .attr(attribute)
                .await
                .unwrap()
        })
    }

    /// Waits until the page's `<h1>` reads `heading`, then screenshots it as `name`. Returns
    /// the page's visible text.
    pub fn wait_for_heading(&mut self, heading: &str, name: &str) -> String {
        let client = self.client().clone();
        let deadline = Instant::now() + PAGE_TIMEOUT;
        let mut last = String::new();
        loop {
            let found = self.rt.block_on(async {
                match client.find(Locator::Css("h1")).await {
                    Ok(h1) => h1.text().await.unwrap_or_default(),
                    Err(_) => String::new(),
                }
            });
            if found == heading {
                break;
            }
            last = found;
            if Instant::now() > deadline {
                self.snap(name);
                panic!(
                    "the page's heading is {last:?}, not {heading:?}, after {PAGE_TIMEOUT:?} \
                     (at {}; console: {:?})",
                    self.url(),
                    self.console()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.snap(name);
        let _ = last;
        self.text()
    }

    /// The visible text of the page.
    pub fn text(&mut self) -> String {
        let client = self.client().clone();
        self.rt.block_on(async {
            client
                .find(Locator::Css("body"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    }

    /// The document title.
    pub fn title(&mut self) -> String {
        let client = self.client().clone();
        self.rt.block_on(client.title()).unwrap()
    }

    /// The address of the page shown.
    pub fn url(&mut self) -> String {
        let client = self.client().clone();
        self.rt
            .block_on(client.current_url())
            .map(|u| u.to_string())
            .unwrap_or_default()
    }

    /// Screenshots the page, kept as `NN-name.png` if the test fails.
    pub fn snap(&mut self, name: &str) {
        let client = self.client().clone();
        if let Ok(png) = self.rt.block_on(client.screenshot()) {
            self.shots.push((name.to_owned(), png));
        }
    }

    /// The browser console's messages since the last call.
    pub fn console(&mut self) -> Vec<String> {
        let client = self.client().clone();
        let log = self
            .rt
            .block_on(client.issue_cmd(ConsoleLog))
            .unwrap_or(Value::Null);
        log.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| {
                Some(format!(
                    "{} {}",
                    e["level"].as_str()?,
                    e["message"].as_str()?
                ))
            })
            .collect()
    }

    /// No message in the console says the page broke its own security policy.
    pub fn assert_no_policy_violation(&mut self) {
        let console = self.console();
        let violations: Vec<_> = console
            .iter()
            .filter(|m| m.contains("Content Security Policy") || m.contains("violates"))
            .collect();
        assert!(
            violations.is_empty(),
            "the browser refused part of the page: {violations:?}"
        );
    }

    fn keep_artifacts(&mut self) {
        let _ = std::fs::create_dir_all(&self.artifacts);
        for (i, (name, png)) in self.shots.iter().enumerate() {
            let _ = std::fs::write(self.artifacts.join(format!("{i:02}-{name}.png")), png);
        }
        if let Some(client) = self.client.clone() {
            if let Ok(png) = self.rt.block_on(client.screenshot()) {
                let _ = std::fs::write(self.artifacts.join("last.png"), png);
            }
            if let Ok(source) = self.rt.block_on(client.source()) {
                let _ = std::fs::write(self.artifacts.join("last.html"), source);
            }
        }
        let console = self.console().join("\n");
        let _ = std::fs::write(self.artifacts.join("console.txt"), console);
        eprintln!(
            "browser screenshots, page source and console kept in {}",
            self.artifacts.display()
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("HALLMARK_KEEP_BROWSER_ARTIFACTS").is_some()
        {
            self.keep_artifacts();
        }
        if let Some(client) = self.client.take() {
            let _ = self.rt.block_on(client.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
