"""CompGCN: composition-based multi-relational graph convolution (PyG has none, so it is written here)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kgtransfer._pyg import MessagePassing, glorot, zeros
from kgtransfer.models.base import Encoder

COMPOSITIONS = ("sub", "mult", "corr")


def circular_correlation(a: Tensor, b: Tensor) -> Tensor:
    r"""Circular correlation of real vectors, in :math:`O(d \log d)` via the FFT.

    .. math::
        [\mathbf{a} \star \mathbf{b}]_k = \sum_i a_i \, b_{(i + k) \bmod d}
        = \mathcal{F}^{-1}\big(\overline{\mathcal{F}(\mathbf{a})} \odot \mathcal{F}(\mathbf{b})\big)_k,

    broadcasting over leading dimensions.

    Args:
        a: ``[..., d]`` real vectors.
        b: ``[..., d]`` real vectors.
    """
    d, dtype = a.size(-1), torch.promote_types(a.dtype, b.dtype)
    if a.numel() == 0 or b.numel() == 0:  # MKL's FFT rejects empty batches (a graph without edges)
        return a.new_zeros(torch.broadcast_shapes(a.shape, b.shape), dtype=dtype)
    work = dtype if dtype in (torch.float32, torch.float64) else torch.float32  # no bf16 FFT
    fa, fb = torch.fft.rfft(a.to(work), dim=-1), torch.fft.rfft(b.to(work), dim=-1)
    return torch.fft.irfft(torch.conj(fa) * fb, n=d, dim=-1).to(dtype)


def compose(x: Tensor, r: Tensor, op: str) -> Tensor:
    """Entity-relation composition ``phi(x, r)``: ``sub`` (x - r), ``mult`` (x * r) or ``corr`` (x ⋆ r)."""
    if op == "sub":
        return x - r
    if op == "mult":
        return x * r
    if op == "corr":
        return circular_correlation(x, r)
    raise ValueError(f"unknown composition {op!r}; choose one of {', '.join(COMPOSITIONS)}")


@dataclass(frozen=True)
class NormalizedAdjacency:
    r"""A graph's degree-normalized adjacency as CompGCN's ``sub`` layer uses it: two sparse matrices.

    ``entities`` is ``[N, 2N]``: :math:`A[v, u + \lambda N] = \sum c_{uv}^{\lambda}` over the edges
    :math:`u \to v` of direction :math:`\lambda` (0 forward, 1 inverse); ``types`` is ``[N, T]``:
    :math:`B[v, t] = \sum c_{uv}` over the edges of type :math:`t` into :math:`v`. With
    :math:`\phi(h, z) = h - z` the messages of a layer sum to
    :math:`A\,[H W_{\mathrm{in}};\ H W_{\mathrm{out}}] - B\,[z_t W_{\lambda(t)}]_t`: two products on
    :math:`N` and :math:`T` rows instead of one per edge, and no ``[E, d]`` message tensor.
    """

    entities: Tensor
    types: Tensor

    @classmethod
    def of(
        cls, edge_index: Tensor, edge_type: Tensor, num_nodes: int, num_types: int, dtype, norm: Tensor | None = None
    ) -> NormalizedAdjacency:
        """The matrices of ``edge_index`` with ``edge_type`` in ``[0, num_types)`` (odd: inverse), in ``dtype``.

        ``norm``: each edge's :math:`c_{uv}` (default: :func:`_degree_norm` of this graph).
        """
        src, dst = edge_index
        norm = _degree_norm(edge_index, edge_type, num_nodes, dtype) if norm is None else norm.to(dtype)
        inverse = edge_type % 2
        a = torch.sparse_coo_tensor(
            torch.stack([dst, src + inverse * num_nodes]), norm, (num_nodes, 2 * num_nodes), check_invariants=False
        )
        b = torch.sparse_coo_tensor(torch.stack([dst, edge_type]), norm, (num_nodes, num_types), check_invariants=False)
        return cls(a.coalesce(), b.coalesce())

    def to(self, dtype: torch.dtype) -> NormalizedAdjacency:
        """The same matrices in ``dtype``."""
        return (
            self if self.entities.dtype == dtype else NormalizedAdjacency(self.entities.to(dtype), self.types.to(dtype))
        )


def _degree_norm(edge_index: Tensor, edge_type: Tensor, num_nodes: int, dtype) -> Tensor:
    r"""Each edge's :math:`c_{uv}^{\lambda} = (d^{\lambda}_{\mathrm{out}}(u)\, d^{\lambda}_{\mathrm{in}}(v))^{-1/2}`."""
    src, dst = edge_index
    inverse = edge_type % 2
    deg_out, deg_in = direction_degrees(edge_index, edge_type, num_nodes)
    return (deg_out[2 * src + inverse].to(dtype) * deg_in[2 * dst + inverse].to(dtype)).rsqrt()


