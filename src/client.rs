//! The client: a tokio runtime of its own, one pooled HTTP client, and the registry of the
//! requests still running, which teardown cancels and waits for.

use crate::error::Error;
use crate::log::{log, DEBUG, ERROR};
use crate::options::Options;
use crate::outcome::Outcome;
use crate::panic::{internal_error, panic_text, quiet_panics_on_library_threads};
use crate::request::{self, RequestState, Target};
use crate::sink::Sink;
use crate::status::Status;
use crate::thread::{mark_library_thread, on_library_thread};
use futures_util::FutureExt;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// What the running requests share.
struct Shared {
    target: Target,
    registry: Mutex<Registry>,
    idle: Condvar,
    /// The client's secrets, scrubbed from every text while a request of it may still run.
    _secrets: crate::secrets::Registration,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    live: HashMap<u64, Arc<RequestState>>,
    closing: bool,
}

pub struct Client {
    runtime: Option<tokio::runtime::Runtime>,
    shared: Arc<Shared>,
    /// The process the client was made in: a fork()ed child has none of its threads.
    pid: u32,
}

impl Client {
    pub fn new(options: &Options) -> Result<Client, Error> {
        quiet_panics_on_library_threads();
        let mut options = options.clone();
        // Every secret is known before anything can show one; then the base URL's userinfo
        // becomes the Authorization header it stands for (as a caller-set one: the API key's
        // wins), so no URL the library shows or logs carries it.
        let secrets = crate::secrets::register(options.secrets());
        if let Some(basic) = options.take_base_url_userinfo() {
            let authorization = reqwest::header::AUTHORIZATION;
            if !options.headers.iter().any(|(n, _)| *n == authorization) {
                options.headers.push((authorization, basic));
            }
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.worker_threads)
            .max_blocking_threads(4)
            .thread_name("ylokh-worker")
            .on_thread_start(mark_library_thread)
            .enable_all()
            .build()
            .map_err(|e| {
                Error::internal(format!("could not start the client's runtime threads: {e}"))
            })?;
        let http = http_client(&options, true)?;
        let endpoint = options.endpoint();
        // Streams to a plain http:// server without a proxy go out on the direct HTTP/1.1 path.
        let direct = match (endpoint.scheme(), &options.proxy) {
            ("http", None) => Some(request::Direct {
                headers: request_headers(&options, true)?,
                pool: request::Pool::default(),
            }),
            _ => None,
        };
        let shared = Arc::new(Shared {
            target: Target {
                http,
                endpoint,
                options,
                make_unpooled: |options| http_client(options, false),
                unpooled: std::sync::OnceLock::new(),
                make_foreign: |options| http_client_for(options, true, false),
                foreign: std::sync::OnceLock::new(),
                direct,
            },
            registry: Mutex::default(),
            idle: Condvar::new(),
            _secrets: secrets,
        });
        Ok(Client {
            runtime: Some(runtime),
            shared,
            pid: std::process::id(),
        })
    }

    pub fn options(&self) -> &Options {
        &self.shared.target.options
    }

    /// The runtime, for work that is not a request (MCP sessions); an error while the client
    /// is being freed.
    pub fn runtime_handle(&self) -> Result<tokio::runtime::Handle, Error> {
        Ok(self
            .runtime
            .as_ref()
            .ok_or_else(shutting_down)?
            .handle()
            .clone())
    }

    /// What the client's requests share (its HTTP client, settings and chat endpoint).
    pub fn target(&self) -> &Target {
        &self.shared.target
    }

    /// Runs `work` on the client's runtime, blocking the calling thread (never a library
    /// thread: the caller checks) until it ends.
    pub fn block_on<F: std::future::Future>(&self, work: F) -> Result<F::Output, Error> {
        let runtime = self.runtime.as_ref().ok_or_else(shutting_down)?;
        Ok(runtime.block_on(work))
    }

