"""The seed's interface: gpt4free's `Ylokh` provider, served by libylokh. Unchanged from the
single-file binding this package replaces."""

from __future__ import annotations

import atexit
import ctypes
import os
import threading
from typing import Any, AsyncGenerator, Callable, Dict, Generator, List, Optional, Tuple, Union

from . import _ffi
from ._ffi import library
from ._client import ToolCall
from ._request import Done, PulledRequest, anext_event, next_event

_clients: Dict[Tuple[Optional[str], Optional[str], Optional[str], float], int] = {}
_clients_lock = threading.Lock()


def _client(proxy: Optional[str], timeout: float) -> int:
    """One client per (server, key, proxy, timeout), kept for the life of the process: its
    connections are reused, as a session would. The server is YLOKH_BASE_URL and YLOKH_API_KEY
    (unset: the Ylokh preset)."""
    base_url = os.environ.get("YLOKH_BASE_URL") or None
    api_key = os.environ.get("YLOKH_API_KEY") or None
    key = (base_url, api_key, proxy, timeout)
    with _clients_lock:
        if key not in _clients:
            _clients[key] = _ffi.new_client(base_url, api_key=api_key, proxy=proxy, timeout=timeout)
        return _clients[key]


@atexit.register
def _free_clients() -> None:
    with _clients_lock:
        for client in _clients.values():
            library.ylokh_client_free(client)
        _clients.clear()


def _start(model: str, messages: List[Dict[str, str]], stream: bool, proxy: Optional[str],
           timeout: float, kwargs: Dict[str, Any]) -> PulledRequest:
    # tools=[...] is the request's tools_json (complete calls come back as events), not a body key.
    tools = kwargs.pop("tools", None)
    return PulledRequest(_client(proxy, timeout), model or None, messages, kwargs, stream, tools=tools,
                         as_text=True)


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
        **kwargs: Any,
    ) -> AsyncGenerator[Union[str, ToolCall], None]:
        """Yields each `choices[0].delta.content` as it arrives (or `message.content` once
        when not streaming). `model` empty: the preset's ("gpt-3.5-turbo" for Ylokh).
        `**kwargs` go into the request body. With `tools=[...]` (chat-format definitions), the
        complete tool calls follow the text as `ToolCall` objects (only when the answer ended
        well). Raises YlokhError on any failure."""
        request = _start(model, messages, stream, proxy, timeout, kwargs)
        try:
            while True:
                kind, payload = await anext_event(request)
                if isinstance(payload, Done):
                    if payload.status != _ffi.OK:
                        raise payload.error()
                    return
                if kind == _ffi.EVENT_TOKEN:
                    yield payload
                elif kind == _ffi.EVENT_TOOL_CALL:
                    yield ToolCall.from_json(payload)
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
        **kwargs: Any,
    ) -> Generator[Union[str, ToolCall], None, None]:
        """The synchronous twin of create_async_generator: the same tokens, the same errors;
        closing the generator cancels the request."""
        request = _start(model, messages, stream, proxy, timeout, kwargs)
        try:
            while True:
                kind, payload = next_event(request)
                if isinstance(payload, Done):
                    if payload.status != _ffi.OK:
                        raise payload.error()
                    return
                if kind == _ffi.EVENT_TOKEN:
                    yield payload
                elif kind == _ffi.EVENT_TOOL_CALL:
                    yield ToolCall.from_json(payload)
        finally:
            request.close()


# Every callback ever handed to the library stays alive: a library thread may still be inside
# the previous one just after it was replaced.
_log_callbacks: List[Any] = []


def set_log_handler(handler: Optional[Callable[[int, str], None]], level: int = 4) -> None:
    """Sends the library's log records (level 1 error .. 5 trace; default 4, debug) to
    `handler(level, message)`, which runs on library threads. None turns it off."""
    if handler is None:
        _ffi.check(library.ylokh_set_log_callback(0, _ffi.LOG_FN(), None))
        return

    def trampoline(_user_data: Optional[int], lvl: int, message: bytes, length: int) -> None:
        try:
            handler(lvl, ctypes.string_at(message, length).decode("utf-8", "replace"))
        except Exception:  # an exception must not cross into the library
            pass

    callback = _ffi.LOG_FN(trampoline)
    _log_callbacks.append(callback)
    _ffi.check(library.ylokh_set_log_callback(level, callback, None))
