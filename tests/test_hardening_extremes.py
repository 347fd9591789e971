"""Extreme but valid scenarios run and give the right answer, each stated in the test.

The cases of issue 7: one draw; one programme (and one year, one staff group);
64 programmes over 40 years; zero budget in a year; digital exclusion of 0 and
of 1; raid probability of 0 and of 1; every input fixed. ``tests/test_extremes.py``
checks that such shapes run and keep the invariants; here each case has an
expected result: a hand computation, an exact identity between two runs with
common random numbers, or the plain-NumPy reference model
(``benchmarks/reference.py``) evaluated on the kernel's own sampled inputs,
draw by draw, to 1e-12 relative. Where a rate is estimated, the tolerance is
four binomial standard errors (a two-sided false-alarm rate of 6e-5 per check;
the seeds are fixed, so the outcome cannot flake).
"""

from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import scipy.stats
import xarray as xr

import nhsrisk
from nhsrisk import Scenario, _sampling
from nhsrisk.cli import summary_table
from nhsrisk.distributions import (
    MAX_CONCENTRATION,
    MIN_SHAPE,
    PERT,
    U_RESOLUTION,
    Beta,
    Discrete,
    Fixed,
    _build_inversion_table,
    _cdf_step,
)
from nhsrisk.scenario import dumps_toml
from nhsrisk.simulation import OUTPUTS, SAMPLERS
from nhsrisk.testing import synthetic_scenario

try:
    from benchmarks.reference import evaluate_reference
    from tests._hardening import tally, write_tally
except ModuleNotFoundError:  # pragma: no cover - depends on how pytest was started
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.reference import evaluate_reference
    from tests._hardening import tally, write_tally

BASE = nhsrisk.load_scenario()
SIGMAS = 4.0


