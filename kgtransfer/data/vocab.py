"""Deterministic, IRI-keyed vocabularies: canonical term string -> integer id.

Ids are assigned in sorted order of the keys (Python string order, i.e. by code point), never in
set or hash order, so the same graph gives the same ids in every process whatever
``PYTHONHASHSEED`` is. :meth:`Vocab.extend` appends new keys after the existing ones (again
sorted), so the rows a model learned on a source graph K1 keep their ids in a merged graph K —
parameter transfer relies on that.

A :class:`GraphVocab` pairs the entity and the relation vocabulary of one graph and is what
:mod:`kgtransfer.data.tensorize` and :mod:`kgtransfer.data.splits` attach to their tensors.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from kgtransfer.errors import UnknownTermError
from kgtransfer.knowledge import terms as T
from kgtransfer.knowledge.graph import KnowledgeGraph

LiteralPolicy = Literal["drop", "nodes", "features"]
BlankNodePolicy = Literal["keep", "drop"]
LITERAL_POLICIES = ("drop", "nodes", "features")
BLANK_NODE_POLICIES = ("keep", "drop")


class Vocab:
    """An immutable map from canonical term strings to ids ``0 .. len - 1``.

    Build one with :meth:`build` (ids in sorted key order) or :meth:`extend` an existing one; the
    constructor takes keys already in id order.

    Args:
        keys: the keys in id order; must be unique strings.
    """

    __slots__ = ("_keys", "_index")

    def __init__(self, keys: Sequence[str] = ()):
        self._keys: tuple[str, ...] = tuple(keys)
        self._index: dict[str, int] = {k: i for i, k in enumerate(self._keys)}
        if len(self._index) != len(self._keys):
            dup = sorted(k for k, n in Counter(self._keys).items() if n > 1)
            raise ValueError(f"vocabulary keys must be unique; repeated: {dup[:5]}")
        bad = [k for k in self._keys if not isinstance(k, str)]
        if bad:
            raise TypeError(f"vocabulary keys are canonical term strings, got {bad[:3]!r}")

    @classmethod
    def build(cls, keys: Iterable[str]) -> Vocab:
        """A vocabulary over the distinct ``keys``, ids in sorted key order."""
        return cls(sorted(set(keys)))

    @staticmethod
    def from_graph(
        kg: KnowledgeGraph, literals: LiteralPolicy = "drop", blank_nodes: BlankNodePolicy = "keep"
    ) -> GraphVocab:
        """The entity and relation vocabularies of ``kg`` (see :meth:`GraphVocab.from_graph`)."""
        return GraphVocab.from_graph(kg, literals, blank_nodes)

    def extend(self, keys: Iterable[str]) -> Vocab:
        """A new vocabulary: existing ids stay put, unseen ``keys`` get the next ids in sorted order."""
        new = sorted({k for k in keys if k not in self._index})
        return Vocab(self._keys + tuple(new)) if new else self

    # --- lookup -------------------------------------------------------------------------------

    def index(self, keys: Iterable[str], missing: Literal["raise", "ignore"] = "raise") -> np.ndarray:
        """The ids of ``keys`` as an int64 array.

        Args:
            keys: canonical term strings (or bare IRIs, rdflib terms).
            missing: ``"raise"`` raises :class:`~kgtransfer.errors.UnknownTermError` (a ``KeyError``)
                naming a few unknown keys; ``"ignore"``
                gives them id ``-1`` (default: ``"raise"``).
        """
        if missing not in ("raise", "ignore"):
            raise ValueError(f"missing must be 'raise' or 'ignore', got {missing!r}")
        keys = keys.tolist() if isinstance(keys, np.ndarray) else list(keys)
        get = self._index.get
        ids = np.fromiter((get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
        for i in np.flatnonzero(ids < 0).tolist():  # a bare IRI or an rdflib term names a key too
            ids[i] = get(_key_form(keys[i]), -1)
        if missing == "raise" and (ids < 0).any():
            unknown = sorted({keys[i] for i in np.flatnonzero(ids < 0)[:1000].tolist()})
            more = f" (and {int((ids < 0).sum()) - len(unknown)} more)" if (ids < 0).sum() > len(unknown) else ""
            raise UnknownTermError(f"{len(unknown)} keys not in the vocabulary, e.g. {unknown[:5]}{more}")
        return ids

    def key(self, ids: int | Iterable[int]) -> str | list[str]:
        """The key of one id, or the keys of many."""
        if isinstance(ids, int | np.integer):
            return self._keys[int(ids)]
        return [self._keys[int(i)] for i in ids]

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys in id order."""
        return self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._index or _key_form(key) in self._index

    def __getitem__(self, key) -> int:
        """The id of one key (a canonical term string, a bare IRI or an rdflib term)."""
        return int(self.index([key])[0])

    def __iter__(self):
        return iter(self._keys)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self._keys == other._keys

    __hash__ = None

    def __repr__(self) -> str:
        shown = ", ".join(self._keys[:3]) + (", ..." if len(self) > 3 else "")
        return f"Vocab({len(self)}: [{shown}])"

    # --- persistence --------------------------------------------------------------------------

    def to_json(self) -> dict:
        """A JSON-ready dict ``{"keys": [...]}`` (keys in id order)."""
        return {"keys": list(self._keys)}

    @classmethod
    def from_json(cls, data: dict) -> Vocab:
        """The vocabulary written by :meth:`to_json`."""
        return cls(data["keys"])

    def save(self, path: str | os.PathLike) -> Path:
        """Write JSON atomically (a temporary file renamed into place)."""
        return atomic_write_json(path, self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocab:
        """Read a vocabulary written by :meth:`save`."""
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


@dataclass(frozen=True, eq=True)
class GraphVocab:
    """The entity and relation vocabularies of a graph.

    Attributes:
        entities: subjects and objects (literals only under ``literals="nodes"``).
        relations: the predicates of the triples kept as edges.
    """

    entities: Vocab
    relations: Vocab

    @classmethod
    def from_graph(
        cls, kg: KnowledgeGraph, literals: LiteralPolicy = "drop", blank_nodes: BlankNodePolicy = "keep"
    ) -> GraphVocab:
        """Entities and relations of the triples that ``to_pyg`` keeps as edges under the same policies.

        Args:
            kg: the graph.
            literals: the literal policy of :func:`~kgtransfer.data.tensorize.to_pyg` (default: ``"drop"``).
            blank_nodes: the blank-node policy (default: ``"keep"``).
        """
        return cls(Vocab(), Vocab()).extend(kg, literals, blank_nodes)

    def extend(
        self, kg: KnowledgeGraph, literals: LiteralPolicy = "drop", blank_nodes: BlankNodePolicy = "keep"
    ) -> GraphVocab:
        """Add ``kg``'s entities and relations (policies as in :meth:`from_graph`); existing ids stay put."""
        triples = kg.triples[edge_mask(kg, literals, blank_nodes)]
        entities = kg.terms[unique_ids(triples[:, [0, 2]], len(kg.terms))]
        if literals == "features":  # an entity that only has literal values still gets a row
            entities = np.union1d(entities, kg.terms[np.unique(kg.triples[literal_mask(kg, blank_nodes), 0])])
        relations = kg.terms[unique_ids(triples[:, 1], len(kg.terms))]
        return GraphVocab(self.entities.extend(entities.tolist()), self.relations.extend(relations.tolist()))

    def __repr__(self) -> str:
        return f"GraphVocab(entities={len(self.entities)}, relations={len(self.relations)})"

    def to_json(self) -> dict:
        """A JSON-ready dict with both key lists."""
        return {"entities": list(self.entities.keys), "relations": list(self.relations.keys)}

    @classmethod
    def from_json(cls, data: dict) -> GraphVocab:
        """The vocabularies written by :meth:`to_json`."""
        return cls(Vocab(data["entities"]), Vocab(data["relations"]))

    def save(self, path: str | os.PathLike) -> Path:
        """Write JSON atomically (a temporary file renamed into place)."""
        return atomic_write_json(path, self.to_json())

    @classmethod
    def load(cls, path: str | os.PathLike) -> GraphVocab:
        """Read vocabularies written by :meth:`save`."""
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


# --- policies shared with tensorize -----------------------------------------------------------


def unique_ids(ids: np.ndarray, size: int) -> np.ndarray:
    """The sorted distinct values of ``ids`` (all in ``[0, size)``), by marking, not sorting."""
    seen = np.zeros(size, dtype=bool)
    seen[ids.ravel()] = True
    return np.flatnonzero(seen)


def term_kind(terms: np.ndarray) -> np.ndarray:
    """Per canonical term string: 0 for an IRI, 1 for a blank node, 2 for a literal."""
    first = np.fromiter((t[0] for t in terms.tolist()), dtype="<U1", count=len(terms))
    return np.select([first == "<", first == "_"], [0, 1], 2).astype(np.int8)


def _check_policies(literals: str, blank_nodes: str) -> None:
    if literals not in LITERAL_POLICIES:
        raise ValueError(f"literals must be one of {LITERAL_POLICIES}, got {literals!r}")
    if blank_nodes not in BLANK_NODE_POLICIES:
        raise ValueError(f"blank_nodes must be one of {BLANK_NODE_POLICIES}, got {blank_nodes!r}")


def edge_mask(
    kg: KnowledgeGraph, literals: LiteralPolicy = "drop", blank_nodes: BlankNodePolicy = "keep"
) -> np.ndarray:
    """Which of ``kg.triples`` become edges (literal objects only under ``"nodes"``)."""
    _check_policies(literals, blank_nodes)
    kind = term_kind(kg.terms)
    ks, ko = kind[kg.triples[:, 0]], kind[kg.triples[:, 2]]
    keep = np.ones(len(kg.triples), dtype=bool) if literals == "nodes" else ko != 2
    if blank_nodes == "drop":
        keep &= (ks != 1) & (ko != 1)
    return keep


def literal_mask(kg: KnowledgeGraph, blank_nodes: BlankNodePolicy = "keep") -> np.ndarray:
    """Which of ``kg.triples`` have a literal object (and a non-blank subject if blank nodes are dropped)."""
    kind = term_kind(kg.terms)
    keep = kind[kg.triples[:, 2]] == 2
    if blank_nodes == "drop":
        keep &= kind[kg.triples[:, 0]] != 1
    return keep


def atomic_write_json(path: str | os.PathLike, data: object) -> Path:
    """Write ``data`` as JSON atomically (see :func:`kgtransfer.files.atomic_write_text`)."""
    from kgtransfer.files import atomic_write_text

    atomic_write_text(path, json.dumps(data, ensure_ascii=False) + "\n")
    return Path(path)


def _key_form(key: object) -> str | None:
    """The canonical string a key names when it is not one: ``http://e/a`` is ``<http://e/a>``; None if none."""
    if type(key) is str and key.startswith(("<", '"', "_:")):  # looked up as it is (a miss costs nothing more)
        return None
    return T.lookup_form(key) if isinstance(key, str) else None  # rdflib terms are str subclasses
