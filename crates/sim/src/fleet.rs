//! Register-level meters: a fleet of homes reported as a meter reports them, without
//! waveforms.
//!
//! The waveform model is exact but costs a core per few dozen homes in real time; a load
//! test with thousands of meters, or 60 days of history written in seconds, needs the
//! registers only. [`RegisterMeter`] samples its household's power once per `step_s`
//! slot (occupancy-driven appliances, solar by time of day, season and clouds, EV evening
//! charging, a heat pump following the outdoor temperature), holds it for the slot, and
//! integrates it into integer import and export registers in mWh with the residue carried
//! exactly (integer mW·ms), so the registers never decrease and equal the integral of the
//! power however the time is advanced. It produces the protocol's live readings and
//! clock-aligned interval records with `seq` 0, to be numbered by an outbox, as the meter
//! agent's recorder does. Pure: no clock, no I/O; everything follows from the seed and
//! the times asked for.

use crate::household::{Household, HouseholdSpec, PhasePower};
use joule_protocol::{
    IntervalRecord, LiveReading, PAYLOAD_VERSION, PhaseReading, PqCounters, Registers, RelayState,
    TariffRegisters,
};
use std::f64::consts::TAU;

/// mW·ms in one mWh.
const MW_MS_PER_MWH: i64 = 3_600_000;

/// How often a register-level meter samples and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    /// Power is sampled once per slot of this length and held for it, s.
    pub step_s: u32,
    /// A live reading at every multiple of this, s (a multiple of `step_s`).
    pub live_every_s: u32,
    /// An interval record at every multiple of this, s (divides a day; a multiple of
    /// `step_s`).
    pub interval_s: u32,
}

impl Cadence {
    /// Power sampled every minute, a live reading every `live_every_s` (a multiple of 60
    /// dividing 900), 15-minute interval records: months of history at little cost.
    pub const fn minutely(live_every_s: u32) -> Self {
        Self {
            step_s: 60,
            live_every_s,
            interval_s: 900,
        }
    }

    /// Whether the lengths fit together: all positive, live and interval multiples of
    /// the step, the interval dividing a day.
    pub fn is_valid(&self) -> bool {
        self.step_s > 0
            && self.live_every_s > 0
            && self.interval_s > 0
            && self.live_every_s.is_multiple_of(self.step_s)
            && self.interval_s.is_multiple_of(self.step_s)
            && 86_400u32.is_multiple_of(self.interval_s)
    }
}

/// Where a meter's registers start: a time and the register values then.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Start {
    /// Unix ms.
    pub ts_ms: i64,
    /// Active import, mWh.
    pub import_mwh: u64,
    /// Active export, mWh.
    pub export_mwh: u64,
}

/// What a register-level meter reports, `seq` 0 (the outbox numbers it).
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    /// A live reading.
    Live(LiveReading),
    /// An interval record.
    Interval(IntervalRecord),
}

/// Voltage seen over the interval in progress.
#[derive(Debug, Clone, Copy, PartialEq)]
struct VoltageStats {
    min_v: f64,
    max_v: f64,
    sum_v: f64,
    slots: u32,
}

impl VoltageStats {
    const EMPTY: Self = Self {
        min_v: f64::INFINITY,
        max_v: 0.0,
        sum_v: 0.0,
        slots: 0,
    };

    fn add(&mut self, voltage_v: f64) {
        self.min_v = self.min_v.min(voltage_v);
        self.max_v = self.max_v.max(voltage_v);
        self.sum_v += voltage_v;
        self.slots += 1;
    }
}

/// A home's meter at register level.
#[derive(Debug, Clone)]
pub struct RegisterMeter {
    household: Household,
    utc_offset_s: f64,
    cadence: Cadence,
    now_ms: i64,
    import_mwh: u64,
    export_mwh: u64,
    /// Energy not yet a whole mWh, mW·ms (each below [`MW_MS_PER_MWH`]).
    residue_import: i64,
    residue_export: i64,
    /// The slot whose power was sampled last, and that power per phase.
    slot: Option<(i64, Vec<PhasePower>)>,
    voltage: VoltageStats,
}

