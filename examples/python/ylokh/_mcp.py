"""MCP sessions (libylokh 0.3, ylokh_mcp_connect): an MCP server's tools over stdio or
Streamable HTTP, listed as chat-format tools and callable; also what Client.run_tools offers the
model."""

from __future__ import annotations

import ctypes
import json
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Type

from . import _ffi
from ._ffi import YlokhError, library

if TYPE_CHECKING:
    from ._client import Client


class _Server(ctypes.Structure):
    """ylokh_mcp_server."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("name", ctypes.c_char_p),
        ("argv", ctypes.POINTER(ctypes.c_char_p)),
        ("argc", ctypes.c_size_t),
        ("env", ctypes.POINTER(ctypes.c_char_p)),
        ("n_env", ctypes.c_size_t),
        ("url", ctypes.c_char_p),
        ("headers", ctypes.POINTER(ctypes.c_char_p)),
        ("n_headers", ctypes.c_size_t),
        ("connect_timeout_ms", ctypes.c_uint64),
    ]


class _ToolResult(ctypes.Structure):
    """ylokh_tool_result."""

    _fields_ = [
        ("text", ctypes.c_void_p),
        ("text_len", ctypes.c_size_t),
        ("is_error", ctypes.c_bool),
        ("content_json", ctypes.c_char_p),
        ("structured_json", ctypes.c_char_p),
    ]


P, U64, STR = ctypes.c_void_p, ctypes.c_uint64, ctypes.c_char_p
_SIGNATURES = {
    "ylokh_mcp_connect": ([P, ctypes.POINTER(_Server), ctypes.POINTER(P)], ctypes.c_uint32),
    "ylokh_mcp_session_tools": ([P, STR, U64, ctypes.POINTER(STR)], ctypes.c_uint32),
    "ylokh_mcp_session_tools_changed": ([P], ctypes.c_bool),
    "ylokh_mcp_session_accept_tools": ([P, U64], ctypes.c_uint32),
    "ylokh_mcp_session_call": ([P, STR, STR, U64, ctypes.POINTER(ctypes.POINTER(_ToolResult))], ctypes.c_uint32),
    "ylokh_tool_result_free": ([ctypes.POINTER(_ToolResult)], None),
    "ylokh_mcp_session_free": ([P], None),
}
for _name, (_args, _result) in _SIGNATURES.items():
    if _ffi.has(_name):
        _fn = getattr(library, _name)
        _fn.argtypes = _args
        _fn.restype = _result


def _ms(seconds: float) -> int:
    return max(1, int(seconds * 1000))


def _strings(items: Sequence[str]) -> "ctypes.Array[ctypes.c_char_p]":
    return (ctypes.c_char_p * max(1, len(items)))(*[s.encode() for s in items])


@dataclass(frozen=True)
class ToolResult:
    """What an MCP tool call gave: its text, whether the server marked it an error, every
    content block as a chat content part, and the structuredContent (or None)."""

    text: str
    is_error: bool
    content: List[Dict[str, Any]]
    structured: Optional[Any]


class McpSession:
    """An MCP server's session (libylokh 0.3). Either `argv` (a program started over stdio,
    with `env` added to this process's environment) or `url` (Streamable HTTP, with `headers`;
    their values never reach a message or a log record). Blocking calls (the GIL is released
    while they wait), one thread at a time. close() (or `with`) ends it and kills a stdio
    server; close every session before its client.

        with McpSession(client, argv=["mcp-server-time"]) as time_server:
            print(time_server.tools())
            print(time_server.call("get_current_time", {"timezone": "Asia/Tokyo"}).text)
    """

    def __init__(self, client: "Client", *, argv: Optional[Sequence[str]] = None,
                 env: Optional[Mapping[str, str]] = None, url: Optional[str] = None,
                 headers: Optional[Mapping[str, str]] = None, name: Optional[str] = None,
                 connect_timeout: float = 30.0):
        self._session: Optional[int] = None
        if not _ffi.has("ylokh_mcp_connect"):
            raise YlokhError(_ffi.INVALID_ARGUMENT, f"McpSession needs libylokh 0.3 (the loaded library is {_ffi.version()})")
        handle = client._client  # noqa: SLF001 (the package's own handle)
        if handle is None:
            raise YlokhError(_ffi.INVALID_ARGUMENT, "the client is closed")
        args = list(argv or [])
        env_items = [f"{k}={v}" for k, v in (env or {}).items()]
        header_items = [f"{k}: {v}" for k, v in (headers or {}).items()]
        c_argv, c_env, c_headers = _strings(args), _strings(env_items), _strings(header_items)
        server = _Server(struct_size=ctypes.sizeof(_Server), name=name.encode() if name else None,
                         argv=c_argv if args else None, argc=len(args),
                         env=c_env if env_items else None, n_env=len(env_items),
                         url=url.encode() if url else None,
                         headers=c_headers if header_items else None, n_headers=len(header_items),
                         connect_timeout_ms=_ms(connect_timeout))
        out = ctypes.c_void_p()
        _ffi.check(library.ylokh_mcp_connect(handle, ctypes.byref(server), ctypes.byref(out)))
        self._session = out.value
        self._client = client  # the session must not outlive its client

    @property
    def handle(self) -> int:
        if self._session is None:
            raise YlokhError(_ffi.INVALID_ARGUMENT, "the MCP session is closed")
        return self._session

    def tools(self, prefix: Optional[str] = None, timeout: float = 30.0) -> List[Dict[str, Any]]:
        """The server's tools as chat-format tool definitions (names "PREFIX_NAME" with a prefix)."""
        out = ctypes.c_char_p()
        _ffi.check(library.ylokh_mcp_session_tools(self.handle, prefix.encode() if prefix else None, _ms(timeout),
                                                   ctypes.byref(out)))
        tools: List[Dict[str, Any]] = json.loads((out.value or b"[]").decode())
        return tools

    @property
    def tools_changed(self) -> bool:
        """Whether the tool list changed since it was accepted; calls fail until accept_tools()."""
        return bool(library.ylokh_mcp_session_tools_changed(self.handle))

    def accept_tools(self, timeout: float = 30.0) -> None:
        """Lists the tools again and accepts that list (calls go through again)."""
        _ffi.check(library.ylokh_mcp_session_accept_tools(self.handle, _ms(timeout)))

    def call(self, tool: str, arguments: Optional[Mapping[str, Any]] = None, timeout: float = 30.0) -> ToolResult:
        """Calls `tool` (its name on the server). A result the server marks an error is returned
        (is_error); no answer raises YlokhError (YLOKH_TIMEOUT, YLOKH_CONNECT: the server is gone,
        YLOKH_SERVER_ERROR: e.g. an unknown tool, YLOKH_PROTOCOL: the tool list changed)."""
        out = ctypes.POINTER(_ToolResult)()
        _ffi.check(library.ylokh_mcp_session_call(self.handle, tool.encode(), json.dumps(dict(arguments or {})).encode(),
                                                  _ms(timeout), ctypes.byref(out)))
        try:
            r = out.contents
            text = ctypes.string_at(r.text, r.text_len).decode("utf-8", "replace") if r.text else ""
            content = json.loads(r.content_json.decode()) if r.content_json else []
            structured = json.loads(r.structured_json.decode()) if r.structured_json else None
            return ToolResult(text=text, is_error=bool(r.is_error), content=content, structured=structured)
        finally:
            library.ylokh_tool_result_free(out)

    def close(self) -> None:
        """Ends the session (a stdio server is killed with its children). An agent run still
        using it keeps it until the run ends."""
        session, self._session = self._session, None
        if session is not None:
            library.ylokh_mcp_session_free(session)

    def __enter__(self) -> "McpSession":
        return self

    def __exit__(self, t: Optional[Type[BaseException]], e: Optional[BaseException], tb: Optional[TracebackType]) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()
