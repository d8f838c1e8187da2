"""The idiomatic client: ylokh.Client with stream() (an iterator of events), astream() (an async
iterator), complete() and acomplete(), on the pull interface of the C API."""

from __future__ import annotations

import ctypes
import json
import os
from array import array
from dataclasses import dataclass
from types import TracebackType
from typing import (Any, AsyncIterator, Dict, Iterable, Iterator, List, Literal, Mapping, Optional, Sequence,
                    Tuple, Type, Union)

from . import _ffi
from ._ffi import library
from ._request import Done, Pulled, PulledRequest, anext_event, next_event


EventType = Literal["token", "reasoning", "tool_call", "done"]
Api = Literal["chat", "responses", "messages"]


@dataclass(frozen=True)
class ToolCall:
    """A complete tool call the model asked for (libylokh 0.2)."""

    index: int
    id: str
    name: str
    arguments: str
    """The arguments as the JSON text the model wrote (see parsed_arguments())."""
    type: str = "function"

    def parsed_arguments(self) -> Any:
        return json.loads(self.arguments)

    @classmethod
    def from_json(cls, text: str) -> "ToolCall":
        """From the library's YLOKH_EVENT_TOOL_CALL text:
        {"index":I,"id":ID,"type":"function","function":{"name":N,"arguments":ARGS}}."""
        call = json.loads(text)
        function = call.get("function") or {}
        return cls(index=int(call.get("index", 0)), id=str(call.get("id", "")), name=str(function.get("name", "")),
                   arguments=str(function.get("arguments", "{}")), type=str(call.get("type", "function")))


@dataclass(frozen=True)
class Result:
    """How a request ended well: the whole text, reasoning and tool calls, why the model
    stopped, the token counts (None when the server did not say) and the assistant message to
    add to a conversation."""

    text: str
    reasoning: str
    finish_reason: Optional[str]
    tool_calls: Tuple[ToolCall, ...]
    prompt_tokens: Optional[int]
    completion_tokens: Optional[int]
    total_tokens: Optional[int]
    http_status: int
    message: Dict[str, Any]
    # Timings as the client measured them (ms from the start; None when unknown), completion
    # tokens per second after the first token, retries and stream resumes, and the server's own
    # timings object (llama.cpp) when it sent one.
    ttfb_ms: Optional[int] = None
    ttft_ms: Optional[int] = None
    duration_ms: Optional[int] = None
    tokens_per_s: Optional[float] = None
    retries: int = 0
    resumes: int = 0
    server_timings: Optional[Dict[str, Any]] = None


@dataclass(frozen=True)
class Event:
    """One event of a stream: type "token" or "reasoning" (text), "tool_call" (tool_call), and
    last "done" (result)."""

    type: EventType
    text: str = ""
    tool_call: Optional[ToolCall] = None
    result: Optional[Result] = None


class Conversation:
    """A message history: a list of chat-format dicts that grows with each exchange.

        conversation = ylokh.Conversation(system="Be brief.")
        conversation.add("user", "Hi!")
        result = client.complete(conversation)
        conversation.add_result(result)          # the assistant's answer, tool calls included
    """

    def __init__(self, messages: Optional[Iterable[Mapping[str, Any]]] = None, *, system: Optional[str] = None):
        self.messages: List[Dict[str, Any]] = []
        if system is not None:
            self.add("system", system)
        for m in messages or []:
            self.messages.append(dict(m))

    def add(self, role: str, content: Any) -> "Conversation":
        self.messages.append({"role": role, "content": content})
        return self

    def add_result(self, result: Result) -> "Conversation":
        """The assistant message of an answer (with its tool calls, if any)."""
        self.messages.append(dict(result.message))
        return self

    def add_tool_result(self, tool_call_id: str, content: str) -> "Conversation":
        self.messages.append({"role": "tool", "tool_call_id": tool_call_id, "content": content})
        return self

    def __len__(self) -> int:
        return len(self.messages)

    def __iter__(self) -> Iterator[Dict[str, Any]]:
        return iter(self.messages)

    def __repr__(self) -> str:
        return f"Conversation({self.messages!r})"


