"""The official openai Python SDK draining the benchmark's stream: the figure a Python user gets.

python openai_sdk.py BASE_URL  ->  tokens=N bytes=B wall_ns=T
"""

import sys
import time

from openai import OpenAI


def main() -> None:
    client = OpenAI(base_url=sys.argv[1], api_key="bench", max_retries=0)
    tokens = 0
    size = 0
    start = time.perf_counter_ns()
    stream = client.chat.completions.create(
        model="bench",
        messages=[{"role": "user", "content": "Why is the sky blue?"}],
        stream=True,
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            tokens += 1
            size += len(chunk.choices[0].delta.content.encode())
    wall = time.perf_counter_ns() - start
    print(f"tokens={tokens} bytes={size} wall_ns={wall}")


if __name__ == "__main__":
    main()
