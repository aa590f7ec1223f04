r"""Pretrain on K1, fine-tune on K: weights moved by IRI, then a fine-tuning strategy.

The strategy (``full``, ``linear-probe``, ``lp-ft``, ``freeze-N``, or any registered one) is an
object from :mod:`kgtransfer.transfer.strategies`. Orthogonal options, in
:class:`~kgtransfer.config.FinetuneConfig`: ``transferred_lr_scale`` (a discriminative learning
rate: rows and parameters that were transferred move at ``lr * scale``, new ones at ``lr``),
``l2sp`` (a penalty :math:`\lambda \lVert \theta - \theta_{\text{pretrained}} \rVert^2` over
transferred values, L2-SP, Li et al. 2018) and ``compose`` (structure transfer: the transferred
encoder :math:`F_1` is composed with a new :math:`F_2`; see :mod:`kgtransfer.transfer.structure`).
"""

from __future__ import annotations

import copy
import json
import math
import os
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from kgtransfer.config import ConfigError, FinetuneConfig, ModelConfig, TaskConfig, TrainConfig, expect, given
from kgtransfer.device import model_device
from kgtransfer.engine import FitResult, History, fit, inner_task, make_optimizer
from kgtransfer.errors import TransferWarning
from kgtransfer.models.link_predictor import LinkPredictor
from kgtransfer.rng import seeded
from kgtransfer.training import TrainedModel, train
from kgtransfer.transfer.results import ZeroShotResult
from kgtransfer.transfer.strategies import Strategy, make_strategy
from kgtransfer.transfer.weights import (
    TransferReport,
    id_mask,
    row_maps,
    row_parameters,
    source_trained,
    trained_on,
    transfer_state,
    used_by,
)


def pretrain(
    source,
    model: ModelConfig | None = None,
    config: TrainConfig | None = None,
    task: TaskConfig | None = None,
    **shortcuts,
) -> TrainedModel:
    """Pretrain on K1: :func:`kgtransfer.train` for link prediction (same arguments and shortcuts).

    The result carries its vocabularies and configs, saves and loads as a checkpoint, and is what
    :func:`finetune`, :func:`~kgtransfer.transfer.parameter.interpolate` and
    :func:`~kgtransfer.transfer.structure.compose` take.
    """
    return train(source, model, config, task, **shortcuts)


def target_split(pretrained: TrainedModel, kg, split=None, seed: int = 0, literals: str | None = None):
    """K's split over the pretrained vocabularies *extended* by K's terms, so transferred ids stay put.

    A split drawn here never evaluates on what the pretrained model trained on: a random split draws
    valid and test only from K's triples outside the pretraining run's training triples
    (:func:`~kgtransfer.data.splits.transfer_split`), and a given split moves such triples to
    train (:func:`~kgtransfer.data.splits.keep_in_train`). A split passed in (or loaded from a
    folder) is used as it is, with a ``TransferWarning`` when it does.

    Args:
        pretrained: the pretrained run.
        kg: the target graph K.
        split: a Split (returned as is, e.g. a scratch run's for a like-for-like comparison; a
            warning says when it validates or tests on the pretraining run's training triples, or is not a
            split of ``kg``), a saved split or run directory (likewise), ``"given"``, ``"random"`` or ratios
            ``(train, valid, test)`` (default: given when K has split sources, else random).
        seed: the seed of a random split (default: 0).
        literals: the literal policy of a split drawn here (``"drop"``, ``"nodes"``, ``"features"``); a
            split passed in made with another one is refused (ConfigError) (default: :obj:`None`, the
            pretrained run's, so that literals it trained on as nodes are nodes of K too).
    """
    from kgtransfer.data.splits import (
        given_split,
        has_given_split,
        keep_in_train,
        literal_policy,
        split_given,
        transfer_split,
    )

    ready = split_given(split, kg, literals, TransferWarning)  # zero_shot passes a Split as K: no graph to match
    if ready is not None:
        kept = keep_in_train(ready, pretrained.split.train)  # the split itself when nothing moves
        seen = kept.info.get("pretrained_train_moved", 0) if kept is not ready else 0
        if seen:
            warnings.warn(
                f"the split given for fine-tuning validates or tests on {seen:,} triples the pretrained model "
                "trained on: its scores are partly recall, not transfer (target_split draws one that does not)",
                TransferWarning,
                stacklevel=3,
            )
        return ready
    literals = literals or literal_policy(pretrained.split)
    vocab = pretrained.vocab.extend(kg, literals)
    if split is None:
        split = "given" if has_given_split(kg) else "random"
    if split == "given":
        return keep_in_train(given_split(kg, vocab=vocab, literals=literals), pretrained.split.train)
    ratios = (0.8, 0.1, 0.1) if split == "random" else tuple(split)
    return transfer_split(kg, pretrained.split.train, ratios=ratios, seed=seed, vocab=vocab, literals=literals)


