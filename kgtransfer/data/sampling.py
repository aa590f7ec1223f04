r"""Neighbour sampling of the message graph for mini-batch GNN training.

A :class:`NeighbourSampler` draws, for a set of seed entities, a :math:`k`-hop neighbourhood: hop
:math:`\ell` takes up to ``fanouts[ell]`` incoming message edges (relations and their inverses) of
every node reached at hop :math:`\ell - 1`, as PyG's ``NeighborLoader`` does (a node with no more
edges than the fanout keeps all of them; otherwise the fanout is drawn with replacement and
duplicates are dropped). The result is a :class:`~torch_geometric.data.Data` subgraph with local
``edge_index``, ``edge_type``, the global id ``n_id`` of each local node (seeds first, in order, then
the nodes first reached at hop 1, 2, ...), ``num_sampled_nodes`` (how many nodes each hop added,
seeds first, as in PyG's loaders) and the global id ``e_id`` of each edge (ascending, so forward
edges come before inverse ones, as in the message graph). An edge drawn at hop :math:`\ell` ends
in a node of hop :math:`\ell - 1`, so the nodes within :math:`k` hops of the seeds are the first
``sum(num_sampled_nodes[:k + 1])`` and the edges into them those whose target is below that count
(what "trim to layer" encoders use, :attr:`~kgtransfer.models.base.Encoder.trims_to_seeds`).

``exclude`` removes the message edges of given triples (both directions) from the subgraph, so the
triples a step trains on are never messages of that step (leak-free link prediction).

PyG's own samplers (``NeighborLoader``, ``LinkNeighborLoader``) need ``pyg-lib`` or
``torch-sparse``, compiled extensions with no wheel for this project's torch on PyPI; this module
is the same algorithm in vectorized torch, with no extension, on any device.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch_geometric.data import Data


class NeighbourSampler:
    """Samples fixed-fanout neighbourhoods of a message graph (see the module docstring).

    Args:
        edge_index: ``[2, 2E]`` message edges ``src -> dst``; edge ``e`` and ``e + E`` are the two
            directions of triple ``e`` (the layout of :meth:`TripleTable.to_pyg`).
        edge_type: ``[2E]`` edge types.
        num_nodes: number of entities.
        fanouts: edges drawn per node and hop, first hop first (e.g. ``(10, 10)`` for 2 layers).
    """

    def __init__(self, edge_index: Tensor, edge_type: Tensor, num_nodes: int, fanouts: Sequence[int]):
        if any(int(k) < 1 for k in fanouts) or not len(fanouts):
            raise ValueError(f"fanouts must be positive integers, got {tuple(fanouts)}")
        self.fanouts = tuple(int(k) for k in fanouts)
        self.num_nodes = int(num_nodes)
        self.num_edges = edge_index.size(1)
        dst = edge_index[1]
        order = torch.argsort(dst, stable=True)  # CSC: incoming edges of each node are contiguous
        self.src, self.edge_type, self.edge_id = edge_index[0, order], edge_type[order], order
        self.deg = torch.bincount(dst, minlength=self.num_nodes)
        self.rowptr = torch.zeros(self.num_nodes + 1, dtype=torch.long, device=dst.device)
        torch.cumsum(self.deg, 0, out=self.rowptr[1:])
        self.edge_index = edge_index

    def __repr__(self) -> str:
        return f"NeighbourSampler({self.num_nodes} nodes, {self.num_edges} edges, fanouts={self.fanouts})"

    def _incoming(self, nodes: Tensor, k: int, generator: torch.Generator | None) -> Tensor:
        """Positions (in CSC order) of up to ``k`` incoming edges of each of ``nodes``."""
        deg = self.deg[nodes]
        small = deg <= k
        # all edges of the nodes with at most k of them
        d_small, start_small = deg[small], self.rowptr[nodes[small]]
        offsets = torch.arange(int(d_small.sum()), device=nodes.device)
        offsets = offsets - torch.repeat_interleave(torch.cumsum(d_small, 0) - d_small, d_small)
        all_pos = torch.repeat_interleave(start_small, d_small) + offsets
        # k draws with replacement for the others
        big = nodes[~small]
        draws = torch.rand(len(big), k, generator=generator, device="cpu").to(nodes.device)
        pos = self.rowptr[big].unsqueeze(1) + (draws * self.deg[big].unsqueeze(1)).long()
        return torch.cat([all_pos, torch.unique(pos.reshape(-1))])

    def sample(self, seeds: Tensor, exclude: Tensor | None = None, generator: torch.Generator | None = None) -> Data:
        """The sampled subgraph around ``seeds``.

        Args:
            seeds: ``[S]`` distinct global entity ids; they are local nodes ``0 .. S-1``.
            exclude: ``[B]`` triple ids (rows of the training table) whose two message edges are
                dropped (default: none).
            generator: source of randomness (default: torch's global generator).

        Returns:
            ``Data(edge_index, edge_type, n_id, e_id, num_sampled_nodes, num_nodes)`` with local node ids;
            ``num_sampled_nodes`` has ``len(fanouts) + 1`` entries (0 for hops that found no new node).
        """
        device = self.src.device
        seeds = seeds.to(device)
        nodes, frontier, picked, seen = [seeds], seeds, [], torch.sort(seeds).values
        for k in self.fanouts:  # sort-based bookkeeping: the cost of a step does not grow with the graph
            if not len(frontier):
                break
            pos = self._incoming(frontier, k, generator)
            picked.append(pos)
            sources = torch.unique(self.src.index_select(0, pos))
            frontier = sources[~torch.isin(sources, seen)]
            seen = torch.sort(torch.cat([seen, frontier])).values
            nodes.append(frontier)
        pos = torch.cat(picked) if picked else torch.zeros(0, dtype=torch.long, device=device)
        e_id = self.edge_id.index_select(0, pos)  # gathers from the graph-sized arrays: index_select, not [...]
        if exclude is not None and len(exclude):
            keep = ~torch.isin(e_id % (self.num_edges // 2), exclude.to(device))
            pos, e_id = pos[keep], e_id[keep]
        pos = pos[torch.argsort(e_id)]  # forward edges before inverse ones, as in the message graph
        e_id = self.edge_id.index_select(0, pos)
        n_id = torch.cat(nodes)
        counts = [len(part) for part in nodes] + [0] * (len(self.fanouts) + 1 - len(nodes))
        ends = [self.edge_index[i].index_select(0, e_id) for i in (0, 1)]  # row by row: [:, e_id] is 2.5x slower
        edge_index = local_ids(n_id, torch.stack(ends))
        return Data(
            edge_index=edge_index,
            edge_type=self.edge_type.index_select(0, pos),
            n_id=n_id,
            e_id=e_id,
            num_sampled_nodes=counts,
            num_nodes=len(n_id),
        )


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
