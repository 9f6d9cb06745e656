//! Why a payload is refused: one error type for every check a receiver applies, each with
//! a stable reason for counting. It sits below the checks (`check`), the batches (`batch`)
//! and the decoders (`codec`), so all of them name the same refusals.

use crate::messages::{BATCH_VERSION, PAYLOAD_VERSION};

/// Largest payload accepted, bytes: a single message or a whole batch.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    /// Larger than [`MAX_PAYLOAD_BYTES`].
    #[error("payload of {0} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte limit")]
    TooLarge(usize),
    /// Not JSON of the expected shape.
    #[error("payload does not match the schema: {0}")]
    Schema(String),
    /// A payload version this build does not read.
    #[error(
        "payload version {0} is not supported (this build reads v{PAYLOAD_VERSION} messages and v{BATCH_VERSION} batches)"
    )]
    Version(u32),
    /// A field is out of range.
    #[error("field `{field}` {reason}")]
    Invalid {
        /// The field (nested with dots).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The topic kind flows the other way.
    #[error("topic kind `{0}` is not sent in this direction")]
    Direction(&'static str),
}

impl DecodeError {
    /// A short stable name for counting rejects by reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge(_) => "too_large",
            Self::Schema(_) => "schema",
            Self::Version(_) => "version",
            Self::Invalid { .. } => "invalid",
            Self::Direction(_) => "direction",
        }
    }
}

/// A field out of range.
pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> DecodeError {
    DecodeError::Invalid {
        field,
        reason: reason.into(),
    }
}
