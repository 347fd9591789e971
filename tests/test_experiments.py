"""Designed experiments (tornado, spider, switching values, Sobol', sweeps, options) against references.

The reference for a one-way design is the model itself run the ordinary way:
``simulate(draws=1)`` of the scenario with EVERY uncertain input fixed by
:meth:`Scenario.with_values` (a number: the kernel's ``FIXED`` path), at the
distribution's exact ``ppf`` of the percentile the design uses. The kernel draws
the 5 yearly raid events as uniforms, which a fixed scenario cannot pin; the
design puts them at 0.5, so a raid happens in every funded year iff 0.5 < raid
probability, and the reference fixes the raid probability to 1 or 0 accordingly.
The one-way designs do not apply correlations, so the references drop the
scenario's correlations table (every input is fixed: there is nothing to pair).
Where one year's raid must differ from the others, the scenario is funded in
that year only, so raids in the other years remove nothing.

Sweeps and decision options are checked cell by cell against their own
``simulate`` runs (bitwise) and for common random numbers.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import numpy as np
import pytest
import xarray as xr
from scipy.special import ndtr, ndtri

import nhsrisk
from nhsrisk import experiments
from nhsrisk.distributions import PERT, U_RESOLUTION, Beta, Distribution, Uniform
from nhsrisk.experiments import SWITCHING_RANGE, compare_options, sobol_analysis, spider, sweep, tornado
from nhsrisk.scenario import Scenario, ScenarioError, dumps_toml, load_scenario
from nhsrisk.simulation import OUTPUTS

BASE = load_scenario()
YEARS = list(BASE.years)
EPS = float(np.finfo(float).eps)
#: Width (in percentile) of the bracket the switching-value bisection ends with:
#: the step of its 101-point grid over SWITCHING_RANGE, halved 40 times.
BRACKET_WIDTH = (SWITCHING_RANGE[1] - SWITCHING_RANGE[0]) / 100 * 2.0**-40
#: One input of each kind of distribution and of each part of the model (raids,
#: cost, delay, uptake, staff cap, patient channel): the fast-tier selection.
FAST_INPUTS = [
    "programmes.staff_technology.support_years",  # discrete
    "programmes.it_modernisation.black_swan",  # Bernoulli
    "programmes.it_modernisation.cost_overrun",  # lognormal, correlated in the scenario
    "programmes.it_modernisation.black_swan_overrun",  # lognormal, matters only in a black swan
    "programmes.staff_technology.delivery_delay",  # PERT, correlated in the scenario
    "risks.raid_probability",  # PERT, decides the raid events
    "risks.digital_exclusion",
    "risks.staff_capacity",
    "staff_groups.gp.max_release_share",
    "programmes.patient_services.patients.value_per_contact",
    "programmes.it_modernisation.uptake_midpoint",
    "programmes.staff_technology.do_minimum_ceiling",
    # splits the value between cash and non-cash: their sum, in every scalar output, moves by rounding only
    "programmes.it_modernisation.cashed_share",
]
SCALAR_OUTPUTS = ["npv", "bcr", "cumulative_value", "pv_benefits"]
#: The designs here are small: on one thread they skip the start-up of numba's parallel
#: regions, which dominates on a busy machine. Results do not depend on the thread count
#: (checked below against runs on the default threads).
ONE_THREAD = 1
SWAN = "programmes.it_modernisation.black_swan"


# -- references ------------------------------------------------------------------------------


def uncertain_inputs(scenario: Scenario) -> dict[str, Distribution]:
    """Key path -> distribution of every quantity the kernel samples."""
    return {path: q.distribution for path, q in scenario.quantities().items() if not q.distribution.is_fixed}


def funded_years(scenario: Scenario) -> list[str]:
    spend = np.array([p.spend.values for p in scenario.programmes.values()])
    return [year for year, total in zip(scenario.years, spend.sum(axis=0), strict=True) if total > 0]


def read(ds: xr.Dataset, output: str) -> float:
    """The experiments' reading of an output: scalar, or per-year in the target year."""
    var = ds[output]
    if "year" in var.dims:
        var = var.sel(year=ds.attrs["target_year"])
    return float(var.values[0])


@functools.cache
def quantile(law: Distribution, q: float, kernel: bool) -> float:
    """Exact ppf, or the kernel's inverse CDF, at ``q`` (cached: freezing a scipy law is slow)."""
    return float(law.kernel_ppf(q)[0]) if kernel else float(law.ppf(q))


@functools.cache
def fixed_run(scenario: Scenario, values: tuple[tuple[str, float], ...]) -> dict[str, float]:
    """The outputs the tests read from one run (cached: many references repeat the medians)."""
    fixed = scenario.without_correlations().with_values(dict(values))
    ds = nhsrisk.simulate(fixed, draws=1, seed=0, threads=ONE_THREAD)
    return {output: read(ds, output) for output in (*SCALAR_OUTPUTS, "pv_costs", "pv_dual_running_cost")} | {
        "staff_cap_binding": float(ds["hours_capped"].values.any())
    }


def fixed_scenario_run(
    scenario: Scenario,
    percentiles: Mapping[str, float] | None = None,
    *,
    values: Mapping[str, float] | None = None,
    raid_event: float = 0.5,
    kernel: bool = False,
) -> dict[str, float]:
    """Scalar outputs of ``simulate(draws=1)`` with every uncertain input fixed.

    Each input sits at ``values[path]`` (input units) if given, else at the
    ``percentiles[path]`` quantile (default its median): the exact ``ppf``, or
    the kernel's inverse CDF when ``kernel``. Every year's raid-event uniform is
    at ``raid_event``.
    """
    percentiles = percentiles or {}
    values = values or {}
    fixed = {}
    for path, law in uncertain_inputs(scenario).items():
        if path in values:
            fixed[path] = float(values[path])
            continue
        fixed[path] = quantile(law, percentiles.get(path, 0.5), kernel)
    probability = fixed.get("risks.raid_probability", scenario.risks.raid_probability.distribution.mean())
    fixed["risks.raid_probability"] = 1.0 if raid_event < probability else 0.0
    return fixed_run(scenario, tuple(sorted(fixed.items())))


def reference(scenario: Scenario, output: str, percentiles: Mapping[str, float] | None = None, **kw) -> float:
    return fixed_scenario_run(scenario, percentiles, **kw)[output]


def scaled_spend(scenario: Scenario, factor: float) -> dict[str, list[float]]:
    return {
        f"programmes.{pid}.spend": [factor * v for v in p.spend.values]
        for pid, p in scenario.programmes.items()
    }


