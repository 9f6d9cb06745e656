//! One Modbus TCP connection's requests and answers, without the socket: bytes in,
//! response bytes out. The server's connection loop is a thin shell around it, and the
//! fuzz target drives exactly this code with arbitrary bytes.
//!
//! Why not tokio-modbus's server: its request decoder (0.17.0, `codec/mod.rs`) computes
//! `quantity * 2` in `u16` for functions 0x10 and 0x17, which panics on overflow in debug
//! and fuzz builds for a 13-byte frame any client can send, and its codec is private, so
//! a fuzz target could not reach it without sockets. A read-only server needs only the
//! MBAP header and functions 03 and 04, which take a few dozen lines here.
//!
//! Framing (Modbus Messaging on TCP/IP v1.0b): a 7-byte MBAP header (transaction id,
//! protocol id 0, length = unit id + PDU, unit id) and a PDU of at most 253 bytes. A
//! header that is not Modbus (protocol id ≠ 0, length outside 2..=254) cannot be resynced
//! on a byte stream, so it ends the connection; everything after a valid header gets an
//! answer. Every unit id is answered (and echoed): the meter is the only device behind
//! its address, and clients disagree on whether to send 0, 1 or 255.

use crate::exception::Exception;
use crate::sdm::sdm_input_registers;
use crate::snapshot::{Identity, Snapshot};
use crate::sunspec::sunspec_holding_registers;

/// Bytes of an MBAP header.
const HEADER_BYTES: usize = 7;
/// The largest MBAP length field: unit id plus a 253-byte PDU.
const MAX_LENGTH: u16 = 254;
/// Read Holding Registers: the SunSpec block.
const READ_HOLDING: u8 = 0x03;
/// Read Input Registers: the SDM630 map.
const READ_INPUT: u8 = 0x04;

/// Why a byte stream is not Modbus TCP (the connection is closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The MBAP protocol identifier is not 0.
    #[error("MBAP protocol identifier {0} is not Modbus (0)")]
    ProtocolId(u16),
    /// The MBAP length field cannot hold a unit id and a PDU of 1..=253 bytes.
    #[error("MBAP length {0} is outside 2..=254")]
    Length(u16),
}

/// What one call to [`Session::receive`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Received {
    /// Requests answered.
    pub requests: usize,
    /// Of those, answered with an exception.
    pub exceptions: usize,
}

/// The server side of one Modbus TCP connection.
#[derive(Debug, Default)]
pub struct Session {
    /// Bytes of a request not complete yet (never more than one frame).
    pending: Vec<u8>,
}

impl Session {
    /// A session with nothing received yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes bytes as they arrived and appends to `out` the answer to every request they
    /// complete, read from `snapshot` and `identity`. An error means the stream is not
    /// Modbus TCP: close the connection (`out` still holds the answers to the requests
    /// before the bad header).
    pub fn receive(
        &mut self,
        bytes: &[u8],
        snapshot: &Snapshot,
        identity: &Identity,
        out: &mut Vec<u8>,
    ) -> Result<Received, FrameError> {
        self.pending.extend_from_slice(bytes);
        let mut received = Received::default();
        let mut consumed = 0;
        let outcome = loop {
            match frame_length(&self.pending[consumed..]) {
                Ok(Some(length)) => {
                    let frame = &self.pending[consumed..consumed + length];
                    if answer(frame, snapshot, identity, out).is_some() {
                        received.exceptions += 1;
                    }
                    received.requests += 1;
                    consumed += length;
                }
                Ok(None) => break Ok(received),
                Err(error) => break Err(error),
            }
        };
        match outcome {
            Ok(_) => self.pending.drain(..consumed),
            Err(_) => self.pending.drain(..),
        };
        outcome
    }
}

