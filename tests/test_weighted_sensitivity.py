"""Rank correlation, PRCC, EVPI and EVPPI on weighted results (issue 17, item 3).

Weighted results carry normalised importance weights as the ``weight``
coordinate on ``draw`` (:func:`nhsrisk.update`). The properties checked:

* equal weights give the unweighted results. Not bit for bit: the weighted
  mid-ranks and means are running sums of ``1/n``, which round at about
  ``n * eps``, some 1e-13 for 2,000 draws; after the correlation or the
  regression, 1e-12 absolute is a safe bound for numbers of order 1 and
  1e-12 relative for money. A p-value's relative error is its t statistic
  times the t statistic's (``d log p / dt`` is about ``t``), so p-values get
  1e-8 relative;
* whole-number weights (0, 1, 2, 3...) give the same estimates as the
  unweighted function on each draw repeated that many times: exactly for
  EVPI, and for a rank correlation because the mid-rank of a repeated draw is
  its weighted mid-rank (up to a constant). The standard errors differ on
  purpose: repeated draws are not independent, and the weighted ones use
  Kish's effective sample size;
* draws of weight 0 take no part (the result equals the unweighted one on the
  other draws when their weights are equal);
* known answers: weights that tilt a Gaussian leave it Gaussian, so the
  weighted Spearman correlation, PRCC, EVPI and EVPPI have closed forms.
  Bands are 4 Monte Carlo standard errors (fixed seeds: deterministic).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st
import xarray as xr

import nhsrisk
from nhsrisk.sensitivity import prcc, rank_correlation
from nhsrisk.stats import effective_sample_size
from nhsrisk.voi import evpi, evppi

DELAY = "programmes.it_modernisation.delivery_delay"
#: A binary input (many ties) and a discrete one.
BLACK_SWAN = "programmes.it_modernisation.black_swan"
RAID_2025 = "risks.raid_event[2025/26]"


@pytest.fixture(scope="module")
def run() -> xr.Dataset:
    return nhsrisk.simulate(draws=2000, seed=1)


@pytest.fixture(scope="module")
def updated(run: xr.Dataset) -> xr.Dataset:
    """The run updated by an uptake measurement and an NPV measurement (smooth, unequal weights)."""
    where = {"year": "2025/26", "programme": "it_modernisation"}
    uptake = run["uptake"].sel(where)
    npv = run["npv"]
    seen = [
        nhsrisk.Observation("uptake", where, value=float(uptake.quantile(0.7)), sd=float(uptake.std())),
        nhsrisk.Observation("npv", value=float(npv.quantile(0.6)), sd=float(npv.std())),
    ]
    return nhsrisk.update(run, seen)


def whole_number_weights(n: int, seed: int = 5) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 4, n)  # 0, 1, 2 or 3: about a quarter dropped


def fisher_z_se(r: float, n: float) -> float:
    """Standard error of atanh(r) for a rank correlation, Bonett & Wright (2000)."""
    return math.sqrt((1.0 + r * r / 2.0) / (n - 3.0))


def assert_same_sensitivity(weighted: xr.Dataset, unweighted: xr.Dataset, method: str) -> None:
    assert sorted(weighted.input.values.tolist()) == sorted(unweighted.input.values.tolist())
    weighted = weighted.sel(input=unweighted.input)
    for name in (method, "conf_low", "conf_high"):
        np.testing.assert_allclose(weighted[name].values, unweighted[name].values, rtol=0.0, atol=1e-12)
    np.testing.assert_allclose(weighted["p_value"].values, unweighted["p_value"].values, rtol=1e-8, atol=0.0)


# --- independent reference implementations ---------------------------------------------------------


def weighted_mid_ranks(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The weight below each draw plus half the weight equal to it, by direct comparison (O(n^2))."""
    below = (values[None, :] < values[:, None]) @ weights
    tied = (values[None, :] == values[:, None]) @ weights
    return below + tied / 2.0


def weighted_pearson(a: np.ndarray, b: np.ndarray, weights: np.ndarray) -> float:
    covariance = np.cov(np.vstack([a, b]), aweights=weights)
    return float(covariance[0, 1] / math.sqrt(covariance[0, 0] * covariance[1, 1]))


