"""examples/python/ylokh.py against the loopback test server (started by tests/python.rs, which
passes its address in YLOKH_TEST_SERVER and the library in YLOKH_LIB)."""

import asyncio
import json
import time

import pytest

from ylokh import Ylokh, YlokhError

from conftest import EXPECTED, MESSAGES




# The seed's first usage example, streaming.
def test_seed_example_streaming(server, capsys):
    server("stream")

    async def main():
        messages = [{"role": "user", "content": "Привет, как дела?"}]
        async for token in Ylokh.create_async_generator(model="gpt-3.5-turbo", messages=messages):
            print(token, end="")

    asyncio.run(main())
    assert capsys.readouterr().out == EXPECTED


# The seed's second usage example, not streaming.
def test_seed_example_not_streaming(server, capsys):
    server("nonstream")

    async def main():
        messages = [{"role": "user", "content": "Привет, как дела?"}]
        result = [token async for token in Ylokh.create_async_generator(model="gpt-3.5-turbo", messages=messages, stream=False)]
        print("".join(result))

    asyncio.run(main())
    assert capsys.readouterr().out == EXPECTED + "\n"


def test_the_sync_twin_gives_the_same_tokens(server):
    server("stream")
    tokens = list(Ylokh.create_completion("", MESSAGES))
    assert len(tokens) > 5 and "".join(tokens) == EXPECTED
    server("nonstream")
    assert list(Ylokh.create_completion("", MESSAGES, stream=False)) == [EXPECTED]


def test_kwargs_model_and_stream_go_into_the_body(server):
    server("echo")
    text = "".join(Ylokh.create_completion("my-model", MESSAGES, stream=False, max_tokens=5, temperature=0.25, stop=["x"]))
    body = json.loads(text.split("\n\n", 1)[1])
    assert body["model"] == "my-model" and body["stream"] is False
    assert body["max_tokens"] == 5 and body["temperature"] == 0.25 and body["stop"] == ["x"]
    assert body["messages"] == MESSAGES


def test_the_api_key_is_sent_and_the_attributes_are_the_seeds(server, monkeypatch):
    server("echo")
    monkeypatch.setenv("YLOKH_API_KEY", "sk-test-123")
    text = "".join(Ylokh.create_completion("", MESSAGES, stream=False))
    assert "authorization: bearer sk-test-123" in text.lower()
    assert Ylokh.supports_message_history and Ylokh.supports_gpt_35_turbo
    assert Ylokh.url == "https://chat.ylokh.xyz"


def test_failures_raise_with_status_http_status_and_message(server):
    server("503always")

    async def drain():
        return [t async for t in Ylokh.create_async_generator("", MESSAGES, timeout=30)]

    with pytest.raises(YlokhError) as info:
        asyncio.run(drain())
    e = info.value
    assert e.status_name == "YLOKH_HTTP_STATUS" and e.http_status == 503 and e.message
    assert str(e).startswith("YLOKH_HTTP_STATUS: ")

    server("truncated")
    with pytest.raises(YlokhError) as info:
        list(Ylokh.create_completion("", MESSAGES))
    assert info.value.status_name == "YLOKH_INCOMPLETE" and info.value.http_status == 200

    server("stream")
    with pytest.raises(YlokhError) as info:
        list(Ylokh.create_completion("", MESSAGES, proxy="ftp://nowhere"))
    assert info.value.status_name == "YLOKH_INVALID_ARGUMENT"


def test_aclose_cancels_the_request(server, records):
    server("trickle")

    async def main():
        agen = Ylokh.create_async_generator("", MESSAGES)
        tokens = [await agen.__anext__(), await agen.__anext__()]
        await agen.aclose()
        return tokens

    started = time.monotonic()
    assert asyncio.run(main()) == ["t0 ", "t1 "]
    assert records.wait_for("request cancelled after")
    assert time.monotonic() - started < 5  # the trickle would last a minute


def test_cancelling_the_task_cancels_the_request(server, records):
    server("trickle")
    seen = []

    async def consume():
        async for token in Ylokh.create_async_generator("", MESSAGES):
            seen.append(token)

    async def main():
        task = asyncio.create_task(consume())
        while len(seen) < 3:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    before = records.count("request cancelled after")
    asyncio.run(main())
    assert records.wait_for("request cancelled after", before + 1)


def test_closing_the_sync_generator_cancels_the_request(server, records):
    server("trickle")
    gen = Ylokh.create_completion("", MESSAGES)
    assert next(gen) == "t0 "
    gen.close()
    assert records.wait_for("request cancelled after")


def test_many_generators_at_once_on_one_loop(server):
    server("stream")

    async def one():
        return "".join([t async for t in Ylokh.create_async_generator("", MESSAGES)])

    async def main():
        return await asyncio.gather(*(one() for _ in range(20)))

    assert asyncio.run(main()) == [EXPECTED] * 20
