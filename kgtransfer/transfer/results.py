"""Small result objects of transfer: the zero-shot evaluation and the interpolation sweep.

Each prints a summary and saves/loads itself as JSON (the models they came from are saved on
their own, see :class:`~kgtransfer.training.TrainedModel`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kgtransfer.files import load_json, save_json
from kgtransfer.report import format_table

KEYS = ("mrr", "hits@1", "hits@3", "hits@10", "mr")


def read_saved(path: str | os.PathLike, what: str, kind: type = dict, keys: tuple[str, ...] = ()):
    """The JSON value a result's ``save`` wrote to ``path``; typed errors naming the file.

    Raises:
        SourceNotFoundError: no such file.
        CheckpointError: not JSON, not a ``kind``, or without ``keys`` (another result's file, or damaged).
    """
    from kgtransfer.errors import CheckpointError, SourceNotFoundError

    path = Path(path)
    if not path.is_file():
        raise SourceNotFoundError(f"{path}: no such file (a saved {what} holds one)")
    try:
        data = load_json(path)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointError(f"{path}: unreadable JSON ({type(e).__name__}: {e})"[:500]) from None
    if not isinstance(data, kind):
        raise CheckpointError(f"{path}: not a saved {what} (a JSON {type(data).__name__}, expected a {kind.__name__})")
    missing = [k for k in keys if k not in data]
    if missing:
        hint = ""
        if "records" in data and "setup" in data:
            hint = "; a sequence result: kgtransfer.SequenceResult.load reads it"
        elif "runs" in data and "seeds" in data:
            hint = "; a comparison: kgtransfer.Comparison.load reads it"
        raise CheckpointError(f"{path}: not a saved {what} (no {', '.join(missing)}){hint}")
    return data


@dataclass
class ZeroShotResult(Mapping):
    """The pretrained model on K's test triples without fine-tuning (those whose terms it trained).

    Reads like the metrics dict (``result["mrr"]``) plus ``"evaluated"``, ``"skipped"`` and
    ``"untrained"``; the three counts add up to K's test triples.

    Attributes:
        metrics: filtered MRR, Hits@k, MR (per side under ``"head"``/``"tail"``/``"both"``).
        evaluated: test triples ranked (K1 trained their head, relation and tail).
        skipped: test triples left out with a term unknown to K1.
        untrained: test triples left out whose terms K1 knows, one of them never trained (only in
            its valid or test triples; saved results from before the count read 0).
    """

    metrics: dict = field(default_factory=dict)
    evaluated: int = 0
    skipped: int = 0
    untrained: int = 0

    def _flat(self) -> dict:
        return {**self.metrics, "evaluated": self.evaluated, "skipped": self.skipped, "untrained": self.untrained}

    def __getitem__(self, key: str):
        return self._flat()[key]

    def __iter__(self):
        return iter(self._flat())

    def __len__(self) -> int:
        return len(self._flat())

    def summary(self) -> str:
        """One row of metrics and the counts."""
        row = [self.metrics.get(k) for k in KEYS]
        title = (
            f"zero-shot: {self.evaluated} test triples ranked, {self.skipped} skipped (terms unknown to K1), "
            f"{self.untrained} left out (terms K1 never trained)"
        )
        return format_table([["test", *row]], ["split", *KEYS], title=title)

    __str__ = summary

    def __repr__(self) -> str:
        scores = ", ".join(f"{k}={_number(self.metrics[k])}" for k in ("mrr", "hits@10") if k in self.metrics)
        counts = f"evaluated={self.evaluated}, skipped={self.skipped}, untrained={self.untrained}"
        return f"ZeroShotResult({scores + ', ' if scores else ''}{counts})"

    def save(self, path: str | os.PathLike) -> Path:
        """Write ``path`` (a JSON file)."""
        save_json(path, {k: v for k, v in asdict(self).items()})
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ZeroShotResult:
        """Read what :meth:`save` wrote (a file without ``untrained``, saved before it was counted, reads 0)."""
        from kgtransfer.errors import CheckpointError

        data = read_saved(path, "zero-shot result", dict, ("metrics",))
        unknown = sorted(set(data) - {"metrics", "evaluated", "skipped", "untrained"})
        if unknown or not isinstance(data["metrics"], dict):
            raise CheckpointError(f"{path}: not a saved zero-shot result (keys {sorted(data)})")
        return cls(**data)


class Sweep(list):
    """The rows of an interpolation sweep, one per α (``alpha``, ``valid_mrr``, ``test_mrr``, ...); a list."""

    def best(self, metric: str = "mrr") -> dict:
        """The row with the best validation ``metric`` (pick α on validation, never on test); see :func:`best_alpha`."""
        return best_alpha(self, metric)

    def summary(self) -> str:
        """The table of the sweep, best α on validation below."""
        cols = ["alpha", "valid_mrr", "test_mrr", "test_hits@1", "test_hits@10"]
        table = format_table([[r.get(c) for c in cols] for r in self], cols, title="θ = α·θ1 + (1−α)·θ2")
        return table + (f"\nbest α on validation: {self.best()['alpha']:.2f}" if self else "")

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        if not self:
            return "Sweep([])"
        best = self.best()
        alphas = ", ".join(f"{r['alpha']:g}" for r in self)
        return f"Sweep(alphas=[{alphas}], best_alpha={best['alpha']:g}, valid_mrr={_number(best.get('valid_mrr'))})"

    def save(self, path: str | os.PathLike) -> Path:
        """Write the rows as JSON to ``path``."""
        save_json(path, list(self))
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Sweep:
        """Read what :meth:`save` wrote."""
        from kgtransfer.errors import CheckpointError

        rows = read_saved(path, "sweep", list)
        if not all(isinstance(r, dict) and "alpha" in r for r in rows):
            raise CheckpointError(f"{path}: not a saved sweep (rows without an 'alpha')")
        return cls(rows)


def _number(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else repr(value)


def best_alpha(rows: list[dict], metric: str = "mrr") -> dict:
    """The sweep row with the best validation ``metric``; NaN (nothing validated) never wins, ties go to the first."""
    import math

    scored = [r for r in rows if not math.isnan(r[f"valid_{metric}"])] or list(rows)[:1]
    if not scored:
        from kgtransfer.config import ConfigError

        raise ConfigError("an empty sweep has no best α")
    return max(scored, key=lambda r: r[f"valid_{metric}"])
