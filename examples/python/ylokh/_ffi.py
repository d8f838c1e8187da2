"""The C API through ctypes: finding and loading libylokh, its structs and signatures, and the
error type. Everything else in the package is built on what this module exports."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path
from typing import Any, Callable, List, Optional, Tuple

# Statuses and event kinds (include/ylokh.h).
OK, PENDING, INVALID_ARGUMENT, RECURSIVE_CALL = 0, 1, 2, 3
HTTP_STATUS, CANCELLED, INTERNAL = 7, 11, 13
EVENT_TOKEN, EVENT_REASONING, EVENT_CHUNK, EVENT_DONE = 1, 2, 3, 4
EVENT_TOOL_CALL = 5  # libylokh 0.2
FOREVER = 2**64 - 1
# The wire dialects of ylokh_options_set_api (libylokh 0.2).
APIS = {"chat": 1, "responses": 2, "messages": 3}


class Message(ctypes.Structure):
    _fields_ = [("role", ctypes.c_char_p), ("content", ctypes.c_char_p)]


_RESULT_01: List[Tuple[str, Any]] = [
    ("status", ctypes.c_uint32),
    ("http_status", ctypes.c_uint16),
    ("message", ctypes.c_char_p),
    ("finish_reason", ctypes.c_char_p),
    ("prompt_tokens", ctypes.c_int64),
    ("completion_tokens", ctypes.c_int64),
    ("total_tokens", ctypes.c_int64),
]


class Result(ctypes.Structure):
    """ylokh_result: the 0.1 members, then those libylokh 0.2 appends."""

    _fields_ = _RESULT_01 + [
        ("message_json", ctypes.c_char_p),
        ("n_tool_calls", ctypes.c_uint32),
        ("ttfb_ms", ctypes.c_int64),
        ("ttft_ms", ctypes.c_int64),
        ("duration_ms", ctypes.c_int64),
        ("tokens_per_s", ctypes.c_double),
        ("retries", ctypes.c_uint32),
        ("resumes", ctypes.c_uint32),
        ("server_timings_json", ctypes.c_char_p),
    ]


class ChatRequest(ctypes.Structure):
    """ylokh_chat_request (libylokh 0.2), for the pull interface: every callback NULL."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("model", ctypes.c_char_p),
        ("messages", ctypes.POINTER(Message)),
        ("n_messages", ctypes.c_size_t),
        ("conversation", ctypes.c_void_p),
        ("tools_json", ctypes.c_char_p),
        ("params_json", ctypes.c_char_p),
        ("stream", ctypes.c_bool),
        ("pull", ctypes.c_bool),
        ("user_data", ctypes.c_void_p),
        ("on_token", ctypes.c_void_p),
        ("on_reasoning", ctypes.c_void_p),
        ("on_chunk", ctypes.c_void_p),
        ("on_tool_call_delta", ctypes.c_void_p),
        ("on_tool_call", ctypes.c_void_p),
        ("on_done", ctypes.c_void_p),
    ]


class Event(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_uint32),
        ("text", ctypes.c_void_p),
        ("len", ctypes.c_size_t),
        ("result", ctypes.c_void_p),
    ]


class Embeddings(ctypes.Structure):
    """ylokh_embeddings (libylokh 0.3), library-allocated by ylokh_embed."""

    _fields_ = [
        ("count", ctypes.c_size_t),
        ("dimensions", ctypes.c_size_t),
        ("data", ctypes.POINTER(ctypes.c_float)),
        ("prompt_tokens", ctypes.c_int64),
        ("model", ctypes.c_char_p),
        ("http_status", ctypes.c_uint16),
    ]


LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint32, ctypes.c_char_p, ctypes.c_size_t)


