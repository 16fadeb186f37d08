//! Real Chromium over WebDriver for the console's browser tests: [`Browser`] starts a
//! `chromedriver` of its own (a free port, its own headless Chromium with its own
//! profile, a 1366×768 window) and drives the console as a person would: pages, forms,
//! buttons, text that arrives live.
//!
//! Every page a [`Browser`] loads through [`Browser::goto`] or [`Browser::press`] is
//! checked with axe-core (serious and critical violations fail the test) when
//! `GATEHOUSE_AXE_JS` names `axe.min.js`; the script is injected through WebDriver,
//! which runs it outside the page's Content-Security-Policy.
//!
//! Without Chromium or chromedriver the tests are skipped with a printed line (without
//! axe, the accessibility check is), unless `GATEHOUSE_TEST_REQUIRE_CHROMIUM` is set,
//! as `.ci/run` does: then a missing tool fails the test.

use crate::api::http_client;
use crate::{free_port, wait_until};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

/// Set (to anything) to fail instead of skipping when Chromium, chromedriver or axe-core
/// is missing.
pub const REQUIRE_VAR: &str = "GATEHOUSE_TEST_REQUIRE_CHROMIUM";
/// The path of axe-core's `axe.min.js`.
pub const AXE_VAR: &str = "GATEHOUSE_AXE_JS";
/// The desk screen the console is made for.
pub const WINDOW: (u32, u32) = (1366, 768);
/// How long a page, a button's navigation or an awaited text may take.
pub const PAGE_TIMEOUT: Duration = Duration::from_secs(15);
/// How long chromedriver may take to answer `/status`.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(20);
/// Browsers at once in this test process: each is a few hundred MB and a busy core.
static BROWSERS: Semaphore = Semaphore::const_new(2);

/// Where Chromium and chromedriver are, if they are.
struct Tools {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

/// `GATEHOUSE_TEST_REQUIRE_CHROMIUM` is set.
fn required() -> bool {
    std::env::var_os(REQUIRE_VAR).is_some()
}

/// `name` in `$PATH`.
fn in_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// The tools, or why not: a skip message (or a panic when they are required).
fn tools(test: &str) -> Option<Tools> {
    // GATEHOUSE_CHROMIUM / GATEHOUSE_CHROMEDRIVER name other builds; else $PATH's.
    let chosen = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|path| path.is_file())
    };
    let chromium = chosen("GATEHOUSE_CHROMIUM")
        .or_else(|| in_path(&["chromium", "chromium-browser", "google-chrome"]));
    let chromedriver = chosen("GATEHOUSE_CHROMEDRIVER").or_else(|| in_path(&["chromedriver"]));
    match (chromium, chromedriver) {
        (Some(chromium), Some(chromedriver)) => Some(Tools {
            chromium,
            chromedriver,
        }),
        _ => {
            let message = "chromium or chromedriver is not installed \
                           (Debian: apt-get install chromium chromium-driver)";
            assert!(!required(), "{test}: {message}, and {REQUIRE_VAR} is set");
            eprintln!("skipped {test}: {message}");
            None
        }
    }
}

/// axe-core's script, or `None` (with a printed line) when `GATEHOUSE_AXE_JS` is unset.
fn axe_script() -> Option<String> {
    let Some(path) = std::env::var_os(AXE_VAR) else {
        let message = format!(
            "{AXE_VAR} is not set: accessibility checks skipped \
             (npm install axe-core, then point {AXE_VAR} at axe.min.js)"
        );
        assert!(!required(), "{message}, and {REQUIRE_VAR} is set");
        eprintln!("{message}");
        return None;
    };
    Some(
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("read {AXE_VAR}={}: {e}", Path::new(&path).display())),
    )
}

