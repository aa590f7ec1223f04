"""Plain-text tables: the one formatter behind ``stats()``, result summaries, the CLI and benchmarks."""

from __future__ import annotations

from collections.abc import Sequence

from kgtransfer.errors import is_number


def plural(n: int, word: str, many: str | None = None) -> str:
    """``"1 triple"``, ``"2 triples"``, ``"1,234 rows"``; ``many`` spells an irregular plural."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"
    return "" if value is None else str(value)


def format_table(rows: Sequence[Sequence[object]], headers: Sequence[str], title: str | None = None) -> str:
    """Align ``rows`` under ``headers``; numbers right-aligned with thousands separators."""
    cells = [[_cell(v) for v in row] for row in rows]
    numeric = [all(is_number(row[i]) for row in rows if i < len(row)) for i in range(len(headers))]
    widths = [max([len(h)] + [len(r[i]) for r in cells if i < len(r)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=False)]
        return "  ".join(parts).rstrip()

    out = [title] if title else []
    out += [line(list(headers)), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)
