use super::*;
use crate::tool_calls::tests::DeltaEvent;
use crate::tool_calls::{ToolCall, ToolCallAssembler};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

const PNG: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==";
const CAT: &str = "https://example.com/cat.jpg";

/// System ×2, user text, user text + two images, assistant text + two calls, two results,
/// assistant text, user text.
fn conversation() -> Vec<Value> {
    json!([
        {"role": "system", "content": "You are terse."},
        {"role": "system", "content": [{"type": "text", "text": "Use metric units."}]},
        {"role": "user", "content": "Weather in Paris and Oslo?"},
        {"role": "user", "content": [
            {"type": "text", "text": "And what is this?"},
            {"type": "image_url", "image_url": {"url": PNG}},
            {"type": "image_url", "image_url": {"url": CAT, "detail": "high"}}
        ]},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "call_2", "type": "function",
             "function": {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"}}
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18 C, sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "4 C, snow"},
        {"role": "assistant", "content": "Paris 18 C; Oslo 4 C. A cat."},
        {"role": "user", "content": "Thanks"}
    ])
    .as_array()
    .unwrap()
    .clone()
}

fn tools() -> Value {
    json!([{"type": "function", "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {"type": "object",
                       "properties": {"city": {"type": "string"}},
                       "required": ["city"]}
    }}])
}

fn object(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn body(api: Api, defaults: &Value, params: Option<&Value>, stream: bool) -> Value {
    let messages = conversation();
    let tools = tools();
    let defaults = object(defaults.clone());
    let params = params.map(|p| object(p.clone()));
    let input = BodyInput {
        defaults: &defaults,
        messages: &messages,
        model: Some("m1"),
        stream,
        tools: Some(&tools),
        params: params.as_ref(),
        stream_usage: true,
    };
    let (bytes, streaming) = api.body_bytes(&input);
    let parsed: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(Value::Object(api.build_body(&input)), parsed);
    assert_eq!(streaming, parsed["stream"] == json!(true));
    parsed
}

#[test]
fn api_default_and_paths() {
    assert_eq!(Api::default(), Api::ChatCompletions);
    assert_eq!(Api::ChatCompletions.path(), "chat/completions");
    assert_eq!(Api::Responses.path(), "responses");
    assert_eq!(Api::Messages.path(), "messages");
    assert!(Api::ChatCompletions.stream_state().is_none());
}

#[test]
fn chat_body_is_the_callers_format() {
    let got = body(
        Api::ChatCompletions,
        &json!({"temperature": 0.5}),
        Some(&json!({"top_p": 0.9})),
        true,
    );
    let expected = json!({
        "temperature": 0.5,
        "messages": conversation(),
        "model": "m1",
        "stream": true,
        "tools": tools(),
        "stream_options": {"include_usage": true},
        "top_p": 0.9
    });
    assert_eq!(got, expected);
}

#[test]
fn chat_stream_options_rules() {
    let messages = [json!({"role": "user", "content": "Hi"})];
    let empty = Map::new();
    let mut input = BodyInput {
        defaults: &empty,
        messages: &messages,
        model: None,
        stream: true,
        tools: None,
        params: None,
        stream_usage: true,
    };
    let chat = |input: &BodyInput<'_>| Value::Object(Api::ChatCompletions.build_body(input));
    assert_eq!(
        chat(&input),
        json!({"messages": messages, "stream": true, "stream_options": {"include_usage": true}})
    );
    // Not streaming, or turned off: no key.
    input.stream = false;
    assert_eq!(chat(&input), json!({"messages": messages, "stream": false}));
    input.stream = true;
    input.stream_usage = false;
    assert_eq!(chat(&input), json!({"messages": messages, "stream": true}));
    input.stream_usage = true;
    // The defaults or params_json set it: theirs is kept, even null.
    let defaults = object(json!({"stream_options": {"include_usage": false}}));
    input.defaults = &defaults;
    assert_eq!(
        chat(&input)["stream_options"],
        json!({"include_usage": false})
    );
    input.defaults = &empty;
    let params = object(json!({"stream_options": null}));
    input.params = Some(&params);
    assert_eq!(chat(&input)["stream_options"], Value::Null);
    // params_json turns streaming off: no stream_options.
    let params = object(json!({"stream": false}));
    input.params = Some(&params);
    let got = chat(&input);
    assert_eq!(got["stream"], json!(false));
    assert!(got.get("stream_options").is_none());
    assert!(!Api::ChatCompletions.body_bytes(&input).1);
}

#[test]
fn responses_body() {
    let got = body(
        Api::Responses,
        &json!({"temperature": 0.5}),
        Some(&json!({"top_p": 0.9})),
        true,
    );
    let expected = json!({
        "temperature": 0.5,
        "instructions": "You are terse.\n\nUse metric units.",
        "input": [
            {"type": "message", "role": "user", "content": "Weather in Paris and Oslo?"},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "And what is this?"},
                {"type": "input_image", "image_url": PNG, "detail": "auto"},
                {"type": "input_image", "image_url": CAT, "detail": "high"}
            ]},
            {"type": "message", "role": "assistant", "content": "Checking."},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather",
             "arguments": "{\"city\":\"Paris\"}"},
            {"type": "function_call", "call_id": "call_2", "name": "get_weather",
             "arguments": "{\"city\":\"Oslo\"}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "18 C, sunny"},
            {"type": "function_call_output", "call_id": "call_2", "output": "4 C, snow"},
            {"type": "message", "role": "assistant", "content": "Paris 18 C; Oslo 4 C. A cat."},
            {"type": "message", "role": "user", "content": "Thanks"}
        ],
        "model": "m1",
        "stream": true,
        "tools": [{
            "type": "function",
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {"type": "object",
                           "properties": {"city": {"type": "string"}},
                           "required": ["city"]},
            "strict": false
        }],
        "top_p": 0.9
    });
    assert_eq!(got, expected);
}

