//! The HTTP API under `/api/v1`, `/metrics` and `/healthz`, served by axum.

use crate::service::Shared;
use axum::Router;
use axum::routing::get;
use tokio::sync::watch;

/// Serves the API on `listener` until `stop` turns true.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Shared,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .with_state(shared);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        })
        .await
        .map_err(|error| error.to_string())
}
