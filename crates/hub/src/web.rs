//! The web portal: a small front end (plain JavaScript modules over the JSON API, charts by
//! the vendored uPlot) embedded in the binary, so the hub serves it with no build step, no
//! CDN and no files beside the binary.
//!
//! `/` redirects to `/portal/`. Every page under `/portal/` gets the same shell
//! (`web/index.html`); the front end routes on the path. The files of `crates/hub/web/`
//! are served at `/portal/assets/…`. Responses carry a strict content security policy (only
//! this origin's scripts, styles and connections) and an ETag, so a browser revalidates
//! cheaply and always runs the hub's own version.

use axum::Router;
use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Where the portal lives.
pub const PORTAL_PATH: &str = "/portal/";

/// What the browser may load and run: this origin only, no inline code.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
    connect-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
    form-action 'self'";

/// One embedded file of `crates/hub/web/`: its path there and its bytes.
type Asset = (&'static str, &'static [u8]);

macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $path)))),*]
    };
}

/// Every file of the portal (a unit test checks that this list matches the directory).
const ASSETS: &[Asset] = assets![
    "index.html",
    "app.css",
    "manifest.webmanifest",
    "icon.svg",
    "icon-192.png",
    "icon-512.png",
    "js/api.js",
    "js/chart.js",
    "js/dom.js",
    "js/format.js",
    "js/main.js",
    "js/pages/alerts.js",
    "js/pages/audit.js",
    "js/pages/bill.js",
    "js/pages/bills.js",
    "js/pages/commands.js",
    "js/pages/events.js",
    "js/pages/fleet.js",
    "js/pages/history.js",
    "js/pages/insights.js",
    "js/pages/login.js",
    "js/pages/meter.js",
    "js/pages/meters.js",
    "js/pages/run.js",
    "js/pages/runs.js",
    "js/pages/tariffs.js",
    "js/pages/users.js",
    "vendor/uplot/LICENSE",
    "vendor/uplot/VERSION",
    "vendor/uplot/uPlot.iife.min.js",
    "vendor/uplot/uPlot.min.css",
];

/// The portal's routes (stateless, so they merge into any router).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::to(PORTAL_PATH) }))
        .route("/portal", get(|| async { Redirect::to(PORTAL_PATH) }))
        .route(
            "/portal/",
            get(|headers: HeaderMap| async move { page(&headers) }),
        )
        .route("/portal/{*path}", get(portal))
}

/// A page (the shell) or, under `assets/`, an embedded file.
async fn portal(Path(path): Path<String>, headers: HeaderMap) -> Response {
    match path.strip_prefix("assets/") {
        Some(asset) => match ASSETS.iter().position(|(name, _)| *name == asset) {
            Some(index) => respond(index, &headers),
            None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
        },
        None => page(&headers),
    }
}

/// The shell every page starts from.
fn page(headers: &HeaderMap) -> Response {
    let index = ASSETS
        .iter()
        .position(|(name, _)| *name == "index.html")
        .unwrap_or_default();
    respond(index, headers)
}

/// The asset at `index`, or 304 when the browser has this version.
fn respond(index: usize, headers: &HeaderMap) -> Response {
    let (name, body) = ASSETS[index];
    let etag = &etags()[index];
    let common = [
        (CACHE_CONTROL, "no-cache"),
        (CONTENT_SECURITY_POLICY, CSP),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (X_FRAME_OPTIONS, "DENY"),
        (REFERRER_POLICY, "same-origin"),
    ];
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    if fresh {
        return (StatusCode::NOT_MODIFIED, common, [(ETAG, etag.as_str())]).into_response();
    }
    (
        common,
        [(CONTENT_TYPE, content_type(name)), (ETAG, etag.as_str())],
        body,
    )
        .into_response()
}

/// Each asset's ETag: a quoted prefix of its SHA-256.
fn etags() -> &'static [String] {
    static ETAGS: OnceLock<Vec<String>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|(_, body)| {
                let digest = Sha256::digest(body);
                let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
                format!("\"{hex}\"")
            })
            .collect()
    })
}

/// The media type of an asset, from its name.
fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map_or("", |(_, extension)| extension) {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        _ => "text/plain; charset=utf-8",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path as FsPath;

    fn files_under(root: &FsPath, dir: &FsPath, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read web dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                files_under(root, &path, found);
            } else {
                let relative = path.strip_prefix(root).expect("under root");
                found.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn every_file_of_the_web_directory_is_embedded_and_nothing_else() {
        let root = FsPath::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut on_disk = Vec::new();
        files_under(&root, &root, &mut on_disk);
        on_disk.sort();
        let mut embedded: Vec<String> = ASSETS.iter().map(|(n, _)| (*n).to_owned()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk);
    }

    #[test]
    fn media_types_follow_the_extension() {
        assert_eq!(content_type("js/main.js"), "text/javascript; charset=utf-8");
        assert_eq!(
            content_type("manifest.webmanifest"),
            "application/manifest+json"
        );
        assert_eq!(
            content_type("vendor/uplot/LICENSE"),
            "text/plain; charset=utf-8"
        );
    }
}
