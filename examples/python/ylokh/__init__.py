"""libylokh from Python: stream chat completions from OpenAI-compatible servers through the
library's C API (ctypes; the library is built into this package by `pip install`).

Two interfaces:

- the seed's, gpt4free's `Ylokh` provider: `Ylokh.create_async_generator(model, messages,
  stream=True, proxy=None, timeout=120, **kwargs)` and its synchronous twin
  `Ylokh.create_completion(...)`, with the server in YLOKH_BASE_URL / YLOKH_API_KEY;
- `Client(base_url=..., api_key=..., model=..., api="chat")` with `stream()` (an iterator of
  Events), `astream()` (an async iterator), `complete()` / `acomplete()` (a Result), message
  histories as lists of dicts or a `Conversation`, and tool calls; `run_tools()`, the whole tool
  loop through the library's agent runner, with Python functions and `McpSession`s (MCP
  servers' tools, libylokh 0.3).

Every request starts through ylokh_chat_send with the history as a conversation (each message
dict as given), so tool loops, images and reasoning work over every wire dialect. The package
needs libylokh 0.2 or newer.

Every failure raises YlokhError (status, status_name, http_status, message).

The library: YLOKH_LIB (a path to libylokh.so) when set; else the copy built into this package;
else the libylokh checkout this package sits in (target/release, target/debug); else the
system's (libylokh.so.0). Threads: the library's threads never call into Python (except a log
handler, if set with set_log_handler, and run_tools' functions and callbacks); waiting for events happens in ctypes calls that release
the GIL.
"""

from ._client import (Api, AsyncStream, Client, Conversation, Event, EventType, Messages, Result, Stream,
                      ToolCall)
from ._ffi import YlokhError, has, library, library_path, version
from ._seed import Ylokh, set_log_handler
from ._mcp import McpSession, ToolResult
from ._agent import AgentResult

__all__ = [
    "AgentResult", "Api", "AsyncStream", "Client", "Conversation", "Event", "EventType", "Messages", "Result", "Stream",
    "ToolCall", "Ylokh", "YlokhError", "has", "library", "library_path", "McpSession", "set_log_handler", "ToolResult", "version",
]
__version__ = "0.3.0"