#[test]
fn messages_body() {
    let got = body(
        Api::Messages,
        &json!({"temperature": 0.5}),
        Some(&json!({"top_p": 0.9})),
        true,
    );
    let expected = json!({
        "temperature": 0.5,
        "system": "You are terse.\n\nUse metric units.",
        "messages": [
            {"role": "user", "content": "Weather in Paris and Oslo?"},
            {"role": "user", "content": [
                {"type": "text", "text": "And what is this?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                             "data": "iVBORw0KGgoAAAANSUhEUg=="}},
                {"type": "image", "source": {"type": "url", "url": CAT}}
            ]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "call_1", "name": "get_weather",
                 "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "get_weather",
                 "input": {"city": "Oslo"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18 C, sunny"},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "4 C, snow"}
            ]},
            {"role": "assistant", "content": "Paris 18 C; Oslo 4 C. A cat."},
            {"role": "user", "content": "Thanks"}
        ],
        "model": "m1",
        "stream": true,
        "tools": [{
            "name": "get_weather",
            "description": "Current weather in a city",
            "input_schema": {"type": "object",
                             "properties": {"city": {"type": "string"}},
                             "required": ["city"]}
        }],
        "top_p": 0.9,
        "max_tokens": 4096
    });
    assert_eq!(got, expected);
}

#[test]
fn params_json_keys_win_last_in_every_dialect() {
    // (A key outside the portable options table: `seed` and the like are chat-only since 0.3.)
    let defaults = json!({"temperature": 0.5, "x_vendor_key": 1});
    let params = json!({
        "temperature": 0.1, "model": "m2", "stream": false, "tools": [],
        "messages": "params", "input": "params", "instructions": "params", "system": "params"
    });
    for api in [Api::ChatCompletions, Api::Responses, Api::Messages] {
        let got = body(api, &defaults, Some(&params), true);
        assert_eq!(got["temperature"], json!(0.1), "{api:?}");
        assert_eq!(got["x_vendor_key"], json!(1), "{api:?}");
        assert_eq!(got["model"], json!("m2"), "{api:?}");
        assert_eq!(got["stream"], json!(false), "{api:?}");
        assert_eq!(got["tools"], json!([]), "{api:?}");
        let own = match api {
            Api::ChatCompletions => &["messages"][..],
            Api::Responses => &["input", "instructions"][..],
            Api::Messages => &["messages", "system"][..],
        };
        for key in own {
            assert_eq!(got[key], json!("params"), "{api:?} {key}");
        }
    }
    // The translated parts overwrite the defaults' keys of the same name.
    let got = body(Api::Responses, &json!({"input": "defaults"}), None, true);
    assert!(got["input"].is_array());
}

#[test]
fn token_limit_mapping() {
    let responses = |defaults: Value, params: Option<Value>| {
        let got = body(Api::Responses, &defaults, params.as_ref(), true);
        assert!(got.get("max_tokens").is_none() && got.get("max_completion_tokens").is_none());
        got.get("max_output_tokens").cloned()
    };
    assert_eq!(responses(json!({}), None), None);
    assert_eq!(
        responses(json!({"max_tokens": 100}), None),
        Some(json!(100))
    );
    assert_eq!(
        responses(json!({}), Some(json!({"max_completion_tokens": 7}))),
        Some(json!(7))
    );
    // params_json's layer wins over the defaults', whatever the name.
    assert_eq!(
        responses(
            json!({"max_output_tokens": 100}),
            Some(json!({"max_tokens": 50}))
        ),
        Some(json!(50))
    );
    // Within one layer the dialect's own name wins, then max_completion_tokens.
    assert_eq!(
        responses(
            json!({}),
            Some(json!({"max_tokens": 1, "max_completion_tokens": 2, "max_output_tokens": 3}))
        ),
        Some(json!(3))
    );
    assert_eq!(
        responses(
            json!({}),
            Some(json!({"max_tokens": 1, "max_completion_tokens": 2}))
        ),
        Some(json!(2))
    );
    // A null in params_json does not count as given.
    assert_eq!(
        responses(json!({"max_tokens": 9}), Some(json!({"max_tokens": null}))),
        Some(json!(9))
    );

    let messages = |defaults: Value, params: Option<Value>| {
        let got = body(Api::Messages, &defaults, params.as_ref(), false);
        assert!(got.get("max_completion_tokens").is_none());
        got["max_tokens"].clone()
    };
    assert_eq!(messages(json!({}), None), json!(4096));
    assert_eq!(messages(json!({"max_tokens": 300}), None), json!(300));
    assert_eq!(
        messages(json!({"max_tokens": 300}), Some(json!({"max_tokens": 20}))),
        json!(20)
    );
    assert_eq!(
        messages(json!({}), Some(json!({"max_completion_tokens": 64}))),
        json!(64)
    );
    assert_eq!(
        messages(json!({}), Some(json!({"max_tokens": null}))),
        json!(4096)
    );

    // Chat keeps whatever it was given.
    let got = body(
        Api::ChatCompletions,
        &json!({"max_tokens": 5}),
        Some(&json!({"max_completion_tokens": 6})),
        false,
    );
    assert_eq!(
        (
            got["max_tokens"].clone(),
            got["max_completion_tokens"].clone()
        ),
        (json!(5), json!(6))
    );
}

#[test]
fn translation_edge_cases() {
    let messages = [
        json!({"role": "developer", "content": "Be brief."}),
        json!({"role": "assistant", "content": null, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "not json"}},
            {"id": "c2", "type": "function", "function": {"name": "g"}}
        ]}),
        json!({"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "r1"}]}),
        json!({"role": "user", "content": "next"}),
        json!({"role": "tool", "tool_call_id": "c2", "content": "r2"}),
        json!({"role": "assistant", "content": ""}),
    ];
    let tools = json!([
        {"type": "function", "function": {"name": "bare"}},
        {"type": "function", "function": {"name": "s", "parameters": {"type": "object"}, "strict": true}},
        {"type": "web_search"}
    ]);
    let empty = Map::new();
    let input = BodyInput {
        defaults: &empty,
        messages: &messages,
        model: None,
        stream: false,
        tools: Some(&tools),
        params: None,
        stream_usage: true,
    };
    let got = Value::Object(Api::Messages.build_body(&input));
    assert_eq!(
        got,
        json!({
            "system": "Be brief.",
            "messages": [
                {"role": "assistant", "content": [
                    {"type": "tool_use", "id": "c1", "name": "f", "input": {}},
                    {"type": "tool_use", "id": "c2", "name": "g", "input": {}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "c1",
                     "content": [{"type": "text", "text": "r1"}]}
                ]},
                {"role": "user", "content": "next"},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "c2", "content": "r2"}
                ]}
            ],
            "stream": false,
            "tools": [
                {"name": "bare", "input_schema": {"type": "object", "properties": {}}},
                {"name": "s", "input_schema": {"type": "object"}},
                {"type": "web_search"}
            ],
            "max_tokens": 4096
        })
    );
    let got = Value::Object(Api::Responses.build_body(&input));
    assert_eq!(
        got,
        json!({
            "input": [
                {"type": "message", "role": "developer", "content": "Be brief."},
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "not json"},
                {"type": "function_call", "call_id": "c2", "name": "g", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1",
                 "output": [{"type": "input_text", "text": "r1"}]},
                {"type": "message", "role": "user", "content": "next"},
                {"type": "function_call_output", "call_id": "c2", "output": "r2"}
            ],
            "stream": false,
            "tools": [
                {"type": "function", "name": "bare",
                 "parameters": {"type": "object", "properties": {}}, "strict": false},
                {"type": "function", "name": "s", "parameters": {"type": "object"},
                 "strict": true},
                {"type": "web_search"}
            ]
        })
    );
}

