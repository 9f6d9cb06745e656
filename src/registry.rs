//! `joule meters`, `joule users` and `joule tariffs`: provisioning the hub's registry
//! (meters, accounts, tariff plans) straight in its store, whether or not the hub runs.
//!
//! These verbs read only the `[storage]` table of the hub's configuration file and open
//! the store; they depend on `joule-store`, not on the hub.

use std::io::{BufRead, Write};
use std::sync::Arc;

use anyhow::Context;
use joule_protocol::MeterId;
use joule_store::{
    AuditEntry, MeterDetails, MeterFilter, NewMeter, Role, StorageConfig, Store, UserRecord,
    passwords, tokens,
};

use crate::cli::{HubArgs, MetersCommand, RoleArg, TariffsCommand, UsersCommand};
use crate::runtime::{block_on, now_ms};

/// Opens the store that the hub configuration `args` names (its `[storage]` table and the
/// `JOULE_HUB_STORAGE_*` variables).
async fn open(args: &HubArgs) -> anyhow::Result<Arc<dyn Store>> {
    let storage = StorageConfig::load(args.config.as_deref(), |name| std::env::var(name).ok())?;
    Ok(storage.open().await?)
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
                let store = open(&args.hub).await?;
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
                let store = open(args).await?;
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
                let store = open(&args.hub).await?;
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
                let store = open(&args.hub).await?;
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
                let store = open(args).await?;
                writeln!(out, "{:<24} role", "username")?;
                for user in store.users().await? {
                    writeln!(out, "{:<24} {}", user.username, user.role.as_str())?;
                }
            }
            UsersCommand::Passwd(args) => {
                let store = open(&args.hub).await?;
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

/// The dates a plan's versions take effect, as a list.
fn versions(plan: &joule_tariff::Plan) -> String {
    let dates: Vec<String> = plan
        .versions()
        .iter()
        .map(|v| v.effective_from.to_string())
        .collect();
    dates.join(", ")
}

/// `joule tariffs add|list`.
pub(crate) fn tariffs(command: &TariffsCommand, out: &mut impl Write) -> anyhow::Result<()> {
    block_on(async {
        match command {
            TariffsCommand::Add(args) => {
                let toml = std::fs::read_to_string(&args.file)
                    .with_context(|| format!("reading {}", args.file.display()))?;
                let store = open(&args.hub).await?;
                let record = store
                    .put_tariff(&toml, now_ms())
                    .await
                    .with_context(|| format!("storing {}", args.file.display()))?;
                store
                    .audit(cli_audit("tariff.add", &record.name, String::new()))
                    .await?;
                writeln!(
                    out,
                    "tariff {} stored ({} {}, versions from {})",
                    record.name,
                    record.plan.currency(),
                    record.plan.time_zone_name(),
                    versions(&record.plan)
                )?;
            }
            TariffsCommand::List(args) => {
                let store = open(args).await?;
                writeln!(
                    out,
                    "{:<24} {:<8} {:<20} versions from",
                    "name", "currency", "time zone"
                )?;
                for tariff in store.tariffs().await? {
                    writeln!(
                        out,
                        "{:<24} {:<8} {:<20} {}",
                        tariff.name,
                        tariff.plan.currency(),
                        tariff.plan.time_zone_name(),
                        versions(&tariff.plan)
                    )?;
                }
            }
        }
        Ok(())
    })
}
