"""Resuming a stopped snapshot sequence: the records of an uninterrupted run, settings and data checked."""

from __future__ import annotations

import gzip
import json
from dataclasses import replace

import pytest

from kgtransfer.config import ConfigError
from kgtransfer.errors import CheckpointError
from kgtransfer.transfer import sequence as module
from kgtransfer.transfer.sequence import SequenceResult, sequence
from tests.transfer.test_sequence import CONFIG, MODEL, write_snapshots

#: a strategy that carries Adam's moments, a replay one (one run shared by both protocols), both protocols
RUNS = {"strategies": ["carry-moments", "replay"], "protocols": ("merged", "new-only"), "alphas": (0.5,)}
#: what a resumed step measures anew
TIMES = {"seconds", "cpu_seconds", "prep_seconds", "scratch_seconds", "scratch_cpu_seconds", "ratio", "cpu_ratio"}


class Stop(Exception):
    pass


@pytest.fixture
def snapshots(tmp_path):
    return write_snapshots(tmp_path / "toy")


def stop_after(steps: int):
    """An ``on_step`` that stops the sequence once ``steps`` steps are done (their checkpoint written)."""
    done = []

    def on_step(result):
        done.append(result)
        if len(done) == steps:
            raise Stop

    return on_step


def stopped(snapshots, folder, **kwargs):
    """A sequence stopped after steps 0 and 1; its checkpoint folder."""
    with pytest.raises(Stop):
        sequence(snapshots, MODEL, CONFIG, **RUNS, checkpoint_dir=folder, on_step=stop_after(2), **kwargs)
    return folder


def untimed(records: list[dict]) -> list[dict]:
    """The records as saved, less the wall and CPU seconds a resumed step measures anew."""

    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k not in TIMES}
        return [strip(v) for v in x] if isinstance(x, list) else x

    return strip(json.loads(json.dumps(records, default=str)))


def counted_trainings(monkeypatch) -> list:
    """The list each training of a sequence appends itself to from now on (its run's first argument)."""
    trained, real = [], module._run

    def counted(*args, **kwargs):
        trained.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "_run", counted)
    return trained


def test_a_resumed_sequence_trains_only_the_last_step_and_ends_as_an_uninterrupted_one(
    snapshots, tmp_path, monkeypatch
):
    whole = sequence(snapshots, MODEL, CONFIG, **RUNS)
    folder = stopped(snapshots, tmp_path / "ck")
    trained = counted_trainings(monkeypatch)
    lines = []
    resumed = sequence(
        snapshots, MODEL, CONFIG, **RUNS, checkpoint_dir=folder, resume=True, interleaved=False, log=lines.append
    )
    assert len(trained) == 4  # step 2 only: scratch, carry-moments under both protocols, replay once
    assert sum("done, from" in line for line in lines) == 2
    assert untimed(resumed.records) == untimed(whole.records)
    assert [r["step"] for r in resumed.records] == [r["step"] for r in whole.records]
    assert resumed.setup == {**whole.setup, "interleaved": False}  # how it ran may change, not what it learns
    again = sequence(snapshots, MODEL, CONFIG, **RUNS, checkpoint_dir=folder, resume=True)  # a finished one: no work
    assert len(trained) == 4 and untimed(again.records) == untimed(whole.records)


def test_resuming_with_other_settings_or_data_is_refused_naming_them(snapshots, tmp_path):
    folder = stopped(snapshots, tmp_path / "ck")
    with pytest.raises(CheckpointError, match=r"train\.lr: 0\.02 -> 0\.05"):
        sequence(snapshots, MODEL, replace(CONFIG, lr=0.05), **RUNS, checkpoint_dir=folder, resume=True)
    with pytest.raises(CheckpointError, match=r"strategies"):
        sequence(snapshots, MODEL, CONFIG, **{**RUNS, "strategies": ["replay"]}, checkpoint_dir=folder, resume=True)
    with gzip.open(snapshots[1] / "train.txt.gz", "at", encoding="utf-8") as f:
        f.write("e1\tr0\te99\n")
    with pytest.raises(CheckpointError, match=r"step 1 \(toy/1\) differs"):
        sequence(snapshots, MODEL, CONFIG, **RUNS, checkpoint_dir=folder, resume=True)


def test_a_finished_sequence_extended_by_a_snapshot_trains_only_the_new_step(snapshots, tmp_path, monkeypatch):
    """A finished sequence given one more snapshot was refused (the snapshot names are a setting)."""
    whole = sequence(snapshots, MODEL, CONFIG, **RUNS)
    folder = tmp_path / "ck"
    sequence(snapshots[:2], MODEL, CONFIG, **RUNS, checkpoint_dir=folder)  # finished: steps 0 and 1
    trained = counted_trainings(monkeypatch)
    lines = []
    extended = sequence(snapshots, MODEL, CONFIG, **RUNS, checkpoint_dir=folder, resume=True, log=lines.append)
    assert len(trained) == 4  # step 2 only: scratch, carry-moments under both protocols, replay once
    assert sum("done, from" in line for line in lines) == 2
    assert untimed(extended.records) == untimed(whole.records)
    assert extended.setup == whole.setup
    assert [s.digest for s in extended.steps] == [s.digest for s in whole.steps]
    saved = extended.save(tmp_path / "out")
    assert sorted(p.name for p in (saved / "steps").iterdir()) == ["0", "1", "2"]
    assert untimed(SequenceResult.load(saved).records) == untimed(whole.records)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["step"] == 2 and meta["settings"]["names"] == ["toy/0", "toy/1", "toy/2"]


