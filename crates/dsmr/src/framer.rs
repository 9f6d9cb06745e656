//! Cutting a byte stream into telegrams: a serial port or TCP gateway delivers bytes in
//! whatever chunks the driver likes, starts wherever the meter happened to be, and sometimes
//! drops or garbles bytes.
//!
//! The framer waits for a `/`, collects up to the `!` and its CRC, and hands the telegram to
//! [`parse`]. A `/` always starts a new telegram (none occurs inside one), so after garbage
//! or a cut-off telegram it is back in step at the next header. Memory is bounded: a
//! telegram longer than [`MAX_TELEGRAM_BYTES`] is dropped with an error, and bytes outside a
//! telegram are counted, never stored.

use crate::error::DsmrError;
use crate::parser::parse;
use crate::telegram::Telegram;

/// The longest telegram the framer keeps, from `/` through the CRC. Real telegrams are 0.5
/// to 2 KiB (a full 1024-character text message, hex-encoded, adds 2 KiB).
pub const MAX_TELEGRAM_BYTES: usize = 8 * 1024;

/// Where the framer is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Outside a telegram, waiting for `/`. `quiet` after a too-long telegram, whose tail is
    /// part of the error already reported rather than fresh garbage.
    Hunting { quiet: bool },
    /// Inside a telegram, before its `!`.
    Body,
    /// After the `!`, collecting up to four CRC digits.
    Crc { digits: u8 },
}

/// Turns a byte stream, pushed in chunks of any size, into telegrams.
///
/// ```
/// let mut framer = joule_dsmr::Framer::new();
/// let stream = b"1-0:1.8.1(000001.000*kWh)\r\n!\r\n/ISk5\\2MT382-1000\r\n\r\n\
///                1-0:1.8.1(000123.456*kWh)\r\n!\r\n";
/// let mut telegrams = Vec::new();
/// for chunk in stream.chunks(7) {
///     telegrams.extend(framer.push(chunk));
/// }
/// // The tail of a telegram joined halfway is reported, then the next one is read.
/// assert!(matches!(telegrams[0], Err(joule_dsmr::DsmrError::Garbage { .. })));
/// assert_eq!(telegrams[1].as_ref().map(|t| t.import_tariff1_wh), Ok(Some(123_456)));
/// ```
#[derive(Debug, Clone)]
pub struct Framer {
    /// The telegram being collected, from its `/`.
    buf: Vec<u8>,
    state: State,
    /// Non-blank bytes skipped since the last telegram or garbage report.
    skipped_bytes: usize,
}

impl Default for Framer {
    fn default() -> Self {
        Framer::new()
    }
}

impl Framer {
    /// A framer waiting for the first `/`.
    pub fn new() -> Self {
        Framer {
            buf: Vec::with_capacity(MAX_TELEGRAM_BYTES),
            state: State::Hunting { quiet: false },
            skipped_bytes: 0,
        }
    }

