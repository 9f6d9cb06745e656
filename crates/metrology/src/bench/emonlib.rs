//! Faithful Rust port of EmonLib's `EnergyMonitor::calcVI(crossings, timeout)`: a literal
//! port kept only as a benchmark anchor, not used by the meter. The chain's criterion
//! benchmark and `joule bench metrology` run it beside the meter on the same samples; it is
//! compiled only with the `emonlib-anchor` feature.
//!
//! Reference source (read from the stored copy of the public repository):
//!
//! * `openenergymonitor/EmonLib`, `EmonLib.cpp` at commit
//!   `87ade36682843f8b8acb631a57cfb987c75c02a1` (`calcVI`, `voltage`, `current`, `readVcc`);
//! * `openenergymonitor/EmonLib`, `EmonLib.h` at commit
//!   `781bba6b2a5f0a1eb0406685c7ee7cc4a1db79ab` (member types, `ADC_BITS`, `ADC_COUNTS`).
//!
//! The copy of `src/EmonLib.cpp` at commit `2e67bcfb9e6298bc5b4e1c3cc74d2206e57471d8` has the
//! same arithmetic; only the start-up wait loop is spelled `while(1) { ... break; }` instead of
//! `while(st==false) { ... st=true; }`, which behaves the same.
//!
//! EmonLib is GPL-licensed. This file re-expresses its algorithm for measurement only.
//!
//! Every field and local keeps the C++ name in its doc comment, and the body of
//! [`EmonLib::calc_vi`] follows the C++ steps 1), 2) A–G and 3) in the same order, so the two
//! can be compared line by line.
//!
//! Where the port has to differ from the C++:
//!
//! * **Arithmetic width.** EmonLib declares its state as `double`. On AVR that is a 32-bit
//!   float, but on ARM (Arduino Due) and ESP32 it is a 64-bit IEEE double, so this port uses
//!   `f64`. The ADC samples and `startV` are `int` in C++ and `i32` here. `numberOfSamples`
//!   and `crossCount` are `unsigned int`, 32 bits wide on those targets, and `u32` here.
//! * **`analogRead` becomes a slice cursor.** Each time step is one index into the two
//!   sample slices. The wait loop reads only the voltage channel, as the C++ does, but it
//!   still uses up that time step. Each main-loop pass reads `samples_v[k]` and
//!   `samples_i[k]` at the same index `k`. On real hardware the two `analogRead` calls are one
//!   ADC conversion apart. Here they are simultaneous, so `PHASECAL` corrects only the
//!   phase error recorded in the samples themselves. The cursor is kept between calls, just as
//!   the live waveform keeps moving between two `calcVI` calls.
//! * **Timeout in samples.** The C++ `timeout` counts `millis()`. Here the only limit is the
//!   number of samples left in the slices. If the samples run out during the wait loop or
//!   before `crossings` crossings have been counted, `calc_vi` returns `None`. The C++ would
//!   instead finish on the partial window. On that path the accumulators `sumV`, `sumI`
//!   and `sumP` are cleared, as the C++ post-loop code always leaves them. The filter state
//!   keeps what the consumed samples did to it.
//! * **Supply voltage.** `SupplyVoltage` comes from `readVcc()`, which returns 3300 mV on
//!   `__arm__` and on "other un-supported architectures" (ESP32), or is fixed at 3300 for
//!   `emonTxV3`. The port uses the constant 3300 mV. `ADC_BITS` is 12, as `EmonLib.h` selects
//!   for `__arm__` and `ESP32`.
//! * **Offset filter divisor.** The stored `EmonLib.cpp` divides by the literal `1024` in the
//!   offset low-pass filters (`offsetV = offsetV + ((sampleV-offsetV)/1024)`), whatever
//!   `ADC_BITS` is. The port keeps `1024`.
//! * **Initial state.** A global `EnergyMonitor` object lives in zero-initialised storage, so
//!   `filteredV`, the sums and `checkVCross` start at zero/`false`. [`EmonLib::new`] does
//!   what `voltage()` plus `current()` do: it stores `VCAL`, `PHASECAL` and `ICAL` and sets
//!   `offsetV = offsetI = ADC_COUNTS>>1`. The pin numbers `inPinV` and `inPinI` have nothing
//!   to map to and are left out.
//! * **`crossings == 0`.** The main loop does not run, `numberOfSamples` is 0, and the
//!   results are NaN, the same as the C++ `0.0/0` division.

