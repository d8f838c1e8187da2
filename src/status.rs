//! Status codes: the numbers are part of the C ABI (see API.md) and never change.

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
/// Cancelled by `ylokh_request_cancel`, `ylokh_request_free` or `ylokh_client_free`.
pub const YLOKH_CANCELLED: ylokh_status = 11;
/// A callback returned non-zero.
pub const YLOKH_ABORTED: ylokh_status = 12;
/// A bug in the library (a caught panic).
pub const YLOKH_INTERNAL: ylokh_status = 13;

/// The constant's name for a status, as a static NUL-terminated string.
pub(crate) fn name(status: u32) -> &'static std::ffi::CStr {
    match status {
        YLOKH_OK => c"YLOKH_OK",
        YLOKH_PENDING => c"YLOKH_PENDING",
        YLOKH_INVALID_ARGUMENT => c"YLOKH_INVALID_ARGUMENT",
        YLOKH_RECURSIVE_CALL => c"YLOKH_RECURSIVE_CALL",
        YLOKH_CONNECT => c"YLOKH_CONNECT",
        YLOKH_TLS => c"YLOKH_TLS",
        YLOKH_TIMEOUT => c"YLOKH_TIMEOUT",
        YLOKH_HTTP_STATUS => c"YLOKH_HTTP_STATUS",
        YLOKH_SERVER_ERROR => c"YLOKH_SERVER_ERROR",
        YLOKH_PROTOCOL => c"YLOKH_PROTOCOL",
        YLOKH_INCOMPLETE => c"YLOKH_INCOMPLETE",
        YLOKH_CANCELLED => c"YLOKH_CANCELLED",
        YLOKH_ABORTED => c"YLOKH_ABORTED",
        YLOKH_INTERNAL => c"YLOKH_INTERNAL",
        _ => c"YLOKH_UNKNOWN_STATUS",
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_status_has_a_distinct_name_and_unknown_values_are_accepted() {
        let names: std::collections::HashSet<_> = (0..=13).map(super::name).collect();
        assert_eq!(names.len(), 14);
        assert_eq!(super::name(999).to_str().unwrap(), "YLOKH_UNKNOWN_STATUS");
    }
}