def direction_degrees(edge_index: Tensor, edge_type: Tensor, num_nodes: int) -> tuple[Tensor, Tensor]:
    """Edges of each direction leaving and entering each node: ``[2 N]`` each, node v's of direction l at 2 v + l."""
    src, dst = edge_index
    inverse = edge_type % 2
    return (
        torch.bincount(2 * src + inverse, minlength=2 * num_nodes),
        torch.bincount(2 * dst + inverse, minlength=2 * num_nodes),
    )


def _sampled_norm(edge_index: Tensor, edge_type: Tensor, node_ids: Tensor, whole: tuple[Tensor, Tensor], dtype):
    r""":math:`c_{uv}` of a sampled subgraph's edges with the whole graph's degrees, scaled to the whole neighbourhood.

    :math:`c_{uv} = (d_{\mathrm{out}}(u)\, d_{\mathrm{in}}(v))^{-1/2} \cdot d_{\mathrm{in}}(v) / k_v` with the
    degrees of the whole graph and :math:`k_v` the edges of that direction sampled into :math:`v`: a
    node whose every incoming edge was sampled gets exactly its whole-graph sum, one with a sample
    of them an estimate of it (the subgraph's own degrees weighted its edges otherwise).
    """
    src, dst = edge_index
    inverse = edge_type % 2
    deg_out, deg_in = whole
    out_u = deg_out[2 * node_ids[src] + inverse].to(dtype)
    in_v = deg_in[2 * node_ids[dst] + inverse].to(dtype)
    sampled = torch.bincount(2 * dst + inverse, minlength=2 * len(node_ids)).to(dtype)[2 * dst + inverse]
    return (out_u * in_v).rsqrt() * in_v / sampled


