"""Plots where a picture says more: learning curves and α sweeps, written as PNG (needs matplotlib)."""

from __future__ import annotations

import os
from pathlib import Path


def _pyplot():
    """Matplotlib's pyplot on the file-only Agg backend, or None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - matplotlib is in the bench/dev extras
        return None
    return plt


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Write ``fig`` as PNG to a temporary name, then rename it into place; closes the figure."""
    import matplotlib.pyplot as plt

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def learning_curves(histories: dict, path: str | os.PathLike, metric: str = "mrr") -> Path | None:
    """Training loss and validation ``metric`` per epoch for one or more runs (``{name: History}``)."""
    plt = _pyplot()
    if plt is None:
        return None
    fig, (ax_loss, ax_metric) = plt.subplots(1, 2, figsize=(10, 4))
    for name, h in histories.items():
        ax_loss.plot(range(1, len(h.loss) + 1), h.loss, label=name)
        ax_metric.plot([e["epoch"] for e in h.evals], [e[metric] for e in h.evals], marker="o", label=name)
    ax_loss.set(xlabel="epoch", ylabel="training loss", title="loss")
    ax_metric.set(xlabel="epoch", ylabel=f"validation {metric}", title=f"validation {metric}")
    for ax in (ax_loss, ax_metric):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)


def alpha_sweep(rows: list[dict], path: str | os.PathLike, metric: str = "mrr") -> Path | None:
    """Validation and test ``metric`` against α of an interpolation sweep, the best α on validation marked."""
    plt = _pyplot()
    if plt is None:
        return None
    alphas = [r["alpha"] for r in rows]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.plot(alphas, [r[f"valid_{metric}"] for r in rows], marker="o", label="validation")
    ax.plot(alphas, [r[f"test_{metric}"] for r in rows], marker="s", label="test")
    best = max(rows, key=lambda r: r[f"valid_{metric}"])
    ax.axvline(best["alpha"], color="grey", linestyle="--", label=f"best α on validation = {best['alpha']:.2f}")
    ax.set(xlabel="α  (0 = fine-tuned, 1 = pretrained)", ylabel=metric.upper(), title="θ = α·θ1 + (1−α)·θ2")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return save_figure(fig, path)
