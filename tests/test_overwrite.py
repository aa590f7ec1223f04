"""The Python API refuses an earlier run's checkpoints unless ``resume=True`` or ``overwrite=True``, as the CLI does."""

from __future__ import annotations

import json

import pytest

import kgtransfer as kgt
from kgtransfer.errors import CheckpointError
from tests.test_cli_resume import write_graph
from tests.transfer.test_sequence import write_snapshots

MODEL = kgt.ModelConfig(encoder="embedding", decoder="distmult", dim=4)
CONFIG = kgt.TrainConfig(epochs=1, eval_every=1, batch_size=32, progress=False, threads=1)
#: what every refusal names: the folder is added per test
WAYS_OUT = ("checkpoints of an earlier run", "resume=True to continue it", "overwrite=True to start a new run")


def stop_after_a_checkpoint(monkeypatch) -> None:
    """Make training raise KeyboardInterrupt right after it writes its first checkpoint (a Ctrl-C then)."""
    from kgtransfer import checkpoint

    save = checkpoint.save_training_state

    def stopped(path, *args, **kwargs):
        save(path, *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint, "save_training_state", stopped)


def files(folder) -> dict[str, bytes]:
    """Every file under ``folder`` and its bytes (what a refused run must leave as it was)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(call, folder) -> str:
    """``call()`` raises a CheckpointError that names ``folder`` and both ways out, and changes nothing there."""
    before = files(folder)
    with pytest.raises(CheckpointError) as raised:
        call()
    message = str(raised.value)
    assert str(folder) in message and all(part in message for part in WAYS_OUT), message
    assert files(folder) == before
    return message


@pytest.fixture
def graph(tmp_path):
    return write_graph(tmp_path / "g.nt")


def test_train_refuses_an_earlier_runs_checkpoints_and_overwrite_replaces_them(graph, tmp_path):
    """``kgt.train(..., checkpoint_dir=...)`` without ``resume`` silently replaced the earlier run's checkpoints."""
    ckpt = tmp_path / "ckpt"
    kgt.train(graph, MODEL, CONFIG, checkpoint_dir=ckpt)
    refused(lambda: kgt.train(graph, MODEL, CONFIG, checkpoint_dir=ckpt, seed=3), ckpt)
    refused(lambda: kgt.pretrain(graph, MODEL, CONFIG, checkpoint_dir=ckpt, seed=3), ckpt)
    again = kgt.train(graph, MODEL, CONFIG, checkpoint_dir=ckpt, seed=3, epochs=2, overwrite=True)
    assert again.fit.epochs_run == 2 and json.loads((ckpt / "last" / "meta.json").read_text())["epoch"] == 2
    assert not (tmp_path / ".ckpt.earlier").exists()
    resumed = kgt.train(graph, MODEL, CONFIG, checkpoint_dir=ckpt, seed=3, epochs=2, resume=True)  # the new run's
    assert resumed.fit.history.loss == again.fit.history.loss


