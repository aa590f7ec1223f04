"""Fine-tuning strategies: objects with a config and hooks, registered by name.

A :class:`Strategy` decides, for each of its phases, which parameters train and how fast; the
fine-tuning loop (:func:`kgtransfer.transfer.finetune.finetune`) runs one :func:`~kgtransfer.engine.fit`
per phase and joins the learning curves. Built in (:data:`kgtransfer.registry.STRATEGIES`):

- ``full``: every parameter trains at ``lr``.
- ``linear-probe``: the encoder is frozen; a new linear head on its entity representations
  (initialized to the identity) and the encoder's relation rows train.
- ``lp-ft``: linear probe for ``probe_epochs``, then everything at ``lr * ft_lr_scale``
  (Kumar et al. 2022: probing first keeps features from being distorted by a random head).
- ``freeze-N`` (e.g. ``freeze-1``): the entity rows and the first N message-passing layers
  (:meth:`~kgtransfer.models.base.Encoder.layers`) are frozen; the rest trains.

The continual strategies (``shrink-perturb``, ``warmup``, ``ewc``, ``replay``, ...) are registered
too; they live in :mod:`kgtransfer.transfer.warm_start` with the hooks of a snapshot sequence.
Adding a strategy is a subclass and a decorator; its constructor arguments are its options
(``FinetuneConfig(strategy="my-strategy", options={"shrink": 0.5})``)::

    import torch

    from kgtransfer.registry import STRATEGIES
    from kgtransfer.transfer.strategies import Phase, Strategy

    @STRATEGIES.register("my-strategy")
    class Noisy(Strategy):
        def __init__(self, shrink: float = 0.5, noise: float = 0.01):
            self.shrink, self.noise = shrink, noise

        def prepare(self, model, phase: Phase) -> None:
            super().prepare(model, phase)  # everything trains (but what the loop froze)
            with torch.no_grad():
                for p in model.parameters():
                    p.mul_(self.shrink).add_(self.noise * torch.randn_like(p))

Hooks: :meth:`Strategy.phases` (one or more :class:`Phase`: a name and its TrainConfig; a new phase
gets a new optimizer), :meth:`Strategy.prepare` (set ``requires_grad``, add modules, perturb
weights before a phase), :meth:`Strategy.param_groups` (the optimizer's parameter groups),
:meth:`Strategy.penalty` (a term added to the loss, e.g. EWC) and :meth:`Strategy.on_epoch` (after
every epoch, e.g. to refresh a replay buffer).
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from kgtransfer.config import ConfigError, TrainConfig, strategy_family
from kgtransfer.device import model_device
from kgtransfer.errors import is_number
from kgtransfer.registry import STRATEGIES


@dataclass(frozen=True)
class Phase:
    """One stretch of training with its own optimizer.

    Attributes:
        name: e.g. ``"train"``, ``"probe"``, ``"finetune"``.
        config: the training settings of the phase.
    """

    name: str
    config: TrainConfig


class Strategy:
    """Base fine-tuning strategy: one phase in which every parameter trains.

    Attributes:
        fixed: the parameters frozen before the strategy started (e.g. a frozen composed source
            encoder); no phase unfreezes them. Set by :meth:`start`.
    """

    fixed: frozenset[int] = frozenset()

    def start(self, model: nn.Module) -> None:
        """Called once before the first phase: remember what the fine-tuning loop froze."""
        self.fixed = frozenset(id(p) for p in model.parameters() if not p.requires_grad)

    def phases(self, config: TrainConfig) -> list[Phase]:
        """The phases to run (default: one, ``"train"``, with ``config``)."""
        return [Phase("train", config)]

    def prepare(self, model: nn.Module, phase: Phase) -> None:
        """Set what trains in ``phase`` (default: every parameter but the :attr:`fixed` ones)."""
        for p in model.parameters():
            p.requires_grad_(id(p) not in self.fixed)

    def param_groups(self, model: nn.Module, phase: Phase) -> list[dict]:
        """The optimizer's parameter groups (default: one group of the trainable parameters)."""
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ConfigError(f"strategy {self!r} leaves no parameter to train in phase {phase.name!r}")
        return [{"params": params}]

    def penalty(self, model: nn.Module) -> Tensor | float:
        """A term added to every batch loss (default: 0)."""
        return 0.0

    def on_epoch(self, epoch: int, model: nn.Module) -> None:
        """Called after every epoch of every phase."""

    def options(self) -> dict:
        """The constructor arguments, for the saved info."""
        names = list(inspect.signature(type(self).__init__).parameters)[1:]
        return {n: getattr(self, n) for n in names if hasattr(self, n)}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
        return f"{type(self).__name__}({args})"


class Full(Strategy):
    """Every parameter trains at ``lr``."""

    def __init__(self):
        pass


def identity_head(dim: int) -> nn.Linear:
    """A ``dim -> dim`` linear head that starts as the identity (how a linear probe starts)."""
    head = nn.Linear(dim, dim)
    with torch.no_grad():
        head.weight.copy_(torch.eye(dim))
        head.bias.zero_()
    return head


def set_probe(model: nn.Module, fixed: frozenset[int] = frozenset()) -> None:
    """Freeze what was transferred; train a new identity-initialized linear head and the relation rows.

    Uses the model's declared ``head`` (on entity representations) and its relation rows (the
    encoder's :meth:`~kgtransfer.models.base.Encoder.relation_rows` and a reciprocal model's
    inverse-relation rows). A composition's new parts (:math:`F_2` and the combiners) are new as the
    head is, and train too. Parameters in ``fixed`` (ids, e.g. a frozen composed source encoder's)
    stay frozen.
    """
    from kgtransfer.transfer.structure import new_parts

    for p in model.parameters():
        p.requires_grad_(False)
    model.head = identity_head(model.encoder.dim).to(model_device(model.encoder))
    kinds = model.row_parameters() if hasattr(model, "row_parameters") else {}
    trained = {id(p) for part in [model.head, *new_parts(model.encoder)] for p in part.parameters()}
    for name, p in model.named_parameters():
        if (id(p) in trained or kinds.get(name) == "relation") and id(p) not in fixed:
            p.requires_grad_(True)


