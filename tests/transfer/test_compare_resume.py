"""A stopped comparison continues: each training checkpoints in its own folder and resumes from it."""

from __future__ import annotations

import pytest

import kgtransfer as kgt
from kgtransfer.config import ModelConfig, TrainConfig
from kgtransfer.errors import CheckpointError
from kgtransfer.transfer.compare import compare, run_folders

KEYS = ("test", "valid", "best_epoch", "epochs_run", "stopped_early", "curve", "epochs_to_scratch_best", "transfer")


@pytest.fixture
def graphs(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    old = {(f"m{rng.integers(16)}", f"r{rng.integers(2)}", f"m{rng.integers(16)}") for _ in range(80)}
    new = {(f"a{rng.integers(5)}", "q", f"m{rng.integers(16)}") for _ in range(24)}
    lines = lambda triples: "".join(f"<urn:x:{h}> <urn:x:{r}> <urn:x:{t}> .\n" for h, r, t in sorted(triples))  # noqa: E731
    (tmp_path / "k1.nt").write_text(lines(old))
    (tmp_path / "k2.nt").write_text(lines(new))
    k1 = kgt.load(tmp_path / "k1.nt")
    return k1, k1 | kgt.load(tmp_path / "k2.nt")


def run(graphs, folder, resume=False, lr=0.05, **kwargs):
    k1, k = graphs
    config = TrainConfig(epochs=3, lr=lr, eval_every=1, patience=0, progress=False, threads=1)
    return compare(
        k1,
        k,
        {"scratch": None, "full": kgt.FinetuneConfig(), "lp ft:1": kgt.FinetuneConfig(strategy="lp-ft")},
        seeds=[0, 1],
        model=ModelConfig(encoder="embedding", decoder="distmult", dim=8),
        pretrain_config=config,
        finetune_config=config,
        alphas=(0.0, 1.0),
        log=None,
        checkpoint_dir=folder,
        resume=resume,
        **kwargs,
    )


def numbers(result) -> dict:
    out = {v: [{k: r.get(k) for k in KEYS} for r in items] for v, items in result.runs.items() if v != "interpolation"}
    return {**out, "interpolation": result.runs["interpolation"]}


class Epochs:
    """Counts the epochs trained (``epoch_generator`` is drawn once per epoch); raises at epoch ``stop``."""

    def __init__(self, monkeypatch, stop: int | None = None):
        from kgtransfer import engine
        from kgtransfer.rng import epoch_generator as real

        self.count, self.stop = 0, stop

        def counted(*args):
            self.count += 1
            if self.count == self.stop:
                raise KeyboardInterrupt
            return real(*args)

        monkeypatch.setattr(engine, "epoch_generator", counted)


@pytest.mark.parametrize("interleaved", [False, True])
@pytest.mark.parametrize("share", [0.3, 0.6])  # stopped in seed 0's variants, or in seed 1's
def test_a_stopped_comparison_resumes_to_the_uninterrupted_result_without_training_again(
    graphs, tmp_path, monkeypatch, interleaved, share
):
    clean = Epochs(monkeypatch)
    whole = run(graphs, tmp_path / "whole", interleaved=interleaved)
    total = clean.count
    stop = int(total * share)
    first = Epochs(monkeypatch, stop)
    with pytest.raises(KeyboardInterrupt):
        run(graphs, tmp_path / "cut", interleaved=interleaved)
    again = Epochs(monkeypatch)
    resumed = run(graphs, tmp_path / "cut", resume=True, interleaved=interleaved)
    assert numbers(resumed) == numbers(whole)
    if interleaved:  # the jobs stopped with the failing one may lose the epoch they were in
        assert again.count <= total - (stop - 1) + 2
    else:  # every epoch before the stop was checkpointed: none is trained twice
        assert (first.count - 1) + again.count == total
    finished = Epochs(monkeypatch)
    assert numbers(run(graphs, tmp_path / "cut", resume=True, interleaved=interleaved)) == numbers(whole)
    assert finished.count == 0  # a finished comparison resumed trains nothing
    seed = tmp_path / "cut" / "seed1"
    assert sorted(p.name for p in seed.iterdir()) == sorted(
        ["pretrain", *run_folders(["scratch", "full", "lp ft:1"]).values()]
    )


def test_resuming_with_a_changed_setting_is_refused_naming_it(graphs, tmp_path, monkeypatch):
    Epochs(monkeypatch, 5)
    with pytest.raises(KeyboardInterrupt):
        run(graphs, tmp_path / "cut", interleaved=False)
    with pytest.raises(CheckpointError, match="lr: 0.05 -> 0.1"):
        run(graphs, tmp_path / "cut", resume=True, lr=0.1, interleaved=False)
    with pytest.raises(kgt.ConfigError, match="needs the checkpoint_dir"):
        run(graphs, None, resume=True)


def test_variant_folders_are_safe_unique_and_each_depends_on_its_own_label_alone():
    labels = ["scratch", "lp ft:1", "lp_ft_1", "Full", "full", "pretrain", "..", ".hidden"]
    folders = run_folders(labels)
    assert folders["scratch"] == "scratch" and folders["full"] == "full" and folders["lp ft:1"].startswith("lp_ft_1-")
    assert len({f.lower() for f in folders.values()} | {"pretrain"}) == len(folders) + 1
    assert all("/" not in f and not f.startswith(".") for f in folders.values())
    # a variant added later (``Full`` beside ``full``) moves no earlier variant's checkpoints
    assert all(run_folders([label]) == {label: folders[label]} for label in labels)


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
dim = 8
[pretrain]
epochs = 2
lr = 0.05
eval_every = 1
progress = false
threads = 1
[finetune]
epochs = 2
lr = 0.05
eval_every = 1
progress = false
threads = 1
[compare]
strategies = ["scratch", "full"]
alphas = [0.0, 1.0]
"""


def test_run_experiment_resumes_a_comparison_and_refuses_to_start_over_it(graphs, tmp_path, monkeypatch, capsys):
    """``run_experiment(..., resume=True)`` refused comparisons: a killed one lost every training."""
    import json

    from kgtransfer.cli import main
    from kgtransfer.experiment import run_experiment

    file = tmp_path / "tiny.toml"
    file.write_text(EXPERIMENT, encoding="utf-8")
    clean = Epochs(monkeypatch)
    run_experiment(file, tmp_path / "whole")
    out = tmp_path / "out"
    Epochs(monkeypatch, clean.count - 1)  # one after the other: at the first epoch of the last variant
    assert main(["run", str(file), "-o", str(out), "--sequential"]) == 130
    assert f"run the same command with --resume to continue from {out}" in capsys.readouterr().err
    assert main(["run", str(file), "-o", str(out)]) == 1
    assert "checkpoints of an earlier run; pass --resume" in capsys.readouterr().err
    with pytest.raises(CheckpointError, match="checkpoints of an earlier run; pass --resume"):
        run_experiment(file, out)
    again = Epochs(monkeypatch)
    run_experiment(file, out, interleaved=False, resume=True)
    assert again.count == 2  # the stopped variant's two epochs; the pretraining and scratch had finished

    def runs(folder):
        saved = json.loads((folder / "results.json").read_text())["runs"]
        return {v: [{k: r.get(k) for k in KEYS} for r in items] for v, items in saved.items() if v != "interpolation"}

    assert runs(out) == runs(tmp_path / "whole")
    assert (out / "checkpoints" / "seed0" / "full").is_dir()  # kept, as a single run's are
    overwrite = Epochs(monkeypatch)
    run_experiment(file, out, overwrite=True)  # a new run over the finished one: every training again
    assert overwrite.count == clean.count and not (out / ".checkpoints.earlier").exists()
    assert runs(out) == runs(tmp_path / "whole")
    capsys.readouterr()


def test_a_finished_comparison_whose_runs_stopped_early_resumes_to_the_same_result(graphs, tmp_path, monkeypatch):
    """Runs that stopped early are finished too: resumed, they train no further and give back the same result."""
    k1, k = graphs
    config = TrainConfig(epochs=12, lr=0.2, eval_every=1, patience=1, progress=False, threads=1)

    def run_once():
        return compare(
            k1,
            k,
            ["scratch", "full"],
            seeds=[0],
            model=ModelConfig(encoder="embedding", decoder="distmult", dim=8),
            pretrain_config=config,
            finetune_config=config,
            alphas=(0.0, 1.0),
            log=None,
            checkpoint_dir=tmp_path / "ckpt",
            resume=True,
        )

    first = run_once()
    assert all(r["stopped_early"] for items in first.runs.values() for r in items if "stopped_early" in r)
    again = Epochs(monkeypatch)
    assert numbers(run_once()) == numbers(first) and again.count == 0
