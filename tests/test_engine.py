"""The training engine: early stopping, determinism, kill-and-resume, errors, threads, device, progress."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from kgtransfer.engine import TrainConfig, choose_threads, fit, resolve_device

TESTS = Path(__file__).parent
ROOT = TESTS.parent


@pytest.fixture(autouse=True)
def _restore_threads():
    """``fit`` sets torch's global intra-op thread count; put it back after each test."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


class ToyTask:
    """Two-class classification of Gaussian points: mini-batches shuffled by the engine's generator."""

    metric = "accuracy"

    def __init__(self, n: int = 96, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        x = torch.randn(2 * n, 8, generator=g)
        y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
        self.x, self.y = x[:n], y[:n]
        self.valid = x[n:], y[n:]

    def to(self, device):
        self.x, self.y = self.x.to(device), self.y.to(device)
        self.valid = tuple(t.to(device) for t in self.valid)
        return self

    def size(self) -> int:
        return 1000

    def batches(self, epoch, batch_size, generator):
        order = torch.randperm(len(self.x), generator=generator)
        yield from order.split(batch_size)

    def loss(self, model, batch):
        return F.cross_entropy(model(self.x[batch]), self.y[batch])

    def evaluate(self, model, split):
        x, y = self.valid
        return {"accuracy": (model(x).argmax(1) == y).float().mean().item()}


class ScriptedTask(ToyTask):
    """A toy task whose validation metric per epoch is scripted, to drive early stopping."""

    def __init__(self, script: list[float]):
        super().__init__()
        self.script, self.epoch = script, 0

    def batches(self, epoch, batch_size, generator):
        self.epoch = epoch
        yield from super().batches(epoch, batch_size, generator)

    def evaluate(self, model, split):
        return {"accuracy": self.script[self.epoch - 1]}


def toy_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))


def config(**changes) -> TrainConfig:
    base = {"epochs": 8, "lr": 0.01, "batch_size": 16, "eval_every": 1, "patience": 0, "progress": False}
    return TrainConfig(**{**base, **changes})


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key].cpu(), b[key].cpu()), key


# --- early stopping -------------------------------------------------------------------------------


def test_early_stopping_keeps_the_best_epoch_weights():
    model, seen = toy_model(), {}
    task = ScriptedTask([0.1, 0.5, 0.3, 0.4, 0.2, 0.9, 0.9, 0.9])
    result = fit(model, task, config(patience=3), on_epoch_end=lambda e, m: seen.update({e: snapshot(m)}))
    assert result.stopped_early
    assert (result.best_epoch, result.epochs_run) == (2, 5)
    assert result.best == {"accuracy": 0.5}
    assert len(result.history.loss) == 5 and [e["epoch"] for e in result.history.evals] == [1, 2, 3, 4, 5]
    assert_same_weights(snapshot(model), seen[2])
    assert not torch.equal(seen[2]["0.weight"], seen[5]["0.weight"])
    assert not model.training


def test_fit_result_and_history_reprs_are_one_line():
    result = fit(toy_model(), ScriptedTask([0.1, 0.5, 0.3, 0.4, 0.2, 0.9, 0.9, 0.9]), config(patience=3))
    text = repr(result)
    assert text.startswith("FitResult(best_epoch=2, epochs_run=5, stopped_early=True, best={accuracy=0.5000}, seconds=")
    assert "\n" not in text and "loss" not in text  # the curve is not dumped
    assert repr(result.history) == "History(epochs=5, evaluations=5)"


def test_patience_counts_evaluations_not_epochs():
    task = ScriptedTask([0.0, 0.5, 0.0, 0.1, 0.0, 0.2, 0.0, 0.3, 0.0, 0.4])
    result = fit(toy_model(), task, config(epochs=10, eval_every=2, patience=2))
    # evaluations at epochs 2, 4, 6 (0.5, 0.1, 0.2): two without improvement after epoch 2
    assert (result.best_epoch, result.epochs_run, result.stopped_early) == (2, 6, True)


def test_no_early_stop_without_patience():
    result = fit(toy_model(), ScriptedTask([0.9] + [0.1] * 7), config(patience=0))
    assert (result.epochs_run, result.best_epoch, result.stopped_early) == (8, 1, False)


