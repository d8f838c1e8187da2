//! Log records for new connections: a layer around reqwest's connector, which runs only when
//! no kept-alive connection can serve a request.

use crate::log::{log, DEBUG, INFO};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

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
        log!(
            DEBUG,
            "connecting to {} (no kept-alive connection free)",
            self.target
        );
        let started = Instant::now();
        let target = self.target.clone();
        let connecting = self.inner.call(request);
        Box::pin(async move {
            let result = connecting.await;
            match &result {
                Ok(_) => log!(
                    INFO,
                    "connected to {target} in {} ms",
                    started.elapsed().as_millis()
                ),
                // The error's own text may hold proxy details; the request's outcome words it.
                Err(_) => log!(
                    INFO,
                    "connecting to {target} failed after {} ms",
                    started.elapsed().as_millis()
                ),
            }
            result
        })
    }
}
