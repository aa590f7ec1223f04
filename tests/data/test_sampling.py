import pytest
import torch

from kgtransfer.data.sampling import NeighbourSampler
from kgtransfer.data.tensorize import Triples


def _graph(num_triples=400, num_nodes=60, num_relations=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    rows = torch.stack(
        [
            torch.randint(num_nodes, (num_triples,), generator=g),
            torch.randint(num_relations, (num_triples,), generator=g),
            torch.randint(num_nodes, (num_triples,), generator=g),
        ],
        1,
    )
    return Triples(rows, num_nodes, num_relations).to_pyg()


def test_subgraph_edges_are_message_edges_with_local_ids():
    graph = _graph()
    sampler = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (3, 2))
    seeds = torch.tensor([5, 1, 17])
    sub = sampler.sample(seeds, generator=torch.Generator().manual_seed(0))
    assert torch.equal(sub.n_id[:3], seeds)  # seeds first, in order
    assert len(torch.unique(sub.n_id)) == len(sub.n_id)
    # every local edge is the global edge e_id, with its type
    assert torch.equal(sub.n_id[sub.edge_index], graph.edge_index[:, sub.e_id])
    assert torch.equal(sub.edge_type, graph.edge_type[sub.e_id])
    assert sub.num_nodes == len(sub.n_id) and int(sub.edge_index.max()) < sub.num_nodes


def test_fanout_bounds_the_incoming_edges_of_each_hop():
    graph = _graph(num_triples=2000)
    sampler = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (4,))
    seeds = torch.arange(10)
    sub = sampler.sample(seeds, generator=torch.Generator().manual_seed(1))
    incoming = torch.bincount(sub.edge_index[1], minlength=sub.num_nodes)
    assert int(incoming[:10].max()) <= 4 and int(incoming[10:].sum()) == 0  # one hop: only seeds receive
    assert int(incoming[:10].min()) >= 1  # every seed has edges in a graph this dense


def test_low_degree_nodes_keep_all_their_edges():
    graph = _graph(num_triples=30, num_nodes=60)
    sampler = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (100, 100))
    seeds = torch.arange(60)
    sub = sampler.sample(seeds)
    assert len(sub.e_id) == graph.edge_index.size(1)  # the whole graph


def test_excluded_triples_are_never_messages():
    graph = _graph(num_triples=300, num_nodes=20)
    sampler = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (50, 50))
    exclude = torch.tensor([0, 7, 299])
    sub = sampler.sample(torch.arange(20), exclude=exclude, generator=torch.Generator().manual_seed(0))
    assert not torch.isin(sub.e_id % 300, exclude).any()
    assert len(sub.e_id) == 2 * (300 - 3)


def test_same_generator_seed_same_sample():
    graph = _graph()
    sampler = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (2, 2))
    a = sampler.sample(torch.tensor([3, 4]), generator=torch.Generator().manual_seed(5))
    b = sampler.sample(torch.tensor([3, 4]), generator=torch.Generator().manual_seed(5))
    assert torch.equal(a.e_id, b.e_id) and torch.equal(a.n_id, b.n_id)


def test_bad_fanouts_raise():
    graph = _graph()
    with pytest.raises(ValueError, match="fanouts"):
        NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (0,))


def test_local_ids_find_positions_and_mark_absent_ids():
    from kgtransfer.data.sampling import local_ids

    n_id = torch.tensor([7, 2, 9, 4])
    assert local_ids(n_id, torch.tensor([9, 7, 3, 4, 2, 10, 0])).tolist() == [2, 0, -1, 3, 1, -1, -1]
    assert local_ids(torch.zeros(0, dtype=torch.long), torch.tensor([1, 2])).tolist() == [-1, -1]


def test_nodes_come_in_hop_order_and_each_hop_ends_in_the_one_before():
    graph = _graph(num_triples=1500, num_nodes=200)
    sampler = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (3, 3))
    sub = sampler.sample(torch.tensor([4, 9]), generator=torch.Generator().manual_seed(2))
    counts = sub.num_sampled_nodes
    assert len(counts) == 3 and counts[0] == 2 and sum(counts) == sub.num_nodes and counts[2] > 0
    hop = torch.repeat_interleave(torch.arange(3), torch.tensor(counts))  # the hop of each local node
    src, dst = sub.edge_index
    assert bool((hop[dst] < 2).all())  # no edge was drawn into the outermost hop
    assert bool((hop[src] <= hop[dst] + 1).all())  # an edge into hop k starts within hop k + 1


