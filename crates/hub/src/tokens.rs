//! Device tokens: generated once, shown once, stored only as a hash.
//!
//! A token is 32 random bytes (256 bits) in URL-safe base64. With that much entropy a
//! single SHA-256 is the right hash: a slow password hash like Argon2 guards guessable
//! secrets, and would make every one of thousands of meter connections cost tens of
//! milliseconds of CPU for no gain.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngExt;
use sha2::{Digest, Sha256};

/// A new random device token.
pub fn generate() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The hash stored for a token (hex SHA-256).
pub fn hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `token` matches `stored_hash`, comparing in constant time.
pub fn verify(token: &str, stored_hash: &str) -> bool {
    let candidate = hash(token);
    candidate.len() == stored_hash.len()
        && candidate
            .bytes()
            .zip(stored_hash.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_verify_against_their_hash_only() {
        let (a, b) = (generate(), generate());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        let stored = hash(&a);
        assert_eq!(stored.len(), 64);
        assert!(verify(&a, &stored));
        assert!(!verify(&b, &stored));
        assert!(!verify(&a, "short"));
    }
}
