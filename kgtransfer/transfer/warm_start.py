r"""Strategies for carrying a model from one snapshot of a growing graph to the next.

A model trained on step :math:`i-1` is moved onto step :math:`i`'s vocabulary by IRI (new rows
from their transferred neighbours, see :mod:`kgtransfer.transfer.weights`) and trained again. A
warm start of this kind tends to generalize slightly worse than a fresh start on the same data
(Ash & Adams, NeurIPS 2020); each strategy targets that gap or forgetting. They are
:class:`~kgtransfer.transfer.strategies.Strategy` objects registered in
:data:`kgtransfer.registry.STRATEGIES` (their constructor arguments are their options), with four
hooks for :func:`kgtransfer.sequence`:

- :meth:`ContinualStrategy.prepare_step` changes the weights before training (shrink-and-perturb, random rows);
- :meth:`ContinualStrategy.rows` picks extra training triples per epoch (replay of old triples);
- :meth:`ContinualStrategy.step_penalty` adds a term to the loss (EWC, L2-SP);
- :meth:`ContinualStrategy.attach` hooks into the optimizer and the epochs (warm-up, freezing,
  discriminative lr);
- :meth:`ContinualStrategy.validator` replaces the validation metric that early stopping and the
  curves see, and :meth:`ContinualStrategy.finish_step` sets the step's model after training
  (interpolation with the previous step's model).

Strategies (``name``: formula):

- ``fine-tune``: plain continued training from the transferred weights (informed init of new rows).
- ``random-init``: as ``fine-tune`` but new rows keep a random init.
- ``shrink-perturb``: :math:`\theta \leftarrow \lambda\,\theta + \sigma\,\theta_{\text{fresh}}` on every
  parameter, :math:`\theta_{\text{fresh}}` a fresh initialization (Ash & Adams 2020).
- ``warmup``: a fresh optimizer whose learning rate rises linearly over the first ``epochs`` epochs.
- ``rewarm``: the first ``epochs`` epochs at ``peak`` times the learning rate, then (linearly over
  ``decay`` epochs) back to it.
- ``ewc``: :math:`\lambda \sum_k F_k (\theta_k - \theta^{*}_k)^2` over transferred values, :math:`F`
  the diagonal empirical Fisher (squared batch gradients) of the old training triples at
  :math:`\theta^{*}`, the previous step's weights (Kirkpatrick et al. 2017).
- ``l2sp``: the same with :math:`F = 1` (Li et al. 2018).
- ``replay``: each epoch trains on the step's triples plus a fresh seeded sample of ``fraction`` of the
  old training triples. Under the merged protocol it trains on the *new* triples plus that sample
  instead of on everything.
- ``freeze-unfreeze``: transferred rows and parameters are frozen for the first ``epochs`` epochs
  (new rows settle first), then everything trains.
- ``discriminative``: transferred values move at ``lr * scale``.
- ``carry-moments``: the optimizer starts from the previous step's Adam moments and step count
  (aligned by IRI like the weights) instead of a fresh state.
- ``query-init``: a new entity row starts as :math:`\rho\, u / \lVert u \rVert`, :math:`u` the gradient of
  the summed scores of its training triples whose other end is known (bilinear decoders: their query vectors).
- ``interpolate``: at each validation, :math:`\theta_\alpha = \alpha\,\theta_{i-1} + (1-\alpha)\,\theta`
  for each :math:`\alpha` of a small grid; the validation metric is the best of them, and the
  step's model is :math:`\theta_\alpha` at the best (epoch, :math:`\alpha`) (WiSE-FT, Wortsman et al. 2022).

Strategies combine with ``+``: ``"shrink-perturb+replay"`` applies both, hooks in that order.
Only ``fine-tune`` and ``shrink-perturb`` also run in a single :func:`kgtransfer.finetune`; the
others need a sequence's old triples or transferred masks and say so.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from kgtransfer.config import ConfigError
from kgtransfer.errors import RegistryError, is_number
from kgtransfer.registry import STRATEGIES, normalize
from kgtransfer.transfer.strategies import Phase, Strategy


@dataclass
class StepContext:
    """What a strategy sees at one step of a sequence.

    Attributes:
        model: the transferred model over the step's vocabulary (trained in place).
        fresh: a freshly initialized model of the same shape.
        transferred: per parameter name, a bool row mask (0-d for shared parameters) of what was transferred.
        protocol: ``"merged"`` or ``"new-only"``.
        new: the step's new training triples ``[n, 3]``.
        old: the training triples of earlier steps ``[m, 3]``.
        task: the training task (its ``base_loss`` gives gradients for the Fisher).
        seed: the run's seed.
        info: what a strategy reports about the step (saved with the step's record).
        previous: ``(aligned, masks)``: the previous step's weights laid out like ``model``'s state
            dict, and per name the rows it has (see
            :func:`~kgtransfer.transfer.weights.aligned_source_state`); None when there is none.
        moments: for a strategy with ``carries_moments``: the previous step's Adam state aligned
            like ``previous``, ``{name: {"step", "exp_avg", "exp_avg_sq", "rows"}}`` (zero moments
            on rows the previous step lacked); None otherwise.
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
    previous: tuple[dict, dict] | None = None
    moments: dict | None = None

    def to(self, device: torch.device) -> StepContext:
        """Move the models, the task and every tensor to ``device``, where the step trains (in place).

        A strategy's hooks keep what they make from these (anchors, probes, optimizer state), so they
        must see them where :func:`~kgtransfer.engine.fit` will train.
        """

        def move(value):
            if isinstance(value, Tensor):
                return value.to(device)
            if isinstance(value, dict):
                return {k: move(v) for k, v in value.items()}
            if isinstance(value, tuple):
                return tuple(move(v) for v in value)
            return value

        self.model.to(device)
        self.fresh.to(device)
        if hasattr(self.task, "to"):
            self.task = self.task.to(device)
        self.transferred, self.new, self.old = move(self.transferred), move(self.new), move(self.old)
        self.previous, self.moments = move(self.previous), move(self.moments)
        return self


class ContinualStrategy(Strategy):
    """A fine-tuning strategy with the hooks of a snapshot sequence (every hook a no-op here).

    ``sequence_only`` strategies refuse a single :func:`kgtransfer.finetune` run with a clear error.
    """

    name = "fine-tune"
    sequence_only = False

    def _require(self, ok: bool, what: str, *values) -> None:
        """Raise :class:`ConfigError` ``"NAME: WHAT, got VALUES"`` unless ``ok`` (checks of constructor options)."""
        if not ok:
            raise ConfigError(f"{self.name}: {what}, got {', '.join(map(str, values))}")

    def start(self, model: nn.Module) -> None:
        """Refuse a single fine-tuning run when the strategy needs a sequence."""
        if self.sequence_only:
            raise ConfigError(
                f"strategy {self.name!r} needs a snapshot sequence (old triples, transferred rows): "
                "use kgt.sequence([...], strategies=[...])"
            )
        super().start(model)

    def check_model(self, model: nn.Module) -> None:
        """Refuse, before any training, a model the strategy cannot work on (raise :class:`ConfigError`)."""

    def prepare_step(self, ctx: StepContext) -> None:
        """Change the transferred weights before training."""

    def rows(self, ctx: StepContext, epoch: int) -> Tensor | None:
        """Extra training triples for ``epoch`` (None: none)."""
        return None

    def replaces_old(self) -> bool:
        """Whether, under the merged protocol, training uses the new triples plus :meth:`rows` only."""
        return False

    def step_penalty(self, ctx: StepContext) -> nn.Module | None:
        """A loss term ``module() -> Tensor`` added to every batch's loss (None: none)."""
        return None

    def attach(self, ctx: StepContext, optimizer: torch.optim.Optimizer, steps_per_epoch: int) -> list:
        """Hooks on ``optimizer``; returns ``on_epoch_end(epoch, model)`` callbacks."""
        return []

    def validator(self, ctx: StepContext):
        """``validate(model, evaluate) -> metrics`` that replaces plain validation (None: plain).

        ``evaluate(m)`` gives the plain validation metrics of a model ``m``. What the validator
        spends beyond one such evaluation counts as training time.
        """
        return None

    def finish_step(self, ctx: StepContext, result) -> None:
        """After training (``result``: the :class:`~kgtransfer.engine.FitResult`, its best epoch loaded)."""

    def to_json(self) -> dict:
        """``{"name": ..., **options}``."""
        return {"name": self.name, **self.options()}


class FineTune(ContinualStrategy):
    """Plain continued training from the transferred weights."""

    name = "fine-tune"

    def __init__(self):
        pass


class RandomInit(ContinualStrategy):
    """New rows keep a random init (the informed init is every other strategy's default)."""

    name = "random-init"
    sequence_only = True

    def __init__(self):
        pass

    def prepare_step(self, ctx):
        """New rows back to the fresh model's values."""
        fresh = dict(ctx.fresh.named_parameters())
        with torch.no_grad():
            for name, p in ctx.model.named_parameters():
                mask = ctx.transferred.get(name)
                if mask is not None and mask.dim() == 1:
                    p[~mask] = fresh[name][~mask]


def fresh_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every submodule's ``reset_parameters()`` called (a fresh initialization)."""
    fresh = copy.deepcopy(model)
    for module in fresh.modules():
        if module is not fresh and hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return fresh


class ShrinkPerturb(ContinualStrategy):
    r""":math:`\theta \leftarrow \lambda\,\theta + \sigma\,\theta_{\text{fresh}}` on every parameter.

    Args:
        shrink: :math:`\lambda`, the factor on the transferred weights (default: 0.4).
        perturb: :math:`\sigma`, the factor on a fresh initialization (default: 0.1).
    """

    name = "shrink-perturb"

    def __init__(self, shrink: float = 0.4, perturb: float = 0.1):
        ok = 0 < shrink <= 1 and 0 <= perturb <= 1
        self._require(ok, "shrink must lie in (0, 1] and perturb in [0, 1]", shrink, perturb)
        self.shrink, self.perturb = shrink, perturb

    def _mix(self, model: nn.Module, fresh: nn.Module) -> None:
        other = dict(fresh.named_parameters())
        with torch.no_grad():
            for name, p in model.named_parameters():
                p.mul_(self.shrink).add_(other[name], alpha=self.perturb)

    def prepare_step(self, ctx):
        """Shrink the transferred model and add the perturbation."""
        self._mix(ctx.model, ctx.fresh)

    def start(self, model: nn.Module) -> None:
        """A new fine-tuning run: it shrinks and perturbs once more (a reused object did not)."""
        super().start(model)
        self._done = False

    def prepare(self, model: nn.Module, phase: Phase) -> None:
        """In a single fine-tuning run: shrink and perturb once, before the first phase."""
        super().prepare(model, phase)
        if not getattr(self, "_done", False):
            self._mix(model, fresh_copy(model))
            self._done = True


class Warmup(ContinualStrategy):
    r"""A fresh optimizer (as every step has) whose learning rate rises linearly, at once or after a delay.

    With :math:`S` optimizer steps per epoch, :math:`a` = ``after`` and :math:`w` = ``epochs``, step
    :math:`s = 1, 2, \dots` runs at

    .. math::
        \eta_s = \eta \quad (s \le aS), \qquad
        \eta_s = \eta \min\big(1, (s - aS) / (wS)\big) \quad (s > aS).

    ``after > 0`` restarts the ramp later, e.g. where ``freeze-unfreeze`` releases the transferred
    rows: ``"freeze-unfreeze+warmup"`` with ``{"epochs": 1}`` and ``{"epochs": 1, "after": 1}``
    trains the new rows at the full rate in the frozen epoch, then ramps every value from
    :math:`\eta / (wS)` back to :math:`\eta` over the next epoch, so the released rows' first
    updates are small instead of :math:`\approx \eta\,\mathrm{sign}(g)` (Adam's first steps).

    Args:
        epochs: :math:`w`, epochs over which the learning rate rises from ``lr / steps`` to ``lr`` (default: 1.0).
        after: :math:`a`, epochs at the full learning rate before the ramp (default: 0).
    """

    name = "warmup"
    sequence_only = True
    schedules_lr = True

    def __init__(self, epochs: float = 1.0, after: float = 0.0):
        self._require(epochs > 0 and after >= 0, "epochs must be > 0 and after >= 0", epochs, after)
        self.epochs, self.after = epochs, after

    def attach(self, ctx, optimizer, steps_per_epoch):
        """A step pre-hook that scales every group's learning rate."""
        total = max(1, round(self.epochs * steps_per_epoch))
        delay = round(self.after * steps_per_epoch)
        _lr_schedule(optimizer, lambda s: 1.0 if s <= delay else min(1.0, (s - delay) / total))
        return []


def _lr_schedule(optimizer: torch.optim.Optimizer, factor) -> None:
    """Run optimizer step ``s = 1, 2, ...`` at ``factor(s)`` times each group's learning rate (as it is now)."""
    base = [g["lr"] for g in optimizer.param_groups]
    count = [0]

    def before(opt, args, kwargs):
        count[0] += 1
        f = factor(count[0])
        for group, lr in zip(opt.param_groups, base, strict=True):
            group["lr"] = lr * f

    optimizer.register_step_pre_hook(before)


class Rewarm(ContinualStrategy):
    r"""Learning-rate re-warming: the step's first epochs at ``peak`` times the learning rate, then back to it.

    The learning rate is chosen for training from a fresh initialization; a carried model may have
    to move further in its first epochs than that rate takes it, when many of its rows are new
    and the old ones must make room for them (or were shrunk, ``shrink-perturb``). Continual
    pre-training re-warms the learning rate of a converged model for the same reason (Gupta et
    al., 2023; Ibrahim et al., 2024). Where the carried model is close already, the larger first
    steps knock it back instead. With :math:`S` optimizer steps per
    epoch, :math:`p` = ``peak``, :math:`h` = ``epochs`` and :math:`d` = ``decay``, step
    :math:`s = 1, 2, \dots` runs at

    .. math::
        \eta_s = p\,\eta \quad (s \le hS), \qquad
        \eta_s = \eta\,\big(p - (p - 1) \min(1, (s - hS) / (dS))\big) \quad (s > hS),

    back to :math:`\eta` at once when :math:`d = 0`. Every step's seconds are the same as at
    :math:`\eta`: only the size of the first updates changes.

    Args:
        peak: :math:`p > 0`, the factor on the learning rate at first (default: 2.0).
        epochs: :math:`h \ge 0`, epochs at :math:`p\,\eta` (default: 1.0).
        decay: :math:`d \ge 0`, epochs of the linear return to :math:`\eta` (default: 0.0).
    """

    name = "rewarm"
    sequence_only = True
    schedules_lr = True

    def __init__(self, peak: float = 2.0, epochs: float = 1.0, decay: float = 0.0):
        ok = peak > 0 and epochs >= 0 and decay >= 0
        self._require(ok, "peak must be > 0, epochs and decay >= 0", peak, epochs, decay)
        self.peak, self.epochs, self.decay = float(peak), float(epochs), float(decay)

    def factor(self, step: int, steps_per_epoch: int) -> float:
        """The factor on the learning rate of optimizer step ``step`` (from 1)."""
        past = step - self.epochs * steps_per_epoch
        if past <= 0:
            return self.peak
        span = self.decay * steps_per_epoch
        return self.peak - (self.peak - 1.0) * (min(1.0, past / span) if span > 0 else 1.0)

    def attach(self, ctx, optimizer, steps_per_epoch):
        """A step pre-hook that scales every group's learning rate."""
        _lr_schedule(optimizer, lambda s: self.factor(s, steps_per_epoch))
        return []


class AnchorPenalty(nn.Module):
    r""":math:`\lambda \sum_k w_k (\theta_k - \theta^{*}_k)^2` over the transferred entries.

    :math:`\theta^{*}`: ``anchors`` (the previous step's weights laid out like ``model``'s), else
    ``model``'s values now.
    """

    def __init__(self, model: nn.Module, transferred: dict[str, Tensor], weight: float, importance=None, anchors=None):
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
            anchor = anchors[name].to(p.device, p.dtype) if anchors is not None and name in anchors else p.detach()
            self.terms.append((p, anchor.clone(), w))

    def forward(self) -> Tensor:
        """The penalty's value."""
        total = sum(((p - anchor) ** 2 * w).sum() for p, anchor, w in self.terms)
        return self.weight * total


class L2SP(ContinualStrategy):
    r"""L2-SP: a uniform quadratic pull of transferred values toward the previous step's.

    Args:
        weight: :math:`\\lambda` (default: 0.01).
    """

    name = "l2sp"
    sequence_only = True

    def __init__(self, weight: float = 0.01):
        self._require(weight >= 0, "weight must be >= 0", weight)
        self.weight = weight

    def step_penalty(self, ctx):
        """The uniform pull toward the previous step's weights (not those another part, e.g. shrink-perturb, made)."""
        return AnchorPenalty(ctx.model, ctx.transferred, self.weight, anchors=_previous_weights(ctx))


class EWC(ContinualStrategy):
    r"""EWC: the pull weighted by the diagonal empirical Fisher of the old triples.

    Args:
        weight: :math:`\\lambda` (default: 10.0).
        batches: old-triple batches that estimate the Fisher (default: 20).
    """

    name = "ewc"
    sequence_only = True

    def __init__(self, weight: float = 10.0, batches: int = 20):
        self._require(weight >= 0 and batches >= 1, "weight must be >= 0 and batches >= 1", weight, batches)
        self.weight, self.batches = weight, batches

    def step_penalty(self, ctx):
        """The Fisher-weighted pull toward the previous step's weights (the Fisher at them, on the old triples)."""
        anchors = _previous_weights(ctx)
        at = ctx.model
        if anchors is not None:  # the previous optimum, not what another part (shrink-perturb) made of it
            at = copy.deepcopy(ctx.model)
            with torch.no_grad():
                for name, p in at.named_parameters():
                    if name in anchors:
                        p.copy_(anchors[name].to(p.device, p.dtype))
        fisher = empirical_fisher(at, ctx.task, ctx.old, self.batches, ctx.seed)
        return AnchorPenalty(ctx.model, ctx.transferred, self.weight, fisher, anchors)


def _previous_weights(ctx) -> dict[str, Tensor] | None:
    """The previous step's weights laid out like the step's model: its values before any part changed them."""
    return ctx.previous[0] if ctx.previous is not None else None


def empirical_fisher(model: nn.Module, task, rows: Tensor, batches: int, seed: int = 0) -> dict[str, Tensor]:
    """Mean squared batch gradient of ``task``'s loss on up to ``batches`` batches of the 1-N queries of ``rows``.

    The queries' targets are their known answers among ``rows`` and the task's own (under the
    new-only protocol those are the new triples alone, which hold no answer of an old query).
    Normalized so the largest entry of each parameter is 1.
    """
    from kgtransfer.tasks.link_prediction import FilterIndex

    out = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    if not len(rows):
        return out
    queries = task.queries_of(rows)
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(queries), generator=generator)
    size = max(1, len(queries) // max(batches, 1))
    own = getattr(task, "answer_rows", None)
    known = rows if own is None else torch.cat([own.to(rows.device), rows])
    saved, task.answers = task.answers, FilterIndex(known.to(task.device), task.num_entities, task.num_relations)
    model.train()
    try:
        for start in range(0, min(len(queries), size * batches), size):
            model.zero_grad(set_to_none=True)
            task.base_loss(model, queries[order[start : start + size]].to(task.device)).backward()
            for name, p in model.named_parameters():
                if p.grad is not None:
                    out[name] += p.grad.detach() ** 2
    finally:
        task.answers = saved
    model.zero_grad(set_to_none=True)
    for name, f in out.items():
        out[name] = f / f.max().clamp_min(1e-30)
    return out


class Replay(ContinualStrategy):
    """Each epoch: the step's triples plus a fresh sample of the old ones.

    Args:
        fraction: share of the old training triples drawn afresh each epoch (default: 0.1).
    """

    name = "replay"
    sequence_only = True

    def __init__(self, fraction: float = 0.1):
        self._require(0 < fraction <= 1, "fraction must lie in (0, 1]", fraction)
        self.fraction = fraction

    def rows(self, ctx, epoch):
        """A seeded sample of ``fraction`` of the old triples, new each epoch."""
        n = len(ctx.old)
        k = min(n, max(1 if n else 0, round(self.fraction * n)))
        generator = torch.Generator().manual_seed(ctx.seed * 1_000_003 + epoch)
        return ctx.old[torch.randperm(n, generator=generator)[:k]]

    def replaces_old(self):
        """Merged protocol: the new triples plus the sample, not everything."""
        return True


class FreezeUnfreeze(ContinualStrategy):
    """Transferred values frozen for the first epochs, then released.

    While frozen, their gradients are zeroed (they take no part in gradient clipping nor in Adam's
    moments) and every optimizer step is undone on them, so neither a decoupled weight decay
    (``adamw``) nor momentum carried from an earlier step moves them.

    Args:
        epochs: epochs during which transferred values are frozen (default: 2).
    """

    name = "freeze-unfreeze"
    sequence_only = True

    def __init__(self, epochs: int = 2):
        self._require(is_number(epochs, integer=True) and epochs >= 0, "epochs must be a whole number >= 0", epochs)
        self.epochs = epochs

    def attach(self, ctx, optimizer, steps_per_epoch):
        """Gradient hooks that zero the transferred rows and step hooks that hold them, removed after ``epochs``."""
        from kgtransfer.transfer.finetune import _discriminative

        params = dict(ctx.model.named_parameters())
        handles = []
        for name, mask in ctx.transferred.items():
            if name in params and params[name].requires_grad:
                keep = (~mask).to(params[name].dtype)
                keep = keep if mask.dim() == 0 else keep.view(-1, *[1] * (params[name].dim() - 1))
                handles.append(params[name].register_hook(lambda g, k=keep: g * k.to(g.device)))
        handles += _discriminative(optimizer, ctx.model, ctx.transferred, 0.0)

        def on_epoch_end(epoch, model):
            if epoch >= self.epochs:
                for h in handles:
                    h.remove()
                handles.clear()

        if self.epochs <= 0:
            on_epoch_end(0, ctx.model)
        return [on_epoch_end]


class Discriminative(ContinualStrategy):
    """Transferred values move at ``lr * scale``, new rows at ``lr``.

    Args:
        scale: the factor on transferred values' steps (default: 0.3).
    """

    name = "discriminative"
    sequence_only = True

    def __init__(self, scale: float = 0.3):
        self._require(scale >= 0, "scale must be >= 0", scale)
        self.scale = scale

    def attach(self, ctx, optimizer, steps_per_epoch):
        """Blend each optimizer step of the transferred rows."""
        from kgtransfer.transfer.finetune import _discriminative

        _discriminative(optimizer, ctx.model, ctx.transferred, self.scale)
        return []


class CarryMoments(ContinualStrategy):
    r"""Adam's moments and step count carried over from the previous step instead of a fresh optimizer.

    A fresh Adam's first updates are :math:`\eta\,\hat m / \sqrt{\hat v} \approx \eta\,\mathrm{sign}(g)`:
    every carried row moves by about the learning rate whatever its gradient, which knocks a
    converged model back before it climbs again. Here the optimizer starts from the previous step's
    :math:`(t, m, v)`, aligned by IRI like the weights, so carried rows keep their scale of update.
    Rows new at the step have :math:`m = 0` and :math:`v` the mean of the carried rows' :math:`v`
    (per column), so their first updates are of the carried rows' size rather than
    :math:`1/\sqrt{1-\beta_2} \approx 3\times` it (bias correction is near 1 at a large :math:`t`).
    Needs Adam or AdamW.

    A converged model's moments make small, slow updates; two options sit between them and a
    fresh optimizer's :math:`\eta\,\mathrm{sign}(g)`: the optimizer starts from

    .. math::
        m_0 = \mu\, m_{i-1}, \qquad v_0 = c\, v_{i-1},

    with :math:`\mu = 1` (``momentum=True``) or 0, and :math:`c` = ``v_scale``. With :math:`m_0 = 0`
    a row's first update is :math:`\eta (1-\beta_1) g / \sqrt{c\,v_{i-1} + (1-\beta_2) g^2}`:
    small at first, rising as :math:`m` gathers the new gradients (a warm-up per row), and
    :math:`1/\sqrt{c}` times larger than with the carried :math:`v` once it has.

    Args:
        momentum: carry the first moments :math:`m` (else they start at 0) (default: True).
        v_scale: :math:`c > 0`, the factor on the carried second moments (default: 1.0).
    """

    name = "carry-moments"
    sequence_only = True
    carries_moments = True

    def __init__(self, momentum: bool = True, v_scale: float = 1.0):
        self._require(v_scale > 0, "v_scale must be > 0", v_scale)
        self.momentum, self.v_scale = bool(momentum), float(v_scale)

    def attach(self, ctx, optimizer, steps_per_epoch):
        """Load the aligned moments into ``optimizer``'s state."""
        if not isinstance(optimizer, torch.optim.Adam | torch.optim.AdamW):
            raise ConfigError(f"{self.name}: needs the adam or adamw optimizer, got {type(optimizer).__name__}")
        if not ctx.moments:
            return []
        fused = {id(p): bool(g.get("fused")) for g in optimizer.param_groups for p in g["params"]}
        for name, p in ctx.model.named_parameters():
            carried = ctx.moments.get(name)
            if carried is None or not p.requires_grad:
                continue
            v, rows = carried["exp_avg_sq"].clone(), carried["rows"]
            if rows.dim() and rows.any() and not rows.all():
                v[~rows] = v[rows].mean(0)
            step = carried["step"].to(torch.float32)
            m = carried["exp_avg"] if self.momentum else torch.zeros_like(carried["exp_avg"])
            optimizer.state[p] = {
                "step": step.to(p.device) if fused[id(p)] else step.cpu(),
                "exp_avg": m.to(p),
                "exp_avg_sq": (v * self.v_scale).to(p),
            }
        return []


class QueryInit(ContinualStrategy):
    r"""New entity rows start where their training triples score highest, not at their neighbours' mean.

    For a decoder that is linear in each argument (DistMult, ComplEx), a triple's score is
    :math:`f(h, r, t) = q(h, r) \cdot t = q'(r, t) \cdot h`, and with ``reciprocal`` the head
    query of :math:`(h, r, t)` scores :math:`f(t, r^{-1}, h)`. A new entity :math:`e` gets

    .. math::
        u_e = \nabla_e \sum_{(h, r, t) \ni e} \big[f(h, r, t) + f(t, r^{-1}, h)\big]
        \Big|_{\text{unknown rows} = 0}, \qquad
        e \leftarrow \rho\, u_e / \lVert u_e \rVert,

    the sum over the step's new training triples (a new entity occurs in no older one), the other
    end of each triple a known row (the unknown rows are zero, so a triple between two unknown
    rows adds nothing), and :math:`\rho` the mean norm of the transferred entity rows: among the
    rows of norm :math:`\rho`, the one whose known triples' summed score is highest (each score
    is linear in :math:`e`: the query vector :math:`q(h, r)` where :math:`e` is the tail,
    :math:`q'(r, t)` where it is the head). ``passes`` rounds: rows set in one round are
    known in the next, so entities two hops from a transferred one are reached. Rows with no known
    neighbour after the last round keep their init (neighbour mean or random). Needs an encoder
    whose entity representations are its rows (``embedding`` without input features); other
    decoders get the same gradient step from zero, which is not a closed form.

    Args:
        passes: rounds of the init (default: 2).
    """

    name = "query-init"
    sequence_only = True

    def __init__(self, passes: int = 2):
        self._require(is_number(passes, integer=True) and passes >= 1, "passes must be a whole number >= 1", passes)
        self.passes = passes

    def check_model(self, model):
        """Refuse an encoder whose entity representations are not its rows."""
        encoder = model.encoder
        if getattr(encoder, "message_passing", True) or getattr(encoder, "feature_proj", None) is not None:
            raise ConfigError(f"{self.name}: needs the embedding encoder without input features, got {encoder!r}")

    def prepare_step(self, ctx):
        """Set the new entity rows (``ctx.info["query_init"]``: how many each round set)."""
        model = ctx.model
        self.check_model(model)
        encoder = model.encoder
        table = encoder.entity_embedding.weight
        known = ctx.transferred.get("encoder.entity_embedding.weight")
        if known is None or known.dim() != 1 or not known.any() or not len(ctx.new):
            return
        known = known.clone()
        rho = table.detach()[known].norm(dim=1).mean()
        counts = []
        for _ in range(self.passes):
            if known.all():
                break
            # only triples with a row still to set reach such a row's gradient: the rest add nothing to u
            todo = ctx.new[~known[ctx.new[:, 0]] | ~known[ctx.new[:, 2]]]
            h, r, t = todo[:, 0], todo[:, 1], todo[:, 2]
            ent = (table.detach() * known.unsqueeze(1).to(table.dtype)).requires_grad_(True)
            rel = encoder.relation_embedding.weight.detach()
            total = model.decoder(ent[h], rel[r], ent[t]).sum()
            inverse = model.head_query_relations(rel, r)
            if inverse is not None:
                total = total + model.decoder(ent[t], inverse.detach(), ent[h]).sum()
            (u,) = torch.autograd.grad(total, ent)
            norm = u.norm(dim=1)
            ready = ~known & (norm > 0)
            if not ready.any():
                break
            with torch.no_grad():
                table[ready] = rho * u[ready] / norm[ready].unsqueeze(1)
            known |= ready
            counts.append(int(ready.sum()))
        ctx.info["query_init"] = counts


class Interpolate(ContinualStrategy):
    r"""Weight-space ensembling with the previous step's model, :math:`\alpha` chosen on validation.

    At each validation the model being trained, :math:`\theta`, is mixed with the previous step's
    :math:`\theta_{i-1}` (aligned by IRI) for each :math:`\alpha` of ``alphas``:

    .. math::
        \theta_\alpha = \alpha\,\theta_{i-1} + (1-\alpha)\,\theta,

    on the rows both have; rows new at this step keep :math:`\theta`. The validation metric is
    :math:`\max_\alpha \mathrm{MRR}(\theta_\alpha)` (so early stopping and time-to-quality see
    it; the extra evaluations count as training seconds), and the step ends with
    :math:`\theta_\alpha` at the best (epoch, :math:`\alpha`). WiSE-FT (Wortsman et al., CVPR 2022)
    between consecutive steps; ties go to the earlier :math:`\alpha` of the grid.

    Args:
        alphas: the grid, each in ``[0, 1]``; 0 is the trained model itself (default: ``(0.0, 0.25, 0.5)``).
    """

    name = "interpolate"
    sequence_only = True

    def __init__(self, alphas: tuple[float, ...] = (0.0, 0.25, 0.5)):
        alphas = tuple(float(a) for a in alphas)
        self._require(bool(alphas) and all(0 <= a <= 1 for a in alphas), "alphas must lie in [0, 1]", alphas)
        self.alphas = alphas

    def validator(self, ctx):
        """The best validation over the grid; the metrics carry the chosen ``alpha``."""
        if ctx.previous is None:
            return None
        from kgtransfer.transfer.parameter import mix_states

        aligned, masks = ctx.previous
        probe = copy.deepcopy(ctx.model)

        def validate(model, evaluate):
            state = {k: v.detach() for k, v in model.state_dict().items()}
            best = None
            for alpha in self.alphas:
                if alpha == 0.0:
                    metrics = evaluate(model)
                else:
                    probe.load_state_dict(mix_states(aligned, state, masks, alpha))
                    metrics = evaluate(probe.eval())
                if best is None or metrics["mrr"] > best["mrr"]:
                    best = {**metrics, "alpha": alpha}
            return best

        return validate

    def finish_step(self, ctx, result):
        r"""The trained model becomes :math:`\theta_\alpha` at the best epoch's :math:`\alpha`."""
        if ctx.previous is None or "alpha" not in result.best:
            return
        from kgtransfer.transfer.parameter import mix_states

        alpha = float(result.best["alpha"])
        aligned, masks = ctx.previous
        with torch.no_grad():
            ctx.model.load_state_dict(mix_states(aligned, ctx.model.state_dict(), masks, alpha))
        ctx.info["alpha"] = alpha
        ctx.info["epoch"] = result.best_epoch


class Combined(ContinualStrategy):
    """Several strategies applied together, hooks in order (``"a+b"``).

    Args:
        parts: the strategies.
        label: the name results are keyed by (default: the parts' names joined by ``+``); two
            variants of one combination with different options need different labels.
    """

    def __init__(self, parts: list[ContinualStrategy], label: str | None = None):
        self.parts = parts
        self.label = label or None
        self.sequence_only = any(p.sequence_only for p in parts)
        self.carries_moments = any(getattr(p, "carries_moments", False) for p in parts)
        schedules = [p.name for p in parts if getattr(p, "schedules_lr", False)]
        if len(schedules) > 1:
            raise ConfigError(f"at most one part may schedule the learning rate, got {' and '.join(schedules)}")

    @property
    def name(self) -> str:  # type: ignore[override]
        """The label, or the parts' names joined by ``+``."""
        return self.label or "+".join(p.name for p in self.parts)

    def check_model(self, model):
        """Every part's."""
        for p in self.parts:
            p.check_model(model)

    def prepare_step(self, ctx):
        """Every part's, in order."""
        for p in self.parts:
            p.prepare_step(ctx)

    def rows(self, ctx, epoch):
        """Every part's rows, concatenated."""
        got = [r for p in self.parts if (r := p.rows(ctx, epoch)) is not None]
        return torch.cat(got) if got else None

    def replaces_old(self):
        """When any part does."""
        return any(p.replaces_old() for p in self.parts)

    def step_penalty(self, ctx):
        """The sum of the parts' penalties."""
        terms = [t for p in self.parts if (t := p.step_penalty(ctx)) is not None]
        if not terms:
            return None
        return terms[0] if len(terms) == 1 else _Sum(terms)

    def attach(self, ctx, optimizer, steps_per_epoch):
        """Every part's hooks."""
        return [cb for p in self.parts for cb in p.attach(ctx, optimizer, steps_per_epoch)]

    def validator(self, ctx):
        """The one part's validator (two parts that both replace validation are refused)."""
        got = [v for p in self.parts if (v := p.validator(ctx)) is not None]
        self._require(len(got) <= 1, "at most one part may replace validation", self.name)
        return got[0] if got else None

    def finish_step(self, ctx, result):
        """Every part's, in order."""
        for p in self.parts:
            p.finish_step(ctx, result)

    def to_json(self):
        """``{"name": "a+b", "parts": [...]}``."""
        return {"name": self.name, "parts": [p.to_json() for p in self.parts]}

    def options(self) -> dict:
        """The parts' options."""
        return {"parts": [p.to_json() for p in self.parts]}

    def __repr__(self):
        return " + ".join(repr(p) for p in self.parts)


class _Sum(nn.Module):
    def __init__(self, terms):
        super().__init__()
        self.terms = nn.ModuleList(terms)

    def forward(self):
        return sum(t() for t in self.terms)


#: names a sequence reads as another: ``full``, plain fine-tuning in :func:`kgtransfer.compare`, is ``fine-tune``
_ALIASES = {"full": "fine-tune"}


def strategy(spec, **options) -> ContinualStrategy:
    """A continual strategy from a registered name, a ``"+"``-joined combination, a dict or an object.

    Args:
        spec: ``"ewc"``, ``"shrink-perturb+replay"``, ``{"name": "ewc", "weight": 5.0}``,
            ``{"name": "my-mix", "parts": [{"name": "shrink-perturb", "shrink": 0.3}, "replay"]}`` (a
            combination; its ``name`` labels the results), or a strategy. Names match as registered
            names do (case, ``-``, ``_`` and spaces do not count); ``"full"``, plain fine-tuning in
            :func:`kgtransfer.compare`, is ``"fine-tune"`` here.
        **options: constructor arguments of a single named strategy.

    Raises:
        RegistryError: an unknown name (the message lists the choices).
        ConfigError: a fine-tuning strategy that has no sequence hooks, or an unknown option.
    """
    import inspect

    if isinstance(spec, ContinualStrategy):
        return spec
    if isinstance(spec, dict):
        spec = dict(spec)
        if "name" not in spec:
            raise ConfigError(f"a strategy given as a table needs a 'name', got {spec}")
        name = spec.pop("name")
        if "parts" in spec:
            parts = spec.pop("parts")
            if spec:
                raise ConfigError(f"combination {name!r} takes only 'name' and 'parts', got {sorted(spec)}")
            return Combined([strategy(p) for p in parts], label=name)
        return strategy(name, **spec)
    key = str(spec).strip()
    if "+" in key:
        if options:  # they would go to no part: a part's options need the table form
            raise ConfigError(
                f"strategy {key!r}: options {sorted(options)} name no part of the combination; give them per part: "
                '{"name": "...", "parts": [{"name": "replay", "fraction": 0.5}, ...]}'
            )
        return Combined([strategy(part) for part in key.split("+")])
    key = _ALIASES.get(normalize(key), key)
    from kgtransfer.config import strategy_family

    cls = STRATEGIES[strategy_family(key)]  # "freeze-2" is the freeze-N family: refused below, not unknown
    if not (isinstance(cls, type) and issubclass(cls, ContinualStrategy)):
        choices = sorted(n for n in STRATEGIES.names() if issubclass(STRATEGIES[n], ContinualStrategy))
        raise ConfigError(f"strategy {spec!r} has no sequence hooks; sequences take: {', '.join(choices)}")
    accepted = set(list(inspect.signature(cls.__init__).parameters)[1:])
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ConfigError(f"strategy {key!r} has no option(s) {unknown}; it takes: {sorted(accepted) or 'none'}")
    from kgtransfer.transfer.strategies import build_with_options

    return build_with_options(cls, key, options)


#: ``kgt.continual_strategy``: the public name of :func:`strategy`.
continual_strategy = strategy

__all__ = [
    "AnchorPenalty",
    "CarryMoments",
    "Combined",
    "ContinualStrategy",
    "Discriminative",
    "EWC",
    "FineTune",
    "FreezeUnfreeze",
    "Interpolate",
    "L2SP",
    "QueryInit",
    "RandomInit",
    "Replay",
    "RegistryError",
    "Rewarm",
    "ShrinkPerturb",
    "StepContext",
    "Warmup",
    "continual_strategy",
    "empirical_fisher",
    "fresh_copy",
    "strategy",
]
