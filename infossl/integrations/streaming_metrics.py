r"""Streaming metric objects for any training loop, in the torchmetrics style: ``update`` / ``compute`` /
``reset`` / ``merge``, and a cross-rank merge through ``torch.distributed``.

* :class:`CollapseMetrics`: the collapse metrics and the verdict of :func:`infossl.diagnose`, from a
  :class:`~infossl.diagnostics.MomentAccumulator` fed batch by batch and turned into a report by
  :func:`~infossl.diagnostics.diagnose_statistics` (the very code ``diagnose`` runs, so the streamed values
  equal the one-shot ones); optional labels add the label metrics and the label information I(Z; Y).
* :class:`ViewInformation`: the information between two views, the Gaussian :math:`\hat I(Z_1; Z_2)` of
  ``diagnose(views=...)``, with alignment, the invariance ratio and LiDAR, from the joint moments of the
  pair (no views are stored).

Cost per call (d the embedding width, m the rows of the batch):

* ``update``: while fewer rows than columns were seen (n < d; n < 2d for ViewInformation) a copy of the
  batch is kept and nothing else is computed: O(n d) memory, no d x d matrix. From there on, one
  (m, d) x (d, m) Gram product (CollapseMetrics; (m, 2d) for ViewInformation) in the batch's dtype on the
  batch's device, O(m d^2) flops, plus O(m d) elementwise work; the running sums are float64 tensors on
  that device (O(d^2) memory, 4x for the views) and a reservoir sample of ``sample_size`` rows; nothing
  is copied to the host except a few scalars the accumulator checks (finite values, whether to re-centre: about three device-to-host synchronisations per update, no data) and the
  reservoir's row draws (numpy, host-to-device: at most m indices). Labels are kept on their device.
* ``compute``: with n < d, the spectra from the n x n Gram matrices of the kept rows, O(n^2 d) time and
  a few (n, d) float64 copies of memory (n = 50, d = 10^4: 4 MB each). Otherwise one eigendecomposition
  of the (d, d) covariance (and of the uncentred second moment) on the host, O(d^3), plus the pairwise
  metrics on the sample, O(s^2 d) for s = ``sample_size`` rows; with labels the label metrics on the sample (a few small linear programmes) and the label information (Gaussian
  model: O(s d^2 + C d^3), or O(s^2 d) for s < d). ViewInformation: with n < 2d the Gram route on the
  kept pairs; otherwise Cholesky factorisations and eigendecompositions of d x d blocks, O(d^3), on the
  device.
* ``sync`` / ``compute`` under an initialised process group: one ``all_gather_object`` of each rank's
  state (O(d^2 + s d) bytes on the host), then the exact merge (Chan et al. 1979), so every rank gets the
  moments of the concatenated data in rank order. Every rank must call it (a collective).

``merge(other)`` adds another object's rows, as if its batches had been fed after this one's.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Optional, Union

import numpy as np
import torch

from infossl._backend import ArrayLike
from infossl._validation import DegenerateInputWarning, check_choice, check_float, check_int, check_labels
from infossl._warnings import warn
from infossl.diagnostics.accumulator import MomentAccumulator, chunk_tensor
from infossl.diagnostics.spectrum_shape import lidar_from_factors, lidar_from_scatter
from infossl.estimators.gaussian import gaussian_mi_of_moment, gaussian_mutual_information
from infossl.linalg import centred

__all__ = ["CollapseMetrics", "VERDICT_CODES", "ViewInformation", "numeric_metrics",
           "sample_label_information", "view_information_values"]

#: Numeric code of each verdict, for loggers that only take numbers (``verdict_code``).
VERDICT_CODES = {"healthy": 0, "dimensional-collapse": 1, "complete-collapse": 2}


def _distributed(group: Any = None) -> bool:
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1


def _copy_accumulator(acc: MomentAccumulator, random_state: Any) -> MomentAccumulator:
    """A fresh accumulator holding ``acc``'s moments and sample (the merge into an empty one is exact)."""
    out = MomentAccumulator(acc.dim, sample_size=acc.sample_size, random_state=random_state)
    return out.merge(acc)


