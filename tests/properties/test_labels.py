"""Every label argument follows the one rule of ``infossl._validation.check_labels``: the same inputs are
accepted and refused, with the same message, whichever public function receives them."""

import numpy as np
import pytest

from infossl import diagnose, label_mutual_information
from infossl.diagnostics.ideal import class_means, nc1
from infossl.integrations.streaming_metrics import CollapseMetrics
from infossl.training.probe import linear_probe

N = 40
Z = np.random.default_rng(0).standard_normal((N, 3))


def _collapse_metrics(z, labels):
    CollapseMetrics().update(z, labels)


ENTRY_POINTS = {
    "label_mutual_information": lambda z, y: label_mutual_information(z, y, method="gaussian"),
    "diagnose": lambda z, y: diagnose(z, labels=y),
    "class_means": class_means,
    "nc1": nc1,
    "CollapseMetrics.update": _collapse_metrics,
    "linear_probe": lambda z, y: linear_probe(z, y, {}),
}
BAD = {
    "bool": ((np.arange(N) % 2).astype(bool), TypeError, "got boolean values"),
    "strings": (np.array(["a", "b"])[np.arange(N) % 2], TypeError, "got string values"),
    "fractional": (np.arange(N) % 2 + 0.5, TypeError, "non-integer values"),
    "nan": (np.where(np.arange(N) == 3, np.nan, np.arange(N) % 2), ValueError, r"1 NaN or infinite"),
    "short": (np.arange(N - 1) % 2, ValueError, rf"must have shape \({N},\), one entry per row"),
    "column": ((np.arange(N) % 2).reshape(-1, 1), ValueError, "must be 1-D"),
}


@pytest.mark.parametrize("kind", sorted(BAD))
@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_the_same_labels_are_refused_everywhere_with_the_same_message(entry, kind):
    labels, error, message = BAD[kind]
    with pytest.raises(error, match=message):
        ENTRY_POINTS[entry](Z, labels)


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_integer_valued_floats_are_read_as_the_integers(entry):
    ints = np.arange(N) % 2
    ENTRY_POINTS[entry](Z, ints.astype(float))  # accepted everywhere
    if entry == "class_means":
        a, b = class_means(Z, ints), class_means(Z, ints.astype(np.float32))
        assert a[0].tolist() == b[0].tolist() and np.array_equal(a[1], b[1])
