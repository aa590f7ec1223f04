r"""Settings that suit the graph: the one place where link-prediction defaults are sized to the data.

Where the cost of 1-N training goes. A step of ``B`` queries encodes the whole message graph
(``E`` edges, ``L`` layers: :math:`O(L \cdot E \cdot d^2)` for R-GCN, whose layer multiplies each edge
type's sources once (:func:`kgtransfer.models.rgcn.relational_conv`); for CompGCN's default ``sub``
:math:`O(L \cdot (E \cdot d + N \cdot d^2))`, two sparse products per layer, which the table below predates)
and scores every query against all ``N`` entities (:math:`O(B \cdot N \cdot d)`, plus the loss's passes over the
``[B, N]`` scores). An epoch is ``Q / B`` steps for ``Q`` distinct training queries, so it costs
:math:`(Q / B) \cdot \mathrm{encode} + Q \cdot N \cdot c_d`; the scoring term does not shrink with
the batch. Measured by ``benchmarks/sizing.py`` on Brick 1.4 (44,018 training triples, 10,452
entities, 88,036 message edges, 40,753 queries), one thread of a shared 2-core machine, seconds:

=================  ===========  ==========  ===========  ==========
encoder, dim       encode pass  step of 512  step of 4096  validation
=================  ===========  ==========  ===========  ==========
R-GCN, 64          0.12         0.22        1.00         0.37
R-GCN, 200         0.61         0.73        1.60         0.94
CompGCN, 64        0.40         0.55        3.35         1.67
CompGCN, 200       3.9          3.3         6.8          3.4
=================  ===========  ==========  ===========  ==========

(R-GCN rows of 2026-11-30; the CompGCN rows predate its sparse-product layer, which made a
whole-graph step about 3x cheaper.) With the small-graph settings (R-GCN, dim 200, 80 steps of 512)
an epoch is about 80 x 0.73 s, about a minute; at dim 64 with 10 steps of about 4,096 queries, about
10 s. R-GCN is no longer the
costly encoder (the old reason to switch to CompGCN on many edge types is gone), so the encoder is
not sized: it stays the config default.

:func:`plan` therefore sizes a run by its scoring work per epoch, :math:`Q \cdot N`:

- up to :data:`LARGE_EPOCH` score entries (UMLS: 0.2 M, Kinships 0.3 M, Brick's object-property
  views 3-11 M): the benchmark settings, dim 200, 512 queries a step, lr 0.001, validation every
  5 epochs (:class:`~kgtransfer.config.ModelConfig` / :class:`~kgtransfer.config.TrainConfig` defaults);
- above it (Brick 1.2: 273 M, Brick 1.4: 426 M): dim 64; for a message-passing encoder about
  :data:`STEPS` steps per epoch (as many queries per step as the memory budget allows, so the
  whole-graph pass is paid ten times per epoch, not eighty); lr 0.01, for every encoder (with
  ten Adam steps an epoch 0.001 barely moves; and on the ENTITY union of ``benchmarks/scaling.py``,
  embedding + ComplEx at dim 64 and 233 steps of 512 an epoch reached validation MRR 0.147 after
  two epochs with lr 0.001 and 0.274 with lr 0.01); validation every epoch (ranking the validation triples
  costs a few percent of a training epoch, and patience then counts epochs, not blocks of five).

R-GCN on a graph with many relations: a weight matrix per edge type and layer while they fit the
memory budget with their gradients and Adam's moments, else shared bases (:func:`weight_bases`).

How a step uses the graph (:func:`step_mode`, the ``mode="auto"`` of
:class:`~kgtransfer.tasks.link_prediction.LinkPredictionTask` and
:class:`~kgtransfer.tasks.node_classification.NodeClassificationTask`) follows the same memory
model, :func:`step_bytes`: whole-graph steps while they fit ``memory_budget``, neighbour-sampled
ones above it.
"""

from __future__ import annotations

import inspect
import math
import warnings
from dataclasses import asdict, dataclass, field, replace

from kgtransfer.config import ModelConfig, TaskConfig, TrainConfig

#: Score entries per epoch (distinct training queries x entities) above which a graph is large.
LARGE_EPOCH = 50_000_000
#: Optimizer steps per epoch aimed at for a message-passing encoder on a large graph.
STEPS = 10
#: Settings of a large graph: embedding size, learning rate, evaluation interval.
LARGE_DIM, LARGE_LR, LARGE_EVAL_EVERY = 64, 0.01, 1
#: The small-graph settings: the config defaults (dim 200, lr 0.001, validation every 5 epochs), and
#: the queries per step there, in sampled mode and at least on large graphs (512).
DIM, LR, EVAL_EVERY, BATCH = ModelConfig.dim, TrainConfig.lr, TrainConfig.eval_every, TrainConfig.batch_size
#: Bytes per float.
FLOAT = 4


