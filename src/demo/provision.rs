//! The demo's people and meters: created on the first start, remembered in
//! `DIR/demo.json` (readable only by its owner) so a restart prints the same logins and
//! runs the same meters with the same tokens.

use std::path::Path;

use anyhow::Context;
use joule_protocol::MeterId;
use joule_sim::fleet::neighbourhood_home;
use joule_sim::household::HouseholdSpec;
use joule_store::passwords;
use joule_store::tokens;
use joule_store::{MeterDetails, NewMeter, Role, Store, UserRecord};
use serde::{Deserialize, Serialize};

/// Seed of the demo's neighbourhood.
pub(crate) const SEED: u64 = 2026;

/// A demo login.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Login {
    /// User name.
    pub(crate) username: String,
    /// `admin`, `operator` or `consumer`.
    pub(crate) role: String,
    /// The password, generated on the first start.
    pub(crate) password: String,
}

/// A demo meter and its device token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct DemoMeter {
    /// Meter id.
    pub(crate) id: String,
    /// Device token.
    pub(crate) token: String,
    /// Which home of the neighbourhood it measures.
    pub(crate) home: usize,
}

/// What the first start created.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Demo {
    /// Logins, in the order they are printed.
    pub(crate) logins: Vec<Login>,
    /// The meters.
    pub(crate) meters: Vec<DemoMeter>,
}

/// The consumers and which homes they own.
const CONSUMERS: [(&str, &[usize]); 2] = [("alice", &[1, 2]), ("bob", &[3])];

/// The tariff plans the demo's meters are billed on (the files in `examples/tariffs/`).
const PLANS: [&str; 4] = [
    include_str!("../../examples/tariffs/home-flat.toml"),
    include_str!("../../examples/tariffs/home-tou.toml"),
    include_str!("../../examples/tariffs/solar-net-billing.toml"),
    include_str!("../../examples/tariffs/business-tou.toml"),
];

/// The demo's tariff plans, parsed, each with its TOML.
pub(crate) fn plans() -> anyhow::Result<Vec<(joule_tariff::Plan, &'static str)>> {
    PLANS
        .iter()
        .map(|text| {
            let plan =
                joule_tariff::Plan::from_toml(text).context("a demo tariff plan does not parse")?;
            Ok((plan, *text))
        })
        .collect()
}

/// Stores the demo's tariff plans that the hub does not hold yet (an operator may have
/// changed one since; that stays).
pub(crate) async fn ensure_tariffs(store: &dyn Store, now_ms: i64) -> anyhow::Result<()> {
    for (plan, text) in plans()? {
        if store.tariff(plan.name()).await?.is_none() {
            store.put_tariff(text, now_ms).await?;
        }
    }
    Ok(())
}

/// Street names for the homes' locations.
const STREETS: [&str; 3] = ["Linden Street", "Mill Road", "Harbour Lane"];

/// What the registry says about home `index`: name, owner, grid position, tariff.
fn details(index: usize, home: &HouseholdSpec) -> MeterDetails {
    let owner = CONSUMERS
        .iter()
        .find(|(_, homes)| homes.contains(&index))
        .map(|(name, _)| (*name).to_owned());
    let transformer = index % 3 + 1;
    let mut features = Vec::new();
    if home.solar_peak_w > 0.0 {
        features.push("solar");
    }
    if home.ev_charger_w > 0.0 {
        features.push("EV");
    }
    if home.heat_pump_w > 0.0 {
        features.push("heat pump");
    }
    let (name, tariff) = if home.three_phase {
        ("Corner bakery (three-phase)".to_owned(), "business-tou")
    } else {
        let with = if features.is_empty() {
            String::new()
        } else {
            format!(" ({})", features.join(", "))
        };
        let tariff = if home.solar_peak_w > 0.0 {
            "solar-net-billing"
        } else if index.is_multiple_of(2) {
            "home-tou"
        } else {
            "home-flat"
        };
        (format!("Home {index}{with}"), tariff)
    };
    MeterDetails {
        name,
        owner,
        location: Some(format!(
            "{} {}",
            index * 2 + 1,
            STREETS[index % STREETS.len()]
        )),
        // Transformers 1 and 2 hang on the north feeder, 3 on the south one.
        feeder: Some(
            if transformer == 3 {
                "feeder-south"
            } else {
                "feeder-north"
            }
            .to_owned(),
        ),
        transformer: Some(format!("transformer-{transformer}")),
        tariff: Some(tariff.to_owned()),
        install_date: Some(format!("2023-{:02}-{:02}", index % 12 + 1, index % 27 + 1)),
    }
}

