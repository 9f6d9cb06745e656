//! Replacing a plan that is in use: prices already in force stay as they were.
//!
//! A plan is kept as the TOML its author wrote, with versions by effective date. Bills
//! already issued, and the cost a consumer has already seen today, were worked out from the
//! versions in force then; a replacement may add versions that start after today, but may
//! not change, remove or insert one on or before today, nor the settings (currency, zone,
//! holidays) every version is read with. The comparison is on the TOML values, so a
//! replacement that only reformats the file is accepted.

use crate::Plan;
use jiff::Timestamp;
use jiff::civil::Date;
use std::collections::BTreeMap;

/// Why a replacement plan was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplacementError {
    /// The text is not a plan with versions (what is wrong, for people).
    #[error("{0}")]
    Invalid(String),
    /// It would change prices already in force (why, and what to do instead).
    #[error("retroactive tariff change refused: {0}")]
    Retroactive(String),
}

/// Refuses a replacement that changes what is in force on or before `now`: every
/// version effective on or before today (the plan's local date) must be kept unchanged,
/// none may be added there, and the plan's own settings (currency, zone, holidays) stay.
pub fn check_replacement(
    old_toml: &str,
    new_toml: &str,
    old: &Plan,
    now: Timestamp,
) -> Result<(), ReplacementError> {
    let today = old.time_zone().to_offset(now).to_datetime(now).date();
    let (old_settings, old_versions) = split_versions(old_toml, today)?;
    let (new_settings, new_versions) = split_versions(new_toml, today)?;
    if old_settings != new_settings {
        return Err(ReplacementError::Retroactive(
            "currency, time zone or holidays differ; they apply to prices already in \
             force, so publish a plan under a new name instead"
                .to_owned(),
        ));
    }
    for (date, version) in &old_versions {
        if new_versions.get(date) != Some(version) {
            return Err(ReplacementError::Retroactive(format!(
                "the version effective from {date} is in force since before today \
                 ({today}) and may not change or go; add a version with a later \
                 `effective_from` instead"
            )));
        }
    }
    if let Some(date) = new_versions.keys().find(|d| !old_versions.contains_key(*d)) {
        return Err(ReplacementError::Retroactive(format!(
            "a new version effective from {date} would change prices on or before today \
             ({today}); its `effective_from` must be after today"
        )));
    }
    Ok(())
}

type Versions = BTreeMap<Date, toml::Value>;

/// The plan's settings (without name and versions) and its versions effective on or
/// before `today`, by date.
fn split_versions(text: &str, today: Date) -> Result<(toml::Table, Versions), ReplacementError> {
    let invalid = |detail: String| ReplacementError::Invalid(detail);
    let mut table: toml::Table = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
    table.remove("name");
    let versions = match table.remove("versions") {
        Some(toml::Value::Array(versions)) => versions,
        _ => return Err(invalid("`versions` must be an array of tables".to_owned())),
    };
    let mut in_force = Versions::new();
    for version in versions {
        let date = match version.get("effective_from") {
            Some(toml::Value::Datetime(d)) => d.to_string(),
            Some(toml::Value::String(s)) => s.clone(),
            _ => return Err(invalid("a version has no `effective_from`".to_owned())),
        };
        let date: Date = date
            .parse()
            .map_err(|e| invalid(format!("effective_from `{date}`: {e}")))?;
        if date <= today {
            let mut version = version;
            if let Some(table) = version.as_table_mut() {
                table.remove("effective_from");
            }
            in_force.insert(date, version);
        }
    }
    Ok((table, in_force))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = r#"
name = "flat"
currency = "EUR"
time_zone = "Europe/Amsterdam"

[[versions]]
effective_from = 2026-01-01
import = { kind = "flat", price_per_kwh = 0.25 }
"#;

    /// 2026-06-15 12:00 UTC.
    fn june() -> Timestamp {
        "2026-06-15T12:00:00Z".parse().expect("instant")
    }

    fn check(new: &str) -> Result<(), ReplacementError> {
        let old = Plan::from_toml(OLD).expect("plan");
        check_replacement(OLD, new, &old, june())
    }

    #[test]
    fn a_later_version_may_be_added_and_reformatting_changes_nothing() {
        let added = format!(
            "{OLD}\n[[versions]]\neffective_from = 2026-07-01\nimport = {{ kind = \"flat\", price_per_kwh = 0.30 }}\n"
        );
        assert_eq!(check(&added), Ok(()));
        assert_eq!(check(&OLD.replace("0.25", "0.250")), Ok(()));
    }

    #[test]
    fn prices_in_force_may_not_change() {
        let repriced = OLD.replace("0.25", "0.20");
        assert!(matches!(
            check(&repriced),
            Err(ReplacementError::Retroactive(_))
        ));
        let inserted = format!(
            "{OLD}\n[[versions]]\neffective_from = 2026-06-15\nimport = {{ kind = \"flat\", price_per_kwh = 0.30 }}\n"
        );
        assert!(matches!(
            check(&inserted),
            Err(ReplacementError::Retroactive(_))
        ));
        let other_currency = OLD.replace("EUR", "GBP");
        assert!(matches!(
            check(&other_currency),
            Err(ReplacementError::Retroactive(_))
        ));
    }

    #[test]
    fn text_without_versions_is_invalid() {
        assert!(matches!(
            check("name = \"x\""),
            Err(ReplacementError::Invalid(_))
        ));
    }
}
