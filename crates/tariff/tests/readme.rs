//! Every plan and price series in the README parses, so the examples stay true.

use jiff::tz::TimeZone;
use joule_tariff::{EnergyCharge, ExportCredit, Plan, PriceSeries};

/// The fenced blocks of a language in a Markdown text.
fn blocks<'a>(markdown: &'a str, language: &str) -> Vec<&'a str> {
    let fence = format!("```{language}\n");
    markdown
        .split(fence.as_str())
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap_or(""))
        .collect()
}

const README: &str = include_str!("../README.md");

#[test]
fn every_plan_example_parses() {
    let plans: Vec<Plan> = blocks(README, "toml")
        .into_iter()
        .map(|text| Plan::from_toml(text).unwrap_or_else(|error| panic!("{error}\n{text}")))
        .collect();
    assert_eq!(plans.len(), 5);
    let kinds: Vec<&str> = plans
        .iter()
        .map(|plan| match plan.versions()[0].import {
            EnergyCharge::Flat { .. } => "flat",
            EnergyCharge::Tiered { .. } => "tiered",
            EnergyCharge::TimeOfUse(_) => "time_of_use",
            EnergyCharge::Dynamic(_) => "dynamic",
        })
        .collect();
    assert_eq!(kinds, ["flat", "tiered", "time_of_use", "dynamic", "flat"]);
    assert!(matches!(
        plans[4].versions()[0].export,
        ExportCredit::NetMetering(_)
    ));
    assert!(matches!(
        plans[3].versions()[0].export,
        ExportCredit::NetBilling(_)
    ));
}

#[test]
fn every_series_example_parses() {
    let zone = TimeZone::get("Europe/Amsterdam").unwrap();
    let csv = blocks(README, "csv");
    assert_eq!(csv.len(), 2);
    for text in csv {
        let series = if text.starts_with("start,") {
            PriceSeries::from_csv(text)
        } else {
            PriceSeries::from_entsoe_csv(text, &zone)
        };
        assert_eq!(
            series
                .unwrap_or_else(|e| panic!("{e}\n{text}"))
                .points()
                .len(),
            3
        );
    }
    let json = blocks(README, "json");
    assert_eq!(json.len(), 1);
    assert_eq!(PriceSeries::from_json(json[0]).unwrap().points().len(), 2);
}

#[test]
fn the_config_doc_example_parses() {
    let config = include_str!("../../../docs/CONFIG.md");
    let section = config
        .split("## Tariffs")
        .nth(1)
        .expect("CONFIG.md has a Tariffs section");
    let example = blocks(section, "toml")[0];
    let plan = Plan::from_toml(example).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(plan.holidays().len(), 2);
    assert!(plan.versions()[0].demand.is_some());
}
