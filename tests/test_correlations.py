"""Correlated inputs: the ``[correlations]`` table, its validation and the Gaussian copula in ``simulate``.

A Gaussian copula whose normal-scale correlation is ``2 sin(pi r / 6)`` gives continuous inputs the
Spearman rank correlation ``r`` (Kruskal 1958: for a bivariate normal with correlation rho, Spearman's
rho is (6 / pi) asin(rho / 2)), and leaves every marginal exactly as it was. Marginals are checked
against independent scipy references built here from the textbook parametrisations (as in
``test_distributions.py``), never through ``Distribution.to_scipy``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numba
import numpy as np
import pytest
import scipy.stats as st
import xarray as xr

import nhsrisk
from nhsrisk.distributions import PERT, Bernoulli, Distribution, LogNormal
from nhsrisk.scenario import Scenario, ScenarioError

SEED = 20_250_417  # chosen once, before any test was run; never tuned to make a case pass
ALPHA = 0.01  # significance level of the goodness-of-fit tests
ACCEPTANCE_DRAWS = 100_000
DEFAULT = nhsrisk.load_scenario()
# The default without its own correlations (across programmes' overruns and delays): independent inputs.
BASE = DEFAULT.without_correlations()
OVERRUN = "programmes.it_modernisation.cost_overrun"
# Four continuous inputs of the default scenario (one lognormal, three PERT), with positive,
# negative and zero rank correlations. Positive definite on both scales (smallest eigenvalues
# 0.41 and 0.39), so the copula is the ordinary Cholesky case.
INPUTS = [OVERRUN, "risks.digital_exclusion", "risks.staff_capacity", "risks.funding_elasticity"]
MATRIX = np.array(
    [
        [1.0, 0.4, -0.3, 0.2],
        [0.4, 1.0, -0.5, 0.0],
        [-0.3, -0.5, 1.0, 0.3],
        [0.2, 0.0, 0.3, 1.0],
    ]
)
SOURCE = "assumption: test correlations"
CORRELATED = BASE.with_correlations(INPUTS, MATRIX, source=SOURCE, note="for the tests")


def spearman_z_tolerance(n: int) -> float:
    """Five standard errors of Fisher's z of a sample Spearman correlation of n draws of a copula.

    Its variance is 1.06 / (n - 3) (Fieller, Hartley & Pearson 1957); five standard errors give a
    false-alarm rate of 6e-7 per pair.
    """
    return 5 * math.sqrt(1.06 / (n - 3))


def reference(distribution: Distribution) -> Any:
    """Frozen scipy law of a continuous scenario input, built from its own parameters."""
    if isinstance(distribution, PERT):
        low, mode, high, lam = distribution.low, distribution.mode, distribution.high, distribution.lam
        width = high - low
        return st.beta(1 + lam * (mode - low) / width, 1 + lam * (high - mode) / width, loc=low, scale=width)
    if isinstance(distribution, LogNormal):
        return st.lognorm(distribution.sigma, scale=math.exp(distribution.mu))
    raise NotImplementedError(f"no reference for {distribution!r}")


def without_run_attrs(ds: xr.Dataset) -> xr.Dataset:
    """The Dataset with its global attrs (start, n_draws, ...) dropped; variable attrs kept."""
    return ds.drop_attrs(deep=False)


@pytest.fixture(scope="module")
def acceptance_runs() -> tuple[xr.Dataset, xr.Dataset]:
    """The same 100,000 draws with and without the correlations: the sampled inputs and the NPV."""

    def inputs_and_npv(scenario: Scenario) -> xr.Dataset:
        ds = nhsrisk.simulate(scenario, draws=ACCEPTANCE_DRAWS, seed=SEED)
        # keep what the tests read, not the ~5 kB a draw of per-year outputs
        return ds[[name for name, v in ds.data_vars.items() if v.attrs.get("sampled_input")] + ["npv"]]

    return inputs_and_npv(CORRELATED), inputs_and_npv(BASE)


# ---------------------------------------------------------------------------------------------
# 1. What the copula achieves
# ---------------------------------------------------------------------------------------------
def test_achieved_spearman_correlations_are_those_asked_for(acceptance_runs: Any) -> None:
    correlated, _ = acceptance_runs
    achieved = st.spearmanr(np.stack([correlated[name].values for name in INPUTS], axis=1)).statistic
    n = ACCEPTANCE_DRAWS
    # Monte Carlo tolerance on Fisher's z (ranks do not see the marginals, so this is the bivariate
    # normal case). The acceptance criterion, 0.02 on the correlation itself, is about 6 of these
    # standard errors.
    z_tolerance = spearman_z_tolerance(n)
    for i in range(len(INPUTS)):
        for j in range(i):
            label = f"{INPUTS[i]} vs {INPUTS[j]}"
            assert abs(achieved[i, j] - MATRIX[i, j]) <= 0.02, f"{label}: {achieved[i, j]:.4f}"
            assert abs(np.arctanh(achieved[i, j]) - np.arctanh(MATRIX[i, j])) <= z_tolerance, label
    assert correlated.attrs["correlated_inputs"] == INPUTS


def test_the_default_scenarios_own_correlations_are_achieved() -> None:
    # Overruns and delays of the three strands are rank-correlated in the shipped scenario.
    correlations = DEFAULT.correlations
    assert correlations is not None and len(correlations.inputs) == 6
    n = 20_000
    ds = nhsrisk.simulate(DEFAULT, draws=n, seed=SEED)
    achieved = st.spearmanr(np.stack([ds[name].values for name in correlations.inputs], axis=1)).statistic
    wanted = correlations.as_array()
    for i in range(len(correlations.inputs)):
        for j in range(i):
            label = f"{correlations.inputs[i]} vs {correlations.inputs[j]}"
            assert abs(np.arctanh(achieved[i, j]) - np.arctanh(wanted[i, j])) <= spearman_z_tolerance(n), (
                label
            )


def test_correlated_marginals_are_unchanged(acceptance_runs: Any) -> None:
    correlated, _ = acceptance_runs
    quantities = BASE.quantities()
    for name in INPUTS:
        result = st.kstest(correlated[name].values, reference(quantities[name].distribution).cdf)
        assert result.pvalue > ALPHA, f"{name}: D={result.statistic:.3g}, p={result.pvalue:.3g}"


def test_uncorrelated_inputs_are_bitwise_those_of_the_run_without_correlations(acceptance_runs: Any) -> None:
    correlated, independent = acceptance_runs
    others = [
        name
        for name, variable in independent.data_vars.items()
        if variable.attrs.get("sampled_input") == 1 and name not in INPUTS
    ]
    assert len(others) > 80
    for name in others:
        xr.testing.assert_identical(correlated[name], independent[name])
    # ... while the correlated ones and what depends on them changed.
    assert not np.array_equal(correlated["npv"].values, independent["npv"].values)
    assert "correlated_inputs" not in independent.attrs


def test_normal_scale_and_mixing_matrices() -> None:
    correlations = CORRELATED.correlations
    normal = correlations.normal_matrix()
    off = ~np.eye(len(INPUTS), dtype=bool)
    np.testing.assert_allclose(normal[off], 2.0 * np.sin(np.pi * MATRIX[off] / 6.0), rtol=1e-15)
    np.testing.assert_array_equal(np.diagonal(normal), 1.0)
    # Kruskal's relation maps the normal scale back to the Spearman matrix asked for.
    np.testing.assert_allclose(6.0 / np.pi * np.arcsin(normal[off] / 2.0), MATRIX[off], atol=1e-15)
    mixing = correlations.mixing_matrix()
    np.testing.assert_allclose(mixing @ mixing.T, normal, atol=1e-15)


# A perfectly correlated pair is the singular case: the normal-scale matrix [[1, 1], [1, 1]] has no
# Cholesky factor, and the copula must drive both inputs with one normal, so their ranks agree.
PERFECT = [
    pytest.param([OVERRUN, "risks.staff_capacity"], [[1.0, 1.0], [1.0, 1.0]], 1, id="r=+1"),
    pytest.param([OVERRUN, "risks.staff_capacity"], [[1.0, -1.0], [-1.0, 1.0]], -1, id="r=-1"),
    pytest.param(
        [OVERRUN, "risks.staff_capacity", "risks.digital_exclusion"],
        [[1.0, 1.0, 0.5], [1.0, 1.0, 0.5], [0.5, 0.5, 1.0]],
        1,
        id="r=+1-with-a-third-input",
    ),
]


@pytest.mark.parametrize(("inputs", "matrix", "sign"), PERFECT)
def test_perfectly_correlated_inputs_have_identical_ranks(inputs: list[str], matrix: Any, sign: int) -> None:
    scenario = BASE.with_correlations(inputs, matrix, source=SOURCE)
    ds = nhsrisk.simulate(scenario, draws=ACCEPTANCE_DRAWS, seed=SEED)
    first = st.rankdata(ds[inputs[0]].values)
    second = st.rankdata(sign * ds[inputs[1]].values)
    # Identical ranks: Spearman's rho, 1 - 6 sum(d^2) / (n (n^2 - 1)), is then exactly sign * 1.
    mismatched = np.count_nonzero(first != second)
    assert mismatched == 0, f"{mismatched} of {first.size} draws are ranked differently"


# ---------------------------------------------------------------------------------------------
# 2. Reproducibility guarantees still hold
# ---------------------------------------------------------------------------------------------
def test_chunks_concatenate_to_the_whole_correlated_run() -> None:
    whole = nhsrisk.simulate(CORRELATED, draws=1000, seed=SEED)
    first = nhsrisk.simulate(CORRELATED, draws=600, seed=SEED)
    second = nhsrisk.simulate(CORRELATED, draws=400, seed=SEED, start=600)
    joined = xr.concat([first, second], dim="draw", data_vars="minimal", coords="minimal", compat="override")
    xr.testing.assert_identical(without_run_attrs(joined), without_run_attrs(whole))


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two numba threads")
@pytest.mark.parametrize("sampler", ["random", "lhs"])
def test_correlated_run_does_not_depend_on_the_thread_count(sampler: str) -> None:
    # More draws than one copula run (4,096), so the two thread counts split the work differently.
    one = nhsrisk.simulate(CORRELATED, draws=10_000, seed=SEED, sampler=sampler, threads=1)
    two = nhsrisk.simulate(CORRELATED, draws=10_000, seed=SEED, sampler=sampler, threads=2)
    xr.testing.assert_identical(one, two)


def test_precision_stopping_keeps_the_copula() -> None:
    # 2e7 GBP needs several 1,000-draw chunks (sd of the NPV is about 1.2e9 GBP: about 3,600 draws).
    ds = nhsrisk.simulate(CORRELATED, draws=1000, seed=SEED, precision=2.0e7, max_draws=100_000)
    n = ds.sizes["draw"]
    assert n > 1000
    plain = nhsrisk.simulate(CORRELATED, draws=n, seed=SEED)
    xr.testing.assert_identical(without_run_attrs(ds), without_run_attrs(plain))


# ---------------------------------------------------------------------------------------------
# 3. The scenario: round trips and variants
# ---------------------------------------------------------------------------------------------
def test_toml_round_trip_keeps_the_correlations() -> None:
    text = CORRELATED.to_toml()
    assert "[correlations]" in text
    again = Scenario.from_toml(text)
    assert again == CORRELATED
    assert again.correlations == CORRELATED.correlations
    assert again.correlations.inputs == tuple(INPUTS)
    assert again.correlations.source == SOURCE
    assert again.correlations.note == "for the tests"
    np.testing.assert_array_equal(again.correlations.as_array(), MATRIX)


def test_results_file_round_trip_keeps_the_correlations(tmp_path: Any) -> None:
    ds = nhsrisk.simulate(CORRELATED, draws=200, seed=SEED)
    path = tmp_path / "correlated.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    loaded = nhsrisk.load_scenario(path)
    assert loaded == CORRELATED
    xr.testing.assert_identical(nhsrisk.simulate(loaded, draws=200, seed=SEED), ds)


def test_with_values_keeps_the_correlations() -> None:
    variant = CORRELATED.with_values({"risks.staff_capacity": PERT(0.5, 0.8, 1.0)})
    assert variant.correlations == CORRELATED.correlations
    assert variant.risks.staff_capacity.distribution == PERT(0.5, 0.8, 1.0)


def test_without_correlations_is_the_independent_scenario() -> None:
    plain = CORRELATED.without_correlations()
    assert plain.correlations is None
    assert plain == BASE
    assert "[correlations]" not in plain.to_toml()
    xr.testing.assert_identical(
        nhsrisk.simulate(plain, draws=300, seed=SEED), nhsrisk.simulate(BASE, draws=300, seed=SEED)
    )


@pytest.mark.parametrize(
    ("value", "problem"),
    [(0.8, r"'risks\.staff_capacity' is fixed"), (Bernoulli(0.5), r"'risks\.staff_capacity' is discrete")],
    ids=["fixed", "bernoulli"],
)
def test_with_values_cannot_make_a_correlated_input_fixed_or_discrete(value: Any, problem: str) -> None:
    with pytest.raises(ScenarioError) as info:
        CORRELATED.with_values({"risks.staff_capacity": value})
    assert info.value.path == "correlations.inputs[2]"
    assert re.search(problem, info.value.problem)


# ---------------------------------------------------------------------------------------------
# 4. Validation: each error names the key path and the problem
# ---------------------------------------------------------------------------------------------
PAIR = [OVERRUN, "risks.staff_capacity"]
NOT_PSD = [[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]]
# Equal off-diagonal entries rho have eigenvalues 1 + 2 rho and 1 - rho: rho = -1/2 is the edge of
# positive semi-definiteness, and 2 sin(-pi / 12) = -0.5176 lies beyond it on the normal scale.
EDGE = [[1.0, -0.5, -0.5], [-0.5, 1.0, -0.5], [-0.5, -0.5, 1.0]]
TRIPLE = [OVERRUN, "risks.staff_capacity", "risks.digital_exclusion"]


def smallest_eigenvalue(matrix: Any) -> float:
    return float(np.linalg.eigvalsh(np.array(matrix))[0])


def normal_scale(matrix: Any) -> np.ndarray:
    normal = 2.0 * np.sin(np.pi * np.array(matrix) / 6.0)
    np.fill_diagonal(normal, 1.0)
    return normal


def test_edge_matrix_is_psd_but_its_normal_scale_is_not() -> None:
    # Found numerically as claimed above, so the case below tests the check it means to test.
    assert smallest_eigenvalue(EDGE) >= -1e-12
    assert smallest_eigenvalue(normal_scale(EDGE)) < -0.03


BAD_TABLES = [
    pytest.param(
        PAIR,
        [[1.0, 0.5], [0.4, 1.0]],
        "correlations.matrix",
        # the value's repr is checked separately (test_asymmetry_message_shows_plain_numbers)
        r"is not symmetric: matrix\[0\]\[1\] = .*0\.5\)? but matrix\[1\]\[0\] = .*0\.4\)? "
        r"\(they differ by 0\.1\)",
        id="not-symmetric",
    ),
    pytest.param(
        PAIR,
        [[1.0, 1.5], [1.5, 1.0]],
        "correlations.matrix[0][1]",
        r"\(programmes\.it_modernisation\.cost_overrun vs risks\.staff_capacity\) = 1\.5 "
        r"is outside \[-1, 1\]",
        id="above-one",
    ),
    pytest.param(
        PAIR,
        [[1.0, -1.01], [-1.01, 1.0]],
        "correlations.matrix[0][1]",
        r"= -1\.01 is outside",
        id="below-minus-one",
    ),
    pytest.param(
        PAIR,
        [[1.0, 0.2], [0.2, 0.9]],
        "correlations.matrix[1][1]",
        r"is a diagonal entry and must be 1, got 0\.9",
        id="diagonal",
    ),
    pytest.param(
        TRIPLE,
        NOT_PSD,
        "correlations.matrix",
        rf"is not positive semi-definite: its smallest eigenvalue is {smallest_eigenvalue(NOT_PSD):.6g} ",
        id="not-psd",
    ),
    pytest.param(
        TRIPLE,
        EDGE,
        "correlations.matrix",
        r"is positive semi-definite, but its normal-scale version .* is not \(smallest eigenvalue "
        + re.escape(f"{smallest_eigenvalue(normal_scale(EDGE)):.6g}")
        + r"\)",
        id="normal-scale-not-psd",
    ),
    pytest.param(
        [OVERRUN, "risks.nope"],
        [[1.0, 0.2], [0.2, 1.0]],
        "correlations.inputs[1]",
        r"unknown input 'risks\.nope'",
        id="unknown",
    ),
    pytest.param(
        ["risks.cost_overrun", OVERRUN],
        [[1.0, 0.2], [0.2, 1.0]],
        "correlations.inputs[0]",
        r"unknown input 'risks\.cost_overrun'",
        id="schema-1-input",
    ),
    pytest.param(
        ["discount_rate", OVERRUN],
        [[1.0, 0.2], [0.2, 1.0]],
        "correlations.inputs[0]",
        r"unknown input 'discount_rate'",
        id="discount-rate",
    ),
    pytest.param(
        [OVERRUN, "target.claimed_return"],
        [[1.0, 0.2], [0.2, 1.0]],
        "correlations.inputs[1]",
        r"unknown input 'target\.claimed_return'",
        id="target",
    ),
    pytest.param(
        [OVERRUN, "staff_groups.hospital_admin.fte"],
        [[1.0, 0.2], [0.2, 1.0]],
        "correlations.inputs[1]",
        r"'staff_groups\.hospital_admin\.fte' is fixed",
        id="fixed",
    ),
    pytest.param(
        ["programmes.it_modernisation.black_swan", OVERRUN],
        [[1.0, 0.2], [0.2, 1.0]],
        "correlations.inputs[0]",
        r"'programmes\.it_modernisation\.black_swan' is discrete \(Bernoulli",
        id="bernoulli",
    ),
    pytest.param(
        [OVERRUN, "programmes.patient_services.support_years"],
        [[1.0, 0.2], [0.2, 1.0]],
        "correlations.inputs[1]",
        r"'programmes\.patient_services\.support_years' is discrete \(Discrete",
        id="discrete",
    ),
    pytest.param(
        [OVERRUN, "programmes.it_modernisation.residual_life"],
        [[1.0, 0.2], [0.2, 1.0]],
        "correlations.inputs[1]",
        r"'programmes\.it_modernisation\.residual_life' is fixed",
        id="fixed-residual-life",
    ),
    pytest.param(
        ["risks.raid_fraction", OVERRUN],
        [[1.0, 0.2], [0.2, 1.0]],
        "correlations.inputs[0]",
        r"risks\.raid_fraction is drawn afresh each year",
        id="per-year",
    ),
    pytest.param(
        [OVERRUN, OVERRUN],
        [[1.0, 0.2], [0.2, 1.0]],
        "correlations.inputs[1]",
        r"'programmes\.it_modernisation\.cost_overrun' is listed twice",
        id="duplicate",
    ),
    pytest.param(
        PAIR,
        [[1.0, 0.2], [0.2, 1.0], [0.0, 0.0]],
        "correlations.matrix",
        r"must have 2 rows \(one per input\), got 3",
        id="rows",
    ),
    pytest.param(
        PAIR,
        [[1.0, 0.2], [0.2, 1.0, 0.0]],
        "correlations.matrix[1]",
        r"must have 2 entries, got 3",
        id="columns",
    ),
    pytest.param(
        [OVERRUN],
        [[1.0]],
        "correlations.inputs",
        r"must name at least two inputs",
        id="one-input",
    ),
    pytest.param(
        PAIR,
        [[1.0, "0.2"], ["0.2", 1.0]],
        "correlations.matrix[0][1]",
        r"must be a number",
        id="string-entry",
    ),
    pytest.param(
        PAIR, [[1.0, True], [True, 1.0]], "correlations.matrix[0][1]", r"must be a number", id="bool"
    ),
]


def correlations_toml(inputs: list[str], matrix: list[list[Any]], source: str | None = SOURCE) -> str:
    """The default scenario's TOML, its own correlations left out, with a [correlations] table (JSON arrays
    are valid TOML arrays)."""
    lines = ["", "[correlations]", f"inputs = {json.dumps(inputs)}", f"matrix = {json.dumps(matrix)}"]
    if source is not None:
        lines.append(f"source = {json.dumps(source)}")
    return BASE.to_toml() + "\n".join(lines) + "\n"


@pytest.mark.parametrize(("inputs", "matrix", "path", "problem"), BAD_TABLES)
def test_bad_correlations_in_toml_name_the_file_key_path_and_problem(
    inputs: list[str], matrix: Any, path: str, problem: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        Scenario.from_toml(correlations_toml(inputs, matrix), file="variant.toml")
    assert info.value.path == path, str(info.value)
    assert re.search(problem, info.value.problem), str(info.value)
    assert str(info.value).startswith(f"variant.toml: {path}: ")


@pytest.mark.parametrize(("inputs", "matrix", "path", "problem"), BAD_TABLES)
def test_bad_correlations_in_with_correlations_name_the_key_path_and_problem(
    inputs: list[str], matrix: Any, path: str, problem: str
) -> None:
    with pytest.raises(ScenarioError) as info:
        BASE.with_correlations(inputs, matrix, source=SOURCE)
    assert info.value.path == path, str(info.value)
    assert re.search(problem, info.value.problem), str(info.value)


def test_asymmetry_message_shows_plain_numbers() -> None:
    with pytest.raises(ScenarioError) as info:
        BASE.with_correlations(PAIR, [[1.0, 0.5], [0.4, 1.0]], source=SOURCE)
    assert "matrix[0][1] = 0.5 but matrix[1][0] = 0.4 (they differ by 0.1)" in info.value.problem


def test_non_finite_entry_is_refused() -> None:
    with pytest.raises(ScenarioError) as info:
        BASE.with_correlations(PAIR, [[1.0, math.nan], [math.nan, 1.0]], source=SOURCE)
    assert info.value.path == "correlations.matrix[0][1]"
    assert "= nan is outside [-1, 1]" in info.value.problem


def test_missing_or_empty_source_is_refused() -> None:
    with pytest.raises(ScenarioError) as info:
        Scenario.from_toml(correlations_toml(PAIR, [[1.0, 0.2], [0.2, 1.0]], source=None))
    assert info.value.path == "correlations.source"
    assert info.value.problem == "missing required key"
    with pytest.raises(ScenarioError) as info:
        BASE.with_correlations(PAIR, [[1.0, 0.2], [0.2, 1.0]], source="  ")
    assert info.value.path == "correlations.source"
    assert info.value.problem.startswith("is empty")


def test_unknown_key_and_non_table_are_refused() -> None:
    text = correlations_toml(PAIR, [[1.0, 0.2], [0.2, 1.0]]) + 'method = "gaussian"\n'
    with pytest.raises(ScenarioError) as info:
        Scenario.from_toml(text)
    assert info.value.path == "correlations.method"
    assert info.value.problem.startswith("unknown key")
    # A top-level key must come before the first table header.
    with pytest.raises(ScenarioError) as info:
        Scenario.from_toml("correlations = 3\n" + BASE.to_toml())
    assert info.value.path == "correlations"
    assert info.value.problem == "must be a table with inputs, matrix and source, got integer 3"
