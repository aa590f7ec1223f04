"""``kgtransfer.train``: a model trained on a knowledge graph, as a result object that saves and loads itself."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import torch

from kgtransfer.engine import FitResult, History, TrainConfig, fit, save_json
from kgtransfer.models.link_predictor import LinkPredictor, ModelConfig
from kgtransfer.report import format_table


def make_split(kg, split=None, seed: int = 0):
    """A :class:`~kgtransfer.data.splits.Split` of ``kg``.

    Args:
        kg: a KnowledgeGraph.
        split: a Split (returned as is), ``"given"`` (from train/valid/test provenance sources),
            ``"random"``, or ratios ``(train, valid, test)`` (default: given when ``kg`` has split
            sources, else random 0.8/0.1/0.1).
        seed: the seed of a random split (default: 0).
    """
    from kgtransfer.data.splits import Split, given_split, random_split

    if isinstance(split, Split):
        return split
    if split is None:
        has_given = any(s.rsplit("/", 1)[-1] in ("train", "valid", "validation", "test") for s in kg.sources)
        split = "given" if has_given else "random"
    if split == "given":
        return given_split(kg)
    if split == "random":
        return random_split(kg, seed=seed)
    return random_split(kg, ratios=tuple(split), seed=seed)


class TrainedModel:
    """A trained link predictor with everything needed to evaluate, save, reload and transfer it.

    Attributes:
        model: the :class:`LinkPredictor` (at its best validation epoch).
        split: the data it was trained and evaluated on (its vocabularies key rows by IRI).
        model_config: encoder, decoder, sizes.
        train_config: the training settings.
        fit: the learning curve and best validation metrics (None for a loaded model).
        test: test metrics at the best validation epoch.
        info: extra JSON-ready facts (e.g. transfer counts, strategy).
    """

    def __init__(
        self,
        model: LinkPredictor,
        split,
        model_config: ModelConfig,
        train_config: TrainConfig,
        fit: FitResult | None = None,
        task_options: dict | None = None,
        info: dict | None = None,
    ):
        from kgtransfer.tasks.link_prediction import LinkPredictionTask

        self.model = model
        self.split = split
        self.model_config = model_config
        self.train_config = train_config
        self.fit = fit
        self.task_options = dict(task_options or {})
        self.task = LinkPredictionTask(split, **self.task_options)
        self.info = dict(info or {})
        self.test = self.evaluate("test")

    @property
    def vocab(self):
        """Entity and relation vocabularies (IRI-keyed)."""
        return self.split.vocab

    def evaluate(self, split: str = "test") -> dict:
        """Filtered MRR, Hits@1/3/10, MR on ``"valid"`` or ``"test"``."""
        device = next(self.model.parameters()).device
        return self.task.to(device).evaluate(self.model, split)

    def freeze(self) -> TrainedModel:
        """Freeze every parameter (for structure transfer with a frozen F1); returns self."""
        for p in self.model.parameters():
            p.requires_grad_(False)
        return self

    # --- display ------------------------------------------------------------------------------

    def summary(self) -> str:
        """A table of validation and test metrics."""
        keys = ["mrr", "hits@1", "hits@3", "hits@10", "mr"]
        rows = []
        if self.fit is not None and self.fit.best:
            rows.append(["valid (best)", *[self.fit.best[k] for k in keys]])
        rows.append(["test", *[self.test[k] for k in keys]])
        mc = self.model_config
        title = f"{mc.encoder}+{mc.decoder} (dim {mc.dim}) on {self.split!r}"
        if self.fit is not None:
            per_epoch = sum(self.fit.history.seconds) / max(len(self.fit.history.seconds), 1)
            title += f"\nbest epoch {self.fit.best_epoch} of {self.fit.epochs_run}, {per_epoch:.3f} s/epoch"
        return format_table(rows, ["split", *keys], title=title)

    def __repr__(self) -> str:
        mc = self.model_config
        return (
            f"TrainedModel({mc.encoder}+{mc.decoder}, dim={mc.dim}, entities={self.split.num_entities}, "
            f"relations={self.split.num_relations}, test_mrr={self.test['mrr']:.4f})"
        )

    __str__ = summary

    # --- persistence -------------------------------------------------------------------------------

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the run to ``directory``.

        Files: ``checkpoint/`` (safetensors + meta), ``metrics.json``, ``config.json``, ``split/``,
        ``curve.csv`` and ``curve.png`` (when matplotlib is installed).
        """
        from kgtransfer.checkpoint import save_checkpoint

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        config = {
            "model": self.model_config.to_json(),
            "train": self.train_config.to_json(),
            "task": self.task_options,
            "info": self.info,
        }
        save_checkpoint(directory / "checkpoint", self.model.state_dict(), config)
        self.split.save(directory / "split")
        save_json(directory / "config.json", config)
        save_run_metrics(directory, {"test": scalar_metrics(self.test)}, self.fit)
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike, device: str = "cpu") -> TrainedModel:
        """Reload a saved model (weights via safetensors: no code runs on load)."""
        from kgtransfer.checkpoint import load_checkpoint
        from kgtransfer.data.splits import Split

        directory = Path(directory)
        tensors, meta, _ = load_checkpoint(directory / "checkpoint", device)
        split = Split.load(directory / "split")
        model_config = ModelConfig.from_json(meta["model"])
        model = LinkPredictor.build(model_config, split.num_entities, split.num_relations)
        info = meta.get("info") or {}
        if info.get("compose"):  # structure transfer: two encoders of the same config
            from kgtransfer.transfer.structure import ComposedEncoder

            second = LinkPredictor.build(model_config, split.num_entities, split.num_relations).encoder
            model.encoder = ComposedEncoder(model.encoder, second, info["compose"])
        if any(k.startswith("head.") for k in tensors):  # a linear-probe head
            model.head = torch.nn.Linear(model_config.dim, model_config.dim)
        model.load_state_dict(tensors)
        return cls(
            model.to(device).eval(),
            split,
            model_config,
            TrainConfig.from_json(meta["train"]),
            None,
            meta.get("task"),
            meta.get("info"),
        )