impl RegisterMeter {
    /// A meter on the home `spec` describes, habits following local time at
    /// `utc_offset_s`, its registers as `start` says. `cadence` must be valid
    /// ([`Cadence::is_valid`]); an invalid one is replaced by 1 s / 1 s / 900 s.
    pub fn new(spec: HouseholdSpec, utc_offset_s: f64, cadence: Cadence, start: Start) -> Self {
        let cadence = if cadence.is_valid() {
            cadence
        } else {
            Cadence {
                step_s: 1,
                live_every_s: 1,
                interval_s: 900,
            }
        };
        Self {
            household: Household::new(spec),
            utc_offset_s,
            cadence,
            now_ms: start.ts_ms,
            import_mwh: start.import_mwh,
            export_mwh: start.export_mwh,
            residue_import: 0,
            residue_export: 0,
            slot: None,
            voltage: VoltageStats::EMPTY,
        }
    }

    /// The time the registers are at, Unix ms.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    /// The registers now: (import, export), mWh.
    pub fn registers_mwh(&self) -> (u64, u64) {
        (self.import_mwh, self.export_mwh)
    }

    /// The home.
    pub fn household(&self) -> &Household {
        &self.household
    }

    /// Advances to `until_ms` (nothing when it is not later), appending to `out` a live
    /// reading at every multiple of the live period and an interval record at every
    /// interval boundary passed.
    pub fn advance_to(&mut self, until_ms: i64, out: &mut Vec<Report>) {
        let step_ms = i64::from(self.cadence.step_s) * 1000;
        let live_ms = i64::from(self.cadence.live_every_s) * 1000;
        let interval_ms = i64::from(self.cadence.interval_s) * 1000;
        while self.now_ms < until_ms {
            let slot_start = self.now_ms.div_euclid(step_ms) * step_ms;
            let next = (slot_start + step_ms).min(until_ms);
            let total = self.slot_power(slot_start);
            self.integrate(total.p_w, next - self.now_ms);
            self.now_ms = next;
            if next != slot_start + step_ms {
                continue;
            }
            if next % live_ms == 0 {
                out.push(Report::Live(self.live_reading(next)));
            }
            if next % interval_ms == 0 {
                out.push(Report::Interval(self.interval_record(next)));
            }
        }
    }

    /// The total power of the slot starting at `slot_start`, sampling it on first use;
    /// the slot's voltage counts towards the interval's statistics once.
    fn slot_power(&mut self, slot_start: i64) -> PhasePower {
        if self
            .slot
            .as_ref()
            .is_none_or(|(start, _)| *start != slot_start)
        {
            let phases = self
                .household
                .phase_powers(slot_start as f64 / 1000.0, self.utc_offset_s);
            self.slot = Some((slot_start, phases));
            let voltage_v = self.voltage_v(slot_start, 0);
            self.voltage.add(voltage_v);
        }
        let phases = self.slot.as_ref().map_or(&[][..], |(_, p)| p.as_slice());
        phases
            .iter()
            .fold(PhasePower::default(), |sum, p| PhasePower {
                p_w: sum.p_w + p.p_w,
                s_va: sum.s_va + p.s_va,
            })
    }

    /// Adds `power_w` held for `duration_ms` to the import or export register.
    fn integrate(&mut self, power_w: f64, duration_ms: i64) {
        // Milliwatts as an integer: the sum is exact however the time is split.
        let power_mw = (power_w * 1000.0).round() as i64;
        let energy = power_mw.abs() * duration_ms;
        let (register, residue) = if power_mw >= 0 {
            (&mut self.import_mwh, &mut self.residue_import)
        } else {
            (&mut self.export_mwh, &mut self.residue_export)
        };
        *residue += energy;
        *register += (*residue / MW_MS_PER_MWH) as u64;
        *residue %= MW_MS_PER_MWH;
    }

