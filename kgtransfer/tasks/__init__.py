"""Graph tasks: link-prediction evaluation (the training loop lives in :mod:`kgtransfer.engine`).

Names are imported on first use (as in :mod:`kgtransfer`), so importing the package stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_EXPORTS = {
    "FilterIndex": "kgtransfer.tasks.link_prediction",
    "Ranks": "kgtransfer.tasks.link_prediction",
    "evaluate_link_prediction": "kgtransfer.tasks.link_prediction",
    "rank_metrics": "kgtransfer.tasks.link_prediction",
    "rank_triples": "kgtransfer.tasks.link_prediction",
    "ranks_from_scores": "kgtransfer.tasks.link_prediction",
}

__all__ = [
    "FilterIndex",
    "Ranks",
    "evaluate_link_prediction",
    "rank_metrics",
    "rank_triples",
    "ranks_from_scores",
]

if TYPE_CHECKING:  # pragma: no cover
    from kgtransfer.tasks.link_prediction import (
        FilterIndex,
        Ranks,
        evaluate_link_prediction,
        rank_metrics,
        rank_triples,
        ranks_from_scores,
    )


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kgtransfer.tasks' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
