//! How this period compares: with the period of the same length before it, and with
//! similar homes (the caller picks the peers: same tariff, same size). A number alone says
//! little; "12 % less than last month, less than 70 % of similar homes" says something.

use crate::basis::Basis;
use crate::series::{self, Checked, Interval, Period};
use crate::stats::median;
use serde::{Deserialize, Serialize};

/// The energy of one period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PeriodTotal {
    /// The period.
    pub period: Period,
    /// Energy used, kWh.
    pub kwh: f64,
    /// Share of the period covered by data (0–1).
    pub coverage: f64,
}

/// This period against the one before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodComparison {
    /// The period asked about.
    pub current: PeriodTotal,
    /// The period of the same length just before it.
    pub previous: PeriodTotal,
    /// Current minus previous, kWh.
    pub change_kwh: f64,
    /// Change relative to the previous period, % (`None` when the previous used nothing).
    pub change_pct: Option<f64>,
    /// What the comparison is based on.
    pub basis: Basis,
}

/// Energy totals of similar homes over the same period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerGroup {
    /// Who the peers are, for people ("homes on the same tariff with 3–4 occupants").
    pub description: String,
    /// Each peer's energy over the period, kWh.
    pub totals_kwh: Vec<f64>,
}

/// This home against similar homes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerComparison {
    /// This home's energy over the period, kWh.
    pub own_kwh: f64,
    /// Peers compared with.
    pub peers: usize,
    /// The peers' median, kWh.
    pub median_kwh: f64,
    /// This home minus the median, kWh.
    pub difference_kwh: f64,
    /// Difference relative to the median, % (`None` when the median is zero).
    pub difference_pct: Option<f64>,
    /// Share of peers using less than this home, % (ties count half).
    pub percentile: f64,
    /// Rank among the peers and this home, 1 for the lowest use.
    pub rank: usize,
    /// What the comparison is based on.
    pub basis: Basis,
}

/// Why a comparison could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompareError {
    /// The period ends before it starts, or has no length.
    #[error("period {from_ms}..{to_ms} is empty")]
    EmptyPeriod {
        /// Start given.
        from_ms: i64,
        /// End given.
        to_ms: i64,
    },
    /// No usable interval in the period asked about.
    #[error("no usable interval in the period ({skipped} records skipped)")]
    NoData {
        /// Records that could not be used.
        skipped: usize,
    },
    /// No usable peer total (all NaN or negative, or none given).
    #[error("no usable peer total ({skipped} skipped)")]
    NoPeers {
        /// Peer totals that could not be used.
        skipped: usize,
    },
}

/// The total of the usable intervals in `period` and the intervals it used.
fn total(intervals: &[Interval], period: Period) -> (PeriodTotal, Vec<Interval>) {
    let used: Vec<Interval> = intervals
        .iter()
        .copied()
        .filter(|i| period.holds(i))
        .collect();
    let wh: f64 = used.iter().map(Interval::consumption_wh).sum();
    let covered_ms: f64 = used.iter().map(|i| f64::from(i.duration_s) * 1000.0).sum();
    let total = PeriodTotal {
        period,
        kwh: wh / 1000.0,
        coverage: (covered_ms / period.len_ms() as f64).min(1.0),
    };
    (total, used)
}

/// Checks the intervals and the period, and returns the usable intervals, the period's
/// total and the intervals in it.
fn current(
    intervals: &[Interval],
    period: Period,
) -> Result<(Checked, PeriodTotal, Vec<Interval>), CompareError> {
    if period.len_ms() <= 0 {
        return Err(CompareError::EmptyPeriod {
            from_ms: period.from_ms,
            to_ms: period.to_ms,
        });
    }
    let checked = series::check(intervals);
    let (total, used) = total(&checked.intervals, period);
    if used.is_empty() {
        return Err(CompareError::NoData {
            skipped: checked.skipped,
        });
    }
    Ok((checked, total, used))
}

/// Energy in `period` against the period of the same length just before it. Each period
/// reports its data coverage; a note says when they differ by more than 10 points.
pub fn compare_with_previous(
    intervals: &[Interval],
    period: Period,
) -> Result<PeriodComparison, CompareError> {
    let (checked, current, mut used) = current(intervals, period)?;
    let previous_period = Period {
        from_ms: period.from_ms.saturating_sub(period.len_ms()),
        to_ms: period.from_ms,
    };
    let (previous, previous_used) = total(&checked.intervals, previous_period);
    used.extend(previous_used);
    used.sort_by_key(|i| i.start_ms);
    let change_kwh = current.kwh - previous.kwh;
    let note = ((current.coverage - previous.coverage).abs() > 0.1).then(|| {
        format!(
            "Data covers {:.0} % of this period and {:.0} % of the previous one.",
            current.coverage * 100.0,
            previous.coverage * 100.0
        )
    });
    let basis = Basis::from_intervals(
        &used,
        intervals.len() - used.len(),
        "Energy summed over the period and over the period of the same length just before it.",
    )
    .with_note(note)
    .with_note(checked.consumption_note());
    Ok(PeriodComparison {
        change_pct: (previous.kwh > 0.0).then(|| change_kwh / previous.kwh * 100.0),
        current,
        previous,
        change_kwh,
        basis,
    })
}