/// `SupplyVoltage` in millivolts. `readVcc()` returns 3300 on `__arm__` and other non-AVR
/// targets, and `emonTxV3` builds hard-code the same value.
const SUPPLY_VOLTAGE_MV: i32 = 3300;

/// `ADC_BITS` as `EmonLib.h` defines it for `__arm__` and `ESP32` builds.
const ADC_BITS: u32 = 12;

/// The literal divisor of the `offsetV` / `offsetI` low-pass filters in the stored
/// `EmonLib.cpp` (`/1024`). It does not depend on `ADC_BITS`.
const OFFSET_FILTER_DIVISOR: i32 = 1024;

/// Values that `calcVI` leaves in the public members of `EnergyMonitor`, plus how many
/// samples the call used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmonLibReading {
    /// `realPower`, in watts.
    pub real_power: f64,
    /// `apparentPower`, in volt-amperes (`Vrms * Irms`).
    pub apparent_power: f64,
    /// `powerFactor` (`realPower / apparentPower`).
    pub power_factor: f64,
    /// `Vrms`, in volts.
    pub vrms: f64,
    /// `Irms`, in amperes.
    pub irms: f64,
    /// How far the sample cursor moved during this call: the voltage-only reads of the
    /// start-up wait loop plus the `numberOfSamples` passes of the main loop.
    pub samples_used: usize,
}

/// Port of the `EnergyMonitor` class, limited to the state `calcVI` uses. The ADC is replaced
/// by a cursor into caller-supplied sample slices.
#[derive(Debug, Clone)]
pub struct EmonLib {
    /// `VCAL`: voltage calibration coefficient.
    vcal: f64,
    /// `ICAL`: current calibration coefficient.
    ical: f64,
    /// `PHASECAL`: phase calibration coefficient.
    phasecal: f64,
    /// `SupplyVoltage` in millivolts (the C++ reads it at the start of each `calcVI` call).
    supply_voltage_mv: i32,
    /// `ADC_BITS`, so `ADC_COUNTS = 1 << ADC_BITS`.
    adc_bits: u32,

    /// `sampleV`: raw voltage ADC reading.
    sample_v: i32,
    /// `sampleI`: raw current ADC reading.
    sample_i: i32,
    /// `lastFilteredV`: the previous `filteredV`, used by the phase correction.
    last_filtered_v: f64,
    /// `filteredV`: `sampleV` minus its DC offset.
    filtered_v: f64,
    /// `filteredI`: `sampleI` minus its DC offset.
    filtered_i: f64,
    /// `offsetV`: output of the voltage low-pass filter (DC offset estimate).
    offset_v: f64,
    /// `offsetI`: output of the current low-pass filter (DC offset estimate).
    offset_i: f64,
    /// `phaseShiftedV`: phase-calibrated voltage.
    phase_shifted_v: f64,
    /// `sqV`: squared filtered voltage.
    sq_v: f64,
    /// `sumV`: sum of `sqV`.
    sum_v: f64,
    /// `sqI`: squared filtered current.
    sq_i: f64,
    /// `sumI`: sum of `sqI`.
    sum_i: f64,
    /// `instP`: instantaneous power.
    inst_p: f64,
    /// `sumP`: sum of `instP`.
    sum_p: f64,
    /// `startV`: voltage reading at the start of the window, used as the crossing threshold.
    start_v: i32,
    /// `lastVCross`: previous side of `startV` that `sampleV` was on.
    last_v_cross: bool,
    /// `checkVCross`: current side of `startV` that `sampleV` is on (`sampleV > startV`).
    check_v_cross: bool,

    /// `realPower` (public member in C++).
    real_power: f64,
    /// `apparentPower` (public member in C++).
    apparent_power: f64,
    /// `powerFactor` (public member in C++).
    power_factor: f64,
    /// `Vrms` (public member in C++).
    vrms: f64,
    /// `Irms` (public member in C++).
    irms: f64,

    /// Stand-in for `analogRead`: index of the next time step in the sample slices.
    cursor: usize,
}

