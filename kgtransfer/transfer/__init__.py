"""Transfer: fine-tuning strategies with IRI-keyed weights, interpolation and soups (parameters), composition.

Modules: :mod:`~kgtransfer.transfer.finetune` (pretrain, fine-tune, zero-shot),
:mod:`~kgtransfer.transfer.strategies`, :mod:`~kgtransfer.transfer.parameter`,
:mod:`~kgtransfer.transfer.structure`, :mod:`~kgtransfer.transfer.weights` and
:mod:`~kgtransfer.transfer.compare`. A package attribute never shadows a module: the function
``finetune`` is ``kgtransfer.finetune`` (or ``kgtransfer.transfer.finetune.finetune``), while
``kgtransfer.transfer.finetune`` is the module.
"""

from kgtransfer.transfer.finetune import pretrain, target_split, zero_shot
from kgtransfer.transfer.parameter import greedy_soup, interpolate, interpolation_sweep, uniform_soup
from kgtransfer.transfer.results import Sweep, ZeroShotResult
from kgtransfer.transfer.strategies import Strategy, make_strategy
from kgtransfer.transfer.structure import ComposedEncoder, compose
from kgtransfer.transfer.weights import TransferReport, transfer_state

__all__ = [
    "ComposedEncoder",
    "Strategy",
    "Sweep",
    "TransferReport",
    "ZeroShotResult",
    "compose",
    "greedy_soup",
    "interpolate",
    "interpolation_sweep",
    "make_strategy",
    "pretrain",
    "target_split",
    "transfer_state",
    "uniform_soup",
    "zero_shot",
]
