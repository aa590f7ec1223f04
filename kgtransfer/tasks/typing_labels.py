"""Entity-typing labels from a knowledge graph, and the message graph they must not leak into.

Labels come from a predicate (``rdf:type`` by default: ``(entity, rdf:type, Class)`` gives the
entity the label ``Class``), or from a SPARQL SELECT whose first two variables are the entity
and its label. The triples that carry the labels are removed from the graph the encoder sees,
and so is every other triple between a labelled entity and one of its labels, by any predicate
and in either direction (the message graph holds both directions), and the triples of
``leak_predicates`` that touch a labelled entity (for class categories, ``rdfs:subClassOf``
paths lead straight to the answer).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from kgtransfer.knowledge import terms as T
from kgtransfer.knowledge.graph import KnowledgeGraph

RDF_TYPE = T.iri(T.RDF + "type")


@dataclass(frozen=True)
class TypingLabels:
    """Entities with their labels, and the graph stripped of what would leak them.

    Attributes:
        entities: canonical strings of the labelled entities, sorted.
        labels: for each entity, the sorted tuple of its labels (one for multi-class data).
        classes: all labels, sorted (their index is the class id).
        graph: the input graph without the label triples and leaking triples.
        removed: how many triples were removed from the graph.
        leaks: the removed triples themselves (None for labels read back from a saved result): what
            a model must not have trained on for an entity it is tested on (see
            :func:`~kgtransfer.transfer.finetune.labels_seen`).
    """

    entities: list[str]
    labels: list[tuple[str, ...]]
    classes: list[str]
    graph: KnowledgeGraph
    removed: int
    leaks: KnowledgeGraph | None = None

    @property
    def multi_label(self) -> bool:
        """Whether some entity has more than one label."""
        return any(len(x) > 1 for x in self.labels)

    def strata(self) -> list[str]:
        """The label each entity's split is stratified by: its label, or its rarest one (multi-label).

        Multi-label entities are stratified by their least frequent label (ties by name), so that
        every class with enough members reaches valid and test, however its members' label sets
        combine (each distinct combination of a diverse label set is rare, and one stratum per
        combination put every entity in train).
        """
        if not self.multi_label:
            return [x[0] for x in self.labels]
        counts = _label_counts(self.labels)
        return [min(labels, key=lambda x: (counts[x], x)) for labels in self.labels]

    def targets(self) -> np.ndarray:
        """Class ids (multi-class: ``(n,)`` of the single label) or a ``(n, C)`` 0/1 matrix (multi-label)."""
        index = {c: i for i, c in enumerate(self.classes)}
        if not self.multi_label:
            return np.asarray([index[x[0]] for x in self.labels], dtype=np.int64)
        out = np.zeros((len(self.entities), len(self.classes)), dtype=np.float32)
        for row, labels in enumerate(self.labels):
            out[row, [index[x] for x in labels]] = 1.0
        return out

    def __repr__(self) -> str:
        kind = "multi-label" if self.multi_label else "multi-class"
        return (
            f"TypingLabels(entities={len(self.entities):,}, classes={len(self.classes)}, {kind}, "
            f"removed_triples={self.removed:,})"
        )


def typing_labels(
    kg: KnowledgeGraph,
    predicate: str | None = None,
    *,
    query: str | None = None,
    leak_predicates: tuple[str, ...] = (),
    min_count: int = 2,
    keep: str = "all",
) -> TypingLabels:
    """Extract entity-typing labels from ``kg``.

    Args:
        kg: the graph.
        predicate: the label predicate, a canonical IRI string ``<...>``, a plain IRI or a prefixed
            name of rdf, rdfs, owl, xsd or skos (default: rdf:type). Under rdf:type, classes of the
            RDF, RDFS and OWL vocabularies (``owl:NamedIndividual``, ``owl:Class``, ``owl:Thing``,
            ...) are no labels: they say what kind of term an entity is, not what it is.
        query: a SPARQL SELECT over ``kg`` whose first two variables are (entity, label), in place of
            ``predicate`` (give one of them).
        leak_predicates: predicates whose triples touching a labelled entity are also removed (default: none).
        min_count: drop labels with fewer entities than this among the entities kept, so every class can
            appear in train and test (default: 2).
        keep: ``"all"`` keeps every label of an entity (multi-label when some have several); ``"single"``
            keeps only entities with exactly one label (multi-class) (default: ``"all"``).
    """
    if query and predicate is not None:  # the predicate was silently ignored
        from kgtransfer.config import ConfigError

        raise ConfigError("typing_labels: give the label predicate or a query, not both (the query's labels are used)")
    predicate = predicate or RDF_TYPE
    if not query and kg.term_id(_iri(predicate)) is None:
        from kgtransfer.errors import EmptySplitError

        raise EmptySplitError(
            f"{kg.name}: the label predicate {_iri(predicate)} occurs in none of its {len(kg):,} triples "
            "(give its full IRI, or a prefixed name of rdf, rdfs, owl, xsd or skos)"
        )
    pairs = _pairs_from_query(kg, query) if query else _pairs_from_predicate(kg, _iri(predicate))
    if not query and _iri(predicate) == RDF_TYPE:  # a Protégé file types every individual owl:NamedIndividual too
        pairs = [(e, c) for e, c in pairs if not c.startswith(_VOCABULARY_CLASSES)]
    by_entity: dict[str, set[str]] = defaultdict(set)
    for entity, label in pairs:
        by_entity[entity].add(label)
    entities, labels = _kept_labels(by_entity, min_count, keep)
    classes = sorted({x for ls in labels for x in ls})

    terms = kg.terms
    labelled = np.zeros(len(terms), dtype=bool)
    ids = {t: i for i, t in enumerate(terms.tolist())}
    labelled[[ids[e] for e in entities if e in ids]] = True
    s, p, o = kg.triples[:, 0], kg.triples[:, 1], kg.triples[:, 2]
    drop = np.zeros(len(kg), dtype=bool)
    if not query:
        pid = ids.get(_iri(predicate), -1)
        label_triple = (p == pid) & labelled[s]
        if _iri(predicate) == RDF_TYPE:  # `e a owl:NamedIndividual` is no label: it stays a message, and no leak
            bookkeeping = np.fromiter((t.startswith(_VOCABULARY_CLASSES) for t in terms.tolist()), bool, len(terms))
            label_triple &= ~bookkeeping[o]
        drop |= label_triple
    class_ids = [ids[c] for c in classes if c in ids]
    is_class = np.zeros(len(terms), dtype=bool)
    is_class[class_ids] = True
    leak = [ids[x] for x in map(_iri, leak_predicates) if x in ids]
    absent = [x for x in map(_iri, leak_predicates) if x not in ids or not (p == ids[x]).any()]
    if absent:  # a misspelt leak predicate removed nothing, and the leak it meant stays
        import warnings

        warnings.warn(
            f"{kg.name}: no triple has the leak predicate {', '.join(absent)}: nothing is removed for it",
            UserWarning,
            stacklevel=2,
        )
    if leak:
        drop |= np.isin(p, leak) & (labelled[s] | labelled[o])
    # any triple stating an entity's label outright, by any predicate and from either side (messages run both ways)
    pairs = [(ids[e], ids[c]) for e, ls in zip(entities, labels, strict=True) for c in ls if e in ids and c in ids]
    if pairs:
        n, both = len(terms), np.asarray(pairs, dtype=np.int64)
        keys = np.concatenate([both[:, 0] * n + both[:, 1], both[:, 1] * n + both[:, 0]])
        drop |= np.isin(s.astype(np.int64) * n + o, keys)
    graph = kg.subgraph(~drop, name=f"{kg.name} (labels removed)")
    leaks = kg.subgraph(drop, name=f"{kg.name} (label and leaking triples)")
    return TypingLabels(entities, labels, classes, graph, int(drop.sum()), leaks)


def _kept_labels(by_entity: dict[str, set[str]], min_count: int, keep: str) -> tuple[list[str], list[tuple]]:
    """The entities kept and their labels: labels of ``min_count`` or more kept entities.

    First counted over all entities, then over the entities kept (with ``keep="single"`` those left
    with one label), so that no class of the result has fewer members; dropping a class can leave
    another entity with one label, so that repeats until nothing changes.
    """
    allowed = {x for x, n in _label_counts(by_entity.values()).items() if n >= min_count}
    while True:
        entities, labels = [], []
        for entity in sorted(by_entity):
            kept = tuple(sorted(by_entity[entity] & allowed))
            if kept and (keep != "single" or len(kept) == 1):
                entities.append(entity)
                labels.append(kept)
        counts = _label_counts(labels)
        rare = {x for x in allowed if counts[x] < min_count}
        if not rare:
            return entities, labels
        allowed -= rare


def _label_counts(label_sets) -> Counter:
    """How many of ``label_sets`` (one per entity) hold each label."""
    return Counter(label for labels in label_sets for label in labels)


#: Namespaces whose classes are vocabulary bookkeeping, not entity types (see :func:`typing_labels`).
_VOCABULARY_CLASSES = tuple(f"<{T.WELL_KNOWN_PREFIXES[p]}" for p in ("rdf", "rdfs", "owl"))


def _iri(value: str) -> str:
    """``<...>`` as it is, a prefixed name of a well-known prefix (``rdf:type``) expanded, else an IRI."""
    if value.startswith("<"):
        return value
    prefix, _, local = value.partition(":")
    if prefix in T.WELL_KNOWN_PREFIXES and not local.startswith("//"):
        return T.iri(T.WELL_KNOWN_PREFIXES[prefix] + local)
    return T.iri(value)


def _pairs_from_predicate(kg: KnowledgeGraph, predicate: str) -> list[tuple[str, str]]:
    pid = kg.term_id(predicate)
    if pid is None:
        return []
    rows = kg.triples[kg.triples[:, 1] == pid]
    terms = kg.terms
    return [(terms[s], terms[o]) for s, o in rows[:, [0, 2]].tolist() if terms[s][0] != '"']


def _pairs_from_query(kg: KnowledgeGraph, query: str) -> list[tuple[str, str]]:
    from kgtransfer.errors import SparqlQueryError
    from kgtransfer.knowledge.sparql import Rows, sparql

    rows = sparql(query, kg)
    if not isinstance(rows, Rows) or len(rows.variables) < 2:
        raise SparqlQueryError("entity-typing labels need a SELECT query with (entity, label) variables")
    ent, lab = rows.variables[:2]
    return [(T.from_rdflib(r[ent]), T.from_rdflib(r[lab])) for r in rows if ent in r and lab in r]
