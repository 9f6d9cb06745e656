//! A block's bytes: records turned into numeric columns, each compressed with `pco`.
//!
//! Time series of one meter compress well column by column (timestamps step evenly,
//! registers only grow, voltage wanders slowly), and badly row by row. `pco` finds the
//! delta order and any common float multiple of each column by itself and is lossless for
//! every bit of an `f64`, so a column reads back exactly as written. The layout:
//!
//! ```text
//! version u8 = 1 · record count u32 · column count u8 · per column: type u8, length u32, bytes
//! ```
//!
//! A column's bytes are pco's, or, when every value is the same (a register that never
//! moves, a relay that stayed connected, the count of a sparse rollup), the value count
//! and the one value: pco's headers would cost more than the column. All integers
//! little-endian. Columns are read back in the order they were written; the
//! record codecs (`records.rs`) name them in one place for both directions.

use crate::StoreError;

/// The block format this build writes and reads.
const FORMAT_VERSION: u8 = 1;

/// One column's values.
#[derive(Debug, Clone, PartialEq)]
enum Column {
    Signed(Vec<i64>),
    Unsigned(Vec<u64>),
    Float(Vec<f64>),
}

impl Column {
    const SIGNED: u8 = 0;
    const UNSIGNED: u8 = 1;
    const FLOAT: u8 = 2;
    /// Added to a type code when the column is one value repeated.
    const CONSTANT: u8 = 0x10;

    fn type_code(&self) -> u8 {
        let code = match self {
            Self::Signed(_) => Self::SIGNED,
            Self::Unsigned(_) => Self::UNSIGNED,
            Self::Float(_) => Self::FLOAT,
        };
        if self.constant().is_some() {
            code | Self::CONSTANT
        } else {
            code
        }
    }

    /// The values' bits when there are at least two and all are the same.
    fn constant(&self) -> Option<u64> {
        fn same<T: Copy>(values: &[T], bits: impl Fn(T) -> u64) -> Option<u64> {
            let first = bits(*values.first()?);
            (values.len() > 1 && values.iter().all(|&v| bits(v) == first)).then_some(first)
        }
        match self {
            Self::Signed(values) => same(values, |v| v as u64),
            Self::Unsigned(values) => same(values, |v| v),
            Self::Float(values) => same(values, f64::to_bits),
        }
    }

    fn len(&self) -> usize {
        match self {
            Self::Signed(values) => values.len(),
            Self::Unsigned(values) => values.len(),
            Self::Float(values) => values.len(),
        }
    }

    fn compress(&self) -> Result<Vec<u8>, StoreError> {
        if let Some(bits) = self.constant() {
            let mut bytes = length(self.len())?.to_le_bytes().to_vec();
            bytes.extend_from_slice(&bits.to_le_bytes());
            return Ok(bytes);
        }
        let config = pco::ChunkConfig::default();
        let compressed = match self {
            Self::Signed(values) if values.is_empty() => return Ok(Vec::new()),
            Self::Unsigned(values) if values.is_empty() => return Ok(Vec::new()),
            Self::Float(values) if values.is_empty() => return Ok(Vec::new()),
            Self::Signed(values) => pco::standalone::simple_compress(values, &config),
            Self::Unsigned(values) => pco::standalone::simple_compress(values, &config),
            Self::Float(values) => pco::standalone::simple_compress(values, &config),
        };
        compressed.map_err(|error| StoreError::Corrupt {
            what: "compacted block",
            detail: format!("a column does not compress: {error}"),
        })
    }
}

/// Columns being written: push one column per field, in a fixed order.
#[derive(Debug, Default)]
pub(crate) struct ColumnWriter {
    count: usize,
    columns: Vec<Column>,
}

impl ColumnWriter {
    /// Columns for `count` records (optional and repeated fields may hold more or fewer
    /// values; their count columns say how many).
    pub(super) fn new(count: usize) -> Self {
        Self {
            count,
            columns: Vec::new(),
        }
    }

    /// Adds a column of signed integers.
    pub(super) fn signed(&mut self, values: impl IntoIterator<Item = i64>) {
        self.columns
            .push(Column::Signed(values.into_iter().collect()));
    }

    /// Adds a column of unsigned integers.
    pub(super) fn unsigned(&mut self, values: impl IntoIterator<Item = u64>) {
        self.columns
            .push(Column::Unsigned(values.into_iter().collect()));
    }

    /// Adds a column of floats (kept bit for bit).
    pub(super) fn float(&mut self, values: impl IntoIterator<Item = f64>) {
        self.columns
            .push(Column::Float(values.into_iter().collect()));
    }

