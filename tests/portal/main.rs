//! The web portal end to end in headless chromium, against a real `joule hub` (embedded
//! broker, SQLite) with two real `joule meter` processes metering simulated households:
//! a consumer sees live power change and a week of history, their costs and insights, opens
//! a bill of June 2026 billed by `joule billing run`, and cannot reach another consumer's
//! meter by link or by API; an operator disconnects a
//! meter (confirmed, with a reason), sees its power drop to zero and its switch open, and
//! reconnects it, then bills June again from the billing runs page and opens the run's
//! bills; an admin finds the reason in the audit log and adds a tariff plan. The history
//! chart shows the cost of each hour. No page logs a console error, and every main page
//! is saved as a screenshot in `target/e2e-screenshots/`.

mod billing;
mod browser;
#[path = "../common/mod.rs"]
mod common;

use browser::Browser;
use common::HubProcess;
use joule_testkit::Process;
use std::path::Path;

const ALICE: (&str, &str) = ("alice", "alice-password-1");
const BOB: (&str, &str) = ("bob", "bob-password-12");
const OLIVIA: (&str, &str) = ("olivia", "olivia-password");
const ADAM: (&str, &str) = ("adam", "adam-password-1");

/// Scrolls the history chart into the middle of the window (for its screenshot).
const SHOW_CHART: &str =
    "document.getElementById('history-chart').scrollIntoView({ block: 'center' });";

/// Starts `joule meter` for meter `id` with its token, metering a simulated household.
/// Interval records every 10 s, so the history has priced intervals within seconds.
fn start_meter(dir: &Path, broker_port: u16, id: &str, token: &str, seed: u32) -> Process {
    let config = common::MeterToml {
        meter: "interval_s = 10",
        source: &format!("kind = \"simulated\"\nseed = {seed}"),
        ..common::MeterToml::default()
    }
    .write(dir, id, &format!("mqtt://127.0.0.1:{broker_port}"), token);
    Process(common::start_meter(&config))
}

/// The plan alice's meters are on: 0.25 EUR/kWh.
const FLAT_PLAN: &str = "name = \"flat\"\ncurrency = \"EUR\"\ntime_zone = \"UTC\"\n\n\
    [[versions]]\neffective_from = 2026-01-01\nimport = { kind = \"flat\", price_per_kwh = 0.25 }\n";

/// The power the meter page shows, W (+ import), from its live reading.
async fn live_watts(browser: &Browser) -> Option<f64> {
    browser
        .attribute("#live-power", "data-watts")
        .await?
        .parse()
        .ok()
}

/// Adds an alert rule on the alerts page: voltage outside 0–1 V, which a meter's mains
/// voltage always is.
async fn add_voltage_rule(browser: &Browser, name: &str) {
    browser.click("#add-rule summary").await;
    browser.type_into("#rule-name", name).await;
    browser
        .run(
            "const s = document.querySelector('#rule-condition'); \
              s.value = 'voltage_out_of_range'; s.dispatchEvent(new Event('change'));",
        )
        .await;
    browser.type_into("#rule-min_v", "0").await;
    browser.type_into("#rule-max_v", "1").await;
    browser.click("#rule-form button[type=submit]").await;
}

