//! The agent runner's first-turn members (`first_params_json`, `first_prefill`) against a
//! loopback chat server that records each request body: step 1 carries them, step 2 does not,
//! and the prefill never enters the conversation.

mod support;

use serde_json::Value;
use std::ffi::{c_void, CStr, CString};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use support::capi::Client;
use ylokh::ffi::agent::*;
use ylokh::ffi::conversation::*;
use ylokh::ffi::status::*;
use ylokh::ffi::types::ylokh_result;

const CALL: &str = r#"{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"calc","arguments":"{\"a\":1}"}}]},"finish_reason":"tool_calls"}]}"#;
const ANSWER: &str = r#"{"id":"c2","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"It is 2."},"finish_reason":"stop"}]}"#;

/// A chat server on 127.0.0.1 answering CALL, then ANSWER to every later request, one request
/// per connection; the bodies it received, in order.
fn recording_server() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let record = bodies.clone();
    std::thread::spawn(move || {
        for socket in listener.incoming() {
            let mut socket = socket.unwrap();
            let mut reader = BufReader::new(socket.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line == "\r\n" || line.is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap();
                    }
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let mut bodies = record.lock().unwrap();
            bodies.push(serde_json::from_slice(&body).unwrap());
            let answer = if bodies.len() == 1 { CALL } else { ANSWER };
            write!(
                socket,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            )
            .unwrap();
        }
    });
    (url, bodies)
}

unsafe extern "C" fn done(user_data: *mut c_void, result: *const ylokh_result) {
    unsafe { *user_data.cast::<u32>() = (*result).status };
}

fn run(client: &Client, conv: *mut ylokh_conversation, first_params: &CStr) -> (u32, u32) {
    let tools = CString::new(
        r#"[{"type":"function","function":{"name":"calc","parameters":{"type":"object"}}}]"#,
    )
    .unwrap();
    let params = CString::new(r#"{"temperature":0,"tool_choice":"auto"}"#).unwrap();
    let prefill = CString::new("<tool_call>\n").unwrap();
    let mut status = u32::MAX;
    let mut req: ylokh_agent_request = unsafe { std::mem::zeroed() };
    req.struct_size = std::mem::size_of::<ylokh_agent_request>();
    req.conversation = conv;
    req.tools_json = tools.as_ptr();
    req.params_json = params.as_ptr();
    req.first_params_json = first_params.as_ptr();
    req.first_prefill = prefill.as_ptr();
    req.user_data = (&mut status as *mut u32).cast();
    req.on_done = Some(done);
    let mut agent = std::ptr::null_mut();
    let started = unsafe { ylokh_agent_run(client.raw(), &req, &mut agent) };
    if started == YLOKH_OK {
        unsafe {
            ylokh_agent_wait(agent, u64::MAX);
            ylokh_agent_free(agent);
        }
    }
    (started, status)
}

fn new_conversation() -> *mut ylokh_conversation {
    let conv = ylokh_conversation_new();
    let (role, content) = (CString::new("user").unwrap(), CString::new("1+1?").unwrap());
    assert_eq!(
        unsafe { ylokh_conversation_add(conv, role.as_ptr(), content.as_ptr()) },
        YLOKH_OK
    );
    conv
}

#[test]
fn the_first_turn_params_and_prefill_go_with_step_1_only() {
    let (url, bodies) = recording_server();
    let client = Client::new(&url, None);
    let conv = new_conversation();
    let first = CString::new(r#"{"tool_choice":"required","max_tokens":128}"#).unwrap();
    assert_eq!(run(&client, conv, &first), (YLOKH_OK, YLOKH_OK));
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    let (step1, step2) = (&bodies[0], &bodies[1]);
    assert_eq!(step1["tool_choice"], "required", "{step1}");
    assert_eq!(step1["max_tokens"], 128, "{step1}");
    assert_eq!(
        step1["temperature"], 0,
        "params_json still applies: {step1}"
    );
    let last = step1["messages"].as_array().unwrap().last().unwrap();
    assert_eq!(
        last,
        &serde_json::json!({"role":"assistant","content":"<tool_call>\n"}),
        "{step1}"
    );
    assert_eq!(step2["tool_choice"], "auto", "{step2}");
    assert!(step2.get("max_tokens").is_none(), "{step2}");
    assert_eq!(step2["temperature"], 0, "{step2}");
    assert!(
        !step2.to_string().contains("<tool_call>"),
        "no prefill in step 2: {step2}"
    );
    let messages = step2["messages"].as_array().unwrap();
    assert_eq!(
        messages.len(),
        3,
        "user, assistant with the call, result: {step2}"
    );
    assert_eq!(messages[1]["tool_calls"][0]["id"], "call_1", "{step2}");
    assert_eq!(messages[2]["role"], "tool", "{step2}");
    // The conversation holds what step 2 sent, never the prefill.
    let history: Value = serde_json::from_str(
        unsafe { CStr::from_ptr(ylokh_conversation_json(conv)) }
            .to_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(history.as_array().unwrap(), messages);
    unsafe { ylokh_conversation_free(conv) };
}

#[test]
fn first_params_json_that_is_not_an_object_is_refused_before_the_run() {
    let (url, bodies) = recording_server();
    let client = Client::new(&url, None);
    let conv = new_conversation();
    let first = CString::new(r#"["tool_choice"]"#).unwrap();
    let (started, status) = run(&client, conv, &first);
    assert_eq!((started, status), (YLOKH_INVALID_ARGUMENT, u32::MAX));
    let message = unsafe { CStr::from_ptr(ylokh::ffi::misc::ylokh_last_error()) };
    assert!(
        message.to_str().unwrap().contains("req->first_params_json"),
        "{message:?}"
    );
    assert!(bodies.lock().unwrap().is_empty());
    unsafe { ylokh_conversation_free(conv) };
}