/// The length of the complete frame at the start of `bytes`, `None` while incomplete.
fn frame_length(bytes: &[u8]) -> Result<Option<usize>, FrameError> {
    let (Some(protocol), Some(length)) = (be_u16(bytes, 2), be_u16(bytes, 4)) else {
        return Ok(None);
    };
    if protocol != 0 {
        return Err(FrameError::ProtocolId(protocol));
    }
    if !(2..=MAX_LENGTH).contains(&length) {
        return Err(FrameError::Length(length));
    }
    let total = HEADER_BYTES - 1 + usize::from(length);
    Ok((bytes.len() >= total).then_some(total))
}

fn be_u16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

/// Appends the response to one complete frame (header checked, PDU at least one byte);
/// returns the exception it answered with, if any.
fn answer(
    frame: &[u8],
    snapshot: &Snapshot,
    identity: &Identity,
    out: &mut Vec<u8>,
) -> Option<Exception> {
    let (header, pdu) = frame.split_at(HEADER_BYTES);
    let function = pdu.first().copied().unwrap_or_default();
    let result = match (function, pdu.get(1..)) {
        (READ_HOLDING | READ_INPUT, Some(&[start_hi, start_lo, count_hi, count_lo])) => {
            let start = u16::from_be_bytes([start_hi, start_lo]);
            let count = u16::from_be_bytes([count_hi, count_lo]);
            if function == READ_HOLDING {
                sunspec_holding_registers(snapshot, identity, start, count)
            } else {
                sdm_input_registers(snapshot, start, count)
            }
        }
        (READ_HOLDING | READ_INPUT, _) => Err(Exception::IllegalDataValue),
        _ => Err(Exception::IllegalFunction),
    };
    let body_start = out.len() + HEADER_BYTES - 1;
    out.extend_from_slice(&header[..2]);
    out.extend_from_slice(&[0, 0, 0, 0, header[6]]);
    let exception = match result {
        Ok(registers) => {
            // At most 125 registers: 250 bytes.
            let bytes = u8::try_from(registers.len() * 2).unwrap_or(u8::MAX);
            out.extend_from_slice(&[function, bytes]);
            out.extend(registers.iter().flat_map(|register| register.to_be_bytes()));
            None
        }
        Err(exception) => {
            out.extend_from_slice(&[function | 0x80, exception.code()]);
            Some(exception)
        }
    };
    let length = u16::try_from(out.len() - body_start).unwrap_or(u16::MAX);
    out[body_start - 2..body_start].copy_from_slice(&length.to_be_bytes());
    exception
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{identity, three_phase};
    use crate::sdm::float_words;
    use crate::sunspec::SUNSPEC_BASE;

    fn request(transaction: u16, unit: u8, pdu: &[u8]) -> Vec<u8> {
        let mut frame = transaction.to_be_bytes().to_vec();
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(&(pdu.len() as u16 + 1).to_be_bytes());
        frame.push(unit);
        frame.extend_from_slice(pdu);
        frame
    }

    fn read(function: u8, start: u16, count: u16) -> Vec<u8> {
        let mut pdu = vec![function];
        pdu.extend_from_slice(&start.to_be_bytes());
        pdu.extend_from_slice(&count.to_be_bytes());
        pdu
    }

    fn exchange(bytes: &[u8]) -> (Result<Received, FrameError>, Vec<u8>) {
        let mut out = Vec::new();
        let result = Session::new().receive(bytes, &three_phase(), &identity(), &mut out);
        (result, out)
    }

    #[test]
    fn an_input_register_read_answers_with_the_sdm_map() {
        let (result, out) = exchange(&request(0x1234, 7, &read(4, 0, 2)));
        assert_eq!(
            result,
            Ok(Received {
                requests: 1,
                exceptions: 0
            })
        );
        let [high, low] = float_words(230.0);
        let mut expected = vec![0x12, 0x34, 0, 0, 0, 7, 7, 4, 4];
        expected.extend_from_slice(&high.to_be_bytes());
        expected.extend_from_slice(&low.to_be_bytes());
        assert_eq!(out, expected);
    }

    #[test]
    fn a_holding_register_read_answers_with_sunspec() {
        let (_, out) = exchange(&request(1, 1, &read(3, SUNSPEC_BASE, 2)));
        assert_eq!(out, [0, 1, 0, 0, 0, 7, 1, 3, 4, 0x53, 0x75, 0x6E, 0x53]);
    }

    #[test]
    fn writes_and_unknown_functions_are_illegal_functions() {
        for pdu in [
            vec![0x06, 0, 0, 0, 1],
            vec![0x10, 0x00, 0x00, 0x80, 0x00, 0x00],
            vec![0x17, 0, 0, 0, 1, 0, 0, 0x80, 0, 0],
            vec![0x2B, 0x0E, 1, 0],
            vec![0x01, 0, 0, 0, 1],
            vec![0x85],
        ] {
            let (result, out) = exchange(&request(9, 1, &pdu));
            assert_eq!(result.map(|received| received.exceptions), Ok(1));
            assert_eq!(out, [0, 9, 0, 0, 0, 3, 1, pdu[0] | 0x80, 1], "{pdu:02x?}");
        }
    }

    #[test]
    fn reads_outside_the_maps_and_malformed_reads_are_exceptions() {
        let cases = [
            (read(4, 40000, 2), 0x84, 2),
            (read(3, 0, 2), 0x83, 2),
            (read(4, 0, 126), 0x84, 3),
            (read(3, SUNSPEC_BASE, 0), 0x83, 3),
            (vec![4, 0, 0, 0], 0x84, 3),
            (vec![3, 0, 0, 0, 1, 0], 0x83, 3),
        ];
        for (pdu, function, code) in cases {
            let (_, out) = exchange(&request(2, 1, &pdu));
            assert_eq!(out, [0, 2, 0, 0, 0, 3, 1, function, code], "{pdu:02x?}");
        }
    }

    #[test]
    fn requests_split_anywhere_and_pipelined_are_answered_in_order() {
        let mut stream = request(1, 1, &read(4, 0, 2));
        stream.extend(request(2, 1, &read(3, SUNSPEC_BASE, 1)));
        stream.extend(request(3, 1, &[0x06, 0, 0, 0, 1]));
        let (_, whole) = exchange(&stream);
        for split in 0..stream.len() {
            let mut session = Session::new();
            let mut out = Vec::new();
            let (snapshot, identity) = (three_phase(), identity());
            let first = session.receive(&stream[..split], &snapshot, &identity, &mut out);
            let second = session.receive(&stream[split..], &snapshot, &identity, &mut out);
            let total = first.expect("valid").requests + second.expect("valid").requests;
            assert_eq!(total, 3);
            assert_eq!(out, whole, "split at {split}");
        }
        assert_eq!(&whole[..2], &[0, 1]);
        assert_eq!(&whole[whole.len() - 9..whole.len() - 7], &[0, 3]);
    }

    #[test]
    fn a_header_that_is_not_modbus_ends_the_session() {
        let mut stream = request(1, 1, &read(4, 0, 2));
        stream.extend_from_slice(&[0, 2, 0, 1, 0, 6, 1, 4, 0, 0, 0, 2]);
        let (result, out) = exchange(&stream);
        assert_eq!(result, Err(FrameError::ProtocolId(1)));
        assert_eq!(out.len(), 13, "the valid request before it is answered");
        assert_eq!(
            exchange(&[0, 1, 0, 0, 0, 1, 1]).0,
            Err(FrameError::Length(1))
        );
        assert_eq!(exchange(&[0, 1, 0, 0, 0, 0]).0, Err(FrameError::Length(0)));
        assert_eq!(
            exchange(&[0, 1, 0, 0, 1, 0]).0,
            Err(FrameError::Length(256))
        );
        assert_eq!(
            exchange(&[0, 1, 0, 0, 0]).0,
            Ok(Received::default()),
            "incomplete"
        );
    }

    #[test]
    fn the_largest_read_fits_the_largest_response() {
        let (_, out) = exchange(&request(1, 1, &read(4, 0, 125)));
        assert_eq!(out.len(), 7 + 2 + 250);
        assert_eq!(u16::from_be_bytes([out[4], out[5]]), 253);
        assert_eq!(out[8], 250);
    }
}
