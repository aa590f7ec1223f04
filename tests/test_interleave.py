"""Interleaved runs: one job at a time, round-robin at each pause, each with its own random generators."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from kgtransfer.interleave import interleave, job_name, pause, paused_seconds


def test_jobs_take_turns_at_each_pause_and_return_in_order():
    events = []

    def job(name, steps):
        def run():
            for i in range(steps):
                events.append((name, i))
                pause()
            return name

        return run

    assert interleave([job("a", 3), job("b", 1), job("c", 2)]) == ["a", "b", "c"]
    assert events == [("a", 0), ("b", 0), ("c", 0), ("a", 1), ("c", 1), ("a", 2)]


def test_each_job_draws_what_it_would_draw_alone():
    def job(seed):
        def run():
            torch.manual_seed(seed)
            out = []
            for _ in range(4):
                out.append(torch.rand(3))
                pause()
            return torch.cat(out)

        return run

    alone = [job(s)() for s in (1, 2)]
    together = interleave([job(1), job(2)])
    assert all(torch.equal(a, b) for a, b in zip(alone, together, strict=True))
    torch.manual_seed(7)
    expected = torch.rand(2)
    torch.manual_seed(7)
    interleave([job(1), job(2)])
    assert torch.equal(torch.rand(2), expected)  # the caller's generator is left as it was


def test_only_one_job_runs_at_a_time_and_waits_are_counted_apart():
    running, overlaps = [], []

    def job():
        for _ in range(5):
            running.append(threading.get_ident())
            if len(running) > 1:
                overlaps.append(1)
            time.sleep(0.01)
            running.pop()
            pause()
        return paused_seconds()

    waits = interleave([job, job])
    assert not overlaps
    assert all(w >= 0.03 for w in waits)  # each waited while the other slept
    assert paused_seconds() == 0.0 and pause() is None  # outside interleave: nothing to wait for


def test_the_first_error_stops_the_other_jobs_and_is_raised():
    """The others ran to their end first (a diverged scratch run waited for the slowest strategy)."""
    steps = []

    def bad():
        pause()
        raise ValueError("bad job")

    def good():
        for _ in range(100):
            pause()
            steps.append(1)
        return 1

    with pytest.raises(ValueError, match="bad job"):
        interleave([bad, good])
    assert len(steps) <= 1  # stopped at its next turn
    assert not [t for t in threading.enumerate() if t.name.startswith("interleaved-")]


def test_an_interrupt_stops_every_job_and_gives_the_caller_its_state_back(ctrl_c):
    """Ctrl-C reached the caller's join: the jobs kept training in the background, the caller's RNG stayed theirs."""
    import os
    import signal

    steps = []

    def interrupting():
        pause()
        os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C: the caller's thread gets a KeyboardInterrupt
        for _ in range(200):
            torch.rand(1)
            pause()
            steps.append(1)

    def other():
        for _ in range(200):
            torch.rand(1)
            pause()
            steps.append(2)

    torch.manual_seed(5)
    expected = torch.rand(1)
    torch.manual_seed(5)
    with pytest.raises(KeyboardInterrupt):
        interleave([interrupting, other])
    assert len(steps) < 200  # stopped, not run to the end
    done = len(steps)
    time.sleep(0.2)
    assert len(steps) == done  # and no job runs on in the background (an interrupted join can say it stopped)
    assert torch.equal(torch.rand(1), expected)


def test_one_job_runs_in_the_calling_thread():
    assert interleave([threading.get_ident]) == [threading.get_ident()]
    assert interleave([]) == []


def test_each_job_keeps_its_thread_count_and_name():
    caller = torch.get_num_threads()

    def job(threads):
        def run():
            torch.set_num_threads(threads)
            seen = []
            for _ in range(3):
                pause()
                seen.append((torch.get_num_threads(), job_name()))
            return seen

        return run

    one, two = interleave([job(1), job(2)], names=["one", "two"])
    assert one == [(1, "one")] * 3 and two == [(2, "two")] * 3
    assert torch.get_num_threads() == caller and job_name() is None
    with pytest.raises(ValueError, match="2 names for 1 jobs|1 names for 2 jobs"):
        interleave([job(1), job(1)], names=["only"])


def test_training_leaves_the_waits_out_of_its_seconds():
    """`fit` pauses before every batch; each run's epoch seconds are its own, not the others'."""
    from kgtransfer.config import TrainConfig
    from kgtransfer.engine import fit

    class SlowTask:
        metric = "score"

        def size(self):
            return 1

        def to(self, device):
            return self

        def batches(self, epoch, batch_size, generator):
            yield from range(3)

        def loss(self, model, batch):
            time.sleep(0.05)
            return model.weight.sum() * 0.0

        def evaluate(self, model, split):
            return {"score": 0.0}

    def run():
        return fit(torch.nn.Linear(2, 1), SlowTask(), TrainConfig(epochs=2, progress=False, threads=1))

    began = time.perf_counter()
    results = interleave([run, run])
    wall = time.perf_counter() - began
    for result in results:
        assert len(result.history.seconds) == 2
        assert all(0.15 <= s < 0.27 for s in result.history.seconds)  # three sleeps of its own, not six
    assert sum(r.seconds for r in results) <= wall


def test_jobs_stopped_before_their_first_turn_end_quietly():
    """A job failing before the others' first turn left them raising in their threads ('Exception in thread')."""
    raised = []
    hook, threading.excepthook = threading.excepthook, lambda args: raised.append(args.exc_type)
    try:

        def bad():
            raise ValueError("fails at once")

        with pytest.raises(ValueError, match="fails at once"):
            interleave([bad, lambda: 1, lambda: 2])
    finally:
        threading.excepthook = hook
    assert raised == []
