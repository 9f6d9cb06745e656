//! SQLite: the registry, users, sessions, API tokens, commands and the audit log.

use crate::accounts::{
    AUDIT_COLUMNS, COMMAND_COLUMNS, SESSION_COLUMNS, USER_COLUMNS, meters_query,
};
use crate::{
    AuditEntry, CommandRecord, CommandStatus, MeterFilter, MeterRecord, NewMeter, SessionRecord,
    StoreError, UserRecord, accounts, corrupt, to_i64, to_u64,
};
use joule_protocol::{Action, MeterId};
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

pub(super) fn add_meter(
    connection: &Connection,
    meter: &NewMeter,
    now_ms: i64,
) -> Result<(), StoreError> {
    let inserted = connection.execute(
        "INSERT OR IGNORE INTO meters (id, name, owner, location, feeder, transformer, tariff,
         install_date, token_hash, created_ms, mosquitto_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            meter.id.as_str(),
            meter.details.name,
            meter.details.owner,
            meter.details.location,
            meter.details.feeder,
            meter.details.transformer,
            meter.details.tariff,
            meter.details.install_date,
            meter.token_hash,
            now_ms,
            meter.mosquitto_hash
        ],
    )?;
    if inserted == 0 {
        return Err(StoreError::MeterExists(meter.id.to_string()));
    }
    Ok(())
}

pub(super) fn revoke_meter(connection: &Connection, id: &MeterId) -> Result<(), StoreError> {
    let changed = connection.execute(
        "UPDATE meters SET revoked = 1 WHERE id = ?1",
        params![id.as_str()],
    )?;
    if changed == 0 {
        return Err(StoreError::NoMeter(id.to_string()));
    }
    Ok(())
}

pub(super) fn set_meter_owner(
    connection: &Connection,
    id: &MeterId,
    owner: Option<&str>,
) -> Result<(), StoreError> {
    let changed = connection.execute(
        "UPDATE meters SET owner = ?2 WHERE id = ?1",
        params![id.as_str(), owner],
    )?;
    if changed == 0 {
        return Err(StoreError::NoMeter(id.to_string()));
    }
    Ok(())
}

/// Meters matching `filter` (or just the one with `id`).
pub(super) fn meters(
    connection: &Connection,
    filter: &MeterFilter,
    id: Option<&MeterId>,
) -> Result<Vec<MeterRecord>, StoreError> {
    let (sql, values) = meters_query(filter, id, |n| format!("?{n}"));
    connection
        .prepare_cached(&sql)?
        .query_and_then(params_from_iter(values), |row| accounts::meter(row))?
        .collect()
}

pub(super) fn active_token_hash(
    connection: &Connection,
    id: &MeterId,
) -> Result<Option<String>, StoreError> {
    Ok(connection
        .prepare_cached("SELECT token_hash FROM meters WHERE id = ?1 AND revoked = 0")?
        .query_row(params![id.as_str()], |row| row.get(0))
        .optional()?)
}

pub(super) fn mosquitto_hashes(
    connection: &Connection,
) -> Result<Vec<(MeterId, String)>, StoreError> {
    connection
        .prepare(
            "SELECT id, mosquitto_hash FROM meters
             WHERE revoked = 0 AND mosquitto_hash IS NOT NULL ORDER BY id",
        )?
        .query_and_then([], |row| accounts::mosquitto_hash(row))?
        .collect()
}

pub(super) fn add_user(connection: &Connection, user: &UserRecord) -> Result<(), StoreError> {
    let inserted = connection.execute(
        "INSERT OR IGNORE INTO users (username, role, password_hash, created_ms)
         VALUES (?1, ?2, ?3, ?4)",
        params![
            user.username,
            user.role.as_str(),
            user.password_hash,
            user.created_ms
        ],
    )?;
    if inserted == 0 {
        return Err(StoreError::UserExists(user.username.clone()));
    }
    Ok(())
}

/// Every user (or the one named), by name.
pub(super) fn users(
    connection: &Connection,
    username: Option<&str>,
) -> Result<Vec<UserRecord>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE ?1 IS NULL OR username = ?1
             ORDER BY username"
        ))?
        .query_and_then(params![username], |row| accounts::user(row, 0))?
        .collect()
}

pub(super) fn set_password(
    connection: &mut Connection,
    username: &str,
    password_hash: &str,
) -> Result<(), StoreError> {
    let transaction = connection.transaction()?;
    let changed = transaction.execute(
        "UPDATE users SET password_hash = ?2 WHERE username = ?1",
        params![username, password_hash],
    )?;
    if changed == 0 {
        return Err(StoreError::NoUser(username.to_owned()));
    }
    transaction.execute(
        "DELETE FROM sessions WHERE username = ?1",
        params![username],
    )?;
    transaction.commit()?;
    Ok(())
}

pub(super) fn add_session(
    connection: &Connection,
    session: &SessionRecord,
) -> Result<(), StoreError> {
    connection.execute(
        "INSERT INTO sessions (token_hash, username, csrf_token, created_ms, expires_ms)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            session.token_hash,
            session.username,
            session.csrf_token,
            session.created_ms,
            session.expires_ms
        ],
    )?;
    Ok(())
}

