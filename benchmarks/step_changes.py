"""One change of a sampled training step, before against after, in one process.

Run:  .venv/bin/python benchmarks/step_changes.py CHANGE [--sizes 100000 1000000 5000000] [--steps 8]

For each synthetic size (:func:`scaling_training.synthetic_triples`) one process builds the graph,
the sampled link-prediction task and two identical R-GCN + DistMult models at the defaults (seed 0),
each with its optimizer, and takes the same sampled steps with both, alternately (one untimed
warm-up step each): ``before`` with the code the change replaced (kept here), ``after`` with the
package's. Steps alternate, so both see the same load; CPU seconds per step are reported (median
and mean, and the median of the per-step ratios), and the two models' largest parameter
difference after the steps. The changes (``CHANGES``):

- ``sparse-rows``: the entity table's row-sparse gradient as it was clipped and updated before
  (:func:`clip_before`: coalesce, then clip; :func:`lazy_update_before`: coalesce, gather the
  touched rows of the table and both moments whole, one Adam call, three ``index_copy_``) against
  :func:`kgtransfer.engine.clip_gradients` and the chunked lazy update of :mod:`kgtransfer.optimizers`
  (unique rows not coalesced, gathered and written back 4,096 rows at a time).
- ``root``: R-GCN's self-loop term added outside ``TypedMessages`` under autograd
  (:func:`relational_conv_before`) against inside it.
- ``gather``: ``TypedMessages`` gathering each run's rows with advanced indexing, ``x[src]``
  (:class:`TypedMessagesBefore`), against ``index_select`` (the same rows; torch's ``index`` kernel
  copies element by element, ``index_select`` row by row).
- ``row-memory``: the lookup of the sample's rows by ``nn.Embedding`` and the first layer's input
  gradient in fresh memory (:class:`EmbeddingLookup`, ``relational_conv`` without ``grad_memory``)
  against both in reused memory (:mod:`kgtransfer.models.row_memory`).
- ``write-rows``: the lazy update writing its rows back with ``index_copy_`` (element by element)
  against :func:`kgtransfer.optimizers.write_rows` (the same bits, row by row).
- ``messages``: each R-GCN layer as edgewise autograd ops (:func:`edgewise_conv`, the implementation
  before ``TypedMessages``) against ``TypedMessages`` (reported with its exponent by ``rgcn_messages.py``).

Writes ``benchmarks/results/step_changes_CHANGE.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

import torch
from torch.optim.adam import adam

sys.path.insert(0, str(Path(__file__).parent))
from scaling_training import synthetic_triples  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def clip_before(parameters, max_norm: float):
    """``clip_gradients`` before: every sparse gradient coalesced, then the clip over the values."""
    params = [p for p in parameters if p.grad is not None]
    for p in params:
        if p.grad.is_sparse:
            p.grad = p.grad.coalesce()
    norms = [p.grad.values().norm() if p.grad.is_sparse else p.grad.norm() for p in params]
    total = torch.stack([n.float() for n in norms]).norm()
    scale = (max_norm / (total + 1e-6)).clamp(max=1.0)
    for p in params:
        p.grad.mul_(scale.to(p.grad.device, p.grad.dtype))
    return total


def lazy_update_before(self, group: dict, p: torch.Tensor, grad: torch.Tensor) -> None:
    """``_LazyRows._lazy_update`` before: the touched rows gathered whole, one Adam call."""
    grad = grad.coalesce()
    rows, values = grad.indices()[0], grad.values()
    state = self.state[p]
    if not state:
        fused = group.get("fused") or group.get("capturable")
        state["step"] = torch.zeros((), dtype=torch.float32, device=p.device) if fused else torch.tensor(0.0)
        state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
        state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    theta, m, v = (torch.index_select(x, 0, rows) for x in (p, exp_avg, exp_avg_sq))
    beta1, beta2 = group["betas"]
    adam(
        [theta],
        [values],
        [m],
        [v],
        [],
        [state["step"]],
        fused=bool(group.get("fused")),
        foreach=False if not group.get("fused") else None,
        decoupled_weight_decay=self._decoupled,
        amsgrad=False,
        beta1=beta1,
        beta2=beta2,
        lr=group["lr"],
        weight_decay=group["weight_decay"],
        eps=group["eps"],
        maximize=False,
    )
    for x, rows_x in ((p, theta), (exp_avg, m), (exp_avg_sq, v)):
        x.index_copy_(0, rows, rows_x)


def relational_conv_before(conv, x, edge_index, edge_type, num_out=None, grad_memory=None):
    """``relational_conv`` with the root term outside ``TypedMessages`` (``out + x[:n] @ root``)."""
    from kgtransfer.models.rgcn import TypedMessages

    n = x.size(0) if num_out is None else num_out
    if conv.num_blocks is not None:
        return conv(x, edge_index, edge_type)[:n]
    weight = conv.weight
    if conv.num_bases is not None:
        weight = (conv.comp @ weight.view(conv.num_bases, -1)).view(conv.num_relations, x.size(1), conv.out_channels)
    if edge_type.numel():
        src, dst = edge_index
        key = dst * conv.num_relations + edge_type
        _, inverse, counts = torch.unique(key, return_inverse=True, return_counts=True)
        order = torch.argsort(edge_type, stable=True)
        sizes = torch.bincount(edge_type, minlength=conv.num_relations).tolist()
        norm = counts[inverse].to(x.dtype).reciprocal()
        out = TypedMessages.apply(x, weight, src[order], dst[order], norm[order], sizes, n, None, grad_memory)
    else:
        out = x.new_zeros(n, conv.out_channels)
    if conv.root is not None:
        out = out + x[:n] @ conv.root
    if conv.bias is not None:
        out = out + conv.bias
    return out


class TypedMessagesBefore(torch.autograd.Function):
    """``kgtransfer.models.rgcn.TypedMessages`` with ``x[src]`` / ``grad_out[dst]`` gathers, as before."""

    @staticmethod
    def forward(ctx, x, weight, src, dst, norm, sizes, num_out, root=None, grad_memory=None):
        from kgtransfer.models.rgcn import _chunks, _matmul_dtype

        dtype = _matmul_dtype(x)
        w = weight.to(dtype)
        out = x.new_zeros(num_out, weight.size(2))
        for lo, hi, types in _chunks(sizes):
            msg = x.new_empty(hi - lo, w.size(2), dtype=dtype)
            xs = x[src[lo:hi]].to(dtype)
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
        from kgtransfer.models.rgcn import _chunks

        x, weight, src, dst, norm, root = ctx.saved_tensors
        dtype, need_x, need_w = ctx.dtype, ctx.needs_input_grad[0], ctx.needs_input_grad[1]
        need_root = root is not None and ctx.needs_input_grad[7]
        w = weight.to(dtype)
        grad_x = None
        if need_x:  # in reused memory where the caller passes it, as TypedMessages does
            memory = ctx.grad_memory
            grad_x = memory.take(*x.shape, x.dtype, x.device, zero=True) if memory is not None else torch.zeros_like(x)
        grad_w = torch.zeros(weight.shape, dtype=dtype, device=weight.device) if need_w else None
        for lo, hi, types in _chunks(ctx.sizes):
            g = (grad_out[dst[lo:hi]] * norm[lo:hi, None]).to(dtype)
            xs = x[src[lo:hi]].to(dtype) if need_w else None
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


def edgewise_conv(conv, x, edge_index, edge_type, num_out=None, grad_memory=None):
    """``relational_conv`` before ``TypedMessages`` (no block decomposition): ``[E, d]`` autograd ops.

    ``grad_memory`` is accepted and unused: autograd allocates the input gradient here.
    """
    n = x.size(0) if num_out is None else num_out
    weight = conv.weight
    if conv.num_bases is not None:
        weight = (conv.comp @ weight.view(conv.num_bases, -1)).view(conv.num_relations, x.size(1), conv.out_channels)
    src, dst = edge_index
    out = x.new_zeros(n, conv.out_channels)
    if edge_type.numel():
        key = dst * conv.num_relations + edge_type
        _, inverse, counts = torch.unique(key, return_inverse=True, return_counts=True)
        norm = counts[inverse].to(x.dtype).reciprocal()
        order = torch.argsort(edge_type, stable=True)
        sizes = torch.bincount(edge_type, minlength=conv.num_relations).tolist()
        weights = weight.unbind(0)
        parts = [chunk @ weights[r] for r, chunk in enumerate(x[src[order]].split(sizes)) if sizes[r]]
        messages = torch.cat(parts) * norm[order].unsqueeze(1)
        out = out.index_add(0, dst[order], messages.to(out.dtype))
    if conv.root is not None:
        out = out + x[:n] @ conv.root
    if conv.bias is not None:
        out = out + conv.bias
    return out


class EmbeddingLookup:
    """``RowLookup`` before: ``nn.Embedding(sparse=True)``'s lookup, into fresh memory."""

    @staticmethod
    def apply(weight, ids, memory):
        return torch.nn.functional.embedding(ids, weight, sparse=True)