    /// Adds an optional float as two columns: presence (0 or 1) per record, then the
    /// values of the records that have one.
    pub(super) fn optional_float(&mut self, values: impl IntoIterator<Item = Option<f64>> + Clone) {
        self.unsigned(values.clone().into_iter().map(|v| u64::from(v.is_some())));
        self.float(values.into_iter().flatten());
    }

    /// The block's bytes.
    pub(super) fn finish(self) -> Result<Vec<u8>, StoreError> {
        let mut bytes = vec![FORMAT_VERSION];
        bytes.extend_from_slice(&length(self.count)?.to_le_bytes());
        bytes.push(u8::try_from(self.columns.len()).map_err(|_| too_long("columns"))?);
        for column in &self.columns {
            let compressed = column.compress()?;
            bytes.push(column.type_code());
            bytes.extend_from_slice(&length(compressed.len())?.to_le_bytes());
            bytes.extend_from_slice(&compressed);
        }
        Ok(bytes)
    }
}

fn length(n: usize) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| too_long("block"))
}

fn too_long(what: &str) -> StoreError {
    StoreError::Corrupt {
        what: "compacted block",
        detail: format!("its {what} is too long"),
    }
}

fn damaged(detail: &str) -> StoreError {
    StoreError::Corrupt {
        what: "compacted block",
        detail: detail.to_owned(),
    }
}

/// Columns being read back, in the order they were written. A column is decompressed
/// only when it is read, so a reader that needs a few fields skips the others for free.
#[derive(Debug)]
pub(crate) struct ColumnReader<'a> {
    count: usize,
    /// Each column's type code and compressed bytes, the next one first.
    columns: std::vec::IntoIter<(u8, &'a [u8])>,
}

impl<'a> ColumnReader<'a> {
    /// Splits a block into its columns (checking the layout; the values are decompressed
    /// as they are read).
    pub(super) fn new(bytes: &'a [u8]) -> Result<Self, StoreError> {
        let mut rest = bytes;
        let version = take(&mut rest, 1)?[0];
        if version != FORMAT_VERSION {
            return Err(damaged(&format!("unknown format version {version}")));
        }
        let count = read_u32(&mut rest)? as usize;
        let column_count = take(&mut rest, 1)?[0];
        let mut columns = Vec::with_capacity(usize::from(column_count));
        for _ in 0..column_count {
            let type_code = take(&mut rest, 1)?[0];
            let length = read_u32(&mut rest)? as usize;
            columns.push((type_code, take(&mut rest, length)?));
        }
        if !rest.is_empty() {
            return Err(damaged("bytes after the last column"));
        }
        Ok(Self {
            count,
            columns: columns.into_iter(),
        })
    }

    /// How many records the block holds.
    pub(super) fn count(&self) -> usize {
        self.count
    }

    fn next(&mut self) -> Result<Column, StoreError> {
        let (type_code, compressed) = self
            .columns
            .next()
            .ok_or_else(|| damaged("a column is missing"))?;
        decompress(type_code, compressed)
    }

    /// Passes over the next `n` columns without decompressing them.
    pub(super) fn skip(&mut self, n: usize) -> Result<(), StoreError> {
        for _ in 0..n {
            self.columns
                .next()
                .ok_or_else(|| damaged("a column is missing"))?;
        }
        Ok(())
    }

    /// The next column, of signed integers.
    pub(super) fn signed(&mut self) -> Result<Vec<i64>, StoreError> {
        match self.next()? {
            Column::Signed(values) => Ok(values),
            _ => Err(damaged("a column has the wrong type")),
        }
    }

    /// The next column, of unsigned integers.
    pub(super) fn unsigned(&mut self) -> Result<Vec<u64>, StoreError> {
        match self.next()? {
            Column::Unsigned(values) => Ok(values),
            _ => Err(damaged("a column has the wrong type")),
        }
    }

    /// The next column, of floats.
    pub(super) fn float(&mut self) -> Result<Vec<f64>, StoreError> {
        match self.next()? {
            Column::Float(values) => Ok(values),
            _ => Err(damaged("a column has the wrong type")),
        }
    }

    /// The next optional float, written by [`ColumnWriter::optional_float`]: one per record.
    pub(super) fn optional_float(&mut self) -> Result<Vec<Option<f64>>, StoreError> {
        let present = self.unsigned()?;
        let mut values = self.float()?.into_iter();
        let optional: Vec<Option<f64>> = present
            .iter()
            .map(|&p| if p == 1 { values.next() } else { None })
            .collect();
        let expected = present.iter().filter(|&&p| p == 1).count();
        if optional.iter().flatten().count() != expected || values.next().is_some() {
            return Err(damaged(
                "an optional column's values do not match its presence",
            ));
        }
        Ok(optional)
    }