class LinearProbe(Strategy):
    """The encoder is frozen; a new linear head and the relation rows train."""

    def __init__(self):
        pass

    def prepare(self, model: nn.Module, phase: Phase) -> None:
        """Freeze all but the probe."""
        set_probe(model, self.fixed)


class LinearProbeThenFinetune(Strategy):
    """Linear probe, then everything at a lower learning rate (LP-FT, Kumar et al. 2022).

    Args:
        probe_epochs: epochs of the probe phase (default: a quarter of ``epochs``, at least 1).
        ft_lr_scale: the full phase runs at ``lr * ft_lr_scale`` (default: 0.1).
    """

    def __init__(self, probe_epochs: int | None = None, ft_lr_scale: float = 0.1):
        if probe_epochs is not None and (not is_number(probe_epochs, integer=True) or probe_epochs < 1):
            raise ConfigError(f"lp-ft: probe_epochs must be an integer >= 1, got {probe_epochs!r}")
        if not is_number(ft_lr_scale) or not ft_lr_scale > 0:
            raise ConfigError(f"lp-ft: ft_lr_scale must be a number > 0, got {ft_lr_scale!r}")
        self.probe_epochs, self.ft_lr_scale = probe_epochs, ft_lr_scale

    def phases(self, config: TrainConfig) -> list[Phase]:
        """Probe for ``probe_epochs``, then fine-tune for the rest of ``epochs`` (the two add up to ``epochs``).

        Raises:
            ConfigError: ``epochs`` leaves no epoch for one of the phases.
        """
        probe_epochs = self.probe_epochs or max(config.epochs // 4, 1)
        if config.epochs <= probe_epochs:
            raise ConfigError(
                f"lp-ft: epochs ({config.epochs}) must exceed the probe's {probe_epochs} epoch(s), "
                "so that the fine-tuning phase gets at least one"
            )
        probe = replace(config, epochs=probe_epochs)
        rest = replace(config, lr=config.lr * self.ft_lr_scale, epochs=config.epochs - probe_epochs)
        return [Phase("probe", probe), Phase("finetune", rest)]

    def prepare(self, model: nn.Module, phase: Phase) -> None:
        """The probe in the first phase, everything (but the fixed parameters) in the second."""
        if phase.name == "probe":
            set_probe(model, self.fixed)
        else:
            super().prepare(model, phase)


class Freeze(Strategy):
    """The entity rows and the first ``layers`` message-passing layers are frozen; the rest trains.

    Of a composition, those of the transferred encoder :math:`F_1`: the new :math:`F_2` trains whole.

    Args:
        layers: how many layers, counted from the input, stay frozen (default: 1).
    """

    def __init__(self, layers: int = 1):
        if not is_number(layers, integer=True) or layers < 0:
            raise ConfigError(f"freeze-N: N must be an integer >= 0, got {layers!r}")
        self.layers = layers

    def prepare(self, model: nn.Module, phase: Phase) -> None:
        """Freeze the (transferred) encoder's declared entity rows and its first layers."""
        from kgtransfer.transfer.structure import transferred_part

        super().prepare(model, phase)
        encoder = transferred_part(model.encoder)
        params = dict(encoder.named_parameters())
        for name, kind in encoder.row_parameters().items():
            if kind == "entity" and name in params:
                params[name].requires_grad_(False)
        layers = encoder.layers()
        if layers and self.layers > len(layers):  # an encoder without layers (embedding) freezes its rows only
            raise ConfigError(
                f"freeze-{self.layers}: {type(encoder).__name__} has {len(layers)} message-passing layers; "
                f"freeze-{len(layers)} freezes them all"
            )
        for layer in layers[: self.layers]:
            for p in layer.parameters():
                p.requires_grad_(False)


def build_with_options(cls: type, label: str, options: dict):
    """``cls(**options)``; an option of the wrong type is a ConfigError naming the strategy, not a TypeError."""
    try:
        return cls(**options)
    except (TypeError, ValueError) as e:
        if isinstance(e, ConfigError):
            raise
        raise ConfigError(f"strategy {label!r}: options {options} do not fit ({e})") from None


def make_strategy(name: str | Strategy, options: dict | None = None) -> Strategy:
    """The strategy registered as ``name`` built with ``options``; ``"freeze-2"`` is ``Freeze(layers=2)``.

    Raises:
        RegistryError: the name is not registered (the message lists the choices).
        ConfigError: an option the strategy does not take, or options beside a built Strategy (they were ignored).
    """
    if isinstance(name, Strategy):
        if options:
            raise ConfigError(
                f"options {sorted(options)} beside a {type(name).__name__} object: a built strategy has its options "
                "already; pass them to its constructor, or name the strategy instead"
            )
        return name
    options = dict(options or {})
    cls = STRATEGIES[strategy_family(name)]
    if cls is Freeze and (m := re.search(r"(\d+)$", name.strip())) is not None:
        options.setdefault("layers", int(m.group(1)))
    accepted = set(list(inspect.signature(cls.__init__).parameters)[1:])
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ConfigError(f"strategy {name!r} has no option(s) {unknown}; it takes: {sorted(accepted) or 'none'}")
    return build_with_options(cls, name, options)
