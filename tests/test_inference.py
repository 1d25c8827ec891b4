"""Inference primitives against a second implementation or values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from cxmetrics.findings import findings
from cxmetrics.stats import inference


def test_bh_qvalues_match_scipy():
    rng = np.random.default_rng(3)
    for size in (1, 2, 7, 50):
        p = np.concatenate([rng.uniform(size=size), rng.uniform(0, 0.01, size=size)])
        ours = inference.bh_qvalues(p.tolist())
        theirs = stats.false_discovery_control(p, method="bh")
        assert ours == pytest.approx(theirs.tolist())


def test_bh_by_hand():
    # p sorted: 0.01, 0.02, 0.04, 0.5 with m = 4: raw p·m/rank = 0.04, 0.04, 0.0533, 0.5
    assert inference.bh_qvalues([0.5, 0.04, 0.01, 0.02]) == pytest.approx(
        [0.5, 0.04 * 4 / 3, 0.04, 0.04]
    )


def test_p_two_sided_by_hand():
    assert inference.p_two_sided(1.959963984540054) == pytest.approx(0.05)
    assert inference.p_two_sided(-1.959963984540054) == pytest.approx(0.05)
    assert inference.p_two_sided(0.0) == pytest.approx(1.0)


def test_wilson_matches_scipy():
    for hits, n in ((0, 40), (40, 40), (7, 23), (500, 1000)):
        lo, hi = inference.wilson(hits, n, z=stats.norm.ppf(0.975))
        ci = stats.binomtest(hits, n).proportion_ci(method="wilson")
        assert (lo, hi) == pytest.approx((ci.low, ci.high))


def test_decide_keeps_only_what_passes_the_fdr():
    def cand(p):
        return findings.Finding("change", f"p={p}", 1.0, (0.5, 1.5), 100, p)

    # m = 5; sorted p 0.001, 0.012, 0.03, 0.2, 0.9: BH q = 0.005, 0.03, 0.05, 0.25, 0.9
    kept = findings.decide([cand(p) for p in (0.2, 0.001, 0.03, 0.9, 0.012)])
    assert [k.p for k in kept] == [0.001, 0.012, 0.03]
    assert [k.q for k in kept] == pytest.approx([0.005, 0.03, 0.05])
    assert all(k.significant for k in kept)


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown finding kind"):
        findings.Finding("hunch", "x", None, None, 0, None)


def test_nps_interval_at_the_extremes_by_hand():
    z, n = 1.96, 40
    lower = (1 + z * z / (2 * n) - z * math.sqrt(z * z / (4 * n * n))) / (1 + z * z / n)
    lo, hi = inference.nps_interval(40, 0, 40)
    assert hi == pytest.approx(100.0)
    assert lo == pytest.approx(100 - 100 * (1 - lower))
