"""``run_forked``: a call in a child process that Ctrl-C, a timeout or a crash cannot take the caller down with."""

import os
import signal
import sys
import time

import pytest

from kgtransfer.errors import KGTransferError, RDFSyntaxError
from kgtransfer.isolated import StoppedError, run_forked

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def test_the_result_and_the_exceptions_of_the_call_come_back():
    big = list(range(200_000))  # more than a pipe holds at once
    assert run_forked(lambda: big, "sum") == big
    with pytest.raises(ValueError, match="bad value"):
        run_forked(lambda: int("bad value"), "parse")


def test_an_error_whose_constructor_takes_other_arguments_keeps_its_message():
    def fail():
        raise RDFSyntaxError("unexpected end", "data.ttl")

    with pytest.raises(KGTransferError, match="unexpected end"):
        run_forked(fail, "load")


def test_a_call_past_its_timeout_is_stopped():
    began = time.perf_counter()
    with pytest.raises(StoppedError, match=r"q\.rq: did not finish within 0\.5 s"):
        run_forked(lambda: time.sleep(30), "q.rq", timeout=0.5)
    assert time.perf_counter() - began < 10


def test_a_crash_is_an_error_naming_the_call():
    with pytest.raises(StoppedError, match=r"q\.rq: its process ended without an answer \(exit code -11\)"):
        run_forked(lambda: os.kill(os.getpid(), signal.SIGSEGV), "q.rq")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_child_dies_with_its_caller():
    """`kill` of the CLI left the query's child running at 100% CPU, adopted by init."""
    import subprocess

    code = (
        "import os, time\n"
        "from kgtransfer.isolated import run_forked\n"
        "run_forked(lambda: (print(os.getpid(), flush=True), time.sleep(60)), 'q')\n"
    )
    caller = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    child = int(caller.stdout.readline())
    caller.kill()
    caller.wait()
    for _ in range(100):
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        with open(f"/proc/{child}/stat") as f:
            if f.read().split()[2] == "Z":  # a zombie has ended
                break
        time.sleep(0.05)
    else:
        os.kill(child, signal.SIGKILL)
        pytest.fail("the child outlived its caller")
