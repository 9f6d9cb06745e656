//! The store's part for the registry and accounts: meters survive reopening and revocation
//! locks them out, the meter filter pages, users, sessions and API tokens, commands that
//! only move forward (an ack counts only for its own meter), presence and the audit log.

use super::{Open, T0, batch, id, live, new_meter};
use joule_protocol::{AckStatus, Action, CommandAck, PAYLOAD_VERSION, RelayState, Status};
use joule_store::{
    AuditEntry, Batch, CommandStatus, MeterFilter, Role, SessionRecord, Store, StoreError, Stored,
    UserRecord,
};
use std::sync::Arc;

pub(super) async fn the_registry_survives_reopening_and_revocation_locks_out(open: &Open) {
    let m = id("m-1");
    {
        let store = open("registry").await;
        store
            .add_meter(new_meter(&m, Some("alice"), Some("F1")), T0)
            .await
            .expect("add");
        assert!(matches!(
            store.add_meter(new_meter(&m, None, None), T0).await,
            Err(StoreError::MeterExists(_))
        ));
        store
            .write_batch(&batch(vec![(m.clone(), live(1, 1))]))
            .await
            .expect("write");
    }
    let store = open("registry").await;
    assert_eq!(
        store.active_token_hash(&m).await.expect("hash").as_deref(),
        Some("hash-m-1")
    );
    let record = store.meter(&m).await.expect("meter").expect("exists");
    assert_eq!(record.details.name, "Home m-1");
    assert_eq!(record.details.owner.as_deref(), Some("alice"));
    assert_eq!(record.details.install_date.as_deref(), Some("2026-01-15"));
    assert_eq!(record.online, None);
    assert_eq!(store.mosquitto_hashes().await.expect("hashes").len(), 1);
    assert_eq!(store.contiguous_seq(&m).await.expect("mark"), 1);
    store.revoke_meter(&m).await.expect("revoke");
    assert_eq!(store.active_token_hash(&m).await.expect("hash"), None);
    assert!(store.mosquitto_hashes().await.expect("hashes").is_empty());
    assert!(matches!(
        store.revoke_meter(&id("nobody")).await,
        Err(StoreError::NoMeter(_))
    ));
    store.set_meter_owner(&m, Some("bob")).await.expect("owner");
    let record = store.meter(&m).await.expect("meter").expect("exists");
    assert_eq!(record.details.owner.as_deref(), Some("bob"));
}

