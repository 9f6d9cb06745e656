//! Solar homes: how much of the generation the home uses itself (self-consumption) and how
//! much of its use its own generation covers (self-sufficiency). Both need the generation,
//! which a meter at the grid connection cannot see; without it the insight says so and
//! gives what import and export alone can tell.

use crate::basis::Basis;
use crate::series::{self, Interval};
use serde::{Deserialize, Serialize};

/// A solar home's balance over a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SolarBalance {
    /// Energy imported, kWh.
    pub import_kwh: f64,
    /// Energy exported, kWh.
    pub export_kwh: f64,
    /// Share of the covered time spent exporting more than importing (0–1).
    pub exporting_share_of_time: f64,
    /// Energy generated, kWh, over the intervals with a generation figure.
    pub generation_kwh: Option<f64>,
    /// Generation used in the home, kWh.
    pub self_consumed_kwh: Option<f64>,
    /// Energy used in the home (import + self-consumed generation), kWh, over the
    /// intervals with a generation figure.
    pub consumption_kwh: Option<f64>,
    /// Share of the generation used in the home (0–1).
    pub self_consumption: Option<f64>,
    /// Share of the home's use covered by its own generation (0–1).
    pub self_sufficiency: Option<f64>,
    /// Why the shares are missing, when they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
    /// What the figures are based on.
    pub basis: Basis,
}

/// Why no balance could be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SolarError {
    /// Nothing usable was given.
    #[error("no usable interval ({skipped} records skipped)")]
    NoData {
        /// Records that could not be used.
        skipped: usize,
    },
}

/// Sums over the intervals that have a generation figure, Wh.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Generation {
    generated: f64,
    self_consumed: f64,
    consumed: f64,
    intervals: usize,
}

