"""Client.run_tools: the whole tool loop through the library's agent runner (libylokh 0.3,
ylokh_agent_run), with Python tool functions and MCP sessions."""

from __future__ import annotations

import ctypes
import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from . import _ffi
from ._client import Conversation, Messages, Result, ToolCall
from ._ffi import YlokhError, library
from ._mcp import McpSession
from ._request import _conversation

if TYPE_CHECKING:
    from ._client import Client


class _CToolCall(ctypes.Structure):
    """ylokh_tool_call."""

    _fields_ = [
        ("index", ctypes.c_uint32),
        ("id", ctypes.c_char_p),
        ("name", ctypes.c_char_p),
        ("arguments", ctypes.c_void_p),
        ("arguments_len", ctypes.c_size_t),
        ("arguments_valid", ctypes.c_bool),
    ]


_TEXT_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_CALL_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(_CToolCall))
_TOOL_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(_CToolCall), ctypes.c_void_p)
_STEP_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint32, ctypes.POINTER(_ffi.Result))
_DONE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(_ffi.Result))


class _AgentRequest(ctypes.Structure):
    """ylokh_agent_request."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("conversation", ctypes.c_void_p),
        ("model", ctypes.c_char_p),
        ("tools_json", ctypes.c_char_p),
        ("params_json", ctypes.c_char_p),
        ("stream", ctypes.c_bool),
        ("sessions", ctypes.POINTER(ctypes.c_void_p)),
        ("n_sessions", ctypes.c_size_t),
        ("max_steps", ctypes.c_uint32),
        ("tool_timeout_ms", ctypes.c_uint64),
        ("user_data", ctypes.c_void_p),
        ("on_token", _TEXT_FN),
        ("on_reasoning", _TEXT_FN),
        ("on_chunk", _TEXT_FN),
        ("on_tool_call_delta", _CALL_FN),
        ("on_tool_call", _CALL_FN),
        ("on_tool", _TOOL_FN),
        ("on_step", _STEP_FN),
        ("on_done", _DONE_FN),
        ("first_params_json", ctypes.c_char_p),
        ("first_prefill", ctypes.c_char_p),
    ]


P = ctypes.c_void_p
for _name, (_args, _result) in {
    "ylokh_agent_run": ([P, ctypes.POINTER(_AgentRequest), ctypes.POINTER(P)], ctypes.c_uint32),
    "ylokh_agent_wait": ([P, ctypes.c_uint64], ctypes.c_uint32),
    "ylokh_agent_cancel": ([P], ctypes.c_uint32),
    "ylokh_agent_free": ([P], None),
    "ylokh_tool_reply_set": ([P, ctypes.c_char_p, ctypes.c_bool], ctypes.c_uint32),
    "ylokh_conversation_json": ([P], ctypes.c_char_p),
}.items():
    if _ffi.has(_name):
        _fn = getattr(library, _name)
        _fn.argtypes = _args
        _fn.restype = _result

INCOMPLETE = 10


@dataclass(frozen=True)
class AgentResult:
    """How Client.run_tools ended: the last model turn's `result` (its `message` is the final
    answer, not added to the history; token counts summed over the run), the model turns made
    (`steps`), and `answered` (False: max_steps ran out while the model still called tools)."""

    result: Result
    steps: int
    answered: bool


def _result_of(r: "_ffi.Result") -> Tuple[int, str, Result]:
    """(status, message, Result) copied out of a ylokh_result."""
    message_json = r.message_json.decode() if r.message_json else None
    message: Dict[str, Any] = json.loads(message_json) if message_json else {"role": "assistant", "content": None}
    content = message.get("content")
    calls = tuple(
        ToolCall(index=i, id=str(c.get("id", "")), name=str((c.get("function") or {}).get("name", "")),
                 arguments=str((c.get("function") or {}).get("arguments", "{}")))
        for i, c in enumerate(message.get("tool_calls") or []))

    def count(n: int) -> Optional[int]:
        return None if n < 0 else int(n)

    result = Result(
        text=content if isinstance(content, str) else "", reasoning=str(message.get("reasoning_content") or ""),
        finish_reason=r.finish_reason.decode() if r.finish_reason else None, tool_calls=calls,
        prompt_tokens=count(r.prompt_tokens), completion_tokens=count(r.completion_tokens),
        total_tokens=count(r.total_tokens), http_status=int(r.http_status), message=message,
        ttfb_ms=count(r.ttfb_ms), ttft_ms=count(r.ttft_ms), duration_ms=count(r.duration_ms),
        retries=int(r.retries), resumes=int(r.resumes))
    return int(r.status), r.message.decode("utf-8", "replace") if r.message else "", result


def _describe(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}" if str(e) else type(e).__name__


def run_tools(
    client: "Client",
    messages: Messages,
    *,
    tools: Optional[Sequence[Mapping[str, Any]]] = None,
    functions: Optional[Mapping[str, Callable[..., Any]]] = None,
    sessions: Sequence[McpSession] = (),
    max_steps: int = 10,
    model: Optional[str] = None,
    params: Optional[Mapping[str, Any]] = None,
    stream: bool = True,
    tool_timeout: float = 60.0,
    on_token: Optional[Callable[[str], Any]] = None,
    on_reasoning: Optional[Callable[[str], Any]] = None,
    on_tool_call: Optional[Callable[[ToolCall], Any]] = None,
    on_step: Optional[Callable[[int, Result], Any]] = None,
) -> AgentResult:
    if client._client is None:  # noqa: SLF001
        raise YlokhError(_ffi.INVALID_ARGUMENT, "the client is closed")
    if not _ffi.has("ylokh_agent_run"):
        raise YlokhError(_ffi.INVALID_ARGUMENT, f"run_tools needs libylokh 0.3 (the loaded library is {_ffi.version()})")
    functions = dict(functions or {})
    history = messages.messages if isinstance(messages, Conversation) else list(messages)
    lock = threading.Lock()
    state: Dict[str, Any] = {"error": None, "steps": 0, "done": None}

    def fail(e: BaseException) -> int:
        with lock:
            if state["error"] is None:
                state["error"] = e
        return 1

    def text_fn(handler: Callable[[str], Any]) -> Any:
        def fn(_user: Optional[int], text: Optional[int], length: int) -> int:
            try:
                handler(ctypes.string_at(text, length).decode("utf-8", "replace") if text else "")
                return 0
            except BaseException as e:  # noqa: BLE001 (it must not cross into C)
                return fail(e)
        return _TEXT_FN(fn)

    def call_of(c: Any) -> ToolCall:
        v = c.contents
        arguments = ctypes.string_at(v.arguments, v.arguments_len).decode("utf-8", "replace") if v.arguments else "{}"
        return ToolCall(index=int(v.index), id=(v.id or b"").decode(), name=(v.name or b"").decode(), arguments=arguments)

    def tool_fn(_user: Optional[int], c: Any, reply: Optional[int]) -> int:
        try:
            call = call_of(c)
            function = functions.get(call.name)
            is_error = False
            if function is None:
                text, is_error = f"there is no tool named {call.name}", True
            else:
                try:
                    arguments = json.loads(call.arguments) if call.arguments.strip() else {}
                    value = function(**arguments) if isinstance(arguments, dict) else function(arguments)
                    text = value if isinstance(value, str) else json.dumps(value)
                except Exception as e:  # noqa: BLE001 (a tool's failure is the model's to see)
                    text, is_error = _describe(e), True
            return 0 if library.ylokh_tool_reply_set(reply, text.encode("utf-8", "replace"), is_error) == _ffi.OK else 1
        except BaseException as e:  # noqa: BLE001
            return fail(e)

    def step_fn(_user: Optional[int], step: int, r: Any) -> int:
        try:
            state["steps"] = int(step)
            if on_step is not None:
                on_step(int(step), _result_of(r.contents)[2])
            return 0
        except BaseException as e:  # noqa: BLE001
            return fail(e)

    def call_fn(_user: Optional[int], c: Any) -> int:
        try:
            assert on_tool_call is not None
            on_tool_call(call_of(c))
            return 0
        except BaseException as e:  # noqa: BLE001
            return fail(e)

    def done_fn(_user: Optional[int], r: Any) -> None:
        try:
            state["done"] = _result_of(r.contents)
        except BaseException as e:  # noqa: BLE001
            fail(e)

    callbacks = {  # kept alive until the run has ended
        "on_token": text_fn(on_token) if on_token else _TEXT_FN(),
        "on_reasoning": text_fn(on_reasoning) if on_reasoning else _TEXT_FN(),
        "on_tool_call": _CALL_FN(call_fn) if on_tool_call else _CALL_FN(),
        "on_tool": _TOOL_FN(tool_fn),
        "on_step": _STEP_FN(step_fn),
        "on_done": _DONE_FN(done_fn),
    }
    c_sessions = (ctypes.c_void_p * max(1, len(sessions)))(*[s.handle for s in sessions])
    conversation = _conversation(history, False)
    try:
        request = _AgentRequest(
            struct_size=ctypes.sizeof(_AgentRequest), conversation=conversation,
            model=model.encode() if model else None,
            tools_json=json.dumps(list(tools)).encode() if tools else None,
            params_json=json.dumps(dict(params)).encode() if params else None, stream=stream,
            sessions=c_sessions if sessions else None, n_sessions=len(sessions), max_steps=max(1, max_steps),
            tool_timeout_ms=max(1, int(tool_timeout * 1000)), **callbacks)
        run = ctypes.c_void_p()
        _ffi.check(library.ylokh_agent_run(client._client, ctypes.byref(request), ctypes.byref(run)))  # noqa: SLF001
        try:
            try:
                while library.ylokh_agent_wait(run, 250) == _ffi.PENDING:
                    pass
            except BaseException:  # KeyboardInterrupt: stop the run, wait for its end
                library.ylokh_agent_cancel(run)
                while library.ylokh_agent_wait(run, 250) == _ffi.PENDING:
                    pass
                raise
        finally:
            library.ylokh_agent_free(run)
        after = json.loads(library.ylokh_conversation_json(conversation).decode())
    finally:
        library.ylokh_conversation_free(conversation)
    if isinstance(messages, Conversation):
        messages.messages[:] = after
    elif isinstance(messages, list):
        messages[:] = after
    if state["error"] is not None:
        raise state["error"]
    status, message, result = state["done"]
    answered = status == _ffi.OK
    if not answered and not (status == INCOMPLETE and state["steps"] == max(1, max_steps)):
        raise YlokhError(status, message, result.http_status)
    return AgentResult(result=result, steps=state["steps"] + (1 if answered else 0), answered=answered)
