"""kgtransfer: reuse what one knowledge graph taught a model on another.

Load RDF knowledge stores, merge them with knowledge operators (∪ ∩ − ⊕), pretrain a GNN
encoder on the source graph and transfer it to the merged target graph.

Everything is reachable from here; submodules are imported on first use, so ``import
kgtransfer`` (and ``kgtransfer --help``) stays fast and does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kgtransfer._lazy import lazy_exports

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "KnowledgeGraph": "kgtransfer.knowledge.graph",
    "GraphStats": "kgtransfer.knowledge.graph",
    "load": "kgtransfer.knowledge.sources",
    "union": "kgtransfer.knowledge.operators",
    "intersection": "kgtransfer.knowledge.operators",
    "isomorphic": "kgtransfer.knowledge.isomorphism",
    "difference": "kgtransfer.knowledge.operators",
    "extension": "kgtransfer.knowledge.operators",
    "Alignment": "kgtransfer.knowledge.align",
    "align": "kgtransfer.knowledge.align",
    "sparql": "kgtransfer.knowledge.sparql",
    "registered_sources": "kgtransfer.knowledge.registry",
    "KGTransferError": "kgtransfer.errors",
    "TransferWarning": "kgtransfer.errors",
    "NonFiniteScoreWarning": "kgtransfer.errors",
    "IncompatibleModelsError": "kgtransfer.errors",
    "train": "kgtransfer.training",
    "TrainedModel": "kgtransfer.training",
    "TrainConfig": "kgtransfer.config",
    "ModelConfig": "kgtransfer.config",
    "TaskConfig": "kgtransfer.config",
    "FinetuneConfig": "kgtransfer.config",
    "ConfigError": "kgtransfer.config",
    "compare": "kgtransfer.transfer.compare",
    "Comparison": "kgtransfer.transfer.compare",
    "pretrain": "kgtransfer.transfer.finetune",
    "finetune": "kgtransfer.transfer.finetune",
    "zero_shot": "kgtransfer.transfer.finetune",
    "interpolate": "kgtransfer.transfer.parameter",
    "interpolation_sweep": "kgtransfer.transfer.parameter",
    "uniform_soup": "kgtransfer.transfer.parameter",
    "greedy_soup": "kgtransfer.transfer.parameter",
    "compose": "kgtransfer.transfer.structure",
    "sequence": "kgtransfer.transfer.sequence",
    "SequenceResult": "kgtransfer.transfer.sequence",
    "continual_strategy": "kgtransfer.transfer.warm_start",
    "encoder": "kgtransfer.models.registry",
    "decoder": "kgtransfer.models.registry",
    "predict_target": "kgtransfer.tasks.prediction",
    "embeddings": "kgtransfer.tasks.prediction",
    "save_embeddings": "kgtransfer.tasks.prediction",
    "Metrics": "kgtransfer.tasks.metrics",
    "train_entity_typing": "kgtransfer.tasks.node_classification",
    "EntityTypingResult": "kgtransfer.tasks.node_classification",
    "Split": "kgtransfer.data.splits",
    "given_split": "kgtransfer.data.splits",
    "random_split": "kgtransfer.data.splits",
    "novelty_split": "kgtransfer.data.splits",
    "transfer_split": "kgtransfer.data.splits",
    "relation_split": "kgtransfer.data.splits",
    "Encoder": "kgtransfer.models.base",
    "Decoder": "kgtransfer.models.base",
    "Strategy": "kgtransfer.transfer.strategies",
    "ContinualStrategy": "kgtransfer.transfer.warm_start",
}

__all__ = [
    "Alignment",
    "ContinualStrategy",
    "Decoder",
    "Encoder",
    "Strategy",
    "relation_split",
    "GraphStats",
    "KGTransferError",
    "TransferWarning",
    "NonFiniteScoreWarning",
    "IncompatibleModelsError",
    "EntityTypingResult",
    "Comparison",
    "ConfigError",
    "FinetuneConfig",
    "KnowledgeGraph",
    "Metrics",
    "ModelConfig",
    "SequenceResult",
    "Split",
    "TaskConfig",
    "TrainConfig",
    "TrainedModel",
    "align",
    "compare",
    "compose",
    "continual_strategy",
    "decoder",
    "embeddings",
    "encoder",
    "finetune",
    "given_split",
    "greedy_soup",
    "interpolate",
    "interpolation_sweep",
    "novelty_split",
    "predict_target",
    "pretrain",
    "sequence",
    "random_split",
    "save_embeddings",
    "transfer_split",
    "uniform_soup",
    "zero_shot",
    "difference",
    "extension",
    "intersection",
    "isomorphic",
    "load",
    "registered_sources",
    "sparql",
    "train",
    "train_entity_typing",
    "union",
]

if TYPE_CHECKING:  # pragma: no cover
    from kgtransfer.config import ConfigError, FinetuneConfig, ModelConfig, TaskConfig, TrainConfig
    from kgtransfer.data.splits import Split, given_split, novelty_split, random_split, relation_split, transfer_split
    from kgtransfer.errors import IncompatibleModelsError, KGTransferError, TransferWarning
    from kgtransfer.knowledge.align import Alignment, align
    from kgtransfer.knowledge.graph import GraphStats, KnowledgeGraph
    from kgtransfer.knowledge.operators import difference, extension, intersection, union
    from kgtransfer.knowledge.registry import registered_sources
    from kgtransfer.knowledge.sources import load
    from kgtransfer.knowledge.sparql import sparql
    from kgtransfer.models.base import Decoder, Encoder
    from kgtransfer.models.registry import decoder, encoder
    from kgtransfer.tasks.metrics import Metrics
    from kgtransfer.tasks.node_classification import EntityTypingResult, train_entity_typing
    from kgtransfer.tasks.prediction import embeddings, predict_target, save_embeddings
    from kgtransfer.training import TrainedModel, train
    from kgtransfer.transfer.compare import Comparison, compare
    from kgtransfer.transfer.finetune import finetune, pretrain, zero_shot
    from kgtransfer.transfer.parameter import greedy_soup, interpolate, interpolation_sweep, uniform_soup
    from kgtransfer.transfer.sequence import SequenceResult, sequence
    from kgtransfer.transfer.strategies import Strategy
    from kgtransfer.transfer.structure import compose
    from kgtransfer.transfer.warm_start import ContinualStrategy
    from kgtransfer.transfer.warm_start import strategy as continual_strategy


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals(), __all__)
