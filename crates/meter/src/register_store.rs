//! A crash-safe home for the meter's registers: two slots, each a whole record with a
//! sequence number and a CRC, written alternately and fsynced.
//!
//! A power cut or `kill -9` can tear at most the slot being written; the other slot still
//! holds the previous good record, so the last good state is always readable. On open,
//! both slots are checked and the valid one with the higher sequence wins; a slot that is
//! present but bad is reported (the caller raises a `register_store` event) and is simply
//! the next one overwritten. The store does not know what the payload means: the agent's
//! state is serialised by [`crate::state`]. Each record carries the running write count,
//! so a flash wear budget can be checked against it.
//!
//! Slot layout (little-endian): magic `JREG`, format `u16`, reserved `u16`, sequence `u64`,
//! written at (Unix ms) `i64`, write count `u64`, payload length `u32`, payload, CRC-32
//! (IEEE) of everything before it.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"JREG";
const FORMAT: u16 = 1;
const HEADER_BYTES: usize = 4 + 2 + 2 + 8 + 8 + 8 + 4;
/// Largest payload a slot holds (the agent's state is a few KiB).
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;
const SLOT_NAMES: [&str; 2] = ["registers.a", "registers.b"];

/// Why the register store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file operation failed.
    #[error("register store {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The payload is larger than a slot takes.
    #[error("register state of {0} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte slot")]
    TooLarge(usize),
}

/// A good record read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Sequence number of the write (grows by one per save).
    pub seq: u64,
    /// When it was written, Unix ms.
    pub written_ms: i64,
    /// Saves over the store's life, this one included.
    pub writes: u64,
    /// What was saved.
    pub payload: Vec<u8>,
}

/// A slot that exists but does not hold a good record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadSlot {
    /// The slot's file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: String,
}

/// The two-slot store.
#[derive(Debug)]
pub struct RegisterStore {
    dir: PathBuf,
    /// Sequence of the newest good record (0 when there is none).
    seq: u64,
    /// Slot holding the newest good record.
    newest_slot: usize,
    writes: u64,
}

impl RegisterStore {
    /// Opens the store in `dir` (created if missing): the newest good record, if any, and
    /// the slots found bad.
    pub fn open(dir: &Path) -> Result<(Self, Option<Record>, Vec<BadSlot>), StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| io(dir, source))?;
        let mut best: Option<(usize, Record)> = None;
        let mut bad = Vec::new();
        for (slot, name) in SLOT_NAMES.iter().enumerate() {
            let path = dir.join(name);
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(io(&path, source)),
            };
            if bytes.is_empty() {
                continue;
            }
            match decode(&bytes) {
                Ok(record) => {
                    if best.as_ref().is_none_or(|(_, b)| record.seq > b.seq) {
                        best = Some((slot, record));
                    }
                }
                Err(problem) => bad.push(BadSlot { path, problem }),
            }
        }
        let (newest_slot, seq, writes) = best
            .as_ref()
            .map_or((1, 0, 0), |(slot, r)| (*slot, r.seq, r.writes));
        let store = Self {
            dir: dir.to_path_buf(),
            seq,
            newest_slot,
            writes,
        };
        Ok((store, best.map(|(_, record)| record), bad))
    }

    /// Saves `payload` durably into the slot not holding the newest record: written in
    /// full, then fsynced (and the directory too when the file is new).
    pub fn save(&mut self, payload: &[u8], now_ms: i64) -> Result<(), StoreError> {
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Err(StoreError::TooLarge(payload.len()));
        }
        let slot = 1 - self.newest_slot;
        let path = self.dir.join(SLOT_NAMES[slot]);
        let record = encode(self.seq + 1, now_ms, self.writes + 1, payload);
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| io(&path, source))?;
        file.write_all(&record)
            .and_then(|()| file.set_len(record.len() as u64))
            .and_then(|()| file.sync_all())
            .map_err(|source| io(&path, source))?;
        if !existed {
            sync_dir(&self.dir)?;
        }
        self.seq += 1;
        self.writes += 1;
        self.newest_slot = slot;
        Ok(())
    }

    /// Saves over the store's life.
    pub fn writes(&self) -> u64 {
        self.writes
    }

    /// The slot files, for tests and tools that inspect them.
    pub fn slot_paths(&self) -> [PathBuf; 2] {
        SLOT_NAMES.map(|name| self.dir.join(name))
    }
}

fn io(path: &Path, source: std::io::Error) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Makes a new file's directory entry durable.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|file| file.sync_all())
        .map_err(|source| io(dir, source))
}