#[test]
fn anthropic_headers() {
    assert_eq!(
        Api::Messages.auth_headers(Some("sk-ant-1"), false),
        vec![
            ("x-api-key", "sk-ant-1".to_owned()),
            ("anthropic-version", "2023-06-01".to_owned())
        ]
    );
    assert_eq!(
        Api::Messages.auth_headers(Some("sk-ant-1"), true),
        vec![("x-api-key", "sk-ant-1".to_owned())]
    );
    assert_eq!(
        Api::Messages.auth_headers(None, false),
        vec![("anthropic-version", "2023-06-01".to_owned())]
    );
    assert!(Api::Messages.auth_headers(None, true).is_empty());
    for api in [Api::ChatCompletions, Api::Responses] {
        assert_eq!(
            api.auth_headers(Some("sk-1"), false),
            vec![("authorization", "Bearer sk-1".to_owned())]
        );
        assert_eq!(
            api.auth_headers(Some("sk-1"), true),
            vec![("authorization", "Bearer sk-1".to_owned())]
        );
        assert!(api.auth_headers(None, false).is_empty());
    }
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/// A recorded stream split into (event type, data) pairs: blank-line separated blocks,
/// `event:` and `data:` fields, `:` comments skipped (enough for the fixtures).
fn sse(text: &str) -> Vec<(String, String)> {
    text.split("\n\n")
        .filter_map(|block| {
            let mut event = String::new();
            let mut data: Vec<&str> = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim_start().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            (!data.is_empty()).then(|| (event, data.join("\n")))
        })
        .collect()
}

fn fixture(name: &str) -> &'static str {
    match name {
        "responses-openai-text" => {
            include_str!("../../tests/fixtures/dialects/responses-openai-text.sse")
        }
        "responses-openai-tools" => {
            include_str!("../../tests/fixtures/dialects/responses-openai-tools.sse")
        }
        "responses-openai-reasoning" => {
            include_str!("../../tests/fixtures/dialects/responses-openai-reasoning.sse")
        }
        "responses-openai-incomplete" => {
            include_str!("../../tests/fixtures/dialects/responses-openai-incomplete.sse")
        }
        "responses-openai-failed" => {
            include_str!("../../tests/fixtures/dialects/responses-openai-failed.sse")
        }
        "responses-openai-error" => {
            include_str!("../../tests/fixtures/dialects/responses-openai-error.sse")
        }
        "responses-llamacpp-tool" => {
            include_str!("../../tests/fixtures/dialects/responses-llamacpp-tool.sse")
        }
        "responses-llamacpp-error" => {
            include_str!("../../tests/fixtures/dialects/responses-llamacpp-error.sse")
        }
        "messages-text" => include_str!("../../tests/fixtures/dialects/messages-text.sse"),
        "messages-tools" => include_str!("../../tests/fixtures/dialects/messages-tools.sse"),
        "messages-thinking" => include_str!("../../tests/fixtures/dialects/messages-thinking.sse"),
        "messages-overloaded" => {
            include_str!("../../tests/fixtures/dialects/messages-overloaded.sse")
        }
        "messages-llamacpp-error" => {
            include_str!("../../tests/fixtures/dialects/messages-llamacpp-error.sse")
        }
        other => panic!("no fixture {other}"),
    }
}

