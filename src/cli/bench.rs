//! `joule bench ...`: the benchmarks' arguments, each printing the figure a target asks for.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `joule bench ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum BenchCommand {
    /// Meters publishing over MQTT QoS 1 into a hub storing durably, against Debian's
    /// Mosquitto delivering the same messages to a bare subscriber.
    Ingest(BenchIngestArgs),
    /// A billing run's conversion and billing over many meters with a month of 15-minute
    /// interval records each, in memory (the figure is meters per second).
    Billing(BenchBillingArgs),
    /// The meter dashboard's queries (latest, a day by the minute, 30 days by the day)
    /// through the API and on the store, over many meters' stored history.
    Query(BenchQueryArgs),
    /// Sample pairs per second on one core through the metrology chain, against a literal
    /// port of EmonLib's `calcVI` loop on the same samples.
    Metrology(BenchMetrologyArgs),
}

/// Arguments of `joule bench query`.
#[derive(Debug, Args)]
pub(crate) struct BenchQueryArgs {
    /// Meters in the stored history.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) meters: usize,
    /// Days of history per meter (15-minute interval records; at least 31).
    #[arg(long, default_value_t = 90)]
    pub(crate) days: u32,
    /// Times each query is asked (each of a meter picked at random).
    #[arg(long, default_value_t = 1000)]
    pub(crate) rounds: usize,
    /// Keep the history in this directory and reuse it in later runs (writing it is the
    /// slow part); by default it goes into a temporary directory removed afterwards.
    #[arg(long, value_name = "DIR")]
    pub(crate) data: Option<PathBuf>,
    /// Store into this PostgreSQL database (a connection string, its tables empty)
    /// instead of a SQLite file.
    #[arg(long, value_name = "CONNINFO")]
    pub(crate) postgres: Option<String>,
    /// Where to write the figures as JSON.
    #[arg(long, default_value = "joule-bench/query.json")]
    pub(crate) json: PathBuf,
}

/// Arguments of `joule bench metrology`.
#[derive(Debug, Args)]
pub(crate) struct BenchMetrologyArgs {
    /// About how long each side is measured, seconds (passes of the sides alternate).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) seconds: u64,
    /// Where to write the figures as JSON.
    #[arg(long, default_value = "joule-bench/metrology.json")]
    pub(crate) json: PathBuf,
}

/// Arguments of `joule bench billing`.
#[derive(Debug, Args)]
pub(crate) struct BenchBillingArgs {
    /// Meters to bill.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) meters: usize,
    /// Threads billing each chunk (default: every core).
    #[arg(long)]
    pub(crate) threads: Option<usize>,
    /// Bill the last whole month of the history `joule bench query --data DIR` wrote,
    /// reading every meter's records from that store (its meters, not `--meters`).
    #[arg(long, value_name = "DIR")]
    pub(crate) from_store: Option<PathBuf>,
    /// With `--from-store`: the PostgreSQL database the history is in.
    #[arg(long, value_name = "CONNINFO", requires = "from_store")]
    pub(crate) postgres: Option<String>,
    /// Where to write the figures as JSON.
    #[arg(long, default_value = "joule-bench/billing.json")]
    pub(crate) json: PathBuf,
}

/// Arguments of `joule bench ingest`.
#[derive(Debug, Args)]
pub(crate) struct BenchIngestArgs {
    /// Meters publishing at once, each its own MQTT connection and login.
    #[arg(long, default_value_t = 200)]
    pub(crate) meters: usize,
    /// How long each run publishes, seconds.
    #[arg(long, default_value_t = 15)]
    pub(crate) seconds: u64,
    /// Readings per second per meter; 0 publishes as fast as the broker takes them.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) rate: f64,
    /// Readings per MQTT message: 1 publishes single live readings, more publishes batches
    /// of that many on the batch topic (the baseline gets the same messages).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub(crate) batch: u16,
    /// Store into this PostgreSQL database (a connection string) instead of a fresh
    /// SQLite file. Its tables should be empty: bytes per reading is the database's size
    /// over the readings stored.
    #[arg(long, value_name = "CONNINFO")]
    pub(crate) postgres: Option<String>,
    /// Run through this external broker (`mqtt://host:port`, accepting anonymous meters,
    /// e.g. Mosquitto with `allow_anonymous true`) instead of the embedded one.
    #[arg(long, value_name = "URL")]
    pub(crate) broker: Option<String>,
    /// Skip the Mosquitto baseline.
    #[arg(long)]
    pub(crate) no_baseline: bool,
    /// Where to write the figures as JSON.
    #[arg(long, default_value = "joule-bench/ingest.json")]
    pub(crate) json: PathBuf,
}
