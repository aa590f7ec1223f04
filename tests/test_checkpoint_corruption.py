"""Corrupt run folders and checkpoints: every corruption is a typed error, never NaN weights or a silent restart."""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

import pytest
import torch
from torch import nn

import kgtransfer as kgt
from kgtransfer.engine import TrainConfig, fit
from kgtransfer.errors import CheckpointError, KGTransferError
from kgtransfer.knowledge.graph import KnowledgeGraph


class Toy:
    """A deterministic two-class task for nn.Linear(4, 2)."""

    metric = "acc"

    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(64, 4, generator=g)
        self.y = (self.x[:, 0] > 0).long()

    def to(self, device):
        self.x, self.y = self.x.to(device), self.y.to(device)
        return self

    def size(self):
        return len(self.x)

    def batches(self, epoch, batch_size, generator):
        order = torch.randperm(len(self.x), generator=generator)
        yield from (order[i : i + batch_size] for i in range(0, len(order), batch_size))

    def loss(self, model, batch):
        return nn.functional.cross_entropy(model(self.x[batch]), self.y[batch])

    def evaluate(self, model, split):
        return {"acc": float((model(self.x).argmax(1) == self.y).float().mean())}


def toy_run(folder: Path) -> None:
    torch.manual_seed(0)
    config = TrainConfig(epochs=2, lr=0.1, batch_size=16, eval_every=1, progress=False)
    fit(nn.Linear(4, 2), Toy(), config, checkpoint_dir=folder)


def resume(folder: Path):
    torch.manual_seed(1)
    config = TrainConfig(epochs=3, lr=0.1, batch_size=16, eval_every=1, progress=False)
    return fit(nn.Linear(4, 2), Toy(), config, checkpoint_dir=folder, resume=True)


