r"""Snapshot sequences: a graph that grows step by step, a model carried forward, and what that buys.

``kgt.sequence([K0, K1, ...])`` merges each snapshot with what came before,
:math:`K_{\le i} = K_{\le i-1} \circ K_i` (union by default), extends the IRI-keyed vocabulary of
step :math:`i-1` by step :math:`i`'s terms (ids stay put), trains a model on :math:`K_0` and carries
it forward with every strategy (see :mod:`kgtransfer.transfer.warm_start`):

- **merged** protocol: step :math:`i` trains on all of :math:`K_{\le i}`'s training triples (a
  ``replay`` strategy: on the new triples plus a replayed sample of old ones); the baseline,
  ``scratch``, retrains a fresh model on the same graph with the same budget.
- **new-only** protocol (the published continual-KGE protocol): step :math:`i` trains on the new
  triples of :math:`K_i` only (``replay`` adds a sample of old ones). A replay strategy therefore
  trains on the same triples under both protocols, from the same model: it runs once and its
  record is shared (``same_run_as`` names the protocol that ran it).

Every run stops early on the same validation triples: a seeded sample of all validation triples
seen so far. Evaluation per step: filtered MRR, Hits@1/3/10 on each test set seen so far, ranking
against every entity known at that step, filtered by every triple known at that step; their mean
(each set counts once) and the pooled figures (each triple counts once). For the merged protocol,
the epochs and training seconds each strategy needs to reach 95% and 99% of scratch's best
validation MRR at that step. Seconds are training time (epochs plus a strategy's preparation: carrying
the model over to the step's vocabulary and what the strategy does before training, such as EWC's
Fisher; plus what a strategy's validation costs beyond one evaluation, such as
``interpolate``'s evaluations of other mixes); one evaluation per validation is not counted on
either side. A carried model is also validated before its first epoch (epoch 0 of its curve, the
transferred model as it is): that evaluation counts as its preparation, and a carried model that
is already at 95% / 99% gets there in its preparation seconds; the step still ends with the best
trained epoch. Each is measured twice: wall seconds, and CPU seconds of the training thread (with
one torch thread, what an idle machine's wall clock would show; other jobs on a shared machine do
not inflate it). A step's runs (scratch and every strategy) are interleaved by default, one batch
of each in turn (:mod:`~kgtransfer.interleave`), so that the seconds they are compared on
are measured over the same stretch of machine time; their numbers are those of separate runs.

The message graph of GNN encoders is the training graph of :math:`K_{\le i}` under both protocols;
only the loss's triples differ.
"""

from __future__ import annotations

import copy
import math
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from kgtransfer.config import ConfigError, ModelConfig, TaskConfig, TrainConfig, expect
from kgtransfer.device import resolve_device
from kgtransfer.engine import fit, make_optimizer
from kgtransfer.environment import environment
from kgtransfer.errors import EmptySplitError, KGTransferError, is_number
from kgtransfer.files import is_plain_name, keep_experiment_file
from kgtransfer.interleave import interleave
from kgtransfer.models.link_predictor import LinkPredictor
from kgtransfer.report import format_table, plural
from kgtransfer.rng import keeps_rng_states, keeps_threads
from kgtransfer.tasks.link_prediction import FilterIndex, LinkPredictionTask
from kgtransfer.transfer.sequence_checkpoint import (
    load_sequence,
    resume_settings,
    save_sequence,
    saved_task,
    step_digest,
)
from kgtransfer.transfer.sequence_splits import StepData, save_steps
from kgtransfer.transfer.warm_start import ContinualStrategy, StepContext
from kgtransfer.transfer.warm_start import strategy as make_strategy
from kgtransfer.transfer.weights import trained_on

PROTOCOLS = ("merged", "new-only")
#: The defaults of a sequence: a fast model, validation every epoch, early stopping.
DEFAULT_MODEL = ModelConfig(encoder="embedding", decoder="complex", dim=128)
DEFAULT_TRAIN = TrainConfig(eval_every=1, patience=3, lr=0.003, progress=False)
THRESHOLDS = (0.95, 0.99)


# --- the data of one step ---------------------------------------------------------------------


@dataclass
class Step:
    r"""Step ``i`` of a sequence: the merged graph's split and the rows of each snapshot so far.

    Attributes:
        index: ``i``.
        name: the snapshot's name.
        split: the given split of :math:`K_{\\le i}` over the extended vocabulary; a triple an
            earlier step trained on is a training triple (never validation or test).
        new: the training triples of :math:`K_{\\le i}` that snapshot ``i`` brought and no earlier
            step trained on ``[n, 3]``.
        old: the training triples of earlier steps that :math:`K_{\\le i}` still holds ``[m, 3]``.
        tests: the test triples of each snapshot ``0..i`` that :math:`K_{\\le i}` still holds as test
            triples, each triple in the first set that held it.
        valid: the seeded validation sample used for early stopping.
        notes: what :func:`steps` warned about this step (no new triple, nothing to transfer, no test triple).
    """

    index: int
    name: str
    split: object
    new: Tensor
    old: Tensor
    tests: list[Tensor]
    valid: Tensor
    notes: list[str] = field(default_factory=list)


