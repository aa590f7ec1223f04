r"""Parameter transfer, :math:`\theta = \alpha\,\theta_1 + (1-\alpha)\,\theta_2`: interpolation and model soups.

Weights are aligned by IRI before they are mixed (:func:`~kgtransfer.transfer.weights.aligned_source_state`):
the result lives on the second model's vocabulary and split. A row both models trained is
interpolated; a row only one of them trained takes that model's value whatever :math:`\alpha` (a
row a model holds but never trained, its entity or relation only in its valid or test triples, was
at most a negative there; see :func:`~kgtransfer.transfer.weights.source_trained`); a row neither
trained, or only the second model has, keeps the second model's value. With :math:`\theta_1` the
pretrained and :math:`\theta_2` the fine-tuned model, :math:`\alpha = 0` is the fine-tuned model
and :math:`\alpha = 1` the pretrained one carried over (WiSE-FT, Wortsman et al. 2022), but for
those rows.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from kgtransfer.device import model_device
from kgtransfer.training import TrainedModel
from kgtransfer.transfer.compat import check_link_predictors, check_mixable
from kgtransfer.transfer.results import Sweep
from kgtransfer.transfer.strategies import identity_head
from kgtransfer.transfer.weights import aligned_source_state, source_trained, trained_masks


def with_heads(models: Sequence[TrainedModel]) -> list[TrainedModel]:
    """``models``, where some have a linear-probe head, with an identity head given to the others.

    A model without a head is the same function as that model with an identity head (how a probe
    starts), so interpolation and soups mix heads with the identity instead of dropping θ1's head
    or keeping θ2's unmixed. The models given are not changed (copies get the head).
    """
    if not any(isinstance(m.model.head, nn.Linear) for m in models):
        return list(models)
    out = []
    for m in models:
        if not isinstance(m.model.head, nn.Linear):
            m = copy.copy(m)
            m.model = copy.deepcopy(m.model)
            m.model.head = identity_head(m.model.encoder.dim).to(model_device(m.model))
        out.append(m)
    return out


def _with_state(template: TrainedModel, state: dict, info: dict) -> TrainedModel:
    model = copy.deepcopy(template.model)
    model.load_state_dict(state)
    out = TrainedModel(
        model.eval(),
        template.split,
        template.model_config,
        template.train_config,
        None,
        template.task_config,
        {**template.info, **info},
    )
    out._task = template._task  # same split: share its filter index (the task holds no weights)
    return out


def mix_states(first: dict, second: dict, masks: dict, alpha: float, first_only: dict | None = None) -> dict:
    r"""The state :math:`\alpha\,\theta_1 + (1-\alpha)\,\theta_2` on the rows ``masks`` marks; ``second`` elsewhere.

    Args:
        first: :math:`\theta_1` laid out like ``second`` (see
            :func:`~kgtransfer.transfer.weights.aligned_source_state`).
        second: :math:`\theta_2`, a state dict; the result has its layout (new tensors).
        masks: per name, a bool row mask (0-d for a shared parameter) of the values both have.
        alpha: the weight of ``first``.
        first_only: per name, a bool row mask of rows (within ``masks``) that take ``first``'s value
            whole, e.g. rows ``second`` never trained (default: None, none).
    """
    state = {}
    for name, theta_b in second.items():
        theta_a, mask = first[name].to(theta_b.device), masks[name]
        mixed = alpha * theta_a + (1 - alpha) * theta_b if theta_b.is_floating_point() else theta_b
        if mask.dim() == 0:
            state[name] = mixed.clone() if bool(mask) else theta_b.clone()
            continue
        shape = (-1, *[1] * (theta_b.dim() - 1))
        state[name] = torch.where(mask.to(theta_b.device).view(shape), mixed, theta_b)
        alone = None if first_only is None else first_only.get(name)
        if alone is not None:
            state[name] = torch.where((alone & mask).to(theta_b.device).view(shape), theta_a, state[name])
    return state


def check_alpha(alpha) -> float:
    """``alpha`` as a float in ``[0, 1]``; :class:`~kgtransfer.config.ConfigError` for anything else.

    A number (a numpy scalar or a one-value tensor too); not a string, a bool, NaN or a list.
    """
    from kgtransfer.config import ConfigError

    try:
        if isinstance(alpha, str | bool):
            raise TypeError
        value = float(alpha)
    except (TypeError, ValueError, RuntimeError):
        hint = "; for several, interpolation_sweep(a, b, alphas)" if isinstance(alpha, list | tuple) else ""
        raise ConfigError(f"alpha must be a number in [0, 1], got {alpha!r}{hint}") from None
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"alpha must lie in [0, 1], got {alpha}")
    return value


def check_alphas(alphas) -> list[float]:
    """``alphas`` (a sequence, possibly empty) as floats in ``[0, 1]``; ConfigError otherwise."""
    from kgtransfer.config import ConfigError

    if isinstance(alphas, str) or not isinstance(alphas, Sequence | np.ndarray):
        raise ConfigError(f"alphas must be a sequence of numbers in [0, 1], got {alphas!r}")
    return [check_alpha(alpha) for alpha in alphas]


def interpolate(a: TrainedModel, b: TrainedModel, alpha: float) -> TrainedModel:
    r"""The model with :math:`\theta = \alpha\,\theta_a + (1-\alpha)\,\theta_b`, on ``b``'s vocabulary.

    Args:
        a: :math:`\theta_1`, e.g. the pretrained model (any vocabulary; rows matched by IRI).
        b: :math:`\theta_2`, e.g. the fine-tuned model; the result uses its split.
        alpha: the weight of ``a``, in ``[0, 1]``, on the rows both trained (a row only one of
            them trained takes its value; one neither trained keeps ``b``'s, see the module).

    Raises:
        IncompatibleModelsError: the architectures differ or nothing lines up (see
            :func:`~kgtransfer.transfer.compat.check_mixable`); ``result.info["interpolation"]``
            counts what was combined.
    """
    alpha = check_alpha(alpha)
    check_link_predictors([a, b], "interpolation")
    a, b = with_heads([a, b])
    mix = check_mixable(a, b, "interpolation")
    aligned, masks = aligned_source_state(a.model, a.vocab, b.model, b.vocab, source_trained(a))
    own = trained_masks(b)  # a row b never trained but a did takes a's value, as the reverse keeps b's
    first_only = {name: mask & ~own[name] for name, mask in masks.items() if mask.dim()}
    state = mix_states(aligned, b.model.state_dict(), masks, alpha, first_only)
    out = _with_state(b, state, {"interpolation": {"alpha": alpha, **mix.as_dict()}})
    out.mix_report = mix
    return out


def interpolation_sweep(
    a: TrainedModel,
    b: TrainedModel,
    alphas: Sequence[float] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    plot: str | os.PathLike | None = None,
    metric: str = "mrr",
    names: tuple[str, str] = ("θ1 (first)", "θ2 (second)"),
) -> Sweep:
    """Evaluate :func:`interpolate` at each α on validation and test; optionally plot the curve (PNG).

    α is the weight of ``a``: α = 1 is ``a`` carried onto ``b``'s vocabulary, α = 0 is ``b`` (but for rows
    only one of them trained, which keep that one's value); ``names`` label them on the plot.

    Returns:
        A :class:`~kgtransfer.transfer.results.Sweep`, one row per α: ``{"alpha", "valid_<metric>",
        "test_<metric>", ...}``; pick α on validation (``sweep.best()``).
    """
    from kgtransfer.config import ConfigError

    alphas = check_alphas(alphas)  # all checked before the first evaluation
    if not alphas:
        raise ConfigError("alphas is empty: a sweep needs at least one α")
    rows = Sweep()
    for alpha in alphas:
        mid = interpolate(a, b, alpha)
        valid, test = mid.evaluate("valid"), mid.test
        rows.append(
            {
                "alpha": float(alpha),
                **{f"valid_{k}": valid[k] for k in ("mrr", "hits@1", "hits@10")},
                **{f"test_{k}": test[k] for k in ("mrr", "hits@1", "hits@10")},
            }
        )
    if plot is not None:
        plot_sweep(rows, plot, metric, names)
    return rows


def plot_sweep(
    rows: list[dict], path: str | os.PathLike, metric: str = "mrr", names: tuple[str, str] = ("θ1", "θ2")
) -> Path:
    """The α sweep as PNG (see :func:`kgtransfer.plots.alpha_sweep`)."""
    from kgtransfer.plots import alpha_sweep

    return alpha_sweep(rows, path, metric, names)


def uniform_soup(models: Sequence[TrainedModel]) -> TrainedModel:
    """The average of several models' weights (aligned by IRI onto the first one's vocabulary).

    A row is averaged over the models that trained it (see :func:`~kgtransfer.transfer.weights.source_trained`),
    the first one included; a row none of them trained keeps the first model's value.
    """
    _check_soup(models)
    models = with_heads(models)
    base = models[0]
    mixes = [check_mixable(other, base, "soup") for other in models[1:]]
    own = trained_masks(base)
    count, total = {}, {}
    for k, v in base.model.state_dict().items():
        rows = own.get(k, torch.tensor(True))
        count[k] = (
            rows.to(v.device).float() if rows.dim() else torch.ones(v.shape[:1] if v.dim() else (), device=v.device)
        )
        total[k] = v.detach().float() * (count[k].view(-1, *([1] * (v.dim() - 1))) if count[k].dim() else 1)
    for other in models[1:]:
        aligned, masks = aligned_source_state(other.model, other.vocab, base.model, base.vocab, source_trained(other))
        for name, mask in masks.items():
            if mask.dim() == 0:
                if bool(mask):
                    total[name] += aligned[name].float()
                    count[name] += 1
            else:
                total[name][mask] += aligned[name][mask].float()
                count[name][mask] += 1
    state = {}
    for name, value in base.model.state_dict().items():
        c = count[name]
        c = c.view(-1, *([1] * (value.dim() - 1))) if c.dim() else c
        state[name] = torch.where(c > 0, total[name] / c.clamp_min(1), value.float()).to(value.dtype)
    aligned_rows = [m.entity_rows_mixed for m in mixes]
    return _with_state(
        base, state, {"soup": {"kind": "uniform", "size": len(models), "entity_rows_aligned": aligned_rows}}
    )


def greedy_soup(models: Sequence[TrainedModel], metric: str = "mrr") -> TrainedModel:
    """Greedy soup: add models in order of validation ``metric``, keeping each only if the soup improves.

    Wortsman et al. 2022, "Model soups". Selection uses validation only.
    """
    _check_soup(models)
    ranked = sorted(models, key=lambda m: m.evaluate("valid")[metric], reverse=True)
    chosen = [ranked[0]]
    best = ranked[0].evaluate("valid")[metric]
    for candidate in ranked[1:]:
        trial = uniform_soup([*chosen, candidate])
        score = trial.evaluate("valid")[metric]
        if score >= best:
            chosen.append(candidate)
            best = score
    soup = uniform_soup(chosen)
    soup.info["soup"] = {**soup.info.get("soup", {}), "kind": "greedy", "size": len(chosen), "candidates": len(models)}
    return soup


def _check_soup(models: Sequence[TrainedModel]) -> None:
    """Refuse an empty soup, or one holding something other than link-prediction runs."""
    from kgtransfer.config import ConfigError

    if not models:
        raise ConfigError("a soup needs at least one model")
    check_link_predictors(models, "a soup")
