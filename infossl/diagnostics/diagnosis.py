"""``diagnose(z)`` and ``diagnose_statistics(acc)``: one mechanism for in-memory and streamed embeddings.

:func:`diagnose` feeds ``z`` to a :class:`~infossl.diagnostics.MomentAccumulator` and calls
:func:`diagnose_statistics`, which computes every metric from the accumulated moments (spectrum-level formulas
of :mod:`~infossl.diagnostics.metrics`), the pairwise and label metrics from the accumulator's uniform row
sample, the view metrics from ``views``, and applies the verdict rule of :mod:`~infossl.diagnostics.verdict`.
"""

from __future__ import annotations

import math
import os
import mmap
import warnings
from functools import partial
from typing import Any, Callable, NamedTuple, Optional, Sequence, Union

import numpy as np
import torch

from infossl._backend import ArrayLike, chunk_size_for, iter_chunks
from infossl._validation import (DegenerateInputWarning, check_embeddings, check_float, check_int, check_labels,
                                 check_options, check_pair, check_random_state)
from infossl.diagnostics import geometry, ideal, metrics
from infossl.diagnostics.accumulator import MomentAccumulator, chunk_tensor
from infossl.diagnostics._spectra import eigvalsh_desc
from infossl.diagnostics.spectrum_shape import alpha_fit, lidar
from infossl.diagnostics.report import DiagnosisReport
from infossl.diagnostics.verdict import Thresholds, decide
from infossl.linalg import centred, gaussian_entropy_from_logdet, small_second_moment

__all__ = ["diagnose", "diagnose_statistics"]

Views = Union[ArrayLike, Sequence[ArrayLike], None]


class _Table:
    def __init__(self) -> None:
        self.rows: list = []

    def add(self, name: str, value: Any, description: str, group: str, scale_aware: bool = False) -> None:
        if isinstance(value, torch.Tensor):
            value = value.item()
        self.rows.append((name, value, description, group, scale_aware))

    def frame(self):
        import pandas as pd

        df = pd.DataFrame(self.rows, columns=["name", "value", "description", "group", "scale_aware"])
        df["value"] = df["value"].astype(object)
        return df.set_index("name")


def _quiet(fn, *args, **kwargs):
    """Call a metric, turning a documented degenerate case into NaN plus a note instead of an exception; its
    degenerate-input and reliability warnings (e.g. the MI of repeated rows, what it measured) become notes,
    so the report carries them."""
    from infossl.estimators.reliability import ReliabilityWarning

    kept = (DegenerateInputWarning, ReliabilityWarning)
    with warnings.catch_warnings(record=True) as caught:
        for category in kept:
            warnings.simplefilter("always", category)
        try:
            value = fn(*args, **kwargs)
        except ValueError as exc:
            return math.nan, str(exc)
    notes = [str(w.message) for w in caught if issubclass(w.category, kept)]
    return value, "; ".join(notes) if notes else None