/// What a run of events amounted to, the way the engine would fold it.
#[derive(Debug, Default)]
struct Run {
    tokens: Vec<String>,
    reasoning: Vec<String>,
    finish: Option<String>,
    usage: Option<Usage>,
    errors: Vec<String>,
    terminals: usize,
    ignored: usize,
    deltas: Vec<DeltaEvent>,
    calls: Vec<ToolCall>,
    terminal: bool,
    details: crate::reasoning_details::ReasoningDetails,
}

impl Run {
    fn text(&self) -> String {
        self.tokens.concat()
    }
}

/// Feeds `events` to a fresh state (stopping at a server error, as the engine does) and
/// drives a tool-call assembler with the fragments.
fn run_events(api: Api, events: &[(String, String)]) -> Run {
    let mut state = api.stream_state().unwrap();
    let mut assembler = ToolCallAssembler::new();
    let mut run = Run::default();
    for (event, data) in events {
        let flow = state
            .on_event(event.as_bytes(), data.as_bytes(), |e| {
                fold(&mut run, &mut assembler, e)
            })
            .unwrap_or_else(|e| panic!("{e}: {data}"));
        if flow.is_break() {
            break;
        }
    }
    run.terminal = run.terminals > 0;
    run.calls = assembler.finish();
    run
}

fn fold(run: &mut Run, assembler: &mut ToolCallAssembler, event: Event<'_>) -> ControlFlow<()> {
    match event {
        Event::Token(t) => {
            assert!(!t.is_empty());
            run.tokens.push(t.to_owned())
        }
        Event::Reasoning(t) => {
            assert!(!t.is_empty());
            run.reasoning.push(t.to_owned())
        }
        Event::ToolFragment(fragment) => {
            assert!(fragment.index.is_some());
            let _ = assembler.apply_fragment_with(fragment, |d| {
                run.deltas.push(DeltaEvent::from(d));
                ControlFlow::<()>::Continue(())
            });
        }
        Event::FinishReason(r) => run.finish = Some(r.to_owned()),
        Event::Usage(u) => run.usage = Some(u),
        Event::ServerError(m) => {
            run.errors.push(m);
            return ControlFlow::Break(());
        }
        Event::ReasoningDetail(fragment) => run.details.fold(&fragment),
        Event::Terminal => run.terminals += 1,
        Event::Ignored | Event::Progress => run.ignored += 1,
    }
    ControlFlow::Continue(())
}

fn run(api: Api, name: &str) -> Run {
    run_events(api, &sse(fixture(name)))
}

fn used(prompt: i64, completion: i64, total: i64) -> Option<Usage> {
    Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: total,
    })
}

fn call(index: u32, id: &str, name: &str, arguments: &str) -> ToolCall {
    ToolCall {
        index,
        id: id.into(),
        name: name.into(),
        arguments: arguments.into(),
        arguments_valid: crate::tool_calls::is_json_object(arguments),
        extra: Default::default(),
    }
}

fn delta(index: u32, id: &str, name: Option<&str>, arguments: &str) -> DeltaEvent {
    DeltaEvent {
        index,
        id: id.into(),
        name: name.map(Into::into),
        arguments: arguments.into(),
    }
}

#[test]
fn responses_text() {
    let r = run(Api::Responses, "responses-openai-text");
    assert_eq!(r.tokens, ["Hi", " there!", " How can I help?"]);
    assert_eq!(r.finish.as_deref(), Some("stop"));
    assert_eq!(r.usage, used(37, 11, 48));
    assert!(r.errors.is_empty() && r.reasoning.is_empty() && r.calls.is_empty());
    assert_eq!((r.terminals, r.terminal), (1, true));
    // created, in_progress, item added, part added, text.done, part.done, item done
    assert_eq!(r.ignored, 7);
}

