//! An energy register: whole milli-units in an integer, the fraction carried exactly.
//!
//! Registers must not drift or round away over the years a meter is in service, so the
//! count is an integer (mWh, mvarh or mVAh in a `u64`: 18 billion MWh before it wraps) and
//! only the fraction of one milli-unit not yet counted lives in a float, bounded to [0, 1).
//! Adding a cycle's energy moves whole milli-units from the fraction into the count.

/// A monotonic energy register in milli-unit-hours with the sub-unit residue carried.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EnergyRegister {
    milli: u64,
    residue_milli: f64,
}

impl EnergyRegister {
    /// A register holding `milli` milli-unit-hours (for restoring a persisted value).
    pub const fn from_milli(milli: u64) -> Self {
        Self {
            milli,
            residue_milli: 0.0,
        }
    }

    /// Adds energy in unit-hours (Wh, varh, VAh). Negative or non-finite amounts are
    /// ignored: a register never goes backwards.
    pub fn add(&mut self, unit_hours: f64) {
        if unit_hours.is_nan() || unit_hours <= 0.0 || !unit_hours.is_finite() {
            return;
        }
        let total = self.residue_milli + unit_hours * 1000.0;
        let whole = libm::floor(total);
        self.milli = self.milli.saturating_add(whole as u64);
        self.residue_milli = total - whole;
    }

    /// Whole milli-unit-hours registered (what a display or a persisted record shows).
    pub const fn milli(&self) -> u64 {
        self.milli
    }

    /// The register in unit-hours, including the carried fraction.
    pub fn wh(&self) -> f64 {
        (self.milli as f64 + self.residue_milli) / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_small_additions_do_not_drift() {
        let mut register = EnergyRegister::default();
        // 7/512 Wh (exact in binary): 13.671875 mWh, leaving a residue each time.
        for _ in 0..1_000_000 {
            register.add(7.0 / 512.0);
        }
        assert_eq!(register.milli(), 13_671_875);
        assert_eq!(register.wh(), 13_671.875);
    }

    #[test]
    fn never_goes_backwards() {
        let mut register = EnergyRegister::from_milli(5);
        register.add(-1.0);
        register.add(f64::NAN);
        register.add(f64::INFINITY);
        assert_eq!(register.milli(), 5);
    }
}