def diagnose_statistics(acc: MomentAccumulator, *, views: Views = None, labels: Optional[ArrayLike] = None,
                        thresholds: Union[None, Thresholds, dict] = None, eps: float = 1e-7,
                        max_labelings: int = 32, separability_rows: int = 512,
                        random_state: Union[None, int, np.random.Generator] = 0) -> DiagnosisReport:
    """Diagnose collapse from a filled :class:`~infossl.diagnostics.MomentAccumulator` (the streaming path).

    Parameters
    ----------
    acc : MomentAccumulator
        Holding at least 2 rows.
    views : array (n_v, q, d) or a sequence of q arrays (n_v, d), optional
        Augmented views of n_v inputs (row i of each view comes from input i). Adds LiDAR, alignment, the
        Gaussian MI between the first two views and the invariance ratio.
    labels : array (n,), optional
        One class label per accumulated row (in the order the rows were fed). Adds NC1, the affine rank of the
        class means against C - 1 and the linear-separability fraction of class labelings (vs Cover's
        formula); these are computed on the accumulator's uniform sample (exact when n <= sample_size).
    thresholds : Thresholds or dict, optional
        The verdict thresholds (see :class:`~infossl.diagnostics.Thresholds`).
    eps : float, default 1e-7
        RankMe's epsilon (Garrido et al. 2023).
    max_labelings : int, default 32
        Labelings checked by the separability fraction (exhaustive when 2^(C-1) is at most this).
    separability_rows : int, default 512
        At most this many sampled rows enter the separability linear programmes.
    random_state : int, Generator or None
        For the sampled labelings and rows.

    Returns
    -------
    DiagnosisReport
        The verdict, collapse rank, reasons, metrics table and spectrum.
    """
    if not isinstance(acc, (MomentAccumulator, _Moments)):
        raise TypeError(f"acc must be a MomentAccumulator, got {type(acc).__name__}")
    if acc.n < 2:
        raise ValueError(f"diagnosis needs at least 2 rows, the accumulator has n={acc.n}")
    stats = acc if isinstance(acc, _Moments) else _Moments.of_accumulator(acc)
    return _diagnose(stats, views=views, labels=labels, thresholds=thresholds, eps=eps,
                     max_labelings=max_labelings, separability_rows=separability_rows, random_state=random_state)


class _Moments:
    """What a diagnosis reads from the data: n, d, the column means and variances, both spectra, the
    off-diagonal energy, the normalised-row variances and the uniform row sample (with its row indices)."""

    def __init__(self, n: int, d: int, mean: torch.Tensor, var: torch.Tensor, lam: torch.Tensor,
                 lam_u: torch.Tensor, offdiag: float, normalized_var: torch.Tensor, sample: torch.Tensor,
                 sample_index: np.ndarray, sample_size: int) -> None:
        self.n, self.dim, self.mean, self.var, self.lam, self.lam_u = n, d, mean, var, lam, lam_u
        self.offdiag, self.normalized_var = offdiag, normalized_var
        self.sample, self.sample_index, self.sample_size = sample, sample_index, sample_size

    @classmethod
    def of_accumulator(cls, acc: MomentAccumulator) -> "_Moments":
        rows = acc.rows  # (n, d) while the accumulator holds fewer rows than columns
        if rows is not None:
            return cls.of_wide_rows(rows, acc.sample.cpu(), acc.sample_index, acc.sample_size)
        cov = acc.covariance.cpu()  # (d, d)
        lam, lam_u = _spectra(acc, cov)  # (d,) centred and uncentred eigenvalues, descending
        return cls(acc.n, acc.dim, acc.mean.cpu(), torch.diagonal(cov).clone(), lam, lam_u,
                   float(geometry.offdiagonal_energy_from_covariance(cov)), acc.normalized_var.cpu(),
                   acc.sample.cpu(), acc.sample_index, acc.sample_size)

    @classmethod
    def of_wide_rows(cls, rows: torch.Tensor, sample: torch.Tensor, sample_index: np.ndarray,
                     sample_size: int) -> "_Moments":
        """From all n rows of (n, d) data with n < d, never forming a d x d matrix: the spectra come from the
        n x n Gram matrices (same non-zero eigenvalues) and the squared Frobenius norm of the covariance is the
        sum of its squared eigenvalues, so d = 10 000 with n = 50 costs O(n^2 d) time and a few (n, d)
        float64 copies of memory (4 MB there)."""
        x = rows.detach().cpu().double()  # (n, d)
        n, d = x.shape
        lam, lam_u = _row_spectra(x)  # (d,), (d,)
        var = centred(x).pow(2).sum(dim=0) / (n - 1)  # (d,)
        total = lam.pow(2).sum()
        offdiag = float(((total - var.pow(2).sum()).clamp_min(0) / total) if total > 0 else total)
        norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)  # (n, 1)
        u = torch.where(norms > 0, x / torch.where(norms > 0, norms, torch.ones_like(norms)), torch.zeros_like(x))
        return cls(n, d, x.mean(dim=0), var, lam, lam_u, offdiag, u.var(dim=0), sample, sample_index,
                   sample_size)