def _batch(z: Any, name: str) -> torch.Tensor:
    """A 2-D floating tensor view of a batch (m, d), detached, through the array boundary of
    :func:`~infossl.diagnostics.accumulator.chunk_tensor`; (m,) is read as (m, 1). No copy for float32/64."""
    if isinstance(z, (list, tuple)):
        raise TypeError(f"{name} must be an array or tensor (m, d), got a {type(z).__name__}")
    t = chunk_tensor(z, name=name)
    if t.ndim == 1:
        t = t.reshape(-1, 1)
    if t.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows, dim); got shape {tuple(t.shape)}. Flatten the trailing "
                         f"dimensions first: {name}.flatten(1)")
    if t.shape[0] == 0 or t.shape[1] == 0:  # the message of check_embeddings
        raise ValueError(f"{name} is empty: shape {tuple(t.shape)}")
    return t


def numeric_metrics(values: dict) -> dict:
    """The entries of a ``compute()`` dict that a scalar logger can take: finite ints and floats (bools
    dropped, strings such as the verdict dropped: log ``verdict_code`` instead).

    Returns
    -------
    dict
        The finite numeric entries, tensors of one element as Python numbers.
    """
    out = {}
    for key, value in values.items():
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            value = value.item()
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            continue
        if math.isfinite(float(value)):
            out[key] = value.item() if isinstance(value, np.generic) else value
    return out


def collapse_options(target: Any, *, thresholds: Any, eps: float, label_information: Optional[str],
                     covariance: str, ridge: float, prefix: str) -> None:
    """Check the options both collapse monitors share (:class:`CollapseMetrics` and the torchmetrics
    ``CollapseMetric``) and set them on ``target``: ``thresholds``, ``eps``, ``label_information``,
    ``covariance``, ``ridge``, ``prefix``.

    Returns
    -------
    None
    """
    from infossl.diagnostics import Thresholds

    target.thresholds = Thresholds.coerce(thresholds)
    target.eps = check_float(eps, "eps", low=0.0)
    if label_information is not None:
        check_choice(label_information, "label_information", ("gaussian", "knn"))
    target.label_information = label_information
    target.covariance = check_choice(covariance, "covariance", ("auto", "full", "shared"))
    target.ridge = check_float(ridge, "ridge", low=0.0)
    if not isinstance(prefix, str):
        raise TypeError(f"prefix must be a string, got {prefix!r}")
    target.prefix = prefix


