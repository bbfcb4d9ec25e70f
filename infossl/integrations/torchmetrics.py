r"""infossl's monitors as ``torchmetrics.Metric`` subclasses: ``MetricCollection``, ``.to(device)``,
``state_dict``, ``merge_state`` and the DDP synchronisation of torchmetrics, and Lightning's
``self.log(name, metric)`` (with ``key=``) or ``self.log_dict(metric.compute())``.

* :class:`CollapseMetric`: the verdict and collapse metrics of :func:`infossl.diagnose` (and the label
  metrics with labels), the same numbers as ``diagnose`` on the same rows;
* :class:`ViewInformationMetric`: the information between two views of
  :class:`~infossl.integrations.ViewInformation`;
* :class:`LinearProbeAccuracy` and :class:`KNNAccuracy`: the online probes of
  :mod:`infossl.integrations.online` as metrics.

Needs ``torchmetrics`` (``pip install torchmetrics``, or ``pip install "infossl[torchmetrics]"``); nothing
else in infossl imports this module, and :class:`~infossl.integrations.CollapseMetrics` /
:class:`~infossl.integrations.ViewInformation` do the same work without it.

States are sums, registered with ``add_state(..., dist_reduce_fx="sum")``: the row count, the column sums
:math:`\sum_i z_i` and the Gram sum :math:`\sum_i z_i z_i^\top` (float64, on the metric's device), and the
same for the l2-normalised rows; so the synchronisation of torchmetrics (an all-reduce) and
``merge_state`` give the moments of the union of the rows exactly. The pairwise and label metrics read a
uniform sample of ``sample_size`` rows kept by bottom-k sampling: each row draws a uniform key and the
``sample_size`` rows with the smallest keys are kept (``dist_reduce_fx="cat"``, pruned again at compute),
which is a uniform sample of the union after any merge; while at most ``sample_size`` rows were seen every
row is kept and the values equal ``diagnose`` on those rows. The covariance comes from the raw sums
:math:`(\sum z z^\top - \bar z\sum z^\top)/(n-1)`: its relative rounding error is about
:math:`10^{-16}\,\lVert\bar z\rVert^2/\lambda` for an eigenvalue :math:`\lambda`, harmless unless the
embeddings' mean is :math:`10^{5}` or more standard deviations from 0. Each update costs one (m, d)
float64 product on the batch's device (O(m d^2)); the state is O(d^2 + s d) memory.

States are allocated on the first update (their shape is the embedding width); pass ``dim=`` to allocate
them at construction, which a DDP rank that may see no batch needs (every rank must hold the states the
all-reduce sums). Calling the metric (``metric(z)``, torchmetrics' ``forward``) only adds the batch and
returns None: a per-batch diagnosis would cost a d x d eigendecomposition on every step.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch

from infossl._validation import check_float, check_int, check_labels
from infossl.diagnostics.accumulator import MomentAccumulator
from infossl.integrations.online import KNNClassifier, OnlineLinearProbe
from infossl.integrations.streaming_metrics import (VERDICT_CODES, collapse_options, numeric_metrics,
                                                   sample_label_information, view_information_values)

try:
    from torchmetrics import Metric
    from torchmetrics.utilities.data import dim_zero_cat
except ImportError:  # pragma: no cover - depends on the environment
    Metric = None

__all__ = ["CollapseMetric", "KNNAccuracy", "LinearProbeAccuracy", "ViewInformationMetric"]

_MISSING = ("{name} needs torchmetrics: pip install torchmetrics (or pip install 'infossl[torchmetrics]'); "
            "infossl.integrations.{fallback} does the same work without it")


def _require(name: str, fallback: str) -> None:
    if Metric is None:
        raise ImportError(_MISSING.format(name=name, fallback=fallback))


def _rows(z: Any, name: str) -> torch.Tensor:
    """A detached 2-D floating tensor (m, d) of a batch; (m,) is read as (m, 1)."""
    t = z.detach() if isinstance(z, torch.Tensor) else torch.as_tensor(np.asarray(z))
    if not (t.is_floating_point()):
        t = t.double()
    if t.ndim == 1:
        t = t.reshape(-1, 1)
    if t.ndim != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D batch (rows, dim); got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"{name} holds {bad} NaN or infinite values; the encoder has diverged")
    return t


def _cat(value: Any, like: torch.Tensor) -> torch.Tensor:
    """A list state (a list of tensors before a sync, one tensor after) as one tensor."""
    if isinstance(value, torch.Tensor):
        return value
    if not value:
        return like.new_zeros((0,) + tuple(like.shape[1:]))
    return dim_zero_cat(value)


def _plain_states(metric: Any) -> None:
    """Replace the states that are inference tensors by normal copies, outside ``torch.inference_mode``.

    Lightning runs validation hooks under inference mode, so states reset or allocated there are inference
    tensors, which cannot be updated in place (or fed to in-place work) once inference mode is left."""
    if torch.is_inference_mode_enabled():
        return
    for name in metric._defaults:
        value = getattr(metric, name)
        if isinstance(value, torch.Tensor) and value.is_inference():
            setattr(metric, name, value.clone())
        elif isinstance(value, list) and any(v.is_inference() for v in value):
            setattr(metric, name, [v.clone() if v.is_inference() else v for v in value])


class _SummedMoments(MomentAccumulator):
    """A read-only :class:`MomentAccumulator` over summed moments, for :func:`diagnose_statistics`: the count,
    column sums and Gram sum of the rows and of their l2-normalised versions, and a row sample."""

    def __init__(self, n: int, total: torch.Tensor, gram: torch.Tensor, unit_total: torch.Tensor,
                 unit_squares: torch.Tensor, sample: torch.Tensor, sample_size: int) -> None:
        super().__init__(total.shape[0], sample_size=sample_size)
        self._count, self._total, self._gram = n, total, gram
        self._unit_total, self._unit_squares, self._rowsample = unit_total, unit_squares, sample

    @property
    def n(self) -> int:
        return self._count

    @property
    def rows(self) -> Optional[torch.Tensor]:
        return None  # the dense route: the d x d sums exist

    @property
    def mean(self) -> torch.Tensor:
        return self._total / self._count

    @property
    def comoment(self) -> torch.Tensor:
        m2 = self._gram - torch.outer(self._total, self._total) / self._count
        return 0.5 * (m2 + m2.T)

    @property
    def covariance(self) -> torch.Tensor:
        return self.comoment / (self._count - 1)

    @property
    def second_moment(self) -> torch.Tensor:
        return 0.5 * (self._gram + self._gram.T) / self._count

    @property
    def normalized_mean(self) -> torch.Tensor:
        return self._unit_total / self._count

    @property
    def normalized_var(self) -> torch.Tensor:
        n = self._count
        return ((self._unit_squares - self._unit_total.pow(2) / n) / (n - 1)).clamp_min(0)

    @property
    def sample(self) -> torch.Tensor:
        return self._rowsample

    @property
    def sample_index(self) -> np.ndarray:
        return np.arange(self._rowsample.shape[0])

    def update(self, chunk: Any) -> "MomentAccumulator":  # noqa: D102 - refused
        raise TypeError("summed moments are read-only")

    def merge(self, other: Any) -> "MomentAccumulator":  # noqa: D102 - refused
        raise TypeError("summed moments are read-only")


class _SumsMetric(Metric if Metric is not None else object):
    """Metric with lazily allocated moment sums of rows of width ``dim`` (see the module docstring)."""

    full_state_update = False
    is_differentiable = False
    higher_is_better = None
    _SUM_STATES: tuple = ()

    def _dim_shapes(self, dim: int) -> dict:
        raise NotImplementedError

    def _allocate(self, dim: int) -> None:
        for name, shape in self._dim_shapes(dim).items():
            zeros = torch.zeros(shape, dtype=torch.float64, device=self.device)
            self.add_state(name, zeros, dist_reduce_fx="sum", persistent=True)
        self._width = dim

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args: Any, **kwargs: Any) -> None:
        # a fresh metric learns the width from the saved sums before torchmetrics copies them in
        key = prefix + "total"
        if getattr(self, "_width", None) is None and key in state_dict:
            self._allocate(self._width_of(state_dict[key]))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _width_of(self, total: torch.Tensor) -> int:
        return int(total.shape[0])

    def merge_state(self, incoming_state: Any) -> None:
        """Add another metric's (or state dict's) rows to this one; a metric that has seen no batch yet
        takes the width from the incoming sums first (torchmetrics merges only the states that exist).

        Returns
        -------
        None
        """
        incoming = incoming_state.metric_state if isinstance(incoming_state, Metric) else incoming_state
        if getattr(self, "_width", None) is None and "total" in incoming:
            self._allocate(self._width_of(incoming["total"]))
        if getattr(self, "_labelled", None) is None:
            self._labelled = getattr(incoming_state, "_labelled", None)
        super().merge_state(incoming_state)

    def compute(self) -> Any:
        """The metrics of every row seen (all ranks, synchronised by torchmetrics).

        Returns
        -------
        dict of str to tensor, or tensor
            0-d float64 tensors keyed by (prefixed) name; the one value named by ``key`` when it is set.
        """
        # out of inference mode (Lightning's validation hooks run in it): the diagnosis does in-place work,
        # partly on worker threads, which inference tensors refuse
        with torch.inference_mode(False):
            return self._compute()

    def _compute(self) -> Any:
        raise NotImplementedError

    def forward(self, *args: Any, **kwargs: Any) -> None:
        """Add the batch (as :meth:`update`); returns None (no per-batch value, see the module docstring).

        Returns
        -------
        None
        """
        self.update(*args, **kwargs)


class CollapseMetric(_SumsMetric):
    r"""The verdict and collapse metrics of :func:`infossl.diagnose` as a ``torchmetrics.Metric``.

    ``update(z, labels=None)`` adds a batch (m, d) (labels (m,) optional, on every batch or on none);
    ``compute()`` returns a dict of 0-d float64 tensors: ``verdict_code`` (0 healthy, 1 dimensional
    collapse, 2 complete collapse), ``collapse_rank``, ``n``, ``dim`` and every numeric metric of
    ``diagnose`` (RankMe, effective rank, ..., and with labels NC1, the label information, ...), keys
    prefixed with ``prefix``; with ``key=`` it returns that one value instead, for ``self.log(name,
    metric)``. :meth:`report` gives the full :class:`~infossl.diagnostics.DiagnosisReport` (the verdict
    string, reasons, notes). States, sampling and cost: see the module docstring.

    Parameters
    ----------
    dim : int, optional
        Embedding width; allocates the states now (needed on DDP ranks that may see no batch).
    sample_size : int, default 2048
        Rows kept for the pairwise (uniformity) and label metrics; the values equal ``diagnose``'s while
        at most this many rows were seen.
    thresholds, eps
        As in :func:`infossl.diagnose`.
    label_information, covariance, ridge
        As in :class:`~infossl.integrations.CollapseMetrics` (``covariance="auto"`` pools the class
        covariances when a class has no more rows than dimensions).
    prefix : str, default ""
    key : str, optional
        Make ``compute()`` return only this entry (without the prefix), e.g. ``"rankme"``.
    random_state : int, default 0
        Seeds the sample keys (offset by the rank under DDP) and the sampled labelings.
    **kwargs
        Passed to ``torchmetrics.Metric`` (``sync_on_compute``, ``process_group``, ...).

    Examples
    --------
    >>> import torch, infossl
    >>> z = torch.randn(500, 3, dtype=torch.float64) @ torch.randn(3, 8, dtype=torch.float64)
    >>> metric = CollapseMetric()
    >>> for batch in z.split(128):
    ...     metric.update(batch)
    >>> out = metric.compute()
    >>> int(out["collapse_rank"]), abs(float(out["rankme"]) - infossl.diagnose(z)["rankme"]) < 1e-6
    (3, True)
    """

    def __init__(self, *, dim: Optional[int] = None, sample_size: int = 2048, thresholds: Any = None,
                 eps: float = 1e-7, label_information: Optional[str] = "gaussian", covariance: str = "auto",
                 ridge: float = 0.0, prefix: str = "", key: Optional[str] = None, random_state: int = 0,
                 **kwargs: Any) -> None:
        _require("CollapseMetric", "CollapseMetrics")
        super().__init__(**kwargs)
        self.sample_size = check_int(sample_size, "sample_size", low=2)
        collapse_options(self, thresholds=thresholds, eps=eps, label_information=label_information,
                         covariance=covariance, ridge=ridge, prefix=prefix)
        if key is not None and not isinstance(key, str):
            raise TypeError(f"key must be a metric name (a string) or None, got {key!r}")
        self.key = key
        self.random_state = check_int(random_state, "random_state", low=0)
        self._width: Optional[int] = None
        self._labelled: Optional[bool] = None
        self._generator: Optional[torch.Generator] = None
        self._last_report: Any = None
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum", persistent=True)
        for name in ("sample_keys", "sample_rows", "sample_labels"):
            self.add_state(name, [], dist_reduce_fx="cat", persistent=True)
        if dim is not None:
            self._allocate(check_int(dim, "dim", low=1))

    def _dim_shapes(self, dim: int) -> dict:
        return {"total": (dim,), "gram": (dim, dim), "unit_total": (dim,), "unit_squares": (dim,)}

    def _allocate(self, dim: int) -> None:
        super()._allocate(dim)
        self._empty_samples()

    def _empty_samples(self) -> None:
        # torchmetrics sends an empty list state as a 1-D float32 tensor, which cannot be gathered with the
        # other ranks' (s, d) float64 rows: a rank that saw no batch sends typed empty tensors instead
        d = self._width
        self.sample_keys = [torch.zeros(0, dtype=torch.float64, device=self.device)]
        self.sample_rows = [torch.zeros((0, d), dtype=torch.float64, device=self.device)]
        self.sample_labels = [torch.zeros(0, dtype=torch.long, device=self.device)]

    def _keys(self, m: int) -> torch.Tensor:
        if self._generator is None:
            import torch.distributed as dist

            rank = dist.get_rank() if dist.is_available() and dist.is_initialized() else 0
            self._generator = torch.Generator().manual_seed(self.random_state * 65537 + rank)
        return torch.rand(m, generator=self._generator, dtype=torch.float64).to(self.device)

    def reset(self) -> None:
        """Forget every row (the states go back to zeros; the sample keys start again from the seed).

        Returns
        -------
        None
        """
        super().reset()
        self._generator = None
        self._labelled = None
        if self._width is not None:
            self._empty_samples()

    def update(self, z: Any, labels: Any = None) -> None:
        """Add a batch of embeddings (m, d) and optionally their class labels (m,).

        Returns
        -------
        None
        """
        _plain_states(self)
        t = _rows(z, "z").to(self.device)
        m, d = t.shape
        if self._width is None:
            self._allocate(d)
        elif d != self._width:
            raise ValueError(f"z has {d} columns but the metric holds {self._width}-dimensional embeddings")
        has = labels is not None
        if self._labelled is not None and has != self._labelled:
            raise ValueError("labels must be given with every batch or with none; this batch " + (
                "has labels but earlier ones did not" if has else "has none but earlier ones did"))
        self._labelled = has
        x = t.double()
        self.count += m
        self.total += x.sum(dim=0)
        self.gram += x.T @ x
        norms = torch.linalg.vector_norm(x, dim=1, keepdim=True)  # (m, 1); a zero row stays zero
        u = x / torch.where(norms > 0, norms, torch.ones_like(norms))
        self.unit_total += u.sum(dim=0)
        self.unit_squares += u.pow(2).sum(dim=0)
        keys = torch.cat([_cat(self.sample_keys, x[:0, 0]), self._keys(m)])
        rows = torch.cat([_cat(self.sample_rows, x[:0]), x])
        keep = self._bottom(keys)
        self.sample_keys, self.sample_rows = [keys[keep]], [rows[keep]]
        if has:  # unlabelled batches leave the label state empty
            lab = torch.from_numpy(check_labels(labels, m)).to(self.device)
            labs = torch.cat([_cat(self.sample_labels, lab[:0]), lab])
            self.sample_labels = [labs[keep]]

    def _bottom(self, keys: torch.Tensor) -> torch.Tensor:
        """Positions of the ``sample_size`` smallest keys, in their original order (the rows' order)."""
        if keys.shape[0] <= self.sample_size:
            return torch.arange(keys.shape[0], device=keys.device)
        return torch.sort(torch.topk(keys, self.sample_size, largest=False).indices).values

    def _moments(self) -> tuple[_SummedMoments, Optional[np.ndarray]]:
        _plain_states(self)
        n = int(round(float(self.count)))
        if n < 2 or self._width is None:
            raise ValueError(f"compute() needs at least 2 rows; {n} seen since the last reset (call update "
                             "with batches of embeddings first)")
        keys = _cat(self.sample_keys, self.total[:0])
        keep = self._bottom(keys)  # after a sync: several ranks' samples, pruned to one uniform sample
        sample = _cat(self.sample_rows, self.gram[:0])[keep]
        labels = _cat(self.sample_labels, self.total[:0].long())
        moments = _SummedMoments(n, self.total, self.gram, self.unit_total, self.unit_squares, sample.cpu(),
                                 self.sample_size)
        if labels.shape[0] == 0:
            return moments, None
        if labels.shape[0] != keys.shape[0]:  # merged from a labelled and an unlabelled metric (or rank)
            raise ValueError(f"{labels.shape[0]} of the {keys.shape[0]} sampled rows have labels: give labels "
                             "with every batch on every rank, or with none")
        return moments, labels[keep].cpu().numpy()


    def _compute(self) -> Any:
        from infossl.diagnostics import diagnose_statistics

        moments, labels = self._moments()
        full_labels = None
        if labels is not None:
            # diagnose reads the labels of the sampled rows (positions sample_index = 0..s-1); the other
            # n - s rows' labels are never read, so they repeat the first one to give n valid labels
            full_labels = np.full(moments.n, labels[0], dtype=labels.dtype)
            full_labels[:labels.size] = labels
        report = diagnose_statistics(moments, labels=full_labels, thresholds=self.thresholds, eps=self.eps,
                                     random_state=self.random_state)
        self._last_report = report
        values = report.as_dict()
        values["verdict_code"] = VERDICT_CODES[report.verdict]
        if labels is not None and self.label_information is not None:
            value = sample_label_information(moments.sample, labels, self.label_information,
                                             covariance=self.covariance, ridge=self.ridge)
            if value is not None:
                values["label_information"] = value
        numbers = numeric_metrics(values)
        if self.key is not None:
            if self.key not in numbers:
                raise KeyError(f"key={self.key!r} is not among the computed metrics: {sorted(numbers)}")
            return torch.tensor(float(numbers[self.key]), dtype=torch.float64, device=self.device)
        return {f"{self.prefix}{k}": torch.tensor(float(v), dtype=torch.float64, device=self.device)
                for k, v in numbers.items()}

    def report(self) -> Any:
        """The full :class:`~infossl.diagnostics.DiagnosisReport` of the rows seen (computes if needed).

        Returns
        -------
        DiagnosisReport
        """
        self.compute()  # torchmetrics syncs and caches; the report is kept by the computation
        return self._last_report


class ViewInformationMetric(_SumsMetric):
    r"""The information between two views, :class:`~infossl.integrations.ViewInformation`, as a
    ``torchmetrics.Metric``: ``update(z1, z2)`` adds paired rows; ``compute()`` returns
    ``mi_views_gaussian`` (nats), ``alignment``, ``invariance_ratio`` and ``lidar`` as 0-d float64 tensors
    (the definitions and the numbers of ``infossl.diagnose(z, views=[z1, z2])``), or the entry ``key``.
    States: the sums of the joined rows ``[z1, z2]`` (2d columns, so O(4 d^2) memory) and of
    :math:`\lVert u_i - v_i\rVert^2` of the l2-normalised rows.

    Parameters
    ----------
    dim : int, optional
        Width of each view (equal widths); allocates the states now (for DDP ranks that may see no batch).
    ridge : float, default 0
    bias_correction : bool, default True
        Options of the Gaussian MI, as in :class:`~infossl.integrations.ViewInformation`.
    prefix : str, default ""
    key : str, optional
        Make ``compute()`` return only this entry (e.g. ``"mi_views_gaussian"``).
    **kwargs
        Passed to ``torchmetrics.Metric``.
    """

    def __init__(self, *, dim: Optional[int] = None, ridge: float = 0.0, bias_correction: bool = True,
                 prefix: str = "", key: Optional[str] = None, **kwargs: Any) -> None:
        _require("ViewInformationMetric", "ViewInformation")
        super().__init__(**kwargs)
        self.ridge = check_float(ridge, "ridge", low=0.0)
        self.bias_correction = bool(bias_correction)
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a string, got {prefix!r}")
        self.prefix, self.key = prefix, key
        self._width: Optional[int] = None
        self.add_state("count", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum", persistent=True)
        self.add_state("alignment_sum", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum",
                       persistent=True)
        if dim is not None:
            self._allocate(check_int(dim, "dim", low=1))

    def _dim_shapes(self, dim: int) -> dict:
        return {"total": (2 * dim,), "gram": (2 * dim, 2 * dim), "unit_total": (2 * dim,),
                "unit_squares": (2 * dim,)}

    def _width_of(self, total: torch.Tensor) -> int:
        return int(total.shape[0]) // 2

    def update(self, z1: Any, z2: Any) -> None:
        """Add a batch of paired views (m, d) and (m, d).

        Returns
        -------
        None
        """
        _plain_states(self)
        a, b = _rows(z1, "z1").to(self.device).double(), _rows(z2, "z2").to(self.device).double()
        if a.shape != b.shape:
            raise ValueError("z1 and z2 must have the same shape (pairs of equal width); got "
                             f"{tuple(a.shape)} and {tuple(b.shape)}")
        if self._width is None:
            self._allocate(a.shape[1])
        elif a.shape[1] != self._width:
            raise ValueError(f"the views have {a.shape[1]} columns but the metric holds {self._width}")
        x = torch.cat([a, b], dim=1)  # (m, 2d)
        self.count += x.shape[0]
        self.total += x.sum(dim=0)
        self.gram += x.T @ x
        ua = torch.nn.functional.normalize(a, dim=1)
        ub = torch.nn.functional.normalize(b, dim=1)
        self.alignment_sum += (ua - ub).pow(2).sum()


    def _compute(self) -> Any:
        _plain_states(self)
        n = int(round(float(self.count)))
        if n < 2 or self._width is None:
            raise ValueError(f"compute() needs at least 2 pairs; {n} seen since the last reset")
        empty = self.total[:0]
        moments = _SummedMoments(n, self.total, self.gram, empty, empty, self.gram[:0], 0)
        values = view_information_values(moments, float(self.alignment_sum), self._width, ridge=self.ridge,
                                         bias_correction=self.bias_correction)
        if self.key is not None:
            if self.key not in values:
                raise KeyError(f"key={self.key!r} is not among the computed metrics: {sorted(values)}")
            return torch.tensor(values[self.key], dtype=torch.float64, device=self.device)
        return {f"{self.prefix}{k}": torch.tensor(v, dtype=torch.float64, device=self.device)
                for k, v in values.items()}


class _AccuracyMetric(Metric if Metric is not None else object):
    """Counts of correct and of scored rows (``dist_reduce_fx="sum"``) and their ratio: the state and the
    ``update`` / ``compute`` of both online accuracies; a subclass gives ``_score(z, y) -> (correct, seen)``."""

    full_state_update = False
    is_differentiable = False
    higher_is_better = True

    def _add_counts(self) -> None:
        self.add_state("correct", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum", persistent=True)
        self.add_state("seen", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum", persistent=True)

    def _score(self, z: torch.Tensor, y: torch.Tensor) -> tuple[int, int]:
        raise NotImplementedError

    def update(self, z: torch.Tensor, y: torch.Tensor) -> None:
        """Score a validation batch: count the rows whose predicted class is ``y``.

        Returns
        -------
        None
        """
        correct, seen = self._score(z, y)
        _plain_states(self)
        self.correct += correct
        self.seen += seen

    def compute(self) -> torch.Tensor:
        """Accuracy over the scored rows.

        Returns
        -------
        tensor
            0-d float64 in [0, 1] (NaN-free: raises when nothing was scored).
        """
        if float(self.seen) == 0:
            raise ValueError("compute() needs at least one scored row; call update(z, y) first")
        return self.correct / self.seen


class LinearProbeAccuracy(_AccuracyMetric):
    """Accuracy of an online linear probe (:class:`~infossl.integrations.online.OnlineLinearProbe`) as a
    ``torchmetrics.Metric``.

    ``train_step(z, y)`` trains the probe on a batch of detached training embeddings (call it from your
    training step; it is not part of the metric state); ``update(z, y)`` scores a validation batch and
    ``compute()`` returns the accuracy (0-d float64 tensor) over the batches since the last reset. States:
    the counts of correct and of scored rows (``dist_reduce_fx="sum"``). The probe (an ``nn.Module``, a
    child of this metric) moves with ``.to(device)`` and is saved in ``state_dict``.

    Parameters
    ----------
    dim : int
        Embedding width.
    num_classes : int
    lr, weight_decay
        Of the probe's own Adam optimiser.
    **kwargs
        Passed to ``torchmetrics.Metric``.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> y = torch.arange(400) % 2
    >>> z = torch.randn(400, 4, generator=g) + 4.0 * y[:, None]
    >>> metric = LinearProbeAccuracy(dim=4, num_classes=2, lr=0.05)
    >>> for _ in range(50):
    ...     _ = metric.train_step(z, y)
    >>> metric.update(z, y)
    >>> float(metric.compute()) > 0.95
    True
    """

    def __init__(self, dim: int, num_classes: int, *, lr: float = 1e-3, weight_decay: float = 1e-6,
                 **kwargs: Any) -> None:
        _require("LinearProbeAccuracy", "online.OnlineLinearProbe")
        super().__init__(**kwargs)
        self.probe = OnlineLinearProbe(dim, num_classes, lr=lr, weight_decay=weight_decay)
        self._add_counts()

    def train_step(self, z: torch.Tensor, y: torch.Tensor) -> float:
        """One optimiser step of the probe on detached ``z`` (m, dim) and labels ``y`` (m,).

        Returns
        -------
        float
            The batch's cross-entropy before the step.
        """
        return self.probe.train_step(z, y)

    def _score(self, z: torch.Tensor, y: torch.Tensor) -> tuple[int, int]:
        return self.probe.score(z, y)


class KNNAccuracy(_AccuracyMetric):
    r"""Weighted k-NN accuracy (:class:`~infossl.integrations.online.KNNClassifier`: cosine similarity,
    k = 20, votes :math:`e^{s/\tau}`, Wu et al. 2018) as a ``torchmetrics.Metric``.

    Fill the feature bank with training embeddings (:meth:`add_to_bank` from the training step, or
    :meth:`set_bank` once), then ``update(z, y)`` with validation batches; ``compute()`` returns the
    accuracy.
    States: correct and scored counts (``dist_reduce_fx="sum"``); the bank is not a state (each rank
    classifies against its own bank; gather the bank yourself for a global one).

    Parameters
    ----------
    k : int, default 20
    temperature : float, default 0.07
    bank_size : int, default 65536
        Rows the bank keeps (the newest).
    **kwargs
        Passed to ``torchmetrics.Metric``.
    """

    def __init__(self, *, k: int = 20, temperature: float = 0.07, bank_size: int = 65536,
                 **kwargs: Any) -> None:
        _require("KNNAccuracy", "online.KNNClassifier")
        super().__init__(**kwargs)
        self.classifier = KNNClassifier(k=k, temperature=temperature, bank_size=bank_size)
        self._add_counts()

    def add_to_bank(self, z: torch.Tensor, y: torch.Tensor) -> None:
        """Append training embeddings and labels to the bank (the newest ``bank_size`` are kept).

        Returns
        -------
        None
        """
        self.classifier.add(z, y)

    def set_bank(self, z: torch.Tensor, y: torch.Tensor) -> None:
        """Replace the bank by ``z`` (n, d) and labels ``y`` (n,).

        Returns
        -------
        None
        """
        self.classifier.clear()
        self.classifier.add(z, y)

    def _score(self, z: torch.Tensor, y: torch.Tensor) -> tuple[int, int]:  # against the bank
        return self.classifier.score(z, y)

