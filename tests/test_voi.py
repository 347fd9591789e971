"""Value of information (EVPI, EVPPI) against closed forms, hand computations and scipy.

Net benefit is in GBP throughout; option 0 ("status quo") pays nothing, so EVPI
and EVPPI reduce to partial expectations of the other option's gain, which have
closed forms for normal and lognormal gains.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.stats as st
import xarray as xr

from nhsrisk.voi import _natural_spline_columns, evpi, evppi

DRAWS = 20_000


def positive_part_mean(mean: float, sd: float) -> float:
    """E[max(0, X)] for X ~ Normal(mean, sd): mean * Phi(mean / sd) + sd * phi(mean / sd)."""
    return mean * st.norm.cdf(mean / sd) + sd * st.norm.pdf(mean / sd)


def lognormal_call(mean_log: float, sd_log: float, strike: float) -> float:
    """E[max(0, exp(X) - strike)] for X ~ Normal(mean_log, sd_log), strike > 0 (Black-Scholes form)."""
    return math.exp(mean_log + sd_log**2 / 2) * st.norm.cdf(
        (mean_log + sd_log**2 - math.log(strike)) / sd_log
    ) - strike * st.norm.cdf((mean_log - math.log(strike)) / sd_log)


def against_status_quo(gain: np.ndarray) -> xr.DataArray:
    return xr.DataArray(
        np.stack([np.zeros_like(gain), gain]),
        dims=("option", "draw"),
        coords={"option": ["status quo", "invest"]},
    )


def draws_of(values: np.ndarray, name: str) -> xr.DataArray:
    return xr.DataArray(values, dims="draw", name=name)


# ----------------------------------------------------------------------------- EVPI


@pytest.mark.parametrize("mean", [-0.8, 0.0, 0.5])
def test_evpi_of_a_normal_gain_matches_the_closed_form(mean):
    sd = 1.3
    gain = np.random.default_rng(11).normal(mean, sd, 50_000)
    result = evpi(against_status_quo(gain))
    exact = positive_part_mean(mean, sd) - max(0.0, mean)
    # 4 Monte Carlo standard errors (two-sided false alarm ~6e-5). At mean 0 the options
    # tie, and max of the sample means biases EVPI down by ~0.4 SE: inside the tolerance.
    assert abs(float(result.evpi) - exact) <= 4 * float(result.evpi_mcse)


def test_evpi_of_a_discrete_case_computed_by_hand():
    nb = xr.DataArray(
        [[10.0, 0.0, 5.0, 5.0], [0.0, 20.0, 5.0, 1.0], [4.0, 4.0, 4.0, 4.0]],
        dims=("option", "draw"),
        coords={"option": ["A", "B", "C"]},
    )
    result = evpi(nb)
    # means 5, 6.5, 4; per-draw maxima 10, 20, 5, 5 -> 10; EVPI = 10 - 6.5
    assert float(result.evpi) == 3.5
    # regret against B: 10, 0, 0, 4 -> sd sqrt(67 / 3), over sqrt(4)
    assert float(result.evpi_mcse) == pytest.approx(math.sqrt(67 / 3) / 2, rel=1e-15)
    assert result.expected_net_benefit.values.tolist() == [5.0, 6.5, 4.0]
    assert str(result.best_option.values) == "B"
    # A wins draws 1 and 4, B draw 2, A and B tie in draw 3 (half each), C never
    assert result.probability_best.values.tolist() == [0.625, 0.375, 0.0]
    assert result.evpi.attrs["units"] == "GBP"


def test_evpi_survives_a_large_common_level_of_net_benefit():
    rng = np.random.default_rng(5)
    spread = rng.normal(0.0, 1.0, (3, 10_000))
    reference = evpi(xr.DataArray(spread, dims=("option", "draw")))
    shifted = evpi(xr.DataArray(spread + 1e9, dims=("option", "draw")))
    direct = spread.max(axis=0).mean() - spread.mean(axis=1).max()
    assert float(reference.evpi) == pytest.approx(direct, rel=1e-12)
    # Adding 1e9 GBP rounds each draw to the float spacing at 1e9 (1.2e-7); EVPI keeps that accuracy.
    assert float(shifted.evpi) == pytest.approx(direct, abs=1e-6)


def test_extra_dimensions_are_kept_and_each_computed_on_its_own():
    rng = np.random.default_rng(8)
    theta = rng.normal(0.0, 1.0, 5_000)
    per_person = np.stack([np.zeros_like(theta), theta + rng.normal(0.2, 1.0, theta.size)])
    population = np.array([1e3, 1e4, 1e5])
    nb = xr.DataArray(
        population[None, :, None] * per_person[:, None, :],
        dims=("option", "population", "draw"),
        coords={"option": ["status quo", "invest"], "population": population},
    ).transpose("draw", "option", "population")
    full = evpi(nb)
    assert full.evpi.dims == ("population",)
    assert full.probability_best.dims == ("population", "option")
    np.testing.assert_array_equal(full.population.values, population)
    single = evpi(xr.DataArray(per_person, dims=("option", "draw")))
    # EVPI is linear in a positive scale of every option's net benefit
    np.testing.assert_allclose(full.evpi.values, population * float(single.evpi), rtol=1e-12)

    partial = evppi(nb, draws_of(theta, "theta"))
    for size in population:
        alone = evppi(nb.sel(population=size), draws_of(theta, "theta"))
        assert float(partial.evppi.sel(population=size)) == pytest.approx(float(alone.evppi), rel=1e-12)
        assert float(partial.evppi_mcse.sel(population=size)) == pytest.approx(
            float(alone.evppi_mcse), rel=1e-12
        )


def test_results_are_deterministic():
    rng = np.random.default_rng(3)
    theta = rng.normal(size=4_000)
    nb = against_status_quo(theta + rng.normal(size=theta.size))
    xr.testing.assert_identical(evpi(nb), evpi(nb))
    xr.testing.assert_identical(evppi(nb, draws_of(theta, "theta")), evppi(nb, draws_of(theta, "theta")))
    assert evppi(nb, draws_of(theta, "theta"), method="binning").attrs["bins"] == round(4_000 ** (1 / 3))


# ----------------------------------------------------------------------------- EVPPI


def linear_case(seed: int, draws: int = DRAWS) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray, float]:
    """NB_1 = theta + psi with theta ~ N(-0.3, 1), psi ~ N(0.1, 1.5) independent, and EVPPI(theta)."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(-0.3, 1.0, draws)
    psi = rng.normal(0.1, 1.5, draws)
    # E[NB_1 | theta] = theta + 0.1 ~ N(-0.2, 1)
    exact = positive_part_mean(-0.2, 1.0) - max(0.0, -0.2)
    return against_status_quo(theta + psi), draws_of(theta, "theta"), draws_of(psi, "psi"), exact