class CollapseMetrics:
    r"""Streaming collapse metrics and verdict of embeddings, fed batch by batch (torchmetrics style).

    ``update(z)`` adds a batch (m, d) (numpy or torch, any device; float32 stays float32 in the products);
    ``compute()`` returns a flat dict: ``verdict`` (str), ``verdict_code`` (0 healthy, 1 dimensional
    collapse, 2 complete collapse), ``collapse_rank``, ``dim``, ``n`` and every metric of
    :func:`infossl.diagnose` (RankMe, effective and stable rank, NESum, alpha-ReQ, variance fraction, std
    of the l2-normalised rows, dead dimensions, Gaussian entropy, uniformity, ...); metrics that are
    undefined for the data are left out of the dict (the reason is in ``report().reasons``).
    ``report()`` returns the full :class:`~infossl.diagnostics.DiagnosisReport`. The cost of each call is in
    the module docstring.

    Parameters
    ----------
    sample_size : int, default 2048
        Rows kept by a uniform reservoir sample for the pairwise metric (uniformity), the label metrics and
        the label information. Values equal ``infossl.diagnose`` exactly while n <= sample_size.
    thresholds : Thresholds or dict, optional
        Verdict thresholds (:class:`~infossl.diagnostics.Thresholds`).
    eps : float, default 1e-7
        RankMe's epsilon.
    label_information : {"gaussian", "knn", None}, default "gaussian"
        With labels: add ``label_information``, :math:`\hat I(Z;Y)` in nats on the sample
        (:func:`infossl.estimators.label_mutual_information` with this method); None skips it.
    covariance : {"auto", "full", "shared"}, default "auto"
        The class covariances of the Gaussian label information
        (:func:`~infossl.estimators.gaussian_label_mutual_information`): "auto" pools them (the LDA model)
        when a class of the sample has no more rows than dimensions, as with 40 rows a class at d = 64, and
        fits one per class otherwise; the value ``infossl.diagnose`` reports with its defaults.
    ridge : float, default 0
        Added to the class covariances (units of the mean within-class variance) of the Gaussian label
        information.
    prefix : str, default ""
        Prepended to every key of ``compute()`` (e.g. ``"val/"``).
    sync_on_compute : bool, default True
        Under an initialised ``torch.distributed`` process group, ``compute()`` / ``report()`` merge every
        rank's state first (a collective: call it on every rank); the local state is left as it was.
    process_group : optional
        The group to merge over (default: the world).
    random_state : int, Generator or None, default 0
        Seeds the reservoir sample and the sampled labelings of the separability check.

    Examples
    --------
    >>> import numpy as np, infossl
    >>> from infossl.integrations import CollapseMetrics
    >>> z = np.random.default_rng(0).standard_normal((1000, 3)) @ np.random.default_rng(1).standard_normal((3, 8))
    >>> metric = CollapseMetrics()
    >>> for start in range(0, 1000, 128):
    ...     metric.update(z[start:start + 128])
    >>> out = metric.compute()
    >>> out["verdict"], out["collapse_rank"], abs(out["rankme"] - infossl.diagnose(z)["rankme"]) < 1e-5
    ('dimensional-collapse', 3, True)
    """

    def __init__(self, *, sample_size: int = 2048, thresholds: Any = None, eps: float = 1e-7,
                 label_information: Optional[str] = "gaussian", covariance: str = "auto", ridge: float = 0.0,
                 prefix: str = "", sync_on_compute: bool = True, process_group: Any = None,
                 random_state: Union[None, int, np.random.Generator] = 0) -> None:
        self.sample_size = check_int(sample_size, "sample_size", low=0)
        collapse_options(self, thresholds=thresholds, eps=eps, label_information=label_information,
                         covariance=covariance, ridge=ridge, prefix=prefix)
        self.sync_on_compute = bool(sync_on_compute)
        self.process_group = process_group
        self.random_state = random_state
        self.reset()

    # ----------------------------------------------------------------------------------------- state
    def reset(self) -> None:
        """Forget every row (start a new epoch).

        Returns
        -------
        None
        """
        self._acc = MomentAccumulator(sample_size=self.sample_size, random_state=self.random_state)
        self._labels: list = []
        self._labelled: Optional[bool] = None

    @property
    def n(self) -> int:
        """Rows seen since the last reset (this rank only)."""
        return self._acc.n

    @property
    def accumulator(self) -> MomentAccumulator:
        """The underlying :class:`~infossl.diagnostics.MomentAccumulator` (this rank's state)."""
        return self._acc

    def __repr__(self) -> str:
        return f"CollapseMetrics(n={self.n}, dim={self._acc.dim}, sample_size={self.sample_size})"

    def update(self, z: ArrayLike, labels: Optional[ArrayLike] = None) -> None:
        """Add a batch of embeddings (m, d), with optional class labels (m,) (give them on every batch or
        on none). Gradients are not tracked (the batch is detached).

        Returns
        -------
        None
        """
        t = _batch(z, "z")
        has = labels is not None
        if self._labelled is not None and has != self._labelled:
            raise ValueError("labels must be given with every batch or with none; this batch "
                             + ("has labels but earlier ones did not" if has else "has none but earlier ones did"))
        if has:
            lab = torch.from_numpy(check_labels(labels, t.shape[0]))
        self._acc.update(t)
        if has:
            self._labels.append(lab)
        self._labelled = has

    def merge(self, other: "CollapseMetrics") -> "CollapseMetrics":
        """Add ``other``'s rows (as if its batches came after this one's); returns ``self``.

        Returns
        -------
        CollapseMetrics
            ``self``.
        """
        if not isinstance(other, CollapseMetrics):
            raise TypeError(f"other must be a CollapseMetrics, got {type(other).__name__}")
        if other.n and self.n and self._labelled != other._labelled:
            raise ValueError("cannot merge a labelled and an unlabelled CollapseMetrics")
        self._acc.merge(other._acc)
        if other.n:
            self._labels += [lab.to(self._labels[0].device) if self._labels else lab for lab in other._labels]
            self._labelled = other._labelled if self._labelled is None else self._labelled
        return self

    def _all_labels(self) -> Optional[np.ndarray]:
        if not self._labelled:
            return None
        return torch.cat([lab.cpu() for lab in self._labels]).numpy() if self._labels else np.zeros(0, np.int64)

    def sync(self) -> tuple[MomentAccumulator, Optional[np.ndarray]]:
        """Every rank's rows merged (rank order) into a new accumulator, and their labels; the local state is
        untouched. Without a process group of more than one rank: a copy of the local state. A collective.

        Returns
        -------
        tuple
            ``(MomentAccumulator, labels array or None)``.
        """
        acc = _copy_accumulator(self._acc, self.random_state)
        labels = self._all_labels()
        if not _distributed(self.process_group):
            return acc, labels
        import torch.distributed as dist

        acc.all_reduce(self.process_group)
        world = dist.get_world_size(self.process_group)
        gathered: list = [None] * world
        dist.all_gather_object(gathered, (self.n, labels), group=self.process_group)
        labelled = [lab is not None for n, lab in gathered if n > 0]
        if any(labelled) and not all(labelled):
            raise ValueError("some ranks gave labels with their batches and others did not")
        if not any(labelled):
            return acc, None
        return acc, np.concatenate([lab for n, lab in gathered if n > 0])  # rank order, as the moments

    # --------------------------------------------------------------------------------------- results
    def report(self):
        """The :class:`~infossl.diagnostics.DiagnosisReport` of every row seen (all ranks when synced).

        Returns
        -------
        DiagnosisReport
        """
        return self._report()[0]

    def _report(self):
        from infossl.diagnostics import diagnose_statistics

        if self.sync_on_compute:
            acc, labels = self.sync()
        else:
            acc, labels = _copy_accumulator(self._acc, self.random_state), self._all_labels()
        if acc.n < 2:
            raise ValueError(f"compute() needs at least 2 rows; {acc.n} seen since the last reset (call update "
                             "with batches of embeddings first)")
        report = diagnose_statistics(acc, labels=labels, thresholds=self.thresholds, eps=self.eps,
                                     random_state=self.random_state)
        return report, acc, labels

    def compute(self) -> dict:
        """Flat dict of the verdict and metrics (keys prefixed with ``prefix``); see the class docstring.

        Returns
        -------
        dict
            Metric name (with ``prefix``) to value; ``verdict`` is a string.
        """
        return self.compute_with_report()[0]

    def compute_with_report(self) -> tuple[dict, Any]:
        """``(compute(), report())`` from one merge and one computation.

        Returns
        -------
        tuple
            ``(dict, DiagnosisReport)``.
        """
        report, acc, labels = self._report()
        values = report.as_dict()
        values = {"verdict": values.pop("verdict"), "verdict_code": VERDICT_CODES[report.verdict], **values}
        if labels is not None and self.label_information is not None:
            value = self._label_information(acc, labels)
            if value is not None:
                values["label_information"] = value
        return {f"{self.prefix}{k}": v for k, v in values.items() if v is not None}, report

    def _label_information(self, acc: MomentAccumulator, labels: np.ndarray) -> Optional[float]:
        return sample_label_information(acc.sample, labels[acc.sample_index], self.label_information,
                                        covariance=self.covariance, ridge=self.ridge)