def test_an_extension_that_changes_or_drops_an_earlier_snapshot_is_refused_naming_it(snapshots, tmp_path):
    folder = tmp_path / "ck"
    sequence(snapshots[:2], MODEL, CONFIG, **RUNS, checkpoint_dir=folder)
    with pytest.raises(CheckpointError, match=r"snapshot 1 is 'other', the checkpoint's 'toy/1'"):
        sequence(
            snapshots, MODEL, CONFIG, **RUNS, names=["toy/0", "other", "toy/2"], checkpoint_dir=folder, resume=True
        )
    with pytest.raises(CheckpointError, match=r"snapshot 1 is 'toy/2', the checkpoint's 'toy/1'"):
        sequence([snapshots[0], snapshots[2]], MODEL, CONFIG, **RUNS, checkpoint_dir=folder, resume=True)
    dropped = r"fewer snapshots: 1 of the checkpoint's 2, snapshot 1 \('toy/1'\) dropped"
    with pytest.raises(CheckpointError, match=dropped):
        sequence(snapshots[:1], MODEL, CONFIG, **RUNS, checkpoint_dir=folder, resume=True)
    with gzip.open(snapshots[1] / "train.txt.gz", "at", encoding="utf-8") as f:
        f.write("e1\tr0\te99\n")
    with pytest.raises(CheckpointError, match=r"step 1 \(toy/1\) differs"):
        sequence(snapshots, MODEL, CONFIG, **RUNS, checkpoint_dir=folder, resume=True)
    assert json.loads((folder / "meta.json").read_text())["step"] == 1  # the refusals left the checkpoint as it was


@pytest.mark.parametrize("file", ["model.safetensors", "moments.safetensors", "meta.json"])
def test_a_damaged_checkpoint_is_a_typed_error_naming_the_file(snapshots, tmp_path, file):
    folder = stopped(snapshots, tmp_path / "ck")
    path = folder / file
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=file.replace(".", r"\.")):
        sequence(snapshots, MODEL, CONFIG, **RUNS, checkpoint_dir=folder, resume=True)


def test_a_sequence_stopped_while_writing_its_checkpoint_resumes_from_the_step_before(snapshots, tmp_path, monkeypatch):
    import safetensors.torch

    real, written = safetensors.torch.save_file, []

    def save_file(tensors, path, *args, **kwargs):
        written.append(path)
        if len(written) == 4:  # the second save's second file (each writes the models, then the moments)
            raise Stop
        return real(tensors, path, *args, **kwargs)

    monkeypatch.setattr(safetensors.torch, "save_file", save_file)
    with pytest.raises(Stop):
        sequence(snapshots, MODEL, CONFIG, **RUNS, checkpoint_dir=tmp_path / "ck")
    monkeypatch.undo()
    lines = []
    resumed = sequence(snapshots, MODEL, CONFIG, **RUNS, checkpoint_dir=tmp_path / "ck", resume=True, log=lines.append)
    assert sum("done, from" in line for line in lines) == 1  # step 0's checkpoint, whole
    assert sorted({r["step"] for r in resumed.records}) == [0, 1, 2]


@pytest.mark.parametrize("entry", ["sequence", "run"])
def test_the_cli_resumes_a_stopped_sequence_and_refuses_to_start_over_it(
    snapshots, tmp_path, monkeypatch, capsys, entry
):
    import kgtransfer as kgt
    from kgtransfer.cli import main

    real = module.sequence

    def interrupted_after_step_1(*args, on_step=None, **kwargs):
        def save_then_stop(result, done=[]):  # noqa: B006 - counts the calls
            on_step(result)
            done.append(result)
            if len(done) == 2:
                raise KeyboardInterrupt

        return real(*args, on_step=save_then_stop, **kwargs)

    toml = tmp_path / "seq.toml"
    toml.write_text(
        '[sequence]\nsnapshots = ["toy/0", "toy/1", "toy/2"]\nstrategies = ["carry-moments", "replay"]\n'
        'protocols = ["merged", "new-only"]\n[model]\ndim = 8\n[train]\nepochs = 2\nthreads = 1\n',
        encoding="utf-8",
    )
    command = {
        "sequence": [*map(str, snapshots), "--dim", "8", "--epochs", "2", "--threads", "1", "--strategies"]
        + ["carry-moments", "replay", "--protocols", "merged", "new-only"],
        "run": [str(toml)],
    }[entry]
    out = tmp_path / "out"
    args = [entry, *command, "-o", str(out)]
    monkeypatch.setattr(kgt, "sequence", interrupted_after_step_1, raising=False)  # first: undo() restores the real one
    monkeypatch.setattr(module, "sequence", interrupted_after_step_1)
    assert main(args) == 130
    assert f"run the same command with --resume to continue from {out}" in capsys.readouterr().err
    monkeypatch.undo()
    assert main(args) == 1
    assert "checkpoints of an earlier run; pass --resume to continue it" in capsys.readouterr().err
    assert main([*args, "--resume"]) == 0
    assert capsys.readouterr().out.count("done, from") == 2
    assert sorted({r["step"] for r in SequenceResult.load(out).records}) == [0, 1, 2]

    def refused(*args, **kwargs):
        raise ConfigError("not run here")

    monkeypatch.setattr(kgt, "sequence", refused, raising=False)
    monkeypatch.setattr(module, "sequence", refused)
    assert main([entry, *command, "-o", str(tmp_path / "new"), "--resume"]) == 1  # a mistyped folder is said
    assert "--resume: no checkpoints in" in capsys.readouterr().err


