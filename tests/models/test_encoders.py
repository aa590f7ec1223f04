import copy
import math
import pickle

import pytest
import torch

from kgtransfer.models import ENCODERS, RGCN, CompGCN, CompGCNConv, EmbeddingEncoder, circular_correlation

from .model_cases import DIM, NUM_NODES, NUM_RELATIONS, EncoderCase, toy_graph


class TestRGCN(EncoderCase):
    cls = RGCN
    expected_repr = "RGCN(12, 8, num_relations=3, num_layers=2)"


class TestRGCNBasis(EncoderCase):
    cls = RGCN
    kwargs = {"num_bases": 2, "dropout": 0.3}
    expected_repr = "RGCN(12, 8, num_relations=3, num_layers=2, num_bases=2)"


class TestRGCNBlocks(EncoderCase):
    cls = RGCN
    kwargs = {"num_blocks": 2, "num_layers": 3, "root_weight": False}
    expected_repr = "RGCN(12, 8, num_relations=3, num_layers=3, num_blocks=2)"
    isolated_nodes_differ = False


class TestCompGCNSub(EncoderCase):
    cls = CompGCN
    kwargs = {"comp": "sub", "dropout": 0.3}
    expected_repr = "CompGCN(12, 8, num_relations=3, num_layers=2, comp='sub')"


class TestCompGCNMult(EncoderCase):
    cls = CompGCN
    kwargs = {"comp": "mult", "num_layers": 1}
    expected_repr = "CompGCN(12, 8, num_relations=3, num_layers=1, comp='mult')"


class TestCompGCNCorr(EncoderCase):
    cls = CompGCN
    kwargs = {"comp": "corr"}
    expected_repr = "CompGCN(12, 8, num_relations=3, num_layers=2, comp='corr')"


class TestEmbeddingEncoder(EncoderCase):
    cls = EmbeddingEncoder
    expected_repr = "EmbeddingEncoder(12, 8, num_relations=3)"


def test_every_registered_encoder_has_a_test_class():
    tested = {case.cls for case in EncoderCase.__subclasses__()}
    untested = {name for name, cls in ENCODERS.items() if cls not in tested}
    assert not untested, f"registered encoders without an EncoderCase test class: {sorted(untested)}"


def naive_correlation(a, b):
    d = a.size(-1)
    return torch.stack([sum(a[i] * b[(i + k) % d] for i in range(d)) for k in range(d)])


@pytest.mark.parametrize("d", [1, 5, 8])
def test_circular_correlation_matches_naive(d):
    g = torch.Generator().manual_seed(d)
    a, b = torch.randn(d, generator=g, dtype=torch.float64), torch.randn(d, generator=g, dtype=torch.float64)
    torch.testing.assert_close(circular_correlation(a, b), naive_correlation(a, b))
    batch = torch.randn(4, d, generator=g, dtype=torch.float64)
    torch.testing.assert_close(circular_correlation(batch, b)[2], naive_correlation(batch[2], b))


def naive_compgcn_conv(conv: CompGCNConv, x, edge_index, edge_type, rel):
    """The CompGCN layer edge by edge, with the naive correlation."""
    ops = {"sub": lambda a, b: a - b, "mult": lambda a, b: a * b, "corr": naive_correlation}
    phi = ops[conv.comp]
    src, dst = edge_index.tolist()
    kinds = (edge_type % 2).tolist()
    out = torch.zeros(x.size(0), conv.out_channels, dtype=x.dtype)
    for u, v, k, p in zip(src, dst, edge_type.tolist(), kinds, strict=True):
        d_out = sum(1 for s, q in zip(src, kinds, strict=True) if s == u and q == p)
        d_in = sum(1 for t, q in zip(dst, kinds, strict=True) if t == v and q == p)
        weight = conv.weight_out if p else conv.weight_in
        out[v] += phi(x[u], rel[k]) @ weight / math.sqrt(d_out * d_in)
    loop = torch.stack([phi(x[i], conv.loop_rel[0]) for i in range(x.size(0))]) @ conv.weight_loop
    return (out + loop) / 3 + conv.bias, rel @ conv.weight_rel


