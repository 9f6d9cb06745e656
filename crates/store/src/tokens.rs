//! Device tokens: generated once, shown once, stored only as a hash.
//!
//! A token is 32 random bytes (256 bits) in URL-safe base64. With that much entropy a
//! single SHA-256 is the right hash: a slow password hash like Argon2 guards guessable
//! secrets, and would make every one of thousands of meter connections cost tens of
//! milliseconds of CPU for no gain.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
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

/// The token hashed the way Mosquitto's password file stores passwords (`$7$`: PBKDF2 with
/// HMAC-SHA512, 101 iterations, a 12-byte random salt), for `joule hub
/// export-mosquitto-auth`. Kept beside the SHA-256 because a hash cannot be re-hashed later.
pub fn mosquitto_hash(token: &str) -> String {
    const ITERATIONS: u32 = 101;
    let salt: [u8; 12] = rand::rng().random();
    let mut hash = [0u8; 64];
    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(token.as_bytes(), &salt, ITERATIONS, &mut hash);
    format!(
        "$7${ITERATIONS}${}${}",
        STANDARD.encode(salt),
        STANDARD.encode(hash)
    )
}

/// Whether `token` matches `stored_hash`, comparing in constant time.
pub fn verify(token: &str, stored_hash: &str) -> bool {
    constant_time_eq(hash(token).as_bytes(), stored_hash.as_bytes())
}

/// Whether two secrets are equal, taking the same time wherever they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
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

    #[test]
    fn mosquitto_hashes_have_mosquittos_shape() {
        let hash = mosquitto_hash("secret");
        let parts: Vec<&str> = hash.split('$').collect();
        assert_eq!(parts[..3], ["", "7", "101"]);
        assert_eq!(STANDARD.decode(parts[3]).expect("salt").len(), 12);
        assert_eq!(STANDARD.decode(parts[4]).expect("hash").len(), 64);
        assert_ne!(hash, mosquitto_hash("secret"), "salted");
    }
}