def _patch(owner, name: str, value):
    """Set ``owner.name`` to ``value``; the function that undoes it."""
    old = getattr(owner, name)
    setattr(owner, name, value)
    return lambda: setattr(owner, name, old)


def _sparse_rows_before():
    import kgtransfer.engine as engine
    import kgtransfer.optimizers as optimizers

    undo = [
        _patch(engine, "clip_gradients", clip_before),
        _patch(optimizers._LazyRows, "_lazy_update", lazy_update_before),
    ]
    return lambda: [u() for u in undo]


def _root_before():
    import kgtransfer.models.rgcn as rgcn

    return _patch(rgcn, "relational_conv", relational_conv_before)


def _messages_before():
    import kgtransfer.models.rgcn as rgcn

    return _patch(rgcn, "relational_conv", edgewise_conv)


def _gather_before():
    import kgtransfer.models.rgcn as rgcn

    return _patch(rgcn, "TypedMessages", TypedMessagesBefore)


def _row_memory_before():
    import kgtransfer.models.base as base
    import kgtransfer.models.rgcn as rgcn

    conv = rgcn.relational_conv
    undo = [
        _patch(base, "RowLookup", EmbeddingLookup),
        _patch(rgcn, "relational_conv", lambda *args: conv(*args[:5])),  # no grad_memory
    ]
    return lambda: [u() for u in undo]


