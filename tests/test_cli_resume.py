"""``kgtransfer pretrain`` and ``finetune`` checkpoint as they train and continue with ``--resume``."""

from __future__ import annotations

import json

import pytest

from kgtransfer.cli import main
from kgtransfer.knowledge.graph import KnowledgeGraph


def write_graph(path, shift: int = 0):
    """A 32-triple graph of 16 entities and two relations (``shift`` moves the first relation's tails)."""
    e = [f"<http://example.org/e{i}>" for i in range(16)]
    rows = [(e[i], "<http://example.org/r>", e[(i + 1 + shift) % 16]) for i in range(16)]
    rows += [(e[i], "<http://example.org/s>", e[(i + 5) % 16]) for i in range(16)]
    KnowledgeGraph.from_triples(rows, name="g").serialize(path)
    return str(path)


FLAGS = ["--encoder", "embedding", "--dim", "4", "--batch-size", "32", "--eval-every", "1", "--no-progress"]


def test_pretrain_checkpoints_and_resumes(tmp_path, capsys):
    source = write_graph(tmp_path / "g.nt")
    out = tmp_path / "run"
    assert main(["pretrain", source, "-o", str(out), "--epochs", "2", *FLAGS]) == 0
    last = json.loads((out / "checkpoints" / "last" / "meta.json").read_text())
    assert last["epoch"] == 2
    # again without --resume: the earlier checkpoints are not silently reused or overwritten
    assert main(["pretrain", source, "-o", str(out), "--epochs", "3", *FLAGS]) == 1
    assert "--resume" in capsys.readouterr().err
    # a resume with another learning rate is refused, naming the field
    assert main(["pretrain", source, "-o", str(out), "--epochs", "3", "--lr", "0.5", "--resume", *FLAGS]) == 1
    assert "lr:" in capsys.readouterr().err
    assert main(["pretrain", source, "-o", str(out), "--epochs", "3", "--resume", *FLAGS]) == 0
    assert json.loads((out / "checkpoints" / "last" / "meta.json").read_text())["epoch"] == 3


def test_a_resume_with_nothing_to_resume_says_so_and_an_interrupt_says_how_to_resume(tmp_path, capsys, monkeypatch):
    """A mistyped --output with --resume retrained silently; Ctrl-C printed only "interrupted"."""
    import kgtransfer as kgt

    source = write_graph(tmp_path / "g.nt")
    out = tmp_path / "typo"
    assert main(["pretrain", source, "-o", str(out), "--epochs", "1", "--resume", *FLAGS]) == 0
    assert f"--resume: no checkpoints in {out / 'checkpoints'}; starting a new run" in capsys.readouterr().err

    def interrupted(*args, checkpoint_dir, **kwargs):
        if wrote:  # stopped after its first checkpoint
            (checkpoint_dir / "last").mkdir(parents=True)
        raise KeyboardInterrupt

    monkeypatch.setattr(kgt, "pretrain", interrupted)
    wrote = False  # stopped before any checkpoint: there is nothing to resume, and no hint
    assert main(["pretrain", source, "-o", str(tmp_path / "early"), "--epochs", "1", *FLAGS]) == 130
    assert capsys.readouterr().err.endswith("interrupted\n")
    wrote = True
    assert main(["pretrain", source, "-o", str(tmp_path / "run"), "--epochs", "1", *FLAGS]) == 130
    assert f"interrupted; run the same command with --resume to continue from {tmp_path / 'run'}" in (
        capsys.readouterr().err
    )
    assert main(["pretrain", source, "-o", str(tmp_path / "again"), "--epochs", "1", "--overwrite", *FLAGS]) == 130
    assert "interrupted; run the command with --resume in place of --overwrite" in capsys.readouterr().err


def test_finetune_checkpoints_each_phase_and_resumes(tmp_path, capsys):
    source = write_graph(tmp_path / "g.nt")
    assert main(["pretrain", source, "-o", str(tmp_path / "pre"), "--epochs", "1", *FLAGS]) == 0
    out = tmp_path / "ft"
    args = ["finetune", str(tmp_path / "pre"), source, "-o", str(out), "--strategy", "lp-ft", "--epochs", "2"]
    assert main(args + ["--no-progress"]) == 0
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["phase0", "phase1"]
    assert main(args + ["--no-progress", "--resume"]) == 0
    assert main(args + ["--no-progress", "--resume", "--seed", "7"]) == 1
    assert "seed" in capsys.readouterr().err


