//! The command line: clap types for every `joule` verb.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod bench;

pub(crate) use bench::{
    BenchBillingArgs, BenchCommand, BenchIngestArgs, BenchMetrologyArgs, BenchQueryArgs,
};

/// What a capture holds and how its channels are ordered, shared by the metrology verbs' help
/// (a macro so that `concat!` can splice it).
macro_rules! capture_help {
    () => {
        "Captures are WAV files of raw ADC counts, as the meter's converter produced them: \
16-bit integer PCM is read as the integer value, 32-bit float as the float value. DC offsets \
are left in; removing them is the meter's job.

Channel order: 2 channels = voltage, current (single phase); 6 channels = V1, I1, V2, I2, \
V3, I3 (three phase, four wire); 7 channels = the same plus the neutral current (which uses \
--i-scale too). Voltages are line to neutral."
    };
}

/// Joule: a smart electric meter and the head-end it reports to, in one binary.
#[derive(Debug, Parser)]
#[command(name = "joule", version)]
pub(crate) struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The top-level verbs.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Offline metrology on recorded ADC captures.
    #[command(subcommand)]
    Metrology(MetrologyCommand),
    /// Runs the hub: ingest from the MQTT broker into the store, acknowledging what is stored.
    Hub(HubCommandArgs),
    /// Runs the meter agent: measures, keeps the registers, reports to the hub.
    Meter(MeterArgs),
    /// Provisions meters in the hub's registry (the hub need not be running).
    #[command(subcommand)]
    Meters(MetersCommand),
    /// Manages the hub's user accounts (the hub need not be running).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Everything on this machine: broker, hub, portal and a neighbourhood of simulated
    /// meters with 60 days of history; prints the URL and the logins.
    Demo(DemoArgs),
    /// A fleet of simulated meters against any hub over MQTT (load tests, demos).
    Sim(SimArgs),
    /// Benchmarks that print their figures beside an anchor measured in the same run.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Manages the hub's tariff plans (the hub need not be running).
    #[command(subcommand)]
    Tariffs(TariffsCommand),
    /// Bills meters (the hub need not be running).
    #[command(subcommand)]
    Billing(BillingCommand),
}

/// `joule tariffs ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum TariffsCommand {
    /// Stores a plan from its TOML file (docs/CONFIG.md, "Tariffs"), or replaces the plan
    /// of that name if only versions after today change.
    Add(TariffAddArgs),
    /// Lists the plans.
    List(HubArgs),
}

/// Arguments of `joule tariffs add`.
#[derive(Debug, Args)]
pub(crate) struct TariffAddArgs {
    /// The plan's TOML file.
    pub(crate) file: PathBuf,
    /// The hub's configuration.
    #[command(flatten)]
    pub(crate) hub: HubArgs,
}

/// `joule billing ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum BillingCommand {
    /// Bills every meter with a tariff for one month, showing progress and a summary.
    Run(BillingRunArgs),
}

/// Arguments of `joule billing run`.
#[derive(Debug, Args)]
pub(crate) struct BillingRunArgs {
    /// The month, YYYY-MM.
    #[arg(long)]
    pub(crate) period: String,
    /// Bill a closed month again (its bills are replaced).
    #[arg(long)]
    pub(crate) rerun: bool,
    /// The hub's configuration.
    #[command(flatten)]
    pub(crate) hub: HubArgs,
}

/// Arguments of `joule demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Simulated homes (each a meter agent): one small three-phase business, one home with
    /// an EV, some with solar or heat pumps.
    #[arg(long, default_value_t = 24)]
    pub(crate) meters: usize,
    /// Where the hub's SQLite store, the meters' data and the demo logins live; a restart
    /// with the same directory keeps everything.
    #[arg(long, value_name = "DIR", default_value = "joule-demo-data")]
    pub(crate) data: PathBuf,
    /// Port of the web portal and the API on 127.0.0.1.
    #[arg(long, default_value_t = 8080)]
    pub(crate) http_port: u16,
    /// Port of the embedded MQTT broker on 127.0.0.1.
    #[arg(long, default_value_t = 1883)]
    pub(crate) mqtt_port: u16,
    /// Days of history written on the first start.
    #[arg(long, default_value_t = 60)]
    pub(crate) history_days: u32,
}

