"""Covariance-spectrum collapse metrics of an (n, d) embedding matrix.

Every metric exists at two levels that share one formula:

* ``*_from_spectrum(eigenvalues, ...)`` works on the eigenvalues of a Gram-type matrix (the covariance, the
  uncentred second moment, or squared singular values; any positive multiple gives the same value). The
  streaming path (:class:`~infossl.diagnostics.MomentAccumulator` ->
  :func:`~infossl.diagnostics.diagnose_statistics`) calls these on the accumulated (d, d) matrices.
* ``metric(z, ...)`` takes the data, computes the spectrum (:func:`singular_values`) and calls the spectrum
  level.

Naming follows what is computed, because implementations disagree on centring and on epsilon:
"centred" means the rows are shifted to zero mean first; RankMe is uncentred by default (as in its paper) and
the effective rank centred. Results: Python floats for numpy input, 0-d tensors for torch input. The
moment-based metrics (alignment, uniformity, per-dimension statistics) live in
:mod:`infossl.diagnostics.geometry` and are re-exported here.
"""

from __future__ import annotations


from infossl.linalg import stable_rank_of
from infossl._backend import ArrayLike
from infossl._validation import check_float, warn_degenerate
from infossl.diagnostics._spectra import (covariance_spectrum, data_spectrum, entropy_rank, singular_values,
                                          spectrum_tensor)
from infossl.diagnostics.geometry import (alignment, dead_dimensions, dimension_std, normalized_std,
                                          offdiagonal_energy, uniformity, variance_fraction)
from infossl.diagnostics.spectrum_shape import alpha_req, alpha_req_from_spectrum, lidar, lidar_from_scatter

__all__ = ["covariance_spectrum", "singular_values", "rankme", "rankme_from_spectrum", "effective_rank",
           "effective_rank_from_spectrum", "stable_rank", "stable_rank_from_spectrum", "nesum",
           "nesum_from_spectrum", "alpha_req", "alpha_req_from_spectrum", "lidar", "lidar_from_scatter",
           "alignment", "uniformity", "normalized_std", "dimension_std", "dead_dimensions",
           "offdiagonal_energy", "variance_fraction"]


# ---------------------------------------------------------------------------------------- RankMe family
def rankme_from_spectrum(eigenvalues: ArrayLike, *, eps: float = 1e-7):
    r"""RankMe from eigenvalues :math:`\lambda_k = \sigma_k^2` (up to a common factor).

    .. math:: p_k = \frac{\sigma_k}{\sum_j \sigma_j} + \varepsilon, \qquad
              \mathrm{RankMe} = \exp\Big(-\sum_k p_k \log p_k\Big)

    (Garrido et al. 2023, arXiv 2210.02885; :math:`\varepsilon` is added after normalising, so the
    :math:`p_k` do not sum to exactly 1 and identical rows give slightly more than 1). An all-zero spectrum
    gives 0 with a :class:`~infossl.DegenerateInputWarning`.

    Returns
    -------
    float or torch.Tensor
        A Python float for array input; a 0-d tensor on the input's device for a tensor.

    Examples
    --------
    >>> rankme_from_spectrum([1.0, 1.0, 1.0, 1.0], eps=0.0)
    4.0
    """
    eps = check_float(eps, "eps", low=0.0)
    lam, b = spectrum_tensor(eigenvalues)
    return b.finish(entropy_rank(lam, eps))


def rankme(z: ArrayLike, *, eps: float = 1e-7, center: bool = False):
    r"""RankMe of ``z``: entropy-based rank of the singular values of the **uncentred** ``z`` by default.

    See :func:`rankme_from_spectrum` for the formula; the sum runs over the min(n, d) singular values.
    ``center=True`` uses the centred matrix instead (then ``eps=0`` gives :func:`effective_rank`).
    Range [~1, min(n, d)]. Meant for **ranking** runs of one method; the paper gives no absolute threshold.
    Collapse onto a non-zero constant plus small noise gives about 1 (uncentred) but a high centred value.

    Returns
    -------
    float or torch.Tensor
        A Python float for array input; a 0-d tensor on the input's device for a tensor.

    References
    ----------
    Garrido, Balestriero, Najman & LeCun, "RankMe: assessing the downstream performance of pretrained
    self-supervised representations by their rank", ICML 2023, arXiv 2210.02885.

    Examples
    --------
    >>> import numpy as np
    >>> round(rankme(np.eye(5), eps=0.0), 6)
    5.0
    """
    eps = check_float(eps, "eps", low=0.0)
    lam, b = data_spectrum(z, center)
    return b.finish(entropy_rank(lam, eps))


