"""infossl.deterministic.jacobian: exact per-sample Jacobians, the train-mode refusal, the input-noise factor
and the randomized low-rank covariance factor."""

import pytest
import torch
from torch import nn

from infossl.deterministic import jacobians
from infossl.deterministic.jacobian import check_model, noise_factor, sketch_covariance_factor

from ._models import small_mlp as _mlp




@pytest.mark.parametrize("mode", ["forward", "reverse"])
def test_jacobians_match_autograd(seed, mode):
    net = _mlp(seed, (5, 7, 3))
    x = torch.randn(4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    j = jacobians(net, x, mode=mode)
    for i in range(4):
        ref = torch.autograd.functional.jacobian(lambda u: net(u[None])[0], x[i])
        torch.testing.assert_close(j[i], ref)



def test_chunked_jacobians_equal_one_shot_and_keep_the_input_shape():
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.Tanh(), nn.Linear(5, 4)).double().eval()
    x = torch.randn(9, 3, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    one = jacobians(net, x)
    assert one.shape == (9, 4, 12)
    for chunk in (1, 4, 100):
        torch.testing.assert_close(jacobians(net, x, chunk_size=chunk), one, rtol=1e-12, atol=1e-14)
    # forward and reverse mode agree (the auto choice is an implementation detail)
    torch.testing.assert_close(jacobians(net, x, mode="forward"), jacobians(net, x, mode="reverse"))


def test_check_model_refuses_train_mode_layers_and_non_callables():
    check_model(lambda u: u)  # plain callables pass as they are
    check_model(nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)).eval())
    with pytest.raises(ValueError, match="BatchNorm layer '1' in train mode"):
        check_model(nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)))
    with pytest.raises(ValueError, match="Dropout layer '0' in train mode"):
        check_model(nn.Sequential(nn.Dropout(0.1)))
    with pytest.raises(TypeError, match="got int"):
        check_model(3)


def test_noise_factor_iso_diag_full():
    like = torch.zeros(1, dtype=torch.float64)
    kind, l = noise_factor(0.5, None, 3, like)
    assert kind == "iso" and float(l) == 0.5 and l.dtype == torch.float64
    kind, l = noise_factor(None, torch.tensor([4.0, 9.0]), 2, like)
    assert kind == "diag" and l.tolist() == [2.0, 3.0]
    cov = torch.tensor([[4.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    kind, l = noise_factor(None, cov, 2, like)
    assert kind == "full" and torch.allclose(l @ l.T, cov)
    with pytest.raises(ValueError, match="noise_cov is not positive definite"):
        noise_factor(None, torch.tensor([[1.0, 2.0], [2.0, 1.0]]), 2, like)


@pytest.mark.parametrize("kind", ["iso", "diag", "full"])
def test_sketch_is_exact_when_the_rank_reaches_the_output_dimension(kind):
    # K = 3 outputs: a rank-3 sketch spans the whole output space, so F F^T = J Sigma J^T exactly
    net = _mlp(0, (6, 8, 3))
    x = torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    a = torch.randn(6, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    cov = {"iso": None, "diag": torch.linspace(0.5, 2.0, 6, dtype=torch.float64), "full": a @ a.T + torch.eye(6)}
    k, l = noise_factor(0.3, cov[kind], 6, x)
    sigma = {"iso": 0.09 * torch.eye(6, dtype=torch.float64), "diag": torch.diag(cov["diag"]), "full": cov["full"]}
    j = jacobians(net, x)
    f = sketch_covariance_factor(net, x, k, l, 3, generator=torch.Generator().manual_seed(3))
    assert f.shape == (5, 3, 3)
    torch.testing.assert_close(f @ f.transpose(1, 2), j @ sigma[kind] @ j.transpose(1, 2))
    # rank above K pads with zero columns
    f5 = sketch_covariance_factor(net, x, k, l, 5, generator=torch.Generator().manual_seed(3))
    assert f5.shape == (5, 3, 5) and torch.equal(f5[:, :, 3:], torch.zeros(5, 3, 2, dtype=torch.float64))