/// Presses the page's Refresh button until the text of `css` passes `test`.
async fn refresh_until(browser: &Browser, css: &str, test: impl Fn(&str) -> bool) {
    browser
        .wait_until(css, || async {
            browser.click("main .sub button").await;
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            browser.text(css).await.filter(|t| test(t))
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_and_operators_use_the_portal_in_a_real_browser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = HubProcess {
        store: dir.path().join("hub.sqlite"),
        port: joule_testkit::free_port(),
    };
    for (user, role) in [
        (ALICE, "consumer"),
        (BOB, "consumer"),
        (OLIVIA, "operator"),
        (ADAM, "admin"),
    ] {
        hub.add_user(user.0, role, user.1);
    }
    let plan = dir.path().join("flat.toml");
    std::fs::write(&plan, FLAT_PLAN).expect("plan file");
    let added = hub
        .command()
        .args(["tariffs", "add", plan.to_str().expect("path")])
        .output()
        .expect("tariffs add");
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let alice_token = hub.add_meter_with(
        "a-1",
        &[
            "--owner",
            "alice",
            "--name",
            "Alice's flat",
            "--feeder",
            "F1",
            "--transformer",
            "T1",
            "--tariff",
            "flat",
        ],
    );
    let bob_token = hub.add_meter_with(
        "b-1",
        &[
            "--owner",
            "bob",
            "--name",
            "Bob's house",
            "--feeder",
            "F2",
            "--transformer",
            "T1",
        ],
    );
    let http_port = joule_testkit::free_port();
    let _hub = Process(hub.start_serving(http_port));
    let _meters = [
        start_meter(dir.path(), hub.port, "a-1", &alice_token, 7),
        start_meter(dir.path(), hub.port, "b-1", &bob_token, 8),
    ];
    let browser = Browser::start(format!("http://127.0.0.1:{http_port}")).await;

    // 1. A consumer logs in and lands on their meter: live power changes over time.
    browser.login(ALICE.0, ALICE.1).await;
    browser.wait_text("h1", |t| t == "Alice's flat").await;
    assert_eq!(browser.path().await, "/portal/meters/a-1");
    let first = browser
        .wait_until("a live reading", || live_watts(&browser))
        .await;
    let shown = browser.text("#live-power").await.unwrap_or_default();
    assert!(
        shown.ends_with(" W") || shown.ends_with(" kW"),
        "power has a unit: {shown}"
    );
    let second = browser
        .wait_until("the live power to change", || async {
            live_watts(&browser).await.filter(|w| *w != first)
        })
        .await;
    assert_ne!(first, second);
    browser
        .wait_text("#today-import", |t| t.ends_with("Wh"))
        .await;
    browser
        .wait_text("#meter-relay", |t| t == "Connected")
        .await;
    browser.screenshot("consumer-meter").await;
    browser
        .assert_no_console_errors("the consumer's meter page")
        .await;

    // A phone-sized window gets the same page, stacked.
    browser.resize(390, 844).await;
    browser.screenshot("consumer-meter-phone").await;
    browser.resize(1280, 1000).await;

    // A week of history: the chart has data points.
    browser.click("nav.tabs a[href$='/history']").await;
    let points = browser
        .wait_until("the week's chart", || async {
            let points: usize = browser
                .attribute("#history-chart", "data-points")
                .await?
                .parse()
                .ok()?;
            (points > 0).then_some(points)
        })
        .await;
    assert!(points > 0);
    browser.wait_for("#history-chart canvas").await;
    assert_eq!(
        browser
            .attribute("button[data-span='604800000']", "aria-pressed")
            .await
            .as_deref(),
        Some("true"),
        "the week is selected"
    );
    billing::cost_overlay(&browser).await;
    browser.run(SHOW_CHART).await;
    browser.screenshot("consumer-history-week").await;
    // The last hour: every reading (shown again until it holds ten seconds of them).
    browser
        .wait_until("ten readings in the last hour", || async {
            browser.click("button[data-span='3600000']").await;
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            let points: usize = browser
                .attribute("#history-chart", "data-points")
                .await?
                .parse()
                .ok()?;
            (points >= 10).then_some(())
        })
        .await;
    browser
        .wait_text("main .facts", |t| t.contains("every reading"))
        .await;
    browser.wait_for("#history-chart canvas").await;
    browser.run(SHOW_CHART).await;
    browser.screenshot("consumer-history-hour").await;
    // Dragging across the newest minutes zooms in on them, fetched again.
    browser
        .drag_across("#history-chart .u-over", 0.97, 0.999)
        .await;
    browser
        .wait_until("the zoomed chart", || async {
            let pressed = browser
                .attribute("button[data-span='3600000']", "aria-pressed")
                .await;
            let points: usize = browser
                .attribute("#history-chart", "data-points")
                .await?
                .parse()
                .ok()?;
            (pressed.as_deref() == Some("false") && points >= 3).then_some(())
        })
        .await;
    browser.run(SHOW_CHART).await;
    browser.screenshot("consumer-history-zoomed").await;
    browser.assert_no_console_errors("the history page").await;

    // Bills: alice's garage meter gets June 2026 billed (720 kWh at 0.25 EUR); she sees
    // today's cost of her flat, opens the bill and finds its printable version.
    hub.add_meter_with(
        "a-2",
        &[
            "--owner",
            "alice",
            "--name",
            "Alice's garage",
            "--tariff",
            "flat",
        ],
    );
    common::store_june(&hub.store, "a-2").await;
    let billed = hub
        .command()
        .args(["billing", "run", "--period", "2026-06"])
        .output()
        .expect("billing run");
    assert!(
        billed.status.success(),
        "{}",
        String::from_utf8_lossy(&billed.stderr)
    );
    browser.click("#nav a[href='/portal/bills']").await;
    browser
        .wait_text("section[data-meter='a-1'] #today-cost", |t| t.contains('€'))
        .await;
    browser
        .wait_text("section[data-meter='a-1'] #price-now", |t| {
            t.contains("0.2500") && t.ends_with("/kWh")
        })
        .await;
    browser
        .wait_text("section[data-meter='a-2'] table tbody", |t| {
            t.contains("June 2026") && t.contains("180.00") && t.contains("Final")
        })
        .await;
    let page = browser.text("main").await.unwrap_or_default();
    assert!(
        !page.contains("NaN") && !page.contains("undefined"),
        "every number shows: {page}"
    );
    browser.screenshot("consumer-bills").await;
    browser
        .click("section[data-meter='a-2'] table tbody a[href^='/portal/bills/a-2/']")
        .await;
    browser
        .wait_text("#bill-total", |t| t.contains("180.00") && t.contains('€'))
        .await;
    browser
        .wait_text("main table tbody", |t| t.contains("720.000 kWh"))
        .await;
    let print = browser
        .attribute("#bill-print", "href")
        .await
        .expect("a printable link");
    let printed = browser
        .run(&format!(
            "return fetch('{print}').then((r) => r.text().then((t) => [r.status, t.includes('180.00')]));"
        ))
        .await;
    assert_eq!(printed, serde_json::json!([200, true]));
    browser.screenshot("consumer-bill").await;
    browser.assert_no_console_errors("the bills pages").await;

    // Insights: each says what it rests on, or why it is missing.
    browser.click("#nav a[href='/portal/insights']").await;
    browser
        .wait_text("main [data-kind='carbon']", |t| !t.is_empty())
        .await;
    let page = browser.text("main").await.unwrap_or_default();
    assert!(
        !page.contains("NaN") && !page.contains("undefined"),
        "every number shows: {page}"
    );
    browser.screenshot("consumer-insights").await;
    browser.assert_no_console_errors("the insights page").await;

    // Alerts: where to send them, a rule with its thresholds in volts, the alert it raises
    // (the meter's ~230 V is outside 0–1 V) acknowledged from the list.
    browser.click("#nav a[href='/portal/alerts']").await;
    browser.wait_text("h1", |t| t == "Alerts").await;
    browser
        .type_into("#settings-email", "alice@example.org")
        .await;
    browser
        .click("#notification-settings button[type=submit]")
        .await;
    browser
        .wait_text("#settings-message", |t| t == "Saved.")
        .await;
    add_voltage_rule(&browser, "Voltage check").await;
    browser
        .wait_text("#rule-list tbody", |t| t.contains("Voltage outside 0–1 V"))
        .await;
    refresh_until(&browser, "#alert-list tbody", |t| {
        t.contains("Voltage out of range") && t.contains("Open")
    })
    .await;
    browser.click("#alert-list [data-ack]").await;
    browser
        .wait_text("#alert-list tbody", |t| t.contains("Acknowledged"))
        .await;
    browser.screenshot("consumer-alerts").await;
    browser.assert_no_console_errors("the alerts page").await;

    // 2. Another consumer's meter: not found by link, 404 from the API.
    browser.open("/portal/meters/b-1").await;
    browser.wait_text("h1", |t| t == "Meter not found").await;
    let body = browser.text("main").await.unwrap_or_default();
    assert!(
        !body.contains("Bob's house"),
        "nothing of bob's meter shows: {body}"
    );
    browser.screenshot("consumer-foreign-meter").await;
    let statuses = browser
        .run(
            "return Promise.all(['/api/v1/meters/b-1', '/api/v1/meters/b-1/latest', \
             '/api/v1/meters/b-1/series', '/api/v1/meters/b-1/live']\
             .map((path) => fetch(path).then((r) => r.status)));",
        )
        .await;
    assert_eq!(statuses, serde_json::json!([404, 404, 404, 404]));
    // The refused requests are logged (which shows the console check sees errors), and
    // they are the only errors here.
    let logged = browser.console_errors().await;
    assert!(
        !logged.is_empty() && logged.iter().all(|e| e.contains("status of 404")),
        "only the refused requests are logged: {logged:#?}"
    );
    // A session that ends (here: its cookie is gone) sends the next request to the login
    // page, which brings the user back afterwards.
    browser.delete_cookie("joule_session").await;
    browser.click("#nav a[href='/portal/']").await;
    browser.wait_for("form.login").await;
    assert_eq!(browser.path().await, "/portal/login");
    assert_eq!(
        browser.run("return location.search;").await,
        "?next=%2Fportal%2F",
        "the login page knows where to return"
    );
    let logged = browser.console_errors().await;
    assert!(
        logged.iter().all(|e| e.contains("status of 401")),
        "only the refused request is logged: {logged:#?}"
    );

    // 3. An operator: the fleet, then disconnecting and reconnecting bob's meter.
    browser.login(OLIVIA.0, OLIVIA.1).await;
    assert_eq!(browser.path().await, "/portal/fleet");
    browser.wait_text("#fleet-online", |t| t == "2").await;
    browser.wait_text("#live-state", |t| t == "live").await;
    browser.screenshot("operator-fleet").await;
    browser.assert_no_console_errors("the fleet page").await;

    browser.click("#nav a[href='/portal/meters']").await;
    browser.type_into("#meter-search", "bob").await;
    browser.click("form[role=search] button").await;
    browser
        .wait_text("main table tbody", |t| {
            t.contains("b-1") && !t.contains("a-1")
        })
        .await;
    browser.screenshot("operator-meters").await;
    browser
        .click("main table a[href='/portal/meters/b-1']")
        .await;
    browser
        .wait_text("#meter-relay", |t| t == "Connected")
        .await;
    browser
        .wait_until("power drawn by bob's house", || async {
            live_watts(&browser).await.filter(|w| w.abs() > 5.0)
        })
        .await;

    // Disconnect: the confirmation needs a reason.
    browser.click("#disconnect").await;
    browser.wait_for("dialog[open] #confirm-reason").await;
    browser.click("dialog[open] button[value=confirm]").await;
    assert!(
        browser.attribute("dialog.confirm", "open").await.is_some(),
        "without a reason the dialog stays open"
    );
    browser
        .type_into("#confirm-reason", "e2e: unpaid bill")
        .await;
    browser.click("dialog[open] button[value=confirm]").await;
    browser
        .wait_text("#meter-relay", |t| t == "Disconnected")
        .await;
    browser
        .wait_text("#command-relay", |t| t == "Disconnected")
        .await;
    let off = browser
        .wait_until("the power to drop to zero", || async {
            live_watts(&browser).await.filter(|w| w.abs() < 5.0)
        })
        .await;
    assert!(off.abs() < 5.0);
    browser
        .wait_text("main table .status", |t| t == "Done")
        .await;
    browser.screenshot("operator-meter-disconnected").await;

    // Reconnect.
    browser.click("#reconnect").await;
    browser.type_into("#confirm-reason", "e2e: bill paid").await;
    browser.click("dialog[open] button[value=confirm]").await;
    browser
        .wait_text("#meter-relay", |t| t == "Connected")
        .await;
    browser
        .wait_until("power again after reconnecting", || async {
            live_watts(&browser).await.filter(|w| w.abs() > 5.0)
        })
        .await;
    browser.screenshot("operator-meter-reconnected").await;

    // A load limit and a tariff schedule, each carried out by the meter.
    browser.click("#load-limit summary").await;
    browser.type_into("#limit-w", "100000").await;
    browser.click("#load-limit button[type=submit]").await;
    browser
        .wait_text("#command-list tbody tr:first-child", |t| {
            t.contains("Load limit 100.00 kW") && t.contains("Done")
        })
        .await;
    browser.click("#tariff-schedule summary").await;
    browser.click("#tariff-schedule button[type=submit]").await;
    browser
        .wait_text("#command-list tbody tr:first-child", |t| {
            t.contains("Tariff schedule (2 switches") && t.contains("Done")
        })
        .await;
    browser
        .assert_no_console_errors("the operator's meter page")
        .await;

    browser.click("#nav a[href='/portal/events']").await;
    browser
        .wait_text("main table tbody", |t| t.contains("Relay"))
        .await;
    browser.screenshot("operator-events").await;
    browser.assert_no_console_errors("the events page").await;

    // An operator's rule watches the fleet; its alarms are acknowledged in the events view.
    browser.click("#nav a[href='/portal/alerts']").await;
    add_voltage_rule(&browser, "Fleet voltage").await;
    browser
        .wait_text("#rule-list tbody", |t| t.contains("All of yours"))
        .await;
    browser.click("#nav a[href='/portal/events']").await;
    refresh_until(&browser, "#alarm-list tbody", |t| {
        t.contains("a-1") && t.contains("b-1")
    })
    .await;
    browser.click("#alarm-list [data-ack]").await;
    browser
        .wait_text("#alarm-message", |t| t.contains("acknowledged"))
        .await;
    browser
        .wait_text("#alarm-list tbody", |t| t.contains("Acknowledged"))
        .await;
    browser.screenshot("operator-alarms").await;
    browser
        .assert_no_console_errors("the events page with alarms")
        .await;
    billing::rerun_june(&browser).await;
    browser.logout().await;

    // An admin: the audit log has both reasons; users can be listed.
    browser.login(ADAM.0, ADAM.1).await;
    browser.click("#nav a[href='/portal/audit']").await;
    browser
        .wait_text("main table tbody", |t| {
            t.contains("e2e: unpaid bill") && t.contains("e2e: bill paid")
        })
        .await;
    browser.screenshot("admin-audit").await;
    browser.click("#nav a[href='/portal/users']").await;
    browser
        .wait_text("main table tbody", |t| t.contains("olivia"))
        .await;
    browser.screenshot("admin-users").await;
    browser.assert_no_console_errors("the admin pages").await;
    billing::add_plan(&browser).await;
    browser.logout().await;
    browser.screenshot("login").await;
    browser.assert_no_console_errors("the login page").await;
    browser.close().await;
}
