//! What the appliance tests share: deterministic measurement noise.

/// Uniform noise from a seeded xorshift64* generator, so that every run sees the same trace.
#[derive(Debug, Clone)]
pub(crate) struct Noise {
    state: u64,
    amplitude_w: f64,
}

impl Noise {
    /// Noise uniform in ±`amplitude_w`, from `seed`.
    pub(crate) fn new(seed: u64, amplitude_w: f64) -> Self {
        Self {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            amplitude_w,
        }
    }

    /// The next noise value, W.
    pub(crate) fn next_w(&mut self) -> f64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let bits = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11;
        let unit = bits as f64 / (1u64 << 53) as f64;
        (unit * 2.0 - 1.0) * self.amplitude_w
    }
}