def test_samples_leave_no_state_behind():
    graph = _graph(num_triples=800, num_nodes=80)
    shared = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (3, 2))
    for i, seeds in enumerate((torch.tensor([1, 2, 3]), torch.tensor([70, 2]), torch.arange(80))):
        exclude = torch.tensor([i, 100 + i])
        fresh = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (3, 2))
        a = shared.sample(seeds, exclude=exclude, generator=torch.Generator().manual_seed(i))
        b = fresh.sample(seeds, exclude=exclude, generator=torch.Generator().manual_seed(i))
        assert torch.equal(a.n_id, b.n_id) and torch.equal(a.e_id, b.e_id) and torch.equal(a.edge_index, b.edge_index)


def test_hop_nodes_are_the_new_sources_of_the_edges_into_the_hop_before():
    graph = _graph(num_triples=1500, num_nodes=200)
    sampler = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (4, 3))
    sub = sampler.sample(torch.tensor([4, 9, 33]), generator=torch.Generator().manual_seed(3))
    counts = sub.num_sampled_nodes
    hop = torch.repeat_interleave(torch.arange(3), torch.tensor(counts))
    src, dst = sub.edge_index
    for h in range(2):
        sources = torch.unique(src[hop[dst] == h])
        assert torch.equal(sources[hop[sources] == h + 1], torch.arange(sum(counts[: h + 1]), sum(counts[: h + 2])))
    inverse = (sub.edge_type % 2).bool()  # forward edges first, as in the message graph
    assert not bool(inverse[: int((~inverse).sum())].any())
    assert len(torch.unique(sub.e_id)) == len(sub.e_id)


def test_first_occurrences_keep_order_without_sorting():
    from kgtransfer.data.sampling import _first_occurrences

    scratch = torch.full((10,), -1)
    ids = torch.tensor([7, 3, 7, 9, 3, 0])
    assert _first_occurrences(ids, scratch).tolist() == [7, 3, 9, 0]


def test_an_interrupted_sample_leaves_no_state_behind(monkeypatch):
    import kgtransfer.data.sampling as sampling

    graph = _graph(num_triples=800, num_nodes=80)
    sampler = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (3, 2))
    real = sampling._first_occurrences

    def interrupted(ids, scratch):
        real(ids, scratch)  # the scratch array is written, then the sample stops
        raise KeyboardInterrupt

    monkeypatch.setattr(sampling, "_first_occurrences", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sampler.sample(torch.tensor([1, 2, 3]), exclude=torch.tensor([0]), generator=torch.Generator().manual_seed(0))
    assert bool((sampler._local == -1).all())
    monkeypatch.setattr(sampling, "_first_occurrences", real)
    fresh = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (3, 2))
    a, b = (s.sample(torch.tensor([5, 6]), generator=torch.Generator().manual_seed(1)) for s in (sampler, fresh))
    assert torch.equal(a.n_id, b.n_id) and torch.equal(a.e_id, b.e_id)


def test_pyg_node_loader_batches_are_relation_typed_neighbourhoods_of_the_input_nodes():
    from torch_geometric.loader import NodeLoader

    graph = _graph()
    sampler = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (3, 2))
    inputs = torch.arange(10, 40)
    torch.manual_seed(0)
    seen = []
    for batch in NodeLoader(graph, node_sampler=sampler, input_nodes=inputs, batch_size=8, shuffle=True):
        seen.append(batch.n_id[: batch.batch_size])
        assert torch.equal(batch.n_id[batch.edge_index], graph.edge_index[:, batch.e_id])  # local ids, global edges
        assert torch.equal(batch.edge_type, graph.edge_type[batch.e_id])  # types sliced by PyG, inverses included
        assert batch.num_sampled_nodes[0] == batch.batch_size
        assert int(torch.bincount(batch.edge_index[1], minlength=batch.num_nodes).max()) <= 3
    assert torch.equal(torch.cat(seen).sort().values, inputs)  # every input node once, first in its batch


