//! Waveform sources: ADC frames through Joule's metrology chain, one tick at a time.
//!
//! The frames come from simulated mains with a household on it (`crates/sim`) or from a
//! WAV capture replayed in real time. Either way the tick's frames go through the same
//! [`joule_metrology::Meter`] as a real board's ADC would, so the registers, power quality
//! and tamper detection the agent reports are the metrology chain's own. An open supply
//! switch cuts the current: the simulated household draws nothing, and a replayed capture's
//! current channels are held at their DC offset.

use super::observation::{
    Observation, PhaseValues, SourceEvent, mean_voltage_current, power_factor,
};
use super::wav::{WavError, WavSource};
use joule_metrology::{
    Calibration, EventKind as MetrologyEvent, Frame, IntervalAccumulator, MAX_PHASES, Meter,
    MeterConfig, RegisterBank, RegisterSet, Transition,
};
use joule_protocol::{EventKind, EventState, Registers, TariffRegisters};
use joule_sim::household::{Household, HouseholdSpec};
use joule_sim::waveform::{Adc, Frequency, Load, PhaseSignal, Scenario};
use std::f64::consts::TAU;
use std::path::{Path, PathBuf};

/// The longest stretch one tick generates, s: after a stall (a suspended process) the
/// meter does not invent hours of samples at once.
const MAX_TICK_S: f64 = 10.0;

/// Why a waveform source failed.
#[derive(Debug, thiserror::Error)]
pub enum WaveformError {
    /// The metrology configuration is not valid.
    #[error("metrology configuration: {0}")]
    Metrology(String),
    /// The capture could not be read.
    #[error(transparent)]
    Wav(#[from] WavError),
    /// The capture's layout or rate does not fit the configuration.
    #[error("{}: {reason}", path.display())]
    Capture {
        /// The capture.
        path: PathBuf,
        /// What does not fit.
        reason: String,
    },
}

/// The heater a tamperer runs while the voltage tap is off, W.
const TAMPER_HEATER_W: f64 = 2000.0;

/// What a scripted incident does to the simulated supply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentKind {
    /// The supply is cut: no voltage, no current (an outage).
    Interruption,
    /// The voltage tap is removed while the loads keep drawing current, a 2 kW heater
    /// among them on L1 (tamper).
    VoltageTapRemoved,
}

/// A scripted incident on simulated mains, timed from the agent's first tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incident {
    /// What happens.
    pub kind: IncidentKind,
    /// When it starts, s after the first tick.
    pub after_s: u32,
    /// How long it lasts, s.
    pub duration_s: u32,
}

/// Simulated mains: a household on a 230 V, 50 Hz supply seen through a 12-bit ADC.
#[derive(Debug)]
pub struct SimulatedMains {
    household: Household,
    adc: Adc,
    utc_offset_s: f64,
    incidents: Vec<Incident>,
    /// Start of the first tick, Unix ms: incidents are timed from it.
    origin_ms: Option<i64>,
    /// Voltage phase at the start of the next tick, rad.
    angle_rad: f64,
    ticks: u64,
}

impl SimulatedMains {
    /// Mains for `spec`, with habits following local time at `utc_offset_s`.
    pub fn new(spec: HouseholdSpec, utc_offset_s: f64) -> Self {
        Self {
            household: Household::new(spec),
            // 450 V and 100 A at full scale: headroom over 230 V · √2 and a 60 A Imax.
            adc: Adc::twelve_bit(450.0, 100.0, 120.0),
            utc_offset_s,
            incidents: Vec::new(),
            origin_ms: None,
            angle_rad: 0.0,
            ticks: 0,
        }
    }

    /// The same mains with scripted incidents.
    pub fn with_incidents(mut self, incidents: Vec<Incident>) -> Self {
        self.incidents = incidents;
        self
    }

    /// The incident in force at `ts_ms`, if any.
    fn incident_at(&mut self, ts_ms: i64) -> Option<IncidentKind> {
        let origin_ms = *self.origin_ms.get_or_insert(ts_ms);
        let elapsed_ms = ts_ms - origin_ms;
        self.incidents
            .iter()
            .find(|i| {
                let from_ms = i64::from(i.after_s) * 1000;
                (from_ms..from_ms + i64::from(i.duration_s) * 1000).contains(&elapsed_ms)
            })
            .map(|i| i.kind)
    }

