//! The C ABI: thin `extern "C"` functions over the plain-Rust core.
//!
//! Every entry point runs its body inside [`status_boundary`] (or one of its twins), which
//! catches a panic and turns it into `YLOKH_INTERNAL`; failures are recorded for
//! `ylokh_last_error` on the calling thread. Pointers are checked for NULL and strings for
//! UTF-8 by the helpers below before anything else happens.

//!
//! This is the only module that knows C: C types, function pointers, raw pointers, and status
//! codes as `u32`. Every raw dereference is in an `unsafe {}` block that says why it is sound.

// cbindgen writes the header in this order: the lifecycle, top to bottom.
pub mod status;
// Options, then the client they make.
pub mod options;

pub mod client;
// A conversation to send.
pub mod conversation;
// The shared C structs and the callback typedefs.
pub mod types;

mod callbacks;
// Starting a request (ylokh_chat_request + ylokh_chat_send; ylokh_chat_start, 0.1).
pub mod chat_request;
// The request handle: pull (ylokh_request_next), wait, cancel, free.
pub mod request;
// Your own event loop.
pub mod event_loop;
// Embeddings.
pub mod embed;
// MCP sessions and the agent runner.
pub mod mcp;

pub mod agent;
// Logging, status names, last error, version.
pub mod log;

pub mod misc;

use crate::error::Error;
use crate::panic::{entered, internal_error};
use status::{to_c, ylokh_status, YLOKH_OK};
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

pub(crate) fn set_last_error(message: &str) {
    let message = crate::secrets::scrub(message.replace('\0', " "));
    let text = CString::new(message).expect("NULs were removed");
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
    let result = entered(|| catch_unwind(AssertUnwindSafe(body)));
    let error = match result {
        Ok(Ok(value)) => return value,
        Ok(Err(error)) => error,
        Err(panic) => internal_error(&*panic),
    };
    set_last_error(&error.message);
    fallback(&error)
}

