//! `joule hub` and `joule meters`: the head-end service and its meter registry.

use std::io::Write;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use joule_hub::config::HubConfig;
use joule_hub::store::{NewMeter, SqliteStore};
use joule_hub::{mosquitto, service, tokens};
use joule_protocol::MeterId;

use crate::cli::{ExportMosquittoAuthArgs, HubArgs, MetersCommand};

/// Loads the configuration and opens the store it names (creating its directory).
fn open(args: &HubArgs) -> anyhow::Result<(HubConfig, SqliteStore)> {
    let config = HubConfig::load(args.config.as_deref(), |name| std::env::var(name).ok())?;
    if let Some(parent) = config
        .storage
        .sqlite
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let store = SqliteStore::open(&config.storage.sqlite)
        .with_context(|| format!("opening {}", config.storage.sqlite.display()))?;
    Ok((config, store))
}

/// Runs the hub until Ctrl-C (or SIGTERM), then stores what is queued and stops.
pub(crate) fn run(args: &HubArgs) -> anyhow::Result<()> {
    // Logs go to stderr: stdout is for what a command prints as its result.
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let (config, store) = open(args)?;
    let store_path = config.storage.sqlite.display();
    match &config.broker.url {
        Some(url) => tracing::info!(broker = url.as_str(), store = %store_path, "hub starting"),
        None => tracing::info!(
            listen = %config.broker.listen,
            store = %store_path,
            "hub starting with its embedded broker"
        ),
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(service::serve(&config, Arc::new(store), shutdown_signal()))?;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// `joule hub export-mosquitto-auth`.
pub(crate) fn export_mosquitto_auth(
    args: &ExportMosquittoAuthArgs,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let (config, store) = open(&args.hub)?;
    let files = mosquitto::export(&config, &store)?;
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
fn write_private(path: &std::path::Path, contents: &str) -> anyhow::Result<()> {
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

/// `joule meters add|list|revoke`.
pub(crate) fn meters(command: &MetersCommand, out: &mut impl Write) -> anyhow::Result<()> {
    match command {
        MetersCommand::Add(args) => {
            let (_, store) = open(&args.hub)?;
            let id = MeterId::new(&args.id)?;
            let token = tokens::generate();
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            store.add_meter(
                &NewMeter {
                    id: id.clone(),
                    name: args.name.clone(),
                    feeder: args.feeder.clone(),
                    transformer: args.transformer.clone(),
                    token_hash: tokens::hash(&token),
                    mosquitto_hash: Some(tokens::mosquitto_hash(&token)),
                },
                now_ms,
            )?;
            writeln!(out, "meter {id} added")?;
            writeln!(out, "token: {token}")?;
            writeln!(
                out,
                "(shown once: only its hash is stored; put it in the meter's configuration)"
            )?;
        }
        MetersCommand::List(args) => {
            let (_, store) = open(args)?;
            writeln!(
                out,
                "{:<24} {:<24} {:<10} {:<12} state",
                "id", "name", "feeder", "transformer"
            )?;
            for meter in store.meters()? {
                writeln!(
                    out,
                    "{:<24} {:<24} {:<10} {:<12} {}",
                    meter.id,
                    meter.name,
                    meter.feeder.as_deref().unwrap_or("-"),
                    meter.transformer.as_deref().unwrap_or("-"),
                    if meter.revoked { "revoked" } else { "active" }
                )?;
            }
        }
        MetersCommand::Revoke(args) => {
            let (_, store) = open(&args.hub)?;
            store.revoke_meter(&MeterId::new(&args.id)?)?;
            writeln!(out, "meter {} revoked", args.id)?;
        }
    }
    Ok(())
}
