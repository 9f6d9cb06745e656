//! Register sets: active import and export kept apart, reactive energy in four quadrants,
//! apparent energy by direction; one set for the total, one per tariff, one per phase.

use crate::config::MAX_PHASES;
use crate::energy::EnergyRegister;

/// How many tariff (rate) register sets a meter keeps.
pub const MAX_TARIFFS: usize = 8;

/// The quadrant of the (P, Q) plane energy was measured in (IEC 62053-23 convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quadrant {
    /// Import, inductive (P ≥ 0, Q ≥ 0).
    Q1,
    /// Export, capacitive as seen by the grid (P < 0, Q ≥ 0).
    Q2,
    /// Export, inductive as seen by the grid (P < 0, Q < 0).
    Q3,
    /// Import, capacitive (P ≥ 0, Q < 0).
    Q4,
}

impl Quadrant {
    /// The quadrant of energy flowing in a direction (exporting or not) with a signed
    /// reactive amount.
    pub fn of(exporting: bool, reactive: f64) -> Self {
        match (exporting, reactive >= 0.0) {
            (false, true) => Self::Q1,
            (true, true) => Self::Q2,
            (true, false) => Self::Q3,
            (false, false) => Self::Q4,
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Q1 => 0,
            Self::Q2 => 1,
            Self::Q3 => 2,
            Self::Q4 => 3,
        }
    }
}

/// One period's energy, ready to register.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PeriodEnergy {
    /// Active energy, Wh, signed (+ import); zero when below the starting threshold.
    pub active_wh: f64,
    /// Reactive energy, varh, signed (+ inductive); zero when below the threshold.
    pub reactive_varh: f64,
    /// Apparent energy, VAh.
    pub apparent_vah: f64,
    /// The direction of the measured active power. It is carried apart from `active_wh`
    /// because a period whose active energy is below the starting threshold (and so zero)
    /// still has a direction for its reactive quadrant and apparent energy.
    pub exporting: bool,
}

/// One complete set of energy registers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RegisterSet {
    /// Active energy imported from the grid, mWh.
    pub active_import: EnergyRegister,
    /// Active energy exported to the grid, mWh.
    pub active_export: EnergyRegister,
    /// Reactive energy per quadrant Q1..Q4, mvarh.
    pub reactive: [EnergyRegister; 4],
    /// Apparent energy while importing, mVAh.
    pub apparent_import: EnergyRegister,
    /// Apparent energy while exporting, mVAh.
    pub apparent_export: EnergyRegister,
}

impl RegisterSet {
    /// Registers one period's energy.
    pub fn register(&mut self, energy: &PeriodEnergy) {
        if energy.exporting {
            self.active_export.add(-energy.active_wh);
            self.apparent_export.add(energy.apparent_vah);
        } else {
            self.active_import.add(energy.active_wh);
            self.apparent_import.add(energy.apparent_vah);
        }
        let quadrant = Quadrant::of(energy.exporting, energy.reactive_varh);
        self.reactive[quadrant.index()].add(energy.reactive_varh.abs());
    }

    /// Reactive energy of one quadrant, mvarh.
    pub fn reactive(&self, quadrant: Quadrant) -> &EnergyRegister {
        &self.reactive[quadrant.index()]
    }
}

/// All of a meter's registers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RegisterBank {
    /// The meter's totals (for three-phase: the phases summed with their signs each cycle).
    pub total: RegisterSet,
    /// One set per tariff; energy goes to the active tariff's set and to the total.
    pub tariffs: [RegisterSet; MAX_TARIFFS],
    /// One set per phase, each phase registered by its own sign.
    pub phases: [RegisterSet; MAX_PHASES],
    active_tariff: usize,
}

impl RegisterBank {
    /// The tariff (0-based) energy is being registered against.
    pub fn active_tariff(&self) -> usize {
        self.active_tariff
    }

    /// Selects the tariff to register against; `false` (and no change) when out of range.
    pub fn select_tariff(&mut self, tariff: usize) -> bool {
        if tariff < MAX_TARIFFS {
            self.active_tariff = tariff;
            true
        } else {
            false
        }
    }

    /// Registers a period's net energy to the total and the active tariff.
    pub(crate) fn register_total(&mut self, energy: &PeriodEnergy) {
        self.total.register(energy);
        self.tariffs[self.active_tariff].register(energy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn energy(active_wh: f64, reactive_varh: f64, apparent_vah: f64) -> PeriodEnergy {
        PeriodEnergy {
            active_wh,
            reactive_varh,
            apparent_vah,
            exporting: active_wh < 0.0,
        }
    }

    #[test]
    fn import_and_export_are_kept_apart() {
        let mut set = RegisterSet::default();
        set.register(&energy(2.0, 1.0, 3.0));
        set.register(&energy(-1.5, -0.5, 2.0));
        // Active energy below the threshold still has a direction for reactive energy.
        set.register(&PeriodEnergy {
            exporting: true,
            ..energy(0.0, 0.25, 0.25)
        });
        assert_eq!(set.active_import.milli(), 2000);
        assert_eq!(set.active_export.milli(), 1500);
        assert_eq!(set.reactive(Quadrant::Q1).milli(), 1000);
        assert_eq!(set.reactive(Quadrant::Q3).milli(), 500);
        assert_eq!(set.apparent_import.milli(), 3000);
        assert_eq!(set.apparent_export.milli(), 2250);
        assert_eq!(set.reactive(Quadrant::Q2).milli(), 250);
    }

    #[test]
    fn tariff_selection_routes_energy() {
        let mut bank = RegisterBank::default();
        bank.register_total(&energy(1.0, 0.0, 1.0));
        assert!(bank.select_tariff(2));
        assert!(!bank.select_tariff(MAX_TARIFFS));
        bank.register_total(&energy(1.0, 0.0, 1.0));
        assert_eq!(bank.tariffs[0].active_import.milli(), 1000);
        assert_eq!(bank.tariffs[2].active_import.milli(), 1000);
        assert_eq!(bank.total.active_import.milli(), 2000);
    }
}
