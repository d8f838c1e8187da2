"""libylokh from Python, with the interface of gpt4free's Ylokh provider. Standard library only.

    import asyncio
    from ylokh import Ylokh

    async def main():
        messages = [{"role": "user", "content": "Why is the sky blue?"}]
        async for token in Ylokh.create_async_generator(model="gpt-3.5-turbo", messages=messages):
            print(token, end="", flush=True)

    asyncio.run(main())

The server: YLOKH_BASE_URL (any OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1) and
YLOKH_API_KEY, as in the C examples; without YLOKH_BASE_URL, the Ylokh preset. The library:
YLOKH_LIB (a path to libylokh.so), else the build in this checkout (target/release, then
target/debug), else the system's (ldconfig, an installed prefix).

Threads: the library's threads never call into Python here (except a log handler, if you set
one with set_log_handler). Each request uses the pull interface: the async generator waits for events in a worker thread (ctypes releases the GIL
while it waits), so the event loop never blocks. Closing the generator (`aclose()`, `break`
in `async for` followed by garbage collection, or cancelling the task that iterates it)
cancels the request, which closes its connection so the server stops generating.
"""

from __future__ import annotations

import asyncio
import atexit
import ctypes
import ctypes.util
import json
import os
import threading
from pathlib import Path
from typing import AsyncGenerator, Dict, Generator, List, Optional, Tuple

__all__ = ["Ylokh", "YlokhError", "set_log_handler", "library"]

# Statuses (ylokh.h).
OK, PENDING, INVALID_ARGUMENT, RECURSIVE_CALL = 0, 1, 2, 3
CANCELLED = 11
EVENT_TOKEN, EVENT_REASONING, EVENT_CHUNK, EVENT_DONE = 1, 2, 3, 4
_FOREVER = 2**64 - 1
# How long one wait in a worker thread lasts before it looks again (milliseconds).
_POLL_MS = 200


class _Message(ctypes.Structure):
    _fields_ = [("role", ctypes.c_char_p), ("content", ctypes.c_char_p)]


class _Result(ctypes.Structure):
    _fields_ = [
        ("status", ctypes.c_uint32),
        ("http_status", ctypes.c_uint16),
        ("message", ctypes.c_char_p),
        ("finish_reason", ctypes.c_char_p),
        ("prompt_tokens", ctypes.c_int64),
        ("completion_tokens", ctypes.c_int64),
        ("total_tokens", ctypes.c_int64),
    ]


class _Event(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_uint32),
        ("text", ctypes.c_void_p),
        ("len", ctypes.c_size_t),
        ("result", ctypes.POINTER(_Result)),
    ]


_LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t)


def _find_library() -> str:
    explicit = os.environ.get("YLOKH_LIB")
    if explicit:
        return explicit
    root = Path(__file__).resolve().parents[2]
    for profile in ("release", "debug"):
        candidate = root / "target" / profile / "libylokh.so"
        if candidate.exists():
            return str(candidate)
    found = ctypes.util.find_library("ylokh")
    if found:
        return found
    return "libylokh.so.0"


def _load() -> ctypes.CDLL:
    path = _find_library()
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(
            f"libylokh not found ({path}): build it with `cargo build --release` in the "
            "libylokh checkout, install it, or set YLOKH_LIB to the path of libylokh.so"
        ) from e
    P, U32, U64, SZ, STR = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_size_t, ctypes.c_char_p
    signatures = {
        "ylokh_options_new": ([], P),
        "ylokh_options_new_compatible": ([STR], P),
        "ylokh_options_free": ([P], None),
        "ylokh_options_set_api_key": ([P, STR], U32),
        "ylokh_options_set_proxy": ([P, STR], U32),
        "ylokh_options_set_timeout_ms": ([P, U64], U32),
        "ylokh_client_new": ([P, ctypes.POINTER(P)], U32),
        "ylokh_client_free": ([P], None),
        "ylokh_chat_start": (
            [P, STR, ctypes.POINTER(_Message), SZ, STR, ctypes.c_bool, P, ctypes.POINTER(P)],
            U32,
        ),
        "ylokh_request_next": ([P, U64, ctypes.POINTER(_Event)], U32),
        "ylokh_request_cancel": ([P], U32),
        "ylokh_request_free": ([P], None),
        "ylokh_status_str": ([U32], STR),
        "ylokh_last_error": ([], STR),
        "ylokh_version": ([], STR),
        "ylokh_set_log_callback": ([U32, _LOG_FN, P], U32),
    }
    for name, (args, result) in signatures.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = result
    return lib


