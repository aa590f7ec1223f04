r"""Entity typing as node classification: an encoder plus a linear head, trained by :func:`kgtransfer.engine.fit`.

The encoder turns the message graph into entity representations :math:`\mathbf{h}_v` and a
linear head gives class logits :math:`\mathbf{z}_v = \mathbf{W}\,\mathrm{dropout}(\mathbf{h}_v) + \mathbf{b}`.
Multi-class labels train with the softmax cross-entropy :math:`-\log \mathrm{softmax}(\mathbf{z}_v)_{y_v}`,
multi-label ones with the per-class logistic loss (BCE with logits); a multi-label prediction is
every class with :math:`z_{vc} > 0`.

Metrics (computed with torch). With :math:`\mathrm{TP}_c, \mathrm{FP}_c, \mathrm{FN}_c` the per-class counts,
:math:`F_1^{(c)} = 2\mathrm{TP}_c / (2\mathrm{TP}_c + \mathrm{FP}_c + \mathrm{FN}_c)`:

- ``macro_f1``: the mean of :math:`F_1^{(c)}` over the classes that occur in the truth or in the
  predictions (scikit-learn's ``f1_score(average="macro")`` with ``zero_division=0``), so a class
  that is true for some node but never predicted counts as 0. For multi-label data scikit-learn
  averages over every column, a class absent from both as 0; here such a class is left out as for
  multi-class data (scikit-learn's ``labels=`` the classes present).
- ``accuracy``: the share of correctly classified nodes (multi-class), or of correct
  (node, class) decisions (multi-label: one minus the Hamming loss).
- multi-label only: ``micro_f1`` :math:`= 2\sum_c\mathrm{TP}_c / \sum_c(2\mathrm{TP}_c + \mathrm{FP}_c + \mathrm{FN}_c)`
  and ``subset_accuracy`` (every class of a node right).

Validation and early stopping use ``macro_f1`` by default: entity-typing labels are usually skewed
(most Brick classes are Points), and accuracy would reward predicting the majority class.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Collection, Iterator
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kgtransfer.data.splits import NodeSplit
from kgtransfer.device import model_device, world_size
from kgtransfer.errors import EmptySplitError
from kgtransfer.rng import seeded
from kgtransfer.tasks.typing_labels import RDF_TYPE
from kgtransfer.training import Evaluated

METRICS = ("accuracy", "macro_f1", "micro_f1", "subset_accuracy")


class NodeClassifier(nn.Module):
    """An encoder's entity representations followed by a linear head: ``forward(graph) -> [num_nodes, C]``.

    Args:
        encoder: any kgtransfer :class:`~kgtransfer.models.base.Encoder` (its entity representations are used).
        num_classes: number of classes ``C``.
        multi_label: the logits are read per class (sigmoid) rather than as one softmax (default: False).
        dropout: dropout on the entity representations before the head (default: 0.0).
    """

    def __init__(self, encoder: nn.Module, num_classes: int, multi_label: bool = False, dropout: float = 0.0):
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.encoder = encoder
        self.num_classes = num_classes
        self.multi_label = multi_label
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.dim, num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-initialize the head; the encoder keeps its weights (they may be pretrained)."""
        self.head.reset_parameters()

    def forward(self, graph) -> Tensor:
        """Class logits ``[num_nodes, C]`` of every node of a message graph (``edge_index``, ``edge_type``, ``x``)."""
        x, node_ids = getattr(graph, "x", None), getattr(graph, "n_id", None)
        if node_ids is None:
            entities, _ = self.encoder(graph.edge_index, graph.edge_type, x)
        else:  # a sampled subgraph: its nodes' logits, in local order
            entities, _ = self.encoder(graph.edge_index, graph.edge_type, x, node_ids=node_ids)
        return self.head(self.dropout(entities))

    def __repr__(self) -> str:
        kind = ", multi_label=True" if self.multi_label else ""
        return f"NodeClassifier(encoder={self.encoder!r}, num_classes={self.num_classes}{kind})"