class _Context(NamedTuple):
    """What the metric table reads: the moments, the verdict and the quantities several rows share."""

    stats: "_Moments"
    eps: float
    th: Thresholds
    verdict: Any
    vf: float  # variance fraction
    nstd: float  # mean std of the l2-normalised rows
    var_biased: torch.Tensor  # (d,)
    alpha: tuple  # the alpha-ReQ fit (alpha, r^2, lo, hi), NaNs when not computed
    alpha_note: Optional[str]


class _Metric(NamedTuple):
    """One row of the report: ``value(c)`` returns (value, note or None); ``describe(c)`` its description.
    A note is prefixed with ``note_prefix`` when it is given (None: the note stands as it is)."""

    name: str
    group: str
    scale_aware: bool
    value: Callable[[_Context], Any]
    describe: Callable[[_Context], str]
    note_prefix: Optional[str] = None


def _centred(c: _Context) -> torch.Tensor:
    """The centred spectrum up to its observable rank min(d, n - 1)."""
    return c.stats.lam[:min(c.stats.dim, c.stats.n - 1)]


def _entropy_kept(c: _Context) -> float:
    # 1/2 log det(2 pi e Sigma) restricted to the retained directions (the plug-in form of
    # infossl.estimators.gaussian_entropy, from the accumulated spectrum; no Wishart bias correction)
    k = c.verdict.spectral_rank
    return float(gaussian_entropy_from_logdet(torch.log(c.stats.lam[:k]).sum(), k)) if k else 0.0


def _uniformity(c: _Context):
    sample = c.stats.sample
    if sample.shape[0] < 2:
        return math.nan, ("uniformity needs a row sample of at least 2 rows "
                          f"(sample_size={c.stats.sample_size})")
    return _quiet(geometry.uniformity, sample.numpy())


def _intrinsic_dimension(c: _Context):
    from infossl.estimators.intrinsic import twonn_dimension

    sample = c.stats.sample.numpy()
    if sample.shape[0] < 10:
        return math.nan, "intrinsic dimension needs a row sample of at least 10 rows"
    return _quiet(lambda x: float(twonn_dimension(x).value), sample)


def _quiet_float(fn: Callable, spectrum: Callable[[_Context], torch.Tensor]) -> Callable[[_Context], Any]:
    def value(c: _Context):
        v, note = _quiet(fn(c), spectrum(c))
        return float(v), note
    return value


def _exact(fn: Callable[[_Context], Any]) -> Callable[[_Context], Any]:
    return lambda c: (fn(c), None)


def _text(text: str) -> Callable[[_Context], str]:
    return lambda c: text


