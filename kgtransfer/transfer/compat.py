r"""Can two models be combined? Architecture checks and counts of what lines up, before mixing weights.

Interpolation and soups mix :math:`\theta_1` into :math:`\theta_2` row by row (rows matched by
IRI) and parameter by parameter (matched by name and shape). When the architectures differ or no
row and no parameter lines up, the "mix" would silently return :math:`\theta_2` unchanged;
:func:`check_mixable` refuses that with :class:`~kgtransfer.errors.IncompatibleModelsError` and
otherwise says how much was combined.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import asdict, dataclass, field

import torch

from kgtransfer.errors import IncompatibleModelsError, KGTransferError, TransferWarning
from kgtransfer.transfer.weights import aligned_source_state, row_kind, source_trained, trained_masks, used_by

LOW_SHARE = 0.1  # warn when fewer than this share of the target's rows line up


@dataclass
class MixReport:
    r"""What lines up between a model :math:`\theta_1` and the model :math:`\theta_2` it is mixed into.

    ``*_rows_mixed`` counts the rows both trained (interpolated); ``*_rows_from_first`` the rows
    :math:`\theta_1` trained and :math:`\theta_2` holds but never trained, which take
    :math:`\theta_1`'s value. ``values_mixed`` counts the values :math:`\theta_1` gives to either.
    """

    tensors_mixed: int = 0
    tensors_kept: list[str] = field(default_factory=list)
    values_mixed: int = 0
    values_total: int = 0
    entity_rows_mixed: int = 0
    entity_rows: int = 0
    relation_rows_mixed: int = 0
    relation_rows: int = 0
    entity_rows_from_first: int = 0
    relation_rows_from_first: int = 0

    def as_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)

    def __str__(self) -> str:
        share = self.values_mixed / max(self.values_total, 1)
        return (
            f"combined {self.values_mixed:,} of {self.values_total:,} parameter values ({share:.0%}) in "
            f"{self.tensors_mixed} tensors; IRI-aligned rows: {self.entity_rows_mixed:,} of "
            f"{self.entity_rows:,} entities, {self.relation_rows_mixed:,} of {self.relation_rows:,} relations"
            + (
                f"; taken from θ1 (θ2 never trained them): {self.entity_rows_from_first:,} entities, "
                f"{self.relation_rows_from_first:,} relations"
                if self.entity_rows_from_first or self.relation_rows_from_first
                else ""
            )
            + (f"; kept from θ2 only: {', '.join(self.tensors_kept)}" if self.tensors_kept else "")
        )


def _architecture(config) -> dict:
    """What shapes a model's weights: its config with every model argument's default filled in, no dropout.

    ``encoder_kwargs={}`` and ``{"num_layers": 2}`` (the default) are one architecture; dropout rates
    change training, not the weights' meaning.
    """
    from kgtransfer.registry import DECODERS, ENCODERS

    out = {k: v for k, v in config.to_dict().items() if "dropout" not in k}
    models = (("encoder_kwargs", ENCODERS, config.encoder), ("decoder_kwargs", DECODERS, config.decoder))
    for key, registry, name in models:
        try:
            defaults = {
                p.name: p.default
                for p in inspect.signature(registry[name]).parameters.values()
                if p.default is not inspect.Parameter.empty
            }
        except (KGTransferError, KeyError, TypeError, ValueError):  # unknown, or no signature: as given
            defaults = {}
        out[key] = {k: v for k, v in {**defaults, **out[key]}.items() if "dropout" not in k}
    return out


def _describe(model) -> str:
    mc = model.model_config
    composed = f" (composed by {model.info['compose']})" if model.info.get("compose") else ""
    return f"{mc.encoder}+{mc.decoder} dim {mc.dim}{composed}"


def check_link_predictors(models, what: str) -> None:
    """Raise :class:`IncompatibleModelsError` for a model that is not a link-prediction run.

    Weights are aligned by the IRIs of a :class:`~kgtransfer.training.TrainedModel`'s vocabularies;
    an entity-typing result (a classifier over graph nodes) is not mixed.
    """
    from kgtransfer.training import TrainedModel

    for m in models:
        if not isinstance(m, TrainedModel):
            raise IncompatibleModelsError(
                f"{what} mixes link-prediction runs (kgtransfer.TrainedModel), got a {type(m).__name__}"
            )


def used_rows(model) -> dict[str, torch.Tensor]:
    """Which entity, relation and edge-type rows ``model``'s own graph uses (its split's triples hold them).

    A fine-tuned model's vocabulary extends its source's, so it also holds rows of entities its graph
    lacks; mixing those changes nothing the model is evaluated on.
    """
    entity, relation = used_by(model.split)
    return {"entity": entity, "relation": relation, "edge_type": relation.repeat_interleave(2)}


def check_mixable(a, b, what: str = "interpolation") -> MixReport:
    """Check that ``a`` can be mixed into ``b`` and count what lines up.

    Rows are counted over the entities and relations of ``b``'s graph (its split's triples): ``b``'s
    vocabulary may also hold rows its graph does not use (a fine-tuned model keeps its source's).
    A row ``a`` never trained does not line up; one ``b`` never trained but ``a`` did is counted
    apart (``*_rows_from_first``: it takes ``a``'s value).

    Raises:
        IncompatibleModelsError: the encoders, decoders or sizes differ, a parameter both have
            differs in shape, or no parameter value lines up at all.

    Warns:
        TransferWarning: fewer than 10% of ``b``'s entity rows have a counterpart in ``a``.
    """
    if _describe(a) != _describe(b):
        raise IncompatibleModelsError(
            f"{what} needs two models of one architecture: θ1 is {_describe(a)}, θ2 is {_describe(b)}"
        )
    first, second = _architecture(a.model_config), _architecture(b.model_config)
    differ = [f"{k}: {first[k]!r} vs {second[k]!r}" for k in first if first[k] != second.get(k)]
    if differ:
        raise IncompatibleModelsError(
            f"{what} needs two models of one architecture; they differ in {'; '.join(differ)}"
        )
    a_state, b_state = a.model.state_dict(), b.model.state_dict()
    for name, value in b_state.items():
        other = a_state.get(name)
        if other is None:
            continue
        same = other.shape[1:] == value.shape[1:] if row_kind(b.model, name) else other.shape == value.shape
        if not same:
            raise IncompatibleModelsError(
                f"{what}: parameter {name} is {tuple(other.shape)} in θ1 and {tuple(value.shape)} in θ2"
            )
    _, masks = aligned_source_state(a.model, a.vocab, b.model, b.vocab, source_trained(a))
    own = trained_masks(b)
    used = used_rows(b)
    report = MixReport(entity_rows=int(used["entity"].sum()), relation_rows=int(used["relation"].sum()))
    for name, value in b_state.items():
        if not value.is_floating_point():
            continue
        mask = masks[name]
        kind = row_kind(b.model, name)
        if kind is not None and mask.dim() and len(used[kind]) == len(mask):  # a row θ2's graph does not use is moot
            mask = mask & used[kind]
        per_row = value[0].numel() if value.dim() else 1
        mixed = int(mask.sum()) * per_row if mask.dim() else (value.numel() if bool(mask) else 0)
        report.values_total += value.numel()
        report.values_mixed += mixed
        if mixed:
            report.tensors_mixed += 1
        else:
            report.tensors_kept.append(name)
        both, alone = (int((mask & own[name]).sum()), int((mask & ~own[name]).sum())) if mask.dim() else (0, 0)
        if kind == "entity":
            report.entity_rows_mixed = max(report.entity_rows_mixed, both)
            report.entity_rows_from_first = max(report.entity_rows_from_first, alone)
        elif kind == "relation":
            report.relation_rows_mixed = max(report.relation_rows_mixed, both)
            report.relation_rows_from_first = max(report.relation_rows_from_first, alone)
    if report.values_mixed == 0:
        raise IncompatibleModelsError(
            f"{what}: nothing lines up between θ1 and θ2 (no entity or relation of θ2's graph, nor any parameter, "
            "is shared); "
            "the result would be θ2 unchanged"
        )
    lined_up = report.entity_rows_mixed + report.entity_rows_from_first
    if report.entity_rows and lined_up < LOW_SHARE * report.entity_rows:
        warnings.warn(
            f"{what}: only {lined_up:,} of θ2's {report.entity_rows:,} entities are in θ1; their rows keep θ2's values",
            TransferWarning,
            stacklevel=3,
        )
    return report
