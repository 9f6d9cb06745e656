//! The store's part for alerts and automation: documents by kind and owner, one unresolved
//! alert per rule, meter and condition, a lifecycle that only moves forward, delivery
//! attempts and automation runs.

use joule_store::{
    ActionOutcome, AlertFilter, AlertKey, AutomationRun, Document, DocumentKind, Store, StoreError,
};
use joule_store::{AlertState, Channel, DeliveryAttempt, NewAlert};
use std::sync::Arc;

fn doc(id: u64, owner: &str, body: &str, updated_ms: i64) -> Document {
    Document {
        id,
        owner: owner.into(),
        body: body.into(),
        updated_ms,
    }
}

fn new_alert(rule_id: u64, meter: &str, condition: &str, opened_ms: i64) -> NewAlert {
    NewAlert {
        rule_id,
        owner: "alice".into(),
        meter: meter.into(),
        condition: condition.into(),
        message: format!("{condition} on {meter}"),
        value: Some(3500.5),
        opened_ms,
    }
}

pub(crate) async fn documents_by_kind_and_owner(store: Arc<dyn Store>) {
    let rule = store
        .put_document(DocumentKind::AlertRule, &doc(0, "alice", r#"{"a":1}"#, 10))
        .await
        .expect("insert");
    let other = store
        .put_document(DocumentKind::AlertRule, &doc(0, "bob", r#"{"b":1}"#, 11))
        .await
        .expect("insert");
    store
        .put_document(DocumentKind::DrEvent, &doc(0, "olivia", "{}", 12))
        .await
        .expect("insert");
    assert_ne!(rule, other);
    let replaced = store
        .put_document(
            DocumentKind::AlertRule,
            &doc(rule, "alice", r#"{"a":2}"#, 20),
        )
        .await
        .expect("replace");
    assert_eq!(replaced, rule);
    let alices = store
        .documents(DocumentKind::AlertRule, Some("alice"))
        .await
        .expect("list");
    assert_eq!(alices.len(), 1);
    assert_eq!(
        (alices[0].body.as_str(), alices[0].updated_ms),
        (r#"{"a":2}"#, 20)
    );
    let all = store
        .documents(DocumentKind::AlertRule, None)
        .await
        .expect("list");
    assert_eq!(all.len(), 2, "DR events are another kind");
    // A document of another kind is not replaced or deleted through this kind.
    assert!(matches!(
        store
            .put_document(DocumentKind::Automation, &doc(rule, "alice", "{}", 30))
            .await,
        Err(StoreError::NoDocument("automation", _))
    ));
    assert!(
        !store
            .delete_document(DocumentKind::Automation, rule)
            .await
            .expect("delete")
    );
    assert!(
        store
            .delete_document(DocumentKind::AlertRule, rule)
            .await
            .expect("delete")
    );
    assert_eq!(
        store
            .documents(DocumentKind::AlertRule, Some("alice"))
            .await
            .expect("list")
            .len(),
        0
    );
}

pub(crate) async fn one_unresolved_alert_per_key_moving_forward_only(store: Arc<dyn Store>) {
    let first = store
        .open_alert(&new_alert(1, "m-1", "power_above", 100))
        .await
        .expect("open")
        .expect("a new alert");
    assert_eq!(first.state, AlertState::Open);
    assert_eq!(first.raised.value, Some(3500.5));
    assert!(
        store
            .open_alert(&new_alert(1, "m-1", "power_above", 101))
            .await
            .expect("open")
            .is_none(),
        "deduplicated while unresolved"
    );
    let second = store
        .open_alert(&new_alert(1, "m-2", "power_above", 102))
        .await
        .expect("open")
        .expect("another meter is another key");
    let acked = store
        .set_alert_state(first.id, AlertState::Acknowledged, "alice", 200)
        .await
        .expect("ack")
        .expect("moved");
    assert_eq!(
        (acked.state, acked.acknowledged_ms),
        (AlertState::Acknowledged, Some(200))
    );
    assert!(
        store
            .set_alert_state(first.id, AlertState::Acknowledged, "alice", 201)
            .await
            .expect("ack again")
            .is_none(),
        "acknowledged once"
    );
    assert!(
        store
            .open_alert(&new_alert(1, "m-1", "power_above", 202))
            .await
            .expect("open")
            .is_none(),
        "an acknowledged alert is still unresolved"
    );
    let resolved = store
        .resolve_alerts(
            &AlertKey {
                rule_id: 1,
                meter: Some("m-1".into()),
                condition: Some("power_above".into()),
            },
            "condition cleared",
            300,
        )
        .await
        .expect("resolve");
    assert_eq!(resolved.len(), 1);
    assert_eq!(
        resolved[0].resolved_by.as_deref(),
        Some("condition cleared")
    );
    assert!(
        store
            .set_alert_state(first.id, AlertState::Acknowledged, "alice", 301)
            .await
            .expect("ack resolved")
            .is_none(),
        "never back from resolved"
    );
    let reopened = store
        .open_alert(&new_alert(1, "m-1", "power_above", 400))
        .await
        .expect("open")
        .expect("a new occurrence after resolution");
    assert!(reopened.id > second.id);
    let by_user = store
        .set_alert_state(second.id, AlertState::Resolved, "alice", 500)
        .await
        .expect("resolve")
        .expect("moved");
    assert_eq!(
        (by_user.resolved_ms, by_user.resolved_by.as_deref()),
        (Some(500), Some("alice"))
    );
    let open = store
        .alerts(&AlertFilter {
            owner: Some("alice".into()),
            state: Some(AlertState::Open),
            limit: 10,
            ..AlertFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(open.iter().map(|a| a.id).collect::<Vec<_>>(), [reopened.id]);
    let all = store
        .alerts(&AlertFilter {
            limit: usize::MAX,
            ..AlertFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let nobody = store
        .alerts(&AlertFilter {
            owner: Some("bob".into()),
            limit: 10,
            ..AlertFilter::default()
        })
        .await
        .expect("list");
    assert!(nobody.is_empty());
    // Every key of a rule at once (a deleted rule).
    let gone = store
        .resolve_alerts(
            &AlertKey {
                rule_id: 1,
                meter: None,
                condition: None,
            },
            "rule deleted",
            600,
        )
        .await
        .expect("resolve");
    assert_eq!(gone.iter().map(|a| a.id).collect::<Vec<_>>(), [reopened.id]);
}

pub(crate) async fn deliveries_and_runs_are_recorded(store: Arc<dyn Store>) {
    let alert = store
        .open_alert(&new_alert(9, "m-1", "outage", 100))
        .await
        .expect("open")
        .expect("new");
    for (channel, attempt, ok) in [
        (Channel::Webhook, 1, false),
        (Channel::Webhook, 2, true),
        (Channel::Email, 1, true),
    ] {
        store
            .add_delivery(&DeliveryAttempt {
                alert_id: alert.id,
                channel,
                attempt,
                ts_ms: 100 + i64::from(attempt),
                ok,
                detail: format!("attempt {attempt}"),
            })
            .await
            .expect("record");
    }
    let attempts = store.deliveries(alert.id).await.expect("deliveries");
    assert_eq!(attempts.len(), 3);
    assert!(
        attempts
            .iter()
            .any(|a| a.channel == Channel::Webhook && a.attempt == 2 && a.ok)
    );
    assert!(
        store
            .deliveries(alert.id + 1)
            .await
            .expect("none")
            .is_empty()
    );

    let run = AutomationRun {
        id: 0,
        rule_id: 4,
        ts_ms: 1_000,
        dry_run: true,
        reason: "power above 3000 W".into(),
        outcomes: vec![ActionOutcome {
            action: "publish home/boiler/set".into(),
            ok: true,
            detail: "dry run: not done".into(),
        }],
    };
    let stored = store.add_automation_run(&run).await.expect("run");
    assert!(stored.id > 0);
    store
        .add_automation_run(&AutomationRun {
            rule_id: 5,
            ..run.clone()
        })
        .await
        .expect("run");
    let runs = store.automation_runs(Some(4), 10).await.expect("runs");
    assert_eq!(runs, vec![stored]);
    assert_eq!(
        store.automation_runs(None, 10).await.expect("runs").len(),
        2
    );
}