#: The report's metrics, in order: name, group, scale-aware, how to compute it, how to describe it.
_METRICS = (
    _Metric("spectral_rank", "spectrum", False, _exact(lambda c: c.verdict.spectral_rank),
            _text("directions of the centred covariance above the collapse floor / below a spectral cliff "
                  "(verdict.collapse_rank)")),
    _Metric("observable_rank", "spectrum", False, _exact(lambda c: c.verdict.observable_rank),
            _text("min(d, n - 1): the most directions n rows can span")),
    _Metric("rankme", "spectrum", True,
            _quiet_float(lambda c: partial(metrics.rankme_from_spectrum, eps=c.eps),
                         lambda c: c.stats.lam_u[:min(c.stats.dim, c.stats.n)]),
            lambda c: f"RankMe: exp-entropy of uncentred singular values, eps={c.eps:g} "
                      "(Garrido et al. 2023)",
            "rankme: "),
    _Metric("rankme_centered", "spectrum", False,
            _quiet_float(lambda c: partial(metrics.rankme_from_spectrum, eps=c.eps), _centred),
            _text("RankMe on centred singular values (scale-free)"), "rankme_centered: "),
    _Metric("effective_rank", "spectrum", False,
            _quiet_float(lambda c: metrics.effective_rank_from_spectrum, _centred),
            _text("effective rank of centred singular values (Roy & Vetterli 2007)"), "effective_rank: "),
    _Metric("stable_rank", "spectrum", True,
            _quiet_float(lambda c: metrics.stable_rank_from_spectrum, lambda c: c.stats.lam_u),
            _text("stable rank ||Z||_F^2/||Z||_2^2, uncentred"), "stable_rank: "),
    _Metric("nesum", "spectrum", False,
            _quiet_float(lambda c: metrics.stable_rank_from_spectrum, lambda c: c.stats.lam),
            _text("NESum sum_i lambda_i/lambda_1 of the centred covariance (He & Ozay 2022)"), "nesum: "),
    _Metric("alpha_req", "spectrum", False, lambda c: (c.alpha[0], c.alpha_note),
            lambda c: f"alpha-ReQ power-law decay of the centred spectrum, ranks {c.alpha[2]}..{c.alpha[3]} "
                      "(Agrawal et al. 2022)", "alpha-ReQ not computed: "),
    _Metric("alpha_req_r2", "spectrum", False, lambda c: (c.alpha[1], None),
            _text("R^2 of the alpha-ReQ log-log fit")),
    _Metric("gaussian_entropy", "spectrum", True, _exact(_entropy_kept),
            lambda c: f"Gaussian entropy (nats) on the k = {c.verdict.spectral_rank} retained principal "
                      "directions"),
    _Metric("total_variance", "scale", True, _exact(lambda c: float(c.stats.lam.sum())),
            _text("trace of the centred covariance")),
    _Metric("variance_fraction", "scale", True, _exact(lambda c: c.vf),
            _text("tr(Cov)/E||z||^2: 0 = collapse onto a point (scale-aware)")),
    _Metric("normalized_std", "scale", True, _exact(lambda c: c.nstd),
            _text("mean std of l2-normalised rows (~1/sqrt(d) isotropic, 0 collapsed)")),
    _Metric("normalized_std_scaled", "scale", True, _exact(lambda c: c.nstd * math.sqrt(c.stats.dim)),
            _text("sqrt(d) x normalized_std (~1 isotropic)")),
    _Metric("dead_dimensions", "scale", True,
            _exact(lambda c: geometry.dead_dimensions_from_moments(c.var_biased, c.stats.mean,
                                                                   tol=c.th.dead_tol)),
            lambda c: f"dimensions with std <= {c.th.dead_tol:g} x RMS entry"),
    _Metric("offdiagonal_energy", "geometry", False, _exact(lambda c: c.stats.offdiag),
            _text("share of the covariance's squared Frobenius norm off the diagonal")),
    _Metric("uniformity", "geometry", True, _uniformity,
            lambda c: f"Wang & Isola uniformity (t=2) on a uniform sample of {c.stats.sample.shape[0]} rows"),
    _Metric("intrinsic_dimension", "geometry", False, _intrinsic_dimension,
            lambda c: f"TwoNN intrinsic dimension (Facco et al. 2017) of {c.stats.sample.shape[0]} sampled "
                      "rows: the dimension of the set the data lie on, <= the spectral rank when it is curved",
            "intrinsic_dimension: "),
)


