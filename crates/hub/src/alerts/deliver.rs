//! Delivery of a new alert to its owner's channels: a webhook (JSON POST), a message on
//! the hub's MQTT connection, an email over SMTP. The in-app list needs nothing: the alert
//! is stored.
//!
//! An alert is delivered once per channel: one task per channel tries up to
//! `alerts.delivery_attempts` times, waiting `retry_base_ms` and then twice as long each
//! time (at most a minute), stops at the first success, and records every attempt.

use super::config::{AlertsConfig, SmtpConfig, SmtpSecurity};
use super::{Alert, Channel, DeliveryAttempt, NotificationSettings};
use crate::context::{Outgoing, Shared};
use crate::telemetry::AlertDelivery;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// The MQTT topic a user's alerts are published on.
pub fn alert_topic(prefix: &str, owner: &str) -> String {
    format!("{prefix}/v1/alerts/{owner}")
}

/// Sends alerts; cheap to clone.
#[derive(Debug, Clone)]
pub struct Deliverer {
    shared: Shared,
}

impl Deliverer {
    /// A deliverer using the hub's HTTP client, MQTT connection and `[alerts]` settings.
    pub fn new(shared: Shared) -> Self {
        Self { shared }
    }

    fn config(&self) -> &AlertsConfig {
        &self.shared.config.alerts
    }

    /// Starts delivering `alert` on each of `channels` to the destinations in `settings`.
    pub fn deliver(&self, alert: &Alert, channels: &[Channel], settings: &NotificationSettings) {
        for channel in channels {
            let (this, alert, settings, channel) =
                (self.clone(), alert.clone(), settings.clone(), *channel);
            tokio::spawn(async move { this.deliver_on(&alert, channel, &settings).await });
        }
    }

    /// Tries one channel until it succeeds or the attempts run out.
    async fn deliver_on(&self, alert: &Alert, channel: Channel, settings: &NotificationSettings) {
        let attempts = self.config().delivery_attempts;
        for attempt in 1..=attempts {
            let result = self.send(alert, channel, settings).await;
            let record = DeliveryAttempt {
                alert_id: alert.id,
                channel,
                attempt,
                ts_ms: self.shared.now_ms(),
                ok: result.is_ok(),
                detail: match &result {
                    Ok(detail) | Err(Failure::Retry(detail) | Failure::Final(detail)) => {
                        detail.clone()
                    }
                },
            };
            if let Err(error) = self.shared.store.add_delivery(&record).await {
                tracing::error!(%error, alert = alert.id, "recording a delivery failed");
            }
            AlertDelivery {
                alert_id: alert.id,
                channel: channel.as_str(),
                attempt,
                ok: record.ok,
                detail: &record.detail,
            }
            .emit();
            match result {
                Ok(_) | Err(Failure::Final(_)) => return,
                Err(Failure::Retry(detail)) => {
                    tracing::warn!(
                        alert = alert.id,
                        channel = channel.as_str(),
                        attempt,
                        detail,
                        "alert delivery failed"
                    );
                }
            }
            if attempt < attempts {
                let exponent = (attempt - 1).min(16);
                let wait_ms = self.config().retry_base_ms.saturating_mul(1 << exponent);
                tokio::time::sleep(Duration::from_millis(wait_ms.min(60_000))).await;
            }
        }
    }

    /// One attempt: the receiver's answer, or why it failed.
    async fn send(
        &self,
        alert: &Alert,
        channel: Channel,
        settings: &NotificationSettings,
    ) -> Result<String, Failure> {
        match channel {
            Channel::Webhook => {
                let url = settings
                    .webhook_url
                    .as_deref()
                    .ok_or_else(|| Failure::Final("no webhook_url in the settings".into()))?;
                post_json(&self.shared, url, &serde_json::json!({ "alert": alert })).await
            }
            Channel::Mqtt => {
                let topic = alert_topic(&self.shared.config.topics.prefix, &alert.raised.owner);
                if alert.raised.owner.contains(['+', '#', '/']) {
                    return Err(Failure::Final(format!(
                        "no topic for user `{}`",
                        alert.raised.owner
                    )));
                }
                let payload = serde_json::to_vec(alert).unwrap_or_default();
                publish(&self.shared, topic.clone(), payload, false)
                    .await
                    .map(|()| format!("published on {topic}"))
                    .map_err(Failure::Retry)
            }
            Channel::Email => {
                let smtp =
                    self.config().smtp.as_ref().ok_or_else(|| {
                        Failure::Final("no [alerts.smtp] server configured".into())
                    })?;
                let to = settings
                    .email
                    .as_deref()
                    .ok_or_else(|| Failure::Final("no email in the settings".into()))?;
                send_email(smtp, to, alert).await
            }
        }
    }
}

