r"""Pretrain on K1, fine-tune on K: weights moved by IRI, then one of several strategies.

Strategies (``strategy=``):

- ``"full"``: every parameter trains at ``lr``.
- ``"linear-probe"``: the encoder is frozen; a new linear head on its entity representations
  (initialized to the identity) and the relation vectors (the decoder's side) train.
- ``"lp-ft"``: linear probe for ``probe_epochs``, then everything at ``lr * ft_lr_scale``
  (Kumar et al. 2022: probing first keeps features from being distorted by a random head).
- ``"freeze-N"`` (e.g. ``"freeze-1"``): the entity rows and the first N message-passing layers
  are frozen; the rest trains.

Orthogonal options: ``transferred_lr_scale`` (a discriminative learning rate: rows and parameters
that were transferred move at ``lr * scale``, new ones at ``lr``), ``l2sp`` (a penalty
:math:`\lambda \lVert \theta - \theta_{\text{pretrained}} \rVert^2` over transferred values, L2-SP,
Li et al. 2018) and ``compose`` (structure transfer: the transferred encoder :math:`F_1` is
composed with a new :math:`F_2`; see :mod:`kgtransfer.transfer.structure`).
"""

from __future__ import annotations

import copy
import re
import warnings
from dataclasses import replace

import torch
from torch import Tensor, nn

from kgtransfer.engine import TrainConfig, fit
from kgtransfer.errors import TransferWarning
from kgtransfer.models.link_predictor import LinkPredictor, ModelConfig
from kgtransfer.training import TrainedModel, train
from kgtransfer.transfer.weights import TransferReport, index_map, row_kind, transfer_state

STRATEGIES = ("full", "linear-probe", "lp-ft", "freeze-N")


def pretrain(source, task: str = "link_prediction", **kwargs) -> TrainedModel:
    """Pretrain on K1: :func:`kgtransfer.train` for link prediction (same arguments).

    The result carries its vocabularies and config, saves and loads as a checkpoint, and is what
    :func:`finetune`, :func:`~kgtransfer.transfer.parameter.interpolate` and
    :func:`~kgtransfer.transfer.structure.compose` take.
    """
    if task not in ("link_prediction", "link-prediction"):
        raise ValueError(f"pretraining supports task='link_prediction', got {task!r}")
    return train(source, **kwargs)


def target_split(pretrained: TrainedModel, kg, split=None, seed: int = 0):
    """K's split over the pretrained vocabularies *extended* by K's terms, so transferred ids stay put.

    The split never evaluates on what the pretrained model trained on: a random split draws valid
    and test only from K's triples outside the pretraining run's training triples
    (:func:`~kgtransfer.data.splits.transfer_split`), and a given split moves such triples to
    train (:func:`~kgtransfer.data.splits.keep_in_train`).

    Args:
        pretrained: the pretrained run.
        kg: the target graph K.
        split: a Split (returned as is, e.g. a scratch run's for a like-for-like comparison), a saved
            split or run directory, ``"given"``, ``"random"`` or ratios ``(train, valid, test)``
            (default: given when K has split sources, else random).
        seed: the seed of a random split (default: 0).
    """
    from kgtransfer.data.splits import Split, given_split, keep_in_train, load_split, transfer_split

    if isinstance(split, Split):
        return split
    loaded = load_split(split)
    if loaded is not None:
        return loaded
    vocab = pretrained.vocab.extend(kg)
    if split is None:
        has_given = any(s.rsplit("/", 1)[-1] in ("train", "valid", "validation", "test") for s in kg.sources)
        split = "given" if has_given else "random"
    if split == "given":
        return keep_in_train(given_split(kg, vocab=vocab), pretrained.split.train)
    ratios = (0.8, 0.1, 0.1) if split == "random" else tuple(split)
    return transfer_split(kg, pretrained.split.train, ratios=ratios, seed=seed, vocab=vocab)


