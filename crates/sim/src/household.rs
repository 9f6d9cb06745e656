//! A household's electricity use over days and seasons, at the level of appliances.
//!
//! Each appliance has its own current shape (resistive, inductive motor, switch-mode,
//! phase-angle dimmer, inverter) and its own habits: a fridge cycles all day, the kettle
//! boils in the morning and the evening, the oven runs at dinner time, an EV charges after
//! work, a heat pump follows the outdoor temperature, a solar inverter exports around
//! midday under passing clouds. [`Household::loads_at`] answers "what draws current now"
//! for any instant, as a pure function of the seed and the time: the same seed gives the
//! same house whenever and in whatever order it is asked, which is what lets a meter
//! restart mid-day, or a fleet be backfilled, and still tell one consistent story.

use crate::waveform::{Load, Schedule, Spectrum};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::f64::consts::{PI, TAU};

/// Seconds in a day.
const DAY_S: f64 = 86_400.0;

/// Nominal voltage the appliances' powers refer to, V.
const NOMINAL_V: f64 = 230.0;

/// Harmonics kept in the non-sinusoidal shapes (up to the 39th, as IEC 61000-3-2 counts).
const MAX_ORDER: u32 = 39;

/// What a household has, beyond the ordinary appliances every home has.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HouseholdSpec {
    /// Seed of every random choice (which days the oven runs, when the EV arrives, clouds).
    pub seed: u64,
    /// Peak power of the solar inverter, W (0: no solar).
    pub solar_peak_w: f64,
    /// Power of the EV charger, W (0: no EV).
    pub ev_charger_w: f64,
    /// Electrical power of the heat pump at full duty, W (0: no heat pump).
    pub heat_pump_w: f64,
    /// Three-phase supply: appliances spread over L1–L3 (a small business or a large home).
    pub three_phase: bool,
}

impl HouseholdSpec {
    /// An ordinary home without solar, EV or heat pump.
    pub fn ordinary(seed: u64) -> Self {
        Self {
            seed,
            solar_peak_w: 0.0,
            ev_charger_w: 0.0,
            heat_pump_w: 0.0,
            three_phase: false,
        }
    }
}

/// How an appliance is used.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Habit {
    /// Always on (standby electronics).
    Always,
    /// On for `on_s` of every `period_s` (a fridge's compressor), with a per-house offset.
    Cycling { period_s: f64, on_s: f64 },
    /// Used `per_day` times a day with probability `chance` each, around `hours` (local,
    /// spread ±`spread_h`), for `minutes` each time.
    Daily {
        hours: &'static [f64],
        spread_h: f64,
        minutes: f64,
        chance: f64,
    },
    /// Thermostat cycling while the outdoor temperature asks for heat.
    HeatPump,
    /// Charging after work on most days until the day's energy is in.
    ElectricVehicle,
    /// Generating with the sun: negative current.
    Solar,
}

/// One appliance.
#[derive(Debug, Clone, PartialEq)]
pub struct Appliance {
    /// What it is, for people.
    pub name: &'static str,
    /// Active power while on, W (the solar inverter's is its peak).
    pub power_w: f64,
    /// Current waveform (unit RMS), locked to the voltage.
    pub shape: Spectrum,
    /// Phase it is connected to (0-based).
    pub phase: usize,
    /// Power factor of its current shape against a sinusoidal voltage (P / S).
    pub power_factor: f64,
    habit: Habit,
}

/// Active and apparent power on one phase at a moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PhasePower {
    /// Active power, W (+ import, − export).
    pub p_w: f64,
    /// Apparent power, VA (the appliances' own, added up).
    pub s_va: f64,
}

/// A household: its appliances and the seed of its habits.
#[derive(Debug, Clone, PartialEq)]
pub struct Household {
    spec: HouseholdSpec,
    appliances: Vec<Appliance>,
}

