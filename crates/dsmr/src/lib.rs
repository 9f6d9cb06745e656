#![doc = include_str!("../README.md")]

mod crc;
mod error;
mod framer;
#[cfg(feature = "io")]
mod io;
mod lines;
mod parser;
mod telegram;
mod timestamp;
mod value;

pub use crc::crc16;
pub use error::DsmrError;
pub use framer::{Framer, MAX_TELEGRAM_BYTES};
#[cfg(feature = "io")]
pub use io::{OpenError, P1Stream, PortSpec, ReadError, SerialFraming, TelegramReader, open};
pub use parser::parse;
pub use telegram::{MbusChannel, MbusReading, PeakDemand, PhaseReadings, PowerFailure, Telegram};
pub use timestamp::{DsmrTimestamp, Dst, TimestampError};
pub use value::ValueError;
