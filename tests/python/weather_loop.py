"""The tool loop written once in Python: ask, run each get_weather call, add the assistant's
message (result.message, which keeps the reasoning and each call's extras the server needs
back) and the results, ask again, until an answer without calls. tests/python.rs runs it
against each provider of issue 20's table (tests/support/providers.rs).

    python weather_loop.py BASE_URL [API [MODEL]]     (API: chat, responses or messages)

YLOKH_PARAMS: default body keys (a JSON object). Prints each step and the final text; exits
non-zero on any error."""

import json
import os
import sys

import ylokh

TOOLS = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def get_weather(city: str) -> str:
    return "18°C, sunny" if city == "Paris" else f"no weather for {city}"


def main() -> int:
    base = sys.argv[1]
    api = sys.argv[2] if len(sys.argv) > 2 else "chat"
    model = sys.argv[3] if len(sys.argv) > 3 else None
    params = json.loads(os.environ.get("YLOKH_PARAMS") or "{}")
    with ylokh.Client(base, api_key="sk-test", model=model, api=api, params=params, max_retries=0) as client:  # type: ignore[arg-type]
        conversation = ylokh.Conversation().add("user", "Weather in Paris?")
        for step in range(1, 5):
            result = client.stream(conversation, tools=TOOLS).until_done()
            conversation.add_result(result)
            if not result.tool_calls:
                print(f"--- final answer after {step} steps:\n{result.text}")
                return 0
            for call in result.tool_calls:
                output = get_weather(call.parsed_arguments().get("city", ""))
                print(f"[tool call {call.id}] {call.name}({call.arguments}) -> {output}")
                conversation.add_tool_result(call.id, output)
    print("no final answer after 4 steps", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