impl Household {
    /// The household `spec` describes.
    pub fn new(spec: HouseholdSpec) -> Self {
        let lagging = |pf: f64| Spectrum::sine().delayed(pf.acos());
        let mut list = vec![
            (
                "standby electronics",
                35.0,
                Spectrum::switch_mode(60.0, MAX_ORDER),
                Habit::Always,
            ),
            (
                "fridge",
                110.0,
                lagging(0.75),
                Habit::Cycling {
                    period_s: 2400.0,
                    on_s: 900.0,
                },
            ),
            (
                "kettle",
                2200.0,
                Spectrum::sine(),
                Habit::Daily {
                    hours: &[7.2, 10.5, 15.5, 20.0],
                    spread_h: 0.6,
                    minutes: 3.0,
                    chance: 0.7,
                },
            ),
            (
                "oven",
                2400.0,
                Spectrum::sine(),
                Habit::Daily {
                    hours: &[18.0],
                    spread_h: 0.5,
                    minutes: 50.0,
                    chance: 0.5,
                },
            ),
            (
                "washing machine",
                550.0,
                lagging(0.65),
                Habit::Daily {
                    hours: &[10.0],
                    spread_h: 2.0,
                    minutes: 90.0,
                    chance: 0.35,
                },
            ),
            (
                "dimmed lights",
                180.0,
                Spectrum::leading_edge_dimmer(80.0, MAX_ORDER),
                Habit::Daily {
                    hours: &[19.5],
                    spread_h: 0.5,
                    minutes: 240.0,
                    chance: 0.95,
                },
            ),
            (
                "television and computer",
                160.0,
                Spectrum::switch_mode(50.0, MAX_ORDER),
                Habit::Daily {
                    hours: &[20.5],
                    spread_h: 1.0,
                    minutes: 150.0,
                    chance: 0.85,
                },
            ),
        ];
        if spec.heat_pump_w > 0.0 {
            list.push((
                "heat pump",
                spec.heat_pump_w,
                lagging(0.93),
                Habit::HeatPump,
            ));
        }
        if spec.ev_charger_w > 0.0 {
            list.push((
                "EV charger",
                spec.ev_charger_w,
                Spectrum::sine(),
                Habit::ElectricVehicle,
            ));
        }
        if spec.solar_peak_w > 0.0 {
            list.push((
                "solar inverter",
                spec.solar_peak_w,
                Spectrum::sine(),
                Habit::Solar,
            ));
        }
        let phases = if spec.three_phase { 3 } else { 1 };
        let appliances = list
            .into_iter()
            .enumerate()
            .map(|(k, (name, power_w, shape, habit))| Appliance {
                name,
                power_w,
                power_factor: Spectrum::sine().mean_product(&shape),
                shape,
                phase: k % phases,
                habit,
            })
            .collect();
        Self { spec, appliances }
    }

    /// What the household was built from.
    pub fn spec(&self) -> &HouseholdSpec {
        &self.spec
    }

    /// Number of phases of the supply.
    pub fn phases(&self) -> usize {
        if self.spec.three_phase { 3 } else { 1 }
    }

    /// Every appliance.
    pub fn appliances(&self) -> &[Appliance] {
        &self.appliances
    }

    /// The loads drawing current at Unix time `unix_s`, per phase, with `utc_offset_s` the
    /// local time's offset (habits follow the local clock). Each load is on for the whole
    /// of the moment asked about ([`Schedule::Always`]); the caller asks again as time goes.
    pub fn loads_at(&self, unix_s: f64, utc_offset_s: f64) -> Vec<Vec<Load>> {
        let mut phases = vec![Vec::new(); self.phases()];
        for (index, appliance) in self.appliances.iter().enumerate() {
            let power_w = self.power_of(index, appliance, unix_s, unix_s + utc_offset_s);
            if power_w == 0.0 {
                continue;
            }
            phases[appliance.phase].push(Load {
                current_a: power_w / (NOMINAL_V * appliance.power_factor),
                shape: appliance.shape.clone(),
                schedule: Schedule::Always,
            });
        }
        phases
    }

