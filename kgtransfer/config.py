"""Configs: one dataclass per concern, each field with help text, validated on construction.

- :class:`ModelConfig`: which encoder and decoder, and their sizes.
- :class:`TrainConfig`: how the engine trains (epochs, learning rate, early stopping, device, ...).
- :class:`TaskConfig`: what link prediction optimizes (loss, label smoothing, regularizer).
- :class:`FinetuneConfig`: how a pretrained model is fine-tuned (strategy and its options).

Every config saves as JSON with every result (:meth:`Config.to_dict`, :meth:`Config.from_dict`);
an unknown key or a bad value raises :class:`ConfigError` naming the field. The same dataclasses
drive the command-line flags, the experiment TOML tables and the benchmark grids through
:mod:`kgtransfer.config_adapter`, so a new field appears everywhere at once: add it here with a
``help`` and a check in ``__post_init__``. This module imports neither torch nor the models, so
``kgtransfer --help`` stays fast.
"""

from __future__ import annotations

import math
import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any, ClassVar

from kgtransfer.errors import KGTransferError, RegistryError, is_number


class ConfigError(KGTransferError, ValueError):
    """A configuration value or key is invalid; names the config and the field."""


def option(default: Any = MISSING, help: str = "", **kwargs: Any) -> Any:
    """A dataclass field with help text (``default`` may be a list or dict: it is copied per instance)."""
    if isinstance(default, list | dict):
        kwargs["default_factory"] = lambda d=default: type(d)(d)
    elif default is not MISSING:
        kwargs["default"] = default
    return field(metadata={"help": help}, **kwargs)


class _Fields(type):
    """Configs' metaclass: a keyword that is no field is a TypeError naming the field it resembles.

    The dataclass ``__init__`` says only "got an unexpected keyword argument 'epoch'".
    """

    def __call__(cls, *args: Any, **kwargs: Any):
        names = [f.name for f in fields(cls)] if "__dataclass_fields__" in cls.__dict__ else None
        unknown = [k for k in kwargs if names is not None and k not in names]
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], names, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(f"{cls.__name__} has no field {unknown[0]!r}{hint}; its fields: {', '.join(names)}")
        return super().__call__(*args, **kwargs)


