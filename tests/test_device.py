"""Which device a setting names: a device the machine lacks, or one nothing runs on, is a ConfigError."""

from __future__ import annotations

import pytest
import torch

import kgtransfer as kgt
from kgtransfer.config import ConfigError
from kgtransfer.device import resolve_device


@pytest.mark.parametrize("device", ["mps", "mps:0"])
def test_mps_where_the_machine_has_none_names_the_setting(device, monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ConfigError, match=rf"^device '{device}': MPS is not available on this machine"):
        resolve_device(device)  # was: torch's "not linked with support for mps devices", moving the model


def test_training_on_mps_where_there_is_none_fails_before_any_work(monkeypatch):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    kg = kgt.KnowledgeGraph.from_labels([(f"e{i}", "r", f"e{(i + 1) % 12}") for i in range(12)])
    config = kgt.TrainConfig(epochs=1, device="mps", progress=False, threads=1)
    with pytest.raises(ConfigError, match="MPS is not available"):
        kgt.train(kg, kgt.ModelConfig(encoder="embedding", decoder="distmult", dim=4), config)


@pytest.mark.parametrize("device", ["meta", "xla"])
def test_a_torch_device_nothing_trains_or_loads_on_is_refused(device):
    with pytest.raises(ConfigError, match=rf"^device '{device}': kgtransfer runs on 'cpu', 'cuda'"):
        resolve_device(device)  # was: "unreadable safetensors file" when loading a run there


def test_the_devices_it_runs_on_resolve():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("cpu:0") == torch.device("cpu:0")
    assert resolve_device("auto").type in ("cpu", "cuda")
