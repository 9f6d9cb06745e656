//! PostgreSQL: the registry, users, sessions, API tokens, commands and the audit log, with
//! the same rules as the SQLite backend (existing ids refused, commands only move forward,
//! an ack only counts for its own meter).

use crate::accounts::{
    AUDIT_COLUMNS, COMMAND_COLUMNS, SESSION_COLUMNS, USER_COLUMNS, meters_query,
};
use crate::{
    AuditEntry, CommandRecord, CommandStatus, MeterFilter, MeterRecord, NewMeter, SessionRecord,
    StoreError, UserRecord, accounts, corrupt, to_i64,
};
use joule_protocol::{Action, MeterId};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient};

pub(super) async fn add_meter(
    client: &Client,
    meter: &NewMeter,
    now_ms: i64,
) -> Result<(), StoreError> {
    let inserted = client
        .execute(
            "INSERT INTO meters (id, name, owner, location, feeder, transformer, tariff,
             install_date, token_hash, created_ms, mosquitto_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (id) DO NOTHING",
            &[
                &meter.id.as_str(),
                &meter.details.name,
                &meter.details.owner,
                &meter.details.location,
                &meter.details.feeder,
                &meter.details.transformer,
                &meter.details.tariff,
                &meter.details.install_date,
                &meter.token_hash,
                &now_ms,
                &meter.mosquitto_hash,
            ],
        )
        .await?;
    if inserted == 0 {
        return Err(StoreError::MeterExists(meter.id.to_string()));
    }
    Ok(())
}

pub(super) async fn revoke_meter(client: &Client, id: &MeterId) -> Result<(), StoreError> {
    let changed = client
        .execute(
            "UPDATE meters SET revoked = TRUE WHERE id = $1",
            &[&id.as_str()],
        )
        .await?;
    if changed == 0 {
        return Err(StoreError::NoMeter(id.to_string()));
    }
    Ok(())
}

pub(super) async fn set_meter_owner(
    client: &Client,
    id: &MeterId,
    owner: Option<&str>,
) -> Result<(), StoreError> {
    let changed = client
        .execute(
            "UPDATE meters SET owner = $2 WHERE id = $1",
            &[&id.as_str(), &owner],
        )
        .await?;
    if changed == 0 {
        return Err(StoreError::NoMeter(id.to_string()));
    }
    Ok(())
}

/// Meters matching `filter` (or just the one with `id`).
pub(super) async fn meters(
    client: &Client,
    filter: &MeterFilter,
    id: Option<&MeterId>,
) -> Result<Vec<MeterRecord>, StoreError> {
    let (sql, values) = meters_query(filter, id, |n| format!("${n}"));
    let params: Vec<&(dyn ToSql + Sync)> = values
        .iter()
        .map(|value| value as &(dyn ToSql + Sync))
        .collect();
    client
        .query(&sql, &params)
        .await?
        .iter()
        .map(accounts::meter)
        .collect()
}

pub(super) async fn active_token_hash(
    client: &Client,
    id: &MeterId,
) -> Result<Option<String>, StoreError> {
    let row = client
        .query_opt(
            "SELECT token_hash FROM meters WHERE id = $1 AND NOT revoked",
            &[&id.as_str()],
        )
        .await?;
    Ok(row.map(|row| row.try_get(0)).transpose()?)
}

pub(super) async fn mosquitto_hashes(
    client: &Client,
) -> Result<Vec<(MeterId, String)>, StoreError> {
    client
        .query(
            "SELECT id, mosquitto_hash FROM meters
             WHERE NOT revoked AND mosquitto_hash IS NOT NULL ORDER BY id",
            &[],
        )
        .await?
        .iter()
        .map(accounts::mosquitto_hash)
        .collect()
}

pub(super) async fn add_user(client: &Client, user: &UserRecord) -> Result<(), StoreError> {
    let inserted = client
        .execute(
            "INSERT INTO users (username, role, password_hash, created_ms)
             VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO NOTHING",
            &[
                &user.username,
                &user.role.as_str(),
                &user.password_hash,
                &user.created_ms,
            ],
        )
        .await?;
    if inserted == 0 {
        return Err(StoreError::UserExists(user.username.clone()));
    }
    Ok(())
}

/// Every user (or the one named), by name.
pub(super) async fn users(
    client: &(impl GenericClient + Sync),
    username: Option<&str>,
) -> Result<Vec<UserRecord>, StoreError> {
    client
        .query(
            &format!(
                "SELECT {USER_COLUMNS} FROM users u
                 WHERE $1::text IS NULL OR username = $1 ORDER BY username"
            ),
            &[&username],
        )
        .await?
        .iter()
        .map(|row| accounts::user(row, 0))
        .collect()
}

pub(super) async fn set_password(
    client: &mut Client,
    username: &str,
    password_hash: &str,
) -> Result<(), StoreError> {
    let transaction = client.transaction().await?;
    let changed = transaction
        .execute(
            "UPDATE users SET password_hash = $2 WHERE username = $1",
            &[&username, &password_hash],
        )
        .await?;
    if changed == 0 {
        return Err(StoreError::NoUser(username.to_owned()));
    }
    transaction
        .execute("DELETE FROM sessions WHERE username = $1", &[&username])
        .await?;
    transaction.commit().await?;
    Ok(())
}

pub(super) async fn add_session(
    client: &Client,
    session: &SessionRecord,
) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO sessions (token_hash, username, csrf_token, created_ms, expires_ms)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &session.token_hash,
                &session.username,
                &session.csrf_token,
                &session.created_ms,
                &session.expires_ms,
            ],
        )
        .await?;
    Ok(())
}

