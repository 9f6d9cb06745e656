//! The hub's configuration: a TOML file, then environment overrides, validated at start-up.
//!
//! Every option is documented in docs/CONFIG.md. An error names the file and the key.

use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Everything the hub needs to run.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HubConfig {
    /// The MQTT broker the hub is a client of.
    #[serde(default)]
    pub broker: BrokerConfig,
    /// Where data is kept.
    #[serde(default)]
    pub storage: joule_store::StorageConfig,
    /// Batching and queueing of ingest.
    #[serde(default)]
    pub ingest: IngestConfig,
    /// MQTT topic layout.
    #[serde(default)]
    pub topics: TopicsConfig,
    /// The HTTP API and web portal.
    #[serde(default)]
    pub http: HttpConfig,
    /// Commands to meters.
    #[serde(default)]
    pub commands: CommandsConfig,
    /// Alert evaluation and delivery.
    #[serde(default)]
    pub alerts: crate::alerts::config::AlertsConfig,
    /// Billing, price sources and insights.
    #[serde(default)]
    pub billing: BillingConfig,
}

/// `[billing]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BillingConfig {
    /// Grid carbon intensity for the CO2 insight, g CO2 per kWh.
    pub grid_intensity_g_per_kwh: f64,
    /// Market prices the hub fetches over HTTP (dynamic tariffs).
    pub price_sources: Vec<PriceSourceConfig>,
}

impl Default for BillingConfig {
    fn default() -> Self {
        Self {
            grid_intensity_g_per_kwh: 300.0,
            price_sources: Vec::new(),
        }
    }
}

/// `[[billing.price_sources]]`: a URL serving a market's prices.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceSourceConfig {
    /// The market (series) name plans use in `series`.
    pub market: String,
    /// `http://` or `https://` URL answering with the prices.
    pub url: String,
    /// What it answers: `json`, `csv` (the tariff crate's formats) or `entsoe_csv`.
    #[serde(default = "json_format")]
    pub format: PriceFormat,
    /// For `entsoe_csv`: the bidding zone's IANA time zone.
    pub time_zone: Option<String>,
    /// How often to fetch, s.
    #[serde(default = "hourly")]
    pub every_s: u32,
}

fn json_format() -> PriceFormat {
    PriceFormat::Json
}

fn hourly() -> u32 {
    3600
}

/// How price text is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PriceFormat {
    /// A JSON array of `{start, end, price_per_kwh}`.
    Json,
    /// CSV `start,end,price_per_kwh`.
    Csv,
    /// The ENTSO-E transparency platform's day-ahead CSV (per MWh, local time).
    EntsoeCsv,
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Where the API and portal listen.
    pub listen: std::net::SocketAddr,
    /// How long a browser session lasts, hours.
    pub session_hours: u32,
    /// Mark session cookies `Secure` (set when a proxy in front serves the hub over
    /// HTTPS; with `tls` they always are).
    pub secure_cookies: bool,
    /// Serve HTTPS on `listen` with this certificate and key instead of plain HTTP.
    pub tls: Option<TlsFiles>,
}

impl HttpConfig {
    /// Whether session cookies are marked `Secure`.
    pub fn cookies_secure(&self) -> bool {
        self.secure_cookies || self.tls.is_some()
    }
}

/// A server's certificate chain and private key, PEM files.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The certificate chain, the server's own certificate first.
    pub certificate: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: std::net::SocketAddr::from(([0, 0, 0, 0], 8080)),
            session_hours: 12,
            secure_cookies: false,
            tls: None,
        }
    }
}

/// `[commands]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CommandsConfig {
    /// A command without a final answer after this long is timed out (and the meter must
    /// refuse it), s.
    pub expiry_s: u32,
}

impl Default for CommandsConfig {
    fn default() -> Self {
        Self { expiry_s: 600 }
    }
}

/// `[broker]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerConfig {
    /// An external broker, `mqtt://host[:port]` or `mqtts://host[:port]` (TLS); absent,
    /// the hub runs its embedded broker on `listen`.
    pub url: Option<String>,
    /// With an `mqtts://` url: the CAs the external broker's certificate must chain to
    /// (PEM); absent, the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Where the embedded broker listens for meters (plain MQTT).
    pub listen: std::net::SocketAddr,
    /// Where the embedded broker also listens for meters over TLS (MQTT over TLS, usually
    /// port 8883), with `tls`.
    pub tls_listen: Option<std::net::SocketAddr>,
    /// The certificate and key the embedded broker's TLS listener presents.
    pub tls: Option<TlsFiles>,
    /// MQTT client id of the hub (its persistent session is kept under it).
    pub client_id: String,
    /// Username at the broker, if it asks for one.
    pub username: Option<String>,
    /// Password at the broker.
    pub password: Option<String>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            url: None,
            ca_file: None,
            listen: std::net::SocketAddr::from(([0, 0, 0, 0], 1883)),
            tls_listen: None,
            tls: None,
            client_id: "joule-hub".into(),
            username: None,
            password: None,
        }
    }
}

