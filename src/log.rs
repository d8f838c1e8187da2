//! Log records: off by default; a callback (process-wide, installed by the FFI layer) or, while
//! none is set, stderr when the environment variable `YLOKH_LOG` names a level. A record that is
//! off costs one atomic load. No record contains a secret a client holds: each passes
//! `secrets::scrub`.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock, RwLock};

/// A record's level, most severe first. The C numbers (`YLOKH_LOG_*`) are defined once, in
/// `ffi::log`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Level {
    pub(crate) const ALL: [Level; 5] = [
        Level::Error,
        Level::Warn,
        Level::Info,
        Level::Debug,
        Level::Trace,
    ];

    /// Its rank in `MAX_LEVEL`: 1 (Error) .. 5 (Trace); 0 there means off.
    fn rank(self) -> u32 {
        self as u32 + 1
    }

    /// "ERROR" .. "TRACE".
    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        }
    }
}

pub(crate) const ERROR: Level = Level::Error;
pub(crate) const WARN: Level = Level::Warn;
pub(crate) const INFO: Level = Level::Info;
pub(crate) const DEBUG: Level = Level::Debug;

/// Where records go while a callback is set (the FFI layer implements it for the C callback).
/// It may run on any thread, and is called with no lock held.
pub trait LogSink: Send + Sync {
    fn record(&self, level: Level, text: String);
}

struct Callback {
    sink: Arc<dyn LogSink>,
    /// `Level::rank` of the most verbose level passed on; 0: none.
    max_level: u32,
}

static CALLBACK: RwLock<Option<Callback>> = RwLock::new(None);
/// The level in force: the callback's, or the environment's while no callback is set; 0 is off.
static MAX_LEVEL: AtomicU32 = AtomicU32::new(u32::MAX);

thread_local! {
    static IN_LOG_CALLBACK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn env_level() -> u32 {
    static LEVEL: OnceLock<u32> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let wanted = std::env::var("YLOKH_LOG").unwrap_or_default();
        Level::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(&wanted))
            .map_or(0, Level::rank)
    })
}

#[inline]
pub fn enabled(level: Level) -> bool {
    let level = level.rank();
    let max = MAX_LEVEL.load(Ordering::Relaxed);
    if max == u32::MAX {
        // First record: settle the level from the environment.
        let _ =
            MAX_LEVEL.compare_exchange(u32::MAX, env_level(), Ordering::Relaxed, Ordering::Relaxed);
        return level <= MAX_LEVEL.load(Ordering::Relaxed);
    }
    level <= max
}

/// Installs (or with `None`, removes) the process-wide callback. Once it returns, the previous
/// callback runs no more: it waits for the calls of it still running on other threads. Refused
/// from inside a log callback, where that wait would never end. `max_level` `None`: the
/// callback receives nothing.
pub fn set_callback(
    max_level: Option<Level>,
    sink: Option<Arc<dyn LogSink>>,
) -> Result<(), crate::error::Error> {
    if IN_LOG_CALLBACK.with(|c| c.get()) {
        return Err(crate::error::Error::new(
            crate::status::Status::RecursiveCall,
            "ylokh_set_log_callback was called from inside a log callback; call it from another place",
        ));
    }
    let previous = {
        let mut slot = CALLBACK.write().unwrap_or_else(|e| e.into_inner());
        let previous = slot.take();
        *slot = sink.map(|sink| Callback {
            sink,
            max_level: max_level.map_or(0, Level::rank),
        });
        let level = slot.as_ref().map_or_else(env_level, |c| c.max_level);
        MAX_LEVEL.store(level, Ordering::Relaxed);
        previous
    };
    // Every running call of the previous callback holds a clone of it (taken under the read
    // lock, which is released before the call): wait until those calls have returned.
    if let Some(previous) = previous {
        while Arc::strong_count(&previous.sink) > 1 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    Ok(())
}

pub fn emit(level: Level, args: fmt::Arguments<'_>) {
    // No record carries a secret a client holds, whatever formatted it.
    let text = crate::secrets::scrub(args.to_string());
    // Copy the callback out and release the lock before calling it: a callback that calls into
    // the library (which logs again) must not take the read lock twice, which deadlocks when a
    // writer is waiting in `set_callback` in between.
    let callback = {
        let slot = CALLBACK.read().unwrap_or_else(|e| e.into_inner());
        slot.as_ref().map(|c| (c.sink.clone(), c.max_level))
    };
    match callback {
        Some((sink, max_level)) if level.rank() <= max_level => {
            let outer = IN_LOG_CALLBACK.with(|c| c.replace(true));
            sink.record(level, text);
            IN_LOG_CALLBACK.with(|c| c.set(outer));
        }
        Some(_) => {}
        None => eprintln!("ylokh {}: {text}", level.name()),
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