@functools.cache
def near_break_even() -> tuple[Scenario, float]:
    """The default scenario with its spend scaled so that, at the medians, costs are about 0.9 of benefits.

    Spend enters funding adequacy only as actual over planned, so scaling it
    leaves uptake and the yearly benefits unchanged, and running costs are a
    share of the capital in use, so the present value of all costs scales with
    it. Only the residual value, which counts the last year's benefit net of
    running costs, moves a little. NPV at the medians becomes about 0.1 of the
    benefits' present value, positive and near zero, so that many inputs
    switch its sign. Returns the scenario and that present value of benefits [GBP].
    """
    pv_value = reference(BASE, "pv_benefits")
    dual = reference(BASE, "pv_dual_running_cost")  # keeping routes open: not a share of the capital
    factor = (0.9 * pv_value - dual) / (reference(BASE, "pv_costs") - dual)
    scenario = BASE.with_values(scaled_spend(BASE, factor))
    npv = reference(scenario, "npv")
    assert 0.05 * pv_value < npv < 0.15 * pv_value
    capital_and_running = reference(scenario, "pv_costs") - reference(scenario, "pv_dual_running_cost")
    assert capital_and_running == pytest.approx(factor * (reference(BASE, "pv_costs") - dual), rel=1e-12)
    assert reference(scenario, "pv_dual_running_cost") == pytest.approx(dual, rel=1e-12)
    return scenario, pv_value


def funded_only_in(year: str) -> Scenario:
    """Default scenario funded in ``year`` only, with raids likely (median raid probability 0.7)."""
    t = YEARS.index(year)
    changes: dict[str, object] = {
        f"programmes.{pid}.spend": [v if j == t else 0.0 for j, v in enumerate(p.spend.values)]
        for pid, p in BASE.programmes.items()
    }
    changes["risks.raid_probability"] = PERT(0.55, 0.7, 0.9)
    return BASE.with_values(changes)


# -- tornado -----------------------------------------------------------------------------------


def check_tornado_against_references(scenario: Scenario, output: str, inputs: list[str]) -> None:
    low, high = 0.1, 0.9
    result = tornado(scenario, output, low=low, high=high, inputs=inputs, threads=ONE_THREAD)
    assert sorted(result["input"].values) == sorted(inputs)
    for name in inputs:
        for q, column in ((low, "output_low"), (high, "output_high")):
            got = result[column].sel(input=name).item()
            # Same inputs reach the model through the FIXED path: the same arithmetic, bitwise.
            assert got == reference(scenario, output, {name: q}, kernel=True), (name, column)
            # Where the kernel's inverse CDF gives the exact ppf's double (every law but Beta and
            # PERT, and those at their median, a table node), the run at the exact percentile is
            # the same run. Elsewhere the two inputs differ by the inversion's error, at most
            # U_RESOLUTION in probability (see the test below and tests/test_distributions.py).
            law = uncertain_inputs(scenario).get(name)
            if law is not None and law.kernel_ppf([q])[0] == float(law.ppf(q)):
                assert got == reference(scenario, output, {name: q}), (name, column)
    assert result["output_base"].item() == reference(scenario, output, kernel=True)


@pytest.mark.parametrize("output", SCALAR_OUTPUTS)
def test_tornado_bars_equal_simulate_with_every_input_fixed(output):
    check_tornado_against_references(BASE, output, FAST_INPUTS)


@pytest.mark.slow
@pytest.mark.parametrize("output", SCALAR_OUTPUTS)
def test_tornado_bars_of_every_named_input_equal_simulate_with_every_input_fixed(output):
    named = [path for path in uncertain_inputs(BASE) if path != "risks.raid_fraction"]
    check_tornado_against_references(BASE, output, named)


def test_kernel_inverse_cdfs_at_the_tornado_percentiles_are_within_the_inversion_bound():
    """The premise of the comparison above, for every uncertain input of the scenario.

    At 0.1 and 0.9 a Beta or PERT table interpolates (its nodes are at multiples of
    1/256): the kernel's value is within U_RESOLUTION of the percentile in probability.
    At the median (a node) and for every other law the kernel gives the exact ppf
    to a few ulps.
    """
    percentiles = np.array([0.1, 0.5, 0.9])
    for name, law in uncertain_inputs(BASE).items():
        kernel = law.kernel_ppf(percentiles)
        exact = np.asarray(law.ppf(percentiles), dtype=float)
        if not isinstance(law, (PERT, Beta)):
            np.testing.assert_array_max_ulp(kernel, exact, maxulp=4, dtype=float)
            continue
        scipy_law = law.to_scipy()
        lower = np.asarray(scipy_law.cdf(kernel)) - percentiles
        upper = (1.0 - percentiles) - np.asarray(scipy_law.sf(kernel))
        miss = np.where(percentiles <= 0.5, lower, upper)
        assert np.all(np.abs(miss) <= U_RESOLUTION), (name, miss)
        np.testing.assert_array_max_ulp(kernel[1], exact[1], maxulp=4, dtype=float)


@pytest.mark.parametrize("year", funded_years(BASE))
@pytest.mark.parametrize("output", ["npv", "cumulative_value"])
def test_tornado_raid_streams_act_on_their_own_year(year, output):
    scenario = funded_only_in(year)
    event, fraction = f"risks.raid_event[{year}]", f"risks.raid_fraction[{year}]"
    result = tornado(scenario, output, inputs=[event, fraction], threads=ONE_THREAD)
    # Raid events at 0.1 (< median raid probability 0.7: a raid) and 0.9 (no raid).
    assert result["output_low"].sel(input=event).item() == reference(scenario, output, raid_event=0.1)
    assert result["output_high"].sel(input=event).item() == reference(scenario, output, raid_event=0.9)
    # At the medians the year is raided; its fraction moves.
    for q, column in ((0.1, "output_low"), (0.9, "output_high")):
        expected = reference(scenario, output, {"risks.raid_fraction": q})
        assert result[column].sel(input=fraction).item() == pytest.approx(expected, rel=1e-12, abs=0)


