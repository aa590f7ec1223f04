"""Snapshots of a growing knowledge graph: one KnowledgeGraph per step, with its own train/valid/test.

A snapshot is any source :func:`kgtransfer.load` accepts, or a folder of tab-separated
``train/valid/test.txt`` (``.txt.gz`` too) label files, the layout of the continual KG-embedding
benchmarks. Its triples carry the provenance sources ``<name>/train``, ``<name>/valid`` and
``<name>/test``, so after a merge every triple still says which step and which split brought it.
A source without such sources is split at random (seeded, 0.8/0.1/0.1).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from urllib.parse import quote

import numpy as np

from kgtransfer.errors import RDFSyntaxError, SourceNotFoundError
from kgtransfer.knowledge.graph import KnowledgeGraph

SPLITS = ("train", "valid", "test")
_ROLE = {"train": 0, "training": 0, "valid": 1, "validation": 1, "test": 2}


def load_snapshot(source, name: str, namespace: str | None = None, seed: int = 0) -> KnowledgeGraph:
    """One snapshot as a graph whose sources are ``name/train``, ``name/valid``, ``name/test``.

    Args:
        source: a folder of ``{train,valid,test}.txt[.gz]``, a KnowledgeGraph, or anything
            :func:`kgtransfer.load` accepts.
        name: the step's name (the provenance prefix), e.g. ``"ENTITY/1"``.
        namespace: IRI prefix of the labels of a TSV folder (default: ``urn:kgtransfer:<folder name of the
            dataset>:``, shared by all snapshots of one dataset so labels match across steps).
        seed: seed of the random split of a source that has none (default: 0).
    """
    if isinstance(source, str | os.PathLike) and Path(source).is_dir():
        folder = Path(source)
        namespace = namespace or f"urn:kgtransfer:{quote(folder.resolve().parent.name, safe='')}:"
        return read_tsv_folder(folder, namespace, name)
    from kgtransfer.knowledge.sources import load

    kg = load(source)
    roles = [_ROLE.get(s.rsplit("/", 1)[-1].lower()) for s in kg.sources]
    if any(r in (1, 2) for r in roles):
        role = np.zeros(len(kg), dtype=np.int64)
        for i, r in enumerate(roles):
            if r:
                hit = (kg.provenance & np.uint64(1 << i)) != 0
                role[hit] = np.maximum(role[hit], r)
    else:
        role = np.random.default_rng(seed).choice(3, size=len(kg), p=(0.8, 0.1, 0.1))
    provenance = (np.uint64(1) << role.astype(np.uint64)).astype(np.uint64)
    return kg.replace(provenance=provenance, sources=tuple(f"{name}/{s}" for s in SPLITS), name=name)


def read_tsv_folder(folder: str | os.PathLike, namespace: str, name: str) -> KnowledgeGraph:
    """``train/valid/test.txt`` (or ``.txt.gz``) of tab-separated labels as one graph, a source per split.

    Labels become IRIs ``namespace + quote(label)``.
    """
    folder = Path(folder)
    index: dict[str, int] = {}
    setdefault = index.setdefault
    flat: list[int] = []
    role: list[int] = []
    for bit, split in enumerate(SPLITS):
        path = next((p for p in (folder / f"{split}.txt", folder / f"{split}.txt.gz") if p.is_file()), None)
        if path is None:
            raise SourceNotFoundError(f"{folder}: no {split}.txt or {split}.txt.gz")
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            for line_no, line in enumerate(f, 1):
                if not line.strip():
                    continue
                parts = line.rstrip("\n\r").split("\t")
                if len(parts) != 3:
                    raise RDFSyntaxError(f"expected 3 tab-separated fields, found {len(parts)}", str(path), line_no)
                flat += [setdefault(f"<{namespace}{quote(x.strip(), safe='')}>", len(index)) for x in parts]
                role.append(1 << bit)
    terms = np.empty(len(index), dtype=object)
    terms[:] = list(index)
    return KnowledgeGraph(
        terms,
        np.asarray(flat, dtype=np.int64).reshape(-1, 3),
        np.asarray(role, dtype=np.uint64),
        [f"{name}/{s}" for s in SPLITS],
        name,
    )
