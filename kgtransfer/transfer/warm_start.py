r"""Strategies for carrying a model from one snapshot of a growing graph to the next.

A model trained on step :math:`i-1` is moved onto step :math:`i`'s vocabulary by IRI (new rows
from their transferred neighbours, see :mod:`kgtransfer.transfer.weights`) and trained again. A
warm start of this kind tends to generalize slightly worse than a fresh start on the same data
(Ash & Adams, NeurIPS 2020); each strategy targets that gap or forgetting, through four hooks:

- :meth:`Strategy.prepare` changes the weights before training (shrink-and-perturb, random rows);
- :meth:`Strategy.rows` picks the training triples (replay of old triples);
- :meth:`Strategy.penalty` adds a term to the loss (EWC, L2-SP);
- :meth:`Strategy.attach` hooks into the optimizer and the epochs (warm-up, freezing, discriminative lr).

Strategies (``name``: formula):

- ``fine-tune``: plain continued training from the transferred weights (informed init of new rows).
- ``random-init``: as ``fine-tune`` but new rows keep a random init.
- ``shrink-perturb``: :math:`\theta \leftarrow \lambda\,\theta + \sigma\,\theta_{\text{fresh}}` on every
  parameter, :math:`\theta_{\text{fresh}}` a fresh initialization (Ash & Adams 2020).
- ``warmup``: a fresh optimizer whose learning rate rises linearly over the first ``epochs`` epochs.
- ``ewc``: :math:`\lambda \sum_k F_k (\theta_k - \theta^{*}_k)^2` over transferred values, :math:`F`
  the diagonal empirical Fisher (squared batch gradients) of the old training triples at
  :math:`\theta^{*}`, the previous step's weights (Kirkpatrick et al. 2017).
- ``l2sp``: the same with :math:`F = 1` (Li et al. 2018).
- ``replay``: each epoch trains on the step's triples plus a fresh seeded sample of ``fraction`` of the
  old training triples. Under the merged protocol it trains on the *new* triples plus that sample
  instead of on everything.
- ``freeze-unfreeze``: transferred rows and parameters are frozen for the first ``epochs`` epochs (new rows
  settle first), then everything trains.
- ``discriminative``: transferred values move at ``lr * scale``.

Strategies combine with ``+``: ``"shrink-perturb+replay"`` applies both, hooks in that order.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import ClassVar

import torch
from torch import Tensor, nn

from kgtransfer.errors import RegistryError


@dataclass
class StepContext:
    """What a strategy sees at one step.

    Attributes:
        model: the transferred model over the step's vocabulary (trained in place).
        fresh: a freshly initialized model of the same shape.
        transferred: per parameter name, a bool row mask (0-d for shared parameters) of what was transferred.
        protocol: ``"merged"`` or ``"new-only"``.
        new: the step's new training triples ``[n, 3]``.
        old: the training triples of earlier steps ``[m, 3]``.
        task: the training task (its ``loss`` gives gradients for the Fisher).
        seed: the run's seed.
    """

    model: nn.Module
    fresh: nn.Module
    transferred: dict[str, Tensor]
    protocol: str
    new: Tensor
    old: Tensor
    task: object = None
    seed: int = 0
    info: dict = field(default_factory=dict)


class Strategy:
    """Base class: a named continual-learning strategy with a dataclass config; every hook is a no-op."""

    name: ClassVar[str] = "fine-tune"
    Config: ClassVar[type] = None

    def __init__(self, config=None, **options):
        if self.Config is None:
            if options:
                raise TypeError(f"{self.name} takes no options, got {sorted(options)}")
            self.config = None
        else:
            self.config = config or self.Config(**options)

    def prepare(self, ctx: StepContext) -> None:
        """Change the transferred weights before training."""

    def rows(self, ctx: StepContext, epoch: int) -> Tensor | None:
        """Extra training triples for ``epoch`` (None: none)."""
        return None

    def replaces_old(self, ctx: StepContext) -> bool:
        """Whether, under the merged protocol, training uses the new triples plus :meth:`rows` only."""
        return False

    def penalty(self, ctx: StepContext) -> nn.Module | None:
        """A loss term ``module() -> Tensor`` added to every batch's loss (None: none)."""
        return None

    def attach(self, ctx: StepContext, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> list:
        """Hooks on ``optimizer``; returns ``on_epoch_end(epoch, model)`` callbacks."""
        return []

    def to_json(self) -> dict:
        """``{"name": ..., **config}``."""
        return {"name": self.name, **(asdict(self.config) if self.config is not None else {})}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in asdict(self.config).items()) if self.config is not None else ""
        return f"{type(self).__name__}({args})"


