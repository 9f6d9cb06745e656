//! `[alerts]`: how alerts are evaluated and delivered (documented in docs/CONFIG.md).

use serde::Deserialize;

/// `[alerts]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertsConfig {
    /// How often time-driven conditions (silence, money figures, schedules, DR events,
    /// cool-downs) are evaluated, ms.
    pub tick_ms: u64,
    /// Attempts per alert and channel before giving up (webhook, MQTT, email).
    pub delivery_attempts: u32,
    /// Wait before the second attempt, ms; it doubles for each further attempt (at most
    /// 60 s).
    pub retry_base_ms: u64,
    /// How long a webhook (alert or automation) may take to answer, s.
    pub webhook_timeout_s: u64,
    /// The mail server for email delivery; absent: email alerts fail as not configured.
    pub smtp: Option<SmtpConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            tick_ms: 1000,
            delivery_attempts: 5,
            retry_base_ms: 1000,
            webhook_timeout_s: 10,
            smtp: None,
        }
    }
}

/// How the connection to the mail server is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain SMTP, upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption: only for a relay on the same host or a test server.
    None,
}

/// `[alerts.smtp]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Mail server host.
    pub host: String,
    /// Port (default 587).
    #[serde(default = "submission_port")]
    pub port: u16,
    /// `starttls` (default), `tls` or `none`.
    #[serde(default = "starttls")]
    pub security: SmtpSecurity,
    /// Login, if the server wants one.
    pub username: Option<String>,
    /// Password for `username`.
    pub password: Option<String>,
    /// The sender, e.g. `Joule <alerts@example.org>`.
    pub from: String,
}

fn submission_port() -> u16 {
    587
}

fn starttls() -> SmtpSecurity {
    SmtpSecurity::Starttls
}

impl AlertsConfig {
    /// The first invalid key and why, if any.
    pub fn invalid(&self) -> Option<(&'static str, &'static str)> {
        if self.tick_ms < 100 {
            return Some(("alerts.tick_ms", "must be at least 100"));
        }
        if !(1..=20).contains(&self.delivery_attempts) {
            return Some(("alerts.delivery_attempts", "must be 1..=20"));
        }
        if self.webhook_timeout_s == 0 {
            return Some(("alerts.webhook_timeout_s", "must be at least 1"));
        }
        if let Some(smtp) = &self.smtp
            && smtp.from.parse::<lettre::message::Mailbox>().is_err()
        {
            return Some((
                "alerts.smtp.from",
                "must be an address, e.g. `Joule <a@b.org>`",
            ));
        }
        None
    }
}
