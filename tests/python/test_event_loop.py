"""libylokh 0.3 through the Python package: astream() waits on the request's descriptor with
the event loop (no thread per waiting stream), and Client.embed()."""

import asyncio
import threading
from array import array

import pytest

from ylokh import YlokhError

from conftest import EXPECTED, client

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


def test_a_stream_keeps_its_watch_from_token_to_token_and_removes_it_when_it_ends():
    # A token every 20 ms: each wait finds nothing at first and waits on the descriptor. The
    # watch stays added between tokens (no epoll_ctl per token), and it is gone once the stream
    # is closed, by aclose() or by dropping the stream mid-way.
    c = client("trickle")

    async def main():
        loop = asyncio.get_running_loop()
        added = []
        add_reader = loop.add_reader

        def counting(fd, callback, *args):
            added.append(fd)
            return add_reader(fd, callback, *args)

        loop.add_reader = counting
        stream = c.astream(MESSAGES)
        tokens = 0
        async for event in stream:
            tokens += event.type == "token"
            if tokens == 20:
                break
        fd = added[0]
        watched_while_open = fd in loop._selector.get_map()
        await stream.aclose()
        watched_after_aclose = fd in loop._selector.get_map()
        dropped = c.astream(MESSAGES)
        async for event in dropped:
            break
        fd2 = added[-1]
        del dropped, event
        import gc
        gc.collect()
        return tokens, len(added), watched_while_open, watched_after_aclose, fd2 in loop._selector.get_map()

    tokens, adds, open_, after_aclose, after_drop = asyncio.run(main())
    assert tokens == 20
    assert adds <= 4, f"the descriptor was added {adds} times for 20 tokens and one more stream"
    assert open_ and not after_aclose and not after_drop


def test_a_stream_closed_from_another_thread_while_the_loop_waits():
    c = client("trickle")

    async def main():
        stream = c.astream(MESSAGES)
        first = await stream.__anext__()
        request = stream._request
        closer = threading.Thread(target=request.close)
        closer.start()
        # The loop removes the watch, then frees the request: soon, later on a loaded machine.
        for _ in range(3000):
            await asyncio.sleep(0.01)
            if request._req is None:
                break
        closer.join()
        assert request._req is None and request.watch is None
        return first.text, "".join([e.text async for e in client("stream").astream(MESSAGES)])

    first, text = asyncio.run(main())
    assert first == "t0 " and text == EXPECTED


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