def test_an_overwrite_stopped_before_it_ends_keeps_the_earlier_checkpoints_aside(graph, tmp_path, monkeypatch):
    """The earlier run's checkpoints are not lost before the new run replaces them: set aside until it ends."""
    ckpt = tmp_path / "ckpt"
    kgt.train(graph, MODEL, CONFIG, checkpoint_dir=ckpt)
    earlier = files(ckpt)
    stop_after_a_checkpoint(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        kgt.train(graph, MODEL, CONFIG, checkpoint_dir=ckpt, seed=3, overwrite=True)
    assert files(tmp_path / ".ckpt.earlier") == earlier and files(ckpt) != earlier
    monkeypatch.undo()
    kgt.train(graph, MODEL, CONFIG, checkpoint_dir=ckpt, seed=3, overwrite=True)  # the stopped run's go, then these
    assert not (tmp_path / ".ckpt.earlier").exists() and (ckpt / "last" / "meta.json").is_file()


def test_a_resume_of_a_stopped_overwrite_deletes_the_set_aside_checkpoints_when_it_ends(graph, tmp_path, monkeypatch):
    """``resume=True`` finished the stopped new run but left ``.NAME.earlier`` for good (the CLI's save drops it).

    Worse, a later ``overwrite=True`` then kept that older copy and deleted the finished run's checkpoints.
    """
    ckpt = tmp_path / "ckpt"
    kgt.train(graph, MODEL, CONFIG, checkpoint_dir=ckpt)
    stop_after_a_checkpoint(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        kgt.train(graph, MODEL, CONFIG, checkpoint_dir=ckpt, seed=3, epochs=2, overwrite=True)
    monkeypatch.undo()
    assert (tmp_path / ".ckpt.earlier").is_dir()
    kgt.train(graph, MODEL, CONFIG, checkpoint_dir=ckpt, seed=3, epochs=2, resume=True)
    assert not (tmp_path / ".ckpt.earlier").exists()
    assert json.loads((ckpt / "last" / "meta.json").read_text())["epoch"] == 2

    snapshots = write_snapshots(tmp_path / "toy")[:2]
    seq = tmp_path / "seq"
    (tmp_path / ".seq.earlier").mkdir()  # as a stopped overwrite leaves it
    (tmp_path / ".seq.earlier" / "meta.json").write_text("{}")
    kgt.sequence(snapshots, MODEL, CONFIG, scratch=False, alphas=(), checkpoint_dir=seq, resume=True)
    assert not (tmp_path / ".seq.earlier").exists() and (seq / "meta.json").is_file()


def test_an_overwrite_that_fails_before_it_trains_leaves_the_earlier_checkpoints_in_place(graph, tmp_path):
    """A mistyped setting or a missing file with ``overwrite=True`` moved the earlier checkpoints aside, then failed.

    The folder was left empty (a run without either flag then trained into it, unrefused) and the earlier
    checkpoints hidden in ``.NAME.earlier``; they are set aside only once the run's settings and data are good.
    """
    ckpt = tmp_path / "ckpt"
    kgt.train(graph, MODEL, CONFIG, checkpoint_dir=ckpt)
    pre = kgt.pretrain(graph, MODEL, CONFIG)
    snapshots = write_snapshots(tmp_path / "toy")[:2]
    seq = tmp_path / "seq"
    kgt.sequence(snapshots, MODEL, CONFIG, scratch=False, alphas=(), checkpoint_dir=seq)
    missing, broken = str(tmp_path / "missing.nt"), tmp_path / "broken.nt"
    broken.write_text("<http://example.org/a> <http://example.org/r> .\n")  # no object
    calls = [
        (lambda: kgt.train(graph, MODEL, CONFIG, checkpoint_dir=ckpt, epochs=0, overwrite=True), ckpt),
        (lambda: kgt.train(missing, MODEL, CONFIG, checkpoint_dir=ckpt, overwrite=True), ckpt),
        (lambda: kgt.finetune(pre, missing, "full", CONFIG, checkpoint_dir=ckpt, overwrite=True), ckpt),
        (lambda: kgt.sequence([str(broken), *snapshots], MODEL, CONFIG, checkpoint_dir=seq, overwrite=True), seq),
    ]
    for call, folder in calls:
        before = files(folder)
        with pytest.raises(kgt.KGTransferError):
            call()
        assert files(folder) == before and not (tmp_path / f".{folder.name}.earlier").exists()
    refused(lambda: kgt.train(graph, MODEL, CONFIG, checkpoint_dir=ckpt), ckpt)  # still there, still refused


def test_finetune_refuses_an_earlier_runs_checkpoints_and_overwrite_replaces_them(graph, tmp_path):
    pre = kgt.pretrain(graph, MODEL, CONFIG)
    ckpt = tmp_path / "ckpt"
    kgt.finetune(pre, graph, "full", CONFIG, checkpoint_dir=ckpt)
    refused(lambda: kgt.finetune(pre, graph, "lp-ft", CONFIG, epochs=2, checkpoint_dir=ckpt), ckpt)
    kgt.finetune(pre, graph, "lp-ft", CONFIG, epochs=2, checkpoint_dir=ckpt, overwrite=True)
    assert sorted(p.name for p in ckpt.iterdir()) == ["phase0", "phase1"]  # lp-ft's probe, then full
    assert not (tmp_path / ".ckpt.earlier").exists()


def test_sequence_refuses_an_earlier_runs_checkpoint_and_overwrite_replaces_it(tmp_path):
    snapshots = write_snapshots(tmp_path / "toy")[:2]
    ckpt = tmp_path / "ckpt"

    def run(**kwargs):
        return kgt.sequence(snapshots, MODEL, CONFIG, scratch=False, alphas=(), checkpoint_dir=ckpt, **kwargs)

    run()
    message = refused(lambda: run(strategies=["replay"]), ckpt)
    assert "a sequence's" not in message  # the same kind: no kind to name
    result = run(strategies=["replay"], overwrite=True)
    assert {r["strategy"] for r in result.records} >= {"replay"}
    assert json.loads((ckpt / "meta.json").read_text())["setup"]["strategies"][0]["name"] == "replay"
    assert not (tmp_path / ".ckpt.earlier").exists()


def test_compare_refuses_an_earlier_comparisons_checkpoints_and_overwrite_replaces_them(graph, tmp_path):
    ckpt = tmp_path / "ckpt"

    def run(variants, **kwargs):
        return kgt.compare(
            graph,
            graph,
            variants,
            model=MODEL,
            pretrain_config=CONFIG,
            finetune_config=CONFIG,
            split="all",
            alphas=(),
            interleaved=False,
            log=None,
            checkpoint_dir=ckpt,
            **kwargs,
        )

    run(["scratch"])
    refused(lambda: run(["scratch", "full"]), ckpt)
    result = run(["scratch", "full"], overwrite=True)
    assert set(result.runs) == {"scratch", "full", "interpolation"}
    assert sorted(p.name for p in (ckpt / "seed0").iterdir()) == ["full", "pretrain", "scratch"]
    assert not (tmp_path / ".ckpt.earlier").exists()


def test_another_kinds_checkpoints_are_refused_naming_overwrite_and_overwritten_with_it(graph, tmp_path):
    """Another kind's checkpoints are named as such; the way out is ``overwrite=True``, not the CLI's flag."""
    snapshots = write_snapshots(tmp_path / "toy")[:2]
    ckpt = tmp_path / "ckpt"
    kgt.train(graph, MODEL, CONFIG, checkpoint_dir=ckpt)
    with pytest.raises(CheckpointError, match="not a sequence's; pass overwrite=True to start a new run") as raised:
        kgt.sequence(snapshots, MODEL, CONFIG, scratch=False, alphas=(), checkpoint_dir=ckpt)
    assert "--overwrite" not in str(raised.value)
    kgt.sequence(snapshots, MODEL, CONFIG, scratch=False, alphas=(), checkpoint_dir=ckpt, overwrite=True)
    assert json.loads((ckpt / "meta.json").read_text())["kind"] == "sequence" and not (ckpt / "last").exists()


def test_resume_and_overwrite_together_are_refused_by_every_run(graph, tmp_path):
    """One continues the run in checkpoint_dir, the other starts a new one: refused before anything trains."""
    pre = kgt.pretrain(graph, MODEL, CONFIG)
    ckpt = tmp_path / "ckpt"
    both = {"checkpoint_dir": ckpt, "resume": True, "overwrite": True}
    calls = [
        lambda: kgt.train(graph, MODEL, CONFIG, **both),
        lambda: kgt.finetune(pre, graph, "full", CONFIG, **both),
        lambda: kgt.sequence(write_snapshots(tmp_path / "toy")[:2], MODEL, CONFIG, **both),
        lambda: kgt.compare(graph, graph, ["scratch"], model=MODEL, split="all", log=None, **both),
    ]
    for call in calls:
        with pytest.raises(kgt.ConfigError, match="resume=True continues .*overwrite=True starts a new one"):
            call()
    assert not ckpt.exists()


def test_under_torchrun_rank_0_alone_sets_the_earlier_checkpoints_aside(tmp_path, monkeypatch):
    """Every rank calls ``kgt.train``; two moving the same folder at once would fail on one of them."""
    from kgtransfer.checkpoint import claim_checkpoints

    ckpt = tmp_path / "ckpt"

    def earlier():
        (ckpt / "last").mkdir(parents=True)
        (ckpt / "last" / "meta.json").write_text("{}")

    earlier()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert claim_checkpoints(ckpt, False, "run", overwrite=True) is None and (ckpt / "last" / "meta.json").is_file()
    monkeypatch.setenv("RANK", "0")
    assert claim_checkpoints(ckpt, False, "run", overwrite=True) == ckpt and not ckpt.exists()
    assert (tmp_path / ".ckpt.earlier" / "last" / "meta.json").read_text() == "{}"
    # a RANK some other launcher set, outside a torchrun job (or an empty one), is no rank to defer to
    for rank, world in (("1", "1"), ("", "2")):
        earlier()
        monkeypatch.setenv("RANK", rank)
        monkeypatch.setenv("WORLD_SIZE", world)
        assert claim_checkpoints(ckpt, False, "run", overwrite=True) == ckpt and not ckpt.exists()


@pytest.mark.parametrize("folder", [".", "..", "./"])
def test_the_working_folder_is_no_checkpoint_dir(folder, tmp_path, monkeypatch):
    """checkpoint_dir='.' failed deep inside pathlib ("'.' has an empty name"); a save would swap the folder itself."""
    monkeypatch.chdir(tmp_path)
    graph = kgt.KnowledgeGraph.from_triples(
        [(f"<urn:e{i}>", "<urn:p>", f"<urn:e{(i * 3 + 1) % 20}>") for i in range(40)]
    )
    with pytest.raises(kgt.ConfigError, match="is the working folder or one above it; pass a folder of its own"):
        kgt.train(graph, encoder="embedding", dim=4, epochs=1, checkpoint_dir=folder)
    assert list(tmp_path.iterdir()) == []


def test_under_torchrun_the_commands_leave_the_earlier_checkpoints_to_rank_0(tmp_path, monkeypatch, capsys):
    """``--overwrite`` set them aside on every rank, each saying so: a second move failed, or hid rank 0's."""
    from kgtransfer.checkpoint import checkpoints_in, drop_earlier_checkpoints, rank_overwrite

    out = tmp_path / "out"
    (out / "checkpoints" / "last").mkdir(parents=True)
    (out / "checkpoints" / "last" / "meta.json").write_text("{}")
    before = files(out)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert checkpoints_in(out, False, True, kind="run") == out / "checkpoints"
    assert files(out) == before and "set aside" not in capsys.readouterr().err  # neither moved nor refused
    assert rank_overwrite(True) and not rank_overwrite(False)  # and its run is told to leave them to rank 0
    monkeypatch.setenv("RANK", "0")
    assert not rank_overwrite(True)  # rank 0 set them aside itself: they go when the command saves
    assert checkpoints_in(out, False, True, kind="run") == out / "checkpoints"
    assert "set aside" in capsys.readouterr().err and not (out / "checkpoints").exists()
    assert (out / ".checkpoints.earlier" / "last" / "meta.json").read_text() == "{}"
    monkeypatch.setenv("RANK", "1")
    drop_earlier_checkpoints(out)  # another rank's save deletes nothing
    assert (out / ".checkpoints.earlier" / "last" / "meta.json").is_file()
    monkeypatch.setenv("RANK", "0")
    drop_earlier_checkpoints(out)
    assert not (out / ".checkpoints.earlier").exists()


class Reached(Exception):
    """Raised where a command would start training: it got there, the earlier checkpoints as they are then."""


@pytest.mark.parametrize("command", ["pretrain", "finetune"])
def test_under_torchrun_cli_overwrite_on_another_rank_neither_moves_nor_refuses(command, graph, tmp_path, monkeypatch):
    """Rank 1 may reach training before rank 0 has set the earlier checkpoints aside: it must not refuse them."""
    from kgtransfer import training
    from kgtransfer.cli import main
    from kgtransfer.transfer import finetune

    quick = ["--encoder", "embedding", "--dim", "4", "--epochs", "1", "--no-progress", "--threads", "1"]
    pre, out = tmp_path / "pre", tmp_path / "out"
    assert main(["pretrain", graph, "-o", str(pre), *quick]) == 0
    args = ["pretrain", graph, "-o", str(out), *quick]
    if command == "finetune":
        args = ["finetune", str(pre), graph, "-o", str(out), "--epochs", "1", "--no-progress"]
    assert main(args) == 0
    before = files(out)

    def reached(*args, **kwargs):
        raise Reached

    monkeypatch.setattr(training, "fit", reached)
    monkeypatch.setattr(finetune, "run_strategy", reached)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    with pytest.raises(Reached):
        main([*args, "--overwrite"])
    assert files(out) == before and not (tmp_path / "out" / ".checkpoints.earlier").exists()
    monkeypatch.setenv("RANK", "0")  # rank 0 sets them aside, and trains
    with pytest.raises(Reached):
        main([*args, "--overwrite"])
    assert not (out / "checkpoints").exists() and (out / ".checkpoints.earlier").is_dir()


def test_under_torchrun_rank_0_alone_writes_the_run_folder(tmp_path, monkeypatch):
    """Every rank of a torchrun'd command wrote the same run folder at once (save_run, a sequence's steps)."""
    from kgtransfer.checkpoint import save_result, save_run

    class Result:
        saved: list = []

        def save(self, directory):
            self.saved.append(directory)

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    save_run(Result(), tmp_path / "a")
    save_result(Result(), tmp_path / "b")
    assert Result.saved == []
    monkeypatch.setenv("RANK", "0")
    save_run(Result(), tmp_path / "a")
    save_result(Result(), tmp_path / "b")
    assert Result.saved == [tmp_path / "a", tmp_path / "b"]
