"""Dataset-level statistics, payback, convergence and the ``nhsrisk`` accessor, against references."""

from __future__ import annotations

import importlib
import math
import warnings

import numpy as np
import pytest
import scipy.stats as st
import xarray as xr

import nhsrisk
import nhsrisk.accessor
from nhsrisk.stats import (
    APPRAISAL_SUMMARY,
    SummaryDataset,
    budget_change_effect,
    describe,
    draws_needed,
    expected_shortfall,
    expected_shortfall_mcse,
    horizon_labels,
    payback,
    quantile_interval,
    running_mean,
    summary,
)

YEARS = ["2025/26", "2026/27", "2027/28"]


def toy_run(cumulative_at_target, *, bcr=None, claimed_return=3e9, spend=None, cumulative_value=None):
    """A results-like Dataset with known values: 3 years, target year the last one."""
    final = np.asarray(cumulative_at_target, dtype=float)
    if cumulative_value is None:
        cumulative_value = np.stack([final / 3, 2 * final / 3, final])
    n = final.size
    bcr = np.full(n, 0.5) if bcr is None else np.asarray(bcr, dtype=float)
    spend = np.ones((3, 2, n)) if spend is None else np.asarray(spend, dtype=float)
    return xr.Dataset(
        {
            "cumulative_value": (
                ("year", "draw"),
                np.asarray(cumulative_value, dtype=float),
                {"long_name": "Cumulative undiscounted value, all programmes", "units": "GBP"},
            ),
            "spend": (("year", "programme", "draw"), spend, {"long_name": "Spend", "units": "GBP/year"}),
            "npv": ("draw", final - 2e9, {"long_name": "Net present value", "units": "GBP"}),
            "bcr": ("draw", bcr, {"long_name": "Benefit-cost ratio", "units": "1"}),
            "claimed_return": ((), claimed_return, {"long_name": "Claimed return", "units": "GBP"}),
        },
        coords={"year": YEARS, "programme": ["a", "b"], "draw": np.arange(n)},
        attrs={"target_year": YEARS[-1], "scenario_name": "toy", "seed": "0", "price_base": "2023/24"},
    )


@pytest.fixture(scope="module")
def run():
    return nhsrisk.simulate(draws=2_000, seed=1)


# ----------------------------------------------------------------------------------------------
# describe
# ----------------------------------------------------------------------------------------------


