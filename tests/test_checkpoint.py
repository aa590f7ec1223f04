"""Checkpoints: safetensors + JSON round trips, optimizer state, atomic replacement, no pickle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import safetensors.torch
import torch
from torch import nn

from kgtransfer.checkpoint import load_checkpoint, load_training_state, save_checkpoint, save_training_state
from kgtransfer.errors import KGTransferError, SourceNotFoundError


def model_and_optimizer(seed: int = 0) -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 3))
    return model, torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.95), weight_decay=1e-4)


def step(model: nn.Module, optimizer: torch.optim.Optimizer, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    ids, target = torch.randint(10, (8,), generator=g), torch.randint(3, (8,), generator=g)
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(ids), target).backward()
    optimizer.step()


def test_model_and_optimizer_round_trip(tmp_path):
    model, optimizer = model_and_optimizer()
    for i in range(3):
        step(model, optimizer, i)
    save_training_state(tmp_path / "ckpt", model, optimizer, {"epoch": 3}, state=lambda: {"vocab": ["a", "b"]})

    copy, copy_opt = model_and_optimizer(seed=1)
    meta = load_training_state(tmp_path / "ckpt", copy, copy_opt, torch.device("cpu"))
    assert meta["epoch"] == 3 and meta["state"] == {"vocab": ["a", "b"]}
    for key, value in model.state_dict().items():
        assert torch.equal(copy.state_dict()[key], value)
    original, restored = optimizer.state_dict(), copy_opt.state_dict()
    assert restored["param_groups"][0]["betas"] == pytest.approx((0.8, 0.95))
    assert restored["param_groups"][0]["lr"] == 0.01
    for idx, state in original["state"].items():
        assert set(restored["state"][idx]) == set(state)
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(restored["state"][idx][key], state[key]), (idx, key)

    step(model, optimizer, 7)  # the next step is identical only if the Adam moments came back
    step(copy, copy_opt, 7)
    for key, value in model.state_dict().items():
        assert torch.equal(copy.state_dict()[key], value)


def test_weights_only_load_touches_nothing(tmp_path):
    model, optimizer = model_and_optimizer()
    save_training_state(tmp_path / "best", model, None, {"epoch": 1})
    assert not (tmp_path / "best" / "optimizer.safetensors").exists()
    tensors = load_training_state(tmp_path / "best", None, None, torch.device("cpu"), weights_only=True)
    assert tensors.keys() == model.state_dict().keys()


def test_save_checkpoint_writes_tensors_meta_and_extra(tmp_path):
    tensors = {"a": torch.arange(6.0).reshape(2, 3).t(), "b": torch.tensor([1, 2], dtype=torch.long)}
    path = save_checkpoint(tmp_path / "c", tensors, {"x": 1, "nested": {"y": [1, 2]}}, {"extra": {"z": torch.ones(2)}})
    loaded, meta, extra = load_checkpoint(path, extra=("extra", "missing"))
    assert torch.equal(loaded["a"], tensors["a"]) and loaded["b"].dtype == torch.long
    assert meta == {"x": 1, "nested": {"y": [1, 2]}}
    assert set(extra) == {"extra"} and torch.equal(extra["extra"]["z"], torch.ones(2))


def test_a_failing_save_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    save_checkpoint(tmp_path / "last", {"w": torch.zeros(3)}, {"epoch": 1})

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(safetensors.torch, "save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(tmp_path / "last", {"w": torch.ones(3)}, {"epoch": 2})
    monkeypatch.undo()

    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]  # no temporary or .old folders
    tensors, meta, _ = load_checkpoint(tmp_path / "last")
    assert torch.equal(tensors["w"], torch.zeros(3)) and meta == {"epoch": 1}


def test_replacing_a_checkpoint_leaves_no_leftovers(tmp_path):
    for epoch in range(3):
        save_checkpoint(tmp_path / "last", {"w": torch.full((2,), float(epoch))}, {"epoch": epoch})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last"]
    tensors, meta, _ = load_checkpoint(tmp_path / "last")
    assert meta["epoch"] == 2 and torch.equal(tensors["w"], torch.full((2,), 2.0))


def test_an_interrupted_swap_falls_back_to_the_old_copy(tmp_path):
    save_checkpoint(tmp_path / "last", {"w": torch.ones(2)}, {"epoch": 4})
    (tmp_path / "last").rename(tmp_path / ".last.old")  # killed between the two renames
    tensors, meta, _ = load_checkpoint(tmp_path / "last")
    assert meta["epoch"] == 4 and torch.equal(tensors["w"], torch.ones(2))


def test_loading_a_folder_that_is_not_a_checkpoint(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(SourceNotFoundError, match="not a kgtransfer checkpoint") as info:
        load_checkpoint(tmp_path)
    assert isinstance(info.value, KGTransferError)
    with pytest.raises(KGTransferError, match="not a kgtransfer checkpoint"):
        load_checkpoint(tmp_path / "missing")


def test_checkpoints_hold_no_pickle(tmp_path):
    model, optimizer = model_and_optimizer()
    step(model, optimizer, 0)
    save_training_state(tmp_path / "ckpt", model, optimizer, {"epoch": 1})
    files = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert files == ["meta.json", "model.safetensors", "optimizer.safetensors"]
    json.loads((tmp_path / "ckpt" / "meta.json").read_text())
    for name in ("model.safetensors", "optimizer.safetensors"):
        data = (tmp_path / "ckpt" / name).read_bytes()
        header = int.from_bytes(data[:8], "little")  # safetensors: u64 header size, then a JSON header
        json.loads(data[8 : 8 + header])
        assert b"\x80\x04" not in data[:2] and not data.startswith(b"PK")  # neither pickle nor torch zip


def test_a_save_removes_what_killed_saves_left_behind(tmp_path):
    for name in (".last.k1ll3d_x", ".best.abcdefgh"):  # a killed run's temporary folders
        (tmp_path / name).mkdir()
        (tmp_path / name / "model.safetensors").write_bytes(b"partial")
    (tmp_path / ".last.notes").mkdir()  # not a temporary name: left alone
    save_checkpoint(tmp_path / "last", {"w": torch.ones(1)}, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".best.abcdefgh", ".last.notes", "last"]


def test_a_checkpoint_folder_that_is_a_symlink_is_saved_where_it_points(tmp_path):
    """The link was replaced by a real folder, and every later save failed ("Cannot call rmtree on a symbolic link")."""
    (tmp_path / "disk" / "ckpt").mkdir(parents=True)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "checkpoint").symlink_to(tmp_path / "disk" / "ckpt")
    for epoch in range(3):
        save_checkpoint(tmp_path / "run" / "checkpoint", {"w": torch.full((2,), float(epoch))}, {"epoch": epoch})
    assert (tmp_path / "run" / "checkpoint").is_symlink()
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["checkpoint"]
    assert sorted(p.name for p in (tmp_path / "disk").iterdir()) == ["ckpt"]
    tensors, meta, _ = load_checkpoint(tmp_path / "run" / "checkpoint")
    assert meta["epoch"] == 2 and torch.equal(tensors["w"], torch.full((2,), 2.0))
    (tmp_path / "disk" / "ckpt").rename(tmp_path / "disk" / ".ckpt.old")  # killed between the two renames
    assert load_checkpoint(tmp_path / "run" / "checkpoint")[1]["epoch"] == 2


def test_a_folder_that_is_not_a_checkpoint_is_never_replaced(tmp_path):
    """A save into a user's folder named like a checkpoint moved it aside and deleted it."""
    from kgtransfer.errors import OutputExistsError

    (tmp_path / "checkpoint" / "notes").mkdir(parents=True)
    (tmp_path / "checkpoint" / "notes" / "thesis.tex").write_text("mine")
    with pytest.raises(OutputExistsError, match=r"checkpoint: holds files kgtransfer did not write \(notes\)"):
        save_checkpoint(tmp_path / "checkpoint", {"w": torch.ones(1)}, {})
    assert (tmp_path / "checkpoint" / "notes" / "thesis.tex").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]  # no temporary left either
    (tmp_path / "file").write_text("mine")
    with pytest.raises(OutputExistsError, match="a file where kgtransfer writes a folder"):
        save_checkpoint(tmp_path / "file", {"w": torch.ones(1)}, {})


