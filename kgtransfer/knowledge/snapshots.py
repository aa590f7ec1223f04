"""Snapshots of a growing knowledge graph: one KnowledgeGraph per step, with its own train/valid/test.

A snapshot is anything :func:`kgtransfer.load` accepts, e.g. a folder of tab-separated
``train/valid/test.txt[.gz]`` label files, the layout of the continual KG-embedding benchmarks
(labels become IRIs under one shared namespace, so the same label is the same entity at every
step). Its triples carry the provenance sources ``<name>/train``, ``<name>/valid`` and
``<name>/test``, so after a merge every triple still says which step and which split brought it.
A source without split sources is split at random (seeded, 0.8/0.1/0.1).
"""

from __future__ import annotations

import numpy as np

from kgtransfer.knowledge.graph import KnowledgeGraph

SPLITS = ("train", "valid", "test")
_ROLE = {"train": 0, "training": 0, "valid": 1, "validation": 1, "test": 2}


def load_snapshot(source, name: str, namespace: str | None = None, seed: int = 0) -> KnowledgeGraph:
    """One snapshot as a graph whose sources are ``name/train``, ``name/valid``, ``name/test``.

    Args:
        source: a KnowledgeGraph or anything :func:`kgtransfer.load` accepts (a folder of
            ``{train,valid,test}.txt[.gz]``, a file, a registry name, an rdflib graph).
        name: the step's name (the provenance prefix), e.g. ``"ENTITY/1"``.
        namespace: IRI prefix of tab-separated labels (default: :func:`kgtransfer.load`'s, one for all
            snapshots, so labels match across steps).
        seed: seed of the random split of a source that has none (default: 0).
    """
    from kgtransfer.knowledge.sources import load

    kg = load(source, namespace=namespace)
    roles = [_ROLE.get(s.rsplit("/", 1)[-1].lower()) for s in kg.sources]
    if any(r in (1, 2) for r in roles):
        role = np.zeros(len(kg), dtype=np.int64)
        for source, r in zip(kg.sources, roles, strict=True):
            if r:
                hit = kg.held_by([source])
                role[hit] = np.maximum(role[hit], r)
    else:
        role = np.random.default_rng(seed).choice(3, size=len(kg), p=(0.8, 0.1, 0.1))
    sources = tuple(f"{name}/{s}" for s in SPLITS)
    return kg.replace(provenance=role, source_sets=((0,), (1,), (2,)), sources=sources, name=name)