def candidates() -> List[str]:
    """Where the library is looked for, in order: YLOKH_LIB; the copy built into this package
    (pip install); the libylokh checkout this package sits in (target/release, target/debug);
    the system's (ldconfig, an installed prefix)."""
    explicit = os.environ.get("YLOKH_LIB")
    if explicit:
        return [explicit]
    here = Path(__file__).resolve().parent
    found = sorted(str(p) for p in here.glob("libylokh*.so"))
    root = here.parents[1]
    if (root / "Cargo.toml").exists():
        for profile in ("release", "debug"):
            candidate = root / "target" / profile / "libylokh.so"
            if candidate.exists():
                found.append(str(candidate))
    system = ctypes.util.find_library("ylokh")
    found.append(system or "libylokh.so.0")
    return found


def _load() -> Tuple[ctypes.CDLL, str]:
    paths = candidates()
    path = paths[0]
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        raise ImportError(
            f"libylokh not found ({path}): install the release wheel (`pip install "
            "ylokh-*.whl`, the library inside) or this package with `pip install "
            "./examples/python` from a libylokh checkout (it builds the library into the "
            "package), install libylokh (libylokh.so.0), or set YLOKH_LIB to the path of "
            "libylokh.so"
        ) from e
    P, U32, U64, STR, SZ = ctypes.c_void_p, ctypes.c_uint32, ctypes.c_uint64, ctypes.c_char_p, ctypes.c_size_t
    signatures = {
        "ylokh_options_new": ([], P),
        "ylokh_options_new_compatible": ([STR], P),
        "ylokh_options_free": ([P], None),
        "ylokh_options_set_api_key": ([P, STR], U32),
        "ylokh_options_set_header": ([P, STR, STR], U32),
        "ylokh_options_set_proxy": ([P, STR], U32),
        "ylokh_options_set_timeout_ms": ([P, U64], U32),
        "ylokh_options_set_max_retries": ([P, U32], U32),
        "ylokh_options_set_default_model": ([P, STR], U32),
        "ylokh_options_set_default_params": ([P, STR], U32),
        "ylokh_client_new": ([P, ctypes.POINTER(P)], U32),
        "ylokh_client_free": ([P], None),
        "ylokh_request_next": ([P, U64, ctypes.POINTER(Event)], U32),
        "ylokh_request_cancel": ([P], U32),
        "ylokh_request_free": ([P], None),
        "ylokh_status_str": ([U32], STR),
        "ylokh_last_error": ([], STR),
        "ylokh_version": ([], STR),
        "ylokh_set_log_callback": ([U32, LOG_FN, P], U32),
        # libylokh 0.2, which this package needs: every request starts through ylokh_chat_send
        # with a conversation.
        "ylokh_options_set_api": ([P, U32], U32),
        "ylokh_options_set_resume": ([P, ctypes.c_bool], U32),
        "ylokh_options_set_first_token_timeout_ms": ([P, U64], U32),
        "ylokh_chat_send": ([P, ctypes.POINTER(ChatRequest), ctypes.POINTER(P)], U32),
        "ylokh_conversation_new": ([], P),
        "ylokh_conversation_free": ([P], None),
        "ylokh_conversation_add_json": ([P, STR], U32),
        # libylokh 0.3.
        "ylokh_request_fd": ([P], ctypes.c_int),
        "ylokh_embed": ([P, STR, ctypes.POINTER(STR), SZ, STR, ctypes.POINTER(ctypes.POINTER(Embeddings))], U32),
        "ylokh_embeddings_free": ([ctypes.POINTER(Embeddings)], None),
    }
    missing = [name for name in signatures if not hasattr(lib, name)]
    if missing:
        version = lib.ylokh_version() if hasattr(lib, "ylokh_version") else None
        raise ImportError(
            f"libylokh at {path} is too old for this package (version "
            f"{version.decode() if version else 'unknown'}; it lacks {', '.join(missing)}): this "
            "package needs libylokh 0.2 or newer. Install it from the same libylokh checkout "
            "(`pip install ./examples/python` builds the library into the package), or point "
            "YLOKH_LIB at a newer libylokh.so"
        )
    for name, (args, result) in signatures.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = result
    return lib, path