def test_tornado_raid_event_in_default_scenario_removes_the_discounted_cut():
    """A raid in a funded year removes ``raid fraction * exposure_p * planned spend_p`` of capital.

    In real terms (the GDP deflator) and discounted to 2025/26, that is what it
    takes off the present value of capital spent. A year without planned spend
    cannot be raided, and at the medians no year is (0.5 is above the median
    raid probability), so the raid fractions are never used there.
    """
    result = tornado(
        BASE, "pv_capital_cost", inputs=["risks.raid_event", "risks.raid_fraction"], threads=ONE_THREAD
    )
    base = result["output_base"].item()
    real = BASE.real_terms_factors()
    planned = (
        np.array([p.spend.values for p in BASE.programmes.values()]).T * real[:, None]
    )  # (year, programme)
    fraction = float(BASE.risks.raid_fraction.distribution.ppf(0.5))
    exposure = np.array([float(p.raid_exposure.distribution.ppf(0.5)) for p in BASE.programmes.values()])
    discount = BASE.discount_factors(len(YEARS))
    assert float(BASE.risks.raid_probability.distribution.ppf(0.5)) < 0.5
    raided = 0
    for t, year in enumerate(YEARS):
        cut = fraction * exposure * planned[t]
        low = result["output_low"].sel(input=f"risks.raid_event[{year}]").item()
        if not cut.any():
            assert low == base, year  # nothing planned, nothing to take
        else:
            raided += 1
            expected = base - math.fsum(cut) * discount[t]
            # rounding of sums of GBP amounts up to the planned total
            assert low == pytest.approx(expected, rel=0, abs=64 * EPS * planned.sum()), year
        # 0.9 is above the median raid probability: no raid
        assert result["output_high"].sel(input=f"risks.raid_event[{year}]").item() == base
        # no raid at the medians: the raid fraction is never used
        for column in ("output_low", "output_high"):
            assert result[column].sel(input=f"risks.raid_fraction[{year}]").item() == base
    assert raided == len(funded_years(BASE)) >= 1  # the analytic case was exercised


def test_tornado_swing_order_input_values_and_coverage():
    result = tornado(BASE, "npv", low=0.2, high=0.7)
    xr.testing.assert_identical(result, tornado(BASE, "npv", low=0.2, high=0.7, threads=ONE_THREAD))
    swing = result["swing"].values
    np.testing.assert_array_equal(swing, np.abs(result["output_high"].values - result["output_low"].values))
    assert np.all(np.diff(swing) <= 0)
    laws = uncertain_inputs(BASE)
    for name, group in zip(result["input"].values, result["input_group"].values, strict=True):
        law = Uniform(0.0, 1.0) if group == "risks.raid_event" else laws[group]
        for q, column in ((0.2, "input_low"), (0.5, "input_base"), (0.7, "input_high")):
            assert result[column].sel(input=name).item() == float(law.ppf(q)), (name, column)
    per_year = ("risks.raid_event", "risks.raid_fraction")
    expected = {path for path in laws if path not in per_year}
    expected |= {f"{group}[{year}]" for group in per_year for year in YEARS}
    assert set(result["input"].values) == expected
    assert result.sizes["input"] == len(expected)
    assert result.attrs["low"] == 0.2 and result.attrs["high"] == 0.7 and result.attrs["output"] == "npv"
    assert result["output_low"].attrs["units"] == "GBP"
    assert result["input_units"].sel(input="programmes.staff_technology.delivery_delay").item() == "years"


def test_tornado_inputs_select_groups_and_single_years_without_duplicates():
    result = tornado(
        BASE,
        inputs=["risks.raid_fraction", f"risks.raid_fraction[{YEARS[0]}]", SWAN],
        threads=ONE_THREAD,
    )
    assert sorted(result["input"].values) == sorted([SWAN] + [f"risks.raid_fraction[{y}]" for y in YEARS])
    single = tornado(BASE, inputs=SWAN, threads=ONE_THREAD)
    assert list(single["input"].values) == [SWAN]


# -- switching values ------------------------------------------------------------------------


def check_switching_values(
    scenario: Scenario, output: str, inputs: list[str], threshold: float | None = None
):
    """Every switching value is a crossing of the threshold; every input without one never crosses it."""
    result = tornado(scenario, output, inputs=inputs, threshold=threshold, threads=ONE_THREAD)
    level = result.attrs["threshold"]
    laws = uncertain_inputs(scenario)
    # rounding of an output of this magnitude
    rounding = 64 * EPS * max(abs(level), abs(result["output_base"].item()), 1.0)
    switching = result["input"].values[result["has_switching_value"].values]
    for name in switching:
        law = laws[name]
        p = result["switching_percentile"].sel(input=name).item()
        value = result["switching_value"].sel(input=name).item()
        assert SWITCHING_RANGE[0] <= p <= SWITCHING_RANGE[1]
        assert value == float(law.ppf(p))
        # The crossing lies within BRACKET_WIDTH / 2 of p in the kernel's percentile, and the
        # exact ppf differs from the kernel's by at most U_RESOLUTION in probability: just
        # outside both, the output is on opposite sides of the threshold.
        delta = BRACKET_WIDTH + 2 * U_RESOLUTION
        below = reference(scenario, output, {name: p - delta}) - level
        above = reference(scenario, output, {name: p + delta}) - level
        assert below * above < 0, (name, below, above)
        # raid_probability acts through a step: a raid happens where it passes the fixed raid-event
        # uniform, so the output jumps there and has no local slope to bound the gap
        if law.continuous and name != "risks.raid_probability":
            # At the switching value itself, the output misses the threshold by at most the
            # local slope (secant over the 2 delta above) times the same distance in percentile.
            slope = abs(above - below) / (2 * delta)
            gap = reference(scenario, output, values={name: value}) - level
            assert abs(gap) <= slope * (BRACKET_WIDTH / 2 + U_RESOLUTION) + rounding, (name, gap)
    others = [name for name in inputs if name not in switching]
    if others:
        # Ten times finer than the tornado's own search grid, over the same range.
        grid = np.linspace(*SWITCHING_RANGE, 1001)
        trace = (
            spider(scenario, output, percentiles=grid, inputs=others, threads=ONE_THREAD)["output"] - level
        )
        assert bool(((trace > 0).all("percentile") | (trace < 0).all("percentile")).all())
    return result


def test_switching_values_cross_zero_npv():
    scenario, _ = near_break_even()
    result = check_switching_values(scenario, "npv", FAST_INPUTS)
    assert result.attrs["threshold"] == 0.0
    has = result["has_switching_value"]
    assert 3 <= int(has.sum()) <= len(FAST_INPUTS) - 3  # both cases are exercised
    assert not has.sel(input="programmes.it_modernisation.cashed_share").item()


@pytest.mark.slow
def test_switching_values_of_every_input_cross_zero_npv():
    scenario, _ = near_break_even()
    named = [path for path in uncertain_inputs(scenario) if path != "risks.raid_fraction"]
    check_switching_values(scenario, "npv", named)


