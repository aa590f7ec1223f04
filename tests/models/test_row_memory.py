import contextlib
import copy
import pickle
from unittest import mock

import pytest
import torch

from kgtransfer.models import RGCN, CompGCN, EmbeddingEncoder
from kgtransfer.models.row_memory import RowLookup, RowMemory


def test_row_memory_reuses_only_memory_nothing_else_holds():
    memory = RowMemory()
    a = memory.take(10, 4, torch.float32, "cpu", zero=True)
    assert a.shape == (10, 4) and a.is_contiguous() and not a.any()
    ptr = a.data_ptr()
    b = memory.take(10, 4, torch.float32, "cpu")  # `a` is alive: fresh memory
    assert b.data_ptr() != ptr
    view = b[2:]
    del b
    c = memory.take(9, 4, torch.float32, "cpu")  # a view of `b` is alive: fresh again
    assert c.data_ptr() not in (ptr, view.data_ptr() - 8 * 4 * 4)
    held = c.data_ptr()
    del c
    d = memory.take(10, 4, torch.float32, "cpu", zero=True)  # nothing holds it; a 10th row fits in the headroom
    assert d.data_ptr() == held and d.shape == (10, 4) and not d.any()
    del d
    larger = memory.take(11, 4, torch.float32, "cpu")
    assert larger.data_ptr() != held  # larger than the block: fresh
    # another dtype: fresh (`larger` is kept alive: once freed, the allocator may hand its address out again)
    assert memory.take(2, 4, torch.float64, "cpu").data_ptr() != larger.data_ptr()
    memory.clear()
    assert "0.0 MiB" in repr(memory)


def test_row_memory_is_not_reused_while_a_sparse_gradient_holds_it():
    memory = RowMemory()
    values = memory.take(3, 2, torch.float32, "cpu")
    values.fill_(1.0)
    grad = torch.sparse_coo_tensor(torch.tensor([[0, 4, 2]]), values, (5, 2), check_invariants=False)
    del values
    again = memory.take(3, 2, torch.float32, "cpu", zero=True)
    assert torch.equal(grad.to_dense().sum(), torch.tensor(6.0))  # untouched by the zeroed `again`
    assert again.data_ptr() != grad._values().data_ptr()


def test_row_memory_copies_start_empty():
    memory = RowMemory()
    kept = memory.take(4, 4, torch.float32, "cpu")
    del kept
    for other in (copy.deepcopy(memory), pickle.loads(pickle.dumps(memory))):
        assert other._block is None
        assert other.take(4, 4, torch.float32, "cpu").shape == (4, 4)


def test_row_lookup_equals_a_sparse_embedding():
    torch.manual_seed(0)
    emb = torch.nn.Embedding(30, 5, sparse=True)
    ids = torch.tensor([7, 3, 29, 0, 12])
    upstream = torch.randn(5, 5)
    memory = RowMemory()
    grads = []
    for lookup in (lambda: emb(ids), lambda: RowLookup.apply(emb.weight, ids, memory)):
        emb.weight.grad = None
        out = lookup()
        (out * upstream).sum().backward()
        grads.append((out.detach().clone(), emb.weight.grad))
    (out_a, grad_a), (out_b, grad_b) = grads
    assert torch.equal(out_a, out_b)
    assert grad_b.is_sparse and not grad_b.is_coalesced()
    assert torch.equal(grad_a._indices(), grad_b._indices()) and torch.equal(grad_a._values(), grad_b._values())


def _sampled_rgcn_step(model, sub, upstream):
    h, _ = model(sub.edge_index, sub.edge_type, node_ids=sub.n_id, num_sampled_nodes=sub.num_sampled_nodes)
    return (h * upstream).sum()


@pytest.fixture
def subgraph():
    from kgtransfer.data.sampling import NeighbourSampler

    from .test_encoders import _random_graph

    edge_index, edge_type = _random_graph(60, 400, 6, seed=3)
    g = torch.Generator().manual_seed(0)
    return NeighbourSampler(edge_index, edge_type, 60, (4, 3)).sample(torch.tensor([0, 7, 21, 40]), generator=g)


