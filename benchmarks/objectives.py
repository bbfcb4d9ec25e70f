"""Forward + backward wall-clock time of the losses in infossl.objectives on the CPU.

Two sizes, 256 x 2048 and 1024 x 8192 (batch x dim), float32, both views requiring gradients. Each
loss is timed as the median of ``--repeats`` calls after one warm-up call (the repeats go round-robin
over the losses, so that load from other jobs hits them alike), against a baseline timed in
the same run: lightly's ``VICRegLoss`` when importable, otherwise the boolean-mask VICReg written below
(the form several libraries use: ``cov[~eye].pow(2).sum()``). A loss whose warm-up call alone exceeds
``--max-seconds`` is recorded with that single time, and one predicted (from the smaller size, scaled
by the cube of the dimension ratio) to exceed 3 x ``--max-seconds`` is skipped with the prediction.

    python benchmarks/objectives.py --out benchmarks/results/objectives_cpu.csv
    python benchmarks/objectives.py --quick          # 256 x 2048 only, 3 repeats
"""

import argparse
import os
import platform
import statistics
import time
import warnings

import torch
import torch.nn.functional as F

from infossl.io import save_csv_atomic
from infossl.objectives import (BarlowTwinsLoss, CISSLLoss, DISSLLoss, InfoNCELoss, InfoVICRegLoss,
                                VICRegLoss)

try:
    from lightly.loss import VICRegLoss as LightlyVICReg
except ImportError:  # optional, never installed by this project (it pulls torchvision)
    LightlyVICReg = None


def masked_vicreg(x, y):
    """VICReg with a boolean off-diagonal mask, the baseline form."""
    n, d = x.shape
    loss = 25 * F.mse_loss(x, y)
    mask = ~torch.eye(d, dtype=torch.bool, device=x.device)
    for z in (x, y):
        z = z - z.mean(dim=0)
        loss = loss + 25 * F.relu(1 - torch.sqrt(z.var(dim=0) + 1e-4)).mean() / 2
        cov = z.T @ z / (n - 1)
        loss = loss + cov[mask].pow(2).sum() / d
    return loss


def two_views(f):
    return lambda x, y: f(x, y)


def four_views(f):
    return lambda x, y: f(student_a=x, student_b=y, teacher_a=y, teacher_b=x)


def losses():
    base = ("lightly VICRegLoss", LightlyVICReg()) if LightlyVICReg is not None else ("masked VICReg", masked_vicreg)
    return [
        (base[0], two_views(base[1])),
        ("VICRegLoss", two_views(VICRegLoss())),
        ("InfoVICRegLoss(logdet)", two_views(InfoVICRegLoss(entropy="logdet"))),
        ("InfoVICRegLoss(gaussian)", two_views(InfoVICRegLoss(entropy="gaussian"))),
        ("InfoVICRegLoss(pairdist-kl)", two_views(InfoVICRegLoss(entropy="pairdist-kl"))),
        ("InfoVICRegLoss(pairdist-bd)", two_views(InfoVICRegLoss(entropy="pairdist-bd"))),
        ("InfoVICRegLoss(vicreg)", two_views(InfoVICRegLoss(entropy="vicreg"))),
        ("BarlowTwinsLoss", two_views(BarlowTwinsLoss())),
        ("InfoNCELoss", two_views(InfoNCELoss())),
        ("CISSLLoss", four_views(CISSLLoss())),
        ("DISSLLoss", four_views(DISSLLoss())),  # dim plays the number of pseudo-classes
    ]


def time_call(fn, x, y):
    x.grad = y.grad = None
    t0 = time.perf_counter()
    fn(x, y).backward()
    return time.perf_counter() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=None)
    p.add_argument("--repeats", type=int, default=5, help="timed calls per loss at 256 x 2048")
    p.add_argument("--repeats-large", type=int, default=3, help="timed calls per loss at 1024 x 8192")
    p.add_argument("--max-seconds", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    a = p.parse_args()
    if a.threads is not None:
        torch.set_num_threads(a.threads)
    sizes = [(256, 2048)] if a.quick else [(256, 2048), (1024, 8192)]
    machine = dict(platform=platform.platform(), processor=platform.processor(), cpu_count=os.cpu_count(),
                   torch_threads=torch.get_num_threads(), torch=torch.__version__)
    print(machine)
    rows, previous = [], {}
    g = torch.Generator().manual_seed(a.seed)
    for n, d in sizes:
        x = torch.randn(n, d, generator=g).requires_grad_()
        y = (x.detach() + 0.5 * torch.randn(n, d, generator=g)).requires_grad_()
        load = os.getloadavg()[0]
        times, status = {}, {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the Gaussian estimator's rank warning when n < d
            for name, fn in losses():  # warm-up, and the skip / single-run decisions
                pred = previous.get(name, 0.0) * (d / previous.get("d", d)) ** 3
                if pred > 3 * a.max_seconds:
                    status[name] = f"skipped (predicted {pred:.0f} s)"
                    continue
                first = time_call(fn, x, y)
                status[name] = "ok" if first <= a.max_seconds else "ok (one run)"
                times[name] = [first] if first > a.max_seconds else []
            # Round-robin repeats, so that load from other jobs on the box hits every loss alike.
            for _ in range(3 if a.quick else (a.repeats if d <= 2048 else a.repeats_large)):
                for name, fn in losses():
                    if status[name] == "ok":
                        times[name].append(time_call(fn, x, y))
        base_median = None
        for name, _ in losses():
            med = statistics.median(times[name]) if name in times else None
            if name in times:
                previous[name] = med
            if base_median is None:
                base_median = med
            ratio = None if med is None else med / base_median
            row = dict(loss=name, n=n, d=d, dtype="float32", status=status[name], runs=len(times.get(name, [])),
                       median_seconds=None if med is None else round(med, 5),
                       ratio_vs_baseline=None if ratio is None else round(ratio, 3),
                       load_avg_1min_before=round(load, 2), **machine)
            rows.append(row)
            print(f"{name:30s} {n:5d} x {d:5d}  {status[name]:28s} median {row['median_seconds']} s  "
                  f"x baseline {row['ratio_vs_baseline']}", flush=True)
        previous["d"] = d
    if a.out:
        save_csv_atomic(rows, a.out)


if __name__ == "__main__":
    main()
