//! The meter: one to three phase chains, registers, demand, power quality and tamper,
//! behind one sample-by-sample interface.
//!
//! Energy is registered per cycle. A cycle registers active energy only when |P|, averaged
//! over the last four cycles, reaches the starting power (starting current × Un), reactive
//! only when |Q| does, and apparent when either does: that is both the starting-current
//! rule and anti-creep. Each
//! phase registers into its own set by its own sign; the totals (and tariff sets) register
//! the phases' sum, netted each cycle of the first phase, as poly-phase meters that net
//! across phases do. On an import-only installation exported energy is registered as import
//! (reversing a current sensor must not lower the bill) and raises a reverse-flow event.

use crate::config::{ConfigError, MAX_PHASES, MeterConfig};
use crate::demand::DemandMeter;
use crate::events::{Event, EventQueue};
use crate::measurement::CycleMeasurement;
use crate::phase::PhaseChannel;
use crate::pq::PqMonitor;
use crate::registers::{PeriodEnergy, RegisterBank};
use crate::tamper::{DigitalInput, TamperMonitor};

/// One sample of every channel, in raw ADC counts (offset included).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Frame {
    /// Voltage per phase (L1, L2, L3).
    pub v: [f64; MAX_PHASES],
    /// Current per phase (L1, L2, L3).
    pub i: [f64; MAX_PHASES],
    /// Neutral current (ignored unless the configuration has a neutral channel).
    pub neutral: f64,
}

/// Which phases completed a cycle with the last frame (bit k: phase k).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Completed(u8);

impl Completed {
    /// Whether phase `phase` (0-based) completed a cycle.
    pub fn phase(self, phase: usize) -> bool {
        self.0 & (1 << phase) != 0
    }

    /// Whether any phase completed a cycle.
    pub fn any(self) -> bool {
        self.0 != 0
    }
}

/// Energy of the phases since the totals were last registered.
#[derive(Debug, Clone, Copy, Default)]
struct PendingTotal {
    /// The registrable amounts, summed over the phases.
    energy: PeriodEnergy,
    /// Measured active energy before the starting gate, whose sign is the direction.
    measured_active_wh: f64,
}

/// Cycles over which the starting-threshold gate averages |P| and |Q|.
const GATE_CYCLES: usize = 4;

/// The starting-threshold (anti-creep) gate of one phase: the average of |P| and |Q| over
/// the last few cycles. Averaging the magnitudes rather than the signed values keeps a
/// reversal of flow from ever looking like no load, while ADC noise, which is only
/// ±1 W or so per cycle at 12 bits, averages further below the starting power.
#[derive(Debug, Clone, Copy, Default)]
struct StartingGate {
    active_w: [f64; GATE_CYCLES],
    reactive_var: [f64; GATE_CYCLES],
    next: usize,
}

impl StartingGate {
    /// Records a cycle; returns whether its active and reactive energy may register.
    fn admit(&mut self, cycle: &CycleMeasurement, starting_power_w: f64) -> (bool, bool) {
        self.active_w[self.next] = cycle.p_w.abs();
        self.reactive_var[self.next] = cycle.q_var.abs();
        self.next = (self.next + 1) % GATE_CYCLES;
        let mean = |values: &[f64; GATE_CYCLES]| values.iter().sum::<f64>() / GATE_CYCLES as f64;
        (
            mean(&self.active_w) >= starting_power_w,
            mean(&self.reactive_var) >= starting_power_w,
        )
    }
}

/// Residual (phases − neutral) current sums over a cycle of the first phase, in amps.
#[derive(Debug, Clone, Copy, Default)]
struct ResidualSums {
    n: u32,
    sum: f64,
    sum_square: f64,
}

/// A complete meter.
#[derive(Debug, Clone)]
pub struct Meter {
    config: MeterConfig,
    phases: [PhaseChannel; MAX_PHASES],
    pq: [PqMonitor; MAX_PHASES],
    gates: [StartingGate; MAX_PHASES],
    tamper: TamperMonitor,
    registers: RegisterBank,
    demand: DemandMeter,
    pending: PendingTotal,
    residual: ResidualSums,
    events: EventQueue,
    time_origin_s: f64,
    samples: u64,
}

impl Meter {
    /// Builds a meter; the configuration is validated first.
    pub fn new(config: MeterConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let phase = |k: usize| PhaseChannel::new(&config, &config.calibration[k]);
        Ok(Self {
            phases: [phase(0), phase(1), phase(2)],
            pq: [PqMonitor::new(0), PqMonitor::new(1), PqMonitor::new(2)],
            gates: [StartingGate::default(); MAX_PHASES],
            tamper: TamperMonitor::new(),
            registers: RegisterBank::default(),
            demand: DemandMeter::new(&config.demand),
            pending: PendingTotal::default(),
            residual: ResidualSums::default(),
            events: EventQueue::default(),
            time_origin_s: 0.0,
            samples: 0,
            config,
        })
    }