def steps(
    snapshots: Sequence,
    operator: str = "union",
    names: Sequence[str] | None = None,
    valid_size: int | None = 3000,
    test_size: int | None = None,
    seed: int = 0,
    hops: int | None = None,
):
    """Yield the :class:`Step` of each snapshot, merged with what came before by ``operator``.

    Args:
        snapshots: sources (folders of ``train/valid/test.txt[.gz]``, files, registry names, graphs).
        operator: ``"union"``, ``"extension"``, ``"intersection"`` or ``"difference"`` (default: ``"union"``);
            a union or extension matches blank-node structures canonically (``blank_nodes="canonical"``):
            one a snapshot restates is the earlier one, not a copy.
        names: one name per snapshot (default: the folder or file name, else ``step<i>``).
        valid_size: validation triples kept for early stopping, a seeded sample (default: 3000; None: all).
        test_size: test triples kept per snapshot, a seeded sample (default: None, all).
        seed: seed of the samples and of random splits (default: 0).
        hops: extension only: how far into a snapshot its triples may reach from the entities before
            (default: None, the operator's 1).
    """
    import kgtransfer.knowledge.operators as ops
    from kgtransfer.data.splits import given_split, keep_in_train
    from kgtransfer.data.tensorize import Triples
    from kgtransfer.data.vocab import GraphVocab, Vocab
    from kgtransfer.knowledge.snapshots import SplitOverlapWarning, load_snapshot

    if not snapshots:
        raise ConfigError("a sequence needs at least one snapshot")
    if operator not in ("union", "extension", "intersection", "difference"):
        raise ConfigError(f"operator must be union, extension, intersection or difference, got {operator!r}")
    merge = getattr(ops, operator)
    if operator in ("union", "extension"):  # a blank-node structure a snapshot restates is the one before, not a copy
        merge = partial(merge, blank_nodes="canonical")
    if hops is not None:
        if operator != "extension":
            raise ConfigError(f"hops applies to the extension operator only, not {operator}")
        if not is_number(hops, integer=True) or hops < 0:
            raise ConfigError(f"hops must be a whole number >= 0, got {hops!r}")
        merge = partial(ops.extension, hops=hops, blank_nodes="canonical")
    names = list(names) if names is not None else _default_names(snapshots)
    if len(set(names)) != len(names):
        raise ConfigError(f"snapshot names must differ, got {names}")
    merged, vocab = None, GraphVocab(Vocab(), Vocab())
    trained, tests = None, []  # rows some earlier step trained on; each snapshot's own test rows
    for i, source in enumerate(snapshots):
        notes: list[str] = []
        snap = load_snapshot(source, names[i], seed=seed)
        merged = snap if merged is None else merge(merged, snap, name=f"{names[0]}..{names[i]}")
        known = len(vocab.entities)  # ids stay put: the entities of earlier steps are ids below this
        vocab = vocab.extend(merged).extend(snap)  # a term the operator dropped still gets a row
        where = f"step {i} ({names[i]}, the {operator} of {names[0]}..{names[i]})"
        if not len(merged):
            raise EmptySplitError(f"{where}: no triples; nothing to train or evaluate on")
        try:
            # a triple in two snapshots' different splits (tested, then trained on) is no leak in the files;
            # a snapshot's own files were checked by load_snapshot
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SplitOverlapWarning)
                split = given_split(merged, vocab=vocab)
            snap_split = given_split(snap, vocab=vocab)
        except EmptySplitError as e:
            raise EmptySplitError(f"{where}: {e}") from None
        if trained is not None:  # a triple an earlier step trained on never validates or tests
            split = keep_in_train(split, Triples(trained, split.num_entities, split.num_relations, vocab))
        if not len(split.train):
            raise EmptySplitError(
                f"{where}: no training triple ({len(merged):,} triples in all, each a valid or test triple); "
                "nothing to train on"
            )
        if not len(split.valid):
            raise EmptySplitError(
                f"{where}: no validation triple to stop on ({len(merged):,} triples in all); give the snapshot "
                "valid and test files, or, for one split at random (about 10% of its triples validate), more triples"
            )
        train = split.train.tensor
        new = _rows_in(snap_split.train.tensor, train)  # what the operator kept of the snapshot's training rows
        old = trained[_contains(train, trained)] if trained is not None else train[:0]  # still in K<=i
        if trained is not None:
            new = new[~_contains(trained, new)]
            if len(new) and not bool((new[:, [0, 2]] < known).any()):
                _note(
                    notes,
                    f"{where}: none of the entities of its {len(new)} new training triples was known before it; "
                    "a carried model transfers no entity row to them (only relation rows and shared layers)",
                )
            if not len(new):
                _note(
                    notes,
                    f"{where}: none of its {len(snap_split.train)} training triples is new (each was in an earlier "
                    f"step, or the {operator} dropped it); the new-only protocol has nothing to train on, and the "
                    "step says nothing about new knowledge",
                )
        own = _rows_in(snap_split.test.tensor, split.test.tensor)  # what K<=i still holds as a test triple
        for earlier in tests:
            own = own[~_contains(earlier, own)]  # a triple is tested in one set only: the first that held it
        if not len(own) and operator != "difference":  # a difference's snapshot holds removed facts, no tests
            given = len(snap_split.test)
            held = f"{given} in its test split" + (", each tested or trained on earlier" if given else "")
            none = not any(len(_rows_in(t, split.test.tensor)) for t in tests)
            _note(
                notes,
                f"{where}: no test triple of its own ({held}); nothing tests what it brought"
                + ("; no earlier test set holds one either: its test metrics are NaN" if none else ""),
            )
        tests.append(_sample(own, test_size, seed + i))
        trained = unique_rows(train if trained is None else torch.cat([trained, train]))
        yield Step(
            i,
            names[i],
            split,
            new,
            old,
            [_rows_in(t, split.test.tensor) for t in tests],  # removed facts (difference) are no test triples
            _sample(split.valid.tensor, valid_size, seed),
            notes,
        )


def _note(notes: list[str], text: str) -> None:
    """Warn ``text`` (at the caller of ``next()`` on :func:`steps`) and keep it in ``notes``."""
    notes.append(text)
    warnings.warn(text, UserWarning, stacklevel=3)


def _contains(rows: Tensor, queries: Tensor) -> Tensor:
    """Which of ``queries`` (``[n, 3]`` ids) are among ``rows`` (keys packed together, so no key overflows)."""
    from kgtransfer.knowledge.graph import pack_rows

    if not len(rows) or not len(queries):
        return torch.zeros(len(queries), dtype=torch.bool)
    both = torch.cat([rows, queries]).numpy()
    keys = pack_rows(both, int(both.max()) + 1)
    return torch.from_numpy(np.isin(keys[len(rows) :], keys[: len(rows)]))


def _rows_in(rows: Tensor, among: Tensor) -> Tensor:
    """The rows of ``rows`` that are also rows of ``among``."""
    return rows[_contains(among, rows)]


def _check_arguments(snapshots, strategies, protocols, scratch, names, valid_size, test_size) -> None:
    """Refuse, before any loading or training, arguments a sequence would misread or spend work on for nothing."""
    for what, value in (("snapshots", snapshots), ("strategies", strategies), ("protocols", protocols)):
        if isinstance(value, str):
            raise ConfigError(f"{what} must be a list, got the string {value!r}")
    if names is not None and hasattr(snapshots, "__len__") and len(list(names)) != len(snapshots):
        raise ConfigError(f"names: {len(list(names))} for {len(snapshots)} snapshots")
    if not protocols:
        raise ConfigError(f"protocols is empty; choose from {PROTOCOLS}")
    for p in protocols:
        if p not in PROTOCOLS:
            raise ConfigError(f"protocol must be one of {PROTOCOLS}, got {p!r}")
    if len(set(protocols)) != len(protocols):
        raise ConfigError(f"protocols {list(protocols)} repeat a protocol")
    if not strategies and not scratch:
        raise ConfigError("no strategy and scratch=False: nothing to train after the first snapshot")
    for what, size in (("valid_size", valid_size), ("test_size", test_size)):
        if size is not None and (not is_number(size, integer=True) or size < 1):
            raise ConfigError(f"{what} must be a positive integer or None (all), got {size!r}")


def _check_sources(snapshots) -> None:
    """Raise SourceNotFoundError for a snapshot path that does not exist and is no registered source."""
    from kgtransfer.errors import SourceNotFoundError
    from kgtransfer.knowledge import registry

    for source in snapshots:
        path = isinstance(source, str | os.PathLike) and not Path(source).expanduser().exists()
        if path and not (isinstance(source, str) and registry.is_registered(source)):
            raise SourceNotFoundError(f"{source}: no such file or folder, nor a registered source")


def _default_name(source, i: int) -> str:
    """A folder's name with its parent's (``ENTITY/0``), one path spelled alike relative or absolute; a file's name."""
    if isinstance(source, str | os.PathLike):
        path = Path(os.path.abspath(source))  # "s1" has no parent name; its absolute path does
        return f"{path.parent.name}/{path.name}" if path.is_dir() else path.name
    return getattr(source, "name", None) or f"step{i}"


def _default_names(snapshots: Sequence) -> list[str]:
    """:func:`_default_name` of each snapshot, files or folders of one name told apart by their folders.

    As many folders as it takes: ``2023/kg.nt`` and ``2024/kg.nt``; one path twice keeps one name.
    """
    names = [_default_name(s, i) for i, s in enumerate(snapshots)]
    paths = {
        i: Path(s).expanduser().resolve()
        for i, s in enumerate(snapshots)
        if isinstance(s, str | os.PathLike) and Path(s).expanduser().exists()
    }
    out = list(names)
    for i, path in paths.items():
        others = [p for j, p in paths.items() if names[j] == names[i] and p != path]
        depth = len(Path(names[i]).parts)
        while others and depth < len(path.parts) and any(p.parts[-depth:] == path.parts[-depth:] for p in others):
            depth += 1
        if others:
            out[i] = Path(*path.parts[-depth:]).as_posix()
    return out


def _sample(rows: Tensor, size: int | None, seed: int) -> Tensor:
    if size is None or len(rows) <= size:
        return rows
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed))[:size]
    return rows[order.sort().values]


# --- one training run ---------------------------------------------------------------------------