def weighted_residuals(target: np.ndarray, controls: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Residuals of the weighted least-squares fit of ``target`` on ``controls`` and an intercept."""
    design = np.column_stack([np.ones(target.size), controls])
    root = np.sqrt(weights)
    coefficients = np.linalg.lstsq(design * root[:, None], target * root, rcond=None)[0]
    return target - design @ coefficients


# --- rank correlation and PRCC ----------------------------------------------------------------------


@pytest.mark.parametrize("function", [rank_correlation, prcc], ids=["spearman", "prcc"])
def test_equal_weights_give_the_unweighted_results(run: xr.Dataset, function) -> None:
    method = "spearman" if function is rank_correlation else "prcc"
    unweighted = function(run, "npv")
    weighted = function(run.assign_coords(weight=("draw", np.full(run.sizes["draw"], 3.0))), "npv")
    assert_same_sensitivity(weighted, unweighted, method)
    assert weighted.attrs["effective_sample_size"] == pytest.approx(run.sizes["draw"], rel=1e-12)
    assert weighted.attrs["n_draws"] == unweighted.attrs["n_draws"] == run.sizes["draw"]
    assert "effective_sample_size" not in unweighted.attrs


def test_whole_number_weights_give_the_spearman_of_repeated_draws(run: xr.Dataset) -> None:
    counts = whole_number_weights(run.sizes["draw"])
    repeated = run.isel(draw=np.repeat(np.arange(run.sizes["draw"]), counts))
    weighted = rank_correlation(run.assign_coords(weight=("draw", counts)), "npv")
    for label, values in ((DELAY, repeated[DELAY].values), (BLACK_SWAN, repeated[BLACK_SWAN].values)):
        expected = st.spearmanr(values, repeated["npv"].values).statistic
        assert float(weighted["spearman"].sel(input=label)) == pytest.approx(expected, abs=1e-12)
    raid = repeated["raid"].sel(year="2025/26").values.astype(float)  # binary: heavy ties
    expected = st.spearmanr(raid, repeated["npv"].values).statistic
    assert float(weighted["spearman"].sel(input=RAID_2025)) == pytest.approx(expected, abs=1e-12)
    # every coefficient, against the unweighted function on the repeated run
    plain = rank_correlation(repeated, "npv").sel(input=weighted.input)
    np.testing.assert_allclose(weighted["spearman"].values, plain["spearman"].values, rtol=0.0, atol=1e-12)
    # the intervals use Kish's effective sample size, not the repeated run's length
    n_eff = counts.sum() ** 2 / (counts**2).sum()
    assert weighted.attrs["effective_sample_size"] == pytest.approx(n_eff, rel=1e-12)
    assert plain.attrs["n_draws"] == counts.sum() > n_eff


def test_whole_number_weights_give_the_prcc_of_repeated_draws(run: xr.Dataset) -> None:
    counts = whole_number_weights(run.sizes["draw"], seed=6)
    repeated = run.isel(draw=np.repeat(np.arange(run.sizes["draw"]), counts))
    weighted = prcc(run.assign_coords(weight=("draw", counts)), "cumulative_value", year="2029/30")
    plain = prcc(repeated, "cumulative_value", year="2029/30").sel(input=weighted.input)
    np.testing.assert_allclose(weighted["prcc"].values, plain["prcc"].values, rtol=0.0, atol=1e-12)


def test_updated_results_match_direct_weighted_ranks_and_regressions(
    run: xr.Dataset, updated: xr.Dataset
) -> None:
    weights = updated["weight"].values
    assert effective_sample_size(weights) < 0.9 * run.sizes["draw"]  # the weights are far from equal
    chosen = [DELAY, "programmes.it_modernisation.uptake_ceiling", BLACK_SWAN, RAID_2025]
    spearman = rank_correlation(updated, "npv", inputs=chosen)
    partial = prcc(updated, "npv", inputs=chosen)
    columns = {
        DELAY: updated[DELAY].values,
        chosen[1]: updated[chosen[1]].values,
        BLACK_SWAN: updated[BLACK_SWAN].values,
        RAID_2025: updated["raid"].sel(year="2025/26").values.astype(float),
    }
    ranks = {label: weighted_mid_ranks(values, weights) for label, values in columns.items()}
    output = weighted_mid_ranks(updated["npv"].values, weights)
    for label in chosen:
        expected = weighted_pearson(ranks[label], output, weights)
        assert float(spearman["spearman"].sel(input=label)) == pytest.approx(expected, abs=1e-12)
        others = np.column_stack([ranks[other] for other in chosen if other != label])
        expected = weighted_pearson(
            weighted_residuals(ranks[label], others, weights),
            weighted_residuals(output, others, weights),
            weights,
        )
        assert float(partial["prcc"].sel(input=label)) == pytest.approx(expected, abs=1e-12)
    # and the weights matter: the unweighted coefficients are not these
    prior = rank_correlation(run, "npv", inputs=chosen).sel(input=spearman.input)
    assert np.abs(prior["spearman"].values - spearman["spearman"].values).max() > 0.01
    assert spearman.attrs["effective_sample_size"] == pytest.approx(updated.attrs["effective_sample_size"])
    # the test statistics use the effective sample size: n_eff - 2 degrees of freedom
    n_eff = math.floor(updated.attrs["effective_sample_size"] + 1e-6)
    r = spearman["spearman"].values
    t = r * np.sqrt((n_eff - 2) / (1 - r**2))
    np.testing.assert_allclose(spearman["p_value"].values, 2 * st.t.sf(np.abs(t), n_eff - 2), rtol=1e-10)


def test_draws_of_weight_zero_take_no_part(run: xr.Dataset) -> None:
    # A hard bound gives weight 0 outside it and equal weights inside.
    median = float(run["npv"].median())
    bounded = nhsrisk.update(run, nhsrisk.Observation("npv", lower=median))
    inside = bounded["weight"].values > 0
    assert 0 < inside.sum() < run.sizes["draw"]
    kept = run.isel(draw=np.flatnonzero(inside))
    for function, method in ((rank_correlation, "spearman"), (prcc, "prcc")):
        assert_same_sensitivity(
            function(bounded, "cumulative_value", year="2026/27"),
            function(kept, "cumulative_value", year="2026/27"),
            method,
        )


def gaussian_run(rng: np.random.Generator, correlation: np.ndarray, draws: int) -> xr.Dataset:
    """Inputs x0..x(k-1) and output y drawn from a normal vector with this correlation matrix (y last)."""
    values = rng.multivariate_normal(np.zeros(correlation.shape[0]), correlation, size=draws).T
    data_vars = {
        f"x{i}": ("draw", row, {"long_name": f"Input x{i}", "units": "1", "sampled_input": 1})
        for i, row in enumerate(values[:-1])
    }
    data_vars["y"] = ("draw", values[-1], {"long_name": "Output y", "units": "1"})
    return xr.Dataset(data_vars, coords={"draw": np.arange(draws)})


def shrunk_first_variable(correlation: np.ndarray, a: float) -> np.ndarray:
    """Correlation matrix after weighting a standard normal vector by exp(-a x0^2).

    The weighted distribution is normal with precision Sigma^-1 + 2a e0 e0'.
    """
    precision = np.linalg.inv(correlation)
    precision[0, 0] += 2.0 * a
    covariance = np.linalg.inv(precision)
    scale = np.sqrt(np.diagonal(covariance))
    return covariance / np.outer(scale, scale)


def spearman_of_gaussian(pearson: np.ndarray) -> np.ndarray:
    """Rank correlation of a normal vector: (6 / pi) asin(r / 2) (Pearson 1907; Kruskal 1958)."""
    return 6.0 / math.pi * np.arcsin(pearson / 2.0)


def test_weights_that_tilt_a_bivariate_normal_give_its_known_rank_correlation() -> None:
    rho, a, draws = 0.8, 1.5, 20_000
    prior = np.array([[1.0, rho], [rho, 1.0]])
    ds = gaussian_run(np.random.default_rng(11), prior, draws)
    weights = np.exp(-a * ds["x0"].values ** 2)  # shrinks var(x0) to 1 / (1 + 2a) = 1/4
    result = rank_correlation(ds.assign_coords(weight=("draw", weights)), "y")
    got = float(result["spearman"].sel(input="x0"))
    n_eff = result.attrs["effective_sample_size"]
    # closed form: r = rho sqrt(v) / sqrt(1 - rho^2 + rho^2 v) = 0.4 / sqrt(0.52), Spearman 0.536
    expected = float(spearman_of_gaussian(shrunk_first_variable(prior, a))[0, 1])
    assert expected == pytest.approx(6 / math.pi * math.asin(0.2 / math.sqrt(0.52)), rel=1e-12)
    unweighted = float(rank_correlation(ds, "y")["spearman"].sel(input="x0"))
    assert unweighted - expected > 0.2  # the weights move the coefficient far
    assert abs(math.atanh(got) - math.atanh(expected)) <= 4 * fisher_z_se(expected, n_eff)
    assert float(result["conf_low"][0]) < expected < float(result["conf_high"][0])
    # and the Spearman correlation of a large resample drawn with these weights
    resample = np.random.default_rng(12).choice(draws, size=400_000, p=weights / weights.sum())
    resampled = st.spearmanr(ds["x0"].values[resample], ds["y"].values[resample]).statistic
    # the resample's own error is that of 400,000 draws of the weighted sample: small beside n_eff's
    assert abs(math.atanh(got) - math.atanh(resampled)) <= 4 * fisher_z_se(got, 400_000)


def test_weights_that_tilt_a_normal_model_give_its_known_prcc() -> None:
    # y = x0 + x1 + x2 + e with unit normals: correlations 1/2; the weights shrink var(x0) to 1/4.
    correlation = np.eye(4)
    correlation[:3, 3] = correlation[3, :3] = 0.5
    a = 1.5
    ds = gaussian_run(np.random.default_rng(21), correlation, 20_000)
    weights = np.exp(-a * ds["x0"].values ** 2)
    result = prcc(ds.assign_coords(weight=("draw", weights)), "y")
    spearman = spearman_of_gaussian(shrunk_first_variable(correlation, a))
    precision = np.linalg.inv(spearman)
    expected = -precision[:3, 3] / np.sqrt(np.diagonal(precision)[:3] * precision[3, 3])
    got = result["prcc"].sel(input=["x0", "x1", "x2"]).values
    n_eff = result.attrs["effective_sample_size"] - 2  # two controls
    for g, e in zip(got, expected, strict=True):
        assert abs(math.atanh(g) - math.atanh(e)) <= 4 * fisher_z_se(e, n_eff)
    assert got[1] - got[0] > 0.1  # x0 has lost influence to the others


def test_malformed_or_mismatched_weights_are_refused(run: xr.Dataset) -> None:
    n = run.sizes["draw"]
    bad = {
        "negative": np.where(np.arange(n) == 3, -1.0, 1.0),
        "NaN or infinite": np.where(np.arange(n) == 3, np.nan, 1.0),
        "all 0": np.zeros(n),
    }
    for problem, weights in bad.items():
        with pytest.raises(ValueError, match=rf"'ds' parameter of rank_correlation.*{problem}"):
            rank_correlation(run.assign_coords(weight=("draw", weights)), "npv")
    on_years = run.assign_coords(weight=(("year", "draw"), np.ones((run.sizes["year"], n))))
    with pytest.raises(ValueError, match=r"'ds' parameter of prcc.*'draw' dimension alone"):
        prcc(on_years, "npv")
    weighted = run.assign_coords(weight=("draw", np.arange(n) % 3 + 1.0))
    with pytest.raises(ValueError, match=r"'output' parameter of rank_correlation.*weighted exactly as ds"):
        rank_correlation(run, weighted["npv"])
    with pytest.raises(ValueError, match=r"'output' parameter of prcc.*different importance weights"):
        prcc(weighted, run.assign_coords(weight=("draw", np.ones(n)))["npv"])
    # the same weights, on ds and on the output, are fine (as when the output is taken from ds)
    assert rank_correlation(weighted, weighted["npv"].rename("npv")).attrs["effective_sample_size"] > 1000
    one_draw = np.where(np.arange(n) < 4, 1.0, 0.0)  # 4 effective draws
    with pytest.raises(ValueError, match=r"rank_correlation: the weights leave 4 effective draws"):
        rank_correlation(run.assign_coords(weight=("draw", one_draw)), "npv")


# --- EVPI and EVPPI ----------------------------------------------------------------------------------


def net_benefit_of(run: xr.Dataset) -> xr.DataArray:
    """Three options from one run, GBP: NPV as planned, a cheaper safer variant, and doing nothing."""
    npv = run["npv"]
    delay = run[DELAY]
    # better than nothing when the delay is short, worse when it is long, whatever the NPV's level:
    # knowing the delay changes the choice, so its EVPPI is positive
    mean = float(npv.mean())
    safer = 0.7 * npv + 0.3 * mean + 0.15 * float(npv.std()) * (0.5 - delay / float(delay.max()))
    return xr.concat([npv, safer, 0.0 * npv + float(npv.mean())], dim="option").assign_coords(
        option=["as planned", "safer", "nothing"]
    )


def test_evpi_and_evppi_with_equal_weights_are_the_unweighted(run: xr.Dataset) -> None:
    nb = net_benefit_of(run)
    flat = nb.assign_coords(weight=("draw", np.full(run.sizes["draw"], 0.25)))
    plain, weighted = evpi(nb), evpi(flat)
    for name in ("evpi", "evpi_mcse", "expected_net_benefit", "probability_best"):
        np.testing.assert_allclose(weighted[name].values, plain[name].values, rtol=1e-12, atol=1e-12)
    assert weighted["best_option"].item() == plain["best_option"].item()
    cases = [
        ({"parameters": run[DELAY]}, {}),
        ({"parameters": run[DELAY]}, {"method": "binning"}),
        ({"parameters": [run[DELAY], run["programmes.it_modernisation.uptake_ceiling"]]}, {}),
        ({"parameters": run[BLACK_SWAN]}, {}),  # discrete: indicator terms
    ]
    for arguments, options in cases:
        plain, weighted = evppi(nb, **arguments, **options), evppi(flat, **arguments, **options)
        scale = float(plain["evpi"])
        for name in ("evppi", "evppi_mcse", "evpi"):
            assert float(weighted[name]) == pytest.approx(float(plain[name]), rel=1e-12, abs=1e-12 * scale)
        np.testing.assert_allclose(weighted["r_squared"].values, plain["r_squared"].values, atol=1e-12)
        for key in ("knots", "bins", "coefficients"):
            assert weighted.attrs.get(key) == plain.attrs.get(key)


def test_whole_number_weights_give_the_evpi_of_repeated_draws(run: xr.Dataset) -> None:
    nb = net_benefit_of(run)
    counts = whole_number_weights(run.sizes["draw"], seed=7)
    repeated = nb.isel(draw=np.repeat(np.arange(run.sizes["draw"]), counts))
    weighted, plain = evpi(nb.assign_coords(weight=("draw", counts))), evpi(repeated)
    for name in ("evpi", "expected_net_benefit", "probability_best"):
        np.testing.assert_allclose(weighted[name].values, plain[name].values, rtol=1e-12, atol=0.0)
    assert weighted["best_option"].item() == plain["best_option"].item()
    # the standard error counts effective draws, fewer than the repeated run's
    assert float(weighted["evpi_mcse"]) > float(plain["evpi_mcse"])


@pytest.mark.parametrize("method", ["spline", "binning"])
def test_whole_number_weights_give_the_evppi_of_repeated_draws_for_a_discrete_parameter(
    run: xr.Dataset, method: str
) -> None:
    # With few distinct values both methods fit exact conditional means, so repetition is exact.
    nb = net_benefit_of(run)
    counts = whole_number_weights(run.sizes["draw"], seed=8)
    index = np.repeat(np.arange(run.sizes["draw"]), counts)
    parameter = run[BLACK_SWAN]  # 0 or 1
    weighted = evppi(nb.assign_coords(weight=("draw", counts)), parameter, method=method)
    plain = evppi(nb.isel(draw=index), parameter.isel(draw=index), method=method)
    assert float(weighted["evppi"]) == pytest.approx(float(plain["evppi"]), rel=1e-10)
    assert float(weighted["evppi"]) > 0.0
    np.testing.assert_allclose(weighted["r_squared"].values, plain["r_squared"].values, atol=1e-10)


@pytest.mark.parametrize("method", ["spline", "binning"])
def test_evppi_ignores_draws_of_weight_zero(run: xr.Dataset, method: str) -> None:
    nb = net_benefit_of(run)
    median = float(run["npv"].median())
    bounded = nhsrisk.update(run, nhsrisk.Observation("npv", lower=median))
    inside = np.flatnonzero(bounded["weight"].values > 0)
    weighted = evppi(nb.assign_coords(weight=bounded["weight"]), run[DELAY], method=method)
    plain = evppi(nb.isel(draw=inside), run[DELAY].isel(draw=inside), method=method)
    for name in ("evppi", "evppi_mcse", "evpi"):
        assert float(weighted[name]) == pytest.approx(float(plain[name]), rel=1e-10)
    assert weighted.attrs["weighted_draws"] == inside.size
    assert weighted.attrs["draws"] == run.sizes["draw"]


def test_evpi_of_updated_results_is_the_weighted_expectation(updated: xr.Dataset) -> None:
    nb = net_benefit_of(updated)
    weights = updated["weight"].values
    result = evpi(nb)
    values = nb.transpose("option", "draw").values
    expected = (values.max(axis=0) @ weights) - (values @ weights).max()
    assert float(result["evpi"]) == pytest.approx(expected, rel=1e-10)
    np.testing.assert_allclose(result["expected_net_benefit"].values, values @ weights, rtol=1e-12)
    assert result.attrs["effective_sample_size"] == pytest.approx(updated.attrs["effective_sample_size"])
    partial = evppi(nb, updated[DELAY])
    assert 0.0 < float(partial["evppi"]) <= float(partial["evpi"]) + float(partial["evppi_mcse"])
    assert float(partial["evpi"]) == pytest.approx(float(result["evpi"]), rel=1e-12)


def normal_gain_posterior(draws: int, observed: float, noise: float) -> tuple[xr.DataArray, xr.DataArray]:
    """Net benefit of investing, theta + psi - 0.6 (GBP), against 0, weighted by a measurement of theta.

    theta, psi ~ N(0, 1) a priori; a measurement ``observed`` of theta with
    normal error ``noise`` makes the posterior of theta normal (conjugate) and
    leaves psi as it was.
    """
    rng = np.random.default_rng(31)
    ds = xr.Dataset({"theta": ("draw", rng.normal(size=draws)), "psi": ("draw", rng.normal(size=draws))})
    post = nhsrisk.update(ds, nhsrisk.Observation("theta", value=observed, sd=noise))
    gain = post["theta"] + post["psi"] - 0.6
    nb = xr.concat([0.0 * gain, gain], dim="option").assign_coords(option=["status quo", "invest"])
    return nb, post["theta"]


def positive_part_mean(mean: float, sd: float) -> float:
    """E[max(0, X)] for X ~ Normal(mean, sd)."""
    return mean * st.norm.cdf(mean / sd) + sd * st.norm.pdf(mean / sd)


@pytest.mark.parametrize("method", ["spline", "binning"])
def test_evpi_and_evppi_of_a_conjugate_update_match_the_closed_forms(method: str) -> None:
    observed, noise = 1.3, 1.0
    nb, theta = normal_gain_posterior(20_000, observed, noise)
    precision = 1.0 + 1.0 / noise**2
    mean, sd = observed / noise**2 / precision, math.sqrt(1.0 / precision)  # 0.65, 0.707
    gain_mean = mean - 0.6
    exact_evpi = positive_part_mean(gain_mean, math.sqrt(sd**2 + 1.0)) - max(0.0, gain_mean)
    exact_evppi = positive_part_mean(gain_mean, sd) - max(0.0, gain_mean)
    full = evpi(nb)
    assert abs(float(full["evpi"]) - exact_evpi) <= 4 * float(full["evpi_mcse"])
    partial = evppi(nb, theta, method=method)
    assert abs(float(partial["evppi"]) - exact_evppi) <= 4 * float(partial["evppi_mcse"])
    # the prior's values are far from these: the weights are used
    prior_evppi = positive_part_mean(-0.6, 1.0)
    assert abs(prior_evppi - exact_evppi) > 10 * float(partial["evppi_mcse"])


def test_evppi_refuses_mismatched_or_too_concentrated_weights(run: xr.Dataset) -> None:
    nb = net_benefit_of(run)
    n = run.sizes["draw"]
    weighted = nb.assign_coords(weight=("draw", np.arange(n) % 3 + 1.0))
    other = run[DELAY].assign_coords(weight=("draw", np.ones(n)))
    with pytest.raises(ValueError, match=r"'parameters' parameter of evppi.*weighted exactly as net_benefit"):
        evppi(weighted, other)
    with pytest.raises(ValueError, match=r"'parameters' parameter of evppi.*where net_benefit has none"):
        evppi(nb, other)
    few = nb.assign_coords(weight=("draw", np.where(np.arange(n) < 20, 1.0, 0.0)))
    with pytest.raises(ValueError, match=r"'net_benefit' parameter of evppi.*20 effective draws"):
        evppi(few, run[DELAY])
    with pytest.raises(ValueError, match=r"'net_benefit' parameter of evpi.*weights worth 1 effective"):
        evpi(nb.assign_coords(weight=("draw", np.where(np.arange(n) == 0, 1.0, 0.0))))
    with pytest.raises(ValueError, match=r"'net_benefit' parameter of evpi.*negative"):
        evpi(nb.assign_coords(weight=("draw", np.where(np.arange(n) == 0, -1.0, 1.0))))
