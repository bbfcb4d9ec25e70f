"""2-rank gloo runs on the CPU: value and gradient of each gathered loss against the global batch.

Convention checked (the one DistributedDataParallel relies on): the mean over ranks of the per-rank
losses equals the single-process loss on the global batch, and each rank's gradient for its own rows is
world_size times the global-batch gradient for those rows (DDP's averaging divides it back).
"""

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from infossl.objectives import (BarlowTwinsLoss, CISSLLoss, DISSLLoss, InfoNCELoss, InfoVICRegLoss, VICRegLoss,
                                gather_with_grad)

WORLD = 2
N_LOCAL, DIM = 8, 5

class _Heads(torch.nn.Module):
    """Feeds a four-input loss (CISSL/DISSL) row-wise functions of the two views as its heads' outputs."""

    def __init__(self, loss):
        super().__init__()
        self.loss = loss

    def forward(self, x, y):
        return self.loss(student_a=x, student_b=y, teacher_a=torch.tanh(1.5 * x), teacher_b=torch.tanh(1.5 * y))


CASES = {
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


def _worker(rank, init_method, out_dir):
    dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=WORLD)
    try:
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
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def rank_results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    mp.spawn(_worker, args=(f"file://{tmp}/store", str(tmp)), nprocs=WORLD, join=True)
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