def build_transferred(
    pretrained: TrainedModel,
    split,
    init: str = "neighbors",
    compose: str | None = None,
    freeze_source: bool = True,
    trained: tuple[Tensor, Tensor] | None = None,
) -> tuple[LinkPredictor, TransferReport, dict[str, Tensor]]:
    """A model over ``split``'s vocabulary holding ``pretrained``'s weights (by IRI), and which rows transferred.

    A row ``pretrained`` never trained (an entity or relation only in its valid or test triples) is
    not transferred: it starts as a new row. ``trained`` gives the rows it trained, as bool masks
    over its vocabulary (default: :func:`source_trained`).

    Returns:
        ``(model, report, transferred)`` where ``transferred[name]`` is a bool row mask (or a 0-d
        True for whole shared parameters) of what came from the pretrained model.
    """
    config = pretrained.model_config
    model = LinkPredictor.build(config, split.num_entities, split.num_relations)
    if not isinstance(pretrained.model.head, nn.Identity):  # a linear probe's head is part of what it learned
        model.head = copy.deepcopy(pretrained.model.head).to(model_device(model))
    graph = split.message_graph()
    trained = source_trained(pretrained) if trained is None else trained
    report = transfer_state(
        pretrained.model, pretrained.vocab, model, split.vocab, graph, init, used_by(split), trained
    )
    maps, _ = row_maps(pretrained.vocab, split.vocab, trained)
    evaluated = id_mask(torch.cat([split.valid.tensor, split.test.tensor])[:, [0, 2]], split.num_entities)
    known = maps["entity"] >= 0
    report.eval_entities, report.eval_entities_transferred = int(evaluated.sum()), int((evaluated & known).sum())
    for message in report.warnings():
        warnings.warn(message, TransferWarning, stacklevel=3)
    transferred = _transferred_masks(model, maps, report)
    if compose is not None:
        from kgtransfer.transfer.structure import ComposedEncoder

        first = model.encoder
        if freeze_source:
            for p in first.parameters():
                p.requires_grad_(False)
        fresh = LinkPredictor.build(config, split.num_entities, split.num_relations).encoder
        model.encoder = ComposedEncoder(first, fresh, compose)
        transferred = {  # the encoder's rows are now F1's; the others (inverse relations, a probe's head) stay
            f"encoder.first.{k[len('encoder.') :]}" if k.startswith("encoder.") else k: v
            for k, v in transferred.items()
        }
    return model, report, transferred


def _untrained_rows(pretrained: TrainedModel, split) -> dict[str, list[int]]:
    """Ids of ``split``'s rows that a model fine-tuned on it from ``pretrained`` never trained, for a later transfer."""
    entities, relations = trained_on(split, source_trained(pretrained), pretrained.vocab)
    return {
        "entities": (~entities).nonzero().flatten().tolist(),
        "relations": (~relations).nonzero().flatten().tolist(),
    }


def _transferred_masks(model: nn.Module, maps: dict[str, Tensor], report: TransferReport) -> dict:
    out = {}
    kinds = row_parameters(model)
    for name, _ in model.named_parameters():
        kind = kinds.get(name)
        if kind is not None:
            out[name] = maps[kind] >= 0
        elif name in report.parameters_copied:
            out[name] = torch.tensor(True)
    return out


