"""Speed and memory of the deterministic-network route: network + input noise -> output mixture -> bounds.

Cases (each in a fresh subprocess so that its peak resident memory is its own):

* ``mlp``: 1000 inputs, ReLU MLP 64 -> 256 -> 256 -> 32 (float64), exact per-sample Jacobians
  (``output_mixture(method="exact")``), then the Bhattacharyya/KL bounds on H(Z) (``entropy_bounds``)
  and on I(Z;T) (``information_bounds``), at input noise 0.05 (the small-noise regime: components well
  separated, most Bhattacharyya pairs pruned exactly). Target: <= 5 s on 2 CPU cores.
* ``mlp-overlap``: the same at input noise 5.0, where the output components overlap (I(Z;T) < ln n) and
  every pair needs its own 32 x 32 Cholesky factorisation: the worst case of the Bhattacharyya pass.
* ``resnet``: a ResNet-18-like encoder (CIFAR stem: 3x3 conv, 4 stages of 2 BasicBlocks, 64-512 channels,
  BatchNorm in eval mode, global average pool -> K = 512) on 32x32x3 inputs (D = 3072), float32, with the
  sketched covariance (``method="sketch"``, rank r). Timed on ``--resnet-n`` inputs and reported per 1000
  (linear in n: the sketch is per-sample).

    python benchmarks/deterministic.py --out benchmarks/results/deterministic_cpu.csv
    python benchmarks/deterministic.py --quick
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

import pandas as pd
import torch
from torch import nn

from infossl.deterministic import information_table, output_mixture
from infossl.io import save_csv_atomic


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.short = nn.Sequential()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.relu(self.b1(self.c1(x)))
        return self.relu(self.b2(self.c2(h)) + self.short(x))


class ResNet18Like(nn.Module):
    """CIFAR-style ResNet-18 trunk (11.2 M parameters), output = 512-d average-pooled features."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
        blocks, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            blocks += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(x)).mean(dim=(2, 3))


def run_case(case: str, n: int, rank: int) -> dict:
    noise = {"mlp": 0.05, "mlp-overlap": 5.0}.get(case, 0.05)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if case.startswith("mlp"):
        net = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                            nn.Linear(256, 32)).double().eval()
        x = torch.randn(n, 64, dtype=torch.float64, generator=g)
        t0 = time.perf_counter()
        mix = output_mixture(net, x, noise_std=noise)
        t1 = time.perf_counter()
        tab = information_table(mix, views=False)
        t2 = time.perf_counter()
        v = tab.value.tolist()  # H(Z|T), H(Z) BD / KL / Gaussian, I(Z;T) BD / KL, H(T)
        extra = {"H_lower": v[1], "H_upper_kl": v[2], "I_lower": v[4], "I_upper": v[5], "rank": "exact"}
    else:
        net = ResNet18Like().eval()
        x = torch.randn(n, 3, 32, 32, generator=g)
        with torch.no_grad():
            net(x[:2])  # warm-up
        t0 = time.perf_counter()
        mix = output_mixture(net, x, noise_std=0.05, rank=rank, generator=0, ridge=1e-3)
        t1 = time.perf_counter()
        t2 = t1
        extra = {"rank": rank, "factor_shape": list(mix.factor.shape)}
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"case": case, "n": n, "noise_std": noise, "mixture_s": t1 - t0, "bounds_s": t2 - t1, "total_s": t2 - t0,
            "per_1000_s": (t2 - t0) * 1000 / n, "peak_rss_mib": rss, "rss_before_mib": rss0, **extra}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="benchmarks/results/deterministic_cpu.csv")
    ap.add_argument("--quick", action="store_true", help="fewer ResNet inputs and one rank")
    ap.add_argument("--resnet-n", type=int, default=16)
    ap.add_argument("--case", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--rank", type=int, default=8, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.n, args.rank)))
        return
    cases = [("mlp", 1000, 0), ("mlp-overlap", 1000, 0)]
    ranks = (4,) if args.quick else (4, 16)
    rn = 4 if args.quick else args.resnet_n
    cases += [("resnet", rn, r) for r in ranks]
    rows = []
    for case, n, r in cases:
        out = subprocess.run([sys.executable, __file__, "--case", case, "--n", str(n), "--rank", str(r)],
                             capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row.update(threads=torch.get_num_threads(), machine=platform.platform(), cpus=os.cpu_count(),
                   load1=round(os.getloadavg()[0], 2), torch=torch.__version__)
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
        rows.append(row)
    keys = sorted({k for r in rows for k in r}, key=lambda k: list(rows[0]).index(k) if k in rows[0] else 99)
    save_csv_atomic(pd.DataFrame(rows, columns=keys), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