# --- metrics ------------------------------------------------------------------------------------


def classification_metrics(pred: Tensor, target: Tensor, num_classes: int, multi_label: bool = False) -> dict:
    """Accuracy and macro-F1 (multi-label: also micro-F1 and subset accuracy); see the module docstring.

    Args:
        pred: predicted class ids ``[n]``, or a ``[n, C]`` 0/1 matrix for multi-label data.
        target: true class ids ``[n]``, or a ``[n, C]`` 0/1 matrix.
        num_classes: ``C``.
        multi_label: whether ``pred`` and ``target`` are ``[n, C]`` matrices (default: False).
    """
    if multi_label:
        pred_hot, true_hot = pred.bool(), target.bool()
    else:
        pred_hot = F.one_hot(pred.long(), num_classes).bool()
        true_hot = F.one_hot(target.long(), num_classes).bool()
    n = true_hot.size(0)
    tp = (pred_hot & true_hot).sum(0).double()
    fp = (pred_hot & ~true_hot).sum(0).double()
    fn = (~pred_hot & true_hot).sum(0).double()
    denominator = 2 * tp + fp + fn
    present = denominator > 0
    f1 = torch.where(present, 2 * tp / denominator.clamp_min(1), torch.zeros_like(tp))
    macro = f1[present].mean().item() if bool(present.any()) else 0.0
    out = {"macro_f1": macro, "num_nodes": n}
    if not multi_label:
        out["accuracy"] = (pred.long() == target.long()).double().mean().item() if n else 0.0
    else:
        out["accuracy"] = (pred_hot == true_hot).double().mean().item() if n else 0.0
        out["micro_f1"] = (2 * tp.sum() / denominator.sum()).item() if denominator.sum() > 0 else 0.0
        out["subset_accuracy"] = (pred_hot == true_hot).all(1).double().mean().item() if n else 0.0
    if not n:  # no nodes: no score (as link prediction's NaN on an empty split), not a perfect 0
        out.update({k: float("nan") for k in out if k != "num_nodes"})
    return out


def predict(logits: Tensor, multi_label: bool) -> Tensor:
    """Class ids ``argmax`` (multi-class) or the 0/1 matrix ``logits > 0`` (multi-label)."""
    return (logits > 0).long() if multi_label else logits.argmax(1)


# --- task -----------------------------------------------------------------------------------------


