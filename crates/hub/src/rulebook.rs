//! Typed access to the JSON documents alerts and automation keep in the store: alert
//! rules, notification settings, automation rules and demand-response events. The store
//! keeps their bodies as text; this module is the one place that turns them into types.

use crate::alerts::{AlertRule, AlertRuleSpec, NotificationSettings};
use crate::automation::{AutomationRule, AutomationSpec, DrEvent, DrEventSpec};
use joule_store::{Document, DocumentKind, Store, StoreError, corrupt};
use serde::de::DeserializeOwned;

fn decode<T: DeserializeOwned>(document: &Document, what: &'static str) -> Result<T, StoreError> {
    serde_json::from_str(&document.body).map_err(corrupt(what))
}

/// Stores `value` as a document of `kind` (new when `id` is `None`); returns its id.
async fn put<T: serde::Serialize>(
    store: &dyn Store,
    kind: DocumentKind,
    id: Option<u64>,
    owner: &str,
    value: &T,
    now_ms: i64,
) -> Result<u64, StoreError> {
    let document = Document {
        id: id.unwrap_or(0),
        owner: owner.to_owned(),
        body: serde_json::to_string(value).map_err(corrupt("document"))?,
        updated_ms: now_ms,
    };
    store.put_document(kind, &document).await
}

/// Alert rules of `owner`, or of everyone.
pub async fn alert_rules(
    store: &dyn Store,
    owner: Option<&str>,
) -> Result<Vec<AlertRule>, StoreError> {
    let documents = store.documents(DocumentKind::AlertRule, owner).await?;
    documents
        .iter()
        .map(|document| {
            Ok(AlertRule {
                id: document.id,
                owner: document.owner.clone(),
                spec: decode(document, "alert rule")?,
                updated_ms: document.updated_ms,
            })
        })
        .collect()
}

/// Stores an alert rule (new when `id` is `None`).
pub async fn put_alert_rule(
    store: &dyn Store,
    id: Option<u64>,
    owner: &str,
    spec: &AlertRuleSpec,
    now_ms: i64,
) -> Result<AlertRule, StoreError> {
    let id = put(store, DocumentKind::AlertRule, id, owner, spec, now_ms).await?;
    Ok(AlertRule {
        id,
        owner: owner.to_owned(),
        spec: spec.clone(),
        updated_ms: now_ms,
    })
}

/// A user's notification settings (empty when never set), with the document's id.
pub async fn settings(
    store: &dyn Store,
    username: &str,
) -> Result<(Option<u64>, NotificationSettings), StoreError> {
    let documents = store
        .documents(DocumentKind::NotificationSettings, Some(username))
        .await?;
    match documents.last() {
        Some(document) => Ok((
            Some(document.id),
            decode(document, "notification settings")?,
        )),
        None => Ok((None, NotificationSettings::default())),
    }
}

/// Every user's notification settings.
pub async fn all_settings(
    store: &dyn Store,
) -> Result<Vec<(String, NotificationSettings)>, StoreError> {
    let documents = store
        .documents(DocumentKind::NotificationSettings, None)
        .await?;
    documents
        .iter()
        .map(|document| Ok((document.owner.clone(), decode(document, "settings")?)))
        .collect()
}

/// Replaces a user's notification settings.
pub async fn put_settings(
    store: &dyn Store,
    username: &str,
    settings: &NotificationSettings,
    now_ms: i64,
) -> Result<(), StoreError> {
    let (id, _) = self::settings(store, username).await?;
    let kind = DocumentKind::NotificationSettings;
    put(store, kind, id, username, settings, now_ms).await?;
    Ok(())
}

/// Automation rules of `owner`, or of everyone.
pub async fn automations(
    store: &dyn Store,
    owner: Option<&str>,
) -> Result<Vec<AutomationRule>, StoreError> {
    let documents = store.documents(DocumentKind::Automation, owner).await?;
    documents
        .iter()
        .map(|document| {
            Ok(AutomationRule {
                id: document.id,
                owner: document.owner.clone(),
                spec: decode(document, "automation rule")?,
                updated_ms: document.updated_ms,
            })
        })
        .collect()
}

/// Stores an automation rule (new when `id` is `None`).
pub async fn put_automation(
    store: &dyn Store,
    id: Option<u64>,
    owner: &str,
    spec: &AutomationSpec,
    now_ms: i64,
) -> Result<AutomationRule, StoreError> {
    let id = put(store, DocumentKind::Automation, id, owner, spec, now_ms).await?;
    Ok(AutomationRule {
        id,
        owner: owner.to_owned(),
        spec: spec.clone(),
        updated_ms: now_ms,
    })
}

/// Every demand-response event.
pub async fn dr_events(store: &dyn Store) -> Result<Vec<DrEvent>, StoreError> {
    let documents = store.documents(DocumentKind::DrEvent, None).await?;
    documents
        .iter()
        .map(|document| {
            Ok(DrEvent {
                id: document.id,
                created_by: document.owner.clone(),
                spec: decode(document, "DR event")?,
            })
        })
        .collect()
}

/// Stores a new demand-response event.
pub async fn add_dr_event(
    store: &dyn Store,
    created_by: &str,
    spec: &DrEventSpec,
    now_ms: i64,
) -> Result<DrEvent, StoreError> {
    let id = put(store, DocumentKind::DrEvent, None, created_by, spec, now_ms).await?;
    Ok(DrEvent {
        id,
        created_by: created_by.to_owned(),
        spec: spec.clone(),
    })
}
