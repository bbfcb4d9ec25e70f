"""Shape of the covariance spectrum: the alpha-ReQ power-law decay and LiDAR's LDA-matrix rank ("spectral"
names the kernel-regime theory, :mod:`infossl.spectral`).

Both exist at the data level and at the spectrum / scatter-matrix level (``alpha_req_from_spectrum``,
``lidar_from_scatter``) so the streaming and in-memory paths share one formula. Both are centred and
scale-free, so neither sees collapse onto a constant plus small noise.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import torch

from infossl._backend import ArrayLike, to_tensor
from infossl._validation import check_float, warn_degenerate
from infossl.diagnostics._spectra import data_spectrum, spectrum_tensor, serial_lapack
from infossl.diagnostics.geometry import check_views

__all__ = ["alpha_req", "alpha_req_from_spectrum", "lidar", "lidar_from_factors", "lidar_from_scatter"]


# ----------------------------------------------------------------------------------------------- alpha-ReQ
def alpha_fit(lam: torch.Tensor, fit_range: Optional[tuple[int, int]]) -> tuple[float, float, int, int]:
    """The alpha-ReQ power-law fit of a descending float64 spectrum ``lam``: (alpha, r^2, lo, hi), the 1-based
    ranks lo..hi fitted (default 11..100, or m // 10 + 1..m below 100 non-zero eigenvalues)."""
    positive = lam > lam[0] * lam.numel() * 10 * torch.finfo(torch.float64).eps  # numerically non-zero
    m = int(positive.sum())
    if fit_range is None:
        lo, hi = (11, 100) if m >= 100 else (m // 10 + 1, m)
    else:
        lo, hi = int(fit_range[0]), int(fit_range[1])
        if not 1 <= lo < hi:
            raise ValueError(f"fit_range must be (lo, hi) with 1 <= lo < hi (1-based ranks); got {fit_range}")
        if hi > m:
            raise ValueError(f"fit_range {fit_range} reaches rank {hi} but only {m} eigenvalues are non-zero")
    if hi - lo + 1 < 3:
        raise ValueError(f"alpha-ReQ needs at least 3 non-zero eigenvalues to fit; got {m}")
    ranks = torch.arange(lo, hi + 1, dtype=torch.float64)
    x = ranks.log()
    y = lam[lo - 1:hi].log()
    xc, yc = x - x.mean(), y - y.mean()
    slope = (xc * yc).sum() / (xc * xc).sum()
    resid = yc - slope * xc
    r2 = 1.0 - float((resid * resid).sum() / (yc * yc).sum()) if float((yc * yc).sum()) > 0 else 1.0
    return -float(slope), r2, lo, hi


def alpha_req_from_spectrum(eigenvalues: ArrayLike, *, fit_range: Optional[tuple[int, int]] = None,
                            return_fit: bool = False):
    r"""alpha-ReQ: the decay exponent :math:`\alpha` of a power law fitted to the eigenvalue spectrum.

    .. math:: \log\lambda_i \approx c - \alpha\log i, \qquad i \in [\mathrm{lo}, \mathrm{hi}]

    by ordinary least squares in log-log coordinates (Agrawal et al., NeurIPS 2022, "alpha-ReQ: Assessing
    representation quality in self-supervised learning by measuring eigenspectrum decay").

    Fit range (1-based ranks, inclusive): the authors' package fits ranks 11..100, which needs at least 100
    eigenvalues. Here, with m numerically non-zero eigenvalues, the default is (11, 100) when m >= 100 and
    (floor(m/10) + 1, m) below, so small embeddings still get a value; exactly-zero eigenvalues (n <= d, or
    exact collapse) are left out. At least 3 ranks are needed (ValueError otherwise).

    Returns
    -------
    float (alpha), or with ``return_fit=True`` a tuple (alpha, r2, lo, hi).

    Examples
    --------
    >>> import numpy as np
    >>> round(alpha_req_from_spectrum(np.arange(1, 51, dtype=float) ** -1.5), 6)
    1.5
    """
    lam, b = spectrum_tensor(eigenvalues)
    if lam[0] == 0:
        raise ValueError("alpha-ReQ is undefined for an all-zero spectrum")
    alpha, r2, lo, hi = alpha_fit(lam, fit_range)
    return (alpha, r2, lo, hi) if return_fit else alpha


def alpha_req(z: ArrayLike, *, fit_range: Optional[tuple[int, int]] = None, return_fit: bool = False):
    r"""alpha-ReQ of ``z``: power-law decay of the centred covariance spectrum (see
    :func:`alpha_req_from_spectrum` for the fit and the adaptive fit range).

    alpha near 1 is the band the paper associates with good downstream performance; large alpha means a steep
    decay (few dimensions carry the variance), small alpha a flat, white spectrum. Finite samples flatten the
    tail (an isotropic Gaussian with n/d = 4 gives about 0.5, not 0). Scale-free and centred: blind to
    collapse onto a constant plus noise.

    Returns
    -------
    float, or with ``return_fit=True`` a tuple (alpha, r2, lo, hi)
        A Python float for array and tensor input alike.

    Examples
    --------
    >>> import numpy as np
    >>> q, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((500, 40)))
    >>> z = (q - q.mean(0)) * np.arange(1, 41) ** -1.0   # covariance eigenvalues exactly ~ i^-2
    >>> round(alpha_req(z, fit_range=(1, 40)), 2)
    2.0
    """
    lam, _ = data_spectrum(z, center=True)
    if lam[0] == 0:
        raise ValueError("alpha-ReQ is undefined for constant z (all covariance eigenvalues are 0)")
    alpha, r2, lo, hi = alpha_fit(lam, fit_range)
    return (alpha, r2, lo, hi) if return_fit else alpha


# ----------------------------------------------------------------------------------------------- LiDAR
def lidar_from_scatter(between: ArrayLike, within: ArrayLike, *, delta: float = 1e-4, eps: float = 1e-7):
    r"""LiDAR from a between-input covariance :math:`\Sigma_b` and a within-input covariance :math:`\Sigma_w`.

    .. math:: \Sigma_L = (\Sigma_w + \delta' I)^{-1/2}\,\Sigma_b\,(\Sigma_w + \delta' I)^{-1/2},\quad
              p_k = \frac{\lambda_k(\Sigma_L)}{\sum_j\lambda_j(\Sigma_L)} + \varepsilon,\quad
              \mathrm{LiDAR} = \exp\Big(-\sum_k p_k\log p_k\Big)

    with :math:`\delta' = \delta\,\operatorname{tr}\Sigma_w/d` (:math:`\operatorname{tr}\Sigma_b/d` when
    :math:`\Sigma_w = 0`). The paper uses an absolute :math:`\delta`; making it relative keeps the metric
    scale-invariant and equals the paper's form when the mean within-input variance is 1. The eigenvalues are
    those of :math:`\Sigma_L` itself (its generalised eigenproblem), not a PCA of :math:`\Sigma_L` rows.

    Returns
    -------
    float or torch.Tensor
        A Python float for array input; a 0-d tensor on the input's device for a tensor.
    """
    sb, b = to_tensor(between, name="between")
    sw, _ = to_tensor(within, name="within")
    if sb.ndim != 2 or sb.shape[0] != sb.shape[1] or sw.shape != sb.shape:
        raise ValueError(f"between and within must be square matrices of the same shape; got "
                         f"{tuple(sb.shape)} and {tuple(sw.shape)}")
    delta = check_float(delta, "delta", low=0.0, low_open=True)
    eps = check_float(eps, "eps", low=0.0)
    sb, sw = sb.double(), sw.double()
    d = sb.shape[0]
    unit = torch.trace(sw) / d
    if unit <= 0:
        unit = torch.trace(sb) / d
    if unit <= 0:
        warn_degenerate("both scatter matrices are zero (all embeddings equal): LiDAR is reported as 0")
        return b.finish(unit * 0)
    with serial_lapack(sw.device):
        ridge = delta * unit * torch.eye(d, dtype=sw.dtype, device=sw.device)  # (d, d)
        w, v = torch.linalg.eigh((sw + sw.T) / 2 + ridge)
        inv_sqrt = (v / w.clamp_min(delta * unit).sqrt()) @ v.T  # (d, d)
        sl = inv_sqrt @ sb @ inv_sqrt  # (d, d)
        lam = torch.linalg.eigvalsh((sl + sl.T) / 2).clamp_min(0)
    total = lam.sum()
    if total == 0:
        warn_degenerate("the between-input covariance is zero (every input has the same mean embedding): "
                        "LiDAR is reported as 0")
        return b.finish(total)
    p = lam / total + eps
    return b.finish(torch.exp(-torch.special.xlogy(p, p).sum()))


def lidar_from_factors(between: torch.Tensor, within: torch.Tensor, *, delta: float = 1e-4,
                       eps: float = 1e-7) -> torch.Tensor:
    r"""LiDAR of :func:`lidar_from_scatter` for :math:`\Sigma_b = B^\top B` and :math:`\Sigma_w = W^\top W`
    given by their factors ``between`` B (k_b, d) and ``within`` W (k_w, d), without a d x d matrix.

    With P (d, k) an orthonormal basis of a space holding every row of B and W (the QR factors of
    :math:`[B; W]^\top`, k = k_b + k_w), both scatter matrices vanish on the complement of P, where
    :math:`\Sigma_w + \delta' I` is :math:`\delta' I`: :math:`\Sigma_L` is block diagonal with the k x k block
    built from :math:`BP` and :math:`WP` and zeros elsewhere. So its eigenvalues are those of the block and
    d - k zeros, the same spectrum as the d x d route. Cost O(d k^2) time, peak a few (k, d) matrices
    (k = 150 for n = 50 inputs and 2 views: 12 MB per (k, d) float64 matrix at d = 10^4). A 0-d float64
    tensor.
    """
    d = between.shape[1]
    fb, fw = between.double(), within.double()
    unit = fw.pow(2).sum() / d  # tr(Sigma_w) / d
    if unit <= 0:
        unit = fb.pow(2).sum() / d
    if unit <= 0:
        warn_degenerate("both scatter matrices are zero (all embeddings equal): LiDAR is reported as 0")
        return unit * 0
    with serial_lapack(fb.device):
        basis, _ = torch.linalg.qr(torch.cat([fb, fw]).T)  # (d, k) orthonormal columns
        bp, wp = fb @ basis, fw @ basis  # (k_b, k), (k_w, k)
        k = basis.shape[1]
        ridge = delta * unit * torch.eye(k, dtype=fb.dtype, device=fb.device)
        w, v = torch.linalg.eigh(wp.T @ wp + ridge)
        inv_sqrt = (v / w.clamp_min(delta * unit).sqrt()) @ v.T  # (k, k)
        sl = inv_sqrt @ (bp.T @ bp) @ inv_sqrt
        lam = torch.linalg.eigvalsh((sl + sl.T) / 2).clamp_min(0)
    total = lam.sum()
    if total == 0:
        warn_degenerate("the between-input covariance is zero (every input has the same mean embedding): "
                        "LiDAR is reported as 0")
        return total
    p = lam / total + eps
    # the d - k zero eigenvalues each add eps log eps to the entropy's sum
    return torch.exp(-(torch.special.xlogy(p, p).sum() + (d - k) * (eps * math.log(eps) if eps > 0 else 0.0)))


def lidar(views: Union[ArrayLike, Sequence[ArrayLike]], *, delta: float = 1e-4, eps: float = 1e-7):
    r"""LiDAR (Thilak et al. 2023, arXiv 2312.04000): the effective rank of the LDA matrix that treats
    each input as a surrogate class and its q augmented views as the class samples.

    Parameters
    ----------
    views : array (n, q, d), or a sequence of q arrays (n, d)
        Row i of every view is an augmentation of input i; n >= 2 inputs, q >= 2 views.
    delta, eps : float
        Relative ridge on :math:`\Sigma_w` and the probability offset (see :func:`lidar_from_scatter`).

    Returns
    -------
    float or torch.Tensor
        A Python float for array input; a 0-d tensor on the input's device for a tensor.

    Notes
    -----
    With :math:`\mu_i` the mean over the views of input i and :math:`\mu` the grand mean,
    :math:`\Sigma_b = \frac{1}{n-1}\sum_i(\mu_i-\mu)(\mu_i-\mu)^T` and
    :math:`\Sigma_w = \frac{1}{n(q-1)}\sum_{i,j}(z_{ij}-\mu_i)(z_{ij}-\mu_i)^T`. Range [1, min(d, n-1)];
    invariant to rescaling, so blind to collapse onto a constant plus noise.

    Memory: for d <= n(q + 1) the two d x d scatter matrices and their eigendecomposition; for wider views
    the factored route (:func:`lidar_from_factors`), a few (n(q + 1), d) matrices and no d x d one.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2000, 4))
    >>> v = np.stack([x + 0.1 * rng.standard_normal(x.shape) for _ in range(2)], axis=1)
    >>> round(lidar(v), 1)
    4.0
    """
    t, b = check_views(views, name="views")
    n, q, d = t.shape
    t = t / t.detach().abs().amax().clamp_min(torch.finfo(t.dtype).tiny)  # scale-free metric: avoid overflow
    mu_i = t.mean(dim=1)  # (n, d)
    dev = mu_i - mu_i.mean(dim=0, keepdim=True)  # (n, d)
    w = (t - mu_i[:, None, :]).reshape(n * q, d)  # (n q, d)
    if n + n * q < d:  # wide views: the factored route, no d x d matrix
        delta = check_float(delta, "delta", low=0.0, low_open=True)
        eps = check_float(eps, "eps", low=0.0)
        value = lidar_from_factors(dev / math.sqrt(n - 1), w / math.sqrt(n * (q - 1)), delta=delta, eps=eps)
        return b.finish(value.to(device=t.device))
    between = dev.T @ dev / (n - 1)  # (d, d)
    within = w.T @ w / (n * (q - 1))  # (d, d)
    value = lidar_from_scatter(between, within, delta=delta, eps=eps)
    return b.finish(torch.as_tensor(value, dtype=torch.float64, device=t.device))
