//! The tool calls of a chat chunk: `delta.tool_calls` / `function_call` fragments folded into
//! calls by the assembler, each piece handed to `on_tool_call_delta`.

use crate::error::{snippet, Error};
use crate::sink::Sink;
use crate::tool_calls::{Over, ToolCallAssembler, ToolCallDelta};
use serde_json::Value;
use std::ops::ControlFlow;

/// The JSON value of a raw tool-call text (already checked by serde as part of its chunk).
pub(super) fn value(raw: Option<&str>) -> Result<Option<Value>, Error> {
    raw.map(|raw| {
        serde_json::from_str(raw).map_err(|e| {
            Error::protocol(format!(
                "a tool call does not parse ({e}): {}",
                snippet(raw.as_bytes(), 200)
            ))
        })
    })
    .transpose()
}

/// Folds a chunk's tool-call fragments into calls, handing each piece to `on_tool_call_delta`.
/// `Ok(true)` when a piece was handed on (the answer moved).
pub(super) fn fold_tool_calls(
    fragments: Option<&str>,
    function_call: Option<&str>,
    tools: &mut ToolCallAssembler,
    sink: &mut Sink,
) -> Result<bool, Error> {
    let mut pieces = false;
    let mut deliver = |delta: ToolCallDelta<'_>| {
        pieces = true;
        match sink.tool_call_delta(&delta) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    };
    if let Some(fragments) = value(fragments)? {
        if let ControlFlow::Break(e) = tools.apply_with(&fragments, &mut deliver) {
            return Err(e);
        }
    }
    if let Some(call) = value(function_call)? {
        if let ControlFlow::Break(e) = tools.apply_function_call_with(&call, &mut deliver) {
            return Err(e);
        }
    }
    within_caps(tools.over())?;
    Ok(pieces)
}

/// `Err` when an answer's tool calls went over a cap: no call of it is handed out.
pub(super) fn within_caps(over: Option<Over>) -> Result<(), Error> {
    match over {
        None => Ok(()),
        Some(Over::Calls(max)) => Err(Error::protocol(format!(
            "the answer has more than {max} tool calls (the cap set with ylokh_options_set_max_tool_calls); none was handed out"
        ))),
        Some(Over::Bytes(max)) => Err(Error::protocol(format!(
            "the answer's tool calls are larger than {max} bytes together (the cap set with ylokh_options_set_max_event_bytes); none was handed out"
        ))),
    }
}