    /// Starts a request on the runtime. `before_spawn` runs once the request is registered and
    /// before any of its events can be delivered (the FFI layer writes its out-parameter there).
    pub fn start(
        &self,
        body: Vec<u8>,
        stream: bool,
        mut sink: Sink,
        state: Arc<RequestState>,
        before_spawn: impl FnOnce(),
    ) -> Result<(), Error> {
        self.refuse_in_forked_child()?;
        let runtime = self.runtime.as_ref().ok_or_else(shutting_down)?;
        let id = {
            let mut registry = self
                .shared
                .registry
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if registry.closing {
                return Err(shutting_down());
            }
            registry.next_id += 1;
            let id = registry.next_id;
            registry.live.insert(id, state.clone());
            id
        };
        let shared = self.shared.clone();
        let body = bytes::Bytes::from(body);
        before_spawn();
        runtime.spawn(async move {
            let run = request::run(&shared.target, &state, body, stream, &mut sink);
            let outcome = AssertUnwindSafe(run)
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| {
                    let what = panic_text(&*panic);
                    log!(ERROR, "internal error (a bug; please report it): {what}");
                    Outcome::failed(internal_error(&*panic))
                });
            let (status, message) = (outcome.status, outcome.message.clone());
            sink.done(outcome);
            drop(sink);
            state.finish(status, message);
            shared.unregister(id);
        });
        Ok(())
    }

    /// A client used in a fork()ed child: fork() copies the calling thread only, so none of the
    /// client's runtime threads exist there and a request would wait forever.
    fn refuse_in_forked_child(&self) -> Result<(), Error> {
        if std::process::id() == self.pid {
            return Ok(());
        }
        Err(Error::invalid(
            "this client was made in another process: after fork() the child has none of the client's threads, so it cannot run requests; make a new client in the child with ylokh_client_new (and leave this one to the parent)",
        ))
    }

    /// Cancels every running request and stops the runtime once each one's `on_done` has
    /// returned. From a library thread it cannot wait: a teardown thread finishes the job.
    fn shutdown(&mut self) {
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        if self.refuse_in_forked_child().is_err() {
            // The threads belong to the parent: nothing here can be stopped or joined, so the
            // runtime is left as it is (its memory is the child's copy of the parent's).
            log!(
                DEBUG,
                "client free in a fork()ed child: the parent's threads are left alone"
            );
            std::mem::forget(runtime);
            std::mem::forget(self.shared.clone());
            return;
        }
        {
            let mut registry = self
                .shared
                .registry
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            registry.closing = true;
            log!(
                DEBUG,
                "client free: cancelling {} running requests",
                registry.live.len()
            );
            for state in registry.live.values() {
                state.cancel();
            }
        }
        let shared = self.shared.clone();
        let finish = move || {
            shared.wait_idle();
            // Blocking-pool threads (DNS lookups) get a grace period; worker threads end at once.
            runtime.shutdown_timeout(Duration::from_secs(10));
        };
        if on_library_thread() {
            let spawned = std::thread::Builder::new()
                .name("ylokh-teardown".into())
                .spawn(move || {
                    mark_library_thread();
                    finish()
                });
            if let Err(e) = spawned {
                log!(ERROR, "could not start the teardown thread ({e}); the client's threads are left running");
            }
        } else {
            finish();
        }
    }
}

/// Work that outlives the call that started it and starts requests of its own (an agent run):
/// registered like a request, so `ylokh_client_free` cancels `state` and waits until it is
/// dropped, and the runtime stays up while it lives.
pub struct Held {
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
    id: u64,
    pub state: Arc<RequestState>,
}

impl Client {
    /// Registers `state` as running work; an error while the client is being freed.
    pub fn hold(&self, state: Arc<RequestState>) -> Result<Held, Error> {
        let runtime = self.runtime_handle()?;
        let mut registry = self
            .shared
            .registry
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if registry.closing {
            return Err(shutting_down());
        }
        registry.next_id += 1;
        let id = registry.next_id;
        registry.live.insert(id, state.clone());
        Ok(Held {
            shared: self.shared.clone(),
            runtime,
            id,
            state,
        })
    }
}

impl Held {
    pub fn options(&self) -> &Options {
        &self.shared.target.options
    }

    pub fn runtime(&self) -> &tokio::runtime::Handle {
        &self.runtime
    }

