"""The registered Adam and AdamW: torch's fused kernel where it runs, the same updates as torch's default."""

import pytest
import torch

from kgtransfer.registry import OPTIMIZERS


@pytest.mark.parametrize("name", ["adam", "adamw"])
def test_fused_on_cpu_with_the_same_updates_and_state_as_torch(name):
    torch.manual_seed(0)
    a = torch.nn.Linear(6, 4)
    b = torch.nn.Linear(6, 4)
    b.load_state_dict(a.state_dict())
    ours = OPTIMIZERS[name](a.parameters(), lr=0.01, weight_decay=0.01)
    reference = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[name](b.parameters(), lr=0.01, weight_decay=0.01)
    assert ours.defaults["fused"] is True and not reference.defaults["fused"]
    x = torch.randn(32, 6)
    for _ in range(5):
        for model, opt in ((a, ours), (b, reference)):
            opt.zero_grad()
            model(x).pow(2).sum().backward()
            opt.step()
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    reference.load_state_dict(ours.state_dict())  # checkpoints load either way


def test_param_groups_and_explicit_choice_are_kept():
    model = torch.nn.Linear(3, 3)
    groups = [{"params": [model.weight]}, {"params": [model.bias], "lr": 0.1}]
    assert OPTIMIZERS["adam"](groups, lr=0.01).defaults["fused"] is True
    assert not OPTIMIZERS["adam"](model.parameters(), lr=0.01, foreach=True).defaults["fused"]
    assert not OPTIMIZERS["adam"]([torch.zeros(2, dtype=torch.long)]).defaults["fused"]  # not floating
