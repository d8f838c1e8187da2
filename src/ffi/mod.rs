//! The C ABI: thin `extern "C"` functions over the plain-Rust core.
//!
//! Every entry point runs its body inside [`status_boundary`] (or one of its twins), which
//! catches a panic and turns it into `YLOKH_INTERNAL`; failures are recorded for
//! `ylokh_last_error` on the calling thread. Pointers are checked for NULL and strings for
//! UTF-8 by the helpers below before anything else happens.

pub mod client;
pub mod misc;
pub mod options;
pub mod request;
pub mod types;

use crate::client::{panic_text, IN_LIBRARY};
use crate::error::Error;
use crate::status::{ylokh_status, YLOKH_OK};
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

pub(crate) fn set_last_error(message: &str) {
    let text = CString::new(message.replace('\0', " ")).expect("NULs were removed");
    LAST_ERROR.with(|slot| *slot.borrow_mut() = Some(text));
}

pub(crate) fn last_error_ptr() -> *const c_char {
    LAST_ERROR.with(|slot| {
        slot.borrow()
            .as_ref()
            .map_or(std::ptr::null(), |s| s.as_ptr())
    })
}

/// Runs `body`, catching a panic: the value it returns, or on failure `fallback`, with the
/// failure recorded for `ylokh_last_error`.
pub(crate) fn boundary<T>(
    fallback: impl FnOnce(&Error) -> T,
    body: impl FnOnce() -> Result<T, Error>,
) -> T {
    IN_LIBRARY.with(|d| d.set(d.get() + 1));
    let result = catch_unwind(AssertUnwindSafe(body));
    IN_LIBRARY.with(|d| d.set(d.get() - 1));
    let error = match result {
        Ok(Ok(value)) => return value,
        Ok(Err(error)) => error,
        Err(panic) => Error::internal(format!(
            "internal error in libylokh (a bug; please report it): {}",
            panic_text(&*panic)
        )),
    };
    set_last_error(&error.message);
    fallback(&error)
}

/// For functions that return a status.
pub(crate) fn status_boundary(body: impl FnOnce() -> Result<(), Error>) -> ylokh_status {
    boundary(|e| e.status, || body().map(|()| YLOKH_OK))
}

/// For functions that return a pointer: NULL on failure.
pub(crate) fn ptr_boundary<T>(body: impl FnOnce() -> Result<*mut T, Error>) -> *mut T {
    boundary(|_| std::ptr::null_mut(), body)
}

/// For functions that return nothing (the `_free`s).
pub(crate) fn void_boundary(body: impl FnOnce()) {
    boundary(
        |_| (),
        || {
            body();
            Ok(())
        },
    )
}

/// A required C string, borrowed for the call.
///
/// # Safety
/// `ptr` is NULL or points to a NUL-terminated string that outlives `'a`.
pub(crate) unsafe fn required_str<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(Error::invalid(format!("{what} must not be NULL")));
    }
    optional_str(ptr, what).map(|s| s.expect("not NULL"))
}

/// A C string that may be NULL.
///
/// # Safety
/// As for [`required_str`].
pub(crate) unsafe fn optional_str<'a>(
    ptr: *const c_char,
    what: &str,
) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    CStr::from_ptr(ptr).to_str().map(Some).map_err(|e| {
        Error::invalid(format!(
            "{what} is not valid UTF-8 (bad byte at offset {})",
            e.valid_up_to()
        ))
    })
}

/// A required object the caller owns.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` that no other thread uses during the call.
pub(crate) unsafe fn required_mut<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, Error> {
    ptr.as_mut()
        .ok_or_else(|| Error::invalid(format!("{what} must not be NULL")))
}

/// # Safety
/// `ptr` is NULL or points to a live `T`.
pub(crate) unsafe fn required_ref<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Error> {
    ptr.as_ref()
        .ok_or_else(|| Error::invalid(format!("{what} must not be NULL")))
}

/// Checks an out-parameter before any work is done.
pub(crate) fn out_param<T>(ptr: *mut T, what: &str) -> Result<(), Error> {
    if ptr.is_null() {
        return Err(Error::invalid(format!(
            "{what} (the out-parameter) must not be NULL"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::*;

    #[test]
    fn a_panic_becomes_internal_with_a_message_and_failures_are_recorded() {
        assert_eq!(status_boundary(|| panic!("boom")), YLOKH_INTERNAL);
        let message = unsafe { CStr::from_ptr(last_error_ptr()) }
            .to_str()
            .unwrap();
        assert!(
            message.contains("internal error in libylokh") && message.contains("boom"),
            "{message}"
        );
        assert!(ptr_boundary::<u8>(|| panic!("again")).is_null());
        void_boundary(|| panic!("and again"));
        assert_eq!(
            status_boundary(|| Err(Error::invalid("bad"))),
            YLOKH_INVALID_ARGUMENT
        );
        assert_eq!(
            unsafe { CStr::from_ptr(last_error_ptr()) }
                .to_str()
                .unwrap(),
            "bad"
        );
        assert_eq!(status_boundary(|| Ok(())), YLOKH_OK);
    }
}