@pytest.fixture(scope="module", autouse=True)
def _write_the_tally(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    write_tally(tmp_path_factory.getbasetemp())


def simulate(scenario: Scenario | str = "spring-budget-2024", **kwargs: Any) -> xr.Dataset:
    tally("scenario simulated (extremes)")
    return nhsrisk.simulate(scenario, **kwargs)


def draw_first(ds: xr.Dataset, name: str) -> np.ndarray:
    return ds[name].transpose("draw", ...).values


def assert_matches_reference(ds: xr.Dataset, scenario: Scenario, rtol: float = 1e-12) -> None:
    """Every output equals the NumPy reference model evaluated on this run's own sampled inputs."""
    inputs = {name: draw_first(ds, name) for name in ds.data_vars if ds[name].attrs.get("sampled_input")}
    # Only whether a raid happened is stored: a uniform of 0 is below any raid probability > 0, 1 below none.
    inputs["risks.raid_event"] = np.where(draw_first(ds, "raid"), 0.0, 1.0)
    reference = evaluate_reference(scenario, inputs, ds.sizes["draw"])
    for name in OUTPUTS:
        kernel, expected = draw_first(ds, name), np.asarray(reference[name])
        assert kernel.shape == expected.shape, name
        if kernel.dtype == bool:
            np.testing.assert_array_equal(kernel, expected, err_msg=name)
        else:
            # relative to the variable's scale: net benefit and NPV can cross zero
            scale = float(np.max(np.abs(expected), initial=0.0))
            np.testing.assert_allclose(kernel, expected, rtol=rtol, atol=rtol * scale, err_msg=name)


def at_means(scenario: Scenario, **risks: float) -> Scenario:
    """Every uncertain input replaced by its mean, as a fixed value; ``risks`` override risk inputs."""
    values: dict[str, Any] = {}
    for path, quantity in scenario.quantities().items():
        if not quantity.distribution.is_fixed:
            mean = float(quantity.distribution.mean())
            # a plain number at a Discrete's path would be taken for a spend list; Fixed is unambiguous
            values[path] = Fixed(mean) if isinstance(quantity.distribution, Discrete) else mean
    values.update({f"risks.{name}": value for name, value in risks.items()})
    fixed = scenario.with_values(values)
    assert all(q.distribution.is_fixed for q in fixed.quantities().values())
    return fixed


def fixed(value: float) -> dict[str, Any]:
    return {"value": value, "source": "assumption: hardening test"}


# ---------------------------------------------------------------------------------
# One draw
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_one_draw_is_a_whole_run_of_the_model(sampler: str) -> None:
    # Expected: a Dataset with one draw whose every output is the model at that draw's inputs.
    ds = simulate(draws=1, seed=2**64 + 3, sampler=sampler)
    assert dict(ds.sizes) == {"draw": 1, "year": 5, "programme": 3, "staff_group": 6}
    assert ds.attrs["n_draws"] == 1 and ds.attrs["sampler"] == sampler
    assert_matches_reference(ds, BASE)
    for name, quantity in BASE.quantities().items():
        if name in ds:  # each sampled input lies in its distribution's support
            low, high = quantity.distribution.support()
            assert ((ds[name] >= low) & (ds[name] <= high)).all(), name


def test_one_draw_summaries_say_what_one_draw_cannot_tell() -> None:
    ds = simulate(draws=1, seed=7)
    # A standard error needs two draws: refused, not NaN.
    with pytest.raises(ValueError, match="1 draws are too few"):
        nhsrisk.summary(ds)
    # The command-line summary still runs and bounds the probabilities it cannot estimate: with no
    # event in n = 1 draw the exact one-sided 95% bound is 1 - 0.05**(1/n) = 0.95.
    text = summary_table(ds)
    assert "P(cumulative value reaches the target) < 0.95 (95% upper bound: none of 1 draws)" in text
    npv = float(ds["npv"].values[0]) / 1e9
    assert f"{npv:>10.3f}{npv:>10.3f}{npv:>10.3f}{npv:>10.3f}" in text  # mean = p5 = p50 = p95


# ---------------------------------------------------------------------------------
# One programme, one staff group, one year: by hand
# ---------------------------------------------------------------------------------

SMALLEST: dict[str, Any] = {
    "schema_version": 1,
    "name": "smallest",
    "title": "One programme, one staff group, one year",
    "description": "The smallest scenario the schema allows.",
    "years": ["2025/26"],
    "price_base": "2023/24",
    "discount_rate": fixed(0.035),
    "target": {"description": "test", "claimed_return": fixed(1.0e6)},
    "risks": {
        "raid_probability": fixed(1.0),
        "raid_fraction": fixed(0.25),
        "cost_overrun": fixed(1.0),
        "black_swan": fixed(0.0),
        "black_swan_overrun": fixed(3.0),
        "delivery_delay": fixed(0.0),
        "digital_exclusion": fixed(0.3),
        "staff_capacity": fixed(0.5),
        "social_care_leakage": fixed(0.5),
        "funding_elasticity": fixed(2.0),
        "redeployment_fraction": fixed(0.6),
    },
    "staff_groups": {
        "gp": {
            "label": "GPs",
            "fte": fixed(100.0),
            "hours_per_fte": fixed(1500.0),
            "cost_per_hour": fixed(50.0),
            "max_release_share": fixed(0.5),
        }
    },
    "programmes": {
        "only": {
            "label": "The only programme",
            "spend": {"values": [1.0e6], "source": "assumption: hardening test"},
            "raid_exposure": fixed(0.4),
            "uptake_ceiling": fixed(0.8),
            # exp(-(0 + 100)) is below half an ulp of 1: the logistic is exactly 1
            "uptake_midpoint": fixed(-100.0),
            "uptake_steepness": fixed(1.0),
            "realisation_lag": fixed(0.0),
            "benefit_decay": fixed(0.3),
            "cash_releasing_fraction": fixed(0.25),
            "social_care_share": fixed(0.2),
            "staff": {"gp": {"addressable_share": fixed(0.1), "recovered_fraction": fixed(0.5)}},
            "patients": {"contacts_per_year": fixed(1.0e5), "value_per_contact": fixed(2.0)},
        }
    },
}


def test_one_programme_one_group_one_year_by_hand() -> None:
    scenario = Scenario.from_toml(dumps_toml(SMALLEST))
    ds = simulate(scenario, draws=3, seed=1)
    spend = 1.0e6 * (1 - 0.25 * 0.4)  # a raid every year takes 25% of the 40% exposed
    adequacy = spend / 1.0e6  # no overrun
    uptake = 0.8 * 0.5 * adequacy**2.0  # ceiling x staff capacity x adequacy ** elasticity
    hours = 100 * 1500 * 0.1 * 0.5 * uptake  # FTE x hours x addressable x recovered x uptake
    value = (hours * 50 * 0.6 + 1.0e5 * (1 - 0.3) * uptake * 2.0) * (1 - 0.2 * 0.5)
    assert (spend, adequacy, uptake, hours) == pytest.approx((9.0e5, 0.9, 0.324, 2430.0), rel=1e-15)
    assert value == pytest.approx(106_434.0, rel=1e-14)
    expected = {
        "spend": spend,
        "funding_adequacy": adequacy,
        "uptake": uptake,
        "hours_released": hours,
        "value": value,
        "cash_releasing_value": 0.25 * value,
        "net_benefit": value - spend,
        "cumulative_value": value,
        "npv": value - spend,  # year 0 is not discounted; benefit decay never starts in a one-year plan
        "bcr": value / spend,
    }
    for name, number in expected.items():
        np.testing.assert_allclose(ds[name].values, number, rtol=1e-14, err_msg=name)
    assert ds["raid"].all() and not ds["hours_capped"].any()
    assert_matches_reference(ds, scenario)


def test_one_programme_with_uncertain_inputs_matches_the_reference() -> None:
    scenario = synthetic_scenario(1, 5)
    ds = simulate(scenario, draws=400, seed=3)
    assert ds.sizes["programme"] == 1
    assert_matches_reference(ds, scenario)


# ---------------------------------------------------------------------------------
# 64 programmes over 40 years
# ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wide_long() -> Scenario:
    return synthetic_scenario(64, 40)


def test_sixty_four_programmes_over_forty_years_match_the_reference(wide_long: Scenario) -> None:
    ds = simulate(wide_long, draws=48, seed=2**100)
    assert ds.sizes["programme"] == 64 and ds.sizes["year"] == 40
    assert ds["year"].values[0] == "2025/26" and ds["year"].values[-1] == "2064/65"
    assert_matches_reference(ds, wide_long)


def test_with_everything_fixed_copies_of_a_strand_are_identical(wide_long: Scenario) -> None:
    # Expected: programme i copies strand i mod 3 with its parameters and an equal share of its spend;
    # with every input fixed (and no raid) its uptake, released hours and value are those of every other
    # copy of the same strand, bit for bit, in every year and draw, even where the staff cap binds.
    ds = simulate(at_means(wide_long, raid_probability=0.0), draws=2, seed=1)
    for strand in range(3):
        copies = ds.isel(programme=slice(strand, None, 3))
        for name in ("uptake", "hours_released", "value", "spend"):
            values = copies[name].values
            np.testing.assert_array_equal(values, np.broadcast_to(values[:, :1], values.shape), err_msg=name)


# ---------------------------------------------------------------------------------
# Zero budget in a year
# ---------------------------------------------------------------------------------


def with_spend(scenario: Scenario, programme: str, year: int, amount: float) -> Scenario:
    spend = list(scenario.programmes[programme].spend.values)
    spend[year] = amount
    return scenario.with_values({f"programmes.{programme}.spend": spend})


def test_zero_budget_in_a_middle_year() -> None:
    # Expected: nothing is spent that year in any draw (a raid takes a share of nothing), and the
    # outputs are the model's for this plan: benefits decay only after the last funded year (2027/28).
    scenario = with_spend(BASE, "it_modernisation", 1, 0.0)
    ds = simulate(scenario, draws=300, seed=4)
    np.testing.assert_array_equal(ds["spend"].sel(programme="it_modernisation", year="2026/27"), 0.0)
    assert ds["raid"].sel(year="2026/27").any()
    assert_matches_reference(ds, scenario)


def test_zero_budget_in_the_last_funded_year_starts_the_decay_a_year_earlier() -> None:
    # Expected, draw by draw with common random numbers: with nothing planned for 2027/28 the last
    # funded year is 2026/27, so from 2027/28 on the IT strand's uptake is (1 - benefit_decay) times
    # what it was. No raids and no overrun credit keep funding adequacy the same in both runs.
    base = BASE.with_values({"risks.raid_probability": 0.0, "risks.black_swan": 0.0})
    plan = list(base.programmes["it_modernisation"].spend.values)
    early = base.with_values(
        {"programmes.it_modernisation.spend": [plan[0], plan[1] + plan[2], 0.0, 0.0, 0.0]}
    )
    a = simulate(base, draws=500, seed=5)["uptake"].sel(programme="it_modernisation")
    b_ds = simulate(early, draws=500, seed=5)
    b = b_ds["uptake"].sel(programme="it_modernisation")
    keep = 1.0 - b_ds["programmes.it_modernisation.benefit_decay"]
    xr.testing.assert_allclose(
        b.sel(year=["2025/26", "2026/27"]), a.sel(year=["2025/26", "2026/27"]), rtol=1e-12
    )
    later = ["2027/28", "2028/29", "2029/30"]
    xr.testing.assert_allclose(b.sel(year=later), a.sel(year=later) * keep, rtol=1e-12)
    assert (keep < 1).all()


def test_zero_budget_for_every_programme_in_a_year() -> None:
    scenario = BASE
    for programme in BASE.programmes:
        scenario = with_spend(scenario, programme, 0, 0.0)
    ds = simulate(scenario, draws=300, seed=6)
    np.testing.assert_array_equal(ds["spend"].sel(year="2025/26"), 0.0)
    assert np.isfinite(ds["bcr"]).all()
    assert_matches_reference(ds, scenario)


# ---------------------------------------------------------------------------------
# Digital exclusion of 0 and of 1
# ---------------------------------------------------------------------------------


def test_exclusion_of_one_leaves_exactly_the_staff_value() -> None:
    # Expected: with everyone excluded, value is bit for bit that of the same scenario without a
    # patient channel at all (the other inputs are drawn identically: streams are keyed by name).
    excluded = BASE.with_values({"risks.digital_exclusion": 1.0})
    data = excluded.to_dict()
    del data["programmes"]["patient_services"]["patients"]
    no_channel = Scenario.from_toml(dumps_toml(data))
    a = simulate(excluded, draws=400, seed=8)
    b = simulate(no_channel, draws=400, seed=8)
    for name in ("value", "cash_releasing_value", "cumulative_value", "npv", "hours_released"):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def test_exclusion_of_zero_adds_the_whole_patient_channel() -> None:
    # Expected: value(exclusion 0) - value(exclusion 1) = contacts x uptake x value per contact x the
    # share kept from social-care leakage, draw by draw; released staff hours do not change at all.
    runs = {
        e: simulate(BASE.with_values({"risks.digital_exclusion": e}), draws=400, seed=9) for e in (0.0, 1.0)
    }
    included, excluded = runs[0.0], runs[1.0]
    pid = "patient_services"
    kept = 1.0 - included[f"programmes.{pid}.social_care_share"] * included["risks.social_care_leakage"]
    channel = (
        included[f"programmes.{pid}.patients.contacts_per_year"]
        * included["uptake"].sel(programme=pid)
        * included[f"programmes.{pid}.patients.value_per_contact"]
        * kept
    )
    difference = included["value"].sel(programme=pid) - excluded["value"].sel(programme=pid)
    xr.testing.assert_allclose(difference, channel.transpose(*difference.dims), rtol=1e-12)
    other = [p for p in BASE.programmes if p != pid]
    xr.testing.assert_equal(included["value"].sel(programme=other), excluded["value"].sel(programme=other))
    xr.testing.assert_equal(included["hours_released"], excluded["hours_released"])


# ---------------------------------------------------------------------------------
# Raid probability of 0 and of 1
# ---------------------------------------------------------------------------------


def test_raid_probability_zero_spends_exactly_the_plan() -> None:
    ds = simulate(BASE.with_values({"risks.raid_probability": 0.0}), draws=500, seed=10)
    assert not ds["raid"].any()
    np.testing.assert_array_equal(
        ds["spend"].values, np.broadcast_to(ds["planned_spend"].values[..., None], ds["spend"].shape)
    )


def test_raid_probability_one_raids_every_year_by_the_drawn_fraction() -> None:
    # Expected, draw by draw: spend = plan x (1 - raid fraction of the year x exposure of the
    # programme), and adequacy = min(1, spend over all years / (overrun x plan over all years)), where the
    # overrun is the black-swan one when the black swan happens.
    scenario = BASE.with_values({"risks.raid_probability": 1.0})
    ds = simulate(scenario, draws=500, seed=11)
    assert ds["raid"].all()
    exposure = xr.concat([ds[f"programmes.{p}.raid_exposure"] for p in BASE.programmes], dim=ds["programme"])
    expected = ds["planned_spend"] * (1.0 - ds["risks.raid_fraction"] * exposure)
    xr.testing.assert_allclose(ds["spend"], expected.transpose(*ds["spend"].dims), rtol=1e-15)
    overrun = xr.where(ds["risks.black_swan"] > 0.5, ds["risks.black_swan_overrun"], ds["risks.cost_overrun"])
    adequacy = np.minimum(1.0, ds["spend"].sum("year") / (overrun * ds["planned_spend"].sum("year")))
    xr.testing.assert_allclose(
        ds["funding_adequacy"], adequacy.transpose(*ds["funding_adequacy"].dims), rtol=1e-14
    )
    assert_matches_reference(ds, scenario)


# ---------------------------------------------------------------------------------
# Every input fixed
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raid_probability", [0.0, 1.0])
def test_every_input_fixed_gives_one_answer_whatever_the_draw_or_sampler(raid_probability: float) -> None:
    # Expected: nothing is left to chance, so every draw is the same number in every output, that
    # number is the reference model's, and the sampling design (random, Latin hypercube, Sobol') makes
    # no difference at all.
    scenario = at_means(BASE, raid_probability=raid_probability)
    runs = {sampler: simulate(scenario, draws=8, seed=12, sampler=sampler) for sampler in SAMPLERS}
    ds = runs["random"]
    for name in OUTPUTS:
        values = draw_first(ds, name)
        np.testing.assert_array_equal(values, np.broadcast_to(values[:1], values.shape), err_msg=name)
    assert not [v for v in ds.data_vars if ds[v].attrs.get("sampled_input")]
    assert_matches_reference(ds, scenario)
    for sampler in ("lhs", "sobol"):
        xr.testing.assert_identical(runs[sampler].drop_attrs(), ds.drop_attrs())


def test_with_only_the_raids_left_to_chance_the_answer_depends_on_the_raid_years_alone() -> None:
    # Expected: every output is a function of which funded years were raided (draws with the same
    # raided years agree bit for bit; a raid on a year with nothing planned changes nothing), and each
    # year is raided with the fixed probability 0.3: the observed rate lies within 4 binomial standard
    # errors sqrt(p (1 - p) / n).
    p, n = 0.3, 4000
    ds = simulate(at_means(BASE, raid_probability=p), draws=n, seed=13)
    patterns = draw_first(ds, "raid")
    funded = ds["planned_spend"].sum("programme").values > 0
    assert funded.tolist() == [True, True, True, False, False]
    _, group = np.unique(patterns[:, funded], axis=0, return_inverse=True)
    group = group.ravel()
    npv = ds["npv"].values
    for g in np.unique(group):
        assert np.ptp(npv[group == g]) == 0.0
    assert len(np.unique(npv)) == len(np.unique(group))
    rates = patterns.mean(axis=0)
    assert np.all(np.abs(rates - p) <= SIGMAS * math.sqrt(p * (1 - p) / n)), rates


# ---------------------------------------------------------------------------------
# Magnitudes beyond any budget: refused with a reason, never returned as inf or NaN
# ---------------------------------------------------------------------------------


def test_astronomical_inputs_are_refused_with_the_draw_not_returned_as_inf() -> None:
    # Valid by the schema (staff numbers have no upper bound), but 1e300 FTE x 1e300 hours overflows.
    scenario = BASE.with_values({"staff_groups.gp.fte": 1e300, "staff_groups.gp.hours_per_fte": 1e300})
    with pytest.raises(FloatingPointError, match=r"non-finite npv .* in draw 0 "):
        simulate(scenario, draws=5, seed=1)


def test_cumulative_value_overflow_is_refused_not_returned() -> None:
    values = {
        "discount_rate": 1.0,
        "risks.raid_probability": 0.0,
        "risks.digital_exclusion": 0.0,
        "risks.staff_capacity": 1.0,
        "risks.delivery_delay": Fixed(0.0),
        "programmes.patient_services.patients.contacts_per_year": 1e300,
        "programmes.patient_services.patients.value_per_contact": 5e7,
        "programmes.patient_services.uptake_ceiling": 1.0,
        "programmes.patient_services.uptake_midpoint": -100.0,
        "programmes.patient_services.social_care_share": 0.0,
        "programmes.patient_services.benefit_decay": 0.0,
    }
    scenario = BASE.with_values(values)
    try:
        ds = simulate(scenario, draws=5, seed=1)
    except FloatingPointError:
        return  # refused: the guarantee holds
    bad = [name for name in OUTPUTS if not np.isfinite(ds[name].values.astype(float)).all()]
    assert not bad, f"simulate returned non-finite {bad} (npv finite: {np.isfinite(ds['npv']).all().item()})"


def test_with_every_input_fixed_the_seed_makes_no_difference() -> None:
    # The hand-computed scenario above with the smallest and the largest seed: only the attrs differ.
    scenario = Scenario.from_toml(dumps_toml(copy.deepcopy(SMALLEST)))
    a = simulate(scenario, draws=2, seed=0)
    b = simulate(scenario, draws=2, seed=2**128 - 1)
    assert a.attrs["seed"] != b.attrs["seed"]
    xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())


