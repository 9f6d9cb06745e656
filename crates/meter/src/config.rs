//! The meter's configuration (`meter.toml`), with environment overrides, validated at
//! start-up. Every option is documented in docs/CONFIG.md; an error names the file and
//! the key.

use crate::alerts::AlertConfig;
pub use crate::source::waveform::{Incident, IncidentKind};
use joule_config::{ConfigError, Origin};
use joule_protocol::{MeterId, TariffSwitch};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Everything the meter agent needs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterConfig {
    /// `[meter]`: identity, data directory and recording pace.
    pub meter: MeterSection,
    /// `[uplink]`: the broker and how the outbox drains into it.
    pub uplink: UplinkConfig,
    /// `[source]`: where measurements come from.
    #[serde(default)]
    pub source: SourceConfig,
    /// `[persistence]`: how often the registers are saved.
    #[serde(default)]
    pub persistence: PersistenceConfig,
    /// `[outbox]`: how much it keeps while offline.
    #[serde(default)]
    pub outbox: OutboxConfig,
    /// `[alerts]`: local alarms.
    #[serde(default)]
    pub alerts: AlertConfig,
    /// `[relay]`: the supply switch and load limiting.
    #[serde(default)]
    pub relay: RelayConfig,
    /// `[tariff]`: the TOU schedule until a command replaces it.
    pub tariff: Option<TariffConfig>,
    /// `[modbus]`: the read-only Modbus TCP server.
    #[serde(default)]
    pub modbus: ModbusConfig,
    /// `[display]`: the local display's socket.
    #[serde(default)]
    pub display: DisplayConfig,
    /// `[metrics]`: the meter's own Prometheus endpoint.
    #[serde(default)]
    pub metrics: MetricsConfig,
}

/// `[metrics]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Where `joule meter` serves its metrics for Prometheus (`/metrics`, plain HTTP);
    /// absent: not served.
    pub listen: Option<std::net::SocketAddr>,
}

/// `[display]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DisplayConfig {
    /// Where `joule meter display --connect` finds the running meter (keep it on
    /// loopback: a client can press the local button); absent: no socket.
    pub listen: Option<std::net::SocketAddr>,
}

/// `[modbus]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModbusConfig {
    /// Where the server listens (Modbus's port is 502); absent: no server.
    pub listen: Option<std::net::SocketAddr>,
}

/// `[meter]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeterSection {
    /// The meter id (the MQTT username and the topic segment).
    pub id: String,
    /// Where the registers and the outbox live.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// Time zone of the household's habits (simulated source), IANA name.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Seconds between live readings.
    #[serde(default = "one")]
    pub live_interval_s: u32,
    /// Length of an interval record, s (a divisor of a day).
    #[serde(default = "default_interval_s")]
    pub interval_s: u32,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("joule-meter-data")
}

fn default_timezone() -> String {
    "UTC".into()
}

fn one() -> u32 {
    1
}

fn default_interval_s() -> u32 {
    900
}

/// `[uplink]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UplinkConfig {
    /// The broker, `mqtt://host[:port]` or, with TLS, `mqtts://host[:port]`.
    pub broker: String,
    /// PEM file of the certificate authorities a TLS broker's certificate must chain to;
    /// absent: the system's roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The device token the hub issued (`joule meters add`).
    pub token: String,
    /// Topic prefix.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// MQTT keep-alive, s.
    #[serde(default = "default_keep_alive_s")]
    pub keep_alive_s: u16,
    /// Most messages published per second when a backlog drains.
    #[serde(default = "default_replay_per_s")]
    pub replay_per_s: u32,
    /// Most messages sent and not yet confirmed stored.
    #[serde(default = "default_window")]
    pub window: u32,
    /// Resend everything unconfirmed when the hub confirms nothing for this long, s.
    #[serde(default = "default_ack_timeout_s")]
    pub ack_timeout_s: u32,
    /// Publish Home Assistant MQTT discovery documents on connect.
    #[serde(default)]
    pub home_assistant: bool,
}

fn default_prefix() -> String {
    joule_protocol::DEFAULT_PREFIX.into()
}

fn default_keep_alive_s() -> u16 {
    30
}

fn default_replay_per_s() -> u32 {
    200
}

fn default_window() -> u32 {
    2000
}

fn default_ack_timeout_s() -> u32 {
    30
}

