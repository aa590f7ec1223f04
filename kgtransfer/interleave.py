"""Interleaved runs: several trainings timed side by side, one batch of each in turn.

Runs that are compared on seconds (scratch against a strategy) should see the same machine. Run
one after the other, a shared machine's load, cache contention or clock can change between them,
and their ratio moves by ±10% between repeats. :func:`interleave` runs each job in its own thread
but only one at a time: a job runs until it calls :func:`pause` (between training batches), then
the next job runs, round-robin. Each job's CPU seconds (``time.thread_time``) and its wall
seconds outside :func:`pause` are then measured over the same stretch of time as the others'.

The training loop (:func:`kgtransfer.engine.fit`) pauses before every batch and leaves the waits
out of its epoch seconds, so any trainings can be interleaved: ``kgt.compare`` and
``kgt.sequence`` do so by default. The global random generators (Python, numpy, torch CPU and
CUDA) and torch's intra-op thread count are handed over with the turn: each job sees the states it
left, so its numbers are those of running it alone. A job's CPU seconds are its own thread's: with
one torch thread (as ``kgt.sequence`` trains by default) that is all of its work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch

from kgtransfer.rng import restore_rng_states, rng_states

T = TypeVar("T")

_local = threading.local()  # the job of this thread: `_Turns`, its index and name, or nothing


class _Cancelled(BaseException):
    """Raised in a job at its next turn once the run is stopped (another job failed, or Ctrl-C)."""


class _Turns:
    """Whose turn it is among live jobs, the random states each job left, and whether to stop."""

    def __init__(self, count: int):
        self.cond = threading.Condition()
        self.live = list(range(count))
        self.turn = 0
        self.states: dict[int, dict] = {}
        self.cancelled = False

    def wait(self, job: int) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.turn == job or self.cancelled)
        if self.cancelled:
            raise _Cancelled
        if job in self.states:
            _restore(self.states.pop(job))

    def cancel(self) -> None:
        """Stop every job at its next turn."""
        with self.cond:
            self.cancelled = True
            self.cond.notify_all()

    def hand_over(self, job: int, done: bool = False) -> bool:
        """Give the turn to the next live job; False (and keep it) when this is the only one left."""
        with self.cond:
            position = self.live.index(job)
            if done:
                self.live.remove(job)
            elif len(self.live) == 1:
                return False
            if self.live:
                if not done:
                    self.states[job] = _states()
                self.turn = self.live[(position + (0 if done else 1)) % len(self.live)]
            self.cond.notify_all()
        return True


def _states() -> dict:
    """What a job leaves at its turn's end: the random generators' states and torch's thread count."""
    return {"rng": rng_states(), "threads": torch.get_num_threads()}


def _restore(states: dict) -> None:
    restore_rng_states(states["rng"])
    if torch.get_num_threads() != states["threads"]:
        torch.set_num_threads(states["threads"])


def pause() -> None:
    """Let the other interleaved jobs take a turn (a no-op outside :func:`interleave`)."""
    turns = getattr(_local, "turns", None)
    if turns is None:
        return
    if turns.cancelled:
        raise _Cancelled
    if len(turns.live) > 1 and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()  # this job's queued kernels are its own time, not the wait for the others
    began = time.perf_counter()
    if turns.hand_over(_local.job):
        turns.wait(_local.job)
    _local.paused += time.perf_counter() - began


def paused_seconds() -> float:
    """Wall seconds this thread has spent in :func:`pause` (waiting for the others) so far."""
    return getattr(_local, "paused", 0.0)


def job_name() -> str | None:
    """The name :func:`interleave` gave this thread's job (None outside it, or when unnamed)."""
    return getattr(_local, "name", None)


def interleave(jobs: Sequence[Callable[[], T]], names: Sequence[str] | None = None) -> list[T]:
    """Run ``jobs`` one at a time, each until its next :func:`pause`, round-robin; their results in order.

    A single job runs in the calling thread. The first exception raised by a job stops the others
    at their next :func:`pause` and is raised here; so is an interrupt (Ctrl-C) of the caller, once
    every job has stopped. The caller's random generators and thread count come back either way.
    ``names`` label the jobs' progress bars (:func:`job_name`).
    """
    if len(jobs) <= 1:
        return [job() for job in jobs]
    if names is not None and len(names) != len(jobs):
        raise ValueError(f"{len(names)} names for {len(jobs)} jobs")
    turns = _Turns(len(jobs))
    results: list = [None] * len(jobs)
    errors: list[BaseException | None] = [None] * len(jobs)
    caller = _states()
    ended = [threading.Event() for _ in jobs]  # set as a job's thread leaves it (join cannot tell: see below)

    def run(i: int) -> None:
        _local.turns, _local.job, _local.paused = turns, i, 0.0
        _local.name = names[i] if names is not None else None
        try:
            turns.wait(i)
            _restore(caller)  # every job starts from the caller's generators and threads, as it would alone
            results[i] = jobs[i]()
        except _Cancelled:
            pass
        except BaseException as e:  # noqa: BLE001 -- raised in the caller's thread below
            errors[i] = e
            turns.cancel()  # the others stop at their next turn: their results would not be used
        finally:
            turns.hand_over(i, done=True)
            ended[i].set()

    threads = [threading.Thread(target=run, args=(i,), name=f"interleaved-{i}", daemon=True) for i in range(len(jobs))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    except BaseException:  # Ctrl-C in the caller: stop the jobs instead of leaving them training in the background
        turns.cancel()
        # a join that Ctrl-C interrupted marks its thread stopped while it still runs (CPython's
        # bpo-45274 handling), so is_alive() and join() say nothing of it: wait for the job itself
        for thread, end in zip(threads, ended, strict=True):
            if thread.ident is not None:
                end.wait()
        raise
    finally:
        _restore(caller)
    for e in errors:
        if e is not None:
            raise e
    return results
