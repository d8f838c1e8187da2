//! The tool calls of a chat chunk: `delta.tool_calls` / `function_call` fragments folded into
//! calls by the assembler, each piece handed to `on_tool_call_delta`.

use crate::error::{snippet, Error};
use crate::sink::Sink;
use crate::tool_calls::{ToolCallAssembler, ToolCallDelta};
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
pub(super) fn fold_tool_calls(
    fragments: Option<&str>,
    function_call: Option<&str>,
    tools: &mut ToolCallAssembler,
    sink: &mut Sink,
) -> Result<(), Error> {
    let mut deliver = |delta: ToolCallDelta<'_>| match sink.tool_call_delta(&delta) {
        Ok(()) => ControlFlow::Continue(()),
        Err(e) => ControlFlow::Break(e),
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
    Ok(())
}