@pytest.mark.parametrize("comp", ["sub", "mult", "corr"])
def test_compgcn_conv_matches_naive(comp):
    torch.manual_seed(0)
    conv = CompGCNConv(4, 6, comp=comp, norm=False).double()
    torch.nn.init.normal_(conv.bias)
    edge_index, edge_type = toy_graph(num_edges=6)
    x = torch.randn(NUM_NODES, 4, dtype=torch.float64)
    rel = torch.randn(2 * NUM_RELATIONS, 4, dtype=torch.float64)
    out, rel_out = conv(x, edge_index, edge_type, rel)
    want, want_rel = naive_compgcn_conv(conv, x, edge_index, edge_type, rel)
    torch.testing.assert_close(out, want)
    torch.testing.assert_close(rel_out, want_rel)
    assert repr(conv) == f"CompGCNConv(4, 6, comp='{comp}')"


def test_compgcn_relations_are_the_forward_then_inverse_edge_types():
    enc = CompGCN(NUM_NODES, DIM, NUM_RELATIONS, num_layers=1)
    _, rel = enc(*toy_graph())
    fwd = enc.relation_embedding.weight @ enc.convs[0].weight_rel
    inv = enc.inverse_relation_embedding.weight @ enc.convs[0].weight_rel
    torch.testing.assert_close(rel, torch.cat([fwd, inv]))


def test_rgcn_layer_matches_formula():
    torch.manual_seed(0)
    enc = RGCN(NUM_NODES, DIM, NUM_RELATIONS, num_layers=1).double()
    edge_index, edge_type = toy_graph()
    out, _ = enc(edge_index, edge_type)
    conv, x = enc.convs[0], enc.entity_embedding.weight
    want = x @ conv.root + conv.bias
    for k in range(2 * NUM_RELATIONS):
        for v in range(NUM_NODES):
            sources = edge_index[0, (edge_type == k) & (edge_index[1] == v)]
            if len(sources):
                want[v] += x[sources].mean(0) @ conv.weight[k]
    torch.testing.assert_close(out, want)


def test_rgcn_basis_and_block_parameters():
    basis = RGCN(NUM_NODES, DIM, NUM_RELATIONS, num_bases=2)
    blocks = RGCN(NUM_NODES, DIM, NUM_RELATIONS, num_blocks=4)
    assert basis.convs[0].weight.shape == (2, DIM, DIM)
    assert basis.convs[0].comp.shape == (2 * NUM_RELATIONS, 2)
    assert blocks.convs[0].weight.shape == (2 * NUM_RELATIONS, 4, 2, 2)
    with pytest.raises(ValueError, match="divide"):
        RGCN(NUM_NODES, DIM, NUM_RELATIONS, num_blocks=3)
    with pytest.raises(ValueError, match="not both"):
        RGCN(NUM_NODES, DIM, NUM_RELATIONS, num_bases=2, num_blocks=2)
    for option in ("num_bases", "num_blocks"):  # were torch's negative-dimension or reshape errors
        with pytest.raises(ValueError, match=f"{option} must be >= 1, got 0"):
            RGCN(NUM_NODES, DIM, NUM_RELATIONS, **{option: 0})


def test_unknown_composition():
    with pytest.raises(ValueError, match="sub, mult, corr"):
        CompGCN(NUM_NODES, DIM, NUM_RELATIONS, comp="add")


def test_embedding_encoder_returns_its_rows():
    enc = EmbeddingEncoder(NUM_NODES, DIM, NUM_RELATIONS)
    ent, rel = enc(*toy_graph())
    assert ent is enc.entity_embedding.weight and rel is enc.relation_embedding.weight


def test_compgcn_conv_layer_normalizes_its_output():
    torch.manual_seed(0)
    edge_index, edge_type = toy_graph(num_edges=6)
    x, rel = torch.randn(NUM_NODES, 4), torch.randn(2 * NUM_RELATIONS, 4)
    out, _ = CompGCNConv(4, 6, comp="mult")(x, edge_index, edge_type, rel)
    torch.testing.assert_close(out.mean(1), torch.zeros(NUM_NODES), atol=1e-5, rtol=0)
    assert torch.allclose(out.std(1, unbiased=False), torch.ones(NUM_NODES), atol=0.05)
    torch.manual_seed(0)
    plain, _ = CompGCNConv(4, 6, comp="mult", norm=False)(x, edge_index, edge_type, rel)
    assert plain.std(1).mean() < 0.5  # Glorot weights and the 1/3 shrink unnormalized outputs


