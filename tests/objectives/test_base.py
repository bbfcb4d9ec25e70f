"""The loss template: one prelude for every loss, the formula in ``terms``; and its gathering step.

Gathering, 2-rank gloo runs on the CPU: value and gradient of each gathered loss against the global batch.
Convention checked (the one DistributedDataParallel relies on): the mean over ranks of the per-rank
losses equals the single-process loss on the global batch, and each rank's gradient for its own rows is
world_size times the global-batch gradient for those rows (DDP's averaging divides it back).
"""

import pytest
import torch

from infossl.objectives import (OBJECTIVES, BarlowTwinsLoss, BYOLLogDetLoss, BYOLLoss, VICRegLogDetLoss,
                                VICRegPairDistLoss, CISSLLoss, DISSLLoss, HeadLoss, InfoNCELoss,
                                InfoVICRegLoss, Loss, TargetLoss, VICRegLoss, ViewLoss, gather_with_grad)
from infossl.objectives._base import HEAD_INPUTS, TARGET_INPUTS, VIEW_INPUTS, check_view_pair
from tests._ranks import run_ranks


class Gap(ViewLoss):
    """Mean squared difference, with the dtype and the autocast state its terms saw."""

    def terms(self, z_a, z_b):
        self.seen = (z_a.dtype, torch.is_autocast_enabled("cpu"))
        gap = (self.gather(z_a) - self.gather(z_b)).pow(2).mean()
        return {"gap": gap, "loss": 2 * gap}


def test_every_objective_is_a_template_loss_with_the_declared_inputs():
    bases = {"views": ViewLoss, "heads": HeadLoss, "target": TargetLoss}
    for cls in OBJECTIVES.values():
        assert issubclass(cls, bases[cls.inputs])
        # only the target losses need a predictor and an EMA target, and they need both
        assert (cls.predictor, cls.target) == ((True, "ema") if cls.inputs == "target" else (False, None))
    assert (ViewLoss.inputs, HeadLoss.inputs, TargetLoss.inputs) == ("views", "heads", "target")
    assert VIEW_INPUTS == ("z_a", "z_b")
    assert HEAD_INPUTS == ("student_a", "student_b", "teacher_a", "teacher_b")
    assert TARGET_INPUTS == ("online_a", "online_b", "prediction_a", "prediction_b", "target_a", "target_b")


def test_the_base_needs_terms():
    with pytest.raises(TypeError, match="abstract"):
        ViewLoss()
    with pytest.raises(TypeError, match="abstract"):
        Loss()


def test_a_new_loss_gets_the_prelude():
    a = torch.randn(6, 3, dtype=torch.float16, requires_grad=True)
    b = torch.randn(6, 3, dtype=torch.float16)
    loss_fn = Gap()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = loss_fn(a, b)
    assert loss_fn.seen == (torch.float32, False)  # promoted, autocast off
    assert loss.dtype == torch.float32
    ref = 2 * (a.detach().float() - b.float()).pow(2).mean()
    assert torch.equal(loss.detach(), ref)
    assert set(loss_fn.last_terms) == {"gap", "loss"} and not loss_fn.last_terms["loss"].requires_grad
    loss.backward()
    assert a.grad.dtype == torch.float16
    assert loss_fn.rank_and_world() == (0, 1)  # no process group: gathering is a no-op
    with pytest.raises(ValueError, match=r"z_a and z_b must have the same shape; got \(6, 3\) and \(5, 3\)"):
        loss_fn(a, b[:5])


