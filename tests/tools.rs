//! Tool calls, message_json and conversations through the C ABI, over the loopback server:
//! every recorded stream in tests/fixtures/tools/ is written 3 bytes at a time, and the
//! callbacks' exact sequence is compared with what the contract says.

mod support;

use serde_json::{json, Value};
use std::ffi::{c_char, c_int, c_void, CString};
use support::capi::Client;
use support::start_server;
use support::transcript::*;
use ylokh::ffi::chat_request::{ylokh_chat_request, ylokh_chat_send};
use ylokh::ffi::conversation::*;
use ylokh::ffi::misc::ylokh_last_error;
use ylokh::ffi::request::{ylokh_request_free, ylokh_request_next};
use ylokh::ffi::status::*;
use ylokh::ffi::types::{
    ylokh_event, ylokh_message, YLOKH_EVENT_DONE, YLOKH_EVENT_TOKEN, YLOKH_EVENT_TOOL_CALL,
};

/// Replays tests/fixtures/tools/NAME: the events, and message_json parsed.
fn replay(name: &str, stream: bool) -> (Vec<String>, Option<Value>) {
    let server = start_server();
    let mut tr = Transcript::default();
    send(
        &format!("{}/replay3-tools.{name}/v1", server.url()),
        request(stream),
        &mut tr,
    );
    let message = tr
        .message_json
        .map(|m| serde_json::from_str(&m).expect("message_json is valid JSON"));
    (tr.events, message)
}

fn calls_of(events: &[String]) -> Vec<&str> {
    events
        .iter()
        .filter(|e| e.starts_with("call:"))
        .map(String::as_str)
        .collect()
}

/// The deltas of each call concatenate to its final arguments, and each call is named once.
fn check_deltas_add_up(events: &[String]) {
    for call in calls_of(events) {
        let call = call.rsplit_once(':').unwrap().0; // drop ":valid"
        let parts: Vec<&str> = call.splitn(5, ':').collect();
        let (index, args) = (parts[1], parts[4]);
        let deltas: Vec<Vec<&str>> = events
            .iter()
            .filter(|e| e.starts_with(&format!("delta:{index}:")))
            .map(|e| e.splitn(5, ':').collect())
            .collect();
        let joined: String = deltas.iter().map(|d| d[4]).collect();
        if args != "{}" || !joined.is_empty() {
            assert_eq!(joined, args, "deltas of call {index}");
        }
        let named = deltas.iter().filter(|d| d[3] != "-").count();
        assert_eq!(named, 1, "call {index} is named in exactly one delta");
    }
}

#[test]
fn openai_shape_with_usage_chunk() {
    let (events, message) = replay("openai", true);
    check_deltas_add_up(&events);
    let tail: Vec<&str> = events
        .iter()
        .rev()
        .take(2)
        .rev()
        .map(String::as_str)
        .collect();
    assert_eq!(
        tail,
        [
            r#"call:0:call_abc123:get_weather:{"location":"Paris, France"}:true"#,
            "done:YLOKH_OK:tool_calls:1"
        ]
    );
    assert_eq!(
        message.unwrap(),
        json!({"role":"assistant","content":null,"tool_calls":[{"id":"call_abc123","type":"function",
            "function":{"name":"get_weather","arguments":"{\"location\":\"Paris, France\"}"}}]})
    );
}

#[test]
fn parallel_calls_interleaved_by_index() {
    let (events, _) = replay("parallel", true);
    check_deltas_add_up(&events);
    assert_eq!(
        calls_of(&events),
        [
            r#"call:0:call_A:get_weather:{"city":"Oslo"}:true"#,
            r#"call:1:call_B:get_time:{"tz":"UTC"}:true"#
        ]
    );
    assert_eq!(events.last().unwrap(), "done:YLOKH_OK:tool_calls:2");
}

#[test]
fn no_index_follows_ids_then_the_latest_call() {
    let (events, _) = replay("noindex", true);
    check_deltas_add_up(&events);
    assert_eq!(
        calls_of(&events),
        [
            r#"call:0:g1:get_weather:{"city":"Rome"}:true"#,
            r#"call:1:g2:get_time:{"tz":"CET"}:true"#
        ]
    );
}