/// Arguments of `joule sim`.
#[derive(Debug, Args)]
pub(crate) struct SimArgs {
    /// The hub's broker, `mqtt://host[:port]`.
    #[arg(long, value_name = "URL")]
    pub(crate) broker: String,
    /// Simulated meters.
    #[arg(long, default_value_t = 10)]
    pub(crate) meters: usize,
    /// Register level: the fleet model without waveforms (thousands of meters), instead of
    /// the meter agent through the metrology chain per home (a few dozen per core).
    #[arg(long)]
    pub(crate) register_level: bool,
    /// Simulated seconds per real second while simulated time is behind the clock
    /// (register level; see --history-hours).
    #[arg(long, default_value_t = 1.0)]
    pub(crate) speed: f64,
    /// Start simulated time this many hours ago (register level): with --speed the
    /// history is replayed fast, then the fleet follows the clock.
    #[arg(long, default_value_t = 0.0)]
    pub(crate) history_hours: f64,
    /// Seed of the neighbourhood: the same seed, the same homes and habits.
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Seconds between live readings per meter.
    #[arg(long, default_value_t = 1)]
    pub(crate) live_interval_s: u32,
    /// The meters' logins: one `METER_ID TOKEN` per line (as `joule meters add` prints).
    #[arg(long, value_name = "FILE", conflicts_with = "hub_api")]
    pub(crate) tokens: Option<PathBuf>,
    /// Register the meters through this hub API (`http://host:port` or `https://…`) as --user (an admin;
    /// the password in the variable --password-env names).
    #[arg(long, value_name = "URL", requires = "user")]
    pub(crate) hub_api: Option<String>,
    /// The admin who registers the meters.
    #[arg(long)]
    pub(crate) user: Option<String>,
    /// The environment variable holding --user's password.
    #[arg(long, default_value = "JOULE_SIM_PASSWORD")]
    pub(crate) password_env: String,
    /// Ids of registered meters: PREFIX-00001, PREFIX-00002, …
    #[arg(long, default_value = "sim")]
    pub(crate) prefix: String,
    /// MQTT topic prefix of the hub.
    #[arg(long, default_value = "joule")]
    pub(crate) topic_prefix: String,
    /// Data directories of waveform-level meters (default: a temporary directory).
    #[arg(long, value_name = "DIR")]
    pub(crate) data: Option<PathBuf>,
    /// Stop after this many seconds (default: at Ctrl-C).
    #[arg(long)]
    pub(crate) seconds: Option<u64>,
}

/// `joule users ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum UsersCommand {
    /// Adds an account; prints a generated password once unless --password-stdin.
    Add(UserAddArgs),
    /// Lists the accounts.
    List(HubArgs),
    /// Sets a new password (ending the user's sessions); prints a generated one once
    /// unless --password-stdin.
    Passwd(UserPasswdArgs),
}

/// The roles, as typed.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum RoleArg {
    /// Their own meters only.
    Consumer,
    /// The fleet and commands.
    Operator,
    /// Users, meters and tariffs too.
    Admin,
}

/// Arguments of `joule users add`.
#[derive(Debug, Args)]
pub(crate) struct UserAddArgs {
    /// Who, their password, and the hub.
    #[command(flatten)]
    pub(crate) user: UserPasswdArgs,
    /// What the account may do.
    #[arg(long, value_enum)]
    pub(crate) role: RoleArg,
}

/// Arguments of `joule users passwd` (and the shared part of `add`).
#[derive(Debug, Args)]
pub(crate) struct UserPasswdArgs {
    /// Login name.
    pub(crate) username: String,
    /// Read the password from the first line of standard input instead of generating one.
    #[arg(long)]
    pub(crate) password_stdin: bool,
    /// The hub's configuration.
    #[command(flatten)]
    pub(crate) hub: HubArgs,
}

/// Where the hub's configuration is (shared by `hub` and `meters`).
#[derive(Debug, Args)]
pub(crate) struct HubArgs {
    /// The hub's TOML configuration (docs/CONFIG.md); without it, defaults and
    /// JOULE_HUB_* environment variables.
    #[arg(long, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

/// `joule meter`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct MeterArgs {
    /// The meter's TOML configuration (docs/CONFIG.md, `meter.toml`); JOULE_METER_*
    /// environment variables override its keys.
    #[arg(long, value_name = "FILE", required = true)]
    pub(crate) config: Option<PathBuf>,
    /// Print the registers as last saved (JSON) and exit, without starting the meter.
    #[arg(long)]
    pub(crate) registers: bool,
    /// Show the meter's display on this terminal while it runs (logs go to
    /// `meter.log` in the data directory).
    #[arg(long, conflicts_with = "registers")]
    pub(crate) display: bool,
    /// Something other than running the meter.
    #[command(subcommand)]
    pub(crate) action: Option<MeterAction>,
}

/// `joule meter ACTION`.
#[derive(Debug, Subcommand)]
pub(crate) enum MeterAction {
    /// Show a running meter's display (its `[display] listen` socket).
    Display {
        /// The meter's display socket, e.g. 127.0.0.1:7878.
        #[arg(long, value_name = "HOST:PORT")]
        connect: String,
    },
}