def test_check_view_pair_errors():
    check_view_pair(torch.ones(4, 3), torch.ones(4, 3))
    with pytest.raises(TypeError, match="s must be a torch.Tensor, got list"):
        check_view_pair([[1.0]], torch.ones(4, 3), names=("s", "t"))
    with pytest.raises(TypeError, match="z_b must have a floating dtype, got torch.int64"):
        check_view_pair(torch.ones(4, 3), torch.ones(4, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"z_a must be 2-D \(batch, dim\); got shape \(4,\)"):
        check_view_pair(torch.ones(4), torch.ones(4))
    with pytest.raises(ValueError, match="batch size must be at least 2 .*got 1"):
        check_view_pair(torch.ones(1, 3), torch.ones(1, 3))


def test_head_losses_take_the_four_inputs_by_name_or_position():
    class Sum(HeadLoss):
        student_batchnorm = False

        def terms(self, student_a, student_b, teacher_a, teacher_b):
            return {"loss": (student_a + 2 * student_b + 3 * teacher_a + 4 * teacher_b).sum()}

    xs = [torch.full((2, 1), float(k)) for k in range(4)]
    assert float(Sum()(*xs)) == float(Sum()(**dict(zip(HEAD_INPUTS, xs)))) == 2 * (0 + 2 + 6 + 12)
    with pytest.raises(ValueError, match=r"student_a and teacher_a must have the same shape"):
        Sum()(xs[0], xs[1], torch.ones(2, 2), torch.ones(2, 2))


def test_target_losses_detach_the_targets_and_check_the_shapes():
    class Pull(TargetLoss):
        def target_momentum(self, step, total_steps):
            return 0.5

        def terms(self, online_a, online_b, prediction_a, prediction_b, target_a, target_b):
            return {"loss": (online_a + prediction_a * target_b + prediction_b * target_a).sum()}

    xs = [torch.full((2, 1), float(k), requires_grad=True) for k in range(6)]
    Pull()(*xs).backward()
    grads = [None if x.grad is None else float(x.grad.sum()) for x in xs]
    assert grads == [2.0, 0.0, 2 * 5.0, 2 * 4.0, None, None]  # the targets (inputs 5, 6) get nothing
    with pytest.raises(ValueError, match=r"prediction_a and target_a must have the same shape"):
        Pull()(*xs[:4], torch.ones(2, 2), torch.ones(2, 2))


# ---------------------------------------------------------------------------- gathering

WORLD = 2
N_LOCAL, DIM = 8, 5

class _Heads(torch.nn.Module):
    """Feeds a four-input loss (CISSL/DISSL) row-wise functions of the two views as its heads' outputs."""

    def __init__(self, loss):
        super().__init__()
        self.loss = loss

    def forward(self, x, y):
        return self.loss(student_a=x, student_b=y, teacher_a=torch.tanh(1.5 * x),
                         teacher_b=torch.tanh(1.5 * y))


class _Target(torch.nn.Module):
    """Feeds a six-input loss (BYOL) the views as online projections and row-wise functions of them as the
    predictions and the (detached) targets."""

    def __init__(self, loss):
        super().__init__()
        self.loss = loss

    def forward(self, x, y):
        return self.loss(online_a=x, online_b=y, prediction_a=torch.tanh(x), prediction_b=torch.tanh(y),
                         target_a=0.5 * x + 1, target_b=0.5 * y + 1)


CASES = {
    "vicreg-logdet": lambda g: VICRegLogDetLoss(gather_distributed=g),
    "vicreg-pairdist": lambda g: VICRegPairDistLoss(sigma=0.8, gather_distributed=g),
    "byol": lambda g: _Target(BYOLLoss(gather_distributed=g)),
    "byol-logdet": lambda g: _Target(BYOLLogDetLoss(gather_distributed=g)),
    "cissl": lambda g: _Heads(CISSLLoss(temperature=0.3, gather_distributed=g)),
    "dissl": lambda g: _Heads(DISSLLoss(gather_distributed=g)),
    "vicreg": lambda g: VICRegLoss(gather_distributed=g),
    "barlow": lambda g: BarlowTwinsLoss(gather_distributed=g),
    "infonce": lambda g: InfoNCELoss(temperature=0.3, gather_distributed=g),
    **{f"info-{e}": (lambda e: lambda g: InfoVICRegLoss(entropy=e, sigma=0.8, gather_distributed=g))(e)
       for e in ("gaussian", "logdet", "pairdist-kl", "pairdist-bd", "vicreg")},
}


def global_views():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(WORLD * N_LOCAL, DIM, generator=g, dtype=torch.float64)
    return x, x + 0.3 * torch.randn(WORLD * N_LOCAL, DIM, generator=g, dtype=torch.float64)


def _worker(rank, out_dir):
    x, y = global_views()
    rows = slice(rank * N_LOCAL, (rank + 1) * N_LOCAL)
    results = {}
    for name, make in CASES.items():
        xa = x[rows].clone().requires_grad_()
        ya = y[rows].clone().requires_grad_()
        loss = make(True)(xa, ya)
        gx, gy = torch.autograd.grad(loss, (xa, ya))
        results[name] = (loss.detach(), gx, gy)
    # gather_with_grad itself: forward equals the concatenation, backward sums over ranks.
    t = (torch.arange(3.0, dtype=torch.float64) + 10 * rank).requires_grad_()
    full = gather_with_grad(t)
    (grad,) = torch.autograd.grad((full * torch.arange(6.0, dtype=torch.float64)).sum(), t)
    results["_gather"] = (full.detach(), grad)
    torch.save(results, f"{out_dir}/rank{rank}.pt")


@pytest.fixture(scope="module")
def rank_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    run_ranks(_worker, tmp, str(tmp), world=WORLD)
    return [torch.load(tmp / f"rank{r}.pt") for r in range(WORLD)]


def test_gather_with_grad(rank_results):
    for r, res in enumerate(rank_results):
        full, grad = res["_gather"]
        torch.testing.assert_close(full, torch.tensor([0.0, 1, 2, 10, 11, 12], dtype=torch.float64))
        # d/dt_r of sum_ranks sum_k k * full_k = world * (weights of this rank's slice)
        torch.testing.assert_close(grad, WORLD * torch.arange(3.0, dtype=torch.float64) + WORLD * 3 * r)


def test_gather_is_identity_without_process_group():
    t = torch.ones(3, 2)
    assert gather_with_grad(t) is t


@pytest.mark.parametrize("name", sorted(CASES))
def test_distributed_equals_global_batch(rank_results, name):
    x, y = global_views()
    x.requires_grad_()
    y.requires_grad_()
    loss = CASES[name](False)(x, y)
    gx, gy = torch.autograd.grad(loss, (x, y))
    mean_loss = sum(res[name][0] for res in rank_results) / WORLD
    # float64; the reductions differ only in order, so 1e-6 (the brief's bound) is very loose.
    torch.testing.assert_close(mean_loss, loss.detach(), rtol=1e-6, atol=1e-6)
    for r, res in enumerate(rank_results):
        rows = slice(r * N_LOCAL, (r + 1) * N_LOCAL)
        torch.testing.assert_close(res[name][1], WORLD * gx[rows], rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(res[name][2], WORLD * gy[rows], rtol=1e-6, atol=1e-6)
