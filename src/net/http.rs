//! The one HTTP client behind every network source and target: Prometheus's
//! HTTP API (gates) and etcd's JSON gateway (shared mode).
//!
//! The rollout driver is synchronous (one ring at a time, a soak is a sleep),
//! so the client owns a small tokio runtime and callers `block_on` the async
//! calls; several requests that do not depend on each other (the gates of one
//! round) run concurrently with [`HttpClient::block_on_all`].
//!
//! Retries: connection failures, timeouts and 5xx/429 answers are retried with
//! exponential backoff up to `attempts`; any other status is returned at once
//! with its body, because Prometheus and etcd explain a rejected request there.
//! Credentials come from the environment or flags, never from repo files.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

/// How one client authenticates and retries.
#[derive(Debug, Clone)]
pub(crate) struct HttpOptions {
    /// Per-request timeout (connect + answer).
    pub timeout: Duration,
    /// Tries per request, including the first (at least 1).
    pub attempts: u32,
    /// Backoff before the second try; doubled each time, capped at 8×.
    pub backoff: Duration,
    pub auth: Auth,
    /// PEM file of the CA that signs the server's certificate (added to the system roots).
    pub ca_file: Option<PathBuf>,
    /// PEM files of a client certificate and its key (mutual TLS).
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(10),
            attempts: 4,
            backoff: Duration::from_millis(250),
            auth: Auth::None,
            ca_file: None,
            client_cert: None,
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Auth {
    None,
    Bearer(String),
    Basic { user: String, password: String },
}

impl std::fmt::Debug for Auth {
    // Never print a secret, not even in a debug dump.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Bearer(_) => f.write_str("Bearer(***)"),
            Auth::Basic { user, .. } => write!(f, "Basic({user}, ***)"),
        }
    }
}

impl Auth {
    /// Reads `<PREFIX>_BEARER_TOKEN`, or `<PREFIX>_USERNAME` and
    /// `<PREFIX>_PASSWORD`, from the environment (for example `PREFIX` =
    /// `RINGMASTER_PROMETHEUS`).
    pub(crate) fn from_env(prefix: &str) -> Auth {
        let var = |name: &str| {
            std::env::var(format!("{prefix}_{name}"))
                .ok()
                .filter(|v| !v.is_empty())
        };
        if let Some(token) = var("BEARER_TOKEN") {
            return Auth::Bearer(token);
        }
        match (var("USERNAME"), var("PASSWORD")) {
            (Some(user), password) => Auth::Basic {
                user,
                password: password.unwrap_or_default(),
            },
            _ => Auth::None,
        }
    }
}

/// Why a request got no usable answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// Nothing answered (or only 5xx/429) after every try.
    #[error("{url} is unreachable after {attempts} tries: {last}")]
    Unreachable {
        url: String,
        attempts: u32,
        last: String,
    },
    /// The server answered with a non-retryable status; `body` says why.
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    /// The answer was not the JSON we asked for.
    #[error("{url} answered with something that is not JSON: {detail}")]
    Decode { url: String, detail: String },
}

impl HttpError {
    /// The body of a rejected request parsed as JSON, when it is JSON.
    pub(crate) fn json_body(&self) -> Option<serde_json::Value> {
        match self {
            HttpError::Status { body, .. } => serde_json::from_str(body).ok(),
            _ => None,
        }
    }
}