    /// Active and apparent power per phase at Unix time `unix_s` (habits follow local time
    /// at `utc_offset_s`): what [`Household::loads_at`] draws, without the waveforms. The
    /// register-level fleet model integrates it.
    pub fn phase_powers(&self, unix_s: f64, utc_offset_s: f64) -> Vec<PhasePower> {
        let mut phases = vec![PhasePower::default(); self.phases()];
        for (index, appliance) in self.appliances.iter().enumerate() {
            let power_w = self.power_of(index, appliance, unix_s, unix_s + utc_offset_s);
            let phase = &mut phases[appliance.phase];
            phase.p_w += power_w;
            phase.s_va += power_w.abs() / appliance.power_factor;
        }
        phases
    }

    /// Active power of one appliance at a time, W (negative for generation).
    fn power_of(&self, index: usize, appliance: &Appliance, unix_s: f64, local_s: f64) -> f64 {
        let day = (local_s / DAY_S).floor();
        let hour = (local_s - day * DAY_S) / 3600.0;
        let rng = |salt: u64| self.rng(index, day, salt);
        let on = match appliance.habit {
            Habit::Always => true,
            Habit::Cycling { period_s, on_s } => {
                let offset_s = rng(0).random::<f64>() * period_s;
                (unix_s + offset_s).rem_euclid(period_s) < on_s
            }
            Habit::Daily {
                hours,
                spread_h,
                minutes,
                chance,
            } => hours.iter().enumerate().any(|(k, &h)| {
                let mut rng = rng(k as u64 + 1);
                let used = rng.random::<f64>() < chance;
                let start_h = h + (rng.random::<f64>() * 2.0 - 1.0) * spread_h;
                used && hour >= start_h && hour < start_h + minutes / 60.0
            }),
            Habit::HeatPump => {
                let period_s = 1800.0;
                let duty = heat_demand(unix_s);
                (unix_s + rng(0).random::<f64>() * period_s).rem_euclid(period_s) < duty * period_s
            }
            Habit::ElectricVehicle => {
                let mut rng = rng(1);
                let charges = rng.random::<f64>() < 0.6;
                let start_h = 17.5 + rng.random::<f64>() * 2.5;
                let energy_wh = 6_000.0 + rng.random::<f64>() * 14_000.0;
                let hours = energy_wh / appliance.power_w;
                charges && hour >= start_h && hour < start_h + hours
            }
            Habit::Solar => return -appliance.power_w * self.sun(unix_s, hour),
        };
        if on { appliance.power_w } else { 0.0 }
    }

    /// Fraction of the solar peak produced at a time: the sun's height over the day, the
    /// season, and clouds that pass over minutes.
    fn sun(&self, unix_s: f64, local_hour: f64) -> f64 {
        let daylight = ((local_hour - 6.5) / 13.0 * PI).sin().max(0.0);
        let season = 0.65 + 0.35 * (TAU * (day_of_year(unix_s) - 172.0) / 365.25).cos();
        // Clouds: a value per five minutes from the seed, interpolated so power glides.
        let slot_s = 300.0;
        let slot = (unix_s / slot_s).floor();
        let cloud = |slot: f64| {
            let mut rng = self.rng(usize::MAX, slot, 7);
            if rng.random::<f64>() < 0.3 {
                0.35 + 0.4 * rng.random::<f64>()
            } else {
                1.0
            }
        };
        let fraction = unix_s / slot_s - slot;
        let clouds = cloud(slot) * (1.0 - fraction) + cloud(slot + 1.0) * fraction;
        daylight * daylight.sqrt() * season * clouds
    }

