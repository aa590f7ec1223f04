"""What a run folder holds after a process is stopped (Ctrl-C, kill) while it saves, and what comes next.

Found by killing real ``kgtransfer`` processes: the tests rebuild the state such a kill leaves.
"""

from __future__ import annotations

import json

import pytest

import kgtransfer.checkpoint as checkpoint
from kgtransfer.cli import main
from kgtransfer.training import TrainedModel
from tests.test_cli_resume import FLAGS, write_graph


def _stop_renames_after(monkeypatch, count, into=None):
    """Make the ``count``+1-th entry a save renames into place (into the folder ``into``: any) raise
    KeyboardInterrupt (a Ctrl-C then, or a kill)."""
    replace, done = checkpoint._replace_entry, []

    def stopped(new, path):
        if into is not None and path.parent != into:
            return replace(new, path)
        if len(done) == count:
            raise KeyboardInterrupt
        done.append(path.name)
        return replace(new, path)

    monkeypatch.setattr(checkpoint, "_replace_entry", stopped)
    return done


def _metrics(out):
    return {k: v for k, v in json.loads((out / "metrics.json").read_text()).items() if k != "seconds"}


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_save_stopped_between_its_renames_is_completed_not_left_half_written(tmp_path, monkeypatch, overwrite):
    """`kgtransfer pretrain` Ctrl-C'd as it saved left config.json and curve.csv without checkpoint/: the folder
    did not load (`evaluate`: "not a run folder") and `--resume` was refused ("not a kgtransfer run, yet holds
    checkpoints, config.json, curve.csv"). Over an earlier run, the new metrics.json sat beside the earlier
    checkpoint/ without a word."""
    source = write_graph(tmp_path / "g.nt")
    out, whole = tmp_path / "run", tmp_path / "whole"
    args = ["pretrain", source, "--epochs", "3", "--seed", "1", *FLAGS]
    assert main([*args, "-o", str(whole)]) == 0
    if overwrite:  # an earlier run of other settings in the folder
        assert main(["pretrain", source, "-o", str(out), "--epochs", "1", "--seed", "2", *FLAGS]) == 0
    done = _stop_renames_after(monkeypatch, 2)
    flag = ["--overwrite"] if overwrite else []
    assert main([*args, "-o", str(out), *flag]) == 130
    assert len(done) == 2 and "checkpoint" not in done  # stopped with part of the new run in place
    monkeypatch.undo()
    # the folder reads as the new run, whole: its weights and its metrics
    loaded = TrainedModel.load(out)
    assert loaded.train_config.seed == 1 and loaded.fit.epochs_run == 3
    assert _metrics(out) == _metrics(whole)
    assert not (out / ".run.commit").exists()
    assert main(["evaluate", str(out)]) == 0
    # and the command resumes to the uninterrupted run's results
    assert main([*args, "-o", str(out), "--resume"]) == 0
    assert _metrics(out) == _metrics(whole)


def test_a_save_stopped_while_it_writes_leaves_the_earlier_run(tmp_path, monkeypatch):
    """The other side: stopped while it wrote its files (before any rename), the folder is the earlier run, whole."""
    source = write_graph(tmp_path / "g.nt")
    out = tmp_path / "run"
    assert main(["pretrain", source, "-o", str(out), "--epochs", "1", "--seed", "2", *FLAGS]) == 0
    before = _metrics(out)
    save = checkpoint.save_checkpoint

    def stopped(path, *args, **kwargs):
        if str(path.parent.name).startswith(".run."):  # the run's staged checkpoint/
            raise KeyboardInterrupt
        return save(path, *args, **kwargs)

    monkeypatch.setattr(checkpoint, "save_checkpoint", stopped)
    assert main(["pretrain", source, "-o", str(out), "--epochs", "3", "--seed", "1", "--overwrite", *FLAGS]) == 130
    monkeypatch.undo()
    loaded = TrainedModel.load(out)
    assert loaded.train_config.seed == 2 and _metrics(out) == before