/// `[ingest]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Most messages written in one transaction.
    pub batch_max: usize,
    /// Longest a message waits for its batch to fill, ms.
    pub batch_wait_ms: u64,
    /// Messages queued between the MQTT client and the writer; when full, the hub stops
    /// reading from the broker (backpressure) instead of growing without bound.
    pub queue: usize,
    /// Most live readings and interval records a meter may send in one batch message,
    /// advertised in every storage ack; 0 advertises nothing, so meters send single
    /// messages.
    pub uplink_batch_max: u32,
}

/// The largest `ingest.uplink_batch_max`: more would never be used, since a batch also
/// ends at the 64 KiB payload limit (about 175 single-phase live readings).
const UPLINK_BATCH_MAX: u32 = 1000;

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            batch_max: 5000,
            batch_wait_ms: 25,
            queue: 20_000,
            uplink_batch_max: 500,
        }
    }
}

/// `[topics]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicsConfig {
    /// Prefix of every topic.
    pub prefix: String,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        Self {
            prefix: joule_protocol::DEFAULT_PREFIX.into(),
        }
    }
}

pub use joule_config::ConfigError;

/// Environment variables that override keys: (variable, dotted key); the `[storage]`
/// ones are the store's (`joule_store::STORAGE_OVERRIDES`).
const OVERRIDES: [joule_config::Override; 7] = [
    ("JOULE_HUB_HTTP_LISTEN", "http.listen"),
    ("JOULE_HUB_BROKER_URL", "broker.url"),
    ("JOULE_HUB_BROKER_LISTEN", "broker.listen"),
    ("JOULE_HUB_BROKER_CLIENT_ID", "broker.client_id"),
    ("JOULE_HUB_BROKER_USERNAME", "broker.username"),
    ("JOULE_HUB_BROKER_PASSWORD", "broker.password"),
    ("JOULE_HUB_TOPICS_PREFIX", "topics.prefix"),
];

impl HubConfig {
    /// Reads `path` (if given; defaults otherwise), applies environment overrides from
    /// `env`, and validates.
    pub fn load(
        path: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let overrides = [&joule_store::STORAGE_OVERRIDES[..], &OVERRIDES[..]].concat();
        let (config, origin): (Self, _) = joule_config::load(path, &overrides, env)?;
        config.validate(&origin)?;
        Ok(config)
    }

    fn validate(&self, origin: &joule_config::Origin) -> Result<(), ConfigError> {
        let invalid = |key: &str, reason: &str| origin.invalid(key, reason);
        let external = match self.broker.url.as_deref() {
            Some(url) => Some(BrokerUrl::parse(url).ok_or_else(|| {
                invalid(
                    "broker.url",
                    "must be mqtt://host[:port] or mqtts://host[:port]",
                )
            })?),
            None => None,
        };
        if self.broker.ca_file.is_some() && !external.as_ref().is_some_and(|url| url.tls) {
            return Err(invalid("broker.ca_file", "needs an mqtts:// broker.url"));
        }
        if self.broker.tls_listen.is_some() != self.broker.tls.is_some() {
            return Err(invalid(
                "broker.tls_listen",
                "and broker.tls (certificate and key) go together",
            ));
        }
        if external.is_some() && self.broker.tls_listen.is_some() {
            return Err(invalid(
                "broker.tls_listen",
                "is for the embedded broker; with broker.url the external broker does TLS",
            ));
        }
        if self.broker.client_id.is_empty() {
            return Err(invalid("broker.client_id", "must not be empty"));
        }
        if self.ingest.batch_max == 0 || self.ingest.batch_max > 100_000 {
            return Err(invalid("ingest.batch_max", "must be 1..=100000"));
        }
        if self.ingest.queue < self.ingest.batch_max {
            return Err(invalid("ingest.queue", "must be at least ingest.batch_max"));
        }
        if self.ingest.uplink_batch_max > UPLINK_BATCH_MAX {
            return Err(invalid(
                "ingest.uplink_batch_max",
                "must be 0..=1000 (0: meters send single messages)",
            ));
        }
        self.storage.validate(origin)?;
        if self.http.session_hours == 0 {
            return Err(invalid("http.session_hours", "must be at least 1"));
        }
        if self.commands.expiry_s < 10 {
            return Err(invalid("commands.expiry_s", "must be at least 10"));
        }
        if let Some((key, reason)) = self.alerts.invalid() {
            return Err(invalid(key, reason));
        }
        self.validate_billing(origin)?;
        if self.topics.prefix.is_empty() || self.topics.prefix.contains(['+', '#']) {
            return Err(invalid(
                "topics.prefix",
                "must be a topic path without wildcards",
            ));
        }
        Ok(())
    }
}

