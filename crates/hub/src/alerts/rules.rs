//! Alert rules, alerts and notification settings as users write and read them.

use joule_store::Channel;
use serde::{Deserialize, Serialize};

/// What a rule watches for on each of its meters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// Import power above `threshold_w` for at least `for_s` seconds.
    PowerAbove {
        /// Threshold, W.
        threshold_w: f64,
        /// How long it must hold, s (0: at once).
        #[serde(default)]
        for_s: u32,
    },
    /// Energy imported since local midnight above `budget_wh`.
    DailyEnergyAbove {
        /// Budget per local day, Wh.
        budget_wh: f64,
        /// The time zone the day is counted in (IANA name, default UTC).
        #[serde(default = "utc")]
        timezone: String,
    },
    /// The forecast of the current period's bill above `budget` (needs billing).
    BillForecastAbove {
        /// Budget, in the plan's currency.
        budget: f64,
    },
    /// The import price now above `threshold_per_kwh` (needs billing).
    PriceAbove {
        /// Threshold, currency per kWh.
        threshold_per_kwh: f64,
    },
    /// A tamper event: cover opened, magnetic field, current without voltage, neutral
    /// mismatch.
    Tamper,
    /// The supply is down: an interruption, a power-down, or the meter's last will.
    Outage,
    /// Nothing heard from the meter for at least `for_s` seconds.
    Offline {
        /// Silence that counts as offline, s.
        for_s: u32,
    },
    /// Voltage outside `min_v..=max_v` for at least `for_s` seconds.
    VoltageOutOfRange {
        /// Lowest acceptable voltage, V.
        min_v: f64,
        /// Highest acceptable voltage, V.
        max_v: f64,
        /// How long it must hold, s (0: at once).
        #[serde(default)]
        for_s: u32,
    },
}

fn utc() -> String {
    "UTC".to_owned()
}

/// What a user writes to create or replace a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlertRuleSpec {
    /// A name for people.
    pub name: String,
    /// What to watch for.
    pub condition: Condition,
    /// The meters it watches; empty: every meter the owner may see.
    #[serde(default)]
    pub meters: Vec<String>,
    /// Where to deliver its alerts besides the in-app list.
    #[serde(default)]
    pub channels: Vec<Channel>,
    /// After an alert of this rule resolves, the same meter and condition raise no new
    /// alert for this long, s (rate limit against flapping).
    #[serde(default = "default_cooldown_s")]
    pub cooldown_s: u32,
    /// Whether it is evaluated.
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn default_cooldown_s() -> u32 {
    300
}

fn enabled() -> bool {
    true
}

/// Why a rule cannot be accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(pub String);

impl AlertRuleSpec {
    /// Refuses specs that cannot work: empty names, non-finite or negative thresholds,
    /// inverted ranges, unknown time zones, bad meter ids.
    pub fn validate(&self) -> Result<(), RuleError> {
        let fail = |message: &str| Err(RuleError(message.to_owned()));
        if self.name.trim().is_empty() || self.name.len() > 200 {
            return fail("name must be 1 to 200 characters");
        }
        let positive = |value: f64| value.is_finite() && value >= 0.0;
        match &self.condition {
            Condition::PowerAbove { threshold_w, .. } if !threshold_w.is_finite() => {
                return fail("threshold_w must be a number");
            }
            Condition::DailyEnergyAbove { budget_wh, .. } if !positive(*budget_wh) => {
                return fail("budget_wh must be a number at least 0");
            }
            Condition::DailyEnergyAbove { timezone, .. }
                if jiff::tz::TimeZone::get(timezone).is_err() =>
            {
                return fail("timezone must be an IANA time zone name");
            }
            Condition::BillForecastAbove { budget } if !positive(*budget) => {
                return fail("budget must be a number at least 0");
            }
            Condition::PriceAbove { threshold_per_kwh } if !threshold_per_kwh.is_finite() => {
                return fail("threshold_per_kwh must be a number");
            }
            Condition::Offline { for_s } if *for_s == 0 => {
                return fail("for_s must be at least 1");
            }
            Condition::VoltageOutOfRange { min_v, max_v, .. }
                if !(positive(*min_v) && max_v.is_finite() && min_v < max_v) =>
            {
                return fail("min_v and max_v must be numbers with 0 <= min_v < max_v");
            }
            _ => {}
        }
        if let Some(bad) = self
            .meters
            .iter()
            .find(|id| joule_protocol::MeterId::new(id).is_err())
        {
            return Err(RuleError(format!("`{bad}` is not a meter id")));
        }
        Ok(())
    }
}

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AlertRule {
    /// Its id.
    pub id: u64,
    /// Whose it is (a username): consumers watch their own meters, operators the fleet.
    pub owner: String,
    /// What it is.
    #[serde(flatten)]
    pub spec: AlertRuleSpec,
    /// When it was created or last replaced, Unix ms.
    pub updated_ms: i64,
}

/// How a user wants to be told (alerts always appear in the app too).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// URL that receives a JSON POST per alert (`http` or `https`).
    pub webhook_url: Option<String>,
    /// Address that receives an email per alert.
    pub email: Option<String>,
}

impl NotificationSettings {
    /// Refuses URLs that are not http(s) and addresses that are not addresses.
    pub fn validate(&self) -> Result<(), RuleError> {
        if let Some(url) = &self.webhook_url {
            let parsed = reqwest::Url::parse(url)
                .map_err(|error| RuleError(format!("webhook_url: {error}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(RuleError("webhook_url must be http or https".into()));
            }
        }
        if let Some(email) = &self.email
            && email.parse::<lettre::Address>().is_err()
        {
            return Err(RuleError(format!("`{email}` is not an email address")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(condition: Condition) -> AlertRuleSpec {
        AlertRuleSpec {
            name: "r".into(),
            condition,
            meters: Vec::new(),
            channels: Vec::new(),
            cooldown_s: 0,
            enabled: true,
        }
    }

    #[test]
    fn specs_read_from_json_with_defaults_and_are_checked() {
        let read: AlertRuleSpec = serde_json::from_str(
            r#"{"name": "kettle", "condition": {"type": "power_above", "threshold_w": 2000}}"#,
        )
        .expect("json");
        assert_eq!(read.cooldown_s, 300);
        assert!(read.enabled && read.validate().is_ok());
        for bad in [
            Condition::Offline { for_s: 0 },
            Condition::VoltageOutOfRange {
                min_v: 250.0,
                max_v: 200.0,
                for_s: 0,
            },
            Condition::DailyEnergyAbove {
                budget_wh: 1.0,
                timezone: "Mars/Olympus".into(),
            },
            Condition::PowerAbove {
                threshold_w: f64::NAN,
                for_s: 0,
            },
        ] {
            assert!(spec(bad.clone()).validate().is_err(), "{bad:?}");
        }
        let mut foreign = spec(Condition::Tamper);
        foreign.meters = vec!["bad/id".into()];
        assert!(foreign.validate().is_err());
        let settings = NotificationSettings {
            webhook_url: Some("ftp://x".into()),
            email: None,
        };
        assert!(settings.validate().is_err());
        let settings = NotificationSettings {
            webhook_url: Some("http://127.0.0.1:9/hook".into()),
            email: Some("alice@example.org".into()),
        };
        assert!(settings.validate().is_ok());
    }
}