/// `[source]`: one of the kinds, with its own keys.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// A household on simulated mains, through the metrology chain.
    Simulated {
        /// Seed of the household's habits.
        #[serde(default = "one_u64")]
        seed: u64,
        /// ADC samples per second per channel.
        #[serde(default = "default_rate")]
        sample_rate_hz: f64,
        /// Solar inverter peak, W (0: none).
        #[serde(default)]
        solar_peak_w: f64,
        /// EV charger power, W (0: none).
        #[serde(default)]
        ev_charger_w: f64,
        /// Heat pump power, W (0: none).
        #[serde(default)]
        heat_pump_w: f64,
        /// Three-phase supply.
        #[serde(default)]
        three_phase: bool,
        /// Scripted incidents after the agent starts (demos and tests): supply
        /// interruptions and a removed voltage tap, measured through the metrology chain.
        #[serde(default)]
        incidents: Vec<Incident>,
    },
    /// A WAV capture of raw ADC counts, replayed in real time in a loop.
    Wav {
        /// The capture.
        path: PathBuf,
        /// Volts per count.
        v_scale: f64,
        /// Amps per count.
        i_scale: f64,
        /// Current channel delay to correct, µs.
        #[serde(default)]
        i_delay_us: f64,
        /// Nominal mains frequency, Hz.
        #[serde(default = "default_frequency")]
        nominal_freq_hz: f64,
    },
    /// An Eastron SDM120 or SDM630 polled over Modbus; the device keeps the registers.
    Modbus {
        /// `tcp://host[:port]` or `rtu:PATH[?baud=N&parity=none|even]`.
        link: String,
        /// Which meter.
        model: SdmModelConfig,
        /// Modbus unit (slave) id.
        #[serde(default = "one_u8")]
        unit_id: u8,
        /// Time between polls, ms.
        #[serde(default = "default_poll_interval_ms")]
        poll_interval_ms: u32,
        /// Time to wait for a connection or an answer, ms.
        #[serde(default = "default_poll_timeout_ms")]
        timeout_ms: u32,
    },
    /// DSMR P1 telegrams from a serial port or a TCP gateway; the device keeps the
    /// registers.
    Dsmr {
        /// A serial device (`/dev/ttyUSB0`, with `?baud=9600` for DSMR 2.2/3) or
        /// `tcp://host:port`.
        port: String,
    },
}

impl SourceConfig {
    /// Whether the source is a device that keeps its own registers (no metrology chain,
    /// no calibration, no TOU switching of its registers).
    pub fn is_device(&self) -> bool {
        matches!(self, Self::Modbus { .. } | Self::Dsmr { .. })
    }
}

/// The Eastron models the `modbus` source reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SdmModelConfig {
    /// Single phase.
    Sdm120,
    /// Three phase.
    Sdm630,
}

fn one_u8() -> u8 {
    1
}

fn default_poll_interval_ms() -> u32 {
    1000
}

fn default_poll_timeout_ms() -> u32 {
    1000
}

fn one_u64() -> u64 {
    1
}

fn default_rate() -> f64 {
    4000.0
}

fn default_frequency() -> f64 {
    50.0
}

impl Default for SourceConfig {
    fn default() -> Self {
        Self::Simulated {
            seed: 1,
            sample_rate_hz: default_rate(),
            solar_peak_w: 0.0,
            ev_charger_w: 0.0,
            heat_pump_w: 0.0,
            three_phase: false,
            incidents: Vec::new(),
        }
    }
}

/// `[persistence]`.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PersistenceConfig {
    /// Save the registers at least this often, s.
    pub every_s: u32,
    /// ... and whenever this much energy has registered since the last save, Wh.
    pub every_wh: f64,
}

impl Default for PersistenceConfig {
    fn default() -> Self {
        Self {
            every_s: 10,
            every_wh: 1.0,
        }
    }
}

/// `[outbox]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboxConfig {
    /// Unsent live readings kept while offline before thinning (interval records and
    /// events are always kept).
    pub max_live: u64,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        // A day of one-second readings.
        Self { max_live: 86_400 }
    }
}

/// `[relay]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RelayConfig {
    /// The meter has a supply switch; unset: it has one unless the source is a device
    /// (see [`MeterConfig::relay_present`]).
    pub present: Option<bool>,
    /// Import must stay above a load limit this long before the switch trips, s.
    pub load_limit_window_s: u32,
}

impl Default for RelayConfig {
    fn default() -> Self {
        Self {
            present: None,
            load_limit_window_s: 30,
        }
    }
}

