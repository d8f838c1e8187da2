"""What the tests in this directory share. tests/python.rs starts the loopback server
(tests/support/server.rs) and passes its address in YLOKH_TEST_SERVER; pytest loads this file
before the test modules, which import the helpers below (`from conftest import ...`) and get
the fixtures (`records`, `server`) by name. Nothing here needs YLOKH_TEST_SERVER until a test
asks for a URL, so real_server.py (the real-server tier, run without it) loads it too."""

import json
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List

import pytest

import ylokh

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
# The answer the loopback server's llama.cpp scenarios give (tests/fixtures).
EXPECTED = json.loads((FIXTURES / "llama-nonstream.json").read_text())["choices"][0]["message"]["content"]
MESSAGES: List[Dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Say hello in three languages."},
]

# The recorded tool loop of the `agentloop` scenario: one calc call, then the final answer.
TOOLS = [{"type": "function", "function": {
    "name": "calc", "description": "Computes a op b.",
    "parameters": {"type": "object", "properties": {
        "a": {"type": "number"}, "op": {"type": "string"}, "b": {"type": "number"}},
        "required": ["a", "op", "b"]}}}]
QUESTION = "What is 17 times 23?"
FINAL = "The answer: 17 times 23 is 391."


def calc(a: float, op: str, b: float) -> str:
    return str({"+": a + b, "-": a - b, "*": a * b, "/": a / b}[op])


def url(scenario: str) -> str:
    """The base URL of one scenario of the loopback server (its path picks the scenario)."""
    server = os.environ.get("YLOKH_TEST_SERVER")
    assert server, "YLOKH_TEST_SERVER is not set: run these tests through tests/python.rs"
    return f"{server}/{scenario}/v1"


def client(scenario: str, **kw: Any) -> ylokh.Client:
    return ylokh.Client(base_url=url(scenario), **kw)


class Records:
    """The library's log records, collected from its threads."""

    def __init__(self) -> None:
        self.lines: List[str] = []
        self.lock = threading.Lock()

    def __call__(self, level: int, message: str) -> None:
        with self.lock:
            self.lines.append(message)

    def count(self, text: str) -> int:
        with self.lock:
            return sum(text in line for line in self.lines)

    def wait_for(self, text: str, n: int = 1, seconds: float = 5.0) -> bool:
        deadline = time.monotonic() + seconds
        while self.count(text) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.count(text) >= n


@pytest.fixture
def records() -> Iterator[Records]:
    """The log records (DEBUG and up) while the test runs."""
    r = Records()
    ylokh.set_log_handler(r, level=4)
    yield r
    ylokh.set_log_handler(None)


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Points the binding at one scenario of the test server, as a user would: YLOKH_BASE_URL."""

    def use(scenario: str) -> None:
        monkeypatch.setenv("YLOKH_BASE_URL", url(scenario))

    return use