def finetune(
    pretrained: TrainedModel,
    kg,
    strategy: str | Strategy | FinetuneConfig | None = None,
    config: TrainConfig | None = None,
    *,
    options: FinetuneConfig | None = None,
    task: str | TaskConfig = "link_prediction",
    split=None,
    literals: str | None = None,
    compose: str | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    seed: int | None = None,
    device: str | None = None,
    labels=None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
):
    """Fine-tune a pretrained model on the (merged) graph K.

    Args:
        pretrained: the result of :func:`pretrain` (or :func:`kgtransfer.train`).
        kg: the target graph K (a KnowledgeGraph or anything :func:`kgtransfer.load` accepts), or a Split.
        strategy: shortcut for ``options.strategy``: a registered name (``"full"``, ``"linear-probe"``,
            ``"lp-ft"``, ``"freeze-N"``, ...) or a :class:`~kgtransfer.transfer.strategies.Strategy`; a
            :class:`~kgtransfer.config.FinetuneConfig` here is taken as ``options``.
        config: training settings (default: the pretrained run's).
        options: the :class:`~kgtransfer.config.FinetuneConfig` (strategy and its options, init of
            new rows, discriminative lr, L2-SP, composition) (default: its defaults, ``"full"``).
        task: ``"link_prediction"`` or ``"entity_typing"``, or the link-prediction
            :class:`~kgtransfer.config.TaskConfig` to fine-tune with (loss, label smoothing,
            regularizer, step mode) (default: ``"link_prediction"`` with the pretrained run's TaskConfig).
        split: K's split (see :func:`target_split`; default: given or random, over the extended vocabulary).
            A drawn split whose shares leave valid or test empty is an EmptySplitError before training.
        literals: link prediction: the literal policy of K's split, ``"drop"``, ``"nodes"`` or ``"features"``
            (see :func:`target_split`; default: the pretrained run's).
        compose: shortcut for ``options.compose`` (``"sum"``, ``"concat"``, ``"gate"``).
        epochs: shortcut for ``config.epochs``.
        lr: shortcut for ``config.lr``.
        seed: shortcut for ``config.seed``.
        device: shortcut for ``config.device``.
        labels: entity typing only: ready :class:`~kgtransfer.tasks.typing_labels.TypingLabels`, or a
            dict of :func:`~kgtransfer.tasks.typing_labels.typing_labels` arguments (``query``,
            ``predicate``, ``leak_predicates``, ``keep``) (default: rdf:type labels).
        checkpoint_dir: link prediction: where each phase of the strategy keeps its ``last``/``best``
            checkpoints (``phase0/``, ``phase1/``, ...) (default: none). One that holds an earlier run's
            checkpoints is refused (CheckpointError) unless ``resume`` or ``overwrite``.
        resume: continue a killed run from ``checkpoint_dir``; a different configuration, strategy,
            pretrained model or target is refused (default: False).
        overwrite: start a new run in ``checkpoint_dir`` over an earlier one's checkpoints: they are set
            aside (``.NAME.earlier`` beside it) and deleted when this run ends (see
            :func:`~kgtransfer.checkpoint.claim_checkpoints`); not with ``resume`` (default: False).

    Returns:
        Link prediction: a :class:`~kgtransfer.training.TrainedModel`; entity typing: an
        :class:`~kgtransfer.tasks.node_classification.EntityTypingResult`. Both carry ``.report``
        (the :class:`~kgtransfer.transfer.weights.TransferReport`), which they save and reload.
    """
    from kgtransfer.registry import normalize
    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    _check_pretrained(pretrained, "finetune")
    if isinstance(strategy, FinetuneConfig) and options is None:  # finetune(pre, kg, FinetuneConfig(...))
        strategy, options = None, strategy
    expect(strategy, Strategy, "strategy", also=(str,))
    expect(config, TrainConfig, "config")
    expect(options, FinetuneConfig, "options")
    expect(task, TaskConfig, "task", also=(str,))
    task_config = task if isinstance(task, TaskConfig) else pretrained.task_config
    kind = "linkprediction" if isinstance(task, TaskConfig) else normalize(task)
    if kind not in ("linkprediction", "entitytyping", "nodeclassification"):
        raise ConfigError(f"task must be 'link_prediction' or 'entity_typing', got {task!r}")
    train_config = replace(config or pretrained.train_config, **given(epochs=epochs, lr=lr, seed=seed, device=device))
    options = options or FinetuneConfig()
    if isinstance(strategy, str) or compose is not None:
        options = replace(options, **given(strategy=strategy if isinstance(strategy, str) else None, compose=compose))
    chosen = make_strategy(strategy if isinstance(strategy, Strategy) else options.strategy, options.options)
    if kind != "linkprediction":
        _check_typing_options(strategy, options, kg, split, literals, checkpoint_dir, resume, overwrite)
        return _finetune_typing(pretrained, kg, train_config, options.init, labels)
    from kgtransfer.checkpoint import claim_checkpoints, drop_earlier

    claim_checkpoints(checkpoint_dir, resume, "run", overwrite, move=False)  # an overwrite moves them below
    if labels is not None:
        raise ConfigError("labels= is for task='entity_typing'; link prediction has none")
    target = _target(pretrained, kg, split, train_config.seed, literals)
    earlier = claim_checkpoints(checkpoint_dir, resume, "run", overwrite)  # settings and data are good: now
    with seeded(train_config.seed):  # the initial weights depend on the seed alone; the caller's RNG comes back
        model, report, transferred = build_transferred(
            pretrained, target, options.init, options.compose, options.freeze_source
        )
        lp_task = LinkPredictionTask(target, task_config)
        if type(chosen).penalty is not Strategy.penalty:
            lp_task = _PenaltyTask(lp_task, chosen.penalty)
        if options.l2sp > 0:
            lp_task = _L2SPTask(lp_task, model, transferred, options.l2sp)
        run = _run_state(pretrained, target, options, chosen, task_config) if checkpoint_dir is not None else None
        result = run_strategy(
            chosen, model, lp_task, train_config, transferred, options.transferred_lr_scale, checkpoint_dir, resume, run
        )
    drop_earlier(earlier)
    info = {
        "strategy": type(chosen).__name__ if isinstance(strategy, Strategy) else options.strategy,
        "strategy_options": chosen.options(),
        "finetune": options.to_dict(),
        "init": options.init,
        "transfer": report.as_dict(),
        "compose": options.compose,
        "transferred_lr_scale": options.transferred_lr_scale,
        "l2sp": options.l2sp,
        "untrained_rows": _untrained_rows(pretrained, target),
    }
    ran = inner_task(lp_task).config  # the caller's, or as a run begun before a setting existed resumed it
    return TrainedModel(model, target, pretrained.model_config, train_config, result, ran, info, report)


