"""Sobol' sensitivity indices against analytic indices, SALib and a naive bootstrap.

Analytic references are computed here from their textbook formulas: the
Ishigami function (Ishigami & Homma 1990; variances as in Saltelli et al.,
"Global Sensitivity Analysis: The Primer", 2008), Sobol's G-function (Saltelli &
Sobol' 1995) and additive functions, whose indices are ``a_i**2 var_i / sum``.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import xarray as xr
from scipy.stats import qmc

from nhsrisk import sobol
from nhsrisk.distributions import Normal, Triangular, Uniform
from nhsrisk.sobol import ESTIMATOR, saltelli_design, sobol_from_evaluations, sobol_indices

# Estimates must lie within this many bootstrap standard errors of the truth. The
# bootstrap treats the scrambled Sobol' rows as independent draws, which
# overstates their error, so 4 standard errors is a wide (p < 1e-4) band.
Z_BAND = 4.0

ISHIGAMI_A, ISHIGAMI_B = 7.0, 0.1


def ishigami(x: np.ndarray) -> np.ndarray:
    return np.sin(x[:, 0]) + ISHIGAMI_A * np.sin(x[:, 1]) ** 2 + ISHIGAMI_B * x[:, 2] ** 4 * np.sin(x[:, 0])


def ishigami_indices() -> tuple[np.ndarray, np.ndarray]:
    a, b, pi = ISHIGAMI_A, ISHIGAMI_B, math.pi
    variance = a**2 / 8 + b * pi**4 / 5 + b**2 * pi**8 / 18 + 0.5
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    return np.array([v1, v2, 0.0]) / variance, np.array([v1 + v13, v2, v13]) / variance


ISHIGAMI_LAWS = [Uniform(-math.pi, math.pi)] * 3


def cross_evaluations(func, a: np.ndarray, b: np.ndarray, members: list[list[int]]):
    """f(A), f(B) and f(AB_i), where AB_i is A with the columns ``members[i]`` from B."""
    rows = []
    for columns in members:
        ab = a.copy()
        ab[:, columns] = b[:, columns]
        rows.append(func(ab))
    return func(a), func(b), np.array(rows)


def salib_layout(f_a: np.ndarray, f_b: np.ndarray, f_ab: np.ndarray) -> np.ndarray:
    """SALib's Y for calc_second_order=False: per base row A, AB_1..AB_k, B (step k + 2)."""
    return np.column_stack([f_a, f_ab.T, f_b]).ravel()


# -- analytic references -----------------------------------------------------------------


def test_ishigami_matches_the_analytic_indices():
    result = sobol_indices(ishigami, ISHIGAMI_LAWS, 2**13, seed=2024)
    first, total = ishigami_indices()
    for name, exact in (("S1", first), ("ST", total)):
        error = np.abs(result[name].values - exact)
        assert np.all(error < 0.02), (name, error)
        assert np.all(error <= Z_BAND * result[f"{name}_se"].values), (name, error)
    # Each 95% percentile interval misses its true value with probability about 0.05;
    # were the six misses independent, two or more would have probability
    # 1 - 0.95**6 - 6 * 0.05 * 0.95**5 = 0.033, so at most one miss is allowed.
    inside = np.concatenate(
        [
            (result[f"{name}_conf_low"].values <= exact) & (exact <= result[f"{name}_conf_high"].values)
            for name, exact in (("S1", first), ("ST", total))
        ]
    )
    assert inside.sum() >= 5, inside


def test_ishigami_is_unbiased_over_independent_scrambles():
    # Sixteen independently scrambled designs are independent replicates of the
    # estimate, so their mean has standard error sd / 4, measured, not assumed.
    # (The ratio estimators' bias is O(1/N) = 1e-4 relative, far below that.)
    replicates = 16
    results = [sobol_indices(ishigami, ISHIGAMI_LAWS, 2**13, seed=s, bootstrap=0) for s in range(replicates)]
    first, total = ishigami_indices()
    for name, exact in (("S1", first), ("ST", total)):
        estimates = np.array([r[name].values for r in results])
        standard_error = estimates.std(axis=0, ddof=1) / math.sqrt(replicates)
        assert np.all(np.abs(estimates.mean(axis=0) - exact) <= Z_BAND * standard_error), name