    /// Feeds the next chunk of the stream and returns, in stream order, every telegram it
    /// completed and every stretch of the stream it discarded. A telegram split across
    /// chunks comes out of the push that completes it.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Result<Telegram, DsmrError>> {
        let mut out = Vec::new();
        let mut rest = chunk;
        while let Some((&byte, tail)) = rest.split_first() {
            if self.state == State::Body {
                // Inside a telegram only `/` and `!` change anything: copy up to the next
                // one (or up to the limit) in one go rather than byte by byte.
                let run = rest
                    .iter()
                    .position(|&b| b == b'/' || b == b'!')
                    .unwrap_or(rest.len());
                let take = run.min(MAX_TELEGRAM_BYTES.saturating_sub(self.buf.len()));
                if take > 0 {
                    self.buf.extend_from_slice(&rest[..take]);
                    rest = &rest[take..];
                    continue;
                }
            }
            self.feed(byte, &mut out);
            rest = tail;
        }
        out
    }

    /// Ends the stream (the port closed): a telegram whose `!` arrived is parsed as it
    /// stands, one without its `!` is reported truncated, and skipped bytes are reported.
    /// The framer is then ready for a new stream.
    pub fn finish(&mut self) -> Option<Result<Telegram, DsmrError>> {
        let last = match self.state {
            State::Crc { .. } => Some(parse(&self.buf)),
            State::Body => Some(Err(DsmrError::Truncated {
                len_bytes: self.buf.len(),
            })),
            State::Hunting { .. } if self.skipped_bytes > 0 => Some(Err(DsmrError::Garbage {
                skipped_bytes: self.skipped_bytes,
            })),
            State::Hunting { .. } => None,
        };
        self.buf.clear();
        self.skipped_bytes = 0;
        self.state = State::Hunting { quiet: false };
        last
    }

    /// Bytes of the current, incomplete telegram held; never more than
    /// [`MAX_TELEGRAM_BYTES`].
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    fn feed(&mut self, byte: u8, out: &mut Vec<Result<Telegram, DsmrError>>) {
        match self.state {
            State::Hunting { quiet } => self.hunt(byte, quiet, out),
            State::Body => match byte {
                b'/' => {
                    out.push(Err(DsmrError::Interrupted {
                        received_bytes: self.buf.len(),
                    }));
                    self.start();
                }
                b'!' => {
                    self.keep(byte, out);
                    if self.state == State::Body {
                        self.state = State::Crc { digits: 0 };
                    }
                }
                _ => self.keep(byte, out),
            },
            State::Crc { digits } if byte.is_ascii_hexdigit() => {
                self.keep(byte, out);
                if self.state == (State::Crc { digits }) {
                    if digits + 1 == 4 {
                        self.complete(out);
                    } else {
                        self.state = State::Crc { digits: digits + 1 };
                    }
                }
            }
            State::Crc { .. } => {
                // No (more) CRC digits: DSMR 2.2/3 `!` alone, or a short field that the
                // parser will refuse. Either way the telegram ends here and the byte is
                // outside it.
                self.complete(out);
                self.hunt(byte, false, out);
            }
        }
    }

    /// A byte outside any telegram.
    fn hunt(&mut self, byte: u8, quiet: bool, out: &mut Vec<Result<Telegram, DsmrError>>) {
        match byte {
            b'/' => {
                if self.skipped_bytes > 0 {
                    out.push(Err(DsmrError::Garbage {
                        skipped_bytes: self.skipped_bytes,
                    }));
                }
                self.start();
            }
            b'\r' | b'\n' | b' ' | b'\t' | 0 => {}
            _ if quiet => {}
            _ => {
                self.skipped_bytes += 1;
                if self.skipped_bytes >= MAX_TELEGRAM_BYTES {
                    out.push(Err(DsmrError::Garbage {
                        skipped_bytes: self.skipped_bytes,
                    }));
                    self.skipped_bytes = 0;
                }
            }
        }
    }

    /// Begins a telegram at a `/`.
    fn start(&mut self) {
        self.skipped_bytes = 0;
        self.buf.clear();
        self.buf.push(b'/');
        self.state = State::Body;
    }

    /// Adds a byte to the current telegram, or drops the telegram when it outgrows the limit.
    fn keep(&mut self, byte: u8, out: &mut Vec<Result<Telegram, DsmrError>>) {
        if self.buf.len() >= MAX_TELEGRAM_BYTES {
            out.push(Err(DsmrError::TooLong {
                limit_bytes: MAX_TELEGRAM_BYTES,
            }));
            self.buf.clear();
            self.state = State::Hunting { quiet: true };
        } else {
            self.buf.push(byte);
        }
    }

    /// Parses the collected telegram and goes back to waiting for `/`.
    fn complete(&mut self, out: &mut Vec<Result<Telegram, DsmrError>>) {
        out.push(parse(&self.buf));
        self.buf.clear();
        self.state = State::Hunting { quiet: false };
    }
}

#[cfg(test)]
#[path = "framer_tests.rs"]
mod tests;