#[test]
fn indexes_starting_at_one_and_skipping_are_positions_from_zero() {
    let (events, _) = replay("index1", true);
    check_deltas_add_up(&events);
    assert_eq!(
        calls_of(&events),
        [
            r#"call:0:call_1:get_weather:{"city":"Lima"}:true"#,
            "call:1:call_3:get_time:{}:true"
        ]
    );
}

#[test]
fn repeated_id_and_name_are_set_once() {
    let (events, _) = replay("repeated", true);
    check_deltas_add_up(&events);
    assert_eq!(
        calls_of(&events),
        [r#"call:0:call_rep:calc:{"a":2,"op":"*","b":21}:true"#]
    );
}

#[test]
fn a_whole_call_with_the_finish_reason_in_one_chunk() {
    let (events, _) = replay("whole", true);
    assert_eq!(
        events,
        [
            r#"delta:0:call_one:calc:{"a":17,"op":"*","b":23}"#,
            r#"call:0:call_one:calc:{"a":17,"op":"*","b":23}:true"#,
            "done:YLOKH_OK:tool_calls:1"
        ]
    );
}

#[test]
fn an_index_reused_with_a_new_id_is_a_new_call() {
    let (events, _) = replay("reused", true);
    assert_eq!(
        calls_of(&events),
        [
            "call:0:call_x:get_time:{}:true",
            r#"call:1:call_y:get_weather:{"city":"Kyiv"}:true"#
        ]
    );
}

#[test]
fn no_arguments_become_an_empty_object() {
    let (events, message) = replay("noargs", true);
    assert_eq!(calls_of(&events), ["call:0:call_n:get_time:{}:true"]);
    assert_eq!(
        message.unwrap()["tool_calls"][0]["function"]["arguments"],
        "{}"
    );
}

#[test]
fn arguments_that_end_as_invalid_json_are_marked() {
    let (events, _) = replay("badargs", true);
    assert_eq!(
        calls_of(&events),
        [r#"call:0:call_bad:calc:{"a":1,"b"::false"#]
    );
    assert_eq!(events.last().unwrap(), "done:YLOKH_OK:tool_calls:1");
}

#[test]
fn a_stream_cut_in_a_call_hands_out_no_call() {
    let (events, message) = replay("truncated", true);
    assert!(calls_of(&events).is_empty(), "{events:?}");
    assert_eq!(events.first().unwrap(), "token:Let me check.");
    assert!(events
        .iter()
        .any(|e| e.starts_with("delta:0:call_cut:get_weather:")));
    assert_eq!(events.last().unwrap(), "done:YLOKH_INCOMPLETE:-:0");
    assert_eq!(
        message.unwrap(),
        json!({"role":"assistant","content":"Let me check."}),
        "what arrived, never the unfinished call"
    );
}

#[test]
fn text_reasoning_and_a_call_in_one_answer() {
    let (events, message) = replay("textandtools", true);
    assert_eq!(
        events,
        [
            "reasoning:The user wants the time.",
            "token:Checking ",
            "token:the \"clock\"…",
            "delta:0:call_t:get_time:",
            "delta:0:call_t:-:{}",
            "call:0:call_t:get_time:{}:true",
            "done:YLOKH_OK:tool_calls:1"
        ]
    );
    assert_eq!(
        message.unwrap(),
        json!({"role":"assistant","content":"Checking the \"clock\"…",
            "reasoning_content":"The user wants the time.",
            "tool_calls":[{"id":"call_t","type":"function","function":{"name":"get_time","arguments":"{}"}}]})
    );
}

#[test]
fn legacy_function_call_is_call_zero() {
    let (events, _) = replay("legacy", true);
    check_deltas_add_up(&events);
    assert_eq!(
        calls_of(&events),
        [r#"call:0:call_0:calc:{"a":6,"op":"+","b":7}:true"#]
    );
}

#[test]
fn not_streamed_message_tool_calls_and_function_call() {
    let (events, message) = replay("nonstream", false);
    assert_eq!(
        events,
        [
            r#"call:0:call_w1:get_weather:{"city":"Paris"}:true"#,
            "call:1:call_w2:get_time:{}:true",
            "done:YLOKH_OK:tool_calls:2"
        ]
    );
    assert_eq!(message.unwrap()["tool_calls"][1]["id"], "call_w2");
    let (events, _) = replay("nonstream-legacy", false);
    assert_eq!(
        calls_of(&events),
        [r#"call:0:call_0:calc:{"a":6,"op":"+","b":7}:true"#]
    );
}

#[test]
fn a_call_callback_that_returns_non_zero_aborts_and_message_json_keeps_no_calls() {
    let server = start_server();
    let mut tr = Transcript {
        abort_on_call: true,
        ..Transcript::default()
    };
    let url = format!("{}/replay3-tools.parallel/v1", server.url());
    assert_eq!(send(&url, request(true), &mut tr), YLOKH_ABORTED);
    assert_eq!(calls_of(&tr.events).len(), 1, "{:?}", tr.events);
    assert_eq!(
        tr.events.last().unwrap(),
        "done:YLOKH_ABORTED:tool_calls:1",
        "the call whose callback stopped the request was handed out"
    );
    let message: Value = serde_json::from_str(tr.message_json.as_ref().unwrap()).unwrap();
    assert!(message.get("tool_calls").is_none(), "{message}");
}

#[test]
fn text_only_streams_get_a_message_json_too() {
    let server = start_server();
    let mut tr = Transcript::default();
    send(
        &format!("{}/stream/v1", server.url()),
        request(true),
        &mut tr,
    );
    let message: Value = serde_json::from_str(tr.message_json.as_ref().unwrap()).unwrap();
    assert_eq!(message["role"], "assistant");
    assert_eq!(message["content"], support::expected_text());
    assert!(message.get("tool_calls").is_none());
    // No response at all: NULL.
    let mut tr = Transcript::default();
    send("http://127.0.0.1:9/v1", request(true), &mut tr);
    assert!(tr.events.last().unwrap().starts_with("done:YLOKH_CONNECT"));
    assert_eq!(tr.message_json, None);
}

#[test]
fn pull_requests_get_tool_call_events_after_the_text() {
    let server = start_server();
    let client = Client::new(
        &format!("{}/replay3-tools.textandtools/v1", server.url()),
        None,
    );
    let mut req: ylokh_chat_request = unsafe { std::mem::zeroed() };
    req.struct_size = std::mem::size_of::<ylokh_chat_request>();
    req.stream = true;
    req.pull = true;
    let (role, content) = (CString::new("user").unwrap(), CString::new("hi").unwrap());
    let messages = [ylokh_message {
        role: role.as_ptr(),
        content: content.as_ptr(),
    }];
    req.messages = messages.as_ptr();
    req.n_messages = 1;
    let mut handle = std::ptr::null_mut();
    assert_eq!(
        unsafe { ylokh_chat_send(client.raw(), &req, &mut handle) },
        YLOKH_OK
    );
    let mut kinds = Vec::new();
    loop {
        let mut event: ylokh_event = unsafe { std::mem::zeroed() };
        assert_eq!(
            unsafe { ylokh_request_next(handle, u64::MAX, &mut event) },
            YLOKH_OK
        );
        kinds.push(event.kind);
        if event.kind == YLOKH_EVENT_TOOL_CALL {
            let call: Value = serde_json::from_str(&text(event.text, event.len)).unwrap();
            assert_eq!(
                call,
                json!({"index":0,"id":"call_t","type":"function","function":{"name":"get_time","arguments":"{}"}})
            );
        }
        if event.kind == YLOKH_EVENT_DONE {
            let r = unsafe { &*event.result };
            assert_eq!(r.n_tool_calls, 1);
            break;
        }
    }
    assert_eq!(
        kinds,
        [
            2, // reasoning
            YLOKH_EVENT_TOKEN,
            YLOKH_EVENT_TOKEN,
            YLOKH_EVENT_TOOL_CALL,
            YLOKH_EVENT_DONE
        ]
    );
    unsafe { ylokh_request_free(handle) };
}

/// What the server received: the body of an echo request.
fn echoed_body(mut req: ylokh_chat_request) -> Value {
    let server = start_server();
    let mut tr = Transcript::default();
    req.stream = false;
    req.on_chunk = Some(on_chunk_keep);
    send(&format!("{}/echo/v1", server.url()), req, &mut tr);
    let chunk = tr
        .events
        .iter()
        .find_map(|e| e.strip_prefix("chunk:"))
        .unwrap_or_else(|| panic!("no answer: {:?}", tr.events));
    let answer: Value = serde_json::from_str(chunk).unwrap();
    let content = answer["choices"][0]["message"]["content"].as_str().unwrap();
    let body = content.split_once("\n\n").map_or(content, |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {content}"))
}

unsafe extern "C" fn on_chunk_keep(u: *mut c_void, t: *const c_char, len: usize) -> c_int {
    let tr = unsafe { &mut *u.cast::<Transcript>() };
    tr.events.push(format!("chunk:{}", text(t, len)));
    0
}

#[test]
fn a_conversation_and_tools_make_the_body_and_params_win() {
    let conv = ylokh_conversation_new();
    let cs = |s: &str| CString::new(s).unwrap();
    unsafe {
        assert_eq!(
            ylokh_conversation_add(conv, cs("system").as_ptr(), cs("Be brief.").as_ptr()),
            YLOKH_OK
        );
        let tricky = "quote \" backslash \\ newline \n tab \t nul-free \u{1} emoji 🦀 RTL שלום";
        assert_eq!(
            ylokh_conversation_add(conv, cs("user").as_ptr(), cs(tricky).as_ptr()),
            YLOKH_OK
        );
        let answer = r#"{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"calc","arguments":"{\"a\":1}"}}]}"#;
        assert_eq!(
            ylokh_conversation_add_json(conv, cs(answer).as_ptr()),
            YLOKH_OK
        );
        assert_eq!(
            ylokh_conversation_add_tool_result(conv, cs("c1").as_ptr(), cs("2").as_ptr()),
            YLOKH_OK
        );
        assert_eq!(ylokh_conversation_len(conv), 4);
        let json: Value = serde_json::from_str(&c_str(ylokh_conversation_json(conv))).unwrap();
        assert_eq!(json[1]["content"], tricky);
        assert_eq!(
            json[3],
            json!({"role":"tool","tool_call_id":"c1","content":"2"})
        );
    }
    let tools =
        cs(r#"[{"type":"function","function":{"name":"calc","parameters":{"type":"object"}}}]"#);
    let params = cs(r#"{"tool_choice":"required","temperature":0}"#);
    let mut req = request(false);
    req.conversation = conv;
    req.tools_json = tools.as_ptr();
    req.params_json = params.as_ptr();
    let body = echoed_body(req);
    assert_eq!(body["messages"].as_array().unwrap().len(), 4);
    assert_eq!(body["messages"][2]["tool_calls"][0]["id"], "c1");
    assert_eq!(body["tools"][0]["function"]["name"], "calc");
    assert_eq!(body["tool_choice"], "required");
    assert_eq!(body["stream"], false);
    unsafe { ylokh_conversation_free(conv) };
}

#[test]
fn chat_send_refuses_bad_requests_and_runs_no_callback() {
    let server = start_server();
    let url = format!("{}/stream/v1", server.url());
    let conv = ylokh_conversation_new();
    let cs = |s: &str| CString::new(s).unwrap();
    type Edit = Box<dyn Fn(&mut ylokh_chat_request)>;
    let cases: Vec<(&str, Edit)> = vec![
        ("struct_size", Box::new(|r| r.struct_size = 0)),
        ("struct_size", Box::new(|r| r.struct_size = 8)),
        // Sizes that end inside a pointer member would copy a torn pointer.
        (
            "struct_size",
            Box::new(|r| r.struct_size = std::mem::offset_of!(ylokh_chat_request, user_data) + 4),
        ),
        (
            "struct_size",
            Box::new(|r| r.struct_size = std::mem::offset_of!(ylokh_chat_request, on_done) + 4),
        ),
        (
            "tools_json",
            Box::new(|r| r.tools_json = c"{\"not\":\"an array\"}".as_ptr()),
        ),
        ("tools_json", Box::new(|r| r.tools_json = c"[oops".as_ptr())),
        ("params_json", Box::new(|r| r.params_json = c"[1]".as_ptr())),
        ("pull", Box::new(|r| r.pull = true)),
        ("both", Box::new(move |r| r.conversation = conv)),
    ];
    for (what, edit) in cases {
        let mut tr = Transcript::default();
        let mut req = request(true);
        edit(&mut req);
        let (role, content) = (cs("user"), cs("hi"));
        let messages = [ylokh_message {
            role: role.as_ptr(),
            content: content.as_ptr(),
        }];
        req.messages = messages.as_ptr();
        req.n_messages = 1;
        let s = send(&url, req, &mut tr);
        assert_eq!(s, YLOKH_INVALID_ARGUMENT, "{what}");
        let message = c_str(ylokh_last_error());
        assert!(message.contains(what), "{what}: {message}");
        assert!(tr.events.is_empty(), "no callback for {what}");
    }
    // A caller built against a shorter struct: members past struct_size count as NULL.
    let mut tr = Transcript::default();
    let mut req = request(true);
    req.struct_size = std::mem::offset_of!(ylokh_chat_request, user_data);
    assert_eq!(send(&url, req, &mut tr), YLOKH_OK);
    assert!(tr.events.is_empty(), "the callbacks were past struct_size");
    unsafe { ylokh_conversation_free(conv) };
}

#[test]
fn conversation_functions_check_their_arguments_and_read_images() {
    let cs = |s: &str| CString::new(s).unwrap();
    let conv = ylokh_conversation_new();
    unsafe {
        assert_eq!(
            ylokh_conversation_add(std::ptr::null_mut(), cs("user").as_ptr(), cs("x").as_ptr()),
            YLOKH_INVALID_ARGUMENT
        );
        assert_eq!(
            ylokh_conversation_add(conv, std::ptr::null(), cs("x").as_ptr()),
            YLOKH_INVALID_ARGUMENT
        );
        let bad_utf8 = b"\xff\xfe\0";
        assert_eq!(
            ylokh_conversation_add(conv, cs("user").as_ptr(), bad_utf8.as_ptr().cast()),
            YLOKH_INVALID_ARGUMENT
        );
        assert!(c_str(ylokh_last_error()).contains("not valid UTF-8"));
        for bad in ["[1]", "{\"content\":\"x\"}", "{\"role\":5}", "nope"] {
            assert_eq!(
                ylokh_conversation_add_json(conv, cs(bad).as_ptr()),
                YLOKH_INVALID_ARGUMENT,
                "{bad}"
            );
        }
        assert_eq!(
            ylokh_conversation_len(conv),
            0,
            "refused changes change nothing"
        );
        // An image from a file, as a data URL whose base64 decodes back to the file.
        let png = [
            &b"\x89PNG\r\n\x1a\n"[..],
            &b"\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89"[..],
        ]
        .concat();
        let path = support::tmp_path("pixel.png");
        std::fs::write(&path, &png).unwrap();
        let path_c = cs(path.to_str().unwrap());
        assert_eq!(
            ylokh_conversation_add_image(
                conv,
                cs("user").as_ptr(),
                cs("What is this?").as_ptr(),
                path_c.as_ptr()
            ),
            YLOKH_OK
        );
        assert_eq!(
            ylokh_conversation_add_image(
                conv,
                cs("user").as_ptr(),
                std::ptr::null(),
                cs("https://example.com/cat.jpg").as_ptr()
            ),
            YLOKH_OK
        );
        let text_file = support::tmp_path("not-an-image.txt");
        std::fs::write(&text_file, "hello").unwrap();
        assert_eq!(
            ylokh_conversation_add_image(
                conv,
                cs("user").as_ptr(),
                std::ptr::null(),
                cs(text_file.to_str().unwrap()).as_ptr()
            ),
            YLOKH_INVALID_ARGUMENT
        );
        let json: Value = serde_json::from_str(&c_str(ylokh_conversation_json(conv))).unwrap();
        assert_eq!(
            json[0]["content"][0],
            json!({"type":"text","text":"What is this?"})
        );
        let url = json[0]["content"][1]["image_url"]["url"].as_str().unwrap();
        let b64 = url.strip_prefix("data:image/png;base64,").expect(url);
        use base64::Engine as _;
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
            png
        );
        assert_eq!(
            json[1]["content"],
            json!([{"type":"image_url","image_url":{"url":"https://example.com/cat.jpg"}}])
        );
        assert_eq!(ylokh_conversation_truncate(conv, 5), YLOKH_INVALID_ARGUMENT);
        assert_eq!(ylokh_conversation_truncate(conv, 1), YLOKH_OK);
        assert_eq!(ylokh_conversation_len(conv), 1);
        assert_eq!(ylokh_conversation_len(std::ptr::null()), 0);
        assert!(ylokh_conversation_json(std::ptr::null()).is_null());
        ylokh_conversation_free(conv);
        ylokh_conversation_free(std::ptr::null_mut());
    }
}