/// `joule hub [ACTION]`.
#[derive(Debug, Args)]
pub(crate) struct HubCommandArgs {
    /// The hub's configuration.
    #[command(flatten)]
    pub(crate) hub: HubArgs,
    /// Something other than running the hub.
    #[command(subcommand)]
    pub(crate) action: Option<HubAction>,
}

/// `joule hub ...` actions.
#[derive(Debug, Subcommand)]
pub(crate) enum HubAction {
    /// Writes Mosquitto's password and ACL files for the registry, so an external
    /// Mosquitto enforces the same rules as the embedded broker.
    ExportMosquittoAuth(ExportMosquittoAuthArgs),
}

/// Arguments of `joule hub export-mosquitto-auth`.
#[derive(Debug, Args)]
pub(crate) struct ExportMosquittoAuthArgs {
    /// Where to write the password file (Mosquitto's `password_file`).
    #[arg(long, value_name = "FILE")]
    pub(crate) password_file: PathBuf,
    /// Where to write the ACL file (Mosquitto's `acl_file`).
    #[arg(long, value_name = "FILE")]
    pub(crate) acl_file: PathBuf,
    /// The hub's configuration (its `[broker]` username and password become the hub's login).
    #[command(flatten)]
    pub(crate) hub: HubArgs,
}

/// `joule meters ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum MetersCommand {
    /// Registers a meter and prints its device token, once.
    Add(MeterAddArgs),
    /// Lists the registered meters.
    List(HubArgs),
    /// Revokes a meter's token: it can no longer connect or publish.
    Revoke(MeterIdArgs),
}

/// Arguments of `joule meters add`.
#[derive(Debug, Args)]
pub(crate) struct MeterAddArgs {
    /// The meter id (its MQTT username): letters, digits, '-', '_' and '.'.
    pub(crate) id: String,
    /// A name for people.
    #[arg(long, default_value = "")]
    pub(crate) name: String,
    /// The feeder it hangs on.
    #[arg(long)]
    pub(crate) feeder: Option<String>,
    /// The transformer it hangs on.
    #[arg(long)]
    pub(crate) transformer: Option<String>,
    /// The consumer (a username) whose meter it is.
    #[arg(long)]
    pub(crate) owner: Option<String>,
    /// Where it is installed.
    #[arg(long)]
    pub(crate) location: Option<String>,
    /// The tariff plan it is billed on.
    #[arg(long)]
    pub(crate) tariff: Option<String>,
    /// Installation date, YYYY-MM-DD.
    #[arg(long)]
    pub(crate) install_date: Option<String>,
    /// The hub's configuration.
    #[command(flatten)]
    pub(crate) hub: HubArgs,
}

/// A meter id and the hub's configuration.
#[derive(Debug, Args)]
pub(crate) struct MeterIdArgs {
    /// The meter id.
    pub(crate) id: String,
    /// The hub's configuration.
    #[command(flatten)]
    pub(crate) hub: HubArgs,
}

/// `joule metrology ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum MetrologyCommand {
    /// Runs a capture through the meter and prints one line per reporting interval.
    #[command(after_long_help = ANALYZE_HELP)]
    Analyze(AnalyzeArgs),
    /// Computes a channel pair's calibration from a capture and a reference meter's reading.
    #[command(after_long_help = CALIBRATE_HELP)]
    Calibrate(CalibrateArgs),
    /// Runs the IEC 62053-21/-22 accuracy points, influence quantities and real loads
    /// through the metrology chain and prints the error table; fails if any point fails.
    Accuracy(AccuracyArgs),
}

/// Arguments of `joule metrology accuracy`.
#[derive(Debug, Args)]
pub(crate) struct AccuracyArgs {
    /// Replace the table between the `accuracy-table` markers of this Markdown file
    /// (docs/METROLOGY.md) instead of printing it.
    #[arg(long, value_name = "FILE")]
    pub(crate) update: Option<PathBuf>,
}

/// The long help after `joule metrology analyze --help`.
const ANALYZE_HELP: &str = concat!(
    capture_help!(),
    "

Output: one line per interval. Intervals end on the first whole mains cycle of phase 1 \
that reaches the interval boundary, so `t` (seconds since the start of the file) is where \
the interval actually ended. Averages are over whole cycles: vrms (V), irms (A), p_w (W, + \
import, - export), q_var (var, + inductive), s_va (VA), pf (P/S, signed like P), freq_hz \
(Hz); import_wh and export_wh are the meter's cumulative registers. The last line carries \
the registers after every sample. Three-phase captures sum P, Q and S, average V and I over \
the phases, and list each phase under `phases`."
);