#[test]
fn responses_two_tool_calls() {
    let r = run(Api::Responses, "responses-openai-tools");
    let (c1, c2) = (
        "call_unLAR8MvFNptuiZK6K6HCy5k",
        "call_8Lk2XaHbEYkTdDnZQjwH3x9q",
    );
    assert_eq!(
        r.calls,
        [
            call(0, c1, "get_weather", r#"{"city":"Paris"}"#),
            call(1, c2, "get_weather", r#"{"city":"Oslo"}"#)
        ]
    );
    assert!(r.calls.iter().all(|c| c.arguments_valid));
    // The .done events repeat the whole arguments: not passed on again.
    assert_eq!(
        r.deltas,
        [
            delta(0, c1, Some("get_weather"), ""),
            delta(0, c1, None, "{\""),
            delta(0, c1, None, "city\":\"Par"),
            delta(0, c1, None, "is\"}"),
            delta(1, c2, Some("get_weather"), ""),
            delta(1, c2, None, "{\"city\":"),
            delta(1, c2, None, "\"Oslo\"}"),
        ]
    );
    assert_eq!(r.finish.as_deref(), Some("tool_calls"));
    assert_eq!(r.usage, used(291, 46, 337));
    assert!(r.terminal && r.tokens.is_empty());
}

#[test]
fn responses_reasoning_summary() {
    let r = run(Api::Responses, "responses-openai-reasoning");
    assert_eq!(r.reasoning, ["**Adding**", " two and two."]);
    assert_eq!(r.text(), "4");
    assert_eq!(r.finish.as_deref(), Some("stop"));
    assert_eq!(r.usage, used(13, 80, 93));
    assert!(r.terminal);
}

#[test]
fn responses_llamacpp_routes_by_item_id() {
    let r = run(Api::Responses, "responses-llamacpp-tool");
    assert_eq!(r.reasoning, ["User wants", " weather."]);
    assert_eq!(
        r.calls,
        [call(
            0,
            "call_Zr5bC3kQ",
            "get_weather",
            r#"{"city":"Paris"}"#
        )]
    );
    assert_eq!(r.deltas.len(), 3, "{:?}", r.deltas);
    assert_eq!(r.finish.as_deref(), Some("tool_calls"));
    assert_eq!(r.usage, used(210, 31, 241));
    assert!(r.terminal && r.tokens.is_empty());
}

#[test]
fn responses_incomplete_is_a_terminal_with_length() {
    let r = run(Api::Responses, "responses-openai-incomplete");
    assert_eq!(r.text(), "Once upon");
    assert_eq!(r.finish.as_deref(), Some("length"));
    assert_eq!(r.usage, used(12, 16, 28));
    assert!(r.terminal && r.errors.is_empty());

    // Another reason: its own text.
    let events = [(
        "response.incomplete".to_owned(),
        json!({"type": "response.incomplete", "response": {
            "status": "incomplete", "incomplete_details": {"reason": "content_filter"},
            "output": []}})
        .to_string(),
    )];
    let r = run_events(Api::Responses, &events);
    assert_eq!(r.finish.as_deref(), Some("content_filter"));
    assert!(r.terminal && r.usage.is_none());
}

#[test]
fn responses_errors() {
    let r = run(Api::Responses, "responses-openai-failed");
    assert_eq!(r.errors, ["The model produced invalid content."]);
    assert!(!r.terminal && r.terminals == 0);

    let r = run(Api::Responses, "responses-openai-error");
    assert_eq!(
        r.errors,
        ["Rate limit reached for gpt-4.1 in organization org-x on tokens per min (TPM)."]
    );
    assert!(!r.terminal);

    let r = run(Api::Responses, "responses-llamacpp-error");
    assert_eq!(r.errors, ["the context size was exceeded while generating"]);
    assert!(!r.terminal);

    // A failed response without a message still fails, with a message of ours.
    let events = [(
        String::new(),
        json!({"type": "response.failed", "response": {"status": "failed", "error": null}})
            .to_string(),
    )];
    let r = run_events(Api::Responses, &events);
    assert_eq!(r.errors.len(), 1);
    assert!(r.errors[0].contains("failed"), "{}", r.errors[0]);
}

#[test]
fn messages_text_with_ping_and_cache_usage() {
    let r = run(Api::Messages, "messages-text");
    assert_eq!(r.tokens, ["Hello", "! Привет 👋"]);
    assert_eq!(r.finish.as_deref(), Some("stop"));
    // prompt = 25 input + 10 cache read + 0 cache creation; completion: the last output_tokens.
    assert_eq!(r.usage, used(35, 15, 50));
    assert!(r.terminal && r.errors.is_empty() && r.calls.is_empty());
    // block start (empty text), ping, block stop
    assert_eq!(r.ignored, 3);
}

#[test]
fn messages_two_tool_calls() {
    let r = run(Api::Messages, "messages-tools");
    assert_eq!(r.text(), "Checking both cities.");
    let (t1, t2) = (
        "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
        "toolu_01VqG2jCdyjoB9HMTFnCKeo2",
    );
    assert_eq!(
        r.calls,
        [
            call(0, t1, "get_weather", r#"{"city": "Paris"}"#),
            call(1, t2, "get_weather", r#"{"city": "Oslo"}"#)
        ]
    );
    // The empty `input: {}` of content_block_start is never arguments.
    assert_eq!(
        r.deltas,
        [
            delta(0, t1, Some("get_weather"), ""),
            delta(0, t1, None, "{\"city\": \"Par"),
            delta(0, t1, None, "is\"}"),
            delta(1, t2, Some("get_weather"), ""),
            delta(1, t2, None, "{\"city\": \"Oslo\"}"),
        ]
    );
    assert_eq!(r.finish.as_deref(), Some("tool_calls"));
    assert_eq!(r.usage, used(472, 89, 561));
    assert!(r.terminal);
}

#[test]
fn messages_one_tool_call_with_whole_input_in_block_start() {
    // Some servers put the whole input in content_block_start and send no deltas.
    let events: Vec<(String, String)> = [
        json!({"type": "content_block_start", "index": 0,
               "content_block": {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}}),
        json!({"type": "message_stop"}),
    ]
    .iter()
    .map(|v| (String::new(), v.to_string()))
    .collect();
    let r = run_events(Api::Messages, &events);
    assert_eq!(r.calls, [call(0, "t1", "f", r#"{"a":1}"#)]);
    assert_eq!(r.finish.as_deref(), Some("tool_calls"));
    assert!(r.terminal && r.usage.is_none());
}

#[test]
fn messages_thinking() {
    let r = run(Api::Messages, "messages-thinking");
    assert_eq!(r.reasoning, ["27 * 453 = ", "12231"]);
    assert_eq!(r.text(), "12,231");
    assert_eq!(r.finish.as_deref(), Some("length"));
    assert_eq!(r.usage, used(85, 32, 117));
    assert!(r.terminal);
    // The thinking block, text and signature, for the next turn.
    let mut details = String::new();
    r.details.write_json(&mut details);
    assert_eq!(
        details,
        r#"[{"type":"reasoning.text","text":"27 * 453 = 12231","format":"anthropic-claude-v1","index":0,"signature":"EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}]"#
    );
}

#[test]
fn reasoning_items_and_thinking_blocks_of_whole_answers_become_details() {
    let r = run_whole(
        Api::Messages,
        &json!({"type": "message", "content": [
            {"type": "thinking", "thinking": "Hmm.", "signature": "abc"},
            {"type": "redacted_thinking", "data": "RED"},
            {"type": "text", "text": "Hi"}], "stop_reason": "end_turn"}),
    );
    let mut details = String::new();
    r.details.write_json(&mut details);
    assert_eq!(
        details,
        concat!(
            r#"[{"type":"reasoning.text","text":"Hmm.","signature":"abc","format":"anthropic-claude-v1","index":0},"#,
            r#"{"type":"reasoning.encrypted","data":"RED","format":"anthropic-claude-v1","index":1}]"#
        )
    );
    let r = run_whole(
        Api::Responses,
        &json!({"status": "completed", "output": [
            {"id": "rs_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": "S"}],
             "encrypted_content": "ENC"},
            // llama.cpp's: nothing to give back.
            {"id": "rs_2", "type": "reasoning", "summary": [], "encrypted_content": "",
             "content": [{"type": "reasoning_text", "text": "T"}]}]}),
    );
    let mut details = String::new();
    r.details.write_json(&mut details);
    assert_eq!(
        details,
        concat!(
            r#"[{"type":"reasoning.summary","summary":"S","id":"rs_1","format":"openai-responses-v1","index":0},"#,
            r#"{"type":"reasoning.encrypted","data":"ENC","id":"rs_1","format":"openai-responses-v1","index":1}]"#
        )
    );
}

#[test]
fn messages_errors() {
    let r = run(Api::Messages, "messages-overloaded");
    assert_eq!(r.text(), "Hel");
    assert_eq!(r.errors, ["Overloaded"]);
    assert!(!r.terminal);

    let r = run(Api::Messages, "messages-llamacpp-error");
    assert_eq!(r.errors, ["the context size was exceeded while generating"]);

    // The event name alone says error (the data has no type).
    let mut state = Api::Messages.stream_state().unwrap();
    let mut got = Vec::new();
    let _ = state.on_event(b"error", br#"{"message":"boom"}"#, |e| {
        got.push(format!("{e:?}"));
        ControlFlow::<()>::Continue(())
    });
    assert_eq!(got, [r#"ServerError("boom")"#]);
}

#[test]
fn stop_reason_mapping() {
    for (stop, finish) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "refusal"),
        ("pause_turn", "pause_turn"),
    ] {
        let events = [(
            "message_delta".to_owned(),
            json!({"type": "message_delta", "delta": {"stop_reason": stop}}).to_string(),
        )];
        assert_eq!(
            run_events(Api::Messages, &events).finish.as_deref(),
            Some(finish)
        );
    }
}

#[test]
fn truncated_streams_report_no_terminal() {
    for (api, name) in [
        (Api::Responses, "responses-openai-text"),
        (Api::Responses, "responses-openai-tools"),
        (Api::Responses, "responses-llamacpp-tool"),
        (Api::Messages, "messages-text"),
        (Api::Messages, "messages-tools"),
        (Api::Messages, "messages-thinking"),
    ] {
        let events = sse(fixture(name));
        for cut in 0..events.len() {
            let r = run_events(api, &events[..cut]);
            assert!(!r.terminal && r.terminals == 0, "{name} cut at {cut}");
        }
        assert!(run_events(api, &events).terminal, "{name}");
    }
}

#[test]
fn done_marker_pings_and_unknown_events_are_ignored() {
    for api in [Api::Responses, Api::Messages] {
        let mut state = api.stream_state().unwrap();
        let mut got = Vec::new();
        for (event, data) in [
            ("", "[DONE]"),
            ("ping", r#"{"type":"ping"}"#),
            ("", r#"{"type":"something.new","x":1}"#),
            ("", "{}"),
        ] {
            let flow = state
                .on_event(event.as_bytes(), data.as_bytes(), |e| {
                    got.push(format!("{e:?}"));
                    ControlFlow::<()>::Continue(())
                })
                .unwrap();
            assert!(flow.is_continue());
        }
        assert_eq!(got, ["Ignored"; 4], "{api:?}");
        // Not JSON: an error, nothing reported.
        let err = state.on_event(b"", b"{oops", |_| ControlFlow::<()>::Break(()));
        assert!(err.is_err());
    }
}

#[test]
fn a_break_from_the_callback_stops_and_is_returned() {
    let mut state = Api::Messages.stream_state().unwrap();
    let data = json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                      "usage": {"output_tokens": 3}})
    .to_string();
    let mut seen = 0;
    let flow = state
        .on_event(b"message_delta", data.as_bytes(), |_| {
            seen += 1;
            ControlFlow::Break(7)
        })
        .unwrap();
    assert_eq!(flow, ControlFlow::Break(7));
    assert_eq!(seen, 1);
}

// ---------------------------------------------------------------------------------------------
// Whole (non-streamed) responses
// ---------------------------------------------------------------------------------------------

fn run_whole(api: Api, body: &Value) -> Run {
    let mut state = api.stream_state().unwrap();
    let mut assembler = ToolCallAssembler::new();
    let mut run = Run::default();
    let _ = state
        .on_whole(body.to_string().as_bytes(), |e| {
            fold(&mut run, &mut assembler, e)
        })
        .unwrap();
    run.terminal = run.terminals > 0;
    run.calls = assembler.finish();
    run
}

#[test]
fn responses_whole() {
    // llama.cpp's non-streamed shape: reasoning content, message, function call.
    let body = json!({
        "completed_at": 1747000000, "created_at": 1747000000, "id": "resp_x",
        "model": "qwen3", "object": "response", "status": "completed",
        "output": [
            {"id": "rs_1", "summary": [], "type": "reasoning",
             "content": [{"text": "Think.", "type": "reasoning_text"}],
             "encrypted_content": "", "status": "completed"},
            {"content": [{"type": "output_text", "annotations": [], "logprobs": [],
                          "text": "Calling."}],
             "id": "msg_1", "role": "assistant", "status": "completed", "type": "message"},
            {"id": "fc_a", "type": "function_call", "status": "completed",
             "arguments": "{\"city\":\"Paris\"}", "call_id": "call_a", "name": "get_weather"},
            {"id": "fc_b", "type": "function_call", "status": "completed",
             "arguments": "{\"city\":\"Oslo\"}", "call_id": "call_b", "name": "get_weather"}
        ],
        "usage": {"input_tokens": 20, "output_tokens": 9, "total_tokens": 29,
                  "input_tokens_details": {"cached_tokens": 0}}
    });
    let r = run_whole(Api::Responses, &body);
    assert_eq!(r.reasoning, ["Think."]);
    assert_eq!(r.text(), "Calling.");
    assert_eq!(
        r.calls,
        [
            call(0, "call_a", "get_weather", r#"{"city":"Paris"}"#),
            call(1, "call_b", "get_weather", r#"{"city":"Oslo"}"#)
        ]
    );
    assert_eq!(r.finish.as_deref(), Some("tool_calls"));
    assert_eq!(r.usage, used(20, 9, 29));
    assert_eq!((r.terminals, r.terminal), (1, true));

    // OpenAI: a reasoning summary, text only, incomplete.
    let body = json!({
        "id": "resp_y", "object": "response", "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"}, "error": null,
        "output": [
            {"id": "rs_2", "type": "reasoning",
             "summary": [{"type": "summary_text", "text": "Summary."}]},
            {"id": "msg_2", "type": "message", "role": "assistant", "status": "incomplete",
             "content": [{"type": "output_text", "text": "Once", "annotations": []}]}
        ],
        "usage": {"input_tokens": 5, "output_tokens": 16, "total_tokens": 21}
    });
    let r = run_whole(Api::Responses, &body);
    assert_eq!(
        (r.reasoning.concat(), r.text()),
        ("Summary.".into(), "Once".into())
    );
    assert_eq!(r.finish.as_deref(), Some("length"));
    assert!(r.terminal);

    // Failed, and an error body.
    let failed = json!({"id": "resp_z", "status": "failed", "output": [],
                        "error": {"code": "server_error", "message": "It broke."}});
    let r = run_whole(Api::Responses, &failed);
    assert_eq!(
        (r.errors.as_slice(), r.terminal),
        (&["It broke.".to_owned()][..], false)
    );
    let r = run_whole(
        Api::Responses,
        &json!({"error": {"message": "No such model"}}),
    );
    assert_eq!(r.errors, ["No such model"]);
}

#[test]
fn messages_whole() {
    let body = json!({
        "id": "msg_01", "type": "message", "role": "assistant", "model": "claude",
        "content": [
            {"type": "thinking", "thinking": "Hmm.", "signature": "abc"},
            {"type": "text", "text": "I'll check."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
             "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "get_time", "input": {}}
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 100, "cache_creation_input_tokens": 5,
                  "cache_read_input_tokens": 20, "output_tokens": 30}
    });
    let r = run_whole(Api::Messages, &body);
    assert_eq!(r.reasoning, ["Hmm."]);
    assert_eq!(r.text(), "I'll check.");
    assert_eq!(
        r.calls,
        [
            call(0, "toolu_1", "get_weather", r#"{"city":"Paris"}"#),
            call(1, "toolu_2", "get_time", "{}")
        ]
    );
    assert_eq!(r.finish.as_deref(), Some("tool_calls"));
    assert_eq!(r.usage, used(125, 30, 155));
    assert!(r.terminal);

    let r = run_whole(
        Api::Messages,
        &json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    );
    assert_eq!(r.errors, ["Overloaded"]);
    assert!(!r.terminal);
}

#[test]
fn messages_usage_from_message_delta() {
    let events = |delta_usage: Value| -> Vec<(String, String)> {
        [
            json!({"type": "message_start", "message": {"usage":
                {"input_tokens": 40, "cache_creation_input_tokens": 2, "output_tokens": 1}}}),
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                   "usage": delta_usage}),
        ]
        .iter()
        .map(|v| (String::new(), v.to_string()))
        .collect()
    };
    // Only output_tokens: the prompt stays from message_start.
    let r = run_events(Api::Messages, &events(json!({"output_tokens": 9})));
    assert_eq!(r.usage, used(42, 9, 51));
    // Input counts repeated as 0 (some proxies): not a prompt of 0.
    let r = run_events(
        Api::Messages,
        &events(json!({"input_tokens": 0, "output_tokens": 9})),
    );
    assert_eq!(r.usage, used(42, 9, 51));
    // Cumulative counts in message_delta (the current API): they win.
    let r = run_events(
        Api::Messages,
        &events(json!({"input_tokens": 40, "cache_creation_input_tokens": 2,
                       "cache_read_input_tokens": 8, "output_tokens": 9})),
    );
    assert_eq!(r.usage, used(50, 9, 59));
    // No message_start at all: completion known, prompt unknown, no total.
    let only_delta = [(
        String::new(),
        json!({"type": "message_delta", "delta": {}, "usage": {"output_tokens": 3}}).to_string(),
    )];
    assert_eq!(
        run_events(Api::Messages, &only_delta).usage,
        used(-1, 3, -1)
    );
}

/// The intended input: a `Conversation` holding what the caller added and an answer's
/// `message_json` (with reasoning and tool calls) fed back.
#[test]
fn a_conversation_with_an_answer_fed_back() {
    use crate::conversation::Conversation;
    use crate::message::MessageBuilder;

    let mut answer = MessageBuilder::new();
    answer.push_reasoning("The user wants weather.");
    answer.push_content("Checking.");
    let calls = [call(0, "call_0", "get_weather", r#"{"city":"Paris"}"#)];
    let mut c = Conversation::new();
    c.add("system", "Be brief.").unwrap();
    c.add_image("user", Some("Weather here?"), CAT).unwrap();
    c.add_json(&answer.to_json(Some(&calls))).unwrap();
    c.add_tool_result("call_0", "18 C").unwrap();
    let messages: Vec<Value> = c.messages().collect();
    let empty = Map::new();
    let input = BodyInput {
        defaults: &empty,
        messages: &messages,
        model: Some("m"),
        stream: true,
        tools: None,
        params: None,
        stream_usage: true,
    };
    let chat = Value::Object(Api::ChatCompletions.build_body(&input));
    assert_eq!(
        chat["messages"][2]["reasoning_content"],
        "The user wants weather."
    );
    assert_eq!(
        Value::Object(Api::Responses.build_body(&input))["input"],
        json!([
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "Weather here?"},
                {"type": "input_image", "image_url": CAT, "detail": "auto"}
            ]},
            {"type": "message", "role": "assistant", "content": "Checking."},
            {"type": "function_call", "call_id": "call_0", "name": "get_weather",
             "arguments": "{\"city\":\"Paris\"}"},
            {"type": "function_call_output", "call_id": "call_0", "output": "18 C"}
        ])
    );
    let messages_body = Value::Object(Api::Messages.build_body(&input));
    assert_eq!(messages_body["system"], "Be brief.");
    assert_eq!(
        messages_body["messages"],
        json!([
            {"role": "user", "content": [
                {"type": "text", "text": "Weather here?"},
                {"type": "image", "source": {"type": "url", "url": CAT}}
            ]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "call_0", "name": "get_weather",
                 "input": {"city": "Paris"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_0", "content": "18 C"}
            ]}
        ])
    );
}

#[test]
fn responses_call_arguments_only_in_finished_items() {
    let events = |list: &[Value]| -> Vec<(String, String)> {
        list.iter()
            .map(|v| (String::new(), v.to_string()))
            .collect()
    };
    let added = json!({"type": "response.output_item.added", "output_index": 0, "item":
        {"id": "fc_1", "type": "function_call", "call_id": "c1", "name": "f",
         "arguments": "{\"a\":1}"}});
    let delta = json!({"type": "response.function_call_arguments.delta", "output_index": 0,
                       "item_id": "fc_1", "delta": "{\"a\":1}"});
    let done = json!({"type": "response.output_item.done", "output_index": 0, "item":
        {"id": "fc_1", "type": "function_call", "call_id": "c1", "name": "f",
         "arguments": "{\"a\":1}"}});
    let args_done = json!({"type": "response.function_call_arguments.done", "output_index": 0,
                           "item_id": "fc_1", "arguments": "{\"a\":1}"});
    let one = [call(0, "c1", "f", r#"{"a":1}"#)];
    // Arguments in the added item and in deltas: once.
    assert_eq!(
        run_events(
            Api::Responses,
            &events(&[added.clone(), delta, done.clone()])
        )
        .calls,
        one
    );
    // No deltas: the finished item's text, once (arguments.done then output_item.done).
    assert_eq!(
        run_events(
            Api::Responses,
            &events(&[added.clone(), args_done, done.clone()])
        )
        .calls,
        one
    );
    // Only a finished item (no added): a whole call.
    assert_eq!(run_events(Api::Responses, &events(&[done])).calls, one);
    // Only the added item: named, arguments not trusted ("{}").
    assert_eq!(
        run_events(Api::Responses, &events(&[added])).calls,
        [call(0, "c1", "f", "{}")]
    );
}

#[test]
fn error_documents_give_the_servers_words() {
    let cases: &[(&str, Option<&str>)] = &[
        (
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            Some("Overloaded"),
        ),
        (
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"},"request_id":"req_1"}"#,
            Some("max_tokens: Field required"),
        ),
        (
            r#"{"error":{"message":"Incorrect API key provided: sk-x.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
            Some("Incorrect API key provided: sk-x."),
        ),
        (
            r#"{"error":{"code":400,"message":"'input' is required","type":"invalid_request_error"}}"#,
            Some("'input' is required"),
        ),
        (
            r#"{"error":{"type":"not_found_error"}}"#,
            Some("not_found_error"),
        ),
        (r#"{"error":"model not found"}"#, Some("model not found")),
        (r#"{"message":"Forbidden"}"#, Some("Forbidden")),
        (r#"{"detail":"x"}"#, None),
        ("<html>502 Bad Gateway</html>", None),
        ("", None),
    ];
    for (body, expected) in cases {
        assert_eq!(
            error_message(&serde_json::from_str(body).unwrap_or(Value::Null)).as_deref(),
            *expected,
            "{body}"
        );
    }
}
