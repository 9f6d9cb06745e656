//! The few robust statistics the insights share (median, median absolute deviation), in one
//! place so that every insight treats ties and empty input the same way.

/// Median of `values` (the mean of the two middle ones for an even count); `None` when
/// empty. Values must be finite (the callers filter NaN out first).
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Median absolute deviation from the median; `None` when empty.
pub(crate) fn mad(values: &[f64]) -> Option<f64> {
    let centre = median(values)?;
    let deviations: Vec<f64> = values.iter().map(|v| (v - centre).abs()).collect();
    median(&deviations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad_by_hand() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        // |1-2|, |2-2|, |9-2| = 1, 0, 7 → 1
        assert_eq!(mad(&[1.0, 2.0, 9.0]), Some(1.0));
        assert_eq!(mad(&[]), None);
    }
}