@pytest.mark.parametrize("num_bases", [None, 2])
def test_rgcn_trimmed_to_the_seeds_equals_the_full_pass_on_them(num_bases):
    from kgtransfer.data.sampling import NeighbourSampler
    from kgtransfer.data.tensorize import Triples

    g = torch.Generator().manual_seed(0)
    rows = torch.stack([torch.randint(40, (300,), generator=g), torch.randint(3, (300,), generator=g)], 1)
    rows = torch.cat([rows, torch.randint(40, (300, 1), generator=g)], 1)
    graph = Triples(rows, 40, 3).to_pyg()
    sub = NeighbourSampler(graph.edge_index, graph.edge_type, 40, (4, 3)).sample(torch.tensor([0, 7, 21]), generator=g)
    assert sub.num_sampled_nodes[2] > 0  # an outer hop to trim
    torch.manual_seed(0)
    enc = RGCN(40, 8, num_relations=3, num_bases=num_bases)
    full, _ = enc(sub.edge_index, sub.edge_type, node_ids=sub.n_id)
    trimmed, _ = enc(sub.edge_index, sub.edge_type, node_ids=sub.n_id, num_sampled_nodes=sub.num_sampled_nodes)
    assert trimmed.shape == (3, 8)
    torch.testing.assert_close(trimmed, full[:3], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("encoder", ["rgcn", "compgcn"])
def test_what_layers_derive_from_the_graph_is_computed_once_while_it_comes_back_unchanged(monkeypatch, encoder):
    """Whole-graph steps encode one graph every step: R-GCN's typed layout and CompGCN's normalized adjacency
    are computed once, again only when the graph changes (another graph, or the same tensors changed in place),
    and give the numbers of a fresh encoder."""
    from kgtransfer.models import compgcn, rgcn

    cls, layout = {"rgcn": (RGCN, rgcn.TypedEdges), "compgcn": (CompGCN, compgcn.NormalizedAdjacency)}[encoder]
    calls = []
    of = layout.of.__func__
    monkeypatch.setattr(layout, "of", classmethod(lambda c, *a: calls.append(1) or of(c, *a)))
    edge_index, edge_type = toy_graph()
    torch.manual_seed(0)
    enc = cls(NUM_NODES, DIM, NUM_RELATIONS)
    first, _ = enc(edge_index, edge_type)
    second, _ = enc(edge_index, edge_type)
    assert len(calls) == 1 and torch.equal(first, second)  # two layers and two passes, one layout

    edge_index[0, 0] = (edge_index[0, 0] + 1) % 10  # in place: the version counter moves
    changed, _ = enc(edge_index, edge_type)
    other_index, other_type = toy_graph(seed=1)
    enc(other_index, other_type)
    assert len(calls) == 3
    fresh = cls(NUM_NODES, DIM, NUM_RELATIONS)
    fresh.load_state_dict(enc.state_dict())
    expected, _ = fresh(edge_index.clone(), edge_type.clone())
    assert torch.equal(changed, expected) and not torch.equal(changed, first)

    copied = copy.deepcopy(enc)  # copies and pickles leave the kept graph behind, and rebuild it
    assert "_per_graph" in enc.__dict__ and "_per_graph" not in copied.__dict__
    assert "_per_graph" not in pickle.loads(pickle.dumps(enc)).__dict__
    built = len(calls)
    assert torch.equal(copied(edge_index, edge_type)[0], changed) and len(calls) == built + 1


def test_compgcn_sub_as_sparse_products_equals_the_messages_per_edge():
    """``sub`` sums its messages as two sparse products (NormalizedAdjacency): the outputs and every gradient of
    PyG's per-edge messages, duplicate edges, isolated nodes and unused edge types included."""
    from kgtransfer.models.compgcn import _degree_norm

    torch.manual_seed(0)
    conv = CompGCNConv(5, 7, comp="sub", norm=False).double()
    edge_index, edge_type = toy_graph(num_edges=30)
    edge_index = torch.cat([edge_index, edge_index[:, :3]], 1)  # duplicates count twice
    edge_type = torch.cat([edge_type, edge_type[:3]])
    x = torch.randn(NUM_NODES, 5, dtype=torch.float64, requires_grad=True)
    rel = torch.randn(2 * NUM_RELATIONS + 2, 5, dtype=torch.float64, requires_grad=True)  # two types unused
    out, _ = conv(x, edge_index, edge_type, rel)
    inputs = [x, rel, conv.weight_in, conv.weight_out, conv.weight_loop, conv.loop_rel, conv.bias]
    grads = torch.autograd.grad(out.square().sum(), inputs)
    norm = _degree_norm(edge_index, edge_type, NUM_NODES, torch.float64)
    n = NUM_NODES
    neigh = conv.propagate(edge_index, x=x, rel=rel, edge_type=edge_type, norm=norm, size=(n, n))
    loop = (x - conv.loop_rel) @ conv.weight_loop
    want = (neigh + loop) / 3 + conv.bias
    want_grads = torch.autograd.grad(want.square().sum(), inputs)
    torch.testing.assert_close(out, want)
    for got, expected in zip(grads, want_grads, strict=True):
        torch.testing.assert_close(got, expected)


def _edgewise_conv(conv, x, edge_index, edge_type, num_out):
    """The previous implementation of ``relational_conv``: one autograd op per step, ``[E, d]`` messages."""
    weight = conv.weight
    if conv.num_bases is not None:
        weight = (conv.comp @ weight.view(conv.num_bases, -1)).view(conv.num_relations, x.size(1), -1)
    src, dst = edge_index
    key = dst * conv.num_relations + edge_type
    _, inverse, counts = torch.unique(key, return_inverse=True, return_counts=True)
    norm = counts[inverse].to(x.dtype).reciprocal()
    order = torch.argsort(edge_type, stable=True)
    sizes = torch.bincount(edge_type, minlength=conv.num_relations).tolist()
    weights = weight.unbind(0)
    parts = [chunk @ weights[r] for r, chunk in enumerate(x[src[order]].split(sizes)) if sizes[r]]
    out = x.new_zeros(num_out, conv.out_channels).index_add(0, dst[order], torch.cat(parts) * norm[order, None])
    if conv.root is not None:
        out = out + x[:num_out] @ conv.root
    return out + conv.bias


def _random_graph(num_nodes: int, num_edges: int, num_types: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(num_nodes, (2, num_edges), generator=g)
    edge_index[:, :5] = torch.tensor([[1, 1, 2, 2, 3], [0, 0, 0, 0, 0]])  # a repeated edge, a shared target
    edge_type = torch.randint(num_types - 1, (num_edges,), generator=g)  # type num_types - 1 has no edge
    edge_type[: num_edges // 3] = 2  # one type larger than a chunk
    return edge_index, edge_type


@pytest.mark.parametrize(
    ("num_bases", "root_weight", "num_out", "chunk"),
    [
        (None, True, None, 7),
        (2, True, None, 7),
        (None, False, None, 7),
        (None, True, 9, 7),
        (2, True, 9, 1),
        (None, True, 9, 10**6),
    ],
)
def test_relational_conv_equals_the_edgewise_ops_and_pyg(monkeypatch, num_bases, root_weight, num_out, chunk):
    from torch_geometric.nn import RGCNConv

    import kgtransfer.models.rgcn as rgcn

    monkeypatch.setattr(rgcn, "CHUNK_EDGES", chunk)  # several runs of types, one type over a run
    torch.manual_seed(0)
    conv = RGCNConv(6, 5, 8, num_bases=num_bases, aggr="mean", root_weight=root_weight).double()
    torch.nn.init.normal_(conv.bias)
    edge_index, edge_type = _random_graph(20, 120, 8, seed=1)
    n = 20 if num_out is None else num_out
    if num_out is not None:  # a trimmed layer: only the edges into the first nodes
        keep = edge_index[1] < n
        edge_index, edge_type = edge_index[:, keep], edge_type[keep]
    x = torch.randn(20, 6, dtype=torch.float64, requires_grad=True)
    outs, grads = [], []
    for fn in (rgcn.relational_conv, _edgewise_conv):
        conv.zero_grad()
        x.grad = None
        out = fn(conv, x, edge_index, edge_type, n)
        (out * torch.linspace(-1, 2, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
        outs.append(out.detach())
        grads.append([x.grad.clone()] + [p.grad.clone() for p in conv.parameters()])
    torch.testing.assert_close(outs[0], outs[1])
    for new, old in zip(*grads, strict=True):
        torch.testing.assert_close(new, old)
    assert all(g.abs().sum() > 0 for g in grads[0])  # every gradient compared is a real one
    torch.testing.assert_close(outs[0], conv(x, edge_index, edge_type)[:n].detach())  # PyG's own forward


def test_typed_messages_gradcheck():
    from kgtransfer.models.rgcn import TypedMessages

    torch.manual_seed(0)
    x = torch.randn(6, 3, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(4, 3, 2, dtype=torch.float64, requires_grad=True)
    src, dst = torch.tensor([0, 5, 2, 2, 4, 1]), torch.tensor([1, 1, 0, 3, 3, 0])  # sorted by type: 0, 0, 2, 2, 2, 3
    norm = torch.rand(6, dtype=torch.float64)
    sizes = [2, 0, 3, 1]
    assert torch.autograd.gradcheck(lambda a, w: TypedMessages.apply(a, w, src, dst, norm, sizes, 4), (x, weight))
    root = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)  # with the self-loop term
    messages = TypedMessages.apply
    assert torch.autograd.gradcheck(lambda a, w, o: messages(a, w, src, dst, norm, sizes, 4, o), (x, weight, root))


def test_relational_conv_under_autocast_matches_the_edgewise_ops():
    from torch_geometric.nn import RGCNConv

    from kgtransfer.models.rgcn import relational_conv

    torch.manual_seed(0)
    conv = RGCNConv(16, 16, 8, aggr="mean")
    edge_index, edge_type = _random_graph(30, 200, 8, seed=2)
    x = torch.randn(30, 16, requires_grad=True)
    results, dtypes = [], []
    for fn in (relational_conv, _edgewise_conv):
        conv.zero_grad()
        x.grad = None
        with torch.autocast("cpu", dtype=torch.bfloat16):  # the engine's CUDA autocast, on the CPU
            out = fn(conv, x, edge_index, edge_type, 30)
        out.float().square().sum().backward()
        dtypes.append(out.dtype)
        results.append((out.float().detach(), x.grad.clone(), conv.weight.grad.clone()))
    assert dtypes[0] == dtypes[1]
    for new, old in zip(*results, strict=True):
        torch.testing.assert_close(new, old, rtol=0.02, atol=0.02)


@pytest.mark.parametrize("comp", ["sub", "mult", "corr"])
def test_compgcn_encodes_a_whole_neighbourhood_sample_as_the_whole_graph(comp):
    """Its edges were normalized by the subgraph's out-degrees: a seed whose neighbourhood was sampled whole
    got another row (up to 0.8 apart) than in the whole graph, so sampled training and evaluation differed."""
    from torch_geometric.data import Data

    from kgtransfer.data.sampling import NeighbourSampler
    from kgtransfer.models import CompGCN

    g = torch.Generator().manual_seed(0)
    h, r, t = (torch.randint(n, (60,), generator=g) for n in (30, 3, 30))
    graph = Data(
        edge_index=torch.cat([torch.stack([h, t]), torch.stack([t, h])], 1), edge_type=torch.cat([2 * r, 2 * r + 1])
    )
    encoder = CompGCN(30, 8, 3, num_layers=2, comp=comp).double().eval()
    encoder.observe_graph(graph.edge_index, graph.edge_type, 30)  # as a task does before sampled steps
    sub = NeighbourSampler(graph.edge_index, graph.edge_type, 30, (1000, 1000)).sample(torch.tensor([3, 7, 11]))
    with torch.no_grad():
        whole, _ = encoder(graph.edge_index, graph.edge_type)
        part, _ = encoder(sub.edge_index, sub.edge_type, node_ids=sub.n_id)
    assert torch.allclose(part[:3], whole[[3, 7, 11]], atol=1e-12)


def test_sampled_training_hands_the_whole_graph_to_the_encoder():
    import kgtransfer as kgt

    rows = [(f"<urn:e{i}>", f"<urn:p{i % 2}>", f"<urn:e{(i * 7) % 20}>") for i in range(60)]
    run = kgt.train(
        kgt.KnowledgeGraph.from_triples(rows),
        kgt.ModelConfig(encoder="compgcn", dim=8),
        kgt.TrainConfig(epochs=1, batch_size=16, progress=False),
        kgt.TaskConfig(mode="sampled"),
    )
    assert run.model.encoder._whole_degrees is not None
