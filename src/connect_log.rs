//! Log records for new connections: a layer around reqwest's connector, which runs only when
//! no kept-alive connection can serve a request. The same layer tells a request whether it went
//! out on a new connection ([`on_new_connection`]). The direct HTTP/1.1 path writes the same
//! records with [`connecting`] and [`connected`].

use crate::log::{log, DEBUG, INFO};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

tokio::task_local! {
    /// Set by a connection made for the request being sent in this task.
    static NEW_CONNECTION: Arc<AtomicBool>;
}

/// Runs `send` (one attempt of a request) and says whether it went out on a connection made for
/// it, as opposed to a kept-alive one from the pool.
///
/// hyper-util's pool first tries to check out an idle connection and asks the connector only when
/// none is free; when a connection returns to the pool while the connector is still working, the
/// request takes that one and the new connection is finished in another task. So a connection
/// counts as this request's own only when its connect completes in this task: then the connect
/// won. Everything else (a pooled connection, or no connection at all) says `false`.
pub async fn on_new_connection<F: Future>(send: F) -> (F::Output, bool) {
    let flag = Arc::new(AtomicBool::new(false));
    let output = NEW_CONNECTION.scope(flag.clone(), send).await;
    (output, flag.load(Ordering::Relaxed))
}

/// Wraps the connector; `target` names where connections go (the server, or the proxy and
/// the server), already free of credentials.
#[derive(Clone)]
pub struct ConnectLog {
    pub target: std::sync::Arc<str>,
}

impl<S> Layer<S> for ConnectLog {
    type Service = ConnectLogService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        ConnectLogService {
            inner,
            target: self.target.clone(),
        }
    }
}

#[derive(Clone)]
pub struct ConnectLogService<S> {
    inner: S,
    target: std::sync::Arc<str>,
}

impl<S, R> Service<R> for ConnectLogService<S>
where
    S: Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let started = connecting(&self.target);
        let target = self.target.clone();
        let connecting = self.inner.call(request);
        Box::pin(async move {
            let result = connecting.await;
            // Outside `on_new_connection` (a connect the pool finishes in the background after
            // the request took a pooled connection) there is nothing to tell.
            if result.is_ok() {
                let _ = NEW_CONNECTION.try_with(|new| new.store(true, Ordering::Relaxed));
            }
            connected(&target, started, result.is_ok());
            result
        })
    }
}

/// The record of a connect that starts (no kept-alive connection was free); when it started.
pub fn connecting(target: &str) -> Instant {
    log!(
        DEBUG,
        "connecting to {target} (no kept-alive connection free)"
    );
    Instant::now()
}

/// The record of a connect that ended. A failure's own text may hold proxy details: the
/// request's outcome words it.
pub fn connected(target: &str, started: Instant, ok: bool) {
    let ms = started.elapsed().as_millis();
    if ok {
        log!(INFO, "connected to {target} in {ms} ms");
    } else {
        log!(INFO, "connecting to {target} failed after {ms} ms");
    }
}