def test_pyg_loader_batches_keep_the_sampler_edge_budget():
    from torch_geometric.loader import LinkLoader, NodeLoader

    graph = _graph(num_triples=4000, num_nodes=400)
    sampler = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (10, 10), edges_per_seed=3)
    assert "edges_per_seed=3" in repr(sampler)
    free = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (10, 10))
    inputs = torch.arange(40)
    for batch in NodeLoader(graph, node_sampler=sampler, input_nodes=inputs, batch_size=8):
        assert 0 < batch.edge_index.size(1) <= 3 * 8 < len(free.sample(batch.n_id[:8]).e_id)
    ends = graph.triples[:16][:, [0, 2]].t()
    batch = next(iter(LinkLoader(graph, link_sampler=sampler, edge_label_index=ends, batch_size=16)))
    assert batch.edge_index.size(1) <= 3 * batch.num_sampled_nodes[0]
    with pytest.raises(ValueError, match="edges_per_seed"):
        NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (3,), edges_per_seed=-1)


def test_pyg_link_loader_leaves_the_seed_links_out_of_their_messages():
    from torch_geometric.loader import LinkLoader
    from torch_geometric.sampler import NegativeSampling

    graph = _graph(num_triples=300, num_nodes=40)
    num_triples = graph.triples.size(0)
    sampler = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (50, 50))  # every edge
    train = torch.arange(0, num_triples, 2)  # the loader's seed links: these triples, by their ids
    ends = graph.triples[train][:, [0, 2]].t()
    loader = LinkLoader(
        graph, link_sampler=sampler, edge_label_index=ends, input_id=train, edge_label=graph.triples[train, 1],
        batch_size=16, shuffle=True, neg_sampling=NegativeSampling("binary", 1.0),
    )  # fmt: skip
    for batch in loader:
        triples = batch.e_id % num_triples
        assert not torch.isin(triples, batch.input_id).any()  # neither direction of a seed link is a message
        others = torch.isin(torch.arange(num_triples), batch.input_id, invert=True)
        inside = torch.isin(graph.triples[:, [0, 2]], batch.n_id).all(1)
        assert int(torch.isin(torch.arange(num_triples)[others & inside], triples).sum()) > 0  # the rest are there
        positives = batch.edge_label_index[:, : len(batch.input_id)]
        assert torch.equal(batch.n_id[positives], graph.triples[batch.input_id][:, [0, 2]].t())
        assert torch.equal(batch.edge_label[: len(batch.input_id)] - 1, graph.triples[batch.input_id, 1])  # PyG: +1
        assert (batch.edge_label[len(batch.input_id) :] == 0).all()  # PyG's random negatives


def test_pyg_link_loader_keeps_the_messages_of_seed_links_that_are_not_edges_of_the_graph():
    from torch_geometric.loader import LinkLoader

    graph = _graph(num_triples=300, num_nodes=40)
    sampler = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (50,))
    # links from the ends of edges 0-2 to other nodes: at positions 0-2 but not edges 0-2, whose inverses lead
    # into these seeds (so they are in the sample unless wrongly left out)
    links = torch.stack([graph.edge_index[0, :3], (graph.edge_index[1, :3] + 1) % graph.num_nodes])
    assert not (graph.edge_index[:, :3] == links).all(0).any()
    batch = next(iter(LinkLoader(graph, link_sampler=sampler, edge_label_index=links, batch_size=3)))
    expected = sampler.sample(torch.unique(links))
    assert torch.equal(batch.e_id.sort().values, expected.e_id.sort().values)  # every edge into them, nothing left out


def test_pyg_loaders_refuse_repeated_input_nodes_and_seed_times():
    from torch_geometric.loader import NodeLoader
    from torch_geometric.sampler import EdgeSamplerInput

    graph = _graph()
    sampler = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (3,))
    with pytest.raises(ValueError, match="twice"):
        next(iter(NodeLoader(graph, node_sampler=sampler, input_nodes=torch.tensor([1, 1, 2]), batch_size=3)))
    with pytest.raises(ValueError, match="time"):
        sampler.sample_from_edges(EdgeSamplerInput(None, torch.tensor([0]), torch.tensor([1]), time=torch.tensor([3])))


