//! libylokh: stream chat completions from OpenAI-compatible servers into C, C++ and any
//! language with an FFI. The C API (`include/ylokh.h`, generated from `src/ffi/`) is the
//! product; the modules below hold the logic in plain Rust.
//!
//! - [`sse`]: the incremental Server-Sent Events decoder;
//! - [`chunk`]: what one JSON document from the server means (tokens, usage, errors);
//! - [`options`]: the presets and every setting;
//! - [`request`]: one request's exchange, from body to outcome;
//! - [`client`]: the runtime, the connection pool, the registry of running requests;
//! - [`sink`], [`pull`]: where events go (C callbacks, or the bounded pull queue);
//! - [`log`]: log records;
//! - [`ffi`]: the thin `extern "C"` layer.

#![allow(non_camel_case_types)]
#![allow(clippy::missing_safety_doc)] // the safety contract of every C function is in API.md and ylokh.h

pub mod chunk;
mod chunk_scan;
pub mod client;
mod connect_log;
#[allow(dead_code)] // wired into the C API later
pub(crate) mod conversation;
#[allow(dead_code)] // wired into the request engine later
pub(crate) mod dialect;
pub mod error;
pub mod ffi;
#[doc(hidden)]
pub mod fuzzing;
pub mod log;
#[allow(dead_code)] // wired into the request engine and the C API later
pub(crate) mod message;
pub mod options;
pub mod pull;
pub mod request;
pub mod silence;
pub mod sink;
pub mod sse;
pub mod status;
#[allow(dead_code)] // wired into the request engine and the C API later
pub(crate) mod tool_calls;
pub mod wait;
