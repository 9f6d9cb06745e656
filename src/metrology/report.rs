//! Printing interval records: one JSON object per line, or an aligned table.
//!
//! Both formats print the same figures. Values that do not exist (no frequency without
//! voltage, no averages without a whole cycle) and values that are not finite print as
//! `null` in JSON and `-` in the table: JSON has no NaN.

use std::io::{self, Write};

use joule_metrology::{Event, EventKind, IntervalSummary, Transition};
use serde::Serialize;

use super::intervals::IntervalRecord;
use crate::cli::Format;

/// Interval averages of one phase or of the whole meter.
#[derive(Debug, Clone, Copy, Default, Serialize)]
struct Averages {
    /// RMS voltage, V (three phase: the mean over the phases).
    vrms: Option<f64>,
    /// RMS current, A (three phase: the mean over the phases).
    irms: Option<f64>,
    /// Active power, W (+ import).
    p_w: Option<f64>,
    /// Reactive power, var (+ inductive).
    q_var: Option<f64>,
    /// Apparent power, VA.
    s_va: Option<f64>,
    /// Power factor P / S, signed like P.
    pf: Option<f64>,
    /// Frequency, Hz (three phase: phase 1's).
    freq_hz: Option<f64>,
}

/// Cycle minima and maxima over an interval.
#[derive(Debug, Clone, Copy, Default, Serialize)]
struct Ranges {
    /// Lowest cycle RMS voltage, V.
    vrms_min: Option<f64>,
    /// Highest cycle RMS voltage, V.
    vrms_max: Option<f64>,
    /// Lowest cycle RMS current, A.
    irms_min: Option<f64>,
    /// Highest cycle RMS current, A.
    irms_max: Option<f64>,
    /// Lowest cycle active power, W (per phase only: phases' cycles do not line up).
    p_min_w: Option<f64>,
    /// Highest cycle active power, W (per phase only).
    p_max_w: Option<f64>,
    /// Lowest cycle frequency, Hz.
    freq_min_hz: Option<f64>,
    /// Highest cycle frequency, Hz.
    freq_max_hz: Option<f64>,
}

/// One phase of a three-phase line.
#[derive(Debug, Serialize)]
struct PhaseLine {
    /// The phase's averages.
    #[serde(flatten)]
    averages: Averages,
    /// The phase's ranges.
    #[serde(flatten)]
    ranges: Ranges,
}

/// One event as JSON.
#[derive(Debug, Serialize)]
struct EventLine {
    /// What happened, in snake case (`sag`, `over_current`, ...).
    kind: &'static str,
    /// `started` or `ended`.
    transition: &'static str,
    /// The phase, 1-based; `null` for the whole meter.
    phase: Option<u8>,
    /// When the condition began, s since the start.
    start_s: f64,
    /// When this transition was recognised, s since the start.
    at_s: f64,
    /// How long the episode lasted (0 when it started), s.
    duration_s: f64,
    /// The most severe value of the episode, in `unit`.
    extreme: Option<f64>,
    /// Unit of `extreme`.
    unit: Option<&'static str>,
    /// The event in words.
    text: String,
}

/// One interval as a JSON object.
#[derive(Debug, Serialize)]
struct JsonLine {
    /// End of the interval, s since the start.
    t: f64,
    /// The meter's averages.
    #[serde(flatten)]
    averages: Averages,
    /// Cumulative active import, Wh.
    import_wh: Option<f64>,
    /// Cumulative active export, Wh.
    export_wh: Option<f64>,
    /// The meter's ranges.
    #[serde(flatten)]
    ranges: Ranges,
    /// Events raised during the interval.
    events: Vec<EventLine>,
    /// Per-phase figures (three-phase captures only).
    #[serde(skip_serializing_if = "Option::is_none")]
    phases: Option<Vec<PhaseLine>>,
}

/// Table columns: header (with unit), width, decimals.
const COLUMNS: [(&str, usize, usize); 10] = [
    ("t s", 10, 3),
    ("V", 9, 2),
    ("A", 9, 3),
    ("W", 11, 1),
    ("var", 11, 1),
    ("VA", 11, 1),
    ("PF", 7, 4),
    ("Hz", 8, 3),
    ("import Wh", 13, 4),
    ("export Wh", 13, 4),
];

