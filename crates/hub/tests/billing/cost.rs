//! A meter's cost so far, forecast and insights through the API, each saying what it
//! rests on (registers, intervals, estimates) or why it is missing.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_and_insights_say_what_they_rest_on() {
    let (price_port, _) = price_server("[]".into()).await;
    let hub = Fixture::start(price_port).await;
    let olivia = hub.login("olivia").await;
    for plan in [FLAT, DYNAMIC, SIMPLE] {
        assert_eq!(hub.add_tariff(&olivia, plan).await.status, 201);
    }
    let alice = hub.login("alice").await;
    let cost = hub
        .call(&alice, "GET", "/api/v1/meters/h-3/cost", None)
        .await;
    assert_eq!(cost.status, 200, "{}", cost.body);
    let cost = cost.json();
    // 250 Wh per quarter hour since UTC midnight at 0.20 EUR/kWh: 5 cents a quarter.
    let midnight_s = hub.h3_last_s - hub.h3_last_s.rem_euclid(86_400);
    let quarters_today = (hub.h3_last_s - midnight_s) / Q;
    assert_eq!(cost["today"]["cost_minor"], quarters_today * 5, "{cost}");
    let today_kwh = cost["today"]["import_kwh"].as_f64().expect("kWh");
    assert!(
        (today_kwh - quarters_today as f64 * 0.25).abs() < 1e-9,
        "{cost}"
    );
    // The month so far: every quarter of the two days stored that lies in this month.
    let now = jiff::Timestamp::from_second(hub.h3_last_s).expect("now");
    let utc = jiff::tz::Offset::UTC;
    let month_start = utc.to_datetime(now).date().first_of_month();
    let month_start_s = utc
        .to_timestamp(month_start.to_datetime(jiff::civil::Time::midnight()))
        .expect("month start")
        .as_second();
    let first_s = (hub.h3_last_s - 192 * Q).max(month_start_s);
    let quarters_month = (hub.h3_last_s - first_s) / Q;
    assert_eq!(cost["period"]["cost_minor"], quarters_month * 5, "{cost}");
    assert!(cost["forecast"]["total_minor"].as_i64() >= cost["period"]["cost_minor"].as_i64());
    assert_eq!(
        cost["prices"]["current"]["price_per_kwh"], "0.200000",
        "{cost}"
    );
    assert!(
        cost["based_on"]
            .as_str()
            .unwrap_or_default()
            .contains("register records")
    );
    // Bob may not see alice's cost; a consumer's dynamic meter shows the fallback price.
    let bob = hub.login("bob").await;
    assert_eq!(
        hub.call(&bob, "GET", "/api/v1/meters/h-3/cost", None)
            .await
            .status,
        404
    );
    let dynamic = hub
        .call(&bob, "GET", "/api/v1/meters/h-2/cost", None)
        .await
        .json();
    assert_eq!(
        dynamic["prices"]["current"]["price_per_kwh"], "0.300000",
        "{dynamic}"
    );
    // Day-ahead prices from the next full hour: 0.20, but 0.05 for hours 5 to 7 after it.
    // The cheapest 3 hours and the cheapest 3-hour block are those.
    let next_hour_s = hub.h3_last_s - hub.h3_last_s.rem_euclid(3600) + 3600;
    let at = |s: i64| {
        jiff::Timestamp::from_second(s)
            .expect("instant")
            .to_string()
    };
    let ahead: Vec<serde_json::Value> = (0..24)
        .map(|h| {
            let price = if (5..8).contains(&h) { "0.05" } else { "0.20" };
            let start = next_hour_s + h * 3600;
            serde_json::json!({"start": at(start), "end": at(start + 3600), "price_per_kwh": price})
        })
        .collect();
    let body = serde_json::Value::Array(ahead).to_string();
    let stored = hub
        .call(&olivia, "POST", "/api/v1/prices/epex", Some(&body))
        .await;
    assert_eq!(stored.status, 200, "{}", stored.body);
    let dynamic = hub
        .call(&bob, "GET", "/api/v1/meters/h-2/cost", None)
        .await
        .json();
    let cheap = &dynamic["prices"]["cheapest_hours"];
    assert_eq!(cheap.as_array().map(Vec::len), Some(1), "{dynamic}");
    assert_eq!(cheap[0]["start"], at(next_hour_s + 5 * 3600));
    assert_eq!(cheap[0]["end"], at(next_hour_s + 8 * 3600));
    assert_eq!(cheap[0]["price_per_kwh"], "0.050000");
    let block = &dynamic["prices"]["cheapest_block"];
    assert_eq!(block["start"], at(next_hour_s + 5 * 3600), "{dynamic}");
    assert_eq!(block["average_price_per_kwh"], "0.050000");

    // h-3's cost per hour on the flat 0.20 EUR/kWh with nothing else: 1 kWh an hour is
    // 20 cents; a day of hours is 24 buckets; minutes are refused, days summed.
    let first_hour_s = hub.h3_last_s - 100 * Q;
    let first_hour_s = first_hour_s - first_hour_s.rem_euclid(3600) + 3600;
    let hours = format!(
        "/api/v1/meters/h-3/cost/series?from_ms={}&to_ms={}&resolution=hour",
        first_hour_s * 1000,
        (first_hour_s + 6 * 3600) * 1000
    );
    let costs = hub.call(&alice, "GET", &hours, None).await;
    assert_eq!(costs.status, 200, "{}", costs.body);
    let costs = costs.json();
    let points = costs["points"].as_array().expect("points");
    assert_eq!(points.len(), 6, "{costs}");
    for (k, point) in (0..).zip(points) {
        assert_eq!(point["ts_ms"], (first_hour_s + k * 3600) * 1000, "{point}");
        assert_eq!(point["end_ms"], (first_hour_s + (k + 1) * 3600) * 1000);
        assert_eq!(point["cost_minor"], 20, "{point}");
        assert!((point["import_kwh"].as_f64().expect("kWh") - 1.0).abs() < 1e-9);
    }
    assert_eq!(costs["total_minor"], 120);
    assert!(costs["note"].is_null(), "{costs}");
    assert_eq!(hub.call(&bob, "GET", &hours, None).await.status, 404);
    let minutes = hours.replace("resolution=hour", "resolution=minute");
    assert_eq!(hub.call(&alice, "GET", &minutes, None).await.status, 400);
    let year = format!(
        "/api/v1/meters/h-3/cost/series?from_ms=0&to_ms={}&resolution=hour",
        365 * 86_400_000_i64
    );
    assert_eq!(hub.call(&alice, "GET", &year, None).await.status, 400);
    let days = format!(
        "/api/v1/meters/h-3/cost/series?from_ms={}&to_ms={}&resolution=day",
        (hub.h3_last_s - 192 * Q) * 1000,
        hub.h3_last_s * 1000
    );
    let days = hub.call(&alice, "GET", &days, None).await.json();
    // 193 records, 192 quarters of 250 Wh between them: 192 × 5 cents over 2 or 3 days.
    assert_eq!(days["total_minor"], 192 * 5, "{days}");
    assert_eq!(days["bucket_ms"], 86_400_000);

    let insights = hub
        .call(&alice, "GET", "/api/v1/meters/h-3/insights?days=7", None)
        .await;
    assert_eq!(insights.status, 200, "{}", insights.body);
    let insights = insights.json();
    let list = insights["insights"].as_array().expect("a list");
    let find = |kind: &str| {
        list.iter()
            .find(|i| i["kind"] == kind)
            .unwrap_or_else(|| panic!("{kind} in {insights}"))
            .clone()
    };
    // 1 kW for 192 quarters: 48 kWh at 400 g/kWh is 19.2 kg.
    let carbon = find("carbon");
    assert!(
        (carbon["value"]["import_kwh"].as_f64().expect("kWh") - 48.0).abs() < 1e-9,
        "{carbon}"
    );
    assert!(
        (carbon["value"]["import_kg"].as_f64().expect("kg") - 19.2).abs() < 1e-9,
        "{carbon}"
    );
    assert_eq!(carbon["value"]["basis"]["used"], 192);
    let peak = find("peak_hours");
    assert!(peak["value"]["basis"]["method"].is_string(), "{peak}");
    // Without 1-second readings there are no appliance events, and it says so.
    let appliances = find("appliances");
    assert!(appliances["value"].is_null());
    assert!(
        appliances["unavailable"]
            .as_str()
            .unwrap_or_default()
            .contains("1-second")
    );
    for insight in list {
        assert!(
            insight["value"]["basis"].is_object() || insight["unavailable"].is_string(),
            "every insight has a basis or a reason: {insight}"
        );
    }
    hub.stop().await;
}