/// Why an attempt failed: worth retrying, or not (nothing to deliver to).
#[derive(Debug)]
enum Failure {
    Retry(String),
    Final(String),
}

/// POSTs `body` as JSON; a 2xx answer is success.
async fn post_json(
    shared: &Shared,
    url: &str,
    body: &serde_json::Value,
) -> Result<String, Failure> {
    let timeout = Duration::from_secs(shared.config.alerts.webhook_timeout_s);
    let response = shared
        .http
        .post(url)
        .timeout(timeout)
        .json(body)
        .send()
        .await
        .map_err(|error| Failure::Retry(format!("POST {url}: {error}")))?;
    let status = response.status();
    if status.is_success() {
        Ok(format!("HTTP {status}"))
    } else {
        Err(Failure::Retry(format!("HTTP {status}")))
    }
}

/// POSTs `body` to `url` once (automation's webhooks): the answer or the error.
pub async fn call_webhook(
    shared: &Shared,
    url: &str,
    body: &serde_json::Value,
) -> Result<String, String> {
    post_json(shared, url, body)
        .await
        .map_err(|failure| match failure {
            Failure::Retry(detail) | Failure::Final(detail) => detail,
        })
}

/// Publishes through the hub's own MQTT connection; done when the client has taken it.
pub async fn publish(
    shared: &Shared,
    topic: String,
    payload: Vec<u8>,
    retain: bool,
) -> Result<(), String> {
    let (done, answer) = tokio::sync::oneshot::channel();
    let outgoing = Outgoing {
        topic,
        payload,
        retain,
        done,
    };
    shared
        .outgoing
        .send(outgoing)
        .await
        .map_err(|_| "the hub's MQTT connection has stopped".to_owned())?;
    answer
        .await
        .map_err(|_| "the hub's MQTT connection has stopped".to_owned())?
}

/// Sends the alert as a plain-text email.
async fn send_email(smtp: &SmtpConfig, to: &str, alert: &Alert) -> Result<String, Failure> {
    let from: Mailbox = smtp
        .from
        .parse()
        .map_err(|error| Failure::Final(format!("alerts.smtp.from: {error}")))?;
    let to: Mailbox = to
        .parse()
        .map_err(|error| Failure::Final(format!("`{to}`: {error}")))?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(format!(
            "Joule alert: {} on {}",
            alert.raised.condition, alert.raised.meter
        ))
        .body(format!(
            "{}\n\nMeter: {}\nCondition: {}\nOpened: {} (Unix ms)\nAlert id: {}\n",
            alert.raised.message,
            alert.raised.meter,
            alert.raised.condition,
            alert.raised.opened_ms,
            alert.id
        ))
        .map_err(|error| Failure::Final(format!("building the email: {error}")))?;
    let builder = match smtp.security {
        SmtpSecurity::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host),
        SmtpSecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host),
        SmtpSecurity::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
            &smtp.host,
        )),
    }
    .map_err(|error| Failure::Final(format!("alerts.smtp.host: {error}")))?;
    let mut builder = builder
        .port(smtp.port)
        .timeout(Some(Duration::from_secs(30)));
    if let Some(username) = &smtp.username {
        builder = builder.credentials(Credentials::new(
            username.clone(),
            smtp.password.clone().unwrap_or_default(),
        ));
    }
    let response = builder
        .build()
        .send(message)
        .await
        .map_err(|error| Failure::Retry(format!("SMTP: {error}")))?;
    Ok(format!(
        "SMTP {}",
        response.message().collect::<Vec<_>>().join(" ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/PROTOCOL.md's alert example is what the hub publishes: its topic, and a body
    /// that reads as an alert and writes back the same.
    #[test]
    fn the_documented_alert_message_matches() {
        let document = include_str!("../../../../docs/PROTOCOL.md");
        let (_, rest) = document
            .split_once("```json hub-topic=")
            .expect("an alert example");
        let (topic, rest) = rest.split_once('\n').expect("the example's first line");
        let (body, _) = rest.split_once("```").expect("the example's end");
        let alert: Alert = serde_json::from_str(body).expect("an alert");
        assert_eq!(topic, alert_topic("joule", &alert.raised.owner));
        let again: Alert =
            serde_json::from_slice(&serde_json::to_vec(&alert).expect("json")).expect("back");
        assert_eq!(again, alert);
    }
}
