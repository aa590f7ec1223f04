import math

import pytest
import torch

from kgtransfer.models import DECODERS, ComplEx, DistMult, RotatE, TransE

from .model_cases import DecoderCase


class TestDistMult(DecoderCase):
    cls = DistMult
    expected_repr = "DistMult()"


class TestComplEx(DecoderCase):
    cls = ComplEx
    expected_repr = "ComplEx()"


class TestRotatE(DecoderCase):
    cls = RotatE
    kwargs = {"gamma": 6.0}
    expected_repr = "RotatE(gamma=6.0)"


class TestTransE(DecoderCase):
    cls = TransE
    expected_repr = "TransE(p=1)"


class TestTransEL2(DecoderCase):
    cls = TransE
    kwargs = {"p": 2}
    expected_repr = "TransE(p=2)"


def test_every_registered_decoder_has_a_test_class():
    tested = {case.cls for case in DecoderCase.__subclasses__()}
    untested = {name for name, cls in DECODERS.items() if cls not in tested}
    assert not untested, f"registered decoders without a DecoderCase test class: {sorted(untested)}"


def test_distmult_value_and_symmetry():
    h, r, t = torch.tensor([[1.0, 2.0]]), torch.tensor([[3.0, -1.0]]), torch.tensor([[0.5, 4.0]])
    assert DistMult()(h, r, t).item() == pytest.approx(1.5 - 8.0)
    assert DistMult()(t, r, h).item() == DistMult()(h, r, t).item()


def test_complex_matches_complex_arithmetic():
    g = torch.Generator().manual_seed(0)
    h, r, t = torch.randn(3, 4, 6, generator=g, dtype=torch.float64)

    def as_complex(v):
        return torch.complex(v[:, :3], v[:, 3:])

    want = (as_complex(h) * as_complex(r) * as_complex(t).conj()).real.sum(-1)
    torch.testing.assert_close(ComplEx()(h, r, t), want)
    real = torch.cat([h[:, :3], torch.zeros(4, 3, dtype=torch.float64)], -1)  # real vectors: DistMult
    torch.testing.assert_close(ComplEx()(real, real, real), DistMult()(real[:, :3], real[:, :3], real[:, :3]))


def test_rotate_value():
    # one complex coordinate: h = 1 rotated by pi/2 is i; t = i matches, t = -i is at distance 2
    h, r = torch.tensor([[1.0, 0.0]]), torch.tensor([[math.pi / 2, 123.0]])
    assert RotatE(gamma=3.0)(h, r, torch.tensor([[0.0, 1.0]])).item() == pytest.approx(3.0, abs=1e-5)
    assert RotatE()(h, r, torch.tensor([[0.0, -1.0]])).item() == pytest.approx(-2.0, abs=1e-5)


def test_transe_value():
    h, r, t = torch.tensor([[1.0, 1.0]]), torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 5.0]])
    assert TransE(p=1)(h, r, t).item() == pytest.approx(-7.0)
    assert TransE(p=2)(h, r, t).item() == pytest.approx(-5.0)
    with pytest.raises(ValueError, match="1 or 2"):
        TransE(p=3)


@pytest.mark.parametrize("cls", [ComplEx, RotatE])
def test_odd_dim_is_rejected_when_scoring(cls):
    x = torch.randn(2, 5)
    with pytest.raises(ValueError, match="even"):
        cls()(x, x, x)