pub(super) fn session(
    connection: &Connection,
    token_hash: &str,
    now_ms: i64,
) -> Result<Option<(SessionRecord, UserRecord)>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s JOIN users u ON u.username = s.username
             WHERE s.token_hash = ?1 AND s.expires_ms > ?2"
        ))?
        .query_and_then(params![token_hash, now_ms], |row| accounts::session(row))?
        .next()
        .transpose()
}

pub(super) fn add_api_token(
    connection: &Connection,
    username: &str,
    token_hash: &str,
    name: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    if users(connection, Some(username))?.is_empty() {
        return Err(StoreError::NoUser(username.to_owned()));
    }
    connection.execute(
        "INSERT INTO api_tokens (token_hash, username, name, created_ms) VALUES (?1, ?2, ?3, ?4)",
        params![token_hash, username, name, now_ms],
    )?;
    Ok(())
}

pub(super) fn api_token_user(
    connection: &Connection,
    token_hash: &str,
) -> Result<Option<UserRecord>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS}
             FROM api_tokens t JOIN users u ON u.username = t.username WHERE t.token_hash = ?1"
        ))?
        .query_and_then(params![token_hash], |row| accounts::user(row, 0))?
        .next()
        .transpose()
}

pub(super) fn add_command(
    connection: &Connection,
    meter: &MeterId,
    action: &Action,
    created_by: &str,
    now_ms: i64,
    expires_ms: i64,
) -> Result<CommandRecord, StoreError> {
    let action_json = serde_json::to_string(action).map_err(corrupt("command action"))?;
    connection.execute(
        "INSERT INTO commands (meter_id, action, status, created_by, created_ms, updated_ms,
         expires_ms) VALUES (?1, ?2, 'pending', ?3, ?4, ?4, ?5)",
        params![meter.as_str(), action_json, created_by, now_ms, expires_ms],
    )?;
    Ok(accounts::pending_command(
        connection.last_insert_rowid(),
        meter,
        action,
        created_by,
        now_ms,
        expires_ms,
    ))
}

/// Moves a command on, if it exists (for `meter`, when given) and the move is forward;
/// returns whether it moved.
pub(super) fn set_command_status(
    connection: &Connection,
    id: u64,
    meter: Option<&MeterId>,
    status: CommandStatus,
    detail: Option<&str>,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let earlier: Vec<String> = status
        .may_follow()
        .iter()
        .map(|name| format!("'{name}'"))
        .collect();
    let sql = format!(
        "UPDATE commands SET status = ?2, detail = COALESCE(?3, detail), updated_ms = ?4
         WHERE id = ?1 AND (?5 IS NULL OR meter_id = ?5) AND status IN ({})",
        earlier.join(", ")
    );
    let changed = connection.execute(
        &sql,
        params![
            to_i64(id),
            status.as_str(),
            detail,
            now_ms,
            meter.map(MeterId::as_str)
        ],
    )?;
    if changed == 0 && meter.is_none() && commands(connection, None, Some(id), None, 1)?.is_empty()
    {
        return Err(StoreError::NoCommand(id));
    }
    Ok(changed > 0)
}

/// Commands newest first: of one meter, or the one with `id`, or all; in `status` or any.
pub(super) fn commands(
    connection: &Connection,
    meter: Option<&MeterId>,
    id: Option<u64>,
    status: Option<CommandStatus>,
    limit: usize,
) -> Result<Vec<CommandRecord>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {COMMAND_COLUMNS}
             FROM commands WHERE (?1 IS NULL OR meter_id = ?1) AND (?2 IS NULL OR id = ?2)
                 AND (?3 IS NULL OR status = ?3)
             ORDER BY id DESC LIMIT ?4"
        ))?
        .query_and_then(
            params![
                meter.map(MeterId::as_str),
                id.map(to_i64),
                status.map(CommandStatus::as_str),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |row| accounts::command(row),
        )?
        .collect()
}

pub(super) fn expire_commands(
    connection: &mut Connection,
    now_ms: i64,
) -> Result<Vec<CommandRecord>, StoreError> {
    let transaction = connection.transaction()?;
    let ids: Vec<i64> = transaction
        .prepare(
            "SELECT id FROM commands
             WHERE status IN ('pending', 'sent', 'accepted') AND expires_ms <= ?1",
        )?
        .query_map(params![now_ms], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    let mut expired = Vec::new();
    for id in ids {
        transaction.execute(
            "UPDATE commands SET status = 'timed_out', updated_ms = ?2,
             detail = COALESCE(detail, 'no answer from the meter before the command expired')
             WHERE id = ?1",
            params![id, now_ms],
        )?;
        expired.extend(commands(&transaction, None, Some(to_u64(id)), None, 1)?);
    }
    transaction.commit()?;
    Ok(expired)
}

pub(super) fn audit(connection: &Connection, entry: &AuditEntry) -> Result<(), StoreError> {
    connection.execute(
        "INSERT INTO audit (ts_ms, actor, action, target, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            entry.ts_ms,
            entry.actor,
            entry.action,
            entry.target,
            entry.detail
        ],
    )?;
    Ok(())
}

pub(super) fn audit_log(
    connection: &Connection,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    connection
        .prepare(&format!(
            "SELECT {AUDIT_COLUMNS} FROM audit ORDER BY id DESC LIMIT ?1"
        ))?
        .query_and_then(params![i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
            accounts::audit_entry(row)
        })?
        .collect()
}
