//! `joule bench`: benchmarks that print their figures beside the anchor they are compared
//! with in the same run, and write them as JSON for docs/PERFORMANCE.md.

pub(crate) mod billing;
pub(crate) mod ingest;
pub(crate) mod metrology;
pub(crate) mod query;

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

    /// Shows where it is by the time taken, with a figure so far.
    pub(crate) fn show(&mut self, detail: &str) {
        let fraction = self.started.elapsed().as_secs_f64() / self.total.as_secs_f64().max(1e-9);
        self.show_fraction(fraction, detail);
    }

    /// Shows where it is by the work done (`fraction` of it), with a figure so far.
    pub(crate) fn show_fraction(&mut self, fraction: f64, detail: &str) {
        let fraction = fraction.clamp(0.0, 1.0);
        let elapsed = self.started.elapsed();
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
                "{}: {:.0}% after {:.0} s  {detail}",
                self.label,
                fraction * 100.0,
                elapsed.as_secs_f64()
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
pub(crate) use crate::runtime::now_ms;

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

/// Bytes a SQLite database takes on disk (with its WAL).
pub(crate) fn sqlite_bytes(path: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            std::fs::metadata(std::path::PathBuf::from(name)).ok()
        })
        .map(|meta| meta.len())
        .sum()
}

/// Bytes the PostgreSQL database takes.
pub(crate) async fn postgres_bytes(conninfo: &str) -> anyhow::Result<u64> {
    let (client, connection) = tokio_postgres::connect(conninfo, tokio_postgres::NoTls).await?;
    let task = tokio::spawn(connection);
    let row = client
        .query_one("SELECT pg_database_size(current_database())", &[])
        .await?;
    task.abort();
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
}

/// Bytes this process has caused to be written to the storage device so far
/// (`write_bytes` of `/proc/self/io`: page-cache writeback included, so a database's WAL
/// and checkpoints count), if the kernel says.
pub(crate) fn device_bytes_written() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|line| line.strip_prefix("write_bytes:"))
        .and_then(|value| value.trim().parse().ok())
}

/// The most memory this process has held resident so far, MB (`VmHWM`), if the kernel says.
pub(crate) fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}