/// The home the demo's meter `home` measures.
pub(crate) fn home_spec(home: usize) -> HouseholdSpec {
    neighbourhood_home(SEED, home)
}

/// The demo in `dir`: read back, or created now in the store (users and meters) and then
/// saved. Meters beyond those already there (a larger `--meters`) are added.
pub(crate) async fn load_or_create(
    dir: &Path,
    store: &dyn Store,
    meters: usize,
    now_ms: i64,
) -> anyhow::Result<Demo> {
    let path = dir.join("demo.json");
    let mut demo = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<Demo>(&bytes)
            .with_context(|| format!("reading {}", path.display()))?,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let demo = Demo {
                logins: create_users(store, now_ms).await?,
                meters: Vec::new(),
            };
            // Saved at once: the users exist now, a second start must not create them again.
            crate::hub::write_private(&path, &serde_json::to_string_pretty(&demo)?)?;
            demo
        }
        Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
    };
    for home in demo.meters.len()..meters {
        let id = MeterId::new(&format!("meter-{:02}", home + 1))?;
        let token = tokens::generate();
        let details = details(home, &home_spec(home));
        store
            .add_meter(NewMeter::with_token(id.clone(), details, &token), now_ms)
            .await?;
        demo.meters.push(DemoMeter {
            id: id.as_str().to_owned(),
            token,
            home,
        });
    }
    crate::hub::write_private(&path, &serde_json::to_string_pretty(&demo)?)?;
    Ok(demo)
}

/// Creates the admin, the operator and the two consumers with generated passwords.
async fn create_users(store: &dyn Store, now_ms: i64) -> anyhow::Result<Vec<Login>> {
    let people = [
        ("admin", Role::Admin),
        ("operator", Role::Operator),
        (CONSUMERS[0].0, Role::Consumer),
        (CONSUMERS[1].0, Role::Consumer),
    ];
    let mut logins = Vec::new();
    for (username, role) in people {
        let password = passwords::generate();
        store
            .add_user(UserRecord {
                username: username.to_owned(),
                role,
                password_hash: passwords::hash(&password)?,
                created_ms: now_ms,
            })
            .await?;
        logins.push(Login {
            username: username.to_owned(),
            role: role.as_str().to_owned(),
            password,
        });
    }
    Ok(logins)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tariff_a_home_names_is_a_demo_plan() {
        let plans: Vec<String> = plans()
            .expect("plans")
            .iter()
            .map(|(plan, _)| plan.name().to_owned())
            .collect();
        for home in 0..24 {
            let tariff = details(home, &home_spec(home)).tariff.expect("a tariff");
            assert!(plans.contains(&tariff), "{tariff} is not among {plans:?}");
        }
    }

    #[test]
    fn the_registry_spreads_homes_over_two_feeders_and_three_transformers() {
        let all: Vec<MeterDetails> = (0..24).map(|k| details(k, &home_spec(k))).collect();
        let feeders: std::collections::BTreeSet<_> = all.iter().map(|d| &d.feeder).collect();
        let transformers: std::collections::BTreeSet<_> =
            all.iter().map(|d| &d.transformer).collect();
        assert_eq!((feeders.len(), transformers.len()), (2, 3));
        assert!(all[0].name.contains("three-phase"));
        assert!(all[1].name.contains("EV"));
        assert_eq!(all[1].owner.as_deref(), Some("alice"));
        assert_eq!(all[3].owner.as_deref(), Some("bob"));
        assert!(all.iter().all(|d| d.tariff.is_some()));
    }
}
