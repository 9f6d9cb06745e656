//! Market prices into the store: text in the tariff crate's formats (JSON, CSV, ENTSO-E
//! day-ahead CSV) given to the API, and the HTTP sources in `[[billing.price_sources]]`
//! that the hub fetches every `every_s` seconds. A fetch that fails is logged and counted
//! and tried again at the next tick; the prices already stored stay.

use super::BillingError;
use crate::config::{PriceFormat, PriceSourceConfig};
use joule_store::Store;
use joule_tariff::{PricePoint, PriceSeries};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Reads price text. `zone` is the bidding zone for ENTSO-E's local-time CSV.
pub fn parse(
    text: &str,
    format: PriceFormat,
    zone: Option<&str>,
) -> Result<Vec<PricePoint>, BillingError> {
    let invalid = |error: joule_tariff::SeriesError| BillingError::Prices(error.to_string());
    let series = match format {
        PriceFormat::Json => PriceSeries::from_json(text).map_err(invalid)?,
        PriceFormat::Csv => PriceSeries::from_csv(text).map_err(invalid)?,
        PriceFormat::EntsoeCsv => {
            let zone = zone.ok_or_else(|| {
                BillingError::Prices("ENTSO-E prices need the bidding zone's time zone".into())
            })?;
            let zone = jiff::tz::TimeZone::get(zone)
                .map_err(|error| BillingError::Prices(format!("time zone `{zone}`: {error}")))?;
            PriceSeries::from_entsoe_csv(text, &zone).map_err(invalid)?
        }
    };
    Ok(series.points().to_vec())
}

/// Stores price text for `market`; returns how many points were stored.
pub async fn import(
    store: &dyn Store,
    market: &str,
    text: &str,
    format: PriceFormat,
    zone: Option<&str>,
) -> Result<usize, BillingError> {
    if market.trim().is_empty() {
        return Err(BillingError::Prices("the market name is empty".into()));
    }
    let points = parse(text, format, zone)?;
    Ok(store.put_prices(market, &points).await?)
}

/// Fetches one source and stores what it answers.
pub async fn fetch_once(
    client: &reqwest::Client,
    store: &dyn Store,
    source: &PriceSourceConfig,
) -> Result<usize, BillingError> {
    let failed = |error: reqwest::Error| BillingError::Prices(format!("{}: {error}", source.url));
    let response = client
        .get(&source.url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(failed)?;
    let text = response.text().await.map_err(failed)?;
    import(
        store,
        &source.market,
        &text,
        source.format,
        source.time_zone.as_deref(),
    )
    .await
}

/// Fetches every configured source on its own schedule, forever (the caller aborts it),
/// notifying `fetched` after each fetch that stored prices.
pub async fn fetch_sources(
    store: Arc<dyn Store>,
    sources: Vec<PriceSourceConfig>,
    fetched: Arc<Notify>,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "no HTTP client for price sources");
            return;
        }
    };
    // Dropping the set (when this future is aborted) aborts every source's task.
    let mut tasks = tokio::task::JoinSet::new();
    for source in sources {
        let (client, store) = (client.clone(), Arc::clone(&store));
        let fetched = Arc::clone(&fetched);
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(source.every_s.into()));
            loop {
                tick.tick().await;
                match fetch_once(&client, store.as_ref(), &source).await {
                    Ok(points) => {
                        metrics::counter!(crate::telemetry::names::PRICES_FETCHED_TOTAL)
                            .increment(1);
                        tracing::info!(market = source.market, points, "prices fetched");
                        fetched.notify_one();
                    }
                    Err(error) => {
                        metrics::counter!(crate::telemetry::names::PRICES_FETCH_FAILED_TOTAL)
                            .increment(1);
                        tracing::warn!(market = source.market, %error, "fetching prices failed");
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_reads_and_errors_say_why() {
        let json = r#"[{"start":"2026-06-01T00:00:00Z","end":"2026-06-01T01:00:00Z","price_per_kwh":0.1}]"#;
        assert_eq!(parse(json, PriceFormat::Json, None).expect("json").len(), 1);
        let csv = "start,end,price_per_kwh\n2026-06-01T00:00:00Z,2026-06-01T00:15:00Z,0.0912\n";
        let points = parse(csv, PriceFormat::Csv, None).expect("csv");
        assert_eq!(points[0].price_per_kwh, joule_tariff::Micros(91_200));
        let entsoe = "\"MTU (CET/CEST)\",\"Day-ahead Price [EUR/MWh]\",\"Currency\"\n\
                      \"01.06.2026 00:00 - 01.06.2026 01:00\",\"81.50\",\"EUR\"\n";
        let points =
            parse(entsoe, PriceFormat::EntsoeCsv, Some("Europe/Amsterdam")).expect("entsoe");
        assert_eq!(points[0].start.to_string(), "2026-05-31T22:00:00Z");
        assert!(parse(entsoe, PriceFormat::EntsoeCsv, None).is_err());
        let error = parse(
            "start,end,price_per_kwh\nyesterday,today,1\n",
            PriceFormat::Csv,
            None,
        )
        .expect_err("bad instant");
        assert!(error.to_string().contains("yesterday"), "{error}");
    }
}