    /// Checks that a per-record column has one value per record.
    pub(super) fn per_record<T>(&self, values: Vec<T>) -> Result<Vec<T>, StoreError> {
        if values.len() == self.count {
            Ok(values)
        } else {
            Err(damaged("a column's length differs from the record count"))
        }
    }
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], StoreError> {
    if rest.len() < n {
        return Err(damaged("it ends early"));
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

fn read_u32(rest: &mut &[u8]) -> Result<u32, StoreError> {
    let bytes = take(rest, 4)?;
    Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn decompress(type_code: u8, compressed: &[u8]) -> Result<Column, StoreError> {
    if type_code & Column::CONSTANT != 0 {
        return constant(type_code & !Column::CONSTANT, compressed);
    }
    fn values<T: pco::data_types::Number>(compressed: &[u8]) -> Result<Vec<T>, StoreError> {
        if compressed.is_empty() {
            return Ok(Vec::new());
        }
        pco::standalone::simple_decompress(compressed)
            .map_err(|error| damaged(&format!("a column does not decompress: {error}")))
    }
    match type_code {
        Column::SIGNED => Ok(Column::Signed(values(compressed)?)),
        Column::UNSIGNED => Ok(Column::Unsigned(values(compressed)?)),
        Column::FLOAT => Ok(Column::Float(values(compressed)?)),
        other => Err(damaged(&format!("unknown column type {other}"))),
    }
}

/// A column of one value repeated: its count (u32) and the value's bits (u64).
fn constant(type_code: u8, mut bytes: &[u8]) -> Result<Column, StoreError> {
    let count = read_u32(&mut bytes)? as usize;
    let bits = take(&mut bytes, 8)?;
    if !bytes.is_empty() {
        return Err(damaged("bytes after a constant column"));
    }
    let bits = u64::from_le_bytes([
        bits[0], bits[1], bits[2], bits[3], bits[4], bits[5], bits[6], bits[7],
    ]);
    match type_code {
        Column::SIGNED => Ok(Column::Signed(vec![bits as i64; count])),
        Column::UNSIGNED => Ok(Column::Unsigned(vec![bits; count])),
        Column::FLOAT => Ok(Column::Float(vec![f64::from_bits(bits); count])),
        other => Err(damaged(&format!("unknown column type {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_read_back_bit_for_bit() {
        let mut writer = ColumnWriter::new(3);
        writer.signed([1_795_000_000_000, 1_795_000_900_000, -5]);
        writer.unsigned([u64::MAX, 0, 7]);
        writer.float([f64::NAN, -0.0, 230.123_456_789]);
        writer.optional_float([Some(1.5), None, Some(f64::INFINITY)]);
        writer.float([]);
        writer.unsigned([3; 500]);
        writer.float([-0.0; 7]);
        writer.signed([i64::MIN; 2]);
        writer.signed([4, 5, 6]);
        let bytes = writer.finish().expect("encode");
        let mut reader = ColumnReader::new(&bytes).expect("decode");
        assert_eq!(reader.count(), 3);
        assert_eq!(
            reader.signed().expect("signed"),
            [1_795_000_000_000, 1_795_000_900_000, -5]
        );
        assert_eq!(reader.unsigned().expect("unsigned"), [u64::MAX, 0, 7]);
        let floats = reader.float().expect("float");
        assert!(floats[0].is_nan());
        assert_eq!(floats[1].to_bits(), (-0.0_f64).to_bits());
        assert_eq!(floats[2], 230.123_456_789);
        assert_eq!(
            reader.optional_float().expect("optional"),
            [Some(1.5), None, Some(f64::INFINITY)]
        );
        assert!(reader.float().expect("empty").is_empty());
        assert_eq!(reader.unsigned().expect("constant"), [3; 500]);
        let zeros = reader.float().expect("constant float");
        assert!(zeros.len() == 7 && zeros.iter().all(|z| z.to_bits() == (-0.0_f64).to_bits()));
        assert_eq!(reader.signed().expect("constant signed"), [i64::MIN; 2]);
        reader.skip(1).expect("skips the last column");
        assert!(reader.float().is_err(), "no more columns");
        assert!(reader.skip(1).is_err(), "nothing to skip");
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        let mut writer = ColumnWriter::new(2);
        writer.signed([1, 2]);
        let bytes = writer.finish().expect("encode");
        for cut in 0..bytes.len() {
            assert!(ColumnReader::new(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        flipped[0] = 9;
        assert!(ColumnReader::new(&flipped).is_err());
    }
}
