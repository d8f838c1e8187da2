//! Status names, the last error, the version, strings, and logging.

use super::{boundary, status_boundary, void_boundary};
use crate::log::ylokh_log_fn;
use crate::status::ylokh_status;
use std::ffi::{c_char, c_void};

/// The name of a status ("YLOKH_TIMEOUT"); unknown values give "YLOKH_UNKNOWN_STATUS".
/// Static storage (never free it), never NULL; any thread.
#[no_mangle]
pub extern "C" fn ylokh_status_str(status: u32) -> *const c_char {
    boundary(
        |_| c"YLOKH_INTERNAL".as_ptr(),
        || Ok(crate::status::name(status).as_ptr()),
    )
}

/// What the last failing call on this thread said (what happened and what to do), or NULL if
/// none failed yet. Thread-local and owned by the library (never free it): valid until the
/// next failing call on this thread.
#[no_mangle]
pub extern "C" fn ylokh_last_error() -> *const c_char {
    boundary(|_| std::ptr::null(), || Ok(super::last_error_ptr()))
}

/// The library's version, e.g. "0.1.0". Static storage (never free it), never NULL; any thread.
#[no_mangle]
pub extern "C" fn ylokh_version() -> *const c_char {
    boundary(
        |_| c"0.0.0".as_ptr(),
        || Ok(concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()),
    )
}

/// Frees a string the library returned (from `ylokh_chat_complete`); never `free()` it
/// yourself, nor pass anything else here. Any thread. NULL does nothing.
#[no_mangle]
pub unsafe extern "C" fn ylokh_string_free(s: *mut c_char) {
    void_boundary(|| libc::free(s.cast()))
}

/// Sends the library's log records at or above `max_level` (YLOKH_LOG_ERROR .. _TRACE) to `fn`
/// (process-wide; may run on any thread; `message` is borrowed for the call). `fn` NULL turns
/// the callback off. Off by default; while no callback is set, the environment variable
/// `YLOKH_LOG=error|warn|info|debug|trace` prints records to stderr. Records never contain the
/// API key. From inside a log callback: YLOKH_RECURSIVE_CALL.
#[no_mangle]
pub unsafe extern "C" fn ylokh_set_log_callback(
    max_level: u32,
    r#fn: ylokh_log_fn,
    user_data: *mut c_void,
) -> ylokh_status {
    status_boundary(|| crate::log::set_callback(max_level, r#fn, user_data))
}

/// Log levels for `ylokh_set_log_callback`.
pub const YLOKH_LOG_ERROR: u32 = 1;
pub const YLOKH_LOG_WARN: u32 = 2;
pub const YLOKH_LOG_INFO: u32 = 3;
pub const YLOKH_LOG_DEBUG: u32 = 4;
pub const YLOKH_LOG_TRACE: u32 = 5;

#[cfg(test)]
mod tests {
    #[test]
    fn log_level_constants_match_the_logger() {
        use crate::log::*;
        assert_eq!(
            [
                super::YLOKH_LOG_ERROR,
                super::YLOKH_LOG_WARN,
                super::YLOKH_LOG_INFO,
                super::YLOKH_LOG_DEBUG,
                super::YLOKH_LOG_TRACE
            ],
            [ERROR, WARN, INFO, DEBUG, TRACE]
        );
    }
}