class StepTask(LinkPredictionTask):
    r"""Link prediction at one step: 1-N queries of chosen rows, targets from the rows a run may know.

    Args:
        split: the step's merged split (message graph, filter, test).
        rows: the triples whose queries train every epoch.
        answers: the true triples that make the 1-N targets.
        valid: the validation triples.
        **options: :class:`LinkPredictionTask` options (loss, label smoothing, regularizer).
    """

    def __init__(self, split, rows: Tensor, answers: Tensor, valid: Tensor, **options):
        super().__init__(split, **options)
        self.answers = FilterIndex(answers, self.num_entities, self.num_relations)
        self.answer_rows = answers  # what the targets come from (a Fisher of old queries adds the old triples)
        self.queries = self.queries_of(rows)
        self.rows = len(unique_rows(rows))  # distinct training triples (replay's extra rows not counted)
        self.valid = valid
        self.extra = None  # ``extra(epoch) -> rows | None``, more rows for one epoch (replay); a strategy sets it
        self.penalty = None  # a module whose value is added to every batch loss (EWC, L2-SP); a strategy sets it
        self.epoch_queries: list[int] = []  # training queries per epoch: the work, independent of machine load
        self.epoch_cpu: list[float] = []  # CPU seconds of the training thread per epoch: unaffected by other jobs
        self.prep_cpu = 0.0
        self.initial_mrr: float | None = None  # validation MRR of a carried model before its first epoch
        self.validator = None  # a strategy's validation, ``validator(model, evaluate) -> metrics``
        self.extra_seconds: dict[int, tuple[float, float]] = {}  # epoch -> its validation's (wall, CPU) beyond one
        self._epoch_cache: tuple[int, Tensor] | None = None  # (epoch, its queries) of the last epoch with extra rows

    @staticmethod
    def queries_of(rows: Tensor) -> Tensor:
        """Unique tail queries ``(h, r, 0)`` and head queries ``(t, r, 1)`` of ``rows``."""
        tails = unique_rows(rows[:, [0, 1]])
        heads = unique_rows(rows[:, [2, 1]])
        return torch.cat(
            [
                torch.cat([tails, tails.new_zeros(len(tails), 1)], 1),
                torch.cat([heads, heads.new_ones(len(heads), 1)], 1),
            ]
        )

    def epoch_queries_of(self, epoch: int) -> Tensor:
        """The training queries of ``epoch``: those of the rows, plus those of the epoch's extra rows (replay).

        The last epoch's are kept, so asking before the epoch (:meth:`num_queries`) costs no second pass.
        """
        if self._epoch_cache is not None and self._epoch_cache[0] == epoch:
            return self._epoch_cache[1]
        more = self.extra(epoch) if self.extra is not None else None
        if more is None or not len(more):
            return self.queries
        out = unique_rows(torch.cat([self.queries, self.queries_of(more).to(self.queries.device)]))
        self._epoch_cache = (epoch, out)
        return out

    def to(self, device) -> StepTask:
        """Move the task to ``device`` (see :meth:`LinkPredictionTask.to`), the kept epoch queries too."""
        super().to(device)
        if self._epoch_cache is not None:
            self._epoch_cache = (self._epoch_cache[0], self._epoch_cache[1].to(self.device))
        return self

    def num_queries(self, epoch: int) -> int:
        """How many training queries ``epoch`` has (its optimizer steps: this over the batch size, rounded up)."""
        return len(self.epoch_queries_of(epoch))

    def bind(self, model) -> StepTask:
        """Resolve the step mode (see :meth:`LinkPredictionTask.bind`); neighbour-sampled steps are refused."""
        super().bind(model)
        _check_step_task(self.loss_kind, self.mode)
        return self

    def batches(self, epoch, batch_size, generator):
        """The queries of the rows, plus this epoch's extra rows (replay), whose drawing counts as the epoch's time."""
        began = time.thread_time()  # the batches' steps run in this thread (interleaved waits use no CPU)
        base = self.queries
        self.queries = self.epoch_queries_of(epoch)
        self.epoch_queries.append(len(self.queries))
        try:
            yield from super().batches(epoch, batch_size, generator)
        finally:
            self.queries = base
            self.epoch_cpu.append(time.thread_time() - began)

    def base_loss(self, model, batch) -> Tensor:
        """The 1-N loss without the strategy's penalty."""
        return super().loss(model, batch)

    def loss(self, model, batch) -> Tensor:
        """The 1-N loss plus the strategy's penalty."""
        loss = super().loss(model, batch)
        return loss + self.penalty() if self.penalty is not None else loss

    def evaluate(self, model, split="valid", triples=None):
        """Metrics on the validation sample (``split="valid"``), a split, or ``triples``.

        With a :attr:`validator` (a strategy's, e.g. ``interpolate``), validation is what it returns;
        what it spends beyond one plain evaluation is training time of that epoch (:attr:`extra_seconds`).
        """
        if triples is None and split == "valid":
            if self.validator is not None:
                return self._validate(model)
            triples = self.valid
        return super().evaluate(model, split, triples)

    def _validate(self, model) -> dict:
        plain = []

        def evaluate(m) -> dict:
            wall, cpu = time.perf_counter(), time.thread_time()
            out = LinkPredictionTask.evaluate(self, m, "valid", self.valid)
            plain.append((time.perf_counter() - wall, time.thread_time() - cpu))
            return out

        wall, cpu = time.perf_counter(), time.thread_time()
        metrics = self.validator(model, evaluate)
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        free = plain[0] if plain else (0.0, 0.0)  # the one evaluation every run gets for free
        self.extra_seconds[len(self.epoch_cpu)] = (wall - free[0], cpu - free[1])
        return metrics


def unique_rows(rows: Tensor) -> Tensor:
    r"""``torch.unique(rows, dim=0)`` (sorted rows) for a 2-D tensor of non-negative integers, ~40x faster on CPU.

    Each row is read as one integer in the mixed radix of the columns' ranges,
    :math:`k = (\dots(x_0 m_1 + x_1) m_2 + \dots) + x_{c-1}`, :math:`m_j` one more than column
    :math:`j`'s largest value; the unique keys, sorted, are the unique rows in lexicographic order.
    Falls back to ``torch.unique(dim=0)`` when the key could overflow 63 bits.
    """
    if not len(rows):
        return rows
    sizes = (rows.max(0).values + 1).tolist()
    if rows.min() < 0 or math.prod(sizes) >= 2**62:
        return torch.unique(rows, dim=0)
    key = rows[:, 0].clone()
    for j in range(1, rows.size(1)):
        key = key * sizes[j] + rows[:, j]
    key = torch.unique(key)
    columns = []
    for size in reversed(sizes[1:]):
        columns.append(key % size)
        key = key // size
    return torch.stack([key, *reversed(columns)], 1)


def _task(step: Step, rows: Tensor, answers: Tensor, task: TaskConfig) -> StepTask:
    return StepTask(step.split, rows, answers, step.valid, config=task)


