"""Graph tasks: link-prediction evaluation (the training loop lives in :mod:`kgtransfer.engine`).

Names are imported on first use (as in :mod:`kgtransfer`), so importing the package stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kgtransfer._lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
