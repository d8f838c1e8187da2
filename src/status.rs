//! Why a call or a request ended, typed. The numbers are the C API's status codes (the FFI
//! layer's `YLOKH_*` constants, checked against these in its tests) and never change.

macro_rules! statuses {
    ($($(#[$doc:meta])* $variant:ident = $value:literal => $name:literal,)+) => {
        /// A status: `Ok` or the reason a call or a request failed.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum Status {
            $($(#[$doc])* $variant = $value,)+
        }

        impl Status {
            /// Every status, in numeric order.
            #[cfg(test)]
            pub const ALL: &'static [Status] = &[$(Status::$variant),+];

            /// The status with this number, if there is one.
            pub fn from_u32(value: u32) -> Option<Status> {
                match value {
                    $($value => Some(Status::$variant),)+
                    _ => None,
                }
            }

            /// The C constant's name ("YLOKH_TIMEOUT"), NUL-terminated.
            pub fn name(self) -> &'static std::ffi::CStr {
                match self {
                    $(Status::$variant => $name,)+
                }
            }
        }
    };
}

statuses! {
    /// Success; for a request: the server finished the answer.
    Ok = 0 => c"YLOKH_OK",
    /// A wait ran out of time; the request is still running.
    Pending = 1 => c"YLOKH_PENDING",
    /// Bad input from the caller.
    InvalidArgument = 2 => c"YLOKH_INVALID_ARGUMENT",
    /// A blocking call was made from inside a library callback.
    RecursiveCall = 3 => c"YLOKH_RECURSIVE_CALL",
    /// DNS, TCP or proxy failure; no HTTP response arrived.
    Connect = 4 => c"YLOKH_CONNECT",
    /// TLS handshake or certificate verification failed.
    Tls = 5 => c"YLOKH_TLS",
    /// The connect, read (idle) or whole-request deadline passed.
    Timeout = 6 => c"YLOKH_TIMEOUT",
    /// A non-2xx response.
    Http = 7 => c"YLOKH_HTTP_STATUS",
    /// An error object arrived inside a 2xx response or stream.
    ServerError = 8 => c"YLOKH_SERVER_ERROR",
    /// Malformed SSE or JSON, an unexpected content type, or an event over the size cap.
    Protocol = 9 => c"YLOKH_PROTOCOL",
    /// The connection ended before the answer finished.
    Incomplete = 10 => c"YLOKH_INCOMPLETE",
    /// Cancelled (by the caller, or because the client is being freed).
    Cancelled = 11 => c"YLOKH_CANCELLED",
    /// A callback asked to stop.
    Aborted = 12 => c"YLOKH_ABORTED",
    /// A bug in the library (a caught panic).
    Internal = 13 => c"YLOKH_INTERNAL",
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn numbers_round_trip_and_names_are_distinct() {
        for (i, status) in Status::ALL.iter().enumerate() {
            assert_eq!(*status as u32, i as u32, "dense, in order");
            assert_eq!(Status::from_u32(*status as u32), Some(*status));
        }
        let names: std::collections::HashSet<_> = Status::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(names.len(), Status::ALL.len());
        assert_eq!(Status::from_u32(Status::ALL.len() as u32), None);
    }
}
