//! The portal's billing steps: the cost overlay of a consumer's history chart, an
//! operator's billing run (a closed month billed again after the confirmation) and its
//! bills, and an admin's new tariff plan (a broken one first, refused with its line; a
//! change of its price in force refused too).

use crate::browser::Browser;

/// A plan an admin adds on the tariffs page.
const NIGHT_PLAN: &str = "name = \"night-saver\"\ncurrency = \"EUR\"\ntime_zone = \"UTC\"\n\n\
    [[versions]]\neffective_from = 2026-01-01\nimport = { kind = \"flat\", price_per_kwh = 0.18 }\n";

/// Whether `text` is an amount in euros with cents (`€0.03`, `0,03 €`).
fn euros(text: &str) -> bool {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    text.contains('€') && digits.len() >= 3 && !text.contains("NaN")
}

/// On a meter's history page: the week's chart gets the cost of each hour as a series of
/// its own, with amounts in euros (pressing Week again until an interval record is priced).
pub(crate) async fn cost_overlay(browser: &Browser) {
    let priced = browser
        .wait_until("a priced hour on the chart", || async {
            browser.click("button[data-span='604800000']").await;
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            let priced: usize = browser
                .attribute("#history-chart", "data-cost-points")
                .await?
                .parse()
                .ok()?;
            (priced > 0).then_some(priced)
        })
        .await;
    assert!(priced > 0);
    let total = browser.wait_text("#history-cost", euros).await;
    assert!(total.contains("plan “flat”"), "{total}");
    let legend = browser
        .text("#history-chart .u-legend")
        .await
        .unwrap_or_default();
    assert!(legend.contains("Cost per hour"), "{legend}");
    // The cursor on the newest hour shows its cost in the legend.
    let cost = browser
        .wait_until("the newest hour's cost in the legend", || async {
            for fraction in [0.999, 0.997, 0.995, 0.99] {
                browser.hover("#history-chart .u-over", fraction).await;
                let value = browser
                    .run(
                        "const row = [...document.querySelectorAll('#history-chart .u-legend .u-series')]\
                         .find((r) => r.textContent.includes('Cost per hour'));\
                         return row ? row.querySelector('.u-value').textContent : '';",
                    )
                    .await;
                if let Some(text) = value.as_str().filter(|t| euros(t)) {
                    return Some(text.to_owned());
                }
            }
            None
        })
        .await;
    assert!(euros(&cost), "{cost}");
}

/// An operator bills June 2026 again from the billing runs page: the month is closed, so
/// the page asks first; the run completes and its bills open. The refused first request
/// is the only console error.
pub(crate) async fn rerun_june(browser: &Browser) {
    browser.click("#nav a[href='/portal/billing']").await;
    browser
        .wait_text("main table tbody", |t| t.contains("June 2026"))
        .await;
    browser
        .run(
            "const input = document.getElementById('run-period'); input.value = '2026-06'; \
             input.dispatchEvent(new Event('change'));",
        )
        .await;
    browser.click("#run-form button[type=submit]").await;
    browser
        .wait_text("dialog[open] h2", |t| t == "Bill June 2026 again?")
        .await;
    browser.screenshot("operator-billing-rerun").await;
    browser.click("dialog[open] button[value=confirm]").await;
    browser
        .wait_text("#run-message", |t| t.contains("started for June 2026"))
        .await;
    browser
        .wait_text("main table tbody tr:first-child", |t| {
            t.contains("June 2026") && t.contains("Done") && t.contains("2 of 2 meters")
        })
        .await;
    let row = browser
        .text("main table tbody tr:first-child")
        .await
        .unwrap_or_default();
    assert!(row.contains("billed") && row.contains("180.00"), "{row}");
    browser.screenshot("operator-billing-runs").await;
    let logged = browser.console_errors().await;
    assert!(
        !logged.is_empty() && logged.iter().all(|e| e.contains("status of 409")),
        "only the refused first request is logged: {logged:#?}"
    );

    browser
        .click("main table tbody tr:first-child a[href^='/portal/billing/']")
        .await;
    browser
        .wait_text("#run-total", |t| t.contains("180.00") && t.contains('€'))
        .await;
    browser
        .wait_text("main table tbody", |t| {
            t.contains("a-1") && t.contains("a-2") && t.contains("Final")
        })
        .await;
    browser.screenshot("operator-billing-run").await;
    browser
        .click("main table tbody a.open-bill[href^='/portal/bills/a-2/']")
        .await;
    browser
        .wait_text("#bill-total", |t| t.contains("180.00") && t.contains('€'))
        .await;
    browser
        .assert_no_console_errors("the billing run and its bill")
        .await;
}

/// An admin adds a tariff plan by pasting its TOML: a misspelt price kind is refused with
/// its line, the corrected plan is listed with its version, and replacing it with another
/// price in force is refused as retroactive.
pub(crate) async fn add_plan(browser: &Browser) {
    browser.click("#nav a[href='/portal/tariffs']").await;
    browser
        .wait_text("main table tbody", |t| t.contains("flat"))
        .await;
    let broken = NIGHT_PLAN.replace("\"flat\"", "\"flatt\"");
    browser.type_into("#tariff-toml", &broken).await;
    browser.click("#tariff-form button[type=submit]").await;
    let refused = browser
        .wait_text("#tariff-message", |t| t.contains("not valid"))
        .await;
    assert!(
        refused.contains("line 7") && refused.contains("flatt"),
        "the refusal names the line and the mistake: {refused}"
    );
    browser.screenshot("admin-tariff-refused").await;
    let logged = browser.console_errors().await;
    assert!(
        logged.iter().all(|e| e.contains("status of 400")),
        "only the refused plan is logged: {logged:#?}"
    );
    browser
        .run("document.getElementById('tariff-toml').value = '';")
        .await;
    browser.type_into("#tariff-toml", NIGHT_PLAN).await;
    browser.click("#tariff-form button[type=submit]").await;
    browser
        .wait_text("#tariff-message", |t| {
            t.contains("Added plan “night-saver”")
        })
        .await;
    browser
        .wait_text("main table tbody", |t| {
            t.contains("night-saver") && t.contains("2026-01-01")
        })
        .await;
    browser.screenshot("admin-tariffs").await;
    browser.assert_no_console_errors("the tariffs page").await;

    // Its price is in force since January: a replacement that changes it is refused.
    browser
        .click("main table tbody tr:nth-child(2) .actions button:last-child")
        .await;
    assert_eq!(
        browser
            .run("return document.getElementById('tariff-target').value;")
            .await,
        "night-saver",
        "the form replaces the plan chosen"
    );
    browser
        .run(
            "const t = document.getElementById('tariff-toml');              t.value = t.value.replace('0.18', '0.17');",
        )
        .await;
    browser.click("#tariff-form button[type=submit]").await;
    let refused = browser
        .wait_text("#tariff-message", |t| t.contains("already in force"))
        .await;
    assert!(refused.contains("retroactive"), "{refused}");
    browser.screenshot("admin-tariff-retroactive").await;
    let logged = browser.console_errors().await;
    assert!(
        !logged.is_empty() && logged.iter().all(|e| e.contains("status of 409")),
        "only the refused replacement is logged: {logged:#?}"
    );
}
