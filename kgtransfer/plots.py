"""Plots where a picture says more: learning curves and α sweeps, written as PNG.

Plots are part of every run; matplotlib is a core dependency (a missing one is a clear error).
"""

from __future__ import annotations

import os
from pathlib import Path


def _pyplot():
    """Matplotlib's pyplot on the file-only Agg backend."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is a core dependency
        from kgtransfer.errors import MissingExtraError

        raise MissingExtraError("plots need matplotlib: pip install matplotlib") from None
    return plt


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Write ``fig`` as PNG to a temporary file beside ``path``, then rename it into place; closes the figure.

    The temporary has an unpredictable name and is removed when the write fails
    (:func:`~kgtransfer.files.atomic_open`).
    """
    import matplotlib.pyplot as plt

    from kgtransfer.files import atomic_open

    path = Path(path)
    try:
        with atomic_open(path) as f:
            fig.savefig(f, format="png", dpi=110)
    finally:
        plt.close(fig)
    return path


def learning_curves(histories: dict, path: str | os.PathLike, metric: str = "mrr") -> Path:
    """Training loss and validation ``metric`` per epoch for one or more runs (``{name: History}``).

    One run is labelled by what each curve is ("training loss", "validation mrr"); several runs by
    their names. A history's ``marks`` (``{"probe ends": epoch}``, LP-FT) are drawn as dotted lines.
    """
    plt = _pyplot()
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 4))
    single = len(histories) == 1
    for name, h in histories.items():
        line = ax_loss.plot(range(1, len(h.loss) + 1), h.loss, label="training loss" if single else name)[0]
        ax_metric.plot(
            [e["epoch"] for e in h.evals],
            [e[metric] for e in h.evals],
            marker="o",
            color=line.get_color(),
            label=f"validation {metric}" if single else name,
        )
        for mark, epoch in getattr(h, "marks", {}).items():
            label = mark if single else f"{name}: {mark}"
            for ax in (ax_loss, ax_metric):
                ax.axvline(epoch + 0.5, color=line.get_color(), linestyle=":", label=label)
    ax_loss.set(xlabel="epoch", ylabel="training loss", title="training loss")
    ax_metric.set(xlabel="epoch", ylabel=f"validation {metric}", title=f"validation {metric}")
    for ax in (ax_loss, ax_metric):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # no run with data: matplotlib warns of an empty legend
            ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)


def alpha_sweep(
    rows: list[dict],
    path: str | os.PathLike,
    metric: str = "mrr",
    names: tuple[str, str] = ("θ1", "θ2"),
) -> Path:
    """Validation and test ``metric`` against α of an interpolation sweep, the best α on validation marked.

    Args:
        rows: the sweep rows (``alpha``, ``valid_<metric>``, ``test_<metric>``).
        path: the PNG to write.
        metric: the metric to plot (default: ``"mrr"``).
        names: what the two interpolated models are, first then second: α is the weight of the
            first, so α = 1 is the first model unchanged (default: ``("θ1", "θ2")``).
    """
    plt = _pyplot()
    first, second = names
    alphas = [r["alpha"] for r in rows]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot(alphas, [r[f"valid_{metric}"] for r in rows], marker="o", label="validation")
    ax.plot(alphas, [r[f"test_{metric}"] for r in rows], marker="s", label="test")
    from kgtransfer.transfer.results import best_alpha

    best = best_alpha(rows, metric)  # the α the sweep reports (max() took a NaN row when it came first)
    ax.axvline(best["alpha"], color="grey", linestyle="--", label=f"best α on validation = {best['alpha']:.2f}")
    ax.set(
        xlabel=f"α, the weight of {first}  (0 = {second}, 1 = {first})",
        ylabel=metric.upper(),
        title="θ = α·θ1 + (1−α)·θ2",
    )
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)
