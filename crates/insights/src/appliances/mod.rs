//! Appliance events from second-by-second power: which loads switched on and off, for how
//! long, at what power, and what they probably were. The pipeline is four small steps:
//! [`steps`] finds on/off steps between steady levels, [`events`] pairs them into events,
//! [`cluster`] groups events by size and duration, and [`label`] names them by rules that
//! say why.

mod cluster;
mod events;
mod label;
mod steps;

use crate::basis::Basis;
use crate::series::PowerSample;
use serde::{Deserialize, Serialize};

/// How steps are found and paired.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetectorOptions {
    /// Smallest change of steady level that is a step, W.
    pub step_threshold_w: f64,
    /// How far samples of one steady level may stray from its mean, W (above the noise).
    pub steady_tolerance_w: f64,
    /// How long a new level must hold before it counts, ms (longer than a motor's inrush).
    pub settle_ms: i64,
    /// Longest gap between samples that is not a break in the trace, ms.
    pub max_gap_ms: i64,
    /// How far an off step's magnitude may differ from its on step's, as a share of the
    /// on step (at least `steady_tolerance_w`).
    pub match_tolerance: f64,
    /// Longest pause between two cycles of one appliance (an oven's thermostat, a heat
    /// pump), ms.
    pub cycle_gap_ms: i64,
}

impl Default for DetectorOptions {
    /// 150 W steps, 50 W tolerance, 3 s settling, 30 s gaps, 15 % matching, 45 min cycles.
    fn default() -> Self {
        Self {
            step_threshold_w: 150.0,
            steady_tolerance_w: 50.0,
            settle_ms: 3000,
            max_gap_ms: 30_000,
            match_tolerance: 0.15,
            cycle_gap_ms: 45 * 60_000,
        }
    }
}

/// What an appliance probably is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplianceKind {
    /// A kettle: about 2 kW for a few minutes.
    Kettle,
    /// An oven: about 2.5 kW for most of an hour, often cycling.
    Oven,
    /// A washing machine: its heater pulse beside the motor.
    WashingMachine,
    /// An electric vehicle charger: several kW for hours.
    EvCharger,
    /// A heat pump: around a kW, cycling for tens of minutes.
    HeatPump,
    /// No rule matched.
    Unknown,
}

/// One appliance switched on and off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplianceEvent {
    /// Switched on, Unix ms.
    pub start_ms: i64,
    /// Switched off, Unix ms.
    pub end_ms: i64,
    /// Time on, s.
    pub duration_s: f64,
    /// Power drawn, W (mean of the on and off steps).
    pub power_w: f64,
    /// Energy used, Wh.
    pub energy_wh: f64,
    /// Index of its group in [`ApplianceReport::clusters`].
    pub cluster: usize,
    /// What it probably was.
    pub appliance: ApplianceKind,
    /// The rule that gave the label, with the figures it matched on.
    pub rule: String,
}

/// Events of similar size and duration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventCluster {
    /// Events in the group.
    pub events: usize,
    /// Typical power, W (geometric mean).
    pub power_w: f64,
    /// Typical time on, s (geometric mean).
    pub duration_s: f64,
    /// Energy of all its events, Wh.
    pub energy_wh: f64,
    /// The label most of its events carry.
    pub appliance: ApplianceKind,
}

/// The appliance events of a power trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApplianceReport {
    /// Events in order of start.
    pub events: Vec<ApplianceEvent>,
    /// Groups of similar events, numbered as `ApplianceEvent::cluster` refers to them.
    pub clusters: Vec<EventCluster>,
    /// On steps never switched off in the trace (still on at its end or at a gap, or not
    /// recognised when they switched off).
    pub unmatched_on_steps: usize,
    /// Off steps that matched no on step (two loads off at once, or on before the trace).
    pub unmatched_off_steps: usize,
    /// What the detection is based on (`used` counts samples).
    pub basis: Basis,
}

/// Why appliance detection could not run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplianceError {
    /// An option is out of range.
    #[error("detector options: {0}")]
    InvalidOptions(&'static str),
    /// No usable sample (none given, or all NaN).
    #[error("no usable power sample ({skipped} skipped)")]
    NoSamples {
        /// Samples that could not be used.
        skipped: usize,
    },
}