pub(super) async fn meters_filter_and_page(store: Arc<dyn Store>) {
    for (meter, owner, feeder) in [
        ("home-1", Some("alice"), "F1"),
        ("home-2", Some("bob"), "F1"),
        ("shop-1", None, "F2"),
    ] {
        store
            .add_meter(new_meter(&id(meter), owner, Some(feeder)), T0)
            .await
            .expect("add");
    }
    let ids = |filter: MeterFilter| {
        let store = Arc::clone(&store);
        async move {
            store
                .meters(&filter)
                .await
                .expect("meters")
                .into_iter()
                .map(|m| m.id.to_string())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        ids(MeterFilter::default()).await,
        ["home-1", "home-2", "shop-1"]
    );
    let alice = MeterFilter {
        owner: Some("alice".into()),
        ..MeterFilter::default()
    };
    assert_eq!(ids(alice).await, ["home-1"]);
    let f1 = MeterFilter {
        feeder: Some("F1".into()),
        ..MeterFilter::default()
    };
    assert_eq!(ids(f1).await, ["home-1", "home-2"]);
    let search = MeterFilter {
        search: Some("SHOP".into()),
        ..MeterFilter::default()
    };
    assert_eq!(ids(search).await, ["shop-1"]);
    let page = MeterFilter {
        offset: 1,
        limit: 1,
        ..MeterFilter::default()
    };
    assert_eq!(ids(page).await, ["home-2"]);
}

pub(super) async fn users_sessions_and_tokens(store: Arc<dyn Store>) {
    let alice = UserRecord {
        username: "alice".into(),
        role: Role::Consumer,
        password_hash: "$argon2id$first".into(),
        created_ms: T0,
    };
    store.add_user(alice.clone()).await.expect("add");
    assert!(matches!(
        store.add_user(alice.clone()).await,
        Err(StoreError::UserExists(_))
    ));
    assert_eq!(
        store.user("alice").await.expect("user"),
        Some(alice.clone())
    );
    assert_eq!(store.user("nobody").await.expect("user"), None);
    let session = SessionRecord {
        token_hash: "s1".into(),
        username: "alice".into(),
        csrf_token: "c1".into(),
        created_ms: T0,
        expires_ms: T0 + 1000,
    };
    store.add_session(session.clone()).await.expect("session");
    let found = store.session("s1", T0 + 999).await.expect("session");
    assert_eq!(found, Some((session.clone(), alice.clone())));
    assert_eq!(store.session("s1", T0 + 1000).await.expect("expired"), None);
    store.delete_session("s1").await.expect("logout");
    assert_eq!(store.session("s1", T0).await.expect("gone"), None);
    store.add_session(session).await.expect("session");
    store
        .set_password("alice", "$argon2id$second")
        .await
        .expect("passwd");
    assert_eq!(
        store.session("s1", T0).await.expect("ended by passwd"),
        None
    );
    assert!(matches!(
        store.set_password("nobody", "x").await,
        Err(StoreError::NoUser(_))
    ));
    store
        .add_api_token("alice", "t1", "script", T0)
        .await
        .expect("token");
    let user = store
        .api_token_user("t1")
        .await
        .expect("token user")
        .expect("found");
    assert_eq!(
        (user.username.as_str(), user.password_hash.as_str()),
        ("alice", "$argon2id$second")
    );
    assert_eq!(store.api_token_user("t2").await.expect("unknown"), None);
    assert!(matches!(
        store.add_api_token("nobody", "t3", "x", T0).await,
        Err(StoreError::NoUser(_))
    ));
    assert_eq!(store.users().await.expect("users").len(), 1);
}

pub(super) async fn commands_move_forward_only(store: Arc<dyn Store>) {
    let (m, other) = (id("m-1"), id("m-2"));
    let action = Action::Disconnect {
        reason: "unpaid".into(),
    };
    let first = store
        .add_command(&m, &action, "olivia", T0, T0 + 600_000)
        .await
        .expect("add");
    let second = store
        .add_command(&m, &Action::ResetMaxDemand, "olivia", T0 + 1, T0 + 1000)
        .await
        .expect("add");
    assert!(second.id > first.id);
    assert_eq!(first.status, CommandStatus::Pending);
    store
        .set_command_status(first.id, CommandStatus::Sent, None, T0 + 10)
        .await
        .expect("sent");
    // Another meter's ack for this command changes nothing.
    let ack = |seq: u64, status: AckStatus| CommandAck {
        v: PAYLOAD_VERSION,
        seq,
        ts_ms: T0 + 20,
        command_id: first.id,
        status,
        relay: Some(RelayState::Disconnected),
        detail: Some("relay open".into()),
    };
    store
        .write_batch(&batch(vec![(
            other.clone(),
            Stored::CommandAck(ack(1, AckStatus::Done)),
        )]))
        .await
        .expect("write");
    let status = |command: u64| {
        let store = Arc::clone(&store);
        async move {
            store
                .command(command)
                .await
                .expect("command")
                .expect("exists")
                .status
        }
    };
    assert_eq!(status(first.id).await, CommandStatus::Sent);
    store
        .write_batch(&batch(vec![
            (m.clone(), Stored::CommandAck(ack(1, AckStatus::Done))),
            (m.clone(), Stored::CommandAck(ack(2, AckStatus::Accepted))),
        ]))
        .await
        .expect("write");
    let done = store
        .command(first.id)
        .await
        .expect("command")
        .expect("exists");
    assert_eq!(
        done.status,
        CommandStatus::Done,
        "a late `accepted` does not undo `done`"
    );
    assert_eq!(done.detail.as_deref(), Some("relay open"));
    assert_eq!(done.action, action);
    assert_eq!(done.created_by, "olivia");
    let expired = store.expire_commands(T0 + 1000).await.expect("expire");
    assert_eq!(
        expired.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![second.id]
    );
    assert_eq!(status(second.id).await, CommandStatus::TimedOut);
    assert!(
        store
            .expire_commands(T0 + 10_000_000)
            .await
            .expect("expire")
            .is_empty()
    );
    let listed = store.commands(Some(&m), None, 10).await.expect("list");
    assert_eq!(
        listed.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![second.id, first.id]
    );
    let done_only = store
        .commands(None, Some(CommandStatus::Done), 10)
        .await
        .expect("by status");
    assert_eq!(
        done_only.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![first.id]
    );
    assert!(
        store
            .commands(Some(&other), None, 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert!(matches!(
        store
            .set_command_status(123_456, CommandStatus::Sent, None, T0)
            .await,
        Err(StoreError::NoCommand(123_456))
    ));
}

pub(super) async fn presence_and_audit(store: Arc<dyn Store>) {
    let m = id("m-1");
    store
        .add_meter(new_meter(&m, None, None), T0)
        .await
        .expect("add");
    store
        .write_batch(&Batch {
            statuses: vec![
                (m.clone(), Status::Online, T0 + 5),
                (m.clone(), Status::Offline, T0 + 9),
            ],
            ..Batch::default()
        })
        .await
        .expect("write");
    // An older status arriving late does not overwrite a newer one.
    store
        .write_batch(&Batch {
            statuses: vec![(m.clone(), Status::Online, T0 + 7)],
            ..Batch::default()
        })
        .await
        .expect("write");
    let record = store.meter(&m).await.expect("meter").expect("exists");
    assert_eq!(
        (record.online, record.status_ms),
        (Some(false), Some(T0 + 9))
    );
    for n in 0..3 {
        store
            .audit(AuditEntry {
                ts_ms: T0 + n,
                actor: "olivia".into(),
                action: "command.disconnect".into(),
                target: "m-1".into(),
                detail: format!("reason {n}"),
            })
            .await
            .expect("audit");
    }
    let log = store.audit_log(2).await.expect("log");
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].detail, "reason 2");
}
