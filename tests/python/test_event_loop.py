"""libylokh 0.3 through the Python package: astream() waits on the request's descriptor with
the event loop (no thread per waiting stream), and Client.embed()."""

import asyncio
import threading
from array import array

import pytest

from ylokh import YlokhError

from conftest import client

MESSAGES = [{"role": "user", "content": "Say hello in three languages."}]


def test_many_concurrent_astreams_wait_without_threads():
    # 1,000 streams that all wait at once (the server says nothing for 2 s): with a thread per
    # waiting stream, the process would gain about a thousand threads.
    c = client("slowstart")
    before = threading.active_count()
    peak = before

    async def one():
        return "".join([e.text async for e in c.astream(MESSAGES)])

    async def watch(stop):
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, threading.active_count())
            await asyncio.sleep(0.05)

    async def main():
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch(stop))
        texts = await asyncio.gather(*(one() for _ in range(1000)))
        stop.set()
        await watcher
        return texts

    assert asyncio.run(main()) == ["late"] * 1000
    assert peak - before < 10, f"{before} threads before, {peak} while 1,000 streams waited"
    c.close()


def test_astream_is_cancelled_while_it_waits_on_the_descriptor():
    c = client("slowstart")

    async def main():
        stream = c.astream(MESSAGES)
        task = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The loop does not watch a descriptor that was closed with the request.
        await asyncio.sleep(0.1)
        return "".join([e.text async for e in c.astream(MESSAGES)])

    assert asyncio.run(main()) == "late"


def test_embed_gives_one_float_array_per_input():
    c = client("emb")
    vectors = c.embed(["hello world", "Привет"])
    assert [type(v) for v in vectors] == [array, array]
    assert [list(v) for v in vectors] == [[11.0, 104.0, 0.5, 0.0], [12.0, 208.0, 0.5, -1.25]]
    one = c.embed("x", model="m", encoding_format="float")
    assert [list(v) for v in one] == [[1.0, 120.0, 0.5, 0.0]]
    memoryview(one[0]).cast("B")  # the buffer protocol: NumPy wraps it without a copy


def test_embed_raises_with_what_was_wrong():
    with pytest.raises(YlokhError) as e:
        client("emb-count").embed(["a", "b"])
    assert e.value.status_name == "YLOKH_PROTOCOL" and "1 vectors for 2 inputs" in e.value.message
    with pytest.raises(YlokhError) as e:
        client("emb-ctx").embed(["word " * 40])
    assert e.value.status_name == "YLOKH_HTTP_STATUS" and "exceeds the available context size" in e.value.message
