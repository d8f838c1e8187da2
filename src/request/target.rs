//! What every request of a client shares: the HTTP client, the settings, the endpoint.

use super::pool::Pool;
use crate::error::Error;
use crate::options::Options;
use std::sync::OnceLock;

/// What the direct HTTP/1.1 path (`http1.rs`) needs beside the options: every header a request
/// carries (the credentials among them, marked sensitive) and its kept-alive connections.
pub struct Direct {
    pub headers: reqwest::header::HeaderMap,
    pub pool: Pool,
}

/// Where every request of a client goes, and how: what the running requests share.
pub struct Target {
    pub http: reqwest::Client,
    pub options: Options,
    pub endpoint: reqwest::Url,
    /// Makes a client like `http` that keeps no connection, so each of its requests goes out on
    /// a new one; made on first use by [`Target::unpooled_http`].
    pub make_unpooled: fn(&Options) -> Result<reqwest::Client, Error>,
    pub unpooled: OnceLock<reqwest::Client>,
    /// Makes a client like `http` without the credential headers, for a request that a
    /// 307/308 sent to another origin; made on first use by [`Target::foreign_http`].
    pub make_foreign: fn(&Options) -> Result<reqwest::Client, Error>,
    pub foreign: OnceLock<reqwest::Client>,
    /// Streamed requests to a plain `http://` endpoint without a proxy go out on the direct
    /// HTTP/1.1 path when this is set; everything else through `http`.
    pub direct: Option<Direct>,
}

impl Target {
    /// The client for a request that must go out on a new connection (a resend after a
    /// kept-alive connection died: the pool may hold more connections the server has ended).
    pub fn unpooled_http(&self) -> Result<&reqwest::Client, Error> {
        if let Some(http) = self.unpooled.get() {
            return Ok(http);
        }
        let http = (self.make_unpooled)(&self.options)?;
        Ok(self.unpooled.get_or_init(|| http))
    }
}

impl Target {
    /// The same client and settings, for another endpoint of the server (embeddings beside
    /// chat); the lazily made side clients are made again for it when needed. Its requests
    /// are not streamed, so they never take the direct path.
    pub fn with_endpoint(&self, endpoint: reqwest::Url) -> Target {
        Target {
            http: self.http.clone(),
            options: self.options.clone(),
            endpoint,
            make_unpooled: self.make_unpooled,
            unpooled: OnceLock::new(),
            make_foreign: self.make_foreign,
            foreign: OnceLock::new(),
            direct: None,
        }
    }

    /// The client for another origin than the base URL's: no credential header.
    pub fn foreign_http(&self) -> Result<&reqwest::Client, Error> {
        if let Some(http) = self.foreign.get() {
            return Ok(http);
        }
        let http = (self.make_foreign)(&self.options)?;
        Ok(self.foreign.get_or_init(|| http))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A target for `base` with plain reqwest clients, for the request/ modules' unit tests;
    /// `direct`: whether streams take the direct HTTP/1.1 path.
    pub(in crate::request) fn target(base: &str, direct: bool) -> Target {
        let options = Options::compatible(base).unwrap();
        Target {
            http: reqwest::Client::new(),
            endpoint: options.endpoint(),
            options,
            make_unpooled: |_| Ok(reqwest::Client::new()),
            unpooled: OnceLock::new(),
            make_foreign: |_| Ok(reqwest::Client::new()),
            foreign: OnceLock::new(),
            direct: direct.then(|| Direct {
                headers: reqwest::header::HeaderMap::new(),
                pool: Pool::default(),
            }),
        }
    }
}
