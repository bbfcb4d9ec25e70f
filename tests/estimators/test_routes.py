"""infossl.estimators._routes: the method tables, the thresholds and the "auto" decision with its reasons."""
import numpy as np
import pytest
import torch

import infossl
from infossl.estimators import gaussian_entropy, ksg_mutual_information
from infossl.estimators._routes import (
    AUTO_KNN_MAX_DIM,
    LATENT_MIN_ROWS,
    describe,
    entropy_function,
    entropy_route,
    low_dimensional_sides,
    mi_function,
    mi_route,
    refuse_auto_options,
    repeated_rows,
)
from infossl.synthetic import make_family


def test_auto_routes(embedded):
    _, x, y = embedded
    r = mi_route(torch.from_numpy(x), torch.from_numpy(y))
    route, info = r.method, r.info
    assert route == "latent" and abs(info["id_x"] - 2) < 0.3
    assert any("curved low-dimensional set" in reason for reason in r.reasons)
    for fam in ("gaussian", "collapsed"):  # full-dimensional and linear low-rank: the k-NN route
        a, b = make_family(fam, 25).sample(1000, random_state=0)
        assert mi_route(torch.from_numpy(a), torch.from_numpy(b)).method == "corrected-ksg"
    assert infossl.mutual_information(x, y) == pytest.approx(
        infossl.estimators.latent.latent_parts(torch.from_numpy(x), torch.from_numpy(y), id_x=info["id_x"],
                                               id_y=info["id_y"]).value.item())


def test_method_names_resolve_to_the_public_functions_and_unknown_names_list_the_choices():
    assert entropy_function("gaussian") is gaussian_entropy and mi_function("ksg") is ksg_mutual_information
    with pytest.raises(ValueError, match=r"unknown entropy method 'nope'; choose one of .*'gaussian'.*'auto'"):
        entropy_function("nope")
    with pytest.raises(ValueError, match=r"unknown mutual-information method 'nope'; choose one of .*'auto'"):
        infossl.mutual_information(np.zeros((10, 1)), np.zeros((10, 1)), method="nope")


def test_auto_rules_by_shape():
    small = torch.randn(100, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert entropy_route(small).method == "corrected-knn"
    assert entropy_route(torch.zeros(100, AUTO_KNN_MAX_DIM + 1)).method == "copula"  # too wide for k-NN
    assert entropy_route(torch.zeros(10, 20)).method == "copula"  # n <= d
    # MI: under LATENT_MIN_ROWS rows no intrinsic dimension is measured; few dims -> corrected-ksg
    x = torch.randn(LATENT_MIN_ROWS - 1, 20, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    assert low_dimensional_sides(x, x) == {"id_x": None, "id_y": None, "low_x": False, "low_y": False}
    r = mi_route(x[:, :2], x[:, 2:4])
    assert r.method == "corrected-ksg" and r.info["id_x"] is None
    assert mi_route(x[:19, :1], x[:19, 1:2]).method == "copula"  # under 20 rows: no k-NN
    w = torch.randn(60, AUTO_KNN_MAX_DIM + 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    assert mi_route(w[:, :65], w[:, 65:]).method == "copula"  # dx + dy > AUTO_KNN_MAX_DIM


def test_each_route_states_the_conditions_that_decided_it():
    x = torch.randn(100, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    assert mi_route(x[:, :1], x[:, 1:]).reasons[-1] == f"dx + dy = 2 <= {AUTO_KNN_MAX_DIM} and n = 100 >= 20"
    assert "too few rows for k-NN" in mi_route(x[:10, :1], x[:10, 1:]).reasons[-1]
    w = torch.zeros(10, AUTO_KNN_MAX_DIM + 1)
    assert "too wide" in entropy_route(w).reasons[0] and "n = 10 <= d = 20" in entropy_route(w[:, :20]).reasons[0]
    assert describe(entropy_route(x)) == f"corrected-knn (d = 2 <= {AUTO_KNN_MAX_DIM} and n = 100 > d)"


def test_auto_refuses_options_and_names_them():
    refuse_auto_options("auto", {})
    refuse_auto_options("knn", {"k": 3})
    with pytest.raises(TypeError, match=r"method='auto' takes no options \(got \['k'\]\)"):
        refuse_auto_options("auto", {"k": 3})


def test_misspelled_facade_keyword_is_named():
    x = np.arange(40.0).reshape(20, 2)
    with pytest.raises(TypeError, match=r"'metod' \(did you mean 'method'\?\)"):
        infossl.mutual_information(x, x, metod="ksg")
    with pytest.raises(TypeError, match="takes no options"):
        infossl.mutual_information(x, x, k=5)  # not close to a facade keyword: the plain refusal


def test_repeated_rows_are_counted_and_routed(rng):
    x = rng.standard_normal((300, 2))
    y = x + rng.standard_normal((300, 2))
    assert repeated_rows(torch.from_numpy(x), torch.from_numpy(y)) is None
    idx = np.r_[np.arange(300), [0, 0, 0, 5]]  # row 0 four times, row 5 twice
    tx, ty = torch.from_numpy(x[idx]), torch.from_numpy(y[idx])
    rep = repeated_rows(tx, ty)
    assert rep["distinct_pairs"] == 300 and rep["max_pair_copies"] == 4 and not rep["discrete"]
    assert rep["first_rows"].tolist() == list(range(300))  # the first copy of each pair, in row order
    r = mi_route(tx, ty)
    assert r.method == "corrected-ksg" and r.rows.tolist() == list(range(300))
    assert "4 repeated (x, y) pairs counted once" in r.reasons[0] and r.info["repeated_rows"]["n"] == 304
    # symbols on both sides (at least DISCRETE_MIN_COPIES copies each on average): the plug-in route
    a = rng.integers(0, 4, (400, 1)).astype(float)
    b = (a + (rng.random((400, 1)) < 0.2)) % 4
    d = mi_route(torch.from_numpy(a), torch.from_numpy(b))
    assert d.method == "discrete" and d.rows is None and "discrete symbols" in d.reasons[0]