/// Writes interval records in the chosen format.
#[derive(Debug)]
pub(super) struct Reporter {
    format: Format,
    sample_rate_hz: f64,
    header_written: bool,
}

impl Reporter {
    /// A reporter for a capture sampled at `sample_rate_hz` (for event times).
    pub(super) fn new(format: Format, sample_rate_hz: f64) -> Self {
        Self {
            format,
            sample_rate_hz,
            header_written: false,
        }
    }

    /// Writes one record (and, before the first table row, the header).
    pub(super) fn write(
        &mut self,
        out: &mut impl Write,
        record: &IntervalRecord,
    ) -> io::Result<()> {
        let summaries: Vec<Option<IntervalSummary>> =
            record.phases.iter().map(|phase| phase.summary()).collect();
        let (averages, ranges) = meter_figures(&summaries);
        match self.format {
            Format::Json => {
                let line = JsonLine {
                    t: record.t_s,
                    averages,
                    import_wh: finite(record.import_wh),
                    export_wh: finite(record.export_wh),
                    ranges,
                    events: record
                        .events
                        .iter()
                        .map(|event| event_line(event, self.sample_rate_hz))
                        .collect(),
                    phases: (summaries.len() > 1).then(|| {
                        summaries
                            .iter()
                            .map(|summary| {
                                let (averages, ranges) = phase_figures(summary.as_ref());
                                PhaseLine { averages, ranges }
                            })
                            .collect()
                    }),
                };
                serde_json::to_writer(&mut *out, &line)?;
                writeln!(out)
            }
            Format::Table => {
                if !self.header_written {
                    self.header_written = true;
                    let header: Vec<String> = COLUMNS
                        .iter()
                        .map(|(name, width, _)| format!("{name:>width$}"))
                        .collect();
                    writeln!(out, "{}", header.join(" ").trim_end())?;
                }
                let values = [
                    Some(record.t_s),
                    averages.vrms,
                    averages.irms,
                    averages.p_w,
                    averages.q_var,
                    averages.s_va,
                    averages.pf,
                    averages.freq_hz,
                    Some(record.import_wh),
                    Some(record.export_wh),
                ];
                let cells: Vec<String> = COLUMNS
                    .iter()
                    .zip(values)
                    .map(|(&(_, width, decimals), value)| match value {
                        Some(value) if value.is_finite() => format!("{value:>width$.decimals$}"),
                        _ => format!("{:>width$}", "-"),
                    })
                    .collect();
                writeln!(out, "{}", cells.join(" "))?;
                for event in &record.events {
                    writeln!(out, "  event: {}", event_text(event, self.sample_rate_hz))?;
                }
                Ok(())
            }
        }
    }
}

/// `Some(value)` when it is finite.
fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

/// The averages and ranges of one phase.
fn phase_figures(summary: Option<&IntervalSummary>) -> (Averages, Ranges) {
    let Some(summary) = summary else {
        return (Averages::default(), Ranges::default());
    };
    let averages = Averages {
        vrms: finite(summary.vrms_v),
        irms: finite(summary.irms_a),
        p_w: finite(summary.p_w),
        q_var: finite(summary.q_var),
        s_va: finite(summary.s_va),
        pf: finite(summary.pf),
        freq_hz: summary.frequency_hz.and_then(finite),
    };
    let ranges = Ranges {
        vrms_min: finite(summary.vrms_range.min),
        vrms_max: finite(summary.vrms_range.max),
        irms_min: finite(summary.irms_range.min),
        irms_max: finite(summary.irms_range.max),
        p_min_w: finite(summary.p_range.min),
        p_max_w: finite(summary.p_range.max),
        freq_min_hz: summary.frequency_range.and_then(|range| finite(range.min)),
        freq_max_hz: summary.frequency_range.and_then(|range| finite(range.max)),
    };
    (averages, ranges)
}