def _run(
    model: LinkPredictor,
    task: StepTask,
    config: TrainConfig,
    strat: ContinualStrategy | None = None,
    ctx: StepContext | None = None,
    carry: tuple[float, float] = (0.0, 0.0),
):
    """Train ``model`` on ``task`` with ``strat``'s hooks; returns ``(FitResult, preparation seconds)``.

    ``carry``: the (wall, CPU) seconds spent carrying the model over to the step, counted as preparation.

    The strategy's validator replaces the validation metric during training only; its
    :meth:`~ContinualStrategy.finish_step` sets the step's model after it.
    """
    callbacks = []
    began, cpu = time.perf_counter(), time.thread_time()
    torch.set_num_threads(config.threads or 1)
    if strat is not None:
        ctx.to(resolve_device(config.device))  # what the hooks make from the step lives where fit trains
        strat.prepare_step(ctx)
        task.penalty = strat.step_penalty(ctx)
        task.extra = (lambda epoch: strat.rows(ctx, epoch)) if _uses_rows(strat, ctx) else None
        task.initial_mrr = task.evaluate(model, "valid")["mrr"]  # the carried model before training: epoch 0
    optimizer = make_optimizer(model.parameters(), config)
    if strat is not None:
        steps_per_epoch = max(1, -(-task.num_queries(1) // config.batch_size))  # the first epoch's, replay included
        callbacks = strat.attach(ctx, optimizer, steps_per_epoch)
        task.validator = strat.validator(ctx)
    prep = carry[0] + time.perf_counter() - began  # a strategy's hooks are set up at its cost too
    task.prep_cpu = carry[1] + time.thread_time() - cpu

    def on_epoch_end(epoch, m):
        for cb in callbacks:
            cb(epoch, m)

    try:
        result = fit(model, task, config, optimizer=optimizer, on_epoch_end=on_epoch_end)
    finally:
        task.validator = None
    if strat is not None:
        strat.finish_step(ctx, result)
    return result, prep, optimizer_moments(model, optimizer)


def optimizer_moments(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, dict]:
    """Adam's state per parameter name after training: ``{name: {"step", "exp_avg", "exp_avg_sq"}}``.

    Parameters without that state (not Adam/AdamW, or never updated) are left out. The tensors are
    the optimizer's own (not copied: it is not used again).
    """
    keys = ("step", "exp_avg", "exp_avg_sq")
    out = {}
    for name, p in model.named_parameters():
        state = optimizer.state.get(p, {})
        if set(keys) <= state.keys():
            out[name] = {k: state[k] for k in keys}
    return out


def _uses_rows(strat: ContinualStrategy, ctx: StepContext) -> bool:
    return strat.rows(ctx, 0) is not None


# --- evaluation ---------------------------------------------------------------------------------


@torch.no_grad()
def evaluate_step(model: LinkPredictor, step: Step, task: LinkPredictionTask) -> dict:
    """Metrics on each test set seen so far, their mean, and the pooled metrics over all of them.

    The mean is over the sets that hold triples; pooled, each triple counts once (a triple is in one set
    only, see :func:`steps`).
    """
    from kgtransfer.tasks.link_prediction import rank_metrics, rank_triples

    keys = ("mrr", "hits@1", "hits@3", "hits@10")
    per_set, ranks = [], []
    model.eval()
    score_fn = model.scorer(task.graph)
    for j, rows in enumerate(step.tests):
        r = rank_triples(score_fn, rows, task.filter, task.num_entities, task.eval_batch_size)
        both = torch.cat([r["head"].realistic, r["tail"].realistic])
        ranks.append(both)
        m = rank_metrics(both)
        per_set.append({"step": j, "triples": len(rows), **{k: m[k] for k in keys}})
    pooled = rank_metrics(torch.cat(ranks))
    held = [s for s in per_set if s["triples"]]  # an empty set (its triples removed, or none new) has no metric
    mean = {k: sum(s[k] for s in held) / len(held) if held else math.nan for k in keys}
    return {"mean": mean, "pooled": {k: pooled[k] for k in keys}, "per_set": per_set}


def time_to(curve: list[dict], target: float) -> dict:
    """The first evaluation of ``curve`` with ``mrr >= target``: its epoch, cumulative seconds and queries.

    All None when the curve never gets there.
    """
    for point in curve:
        if point["mrr"] >= target:
            return {k: point.get(k) for k in ("epoch", "seconds", "cpu_seconds", "queries")}
    return {"epoch": None, "seconds": None, "cpu_seconds": None, "queries": None}


def _total(start: float, per_epoch: list[float], extra: dict[int, float]) -> float:
    """``start`` plus every epoch's seconds and extra seconds, added in :func:`_curve`'s order.

    The same order of float additions, so a curve's last cumulative value never exceeds the total.
    """
    total = start
    for i, value in enumerate(per_epoch):
        total = total + value + extra.get(i + 1, 0.0)
    return total + sum(v for k, v in extra.items() if not 1 <= k <= len(per_epoch))


def _curve(result, prep: float, task: StepTask) -> list[dict]:
    """Validation MRR per evaluation: cumulative training seconds, CPU seconds (preparation included), queries.

    A strategy's validation beyond one plain evaluation (:attr:`StepTask.extra_seconds`) counts as
    training time of its epoch.
    """
    out, cumulative, cpu, work = [], [prep], [task.prep_cpu], [0]
    if task.initial_mrr is not None:  # validated before the first epoch, at the cost of the preparation
        out.append({"epoch": 0, "seconds": prep, "cpu_seconds": task.prep_cpu, "queries": 0, "mrr": task.initial_mrr})
    for i, (s, c, q) in enumerate(zip(result.history.seconds, task.epoch_cpu, task.epoch_queries, strict=False)):
        extra = task.extra_seconds.get(i + 1, (0.0, 0.0))
        cumulative.append(cumulative[-1] + s + extra[0])
        cpu.append(cpu[-1] + c + extra[1])
        work.append(work[-1] + q)
    for e in result.history.evals:
        i = e["epoch"]
        at = min(i, len(work) - 1)
        out.append({"epoch": i, "seconds": cumulative[i], "cpu_seconds": cpu[at], "queries": work[at], "mrr": e["mrr"]})
    return out


# --- the sequence --------------------------------------------------------------------------------


@keeps_threads  # every run sets torch's thread count: the caller's comes back
@keeps_rng_states  # every run seeds torch's generator: the caller's comes back
def sequence(
    snapshots: Sequence,
    model: ModelConfig | None = None,
    config: TrainConfig | None = None,
    strategies: Sequence = ("fine-tune",),
    protocols: Sequence[str] = ("merged",),
    *,
    operator: str = "union",
    hops: int | None = None,
    names: Sequence[str] | None = None,
    valid_size: int | None = 3000,
    test_size: int | None = None,
    alphas: Sequence[float] = (0.25, 0.5, 0.75),
    task: TaskConfig | None = None,
    scratch: bool = True,
    interleaved: bool = True,
    log=None,
    on_step=None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> SequenceResult:
    """Pretrain on the first snapshot, carry the model forward step by step with each strategy.

    With ``checkpoint_dir``, what the next step needs is saved there after every step (each carried
    model, the Adam moments of ``carries_moments`` strategies, the records so far; see
    :mod:`~kgtransfer.transfer.sequence_checkpoint`), and ``resume=True`` continues a sequence that
    was stopped: the finished steps are derived again from the snapshots (their data must be the
    saved run's) and not retrained; the step that was running is redone from its start. Every
    setting must be the saved run's but ``interleaved`` and the training config's ``device``,
    ``threads`` and ``progress``. The snapshots must begin with the saved run's (same names, same
    data); more snapshots after them extend the sequence, a finished one too: only the new steps
    train, from the carried models (a step depends on the snapshots up to its own only). The result
    has the records of an uninterrupted run over all the snapshots, but for their wall and CPU
    seconds (a redone step is timed anew) and ``setup["environment"]`` (the first session's).

    Args:
        snapshots: ``K0, K1, ...``: folders of ``train/valid/test.txt[.gz]``, files, registry names, graphs.
        model: the model (default: ``ModelConfig(encoder="embedding", decoder="complex", dim=128)``).
        config: training settings, the same for every run (default: ``TrainConfig(eval_every=1,
            patience=3, lr=0.003)``).
        strategies: strategy names, ``"+"``-combinations or Strategy objects (default: ``("fine-tune",)``).
        protocols: ``"merged"`` and/or ``"new-only"`` (default: ``("merged",)``).
        operator: how a snapshot joins what came before (default: ``"union"``).
        hops: extension only: how far into a snapshot its triples may reach from the entities before
            (default: None, the operator's 1).
        names: snapshot names (default: from the folders).
        valid_size: validation triples (a seeded sample of all seen so far) for early stopping (default: 3000).
        test_size: test triples per snapshot, a seeded sample (default: None, all).
        alphas: interpolation weights between consecutive steps' models, evaluated on validation
            (default: ``(0.25, 0.5, 0.75)``; ``()`` skips).
        task: the :class:`~kgtransfer.config.TaskConfig`: loss, label smoothing, regularizer (default: its defaults).
        scratch: also train from scratch on every merged graph (default: True).
        interleaved: run a step's trainings side by side, one batch of each in turn
            (:func:`~kgtransfer.interleave.interleave`), so that their seconds are measured
            over the same stretch of machine time; the same numbers as one after the other, which
            ``False`` does (it holds one model at a time in memory) (default: True).
        log: ``log(str)`` for progress lines (default: none).
        on_step: ``on_step(result)`` after every step with the result so far, e.g. to save it (default: none).
        checkpoint_dir: a folder for the checkpoint written after every step (default: none). One that
            holds an earlier run's checkpoint is refused (CheckpointError) unless ``resume`` or ``overwrite``.
        resume: continue (or extend by snapshots added at the end) the sequence checkpointed in
            ``checkpoint_dir`` when there is one (default: False).
        overwrite: start a new sequence in ``checkpoint_dir`` over an earlier one's checkpoint: it is set
            aside (``.NAME.earlier`` beside it) when this sequence first saves and deleted when it ends (see
            :func:`~kgtransfer.checkpoint.claim_checkpoints`); not with ``resume`` (default: False).

    Returns:
        A :class:`SequenceResult`.
    """
    expect(model, ModelConfig, "model")
    expect(config, TrainConfig, "config")
    expect(task, TaskConfig, "task")
    model_config = model or DEFAULT_MODEL
    config = config or DEFAULT_TRAIN
    task_config = task or TaskConfig()
    _check_arguments(snapshots, strategies, protocols, scratch, names, valid_size, test_size)
    _check_step_task(task_config.loss, task_config.mode)
    from kgtransfer.transfer.parameter import check_alphas

    alphas = check_alphas(alphas)  # an α that is not a weight fails now, not at step 1
    _check_sources(snapshots)  # a missing one fails now, not after the steps before it trained
    strats = [make_strategy(s) for s in strategies]
    strategy_names = [s.name for s in strats]
    if len(set(strategy_names)) != len(strategy_names):
        raise ConfigError(f"strategies must differ by name (runs are keyed by it), got {strategy_names}")
    adam = config.optimizer in ("adam", "adamw")
    for s in strats:  # before any training: it would otherwise carry nothing, silently, under another optimizer
        if getattr(s, "carries_moments", False) and not adam:
            raise ConfigError(
                f"{s.name}: carries Adam's moments; needs optimizer adam or adamw, got {config.optimizer}"
            )
    probe = LinkPredictor.build(model_config, 2, 1)  # a model of this config, for what a strategy refuses
    for s in strats:  # a strategy that cannot work on the model fails now, not after pretraining
        s.check_model(probe)
    log = log or (lambda _: None)
    records: list[dict] = []
    carried: dict[tuple[str, str], LinkPredictor] = {}
    moments: dict[tuple[str, str], dict] = {}  # the optimizer state each carried model ended with
    prev_vocab, prev_trained = None, None  # the rows some step trained (carried by IRI), see trained_on
    setup = {
        "model": model_config.to_dict(),
        "train": config.to_dict(),
        "strategies": [s.to_json() for s in strats],
        "protocols": list(protocols),
        "operator": operator,
        **({"hops": hops} if hops is not None else {}),
        "valid_size": valid_size,
        "test_size": test_size,
        "task": task_config.to_dict(),
        "interleaved": interleaved,
    }
    recorded = saved_task(checkpoint_dir) if resume else None
    if recorded is not None and "edge_budget" not in recorded:  # begun before TaskConfig.edge_budget: none
        task_config = replace(task_config, edge_budget=None)
        setup["task"] = {k: v for k, v in task_config.to_dict().items() if k != "edge_budget"}
    from kgtransfer.checkpoint import claim_checkpoints, drop_earlier

    earlier = claim_checkpoints(checkpoint_dir, resume, "sequence", overwrite, move=False)  # moved at the first save
    claimed = False
    names = list(names) if names is not None else _default_names(snapshots)
    settings = resume_settings(setup, names, scratch, alphas)
    keys = [(p, s.name) for p in protocols for s in strats]
    moment_keys = [(p, s.name) for p in protocols for s in strats if getattr(s, "carries_moments", False)]
    saved = load_sequence(checkpoint_dir, settings) if resume else None
    if saved is not None:
        records = list(saved.records)
        setup.update({k: saved.setup[k] for k in ("environment", "notes") if k in saved.setup})
    step_data: list[StepData] = []  # what each step trained and was evaluated on (and its digest, for a resume)

    def save_checkpoint() -> None:
        nonlocal earlier, claimed
        if checkpoint_dir is not None:
            if overwrite and not claimed:  # the first save: step 0 trained, so its settings and data were good
                earlier, claimed = claim_checkpoints(checkpoint_dir, resume, "sequence", overwrite), True
            kept = {k: moments[k] for k in moment_keys}
            digests = [s.digest for s in step_data]
            save_sequence(checkpoint_dir, settings, digests, records, setup, carried, kept)

    for step in steps(snapshots, operator, names, valid_size, test_size, config.seed, hops):
        step_data.append(StepData.of(step, names, step_digest(step)))
        if saved is not None and step.index <= saved.step:  # finished before the sequence was stopped
            saved.check_step(step.index, step_data[-1].digest, step.name)
            if step.index == saved.step:
                sizes = (step.split.num_entities, step.split.num_relations)
                models, states = saved.restore(partial(LinkPredictor.build, model_config, *sizes), keys, moment_keys)
                carried.update(models)
                moments.update(states)
            # the rows trained so far follow from the steps' data alone: nothing to save for them
            prev_vocab, prev_trained = step.split.vocab, trained_on(step.split, prev_trained, prev_vocab)
            log(f"step {step.index} ({step.name}): done, from {saved.path}")
            continue
        split = step.split
        vocab = split.vocab
        log(
            f"step {step.index} ({step.name}): {split.num_entities:,} entities, {len(step.new):,} new + "
            f"{len(step.old):,} old training triples"
        )
        if step.notes:  # said again in the summary of the saved result, not only as a warning at run time
            setup.setdefault("notes", []).extend(step.notes)
        all_train = split.train.tensor

        def run_scratch(step=step, all_train=all_train):
            torch.manual_seed(config.seed)
            net = LinkPredictor.build(model_config, step.split.num_entities, step.split.num_relations)
            task = _task(step, all_train, all_train, task_config)
            result, prep, net_moments = _run(net, task, config)
            setup.setdefault("environment", environment(result.threads, result.device))  # versions, device, threads
            record = _record("merged" if step.index else "pretrain", "scratch", step, net, task, result, prep)
            log(_line(record))
            return record, net, net_moments

        if step.index == 0:
            record, net, net_moments = run_scratch()
            records.append(record)
            for p in protocols:
                for s in strats:
                    carried[(p, s.name)] = net
                    moments[(p, s.name)] = net_moments
            prev_vocab, prev_trained = vocab, trained_on(split, prev_trained, prev_vocab)
            save_checkpoint()
            _report(on_step, records, setup, step_data)
            continue

        def run_strategy(
            protocol, s, step=step, all_train=all_train, prev_vocab=prev_vocab, vocab=vocab, trained=prev_trained
        ):
            previous = carried[(protocol, s.name)]
            wall, cpu = time.perf_counter(), time.thread_time()  # carrying the model over is part of its preparation
            net, transferred, fresh, before = _transfer(
                previous, prev_vocab, model_config, step.split, config.seed, trained
            )
            carry = (time.perf_counter() - wall, time.thread_time() - cpu)
            new, old = step.new, step.old
            if protocol == "merged" and not s.replaces_old():
                rows, answers = all_train, all_train
            elif protocol == "merged":
                rows, answers = new, all_train
            else:
                rows = new
                answers = torch.cat([new, old]) if s.replaces_old() else new
            task = _task(step, rows, answers, task_config)
            ctx = StepContext(net, fresh, transferred, protocol, new, old, task, config.seed, previous=before)
            if getattr(s, "carries_moments", False):
                ctx.moments = _aligned_moments(prev_vocab, net, vocab, moments[(protocol, s.name)], trained)
            result, prep, net_moments = _run(net, task, config, s, ctx, carry)
            record = _record(protocol, s.name, step, net, task, result, prep)
            if ctx.info:
                record["strategy_info"] = ctx.info
            record["interpolation"] = _interpolation(before, net, task, alphas)
            log(_line(record))
            return record, net, net_moments

        # every run of the step, scratch first; a replay strategy runs under its first protocol only
        jobs, job_names = ([run_scratch], ["scratch"]) if scratch else ([], [])
        runs, first = [], {}
        for protocol in protocols:
            for s in strats:
                job = None
                if not (s.replaces_old() and s.name in first):
                    first.setdefault(s.name, protocol)
                    jobs.append(lambda protocol=protocol, s=s: run_strategy(protocol, s))
                    job_names.append(f"{protocol} {s.name}")
                    job = len(jobs) - 1
                runs.append((protocol, s, job))
        outputs = interleave(jobs, job_names) if interleaved else [job() for job in jobs]
        if scratch:
            records.append(outputs[0][0])
        shared = {}
        for protocol, s, job in runs:
            if job is None:  # the same triples from the same model as under the first protocol
                ran = first[s.name]
                record = {**copy.deepcopy(shared[s.name]), "protocol": protocol, "same_run_as": ran}
                log(_line(record) + f" (the {ran} run: same triples, same model)")
                carried[(protocol, s.name)] = carried[(ran, s.name)]
                moments[(protocol, s.name)] = moments[(ran, s.name)]
            else:
                record, carried[(protocol, s.name)], moments[(protocol, s.name)] = outputs[job]
                shared[s.name] = record
            records.append(record)
        prev_vocab, prev_trained = vocab, trained_on(split, prev_trained, prev_vocab)
        save_checkpoint()
        _report(on_step, records, setup, step_data)
    drop_earlier(earlier)
    out = SequenceResult(records, setup, step_data)
    out.add_time_to_quality()
    return out


def _transfer(
    previous: LinkPredictor,
    prev_vocab,
    model_config: ModelConfig,
    split,
    seed: int,
    trained: tuple[Tensor, Tensor] | None = None,
):
    """``previous`` on the new vocabulary (by IRI, new rows from neighbours), the transferred masks, a fresh model.

    Also ``(aligned, masks)``: ``previous``'s own values laid out like the new model (state-dict
    names; rows it lacks marked False), for strategies that look back at it. A row ``previous``
    never trained (``trained``, masks over ``prev_vocab``; default: every row) is a new row, marked
    False in both.
    """
    from kgtransfer.transfer.weights import aligned_source_state, transfer_state

    torch.manual_seed(seed)
    net = LinkPredictor.build(model_config, split.num_entities, split.num_relations)
    fresh = copy.deepcopy(net)
    transfer_state(previous, prev_vocab, net, split.vocab, split.message_graph(), "neighbors", trained=trained)
    aligned, masks = aligned_source_state(previous, prev_vocab, net, split.vocab, trained)
    params = dict(net.named_parameters())
    transferred = {n: m for n, m in masks.items() if n in params}
    return net, transferred, fresh, (aligned, masks)


@torch.no_grad()
def _aligned_moments(
    prev_vocab, net: LinkPredictor, vocab, moments: dict, trained: tuple[Tensor, Tensor] | None = None
) -> dict:
    """The previous step's Adam state laid out like ``net``'s parameters (by IRI, as the weights).

    ``{name: {"step", "exp_avg", "exp_avg_sq", "rows"}}``: ``rows`` the bool mask of the rows the
    previous step had and trained (``trained``, see :func:`_transfer`) (0-d for shared parameters);
    other rows' moments are zero.
    """
    from kgtransfer.transfer.parameter import mix_states
    from kgtransfer.transfer.weights import aligned_source_state

    zeros = {name: torch.zeros_like(p) for name, p in net.named_parameters() if name in moments}
    out = {name: {"step": moments[name]["step"].clone()} for name in zeros}
    for key in ("exp_avg", "exp_avg_sq"):
        state = {n: m[key] for n, m in moments.items()}
        aligned, masks = aligned_source_state(state, prev_vocab, net, vocab, trained)
        for name, value in mix_states(aligned, zeros, masks, 1.0).items():  # the carried rows, zeros elsewhere
            out[name].update({key: value, "rows": masks[name]})
    return out


@torch.no_grad()
def _interpolation(previous: tuple[dict, dict], current: LinkPredictor, task: StepTask, alphas) -> list[dict]:
    r"""Validation MRR of :math:`\alpha\,\theta_{i-1} + (1-\alpha)\,\theta_i`.

    ``previous`` is :math:`\theta_{i-1}` aligned to ``current``'s layout, with its row masks (from
    :func:`_transfer`). Rows only step ``i`` has keep :math:`\theta_i`.
    """
    from kgtransfer.transfer.parameter import mix_states

    if not alphas:
        return []
    aligned, masks = previous
    base = {k: v.clone() for k, v in current.state_dict().items()}
    probe = copy.deepcopy(current)
    out = []
    for alpha in (0.0, *alphas, 1.0):
        probe.load_state_dict(mix_states(aligned, base, masks, alpha))
        out.append({"alpha": alpha, "valid_mrr": task.evaluate(probe.eval(), "valid")["mrr"]})
    return out


def _capped(record: dict) -> bool:
    """Whether a run ended at the epoch cap without early stopping (records saved before the flag: not known)."""
    return record.get("stopped_early") is False


def _never_reached(record: dict) -> bool:
    """Whether a run converged (as scratch did) without reaching 99% of scratch's best validation MRR."""
    to99 = record.get("to99") or {}
    return bool(to99.get("converged")) and to99.get("epoch") is None


def _record(protocol, name, step: Step, net, task, result, prep) -> dict:
    return {
        "protocol": protocol,
        "strategy": name,
        "step": step.index,
        "snapshot": step.name,
        "entities": step.split.num_entities,
        "train_triples": task.rows,
        "train_queries": len(task.queries),
        "valid_best": result.best.get("mrr"),
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "stopped_early": bool(result.stopped_early),
        "seconds": _total(prep, result.history.seconds, {k: w for k, (w, _) in task.extra_seconds.items()}),
        "cpu_seconds": _total(task.prep_cpu, task.epoch_cpu, {k: c for k, (_, c) in task.extra_seconds.items()}),
        "prep_seconds": prep,
        "curve": _curve(result, prep, task),
        "test": evaluate_step(net, step, task),
    }


def _line(r: dict) -> str:
    return (
        f"  {r['protocol']:<8} {r['strategy']:<24} step {r['step']}: valid {r['valid_best']:.4f}, "
        f"test mean {r['test']['mean']['mrr']:.4f}, {plural(r['epochs_run'], 'epoch')}, {r['seconds']:.1f} s"
    )


def _ratio(a, b):
    return a / b if a is not None and b else None


# --- results --------------------------------------------------------------------------------------

#: what :meth:`SequenceResult.save` writes into its folder (an earlier result's entries it no longer writes go)
_SAVED = ("results.json", "results.md", "curves.png", *(f"curves_{p}.png" for p in PROTOCOLS), "steps")


class SequenceResult:
    """Every run of a sequence: per protocol, strategy and step, curves, test metrics and time to quality.

    Attributes:
        records: one dict per run (``protocol``, ``strategy``, ``step``, ``valid_best``, ``seconds``,
            ``curve``, ``test`` with ``mean``, ``pooled`` and ``per_set``, ``to95``/``to99``, ...).
        setup: the model, training config, strategies and protocols (JSON-ready).
        steps: what each step trained and was evaluated on (:class:`~kgtransfer.transfer.sequence_splits.StepData`;
            saved as ``steps/<i>/``, not read back by :meth:`load`).
    """

    def __init__(self, records: list[dict], setup: dict, steps: list[StepData] | None = None):
        self.records = records
        self.setup = setup
        self.steps = steps or []

    def add_time_to_quality(self) -> None:
        """Epochs and seconds to 95% / 99% of scratch's best validation MRR at the same step, and the ratios."""
        scratch = {r["step"]: r for r in self.records if r["strategy"] == "scratch"}
        for r in self.records:
            base = scratch.get(r["step"])
            if base is None or r["protocol"] == "pretrain":
                continue
            unread = _capped(base) or _capped(r)  # a curve still rising at the cap: no ratio either way
            for q in THRESHOLDS:
                key = f"to{round(q * 100)}"
                target = q * base["valid_best"]
                mine, theirs = time_to(r["curve"], target), time_to(base["curve"], target)
                r[key] = {
                    **mine,
                    "scratch_epoch": theirs["epoch"],
                    "scratch_seconds": theirs["seconds"],
                    "scratch_cpu_seconds": theirs["cpu_seconds"],
                    "scratch_queries": theirs["queries"],
                    "ratio": None if unread else _ratio(mine["seconds"], theirs["seconds"]),
                    "cpu_ratio": None if unread else _ratio(mine["cpu_seconds"], theirs["cpu_seconds"]),
                    "work_ratio": None if unread else _ratio(mine["queries"], theirs["queries"]),
                    "converged": not unread,
                }

    def table(self, protocol: str | None = None) -> list[list]:
        """Rows of :attr:`HEADERS`; ratios to scratch's seconds, CPU seconds and queries to 99% at that step."""
        rows = []
        for r in self.records:
            if protocol is not None and r["protocol"] not in (protocol, "pretrain"):
                continue
            m = r["test"]["mean"]
            to99 = r.get("to99") or {}
            rows.append(
                [
                    r["protocol"],
                    r["strategy"],
                    r["step"],
                    m["mrr"],
                    m["hits@1"],
                    m["hits@3"],
                    m["hits@10"],
                    r["valid_best"],
                    r["epochs_run"],
                    r["seconds"],
                    to99.get("epoch") if to99 else None,
                    to99.get("seconds") if to99 else None,
                    to99.get("ratio") if to99 else None,
                    to99.get("cpu_ratio") if to99 else None,
                    to99.get("work_ratio") if to99 else None,
                ]
            )
        return rows

    HEADERS = (
        "protocol",
        "strategy",
        "step",
        "test MRR (mean)",
        "H@1",
        "H@3",
        "H@10",
        "valid MRR",
        "epochs",
        "seconds",
        "epochs to 99%",
        "s to 99%",
        "s ratio vs scratch",
        "CPU s ratio",
        "work ratio",
    )

    def final(self) -> list[dict]:
        """Per protocol and strategy: final-step mean test MRR and the total training seconds of the sequence.

        With the first step only (one snapshot, or a result saved after the first step): its one run, ``pretrain``.
        """
        last = max(r["step"] for r in self.records)
        out = {}
        for r in self.records:
            key = (r["protocol"] if r["protocol"] != "pretrain" else None, r["strategy"])
            entry = out.setdefault(key, {"protocol": key[0], "strategy": r["strategy"], "seconds": 0.0})
            entry["seconds"] += r["seconds"]
            if r["step"] == last:
                entry["final_mrr"] = r["test"]["mean"]["mrr"]
                entry["final_pooled_mrr"] = r["test"]["pooled"]["mrr"]
        pre = out.pop((None, "scratch"), None)
        rows = [v for v in out.values() if "final_mrr" in v]
        for v in rows:  # every run, scratch's too, began with the training on the first snapshot
            v["seconds"] += pre["seconds"] if pre is not None else 0.0
        if not rows and pre is not None and "final_mrr" in pre:  # nothing carried yet: the first step is the last
            rows = [{**pre, "protocol": "pretrain"}]
        return rows

    def interpolation_summary(self) -> list[dict]:
        """Per run: whether some α in (0, 1) beat both ends on validation."""
        out = []
        for r in self.records:
            sweep = r.get("interpolation") or []
            if not sweep:
                continue
            ends = max(sweep[0]["valid_mrr"], sweep[-1]["valid_mrr"])
            inner = max(sweep[1:-1], key=lambda x: x["valid_mrr"])
            out.append(
                {
                    "protocol": r["protocol"],
                    "strategy": r["strategy"],
                    "step": r["step"],
                    "alpha0": sweep[0]["valid_mrr"],
                    "alpha1": sweep[-1]["valid_mrr"],
                    "best_alpha": inner["alpha"],
                    "best_inner": inner["valid_mrr"],
                    "beats_both": inner["valid_mrr"] > ends,
                }
            )
        return out

    def summary(self) -> str:
        """The per-step table and the final/total table."""
        parts = [format_table(self.table(), self.HEADERS, title="per step (test: mean over the test sets seen so far)")]
        final = self.final()
        parts.append(
            format_table(
                [[f["protocol"], f["strategy"], f["final_mrr"], f["final_pooled_mrr"], f["seconds"]] for f in final],
                ["protocol", "strategy", "final mean MRR", "final pooled MRR", "total train s"],
                title="final step and whole sequence",
            )
        )
        interp = self.interpolation_summary()
        if interp:
            parts.append(
                format_table(
                    [
                        [
                            i["protocol"],
                            i["strategy"],
                            i["step"],
                            i["alpha0"],
                            i["alpha1"],
                            i["best_alpha"],
                            i["best_inner"],
                            i["beats_both"],
                        ]
                        for i in interp
                    ],
                    [
                        "protocol",
                        "strategy",
                        "step",
                        "α=0 (new)",
                        "α=1 (prev)",
                        "best inner α",
                        "its valid MRR",
                        "beats both",
                    ],
                    title="interpolation θ = α·θ(i-1) + (1-α)·θ(i), validation MRR",
                )
            )
        parts += [f"note: {text}" for text in self.setup.get("notes", [])]
        never = [f"{r['protocol']} {r['strategy']} step {r['step']}" for r in self.records if _never_reached(r)]
        if never:  # a blank time to 99% is not a missing measurement
            parts.append(
                f"never reached 99% of scratch's best validation MRR at their step: {', '.join(never)} "
                "(converged runs: no time to quality, no ratio)"
            )
        capped = [f"{r['protocol']} {r['strategy']} step {r['step']}" for r in self.records if _capped(r)]
        if capped:
            parts.append(
                f"not converged: {', '.join(capped)} ended at the epoch cap without early stopping; their ratios "
                "to scratch are not read (raise epochs before reading time to quality)"
            )
        return "\n\n".join(parts)

    __str__ = summary

    def __repr__(self) -> str:
        strategies = sorted({r["strategy"] for r in self.records})
        steps_ = max((r["step"] for r in self.records), default=-1) + 1
        return f"SequenceResult(steps={steps_}, strategies={strategies}, runs={len(self.records)})"

    def to_json(self) -> dict:
        """``{"setup": ..., "records": ...}``."""
        return {"setup": self.setup, "records": self.records}

    def save(self, directory: str | os.PathLike) -> Path:
        """Write ``results.json``, ``results.md`` (the summary), the curves and each step's triples to ``directory``.

        ``curves.png`` plots the first protocol run (merged, else new-only), ``curves_new-only.png`` the other;
        ``steps/<i>/`` the new, validation and test triples of step ``i`` (:mod:`~kgtransfer.transfer.sequence_splits`).
        They replace the folder's earlier ones all at once (:func:`~kgtransfer.checkpoint.staged_run`: a save
        stopped half way leaves the earlier result whole, or is completed when the folder is next loaded or saved).
        """
        from kgtransfer.checkpoint import staged_run
        from kgtransfer.engine import save_json
        from kgtransfer.files import atomic_write_text

        with staged_run(directory, _SAVED) as staging:  # an earlier run's plot or steps it no longer has go
            save_json(staging / "results.json", self.to_json())
            atomic_write_text(staging / "results.md", "```\n" + self.summary() + "\n```\n")
            ran = [p for p in PROTOCOLS if any(r["protocol"] == p for r in self.records)]
            for protocol in ran:  # merged (or the one protocol run) as curves.png, another beside it
                name = "curves.png" if protocol == ran[0] else f"curves_{protocol}.png"
                self.plot(staging / name, protocol)
            if self.steps:
                save_steps(staging / "steps", self.steps)
        return Path(directory)

    @classmethod
    def load(cls, directory: str | os.PathLike) -> SequenceResult:
        """Read a saved result."""
        from kgtransfer.checkpoint import finish_staged_run
        from kgtransfer.transfer.results import read_saved

        if Path(directory).is_dir():
            finish_staged_run(directory)  # a save stopped while it renamed its files into place
        data = read_saved(Path(directory) / "results.json", "sequence result", dict, ("records", "setup"))
        return cls(data["records"], data["setup"])

    def plot(self, path: str | os.PathLike, protocol: str = "merged") -> Path | None:
        """Validation MRR against cumulative training seconds, one panel per step after the first."""
        from kgtransfer.plots import _pyplot, save_figure

        plt = _pyplot()
        runs = [r for r in self.records if r["protocol"] == protocol]
        if plt is None or not runs:
            return None
        steps_ = sorted({r["step"] for r in runs})
        fig, axes = plt.subplots(1, len(steps_), figsize=(4.5 * len(steps_), 3.8), squeeze=False)
        for ax, s in zip(axes[0], steps_, strict=True):
            for r in runs:
                if r["step"] == s:
                    ax.plot([p["seconds"] for p in r["curve"]], [p["mrr"] for p in r["curve"]], label=r["strategy"])
            ax.set(xlabel="training seconds", ylabel="validation MRR", title=f"step {s} ({protocol})")
            ax.grid(alpha=0.3)
        axes[0][-1].legend(fontsize=7)
        fig.tight_layout()
        return save_figure(fig, path)


# --- experiment files ----------------------------------------------------------------------------


def run_sequence_file(
    path: str | os.PathLike,
    out: str | os.PathLike | None = None,
    interleaved: bool | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> SequenceResult:
    """Run the ``[sequence]`` experiment of a TOML file; write the result to ``out`` (default: ``runs/<name>``).

    ``interleaved`` (when given) overrides the file's. Checkpoints go to ``out/checkpoints`` after
    every step; ``resume`` continues from them (snapshots added at the end of the list extend a
    finished sequence: only their steps train), ``overwrite`` starts a new run over them (without
    either, an earlier run's are refused: a :class:`~kgtransfer.errors.CheckpointError`; see
    :func:`~kgtransfer.checkpoint.checkpoints_in`). Raises :class:`~kgtransfer.config.ConfigError`
    naming the file for an invalid one.

    The file::

        name = "entity-quick"
        [sequence]
        snapshots = ["data/ENTITY/0", "data/ENTITY/1"]   # relative to the file
        strategies = ["fine-tune", "shrink-perturb+replay", {name = "ewc", weight = 5.0}]
        protocols = ["merged", "new-only"]
        operator = "union"          # or "extension", with hops = 1
        valid_size = 2000
        interleaved = true   # a step's runs one batch each in turn (false: one after the other)
        [model]   # ModelConfig fields (default here: embedding + ComplEx, dim 128)
        [train]   # TrainConfig fields (default here: eval_every 1, patience 3, lr 0.003)
        [task]    # TaskConfig fields
    """
    import tomllib

    from kgtransfer.config_adapter import from_table

    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"{path}: {e}") from e
    tables = ("name", "plugins", "sequence", "model", "train", "task")
    unknown = sorted(set(raw) - set(tables))
    if unknown:  # a misspelt [train] was silently ignored: its settings never applied
        import difflib

        close = difflib.get_close_matches(unknown[0], tables, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"{path}: unknown key {unknown[0]!r}{hint}; a [sequence] file has: {', '.join(tables)}")
    name = raw.get("name", path.stem)
    if not is_plain_name(name):
        raise ConfigError(f"{path}: name: {name!r} is not a plain folder name (no '/', '\\', '..')")
    from kgtransfer.registry import load_plugins

    plugins = raw.get("plugins", [])
    if not isinstance(plugins, list):
        raise ConfigError(f"{path}: plugins must be a list of module names, got {plugins!r}")
    try:
        load_plugins(plugins, path.parent)  # before any name is checked against a registry
    except KGTransferError as e:
        raise ConfigError(f"{path}: {e}") from None
    spec = dict(raw.get("sequence") or {})
    if not spec.get("snapshots"):
        raise ConfigError(f"{path}: [sequence] needs snapshots = [...]")
    known = {
        "snapshots",
        "strategies",
        "protocols",
        "operator",
        "hops",
        "names",
        "valid_size",
        "test_size",
        "alphas",
        "scratch",
        "interleaved",
    }
    if set(spec) - known:
        raise ConfigError(f"{path}: [sequence] has unknown keys {sorted(set(spec) - known)}; known: {sorted(known)}")
    _check_spec_types(spec, path)
    where = str(path)
    model = from_table(raw.get("model"), ModelConfig, where, DEFAULT_MODEL)
    config = from_table(raw.get("train"), TrainConfig, where, DEFAULT_TRAIN)
    task = from_table(raw.get("task"), TaskConfig, where)
    snapshots = [_relative(path.parent, s) for s in spec.pop("snapshots")]
    if interleaved is not None:
        spec["interleaved"] = interleaved
    out = Path(out or Path("runs") / name)
    from kgtransfer.checkpoint import checkpoints_in, rank_overwrite, save_result, save_run

    checkpoints = checkpoints_in(out, resume, overwrite, kind="sequence")
    try:  # saved after every step too: a run stopped later keeps the steps done
        result = sequence(
            snapshots,
            model,
            config,
            task=task,
            log=print,
            on_step=lambda r: save_result(r, out),
            checkpoint_dir=checkpoints,
            resume=resume,
            overwrite=rank_overwrite(overwrite),  # checkpoints_in set them aside (on rank 0)
            **spec,
        )
    except ConfigError as e:  # a setting of the file; other errors (a step's data, a bug) keep their own type
        raise ConfigError(f"{path}: {e}") from e
    save_run(result, out)  # then those an overwrite set aside go
    keep_experiment_file(path, out)
    print(result.summary())
    return result


def _report(on_step, records: list[dict], setup: dict, step_data: list[StepData]) -> None:
    """Hand ``on_step`` the result so far (after every step, the first included)."""
    if on_step is not None:
        partial = SequenceResult(list(records), setup, list(step_data))
        partial.add_time_to_quality()
        on_step(partial)


def _check_step_task(loss: str, mode: str) -> None:
    """Refuse what a step's task cannot train: it trains the 1-N queries of chosen rows (new, old, replayed).

    Other losses and neighbour-sampled steps batch the split's training triples, whatever the
    protocol or strategy chose (new-only and replay trained on every triple, EWC failed).
    """
    from kgtransfer.registry import LOSSES

    if LOSSES[loss].batching != "queries":
        raise ConfigError(f"a sequence trains 1-N queries of chosen triples; loss {loss!r} batches triples: use '1-n'")
    if mode == "sampled":
        raise ConfigError(
            "a sequence trains 1-N queries of chosen triples; neighbour-sampled steps batch every training triple: "
            "use mode 'batch' or 'full' (TaskConfig.mode; with mode 'auto' a large graph chose sampled steps)"
        )


def _check_spec_types(spec: dict, path: Path) -> None:
    """Refuse ``[sequence]`` values of the wrong type ("false" is a true string, a number is no path)."""
    lists_of_strings = ("snapshots", "protocols", "names")
    for key, value in spec.items():
        if key in lists_of_strings and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ConfigError(f"{path}: [sequence] {key} must be a list of strings, got {value!r}")
        if key == "strategies" and not (isinstance(value, list) and all(isinstance(v, str | dict) for v in value)):
            raise ConfigError(f"{path}: [sequence] strategies must be a list of names or tables, got {value!r}")
        if key in ("scratch", "interleaved") and not isinstance(value, bool):
            raise ConfigError(f"{path}: [sequence] {key} must be true or false, got {value!r}")
        if key == "hops" and not is_number(value, integer=True):
            raise ConfigError(f"{path}: [sequence] hops must be a whole number, got {value!r}")
        if key == "operator" and not isinstance(value, str):
            raise ConfigError(f"{path}: [sequence] operator must be a string, got {value!r}")


def _relative(base: Path, value: str) -> str:
    candidate = base / value
    return str(candidate) if candidate.exists() else value


__all__ = [
    "PROTOCOLS",
    "SequenceResult",
    "Step",
    "StepTask",
    "evaluate_step",
    "run_sequence_file",
    "sequence",
    "steps",
    "time_to",
    "unique_rows",
]