/// Installs ring as rustls's process-wide provider (reqwest is built without
/// one, to keep aws-lc's C build out). Idempotent.
fn install_crypto_provider() {
    // `Err` means one is installed already, which is the goal.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

pub(crate) struct HttpClient {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    options: HttpOptions,
}

/// Largest answer body read into memory (a runaway range query must not eat
/// the machine).
const MAX_BODY: usize = 256 * 1024 * 1024;

impl HttpClient {
    pub(crate) fn new(options: HttpOptions) -> anyhow::Result<HttpClient> {
        install_crypto_provider();
        // A header value cannot hold a control character: reqwest would fail
        // every request alike, which reads as "unreachable after 4 tries".
        let control = |s: &str| s.chars().any(char::is_control);
        match &options.auth {
            Auth::Bearer(token) if control(token) => {
                return Err(crate::exit::Failure::usage(
                    "the bearer token contains a newline or another control character; set it without one (a trailing newline from a file is the usual cause)",
                ));
            }
            Auth::Basic { user, password } if control(user) || control(password) => {
                return Err(crate::exit::Failure::usage(
                    "the user name or password contains a newline or another control character; set it without one",
                ));
            }
            _ => {}
        }
        let mut builder = reqwest::Client::builder()
            .timeout(options.timeout)
            .connect_timeout(options.timeout.min(Duration::from_secs(5)))
            .no_proxy()
            .user_agent(concat!("ringmaster/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &options.ca_file {
            let pem = std::fs::read(ca)
                .with_context(|| format!("cannot read the CA file {}", ca.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|certs| !certs.is_empty())
                .ok_or_else(|| {
                    crate::exit::Failure::usage(format!(
                        "the CA file {} holds no PEM certificate; pass the CA's PEM file (`-----BEGIN CERTIFICATE-----`)",
                        ca.display()
                    ))
                })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Some((cert, key)) = &options.client_cert {
            let mut pem = std::fs::read(cert).with_context(|| {
                format!("cannot read the client certificate {}", cert.display())
            })?;
            pem.push(b'\n');
            pem.extend(
                std::fs::read(key)
                    .with_context(|| format!("cannot read the client key {}", key.display()))?,
            );
            let identity = reqwest::Identity::from_pem(&pem).with_context(|| {
                format!(
                    "{} and {} are not a PEM certificate and its private key",
                    cert.display(),
                    key.display()
                )
            })?;
            builder = builder.identity(identity);
        }
        let client = builder.build().context("cannot set up the HTTP client")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        Ok(HttpClient {
            runtime,
            client,
            options,
        })
    }

    /// Runs one future to completion on the client's runtime.
    pub(crate) fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// GET `url?query` and parse the JSON answer (the client's own tests).
    #[cfg(test)]
    pub(crate) async fn get_json(
        &self,
        url: &str,
        query: &[(&str, &str)],
    ) -> Result<serde_json::Value, HttpError> {
        self.send(url, || self.client.get(url).query(query)).await
    }

    /// POST `body` as JSON to `url`, with extra headers, and parse the JSON
    /// answer (etcd wants its auth token as a bare `Authorization: <token>`,
    /// not a bearer token).
    pub(crate) async fn post_json(
        &self,
        url: &str,
        body: &serde_json::Value,
        headers: &[(&str, &str)],
    ) -> Result<serde_json::Value, HttpError> {
        self.send(url, || {
            headers
                .iter()
                .fold(self.client.post(url).json(body), |req, (name, value)| {
                    req.header(*name, *value)
                })
        })
        .await
    }

    /// POST with a form body (Prometheus accepts long queries this way).
    pub(crate) async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<serde_json::Value, HttpError> {
        let encoded = form
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.send(url, || {
            self.client
                .post(url)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(encoded.clone())
        })
        .await
    }

    /// One request with a raw body and no retry (the caller retries and
    /// records each attempt): the status the server answered, or why none
    /// came. The answer's body is read (bounded) and dropped. The message
    /// of a failure never holds the URL or a header value.
    pub(crate) async fn send_once(
        &self,
        method: reqwest::Method,
        url: &str,
        content_type: &str,
        body: Vec<u8>,
        headers: &[(String, String)],
    ) -> Result<u16, String> {
        let request = headers.iter().fold(
            self.client
                .request(method, url)
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body),
            |req, (name, value)| req.header(name.as_str(), value.as_str()),
        );
        let response = request.send().await.map_err(describe)?;
        let status = response.status().as_u16();
        read_body(response).await?;
        Ok(status)
    }

    async fn send(
        &self,
        url: &str,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<serde_json::Value, HttpError> {
        let attempts = self.options.attempts.max(1);
        let mut backoff = self.options.backoff;
        let mut last = String::new();
        for attempt in 1..=attempts {
            if attempt > 1 {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(self.options.backoff * 8);
            }
            let req = match &self.options.auth {
                Auth::None => request(),
                Auth::Bearer(token) => request().bearer_auth(token),
                Auth::Basic { user, password } => request().basic_auth(user, Some(password)),
            };
            let response = match req.send().await {
                Ok(r) => r,
                Err(e) => {
                    last = describe(e);
                    continue;
                }
            };
            let status = response.status();
            let body = match read_body(response).await {
                Ok(b) => b,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            if status.is_server_error() || status.as_u16() == 429 {
                last = format!(
                    "{status}: {}",
                    scrub_query(url, truncate(&String::from_utf8_lossy(&body)))
                );
                // Prometheus answers 503 for a query that timed out on its side and
                // 422 for one it cannot execute; 5xx alone is worth another try.
                continue;
            }
            if !status.is_success() {
                return Err(HttpError::Status {
                    url: redact_url(url),
                    status: status.as_u16(),
                    body: scrub_query(url, truncate(&String::from_utf8_lossy(&body))),
                });
            }
            return serde_json::from_slice(&body).map_err(|e| HttpError::Decode {
                url: redact_url(url),
                detail: e.to_string(),
            });
        }
        Err(HttpError::Unreachable {
            url: redact_url(url),
            attempts,
            last,
        })
    }
}

async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(describe)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("answer larger than {} MiB", MAX_BODY >> 20));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// reqwest's Display stops at the outermost error; the cause (connection
/// refused, certificate unknown) is what a person needs. The URL is left
/// out: its query may hold a token, and the caller names the server.
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A URL as messages may show it: no user or password, no query (it may
/// hold a token), no fragment. Text that is not a URL keeps only what comes
/// before any `?`, `#` or `@`.
pub(crate) fn redact_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let had_query = u.query().is_some();
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            let mut shown = u.to_string().trim_end_matches('/').to_owned();
            if had_query {
                shown.push_str("?…");
            }
            shown
        }
        Err(_) => {
            let end = url.find(['?', '#']).unwrap_or(url.len());
            let head = &url[..end];
            match head.rfind('@') {
                Some(at) => format!("…{}", &head[at..]),
                None => head.to_owned(),
            }
        }
    }
}

/// `text` without the values of `url`'s query: a server or proxy that echoes
/// the request in its error page must not put a token into our messages.
fn scrub_query(url: &str, text: &str) -> String {
    let Some(query) = reqwest::Url::parse(url)
        .ok()
        .and_then(|u| u.query().map(str::to_owned))
    else {
        return text.to_owned();
    };
    let mut out = text.replace(&query, "…");
    for pair in query.split('&') {
        let value = pair.split_once('=').map_or(pair, |(_, v)| v);
        // Short values (`1`, `on`) are not secrets and would mangle the text.
        if value.len() >= 4 {
            out = out.replace(value, "…");
        }
    }
    out
}

/// The URL of an API path (`api/v1/query`) under a base URL: appended to
/// the base's path (a base like `https://host/prom/` keeps its `/prom`),
/// with the base's query kept. A base with a fragment or credentials is
/// refused, as anything but http(s) is; the message never shows the query.
pub(crate) fn api_url(base: &str, api: &str) -> Result<reqwest::Url, String> {
    let shown = redact_url(base);
    let mut url = reqwest::Url::parse(base)
        .ok()
        .filter(|u| {
            matches!(u.scheme(), "http" | "https") && u.host_str().is_some_and(|h| !h.is_empty())
        })
        .ok_or_else(|| format!("`{shown}` is not an http:// or https:// URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`{shown}` holds credentials; remove them and pass them through the environment instead"
        ));
    }
    if url.fragment().is_some() {
        return Err(format!(
            "`{shown}` has a fragment (`#…`), which is never sent to a server; remove it"
        ));
    }
    let path = format!(
        "{}/{}",
        url.path().trim_end_matches('/'),
        api.trim_start_matches('/')
    );
    url.set_path(&path);
    Ok(url)
}

fn truncate(s: &str) -> &str {
    const LIMIT: usize = 2000;
    if s.len() <= LIMIT {
        return s;
    }
    let mut end = LIMIT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_debug_hides_secrets() {
        let a = Auth::Basic {
            user: "ci".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{a:?}").contains("hunter2"));
        assert!(!format!("{:?}", Auth::Bearer("tok".into())).contains("tok"));
    }

    #[test]
    fn unreachable_after_retries() {
        // A port nothing listens on: bind, learn the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let client = HttpClient::new(HttpOptions {
            attempts: 3,
            backoff: Duration::from_millis(10),
            ..HttpOptions::default()
        })
        .expect("client");
        let url = format!("http://127.0.0.1:{port}/api/v1/query");
        let err = client
            .block_on(client.get_json(&url, &[("query", "up")]))
            .expect_err("nothing listens");
        match err {
            HttpError::Unreachable { attempts, last, .. } => {
                assert_eq!(attempts, 3);
                assert!(last.to_lowercase().contains("connect"), "{last}");
            }
            other => panic!("expected unreachable, got {other}"),
        }
    }

    #[test]
    fn api_paths_join_the_base_path_and_keep_its_query() {
        let join = |base: &str| api_url(base, "api/v1/query").map(|u| u.to_string());
        assert_eq!(
            join("http://h:9090").as_deref(),
            Ok("http://h:9090/api/v1/query")
        );
        assert_eq!(
            join("https://h/prom/?token=s3cret").as_deref(),
            Ok("https://h/prom/api/v1/query?token=s3cret")
        );
        for bad in ["http://h/#x", "http://u:s3cret@h/", "ftp://h/", "h:9090"] {
            let err = join(bad).unwrap_err();
            assert!(!err.contains("s3cret"), "{err}");
        }
        assert_eq!(
            redact_url("http://u:s3cret@h:1/p?token=s3cret#f"),
            "http://h:1/p?…"
        );
        assert_eq!(redact_url("nonsense?token=s3cret"), "nonsense");
        assert_eq!(
            scrub_query(
                "http://h/?token=s3cret&x=1",
                "404 for /?token=s3cret&x=1, s3cret"
            ),
            "404 for /?…, …"
        );
    }

    #[test]
    fn form_encoding() {
        assert_eq!(
            urlencode("sum(rate(x[5m]))"),
            "sum%28rate%28x%5B5m%5D%29%29"
        );
    }
}
