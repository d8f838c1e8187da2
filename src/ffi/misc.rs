//! Status names, the last error, the version and strings.

use super::{boundary, void_boundary};
use std::ffi::c_char;

/// The name of a status ("YLOKH_TIMEOUT"); unknown values give "YLOKH_UNKNOWN_STATUS".
/// Static storage (never free it), never NULL; any thread.
#[no_mangle]
pub extern "C" fn ylokh_status_str(status: u32) -> *const c_char {
    boundary(
        |_| c"YLOKH_INTERNAL".as_ptr(),
        || Ok(super::status::name(status).as_ptr()),
    )
}

/// What the last failing call on this thread said (what happened and what to do), or NULL if
/// none failed yet. Thread-local and owned by the library (never free it): valid until the
/// next failing call on this thread.
#[no_mangle]
pub extern "C" fn ylokh_last_error() -> *const c_char {
    boundary(|_| std::ptr::null(), || Ok(super::last_error_ptr()))
}

/// The library's version, e.g. "0.3.0". Static storage (never free it), never NULL; any thread.
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
    // SAFETY: the caller passes NULL or a string the library allocated with malloc.
    void_boundary(|| unsafe { libc::free(s.cast()) })
}
