//! Alert evaluation as pure code: what meters report and the passing of time go in,
//! "raise this alert" and "this alert's condition cleared" come out.
//!
//! Nothing here reads a clock, the store or the network. Every input carries its time, and
//! [`Engine::tick`] is called with the hub's clock for what only time can change (silence,
//! money figures, a cool-down ending). Each (rule, meter, condition) has a latch: it is
//! raised at most once while the condition holds (deduplication), and after it clears the
//! same key stays quiet for the rule's cool-down (rate limit).

use super::rules::{AlertRule, Condition};
use crate::market::MarketInputs;
use joule_protocol::{EventKind, EventMessage, EventState, LiveReading, MeterId};
use std::collections::{BTreeSet, HashMap};

/// A rule with the meters it applies to, resolved by the caller from its owner's rights.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopedRule {
    /// The rule.
    pub rule: AlertRule,
    /// The meters it watches.
    pub meters: BTreeSet<MeterId>,
}

/// Something a meter told the hub.
#[derive(Debug, Clone, Copy)]
pub enum Observation<'a> {
    /// A stored live reading.
    Reading(&'a LiveReading),
    /// A stored event.
    Event(&'a EventMessage),
    /// The meter's presence changed (`true`: online) at `ts_ms`.
    Presence(bool, i64),
}

/// What the engine decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The rule.
    pub rule_id: u64,
    /// The meter.
    pub meter: MeterId,
    /// The condition's key (`power_above`, `cover_open`, ...).
    pub condition: String,
    /// When, Unix ms.
    pub ts_ms: i64,
    /// Raised or cleared.
    pub kind: ChangeKind,
}

/// Raised or cleared.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeKind {
    /// Open an alert.
    Raise {
        /// For people.
        message: String,
        /// The value that raised it.
        value: Option<f64>,
    },
    /// Resolve the open alert.
    Clear,
}

type Key = (u64, MeterId, String);

/// One key's latch.
#[derive(Debug, Clone, Default)]
struct Latch {
    /// The condition holds now, with what to say about it.
    holding: Option<(String, Option<f64>)>,
    /// An alert was raised for the current occurrence.
    raised: bool,
    /// When the last raised occurrence cleared.
    cleared_ms: Option<i64>,
    /// Raised by a momentary event, which never clears by itself.
    momentary: bool,
}

/// The alert engine: rules, their latches, and what each meter's conditions need to
/// remember (when a threshold was first crossed, the day's first register).
#[derive(Debug, Default)]
pub struct Engine {
    rules: Vec<ScopedRule>,
    latches: HashMap<Key, Latch>,
    /// Since when a sustained condition has held, per rule and meter.
    since_ms: HashMap<(u64, MeterId), i64>,
    /// The local day and the import register at its first reading, per rule and meter.
    day_start: HashMap<(u64, MeterId), (jiff::civil::Date, u64)>,
    /// When each meter was last heard from.
    heard_ms: HashMap<MeterId, i64>,
}

/// The tamper event kinds.
const TAMPER: [EventKind; 4] = [
    EventKind::CoverOpen,
    EventKind::MagneticField,
    EventKind::CurrentWithoutVoltage,
    EventKind::NeutralMismatch,
];

fn event_name(kind: EventKind) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| "event".to_owned())
}

impl Engine {
    /// Replaces the rules; state of rules that remain (same id, same spec) is kept.
    pub fn set_rules(&mut self, rules: Vec<ScopedRule>) {
        let kept: HashMap<u64, &ScopedRule> = rules.iter().map(|r| (r.rule.id, r)).collect();
        let unchanged = |id: &u64| {
            self.rules
                .iter()
                .find(|old| old.rule.id == *id)
                .is_some_and(|old| kept.get(id).is_some_and(|new| new.rule == old.rule))
        };
        let keep: BTreeSet<u64> = kept.keys().copied().filter(|id| unchanged(id)).collect();
        self.latches.retain(|(id, _, _), _| keep.contains(id));
        self.since_ms.retain(|(id, _), _| keep.contains(id));
        self.day_start.retain(|(id, _), _| keep.contains(id));
        self.rules = rules.into_iter().filter(|r| r.rule.spec.enabled).collect();
    }

    /// Records that `meter` was heard from at `ts_ms` (also used to seed after a start).
    pub fn heard(&mut self, meter: &MeterId, ts_ms: i64) {
        let last = self.heard_ms.entry(meter.clone()).or_insert(ts_ms);
        *last = (*last).max(ts_ms);
    }

    /// Marks a key raised (an alert the store holds unresolved from before a restart), so
    /// it is not raised twice and resolves when its condition is seen clear.
    pub fn restore(&mut self, rule_id: u64, meter: &MeterId, condition: &str) {
        let key = (rule_id, meter.clone(), condition.to_owned());
        self.latches.entry(key).or_default().raised = true;
    }