@pytest.mark.parametrize("entry", ["sequence", "run"])
def test_overwrite_starts_a_new_sequence_over_a_finished_one(snapshots, tmp_path, capsys, entry):
    """A finished sequence's folder was refused ("checkpoints of an earlier run") until deleted by hand."""
    from kgtransfer.cli import main

    toml = tmp_path / "seq.toml"
    toml.write_text(
        '[sequence]\nsnapshots = ["toy/0", "toy/1"]\nscratch = false\n[model]\ndim = 8\n[train]\nepochs = 1\n'
        "threads = 1\n",
        encoding="utf-8",
    )
    command = {
        "sequence": [*map(str, snapshots[:2]), "--dim", "8", "--epochs", "1", "--threads", "1", "--no-scratch"],
        "run": [str(toml)],
    }[entry]
    out = tmp_path / "out"
    args = [entry, *command, "-o", str(out)]
    assert main(args) == 0
    (out / "notes.txt").write_text("mine")  # not kgtransfer's: stays
    capsys.readouterr()
    assert main(args) == 1
    assert "--overwrite to start a new run" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([*args, "--resume", "--overwrite"])
    capsys.readouterr()
    assert main([*args, "--overwrite"]) == 0
    printed = capsys.readouterr()
    assert "checkpoints are set aside" in printed.err and "done, from" not in printed.out  # every step trained again
    assert json.loads((out / "checkpoints" / "meta.json").read_text())["step"] == 1
    assert sorted({r["step"] for r in SequenceResult.load(out).records}) == [0, 1]
    assert not (out / ".checkpoints.earlier").exists() and (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("entry", ["sequence", "run"])
def test_the_cli_extends_a_finished_sequence_by_a_snapshot(snapshots, tmp_path, capsys, entry):
    from kgtransfer.cli import main

    def command(count: int) -> list[str]:
        if entry == "sequence":
            return [*map(str, snapshots[:count]), "--dim", "8", "--epochs", "1", "--threads", "1", "--no-scratch"]
        toml = tmp_path / "seq.toml"
        listed = ", ".join(f'"toy/{i}"' for i in range(count))
        toml.write_text(
            f"[sequence]\nsnapshots = [{listed}]\nscratch = false\n[model]\ndim = 8\n[train]\nepochs = 1\n"
            "threads = 1\n",
            encoding="utf-8",
        )
        return [str(toml)]

    out = tmp_path / "out"
    assert main([entry, *command(2), "-o", str(out)]) == 0
    capsys.readouterr()
    assert main([entry, *command(3), "-o", str(out), "--resume"]) == 0
    printed = capsys.readouterr().out
    assert printed.count("done, from") == 2 and "step 2 (toy/2): " in printed
    assert sorted({r["step"] for r in SequenceResult.load(out).records}) == [0, 1, 2]
    assert json.loads((out / "checkpoints" / "meta.json").read_text())["step"] == 2
    assert main([entry, *command(2), "-o", str(out), "--resume"]) == 1  # dropping one is refused
    assert "fewer snapshots: 2 of the checkpoint's 3, snapshot 2 ('toy/2') dropped" in capsys.readouterr().err


def test_a_sequence_begun_before_the_edge_budget_resumes_without_one(snapshots, tmp_path, monkeypatch):
    """Its checkpoint's task settings lack edge_budget: the resume was refused (task.edge_budget: None -> 64)."""
    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    folder = stopped(snapshots, tmp_path / "ck")
    (meta_file,) = [f for f in folder.rglob("meta.json") if "settings" in json.loads(f.read_text())]
    meta = json.loads(meta_file.read_text())
    del meta["settings"]["task"]["edge_budget"]  # as a checkpoint written before the field
    meta_file.write_text(json.dumps(meta))
    budgets = []
    init = LinkPredictionTask.__init__

    def recording(self, split, config=None, *args, **kwargs):
        init(self, split, config, *args, **kwargs)
        budgets.append(self.config.edge_budget)

    monkeypatch.setattr(LinkPredictionTask, "__init__", recording)
    resumed = sequence(snapshots, MODEL, CONFIG, **RUNS, checkpoint_dir=folder, resume=True)
    assert budgets and set(budgets) == {None} and "edge_budget" not in resumed.setup["task"]
    assert [r["step"] for r in resumed.records][-1] == 2
