//! Unit tests of the framer: chunking, garbage, cut-off and oversized telegrams.

use super::*;

const DSMR22: &[u8] = include_bytes!("../tests/telegrams/dsmr22.txt");
const DSMR4: &[u8] = include_bytes!("../tests/telegrams/dsmr4.txt");
const DSMR5: &[u8] = include_bytes!("../tests/telegrams/dsmr5.txt");
const FLUVIUS: &[u8] = include_bytes!("../tests/telegrams/fluvius.txt");

/// A small deterministic generator (xorshift), so chunkings vary but failures reproduce.
struct Chunker(u64);

impl Chunker {
    fn next_len(&mut self, max: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        1 + (self.0 % max as u64) as usize
    }

    fn push_all(&mut self, framer: &mut Framer, stream: &[u8]) -> Vec<Result<Telegram, DsmrError>> {
        let mut out = Vec::new();
        let mut rest = stream;
        while !rest.is_empty() {
            let len = self.next_len(300).min(rest.len());
            out.extend(framer.push(&rest[..len]));
            rest = &rest[len..];
        }
        out
    }
}

fn parsed(fixture: &[u8]) -> Telegram {
    parse(fixture).expect("fixture parses")
}

#[test]
fn telegrams_come_out_whole_whatever_the_chunking() {
    let mut stream = Vec::new();
    for fixture in [DSMR5, DSMR4, DSMR22, FLUVIUS] {
        stream.extend_from_slice(fixture);
    }
    let expected: Vec<_> = [DSMR5, DSMR4, DSMR22, FLUVIUS]
        .map(|f| Ok(parsed(f)))
        .into();
    for seed in 1..200 {
        let mut framer = Framer::new();
        let out = Chunker(seed).push_all(&mut framer, &stream);
        assert_eq!(out, expected, "seed {seed}");
        assert_eq!(framer.buffered_len(), 0);
        assert_eq!(framer.finish(), None);
    }
    let mut byte_by_byte = Framer::new();
    let out: Vec<_> = stream
        .iter()
        .flat_map(|b| byte_by_byte.push(&[*b]))
        .collect();
    assert_eq!(out, expected);
}

#[test]
fn garbage_between_telegrams_is_reported_and_skipped() {
    let mut stream = b"\x00\xFFnoise!1234".to_vec();
    stream.extend_from_slice(DSMR5);
    stream.extend_from_slice(b"\r\n\r\n");
    stream.extend_from_slice(b"more noise");
    stream.extend_from_slice(DSMR4);
    for seed in 1..50 {
        let mut framer = Framer::new();
        let out = Chunker(seed).push_all(&mut framer, &stream);
        assert_eq!(
            out,
            [
                Err(DsmrError::Garbage { skipped_bytes: 11 }),
                Ok(parsed(DSMR5)),
                Err(DsmrError::Garbage { skipped_bytes: 9 }),
                Ok(parsed(DSMR4)),
            ],
            "seed {seed}"
        );
    }
}

#[test]
fn joining_a_stream_halfway_skips_to_the_next_header() {
    let mut stream = DSMR5[400..].to_vec();
    stream.extend_from_slice(DSMR5);
    let mut framer = Framer::new();
    let out = framer.push(&stream);
    assert_eq!(out.len(), 2);
    assert!(
        matches!(out[0], Err(DsmrError::Garbage { .. })),
        "{:?}",
        out[0]
    );
    assert_eq!(out[1], Ok(parsed(DSMR5)));
}

#[test]
fn a_telegram_cut_off_by_the_next_header_is_reported_and_the_next_one_read() {
    let mut stream = DSMR4[..300].to_vec();
    stream.extend_from_slice(DSMR5);
    let out = Framer::new().push(&stream);
    assert_eq!(
        out,
        [
            Err(DsmrError::Interrupted {
                received_bytes: 300
            }),
            Ok(parsed(DSMR5))
        ]
    );
}

#[test]
fn a_corrupt_telegram_is_an_error_and_the_stream_goes_on() {
    let mut corrupt = DSMR5.to_vec();
    corrupt[100] ^= 0x01;
    let mut stream = corrupt;
    stream.extend_from_slice(DSMR4);
    let out = Framer::new().push(&stream);
    assert!(
        matches!(out[0], Err(DsmrError::CrcMismatch { .. })),
        "{:?}",
        out[0]
    );
    assert_eq!(out[1], Ok(parsed(DSMR4)));
}

#[test]
fn an_oversized_telegram_is_dropped_and_memory_stays_bounded() {
    let mut stream = b"/ABC5 endless\r\n".to_vec();
    while stream.len() < 3 * MAX_TELEGRAM_BYTES {
        stream.extend_from_slice(b"0-0:96.13.0(4142434445464748)\r\n");
    }
    stream.extend_from_slice(b"!\r\n");
    stream.extend_from_slice(DSMR5);
    let mut framer = Framer::new();
    let mut out = Vec::new();
    for chunk in stream.chunks(100) {
        out.extend(framer.push(chunk));
        assert!(framer.buffered_len() <= MAX_TELEGRAM_BYTES);
    }
    assert_eq!(
        out,
        [
            Err(DsmrError::TooLong {
                limit_bytes: MAX_TELEGRAM_BYTES
            }),
            Ok(parsed(DSMR5))
        ]
    );
}

#[test]
fn endless_garbage_is_reported_in_bounded_pieces() {
    let mut framer = Framer::new();
    let noise = vec![b'x'; 5 * MAX_TELEGRAM_BYTES + 10];
    let out = framer.push(&noise);
    assert_eq!(
        out,
        vec![
            Err(DsmrError::Garbage {
                skipped_bytes: MAX_TELEGRAM_BYTES
            });
            5
        ]
    );
    assert_eq!(framer.buffered_len(), 0);
    assert_eq!(
        framer.finish(),
        Some(Err(DsmrError::Garbage { skipped_bytes: 10 }))
    );
}

#[test]
fn a_legacy_telegram_ends_at_its_bare_bang() {
    // DSMR 2.2/3 write `!` and a line end; the telegram is complete at the line end, and a
    // header right after the `!` works as well.
    let bang = DSMR22.iter().position(|&b| b == b'!').expect("!");
    let mut stream = DSMR22[..=bang].to_vec();
    stream.extend_from_slice(DSMR22);
    let out = Framer::new().push(&stream);
    assert_eq!(out, [Ok(parsed(DSMR22)), Ok(parsed(DSMR22))]);
}

#[test]
fn finish_completes_or_reports_what_is_left() {
    let bang = DSMR22.iter().position(|&b| b == b'!').expect("!");
    let mut framer = Framer::new();
    assert!(
        framer.push(&DSMR22[..=bang]).is_empty(),
        "CRC digits could still follow"
    );
    assert_eq!(framer.finish(), Some(Ok(parsed(DSMR22))));
    assert!(framer.push(&DSMR5[..500]).is_empty());
    assert_eq!(
        framer.finish(),
        Some(Err(DsmrError::Truncated { len_bytes: 500 }))
    );
    assert_eq!(framer.finish(), None);
    assert_eq!(framer.push(DSMR5), [Ok(parsed(DSMR5))]);
}
