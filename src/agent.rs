//! The agent runner: the whole tool loop for the caller. Send the conversation with the tools,
//! collect the complete calls, run each (the caller's tool function, or the MCP session that
//! offers it), append the assistant message and the results to the conversation, and repeat
//! until an answer comes without calls or `max_steps` model turns were made. One outcome for
//! the whole run; cancel from any thread.
//!
//! The loop runs on a thread of its own (tool functions may block); each model turn is an
//! ordinary request on the client's runtime, its streaming events forwarded to the caller.

use crate::client::{Client, Held};
use crate::conversation::Conversation;
use crate::error::Error;
use crate::log::{log, DEBUG, WARN};
use crate::mcp::{model_text, Session};
use crate::outcome::Outcome;
use crate::request::{build_body, ChatInput, RequestState};
use crate::sink::{EventHandler, Sink};
use crate::status::Status;
use crate::tool_calls::{ToolCall, ToolCallDelta};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A tool's answer: the text the model is shown, and whether it is an error.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolReply {
    pub text: String,
    pub is_error: bool,
}

/// What an `is_error` result's content starts with in the conversation (chat-format tool
/// messages have no error flag: the model reads it in the text).
pub const ERROR_PREFIX: &str = "Error: ";

/// The caller's side of a run. Never two calls at once; streaming events come from runtime
/// threads, the others from the run's thread.
pub trait AgentEvents: Send {
    /// The streaming events of each model turn (its `done` is never called: see [`done`]).
    fn handler(&mut self) -> &mut dyn EventHandler;
    /// Runs a call no MCP session offers: `Ok(None)` when the caller has no such tool, `Err`
    /// to stop the run (its status and message become the run's).
    fn tool(&mut self, call: &ToolCall) -> Result<Option<ToolReply>, Error>;
    /// After each model turn whose calls were run and appended (step counts from 1); `Err`
    /// stops the run.
    fn step(&mut self, step: u32, outcome: &Outcome) -> Result<(), Error>;
    /// The conversation the run reads and appends to.
    fn conversation(&mut self) -> &mut Conversation;
    /// Exactly once, last.
    fn done(&mut self, outcome: Outcome);
}

/// What a run asks.
pub struct AgentInput {
    pub model: Option<String>,
    /// The caller's own tool definitions (chat format).
    pub tools: Vec<Value>,
    pub params: Option<Map<String, Value>>,
    /// Merged over `params` for the first model turn only (e.g. a required tool choice that
    /// later turns must not have, or they could never answer).
    pub first_params: Option<Map<String, Value>>,
    /// What the first answer starts with: sent after the conversation as an assistant message
    /// on the first turn only (a prefill), never appended to the conversation.
    pub first_prefill: Option<String>,
    pub stream: bool,
    /// Model turns at most (at least 1).
    pub max_steps: u32,
    /// The time limit of each MCP tool call.
    pub tool_timeout: Duration,
}

/// Which session answers a tool name the model sees, and under which name the server knows it.
#[derive(Debug)]
struct Route {
    session: usize,
    tool: String,
}