    /// The configuration the meter runs with.
    pub fn config(&self) -> &MeterConfig {
        &self.config
    }

    /// Takes one sample pair of a single-phase meter (raw counts). On a three-phase meter
    /// use [`Meter::push_frame`]; this feeds L1 only.
    #[inline]
    pub fn push_sample(&mut self, v: f64, i: f64) -> Completed {
        debug_assert_eq!(
            self.config.phases, 1,
            "push_sample is for single-phase meters"
        );
        self.samples += 1;
        let step = self.phases[0].push(v, i);
        if step.half {
            self.after_half_cycle(0);
        }
        if step.cycle {
            self.after_cycle(0);
            return Completed(1);
        }
        Completed(0)
    }

    /// Takes a block of single-phase sample pairs (an ADC's DMA buffer, say); returns how
    /// many cycles completed. The result is the same however the stream is cut into blocks.
    pub fn push_block(&mut self, v: &[f64], i: &[f64]) -> u32 {
        let mut cycles = 0;
        for (&v, &i) in v.iter().zip(i) {
            cycles += u32::from(self.push_sample(v, i).any());
        }
        cycles
    }

    /// Takes one frame of every channel.
    pub fn push_frame(&mut self, frame: &Frame) -> Completed {
        self.samples += 1;
        let mut completed = 0u8;
        for k in 0..self.config.phases {
            let step = self.phases[k].push(frame.v[k], frame.i[k]);
            if step.half {
                self.after_half_cycle(k);
            }
            if step.cycle {
                completed |= 1 << k;
            }
        }
        if let Some(neutral_scale) = self.config.neutral_i_scale {
            self.accumulate_residual(frame, neutral_scale, completed & 1 != 0);
        }
        for k in 0..self.config.phases {
            if completed & (1 << k) != 0 {
                self.after_cycle(k);
            }
        }
        Completed(completed)
    }

    /// Ends the sample stream: the cycles in progress become partial cycles and their
    /// energy is registered, so every sample counts.
    pub fn finish(&mut self) -> Completed {
        let mut completed = 0u8;
        for k in 0..self.config.phases {
            if self.phases[k].finish() {
                completed |= 1 << k;
                self.register_cycle(k);
            }
        }
        self.register_total();
        Completed(completed)
    }

    /// The last completed (or, after [`Meter::finish`], partial) cycle of a phase.
    ///
    /// # Panics
    /// If `phase` is not below [`MAX_PHASES`].
    pub fn last_cycle(&self, phase: usize) -> &CycleMeasurement {
        self.phases[phase].last_cycle()
    }

    /// The one-cycle RMS voltage refreshed every half cycle, per IEC 61000-4-30, in volts.
    ///
    /// # Panics
    /// If `phase` is not below [`MAX_PHASES`].
    pub fn half_cycle_rms_v(&self, phase: usize) -> f64 {
        self.phases[phase].half_cycle_rms_v()
    }

    /// The DC offsets being removed from a phase's channels, in counts (voltage, current).
    ///
    /// # Panics
    /// If `phase` is not below [`MAX_PHASES`].
    pub fn dc_offsets(&self, phase: usize) -> (f64, f64) {
        self.phases[phase].offsets()
    }

    /// Samples refused because no ADC could have produced them (NaN, infinite, or beyond
    /// 2³¹ counts), summed over the phases. Each is read as no signal.
    pub fn invalid_samples(&self) -> u64 {
        self.phases.iter().map(PhaseChannel::invalid_samples).sum()
    }

    /// The energy registers.
    pub fn registers(&self) -> &RegisterBank {
        &self.registers
    }

    /// Restores registers (from persistent storage at start-up).
    pub fn restore_registers(&mut self, registers: RegisterBank) {
        self.registers = registers;
    }

    /// Selects the tariff register set (0-based); the calendar lives with the caller.
    /// Returns `false` and changes nothing when the tariff is out of range.
    pub fn select_tariff(&mut self, tariff: usize) -> bool {
        self.register_total();
        self.registers.select_tariff(tariff)
    }

    /// The demand meter (last and maximum demand).
    pub fn demand(&self) -> &DemandMeter {
        &self.demand
    }

    /// Resets the maximum-demand register.
    pub fn reset_maximum_demand(&mut self) {
        self.demand.reset_maximum();
    }

