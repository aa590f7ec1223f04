"""R-GCN encoder: a stack of PyG ``RGCNConv`` layers over learned entity rows."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import accumulate

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kgtransfer._pyg import RGCNConv
from kgtransfer.models.base import Encoder
from kgtransfer.models.row_memory import RowMemory

#: Edges per chunk of :class:`TypedMessages`: its temporaries are ``[chunk, d]``, cache-sized, not ``[E, d]``.
CHUNK_EDGES = 2048


@dataclass(frozen=True)
class TypedEdges:
    r"""A graph's edges sorted by type, with the count that normalizes each edge's message.

    ``src``, ``dst`` and ``counts`` are in type order (stable), ``sizes`` the edges of each type;
    ``counts[e]`` is :math:`|\mathcal{N}_i^r|`, the edges of ``e``'s type into ``e``'s target. What every
    R-GCN layer over the graph needs: computed once per graph (a sort, a ``unique`` and a ``bincount``,
    about 0.1 s on 372K edges on one CPU thread; on a GPU two waits for the host).
    """

    src: Tensor
    dst: Tensor
    counts: Tensor
    sizes: list[int]

    @classmethod
    def of(cls, edge_index: Tensor, edge_type: Tensor, num_types: int) -> TypedEdges:
        """The typed layout of ``edge_index`` with ``edge_type`` in ``[0, num_types)``."""
        src, dst = edge_index
        _, inverse, counts = torch.unique(dst * num_types + edge_type, return_inverse=True, return_counts=True)
        order = torch.argsort(edge_type, stable=True)
        sizes = torch.bincount(edge_type, minlength=num_types).tolist()
        return cls(src[order], dst[order], counts[inverse][order], sizes)

    def norm(self, dtype: torch.dtype) -> Tensor:
        r"""Each edge's mean-aggregation weight :math:`1 / |\mathcal{N}_i^r|`."""
        return self.counts.to(dtype).reciprocal()


def relational_conv(
    conv: RGCNConv,
    x: Tensor,
    edge_index: Tensor,
    edge_type: Tensor,
    num_out: int | None = None,
    grad_memory: RowMemory | None = None,
    typed: TypedEdges | None = None,
) -> Tensor:
    r"""The output of a mean-aggregating ``RGCNConv``, computed edge-wise from its parameters.

    .. math::
        \mathbf{h}_i' = \mathbf{W}_0 \mathbf{h}_i + \mathbf{b} + \sum_{(j, r, i)} \frac{1}{|\mathcal{N}_i^r|}
        \mathbf{W}_r \mathbf{h}_j

    PyG's ``RGCNConv`` (without ``pyg-lib``) aggregates each relation over the whole node set and
    then multiplies, :math:`O(T N d^2)` for :math:`T` edge types; here the edges are sorted by type and
    each type's sources are multiplied by its weight once, :math:`O(E d^2)` -- on graphs with hundreds
    of edge types the difference is orders of magnitude (:class:`TypedMessages`). Block decomposition
    falls back to the module.

    With ``num_out``, only the first ``num_out`` nodes' outputs are computed (from the edges that end
    in them; ``edge_index`` may hold only those). With ``grad_memory``, the gradient of ``x`` is
    written into that :class:`~kgtransfer.models.row_memory.RowMemory` (reused between steps). ``typed`` is
    :meth:`TypedEdges.of` the graph when the caller has it already.
    """
    n = x.size(0) if num_out is None else num_out
    if conv.num_blocks is not None:
        return conv(x, edge_index, edge_type)[:n]
    weight = conv.weight
    if conv.num_bases is not None:
        weight = (conv.comp @ weight.view(conv.num_bases, -1)).view(conv.num_relations, x.size(1), conv.out_channels)
    if edge_type.numel():
        typed = typed or TypedEdges.of(edge_index, edge_type, conv.num_relations)
        args = typed.src, typed.dst, typed.norm(x.dtype), typed.sizes
        out = TypedMessages.apply(x, weight, *args, n, conv.root, grad_memory)
    else:
        out = x.new_zeros(n, conv.out_channels)
        if conv.root is not None:
            out = out + x[:n] @ conv.root
    if conv.bias is not None:
        out = out + conv.bias
    return out