def _diagnose(acc: "_Moments", *, views: Views, labels: Optional[ArrayLike], thresholds: Any, eps: float,
              max_labelings: int, separability_rows: int, random_state: Any) -> DiagnosisReport:
    th = Thresholds.coerce(thresholds)
    eps = check_float(eps, "eps", low=0.0)
    max_labelings = check_int(max_labelings, "max_labelings", low=1)
    separability_rows = check_int(separability_rows, "separability_rows", low=2)
    n, d = acc.n, acc.dim
    var_biased = acc.var * ((n - 1) / n)  # (d,)
    vf = float(geometry.variance_fraction_from_moments(acc.mean, var_biased.sum()))
    nstd = float(geometry.normalized_std_from_moments(acc.normalized_var))
    verdict = decide(acc.lam.numpy(), n=n, variance_fraction=vf, normalized_std_scaled=nstd * math.sqrt(d),
                     thresholds=th)
    fit, alpha_note = _quiet(_alpha_fit_or_nan, acc.lam[:min(d, n - 1)])  # one fit for its two rows
    fit = fit if isinstance(fit, tuple) else (math.nan, math.nan, 0, 0)
    c = _Context(acc, eps, th, verdict, vf, nstd, var_biased, fit, alpha_note)
    notes = list(verdict.reasons)
    t = _Table()
    for metric in _METRICS:
        value, note = metric.value(c)
        if note:
            notes.append(note if metric.note_prefix is None else metric.note_prefix + note)
        if metric.name == "uniformity" and acc.sample.shape[0] < n:
            notes.append(f"uniformity and the label metrics use a uniform sample of {acc.sample.shape[0]} of "
                         f"the {n} rows")
        t.add(metric.name, value, metric.describe(c), metric.group, metric.scale_aware)
    if views is not None:
        _view_metrics(t, views, notes, d)
    if labels is not None:
        _label_metrics(t, acc, acc.sample, labels, notes, max_labelings, separability_rows, random_state)
    return DiagnosisReport(verdict=verdict.verdict, collapse_rank=verdict.collapse_rank, dim=d, n=n,
                           metrics=t.frame(), spectrum=acc.lam.numpy().copy(), reasons=notes,
                           thresholds=th.as_dict())


