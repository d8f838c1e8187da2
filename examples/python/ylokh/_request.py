"""One request on the pull interface (ylokh_request_next), shared by the seed's interface and
the Client. Waiting for an event happens in ctypes calls, which release the GIL: a blocking wait
for synchronous code; for asyncio code the event loop watches the request's descriptor
(libylokh 0.3), or, with an older library, a worker thread waits."""

from __future__ import annotations

import asyncio
import concurrent.futures
import ctypes
import json
import threading
import weakref
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

from . import _ffi
from ._ffi import YlokhError, library

# How long one wait lasts before it looks again (milliseconds): a synchronous wait wakes this
# often so that Ctrl-C (KeyboardInterrupt) is seen; a cancel wakes a wait at once anyway.
POLL_MS = 250


class Done(NamedTuple):
    """What the DONE event said, copied out of the library's ylokh_result."""

    status: int
    http_status: int
    message: str
    finish_reason: Optional[str]
    prompt_tokens: Optional[int]
    completion_tokens: Optional[int]
    total_tokens: Optional[int]
    message_json: Optional[str]
    # Timings (ms from the start; None when unknown), client-measured tokens/s, retries and
    # resumes, and the server's own timings object (llama.cpp) parsed.
    ttfb_ms: Optional[int] = None
    ttft_ms: Optional[int] = None
    duration_ms: Optional[int] = None
    tokens_per_s: Optional[float] = None
    retries: int = 0
    resumes: int = 0
    server_timings: Optional[Dict[str, Any]] = None

    def error(self) -> YlokhError:
        return YlokhError(self.status, self.message, self.http_status)


# (kind, text) for TOKEN, REASONING and TOOL_CALL (its JSON); (EVENT_DONE, Done) at the end.
Pulled = Tuple[int, Union[str, Done]]


def _count(n: int) -> Optional[int]:
    return None if n < 0 else int(n)


def _rate(r: float) -> Optional[float]:
    return None if r < 0 else float(r)


def _message_json(i: int, message: Any, as_text: bool) -> bytes:
    """One message as the JSON ylokh_conversation_add_json takes. `as_text` (the seed's way): a
    role or content that JSON cannot carry as it is becomes str(...)."""
    if not isinstance(message, Mapping):
        raise YlokhError(_ffi.INVALID_ARGUMENT, f"messages[{i}] is a {type(message).__name__}, not a dict "
                         "with a \"role\" (a chat-format message)")
    m = dict(message)
    if as_text:
        if "role" in m and not isinstance(m["role"], str):
            m["role"] = str(m["role"])
        if "content" in m and not isinstance(m["content"], (str, list, type(None))):
            m["content"] = str(m["content"])
    try:
        return json.dumps(m, ensure_ascii=False).encode()
    except (TypeError, ValueError) as e:
        raise YlokhError(_ffi.INVALID_ARGUMENT, f"messages[{i}] cannot be sent as JSON: {e}") from None


def _conversation(messages: Sequence[Mapping[str, Any]], as_text: bool) -> int:
    """A ylokh_conversation holding `messages` as given (free it with ylokh_conversation_free)."""
    conversation = library.ylokh_conversation_new()
    if not conversation:
        raise YlokhError.last(_ffi.INTERNAL)
    try:
        for i, message in enumerate(messages):
            status = library.ylokh_conversation_add_json(conversation, _message_json(i, message, as_text))
            if status != _ffi.OK:
                e = YlokhError.last(status)
                raise YlokhError(status, f"messages[{i}]: {e.message}") from None
    except BaseException:
        library.ylokh_conversation_free(conversation)
        raise
    return int(conversation)