/// This home's energy in `period` against the totals of `peers` over the same period.
pub fn compare_with_peers(
    intervals: &[Interval],
    period: Period,
    peers: &PeerGroup,
) -> Result<PeerComparison, CompareError> {
    let (checked, own, used) = current(intervals, period)?;
    let totals: Vec<f64> = peers
        .totals_kwh
        .iter()
        .copied()
        .filter(|kwh| kwh.is_finite() && *kwh >= 0.0)
        .collect();
    let skipped_peers = peers.totals_kwh.len() - totals.len();
    let Some(median_kwh) = median(&totals) else {
        return Err(CompareError::NoPeers {
            skipped: skipped_peers,
        });
    };
    let below = totals.iter().filter(|&&kwh| kwh < own.kwh).count();
    let equal = totals.iter().filter(|&&kwh| kwh == own.kwh).count();
    let difference_kwh = own.kwh - median_kwh;
    let method = format!(
        "This home's energy over the period ranked among {} peers ({}).",
        totals.len(),
        peers.description
    );
    let note = (skipped_peers > 0)
        .then(|| format!("{skipped_peers} peer totals were not usable and left out."));
    Ok(PeerComparison {
        own_kwh: own.kwh,
        peers: totals.len(),
        median_kwh,
        difference_kwh,
        difference_pct: (median_kwh > 0.0).then(|| difference_kwh / median_kwh * 100.0),
        percentile: (below as f64 + equal as f64 / 2.0) / totals.len() as f64 * 100.0,
        rank: below + 1,
        basis: Basis::from_intervals(&used, intervals.len() - used.len(), &method)
            .with_note(note)
            .with_note(checked.consumption_note()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::tests::import;

    const DAY_MS: i64 = 86_400_000;

    /// One day-long interval per day from day 0, with the given kWh.
    fn daily(kwh: &[f64]) -> Vec<Interval> {
        kwh.iter()
            .enumerate()
            .map(|(d, &kwh)| import(d as i64 * DAY_MS, 86_400, kwh * 1000.0))
            .collect()
    }

    fn days(from: i64, to: i64) -> Period {
        Period {
            from_ms: from * DAY_MS,
            to_ms: to * DAY_MS,
        }
    }

    #[test]
    fn previous_period_of_the_same_length() {
        // Days 0–3 use 10 kWh each, days 4–7 use 9, 8 and 12, 11.
        let intervals = daily(&[10.0, 10.0, 10.0, 10.0, 9.0, 8.0, 12.0, 11.0]);
        let result = compare_with_previous(&intervals, days(4, 8)).expect("comparison");
        assert_eq!(result.current.kwh, 40.0);
        assert_eq!(result.previous.kwh, 40.0);
        assert_eq!(result.change_kwh, 0.0);
        assert_eq!(result.change_pct, Some(0.0));
        let result = compare_with_previous(&intervals, days(6, 8)).expect("comparison");
        assert_eq!(result.current.kwh, 23.0);
        assert_eq!(result.previous.kwh, 17.0);
        assert_eq!(result.change_kwh, 6.0);
        assert!((result.change_pct.expect("previous used energy") - 600.0 / 17.0).abs() < 1e-9);
        assert_eq!(result.basis.used, 4);
        assert_eq!(result.basis.skipped, 4);
        assert!(result.basis.notes.is_empty());
    }

    #[test]
    fn partial_previous_period_is_noted() {
        let intervals = daily(&[10.0, 10.0, 10.0]);
        let result = compare_with_previous(&intervals, days(2, 3)).expect("comparison");
        assert_eq!(result.previous.coverage, 1.0);
        let result = compare_with_previous(&intervals, days(1, 3)).expect("comparison");
        assert_eq!(result.previous.coverage, 0.5);
        assert_eq!(result.basis.notes.len(), 1);
        let result = compare_with_previous(&intervals, days(0, 1)).expect("comparison");
        assert_eq!(result.previous.kwh, 0.0);
        assert_eq!(result.change_pct, None);
    }

    #[test]
    fn refusals() {
        let intervals = daily(&[10.0]);
        assert!(matches!(
            compare_with_previous(&intervals, days(1, 1)),
            Err(CompareError::EmptyPeriod { .. })
        ));
        assert_eq!(
            compare_with_previous(&intervals, days(5, 6)),
            Err(CompareError::NoData { skipped: 0 })
        );
        let peers = PeerGroup {
            description: "none usable".into(),
            totals_kwh: vec![f64::NAN, -1.0],
        };
        assert_eq!(
            compare_with_peers(&intervals, days(0, 1), &peers),
            Err(CompareError::NoPeers { skipped: 2 })
        );
    }

    #[test]
    fn rank_and_percentile_among_peers() {
        let intervals = daily(&[10.0]);
        let peers = PeerGroup {
            description: "same tariff, 2 occupants".into(),
            totals_kwh: vec![6.0, 8.0, 10.0, 12.0, 14.0, f64::NAN],
        };
        let result = compare_with_peers(&intervals, days(0, 1), &peers).expect("comparison");
        assert_eq!(result.own_kwh, 10.0);
        assert_eq!(result.peers, 5);
        assert_eq!(result.median_kwh, 10.0);
        assert_eq!(result.difference_kwh, 0.0);
        // Two below and one tie: (2 + 0.5) / 5.
        assert_eq!(result.percentile, 50.0);
        assert_eq!(result.rank, 3);
        assert_eq!(result.basis.notes.len(), 1);
        let heavy = daily(&[20.0]);
        let result = compare_with_peers(&heavy, days(0, 1), &peers).expect("comparison");
        assert_eq!(result.percentile, 100.0);
        assert_eq!(result.rank, 6);
        assert_eq!(result.difference_pct, Some(100.0));
    }
}
