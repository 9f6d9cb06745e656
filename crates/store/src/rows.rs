//! One view of a result row for both backends, so each record is read from its columns
//! once (in the role's module) rather than once per database.
//!
//! The schemas keep the same values in both databases: integers are SQLite `INTEGER` and
//! PostgreSQL `BIGINT` (or `SMALLINT` for the two small ones), reals are `REAL` and
//! `DOUBLE PRECISION`, JSON and enum names are `TEXT`, flags are SQLite `INTEGER` 0/1 and
//! PostgreSQL `BOOLEAN`, bytes are `BLOB` and `BYTEA`. A getter fails as the driver does
//! (`StoreError::Database`, through the backend's `From` conversion); a value that reads
//! but cannot be what was written is `StoreError::Corrupt`, raised by the mappings.

use crate::StoreError;
use joule_protocol::MeterId;

/// A row a query returned, read column by column (0-based) with the type its schema holds.
pub(crate) trait ResultRow {
    /// An integer: `INTEGER` in SQLite, `BIGINT` in PostgreSQL.
    fn int(&self, column: usize) -> Result<i64, StoreError>;
    /// An integer that may be NULL.
    fn opt_int(&self, column: usize) -> Result<Option<i64>, StoreError>;
    /// A small integer: `INTEGER` in SQLite, `SMALLINT` in PostgreSQL (a reading's
    /// tariff, a bill's currency digits).
    fn small(&self, column: usize) -> Result<i16, StoreError>;
    /// A real: `REAL` in SQLite, `DOUBLE PRECISION` in PostgreSQL.
    fn real(&self, column: usize) -> Result<f64, StoreError>;
    /// A real that may be NULL.
    fn opt_real(&self, column: usize) -> Result<Option<f64>, StoreError>;
    /// Text (names, JSON, TOML).
    fn text(&self, column: usize) -> Result<String, StoreError>;
    /// Text that may be NULL.
    fn opt_text(&self, column: usize) -> Result<Option<String>, StoreError>;
    /// A flag: `INTEGER` (0 is false) in SQLite, `BOOLEAN` in PostgreSQL.
    fn flag(&self, column: usize) -> Result<bool, StoreError>;
    /// A flag that may be NULL.
    fn opt_flag(&self, column: usize) -> Result<Option<bool>, StoreError>;
    /// Bytes: `BLOB` in SQLite, `BYTEA` in PostgreSQL.
    fn bytes(&self, column: usize) -> Result<Vec<u8>, StoreError>;
}

/// A meter id read back from the database.
pub(crate) fn stored_meter_id(id: &str) -> Result<MeterId, StoreError> {
    MeterId::new(id).map_err(|error| StoreError::Corrupt {
        what: "meter id",
        detail: error.to_string(),
    })
}

/// Databases keep i64; sequence numbers and registers are checked to fit at ingest.
pub(crate) fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Back from the database's i64 (never negative as written).
pub(crate) fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl ResultRow for rusqlite::Row<'_> {
    fn int(&self, column: usize) -> Result<i64, StoreError> {
        Ok(self.get(column)?)
    }

    fn opt_int(&self, column: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.get(column)?)
    }

    fn small(&self, column: usize) -> Result<i16, StoreError> {
        Ok(self.get(column)?)
    }

    fn real(&self, column: usize) -> Result<f64, StoreError> {
        Ok(self.get(column)?)
    }

    fn opt_real(&self, column: usize) -> Result<Option<f64>, StoreError> {
        Ok(self.get(column)?)
    }

    fn text(&self, column: usize) -> Result<String, StoreError> {
        Ok(self.get(column)?)
    }

    fn opt_text(&self, column: usize) -> Result<Option<String>, StoreError> {
        Ok(self.get(column)?)
    }

    fn flag(&self, column: usize) -> Result<bool, StoreError> {
        Ok(self.get(column)?)
    }

    fn opt_flag(&self, column: usize) -> Result<Option<bool>, StoreError> {
        Ok(self.get(column)?)
    }

    fn bytes(&self, column: usize) -> Result<Vec<u8>, StoreError> {
        Ok(self.get(column)?)
    }
}

impl ResultRow for tokio_postgres::Row {
    fn int(&self, column: usize) -> Result<i64, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn opt_int(&self, column: usize) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn small(&self, column: usize) -> Result<i16, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn real(&self, column: usize) -> Result<f64, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn opt_real(&self, column: usize) -> Result<Option<f64>, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn text(&self, column: usize) -> Result<String, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn opt_text(&self, column: usize) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn flag(&self, column: usize) -> Result<bool, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn opt_flag(&self, column: usize) -> Result<Option<bool>, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn bytes(&self, column: usize) -> Result<Vec<u8>, StoreError> {
        Ok(self.try_get(column)?)
    }
}

/// A stored integer narrowed to the type it was written from; a value out of that type's
/// range means the row is damaged.
pub(crate) fn narrow<T: TryFrom<V, Error = std::num::TryFromIntError>, V>(
    value: V,
    what: &'static str,
) -> Result<T, StoreError> {
    T::try_from(value).map_err(|error| StoreError::Corrupt {
        what,
        detail: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::{ResultRow, narrow};
    use crate::StoreError;

    #[test]
    fn sqlite_values_read_as_the_schema_holds_them() {
        let connection = rusqlite::Connection::open_in_memory().expect("in-memory database");
        let read = |row: &rusqlite::Row<'_>| -> Result<_, StoreError> {
            Ok((row.flag(0)?, row.flag(1)?, row.opt_flag(2)?, row.small(3)?))
        };
        let values = connection
            .query_row_and_then("SELECT 1, 0, NULL, 300", [], read)
            .expect("row");
        assert_eq!(values, (true, false, None, 300));
        // A driver's refusal stays a database error; a value out of range is a damaged row.
        let text = connection.query_row_and_then("SELECT 7", [], |row| row.text(0));
        assert!(matches!(text, Err(StoreError::Database(_))), "{text:?}");
        let tariff = narrow::<u8, i16>(values.3, "tariff");
        assert!(
            matches!(tariff, Err(StoreError::Corrupt { what: "tariff", .. })),
            "{tariff:?}"
        );
    }
}