def _write_rows_before():
    import kgtransfer.optimizers as optimizers

    return _patch(optimizers, "write_rows", lambda x, rows, values: x.index_copy_(0, rows, values))


#: change name -> (title, a function that puts the code before in place and returns its undo)
CHANGES = {
    "sparse-rows": (
        "clip and lazy Adam of the sparse entity rows, coalesced and gathered whole (before) or chunked",
        _sparse_rows_before,
    ),
    "root": ("R-GCN's self-loop term outside TypedMessages under autograd (before) or inside", _root_before),
    "gather": ("TypedMessages gathers rows with x[src] (before) or index_select", _gather_before),
    "row-memory": (
        "the sample's looked-up rows and their gradient in fresh memory (before) or reused memory",
        _row_memory_before,
    ),
    "write-rows": ("the lazy update's write-back by index_copy_ (before) or write_rows", _write_rows_before),
    "messages": ("R-GCN's typed messages as edgewise autograd ops (before) or TypedMessages", _messages_before),
}


def compare(change: str, size: int, steps: int) -> dict:
    """Alternate ``steps`` sampled steps of the code before and after ``change`` on one synthetic graph."""
    import scaling_training

    from kgtransfer.config import TrainConfig
    from kgtransfer.data.splits import Split
    from kgtransfer.data.tensorize import Triples
    from kgtransfer.engine import epoch_generator, make_optimizer, sparse_rows
    from kgtransfer.models.link_predictor import LinkPredictor, ModelConfig
    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    triples = synthetic_triples(size)
    n, r = int(triples[:, [0, 2]].max()) + 1, int(triples[:, 1].max()) + 1
    empty = torch.zeros(0, 3, dtype=torch.long)
    split = Split(Triples(triples, n, r), Triples(empty, n, r), Triples(empty, n, r), method="given")
    config = TrainConfig(threads=1)
    runs = {}
    for name in ("before", "after"):
        torch.manual_seed(0)
        model = LinkPredictor.build(ModelConfig(encoder="rgcn"), n, r)
        task = LinkPredictionTask(split, mode="sampled").bind(model)
        optimizer = make_optimizer(model.parameters(), config)
        sparse_rows(model, task, optimizer)
        runs[name] = {"model": model, "task": task, "optimizer": optimizer, "cpu": []}
    batches = runs["after"]["task"].batches(1, config.batch_size, epoch_generator(0, 1))
    for i, batch in zip(range(steps + 1), batches, strict=False):
        for name, run in runs.items():
            undo = CHANGES[change][1]() if name == "before" else None
            try:
                torch.manual_seed(i)  # the same dropout etc. in both
                _, cpu = scaling_training.timed_step(
                    run["model"], run["task"], batch, run["optimizer"], config.grad_clip
                )
            finally:
                if undo is not None:
                    undo()
            if i:  # the first step is a warm-up
                run["cpu"].append(cpu)
    before, after = (dict(runs[k]["model"].named_parameters()) for k in ("before", "after"))
    drift = max(float((before[k] - after[k]).detach().abs().max()) for k in before)
    per_epoch = runs["after"]["task"].num_batches(config.batch_size)
    row = {"triples": size, "entities": n, "steps_per_epoch": per_epoch, "steps_timed": steps, "max_param_diff": drift}
    for name, run in runs.items():
        row[f"{name}_cpu"] = run["cpu"]
        row[f"{name}_median"] = statistics.median(run["cpu"])
        row[f"{name}_mean"] = statistics.fmean(run["cpu"])
    pairs = zip(runs["after"]["cpu"], runs["before"]["cpu"], strict=True)
    row["ratio_median"] = statistics.median(a / b for a, b in pairs)
    row["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(
        f"  {size:,}: before {row['before_median']:.3f}, after {row['after_median']:.3f} CPU s/step (median), "
        f"median ratio {row['ratio_median']:.3f}, max parameter difference {drift:.1e}",
        flush=True,
    )
    return row


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("change", choices=list(CHANGES))
    parser.add_argument("--sizes", nargs="+", type=int, default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = [compare(args.change, size, args.steps) for size in args.sizes]
    result = {"torch": torch.__version__, "threads": 1, "change": args.change, "steps": args.steps, "rows": rows}
    lines = [
        f"# Step change `{args.change}`: {CHANGES[args.change][0]}",
        "",
        f"torch {torch.__version__}, 1 thread; `python benchmarks/step_changes.py {args.change} --sizes "
        f"{' '.join(map(str, args.sizes))} --steps {args.steps}`: the same sampled steps (R-GCN + DistMult "
        "defaults, 2 layers, dim 200) taken alternately by two identical models, one per path.",
        "",
        "| triples | before CPU s/step (median / mean) | after | median of after / before per step "
        "| max parameter difference after the steps | load |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['triples']:,} | {r['before_median']:.3f} / {r['before_mean']:.3f} | "
            f"{r['after_median']:.3f} / {r['after_mean']:.3f} | {r['ratio_median']:.3f} | "
            f"{r['max_param_diff']:.1e} | {r['load_average'][0]} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"step_changes_{args.change}.json").write_text(json.dumps(result, indent=2))
    (RESULTS / f"step_changes_{args.change}.md").write_text(text)


if __name__ == "__main__":
    main()