def test_switching_cost_overrun_is_where_adequacy_scales_the_claim_window_value_to_the_threshold():
    """Cumulative value(o) = C_others + C_p * o**-eta for an overrun o >= 1, the others at medians.

    Without raids (none at the medians) programme p receives its plan, so its
    funding adequacy is 1 / o in every year, and with no do-minimum uptake
    (set to 0 here) and the staff cap not binding, every year's value of p is
    proportional to its uptake ceiling times adequacy**eta. Two references
    (o = 1 and o = 2) give C_p; the threshold is set where o = 1.25, which the
    switching value must find.
    """
    name = "programmes.staff_technology.cost_overrun"
    scenario = BASE.with_values({f"programmes.{pid}.do_minimum_ceiling": 0.0 for pid in BASE.programmes})
    for value in (1.0, 2.0):
        assert not fixed_scenario_run(scenario, values={name: value})["staff_cap_binding"]
    eta = float(scenario.risks.funding_elasticity.distribution.ppf(0.5))
    at_one = reference(scenario, "cumulative_value", values={name: 1.0})
    at_two = reference(scenario, "cumulative_value", values={name: 2.0})
    c_p = (at_one - at_two) / (1.0 - 2.0**-eta)
    assert c_p > 0
    expected = 1.25
    threshold = at_one - c_p * (1.0 - expected**-eta)
    # a third point on the curve checks the premise
    at_one_half = reference(scenario, "cumulative_value", values={name: 1.5})
    assert at_one_half == pytest.approx(at_one - c_p * (1.0 - 1.5**-eta), rel=1e-12)
    result = tornado(scenario, "cumulative_value", inputs=[name], threshold=threshold, threads=ONE_THREAD)
    law = uncertain_inputs(scenario)[name]
    slope = c_p * eta * expected ** (-eta - 1.0)  # GBP per unit of o at the crossing
    # half the bracket in percentile, through the density; rounding of the value through the slope
    tolerance = BRACKET_WIDTH / 2 / float(law.to_scipy().pdf(expected)) + 64 * EPS * at_one / slope
    assert abs(result["switching_value"].item() - expected) <= tolerance


@pytest.mark.parametrize(
    "name",
    [
        "programmes.patient_services.patients.value_per_contact",
        "programmes.patient_services.patients.contacts_per_year",
    ],
)
def test_switching_value_of_an_affine_input_is_the_root_of_its_line(name):
    """The patient channel's value is a product of these inputs with no cap, so NPV is affine in each.

    (No inclusion programme, and the last year's net benefit stays positive, so
    the residual value is affine too.) The threshold sits a third of the way
    between the ends of the bar, so the root of the line through them is
    inside the searched range.
    """
    scenario, pv_value = near_break_even()
    # without induced demand the patient line stays positive across the bar, so the last year's net
    # benefit, and with it the residual value, stays on its line
    scenario = scenario.with_values({"programmes.patient_services.patients.induced_demand_cost": 0.0})
    law = uncertain_inputs(scenario)[name]
    x_low, x_high = float(law.ppf(0.1)), float(law.ppf(0.9))
    npv_low, npv_high = reference(scenario, "npv", {name: 0.1}), reference(scenario, "npv", {name: 0.9})
    slope = (npv_high - npv_low) / (x_high - x_low)
    threshold = npv_low + (npv_high - npv_low) / 3
    root = x_low + (threshold - npv_low) / slope
    # the premise: a third point lies on the line
    x_mid = float(law.ppf(0.5))
    assert reference(scenario, "npv", {name: 0.5}) == pytest.approx(
        npv_low + slope * (x_mid - x_low), rel=0, abs=64 * EPS * pv_value
    )
    result = tornado(scenario, "npv", inputs=[name], threshold=threshold, threads=ONE_THREAD)
    assert result["has_switching_value"].item()
    # the bracket and the kernel/exact ppf gap through the density; rounding of NPV through the slope
    tolerance = (BRACKET_WIDTH / 2 + U_RESOLUTION) / float(law.to_scipy().pdf(root))
    tolerance += 64 * EPS * pv_value / abs(slope)
    assert abs(result["switching_value"].item() - root) <= tolerance


def test_switching_values_of_bcr_at_one_match_those_of_npv_at_zero():
    # BCR > 1 exactly when NPV > 0 (positive PV of spend): the same crossings.
    scenario, _ = near_break_even()
    npv = tornado(scenario, "npv", inputs=FAST_INPUTS, threads=ONE_THREAD)
    bcr = tornado(scenario, "bcr", inputs=FAST_INPUTS, threads=ONE_THREAD).sel(input=npv["input"])
    assert bcr.attrs["threshold"] == 1.0
    np.testing.assert_array_equal(bcr["has_switching_value"], npv["has_switching_value"])
    np.testing.assert_allclose(
        bcr["switching_percentile"], npv["switching_percentile"], rtol=0, atol=BRACKET_WIDTH
    )


def test_switching_values_of_cumulative_value_cross_the_claimed_return():
    # A claim 5% above the cumulative value at the medians, so that inputs can reach it.
    target = 1.05 * reference(BASE, "cumulative_value")
    scenario = BASE.with_values({"target.claimed_return": target})
    result = check_switching_values(scenario, "cumulative_value", FAST_INPUTS)
    assert result.attrs["threshold"] == target
    assert int(result["has_switching_value"].sum()) >= 3


def test_switching_threshold_argument_and_defaults():
    delay = "programmes.staff_technology.delivery_delay"
    split = "programmes.it_modernisation.cashed_share"
    inputs = [delay, split]
    assert tornado(BASE, "npv", inputs=inputs, threads=ONE_THREAD).attrs["threshold"] == 0.0
    assert tornado(BASE, "bcr", inputs=inputs, threads=ONE_THREAD).attrs["threshold"] == 1.0
    assert tornado(BASE, "cumulative_value", inputs=inputs, threads=ONE_THREAD).attrs["threshold"] == 7.0e9
    claim = BASE.with_values({"target.claimed_return": 3.5e10})
    assert tornado(claim, "cumulative_value", inputs=inputs, threads=ONE_THREAD).attrs["threshold"] == 3.5e10
    # A threshold between the ends of the delay's bar is crossed by the delay; the cash split
    # moves NPV by rounding only and never crosses it.
    default = tornado(BASE, "npv", inputs=inputs, threads=ONE_THREAD)
    bar = default.sel(input=delay)
    level = 0.5 * (bar["output_low"].item() + bar["output_high"].item())
    result = check_switching_values(BASE, "npv", inputs, threshold=level)
    assert result.attrs["threshold"] == level
    assert result["has_switching_value"].sel(input=delay).item()
    assert not result["has_switching_value"].sel(input=split).item()


# -- spider -------------------------------------------------------------------------------------


