//! Why a telegram, or a stretch of the byte stream, was refused.
//!
//! One type for the parser and the framer because the framer's results are parse results:
//! a caller reading a port handles one error type, and every variant carries what it needs
//! to be logged and counted on its own (the offending line, the CRCs, the byte counts).

use thiserror::Error;

use crate::value::ValueError;

/// The longest line excerpt an error carries, so that a corrupt multi-kilobyte telegram
/// does not end up whole in a log line.
const EXCERPT_CHARS: usize = 120;

/// A telegram the crate refused, or bytes of a stream it discarded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DsmrError {
    /// The input is empty.
    #[error("empty telegram")]
    Empty,
    /// The input does not begin with the `/` of a header line.
    #[error("telegram starts with byte {found:#04x}, not '/'")]
    NoHeader {
        /// The first byte.
        found: u8,
    },
    /// The header line is not `/XXXn` followed by an identification.
    #[error("header {header:?} is not /XXXn<identification>")]
    BadHeader {
        /// The header line (excerpt).
        header: String,
    },
    /// The input ends before the `!` line that closes a telegram.
    #[error("telegram truncated: no closing '!' in {len_bytes} bytes")]
    Truncated {
        /// Bytes received.
        len_bytes: usize,
    },
    /// What follows `!` is neither nothing (DSMR 2.2/3) nor four hex digits.
    #[error("checksum field {field:?} after '!' is not four hex digits")]
    BadCrcField {
        /// What follows the `!` (excerpt).
        field: String,
    },
    /// The CRC after `!` does not match the telegram's bytes.
    #[error("CRC mismatch: the telegram says {expected:04X}, its bytes give {computed:04X}")]
    CrcMismatch {
        /// The CRC written in the telegram.
        expected: u16,
        /// The CRC of the bytes received.
        computed: u16,
    },
    /// A telegram declares DSMR 4 or later (it has a version line) but no CRC.
    #[error("telegram of P1 version {version} has no CRC after '!'")]
    MissingCrc {
        /// The version as written.
        version: String,
    },
    /// A byte outside printable ASCII (CR and LF aside) inside the telegram.
    #[error("byte {byte:#04x} at offset {offset} is not printable ASCII")]
    NotAscii {
        /// Offset from the `/`.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// A `/` after the header: a new telegram began before this one ended.
    #[error("'/' at offset {offset}: a new telegram began before this one ended")]
    NestedHeader {
        /// Offset from the first `/`.
        offset: usize,
    },
    /// A line that is not `OBIS(value)(value)...`.
    #[error("line {line_no} {line:?}: {reason}")]
    BadLine {
        /// Line number in the telegram, the header being line 1.
        line_no: usize,
        /// The line (excerpt).
        line: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A line with a known OBIS code whose value is malformed.
    #[error("line {line_no} {line:?}: {source}")]
    BadValue {
        /// Line number in the telegram, the header being line 1.
        line_no: usize,
        /// The line (excerpt).
        line: String,
        /// What is wrong with the value.
        source: ValueError,
    },
    /// The framer met more than its limit of bytes without the telegram's end, and dropped
    /// them.
    #[error("telegram longer than {limit_bytes} bytes discarded")]
    TooLong {
        /// The framer's limit.
        limit_bytes: usize,
    },
    /// The framer skipped bytes outside any telegram (noise, or the tail of a telegram it
    /// joined halfway).
    #[error("{skipped_bytes} bytes outside any telegram discarded")]
    Garbage {
        /// Bytes skipped, CR, LF, spaces and NULs between telegrams not counted.
        skipped_bytes: usize,
    },
    /// A new telegram's `/` arrived before the current telegram's end: the current one was
    /// cut off and dropped.
    #[error("telegram cut off after {received_bytes} bytes by the start of the next one")]
    Interrupted {
        /// Bytes of the dropped telegram.
        received_bytes: usize,
    },
}

/// The first [`EXCERPT_CHARS`] characters of `text`, marked when cut.
pub(crate) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_their_context() {
        let crc = DsmrError::CrcMismatch {
            expected: 0x6796,
            computed: 0x0A1F,
        };
        assert_eq!(
            crc.to_string(),
            "CRC mismatch: the telegram says 6796, its bytes give 0A1F"
        );
        let value = DsmrError::BadValue {
            line_no: 5,
            line: "1-0:1.8.1(12*kW)".into(),
            source: ValueError::Unit {
                expected: "kWh or Wh",
                found: "kW".into(),
            },
        };
        assert_eq!(
            value.to_string(),
            "line 5 \"1-0:1.8.1(12*kW)\": unit \"kW\" where kWh or Wh was expected"
        );
    }

    #[test]
    fn excerpts_are_bounded() {
        assert_eq!(excerpt("short"), "short");
        let long = "x".repeat(1000);
        assert_eq!(excerpt(&long).len(), EXCERPT_CHARS + 3);
    }
}
