r"""From a :class:`~kgtransfer.knowledge.graph.KnowledgeGraph` to PyG tensors.

:class:`Triples` is the validated container of ``(head, relation, tail)`` vocabulary ids;
:meth:`Triples.to_pyg` builds the message-passing graph with inverse relations, and
:func:`to_pyg` does both steps for a whole graph.

Message edges. A triple :math:`(h, r, t)` gives two directed edges, :math:`h \to t` of type
:math:`2r` and :math:`t \to h` of type :math:`2r + 1`, so ``edge_index`` is ``[2, 2E]`` (the
:math:`E` forward edges first, then their inverses in the same order) and ``edge_type`` lies in
:math:`[0, 2R)`.

Literal policies (``literals=``):

- ``"drop"``: triples whose object is a literal are removed.
- ``"nodes"``: a literal is a node like any other, keyed by its canonical string (so
  ``"1"^^xsd:int`` and ``"1"`` are two nodes, and two subjects with the value ``"1"`` share one).
- ``"features"``: literal triples are removed from the edges and turned into a node feature
  matrix ``x`` of shape ``[num_nodes, 2P]`` (``P`` predicates with literal objects, sorted by
  key). For each predicate there is a value column and a mask column (1 where the entity has a
  value). The raw value of a literal is the number for numeric XSD datatypes, 1/0 for
  ``xsd:boolean``, and the length of the lexical form for every other datatype (strings,
  language-tagged strings, dates, ...); literals that fail to parse count as missing, and several
  values of one predicate are averaged. Each value column is standardized over the entities that
  have a value, :math:`x \leftarrow (x - \mu_p) / \sigma_p` (:math:`\sigma_p = 1` when it is 0),
  and missing entries are 0. ``data.feature_names`` names the columns.

Blank-node policies (``blank_nodes=``): ``"keep"`` (blank nodes are ordinary nodes, keyed by
their label) or ``"drop"`` (every triple with a blank subject or object is removed).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from kgtransfer._pyg import Data
from kgtransfer.data.vocab import (
    BlankNodePolicy,
    GraphVocab,
    LiteralPolicy,
    Vocab,
    edge_mask,
    literal_mask,
    unique_ids,
)
from kgtransfer.knowledge import terms as T
from kgtransfer.knowledge.graph import KnowledgeGraph

_NUMERIC_NAMES = (
    "integer", "decimal", "float", "double", "long", "int", "short", "byte", "nonNegativeInteger",
    "positiveInteger", "negativeInteger", "nonPositiveInteger", "unsignedLong", "unsignedInt",
    "unsignedShort", "unsignedByte",
)  # fmt: skip
_NUMERIC = {T.XSD + name for name in _NUMERIC_NAMES}
_BOOLEAN = T.XSD + "boolean"


@dataclass(frozen=True, eq=False)
class Triples:
    """A validated table of ``(head, relation, tail)`` ids, as PyKEEN's ``CoreTriplesFactory``.

    Attributes:
        tensor: ``[n, 3]`` int64 rows ``(h, r, t)``.
        num_entities: ids of heads and tails lie in ``[0, num_entities)``.
        num_relations: relation ids lie in ``[0, num_relations)``.
        vocab: the vocabularies the ids index, when known (default: :obj:`None`).
    """

    tensor: Tensor
    num_entities: int
    num_relations: int
    vocab: GraphVocab | None = None

    def __post_init__(self):
        tensor = torch.as_tensor(self.tensor)
        if tensor.dtype.is_floating_point or tensor.dtype == torch.bool:
            raise TypeError(f"triples must be integer ids, got {tensor.dtype}")
        tensor = tensor.to(torch.long).reshape(-1, 3) if tensor.numel() == 0 else tensor.to(torch.long)
        if tensor.dim() != 2 or tensor.size(1) != 3:
            raise ValueError(f"triples must have shape [n, 3], got {tuple(tensor.shape)}")
        if self.num_entities < 0 or self.num_relations < 0:
            raise ValueError(f"counts must be >= 0, got {self.num_entities} and {self.num_relations}")
        if self.vocab is not None and (
            len(self.vocab.entities) != self.num_entities or len(self.vocab.relations) != self.num_relations
        ):
            raise ValueError(
                f"vocab has {len(self.vocab.entities)} entities and {len(self.vocab.relations)} relations, "
                f"but num_entities={self.num_entities}, num_relations={self.num_relations}"
            )
        if tensor.numel():
            ents, rels = tensor[:, [0, 2]], tensor[:, 1]
            if int(ents.min()) < 0 or int(ents.max()) >= self.num_entities:
                raise ValueError(f"entity ids must lie in [0, {self.num_entities}), got [{ents.min()}, {ents.max()}]")
            if int(rels.min()) < 0 or int(rels.max()) >= self.num_relations:
                raise ValueError(
                    f"relation ids must lie in [0, {self.num_relations}), got [{rels.min()}, {rels.max()}]"
                )
        object.__setattr__(self, "tensor", tensor)

    @classmethod
    def from_graph(
        cls,
        kg: KnowledgeGraph,
        vocab: GraphVocab | None = None,
        literals: LiteralPolicy = "drop",
        blank_nodes: BlankNodePolicy = "keep",
    ) -> Triples:
        """The edge triples of ``kg`` under the given policies, as ids of ``vocab``, sorted by ``(h, r, t)``.

        Args:
            kg: the graph.
            vocab: the vocabularies; raises KeyError when a term is missing from them (default: built
                from ``kg`` with :meth:`GraphVocab.from_graph`).
            literals: ``"drop"``, ``"nodes"`` or ``"features"`` (literal triples are not edges under
                ``"features"``) (default: ``"drop"``).
            blank_nodes: ``"keep"`` or ``"drop"`` (default: ``"keep"``).
        """
        vocab = vocab or GraphVocab.from_graph(kg, literals, blank_nodes)
        hrt, _ = encode_triples(kg, vocab, literals, blank_nodes)
        return cls(torch.from_numpy(sort_rows(hrt)), len(vocab.entities), len(vocab.relations), vocab)

    def __len__(self) -> int:
        return self.tensor.size(0)

    def __repr__(self) -> str:
        return f"Triples({len(self)}, num_entities={self.num_entities}, num_relations={self.num_relations})"

    def with_tensor(self, tensor: Tensor) -> Triples:
        """The same vocabulary and counts over other rows."""
        return Triples(tensor, self.num_entities, self.num_relations, self.vocab)

    def subsample(self, fraction: float, seed: int = 0) -> Triples:
        """A seeded random ``fraction`` of the rows (rounded, at least one when there are rows), order kept.

        Args:
            fraction: share of rows kept, in ``(0, 1]``.
            seed: seed of the ``numpy`` generator (default: :obj:`0`).
        """
        return self.with_tensor(self.tensor[torch.from_numpy(subsample_mask(len(self), fraction, seed))])

    def labels(self) -> list[tuple[str, str, str]]:
        """The rows as canonical term strings (needs ``vocab``)."""
        if self.vocab is None:
            raise ValueError("these triples have no vocab")
        ents, rels = self.vocab.entities.keys, self.vocab.relations.keys
        return [(ents[h], rels[r], ents[t]) for h, r, t in self.tensor.tolist()]

    def to_pyg(self) -> Data:
        """The message graph: ``(h, r, t)`` gives ``h -> t`` of type ``2r`` and ``t -> h`` of type ``2r + 1``.

        Returns:
            ``Data`` with ``edge_index [2, 2E]`` (forward edges, then their inverses), ``edge_type [2E]``,
            ``num_nodes``, ``num_relations`` (edge types, inverses included: ``2R``, what PyG's
            ``RGCNConv(..., num_relations=...)`` needs), ``num_base_relations`` (original relations
            ``R``; ``edge_type // 2`` indexes them), ``triples [E, 3]`` and ``vocab``.
        """
        h, r, t = self.tensor.unbind(1)
        edge_index = torch.stack([torch.cat([h, t]), torch.cat([t, h])])
        edge_type = torch.cat([2 * r, 2 * r + 1])
        return Data(
            edge_index=edge_index,
            edge_type=edge_type,
            num_nodes=self.num_entities,
            num_relations=2 * self.num_relations,
            num_base_relations=self.num_relations,
            triples=self.tensor,
            vocab=self.vocab,
        )


def to_pyg(
    kg: KnowledgeGraph,
    vocab: GraphVocab | None = None,
    literals: LiteralPolicy = "drop",
    blank_nodes: BlankNodePolicy = "keep",
) -> Data:
    """A ``torch_geometric.data.Data`` message graph of ``kg`` with inverse edges (see the module docstring).

    Args:
        kg: the graph.
        vocab: entity and relation vocabularies, e.g. a source vocabulary extended by ``kg``; every
            node of the result is a row of it (default: built from ``kg``).
        literals: ``"drop"``, ``"nodes"`` or ``"features"`` (default: ``"drop"``).
        blank_nodes: ``"keep"`` or ``"drop"`` (default: ``"keep"``).

    Returns:
        ``Data`` with ``edge_index``, ``edge_type``, ``num_nodes``, ``num_relations``, ``triples``,
        ``vocab``, and under ``literals="features"`` also ``x`` and ``feature_names``.

    The edges already run both ways (type ``2r + 1`` is the inverse of ``2r``), and a node pair may
    hold several typed edges: PyG's ``ToUndirected`` would merge those and sum their types, and
    ``RandomLinkSplit`` would split an edge apart from its inverse (a leak). Split with
    :mod:`kgtransfer.data.splits`, or use :func:`to_hetero_data`, one edge type per predicate.
    """
    vocab = vocab or GraphVocab.from_graph(kg, literals, blank_nodes)
    data = Triples.from_graph(kg, vocab, literals, blank_nodes).to_pyg()
    if literals == "features":
        data.x, data.feature_names = literal_features(kg, vocab.entities, blank_nodes)
    return data


def to_hetero_data(
    kg: KnowledgeGraph,
    vocab: GraphVocab | None = None,
    literals: LiteralPolicy = "drop",
    blank_nodes: BlankNodePolicy = "keep",
):
    """A ``torch_geometric.data.HeteroData`` of ``kg``: one node type, one edge type per predicate.

    Every entity is a node of type ``"entity"`` (ids of ``vocab.entities``; ``data["entity"].iri``
    lists their terms). Each predicate gives the edge type ``("entity", name, "entity")`` with
    ``edge_index [2, E_p]``, where ``name`` is its IRI's local name in letters, digits and
    underscores (:func:`edge_type_names`: what PyG's ``to_hetero`` and type checks accept; an IRI
    holds ``.`` and ``/``); ``data.relation_names`` lists the names and ``data.relation_iris`` the
    predicates' IRIs, both in relation-id order. Inverse edges are not added (use
    ``torch_geometric.transforms.ToUndirected(merge=False)``, which adds ``rev_<name>`` types: its
    default ``merge=True`` folds each inverse into its own predicate's type, since both ends are
    entities, and the direction is lost). Under ``literals="features"``, ``data["entity"].x`` holds
    the literal features of :func:`literal_features`.

    Args:
        kg: the graph.
        vocab: entity and relation vocabularies (default: built from ``kg``).
        literals: ``"drop"``, ``"nodes"`` or ``"features"`` (default: ``"drop"``).
        blank_nodes: ``"keep"`` or ``"drop"`` (default: ``"keep"``).
    """
    from kgtransfer._pyg import HeteroData

    vocab = vocab or GraphVocab.from_graph(kg, literals, blank_nodes)
    triples = Triples.from_graph(kg, vocab, literals, blank_nodes).tensor
    data = HeteroData()
    data["entity"].num_nodes = len(vocab.entities)
    data["entity"].iri = [k[1:-1] if k.startswith("<") else k for k in vocab.entities.keys]
    iris = [k[1:-1] if k.startswith("<") else k for k in vocab.relations.keys]
    names = edge_type_names(iris)
    by_relation = triples[torch.argsort(triples[:, 1], stable=True)]  # one sort, not a scan per relation
    sizes = torch.bincount(triples[:, 1], minlength=len(names)).tolist()
    for name, rows in zip(names, torch.split(by_relation, sizes), strict=True):
        data["entity", name, "entity"].edge_index = rows[:, [0, 2]].t().contiguous()
    data.relation_names, data.relation_iris = names, iris
    if literals == "features":
        data["entity"].x, data["entity"].feature_names = literal_features(kg, vocab.entities, blank_nodes)
    return data


def edge_type_names(iris: Sequence[str]) -> list[str]:
    """Distinct PyG type names for predicate IRIs: each IRI's local name in ``[A-Za-z0-9_]``.

    The local name follows the last ``#``, ``/`` or ``:``; other characters become ``_``; a name
    that is empty or starts with a digit gets the prefix ``p_``; a name met again (``foaf:name``,
    ``schema:name``) gets ``_2``, ``_3``, ... in the order of ``iris``.
    """
    names: list[str] = []
    taken: set[str] = set()
    next_number: dict[str, int] = {}  # per local name, the suffix to try next
    for iri in iris:
        local = re.sub(r"_+", "_", re.sub(r"\W", "_", re.split(r"[#/:]", iri.rstrip("#/:"))[-1], flags=re.ASCII))
        local = local.strip("_")
        if not local or local[0].isdigit():
            local = f"p_{local}"
        name, n = local, next_number.get(local, 1)
        while name in taken:
            n += 1
            name = f"{local}_{n}"
        next_number[local] = n
        taken.add(name)
        names.append(name)
    return names


def literal_features(
    kg: KnowledgeGraph, entities: Vocab, blank_nodes: BlankNodePolicy = "keep"
) -> tuple[Tensor, list[str]]:
    """The standardized literal feature matrix ``[len(entities), 2P]`` and its column names.

    See the module docstring for the columns and their normalization.

    Args:
        kg: the graph whose literal triples give the values.
        entities: the row vocabulary; a subject missing from it raises KeyError.
        blank_nodes: ``"drop"`` ignores literal triples of blank subjects (default: ``"keep"``).
    """
    rows = kg.triples[literal_mask(kg, blank_nodes)]
    preds, col = np.unique(rows[:, 1], return_inverse=True)
    pred_keys = kg.terms[preds].tolist()
    order = np.argsort(np.asarray(pred_keys, dtype=object), kind="stable")  # columns in key order
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    col = rank[col.reshape(-1)]
    pred_keys = [pred_keys[i] for i in order]
    objs, obj_inv = np.unique(rows[:, 2], return_inverse=True)
    values = np.array([literal_value(t) for t in kg.terms[objs].tolist()], dtype=np.float64)[obj_inv.reshape(-1)]
    ent = entities.index(kg.terms[rows[:, 0]])

    n, p = len(entities), len(pred_keys)
    ok = ~np.isnan(values)
    # a column of large numbers divided by a power of two (exact) to below 2 in magnitude, so that no sum or
    # square below overflows (two values near 1.7e308 made a NaN column, 1e200 beside 1 and 2 an all-0 one);
    # standardizing is the same on the scaled values
    peak = np.zeros(p)
    np.maximum.at(peak, col[ok], np.abs(values[ok]))
    values = values / np.ldexp(1.0, np.maximum(np.frexp(peak)[1] - 1, 0))[col]
    total, count = np.zeros((n, p)), np.zeros((n, p))
    np.add.at(total, (ent[ok], col[ok]), values[ok])
    np.add.at(count, (ent[ok], col[ok]), 1.0)
    present = count > 0
    mean = np.divide(total, count, out=np.zeros_like(total), where=present)
    for j in range(p):
        v = mean[present[:, j], j]
        if len(v):
            std = v.std()
            mean[present[:, j], j] = (v - v.mean()) / (std if std > 0 else 1.0)
    x = np.empty((n, 2 * p), dtype=np.float32)
    x[:, 0::2], x[:, 1::2] = mean, present
    names = [name for key in pred_keys for name in (f"{key} value", f"{key} present")]
    return torch.from_numpy(x), names


def literal_value(term: str) -> float:
    """A literal's raw feature value: its number, boolean 1/0, else lexical length; NaN if unparsable."""
    lexical, datatype, _ = T.literal_parts(term)
    if datatype in _NUMERIC:
        try:
            value = float(lexical.strip())
        except ValueError:
            return math.nan
        return value if math.isfinite(value) else math.nan
    if datatype == _BOOLEAN:
        return {"true": 1.0, "1": 1.0, "false": 0.0, "0": 0.0}.get(lexical.strip(), math.nan)
    return float(len(lexical))