    /// The front end's exact calibration.
    pub fn calibration(&self) -> Calibration {
        self.adc.calibration()
    }

    /// Number of phases of the household's supply.
    pub fn phases(&self) -> usize {
        self.household.phases()
    }

    fn frames(
        &mut self,
        start_ms: i64,
        samples: u64,
        rate_hz: f64,
        supply: bool,
        out: &mut Vec<Frame>,
    ) {
        let unix_s = start_ms as f64 / 1000.0;
        // A tick is a second: an incident covering its middle covers all of it.
        let incident = self.incident_at(start_ms + (samples as f64 / rate_hz * 500.0) as i64);
        let mut loads = if supply && incident != Some(IncidentKind::Interruption) {
            self.household.loads_at(unix_s, self.utc_offset_s)
        } else {
            vec![Vec::new(); self.household.phases()]
        };
        if supply && incident == Some(IncidentKind::VoltageTapRemoved) {
            // What the tap was removed for: a heater running unmetered on L1.
            loads[0].push(Load::sine(TAMPER_HEATER_W / 230.0, 1.0, true));
        }
        // The grid wanders slowly: ±2 % in voltage, ±0.05 Hz in frequency.
        let voltage_v = match incident {
            Some(_) => 0.0,
            None => 230.0 * (1.0 + 0.02 * (unix_s * TAU / 3_600.0).sin()),
        };
        let frequency_hz = 50.0 + 0.05 * (unix_s * TAU / 600.0).sin();
        let phases = loads
            .into_iter()
            .enumerate()
            .map(|(k, loads)| PhaseSignal {
                angle_rad: -(k as f64) * TAU / 3.0,
                ..PhaseSignal::new(voltage_v, loads)
            })
            .collect();
        self.ticks += 1;
        let scenario = Scenario {
            sample_rate_hz: rate_hz,
            duration_s: samples as f64 / rate_hz,
            frequency: Frequency::Constant(frequency_hz),
            start_angle_rad: self.angle_rad,
            phases,
            earth_leakage_a: 0.0,
            adc: self.adc,
            seed: self.household.spec().seed ^ self.ticks.rotate_left(32),
        };
        out.extend(scenario.frames());
        self.angle_rad = scenario.theta(samples as f64 / rate_hz).rem_euclid(TAU);
    }
}

/// A capture replayed in real time, from the start again when it ends.
#[derive(Debug)]
pub struct CaptureReplay {
    path: PathBuf,
    reader: WavSource,
}

impl CaptureReplay {
    /// Opens a capture.
    pub fn open(path: &Path) -> Result<Self, WaveformError> {
        Ok(Self {
            path: path.to_path_buf(),
            reader: WavSource::open(path)?,
        })
    }

    /// Samples per second per channel of the capture.
    pub fn sample_rate_hz(&self) -> f64 {
        self.reader.sample_rate_hz()
    }

    /// Number of phases the capture holds.
    pub fn phases(&self) -> usize {
        self.reader.layout().phases()
    }

    fn frames(&mut self, samples: u64, out: &mut Vec<Frame>) -> Result<(), WaveformError> {
        for _ in 0..samples {
            let frame = match self.reader.next() {
                Some(frame) => frame?,
                None => {
                    self.reader = WavSource::open(&self.path)?;
                    match self.reader.next() {
                        Some(frame) => frame?,
                        None => {
                            return Err(WaveformError::Capture {
                                path: self.path.clone(),
                                reason: "has no frames".into(),
                            });
                        }
                    }
                }
            };
            out.push(frame);
        }
        Ok(())
    }
}

