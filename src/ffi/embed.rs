//! `ylokh_embed` and the `ylokh_embeddings` it hands out.

use super::client::ylokh_client;
use super::request::refuse_on_library_thread;
use super::status::ylokh_status;
use super::{optional_str, required_ref, required_str, status_boundary, void_boundary, Out};
use crate::embed::{embed, Embeddings};
use crate::error::Error;
use crate::options::parse_object;
use std::ffi::{c_char, CString};

/// The vectors of one `ylokh_embed` call. Library-allocated: free it with
/// `ylokh_embeddings_free`; every pointer in it stays valid until then.
///
/// Methods: made by `ylokh_embed`, freed by `ylokh_embeddings_free`.
#[repr(C)]
pub struct ylokh_embeddings {
    /// The number of vectors: one per input, in input order.
    pub count: usize,
    /// The length of every vector.
    pub dimensions: usize,
    /// `count * dimensions` floats, row after row (input i at `data + i * dimensions`).
    pub data: *const f32,
    /// The prompt tokens the server counted; -1 when it did not say.
    pub prompt_tokens: i64,
    /// The server's model name (NUL-terminated), or NULL when it did not say.
    pub model: *const c_char,
    /// The HTTP status of the answer.
    pub http_status: u16,
}

/// What a `*mut ylokh_embeddings` really points to: the C struct first, then what it borrows.
#[repr(C)]
struct Owned {
    raw: ylokh_embeddings,
    _data: Vec<f32>,
    _model: Option<CString>,
}

fn to_c(e: Embeddings) -> *mut ylokh_embeddings {
    let model = e
        .model
        .map(|m| CString::new(m.replace('\0', " ")).expect("NULs were removed"));
    let owned = Box::new(Owned {
        raw: ylokh_embeddings {
            count: e.count,
            dimensions: e.dimensions,
            data: e.data.as_ptr(),
            prompt_tokens: e.prompt_tokens,
            model: model.as_ref().map_or(std::ptr::null(), |m| m.as_ptr()),
            http_status: e.http_status,
        },
        _data: e.data,
        _model: model,
    });
    // `raw` is the first member of a repr(C) struct: the same address.
    Box::into_raw(owned).cast()
}

/// Embeds `n_inputs` texts (`inputs[i]`: UTF-8, NUL-terminated, not NULL) with `model` (NULL:
/// the client's default) and writes the vectors to `*out` (free them with
/// `ylokh_embeddings_free`). Blocks the calling thread until the answer, as
/// `ylokh_chat_complete` does, with the client's retries, proxy, TLS, timeouts, logging and key.
///
/// `POST {base}/embeddings` with `{"model","input":[...],"encoding_format":"base64"}` then every
/// key of `params_json` (NULL or a JSON object; later keys win, e.g. `"dimensions"`, or
/// `"encoding_format":"float"` for a server that refuses base64). Both base64 and arrays of
/// numbers are read. A count that does not match the inputs, vectors of unequal length, or a
/// non-finite value: YLOKH_PROTOCOL. An answer larger than the client's
/// `ylokh_options_set_max_event_bytes` cap (16 MiB by default): YLOKH_PROTOCOL.
///
/// On failure `*out` is untouched and `ylokh_last_error` says why. From a library thread:
/// YLOKH_RECURSIVE_CALL.
#[no_mangle]
pub unsafe extern "C" fn ylokh_embed(
    client: *mut ylokh_client,
    model: *const c_char,
    inputs: *const *const c_char,
    n_inputs: usize,
    params_json: *const c_char,
    out: *mut *mut ylokh_embeddings,
) -> ylokh_status {
    status_boundary(|| {
        // SAFETY: every pointer is NULL or valid as documented above (the caller's contract).
        let (client, out, model, params) = unsafe {
            (
                &required_ref(client, "client")?.inner,
                Out::new(out, "out")?,
                optional_str(model, "model")?,
                optional_str(params_json, "params_json")?,
            )
        };
        refuse_on_library_thread("ylokh_embed")?;
        if inputs.is_null() && n_inputs > 0 {
            return Err(Error::invalid(format!(
                "inputs must not be NULL when n_inputs is {n_inputs}"
            )));
        }
        let texts = (0..n_inputs)
            .map(|i| {
                // SAFETY: `inputs` is not NULL (checked) and holds `n_inputs` strings, each
                // NULL or NUL-terminated, alive for the call (the contract); `i < n_inputs`.
                unsafe { required_str(*inputs.add(i), &format!("inputs[{i}]")) }
            })
            .collect::<Result<Vec<&str>, Error>>()?;
        let params = params
            .map(|json| parse_object(json, "params_json"))
            .transpose()?;
        let embeddings = embed(client, model, &texts, params.as_ref())?;
        out.write(to_c(embeddings));
        Ok(())
    })
}

/// Frees what `ylokh_embed` wrote. NULL does nothing.
#[no_mangle]
pub unsafe extern "C" fn ylokh_embeddings_free(e: *mut ylokh_embeddings) {
    void_boundary(|| {
        if !e.is_null() {
            // SAFETY: made by `to_c` (an `Owned` behind its first member), freed once (the
            // contract).
            drop(unsafe { Box::from_raw(e.cast::<Owned>()) });
        }
    })
}