/// A running chromedriver (and, through it, its Chromium), in a process group of its
/// own so that dropping it ends the browser too.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    /// Starts chromedriver on a free port and waits for it; retries on another port if
    /// it exits (the port was taken between choosing and binding it).
    async fn start(tools: &Tools, dir: &Path) -> Driver {
        for _ in 0..3 {
            let port = free_port();
            let log = File::create(dir.join("chromedriver.log")).expect("chromedriver log");
            let mut command = Command::new(&tools.chromedriver);
            command
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("share the chromedriver log"))
                .stderr(log);
            std::os::unix::process::CommandExt::process_group(&mut command, 0);
            let mut driver = Driver {
                child: command.spawn().expect("start chromedriver"),
                url: format!("http://127.0.0.1:{port}"),
            };
            if driver.wait_ready().await {
                return driver;
            }
        }
        panic!(
            "chromedriver did not start; its log:\n{}",
            std::fs::read_to_string(dir.join("chromedriver.log")).unwrap_or_default()
        );
    }

    /// Whether `/status` answers ready before chromedriver exits or the time is up.
    async fn wait_ready(&mut self) -> bool {
        let client = http_client();
        let status = format!("{}/status", self.url);
        let child = &mut self.child;
        wait_until(DRIVER_TIMEOUT, "chromedriver to answer", async || {
            if child.try_wait().expect("poll chromedriver").is_some() {
                return Some(false);
            }
            let body: Value = client.get(&status).send().await.ok()?.json().await.ok()?;
            (body["value"]["ready"] == true).then_some(true)
        })
        .await
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and the Chromium processes it started.
        // `--` matters: procps reads `kill -KILL -<n>` as options, down to kill(-1).
        let group = self.child.id();
        if group <= 1 {
            return;
        }
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--"])
            .arg(format!("-{group}"))
            .stderr(Stdio::null())
            .status();
        let _ = self.child.wait();
    }
}

/// One violation axe reports.
#[derive(Debug)]
pub struct Violation {
    pub rule: String,
    pub impact: String,
    pub help: String,
    pub targets: Vec<String>,
}

/// What [`Browser::fetch`] got.
pub struct Fetched {
    pub status: u64,
    pub content_type: String,
    pub body: Vec<u8>,
}

/// A headless Chromium on one console, driven over WebDriver.
pub struct Browser {
    client: Client,
    base_url: String,
    axe: Option<String>,
    /// Pages checked by axe so far (path and title), for the test's own assertions.
    pub checked_pages: Vec<String>,
    // Dropped after the client: the driver, then the profile folder it used.
    _driver: Driver,
    _profile: tempfile::TempDir,
    _permit: SemaphorePermit<'static>,
}

impl Browser {
    /// The Tab key, for [`Browser::keys`].
    pub const TAB: &str = "\u{E004}";
    /// The Enter key, for [`Browser::keys`].
    pub const ENTER: &str = "\u{E007}";

