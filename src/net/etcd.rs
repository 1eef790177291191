//! A small client for etcd's v3 JSON gateway (`/v3/kv/*`, `/v3/lease/*`,
//! `/v3/auth/authenticate`), over the shared [`HttpClient`].
//!
//! Why the gateway and not gRPC: the `etcd-client` crate needs `protoc` to
//! build, which breaks `cargo install` and pre-commit; the gateway is part of
//! every etcd since 3.3 and speaks plain JSON (keys and values base64,
//! int64 fields as strings).
//!
//! Several endpoints: a call goes to the endpoint that answered last and moves
//! on to the next when one does not answer; the whole list is retried with
//! backoff for `retry_for` (an etcd restart or a leader election is seconds),
//! then the call fails with every endpoint named. A call that reached etcd but
//! whose answer was lost may be sent twice: every write ringmaster makes is a
//! transaction guarded by a compare, so a repeat fails its compare instead of
//! applying twice, and the callers recognise their own earlier write.

use std::cell::{Cell, RefCell};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

use crate::net::http::{Auth, HttpClient, HttpError, HttpOptions};

/// Where etcd is and how to reach it. Credentials come from flags or the
/// environment, never from files in the config repo.
#[derive(Clone, PartialEq, Eq)]
pub struct EtcdOptions {
    /// Client URLs, e.g. `https://10.0.0.1:2379`.
    pub endpoints: Vec<String>,
    /// PEM file of the CA that signs etcd's server certificate.
    pub ca_file: Option<PathBuf>,
    /// PEM files of a client certificate and its key (etcd `--client-cert-auth`).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// etcd user name and password (etcd `auth enable`).
    pub user: Option<String>,
    pub password: Option<String>,
    /// How long one call keeps retrying before it fails.
    pub retry_for: Duration,
}

impl std::fmt::Debug for EtcdOptions {
    // Never print the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdOptions")
            .field("endpoints", &self.endpoints)
            .field("ca_file", &self.ca_file)
            .field("client_cert", &self.client_cert)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("retry_for", &self.retry_for)
            .finish()
    }
}

impl EtcdOptions {
    pub fn new(endpoints: Vec<String>) -> EtcdOptions {
        EtcdOptions {
            endpoints,
            ca_file: None,
            client_cert: None,
            user: None,
            password: None,
            retry_for: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum EtcdError {
    #[error("etcd is unreachable at {endpoints} (retried for {secs} s): {last}")]
    Unreachable {
        endpoints: String,
        secs: u64,
        last: String,
    },
    #[error("etcd at {endpoint} refused {call}: {message}{hint}")]
    Rejected {
        endpoint: String,
        call: String,
        message: String,
        hint: &'static str,
    },
    #[error("etcd at {endpoint} answered {call} with something unexpected: {detail}")]
    Protocol {
        endpoint: String,
        call: String,
        detail: String,
    },
}

/// One key-value as etcd stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kv {
    pub key: String,
    pub value: Vec<u8>,
    pub create_revision: i64,
    pub mod_revision: i64,
    /// The lease the key is attached to (0: none).
    pub lease: i64,
}

impl Kv {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.value).into_owned()
    }

    fn from_json(v: &Value) -> Option<Kv> {
        let bytes = |name: &str| match v.get(name).and_then(Value::as_str) {
            Some(s) => B64.decode(s).ok(),
            None => Some(Vec::new()),
        };
        Some(Kv {
            key: String::from_utf8(bytes("key")?).ok()?,
            value: bytes("value")?,
            create_revision: int(v.get("create_revision")),
            mod_revision: int(v.get("mod_revision")),
            lease: int(v.get("lease")),
        })
    }
}

/// etcd's int64 fields arrive as JSON strings, and are left out when zero.
fn int(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::String(s)) => s.parse().unwrap_or(0),
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        _ => 0,
    }
}

fn b64(s: impl AsRef<[u8]>) -> String {
    B64.encode(s.as_ref())
}

/// The end of the range of keys starting with `prefix` (etcd's `--prefix`).
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    // Every byte 0xff: the range runs to the end of the key space.
    vec![0]
}