class NodeClassificationTask:
    """Node classification as a training task for :func:`kgtransfer.engine.fit`.

    ``mode="full"``: every step encodes the whole message graph and takes the loss over the training
    nodes, so an epoch is one optimizer step. ``mode="sampled"``: ``batch_size`` shuffled training
    nodes per step, each step encoding a neighbourhood sampled around them
    (:class:`~kgtransfer.data.sampling.NeighbourSampler`, ``fanouts`` edges per node and hop, one hop
    per layer), so a step's memory is bounded by the batch and the fanouts. ``"auto"`` (default):
    full while about 4 activation tensors per message edge and layer fit ``memory_budget``, else
    sampled (:func:`kgtransfer.sizing.step_mode`, resolved by :meth:`bind`). Evaluation always encodes the whole graph.

    Args:
        graph: the message graph (``torch_geometric.data.Data`` with ``edge_index``, ``edge_type``).
        node_ids: ``[n]`` graph node ids of the labelled entities.
        targets: ``[n]`` class ids, or an ``[n, C]`` 0/1 matrix for multi-label data.
        split: a :class:`~kgtransfer.data.splits.NodeSplit` of (a subset of) ``node_ids``.
        multi_label: whether ``targets`` is a 0/1 matrix (default: False).
        num_classes: ``C`` (default: ``targets.max() + 1``, or the matrix width).
        metric: the validation metric to maximize, one of ``accuracy``, ``macro_f1`` (multi-label also
            ``micro_f1``, ``subset_accuracy``) (default: ``"macro_f1"``).
        mode: ``"auto"``, ``"full"`` or ``"sampled"`` (default: ``"auto"``).
        fanouts: edges per node and hop of sampled steps (default: 10 per encoder layer).
        memory_budget: bytes of a whole-graph step, for ``"auto"`` (default: 1 GiB).
    """

    def __init__(
        self,
        graph,
        node_ids: Tensor,
        targets: Tensor,
        split: NodeSplit,
        multi_label: bool = False,
        num_classes: int | None = None,
        metric: str = "macro_f1",
        mode: str = "auto",
        fanouts: tuple[int, ...] | list[int] | None = None,
        memory_budget: int = 2**30,
    ):
        if mode not in ("auto", "full", "sampled"):
            raise ValueError(f"mode must be 'auto', 'full' or 'sampled', got {mode!r}")
        self.mode_option, self.fanouts, self.memory_budget = mode, fanouts, int(memory_budget)
        self.mode = "full" if mode == "auto" else mode
        self.sampler = None
        node_ids = torch.as_tensor(node_ids).long().reshape(-1)
        targets = torch.as_tensor(targets)
        if len(targets) != len(node_ids):
            raise ValueError(f"{len(node_ids)} node ids but {len(targets)} targets")
        if multi_label != (targets.dim() == 2):
            raise ValueError(f"multi_label={multi_label} but targets have shape {tuple(targets.shape)}")
        allowed = METRICS if multi_label else METRICS[:2]
        if metric not in allowed:
            raise ValueError(f"metric must be one of {allowed}, got {metric!r}")
        self.graph = graph
        self.multi_label = multi_label
        self.metric = metric
        needed = targets.size(1) if multi_label else int(targets.max()) + 1 if len(targets) else 1
        if num_classes is not None and num_classes < needed:  # cross-entropy would fail deep in torch
            raise ValueError(f"num_classes={num_classes}, but the targets need {needed} classes")
        self.num_classes = num_classes or needed
        self.node_ids = node_ids
        self.targets = targets.float() if multi_label else targets.long()
        self.split = split
        row_of = torch.full((graph.num_nodes,), -1, dtype=torch.long)
        row_of[node_ids] = torch.arange(len(node_ids))
        self.rows = {}
        for name in ("train", "valid", "test"):
            rows = row_of[getattr(split, name)]
            if bool((rows < 0).any()):
                raise ValueError(f"the {name} split holds nodes without a label")
            self.rows[name] = rows
        self.device = torch.device("cpu")

    def to(self, device) -> NodeClassificationTask:
        """Move the graph, node ids, targets and split rows to ``device``."""
        device = torch.device(device)
        if device != self.device:
            self.graph = self.graph.to(device)
            self.node_ids, self.targets = self.node_ids.to(device), self.targets.to(device)
            self.rows = {k: v.to(device) for k, v in self.rows.items()}
            self.device = device
            self.sampler = None  # rebuilt on the new device by bind
        return self

    def bind(self, model: nn.Module) -> NodeClassificationTask:
        """Resolve ``mode="auto"`` and build the sampler for ``model``; called by :func:`~kgtransfer.engine.fit`."""
        from kgtransfer.sizing import encoder_layers, step_mode

        encoder = getattr(model, "encoder", model)
        layers = encoder_layers(encoder)
        if self.mode_option == "auto":
            self.mode = step_mode(encoder, self.graph.edge_index.size(1), 0, self.memory_budget, whole="full")
        if self.mode == "sampled" and self.sampler is None:
            from kgtransfer.data.sampling import NeighbourSampler, layer_fanouts

            fanouts = layer_fanouts(self.fanouts, layers)
            g = self.graph
            self.sampler = NeighbourSampler(g.edge_index, g.edge_type, g.num_nodes, fanouts)
        if self.mode == "sampled" and hasattr(encoder, "observe_graph"):  # whole-graph statistics for subgraphs
            encoder.observe_graph(self.graph.edge_index, self.graph.edge_type, self.graph.num_nodes)
        return self

    def num_batches(self, batch_size: int) -> int:
        """Batches per epoch (all ranks together)."""
        return world_size() if self.mode == "full" else -(-len(self.rows["train"]) // batch_size)

    def size(self) -> int:
        """Work per step: message edges plus nodes, times the classes."""
        return int(self.graph.edge_index.size(1) + self.graph.num_nodes) * max(self.num_classes, 1)

    def batches(self, epoch: int, batch_size: int, generator: torch.Generator) -> Iterator:
        """Full mode: the training rows, under torchrun one share per rank. Sampled: shuffled ``(rows, seed)``."""
        rows = self.rows["train"]
        if self.mode != "sampled":  # the ranks' shares average to the full batch's gradient
            yield from torch.tensor_split(rows, max(1, min(world_size(), len(rows))))
            return
        order = torch.randperm(len(rows), generator=generator).to(rows.device)
        seeds = torch.randint(2**62, (self.num_batches(batch_size),), generator=generator).tolist()
        for seed, start in zip(seeds, range(0, len(rows), batch_size), strict=True):
            yield rows[order[start : start + batch_size]], seed

    def loss(self, model: nn.Module, batch) -> Tensor:
        """Cross-entropy (multi-class) or BCE with logits (multi-label) over the rows in ``batch``."""
        if isinstance(batch, tuple):  # sampled: the batch's nodes are the subgraph's first nodes
            batch, seed = batch
            if self.sampler is None:
                self.bind(model)
            sub = self.sampler.sample(self.node_ids[batch], generator=torch.Generator().manual_seed(seed))
            if getattr(self.graph, "x", None) is not None:
                sub.x = self.graph.x[sub.n_id]
            logits = model(sub)[: len(batch)].float()
        else:
            logits = model(self.graph)[self.node_ids[batch]].float()
        if self.multi_label:
            return F.binary_cross_entropy_with_logits(logits, self.targets[batch])
        return F.cross_entropy(logits, self.targets[batch])

    @torch.no_grad()
    def logits(self, model: nn.Module, split: str = "test") -> Tensor:
        """Logits ``[n_split, C]`` of a split's nodes (the model in eval mode, on its device: the task moves there)."""
        self.to(model_device(model))
        was_training = model.training
        model.eval()
        logits = model(self.graph)[self.node_ids[self.rows[split]]].float()
        model.train(was_training)
        return logits

    def evaluate(self, model: nn.Module, split: str = "valid") -> dict:
        """Accuracy and macro-F1 (multi-label: also micro-F1, subset accuracy) of ``"train"``/``"valid"``/``"test"``."""
        pred = predict(self.logits(model, split), self.multi_label)
        return classification_metrics(pred, self.targets[self.rows[split]], self.num_classes, self.multi_label)

    def majority_baseline(self, split: str = "test") -> dict:
        """The metrics of always predicting the training majority (per class for multi-label data)."""
        train = self.targets[self.rows["train"]]
        target = self.targets[self.rows[split]]
        if self.multi_label:
            guess = (train.mean(0) > 0.5).long().expand(len(target), -1)
        else:
            guess = torch.bincount(train, minlength=self.num_classes).argmax().expand(len(target))
        return classification_metrics(guess, target, self.num_classes, self.multi_label)

    def __repr__(self) -> str:
        kind = "multi-label" if self.multi_label else "multi-class"
        return f"NodeClassificationTask({kind}, classes={self.num_classes}, {self.split!r})"


# --- training entry point and result ------------------------------------------------------------


class EntityTypingResult(Evaluated):
    """A trained entity-typing model with its labels, split and metrics; prints and saves itself.

    Attributes:
        model: the :class:`NodeClassifier` (at its best validation epoch).
        labels: the :class:`~kgtransfer.tasks.typing_labels.TypingLabels` (entities, classes, message graph).
        split: the :class:`~kgtransfer.data.splits.NodeSplit` of graph node ids.
        vocab: the graph's entity and relation vocabularies (node ``i`` is ``vocab.entities.key(i)``).
        task: the :class:`NodeClassificationTask`.
        model_config: encoder and dim (the decoder is unused).
        train_config: the training settings.
        fit: the learning curve and best validation metrics (a loaded run's from its saved files; None without them).
        test: test metrics at the best validation epoch (computed on first access).
        baseline: test metrics of always predicting the training majority.
        report: the :class:`~kgtransfer.transfer.weights.TransferReport` when fine-tuned from a
            pretrained model (else None); saved in ``config.json``.
    """

    def __init__(self, model, labels, split, vocab, task, model_config, train_config, fit=None, report=None):
        self.model = model
        self.labels = labels
        self.split = split
        self.vocab = vocab
        self.task = task
        self.model_config = model_config
        self.train_config = train_config
        self.fit = fit
        self.report = report
        self._test: dict | None = None

    @property
    def baseline(self) -> dict:
        """Test metrics of always predicting the training majority."""
        return self.task.majority_baseline("test")

    @classmethod
    def load(cls, directory: str | os.PathLike, device: str = "cpu") -> EntityTypingResult:
        """Reload a saved result (weights via safetensors; ``labels.graph`` is not kept and is None).

        A missing or corrupt part raises :class:`~kgtransfer.errors.CheckpointError` naming the folder.
        """
        from kgtransfer.errors import CheckpointError
        from kgtransfer.training import load_run

        directory = Path(directory)
        if not (directory / "labels.json").is_file() and (directory / "split").is_dir():
            raise CheckpointError(f"{directory}: a link-prediction run; load it with kgtransfer.TrainedModel.load")
        return load_run(directory, _load_typing_result, device)

    def summary(self) -> str:
        """A table of validation, test and majority-baseline metrics."""
        from kgtransfer.report import format_table

        keys = [k for k in METRICS if k in self.test]
        rows = []
        if self.fit is not None and self.fit.best:
            rows.append(["valid (best)", *[self.fit.best[k] for k in keys]])
        rows.append(["test", *[self.test[k] for k in keys]])
        rows.append(["test, majority class", *[self.baseline[k] for k in keys]])
        title = (
            f"entity typing: {self.model_config.encoder} (dim {self.model_config.dim}), "
            f"{len(self.labels.classes)} classes, {self.split!r}"
        )
        if self.fit is not None:
            per_epoch = sum(self.fit.history.seconds) / max(len(self.fit.history.seconds), 1)
            title += f"\nbest epoch {self.fit.best_epoch} of {self.fit.epochs_run}, {per_epoch:.3f} s/epoch"
        return format_table(rows, ["split", *keys], title=title)

    def __repr__(self) -> str:
        return (
            f"EntityTypingResult({self.model_config.encoder}, dim={self.model_config.dim}, "
            f"entities={len(self.labels.entities)}, classes={len(self.labels.classes)}, "
            f"test_accuracy={self.test['accuracy']:.4f}, test_macro_f1={self.test['macro_f1']:.4f})"
        )

    __str__ = summary

    def save(self, directory: str | os.PathLike) -> Path:
        """Write the run to ``directory``.

        Files: ``checkpoint/`` (safetensors weights, the message graph's triples, meta),
        ``metrics.json``, ``config.json``, ``vocab.json``, ``labels.json``, ``split.json`` (the entity
        IRIs of each part with their labels), ``curve.csv`` and ``curve.png`` (when matplotlib is
        installed). :meth:`load` reads them back. The checkpoint is written after the vocabularies,
        labels and split and holds a digest of them, so files of two runs never load as one. All are
        written beside the folder's files and replace them when all are written
        (:func:`~kgtransfer.checkpoint.staged_run`): a save stopped half way leaves an earlier run there whole.

        Raises:
            OutputExistsError: ``directory`` holds files that are not a kgtransfer run.
        """
        from kgtransfer.checkpoint import staged_run
        from kgtransfer.training import scalar_metrics

        directory = Path(directory)
        metrics = {"test": scalar_metrics(self.test), "baseline": scalar_metrics(self.baseline)}
        with staged_run(directory) as folder:
            self._write(folder, metrics)
        return directory

    def _write(self, directory: Path, metrics: dict) -> None:
        """Write the run's files into the (new) folder ``directory``."""
        from kgtransfer.checkpoint import save_checkpoint
        from kgtransfer.files import save_json
        from kgtransfer.training import save_run_metrics

        config = {
            "model": self.model_config.to_json(),
            "train": self.train_config.to_json(),
            "task": {"multi_label": self.task.multi_label, "metric": self.task.metric, "classes": self.labels.classes},
        }
        if self.report is not None:
            config["report"] = self.report.as_dict()
        self.vocab.save(directory / "vocab.json")
        labels = {"entities": self.labels.entities, "labels": [list(x) for x in self.labels.labels]}
        save_json(directory / "labels.json", {**labels, "classes": self.labels.classes, "removed": self.labels.removed})
        label_of = dict(zip(self.labels.entities, self.labels.labels, strict=True))
        keys = self.vocab.entities.keys
        parts = {}
        for name in ("train", "valid", "test"):
            iris = [keys[i] for i in getattr(self.split, name).tolist()]
            parts[name] = [[iri, list(label_of[iri])] for iri in iris]
        save_json(directory / "split.json", {"seed": self.split.seed, **parts})
        config["files"] = _files_digest(directory)
        save_checkpoint(
            directory / "checkpoint", self.model.state_dict(), config, {"graph": {"triples": self.task.graph.triples}}
        )
        save_json(directory / "config.json", config)
        save_run_metrics(directory, metrics, self.fit, metric=self.task.metric)


#: The files of a saved typing run that its checkpoint's digest covers.
_RUN_FILES = ("vocab.json", "labels.json", "split.json")


def _files_digest(directory: Path) -> str:
    """A digest of the vocabularies, labels and split a typing run saved beside its checkpoint."""
    import hashlib

    h = hashlib.blake2b(digest_size=16)
    for name in _RUN_FILES:
        data = (directory / name).read_bytes()
        h.update(f"{name}:{len(data)}:".encode())
        h.update(data)
    return h.hexdigest()


def _load_typing_result(directory: str | os.PathLike, device: str = "cpu") -> EntityTypingResult:
    from kgtransfer._pyg import Data
    from kgtransfer.checkpoint import load_checkpoint
    from kgtransfer.config import ModelConfig, TrainConfig
    from kgtransfer.data.splits import NodeSplit
    from kgtransfer.data.tensorize import Triples
    from kgtransfer.data.vocab import GraphVocab
    from kgtransfer.files import load_json
    from kgtransfer.models.link_predictor import build_encoder
    from kgtransfer.tasks.typing_labels import TypingLabels
    from kgtransfer.training import saved_fit

    directory = Path(directory)
    tensors, meta, extra = load_checkpoint(directory / "checkpoint", device, extra=("graph",))
    if "files" in meta and meta["files"] != _files_digest(directory):  # runs saved before the digest: as they are
        from kgtransfer.errors import CheckpointError

        raise CheckpointError(
            f"{directory}: {', '.join(_RUN_FILES)} are not those its checkpoint was saved with (a save stopped "
            "half way, or files of another run); save the run again"
        )
    model_config, train_config = ModelConfig.from_json(meta["model"]), TrainConfig.from_json(meta["train"])
    vocab = GraphVocab.load(directory / "vocab.json")
    raw = load_json(directory / "labels.json")
    labels = TypingLabels(raw["entities"], [tuple(x) for x in raw["labels"]], raw["classes"], None, raw["removed"])
    triples = Triples(extra["graph"]["triples"].cpu(), len(vocab.entities), len(vocab.relations), vocab)
    graph: Data = triples.to_pyg()
    node_ids = torch.from_numpy(vocab.entities.index(labels.entities))
    parts = load_json(directory / "split.json")
    ids = {n: torch.from_numpy(vocab.entities.index([iri for iri, _ in parts[n]])) for n in ("train", "valid", "test")}
    split = NodeSplit(ids["train"], ids["valid"], ids["test"], parts["seed"])
    targets = torch.from_numpy(labels.targets())
    task_meta = meta["task"]
    task = NodeClassificationTask(
        graph, node_ids, targets, split, task_meta["multi_label"], len(labels.classes), task_meta["metric"]
    )
    enc = build_encoder(model_config, graph.num_nodes, len(vocab.relations))
    net = NodeClassifier(enc, len(labels.classes), labels.multi_label, model_config.dropout)
    net.load_state_dict(tensors)
    report = None
    if meta.get("report") is not None:
        from kgtransfer.transfer.weights import TransferReport

        report = TransferReport.from_dict(meta["report"])
    return EntityTypingResult(
        net.to(device).eval(), labels, split, vocab, task, model_config, train_config, saved_fit(directory), report
    )


def typing_graph(labels) -> tuple:
    """The message graph of ``labels.graph`` (literals dropped) and its vocabularies.

    The entity vocabulary is extended by the labelled entities, so an entity whose every triple
    leaked its label still has a node (with no edges).

    Returns:
        ``(graph, vocab, node_ids)``: PyG ``Data``, the :class:`~kgtransfer.data.vocab.GraphVocab`, and
        the node id of each of ``labels.entities``.
    """
    from kgtransfer.data.tensorize import to_pyg
    from kgtransfer.data.vocab import GraphVocab

    vocab = GraphVocab.from_graph(labels.graph)
    vocab = GraphVocab(vocab.entities.extend(labels.entities), vocab.relations)
    graph = to_pyg(labels.graph, vocab)
    return graph, vocab, torch.from_numpy(vocab.entities.index(labels.entities))


def train_entity_typing(
    kg,
    labels=None,
    *,
    predicate: str | None = None,
    query: str | None = None,
    leak_predicates: tuple[str, ...] = (),
    keep: str = "all",
    model=None,
    config=None,
    encoder: str | None = None,
    dim: int | None = None,
    epochs: int | None = None,
    lr: float | None = None,
    seed: int | None = None,
    device: str | None = None,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    encoder_state: dict[str, Tensor] | None = None,
    keep_in_train: Collection[str] = (),
) -> EntityTypingResult:
    """Train an entity-typing (node classification) model on a knowledge graph.

    Labels come from :func:`~kgtransfer.tasks.typing_labels.typing_labels`; the encoder sees
    ``labels.graph`` (label and leaking triples removed, literals dropped); labelled nodes are
    split per label with :func:`~kgtransfer.data.splits.node_split` (seeded by ``config.seed``;
    multi-label nodes per their rarest label, :meth:`~kgtransfer.tasks.typing_labels.TypingLabels.strata`).

    Args:
        kg: a KnowledgeGraph.
        labels: ready :class:`~kgtransfer.tasks.typing_labels.TypingLabels` (default: extracted from ``kg``).
        predicate: the label predicate (default: rdf:type).
        query: a SPARQL SELECT ``(entity, label)`` in place of ``predicate`` (not both) (default: none).
        leak_predicates: predicates whose triples touching a labelled entity are removed (default: none).
        keep: ``"all"`` (multi-label when some entity has several labels) or ``"single"`` (default: ``"all"``).
        model: a :class:`~kgtransfer.models.link_predictor.ModelConfig`; its encoder, dim, encoder_kwargs and
            dropout are used, the decoder is ignored (default: R-GCN, dim 200).
        config: the :class:`~kgtransfer.engine.TrainConfig` (default: its defaults).
        encoder: shortcut for ``model.encoder``.
        dim: shortcut for ``model.dim``.
        epochs: shortcut for ``config.epochs``.
        lr: shortcut for ``config.lr``.
        seed: shortcut for ``config.seed`` (seeds the split and the initial weights too).
        device: shortcut for ``config.device``.
        ratios: train, valid and test shares of the labelled entities (default: ``(0.8, 0.1, 0.1)``).
        encoder_state: a state dict loaded (strictly) into the encoder before training, e.g. pretrained
            weights already aligned to this graph's vocabulary (default: none).
        keep_in_train: labelled entities (canonical strings) that always train, never validate or test:
            those whose labels the model that gave ``encoder_state`` trained on, outright or through
            leaking triples (:func:`~kgtransfer.transfer.finetune.labels_seen`; default: none).
    """
    from kgtransfer.data.splits import node_split
    from kgtransfer.engine import fit
    from kgtransfer.models.link_predictor import build_encoder
    from kgtransfer.tasks.typing_labels import typing_labels
    from kgtransfer.training import shortcuts

    if labels is None:
        labels = typing_labels(kg, predicate, query=query, leak_predicates=tuple(leak_predicates), keep=keep)
    if not labels.entities:
        where = f"query {query!r}" if query else f"predicate {predicate or RDF_TYPE}"
        raise EmptySplitError(
            f"no entity-typing labels in {getattr(kg, 'name', 'the graph')!r} from {where}: no entity has a label "
            f"that at least 2 entities share{' (keep=single: exactly one label)' if keep == 'single' else ''}"
        )
    if len(labels.classes) == 1 and not labels.multi_label:
        warnings.warn(
            f"every labelled entity has the one class {labels.classes[0]}: the task is trivial "
            "(accuracy and macro-F1 are 1.0 for any model)",
            stacklevel=2,
        )
    model_config, train_config = shortcuts(
        model, config, encoder=encoder, dim=dim, epochs=epochs, lr=lr, seed=seed, device=device
    )
    graph, vocab, node_ids = typing_graph(labels)
    keep = set(keep_in_train)
    kept = [e in keep for e in labels.entities]
    split = node_split(node_ids, labels.strata(), ratios, seed=train_config.seed, keep_in_train=kept)
    sizes = {name: len(getattr(split, name)) for name in ("train", "valid", "test")}
    if not all(sizes.values()):
        seen = (
            f" ({sum(kept)} of them stay in train: the pretrained model trained on their labels, or on triples that "
            "leak them)"
            if any(kept)
            else ""
        )
        raise EmptySplitError(
            f"{len(labels.entities)} labelled entities{seen} in {len(labels.classes)} classes are too few for the "
            f"shares {tuple(ratios)}: train/valid/test get {sizes['train']}/{sizes['valid']}/{sizes['test']} (each "
            "class puts round(n * share) of its n entities in valid and in test); label more entities or raise the "
            "shares"
        )
    targets = torch.from_numpy(labels.targets())
    task = NodeClassificationTask(graph, node_ids, targets, split, labels.multi_label, num_classes=len(labels.classes))
    with seeded(train_config.seed):  # the initial weights depend on the seed alone; the caller's RNG comes back
        enc = build_encoder(model_config, graph.num_nodes, len(vocab.relations))
        if encoder_state is not None:
            enc.load_state_dict(encoder_state)
        net = NodeClassifier(enc, len(labels.classes), labels.multi_label, model_config.dropout)
        result = fit(net, task, train_config)
    return EntityTypingResult(net, labels, split, vocab, task, model_config, train_config, result)
