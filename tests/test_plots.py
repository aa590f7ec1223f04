import pytest

from kgtransfer import plots
from kgtransfer.engine import FitResult, History


@pytest.fixture
def figures(monkeypatch):
    """The figures the plot functions build, captured instead of written."""
    captured = []

    def keep(fig, path):
        captured.append(fig)
        return path

    monkeypatch.setattr(plots, "save_figure", keep)
    return captured


def legend(ax) -> list[str]:
    return [t.get_text() for t in ax.get_legend().get_texts()]


def history(epochs=4, marks=None):
    return History(
        loss=[1.0 / e for e in range(1, epochs + 1)],
        seconds=[0.1] * epochs,
        evals=[{"epoch": e, "mrr": 0.1 * e} for e in range(2, epochs + 1, 2)],
        marks=marks or {},
    )


def test_single_run_labels_say_what_each_curve_is(figures, tmp_path):
    plots.learning_curves({"train": history()}, tmp_path / "c.png")
    loss, metric = figures[0].axes
    assert legend(loss) == ["training loss"] and legend(metric) == ["validation mrr"]
    assert metric.get_ylabel() == "validation mrr"


def test_several_runs_labelled_by_name_and_lp_ft_probe_marked(figures, tmp_path):
    plots.learning_curves({"scratch": history(), "lp-ft": history(6, {"probe ends": 2})}, tmp_path / "c.png")
    loss, metric = figures[0].axes
    assert legend(metric) == ["scratch", "lp-ft", "lp-ft: probe ends"]
    assert any(line.get_xdata()[0] == 2.5 for line in metric.get_lines())


def test_lp_ft_history_records_where_probing_ends():
    from kgtransfer.transfer.finetune import join_fits

    probe = FitResult({"mrr": 0.2}, 2, 3, history(3), False, 1.0)
    full = FitResult({"mrr": 0.3}, 1, 2, history(2), False, 1.0)
    joined = join_fits([probe, full], names=["probe", "finetune"])
    assert joined.history.marks == {"probe ends": 3} and len(joined.history.loss) == 5


def test_alpha_axis_names_the_models(figures, tmp_path):
    rows = [{"alpha": a, "valid_mrr": a, "test_mrr": a} for a in (0.0, 0.5, 1.0)]
    plots.alpha_sweep(rows, tmp_path / "a.png", names=("runs/pre", "runs/ft"))
    label = figures[0].axes[0].get_xlabel()
    assert "weight of runs/pre" in label and "0 = runs/ft" in label and "1 = runs/pre" in label


def test_plots_are_written(tmp_path):
    assert plots.learning_curves({"a": history()}, tmp_path / "c.png").stat().st_size > 1000