# ---------------------------------------------------------------------------------
# The Beta and PERT shapes the kernel can invert: bounded time and U_RESOLUTION at the edges
# ---------------------------------------------------------------------------------

LOW, TOP = MIN_SHAPE, MAX_CONCENTRATION
#: Corners of the allowed (alpha, beta), the largest PERT lambda, and shapes where scipy's own quantile
#: function misses (Beta(0.5, 2) below u = 1e-8; alpha = 1000 exactly with a much larger beta).
EDGE_SHAPES = {
    "both smallest": (LOW, LOW),
    "smallest alpha, largest beta": (LOW, TOP - LOW),
    "largest alpha, smallest beta": (TOP - LOW, LOW),
    "largest, symmetric": (TOP / 2, TOP / 2),
    "largest, skewed 1:99": (TOP / 100, TOP * 99 / 100),
    "PERT lambda 1e6, mode in the middle": (1 + TOP / 2, 1 + TOP / 2),
    "PERT lambda 1e6, mode at 1e-6 of the range": (1 + TOP * 1e-6, 1 + TOP * (1 - 1e-6)),
    "scipy's ppf gives up: Beta(0.5, 2)": (0.5, 2.0),
    "scipy's ppf misses: Beta(1000, 999000)": (1000.0, TOP - 1000.0),
}
#: A new table takes about a second here; this bound only catches a build that has lost its way.
BUILD_SECONDS = 15.0