def test_tensor_files_get_the_mode_of_the_other_files(tmp_path):
    """model.safetensors and optimizer.safetensors were 0600 while meta.json was 0644."""
    import os

    from kgtransfer.files import current_umask

    model, optimizer = model_and_optimizer()
    step(model, optimizer, 0)
    save_training_state(tmp_path / "ckpt", model, optimizer, {"epoch": 1})
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "ckpt").iterdir()}
    assert set(modes.values()) == {0o666 & ~current_umask()}, modes
    assert os.stat(tmp_path / "ckpt").st_mode & 0o777 == 0o777 & ~current_umask()


def test_resume_keeps_the_optimizers_own_settings_whatever_the_file_says(tmp_path):
    """--resume loaded the saved param_groups: lr="x" crashed in Adam's kernel, lr=1e30 trained at 1e30 while the
    error named the config's lr, betas=[0.9] failed untyped."""
    model, optimizer = model_and_optimizer()
    for i in range(2):
        step(model, optimizer, i)
    save_training_state(tmp_path / "ckpt", model, optimizer, {"epoch": 2})
    meta_file = tmp_path / "ckpt" / "meta.json"
    meta = json.loads(meta_file.read_text())
    for edit in ({"lr": "x"}, {"lr": 1e30}, {"betas": [0.9]}, {"weight_decay": None}):
        groups = [{**g, **edit} for g in meta["optimizer"]["param_groups"]]
        meta_file.write_text(json.dumps({**meta, "optimizer": {**meta["optimizer"], "param_groups": groups}}))
        copy, copy_opt = model_and_optimizer(seed=1)
        load_training_state(tmp_path / "ckpt", copy, copy_opt, torch.device("cpu"))
        group = copy_opt.param_groups[0]
        assert (group["lr"], group["betas"], group["weight_decay"]) == (0.01, (0.8, 0.95), 1e-4), edit
        step(copy, copy_opt, 7)
    step(model, optimizer, 7)  # the resumed step is the uninterrupted one, bit for bit
    for key, value in model.state_dict().items():
        assert torch.equal(copy.state_dict()[key], value)