def test_without_validation_data_the_latest_epoch_is_kept_with_one_warning():
    model, seen = toy_model(), {}
    task = ScriptedTask([math.nan] * 8)
    with pytest.warns(UserWarning, match="NaN") as caught:
        result = fit(model, task, config(patience=2), on_epoch_end=lambda e, m: seen.update({e: snapshot(m)}))
    assert len([w for w in caught if "NaN" in str(w.message)]) == 1
    assert (result.epochs_run, result.best_epoch, result.stopped_early) == (8, 8, False)
    assert_same_weights(snapshot(model), seen[8])


# --- determinism ----------------------------------------------------------------------------------


def run_toy(seed: int):
    model = toy_model()
    result = fit(model, ToyTask(), config(seed=seed))
    return snapshot(model), result.history


def test_fit_is_deterministic_on_cpu():
    weights_a, history_a = run_toy(seed=3)
    weights_b, history_b = run_toy(seed=3)
    assert_same_weights(weights_a, weights_b)
    assert history_a.loss == history_b.loss and history_a.evals == history_b.evals
    weights_c, history_c = run_toy(seed=4)
    assert not torch.equal(weights_a["0.weight"], weights_c["0.weight"])
    assert history_a.loss != history_c.loss


# --- checkpoints and resume ---------------------------------------------------------------------


def test_checkpoints_are_written_and_resume_of_a_finished_run_is_a_no_op(tmp_path):
    script = [0.1, 0.5, 0.3, 0.4, 0.2, 0.9, 0.9, 0.9]
    model = toy_model()
    first = fit(model, ScriptedTask(script), config(patience=3), checkpoint_dir=tmp_path)
    assert {p.name for p in tmp_path.iterdir()} == {"best", "last"}
    meta = json.loads((tmp_path / "last" / "meta.json").read_text())
    assert (meta["epoch"], meta["best_epoch"], meta["stale"]) == (5, 2, 3)

    again = toy_model(seed=1)  # other initial weights: everything must come from the checkpoints
    second = fit(again, ScriptedTask(script), config(patience=3), checkpoint_dir=tmp_path, resume=True)
    assert (second.best_epoch, second.epochs_run, second.stopped_early) == (2, 5, True)
    assert second.history.loss == first.history.loss and second.history.evals == first.history.evals
    assert_same_weights(snapshot(again), snapshot(model))


def test_resume_in_process_matches_an_uninterrupted_run(tmp_path):
    reference, _ = run_toy(seed=0)
    model = toy_model()
    fit(model, ToyTask(), config(epochs=3), checkpoint_dir=tmp_path)
    resumed = toy_model(seed=1)
    result = fit(resumed, ToyTask(), config(), checkpoint_dir=tmp_path, resume=True)
    assert len(result.history.loss) == 8
    assert_same_weights(snapshot(resumed), reference)


@pytest.mark.parametrize("patience", [0, 2])
def test_a_finished_run_resumed_for_more_epochs_drops_its_closing_evaluation(tmp_path, patience):
    """A run's last epoch is evaluated off the ``eval_every`` schedule; resumed with more epochs, that
    evaluation is not part of the longer run: its history, best epoch, stopping and weights are the
    uninterrupted run's (the closing evaluation of epoch 5 scored best and reset the patience)."""
    script = [0.1, 0.3, 0.1, 0.2, 0.9, 0.1, 0.1, 0.4]
    reference = toy_model()
    expected = fit(reference, ScriptedTask(script), config(eval_every=2, patience=patience))
    short = fit(
        toy_model(), ScriptedTask(script), config(epochs=5, eval_every=2, patience=patience), checkpoint_dir=tmp_path
    )
    assert [e["epoch"] for e in short.history.evals] == [2, 4, 5] and short.best_epoch == 5
    again = fit(
        toy_model(seed=1),
        ScriptedTask(script),
        config(epochs=5, eval_every=2, patience=patience),
        checkpoint_dir=tmp_path,
        resume=True,
    )  # the finished run, resumed as it was: itself
    assert again.history.evals == short.history.evals and again.best_epoch == 5
    resumed = toy_model(seed=1)
    result = fit(
        resumed, ScriptedTask(script), config(eval_every=2, patience=patience), checkpoint_dir=tmp_path, resume=True
    )
    assert result.history.evals == expected.history.evals
    assert (result.best_epoch, result.epochs_run, result.stopped_early) == (
        expected.best_epoch,
        expected.epochs_run,
        expected.stopped_early,
    )
    assert result.history.loss == expected.history.loss
    assert_same_weights(snapshot(resumed), snapshot(reference))