class FineTune(Strategy):
    """Plain continued training from the transferred weights."""

    name = "fine-tune"


class RandomInit(Strategy):
    """New rows keep a random init (the informed init is every other strategy's default)."""

    name = "random-init"

    def prepare(self, ctx):
        """See :meth:`Strategy.prepare`."""
        fresh = dict(ctx.fresh.named_parameters())
        with torch.no_grad():
            for name, p in ctx.model.named_parameters():
                mask = ctx.transferred.get(name)
                if mask is not None and mask.dim() == 1:
                    p[~mask] = fresh[name][~mask]


@dataclass
class ShrinkPerturbConfig:
    r"""Shrink-and-perturb.

    Attributes:
        shrink: :math:`\\lambda`, the factor on the transferred weights (default: 0.4).
        perturb: :math:`\\sigma`, the factor on a fresh initialization (default: 0.1).
    """

    shrink: float = 0.4
    perturb: float = 0.1

    def __post_init__(self):
        if not (0 < self.shrink <= 1 and 0 <= self.perturb <= 1):
            raise ValueError(f"shrink must lie in (0, 1] and perturb in [0, 1], got {self.shrink}, {self.perturb}")


class ShrinkPerturb(Strategy):
    r""":math:`\theta \leftarrow \lambda\,\theta + \sigma\,\theta_{\text{fresh}}` on every parameter."""

    name = "shrink-perturb"
    Config = ShrinkPerturbConfig

    def prepare(self, ctx):
        """See :meth:`Strategy.prepare`."""
        fresh = dict(ctx.fresh.named_parameters())
        with torch.no_grad():
            for name, p in ctx.model.named_parameters():
                p.mul_(self.config.shrink).add_(fresh[name], alpha=self.config.perturb)


@dataclass
class WarmupConfig:
    """Optimizer reset with a linear learning-rate warm-up.

    Attributes:
        epochs: epochs over which the learning rate rises from ``lr / steps`` to ``lr`` (default: 1.0).
    """

    epochs: float = 1.0

    def __post_init__(self):
        if self.epochs <= 0:
            raise ValueError(f"warm-up epochs must be > 0, got {self.epochs}")


class Warmup(Strategy):
    """A fresh optimizer (as every step has) whose learning rate rises linearly at first."""

    name = "warmup"
    Config = WarmupConfig

    def attach(self, ctx, optimizer, steps_per_epoch):
        """See :meth:`Strategy.attach`."""
        total = max(1, round(self.config.epochs * steps_per_epoch))
        base = [g["lr"] for g in optimizer.param_groups]
        count = [0]

        def before(opt, args, kwargs):
            count[0] += 1
            factor = min(1.0, count[0] / total)
            for group, lr in zip(opt.param_groups, base, strict=True):
                group["lr"] = lr * factor

        optimizer.register_step_pre_hook(before)
        return []


@dataclass
class PenaltyConfig:
    r"""A quadratic pull toward the previous step's weights.

    Attributes:
        weight: :math:`\\lambda` (default: 0.01 for L2-SP, see :class:`EWCConfig` for EWC).
    """

    weight: float = 0.01

    def __post_init__(self):
        if self.weight < 0:
            raise ValueError(f"weight must be >= 0, got {self.weight}")


@dataclass
class EWCConfig(PenaltyConfig):
    r"""EWC.

    Attributes:
        weight: :math:`\\lambda` (default: 10.0).
        batches: old-triple batches that estimate the Fisher (default: 20).
    """

    weight: float = 10.0
    batches: int = 20