class PulledRequest:
    """A started request. `next()` may run in a worker thread; `close()` cancels, waits for
    that thread to leave the library, then frees the request. `cancel()` never blocks."""

    def __init__(
        self,
        client: int,
        model: Optional[str],
        messages: Sequence[Mapping[str, Any]],
        params: Optional[Mapping[str, Any]],
        stream: bool,
        tools: Optional[Sequence[Mapping[str, Any]]] = None,
        as_text: bool = False,
    ):
        """Starts the request through ylokh_chat_send, with the messages as a conversation (each
        dict as given, so tool calls, tool results, content parts and reasoning reach every wire
        dialect translated). `as_text`: the seed's leniency (see _message_json)."""
        self._req: Optional[int] = None
        self._state = threading.Lock()  # guards _req against cancel() racing close()
        self._busy = threading.Lock()  # held while a thread is inside ylokh_request_next
        self._event = _ffi.Event()
        self.done: Optional[Done] = None
        self.owner: object = None  # what must live as long as the request (its Client)
        self.watch: Optional[_Watch] = None  # the asyncio loop's watch on its descriptor
        params_json = json.dumps(dict(params)).encode() if params else None
        tools_json = json.dumps(list(tools)).encode() if tools is not None else None
        conversation = _conversation(messages, as_text)
        req = ctypes.c_void_p()
        try:
            request = _ffi.ChatRequest(
                struct_size=ctypes.sizeof(_ffi.ChatRequest), model=model.encode() if model else None,
                conversation=conversation, tools_json=tools_json, params_json=params_json, stream=stream, pull=True,
            )
            _ffi.check(library.ylokh_chat_send(client, ctypes.byref(request), ctypes.byref(req)))
        finally:
            library.ylokh_conversation_free(conversation)  # the request copied it
        self._req = req.value

    def next(self, timeout_ms: int) -> Optional[Pulled]:
        """The next event, or None when none came within `timeout_ms`. After DONE: DONE again."""
        with self._busy:
            if self.done is not None:
                return _ffi.EVENT_DONE, self.done
            if self._req is None:
                raise YlokhError(_ffi.CANCELLED, "the request was closed")
            while True:
                status = library.ylokh_request_next(self._req, timeout_ms, ctypes.byref(self._event))
                if status == _ffi.PENDING:
                    return None
                _ffi.check(status)
                event = self._event
                if event.kind in (_ffi.EVENT_TOKEN, _ffi.EVENT_REASONING, _ffi.EVENT_TOOL_CALL):
                    return event.kind, ctypes.string_at(event.text, event.len).decode("utf-8")
                if event.kind == _ffi.EVENT_DONE:
                    r = ctypes.cast(event.result, ctypes.POINTER(_ffi.Result)).contents
                    message_json = r.message_json
                    server_timings = r.server_timings_json
                    self.done = Done(
                        status=int(r.status),
                        http_status=int(r.http_status),
                        message=r.message.decode("utf-8", "replace") if r.message else "",
                        finish_reason=r.finish_reason.decode() if r.finish_reason else None,
                        prompt_tokens=_count(r.prompt_tokens),
                        completion_tokens=_count(r.completion_tokens),
                        total_tokens=_count(r.total_tokens),
                        message_json=message_json.decode() if message_json else None,
                        ttfb_ms=_count(r.ttfb_ms),
                        ttft_ms=_count(r.ttft_ms),
                        duration_ms=_count(r.duration_ms),
                        tokens_per_s=_rate(r.tokens_per_s),
                        retries=int(r.retries),
                        resumes=int(r.resumes),
                        server_timings=json.loads(server_timings) if server_timings else None,
                    )
                    return _ffi.EVENT_DONE, self.done
                # CHUNK (only with pull_chunks, never set here) or a kind newer than this
                # binding: skip it.

    def fd(self) -> Optional[int]:
        """The request's descriptor (ylokh_request_fd, libylokh 0.3): readable exactly while
        next(0) has an event. None from an older library or a closed request."""
        if not _ffi.has("ylokh_request_fd"):
            return None
        with self._state:
            if self._req is None:
                return None
            fd = int(library.ylokh_request_fd(self._req))
        return fd if fd >= 0 else None

    def cancel(self) -> None:
        """Asks the request to stop (YLOKH_CANCELLED) and closes its connection. Never blocks."""
        with self._state:
            if self._req is not None:
                library.ylokh_request_cancel(self._req)

    def close(self) -> None:
        """Cancels the request if it still runs and frees it; a wait in another thread returns
        first (at once: the cancel wakes it). An asyncio loop's watch on the descriptor is
        removed before the descriptor closes (on the loop's thread; from another thread the
        free waits for the loop to remove it)."""
        if self._req is None:
            return
        self.cancel()
        watch, self.watch = self.watch, None
        if watch is not None and not watch.remove_then(self._free):
            return
        self._free()

    def _free(self) -> None:
        with self._busy, self._state:
            if self._req is not None:
                library.ylokh_request_free(self._req)
                self._req = None

    def __del__(self) -> None:
        self.close()