impl EmonLib {
    /// Builds the monitor the way `voltage(pin, VCAL, PHASECAL)` followed by
    /// `current(pin, ICAL)` does. Both offsets start at `ADC_COUNTS>>1`, the supply is
    /// 3300 mV and the ADC has 12 bits. The other state starts at zero, as it does for a
    /// zero-initialised global `EnergyMonitor`.
    pub fn new(vcal: f64, ical: f64, phasecal: f64) -> Self {
        let adc_counts: i32 = 1 << ADC_BITS;
        Self {
            vcal,
            ical,
            phasecal,
            supply_voltage_mv: SUPPLY_VOLTAGE_MV,
            adc_bits: ADC_BITS,
            sample_v: 0,
            sample_i: 0,
            last_filtered_v: 0.0,
            filtered_v: 0.0,
            filtered_i: 0.0,
            // offsetV = ADC_COUNTS>>1;  (voltage())
            offset_v: f64::from(adc_counts >> 1),
            // offsetI = ADC_COUNTS>>1;  (current())
            offset_i: f64::from(adc_counts >> 1),
            phase_shifted_v: 0.0,
            sq_v: 0.0,
            sum_v: 0.0,
            sq_i: 0.0,
            sum_i: 0.0,
            inst_p: 0.0,
            sum_p: 0.0,
            start_v: 0,
            last_v_cross: false,
            check_v_cross: false,
            real_power: 0.0,
            apparent_power: 0.0,
            power_factor: 0.0,
            vrms: 0.0,
            irms: 0.0,
            cursor: 0,
        }
    }