def _spectra(acc: MomentAccumulator, cov: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (d,), descending, of the centred covariance and the uncentred second moment.

    When fewer rows than columns were seen and the row sample holds all of them (n <= sample_size), they come
    from the n x n Gram matrices instead (same non-zero eigenvalues, padded with zeros to d): O(n^2 d) rather
    than an O(d^3) eigendecomposition, so d = 10 000 with n = 50 takes a fraction of a second.
    """
    sample = acc.sample.cpu()
    if acc.n < acc.dim and sample.shape[0] == acc.n:
        return _row_spectra(sample)  # the exact rows, float64
    return eigvalsh_desc(cov), eigvalsh_desc(acc.second_moment.cpu())


def _row_spectra(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Centred-covariance and second-moment eigenvalues (d,), descending, of all n < d rows ``x`` (n, d), from
    the n x n Gram matrices (same non-zero eigenvalues), padded with zeros to d."""
    n, d = x.shape
    pad = torch.zeros(d - n, dtype=torch.float64)
    lam = torch.cat([eigvalsh_desc(small_second_moment(centred(x)) / (n - 1)), pad])
    lam_u = torch.cat([eigvalsh_desc(small_second_moment(x) / n), pad])
    return lam, lam_u


def _alpha_fit_or_nan(lam: torch.Tensor):
    if lam.numel() == 0 or lam[0] <= 0:
        raise ValueError("the centred spectrum is zero")
    return alpha_fit(lam, None)


def _view_metrics(t: _Table, views: Views, notes: list, d: int) -> None:
    from infossl.estimators import gaussian_mutual_information

    v, _ = geometry.check_views(views)
    if v.shape[2] != d:
        raise ValueError(f"views must live in the space of z: z has d={d} columns but the views have "
                         f"{v.shape[2]} (views are (n_inputs, n_views, d) embeddings of augmented inputs)")
    v = v.detach().cpu().double()
    value, note = _quiet(lidar, v.numpy())
    t.add("lidar", value, "LiDAR: effective rank of the LDA matrix, inputs as classes (Thilak et al. 2023)",
          "views")
    value, note2 = _quiet(geometry.alignment, v[:, 0].numpy(), v[:, 1].numpy())
    t.add("alignment", value, "Wang & Isola alignment E||u - u'||^2 of views 0 and 1 (0 = invariant)",
          "views", True)
    routes: list[str] = []
    value, note3 = _quiet(_auto_view_mi, v[:, 0], v[:, 1], routes)
    caveat = log_n_caveat(value, v.shape[0])
    t.add("mi_views", value, "MI (nats) between views 0 and 1, method='auto' (route: "
          f"{routes[0] if routes else 'none'}; the plain call: no interval and no evidence route, which "
          f"infossl.mutual_information(..., details=True) adds){caveat}", "views")
    if caveat:  # the estimator's own "log n ceiling" warning says the same: keep one
        kept = [x for x in (note3 or "").split("; ") if x and "log n ceiling" not in x]
        note3 = "; ".join(kept + [f"mi_views = {value:.4g} nats{caveat}"])
    value, note5 = _quiet(gaussian_mutual_information, v[:, 0].numpy(), v[:, 1].numpy())
    caveat = log_n_caveat(value, v.shape[0])
    t.add("mi_views_gaussian", value, "Gaussian MI (nats) between views 0 and 1: the MI of the Gaussian with "
          f"their covariance, far too high on curved low-dimensional embeddings{caveat}", "views")
    if caveat:
        note5 = "; ".join(x for x in (note5, f"mi_views_gaussian = {value:.4g} nats{caveat}") if x)
    value, note4 = _quiet(ideal.invariance_ratio, v.numpy())
    t.add("invariance_ratio", value, "within-input / total sum of squares across views (0 = invariant)",
          "views", True)
    notes += [f"views: {x}" for x in dict.fromkeys((note, note2, note3, note4, note5)) if x]


def log_n_caveat(value: Any, n: int) -> str:
    """``""``, or the caveat of an MI value above log n (appended to its description and the notes).

    Parameters
    ----------
    value : float
        An MI estimate in nats (NaN gives no caveat).
    n : int
        The number of paired rows it was computed from.

    Returns
    -------
    str
        Empty when ``value <= log n``; else a clause starting with ``"; "`` saying that no distribution-free
        lower bound certifies more than log n nats from n samples (McAllester & Stratos 2020), so the value
        rests on the estimator's model.
    """
    try:
        value = float(value)
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(value) or n < 2 or value <= math.log(n):
        return ""
    return (f"; above log n = {math.log(n):.3g}: no distribution-free lower bound certifies more than log n "
            "from n samples (McAllester & Stratos 2020), the value rests on the estimator's model")


def _auto_view_mi(a: torch.Tensor, b: torch.Tensor, routes: list) -> float:
    """``mutual_information(a, b)`` (method "auto") of two (n, d) float64 views; appends the route taken."""
    from infossl.estimators.dispatch import auto_mi_estimate

    tx, ty, _ = check_pair(a, b, min_samples=3)
    value, route = auto_mi_estimate(tx, ty)
    routes.append(route)
    return float(value)


def _label_metrics(t: _Table, acc: "_Moments", sample: torch.Tensor, labels: Any, notes: list,
                   max_labelings: int, separability_rows: int, random_state: Any) -> None:
    lab = check_labels(labels, acc.n)
    lab_s = lab[acc.sample_index]  # (s,)
    z = sample.numpy()
    classes = np.unique(lab_s)
    c = len(classes)
    t.add("n_classes", c, "classes present in the labelled sample", "labels")
    if c < 2:
        notes.append("labels: fewer than 2 classes in the sample; label metrics skipped")
        return
    value, note = _quiet(ideal.nc1, z, lab_s)
    t.add("nc1", value, "NC1 tr(S_W S_B^+)/C (Papyan et al. 2020; 0 = classes collapsed to their means)",
          "labels")
    t.add("class_mean_rank", ideal.class_mean_rank(z, lab_s, tol=1e-6),
          f"affine rank of the class means (rel. tol 1e-6); ideal = C - 1 = {c - 1}", "labels")
    rng = check_random_state(random_state)
    rows = np.sort(rng.choice(z.shape[0], size=min(separability_rows, z.shape[0]), replace=False))
    value, note2 = _quiet(ideal.separability_fraction, z[rows], lab_s[rows], max_labelings=max_labelings,
                          random_state=rng)
    t.add("separability_fraction", value, f"share of class labelings linearly separable on {rows.size} rows "
          f"({max_labelings} labelings at most)", "labels")
    t.add("cover_fraction", ideal.cover_fraction(c, acc.dim), "Cover (1965) share for C points in general "
          "position in R^d", "labels")
    from infossl.estimators.labels import label_mutual_information

    _, counts = np.unique(lab_s, return_counts=True)
    p_y = counts / counts.sum()
    t.add("label_entropy", float(-(p_y * np.log(p_y)).sum()), "H(Y) in nats of the sampled labels (the most "
          "label information an embedding can hold)", "labels")
    value, note3 = _quiet(label_mutual_information, z, lab_s, method="gaussian")
    t.add("label_information", value, f"I(Z;Y) in nats of the class-conditional Gaussian model on {z.shape[0]} "
          "sampled rows (infossl.label_mutual_information, method='gaussian'; 'knn' for Ross 2014)", "labels")
    notes += [f"labels: {x}" for x in (note, note2, note3) if x]


@check_options("infossl.diagnose", forwards_to=diagnose_statistics)
def diagnose(z: ArrayLike, *, views: Views = None, labels: Optional[ArrayLike] = None,
             thresholds: Union[None, Thresholds, dict] = None, eps: float = 1e-7, sample_size: int = 2048,
             chunk_rows: Optional[int] = None, random_state: Union[None, int, np.random.Generator] = 0,
             **options: Any) -> DiagnosisReport:
    """Diagnose collapse of an (n, d) embedding matrix: healthy, dimensional collapse (to k of d), or complete
    collapse, with the metrics behind the verdict.

    Parameters
    ----------
    z : array (n, d) or tensor
        Embeddings, n >= 2 rows; float32 stays float32 in the matrix products.
    views : array (n, d), path, sequence of paths, array (n_v, q, d) or sequence of q arrays, optional
        Augmented views. One other view -- an (n, d) array or an embeddings file (any format of
        :func:`infossl.io.load_array`) row-aligned with ``z`` -- or several files, as ``infossl diagnose
        --views`` takes them: ``z`` is then view 0. The (n_v, q, d) forms of :func:`diagnose_statistics` give
        all q views themselves.
    labels, thresholds, eps
        See :func:`diagnose_statistics`.
    sample_size : int, default 2048
        Rows kept (uniformly) for the pairwise and label metrics; at least 2.
    chunk_rows : int, optional
        Rows per accumulator update (default: ~256 MiB per chunk); the name :func:`diagnose_path` and
        :func:`infossl.io.iter_array_chunks` use for the same setting.
    random_state : int, Generator or None
        Seeds the row sample and the sampled labelings.
    **options
        Passed to :func:`diagnose_statistics` (``max_labelings``, ``separability_rows``).

    Returns
    -------
    DiagnosisReport
        The verdict, collapse rank, reasons, metrics table and spectrum.

    Notes
    -----
    Peak memory beyond ``z``: ``z`` is read in row chunks of ``chunk_rows`` (float32 stays float32 and is
    not copied). With n < d the rows are copied once (n d entries in their dtype) and every metric takes
    the n x n Gram route: a few (n, d) float64 arrays, no d x d matrix (n = 50, d = 10^4: 4 MB per
    (n, d) float64 array against 800 MB per d x d one; the views and labels add a few (n q, d) arrays).
    With n >= d: one chunk (about 256 MiB by default) and a few d x d float64 matrices (d = 512: 2 MB each). A C-contiguous ``np.memmap`` (``np.load(path,
    mmap_mode="r")``) has each chunk's pages dropped from the resident set once read, so the file is
    never resident at once; ``benchmarks/memory.py`` records these peaks.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> diagnose(rng.standard_normal((2000, 8))).verdict
    'healthy'
    >>> r = diagnose(rng.standard_normal((2000, 3)) @ rng.standard_normal((3, 8)))   # rank 3 in R^8
    >>> r.verdict, r.collapse_rank
    ('dimensional-collapse', 3)
    >>> diagnose(5.0 + 1e-6 * rng.standard_normal((2000, 8))).verdict   # a constant plus tiny noise
    'complete-collapse'
    """
    t = chunk_tensor(z, name="z")  # no copy: float32 or memory-mapped arrays are read in place, by chunks
    if t.ndim == 1:
        t = t.reshape(-1, 1)
    if t.ndim != 2:
        raise ValueError(f"z must be 2-D (n_samples, n_features); got shape {tuple(t.shape)}")
    n, d = t.shape
    if n < 2 or d == 0:
        raise ValueError(f"z needs at least 2 rows and 1 column to diagnose; got shape ({n}, {d})")
    sample_size = check_int(sample_size, "sample_size", low=2)  # uniformity and the label metrics need 2 rows
    acc = MomentAccumulator(d, sample_size=sample_size, random_state=random_state)
    size = chunk_rows if chunk_rows is not None else chunk_size_for(d, itemsize=t.element_size(), factor=2)
    mapped = _mapped_pages(z)
    for sl in iter_chunks(n, check_int(size, "chunk_rows", low=1)):
        chunk = t[sl]
        if not bool(torch.isfinite(chunk).all()):
            check_embeddings(t, name="z")  # raises the boundary's message: counts and first position
        acc.update(chunk)
        if mapped is not None:
            mapped(sl)
    return diagnose_statistics(acc, views=_with_z(z, views, n), labels=labels, thresholds=thresholds,
                               eps=eps, random_state=random_state, **options)


def _with_z(z: Any, views: Any, n: int) -> Any:
    """``views`` as :func:`diagnose_statistics` takes them. One other view -- a path or an (n, d) array, row
    i an augmentation of the input of z's row i -- or paths of several (the CLI's ``--views``) become
    ``[z, *others]``: z is view 0, as on the command line. Other forms pass unchanged."""
    paths = (str, bytes, os.PathLike)
    if isinstance(views, paths):
        views = [views]
    if isinstance(views, (list, tuple)) and views and all(isinstance(v, paths) for v in views):
        from infossl.io.embeddings import load_array

        return [z, *(load_array(v) for v in views)]
    if views is not None and getattr(views, "ndim", None) == 2:
        if views.shape[0] != n:
            raise ValueError(f"views: one other view must have z's {n} rows (row i an augmentation of the "
                             f"input of z's row i), got shape {tuple(views.shape)}")
        return [z, views]
    return views


def _mapped_pages(z: Any):
    """For a C-contiguous array read from a memory-mapped file (``np.load(path, mmap_mode="r")``), a function
    that drops the pages of a row slice from this process's resident set once the slice has been read, so a
    diagnosis of a file larger than memory holds one chunk of it at a time (the pages stay in the page cache
    and come back on the next access). None for any other input. Copy-on-write maps (mode "c") are left
    alone: dropping their pages would discard the caller's writes."""
    if not isinstance(z, np.memmap) or getattr(z, "mode", None) not in ("r", "r+", "w+"):
        return None
    if not z.flags.c_contiguous or z.ndim not in (1, 2) or not hasattr(mmap, "MADV_DONTNEED"):
        return None
    base = z
    while isinstance(base, np.ndarray):
        base = base.base
    if not isinstance(base, mmap.mmap):
        return None
    start = np.frombuffer(base, dtype=np.uint8).ctypes.data  # the map's first byte
    first = z.ctypes.data - start
    row_bytes = z.itemsize * (z.shape[1] if z.ndim == 2 else 1)
    page = mmap.PAGESIZE

    def release(sl: slice) -> None:
        lo = first + sl.start * row_bytes
        hi = first + sl.stop * row_bytes
        lo -= lo % page  # madvise takes page-aligned starts; a shared edge page is simply read again
        if hi > lo:
            base.madvise(mmap.MADV_DONTNEED, lo, min(hi, len(base)) - lo)

    return release
