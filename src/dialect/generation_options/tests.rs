//! Each row of the options table in README.md ("Generation options in one spelling"), in each dialect, through the whole body builder.

use super::super::{Api, BodyInput};
use serde_json::{json, Map, Value};

/// The body `api` builds from `params` (chat spelling); no defaults, one user message.
fn body_with(api: Api, defaults: Value, params: Value) -> Map<String, Value> {
    let messages = [json!({"role": "user", "content": "hi"})];
    let defaults = defaults.as_object().cloned().unwrap_or_default();
    let params = params.as_object().cloned();
    api.build_body(&BodyInput {
        defaults: &defaults,
        messages: &messages,
        model: Some("m"),
        stream: true,
        tools: None,
        params: params.as_ref(),
        stream_usage: false,
    })
}

fn body(api: Api, params: Value) -> Map<String, Value> {
    body_with(api, json!({}), params)
}

fn dropped(api: Api, params: Value) -> Vec<&'static str> {
    let mut body = params.as_object().cloned().unwrap();
    super::translate(api, &mut body, true)
}

const R: Api = Api::Responses;
const M: Api = Api::Messages;
const C: Api = Api::ChatCompletions;

#[test]
fn token_limits() {
    for key in ["max_tokens", "max_completion_tokens"] {
        assert_eq!(body(R, json!({ key: 77 }))["max_output_tokens"], 77);
        assert_eq!(body(M, json!({ key: 77 }))["max_tokens"], 77);
        assert_eq!(body(C, json!({ key: 77 }))[key], 77);
        assert!(!body(R, json!({ key: 77 })).contains_key(key));
    }
    assert_eq!(body(M, json!({}))["max_tokens"], 4096);
}

#[test]
fn temperature_and_top_p_stay() {
    for api in [R, M, C] {
        let b = body(api, json!({"temperature": 0.2, "top_p": 0.9}));
        assert_eq!((&b["temperature"], &b["top_p"]), (&json!(0.2), &json!(0.9)));
    }
}

#[test]
fn stop() {
    let b = body(M, json!({"stop": "END"}));
    assert_eq!(b["stop_sequences"], json!(["END"]));
    assert!(!b.contains_key("stop"));
    assert_eq!(
        body(M, json!({"stop": ["a", "b"]}))["stop_sequences"],
        json!(["a", "b"])
    );
    let native = body(M, json!({"stop": "x", "stop_sequences": ["mine"]}));
    assert_eq!(
        native["stop_sequences"],
        json!(["mine"]),
        "the native key wins"
    );
    assert!(!native.contains_key("stop"));
    assert!(!body(R, json!({"stop": "END"})).contains_key("stop"));
    assert_eq!(dropped(R, json!({"stop": "END"})), ["stop"]);
    assert_eq!(body(C, json!({"stop": "END"}))["stop"], "END");
}

#[test]
fn tool_choice() {
    let named = json!({"type": "function", "function": {"name": "get_weather"}});
    for (chat, responses, messages) in [
        (json!("auto"), json!("auto"), json!({"type": "auto"})),
        (json!("none"), json!("none"), json!({"type": "none"})),
        (json!("required"), json!("required"), json!({"type": "any"})),
        (
            named.clone(),
            json!({"type": "function", "name": "get_weather"}),
            json!({"type": "tool", "name": "get_weather"}),
        ),
    ] {
        assert_eq!(
            body(R, json!({"tool_choice": chat}))["tool_choice"],
            responses
        );
        assert_eq!(
            body(M, json!({"tool_choice": chat}))["tool_choice"],
            messages
        );
        assert_eq!(body(C, json!({"tool_choice": chat}))["tool_choice"], chat);
    }
    // Already in the dialect's spelling: unchanged.
    let own = json!({"type": "tool", "name": "f"});
    assert_eq!(body(M, json!({"tool_choice": own}))["tool_choice"], own);
}