class CompGCNConv(MessagePassing):
    r"""One CompGCN layer, with direction-specific weights and a relation update.

    .. math::
        \mathbf{h}_v' = f\Big(\mathrm{LN}\Big(\tfrac{1}{3}\Big[\sum_{(u, r) \in \mathcal{N}(v)} c_{uv}^{\lambda(r)}
        \mathbf{W}_{\lambda(r)} \phi(\mathbf{h}_u, \mathbf{z}_r) + \mathbf{W}_{\mathrm{loop}}
        \phi(\mathbf{h}_v, \mathbf{z}_{\mathrm{loop}})\Big] + \mathbf{b}\Big)\Big),
        \qquad \mathbf{z}_r' = \mathbf{W}_{\mathrm{rel}} \mathbf{z}_r

    where :math:`\lambda(r)` is ``in`` for original edge types (even) and ``out`` for inverse ones
    (odd). The degree normalization
    :math:`c_{uv}^{\lambda} = (d^{\lambda}_{\mathrm{out}}(u)\, d^{\lambda}_{\mathrm{in}}(v))^{-1/2}`
    counts edges of direction :math:`\lambda` leaving :math:`u` and entering :math:`v`, so it is never
    zero for an existing edge. :math:`\mathrm{LN}` is layer normalization of each node's vector.
    Without a normalization the outputs shrink layer by layer (the sum is divided by 3, the weights
    are Glorot-sized), DistMult scores of such vectors stay near zero and the 1-N softmax is nearly
    flat, so 100 full-batch steps learned little (Kinships test MRR 0.25). The official implementation
    and PyKEEN's batch-normalize (0.49 here); layer normalization did as well or better (Kinships 0.63
    against 0.60 with batch norm, both with reciprocal relations), has no running statistics, and so
    gives the same output for a node whether it is encoded in a sampled subgraph or in the whole graph.

    Args:
        in_channels: input entity and relation size.
        out_channels: output entity and relation size.
        comp: composition ``"sub"``, ``"mult"`` or ``"corr"`` (default: :obj:`"sub"`).
        dropout: dropout on the aggregated neighbour messages (default: :obj:`0.0`).
        bias: add a learned bias (default: :obj:`True`).
        norm: layer-normalize the output (default: :obj:`True`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        comp: str = "sub",
        dropout: float = 0.0,
        bias: bool = True,
        norm: bool = True,
        inverse_relations: bool = True,
    ):
        super().__init__(aggr="add", node_dim=0)
        if comp not in COMPOSITIONS:
            raise ValueError(f"unknown composition {comp!r}; choose one of {', '.join(COMPOSITIONS)}")
        self.in_channels, self.out_channels, self.comp, self.dropout = (
            in_channels,
            out_channels,
            comp,
            dropout,
        )
        self.weight_in = nn.Parameter(torch.empty(in_channels, out_channels))
        self.weight_out = nn.Parameter(torch.empty(in_channels, out_channels))
        self.weight_loop = nn.Parameter(torch.empty(in_channels, out_channels))
        self.weight_rel = nn.Parameter(torch.empty(in_channels, out_channels))
        self.loop_rel = nn.Parameter(torch.empty(1, in_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.norm = nn.LayerNorm(out_channels) if norm else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot weights and loop relation, zero bias."""
        super().reset_parameters()
        for w in (self.weight_in, self.weight_out, self.weight_loop, self.weight_rel, self.loop_rel):
            glorot(w)
        zeros(self.bias)
        if self.norm is not None:
            self.norm.reset_parameters()

    def forward(
        self,
        x: Tensor,
        edge_index: Tensor,
        edge_type: Tensor,
        rel: Tensor,
        adjacency: NormalizedAdjacency | None = None,
        norm: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Update entities ``x`` ``[N, in]`` and edge-type vectors ``rel`` ``[T, in]``.

        ``adjacency``: :meth:`NormalizedAdjacency.of` the graph, when the caller has it (``sub`` only).
        ``norm``: each edge's :math:`c_{uv}` (default: from this graph's degrees).

        Returns:
            New entity vectors ``[N, out]`` and edge-type vectors ``[T, out]``.
        """
        n = x.size(0)
        dtype = torch.promote_types(x.dtype, torch.float32)  # degrees in at least fp32, even under autocast
        if self.comp == "sub":
            adjacency = adjacency or NormalizedAdjacency.of(edge_index, edge_type, n, rel.size(0), dtype, norm)
            neigh = self._sub_messages(x, rel, adjacency.to(dtype))
        else:
            norm = _degree_norm(edge_index, edge_type, n, dtype) if norm is None else norm.to(dtype)
            neigh = self.propagate(edge_index, x=x, rel=rel, edge_type=edge_type, norm=norm, size=(n, n))
        loop = compose(x, self.loop_rel, self.comp) @ self.weight_loop
        out = (F.dropout(neigh, p=self.dropout, training=self.training) + loop) / 3
        if self.bias is not None:
            out = out + self.bias
        if self.norm is not None:
            out = self.norm(out)
        return out, rel @ self.weight_rel

    def _sub_messages(self, x: Tensor, rel: Tensor, adjacency: NormalizedAdjacency) -> Tensor:
        r"""The summed messages of ``sub`` as two sparse products (:class:`NormalizedAdjacency`).

        The same sums as :meth:`message` per edge (to rounding): :math:`(h_u - z_r) W = h_u W - z_r W`.
        The sparse products run in ``adjacency``'s dtype, outside autocast.
        """
        hw = torch.cat([x @ self.weight_in, x @ self.weight_out])
        even = (torch.arange(rel.size(0), device=rel.device) % 2 == 0).unsqueeze(1)
        zw = torch.where(even, rel @ self.weight_in, rel @ self.weight_out)
        dtype = adjacency.entities.dtype
        with torch.autocast(x.device.type, enabled=False):
            return torch.sparse.mm(adjacency.entities, hw.to(dtype)) - torch.sparse.mm(adjacency.types, zw.to(dtype))

    def message(self, x_j: Tensor, rel: Tensor, edge_type: Tensor, norm: Tensor) -> Tensor:
        """Compose each source with its edge type and apply the in (forward) or out (inverse) weight."""
        m = compose(x_j, rel[edge_type], self.comp)
        inverse = (edge_type % 2).bool()
        forward = len(inverse) - int(inverse.sum())
        if not bool(inverse[:forward].any()):  # forward edges first (the message graph's layout): slices
            out = torch.cat([m[:forward] @ self.weight_in, (m[forward:] @ self.weight_out).to(m.dtype)])
            return out * norm.to(out.dtype).unsqueeze(-1)
        forward_msg, inverse_msg = m[~inverse] @ self.weight_in, m[inverse] @ self.weight_out
        out = forward_msg.new_empty(m.size(0), self.out_channels)  # the matmul dtype, bf16 under autocast
        out[~inverse] = forward_msg
        out[inverse] = inverse_msg.to(out.dtype)
        return out * norm.to(out.dtype).unsqueeze(-1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, comp={self.comp!r})"


class CompGCN(Encoder):
    r"""Composition-based multi-relational GCN encoder (CompGCN).

    From `"Composition-based Multi-Relational Graph Convolutional Networks"
    <https://arxiv.org/abs/1911.03082>`_ (Vashishth et al., ICLR 2020). Stacks
    :class:`CompGCNConv` layers (:math:`f = \tanh` after each) that update entity and relation
    vectors together. Edge type ``2r`` starts from ``relation_embedding[r]`` and ``2r + 1`` from
    ``inverse_relation_embedding[r]``; the returned relation representations are the final
    vectors of both directions, ``[z_0, z_2, ..., z_{2R-2}, z_1, z_3, ..., z_{2R-1}]``
    (:attr:`~kgtransfer.models.base.Encoder.inverse_relations`): a reciprocal link predictor scores
    a head query :math:`(?, r, t)` as :math:`(t, z_{2r+1}, ?)`, as the paper and PyKEEN do.

    Args:
        num_nodes: number of entities.
        dim: embedding, hidden and output size.
        num_relations: number of original relations ``R``.
        num_layers: number of layers (default: :obj:`2`).
        comp: composition ``"sub"``, ``"mult"`` or ``"corr"`` (default: :obj:`"sub"`).
        dropout: dropout on the neighbour messages of each layer (default: :obj:`0.0`).
        bias: learned bias in each layer (default: :obj:`True`).
        in_channels: size of optional input node features (default: :obj:`None`).
        norm: layer normalization in each layer (default: :obj:`True`).
        inverse_relations: return the inverse edge-type vectors too, for a reciprocal link predictor's
            head queries; :obj:`False`: the forward ones only, and a reciprocal link predictor learns a
            separate inverse-relation table (default: :obj:`True`).
    """

    inverse_relations = True

    def __init__(
        self,
        num_nodes: int,
        dim: int,
        num_relations: int,
        num_layers: int = 2,
        comp: str = "sub",
        dropout: float = 0.0,
        bias: bool = True,
        in_channels: int | None = None,
        norm: bool = True,
        inverse_relations: bool = True,
    ):
        super().__init__(num_nodes, dim, num_relations, in_channels)
        if num_layers < 1:
            raise ValueError(f"CompGCN: num_layers must be >= 1, got {num_layers}")
        self.num_layers, self.comp, self.dropout, self.bias = num_layers, comp, dropout, bias
        self.inverse_relations = inverse_relations
        self.inverse_relation_embedding = nn.Embedding(num_relations, dim)
        self.convs = nn.ModuleList(CompGCNConv(dim, dim, comp, dropout, bias, norm) for _ in range(num_layers))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reinitialize embeddings and every layer."""
        super().reset_parameters()
        nn.init.xavier_normal_(self.inverse_relation_embedding.weight)
        for conv in self.convs:
            conv.reset_parameters()

    def layers(self) -> list[nn.Module]:
        """The :class:`CompGCNConv` layers."""
        return list(self.convs)

    _whole_degrees: tuple[Tensor, Tensor] | None = None

    def observe_graph(self, edge_index: Tensor, edge_type: Tensor, num_nodes: int) -> None:
        """Keep the whole graph's degrees per direction, which normalize the edges of its sampled subgraphs.

        With them a node whose neighbourhood was sampled whole gets the output it has in the whole graph.
        """
        self._whole_degrees = direction_degrees(edge_index, edge_type, num_nodes)

    def relation_rows(self) -> list[str]:
        """Forward and inverse relation rows."""
        return ["relation_embedding.weight", "inverse_relation_embedding.weight"]

    def forward(
        self, edge_index: Tensor, edge_type: Tensor, x: Tensor | None = None, node_ids: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Encode the graph; see :meth:`Encoder.forward`."""
        self.check_graph(edge_index, edge_type)
        h = self.node_input(x, node_ids)
        rel = torch.stack([self.relation_embedding.weight, self.inverse_relation_embedding.weight], dim=1)
        rel = rel.reshape(2 * self.num_relations, self.dim)
        adjacency, norm = None, None
        dtype = torch.promote_types(h.dtype, torch.float32)
        whole = self._whole_degrees
        if node_ids is not None and whole is not None:  # a sampled subgraph: the whole graph's degrees
            norm = _sampled_norm(edge_index, edge_type, node_ids.to(whole[0].device), whole, dtype)
        if self.comp == "sub":  # one adjacency for every layer and step
            n, t = h.size(0), 2 * self.num_relations
            adjacency = self.per_graph(
                edge_index, edge_type, lambda: NormalizedAdjacency.of(edge_index, edge_type, n, t, dtype, norm)
            )
        for conv in self.convs:
            h, rel = conv(h, edge_index, edge_type, rel, adjacency, norm)
            h = torch.tanh(h)
        return h, torch.cat([rel[0::2], rel[1::2]]) if self.inverse_relations else rel[0::2]

    def extra_repr_args(self) -> list[str]:
        """Show the layer count and the composition."""
        extra = [] if self.inverse_relations else ["inverse_relations=False"]
        return [f"num_layers={self.num_layers}", f"comp={self.comp!r}", *extra]