def corruptions(folder: Path):
    """``(label, function)`` pairs, each damaging one file of ``folder`` in one way."""
    rng = random.Random(0)
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = file.relative_to(folder)
        data = file.read_bytes()
        yield f"{rel}: deleted", lambda f=file: f.unlink()
        yield f"{rel}: empty", lambda f=file: f.write_bytes(b"")
        yield f"{rel}: half", lambda f=file, d=data: f.write_bytes(d[: len(d) // 2])
        yield f"{rel}: noise", lambda f=file, d=data: f.write_bytes(rng.randbytes(len(d)))
        for k in range(3):
            pos = rng.randrange(len(data)) if data else 0

            def flip(f=file, d=data, pos=pos):
                b = bytearray(d)
                if b:
                    b[pos] ^= 0xFF
                f.write_bytes(bytes(b))

            yield f"{rel}: flipped byte {pos} ({k})", flip
        if file.suffix == ".json":
            yield f"{rel}: a list", lambda f=file: f.write_text("[]")
            yield f"{rel}: deep", lambda f=file: f.write_text("[" * 100_000 + "]" * 100_000)
            yield f"{rel}: no keys", lambda f=file: f.write_text("{}")
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file, save_file

            def nan(f=file):
                tensors = load_file(f)
                save_file(
                    {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in tensors.items()}, f
                )

            def reshaped(f=file):
                tensors = load_file(f)
                save_file({k: torch.zeros(3, 5) for k in tensors}, f)

            yield f"{rel}: NaN weights", nan
            yield f"{rel}: other shapes", reshaped


def test_every_corruption_of_an_engine_checkpoint_is_typed(tmp_path):
    clean = tmp_path / "clean"
    toy_run(clean)
    cases = list(corruptions(clean))
    assert len(cases) > 40
    for label, damage in cases:
        folder = tmp_path / "case"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(clean, folder)
        damage_path = folder / Path(label.split(":")[0])
        damage.__defaults__ = (damage_path, *damage.__defaults__[1:])
        try:
            result = resume(folder)
        except KGTransferError:
            continue
        except Exception as e:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{label}: untyped {type(e).__name__}: {e}")
        # a damage the loader could not see (e.g. a flipped byte inside a float) must still give numbers
        assert all(torch.isfinite(torch.tensor(v)) for v in result.best.values()), label


def test_missing_optimizer_state_is_reported(tmp_path):
    toy_run(tmp_path)
    (tmp_path / "last" / "optimizer.safetensors").unlink()
    with pytest.raises(CheckpointError, match="optimizer"):
        resume(tmp_path)


class Declining(Toy):
    """Validation scores that only fall: the best epoch is the first."""

    def __init__(self):
        super().__init__()
        self.evaluated = 0

    def evaluate(self, model, split):
        self.evaluated += 1
        return {"acc": 1.0 / self.evaluated}


def test_missing_best_is_reported(tmp_path):
    torch.manual_seed(0)
    config = TrainConfig(epochs=2, lr=0.1, batch_size=16, eval_every=1, progress=False)
    fit(nn.Linear(4, 2), Declining(), config, checkpoint_dir=tmp_path)
    shutil.rmtree(tmp_path / "best")
    with pytest.raises(CheckpointError, match="best/ is missing"):
        resume(tmp_path)


def tiny_kg() -> KnowledgeGraph:
    e = [f"<http://example.org/e{i}>" for i in range(12)]
    rows = [(e[i], "<http://example.org/r>", e[(i + 1) % 12]) for i in range(12)]
    rows += [(e[i], "<http://example.org/s>", e[(i + 5) % 12]) for i in range(12)]
    return KnowledgeGraph.from_triples(rows, name="tiny")


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run") / "run"
    config = kgt.TrainConfig(epochs=1, lr=0.05, batch_size=32, progress=False)
    trained = kgt.train(tiny_kg(), kgt.ModelConfig(encoder="embedding", decoder="distmult", dim=4), config, seed=0)
    trained.save(folder)
    return folder


def test_every_corruption_of_a_run_folder_is_typed(run_folder, tmp_path):
    cases = list(corruptions(run_folder))
    for label, damage in cases:
        folder = tmp_path / "case"
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(run_folder, folder)
        damage.__defaults__ = (folder / Path(label.split(":")[0]), *damage.__defaults__[1:])
        try:
            model = kgt.TrainedModel.load(folder)
        except KGTransferError as e:
            assert "\n" not in str(e), f"{label}: a message of several lines: {e}"  # the CLI prints one line
            continue
        except Exception as e:  # noqa: BLE001 - the point of the test
            pytest.fail(f"{label}: untyped {type(e).__name__}: {e}")
        assert all(torch.isfinite(p).all() for p in model.model.parameters()), label


def test_nan_weights_never_load(run_folder, tmp_path):
    from safetensors.torch import load_file, save_file

    folder = tmp_path / "nan"
    shutil.copytree(run_folder, folder)
    file = folder / "checkpoint" / "model.safetensors"
    tensors = load_file(file)
    save_file({k: torch.full_like(v, float("nan")) for k, v in tensors.items()}, file)
    with pytest.raises(CheckpointError, match="differ from the digest"):
        kgt.TrainedModel.load(folder)
    meta_file = folder / "checkpoint" / "meta.json"  # as a run that diverged would save them: digests agree
    meta = json.loads(meta_file.read_text())
    del meta["digests"]
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="NaN"):
        kgt.TrainedModel.load(folder)
    json.loads((folder / "config.json").read_text())  # the rest is untouched


def test_resume_refuses_another_configuration_naming_the_fields(tmp_path):
    toy_run(tmp_path)
    for change, field in [({"lr": 0.5}, "lr"), ({"seed": 3}, "seed"), ({"batch_size": 8}, "batch_size")]:
        config = TrainConfig(**{"epochs": 3, "lr": 0.1, "batch_size": 16, "eval_every": 1, "progress": False, **change})
        with pytest.raises(CheckpointError, match=rf"different training configuration \({field}: "):
            fit(nn.Linear(4, 2), Toy(), config, checkpoint_dir=tmp_path, resume=True)
    assert resume(tmp_path).epochs_run == 3  # more epochs is a legitimate resume


def test_train_resume_refuses_another_lr_dim_or_dataset(tmp_path):
    config = kgt.TrainConfig(epochs=2, lr=0.01, batch_size=32, eval_every=1, progress=False)
    model = kgt.ModelConfig(encoder="embedding", decoder="distmult", dim=4)
    kgt.train(tiny_kg(), model, config, seed=0, checkpoint_dir=tmp_path)
    with pytest.raises(CheckpointError, match="lr: 0.01 -> 0.5"):
        kgt.train(tiny_kg(), model, config, seed=0, lr=0.5, epochs=3, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(CheckpointError, match="seed: 0 -> 1"):
        kgt.train(tiny_kg(), model, config, seed=1, epochs=3, checkpoint_dir=tmp_path, resume=True)
    with pytest.raises(CheckpointError, match=r"model or data \(model.dim: 4 -> 8\)"):  # the field, not two dicts
        wider = kgt.ModelConfig(encoder="embedding", decoder="distmult", dim=8)
        kgt.train(tiny_kg(), wider, config, seed=0, epochs=3, checkpoint_dir=tmp_path, resume=True)
    e = [f"<http://example.org/e{i}>" for i in range(12)]
    rows = [(e[i], "<http://example.org/r>", e[(i + 2) % 12]) for i in range(12)]
    other = KnowledgeGraph.from_triples(rows + [(e[i], "<http://example.org/s>", e[(i + 5) % 12]) for i in range(12)])
    with pytest.raises(CheckpointError, match="model or data.*data"):
        kgt.train(other, model, config, seed=0, epochs=3, checkpoint_dir=tmp_path, resume=True)
    resumed = kgt.train(tiny_kg(), model, config, seed=0, epochs=3, checkpoint_dir=tmp_path, resume=True)
    assert resumed.fit.epochs_run == 3


def _edit_meta(folder: Path, edit) -> Path:
    meta_file = folder / "checkpoint" / "meta.json"
    meta = json.loads(meta_file.read_text())
    edit(meta)
    meta_file.write_text(json.dumps(meta))
    return meta_file


@pytest.mark.parametrize(
    "edit,says",
    [
        (lambda m: m["model"].update(encoder="gat"), "unknown encoder 'gat'"),
        (lambda m: m["model"].update(dim="4"), "ModelConfig.dim"),
        (lambda m: m["train"].update(added_in_a_later_version=1), "added_in_a_later_version"),
        (lambda m: m["task"].update(loss="hinge"), "unknown loss"),
        (lambda m: m["info"].update(compose="xor"), "compose operator 'xor'"),
        (lambda m: m.update(format=2), "checkpoint format 2"),
        (lambda m: m.update(format="1"), "checkpoint format '1'"),
    ],
)
def test_settings_a_version_cannot_load_name_the_meta_file(run_folder, tmp_path, edit, says):
    folder = tmp_path / "run"
    shutil.copytree(run_folder, folder)
    meta_file = _edit_meta(folder, edit)
    with pytest.raises(CheckpointError) as info:
        kgt.TrainedModel.load(folder)
    assert str(meta_file) in str(info.value) and says in str(info.value)


def test_checkpoints_without_a_format_field_still_load(run_folder, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(run_folder, folder)
    _edit_meta(folder, lambda m: m.pop("format"))
    assert kgt.TrainedModel.load(folder).evaluate("test") == kgt.TrainedModel.load(run_folder).evaluate("test")


def test_a_run_of_the_other_task_says_which_loader_reads_it(run_folder, tmp_path):
    from kgtransfer.tasks.node_classification import EntityTypingResult, train_entity_typing

    with pytest.raises(CheckpointError, match="a link-prediction run"):
        EntityTypingResult.load(run_folder)
    rdf_type = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    typed = KnowledgeGraph.from_triples(
        list(tiny_kg()) + [(f"<http://example.org/e{i}>", rdf_type, f"<urn:C{i % 2}>") for i in range(12)]
    )
    config = kgt.TrainConfig(epochs=1, progress=False, threads=1)
    result = train_entity_typing(
        typed, model=kgt.ModelConfig(encoder="rgcn", dim=4), config=config, ratios=(0.5, 0.25, 0.25)
    )
    result.save(tmp_path / "typing")
    with pytest.raises(CheckpointError, match="an entity-typing run"):
        kgt.TrainedModel.load(tmp_path / "typing")
    (tmp_path / "typing" / "labels.json").unlink()
    with pytest.raises(CheckpointError, match="corrupt run folder"):
        EntityTypingResult.load(tmp_path / "typing")


def test_loading_onto_a_device_the_machine_lacks_says_so(run_folder, monkeypatch):
    from kgtransfer.config import ConfigError

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="CUDA is not available"):  # was: "unreadable safetensors file"
        kgt.TrainedModel.load(run_folder, device="cuda")


def test_a_checkpoint_that_kept_the_users_spelling_of_names_resumes(tmp_path):
    """Before configs kept registered names as registered, a checkpoint kept the user's spelling."""
    config = kgt.TrainConfig(epochs=2, lr=0.01, batch_size=32, eval_every=1, progress=False)
    model = kgt.ModelConfig(encoder="embedding", decoder="distmult", dim=4)
    kgt.train(tiny_kg(), model, config, seed=0, checkpoint_dir=tmp_path)
    meta_file = tmp_path / "last" / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta["state"]["model"]["encoder"], meta["config"]["optimizer"] = "Embedding", "ADAM"
    meta_file.write_text(json.dumps(meta))
    result = kgt.train(tiny_kg(), model, config, seed=0, epochs=3, checkpoint_dir=tmp_path, resume=True)
    assert result.fit.epochs_run == 3
    meta = json.loads(meta_file.read_text())
    meta["state"]["model"]["dim"] = 8  # a real change is still one
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="dim"):
        kgt.train(tiny_kg(), model, config, seed=0, epochs=4, checkpoint_dir=tmp_path, resume=True)


def test_a_run_killed_while_swapping_last_resumes_from_the_old_copy(tmp_path):
    """Killed between moving last/ aside and putting the new one in place: resume started over from epoch 1."""
    toy_run(tmp_path)
    (tmp_path / "last").rename(tmp_path / ".last.old")
    trained = []

    class Counted(Toy):
        def batches(self, epoch, batch_size, generator):
            trained.append(epoch)
            yield from super().batches(epoch, batch_size, generator)

    config = TrainConfig(epochs=3, lr=0.1, batch_size=16, eval_every=1, progress=False)
    result = fit(nn.Linear(4, 2), Counted(), config, checkpoint_dir=tmp_path, resume=True)
    assert trained == [3] and result.epochs_run == 3  # epochs 1-2 came from the old copy


def test_a_best_checkpoint_of_another_epoch_than_recorded_is_refused(tmp_path):
    """Killed between writing best/ and last/: best/ held a later epoch than last/ said, and was used as the best."""
    toy_run(tmp_path)
    meta = json.loads((tmp_path / "last" / "meta.json").read_text())
    best_meta_file = tmp_path / "best" / "meta.json"
    best_meta = json.loads(best_meta_file.read_text())
    if meta["best_epoch"] == meta["epoch"]:  # the best is last's own weights: make it an earlier epoch
        meta["best_epoch"] = meta["epoch"] - 1
        (tmp_path / "last" / "meta.json").write_text(json.dumps(meta))
    best_meta["epoch"] = meta["best_epoch"] + 1
    best_meta_file.write_text(json.dumps(best_meta))
    with pytest.raises(CheckpointError, match="stopped while saving"):
        resume(tmp_path)


def test_a_run_checkpointed_before_the_digests_changed_still_resumes(tmp_path):
    """Split digests now count each part's length: a run checkpointed with the old digest was refused."""
    from kgtransfer.training import fingerprint

    config = kgt.TrainConfig(epochs=2, lr=0.01, batch_size=32, eval_every=1, progress=False)
    model = kgt.ModelConfig(encoder="embedding", decoder="distmult", dim=4)
    first = kgt.train(tiny_kg(), model, config, seed=0, checkpoint_dir=tmp_path)
    meta_file = tmp_path / "last" / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta["state"]["data"] = fingerprint(first.split, legacy=True)
    meta_file.write_text(json.dumps(meta))
    resumed = kgt.train(tiny_kg(), model, config, seed=0, epochs=3, checkpoint_dir=tmp_path, resume=True)
    assert resumed.fit.epochs_run == 3
    meta = json.loads(meta_file.read_text())  # the resumed run's checkpoint
    meta["state"]["data"] = "something else"
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="model or data"):
        kgt.train(tiny_kg(), model, config, seed=0, epochs=4, checkpoint_dir=tmp_path, resume=True)