def sample_label_information(sample: torch.Tensor, labels: np.ndarray, method: str, *,
                             covariance: str = "auto", ridge: float = 0.0) -> Optional[float]:
    r"""The ``label_information`` entry of a streaming metric: :math:`\hat I(Z;Y)` in nats of the sampled rows
    ``sample`` (s, d) and their labels (s,) by :func:`infossl.estimators.label_mutual_information`.

    Parameters
    ----------
    sample : tensor (s, d)
    labels : array (s,)
    method : {"gaussian", "knn"}
    covariance, ridge
        Options of the Gaussian method (ignored by "knn").

    Returns
    -------
    float or None
        The value; None (with a :class:`~infossl.DegenerateInputWarning` saying why) when it is undefined.
    """
    from infossl.estimators.labels import label_mutual_information

    options = {"covariance": covariance, "ridge": ridge} if method == "gaussian" else {}
    z = sample.detach().cpu().double().numpy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DegenerateInputWarning)
            return float(label_mutual_information(z, labels, method=method, **options))
    except ValueError as exc:
        warn(f"label_information not computed: {exc}", DegenerateInputWarning)
        return None


class ViewInformation:
    r"""Streaming information between two views of the same inputs: the Gaussian :math:`\hat I(Z_1; Z_2)`,
    alignment, the invariance ratio and LiDAR, from the joint moments of the pair.

    ``update(z1, z2)`` adds a batch of paired rows (row i of each is an augmentation of the same input);
    ``compute()`` returns ``mi_views_gaussian`` (nats), ``alignment``, ``invariance_ratio`` and ``lidar``
    with the definitions of ``infossl.diagnose(z, views=[z1, z2])`` (equal to them up to rounding). A
    streaming MI can use only the moments, so it is the Gaussian one: the MI of the Gaussian with the
    views' covariance, far above the truth on curved low-dimensional embeddings; for the
    ``method="auto"`` estimate, ``diagnose``'s ``mi_views``, run :func:`infossl.mutual_information` on a
    sample of pairs.

    .. math:: \hat I = \tfrac12\big[\log\det\hat\Sigma_{11} + \log\det\hat\Sigma_{22} - \log\det\hat\Sigma\big]
              - \tfrac12[c(d_1+d_2) - c(d_1) - c(d_2)]

    on the numerical column space of each view (the Wishart bias correction c of
    :func:`~infossl.estimators.wishart_logdet_bias`); alignment :math:`\frac1n\sum_i\lVert u_i - v_i\rVert^2`
    of the l2-normalised rows (Wang & Isola 2020); the invariance ratio
    :math:`\sum_i \tfrac12\lVert z_{1i} - z_{2i}\rVert^2 / \sum_{i,j}\lVert z_{ji} - \bar z\rVert^2`; LiDAR
    from the between-input covariance :math:`\operatorname{Cov}((z_1+z_2)/2)` and the within-input one
    (Thilak et al. 2023). Cost per call: see the module docstring (the products are (m, 2d)).

    Parameters
    ----------
    ridge : float, default 0
        Added to each view's covariance block, in units of its mean variance, before the log-dets.
    bias_correction : bool, default True
    prefix : str, default ""
    sync_on_compute, process_group
        As in :class:`CollapseMetrics`.
    """

    def __init__(self, *, ridge: float = 0.0, bias_correction: bool = True, prefix: str = "",
                 sync_on_compute: bool = True, process_group: Any = None) -> None:
        self.ridge = check_float(ridge, "ridge", low=0.0)
        self.bias_correction = bool(bias_correction)
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a string, got {prefix!r}")
        self.prefix = prefix
        self.sync_on_compute = bool(sync_on_compute)
        self.process_group = process_group
        self.reset()

    def reset(self) -> None:
        """Forget every pair.

        Returns
        -------
        None
        """
        self._acc = MomentAccumulator(sample_size=0)
        self._align: Optional[torch.Tensor] = None  # 0-d float64 on the batch device: sum ||u - v||^2
        self._d1: Optional[int] = None  # columns of z1 (z2 has the rest of the joint accumulator's)

    @property
    def n(self) -> int:
        """Pairs seen since the last reset (this rank only)."""
        return self._acc.n

    def __repr__(self) -> str:
        return f"ViewInformation(n={self.n}, dim1={self._d1})"

    def update(self, z1: ArrayLike, z2: ArrayLike) -> None:
        """Add a batch of paired views (m, d1) and (m, d2); with d1 != d2 only ``mi_views_gaussian`` is
        computed.

        Returns
        -------
        None
        """
        a, b = _batch(z1, "z1"), _batch(z2, "z2")
        if a.shape[0] != b.shape[0]:
            raise ValueError(f"z1 and z2 must have the same number of rows (pairs); got {a.shape[0]} and "
                             f"{b.shape[0]}")
        if self._d1 is not None and a.shape[1] != self._d1:
            raise ValueError(f"z1 has {a.shape[1]} columns but earlier batches had {self._d1}")
        self._d1 = a.shape[1]
        if a.device != b.device:
            raise ValueError(f"z1 is on {a.device} and z2 on {b.device}; put both views on one device")
        if a.dtype != b.dtype:
            a, b = a.double(), b.double()
        self._acc.update(torch.cat([a, b], dim=1))
        if a.shape[1] != b.shape[1]:
            return  # views of different widths: only the MI between them is defined
        with torch.no_grad():
            ua = torch.nn.functional.normalize(a.double(), dim=1)
            ub = torch.nn.functional.normalize(b.double(), dim=1)
            s = (ua - ub).pow(2).sum()
        self._align = s if self._align is None else self._align + s.to(self._align.device)

    def merge(self, other: "ViewInformation") -> "ViewInformation":
        """Add ``other``'s pairs; returns ``self``.

        Returns
        -------
        ViewInformation
            ``self``.
        """
        if not isinstance(other, ViewInformation):
            raise TypeError(f"other must be a ViewInformation, got {type(other).__name__}")
        if other.n and self.n and other._d1 != self._d1:
            raise ValueError(f"cannot merge views with z1 widths {self._d1} and {other._d1}")
        self._acc.merge(other._acc)
        self._d1 = self._d1 if self._d1 is not None else other._d1
        if other._align is not None:
            self._align = other._align.clone() if self._align is None else \
                self._align + other._align.to(self._align.device)
        return self

    def sync(self) -> tuple[MomentAccumulator, float]:
        """Every rank's pairs merged into a new accumulator, and the summed alignment. A collective.

        Returns
        -------
        tuple
            ``(MomentAccumulator, float)``: the merged moments and the alignment sum.
        """
        acc = _copy_accumulator(self._acc, 0)
        align = 0.0 if self._align is None else float(self._align)
        if not (self.sync_on_compute and _distributed(self.process_group)):
            return acc, align
        import torch.distributed as dist

        acc.all_reduce(self.process_group)
        gathered: list = [None] * dist.get_world_size(self.process_group)
        dist.all_gather_object(gathered, (align, self._d1), group=self.process_group)
        widths = {d1 for _, d1 in gathered if d1 is not None}
        if len(widths) > 1:
            raise ValueError(f"ranks hold views with different z1 widths: {sorted(widths)}")
        if widths:
            self._d1 = widths.pop()  # a rank without pairs learns the split of the joint moments
        return acc, float(sum(a for a, _ in gathered))

    def compute(self) -> dict:
        """``mi_views_gaussian``, ``alignment``, ``invariance_ratio``, ``lidar`` (keys prefixed with
        ``prefix``).

        Peak memory: with fewer pairs than the joint width (n < d1 + d2) the accumulator holds the pairs
        and everything is computed from them (the Gram route of the Gaussian MI, the factored LiDAR of
        :func:`~infossl.diagnostics.spectrum_shape.lidar_from_factors`): a few (n, d1 + d2) float64 copies,
        no d x d matrix (n = 50, d1 = d2 = 10^4: 8 MB per copy). Otherwise a few (d1 + d2)^2 float64 matrices
        on the batch's device.

        Returns
        -------
        dict
            Metric name (with ``prefix``) to float.
        """
        acc, align = self.sync()
        d = self._d1
        if d is None:  # only merged-in state (another rank's): the widths are equal unless told otherwise
            d = acc.dim // 2 if acc.dim else None
        out = view_information_values(acc, align, d, ridge=self.ridge, bias_correction=self.bias_correction)
        return {f"{self.prefix}{k}": v for k, v in out.items()}


