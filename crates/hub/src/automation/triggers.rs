//! When automation rules fire, as pure code: readings and the passing of time go in, the
//! rules that fire (once per occurrence) come out. No clock, store or network here.

use super::rules::{AutomationRule, AutomationSpec, DrEdge, DrEvent, Trigger};
use crate::market::MarketInputs;
use joule_protocol::{LiveReading, MeterId};
use std::collections::{HashMap, HashSet};

/// A rule that fires, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Firing {
    /// The rule.
    pub rule_id: u64,
    /// What triggered it, for people.
    pub reason: String,
}

/// The trigger engine: rules and what their triggers remember.
#[derive(Debug, Default)]
pub struct Triggers {
    rules: Vec<AutomationRule>,
    /// Since when a consumption condition has held, per rule.
    since_ms: HashMap<u64, i64>,
    /// Rules whose condition holds and has fired (until it stops holding).
    latched: HashSet<u64>,
    /// The previous tick: schedules and DR edges in (previous, now] fire.
    last_tick_ms: Option<i64>,
}

impl Triggers {
    /// Replaces the rules; the state of rules that remain unchanged is kept.
    pub fn set_rules(&mut self, rules: Vec<AutomationRule>) {
        let unchanged: HashSet<u64> = rules
            .iter()
            .filter(|new| self.rules.iter().any(|old| old == *new))
            .map(|rule| rule.id)
            .collect();
        self.since_ms.retain(|id, _| unchanged.contains(id));
        self.latched.retain(|id| unchanged.contains(id));
        self.rules = rules.into_iter().filter(|r| r.spec.enabled).collect();
    }

    /// Consumption triggers on `meter`'s new reading.
    pub fn observe(&mut self, meter: &MeterId, reading: &LiveReading) -> Vec<Firing> {
        let mut firings = Vec::new();
        for rule in &self.rules {
            let Trigger::Consumption {
                meter: watched,
                above_w,
                below_w,
                for_s,
            } = &rule.spec.trigger
            else {
                continue;
            };
            if watched != meter.as_str() {
                continue;
            }
            let (holds, threshold) = match (above_w, below_w) {
                (Some(above), _) => (reading.p_w > *above, format!("above {above} W")),
                (None, Some(below)) => (reading.p_w < *below, format!("below {below} W")),
                (None, None) => continue,
            };
            if !holds {
                self.since_ms.remove(&rule.id);
                self.latched.remove(&rule.id);
                continue;
            }
            let since = *self.since_ms.entry(rule.id).or_insert(reading.ts_ms);
            if reading.ts_ms - since >= i64::from(*for_s) * 1000 && self.latched.insert(rule.id) {
                firings.push(Firing {
                    rule_id: rule.id,
                    reason: format!(
                        "{meter} power {:.0} W {threshold} for {for_s} s",
                        reading.p_w
                    ),
                });
            }
        }
        firings
    }

    /// Schedules and demand-response edges since the previous tick, and price thresholds
    /// from `market`. `feeder_of` tells a meter's feeder. The first tick only starts the
    /// clock: what happened before the hub started does not fire late.
    pub fn tick(
        &mut self,
        now_ms: i64,
        dr_events: &[DrEvent],
        feeder_of: &dyn Fn(&str) -> Option<String>,
        market: &dyn MarketInputs,
    ) -> Vec<Firing> {
        let Some(last_ms) = self.last_tick_ms.replace(now_ms) else {
            return Vec::new();
        };
        let passed = |edge_ms: i64| last_ms < edge_ms && edge_ms <= now_ms;
        let mut firings = Vec::new();
        for rule in &self.rules {
            match &rule.spec.trigger {
                Trigger::Schedule {
                    at,
                    timezone,
                    weekdays,
                } => {
                    if let Some(reason) = scheduled_between(at, timezone, weekdays, last_ms, now_ms)
                    {
                        firings.push(Firing {
                            rule_id: rule.id,
                            reason,
                        });
                    }
                }
                Trigger::DemandResponse { at, feeder, meter } => {
                    for event in dr_events {
                        let edge_ms = match at {
                            DrEdge::Start => event.spec.start_ms,
                            DrEdge::End => event.spec.end_ms,
                        };
                        let feeder_ok = feeder.is_none() || *feeder == event.spec.feeder;
                        let meter_ok = meter
                            .as_deref()
                            .is_none_or(|m| event.spec.covers(m, feeder_of(m).as_deref()));
                        if passed(edge_ms) && feeder_ok && meter_ok {
                            let edge = if *at == DrEdge::Start {
                                "starts"
                            } else {
                                "ends"
                            };
                            firings.push(Firing {
                                rule_id: rule.id,
                                reason: format!(
                                    "DR event {} `{}` {edge}",
                                    event.id, event.spec.name
                                ),
                            });
                        }
                    }
                }
                Trigger::Price {
                    meter,
                    above,
                    below,
                } => {
                    let Some(price) = MeterId::new(meter)
                        .ok()
                        .and_then(|id| market.price_per_kwh(&id, now_ms))
                    else {
                        continue;
                    };
                    let holds = match (above, below) {
                        (Some(above), _) => price > *above,
                        (None, Some(below)) => price < *below,
                        (None, None) => false,
                    };
                    if !holds {
                        self.latched.remove(&rule.id);
                    } else if self.latched.insert(rule.id) {
                        firings.push(Firing {
                            rule_id: rule.id,
                            reason: format!("{meter} price {price}/kWh crossed its threshold"),
                        });
                    }
                }
                Trigger::Consumption { .. } => {}
            }
        }
        firings
    }
}

/// The reason, if the schedule's local time falls in (`last_ms`, `now_ms`] on an allowed
/// weekday. Only the last two local days are looked at: a longer gap fires once at most.
fn scheduled_between(
    at: &str,
    timezone: &str,
    weekdays: &[u8],
    last_ms: i64,
    now_ms: i64,
) -> Option<String> {
    let time = AutomationSpec::schedule_time(at)?;
    let zone = jiff::tz::TimeZone::get(timezone).ok()?;
    let now = jiff::Timestamp::from_millisecond(now_ms).ok()?;
    let today = zone.to_offset(now).to_datetime(now).date();
    let days = [today.yesterday().ok()?, today];
    days.into_iter().find_map(|date| {
        let weekday = u8::try_from(date.weekday().to_monday_one_offset()).ok()?;
        if !weekdays.is_empty() && !weekdays.contains(&weekday) {
            return None;
        }
        let instant = zone.to_timestamp(date.to_datetime(time)).ok()?;
        let ms = instant.as_millisecond();
        (last_ms < ms && ms <= now_ms).then(|| format!("scheduled at {at} {timezone} on {date}"))
    })
}

#[cfg(test)]
#[path = "triggers_tests.rs"]
mod tests;