    /// Maps sample 0 to `seconds` on the caller's clock (e.g. Unix time), so demand windows
    /// align to it. The meter has no clock of its own.
    pub fn set_time_origin(&mut self, seconds: f64) {
        self.time_origin_s = seconds;
    }

    /// Samples taken per channel since the meter started.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Seconds of samples taken since the meter started.
    pub fn elapsed_s(&self) -> f64 {
        self.samples as f64 / self.config.sample_rate_hz
    }

    /// Records a digital tamper input's state; a change raises an event.
    pub fn set_digital_input(&mut self, input: DigitalInput, active: bool) {
        let fs = self.config.sample_rate_hz;
        if let Some(event) = self.tamper.set_input(input, active, self.samples, fs) {
            self.events.push(event);
        }
    }

    /// Takes the oldest event not yet collected.
    pub fn pop_event(&mut self) -> Option<Event> {
        self.events.pop()
    }

    /// Events lost because the queue was full.
    pub fn events_dropped(&self) -> u64 {
        self.events.dropped()
    }

    fn after_half_cycle(&mut self, phase: usize) {
        let urms_v = self.phases[phase].half_cycle_rms_v();
        let events = &mut self.events;
        self.pq[phase].observe_half_cycle(&self.config, urms_v, self.samples, |e| events.push(e));
    }

    fn after_cycle(&mut self, phase: usize) {
        let cycle = *self.phases[phase].last_cycle();
        // Events judge RMS values, which only whole-cycle windows measure exactly.
        if cycle.whole {
            let events = &mut self.events;
            self.pq[phase].observe_cycle(&self.config, &cycle, |e| events.push(e));
            self.tamper
                .observe_cycle(&self.config, phase, &cycle, |e| events.push(e));
        }
        self.register_cycle(phase);
        if phase == 0 {
            self.register_total();
        }
    }

    /// Registers one phase's cycle in its own set and adds it to the pending total.
    fn register_cycle(&mut self, phase: usize) {
        let cycle = *self.phases[phase].last_cycle();
        let hours = cycle.duration_s / 3600.0;
        let (active_counts, reactive_counts) =
            self.gates[phase].admit(&cycle, self.config.starting_power_w());
        let measured_active_wh = if self.config.import_only {
            (cycle.p_w * hours).abs()
        } else {
            cycle.p_w * hours
        };
        let active_wh = if active_counts {
            measured_active_wh
        } else {
            0.0
        };
        let reactive_varh = if reactive_counts {
            cycle.q_var * hours
        } else {
            0.0
        };
        let apparent_vah = if active_counts || reactive_counts {
            cycle.s_va * hours
        } else {
            0.0
        };
        if active_wh == 0.0 && reactive_varh == 0.0 {
            return;
        }
        self.registers.phases[phase].register(&PeriodEnergy {
            active_wh,
            reactive_varh,
            apparent_vah,
            exporting: measured_active_wh < 0.0,
        });
        let pending = &mut self.pending;
        pending.energy.active_wh += active_wh;
        pending.energy.reactive_varh += reactive_varh;
        pending.energy.apparent_vah += apparent_vah;
        pending.measured_active_wh += measured_active_wh;
    }

    /// Registers the phases' net energy since the last call in the totals and the active
    /// tariff, and feeds demand.
    fn register_total(&mut self) {
        let pending = core::mem::take(&mut self.pending);
        let time_s = self.time_origin_s + self.elapsed_s();
        self.demand.add(time_s, pending.energy.active_wh.max(0.0));
        if pending.energy.active_wh == 0.0 && pending.energy.reactive_varh == 0.0 {
            return;
        }
        self.registers.register_total(&PeriodEnergy {
            exporting: pending.measured_active_wh < 0.0,
            ..pending.energy
        });
    }

    fn accumulate_residual(&mut self, frame: &Frame, neutral_scale: f64, cycle_ended: bool) {
        if cycle_ended && self.residual.n > 0 {
            let n = f64::from(self.residual.n);
            let mean = self.residual.sum / n;
            let residual_a = libm::sqrt((self.residual.sum_square / n - mean * mean).max(0.0));
            let events = &mut self.events;
            self.tamper
                .observe_residual(&self.config, residual_a, self.samples, |e| {
                    events.push(e);
                });
            self.residual = ResidualSums::default();
        }
        let phases = self.config.phases;
        let phase_sum: f64 = (0..phases)
            .map(|k| frame.i[k] * self.config.calibration[k].i_scale)
            .sum();
        let residual = phase_sum - frame.neutral * neutral_scale;
        self.residual.n += 1;
        self.residual.sum += residual;
        self.residual.sum_square += residual * residual;
    }
}
