"""Sampling designs of ``simulate``: Latin hypercube, scrambled Sobol' and the precision stopping rule.

The Latin hypercube is built in the kernel from a keyed permutation (Kensler 2013): draw ``i`` of
input ``k`` gets the uniform ``(permute_index(i, n, key_k) + v_ik) / n``. Its defining property is
exact, not statistical: every input has exactly one draw in each of the ``n`` equally likely strata
of its distribution. Scrambled Sobol' points have the same property in each one-dimensional
projection when ``n`` is a power of two (every projection of a block of ``2**m`` points is a
(0, m, 1)-net in base 2; Owen 1995, Dick & Pillichshammer 2010, ch. 4). Both are checked through
the CDF of independent scipy references built here from the textbook parametrisations (as in
``test_distributions.py``), never through ``Distribution.to_scipy``.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
import pytest
import scipy.stats as st
import xarray as xr

import nhsrisk
from nhsrisk._design import permute_index, stratify
from nhsrisk._engine import sobol_uniforms
from nhsrisk.distributions import PERT, Bernoulli, Discrete, Distribution, LogNormal, Uniform
from nhsrisk.scenario import scenario_from_attrs
from nhsrisk.simulation import SAMPLERS

SEED = 20_250_404  # chosen once, before any test was run; never tuned to make a case pass
ALPHA = 0.01  # significance level of the goodness-of-fit tests
# The kernel's Beta/PERT inversion is accurate to |F(x(u)) - u| <= 1e-10 (U_RESOLUTION); scipy's CDF
# adds a few ulps. A draw whose CDF value is within this distance of a stratum boundary may sit on
# either side of it, so stratum checks allow exactly this much and no more.
CDF_SLACK = 1e-9
# sd of the NPV of the default scenario is about GBP 1.15e9 (20,000-draw pilot, seed 5), so this
# precision needs about (1.15e9 / 2e7)**2 = 3,300 draws: several chunks of 1,000, well under the cap.
NPV_PRECISION = 2.0e7  # GBP
# The default scenario correlates the strands' overruns and delays through a Gaussian copula, which
# mixes their stratified uniforms: a design's strata hold for the inputs outside the copula, so the
# design tests run on the default with its correlations left out (and check both).
DEFAULT = nhsrisk.load_scenario()
INDEPENDENT = DEFAULT.without_correlations()


# ---------------------------------------------------------------------------------------------
# Independent references (textbook parametrisations, as in test_distributions.py)
# ---------------------------------------------------------------------------------------------
def reference(distribution: Distribution) -> Any:
    """Frozen scipy law of a continuous scenario input, built from its own parameters."""
    if isinstance(distribution, PERT):
        low, mode, high, lam = distribution.low, distribution.mode, distribution.high, distribution.lam
        width = high - low
        return st.beta(1 + lam * (mode - low) / width, 1 + lam * (high - mode) / width, loc=low, scale=width)
    if isinstance(distribution, LogNormal):
        return st.lognorm(distribution.sigma, scale=math.exp(distribution.mu))
    if isinstance(distribution, Uniform):
        return st.uniform(loc=distribution.low, scale=distribution.high - distribution.low)
    # A new kind of input in the default scenario must get a reference here, not be skipped silently.
    raise NotImplementedError(f"no reference for {distribution!r}")


def continuous_inputs(ds: xr.Dataset) -> dict[str, tuple[np.ndarray, Any]]:
    """Every continuous sampled input as rows of draws (one row per year for per-year inputs)."""
    quantities = scenario_from_attrs(ds.attrs).quantities()
    found = {}
    for name, variable in ds.data_vars.items():
        if variable.attrs.get("sampled_input") != 1:
            continue
        distribution = quantities[name].distribution
        if isinstance(distribution, Bernoulli | Discrete):
            continue
        found[name] = (np.atleast_2d(variable.values), reference(distribution))
    return found


def without_run_attrs(ds: xr.Dataset) -> xr.Dataset:
    """The Dataset with its global attrs (start, n_draws, precision, ...) dropped; variable attrs kept."""
    return ds.drop_attrs(deep=False)


def assert_one_draw_per_stratum(cdf_values: np.ndarray, label: str) -> None:
    """``floor(F * n)`` is a permutation of 0..n-1, allowing CDF_SLACK at the stratum boundaries.

    With one value per stratum, the j-th smallest value lies in stratum j; checking the sorted values
    against their strata is the same statement and makes the boundary allowance exact.
    """
    n = cdf_values.size
    ordered = np.sort(cdf_values)
    j = np.arange(n)
    low_ok = ordered >= j / n - CDF_SLACK
    high_ok = ordered < (j + 1) / n + CDF_SLACK
    bad = np.flatnonzero(~(low_ok & high_ok))
    assert bad.size == 0, f"{label}: stratum {bad[0]} holds F = {ordered[bad[0]]!r} (n = {n})"
    # And the plain statement on every draw not within CDF_SLACK of a boundary.
    scaled = cdf_values * n
    clear = np.abs(scaled - np.round(scaled)) > CDF_SLACK * n
    strata = np.floor(scaled[clear]).astype(np.int64)
    assert np.unique(strata).size == strata.size, f"{label}: two draws share a stratum"
    assert strata.min() >= 0 and strata.max() < n


# ---------------------------------------------------------------------------------------------
# 1. The keyed permutation behind the Latin hypercube
# ---------------------------------------------------------------------------------------------
PERMUTATION_SIZES = [1, 2, 3, 7, 1000, 2**10, 2**10 + 1, 65537]
# 0, 1, a 32-bit odd constant, the largest 32-bit key and a 64-bit key (as made from stream keys).
PERMUTATION_KEYS = [0, 1, 0x9E3779B9, 2**32 - 1, 0xA5A5_5A5A_1234_5678]


def permutation(n: int, key: int) -> np.ndarray:
    key64 = np.uint64(key)  # the kernel passes keys as uint64; a Python int above 2**63 would not fit int64
    return np.array([permute_index(i, n, key64) for i in range(n)], dtype=np.int64)


@pytest.mark.parametrize("n", PERMUTATION_SIZES)
@pytest.mark.parametrize("key", PERMUTATION_KEYS, ids=hex)
def test_permute_index_is_a_permutation_of_0_to_n_minus_1(n: int, key: int) -> None:
    np.testing.assert_array_equal(np.sort(permutation(n, key)), np.arange(n))


@pytest.mark.parametrize("n", [1000, 2**10 + 1, 65537])
def test_permute_index_depends_on_the_key_and_is_not_the_identity(n: int) -> None:
    # A "permutation" that ignored its key, or left draws in place, would still pass the test above
    # and would give every input the same strata in the same draws: a perfectly correlated design.
    perms = [permutation(n, key) for key in PERMUTATION_KEYS[:3]]
    for p in perms:
        assert np.count_nonzero(p == np.arange(n)) < n // 10
    assert not np.array_equal(perms[0], perms[1])
    assert not np.array_equal(perms[1], perms[2])


def stratified_halves(first: int, key: int, n: int, count: int) -> np.ndarray:
    values = np.full(count, 0.5)
    stratify(np.uint64(first), np.uint64(key), np.uint64(n), values, count)
    return values


@pytest.mark.parametrize("n", [1, 7, 1000, 2**10, 2**10 + 1, 65537])
@pytest.mark.parametrize("key", PERMUTATION_KEYS[1:4], ids=hex)
def test_stratify_agrees_with_permute_index_and_with_itself_by_chunks(n: int, key: int) -> None:
    whole = stratified_halves(0, key, n, n)
    expected = permutation(n, key)
    # With the uniform 0.5 every draw sits at the middle of its stratum: (pi(i) + 0.5) / n.
    np.testing.assert_array_equal(np.floor(whole * n).astype(np.int64), expected)
    np.testing.assert_allclose(whole, (expected + 0.5) / n, rtol=2 * np.finfo(float).eps, atol=0)
    # A chunk starting at draw `first` is the same as that slice of the whole design, including
    # chunks where no draw needs cycle-walking and the whole design does.
    cuts = sorted({0, min(1, n), n // 3, n // 3 + 1, n - 1, n})
    pieces = [stratified_halves(a, key, n, b - a) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)


# ---------------------------------------------------------------------------------------------
# 2. Latin hypercube and Sobol' designs in the results
# ---------------------------------------------------------------------------------------------
DESIGN_DRAWS = {"lhs": 1000, "sobol": 1024}


@pytest.fixture(scope="module")
def design_runs() -> dict[str, xr.Dataset]:
    return {s: nhsrisk.simulate(INDEPENDENT, draws=n, seed=SEED, sampler=s) for s, n in DESIGN_DRAWS.items()}


@pytest.mark.parametrize("sampler", ["lhs", "sobol"])
def test_every_continuous_input_has_one_draw_in_each_stratum(
    design_runs: dict[str, xr.Dataset], sampler: str
) -> None:
    ds = design_runs[sampler]
    inputs = continuous_inputs(ds)
    # The default scenario has 104 single-valued continuous inputs plus the per-year raid fraction;
    # the bound only guards against the check passing because it checked nothing.
    assert len(inputs) >= 100
    for name, (rows, law) in inputs.items():
        for t, row in enumerate(rows):
            assert_one_draw_per_stratum(law.cdf(row), f"{name}[{t}]")


@pytest.mark.parametrize("sampler", ["lhs", "sobol"])
def test_inputs_outside_the_copula_keep_their_strata_in_a_correlated_design(sampler: str) -> None:
    ds = nhsrisk.simulate(DEFAULT, draws=DESIGN_DRAWS[sampler], seed=SEED, sampler=sampler)
    correlated = set(DEFAULT.correlations.inputs)
    inputs = continuous_inputs(ds)
    assert correlated <= set(inputs)
    for name, (rows, law) in inputs.items():
        if name not in correlated:
            for t, row in enumerate(rows):
                assert_one_draw_per_stratum(law.cdf(row), f"{name}[{t}]")


def test_plain_monte_carlo_does_not_stratify() -> None:
    # Control for the test above: with independent draws some stratum is empty (the chance that
    # 1000 uniforms fill 1000 strata is 1000!/1000**1000, about 1e-432).
    ds = nhsrisk.simulate(draws=DESIGN_DRAWS["lhs"], seed=SEED)
    rows, law = continuous_inputs(ds)["risks.staff_capacity"]
    strata = np.floor(law.cdf(rows[0]) * rows.shape[1])
    assert np.unique(strata).size < rows.shape[1]


@pytest.mark.parametrize("sampler", ["lhs", "sobol"])
@pytest.mark.parametrize(
    "name", ["programmes.it_modernisation.black_swan", "programmes.patient_services.support_years"]
)
def test_discrete_inputs_match_their_probabilities_to_within_one_draw(
    design_runs: dict[str, xr.Dataset], sampler: str, name: str
) -> None:
    # Inversion maps u to the smallest value v with F(v) >= u, so #{x <= v} = #{u <= F(v)}. With one
    # uniform per stratum of width 1/n (Latin hypercube, or a Sobol' block of 2**m points), #{u <= c}
    # is floor(n c) or ceil(n c): within 1 of n F(v).
    ds = design_runs[sampler]
    x = ds[name].values
    distribution = DEFAULT.quantities()[name].distribution
    if isinstance(distribution, Bernoulli):
        law = st.bernoulli(distribution.p)
        values = np.array([0.0, 1.0])
    else:
        values = np.array(distribution.values)
        law = st.rv_discrete(values=(values, np.array(distribution.probabilities)))
    assert set(np.unique(x)) <= set(values.tolist())
    for v in values:
        assert abs(np.count_nonzero(x <= v) - x.size * law.cdf(v)) < 1, f"{name} <= {v}"


def test_lhs_raid_years_match_a_fixed_raid_probability_to_within_one_draw() -> None:
    # A raid happens when the year's raid-event uniform is below the raid probability. The event
    # uniforms of each year are stratified, so for a FIXED probability p the number of draws with a
    # raid in that year is #{u < p}: floor(n p) or ceil(n p). With the default (uncertain) probability
    # no such bound holds: the comparison pairs each stratified event with an independent random
    # threshold, so only the expected share (E[p]) is determined, not the count.
    # Only a year with money to spend can be raided: the three funded years of the default.
    p = 0.2718  # n p = 271.8 is not an integer, so both neighbours are possible and the bound is tight
    scenario = DEFAULT.with_values({"risks.raid_probability": p})
    funded = scenario.budget_change_table().sum(axis=0) + sum(
        np.array(programme.spend.values) for programme in scenario.programmes.values()
    )
    assert (funded[:3] > 0).all() and (funded[3:] == 0).all()
    n = 1000
    ds = nhsrisk.simulate(scenario, draws=n, seed=SEED, sampler="lhs")
    raids = ds["raid"].sum("draw").values
    assert raids.shape == (len(scenario.years),)
    assert np.all(np.abs(raids[:3] - n * p) < 1), raids
    np.testing.assert_array_equal(raids[3:], 0)
    # Control: plain Monte Carlo misses the bound in some year (sd of each count is sqrt(n p (1 - p)) = 14,
    # so all three counts within 1 of n p would have a probability of about 0.06**3).
    random_raids = nhsrisk.simulate(scenario, draws=n, seed=SEED)["raid"].sum("draw").values
    assert np.any(np.abs(random_raids[:3] - n * p) >= 1)


@pytest.mark.slow
def test_lhs_reduces_the_variance_of_the_mean_npv() -> None:
    # Twenty independent replicates of the mean NPV of 1,000 draws per sampler. By the CLT each mean
    # is normal, so under the null "LHS is no better" (equal variances) the ratio of the two sample
    # variances follows F(19, 19); it is accepted as a reduction only if it falls below the one-sided
    # 1% quantile (0.33), i.e. the false-alarm rate is 1%. LHS is never worse than plain Monte Carlo
    # by more than n / (n - 1) (Owen 1997); here the NPV is near-additive in its inputs, for which
    # the reduction is large (about 12x seen while developing), so the test has ample power.
    replicates = 20
    means = {
        sampler: np.array(
            [
                float(nhsrisk.simulate(draws=1000, seed=SEED + r, sampler=sampler)["npv"].mean())
                for r in range(replicates)
            ]
        )
        for sampler in ("lhs", "random")
    }
    ratio = np.var(means["lhs"], ddof=1) / np.var(means["random"], ddof=1)
    assert ratio < st.f.ppf(ALPHA, replicates - 1, replicates - 1), ratio


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two numba threads")
@pytest.mark.parametrize(("sampler", "draws"), [("lhs", 10_000), ("sobol", 8192)])
def test_designs_do_not_depend_on_the_thread_count(sampler: str, draws: int) -> None:
    # More draws than one sampling run (4,096) and many model blocks (256), so the two thread
    # counts really split the work differently.
    one = nhsrisk.simulate(draws=draws, seed=SEED, sampler=sampler, threads=1)
    two = nhsrisk.simulate(draws=draws, seed=SEED, sampler=sampler, threads=2)
    xr.testing.assert_identical(one, two)


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_sampler_is_recorded_and_a_design_is_repeatable(sampler: str) -> None:
    ds = nhsrisk.simulate(draws=256, seed=SEED, sampler=sampler)
    assert ds.attrs["sampler"] == sampler
    xr.testing.assert_identical(nhsrisk.simulate(draws=256, seed=SEED, sampler=sampler), ds)


def test_samplers_give_different_draws() -> None:
    runs = {s: nhsrisk.simulate(draws=256, seed=SEED, sampler=s)["npv"].values for s in SAMPLERS}
    assert not np.array_equal(runs["random"], runs["lhs"])
    assert not np.array_equal(runs["random"], runs["sobol"])
    assert not np.array_equal(runs["lhs"], runs["sobol"])


# ---------------------------------------------------------------------------------------------
# 3. Scrambled Sobol'
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [4, 10])
def test_sobol_block_equals_the_second_half_of_the_longer_run(k: int) -> None:
    n = 2**k
    block = nhsrisk.simulate(draws=n, start=n, seed=SEED, sampler="sobol")
    longer = nhsrisk.simulate(draws=2 * n, seed=SEED, sampler="sobol")
    half = longer.isel(draw=slice(n, None))
    np.testing.assert_array_equal(block["draw"].values, np.arange(n, 2 * n))
    xr.testing.assert_identical(without_run_attrs(block), without_run_attrs(half))
    assert block.attrs["start"] == n


@pytest.mark.parametrize("m", [0, 1, 4, 10, 12])
@pytest.mark.parametrize("block", [0, 1, 3])
def test_sobol_uniforms_put_one_point_in_each_of_n_strata_of_every_dimension(m: int, block: int) -> None:
    # Each 1-D projection of points [b 2^m, (b + 1) 2^m) of a scrambled Sobol' sequence is a
    # (0, m, 1)-net in base 2: each interval [j / 2^m, (j + 1) / 2^m) holds exactly one point. The
    # points are multiples of 2**-52, so floor(u * 2^m) is exact: no boundary allowance is needed.
    n = 2**m
    dimensions = 130  # as many as the default scenario draws uniforms per draw
    u = sobol_uniforms(dimensions, SEED, block * n, n)
    assert u.shape == (dimensions, n)
    assert np.all((u >= 0.0) & (u < 1.0))
    strata = np.floor(u * n).astype(np.int64)
    np.testing.assert_array_equal(np.sort(strata, axis=1), np.broadcast_to(np.arange(n), (dimensions, n)))


def test_sobol_same_seed_same_points_other_seed_other_scramble() -> None:
    a = sobol_uniforms(130, SEED, 0, 256)
    np.testing.assert_array_equal(sobol_uniforms(130, SEED, 0, 256), a)
    b = sobol_uniforms(130, SEED + 1, 0, 256)
    # Every dimension is scrambled afresh: no row of the other seed's points is the same.
    assert not np.any(np.all(a == b, axis=1))
    first = nhsrisk.simulate(draws=256, seed=SEED, sampler="sobol")
    xr.testing.assert_identical(nhsrisk.simulate(draws=256, seed=SEED, sampler="sobol"), first)
    other = nhsrisk.simulate(draws=256, seed=SEED + 1, sampler="sobol")
    assert not np.array_equal(first["npv"].values, other["npv"].values)


def test_sobol_marginals_pass_ks_against_the_independent_references(
    design_runs: dict[str, xr.Dataset],
) -> None:
    # One fixed seed; the stratification above already bounds the KS distance by 1/n + CDF_SLACK,
    # so this is the weaker, distribution-level statement of the same fact.
    for name, (rows, law) in continuous_inputs(design_runs["sobol"]).items():
        for t, row in enumerate(rows):
            result = st.kstest(row, law.cdf)
            assert result.pvalue > ALPHA, f"{name}[{t}]: D={result.statistic:.3g}, p={result.pvalue:.3g}"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"draws": 1000}, r"'draws' parameter of simulate must be a power of two .*512 or 1024.*Got 1000"),
        ({"draws": 3}, r"'draws' parameter of simulate must be a power of two .*Got 3 instead"),
        ({"draws": 1536}, r"'draws' parameter .*power of two.*Got 1536"),
        ({"draws": 1024, "start": 512}, r"'start' parameter of simulate must be a multiple of draws.*512"),
        ({"draws": 2, "start": 1}, r"'start' parameter .*multiple of draws.*Got start=1 with draws=2"),
    ],
)
def test_sobol_rejects_bad_sizes(kwargs: dict[str, int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        nhsrisk.simulate(seed=SEED, sampler="sobol", **kwargs)


# ---------------------------------------------------------------------------------------------
# 4. Sampler arguments
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def no_heavy_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make flattening the scenario fail, to show an error is raised before any work is done."""

    def fail(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("build_plan was reached: validation came too late")

    monkeypatch.setattr("nhsrisk.simulation.build_plan", fail)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (
            {"sampler": "halton"},
            r"The 'sampler' parameter of simulate must be one of \['random', 'lhs', 'sobol'\]\. "
            r"Got 'halton' instead\.",
        ),
        ({"sampler": "LHS"}, r"'sampler' parameter .*Got 'LHS'"),
        ({"sampler": None}, r"'sampler' parameter .*Got None"),
        ({"sampler": 1}, r"'sampler' parameter .*Got 1 instead"),
        (
            {"sampler": "lhs", "start": 5},
            r"'start' parameter of simulate must be 0 with sampler='lhs'.*Got 5",
        ),
        (
            {"sampler": "lhs", "precision": 1e6},
            r"'precision' parameter .*sampler='random'.*Got sampler='lhs'",
        ),
        (
            {"sampler": "sobol", "draws": 1024, "precision": 1e6},
            r"'precision' parameter .*sampler='random'.*Got sampler='sobol'",
        ),
    ],
)
def test_sampler_errors_name_the_parameter_before_any_work(
    no_heavy_work: None, kwargs: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        nhsrisk.simulate(**{"draws": 1000, "seed": SEED, **kwargs})


def test_lhs_refuses_more_draws_than_its_permutation_can_index() -> None:
    # permute_index works on 32-bit words; the check comes before any output is allocated.
    with pytest.raises(
        ValueError, match=r"'draws' parameter of simulate must be at most 2\*\*32 with sampler='lhs'"
    ):
        nhsrisk.simulate(draws=2**32 + 1, seed=SEED, sampler="lhs")


# ---------------------------------------------------------------------------------------------
# 5. Stopping on Monte Carlo precision
# ---------------------------------------------------------------------------------------------
def mcse_of_mean(values: np.ndarray) -> np.ndarray:
    """Textbook standard error of the mean over the last axis: s / sqrt(n), s with n - 1."""
    return values.std(axis=-1, ddof=1) / math.sqrt(values.shape[-1])


@pytest.mark.parametrize("start", [0, 300])
def test_precision_run_stops_at_the_target_and_is_one_plain_run(start: int) -> None:
    ds = nhsrisk.simulate(draws=1000, seed=SEED, start=start, precision=NPV_PRECISION, max_draws=100_000)
    n = ds.sizes["draw"]
    assert 1000 < n <= 100_000, "needs several chunks, or the test proves nothing about joining them"
    assert ds.attrs["precision_reached"] == 1
    assert ds.attrs["precision_output"] == "npv"
    assert ds.attrs["precision"] == NPV_PRECISION
    npv = ds["npv"].values
    np.testing.assert_allclose(ds.attrs["precision_mcse"], mcse_of_mean(npv), rtol=1e-12)
    assert ds.attrs["precision_mcse"] <= NPV_PRECISION
    # It did not go on once the first chunk was enough.
    assert mcse_of_mean(npv[:1000]) > NPV_PRECISION
    # The chunks are one run: the same bits as asking for n draws at once.
    plain = nhsrisk.simulate(draws=n, seed=SEED, start=start)
    xr.testing.assert_identical(without_run_attrs(ds), without_run_attrs(plain))
    np.testing.assert_array_equal(ds["draw"].values, np.arange(start, start + n))


def test_precision_of_an_output_with_years_is_the_largest_standard_error() -> None:
    # GBP; the largest sd of a year's cumulative value is about 1.6e9 (20,000-draw pilot, seed 5), so
    # about (1.6e9 / 1.5e7)**2 = 11,400 draws
    precision = 1.5e7
    ds = nhsrisk.simulate(
        draws=1000, seed=SEED, precision=precision, precision_output="cumulative_value", max_draws=50_000
    )
    se = mcse_of_mean(ds["cumulative_value"].values)
    assert se.shape == (len(ds["year"]),)
    np.testing.assert_allclose(ds.attrs["precision_mcse"], se.max(), rtol=1e-12)
    assert ds.attrs["precision_reached"] == 1
    assert se.max() <= precision
    assert ds.sizes["draw"] > 1000


def test_unreachable_precision_warns_and_stops_at_max_draws() -> None:
    with pytest.warns(RuntimeWarning, match=r"max_draws=3000 .*npv.*above the requested precision"):
        ds = nhsrisk.simulate(draws=1000, seed=SEED, precision=1.0, max_draws=3000)
    assert ds.sizes["draw"] == 3000
    assert ds.attrs["precision_reached"] == 0
    assert ds.attrs["precision_mcse"] > 1.0
    np.testing.assert_allclose(ds.attrs["precision_mcse"], mcse_of_mean(ds["npv"].values), rtol=1e-12)
    xr.testing.assert_identical(
        without_run_attrs(ds), without_run_attrs(nhsrisk.simulate(draws=3000, seed=SEED))
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"precision": 0.0},
            ValueError,
            r"'precision' parameter of simulate must be a finite number > 0\. Got 0",
        ),
        ({"precision": -5.0}, ValueError, r"'precision' parameter .*Got -5\.0"),
        ({"precision": math.nan}, ValueError, r"'precision' parameter .*Got nan"),
        ({"precision": math.inf}, ValueError, r"'precision' parameter .*Got inf"),
        ({"precision": True}, ValueError, r"'precision' parameter .*Got True"),
        ({"precision": "1e6"}, ValueError, r"'precision' parameter .*Got '1e6'"),
        (
            {"precision": 1e6, "precision_output": "nope"},
            ValueError,
            r"'precision_output' parameter of simulate must be one of \[.*'npv'.*\]\. Got 'nope'",
        ),
        (
            {"precision": 1e6, "max_draws": 500},
            ValueError,
            r"'max_draws' parameter of simulate must be >= draws \(1000\)\. Got 500",
        ),
        ({"precision": 1e6, "max_draws": 0}, ValueError, r"'max_draws' parameter .*Got 0"),
        ({"precision": 1e6, "max_draws": True}, TypeError, r"'max_draws' parameter .*Got True"),
    ],
)
def test_precision_arguments_are_checked_before_any_work(
    no_heavy_work: None, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        nhsrisk.simulate(**{"draws": 1000, "seed": SEED, **kwargs})


@pytest.mark.parametrize("precision", [np.int64(10_000_000), np.float32(1e7)], ids=["int64", "float32"])
def test_precision_accepts_numpy_numbers(precision: Any) -> None:
    ds = nhsrisk.simulate(draws=1000, seed=SEED, precision=precision, max_draws=100_000)
    assert ds.attrs["precision_reached"] == 1
