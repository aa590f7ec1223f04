"""``run_forked``: a call in a child process that Ctrl-C, a timeout or a crash cannot take the caller down with."""

import os
import signal
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