def assert_inverts_within_u_resolution(alpha: float, beta: float) -> None:
    """Build the table afresh in bounded time; ``|F(x(u)) - u| <= U_RESOLUTION`` on a dense grid of u.

    scipy's Beta CDF is the reference: checked against mpmath (50 digits) to 1e-15 at these shapes.
    """
    start = time.perf_counter()
    table = _build_inversion_table(alpha, beta)
    assert time.perf_counter() - start < BUILD_SECONDS
    tail = np.logspace(-14, -1, 131)
    u = np.unique(np.concatenate([tail, np.linspace(0, 1, 20_001)[1:-1], 1 - tail]))
    x = np.empty_like(u)
    _sampling.inverse_cdf_many(_sampling.BETA_TABLE, np.array([0.0, 1.0, 0.0, 0.0, 0.0]), table, u, x)
    law = scipy.stats.beta(alpha, beta)
    error = np.where(u <= 0.5, np.abs(law.cdf(x) - u), np.abs(law.sf(x) - (1 - u)))
    # Where the density is so steep that F changes by more between neighbouring doubles, no double does
    # better: there the kernel's polynomial, exact to a couple of ulps, may be three steps of F away.
    allowance = U_RESOLUTION + 3 * _cdf_step(law, x)
    worst = int(np.argmax(error / allowance))
    assert np.all(error <= allowance), f"u={u[worst]!r}: error {error[worst]:.3g} > {allowance[worst]:.3g}"
    assert np.all(np.diff(x) >= 0) and np.all((x >= 0) & (x <= 1))