def test_describe_matches_numpy_scipy_and_the_array_layer(rng):
    values = rng.gamma(2.0, 1e8, size=(2, 3, 1_000))
    da = xr.DataArray(
        values,
        dims=("year", "programme", "draw"),
        coords={"year": YEARS[:2], "programme": ["a", "b", "c"], "label": ("programme", ["A", "B", "C"])},
        name="value",
        attrs={"long_name": "Value of benefits", "units": "GBP/year"},
    )
    result = describe(da.transpose("draw", "programme", "year"), quantiles=(0.1, 0.5, 0.9), confidence=0.9)
    result = result.transpose("year", "programme", ...)
    np.testing.assert_allclose(result["mean"], values.mean(axis=-1), rtol=1e-14)
    np.testing.assert_allclose(result["sd"], st.tstd(values, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(result["mcse"], st.sem(values, axis=-1), rtol=1e-12)
    np.testing.assert_array_equal(
        result["quantile_estimate"], np.moveaxis(np.quantile(values, [0.1, 0.5, 0.9], axis=-1), 0, -1)
    )
    for index, q in enumerate((0.1, 0.5, 0.9)):
        estimate, low, high = quantile_interval(values, q, prob=0.9)
        np.testing.assert_array_equal(result["quantile_low"][..., index], low)
        np.testing.assert_array_equal(result["quantile_high"][..., index], high)
    np.testing.assert_array_equal(result["expected_shortfall"], expected_shortfall(values, 0.05))
    np.testing.assert_array_equal(result["expected_shortfall_mcse"], expected_shortfall_mcse(values, 0.05))
    assert result["quantile"].values.tolist() == [0.1, 0.5, 0.9]
    assert result["label"].values.tolist() == ["A", "B", "C"]
    assert "draw" not in result.dims
    for variable in result.data_vars.values():
        assert variable.attrs["units"] == "GBP/year"
    assert result["mean"].long_name == "Mean of Value of benefits"
    assert result["expected_shortfall"].long_name.endswith("lowest 0.05 share of Value of benefits")
    assert result.attrs["variable"] == "value" and result.attrs["n_draws"] == 1_000


def test_describe_recovers_a_normal_within_its_standard_errors(rng):
    mu, sigma, n = 3e9, 1e9, 100_000
    result = describe(xr.DataArray(rng.normal(mu, sigma, n), dims="draw", attrs={"units": "GBP"}))
    # 4 Monte Carlo standard errors: the mean's is the reported mcse; the sd's is sigma / sqrt(2 (n - 1)).
    assert abs(float(result["mean"]) - mu) <= 4 * float(result["mcse"])
    assert abs(float(result["sd"]) - sigma) <= 4 * sigma / math.sqrt(2 * (n - 1))
    q = np.array([0.05, 0.5, 0.95])
    exact = mu + sigma * st.norm.ppf(q)
    # asymptotic standard error of a sample quantile: sqrt(q (1 - q) / n) / density at the quantile
    quantile_se = np.sqrt(q * (1 - q) / n) / st.norm.pdf(exact, mu, sigma)
    assert np.all(np.abs(result["quantile_estimate"].values - exact) <= 4 * quantile_se)


def test_expected_shortfall_of_uniform_and_normal_is_the_analytic_tail_mean(rng):
    n, tail = 200_000, 0.05
    uniform = describe(xr.DataArray(rng.random(n), dims="draw"), tail=tail)
    # The lowest 5% of U(0, 1) is U(0, 0.05): mean tail / 2. Tolerance: 4 of its own standard errors.
    assert abs(float(uniform["expected_shortfall"]) - tail / 2) <= 4 * float(
        uniform["expected_shortfall_mcse"]
    )
    mu, sigma = 2.0, 3.0
    normal = describe(xr.DataArray(rng.normal(mu, sigma, n), dims="draw"), tail=tail)
    exact = mu - sigma * st.norm.pdf(st.norm.ppf(tail)) / tail
    assert abs(float(normal["expected_shortfall"]) - exact) <= 4 * float(normal["expected_shortfall_mcse"])
    # The standard error itself, closed form: [Var(X | X <= q) + (1 - tail) (q - ES)^2] / (n tail).
    z = st.norm.ppf(tail)
    ratio = st.norm.pdf(z) / tail
    tail_variance = sigma**2 * (1 - z * ratio - ratio**2)  # variance of a normal truncated above at z
    exact_se = math.sqrt((tail_variance + (1 - tail) * (sigma * (z + ratio)) ** 2) / (n * tail))
    # The estimated error is itself estimated from the 10,000 tail draws: about 1-2% relative error.
    assert float(normal["expected_shortfall_mcse"]) == pytest.approx(exact_se, rel=0.05)


def test_describe_treats_booleans_as_zero_one_and_constants_as_exact():
    raid = xr.DataArray(
        np.tile([True, False, False, False], 50), dims="draw", name="raid", attrs={"long_name": "Raid"}
    )
    result = describe(raid)
    assert float(result["mean"]) == 0.25 and result["mean"].units == "1"
    assert float(result["expected_shortfall"]) == 0.0
    constant = describe(xr.DataArray(np.full(200, 7.0), dims="draw"))
    assert float(constant["mean"]) == 7.0
    assert float(constant["sd"]) == 0.0 and float(constant["mcse"]) == 0.0
    assert float(constant["expected_shortfall_mcse"]) == 0.0


# Default tier (0.3 s): the run's one empirical coverage check of the quantile intervals.
def test_quantile_intervals_have_their_exact_binomial_coverage(rng):
    # 20,000 independent samples of 100 uniforms in one call (dimension "rep"). The interval
    # [x_(r), x_(s)] covers the true quantile q exactly when r <= #(draws below q) <= s - 1,
    # so its coverage is P(r <= B <= s - 1) for B ~ Binomial(100, q).
    reps, n, quantiles = 20_000, 100, (0.05, 0.5, 0.95)
    result = describe(xr.DataArray(rng.random((reps, n)), dims=("rep", "draw")), quantiles=quantiles)
    for index, q in enumerate(quantiles):
        low, high = result["quantile_low"][:, index], result["quantile_high"][:, index]
        hits = int(((low <= q) & (q <= high)).sum())
        _, r, s = quantile_interval(np.arange(1.0, n + 1), q)  # x_(k) = k: the bounds are the ranks
        exact = st.binom.cdf(s - 1, n, q) - st.binom.cdf(r - 1, n, q)
        assert exact >= 0.95
        # 4 binomial standard errors of a coverage estimated from `reps` repetitions
        assert abs(hits / reps - exact) <= 4 * math.sqrt(exact * (1 - exact) / reps)


@pytest.mark.slow
def test_expected_shortfall_standard_error_matches_its_spread_over_repetitions(rng):
    reps, n, tail = 2_000, 2_000, 0.05
    draws = rng.normal(size=(reps, n))
    result = describe(xr.DataArray(draws, dims=("rep", "draw")), tail=tail)
    spread = float(result["expected_shortfall"].std(ddof=1))
    predicted = math.sqrt(float((result["expected_shortfall_mcse"] ** 2).mean()))
    # The sd of `reps` near-normal estimates has relative standard error 1 / sqrt(2 (reps - 1)): 4 of them.
    tolerance = 4 / math.sqrt(2 * (reps - 1))
    assert predicted / spread == pytest.approx(1.0, abs=tolerance)
    # The naive sqrt(Var(X | X <= q) / k) leaves out the quantile's randomness and fails the same test.
    worst = np.sort(draws, axis=-1)[:, : round(tail * n)]
    naive = math.sqrt(float((worst.var(axis=-1, ddof=1) / worst.shape[-1]).mean()))
    assert abs(naive / spread - 1.0) > tolerance


# ----------------------------------------------------------------------------------------------
# summary
# ----------------------------------------------------------------------------------------------


def test_summary_probabilities_are_exact_on_hand_built_draws():
    final = np.arange(1.0, 1001.0) * 1e7  # GBP 0.01bn .. 10bn
    bcr = np.where(np.arange(1000) < 250, 0.5, 1.0)  # exactly 1 is not below 1
    result = summary(toy_run(final, bcr=bcr, claimed_return=9e9))
    assert float(result["target"]) == 9e9 and result["target"].attrs["source"] == "claimed_return"
    assert float(result["p_target"]) == 0.101  # 900 .. 1000, the tie included
    assert float(result["p_target_mcse"]) == pytest.approx(math.sqrt(0.101 * 0.899 / 1000), rel=1e-14)
    # one-sided 95% Clopper-Pearson = upper end of the two-sided 90% exact interval
    reference = st.binomtest(101, 1000).proportion_ci(confidence_level=0.90, method="exact").high
    assert float(result["p_target_upper_95"]) == pytest.approx(reference, rel=1e-10)
    assert float(result["p_bcr_below_1"]) == 0.25
    assert float(result["p_bcr_below_1_mcse"]) == pytest.approx(math.sqrt(0.25 * 0.75 / 1000), rel=1e-14)
    assert float(result["productivity_at_risk"]) == float(expected_shortfall(final, 0.05))
    assert float(result["productivity_at_risk"]) == np.arange(1.0, 51.0).mean() * 1e7

    # nearly certain is not certain: 1 draw in 5,000 with a BCR of 1 prints as 99.98%, not 100%
    almost = summary(toy_run(np.linspace(1e8, 2e9, 5_000), bcr=np.r_[np.zeros(4_999), 1.0]))
    line = next(line for line in repr(almost).splitlines() if line.startswith("P(benefit-cost ratio < 1)"))
    assert line.endswith(" 99.98% ± 0.020%")  # sqrt(0.9998 * 0.0002 / 5000) = 0.020%

    # median shortfall: the target minus the median, with the order statistics bounding the median
    median = float(np.median(final))  # 500.5 x 1e7
    assert float(result["median_shortfall"]) == 9e9 - median
    _, low, high = quantile_interval(final, 0.5)
    assert float(result["median_shortfall_low"]) == 9e9 - float(high)
    assert float(result["median_shortfall_high"]) == 9e9 - float(low)
    assert result["median_shortfall"].units == "GBP"

    overridden = summary(toy_run(final), target=1e7)
    assert float(overridden["p_target"]) == 1.0 and overridden["target"].attrs["source"] == "target argument"


def test_summary_upper_bound_is_the_rule_of_three_when_no_draw_reaches_the_target():
    result = summary(toy_run(np.linspace(1e8, 2e9, 500), claimed_return=7e9))
    assert float(result["p_target"]) == 0.0 and float(result["p_target_mcse"]) == 0.0
    assert float(result["p_target_upper_95"]) == pytest.approx(1 - 0.05 ** (1 / 500), rel=1e-12)


APPRAISAL_OUTPUTS = [
    "npv",
    "bcr",
    "pv_costs",
    "pv_capital_cost",
    "pv_running_cost",
    "pv_dual_running_cost",
    "pv_benefits",
    "pv_cash_releasing",
    "pv_non_cash_releasing",
    "pv_patient",
    "pv_residual_value",
    "npv_distributional",
]


def test_summary_of_a_simulation_has_the_documented_structure(run):
    result = summary(run)
    assert isinstance(result, SummaryDataset) and isinstance(result, xr.Dataset)
    claim = ["cumulative_value[2029/30]", "shortfall[2029/30]"]
    assert result["output"].values.tolist() == [*claim, *APPRAISAL_OUTPUTS]
    assert [name for name, _ in APPRAISAL_SUMMARY] == APPRAISAL_OUTPUTS
    assert result["output_horizon"].values.tolist() == ["claim window"] * 2 + ["appraisal period"] * 12
    assert result["output_units"].values.tolist() == ["GBP", "GBP", "GBP", "1", *["GBP"] * 10]
    assert dict(result.sizes) == {"output": 14, "quantile": 3}
    # the shortfall is the claim less the value, draw by draw: its quantiles mirror the value's
    value = run["cumulative_value"].sel(year="2029/30").values
    claim_value = float(run["claimed_return"])
    shortfall = result.sel(output="shortfall[2029/30]")
    assert float(shortfall["mean"]) == pytest.approx(claim_value - value.mean(), rel=1e-12)
    np.testing.assert_allclose(
        shortfall["quantile_estimate"].values, claim_value - np.quantile(value, [0.95, 0.5, 0.05]), rtol=1e-12
    )
    assert float(result["median_shortfall"]) == pytest.approx(float(shortfall["quantile_estimate"][1]))
    assert result["quantile_estimate"].dims == ("output", "quantile")
    for name in (
        "p_target",
        "p_target_mcse",
        "p_target_upper_95",
        "median_shortfall",
        "p_bcr_below_1",
        "productivity_at_risk",
    ):
        assert result[name].dims == ()
    for variable in [*result.data_vars.values(), *result.coords.values()]:
        assert variable.attrs["long_name"]
        if not str(variable.name).startswith("output") and variable.name != "quantile":
            assert variable.attrs["units"]
    assert result["productivity_at_risk"].units == "GBP" and result["p_target"].units == "1"
    assert result.attrs["claim_window"] == "2025/26 to 2029/30"
    assert result.attrs["appraisal_period"] == "2025/26 to 2034/35"
    final = run["cumulative_value"].sel(year="2029/30")
    for name in APPRAISAL_OUTPUTS:
        assert float(result["mean"].sel(output=name)) == float(describe(run[name])["mean"]), name
    assert float(result["p_target"]) == float((final >= run["claimed_return"]).mean())
    assert float(result["p_bcr_below_1"]) == float((run["bcr"] < 1).mean())
    assert float(result["median_shortfall"]) == 7e9 - float(final.median())
    assert result.attrs["target_year"] == "2029/30" and result.attrs["n_draws"] == 2_000
    # The components add up to their totals, draw by draw, so their means do too.
    mean = result["mean"]
    costs = float(
        mean.sel(output="pv_capital_cost")
        + mean.sel(output="pv_running_cost")
        + mean.sel(output="pv_dual_running_cost")
    )
    assert costs == pytest.approx(float(mean.sel(output="pv_costs")), rel=1e-12)
    kinds = ["pv_cash_releasing", "pv_non_cash_releasing", "pv_patient", "pv_residual_value"]
    benefits = float(mean.sel(output=kinds).sum())
    assert benefits == pytest.approx(float(mean.sel(output="pv_benefits")), rel=1e-12)
    npv = float(mean.sel(output="pv_benefits") - mean.sel(output="pv_costs"))
    assert npv == pytest.approx(float(mean.sel(output="npv")), rel=1e-9)


def test_summary_reports_the_present_values_only_when_the_results_have_them():
    # A Dataset with only the headline outputs (a v1 results file, a toy) is still summarised.
    result = summary(toy_run(np.linspace(1e8, 2e9, 200)))
    assert result["output"].values.tolist() == [
        "cumulative_value[2027/28]",
        "shortfall[2027/28]",
        "npv",
        "bcr",
    ]
    assert "Appraisal period 2025/26 to 2027/28" in repr(result)


def test_summary_prints_one_section_per_horizon_and_an_escaped_html_table(run):
    result = summary(run)
    text = repr(result)
    assert str(result) == text
    claim = text.index("\nClaim window 2025/26 to 2029/30\n")
    appraisal = text.index("\nAppraisal period 2025/26 to 2034/35 (Green Book, 3.5%)\n")
    assert claim < appraisal
    claim_section, appraisal_section = text[claim:appraisal], text[appraisal:]
    for label in ("Cumulative value by 2029/30", "£bn", "mean ± MCSE", "5% [95% CI]", "95% [95% CI]"):
        assert label in claim_section, label
    assert "P(cumulative value by 2029/30 >= £7.00bn)" in claim_section
    assert "one-sided 95% upper bound 0.150%" in claim_section  # no draw reaches £7bn: 1 - 0.05 ** (1 / 2000)
    assert "\nShortfall against £7.00bn " in claim_section
    assert "Mean of the worst 5% of outcomes (2029/30)" in claim_section
    for _, label in APPRAISAL_SUMMARY:
        assert f"\n{label} " in appraisal_section, label
    assert "P(benefit-cost ratio < 1)" in appraisal_section and "ratio" in appraisal_section
    # every row of both sections has the same columns, so the numbers line up (2 headers, 14 outputs)
    rows = [line for line in text.splitlines() if line.endswith("]") and "±" in line]
    assert len(rows) == 16 and len({len(line) for line in rows}) == 1
    page = result._repr_html_()
    assert page.startswith("<div") and "<table" in page and "<script" not in page
    assert "Claim window 2025/26 to 2029/30" in page and "&gt;= £7.00bn" in page
    assert page.index("Claim window") < page.index("Appraisal period") < page.index("residual value")

    years = ["<b>1</b>", "2", "3"]
    toy = toy_run(np.linspace(1e8, 2e9, 200)).assign_coords(year=years)
    toy.attrs["target_year"] = years[0]
    page = summary(toy)._repr_html_()
    assert "&lt;b&gt;1&lt;/b&gt;" in page and "<b>1</b>" not in page


def test_horizon_labels_name_both_periods_and_the_discount_rate(run):
    assert horizon_labels(run) == (
        "Claim window 2025/26 to 2029/30",
        "Appraisal period 2025/26 to 2034/35 (Green Book, 3.5%)",
    )
    toy = toy_run(np.ones(10))  # no claim_window, appraisal_period or discount_rate attributes
    assert horizon_labels(toy) == ("Claim window 2025/26 to 2027/28", "Appraisal period 2025/26 to 2027/28")
    assert (
        horizon_labels(toy, discount_rate=0.05)[1] == "Appraisal period 2025/26 to 2027/28 (discounted at 5%)"
    )
    assert horizon_labels(summary(run)) == horizon_labels(run)  # a summary keeps its run's horizons


def test_describe_keeps_the_horizon_of_an_appraisal_output(run):
    assert describe(run["npv"]).attrs["horizon"] == "2025/26 to 2034/35 (appraisal period)"
    assert "horizon" not in describe(run["value"]).attrs


def test_summary_dataset_still_works_as_an_xarray_dataset(run, tmp_path):
    result = summary(run)
    npv = result.sel(output="npv")
    assert isinstance(npv, SummaryDataset) and float(npv["mean"]) == float(result["mean"][2])
    assert "Data variables" in repr(npv)  # no longer the summary layout: printed as a plain Dataset
    plain = result.to_dataset()
    assert type(plain) is xr.Dataset
    assert plain.identical(result)
    path = tmp_path / "summary.nc"
    result.to_netcdf(path)
    xr.testing.assert_allclose(xr.load_dataset(path), plain)


# ----------------------------------------------------------------------------------------------
# payback
# ----------------------------------------------------------------------------------------------


def test_payback_on_hand_built_draws():
    # Cumulative spend is 2, 4, 6 (two programmes of 1 a year). Draws: pays back in year 1; in
    # year 2 then falls back below (benefit decay: first crossing counts); in year 3; never; never.
    cumulative_value = np.array(
        [
            [2.0, 1.0, 1.0, 0.0, 1.9],
            [3.0, 4.0, 2.0, 0.0, 3.9],
            [9.0, 5.0, 6.0, 0.0, 5.9],
        ]
    )
    result = payback(toy_run(cumulative_value[-1], cumulative_value=cumulative_value))
    np.testing.assert_array_equal(result["payback_probability"], [0.2, 0.4, 0.6])
    np.testing.assert_allclose(
        result["payback_probability_mcse"], np.sqrt([0.2 * 0.8, 0.24, 0.24]) / np.sqrt(5)
    )
    assert result["payback_year"].values.tolist() == [*YEARS, "not by 2027/28"]
    np.testing.assert_array_equal(result["payback_year_probability"], [0.2, 0.2, 0.2, 0.4])
    assert float(result["payback_year_probability"].sum()) == 1.0
    assert str(result["median_payback_year"].values) == "2027/28"
    assert result["year"].values.tolist() == YEARS
    assert (
        result.attrs["definition"].endswith("cumulative spend")
        and result.attrs["period"] == "2025/26 to 2027/28"
    )

    # Running costs count: 0.5 a year on each programme from the second year makes cumulative
    # costs 2, 5, 8, so the third draw (6 by year 3) no longer pays back, nor the fifth (3.9 < 5).
    running = np.zeros((3, 2, 5))
    running[1:] = 0.5
    ds = toy_run(cumulative_value[-1], cumulative_value=cumulative_value).assign(
        running_cost=(("year", "programme", "draw"), running)
    )
    result = payback(ds)
    np.testing.assert_array_equal(result["payback_probability"], [0.2, 0.2, 0.2])
    np.testing.assert_array_equal(result["payback_year_probability"], [0.2, 0.0, 0.0, 0.8])
    assert result.attrs["definition"].endswith("cumulative spend + running_cost")


def test_payback_of_a_simulation_counts_capital_running_and_dual_running_costs_over_the_appraisal_period(run):
    result = payback(run)
    assert result["year"].values.tolist() == run["year"].values.tolist()  # ten years, not five
    assert result.attrs["period"] == "2025/26 to 2034/35"
    assert float(result["payback_year_probability"].sum()) == pytest.approx(1.0, abs=1e-12)
    costs = (run["spend"] + run["running_cost"] + run["dual_running_cost"]).sum("programme").cumsum("year")
    paid = (run["cumulative_value"] >= costs).cumsum("year") > 0
    assert result.attrs["definition"].endswith("cumulative spend + running_cost + dual_running_cost")
    np.testing.assert_array_equal(result["payback_probability"], paid.mean("draw"))
    first = xr.where(paid.any("year"), paid.argmax("year"), run.sizes["year"])
    categories = result["payback_year"].values.tolist()
    shares = np.bincount(first.values, minlength=len(categories)) / run.sizes["draw"]
    np.testing.assert_array_equal(result["payback_year_probability"], shares)
    median = categories[int(np.argmax(np.cumsum(shares) >= 0.5))]
    assert str(result["median_payback_year"].values) == median
    # A run that lost a cost line is refused, not paid back against a smaller cost
    with pytest.raises(ValueError, match="'running_cost' is an output this run did not keep"):
        payback(run.drop_vars("running_cost"))
    # Capital alone (a Dataset built by hand, without a run's attrs) is a lower cost: at least as
    # many draws pay back against it in every year.
    by_hand = run.drop_vars(["running_cost", "dual_running_cost"])
    by_hand.attrs = {}
    capital_only = payback(by_hand)
    assert (capital_only["payback_probability"] >= result["payback_probability"]).all()


# ----------------------------------------------------------------------------------------------
# budget_change_effect
# ----------------------------------------------------------------------------------------------


def effect_run(spend, final_value, *, seed="1", name="toy"):
    """Results-like Dataset for budget_change_effect: PV of benefits 2 x value, PV of costs = capital."""
    spend = np.asarray(spend, dtype=float)
    final_value = np.asarray(final_value, dtype=float)
    n = final_value.size
    capital = spend.reshape(-1, n).sum(axis=0)
    cumulative = np.stack([final_value / 3, 2 * final_value / 3, final_value])
    gbp = {"units": "GBP"}
    return xr.Dataset(
        {
            "spend": (("year", "programme", "draw"), spend, {"units": "GBP/year"}),
            "cumulative_value": (("year", "draw"), cumulative, gbp),
            "pv_benefits": ("draw", 2 * final_value, gbp),
            "pv_costs": ("draw", capital, gbp),
            "npv": ("draw", 2 * final_value - capital, gbp),
        },
        coords={"year": YEARS, "programme": ["a", "b"], "draw": np.arange(n)},
        attrs={
            "target_year": YEARS[-1],
            "price_base": "2023/24",
            "seed": seed,
            "start": 0,
            "scenario_name": name,
        },
    )


def test_budget_change_effect_on_hand_built_paired_draws():
    base_spend = np.ones((3, 2, 4))
    cut_spend = base_spend.copy()
    cut_spend[1, 0] -= [1.0, 0.5, 1.0, 0.5]  # capital 5, 5.5, 5, 5.5 against 6: budget change -0.75
    base = effect_run(base_spend, [10.0, 12.0, 14.0, 16.0], name="base")
    cut = effect_run(cut_spend, [9.0, 11.5, 13.0, 15.5], name="cut")  # each draw loses 1 per 1 cut
    effect = budget_change_effect(cut, base)
    assert effect["output"].values.tolist() == ["cumulative_value[2027/28]", "pv_benefits", "pv_costs", "npv"]
    assert float(effect["budget_change"]) == -0.75
    assert float(effect["scenario_capital"]) == 5.25 and float(effect["baseline_capital"]) == 6.0
    differences = np.array([-1.0, -0.5, -1.0, -0.5])
    assert float(effect["budget_change_mcse"]) == pytest.approx(differences.std(ddof=1) / 2, rel=1e-15)
    np.testing.assert_allclose(effect["change"], [-0.75, -1.5, -0.75, -0.75], rtol=1e-15)
    np.testing.assert_allclose(effect["change_mcse"], np.array([1, 2, 1, 1]) * differences.std(ddof=1) / 2)
    np.testing.assert_allclose(
        effect["scenario_mean"] - effect["baseline_mean"], effect["change"], rtol=1e-15
    )
    # value moves exactly with the money in every draw: the ratio has no Monte Carlo error at all
    np.testing.assert_allclose(effect["per_gbp"], [1.0, 2.0, 1.0, 1.0], rtol=1e-15)
    np.testing.assert_allclose(effect["per_gbp_mcse"], 0.0, atol=1e-15)
    assert effect["per_gbp"].units == "1" and effect["change"].units == "GBP"
    assert effect.attrs["paired"] == 1 and effect.attrs["common_random_numbers"] == 1
    assert effect.attrs["scenario_name"] == "cut" and effect.attrs["baseline_name"] == "base"
    # a different seed still pairs the draws (independent pairs), but they share no random numbers
    other = budget_change_effect(cut.assign_attrs(seed="2"), base)
    assert other.attrs["paired"] == 1 and other.attrs["common_random_numbers"] == 0
    # no budget change, no ratio: NaN rather than a division by zero
    same = budget_change_effect(base, base)
    assert float(same["budget_change"]) == 0.0 and np.isnan(same["per_gbp"]).all()
    np.testing.assert_array_equal(same["change"], 0.0)


def test_budget_change_effect_of_independent_runs_of_different_sizes(rng):
    base_spend = 1.0 + rng.random((3, 2, 6))
    cut_spend = 0.5 + rng.random((3, 2, 4))
    base_value, cut_value = rng.normal(10.0, 1.0, 6), rng.normal(8.0, 1.0, 4)
    effect = budget_change_effect(effect_run(cut_spend, cut_value), effect_run(base_spend, base_value))
    assert effect.attrs["paired"] == 0 and effect.attrs["baseline_n_draws"] == 6
    capital_s, capital_b = cut_spend.reshape(-1, 4).sum(0), base_spend.reshape(-1, 6).sum(0)
    budget = capital_s.mean() - capital_b.mean()
    assert float(effect["budget_change"]) == pytest.approx(budget, rel=1e-14)
    assert float(effect["budget_change_mcse"]) == pytest.approx(
        math.sqrt(capital_s.var(ddof=1) / 4 + capital_b.var(ddof=1) / 6), rel=1e-14
    )
    change = cut_value.mean() - base_value.mean()
    claim = effect.isel(output=0)
    assert float(claim["change"]) == pytest.approx(change, rel=1e-14)
    ratio = change / budget
    # delta method: the error of mean(D - R B) over |mean(B)|, each run contributing its own variance
    residual = (cut_value - ratio * capital_s).var(ddof=1) / 4 + (base_value - ratio * capital_b).var(
        ddof=1
    ) / 6
    assert float(claim["per_gbp"]) == pytest.approx(ratio, rel=1e-14)
    assert float(claim["per_gbp_mcse"]) == pytest.approx(math.sqrt(residual) / abs(budget), rel=1e-12)


def test_budget_change_effect_standard_errors_match_their_spread_over_repetitions(rng):
    # Paired draws with a noisy cut and a noisy loss per GBP: 400 repetitions of 500 draws.
    reps, n = 400, 500
    ratios, errors, changes, change_errors = [], [], [], []
    for _ in range(reps):
        base_spend = np.ones((3, 2, n))
        cut_spend = base_spend.copy()
        cut = rng.uniform(0.2, 1.0, n)
        cut_spend[1, 0] -= cut
        base_value = rng.normal(10.0, 2.0, n)
        cut_value = base_value - 0.6 * cut + rng.normal(0.0, 0.1, n)
        effect = budget_change_effect(effect_run(cut_spend, cut_value), effect_run(base_spend, base_value))
        claim = effect.isel(output=0)
        ratios.append(float(claim["per_gbp"]))
        errors.append(float(claim["per_gbp_mcse"]))
        changes.append(float(claim["change"]))
        change_errors.append(float(claim["change_mcse"]))
    # The sd of `reps` near-normal estimates has relative standard error 1 / sqrt(2 (reps - 1)): 4 of them.
    tolerance = 4 / math.sqrt(2 * (reps - 1))
    for estimates, predicted in ((ratios, errors), (changes, change_errors)):
        spread = float(np.std(estimates, ddof=1))
        assert math.sqrt(float(np.mean(np.square(predicted)))) / spread == pytest.approx(1.0, abs=tolerance)
    assert float(np.mean(ratios)) == pytest.approx(0.6, abs=4 * float(np.std(ratios)) / math.sqrt(reps))


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (
            lambda ds: ds["npv"],
            TypeError,
            r"'baseline_ds' parameter of budget_change_effect must be an xarray",
        ),
        (lambda ds: ds.assign_attrs(target_year="2026/27"), ValueError, r"same target year .* Got '2026/27'"),
        (lambda ds: ds.assign_attrs(price_base="2024/25"), ValueError, r"same price base"),
        (lambda ds: ds.assign_coords(year=["a", "b", "c"]), ValueError, r"same years"),
        (lambda ds: ds.drop_vars("pv_benefits"), ValueError, r"'baseline_ds' parameter .* Got 'pv_benefits'"),
    ],
)
def test_budget_change_effect_names_what_does_not_match(change, error, match):
    run = effect_run(np.ones((3, 2, 5)), np.arange(5.0))
    with pytest.raises(error, match=match):
        budget_change_effect(run, change(run))