def test_malformed_optimizer_state_is_a_checkpoint_error(tmp_path):
    from kgtransfer.checkpoint import _digest
    from kgtransfer.errors import CheckpointError

    model, optimizer = model_and_optimizer()
    step(model, optimizer, 0)
    folder = save_training_state(tmp_path / "ckpt", model, optimizer, {"epoch": 1})
    meta = json.loads((folder / "meta.json").read_text())
    tensors = safetensors.torch.load_file(folder / "optimizer.safetensors")

    def damaged(optimizer_meta: dict, changed: dict | None = None) -> Path:
        case = tmp_path / f"case{len(list(tmp_path.iterdir()))}"
        case.mkdir()
        (case / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes())
        safetensors.torch.save_file(changed or tensors, case / "optimizer.safetensors")
        digests = {**meta["digests"], "optimizer.safetensors": _digest(case / "optimizer.safetensors")}
        (case / "meta.json").write_text(json.dumps({**meta, "digests": digests, "optimizer": optimizer_meta}))
        return case

    opt = meta["optimizer"]
    shapes = {**opt["tensors"], "0.exp_avg": [2]}
    for case, says in [
        (damaged("x"), "'optimizer' is a str"),
        (damaged({**opt, "param_groups": {}}), "groups differ from the optimizer.s \\(\\[3\\] parameters per group"),
        (damaged({**opt, "param_groups": opt["param_groups"] * 2}), "groups differ"),
        (damaged({**opt, "scalars": {"0.step": "x"}}), "state '0.step' is 'x', not a number"),
        (damaged({**opt, "scalars": {"9.step": 1}}), "state '9.step' names no parameter"),
        (damaged({**opt, "tensors": shapes}, {**tensors, "0.exp_avg": torch.ones(2)}), "'0.exp_avg' has shape \\[2\\]"),
        (damaged(opt, {**tensors, "0.step": torch.ones(3)}), "optimizer tensors differ"),
    ]:
        with pytest.raises(CheckpointError, match=f"the optimizer state does not fit .*{says}"):
            load_training_state(case, *model_and_optimizer(seed=1), torch.device("cpu"))


