"""``kgtransfer.train``: a model trained on a knowledge graph, as a result object that saves and loads itself."""

from __future__ import annotations

import math
import os
import warnings
from dataclasses import fields, replace
from pathlib import Path

import torch

from kgtransfer.config import ModelConfig, TaskConfig, TrainConfig, expect, given
from kgtransfer.engine import FitResult, History, fit
from kgtransfer.files import atomic_write_text, save_json
from kgtransfer.models.link_predictor import LinkPredictor
from kgtransfer.report import format_table
from kgtransfer.rng import seeded


def make_split(kg, split=None, seed: int = 0, literals: str | None = None):
    """A :class:`~kgtransfer.data.splits.Split` of ``kg``.

    Args:
        kg: a KnowledgeGraph.
        split: a Split (returned as is; a warning says when it is not a split of ``kg``), a saved split or
            run directory (to compare runs on one split), ``"given"`` (from train/valid/test provenance sources, see
            :func:`~kgtransfer.data.splits.has_given_split`), ``"random"``, or ratios
            ``(train, valid, test)`` (default: given when ``kg`` has split sources, else random
            0.8/0.1/0.1).
        seed: the seed of a random split (default: 0).
        literals: the literal policy of a split made here, ``"drop"``, ``"nodes"`` or ``"features"``
            (see :mod:`~kgtransfer.data.tensorize`); a Split or saved split made with another one is
            refused (ConfigError) (default: :obj:`None`, ``"drop"`` for a split made here, a given
            one's own).
    """
    from kgtransfer.data.splits import (
        given_split,
        has_given_split,
        random_split,
        split_given,
    )

    ready = split_given(split, kg, literals)
    if ready is not None:
        return ready
    literals = literals or "drop"
    if split is None:
        split = "given" if has_given_split(kg) else "random"
    if split == "given":
        return given_split(kg, literals=literals)
    ratios = (0.8, 0.1, 0.1) if split == "random" else tuple(split)
    return random_split(kg, ratios=ratios, seed=seed, literals=literals)


class Evaluated:
    """Evaluation of a result with a ``model`` and a ``task``, the test metrics kept once computed."""

    _test: dict | None = None

    @property
    def test(self) -> dict:
        """Test metrics at the best validation epoch (evaluated when first asked for, then kept)."""
        if self._test is None:
            self._test = self.evaluate("test")
        return self._test

    def evaluate(self, split: str = "test") -> dict:
        """The task's metrics on ``split`` (link prediction: filtered MRR, Hits@1/3/10, MR), on the model's device.

        A split with nothing to evaluate gives NaN metrics, with a warning that says so.
        """
        if split not in ("train", "valid", "test"):
            from kgtransfer.config import ConfigError

            raise ConfigError(f"unknown split {split!r}; choose from train, valid, test")
        metrics = self.task.evaluate(self.model, split)
        numbers = [v for v in metrics.values() if isinstance(v, float)]
        if numbers and all(math.isnan(v) for v in numbers):
            warnings.warn(f"the {split} split holds nothing to evaluate: its metrics are NaN", stacklevel=2)
        return metrics