library = _load()


class YlokhError(Exception):
    """A failed call or request: `status` (a YLOKH_* number), `status_name`, `http_status`
    (0 when no HTTP response arrived) and `message` (what happened and what to do)."""

    def __init__(self, status: int, message: str, http_status: int = 0):
        self.status = status
        self.status_name = library.ylokh_status_str(status).decode()
        self.http_status = http_status
        self.message = message
        super().__init__(f"{self.status_name}: {message}")

    @classmethod
    def last(cls, status: int) -> "YlokhError":
        text = library.ylokh_last_error()
        return cls(status, text.decode("utf-8", "replace") if text else "")


def _check(status: int) -> None:
    if status != OK:
        raise YlokhError.last(status)


_clients: Dict[Tuple, int] = {}
_clients_lock = threading.Lock()


def _client(proxy: Optional[str], timeout: float) -> int:
    """One client per (server, key, proxy, timeout), kept for the life of the process: its
    connections are reused, as a session would."""
    base_url = os.environ.get("YLOKH_BASE_URL") or None
    api_key = os.environ.get("YLOKH_API_KEY") or None
    key = (base_url, api_key, proxy, timeout)
    with _clients_lock:
        if key in _clients:
            return _clients[key]
        opts = library.ylokh_options_new_compatible(base_url.encode()) if base_url else library.ylokh_options_new()
        if not opts:
            raise YlokhError.last(INVALID_ARGUMENT)
        try:
            if api_key:
                _check(library.ylokh_options_set_api_key(opts, api_key.encode()))
            if proxy:
                _check(library.ylokh_options_set_proxy(opts, proxy.encode()))
            _check(library.ylokh_options_set_timeout_ms(opts, max(0, int(timeout * 1000))))
            client = ctypes.c_void_p()
            _check(library.ylokh_client_new(opts, ctypes.byref(client)))
        finally:
            library.ylokh_options_free(opts)
        _clients[key] = client.value
        return client.value


@atexit.register
def _free_clients() -> None:
    with _clients_lock:
        for client in _clients.values():
            library.ylokh_client_free(client)
        _clients.clear()


