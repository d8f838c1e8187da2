//! `ylokh_embed` on the wire, through the C ABI, against the loopback server's embeddings
//! scenarios (tests/support/embeddings.rs).

mod support;

use std::ffi::{c_char, CStr, CString};
use support::capi::Client;
use support::start_server;
use ylokh::ffi::embed::{ylokh_embed, ylokh_embeddings, ylokh_embeddings_free};
use ylokh::ffi::misc::ylokh_last_error;
use ylokh::ffi::status::*;

struct Answer {
    status: ylokh_status,
    vectors: Vec<Vec<f32>>,
    prompt_tokens: i64,
    model: Option<String>,
    http_status: u16,
    message: String,
}

fn embed(client: &Client, model: Option<&str>, inputs: &[&str], params: Option<&str>) -> Answer {
    let texts: Vec<CString> = inputs.iter().map(|s| CString::new(*s).unwrap()).collect();
    let pointers: Vec<*const c_char> = texts.iter().map(|s| s.as_ptr()).collect();
    let model = model.map(|m| CString::new(m).unwrap());
    let params = params.map(|p| CString::new(p).unwrap());
    let mut out: *mut ylokh_embeddings = std::ptr::null_mut();
    let status = unsafe {
        ylokh_embed(
            client.raw(),
            model.as_ref().map_or(std::ptr::null(), |m| m.as_ptr()),
            pointers.as_ptr(),
            pointers.len(),
            params.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()),
            &mut out,
        )
    };
    if status != YLOKH_OK {
        assert!(out.is_null(), "out is untouched on failure");
        let message = unsafe { CStr::from_ptr(ylokh_last_error()) }
            .to_string_lossy()
            .into_owned();
        return Answer {
            status,
            vectors: Vec::new(),
            prompt_tokens: -1,
            model: None,
            http_status: 0,
            message,
        };
    }
    let e = unsafe { &*out };
    let data = unsafe { std::slice::from_raw_parts(e.data, e.count * e.dimensions) };
    let answer = Answer {
        status,
        vectors: data.chunks(e.dimensions).map(<[f32]>::to_vec).collect(),
        prompt_tokens: e.prompt_tokens,
        model: (!e.model.is_null()).then(|| {
            unsafe { CStr::from_ptr(e.model) }
                .to_string_lossy()
                .into_owned()
        }),
        http_status: e.http_status,
        message: String::new(),
    };
    assert_eq!(answer.vectors.len(), e.count);
    unsafe { ylokh_embeddings_free(out) };
    answer
}

fn expected(inputs: &[&str]) -> Vec<Vec<f32>> {
    inputs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            vec![
                s.len() as f32,
                s.as_bytes()[0] as f32,
                0.5,
                -1.25 * i as f32,
            ]
        })
        .collect()
}

const INPUTS: [&str; 3] = ["hello world", "Привет", "third input"];