fn encode(seq: u64, written_ms: i64, writes: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_BYTES + payload.len() + 4);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&written_ms.to_le_bytes());
    out.extend_from_slice(&writes.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

fn decode(bytes: &[u8]) -> Result<Record, String> {
    let mut reader = bytes;
    let mut take = |n: usize| -> Result<&[u8], String> {
        if reader.len() < n {
            return Err(format!("truncated: {} bytes", bytes.len()));
        }
        let (head, rest) = reader.split_at(n);
        reader = rest;
        Ok(head)
    };
    if take(4)? != MAGIC {
        return Err("not a register record (bad magic)".into());
    }
    let format = u16::from_le_bytes(array(take(2)?));
    if format != FORMAT {
        return Err(format!("record format {format} is not {FORMAT}"));
    }
    take(2)?;
    let seq = u64::from_le_bytes(array(take(8)?));
    let written_ms = i64::from_le_bytes(array(take(8)?));
    let writes = u64::from_le_bytes(array(take(8)?));
    let length = u32::from_le_bytes(array(take(4)?)) as usize;
    if length > MAX_PAYLOAD_BYTES {
        return Err(format!("payload length {length} is out of range"));
    }
    let payload = take(length)?.to_vec();
    let stored_crc = u32::from_le_bytes(array(take(4)?));
    let crc = crc32fast::hash(&bytes[..HEADER_BYTES + length]);
    if crc != stored_crc {
        return Err(format!(
            "CRC mismatch: stored {stored_crc:08x}, computed {crc:08x}"
        ));
    }
    Ok(Record {
        seq,
        written_ms,
        writes,
        payload,
    })
}

fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(bytes);
    out
}

/// Reads a slot file whole (for tests that damage slots on purpose).
pub fn read_slot(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reopen(dir: &Path) -> (RegisterStore, Option<Record>, Vec<BadSlot>) {
        RegisterStore::open(dir).unwrap()
    }

    #[test]
    fn saves_alternate_and_the_newest_wins() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, record, bad) = reopen(dir.path());
        assert!(record.is_none() && bad.is_empty());
        for k in 1..=5u8 {
            store.save(&[k; 10], i64::from(k)).unwrap();
        }
        let (store, record, bad) = reopen(dir.path());
        let record = record.unwrap();
        assert_eq!(
            (record.seq, record.writes, record.payload),
            (5, 5, vec![5; 10])
        );
        assert!(bad.is_empty());
        assert_eq!(store.writes(), 5);
    }

    #[test]
    fn a_torn_write_leaves_the_previous_record() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, _, _) = reopen(dir.path());
        store.save(b"first state", 1).unwrap();
        store.save(b"second state", 2).unwrap();
        // The third save goes to slot a; tear it at every possible length.
        let full = encode(3, 3, 3, b"third state, longer than the others");
        let slot_a = store.slot_paths()[0].clone();
        for cut in 0..full.len() {
            std::fs::write(&slot_a, &full[..cut]).unwrap();
            let (_, record, bad) = reopen(dir.path());
            assert_eq!(record.unwrap().payload, b"second state", "cut at {cut}");
            assert_eq!(bad.len(), usize::from(cut > 0), "cut at {cut}");
        }
        std::fs::write(&slot_a, &full).unwrap();
        assert_eq!(reopen(dir.path()).1.unwrap().seq, 3);
    }

    proptest! {
        #[test]
        fn any_bit_flip_is_caught_and_the_other_slot_used(byte in 0usize..60, bit in 0u8..8) {
            let dir = tempfile::tempdir().unwrap();
            let (mut store, _, _) = reopen(dir.path());
            store.save(b"older", 1).unwrap();
            store.save(b"newer registers", 2).unwrap();
            let newest = store.slot_paths()[1].clone();
            let mut bytes = read_slot(&newest).unwrap();
            let index = byte % bytes.len();
            bytes[index] ^= 1 << bit;
            std::fs::write(&newest, &bytes).unwrap();
            let (mut store, record, bad) = reopen(dir.path());
            prop_assert_eq!(record.unwrap().payload, b"older".to_vec());
            prop_assert_eq!(bad.len(), 1);
            // The damaged slot is the next one written, and the store carries on.
            store.save(b"after", 3).unwrap();
            let (_, record, bad) = reopen(dir.path());
            let record = record.unwrap();
            prop_assert_eq!((record.seq, record.payload), (2, b"after".to_vec()));
            prop_assert!(bad.is_empty());
        }
    }
}
