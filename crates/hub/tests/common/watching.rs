//! What tests watching a running hub share: an MQTT subscriber on the broker, polling
//! until something holds, and creating through the API.

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::time::Duration;
use tokio::sync::mpsc;

/// An MQTT client of the broker on `port` subscribed to `topics`, its messages on a
/// channel.
pub(crate) async fn listen(
    port: u16,
    client_id: &str,
    topics: &[String],
) -> (AsyncClient, mpsc::UnboundedReceiver<(String, Vec<u8>)>) {
    let mut options = MqttOptions::new(client_id, "127.0.0.1", port);
    options.set_keep_alive(Duration::from_secs(10));
    let (client, mut eventloop) = AsyncClient::new(options, 256);
    for topic in topics {
        client
            .subscribe(topic, QoS::AtLeastOnce)
            .await
            .expect("subscribe");
    }
    let mut acked = 0;
    tokio::time::timeout(Duration::from_secs(10), async {
        while acked < topics.len() {
            if let Event::Incoming(Packet::SubAck(_)) = eventloop.poll().await.expect("broker") {
                acked += 1;
            }
        }
    })
    .await
    .expect("subscriptions acknowledged");
    let (messages, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    let _ = messages.send((p.topic.clone(), p.payload.to_vec()));
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    });
    (client, received)
}

/// Polls `check` every 100 ms for up to 30 s until it returns `Some`.
pub(crate) async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    for _ in 0..300 {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// POSTs `body` to `path` at `api` as the user of `headers`; it must be created (201).
pub(crate) async fn create(
    api: &joule_testkit::http::Api,
    headers: &[(String, String)],
    path: &str,
    body: &serde_json::Value,
) -> serde_json::Value {
    let response = api
        .call(headers, "POST", path, Some(&body.to_string()))
        .await;
    assert_eq!(response.status, 201, "{path}: {}", response.body);
    response.json()
}