def build_transferred(
    pretrained: TrainedModel, split, init: str = "neighbors", compose: str | None = None, freeze_source: bool = True
) -> tuple[LinkPredictor, TransferReport, dict[str, Tensor]]:
    """A model over ``split``'s vocabulary holding ``pretrained``'s weights (by IRI), and which rows transferred.

    Returns:
        ``(model, report, transferred)`` where ``transferred[name]`` is a bool row mask (or a 0-d
        True for whole shared parameters) of what came from the pretrained model.
    """
    config = pretrained.model_config
    model = LinkPredictor.build(config, split.num_entities, split.num_relations)
    graph = split.message_graph()
    rows = torch.cat([split.train.tensor, split.valid.tensor, split.test.tensor])
    used = (_mask(rows[:, [0, 2]], split.num_entities), _mask(rows[:, 1], split.num_relations))
    report = transfer_state(pretrained.model, pretrained.vocab, model, split.vocab, graph, init, used)
    evaluated = _mask(torch.cat([split.valid.tensor, split.test.tensor])[:, [0, 2]], split.num_entities)
    known = torch.from_numpy(index_map(pretrained.vocab.entities.keys, split.vocab.entities.keys)) >= 0
    report.eval_entities, report.eval_entities_transferred = int(evaluated.sum()), int((evaluated & known).sum())
    for message in report.warnings():
        warnings.warn(message, TransferWarning, stacklevel=3)
    transferred = _transferred_masks(model, pretrained, split, report)
    if compose is not None:
        from kgtransfer.transfer.structure import ComposedEncoder

        first = model.encoder
        if freeze_source:
            for p in first.parameters():
                p.requires_grad_(False)
        fresh = LinkPredictor.build(config, split.num_entities, split.num_relations).encoder
        model.encoder = ComposedEncoder(first, fresh, compose)
        transferred = {
            f"encoder.first.{k[len('encoder.') :]}": v for k, v in transferred.items() if k.startswith("encoder.")
        }
    return model, report, transferred


def _mask(ids: Tensor, n: int) -> Tensor:
    out = torch.zeros(n, dtype=torch.bool)
    out[ids.reshape(-1)] = True
    return out


def _transferred_masks(model: nn.Module, pretrained: TrainedModel, split, report: TransferReport) -> dict:
    ent = torch.from_numpy(index_map(pretrained.vocab.entities.keys, split.vocab.entities.keys)) >= 0
    rel = torch.from_numpy(index_map(pretrained.vocab.relations.keys, split.vocab.relations.keys)) >= 0
    edge = torch.stack([rel, rel], 1).reshape(-1)
    out = {}
    for name, _ in model.named_parameters():
        kind = row_kind(model, name)
        if kind is not None:
            out[name] = {"entity": ent, "relation": rel, "edge_type": edge}[kind]
        elif name in report.parameters_copied:
            out[name] = torch.tensor(True)
    return out


