//! CO2 of the electricity a home takes from the grid, and the CO2 its own generation avoids,
//! from a grid intensity the caller supplies: one figure, or a series from a grid operator
//! or a forecast service (the hub fetches it; this crate does no I/O).

use crate::basis::Basis;
use crate::series::{self, Interval};
use serde::{Deserialize, Serialize};

/// Grid carbon intensity over a span of time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IntensityPoint {
    /// Start, Unix ms (inclusive).
    pub start_ms: i64,
    /// End, Unix ms (exclusive).
    pub end_ms: i64,
    /// Grams of CO2 per kWh.
    pub g_per_kwh: f64,
}

/// How carbon-intensive grid electricity is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GridIntensity {
    /// One figure for all times, g CO2 per kWh.
    Static {
        /// Grams of CO2 per kWh.
        g_per_kwh: f64,
    },
    /// A figure per span of time; energy outside every span has no CO2 figure.
    Series(Vec<IntensityPoint>),
}

/// CO2 of a period's electricity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CarbonFootprint {
    /// Energy imported, kWh.
    pub import_kwh: f64,
    /// CO2 of the imported energy that has an intensity, kg.
    pub import_kg: f64,
    /// Imported energy outside every intensity span, kWh (not in `import_kg`).
    pub import_without_intensity_kwh: f64,
    /// Energy exported, kWh.
    pub export_kwh: f64,
    /// CO2 the exported energy avoids elsewhere on the grid, kg.
    pub export_avoided_kg: f64,
    /// Own generation used in the home, kWh (`None` without a generation series).
    pub self_consumed_kwh: Option<f64>,
    /// CO2 the self-consumed generation avoids importing, kg.
    pub self_consumption_avoided_kg: Option<f64>,
    /// What the figures are based on.
    pub basis: Basis,
}

/// Why no footprint could be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CarbonError {
    /// The static intensity is negative or not a number.
    #[error("grid intensity {0} g/kWh is not usable")]
    InvalidIntensity(f64),
    /// Nothing usable was given.
    #[error("no usable interval ({skipped} records skipped)")]
    NoData {
        /// Records that could not be used.
        skipped: usize,
    },
}

/// Intensity points in time order without overlaps (the first of two overlapping wins).
fn usable_points(points: &[IntensityPoint]) -> Vec<IntensityPoint> {
    let mut usable: Vec<IntensityPoint> = points
        .iter()
        .copied()
        .filter(|p| p.g_per_kwh.is_finite() && p.g_per_kwh >= 0.0 && p.end_ms > p.start_ms)
        .collect();
    usable.sort_by_key(|p| p.start_ms);
    let mut kept: Vec<IntensityPoint> = Vec::with_capacity(usable.len());
    for point in usable {
        if kept.last().is_none_or(|last| point.start_ms >= last.end_ms) {
            kept.push(point);
        }
    }
    kept
}

/// The intensity over one interval: the time-weighted mean of the spans it overlaps, g/kWh,
/// and the share of the interval they cover (0–1).
fn intensity_over(interval: &Interval, intensity: &[IntensityPoint]) -> (f64, f64) {
    let (start, end) = (interval.start_ms, interval.end_ms());
    let first = intensity.partition_point(|p| p.end_ms <= start);
    let (mut weighted, mut covered_ms) = (0.0, 0.0);
    for point in intensity[first..].iter().take_while(|p| p.start_ms < end) {
        let overlap_ms = (point.end_ms.min(end) - point.start_ms.max(start)) as f64;
        weighted += point.g_per_kwh * overlap_ms;
        covered_ms += overlap_ms;
    }
    let share = covered_ms / (end - start) as f64;
    let mean = if covered_ms > 0.0 {
        weighted / covered_ms
    } else {
        0.0
    };
    (mean, share)
}