def test_pretrain_and_finetune_refuse_an_output_folder_that_is_not_a_run_before_training(tmp_path, capsys, monkeypatch):
    """`pretrain -o DIR` overwrote the user's config.json, metrics.json, split/*.tsv and deleted DIR/checkpoint/."""
    import kgtransfer as kgt

    source = write_graph(tmp_path / "g.nt")
    assert main(["pretrain", source, "-o", str(tmp_path / "pre"), "--epochs", "1", *FLAGS]) == 0
    folder = tmp_path / "project"
    (folder / "checkpoint" / "notes").mkdir(parents=True)
    (folder / "checkpoint" / "notes" / "thesis.tex").write_text("mine")
    (folder / "config.json").write_text("mine")
    capsys.readouterr()

    def trains(*args, **kwargs):
        raise AssertionError("trained before refusing the output folder")

    monkeypatch.setattr(kgt, "pretrain", trains)
    monkeypatch.setattr(kgt, "finetune", trains)
    for command in (["pretrain", source, *FLAGS], ["finetune", str(tmp_path / "pre"), source, "--no-progress"]):
        assert main([*command, "-o", str(folder), "--epochs", "1"]) == 1
        err = capsys.readouterr().err
        assert f"{folder}: not a kgtransfer run, yet holds checkpoint, config.json, which" in err, err
    assert (folder / "checkpoint" / "notes" / "thesis.tex").read_text() == "mine"
    assert sorted(p.name for p in folder.iterdir()) == ["checkpoint", "config.json"]


def test_a_resume_keeps_the_sized_settings_of_its_run_when_the_sizing_rules_changed(tmp_path, capsys, monkeypatch):
    """A sizing rule changed between versions (R-GCN's bases above a memory budget) and a checkpoint of a run
    begun before was refused (`model.encoder_kwargs.num_bases: None -> 38`), though the user changed nothing."""
    from kgtransfer import sizing

    source = write_graph(tmp_path / "g.nt")
    out = tmp_path / "run"
    flags = ["--encoder", "rgcn", "--batch-size", "32", "--eval-every", "1", "--threads", "1", "--no-progress"]
    monkeypatch.setattr(sizing, "DIM", 8)
    assert main(["pretrain", source, "-o", str(out), "--epochs", "1", *flags]) == 0
    monkeypatch.setattr(sizing, "DIM", 6)  # today's rules: another dim, and shared weight bases
    monkeypatch.setattr(sizing, "weight_bases", lambda *args: (2, "shared bases"))
    capsys.readouterr()
    assert main(["pretrain", source, "-o", str(out), "--epochs", "2", "--resume", *flags]) == 0
    printed = capsys.readouterr().out
    assert "dim 8, not 6" in printed and "num_bases None, not 2" in printed
    meta = json.loads((out / "checkpoint" / "meta.json").read_text())
    assert meta["model"]["dim"] == 8 and meta["model"]["encoder_kwargs"].get("num_bases") is None
    assert json.loads((out / "checkpoints" / "last" / "meta.json").read_text())["epoch"] == 2
    # a setting the user gives is still compared, and refused naming it
    assert main(["pretrain", source, "-o", str(out), "--epochs", "3", "--resume", "--dim", "6", *flags]) == 1
    assert "model.dim: 8 -> 6" in capsys.readouterr().err


def test_overwrite_starts_a_new_run_over_a_finished_one_and_replaces_it_when_it_saves(tmp_path, capsys, monkeypatch):
    """A finished run's folder was refused ("checkpoints of an earlier run") until the user deleted it by hand."""
    import kgtransfer as kgt

    source = write_graph(tmp_path / "g.nt")
    out = tmp_path / "run"
    args = ["pretrain", source, "-o", str(out), *FLAGS]
    assert main([*args, "--epochs", "1"]) == 0
    (out / "notes.txt").write_text("mine")  # not kgtransfer's: stays
    earlier = {name: (out / name).read_bytes() for name in ("metrics.json", "config.json")}
    capsys.readouterr()
    assert main([*args, "--epochs", "2"]) == 1
    assert "--overwrite to start a new run" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # argparse: not allowed with each other
        main([*args, "--epochs", "2", "--resume", "--overwrite"])
    assert "not allowed with argument" in capsys.readouterr().err

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(kgt, "pretrain", interrupted)
    assert main([*args, "--epochs", "2", "--overwrite"]) == 130  # stopped before it saved: the earlier run stays
    err = capsys.readouterr().err
    assert "checkpoints are set aside" in err and err.endswith("interrupted\n")  # no checkpoint of its own yet
    assert {name: (out / name).read_bytes() for name in earlier} == earlier
    assert (out / ".checkpoints.earlier" / "last").is_dir() and not (out / "checkpoints").exists()
    monkeypatch.undo()
    assert main([*args, "--epochs", "2", "--lr", "0.01", "--overwrite"]) == 0
    assert json.loads((out / "config.json").read_text())["train"]["lr"] == 0.01
    assert json.loads((out / "checkpoints" / "last" / "meta.json").read_text())["epoch"] == 2
    assert not (out / ".checkpoints.earlier").exists() and (out / "notes.txt").read_text() == "mine"
    # a file kgtransfer did not write among the checkpoints is never set aside (nor deleted)
    (out / "checkpoints" / "mine.txt").write_text("mine")
    assert main([*args, "--epochs", "2", "--overwrite"]) == 1
    assert "mine.txt" in capsys.readouterr().err and (out / "checkpoints" / "mine.txt").is_file()


