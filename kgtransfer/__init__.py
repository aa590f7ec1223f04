"""kgtransfer: reuse what one knowledge graph taught a model on another.

Load RDF knowledge stores, merge them with knowledge operators (∪ ∩ − ⊕), pretrain a GNN
encoder on the source graph and transfer it to the merged target graph.

Everything is reachable from here; submodules are imported on first use, so ``import
kgtransfer`` (and ``kgtransfer --help``) stays fast and does not import torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "KnowledgeGraph": "kgtransfer.knowledge.graph",
    "GraphStats": "kgtransfer.knowledge.graph",
    "load": "kgtransfer.knowledge.sources",
    "union": "kgtransfer.knowledge.operators",
    "intersection": "kgtransfer.knowledge.operators",
    "difference": "kgtransfer.knowledge.operators",
    "extension": "kgtransfer.knowledge.operators",
    "Alignment": "kgtransfer.knowledge.align",
    "align": "kgtransfer.knowledge.align",
    "sparql": "kgtransfer.knowledge.sparql",
    "registered_sources": "kgtransfer.knowledge.registry",
    "KGTransferError": "kgtransfer.errors",
    "train": "kgtransfer.training",
    "TrainedModel": "kgtransfer.training",
    "TrainConfig": "kgtransfer.engine",
    "ModelConfig": "kgtransfer.models.link_predictor",
}

__all__ = [
    "Alignment",
    "GraphStats",
    "KGTransferError",
    "KnowledgeGraph",
    "ModelConfig",
    "TrainConfig",
    "TrainedModel",
    "align",
    "difference",
    "extension",
    "intersection",
    "load",
    "registered_sources",
    "sparql",
    "train",
    "union",
]

if TYPE_CHECKING:  # pragma: no cover
    from kgtransfer.engine import TrainConfig
    from kgtransfer.errors import KGTransferError
    from kgtransfer.knowledge.align import Alignment, align
    from kgtransfer.knowledge.graph import GraphStats, KnowledgeGraph
    from kgtransfer.knowledge.operators import difference, extension, intersection, union
    from kgtransfer.knowledge.registry import registered_sources
    from kgtransfer.knowledge.sources import load
    from kgtransfer.knowledge.sparql import sparql
    from kgtransfer.models.link_predictor import ModelConfig
    from kgtransfer.training import TrainedModel, train


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'kgtransfer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