def test_spider_at_the_median_is_the_base_and_input_values_are_the_ppf():
    inputs = ["programmes.it_modernisation.delivery_delay", "risks.digital_exclusion", "risks.raid_fraction"]
    result = spider(BASE, "npv", inputs=inputs, threads=ONE_THREAD)
    grid = np.round(np.arange(1, 20) * 0.05, 2)
    np.testing.assert_array_equal(result["percentile"], grid)
    base = result["output_base"].item()
    assert base == reference(BASE, "npv", kernel=True)
    assert base == tornado(BASE, "npv", inputs=inputs, threads=ONE_THREAD)["output_base"].item()
    np.testing.assert_array_equal(result["output"].sel(percentile=0.5), base)
    laws = uncertain_inputs(BASE)
    for name, group in zip(result["input"].values, result["input_group"].values, strict=True):
        expected = np.asarray(laws[group].ppf(grid), dtype=float)
        np.testing.assert_array_equal(result["input_value"].sel(input=name), expected)
    assert result["output"].attrs["units"] == "GBP"


def test_spider_of_digital_exclusion_is_the_model_and_affine_decreasing():
    name = "risks.digital_exclusion"
    grid = np.array([0.02, 0.05, 0.3, 0.5, 0.77, 0.95, 0.98])
    # With segments, exclusion by segment is the profile shifted on the log-odds scale: NPV still
    # falls as the headline rises, but not on a line.
    segmented = spider(BASE, "npv", percentiles=grid, inputs=[name], threads=ONE_THREAD)
    assert np.all(np.diff(segmented["output"].sel(input=name).values) < 0)
    # Without segments the headline itself is every contact's exclusion.
    data = BASE.to_dict()
    del data["population"]
    whole = Scenario.from_toml(dumps_toml(data))
    result = spider(whole, "npv", percentiles=grid, inputs=[name], threads=ONE_THREAD)
    trace = result["output"].sel(input=name).values
    law = whole.risks.digital_exclusion.distribution
    kernel_values = law.kernel_ppf(grid)
    for q, got in zip(grid, trace, strict=True):
        assert got == reference(whole, "npv", {name: q}, kernel=True), q
    # Exclusion scales the patient channel's value by (1 - exclusion), the savings that need patients
    # online by (1 - share x exclusion) and dual running by exclusion, all linear (no inclusion
    # programme, the staff cap is not involved, and the residual value's last-year net benefit stays
    # positive): NPV is affine and decreasing in it.
    assert np.all(np.diff(trace) < 0)
    line = trace[0] + (trace[-1] - trace[0]) * (kernel_values - kernel_values[0]) / (
        kernel_values[-1] - kernel_values[0]
    )
    # rounding: a few dozen ulps of the present values of benefits and spend that NPV nets
    pv_scale = reference(whole, "pv_benefits") + reference(whole, "pv_costs")
    np.testing.assert_allclose(trace, line, rtol=0, atol=64 * EPS * pv_scale)


def test_spider_of_an_input_absent_from_the_output_is_flat():
    # running costs are costs: they never enter the value of benefits
    name = "programmes.patient_services.running_cost"
    result = spider(
        BASE, "cumulative_value", inputs=[name], percentiles=[0.01, 0.5, 0.99], threads=ONE_THREAD
    )
    np.testing.assert_array_equal(result["output"].values, result["output_base"].item())


# -- Sobol' indices of a scenario -----------------------------------------------------------


@pytest.fixture(scope="module")
def sobol_npv() -> xr.Dataset:
    return sobol_analysis(BASE, "npv", base_samples=256, seed=11, bootstrap=200, threads=ONE_THREAD)


CORRELATED = "correlated: programmes.*.cost_overrun & programmes.*.delivery_delay"


def test_sobol_inputs_that_do_not_reach_the_output_have_zero_indices():
    # running costs never enter the value of benefits: exactly the same evaluations
    result = sobol_analysis(
        BASE, "cumulative_value", base_samples=64, seed=3, bootstrap=0, threads=ONE_THREAD
    )
    absent = [f"programmes.{pid}.running_cost" for pid in BASE.programmes]
    assert (result["S1"].sel(input=absent) == 0).all() and (result["ST"].sel(input=absent) == 0).all()
    assert (result["ST"] > 0).sum() > 10


def test_sobol_the_default_correlated_inputs_are_one_factor_that_matters(sobol_npv):
    assert sobol_npv.attrs["correlated_groups"] == [CORRELATED]
    assert CORRELATED in sobol_npv["input"].values
    correlated = set(BASE.correlations.inputs)
    assert not correlated & set(sobol_npv["input"].values)
    # overruns and delays of three programmes move a large share of the NPV's variance
    assert sobol_npv["ST"].sel(input=CORRELATED).item() > 0.1


def test_sobol_first_order_below_total_and_sum_below_one_within_bootstrap_error(sobol_npv):
    k = sobol_npv.sizes["input"]
    # A Bonferroni band over the k comparisons at family-wise level 1e-3 (normal approximation).
    z = -float(ndtri(1e-3 / (2 * k)))
    excess = sobol_npv["S1"] - sobol_npv["ST"]
    # se of a difference <= sum of the se's, whatever the correlation of the two estimates
    assert bool((excess <= z * (sobol_npv["S1_se"] + sobol_npv["ST_se"])).all())
    # First-order shares sum to at most 1, total ones to at least 1 (equality for an additive
    # model). The se of a sum is at most the sum of the se's: a loose but honest one-sided band
    # at level 1e-3, as the bootstrap replicates of the sum are not returned.
    z_sum = -float(ndtri(1e-3))
    assert float(sobol_npv["S1"].sum()) <= 1.0 + z_sum * float(sobol_npv["S1_se"].sum())
    assert float(sobol_npv["ST"].sum()) >= 1.0 - z_sum * float(sobol_npv["ST_se"].sum())
    assert bool((sobol_npv["ST"] >= 0).all())
    assert np.all(np.diff(sobol_npv["ST"].values) <= 0)  # sorted by total index


def test_sobol_analysis_is_deterministic_by_seed():
    first = sobol_analysis(BASE, "bcr", base_samples=64, seed=5, bootstrap=0, threads=ONE_THREAD)
    again = sobol_analysis(BASE, "bcr", base_samples=64, seed=5, bootstrap=0, threads=ONE_THREAD)
    xr.testing.assert_identical(first, again)
    other = sobol_analysis(BASE, "bcr", base_samples=64, seed=6, bootstrap=0, threads=ONE_THREAD)
    assert not np.array_equal(first["ST"].sel(input=other["input"]).values, other["ST"].values)
    assert first.attrs["output"] == "bcr" and first.attrs["scenario_name"] == BASE.name