Messages = Union[Sequence[Mapping[str, Any]], Conversation]


class _Collector:
    """Turns pulled events into Events and gathers the Result."""

    def __init__(self) -> None:
        self.text: List[str] = []
        self.reasoning: List[str] = []
        self.tool_calls: List[ToolCall] = []
        self.result: Optional[Result] = None

    def take(self, pulled: Pulled) -> Event:
        kind, payload = pulled
        if isinstance(payload, Done):
            if payload.status != _ffi.OK:
                raise payload.error()
            text = "".join(self.text)
            if payload.message_json:
                message: Dict[str, Any] = json.loads(payload.message_json)
            else:  # the library sets it whenever a response arrived; this is only a safe default
                message = {"role": "assistant", "content": text}
            self.result = Result(
                text=text, reasoning="".join(self.reasoning), finish_reason=payload.finish_reason,
                tool_calls=tuple(self.tool_calls), prompt_tokens=payload.prompt_tokens,
                completion_tokens=payload.completion_tokens, total_tokens=payload.total_tokens,
                http_status=payload.http_status, message=message,
                ttfb_ms=payload.ttfb_ms, ttft_ms=payload.ttft_ms, duration_ms=payload.duration_ms,
                tokens_per_s=payload.tokens_per_s, retries=payload.retries, resumes=payload.resumes,
                server_timings=payload.server_timings,
            )
            return Event("done", result=self.result)
        if kind == _ffi.EVENT_TOKEN:
            self.text.append(payload)
            return Event("token", text=payload)
        if kind == _ffi.EVENT_REASONING:
            self.reasoning.append(payload)
            return Event("reasoning", text=payload)
        call = ToolCall.from_json(payload)
        self.tool_calls.append(call)
        return Event("tool_call", tool_call=call)


class Stream(Iterator[Event]):
    """A started request as an iterator of Events; the last is "done" (its result is also
    `stream.result`). A failure raises YlokhError. close() (or leaving a `with` block, or
    dropping the stream) cancels the request and closes its connection."""

    def __init__(self, request: PulledRequest):
        self._request = request
        self._collector = _Collector()
        self._finished = False

    @property
    def result(self) -> Optional[Result]:
        return self._collector.result

    def __iter__(self) -> "Stream":
        return self

    def __next__(self) -> Event:
        if self._finished:
            raise StopIteration
        try:
            event = self._collector.take(next_event(self._request))
        except BaseException:
            self._finished = True
            self._request.close()
            raise
        if event.type == "done":
            self._finished = True
            self._request.close()
        return event

    def until_done(self) -> Result:
        """Reads the rest of the stream and returns its result."""
        for _ in self:
            pass
        assert self.result is not None
        return self.result

    def close(self) -> None:
        self._finished = True
        self._request.close()

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, t: Optional[Type[BaseException]], e: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        self.close()