def finetune(
    pretrained: TrainedModel,
    kg,
    task: str = "link_prediction",
    strategy: str = "full",
    *,
    init: str = "neighbors",
    split=None,
    config: TrainConfig | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    seed: int | None = None,
    probe_epochs: int | None = None,
    ft_lr_scale: float = 0.1,
    transferred_lr_scale: float = 1.0,
    l2sp: float = 0.0,
    compose: str | None = None,
    freeze_source: bool = True,
    **task_kwargs,
):
    """Fine-tune a pretrained model on the (merged) graph K.

    Args:
        pretrained: the result of :func:`pretrain` (or :func:`kgtransfer.train`).
        kg: the target graph K (a KnowledgeGraph or anything :func:`kgtransfer.load` accepts), or a Split.
        task: ``"link_prediction"`` or ``"entity_typing"`` (default: ``"link_prediction"``).
        strategy: ``"full"``, ``"linear-probe"``, ``"lp-ft"`` or ``"freeze-N"`` (default: ``"full"``).
        init: new rows from transferred neighbours (``"neighbors"``) or random (default: ``"neighbors"``).
        split: K's split (see :func:`target_split`; default: given or random, over the extended vocabulary).
        config: training settings (default: the pretrained run's).
        epochs: shortcut for ``config.epochs``.
        lr: shortcut for ``config.lr``.
        seed: shortcut for ``config.seed``.
        probe_epochs: epochs of the probe phase of ``"lp-ft"`` (default: a quarter of ``epochs``).
        ft_lr_scale: the full phase of ``"lp-ft"`` runs at ``lr * ft_lr_scale`` (default: 0.1).
        transferred_lr_scale: transferred values move at ``lr * scale`` (default: 1.0, no change).
        l2sp: weight of the L2-SP penalty toward the pretrained values (default: 0, off).
        compose: ``"sum"``, ``"concat"`` or ``"gate"`` to compose the transferred encoder with a new
            one (structure transfer) (default: None).
        freeze_source: with ``compose``, freeze the transferred encoder (default: True).
        **task_kwargs: for ``task="entity_typing"``: the arguments of
            :func:`kgtransfer.tasks.node_classification.train_entity_typing` (``query=``, ``predicate=``, ...).

    Returns:
        A :class:`~kgtransfer.training.TrainedModel` (link prediction) whose ``info`` holds the
        transfer report and strategy, or an entity-typing result.
    """
    from kgtransfer.data.splits import Split
    from kgtransfer.knowledge.graph import KnowledgeGraph
    from kgtransfer.knowledge.sources import load
    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    train_config = replace(config or pretrained.train_config, **_given(epochs=epochs, lr=lr, seed=seed))
    if task in ("entity_typing", "entity-typing", "node_classification"):
        return _finetune_typing(pretrained, kg, train_config, init, **task_kwargs)
    if task not in ("link_prediction", "link-prediction"):
        raise ValueError(f"task must be 'link_prediction' or 'entity_typing', got {task!r}")
    if not isinstance(kg, Split):
        kg = kg if isinstance(kg, KnowledgeGraph) else load(kg)
    target = target_split(pretrained, kg, split if not isinstance(kg, Split) else kg, train_config.seed)
    torch.manual_seed(train_config.seed)
    model, report, transferred = build_transferred(pretrained, target, init, compose, freeze_source)
    task_options = dict(pretrained.task_options)
    lp_task = LinkPredictionTask(target, **task_options)
    if l2sp > 0:
        lp_task = _L2SPTask(lp_task, model, transferred, l2sp)
    strategy_name = strategy.lower()
    history = {}
    if strategy_name in ("linear-probe", "lp-ft"):
        probe_cfg = train_config
        if strategy_name == "lp-ft":
            probe_cfg = replace(train_config, epochs=probe_epochs or max(train_config.epochs // 4, 1))
        _set_probe(model)
        result = _fit(model, lp_task, probe_cfg, transferred, transferred_lr_scale)
        history["probe"] = result
        if strategy_name == "lp-ft":
            for p in model.parameters():
                p.requires_grad_(True)
            if compose is not None and freeze_source:
                for p in model.encoder.first.parameters():
                    p.requires_grad_(False)
            ft_cfg = replace(
                train_config, lr=train_config.lr * ft_lr_scale, epochs=max(train_config.epochs - probe_cfg.epochs, 1)
            )
            result = _fit(model, lp_task, ft_cfg, transferred, transferred_lr_scale, seed_offset=1)
            result = _join(history["probe"], result)
    elif strategy_name == "full":
        result = _fit(model, lp_task, train_config, transferred, transferred_lr_scale)
    elif (m := re.fullmatch(r"freeze[-=_ ]?(\d+)", strategy_name)) is not None:
        _freeze_layers(model, int(m.group(1)))
        result = _fit(model, lp_task, train_config, transferred, transferred_lr_scale)
    else:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {STRATEGIES}")
    info = {
        "strategy": strategy,
        "init": init,
        "transfer": report.as_dict(),
        "compose": compose,
        "transferred_lr_scale": transferred_lr_scale,
        "l2sp": l2sp,
    }
    model_config = pretrained.model_config
    out = TrainedModel(model, target, model_config, train_config, result, task_options, info)
    out.report = report
    return out


def _given(**values) -> dict:
    return {k: v for k, v in values.items() if v is not None}


def _set_probe(model: LinkPredictor) -> None:
    """Freeze everything but a new identity-initialized linear head and the relation vectors."""
    for p in model.parameters():
        p.requires_grad_(False)
    dim = model.encoder.dim
    head = nn.Linear(dim, dim)
    with torch.no_grad():
        head.weight.copy_(torch.eye(dim))
        head.bias.zero_()
    model.head = head.to(next(model.encoder.parameters()).device)
    for name, p in model.named_parameters():
        if name.startswith("head.") or name.endswith(("relation_embedding.weight",)):
            p.requires_grad_(True)


def _freeze_layers(model: LinkPredictor, n: int) -> None:
    """Freeze the entity rows and the first ``n`` message-passing layers."""
    encoder = model.encoder
    encoder.entity_embedding.weight.requires_grad_(False)
    for layer in list(getattr(encoder, "convs", []))[:n]:
        for p in layer.parameters():
            p.requires_grad_(False)


def _fit(model, task, config, transferred, scale, seed_offset: int = 0):
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("this strategy leaves no parameter to train")
    from kgtransfer.engine import OPTIMIZERS

    optimizer = OPTIMIZERS[config.optimizer](params, lr=config.lr, weight_decay=config.weight_decay)
    if scale != 1.0:
        _discriminative(optimizer, model, transferred, scale)
    return fit(model, task, replace(config, seed=config.seed + seed_offset), optimizer=optimizer)


def _discriminative(optimizer: torch.optim.Optimizer, model: nn.Module, transferred: dict, scale: float) -> None:
    r"""Scale each step of transferred rows/parameters by ``scale`` (an effective lr of ``lr * scale``).

    Adam's step does not scale with the gradient, so the update itself is blended:
    :math:`\theta \leftarrow \theta_{\text{old}} + s\,(\theta_{\text{new}} - \theta_{\text{old}})` on transferred rows.
    """
    tracked = [
        (p, transferred[name]) for name, p in model.named_parameters() if name in transferred and p.requires_grad
    ]
    saved: list[Tensor] = []

    def before(opt, args, kwargs):
        saved.clear()
        saved.extend(p.detach().clone() for p, _ in tracked)

    def after(opt, args, kwargs):
        with torch.no_grad():
            for (p, mask), old in zip(tracked, saved, strict=True):
                blended = old + scale * (p - old)
                if mask.dim() == 0:
                    p.copy_(blended)
                else:
                    p[mask.to(p.device)] = blended[mask.to(p.device)]

    optimizer.register_step_pre_hook(before)
    optimizer.register_step_post_hook(after)


class _L2SPTask:
    r"""Wraps a task, adding :math:`\lambda \sum \lVert \theta - \theta_0 \rVert^2` over transferred values."""

    def __init__(self, task, model: nn.Module, transferred: dict, weight: float):
        self.task, self.weight = task, weight
        self.metric = task.metric
        params = dict(model.named_parameters())
        self.anchors = [(params[n], params[n].detach().clone(), m) for n, m in transferred.items() if n in params]

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


def _join(first, second):
    """One learning curve from the probe and full phases of LP-FT."""
    from kgtransfer.engine import FitResult, History

    offset = first.epochs_run
    history = History(
        loss=first.history.loss + second.history.loss,
        seconds=first.history.seconds + second.history.seconds,
        evals=first.history.evals + [{**e, "epoch": e["epoch"] + offset} for e in second.history.evals],
        marks={"probe ends": offset},
    )
    best_first = first.best.get("mrr", -1) if first.best else -1
    if second.best and second.best.get("mrr", -1) >= best_first:
        best, best_epoch = second.best, second.best_epoch + offset
    else:
        best, best_epoch = first.best, first.best_epoch
    return FitResult(
        best, best_epoch, offset + second.epochs_run, history, second.stopped_early, first.seconds + second.seconds
    )


def zero_shot(pretrained: TrainedModel, kg, split=None) -> dict:
    """Evaluate the pretrained model on K without fine-tuning.

    Only the test triples whose head, relation and tail the pretrained model knows are ranked
    (against all of K's entities, filtered by all of K's known triples), over K's training message
    graph. Returns the metrics plus ``"evaluated"`` (that many triples) and ``"skipped"``.
    """
    from kgtransfer.data.splits import Split
    from kgtransfer.knowledge.graph import KnowledgeGraph
    from kgtransfer.knowledge.sources import load
    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    if not isinstance(kg, Split):
        kg = kg if isinstance(kg, KnowledgeGraph) else load(kg)
    target = target_split(pretrained, kg, kg if isinstance(kg, Split) else split, pretrained.train_config.seed)
    model, _, _ = build_transferred(pretrained, target, init="random")
    test = target.test.tensor
    known = (
        (test[:, 0] < len(pretrained.vocab.entities))
        & (test[:, 2] < len(pretrained.vocab.entities))
        & (test[:, 1] < len(pretrained.vocab.relations))
    )
    task = LinkPredictionTask(target, **pretrained.task_options)
    metrics = task.evaluate(model.eval(), triples=test[known]) if known.any() else {"mrr": float("nan")}
    return {**metrics, "evaluated": int(known.sum()), "skipped": int((~known).sum())}


def _finetune_typing(pretrained: TrainedModel, kg, config: TrainConfig, init: str, **kwargs):
    """A pretrained link-prediction encoder fine-tuned for entity typing on K."""
    from kgtransfer.knowledge.graph import KnowledgeGraph
    from kgtransfer.knowledge.sources import load
    from kgtransfer.tasks.node_classification import train_entity_typing, typing_graph
    from kgtransfer.tasks.typing_labels import typing_labels

    kg = kg if isinstance(kg, KnowledgeGraph) else load(kg)
    labels = kwargs.pop("labels", None)
    if labels is None:
        label_args = {k: kwargs.pop(k) for k in ("predicate", "query", "leak_predicates", "keep") if k in kwargs}
        if "leak_predicates" in label_args:
            label_args["leak_predicates"] = tuple(label_args["leak_predicates"])
        labels = typing_labels(kg, **label_args)
    # the state must be laid out on the exact graph and vocabulary train_entity_typing builds (typing_graph)
    graph, vocab, _ = typing_graph(labels)
    target_model = LinkPredictor.build(pretrained.model_config, graph.num_nodes, len(vocab.relations))
    report = transfer_state(pretrained.model, pretrained.vocab, target_model, vocab, graph, init)
    state = copy.deepcopy(target_model.encoder.state_dict())
    model_config = kwargs.pop("model", None) or pretrained.model_config
    result = train_entity_typing(kg, labels, model=model_config, config=config, encoder_state=state, **kwargs)
    result.report = report
    return result


__all__ = ["STRATEGIES", "ModelConfig", "build_transferred", "finetune", "pretrain", "target_split", "zero_shot"]