def encode_triples(
    kg: KnowledgeGraph,
    vocab: GraphVocab,
    literals: LiteralPolicy = "drop",
    blank_nodes: BlankNodePolicy = "keep",
) -> tuple[np.ndarray, np.ndarray]:
    """``(hrt, keep)``: vocabulary ids ``(h, r, t)`` of the edge triples ``kg.triples[keep]``, graph order."""
    keep = edge_mask(kg, literals, blank_nodes)
    rows = kg.triples[keep]
    if not len(rows):
        return np.zeros((0, 3), dtype=np.int64), keep
    ent = _term_ids(kg, rows[:, [0, 2]], vocab.entities)
    rel = _term_ids(kg, rows[:, 1], vocab.relations)
    return np.stack([ent[:, 0], rel, ent[:, 1]], axis=1), keep


def subsample_mask(n: int, fraction: float, seed: int = 0) -> np.ndarray:
    """A boolean mask of ``round(fraction·n)`` (at least one if ``n > 0``) seeded positions of ``n``."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    k = min(n, max(1 if n else 0, round(fraction * n)))
    mask = np.zeros(n, dtype=bool)
    mask[np.random.default_rng(seed).permutation(n)[:k]] = True
    return mask


def sort_rows(hrt: np.ndarray) -> np.ndarray:
    """Rows of an ``(n, 3)`` array of ids ``>= 0`` in lexicographic ``(h, r, t)`` order."""
    if not len(hrt):
        return hrt
    r_size, t_size = int(hrt[:, 1].max()) + 1, int(hrt[:, 2].max()) + 1
    if (int(hrt[:, 0].max()) + 1) * r_size * t_size < 1 << 63:  # one int64 key per row: one sort
        # sorting the keys and unpacking them is several times faster than an argsort (the same rows)
        key = np.sort((hrt[:, 0].astype(np.int64) * r_size + hrt[:, 1]) * t_size + hrt[:, 2])
        return np.stack([key // (r_size * t_size), key // t_size % r_size, key % t_size], axis=1).astype(hrt.dtype)
    return hrt[np.lexsort((hrt[:, 2], hrt[:, 1], hrt[:, 0]))]


def _term_ids(kg: KnowledgeGraph, term_ids: np.ndarray, vocab: Vocab) -> np.ndarray:
    """Vocabulary ids of the graph terms ``term_ids`` (any shape); KeyError names missing terms."""
    used = unique_ids(term_ids, len(kg.terms))
    table = np.full(len(kg.terms), -1, dtype=np.int64)
    table[used] = vocab.index(kg.terms[used])
    return table[term_ids]