/// The tools the model is offered: the caller's, then each session's. A session's tool keeps
/// its name unless another source (the caller's tools or another session) has one of the same
/// name: then it is `{session name}_{tool}`. Two sessions of the same name offering the same
/// tool cannot be told apart: an error.
fn offered_tools(
    caller: &[Value],
    sessions: &[(String, Vec<Value>)],
) -> Result<(Vec<Value>, HashMap<String, Route>), Error> {
    let name_of = |t: &Value| {
        t.pointer("/function/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    let mut count: HashMap<String, usize> = HashMap::new();
    for t in caller {
        *count.entry(name_of(t)).or_default() += 1;
    }
    for (_, tools) in sessions {
        for t in tools {
            *count.entry(name_of(t)).or_default() += 1;
        }
    }
    let mut offered: Vec<Value> = caller.to_vec();
    let mut routes = HashMap::new();
    for (i, (session, tools)) in sessions.iter().enumerate() {
        for t in tools {
            let tool = name_of(t);
            let shown = if count[&tool] > 1 {
                format!("{session}_{tool}")
            } else {
                tool.clone()
            };
            if routes.contains_key(&shown) || caller.iter().any(|c| name_of(c) == shown) {
                return Err(Error::invalid(format!(
                    "two tool sources offer {shown}: give the MCP sessions different names (ylokh_mcp_server.name)"
                )));
            }
            let mut t = t.clone();
            t["function"]["name"] = Value::String(shown.clone());
            offered.push(t);
            routes.insert(shown, Route { session: i, tool });
        }
    }
    Ok((offered, routes))
}

/// One model turn's events: forwarded to the caller, complete calls kept, the outcome sent to
/// the run's thread.
struct TurnSink {
    events: Arc<Mutex<Box<dyn AgentEvents>>>,
    calls: Vec<ToolCall>,
    done: mpsc::Sender<(Outcome, Vec<ToolCall>)>,
}

impl TurnSink {
    fn with<T>(&self, f: impl FnOnce(&mut dyn EventHandler) -> T) -> T {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        f(events.handler())
    }
}

impl EventHandler for TurnSink {
    fn token(&mut self, text: &str) -> Result<(), Error> {
        self.with(|h| h.token(text))
    }
    fn reasoning(&mut self, text: &str) -> Result<(), Error> {
        self.with(|h| h.reasoning(text))
    }
    fn chunk(&mut self, json: &[u8]) -> Result<(), Error> {
        self.with(|h| h.chunk(json))
    }
    fn wants_chunks(&self) -> bool {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        events.handler().wants_chunks()
    }
    fn tool_call_delta(&mut self, delta: &ToolCallDelta<'_>) -> Result<(), Error> {
        self.with(|h| h.tool_call_delta(delta))
    }
    fn tool_call(&mut self, call: &ToolCall) -> Result<(), Error> {
        self.calls.push(call.clone());
        self.with(|h| h.tool_call(call))
    }
    fn done(&mut self, outcome: Outcome) {
        let _ = self.done.send((outcome, std::mem::take(&mut self.calls)));
    }
}

/// A started run. Dropping it does not stop the run (see [`Run::cancel`]).
pub struct Run {
    state: Arc<RequestState>,
}

impl Run {
    /// Asks the run to stop: the model turn or MCP call under way is stopped, a tool function
    /// already running is let finish; the run ends with `Status::Cancelled`. Any thread.
    pub fn cancel(&self) {
        self.state.cancel();
    }

    /// The final status, once `done` has returned (`None`: `timeout` passed first).
    pub fn wait(&self, timeout: Option<Duration>) -> Option<(Status, Option<String>)> {
        self.state.wait(timeout)
    }
}

/// Starts a run: lists the sessions' tools (on the caller's thread: failures are returned, and
/// then `done` is never called), then runs the loop on a thread of its own.
pub fn start(
    client: &Client,
    input: AgentInput,
    sessions: Vec<Arc<Session>>,
    events: Box<dyn AgentEvents>,
) -> Result<Run, Error> {
    let mut listed = Vec::with_capacity(sessions.len());
    for s in &sessions {
        listed.push((
            s.name().to_owned(),
            s.accepted_tools(None, input.tool_timeout)?,
        ));
    }
    let (tools, routes) = offered_tools(&input.tools, &listed)?;
    let state = Arc::new(RequestState::new());
    let held = client.hold(state.clone())?;
    let run = Loop {
        held,
        input,
        tools: Value::Array(tools),
        routes,
        sessions,
        events: Arc::new(Mutex::new(events)),
    };
    std::thread::Builder::new()
        .name("ylokh-agent".into())
        .spawn(move || {
            crate::thread::mark_library_thread();
            run.run()
        })
        .map_err(|e| Error::internal(format!("could not start the agent run's thread: {e}")))?;
    Ok(Run { state })
}

struct Loop {
    held: Held,
    input: AgentInput,
    tools: Value,
    routes: HashMap<String, Route>,
    sessions: Vec<Arc<Session>>,
    events: Arc<Mutex<Box<dyn AgentEvents>>>,
}

fn cancelled() -> Error {
    Error::new(
        Status::Cancelled,
        "the agent run was cancelled (ylokh_agent_cancel)",
    )
}

impl Loop {
    fn events(&self) -> std::sync::MutexGuard<'_, Box<dyn AgentEvents>> {
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn run(self) {
        let mut total = crate::chunk::Usage::default();
        let outcome = self.steps(&mut total);
        let (status, message) = (outcome.status, outcome.message.clone());
        self.events().done(outcome);
        self.held.state.finish(status, message);
    }

    /// The loop; its outcome is the last turn's (token counts summed over the turns), or why
    /// the run stopped.
    fn steps(&self, total: &mut crate::chunk::Usage) -> Outcome {
        let add = |total: &mut crate::chunk::Usage, o: &Outcome| {
            for (sum, n) in [
                (&mut total.prompt_tokens, o.usage.prompt_tokens),
                (&mut total.completion_tokens, o.usage.completion_tokens),
                (&mut total.total_tokens, o.usage.total_tokens),
            ] {
                if n >= 0 {
                    *sum = (*sum).max(0) + n;
                }
            }
        };
        let max_steps = self.input.max_steps.max(1);
        let mut last: Option<Outcome> = None;
        for step in 1..=max_steps {
            if self.held.state.is_cancelled() {
                return finish(Outcome::failed(cancelled()), last.as_ref(), total);
            }
            let (mut outcome, calls) = self.turn(step == 1);
            add(total, &outcome);
            if outcome.status != Status::Ok || calls.is_empty() {
                outcome.usage = *total;
                return outcome;
            }
            log!(DEBUG, "agent step {step}: {} tool calls", calls.len());
            if let Err(e) = self.run_calls(&outcome, &calls) {
                return finish(Outcome::failed(e), Some(&outcome), total);
            }
            if let Err(e) = self.events().step(step, &outcome) {
                return finish(Outcome::failed(e), Some(&outcome), total);
            }
            last = Some(outcome);
        }
        let error = Error::new(
            Status::Incomplete,
            format!("the model still called tools after max_steps ({max_steps}) turns; their results are in the conversation: raise max_steps or run again to go on"),
        );
        finish(Outcome::failed(error), last.as_ref(), total)
    }

    /// One model turn: the conversation and the tools sent, the outcome and complete calls back.
    /// The first turn adds the first-turn params and prefill.
    fn turn(&self, first: bool) -> (Outcome, Vec<ToolCall>) {
        let mut messages: Vec<Value> = self.events().conversation().messages().collect();
        let mut params = self.input.params.clone();
        if first {
            if let Some(prefill) = &self.input.first_prefill {
                messages.push(serde_json::json!({"role": "assistant", "content": prefill}));
            }
            if let Some(first_params) = &self.input.first_params {
                params
                    .get_or_insert_with(Map::new)
                    .extend(first_params.clone());
            }
        }
        let input = ChatInput {
            model: self.input.model.clone(),
            messages,
            tools: Some(self.tools.clone()),
            params,
            stream: self.input.stream,
        };
        let (body, stream) = build_body(self.held.options(), &input);
        let (tx, rx) = mpsc::channel();
        let turn = Arc::new(RequestState::new());
        let sink = TurnSink {
            events: self.events.clone(),
            calls: Vec::new(),
            done: tx,
        };
        // A cancel of the run stops the turn.
        let (run_state, turn_state) = (self.held.state.clone(), turn.clone());
        let watcher = self.held.runtime().spawn(async move {
            run_state.cancelled().await;
            turn_state.cancel();
        });
        self.held
            .start(body, stream, Sink::Handler(Box::new(sink)), turn);
        let result = rx.recv().unwrap_or_else(|_| {
            (
                Outcome::failed(Error::internal("the model turn ended without an outcome")),
                Vec::new(),
            )
        });
        watcher.abort();
        result
    }

    /// Appends the assistant message and each call's result to the conversation.
    fn run_calls(&self, outcome: &Outcome, calls: &[ToolCall]) -> Result<(), Error> {
        let message = outcome
            .message_json
            .as_deref()
            .ok_or_else(|| Error::internal("a turn with tool calls came without its message"))?;
        self.events().conversation().add_json(message)?;
        for call in calls {
            if self.held.state.is_cancelled() {
                return Err(cancelled());
            }
            let reply = self.run_call(call)?;
            let content = if reply.is_error {
                format!("{ERROR_PREFIX}{}", reply.text)
            } else {
                reply.text
            };
            self.events()
                .conversation()
                .add_tool_result(&call.id, &content)?;
        }
        Ok(())
    }

    fn run_call(&self, call: &ToolCall) -> Result<ToolReply, Error> {
        if let Some(route) = self.routes.get(&call.name) {
            let session = &self.sessions[route.session];
            let state = self.held.state.clone();
            return match session.call_until(
                &route.tool,
                &call.arguments,
                self.input.tool_timeout,
                async move { state.cancelled().await },
            ) {
                Ok(output) => Ok(ToolReply {
                    text: model_text(&output),
                    is_error: output.is_error,
                }),
                Err(e) if e.status == Status::Cancelled => Err(cancelled()),
                Err(e) => {
                    log!(WARN, "agent: the tool {} failed: {}", call.name, e.message);
                    Ok(ToolReply {
                        text: e.message,
                        is_error: true,
                    })
                }
            };
        }
        match self.events().tool(call)? {
            Some(reply) => Ok(reply),
            None => Ok(ToolReply {
                text: format!("there is no tool named {:?}", call.name),
                is_error: true,
            }),
        }
    }
}

/// A run that stopped: `error`'s status and message, with the last turn's message and timings
/// and the summed token counts.
fn finish(stopped: Outcome, last: Option<&Outcome>, total: &crate::chunk::Usage) -> Outcome {
    let mut outcome = match last {
        Some(last) => Outcome {
            status: stopped.status,
            message: stopped.message,
            ..last.clone()
        },
        None => stopped,
    };
    outcome.usage = *total;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tool(name: &str) -> Value {
        json!({"type":"function","function":{"name":name,"parameters":{"type":"object"}}})
    }

    #[test]
    fn names_are_prefixed_only_where_two_sources_collide() {
        let caller = [tool("search")];
        let sessions = [
            (
                "time".to_owned(),
                vec![tool("get_current_time"), tool("search")],
            ),
            (
                "web".to_owned(),
                vec![tool("fetch"), tool("get_current_time")],
            ),
        ];
        let (offered, routes) = offered_tools(&caller, &sessions).unwrap();
        let names: Vec<_> = offered
            .iter()
            .map(|t| t["function"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "search",
                "time_get_current_time",
                "time_search",
                "fetch",
                "web_get_current_time"
            ]
        );
        assert_eq!(routes["time_search"].tool, "search");
        assert_eq!(routes["web_get_current_time"].session, 1);
        assert_eq!(routes["fetch"].tool, "fetch");
        assert!(
            !routes.contains_key("search"),
            "the caller's own tool is not routed to a session"
        );
    }

    #[test]
    fn two_sessions_of_one_name_with_the_same_tool_are_refused() {
        let sessions = [
            ("s".to_owned(), vec![tool("t")]),
            ("s".to_owned(), vec![tool("t")]),
        ];
        let e = offered_tools(&[], &sessions).unwrap_err();
        assert_eq!(e.status, Status::InvalidArgument);
        assert!(e.message.contains("different names"), "{}", e.message);
    }
}
