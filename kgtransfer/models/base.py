"""The two extension points of ``kgtransfer.models``: :class:`Encoder` and :class:`Decoder`.

An encoder maps the message-passing graph (which already holds inverse edges: edge type ``2r`` is
relation ``r`` and ``2r + 1`` its inverse) to one vector per entity and one per original relation.
A decoder scores triples from those vectors; a higher score means a more plausible triple.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import torch
from torch import Tensor, nn

from kgtransfer.models.row_memory import RowLookup, RowMemory


def _plain_sparse(emb: nn.Module) -> bool:
    """Whether ``emb`` is a sparse ``nn.Embedding`` of rows alone: what :class:`.row_memory.RowLookup` computes.

    Not one with a padding row, a max norm or its gradient scaled by frequency.
    """
    if not isinstance(emb, nn.Embedding) or not emb.sparse:
        return False
    return emb.padding_idx is None and emb.max_norm is None and not emb.scale_grad_by_freq


#: Intermediate tensors of chunked all-entity scoring stay below about this many bytes.
SCORE_MEMORY_BYTES = 2**30


class Encoder(nn.Module, ABC):
    """Base class of entity and relation encoders.

    Subclasses hold ``entity_embedding`` (``[num_nodes, dim]``, the learned input rows that transfer
    keys by IRI) and ``relation_embedding`` (``[num_relations, dim]``, one row per original relation),
    and return ``(entity representations, relation representations)`` from :meth:`forward`.

    The contract transfer, freezing and probing rely on (never on parameter names or layer types):
    :meth:`entity_rows`, :meth:`relation_rows` and :meth:`edge_type_rows` name the parameters
    whose first axis is one row per entity, relation or edge type (``2r``, ``2r + 1``), and
    :meth:`layers` lists the message-passing layers in order. Every other parameter is shared by
    all rows. A subclass with more row parameters or with layers overrides these; the shared test
    cases in ``tests/models`` fail for a registered encoder whose declarations are incomplete.

    Args:
        num_nodes: number of entities.
        dim: embedding and hidden size.
        num_relations: number of original relations ``R``; message passing sees ``2 * R`` edge types.
        in_channels: size of optional input node features ``x``; when set, ``forward`` needs ``x``
            and adds ``Linear(x)`` to the learned entity rows (default: :obj:`None`).
    """

    #: Whether :meth:`forward` passes messages (False: the output rows do not depend on the graph).
    message_passing: bool = True
    #: Whether :meth:`forward` also encodes each relation's inverse: its relation representations are then
    #: ``[2 * num_relations, dim]``, row ``num_relations + r`` the inverse of ``r`` (CompGCN's inverse
    #: edge-type vectors), and a reciprocal link predictor scores head queries with those rows.
    inverse_relations: bool = False
    #: Whether :meth:`forward` takes ``num_sampled_nodes`` (the nodes per hop of a sampled subgraph, seeds
    #: first) and then computes only the seeds' rows, each layer over the hops it still needs ("trim to
    #: layer"); others encode the whole subgraph and the caller keeps the seeds' rows.
    trims_to_seeds: bool = False

    def __init__(self, num_nodes: int, dim: int, num_relations: int, in_channels: int | None = None):
        super().__init__()
        if num_nodes < 0 or num_relations < 0 or dim < 1:
            raise ValueError(
                f"{type(self).__name__}: need num_nodes >= 0, dim >= 1, num_relations >= 0; "
                f"got {num_nodes}, {dim}, {num_relations}"
            )
        self.num_nodes = num_nodes
        self.dim = dim
        self.num_relations = num_relations
        self.in_channels = in_channels
        self.entity_embedding = nn.Embedding(num_nodes, dim)
        self.relation_embedding = nn.Embedding(num_relations, dim)
        self.feature_proj = nn.Linear(in_channels, dim) if in_channels is not None else None
        # reused memory of a sampled step's looked-up rows and of the first layer's input gradient
        self._lookup_memory, self._input_grad_memory = RowMemory(), RowMemory()

    def train(self, mode: bool = True) -> Encoder:
        """Set training mode; leaving it drops the memory held for sampled steps (:mod:`.row_memory`)."""
        if not mode:
            self._lookup_memory.clear()
            self._input_grad_memory.clear()
        return super().train(mode)

    def reset_parameters(self) -> None:
        """Xavier-normal entity and relation rows (ComplEx needs it), default init for the rest."""
        nn.init.xavier_normal_(self.entity_embedding.weight)
        nn.init.xavier_normal_(self.relation_embedding.weight)
        if self.feature_proj is not None:
            self.feature_proj.reset_parameters()

    def entity_rows(self) -> list[str]:
        """Names (relative to this module) of the parameters with one row per entity."""
        return ["entity_embedding.weight"]

    def relation_rows(self) -> list[str]:
        """Names of the parameters with one row per original relation."""
        return ["relation_embedding.weight"]

    def edge_type_rows(self) -> list[str]:
        """Names of the parameters with one row per edge type (``2r`` forward, ``2r + 1`` inverse)."""
        return []

    @abstractmethod
    def layers(self) -> list[nn.Module]:
        """The message-passing layers, first to last (``[]`` for an encoder without message passing)."""

    def row_parameters(self) -> dict[str, str]:
        """Every row parameter's name and kind: ``"entity"``, ``"relation"`` or ``"edge_type"``."""
        kinds = {name: "entity" for name in self.entity_rows()}
        kinds.update({name: "relation" for name in self.relation_rows()})
        kinds.update({name: "edge_type" for name in self.edge_type_rows()})
        return kinds

    def node_input(self, x: Tensor | None, node_ids: Tensor | None = None) -> Tensor:
        """The first-layer node matrix ``[n, dim]``: learned rows plus projected features.

        Args:
            x: input node features ``[n, in_channels]``, required iff ``in_channels`` is set.
            node_ids: the global entity ids of the ``n`` nodes of a sampled subgraph (default: all
                ``num_nodes`` entities in order).
        """
        emb = self.entity_embedding
        if node_ids is None:
            h = emb.weight
        elif self.training and _plain_sparse(emb) and node_ids.dtype == torch.long:
            h = RowLookup.apply(emb.weight, node_ids, self._lookup_memory)  # sampled steps: nn.Embedding's rows
        else:
            h = emb(node_ids)
        if self.feature_proj is None:
            if x is not None:
                raise ValueError(f"{type(self).__name__} was built without in_channels; it takes no x")
            return h
        n = self.num_nodes if node_ids is None else len(node_ids)
        if x is None or x.shape != (n, self.in_channels):
            got = None if x is None else tuple(x.shape)
            raise ValueError(f"{type(self).__name__} needs x of shape {(n, self.in_channels)}, got {got}")
        return h + self.feature_proj(x.to(self.feature_proj.weight.dtype))  # float64 or integer features too

    def per_graph(self, edge_index: Tensor, edge_type: Tensor, build: Callable[[], object]):
        """``build()``, kept while the same graph comes back unchanged (what a layer derives from the graph alone).

        Whole-graph steps encode one graph at every step; a sampled step's subgraph is new each time. The
        entry holds the graph's own tensors, so their identity and version counters say exactly whether it
        is the same graph (an in-place change bumps the version).
        """
        versions = (edge_index._version, edge_type._version)
        cached = self.__dict__.get("_per_graph")
        if cached is None or cached[0] is not edge_index or cached[1] is not edge_type or cached[2] != versions:
            cached = self.__dict__["_per_graph"] = (edge_index, edge_type, versions, build())
        return cached[3]

    def __getstate__(self) -> dict:
        """The module's state for copies and pickles, without :meth:`per_graph`'s entry (rebuilt when needed)."""
        state = super().__getstate__()
        state.pop("_per_graph", None)
        return state

    def observe_graph(self, edge_index: Tensor, edge_type: Tensor, num_nodes: int) -> None:
        """Take what layers need of the whole message graph before encoding sampled subgraphs of it.

        Tasks call it when they train on neighbour-sampled steps (and a user of PyG's loaders should
        too). The default keeps nothing: a layer whose subgraph output needs whole-graph statistics
        (CompGCN's degree normalization) overrides it.
        """

    def check_graph(self, edge_index: Tensor, edge_type: Tensor) -> None:
        """Raise ValueError when the message-passing graph does not fit this encoder."""
        if edge_index.dim() != 2 or edge_index.size(0) != 2 or edge_type.shape != (edge_index.size(1),):
            raise ValueError(
                f"edge_index must be [2, E] and edge_type [E], got {tuple(edge_index.shape)} and "
                f"{tuple(edge_type.shape)}"
            )
        if edge_type.numel() and int(edge_type.max()) >= 2 * self.num_relations:
            raise ValueError(
                f"edge_type {int(edge_type.max())} out of range: {self.num_relations} relations give "
                f"{2 * self.num_relations} edge types (2r forward, 2r+1 inverse)"
            )

    @abstractmethod
    def forward(
        self, edge_index: Tensor, edge_type: Tensor, x: Tensor | None = None, node_ids: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Encode the graph, or a sampled subgraph of it.

        Args:
            edge_index: ``[2, E]`` source and target node ids, inverse edges included.
            edge_type: ``[E]`` edge types in ``[0, 2 * num_relations)``.
            x: optional input node features ``[n, in_channels]``.
            node_ids: for a subgraph, the global entity id of each of its ``n`` nodes; ``edge_index``
                then holds local ids ``0 .. n-1`` (default: the whole graph, ``n = num_nodes``).

        Returns:
            Entity representations ``[n, dim]`` and relation representations ``[num_relations, dim]``
            (``[2 * num_relations, dim]``, inverses last, when :attr:`inverse_relations`).
        """

    def extra_repr_args(self) -> list[str]:
        """Keyword arguments shown by ``repr`` after ``num_relations``."""
        return []

    def __repr__(self) -> str:
        args = [
            str(self.num_nodes),
            str(self.dim),
            f"num_relations={self.num_relations}",
            *self.extra_repr_args(),
        ]
        if self.in_channels is not None:
            args.append(f"in_channels={self.in_channels}")
        return f"{type(self).__name__}({', '.join(args)})"


class Decoder(nn.Module, ABC):
    """Base class of triple scoring functions ``f(h, r, t)``; higher is more plausible.

    ``score_tails(h, r, E)[i, j] == forward(h[i], r[i], E[j])`` and likewise for ``score_heads``.
    :meth:`factors` declares which vectors a regularizer (N3, L2) penalizes.
    """

    #: ComplEx and RotatE read a ``dim``-vector as ``dim / 2`` complex numbers.
    needs_even_dim: bool = False

    def reset_parameters(self) -> None:
        """Decoders here have no learned parameters; kept for a uniform module interface."""

    def factors(self, h: Tensor, r: Tensor) -> list[Tensor]:
        """The vectors of a query's entity ``h`` and relation ``r`` rows that a regularizer sees.

        Default: both. A decoder whose relation vectors are not free parameters of the score's
        magnitude (RotatE's phases) returns fewer.
        """
        return [h, r]

    def check_dim(self, dim: int) -> None:
        """Raise ValueError when vectors of size ``dim`` cannot be scored by this decoder."""
        if self.needs_even_dim and dim % 2:
            raise ValueError(
                f"{type(self).__name__} reads a dim-vector as dim/2 complex numbers, so dim must be even; got {dim}"
            )

    def tail_query(self, h: Tensor, r: Tensor) -> Tensor | None:
        """``q`` ``[B, d']`` with ``score_tails(h, r, E) == q @ E.T``, or :obj:`None` when scoring is no single product.

        Decoders whose all-entity scores are one matrix product (DistMult, ComplEx) return it, so
        evaluation can form the product in the layout that is fastest (see
        :meth:`kgtransfer.models.link_predictor.LinkPredictor.scorer`). Default: :obj:`None`.
        """
        return None

    def head_query(self, r: Tensor, t: Tensor) -> Tensor | None:
        """``q`` with ``score_heads(E, r, t) == q @ E.T``, or :obj:`None` (see :meth:`tail_query`)."""
        return None

    @abstractmethod
    def forward(self, h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        """Score triples: ``[B, d]`` heads, relations and tails to ``[B]`` scores."""

    @abstractmethod
    def score_tails(self, h: Tensor, r: Tensor, all_t: Tensor) -> Tensor:
        """Score every candidate tail: ``[B, d]``, ``[B, d]``, ``[N, d]`` to ``[B, N]``."""

    @abstractmethod
    def score_heads(self, all_h: Tensor, r: Tensor, t: Tensor) -> Tensor:
        """Score every candidate head: ``[N, d]``, ``[B, d]``, ``[B, d]`` to ``[B, N]``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


def chunked_scores(fn: Callable[[Tensor, Tensor], Tensor], queries: Tensor, targets: Tensor, width: int) -> Tensor:
    """Apply ``fn(queries[a:b], targets) -> [b - a, N]`` in row chunks that bound peak memory.

    Args:
        fn: scores a chunk of queries against all targets.
        queries: ``[B, ...]`` query rows.
        targets: ``[N, ...]`` candidate rows.
        width: floats held per (query, target) pair by ``fn``'s intermediates.
    """
    per_row = max(1, targets.size(0) * width * queries.element_size())
    rows = max(1, SCORE_MEMORY_BYTES // per_row)
    if rows >= queries.size(0):
        return fn(queries, targets)
    return torch.cat([fn(chunk, targets) for chunk in queries.split(rows)], dim=0)
