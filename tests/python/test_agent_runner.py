"""Client.run_tools (the library's agent runner, ylokh_agent_run) and McpSession from Python,
against the loopback server's `agentloop` scenario in each wire dialect and the fake MCP server
(tests/mcp/fake_server.c, built by tests/python.rs; its path in YLOKH_FAKE_MCP)."""

import os
import threading
from typing import Any, List

import pytest

from ylokh import AgentResult, Client, Conversation, McpSession, ToolCall, YlokhError

from conftest import FINAL, QUESTION, TOOLS, calc, url

FAKE = os.environ["YLOKH_FAKE_MCP"]


@pytest.mark.parametrize("api", ["chat", "responses", "messages"])
def test_run_tools_runs_a_python_function_in_every_dialect(api: str) -> None:
    client = Client(base_url=url("agentloop"), api=api)  # type: ignore[arg-type]
    conversation = Conversation().add("user", QUESTION)
    tokens: List[str] = []
    calls: List[ToolCall] = []
    steps: List[int] = []
    threads: List[int] = []

    def tool(a: float, op: str, b: float) -> str:
        threads.append(threading.get_ident())
        return calc(a, op, b)

    run = client.run_tools(conversation, tools=TOOLS, functions={"calc": tool}, on_token=tokens.append,
                           on_tool_call=calls.append, on_step=lambda step, result: steps.append(step))
    assert isinstance(run, AgentResult)
    assert (run.answered, run.steps, run.result.text) == (True, 2, FINAL)
    assert "".join(tokens) == "Let me compute that." + FINAL
    assert [c.name for c in calls] == ["calc"] and steps == [1]
    assert threads and threads[0] != threading.get_ident()  # the run's thread
    # The history: the question, the turn with the call, the result; not the final answer.
    assert [m["role"] for m in conversation] == ["user", "assistant", "tool"]
    assert conversation.messages[2]["content"] == "391"


def test_a_function_that_raises_is_an_error_result_the_model_sees() -> None:
    client = Client(base_url=url("agentloop"))

    def broken(**_: Any) -> str:
        raise ValueError("boom")

    history = [{"role": "user", "content": QUESTION}]
    run = client.run_tools(history, tools=TOOLS, functions={"calc": broken})
    assert run.answered and run.result.text == "The answer: 17 times 23 is Error: ValueError: boom."
    assert len(history) == 3  # a list is updated in place


def test_a_callback_that_raises_stops_the_run_and_is_raised() -> None:
    client = Client(base_url=url("agentloop"), api="messages")

    def stop(_: str) -> None:
        raise KeyError("stop here")

    with pytest.raises(KeyError):
        client.run_tools([{"role": "user", "content": QUESTION}], tools=TOOLS, functions={"calc": calc},
                         on_token=stop)


def test_max_steps_running_out_is_no_error() -> None:
    client = Client(base_url=url("agentloop"), api="responses")
    history = [{"role": "user", "content": QUESTION}]
    run = client.run_tools(history, tools=TOOLS, functions={"calc": calc}, max_steps=1)
    assert (run.answered, run.steps, len(history)) == (False, 1, 3)


def test_a_failing_turn_raises() -> None:
    client = Client(base_url=url("agentloop"), max_retries=0)
    with pytest.raises(YlokhError) as info:  # no tools: the server's 400
        client.run_tools([{"role": "user", "content": QUESTION}], functions={"calc": calc})
    assert info.value.http_status == 400


@pytest.mark.parametrize("api", ["chat", "responses", "messages"])
def test_run_tools_calls_an_mcp_servers_tool_in_every_dialect(api: str) -> None:
    client = Client(base_url=url("agentloop"), api=api)  # type: ignore[arg-type]
    with McpSession(client, argv=[FAKE], name="fake") as session:
        conversation = Conversation().add("user", QUESTION)
        run = client.run_tools(conversation, sessions=[session])
        assert (run.answered, run.result.text) == (True, FINAL)
        assert conversation.messages[2]["content"] == "391"  # the MCP server computed it


def test_mcp_session_lists_calls_and_reports_a_changed_tool_list() -> None:
    client = Client(base_url="http://127.0.0.1:9/v1")
    session = McpSession(client, argv=[FAKE], env={"FAKE_MCP_GREETING": "py "})
    names = [t["function"]["name"] for t in session.tools()]
    assert names[0] == "echo" and "calc" in names
    assert session.tools(prefix="fake")[0]["function"]["name"] == "fake_echo"
    assert session.call("echo", {"text": "hi"}).text == "py hi"
    failed = session.call("fail")
    assert failed.is_error and failed.text == "it broke"
    image = session.call("image")
    assert image.content[1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    with pytest.raises(YlokhError) as info:
        session.call("nope")
    assert info.value.status_name == "YLOKH_SERVER_ERROR"
    with pytest.raises(YlokhError) as info:
        session.call("slow", timeout=0.2)
    assert info.value.status_name == "YLOKH_TIMEOUT"
    assert not session.tools_changed
    session.call("change")
    for _ in range(200):
        if session.tools_changed:
            break
        threading.Event().wait(0.01)
    assert session.tools_changed
    with pytest.raises(YlokhError) as info:
        session.call("echo", {"text": "x"})
    assert info.value.status_name == "YLOKH_PROTOCOL"
    session.accept_tools()
    assert not session.tools_changed and session.call("echo", {"text": "y"}).text == "py y"
    session.close()
    with pytest.raises(YlokhError):
        session.tools()
    client.close()