    /// Starts a request as [`Client::start`] does (the held work keeps the client alive).
    pub fn start(&self, body: Vec<u8>, stream: bool, mut sink: Sink, state: Arc<RequestState>) {
        let shared = self.shared.clone();
        let body = bytes::Bytes::from(body);
        self.runtime.spawn(async move {
            let run = request::run(&shared.target, &state, body, stream, &mut sink);
            let outcome = AssertUnwindSafe(run)
                .catch_unwind()
                .await
                .unwrap_or_else(|panic| Outcome::failed(internal_error(&*panic)));
            let (status, message) = (outcome.status, outcome.message.clone());
            sink.done(outcome);
            drop(sink);
            state.finish(status, message);
        });
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.shared.unregister(self.id);
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Shared {
    fn unregister(&self, id: u64) {
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        registry.live.remove(&id);
        if registry.live.is_empty() {
            self.idle.notify_all();
        }
    }

    fn wait_idle(&self) {
        let mut registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        while !registry.live.is_empty() {
            registry = self.idle.wait(registry).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Where new connections go, for log records: "host:port", or "host:port via proxy URL".
fn connect_target(options: &Options) -> String {
    let url = &options.base_url;
    let server = format!(
        "{}:{}",
        url.host_str().unwrap_or("?"),
        url.port_or_known_default().unwrap_or(0)
    );
    match &options.proxy {
        Some(proxy) => format!("{server} via {}", crate::options::redact_url(proxy)),
        None => server,
    }
}

/// The HTTP client; `pooled` false makes one that keeps no connection alive.
fn http_client(options: &Options, pooled: bool) -> Result<reqwest::Client, Error> {
    http_client_for(options, pooled, true)
}

/// The HTTP client, with the credential headers (the API key's, and every header that
/// [`Options::is_credential_header`]) or without them: the client for another origin, where a
/// 307/308 leads. Redirects are followed by the request itself (`request/redirect.rs`), not
/// here: reqwest's policy cannot drop headers it does not know.
fn http_client_for(
    options: &Options,
    pooled: bool,
    credentials: bool,
) -> Result<reqwest::Client, Error> {
    let headers = request_headers(options, credentials)?;
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(60))
        .tcp_nodelay(true);
    if !pooled {
        builder = builder.pool_max_idle_per_host(0);
    }
    if let Some(t) = options.connect_timeout {
        builder = builder.connect_timeout(t);
    }
    builder = match &options.proxy {
        None => builder.no_proxy(),
        Some(url) => builder.proxy(
            reqwest::Proxy::all(url.clone())
                .map_err(|e| Error::invalid(format!("the proxy URL is not usable: {e}")))?,
        ),
    };
    for cert in &options.ca_certs {
        builder = builder.add_root_certificate(cert.clone());
    }
    builder = builder.connector_layer(crate::connect_log::ConnectLog {
        target: connect_target(options).into(),
    });
    builder
        .build()
        .map_err(|e| Error::internal(format!("could not set up the HTTP client: {e}")))
}

/// The headers every request of a client carries: the caller's, the API key's where the
/// dialect wants it, and the user agent; without the credential headers (every one that
/// [`Options::is_credential_header`], and the key's) when `credentials` is false.
fn request_headers(
    options: &Options,
    credentials: bool,
) -> Result<reqwest::header::HeaderMap, Error> {
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in &options.headers {
        if credentials || !options.is_credential_header(name) {
            headers.insert(name.clone(), value.clone());
        }
    }
    // The API key where the dialect wants it (Bearer, or x-api-key), marked sensitive so that
    // it never shows in Debug output.
    let caller_set_version = headers.contains_key("anthropic-version");
    let key = options.api_key.as_ref().map(|k| k.expose());
    for (name, value) in options.api.auth_headers(key, caller_set_version) {
        let secret = name != "anthropic-version";
        if secret && !credentials {
            continue;
        }
        let mut value = reqwest::header::HeaderValue::from_str(&value)
            .map_err(|_| Error::invalid("the API key contains a control character"))?;
        value.set_sensitive(secret);
        headers.insert(name, value);
    }
    headers.insert(
        reqwest::header::USER_AGENT,
        reqwest::header::HeaderValue::from_static(concat!("libylokh/", env!("CARGO_PKG_VERSION"))),
    );
    Ok(headers)
}

/// Why a request cannot start while `ylokh_client_free` is tearing the client down (say, when
/// an `on_done` that runs during the teardown starts another request).
fn shutting_down() -> Error {
    Error::new(
        Status::Cancelled,
        "the client is being freed (ylokh_client_free was called), so it starts no new request",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Streams take the direct HTTP/1.1 path only to a plain http:// server without a proxy;
    /// https:// (HTTP/2 where negotiated) and proxies stay on reqwest.
    #[test]
    fn the_direct_path_is_set_up_only_for_plain_http_without_a_proxy() {
        let direct = |base: &str, proxy: Option<&str>| {
            let mut options = Options::compatible(base).unwrap();
            options.set_proxy(proxy).unwrap();
            Client::new(&options).unwrap().target().direct.is_some()
        };
        assert!(direct("http://127.0.0.1:9/v1", None));
        assert!(!direct("https://127.0.0.1:9/v1", None));
        assert!(!direct("http://127.0.0.1:9/v1", Some("http://127.0.0.1:8")));
        assert!(!direct(
            "http://127.0.0.1:9/v1",
            Some("socks5h://127.0.0.1:8")
        ));
    }

    /// A request refused during teardown says so; it is not a bug in the library.
    #[test]
    fn a_request_refused_during_teardown_is_cancelled_and_says_why() {
        let options = Options::compatible("http://127.0.0.1:9/v1").unwrap();
        let client = Client::new(&options).unwrap();
        client.shared.registry.lock().unwrap().closing = true;
        let started = client.start(
            b"{}".to_vec(),
            false,
            Sink::Queue(Arc::new(crate::pull::PullQueue::new(false))),
            Arc::new(RequestState::new()),
            || panic!("a refused request is never spawned"),
        );
        let error = started.unwrap_err();
        assert_eq!(error.status, Status::Cancelled, "{error:?}");
        assert!(error.message.contains("ylokh_client_free"), "{error:?}");
        client.shared.registry.lock().unwrap().closing = false;
    }
}
