//! Debian's chromium, headless, driven through chromedriver (WebDriver) with fantoccini:
//! explicit waits, screenshots into `target/e2e-screenshots/`, and the browser's console
//! log (errors, uncaught exceptions, CSP violations, failed loads) read after every page.

use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// chromedriver's `POST /session/{id}/se/log` for the browser's console log.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// How long any one wait may take.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// A headless chromium on a page of the hub at `base`.
pub(crate) struct Browser {
    client: Client,
    base: String,
    shots: PathBuf,
    _driver: DriverGroup,
}

/// chromedriver in a process group of its own, with the chromium it starts: all killed
/// when dropped, so a failing test leaves no browser behind.
struct DriverGroup(Child);

impl Drop for DriverGroup {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

impl Browser {
    /// Starts chromedriver on a free port and a headless chromium through it.
    pub(crate) async fn start(base: String) -> Self {
        let driver_port = joule_testkit::free_port();
        let driver = DriverGroup(
            Command::new("/usr/bin/chromedriver")
                .arg(format!("--port={driver_port}"))
                .process_group(0)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver (Debian's chromium-driver)"),
        );
        joule_testkit::wait_for_port(driver_port);
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1280,1000", "--lang=en-GB"]
            }),
        );
        capabilities.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{driver_port}"))
            .await
            .expect("a chromium session");
        let target = PathBuf::from(env!("CARGO_BIN_EXE_joule"));
        let shots = target
            .parent()
            .and_then(|profile| profile.parent())
            .expect("the target directory")
            .join("e2e-screenshots");
        // Only this run's pictures.
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).expect("screenshot directory");
        Self {
            client,
            base,
            shots,
            _driver: driver,
        }
    }

    /// Opens `path` of the hub.
    pub(crate) async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|error| panic!("open {path}: {error}"));
    }

    /// The page's path.
    pub(crate) async fn path(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("current url")
            .path()
            .to_owned()
    }

    /// Logs in on the login page and waits to leave it.
    pub(crate) async fn login(&self, username: &str, password: &str) {
        self.open("/portal/login").await;
        self.wait_for("#username")
            .await
            .send_keys(username)
            .await
            .expect("type");
        self.wait_for("#password")
            .await
            .send_keys(password)
            .await
            .expect("type");
        self.click("form.login button[type=submit]").await;
        self.wait_until("to leave the login page", || async {
            (self.path().await != "/portal/login").then_some(())
        })
        .await;
    }

    /// Logs out through the header's button.
    pub(crate) async fn logout(&self) {
        self.click("#who button").await;
        self.wait_for("form.login").await;
    }

    /// Polls `probe` until it gives a value, or fails the test after [`WAIT`].
    pub(crate) async fn wait_until<T, F, Fut>(&self, what: &str, mut probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let started = Instant::now();
        loop {
            if let Some(value) = probe().await {
                return value;
            }
            if started.elapsed() > WAIT {
                self.screenshot("timed-out").await;
                panic!(
                    "timed out waiting for {what} on {} (see timed-out.png)",
                    self.path().await
                );
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// The element `css`, once it exists.
    pub(crate) async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        self.wait_until(css, || async {
            self.client.find(Locator::Css(css)).await.ok()
        })
        .await
    }

    /// Clicks `css` once it exists.
    pub(crate) async fn click(&self, css: &str) {
        self.wait_for(css)
            .await
            .click()
            .await
            .unwrap_or_else(|error| panic!("click {css}: {error}"));
    }

    /// The text of `css` now, if it exists.
    pub(crate) async fn text(&self, css: &str) -> Option<String> {
        let element = self.client.find(Locator::Css(css)).await.ok()?;
        element.text().await.ok()
    }

    /// An attribute of `css` now, if both exist.
    pub(crate) async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let element = self.client.find(Locator::Css(css)).await.ok()?;
        element.attr(name).await.ok().flatten()
    }

    /// Waits until the text of `css` satisfies `test`; returns it.
    pub(crate) async fn wait_text(&self, css: &str, test: impl Fn(&str) -> bool) -> String {
        self.wait_until(&format!("the text of {css}"), || async {
            self.text(css).await.filter(|text| test(text))
        })
        .await
    }

    /// Drags the mouse across `css` from `from` to `to` (fractions of its width), halfway
    /// down it.
    pub(crate) async fn drag_across(&self, css: &str, from: f64, to: f64) {
        let element = self.wait_for(css).await;
        let (_, _, width, _) = element.rectangle().await.expect("the element's size");
        let at = |fraction: f64| (fraction - 0.5) * width;
        let drag = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement {
                element: element.clone(),
                duration: None,
                x: at(from),
                y: 0.0,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::MoveToElement {
                element,
                duration: Some(Duration::from_millis(200)),
                x: at(to),
                y: 0.0,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        self.client.perform_actions(drag).await.expect("drag");
    }

    /// Moves the mouse over `css` at `fraction` of its width, halfway down it.
    pub(crate) async fn hover(&self, css: &str, fraction: f64) {
        let element = self.wait_for(css).await;
        let (_, _, width, _) = element.rectangle().await.expect("the element's size");
        let hover = MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
            element,
            duration: None,
            x: (fraction - 0.5) * width,
            y: 0.0,
        });
        self.client.perform_actions(hover).await.expect("hover");
    }

    /// Types into `css`.
    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        self.wait_for(css)
            .await
            .send_keys(text)
            .await
            .unwrap_or_else(|error| panic!("type into {css}: {error}"));
    }

    /// Runs `script` in the page (a returned promise is awaited) and returns its value.
    pub(crate) async fn run(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|error| panic!("run {script}: {error}"))
    }

    /// Deletes the cookie `name` (the browser forgets a session).
    pub(crate) async fn delete_cookie(&self, name: &str) {
        self.client
            .delete_cookie(name)
            .await
            .unwrap_or_else(|error| panic!("delete cookie {name}: {error}"));
    }

    /// Resizes the window (phone layouts).
    pub(crate) async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("resize");
    }

    /// Saves the viewport as `target/e2e-screenshots/{name}.png`.
    pub(crate) async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("save screenshot");
    }

    /// The browser's log entries of level SEVERE since the last call (chromedriver's log
    /// endpoint drains them).
    pub(crate) async fn console_errors(&self) -> Vec<String> {
        let entries = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("the browser log");
        entries
            .as_array()
            .expect("log entries")
            .iter()
            .filter(|entry| entry["level"] == "SEVERE")
            .filter_map(|entry| entry["message"].as_str().map(str::to_owned))
            .collect()
    }

    /// Fails the test if `page` logged an error.
    pub(crate) async fn assert_no_console_errors(&self, page: &str) {
        let errors = self.console_errors().await;
        assert!(errors.is_empty(), "console errors on {page}: {errors:#?}");
    }

    /// Ends the browser session.
    pub(crate) async fn close(self) {
        let _ = self.client.close().await;
    }
}