// Compares and operations of a transaction, as the gateway's JSON.

/// The key does not exist.
pub(crate) fn cmp_absent(key: &str) -> Value {
    json!({"key": b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"})
}

/// The key was last written at `revision` (so nobody wrote it since we read it).
pub(crate) fn cmp_mod_revision(key: &str, revision: i64) -> Value {
    json!({"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": revision.to_string()})
}

/// The key exists and is attached to `lease` (the fence of a lock holder).
pub(crate) fn cmp_lease(key: &str, lease: i64) -> Value {
    json!({"key": b64(key), "target": "LEASE", "result": "EQUAL", "lease": lease.to_string()})
}

/// No key starts with `prefix` (a compare over the range `[prefix, end)`).
pub(crate) fn cmp_prefix_empty(prefix: &str) -> Value {
    json!({
        "key": b64(prefix), "range_end": b64(prefix_end(prefix)),
        "target": "CREATE", "result": "EQUAL", "create_revision": "0",
    })
}

pub(crate) fn op_put(key: &str, value: &[u8], lease: Option<i64>) -> Value {
    let mut put = json!({"key": b64(key), "value": b64(value)});
    if let Some(lease) = lease {
        put["lease"] = json!(lease.to_string());
    }
    json!({"request_put": put})
}

pub(crate) fn op_get(key: &str) -> Value {
    json!({"request_range": {"key": b64(key)}})
}

pub(crate) fn op_delete(key: &str) -> Value {
    json!({"request_delete_range": {"key": b64(key)}})
}

pub(crate) fn op_delete_prefix(prefix: &str) -> Value {
    json!({"request_delete_range": {"key": b64(prefix), "range_end": b64(prefix_end(prefix))}})
}

/// What a transaction did: which branch ran, and the answers of its operations.
#[derive(Debug, Clone)]
pub(crate) struct TxnResult {
    pub succeeded: bool,
    responses: Vec<Value>,
}

impl TxnResult {
    /// The first key of the `i`-th operation, when it was a get that found one.
    pub(crate) fn got(&self, i: usize) -> Option<Kv> {
        self.responses
            .get(i)?
            .get("response_range")?
            .get("kvs")?
            .as_array()?
            .first()
            .and_then(Kv::from_json)
    }
}

/// A connection to one etcd cluster. Not shared between threads: a thread
/// that needs etcd (the lock's keep-alive) opens its own.
pub(crate) struct Etcd {
    http: HttpClient,
    options: EtcdOptions,
    /// The endpoint that answered last: tried first next time.
    current: Cell<usize>,
    /// The cluster that answered (from every answer's header): tells two
    /// clients of one cluster apart from clients of two clusters.
    cluster_id: RefCell<Option<String>>,
    token: RefCell<Option<String>>,
}

impl std::fmt::Debug for Etcd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Etcd({})", self.options.endpoints.join(","))
    }
}

impl Etcd {
    pub(crate) fn connect(options: EtcdOptions) -> anyhow::Result<Etcd> {
        if options.endpoints.is_empty() {
            anyhow::bail!("no etcd endpoint given");
        }
        for endpoint in &options.endpoints {
            let shown = crate::net::http::redact_url(endpoint);
            let Some(url) = reqwest::Url::parse(endpoint)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
            else {
                anyhow::bail!(
                    "etcd endpoint `{shown}` is not a URL: write it as http://HOST:PORT or https://HOST:PORT"
                );
            };
            // The API path is appended to the endpoint as text: a query or a
            // fragment would swallow it, and credentials belong in the
            // environment (they would be echoed in messages).
            if url.query().is_some()
                || url.fragment().is_some()
                || !url.username().is_empty()
                || url.password().is_some()
            {
                anyhow::bail!(
                    "etcd endpoint `{shown}` has a query, a fragment or credentials: write it as http://HOST:PORT and pass the user with --etcd-user and RINGMASTER_ETCD_PASSWORD"
                );
            }
        }
        let http = HttpClient::new(HttpOptions {
            timeout: Duration::from_secs(5),
            // Retries are ours: across endpoints, for `retry_for`.
            attempts: 1,
            backoff: Duration::from_millis(100),
            auth: Auth::None,
            ca_file: options.ca_file.clone(),
            client_cert: options.client_cert.clone(),
        })?;
        Ok(Etcd {
            http,
            options,
            current: Cell::new(0),
            cluster_id: RefCell::new(None),
            token: RefCell::new(None),
        })
    }

