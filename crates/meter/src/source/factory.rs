//! The registry that turns the `[source]` configuration into a running [`Source`] (the way
//! evcc builds its meters from config): a waveform source with its metrology chain, or a
//! device source with the task that reads the device. A new kind of source is a variant
//! of `SourceConfig` and an arm here.

use super::device::DeviceSource;
use super::dispatch::Source;
use super::waveform::{CaptureReplay, Frames, SimulatedMains, WaveformError, WaveformSource};
use super::{dsmr, modbus};
use crate::clock::SharedClock;
use crate::config::{MeterConfig, SourceConfig};
use crate::state::MeterState;
use joule_metrology::{Calibration, MeterConfig as MetrologyConfig};
use joule_modbus::LinkError;
use joule_sim::household::HouseholdSpec;
use std::time::Duration;

/// Why the configured source could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The metrology chain or the capture does not fit.
    #[error(transparent)]
    Waveform(#[from] WaveformError),
    /// The Modbus link is not valid.
    #[error("configuration: source.link: {0}")]
    Link(#[from] LinkError),
}

/// Builds the source the configuration names, with the saved registers and any
/// calibration a command set. Device tasks stamp their readings with `clock`; `now_ms`
/// fixes the simulated household's UTC offset.
pub fn build_source(
    config: &MeterConfig,
    state: &MeterState,
    clock: &SharedClock,
    now_ms: i64,
) -> Result<Source, BuildError> {
    let (frames, mut metrology) = match &config.source {
        SourceConfig::Simulated {
            seed,
            sample_rate_hz,
            solar_peak_w,
            ev_charger_w,
            heat_pump_w,
            three_phase,
            incidents,
        } => {
            let spec = HouseholdSpec {
                seed: *seed,
                solar_peak_w: *solar_peak_w,
                ev_charger_w: *ev_charger_w,
                heat_pump_w: *heat_pump_w,
                three_phase: *three_phase,
            };
            let offset_s = utc_offset_s(&config.meter.timezone, now_ms);
            let mains = SimulatedMains::new(spec, offset_s).with_incidents(incidents.clone());
            let metrology = if *three_phase {
                MetrologyConfig::three_phase(*sample_rate_hz, mains.calibration())
            } else {
                MetrologyConfig::single_phase(*sample_rate_hz, mains.calibration())
            };
            (Frames::Simulated(Box::new(mains)), metrology)
        }
        SourceConfig::Wav {
            path,
            v_scale,
            i_scale,
            i_delay_us,
            nominal_freq_hz,
        } => {
            let capture = CaptureReplay::open(path)?;
            let calibration = Calibration::new(*v_scale, *i_scale, *i_delay_us);
            let rate = capture.sample_rate_hz();
            let phases = capture.phases();
            let mut metrology = if phases == 3 {
                MetrologyConfig::three_phase(rate, calibration)
            } else {
                MetrologyConfig::single_phase(rate, calibration)
            };
            metrology.nominal_frequency_hz = *nominal_freq_hz;
            (Frames::Capture(Box::new(capture)), metrology)
        }
        SourceConfig::Modbus {
            link,
            model,
            unit_id,
            poll_interval_ms,
            timeout_ms,
        } => {
            let poller = modbus::poller(link, *model, *unit_id, *timeout_ms)?;
            let every = Duration::from_millis((*poll_interval_ms).into());
            let clock = clock.clone();
            let device =
                DeviceSource::start(format!("Modbus {link}"), state.bank(), |status, _| {
                    tokio::spawn(modbus::run(poller, every, clock, status))
                });
            return Ok(Source::Device(Box::new(device)));
        }
        SourceConfig::Dsmr { port } => {
            let port = port.clone();
            let clock = clock.clone();
            let device =
                DeviceSource::start(format!("P1 {port}"), state.bank(), |status, events| {
                    tokio::spawn(dsmr::run(port, clock, status, events))
                });
            return Ok(Source::Device(Box::new(device)));
        }
    };
    for (phase, c) in &state.calibration {
        if let Some(slot) = metrology
            .calibration
            .get_mut(usize::from(*phase).saturating_sub(1))
        {
            *slot = Calibration::new(c.v_scale, c.i_scale, c.i_delay_us);
        }
    }
    let source = WaveformSource::new(frames, metrology, state.bank())?;
    Ok(Source::Waveform(Box::new(source)))
}

/// The time zone's UTC offset at `now_ms`, s (habits follow local time; the offset is
/// taken at start-up, which is close enough for a simulated household).
fn utc_offset_s(timezone: &str, now_ms: i64) -> f64 {
    let Ok(zone) = jiff::tz::TimeZone::get(timezone) else {
        return 0.0;
    };
    jiff::Timestamp::from_millisecond(now_ms)
        .map(|now| f64::from(zone.to_offset(now).seconds()))
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_follows_daylight_saving_time_at_the_given_instant() {
        // 2025-01-15 and 2025-07-15, noon UTC.
        assert_eq!(utc_offset_s("Europe/Amsterdam", 1_736_942_400_000), 3600.0);
        assert_eq!(utc_offset_s("Europe/Amsterdam", 1_752_580_800_000), 7200.0);
        assert_eq!(utc_offset_s("Not/AZone", 1_752_580_800_000), 0.0);
    }
}
