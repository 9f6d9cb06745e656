//! `joule bench`: benchmarks that print their figures beside the anchor they are compared
//! with in the same run, and write them as JSON for docs/PERFORMANCE.md.

pub(crate) mod billing;
pub(crate) mod ingest;
pub(crate) mod metrology;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;

/// Progress of a timed phase: a bar on a terminal, a plain line every few seconds in CI.
pub(crate) struct Progress {
    label: &'static str,
    started: Instant,
    total: Duration,
    terminal: bool,
    last_line: Instant,
}

impl Progress {
    /// Progress of `label`, expected to take `total`.
    pub(crate) fn new(label: &'static str, total: Duration) -> Self {
        Self {
            label,
            started: Instant::now(),
            total,
            terminal: std::io::stderr().is_terminal(),
            last_line: Instant::now(),
        }
    }

    /// Shows where it is, with a figure so far.
    pub(crate) fn show(&mut self, detail: &str) {
        let elapsed = self.started.elapsed();
        let fraction = (elapsed.as_secs_f64() / self.total.as_secs_f64().max(1e-9)).min(1.0);
        let mut err = std::io::stderr();
        if self.terminal {
            let filled = (fraction * 30.0) as usize;
            let _ = write!(
                err,
                "\r{:<18} [{}{}] {:>3.0}%  {detail}   ",
                self.label,
                "#".repeat(filled),
                " ".repeat(30 - filled),
                fraction * 100.0
            );
            let _ = err.flush();
        } else if self.last_line.elapsed() >= Duration::from_secs(5) {
            self.last_line = Instant::now();
            let _ = writeln!(
                err,
                "{}: {:.0}/{:.0} s  {detail}",
                self.label,
                elapsed.as_secs_f64(),
                self.total.as_secs_f64()
            );
        }
    }

    /// Ends the bar.
    pub(crate) fn finish(&mut self, detail: &str) {
        let mut err = std::io::stderr();
        if self.terminal {
            let _ = writeln!(
                err,
                "\r{:<18} [{}] done  {detail}   ",
                self.label,
                "#".repeat(30)
            );
        } else {
            let _ = writeln!(err, "{}: done  {detail}", self.label);
        }
    }
}

/// The time now, Unix ms.
pub(crate) fn now_ms() -> i64 {
    joule_hub::service::now_ms()
}

/// Writes `value` as pretty JSON to `path` (creating its directory).
pub(crate) fn write_json(path: &Path, value: &serde_json::Value) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(path, serde_json::to_string_pretty(value)? + "\n")
        .with_context(|| format!("writing {}", path.display()))
}

/// The p-th percentile (0..=100) of sorted `values`.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// A short description of the machine, for the record.
pub(crate) fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    format!("{cpus} CPUs, {model}")
}
