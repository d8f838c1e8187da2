//! What every request of a client shares: the HTTP client, the settings, the endpoint.

use crate::options::Options;

/// Where every request of a client goes, and how: what the running requests share.
pub struct Target {
    pub http: reqwest::Client,
    pub options: Options,
    pub endpoint: reqwest::Url,
}
