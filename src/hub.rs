//! `joule hub`: the head-end service, and the broker files it exports for Mosquitto.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use joule_hub::config::HubConfig;
use joule_hub::{mosquitto, service};
use joule_store::Store;

use crate::cli::{ExportMosquittoAuthArgs, HubArgs};
use crate::runtime::{block_on, init_logs, shutdown_signal};

/// Loads the configuration and opens the store it names (creating SQLite's directory).
async fn open(args: &HubArgs) -> anyhow::Result<(HubConfig, Arc<dyn Store>)> {
    let config = HubConfig::load(args.config.as_deref(), |name| std::env::var(name).ok())?;
    let store = open_store(&config).await?;
    Ok((config, store))
}

/// Opens the store `config` names: PostgreSQL when `storage.postgres` is set, else SQLite.
pub(crate) async fn open_store(config: &HubConfig) -> anyhow::Result<Arc<dyn Store>> {
    Ok(config.storage.open().await?)
}

/// Runs the hub until Ctrl-C (or SIGTERM), then stores what is queued and stops.
pub(crate) fn run(args: &HubArgs) -> anyhow::Result<()> {
    init_logs();
    block_on(async {
        let (config, store) = open(args).await?;
        match &config.broker.url {
            Some(url) => tracing::info!(broker = url.as_str(), ?store, "hub starting"),
            None => tracing::info!(
                listen = %config.broker.listen,
                ?store,
                "hub starting with its embedded broker"
            ),
        }
        service::serve(config, store, shutdown_signal()).await?;
        Ok(())
    })
}

/// `joule hub export-mosquitto-auth`.
pub(crate) fn export_mosquitto_auth(
    args: &ExportMosquittoAuthArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let files = block_on(async {
        let (config, store) = open(&args.hub).await?;
        Ok(mosquitto::export(&config, store.as_ref()).await?)
    })?;
    write_private(&args.password_file, &files.passwords)?;
    std::fs::write(&args.acl_file, &files.acl)
        .with_context(|| format!("writing {}", args.acl_file.display()))?;
    writeln!(
        out,
        "wrote {} ({} meters and the hub) and {}",
        args.password_file.display(),
        files.meters,
        args.acl_file.display()
    )?;
    Ok(())
}

/// Writes a file only its owner can read (it holds password hashes).
pub(crate) fn write_private(path: &std::path::Path, contents: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(contents.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
