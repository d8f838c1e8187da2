"""ylokh.Client against the real local llama.cpp server (examples/local-llm.sh start), whose base
URL is in YLOKH_LLM_URL. Run by tests/python.rs in the real-server tier only (this file is not
named test_*.py, so `pytest tests/python` does not collect it)."""

import asyncio
import json
import os
import time
import urllib.request

from ylokh import Client

URL = os.environ["YLOKH_LLM_URL"]
ROOT = URL[: -len("/v1")] if URL.endswith("/v1") else URL
QUESTION = [{"role": "user", "content": "Why is the sky blue?"}]


def slots_busy():
    with urllib.request.urlopen(f"{ROOT}/slots", timeout=5) as response:
        return sum(1 for slot in json.load(response) if slot.get("is_processing"))


def test_streamed_and_complete_answers_at_temperature_0_are_the_same():
    client = Client(base_url=URL, params={"temperature": 0, "seed": 1, "max_tokens": 32})
    streamed = client.stream(QUESTION).until_done()
    whole = client.complete(QUESTION)
    assert streamed.text and streamed.text == whole.text
    assert whole.finish_reason in ("stop", "length") and whole.completion_tokens and whole.completion_tokens > 0


def test_breaking_out_of_astream_frees_the_server_slot():
    async def main():
        client = Client(base_url=URL)
        n = 0
        async for event in client.astream(QUESTION, max_tokens=2000, temperature=1):
            n += event.type == "token"
            if n == 5:
                busy = slots_busy()
                break
        return busy

    assert asyncio.run(main()) == 1, "the server was generating when the loop was left"
    left = time.monotonic()
    while slots_busy() > 0:
        assert time.monotonic() - left < 10, "the server still generates 10 s after the cancel"
        time.sleep(0.02)


def test_four_concurrent_astreams_complete():
    client = Client(base_url=URL, params={"max_tokens": 16})

    async def main():
        return await asyncio.gather(*(client.astream(QUESTION).until_done() for _ in range(4)))

    results = asyncio.run(main())
    assert all(r.text and r.finish_reason in ("stop", "length") for r in results)