@dataclass
class Config(metaclass=_Fields):
    """Base of the configs: JSON round trip, checks and help text."""

    section: ClassVar[str] = "config"
    #: fields added after runs were saved: a saved config may lack them (its run began without them)
    added: ClassVar[frozenset] = frozenset()

    def to_dict(self) -> dict:
        """A JSON-ready dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict | None, where: str = "", section: str | None = None) -> Config:
        """The config from a dict; unknown keys raise :class:`ConfigError` naming them and the known ones.

        ``where`` (a file) and ``section`` (the table, default: the config's own, e.g. ``train``)
        are named in the error.
        """
        data = dict(data or {})
        names = [f.name for f in fields(cls)]
        unknown = sorted(set(data) - set(names))
        if unknown:
            import difflib

            prefix = f"{where}: " if where else ""
            close = [(k, difflib.get_close_matches(k, names, n=1)) for k in unknown]
            hint = "".join(f" ({k!r}: did you mean {m[0]!r}?)" for k, m in close if m)
            raise ConfigError(
                f"{prefix}[{section or cls.section}] has unknown key(s) {unknown}{hint}; known keys: {', '.join(names)}"
            )
        try:
            return cls(**data)
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}" if where else str(e)) from None

    # kept for the checkpoints and callers written before the configs moved here
    to_json = to_dict

    @classmethod
    def from_json(cls, data: dict) -> Config:
        """The config saved with a result; unlike :meth:`from_dict`, keys this version does not know are dropped."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (data or {}).items() if k in names})

    @classmethod
    def help(cls, name: str) -> str:
        """The help text of field ``name``."""
        return next(f.metadata.get("help", "") for f in fields(cls) if f.name == name)

    def _fail(self, name: str, message: str) -> None:
        raise ConfigError(f"{type(self).__name__}.{name}: {message}, got {getattr(self, name)!r}")

    def _check(self, name: str, ok: bool, message: str) -> None:
        if not ok:
            self._fail(name, message)

    def _check_name(self, name: str, registry, allow_none: bool = False) -> None:
        value = getattr(self, name)
        if value is None and allow_none:
            return
        if not isinstance(value, str):
            self._fail(name, "must be a name")
        try:
            setattr(self, name, registry.canonical(value))  # as registered: saved runs and tables spell it one way
        except RegistryError as e:
            raise ConfigError(f"{type(self).__name__}.{name}: {e}") from None

    def _check_arguments(self, name: str, target, given: tuple[str, ...] = ()) -> None:
        """The keys of the dict field ``name`` are keyword arguments ``target`` takes, other than ``given``."""
        for key in getattr(self, name):
            if key in given:
                self._fail(name, f"{key!r} is set from the graph and the other fields, not here")
        problem = argument_problem(target, getattr(self, name), given)
        if problem is not None:
            self._fail(name, problem)

    def _check_types(self) -> None:
        """Coerce ints given for floats; reject values of the wrong type (bool is not a number).

        A field that may be None takes ``"none"`` for it, as TOML can write no None (on the command line,
        the integer fields that may be None: :func:`kgtransfer.config_adapter.add_arguments`).
        """
        for f in fields(self):
            value, kind = getattr(self, f.name), str(f.type)
            if "None" in kind and not kind.startswith("str") and isinstance(value, str) and value.lower() == "none":
                setattr(self, f.name, value := None)
            if value is None and "None" in kind:
                continue
            if kind.startswith("float") and is_number(value, integer=True):
                setattr(self, f.name, float(value))
            elif kind.startswith("float") and not isinstance(value, float):
                self._fail(f.name, "must be a number")
            elif kind.startswith("int") and not is_number(value, integer=True):
                self._fail(f.name, "must be an integer")
            elif kind.startswith("bool") and not isinstance(value, bool):
                self._fail(f.name, "must be true or false")
            elif kind.startswith("str") and not isinstance(value, str):
                self._fail(f.name, "must be a string")
            elif kind.startswith("dict") and not isinstance(value, dict):
                self._fail(f.name, "must be a table/dict")


#: the largest ``ModelConfig.dim``: far above any published link-prediction model (200 to 2000), far below
#: sizes whose tables cannot be allocated (a dim of 10**12 failed in torch's allocator with a traceback)
MAX_DIM = 2**16
#: the most negatives per triple (``TaskConfig.num_negatives``), as generous as :data:`MAX_DIM`
MAX_NEGATIVES = 2**16
#: the most entities drawn as candidates per step (``TaskConfig.random_candidates``, ``batch_candidates``)
MAX_CANDIDATES = 2**24
#: the largest learning rate and weight decay: float32's largest number (torch's SGD and Adagrad failed on a
#: larger one in their first step with "value cannot be converted to type float without overflow")
MAX_RATE = 3.4028234663852886e38


@dataclass
class ModelConfig(Config):
    """Which encoder and decoder, and their sizes. Saved with every checkpoint.

    ``reciprocal``: score a head query :math:`(?, r, t)` as the tail query :math:`(t, r^{-1}, ?)`
    with a learned inverse-relation row per relation (Lacroix et al., 2018; Dettmers et al., 2018)
    instead of the decoder's ``score_heads``; an encoder that encodes inverse relations itself
    (CompGCN's inverse edge-type vectors) gives those rows instead. Alone, for ComplEx (dim 200, 1-N,
    no regularization), validation MRR moved by +0.020 on UMLS, -0.005 on Kinships and +0.048 on
    Nations; the best
    validation runs of ``benchmarks/link_prediction.py --search`` all use it, with N3. With the
    symmetric DistMult decoder it is what lets a GNN model tell :math:`(h, r, t)` from
    :math:`(t, r, h)`: R-GCN + DistMult on Kinships went from 0.51 to 0.64 test MRR, CompGCN on UMLS
    from 0.66 to 0.85; hence on by default.
    """

    section: ClassVar[str] = "model"

    encoder: str = option("rgcn", "a registered encoder: rgcn, compgcn, embedding")
    decoder: str = option("distmult", "a registered decoder: distmult, complex, rotate, transe")
    dim: int = option(200, f"embedding and hidden size (at most {MAX_DIM})")
    encoder_kwargs: dict = option({}, 'extra encoder arguments, e.g. {"num_layers": 2, "num_bases": 30}')
    decoder_kwargs: dict = option({}, "extra decoder arguments (gamma for RotatE, p for TransE)")
    dropout: float = option(0.0, "dropout on the encoder's entity representations")
    reciprocal: bool = option(
        True,
        "score head queries as tail queries of a learned inverse relation (lets symmetric DistMult tell (h, r, t) "
        "from (t, r, h))",
    )

    def __post_init__(self):
        from kgtransfer.registry import DECODERS, ENCODERS

        self._check_types()
        self._check_name("encoder", ENCODERS)
        self._check_name("decoder", DECODERS)
        self._check_arguments("encoder_kwargs", ENCODERS[self.encoder], given=("num_nodes", "dim", "num_relations"))
        self._check_arguments("decoder_kwargs", DECODERS[self.decoder])
        self._check("dim", self.dim >= 1, "must be >= 1")
        self._check("dim", self.dim <= MAX_DIM, f"must be <= {MAX_DIM} (tables that large do not fit in memory)")
        even = getattr(DECODERS[self.decoder], "needs_even_dim", False)
        self._check("dim", not (even and self.dim % 2), f"must be even for {self.decoder} (dim/2 complex numbers)")
        self._check("dropout", 0.0 <= self.dropout < 1.0, "must be in [0, 1)")


@dataclass
class TrainConfig(Config):
    """How to train. Saved as JSON beside every checkpoint and result.

    To add a setting (e.g. mini-batch sizes), add a field with ``option(default, help)`` and, if it
    has a valid range, a ``self._check`` line in ``__post_init__``; the CLI flags, TOML tables and
    benchmark grids pick it up from here.
    """

    section: ClassVar[str] = "train"

    epochs: int = option(200, "maximum number of epochs")
    lr: float = option(1e-3, "learning rate")
    weight_decay: float = option(0.0, "L2 penalty of the optimizer")
    batch_size: int = option(512, "training examples (queries) per optimizer step")
    grad_clip: float = option(1.0, "clip the global gradient norm to this value; 0 disables")
    eval_every: int = option(5, "evaluate on validation every this many epochs")
    patience: int = option(5, "stop after this many evaluations without improvement; 0 disables")
    device: str = option("auto", "auto (CUDA when present), cpu, cuda, cuda:1, ...")
    amp: bool = option(True, "bf16 autocast of training steps on CUDA (ignored on CPU; validation runs without it)")
    seed: int = option(0, "seeds torch, the shuffles, the negatives and random splits")
    threads: int | None = option(None, "torch intra-op threads; unset: 1 for small graphs, else torch's default")
    progress: bool = option(True, "show a progress bar")
    optimizer: str = option("adam", "a registered optimizer: adam, adagrad, adamw, sgd")

    def __post_init__(self):
        from kgtransfer.registry import OPTIMIZERS

        self._check_types()
        self._check("epochs", self.epochs >= 1, "must be >= 1")
        self._check("lr", self.lr >= 0 and math.isfinite(self.lr), "must be a number >= 0")
        self._check("lr", self.lr <= MAX_RATE, f"must be <= {MAX_RATE:.4g} (float32's largest number)")
        decay = self.weight_decay
        self._check("weight_decay", decay >= 0 and math.isfinite(decay), "must be a number >= 0")
        self._check("weight_decay", decay <= MAX_RATE, f"must be <= {MAX_RATE:.4g} (float32's largest number)")
        self._check("batch_size", self.batch_size >= 1, "must be >= 1")
        self._check("grad_clip", self.grad_clip >= 0, "must be >= 0 (0 disables clipping)")
        self._check("eval_every", self.eval_every >= 1, "must be >= 1")
        self._check("patience", self.patience >= 0, "must be >= 0 (0 disables early stopping)")
        self._check("threads", self.threads is None or self.threads >= 1, "must be >= 1 or unset")
        # each epoch's seed is seed * 1,000,003 + epoch, which torch takes as a 64-bit integer
        self._check("seed", 0 <= self.seed < 2**32, "must lie in [0, 2**32)")
        self._check(
            "device",
            re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", self.device) is not None,
            "must be auto, cpu, cuda, cuda:N or mps",
        )
        self._check_name("optimizer", OPTIMIZERS)


@dataclass
class TaskConfig(Config):
    r"""What link prediction optimizes.

    The 1-N loss is the label-smoothed cross-entropy over all entities of each ``(h, r, ?)`` and
    ``(?, r, t)`` query; negative sampling is :math:`\mathrm{softplus}(-s^+) + \mathrm{softplus}(s^-)`.
    The regularizer is added as ``regularization_weight`` times the mean over the batch's queries of
    the penalty of the factors the decoder declares (:meth:`kgtransfer.models.base.Decoder.factors`):
    N3 :math:`\sum_k |x_k|^3` (Lacroix et al., 2018) or L2 :math:`\sum_k x_k^2`.
    """

    section: ClassVar[str] = "task"
    added: ClassVar[frozenset] = frozenset({"edge_budget"})

    loss: str = option("1-n", "a registered loss: 1-n (cross-entropy over all entities) or negative-sampling")
    label_smoothing: float = option(0.1, "label smoothing of the 1-n loss")
    num_negatives: int = option(32, f"negatives per positive triple (negative-sampling loss; at most {MAX_NEGATIVES})")
    regularizer: str | None = option(None, "a registered regularizer (n3, l2) on the decoder's factors; unset: none")
    regularization_weight: float = option(0.0, "weight of the regularizer")
    eval_batch_size: int = option(512, "queries ranked per evaluation batch")
    mode: str = option(
        "auto",
        "how a step uses the graph: batch (whole-graph encoder per step), full (one step per epoch), sampled "
        "(neighbour-sampled subgraph per step); auto: batch while a whole-graph step fits memory_budget, else sampled",
    )
    fanouts: list | None = option(None, "edges per node and hop of sampled steps; unset: 10 per encoder layer")
    edge_budget: int | None = option(
        64,
        "sampled steps: the most message edges a step samples per training triple of the step (each hop's fanout "
        "is lowered to fit what the hops before it left); bounds a step's encoder work whatever the graph's size; "
        "none: the fanouts alone",
    )
    memory_budget: int = option(2**30, "bytes a whole-graph step may take before auto picks sampled steps")
    random_candidates: int = option(
        256,
        "sampled steps: entities drawn uniformly that every query is scored against besides the step's own heads "
        "and tails (in-batch candidates); bounds a step's scoring work whatever the graph's size",
    )
    batch_candidates: int | None = option(
        None,
        "batch steps of the 1-n loss: score each query against the batch's query entities and known answers plus "
        "this many entities drawn uniformly (sampled 1-N; with an encoder without message passing only those rows "
        "are looked up, row-sparse gradients); unset: against every entity",
    )

    def __post_init__(self):
        from kgtransfer.registry import LOSSES, REGULARIZERS

        self._check_types()
        self._check_name("loss", LOSSES)
        self._check_name("regularizer", REGULARIZERS, allow_none=True)
        self._check("label_smoothing", 0.0 <= self.label_smoothing < 1.0, "must be in [0, 1)")
        self._check("num_negatives", self.num_negatives >= 1, "must be >= 1")
        self._check("num_negatives", self.num_negatives <= MAX_NEGATIVES, f"must be <= {MAX_NEGATIVES}")
        weight = self.regularization_weight
        self._check("regularization_weight", weight >= 0 and math.isfinite(weight), "must be a number >= 0")
        self._check("eval_batch_size", self.eval_batch_size >= 1, "must be >= 1")
        self._check("mode", self.mode in ("auto", "batch", "full", "sampled"), "must be auto, batch, full or sampled")
        fanouts_ok = self.fanouts is None or (
            isinstance(self.fanouts, list | tuple)
            and len(self.fanouts) > 0
            and all(is_number(k, integer=True) and k >= 1 for k in self.fanouts)
        )
        self._check("fanouts", fanouts_ok, "must be a list of integers >= 1, one per layer")
        self._check("edge_budget", self.edge_budget is None or self.edge_budget >= 1, "must be >= 1")
        self._check("memory_budget", self.memory_budget >= 1, "must be >= 1")
        self._check("random_candidates", self.random_candidates >= 0, "must be >= 0")
        self._check("random_candidates", self.random_candidates <= MAX_CANDIDATES, f"must be <= {MAX_CANDIDATES}")
        candidates = self.batch_candidates
        self._check("batch_candidates", candidates is None or candidates >= 0, "must be >= 0")
        self._check(
            "batch_candidates", candidates is None or candidates <= MAX_CANDIDATES, f"must be <= {MAX_CANDIDATES}"
        )
        name = LOSSES.check(self.loss)
        built_in = {LOSSES.check("1-n"): True, LOSSES.check("negative-sampling"): False}  # read without importing torch
        one_to_n = built_in[name] if name in built_in else getattr(LOSSES[name], "batching", None) == "queries"
        if self.regularizer is not None and not one_to_n:
            self._fail("regularizer", "is implemented for the 1-n loss only")
        if self.mode == "sampled" and not one_to_n:
            self._fail("mode", "sampled steps are implemented for the 1-n loss only")
        if self.batch_candidates is not None and not one_to_n:
            self._fail("batch_candidates", "is implemented for the 1-n loss only")


@dataclass
class FinetuneConfig(Config):
    r"""How a pretrained model is fine-tuned on the target graph.

    ``strategy`` names a registered :class:`~kgtransfer.transfer.strategies.Strategy` (``full``,
    ``linear-probe``, ``lp-ft``, ``freeze-N`` such as ``freeze-1``, and whatever else is
    registered); ``options`` holds the strategy's own settings (e.g. ``{"probe_epochs": 10}`` for
    ``lp-ft``). The other fields apply to every strategy.
    """

    section: ClassVar[str] = "finetune"

    strategy: str = option("full", "a registered fine-tuning strategy: full, linear-probe, lp-ft, freeze-N")
    options: dict = option({}, 'options of the strategy, e.g. {"probe_epochs": 10, "ft_lr_scale": 0.1} for lp-ft')
    init: str = option("neighbors", "new rows: mean of transferred neighbours (neighbors) or random")
    transferred_lr_scale: float = option(1.0, "transferred values move at lr * scale (discriminative learning rate)")
    l2sp: float = option(0.0, "weight of the L2-SP pull toward the pretrained values; 0 disables")
    compose: str | None = option(
        None, "structure transfer: compose the transferred encoder with a new one: sum, concat, gate"
    )
    freeze_source: bool = option(True, "with compose, freeze the transferred encoder")

    def __post_init__(self):
        from kgtransfer.registry import COMPOSE, STRATEGIES

        self._check_types()
        freeze = FREEZE_NAME.fullmatch(str(self.strategy).strip().lower())
        try:  # as registered: "LPFT" -> "lp-ft", "Freeze_02" -> "freeze-2"
            self.strategy = f"freeze-{int(freeze.group(1))}" if freeze else STRATEGIES.canonical(self.strategy)
        except RegistryError as e:
            raise ConfigError(f"FinetuneConfig.strategy: {e}") from None
        self._check("init", self.init in ("neighbors", "neighbours", "random"), "must be neighbors or random")
        scale = self.transferred_lr_scale
        self._check("transferred_lr_scale", scale >= 0 and math.isfinite(scale), "must be a number >= 0")
        self._check("l2sp", self.l2sp >= 0 and math.isfinite(self.l2sp), "must be a number >= 0")
        self._check_name("compose", COMPOSE, allow_none=True)


#: A ``freeze-N`` strategy name, lower-cased (``freeze-2``, ``freeze_2``, ``freeze 2``); group 1 is N.
FREEZE_NAME = re.compile(r"freeze[-_ =]?(\d+)")


def strategy_family(name: str) -> str:
    """The registered name of a strategy: ``"freeze-2"`` is ``"freeze-N"``, other names are themselves."""
    return "freeze-N" if FREEZE_NAME.fullmatch(str(name).strip().lower()) else name


def given(**values: Any) -> dict:
    """The keyword arguments that are not None (the shortcuts a caller actually gave)."""
    return {k: v for k, v in values.items() if v is not None}


CONFIGS: tuple[type[Config], ...] = (ModelConfig, TrainConfig, TaskConfig, FinetuneConfig)

#: The argument each config goes in, across ``train``, ``pretrain``, ``finetune``, ``compare`` and ``sequence``.
ARGUMENT_OF: dict[type[Config], str] = {
    ModelConfig: "model",
    TrainConfig: "config",
    TaskConfig: "task",
    FinetuneConfig: "options",
}


def expect(value: Any, cls: type, argument: str, *, also: tuple[type, ...] = ()) -> None:
    """Refuse a ``value`` for ``argument`` that is neither None nor a ``cls`` (or one of ``also``).

    A config of another kind in the slot (``train(kg, TrainConfig())``) is named with the argument it
    belongs in, rather than failing later on a missing attribute.
    """
    if value is None or isinstance(value, (cls, *also)):
        return
    kind = type(value).__name__
    home = ARGUMENT_OF.get(type(value))
    hint = f"; a {kind} goes in {home}=" if home is not None and home != argument else ""
    wanted = " or ".join(c.__name__ for c in (cls, *also))
    raise ConfigError(f"{argument}: expected a {wanted} or None, got {kind}{hint}")


def argument_problem(target, arguments: dict, given: tuple[str, ...] = ()) -> str | None:
    """Why ``target(**arguments)`` would fail on a name or a simple type (None: it would not).

    A misspelled name gets the closest one it takes and the list of the rest (``given``: names set
    elsewhere, left out of the list). A class whose constructor is ``nn.Module``'s own takes none.
    """
    import difflib
    import inspect

    try:
        parameters = inspect.signature(target).parameters
    except (TypeError, ValueError):  # no signature to read: the constructor will say
        return None
    if getattr(getattr(target, "__init__", None), "__qualname__", "") == "Module.__init__":
        parameters = {}  # nn.Module's (*args, **kwargs) forwards to object(): no argument at all
    elif any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
        return None
    takes = [k for k, p in parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    allowed = [k for k in takes if k not in given]
    what = getattr(target, "__name__", target)
    for key, value in arguments.items():
        if key not in takes:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            return f"{what} takes no argument {key!r}{hint}; it takes: {', '.join(allowed) or 'none'}"
        expected = _expected_type(parameters[key].annotation, value)
        if expected is not None:
            return f"{what}'s {key} must be {expected}"
    return None


#: What a constructor argument annotated with these (simple) types accepts, and how an error names it.
_SIMPLE_TYPES = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string", "None": "None"}


def _expected_type(annotation, value) -> str | None:
    """What an argument annotated ``annotation`` must be when ``value`` does not fit it, else None.

    Only simple annotations (``int``, ``float | None``, ``bool``, ``str``) are judged; an int fits ``float``,
    a bool fits only ``bool``. Others (modules, sequences) are left to the constructor.
    """
    kinds = [part.strip() for part in str(annotation).split("|")] if isinstance(annotation, str) else []
    if not kinds or any(kind not in _SIMPLE_TYPES for kind in kinds):
        return None
    fits = {
        "int": is_number(value, integer=True),
        "float": is_number(value),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
        "None": value is None,
    }
    return None if any(fits[kind] for kind in kinds) else " or ".join(_SIMPLE_TYPES[kind] for kind in kinds)
