//! libylokh: stream chat completions from OpenAI-compatible servers into C, C++ and any
//! language with an FFI. The C API (`include/ylokh.h`, generated from `src/ffi/`) is the
//! product; the other modules hold the logic in plain Rust and know nothing of C.
//! `src/README.md` maps the modules and the way their dependencies point.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)] // the safety contract of every C function is in its ylokh.h documentation
#![deny(unsafe_op_in_unsafe_fn)]

mod agent;
pub mod chunk;
mod client;
mod connect_log;
mod conversation;
mod dialect;
mod embed;
mod error;
pub mod ffi;
#[cfg(feature = "test-hooks")]
pub mod fuzzing;
mod log;
mod mcp;
mod message;
mod notifier;
mod options;
mod outcome;
mod panic;
mod pull;
mod reasoning_details;
mod request;
mod secrets;
mod silence;
mod sink;
pub mod sse;
mod status;
mod thread;
mod tool_calls;
mod wait;