def scalar_metrics(metrics: dict) -> dict:
    """The JSON-ready numbers of a metrics dict (per-side sub-dicts dropped)."""
    return {k: v for k, v in metrics.items() if isinstance(v, int | float | bool)}


def save_run_metrics(directory: Path, metrics: dict, fit: FitResult | None, metric: str = "mrr") -> None:
    """Write ``metrics.json`` (with the fit's best validation metrics and epochs) and ``curve.csv``/``curve.png``."""
    from kgtransfer.knowledge.io import atomic_write_text

    metrics = dict(metrics)
    if fit is not None:
        metrics.update(
            valid=scalar_metrics(fit.best),
            best_epoch=fit.best_epoch,
            epochs_run=fit.epochs_run,
            stopped_early=fit.stopped_early,
            seconds=fit.seconds,
        )
        atomic_write_text(directory / "curve.csv", fit.history.to_csv())
        plot_curves({"train": fit.history}, directory / "curve.png", metric=metric)
    save_json(directory / "metrics.json", metrics)


def plot_curves(histories: dict[str, History], path: str | os.PathLike, metric: str = "mrr") -> Path | None:
    """Learning curves as PNG (see :func:`kgtransfer.plots.learning_curves`)."""
    from kgtransfer.plots import learning_curves

    return learning_curves(histories, path, metric)


def train(
    source,
    model: ModelConfig | None = None,
    config: TrainConfig | None = None,
    *,
    encoder: str | None = None,
    decoder: str | None = None,
    dim: int | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    seed: int | None = None,
    split=None,
    loss: str = "1-n",
    label_smoothing: float = 0.1,
    regularizer: str | None = None,
    regularization_weight: float = 0.0,
    reciprocal: bool | None = None,
    model_dropout: float | None = None,
    mode: str = "auto",
    fanouts: list[int] | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
) -> TrainedModel:
    """Train a link predictor on a knowledge graph (or a prepared split) from scratch.

    Args:
        source: a KnowledgeGraph, anything :func:`kgtransfer.load` accepts, or a Split.
        model: the :class:`ModelConfig` (default: R-GCN + DistMult, dim 200).
        config: the :class:`TrainConfig` (default: its defaults).
        encoder: shortcut for ``model.encoder``.
        decoder: shortcut for ``model.decoder``.
        dim: shortcut for ``model.dim``.
        epochs: shortcut for ``config.epochs``.
        lr: shortcut for ``config.lr``.
        seed: shortcut for ``config.seed`` (also seeds a random split).
        split: see :func:`make_split` (default: given or random).
        loss: ``"1-n"`` or ``"negative-sampling"`` (default: ``"1-n"``).
        label_smoothing: of the 1-N loss (default: 0.1).
        regularizer: :obj:`None`, ``"n3"`` or ``"l2"`` on the batch's entity and relation rows (see
            :class:`~kgtransfer.tasks.link_prediction.LinkPredictionTask`) (default: :obj:`None`).
        regularization_weight: its weight (default: 0.0).
        reciprocal: shortcut for ``model.reciprocal``, inverse-relation head scoring (default: the model's).
        model_dropout: shortcut for ``model.dropout`` on entity representations (default: the model's).
        mode: how a step uses the graph: ``"auto"``, ``"batch"``, ``"full"`` or ``"sampled"`` (see
            :class:`~kgtransfer.tasks.link_prediction.LinkPredictionTask`; default ``"auto"``: full-batch
            message passing on graphs whose full step fits in memory, neighbour-sampled mini-batches above).
        fanouts: edges per node and hop of sampled steps (default: 10 per encoder layer).
        checkpoint_dir: where to keep ``last``/``best`` checkpoints for ``resume`` (default: none).
        resume: continue a killed run from ``checkpoint_dir`` (default: False).
    """
    from kgtransfer.data.splits import Split
    from kgtransfer.knowledge.graph import KnowledgeGraph
    from kgtransfer.knowledge.sources import load
    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    model_config = replace(
        model or ModelConfig(),
        **_given(encoder=encoder, decoder=decoder, dim=dim, reciprocal=reciprocal, dropout=model_dropout),
    )
    train_config = replace(config or TrainConfig(), **_given(epochs=epochs, lr=lr, seed=seed))
    if not isinstance(source, Split):
        kg = source if isinstance(source, KnowledgeGraph) else load(source)
        source = make_split(kg, split, train_config.seed)
    task_options = {"loss": loss, "label_smoothing": label_smoothing}
    if regularizer is not None:  # only when set, so configs saved before these options stay identical
        task_options.update(regularizer=regularizer, regularization_weight=regularization_weight)
    if mode != "auto" or fanouts is not None:
        task_options.update(mode=mode, fanouts=None if fanouts is None else list(fanouts))
    torch.manual_seed(train_config.seed)
    net = LinkPredictor.build(model_config, source.num_entities, source.num_relations)
    task = LinkPredictionTask(source, **task_options)
    result = fit(net, task, train_config, checkpoint_dir=checkpoint_dir, resume=resume)
    return TrainedModel(net, source, model_config, train_config, result, task_options)


def _given(**values) -> dict:
    return {k: v for k, v in values.items() if v is not None}
