//! Running sums over a window of samples, and the offset-free moments derived from them.
//!
//! A window is a half or whole mains cycle. Each moment is corrected by the window's own
//! means (`Σxy/n − x̄·ȳ`), which removes whatever DC the offset tracker has not yet taken out,
//! so RMS and power carry no offset bias even while the tracker settles.

/// Sums of one window: the sample count and the first and second moments the chain needs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct WindowSums {
    /// Samples in the window.
    pub(crate) n: u32,
    /// Σv (aligned voltage, counts).
    pub(crate) v: f64,
    /// Σi (aligned current, counts).
    pub(crate) i: f64,
    /// Σv².
    pub(crate) vv: f64,
    /// Σi².
    pub(crate) ii: f64,
    /// Σv·i.
    pub(crate) vi: f64,
    /// Σ(∫v)·i, for reactive power.
    pub(crate) wi: f64,
    /// Σ∫v.
    pub(crate) w: f64,
}

impl WindowSums {
    /// Adds one aligned sample pair and the voltage integral at that sample.
    #[inline(always)]
    pub(crate) fn push(&mut self, v: f64, i: f64, v_integral: f64) {
        self.n += 1;
        self.v += v;
        self.i += i;
        self.vv += v * v;
        self.ii += i * i;
        self.vi += v * i;
        self.wi += v_integral * i;
        self.w += v_integral;
    }

    /// Adds another window's sums to this one.
    pub(crate) fn add(&mut self, other: &Self) {
        self.n += other.n;
        self.v += other.v;
        self.i += other.i;
        self.vv += other.vv;
        self.ii += other.ii;
        self.vi += other.vi;
        self.wi += other.wi;
        self.w += other.w;
    }

    /// The window's moments, in counts. Empty windows give zeros.
    ///
    /// With `about_window_mean` each moment is taken about the window's own means, which
    /// removes any offset the tracker has not taken out; that is right only for a window of
    /// whole cycles, whose true mean is the offset. A partial cycle's mean is mostly signal,
    /// so its moments are taken about zero (the tracked offset is already subtracted).
    pub(crate) fn moments(&self, about_window_mean: bool) -> Moments {
        if self.n == 0 {
            return Moments::default();
        }
        let n = f64::from(self.n);
        let (mean_v, mean_i, mean_w) = (self.v / n, self.i / n, self.w / n);
        if !about_window_mean {
            return Moments {
                mean_v,
                mean_i,
                mean_w,
                v_square: self.vv / n,
                i_square: self.ii / n,
                vi: self.vi / n,
                wi: self.wi / n,
            };
        }
        Moments {
            mean_v,
            mean_i,
            mean_w,
            v_square: (self.vv / n - mean_v * mean_v).max(0.0),
            i_square: (self.ii / n - mean_i * mean_i).max(0.0),
            vi: self.vi / n - mean_v * mean_i,
            wi: self.wi / n - mean_w * mean_i,
        }
    }
}

/// Offset-free window moments, in ADC counts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Moments {
    pub(crate) mean_v: f64,
    pub(crate) mean_i: f64,
    pub(crate) mean_w: f64,
    /// Mean square of the voltage about its mean.
    pub(crate) v_square: f64,
    /// Mean square of the current about its mean.
    pub(crate) i_square: f64,
    /// Covariance of voltage and current: active power in counts².
    pub(crate) vi: f64,
    /// Covariance of the voltage integral and current (reactive power before scaling).
    pub(crate) wi: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_ignore_dc_offsets() {
        let mut with_offset = WindowSums::default();
        let mut without = WindowSums::default();
        for n in 0..80 {
            let angle = 2.0 * core::f64::consts::PI * f64::from(n) / 80.0;
            let (v, i) = (100.0 * libm::sin(angle), 10.0 * libm::sin(angle - 0.5));
            with_offset.push(v + 37.0, i - 12.0, 0.0);
            without.push(v, i, 0.0);
        }
        let (a, b) = (with_offset.moments(true), without.moments(true));
        assert!((a.v_square - b.v_square).abs() < 1e-9);
        assert!((a.i_square - b.i_square).abs() < 1e-9);
        assert!((a.vi - b.vi).abs() < 1e-9);
        assert!((b.vi - 500.0 * libm::cos(0.5)).abs() < 1e-9);
    }
}