    /// The id of the cluster that answered last (none before the first answer).
    pub(crate) fn cluster_id(&self) -> Option<String> {
        self.cluster_id.borrow().clone()
    }

    /// The endpoints, for messages.
    pub(crate) fn describe(&self) -> String {
        self.options.endpoints.join(",")
    }

    /// One POST to the gateway, with failover, retries and authentication.
    fn call(&self, path: &str, body: &Value) -> Result<Value, EtcdError> {
        self.call_with(path, body, true)
    }

    fn call_with(&self, path: &str, body: &Value, may_reauth: bool) -> Result<Value, EtcdError> {
        let started = Instant::now();
        let n = self.options.endpoints.len();
        let mut backoff = Duration::from_millis(100);
        let mut last = String::new();
        loop {
            for i in 0..n {
                let index = (self.current.get() + i) % n;
                let endpoint = self.options.endpoints[index].trim_end_matches('/');
                let token = match self.token(endpoint) {
                    Ok(t) => t,
                    Err(EtcdError::Unreachable { last: l, .. }) => {
                        last = format!("{endpoint}: {l}");
                        continue;
                    }
                    Err(e) => return Err(e),
                };
                let url = format!("{endpoint}{path}");
                let headers: Vec<(&str, &str)> = token
                    .as_deref()
                    .map(|t| vec![("Authorization", t)])
                    .unwrap_or_default();
                let result =
                    self.http
                        .block_on(self.http.post_json(&url, body, headers.as_slice()));
                match result {
                    Ok(answer) => {
                        self.current.set(index);
                        let header = answer
                            .get("header")
                            .or_else(|| answer.get("result").and_then(|r| r.get("header")));
                        if let Some(id) = header
                            .and_then(|h| h.get("cluster_id"))
                            .and_then(Value::as_str)
                        {
                            *self.cluster_id.borrow_mut() = Some(id.to_owned());
                        }
                        return Ok(answer);
                    }
                    Err(HttpError::Unreachable { last: l, .. }) if too_large(&l) => {
                        // etcd answers 429 (gRPC resource exhausted) to a request over
                        // its size limit: not worth another try.
                        return Err(rejected(endpoint, path, l));
                    }
                    Err(HttpError::Unreachable { last: l, .. }) => {
                        last = format!("{endpoint}: {l}");
                    }
                    Err(e @ HttpError::Status { .. }) => {
                        let message = rejection(&e);
                        if token.is_some() && message.contains("token") && may_reauth {
                            // Tokens expire (etcd's simple tokens after 5 minutes
                            // idle): get a new one once, then try again.
                            *self.token.borrow_mut() = None;
                            return self.call_with(path, body, false);
                        }
                        return Err(rejected(endpoint, path, message));
                    }
                    Err(HttpError::Decode { detail, .. }) => {
                        return Err(EtcdError::Protocol {
                            endpoint: endpoint.to_owned(),
                            call: path.to_owned(),
                            detail,
                        });
                    }
                }
            }
            if started.elapsed() >= self.options.retry_for {
                return Err(EtcdError::Unreachable {
                    endpoints: self.describe(),
                    secs: self.options.retry_for.as_secs(),
                    last,
                });
            }
            std::thread::sleep(backoff);
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
    }

    /// The auth token for `endpoint`, authenticating first when a user is set.
    fn token(&self, endpoint: &str) -> Result<Option<String>, EtcdError> {
        let Some(user) = &self.options.user else {
            return Ok(None);
        };
        if let Some(token) = self.token.borrow().as_ref() {
            return Ok(Some(token.clone()));
        }
        let url = format!("{endpoint}/v3/auth/authenticate");
        let body =
            json!({"name": user, "password": self.options.password.clone().unwrap_or_default()});
        let answer = match self.http.block_on(self.http.post_json(&url, &body, &[])) {
            Ok(a) => a,
            Err(HttpError::Unreachable { last, .. }) => {
                return Err(EtcdError::Unreachable {
                    endpoints: endpoint.to_owned(),
                    secs: 0,
                    last,
                });
            }
            Err(e) => {
                let message = rejection(&e);
                if message.contains("authentication is not enabled") {
                    // Nothing to authenticate against: go on without a token.
                    return Ok(None);
                }
                return Err(EtcdError::Rejected {
                    endpoint: endpoint.to_owned(),
                    call: format!("authentication as `{user}`"),
                    message,
                    hint: "; check RINGMASTER_ETCD_USERNAME / --etcd-user and RINGMASTER_ETCD_PASSWORD",
                });
            }
        };
        let token = answer
            .get("token")
            .and_then(Value::as_str)
            .map(str::to_owned);
        self.token.borrow_mut().clone_from(&token);
        Ok(token)
    }

    /// The key, if it exists.
    pub(crate) fn get(&self, key: &str) -> Result<Option<Kv>, EtcdError> {
        let answer = self.call("/v3/kv/range", &json!({"key": b64(key)}))?;
        Ok(kvs(&answer).into_iter().next())
    }

    /// Every key under `prefix`, in key order, read in pages of 1 000 at one
    /// etcd revision (so the pages agree with each other).
    pub(crate) fn get_prefix(&self, prefix: &str, keys_only: bool) -> Result<Vec<Kv>, EtcdError> {
        match self.get_prefix_once(prefix, keys_only) {
            // etcd compacted the revision the pages were pinned to: read again
            // at the newest one.
            Err(EtcdError::Rejected { message, .. }) if message.contains("compacted") => {
                self.get_prefix_once(prefix, keys_only)
            }
            other => other,
        }
    }

    fn get_prefix_once(&self, prefix: &str, keys_only: bool) -> Result<Vec<Kv>, EtcdError> {
        const PAGE: usize = 1000;
        let end = b64(prefix_end(prefix));
        let mut out: Vec<Kv> = Vec::new();
        let mut start = prefix.as_bytes().to_vec();
        let mut at_revision = 0i64;
        loop {
            let mut body = json!({
                "key": b64(&start), "range_end": end, "limit": PAGE.to_string(),
                "keys_only": keys_only,
            });
            if at_revision > 0 {
                body["revision"] = json!(at_revision.to_string());
            }
            let answer = self.call("/v3/kv/range", &body)?;
            if at_revision == 0 {
                at_revision = int(answer.get("header").and_then(|h| h.get("revision")));
            }
            let page = kvs(&answer);
            let more = answer.get("more").and_then(Value::as_bool).unwrap_or(false);
            let Some(last) = page.last() else { break };
            start = last.key.as_bytes().to_vec();
            start.push(0);
            out.extend(page);
            if !more {
                break;
            }
        }
        Ok(out)
    }

    /// One transaction: if every compare holds, the success operations run,
    /// else the failure ones.
    pub(crate) fn txn(
        &self,
        compare: Vec<Value>,
        success: Vec<Value>,
        failure: Vec<Value>,
    ) -> Result<TxnResult, EtcdError> {
        let body = json!({"compare": compare, "success": success, "failure": failure});
        let answer = self.call("/v3/kv/txn", &body)?;
        Ok(TxnResult {
            succeeded: answer
                .get("succeeded")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            responses: answer
                .get("responses")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        })
    }

    /// A new lease of `ttl` seconds; its id.
    pub(crate) fn lease_grant(&self, ttl: i64) -> Result<i64, EtcdError> {
        let answer = self.call("/v3/lease/grant", &json!({"TTL": ttl.to_string()}))?;
        let id = int(answer.get("ID"));
        if id == 0 {
            return Err(EtcdError::Protocol {
                endpoint: self.describe(),
                call: "/v3/lease/grant".into(),
                detail: format!("no lease id in {answer}"),
            });
        }
        Ok(id)
    }

    /// Renews the lease; its remaining TTL in seconds (0: it has expired or
    /// was revoked).
    pub(crate) fn lease_keepalive(&self, id: i64) -> Result<i64, EtcdError> {
        let answer = self.call("/v3/lease/keepalive", &json!({"ID": id.to_string()}))?;
        Ok(int(answer.get("result").and_then(|r| r.get("TTL"))))
    }

    /// Ends the lease at once; the keys attached to it are deleted.
    pub(crate) fn lease_revoke(&self, id: i64) -> Result<(), EtcdError> {
        match self.call("/v3/lease/revoke", &json!({"ID": id.to_string()})) {
            Ok(_) => Ok(()),
            // Already gone is what we wanted.
            Err(EtcdError::Rejected { message, .. }) if message.contains("lease not found") => {
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

fn kvs(answer: &Value) -> Vec<Kv> {
    answer
        .get("kvs")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Kv::from_json).collect())
        .unwrap_or_default()
}

/// etcd's reason for refusing a request (`{"error": "...", "message": "..."}`).
fn rejection(e: &HttpError) -> String {
    e.json_body()
        .and_then(|b| {
            b.get("message")
                .or_else(|| b.get("error"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| e.to_string())
}

/// A request etcd will refuse however often it is sent.
fn too_large(message: &str) -> bool {
    message.contains("larger than max")
        || message.contains("request is too large")
        || message.contains("too many operations")
}

fn rejected(endpoint: &str, path: &str, message: String) -> EtcdError {
    let hint = if message.contains("permission denied") {
        "; the etcd user lacks a role that may write this key (see `etcdctl role get`)"
    } else if too_large(&message) {
        "; the transaction exceeds the etcd cluster's --max-txn-ops or --max-request-bytes: set RINGMASTER_ETCD_MAX_TXN_OPS and RINGMASTER_ETCD_MAX_TXN_BYTES to its limits"
    } else if message.contains("user name is empty") || message.contains("token") {
        "; etcd has authentication enabled: set RINGMASTER_ETCD_USERNAME (or --etcd-user) and RINGMASTER_ETCD_PASSWORD"
    } else {
        ""
    };
    EtcdError::Rejected {
        endpoint: endpoint.to_owned(),
        call: path.to_owned(),
        message,
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ends_like_etcdctl() {
        assert_eq!(prefix_end("/rm/"), b"/rm0".to_vec());
        assert_eq!(prefix_end("a\u{7f}"), b"a\x80".to_vec());
    }

    #[test]
    fn ints_arrive_as_strings_or_not_at_all() {
        assert_eq!(int(Some(&json!("42"))), 42);
        assert_eq!(int(Some(&json!(7))), 7);
        assert_eq!(int(None), 0);
        assert_eq!(int(Some(&json!("x"))), 0);
    }

    #[test]
    fn kv_decodes_base64_and_rejects_garbage() {
        let kv = Kv::from_json(&json!({"key": b64("/a"), "value": b64("v"), "mod_revision": "3"}))
            .unwrap();
        assert_eq!(
            (kv.key.as_str(), kv.text().as_str(), kv.mod_revision),
            ("/a", "v", 3)
        );
        assert!(Kv::from_json(&json!({"key": "not base64!"})).is_none());
    }

    #[test]
    fn endpoints_must_be_urls() {
        let err = Etcd::connect(EtcdOptions::new(vec!["127.0.0.1:2379".into()])).unwrap_err();
        assert!(err.to_string().contains("http://HOST:PORT"), "{err}");
    }

    #[test]
    fn endpoints_with_a_query_fragment_or_credentials_are_refused_without_echoing_them() {
        for bad in [
            "http://h:2379/?token=s3cret",
            "http://h:2379/#s3cret",
            "http://root:s3cret@h:2379",
        ] {
            let err = Etcd::connect(EtcdOptions::new(vec![bad.into()])).unwrap_err();
            assert!(!err.to_string().contains("s3cret"), "{err}");
            assert!(
                err.to_string().contains("query, a fragment or credentials"),
                "{err}"
            );
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let mut o = EtcdOptions::new(vec!["http://x".into()]);
        o.password = Some("hunter2".into());
        assert!(!format!("{o:?}").contains("hunter2"));
    }
}