impl HubConfig {
    fn validate_billing(&self, origin: &joule_config::Origin) -> Result<(), ConfigError> {
        let billing = &self.billing;
        let intensity = billing.grid_intensity_g_per_kwh;
        if !(intensity.is_finite() && intensity >= 0.0) {
            return Err(origin.invalid(
                "billing.grid_intensity_g_per_kwh",
                "must be a number of at least 0",
            ));
        }
        for source in &billing.price_sources {
            let invalid = |key: &str, reason: &str| {
                origin.invalid(&format!("billing.price_sources.{key}"), reason)
            };
            if source.market.trim().is_empty() {
                return Err(invalid("market", "must not be empty"));
            }
            if !(source.url.starts_with("http://") || source.url.starts_with("https://")) {
                return Err(invalid("url", "must be an http:// or https:// URL"));
            }
            if source.every_s < 10 {
                return Err(invalid("every_s", "must be at least 10"));
            }
            let zone = source.time_zone.as_deref();
            if source.format == PriceFormat::EntsoeCsv
                && zone.is_none_or(|zone| jiff::tz::TimeZone::get(zone).is_err())
            {
                return Err(invalid(
                    "time_zone",
                    "entsoe_csv needs the bidding zone's IANA time zone",
                ));
            }
        }
        Ok(())
    }
}

pub use joule_config::{BrokerUrl, broker_address};

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn defaults_file_and_environment() {
        let config = HubConfig::load(None, no_env).expect("defaults");
        assert_eq!(config.broker.url, None);
        assert_eq!(config.broker.listen.port(), 1883);
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hub.toml");
        std::fs::write(
            &path,
            "[broker]\nurl = \"mqtt://[::1]:1884\"\n[ingest]\nbatch_max = 10\n",
        )
        .expect("write");
        let config = HubConfig::load(Some(&path), |v| {
            (v == "JOULE_HUB_STORAGE_SQLITE").then(|| "/tmp/x.sqlite".to_owned())
        })
        .expect("file");
        assert_eq!(
            config.broker.url.as_deref().and_then(broker_address),
            Some(("::1".into(), 1884))
        );
        std::fs::write(
            &path,
            "[broker]\ntls_listen = \"0.0.0.0:8883\"\n\
             tls = { certificate = \"hub.pem\", key = \"hub.key\" }\n\
             [http]\ntls = { certificate = \"hub.pem\", key = \"hub.key\" }\n",
        )
        .expect("write");
        let tls = HubConfig::load(Some(&path), no_env).expect("TLS listeners");
        assert!(tls.http.cookies_secure());
        assert_eq!(tls.broker.tls_listen.map(|a| a.port()), Some(8883));
        assert_eq!(config.ingest.batch_max, 10);
        assert_eq!(config.storage.sqlite, PathBuf::from("/tmp/x.sqlite"));
    }

    #[test]
    fn errors_name_the_file_and_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hub.toml");
        std::fs::write(&path, "[broker]\nurl = \"http://x\"\n").expect("write");
        let error = HubConfig::load(Some(&path), no_env)
            .expect_err("bad url")
            .to_string();
        assert!(
            error.contains("hub.toml") && error.contains("broker.url"),
            "{error}"
        );
        for (text, key) in [
            (
                "[broker]\ntls_listen = \"0.0.0.0:8883\"\n",
                "broker.tls_listen",
            ),
            (
                "[broker]\nurl = \"mqtt://h\"\nca_file = \"ca.pem\"\n",
                "broker.ca_file",
            ),
            (
                "[ingest]\nuplink_batch_max = 5000\n",
                "ingest.uplink_batch_max",
            ),
        ] {
            std::fs::write(&path, text).expect("write");
            let error = HubConfig::load(Some(&path), no_env)
                .expect_err(key)
                .to_string();
            assert!(error.contains(key), "{error}");
        }
        std::fs::write(&path, "[brokr]\nurl = 1\n").expect("write");
        let error = HubConfig::load(Some(&path), no_env)
            .expect_err("unknown key")
            .to_string();
        assert!(error.contains("brokr"), "{error}");
        let error = HubConfig::load(None, |v| {
            (v == "JOULE_HUB_BROKER_URL").then(|| "nope".into())
        })
        .expect_err("bad env")
        .to_string();
        assert!(error.contains("JOULE_HUB_BROKER_URL"), "{error}");
        std::fs::write(
            &path,
            "[[billing.price_sources]]\nmarket = \"epex\"\nurl = \"ftp://x\"\n",
        )
        .expect("write");
        let error = HubConfig::load(Some(&path), no_env)
            .expect_err("bad price source")
            .to_string();
        assert!(error.contains("billing.price_sources.url"), "{error}");
    }
}
