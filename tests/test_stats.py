"""Array-level statistics against exact references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st

from nhsrisk.stats import exceedance_probability, expected_shortfall, mcse_mean, quantile_interval


def test_mcse_is_sd_over_root_n(rng):
    x = rng.normal(size=(3, 500))
    np.testing.assert_allclose(mcse_mean(x), x.std(axis=1, ddof=1) / math.sqrt(500), rtol=1e-15)
    np.testing.assert_allclose(mcse_mean(x.T, axis=0), mcse_mean(x), rtol=1e-15)


@pytest.mark.parametrize("n", [1, 7, 72, 100, 2_000, 100_000, 10**6, 10**8, 123_456_789])
def test_binomial_quantile_is_scipy_stats_binom_ppf(n):
    # nhsrisk computes it with scipy.special (scipy.stats costs half a second to import)
    from nhsrisk._order import binomial_quantile

    for q in (1e-6, 0.01, 0.05, 0.25, 0.5, 0.95, 0.999):
        for p in (1e-6, 0.005, 0.025, 0.05, 0.95, 0.975, 0.995, 1 - 1e-6):
            assert binomial_quantile(p, n, q) == st.binom.ppf(p, n, q), (p, n, q)


def test_quantile_interval_ranks_are_the_binomial_ones():
    x = np.arange(1.0, 101.0)  # x_(k) = k, so the bounds are the ranks themselves
    estimate, lower, upper = quantile_interval(x, 0.5, prob=0.95)
    assert float(estimate) == 50.5
    assert float(lower) == st.binom.ppf(0.025, 100, 0.5)
    assert float(upper) == st.binom.ppf(0.975, 100, 0.5) + 1
    # exact coverage of [x_(r), x_(s)]: P(r <= B < s), B ~ Binomial(n, q)
    coverage = st.binom.cdf(upper - 1, 100, 0.5) - st.binom.cdf(lower - 1, 100, 0.5)
    assert coverage >= 0.95


@pytest.mark.slow
def test_quantile_interval_covers_at_least_its_level(rng):
    # 4,000 samples of 200 uniforms: the 5% quantile's true value is 0.05.
    hits = 0
    trials = 4_000
    for _ in range(trials):
        _, lower, upper = quantile_interval(rng.random(200), 0.05, prob=0.9)
        hits += lower <= 0.05 <= upper
    # coverage >= 0.9 by construction; allow 3 binomial standard errors of the estimate
    assert hits / trials >= 0.9 - 3 * math.sqrt(0.9 * 0.1 / trials)


def test_quantile_interval_says_how_many_draws_it_needs():
    with pytest.raises(ValueError, match=r"20 draws are too few .* 0\.01 quantile; about \d+ are needed"):
        quantile_interval(np.arange(20.0), 0.01, prob=0.95)


def test_exceedance_probability_and_its_binomial_error():
    x = np.arange(1000.0)
    p, se = exceedance_probability(x, 900.0)
    assert float(p) == 0.1
    assert float(se) == pytest.approx(math.sqrt(0.1 * 0.9 / 1000), rel=1e-15)


def test_expected_shortfall_of_a_normal_matches_the_closed_form():
    # A stratified sample (midpoint quantiles) has no Monte Carlo noise: the estimate
    # converges to the closed form mu - sigma * pdf(z) / tail with O(1/n) error.
    n, tail, mu, sigma = 1_000_000, 0.05, 2.0, 3.0
    x = mu + sigma * st.norm.ppf((np.arange(n) + 0.5) / n)
    exact = mu - sigma * st.norm.pdf(st.norm.ppf(tail)) / tail
    assert float(expected_shortfall(x, tail)) == pytest.approx(exact, abs=1e-3)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: mcse_mean([1.0]), "at least 2 draws"),
        (lambda: mcse_mean([1.0, np.nan]), "finite"),
        (lambda: quantile_interval([1.0, 2.0, 3.0], 1.5), r"'q' parameter .* \(0, 1\)\. Got 1\.5"),
        (lambda: quantile_interval([1.0, 2.0, 3.0], 0.5, prob=0.0), r"'prob'"),
        (lambda: expected_shortfall([1.0, 2.0], tail=0.0), r"'tail'"),
    ],
)
def test_bad_input_is_named(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------------------------------
# describe and summary read their order statistics from a partition, not a full sort
# ------------------------------------------------------------------------------------------


def _statistics_by_sorting(draws, quantiles, ranks, tail):
    """The describe statistics as they were computed before: from a full sort of every row."""
    from nhsrisk.stats import _tail_count, _tail_mean_and_mcse

    n = draws.shape[-1]
    ordered = np.sort(draws, axis=-1)
    tail_mean, tail_mcse = _tail_mean_and_mcse(ordered[..., : _tail_count(n, tail)], n)
    return {
        "quantile_estimate": np.moveaxis(np.quantile(ordered, quantiles, axis=-1), 0, -1),
        "quantile_low": np.stack([ordered[..., low - 1] for low, _ in ranks], axis=-1),
        "quantile_high": np.stack([ordered[..., high - 1] for _, high in ranks], axis=-1),
        "expected_shortfall": tail_mean,
        "expected_shortfall_mcse": tail_mcse,
    }


@pytest.mark.parametrize("seed", range(12))
def test_order_statistics_from_a_partition_equal_a_full_sort_bit_for_bit(seed: int) -> None:
    from nhsrisk._order import interval_ranks
    from nhsrisk.stats import _statistics

    rng = np.random.default_rng(seed)
    n = int(rng.integers(400, 5_000))
    shape = [(n,), (3, n), (2, 4, n)][seed % 3]
    # ties (rounded draws) and heavy tails as well as smooth draws
    draws = rng.standard_t(3, size=shape) * 1e9
    if seed % 2:
        draws = np.round(draws, -9)
    quantiles = tuple(sorted(rng.choice([0.05, 0.1, 0.25, 0.333, 0.5, 0.75, 0.9, 0.95], 3, replace=False)))
    confidence = float(rng.choice([0.9, 0.95]))
    tail = float(rng.choice([0.01, 0.05, 0.2]))
    ranks = [interval_ranks(n, q, confidence, "test") for q in quantiles]
    got = _statistics(np.ascontiguousarray(draws), quantiles, ranks, tail)
    for name, expected in _statistics_by_sorting(draws, quantiles, ranks, tail).items():
        assert np.array_equal(got[name], expected), name
