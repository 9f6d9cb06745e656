//! The access matrix: every route of the OpenAPI document, asked by each kind of caller,
//! answers as its row says (a route without a row fails the test).

use super::*;

/// Who may do what, by kind of route.
#[derive(Debug, Clone, Copy)]
enum Access {
    /// Anyone.
    Public,
    /// Any logged-in user.
    User,
    /// Consumers on their own meters (others' are not found); operators and admins.
    MeterReader,
    /// Operators and admins.
    Operator,
    /// Admins.
    Admin,
    /// The owner only (alice's rules and alerts); anyone else's is not found.
    Own,
}

/// The matrix: every route's access, and a body that an allowed caller's request succeeds
/// with. A route missing here fails the test.
fn route(method: &str, path: &str, n: u32) -> Option<(Access, Option<String>)> {
    let fresh = format!("x-{n}");
    Some(match (method, path) {
        ("get", "/healthz" | "/metrics" | "/api/v1/openapi.json") => (Access::Public, None),
        ("post", "/api/v1/auth/login") => (
            Access::Public,
            Some(format!(
                r#"{{"username":"carol","password":"{}"}}"#,
                password("carol")
            )),
        ),
        ("get", "/api/v1/auth/me") | ("post", "/api/v1/auth/logout") => (Access::User, None),
        ("post", "/api/v1/auth/tokens") => (Access::User, Some(r#"{"name":"script"}"#.into())),
        ("put", "/api/v1/auth/password") => (Access::User, Some(String::new())),
        ("get", "/api/v1/meters") => (Access::User, None),
        ("post", "/api/v1/meters") => (Access::Admin, Some(format!(r#"{{"id":"{fresh}"}}"#))),
        (
            "get",
            "/api/v1/meters/{id}"
            | "/api/v1/meters/{id}/latest"
            | "/api/v1/meters/{id}/series"
            | "/api/v1/meters/{id}/export.csv"
            | "/api/v1/meters/{id}/intervals"
            | "/api/v1/meters/{id}/events"
            | "/api/v1/meters/{id}/gaps"
            | "/api/v1/meters/{id}/live",
        ) => (Access::MeterReader, None),
        ("post", "/api/v1/meters/{id}/revoke") => (Access::Admin, None),
        ("put", "/api/v1/meters/{id}/owner") => {
            (Access::Admin, Some(r#"{"owner":"alice"}"#.into()))
        }
        ("get", "/api/v1/meters/{id}/commands") => (Access::Operator, None),
        ("post", "/api/v1/meters/{id}/commands") => (
            Access::Operator,
            Some(r#"{"action":{"type":"reconnect","reason":"paid"}}"#.into()),
        ),
        ("get", "/api/v1/commands/{command_id}") => (Access::Operator, None),
        (
            "get",
            "/api/v1/fleet" | "/api/v1/fleet/live" | "/api/v1/events" | "/api/v1/dead-letters",
        ) => (Access::Operator, None),
        ("get", "/api/v1/users" | "/api/v1/audit") => (Access::Admin, None),
        ("post", "/api/v1/users") => (
            Access::Admin,
            Some(format!(
                r#"{{"username":"{fresh}","role":"consumer","password":"long enough pw"}}"#
            )),
        ),
        (
            "get",
            "/api/v1/tariffs"
            | "/api/v1/tariffs/{name}"
            | "/api/v1/billing/runs"
            | "/api/v1/billing/runs/{run_id}"
            | "/api/v1/billing/runs/{run_id}/bills",
        ) => (Access::Operator, None),
        ("post", "/api/v1/tariffs") => (Access::Operator, Some(plan_body(&fresh))),
        ("put", "/api/v1/tariffs/{name}") => (Access::Operator, Some(plan_body("flat"))),
        ("delete", "/api/v1/tariffs/{name}") => (Access::Operator, None),
        ("post", "/api/v1/prices/{market}") => (
            Access::Operator,
            Some(
                r#"[{"start":"2026-06-01T00:00:00Z","end":"2026-06-01T01:00:00Z","price_per_kwh":0.1}]"#
                    .into(),
            ),
        ),
        ("get", "/api/v1/prices/{market}") => (Access::User, None),
        ("post", "/api/v1/billing/runs") => (
            Access::Operator,
            Some(format!(r#"{{"period":"{}-01"}}"#, 2000 + n % 100)),
        ),
        (
            "get",
            "/api/v1/meters/{id}/bills"
            | "/api/v1/meters/{id}/bills/{bill_id}"
            | "/api/v1/meters/{id}/bills/{bill_id}/html"
            | "/api/v1/meters/{id}/cost"
            | "/api/v1/meters/{id}/cost/series"
            | "/api/v1/meters/{id}/insights",
        ) => (Access::MeterReader, None),
        ("put", "/api/v1/users/{username}/password") => (
            Access::Admin,
            Some(r#"{"password":"another long pw"}"#.into()),
        ),
        ("get", "/api/v1/alert-rules" | "/api/v1/alerts" | "/api/v1/automations")
        | ("get" | "put", "/api/v1/notification-settings") => (Access::User, Some("{}".into())),
        ("post", "/api/v1/alert-rules") => (Access::User, Some(ALERT_RULE.into())),
        ("get" | "delete", "/api/v1/alert-rules/{rule_id}") => (Access::Own, None),
        ("put", "/api/v1/alert-rules/{rule_id}") => (Access::Own, Some(ALERT_RULE.into())),
        ("post", "/api/v1/alerts/{alert_id}/ack" | "/api/v1/alerts/{alert_id}/resolve")
        | ("get", "/api/v1/alerts/{alert_id}/deliveries") => (Access::Own, None),
        ("post", "/api/v1/automations") => (Access::User, Some(AUTOMATION.into())),
        ("get" | "delete", "/api/v1/automations/{rule_id}")
        | ("post", "/api/v1/automations/{rule_id}/dry-run")
        | ("get", "/api/v1/automations/{rule_id}/runs") => (Access::Own, None),
        ("put", "/api/v1/automations/{rule_id}") => (Access::Own, Some(AUTOMATION.into())),
        ("get", "/api/v1/dr-events") | ("delete", "/api/v1/dr-events/{event_id}") => {
            (Access::Operator, None)
        }
        ("post", "/api/v1/dr-events") => (Access::Operator, Some(DR_EVENT.into())),
        _ => return None,
    })
}

/// An alert rule any user may create.
const ALERT_RULE: &str = r#"{"name":"offline","condition":{"type":"offline","for_s":600}}"#;
/// An automation rule any user may create (a webhook reaches no device).
const AUTOMATION: &str = r#"{"name":"tell me","trigger":{"type":"schedule","at":"07:00"},
    "actions":[{"type":"webhook","url":"http://127.0.0.1:9/hook"}],"dry_run":true}"#;
/// A demand-response event.
const DR_EVENT: &str =
    r#"{"name":"peak","start_ms":4102444800000,"end_ms":4102448400000,"feeder":"F1"}"#;

fn expected(access: Access, caller: Caller) -> u16 {
    use Caller::*;
    match (access, caller) {
        (Access::Public, _) => 200,
        (_, Anonymous | Device) => 401,
        (Access::Own, ConsumerA) => 200,
        (Access::Own, _) => 404,
        (Access::User | Access::MeterReader, ConsumerA) => 200,
        (Access::User, ConsumerB) => 200,
        (Access::MeterReader, ConsumerB) => 404,
        (Access::Operator | Access::Admin, ConsumerA | ConsumerB) => 403,
        (Access::Admin, Operator) => 403,
        (_, Operator | Admin) => 200,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_caller_as_the_matrix_says() {
    let hub = Fixture::start().await;
    let (meter, mut events) = hub.meter().await;
    publish(&meter, &mut events, 1..=3, recent_ms()).await;
    let olivia = hub.login("olivia").await;
    let command = hub
        .api
        .call(
            &olivia,
            "POST",
            "/api/v1/meters/a-1/commands",
            Some(r#"{"action":{"type":"reset_max_demand"}}"#),
        )
        .await
        .json()["id"]
        .as_u64()
        .expect("command id");
    // Alice's alert rules and automations (one kept, one to delete) and an alert.
    let alice = hub.login("alice").await;
    let mut created = Vec::new();
    for path in ["/api/v1/alert-rules", "/api/v1/automations"] {
        let body = if path.ends_with("rules") {
            ALERT_RULE
        } else {
            AUTOMATION
        };
        for _ in 0..2 {
            let response = hub.api.call(&alice, "POST", path, Some(body)).await;
            assert_eq!(response.status, 201, "{path}: {}", response.body);
            created.push(response.json()["id"].as_u64().expect("id").to_string());
        }
    }
    let [alert_rule, doomed_alert_rule, automation, doomed_automation] =
        <[String; 4]>::try_from(created).expect("four ids");
    let alert = hub
        .store
        .open_alert(&joule_store::NewAlert {
            rule_id: alert_rule.parse().expect("id"),
            owner: "alice".into(),
            meter: "a-1".into(),
            condition: "offline".into(),
            message: "nothing heard".into(),
            value: None,
            opened_ms: recent_ms(),
        })
        .await
        .expect("store")
        .expect("alert")
        .id
        .to_string();
    let (run_id, bill_id) = hub.bill_a_month(&olivia, "2026-05").await;
    let document = request(hub.http, "GET", "/api/v1/openapi.json", &[], None)
        .await
        .json();
    let paths = document["paths"].as_object().expect("paths");
    assert!(
        paths.len() >= 25,
        "the document lists the routes ({})",
        paths.len()
    );
    let counter = AtomicU32::new(0);
    let mut failures = Vec::new();
    let mut checked = 0;
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let Some((access, body)) = route(method, path, n) else {
                failures.push(format!("{method} {path} has no row in the matrix"));
                continue;
            };
            // Revoking uses alice's second meter, so a-1 keeps working for the rest.
            let meter = if path.ends_with("/revoke") {
                "a-2"
            } else {
                "a-1"
            };
            let rule = match (path.starts_with("/api/v1/alert-rules"), method) {
                (true, "delete") => &doomed_alert_rule,
                (true, _) => &alert_rule,
                (false, "delete") => &doomed_automation,
                (false, _) => &automation,
            };
            let concrete = path
                .replace("{id}", meter)
                .replace("{command_id}", &command.to_string())
                .replace("{username}", "carol")
                .replace("{rule_id}", rule)
                .replace("{alert_id}", &alert)
                .replace("{run_id}", &run_id.to_string())
                .replace("{bill_id}", &bill_id.to_string())
                .replace("{market}", "epex");
            for caller in CALLERS {
                let concrete = if path == "/api/v1/dr-events/{event_id}" {
                    // Each caller cancels a DR event of its own. A fresh login: changing a
                    // password ends the user's sessions.
                    let olivia = hub.login("olivia").await;
                    let fresh = hub
                        .api
                        .call(&olivia, "POST", "/api/v1/dr-events", Some(DR_EVENT))
                        .await;
                    let id = fresh.json()["id"].as_u64().expect("event id");
                    concrete.replace("{event_id}", &id.to_string())
                } else if path == "/api/v1/tariffs/{name}" && method == "delete" {
                    // Each caller deletes a plan of its own, made just before.
                    let name = format!("gone-{}", counter.fetch_add(1, Ordering::Relaxed));
                    let operator = hub.login("olivia").await;
                    let made = hub
                        .api
                        .call(
                            &operator,
                            "POST",
                            "/api/v1/tariffs",
                            Some(&plan_body(&name)),
                        )
                        .await;
                    assert_eq!(made.status, 201, "{}", made.body);
                    concrete.replace("{name}", &name)
                } else {
                    concrete.replace("{name}", "flat")
                };
                let headers = hub.headers(caller).await;
                let body = match (path.as_str(), caller.username()) {
                    // Each user's own password, changed to itself.
                    ("/api/v1/auth/password", Some(user)) => Some(format!(
                        r#"{{"current":"{0}","new":"{0}"}}"#,
                        password(user)
                    )),
                    (
                        "/api/v1/meters"
                        | "/api/v1/users"
                        | "/api/v1/tariffs"
                        | "/api/v1/billing/runs",
                        _,
                    ) if method == "post" => {
                        route(method, path, counter.fetch_add(1, Ordering::Relaxed))
                            .and_then(|r| r.1)
                    }
                    _ => body.clone(),
                };
                let response = hub
                    .api
                    .call(&headers, &method.to_uppercase(), &concrete, body.as_deref())
                    .await;
                checked += 1;
                let want = expected(access, caller);
                let ok = if want == 200 {
                    (200..300).contains(&response.status)
                } else {
                    response.status == want
                };
                if !ok {
                    failures.push(format!(
                        "{method} {concrete} as {caller:?}: {} (expected {want}) {}",
                        response.status, response.body
                    ));
                }
                if response.status >= 400
                    && response.header("content-type") == Some("application/json")
                {
                    assert!(
                        response.json()["code"].is_string(),
                        "errors carry a code: {}",
                        response.body
                    );
                }
            }
        }
    }
    assert!(
        checked >= 30 * CALLERS.len(),
        "only {checked} calls were made"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} calls broke the matrix:\n{}",
        failures.len(),
        failures.join("\n")
    );
    hub.stop().await;
}
