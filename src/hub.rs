//! `joule hub` and `joule meters`: the head-end service and its meter registry.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use joule_hub::config::HubConfig;
use joule_hub::store::{
    AuditEntry, MeterDetails, MeterFilter, NewMeter, PostgresStore, Role, SqliteStore, Store,
    UserRecord,
};
use joule_hub::{mosquitto, passwords, service, tokens};
use joule_protocol::MeterId;

use crate::cli::{ExportMosquittoAuthArgs, HubArgs, MetersCommand, RoleArg, UsersCommand};
use crate::runtime::{block_on, init_logs, shutdown_signal};

/// The time now, Unix ms.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Loads the configuration and opens the store it names (creating SQLite's directory).
async fn open(args: &HubArgs) -> anyhow::Result<(HubConfig, Arc<dyn Store>)> {
    let config = HubConfig::load(args.config.as_deref(), |name| std::env::var(name).ok())?;
    let store = open_store(&config).await?;
    Ok((config, store))
}

/// Opens the store `config` names: PostgreSQL when `storage.postgres` is set, else SQLite.
pub(crate) async fn open_store(config: &HubConfig) -> anyhow::Result<Arc<dyn Store>> {
    if let Some(conninfo) = &config.storage.postgres {
        // The connection string may hold a password: the error names the setting instead.
        let store = PostgresStore::connect(conninfo)
            .await
            .context("connecting to the PostgreSQL database that storage.postgres names")?;
        return Ok(Arc::new(store));
    }
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
    Ok(Arc::new(store))
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

/// An audit entry for an action taken on the command line.
fn cli_audit(action: &str, target: &str, detail: String) -> AuditEntry {
    AuditEntry {
        ts_ms: now_ms(),
        actor: "cli".to_owned(),
        action: action.to_owned(),
        target: target.to_owned(),
        detail,
    }
}

/// `joule meters add|list|revoke`.
pub(crate) fn meters(command: &MetersCommand, out: &mut impl Write) -> anyhow::Result<()> {
    block_on(async {
        match command {
            MetersCommand::Add(args) => {
                let (_, store) = open(&args.hub).await?;
                let id = MeterId::new(&args.id)?;
                let token = tokens::generate();
                store
                    .add_meter(
                        NewMeter::with_token(
                            id.clone(),
                            MeterDetails {
                                name: args.name.clone(),
                                owner: args.owner.clone(),
                                location: args.location.clone(),
                                feeder: args.feeder.clone(),
                                transformer: args.transformer.clone(),
                                tariff: args.tariff.clone(),
                                install_date: args.install_date.clone(),
                            },
                            &token,
                        ),
                        now_ms(),
                    )
                    .await?;
                store
                    .audit(cli_audit("meter.add", id.as_str(), String::new()))
                    .await?;
                writeln!(out, "meter {id} added")?;
                writeln!(out, "token: {token}")?;
                writeln!(
                    out,
                    "(shown once: only its hash is stored; put it in the meter's configuration)"
                )?;
            }
            MetersCommand::List(args) => {
                let (_, store) = open(args).await?;
                writeln!(
                    out,
                    "{:<24} {:<24} {:<12} {:<10} {:<12} state",
                    "id", "name", "owner", "feeder", "transformer"
                )?;
                for meter in store.meters(&MeterFilter::default()).await? {
                    writeln!(
                        out,
                        "{:<24} {:<24} {:<12} {:<10} {:<12} {}",
                        meter.id,
                        meter.details.name,
                        meter.details.owner.as_deref().unwrap_or("-"),
                        meter.details.feeder.as_deref().unwrap_or("-"),
                        meter.details.transformer.as_deref().unwrap_or("-"),
                        if meter.revoked { "revoked" } else { "active" }
                    )?;
                }
            }
            MetersCommand::Revoke(args) => {
                let (_, store) = open(&args.hub).await?;
                store.revoke_meter(&MeterId::new(&args.id)?).await?;
                store
                    .audit(cli_audit("meter.revoke", &args.id, String::new()))
                    .await?;
                writeln!(out, "meter {} revoked", args.id)?;
            }
        }
        Ok(())
    })
}

/// A password from stdin's first line, or a generated one (then `true`: print it).
fn new_password(from_stdin: bool) -> anyhow::Result<(String, bool)> {
    if !from_stdin {
        return Ok((passwords::generate(), true));
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok((line.trim_end_matches(['\r', '\n']).to_owned(), false))
}

/// `joule users add|list|passwd`.
pub(crate) fn users(command: &UsersCommand, out: &mut impl Write) -> anyhow::Result<()> {
    block_on(async {
        match command {
            UsersCommand::Add(add) => {
                let args = &add.user;
                let (_, store) = open(&args.hub).await?;
                let (password, generated) = new_password(args.password_stdin)?;
                let role = match add.role {
                    RoleArg::Consumer => Role::Consumer,
                    RoleArg::Operator => Role::Operator,
                    RoleArg::Admin => Role::Admin,
                };
                store
                    .add_user(UserRecord {
                        username: args.username.clone(),
                        role,
                        password_hash: passwords::hash(&password)?,
                        created_ms: now_ms(),
                    })
                    .await?;
                store
                    .audit(cli_audit(
                        "user.add",
                        &args.username,
                        role.as_str().to_owned(),
                    ))
                    .await?;
                writeln!(out, "user {} added ({})", args.username, role.as_str())?;
                if generated {
                    writeln!(out, "password: {password}")?;
                    writeln!(out, "(shown once: only its Argon2id hash is stored)")?;
                }
            }
            UsersCommand::List(args) => {
                let (_, store) = open(args).await?;
                writeln!(out, "{:<24} role", "username")?;
                for user in store.users().await? {
                    writeln!(out, "{:<24} {}", user.username, user.role.as_str())?;
                }
            }
            UsersCommand::Passwd(args) => {
                let (_, store) = open(&args.hub).await?;
                let (password, generated) = new_password(args.password_stdin)?;
                store
                    .set_password(&args.username, &passwords::hash(&password)?)
                    .await?;
                store
                    .audit(cli_audit("user.passwd", &args.username, String::new()))
                    .await?;
                writeln!(
                    out,
                    "password of {} changed; their sessions ended",
                    args.username
                )?;
                if generated {
                    writeln!(out, "password: {password}")?;
                }
            }
        }
        Ok(())
    })
}
