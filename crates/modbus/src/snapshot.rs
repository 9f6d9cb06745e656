//! What a meter knows at one instant, in the units Joule keeps: the one value both the
//! server (which turns it into registers) and the poller (which reads it from a device)
//! deal in, so neither depends on the meter agent's own types.

/// How many phases a snapshot can describe.
pub const MAX_PHASES: usize = 3;

/// The supply a meter measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phases {
    /// Single phase, two wires (L1 and neutral). Phases 2 and 3 of a snapshot are ignored.
    #[default]
    One,
    /// Three phases and neutral (wye, "3P4W").
    Three,
}

impl Phases {
    /// The number of phases: 1 or 3.
    pub fn count(self) -> usize {
        match self {
            Self::One => 1,
            Self::Three => 3,
        }
    }
}

/// One phase's instantaneous values.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PhaseValues {
    /// RMS voltage line to neutral, V.
    pub voltage_v: f64,
    /// RMS current, A.
    pub current_a: f64,
    /// Active power, W, signed: + import (grid to site), − export.
    pub p_w: f64,
    /// Apparent power, VA.
    pub s_va: f64,
    /// Reactive power, var, signed: + inductive, − capacitive.
    pub q_var: f64,
    /// Power factor, signed like `p_w`.
    pub pf: f64,
}

/// Reactive energy registers, mvarh, in the form the source keeps them.
///
/// Quadrants follow IEC 62053-23 as Joule's metrology does: Q1 import inductive
/// (P ≥ 0, Q ≥ 0), Q2 export with Q ≥ 0, Q3 export with Q < 0, Q4 import capacitive
/// (P ≥ 0, Q < 0). "Reactive import" is +R = Q1 + Q2 (OBIS 1-0:3.8.0) and "reactive
/// export" is −R = Q3 + Q4 (OBIS 1-0:4.8.0): the reading of the Eastron manuals' "Import
/// kVArh" and "Export kVArh" (registers 0x004C and 0x004E) that Joule uses both ways.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactiveEnergy {
    /// Per quadrant Q1..Q4, mvarh: what Joule's own registers hold.
    Quadrants([u64; 4]),
    /// Only the two directions, mvarh: what an Eastron meter reports.
    Directions {
        /// +R = Q1 + Q2, mvarh.
        import_mvarh: u64,
        /// −R = Q3 + Q4, mvarh.
        export_mvarh: u64,
    },
}

impl Default for ReactiveEnergy {
    fn default() -> Self {
        Self::Quadrants([0; 4])
    }
}

impl ReactiveEnergy {
    /// +R = Q1 + Q2, mvarh (saturating: it never wraps).
    pub fn import_mvarh(&self) -> u64 {
        match *self {
            Self::Quadrants([q1, q2, _, _]) => q1.saturating_add(q2),
            Self::Directions { import_mvarh, .. } => import_mvarh,
        }
    }

    /// −R = Q3 + Q4, mvarh (saturating).
    pub fn export_mvarh(&self) -> u64 {
        match *self {
            Self::Quadrants([_, _, q3, q4]) => q3.saturating_add(q4),
            Self::Directions { export_mvarh, .. } => export_mvarh,
        }
    }

    /// The four quadrants, when the source keeps them apart.
    pub fn quadrants(&self) -> Option<[u64; 4]> {
        match *self {
            Self::Quadrants(quadrants) => Some(quadrants),
            Self::Directions { .. } => None,
        }
    }
}

/// Apparent energy registers, mVAh, split by the direction of active power as Joule
/// keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApparentEnergy {
    /// While importing, mVAh.
    pub import_mvah: u64,
    /// While exporting, mVAh.
    pub export_mvah: u64,
}

impl ApparentEnergy {
    /// Import and export together, mVAh (saturating).
    pub fn total_mvah(&self) -> u64 {
        self.import_mvah.saturating_add(self.export_mvah)
    }
}

/// What a meter knows at one instant.
///
/// Powers are signed + import, energy registers are integers in milli-units (they never
/// pass through a float on Joule's side), and values of phases beyond `phases` are
/// ignored by every register map.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Snapshot {
    /// Single or three phase.
    pub phases: Phases,
    /// Per-phase values, L1..L3.
    pub phase: [PhaseValues; MAX_PHASES],
    /// Total active power, W, + import.
    pub p_w: f64,
    /// Total apparent power, VA.
    pub s_va: f64,
    /// Total reactive power, var, + inductive.
    pub q_var: f64,
    /// Total power factor, signed like `p_w`.
    pub pf: f64,
    /// Supply frequency, Hz, when measured.
    pub frequency_hz: Option<f64>,
    /// Active energy imported (grid to site), mWh.
    pub import_mwh: u64,
    /// Active energy exported (site to grid), mWh.
    pub export_mwh: u64,
    /// Reactive energy.
    pub reactive: ReactiveEnergy,
    /// Apparent energy, when the source keeps it by direction (an Eastron meter does not).
    pub apparent: Option<ApparentEnergy>,
    /// Active power demand over the current demand period, W, + import.
    pub total_demand_w: f64,
    /// Highest demand since the last demand reset, W.
    pub max_demand_w: f64,
}

impl Snapshot {
    /// The phases this snapshot describes (one or three).
    pub fn active_phases(&self) -> &[PhaseValues] {
        &self.phase[..self.phases.count()]
    }

    /// Values of phase `index` (0-based), or `None` past the snapshot's phases.
    pub fn phase(&self, index: usize) -> Option<&PhaseValues> {
        self.active_phases().get(index)
    }
}

/// Who the meter says it is (SunSpec common model; logs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// Manufacturer name ("Joule" for Joule meters).
    pub manufacturer: String,
    /// Model name.
    pub model: String,
    /// Serial number: Joule's meter id.
    pub serial: String,
    /// Firmware or software version.
    pub version: String,
}

impl Identity {
    /// A Joule meter's identity.
    pub fn joule(
        model: impl Into<String>,
        serial: impl Into<String>,
        version: impl Into<String>,
    ) -> Self {
        Self {
            manufacturer: "Joule".to_owned(),
            model: model.into(),
            serial: serial.into(),
            version: version.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reactive_directions_sum_quadrants_the_iec_way() {
        let reactive = ReactiveEnergy::Quadrants([1, 20, 300, 4000]);
        assert_eq!(reactive.import_mvarh(), 21);
        assert_eq!(reactive.export_mvarh(), 4300);
        assert_eq!(reactive.quadrants(), Some([1, 20, 300, 4000]));
        let saturated = ReactiveEnergy::Quadrants([u64::MAX, 1, 0, 0]);
        assert_eq!(saturated.import_mvarh(), u64::MAX);
        let directions = ReactiveEnergy::Directions {
            import_mvarh: 5,
            export_mvarh: 6,
        };
        assert_eq!(
            (directions.import_mvarh(), directions.export_mvarh()),
            (5, 6)
        );
        assert_eq!(directions.quadrants(), None);
    }

    #[test]
    fn phases_beyond_the_supply_are_not_active() {
        let mut snapshot = Snapshot::default();
        snapshot.phase[1].voltage_v = 231.0;
        assert_eq!(snapshot.active_phases().len(), 1);
        assert!(snapshot.phase(1).is_none());
        snapshot.phases = Phases::Three;
        assert_eq!(snapshot.phase(1).map(|phase| phase.voltage_v), Some(231.0));
    }
}