/// CO2 of the import over all the intervals, and what export and self-consumed generation
/// avoid, at the grid's average intensity.
pub fn carbon(
    intervals: &[Interval],
    intensity: &GridIntensity,
) -> Result<CarbonFootprint, CarbonError> {
    let points = match intensity {
        GridIntensity::Static { g_per_kwh } if !(g_per_kwh.is_finite() && *g_per_kwh >= 0.0) => {
            return Err(CarbonError::InvalidIntensity(*g_per_kwh));
        }
        GridIntensity::Static { g_per_kwh } => vec![IntensityPoint {
            start_ms: i64::MIN,
            end_ms: i64::MAX,
            g_per_kwh: *g_per_kwh,
        }],
        GridIntensity::Series(points) => usable_points(points),
    };
    let checked = series::check(intervals);
    if checked.intervals.is_empty() {
        return Err(CarbonError::NoData {
            skipped: checked.skipped,
        });
    }
    let mut import_wh = 0.0;
    let mut import_g = 0.0;
    let mut uncovered_wh = 0.0;
    let mut export_wh = 0.0;
    let mut export_g = 0.0;
    let mut self_consumed: Option<(f64, f64)> = None;
    for interval in &checked.intervals {
        let (g_per_kwh, share) = intensity_over(interval, &points);
        import_wh += interval.import_wh;
        import_g += interval.import_wh * share * g_per_kwh / 1000.0;
        uncovered_wh += interval.import_wh * (1.0 - share);
        export_wh += interval.export_wh;
        export_g += interval.export_wh * share * g_per_kwh / 1000.0;
        if let Some(wh) = interval.self_consumed_wh() {
            let (sum_wh, sum_g) = self_consumed.get_or_insert((0.0, 0.0));
            *sum_wh += wh;
            *sum_g += wh * share * g_per_kwh / 1000.0;
        }
    }
    let method = match intensity {
        GridIntensity::Static { g_per_kwh } => {
            format!("Energy times a static grid intensity of {g_per_kwh} g CO2 per kWh; export and self-consumption avoid the same.")
        }
        GridIntensity::Series(_) => "Energy of each interval times the time-weighted grid intensity over it; export and self-consumption avoid the same.".to_owned(),
    };
    let uncovered_note = (uncovered_wh > 0.0).then(|| {
        format!(
            "{:.1} kWh of import fell outside the intensity series and has no CO2 figure.",
            uncovered_wh / 1000.0
        )
    });
    Ok(CarbonFootprint {
        import_kwh: import_wh / 1000.0,
        import_kg: import_g / 1000.0,
        import_without_intensity_kwh: uncovered_wh / 1000.0,
        export_kwh: export_wh / 1000.0,
        export_avoided_kg: export_g / 1000.0,
        self_consumed_kwh: self_consumed.map(|(wh, _)| wh / 1000.0),
        self_consumption_avoided_kg: self_consumed.map(|(_, g)| g / 1000.0),
        basis: Basis::from_intervals(&checked.intervals, checked.skipped, &method)
            .with_note(uncovered_note)
            .with_note(Some(
                "Avoided CO2 uses the grid's average intensity, not that of the plant the energy displaced.".to_owned(),
            )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::tests::import;

    const HOUR_MS: i64 = 3_600_000;

    #[test]
    fn static_intensity_by_hand() {
        let intervals = [
            import(0, 3600, 2000.0),
            Interval {
                export_wh: 1000.0,
                solar_wh: Some(1500.0),
                ..import(HOUR_MS, 3600, 500.0)
            },
        ];
        let result =
            carbon(&intervals, &GridIntensity::Static { g_per_kwh: 300.0 }).expect("footprint");
        // 2.5 kWh × 300 g = 0.75 kg; 1 kWh export × 300 g = 0.3 kg; 0.5 kWh self-used.
        assert!((result.import_kg - 0.75).abs() < 1e-12);
        assert!((result.export_avoided_kg - 0.3).abs() < 1e-12);
        assert_eq!(result.self_consumed_kwh, Some(0.5));
        assert!((result.self_consumption_avoided_kg.expect("solar") - 0.15).abs() < 1e-12);
        assert_eq!(result.import_without_intensity_kwh, 0.0);
        assert_eq!(result.basis.used, 2);
    }

    #[test]
    fn series_is_weighted_by_overlap() {
        // One hour of 1 kWh over two half-hour spans of 100 and 300 g: 200 g.
        let points = vec![
            IntensityPoint {
                start_ms: HOUR_MS / 2,
                end_ms: HOUR_MS,
                g_per_kwh: 300.0,
            },
            IntensityPoint {
                start_ms: 0,
                end_ms: HOUR_MS / 2,
                g_per_kwh: 100.0,
            },
            IntensityPoint {
                start_ms: 0,
                end_ms: HOUR_MS,
                g_per_kwh: f64::NAN,
            },
        ];
        let result =
            carbon(&[import(0, 3600, 1000.0)], &GridIntensity::Series(points)).expect("ok");
        assert!((result.import_kg - 0.2).abs() < 1e-12);
        assert_eq!(result.self_consumed_kwh, None);
    }

    #[test]
    fn energy_outside_the_series_is_reported_not_counted() {
        let points = vec![IntensityPoint {
            start_ms: 0,
            end_ms: HOUR_MS / 4,
            g_per_kwh: 400.0,
        }];
        let result =
            carbon(&[import(0, 3600, 1000.0)], &GridIntensity::Series(points)).expect("ok");
        assert!((result.import_kg - 0.1).abs() < 1e-12);
        assert!((result.import_without_intensity_kwh - 0.75).abs() < 1e-12);
        assert_eq!(result.basis.notes.len(), 2);
    }

    #[test]
    fn refusals() {
        let bad = GridIntensity::Static { g_per_kwh: -1.0 };
        assert_eq!(carbon(&[], &bad), Err(CarbonError::InvalidIntensity(-1.0)));
        let ok = GridIntensity::Static { g_per_kwh: 1.0 };
        assert_eq!(
            carbon(&[import(0, 0, 1.0)], &ok),
            Err(CarbonError::NoData { skipped: 1 })
        );
    }
}