# ----------------------------------------------------------------------------------------------
# convergence
# ----------------------------------------------------------------------------------------------


def test_running_mean_ends_on_the_full_mean_and_matches_direct_prefix_means(rng):
    # GBP-sized values with a small spread: raw sums of squares would lose the variance to cancellation.
    values = 1e12 + rng.normal(0.0, 1.0, size=(2, 5_000))
    da = xr.DataArray(values, dims=("year", "draw"), coords={"year": YEARS[:2]}, attrs={"units": "GBP"})
    trace = running_mean(da, points=30)
    counts = trace["n_draws"].values
    assert counts[0] == 2 and counts[-1] == 5_000 and np.all(np.diff(counts) > 0)
    full = describe(da)
    np.testing.assert_array_equal(trace["mean"][:, -1], full["mean"])
    np.testing.assert_array_equal(trace["mcse"][:, -1], full["mcse"])
    for index in (0, len(counts) // 2, len(counts) - 2):
        prefix = values[:, : counts[index]]
        np.testing.assert_allclose(trace["mean"][:, index], prefix.mean(axis=-1), rtol=1e-15)
        # Reference on data shifted by their first value (an exact subtraction for numbers within a
        # factor 2): scipy's own two-pass sd at 1e12 carries the rounding of its mean into the variance.
        reference = st.sem(prefix - prefix[:, :1], axis=-1)
        np.testing.assert_allclose(trace["mcse"][:, index], reference, rtol=1e-12)
    z = st.norm.ppf(0.975)
    np.testing.assert_allclose(trace["ci_high"] - trace["mean"], z * trace["mcse"], rtol=1e-9, atol=1e-3)
    assert trace["mean"].units == "GBP" and trace["mean"].dims == ("year", "n_draws")


def test_running_mean_of_a_dataset_variable(run):
    trace = running_mean(run, "bcr", points=50)
    assert float(trace["mean"][-1]) == float(run["bcr"].mean())
    assert trace.attrs["variable"] == "bcr"


# ----------------------------------------------------------------------------------------------
# draws_needed
# ----------------------------------------------------------------------------------------------


def test_draws_needed_formulas(rng):
    pilot = rng.normal(0.0, 2.0, 4_000)
    sd = pilot.std(ddof=1)
    assert draws_needed(pilot, 0.05) == math.ceil((sd / 0.05) ** 2)
    assert draws_needed(pilot, 0.05, confidence=0.95) == math.ceil((st.norm.ppf(0.975) * sd / 0.05) ** 2)
    p = float((pilot >= 1.0).mean())
    assert draws_needed(pilot, 0.01, statistic="probability", threshold=1.0) == math.ceil(p * (1 - p) / 1e-4)
    # the worst cell decides for a multi-dimensional output
    wide = xr.DataArray(np.stack([pilot, 10 * pilot]), dims=("year", "draw"))
    assert draws_needed(wide, 0.05) == math.ceil((10 * sd / 0.05) ** 2)
    # a constant output has an exact mean: one draw
    assert draws_needed(np.full(100, 3.0), 0.01) == 1
    # a probability not seen in the pilot: the rule-of-three bound stands in for p
    bound = 1 - 0.05 ** (1 / 4_000)
    assert draws_needed(pilot, 1e-4, statistic="probability", threshold=100.0) == math.ceil(
        bound * (1 - bound) / 1e-8
    )


def test_draws_needed_delivers_the_requested_precision(rng):
    mean_pilot = rng.lognormal(0.0, 0.5, 2_000)
    n = draws_needed(mean_pilot, 0.005)
    fresh = rng.lognormal(0.0, 0.5, n)
    mcse = fresh.std(ddof=1) / math.sqrt(n)
    # MCSE / precision = s_fresh / s_pilot: relative sampling error of each sd is
    # sqrt((kurtosis - 1) / (4 m)); the lognormal(0, 0.5) kurtosis is 8.9. 4 standard errors.
    kurtosis = float(st.lognorm(0.5).stats(moments="k")) + 3
    relative = math.sqrt((kurtosis - 1) / 4 * (1 / 2_000 + 1 / n))
    assert mcse / 0.005 == pytest.approx(1.0, abs=4 * relative)

    p_pilot = rng.random(2_000)
    n = draws_needed(p_pilot, 0.002, statistic="probability", threshold=0.8)  # p = 0.2
    p = float((rng.random(n) >= 0.8).mean())
    # relative sd of sqrt(p (1 - p)) estimated from m draws: |1 - 2p| / (2 sqrt(p (1 - p) m)) = 0.75 / sqrt(m)
    relative = 0.75 * math.sqrt(1 / 2_000 + 1 / n)
    assert math.sqrt(p * (1 - p) / n) / 0.002 == pytest.approx(1.0, abs=4 * relative)


# ----------------------------------------------------------------------------------------------
# accessor
# ----------------------------------------------------------------------------------------------


def test_accessors_are_one_liners_over_the_functions(run):
    xr.testing.assert_identical(run.nhsrisk.summary(target=1e9), summary(run, target=1e9))
    xr.testing.assert_identical(run.nhsrisk.describe("value", tail=0.1), describe(run["value"], tail=0.1))
    xr.testing.assert_identical(run.nhsrisk.payback(), payback(run))
    xr.testing.assert_identical(run.nhsrisk.running_mean("npv", 20), running_mean(run, "npv", 20))
    assert run.nhsrisk.draws_needed(1e7, variable="bcr") == draws_needed(run["bcr"], 1e7)
    xr.testing.assert_identical(run["uptake"].nhsrisk.describe(), describe(run["uptake"]))
    xr.testing.assert_identical(
        run["npv"].nhsrisk.running_mean(points=20), running_mean(run["npv"], points=20)
    )
    assert run["npv"].nhsrisk.draws_needed(1e7) == draws_needed(run["npv"], 1e7)


def test_registering_the_accessor_again_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(nhsrisk.accessor)
    assert hasattr(xr.Dataset, "nhsrisk") and hasattr(xr.DataArray, "nhsrisk")


# ----------------------------------------------------------------------------------------------
# reliability: clear errors
# ----------------------------------------------------------------------------------------------


def test_quantile_interval_reports_the_smallest_sufficient_number_of_draws():
    with pytest.raises(ValueError, match=r"about (\d+) are needed") as caught:
        quantile_interval(np.arange(20.0), 0.01)
    needed = int(caught.value.args[0].split("about ")[1].split()[0])
    quantile_interval(np.arange(float(needed)), 0.01)  # enough
    with pytest.raises(ValueError):
        quantile_interval(np.arange(float(needed - 1)), 0.01)


def test_describe_says_how_many_draws_it_needs():
    short = xr.DataArray(np.arange(30.0), dims="draw", name="npv")
    with pytest.raises(
        ValueError, match=r"describe: 30 draws are too few .* 0\.05 quantile; about 72 are needed"
    ):
        describe(short)
    with pytest.raises(ValueError, match=r"expected shortfall at tail=0\.01 .* about 101 are needed"):
        describe(xr.DataArray(np.arange(100.0), dims="draw"), quantiles=[0.5], tail=0.01)


def test_unknown_variable_lists_the_valid_ones(run):
    with pytest.raises(ValueError, match=r"'variable' parameter of running_mean must be one of") as caught:
        running_mean(run, "npvv")
    message = str(caught.value)
    assert "'cumulative_value'" in message and "'bcr'" in message and "sampled inputs" in message
    assert "Got 'npvv' instead. (did you mean 'npv'?)" in message
    with pytest.raises(ValueError, match=r"'variable' parameter of ds.nhsrisk.describe"):
        run.nhsrisk.describe("values")


def test_nan_is_an_error_naming_the_variable():
    ds = toy_run(np.linspace(1e8, 2e9, 200))
    ds["npv"][3] = np.nan
    with pytest.raises(
        ValueError, match=r"'ds' parameter of summary must hold finite values\. Got 1 .* 'npv'"
    ):
        summary(ds)
    with pytest.raises(ValueError, match=r"'da' parameter of describe .* in 'npv'"):
        describe(ds["npv"])
    with pytest.raises(ValueError, match=r"in 'npv'"):
        running_mean(ds, "npv")
    with pytest.raises(ValueError, match=r"in 'npv'"):
        draws_needed(ds["npv"], 1.0)
    ds = toy_run(np.linspace(1e8, 2e9, 200))
    ds["spend"][0, 0, 0] = np.inf
    with pytest.raises(ValueError, match=r"payback .* in 'spend'"):
        payback(ds)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda ds: describe(ds["npv"].values), TypeError, r"'da' parameter of describe must be an xarray"),
        (lambda ds: describe(ds["npv"][:1]), ValueError, r"describe: 1 draws are too few"),
        (lambda ds: describe(ds["npv"], dim="rep"), ValueError, r"'dim' .* \('draw',\)\. Got 'rep'"),
        (lambda ds: describe(ds["npv"], quantiles=[0.5, 1.5]), ValueError, r"'quantiles' .* \(0, 1\)"),
        (lambda ds: describe(ds["npv"], quantiles=[]), ValueError, r"'quantiles' .* non-empty"),
        (lambda ds: describe(ds["npv"], quantiles="0.5"), TypeError, r"'quantiles' .* sequence"),
        (lambda ds: describe(ds["npv"], quantiles=[0.5, 0.5]), ValueError, r"'quantiles' .* distinct"),
        (lambda ds: draws_needed([1.0, np.nan], 1.0), ValueError, r"finite values\. Got 1 NaN"),
        (lambda ds: describe(ds["npv"], confidence=1), ValueError, r"'confidence'"),
        (lambda ds: summary(ds, tail=0.0), ValueError, r"'tail' parameter of summary"),
        (lambda ds: summary(ds, target="7bn"), TypeError, r"'target' .* GBP or None\. Got '7bn'"),
        (lambda ds: summary(ds, target=math.nan), ValueError, r"'target'"),
        (lambda ds: summary(ds.drop_vars("bcr")), ValueError, r"'ds' parameter of summary .* Got 'bcr'"),
        (lambda ds: summary(ds.drop_vars("claimed_return")), ValueError, r"'target' .* no 'claimed_return'"),
        (lambda ds: summary(ds.assign_attrs(target_year="2031/32")), ValueError, r"target_year"),
        (lambda ds: summary(ds["npv"]), TypeError, r"'ds' parameter of summary must be an xarray.Dataset"),
        (lambda ds: running_mean(ds["npv"], "npv"), ValueError, r"'variable' .* None when a DataArray"),
        (lambda ds: running_mean(ds, points=1), ValueError, r"'points' .* >= 2"),
        (lambda ds: draws_needed(ds["npv"], 0.0), ValueError, r"'precision' .* positive finite number"),
        (lambda ds: draws_needed(ds["npv"], "1"), TypeError, r"'precision'"),
        (lambda ds: draws_needed(ds["npv"], 1.0, threshold=0.0), ValueError, r"'threshold' .* None unless"),
        (lambda ds: draws_needed(ds["npv"], 0.1, statistic="probability"), ValueError, r"'threshold'"),
        (lambda ds: draws_needed(ds["npv"], 1.0, statistic="median"), ValueError, r"'statistic'"),
        (lambda ds: draws_needed(ds, 1.0), TypeError, r"pick a variable"),
        (lambda ds: draws_needed(np.ones(1), 1.0), ValueError, r"at least 2 pilot draws"),
        (lambda ds: expected_shortfall_mcse(np.arange(20.0)), ValueError, r"at least 21 draws .* Got 20"),
    ],
)
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call(toy_run(np.linspace(1e8, 2e9, 200)))


