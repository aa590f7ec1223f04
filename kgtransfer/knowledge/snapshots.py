"""Snapshots of a growing knowledge graph: one KnowledgeGraph per step, with its own train/valid/test.

A snapshot is anything :func:`kgtransfer.load` accepts, e.g. a folder of tab-separated
``train/valid/test.txt[.gz]`` label files, the layout of the continual KG-embedding benchmarks
(labels become IRIs under one shared namespace, so the same label is the same entity at every
step). Its triples carry the provenance sources ``<name>/train``, ``<name>/valid`` and
``<name>/test``, so after a merge every triple still says which step and which split brought it.
A source with split sources keeps their roles (a folder of ``train.txt`` alone only adds training
triples); one without any is split at random (seeded, 0.8/0.1/0.1), each triple's role drawn
from a seeded hash of the triple itself: a triple two snapshots share has the same role in both.
"""

from __future__ import annotations

import warnings

import numpy as np

from kgtransfer.knowledge.graph import KnowledgeGraph, is_graph_iri
from kgtransfer.report import plural

SPLITS = ("train", "valid", "test")
_ROLE = {"train": 0, "training": 0, "valid": 1, "validation": 1, "test": 2}


def split_role(source: str) -> int | None:
    """The split a source names by its last path segment (``umls/test``: 2, train 0, valid 1), None for others.

    Segments are read case-insensitively, and only after a ``/``: a graph called ``test`` is a graph,
    not a test split. A named graph of a loaded file (``http://example.org/d/test``, also under a
    view's prefix) names a split only beside a training graph: see :func:`split_roles`.
    """
    head, _, last = source.rpartition("/")
    return _ROLE.get(last.lower()) if head else None


def split_roles(sources) -> list[int | None]:
    """:func:`split_role` of each source, where graphs named by IRIs take a role only as a set of splits.

    A dataset that ships its splits as named graphs names a training graph too
    (``<http://e/d/train>``, ``<http://e/d/test>``); a graph of one's data that happens to be
    called ``<http://example.org/test>`` beside ``<http://example.org/main>`` is no test split.
    """
    roles = [split_role(s) for s in sources]
    named = [_is_named_graph(s) for s in sources]
    if not any(r == 0 for r, n in zip(roles, named, strict=True) if n):
        roles = [None if n else r for r, n in zip(roles, named, strict=True)]
    return roles


def split_overlap(kg) -> np.ndarray:
    """Per triple of ``kg``: whether sources of more than one split (train, valid, test) hold it."""
    roles = split_roles(kg.sources)
    count = np.zeros(len(kg), dtype=np.int8)
    for wanted in (0, 1, 2):
        names = [s for s, r in zip(kg.sources, roles, strict=True) if r == wanted]
        if names:
            count += kg.held_by(names)
    return count > 1


class SplitOverlapWarning(UserWarning):
    """Triples of a graph's split files are in more than one split (train and test, say): a leak in the files."""


def warn_split_overlap(name: str, count: int) -> None:
    """Say that ``count`` triples of the split files of ``name`` are in several splits (a leak, resolved)."""
    if count:
        warnings.warn(
            f"{name}: {plural(count, 'triple')} {'is' if count == 1 else 'are'} in more than one of its split "
            "sources (e.g. train and test); each "
            "is evaluated in the later split (test over valid over train), never trained on",
            SplitOverlapWarning,
            stacklevel=3,
        )


def _is_named_graph(source: str) -> bool:
    """Whether a source is a loaded file's named graph (an IRI, or one under a view's ``<name>[view]/`` prefix)."""
    parts = source.split("/")
    return any(is_graph_iri("/".join(parts[i:])) for i in range(len(parts)))


def load_snapshot(source, name: str, seed: int = 0) -> KnowledgeGraph:
    """One snapshot as a graph whose sources are ``name/train``, ``name/valid``, ``name/test``.

    Args:
        source: a KnowledgeGraph or anything :func:`kgtransfer.load` accepts (a folder of
            ``{train,valid,test}.txt[.gz]``, a file, a registry name, an rdflib graph).
        name: the step's name (the provenance prefix), e.g. ``"ENTITY/1"``.
        seed: seed of the random split of a source that has none (default: 0).
    """
    from kgtransfer.knowledge.sources import load

    kg = load(source)  # tab-separated labels: load's one namespace for all snapshots, so labels match across steps
    roles = split_roles(kg.sources)
    if any(r is not None for r in roles):  # split files, even train alone: their roles as given
        role = np.zeros(len(kg), dtype=np.int64)
        for source, r in zip(kg.sources, roles, strict=True):
            if r:
                hit = kg.held_by([source])
                role[hit] = np.maximum(role[hit], r)
        warn_split_overlap(name, int(split_overlap(kg).sum()))
    else:
        role = triple_roles(kg, seed)
    sources = tuple(f"{name}/{s}" for s in SPLITS)
    return kg.replace(provenance=role, source_sets=((0,), (1,), (2,)), sources=sources, name=name)


def triple_roles(kg: KnowledgeGraph, seed: int = 0, shares: tuple[float, float] = (0.8, 0.1)) -> np.ndarray:
    """Train (0), valid (1) or test (2) for each triple of ``kg``, from a seeded hash of the triple's terms.

    The role depends on the triple and the seed alone, not on the graph it is in, so the snapshots of
    a growing graph agree on every triple they share (a triple trained on at one step is not tested at
    the next). About ``shares[0]`` of the triples train and ``shares[1]`` validate.
    """
    import hashlib

    salt = seed.to_bytes(8, "little", signed=True)
    term_hash = np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8, key=salt).digest(), "little")
            for t in kg.terms.tolist()
        ),
        dtype=np.uint64,
        count=len(kg.terms),
    )
    h = term_hash[kg.triples]
    with np.errstate(over="ignore"):  # multiplication modulo 2**64 mixes the three terms in order
        x = h[:, 0] * np.uint64(0x9E3779B97F4A7C15) + h[:, 1] * np.uint64(0xBF58476D1CE4E5B9) + h[:, 2]
        x ^= x >> np.uint64(31)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(29)
    u = (x >> np.uint64(11)).astype(np.float64) / 2.0**53
    return np.where(u < shares[0], 0, np.where(u < shares[0] + shares[1], 1, 2)).astype(np.int64)