class AnchorPenalty(nn.Module):
    r""":math:`\lambda \sum_k w_k (\theta_k - \theta^{*}_k)^2` over the transferred entries."""

    def __init__(self, model: nn.Module, transferred: dict[str, Tensor], weight: float, importance=None):
        super().__init__()
        self.weight = weight
        params = dict(model.named_parameters())
        self.terms = []
        for name, mask in transferred.items():
            if name not in params:
                continue
            p = params[name]
            w = importance[name] if importance is not None else torch.ones_like(p)
            w = w * (mask.to(w.dtype) if mask.dim() == 0 else mask.to(w.dtype).view(-1, *[1] * (p.dim() - 1)))
            self.terms.append((p, p.detach().clone(), w))

    def forward(self) -> Tensor:
        """The penalty's value."""
        total = sum(((p - anchor) ** 2 * w).sum() for p, anchor, w in self.terms)
        return self.weight * total


class L2SP(Strategy):
    """L2-SP: a uniform quadratic pull of transferred values toward the previous step's."""

    name = "l2sp"
    Config = PenaltyConfig

    def penalty(self, ctx):
        """See :meth:`Strategy.penalty`."""
        return AnchorPenalty(ctx.model, ctx.transferred, self.config.weight)


class EWC(Strategy):
    """EWC: the pull weighted by the diagonal empirical Fisher of the old triples."""

    name = "ewc"
    Config = EWCConfig

    def penalty(self, ctx):
        """See :meth:`Strategy.penalty`."""
        fisher = empirical_fisher(ctx.model, ctx.task, ctx.old, self.config.batches, ctx.seed)
        return AnchorPenalty(ctx.model, ctx.transferred, self.config.weight, fisher)


def empirical_fisher(model: nn.Module, task, rows: Tensor, batches: int, seed: int = 0) -> dict[str, Tensor]:
    """Mean squared batch gradient of ``task``'s loss on up to ``batches`` batches of the 1-N queries of ``rows``.

    Normalized so the largest entry of each parameter is 1.
    """
    out = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    if not len(rows):
        return out
    queries = task.queries_of(rows)
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(queries), generator=generator)
    size = max(1, len(queries) // max(batches, 1))
    model.train()
    for start in range(0, min(len(queries), size * batches), size):
        model.zero_grad(set_to_none=True)
        task.base_loss(model, queries[order[start : start + size]].to(task.device)).backward()
        for name, p in model.named_parameters():
            if p.grad is not None:
                out[name] += p.grad.detach() ** 2
    model.zero_grad(set_to_none=True)
    for name, f in out.items():
        out[name] = f / f.max().clamp_min(1e-30)
    return out


@dataclass
class ReplayConfig:
    """Replay of old training triples.

    Attributes:
        fraction: share of the old training triples drawn afresh each epoch (default: 0.1).
    """

    fraction: float = 0.1

    def __post_init__(self):
        if not 0 < self.fraction <= 1:
            raise ValueError(f"fraction must lie in (0, 1], got {self.fraction}")


class Replay(Strategy):
    """Each epoch: the step's triples plus a fresh sample of the old ones."""

    name = "replay"
    Config = ReplayConfig

    def rows(self, ctx, epoch):
        """See :meth:`Strategy.rows`."""
        n = len(ctx.old)
        k = min(n, max(1 if n else 0, round(self.config.fraction * n)))
        generator = torch.Generator().manual_seed(ctx.seed * 1_000_003 + epoch)
        return ctx.old[torch.randperm(n, generator=generator)[:k]]

    def replaces_old(self, ctx):
        """See :meth:`Strategy.replaces_old`."""
        return True


@dataclass
class FreezeConfig:
    """Freeze then unfreeze.

    Attributes:
        epochs: epochs during which transferred values are frozen (default: 2).
    """

    epochs: int = 2


class Freeze(Strategy):
    """Transferred values frozen for the first epochs: gradients of their rows are zeroed."""

    name = "freeze-unfreeze"
    Config = FreezeConfig

    def attach(self, ctx, optimizer, steps_per_epoch):
        """See :meth:`Strategy.attach`."""
        params = dict(ctx.model.named_parameters())
        handles = []
        for name, mask in ctx.transferred.items():
            if name in params and params[name].requires_grad:
                keep = (~mask).to(params[name].dtype)
                keep = keep if mask.dim() == 0 else keep.view(-1, *[1] * (params[name].dim() - 1))
                handles.append(params[name].register_hook(lambda g, k=keep: g * k.to(g.device)))

        def on_epoch_end(epoch, model):
            if epoch == self.config.epochs:
                for h in handles:
                    h.remove()
                handles.clear()

        if self.config.epochs <= 0:
            on_epoch_end(0, ctx.model)
        return [on_epoch_end]


@dataclass
class DiscriminativeConfig:
    """Discriminative learning rate.

    Attributes:
        scale: transferred values move at ``lr * scale`` (default: 0.3).
    """

    scale: float = 0.3


class Discriminative(Strategy):
    """Transferred values move at ``lr * scale``, new rows at ``lr``."""

    name = "discriminative"
    Config = DiscriminativeConfig

    def attach(self, ctx, optimizer, steps_per_epoch):
        """See :meth:`Strategy.attach`."""
        from kgtransfer.transfer.finetune import _discriminative

        _discriminative(optimizer, ctx.model, ctx.transferred, self.config.scale)
        return []


class Combined(Strategy):
    """Several strategies applied together, hooks in order (``"a+b"``)."""

    def __init__(self, parts: list[Strategy]):
        self.parts = parts
        self.config = None

    @property
    def name(self) -> str:  # type: ignore[override]
        """The parts' names joined by ``+``."""
        return "+".join(p.name for p in self.parts)

    def prepare(self, ctx):
        """See :meth:`Strategy.prepare`."""
        for p in self.parts:
            p.prepare(ctx)

    def rows(self, ctx, epoch):
        """See :meth:`Strategy.rows`."""
        got = [r for p in self.parts if (r := p.rows(ctx, epoch)) is not None]
        return torch.cat(got) if got else None

    def replaces_old(self, ctx):
        """See :meth:`Strategy.replaces_old`."""
        return any(p.replaces_old(ctx) for p in self.parts)

    def penalty(self, ctx):
        """See :meth:`Strategy.penalty`."""
        terms = [t for p in self.parts if (t := p.penalty(ctx)) is not None]
        if not terms:
            return None
        return terms[0] if len(terms) == 1 else _Sum(terms)

    def attach(self, ctx, optimizer, steps_per_epoch):
        """See :meth:`Strategy.attach`."""
        return [cb for p in self.parts for cb in p.attach(ctx, optimizer, steps_per_epoch)]

    def to_json(self):
        """See :meth:`Strategy.to_json`."""
        return {"name": self.name, "parts": [p.to_json() for p in self.parts]}

    def __repr__(self):
        return " + ".join(repr(p) for p in self.parts)


class _Sum(nn.Module):
    def __init__(self, terms):
        super().__init__()
        self.terms = nn.ModuleList(terms)

    def forward(self):
        """The penalty's value."""
        return sum(t() for t in self.terms)


STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (FineTune, RandomInit, ShrinkPerturb, Warmup, EWC, L2SP, Replay, Freeze, Discriminative)
}


