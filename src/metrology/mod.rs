//! `joule metrology`: the metrology core run offline over recorded ADC captures.
//!
//! `analyze` prints what a meter would have measured, interval by interval; `calibrate`
//! derives a channel pair's scales and current delay from a capture and a reference reading.

pub(crate) mod accuracy;
pub(crate) mod analyze;
pub(crate) mod calibrate;
mod intervals;
mod report;

use std::path::PathBuf;

use joule_metrology::{Calibration, Completed, ConfigError, Meter, MeterConfig};

use joule_meter::source::wav::{WavError, WavSource};

/// The installation's ratings: the reference values thresholds derive from.
#[derive(Debug, Clone, Copy)]
struct Ratings {
    /// Nominal line-to-neutral voltage Un, V.
    nominal_voltage_v: f64,
    /// Nominal frequency, Hz.
    nominal_frequency_hz: f64,
    /// Basic current Ib, A.
    basic_current_a: f64,
    /// Maximum current Imax, A.
    max_current_a: f64,
}

/// The meter rejected the configuration a capture and the flags add up to.
#[derive(Debug, thiserror::Error)]
#[error("{} ({sample_rate_hz} Hz sampling): {error}", path.display())]
pub(crate) struct ConfigRejected {
    /// The capture.
    path: PathBuf,
    /// The capture's sample rate.
    sample_rate_hz: f64,
    /// What the meter objected to.
    error: ConfigError,
}

/// Builds the meter for a capture: its sample rate and layout, one calibration for every
/// phase (and the neutral, when the capture has one).
fn build_meter(
    source: &WavSource,
    calibration: Calibration,
    ratings: &Ratings,
) -> Result<Meter, ConfigRejected> {
    let layout = source.layout();
    let mut config = MeterConfig::with_ratings(
        source.sample_rate_hz(),
        layout.phases(),
        calibration,
        ratings.nominal_voltage_v,
        ratings.nominal_frequency_hz,
        ratings.basic_current_a,
        ratings.max_current_a,
    );
    if layout.has_neutral() {
        config.neutral_i_scale = Some(calibration.i_scale);
    }
    Meter::new(config).map_err(|error| ConfigRejected {
        path: source.path().to_path_buf(),
        sample_rate_hz: source.sample_rate_hz(),
        error,
    })
}

/// Feeds every frame of a capture to the meter, calling `after` with what each frame
/// completed. Stops at the first error, the capture's or `after`'s.
fn feed<E: From<WavError>>(
    source: &mut WavSource,
    meter: &mut Meter,
    mut after: impl FnMut(&mut Meter, Completed) -> Result<(), E>,
) -> Result<(), E> {
    let single_phase = meter.config().phases == 1;
    for frame in source {
        let frame = frame?;
        let completed = if single_phase {
            meter.push_sample(frame.v[0], frame.i[0])
        } else {
            meter.push_frame(&frame)
        };
        after(meter, completed)?;
    }
    Ok(())
}