class _Request:
    """One pulled request. `next()` may run in a worker thread; `close()` cancels, waits for
    that thread to leave the library, then frees the request."""

    def __init__(self, model: Optional[str], messages: List[Dict[str, str]], stream: bool,
                 proxy: Optional[str], timeout: float, kwargs: dict):
        self._req = None
        client = _client(proxy, timeout)
        c_messages = (_Message * len(messages))()
        self._keep = []
        for i, m in enumerate(messages):
            role, content = str(m["role"]).encode(), str(m["content"]).encode()
            self._keep += [role, content]
            c_messages[i] = _Message(role, content)
        params = json.dumps(kwargs).encode() if kwargs else None
        req = ctypes.c_void_p()
        _check(library.ylokh_chat_start(client, model.encode() if model else None, c_messages,
                                        len(messages), params, stream, None, ctypes.byref(req)))
        self._req = req.value
        self._busy = threading.Lock()
        self._event = _Event()
        self.done = False

    def next(self, timeout_ms: int) -> Optional[Tuple[int, object]]:
        """(kind, text) for a token or reasoning, (EVENT_DONE, None) at a good end, None when
        nothing came within `timeout_ms`; raises YlokhError when the request failed."""
        with self._busy:
            if self._req is None:
                raise YlokhError(CANCELLED, "the generator was closed")
            while True:
                status = library.ylokh_request_next(self._req, timeout_ms, ctypes.byref(self._event))
                if status == PENDING:
                    return None
                _check(status)
                event = self._event
                if event.kind in (EVENT_TOKEN, EVENT_REASONING):
                    text = ctypes.string_at(event.text, event.len).decode("utf-8")
                    return event.kind, text
                if event.kind == EVENT_DONE:
                    self.done = True
                    result = event.result.contents
                    if result.status != OK:
                        message = result.message.decode("utf-8", "replace") if result.message else ""
                        raise YlokhError(result.status, message, result.http_status)
                    return EVENT_DONE, None

    def close(self) -> None:
        if self._req is None:
            return
        library.ylokh_request_cancel(self._req)  # a worker still waiting returns at once
        with self._busy:
            if self._req is not None:
                library.ylokh_request_free(self._req)
                self._req = None

    def __del__(self) -> None:
        self.close()


class Ylokh:
    """The seed's provider: gpt4free's `Ylokh`, served by libylokh."""

    url = "https://chat.ylokh.xyz"
    working = False  # the Ylokh service itself is offline; point YLOKH_BASE_URL elsewhere
    supports_message_history = True
    supports_gpt_35_turbo = True

    @classmethod
    async def create_async_generator(
        cls,
        model: str,
        messages: List[Dict[str, str]],
        stream: bool = True,
        proxy: Optional[str] = None,
        timeout: int = 120,
        **kwargs,
    ) -> AsyncGenerator[str, None]:
        """Yields each `choices[0].delta.content` as it arrives (or `message.content` once
        when not streaming). `model` empty: the preset's ("gpt-3.5-turbo" for Ylokh).
        `**kwargs` go into the request body. Raises YlokhError on any failure."""
        request = _Request(model or None, messages, stream, proxy, timeout, kwargs)
        loop = asyncio.get_running_loop()
        try:
            while True:
                # What is already there, without a thread; else wait in one.
                event = request.next(0)
                while event is None:
                    event = await loop.run_in_executor(None, request.next, _POLL_MS)
                kind, text = event
                if kind == EVENT_DONE:
                    return
                if kind == EVENT_TOKEN:
                    yield text
        finally:
            request.close()

    @classmethod
    def create_completion(
        cls,
        model: str,
        messages: List[Dict[str, str]],
        stream: bool = True,
        proxy: Optional[str] = None,
        timeout: int = 120,
        **kwargs,
    ) -> Generator[str, None, None]:
        """The synchronous twin of create_async_generator: the same tokens, the same errors;
        closing the generator cancels the request."""
        request = _Request(model or None, messages, stream, proxy, timeout, kwargs)
        try:
            while True:
                kind, text = request.next(_FOREVER)
                if kind == EVENT_DONE:
                    return
                if kind == EVENT_TOKEN:
                    yield text
        finally:
            request.close()


# Every callback ever handed to the library stays alive: a library thread may still be inside
# the previous one just after it was replaced.
_log_callbacks: list = []


def set_log_handler(handler, level: int = 4) -> None:
    """Sends the library's log records (level 1 error .. 5 trace; default 4, debug) to
    `handler(level, message)`, which runs on library threads. None turns it off."""
    if handler is None:
        _check(library.ylokh_set_log_callback(0, _LOG_FN(), None))
        return

    def trampoline(_user_data, lvl, message, length):
        try:
            handler(lvl, ctypes.string_at(message, length).decode("utf-8", "replace"))
        except Exception:  # an exception must not cross into the library
            pass

    callback = _LOG_FN(trampoline)
    _log_callbacks.append(callback)
    _check(library.ylokh_set_log_callback(level, callback, None))
