"""Python's astream() under load, for benches/main.rs (BENCH_ONLY=eventloop):
    astream.py BASE_URL N MODE
N concurrent astream()s on one asyncio loop against the trickle stream (100 tokens, one every
20 ms). MODE "fd": as the package does with libylokh 0.3 (the loop watches each request's
descriptor); "thread": as it did before (a worker thread waits for each waiting stream).
Prints one line of key=value pairs: streams, tokens, wall_ns, cpu_ns (user + system, the whole
process), peak_kib (ru_maxrss), threads (the most seen at once)."""

import asyncio
import resource
import sys
import threading
import time

import ylokh
from ylokh import _request

url, n, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # a socket and a descriptor per stream
if mode == "fd" and hard != resource.RLIM_INFINITY and 2 * n + 64 > hard:
    n = (hard - 64) // 2  # as many as the hard limit allows; printed as streams=
if mode == "thread":
    _request.PulledRequest.fd = lambda self: None  # type: ignore[method-assign]
client = ylokh.Client(base_url=url, timeout=600)
peak = threading.active_count()


async def one() -> int:
    tokens = 0
    async for event in client.astream([{"role": "user", "content": "Why is the sky blue?"}], model="bench"):
        tokens += event.type == "token"
    return tokens


async def watch() -> None:
    global peak
    while True:
        peak = max(peak, threading.active_count())
        await asyncio.sleep(0.02)


async def main() -> int:
    watcher = asyncio.create_task(watch())
    counts = await asyncio.gather(*(one() for _ in range(n)))
    watcher.cancel()
    return sum(counts)


started = time.monotonic_ns()
tokens = asyncio.run(main())
wall = time.monotonic_ns() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = round((usage.ru_utime + usage.ru_stime) * 1e9)
print(f"streams={n} tokens={tokens} wall_ns={wall} cpu_ns={cpu} "
      f"peak_kib={usage.ru_maxrss} threads={peak}")
