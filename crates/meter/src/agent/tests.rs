//! The running agent on a manual clock: what it records on a start, a tick and a
//! command, at exactly the instants the test names, with no broker and no waiting.

use super::running::Agent;
use crate::clock::{ManualClock, PLAUSIBLE_AFTER_MS};
use crate::config::MeterConfig;
use joule_protocol::{Action, Command, PAYLOAD_VERSION, RelayState};
use serde_json::Value;

/// A simulated single-phase meter keeping its data in `dir`.
fn config(dir: &std::path::Path) -> MeterConfig {
    let text = serde_json::json!({
        "meter": {"id": "m-1", "data_dir": dir, "live_interval_s": 1},
        "uplink": {"broker": "mqtt://127.0.0.1", "token": "t"},
    });
    serde_json::from_value(text).expect("a meter configuration")
}

fn command(id: u64, action: Action) -> Command {
    Command {
        v: PAYLOAD_VERSION,
        id,
        ts_ms: 0,
        expires_ms: None,
        action,
    }
}

/// Every message waiting in the agent's outbox, as (topic kind, JSON), oldest first.
fn recorded(agent: &Agent) -> Vec<(String, Value)> {
    let (outbox, _) = agent.outbox();
    let mut outbox = outbox.lock().expect("outbox");
    outbox
        .next_batch(1, 1_000)
        .expect("batch")
        .into_iter()
        .map(|message| {
            let json = serde_json::from_slice(&message.payload).expect("JSON");
            (message.kind.segment().to_owned(), json)
        })
        .collect()
}

/// The messages as `kind` or `kind:event-kind:state` labels.
fn labels(messages: &[(String, Value)]) -> Vec<String> {
    messages
        .iter()
        .map(
            |(kind, json)| match (json["kind"].as_str(), json["state"].as_str()) {
                (Some(event), Some(state)) => format!("{kind}:{event}:{state}"),
                _ => kind.clone(),
            },
        )
        .collect()
}

#[test]
fn a_clock_at_1970_holds_readings_until_the_hub_sets_the_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = ManualClock::new(1_000);
    let mut agent = Agent::start(config(dir.path()), base.clone()).expect("start");
    base.advance_ms(1_000);
    agent.tick().expect("tick");
    assert_eq!(
        labels(&recorded(&agent)),
        ["event:power_up:instant", "event:clock:started"],
        "no reading while the clock reads 1970"
    );

    let hub_ms = PLAUSIBLE_AFTER_MS + 3_600_000;
    agent
        .command(&command(7, Action::TimeSync { unix_ms: hub_ms }))
        .expect("time sync");
    base.advance_ms(1_000);
    agent.tick().expect("tick");
    let messages = recorded(&agent);
    assert_eq!(
        labels(&messages)[2..],
        ["event:clock:instant", "event:clock:ended", "ack", "live"]
    );
    let (_, ack) = &messages[4];
    assert_eq!(
        (ack["command_id"].as_u64(), ack["status"].as_str()),
        (Some(7), Some("done"))
    );
    let (_, live) = &messages[5];
    assert_eq!(
        live["ts_ms"].as_i64(),
        Some(hub_ms + 1_000),
        "read on the corrected clock"
    );
}

#[test]
fn a_disconnect_opens_the_switch_saves_and_acknowledges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = ManualClock::new(PLAUSIBLE_AFTER_MS);
    let mut agent = Agent::start(config(dir.path()), base.clone()).expect("start");
    base.advance_ms(1_000);
    agent
        .command(&command(
            9,
            Action::Disconnect {
                reason: "unpaid".into(),
            },
        ))
        .expect("disconnect");
    let messages = recorded(&agent);
    assert_eq!(
        labels(&messages),
        ["event:power_up:instant", "event:relay:instant", "ack"]
    );
    assert_eq!(
        messages[1].1["detail"].as_str(),
        Some("connected → disconnected: unpaid")
    );
    assert_eq!(messages[2].1["relay"].as_str(), Some("disconnected"));
    let saved = super::saved_registers(agent.config())
        .expect("saved")
        .expect("a save");
    assert_eq!(saved.relay, RelayState::Disconnected);
    assert_eq!(saved.written_ms, PLAUSIBLE_AFTER_MS + 1_000);
}
