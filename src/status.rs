//! Why a call or a request ended, typed. The C numbers are defined once, in `ffi::status`
//! (the `YLOKH_*` constants); this enum has none.

macro_rules! statuses {
    ($($(#[$doc:meta])* $variant:ident => $name:literal,)+) => {
        /// A status: `Ok` or the reason a call or a request failed.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Status {
            $($(#[$doc])* $variant,)+
        }

        impl Status {
            /// Every status, in the order of their C numbers.
            pub const ALL: &'static [Status] = &[$(Status::$variant),+];

            /// The C constant's name ("YLOKH_TIMEOUT").
            pub fn name(self) -> &'static str {
                match self {
                    $(Status::$variant => $name,)+
                }
            }
        }
    };
}

statuses! {
    /// Success; for a request: the server finished the answer.
    Ok => "YLOKH_OK",
    /// A wait ran out of time; the request is still running.
    Pending => "YLOKH_PENDING",
    /// Bad input from the caller.
    InvalidArgument => "YLOKH_INVALID_ARGUMENT",
    /// A blocking call was made from inside a library callback.
    RecursiveCall => "YLOKH_RECURSIVE_CALL",
    /// DNS, TCP or proxy failure; no HTTP response arrived.
    Connect => "YLOKH_CONNECT",
    /// TLS handshake or certificate verification failed.
    Tls => "YLOKH_TLS",
    /// The connect, read (idle) or whole-request deadline passed.
    Timeout => "YLOKH_TIMEOUT",
    /// A non-2xx response.
    Http => "YLOKH_HTTP_STATUS",
    /// An error object arrived inside a 2xx response or stream.
    ServerError => "YLOKH_SERVER_ERROR",
    /// Malformed SSE or JSON, an unexpected content type, or an event over the size cap.
    Protocol => "YLOKH_PROTOCOL",
    /// The connection ended before the answer finished.
    Incomplete => "YLOKH_INCOMPLETE",
    /// Cancelled (by the caller, or because the client is being freed).
    Cancelled => "YLOKH_CANCELLED",
    /// A callback asked to stop.
    Aborted => "YLOKH_ABORTED",
    /// A bug in the library (a caught panic).
    Internal => "YLOKH_INTERNAL",
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn names_are_distinct_constants() {
        let names: std::collections::HashSet<_> = Status::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names.len(), Status::ALL.len());
        assert!(names.iter().all(|n| n.starts_with("YLOKH_")));
        assert_eq!(Status::Timeout.name(), "YLOKH_TIMEOUT");
    }
}