def test_ctrl_c_before_overwrite_set_the_earlier_checkpoints_aside_gives_no_resume_hint(tmp_path, capsys, monkeypatch):
    """`kgtransfer pretrain ... --overwrite` Ctrl-C'd while it started (imports, before the earlier run's checkpoints
    were set aside) said "run the command with --resume in place of --overwrite to continue", and that command
    was refused: the checkpoints there were the earlier run's ("resume=True with a different training
    configuration (seed: 7 -> 0)")."""
    source = write_graph(tmp_path / "g.nt")
    out = tmp_path / "run"
    assert main(["pretrain", source, "-o", str(out), "--epochs", "1", "--seed", "7", *FLAGS]) == 0
    capsys.readouterr()

    def stopped(directory):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "set_aside_checkpoints", stopped)
    assert main(["pretrain", source, "-o", str(out), "--epochs", "2", "--overwrite", *FLAGS]) == 130
    assert capsys.readouterr().err.endswith("interrupted\n")
    monkeypatch.undo()
    # stopped once the new run has checkpoints of its own: the hint, and it resumes
    fit = checkpoint.save_training_state

    def after_first(path, *args, **kwargs):
        saved = fit(path, *args, **kwargs)
        if path.name == "last":
            raise KeyboardInterrupt
        return saved

    monkeypatch.setattr(checkpoint, "save_training_state", after_first)
    assert main(["pretrain", source, "-o", str(out), "--epochs", "2", "--overwrite", *FLAGS]) == 130
    assert "--resume in place of --overwrite" in capsys.readouterr().err
    monkeypatch.undo()
    assert main(["pretrain", source, "-o", str(out), "--epochs", "2", "--resume", *FLAGS]) == 0


def _comparison(tmp_path, seed):
    import kgtransfer as kgt
    from kgtransfer.transfer.compare import Comparison

    source = write_graph(tmp_path / "g.nt")
    model = kgt.pretrain(
        source, kgt.ModelConfig(encoder="embedding", dim=4), kgt.TrainConfig(epochs=1, seed=seed, progress=False)
    )
    record = {"seed": seed, "test": {"mrr": seed / 10}, "valid": {"mrr": seed / 10}, "best_epoch": 1, "epochs_run": 1}
    record |= {"epochs_to_scratch_best": 1, "seconds": 0.1, "seconds_to_99": 0.1, "stopped_early": False}
    runs = {"scratch": [{**record, "curve": [], "marks": {}, "transfer": None}]}
    return Comparison("c", [seed], runs, models={"scratch": model})


def _saved_comparison(out):
    """(the seed results.json records, the seed of the model saved beside it)."""
    from kgtransfer.transfer.compare import Comparison

    return Comparison.load(out).seeds[0], TrainedModel.load(out / "models" / "scratch").train_config.seed


@pytest.mark.parametrize("stop", ["writing", "renaming"])
def test_a_comparison_saved_over_another_and_stopped_is_never_half_old_half_new(tmp_path, monkeypatch, stop):
    """`kgtransfer run FILE -o OUT --overwrite` stopped while it saved (results.json first, then results.md, the
    plots, splits and models) left the new results.json beside the earlier run's models/ and splits/, and
    `Comparison.load` read it without a word."""
    import kgtransfer.transfer.compare as compare

    out = tmp_path / "out"
    _comparison(tmp_path, 1).save(out)
    new = _comparison(tmp_path, 2)
    if stop == "writing":

        def stopped(path, text):
            raise KeyboardInterrupt

        monkeypatch.setattr(compare, "atomic_write_text", stopped)  # results.md, after results.json
    else:
        _stop_renames_after(monkeypatch, 1, into=out)
    with pytest.raises(KeyboardInterrupt):
        new.save(out)
    monkeypatch.undo()
    assert _saved_comparison(out) == ((1, 1) if stop == "writing" else (2, 2))
