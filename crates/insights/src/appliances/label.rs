//! Heuristic labels. Events of similar power that follow each other closely form a session
//! (an oven's thermostat, a heat pump's cycles); sessions of three cycles or more are judged
//! as a whole, other events one by one. Each label carries the rule that matched and the
//! figures it matched on, so that the portal can say why it thinks a load is a kettle.

use super::ApplianceKind;
use super::events::Event;

const MINUTE_S: f64 = 60.0;

/// Events within this ratio of a session's first power join it.
const SESSION_POWER_RATIO: f64 = 0.2;

/// Power range of a washing machine's motor, W: what shows the drum turns near a heater.
const MOTOR_W: std::ops::RangeInclusive<f64> = 100.0..=1000.0;

/// How far from a heater pulse motor activity is looked for, s.
const MOTOR_WINDOW_S: f64 = 30.0 * MINUTE_S;

/// An appliance kind and the rule that gave it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Label {
    pub(super) kind: ApplianceKind,
    pub(super) rule: String,
}

/// A run of events of similar power, each starting within the cycle gap of the one before.
#[derive(Debug, Clone, PartialEq)]
struct Session {
    members: Vec<usize>,
    first_power_w: f64,
    last_end_ms: i64,
}

fn kw(power_w: f64) -> String {
    format!("{:.1} kW", power_w / 1000.0)
}

fn minutes(duration_s: f64) -> String {
    format!("{:.0} min", duration_s / MINUTE_S)
}

/// The label of every event of `events` (sorted by start), in the same order.
pub(super) fn label(events: &[Event], cycle_gap_ms: i64) -> Vec<Label> {
    let mut labels: Vec<Option<Label>> = vec![None; events.len()];
    for session in sessions(events, cycle_gap_ms) {
        if let Some(label) = cycling(events, &session.members) {
            for &member in &session.members {
                labels[member] = Some(label.clone());
            }
        }
    }
    labels
        .into_iter()
        .zip(events)
        .map(|(label, event)| label.unwrap_or_else(|| single(event, events)))
        .collect()
}

fn sessions(events: &[Event], cycle_gap_ms: i64) -> Vec<Session> {
    let mut sessions: Vec<Session> = Vec::new();
    for (index, event) in events.iter().enumerate() {
        let joins = sessions
            .iter_mut()
            .filter(|s| {
                s.last_end_ms.saturating_add(cycle_gap_ms) >= event.start_ms
                    && (event.power_w - s.first_power_w).abs()
                        <= SESSION_POWER_RATIO * s.first_power_w
            })
            .max_by_key(|s| s.last_end_ms);
        match joins {
            Some(session) => {
                session.members.push(index);
                session.last_end_ms = session.last_end_ms.max(event.end_ms);
            }
            None => sessions.push(Session {
                members: vec![index],
                first_power_w: event.power_w,
                last_end_ms: event.end_ms,
            }),
        }
    }
    sessions
}

/// The label of a session of three cycles or more, if a cycling rule matches.
fn cycling(events: &[Event], members: &[usize]) -> Option<Label> {
    if members.len() < 3 {
        return None;
    }
    let cycles: Vec<&Event> = members.iter().filter_map(|&k| events.get(k)).collect();
    let power_w = cycles.iter().map(|e| e.power_w).sum::<f64>() / cycles.len() as f64;
    let mean_on_s = cycles.iter().map(|e| e.duration_s()).sum::<f64>() / cycles.len() as f64;
    let start_ms = cycles.iter().map(|e| e.start_ms).min()?;
    let end_ms = cycles.iter().map(|e| e.end_ms).max()?;
    let span_s = end_ms.saturating_sub(start_ms) as f64 / 1000.0;
    let seen = format!(
        "{}, {} cycles of {} on average over {}",
        kw(power_w),
        cycles.len(),
        minutes(mean_on_s),
        minutes(span_s)
    );
    if (1500.0..=3500.0).contains(&power_w)
        && (20.0 * MINUTE_S..=90.0 * MINUTE_S).contains(&span_s)
        && mean_on_s < 8.0 * MINUTE_S
    {
        return Some(Label {
            kind: ApplianceKind::Oven,
            rule: format!(
                "oven: 1.5–3.5 kW thermostat cycles of under 8 min over 20–90 min ({seen})"
            ),
        });
    }
    if (500.0..=3000.0).contains(&power_w)
        && (8.0 * MINUTE_S..=90.0 * MINUTE_S).contains(&mean_on_s)
    {
        return Some(Label {
            kind: ApplianceKind::HeatPump,
            rule: format!("heat pump: 0.5–3 kW cycling on for 8–90 min at a time ({seen})"),
        });
    }
    None
}

