//! Which threads are the library's: a blocking wait on one of them could deadlock, and a panic
//! on one of them goes to the log.

use std::cell::Cell;

thread_local! {
    /// True on the threads the library runs callbacks on.
    static LIBRARY_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Marks the calling thread as the library's (a client's runtime thread, or a teardown thread).
pub fn mark_library_thread() {
    LIBRARY_THREAD.with(|t| t.set(true));
}

/// Whether the calling thread belongs to the library (any client's runtime, or a teardown
/// thread): a blocking wait here could deadlock.
pub fn on_library_thread() -> bool {
    LIBRARY_THREAD.with(Cell::get)
}
