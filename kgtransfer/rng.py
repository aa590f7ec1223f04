"""The global random generators: seeding them, an epoch's own generator, saving and restoring their states."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's generators."""
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator for one epoch's shuffles and negatives (depends only on seed and epoch)."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


def rng_states() -> dict:
    """The states of Python's, numpy's and torch's (CPU and CUDA) global generators."""
    import random

    import numpy as np

    states = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict) -> None:
    """Restore what :func:`rng_states` returned."""
    import random

    import numpy as np

    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states:
        torch.cuda.set_rng_state_all(states["cuda"])


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block with torch's generator seeded by ``seed``; the caller's generator states come back after.

    What a model's initialization draws depends on ``seed`` alone, and a library call does not
    reseed the user's generators.
    """
    states = rng_states()
    torch.manual_seed(seed)
    try:
        yield
    finally:
        restore_rng_states(states)


def keeps_rng_states(function: Callable) -> Callable:
    """Decorate a library call that seeds the global generators: the caller gets its states back."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        states = rng_states()
        try:
            return function(*args, **kwargs)
        finally:
            restore_rng_states(states)

    return wrapper


def keeps_threads(function: Callable) -> Callable:
    """Decorate a library call that sets torch's (process-wide) thread count: the caller gets its own back."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        threads = torch.get_num_threads()
        try:
            return function(*args, **kwargs)
        finally:
            torch.set_num_threads(threads)

    return wrapper
