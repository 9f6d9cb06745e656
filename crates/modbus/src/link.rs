//! How the poller reaches a meter, written as one string in configuration:
//! `tcp://host[:port]` (port 502 by default) or `rtu:PATH[?baud=N&parity=none|even]`
//! (9600 baud, no parity by default). Parsing it here gives every configuration file the
//! same syntax and the same error messages.

use std::fmt;
use std::str::FromStr;

/// Baud rate of a serial link that does not give one.
pub const DEFAULT_BAUD: u32 = 9600;

/// Serial parity (8 data bits and 1 stop bit either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Parity {
    /// No parity: the SDM630's factory setting.
    #[default]
    None,
    /// Even parity.
    Even,
}

/// A way to reach a Modbus device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Modbus TCP (a meter with Ethernet, or an RS-485 gateway).
    Tcp {
        /// Host name or IP address.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// Modbus RTU on a serial port (an RS-485 adapter).
    Rtu {
        /// The port's path, e.g. `/dev/ttyUSB0`.
        path: String,
        /// Baud rate. Note the SDM120 leaves the factory at 2400.
        baud: u32,
        /// Parity.
        parity: Parity,
    },
}

impl Link {
    /// A serial port at 9600 baud, no parity.
    pub fn rtu(path: impl Into<String>) -> Self {
        Self::Rtu {
            path: path.into(),
            baud: DEFAULT_BAUD,
            parity: Parity::None,
        }
    }
}

/// Why a link string was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "link {link:?}: {reason} (expected tcp://host[:port] or rtu:PATH[?baud=N&parity=none|even])"
)]
pub struct LinkError {
    /// The string given.
    pub link: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FromStr for Link {
    type Err = LinkError;

    fn from_str(text: &str) -> Result<Self, LinkError> {
        let error = |reason: String| LinkError {
            link: text.to_owned(),
            reason,
        };
        if let Some(address) = text.strip_prefix("tcp://") {
            let (host, port) = match address.rsplit_once(':') {
                // An IPv6 address without a port ("[::1]") has its colons inside brackets.
                Some((host, port)) if !port.ends_with(']') => {
                    let port = port
                        .parse()
                        .map_err(|_| error(format!("port {port:?} is not a number 0..=65535")))?;
                    (host, port)
                }
                _ => (address, 502),
            };
            let host = host.trim_start_matches('[').trim_end_matches(']');
            if host.is_empty() {
                return Err(error("no host".to_owned()));
            }
            return Ok(Self::Tcp {
                host: host.to_owned(),
                port,
            });
        }
        if let Some(rest) = text.strip_prefix("rtu:") {
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            if path.is_empty() {
                return Err(error("no serial port path".to_owned()));
            }
            let (mut baud, mut parity) = (DEFAULT_BAUD, Parity::None);
            for pair in query.split('&').filter(|pair| !pair.is_empty()) {
                match pair.split_once('=') {
                    Some(("baud", value)) => {
                        baud = value
                            .parse()
                            .ok()
                            .filter(|&baud| baud > 0)
                            .ok_or_else(|| error(format!("baud {value:?} is not a rate")))?;
                    }
                    Some(("parity", "none")) => parity = Parity::None,
                    Some(("parity", "even")) => parity = Parity::Even,
                    _ => return Err(error(format!("unknown option {pair:?}"))),
                }
            }
            return Ok(Self::Rtu {
                path: path.to_owned(),
                baud,
                parity,
            });
        }
        Err(error("unknown scheme".to_owned()))
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Self::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Self::Rtu { path, baud, parity } => {
                let parity = match parity {
                    Parity::None => "none",
                    Parity::Even => "even",
                };
                write!(f, "rtu:{path}?baud={baud}&parity={parity}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Link, LinkError> {
        text.parse()
    }

    #[test]
    fn tcp_links_default_to_port_502() {
        let tcp = |host: &str, port| Link::Tcp {
            host: host.to_owned(),
            port,
        };
        assert_eq!(
            parse("tcp://meter.local:1502"),
            Ok(tcp("meter.local", 1502))
        );
        assert_eq!(parse("tcp://192.168.1.5"), Ok(tcp("192.168.1.5", 502)));
        assert_eq!(parse("tcp://[::1]:5020"), Ok(tcp("::1", 5020)));
        assert_eq!(parse("tcp://[fe80::1]"), Ok(tcp("fe80::1", 502)));
    }

    #[test]
    fn rtu_links_default_to_9600_without_parity() {
        assert_eq!(parse("rtu:/dev/ttyUSB0"), Ok(Link::rtu("/dev/ttyUSB0")));
        assert_eq!(
            parse("rtu:/dev/ttyAMA0?baud=2400&parity=even"),
            Ok(Link::Rtu {
                path: "/dev/ttyAMA0".to_owned(),
                baud: 2400,
                parity: Parity::Even
            })
        );
    }

    #[test]
    fn links_print_as_they_parse() {
        for text in [
            "tcp://meter.local:502",
            "tcp://[::1]:5020",
            "rtu:/dev/ttyUSB0?baud=19200&parity=even",
        ] {
            assert_eq!(parse(text).expect("valid").to_string(), text);
        }
    }

    #[test]
    fn bad_links_say_what_is_wrong() {
        let reason = |text: &str| parse(text).expect_err(text).reason;
        assert_eq!(
            reason("tcp://meter:70000"),
            "port \"70000\" is not a number 0..=65535"
        );
        assert_eq!(reason("tcp://:502"), "no host");
        assert_eq!(reason("rtu:"), "no serial port path");
        assert_eq!(reason("rtu:/dev/ttyS0?baud=0"), "baud \"0\" is not a rate");
        assert_eq!(
            reason("rtu:/dev/ttyS0?parity=odd"),
            "unknown option \"parity=odd\""
        );
        assert_eq!(reason("udp://meter"), "unknown scheme");
        let message = parse("udp://meter").expect_err("scheme").to_string();
        assert!(
            message.starts_with("link \"udp://meter\": unknown scheme"),
            "{message}"
        );
    }
}
