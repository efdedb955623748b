//! The web console in a real browser (issue 13): headless Chromium driven over WebDriver
//! (`chromedriver`, through the `fantoccini` crate) against the gRPC server and the console on
//! 127.0.0.1:0, with axe-core run inside every page for accessibility.
//!
//! One browser and one test function, so the whole file stays well under two minutes: the
//! scenarios run one after another in a single WebDriver session, each role logging in through
//! the form after the cookies of the previous one are deleted.
//!
//! What is needed and how it is found (see docs/web.md, "Browser tests"):
//! - `chromium` and `chromedriver` on `PATH` (Debian `chromium`, `chromium-driver`), or their
//!   paths in `CREDITRISK_CHROMIUM` and `CREDITRISK_CHROMEDRIVER`;
//! - axe-core at `tools/axe/node_modules/axe-core/axe.min.js` (`npm ci` in `tools/axe`).
//!
//! Without them the test writes `SKIPPED: <reason>` to standard error (past the test
//! harness's capture) and passes, unless `CREDITRISK_REQUIRE_BROWSER=1`, which `.ci/run` sets:
//! then it fails. Screenshots go to `target/screenshots/`.

mod common;

use common::web::{counts, food_draw, population, red_alert, Servers, SCRIPT};
use common::{issue, Role};
use creditrisk::server::pb;
use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use pb::draw_service_client::DrawServiceClient;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Width of the phone window for the inspector, in CSS pixels.
const PHONE_WIDTH: u32 = 390;

/// What the browser tests need on this machine.
struct Tools {
    chromium: PathBuf,
    chromedriver: PathBuf,
    /// The text of `axe.min.js`, when axe-core is installed.
    axe: Option<String>,
}

fn required() -> bool {
    std::env::var("CREDITRISK_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
}

/// Says loudly that a part did not run; fails instead under `CREDITRISK_REQUIRE_BROWSER=1`.
fn skip(reason: &str) {
    assert!(
        !required(),
        "CREDITRISK_REQUIRE_BROWSER=1 but {reason} (see docs/web.md, \"Browser tests\")"
    );
    // Straight to standard error: the harness captures `eprintln!` of passing tests.
    let _ = writeln!(
        std::io::stderr(),
        "\nSKIPPED: {reason} (see docs/web.md, \"Browser tests\")\n"
    );
}

/// The file named by `var` if set (`None` if it is not a file), else the first of `names` found
/// on `PATH`.
fn find_program(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(var) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|n| {
        std::env::split_paths(&path)
            .map(|d| d.join(n))
            .find(|p| p.is_file())
    })
}

fn tools() -> Result<Tools, String> {
    let chromium = find_program(
        "CREDITRISK_CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    )
    .ok_or("no chromium on PATH or in CREDITRISK_CHROMIUM (Debian package `chromium`)")?;
    let chromedriver = find_program("CREDITRISK_CHROMEDRIVER", &["chromedriver"]).ok_or(
        "no chromedriver on PATH or in CREDITRISK_CHROMEDRIVER (Debian package `chromium-driver`)",
    )?;
    let axe_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/axe/node_modules/axe-core/axe.min.js");
    let axe = std::fs::read_to_string(&axe_path).ok();
    Ok(Tools {
        chromium,
        chromedriver,
        axe,
    })
}

/// A chromedriver process, ended when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Starts chromedriver on a free loopback port and opens one headless Chromium session with
/// an empty profile in `profile`.
async fn browser(t: &Tools, profile: &Path) -> (Driver, Client) {
    let port = free_port();
    let child = Command::new(&t.chromedriver)
        .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".into()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", t.chromedriver.display()));
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": t.chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--hide-scrollbars",
                "--window-size=1280,900",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    // chromedriver takes a moment to listen: retry the session for up to 10 s.
    let mut last = String::new();
    for _ in 0..100 {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&driver.url)
            .await
        {
            Ok(c) => return (driver, c),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "no WebDriver session from chromedriver at {}: {last}",
        driver.url
    );
}

/// Tallest screenshot taken, in CSS pixels (a long page is cut there).
const SHOT_MAX_HEIGHT: u64 = 1600;