pub(super) async fn session(
    client: &Client,
    token_hash: &str,
    now_ms: i64,
) -> Result<Option<(SessionRecord, UserRecord)>, StoreError> {
    client
        .query_opt(
            &format!(
                "SELECT {SESSION_COLUMNS}
                 FROM sessions s JOIN users u ON u.username = s.username
                 WHERE s.token_hash = $1 AND s.expires_ms > $2"
            ),
            &[&token_hash, &now_ms],
        )
        .await?
        .as_ref()
        .map(accounts::session)
        .transpose()
}

pub(super) async fn add_api_token(
    client: &Client,
    username: &str,
    token_hash: &str,
    name: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    if users(client, Some(username)).await?.is_empty() {
        return Err(StoreError::NoUser(username.to_owned()));
    }
    client
        .execute(
            "INSERT INTO api_tokens (token_hash, username, name, created_ms)
             VALUES ($1, $2, $3, $4)",
            &[&token_hash, &username, &name, &now_ms],
        )
        .await?;
    Ok(())
}

pub(super) async fn api_token_user(
    client: &Client,
    token_hash: &str,
) -> Result<Option<UserRecord>, StoreError> {
    client
        .query_opt(
            &format!(
                "SELECT {USER_COLUMNS}
                 FROM api_tokens t JOIN users u ON u.username = t.username
                 WHERE t.token_hash = $1"
            ),
            &[&token_hash],
        )
        .await?
        .map(|row| accounts::user(&row, 0))
        .transpose()
}

pub(super) async fn add_command(
    client: &Client,
    meter: &MeterId,
    action: &Action,
    created_by: &str,
    now_ms: i64,
    expires_ms: i64,
) -> Result<CommandRecord, StoreError> {
    let action_json = serde_json::to_string(action).map_err(corrupt("command action"))?;
    let id: i64 = client
        .query_one(
            "INSERT INTO commands (meter_id, action, status, created_by, created_ms, updated_ms,
             expires_ms) VALUES ($1, $2, 'pending', $3, $4, $4, $5) RETURNING id",
            &[
                &meter.as_str(),
                &action_json,
                &created_by,
                &now_ms,
                &expires_ms,
            ],
        )
        .await?
        .try_get(0)?;
    Ok(accounts::pending_command(
        id, meter, action, created_by, now_ms, expires_ms,
    ))
}

/// Moves a command on, if it exists (for `meter`, when given) and the move is forward;
/// returns whether it moved.
pub(super) async fn set_command_status(
    client: &(impl GenericClient + Sync),
    id: u64,
    meter: Option<&MeterId>,
    status: CommandStatus,
    detail: Option<&str>,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let changed = client
        .execute(
            "UPDATE commands SET status = $2, detail = COALESCE($3, detail), updated_ms = $4
             WHERE id = $1 AND ($5::text IS NULL OR meter_id = $5) AND status = ANY($6)",
            &[
                &to_i64(id),
                &status.as_str(),
                &detail,
                &now_ms,
                &meter.map(MeterId::as_str),
                &status.may_follow(),
            ],
        )
        .await?;
    if changed == 0
        && meter.is_none()
        && commands(client, None, Some(id), None, 1).await?.is_empty()
    {
        return Err(StoreError::NoCommand(id));
    }
    Ok(changed > 0)
}

/// Commands newest first: of one meter, or the one with `id`, or all; in `status` or any.
pub(super) async fn commands(
    client: &(impl GenericClient + Sync),
    meter: Option<&MeterId>,
    id: Option<u64>,
    status: Option<CommandStatus>,
    limit: usize,
) -> Result<Vec<CommandRecord>, StoreError> {
    client
        .query(
            &format!(
                "SELECT {COMMAND_COLUMNS} FROM commands
                 WHERE ($1::text IS NULL OR meter_id = $1) AND ($2::int8 IS NULL OR id = $2)
                     AND ($3::text IS NULL OR status = $3)
                 ORDER BY id DESC LIMIT $4"
            ),
            &[
                &meter.map(MeterId::as_str),
                &id.map(to_i64),
                &status.map(CommandStatus::as_str),
                &i64::try_from(limit).unwrap_or(i64::MAX),
            ],
        )
        .await?
        .iter()
        .map(accounts::command)
        .collect()
}

/// Times out every open command past its expiry in one statement; returns them by id.
pub(super) async fn expire_commands(
    client: &Client,
    now_ms: i64,
) -> Result<Vec<CommandRecord>, StoreError> {
    let mut expired = client
        .query(
            &format!(
                "UPDATE commands SET status = 'timed_out', updated_ms = $1,
                 detail = COALESCE(detail, 'no answer from the meter before the command expired')
                 WHERE status IN ('pending', 'sent', 'accepted') AND expires_ms <= $1
                 RETURNING {COMMAND_COLUMNS}"
            ),
            &[&now_ms],
        )
        .await?
        .iter()
        .map(accounts::command)
        .collect::<Result<Vec<_>, _>>()?;
    expired.sort_by_key(|command| command.id);
    Ok(expired)
}

pub(super) async fn audit(client: &Client, entry: &AuditEntry) -> Result<(), StoreError> {
    client
        .execute(
            "INSERT INTO audit (ts_ms, actor, action, target, detail)
             VALUES ($1, $2, $3, $4, $5)",
            &[
                &entry.ts_ms,
                &entry.actor,
                &entry.action,
                &entry.target,
                &entry.detail,
            ],
        )
        .await?;
    Ok(())
}

pub(super) async fn audit_log(
    client: &Client,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    client
        .query(
            &format!("SELECT {AUDIT_COLUMNS} FROM audit ORDER BY id DESC LIMIT $1"),
            &[&i64::try_from(limit).unwrap_or(i64::MAX)],
        )
        .await?
        .iter()
        .map(accounts::audit_entry)
        .collect()
}
