"""Metrics: a dict of evaluation results that prints as a compact, rounded table."""

from __future__ import annotations

from kgtransfer.errors import is_number
from kgtransfer.report import format_table

SIDES = ("head", "tail", "both")


class Metrics(dict):
    """Evaluation results, ``{"mrr": ..., "hits@1": ..., "head": {...}, "tail": {...}, ...}``.

    A plain ``dict`` (JSON-ready, ``metrics["mrr"]`` works) whose ``repr`` is a table of the
    rank metrics per side (head, tail, both) rounded to 4 digits, instead of nested dicts of
    16-digit floats.
    """

    def scalars(self) -> dict:
        """The top-level numbers (per-side sub-dicts dropped)."""
        return {k: v for k, v in self.items() if is_number(v)}

    def __repr__(self) -> str:
        sides = [s for s in SIDES if isinstance(self.get(s), dict)]
        numbers = {k: v for k, v in self.scalars().items() if k != "num_triples"}
        extra = []
        if "num_triples" in self:
            extra.append(f"{self['num_triples']:,} triples")
        if self.get("filtered") is True:
            extra.append("filtered")
        title = "Metrics" + (f" ({', '.join(extra)})" if extra else "")
        if not sides:
            return format_table(
                [[round(v, 4) if isinstance(v, float) else v for v in numbers.values()]], list(numbers), title
            )
        keys = [k for k in self[sides[0]] if isinstance(self[sides[0]][k], int | float)]
        rows = [[side, *[_round(self[side].get(k)) for k in keys]] for side in sides]
        return format_table(rows, ["side", *keys], title=title)

    __str__ = __repr__


def _round(value):
    return round(value, 4) if isinstance(value, float) else value