/// `[tariff]`: a TOU schedule in the shape of the `tariff_schedule` command.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TariffConfig {
    /// IANA time zone of the switch times.
    pub timezone: String,
    /// Switch points.
    pub switches: Vec<TariffSwitch>,
    /// Holidays, `YYYY-MM-DD`.
    #[serde(default)]
    pub holidays: Vec<String>,
}

/// Environment variables that override keys.
const OVERRIDES: [joule_config::Override; 4] = [
    ("JOULE_METER_ID", "meter.id"),
    ("JOULE_METER_DATA_DIR", "meter.data_dir"),
    ("JOULE_METER_BROKER", "uplink.broker"),
    ("JOULE_METER_TOKEN", "uplink.token"),
];

impl MeterConfig {
    /// Reads `path`, applies environment overrides from `env`, and validates.
    pub fn load(path: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let (config, origin): (Self, _) = joule_config::load(Some(path), &OVERRIDES, env)?;
        config.validate(&origin)?;
        Ok(config)
    }

    /// The meter id, checked.
    pub fn meter_id(&self) -> Option<MeterId> {
        MeterId::new(&self.meter.id).ok()
    }

    /// Whether the meter has a supply switch: as `relay.present` says, or unless the
    /// source is a device (which measures a supply Joule cannot switch).
    pub fn relay_present(&self) -> bool {
        self.relay.present.unwrap_or(!self.source.is_device())
    }

    fn validate(&self, origin: &Origin) -> Result<(), ConfigError> {
        if self.meter_id().is_none() {
            return Err(origin.invalid("meter.id", "must be 1-64 letters, digits, `-`, `_` or `.`"));
        }
        if self.meter.live_interval_s == 0 {
            return Err(origin.invalid("meter.live_interval_s", "must be at least 1"));
        }
        if self.meter.interval_s == 0 || 86_400 % self.meter.interval_s != 0 {
            return Err(
                origin.invalid("meter.interval_s", "must divide a day (900 for 15 minutes)")
            );
        }
        if jiff::tz::TimeZone::get(&self.meter.timezone).is_err() {
            return Err(origin.invalid("meter.timezone", "is not a known IANA time zone"));
        }
        let Some(broker) = BrokerUrl::parse(&self.uplink.broker) else {
            return Err(origin.invalid(
                "uplink.broker",
                "must be mqtt://host[:port] or mqtts://host[:port]",
            ));
        };
        if let Some(ca_file) = &self.uplink.ca_file {
            if !broker.tls {
                return Err(origin.invalid("uplink.ca_file", "needs an mqtts:// broker"));
            }
            if let Err(error) = joule_tls::client_config(Some(ca_file)) {
                return Err(origin.invalid("uplink.ca_file", error.to_string()));
            }
        }
        if self.uplink.token.is_empty() {
            return Err(origin.invalid("uplink.token", "must not be empty"));
        }
        if self.uplink.window == 0 || self.uplink.replay_per_s == 0 {
            return Err(origin.invalid(
                "uplink.window",
                "window and replay_per_s must be at least 1",
            ));
        }
        if self.persistence.every_s == 0
            || self.persistence.every_wh.is_nan()
            || self.persistence.every_wh <= 0.0
        {
            return Err(origin.invalid(
                "persistence.every_s",
                "every_s and every_wh must be positive",
            ));
        }
        match &self.source {
            SourceConfig::Simulated { sample_rate_hz, .. }
                if !(1000.0..=50_000.0).contains(sample_rate_hz) =>
            {
                return Err(origin.invalid("source.sample_rate_hz", "must be 1000..=50000"));
            }
            SourceConfig::Wav {
                v_scale, i_scale, ..
            } if !(*v_scale > 0.0 && *i_scale > 0.0) => {
                return Err(
                    origin.invalid("source.v_scale", "v_scale and i_scale must be positive")
                );
            }
            SourceConfig::Modbus {
                link,
                poll_interval_ms,
                ..
            } => {
                if let Err(error) = link.parse::<joule_modbus::Link>() {
                    return Err(origin.invalid("source.link", error.reason));
                }
                if *poll_interval_ms < 100 {
                    return Err(origin.invalid("source.poll_interval_ms", "must be at least 100"));
                }
            }
            SourceConfig::Dsmr { port } => {
                if let Err(error) = joule_dsmr::PortSpec::parse(port) {
                    return Err(origin.invalid("source.port", error.to_string()));
                }
            }
            _ => {}
        }
        if self.source.is_device() && self.relay.present == Some(true) {
            return Err(origin.invalid(
                "relay.present",
                "a modbus or dsmr source measures a supply Joule cannot switch",
            ));
        }
        if let Some(listen) = self.metrics.listen {
            let taken = [
                ("modbus.listen", self.modbus.listen),
                ("display.listen", self.display.listen),
            ]
            .into_iter()
            .find(|(_, other)| *other == Some(listen));
            if let Some((key, _)) = taken {
                return Err(origin.invalid("metrics.listen", format!("is {key} already")));
            }
        }
        if let Some(tariff) = &self.tariff {
            let schedule = crate::state::Schedule {
                timezone: tariff.timezone.clone(),
                switches: tariff.switches.clone(),
                holidays: tariff.holidays.clone(),
            };
            if let Err(error) = crate::tou::TouCalendar::new(&schedule) {
                return Err(origin.invalid("tariff", error.to_string()));
            }
        }
        Ok(())
    }
}

