//! Users for the tests that run a hub: each with a known password.

use joule_store::passwords;
use joule_store::{Role, Store, UserRecord};

/// The password every test user gets.
pub(crate) fn password(username: &str) -> String {
    format!("password-of-{username}")
}

/// Adds `users` with their roles and [`password`]s.
pub(crate) async fn add_users(store: &dyn Store, users: &[(&str, Role)]) {
    for (username, role) in users {
        store
            .add_user(UserRecord {
                username: (*username).into(),
                role: *role,
                password_hash: passwords::hash(&password(username)).expect("hash"),
                created_ms: 0,
            })
            .await
            .expect("user");
    }
}
