//! Log records: off by default; a C callback (process-wide) or, while none is set, stderr when
//! the environment variable `YLOKH_LOG` names a level. A record that is off costs one atomic
//! load. Records never contain the API key: nothing logs a request header.

use std::ffi::c_void;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{OnceLock, RwLock};

pub(crate) const ERROR: u32 = 1;
pub(crate) const WARN: u32 = 2;
pub(crate) const INFO: u32 = 3;
pub(crate) const DEBUG: u32 = 4;
pub(crate) const TRACE: u32 = 5;

/// A log callback: `message` (UTF-8, NUL-terminated, `len` bytes) is borrowed for the call.
pub type ylokh_log_fn = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        level: u32,
        message: *const std::ffi::c_char,
        len: usize,
    ),
>;
type LogFn = unsafe extern "C" fn(*mut c_void, u32, *const std::ffi::c_char, usize);

struct Callback {
    f: LogFn,
    user_data: *mut c_void,
    max_level: u32,
}
// The caller promises (API.md) that the callback may run on any thread.
unsafe impl Send for Callback {}
unsafe impl Sync for Callback {}

static CALLBACK: RwLock<Option<Callback>> = RwLock::new(None);
/// The level in force: the callback's, or the environment's while no callback is set; 0 is off.
static MAX_LEVEL: AtomicU32 = AtomicU32::new(u32::MAX);

thread_local! {
    static IN_LOG_CALLBACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn env_level() -> u32 {
    static LEVEL: OnceLock<u32> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        match std::env::var("YLOKH_LOG")
            .unwrap_or_default()
            .to_ascii_lowercase()
            .as_str()
        {
            "error" => ERROR,
            "warn" => WARN,
            "info" => INFO,
            "debug" => DEBUG,
            "trace" => TRACE,
            _ => 0,
        }
    })
}

#[inline]
pub fn enabled(level: u32) -> bool {
    let max = MAX_LEVEL.load(Ordering::Relaxed);
    if max == u32::MAX {
        // First record: settle the level from the environment.
        let _ =
            MAX_LEVEL.compare_exchange(u32::MAX, env_level(), Ordering::Relaxed, Ordering::Relaxed);
        return level <= MAX_LEVEL.load(Ordering::Relaxed);
    }
    level <= max
}

/// Installs (or with `None`, removes) the process-wide callback. Refused from inside a log
/// callback, where it would deadlock.
pub fn set_callback(
    max_level: u32,
    f: ylokh_log_fn,
    user_data: *mut c_void,
) -> Result<(), crate::error::Error> {
    if IN_LOG_CALLBACK.with(|c| c.get()) {
        return Err(crate::error::Error::new(
            crate::status::YLOKH_RECURSIVE_CALL,
            "ylokh_set_log_callback was called from inside a log callback; call it from another place",
        ));
    }
    let mut slot = CALLBACK.write().unwrap_or_else(|e| e.into_inner());
    *slot = f.map(|f| Callback {
        f,
        user_data,
        max_level: max_level.min(TRACE),
    });
    let level = slot.as_ref().map_or_else(env_level, |c| c.max_level);
    MAX_LEVEL.store(level, Ordering::Relaxed);
    Ok(())
}

pub fn emit(level: u32, args: fmt::Arguments<'_>) {
    let mut text = args.to_string();
    let slot = CALLBACK.read().unwrap_or_else(|e| e.into_inner());
    match slot.as_ref() {
        Some(cb) if level <= cb.max_level => {
            let len = text.len();
            text.retain(|c| c != '\0');
            text.push('\0');
            IN_LOG_CALLBACK.with(|c| c.set(true));
            // SAFETY: the caller gave a callback that takes these arguments; the text outlives the call.
            unsafe {
                (cb.f)(
                    cb.user_data,
                    level,
                    text.as_ptr().cast(),
                    len.min(text.len() - 1),
                )
            };
            IN_LOG_CALLBACK.with(|c| c.set(false));
        }
        Some(_) => {}
        None => {
            let name = ["", "ERROR", "WARN", "INFO", "DEBUG", "TRACE"][level.min(TRACE) as usize];
            eprintln!("ylokh {name}: {text}");
        }
    }
}

/// `log!(level, "format", args…)`: formats only when the level is on.
macro_rules! log {
    ($level:expr, $($arg:tt)+) => {
        if $crate::log::enabled($level) {
            $crate::log::emit($level, format_args!($($arg)+))
        }
    };
}
pub(crate) use log;