/// The whole page (up to [`SHOT_MAX_HEIGHT`]) at the window's width, saved as
/// `target/screenshots/{name}.png`; the window gets its old size back afterwards.
async fn screenshot(c: &Client, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let (w, h) = c.get_window_size().await.unwrap();
    // The page's height plus what the window adds around its viewport.
    let needed: u64 = serde_json::from_value(
        c.execute(
            "return document.documentElement.scrollHeight + (window.outerHeight - window.innerHeight)",
            vec![],
        )
        .await
        .unwrap(),
    )
    .unwrap();
    let tall = needed.clamp(h, SHOT_MAX_HEIGHT.max(h));
    c.set_window_size(w as u32, tall as u32).await.unwrap();
    let png = c.screenshot().await.unwrap();
    c.set_window_size(w as u32, h as u32).await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// Runs axe-core in the current page; returns each serious or critical violation in words.
async fn axe_violations(c: &Client, axe: &str) -> Vec<String> {
    c.execute(axe, vec![]).await.expect("axe-core loads");
    let script = r#"
        const done = arguments[arguments.length - 1];
        axe.run(document, { resultTypes: ['violations'] })
          .then(r => done(r.violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at '
                 + v.nodes.map(n => n.target.join(' ')).join(', '))))
          .catch(e => done(['axe failed: ' + e]));
    "#;
    let out = c
        .execute_async(script, vec![])
        .await
        .expect("axe-core runs");
    serde_json::from_value(out).expect("a list of strings")
}

/// One browser session against one server, and what was found wrong on its pages.
struct Run<'a> {
    c: Client,
    web: String,
    axe: Option<&'a str>,
    /// Serious or critical axe violations, by page.
    problems: Vec<String>,
    checked: usize,
}