/// The whole meter's averages and ranges. Single phase: the phase's own. Three phase
/// (only when every phase has a whole cycle): P, Q and S summed, PF = P / S, V and I
/// averaged, frequency from phase 1, V and I ranges over all phases; the power range is
/// left out because the phases' cycles do not line up.
fn meter_figures(summaries: &[Option<IntervalSummary>]) -> (Averages, Ranges) {
    if let [single] = summaries {
        return phase_figures(single.as_ref());
    }
    let Some(phases) = summaries.iter().copied().collect::<Option<Vec<_>>>() else {
        return (Averages::default(), Ranges::default());
    };
    let Some(first) = phases.first() else {
        return (Averages::default(), Ranges::default());
    };
    let count = phases.len() as f64;
    let sum = |value: fn(&IntervalSummary) -> f64| phases.iter().map(value).sum::<f64>();
    let min =
        |value: fn(&IntervalSummary) -> f64| phases.iter().map(value).fold(f64::NAN, f64::min);
    let max =
        |value: fn(&IntervalSummary) -> f64| phases.iter().map(value).fold(f64::NAN, f64::max);
    let (p_w, s_va) = (sum(|s| s.p_w), sum(|s| s.s_va));
    let pf = if s_va > 0.0 {
        (p_w / s_va).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let averages = Averages {
        vrms: finite(sum(|s| s.vrms_v) / count),
        irms: finite(sum(|s| s.irms_a) / count),
        p_w: finite(p_w),
        q_var: finite(sum(|s| s.q_var)),
        s_va: finite(s_va),
        pf: finite(pf),
        freq_hz: first.frequency_hz.and_then(finite),
    };
    let ranges = Ranges {
        vrms_min: finite(min(|s| s.vrms_range.min)),
        vrms_max: finite(max(|s| s.vrms_range.max)),
        irms_min: finite(min(|s| s.irms_range.min)),
        irms_max: finite(max(|s| s.irms_range.max)),
        p_min_w: None,
        p_max_w: None,
        freq_min_hz: first.frequency_range.and_then(|range| finite(range.min)),
        freq_max_hz: first.frequency_range.and_then(|range| finite(range.max)),
    };
    (averages, ranges)
}

/// An event kind's name (snake case) and the unit of its extreme, if it has one.
fn kind_info(kind: EventKind) -> (&'static str, Option<&'static str>) {
    match kind {
        EventKind::Sag => ("sag", Some("V")),
        EventKind::Swell => ("swell", Some("V")),
        EventKind::Interruption => ("interruption", Some("V")),
        EventKind::OverCurrent => ("over_current", Some("A")),
        EventKind::FrequencyOutOfRange => ("frequency_out_of_range", Some("Hz")),
        EventKind::ReverseFlow => ("reverse_flow", Some("W")),
        EventKind::CurrentWithoutVoltage => ("current_without_voltage", Some("A")),
        EventKind::NeutralMismatch => ("neutral_mismatch", Some("A")),
        EventKind::CoverOpen => ("cover_open", None),
        EventKind::MagneticField => ("magnetic_field", None),
    }
}

/// An event as a JSON object.
fn event_line(event: &Event, sample_rate_hz: f64) -> EventLine {
    let (kind, unit) = kind_info(event.kind);
    EventLine {
        kind,
        transition: match event.transition {
            Transition::Started => "started",
            Transition::Ended => "ended",
        },
        phase: event.phase.map(|phase| phase.saturating_add(1)),
        start_s: event.start_sample as f64 / sample_rate_hz,
        at_s: event.at_sample as f64 / sample_rate_hz,
        duration_s: event.duration_s,
        extreme: unit.and_then(|_| finite(event.extreme)),
        unit,
        text: event_text(event, sample_rate_hz),
    }
}

/// An event in words, e.g. "sag started on phase 1 at 2.340 s, extreme 180.2 V".
fn event_text(event: &Event, sample_rate_hz: f64) -> String {
    let (kind, unit) = kind_info(event.kind);
    let kind = kind.replace('_', " ");
    let place = match event.phase {
        Some(phase) => format!("phase {}", u16::from(phase) + 1),
        None => "the meter".to_owned(),
    };
    let mut text = match event.transition {
        Transition::Started => format!(
            "{kind} started on {place} at {:.3} s",
            event.start_sample as f64 / sample_rate_hz
        ),
        Transition::Ended => format!(
            "{kind} ended on {place} at {:.3} s after {:.3} s",
            event.at_sample as f64 / sample_rate_hz,
            event.duration_s
        ),
    };
    if let Some(unit) = unit {
        text.push_str(&format!(", extreme {:.1} {unit}", event.extreme));
    }
    text
}
