//! Status codes as C sees them: the numbers are part of the C ABI (ylokh.h) and never
//! change. Inside Rust a status is [`Status`]; it becomes a `ylokh_status` only here.

/// A status code: `YLOKH_OK` or the reason a call or a request failed.
#[allow(non_camel_case_types)]
pub type ylokh_status = u32;

/// Success; for a request: the server finished the answer.
pub const YLOKH_OK: ylokh_status = 0;
/// `ylokh_request_wait` or `ylokh_request_next` ran out of time; the request is still running.
pub const YLOKH_PENDING: ylokh_status = 1;
/// Bad input from the caller: NULL pointer, non-UTF-8 string, bad URL, bad JSON, CR/LF in a header.
pub const YLOKH_INVALID_ARGUMENT: ylokh_status = 2;
/// A blocking call was made from inside a library callback (a library thread).
pub const YLOKH_RECURSIVE_CALL: ylokh_status = 3;
/// DNS, TCP or proxy failure; no HTTP response arrived.
pub const YLOKH_CONNECT: ylokh_status = 4;
/// TLS handshake or certificate verification failed.
pub const YLOKH_TLS: ylokh_status = 5;
/// The connect, read (idle) or whole-request deadline passed.
pub const YLOKH_TIMEOUT: ylokh_status = 6;
/// A non-2xx response: `http_status` is set and `message` has the server's error text.
pub const YLOKH_HTTP_STATUS: ylokh_status = 7;
/// An error object arrived inside a 2xx response or stream.
pub const YLOKH_SERVER_ERROR: ylokh_status = 8;
/// Malformed SSE or JSON, an unexpected content type, or an event over the size cap.
pub const YLOKH_PROTOCOL: ylokh_status = 9;
/// The connection ended before the answer finished.
pub const YLOKH_INCOMPLETE: ylokh_status = 10;
/// Cancelled by `ylokh_request_cancel`, `ylokh_request_free` or `ylokh_client_free`; also a
/// request started while `ylokh_client_free` tears its client down.
pub const YLOKH_CANCELLED: ylokh_status = 11;
/// A callback returned non-zero.
pub const YLOKH_ABORTED: ylokh_status = 12;
/// A bug in the library (a caught panic).
pub const YLOKH_INTERNAL: ylokh_status = 13;

use crate::status::Status;
use std::ffi::{CStr, CString};
use std::sync::OnceLock;

/// A status as the C API returns it: the one place the numbers are tied to the statuses.
pub(crate) fn to_c(status: Status) -> ylokh_status {
    match status {
        Status::Ok => YLOKH_OK,
        Status::Pending => YLOKH_PENDING,
        Status::InvalidArgument => YLOKH_INVALID_ARGUMENT,
        Status::RecursiveCall => YLOKH_RECURSIVE_CALL,
        Status::Connect => YLOKH_CONNECT,
        Status::Tls => YLOKH_TLS,
        Status::Timeout => YLOKH_TIMEOUT,
        Status::Http => YLOKH_HTTP_STATUS,
        Status::ServerError => YLOKH_SERVER_ERROR,
        Status::Protocol => YLOKH_PROTOCOL,
        Status::Incomplete => YLOKH_INCOMPLETE,
        Status::Cancelled => YLOKH_CANCELLED,
        Status::Aborted => YLOKH_ABORTED,
        Status::Internal => YLOKH_INTERNAL,
    }
}

/// The status with this C number, if there is one.
pub(crate) fn from_c(status: ylokh_status) -> Option<Status> {
    Status::ALL.iter().copied().find(|s| to_c(*s) == status)
}

/// The constant's name for a status number, as a static NUL-terminated string.
pub(crate) fn name(status: ylokh_status) -> &'static CStr {
    static NAMES: OnceLock<Vec<(Status, CString)>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        Status::ALL
            .iter()
            .map(|s| {
                (
                    *s,
                    CString::new(s.name()).expect("no NUL in a constant's name"),
                )
            })
            .collect()
    });
    from_c(status)
        .and_then(|s| names.iter().find(|(t, _)| *t == s))
        .map_or(c"YLOKH_UNKNOWN_STATUS", |(_, n)| n.as_c_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_c_numbers_are_dense_and_round_trip() {
        for (i, status) in Status::ALL.iter().enumerate() {
            assert_eq!(to_c(*status), i as u32, "dense, in order");
            assert_eq!(from_c(to_c(*status)), Some(*status));
        }
        assert_eq!(from_c(Status::ALL.len() as u32), None);
        assert_eq!(name(YLOKH_TIMEOUT).to_str().unwrap(), "YLOKH_TIMEOUT");
        assert_eq!(
            name(YLOKH_HTTP_STATUS).to_str().unwrap(),
            "YLOKH_HTTP_STATUS"
        );
        assert_eq!(name(999).to_str().unwrap(), "YLOKH_UNKNOWN_STATUS");
    }
}
