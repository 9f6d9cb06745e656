//! Provisioning simulated meters through a running hub's API: log in, register each meter
//! (`POST /api/v1/meters`), keep the device token it returns. reqwest, the HTTP client the
//! hub already uses for webhooks and price sources, over `http://` or `https://`.

use anyhow::{Context, bail};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::credentials::Credentials;

/// A logged-in session with a hub's API.
#[derive(Debug)]
pub(crate) struct Session {
    client: reqwest::Client,
    base: String,
    cookie: String,
    csrf_token: String,
}

/// Sends `request`; the status, the session cookie it set (if any) and the body as JSON.
async fn send(
    request: reqwest::RequestBuilder,
) -> anyhow::Result<(StatusCode, Option<String>, Value)> {
    let response = request.send().await.context("request to the hub's API")?;
    let status = response.status();
    let cookie = response
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_owned);
    let json = response.json().await.unwrap_or(Value::Null);
    Ok((status, cookie, json))
}

impl Session {
    /// Logs in to the hub at `url` (`http://host:port` or `https://…`) as `username`.
    pub(crate) async fn login(url: &str, username: &str, password: &str) -> anyhow::Result<Self> {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            bail!("--hub-api must be an http:// or https:// URL");
        }
        let base = url.trim_end_matches('/').to_owned();
        let client = reqwest::Client::new();
        let body = json!({ "username": username, "password": password });
        let request = client.post(format!("{base}/api/v1/auth/login")).json(&body);
        let (status, cookie, json) = send(request).await?;
        if status != StatusCode::OK {
            bail!("login as {username} refused ({status}): {json}");
        }
        Ok(Self {
            client,
            base,
            cookie: cookie.context("the hub set no session cookie")?,
            csrf_token: json["csrf_token"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Registers meter `id` with `details` (name, feeder, …); returns its credentials.
    pub(crate) async fn add_meter(&self, id: &str, details: Value) -> anyhow::Result<Credentials> {
        let mut body = details;
        body["id"] = Value::from(id);
        let request = self
            .client
            .post(format!("{}/api/v1/meters", self.base))
            .header(reqwest::header::COOKIE, &self.cookie)
            .header("x-csrf-token", &self.csrf_token)
            .json(&body);
        let (status, _, json) = send(request).await?;
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