class TrainedModel(Evaluated):
    """A trained link predictor with everything needed to evaluate, save, reload and transfer it.

    Attributes:
        model: the :class:`LinkPredictor` (at its best validation epoch).
        split: the data it was trained and evaluated on (its vocabularies key rows by IRI).
        model_config: encoder, decoder, sizes.
        train_config: the training settings.
        fit: the learning curve and best validation metrics (a loaded model's from its saved
            ``metrics.json`` and ``curve.csv``; None without them).
        task_config: the loss and regularizer it was trained with.
        test: test metrics at the best validation epoch (computed on first access).
        info: extra JSON-ready facts (e.g. strategy, transfer counts).
        report: the :class:`~kgtransfer.transfer.weights.TransferReport` of a fine-tuned model (else None).
    """

    def __init__(
        self,
        model: LinkPredictor,
        split,
        model_config: ModelConfig,
        train_config: TrainConfig,
        fit: FitResult | None = None,
        task_config: TaskConfig | None = None,
        info: dict | None = None,
        report=None,
    ):
        self.model = model
        self.split = split
        self.model_config = model_config
        self.train_config = train_config
        self.fit = fit
        self.task_config = task_config or TaskConfig()
        self.info = dict(info or {})
        self.report = report
        self._task = None
        self._test: dict | None = None

    @property
    def task(self):
        """The :class:`~kgtransfer.tasks.link_prediction.LinkPredictionTask` (built when first needed)."""
        if self._task is None:
            from kgtransfer.tasks.link_prediction import LinkPredictionTask

            self._task = LinkPredictionTask(self.split, self.task_config)
        return self._task

    @property
    def vocab(self):
        """Entity and relation vocabularies (IRI-keyed)."""
        return self.split.vocab

    def freeze(self) -> TrainedModel:
        """Freeze every parameter (for structure transfer with a frozen F1); returns self."""
        for p in self.model.parameters():
            p.requires_grad_(False)
        return self

    def predict(
        self, *, head=None, relation=None, tail=None, k: int = 10, filter_known: bool = False, graph_only: bool = False
    ):
        """Top-``k`` tails of ``(head, relation, ?)`` or heads of ``(?, relation, tail)`` by IRI.

        See :func:`kgtransfer.tasks.prediction.predict_target`.
        """
        from kgtransfer.tasks.prediction import predict_target

        return predict_target(
            self, head=head, relation=relation, tail=tail, k=k, filter_known=filter_known, graph_only=graph_only
        )

    def embeddings(self) -> dict:
        """Entity and relation vectors by IRI (see :func:`kgtransfer.tasks.prediction.embeddings`)."""
        from kgtransfer.tasks.prediction import embeddings

        return embeddings(self)

    # --- display ------------------------------------------------------------------------------

    def summary(self, evaluate: bool = True) -> str:
        """A table of validation and test metrics; ``evaluate=False`` leaves out a test not yet evaluated.

        ``str(model)`` (``print``, logging) is ``summary(evaluate=False)``: it never starts an evaluation.
        """
        keys = ["mrr", "hits@1", "hits@3", "hits@10", "mr"]
        rows = []
        if self.fit is not None and self.fit.best:
            rows.append(["valid (best)", *[self.fit.best[k] for k in keys]])
        tested = evaluate or self._test is not None
        if tested:
            rows.append(["test", *[self.test[k] for k in keys]])
        mc = self.model_config
        title = f"{mc.encoder}+{mc.decoder} (dim {mc.dim}) on {self.split!r}"
        if self.fit is not None:
            per_epoch = sum(self.fit.history.seconds) / max(len(self.fit.history.seconds), 1)
            title += f"\nbest epoch {self.fit.best_epoch} of {self.fit.epochs_run}, {per_epoch:.3f} s/epoch"
        table = format_table(rows, ["split", *keys], title=title)
        return table if tested else table + "\n(test not evaluated yet: model.test or model.summary() evaluates it)"

    def __repr__(self) -> str:
        mc = self.model_config
        if self._test is not None:
            score = f"test_mrr={self._test['mrr']:.4f}"
        elif self.fit is not None and self.fit.best:
            score = f"valid_mrr={self.fit.best.get('mrr', float('nan')):.4f}"
        else:
            score = "not evaluated"
        return (
            f"TrainedModel({mc.encoder}+{mc.decoder}, dim={mc.dim}, entities={self.split.num_entities}, "
            f"relations={self.split.num_relations}, {score})"
        )

    def __str__(self) -> str:
        return self.summary(evaluate=False)

    # --- persistence -------------------------------------------------------------------------------

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the run to ``directory``.

        Files: ``checkpoint/`` (safetensors + meta), ``metrics.json``, ``config.json`` (every config,
        the info and the transfer report), ``split/``, ``curve.csv`` and ``curve.png`` (when
        matplotlib is installed). They are written beside the folder's files and replace them when
        all are written (:func:`~kgtransfer.checkpoint.staged_run`): a save stopped half way leaves
        an earlier run there whole.

        Raises:
            OutputExistsError: ``directory`` holds files that are not a kgtransfer run.
        """
        from kgtransfer.checkpoint import save_checkpoint, staged_run

        directory = Path(directory)
        config = {
            "model": self.model_config.to_dict(),
            "train": self.train_config.to_dict(),
            "task": self.task_config.to_dict(),
            "info": self.info,
        }
        if self.report is not None:
            config["report"] = self.report.as_dict()
        test = scalar_metrics(self.test)  # evaluated before anything is written
        with staged_run(directory) as folder:  # the checkpoint names its split: the two cannot come from two runs
            self.split.save(folder / "split")
            meta = {**config, "split": fingerprint(self.split)}
            save_checkpoint(folder / "checkpoint", self.model.state_dict(), meta)
            save_json(folder / "config.json", config)
            save_run_metrics(folder, {"test": test}, self.fit)
        return directory

    @classmethod
    def load(cls, directory: str | os.PathLike, device: str = "cpu") -> TrainedModel:
        """Reload a saved model (weights via safetensors: no code runs on load).

        A missing or corrupt part raises :class:`~kgtransfer.errors.CheckpointError` naming the folder.
        """
        directory = Path(directory)
        if (directory / "labels.json").is_file() and not (directory / "split").exists():
            from kgtransfer.errors import CheckpointError

            raise CheckpointError(
                f"{directory}: an entity-typing run, not a link predictor; load it with "
                "kgtransfer.tasks.node_classification.EntityTypingResult.load"
            )
        return load_run(directory, cls._load, device)

    @classmethod
    def _load(cls, directory: Path, device: str) -> TrainedModel:
        from kgtransfer.checkpoint import load_checkpoint
        from kgtransfer.data.splits import Split

        directory = Path(directory)
        tensors, meta, _ = load_checkpoint(directory / "checkpoint", device)
        split = Split.load(directory / "split")
        if meta.get("split", fingerprint(split)) not in (fingerprint(split), fingerprint(split, legacy=True)):
            from kgtransfer.errors import CheckpointError

            raise CheckpointError(
                f"{directory}: checkpoint/ and split/ come from different runs (a save interrupted while it "
                "replaced an earlier run?); save the model again"
            )
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
        report = None
        if meta.get("report") is not None:
            from kgtransfer.transfer.weights import TransferReport

            report = TransferReport.from_dict(meta["report"])
        return cls(
            model.to(device).eval(),
            split,
            model_config,
            TrainConfig.from_dict(meta["train"]),
            saved_fit(directory),
            TaskConfig.from_dict(meta.get("task")),
            meta.get("info"),
            report,
        )


def given_bases(model_config: ModelConfig, unset: int | None | str = None) -> int | None | str:
    """The basis count ``model_config`` sets (a block decomposition is a choice too), else ``unset``."""
    kwargs = model_config.encoder_kwargs
    return kwargs.get("num_bases") if "num_bases" in kwargs or "num_blocks" in kwargs else unset


def last_meta(checkpoint_dir: str | os.PathLike) -> dict | None:
    """The ``meta.json`` of the last checkpoint in ``checkpoint_dir``; None without a readable one.

    A run's ``last/``, else a fine-tuning's ``phase0/last/`` (its first phase trains with the run's settings).
    """
    from kgtransfer.checkpoint import checkpoint_folder, read_meta
    from kgtransfer.errors import CheckpointError

    for last in (Path(checkpoint_dir) / "last", Path(checkpoint_dir) / "phase0" / "last"):
        try:
            return read_meta(checkpoint_folder(last) / "meta.json")
        except (CheckpointError, OSError):
            continue
    return None


def saved_sizing(checkpoint_dir: str | os.PathLike) -> dict | None:
    """The sized settings (:data:`~kgtransfer.sizing.SIZED`) of the run in ``checkpoint_dir``, for a resume.

    Read from its last checkpoint's ``meta.json`` (:func:`last_meta`): the model config and TrainConfig
    the run recorded. A value of the wrong type is left out (the resume then compares it and refuses);
    None without a readable checkpoint (a resume then starts a new run, or refuses the damaged one).
    """
    from kgtransfer.errors import is_number

    meta = last_meta(checkpoint_dir) or {}
    state, config = meta.get("state"), meta.get("config")
    model = state.get("model") if isinstance(state, dict) else None
    if not isinstance(model, dict) or not isinstance(config, dict):
        return None
    kwargs = model.get("encoder_kwargs") or {}
    values = {
        "dim": model.get("dim"),
        "batch_size": config.get("batch_size"),
        "lr": config.get("lr"),
        "eval_every": config.get("eval_every"),
        "num_bases": kwargs.get("num_bases") if isinstance(kwargs, dict) else "?",
    }
    valid = {name: is_number(value, integer=name != "lr") for name, value in values.items()}
    valid["num_bases"] = valid["num_bases"] or values["num_bases"] is None
    return {name: value for name, value in values.items() if valid[name]}


def saved_literals(checkpoint_dir: str | os.PathLike) -> str | None:
    """The literal policy the run in ``checkpoint_dir`` recorded (:func:`last_meta`).

    None without a readable checkpoint, or one written before runs recorded it (its data digest
    still tells a resume whether the split is the same).
    """
    state = (last_meta(checkpoint_dir) or {}).get("state")
    policy = state.get("literals") if isinstance(state, dict) else None
    return policy if isinstance(policy, str) else None


def load_run(directory: Path, load, device: str):
    """``load(directory, device)`` with every failure a typed error naming the folder or file.

    A config or registry error (a setting this version does not know or refuses, e.g. from a run
    saved by another version) names ``checkpoint/meta.json``; anything else a corrupt part raises
    becomes a :class:`~kgtransfer.errors.CheckpointError` naming the folder.
    """
    from kgtransfer.checkpoint import checkpoint_exists, finish_staged_run
    from kgtransfer.config import ConfigError
    from kgtransfer.device import resolve_device
    from kgtransfer.errors import CheckpointError, KGTransferError, RegistryError, SourceNotFoundError

    device = resolve_device(device)  # a device this machine lacks is the caller's setting, not the folder's fault
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():  # e.g. a graph file given where the run goes
        raise SourceNotFoundError(f"{directory}: a file, not a run folder (the folder `kgtransfer pretrain -o` writes)")
    if not directory.is_dir():
        raise SourceNotFoundError(f"{directory}: no such run folder")
    finish_staged_run(directory)  # a save stopped half way through its renames
    if not checkpoint_exists(directory / "checkpoint"):
        inside = [p.parent.name for p in sorted(directory.glob("*/checkpoint")) if p.is_dir()]
        if (directory / "model.safetensors").is_file():
            hint = f"; this is a run's checkpoint folder: pass the run folder {directory.parent}"
        elif inside:
            hint = f"; a run is inside it: {directory / inside[0]}"
        else:
            hint = ""
        raise SourceNotFoundError(f"{directory}: not a run folder (no checkpoint/){hint}")
    try:
        return load(directory, device)
    except (CheckpointError, SourceNotFoundError):
        raise
    except (ConfigError, RegistryError) as e:
        raise CheckpointError(f"{directory / 'checkpoint' / 'meta.json'}: saved settings do not load: {e}") from None
    except KGTransferError as e:
        raise CheckpointError(f"{directory}: {e}"[:500]) from None
    except (KeyError, TypeError, ValueError, RuntimeError, RecursionError, AttributeError, OSError, IndexError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""  # torch's shape errors run to many lines
        raise CheckpointError(f"{directory}: corrupt run folder ({type(e).__name__}: {first})"[:500]) from None


def scalar_metrics(metrics: dict) -> dict:
    """The JSON-ready numbers of a metrics dict (per-side sub-dicts dropped)."""
    return {k: v for k, v in metrics.items() if isinstance(v, int | float | bool)}


def save_run_metrics(directory: Path, metrics: dict, fit: FitResult | None, metric: str = "mrr") -> None:
    """Write ``metrics.json`` (with the fit's best validation metrics and epochs) and ``curve.csv``/``curve.png``.

    ``metrics.json`` also records the :func:`~kgtransfer.environment.environment`: versions, platform
    and, with a fit, the device and intra-op threads it trained with (a loaded run's saved record, as read).
    """
    from kgtransfer.environment import environment

    metrics = dict(metrics)
    ran = fit.environment if fit is not None else None  # a loaded run's record: not this session's versions
    metrics["environment"] = ran or environment(*((fit.threads, fit.device) if fit is not None else ()))
    if fit is not None:
        metrics.update(
            valid=scalar_metrics(fit.best),
            best_epoch=fit.best_epoch,
            epochs_run=fit.epochs_run,
            stopped_early=fit.stopped_early,
            seconds=fit.seconds,
        )
        if fit.history.marks:
            metrics["marks"] = fit.history.marks
        atomic_write_text(directory / "curve.csv", fit.history.to_csv())
        plot_curves({"train": fit.history}, directory / "curve.png", metric=metric)
    save_json(directory / "metrics.json", metrics)


def saved_fit(directory: Path) -> FitResult | None:
    """The training record of a saved run, from its ``metrics.json`` and ``curve.csv``.

    So a loaded run keeps its validation metrics, best epoch and learning curve, and saving it again
    writes them again. None when the folder lacks them or they do not read (they are a record, not
    what the model needs).
    """
    from kgtransfer.files import load_json

    try:  # JSON or UTF-8 that does not decode is a ValueError
        metrics = load_json(directory / "metrics.json")
        history = History.from_csv((directory / "curve.csv").read_text(encoding="utf-8"), metrics.get("marks"))
        ran = metrics.get("environment") or {}
        return FitResult(
            dict(metrics["valid"]),
            int(metrics["best_epoch"]),
            int(metrics["epochs_run"]),
            history,
            bool(metrics["stopped_early"]),
            float(metrics["seconds"]),
            ran.get("threads"),
            ran.get("device"),
            ran or None,
        )
    except (OSError, KeyError, TypeError, ValueError, AttributeError):
        return None


def plot_curves(histories: dict[str, History], path: str | os.PathLike, metric: str = "mrr") -> Path | None:
    """Learning curves as PNG (see :func:`kgtransfer.plots.learning_curves`)."""
    from kgtransfer.plots import learning_curves

    return learning_curves(histories, path, metric)


def task_config_of(task) -> TaskConfig:
    """The TaskConfig of a link-prediction run from ``task``: a TaskConfig, None, or the name ``"link_prediction"``.

    Raises:
        ConfigError: another task name (entity typing trains with ``train_entity_typing``, or fine-tunes with
            ``finetune(..., task="entity_typing")``), or a value of another type.
    """
    from kgtransfer.config import ConfigError

    expect(task, TaskConfig, "task", also=(str,))
    if task is None or isinstance(task, TaskConfig):
        return task or TaskConfig()
    if isinstance(task, str) and task.strip().lower().replace("-", "_") == "link_prediction":
        return TaskConfig()
    raise ConfigError(
        f"task {task!r}: train and pretrain train link predictors ('link_prediction'); entity typing trains "
        "with kgtransfer.tasks.node_classification.train_entity_typing, or fine-tunes a pretrained run "
        "with finetune(..., task='entity_typing')"
    )


def train(
    source,
    model: ModelConfig | None = None,
    config: TrainConfig | None = None,
    task: TaskConfig | str | None = None,
    *,
    split=None,
    literals: str | None = None,
    encoder: str | None = None,
    decoder: str | None = None,
    dim: int | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    seed: int | None = None,
    device: str | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: bool = False,
    overwrite: bool = False,
) -> TrainedModel:
    """Train a link predictor on a knowledge graph (or a prepared split) from scratch.

    Settings left unset are sized to the graph by :func:`kgtransfer.sizing.plan`: without ``model``
    (and ``dim``) the dimension and R-GCN's weight bases, without ``config`` the batch size, learning
    rate (unless ``lr``) and validation interval. On small graphs these are the config defaults; what was chosen and
    why is kept in the result's ``info["settings"]``. Passed configs are used as they are.

    Args:
        source: a KnowledgeGraph, anything :func:`kgtransfer.load` accepts, or a Split.
        model: the :class:`~kgtransfer.config.ModelConfig` (default: R-GCN + DistMult, dim sized to
            the graph: 200, or 64 on a large graph; shared weight bases where a matrix per edge type
            would pass the memory budget).
        config: the :class:`~kgtransfer.config.TrainConfig` (default: its defaults, with batch size,
            learning rate and validation interval sized to the graph).
        task: the :class:`~kgtransfer.config.TaskConfig`: loss, label smoothing, regularizer
            (default: 1-N with label smoothing 0.1, no regularizer); or the task's name,
            ``"link_prediction"`` (its default config), as :func:`~kgtransfer.transfer.finetune.finetune` takes it.
        split: see :func:`make_split` (default: given or random). A drawn split whose shares leave
            valid or test empty is an EmptySplitError before training.
        literals: the literal policy of the split made of ``source``, ``"drop"``, ``"nodes"`` (literals are
            entities: literal-object triples train and are ranked) or ``"features"``; see :func:`make_split`
            (default: ``"drop"``, or a given split's own).
        encoder: shortcut for ``model.encoder``.
        decoder: shortcut for ``model.decoder``.
        dim: shortcut for ``model.dim``.
        epochs: shortcut for ``config.epochs``.
        lr: shortcut for ``config.lr``.
        seed: shortcut for ``config.seed`` (also seeds a random split).
        device: shortcut for ``config.device``.
        checkpoint_dir: where to keep ``last``/``best`` checkpoints for ``resume`` (default: none). One
            that holds an earlier run's checkpoints is refused (CheckpointError) unless ``resume`` or ``overwrite``.
        resume: continue a killed run from ``checkpoint_dir`` (default: False).
        overwrite: start a new run in ``checkpoint_dir`` over an earlier one's checkpoints: they are set
            aside (``.NAME.earlier`` beside it) and deleted when this run ends (see
            :func:`~kgtransfer.checkpoint.claim_checkpoints`); not with ``resume`` (default: False).
    """
    from kgtransfer.checkpoint import claim_checkpoints, drop_earlier
    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    claim_checkpoints(checkpoint_dir, resume, "run", overwrite, move=False)  # an overwrite moves them below
    model_config, train_config = shortcuts(
        model, config, encoder=encoder, decoder=decoder, dim=dim, epochs=epochs, lr=lr, seed=seed, device=device
    )
    task_config = task_config_of(task)
    source = as_split(source, split, train_config.seed, literals)
    info = {}
    if model is None or config is None:
        from kgtransfer.sizing import plan_for

        chosen = plan_for(
            source,
            model_config,
            task_config,
            stacklevel=2,  # the caller of train
            dim=model_config.dim if model is not None or dim is not None else None,
            batch_size=train_config.batch_size if config is not None else None,
            lr=train_config.lr if config is not None or lr is not None else None,
            eval_every=train_config.eval_every if config is not None else None,
            num_bases=given_bases(model_config) if model is not None else "auto",  # a given config: as it is
            saved=saved_sizing(checkpoint_dir) if resume and checkpoint_dir is not None else None,
        )
        model_config = replace(model_config, dim=chosen.dim)
        if "num_bases" in chosen.chosen:
            model_config = replace(
                model_config, encoder_kwargs={**model_config.encoder_kwargs, "num_bases": chosen.num_bases}
            )
        train_config = replace(train_config, batch_size=chosen.batch_size, lr=chosen.lr, eval_every=chosen.eval_every)
        info["settings"] = chosen.as_dict()
    earlier = claim_checkpoints(checkpoint_dir, resume, "run", overwrite)  # settings and data are good: now
    with seeded(train_config.seed):  # the initial weights depend on the seed alone
        net = LinkPredictor.build(model_config, source.num_entities, source.num_relations)
        lp_task = LinkPredictionTask(source, task_config)
        run = None  # what a resume must match; only checkpoints read it
        if checkpoint_dir is not None:
            from kgtransfer.checkpoint import RunState
            from kgtransfer.data.splits import literal_policy

            data = {"data": fingerprint(source), "literals": literal_policy(source)}  # said apart in a refusal
            run = RunState(
                {"model": model_config.to_dict(), "task": task_config.to_dict(), **data},
                # checkpoints of runs begun before the digest changed, or recorded the literal policy
                earlier={"data": (fingerprint(source, legacy=True),), "literals": (None,)},
            )
        result = fit(net, lp_task, train_config, checkpoint_dir=checkpoint_dir, resume=resume, state=lambda: run)
    drop_earlier(earlier)
    # the caller's task settings, or those a run begun before one of them existed resumed with
    return TrainedModel(net, source, model_config, train_config, result, lp_task.config, info)


def fingerprint(split, legacy: bool = False) -> str:
    """A digest of a split's triples and vocabularies: a resumed run must see the same data.

    Each part is hashed with its length (a triple moved from one part to the next changed nothing
    before), and the ``unused`` training triples the evaluation filters are included. ``legacy``: the
    digest of runs saved before that, which :meth:`TrainedModel.load` still accepts.
    """
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    parts = [split.train, split.valid, split.test]
    if not legacy:
        parts.append(split.unused if split.unused is not None else split.train.tensor[:0])
    for part in parts:
        rows = part if isinstance(part, torch.Tensor) else part.tensor
        if not legacy:
            h.update(f"{len(rows)}:".encode())
        h.update(rows.numpy().tobytes())
    if split.vocab is not None:
        h.update("\n".join(split.vocab.entities.keys).encode("utf-8", "surrogatepass"))
        h.update("\n".join(split.vocab.relations.keys).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def shortcuts(model: ModelConfig | None, config: TrainConfig | None, **values) -> tuple[ModelConfig, TrainConfig]:
    """The model and train configs with the shortcut arguments that were given (not None) applied.

    Each shortcut (``encoder``, ``decoder``, ``dim``, ``epochs``, ``lr``, ``seed``, ``device``, ...)
    goes to the config that has a field of its name.
    """
    expect(model, ModelConfig, "model")
    expect(config, TrainConfig, "config")
    values = given(**values)
    model_fields = {f.name for f in fields(ModelConfig)}
    model_config = replace(model or ModelConfig(), **{k: v for k, v in values.items() if k in model_fields})
    train_config = replace(config or TrainConfig(), **{k: v for k, v in values.items() if k not in model_fields})
    return model_config, train_config


def as_split(source, split=None, seed: int = 0, literals: str | None = None):
    """``source`` as a Split to train on: a Split as is, else the graph (loaded if needed) split by :func:`make_split`.

    ``literals``: the policy of a split made here; a Split made with another one is refused.

    Raises:
        EmptySplitError: a drawn split left valid or test empty (see :func:`~kgtransfer.data.splits.check_evaluable`).
    """
    from kgtransfer.data.splits import Split, check_evaluable, check_literals
    from kgtransfer.knowledge.graph import KnowledgeGraph
    from kgtransfer.knowledge.sources import load

    redraw = "draw another with larger valid and test shares (kgt.random_split(kg, ratios=(0.6, 0.2, 0.2)))"
    if isinstance(source, Split):
        check_literals(source, literals, "the Split passed in")
        return check_evaluable(source, advice=f"the Split passed in was drawn so: {redraw}")
    kg = source if isinstance(source, KnowledgeGraph) else load(source)
    if isinstance(split, Split):
        ready = "the Split passed as split="
    elif split is None or isinstance(split, (tuple, list)) or split in ("given", "random"):
        ready = None  # drawn here: the default advice (shares, a split of one's own) fits
    else:
        ready = f"the saved split {split}"
    advice = ready and f"{ready} was drawn so: {redraw}"
    return check_evaluable(make_split(kg, split, seed, literals), kg, advice=advice)