def _target(pretrained: TrainedModel, kg, split, seed: int, literals: str | None = None):
    from kgtransfer.data.splits import Split, check_evaluable, check_literals
    from kgtransfer.knowledge.graph import KnowledgeGraph
    from kgtransfer.knowledge.sources import load

    if isinstance(kg, Split):
        check_literals(kg, literals, "the Split passed as K")
        return check_evaluable(kg)
    kg = kg if isinstance(kg, KnowledgeGraph) else load(kg)
    return check_evaluable(target_split(pretrained, kg, split, seed, literals), kg)


def run_strategy(
    strategy: Strategy,
    model: nn.Module,
    task,
    config: TrainConfig,
    transferred: dict,
    scale: float = 1.0,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    state: dict | None = None,
) -> FitResult:
    """Run every phase of ``strategy`` (one optimizer each) and join the learning curves.

    Phase ``i`` trains with seed ``config.seed + i`` and checkpoints under ``checkpoint_dir/phase<i>``;
    a resumed run replays finished phases from their checkpoints (no training) and continues the
    interrupted one. The model ends at the best validation epoch over all phases (the one
    :func:`join_fits` reports), not at the last phase's best.
    """
    strategy.start(model)
    results, phases = [], strategy.phases(config)
    best_state, best_value = None, None
    for i, phase in enumerate(phases):
        strategy.prepare(model, phase)
        optimizer = make_optimizer(strategy.param_groups(model, phase), phase.config)
        if scale != 1.0:
            _discriminative(optimizer, model, transferred, scale)
        phase_config = replace(phase.config, seed=config.seed + i)
        where = Path(checkpoint_dir) / f"phase{i}" if checkpoint_dir is not None else None
        phase_state = None
        if state is not None:
            phase_state = _phase_state(where if resume else None, _with(state, phase=i), _weights_digest(model))
        results.append(
            fit(
                model,
                task,
                phase_config,
                optimizer=optimizer,
                on_epoch_end=strategy.on_epoch,
                checkpoint_dir=where,
                resume=resume,
                state=(lambda s=phase_state: s) if phase_state is not None else None,
            )
        )
        value = results[-1].best.get(task.metric, -1) if results[-1].best else None
        if value is not None and (best_value is None or _not_worse(value, best_value)):  # join_fits' choice
            best_value = value
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()} if i < len(phases) - 1 else None
    if best_state is not None:  # an earlier phase was better: its weights are the result
        model.load_state_dict(best_state)
    return join_fits(results, task.metric, [p.name for p in phases])