def test_g_function_matches_the_analytic_indices():
    a = np.array([0.0, 1.0, 4.5, 9.0, 99.0, 99.0])

    def g_function(x: np.ndarray) -> np.ndarray:
        return np.prod((np.abs(4.0 * x - 2.0) + a) / (1.0 + a), axis=1)

    partial = 1.0 / (3.0 * (1.0 + a) ** 2)
    variance = np.prod(1.0 + partial) - 1.0
    first = partial / variance
    total = partial * np.prod(1.0 + partial) / (1.0 + partial) / variance
    result = sobol_indices(g_function, [Uniform(0.0, 1.0)] * 6, 2**13, seed=11)
    for name, exact in (("S1", first), ("ST", total)):
        error = np.abs(result[name].values - exact)
        assert np.all(error <= Z_BAND * result[f"{name}_se"].values), (name, error)


def test_additive_function_has_equal_first_and_total_indices():
    coefficients = np.array([2.0, -3.0, 0.5])
    laws = [Normal(1.0, 2.0), Triangular(0.0, 1.0, 3.0), Uniform(-1.0, 4.0)]
    # textbook variances: sd**2; (a**2 + b**2 + c**2 - ab - ac - bc) / 18; (b - a)**2 / 12
    variances = np.array([4.0, (0 + 1 + 9 - 0 - 0 - 3) / 18, 25.0 / 12])
    shares = coefficients**2 * variances / np.sum(coefficients**2 * variances)
    result = sobol_indices(lambda x: x @ coefficients, laws, 2**12, seed=5)
    for name in ("S1", "ST"):
        error = np.abs(result[name].values - shares)
        assert np.all(error <= Z_BAND * result[f"{name}_se"].values), (name, error)


def test_an_unused_factor_has_indices_of_exactly_zero():
    # f(AB_i) == f(A) row by row, so both numerators are sums of exact zeros.
    result = sobol_indices(lambda x: x[:, 0] ** 2, [Uniform(0.0, 1.0)] * 2, 64, seed=3)
    for name in ("S1", "ST", "S1_conf_low", "S1_conf_high", "ST_conf_low", "ST_conf_high", "S1_se", "ST_se"):
        assert result[name].sel(input="x2").item() == 0.0, name


def test_a_single_factor_explains_everything():
    # AB_1 is B, so both estimators compare f_B with f_A; they equal 1 only in expectation.
    result = sobol_indices(lambda x: np.exp(x[:, 0]), [Normal(0.0, 1.0)], 2**12, seed=8)
    for name in ("S1", "ST"):
        assert abs(result[name].item() - 1.0) <= Z_BAND * result[f"{name}_se"].item(), name


def test_grouped_factors_add_up_on_an_additive_function():
    coefficients = np.array([1.0, 2.0, 3.0])
    laws = [Uniform(0.0, 1.0)] * 3
    shares = coefficients**2 / np.sum(coefficients**2)  # equal variances
    names = ["a", "b", "c"]
    result = sobol_indices(
        lambda x: x @ coefficients, laws, 2**12, seed=9, names=names, groups=["ab", "ab", "c"]
    )
    assert result["input"].values.tolist() == ["ab", "c"]
    assert result["members"].values.tolist() == ["a + b", "c"]
    assert result.attrs["evaluations"] == 2**12 * (2 + 2)
    exact = np.array([shares[0] + shares[1], shares[2]])
    for name in ("S1", "ST"):
        error = np.abs(result[name].values - exact)
        assert np.all(error <= Z_BAND * result[f"{name}_se"].values), (name, error)


def test_constant_output_is_refused():
    with pytest.raises(ValueError, match="the output does not vary: Sobol indices are undefined"):
        sobol_indices(lambda x: np.full(len(x), 3.0), [Uniform(0.0, 1.0)] * 2, 64, seed=1)


# -- SALib on the same evaluations -------------------------------------------------------