/// The long help after `joule metrology calibrate --help`.
const CALIBRATE_HELP: &str = concat!(
    "Record a capture while a trusted meter measures the same circuit, then pass its reading \
with --ref-v, --ref-a and --ref-w. A steady resistive load (a heater or kettle, power factor \
1) is best practice: the phase reference is then exact and the current delay follows from \
the measured phase angle alone. With a reactive reference, say whether its current lags \
(--ref-lagging, inductive) or leads (--ref-leading, capacitive).

The capture must be single phase (2 channels: voltage, current) and should be a few seconds \
long; the first 0.5 s is skipped when the capture is longer than 1.5 s. The result is printed \
as a TOML snippet for the meter's configuration, with the residual errors of a verification \
run and the equivalent `joule metrology analyze` flags.

",
    capture_help!()
);

/// Arguments of `joule metrology analyze`.
#[derive(Debug, Args)]
pub(crate) struct AnalyzeArgs {
    /// The capture (WAV, raw ADC counts).
    #[arg(value_name = "FILE.wav")]
    pub(crate) file: PathBuf,
    /// Volts per count on the voltage channel(s).
    #[arg(long, value_name = "V_PER_COUNT", allow_negative_numbers = true)]
    pub(crate) v_scale: f64,
    /// Amps per count on the current channel(s), neutral included.
    #[arg(long, value_name = "A_PER_COUNT", allow_negative_numbers = true)]
    pub(crate) i_scale: f64,
    /// Microseconds the current channel lags the voltage channel (sampling skew plus sensor
    /// phase error); negative when it leads. The meter corrects it.
    #[arg(
        long,
        value_name = "MICROSECONDS",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    pub(crate) i_delay_us: f64,
    /// Nominal mains frequency in Hz.
    #[arg(
        long,
        value_name = "HZ",
        default_value_t = 50.0,
        allow_negative_numbers = true
    )]
    pub(crate) nominal_freq: f64,
    /// Nominal line-to-neutral voltage Un in volts (power-quality thresholds).
    #[arg(
        long,
        value_name = "VOLTS",
        default_value_t = 230.0,
        allow_negative_numbers = true
    )]
    pub(crate) nominal_voltage: f64,
    /// Basic current Ib in amps (starting current, tamper thresholds).
    #[arg(
        long,
        value_name = "AMPS",
        default_value_t = 10.0,
        allow_negative_numbers = true
    )]
    pub(crate) basic_current: f64,
    /// Maximum current Imax in amps (over-current threshold).
    #[arg(
        long,
        value_name = "AMPS",
        default_value_t = 60.0,
        allow_negative_numbers = true
    )]
    pub(crate) max_current: f64,
    /// Reporting interval in seconds.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 1.0,
        allow_negative_numbers = true
    )]
    pub(crate) interval: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Json)]
    pub(crate) format: Format,
}

/// How `analyze` prints its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// One JSON object per line.
    Json,
    /// An aligned table with units in the header.
    Table,
}

/// Arguments of `joule metrology calibrate`.
#[derive(Debug, Args)]
pub(crate) struct CalibrateArgs {
    /// The capture (WAV, raw ADC counts, single phase).
    #[arg(value_name = "FILE.wav")]
    pub(crate) file: PathBuf,
    /// RMS voltage the reference meter read, in volts.
    #[arg(long, value_name = "VOLTS", allow_negative_numbers = true)]
    pub(crate) ref_v: f64,
    /// RMS current the reference meter read, in amps.
    #[arg(long, value_name = "AMPS", allow_negative_numbers = true)]
    pub(crate) ref_a: f64,
    /// Active power the reference meter read, in watts (best with a resistive load: PF 1).
    #[arg(long, value_name = "WATTS", allow_negative_numbers = true)]
    pub(crate) ref_w: f64,
    /// The reference load's current lags the voltage (inductive).
    #[arg(long, conflicts_with = "ref_leading")]
    pub(crate) ref_lagging: bool,
    /// The reference load's current leads the voltage (capacitive).
    #[arg(long)]
    pub(crate) ref_leading: bool,
    /// Nominal mains frequency in Hz.
    #[arg(
        long,
        value_name = "HZ",
        default_value_t = 50.0,
        allow_negative_numbers = true
    )]
    pub(crate) nominal_freq: f64,
    /// A first guess of the current channel's delay in microseconds, for captures whose
    /// delay is large; the result is measured relative to it.
    #[arg(
        long,
        value_name = "MICROSECONDS",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    pub(crate) current_delay_guess_us: f64,
}