def effective_rank_from_spectrum(eigenvalues: ArrayLike):
    r"""Effective rank :math:`\exp(-\sum_k p_k\log p_k)`, :math:`p_k = \sigma_k/\sum_j\sigma_j`, with
    :math:`\sigma_k = \sqrt{\lambda_k}` and :math:`0\log 0 = 0` (Roy & Vetterli 2007, "The effective rank: a
    measure of effective dimensionality", EUSIPCO).

    Returns
    -------
    float or torch.Tensor
        A Python float for array input; a 0-d tensor on the input's device for a tensor.

    Examples
    --------
    >>> round(effective_rank_from_spectrum([4.0, 0.0]), 6)
    1.0
    """
    lam, b = spectrum_tensor(eigenvalues)
    return b.finish(entropy_rank(lam, 0.0))


def effective_rank(z: ArrayLike, *, center: bool = True):
    r"""Effective rank (Roy & Vetterli 2007) of the singular values of the centred ``z`` (default).

    Equal to :func:`rankme` with ``eps=0`` and the same ``center``. Range [1, rank]; scale-free, so with
    ``center=True`` it does not see collapse onto a constant plus small noise.

    Returns
    -------
    float or torch.Tensor
        A Python float for array input; a 0-d tensor on the input's device for a tensor.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    >>> round(effective_rank(z), 6)
    2.0
    """
    lam, b = data_spectrum(z, center)
    return b.finish(entropy_rank(lam, 0.0))


def stable_rank_from_spectrum(eigenvalues: ArrayLike):
    r"""Stable rank :math:`\sum_k \lambda_k/\lambda_1 = \lVert Z\rVert_F^2/\lVert Z\rVert_2^2`.

    Returns
    -------
    float or torch.Tensor
        A Python float for array input; a 0-d tensor on the input's device for a tensor.

    Examples
    --------
    >>> stable_rank_from_spectrum([2.0, 1.0, 1.0])
    2.0
    """
    lam, b = spectrum_tensor(eigenvalues)
    if lam[0] == 0:
        warn_degenerate("all eigenvalues are zero (the matrix is zero): the stable rank is reported as 0")
    return b.finish(stable_rank_of(lam))


def stable_rank(z: ArrayLike, *, center: bool = False):
    r"""Stable rank :math:`\lVert Z\rVert_F^2/\lVert Z\rVert_2^2` of the uncentred ``z`` (default).

    Uncentred it reads about 1 for collapse onto a non-zero constant; centred it equals :func:`nesum`.

    Returns
    -------
    float or torch.Tensor
        A Python float for array input; a 0-d tensor on the input's device for a tensor.

    Examples
    --------
    >>> import numpy as np
    >>> stable_rank(np.ones((10, 4)))
    1.0
    """
    lam, b = data_spectrum(z, center)
    if lam[0] == 0:
        warn_degenerate("z is all zeros: the stable rank is reported as 0")
        return b.finish(lam[0])
    return b.finish(lam.sum() / lam[0])


def nesum_from_spectrum(eigenvalues: ArrayLike):
    r"""NESum :math:`\sum_i \lambda_i/\lambda_1` of covariance eigenvalues (He & Ozay, ICML 2022,
    "Exploring the gap between collapsed and whitened features in self-supervised learning").

    Returns
    -------
    float or torch.Tensor
        A Python float for array input; a 0-d tensor on the input's device for a tensor.

    Examples
    --------
    >>> nesum_from_spectrum([1.0, 1.0, 1.0])
    3.0
    """
    return stable_rank_from_spectrum(eigenvalues)


def nesum(z: ArrayLike):
    r"""NESum of ``z``: :math:`\sum_i\lambda_i/\lambda_1` over the eigenvalues of the centred covariance.

    Range [1, d]: 1 when all variance lies in one direction, d when whitened. Scale-free and centred, so it
    does not see collapse onto a constant plus small noise.

    Returns
    -------
    float or torch.Tensor
        A Python float for array input; a 0-d tensor on the input's device for a tensor.

    Examples
    --------
    >>> import numpy as np
    >>> z = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])
    >>> nesum(z)
    2.0
    """
    return stable_rank(z, center=True)