@pytest.mark.parametrize("offset", [0.0, 1.0e3])
def test_point_estimates_agree_with_salib(offset):
    salib_sobol = pytest.importorskip("SALib.analyze.sobol")
    a, b = saltelli_design(3, 2**10, seed=4)
    values_a, values_b = (-math.pi + 2.0 * math.pi * u for u in (a, b))
    f_a, f_b, f_ab = cross_evaluations(lambda x: ishigami(x) + offset, values_a, values_b, [[0], [1], [2]])
    ours = sobol_from_evaluations(f_a, f_b, f_ab, seed=1, bootstrap=0)
    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-math.pi, math.pi]] * 3}
    theirs = salib_sobol.analyze(
        problem, salib_layout(f_a, f_b, f_ab), calc_second_order=False, num_resamples=100, seed=1
    )
    np.testing.assert_allclose(ours["S1"].values, theirs["S1"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours["ST"].values, theirs["ST"], rtol=0, atol=1e-10)


def test_grouped_point_estimates_agree_with_salib():
    salib_sobol = pytest.importorskip("SALib.analyze.sobol")
    a, b = saltelli_design(3, 2**10, seed=6)
    f_a, f_b, f_ab = cross_evaluations(ishigami, a * 2.0 - 1.0, b * 2.0 - 1.0, [[0, 2], [1]])
    ours = sobol_from_evaluations(f_a, f_b, f_ab, ["g13", "g2"], seed=1, bootstrap=0)
    problem = {
        "num_vars": 3,
        "names": ["x1", "x2", "x3"],
        "bounds": [[-1.0, 1.0]] * 3,
        "groups": ["g13", "g2", "g13"],
    }
    theirs = salib_sobol.analyze(
        problem, salib_layout(f_a, f_b, f_ab), calc_second_order=False, num_resamples=100, seed=1
    )
    np.testing.assert_allclose(ours["S1"].values, theirs["S1"], rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours["ST"].values, theirs["ST"], rtol=0, atol=1e-10)


# -- bootstrap ---------------------------------------------------------------------------


def test_bootstrap_is_the_estimator_applied_to_resampled_rows():
    rng = np.random.default_rng(12)
    n, resamples, seed = 256, 200, 5
    f_a, f_b = rng.normal(size=n), rng.normal(size=n) + 10.0
    f_ab = f_a + rng.normal(size=(2, n)) * [[0.5], [2.0]]
    result = sobol_from_evaluations(f_a, f_b, f_ab, seed=seed, bootstrap=resamples, confidence=0.9)
    # The documented stream: the first child of SeedSequence(seed), whole rows at a time.
    generator = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    rows = generator.integers(0, n, size=(resamples, n))
    replicates = [sobol_from_evaluations(f_a[r], f_b[r], f_ab[:, r], seed=0, bootstrap=0) for r in rows]
    for name in ("S1", "ST"):
        values = np.array([replicate[name].values for replicate in replicates])
        low, high = np.quantile(values, [0.05, 0.95], axis=0)
        np.testing.assert_allclose(result[f"{name}_conf_low"].values, low, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(result[f"{name}_conf_high"].values, high, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(result[f"{name}_se"].values, values.std(axis=0, ddof=1), rtol=1e-9)


# Default tier (1.2 s): the run's one empirical check of the Sobol' bootstrap error and coverage.
def test_bootstrap_error_matches_the_spread_of_independent_replicates():
    # Independent (not quasi-random) designs, so the replicates' spread is the true
    # sampling error that the bootstrap estimates. The sample sd of R replicates has
    # relative standard error 1 / sqrt(2 (R - 1)), so the ratio must be within
    # Z_BAND of those of 1; coverage is a binomial proportion with its own error.
    coefficients = np.array([1.0, 2.0])
    shares = coefficients**2 / np.sum(coefficients**2)
    replicates, n = 200, 1024
    rng = np.random.default_rng(2025)
    estimates, errors, covered = [], [], []
    for seed in range(replicates):
        a, b = rng.random((n, 2)), rng.random((n, 2))
        f_a, f_b, f_ab = cross_evaluations(lambda x: x @ coefficients, a, b, [[0], [1]])
        result = sobol_from_evaluations(f_a, f_b, f_ab, seed=seed, bootstrap=200)
        estimates.append(result["S1"].values)
        errors.append(result["S1_se"].values)
        covered.append((result["S1_conf_low"].values <= shares) & (shares <= result["S1_conf_high"].values))
    ratio = np.mean(errors, axis=0) / np.std(estimates, axis=0, ddof=1)
    assert np.all(np.abs(ratio - 1.0) <= Z_BAND / math.sqrt(2 * (replicates - 1))), ratio
    coverage = np.mean(covered, axis=0)
    assert np.all(coverage >= 0.95 - Z_BAND * math.sqrt(0.95 * 0.05 / replicates)), coverage


def test_no_bootstrap_gives_no_intervals():
    result = sobol_indices(ishigami, ISHIGAMI_LAWS, 64, seed=1, bootstrap=0)
    assert sorted(result.data_vars) == ["S1", "ST"]
    assert result.attrs["bootstrap"] == 0


# -- the Dataset, the design and determinism -----------------------------------------------


def test_dataset_layout_and_attributes():
    result = sobol_indices(ishigami, ISHIGAMI_LAWS, 128, seed=17, names=["u", "v", "w"], bootstrap=100)
    assert list(result.data_vars) == [
        "S1",
        "ST",
        "S1_conf_low",
        "S1_conf_high",
        "ST_conf_low",
        "ST_conf_high",
        "S1_se",
        "ST_se",
    ]
    assert result["input"].values.tolist() == ["u", "v", "w"]
    for variable in result.data_vars.values():
        assert variable.dims == ("input",)
        assert variable.attrs["units"] == "1" and variable.attrs["long_name"]
    assert result.attrs == {
        "base_samples": 128,
        "evaluations": 128 * 5,
        "confidence": 0.95,
        "bootstrap": 100,
        "estimator": ESTIMATOR,
        "seed": "17",
        "output_variance": result.attrs["output_variance"],
    }
    assert result.attrs["output_variance"] > 0
    assert np.all(result["S1_conf_low"] <= result["S1_conf_high"])


def test_same_seed_gives_an_identical_dataset_and_none_records_its_seed():
    first = sobol_indices(ishigami, ISHIGAMI_LAWS, 256, seed=21, bootstrap=100)
    xr.testing.assert_identical(first, sobol_indices(ishigami, ISHIGAMI_LAWS, 256, seed=21, bootstrap=100))
    assert not first.equals(sobol_indices(ishigami, ISHIGAMI_LAWS, 256, seed=22, bootstrap=100))
    fresh = sobol_indices(ishigami, ISHIGAMI_LAWS, 256, bootstrap=100)
    again = sobol_indices(ishigami, ISHIGAMI_LAWS, 256, seed=int(fresh.attrs["seed"]), bootstrap=100)
    xr.testing.assert_identical(fresh, again)


def test_sobol_indices_is_the_design_analysed_from_its_evaluations():
    seed = 31
    result = sobol_indices(ishigami, ISHIGAMI_LAWS, 256, seed=seed, bootstrap=100)
    a, b = saltelli_design(3, 256, seed=seed)
    values_a, values_b = (ISHIGAMI_LAWS[0].ppf(u) for u in (a, b))
    f_a, f_b, f_ab = cross_evaluations(ishigami, values_a, values_b, [[0], [1], [2]])
    xr.testing.assert_identical(result, sobol_from_evaluations(f_a, f_b, f_ab, seed=seed, bootstrap=100))


def test_func_is_called_with_the_whole_stacked_design_once():
    shapes = []

    def recording(x: np.ndarray) -> np.ndarray:
        shapes.append(x.shape)
        return ishigami(x)

    sobol_indices(recording, ISHIGAMI_LAWS, 1024, seed=1, bootstrap=0)
    assert shapes == [(1024 * 5, 3)]


def test_batched_evaluation_and_bootstrap_change_nothing(monkeypatch):
    shapes = []

    def recording(x: np.ndarray) -> np.ndarray:
        shapes.append(x.shape)
        return ishigami(x)

    whole = sobol_indices(ishigami, ISHIGAMI_LAWS, 256, seed=41, bootstrap=300)
    # 100 rows of 3 inputs per call, 7 resamples of 256 rows per bootstrap batch
    monkeypatch.setattr(sobol, "_INPUT_ELEMENTS_PER_CALL", 300)
    monkeypatch.setattr(sobol, "_BOOTSTRAP_ELEMENTS_PER_BATCH", 7 * 256)
    batched = sobol_indices(recording, ISHIGAMI_LAWS, 256, seed=41, bootstrap=300)
    assert shapes == [(100, 3)] * 12 + [(80, 3)]  # 1280 = 256 * (3 + 2) rows
    xr.testing.assert_identical(whole[["S1", "ST"]], batched[["S1", "ST"]])
    # Same resampled rows; BLAS may round a matrix product of another shape differently.
    xr.testing.assert_allclose(whole, batched, rtol=1e-12, atol=0)


def test_design_is_two_halves_of_one_scrambled_sobol_sequence():
    n_factors, base_samples, seed = 3, 256, 13
    a, b = saltelli_design(n_factors, base_samples, seed=seed)
    assert a.shape == b.shape == (base_samples, n_factors)
    assert np.all((a > 0) & (a < 1) & (b > 0) & (b < 1))
    sequence = qmc.Sobol(d=2 * n_factors, scramble=True, rng=np.random.default_rng(seed)).random_base2(8)
    np.testing.assert_array_equal(np.hstack([a, b]), np.clip(sequence, 2.0**-53, 1.0 - 2.0**-53))
    # (t, m, s)-net balance: each of the N equal sub-intervals of (0, 1) holds one point per column
    cells = np.sort(np.floor(np.hstack([a, b]) * base_samples), axis=0)
    np.testing.assert_array_equal(cells, np.repeat(np.arange(base_samples)[:, None], 2 * n_factors, axis=1))
    np.testing.assert_array_equal(saltelli_design(n_factors, base_samples, seed=seed)[0], a)


# -- argument checks ---------------------------------------------------------------------

F_A, F_B, F_AB = np.arange(4.0), np.arange(4.0)[::-1], np.ones((2, 4)) + np.arange(4.0)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: saltelli_design(3, 1000),
            ValueError,
            r"'base_samples' parameter of saltelli_design must be a power of 2 from 2 to 2\*\*30 "
            r"\(the nearest are 512 and 1024\)\. Got 1000 instead\.",
        ),
        (lambda: saltelli_design(3, 1), ValueError, r"'base_samples' .* Got 1 instead"),
        (lambda: saltelli_design(3, 2**31), ValueError, r"'base_samples' .* Got 2147483648 instead"),
        (lambda: saltelli_design(3, 8.5), TypeError, r"'base_samples' .* Got 8\.5 instead"),
        (lambda: saltelli_design(0, 8), ValueError, r"'n_factors' parameter of saltelli_design .* Got 0"),
        (lambda: saltelli_design(10_601, 8), ValueError, r"'n_factors' .* at most 10600 .* Got 10601"),
        (lambda: saltelli_design(2, 8, seed=-1), ValueError, r"'seed' parameter of saltelli_design"),
        (lambda: sobol_from_evaluations(F_AB, F_B, F_AB), ValueError, r"'f_a' .* shape \(2, 4\)"),
        (lambda: sobol_from_evaluations(["a", "b"], F_B, F_AB), TypeError, r"'f_a' .* dtype <U1"),
        (lambda: sobol_from_evaluations(F_A, F_B[:3], F_AB), ValueError, r"'f_b' .* shape \(4,\) like f_a"),
        (lambda: sobol_from_evaluations(F_A, F_B, F_A), ValueError, r"'f_ab' .* shape \(k, 4\)"),
        (
            lambda: sobol_from_evaluations(F_A, F_B, np.where(F_AB == 4.0, np.inf, F_AB)),
            ValueError,
            r"'f_ab' parameter of sobol_from_evaluations must be finite\. "
            r"Got 2 NaN or infinite value\(s\) among 8 instead",
        ),
        (lambda: sobol_from_evaluations(F_A, F_B, F_AB, ["a", "a"]), ValueError, r"'names' .* \['a', 'a'\]"),
        (lambda: sobol_from_evaluations(F_A, F_B, F_AB, ["a"]), ValueError, r"'names' .* 2 unique strings"),
        (lambda: sobol_from_evaluations(F_A, F_B, F_AB, "ab"), TypeError, r"'names'"),
        (lambda: sobol_from_evaluations(F_A, F_B, F_AB, confidence=1.0), ValueError, r"'confidence' .* 1\.0"),
        (lambda: sobol_from_evaluations(F_A, F_B, F_AB, confidence="0.9"), TypeError, r"'confidence'"),
        (
            lambda: sobol_from_evaluations(F_A, F_B, F_AB, bootstrap=50),
            ValueError,
            r"'bootstrap' .* must be 0 \(no bootstrap\) or an int >= 100\. Got 50 instead",
        ),
        (lambda: sobol_from_evaluations(F_A, F_B, F_AB, bootstrap=-1), ValueError, r"'bootstrap' .* Got -1"),
        (lambda: sobol_from_evaluations(F_A, F_B, F_AB, seed=1.5), TypeError, r"'seed'"),
        (lambda: sobol_from_evaluations(F_A * 0, F_B * 0, F_AB * 0), ValueError, r"does not vary"),
        (lambda: sobol_indices(3.0, [Uniform(0.0, 1.0)], 8), TypeError, r"'func' .* a callable\. Got 3\.0"),
        (
            lambda: sobol_indices(ishigami, [Uniform(0.0, 1.0), 3.0], 8),
            TypeError,
            r"'distributions' .*Distribution instances\. Got 3\.0 at position 1 instead",
        ),
        (lambda: sobol_indices(ishigami, Uniform(0.0, 1.0), 8), TypeError, r"'distributions'"),
        (lambda: sobol_indices(ishigami, [], 8), ValueError, r"'distributions' .* non-empty"),
        (lambda: sobol_indices(ishigami, ISHIGAMI_LAWS, 8, groups=["g", "g"]), ValueError, r"'groups' .* 3"),
        (lambda: sobol_indices(ishigami, ISHIGAMI_LAWS, 8, groups=[1, 1, 2]), TypeError, r"'groups'"),
        (lambda: sobol_indices(ishigami, ISHIGAMI_LAWS, 8, names=["a", "b", "a"]), ValueError, r"'names'"),
        (lambda: sobol_indices(ishigami, ISHIGAMI_LAWS, 12), ValueError, r"nearest are 8 and 16"),
        (lambda: sobol_indices(ishigami, ISHIGAMI_LAWS, 8, confidence=0.0), ValueError, r"'confidence'"),
        (lambda: sobol_indices(ishigami, ISHIGAMI_LAWS, 8, bootstrap=10), ValueError, r"'bootstrap'"),
        (lambda: sobol_indices(ishigami, ISHIGAMI_LAWS, 8, seed=2**128), ValueError, r"'seed'"),
    ],
)
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_arguments_are_checked_before_any_evaluation():
    calls = []

    def recording(x: np.ndarray) -> np.ndarray:
        calls.append(x.shape)
        return ishigami(x)

    with pytest.raises(ValueError, match="'bootstrap'"):
        sobol_indices(recording, ISHIGAMI_LAWS, 8, bootstrap=10)
    assert calls == []