def test_resuming_with_fewer_epochs_than_the_checkpoint_ran_is_refused(tmp_path):
    """It returned the longer run (6 epochs for epochs=3), which a 3-epoch run would not have been."""
    from kgtransfer.errors import CheckpointError

    fit(toy_model(), ToyTask(), config(epochs=6, eval_every=2), checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match="at epoch 6, past epochs=3"):
        fit(toy_model(), ToyTask(), config(epochs=3, eval_every=2), checkpoint_dir=tmp_path, resume=True)
    assert (
        fit(toy_model(), ToyTask(), config(epochs=6, eval_every=2), checkpoint_dir=tmp_path, resume=True).epochs_run
        == 6
    )


def test_long_epochs_checkpoint_between_evaluations(tmp_path, monkeypatch):
    """An epoch of CHECKPOINT_SECONDS or more writes ``last`` though it is not evaluated; resuming there is exact."""
    import kgtransfer.engine as engine

    reference = toy_model()
    expected = fit(reference, ToyTask(), config(eval_every=4))

    def kill(epoch, model):
        if epoch == 7:
            raise KeyboardInterrupt

    monkeypatch.setattr(engine, "CHECKPOINT_SECONDS", 0.0)  # every epoch counts as long
    with pytest.raises(KeyboardInterrupt):
        fit(toy_model(), ToyTask(), config(eval_every=4), checkpoint_dir=tmp_path, on_epoch_end=kill)
    assert json.loads((tmp_path / "last" / "meta.json").read_text())["epoch"] == 6  # not an evaluated epoch
    resumed = toy_model(seed=1)
    result = fit(resumed, ToyTask(), config(eval_every=4), checkpoint_dir=tmp_path, resume=True)
    assert result.history.loss == expected.history.loss and result.history.evals == expected.history.evals
    assert_same_weights(snapshot(resumed), snapshot(reference))


TRAIN_SCRIPT = """
import json, sys, time
sys.path.insert(0, {tests!r})
from test_engine import train_tiny
from kgtransfer.checkpoint import save_checkpoint
out, delay = sys.argv[1], float(sys.argv[2])
trained = train_tiny(sys.argv[3], resume=sys.argv[4] == "1", delay=delay, sampled=sys.argv[5] == "1")
h = trained.fit.history
meta = {{"loss": h.loss, "evals": h.evals, "best_epoch": trained.fit.best_epoch, "test": trained.test}}
save_checkpoint(out, trained.model.state_dict(), meta)
"""

EPOCHS, KILL_AFTER = 12, 4


def tiny_kg():
    """30 entities, three symmetric functional relations (90 triples)."""
    from kgtransfer.knowledge.graph import KnowledgeGraph

    e = [f"<http://example.org/e{i}>" for i in range(30)]
    rel = [f"<http://example.org/r{i}>" for i in range(3)]
    rows = [(e[i], rel[0], e[i ^ 1]) for i in range(30)]
    rows += [(e[i], rel[1], e[29 - i]) for i in range(30)]
    rows += [(e[i], rel[2], e[(i + 15) % 30]) for i in range(30)]
    return KnowledgeGraph.from_triples(rows, name="tiny")


