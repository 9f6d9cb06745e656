//! Local alerts: conditions the meter watches itself and raises as `alarm` events (shown
//! on the display, sent with the next uplink): import power above a threshold for a while,
//! and the supply voltage outside its band for a while (EN 50160's ±10 % by default).

use serde::Deserialize;

/// `[alerts]`: thresholds of the local alerts.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AlertConfig {
    /// Alarm when import power stays above this, W (absent: off).
    pub high_power_w: Option<f64>,
    /// ... for this long, s.
    pub high_power_s: u32,
    /// Alarm when the voltage stays below this, V.
    pub voltage_min_v: f64,
    /// Alarm when the voltage stays above this, V.
    pub voltage_max_v: f64,
    /// ... for this long, s.
    pub voltage_s: u32,
}

impl Default for AlertConfig {
    fn default() -> Self {
        Self {
            high_power_w: None,
            high_power_s: 60,
            voltage_min_v: 207.0,
            voltage_max_v: 253.0,
            voltage_s: 60,
        }
    }
}

/// An alarm starting or ending.
#[derive(Debug, Clone, PartialEq)]
pub struct Alarm {
    /// True when it starts, false when it ends.
    pub started: bool,
    /// What it is, for people.
    pub detail: String,
    /// The value that raised it (W or V).
    pub value: f64,
    /// When the condition began, Unix ms.
    pub since_ms: i64,
}

/// One watched condition: how long it has held and whether it is raised.
#[derive(Debug, Clone, Default)]
struct Condition {
    since_ms: Option<i64>,
    raised: bool,
}

impl Condition {
    /// Takes whether the condition holds at `now_ms`; returns `Some(true)` when it has
    /// held for `hold_s` and is raised now, `Some(false)` when a raised one clears.
    fn update(&mut self, holds: bool, now_ms: i64, hold_s: u32) -> Option<bool> {
        if holds {
            let since = *self.since_ms.get_or_insert(now_ms);
            if !self.raised && now_ms - since >= i64::from(hold_s) * 1000 {
                self.raised = true;
                return Some(true);
            }
        } else {
            self.since_ms = None;
            if self.raised {
                self.raised = false;
                return Some(false);
            }
        }
        None
    }
}

/// The local alert watcher.
#[derive(Debug, Clone, Default)]
pub struct Alerts {
    high_power: Condition,
    voltage: Condition,
    /// Whether any alarm is raised now (for the display).
    active: Vec<String>,
}

impl Alerts {
    /// Takes a tick's import power and voltage; returns alarms that start or end.
    pub fn check(
        &mut self,
        config: &AlertConfig,
        power_w: f64,
        voltage_v: f64,
        now_ms: i64,
    ) -> Vec<Alarm> {
        let mut alarms = Vec::new();
        if let Some(limit) = config.high_power_w {
            let since = self.high_power.since_ms;
            if let Some(started) =
                self.high_power
                    .update(power_w > limit, now_ms, config.high_power_s)
            {
                alarms.push(Alarm {
                    started,
                    detail: format!(
                        "high consumption: above {limit:.0} W for {} s",
                        config.high_power_s
                    ),
                    value: power_w,
                    since_ms: since.unwrap_or(now_ms),
                });
            }
        }
        // No voltage at all is an outage (the metrology chain's interruption), not an alarm.
        let out_of_band =
            voltage_v > 1.0 && !(config.voltage_min_v..=config.voltage_max_v).contains(&voltage_v);
        let since = self.voltage.since_ms;
        if let Some(started) = self.voltage.update(out_of_band, now_ms, config.voltage_s) {
            let side = if voltage_v > config.voltage_max_v {
                "over"
            } else {
                "under"
            };
            alarms.push(Alarm {
                started,
                detail: if started {
                    format!(
                        "{side} voltage: outside {:.0}–{:.0} V for {} s",
                        config.voltage_min_v, config.voltage_max_v, config.voltage_s
                    )
                } else {
                    "voltage back within its band".into()
                },
                value: voltage_v,
                since_ms: since.unwrap_or(now_ms),
            });
        }
        for alarm in &alarms {
            if alarm.started {
                self.active.push(alarm.detail.clone());
            }
        }
        if !self.high_power.raised {
            self.active.retain(|a| !a.starts_with("high consumption"));
        }
        if !self.voltage.raised {
            self.active.retain(|a| !a.contains("voltage"));
        }
        alarms
    }

    /// Alarms raised now, for people.
    pub fn active(&self) -> &[String] {
        &self.active
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn high_power_raises_after_its_hold_and_clears_once() {
        let config = AlertConfig {
            high_power_w: Some(3000.0),
            high_power_s: 5,
            ..AlertConfig::default()
        };
        let mut alerts = Alerts::default();
        let raised: Vec<Vec<Alarm>> = (0..8)
            .map(|s| alerts.check(&config, 4000.0, 230.0, s * 1000))
            .collect();
        assert!(raised[..5].iter().all(Vec::is_empty));
        assert!(raised[5][0].started);
        assert_eq!(raised[5][0].since_ms, 0);
        assert!(raised[6..].iter().all(Vec::is_empty));
        assert_eq!(alerts.active().len(), 1);
        let cleared = alerts.check(&config, 100.0, 230.0, 9000);
        assert!(!cleared[0].started);
        assert!(alerts.active().is_empty());
    }

    #[test]
    fn voltage_band_but_not_outages() {
        let config = AlertConfig {
            voltage_s: 0,
            ..AlertConfig::default()
        };
        let mut alerts = Alerts::default();
        assert!(alerts.check(&config, 0.0, 0.0, 0).is_empty());
        let over = alerts.check(&config, 0.0, 260.0, 1000);
        assert!(over[0].started && over[0].detail.starts_with("over voltage"));
    }
}