    /// A user resolved the key's alert. A momentary event's key is forgotten, so the next
    /// such event raises anew; a lasting condition raises again only after it clears and
    /// recurs.
    pub fn forget(&mut self, rule_id: u64, meter: &MeterId, condition: &str) {
        let key = (rule_id, meter.clone(), condition.to_owned());
        if self.latches.get(&key).is_some_and(|latch| latch.momentary) {
            self.latches.remove(&key);
        }
    }

    /// Evaluates what `meter` reported.
    pub fn observe(&mut self, meter: &MeterId, observation: Observation<'_>) -> Vec<Change> {
        let ts_ms = match observation {
            Observation::Reading(reading) => reading.ts_ms,
            Observation::Event(event) => event.ts_ms,
            Observation::Presence(_, ts_ms) => ts_ms,
        };
        if !matches!(observation, Observation::Presence(false, _)) {
            self.heard(meter, ts_ms);
        }
        let mut changes = Vec::new();
        let rules: Vec<(u64, Condition, u32)> = self
            .rules
            .iter()
            .filter(|r| r.meters.contains(meter))
            .map(|r| {
                (
                    r.rule.id,
                    r.rule.spec.condition.clone(),
                    r.rule.spec.cooldown_s,
                )
            })
            .collect();
        for (rule_id, condition, cooldown_s) in rules {
            let update = match (&condition, observation) {
                (Condition::Offline { .. }, Observation::Reading(_) | Observation::Event(_))
                | (Condition::Offline { .. }, Observation::Presence(true, _)) => {
                    ("offline".to_owned(), None)
                }
                (Condition::PowerAbove { threshold_w, for_s }, Observation::Reading(reading)) => {
                    let above = reading.p_w > *threshold_w;
                    let held = self.sustained(rule_id, meter, above, ts_ms, *for_s);
                    let holding = held.then(|| {
                        let text = format!(
                            "power {:.0} W above {threshold_w:.0} W for {for_s} s",
                            reading.p_w
                        );
                        (text, Some(reading.p_w))
                    });
                    ("power_above".to_owned(), holding)
                }
                (
                    Condition::VoltageOutOfRange {
                        min_v,
                        max_v,
                        for_s,
                    },
                    Observation::Reading(reading),
                ) => {
                    let voltage_v = reading.voltage_v;
                    let outside = !(*min_v..=*max_v).contains(&voltage_v);
                    let held = self.sustained(rule_id, meter, outside, ts_ms, *for_s);
                    let holding = held.then(|| {
                        let text =
                            format!("voltage {voltage_v:.1} V outside {min_v:.0}–{max_v:.0} V");
                        (text, Some(voltage_v))
                    });
                    ("voltage_out_of_range".to_owned(), holding)
                }
                (
                    Condition::DailyEnergyAbove {
                        budget_wh,
                        timezone,
                    },
                    Observation::Reading(reading),
                ) => {
                    let Some(used_wh) = self.energy_today_wh(rule_id, meter, reading, timezone)
                    else {
                        continue;
                    };
                    let holding = (used_wh > *budget_wh).then(|| {
                        let text = format!("{used_wh:.0} Wh used today, budget {budget_wh:.0} Wh");
                        (text, Some(used_wh))
                    });
                    ("daily_energy_above".to_owned(), holding)
                }
                (Condition::Tamper, Observation::Event(event)) if TAMPER.contains(&event.kind) => {
                    let name = event_name(event.kind);
                    let holding = (event.state != EventState::Ended)
                        .then(|| (format!("tamper: {name}"), event.extreme));
                    if event.state == EventState::Instant {
                        self.latches
                            .entry((rule_id, meter.clone(), name.clone()))
                            .or_default()
                            .momentary = true;
                    }
                    (name, holding)
                }
                (Condition::Outage, observation) => {
                    let Some(down) = outage(observation) else {
                        continue;
                    };
                    let holding =
                        down.then(|| ("the supply or the meter is down".to_owned(), None));
                    ("outage".to_owned(), holding)
                }
                _ => continue,
            };
            let (key, holding) = update;
            changes.extend(self.set(rule_id, meter, &key, holding, ts_ms, cooldown_s));
        }
        changes
    }

