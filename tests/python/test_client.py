"""ylokh.Client (examples/python, installed with pip by tests/python.rs) against the loopback test
server, whose address is in YLOKH_TEST_SERVER."""

import asyncio
import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest

import ylokh
from ylokh import Client, Conversation, YlokhError

from conftest import EXPECTED, MESSAGES, client, url


def echoed(result):
    """The request the echo scenario received: (headers text, body)."""
    head, body = result.text.split("\n\n", 1)
    return head.lower(), json.loads(body)




def test_pip_installed_the_package_with_its_own_library():
    # tests/python.rs runs pytest with no YLOKH_LIB and not from examples/python: the package
    # is the one pip installed, and the library the one pip built into it.
    assert "YLOKH_LIB" not in os.environ
    package = Path(ylokh.__file__).resolve().parent
    assert "site-packages" in package.parts, package
    assert Path(ylokh.library_path).parent == package, ylokh.library_path
    assert ylokh.version().startswith("0.")
    assert (package / "py.typed").exists()


def test_ylokh_lib_still_chooses_the_library(tmp_path):
    import subprocess

    show = "import ylokh; print(ylokh.library_path)"
    env = dict(os.environ, YLOKH_LIB=ylokh.library_path)
    out = subprocess.run([sys.executable, "-c", show], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ylokh.library_path
    env["YLOKH_LIB"] = str(tmp_path / "libylokh-missing.so")
    out = subprocess.run([sys.executable, "-c", show], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "libylokh-missing.so" in out.stderr and "ImportError" in out.stderr


def test_stream_gives_events_and_a_result():
    with client("stream") as c:
        stream = c.stream(MESSAGES)
        events = list(stream)
    assert [e.type for e in events[:-1]] == ["token"] * (len(events) - 1) and len(events) > 5
    assert "".join(e.text for e in events) == EXPECTED
    done = events[-1]
    assert done.type == "done" and done.result is stream.result
    assert done.result.text == EXPECTED and done.result.finish_reason == "length"
    assert done.result.http_status == 200 and done.result.tool_calls == ()
    assert done.result.message == {"role": "assistant", "content": EXPECTED}


def test_astream_gives_the_same_events():
    async def main():
        c = client("stream")
        return [e async for e in c.astream(MESSAGES)]

    events = asyncio.run(main())
    assert "".join(e.text for e in events) == EXPECTED and events[-1].type == "done"


def test_complete_and_acomplete_give_text_and_usage():
    c = client("nonstream")
    result = c.complete(MESSAGES)
    assert result.text == EXPECTED and result.finish_reason == "length"
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (29, 48, 77)
    assert asyncio.run(c.acomplete(MESSAGES)).text == EXPECTED


def test_timings_of_a_stream():
    result = client("stream").stream(MESSAGES).until_done()
    assert result.text == EXPECTED
    assert result.ttfb_ms is not None and result.ttft_ms is not None and result.ttft_ms >= result.ttfb_ms
    assert result.duration_ms is not None and result.duration_ms >= result.ttft_ms
    assert result.tokens_per_s is not None and result.tokens_per_s > 0
    assert (result.retries, result.resumes) == (0, 0)
    assert result.server_timings is not None and result.server_timings["predicted_n"] == 48


def test_usage_and_reasoning_of_a_stream():
    result = client("usageru").stream(MESSAGES).until_done()
    assert result.text.startswith("Привет") and result.total_tokens == 76
    events = list(client("reasoning").stream(MESSAGES))
    assert [(e.type, e.text) for e in events[:-1]] == [("reasoning", "think"), ("reasoning", "more"), ("token", "answer")]
    result = events[-1].result
    assert result.reasoning == "thinkmore" and result.text == "answer"
    assert (result.prompt_tokens, result.completion_tokens, result.total_tokens) == (5, 3, 8)


def test_model_params_kwargs_headers_and_key_reach_the_request():
    c = client("echo", api_key="sk-test-9", model="default-model", params={"temperature": 0.5, "top_p": 0.9},
               headers={"X-Trace": "abc"})
    head, body = echoed(c.complete(MESSAGES, params={"max_tokens": 7, "top_p": 0.1}, stop=["x"]))
    assert "authorization: bearer sk-test-9" in head and "x-trace: abc" in head
    assert body["model"] == "default-model" and body["stream"] is False and body["messages"] == MESSAGES
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["stop"]) == (0.5, 0.1, 7, ["x"])
    _, body = echoed(c.complete(MESSAGES, model="other"))
    assert body["model"] == "other"


def test_conversations_keep_every_kind_of_message():
    c = client("echo")
    conversation = Conversation(system="Be brief.").add("user", "Hi!")
    first = c.complete(conversation)
    conversation.add_result(first)
    assert conversation.messages[-1] == {"role": "assistant", "content": first.text}
    conversation.add("user", "And now?")
    _, body = echoed(c.complete(conversation))
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert body["messages"][2]["content"] == first.text
    # Every message goes into the request's conversation as it is (tool calls and results,
    # content parts).
    rich = [
        {"role": "user", "content": [{"type": "text", "text": "What is the weather?"}]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]
    _, body = echoed(c.complete(rich))
    assert body["messages"] == rich


def test_failures_raise_with_status_http_status_and_message():
    with pytest.raises(YlokhError) as info:
        client("503always", max_retries=0).complete(MESSAGES)
    e = info.value
    assert (e.status_name, e.http_status) == ("YLOKH_HTTP_STATUS", 503) and "busy" in e.message

    with pytest.raises(YlokhError) as info:
        list(client("truncated").stream(MESSAGES))
    assert (info.value.status_name, info.value.http_status) == ("YLOKH_INCOMPLETE", 200)

    async def drain():
        return [e async for e in client("unauthorized", api_key="sk-secret-1").astream(MESSAGES)]

    with pytest.raises(YlokhError) as info:
        asyncio.run(drain())
    assert info.value.http_status == 401 and "sk-secret-1" not in str(info.value)

    with pytest.raises(YlokhError) as info:
        Client(base_url="ftp://nowhere")
    assert info.value.status_name == "YLOKH_INVALID_ARGUMENT" and "ftp://nowhere" in info.value.message

    with pytest.raises(YlokhError) as info:
        Client(base_url="http://127.0.0.1:9/v1", max_retries=0).complete(MESSAGES)
    assert info.value.status_name == "YLOKH_CONNECT" and info.value.http_status == 0


def test_breaking_out_of_async_for_cancels_the_request(records):
    async def main():
        tokens = []
        async for event in client("trickle").astream(MESSAGES):
            tokens.append(event.text)
            if len(tokens) == 3:
                break
        return tokens

    started = time.monotonic()
    assert asyncio.run(main()) == ["t0 ", "t1 ", "t2 "]
    assert records.wait_for("request cancelled after")
    assert time.monotonic() - started < 5  # the trickle would last a minute


def test_cancelling_the_task_cancels_the_request(records):
    seen = []

    async def consume():
        async for event in client("trickle").astream(MESSAGES):
            seen.append(event.text)

    async def main():
        task = asyncio.create_task(consume())
        while len(seen) < 3 and not task.done():
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert records.wait_for("request cancelled after")


def test_a_timeout_around_astream_cancels_the_request(records):
    async def main():
        async with client("trickle").astream(MESSAGES) as stream:
            async for _ in stream:
                pass

    async def with_deadline():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(main(), 0.3)

    asyncio.run(with_deadline())
    assert records.wait_for("request cancelled after")


def test_closing_a_sync_stream_cancels_the_request(records):
    with client("trickle").stream(MESSAGES) as stream:
        assert next(stream).text == "t0 "
    assert records.wait_for("request cancelled after")


def test_the_event_loop_keeps_running_during_a_slow_stream():
    async def main():
        ticks = 0
        stop = False

        async def ticker():
            nonlocal ticks
            while not stop:
                await asyncio.sleep(0.01)
                ticks += 1

        task = asyncio.create_task(ticker())
        started = time.monotonic()
        async for _ in client("slowstart").astream(MESSAGES):
            pass  # nothing for 2 s, then one token
        elapsed = time.monotonic() - started
        stop = True
        await task
        return ticks, elapsed

    ticks, elapsed = asyncio.run(main())
    # A loop blocked while the stream waits ticks once or twice (when the token comes); a free
    # one about 200 times in the 2 s (fewer on a loaded machine, but far more than 20).
    assert ticks >= 20, (ticks, elapsed)


def test_a_hundred_concurrent_astreams_on_one_loop():
    c = client("stream")

    async def one():
        return "".join([e.text async for e in c.astream(MESSAGES)])

    async def main():
        return await asyncio.gather(*(one() for _ in range(100)))

    started = time.monotonic()
    assert asyncio.run(main()) == [EXPECTED] * 100
    elapsed = time.monotonic() - started
    print(f"100 concurrent astream(): {elapsed:.2f} s, {threading.active_count()} threads", file=sys.stderr)
    assert elapsed < 20


def test_a_hundred_concurrent_slow_astreams_all_progress_together():
    c = client("trickle")

    async def one():
        tokens = []
        async for e in c.astream(MESSAGES):
            tokens.append(e.text)
            if len(tokens) == 10:  # 10 tokens at 20 ms each: ~0.2 s when they run at once
                return tokens

    async def main():
        return await asyncio.gather(*(one() for _ in range(100)))

    started = time.monotonic()
    assert asyncio.run(main()) == [[f"t{i} " for i in range(10)]] * 100
    assert time.monotonic() - started < 15  # one after the other: 20 s


def test_api_dialects_and_tools():
    assert Client(base_url=url("stream"), api="chat").complete(MESSAGES, stream=True).text == EXPECTED
    with pytest.raises(YlokhError) as info:
        Client(base_url=url("stream"), api="nonsense")  # type: ignore[arg-type]
    assert info.value.status_name == "YLOKH_INVALID_ARGUMENT"
    # The same call over the other two wire APIs: only the option changes.
    for api, fixture, text in (
        ("responses", "responses-openai-text", "Hi there! How can I help?"),
        ("messages", "messages-tools", "Checking both cities."),
    ):
        c = Client(base_url=url(f"replay3-dialects.{fixture}"), api=api)  # type: ignore[arg-type]
        result = c.complete(MESSAGES, stream=True)
        assert result.text == text
        if api == "messages":
            assert [t.name for t in result.tool_calls] == ["get_weather", "get_weather"]
            assert result.tool_calls[0].parsed_arguments() == {"city": "Paris"}
            assert result.finish_reason == "tool_calls"


def test_tool_calls():
    tools = [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]
    events = list(client("toolcall").stream(MESSAGES, tools=tools))
    calls = [e.tool_call for e in events if e.type == "tool_call"]
    assert [(c.id, c.name, c.parsed_arguments()) for c in calls] == [("call_1", "weather", {"city": "Oslo"})]
    result = events[-1].result
    assert result.finish_reason == "tool_calls" and result.tool_calls == tuple(calls)
    assert result.message["tool_calls"][0]["function"]["name"] == "weather"


def test_the_provider_generators_yield_tool_calls_after_the_text(server):
    server("replay3-tools.textandtools")
    tools = [{"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}]
    items = list(ylokh.Ylokh.create_completion(model="", messages=[{"role": "user", "content": "time?"}], tools=tools))
    assert items[:2] == ["Checking ", "the \"clock\"…"]
    call = items[2]
    assert isinstance(call, ylokh.ToolCall)
    assert (call.id, call.name, call.parsed_arguments()) == ("call_t", "get_time", {})
    assert len(items) == 3

    async def collect() -> list:
        return [x async for x in ylokh.Ylokh.create_async_generator(
            model="", messages=[{"role": "user", "content": "time?"}], tools=tools)]

    assert asyncio.run(collect()) == items