fn check_options(options: &DetectorOptions) -> Result<(), ApplianceError> {
    let positive = |w: f64| w.is_finite() && w > 0.0;
    if !positive(options.step_threshold_w) {
        return Err(ApplianceError::InvalidOptions(
            "step_threshold_w must be positive",
        ));
    }
    if !positive(options.steady_tolerance_w)
        || options.steady_tolerance_w >= options.step_threshold_w
    {
        return Err(ApplianceError::InvalidOptions(
            "steady_tolerance_w must be positive and below step_threshold_w",
        ));
    }
    if !(options.match_tolerance.is_finite() && (0.0..1.0).contains(&options.match_tolerance)) {
        return Err(ApplianceError::InvalidOptions(
            "match_tolerance must be in 0..1",
        ));
    }
    if options.settle_ms < 0 || options.max_gap_ms <= 0 || options.cycle_gap_ms < 0 {
        return Err(ApplianceError::InvalidOptions(
            "settle_ms and cycle_gap_ms must not be negative, max_gap_ms must be positive",
        ));
    }
    Ok(())
}

/// Largest power a sample may show, W: beyond it (a gigawatt) a reading is corrupt.
const MAX_ABS_POWER_W: f64 = 1e9;

/// The plausible samples in time order, one per instant (the first of duplicates).
fn usable(samples: &[PowerSample]) -> Vec<PowerSample> {
    let mut usable: Vec<PowerSample> = samples
        .iter()
        .copied()
        .filter(|s| s.p_w.abs() <= MAX_ABS_POWER_W)
        .collect();
    usable.sort_by_key(|s| s.ts_ms);
    usable.dedup_by_key(|s| s.ts_ms);
    usable
}

/// The basis of a detection over `samples` (usable, in order, not empty).
fn basis(samples: &[PowerSample], skipped: usize, options: &DetectorOptions) -> Basis {
    let covered_ms: f64 = samples
        .windows(2)
        .map(|pair| pair[1].ts_ms.saturating_sub(pair[0].ts_ms))
        .filter(|gap_ms| *gap_ms <= options.max_gap_ms)
        .map(|gap_ms| gap_ms as f64)
        .sum();
    Basis {
        from_ms: samples.first().map_or(0, |s| s.ts_ms),
        to_ms: samples.last().map_or(0, |s| s.ts_ms),
        used: samples.len(),
        skipped,
        covered_days: covered_ms / 86_400_000.0,
        method: format!(
            "Steps of at least {:.0} W between levels steady for {:.0} s, paired by magnitude into events, grouped by size and duration, and labelled by rules.",
            options.step_threshold_w,
            options.settle_ms as f64 / 1000.0
        ),
        notes: Vec::new(),
    }
}

/// Appliance events found in `samples` (any order; NaN, powers beyond a gigawatt and repeated
/// instants are skipped).
pub fn detect_appliances(
    samples: &[PowerSample],
    options: &DetectorOptions,
) -> Result<ApplianceReport, ApplianceError> {
    check_options(options)?;
    let trace = usable(samples);
    let skipped = samples.len() - trace.len();
    if trace.is_empty() {
        return Err(ApplianceError::NoSamples { skipped });
    }
    let pairing = events::pair(&steps::edges(&trace, options), options);
    let groups = cluster::cluster(&pairing.events);
    let labels = label::label(&pairing.events, options.cycle_gap_ms);
    let events: Vec<ApplianceEvent> = pairing
        .events
        .iter()
        .zip(groups)
        .zip(labels)
        .map(|((event, cluster), label)| ApplianceEvent {
            start_ms: event.start_ms,
            end_ms: event.end_ms,
            duration_s: event.duration_s(),
            power_w: event.power_w,
            energy_wh: event.power_w * event.duration_s() / 3600.0,
            cluster,
            appliance: label.kind,
            rule: label.rule,
        })
        .collect();
    Ok(ApplianceReport {
        clusters: summarise(&events),
        events,
        unmatched_on_steps: pairing.unmatched_on,
        unmatched_off_steps: pairing.unmatched_off,
        basis: basis(&trace, skipped, options),
    })
}

