"""Collapse diagnostics for embeddings: spectrum metrics, ideal-representation checks, a verdict and a report.

``diagnose(z, views=None, labels=None)`` returns a :class:`DiagnosisReport` (verdict, metrics table, spectrum,
plot, JSON, markdown). The same computation runs on streamed data through :class:`MomentAccumulator` and
:func:`diagnose_statistics`: :func:`diagnose_path` reads files in chunks (O(d^2) memory) and
:func:`diagnose_checkpoints` runs checkpoints on data and diagnoses a chosen layer (one report per checkpoint). The metric functions are pure (numpy or torch in) and can be used on their own.
"""

from infossl.diagnostics.accumulator import MomentAccumulator
from infossl.diagnostics.diagnosis import diagnose, diagnose_statistics
from infossl.diagnostics.checkpoints import (CheckpointResult, CheckpointTrajectory, diagnose_checkpoints,
                                             iter_checkpoint_reports)
from infossl.diagnostics.ideal import (class_mean_rank, class_means, cover_fraction, invariance_ratio, nc1,
                                       separability_fraction)
from infossl.diagnostics.metrics import (alignment, alpha_req, alpha_req_from_spectrum, covariance_spectrum,
                                         dead_dimensions, dimension_std, effective_rank,
                                         effective_rank_from_spectrum, lidar, lidar_from_scatter, nesum,
                                         nesum_from_spectrum, normalized_std, offdiagonal_energy, rankme,
                                         rankme_from_spectrum, singular_values, stable_rank,
                                         stable_rank_from_spectrum, uniformity, variance_fraction)
from infossl.diagnostics.report import DiagnosisReport
from infossl.diagnostics.stream import accumulate_path, diagnose_path
from infossl.diagnostics.verdict import Thresholds, collapse_rank

__all__ = [
    "CheckpointResult",
    "CheckpointTrajectory",
    "DiagnosisReport",
    "MomentAccumulator",
    "Thresholds",
    "accumulate_path",
    "alignment",
    "alpha_req",
    "alpha_req_from_spectrum",
    "class_mean_rank",
    "class_means",
    "collapse_rank",
    "covariance_spectrum",
    "cover_fraction",
    "dead_dimensions",
    "diagnose",
    "diagnose_checkpoints",
    "diagnose_path",
    "diagnose_statistics",
    "dimension_std",
    "effective_rank",
    "effective_rank_from_spectrum",
    "invariance_ratio",
    "iter_checkpoint_reports",
    "lidar",
    "lidar_from_scatter",
    "nc1",
    "nesum",
    "nesum_from_spectrum",
    "normalized_std",
    "offdiagonal_energy",
    "rankme",
    "rankme_from_spectrum",
    "separability_fraction",
    "singular_values",
    "stable_rank",
    "stable_rank_from_spectrum",
    "uniformity",
    "variance_fraction",
]