def test_pyg_loader_batches_come_hop_by_hop_so_pyg_trims_them_per_layer():
    from torch_geometric.loader import NodeLoader
    from torch_geometric.nn.models import GraphSAGE

    graph = _graph(num_triples=600)
    graph.x = torch.randn(graph.num_nodes, 6, generator=torch.Generator().manual_seed(0))
    sampler = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (4, 3))
    batch = next(iter(NodeLoader(graph, node_sampler=sampler, input_nodes=torch.arange(8), batch_size=8)))
    assert sum(batch.num_sampled_edges) == batch.edge_index.size(1) and len(batch.num_sampled_edges) == 2
    hop_ends = torch.tensor(batch.num_sampled_nodes).cumsum(0)
    target_hop = torch.searchsorted(hop_ends, batch.edge_index[1], right=True)
    assert torch.equal(target_hop, target_hop.sort().values)  # those into the seeds first
    assert int((target_hop == 0).sum()) == batch.num_sampled_edges[0]
    model = GraphSAGE(6, 5, num_layers=2).eval()
    whole = model(batch.x, batch.edge_index)[:8]
    trimmed = model(
        batch.x,
        batch.edge_index,
        num_sampled_nodes_per_hop=batch.num_sampled_nodes,
        num_sampled_edges_per_hop=batch.num_sampled_edges,
    )[:8]
    assert torch.allclose(whole, trimmed, atol=1e-6)  # trimming dropped only what the seeds do not need


def test_pyg_link_loader_leaves_out_a_seed_link_given_either_way_round():
    from torch_geometric.loader import LinkLoader

    graph = _graph(num_triples=300, num_nodes=40)
    num_triples = graph.triples.size(0)
    sampler = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (50,))
    ids = torch.arange(10)
    reversed_links = graph.triples[ids][:, [2, 0]].t()  # tail -> head, named by the triple's id
    loader = LinkLoader(graph, link_sampler=sampler, edge_label_index=reversed_links, input_id=ids, batch_size=10)
    batch = next(iter(loader))
    assert not torch.isin(batch.e_id % num_triples, ids).any()


def _hop_edges(sub) -> list[int]:
    """Edges drawn at each hop: those into the seeds, then those into the nodes of hop 1, ..."""
    ends = torch.tensor(sub.num_sampled_nodes[:-1]).cumsum(0)
    return torch.bincount(torch.searchsorted(ends, sub.edge_index[1], right=True), minlength=len(ends)).tolist()


def test_max_edges_lowers_the_outer_hops_fanout_first():
    graph = _graph(num_triples=4000, num_nodes=400)
    sampler = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (6, 6))
    seeds = torch.arange(20)
    free = sampler.sample(seeds, generator=torch.Generator().manual_seed(0))
    first, second = _hop_edges(free)
    budget = first + second // 3
    sub = sampler.sample(seeds, generator=torch.Generator().manual_seed(0), max_edges=budget)
    assert len(sub.e_id) <= budget
    assert _hop_edges(sub)[0] == first  # the first hop keeps its fanout; the second takes what is left
    hop1 = torch.arange(len(seeds), len(seeds) + sub.num_sampled_nodes[1])
    incoming = torch.bincount(sub.edge_index[1], minlength=sub.num_nodes)[hop1]
    assert int(incoming.max()) < 6 and int(incoming.min()) >= 1  # a lower fanout for every node, none left out
    # still a subgraph of message edges, local ids consistent
    assert torch.equal(sub.n_id[sub.edge_index], graph.edge_index[:, sub.e_id])


def test_max_edges_below_one_edge_per_node_keeps_a_uniform_subset():
    graph = _graph(num_triples=4000, num_nodes=400)
    sampler = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (6, 6))
    seeds = torch.arange(50)
    for budget in (0, 7, 49, 200):
        sub = sampler.sample(seeds, generator=torch.Generator().manual_seed(3), max_edges=budget)
        assert len(sub.e_id) <= budget
        assert torch.equal(sub.n_id[: len(seeds)], seeds)
    filled = sampler.sample(seeds, generator=torch.Generator().manual_seed(4), max_edges=200)
    assert len(filled.e_id) == 200  # a dense graph fills its budget: the second hop takes what the first left
    with pytest.raises(ValueError, match="max_edges"):
        sampler.sample(seeds, max_edges=-1)


def test_a_budget_above_the_fanouts_changes_nothing():
    graph = _graph(num_triples=2000, num_nodes=200)
    sampler = NeighbourSampler(graph.edge_index, graph.edge_type, graph.num_nodes, (4, 3))
    seeds = torch.tensor([3, 9, 27, 81])
    free = sampler.sample(seeds, generator=torch.Generator().manual_seed(2))
    bounded = sampler.sample(seeds, generator=torch.Generator().manual_seed(2), max_edges=4 * 4 + 4 * 4 * 3)
    assert torch.equal(free.e_id, bounded.e_id) and torch.equal(free.n_id, bounded.n_id)