class AsyncStream(AsyncIterator[Event]):
    """The asyncio twin of Stream. The event loop never blocks: it watches the request's
    descriptor (libylokh 0.3; with an older library a worker thread waits). Cancelling the task that iterates, aclose(), leaving an `async with` block, or
    breaking out of `async for` (the stream is dropped) cancels the request and closes its
    connection."""

    def __init__(self, request: PulledRequest):
        self._request = request
        self._collector = _Collector()
        self._finished = False

    @property
    def result(self) -> Optional[Result]:
        return self._collector.result

    def __aiter__(self) -> "AsyncStream":
        return self

    async def __anext__(self) -> Event:
        if self._finished:
            raise StopAsyncIteration
        try:
            event = self._collector.take(await anext_event(self._request))
        except BaseException:  # CancelledError included: stop the request
            self._finished = True
            self._request.close()
            raise
        if event.type == "done":
            self._finished = True
            self._request.close()
        return event

    async def until_done(self) -> Result:
        async for _ in self:
            pass
        assert self.result is not None
        return self.result

    async def aclose(self) -> None:
        self._finished = True
        self._request.close()

    async def __aenter__(self) -> "AsyncStream":
        return self

    async def __aexit__(self, t: Optional[Type[BaseException]], e: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        await self.aclose()


class Client:
    """A connection to one server: `base_url` (None: YLOKH_BASE_URL, else the Ylokh preset),
    `api_key` (None: YLOKH_API_KEY), the default `model`, the wire dialect `api` ("chat",
    "responses" or "messages"), a whole-request `timeout` in seconds, a
    `proxy` URL, extra `headers`, default body `params`, `max_retries`, `resume` (a stream
    that breaks is resumed where it broke, ylokh_options_set_resume) and `first_token_timeout`
    (seconds from sending to the first token; the read timeout waits meanwhile).
    Thread-safe; its requests share keep-alive connections. close() (or `with`) frees it."""

    def __init__(
        self,
        base_url: Optional[str] = None,
        api_key: Optional[str] = None,
        model: Optional[str] = None,
        api: Api = "chat",
        *,
        timeout: Optional[float] = 120.0,
        proxy: Optional[str] = None,
        headers: Optional[Mapping[str, Optional[str]]] = None,
        params: Optional[Mapping[str, Any]] = None,
        max_retries: Optional[int] = None,
        resume: bool = False,
        first_token_timeout: Optional[float] = None,
    ):
        self._client: Optional[int] = None
        self.base_url = base_url or os.environ.get("YLOKH_BASE_URL") or None
        self.model = model
        self.api = api
        self._client = _ffi.new_client(
            self.base_url, api_key=api_key if api_key is not None else os.environ.get("YLOKH_API_KEY"),
            model=model, api=api, proxy=proxy, timeout=timeout, max_retries=max_retries,
            headers=list((headers or {}).items()),
            default_params_json=json.dumps(dict(params)) if params is not None else None,
            resume=resume, first_token_timeout=first_token_timeout,
        )

    def _start(self, messages: Messages, model: Optional[str], tools: Optional[Sequence[Mapping[str, Any]]],
               params: Optional[Mapping[str, Any]], kwargs: Mapping[str, Any], stream: bool) -> PulledRequest:
        if self._client is None:
            raise _ffi.YlokhError(_ffi.INVALID_ARGUMENT, "the client is closed")
        body = {**(params or {}), **kwargs}
        history = messages.messages if isinstance(messages, Conversation) else list(messages)
        request = PulledRequest(self._client, model, history, body, stream, tools)
        request.owner = self  # a stream keeps its client alive: Client(...).stream(...) works
        return request

    def stream(self, messages: Messages, *, model: Optional[str] = None, tools: Optional[Sequence[Mapping[str, Any]]] = None,
               params: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> Stream:
        """Starts a streamed answer. `messages`: chat-format dicts (any the chat format allows:
        tool calls and results, content parts, an answer's `result.message`) or a Conversation,
        sent as a conversation that every wire dialect translates; `tools`: chat-format tool
        definitions; `params` and `**kwargs`: body keys, merged last (they win)."""
        return Stream(self._start(messages, model, tools, params, kwargs, True))

    def astream(self, messages: Messages, *, model: Optional[str] = None, tools: Optional[Sequence[Mapping[str, Any]]] = None,
                params: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> AsyncStream:
        """stream() for asyncio: `async for event in client.astream(...)`."""
        return AsyncStream(self._start(messages, model, tools, params, kwargs, True))

    def complete(self, messages: Messages, *, model: Optional[str] = None, tools: Optional[Sequence[Mapping[str, Any]]] = None,
                 params: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> Result:
        """The whole answer of a non-streamed request. Raises YlokhError on failure."""
        return Stream(self._start(messages, model, tools, params, kwargs, False)).until_done()

    async def acomplete(self, messages: Messages, *, model: Optional[str] = None, tools: Optional[Sequence[Mapping[str, Any]]] = None,
                        params: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> Result:
        """complete() for asyncio."""
        return await AsyncStream(self._start(messages, model, tools, params, kwargs, False)).until_done()

    def embed(self, inputs: Union[str, Sequence[str]], *, model: Optional[str] = None,
              params: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> "List[array[float]]":
        """Embeddings of `inputs` (one text or a sequence), one array('f') per input, in order
        (libylokh 0.3). `params` and `**kwargs`: body keys merged last (e.g. dimensions=256).
        Blocks this thread (the GIL is released while it waits). Raises YlokhError on failure."""
        if self._client is None:
            raise _ffi.YlokhError(_ffi.INVALID_ARGUMENT, "the client is closed")
        if not _ffi.has("ylokh_embed"):
            raise _ffi.YlokhError(_ffi.INVALID_ARGUMENT, f"embed() needs libylokh 0.3 (the loaded library is {_ffi.version()})")
        texts = [inputs] if isinstance(inputs, str) else list(inputs)
        encoded = [t.encode() for t in texts]
        c_inputs = (ctypes.c_char_p * len(encoded))(*encoded)
        body = {**(params or {}), **kwargs}
        out = ctypes.POINTER(_ffi.Embeddings)()
        _ffi.check(library.ylokh_embed(self._client, model.encode() if model else None, c_inputs, len(encoded),
                                       json.dumps(body).encode() if body else None, ctypes.byref(out)))
        try:
            e = out.contents
            row = e.dimensions * ctypes.sizeof(ctypes.c_float)
            data = ctypes.string_at(e.data, e.count * row)
            vectors: List[array[float]] = []
            for i in range(e.count):
                vector = array("f")
                vector.frombytes(data[i * row:(i + 1) * row])
                vectors.append(vector)
            return vectors
        finally:
            library.ylokh_embeddings_free(out)

    def run_tools(self, messages: Messages, *, tools: Optional[Sequence[Mapping[str, Any]]] = None,
                  functions: Optional[Mapping[str, Any]] = None, sessions: Sequence[Any] = (),
                  max_steps: int = 10, model: Optional[str] = None, params: Optional[Mapping[str, Any]] = None,
                  stream: bool = True, tool_timeout: float = 60.0, on_token: Optional[Any] = None,
                  on_reasoning: Optional[Any] = None, on_tool_call: Optional[Any] = None,
                  on_step: Optional[Any] = None) -> Any:
        """Runs the whole tool loop through the library's agent runner (libylokh 0.3): sends
        `messages` with `tools` (chat-format definitions whose calls go to `functions[name]`,
        called with the arguments as keywords; a str return is the result, anything else is
        sent as JSON) and every tool of the McpSessions in `sessions`; appends each assistant
        turn with calls and each result; asks again until an answer comes without calls or
        `max_steps` model turns were made. A function that raises gives the model an error
        result ("Error: TypeName: message"), not a failed run. `messages`, a Conversation or a
        list, then holds the run's history (not the final answer: `result.message`, add it to
        go on). `on_token`, `on_reasoning`, `on_tool_call(ToolCall)`, `on_step(step, Result)`
        and the functions run on library threads, one at a time; an exception in a callback
        stops the run and is raised here. Blocks (the GIL released; Ctrl-C cancels the run).
        Returns an AgentResult; raises YlokhError when a turn fails."""
        from ._agent import run_tools
        return run_tools(self, messages, tools=tools, functions=functions, sessions=sessions, max_steps=max_steps,
                         model=model, params=params, stream=stream, tool_timeout=tool_timeout, on_token=on_token,
                         on_reasoning=on_reasoning, on_tool_call=on_tool_call, on_step=on_step)

    def close(self) -> None:
        """Cancels the client's running requests and frees it (streams already started end
        with YLOKH_CANCELLED)."""
        client, self._client = self._client, None
        if client is not None:
            library.ylokh_client_free(client)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, t: Optional[Type[BaseException]], e: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r}, model={self.model!r}, api={self.api!r})"
