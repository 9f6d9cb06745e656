//! The registry's and the accounts' records as both backends read them: the columns each
//! record is selected with, beside the one mapping from those columns to the record, so a
//! column added or moved changes one place. Which rows to select stays each backend's SQL.

use crate::rows::ResultRow;
use crate::{
    AuditEntry, CommandRecord, CommandStatus, MeterDetails, MeterFilter, MeterRecord, Role,
    SessionRecord, StoreError, UserRecord, corrupt, stored_meter_id, to_u64,
};
use joule_protocol::{Action, MeterId};

/// The meters query both backends run: the columns every `MeterRecord` is read from, the
/// filter's conditions with their text values, order and paging. `placeholder(n)` spells
/// the n-th (1-based) parameter in the backend's syntax (`$n` or `?n`).
pub(crate) fn meters_query(
    filter: &MeterFilter,
    id: Option<&MeterId>,
    placeholder: fn(usize) -> String,
) -> (String, Vec<String>) {
    let mut sql = String::from(
        "SELECT id, name, owner, location, feeder, transformer, tariff, install_date,
                created_ms, revoked, online, status_ms
         FROM meters WHERE 1 = 1",
    );
    let mut values: Vec<String> = Vec::new();
    let equal = [
        ("id", id.map(ToString::to_string)),
        ("owner", filter.owner.clone()),
        ("feeder", filter.feeder.clone()),
        ("transformer", filter.transformer.clone()),
    ];
    for (column, value) in equal {
        if let Some(value) = value {
            values.push(value);
            sql.push_str(&format!(" AND {column} = {}", placeholder(values.len())));
        }
    }
    if let Some(search) = &filter.search {
        values.push(format!("%{}%", search.to_lowercase()));
        let p = placeholder(values.len());
        sql.push_str(&format!(
            " AND (lower(id) LIKE {p} OR lower(name) LIKE {p})"
        ));
    }
    sql.push_str(" ORDER BY id");
    if filter.limit > 0 {
        sql.push_str(&format!(" LIMIT {} OFFSET {}", filter.limit, filter.offset));
    }
    (sql, values)
}

/// A meter, from a row of `meters_query`.
pub(crate) fn meter(row: &impl ResultRow) -> Result<MeterRecord, StoreError> {
    Ok(MeterRecord {
        id: stored_meter_id(&row.text(0)?)?,
        details: MeterDetails {
            name: row.text(1)?,
            owner: row.opt_text(2)?,
            location: row.opt_text(3)?,
            feeder: row.opt_text(4)?,
            transformer: row.opt_text(5)?,
            tariff: row.opt_text(6)?,
            install_date: row.opt_text(7)?,
        },
        created_ms: row.int(8)?,
        revoked: row.flag(9)?,
        online: row.opt_flag(10)?,
        status_ms: row.opt_int(11)?,
    })
}

/// A meter's id and Mosquitto password hash, from `SELECT id, mosquitto_hash`.
pub(crate) fn mosquitto_hash(row: &impl ResultRow) -> Result<(MeterId, String), StoreError> {
    Ok((stored_meter_id(&row.text(0)?)?, row.text(1)?))
}

/// The columns `user` reads, of `users u`.
pub(crate) const USER_COLUMNS: &str = "u.username, u.role, u.password_hash, u.created_ms";

/// A user, from `USER_COLUMNS` starting at column `first`.
pub(crate) fn user(row: &impl ResultRow, first: usize) -> Result<UserRecord, StoreError> {
    let role = row.text(first + 1)?;
    Ok(UserRecord {
        username: row.text(first)?,
        role: Role::parse(&role).ok_or(StoreError::Corrupt {
            what: "role",
            detail: role,
        })?,
        password_hash: row.text(first + 2)?,
        created_ms: row.int(first + 3)?,
    })
}

/// The columns `session` reads, of `sessions s JOIN users u`: the session's, then its
/// user's.
pub(crate) const SESSION_COLUMNS: &str = "s.token_hash, s.username, s.csrf_token, s.created_ms,
    s.expires_ms, u.username, u.role, u.password_hash, u.created_ms";

/// A session with its user, from `SESSION_COLUMNS`.
pub(crate) fn session(row: &impl ResultRow) -> Result<(SessionRecord, UserRecord), StoreError> {
    let session = SessionRecord {
        token_hash: row.text(0)?,
        username: row.text(1)?,
        csrf_token: row.text(2)?,
        created_ms: row.int(3)?,
        expires_ms: row.int(4)?,
    };
    Ok((session, user(row, 5)?))
}

/// The columns `command` reads, of `commands`.
pub(crate) const COMMAND_COLUMNS: &str =
    "id, meter_id, action, status, created_by, created_ms, updated_ms, expires_ms, detail";

/// A command, from `COMMAND_COLUMNS`.
pub(crate) fn command(row: &impl ResultRow) -> Result<CommandRecord, StoreError> {
    let status = row.text(3)?;
    Ok(CommandRecord {
        id: to_u64(row.int(0)?),
        meter: stored_meter_id(&row.text(1)?)?,
        action: serde_json::from_str(&row.text(2)?).map_err(corrupt("command action"))?,
        status: CommandStatus::parse(&status).ok_or(StoreError::Corrupt {
            what: "command status",
            detail: status,
        })?,
        created_by: row.text(4)?,
        created_ms: row.int(5)?,
        updated_ms: row.int(6)?,
        expires_ms: row.int(7)?,
        detail: row.opt_text(8)?,
    })
}

/// A command just stored with id `id`: pending, never updated.
pub(crate) fn pending_command(
    id: i64,
    meter: &MeterId,
    action: &Action,
    created_by: &str,
    now_ms: i64,
    expires_ms: i64,
) -> CommandRecord {
    CommandRecord {
        id: to_u64(id),
        meter: meter.clone(),
        action: action.clone(),
        status: CommandStatus::Pending,
        created_by: created_by.to_owned(),
        created_ms: now_ms,
        updated_ms: now_ms,
        expires_ms,
        detail: None,
    }
}

/// The columns `audit_entry` reads, of `audit`.
pub(crate) const AUDIT_COLUMNS: &str = "ts_ms, actor, action, target, detail";

/// An audit log entry, from `AUDIT_COLUMNS`.
pub(crate) fn audit_entry(row: &impl ResultRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        ts_ms: row.int(0)?,
        actor: row.text(1)?,
        action: row.text(2)?,
        target: row.text(3)?,
        detail: row.text(4)?,
    })
}
