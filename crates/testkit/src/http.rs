//! A small HTTP/1.1 client for tests of the hub's API, so they speak to the real server
//! over a real socket without pulling a full HTTP client stack into the build.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response: status, headers (names lower-cased) and body.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body (empty for event streams, which never end).
    pub body: String,
}

impl Response {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.body))
    }
}

/// Sends one request to 127.0.0.1:`port` and reads the answer. For `text/event-stream`
/// answers only the head is read (the stream is left open, then dropped).
pub async fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Response {
    request_typed(port, method, path, headers, body, "application/json").await
}

/// Like [`request`], with a body of the media type `content_type`.
pub async fn request_typed(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
    content_type: &str,
) -> Response {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to the API");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        head.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    head.push_str(body.unwrap_or_default());
    stream.write_all(head.as_bytes()).await.expect("send");
    let mut received = Vec::new();
    let mut buffer = [0u8; 8192];
    let head_end = loop {
        let n = stream.read(&mut buffer).await.expect("read");
        assert!(n > 0, "connection closed before the response head");
        received.extend_from_slice(&buffer[..n]);
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
    };
    let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let mut response = Response {
        status,
        headers,
        body: String::new(),
    };
    if response
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/event-stream"))
    {
        return response;
    }
    let mut rest = received[head_end + 4..].to_vec();
    stream.read_to_end(&mut rest).await.expect("read body");
    response.body = if response.header("transfer-encoding") == Some("chunked") {
        dechunk(&rest)
    } else {
        String::from_utf8_lossy(&rest).into_owned()
    };
    response
}

fn dechunk(mut data: &[u8]) -> String {
    let mut body = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..line_end]).trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        body.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
    String::from_utf8_lossy(&body).into_owned()
}

/// Logs `username` in at the hub's API on `port`; returns the headers that authenticate
/// its requests (the session cookie, which must be HttpOnly and SameSite=Strict, and the
/// CSRF token).
pub async fn login(port: u16, username: &str, password: &str) -> Vec<(String, String)> {
    let body = serde_json::json!({"username": username, "password": password});
    let response = request(
        port,
        "POST",
        "/api/v1/auth/login",
        &[],
        Some(&body.to_string()),
    )
    .await;
    assert_eq!(response.status, 200, "login {username}: {}", response.body);
    let cookie = response.header("set-cookie").expect("session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let session = cookie.split(';').next().expect("cookie pair").to_owned();
    let csrf = response.json()["csrf_token"]
        .as_str()
        .expect("csrf token")
        .to_owned();
    vec![("Cookie".into(), session), ("X-CSRF-Token".into(), csrf)]
}

/// [`request`] with owned headers (as [`login`] returns them).
pub async fn call(
    port: u16,
    headers: &[(String, String)],
    method: &str,
    path: &str,
    body: Option<&str>,
) -> Response {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    request(port, method, path, &headers, body).await
}

/// The hub's HTTP API on a port of 127.0.0.1.
#[derive(Debug, Clone, Copy)]
pub struct Api {
    /// Its port.
    pub port: u16,
}

impl Api {
    /// [`login`] at this API.
    pub async fn login(&self, username: &str, password: &str) -> Vec<(String, String)> {
        login(self.port, username, password).await
    }

    /// [`call`] at this API.
    pub async fn call(
        &self,
        headers: &[(String, String)],
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> Response {
        call(self.port, headers, method, path, body).await
    }
}