# ----------------------------------------------------------------------------------------------
# one summary: of a streamed run too (issue 13, item 2)
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def streamed_and_full():
    streamed = nhsrisk.simulate(draws=20_000, seed=8, keep="summary", chunks=4_096)
    full = nhsrisk.simulate(draws=20_000, seed=8)
    return streamed, full


def test_summary_of_a_streamed_run_agrees_with_the_summary_of_its_draws(streamed_and_full):
    streamed, full = streamed_and_full
    of_stream, of_draws = summary(streamed), summary(full)
    outputs = of_stream["output"].values.tolist()
    assert outputs == ["cumulative_value[2029/30]", "shortfall[2029/30]", "npv", "bcr"]
    exact = of_draws.sel(output=outputs)
    for statistic in ("mean", "sd", "mcse"):
        # exact moments merged across chunks against numpy over all draws: rounding only
        np.testing.assert_allclose(of_stream[statistic], exact[statistic], rtol=1e-9)
    for name in ("p_target", "p_target_upper_95", "p_bcr_below_1", "p_bcr_below_1_mcse"):
        assert float(of_stream[name]) == pytest.approx(float(of_draws[name]), rel=1e-12, abs=0)
    # a sketch quantile's rank is within the stated rank error (99% confidence) of the one asked for
    error = float(streamed.attrs["quantile_rank_error"])
    n = full.sizes["draw"]
    values = {
        "cumulative_value[2029/30]": full["cumulative_value"].sel(year="2029/30").values,
        "shortfall[2029/30]": float(full["claimed_return"])
        - full["cumulative_value"].sel(year="2029/30").values,
        "npv": full["npv"].values,
        "bcr": full["bcr"].values,
    }
    for output, draws in values.items():
        row = of_stream.sel(output=output)
        for k, q in enumerate(of_stream["quantile"].values):
            estimate = float(row["quantile_estimate"][k])
            low, high = float(row["quantile_low"][k]), float(row["quantile_high"][k])
            assert low <= estimate <= high
            rank = np.mean(draws <= estimate)
            assert abs(rank - q) <= error + 1 / n, (output, q)
            # the interval is the order-statistic one, widened by the rank error: it holds the exact one
            exact_low = float(exact["quantile_low"].sel(output=output)[k])
            exact_high = float(exact["quantile_high"].sel(output=output)[k])
            assert low <= exact_low + 1e-9 * abs(exact_low) and high >= exact_high - 1e-9 * abs(exact_high)