/// Self-consumption and self-sufficiency over all the intervals. The shares use only the
/// intervals with a generation figure; without any, they are `None` and `unavailable`
/// says why.
pub fn solar_balance(intervals: &[Interval]) -> Result<SolarBalance, SolarError> {
    let checked = series::check(intervals);
    if checked.intervals.is_empty() {
        return Err(SolarError::NoData {
            skipped: checked.skipped,
        });
    }
    let (mut import_wh, mut export_wh, mut exporting_s, mut covered_s) = (0.0, 0.0, 0.0, 0.0);
    let mut generation = Generation::default();
    for interval in &checked.intervals {
        import_wh += interval.import_wh;
        export_wh += interval.export_wh;
        covered_s += f64::from(interval.duration_s);
        if interval.export_wh > interval.import_wh {
            exporting_s += f64::from(interval.duration_s);
        }
        if let (Some(solar_wh), Some(self_consumed_wh)) =
            (interval.solar_wh, interval.self_consumed_wh())
        {
            generation.generated += solar_wh;
            generation.self_consumed += self_consumed_wh;
            generation.consumed += interval.consumption_wh();
            generation.intervals += 1;
        }
    }
    let known = generation.intervals > 0;
    let self_consumption =
        (generation.generated > 0.0).then(|| generation.self_consumed / generation.generated);
    let self_sufficiency =
        (generation.consumed > 0.0).then(|| generation.self_consumed / generation.consumed);
    let unavailable = if !known {
        Some("The meter sees only import and export: self-consumption and self-sufficiency need the generation series of the inverter.".to_owned())
    } else if self_consumption.is_none() {
        Some("Nothing was generated in the period.".to_owned())
    } else {
        None
    };
    let partial = (known && generation.intervals < checked.intervals.len()).then(|| {
        format!(
            "Shares use the {} of {} intervals that have a generation figure.",
            generation.intervals,
            checked.intervals.len()
        )
    });
    let method = if known {
        "Self-consumption = (generation − export) / generation; self-sufficiency = (generation − export) / (import + generation − export), summed over the intervals."
    } else {
        "Import and export summed over the intervals; time with export above import counted."
    };
    let to_kwh = |wh: f64| known.then_some(wh / 1000.0);
    Ok(SolarBalance {
        import_kwh: import_wh / 1000.0,
        export_kwh: export_wh / 1000.0,
        exporting_share_of_time: exporting_s / covered_s,
        generation_kwh: to_kwh(generation.generated),
        self_consumed_kwh: to_kwh(generation.self_consumed),
        consumption_kwh: to_kwh(generation.consumed),
        self_consumption,
        self_sufficiency,
        basis: Basis::from_intervals(&checked.intervals, checked.skipped, method)
            .with_note(unavailable.clone())
            .with_note(partial),
        unavailable,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::tests::import;
    use proptest::prelude::*;

    fn with_solar(
        start_ms: i64,
        import_wh: f64,
        export_wh: f64,
        solar_wh: Option<f64>,
    ) -> Interval {
        Interval {
            export_wh,
            solar_wh,
            ..import(start_ms, 900, import_wh)
        }
    }

    #[test]
    fn shares_by_hand() {
        // Generated 1000 + 3000 Wh, exported 0 + 2000 → self-consumed 2000 of 4000: 50 %.
        // Imported 500 + 0 → consumption 2500; self-sufficiency 2000 / 2500 = 80 %.
        let intervals = [
            with_solar(0, 500.0, 0.0, Some(1000.0)),
            with_solar(900_000, 0.0, 2000.0, Some(3000.0)),
        ];
        let balance = solar_balance(&intervals).expect("balance");
        assert_eq!(balance.generation_kwh, Some(4.0));
        assert_eq!(balance.self_consumed_kwh, Some(2.0));
        assert_eq!(balance.consumption_kwh, Some(2.5));
        assert_eq!(balance.self_consumption, Some(0.5));
        assert_eq!(balance.self_sufficiency, Some(0.8));
        assert_eq!(balance.exporting_share_of_time, 0.5);
        assert_eq!(balance.unavailable, None);
        assert!(balance.basis.notes.is_empty());
    }

    #[test]
    fn without_generation_the_shares_are_missing_with_a_reason() {
        let intervals = [
            with_solar(0, 500.0, 0.0, None),
            with_solar(900_000, 0.0, 2000.0, None),
            with_solar(1_800_000, 100.0, 300.0, None),
        ];
        let balance = solar_balance(&intervals).expect("balance");
        assert_eq!(balance.self_consumption, None);
        assert_eq!(balance.self_sufficiency, None);
        assert_eq!(balance.generation_kwh, None);
        assert!(
            balance
                .unavailable
                .as_deref()
                .is_some_and(|r| r.contains("only import and export"))
        );
        assert_eq!(balance.export_kwh, 2.3);
        assert!((balance.exporting_share_of_time - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(balance.basis.notes.len(), 1);
    }

    #[test]
    fn partial_generation_and_dark_periods_are_noted() {
        let intervals = [
            with_solar(0, 500.0, 0.0, Some(0.0)),
            with_solar(900_000, 10.0, 0.0, None),
        ];
        let balance = solar_balance(&intervals).expect("balance");
        assert_eq!(balance.self_consumption, None);
        assert_eq!(balance.self_sufficiency, Some(0.0));
        assert_eq!(
            balance.unavailable.as_deref(),
            Some("Nothing was generated in the period.")
        );
        assert_eq!(balance.basis.notes.len(), 2);
        assert_eq!(solar_balance(&[]), Err(SolarError::NoData { skipped: 0 }));
    }

    proptest! {
        #[test]
        fn shares_stay_between_zero_and_one(
            records in proptest::collection::vec(
                (0.0..5000.0f64, 0.0..5000.0f64, proptest::option::of(0.0..8000.0f64)),
                1..200,
            ),
        ) {
            let intervals: Vec<Interval> = records
                .iter()
                .enumerate()
                .map(|(k, &(import_wh, export_wh, solar_wh))| with_solar(k as i64 * 900_000, import_wh, export_wh, solar_wh))
                .collect();
            let balance = solar_balance(&intervals).expect("balance");
            for share in [balance.self_consumption, balance.self_sufficiency].into_iter().flatten() {
                prop_assert!((0.0..=1.0).contains(&share), "{share}");
            }
            prop_assert!((0.0..=1.0).contains(&balance.exporting_share_of_time));
        }
    }
}
