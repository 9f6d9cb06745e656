//! Automation rules and demand-response events as users write and read them.

use crate::alerts::RuleError;
use joule_protocol::{Action, MeterId};
use serde::{Deserialize, Serialize};

/// What makes a rule fire. Each fires once per occurrence: a condition when it begins, a
/// schedule at its time, a DR event at its start or end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// A meter's import power above `above_w` (or below `below_w`) for `for_s` seconds.
    Consumption {
        /// The meter.
        meter: String,
        /// Fires when power rises above this, W.
        above_w: Option<f64>,
        /// Fires when power falls below this, W.
        below_w: Option<f64>,
        /// How long it must hold, s.
        #[serde(default)]
        for_s: u32,
    },
    /// Every day (or the listed weekdays) at a local time.
    Schedule {
        /// `HH:MM`, local time.
        at: String,
        /// IANA time zone (default UTC).
        #[serde(default = "utc")]
        timezone: String,
        /// ISO weekdays (1 Monday … 7 Sunday); empty: every day.
        #[serde(default)]
        weekdays: Vec<u8>,
    },
    /// A demand-response event starts (or ends) on a feeder or meter.
    DemandResponse {
        /// `start` or `end`.
        #[serde(default)]
        at: DrEdge,
        /// Only events on this feeder.
        feeder: Option<String>,
        /// Only events covering this meter (listed, or on its feeder).
        meter: Option<String>,
    },
    /// A meter's import price rises above `above` (or falls below `below`), per kWh
    /// (needs billing).
    Price {
        /// The meter whose price counts.
        meter: String,
        /// Fires when the price rises above this.
        above: Option<f64>,
        /// Fires when the price falls below this.
        below: Option<f64>,
    },
}

fn utc() -> String {
    "UTC".to_owned()
}

/// Which edge of a demand-response event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DrEdge {
    /// When it starts.
    #[default]
    Start,
    /// When it ends.
    End,
}

/// What a rule does when it fires.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum AutomationAction {
    /// Publishes a message through the hub's broker connection (e.g. a Tasmota or Home
    /// Assistant switch's command topic). Topics under the hub's own prefix are refused:
    /// meters are commanded through `meter_command`.
    MqttPublish {
        /// The topic (no wildcards).
        topic: String,
        /// The payload, as text.
        payload: String,
        /// Whether the broker keeps it for later subscribers.
        #[serde(default)]
        retain: bool,
    },
    /// Sends a command to a meter through the hub's command path (stored, published,
    /// followed to its acknowledgement): a load limit or a relay action.
    MeterCommand {
        /// The meter.
        meter: String,
        /// The wire action: `load_limit`, `disconnect`, `reconnect` or `arm_reconnect`.
        #[schema(value_type = Object)]
        action: Action,
    },
    /// POSTs JSON (`body`, or a description of the firing) to a URL.
    Webhook {
        /// `http` or `https` URL.
        url: String,
        /// The JSON to send; absent: the rule id and the reason it fired.
        #[schema(value_type = Option<Object>)]
        body: Option<serde_json::Value>,
    },
}

impl AutomationAction {
    /// The action for people and the audit log.
    pub fn describe(&self) -> String {
        match self {
            Self::MqttPublish { topic, payload, .. } => format!("publish {topic}: {payload}"),
            Self::MeterCommand { meter, action } => format!(
                "command {meter}: {}",
                serde_json::to_string(action).unwrap_or_default()
            ),
            Self::Webhook { url, .. } => format!("webhook {url}"),
        }
    }
}

/// What a user writes to create or replace an automation rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AutomationSpec {
    /// A name for people.
    pub name: String,
    /// When it fires.
    pub trigger: Trigger,
    /// What it does, in order.
    pub actions: Vec<AutomationAction>,
    /// Records what it would do and does nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Whether it is evaluated.
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

fn parse_hhmm(at: &str) -> Option<jiff::civil::Time> {
    let (hour, minute) = at.split_once(':')?;
    jiff::civil::Time::new(hour.parse().ok()?, minute.parse().ok()?, 0, 0).ok()
}

