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


def test_the_marked_alpha_is_the_one_the_sweep_reports(figures, tmp_path):
    """A NaN validation score (nothing validated at that α) first in the rows: max() marked it as the best."""
    from kgtransfer.transfer.results import best_alpha

    rows = [{"alpha": a, "valid_mrr": v, "test_mrr": 0.1} for a, v in ((0.0, float("nan")), (0.5, 0.3), (1.0, 0.2))]
    plots.alpha_sweep(rows, tmp_path / "a.png")
    label = figures[0].axes[0].get_legend().get_texts()[-1].get_text()
    assert label == f"best α on validation = {best_alpha(rows)['alpha']:.2f}" == "best α on validation = 0.50"


def test_plots_are_written(tmp_path):
    assert plots.learning_curves({"a": history()}, tmp_path / "c.png").stat().st_size > 1000


def test_a_failed_plot_write_leaves_the_old_plot_and_no_temporary(tmp_path, monkeypatch):
    """save_figure wrote to the fixed name .curve.png.tmp.png: a failed write left it behind, and a symlink planted
    there was written through."""
    import matplotlib.pyplot as plt
    from matplotlib.backends import backend_agg

    (tmp_path / "curve.png").write_bytes(b"OLD PLOT")
    (tmp_path / "victim.txt").write_text("mine")
    (tmp_path / ".curve.png.tmp.png").symlink_to(tmp_path / "victim.txt")

    def full_disk(self, target, *args, **kwargs):
        target.write(b"\x89PNG partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backend_agg.FigureCanvasAgg, "print_png", full_disk)
    fig, _ = plt.subplots()
    with pytest.raises(OSError, match="No space left"):
        plots.save_figure(fig, tmp_path / "curve.png")
    monkeypatch.undo()
    assert not plt.fignum_exists(fig.number)  # closed though its write failed
    assert (tmp_path / "curve.png").read_bytes() == b"OLD PLOT"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".curve.png.tmp.png", "curve.png", "victim.txt"]
    fig, _ = plt.subplots()
    plots.save_figure(fig, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG" and not (tmp_path / "curve.png").is_symlink()
    assert (tmp_path / "victim.txt").read_text() == "mine"


def test_curves_of_no_run_are_written_without_a_legend_or_a_warning(figures, tmp_path):
    """A comparison whose runs have no history gave matplotlib's "No artists with labels" warning."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        plots.learning_curves({}, tmp_path / "c.png")
    assert all(ax.get_legend() is None for ax in figures[0].axes)