    /// A random stream for one appliance, one day (or slot) and one purpose.
    fn rng(&self, appliance: usize, day: f64, salt: u64) -> ChaCha8Rng {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&self.spec.seed.to_le_bytes());
        seed[8..16].copy_from_slice(&(appliance as u64).to_le_bytes());
        seed[16..24].copy_from_slice(&(day as i64).to_le_bytes());
        seed[24..].copy_from_slice(&salt.to_le_bytes());
        ChaCha8Rng::from_seed(seed)
    }
}

/// Day of the year (0–365) of a Unix time, near enough for seasons.
fn day_of_year(unix_s: f64) -> f64 {
    (unix_s / DAY_S).rem_euclid(365.2425)
}

/// Outdoor temperature, °C: a seasonal swing (coldest mid-January) and a daily one
/// (coldest before dawn).
pub fn outdoor_temperature_c(unix_s: f64) -> f64 {
    let seasonal = 10.0 - 9.0 * (TAU * (day_of_year(unix_s) - 15.0) / 365.25).cos();
    let hour = (unix_s / 3600.0).rem_euclid(24.0);
    seasonal - 3.0 * (TAU * (hour - 3.0) / 24.0 + PI / 2.0).sin()
}

/// Share of time a heat pump runs to hold 20 °C indoors at a time's outdoor temperature.
fn heat_demand(unix_s: f64) -> f64 {
    ((16.0 - outdoor_temperature_c(unix_s)) / 22.0).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn power(house: &Household, unix_s: f64) -> f64 {
        house
            .loads_at(unix_s, 0.0)
            .iter()
            .flatten()
            .map(|load| load.current_a * NOMINAL_V * Spectrum::sine().mean_product(&load.shape))
            .sum()
    }

    #[test]
    fn same_seed_same_house_in_any_order() {
        let house = Household::new(HouseholdSpec::ordinary(42));
        let times: Vec<f64> = (0..500)
            .map(|k| 1_780_000_000.0 + f64::from(k) * 173.0)
            .collect();
        let forward: Vec<f64> = times.iter().map(|&t| power(&house, t)).collect();
        let backward: Vec<f64> = times.iter().rev().map(|&t| power(&house, t)).collect();
        assert_eq!(forward, backward.into_iter().rev().collect::<Vec<_>>());
        let other = Household::new(HouseholdSpec::ordinary(43));
        let other: Vec<f64> = times.iter().map(|&t| power(&other, t)).collect();
        assert_ne!(forward, other);
    }

    #[test]
    fn a_day_has_a_plausible_shape() {
        let house = Household::new(HouseholdSpec::ordinary(7));
        let day_start = 1_780_012_800.0; // a midnight UTC
        let energy_kwh: f64 = (0..1440)
            .map(|minute| power(&house, day_start + f64::from(minute) * 60.0) / 60.0 / 1000.0)
            .sum();
        assert!((2.0..20.0).contains(&energy_kwh), "{energy_kwh} kWh a day");
        let night = power(&house, day_start + 3.0 * 3600.0);
        assert!((30.0..300.0).contains(&night), "night baseload {night} W");
    }

    #[test]
    fn solar_exports_at_midday_and_not_at_night() {
        let spec = HouseholdSpec {
            solar_peak_w: 4000.0,
            ..HouseholdSpec::ordinary(3)
        };
        let house = Household::new(spec);
        let june_noon = 1_781_784_000.0; // 2026-06-18 12:00 UTC
        assert!(power(&house, june_noon) < -1000.0);
        assert!(power(&house, june_noon - 12.0 * 3600.0) > 0.0);
    }

    #[test]
    fn three_phase_spreads_the_appliances() {
        let spec = HouseholdSpec {
            three_phase: true,
            ..HouseholdSpec::ordinary(1)
        };
        let house = Household::new(spec);
        let used: std::collections::BTreeSet<usize> =
            house.appliances().iter().map(|a| a.phase).collect();
        assert_eq!(used.len(), 3);
        assert_eq!(house.loads_at(0.0, 0.0).len(), 3);
    }
}