library, library_path = _load()


def has(symbol: str) -> bool:
    """Whether the loaded library exports `symbol` (e.g. a function newer than 0.2)."""
    return hasattr(library, symbol)


def version() -> str:
    """The loaded library's version, e.g. "0.1.0"."""
    return str(library.ylokh_version().decode())


def status_name(status: int) -> str:
    return str(library.ylokh_status_str(status).decode())


class YlokhError(Exception):
    """A failed call or request: `status` (a YLOKH_* number), `status_name`, `http_status`
    (0 when no HTTP response arrived) and `message` (what happened and what to do)."""

    status: int
    status_name: str
    http_status: int
    message: str

    def __init__(self, status: int, message: str, http_status: int = 0):
        self.status = status
        self.status_name = status_name(status)
        self.http_status = http_status
        self.message = message
        super().__init__(f"{self.status_name}: {message}")

    @classmethod
    def last(cls, status: int) -> "YlokhError":
        """The error of the last failed call on this thread (ylokh_last_error)."""
        text = library.ylokh_last_error()
        return cls(status, text.decode("utf-8", "replace") if text else "")


def check(status: int) -> None:
    if status != OK:
        raise YlokhError.last(status)


def _header_step(opts: int, name: str, value: Optional[str]) -> Callable[[], Any]:
    return lambda: library.ylokh_options_set_header(opts, name.encode(), value.encode() if value is not None else None)


def new_client(
    base_url: Optional[str],
    *,
    api_key: Optional[str] = None,
    model: Optional[str] = None,
    api: Optional[str] = None,
    proxy: Optional[str] = None,
    timeout: Optional[float] = None,
    max_retries: Optional[int] = None,
    headers: Optional[List[Tuple[str, Optional[str]]]] = None,
    default_params_json: Optional[str] = None,
    resume: bool = False,
    first_token_timeout: Optional[float] = None,
) -> int:
    """Options, then a client (an opaque handle to free with ylokh_client_free). `base_url`
    None: the Ylokh preset; else an OpenAI-compatible server."""
    api_value: Optional[int] = None
    if api is not None:
        if api not in APIS:
            raise YlokhError(INVALID_ARGUMENT, f"api must be one of {', '.join(APIS)}, not {api!r}")
        api_value = APIS[api]
    opts = library.ylokh_options_new_compatible(base_url.encode()) if base_url else library.ylokh_options_new()
    if not opts:
        raise YlokhError.last(INVALID_ARGUMENT)
    try:
        steps: List[Callable[[], Any]] = []
        if api_key:
            steps.append(lambda: library.ylokh_options_set_api_key(opts, api_key.encode()))
        if model:
            steps.append(lambda: library.ylokh_options_set_default_model(opts, model.encode()))
        if api_value is not None:
            steps.append(lambda: library.ylokh_options_set_api(opts, api_value))
        if proxy:
            steps.append(lambda: library.ylokh_options_set_proxy(opts, proxy.encode()))
        if timeout is not None:
            ms = max(0, int(timeout * 1000))
            steps.append(lambda: library.ylokh_options_set_timeout_ms(opts, ms))
        if max_retries is not None:
            steps.append(lambda: library.ylokh_options_set_max_retries(opts, max_retries))
        if resume:
            steps.append(lambda: library.ylokh_options_set_resume(opts, True))
        if first_token_timeout is not None:
            first_ms = max(0, int(first_token_timeout * 1000))
            steps.append(lambda: library.ylokh_options_set_first_token_timeout_ms(opts, first_ms))
        for name, value in headers or []:
            steps.append(_header_step(opts, name, value))
        if default_params_json is not None:
            steps.append(lambda: library.ylokh_options_set_default_params(opts, default_params_json.encode()))
        for step in steps:
            check(step())
        client = ctypes.c_void_p()
        check(library.ylokh_client_new(opts, ctypes.byref(client)))
    finally:
        library.ylokh_options_free(opts)
    assert client.value is not None
    return client.value
