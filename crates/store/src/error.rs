//! Why the store failed: one error for every backend, so callers match on what went wrong
//! (a missing meter, a duplicate user, a refused tariff) rather than on a database.

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database refused or failed.
    #[error("database: {0}")]
    Database(String),
    /// A meter with this id exists already.
    #[error("meter `{0}` exists already")]
    MeterExists(String),
    /// No such meter.
    #[error("no meter `{0}`")]
    NoMeter(String),
    /// A user with this name exists already.
    #[error("user `{0}` exists already")]
    UserExists(String),
    /// No such user.
    #[error("no user `{0}`")]
    NoUser(String),
    /// No such command.
    #[error("no command {0}")]
    NoCommand(u64),
    /// The database was migrated by a newer hub: this one must not write to it.
    #[error(
        "the database's schema is at version {found}, newer than this hub's {known}: run the newer joule (or restore a backup made before the upgrade)"
    )]
    NewerSchema {
        /// The schema version the database records.
        found: i64,
        /// The newest version this hub knows.
        known: usize,
    },
    /// No such document (an alert rule, automation, DR event) of this kind.
    #[error("no {0} {1}")]
    NoDocument(&'static str, u64),
    /// A tariff plan's TOML is not a valid plan.
    #[error("{0}")]
    InvalidTariff(String),
    /// A replacement plan would change prices already in force.
    #[error("retroactive tariff change refused: {0}")]
    Retroactive(String),
    /// No such tariff plan.
    #[error("no tariff `{0}`")]
    NoTariff(String),
    /// A tariff plan still named by meters.
    #[error("tariff `{0}` is used by {1} meter(s)")]
    TariffInUse(String, u64),
    /// Stored data could not be read back (a damaged row).
    #[error("stored {what} is unreadable: {detail}")]
    Corrupt {
        /// What was being read.
        what: &'static str,
        /// Why.
        detail: String,
    },
}

/// A JSON column or document could not be read back.
pub fn corrupt(what: &'static str) -> impl Fn(serde_json::Error) -> StoreError {
    move |error| StoreError::Corrupt {
        what,
        detail: error.to_string(),
    }
}
