//! What an insight is based on, in the same shape for every insight, so that the portal can
//! always say "from 14 nights, 1 Mar – 14 Mar, 0 readings skipped" next to a number.

use crate::series::{Interval, LocalInterval, check};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// The data and the method behind an insight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Basis {
    /// Start of the first record used, Unix ms.
    pub from_ms: i64,
    /// End of the last record used, Unix ms.
    pub to_ms: i64,
    /// Records used: intervals, or power samples for appliance detection.
    pub used: usize,
    /// Records given but left out: unusable values (NaN, negative energy), overlaps, or
    /// records outside what the insight looks at.
    pub skipped: usize,
    /// Time the used records cover, days (gaps excluded).
    pub covered_days: f64,
    /// How the figure was computed, in one sentence.
    pub method: String,
    /// What limits the figure (missing generation data, partial coverage), if anything.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Basis {
    /// The basis of a figure computed from `used` (sorted by start, not empty for a
    /// meaningful range; an empty slice gives a range of 0..0).
    pub(crate) fn from_intervals(used: &[Interval], skipped: usize, method: &str) -> Self {
        let from_ms = used.first().map_or(0, |i| i.start_ms);
        let to_ms = used.iter().map(Interval::end_ms).max().unwrap_or(from_ms);
        let covered_s: f64 = used.iter().map(|i| f64::from(i.duration_s)).sum();
        Self {
            from_ms,
            to_ms,
            used: used.len(),
            skipped,
            covered_days: covered_s / 86_400.0,
            method: method.to_owned(),
            notes: Vec::new(),
        }
    }

    /// The same basis with a note added when there is one.
    pub(crate) fn with_note(mut self, note: Option<String>) -> Self {
        self.notes.extend(note);
        self
    }
}

/// The usable intervals in local time with the basis of a figure computed from all of them
/// by `method`; `Err` with the number of records skipped when none is usable.
pub(crate) fn local_with_basis(
    intervals: &[Interval],
    tz: &TimeZone,
    method: &str,
) -> Result<(Vec<LocalInterval>, Basis), usize> {
    let checked = check(intervals);
    let local = checked.local(tz);
    if local.is_empty() {
        return Err(checked.skipped);
    }
    let basis = Basis::from_intervals(&checked.intervals, checked.skipped, method)
        .with_note(checked.consumption_note());
    Ok((local, basis))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::series::tests::import;

    #[test]
    fn covers_the_used_intervals() {
        let used = [import(0, 900, 1.0), import(3_600_000, 3600, 1.0)];
        let basis = Basis::from_intervals(&used, 2, "m").with_note(Some("n".into()));
        assert_eq!((basis.from_ms, basis.to_ms), (0, 7_200_000));
        assert_eq!((basis.used, basis.skipped), (2, 2));
        assert!((basis.covered_days - 4500.0 / 86_400.0).abs() < 1e-12);
        assert_eq!(basis.notes, vec!["n".to_owned()]);
    }
}
