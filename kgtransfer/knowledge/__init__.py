"""The RDF side of kgtransfer: knowledge graphs, loading, SPARQL, operators and alignment."""

from kgtransfer.knowledge.align import Alignment, align
from kgtransfer.knowledge.graph import GraphStats, KnowledgeGraph
from kgtransfer.knowledge.operators import difference, extension, intersection, union
from kgtransfer.knowledge.sources import load

__all__ = [
    "Alignment",
    "GraphStats",
    "KnowledgeGraph",
    "align",
    "difference",
    "extension",
    "intersection",
    "load",
    "union",
]
