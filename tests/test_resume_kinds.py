"""Resumes alike: another kind of run's checkpoints are refused naming both kinds; each needs its checkpoint folder."""

from __future__ import annotations

import pytest

from kgtransfer.cli import main
from kgtransfer.errors import CheckpointError
from tests.test_cli_resume import FLAGS, write_graph

EXPERIMENT = """
name = "tiny"
seeds = [0]
[sources.k1]
load = "k1.nt"
[sources.k2]
load = "k2.nt"
[merge]
operator = "union"
[model]
encoder = "embedding"
decoder = "distmult"
dim = 4
[pretrain]
epochs = 1
progress = false
threads = 1
[finetune]
epochs = 1
progress = false
threads = 1
[compare]
strategies = ["scratch", "full"]
alphas = [0.0]
"""


@pytest.fixture
def single_run(tmp_path):
    """The output folder of a finished ``kgtransfer pretrain``: ``checkpoints/`` holds ``last/`` and ``best/``."""
    source = write_graph(tmp_path / "k1.nt")
    write_graph(tmp_path / "k2.nt", shift=2)
    out = tmp_path / "run"
    assert main(["pretrain", source, "-o", str(out), "--epochs", "1", *FLAGS]) == 0
    return out


def test_a_sequence_resume_over_a_single_runs_checkpoints_names_both_kinds(single_run, tmp_path, capsys):
    """It said "not a kgtransfer checkpoint (no model.safetensors)" of a kgtransfer run's checkpoints."""
    snapshots = [str(tmp_path / "k1.nt"), str(tmp_path / "k2.nt")]
    assert main(["sequence", *snapshots, "-o", str(single_run), "--resume", "--dim", "4", "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "holds a single run's checkpoints, not a sequence's" in err and "--overwrite" in err


def test_a_comparison_resume_over_a_single_runs_checkpoints_is_refused_before_it_writes_there(single_run, tmp_path):
    """It marked the single run's checkpoints as a comparison's and trained into them, mixing both runs."""
    from kgtransfer.experiment import run_experiment

    file = tmp_path / "tiny.toml"
    file.write_text(EXPERIMENT, encoding="utf-8")
    before = sorted(p.name for p in (single_run / "checkpoints").iterdir())
    with pytest.raises(CheckpointError, match="holds a single run's checkpoints, not a comparison's"):
        run_experiment(file, single_run, resume=True)
    assert sorted(p.name for p in (single_run / "checkpoints").iterdir()) == before


def test_compare_and_sequence_refuse_each_others_checkpoints_with_one_message(tmp_path):
    import kgtransfer as kgt
    from kgtransfer.files import save_json
    from kgtransfer.transfer.compare import _checkpoint_root
    from kgtransfer.transfer.sequence_checkpoint import load_sequence

    comparison, sequence = tmp_path / "c", tmp_path / "s"
    _checkpoint_root(comparison, False)
    with pytest.raises(CheckpointError, match="holds a comparison's checkpoints, not a sequence's"):
        load_sequence(comparison, {})
    sequence.mkdir()
    (sequence / "model.safetensors").write_bytes(b"")
    save_json(sequence / "meta.json", {"kind": "sequence"})
    with pytest.raises(CheckpointError, match="holds a sequence's checkpoints, not a comparison's"):
        _checkpoint_root(sequence, True)
    with pytest.raises(kgt.ConfigError, match="resume=True needs the checkpoint_dir"):
        _checkpoint_root(None, True)


def test_run_without_output_says_where_to_resume_when_interrupted(tmp_path, capsys, monkeypatch):
    """``kgtransfer run FILE`` (output runs/<name>) printed a bare "interrupted" over its checkpoints."""
    import kgtransfer.experiment

    file = tmp_path / "tiny.toml"
    file.write_text(EXPERIMENT, encoding="utf-8")

    def interrupted(experiment, out=None, *args, **kwargs):
        (kgtransfer.experiment.Path(out or "runs/tiny") / "checkpoints").mkdir(parents=True)
        raise KeyboardInterrupt

    monkeypatch.setattr(kgtransfer.experiment, "run_experiment", interrupted)
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(file)]) == 130
    expected = "interrupted; run the same command with --resume to continue from runs/tiny/checkpoints"
    assert expected in capsys.readouterr().err.replace("\\", "/")


def test_every_resume_needs_its_checkpoint_dir(tmp_path):
    """``kgt.sequence``, ``kgt.compare`` refused ``resume=True`` alone; ``kgt.train``, ``kgt.finetune`` trained anew."""
    import kgtransfer as kgt

    source = write_graph(tmp_path / "k1.nt")
    config = kgt.TrainConfig(epochs=1, progress=False, threads=1)
    model = kgt.ModelConfig(encoder="embedding", decoder="distmult", dim=4)
    with pytest.raises(kgt.ConfigError, match="resume=True needs the checkpoint_dir"):
        kgt.train(source, model, config, resume=True)
    pre = kgt.train(source, model, config)
    with pytest.raises(kgt.ConfigError, match="resume=True needs the checkpoint_dir"):
        kgt.finetune(pre, source, config=config, resume=True)


def test_overwrite_says_a_sequence_replaces_the_earlier_results_after_its_first_step(tmp_path, capsys):
    """It said a stopped run leaves the earlier results there; a sequence saves its own after every step."""
    from kgtransfer.checkpoint import checkpoints_in
    from kgtransfer.files import save_json

    for kind in ("sequence", "comparison"):
        folder = tmp_path / kind / "checkpoints"
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"")
        save_json(folder / "meta.json", {"kind": kind})
        checkpoints_in(tmp_path / kind, False, True, kind=kind)
    sequence, comparison = capsys.readouterr().err.strip().split("\n")
    assert "after its first step" in sequence and "leaves the earlier results" not in sequence
    assert "a run stopped before leaves the earlier results there" in comparison


def test_a_new_run_does_not_write_over_another_kinds_checkpoints(tmp_path):
    """``kgt.sequence(checkpoint_dir=...)`` swapped its checkpoint in over a comparison's, deleting every seed's."""
    import kgtransfer as kgt
    from kgtransfer.transfer.compare import _checkpoint_root

    comparison = tmp_path / "comparison"
    _checkpoint_root(comparison, False)
    (comparison / "seed0" / "pretrain" / "last").mkdir(parents=True)
    snapshots = [write_graph(tmp_path / "k1.nt"), write_graph(tmp_path / "k2.nt", shift=2)]
    config = kgt.TrainConfig(epochs=1, progress=False, threads=1)
    with pytest.raises(CheckpointError, match="holds a comparison's checkpoints, not a sequence's"):
        kgt.sequence(snapshots, config=config, checkpoint_dir=comparison)
    with pytest.raises(CheckpointError, match="holds a comparison's checkpoints, not a single run's"):
        kgt.train(snapshots[0], kgt.ModelConfig(encoder="embedding", dim=4), config, checkpoint_dir=comparison)
    assert (comparison / "seed0" / "pretrain" / "last").is_dir() and not (comparison / "last").exists()


def test_a_single_run_into_a_sequences_folder_is_refused_naming_what_is_there(tmp_path):
    from kgtransfer.checkpoint import check_run_folder
    from kgtransfer.errors import OutputExistsError

    out = tmp_path / "seq"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "meta.json").write_text('{"kind": "sequence"}')
    (out / "results.json").write_text("{}")
    with pytest.raises(OutputExistsError, match="holds a sequence's results and checkpoints, not a single run's"):
        check_run_folder(out)