    /// Evaluates what time alone changes: silent meters, money figures from `market`, and
    /// conditions still holding once their cool-down ends.
    pub fn tick(&mut self, now_ms: i64, market: &dyn MarketInputs) -> Vec<Change> {
        let mut changes = Vec::new();
        let rules: Vec<ScopedRule> = self.rules.clone();
        for scoped in &rules {
            let rule_id = scoped.rule.id;
            let cooldown_s = scoped.rule.spec.cooldown_s;
            for meter in &scoped.meters {
                let (key, holding) = match &scoped.rule.spec.condition {
                    Condition::Offline { for_s } => {
                        let Some(heard) = self.heard_ms.get(meter).copied() else {
                            continue;
                        };
                        let silent_s = (now_ms - heard) / 1000;
                        let holding = (silent_s >= i64::from(*for_s))
                            .then(|| (format!("nothing heard for {silent_s} s"), None));
                        ("offline", holding)
                    }
                    Condition::BillForecastAbove { budget } => {
                        let Some(forecast) = market.bill_forecast(meter, now_ms) else {
                            continue;
                        };
                        let holding = (forecast > *budget).then(|| {
                            let text = format!("bill forecast {forecast:.2} above {budget:.2}");
                            (text, Some(forecast))
                        });
                        ("bill_forecast_above", holding)
                    }
                    Condition::PriceAbove { threshold_per_kwh } => {
                        let Some(price) = market.price_per_kwh(meter, now_ms) else {
                            continue;
                        };
                        let holding = (price > *threshold_per_kwh).then(|| {
                            let text = format!("price {price:.4}/kWh above {threshold_per_kwh}");
                            (text, Some(price))
                        });
                        ("price_above", holding)
                    }
                    _ => {
                        changes.extend(self.retry_held(rule_id, meter, now_ms, cooldown_s));
                        continue;
                    }
                };
                changes.extend(self.set(rule_id, meter, key, holding, now_ms, cooldown_s));
            }
        }
        changes
    }

    /// Raises the keys of a rule and meter that still hold and were held back by a
    /// cool-down that has now ended.
    fn retry_held(
        &mut self,
        rule_id: u64,
        meter: &MeterId,
        now_ms: i64,
        cooldown_s: u32,
    ) -> Vec<Change> {
        let held: Vec<(String, (String, Option<f64>))> = self
            .latches
            .iter()
            .filter(|((id, m, _), latch)| *id == rule_id && m == meter && !latch.raised)
            .filter_map(|((_, _, key), latch)| Some((key.clone(), latch.holding.clone()?)))
            .collect();
        held.into_iter()
            .filter_map(|(key, holding)| {
                self.set(rule_id, meter, &key, Some(holding), now_ms, cooldown_s)
            })
            .collect()
    }

    /// Whether `now_true` has held since at least `for_s` ago.
    fn sustained(
        &mut self,
        rule_id: u64,
        meter: &MeterId,
        now_true: bool,
        ts_ms: i64,
        for_s: u32,
    ) -> bool {
        let key = (rule_id, meter.clone());
        if !now_true {
            self.since_ms.remove(&key);
            return false;
        }
        let since = *self.since_ms.entry(key).or_insert(ts_ms);
        ts_ms - since >= i64::from(for_s) * 1000
    }

    /// Wh imported since the first reading of the reading's local day.
    fn energy_today_wh(
        &mut self,
        rule_id: u64,
        meter: &MeterId,
        reading: &LiveReading,
        timezone: &str,
    ) -> Option<f64> {
        let zone = jiff::tz::TimeZone::get(timezone).ok()?;
        let at = jiff::Timestamp::from_millisecond(reading.ts_ms).ok()?;
        let date = zone.to_offset(at).to_datetime(at).date();
        let import = reading.registers.import_mwh;
        let start = self
            .day_start
            .entry((rule_id, meter.clone()))
            .or_insert((date, import));
        if start.0 != date {
            *start = (date, import);
        }
        Some(import.saturating_sub(start.1) as f64 / 1000.0)
    }

    /// Moves a key's latch: holding raises (once, after the cool-down), not holding clears.
    fn set(
        &mut self,
        rule_id: u64,
        meter: &MeterId,
        key: &str,
        holding: Option<(String, Option<f64>)>,
        ts_ms: i64,
        cooldown_s: u32,
    ) -> Option<Change> {
        let latch = self
            .latches
            .entry((rule_id, meter.clone(), key.to_owned()))
            .or_default();
        let change = |kind| Change {
            rule_id,
            meter: meter.clone(),
            condition: key.to_owned(),
            ts_ms,
            kind,
        };
        match holding {
            None => {
                latch.holding = None;
                if !latch.raised {
                    return None;
                }
                latch.raised = false;
                latch.cleared_ms = Some(ts_ms);
                Some(change(ChangeKind::Clear))
            }
            Some((message, value)) => {
                latch.holding = Some((message.clone(), value));
                let cooled = latch
                    .cleared_ms
                    .is_none_or(|cleared| ts_ms - cleared >= i64::from(cooldown_s) * 1000);
                if latch.raised || !cooled {
                    return None;
                }
                latch.raised = true;
                Some(change(ChangeKind::Raise { message, value }))
            }
        }
    }
}

/// Whether an observation says the supply went down (`Some(true)`) or came back.
fn outage(observation: Observation<'_>) -> Option<bool> {
    match observation {
        Observation::Presence(online, _) => Some(!online),
        Observation::Event(event) => match (event.kind, event.state) {
            (EventKind::Interruption, EventState::Started) | (EventKind::PowerDown, _) => {
                Some(true)
            }
            (EventKind::Interruption, EventState::Ended) | (EventKind::PowerUp, _) => Some(false),
            _ => None,
        },
        Observation::Reading(_) => None,
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