impl Run<'_> {
    async fn goto(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.web)).await.unwrap();
    }

    /// Opens `path` and checks it with axe-core (when installed).
    async fn visit(&mut self, path: &str) {
        self.goto(path).await;
        self.check().await;
    }

    /// Checks the current page with axe-core (when installed).
    async fn check(&mut self) {
        let Some(axe) = self.axe else { return };
        let url = self.c.current_url().await.unwrap();
        for v in axe_violations(&self.c, axe).await {
            self.problems.push(format!("{}: {v}", url.path()));
        }
        self.checked += 1;
    }

    async fn text(&self, css: &str) -> String {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}`: {e}"))
            .text()
            .await
            .unwrap()
    }

    async fn h1(&self) -> String {
        self.text("h1").await
    }

    /// Logs in through the form with `token` (after dropping any earlier session).
    async fn login(&mut self, token: &str) {
        self.c.delete_all_cookies().await.unwrap();
        self.visit("/login").await;
        let field = self.c.find(Locator::Id("token")).await.unwrap();
        field.send_keys(token).await.unwrap();
        let button = self
            .c
            .find(Locator::Css("main button[type=submit]"))
            .await
            .unwrap();
        click_and_wait(&self.c, &button).await;
        let here = self.c.current_url().await.unwrap();
        assert_ne!(
            here.path(),
            "/login",
            "login refused: {}",
            self.text("main").await
        );
    }

    /// The paths the navigation offers.
    async fn nav(&self) -> Vec<String> {
        let mut out = Vec::new();
        for a in self.c.find_all(Locator::Css("nav a")).await.unwrap() {
            let href = a.attr("href").await.unwrap().unwrap_or_default();
            if !href.contains("lang=") {
                out.push(href);
            }
        }
        out
    }

    /// Opens `path` and expects the refusal page naming `role` and `method`.
    async fn refused(&mut self, path: &str, role: &str, method: &str) {
        self.visit(path).await;
        assert_eq!(self.h1().await, "无权访问", "{path} for {role}");
        let why = self.text("main p[role=alert]").await;
        assert!(
            why.contains(role) && why.contains(method),
            "the refusal names the role and the method: {why}"
        );
    }
}

/// Numbers in the cells of the overview's row `id` (tiers A-D and the total).
async fn row(r: &Run<'_>, id: &str) -> Vec<u64> {
    let mut out = Vec::new();
    for td in
        r.c.find_all(Locator::Css(&format!("tr[id='{id}'] td.n")))
            .await
            .unwrap()
    {
        out.push(td.text().await.unwrap().trim().parse().unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_headless_chromium() {
    let tools = match tools() {
        Ok(t) => t,
        Err(why) => return skip(&why),
    };
    if tools.axe.is_none() {
        skip("axe-core is not installed in tools/axe (run `npm ci` there): pages not checked for accessibility");
    }
    let s = Servers::start().await;
    let codes = population(&s).await;
    let draw = food_draw(&s).await;
    let alert = red_alert(&s).await;
    let profile = tempfile::tempdir().unwrap();
    let (driver, c) = browser(&tools, profile.path()).await;
    let mut r = Run {
        c,
        web: format!("http://{}", s.web),
        axe: tools.axe.as_deref(),
        problems: Vec::new(),
        checked: 0,
    };

    let outcome = std::panic::AssertUnwindSafe(scenarios(&mut r, &s, &codes, &draw, &alert))
        .catch_unwind()
        .await;
    // The session is ended even after a failure: Chromium outlives a killed chromedriver.
    let closed = r.c.clone().close().await;
    drop(driver);
    s.stop().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
    closed.unwrap();
    if tools.axe.is_some() {
        assert!(r.checked >= 15, "pages checked by axe-core: {}", r.checked);
        assert!(
            r.problems.is_empty(),
            "axe-core found {} serious or critical violation(s):\n{}",
            r.problems.len(),
            r.problems.join("\n")
        );
    }
}

/// The scenarios of issue 13, one after another in one browser session.
async fn scenarios(
    r: &mut Run<'_>,
    s: &Servers,
    codes: &[String],
    draw: &pb::Draw,
    alert: &pb::Alert,
) {
    // The public result page (公示) works without login.
    r.visit("/public/draws/food-2026-11").await;
    assert_eq!(r.h1().await, "抽查结果公示 food-2026-11");
    assert!(r.text("main dl").await.contains("dice 3-1-4-1-5"));
    assert!(r.nav().await.is_empty(), "no navigation without login");
    // Any other page sends the browser to the login page.
    r.goto("/overview").await;
    assert_eq!(r.c.current_url().await.unwrap().path(), "/login");

    // The planner: the overview's numbers are the ReportTiers answer.
    r.login(&s.tokens[&Role::Planner]).await;
    assert_eq!(r.c.current_url().await.unwrap().path(), "/overview");
    r.check().await;
    assert_eq!(
        r.nav().await,
        ["/overview", "/draws", "/warnings", "/rules"],
        "planner"
    );
    let report = pb::classification_service_client::ClassificationServiceClient::new(
        s.as_role(Role::Planner).await,
    )
    .report_tiers(pb::ReportTiersRequest { run_id: 0 })
    .await
    .unwrap()
    .into_inner();
    assert_eq!(row(r, "overall-all").await, counts(&report.overall));
    for d in &report.by_jurisdiction {
        assert_eq!(row(r, &format!("d-{}", d.key)).await, counts(&d.counts));
    }
    for x in &report.by_industry_section {
        assert_eq!(row(r, &format!("s-{}", x.key)).await, counts(&x.counts));
    }
    screenshot(&r.c, "overview").await;
    // English on the switch (checked too), then back to Chinese for the rest.
    r.visit("/overview?lang=en").await;
    assert_eq!(r.h1().await, "Credit-risk tier overview");
    assert_eq!(row(r, "overall-all").await, counts(&report.overall));
    r.goto("/overview?lang=zh").await;
    // A page that does not exist: the error page, checked like the others.
    r.visit("/nowhere").await;
    assert!(r.text("main p[role=alert]").await.contains("/nowhere"));
    r.visit("/draws").await;
    r.visit("/draws/food-2026-11").await;
    r.visit("/warnings").await;
    assert!(r
        .c
        .find(Locator::Css(&format!("a[href='/warnings/{}']", alert.id)))
        .await
        .is_ok());
    screenshot(&r.c, "warnings").await;
    r.visit(&format!("/warnings/{}", alert.id)).await;
    r.visit("/rules").await;
    r.refused("/audit", "planner", "GetSignedHead").await;

    // A name that looks like markup is shown as text, and nothing runs.
    r.visit(&format!("/enterprises/{}", codes[0])).await;
    assert!(
        r.text("main").await.contains(SCRIPT),
        "the name shows as text"
    );
    match r.c.get_alert_text().await {
        Err(e) if e.is_no_such_alert() => {}
        other => panic!("no dialog may open: {other:?}"),
    }
    assert!(r
        .c
        .find_all(Locator::Css("main script"))
        .await
        .unwrap()
        .is_empty());

    // The auditor: the audit page and its checks.
    r.login(&s.tokens[&Role::Auditor]).await;
    assert_eq!(
        r.nav().await,
        ["/overview", "/draws", "/warnings", "/rules", "/audit"],
        "auditor"
    );
    r.visit("/audit").await;
    assert!(r.text("main").await.contains("已用日志公钥验证"));
    r.visit(&format!("/audit?code={}", codes[1])).await;
    assert_eq!(r.text("#verdict").await, "MATCH");
    screenshot(&r.c, "audit").await;
    r.refused("/inspector", "auditor", "ListAssignments").await;

    // The admin sees what planners and auditors see.
    r.login(&s.tokens[&Role::Admin]).await;
    assert_eq!(
        r.nav().await,
        ["/overview", "/draws", "/warnings", "/rules", "/audit"],
        "admin"
    );

    // Ingest reads records but not the tier mix.
    r.login(&s.tokens[&Role::Ingest]).await;
    assert!(r.nav().await.is_empty(), "ingest has no console pages");
    r.refused("/overview", "ingest", "ReportTiers").await;
    r.visit(&format!("/enterprises/{}", codes[1])).await;

    // The inspector of the first enterprise drawn, on a phone.
    let first = &draw.selected[0];
    let team: Vec<String> = first
        .team
        .iter()
        .flat_map(|m| m.inspector_ids.iter().cloned())
        .collect();
    let now = creditrisk::clock::now_ms();
    let t = issue(&s.store, Role::Inspector, &team[0], None, now).await;
    r.c.set_window_size(PHONE_WIDTH, 844).await.unwrap();
    r.login(&t).await;
    assert_eq!(r.c.current_url().await.unwrap().path(), "/inspector");
    r.check().await;
    assert_eq!(r.nav().await, ["/inspector", "/warnings"], "inspector");
    let width: u64 = serde_json::from_value(
        r.c.execute("return document.documentElement.scrollWidth", vec![])
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        width <= u64::from(PHONE_WIDTH),
        "no sideways scrolling on a phone: {width} px"
    );
    let form = format!(
        "form:has(input[name=credit_code][value='{}'])",
        first.credit_code
    );
    // Posted without its CSRF token (the field removed), the form is refused: nothing stored.
    r.c.execute(
        "document.querySelector(arguments[0] + ' input[name=csrf]').remove()",
        vec![Value::String(form.clone())],
    )
    .await
    .unwrap();
    fill_and_submit(r, &form).await;
    assert_eq!(r.h1().await, "请求被拒绝");
    assert!(r.text("main p[role=alert]").await.contains("CSRF"));
    r.check().await;
    let stored = || async {
        DrawServiceClient::new(s.channel(&t).await)
            .list_assignments(pb::ListAssignmentsRequest::default())
            .await
            .unwrap()
            .into_inner()
            .assignments
            .into_iter()
            .find(|a| a.credit_code == first.credit_code)
            .expect("the assignment")
            .result_codes
    };
    assert!(stored().await.is_empty(), "a refused form stores nothing");
    // With its token: stored, as the gRPC view shows.
    r.goto("/inspector").await;
    screenshot(&r.c, "inspector-390px").await;
    fill_and_submit(r, &form).await;
    assert_eq!(r.c.current_url().await.unwrap().path(), "/inspector");
    assert!(r
        .text("main p[role=status]")
        .await
        .contains(&first.credit_code));
    r.check().await;
    assert_eq!(stored().await, ["1"]);
    r.refused("/overview", "inspector", "ReportTiers").await;

    // The public page in English after publication, at desktop width.
    DrawServiceClient::new(s.as_role(Role::Planner).await)
        .publish_results(pb::PublishResultsRequest {
            draw_id: "food-2026-11".into(),
            credit_codes: vec![first.credit_code.clone()],
            published_on: "2026-11-20".into(),
        })
        .await
        .unwrap();
    r.c.delete_all_cookies().await.unwrap();
    r.c.set_window_size(1280, 900).await.unwrap();
    r.visit("/public/draws/food-2026-11").await;
    assert!(r.text("main table").await.contains(&first.credit_code));
    screenshot(&r.c, "public-draw").await;
    r.visit("/login?lang=en").await;
    assert_eq!(r.h1().await, "Log in");

    // The check itself can fail: an input without a label, added to a page, is reported.
    if let Some(axe) = r.axe {
        r.c.execute(
            "document.querySelector('main').append(document.createElement('input'))",
            vec![],
        )
        .await
        .unwrap();
        let found = axe_violations(&r.c, axe).await;
        assert!(
            found.iter().any(|v| v.starts_with("critical label:")),
            "axe-core missed an unlabelled input: {found:?}"
        );
    }
}

/// Ticks result code 1 in `form` and submits it with its button, as a person would.
async fn fill_and_submit(r: &Run<'_>, form: &str) {
    let f = r.c.find(Locator::Css(form)).await.unwrap();
    f.find(Locator::Css("input[name=result][value='1']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let button = f.find(Locator::Css("button[type=submit]")).await.unwrap();
    click_and_wait(&r.c, &button).await;
}

/// Clicks `button` (a form's submit button) and waits until the next page has loaded: the
/// old document is marked first, so a page still showing is never taken for the new one.
async fn click_and_wait(c: &Client, button: &fantoccini::elements::Element) {
    c.execute("window.crOldPage = true", vec![]).await.unwrap();
    button.click().await.unwrap();
    for _ in 0..200 {
        let state = c
            .execute(
                "return window.crOldPage === undefined && document.readyState === 'complete'",
                vec![],
            )
            .await;
        if matches!(state, Ok(Value::Bool(true))) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no new page within 10 s of the click");
}
