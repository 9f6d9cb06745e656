//! How the hub and the meter read their configuration, the same way: a TOML file (or
//! none, for the defaults), then environment variables that override single keys, then
//! the service's own validation. Every error names where the bad value came from: the
//! file and the dotted key, or the environment variable.

use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML of the expected shape.
    #[error("{}: {message}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message (with the key and the line).
        message: String,
    },
    /// A value is not acceptable.
    #[error("{source_name}: `{key}` {reason}")]
    Invalid {
        /// The file, or the environment variable that set the key.
        source_name: String,
        /// The key, dotted.
        key: String,
        /// Why.
        reason: String,
    },
}

/// An environment variable that sets one key: (variable, dotted key), e.g.
/// `("JOULE_HUB_HTTP_LISTEN", "http.listen")`. The value is given to the key as a string,
/// so overrides are for keys whose values are strings (names, addresses, URLs, paths).
pub type Override = (&'static str, &'static str);

/// Where the values came from, to name it in validation errors.
#[derive(Debug, Clone)]
pub struct Origin {
    file: String,
    overridden: Vec<Override>,
}

impl Origin {
    /// An [`ConfigError::Invalid`] for `key`, naming the environment variable when one set
    /// it and the file otherwise.
    pub fn invalid(&self, key: &str, reason: impl Into<String>) -> ConfigError {
        let source_name = self
            .overridden
            .iter()
            .find(|(_, dotted)| *dotted == key)
            .map_or_else(
                || self.file.clone(),
                |(variable, _)| format!("environment {variable}"),
            );
        ConfigError::Invalid {
            source_name,
            key: key.to_owned(),
            reason: reason.into(),
        }
    }

    /// The file the configuration was read from, or `(defaults)`.
    pub fn file(&self) -> &str {
        &self.file
    }
}

/// Reads `path` (if given; an empty table otherwise), applies the `overrides` that `env`
/// has a value for, and deserialises. Validation is the caller's, with [`Origin::invalid`].
pub fn load<T: DeserializeOwned>(
    path: Option<&Path>,
    overrides: &[Override],
    env: impl Fn(&str) -> Option<String>,
) -> Result<(T, Origin), ConfigError> {
    let (text, name) = match path {
        Some(path) => (
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_path_buf(),
                source,
            })?,
            path.to_path_buf(),
        ),
        None => (String::new(), PathBuf::from("(defaults)")),
    };
    let parse_error = |error: toml::de::Error| ConfigError::Parse {
        path: name.clone(),
        message: error.to_string(),
    };
    let mut table: toml::Table = toml::from_str(&text).map_err(parse_error)?;
    let mut overridden = Vec::new();
    for &(variable, dotted) in overrides {
        if let Some(value) = env(variable) {
            set(&mut table, dotted, value);
            overridden.push((variable, dotted));
        }
    }
    let value: T = table.try_into().map_err(parse_error)?;
    let origin = Origin {
        file: name.display().to_string(),
        overridden,
    };
    Ok((value, origin))
}

/// Sets a dotted key in a table, making the tables on the way.
fn set(table: &mut toml::Table, dotted: &str, value: String) {
    let mut table = table;
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            table.insert(part.to_owned(), toml::Value::String(value));
            return;
        }
        let entry = table
            .entry(part)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(next) = entry else {
            return;
        };
        table = next;
    }
}

/// Host and port of an `mqtt://host:port` URL (plain MQTT, the port given).
pub fn broker_address(url: &str) -> Option<(String, u16)> {
    url.strip_prefix("mqtt://")?.rsplit_once(':')?;
    BrokerUrl::parse(url).map(|broker| (broker.host, broker.port))
}

/// A broker URL: `mqtt://host[:port]` (plain, port 1883) or `mqtts://host[:port]` (TLS,
/// port 8883). An IPv6 host goes in brackets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUrl {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Whether the connection uses TLS.
    pub tls: bool,
}

impl BrokerUrl {
    /// Parses a broker URL; `None` if it is not one.
    pub fn parse(url: &str) -> Option<Self> {
        let (rest, tls) = match url.strip_prefix("mqtts://") {
            Some(rest) => (rest, true),
            None => (url.strip_prefix("mqtt://")?, false),
        };
        let default_port = if tls { 8883 } else { 1883 };
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, port)) if !port.ends_with(']') => (host, port.parse().ok()?),
            _ => (rest, default_port),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains('/') {
            return None;
        }
        Some(Self {
            host: host.to_owned(),
            port,
            tls,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Example {
        a: Section,
    }

    #[derive(Debug, Deserialize)]
    struct Section {
        b: Inner,
        name: String,
    }

    #[derive(Debug, Deserialize)]
    struct Inner {
        url: String,
    }

    #[test]
    fn environment_overrides_nested_keys_and_is_named_in_errors() {
        let dir = std::env::temp_dir().join(format!("joule-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.toml");
        std::fs::write(&path, "[a]\nname = \"file\"\n[a.b]\nurl = \"x\"\n").unwrap();
        let env = |variable: &str| (variable == "X_URL").then(|| "mqtt://h:1".to_owned());
        let overrides = [("X_URL", "a.b.url"), ("X_NAME", "a.name")];
        let (config, origin): (Example, _) = load(Some(&path), &overrides, env).unwrap();
        assert_eq!(config.a.b.url, "mqtt://h:1");
        assert_eq!(config.a.name, "file");
        let url = origin.invalid("a.b.url", "is wrong").to_string();
        assert_eq!(url, "environment X_URL: `a.b.url` is wrong");
        let name = origin.invalid("a.name", "is wrong").to_string();
        assert!(name.starts_with(&path.display().to_string()), "{name}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn broker_addresses() {
        assert_eq!(
            broker_address("mqtt://[::1]:1883"),
            Some(("::1".into(), 1883))
        );
        assert_eq!(broker_address("mqtt://h:1"), Some(("h".into(), 1)));
        assert_eq!(broker_address("mqtts://h:1"), None);
        assert_eq!(broker_address("mqtt://:1"), None);
    }

    #[test]
    fn broker_urls_with_and_without_tls_and_port() {
        let url = |host: &str, port, tls| {
            Some(BrokerUrl {
                host: host.into(),
                port,
                tls,
            })
        };
        assert_eq!(
            BrokerUrl::parse("mqtts://hub.example"),
            url("hub.example", 8883, true)
        );
        assert_eq!(
            BrokerUrl::parse("mqtt://hub.example"),
            url("hub.example", 1883, false)
        );
        assert_eq!(BrokerUrl::parse("mqtts://[::1]"), url("::1", 8883, true));
        assert_eq!(
            BrokerUrl::parse("mqtts://10.0.0.2:9883"),
            url("10.0.0.2", 9883, true)
        );
        assert_eq!(BrokerUrl::parse("mqtts://h:port"), None);
        assert_eq!(BrokerUrl::parse("http://h:1"), None);
        assert_eq!(BrokerUrl::parse("mqtt://h/x"), None);
    }

    #[test]
    fn parse_errors_name_the_file_and_line() {
        let error = load::<Example>(None, &[("Y", "a.b")], |_| Some("x".into())).unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("(defaults)"), "{message}");
    }
}