class TypedMessages(torch.autograd.Function):
    r"""Typed, normalized messages summed at their targets, in chunks of edges.

    :math:`\mathbf{o}_i = \sum_{e: j \to i} c_e \, \mathbf{x}_j \mathbf{W}_{r_e}` for edges sorted by
    type, computed in runs of about :data:`CHUNK_EDGES` edges. The same numbers and gradients as
    gathering ``x[src]``, one matmul per type, scaling and ``index_add`` under autograd, but every
    temporary is one run's ``[chunk, d]`` (cache-sized; autograd over those ops allocates five
    ``[E, d]`` tensors per layer and keeps some for backward), the run's sources are gathered again
    in backward instead of being saved, and the weight gradient
    :math:`\partial \mathbf{W}_r = \sum_{e: r_e = r} c_e \mathbf{x}_{j_e}^\top \mathbf{g}_{i_e}` is
    written into one ``[T, d, d]`` tensor (per-type autograd nodes stack ``T`` separate ones).
    With ``root`` it adds the self-loop term :math:`\mathbf{x}_i \mathbf{W}_0` to the sums (the same
    numbers as ``out + x[:num_out] @ root`` under autograd, whose slice would allocate a zero
    ``[N, d]`` gradient for ``x`` beside the messages' own).

    Args (of ``apply``): ``x [N, d_in]``, ``weight [T, d_in, d_out]``, ``src``, ``dst``, ``norm [E]``
    (sorted by type), ``sizes`` (edges per type, ``T`` ints), ``num_out`` (output rows), ``root``
    (``[d_in, d_out]`` or None), ``grad_memory`` (a :class:`~kgtransfer.models.row_memory.RowMemory`
    for the gradient of ``x``, or None: fresh memory).
    Under autocast the matmuls run in the autocast dtype, as ``@`` would; the sums in ``x``'s.
    Not twice differentiable.
    """

    @staticmethod
    def forward(ctx, x, weight, src, dst, norm, sizes, num_out, root=None, grad_memory=None):
        """The ``[num_out, d_out]`` sums (plus the root term)."""
        dtype = _matmul_dtype(x)
        w = weight.to(dtype)
        out = x.new_zeros(num_out, weight.size(2))
        for lo, hi, types in _chunks(sizes):
            msg = x.new_empty(hi - lo, w.size(2), dtype=dtype)
            xs = x.index_select(0, src[lo:hi]).to(dtype)  # rows: index_select copies each at once, x[i] per element
            for r, a, b in types:
                torch.mm(xs[a - lo : b - lo], w[r], out=msg[a - lo : b - lo])
            out.index_add_(0, dst[lo:hi], msg.to(out.dtype).mul_(norm[lo:hi, None]))
        if root is not None:
            out = out.add_(x[:num_out].to(dtype) @ root.to(dtype))
        ctx.save_for_backward(x, weight, src, dst, norm, root)
        ctx.sizes, ctx.dtype, ctx.num_out, ctx.grad_memory = sizes, dtype, num_out, grad_memory
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        """Gradients of ``x`` and ``weight``, chunk by chunk."""
        x, weight, src, dst, norm, root = ctx.saved_tensors
        dtype, need_x, need_w = ctx.dtype, ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        need_root = root is not None and ctx.needs_input_grad[7]
        w = weight.to(dtype)
        grad_x = None
        if need_x and ctx.grad_memory is not None:
            grad_x = ctx.grad_memory.take(*x.shape, x.dtype, x.device, zero=True)
        elif need_x:
            grad_x = torch.zeros_like(x)
        grad_w = torch.zeros(weight.shape, dtype=dtype, device=weight.device) if need_w else None
        for lo, hi, types in _chunks(ctx.sizes):
            g = (grad_out.index_select(0, dst[lo:hi]) * norm[lo:hi, None]).to(dtype)
            xs = x.index_select(0, src[lo:hi]).to(dtype) if need_w else None
            gx = x.new_empty(hi - lo, x.size(1), dtype=dtype) if need_x else None
            for r, a, b in types:
                g_r = g[a - lo : b - lo]
                if need_w:
                    torch.mm(xs[a - lo : b - lo].t(), g_r, out=grad_w[r])
                if need_x:
                    torch.mm(g_r, w[r].t(), out=gx[a - lo : b - lo])
            if need_x:
                grad_x.index_add_(0, src[lo:hi], gx.to(x.dtype))
        grad_root = None
        if root is not None:
            g = grad_out.to(dtype)
            if need_x:
                grad_x[: ctx.num_out] += (g @ root.to(dtype).t()).to(x.dtype)
            if need_root:
                grad_root = (x[: ctx.num_out].to(dtype).t() @ g).to(root.dtype)
        grad_w = None if grad_w is None else grad_w.to(weight.dtype)
        return (grad_x, grad_w, None, None, None, None, None, grad_root, None)[: len(ctx.needs_input_grad)]


