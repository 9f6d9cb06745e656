//! A simulated meter's login: its id and device token, from a token file or from the
//! hub's API when `joule sim` registers the meters itself.

use std::path::Path;

use anyhow::{Context, bail};

/// A meter's login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    /// Meter id (MQTT username).
    pub(crate) id: String,
    /// Device token (MQTT password).
    pub(crate) token: String,
}

/// Reads a token file: one `METER_ID TOKEN` per line; blank lines and `#` comments skipped.
pub(crate) fn read_tokens(path: &Path) -> anyhow::Result<Vec<Credentials>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .enumerate()
        .map(|(n, line)| (n + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(
            |(n, line)| match line.split_whitespace().collect::<Vec<_>>()[..] {
                [id, token] => Ok(Credentials {
                    id: id.to_owned(),
                    token: token.to_owned(),
                }),
                _ => bail!("{} line {n}: expected `METER_ID TOKEN`", path.display()),
            },
        )
        .collect()
}
