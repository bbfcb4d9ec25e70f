"""infossl.estimators.reliability: the generic assessment of details=True (subsamples, interval, precision,
degenerate input, one ReliabilityWarning per failed check)."""
import math
import warnings

import numpy as np
import pytest
import torch
from scipy.stats import t as student_t

from infossl import DegenerateInputWarning
from infossl.estimators.reliability import (T4_975, ReliabilityWarning, agreement_check, assess, recorded,
                                            safe_value, subsample_interval, tolerance)


def test_the_t_quantile_is_scipys():
    assert T4_975 == float(student_t.ppf(0.975, 4))
    lo, hi = subsample_interval(0.0, 1.0, 0.0, dof=1)
    assert hi == pytest.approx(float(student_t.ppf(0.975, 1)))


def test_tolerance_and_agreement():
    assert tolerance(0.0, 0.1) == 0.1 and tolerance(10.0, -2.0) == pytest.approx(1.5)
    assert agreement_check("a", 1.0, "b", 1.05).passed is True
    bad = agreement_check("a", 1.0, "b", 3.0)
    assert bad.passed is False and "disagree" in bad.detail and bad.values == {"a": 1.0, "b": 3.0}
    assert agreement_check("a", 1.0, "b", None, "too few rows").passed is None
    assert agreement_check("a", 1.0, "b", math.nan).detail == "b could not be computed"


def test_safe_value_silences_and_turns_errors_into_none():
    def noisy():
        warnings.warn("partner noise", UserWarning)
        return 2

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert safe_value(noisy) == 2.0

    def fails():
        raise ValueError("no")

    assert safe_value(fails) is None


def _assess(value, caught, subsample=lambda rows: float(rows.numel()) * 0 + 1.0, n=200):
    return assess(quantity="H(Z)", method="m", value=value, caught=caught, subsample=subsample, n=n,
                  rng=np.random.default_rng(0), min_rows=20, checks=[], kind="estimate", info={})


def test_a_degenerate_estimate_fails_its_own_check_and_keeps_its_warning():
    def estimate():
        warnings.warn("z is constant along 1 column", DegenerateInputWarning)
        return 1.0

    value, caught = recorded(estimate)
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        r = _assess(value, caught)
    names = [c.name for c in r.checks]
    assert names == ["stability n, n/2, n/4", "precision", "degenerate input"] and not r.trusted
    assert r.checks[-1].passed is False and "constant along 1 column" in r.checks[-1].detail
    categories = [w.category for w in shown]
    assert categories == [DegenerateInputWarning, ReliabilityWarning]
    assert all(w.filename == __file__ for w in shown)  # the caller's line, not infossl's


def test_a_clean_estimate_has_no_degenerate_check():
    value, caught = recorded(lambda: 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = _assess(value, caught)
    assert [c.name for c in r.checks] == ["stability n, n/2, n/4", "precision"] and r.trusted
    assert r.interval == (1.0, 1.0)  # identical subsample estimates: no spread, no drift


def test_subsamples_are_disjoint_halves_and_quarters():
    seen = []

    def subsample(rows: torch.Tensor) -> float:
        seen.append(rows.tolist())
        return 1.0

    _assess(1.0, [], subsample, n=100)
    assert [len(s) for s in seen] == [50, 50, 25, 25, 25, 25]
    assert sorted(seen[0] + seen[1]) == list(range(100)) == sorted(sum(seen[2:], []))
    seen.clear()
    _assess(math.inf, [], subsample)
    assert seen == []  # no subsamples for a value that is not finite


def test_details_subsamples_draw_a_bar_on_a_terminal_from_the_row_threshold(monkeypatch):
    import io

    import infossl
    from infossl.estimators import reliability

    class Tty(io.StringIO):
        def isatty(self):
            return True

    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 2))
    y = x + rng.standard_normal((400, 2))
    fake = Tty()
    monkeypatch.setattr("sys.stderr", fake)
    infossl.mutual_information(x, y, method="gaussian", details=True)
    assert "subsamples" not in fake.getvalue()  # 400 rows: below the threshold, no bar
    monkeypatch.setattr(reliability, "PROGRESS_MIN_ROWS", 100)
    infossl.mutual_information(x, y, method="gaussian", details=True)
    assert "details: subsamples" in fake.getvalue()


def test_pooled_spread_by_hand():
    from infossl.estimators.reliability import pooled_spread

    halves, quarters = [1.0, 1.2], [0.9, 1.1, 1.3, 1.5]
    hand = (np.var(halves, ddof=1) / 2 + 3 * np.var(quarters, ddof=1) / 4) / 4
    se, dof = pooled_spread(halves, quarters)
    assert dof == 4 and se == pytest.approx(math.sqrt(hand), rel=1e-12)
    se, dof = pooled_spread(halves, [])
    assert dof == 1 and se == pytest.approx(math.sqrt(np.var(halves, ddof=1) / 2), rel=1e-12)
    assert math.isnan(pooled_spread([], [])[0])
