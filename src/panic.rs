//! Panics inside the library: caught (at every C entry point and around every request's task),
//! reported as `Status::Internal` with one message, and logged instead of printed.

use crate::error::Error;
use crate::log::{log, ERROR};
use crate::thread::on_library_thread;
use std::cell::Cell;
use std::sync::Once;

thread_local! {
    /// Depth of library entry points on this thread: their panics are caught and reported.
    static IN_LIBRARY: Cell<u32> = const { Cell::new(0) };
}

/// Runs `f` as a library entry point: a panic inside it is logged, not printed (the caller
/// still has to catch it).
pub fn entered<R>(f: impl FnOnce() -> R) -> R {
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            IN_LIBRARY.with(|d| d.set(d.get() - 1));
        }
    }
    IN_LIBRARY.with(|d| d.set(d.get() + 1));
    let _leave = Leave;
    f()
}

/// The text of a caught panic.
pub fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic with no message".into())
}

/// The error a caught panic becomes.
pub fn internal_error(panic: &(dyn std::any::Any + Send)) -> Error {
    Error::internal(format!(
        "internal error in libylokh (a bug; please report it): {}",
        panic_text(panic)
    ))
}

/// The library prints nothing unless logging is on: a panic inside the library (caught and
/// turned into `Status::Internal`) goes to the log instead of stderr. Panics anywhere else in
/// the process still reach the previous hook.
pub fn quiet_panics_on_library_threads() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if on_library_thread() || IN_LIBRARY.with(Cell::get) > 0 {
                log!(ERROR, "panic: {info}");
            } else {
                previous(info);
            }
        }));
    });
}