/// `config` with phase `phase`'s (0-based) calibration replaced, checked the way the
/// metrology chain checks it: what a `calibrate` command would leave in force.
pub fn recalibrated(
    config: &MeterConfig,
    phase: usize,
    calibration: Calibration,
) -> Result<MeterConfig, WaveformError> {
    if phase >= config.phases {
        return Err(WaveformError::Metrology(format!(
            "the meter has no phase {}",
            phase + 1
        )));
    }
    let mut config = *config;
    config.calibration[phase] = calibration;
    config
        .validate()
        .map_err(|e| WaveformError::Metrology(e.to_string()))?;
    Ok(config)
}

/// Where the frames come from.
#[derive(Debug)]
pub enum Frames {
    /// Simulated mains.
    Simulated(Box<SimulatedMains>),
    /// A replayed capture.
    Capture(Box<CaptureReplay>),
}

/// A waveform source: frames through the metrology chain.
#[derive(Debug)]
pub struct WaveformSource {
    frames: Frames,
    meter: Meter,
    phases: usize,
    /// End of the last tick, Unix ms (none before the first).
    last_ms: Option<i64>,
    /// Fraction of a sample carried between ticks.
    carry_samples: f64,
    buffer: Vec<Frame>,
}

impl WaveformSource {
    /// A source over `frames`, metered with `config`, starting from `registers`.
    pub fn new(
        frames: Frames,
        config: MeterConfig,
        registers: RegisterBank,
    ) -> Result<Self, WaveformError> {
        let mut meter = Meter::new(config).map_err(|e| WaveformError::Metrology(e.to_string()))?;
        meter.restore_registers(registers);
        Ok(Self {
            frames,
            phases: config.phases,
            meter,
            last_ms: None,
            carry_samples: 0.0,
            buffer: Vec::new(),
        })
    }

    /// The metrology chain's registers.
    pub fn registers(&self) -> &RegisterBank {
        self.meter.registers()
    }

    /// Routes energy to tariff register `tariff`.
    pub fn select_tariff(&mut self, tariff: usize) -> bool {
        self.meter.select_tariff(tariff)
    }

    /// The metrology chain's configuration.
    pub fn metrology(&self) -> &MeterConfig {
        self.meter.config()
    }

    /// Replaces one phase's calibration (0-based), keeping the registers.
    pub fn calibrate(
        &mut self,
        phase: usize,
        calibration: Calibration,
    ) -> Result<(), WaveformError> {
        let config = recalibrated(self.meter.config(), phase, calibration)?;
        let mut meter = Meter::new(config).map_err(|e| WaveformError::Metrology(e.to_string()))?;
        meter.restore_registers(*self.meter.registers());
        self.meter = meter;
        Ok(())
    }

    /// Meters the stretch from the last tick to `now_ms`, with the supply switch closed or
    /// open.
    pub fn observe(&mut self, now_ms: i64, supply: bool) -> Result<Observation, WaveformError> {
        let rate_hz = self.meter.config().sample_rate_hz;
        let start_ms = self.last_ms.unwrap_or(now_ms - 1000);
        let span_s = ((now_ms - start_ms) as f64 / 1000.0).clamp(0.0, MAX_TICK_S);
        self.last_ms = Some(now_ms);
        let exact = span_s * rate_hz + self.carry_samples;
        let samples = exact.floor() as u64;
        self.carry_samples = exact - samples as f64;
        self.buffer.clear();
        let mut buffer = std::mem::take(&mut self.buffer);
        match &mut self.frames {
            Frames::Simulated(mains) => {
                mains.frames(start_ms, samples, rate_hz, supply, &mut buffer)
            }
            Frames::Capture(capture) => {
                capture.frames(samples, &mut buffer)?;
                if !supply {
                    for frame in &mut buffer {
                        for k in 0..MAX_PHASES {
                            frame.i[k] = self.meter.dc_offsets(k).1;
                        }
                    }
                }
            }
        }
        let first_sample = self.meter.samples();
        let to_ms = |sample: u64| {
            now_ms
                - ((first_sample + samples).saturating_sub(sample) as f64 / rate_hz * 1000.0) as i64
        };
        let mut cycles = vec![IntervalAccumulator::default(); self.phases];
        let mut events = Vec::new();
        for frame in &buffer {
            let completed = self.meter.push_frame(frame);
            if completed.any() {
                for (phase, accumulator) in cycles.iter_mut().enumerate() {
                    if completed.phase(phase) {
                        accumulator.add(self.meter.last_cycle(phase));
                    }
                }
            }
            while let Some(event) = self.meter.pop_event() {
                events.push(SourceEvent {
                    kind: event_kind(event.kind),
                    state: match event.transition {
                        Transition::Started => EventState::Started,
                        Transition::Ended => EventState::Ended,
                    },
                    phase: event.phase.map(|p| p + 1),
                    ts_ms: to_ms(event.at_sample),
                    started_ms: (event.transition == Transition::Ended)
                        .then(|| to_ms(event.start_sample)),
                    duration_s: (event.transition == Transition::Ended).then_some(event.duration_s),
                    extreme: Some(event.extreme),
                });
            }
        }
        self.buffer = buffer;
        Ok(self.observation(now_ms, &cycles, events))
    }

