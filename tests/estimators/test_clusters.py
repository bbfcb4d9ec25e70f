"""Tests of the cluster-code MI estimator (infossl.estimators.clusters)."""
import math

import numpy as np
import pytest
import torch

from infossl.estimators.clusters import cluster_mutual_information
from infossl.estimators.nonlinear import NonlinearResult, discrete_mutual_information

FAST = dict(n_clusters=4, max_epochs=40, patience=8, hidden=32, shared=False, learning_curve=False)


def _label_channel(n: int, keep: float, seed: int, classes: int = 4, spread: float = 4.0):
    """Labels a uniform, b = a with probability keep else uniform; x, y: Gaussian clusters of the labels."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, classes, n)
    b = np.where(rng.random(n) < keep, a, rng.integers(0, classes, n))
    centres = spread * rng.standard_normal((classes, 6))
    x = centres[a] + rng.standard_normal((n, 6))
    y = centres[b] + rng.standard_normal((n, 6))
    p_same = keep + (1 - keep) / classes
    p_other = (1 - keep) / classes
    truth = p_same * math.log(p_same * classes) + (1 - p_same) * math.log(p_other * classes) if keep < 1 \
        else math.log(classes)
    return x, y, a, b, truth


def test_codes_of_separated_classes_read_the_label_information():
    x, y, a, b, truth = _label_channel(3000, 0.8, 0)
    res = cluster_mutual_information(x, y, details=True, random_state=0, **FAST)
    assert isinstance(res, NonlinearResult) and res.mode == "clusters"
    # truth 0.799; the held-out plug-in on 1200 rows has sd about 0.03 (three sd: 0.09)
    assert abs(res.value - truth) < 0.1
    assert res.interval[0] <= res.value <= res.interval[1]
    assert res.n_fit + res.n_stop + res.n_heldout == 3000


def test_independent_pair_reads_near_zero():
    x, y, _, _, _ = _label_channel(2000, 0.0, 1)
    assert abs(cluster_mutual_information(x, y, random_state=0, **FAST)) < 0.05


def test_deterministic_and_global_generators_untouched():
    x, y, *_ = _label_channel(1000, 0.8, 2)
    torch.manual_seed(11)
    np.random.seed(12)
    a = cluster_mutual_information(x, y, random_state=3, **FAST)
    torch_next, np_next = torch.rand(1), np.random.rand()
    torch.manual_seed(11)
    np.random.seed(12)
    assert torch.equal(torch_next, torch.rand(1)) and np_next == np.random.rand()
    b = cluster_mutual_information(x, y, random_state=3, **FAST)
    c = cluster_mutual_information(x, y, random_state=4, **FAST)
    assert a == b and a != c


def test_value_is_read_on_the_heldout_rows_only():
    x, y, *_ = _label_channel(1500, 0.8, 3)
    res = cluster_mutual_information(x, y, details=True, random_state=5, **FAST)
    assert res.n_heldout == 1500 - 900 and res.value > 0.5
    # the split is the seed's first permutation: break the pairing on the held-out rows only
    held = np.random.default_rng(5).permutation(1500)[900:]
    y2 = y.copy()
    y2[held] = y[np.random.default_rng(0).permutation(held)]
    res2 = cluster_mutual_information(x, y2, details=True, random_state=5, **FAST)
    # the same codes (nothing fitted saw those rows) and the same training reading, but no held-out MI
    assert res2.info["mi_train"] == pytest.approx(res.info["mi_train"])
    assert abs(res2.value) < 0.05
    # while breaking it on training rows instead leaves the held-out rows' value in place
    y3 = y.copy()
    train = np.random.default_rng(5).permutation(1500)[225:900]
    y3[train[:100]] = y[train[:100][::-1]]
    assert abs(cluster_mutual_information(x, y3, random_state=5, **FAST) - res.value) < 0.15


def test_invariant_to_increasing_maps_of_each_coordinate_with_ranks():
    x, y, *_ = _label_channel(1000, 0.8, 4)
    a = cluster_mutual_information(x, y, ranks=True, **FAST)
    # the fitting rows' normal scores of each column are unchanged by increasing maps: the same codes
    assert cluster_mutual_information(np.sinh(x / 2), y ** 3 + y, ranks=True, **FAST) == pytest.approx(a,
                                                                                                     abs=1e-9)
    # without ranks the codes see the coordinates themselves: a strongly bent coordinate changes them
    assert cluster_mutual_information(np.sinh(3 * x), y ** 3 + y, **FAST) != a


def test_cross_fitting_reads_every_distinct_row_once():
    x, y, a, b, truth = _label_channel(1200, 0.8, 11)
    res = cluster_mutual_information(x, y, details=True, folds=2, random_state=2,
                                     **dict(FAST, learning_curve=True))
    held = np.concatenate(res.info["heldout_rows"])
    assert np.array_equal(np.sort(held), np.arange(1200)) and res.n_heldout == 1200
    assert res.value == pytest.approx(np.mean(res.info["fold_values"]))
    assert res.interval[0] <= res.value <= res.interval[1]
    # the interval is never narrower than the two folds' readings' difference
    assert res.interval[1] - res.interval[0] >= abs(np.diff(res.info["fold_values"])[0])
    assert abs(res.value - truth) < 0.12 and abs(res.info["value_half_train"] - truth) < 0.2


def test_learning_curve_raises_the_upper_end_by_the_extrapolated_gain():
    x, y, a, b, truth = _label_channel(1500, 0.8, 13)
    plain = cluster_mutual_information(x, y, details=True, random_state=3, **FAST)
    res = cluster_mutual_information(x, y, details=True, random_state=3, **dict(FAST, learning_curve=True))
    # the learning curve is one more fit after the others: the value and the lower end are unchanged
    assert res.value == plain.value and res.interval[0] == plain.interval[0]
    h, m = res.info["rows_half_train"], res.info["rows_codes_fitted"][0]
    gain = (res.value - res.info["value_half_train"]) * h / (m - h)
    assert res.info["learning_gain"] == pytest.approx(gain)
    assert res.interval[1] == pytest.approx(plain.interval[1] + max(gain, 0.0))
    assert res.info["value_extrapolated"] == pytest.approx(res.value + max(gain, 0.0))


def test_rows_repeated_as_whole_copies_give_the_distinct_rows_result():
    x, y, *_ = _label_channel(800, 0.8, 12)
    one = cluster_mutual_information(x, y, details=True, random_state=1, **FAST)
    # every pair twice: copies are counted once before any split, so no pair is fitted on one copy and read
    # on the other, and the estimate is the one of the 800 distinct pairs
    two = cluster_mutual_information(np.vstack([x, x]), np.vstack([y, y]), details=True, random_state=1,
                                     **FAST)
    assert two.value == one.value and two.n_distinct_pairs == 800 and two.n_rows == 1600
    assert np.array_equal(two.info["heldout_rows"][0], one.info["heldout_rows"][0])


def test_invariant_to_a_relabelling_of_discrete_classes():
    x, y, a, b, truth = _label_channel(2000, 0.8, 9)
    table = np.random.default_rng(1).standard_normal((4, 6))
    # rows that are one-hot-like embeddings of the labels plus noise, seen through another injective table
    one = cluster_mutual_information(table[a] + 0.01 * x, table[b] + 0.01 * y, **FAST)
    two = cluster_mutual_information(np.exp(table[a] + 0.01 * x), table[b] * 3 + 0.01 * y, **FAST)
    assert abs(one - two) < 0.05 and abs(one - truth) < 0.1


def test_repeated_pairs_are_counted_once():
    x, y, *_ = _label_channel(1000, 0.8, 5)
    idx = np.random.default_rng(0).integers(0, 1000, 2000)
    res = cluster_mutual_information(x[idx], y[idx], details=True, **FAST)
    assert res.n_rows == 2000 and res.n_distinct_pairs == np.unique(idx).size
    assert any("counted once" in note for note in res.notes)


def test_torch_input_gives_tensor():
    x, y, *_ = _label_channel(600, 0.8, 6)
    out = cluster_mutual_information(torch.from_numpy(x), torch.from_numpy(y), **FAST)
    assert isinstance(out, torch.Tensor) and out.ndim == 0


@pytest.mark.parametrize("kw, match", [
    (dict(n_clusters=1), "n_clusters"),
    (dict(n_clusters=()), "n_clusters"),
    (dict(shared="yes"), "shared"),
    (dict(train_fraction=1.0), "train_fraction"),
    (dict(weight_decay=-1.0), "weight_decay"),
    (dict(whiten="no"), "whiten"),
    (dict(learning_curve=1), "learning_curve"),
    (dict(refit="yes"), "refit"),
])
def test_bad_options(kw, match):
    x, y, *_ = _label_channel(400, 0.8, 7)
    with pytest.raises(ValueError, match=match):
        cluster_mutual_information(x, y, **kw)


def test_folds_is_one_or_two():
    x, y, *_ = _label_channel(400, 0.8, 7)
    with pytest.raises(ValueError, match="folds"):
        cluster_mutual_information(x, y, folds=3)


def test_shared_needs_equal_widths_and_too_few_rows():
    x, y, *_ = _label_channel(400, 0.8, 8)
    with pytest.raises(ValueError, match="same number of columns"):
        cluster_mutual_information(x, y[:, :3], shared=True)
    with pytest.raises(ValueError, match="at least 50"):
        cluster_mutual_information(x, y, train_fraction=0.1)


def test_progress_bar_on_request_only(capsys):
    x, y, *_ = _label_channel(400, 0.8, 10)
    cluster_mutual_information(x, y, progress=True, **dict(FAST, max_epochs=3))
    assert "cluster MI" in capsys.readouterr().err
    cluster_mutual_information(x, y, progress=False, **dict(FAST, max_epochs=3))
    assert "cluster MI" not in capsys.readouterr().err
