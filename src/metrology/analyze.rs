//! `joule metrology analyze`: a capture through the meter, one line per interval.

use std::io::{self, Write};

use joule_metrology::Calibration;

use super::intervals::IntervalRecorder;
use super::report::Reporter;
use super::{ConfigRejected, Ratings, build_meter, feed};
use crate::cli::AnalyzeArgs;
use joule_meter::source::wav::{WavError, WavSource};

/// Why an analysis failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AnalyzeError {
    /// A flag's value is out of range.
    #[error("--{flag} {reason} (got {value})")]
    Flag {
        /// The flag, without the dashes.
        flag: &'static str,
        /// What it must be.
        reason: &'static str,
        /// What it was.
        value: f64,
    },
    /// The capture could not be read.
    #[error(transparent)]
    Wav(#[from] WavError),
    /// The meter rejected the configuration.
    #[error(transparent)]
    Config(#[from] ConfigRejected),
    /// Writing the output failed.
    #[error("writing the output")]
    Output(#[from] io::Error),
}

/// Runs `analyze`, writing the lines to `out`.
pub(crate) fn run(args: &AnalyzeArgs, out: &mut impl Write) -> Result<(), AnalyzeError> {
    positive("v-scale", args.v_scale)?;
    positive("i-scale", args.i_scale)?;
    positive("interval", args.interval)?;
    let mut source = WavSource::open(&args.file)?;
    let ratings = Ratings {
        nominal_voltage_v: args.nominal_voltage,
        nominal_frequency_hz: args.nominal_freq,
        basic_current_a: args.basic_current,
        max_current_a: args.max_current,
    };
    let calibration = Calibration::new(args.v_scale, args.i_scale, args.i_delay_us);
    let mut meter = build_meter(&source, calibration, &ratings)?;
    // Intervals are runs of whole cycles: one shorter than a mains cycle cannot be formed.
    let cycle_s = 1.0 / args.nominal_freq;
    if args.interval < cycle_s {
        return Err(AnalyzeError::Flag {
            flag: "interval",
            reason: "must be at least one nominal mains cycle",
            value: args.interval,
        });
    }
    let sample_rate_hz = source.sample_rate_hz();
    let mut recorder =
        IntervalRecorder::new(source.layout().phases(), sample_rate_hz, args.interval);
    let mut reporter = Reporter::new(args.format, sample_rate_hz);
    feed(&mut source, &mut meter, |meter, completed| {
        if let Some(record) = recorder.after_frame(meter, completed) {
            reporter.write(out, &record)?;
        }
        Ok::<(), AnalyzeError>(())
    })?;
    for record in recorder.finish(&mut meter) {
        reporter.write(out, &record)?;
    }
    out.flush()?;
    Ok(())
}

/// Checks that a flag is a positive, finite number.
fn positive(flag: &'static str, value: f64) -> Result<(), AnalyzeError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(AnalyzeError::Flag {
            flag,
            reason: "must be a positive, finite number",
            value,
        })
    }
}