/// The label of one event judged on its own.
fn single(event: &Event, all: &[Event]) -> Label {
    let (power_w, duration_s) = (event.power_w, event.duration_s());
    let seen = format!("{} for {}", kw(power_w), minutes(duration_s));
    let (kind, rule) = if (3000.0..=11_500.0).contains(&power_w) && duration_s >= 30.0 * MINUTE_S {
        (
            ApplianceKind::EvCharger,
            "EV charger: steady 3–11.5 kW for at least 30 min",
        )
    } else if (1500.0..=3500.0).contains(&power_w)
        && (20.0 * MINUTE_S..=90.0 * MINUTE_S).contains(&duration_s)
    {
        (ApplianceKind::Oven, "oven: 1.5–3.5 kW for 20–90 min")
    } else if (1600.0..=2600.0).contains(&power_w)
        && (8.0 * MINUTE_S..20.0 * MINUTE_S).contains(&duration_s)
        && motor_nearby(event, all)
    {
        (
            ApplianceKind::WashingMachine,
            "washing machine: a 1.6–2.6 kW heater for 8–20 min with a 0.1–1 kW motor load within 30 min",
        )
    } else if (1800.0..=3200.0).contains(&power_w)
        && (MINUTE_S..=5.5 * MINUTE_S).contains(&duration_s)
    {
        (ApplianceKind::Kettle, "kettle: 1.8–3.2 kW for 1–5.5 min")
    } else {
        (ApplianceKind::Unknown, "no rule matched")
    };
    Label {
        kind,
        rule: format!("{rule} ({seen})"),
    }
}

/// Whether a motor-sized load ran within the motor window around `heater`.
fn motor_nearby(heater: &Event, all: &[Event]) -> bool {
    let window_ms = (MOTOR_WINDOW_S * 1000.0) as i64;
    let (from_ms, to_ms) = (
        heater.start_ms.saturating_sub(window_ms),
        heater.end_ms.saturating_add(window_ms),
    );
    all.iter()
        .any(|e| MOTOR_W.contains(&e.power_w) && e.start_ms < to_ms && e.end_ms > from_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(start_min: f64, minutes: f64, power_w: f64) -> Event {
        let start_ms = (start_min * 60_000.0) as i64;
        Event {
            start_ms,
            end_ms: start_ms + (minutes * 60_000.0) as i64,
            power_w,
        }
    }

    fn kinds(events: &[Event]) -> Vec<ApplianceKind> {
        label(events, 45 * 60_000)
            .into_iter()
            .map(|l| l.kind)
            .collect()
    }

    #[test]
    fn single_events_by_their_size_and_length() {
        use ApplianceKind::*;
        let events = [
            event(0.0, 3.0, 2200.0),
            event(60.0, 95.0, 7400.0),
            event(300.0, 50.0, 2400.0),
            event(500.0, 240.0, 180.0),
        ];
        assert_eq!(kinds(&events), vec![Kettle, EvCharger, Oven, Unknown]);
        let labels = label(&events, 45 * 60_000);
        assert_eq!(
            labels[0].rule,
            "kettle: 1.8–3.2 kW for 1–5.5 min (2.2 kW for 3 min)"
        );
        assert!(
            labels[3]
                .rule
                .starts_with("no rule matched (0.2 kW for 240 min)")
        );
    }

    #[test]
    fn a_thermostat_makes_an_oven_and_long_cycles_a_heat_pump() {
        use ApplianceKind::*;
        // Oven: 2.5 kW on 4 min, off 3 min, six times (39 min).
        let oven: Vec<Event> = (0..6)
            .map(|k| event(f64::from(k) * 7.0, 4.0, 2500.0))
            .collect();
        assert_eq!(kinds(&oven), vec![Oven; 6]);
        // Heat pump: 1.2 kW on 14 min, off 16 min, for three hours.
        let heat_pump: Vec<Event> = (0..6)
            .map(|k| event(f64::from(k) * 30.0, 14.0, 1200.0))
            .collect();
        assert_eq!(kinds(&heat_pump), vec![HeatPump; 6]);
        // Two kettles twenty minutes apart stay kettles.
        assert_eq!(
            kinds(&[event(0.0, 3.0, 2200.0), event(20.0, 3.0, 2150.0)]),
            vec![Kettle, Kettle]
        );
    }

    #[test]
    fn a_heater_pulse_needs_a_motor_to_be_a_washing_machine() {
        use ApplianceKind::*;
        let heater = event(10.0, 15.0, 2000.0);
        assert_eq!(kinds(&[heater]), vec![Unknown]);
        let drum: Vec<Event> = (0..3)
            .map(|k| event(f64::from(k) * 2.0, 1.0, 300.0))
            .collect();
        let mut cycle = drum.clone();
        cycle.push(heater);
        cycle.sort_by_key(|e| e.start_ms);
        let kinds = kinds(&cycle);
        assert_eq!(kinds.iter().filter(|k| **k == WashingMachine).count(), 1);
    }

    #[test]
    fn a_kettle_after_the_oven_keeps_both_labels() {
        use ApplianceKind::*;
        // The oven's 50 minutes end 30 minutes before a kettle of similar power.
        let events = [event(0.0, 50.0, 2400.0), event(80.0, 3.0, 2200.0)];
        assert_eq!(kinds(&events), vec![Oven, Kettle]);
    }
}
