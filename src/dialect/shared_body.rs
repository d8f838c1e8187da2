//! What the Responses and Messages bodies (and the chat body's tail) build the same way: the
//! keys every body ends with, and chat-format tools in another API's form.

use super::BodyInput;
use serde_json::{Map, Value};

/// Chat-format tools (`{"type":"function","function":{...}}`) in another API's form: each
/// function tool becomes `form(its function object)`; anything else passes as given.
pub(super) fn map_function_tools(
    tools: &Value,
    form: impl Fn(&Map<String, Value>) -> Map<String, Value>,
) -> Value {
    let Some(tools) = tools.as_array() else {
        return tools.clone();
    };
    let tools = tools.iter().map(
        |tool| match tool.get("function").and_then(Value::as_object) {
            Some(function) => Value::Object(form(function)),
            None => tool.clone(),
        },
    );
    Value::Array(tools.collect())
}

/// A chat tool's `name`, its `description` when given, and its `parameters` schema under
/// `schema_key` (an empty object schema when there is none).
pub(super) fn function_fields(
    function: &Map<String, Value>,
    schema_key: &str,
) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert(
        "name".into(),
        function.get("name").cloned().unwrap_or_default(),
    );
    if let Some(description) = function.get("description") {
        out.insert("description".into(), description.clone());
    }
    let schema = function.get("parameters").cloned();
    out.insert(
        schema_key.into(),
        schema.unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}})),
    );
    out
}

/// What every dialect's body ends with: `model`, `stream`, the tools (translated), then every
/// key of `params_json`, which wins.
pub(super) fn common_keys(
    body: &mut Map<String, Value>,
    input: &BodyInput<'_>,
    tools: Option<Value>,
) {
    if let Some(model) = input.model {
        body.insert("model".into(), Value::from(model));
    }
    body.insert("stream".into(), Value::Bool(input.stream));
    if let Some(tools) = tools {
        body.insert("tools".into(), tools);
    }
    if let Some(params) = input.params {
        body.extend(params.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}
