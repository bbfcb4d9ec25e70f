"""The collapse verdict: a documented rule with tunable thresholds.

Rule (applied in this order; each firing rule adds a line to ``reasons``):

1. **complete-collapse** if the embeddings sit on (or next to) a single point or a single ray:

   * the variance fraction :math:`\\rho = \\operatorname{tr}\\hat\\Sigma / \\mathbb E\\lVert z\\rVert^2`
     (:func:`~infossl.diagnostics.variance_fraction`) is below ``Thresholds.complete_variance_fraction``
     (default 1e-4: the spread is under 1 % of the distance from the origin), or
   * :math:`\\sqrt d \\cdot` the std of the l2-normalised rows (:func:`~infossl.diagnostics.normalized_std`,
     about 1 for isotropic embeddings) is below ``Thresholds.complete_normalized_std`` (default 1e-2).

   Both statistics are **scale-aware**: collapse onto a constant plus tiny noise drives them to 0, while the
   centred scale-free metrics (centred RankMe, effective rank, NESum, alpha-ReQ, LiDAR) read that noise as a
   healthy, isotropic spectrum. ``collapse_rank`` is then 0.
2. **dimensional-collapse** to k of d dimensions if the spectral rank k (:func:`collapse_rank`) of the
   centred covariance is below the observable rank m = min(d, n - 1) by more than
   ``Thresholds.max_collapsed_fraction`` x m (default 0.05: a few dead units, common in the output layer of
   a healthy projector, do not make a collapse; the rank k is reported either way; set 0 to count every
   collapsed direction).
3. **healthy** otherwise (``collapse_rank`` = k, at most max_collapsed_fraction x m below m).

RankMe, alpha-ReQ and LiDAR are reported but do not enter the rule: their papers give no absolute threshold
and use them to rank runs of one method.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Optional, Union

import numpy as np

from infossl._validation import check_float

VERDICTS = ("healthy", "dimensional-collapse", "complete-collapse")


@dataclass(frozen=True)
class Thresholds:
    """Tunable thresholds of the collapse verdict (see the module docstring for the rule).

    Attributes
    ----------
    complete_variance_fraction : float, default 1e-4
        Complete collapse when tr(Cov) / E||z||^2 is below this.
    complete_normalized_std : float, default 1e-2
        Complete collapse when sqrt(d) x the std of the l2-normalised rows is below this.
    eigenvalue_floor : float, default 1e-5
        A covariance eigenvalue at most this times the mean of the m observable eigenvalues is collapsed.
    cliff_ratio : float, default 1e3
        A drop lambda_k / lambda_{k+1} above this is a spectral cliff ...
    cliff_tail_share : float, default 1e-3
        ... and cuts the rank at k when the eigenvalues after the cliff hold less than this share of the
        total variance (so a few dominant directions over a healthy bulk do not count as collapse).
    max_collapsed_fraction : float, default 0.05
        Dimensional collapse when more than this fraction of the m observable directions is collapsed.
    dead_tol : float, default 1e-4
        A dimension is dead when its std is at most this times the root-mean-square entry (reported only).
    """

    complete_variance_fraction: float = 1e-4
    complete_normalized_std: float = 1e-2
    eigenvalue_floor: float = 1e-5
    cliff_ratio: float = 1e3
    cliff_tail_share: float = 1e-3
    max_collapsed_fraction: float = 0.05
    dead_tol: float = 1e-4

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            shares = ("complete_variance_fraction", "max_collapsed_fraction", "cliff_tail_share")
            high = 1.0 if f.name in shares else None
            check_float(value, f"Thresholds.{f.name}", low=1.0 if f.name == "cliff_ratio" else 0.0, high=high)

    @classmethod
    def coerce(cls, thresholds: Union[None, "Thresholds", dict]) -> "Thresholds":
        """A Thresholds from None (defaults), a Thresholds, or a dict of field overrides.

        Returns
        -------
        Thresholds
            The thresholds to use.
        """
        if thresholds is None:
            return cls()
        if isinstance(thresholds, cls):
            return thresholds
        if isinstance(thresholds, dict):
            unknown = sorted(set(thresholds) - {f.name for f in fields(cls)})
            if unknown:
                valid = [f.name for f in fields(cls)]
                raise ValueError(f"unknown thresholds {unknown}; valid names: {valid}")
            return cls(**thresholds)
        raise TypeError(f"thresholds must be None, a Thresholds or a dict, got {type(thresholds).__name__}")

    def as_dict(self) -> dict:
        """The thresholds as a plain dict.

        Returns
        -------
        dict
            Field name to value.
        """
        return asdict(self)


def collapse_rank(eigenvalues: np.ndarray, *, n: Optional[int] = None, eigenvalue_floor: float = 1e-5,
                  cliff_ratio: float = 1e3, cliff_tail_share: float = 1e-3) -> int:
    r"""Number k of non-collapsed directions of a covariance spectrum.

    Only the first m = min(d, n - 1) eigenvalues are looked at (n rows span at most n - 1 centred directions).
    With :math:`\bar\lambda` the mean of those m eigenvalues:

    * floor rule: :math:`k_f = \#\{i \le m: \lambda_i > \text{floor}\cdot e\cdot\bar\lambda\}`, where
      :math:`e = \max\big((1-\sqrt{m/M})^2, 1/m^2\big)` (M = max(d, n - 1); e = 1 without n) is the
      Marchenko-Pastur lower edge of an isotropic sample relative to its mean eigenvalue, so that the
      smallest sample eigenvalues of healthy data with n close to d are not read as collapsed;
    * cliff rule: the largest drop :math:`\lambda_k/\lambda_{k+1}` (k < k_f) if it exceeds ``cliff_ratio``
      while :math:`\sum_{i>k}\lambda_i < \text{tail share}\cdot\sum_i\lambda_i` (Jing et al., ICLR 2022,
      read collapse off such a cliff in the log-spectrum);

    and k = min(k_f, cliff position). An all-zero spectrum gives 0.

    Returns
    -------
    int
        k, in [0, d].

    Examples
    --------
    >>> collapse_rank(np.array([1.0, 0.9, 0.8, 1e-9, 1e-10]))
    3
    >>> collapse_rank(np.array([1.0, 0.9, 0.8, 0.7, 0.6]), n=4)   # 4 rows: at most 3 directions
    3
    """
    lam = np.sort(np.clip(np.asarray(eigenvalues, dtype=np.float64).ravel(), 0, None))[::-1]
    d = lam.size
    m = d if n is None else max(0, min(d, int(n) - 1))
    lam = lam[:m]
    if m == 0 or lam[0] <= 0:
        return 0
    edge = 1.0
    if n is not None:  # Marchenko-Pastur lower edge of a healthy isotropic sample; at least 1/m^2 (hard edge)
        edge = min(1.0, max((1.0 - np.sqrt(m / max(d, int(n) - 1))) ** 2, 1.0 / m ** 2))
    k = int((lam > eigenvalue_floor * edge * lam.mean()).sum())
    if k > 1:
        ratios = lam[:k - 1] / lam[1:k]  # (k - 1,): cutting after rank i + 1 drops by ratios[i]
        tail = np.cumsum(lam[::-1])[::-1]  # tail[i] = sum_{j >= i} lambda_j (0-based)
        ok = (ratios > cliff_ratio) & (tail[1:k] < cliff_tail_share * tail[0])
        if ok.any():
            k = int(np.argmax(np.where(ok, ratios, 0.0))) + 1
    return k


@dataclass(frozen=True)
class Verdict:
    verdict: str
    collapse_rank: int
    spectral_rank: int
    observable_rank: int
    reasons: tuple


def decide(spectrum: np.ndarray, *, n: int, variance_fraction: float, normalized_std_scaled: float,
           thresholds: Optional[Thresholds] = None) -> Verdict:
    """Apply the rule of the module docstring to a centred covariance spectrum and the scale-aware statistics.

    Examples
    --------
    >>> decide(np.ones(4), n=100, variance_fraction=1e-12, normalized_std_scaled=1e-6).verdict
    'complete-collapse'
    >>> v = decide(np.array([1.0, 1.0, 0.0, 0.0]), n=100, variance_fraction=1.0, normalized_std_scaled=0.7)
    >>> v.verdict, v.collapse_rank
    ('dimensional-collapse', 2)
    """
    th = Thresholds.coerce(thresholds)
    lam = np.asarray(spectrum, dtype=np.float64)
    d = lam.size
    m = min(d, n - 1)
    k = collapse_rank(lam, n=n, eigenvalue_floor=th.eigenvalue_floor, cliff_ratio=th.cliff_ratio,
                      cliff_tail_share=th.cliff_tail_share)
    reasons = []
    if variance_fraction < th.complete_variance_fraction:
        reasons.append(f"variance fraction tr(Cov)/E||z||^2 = {variance_fraction:.3g} < "
                       f"{th.complete_variance_fraction:g}: the embeddings sit next to one point")
    if normalized_std_scaled < th.complete_normalized_std:
        reasons.append(f"sqrt(d) x std of l2-normalised rows = {normalized_std_scaled:.3g} < "
                       f"{th.complete_normalized_std:g}: all embeddings point in one direction")
    if reasons:
        return Verdict("complete-collapse", 0, k, m, tuple(reasons))
    if m - k > th.max_collapsed_fraction * m:
        reasons.append(f"{m - k} of the {m} observable covariance directions are collapsed (eigenvalue "
                       f"floor {th.eigenvalue_floor:g} x mean, cliff ratio {th.cliff_ratio:g}): "
                       f"dimensional collapse to k = {k} of d = {d}")
        verdict = "dimensional-collapse"
    else:
        reasons.append(f"no collapse rule fired: k = {k} of the m = {m} observable directions carry variance")
        verdict = "healthy"
    if n - 1 < d:
        reasons.append(f"n = {n} rows span at most n - 1 = {n - 1} < d = {d} directions; the rank is "
                       "judged against n - 1")
    elif n < 2 * d:
        reasons.append(f"n = {n} < 2d = {2 * d}: the smallest sample eigenvalues are unreliable; "
                       "use more rows")
    return Verdict(verdict, k, k, m, tuple(reasons))