def test_output_of_the_wrong_shape_is_refused():
    with pytest.raises(
        ValueError, match=r"'func' .* shape \(40,\)\. Got an array of dtype float64 and shape \(40, 1\)"
    ):
        sobol_indices(lambda x: ishigami(x)[:, None], ISHIGAMI_LAWS, 8)
    with pytest.raises(TypeError, match=r"'func' .* dtype <U"):
        sobol_indices(lambda x: np.full(len(x), "a"), ISHIGAMI_LAWS, 8)


def test_non_finite_output_is_counted_and_shown_with_an_input_row():
    seen = []

    def broken(x: np.ndarray) -> np.ndarray:
        seen.append(x.copy())
        return np.where(x[:, 0] > 2.0, np.nan, ishigami(x))

    with pytest.raises(ValueError, match="NaN or infinite output") as caught:
        sobol_indices(broken, ISHIGAMI_LAWS, 64, seed=1)
    inputs = np.vstack(seen)
    expected = int(np.sum(inputs[:, 0] > 2.0))
    assert f"Got {expected} NaN or infinite output(s) among {64 * 5} evaluations" in str(caught.value)
    row = re.search(r"at input row \[([^\]]+)\]", str(caught.value)).group(1)
    assert float(row.split(",")[0]) > 2.0
