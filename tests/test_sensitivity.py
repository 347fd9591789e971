"""Rank correlation and PRCC against scipy, explicit regressions, Gaussian closed forms, published values."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats as st
import xarray as xr

import nhsrisk
from nhsrisk.sensitivity import _doubled_centred_ranks, prcc, rank_correlation

YEARS = list(nhsrisk.load_scenario().years)  # the appraisal period, ten years
#: Years with planned capital: only these can be raided (the raid indicator is constant in the others).
FUNDED = ["2025/26", "2026/27", "2027/28"]
DELAY = "programmes.it_modernisation.delivery_delay"


@pytest.fixture(scope="module")
def run() -> xr.Dataset:
    return nhsrisk.simulate(draws=2000, seed=1)


def synthetic(inputs: dict[str, np.ndarray], output: np.ndarray) -> xr.Dataset:
    """A minimal run: sampled inputs and an output 'y' over the same draws."""
    data_vars = {
        name: ("draw", values, {"long_name": f"Input {name}", "units": "1", "sampled_input": 1})
        for name, values in inputs.items()
    }
    data_vars["y"] = ("draw", output, {"long_name": "Output y", "units": "GBP"})
    return xr.Dataset(data_vars, coords={"draw": np.arange(output.size)})


def gaussian_linear_model(
    rng: np.random.Generator, effects: np.ndarray, draws: int
) -> tuple[xr.Dataset, np.ndarray, np.ndarray]:
    """y = sum_i a_i x_i + e with independent x_i ~ N(0, s_i^2), e ~ N(0, 1); ``effects`` holds a_i s_i.

    Returns the Dataset and the population Spearman correlations and PRCCs. For a Gaussian vector
    the rank (Spearman) correlation is rho_s = (6 / pi) asin(r / 2) (Pearson 1907; Kruskal 1958), and
    the population PRCC is the partial correlation computed from that Spearman matrix.
    """
    k = effects.size
    x = rng.normal(size=(k, draws)) * np.arange(1, k + 1)[:, None]  # s_i = i: ranks ignore scale
    y = (effects / np.arange(1, k + 1)) @ x + rng.normal(size=draws)
    pearson = np.eye(k + 1)
    pearson[:k, k] = pearson[k, :k] = effects / math.sqrt(effects @ effects + 1.0)
    spearman = 6.0 / math.pi * np.arcsin(pearson / 2.0)
    ds = synthetic({f"x{i}": x[i] for i in range(k)}, y)
    return ds, spearman[:k, k], partial_correlations(spearman)


def partial_correlations(correlation: np.ndarray) -> np.ndarray:
    precision = np.linalg.inv(correlation)
    return -precision[:-1, -1] / np.sqrt(np.diagonal(precision)[:-1] * precision[-1, -1])


def by_label(result: xr.Dataset, name: str, labels: list[str]) -> np.ndarray:
    return result[name].sel(input=labels).values


# --- exactness against independent computations ---------------------------------------------------


def test_doubled_centred_ranks_are_scipy_average_ranks(rng):
    for values in (rng.normal(size=1001), rng.integers(0, 4, size=1000).astype(float), rng.random(7) < 0.5):
        out = np.empty(values.size, dtype=np.int32)
        _doubled_centred_ranks(values, out=out)
        np.testing.assert_array_equal(out, 2 * st.rankdata(values) - (values.size + 1))


def test_spearman_and_p_value_equal_scipy_on_a_real_run(run):
    result = rank_correlation(run, "npv")
    checks = {
        "programmes.it_modernisation.support_years": run["programmes.it_modernisation.support_years"],  # ties
        "programmes.it_modernisation.black_swan": run["programmes.it_modernisation.black_swan"],  # binary
        "programmes.staff_technology.delivery_delay": run["programmes.staff_technology.delivery_delay"],
        "risks.released_time_used": run["risks.released_time_used"],
        "risks.raid_fraction[2026/27]": run["risks.raid_fraction"].sel(year="2026/27"),
        "risks.raid_event[2025/26]": run["raid"].sel(year="2025/26"),
        "programmes.patient_services.patients.value_per_contact": run[
            "programmes.patient_services.patients.value_per_contact"
        ],
    }
    for label, values in checks.items():
        reference = st.spearmanr(values.values, run["npv"].values)
        assert float(result["spearman"].sel(input=label)) == pytest.approx(reference.statistic, abs=1e-12)
        assert float(result["p_value"].sel(input=label)) == pytest.approx(reference.pvalue, rel=1e-9)


def test_prcc_equals_explicit_residual_regression_on_ranks(run):
    result = prcc(run, "npv")
    labels = list(result["input"].values)
    columns = {label: _input_values(run, label) for label in labels}
    ranks = np.column_stack([st.rankdata(columns[label]) for label in labels])
    output_ranks = st.rankdata(run["npv"].values)
    for label in [DELAY, "risks.raid_event[2027/28]", "risks.staff_capacity", labels[-1]]:
        i = labels.index(label)
        others = np.column_stack([np.ones(len(output_ranks)), np.delete(ranks, i, axis=1)])
        targets = np.column_stack([ranks[:, i], output_ranks])
        residuals = targets - others @ np.linalg.lstsq(others, targets, rcond=None)[0]
        expected = np.corrcoef(residuals.T)[0, 1]
        assert float(result["prcc"].sel(input=label)) == pytest.approx(expected, abs=1e-10)


def test_prcc_p_value_is_the_t_test_of_the_rank_regression_coefficient(rng):
    # The t statistic of x_i's coefficient in the OLS of rank(y) on all input ranks (n - k - 1 degrees of
    # freedom) equals r sqrt(df / (1 - r^2)) for the partial correlation r: an independent route to p.
    ds, _, _ = gaussian_linear_model(rng, np.array([0.6, 0.3, 0.1, 0.0]), draws=300)
    result = prcc(ds, "y")
    labels = [f"x{i}" for i in range(4)]
    design = np.column_stack([np.ones(300)] + [st.rankdata(ds[label].values) for label in labels])
    output_ranks = st.rankdata(ds["y"].values)
    coefficients, *_ = np.linalg.lstsq(design, output_ranks, rcond=None)
    residual = output_ranks - design @ coefficients
    degrees_of_freedom = 300 - 4 - 1
    covariance = residual @ residual / degrees_of_freedom * np.linalg.inv(design.T @ design)
    t = coefficients[1:] / np.sqrt(np.diagonal(covariance)[1:])
    np.testing.assert_allclose(
        by_label(result, "p_value", labels), 2 * st.t.sf(np.abs(t), degrees_of_freedom), rtol=1e-9
    )


def test_prcc_of_a_single_input_is_its_spearman_correlation(run):
    one = prcc(run, "npv", inputs=["risks.staff_capacity"])
    spearman = rank_correlation(run, "npv", inputs="risks.staff_capacity")
    np.testing.assert_allclose(one["prcc"].values, spearman["spearman"].values, atol=1e-14)
    np.testing.assert_allclose(one["p_value"].values, spearman["p_value"].values, rtol=1e-12)


def test_interval_reproduces_the_published_bonett_wright_example():
    # statpsych::ci.spear (Bonett), documented example: estimate 0.8699639, SE 0.08241326,
    # 95% limits 0.5840951 and 0.9638297 (Bonett & Wright 2000 variance, n = 15).
    y = np.array([21, 4, 9, 12, 35, 18, 10, 22, 24, 1, 6, 8, 13, 16, 19], dtype=float)
    x = np.array([67, 28, 30, 28, 52, 40, 25, 37, 44, 10, 14, 20, 28, 40, 51], dtype=float)
    result = rank_correlation(synthetic({"x": x}, y), "y")
    assert float(result["spearman"][0]) == pytest.approx(0.8699639, abs=5e-8)
    assert float(result["conf_low"][0]) == pytest.approx(0.5840951, abs=5e-8)
    assert float(result["conf_high"][0]) == pytest.approx(0.9638297, abs=5e-8)


# --- analytic Gaussian case ----------------------------------------------------------------------------


def test_gaussian_linear_model_matches_the_closed_forms(rng):
    effects = np.array([1.5, 1.0, 0.5, 0.0])  # a_i s_i
    draws = 40_000
    ds, expected_spearman, expected_prcc = gaussian_linear_model(rng, effects, draws)

    # Pearson partial correlation of the Gaussian model: a_i s_i / sqrt(a_i^2 s_i^2 + s_e^2), s_e = 1.
    pearson = np.eye(5)
    pearson[:4, 4] = pearson[4, :4] = effects / math.sqrt(effects @ effects + 1.0)
    closed_form = effects / np.sqrt(effects**2 + 1.0)
    np.testing.assert_allclose(partial_correlations(pearson), closed_form, atol=1e-12)
    # Ranks give nearly the same (0.80, 0.66, 0.40 against 0.83, 0.71, 0.45): asin(r / 2) 6 / pi <= r
    # pulls every rank correlation, and so the partial ones here, slightly towards zero.
    assert np.all((0 <= expected_prcc) & (expected_prcc <= closed_form))

    labels = [f"x{i}" for i in range(4)]
    for function, name, expected, controls in (
        (prcc, "prcc", expected_prcc, 3),
        (rank_correlation, "spearman", expected_spearman, 0),
    ):
        estimate = by_label(function(ds, "y"), name, labels)
        # Monte Carlo tolerance: 4 standard errors of the Fisher z of a rank correlation,
        # sqrt((1 + r^2 / 2) / (n - 3 - controls)) (Bonett & Wright 2000); a false failure has
        # probability about 6e-5 per coefficient.
        standard_error = np.sqrt((1 + expected**2 / 2) / (draws - 3 - controls))
        assert np.all(np.abs(np.arctanh(estimate) - np.arctanh(expected)) < 4 * standard_error)


@pytest.mark.slow
def test_intervals_cover_the_population_value_at_their_level():
    # Strong effects on purpose: the plain Fisher interval 1/sqrt(n - 3 - controls) covers only about
    # 90% at a PRCC near 0.94, while the Bonett & Wright variance keeps the nominal level.
    rng = np.random.default_rng(2024)
    effects = np.array([3.0, 1.0, 0.3, 0.0])
    trials, draws = 1000, 300
    prcc_hits = np.zeros(4)
    spearman_hits = np.zeros(4)
    labels = [f"x{i}" for i in range(4)]
    for _ in range(trials):
        ds, expected_spearman, expected_prcc = gaussian_linear_model(rng, effects, draws)
        partial = prcc(ds, "y", confidence=0.95)
        simple = rank_correlation(ds, "y", confidence=0.95)
        prcc_hits += (by_label(partial, "conf_low", labels) <= expected_prcc) & (
            expected_prcc <= by_label(partial, "conf_high", labels)
        )
        spearman_hits += (by_label(simple, "conf_low", labels) <= expected_spearman) & (
            expected_spearman <= by_label(simple, "conf_high", labels)
        )
    # The intervals are asymptotic: allow 3 binomial standard errors of the coverage estimate below 0.95.
    floor = 0.95 - 3 * math.sqrt(0.95 * 0.05 / trials)
    assert np.all(prcc_hits / trials >= floor), prcc_hits / trials
    assert np.all(spearman_hits / trials >= floor), spearman_hits / trials


# --- shape of the result ---------------------------------------------------------------------------


def test_result_is_sorted_labelled_and_includes_the_raid_indicators(run):
    result = prcc(run)
    magnitude = np.abs(result["prcc"].values)
    assert np.all(np.diff(magnitude) <= 0)
    labels = list(result["input"].values)
    assert len(set(labels)) == len(labels)
    assert {f"risks.raid_event[{year}]" for year in FUNDED} <= set(labels)
    # no money, no raid: the indicator of a year without planned capital is constant, and dropped
    unfunded = [f"risks.raid_event[{year}]" for year in YEARS if year not in FUNDED]
    assert not set(unfunded) & set(labels)
    assert result.attrs["constant_inputs"] == unfunded
    assert {f"risks.raid_fraction[{year}]" for year in YEARS} <= set(labels)
    assert "risks.raid_fraction" not in labels
    raid = result.sel(input="risks.raid_event[2025/26]")
    assert "indicator" in str(raid["long_name"].values) and str(raid["units"].values) == "1"
    assert str(result["units"].sel(input=DELAY).values) == "years"
    assert result.attrs["method"] == "prcc" and result.attrs["output"] == "npv"
    assert result.attrs["n_draws"] == 2000 and result.attrs["year"] == ""
    assert np.all((result["conf_low"] <= result["prcc"]) & (result["prcc"] <= result["conf_high"]))


def test_year_selection_defaults_to_the_target_year(run):
    default = rank_correlation(run, "cumulative_value")
    assert default.attrs["year"] == run.attrs["target_year"] == "2029/30"
    explicit = rank_correlation(run, run["cumulative_value"].sel(year="2029/30"))
    xr.testing.assert_equal(default["spearman"], explicit["spearman"])

    early = rank_correlation(run, "cumulative_value", year="2026/27")
    same = rank_correlation(run, run["cumulative_value"].sel(year="2026/27"))
    assert early.attrs["year"] == "2026/27"
    xr.testing.assert_equal(early["spearman"], same["spearman"])
    assert not early["spearman"].sortby("input").equals(default["spearman"].sortby("input"))


def test_inputs_select_by_base_name_or_year_label(run):
    by_base = rank_correlation(run, inputs=["risks.raid_fraction", "risks.staff_capacity"])
    assert set(by_base["input"].values) == {f"risks.raid_fraction[{y}]" for y in YEARS} | {
        "risks.staff_capacity"
    }
    one_year = rank_correlation(run, inputs=["risks.raid_event[2026/27]"])
    assert list(one_year["input"].values) == ["risks.raid_event[2026/27]"]


def test_constant_inputs_are_dropped_and_recorded(rng):
    x = rng.normal(size=200)
    ds = synthetic({"x": x, "fixed": np.full(200, 0.3)}, x + rng.normal(size=200))
    result = prcc(ds, "y")
    assert list(result["input"].values) == ["x"]
    assert result.attrs["constant_inputs"] == ["fixed"]


# --- validation ------------------------------------------------------------------------------------


def test_bad_arguments_are_named(run):
    cases = [
        (lambda: prcc(run["npv"]), TypeError, r"'ds' parameter of prcc must be an xarray\.Dataset"),
        (
            lambda: prcc(run, "nope"),
            ValueError,
            r"'output' parameter of prcc .* such as \[.*'npv'.*Got 'nope'",
        ),
        (lambda: prcc(run, 3), TypeError, r"'output' parameter of prcc must be a variable name"),
        (
            lambda: prcc(run, "value"),
            ValueError,
            r"reduce \['programme'\] first, e\.g\. ds\['value'\]\.sum\('programme'\)",
        ),
        (lambda: prcc(run, "risks.staff_capacity"), ValueError, "not one of the sampled inputs"),
        (
            lambda: prcc(run, "cumulative_value", year="2040/41"),
            ValueError,
            r"one of \['2025/26'.*Got '2040/41'",
        ),
        (lambda: prcc(run, "npv", year="2029/30"), ValueError, r"'npv' has no 'year' dimension"),
        (lambda: prcc(run, "cumulative_value", year=2029), TypeError, r"'year' parameter of prcc"),
        (
            lambda: prcc(run, confidence=1.0),
            ValueError,
            r"'confidence' parameter of prcc must be in \(0, 1\)",
        ),
        (
            lambda: rank_correlation(run, inputs=["nope"]),
            ValueError,
            r"one of \[.*'risks\.digital_exclusion'",
        ),
        (lambda: rank_correlation(run, inputs=[]), ValueError, r"'inputs' parameter .* non-empty"),
        (lambda: rank_correlation(run, inputs=[1]), TypeError, r"'inputs' parameter"),
        (lambda: prcc(run, run["npv"][:100]), ValueError, "defined on the draws of ds"),
    ]
    for call, error, match in cases:
        with pytest.raises(error, match=match):
            call()


def test_unreliable_data_is_refused(rng):
    x = rng.normal(size=(3, 50))
    y = x.sum(axis=0)
    with pytest.raises(ValueError, match=r"6 draws are too few for 3 inputs; at least 7 are needed"):
        prcc(synthetic({f"x{i}": x[i, :6] for i in range(3)}, y[:6]), "y")
    with pytest.raises(ValueError, match=r"4 draws are too few .* at least 5"):
        rank_correlation(synthetic({"x": x[0, :4]}, y[:4]), "y")
    with pytest.raises(ValueError, match=r"Got NaN or infinity in 'y' \(1 of 50 draws\)"):
        prcc(synthetic({"x": x[0]}, np.where(np.arange(50) == 7, np.nan, y)), "y")
    with pytest.raises(ValueError, match=r"'ds' parameter .* NaN or infinity in 'x1'"):
        prcc(synthetic({"x0": x[0], "x1": np.where(np.arange(50) == 3, np.inf, x[1])}, y), "y")
    with pytest.raises(ValueError, match=r"varying across draws. Got 'y', constant"):
        prcc(synthetic({"x": x[0]}, np.ones(50)), "y")
    with pytest.raises(ValueError, match=r"every selected input is constant"):
        prcc(synthetic({"c": np.zeros(50)}, y), "y")


def test_collinear_ranks_are_refused_naming_the_inputs(rng):
    x = rng.normal(size=(3, 100))
    # exp keeps the order, so x0 and its exponential have identical ranks.
    ds = synthetic({"x0": x[0], "x1": x[1], "x0_exp": np.exp(x[0])}, x.sum(axis=0))
    with pytest.raises(ValueError, match=r"collinear ranks in \['x0', 'x0_exp'\]") as error:
        prcc(ds, "y")
    assert "'x1'" not in str(error.value)
    prcc(ds, "y", inputs=["x0", "x1"])  # dropping one of them resolves it


def _input_values(run: xr.Dataset, label: str) -> np.ndarray:
    if "[" not in label:
        return run[label].values
    base, year = label[:-1].split("[")
    variable = run["raid"] if base == "risks.raid_event" else run[base]
    return variable.sel(year=year).values.astype(float)