def train_tiny(checkpoint_dir=None, resume: bool = False, delay: float = 0.0, sampled: bool = False):
    """``kgt.train`` on :func:`tiny_kg`; ``delay`` slows each epoch.

    Embedding + DistMult with dropout, or (``sampled``) R-GCN + DistMult with dropout on
    neighbour-sampled steps (fanouts 3, 2: every step draws its own subgraph).
    """
    import kgtransfer as kgt
    from kgtransfer.tasks.link_prediction import LinkPredictionTask

    if delay:
        batches = LinkPredictionTask.batches

        def slow(self, *args, **kwargs):
            time.sleep(delay)
            yield from batches(self, *args, **kwargs)

        LinkPredictionTask.batches = slow
    encoder = "rgcn" if sampled else "embedding"
    model = kgt.ModelConfig(encoder=encoder, decoder="distmult", dim=16, dropout=0.1)
    cfg = TrainConfig(epochs=EPOCHS, lr=0.05, batch_size=16, eval_every=1, patience=50, progress=False)
    task = kgt.TaskConfig(mode="sampled", fanouts=[3, 2]) if sampled else None
    return kgt.train(tiny_kg(), model, cfg, task, checkpoint_dir=checkpoint_dir, resume=resume)


def last_epoch(checkpoint_dir: Path) -> int:
    try:
        return json.loads((checkpoint_dir / "last" / "meta.json").read_text())["epoch"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return 0


@pytest.mark.parametrize("sampled", [False, True], ids=["embedding", "sampled-rgcn"])
def test_killed_run_resumes_to_the_same_result(tmp_path, sampled):
    """Killed after a checkpoint, resumed: the same losses, metrics and weights, bit for bit (tolerance 0).

    For neighbour-sampled steps this holds because each step's subgraph is drawn from a seed that the
    epoch's generator (seeded by seed and epoch) hands out, so the sampler has no state to save.
    """
    from kgtransfer.checkpoint import load_checkpoint

    script = tmp_path / "train.py"
    script.write_text(TRAIN_SCRIPT.format(tests=str(TESTS)))
    ckpt, out = tmp_path / "ckpt", tmp_path / "out"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    flag = "1" if sampled else "0"
    cmd = [sys.executable, str(script), str(out), "0.25", str(ckpt), "0", flag]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while last_epoch(ckpt) < KILL_AFTER and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, proc.stdout.read().decode()
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    killed_at = last_epoch(ckpt)
    assert KILL_AFTER <= killed_at < EPOCHS and not out.exists()

    cmd = [sys.executable, str(script), str(out), "0", str(ckpt), "1", flag]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    weights, meta, _ = load_checkpoint(out)
    assert sorted(p.name for p in ckpt.iterdir()) == ["best", "last"]  # no temporaries of the killed run

    reference = train_tiny(sampled=sampled)
    assert reference.task.mode == ("sampled" if sampled else "batch")
    history = reference.fit.history
    assert len(meta["loss"]) == EPOCHS
    assert meta["loss"] == history.loss and meta["evals"] == history.evals
    assert meta["best_epoch"] == reference.fit.best_epoch
    assert meta["test"] == json.loads(json.dumps(reference.test))
    assert_same_weights(weights, reference.model.state_dict())


# --- errors, threads, device, progress ---------------------------------------------------------


class NanTask(ToyTask):
    def loss(self, model, batch):
        return super().loss(model, batch) * float("nan")


def test_non_finite_loss_raises_a_clear_error():
    from kgtransfer.errors import KGTransferError

    with pytest.raises(KGTransferError, match=r"epoch 1: the loss became nan at lr .*; lower the learning rate"):
        fit(toy_model(), NanTask(), config())


def test_weights_that_diverge_in_the_last_step_raise_instead_of_being_kept():
    # one step: its loss was finite, the update it made is not; the NaN weights were evaluated and kept as best
    from kgtransfer.errors import TrainingDivergedError

    with pytest.raises(TrainingDivergedError, match=r"epoch 1: parameter 0.weight became non-finite") as caught:
        fit(
            toy_model(),
            ToyTask(),
            config(epochs=1, batch_size=1000, optimizer="sgd", lr=1e38, grad_clip=0, weight_decay=3e38),
        )
    assert str(caught.value).endswith("weight decay 3e+38; lower the learning rate or the weight decay")


def test_divergence_on_the_cli_is_one_line(tmp_path, capsys):
    from kgtransfer.cli import main

    rows = [f"<urn:e{i}> <urn:r{i % 2}> <urn:e{(i * 7 + 1) % 20}> .\n" for i in range(40)]
    (tmp_path / "g.nt").write_text("".join(rows))
    flags = ["--encoder", "rgcn", "--dim", "8", "--epochs", "2", "--lr", "1e38", "--grad-clip", "0"]
    code = main(["pretrain", str(tmp_path / "g.nt"), "-o", str(tmp_path / "run"), *flags, "--optimizer", "sgd"])
    err = capsys.readouterr().err
    assert code != 0 and "the loss became" in err and "Traceback" not in err


def test_thread_choice(monkeypatch):
    assert choose_threads(10, None) == 1
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert choose_threads(10**8, None) == len(os.sched_getaffinity(0))  # the CPUs this process may use
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # as torch does, the setting wins (it took os.cpu_count())
    assert choose_threads(10**8, None) == 1
    assert choose_threads(10**8, 1) == 1
    assert choose_threads(10, 3) == 3
    assert choose_threads(10, 0) == 1


def test_fit_sets_the_thread_count_and_restores_it_and_the_rng():
    before = torch.get_num_threads()
    for threads, expected in ((1, 1), (2, 2), (None, 1)):  # ToyTask.size() is small: one thread
        seen, model, cfg = [], toy_model(), config(epochs=1, threads=threads)
        torch.manual_seed(123)
        state = torch.get_rng_state()
        fit(model, ToyTask(), cfg, on_epoch_end=lambda e, m, seen=seen: seen.append(torch.get_num_threads()))
        assert seen == [expected]
        assert torch.get_num_threads() == before
        assert torch.equal(torch.get_rng_state(), state)


def test_device_selection(monkeypatch):
    from kgtransfer.config import ConfigError

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(ConfigError, match="'gpu0': not a torch device"):
        resolve_device("gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ConfigError, match="CUDA is not available"):  # not torch's assertion from deep inside
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(ConfigError, match="2 CUDA device"):
        resolve_device("cuda:2")
    assert TrainConfig().device == "auto"


def test_torchrun_ranks_take_one_gpu_each_or_all_take_the_cpu(monkeypatch):
    """Every rank of a job must pick the same backend: ``auto`` trains on CUDA only with a GPU per local process."""
    from kgtransfer.config import ConfigError
    from kgtransfer.engine import rank_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert [rank_device("auto", rank, 2) for rank in range(2)] == [torch.device("cuda", 0), torch.device("cuda", 1)]
    assert rank_device("cuda", 1, 2) == torch.device("cuda", 1)
    assert rank_device("cpu", 1, 2) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)  # 2 processes, 1 GPU (seen on a 1-GPU machine)
    with pytest.warns(UserWarning, match="2 processes on this machine, which has 1 GPU"):
        assert [rank_device("auto", rank, 2) for rank in range(2)] == [torch.device("cpu")] * 2
    with pytest.raises(ConfigError, match="--nproc_per_node 1"):
        rank_device("cuda", 1, 2)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert rank_device("auto", 1, 2) == torch.device("cpu")


def test_progress_bar_only_when_asked_and_only_on_a_terminal(capsys, monkeypatch):
    fit(toy_model(), ToyTask(), config(epochs=2, progress=False))
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""
    fit(toy_model(), ToyTask(), config(epochs=2, progress=True))
    assert capsys.readouterr().err == ""  # a pipe or log file: its redrawn frames piled up there
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    fit(toy_model(), ToyTask(), config(epochs=2, progress=True))
    assert "train" in capsys.readouterr().err


def test_history_csv_and_config_json():
    result = fit(toy_model(), ToyTask(), config(epochs=4, eval_every=2))
    lines = result.history.to_csv().splitlines()
    assert lines[0] == "epoch,loss,seconds,accuracy"
    assert len(lines) == 5 and lines[1].endswith(",") and not lines[2].endswith(",")
    cfg = config(threads=2)
    assert TrainConfig.from_json({**cfg.to_json(), "unknown": 1}) == cfg


def test_optimizer_choice():
    assert TrainConfig().optimizer == "adam"
    with pytest.raises(ValueError, match="TrainConfig.optimizer: unknown optimizer 'nesterov'; choose one of"):
        TrainConfig(optimizer="nesterov")
    cfg = config(epochs=2, optimizer="adagrad")
    assert TrainConfig.from_json(cfg.to_json()) == cfg
    by_name, explicit, adam = toy_model(), toy_model(), toy_model()
    fit(by_name, ToyTask(), cfg)
    fit(explicit, ToyTask(), cfg, optimizer=torch.optim.Adagrad(explicit.parameters(), lr=cfg.lr))
    fit(adam, ToyTask(), config(epochs=2))
    assert_same_weights(snapshot(by_name), snapshot(explicit))
    assert not torch.equal(snapshot(by_name)["0.weight"], snapshot(adam)["0.weight"])


@pytest.mark.parametrize("rows", [[1, 1, 4], [7, 2, 4, 0]])  # repeated rows; unique unsorted rows (not copied)
def test_clip_gradients_over_sparse_rows_equals_the_dense_clip(rows):
    from kgtransfer.engine import clip_gradients

    torch.manual_seed(0)
    sparse, dense = nn.Embedding(10, 3, sparse=True), nn.Embedding(10, 3)
    dense.load_state_dict(sparse.state_dict())
    extra = [nn.Parameter(torch.ones(4)), nn.Parameter(torch.ones(4))]
    rows = torch.tensor(rows)
    for emb, p in ((sparse, extra[0]), (dense, extra[1])):
        (emb(rows).pow(2).sum() * 10 + (p * 3).sum()).backward()
    norm = clip_gradients([sparse.weight, extra[0]], 1.0)
    reference = nn.utils.clip_grad_norm_([dense.weight, extra[1]], 1.0)
    torch.testing.assert_close(norm, reference)
    assert sparse.weight.grad.is_sparse and norm > 1.0
    torch.testing.assert_close(sparse.weight.grad.to_dense(), dense.weight.grad)
    torch.testing.assert_close(extra[0].grad, extra[1].grad)
    assert sparse.weight.grad.is_coalesced() == (len(rows.unique()) < len(rows))  # unique rows stay as looked up


def test_validation_runs_in_full_precision_where_training_autocasts(monkeypatch):
    """bf16 scores tie far more often than float32 ones, and ties move realistic ranks: validation
    (like ``TrainedModel.evaluate``, which never autocasts) ranks without autocast."""
    from kgtransfer import engine

    seen = {"loss": set(), "evaluate": set()}

    class Recording(ToyTask):
        def loss(self, model, batch):
            seen["loss"].add(torch.is_autocast_enabled("cpu"))
            return super().loss(model, batch)

        def evaluate(self, model, split):
            seen["evaluate"].add(torch.is_autocast_enabled("cpu"))
            return super().evaluate(model, split)

    # what CUDA gets with amp=True, on the CPU of this test
    monkeypatch.setattr(engine, "_autocast", lambda config, device: torch.autocast("cpu", dtype=torch.bfloat16))
    fit(toy_model(), Recording(), config(epochs=2))
    assert seen == {"loss": {True}, "evaluate": {False}}


def test_a_run_whose_validations_all_score_non_finite_says_so_once_and_each_run_says_it_again():
    import warnings

    from kgtransfer.errors import NonFiniteScoreWarning
    from kgtransfer.tasks.link_prediction import evaluate_link_prediction

    triples = torch.tensor([[0, 0, 1], [1, 0, 2]])

    class Overflowing(ToyTask):  # every validation ranks true triples that score infinity
        def evaluate(self, model, split):
            metrics = evaluate_link_prediction(
                lambda ids, rels, side: torch.full((len(ids), 3), float("inf")), triples, None, 3
            )
            return {"accuracy": metrics["mrr"]}

    for _ in range(2):  # a second run in the same process is told too
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit(toy_model(), Overflowing(), config(epochs=4))
        said = [w for w in caught if issubclass(w.category, NonFiniteScoreWarning)]
        assert len(said) == 1 and str(said[0].message).startswith("4 of 4 true triples")
    with warnings.catch_warnings(record=True) as caught:  # outside a run, each evaluation says it
        warnings.simplefilter("always")
        for _ in range(2):
            Overflowing().evaluate(None, "valid")
    assert sum(issubclass(w.category, NonFiniteScoreWarning) for w in caught) == 2
