"""One start path (ylokh_chat_send with a conversation): the same tool loop, written once, against
the loopback server's `agentloop` scenario in each wire dialect, which refuses a second request
the way the real API does (a role:"tool" message to the Messages or Responses API, a result
without its call, ...). And the 0.2 options the Client gained: resume and the first-token
timeout. The server's address is in YLOKH_TEST_SERVER (tests/python.rs)."""

import asyncio
import json
import os
import time
from typing import Any, List, Tuple

import pytest

import ylokh
from ylokh import Client, Conversation, YlokhError

from conftest import FINAL, QUESTION, TOOLS, calc, url


def run_loop(client: Client, stream: bool, max_steps: int = 4) -> Tuple[int, str, List[Any]]:
    """The tool loop as a user writes it: send, run each call, add its result, send again."""
    conversation = Conversation(system="Use the calc tool.").add("user", QUESTION)
    calls: List[Any] = []
    for step in range(1, max_steps + 1):
        if stream:
            result = client.stream(conversation, tools=TOOLS).until_done()
        else:
            result = client.complete(conversation, tools=TOOLS)
        conversation.add_result(result)
        if not result.tool_calls:
            return step, result.text, calls
        for call in result.tool_calls:
            calls.append((call.name, call.parsed_arguments()))
            conversation.add_tool_result(call.id, calc(**call.parsed_arguments()))
    raise AssertionError(f"no final answer within {max_steps} steps")


@pytest.mark.parametrize("api", ["chat", "responses", "messages"])
@pytest.mark.parametrize("stream", [True, False])
def test_the_same_tool_loop_completes_in_every_dialect(api: str, stream: bool) -> None:
    client = Client(base_url=url("agentloop"), api=api)  # type: ignore[arg-type]
    steps, text, calls = run_loop(client, stream)
    assert (steps, text) == (2, FINAL)
    assert calls == [("calc", {"a": 17, "op": "*", "b": 23})]


@pytest.mark.parametrize("api", ["responses", "messages"])
def test_the_loopback_server_refuses_chat_format_tool_messages_sent_raw(api: str) -> None:
    # What the 0.2 package did with a history that had tool messages: the chat-format messages
    # as a raw "messages" body key. The server answers as the real API would.
    client = Client(base_url=url("agentloop"), api=api)  # type: ignore[arg-type]
    history = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "Let me compute that.", "tool_calls": [
            {"id": "call_calc_1", "type": "function", "function": {"name": "calc", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_calc_1", "content": "391"},
    ]
    with pytest.raises(YlokhError) as info:
        client.complete([history[0]], tools=TOOLS, params={"messages": history})
    assert info.value.http_status == 400


def test_the_async_loop_and_the_provider_generator_take_rich_histories(monkeypatch: pytest.MonkeyPatch) -> None:
    async def loop() -> str:
        client = Client(base_url=url("agentloop"), api="messages")
        conversation = Conversation().add("user", QUESTION)
        while True:
            result = await client.astream(conversation, tools=TOOLS).until_done()
            conversation.add_result(result)
            if not result.tool_calls:
                return result.text
            for call in result.tool_calls:
                conversation.add_tool_result(call.id, calc(**call.parsed_arguments()))

    assert asyncio.run(loop()) == FINAL
    # The seed's provider, over chat: a history with the call and its result, as dicts.
    monkeypatch.setenv("YLOKH_BASE_URL", url("agentloop"))
    history = [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "Let me compute that.", "tool_calls": [
            {"id": "call_calc_1", "type": "function", "function": {"name": "calc", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_calc_1", "content": "391"},
    ]
    assert "".join(str(x) for x in ylokh.Ylokh.create_completion("", history, tools=TOOLS)) == FINAL


def test_messages_must_be_dicts_with_a_role() -> None:
    client = Client(base_url=url("echo"))
    with pytest.raises(YlokhError) as info:
        client.complete([{"role": "user", "content": "hi"}, "hello"])  # type: ignore[list-item]
    assert info.value.status_name == "YLOKH_INVALID_ARGUMENT" and info.value.message.startswith("messages[1]")
    with pytest.raises(YlokhError) as info:
        client.complete([{"content": "no role"}])
    assert info.value.status_name == "YLOKH_INVALID_ARGUMENT" and info.value.message.startswith("messages[0]: ")


def resume_text() -> str:
    """tests/support/mod.rs resume_text(): what the resumable scenarios stream."""
    words = [" wörld", " 日本語", " 😀", " naïve", " plain"]
    return "".join(f"{words[i % 5]}{i}" for i in range(40))


def test_resume_carries_a_broken_stream_to_its_end() -> None:
    # The server cuts the stream after 500 bytes; with resume on, the library fetches the rest.
    resumed = Client(base_url=url("resume-500-py"), resume=True).complete(
        [{"role": "user", "content": "hi"}], stream=True)
    assert resumed.text == resume_text() and resumed.resumes == 1
    with pytest.raises(YlokhError) as info:
        Client(base_url=url("resume-500-py2"), max_retries=0).complete(
            [{"role": "user", "content": "hi"}], stream=True)
    assert info.value.status_name == "YLOKH_INCOMPLETE"


def test_the_first_token_timeout_ends_a_stalled_prefill() -> None:
    client = Client(base_url=url("stallfirst"), first_token_timeout=0.3, max_retries=0)
    started = time.monotonic()
    with pytest.raises(YlokhError) as info:
        client.complete([{"role": "user", "content": "hi"}], stream=True)
    assert info.value.status_name == "YLOKH_TIMEOUT"
    assert "first-token timeout" in info.value.message
    assert time.monotonic() - started < 10  # the scenario stays silent for 30 s
    # Long enough for a slow prefill (800 ms before the first token): it passes.
    slow = Client(base_url=url("slowprefill"), first_token_timeout=5.0)
    assert slow.complete([{"role": "user", "content": "hi"}], stream=True).text == "slow prefill done"


def test_every_request_sends_its_history_translated() -> None:
    # An image part and an assistant turn with a call, over Messages: translated into blocks.
    history = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}}]},
    ]
    result = Client(base_url=url("echomsg"), api="messages").complete(history)
    body = json.loads(result.text.split("\n\n", 1)[1])
    assert body["system"] == "Be brief." and "messages" in body
    assert body["messages"][0]["content"][1] == {
        "type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}}


def test_a_library_without_the_02_functions_is_refused_at_import() -> None:
    # The 0.1 fallbacks are gone: a library that lacks what every request needs is named at
    # import. libc stands in for such a library (it loads, and has none of them).
    import ctypes.util
    import subprocess
    import sys

    libc = ctypes.util.find_library("c")
    assert libc
    env = dict(os.environ, YLOKH_LIB=libc)
    out = subprocess.run([sys.executable, "-c", "import ylokh"], env=env, capture_output=True, text=True)
    assert out.returncode != 0
    assert "needs libylokh 0.2 or newer" in out.stderr and "ylokh_chat_send" in out.stderr, out.stderr