    /// A browser for the console at `base_url` (e.g. `ServerProcess::base_url`), or
    /// `None` when the tools are missing (see the module's documentation). `test` names
    /// the test in the skip message.
    pub async fn start(test: &str, base_url: &str) -> Option<Browser> {
        let tools = tools(test)?;
        let axe = axe_script();
        let permit = BROWSERS.acquire().await.expect("the browser semaphore");
        let profile = tempfile::TempDir::new().expect("a profile folder");
        let driver = Driver::start(&tools, profile.path()).await;
        let args = chromium_args(&profile.path().join("chromium"));
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {"binary": tools.chromium, "args": args},
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| panic!("start a Chromium session: {e}"));
        client
            .set_window_size(WINDOW.0, WINDOW.1)
            .await
            .expect("size the window");
        Some(Browser {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            axe,
            checked_pages: Vec::new(),
            _driver: driver,
            _profile: profile,
            _permit: permit,
        })
    }

    /// Whether pages are checked with axe-core (`GATEHOUSE_AXE_JS` is set).
    pub fn checks_accessibility(&self) -> bool {
        self.axe.is_some()
    }

    /// The WebDriver client, for what the helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `path` of the console (or an absolute URL), then checks the page with axe.
    pub async fn goto(&mut self, path: &str) {
        let url = if path.starts_with("http") || path.starts_with("data:") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base_url)
        };
        self.client
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
        self.loaded(&url).await;
    }

    /// The path (and query) of the page shown.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("the current URL");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// The page's title.
    pub async fn title(&self) -> String {
        self.client.title().await.expect("the page title")
    }

    /// The visible text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css)
            .await
            .text()
            .await
            .unwrap_or_else(|e| panic!("read the text of {css}: {e}"))
    }

    /// The visible text of the whole page.
    pub async fn page_text(&self) -> String {
        self.text("body").await
    }

    /// The HTML of the first element matching `css` (outer HTML).
    pub async fn html(&self, css: &str) -> String {
        self.find(css)
            .await
            .html(false)
            .await
            .expect("an element's HTML")
    }

    /// Types `value` into the field matching `css` (cleared first).
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear a field");
        field
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    /// Clicks the element matching `css` where no new page follows (e.g. a `<summary>`
    /// that unfolds controls).
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Clicks the button labelled `label` (the first one on the page), waits for the page
    /// it leads to, then checks that page with axe.
    pub async fn press(&mut self, label: &str) {
        self.press_within("body", label).await;
    }

    /// [`Browser::press`] for the button labelled `label` inside the element matching
    /// `scope` (e.g. one row's form).
    pub async fn press_within(&mut self, scope: &str, label: &str) {
        let button = self
            .find(scope)
            .await
            .find(Locator::XPath(&button_xpath(label)))
            .await
            .unwrap_or_else(|e| panic!("no button {label:?} in {scope}: {e}"));
        self.click_to_new_page(button, label).await;
    }

    /// Fills `fields` (by name) of the form holding the button labelled `label` inside
    /// the element matching `scope`, unfolding any `<details>` around it, and clicks the
    /// button, all in one turn of the page's event loop (so a live refresh of the page
    /// cannot fold the controls or drop the values in between); then as
    /// [`Browser::press`].
    pub async fn submit_in(&mut self, scope: &str, fields: &[(&str, &str)], label: &str) {
        let fields: serde_json::Map<String, Value> = fields
            .iter()
            .map(|(name, value)| ((*name).to_owned(), Value::from(*value)))
            .collect();
        self.mark_page().await;
        let found = self
            .client
            .execute(
                "const [scope, fields, label] = arguments;
                 const root = document.querySelector(scope);
                 const button = root && Array.from(root.querySelectorAll('button'))
                   .find(b => b.textContent.trim() === label);
                 if (!button) { return false; }
                 let d = button.closest('details');
                 for (; d; d = d.parentElement.closest('details')) {
                   d.open = true;
                 }
                 for (const [name, value] of Object.entries(fields)) {
                   button.form.elements[name].value = value;
                 }
                 button.click();
                 return true;",
                vec![
                    Value::from(scope),
                    Value::Object(fields),
                    Value::from(label),
                ],
            )
            .await
            .unwrap_or_else(|e| panic!("submit {label:?} in {scope}: {e}"));
        assert_eq!(found, Value::Bool(true), "no button {label:?} in {scope}");
        self.wait_new_page(&format!("the page after {label:?}"))
            .await;
        let url = self.client.current_url().await.expect("the current URL");
        self.loaded(url.as_str()).await;
    }

    /// Clicks `button`, waits for the page it leads to and checks that page.
    async fn click_to_new_page(&mut self, button: fantoccini::elements::Element, label: &str) {
        self.mark_page().await;
        button
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {label:?}: {e}"));
        self.wait_new_page(&format!("the page after {label:?}"))
            .await;
        let url = self.client.current_url().await.expect("the current URL");
        self.loaded(url.as_str()).await;
    }

    /// Clicks the button labelled `label` in the innermost row, list item, section or
    /// article that shows `text` (e.g. one alarm's row), then as [`Browser::press`].
    pub async fn press_in(&mut self, text: &str, label: &str) {
        let button = self
            .part(text)
            .await
            .find(Locator::XPath(&button_xpath(label)))
            .await
            .unwrap_or_else(|e| panic!("no button {label:?} near {text:?}: {e}"));
        self.click_to_new_page(button, label).await;
    }

    /// Types `value` into the field matching `css` in the innermost row, list item,
    /// section or article that shows `text`.
    pub async fn fill_in(&self, text: &str, css: &str, value: &str) {
        let field = self
            .part(text)
            .await
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no field {css} near {text:?}: {e}"));
        field.clear().await.expect("clear a field");
        field.send_keys(value).await.expect("type into a field");
    }

    /// The innermost row, list item, section or article whose text contains `text`.
    async fn part(&self, text: &str) -> fantoccini::elements::Element {
        // Not forms: a filter form's <option>s would match every kind and name.
        let parts = "self::tr or self::li or self::section or self::article";
        let quoted = xpath_literal(text);
        let xpath = format!(
            "//*[{parts}][contains(normalize-space(.), {quoted})]\
             [not(.//*[{parts}][contains(normalize-space(.), {quoted})])]"
        );
        match self.client.find(Locator::XPath(&xpath)).await {
            Ok(element) => element,
            Err(e) => panic!("nothing shows {text:?} on {}: {e}", self.path().await),
        }
    }

    /// Follows the link whose text is `text` (the first one), then checks the page it
    /// leads to.
    pub async fn follow(&mut self, text: &str) {
        let link = match self.client.find(Locator::LinkText(text)).await {
            Ok(link) => link,
            Err(e) => panic!("no link {text:?} on {}: {e}", self.path().await),
        };
        self.click_to_new_page(link, text).await;
    }

    /// The `href` of every link in the element matching `css`, in page order.
    /// The window as a PNG (the README's screenshots).
    pub async fn screenshot(&self) -> Vec<u8> {
        self.client().screenshot().await.expect("a screenshot")
    }

    pub async fn links(&self, css: &str) -> Vec<String> {
        let found = self
            .execute(&format!(
                "return Array.from(document.querySelectorAll({css:?} + ' a[href]'))
                   .map(a => a.getAttribute('href'));"
            ))
            .await;
        found
            .as_array()
            .expect("a list of links")
            .iter()
            .filter_map(|href| href.as_str().map(str::to_owned))
            .collect()
    }

    /// How many CSS pixels the page shown is wider than the window (0 when it fits: no
    /// sideways scrolling).
    pub async fn overflow_x(&self) -> i64 {
        let overflow = self
            .execute(
                "var d = document.documentElement;
                 return Math.max(d.scrollWidth, document.body.scrollWidth) - d.clientWidth;",
            )
            .await;
        overflow.as_i64().expect("a width")
    }

    /// Resizes the window (e.g. to a tablet's 768×1024).
    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("resize the window");
    }

    /// Types `keys` into whatever has the focus (WebDriver key codes such as
    /// [`Browser::TAB`] and [`Browser::ENTER`] included); when `navigates`, waits for
    /// the page this leads to and checks it.
    pub async fn keys(&mut self, keys: &str, navigates: bool) {
        let focused = self
            .client
            .active_element()
            .await
            .expect("the focused element");
        if navigates {
            self.mark_page().await;
        }
        focused.send_keys(keys).await.expect("type keys");
        if navigates {
            self.wait_new_page("the page after the keys").await;
            let url = self.client.current_url().await.expect("the current URL");
            self.loaded(url.as_str()).await;
        }
    }

    /// The focused element's outer HTML.
    pub async fn focused(&self) -> String {
        let focused = self
            .client
            .active_element()
            .await
            .expect("the focused element");
        focused.html(false).await.expect("its HTML")
    }

    /// Logs in through the login form and waits for the page it leads to.
    pub async fn login(&mut self, username: &str, password: &str) {
        self.goto("/login").await;
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.press("Log in").await;
        assert_ne!(
            self.path().await,
            "/login",
            "the login of {username} failed: {}",
            self.page_text().await
        );
    }

    /// Waits until the element matching `css` shows `needle` (without reloading: for
    /// what arrives live); returns its text.
    pub async fn wait_for_text(&self, css: &str, needle: &str, timeout: Duration) -> String {
        let what = format!("{needle:?} in {css}");
        self.wait_for(css, &what, timeout, |text| text.contains(needle))
            .await
    }

    /// Waits until the element matching `css` no longer shows `needle`; returns its text.
    pub async fn wait_for_text_gone(&self, css: &str, needle: &str, timeout: Duration) -> String {
        let what = format!("{needle:?} gone from {css}");
        self.wait_for(css, &what, timeout, |text| !text.contains(needle))
            .await
    }

    /// Waits until the text of the element matching `css` satisfies `done`.
    pub async fn wait_for(
        &self,
        css: &str,
        what: &str,
        timeout: Duration,
        done: impl Fn(&str) -> bool,
    ) -> String {
        wait_until(timeout, what, async || {
            let element = self.client.find(Locator::Css(css)).await.ok()?;
            let text = element.text().await.ok()?;
            done(&text).then_some(text)
        })
        .await
    }

    /// Waits until a Server-Sent Events stream at `path` answers for this page's session:
    /// the page's own stream (opened as the page loaded, before this one) is then open
    /// too, so what happens next reaches the page.
    pub async fn wait_stream_open(&self, path: &str) {
        let opened = self
            .client
            .execute(
                "return new Promise(done => {
                   const s = new EventSource(arguments[0]);
                   s.onopen = () => { s.close(); done(true); };
                   s.onerror = () => { s.close(); done(false); };
                 });",
                vec![Value::from(path)],
            )
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
        assert_eq!(opened, Value::Bool(true), "{path} did not open");
    }

    /// Runs `script` in the page (a function body; `return` gives the result).
    pub async fn execute(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .unwrap_or_else(|e| panic!("run a script in the page: {e}"))
    }

    /// POSTs `fields` as a form to `path` from the page shown (a same-origin `fetch`
    /// with the browser's cookies, as the page's own forms would); returns the status.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> u16 {
        let fields: serde_json::Map<String, Value> = fields
            .iter()
            .map(|(name, value)| ((*name).to_owned(), Value::from(*value)))
            .collect();
        let status = self
            .client
            .execute(
                "return fetch(arguments[0], {method: 'POST', credentials: 'same-origin',
                   redirect: 'manual', body: new URLSearchParams(arguments[1])})
                   .then(r => r.status);",
                vec![Value::from(path), Value::Object(fields)],
            )
            .await
            .unwrap_or_else(|e| panic!("POST {path} from the page: {e}"));
        let status = status.as_u64().expect("a status");
        u16::try_from(status).expect("a status")
    }

    /// GETs `path` from the page shown (a same-origin `fetch` with the browser's cookies,
    /// as a link the page shows would); returns the status, the content type and the
    /// body (e.g. a PDF a link opens in a new tab).
    pub async fn fetch(&self, path: &str) -> Fetched {
        let found = self
            .client
            .execute(
                "return fetch(arguments[0], {credentials: 'same-origin'})
                   .then(r => r.arrayBuffer().then(b => ({status: r.status,
                     type: r.headers.get('content-type') || '',
                     body: Array.from(new Uint8Array(b))})));",
                vec![Value::from(path)],
            )
            .await
            .unwrap_or_else(|e| panic!("GET {path} from the page: {e}"));
        let body = found["body"].as_array().expect("the body's bytes");
        Fetched {
            status: found["status"].as_u64().expect("a status"),
            content_type: found["type"].as_str().unwrap_or_default().to_owned(),
            body: body
                .iter()
                .map(|b| {
                    b.as_u64()
                        .and_then(|b| u8::try_from(b).ok())
                        .expect("a byte")
                })
                .collect(),
        }
    }

    /// Fails listing every serious or critical axe-core violation of the page shown.
    /// Skipped (see the module's documentation) without axe.
    pub async fn assert_accessible(&mut self) {
        let Some(violations) = self.axe_violations().await else {
            return;
        };
        let page = format!("{} ({})", self.path().await, self.title().await);
        assert!(
            violations.is_empty(),
            "axe-core: {} serious or critical violation(s) on {page}:\n{}",
            violations.len(),
            violations
                .iter()
                .map(|v| format!(
                    "- {} [{}]: {}\n    at {}",
                    v.rule,
                    v.impact,
                    v.help,
                    v.targets.join("\n    at ")
                ))
                .collect::<Vec<_>>()
                .join("\n")
        );
        self.checked_pages.push(page);
    }

    /// The serious and critical violations axe-core finds on the page shown, or `None`
    /// without axe.
    pub async fn axe_violations(&self) -> Option<Vec<Violation>> {
        let axe = self.axe.as_ref()?;
        let present = self.execute("return typeof window.axe === 'object';").await;
        if present != Value::Bool(true) {
            // Run as WebDriver script, not as the page's: the CSP does not apply to it.
            self.execute(&format!("{axe}\n;return null;")).await;
        }
        let found = self
            .execute(
                "return window.axe.run(document, {resultTypes: ['violations']}).then(r =>
                   r.violations
                     .filter(v => v.impact === 'serious' || v.impact === 'critical')
                     .map(v => ({rule: v.id, impact: v.impact, help: v.help,
                                 targets: v.nodes.map(n => n.target.join(' '))})));",
            )
            .await;
        let list = found.as_array().expect("axe's violations");
        Some(
            list.iter()
                .map(|v| Violation {
                    rule: v["rule"].as_str().unwrap_or_default().to_owned(),
                    impact: v["impact"].as_str().unwrap_or_default().to_owned(),
                    help: v["help"].as_str().unwrap_or_default().to_owned(),
                    targets: v["targets"]
                        .as_array()
                        .map(|t| t.iter().filter_map(|s| s.as_str().map(str::to_owned)))
                        .into_iter()
                        .flatten()
                        .collect(),
                })
                .collect(),
        )
    }

    /// Ends the WebDriver session (the driver and its Chromium end when dropped), after
    /// a moment for reports the page is still sending (CSP).
    pub async fn close(&self) {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let _ = self.client.clone().close().await;
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no element {css} on {}: {e}", self.path().await),
        }
    }

    /// Marks the document shown, so that [`Browser::wait_new_page`] knows it left.
    async fn mark_page(&self) {
        self.execute("window.__gatehouseOldPage = true; return null;")
            .await;
    }

    /// Waits until another document than the marked one is shown and loaded.
    async fn wait_new_page(&self, what: &str) {
        wait_until(PAGE_TIMEOUT, what, async || {
            let fresh = self
                .client
                .execute(
                    "return window.__gatehouseOldPage !== true \
                     && document.readyState === 'complete';",
                    Vec::new(),
                )
                .await
                .ok()?;
            (fresh == Value::Bool(true)).then_some(())
        })
        .await;
    }

    /// After a page of the console loaded: its accessibility check.
    async fn loaded(&mut self, url: &str) {
        if url.starts_with(&self.base_url) {
            self.assert_accessible().await;
        }
    }
}

/// An XPath for a button (or submit input) whose visible label is `label`.
fn button_xpath(label: &str) -> String {
    let quoted = xpath_literal(label);
    format!(".//button[normalize-space()={quoted}] | .//input[@type='submit' and @value={quoted}]")
}

/// `text` as an XPath string literal (XPath 1 has no escapes: `concat` joins the parts
/// around single quotes).
fn xpath_literal(text: &str) -> String {
    if !text.contains('\'') {
        return format!("'{text}'");
    }
    if !text.contains('"') {
        return format!("\"{text}\"");
    }
    let parts: Vec<String> = text.split('\'').map(|p| format!("'{p}'")).collect();
    format!("concat({})", parts.join(", \"'\", "))
}

/// Headless Chromium, small and quiet: its profile in `profile`, no GPU, no sandbox (CI
/// runs as root), /tmp instead of a small /dev/shm, nothing fetched from the internet,
/// at most two renderers.
fn chromium_args(profile: &Path) -> Vec<String> {
    let mut args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        "--mute-audio",
        "--renderer-process-limit=2",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    args.push(format!("--window-size={},{}", WINDOW.0, WINDOW.1));
    args.push(format!("--user-data-dir={}", profile.display()));
    args
}