    /// Index of the next sample that `calc_vi` will read (the `analogRead` stand-in).
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Moves the sample cursor back to index 0. The filter state (`offsetV`, `offsetI`,
    /// `filteredV`, `checkVCross`) is left alone, just as `calcVI` leaves it between calls.
    pub fn reset_cursor(&mut self) {
        self.cursor = 0;
    }

    /// `ADC_COUNTS`, i.e. `(1<<ADC_BITS)`.
    fn adc_counts(&self) -> i32 {
        1 << self.adc_bits
    }

    /// Port of `EnergyMonitor::calcVI(crossings, timeout)`.
    ///
    /// Reads `analogRead(inPinV)` from `samples_v` and `analogRead(inPinI)` from `samples_i`,
    /// starting at [`Self::cursor`]. It stops after `crossings` crossings of `startV`. It
    /// returns `None` if the slices run out first; that is this port's version of the
    /// `timeout`, counted in samples instead of milliseconds.
    pub fn calc_vi(
        &mut self,
        samples_v: &[i16],
        samples_i: &[i16],
        crossings: u32,
    ) -> Option<EmonLibReading> {
        let first_cursor = self.cursor;

        // int SupplyVoltage = readVcc();   (3300 on __arm__ / ESP32; emonTxV3 hard-codes 3300)
        let supply_voltage: i32 = self.supply_voltage_mv;
        let adc_counts: i32 = self.adc_counts();

        // unsigned int crossCount = 0;
        let mut cross_count: u32 = 0;
        // unsigned int numberOfSamples = 0;
        let mut number_of_samples: u32 = 0;

        // ---------------------------------------------------------------------------------
        // 1) Wait until the waveform is near 'zero' (mid-scale ADC) on the sine curve.
        //    The C++ `(millis()-start)>timeout` exit becomes running out of samples.
        // ---------------------------------------------------------------------------------
        loop {
            // startV = analogRead(inPinV);
            let Some(&raw_v) = samples_v.get(self.cursor) else {
                return self.abandon();
            };
            self.cursor += 1;
            self.start_v = i32::from(raw_v);
            // if ((startV < (ADC_COUNTS*0.55)) && (startV > (ADC_COUNTS*0.45))) st=true;
            if (f64::from(self.start_v) < (f64::from(adc_counts) * 0.55))
                && (f64::from(self.start_v) > (f64::from(adc_counts) * 0.45))
            {
                break;
            }
        }

        // ---------------------------------------------------------------------------------
        // 2) Main measurement loop.
        //    while ((crossCount < crossings) && ((millis()-start)<timeout))
        //    The time limit becomes "a sample is still available at the cursor".
        // ---------------------------------------------------------------------------------
        while cross_count < crossings {
            let (Some(&raw_v), Some(&raw_i)) =
                (samples_v.get(self.cursor), samples_i.get(self.cursor))
            else {
                return self.abandon();
            };
            self.cursor += 1;

            // numberOfSamples++;
            number_of_samples += 1;
            // lastFilteredV = filteredV;
            self.last_filtered_v = self.filtered_v;

            // A) Read the raw voltage and current samples.
            // sampleV = analogRead(inPinV);
            self.sample_v = i32::from(raw_v);
            // sampleI = analogRead(inPinI);
            self.sample_i = i32::from(raw_i);

            // B) Digital low-pass filters estimate the DC offset, which is then subtracted.
            // offsetV = offsetV + ((sampleV-offsetV)/1024);
            self.offset_v +=
                (f64::from(self.sample_v) - self.offset_v) / f64::from(OFFSET_FILTER_DIVISOR);
            // filteredV = sampleV - offsetV;
            self.filtered_v = f64::from(self.sample_v) - self.offset_v;
            // offsetI = offsetI + ((sampleI-offsetI)/1024);
            self.offset_i +=
                (f64::from(self.sample_i) - self.offset_i) / f64::from(OFFSET_FILTER_DIVISOR);
            // filteredI = sampleI - offsetI;
            self.filtered_i = f64::from(self.sample_i) - self.offset_i;

            // C) RMS voltage accumulation.
            // sqV = filteredV * filteredV;
            self.sq_v = self.filtered_v * self.filtered_v;
            // sumV += sqV;
            self.sum_v += self.sq_v;

            // D) RMS current accumulation.
            // sqI = filteredI * filteredI;
            self.sq_i = self.filtered_i * self.filtered_i;
            // sumI += sqI;
            self.sum_i += self.sq_i;

            // E) Phase calibration.
            // phaseShiftedV = lastFilteredV + PHASECAL * (filteredV - lastFilteredV);
            self.phase_shifted_v =
                self.last_filtered_v + self.phasecal * (self.filtered_v - self.last_filtered_v);

            // F) Instantaneous power.
            // instP = phaseShiftedV * filteredI;
            self.inst_p = self.phase_shifted_v * self.filtered_i;
            // sumP += instP;
            self.sum_p += self.inst_p;

            // G) Count crossings of the starting voltage (two crossings = one full cycle).
            // lastVCross = checkVCross;
            self.last_v_cross = self.check_v_cross;
            // if (sampleV > startV) checkVCross = true; else checkVCross = false;
            self.check_v_cross = self.sample_v > self.start_v;
            // if (numberOfSamples==1) lastVCross = checkVCross;
            if number_of_samples == 1 {
                self.last_v_cross = self.check_v_cross;
            }
            // if (lastVCross != checkVCross) crossCount++;
            if self.last_v_cross != self.check_v_cross {
                cross_count += 1;
            }
        }

        // ---------------------------------------------------------------------------------
        // 3) Post-loop calculations: RMS values and powers, with the calibration applied.
        // ---------------------------------------------------------------------------------
        // double V_RATIO = VCAL *((SupplyVoltage/1000.0) / (ADC_COUNTS));
        let v_ratio = self.vcal * ((f64::from(supply_voltage) / 1000.0) / f64::from(adc_counts));
        // Vrms = V_RATIO * sqrt(sumV / numberOfSamples);
        self.vrms = v_ratio * (self.sum_v / f64::from(number_of_samples)).sqrt();

        // double I_RATIO = ICAL *((SupplyVoltage/1000.0) / (ADC_COUNTS));
        let i_ratio = self.ical * ((f64::from(supply_voltage) / 1000.0) / f64::from(adc_counts));
        // Irms = I_RATIO * sqrt(sumI / numberOfSamples);
        self.irms = i_ratio * (self.sum_i / f64::from(number_of_samples)).sqrt();

        // realPower = V_RATIO * I_RATIO * sumP / numberOfSamples;
        self.real_power = v_ratio * i_ratio * self.sum_p / f64::from(number_of_samples);
        // apparentPower = Vrms * Irms;
        self.apparent_power = self.vrms * self.irms;
        // powerFactor=realPower / apparentPower;
        self.power_factor = self.real_power / self.apparent_power;

        // Reset accumulators: sumV = 0; sumI = 0; sumP = 0;
        self.reset_accumulators();

        Some(EmonLibReading {
            real_power: self.real_power,
            apparent_power: self.apparent_power,
            power_factor: self.power_factor,
            vrms: self.vrms,
            irms: self.irms,
            samples_used: self.cursor - first_cursor,
        })
    }

    /// Called when the samples run out (this port's `timeout`). It clears the accumulators,
    /// as the C++ post-loop code would, and reports that there is no reading.
    fn abandon(&mut self) -> Option<EmonLibReading> {
        self.reset_accumulators();
        None
    }

    /// `sumV = 0; sumI = 0; sumP = 0;` from the end of `calcVI`.
    fn reset_accumulators(&mut self) {
        self.sum_v = 0.0;
        self.sum_i = 0.0;
        self.sum_p = 0.0;
    }
}
