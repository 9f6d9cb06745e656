//! Provisioning simulated meters through a running hub's API: log in, register each meter
//! (`POST /api/v1/meters`), keep the device token it returns. Plain HTTP/1.1 over
//! `hyper`: the hub's API on a trusted network or 127.0.0.1.

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use super::Credentials;

/// A logged-in session with a hub's API.
#[derive(Debug)]
pub(crate) struct Session {
    authority: String,
    cookie: String,
    csrf_token: String,
}

/// The `host:port` of an `http://host:port` URL.
fn authority(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("http://")
        .context("--hub-api must be an http:// URL (put TLS in front of the hub, not here)")?;
    Ok(rest.trim_end_matches('/').to_owned())
}

/// One request; the status, the `Set-Cookie` header and the body as JSON.
async fn send(
    authority: &str,
    request: Request<Full<Bytes>>,
) -> anyhow::Result<(StatusCode, Option<String>, Value)> {
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .with_context(|| format!("connecting to the hub's API at {authority}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake with the hub")?;
    tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .context("request to the hub")?;
    let status = response.status();
    let cookie = response
        .headers()
        .get(hyper::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let body = response.into_body().collect().await?.to_bytes();
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Ok((status, cookie, json))
}

impl Session {
    /// Logs in to the hub at `url` as `username`.
    pub(crate) async fn login(url: &str, username: &str, password: &str) -> anyhow::Result<Self> {
        let authority = authority(url)?;
        let body = json!({ "username": username, "password": password }).to_string();
        let request = Request::post("/api/v1/auth/login")
            .header("host", &authority)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let (status, cookie, json) = send(&authority, request).await?;
        if status != StatusCode::OK {
            bail!("login as {username} refused ({status}): {json}");
        }
        Ok(Self {
            authority,
            cookie: cookie.context("the hub set no session cookie")?,
            csrf_token: json["csrf_token"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Registers meter `id` with `details` (name, feeder, …); returns its credentials.
    pub(crate) async fn add_meter(&self, id: &str, details: Value) -> anyhow::Result<Credentials> {
        let mut body = details;
        body["id"] = Value::from(id);
        let request = Request::post("/api/v1/meters")
            .header("host", &self.authority)
            .header("content-type", "application/json")
            .header("cookie", &self.cookie)
            .header("x-csrf-token", &self.csrf_token)
            .body(Full::new(Bytes::from(body.to_string())))?;
        let (status, _, json) = send(&self.authority, request).await?;
        if status != StatusCode::CREATED {
            bail!("registering meter {id} refused ({status}): {json}");
        }
        let token = json["token"].as_str().context("no token in the answer")?;
        Ok(Credentials {
            id: id.to_owned(),
            token: token.to_owned(),
        })
    }
}