impl AutomationSpec {
    /// Refuses specs that cannot work. `topic_prefix` is the hub's own MQTT prefix, which
    /// actions may not publish under.
    pub fn validate(&self, topic_prefix: &str) -> Result<(), RuleError> {
        let fail = |message: String| Err(RuleError(message));
        if self.name.trim().is_empty() || self.name.len() > 200 {
            return fail("name must be 1 to 200 characters".into());
        }
        if self.actions.is_empty() || self.actions.len() > 20 {
            return fail("a rule needs 1 to 20 actions".into());
        }
        let meter_ok = |id: &str| MeterId::new(id).is_ok();
        let number_ok = |value: &Option<f64>| value.is_none_or(f64::is_finite);
        match &self.trigger {
            Trigger::Consumption {
                meter,
                above_w,
                below_w,
                ..
            }
            | Trigger::Price {
                meter,
                above: above_w,
                below: below_w,
            } => {
                if !meter_ok(meter) {
                    return fail(format!("`{meter}` is not a meter id"));
                }
                if above_w.is_some() == below_w.is_some()
                    || !number_ok(above_w)
                    || !number_ok(below_w)
                {
                    return fail("give exactly one threshold, above or below, as a number".into());
                }
            }
            Trigger::Schedule {
                at,
                timezone,
                weekdays,
            } => {
                if parse_hhmm(at).is_none() {
                    return fail(format!("`{at}` is not a HH:MM time"));
                }
                if jiff::tz::TimeZone::get(timezone).is_err() {
                    return fail(format!("`{timezone}` is not an IANA time zone"));
                }
                if weekdays.iter().any(|day| !(1..=7).contains(day)) {
                    return fail("weekdays are 1 (Monday) to 7 (Sunday)".into());
                }
            }
            Trigger::DemandResponse { meter, .. } => {
                if let Some(meter) = meter.as_deref().filter(|m| !meter_ok(m)) {
                    return fail(format!("`{meter}` is not a meter id"));
                }
            }
        }
        for action in &self.actions {
            match action {
                AutomationAction::MqttPublish { topic, payload, .. } => {
                    let own =
                        topic == topic_prefix || topic.starts_with(&format!("{topic_prefix}/"));
                    if topic.is_empty() || topic.contains(['+', '#']) || own {
                        return fail(format!(
                            "topic `{topic}` must be set, without wildcards, outside `{topic_prefix}/`"
                        ));
                    }
                    if payload.len() > 64 * 1024 {
                        return fail("payload must be at most 64 KiB".into());
                    }
                }
                AutomationAction::MeterCommand { meter, action } => {
                    if !meter_ok(meter) {
                        return fail(format!("`{meter}` is not a meter id"));
                    }
                    if !matches!(
                        action,
                        Action::LoadLimit { .. }
                            | Action::Disconnect { .. }
                            | Action::Reconnect { .. }
                            | Action::ArmReconnect { .. }
                    ) {
                        return fail("meter commands are load_limit or relay actions".into());
                    }
                }
                AutomationAction::Webhook { url, .. } => {
                    let scheme = reqwest::Url::parse(url).map(|u| u.scheme().to_owned());
                    if !matches!(scheme.as_deref(), Ok("http" | "https")) {
                        return fail(format!("`{url}` is not an http(s) URL"));
                    }
                }
            }
        }
        Ok(())
    }

    /// The scheduled time of a schedule trigger (validated specs only).
    pub(crate) fn schedule_time(at: &str) -> Option<jiff::civil::Time> {
        parse_hhmm(at)
    }
}

/// A stored automation rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AutomationRule {
    /// Its id.
    pub id: u64,
    /// Whose it is.
    pub owner: String,
    /// What it is.
    #[serde(flatten)]
    pub spec: AutomationSpec,
    /// When it was created or last replaced, Unix ms.
    pub updated_ms: i64,
}

/// What an operator writes to announce a demand-response event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DrEventSpec {
    /// A name for people.
    pub name: String,
    /// When it starts, Unix ms.
    pub start_ms: i64,
    /// When it ends, Unix ms.
    pub end_ms: i64,
    /// The feeder it applies to.
    pub feeder: Option<String>,
    /// The meters it applies to (besides the feeder's).
    #[serde(default)]
    pub meters: Vec<String>,
    /// The reduction asked for, kW.
    pub target_kw: Option<f64>,
}

impl DrEventSpec {
    /// Refuses events that end before they start or name nothing.
    pub fn validate(&self) -> Result<(), RuleError> {
        if self.name.trim().is_empty() {
            return Err(RuleError("name must not be empty".into()));
        }
        if self.end_ms <= self.start_ms {
            return Err(RuleError("end_ms must be after start_ms".into()));
        }
        if self.feeder.is_none() && self.meters.is_empty() {
            return Err(RuleError("name a feeder or meters".into()));
        }
        if self
            .target_kw
            .is_some_and(|kw| !(kw.is_finite() && kw >= 0.0))
        {
            return Err(RuleError("target_kw must be a number at least 0".into()));
        }
        Ok(())
    }

    /// Whether the event covers `meter` on `feeder`.
    pub fn covers(&self, meter: &str, feeder: Option<&str>) -> bool {
        self.meters.iter().any(|m| m == meter)
            || (self.feeder.is_some() && self.feeder.as_deref() == feeder)
    }
}

/// A stored demand-response event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DrEvent {
    /// Its id.
    pub id: u64,
    /// Who announced it.
    pub created_by: String,
    /// What it is.
    #[serde(flatten)]
    pub spec: DrEventSpec,
}