    fn observation(
        &self,
        now_ms: i64,
        cycles: &[IntervalAccumulator],
        events: Vec<SourceEvent>,
    ) -> Observation {
        let summaries: Vec<_> = cycles.iter().map(IntervalAccumulator::summary).collect();
        let phases: Vec<PhaseValues> = summaries
            .iter()
            .map(|summary| {
                summary
                    .as_ref()
                    .map_or(PhaseValues::default(), |s| PhaseValues {
                        voltage_v: s.vrms_v,
                        current_a: s.irms_a,
                        p_w: s.p_w,
                        q_var: s.q_var,
                        s_va: s.s_va,
                        pf: s.pf,
                    })
            })
            .collect();
        let (voltage_v, current_a) = mean_voltage_current(&phases);
        let p_w: f64 = phases.iter().map(|p| p.p_w).sum();
        let s_va: f64 = phases.iter().map(|p| p.s_va).sum();
        let total = PhaseValues {
            voltage_v,
            current_a,
            p_w,
            q_var: phases.iter().map(|p| p.q_var).sum(),
            s_va,
            pf: power_factor(p_w, s_va),
        };
        let voltage_range_v = summaries.iter().flatten().fold(None, |range, s| {
            let (low, high) = range.unwrap_or((f64::MAX, f64::MIN));
            Some((low.min(s.vrms_range.min), high.max(s.vrms_range.max)))
        });
        let freq_hz = summaries.first().and_then(|s| s.as_ref()?.frequency_hz);
        let bank = self.meter.registers();
        Observation {
            ts_ms: now_ms,
            total,
            phases: if self.phases > 1 { phases } else { Vec::new() },
            freq_hz,
            voltage_range_v,
            registers: registers(&bank.total),
            tariff_registers: tariff_registers(bank),
            device_tariff: None,
            events,
        }
    }
}

/// A register set as the wire carries it.
pub fn registers(set: &RegisterSet) -> Registers {
    Registers {
        import_mwh: set.active_import.milli(),
        export_mwh: set.active_export.milli(),
        reactive_mvarh: [
            set.reactive[0].milli(),
            set.reactive[1].milli(),
            set.reactive[2].milli(),
            set.reactive[3].milli(),
        ],
        apparent_import_mvah: set.apparent_import.milli(),
        apparent_export_mvah: set.apparent_export.milli(),
    }
}

/// Tariff registers with any energy.
pub fn tariff_registers(bank: &RegisterBank) -> Vec<TariffRegisters> {
    bank.tariffs
        .iter()
        .enumerate()
        .filter(|(_, set)| set.active_import.milli() > 0 || set.active_export.milli() > 0)
        .map(|(tariff, set)| TariffRegisters {
            tariff: tariff as u8,
            import_mwh: set.active_import.milli(),
            export_mwh: set.active_export.milli(),
        })
        .collect()
}