def strategy(spec, **options) -> Strategy:
    """A strategy from a name (``"shrink-perturb"``), a ``"+"``-joined combination, a dict or a Strategy.

    Args:
        spec: ``"ewc"``, ``"shrink-perturb+replay"``, ``{"name": "ewc", "weight": 5.0}``, or a Strategy.
        **options: config fields of a single named strategy.
    """
    if isinstance(spec, Strategy):
        return spec
    if isinstance(spec, dict):
        spec = dict(spec)
        name = spec.pop("name")
        if "parts" in spec:
            return Combined([strategy(p) for p in spec["parts"]])
        return strategy(name, **spec)
    key = str(spec).strip().lower().replace("_", "-")
    if "+" in key:
        return Combined([strategy(part) for part in key.split("+")])
    key = {"finetune": "fine-tune", "full": "fine-tune", "l2-sp": "l2sp", "shrink-and-perturb": "shrink-perturb"}.get(
        key, key
    )
    if key not in STRATEGIES:
        raise RegistryError(f"unknown strategy {spec!r}; choose from {', '.join(STRATEGIES)} (joined with '+')")
    cls = STRATEGIES[key]
    names = {f.name for f in fields(cls.Config)} if cls.Config is not None else set()
    unknown = set(options) - names
    if unknown:
        raise TypeError(f"{key} has no option {sorted(unknown)}; its options: {sorted(names)}")
    return cls(**options)


#: ``kgt.continual_strategy``: the public name of :func:`strategy`.
continual_strategy = strategy