#[test]
fn base64_is_asked_for_and_read() {
    let server = start_server();
    // This server refuses anything but base64: the library asks for it.
    let client = Client::new(&format!("{}/emb-b64only/v1", server.url()), None);
    let a = embed(&client, Some("nomic"), &INPUTS, None);
    assert_eq!(a.status, YLOKH_OK, "{}", a.message);
    assert_eq!(a.vectors, expected(&INPUTS));
    assert_eq!((a.prompt_tokens, a.http_status), (5, 200));
    assert_eq!(a.model.as_deref(), Some("nomic"));
    // params_json is merged last: asking for floats reaches the server (which refuses).
    let a = embed(
        &client,
        None,
        &INPUTS,
        Some(r#"{"encoding_format":"float"}"#),
    );
    assert_eq!(a.status, YLOKH_HTTP_STATUS);
    assert!(
        a.message.contains("HTTP 400") && a.message.contains("must be \"base64\""),
        "{}",
        a.message
    );
    assert!(
        a.message.contains("/emb-b64only/v1/embeddings"),
        "{}",
        a.message
    );
}

#[test]
fn floats_are_read_from_a_server_that_ignores_base64_or_when_asked() {
    let server = start_server();
    let ignores = Client::new(&format!("{}/emb-float/v1", server.url()), None);
    let a = embed(&ignores, None, &INPUTS, None);
    assert_eq!(a.status, YLOKH_OK, "{}", a.message);
    // Its data came in reverse order, with indexes: the vectors are in input order.
    assert_eq!(a.vectors, expected(&INPUTS));
    let honours = Client::new(&format!("{}/emb/v1", server.url()), None);
    let a = embed(
        &honours,
        None,
        &INPUTS[..1],
        Some(r#"{"encoding_format":"float"}"#),
    );
    assert_eq!(a.status, YLOKH_OK, "{}", a.message);
    assert_eq!(a.vectors, expected(&INPUTS[..1]));
}

#[test]
fn bad_shapes_are_protocol_errors_that_say_what_was_wrong() {
    let server = start_server();
    for (kind, what) in [
        ("count", "has 2 vectors for 3 inputs"),
        (
            "unequal",
            "unequal length: 4 values for input 0, 3 for input 2",
        ),
        ("nan", "non-finite value (NaN) at data[0].embedding[2]"),
    ] {
        let client = Client::new(&format!("{}/emb-{kind}/v1", server.url()), None);
        let a = embed(&client, None, &INPUTS, None);
        assert_eq!(a.status, YLOKH_PROTOCOL, "{kind}: {}", a.message);
        assert!(a.message.contains(what), "{kind}: {}", a.message);
    }
}

#[test]
fn http_errors_carry_the_servers_text() {
    let server = start_server();
    // llama.cpp's refusal of an input over the context.
    let client = Client::new(&format!("{}/emb-ctx/v1", server.url()), None);
    let long = "word ".repeat(40);
    let a = embed(&client, None, &["short", &long], None);
    assert_eq!(a.status, YLOKH_HTTP_STATUS);
    assert!(
        a.message.contains("HTTP 400") && a.message.contains("exceeds the available context size"),
        "{}",
        a.message
    );
    assert_eq!(embed(&client, None, &["short"], None).status, YLOKH_OK);
    // A 500 is retried as chat's are, then reported with the server's text.
    let client = Client::with_retries(&format!("{}/emb-500/v1", server.url()), 1);
    let a = embed(&client, None, &["x"], None);
    assert_eq!(a.status, YLOKH_HTTP_STATUS);
    assert!(
        a.message.contains("HTTP 500") && a.message.contains("physical batch size"),
        "{}",
        a.message
    );
    assert_eq!(server.hits("emb-500"), 2, "one retry");
    // A server without the endpoint.
    let client = Client::new(&format!("{}/nothing/v1", server.url()), None);
    let a = embed(&client, None, &["x"], None);
    assert_eq!(a.status, YLOKH_HTTP_STATUS, "{}", a.message);
}

#[test]
fn bad_arguments_are_refused_before_anything_is_sent() {
    let server = start_server();
    let client = Client::new(&format!("{}/emb/v1", server.url()), None);
    let a = embed(&client, None, &[], None);
    assert_eq!(a.status, YLOKH_INVALID_ARGUMENT);
    assert!(a.message.contains("no inputs"), "{}", a.message);
    let a = embed(&client, None, &["x"], Some("[1]"));
    assert_eq!(a.status, YLOKH_INVALID_ARGUMENT, "{}", a.message);
    let mut out = std::ptr::null_mut();
    let null_input: [*const c_char; 1] = [std::ptr::null()];
    let status = unsafe {
        ylokh_embed(
            client.raw(),
            std::ptr::null(),
            null_input.as_ptr(),
            1,
            std::ptr::null(),
            &mut out,
        )
    };
    assert_eq!(status, YLOKH_INVALID_ARGUMENT);
    let message = unsafe { CStr::from_ptr(ylokh_last_error()) }
        .to_string_lossy()
        .into_owned();
    assert!(message.contains("inputs[0]"), "{message}");
    assert_eq!(server.hits("emb"), 0);
    unsafe { ylokh_embeddings_free(std::ptr::null_mut()) };
}

static IN_CALLBACK: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(u32::MAX);

unsafe extern "C" fn embed_in_callback(
    client: *mut std::ffi::c_void,
    _: *const c_char,
    _: usize,
) -> std::ffi::c_int {
    let input = CString::new("x").unwrap();
    let inputs = [input.as_ptr()];
    let mut out = std::ptr::null_mut();
    let status = unsafe {
        ylokh_embed(
            client.cast(),
            std::ptr::null(),
            inputs.as_ptr(),
            1,
            std::ptr::null(),
            &mut out,
        )
    };
    IN_CALLBACK.store(status, std::sync::atomic::Ordering::SeqCst);
    1 // stop the request
}

#[test]
fn embed_from_a_library_thread_is_a_recursive_call() {
    use ylokh::ffi::request::{ylokh_chat_start, ylokh_request_free, ylokh_request_wait};
    use ylokh::ffi::types::{ylokh_callbacks, ylokh_message};
    let server = start_server();
    let client = Client::new(&format!("{}/stream/v1", server.url()), None);
    let (role, content) = (CString::new("user").unwrap(), CString::new("hi").unwrap());
    let messages = [ylokh_message {
        role: role.as_ptr(),
        content: content.as_ptr(),
    }];
    let callbacks = ylokh_callbacks {
        user_data: client.raw().cast(),
        on_token: Some(embed_in_callback),
        on_reasoning: None,
        on_chunk: None,
        on_done: None,
    };
    let mut req = std::ptr::null_mut();
    unsafe {
        let s = ylokh_chat_start(
            client.raw(),
            std::ptr::null(),
            messages.as_ptr(),
            1,
            std::ptr::null(),
            true,
            &callbacks,
            &mut req,
        );
        assert_eq!(s, YLOKH_OK);
        assert_eq!(ylokh_request_wait(req, u64::MAX), YLOKH_ABORTED);
        ylokh_request_free(req);
    }
    assert_eq!(
        IN_CALLBACK.load(std::sync::atomic::Ordering::SeqCst),
        YLOKH_RECURSIVE_CALL
    );
}

/// The client's key goes with an embeddings request as with chat, and never shows in the error
/// text even when a server quotes it back.
#[test]
fn the_key_is_sent_and_never_shown() {
    use ylokh::ffi::client::ylokh_client_new;
    use ylokh::ffi::options::*;
    let server = start_server();
    let make = |key: &str| unsafe {
        let url = CString::new(format!("{}/emb-auth/v1", server.url())).unwrap();
        let key = CString::new(key).unwrap();
        let opts = ylokh_options_new_compatible(url.as_ptr());
        assert_eq!(ylokh_options_set_api_key(opts, key.as_ptr()), YLOKH_OK);
        assert_eq!(ylokh_options_set_max_retries(opts, 0), YLOKH_OK);
        let mut client = std::ptr::null_mut();
        assert_eq!(ylokh_client_new(opts, &mut client), YLOKH_OK);
        ylokh_options_free(opts);
        Client::from_raw(client)
    };
    let a = embed(&make("sk-emb-secret"), None, &["x"], None);
    assert_eq!(a.status, YLOKH_OK, "{}", a.message);
    let wrong = embed(&make("sk-emb-wrong"), None, &["x"], None);
    assert_eq!(wrong.status, YLOKH_HTTP_STATUS);
    assert!(wrong.message.contains("HTTP 401"), "{}", wrong.message);
    assert!(
        wrong
            .message
            .contains("Incorrect API key provided: [redacted]"),
        "the key the server quoted back is scrubbed: {}",
        wrong.message
    );
    assert!(!wrong.message.contains("sk-emb-wrong"), "{}", wrong.message);
}