def _chunks(sizes: list[int]):
    """Runs of consecutive edge types of about :data:`CHUNK_EDGES` edges (a larger type is a run of its own).

    Each run is ``(lo, hi, [(type, start, end), ...])`` in positions of the type-sorted edges.
    """
    runs, types, lo, end = [], [], 0, 0
    for r, size in enumerate(sizes):
        if not size:
            continue
        if types and end + size - lo > CHUNK_EDGES:
            runs.append((lo, end, types))
            types, lo = [], end
        types.append((r, end, end + size))
        end += size
    if types:
        runs.append((lo, end, types))
    return runs


def _matmul_dtype(x: Tensor) -> torch.dtype:
    """The dtype ``@`` computes in for ``x``'s device: autocast's where it is on, else ``x``'s."""
    device = x.device.type
    return torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else x.dtype


class RGCN(Encoder):
    r"""Relational graph convolutional network (R-GCN).

    From `"Modeling Relational Data with Graph Convolutional Networks"
    <https://arxiv.org/abs/1703.06103>`_ (Schlichtkrull et al., ESWC 2018).

    Each layer computes

    .. math::
        \mathbf{h}_i^{(l+1)} = \sigma\Big(\mathbf{W}_0^{(l)} \mathbf{h}_i^{(l)} + \sum_{r \in \mathcal{R}}
        \sum_{j \in \mathcal{N}_i^r} \frac{1}{|\mathcal{N}_i^r|} \mathbf{W}_r^{(l)} \mathbf{h}_j^{(l)}\Big)

    over the ``2 * num_relations`` edge types (relations and their inverses), with
    :math:`\sigma = \mathrm{ReLU}` between layers and none after the last. Basis decomposition
    writes :math:`\mathbf{W}_r = \sum_b a_{rb} \mathbf{V}_b`; block decomposition makes
    :math:`\mathbf{W}_r` block-diagonal. :math:`\mathbf{h}^{(0)}` is the learned entity embedding
    (plus projected input features when ``in_channels`` is set). Relation representations are the
    learned ``relation_embedding`` rows, so decoders always receive relation vectors. Without
    ``root_weight`` an isolated node has no term of its own and is mapped to the bias alone.

    The layers are PyG ``RGCNConv`` modules (their parameters), applied by :func:`relational_conv`,
    which multiplies each edge type's sources by its weight instead of aggregating every type over
    all nodes first; ``FastRGCNConv`` was slower still, as it materializes one weight matrix per edge.

    On a sampled subgraph with ``num_sampled_nodes`` (nodes per hop, seeds first) the encoder trims
    to layer, as PyG's ``trim_to_layer``: layer :math:`l` of :math:`L` (from 0) computes only the
    nodes within :math:`L - 1 - l` hops of the seeds, from the edges that end in them, and the
    output holds the seeds' rows alone -- the same numbers as the seeds' rows of a full pass, without
    the outer hops' work.

    Args:
        num_nodes: number of entities.
        dim: embedding, hidden and output size.
        num_relations: number of original relations ``R``.
        num_layers: number of ``RGCNConv`` layers (default: :obj:`2`).
        num_bases: number of bases of the basis decomposition (default: :obj:`None`).
        num_blocks: number of blocks of the block decomposition; must divide ``dim``
            (default: :obj:`None`).
        dropout: dropout after each hidden layer (default: :obj:`0.0`).
        root_weight: add the self-loop term :math:`\mathbf{W}_0 \mathbf{h}_i` (default: :obj:`True`).
        in_channels: size of optional input node features (default: :obj:`None`).
    """

    trims_to_seeds = True

    def __init__(
        self,
        num_nodes: int,
        dim: int,
        num_relations: int,
        num_layers: int = 2,
        num_bases: int | None = None,
        num_blocks: int | None = None,
        dropout: float = 0.0,
        root_weight: bool = True,
        in_channels: int | None = None,
    ):
        super().__init__(num_nodes, dim, num_relations, in_channels)
        if num_bases is not None and num_blocks is not None:
            raise ValueError("RGCN: set num_bases or num_blocks, not both")
        if num_bases is not None and num_bases < 1:
            raise ValueError(f"RGCN: num_bases must be >= 1, got {num_bases}")
        if num_blocks is not None and num_blocks < 1:
            raise ValueError(f"RGCN: num_blocks must be >= 1, got {num_blocks}")
        if num_blocks is not None and dim % num_blocks:
            raise ValueError(f"RGCN: num_blocks={num_blocks} must divide dim={dim}")
        if num_layers < 1:
            raise ValueError(f"RGCN: num_layers must be >= 1, got {num_layers}")
        self.num_layers = num_layers
        self.num_bases = num_bases
        self.num_blocks = num_blocks
        self.dropout = dropout
        self.root_weight = root_weight
        self.convs = nn.ModuleList(
            RGCNConv(
                dim,
                dim,
                2 * num_relations,
                num_bases=num_bases,
                num_blocks=num_blocks,
                aggr="mean",
                root_weight=root_weight,
            )
            for _ in range(num_layers)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Reinitialize embeddings and every convolution."""
        super().reset_parameters()
        for conv in self.convs:
            conv.reset_parameters()

    def layers(self) -> list[nn.Module]:
        """The ``RGCNConv`` layers."""
        return list(self.convs)

    def edge_type_rows(self) -> list[str]:
        """Per-edge-type parameters: basis coefficients ``comp``, or the full/block ``weight`` without bases."""
        names = []
        for i, conv in enumerate(self.convs):
            if conv.num_bases is not None:
                names.append(f"convs.{i}.comp")
            else:
                names.append(f"convs.{i}.weight")
        return names

    def forward(
        self,
        edge_index: Tensor,
        edge_type: Tensor,
        x: Tensor | None = None,
        node_ids: Tensor | None = None,
        num_sampled_nodes: list[int] | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Encode the graph; see :meth:`Encoder.forward` (with ``num_sampled_nodes``: the seeds' rows only)."""
        self.check_graph(edge_index, edge_type)
        h = self.node_input(x, node_ids)
        within = None if num_sampled_nodes is None else list(accumulate(num_sampled_nodes))
        typed = None
        if within is None and self.num_blocks is None and edge_type.numel():  # one layout for every layer and step
            typed = self.per_graph(
                edge_index, edge_type, lambda: TypedEdges.of(edge_index, edge_type, 2 * self.num_relations)
            )
        for i, conv in enumerate(self.convs):
            memory = self._input_grad_memory if i == 0 and self.training else None  # the largest gradient, [N, d]
            if within is None:
                h = relational_conv(conv, h, edge_index, edge_type, grad_memory=memory, typed=typed)
            else:  # trim to layer: outputs of the nodes within num_layers - 1 - i hops of the seeds
                n = within[min(self.num_layers - 1 - i, len(within) - 1)]
                keep = edge_index[1] < n
                h = relational_conv(conv, h, edge_index[:, keep], edge_type[keep], n, memory)
            if i < self.num_layers - 1:
                h = F.dropout(F.relu(h), p=self.dropout, training=self.training)
        return h, self.relation_embedding.weight

    def extra_repr_args(self) -> list[str]:
        """Show the layer count and the decomposition."""
        args = [f"num_layers={self.num_layers}"]
        if self.num_bases is not None:
            args.append(f"num_bases={self.num_bases}")
        if self.num_blocks is not None:
            args.append(f"num_blocks={self.num_blocks}")
        return args