_executor: Optional[concurrent.futures.ThreadPoolExecutor] = None
_executor_lock = threading.Lock()


def _waiters() -> concurrent.futures.ThreadPoolExecutor:
    """The threads that wait for events on behalf of asyncio code. A thread is added only when
    none is idle, so there are as many as requests waiting at the same moment (asyncio's default
    executor has min(32, CPUs + 4): with more requests than that, they would wait in turn)."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(max_workers=1024, thread_name_prefix="ylokh-wait")
        return _executor


class _Watch:
    """An asyncio loop's watch on one request's descriptor (ylokh_request_fd: readable exactly
    while next(0) has an event). It stays added from one wait to the next, so a token costs no
    epoll_ctl: the loop's callback takes the event itself and hands it to the waiting task. A
    callback that finds no task waiting removes the watch (the descriptor is level-triggered: an
    event nobody takes would wake the loop on every turn); the next wait adds it back. The watch
    holds its request weakly: a stream dropped mid-way (`break` out of `async for`) is freed, and
    so cancelled, although the loop still holds the watch's callback."""

    def __init__(self, loop: asyncio.AbstractEventLoop, request: "PulledRequest", fd: int):
        self.loop, self.fd = loop, fd
        self.request = weakref.ref(request)
        self.thread = threading.get_ident()
        self.waiter: Optional[asyncio.Future[Pulled]] = None
        self.added = False

    def _ready(self) -> None:
        waiter, request = self.waiter, self.request()
        if waiter is None or waiter.done() or request is None:
            self._remove()
            return
        try:
            event = request.next(0)
        except BaseException as e:  # noqa: B036 - handed to the waiting task
            self.waiter = None
            waiter.set_exception(e)
            return
        if event is not None:
            self.waiter = None
            waiter.set_result(event)

    async def next(self) -> Pulled:
        """The next event, when the loop sees the descriptor readable. Raises
        NotImplementedError where the loop cannot watch descriptors (Windows' proactor)."""
        waiter: asyncio.Future[Pulled] = self.loop.create_future()
        self.waiter = waiter
        if not self.added:
            self.loop.add_reader(self.fd, self._ready)
            self.added = True
        try:
            return await waiter
        finally:
            if self.waiter is waiter:
                self.waiter = None

    def _remove(self) -> None:
        if self.added:
            self.added = False
            self.loop.remove_reader(self.fd)

    def remove_then(self, free: Any) -> bool:
        """Removes the watch; True when that is done and `free` may run now. From another
        thread than the loop's, the loop removes it and then calls `free` (False)."""
        if not self.added or self.loop.is_closed():
            return True
        if threading.get_ident() == self.thread:
            self._remove()
            return True

        def remove_and_free() -> None:
            self._remove()
            free()

        try:
            self.loop.call_soon_threadsafe(remove_and_free)
        except RuntimeError:  # the loop closed meanwhile: its selector is gone
            return True
        return False


async def anext_event(request: PulledRequest) -> Pulled:
    """The next event. What has already arrived is taken at once. Otherwise the event loop
    watches the request's descriptor (libylokh 0.3: no thread per waiting stream); with an older
    library, or a loop that cannot watch descriptors (Windows' proactor), a worker thread waits."""
    event = request.next(0)
    if event is not None:
        return event
    loop = asyncio.get_running_loop()
    watch = request.watch
    if watch is None or watch.loop is not loop:
        if watch is not None:  # iterated on another loop before
            watch.remove_then(lambda: None)
        fd = request.fd()
        watch = request.watch = _Watch(loop, request, fd) if fd is not None else None
    if watch is not None:
        try:
            return await watch.next()
        except NotImplementedError:
            request.watch = None
    while event is None:
        event = await loop.run_in_executor(_waiters(), request.next, POLL_MS)
    return event


def next_event(request: PulledRequest) -> Pulled:
    """The next event, waiting on this thread (a few times a second it comes back to Python, so
    Ctrl-C is seen)."""
    event = request.next(POLL_MS)
    while event is None:
        event = request.next(POLL_MS)
    return event
