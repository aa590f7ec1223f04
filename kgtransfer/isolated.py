"""Run a call in a forked child process, so that the caller can stop it.

pyoxigraph evaluates a query in native code that checks no signals, and nothing can stop the
thread it runs on: in-process, a runaway query ignores Ctrl-C and any deadline (or runs on in the
background after them), and a query that overflows the parser's stack ends the program. In a
child, Ctrl-C and ``timeout`` stop it (the child is killed) and a crash is an error that names the
call. The child is a ``fork`` of the caller, so what the call needs (a loaded graph) is not copied
or pickled; only the result comes back, pickled (a large one is quicker back as text:
``kgtransfer sparql`` returns its printed answer). On Linux the child dies with its parent (a
``kill`` of the caller leaves nothing running). Where ``fork`` does not exist (Windows), the call
runs in this process.
"""

from __future__ import annotations

import faulthandler
import os
import pickle
import sys
from collections.abc import Callable
from typing import TypeVar

from kgtransfer.errors import KGTransferError

T = TypeVar("T")


class StoppedError(KGTransferError, TimeoutError):
    """A call run in a child process ran out of time, or crashed."""


def run_forked(call: Callable[[], T], label: str, timeout: float | None = None) -> T:
    """``call()`` in a forked child: its result, or its exception raised here.

    Args:
        call: what to run (no arguments; a closure over what it needs).
        label: names the call in errors (a query file, say).
        timeout: seconds before the child is killed (default: None, no limit; Ctrl-C always stops it).

    Raises:
        StoppedError: the call ran past ``timeout``, or its process died without an answer (a crash).
        KeyboardInterrupt: Ctrl-C (the child is killed first).
    """
    import multiprocessing as mp

    try:
        context = mp.get_context("fork")
    except ValueError:
        return call()
    receive, send = context.Pipe(duplex=False)

    parent = os.getpid()

    def child() -> None:
        _die_with(parent)
        faulthandler.disable()  # a crash is reported by the caller; a dump from here (pytest) is noise
        try:
            answer = ("value", call())
        except BaseException as e:  # noqa: BLE001 - every failure goes back to the caller
            answer = ("error", _portable(e))
        finally:
            sys.stdout.flush()  # the child leaves by os._exit, which flushes nothing
            sys.stderr.flush()
        send.send_bytes(pickle.dumps(answer))

    process = context.Process(target=child, daemon=True, name=f"kgtransfer: {label}")
    process.start()
    send.close()
    try:
        if not receive.poll(timeout):
            raise StoppedError(f"{label}: did not finish within {timeout:g} s (stopped)")
        try:
            kind, value = pickle.loads(receive.recv_bytes())
        except EOFError:
            process.join()
            raise StoppedError(
                f"{label}: its process ended without an answer (exit code {process.exitcode}); "
                "the query engine crashed on it (a very long or deeply nested query?)"
            ) from None
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receive.close()
    if kind == "error":
        raise value
    return value


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux), so a killed caller leaves no query running."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (AttributeError, OSError):  # not Linux: Ctrl-C and the timeout still stop it
        return
    if os.getppid() != parent:  # the parent died before the call above
        os._exit(1)


def _portable(error: BaseException) -> BaseException:
    """``error`` if it pickles back as itself, else a KGTransferError (or RuntimeError) with its message."""
    try:
        back = pickle.loads(pickle.dumps(error))
        if type(back) is type(error) and str(back) == str(error):
            return error
    except Exception:  # noqa: BLE001 - an exception whose constructor takes other arguments
        pass
    kind = KGTransferError if isinstance(error, KGTransferError) else RuntimeError
    return kind(str(error))