#[test]
fn parallel_tool_calls() {
    let b = body(M, json!({"parallel_tool_calls": false}));
    assert_eq!(
        b["tool_choice"],
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
    assert!(!b.contains_key("parallel_tool_calls"));
    let b = body(
        M,
        json!({"parallel_tool_calls": false, "tool_choice": "required"}),
    );
    assert_eq!(
        b["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
    let b = body(M, json!({"parallel_tool_calls": true}));
    assert!(!b.contains_key("parallel_tool_calls") && !b.contains_key("tool_choice"));
    assert_eq!(
        body(R, json!({"parallel_tool_calls": false}))["parallel_tool_calls"],
        false
    );
}

#[test]
fn response_format() {
    let schema = json!({"type": "object", "properties": {"a": {"type": "integer"}}});
    let chat = json!({"type": "json_schema", "json_schema": {
        "name": "thing", "schema": schema, "strict": true, "description": "d"}});
    let b = body(R, json!({"response_format": chat}));
    assert_eq!(
        b["text"],
        json!({"format": {"type": "json_schema", "name": "thing", "schema": schema,
                          "strict": true, "description": "d"}})
    );
    assert!(!b.contains_key("response_format"));
    let b = body(M, json!({"response_format": chat}));
    assert_eq!(
        b["output_config"],
        json!({"format": {"type": "json_schema", "schema": schema}})
    );
    assert!(!b.contains_key("response_format"));
    assert_eq!(
        body(C, json!({"response_format": chat}))["response_format"],
        chat
    );

    let object = json!({"type": "json_object"});
    assert_eq!(
        body(R, json!({"response_format": object}))["text"],
        json!({"format": object})
    );
    let b = body(M, json!({"response_format": object}));
    assert!(!b.contains_key("response_format") && !b.contains_key("output_config"));
    assert_eq!(
        dropped(M, json!({"response_format": object})),
        ["response_format"]
    );

    // The native spelling wins; other members of `text` stay.
    let b = body(
        R,
        json!({"response_format": chat, "text": {"format": {"type": "text"}}}),
    );
    assert_eq!(b["text"], json!({"format": {"type": "text"}}));
    let b = body(
        R,
        json!({"response_format": object, "text": {"verbosity": "low"}}),
    );
    assert_eq!(b["text"], json!({"verbosity": "low", "format": object}));
}

#[test]
fn reasoning_effort() {
    let b = body(R, json!({"reasoning_effort": "low"}));
    assert_eq!(b["reasoning"], json!({"effort": "low"}));
    assert!(!b.contains_key("reasoning_effort"));
    let b = body(
        R,
        json!({"reasoning_effort": "low", "reasoning": {"summary": "auto"}}),
    );
    assert_eq!(b["reasoning"], json!({"summary": "auto", "effort": "low"}));
    let b = body(
        R,
        json!({"reasoning_effort": "low", "reasoning": {"effort": "high"}}),
    );
    assert_eq!(
        b["reasoning"],
        json!({"effort": "high"}),
        "the native key wins"
    );

    for (level, budget) in super::THINKING_BUDGETS {
        // No limit given: max_tokens grows to hold the budget and an answer.
        let b = body(M, json!({ "reasoning_effort": level }));
        assert_eq!(
            b["thinking"],
            json!({"type": "enabled", "budget_tokens": budget})
        );
        let limit = b["max_tokens"].as_u64().unwrap();
        assert!(budget < limit, "{level}: {budget} < {limit}");
        assert!(!b.contains_key("reasoning_effort"));
        // A limit given: the budget stays below it.
        let b = body(M, json!({ "reasoning_effort": level, "max_tokens": 4000 }));
        assert_eq!(b["max_tokens"], 4000);
        assert_eq!(b["thinking"]["budget_tokens"], budget.min(3999));
    }
    let b = body(M, json!({"reasoning_effort": "high", "max_tokens": 1000}));
    assert!(
        !b.contains_key("thinking"),
        "below the API's minimum budget"
    );
    assert_eq!(
        dropped(M, json!({"reasoning_effort": "high", "max_tokens": 1000})),
        ["reasoning_effort"]
    );
    let own = json!({"type": "enabled", "budget_tokens": 3000});
    let b = body(M, json!({"reasoning_effort": "high", "thinking": own}));
    assert_eq!(b["thinking"], own);
    assert!(!body(M, json!({"reasoning_effort": "none"})).contains_key("thinking"));
    assert_eq!(
        body(C, json!({"reasoning_effort": "low"}))["reasoning_effort"],
        "low"
    );
}

#[test]
fn user() {
    let b = body(R, json!({"user": "u-1"}));
    assert_eq!(b["safety_identifier"], "u-1");
    assert!(!b.contains_key("user"));
    let b = body(M, json!({"user": "u-1", "metadata": {"x": 1}}));
    assert_eq!(b["metadata"], json!({"x": 1, "user_id": "u-1"}));
    assert!(!b.contains_key("user"));
    assert_eq!(body(C, json!({"user": "u-1"}))["user"], "u-1");
}

#[test]
fn untranslatable_keys_are_dropped_and_named() {
    let params = json!({"seed": 1, "n": 2, "logit_bias": {"1": 2}, "frequency_penalty": 0.5,
                        "presence_penalty": 0.5, "temperature": 1});
    for api in [R, M] {
        let b = body(api, params.clone());
        for key in super::CHAT_ONLY {
            assert!(!b.contains_key(key), "{api:?} {key}");
        }
        assert_eq!(b["temperature"], 1);
        let mut names = dropped(api, params.clone());
        names.sort();
        assert_eq!(
            names,
            [
                "frequency_penalty",
                "logit_bias",
                "n",
                "presence_penalty",
                "seed"
            ]
        );
    }
    assert_eq!(body(C, params.clone())["seed"], 1);
    assert!(dropped(C, params).is_empty());
}

#[test]
fn stateless_responses_ask_for_encrypted_reasoning() {
    let b = body(R, json!({"store": false}));
    assert_eq!(b["include"], json!(["reasoning.encrypted_content"]));
    let b = body(
        R,
        json!({"store": false, "include": ["file_search_call.results"]}),
    );
    assert_eq!(
        b["include"],
        json!(["file_search_call.results", "reasoning.encrypted_content"])
    );
    let b = body(
        R,
        json!({"store": false, "include": ["reasoning.encrypted_content"]}),
    );
    assert_eq!(b["include"], json!(["reasoning.encrypted_content"]));
    assert!(!body(R, json!({})).contains_key("include"));
    assert!(!body(R, json!({"store": true})).contains_key("include"));
}

#[test]
fn the_default_params_are_translated_too_and_params_win() {
    let b = body_with(M, json!({"stop": "d", "user": "x"}), json!({"stop": "p"}));
    assert_eq!(b["stop_sequences"], json!(["p"]));
    assert_eq!(b["metadata"], json!({"user_id": "x"}));
}