@pytest.mark.parametrize("shape", list(EDGE_SHAPES))
def test_the_edges_of_the_allowed_beta_shapes_invert_accurately_in_bounded_time(shape: str) -> None:
    assert_inverts_within_u_resolution(*EDGE_SHAPES[shape])


@pytest.mark.slow
def test_random_allowed_beta_shapes_invert_accurately_in_bounded_time_full() -> None:
    rng = np.random.default_rng(7)
    for _ in range(60):
        alpha, beta = np.exp(rng.uniform(np.log(LOW), np.log(TOP / 2), size=2))
        tally("Beta shape inverted (extremes)")
        assert_inverts_within_u_resolution(float(alpha), float(beta))


@pytest.mark.parametrize(
    ("make", "quoted", "allowed"),
    [
        (lambda: Beta(0.049, 2.0), "0.049", ">= 0.05"),
        (lambda: Beta(3.0, 1e-300), "1e-300", ">= 0.05"),
        (lambda: Beta(5e5, 5e5 + 1), "alpha + beta = 1000001.0", "at most 1e+06"),
        (lambda: Beta.from_mean_sd(0.3, 1e-5), "1e-05", ">= 0.000458257"),
        (lambda: PERT(0.1, 0.2, 0.3, lam=1e6 * (1 + 1e-15)), repr(1e6 * (1 + 1e-15)), "(0, 1e+06]"),
        (lambda: PERT(0.1, 0.2, 0.3, lam=1e12), "1000000000000.0", "(0, 1e+06]"),
    ],
    ids=[
        "alpha too small",
        "beta tiny",
        "too concentrated",
        "sd too small",
        "lambda just above",
        "lambda 1e12",
    ],
)
def test_shapes_beyond_the_edges_are_refused_at_once(make: Any, quoted: str, allowed: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ValueError) as info:
        make()
    assert time.perf_counter() - start < 0.5  # refused before any table is built
    assert quoted in str(info.value) and allowed in str(info.value), str(info.value)
