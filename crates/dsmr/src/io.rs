//! Reading telegrams from a real P1 port (feature `io`): a serial port (a P1 cable on
//! `/dev/ttyUSB0`) or a TCP gateway that relays the port's bytes (ser2net and the many
//! ESP-based P1 dongles).
//!
//! Kept behind a feature so that the parser and framer stay free of tokio for anyone who
//! only needs to read telegrams they already have. Errors name the port, because a meter
//! agent may read several and its operator needs to know which one failed.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_serial::{DataBits, Parity, SerialPortBuilderExt, SerialStream, StopBits};

use crate::error::DsmrError;
use crate::framer::Framer;
use crate::telegram::Telegram;

/// Baud rate of DSMR 4 and 5 (and the Belgian and Luxembourg variants), 8N1.
const DSMR4_BAUD: u32 = 115_200;
/// Baud rate of DSMR 2.2 and 3, 7E1.
const DSMR2_BAUD: u32 = 9_600;
/// Bytes asked of the port per read.
const READ_CHUNK_BYTES: usize = 1024;

/// Data bits, parity and stop bits of a serial P1 port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SerialFraming {
    /// 7 data bits, even parity, 1 stop bit: DSMR 2.2 and 3 at 9600 baud.
    SevenEvenOne,
    /// 8 data bits, no parity, 1 stop bit: DSMR 4 and later at 115 200 baud.
    EightNoneOne,
}

/// Where to read telegrams from, as written in configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortSpec {
    /// `tcp://host:port`: a gateway relaying the P1 bytes.
    Tcp {
        /// `host:port`.
        addr: String,
    },
    /// A serial device path, optionally with `?baud=9600`.
    Serial {
        /// The device, e.g. `/dev/ttyUSB0`.
        path: String,
        /// Baud rate: 115 200 unless the spec says otherwise.
        baud: u32,
        /// 7E1 at 9600 baud (DSMR 2.2/3), 8N1 otherwise.
        framing: SerialFraming,
    },
}

/// Why a P1 port could not be opened.
#[derive(Debug, Error)]
pub enum OpenError {
    /// The port spec is not `tcp://host:port` or `PATH[?baud=N]`.
    #[error("P1 port {spec:?}: {reason}")]
    Spec {
        /// The spec as given.
        spec: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The TCP gateway did not accept the connection.
    #[error("P1 gateway tcp://{addr}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The connection error.
        source: std::io::Error,
    },
    /// The serial port could not be opened or configured.
    #[error("P1 serial port {path}: {source}")]
    Serial {
        /// The device path.
        path: String,
        /// The serial driver's error.
        source: tokio_serial::Error,
    },
}

/// Why reading the next telegram failed.
#[derive(Debug, Error)]
pub enum ReadError {
    /// The port failed; reopen it.
    #[error("P1 port {port}: {source}")]
    Io {
        /// The port's name.
        port: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A telegram or a stretch of the stream was refused; the reader carries on with the
    /// next telegram.
    #[error("P1 port {port}: {source}")]
    Telegram {
        /// The port's name.
        port: String,
        /// What was refused.
        source: DsmrError,
    },
}

impl PortSpec {
    /// Reads `tcp://host:port`, or a device path with an optional `?baud=N` (9600 selects
    /// the 7E1 framing of DSMR 2.2/3; any other rate is 8N1).
    pub fn parse(spec: &str) -> Result<PortSpec, OpenError> {
        let refused = |reason| OpenError::Spec {
            spec: spec.to_owned(),
            reason,
        };
        if let Some(addr) = spec.strip_prefix("tcp://") {
            let (host, port) = addr.rsplit_once(':').ok_or_else(|| refused("no :port"))?;
            if host.is_empty() || port.parse::<u16>().is_err() {
                return Err(refused("not tcp://host:port"));
            }
            return Ok(PortSpec::Tcp {
                addr: addr.to_owned(),
            });
        }
        if spec.contains("://") {
            return Err(refused("only tcp:// and serial device paths are supported"));
        }
        let (path, query) = match spec.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (spec, None),
        };
        if path.is_empty() {
            return Err(refused("no device path"));
        }
        let baud = match query {
            None => DSMR4_BAUD,
            Some(query) => query
                .strip_prefix("baud=")
                .ok_or_else(|| refused("the only option is ?baud=N"))?
                .parse::<u32>()
                .ok()
                .filter(|&baud| baud > 0)
                .ok_or_else(|| refused("baud is not a positive integer"))?,
        };
        let framing = if baud == DSMR2_BAUD {
            SerialFraming::SevenEvenOne
        } else {
            SerialFraming::EightNoneOne
        };
        Ok(PortSpec::Serial {
            path: path.to_owned(),
            baud,
            framing,
        })
    }
}