def step_bytes(edges: int, entities: int, dim: int, layers: int, queries: int) -> int:
    """Estimated bytes of a whole-graph training step.

    About 4 float activations per message edge, dimension and layer (messages, their gradients,
    the aggregation), plus the scores, softmax and target of ``queries`` queries against every entity.
    """
    return 4 * edges * dim * layers * FLOAT + 3 * queries * entities * FLOAT


def step_mode(encoder, edges: int, entities: int, memory_budget: int, whole: str = "batch", queries: int = 0) -> str:
    """``whole`` or ``"sampled"``: how a training step of ``encoder`` uses a graph of ``edges`` message edges.

    Whole-graph steps for encoders without message passing, and for the others while
    :func:`step_bytes` of ``queries`` queries fits ``memory_budget``; above it neighbour-sampled
    steps, where the encoder can encode a subgraph (its ``forward`` takes ``node_ids``).

    Args:
        encoder: the encoder module (its ``dim``, ``layers()`` and ``message_passing`` are read).
        edges: message edges of the graph.
        entities: entities scored per query.
        memory_budget: bytes a whole-graph step may take.
        whole: the name of the whole-graph mode of the task (default: ``"batch"``).
        queries: queries scored against every entity in a step (default: 0, none).
    """
    if not getattr(encoder, "message_passing", True):
        return whole
    dim = int(getattr(encoder, "dim", 1))
    if step_bytes(edges, entities, dim, encoder_layers(encoder), queries) <= memory_budget:
        return whole
    return "sampled" if "node_ids" in inspect.signature(encoder.forward).parameters else whole


def encoder_layers(encoder) -> int:
    """Message-passing layers of ``encoder`` (2 when it does not say)."""
    layers = len(encoder.layers()) if hasattr(encoder, "layers") else 2
    return layers or 2


@dataclass(frozen=True)
class Plan:
    """Settings for a graph: those chosen and why, the steps per epoch they give."""

    dim: int
    batch_size: int
    lr: float
    eval_every: int
    steps_per_epoch: int
    chosen: tuple[str, ...] = ()
    reasons: tuple[str, ...] = field(default=())
    num_bases: int | None = None  # R-GCN's basis decomposition (None: a weight matrix per edge type)
    resumed: tuple[str, ...] = ()  # settings taken from a resumed run that today's sizing would pick otherwise

    def as_dict(self) -> dict:
        """JSON-ready: the values, which of them were chosen here (the others were given), why, and a summary."""
        return {
            **asdict(self),
            "chosen": list(self.chosen),
            "reasons": list(self.reasons),
            "resumed": list(self.resumed),
            "summary": str(self),
        }

    def __str__(self) -> str:
        every = "every epoch" if self.eval_every == 1 else f"every {self.eval_every} epochs"
        steps = f"{self.steps_per_epoch:,} step{'' if self.steps_per_epoch == 1 else 's'}"
        settings = (
            f"dim {self.dim}, batch size {self.batch_size:,} ({steps} per epoch), lr {self.lr:g}, validation {every}"
        )
        if "num_bases" in self.chosen:
            settings += f", {self.num_bases} weight bases" if self.num_bases else ", a weight matrix per edge type"
        if self.reasons:
            settings += f"\n  why: {'; '.join(self.reasons)}"
        if self.resumed:
            settings += f"\n  as the resumed run's checkpoint (today's sizing differs): {'; '.join(self.resumed)}"
        return settings


def count_queries(train) -> int:
    """Distinct 1-N training queries ``(h, r, ?)`` and ``(?, r, t)`` of ``[n, 3]`` triples."""
    return len(train[:, [0, 1]].unique(dim=0)) + len(train[:, [2, 1]].unique(dim=0))