    /// The supply voltage on a phase at a time: the grid's slow wander, a per-home offset
    /// along the feeder, V.
    fn voltage_v(&self, ts_ms: i64, phase: usize) -> f64 {
        let unix_s = ts_ms as f64 / 1000.0;
        let along_feeder_v = (self.household.spec().seed % 7) as f64 - 3.0;
        230.0 * (1.0 + 0.02 * (unix_s * TAU / 3_600.0 + phase as f64).sin()) + along_feeder_v
    }

    fn registers(&self) -> Registers {
        Registers {
            import_mwh: self.import_mwh,
            export_mwh: self.export_mwh,
            ..Registers::default()
        }
    }

    fn live_reading(&self, ts_ms: i64) -> LiveReading {
        let phase_powers = self.slot.as_ref().map_or(&[][..], |(_, p)| p.as_slice());
        let phases: Vec<PhaseReading> = phase_powers
            .iter()
            .enumerate()
            .map(|(k, power)| phase_reading(self.voltage_v(ts_ms, k), *power))
            .collect();
        let count = phases.len().max(1) as f64;
        let p_w: f64 = phases.iter().map(|p| p.p_w).sum();
        let q_var: f64 = phases.iter().map(|p| p.q_var).sum();
        let s_va: f64 = phases.iter().map(|p| p.s_va).sum();
        LiveReading {
            v: PAYLOAD_VERSION,
            seq: 0,
            ts_ms,
            voltage_v: phases.iter().map(|p| p.voltage_v).sum::<f64>() / count,
            current_a: phases.iter().map(|p| p.current_a).sum::<f64>() / count,
            p_w,
            q_var,
            s_va,
            pf: if s_va > 0.0 { p_w / s_va } else { 1.0 },
            freq_hz: Some(50.0 + 0.05 * (ts_ms as f64 / 1000.0 * TAU / 600.0).sin()),
            phases: if phases.len() > 1 { phases } else { Vec::new() },
            registers: self.registers(),
            tariff: 0,
            relay: RelayState::Connected,
        }
        .at_resolution()
    }

    fn interval_record(&mut self, ts_ms: i64) -> IntervalRecord {
        let stats = std::mem::replace(&mut self.voltage, VoltageStats::EMPTY);
        let avg_v = stats.sum_v / f64::from(stats.slots.max(1));
        let min_v = stats.min_v.min(avg_v);
        IntervalRecord {
            v: PAYLOAD_VERSION,
            seq: 0,
            ts_ms,
            interval_s: self.cadence.interval_s,
            registers: self.registers(),
            tariffs: vec![TariffRegisters {
                tariff: 0,
                import_mwh: self.import_mwh,
                export_mwh: self.export_mwh,
            }],
            voltage_min_v: min_v,
            voltage_max_v: stats.max_v.max(avg_v),
            voltage_avg_v: avg_v,
            max_demand_w: None,
            pq: PqCounters::default(),
        }
        .at_resolution()
    }
}

/// One phase's reading from its voltage and powers.
fn phase_reading(voltage_v: f64, power: PhasePower) -> PhaseReading {
    let s_va = power.s_va.max(power.p_w.abs());
    PhaseReading {
        voltage_v,
        current_a: s_va / voltage_v,
        p_w: power.p_w,
        q_var: (s_va * s_va - power.p_w * power.p_w).max(0.0).sqrt(),
        s_va,
        pf: if s_va > 0.0 { power.p_w / s_va } else { 1.0 },
    }
}