def view_information_values(acc: MomentAccumulator, alignment_sum: float, d1: Optional[int], *,
                            ridge: float = 0.0, bias_correction: bool = True) -> dict:
    r"""The values of :meth:`ViewInformation.compute` from the joint moments of the pairs.

    Parameters
    ----------
    acc : MomentAccumulator
        Moments of the joined rows ``[z1, z2]`` (n, d1 + d2) (or any accumulator exposing ``n``, ``dim``,
        ``rows``, ``comoment`` and ``mean``).
    alignment_sum : float
        :math:`\sum_i \lVert u_i - v_i\rVert^2` of the l2-normalised rows (0 when the widths differ).
    d1 : int
        Columns of the first view.
    ridge, bias_correction
        Options of the Gaussian MI (:func:`~infossl.estimators.gaussian_mutual_information`).

    Returns
    -------
    dict
        ``mi_views_gaussian`` (nats) and, for views of equal widths, ``alignment``, ``invariance_ratio`` and
        ``lidar``; values that are undefined for the data are left out (with a warning).
    """
    n = acc.n
    if n < 2:
        raise ValueError(f"compute() needs at least 2 pairs; {n} seen since the last reset")
    d = d1
    rows = acc.rows  # (n, d1 + d2) while fewer pairs than joint columns were seen
    out = {"mi_views_gaussian": _gaussian_mi(acc, rows, d, ridge, bias_correction)}
    if 2 * d != acc.dim:
        return out
    out["alignment"] = alignment_sum / n
    if rows is not None:
        x = rows.double()
        a, b = centred(x[:, :d]), centred(x[:, d:])  # (n, d) each
        delta = x[:, :d].mean(dim=0) - x[:, d:].mean(dim=0)  # (d,)
        tr11, tr22, tr12 = a.pow(2).sum(), b.pow(2).sum(), (a * b).sum()
        # factors: Cov of the per-input means (z1 + z2) / 2 and the within-input scatter
        fb = (a + b) / (2 * math.sqrt(n - 1))  # (n, d)
        fw = torch.cat([(a - b) / math.sqrt(2 * n), delta[None] / math.sqrt(2)])  # (n + 1, d)
    else:
        m2 = acc.comoment  # (2d, 2d) float64 on the batch device
        scale = torch.diagonal(m2).amax().clamp_min(torch.finfo(torch.float64).tiny)
        m2 = m2 / scale  # scale-free quantities below: avoid overflow / underflow
        c11, c22, c12 = m2[:d, :d], m2[d:, d:], m2[:d, d:]
        delta = (acc.mean[:d] - acc.mean[d:]) / scale.sqrt()  # (d,)
        tr11, tr22, tr12 = torch.trace(c11), torch.trace(c22), torch.trace(c12)
    # sums of squares over the 2n rows: within = 1/2 sum ||z1 - z2||^2, total about the grand mean
    diff_ss = tr11 + tr22 - 2 * tr12 + n * delta.pow(2).sum()
    total_ss = tr11 + tr22 + 0.5 * n * delta.pow(2).sum()
    if float(total_ss) > 0:
        out["invariance_ratio"] = float(0.5 * diff_ss / total_ss)
    else:
        warn("all view embeddings are equal: invariance_ratio is left out", DegenerateInputWarning)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DegenerateInputWarning)
        if rows is not None and fb.shape[0] + fw.shape[0] < d:
            value = lidar_from_factors(fb.cpu(), fw.cpu())
        elif rows is not None:
            value = lidar_from_scatter((fb.T @ fb).cpu(), (fw.T @ fw).cpu())
        else:
            between = (c11 + c22 + c12 + c12.T) / (4 * (n - 1))  # Cov of the per-input means
            within = ((c11 + c22 - c12 - c12.T) + n * torch.outer(delta, delta)) / (2 * n)
            value = lidar_from_scatter(between.cpu(), within.cpu())
    if caught:
        warn(f"lidar left out: {caught[0].message}", DegenerateInputWarning)
    else:
        out["lidar"] = float(value)
    return {k: v for k, v in out.items() if not (isinstance(v, float) and math.isnan(v))}


def _gaussian_mi(acc: MomentAccumulator, rows: Optional[torch.Tensor], d: int, ridge: float,
                 bias_correction: bool) -> float:
    """The Gaussian MI between the views by the one kernel of :mod:`infossl.estimators.gaussian`: on the
    held pairs (in memory, the Gram route when wide) or on the joint co-moment."""
    if rows is not None:
        x = rows.double()
        return float(gaussian_mutual_information(x[:, :d], x[:, d:], ridge=ridge,
                                                 bias_correction=bias_correction))
    return float(gaussian_mi_of_moment(acc.comoment, d, acc.n, ridge=ridge, bias_correction=bias_correction,
                                       rtol=None))