fn event_kind(kind: MetrologyEvent) -> EventKind {
    match kind {
        MetrologyEvent::Sag => EventKind::Sag,
        MetrologyEvent::Swell => EventKind::Swell,
        MetrologyEvent::Interruption => EventKind::Interruption,
        MetrologyEvent::OverCurrent => EventKind::OverCurrent,
        MetrologyEvent::FrequencyOutOfRange => EventKind::FrequencyOutOfRange,
        MetrologyEvent::ReverseFlow => EventKind::ReverseFlow,
        MetrologyEvent::CurrentWithoutVoltage => EventKind::CurrentWithoutVoltage,
        MetrologyEvent::NeutralMismatch => EventKind::NeutralMismatch,
        MetrologyEvent::CoverOpen => EventKind::CoverOpen,
        MetrologyEvent::MagneticField => EventKind::MagneticField,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simulated(spec: HouseholdSpec) -> WaveformSource {
        simulated_with(spec, Vec::new())
    }

    fn simulated_with(spec: HouseholdSpec, incidents: Vec<Incident>) -> WaveformSource {
        let mains = SimulatedMains::new(spec, 0.0).with_incidents(incidents);
        let config = if mains.phases() == 3 {
            MeterConfig::three_phase(4000.0, mains.calibration())
        } else {
            MeterConfig::single_phase(4000.0, mains.calibration())
        };
        WaveformSource::new(
            Frames::Simulated(Box::new(mains)),
            config,
            RegisterBank::default(),
        )
        .unwrap()
    }

    #[test]
    fn simulated_household_is_metered_and_the_switch_cuts_it() {
        let spec = HouseholdSpec {
            heat_pump_w: 2000.0,
            ..HouseholdSpec::ordinary(5)
        };
        let mut source = simulated(spec);
        // A winter evening: the standby load at least, probably more.
        let start_ms = 1_795_000_000_000;
        let mut last = None;
        for k in 1..=5 {
            last = Some(source.observe(start_ms + k * 1000, true).unwrap());
        }
        let on = last.unwrap();
        assert!(on.total.p_w > 20.0, "{:?}", on.total);
        assert!((on.total.voltage_v - 230.0).abs() < 10.0, "{:?}", on.total);
        assert!((on.freq_hz.unwrap() - 50.0).abs() < 0.1);
        assert!(on.registers.import_mwh > 0);
        let before = on.registers.import_mwh;
        let mut off = None;
        for k in 6..=10 {
            off = Some(source.observe(start_ms + k * 1000, false).unwrap());
        }
        let off = off.unwrap();
        assert!(off.total.p_w.abs() < 5.0, "{:?}", off.total);
        assert!(
            off.registers.import_mwh - before < 50,
            "energy while disconnected"
        );
    }

    #[test]
    fn scripted_incidents_are_detected_by_the_metrology_chain() {
        let incidents = vec![
            Incident {
                kind: IncidentKind::Interruption,
                after_s: 2,
                duration_s: 3,
            },
            Incident {
                kind: IncidentKind::VoltageTapRemoved,
                after_s: 8,
                duration_s: 4,
            },
        ];
        let mut source = simulated_with(HouseholdSpec::ordinary(5), incidents);
        let start_ms = 1_795_000_000_000;
        let mut kinds = Vec::new();
        for k in 1..=16 {
            let observation = source.observe(start_ms + k * 1000, true).unwrap();
            kinds.extend(observation.events.iter().map(|e| (e.kind, e.state)));
        }
        for expected in [
            (EventKind::Interruption, EventState::Started),
            (EventKind::Interruption, EventState::Ended),
            (EventKind::CurrentWithoutVoltage, EventState::Started),
            (EventKind::CurrentWithoutVoltage, EventState::Ended),
        ] {
            assert!(kinds.contains(&expected), "{expected:?} in {kinds:?}");
        }
    }

    #[test]
    fn three_phase_reports_each_phase() {
        let spec = HouseholdSpec {
            three_phase: true,
            ..HouseholdSpec::ordinary(9)
        };
        let mut source = simulated(spec);
        let observation = source.observe(1_795_000_001_000, true).unwrap();
        assert_eq!(observation.phases.len(), 3);
        let sum: f64 = observation.phases.iter().map(|p| p.p_w).sum();
        assert!((sum - observation.total.p_w).abs() < 1e-6);
    }
}