pub use joule_config::BrokerUrl;

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<MeterConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meter.toml");
        std::fs::write(&path, text).unwrap();
        MeterConfig::load(&path, |key| {
            env.iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    const MINIMAL: &str =
        "[meter]\nid = \"m-1\"\n[uplink]\nbroker = \"mqtt://127.0.0.1:1883\"\ntoken = \"t\"\n";

    #[test]
    fn minimal_file_gets_defaults_and_environment_wins() {
        let config = load(MINIMAL, &[("JOULE_METER_ID", "m-2")]).unwrap();
        assert_eq!(config.meter.id, "m-2");
        assert_eq!(config.meter.interval_s, 900);
        assert!(
            matches!(config.source, SourceConfig::Simulated { sample_rate_hz, .. } if sample_rate_hz == 4000.0)
        );
        assert_eq!(config.persistence.every_s, 10);
    }

    #[test]
    fn errors_name_the_key() {
        let error = load(MINIMAL, &[("JOULE_METER_BROKER", "tcp://x")])
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "environment JOULE_METER_BROKER: `uplink.broker` must be mqtt://host[:port] or mqtts://host[:port]"
        );
        let error =
            load(MINIMAL, &[("JOULE_METER_BROKER", "mqtt://x")]).map(|config| config.uplink.broker);
        assert_eq!(
            error.ok().as_deref(),
            Some("mqtt://x"),
            "port 1883 by default"
        );
        let plain_with_ca = MINIMAL.replace("[uplink]", "[uplink]\nca_file = \"/etc/ssl/ca.pem\"");
        let error = load(&plain_with_ca, &[]).unwrap_err().to_string();
        assert!(
            error.ends_with("`uplink.ca_file` needs an mqtts:// broker"),
            "{error}"
        );
        let relay_on_a_device = format!(
            "{MINIMAL}[source]\nkind = \"dsmr\"\nport = \"/dev/ttyUSB0\"\n[relay]\npresent = true\n"
        );
        let error = load(&relay_on_a_device, &[]).unwrap_err().to_string();
        assert!(error.contains("`relay.present`"), "{error}");
        let bad_source = format!("{MINIMAL}[source]\nkind = \"simulated\"\nsample_rate_hz = 10\n");
        let error = load(&bad_source, &[]).unwrap_err().to_string();
        assert!(
            error.ends_with("`source.sample_rate_hz` must be 1000..=50000"),
            "{error}"
        );
        let unknown = format!("{MINIMAL}[source]\nkind = \"simulated\"\nsample_rat = 4000\n");
        let error = load(&unknown, &[]).unwrap_err().to_string();
        assert!(error.contains("sample_rat"), "{error}");
    }

    #[test]
    fn metrics_are_off_unless_a_valid_free_address_is_given() {
        assert_eq!(load(MINIMAL, &[]).unwrap().metrics.listen, None);
        let on = format!("{MINIMAL}[metrics]\nlisten = \"127.0.0.1:9464\"\n");
        assert_eq!(
            load(&on, &[]).unwrap().metrics.listen,
            Some("127.0.0.1:9464".parse().unwrap())
        );
        let bad = format!("{MINIMAL}[metrics]\nlisten = \"localhost\"\n");
        let error = load(&bad, &[]).unwrap_err().to_string();
        assert!(error.contains("meter.toml"), "{error}");
        assert!(error.contains("metrics.listen"), "{error}");
        let shared = format!(
            "{MINIMAL}[modbus]\nlisten = \"127.0.0.1:1502\"\n[metrics]\nlisten = \"127.0.0.1:1502\"\n"
        );
        let error = load(&shared, &[]).unwrap_err().to_string();
        assert!(
            error.ends_with("`metrics.listen` is modbus.listen already"),
            "{error}"
        );
    }
}
