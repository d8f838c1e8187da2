//! The library's error: a status code, the HTTP status if a response arrived, and a message for
//! a human that says what happened and what to do. Messages never contain the API key: nothing
//! here ever formats a request header.

use crate::status::Status;
use std::fmt;

#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    pub status: Status,
    pub http_status: u16,
    pub message: String,
}

impl Error {
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Error {
            status,
            http_status: 0,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Status::InvalidArgument, message)
    }
    pub fn protocol(message: impl Into<String>) -> Self {
        Self::new(Status::Protocol, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Status::Internal, message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (http {}): {}",
            self.status.name(),
            self.http_status,
            self.message
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Up to `max` bytes of `bytes` as text for a message: lossy UTF-8, control characters
/// folded to spaces, cut on a character boundary, "…" when cut.
pub fn snippet(bytes: &[u8], max: usize) -> String {
    let cut = bytes.len() > max;
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(max)]);
    let mut out: String = text
        .trim_end_matches('\u{FFFD}')
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    if cut {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::snippet;
    #[test]
    fn snippet_cuts_folds_and_marks() {
        assert_eq!(snippet(b"a\r\nb", 10), "a  b");
        assert_eq!(snippet("привет".as_bytes(), 3), "п…");
        assert_eq!(snippet(b"abc", 3), "abc");
    }
}