def lognormal_case(seed: int, draws: int = DRAWS) -> tuple[xr.DataArray, xr.DataArray, float]:
    """NB_1 = exp(theta) + psi - 1.3 with theta ~ N(0, 0.5), psi ~ N(0, 1), and EVPPI(theta)."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(0.0, 0.5, draws)
    gain = np.exp(theta) + rng.normal(0.0, 1.0, draws) - 1.3
    exact = lognormal_call(0.0, 0.5, 1.3) - max(0.0, math.exp(0.5**2 / 2) - 1.3)
    return against_status_quo(gain), draws_of(theta, "theta"), exact


@pytest.mark.parametrize("method", ["spline", "binning"])
def test_evppi_of_one_normal_parameter_matches_the_closed_form(method):
    nb, theta, _, exact = linear_case(seed=21)
    result = evppi(nb, theta, method=method)
    # evppi_mcse is the delta-method standard error; the slow tier checks it against the
    # spread over independent seeds.
    assert abs(float(result.evppi) - exact) <= 4 * float(result.evppi_mcse)
    assert result.attrs["method"] == method
    assert result.attrs["parameters"] == ["theta"]


@pytest.mark.parametrize("method", ["spline", "binning"])
def test_evppi_of_a_lognormal_gain_matches_the_partial_expectation(method):
    nb, theta, exact = lognormal_case(seed=22)
    result = evppi(nb, theta, method=method)
    assert abs(float(result.evppi) - exact) <= 4 * float(result.evppi_mcse)


def test_learning_every_parameter_is_worth_the_evpi():
    nb, theta, psi, _ = linear_case(seed=23, draws=5_000)
    # NB is linear in (theta, psi), inside the spline space: the fit is exact up to rounding.
    for group in ([theta, psi], {"theta": theta, "psi": psi}, xr.Dataset({"theta": theta, "psi": psi})):
        result = evppi(nb, group)
        assert float(result.evppi) == pytest.approx(float(result.evpi), rel=1e-9)
        assert float(result.evppi_share) == pytest.approx(1.0, rel=1e-9)
        assert result.attrs["parameters"] == ["theta", "psi"]
        assert "warning" not in result.attrs


def test_a_pair_captures_an_interaction_that_an_additive_group_misses():
    rng = np.random.default_rng(24)
    theta = rng.normal(0.0, 1.0, DRAWS)
    psi = rng.normal(0.0, 1.0, DRAWS)
    unrelated = rng.normal(size=DRAWS)
    # Pure interaction: E[NB_1 | theta] and E[NB_1 | psi] are both constant (-0.2).
    nb = against_status_quo(theta * psi - 0.2 + rng.normal(0.0, 1.0, DRAWS))

    # Given theta, theta * psi - 0.2 ~ N(-0.2, |theta|); at theta = 0 it is the constant -0.2.
    def integrand(t: float) -> float:
        conditional = positive_part_mean(-0.2, abs(t)) if t != 0.0 else 0.0
        return conditional * st.norm.pdf(t)

    expected_max, quadrature_error = scipy.integrate.quad(integrand, -12.0, 12.0, points=[0.0])
    exact = expected_max - max(0.0, -0.2)
    pair = evppi(nb, [draws_of(theta, "theta"), draws_of(psi, "psi")])
    assert pair.attrs["terms"] == "natural cubic splines and their tensor product"
    assert abs(float(pair.evppi) - exact) <= 4 * float(pair.evppi_mcse) + quadrature_error
    # With a third parameter the group is additive only: theta * psi is out of reach and
    # nearly all of the value is lost, the documented downward bias.
    triple = evppi(nb, [draws_of(theta, "theta"), draws_of(psi, "psi"), draws_of(unrelated, "other")])
    assert triple.attrs["terms"] == "additive natural cubic splines, no interactions"
    assert float(triple.evppi) < 0.05 * exact


def test_evppi_lies_between_zero_and_evpi_and_an_irrelevant_parameter_is_worth_nothing():
    rng = np.random.default_rng(25)
    theta = rng.normal(0.0, 1.0, DRAWS)
    unrelated = rng.normal(0.0, 1.0, DRAWS)
    # Mean gain 0: the options tie, the hardest case for noise in the fitted values.
    nb = against_status_quo(theta + rng.normal(0.0, 1.0, DRAWS))
    for method in ("spline", "binning"):
        relevant = evppi(nb, draws_of(theta, "theta"), method=method)
        assert 0.0 <= float(relevant.evppi) <= float(relevant.evpi) + float(relevant.evppi_mcse)
        assert 0.0 <= float(relevant.evppi_share) <= 1.0 + float(relevant.evppi_mcse / relevant.evpi)
        irrelevant = evppi(nb, draws_of(unrelated, "unrelated"), method=method)
        # true value 0; the upward bias from noisy fits is of the order of the standard error
        assert 0.0 <= float(irrelevant.evppi) <= 4 * float(irrelevant.evppi_mcse)
        assert float(irrelevant.evppi_share) < 0.05


def test_a_discrete_parameter_gets_its_exact_conditional_means():
    rng = np.random.default_rng(26)
    level = rng.choice([0, 1, 2], size=DRAWS, p=[0.5, 0.3, 0.2])
    gain = 1.5 * level - 1.0 + rng.normal(0.0, 1.0, DRAWS)
    nb = against_status_quo(gain)
    shares = np.array([np.mean(level == k) for k in range(3)])
    conditional = np.array([gain[level == k].mean() for k in range(3)])
    by_hand = float(shares @ np.maximum(conditional, 0.0) - max(0.0, gain.mean()))
    for method in ("spline", "binning"):
        result = evppi(nb, draws_of(level, "level"), method=method)
        assert float(result.evppi) == pytest.approx(by_hand, rel=1e-12)
        assert result.attrs["discrete_parameters"] == ["level"]
    # and the sample value estimates the population one: levels 0, 1, 2 give mean gains -1, 0.5, 2
    exact = 0.3 * 0.5 + 0.2 * 2.0 - max(0.0, 0.3 * 0.5 + 0.2 * 2.0 - 0.5)
    assert abs(by_hand - exact) <= 4 * float(result.evppi_mcse)


def test_binning_matches_a_hand_computation_over_equal_count_bins():
    rng = np.random.default_rng(27)
    theta = rng.normal(size=1_000)
    nb = xr.DataArray(
        np.stack([theta + rng.normal(size=1_000), rng.normal(0.3, 1.0, 1_000)]), dims=("option", "draw")
    )
    result = evppi(nb, draws_of(theta, "theta"), method="binning", knots=10)
    order = np.argsort(theta)
    bin_means = nb.values[:, order].reshape(2, 10, 100).mean(axis=2)
    by_hand = bin_means.max(axis=0).mean() - nb.values.mean(axis=1).max()
    assert result.attrs["bins"] == 10
    assert float(result.evppi) == pytest.approx(by_hand, rel=1e-12)


def test_the_spline_fit_is_least_squares_on_the_natural_spline_space():
    # An independent construction of the same space: the truncated-power natural cubic spline
    # basis (Hastie, Tibshirani & Friedman, eq. 5.4-5.5) on knots at the documented quantiles.
    rng = np.random.default_rng(28)
    theta = rng.lognormal(0.0, 0.8, 5_000)
    gain = np.sin(theta) + rng.normal(0.0, 0.3, theta.size)
    result = evppi(against_status_quo(gain), draws_of(theta, "theta"), knots=6)
    z = (theta - theta.mean()) / theta.std()
    knots = np.quantile(z, np.linspace(0.025, 0.975, 6))

    def d(k: int) -> np.ndarray:
        return (np.maximum(z - knots[k], 0) ** 3 - np.maximum(z - knots[-1], 0) ** 3) / (knots[-1] - knots[k])

    design = np.column_stack([np.ones_like(z), z] + [d(k) - d(4) for k in range(4)])
    residual = gain - design @ np.linalg.lstsq(design, gain, rcond=None)[0]
    r_squared = 1 - residual @ residual / np.sum((gain - gain.mean()) ** 2)
    assert float(result.r_squared.sel(option="invest")) == pytest.approx(r_squared, rel=1e-9)
    assert float(result.r_squared.sel(option="status quo")) == 1.0  # constant: fitted exactly
    assert result.attrs["knots"] == 6
    assert result.attrs["coefficients"] == 6
    # The B-spline columns span that space too: linear beyond the boundary knots.
    columns = _natural_spline_columns(z, knots)
    beyond = z > knots[-1]
    curvature = np.polyfit(z[beyond], columns[beyond], 2)[0]
    np.testing.assert_allclose(curvature, 0.0, atol=1e-9)


def test_an_estimate_above_evpi_is_reported_not_clipped():
    # Net benefit of "invest" jumps from -1 to -0.001 GBP at theta = 0 and is never positive,
    # so EVPI is exactly 0; a spline overshoots the jump (Gibbs-like ringing) into positive values.
    theta = np.random.default_rng(29).normal(size=5_000)
    result = evppi(against_status_quo(np.where(theta < 0.0, -1.0, -0.001)), draws_of(theta, "theta"))
    assert float(result.evpi) == 0.0
    assert float(result.evppi) > float(result.evppi_mcse) > 0.0
    assert float(result.evppi_share) == 0.0
    assert "exceeds EVPI" in result.attrs["warning"]
    nb, theta_linear, _, _ = linear_case(seed=30, draws=5_000)
    assert "warning" not in evppi(nb, theta_linear).attrs


# ----------------------------------------------------------------------------- validation


def _nb(draws: int = 200) -> xr.DataArray:
    return against_status_quo(np.random.default_rng(0).normal(size=draws))


def _theta(draws: int = 200) -> xr.DataArray:
    return draws_of(np.random.default_rng(1).normal(size=draws), "theta")


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: evpi(np.zeros((2, 10))), TypeError, r"'net_benefit' parameter of evpi must be an xarray"),
        (
            lambda: evpi(_nb().rename(option="strategy")),
            ValueError,
            r"'option_dim' parameter of evpi must be a dimension of net_benefit .* Got 'option' instead",
        ),
        (lambda: evpi(_nb(), draw_dim="sample"), ValueError, r"'draw_dim' .* Got 'sample' instead"),
        (lambda: evpi(_nb(), option_dim="draw"), ValueError, r"'draw_dim' .* different from option_dim"),
        (lambda: evpi(_nb(), option_dim=3), TypeError, r"'option_dim' .* a non-empty str .* Got 3 instead"),
        (
            lambda: evpi(_nb().isel(option=[1])),
            ValueError,
            r"at least 2 options along 'option'\. Got 1 option",
        ),
        (lambda: evpi(_nb().isel(draw=[0])), ValueError, r"at least 2 draws along 'draw'\. Got 1 draw"),
        (
            lambda: evpi(_nb().where(_nb().draw > 2)),
            ValueError,
            r"'net_benefit' parameter of evpi must be finite .* Got non-finite values: "
            r"3 in option 'status quo', 3 in option 'invest' instead",
        ),
        (
            lambda: evppi(_nb(), _theta(), method="gam"),
            ValueError,
            r"'method' parameter of evppi must be one of \('spline', 'binning'\)\. Got 'gam' instead",
        ),
        (lambda: evppi(_nb(), _theta().values), TypeError, r"'parameters' .* Got an object of type ndarray"),
        (lambda: evppi(_nb(), {"theta": [1.0] * 200}), TypeError, r"Got 'theta' of type list instead"),
        (lambda: evppi(_nb(), []), ValueError, r"at least one parameter\. Got an empty list instead"),
        (
            lambda: evppi(_nb(), draws_of(np.full(200, 0.25), "risks.digital_exclusion")),
            ValueError,
            r"uncertain .* Got 'risks.digital_exclusion' constant at 0\.25 instead",
        ),
        (
            lambda: evppi(_nb(), _theta(199)),
            ValueError,
            r"same 200 draws as net_benefit\. Got 'theta' with 199 draws instead",
        ),
        (
            lambda: evppi(
                _nb().assign_coords(draw=np.arange(200)), _theta().assign_coords(draw=np.arange(1, 201))
            ),
            ValueError,
            r"equal 'draw' coordinates\)\. Got 'theta' with different 'draw' labels instead",
        ),
        (
            lambda: evppi(_nb(), _theta().expand_dims(year=["2025/26"])),
            ValueError,
            r"single dimension 'draw' .* Got 'theta' with dims \('year', 'draw'\) instead",
        ),
        (
            lambda: evppi(_nb(), _theta().where(_theta() > -1.0)),
            ValueError,
            r"finite .* Got 'theta' with \d+ non-finite draws instead",
        ),
        (
            lambda: evppi(_nb(), [_theta(), _theta().rename("psi")], method="binning"),
            ValueError,
            r"a single parameter for method='binning'\. Got 2 parameters instead",
        ),
        (
            lambda: evppi(_nb(), _theta(), knots=30),
            ValueError,
            r"'net_benefit' parameter of evppi must be drawn at least 10 times per regression coefficient "
            r"\(30 coefficients with 30 knots per parameter, so 300 draws\); .* Got 200 draws instead",
        ),
        (lambda: evppi(_nb(20), _theta(20)), ValueError, r"\(3 coefficients with 3 knots .* Got 20 draws"),
        (
            lambda: evppi(_nb(), _theta(), method="binning", knots=50),
            ValueError,
            r"50 coefficients with 50 bins",
        ),
        (
            lambda: evppi(_nb(), _theta(), knots=2),
            ValueError,
            r"'knots' parameter of evppi must be an int >= 3",
        ),
        (lambda: evppi(_nb(), _theta(), knots=4.5), TypeError, r"'knots' parameter of evppi .* Got 4\.5"),
    ],
)
def test_bad_input_is_named_before_any_work(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_evppi_standard_error_matches_the_spread_over_seeds_in_the_default_run():
    """The fast tier's own check of ``evppi_mcse`` (the tests above use it as their tolerance).

    A smaller copy of the full-tier test below: 20 independent runs of 2,000 draws. The
    sample sd of 20 estimates has a relative standard error of about 1 / sqrt(2 * 19) = 0.16,
    so the reported standard error must match the observed spread to 4 of those: a standard
    error several times too large or too small fails.
    """
    repeats = 20
    estimates, errors = [], []
    for seed in range(repeats):
        nb, theta, _, exact = linear_case(seed=5_000 + seed, draws=2_000)
        result = evppi(nb, theta)
        estimates.append(float(result.evppi))
        errors.append(float(result.evppi_mcse))
    spread = float(np.std(estimates, ddof=1))
    assert abs(np.mean(estimates) - exact) <= 4 * spread / math.sqrt(repeats)
    assert abs(np.mean(errors) / spread - 1.0) <= 4 / math.sqrt(2 * (repeats - 1))


# ----------------------------------------------------------------------------- full tier


@pytest.mark.slow
@pytest.mark.parametrize(
    ("case", "method"),
    [("linear", "spline"), ("linear", "binning"), ("lognormal", "spline"), ("lognormal", "binning")],
)
def test_evppi_is_unbiased_and_its_standard_error_matches_the_spread_over_seeds(case, method):
    repeats = 60
    estimates, errors = [], []
    for seed in range(repeats):
        if case == "linear":
            nb, theta, _, exact = linear_case(seed=1_000 + seed, draws=10_000)
        else:
            nb, theta, exact = lognormal_case(seed=1_000 + seed, draws=10_000)
        result = evppi(nb, theta, method=method)
        estimates.append(float(result.evppi))
        errors.append(float(result.evppi_mcse))
    estimates = np.array(estimates)
    spread = estimates.std(ddof=1)
    # Bias: the mean of 60 independent estimates is within 4 of its standard errors of the truth.
    assert abs(estimates.mean() - exact) <= 4 * spread / math.sqrt(repeats)
    # The reported standard error matches the observed spread: the sample sd of 60 values has a
    # relative standard error of about 1 / sqrt(2 * 59) = 0.092, so allow 4 of those.
    assert abs(np.mean(errors) / spread - 1.0) <= 4 / math.sqrt(2 * (repeats - 1))
