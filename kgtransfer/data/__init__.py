"""From knowledge graphs to tensors: IRI-keyed vocabularies, PyG message graphs, seeded splits.

Names are imported on first use (as in :mod:`kgtransfer`), so ``kgtransfer.data.vocab`` loads
without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kgtransfer._lazy import lazy_exports

_EXPORTS = {
    "Vocab": "kgtransfer.data.vocab",
    "GraphVocab": "kgtransfer.data.vocab",
    "Triples": "kgtransfer.data.tensorize",
    "to_pyg": "kgtransfer.data.tensorize",
    "literal_features": "kgtransfer.data.tensorize",
    "Split": "kgtransfer.data.splits",
    "NodeSplit": "kgtransfer.data.splits",
    "given_split": "kgtransfer.data.splits",
    "random_split": "kgtransfer.data.splits",
    "relation_split": "kgtransfer.data.splits",
    "node_split": "kgtransfer.data.splits",
    "novelty_split": "kgtransfer.data.splits",
    "transfer_split": "kgtransfer.data.splits",
    "to_hetero_data": "kgtransfer.data.tensorize",
    "NeighbourSampler": "kgtransfer.data.sampling",
}

__all__ = [
    "GraphVocab",
    "NeighbourSampler",
    "NodeSplit",
    "Split",
    "Triples",
    "Vocab",
    "given_split",
    "literal_features",
    "node_split",
    "novelty_split",
    "random_split",
    "relation_split",
    "to_hetero_data",
    "to_pyg",
    "transfer_split",
]

if TYPE_CHECKING:  # pragma: no cover
    from kgtransfer.data.sampling import NeighbourSampler
    from kgtransfer.data.splits import (
        NodeSplit,
        Split,
        given_split,
        node_split,
        novelty_split,
        random_split,
        relation_split,
        transfer_split,
    )
    from kgtransfer.data.tensorize import Triples, literal_features, to_hetero_data, to_pyg
    from kgtransfer.data.vocab import GraphVocab, Vocab


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
