"""``kgtransfer.load``: any source a user has, as a KnowledgeGraph, optionally through a view.

Reading lives in :mod:`kgtransfer.knowledge.reading`; a view is a SPARQL CONSTRUCT query run by
:mod:`kgtransfer.knowledge.sparql`, which reads its own sources with ``reading``, so this module
sits above both.
"""

from __future__ import annotations

from kgtransfer.knowledge.graph import KnowledgeGraph
from kgtransfer.knowledge.reading import DEFAULT_NAMESPACE, read_source
from kgtransfer.knowledge.sparql import run_view


def load(
    source,
    format: str | None = None,
    *,
    view: str | None = None,
    name: str | None = None,
    namespace: str | None = None,
    base: str | None = None,
) -> KnowledgeGraph:
    """Load a knowledge graph from any supported source.

    Args:
        source: a file path (Turtle, N-Triples, N-Quads, TriG, RDF/XML, JSON-LD, or tab-separated
            labels ``.tsv``, or any file with ``format="tsv"``; ``.gz`` too), a folder of
            ``train/valid/test.txt`` (or ``.tsv``; ``.gz`` too) tab-separated labels (the common
            link-prediction benchmark layout; ``#`` lines are comments) or of RDF split files
            (``train.nt``, ``test.ttl``, ...); each split becomes the provenance source
            ``<name>/train`` etc., the folder of an on-disk ``pyoxigraph.Store`` (opened read-only;
            named graphs become sources), a registry name (``"brick:1.4"``,
            ``"schema.org:12.0"``, ``"umls"``, ...), an ``rdflib.Graph``/``Dataset``, a
            ``pyoxigraph.Store``, ``[n, 3]`` label triples in memory (a numpy array or pandas
            DataFrame, a PyKEEN ``TriplesFactory``; read as a TSV file of them), or a
            KnowledgeGraph (returned as is).
        format: the RDF format when the suffix does not tell, or ``"tsv"`` (default: from the suffix).
        view: the name of a CONSTRUCT query in ``ontologies/views/`` (``"hierarchy"``,
            ``"object-properties"``, ...) applied to the loaded graph (default: the whole graph).
        name: the graph's display and provenance name (default: the file, folder or registry name;
            files or folders of one name read from different places stay different sources in
            operators' results, named by the folders that tell them apart: ``v1/data.ttl``).
        namespace: for tab-separated or in-memory labels, the IRI prefix that turns a label such as
            ``/m/01x15dc`` into ``<urn:kgtransfer:label:/m/01x15dc>`` (default:
            :data:`DEFAULT_NAMESPACE`; characters an IRI cannot hold are percent-encoded).
        base: the IRI relative IRIs in a file resolve against (default:
            ``https://kgtransfer.invalid/``, the same wherever the file lies).

    Returns:
        The graph; blank nodes are scoped to their document, named graphs become provenance sources.
    """
    kg = read_source(source, format, name, namespace or DEFAULT_NAMESPACE, base)
    if view is not None:
        kg = run_view(view, kg)
    return kg
