//! User passwords: Argon2id, stored in PHC format (the parameters travel with the hash).

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Argon2, PasswordHash};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt;

/// Shortest password accepted.
pub const MIN_LENGTH: usize = 10;

/// Why a password was refused.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Too short to resist guessing.
    #[error("a password needs at least {MIN_LENGTH} characters")]
    TooShort,
    /// Hashing failed (never for valid input).
    #[error("hashing the password failed: {0}")]
    Hash(String),
}

/// The Argon2id hash of `password` with a fresh salt (OWASP's default parameters:
/// 19 MiB, 2 passes, 1 lane).
pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_LENGTH {
        return Err(PasswordError::TooShort);
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| PasswordError::Hash(error.to_string()))
}

/// Whether `password` matches `stored` (a PHC string); a damaged hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A random password for a new account (18 bytes, 24 URL-safe characters).
pub fn generate() -> String {
    let bytes: [u8; 18] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let first = hash("correct horse battery").expect("hash");
        let second = hash("correct horse battery").expect("hash");
        assert!(first.starts_with("$argon2id$"), "{first}");
        assert_ne!(first, second);
        assert!(verify("correct horse battery", &first));
        assert!(!verify("correct horse batterz", &first));
        assert!(!verify("correct horse battery", "not a hash"));
        assert!(matches!(hash("short"), Err(PasswordError::TooShort)));
        assert_eq!(generate().len(), 24);
    }
}
