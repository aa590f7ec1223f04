r"""Provenance as a table of source sets: any number of sources, vectorized operators.

A graph's ``provenance`` is an ``(n,)`` int64 array of ids into ``source_sets``, a tuple of
sorted tuples of source indices: triple ``i`` was held by exactly the sources
``source_sets[provenance[i]]``. Real data has few distinct sets (a triple is in one document, or in
both inputs of an operator), so the table stays small however many sources there are, and
operators never touch a Python object per triple: the union of two id arrays is computed once per
distinct pair of ids (``np.unique``), and the union over groups of duplicate rows by pairwise
halving, :math:`\lceil\log_2 g\rceil` vectorized rounds for groups of up to :math:`g` rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import PurePosixPath

import numpy as np

SourceSet = tuple[int, ...]


class SetTable:
    """An interning table of source sets, grown as unions create new ones.

    Args:
        sets: the initial sets (each a sorted tuple of source indices; duplicates allowed).
    """

    def __init__(self, sets: Iterable[SourceSet] = ()):
        self.sets: list[SourceSet] = list(sets)
        self.index: dict[SourceSet, int] = {}
        for i, s in enumerate(self.sets):
            self.index.setdefault(s, i)

    def intern(self, s: SourceSet) -> int:
        """The id of set ``s`` (added when new)."""
        i = self.index.get(s)
        if i is None:
            i = self.index[s] = len(self.sets)
            self.sets.append(s)
        return i

    def union(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Elementwise union of two id arrays: ``sets[a[i]] ∪ sets[b[i]]``."""
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        if len(a) == 0:
            return a.copy()
        m = max(len(self.sets), 1)
        pairs, inverse = np.unique(a * m + b, return_inverse=True)
        sets = self.sets
        ids = [
            self.intern(tuple(sorted(set(sets[p // m]).union(sets[p % m])))) if p // m != p % m else p // m
            for p in pairs.tolist()
        ]
        return np.asarray(ids, dtype=np.int64)[inverse.reshape(-1)]

    def reduce(self, ids: np.ndarray, starts: np.ndarray) -> np.ndarray:
        """The union over each group of consecutive ids (groups begin at ``starts``), one id per group."""
        ids = np.asarray(ids, dtype=np.int64)
        sizes = np.diff(np.r_[starts, len(ids)])
        if len(ids) == 0 or sizes.max(initial=1) == 1:
            return ids[starts].copy()
        group = np.repeat(np.arange(len(starts)), sizes)
        while len(ids) > len(starts):
            first = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
            pos = np.arange(len(ids)) - np.repeat(first, np.diff(np.r_[first, len(ids)]))
            left = np.flatnonzero((pos % 2 == 0) & np.r_[group[1:] == group[:-1], False])
            merged = ids.copy()
            merged[left] = self.union(ids[left], ids[left + 1])
            drop = np.zeros(len(ids), dtype=bool)
            drop[left + 1] = True
            ids, group = merged[~drop], group[~drop]
        return ids

    def contains(self, members: Iterable[int]) -> np.ndarray:
        """Per set id: whether the set holds any of ``members``."""
        wanted = set(members)
        return np.fromiter((not wanted.isdisjoint(s) for s in self.sets), dtype=bool, count=len(self.sets))


def from_masks(masks: np.ndarray, num_sources: int) -> tuple[tuple[SourceSet, ...], np.ndarray]:
    """``(source_sets, ids)`` for legacy bit masks (bit ``i`` = source ``i``; at most 64 sources)."""
    masks = np.asarray(masks, dtype=np.uint64)
    unique, inverse = np.unique(masks, return_inverse=True)
    sets = tuple(tuple(i for i in range(min(num_sources, 64)) if int(m) >> i & 1) for m in unique.tolist())
    return sets, inverse.reshape(-1).astype(np.int64)


def compact_sets(
    sets: Sequence[SourceSet], ids: np.ndarray, drop_sources: bool = False
) -> tuple[tuple[SourceSet, ...], np.ndarray, np.ndarray | None]:
    """Drop unused sets and merge equal ones; with ``drop_sources``, also the sources no triple has.

    Returns:
        ``(sets, ids, kept)``: the new table and ids, and (with ``drop_sources``) the ascending
        indices of the sources kept, else None.
    """
    ids = np.asarray(ids, dtype=np.int64)
    used = np.flatnonzero(np.bincount(ids, minlength=len(sets))) if len(ids) else np.zeros(0, dtype=np.int64)
    kept = None
    new_index = None
    canonical = len(used) == len(sets) and len(set(sets)) == len(sets)
    if canonical and not drop_sources:
        return tuple(sets), ids, None
    if drop_sources:
        live = sorted(set().union(*(sets[u] for u in used.tolist()))) or [0]
        if canonical and live[-1] == len(live) - 1:  # every source is used: nothing to renumber
            return tuple(sets), ids, np.arange(len(live), dtype=np.int64)
        new_index = {old: new for new, old in enumerate(live)}
        kept = np.asarray(live, dtype=np.int64)
    table = SetTable()
    remap = np.zeros(max(len(sets), 1), dtype=np.int64)
    for u in used.tolist():
        s = sets[u] if new_index is None else tuple(new_index[i] for i in sets[u])
        remap[u] = table.intern(s)
    if not table.sets:
        table.intern((0,))
    return tuple(table.sets), remap[ids], kept


def source_key(name: str, origin: str | None) -> tuple[str, str]:
    """A source's identity: the path it was read from where known, else its name."""
    return ("path", origin) if origin else ("name", name)


def distinct_names(names: Sequence[str], origins: Sequence[str | None]) -> list[str]:
    """Display names for distinct sources, some of which share a name (``data.ttl`` read from two folders).

    Each source of a shared name that knows its origin is prefixed with the fewest trailing folders
    of its origin, above the part the name spells, that tell it from the others (``v1/data.ttl``,
    ``v2/data.ttl``); a name still taken after that gets ``#2``, ``#3``, ...
    """
    out = list(names)
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        positions.setdefault(name, []).append(i)
    for name, where in positions.items():
        if len(where) < 2:
            continue
        parents = {i: _folders(name, origins[i]) for i in where if origins[i]}
        deepest = max((len(p) for p in parents.values()), default=0)
        k = next((k for k in range(1, deepest) if len({p[-k:] for p in parents.values()}) == len(parents)), deepest)
        for i, parts in parents.items():
            out[i] = f"{PurePosixPath(*parts[-k:]).as_posix().rstrip('/')}/{name}" if parts else name
    taken: set[str] = set()
    next_number: dict[str, int] = {}  # per name, the suffix to try next (each name's tries are counted once)
    for i, name in enumerate(out):
        unique, n = name, next_number.get(name, 2)
        while unique in taken:
            unique, n = f"{name}#{n}", n + 1
        next_number[name] = n
        taken.add(unique)
        out[i] = unique
    return out


def _folders(name: str, origin: str) -> tuple[str, ...]:
    """The folders of ``origin`` above the part that ``name`` spells (``/data/v1/`` of ``/data/v1/data.ttl``)."""
    head = origin[: -len(name)] if origin.endswith(f"/{name}") else str(PurePosixPath(origin).parent)
    return PurePosixPath(head).parts
