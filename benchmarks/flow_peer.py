"""A normalizing-flow peer for the benchmarks: mutual information after Gaussianizing each side with a flow.

The idea is that of Butakov et al., "Mutual information estimation via normalizing flows" (NeurIPS 2024,
arXiv 2403.02187): mutual information is invariant under injective maps of each side, so a flow f_X on x
and a flow f_Y on y leave I(X; Y) unchanged, and if they make each marginal standard normal the Gaussian
formula in the flows' latent space gives a lower bound: for Gaussian marginals, h(U, V) is at most the
entropy of the Gaussian with the same covariance while h(U) and h(V) are exact, so
I(U; V) >= -1/2 log det(C_UV) + 1/2 log det(C_U) + 1/2 log det(C_V). This file is this project's own
version with the flows of ``zuko`` (optional; ``pip install zuko``), not the authors' code:

* both sides are standardised and reduced to at most ``latent_dim`` principal components fitted on the
  fitting half (a data-processing step: for wide embeddings flows on every pixel are out of reach on a CPU;
  it can only lose information);
* one neural-spline flow per side is fitted by maximum likelihood on the fitting half, with early stopping
  on a tenth of it;
* the Gaussian mutual information of the two flows' outputs is read on the other half of the rows.

So the value estimates a lower bound of I(X; Y), with the flows' imperfect Gaussianisation and the
finite sample's bias either way. It is a peer to compare against, not part of infossl.
"""

from __future__ import annotations

import numpy as np
import torch


def _gaussian_mi(u: np.ndarray, v: np.ndarray) -> float:
    """-1/2 log det(C_uv) + 1/2 log det(C_u) + 1/2 log det(C_v) from the sample covariance (nats)."""
    z = np.hstack([u, v])
    c = np.cov(z, rowvar=False)
    du = u.shape[1]
    ld = lambda m: np.linalg.slogdet(np.atleast_2d(m))[1]  # noqa: E731
    return float(0.5 * (ld(c[:du, :du]) + ld(c[du:, du:]) - ld(c)))


def _reduce(a: np.ndarray, fit: np.ndarray, m: int) -> np.ndarray:
    """Standardise on the fitting rows and keep their top ``m`` principal components (n, min(m, d))."""
    mu, sd = a[fit].mean(0), a[fit].std(0)
    keep = sd > 0
    s = (a[:, keep] - mu[keep]) / sd[keep]
    if s.shape[1] <= m:
        return s
    _, _, vt = np.linalg.svd(s[fit], full_matrices=False)
    p = s @ vt[:m].T
    return p / p[fit].std(0)


def _fit_flow(data: np.ndarray, rng: np.random.Generator, seed: int, max_epochs: int):
    import zuko

    torch.manual_seed(seed)
    d = data.shape[1]
    flow = zuko.flows.NSF(features=d, transforms=3, hidden_features=(64, 64))
    t = torch.as_tensor(data, dtype=torch.float32)
    order = rng.permutation(len(t))
    nval = max(1, len(t) // 10)
    val, train = t[order[:nval]], t[order[nval:]]
    opt = torch.optim.Adam(flow.parameters(), lr=1e-3)
    best, best_state, stale = np.inf, None, 0
    for _ in range(max_epochs):
        for idx in torch.randperm(len(train), generator=torch.Generator().manual_seed(int(rng.integers(2**31)))
                                  ).split(256):
            loss = -flow().log_prob(train[idx]).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            v = float(-flow().log_prob(val).mean())
        if v < best - 1e-4:
            best, stale = v, 0
            best_state = {k: w.clone() for k, w in flow.state_dict().items()}
        else:
            stale += 1
            if stale >= 10:
                break
    flow.load_state_dict(best_state)
    return flow


def flow_mutual_information(x: np.ndarray, y: np.ndarray, *, latent_dim: int = 16, random_state: int = 0,
                            max_epochs: int = 200) -> float:
    """I(X; Y) in nats by per-side normalizing flows and the Gaussian formula on held-out rows (see the
    module docstring for what the number is).

    Returns
    -------
    float
        The estimate on the held-out half of the rows.
    """
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    rng = np.random.default_rng(random_state)
    order = rng.permutation(len(x))
    fit, ev = np.sort(order[: len(x) // 2]), np.sort(order[len(x) // 2:])
    xr, yr = _reduce(x, fit, latent_dim), _reduce(y, fit, latent_dim)
    threads = torch.get_num_threads()
    try:
        fx = _fit_flow(xr[fit], rng, random_state, max_epochs)
        fy = _fit_flow(yr[fit], rng, random_state + 1, max_epochs)
        with torch.no_grad():
            u = fx().transform(torch.as_tensor(xr[ev], dtype=torch.float32)).double().numpy()
            v = fy().transform(torch.as_tensor(yr[ev], dtype=torch.float32)).double().numpy()
    finally:
        torch.set_num_threads(threads)
    return _gaussian_mi(u, v)


if __name__ == "__main__":  # a closed-form check: correlated Gaussians through a cubic map, truth known
    g = np.random.default_rng(0)
    a = g.standard_normal((4000, 2))
    b = 0.8 * a + 0.6 * g.standard_normal((4000, 2))
    truth = -2 * 0.5 * np.log(1 - 0.64)
    print(f"truth {truth:.3f}  flow peer on (a^3, sinh b): "
          f"{flow_mutual_information(a ** 3, np.sinh(b), random_state=0):.3f}")