/// One summary per cluster index used by `events`.
fn summarise(events: &[ApplianceEvent]) -> Vec<EventCluster> {
    let count = events.iter().map(|e| e.cluster + 1).max().unwrap_or(0);
    (0..count)
        .map(|index| {
            let members: Vec<&ApplianceEvent> =
                events.iter().filter(|e| e.cluster == index).collect();
            let n = members.len().max(1) as f64;
            let mean_ln = |value: fn(&ApplianceEvent) -> f64| {
                (members.iter().map(|e| value(e).max(1e-9).ln()).sum::<f64>() / n).exp()
            };
            let mut votes: std::collections::BTreeMap<ApplianceKind, usize> = Default::default();
            for member in &members {
                *votes.entry(member.appliance).or_default() += 1;
            }
            let appliance = votes
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map_or(ApplianceKind::Unknown, |(kind, _)| *kind);
            EventCluster {
                events: members.len(),
                power_w: mean_ln(|e| e.power_w),
                duration_s: mean_ln(|e| e.duration_s),
                energy_wh: members.iter().map(|e| e.energy_wh).sum(),
                appliance,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One sample a second: `base_w`, plus `load_w` from `on_s` to `off_s`.
    fn rectangle(base_w: f64, load_w: f64, on_s: i64, off_s: i64, end_s: i64) -> Vec<PowerSample> {
        (0..end_s)
            .map(|t| PowerSample {
                ts_ms: t * 1000,
                p_w: base_w
                    + if (on_s..off_s).contains(&t) {
                        load_w
                    } else {
                        0.0
                    },
            })
            .collect()
    }

    #[test]
    fn a_kettle_end_to_end() {
        let report = detect_appliances(
            &rectangle(80.0, 2200.0, 60, 240, 400),
            &DetectorOptions::default(),
        )
        .expect("report");
        assert_eq!(report.events.len(), 1);
        let kettle = &report.events[0];
        assert_eq!((kettle.start_ms, kettle.end_ms), (60_000, 240_000));
        assert_eq!(kettle.power_w, 2200.0);
        assert_eq!(kettle.energy_wh, 110.0);
        assert_eq!(kettle.appliance, ApplianceKind::Kettle);
        assert_eq!(report.clusters.len(), 1);
        assert_eq!(report.clusters[0].appliance, ApplianceKind::Kettle);
        assert!((report.clusters[0].power_w - 2200.0).abs() < 1e-6);
        assert_eq!(report.basis.used, 400);
        assert!((report.basis.covered_days - 399.0 / 86_400.0).abs() < 1e-12);
    }

    #[test]
    fn nan_duplicates_and_order_do_not_matter() {
        let mut samples = rectangle(80.0, 2200.0, 60, 240, 400);
        samples.reverse();
        samples.push(PowerSample {
            ts_ms: 5000,
            p_w: f64::NAN,
        });
        samples.push(PowerSample {
            ts_ms: 7000,
            p_w: 99_999.0,
        });
        let report = detect_appliances(&samples, &DetectorOptions::default()).expect("report");
        assert_eq!(report.events.len(), 1);
        assert_eq!(report.basis.skipped, 2);
    }

    #[test]
    fn refusals() {
        let options = DetectorOptions::default();
        let nan = [PowerSample {
            ts_ms: 0,
            p_w: f64::NAN,
        }];
        assert_eq!(
            detect_appliances(&nan, &options),
            Err(ApplianceError::NoSamples { skipped: 1 })
        );
        assert_eq!(
            detect_appliances(&[], &options),
            Err(ApplianceError::NoSamples { skipped: 0 })
        );
        for bad in [
            DetectorOptions {
                step_threshold_w: f64::NAN,
                ..options
            },
            DetectorOptions {
                steady_tolerance_w: 200.0,
                ..options
            },
            DetectorOptions {
                match_tolerance: 1.5,
                ..options
            },
            DetectorOptions {
                max_gap_ms: 0,
                ..options
            },
        ] {
            assert!(matches!(
                detect_appliances(&nan, &bad),
                Err(ApplianceError::InvalidOptions(_))
            ));
        }
    }
}
