"""examples/repl.c driven through a pseudo-terminal, as a person at a terminal would: typed lines,
Ctrl-C mid-answer, Ctrl-C twice at the prompt. tests/python.rs compiles it and passes its path in
YLOKH_REPL."""

import os
import pty
import select
import signal
import time

import pytest

from conftest import EXPECTED, url

REPL = os.environ["YLOKH_REPL"]
DIM = "\x1b[2m"


class Terminal:
    def __init__(self, scenario, params=None):
        env = dict(os.environ, YLOKH_BASE_URL=url(scenario), TERM="xterm")
        env.pop("YLOKH_API_KEY", None)
        env.pop("YLOKH_MODEL", None)
        if params:
            env["YLOKH_PARAMS"] = params
        else:
            env.pop("YLOKH_PARAMS", None)
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(REPL, [REPL], env)
        self.out = ""

    def expect(self, text, timeout=10.0):
        """Reads until `text` has appeared after what earlier expects consumed; returns what came
        before it."""
        deadline = time.monotonic() + timeout
        while text not in self.out:
            left = deadline - time.monotonic()
            assert left > 0, f"waited {timeout} s for {text!r}; the terminal shows:\n{self.out}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                try:
                    data = os.read(self.fd, 65536)
                except OSError:
                    data = b""
                assert data, f"the REPL ended while waiting for {text!r}:\n{self.out}"
                self.out += data.decode("utf-8", "replace").replace("\r\n", "\n")
        before, _, self.out = self.out.partition(text)
        return before

    def send(self, text):
        os.write(self.fd, text.encode())

    def exit_status(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
            try:
                select.select([self.fd], [], [], 0.05)
                os.read(self.fd, 65536)
            except OSError:
                time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        pytest.fail("the REPL did not exit")


def test_an_answer_is_streamed_with_a_dim_stats_line_then_quit():
    t = Terminal("stream")
    t.expect("you> ")
    t.send("Say hello in three languages.\n")
    answer = t.expect(DIM)
    assert EXPECTED in answer
    stats = t.expect("\x1b[0m")
    assert " tokens, " in stats and " tokens/s" in stats and "finish: length" in stats, stats
    t.expect("you> ")
    t.send("/quit\n")
    assert t.exit_status() == 0


def test_usage_is_asked_for_and_shown():
    t = Terminal("usageru")  # a stream whose last chunk carries usage
    t.expect("you> ")
    t.send("Привет\n")
    t.expect(DIM)
    stats = t.expect("\x1b[0m")
    assert "usage: prompt " in stats and ", total " in stats, stats
    t.expect("you> ")
    t.send("/quit\n")
    assert t.exit_status() == 0


def test_history_system_model_and_reset_reach_the_server():
    # Not streamed, against a server that answers with the request it got.
    t = Terminal("echo", params='{"stream":false}')
    t.expect("you> ")
    t.send("first question\n")
    first = t.expect("you> ")
    assert '"content":"first question"' in first
    t.send("second question\n")
    second = t.expect("you> ")
    body = second[second.index("{"):]
    assert '"content":"first question"' in body and '"role":"assistant"' in body
    assert body.index("first question") < body.index("second question")
    t.send("/system Be terse.\n")
    t.expect("you> ")
    t.send("/model tiny-model\n")
    t.expect("you> ")
    t.send("third\n")
    third = t.expect("you> ")
    assert '"model":"tiny-model"' in third
    assert third.index('{"role":"system","content":"Be terse."}') < third.index("first question")
    t.send("/reset\n")
    t.expect("you> ")
    t.send("fourth\n")
    fourth = t.expect("you> ")
    assert "first question" not in fourth and '{"role":"system","content":"Be terse."}' in fourth
    t.send("\x04")  # Ctrl-D
    assert t.exit_status() == 0


def test_ctrl_c_cancels_the_answer_and_a_second_ctrl_c_at_the_prompt_quits():
    t = Terminal("trickle")  # a token every 20 ms, for a minute
    t.expect("you> ")
    t.send("go\n")
    t.expect("t3 ")
    started = time.monotonic()
    t.send("\x03")
    cancelled = t.expect("you> ", timeout=5)
    assert "[cancelled]" in cancelled and time.monotonic() - started < 3
    # The REPL still works, and the cut answer stays in the conversation.
    t.send("/model other\n")
    t.expect("(model: other)")
    t.expect("you> ")
    t.send("\x03")
    t.expect("Ctrl-C again")
    t.expect("you> ")
    t.send("\x03")
    assert t.exit_status() == 0
