"""The registered Adam and AdamW: torch's fused kernel where it runs, the same updates as torch's default."""

import pytest
import torch

from kgtransfer.registry import OPTIMIZERS


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_fused_on_cpu_with_the_same_updates_and_state_as_torch(name):
    torch.manual_seed(0)
    a = torch.nn.Linear(6, 4)
    b = torch.nn.Linear(6, 4)
    b.load_state_dict(a.state_dict())
    ours = OPTIMIZERS[name](a.parameters(), lr=0.01, weight_decay=0.01)
    reference = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name](b.parameters(), lr=0.01, weight_decay=0.01)
    assert ours.defaults["fused"] is True and not reference.defaults["fused"]
    x = torch.randn(32, 6)
    for _ in range(5):
        for model, opt in ((a, ours), (b, reference)):
            opt.zero_grad()
            model(x).pow(2).sum().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    reference.load_state_dict(ours.state_dict())  # checkpoints load either way


def test_param_groups_and_explicit_choice_are_kept():
    model = torch.nn.Linear(3, 3)
    groups = [{"params": [model.weight]}, {"params": [model.bias], "lr": 0.1}]
    assert OPTIMIZERS["adam"](groups, lr=0.01).defaults["fused"] is True
    assert not OPTIMIZERS["adam"](model.parameters(), lr=0.01, foreach=True).defaults["fused"]
    assert not OPTIMIZERS["adam"]([torch.zeros(2, dtype=torch.long)]).defaults["fused"]  # not floating


def _sparse_and_dense(name: str, weight_decay: float = 0.0):
    torch.manual_seed(0)
    sparse = torch.nn.Embedding(20, 4, sparse=True)
    dense = torch.nn.Embedding(20, 4)
    dense.load_state_dict(sparse.state_dict())
    make = OPTIMIZERS[name]
    return (
        sparse,
        dense,
        make(sparse.parameters(), lr=0.05, weight_decay=weight_decay),
        make(dense.parameters(), lr=0.05, weight_decay=weight_decay),
    )


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_lazy_rows_equal_the_dense_update_where_no_other_row_has_gradient(name):
    sparse, dense, lazy, full = _sparse_and_dense(name)
    rows = torch.tensor([3, 7, 7, 11])  # a repeated row: its gradients add up
    before = dense.weight.detach().clone()
    for _ in range(4):
        for emb, opt in ((sparse, lazy), (dense, full)):
            opt.zero_grad()
            (emb(rows) * torch.arange(1.0, 5.0)).pow(2).sum().backward()
            opt.step()
        assert sparse.weight.grad.is_sparse and not dense.weight.grad.is_sparse
    torch.testing.assert_close(sparse.weight, dense.weight, rtol=1e-5, atol=1e-6)
    untouched = torch.ones(20, dtype=torch.bool)
    untouched[rows] = False
    assert torch.equal(sparse.weight.detach()[untouched], before[untouched])
    assert not torch.equal(sparse.weight.detach()[rows], before[rows])
    assert float(lazy.state[sparse.weight]["step"]) == 4


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_lazy_weight_decay_acts_on_touched_rows_like_the_dense_update(name):
    sparse, dense, lazy, full = _sparse_and_dense(name, weight_decay=0.1)
    rows = torch.tensor([0, 5])
    before = dense.weight.detach().clone()
    for emb, opt in ((sparse, lazy), (dense, full)):
        opt.zero_grad()
        emb(rows).sum().backward()
        opt.step()
    torch.testing.assert_close(sparse.weight[rows], dense.weight[rows], rtol=1e-5, atol=1e-6)
    assert torch.equal(sparse.weight.detach()[2], before[2])  # a lazy update leaves other rows alone


def test_lazy_state_loads_into_a_dense_optimizer_and_hooks_run_once():
    sparse, dense, lazy, full = _sparse_and_dense("adam")
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])  # torch's own class is hooked now too
    calls = []
    lazy.register_step_pre_hook(lambda *args: calls.append("pre"))
    lazy.register_step_post_hook(lambda *args: calls.append("post"))
    sparse(torch.tensor([1, 2])).sum().backward()
    lazy.step()
    assert calls == ["pre", "post"]
    full.load_state_dict(lazy.state_dict())  # the same state keys as the dense update: checkpoints resume
    assert torch.equal(full.state[dense.weight]["exp_avg"], lazy.state[sparse.weight]["exp_avg"])