def test_a_streamed_summary_prints_as_the_summary_does_and_says_what_it_lacks(streamed_and_full):
    streamed, _ = streamed_and_full
    result = summary(streamed)
    text = repr(result)
    assert text.startswith("nhsrisk summary of as-announced, 20,000 draws, seed 8, 2023/24 prices")
    assert "Claim window 2025/26 to 2029/30" in text and "Appraisal period 2025/26 to 2034/35" in text
    assert "\nShortfall against £7.00bn " in text and "P(benefit-cost ratio < 1)" in text
    assert "Mean of the worst" not in text  # no tail mean in a sketch
    assert "not available from a streamed summary" in result["expected_shortfall"].attrs["note"]
    assert len(result.to_dataframe()) > 0


def test_a_streamed_summary_names_the_quantiles_and_level_it_can_give(streamed_and_full):
    streamed, _ = streamed_and_full
    with pytest.raises(
        ValueError, match=r"'quantiles' parameter of summary .*\[0\.05, 0\.25, 0\.5, 0\.75, 0\.95\]"
    ):
        summary(streamed, quantiles=(0.1, 0.9))
    with pytest.raises(ValueError, match="'confidence' parameter of summary must be 0.95"):
        summary(streamed, confidence=0.9)
    assert summary(streamed, quantiles=(0.25, 0.75))["quantile"].values.tolist() == [0.25, 0.75]


def test_a_dataset_without_an_output_the_summary_needs_says_which(run):
    with pytest.raises(ValueError, match="'npv'"):
        summary(run.drop_vars("npv"))
