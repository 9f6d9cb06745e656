//! Mosquitto's password and ACL files for the hub's registry, so that an external
//! Mosquitto enforces the same rules as the embedded broker: each meter logs in with its
//! token, publishes only to its own topics and reads only its own commands and storage
//! acknowledgements; the hub reads and writes every meter topic.

use crate::config::HubConfig;
use joule_protocol::{TOPIC_VERSION, TopicKind};
use joule_store::tokens;
use joule_store::{Store, StoreError};

/// The two files' contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MosquittoAuth {
    /// For `password_file`: `user:$7$…` lines.
    pub passwords: String,
    /// For `acl_file`.
    pub acl: String,
    /// Meters written.
    pub meters: usize,
}

/// Why the files could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The hub has no login of its own configured.
    #[error(
        "`broker.username` and `broker.password` must be set: they are the hub's own login at Mosquitto"
    )]
    NoHubLogin,
    /// The registry could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Builds the files from the registry and the hub's configured login.
pub async fn export(config: &HubConfig, store: &dyn Store) -> Result<MosquittoAuth, ExportError> {
    let (Some(hub_user), Some(hub_password)) = (&config.broker.username, &config.broker.password)
    else {
        return Err(ExportError::NoHubLogin);
    };
    let mut passwords = format!("{hub_user}:{}\n", tokens::mosquitto_hash(hub_password));
    let hashes = store.mosquitto_hashes().await?;
    for (meter, hash) in &hashes {
        passwords.push_str(&format!("{meter}:{hash}\n"));
    }
    let base = format!("{}/{TOPIC_VERSION}/meters", config.topics.prefix);
    let mut acl = format!(
        "# Written by `joule hub export-mosquitto-auth`; regenerate after adding or revoking meters.\n\
         user {hub_user}\ntopic readwrite {base}/#\n\n"
    );
    for kind in TopicKind::ALL {
        let access = if kind.from_meter() { "write" } else { "read" };
        acl.push_str(&format!("pattern {access} {base}/%u/{}\n", kind.segment()));
    }
    Ok(MosquittoAuth {
        passwords,
        acl,
        meters: hashes.len(),
    })
}