def plan(
    split,
    encoder: str = "rgcn",
    *,
    dim: int | None = None,
    batch_size: int | None = None,
    lr: float | None = None,
    eval_every: int | None = None,
    layers: int = 2,
    memory_budget: int = 2**30,
    mode: str = "auto",
    loss: str = "1-n",
    batch_candidates: int | None = None,
    num_bases: int | None | str = "auto",
    saved: dict | None = None,
) -> Plan:
    """Settings for link prediction on ``split``: the given ones kept, the others chosen (see the module docstring).

    Args:
        split: the :class:`~kgtransfer.data.splits.Split` to train on.
        encoder: the encoder (default: ``"rgcn"``).
        dim: the embedding size, or None to choose.
        batch_size: queries per step, or None to choose.
        lr: the learning rate, or None to choose.
        eval_every: epochs between validations, or None to choose.
        layers: the encoder's message-passing layers (default: 2).
        memory_budget: bytes a whole-graph step may take (default: 1 GiB, the TaskConfig default).
        mode: the task's mode, as :class:`~kgtransfer.tasks.link_prediction.LinkPredictionTask`
            resolves it (default: ``"auto"``).
        loss: the task's loss; only the 1-N loss takes sampled steps (default: ``"1-n"``).
        batch_candidates: the task's sampled 1-N candidates per step (default: None, every entity).
        num_bases: the basis decomposition of an encoder that takes one (R-GCN): ``"auto"`` to choose
            (see :func:`weight_bases`), else as given (None: a weight matrix per edge type).
        saved: the sized settings of the run a resume continues (:func:`kgtransfer.training.saved_sizing`):
            those left unset take these values, not today's sizing, so a sizing rule changed since
            the run began does not refuse it (default: None, a new run).
    """
    from kgtransfer.registry import ENCODERS, LOSSES

    if saved is not None:
        given = {"dim": dim, "batch_size": batch_size, "lr": lr, "eval_every": eval_every, "num_bases": num_bases}
        options = {
            "layers": layers,
            "memory_budget": memory_budget,
            "mode": mode,
            "loss": loss,
            "batch_candidates": batch_candidates,
        }
        return _resumed(split, encoder, saved, given, options)

    train = split.train.tensor
    queries, entities, edges = count_queries(train), split.num_entities, 2 * len(train)
    work = queries * entities
    large = work > LARGE_EPOCH
    passing = getattr(ENCODERS.get(encoder), "message_passing", True)
    chosen, reasons = [], []
    if dim is None:
        dim = LARGE_DIM if large else DIM
        chosen.append("dim")
    scale = "over" if large else "within"
    reasons.append(
        f"an epoch scores {queries:,} queries against {entities:,} entities ({work / 1e6:,.1f} M scores), "
        f"{scale} the {LARGE_EPOCH / 1e6:,.0f} M of a small graph"
    )
    # the test of LinkPredictionTask's mode="auto" (its bind): a whole-graph step of 2 x BATCH queries, the head
    # and tail queries of a sampled step's BATCH triples (with BATCH queries, a graph in between was planned as
    # whole-graph steps, its steps per epoch counted in queries, and then trained in sampled steps of triples)
    one_to_n = LOSSES[loss].batching == "queries"  # the 1-N loss; the others batch triples
    if mode == "auto":
        sampled = one_to_n and passing and step_bytes(edges, entities, dim, layers, 2 * BATCH) > memory_budget
    else:
        sampled = mode == "sampled"
    few_steps = large and passing and not sampled and mode != "full"  # whole-graph steps: make them few and large
    if batch_size is None:
        batch_size = BATCH
        if few_steps:  # STEPS steps of queries (1-N) or of triples (the other losses, whose scores are few)
            batch_size = max(BATCH, -(-(queries if one_to_n else len(train)) // STEPS))
            if one_to_n:  # each query scores every entity: as many as the memory budget holds
                fits = (memory_budget - step_bytes(edges, entities, dim, layers, 0)) // (3 * entities * FLOAT)
                batch_size = max(BATCH, min(batch_size, fits))
            reasons.append("each step encodes the whole graph, so few large steps")
        elif one_to_n and not passing and not batch_candidates and 3 * BATCH * entities * FLOAT > memory_budget:
            batch_size = max(1, memory_budget // (3 * entities * FLOAT))  # each query's scores of every entity
            reasons.append(
                f"a step scores each query against all {entities:,} entities: {batch_size} queries keep it within "
                f"the memory budget ({memory_budget:,} bytes); TaskConfig(batch_candidates=K) scores K instead"
            )
        elif sampled and mode == "sampled":
            reasons.append("mode sampled: sampled steps")
        elif sampled:
            reasons.append(f"a whole-graph step exceeds the memory budget ({memory_budget:,} bytes): sampled steps")
        chosen.append("batch_size")
    # as LinkPredictionTask.num_batches: one step (full), triples (sampled, negative sampling) or queries a step
    steps = 1 if mode == "full" else -(-(len(train) if sampled or not one_to_n else queries) // batch_size)
    if lr is None:
        lr = LARGE_LR if large else LR
        if large:
            reasons.append(f"lr {lr:g}: with dim {dim} and {steps} steps per epoch, {LR:g} moves little in an epoch")
        chosen.append("lr")
    if eval_every is None:
        eval_every = LARGE_EVAL_EVERY if large else EVAL_EVERY
        if large:
            reasons.append(
                f"validation every epoch (ranking {len(split.valid):,} triples both ways, forward only, "
                "costs a few percent of an epoch), so that patience counts epochs"
            )
        chosen.append("eval_every")
    if num_bases == "auto":
        num_bases = None
        if takes_bases(encoder):
            num_bases, why = weight_bases(2 * split.num_relations, dim, layers, memory_budget)
            if num_bases is not None:
                chosen.append("num_bases")
                reasons.append(why)
    return Plan(dim, batch_size, lr, eval_every, steps, tuple(chosen), tuple(reasons), num_bases)


def plan_for(split, model: ModelConfig, task: TaskConfig, *, stacklevel: int = 2, **given) -> Plan:
    """:func:`plan` for ``model``'s encoder and layers and ``task``'s steps (memory budget, mode, loss, candidates).

    ``given``: the other arguments of :func:`plan` (``dim``, ``batch_size``, ``lr``, ``eval_every``,
    ``num_bases``, ``saved``). A resume that keeps its checkpoint's settings where today's sizing
    differs is warned about, at ``stacklevel`` as :func:`warnings.warn` counts it from the caller.
    """
    chosen = plan(
        split,
        model.encoder,
        layers=model.encoder_kwargs.get("num_layers", 2),
        memory_budget=task.memory_budget,
        mode=task.mode,
        loss=task.loss,
        batch_candidates=task.batch_candidates,
        **given,
    )
    if chosen.resumed:
        warnings.warn(
            f"resumed with the checkpoint's {'; '.join(chosen.resumed)} (today's sizing)", stacklevel=stacklevel + 1
        )
    return chosen


#: the settings :func:`plan` sizes
SIZED = ("dim", "batch_size", "lr", "eval_every", "num_bases")


def _resumed(split, encoder: str, saved: dict, given: dict, options: dict) -> Plan:
    """The plan of a resumed run: the ``saved`` value of each setting left unset, where today's sizing may differ."""
    today = plan(split, encoder, **given, **options)
    unset = [name for name in SIZED[:-1] if given[name] is None]
    if given["num_bases"] == "auto" and takes_bases(encoder):
        unset.append("num_bases")
    kept = {name: saved[name] for name in unset if name in saved}
    resumed = plan(split, encoder, **{**given, **kept}, **options)
    return replace(
        resumed,
        chosen=tuple(name for name in SIZED if name in kept or name in resumed.chosen),
        resumed=tuple(
            f"{name} {value!r}, not {getattr(today, name)!r}"
            for name, value in kept.items()
            if value != getattr(today, name)
        ),
    )


def takes_bases(encoder: str) -> bool:
    """Whether the registered ``encoder`` takes a basis decomposition (``num_bases``: R-GCN)."""
    from kgtransfer.registry import ENCODERS

    return "num_bases" in inspect.signature(ENCODERS.get(encoder)).parameters


def weight_bases(edge_types: int, dim: int, layers: int, memory_budget: int) -> tuple[int | None, str]:
    r"""R-GCN's weight bases for ``edge_types``: None while a matrix per type fits, else :math:`\lceil\sqrt{T}\rceil`.

    A weight matrix per edge type and layer is :math:`T \cdot d^2 \cdot L` parameters, each held four
    times in training (value, gradient, Adam's two moments). While that fits ``memory_budget`` every
    type keeps its own matrix (the benchmark setting); above it, each layer's matrices are combinations
    of :math:`\lceil\sqrt{T}\rceil` shared bases (Schlichtkrull et al.'s basis decomposition, with
    PyKEEN's default count), :math:`B \cdot d^2 + T \cdot B` parameters a layer.

    Returns:
        ``(bases, reason)``: None and ``""`` when the full matrices fit.
    """
    full = edge_types * dim * dim * layers
    if 4 * FLOAT * full <= memory_budget:
        return None, ""
    bases = min(edge_types, math.ceil(math.sqrt(edge_types)))
    return bases, (
        f"a weight matrix per edge type would be {full / 1e6:,.0f} M parameters ({edge_types:,} edge types, dim "
        f"{dim}, {layers} layers; {4 * FLOAT * full / 2**30:,.1f} GiB with gradients and Adam's moments, over the "
        f"memory budget): {bases} shared bases per layer instead"
    )