def test_sobol_group_years_groups_per_year_streams():
    grouped = sobol_analysis(
        BASE, "npv", base_samples=64, seed=2, bootstrap=0, group_years=True, threads=ONE_THREAD
    )
    split = sobol_analysis(
        BASE, "npv", base_samples=64, seed=2, bootstrap=0, group_years=False, threads=ONE_THREAD
    )
    named = {path for path in uncertain_inputs(BASE) if path != "risks.raid_fraction"}
    named = (named - set(BASE.correlations.inputs)) | {CORRELATED}
    per_year = {"risks.raid_event", "risks.raid_fraction"}
    assert set(grouped["input"].values) == named | per_year
    assert set(split["input"].values) == named | {f"{g}[{y}]" for g in per_year for y in YEARS}
    # The same design: a single-stream factor gets the same indices either way.
    # Only the grand mean the evaluations are centred on differs (it averages over all k + 2
    # rows), which changes the rounding of the centred values by a few ulps.
    for name in ("risks.staff_capacity", CORRELATED):
        np.testing.assert_allclose(grouped["ST"].sel(input=name), split["ST"].sel(input=name), rtol=1e-12)
    # Raids in years with no planned spend remove nothing.
    unfunded = [y for y in YEARS if y not in funded_years(BASE)]
    assert unfunded
    idle = [f"{g}[{y}]" for g in per_year for y in unfunded]
    assert (split["S1"].sel(input=idle) == 0).all() and (split["ST"].sel(input=idle) == 0).all()
    assert split["input_long_name"].sel(input=f"risks.raid_fraction[{YEARS[0]}]").item()


def test_sobol_analysis_moves_correlated_inputs_together_through_the_copula():
    """A group of correlated inputs is one factor, moved through the copula.

    With a perfect rank correlation of 1 between two inputs, the copula gives
    both the uniform ``ndtr(M @ ndtri(u))`` (M the scenario's mixing matrix), the
    same for both: the Sobol' evaluations equal those of a design holding that
    uniform in both rows with no copula. Without the table, the two inputs are
    separate factors.
    """
    x, y = "risks.staff_capacity", "risks.digital_exclusion"
    linked = BASE.without_correlations().with_correlations(
        [x, y], [[1.0, 1.0], [1.0, 1.0]], source="assumption: test"
    )
    result = sobol_analysis(linked, "npv", base_samples=64, seed=1, bootstrap=0, threads=ONE_THREAD)
    group = f"correlated: {x} & {y}"
    assert result.attrs["correlated_groups"] == [group]
    assert group in result["input"].values and x not in result["input"].values
    plan = experiments.build_plan(linked)
    rows = {name: k for k, name in enumerate(plan.stream_names)}
    cx, cy = plan.design_rows[rows[x]], plan.design_rows[rows[y]]
    design = np.random.default_rng(5).uniform(size=(plan.uniforms_per_draw, 50))
    same = design.copy()
    mixed = ndtr(plan.copula_mixing @ ndtri(design[[cx, cy]]))
    np.testing.assert_allclose(mixed[0], mixed[1], rtol=1e-12)
    same[cx] = same[cy] = mixed[0]
    copula = experiments._evaluate(plan, design, ONE_THREAD, correlated=True)
    direct = experiments._evaluate(plan, same, ONE_THREAD, correlated=False)
    np.testing.assert_allclose(copula["npv"], direct["npv"], rtol=1e-9)
    independent = sobol_analysis(
        BASE.without_correlations(), "npv", base_samples=64, seed=1, bootstrap=0, threads=ONE_THREAD
    )
    assert x in independent["input"].values and independent.attrs["correlated_groups"] == []


