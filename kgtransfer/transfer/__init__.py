"""Transfer: fine-tuning with IRI-keyed weights, interpolation and soups (parameters), composition (structure)."""

from kgtransfer.transfer.finetune import STRATEGIES, finetune, pretrain, target_split, zero_shot
from kgtransfer.transfer.parameter import greedy_soup, interpolate, interpolation_sweep, uniform_soup
from kgtransfer.transfer.structure import ComposedEncoder, compose
from kgtransfer.transfer.weights import TransferReport, transfer_state

__all__ = [
    "STRATEGIES",
    "ComposedEncoder",
    "TransferReport",
    "compose",
    "finetune",
    "greedy_soup",
    "interpolate",
    "interpolation_sweep",
    "pretrain",
    "target_split",
    "transfer_state",
    "uniform_soup",
    "zero_shot",
]
