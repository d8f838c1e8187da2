"""The tool loop against a real model: real_tool_loop.py BASE_URL chat|responses|messages.

tests/local_llm.rs runs it against llama-server with the Hermes 2 Pro tool-use template (its
comment says why step 1 carries an assistant prefill "<tool_call>\\n" and a required tool choice:
the 135M model writes no call otherwise). The loop is the README's: Client.stream with tools,
Conversation.add_result and add_tool_result. Prints each step; exit status 0 once an answer
without calls came after the tool results. (Not a pytest module: it has no test functions.)"""

import sys

import ylokh

TOOLS = [{"type": "function", "function": {"name": "calc", "description": "Calculate a op b", "parameters": {
    "type": "object", "properties": {"a": {"type": "number"}, "op": {"type": "string", "enum": ["+", "-", "*", "/"]},
                                     "b": {"type": "number"}}, "required": ["a", "op", "b"]}}}]
SYSTEM = "You are a helpful assistant. Use the tools."
QUESTION = "What is 17 times 23? Use the calc tool."


def calc(args: dict) -> str:
    a, op, b = float(args["a"]), args["op"], float(args["b"])
    return f"{ {'+': a + b, '-': a - b, '*': a * b, '/': a / b if b else 0.0}[op]:g}"


def main() -> int:
    url, api = sys.argv[1], sys.argv[2]
    client = ylokh.Client(base_url=url, api=api, max_retries=0, timeout=900)  # type: ignore[arg-type]

    def choice(required: bool) -> object:
        if api == "messages":
            return {"type": "any" if required else "auto"}
        return "required" if required else "auto"

    prefilled = ylokh.Conversation(system=SYSTEM).add("user", QUESTION).add("assistant", "<tool_call>\n")
    result = client.stream(prefilled, tools=TOOLS, tool_choice=choice(True), temperature=0, max_tokens=128).until_done()
    print(f"step 1: {len(result.tool_calls)} calls, finish {result.finish_reason}")
    if not result.tool_calls:
        return 1
    conversation = ylokh.Conversation(system=SYSTEM).add("user", QUESTION)
    for step in range(2, 5):
        conversation.add_result(result)
        for call in result.tool_calls:
            output = calc(call.parsed_arguments())
            print(f"  {call.name}({call.arguments}) = {output}")
            conversation.add_tool_result(call.id, output)
        result = client.stream(conversation, tools=TOOLS, tool_choice=choice(False), temperature=0,
                               max_tokens=48).until_done()
        print(f"step {step}: {len(result.tool_calls)} calls, finish {result.finish_reason}, text: {result.text}")
        if not result.tool_calls:
            if not result.text.strip():
                return 1
            print(f"final: {result.text}")
            return 0
    print("no final answer within 4 steps", file=sys.stderr)
    return 1


sys.exit(main())