class _EmbeddingLookup:
    """``RowLookup`` as ``nn.Embedding(sparse=True)`` computes it, in fresh memory."""

    @staticmethod
    def apply(weight, ids, memory):
        return torch.nn.functional.embedding(ids, weight, sparse=True)


@contextlib.contextmanager
def _fresh_memory():
    """The code before reused memory: nn.Embedding's lookup, the gradient of the first layer's input in fresh memory."""
    import kgtransfer.models.base as base
    import kgtransfer.models.rgcn as rgcn

    conv = rgcn.relational_conv
    with (
        mock.patch.object(base, "RowLookup", _EmbeddingLookup),
        mock.patch.object(rgcn, "relational_conv", lambda *a: conv(*a[:5])),
    ):
        yield


def _twin_models():
    """Two identical R-GCNs with sparse entity rows."""
    models = []
    for _ in range(2):
        torch.manual_seed(0)
        model = RGCN(60, 8, num_relations=3)
        model.entity_embedding.sparse = True
        models.append(model)
    return models


def test_sampled_rgcn_steps_with_reused_memory_match_fresh_memory(subgraph):
    """Steps with and without reused memory give the same parameters, also with accumulated gradients."""
    plain, reusing = _twin_models()
    opts = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (plain, reusing)]
    torch.manual_seed(1)
    upstream = torch.randn(4, 8)
    for step in range(3):
        for model, opt in zip((plain, reusing), opts, strict=True):
            with _fresh_memory() if model is plain else contextlib.nullcontext():
                if step != 1:  # step 1 accumulates onto step 0's gradients (no zeroing)
                    opt.zero_grad(set_to_none=True)
                _sampled_rgcn_step(model, subgraph, upstream * (step + 1)).backward()
                # a second forward before the backward of the first, then both backward
                loss = _sampled_rgcn_step(model, subgraph, upstream)
                loss = loss + _sampled_rgcn_step(model, subgraph, -0.5 * upstream)
                loss.backward()
                if step:
                    opt.step()
    assert reusing._lookup_memory._block is not None and reusing._input_grad_memory._block is not None
    for (name, a), b in zip(plain.named_parameters(), reusing.parameters(), strict=True):
        assert torch.equal(a, b), name
    assert not torch.equal(plain.entity_embedding.weight, RGCN(60, 8, num_relations=3).entity_embedding.weight)


def test_eval_drops_the_held_memory(subgraph):
    _, model = _twin_models()
    _sampled_rgcn_step(model, subgraph, torch.ones(4, 8)).backward()
    assert model._lookup_memory._block is not None
    model.eval()
    assert model._lookup_memory._block is None and model._input_grad_memory._block is None
    with torch.no_grad():  # evaluation looks rows up as before, into fresh memory
        _sampled_rgcn_step(model, subgraph, torch.ones(4, 8))
    assert model._lookup_memory._block is None
    copied = copy.deepcopy(model.train())
    assert copied._lookup_memory._block is None


@pytest.mark.parametrize("cls", [CompGCN, EmbeddingEncoder])
def test_other_encoders_reuse_the_lookup_with_the_same_gradients(cls, subgraph):
    grads = []
    for reuse in (False, True):
        torch.manual_seed(0)
        enc = cls(60, 8, num_relations=3)
        enc.entity_embedding.sparse = True
        with contextlib.nullcontext() if reuse else _fresh_memory():
            h, _ = enc(subgraph.edge_index, subgraph.edge_type, node_ids=subgraph.n_id)
        h.square().sum().backward()
        grads.append(enc.entity_embedding.weight.grad.coalesce())
    assert enc._lookup_memory._block is not None
    assert torch.equal(grads[0].indices(), grads[1].indices())
    torch.testing.assert_close(grads[0].values(), grads[1].values(), rtol=0, atol=0)