def _weights_digest(model: nn.Module) -> str:
    """A digest of the model's weights: which model a phase started from."""
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    for name, value in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(value.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _run_state(pretrained: TrainedModel, target, options: FinetuneConfig, chosen: Strategy, task: TaskConfig):
    """What a resumed fine-tuning must match (only checkpoints read it): settings and digests of every input.

    The task is recorded when it is not the pretrained run's (which the pretrained digests cover).
    """
    from kgtransfer.checkpoint import RunState
    from kgtransfer.data.splits import literal_policy
    from kgtransfer.training import fingerprint

    own_task = {"task": task.to_dict()} if task != pretrained.task_config else {}
    return RunState(
        {
            "model": pretrained.model_config.to_dict(),
            "finetune": options.to_dict(),
            "strategy": type(chosen).__name__,
            "pretrained": fingerprint(pretrained.split),
            "pretrained_weights": _weights_digest(pretrained.model),  # another model on the same split differs
            "data": fingerprint(target),
            "literals": literal_policy(target),  # which a refusal names beside the digest
            **own_task,
        },
        earlier={  # checkpoints of runs begun before the digests changed, or had the weights' digest or policy
            "pretrained": (fingerprint(pretrained.split, legacy=True),),
            "data": (fingerprint(target, legacy=True),),
            "pretrained_weights": (None,),
            "literals": (None,),
        },
    )


def _phase_state(where: Path | None, state: dict, start: str) -> dict:
    """A phase's checkpoint state: ``state`` plus ``start``, the digest of the weights it starts from.

    Resumed (``where`` given) with more epochs, an earlier phase may run longer and end elsewhere
    (lp-ft's probe is a share of the epochs); checkpoints in ``where`` that began from other
    weights are deleted, so the phase starts over instead of continuing from weights trained
    after another model; those of another run (pretrained model, data, settings) are kept, and
    resuming from them is refused. Checkpoints written before phases recorded their start are
    resumed as they are.
    """
    import shutil

    from kgtransfer.checkpoint import checkpoint_folder, read_meta

    meta_file = checkpoint_folder(where / "last") / "meta.json" if where is not None else None
    if meta_file is not None and meta_file.is_file():
        saved = read_meta(meta_file).get("state") or {}
        if "start" not in saved:
            return state
        ours = ("start", "step_mode", "edge_budget")  # this phase's own: its start, and what fit records
        current = json.loads(json.dumps(state))
        unrecorded = getattr(state, "earlier", {})  # keys a checkpoint of an earlier version lacks (e.g. literals)
        current = {k: v for k, v in current.items() if k in saved or None not in unrecorded.get(k, ())}
        if isinstance(saved.get("task"), dict) and isinstance(current.get("task"), dict):  # fields added since
            current["task"] = {k: v for k, v in current["task"].items() if k in saved["task"]}
        same_run = {k: v for k, v in saved.items() if k not in ours} == current
        if saved["start"] != start and same_run:  # another run (model, data) is refused by fit, not deleted
            shutil.rmtree(where)
    return _with(state, start=start)


def _with(state: dict, **values) -> dict:
    """``state`` with more keys, keeping what a :class:`~kgtransfer.checkpoint.RunState` knows of earlier versions."""
    return state.extended(**values) if hasattr(state, "extended") else {**state, **values}


def _discriminative(optimizer: torch.optim.Optimizer, model: nn.Module, transferred: dict, scale: float) -> list:
    r"""Scale each step of transferred rows/parameters by ``scale`` (an effective lr of ``lr * scale``).

    Adam's step does not scale with the gradient, so the update itself is blended:
    :math:`\theta \leftarrow \theta_{\text{old}} + s\,(\theta_{\text{new}} - \theta_{\text{old}})` on transferred rows
    (``scale=0`` holds them still, whatever momentum or decoupled weight decay would do).

    A 0-d mask marks a whole shared parameter: True blends it, False (not transferred, e.g. a
    shape that did not match) leaves its steps whole, as a row mask's False rows.

    Returns:
        the two hook handles (``remove()`` them to stop blending).
    """
    tracked = [
        (p, transferred[name])
        for name, p in model.named_parameters()
        if name in transferred and p.requires_grad and (transferred[name].dim() or bool(transferred[name]))
    ]
    tracked = [(p, mask if mask.dim() == 0 else mask.to(p.device)) for p, mask in tracked]
    saved: list[Tensor] = []

    def before(opt, args, kwargs):  # only the transferred rows are kept (not whole embedding tables)
        saved.clear()
        saved.extend(p.detach().clone() if mask.dim() == 0 else p.detach()[mask] for p, mask in tracked)

    def after(opt, args, kwargs):
        with torch.no_grad():
            for (p, mask), old in zip(tracked, saved, strict=True):
                if mask.dim() == 0:
                    p.copy_(old + scale * (p - old))
                else:
                    p[mask] = old + scale * (p[mask] - old)

    return [optimizer.register_step_pre_hook(before), optimizer.register_step_post_hook(after)]


class _PenaltyTask:
    """Wraps a task, adding ``penalty(model)`` to every batch loss."""

    def __init__(self, task, penalty):
        self.task, self.penalty = task, penalty
        self.metric = task.metric

    def __getattr__(self, name):
        return getattr(self.task, name)

    def to(self, device):
        self.task = self.task.to(device)
        return self

    def loss(self, model, batch) -> Tensor:
        return self.task.loss(model, batch) + self.penalty(model)


class _L2SPTask:
    r"""Wraps a task, adding :math:`\lambda \sum \lVert \theta - \theta_0 \rVert^2` over transferred values."""

    def __init__(self, task, model: nn.Module, transferred: dict, weight: float):
        self.task, self.weight = task, weight
        self.metric = task.metric
        params = dict(model.named_parameters())
        # a 0-d False mask is a shared parameter that was not transferred: nothing to pull it toward
        self.anchors = [
            (params[n], params[n].detach().clone(), m)
            for n, m in transferred.items()
            if n in params and (m.dim() or bool(m))
        ]

    def __getattr__(self, name):
        return getattr(self.task, name)

    def to(self, device):
        self.task = self.task.to(device)
        self.anchors = [(p, a.to(device), m.to(device)) for p, a, m in self.anchors]
        return self

    def loss(self, model, batch) -> Tensor:
        penalty = 0.0
        for p, anchor, mask in self.anchors:
            diff = (p - anchor) ** 2
            penalty = penalty + (diff.sum() if mask.dim() == 0 else diff[mask].sum())
        return self.task.loss(model, batch) + self.weight * penalty


def _not_worse(value: float, best: float) -> bool:
    """Whether a later phase's best validation ``value`` replaces ``best``.

    It does when at least as high, or NaN (no validation triples: the latest weights are kept, as within a phase).
    """
    return math.isnan(value) or value >= best


def join_fits(results: list[FitResult], metric: str = "mrr", names: list[str] | None = None) -> FitResult:
    """One learning curve from consecutive phases; the best is the best validation over all of them.

    With the phase ``names``, the curve marks where each phase but the last ends (``"probe ends"``
    for LP-FT), which :func:`~kgtransfer.plots.learning_curves` draws.
    """
    first = results[0]
    if len(results) == 1:
        return first
    loss, seconds, evals = [], [], []
    best, best_epoch, offset, marks = {}, 0, 0, {}
    for i, r in enumerate(results):
        loss += r.history.loss
        seconds += r.history.seconds
        evals += [{**e, "epoch": e["epoch"] + offset} for e in r.history.evals]
        if r.best and (not best or _not_worse(r.best.get(metric, -1), best.get(metric, -1))):
            best, best_epoch = r.best, r.best_epoch + offset
        offset += r.epochs_run
        if names is not None and i < len(results) - 1:
            marks[f"{names[i]} ends"] = offset
    history = History(loss=loss, seconds=seconds, evals=evals, marks=marks)
    last = results[-1]
    seconds = sum(r.seconds for r in results)
    return FitResult(best, best_epoch, offset, history, last.stopped_early, seconds, last.threads, last.device)


def zero_shot(pretrained: TrainedModel, kg, split=None) -> ZeroShotResult:
    """Evaluate the pretrained model on K without fine-tuning.

    Only the test triples whose head, relation and tail the pretrained model trained are ranked
    (against every entity of the split's vocabulary, K's and the pretrained model's own, filtered by
    all of K's known triples), over K's training message graph. A term it holds but never trained
    (see :func:`~kgtransfer.transfer.weights.source_trained`: only in its valid or test triples) has
    a row that was at most a negative, so its triples are left out too. Returns a
    :class:`~kgtransfer.transfer.results.ZeroShotResult`: the metrics plus ``"evaluated"`` (that many
    triples), ``"untrained"`` (left out: every term known, one never trained) and ``"skipped"``
    (left out: a term unknown to the pretrained model).
    """
    from kgtransfer.data.splits import Split
    from kgtransfer.knowledge.graph import KnowledgeGraph
    from kgtransfer.knowledge.sources import load
    from kgtransfer.tasks.link_prediction import LinkPredictionTask, rank_metrics

    _check_pretrained(pretrained, "zero_shot")
    if not isinstance(kg, Split):
        kg = kg if isinstance(kg, KnowledgeGraph) else load(kg)
    target = target_split(pretrained, kg, kg if isinstance(kg, Split) else split, pretrained.train_config.seed)
    with seeded(pretrained.train_config.seed):  # K's new rows are random: drawn from the run's seed, not the caller's
        every = (  # the pretrained model as it is, each row it holds (trained or not): no fine-tuning follows
            torch.ones(len(pretrained.vocab.entities), dtype=torch.bool),
            torch.ones(len(pretrained.vocab.relations), dtype=torch.bool),
        )  # its untrained rows stay candidates and neighbours; no triple of theirs is ranked (below)
        model, _, _ = build_transferred(pretrained, target, init="random", trained=every)
    test = target.test.tensor
    # by IRI: a split on its own vocabulary need not keep the pretrained ids first
    maps, (ent_untrained, rel_untrained) = row_maps(pretrained.vocab, target.vocab, source_trained(pretrained))
    ent, rel = maps["entity"] >= 0, maps["relation"] >= 0  # known and trained
    ranked = ent[test[:, 0]] & ent[test[:, 2]] & rel[test[:, 1]]
    ent_known, rel_known = ent | ent_untrained, rel | rel_untrained
    known = ent_known[test[:, 0]] & ent_known[test[:, 2]] & rel_known[test[:, 1]]
    task = LinkPredictionTask(target, pretrained.task_config)
    metrics = task.evaluate(model.eval(), triples=test[ranked]) if ranked.any() else rank_metrics(test.new_zeros(0))
    return ZeroShotResult(
        metrics, evaluated=int(ranked.sum()), skipped=int((~known).sum()), untrained=int((known & ~ranked).sum())
    )


def _check_pretrained(pretrained, what: str) -> None:
    """Refuse a model that is not a link-prediction run: transfer reads its vocabularies and configs."""
    if not isinstance(pretrained, TrainedModel):
        raise ConfigError(
            f"{what} transfers from a link-prediction run (kgtransfer.TrainedModel, e.g. from kgt.pretrain), "
            f"got a {type(pretrained).__name__}"
        )
    from kgtransfer.transfer.structure import ComposedEncoder

    if isinstance(pretrained.model.encoder, ComposedEncoder):  # its rows live under encoder.first/.second
        from kgtransfer.errors import IncompatibleModelsError

        raise IncompatibleModelsError(
            f"{what}: the pretrained run is a composition (F1 ⊕ F2 by {pretrained.model.encoder.op!r}); its two "
            "encoders do not move onto one, so nothing would transfer; start from a run with one encoder"
        )


def _check_typing_options(
    strategy, options: FinetuneConfig, kg, split, literals, checkpoint_dir, resume, overwrite
) -> None:
    """Entity typing fine-tunes every parameter from the transferred rows; refuse settings it would ignore."""
    from kgtransfer.data.splits import Split

    if isinstance(kg, Split):
        raise ConfigError("entity typing reads its labels from K's graph; pass K, not a link-prediction Split")
    ignored = [f"strategy={type(strategy).__name__}"] if isinstance(strategy, Strategy) else []
    defaults = FinetuneConfig()
    for name in ("strategy", "options", "compose", "transferred_lr_scale", "l2sp"):
        if getattr(options, name) != getattr(defaults, name):
            ignored.append(f"{name}={getattr(options, name)!r}")
    checkpoints = (("checkpoint_dir", checkpoint_dir), ("resume", resume or None), ("overwrite", overwrite or None))
    for name, value in (("split", split), ("literals", literals), *checkpoints):
        if value is not None:
            ignored.append(name)
    if ignored:
        raise ConfigError(
            f"entity-typing fine-tuning trains every parameter from the transferred rows (strategy 'full'); "
            f"it does not apply {', '.join(ignored)}"
        )


def _finetune_typing(pretrained: TrainedModel, kg, config: TrainConfig, init: str, labels=None):
    """A pretrained link-prediction encoder fine-tuned for entity typing on K."""
    from kgtransfer.knowledge.graph import KnowledgeGraph
    from kgtransfer.knowledge.sources import load
    from kgtransfer.tasks import node_classification
    from kgtransfer.tasks.typing_labels import typing_labels

    kg = kg if isinstance(kg, KnowledgeGraph) else load(kg)
    if labels is None or isinstance(labels, dict):
        label_args = dict(labels or {})
        if "leak_predicates" in label_args:
            label_args["leak_predicates"] = tuple(label_args["leak_predicates"])
        labels = typing_labels(kg, **label_args)
    # the state must be laid out on the exact graph and vocabulary train_entity_typing builds (typing_graph)
    graph, vocab, node_ids = node_classification.typing_graph(labels)
    # the rows the task uses: its message graph's, and every labelled entity's (an isolated one too)
    triples = graph.triples.cpu()
    ends = torch.cat([triples[:, [0, 2]].reshape(-1), node_ids])
    used = (id_mask(ends, len(vocab.entities)), id_mask(triples[:, 1], len(vocab.relations)))
    with seeded(config.seed):  # new rows (random, or from neighbours over random ones) depend on the seed alone
        target_model = LinkPredictor.build(pretrained.model_config, graph.num_nodes, len(vocab.relations))
        trained = source_trained(pretrained)  # a row only in its valid/test triples starts as a new one
        report = transfer_state(
            pretrained.model, pretrained.vocab, target_model, vocab, graph, init, used=used, trained=trained
        )
    for message in report.warnings():
        warnings.warn(message, TransferWarning, stacklevel=3)
    state = copy.deepcopy(target_model.encoder.state_dict())
    result = node_classification.train_entity_typing(
        kg,
        labels,
        model=pretrained.model_config,
        config=config,
        encoder_state=state,
        keep_in_train=labels_seen(pretrained, labels),
    )
    result.report = report
    return result


def labels_seen(pretrained: TrainedModel, labels) -> set[str]:
    """The labelled entities whose labels the pretrained model trained on, outright or through a leak.

    Either a training triple joins the entity and one of its labels (``e rdf:type C``, by any
    predicate, either way round), or the entity is an end of a training triple that the typing task
    removes from K's graph as leaking labels (the label predicate's triples, and those of
    ``leak_predicates``: ``Leaf subClassOf Middle`` when the label is the top class above it). Its
    transferred row holds what the task hides, so it trains, never validates or tests (as a
    link-prediction split keeps such triples in train). A scratch baseline passes the same set to
    :func:`~kgtransfer.tasks.node_classification.train_entity_typing` (``keep_in_train``) to be
    tested on the same entities.
    """
    entities = pretrained.vocab.entities.keys
    index = {key: i for i, key in enumerate(entities)}
    train = pretrained.split.train.tensor.numpy()
    n = len(entities)
    pairs = np.concatenate([train[:, 0] * n + train[:, 2], train[:, 2] * n + train[:, 0]])
    asked, owner = [], []
    for k, (entity, classes) in enumerate(zip(labels.entities, labels.labels, strict=True)):
        e = index.get(entity)
        for c in classes if e is not None else ():
            if c in index:
                asked.append(e * n + index[c])
                owner.append(k)
    hit = np.isin(np.asarray(asked, dtype=np.int64), pairs)
    seen = {labels.entities[k] for k in np.asarray(owner)[hit].tolist()} if asked else set()
    return seen | _leaks_trained_on(pretrained, labels)


def _leaks_trained_on(pretrained: TrainedModel, labels) -> set[str]:
    """The labelled entities at an end of a triple of ``labels.leaks`` that the pretrained model trained on."""
    leaks = getattr(labels, "leaks", None)
    if leaks is None or not len(leaks):
        return set()
    vocab = pretrained.vocab
    rows = leaks.terms[leaks.triples]  # canonical (s, p, o) strings of the hidden triples
    heads = vocab.entities.index(rows[:, 0], missing="ignore")
    relations = vocab.relations.index(rows[:, 1], missing="ignore")
    tails = vocab.entities.index(rows[:, 2], missing="ignore")
    known = (heads >= 0) & (relations >= 0) & (tails >= 0)
    n, r = len(vocab.entities), max(len(vocab.relations), 1)
    train = pretrained.split.train.tensor.numpy().astype(np.int64)
    trained = (train[:, 0] * r + train[:, 1]) * n + train[:, 2]
    asked = (heads[known] * r + relations[known]) * n + tails[known]
    hit = np.flatnonzero(known)[np.isin(asked, trained)]
    labelled = set(labels.entities)
    return {term for term in rows[hit][:, [0, 2]].ravel().tolist() if term in labelled}


__all__ = ["build_transferred", "finetune", "pretrain", "run_strategy", "target_split", "zero_shot"]
