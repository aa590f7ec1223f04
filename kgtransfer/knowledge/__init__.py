"""The RDF side of kgtransfer: knowledge graphs, loading, SPARQL, operators and alignment.

The function ``align`` is ``kgtransfer.align`` (``kgtransfer.knowledge.align`` is its module).
"""

from kgtransfer.knowledge.align import Alignment
from kgtransfer.knowledge.graph import GraphStats, KnowledgeGraph
from kgtransfer.knowledge.isomorphism import isomorphic
from kgtransfer.knowledge.operators import difference, extension, intersection, union
from kgtransfer.knowledge.sources import load

__all__ = [
    "Alignment",
    "GraphStats",
    "KnowledgeGraph",
    "difference",
    "extension",
    "intersection",
    "isomorphic",
    "load",
    "union",
]