def test_lazy_rows_refuse_amsgrad_clearly():
    emb = torch.nn.Embedding(5, 2, sparse=True)
    opt = OPTIMIZERS["adam"](emb.parameters(), amsgrad=True)
    emb(torch.tensor([1])).sum().backward()
    with pytest.raises(ValueError, match="amsgrad"):
        opt.step()


@pytest.mark.parametrize("name", ["adam", "adamw"])
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("chunk", [64, 128, 192])
def test_lazy_update_in_chunks_equals_one_chunk(monkeypatch, name, fused, chunk):
    import kgtransfer.optimizers as optimizers

    def run(rows_per_chunk: int, repeats: bool) -> tuple:
        monkeypatch.setattr(optimizers, "ROWS_PER_CHUNK", rows_per_chunk)
        torch.manual_seed(0)
        emb = torch.nn.Embedding(500, 5, sparse=True)
        options = {} if fused else {"foreach": False}
        opt = OPTIMIZERS[name](emb.parameters(), lr=0.05, weight_decay=0.01, **options)
        assert bool(opt.defaults.get("fused")) == fused
        g = torch.Generator().manual_seed(1)
        for touched in (300, 64, 1, 257):  # several chunks, exactly one, a single row, a partial last chunk
            rows = torch.randperm(500, generator=g)[:touched]  # unique, unsorted: a sampled subgraph's lookup
            if repeats:
                rows = torch.cat([rows, rows[:5]])
            opt.zero_grad()
            (emb(rows) * torch.randn(len(rows), 5, generator=g)).sum().backward()
            assert touched == 1 or not emb.weight.grad.is_coalesced()
            opt.step()
        state = opt.state[emb.weight]
        return emb.weight.detach(), state["exp_avg"], state["exp_avg_sq"], state["step"]

    for repeats in (False, True):
        whole, chunked = run(10_000, repeats), run(chunk, repeats)
        for a, b in zip(whole, chunked, strict=True):
            assert torch.equal(a, b)
        assert float(chunked[3]) == 4


def test_sparse_rows_of_sorts_unique_rows_without_copying_and_coalesces_repeats():
    from kgtransfer.optimizers import sparse_rows_of

    values = torch.arange(8.0).view(4, 2)
    unique = torch.sparse_coo_tensor(torch.tensor([[5, 1, 9, 3]]), values, (10, 2))
    rows, vals, order = sparse_rows_of(unique)
    assert rows.tolist() == [1, 3, 5, 9] and vals.data_ptr() == values.data_ptr()
    assert torch.equal(vals[order], unique.coalesce().values())
    repeated = torch.sparse_coo_tensor(torch.tensor([[5, 1, 5]]), values[:3], (10, 2))
    rows, vals, order = sparse_rows_of(repeated)
    assert rows.tolist() == [1, 5] and order is None and vals.tolist() == [[2.0, 3.0], [4.0, 6.0]]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_write_rows_has_the_bits_of_index_copy(dtype):
    from kgtransfer.optimizers import write_rows

    torch.manual_seed(0)
    x = torch.randn(1000, 7).to(dtype)
    rows = torch.randperm(1000)[:300]
    values = torch.randn(300, 7).to(dtype)
    info = torch.finfo(dtype)
    specials = [-0.0, float("nan"), float("inf"), -float("inf"), info.tiny / 4, info.max, -info.tiny / 2, 0.0]
    for i, v in enumerate(specials):
        values[i, i % 7] = v
    expected = x.clone().index_copy_(0, rows, values)
    write_rows(x, rows, values)
    bits = {torch.float32: torch.int32, torch.float64: torch.int64, torch.bfloat16: torch.int16}[dtype]
    assert torch.equal(x.view(bits), expected.view(bits))
    pair = torch.zeros(10, 2)
    write_rows(pair[:, :1], torch.tensor([3]), torch.ones(1, 1))  # a non-contiguous view: index_copy_
    assert pair[3, 0] == 1 and pair.sum() == 1