def test_typing_and_finetune_overwrite_a_run_and_its_checkpoints(tmp_path, capsys):
    """Entity typing saved over a pretraining run kept its checkpoints; with --overwrite they go when it saves."""
    from tests.test_cli import _typed_graph

    graph = _typed_graph(tmp_path / "g.nt")
    quick = ["--dim", "8", "--epochs", "1", "--threads", "1", "--no-progress"]
    run = tmp_path / "run"
    assert main(["pretrain", graph, "-o", str(tmp_path / "pre"), *quick]) == 0
    assert main(["finetune", str(tmp_path / "pre"), graph, "-o", str(run), "--epochs", "1", "--no-progress"]) == 0
    assert main(["finetune", str(tmp_path / "pre"), graph, "-o", str(run), "--epochs", "1", "--no-progress"]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert main(["finetune", str(tmp_path / "pre"), graph, "-o", str(run), "--epochs", "1", "--overwrite"]) == 0
    assert (run / "checkpoints" / "phase0").is_dir() and not (run / ".checkpoints.earlier").exists()
    assert main(["typing", graph, "-o", str(run), "--overwrite", *quick]) == 0
    assert (run / "labels.json").is_file() and not (run / "checkpoints").exists()
    assert not (run / ".checkpoints.earlier").exists()


def test_a_resume_follows_the_literal_policy_of_its_run_and_refuses_another(tmp_path, capsys):
    """--resume without --literals rebuilt the split with literals dropped: a run made with nodes could not resume."""
    from tests.data.test_splits import labelled_graph

    labelled_graph().serialize(tmp_path / "g.nt")
    source, out = str(tmp_path / "g.nt"), tmp_path / "run"
    args = ["pretrain", source, "-o", str(out), *FLAGS]
    assert main([*args, "--epochs", "1", "--literals", "nodes"]) == 0
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    assert json.loads((out / "checkpoints" / "last" / "meta.json").read_text())["epoch"] == 2
    assert json.loads((out / "split" / "split.json").read_text())["info"]["literals"] == "nodes"
    capsys.readouterr()
    assert main([*args, "--epochs", "3", "--resume", "--literals", "drop"]) == 1
    err = capsys.readouterr().err
    assert f"--literals drop, but the run in {out / 'checkpoints'} was made with --literals nodes" in err
    # fine-tuning: the policy its checkpoints recorded, not the pretrained run's default
    from kgtransfer.knowledge.graph import KnowledgeGraph
    from tests.data.test_splits import iri

    new = [(iri(f"e{i}"), iri("q"), iri(f"e{(i * 11 + 3) % 30}")) for i in range(30)]  # K = K1 has too few to test
    (labelled_graph() | KnowledgeGraph.from_triples(new)).serialize(tmp_path / "k.nt")
    ft = ["finetune", str(out), str(tmp_path / "k.nt"), "-o", str(tmp_path / "ft"), "--no-progress"]
    assert main([*ft, "--epochs", "1", "--literals", "drop"]) == 0
    assert main([*ft, "--epochs", "2", "--resume"]) == 0
    assert json.loads((tmp_path / "ft" / "split" / "split.json").read_text())["info"]["literals"] == "drop"
    assert main([*ft, "--epochs", "3", "--resume", "--literals", "nodes"]) == 1
    assert "was made with --literals drop" in capsys.readouterr().err