impl fmt::Display for PortSpec {
    /// The port's name in errors and logs: `tcp://host:port` or the device path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortSpec::Tcp { addr } => write!(f, "tcp://{addr}"),
            PortSpec::Serial { path, .. } => f.write_str(path),
        }
    }
}

/// An open P1 port: a TCP connection or a serial device.
#[derive(Debug)]
pub enum P1Stream {
    /// A TCP gateway.
    Tcp(TcpStream),
    /// A serial device.
    Serial(SerialStream),
}

impl AsyncRead for P1Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            P1Stream::Tcp(stream) => Pin::new(stream).poll_read(cx, buf),
            P1Stream::Serial(stream) => Pin::new(stream).poll_read(cx, buf),
        }
    }
}

/// Opens the P1 port `spec` names (see [`PortSpec::parse`]) and returns a reader of its
/// telegrams.
pub async fn open(spec: &str) -> Result<TelegramReader<P1Stream>, OpenError> {
    let port = PortSpec::parse(spec)?;
    let name = port.to_string();
    let stream = match port {
        PortSpec::Tcp { addr } => match TcpStream::connect(&addr).await {
            Ok(stream) => P1Stream::Tcp(stream),
            Err(source) => return Err(OpenError::Connect { addr, source }),
        },
        PortSpec::Serial {
            path,
            baud,
            framing,
        } => {
            let (data_bits, parity) = match framing {
                SerialFraming::SevenEvenOne => (DataBits::Seven, Parity::Even),
                SerialFraming::EightNoneOne => (DataBits::Eight, Parity::None),
            };
            let opened = tokio_serial::new(&path, baud)
                .data_bits(data_bits)
                .parity(parity)
                .stop_bits(StopBits::One)
                .open_native_async();
            match opened {
                Ok(stream) => P1Stream::Serial(stream),
                Err(source) => return Err(OpenError::Serial { path, source }),
            }
        }
    };
    Ok(TelegramReader::new(name, stream))
}

/// Reads telegrams from any byte source, through a [`Framer`].
pub struct TelegramReader<R> {
    port: String,
    inner: R,
    framer: Framer,
    /// Results of the last read not yet handed out.
    ready: VecDeque<Result<Telegram, DsmrError>>,
    /// Set once the source has ended and the framer's last word was taken.
    ended: bool,
}

impl<R> fmt::Debug for TelegramReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramReader")
            .field("port", &self.port)
            .field("buffered_len", &self.framer.buffered_len())
            .field("ready", &self.ready.len())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl<R: AsyncRead + Unpin> TelegramReader<R> {
    /// A reader of `inner`, named `port` in its errors.
    pub fn new(port: impl Into<String>, inner: R) -> Self {
        TelegramReader {
            port: port.into(),
            inner,
            framer: Framer::new(),
            ready: VecDeque::new(),
            ended: false,
        }
    }

    /// The port's name, as errors give it.
    pub fn port(&self) -> &str {
        &self.port
    }

    /// The next telegram, or the next refused telegram or discarded stretch of the stream
    /// (the reader carries on after those); `None` once the source has ended. An I/O error
    /// is returned as it happens; the caller decides whether to reopen the port.
    pub async fn next_telegram(&mut self) -> Option<Result<Telegram, ReadError>> {
        let mut chunk = [0u8; READ_CHUNK_BYTES];
        loop {
            if let Some(result) = self.ready.pop_front() {
                return Some(result.map_err(|source| ReadError::Telegram {
                    port: self.port.clone(),
                    source,
                }));
            }
            if self.ended {
                return None;
            }
            match self.inner.read(&mut chunk).await {
                Ok(0) => {
                    self.ended = true;
                    self.ready.extend(self.framer.finish());
                }
                Ok(len) => self.ready.extend(self.framer.push(&chunk[..len])),
                Err(source) => {
                    return Some(Err(ReadError::Io {
                        port: self.port.clone(),
                        source,
                    }));
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "io_tests.rs"]
mod tests;