@pytest.fixture
def no_model_runs(monkeypatch):
    """Fail any experiment that reaches the model: arguments must be checked before."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model ran before the arguments were checked")

    monkeypatch.setattr(experiments, "_evaluate", refuse)
    monkeypatch.setattr(experiments, "simulate", refuse)


@pytest.mark.parametrize("base_samples, nearest", [(100, "64 and 128"), (3, "2 and 4")])
def test_sobol_base_samples_must_be_a_power_of_two(no_model_runs, base_samples, nearest):
    with pytest.raises(ValueError, match=f"'base_samples'.*{nearest}"):
        sobol_analysis(BASE, base_samples=base_samples, seed=1)


@pytest.mark.parametrize("argument", [{"confidence": 1.5}, {"bootstrap": 5}])
def test_sobol_analysis_checks_confidence_and_bootstrap_before_running_the_model(no_model_runs, argument):
    with pytest.raises(ValueError, match=f"'{next(iter(argument))}' parameter"):
        sobol_analysis(BASE, base_samples=64, seed=1, **argument)


@pytest.mark.slow
def test_sobol_first_order_index_of_support_years_equals_its_conditional_variance_share():
    """S1 = sum_d P(d) (E[NPV | d] - E[NPV])**2 / Var(NPV), estimated by plain simulation.

    Support takes 3 values, so E[NPV | d] is the mean of a run with support
    fixed at d (independent seeds); its standard error enters through the delta method.
    """
    name = "programmes.staff_technology.support_years"
    law = uncertain_inputs(BASE)[name]
    draws = 100_000
    means, variances = [], []
    for seed, value in enumerate(law.values):
        npv = nhsrisk.simulate(BASE.with_values({name: value}), draws, seed=100 + seed)["npv"]
        means.append(float(npv.mean()))
        variances.append(float(npv.var(ddof=1)))
    probabilities = np.asarray(law.probabilities)
    means = np.asarray(means)
    overall = float(probabilities @ means)
    between = float(probabilities @ (means - overall) ** 2)
    npv = nhsrisk.simulate(BASE, draws, seed=200)["npv"].values
    total = float(npv.var())
    expected = between / total
    # delta method: d between / d mean_d = 2 P(d) (mean_d - overall); Var of a sample variance
    se_between = math.sqrt(
        float(np.sum((2 * probabilities * (means - overall)) ** 2 * np.asarray(variances) / draws))
    )
    se_total = math.sqrt(float(np.mean((npv - npv.mean()) ** 4) - total**2) / draws)
    se_expected = expected * math.hypot(se_between / between, se_total / total)

    result = sobol_analysis(BASE, "npv", base_samples=4096, seed=3, bootstrap=1000)
    got = result.sel(input=name)
    se = math.hypot(got["S1_se"].item(), se_expected)
    assert abs(got["S1"].item() - expected) <= 4 * se  # 4 standard errors: p < 1e-4


# -- sweep -----------------------------------------------------------------------------------------


def test_sweep_cells_equal_their_own_simulate_runs():
    exclusion = [0.1, PERT(0.2, 0.3, 0.4)]
    value = [2.0, 5.0, 8.0]
    parameters = {
        "risks.digital_exclusion": exclusion,
        "programmes.patient_services.patients.value_per_contact": value,
    }
    outputs = ("npv", "cumulative_value", "spend")
    result = sweep(BASE, parameters, draws=200, seed=9, outputs=outputs, threads=ONE_THREAD)
    keys = list(parameters)
    assert result["npv"].dims == (*keys, "draw")
    assert result["spend"].dims == (*keys, "year", "programme", "draw")
    # a distribution is labelled by describe(); beside one, numbers become their text
    assert list(result[keys[0]].values) == ["0.1", exclusion[1].describe()]
    np.testing.assert_array_equal(result[keys[1]].values, value)
    for i, x in enumerate(exclusion):
        for j, v in enumerate(value):
            # every thread count gives the same draws: the reference runs on the default ones
            cell = nhsrisk.simulate(BASE.with_values({keys[0]: x, keys[1]: v}), 200, 9)
            for name in (*outputs, "planned_spend", "claimed_return"):
                np.testing.assert_array_equal(result[name].isel({keys[0]: i, keys[1]: j}), cell[name])
    assert result.attrs["swept"] == keys and result.attrs["seed"] == "9"
    assert result.attrs["base_scenario_sha256"] == BASE.sha256()


def test_sweep_uses_common_random_numbers():
    levels = [0.1, 0.2, 0.3]
    # without induced demand a contact moved online always saves work, so exclusion only costs
    no_induced = BASE.with_values({"programmes.patient_services.patients.induced_demand_cost": 0.0})
    result = sweep(
        no_induced,
        {"risks.digital_exclusion": levels},
        draws=500,
        seed=4,
        outputs=("spend", "npv"),
        threads=ONE_THREAD,
    )
    spend = result["spend"].values
    for k in range(1, len(levels)):
        # spend does not depend on exclusion: the same raids in every cell
        np.testing.assert_array_equal(spend[k], spend[0])
    # every draw is the same state of the world, so NPV falls draw by draw as exclusion rises
    # (it stays put only in a draw with no additional patient uptake to exclude anyone from)
    steps = np.diff(result["npv"].values, axis=0)
    assert np.all(steps <= 0) and np.mean(steps < 0) > 0.9


def test_sweep_can_change_the_target():
    result = sweep(BASE, {"target.claimed_return": [7.0e9, 3.5e10]}, draws=10, seed=1, threads=ONE_THREAD)
    np.testing.assert_array_equal(result["claimed_return"], [7.0e9, 3.5e10])


@pytest.mark.parametrize(
    "parameters, match",
    [
        ({}, "non-empty mapping"),
        ([("risks.digital_exclusion", [0.1])], "non-empty mapping"),
        ({"risks.digital_exclusion": []}, "non-empty sequence"),
        ({"risks.digital_exclusion": "0.1"}, "non-empty sequence"),
        ({"risks.digital_exclusion": [0.1, 0.1]}, "repeat"),
        ({"risks.digital_exclusion": [1, 1.0]}, "repeat"),
    ],
)
def test_sweep_refuses_bad_parameters(no_model_runs, parameters, match):
    with pytest.raises(ValueError, match=match):
        sweep(BASE, parameters, draws=10, seed=1)


def test_sweep_refuses_unknown_outputs_and_key_paths_before_running(no_model_runs):
    with pytest.raises(ValueError, match=r"'outputs' parameter of sweep.*'npv'.*Got 'npvv'"):
        sweep(BASE, {"risks.digital_exclusion": [0.1]}, outputs=("npvv",), seed=1)
    with pytest.raises(ScenarioError, match="risks.no_such_risk"):
        sweep(BASE, {"risks.digital_exclusion": [0.1, 0.2], "risks.no_such_risk": [0.1]}, seed=1)
    # an invalid value in the last cell is found before the first cell runs
    with pytest.raises(ScenarioError, match="risks.digital_exclusion"):
        sweep(BASE, {"risks.digital_exclusion": [0.1, 1.5]}, seed=1)
    with pytest.raises(TypeError, match="'draws' parameter of sweep"):
        sweep(BASE, {"risks.digital_exclusion": [0.1]}, draws=1.5, seed=1)


# -- decision options --------------------------------------------------------------------------


def test_compare_options_equal_their_own_runs_with_the_first_options_inputs():
    ring_fenced = BASE.with_values({"risks.raid_probability": 0.0})
    included = BASE.with_values({"risks.digital_exclusion": PERT(0.02, 0.05, 0.1)})
    options = {"as planned": BASE, "ring-fenced": ring_fenced, "inclusion": included}
    result = compare_options(
        options, draws=400, seed=8, outputs=("npv", "cumulative_value"), threads=ONE_THREAD
    )
    assert result["npv"].dims == ("option", "draw")
    assert list(result["option"].values) == list(options)
    runs = {label: nhsrisk.simulate(s, 400, 8) for label, s in options.items()}
    for label, run in runs.items():
        for name in ("npv", "cumulative_value"):
            np.testing.assert_array_equal(result[name].sel(option=label), run[name])
    first = runs["as planned"]
    sampled = [name for name, var in first.data_vars.items() if var.attrs.get("sampled_input") == 1]
    for name in sampled:
        np.testing.assert_array_equal(result[name], first[name])
    # the inputs come from the first option, not from the option that changed them
    assert not np.array_equal(result["risks.digital_exclusion"], runs["inclusion"]["risks.digital_exclusion"])
    assert result.attrs["inputs_from"] == "as planned" and result.attrs["seed"] == "8"
    # common random numbers: where the plan is never raided, ring-fencing changes nothing
    calm = ~first["raid"].any("year").values
    assert calm.any() and not calm.all()
    np.testing.assert_array_equal(result["npv"].sel(option="ring-fenced")[calm], first["npv"][calm])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"options": {"only": BASE}}, "at least two"),
        ({"options": [BASE, BASE]}, "at least two"),
        ({"options": {"a": BASE, "b": BASE}, "outputs": ("npv", "nope")}, r"'outputs'.*Got 'nope'"),
    ],
)
def test_compare_options_refuses_bad_arguments(no_model_runs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        compare_options(**kwargs, draws=10, seed=1)


# -- argument checks shared by the one-way and Sobol' experiments -------------------------------

ONE_WAY = [
    pytest.param(lambda **kw: tornado(BASE, **kw), "tornado", id="tornado"),
    pytest.param(lambda **kw: spider(BASE, **kw), "spider", id="spider"),
]
ALL_DESIGNS = [
    *ONE_WAY,
    pytest.param(
        lambda **kw: sobol_analysis(BASE, base_samples=64, seed=1, **kw), "sobol_analysis", id="sobol"
    ),
]


@pytest.mark.parametrize("run, caller", ALL_DESIGNS)
def test_unknown_output_lists_the_valid_ones(no_model_runs, run, caller):
    message = f"The 'output' parameter of {caller} must be one of {sorted(OUTPUTS)}. Got 'NPV' instead."
    with pytest.raises(ValueError) as error:
        run(output="NPV")
    assert str(error.value) == message


@pytest.mark.parametrize("output", ["spend", "value", "hours_released", "funding_adequacy", "hours_capped"])
@pytest.mark.parametrize("run, caller", ALL_DESIGNS)
def test_outputs_with_other_dimensions_are_refused_with_how_to_reduce_them(
    no_model_runs, run, caller, output
):
    with pytest.raises(ValueError, match=rf"'output' parameter of {caller}.*{output}.*sum it over"):
        run(output=output)


@pytest.mark.parametrize("run, caller", ONE_WAY)
def test_unknown_inputs_are_named(no_model_runs, run, caller):
    with pytest.raises(ValueError, match=rf"'inputs' parameter of {caller}.*Got 'risks.nonsense'"):
        run(inputs=["risks.digital_exclusion", "risks.nonsense"])
    # a fixed quantity is not an uncertain input
    with pytest.raises(ValueError, match="discount_rate"):
        run(inputs=["discount_rate"])


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"low": 0.0}, "low"),
        ({"low": 1.0, "high": 0.9}, "low"),
        ({"high": 1.2}, "high"),
        ({"low": float("nan")}, "low"),
        ({"high": True}, "high"),
        ({"low": "0.1"}, "low"),
        ({"low": 0.6, "high": 0.4}, "low"),
        ({"low": 0.5, "high": 0.5}, "low"),
    ],
)
def test_tornado_percentiles_must_be_ordered_probabilities(no_model_runs, kwargs, name):
    with pytest.raises(ValueError, match=rf"The '{name}' parameter of tornado must be"):
        tornado(BASE, **kwargs)


@pytest.mark.parametrize("threshold", [float("nan"), float("inf"), "0", True])
def test_tornado_threshold_must_be_finite(no_model_runs, threshold):
    with pytest.raises(ValueError, match="'threshold' parameter"):
        tornado(BASE, threshold=threshold)


def test_tornado_threshold_message_names_the_caller(no_model_runs):
    with pytest.raises(ValueError, match="The 'threshold' parameter of tornado must be a finite number"):
        tornado(BASE, threshold=float("nan"))


@pytest.mark.parametrize("percentiles", [[0.0, 0.5], [0.5, 1.0], [], [0.2, float("nan")], [-0.1]])
def test_spider_percentiles_must_be_in_the_open_unit_interval(no_model_runs, percentiles):
    with pytest.raises(ValueError, match="The 'percentiles' parameter of spider must be probabilities in"):
        spider(BASE, percentiles=percentiles)


# -- defects found by these tests, now fixed (each case names what used to go wrong) ----------------


def _bad_call(reason: str, call, match: str):
    return pytest.param(call, match, id=reason)


@pytest.mark.parametrize(
    "call, match",
    [
        _bad_call(
            "saltelli_design's check names itself, not sobol_analysis",
            lambda: sobol_analysis(BASE, base_samples=100, seed=1),
            "The 'base_samples' parameter of sobol_analysis must be",
        ),
        _bad_call(
            "numpy's conversion error escapes: no parameter named",
            lambda: spider(BASE, percentiles=["a"]),
            "The 'percentiles' parameter of spider must be",
        ),
        _bad_call(
            "iterating a non-sequence raises a bare TypeError",
            lambda: tornado(BASE, inputs=5),
            "The 'inputs' parameter of tornado must be",
        ),
        _bad_call(
            "an unknown output given as a bare string was iterated letter by letter",
            lambda: sweep(BASE, {"risks.digital_exclusion": [0.1]}, outputs="nvp", seed=1),
            "The 'outputs' parameter of sweep must .*Got 'nvp'",
        ),
        _bad_call(
            "labels 1 and '1' both become '1': one option is silently dropped",
            lambda: compare_options({1: BASE, "1": BASE}, draws=10, seed=1),
            "The 'options' parameter of compare_options must",
        ),
    ],
)
def test_bad_arguments_are_refused_in_the_project_format(no_model_runs, call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_sweep_keeps_a_single_output_named_by_a_bare_string():
    result = sweep(
        BASE, {"risks.digital_exclusion": [0.1]}, outputs="npv", draws=10, seed=1, threads=ONE_THREAD
    )
    assert set(result.data_vars) == {"npv", "planned_spend", "claimed_return"}


def test_sweep_labels_numpy_integers_as_numbers():
    name = "programmes.staff_technology.support_years"
    result = sweep(BASE, {name: np.arange(2)}, draws=10, seed=1, threads=ONE_THREAD)
    np.testing.assert_array_equal(result[name].values, [0.0, 1.0])


def test_sweep_fixes_a_correlated_input_by_taking_it_out_of_the_correlations_table():
    name = "programmes.it_modernisation.cost_overrun"
    assert name in BASE.correlations.inputs
    result = sweep(BASE, {name: [1.0, 1.5]}, draws=200, seed=3, outputs="npv", threads=ONE_THREAD)
    # each cell is the scenario with the input fixed and the other five still correlated
    others = [n for n in BASE.correlations.inputs if n != name]
    keep = [BASE.correlations.inputs.index(n) for n in others]
    linked = BASE.without_correlations().with_correlations(
        others, BASE.correlations.as_array()[np.ix_(keep, keep)], source=BASE.correlations.source
    )
    for i, value in enumerate([1.0, 1.5]):
        cell = nhsrisk.simulate(linked.with_values({name: value}), 200, 3, threads=ONE_THREAD)
        assert "correlated_inputs" in cell.attrs and name not in cell.attrs["correlated_inputs"]
        np.testing.assert_array_equal(result["npv"].isel({name: i}), cell["npv"])
    # a distribution keeps the input in the table
    law = BASE.programmes["it_modernisation"].cost_overrun.distribution
    kept = sweep(BASE, {name: [law]}, draws=200, seed=3, outputs="npv", threads=ONE_THREAD)
    np.testing.assert_array_equal(kept["npv"].isel({name: 0}), nhsrisk.simulate(BASE, 200, 3)["npv"])
