import pytest
import torch

from kgtransfer.tasks.losses import OneToN


def dense_reference(scores, answers, eps):
    """The 1-N loss written out: the label-smoothed target times the log-softmax."""
    target = answers.float()
    target = target / target.sum(1, keepdim=True).clamp_min(1)
    target = (1 - eps) * target + eps / scores.size(1)
    return -(target * torch.log_softmax(scores, dim=1)).sum(1)


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_one_to_n_equals_the_dense_target_loss_and_its_gradient(eps):
    g = torch.Generator().manual_seed(0)
    scores = torch.randn(9, 40, generator=g, requires_grad=True)
    answers = torch.rand(9, 40, generator=g) < 0.15
    answers[4] = False  # a query without answers: only the smoothing term
    answers[5, 7] = True
    expected = dense_reference(scores, answers, eps)
    for given in (answers, answers.nonzero(as_tuple=True)):
        got = OneToN()(scores, given, eps)
        assert torch.allclose(got, expected, atol=1e-5)
        (ga,) = torch.autograd.grad(got.sum(), scores)
        (gb,) = torch.autograd.grad(expected.sum(), scores, retain_graph=True)
        assert torch.allclose(ga, gb, atol=1e-6)
    assert OneToN()(scores, answers, 0.0)[4] == 0