/// For functions that return a status.
pub(crate) fn status_boundary(body: impl FnOnce() -> Result<(), Error>) -> ylokh_status {
    boundary(|e| to_c(e.status), || body().map(|()| YLOKH_OK))
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
    // SAFETY: as promised by our caller.
    unsafe { optional_str(ptr, what) }.map(|s| s.expect("not NULL"))
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
    // SAFETY: not NULL, and NUL-terminated and alive for 'a, as promised by our caller.
    unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .map(Some)
        .map_err(|e| {
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
    // SAFETY: NULL or a live `T` used by no one else during the call, as promised by our caller.
    unsafe { ptr.as_mut() }.ok_or_else(|| Error::invalid(format!("{what} must not be NULL")))
}

/// A copy of a caller's `struct_size`-versioned struct, its members past `struct_size` zeroed.
/// `sizes` are the sizes a header of this or an older version gives it: where a member starts
/// (so a struct that ends just before it, padding included), from the first optional member
/// on. A size of at least `size_of::<T>()` is a newer header's (its extra members are not
/// read). Any other size ends inside a member and would copy a torn pointer:
/// `YLOKH_INVALID_ARGUMENT` naming the sizes accepted.
///
/// # Safety
/// `T` is a `#[repr(C)]` struct that starts with its `usize` `struct_size` and for which
/// all-zero bytes are valid (NULL pointers, `None` callbacks, false, 0); `ptr` is NULL or
/// points to at least `struct_size` readable bytes.
pub(crate) unsafe fn read_versioned<T>(
    ptr: *const T,
    what: &str,
    type_name: &str,
    sizes: &[usize],
) -> Result<T, Error> {
    if ptr.is_null() {
        return Err(Error::invalid(format!("{what} must not be NULL")));
    }
    let full = std::mem::size_of::<T>();
    // SAFETY: not NULL, and every version of the struct starts with its `usize` size.
    let size = unsafe { ptr.cast::<usize>().read_unaligned() };
    if size < full && !sizes.contains(&size) {
        let older: Vec<String> = sizes.iter().map(usize::to_string).collect();
        return Err(Error::invalid(format!(
            "{what}->struct_size is {size}: set it to sizeof({type_name}) ({full}); a program built \
             against an older header may pass {}",
            older.join(", ")
        )));
    }
    // SAFETY: all-zero bytes are a valid `T` (our caller's promise).
    let mut copy: T = unsafe { std::mem::zeroed() };
    // SAFETY: the caller's struct has `size` readable bytes; at most our own size is copied,
    // into our own struct, which cannot overlap it; `size` ends at a member boundary.
    unsafe {
        std::ptr::copy_nonoverlapping(
            ptr.cast::<u8>(),
            (&mut copy as *mut T).cast::<u8>(),
            size.min(full),
        );
    }
    Ok(copy)
}

/// # Safety
/// `ptr` is NULL or points to a live `T`.
pub(crate) unsafe fn required_ref<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Error> {
    // SAFETY: NULL or a live `T`, as promised by our caller.
    unsafe { ptr.as_ref() }.ok_or_else(|| Error::invalid(format!("{what} must not be NULL")))
}

/// An out-parameter: checked for NULL when made (before any work is done), written once.
pub(crate) struct Out<'a, T> {
    ptr: NonNull<T>,
    _borrow: PhantomData<&'a mut T>,
}

impl<'a, T> Out<'a, T> {
    /// A required out-parameter.
    ///
    /// # Safety
    /// `ptr` is NULL or valid for a write of a `T` for `'a`.
    pub(crate) unsafe fn new(ptr: *mut T, what: &str) -> Result<Self, Error> {
        // SAFETY: as promised by our caller.
        unsafe { Self::optional(ptr) }
            .ok_or_else(|| Error::invalid(format!("{what} (the out-parameter) must not be NULL")))
    }

    /// An out-parameter that may be NULL (then nothing is written).
    ///
    /// # Safety
    /// As for [`Out::new`].
    pub(crate) unsafe fn optional(ptr: *mut T) -> Option<Self> {
        NonNull::new(ptr).map(|ptr| Out {
            ptr,
            _borrow: PhantomData,
        })
    }

    /// Writes the value (the old one, if any, is not dropped: out-parameters hold plain C data).
    pub(crate) fn write(self, value: T) {
        // SAFETY: not NULL (checked when made) and valid for a write, as `new` was promised.
        unsafe { self.ptr.as_ptr().write(value) }
    }
}

#[cfg(test)]
mod tests {
    use super::status::*;
    use super::*;

    #[test]
    fn a_panic_becomes_internal_with_a_message_and_failures_are_recorded() {
        assert_eq!(status_boundary(|| panic!("boom")), YLOKH_INTERNAL);
        // SAFETY: a failure was just recorded, so the pointer is a live NUL-terminated string.
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
            // SAFETY: as above.
            unsafe { CStr::from_ptr(last_error_ptr()) }
                .to_str()
                .unwrap(),
            "bad"
        );
        assert_eq!(status_boundary(|| Ok(())), YLOKH_OK);
    }

    #[repr(C)]
    struct Versioned {
        struct_size: usize,
        first: *const c_char,
        flag: bool,
        added: *const c_char,
    }

    fn read(size: usize) -> Result<Versioned, Error> {
        let given = Versioned {
            struct_size: size,
            first: c"a".as_ptr(),
            flag: true,
            added: c"b".as_ptr(),
        };
        let older = [std::mem::offset_of!(Versioned, added)];
        // SAFETY: Versioned is repr(C), starts with its size and is valid all-zero; `given` has
        // every byte a size up to its own names (the larger sizes are refused or not read).
        unsafe { read_versioned(&given, "v", "Versioned", &older) }
    }

    #[test]
    fn struct_size_is_taken_only_at_a_member_boundary_of_a_known_version() {
        let full = std::mem::size_of::<Versioned>();
        let old = std::mem::offset_of!(Versioned, added);
        let copy = read(full).unwrap();
        assert!(copy.flag && !copy.added.is_null());
        let copy = read(old).unwrap();
        assert!(
            copy.flag && !copy.first.is_null() && copy.added.is_null(),
            "past it: NULL"
        );
        // Inside `added` (a torn pointer), inside `first`, and too small for any version.
        for torn in [old + 4, old + 1, 12, 8, 0] {
            let message = read(torn).err().expect("refused").message;
            assert!(
                message.contains(&format!("v->struct_size is {torn}"))
                    && message.contains(&format!("sizeof(Versioned) ({full})"))
                    && message.contains(&format!("may pass {old}")),
                "{message}"
            );
        }
        // SAFETY: NULL is allowed and refused.
        assert!(
            unsafe { read_versioned::<Versioned>(std::ptr::null(), "v", "Versioned", &[]) }
                .is_err()
        );
    }
}
