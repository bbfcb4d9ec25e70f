"""Every GPU figure in one short script: the exact-neighbour estimators and the device-side workloads on a
CUDA tensor, timed end to end, with the result's device recorded (the estimators must stay on the device).

Figures (full size / ``--quick``):

* KSG, n = 10^5 (2000), 64 + 64 dims, float32 tensors (``ksg_mutual_information``);
* Kozachenko–Leonenko entropy, n = 10^6 (5000), d = 16, float32 (``knn_entropy``);
* the latent route (``latent_mutual_information``) and ``mutual_information(method="auto")`` on curved
  (nonlinear) embeddings of a 4-dimensional latent in 64 dims, n = 2 * 10^4 (1000);
* one training step (VICReg loss, MLP 256-512-128, batch 1024 (128), forward + backward + Adam step);
* per-sample Jacobians and their randomized sketch (``jacobians``, ``sketch_covariance_factor``) of the same
  MLP on 4096 (64) samples.

Each figure is the median of ``--repeats`` runs after one warm-up, with ``torch.cuda.synchronize`` around it
on a GPU, and reports the peak device memory. The CSV rows also carry the machine (``_machine.py``) and the
GPU name. It runs anywhere: ``--device cpu --quick`` is the smoke run.

    python benchmarks/gpu.py --out benchmarks/results/gpu.csv                 # on a machine with a GPU
    python benchmarks/gpu.py --device cpu --quick --out /tmp/gpu_smoke.csv    # smoke run on a CPU
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

import pandas as pd
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import machine  # noqa: E402

from infossl.deterministic.jacobian import jacobians, sketch_covariance_factor  # noqa: E402
from infossl.estimators import mutual_information  # noqa: E402
from infossl.estimators.knn import knn_entropy, ksg_mutual_information  # noqa: E402
from infossl.estimators.latent import latent_mutual_information  # noqa: E402
from infossl.io import save_csv_atomic  # noqa: E402
from infossl.objectives import VICRegLoss  # noqa: E402


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _device_of(value):
    return str(value.device) if isinstance(value, torch.Tensor) else "host (python float)"


def _as_float(value):
    return float(value.detach().cpu()) if isinstance(value, torch.Tensor) else float(value)


def _curved(n, d, latent, g, device):
    """A smooth nonlinear embedding of a ``latent``-dimensional Gaussian in d dims, and a noisy partner."""
    s = torch.randn(n, latent, generator=g)
    w1, w2 = torch.randn(latent, d, generator=g), torch.randn(latent, d, generator=g)
    x = torch.sin(s @ w1) + 0.3 * torch.tanh(s @ w2)
    y = torch.cos(s @ w2) + 0.05 * torch.randn(n, d, generator=g)
    return x.to(device), y.to(device)


def _mlp(device):
    layers = [torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 128)]
    return torch.nn.Sequential(*layers).to(device)


def figures(device, quick):
    """(name, size note, callable returning the value) for every figure."""
    g = torch.Generator().manual_seed(0)
    n_ksg, n_kl, n_lat, batch, n_jac = (2000, 5000, 1000, 128, 64) if quick else (100_000, 1_000_000, 20_000,
                                                                                 1024, 4096)
    x = torch.randn(n_ksg, 64, generator=g)
    y = 0.8 * x + 0.6 * torch.randn(n_ksg, 64, generator=g)
    x, y = x.to(device), y.to(device)
    z = torch.randn(n_kl, 16, generator=g).to(device)
    cx, cy = _curved(n_lat, 64, 4, g, device)
    model = _mlp(device)
    loss_fn = VICRegLoss()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    xa = torch.randn(batch, 256, generator=g).to(device)
    xb = xa + 0.1 * torch.randn(batch, 256, generator=g).to(device)
    xj = torch.randn(n_jac, 256, generator=g).to(device)
    eye = torch.eye(256, device=device)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xa), model(xb))
        loss.backward()
        opt.step()
        return loss.detach()

    def sketch():
        gen = torch.Generator(device=device).manual_seed(0)
        f = sketch_covariance_factor(model, xj, "full", eye, 8, generator=gen)
        return f.pow(2).sum()

    return [
        ("ksg", f"n={n_ksg} 64+64 float32", lambda: ksg_mutual_information(x, y)),
        ("kl", f"n={n_kl} d=16 float32", lambda: knn_entropy(z)),
        ("latent", f"n={n_lat} 64+64 curved, latent 4", lambda: latent_mutual_information(cx, cy)),
        ("auto_mi_nonlinear", f"n={n_lat} 64+64 curved, latent 4", lambda: mutual_information(cx, cy)),
        ("training_step", f"VICReg, MLP 256-512-128, batch {batch}", step),
        ("jacobians", f"{n_jac} samples, (128, 256) each", lambda: jacobians(model, xj).pow(2).sum()),
        ("sketch_jacobians", f"{n_jac} samples, rank 8", sketch),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run of a few seconds")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", nargs="*", help="run only these figures (names as in the CSV)")
    ap.add_argument("--out", default="benchmarks/results/gpu.csv")
    args = ap.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: torch {torch.__version__} sees no CUDA device; "
                         "use --device cpu for a smoke run")
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else ""
    print("machine:", machine(), "gpu:", gpu or "none", flush=True)
    rows = []
    for name, size, fn in figures(device, args.quick):
        if args.only and name not in args.only:
            continue
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        value = fn()  # warm-up (kernel selection, lazy initialisation)
        _sync(device)
        times = []
        for _ in range(max(1, args.repeats)):
            t0 = time.perf_counter()
            value = fn()
            _sync(device)
            times.append(time.perf_counter() - t0)
        v = _as_float(value)
        if not math.isfinite(v):
            raise RuntimeError(f"{name} ({size}): non-finite value {v!r} on {device}")
        peak = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")
        rows.append(dict(figure=name, size=size, device=str(device), gpu=gpu,
                         seconds=round(statistics.median(times), 4),
                         value=v, result_device=_device_of(value), peak_device_mib=round(peak, 1),
                         repeats=len(times), **machine()))
        print(f"{name:18s} {size:38s} {rows[-1]['seconds']:9.4f} s  value {v:.6g}  "
              f"on {rows[-1]['result_device']}",
              flush=True)
    save_csv_atomic(pd.DataFrame(rows), args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