class Scripted(Toy):
    """A Toy whose validation metric follows a script by epoch: a best, a worse epoch, a new best."""

    script = {1: 0.5, 2: 0.4, 3: 0.6, 4: 0.55}

    def batches(self, epoch, batch_size, generator):
        self.epoch = epoch
        yield from super().batches(epoch, batch_size, generator)

    def evaluate(self, model, split):
        return {"acc": self.script[self.epoch]}


@pytest.mark.parametrize("stop_at", ["writing last", "promoting best"])
def test_a_run_stopped_between_a_new_best_and_its_last_resumes(tmp_path, monkeypatch, stop_at):
    """best/ was overwritten before last/ recorded its epoch: a kill in between made the run impossible to resume."""
    import kgtransfer.checkpoint as checkpoint

    def run(folder, resume=False):
        torch.manual_seed(0)
        model = nn.Linear(4, 2)
        config = TrainConfig(epochs=4, lr=0.1, batch_size=16, eval_every=1, progress=False)
        result = fit(model, Scripted(), config, checkpoint_dir=folder, resume=resume)
        return result, model.state_dict()

    whole, whole_weights = run(tmp_path / "whole")
    assert whole.best_epoch == 3
    save, promote = checkpoint.save_training_state, checkpoint.promote_best

    def stopped_save(path, model, optimizer, meta, state=None):
        if stop_at == "writing last" and path.name == "last" and meta["epoch"] == 3:
            raise KeyboardInterrupt
        return save(path, model, optimizer, meta, state)

    def stopped_promote(ckpt):
        if (
            stop_at == "promoting best"
            and (ckpt / "last").exists()
            and checkpoint.read_meta(ckpt / "last" / "meta.json")["epoch"] == 3
        ):
            raise KeyboardInterrupt
        return promote(ckpt)

    monkeypatch.setattr(checkpoint, "save_training_state", stopped_save)
    monkeypatch.setattr(checkpoint, "promote_best", stopped_promote)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "stopped")
    monkeypatch.undo()
    resumed, resumed_weights = run(tmp_path / "stopped", resume=True)
    assert resumed.best_epoch == 3 and resumed.best == whole.best
    assert all(torch.equal(resumed_weights[k], v) for k, v in whole_weights.items())
    assert not (tmp_path / "stopped" / "best.next").exists()


def test_resuming_a_finished_run_keeps_its_seconds(tmp_path):
    """The resumed session's few milliseconds replaced the run's seconds (metrics.json: 0.0286 s -> 0.0004 s)."""

    class Slow(Toy):
        def batches(self, epoch, batch_size, generator):
            time.sleep(0.05)
            yield from super().batches(epoch, batch_size, generator)

    config = TrainConfig(epochs=2, lr=0.1, batch_size=16, eval_every=1, progress=False)
    first = fit(nn.Linear(4, 2), Slow(), config, checkpoint_dir=tmp_path)
    again = fit(nn.Linear(4, 2), Slow(), config, checkpoint_dir=tmp_path, resume=True)
    # the saved seconds leave out the last checkpoint's own write (fsynced: milliseconds to many on a busy disk)
    assert 0.1 <= again.seconds <= first.seconds and again.epochs_run == 2