/// The `index`th home of a neighbourhood seeded by `seed`: home 0 is a small three-phase
/// business, home 1 has solar and an EV; of the rest, about two in five have solar and
/// one in three a heat pump.
pub fn neighbourhood_home(seed: u64, index: usize) -> HouseholdSpec {
    // 63 bits: a seed written into a meter.toml must fit TOML's signed integers.
    let home_seed = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(index as u64)
        >> 1;
    let mut spec = HouseholdSpec::ordinary(home_seed);
    match index {
        0 => {
            spec.three_phase = true;
            spec.heat_pump_w = 4_500.0;
            spec.solar_peak_w = 9_000.0;
        }
        1 => {
            spec.solar_peak_w = 5_000.0;
            spec.ev_charger_w = 7_400.0;
        }
        _ => {
            if index % 5 == 2 || index % 5 == 4 {
                spec.solar_peak_w = 3_000.0 + 500.0 * (index % 4) as f64;
            }
            if index.is_multiple_of(3) {
                spec.heat_pump_w = 1_800.0 + 200.0 * (index % 5) as f64;
            }
        }
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: i64 = 86_400_000;
    /// 2026-01-05 00:00 UTC: winter, the heat pump works.
    const WINTER_MS: i64 = 1_767_571_200_000;

    fn meter(index: usize) -> RegisterMeter {
        let start = Start {
            ts_ms: WINTER_MS,
            ..Start::default()
        };
        RegisterMeter::new(
            neighbourhood_home(11, index),
            0.0,
            Cadence::minutely(300),
            start,
        )
    }

    #[test]
    fn a_day_reports_every_interval_and_live_period() {
        let mut meter = meter(3);
        let mut out = Vec::new();
        meter.advance_to(WINTER_MS + DAY_MS, &mut out);
        let intervals: Vec<&IntervalRecord> = out
            .iter()
            .filter_map(|r| match r {
                Report::Interval(i) => Some(i),
                Report::Live(_) => None,
            })
            .collect();
        assert_eq!(intervals.len(), 96);
        assert_eq!(out.len() - intervals.len(), 288);
        assert!(intervals.iter().all(|i| i.ts_ms % 900_000 == 0));
        let last = intervals[95];
        assert_eq!(last.registers.import_mwh, meter.registers_mwh().0);
        let kwh = last.registers.import_mwh as f64 / 1e6;
        assert!((5.0..80.0).contains(&kwh), "{kwh} kWh on a winter day");
        for record in &intervals {
            assert!(record.voltage_min_v <= record.voltage_avg_v);
            assert!(record.voltage_avg_v <= record.voltage_max_v);
        }
    }

    #[test]
    fn the_business_is_three_phase_and_reports_each_phase() {
        let mut meter = meter(0);
        let mut out = Vec::new();
        meter.advance_to(WINTER_MS + 600_000, &mut out);
        let Some(Report::Live(live)) = out.first() else {
            panic!("a live reading first: {out:?}");
        };
        assert_eq!(live.phases.len(), 3);
        let sum: f64 = live.phases.iter().map(|p| p.p_w).sum();
        assert!((sum - live.p_w).abs() < 1e-6);
    }

    #[test]
    fn solar_exports_on_a_summer_day() {
        let june_ms = WINTER_MS + 165 * DAY_MS;
        let start = Start {
            ts_ms: june_ms,
            ..Start::default()
        };
        let mut meter = RegisterMeter::new(
            neighbourhood_home(11, 1),
            0.0,
            Cadence::minutely(300),
            start,
        );
        meter.advance_to(june_ms + DAY_MS, &mut Vec::new());
        let (_, export_mwh) = meter.registers_mwh();
        assert!(export_mwh > 5_000_000, "{export_mwh} mWh exported");
    }

    #[test]
    fn the_neighbourhood_has_every_kind_of_home() {
        let homes: Vec<HouseholdSpec> = (0..24).map(|k| neighbourhood_home(1, k)).collect();
        assert_eq!(homes.iter().filter(|h| h.three_phase).count(), 1);
        assert_eq!(homes.iter().filter(|h| h.ev_charger_w > 0.0).count(), 1);
        let solar = homes.iter().filter(|h| h.solar_peak_w > 0.0).count();
        let heat_pumps = homes.iter().filter(|h| h.heat_pump_w > 0.0).count();
        assert!((6..=14).contains(&solar), "{solar}");
        assert!((5..=12).contains(&heat_pumps), "{heat_pumps}");
        assert!(homes.iter().any(|h| *h == HouseholdSpec::ordinary(h.seed)));
    }
}