@pytest.mark.parametrize("kind", [torch.optim.NAdam, torch.optim.Adam, torch.optim.RMSprop])
def test_optimizer_state_of_any_torch_optimizer_comes_back(kind):
    """NAdam's 0-d mu_product was refused as 'has shape [], expected [24, 8]': a registered NAdam could not resume."""
    from kgtransfer.checkpoint import _optimizer_tensors, _restore_optimizer

    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(24, 8))
    first = kind([weight], lr=0.01)
    for _ in range(3):
        first.zero_grad()
        (weight**2).sum().backward()
        first.step()
    tensors, meta = _optimizer_tensors(first)
    again = kind([weight], lr=0.01)
    _restore_optimizer(again, tensors, meta)
    for key, value in first.state[weight].items():
        assert torch.equal(torch.as_tensor(again.state[weight][key]), torch.as_tensor(value)), key


def test_set_aside_checkpoints_keep_a_symlink_and_the_copy_an_overwrite_stopped_before_its_save_left(tmp_path):
    from kgtransfer.checkpoint import drop_earlier_checkpoints, set_aside_checkpoints

    disk = tmp_path / "disk" / "ckpts"
    (disk / "last").mkdir(parents=True)
    (disk / "last" / "meta.json").write_text("{}")
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoints").symlink_to(disk)
    aside = set_aside_checkpoints(run)
    assert aside == tmp_path / "disk" / ".ckpts.earlier" and (aside / "last" / "meta.json").read_text() == "{}"
    assert (run / "checkpoints").is_symlink() and not any(disk.iterdir())
    (disk / "last").mkdir()  # a new run stopped before it saved: its checkpoints go, the earlier run's stay aside
    (disk / "last" / "meta.json").write_text('{"epoch": 1}')
    assert set_aside_checkpoints(run) == aside and (aside / "last" / "meta.json").read_text() == "{}"
    assert not any(disk.iterdir()) and set_aside_checkpoints(run) is None
    drop_earlier_checkpoints(run)
    assert not aside.exists() and (run / "checkpoints").is_symlink()


def test_a_checkpoint_folder_that_is_a_file_is_named_as_one(tmp_path):
    """A file where checkpoints go read as "checkpoints of an earlier run; pass resume=True to continue it".

    With ``resume`` or ``overwrite`` the run failed later with a bare FileExistsError; the CLI's
    ``OUTPUT/checkpoints`` (a sequence, a comparison) was refused the same wrong way.
    """
    from kgtransfer.checkpoint import checkpoints_in, claim_checkpoints
    from kgtransfer.errors import OutputExistsError

    path = tmp_path / "ckpt"
    path.write_text("notes")
    for resume, overwrite in ((False, False), (True, False), (False, True)):
        with pytest.raises(OutputExistsError, match="a file, where kgtransfer keeps checkpoints") as raised:
            claim_checkpoints(path, resume, "run", overwrite)
        assert "another checkpoint_dir" in str(raised.value) and "earlier run" not in str(raised.value)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "checkpoints").write_text("notes")
    for resume, overwrite in ((False, False), (True, False), (False, True)):
        with pytest.raises(OutputExistsError, match="a file, where kgtransfer keeps checkpoints"):
            checkpoints_in(tmp_path / "out", resume, overwrite, kind="sequence")
    assert path.read_text() == "notes" and (tmp_path / "out" / "checkpoints").read_text() == "notes"
