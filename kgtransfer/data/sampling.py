r"""Neighbour sampling of the message graph for mini-batch GNN training.

A :class:`NeighbourSampler` draws, for a set of seed entities, a :math:`k`-hop neighbourhood: hop
:math:`\ell` takes up to ``fanouts[ell]`` incoming message edges (relations and their inverses) of
every node reached at hop :math:`\ell - 1`, as PyG's ``NeighborLoader`` does (a node with no more
edges than the fanout keeps all of them; otherwise the fanout is drawn with replacement and
duplicates are dropped). The result is a :class:`~torch_geometric.data.Data` subgraph with local
``edge_index``, ``edge_type``, the global id ``n_id`` of each local node (seeds first, in order, then
the nodes first reached at hop 1, 2, ...), ``num_sampled_nodes`` (how many nodes each hop added,
seeds first, as in PyG's loaders) and the global id ``e_id`` of each edge (forward edges before
inverse ones, as in the message graph; otherwise in the order they were drawn). An edge drawn at hop :math:`\ell` ends
in a node of hop :math:`\ell - 1`, so the nodes within :math:`k` hops of the seeds are the first
``sum(num_sampled_nodes[:k + 1])`` and the edges into them those whose target is below that count
(what "trim to layer" encoders use, :attr:`~kgtransfer.models.base.Encoder.trims_to_seeds`).

``max_edges`` bounds the edges of a sample whatever the graph: each hop takes what the hops before it
left, lowering its fanout to the largest :math:`k' \le k` with :math:`\sum_i \min(d_i, k') \le` what is
left (:math:`d_i` the in-degree of frontier node :math:`i`), so the nearest hops keep their fanouts and
every frontier node keeps up to :math:`k'` edges; only where :math:`k' = 1` still draws too many is a
uniform subset of the hop's edges kept. A fixed-fanout sample grows with the graph until it reaches
its bound (on a small graph the neighbourhoods of a step's seeds overlap); with ``max_edges`` the
work of a step is bounded by a setting.

``exclude`` removes the message edges of given triples (both directions) from the subgraph, so the
triples a step trains on are never messages of that step (leak-free link prediction).

PyG's own samplers (``NeighborLoader``, ``LinkNeighborLoader``) need ``pyg-lib`` or
``torch-sparse``, compiled extensions with no wheel for this project's torch on PyPI; this module
is the same algorithm in vectorized torch, with no extension, on any device. It is also a PyG
:class:`~torch_geometric.sampler.BaseSampler`, so PyG's loaders run on it: ``NodeLoader(data,
node_sampler=sampler, input_nodes=...)`` for entity typing, ``LinkLoader(data, link_sampler=sampler,
edge_label_index=..., input_id=...)`` for link prediction (with PyG's binary or triplet negative
sampling), where ``data`` is the message graph the sampler was built on (:func:`kgtransfer.to_pyg`).
A seed link that is an edge of that graph, either way round, is left out of its batch's messages
in both directions when ``input_id`` names it (its edge or triple id; without ``input_id`` PyG numbers
the links by position, which names the graph's edges only when ``edge_label_index`` is left out).
Batches list their edges hop by hop with ``num_sampled_edges``, as PyG's samplers do, so PyG's
``trim_to_layer`` works on them; a sampler built with ``edges_per_seed`` bounds each batch at that
many edges per seed node (``max_edges``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from kgtransfer._pyg import (
    BaseSampler,
    Data,
    EdgeSamplerInput,
    NegativeSampling,
    NodeSamplerInput,
    SamplerOutput,
    edge_sample,
    node_sample,
)


class NeighbourSampler(BaseSampler):
    """Samples fixed-fanout neighbourhoods of a message graph (see the module docstring).

    Args:
        edge_index: ``[2, 2E]`` message edges ``src -> dst``; edge ``e`` and ``e + E`` are the two
            directions of triple ``e`` (the layout of :meth:`TripleTable.to_pyg`).
        edge_type: ``[2E]`` edge types.
        num_nodes: number of entities.
        fanouts: edges drawn per node and hop, first hop first (e.g. ``(10, 10)`` for 2 layers).
        edges_per_seed: the batches of PyG's loaders (``sample_from_nodes``, ``sample_from_edges``)
            draw at most this many edges per seed node, as ``max_edges`` of :meth:`sample` (default:
            no bound but the fanouts').
    """

    def __init__(
        self,
        edge_index: Tensor,
        edge_type: Tensor,
        num_nodes: int,
        fanouts: Sequence[int],
        edges_per_seed: float | None = None,
    ):
        if any(int(k) < 1 for k in fanouts) or not len(fanouts):
            raise ValueError(f"fanouts must be positive integers, got {tuple(fanouts)}")
        if edges_per_seed is not None and not edges_per_seed >= 0:
            raise ValueError(f"edges_per_seed must be >= 0, got {edges_per_seed}")
        self.fanouts = tuple(int(k) for k in fanouts)
        self.edges_per_seed = edges_per_seed
        self.num_nodes = int(num_nodes)
        self.num_edges = edge_index.size(1)
        dst = edge_index[1]
        order = torch.argsort(dst, stable=True)  # CSC: incoming edges of each node are contiguous
        self.src, self.edge_type, self.edge_id = edge_index[0, order], edge_type[order], order
        self.edge_index = edge_index  # the caller's tensor (no copy): the ends of seed links' own edges
        self.deg = torch.bincount(dst, minlength=self.num_nodes)
        self.rowptr = torch.zeros(self.num_nodes + 1, dtype=torch.long, device=dst.device)
        torch.cumsum(self.deg, 0, out=self.rowptr[1:])

    def __repr__(self) -> str:
        budget = "" if self.edges_per_seed is None else f", edges_per_seed={self.edges_per_seed}"
        return f"NeighbourSampler({self.num_nodes} nodes, {self.num_edges} edges, fanouts={self.fanouts}{budget})"

    def _incoming(self, nodes: Tensor, k: int, generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
        """CSC positions of up to ``k`` incoming edges of each of ``nodes``, and their targets (index in ``nodes``)."""
        deg = self.deg[nodes]
        small = deg <= k
        # all edges of the nodes with at most k of them
        which_small = small.nonzero().squeeze(1)
        d_small, start_small = deg[which_small], self.rowptr[nodes[which_small]]
        offsets = torch.arange(int(d_small.sum()), device=nodes.device)
        offsets = offsets - torch.repeat_interleave(torch.cumsum(d_small, 0) - d_small, d_small)
        all_pos = torch.repeat_interleave(start_small, d_small) + offsets
        # k draws with replacement for the others; repeats of a node's draw are dropped (a sort per row of k)
        which_big = (~small).nonzero().squeeze(1)
        big = nodes[which_big]
        draws = torch.rand(len(big), k, generator=generator, device="cpu").to(nodes.device)
        pos = (self.rowptr[big].unsqueeze(1) + (draws * self.deg[big].unsqueeze(1)).long()).sort(dim=1).values
        first = torch.ones_like(pos, dtype=torch.bool)
        first[:, 1:] = pos[:, 1:] != pos[:, :-1]
        owner = torch.cat([torch.repeat_interleave(which_small, d_small), which_big.unsqueeze(1).expand_as(pos)[first]])
        return torch.cat([all_pos, pos[first]]), owner

    def _fitted_fanout(self, nodes: Tensor, k: int, left: int) -> int:
        r"""The largest :math:`k' \le k` with :math:`\sum_i \min(d_i, k') \le` ``left`` (at least 1, at most ``k``)."""
        capped = torch.clamp(self.deg[nodes], max=k)
        at_least = torch.bincount(capped, minlength=k + 1).flip(0).cumsum(0).flip(0)[1:]  # nodes with degree >= j
        drawn = at_least.cumsum(0)  # sum_i min(d_i, j) for j = 1 .. k
        return max(1, int((drawn <= left).sum()))

    def sample(
        self,
        seeds: Tensor,
        exclude: Tensor | None = None,
        generator: torch.Generator | None = None,
        max_edges: int | None = None,
    ) -> Data:
        """The sampled subgraph around ``seeds``.

        Args:
            seeds: ``[S]`` distinct global entity ids; they are local nodes ``0 .. S-1``.
            exclude: ``[B]`` triple ids (rows of the training table) whose two message edges are
                dropped (default: none).
            generator: source of randomness (default: torch's global generator).
            max_edges: the most edges the sample draws (see the module docstring; default: no bound
                but the fanouts'). Edges of ``exclude`` count: they are drawn, then dropped.

        Returns:
            ``Data(edge_index, edge_type, n_id, e_id, num_sampled_nodes, num_nodes)`` with local node ids;
            ``num_sampled_nodes`` has ``len(fanouts) + 1`` entries (0 for hops that found no new node).

        The bookkeeping is the work of the sample only, never of the graph: which nodes are in the
        sample, and their local ids, live in one global-to-local array (-1 elsewhere) that is
        restored before returning; a hop's new nodes are its edges' sources not yet there, each
        taken once, in the order they are first met (no sort, no binary search).
        """
        if max_edges is not None and int(max_edges) < 0:
            raise ValueError(f"max_edges must be >= 0, got {max_edges}")
        device = self.src.device
        seeds = seeds.to(device)
        local = self._scratch("_local", self.num_nodes, -1, device)
        nodes, touched, picked, sources, targets = [seeds], [seeds], [], [], []
        try:
            local[seeds] = torch.arange(len(seeds), device=device)
            frontier, start, total, drawn = seeds, 0, len(seeds), 0
            for k in self.fanouts:
                left = None if max_edges is None else int(max_edges) - drawn
                if not len(frontier) or left == 0:
                    break
                if left is not None:
                    k = self._fitted_fanout(frontier, k, left)
                pos, owner = self._incoming(frontier, k, generator)
                if left is not None and len(pos) > left:  # k' = 1 still draws too many: a uniform subset
                    keep = torch.randperm(len(pos), generator=generator, device="cpu")[:left].sort().values
                    pos, owner = pos[keep.to(pos.device)], owner[keep.to(pos.device)]
                drawn += len(pos)
                src = self.src.index_select(0, pos)
                outside = src[local.index_select(0, src) < 0]
                touched.append(outside)
                frontier = _first_occurrences(outside, local)
                local[frontier] = torch.arange(total, total + len(frontier), device=device)
                nodes.append(frontier)
                picked.append(pos)
                sources.append(src)
                targets.append(owner + start)
                start, total = total, total + len(frontier)
            none = torch.zeros(0, dtype=torch.long, device=device)
            pos, src, dst = (torch.cat(parts) if parts else none for parts in (picked, sources, targets))
            edge_index = torch.stack([local.index_select(0, src), dst])
        finally:  # also when interrupted: the next sample starts from a clean array
            for part in touched:
                local[part] = -1
        e_id = self.edge_id.index_select(0, pos)
        keep = e_id < self.num_edges // 2  # forward edges before inverse ones, as in the message graph
        dropped = torch.zeros_like(keep)
        if exclude is not None and len(exclude):
            excluded = self._scratch("_excluded", self.num_edges // 2, False, device)
            exclude = exclude.to(device)
            try:
                excluded[exclude] = True
                dropped = excluded.index_select(0, e_id % (self.num_edges // 2))
            finally:
                excluded[exclude] = False
        order = torch.cat([(keep & ~dropped).nonzero().squeeze(1), (~keep & ~dropped).nonzero().squeeze(1)])
        n_id = torch.cat(nodes)
        counts = [len(part) for part in nodes] + [0] * (len(self.fanouts) + 1 - len(nodes))
        return Data(
            edge_index=edge_index.index_select(1, order),
            edge_type=self.edge_type.index_select(0, pos.index_select(0, order)),
            n_id=n_id,
            e_id=e_id.index_select(0, order),
            num_sampled_nodes=counts,
            num_nodes=len(n_id),
        )

    def sample_from_nodes(self, index: NodeSamplerInput, **kwargs) -> SamplerOutput:
        """PyG's sampler interface (``NodeLoader``): the neighbourhood of the batch's nodes, seeds first.

        Raises:
            ValueError: a batch names a node twice, or has seed times (temporal sampling).
        """
        _untimed(index.time)
        if len(torch.unique(index.node)) != len(index.node):
            raise ValueError("NeighbourSampler: a batch of input nodes names a node twice; give distinct input_nodes")
        return node_sample(index, self._sampler_output)

    def sample_from_edges(self, index: EdgeSamplerInput, neg_sampling: NegativeSampling | None = None) -> SamplerOutput:
        """PyG's sampler interface (``LinkLoader``): the neighbourhood of the seed links' ends (and negatives).

        A seed link whose ``input_id`` is the id of a message edge with the same two ends (an edge of
        the graph itself, or a triple id for its forward edge) has that triple's two message edges
        left out of the subgraph, so a model never reads the link it is asked to predict.
        """
        _untimed(index.time)
        exclude = None if index.input_id is None else self._own_triples(index.input_id, index.row, index.col)

        def sample(seed: Tensor, time: Tensor | None) -> SamplerOutput:
            return self._sampler_output(seed, time, exclude)

        return edge_sample(index, sample, self.num_nodes, disjoint=False, neg_sampling=neg_sampling)

    def _own_triples(self, ids: Tensor, rows: Tensor, cols: Tensor) -> Tensor:
        """The triple ids of the links ``rows -> cols`` whose ``ids`` are message edges joining those two ends."""
        ids, rows, cols = (x.to(self.src.device) for x in (ids, rows, cols))
        edge = ids < self.num_edges
        ids, rows, cols = ids[edge], rows[edge], cols[edge]
        ends = self.edge_index.index_select(1, ids)
        joins = ((ends[0] == rows) & (ends[1] == cols)) | ((ends[0] == cols) & (ends[1] == rows))
        return ids[joins] % (self.num_edges // 2)

    def _sampler_output(self, seed: Tensor, _time: Tensor | None, exclude: Tensor | None = None) -> SamplerOutput:
        """:meth:`sample` as PyG's ``SamplerOutput``: ``row -> col`` local edges, ``edge`` their ids in the graph.

        Edges come hop by hop, as from PyG's samplers (those into the seeds first), with
        ``num_sampled_edges`` per hop, so PyG's ``trim_to_layer`` can cut them layer by layer.
        """
        budget = None if self.edges_per_seed is None else int(self.edges_per_seed * len(seed))
        sub = self.sample(seed, exclude=exclude, max_edges=budget)
        row, col = sub.edge_index
        ends = torch.tensor(sub.num_sampled_nodes[:-1], device=col.device).cumsum(0)
        hop = torch.searchsorted(ends, col, right=True)  # an edge drawn at hop l ends in a node of hop l - 1
        order = torch.sort(hop, stable=True).indices
        edges = torch.bincount(hop, minlength=len(self.fanouts)).tolist()
        return SamplerOutput(
            node=sub.n_id,
            row=row[order],
            col=col[order],
            edge=sub.e_id[order],
            num_sampled_nodes=sub.num_sampled_nodes,
            num_sampled_edges=edges,
        )

    def _scratch(self, name: str, size: int, fill, device) -> Tensor:
        """A graph-sized array kept between samples (allocated once), all ``fill`` between samples."""
        array = getattr(self, name, None)
        if array is None or array.device != torch.device(device):
            dtype = torch.bool if isinstance(fill, bool) else torch.long
            array = torch.full((size,), fill, dtype=dtype, device=device)
            setattr(self, name, array)
        return array


def _untimed(time: Tensor | None) -> None:
    if time is not None:
        raise ValueError("NeighbourSampler does not sample by time: give the loader no seed or edge times")


#: Edges drawn per node and hop unless the task's ``fanouts`` say otherwise.
DEFAULT_FANOUT = 10


def layer_fanouts(fanouts: Sequence[int] | None, layers: int) -> tuple[int, ...]:
    """The fanouts of an encoder with ``layers`` message-passing layers: those given, one per layer, or 10 each.

    Raises:
        ConfigError: the given fanouts are not one per layer (a hop too few leaves an outer layer without
            messages; one too many samples edges no layer reads).
    """
    if fanouts is None:
        return (DEFAULT_FANOUT,) * layers
    if len(fanouts) != layers:
        from kgtransfer.config import ConfigError

        raise ConfigError(
            f"TaskConfig.fanouts: {list(fanouts)} gives {len(fanouts)} hop(s), the encoder has {layers} "
            "message-passing layer(s); give one fanout per layer"
        )
    return tuple(int(k) for k in fanouts)


def _first_occurrences(ids: Tensor, scratch: Tensor) -> Tensor:
    """The distinct values of ``ids`` in the order they first occur, without sorting.

    ``scratch`` is a global-sized array that is -1 at every one of ``ids``; each id's entry takes the
    smallest position where it occurs (a deterministic reduction), so the positions that find
    themselves there are the first occurrences. The entries are left at those positions.
    """
    at = torch.arange(len(ids), device=ids.device)
    scratch.scatter_reduce_(0, ids, at, "amin", include_self=False)
    return ids[scratch.index_select(0, ids) == at]


def local_ids(n_id: Tensor, ids: Tensor) -> Tensor:
    r"""The position of each of ``ids`` in ``n_id`` (distinct global ids), -1 where absent.

    By binary search in the sorted ``n_id``: :math:`O((n + m) \log n)` for ``n`` ids and ``m`` queries,
    independent of the number of entities in the graph.
    """
    if not len(n_id):
        return torch.full_like(ids, -1)
    ordered, order = torch.sort(n_id)
    at = torch.searchsorted(ordered, ids.contiguous()).clamp_(max=len(n_id) - 1)
    return torch.where(ordered[at] == ids, order[at], -1)
