//! Logging for C: the log callback, its type and the level constants.

use super::status::ylokh_status;
use super::status_boundary;
use crate::log::{Level, LogSink};
use std::ffi::{c_char, c_void};
use std::sync::Arc;

/// A log callback: `message` (UTF-8, NUL-terminated, `len` bytes) is borrowed for the call.
pub type ylokh_log_fn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, level: u32, message: *const c_char, len: usize),
>;

/// Sends the library's log records at or above `max_level` (YLOKH_LOG_ERROR .. _TRACE) to `fn`
/// (process-wide; may run on any thread; `message` is borrowed for the call). `fn` NULL turns
/// the callback off. Off by default; while no callback is set, the environment variable
/// `YLOKH_LOG=error|warn|info|debug|trace` prints records to stderr. Records never contain the
/// API key. The callback runs with no library lock held, so it may call into the library. Once
/// this returns, the previous callback runs no more (it waits for calls of it still running on
/// other threads). From inside a log callback: YLOKH_RECURSIVE_CALL.
#[no_mangle]
pub unsafe extern "C" fn ylokh_set_log_callback(
    max_level: u32,
    r#fn: ylokh_log_fn,
    user_data: *mut c_void,
) -> ylokh_status {
    status_boundary(|| {
        let sink = r#fn.map(|f| Arc::new(CLog { f, user_data }) as Arc<dyn LogSink>);
        // 0 passes nothing on; above YLOKH_LOG_TRACE means everything.
        let max = match max_level {
            0 => None,
            n => from_c(n.min(YLOKH_LOG_TRACE)),
        };
        crate::log::set_callback(max, sink)
    })
}

/// Log levels for `ylokh_set_log_callback`.
pub const YLOKH_LOG_ERROR: u32 = 1;
pub const YLOKH_LOG_WARN: u32 = 2;
pub const YLOKH_LOG_INFO: u32 = 3;
pub const YLOKH_LOG_DEBUG: u32 = 4;
pub const YLOKH_LOG_TRACE: u32 = 5;

/// A level as C sees it: the one place the numbers are tied to the levels.
fn to_c(level: Level) -> u32 {
    match level {
        Level::Error => YLOKH_LOG_ERROR,
        Level::Warn => YLOKH_LOG_WARN,
        Level::Info => YLOKH_LOG_INFO,
        Level::Debug => YLOKH_LOG_DEBUG,
        Level::Trace => YLOKH_LOG_TRACE,
    }
}

fn from_c(level: u32) -> Option<Level> {
    Level::ALL.into_iter().find(|l| to_c(*l) == level)
}

/// The C log callback and its `user_data`.
struct CLog {
    f: unsafe extern "C" fn(*mut c_void, u32, *const c_char, usize),
    user_data: *mut c_void,
}

// SAFETY: the caller promises (ylokh_set_log_callback's documented contract) that the callback and `user_data` may be used from any
// thread.
unsafe impl Send for CLog {}
// SAFETY: as for Send; the callback is called through a shared reference from many threads.
unsafe impl Sync for CLog {}

impl LogSink for CLog {
    fn record(&self, level: Level, mut text: String) {
        let len = text.len();
        text.retain(|c| c != '\0');
        text.push('\0');
        // SAFETY: a C callback of the documented signature; `text` is NUL-terminated and lives
        // until the call returns.
        unsafe {
            (self.f)(
                self.user_data,
                to_c(level),
                text.as_ptr().cast(),
                len.min(text.len() - 1),
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_levels_round_trip_in_order() {
        let c = Level::ALL.map(to_c);
        assert_eq!(c, [1, 2, 3, 4, 5], "the numbers the header documents");
        for level in Level::ALL {
            assert_eq!(from_c(to_c(level)), Some(level));
        }
        assert_eq!(from_c(0), None);
        assert_eq!(from_c(6), None);
    }
}
