"""Extreme but valid scenarios run and give the right answer, each stated in the test.

The cases of issue 7, brought to model v2 (issue 12): one draw; one programme
(and one year, one staff group); 64 programmes over 40 years; zero budget in a
year; digital exclusion of 0 and of 1; raid probability of 0 and of 1; every
input fixed; and the extremes model v2 adds: no money at all (a budget change
cutting the whole plan, or raids taking all of it), a do-minimum path at or
above the investment's own, support that ends with the build, a budget change
cutting a year's whole spend. ``tests/test_extremes.py`` checks that such
shapes run and keep the invariants; here each case has an expected result: a
hand computation, an exact identity between two runs with common random
numbers, or the NumPy reference model (``benchmarks/reference.py``, via
:func:`tests._hardening.assert_matches_model`)
evaluated on the kernel's own sampled inputs, draw by draw, to 1e-12 relative.
Where a rate is estimated, the tolerance is four binomial standard errors (a
two-sided false-alarm rate of 6e-5 per check; the seeds are fixed, so the
outcome cannot flake).
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
from nhsrisk import Scenario, ScenarioError, _sampling
from nhsrisk.cli import main as cli_main
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
    from tests._hardening import assert_matches_model, tally, write_tally
except ModuleNotFoundError:  # pragma: no cover - depends on how pytest was started
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests._hardening import assert_matches_model, tally, write_tally

BASE = nhsrisk.load_scenario()
PROGRAMMES = list(BASE.programmes)
SIGMAS = 4.0


@pytest.fixture(scope="module", autouse=True)
def _write_the_tally(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    write_tally(tmp_path_factory.getbasetemp())


def simulate(scenario: Scenario | str = "as-announced", **kwargs: Any) -> xr.Dataset:
    tally("scenario simulated (extremes)")
    # these tests check every output of the model, not only the headline ones a run keeps by default
    return nhsrisk.simulate(scenario, **{"keep": "all", **kwargs})


def draw_first(ds: xr.Dataset, name: str) -> np.ndarray:
    return ds[name].transpose("draw", ...).values


def at_means(scenario: Scenario, **risks: float) -> Scenario:
    """Every uncertain input replaced by its mean, as a fixed value; ``risks`` override risk inputs.

    The correlations go (a fixed input cannot be correlated). A Bernoulli's mean (0.17) is not a
    black swan (the kernel's test is ``> 0.5``), and a Discrete's mean (6.4 support years) counts as
    its whole years (6).
    """
    values: dict[str, Any] = {}
    for path, quantity in scenario.quantities().items():
        if not quantity.distribution.is_fixed:
            mean = float(quantity.distribution.mean())
            # a plain number at a Discrete's path would be taken for a spend list; Fixed is unambiguous
            values[path] = Fixed(mean) if isinstance(quantity.distribution, Discrete) else mean
    values.update({f"risks.{name}": value for name, value in risks.items()})
    fixed = scenario.without_correlations().with_values(values)
    assert all(q.distribution.is_fixed for q in fixed.quantities().values())
    return fixed


def fixed(value: float) -> dict[str, Any]:
    return {"value": value, "source": "assumption: hardening test"}


def with_changes(scenario: Scenario, changes: list[tuple[str, int, float]]) -> Scenario:
    """``scenario`` with budget changes ``(programme, year index, cash GBP)`` added."""
    data = scenario.to_dict()
    data.setdefault("budget_changes", [])
    data["budget_changes"] += [
        {"programme": pid, "year": scenario.years[t], "amount": amount, "source": "assumption: test"}
        for pid, t, amount in changes
    ]
    return Scenario.from_toml(dumps_toml(data))


def cut_everything(scenario: Scenario, programmes: list[str], years: list[int] | None = None) -> Scenario:
    """Budget changes that take the whole planned spend of ``programmes`` in ``years`` (default: all)."""
    years = list(range(len(scenario.years))) if years is None else years
    return with_changes(
        scenario,
        [
            (pid, t, -scenario.programmes[pid].spend.values[t])
            for pid in programmes
            for t in years
            if scenario.programmes[pid].spend.values[t] > 0
        ],
    )


# ---------------------------------------------------------------------------------
# One draw
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_one_draw_is_a_whole_run_of_the_model(sampler: str) -> None:
    # Expected: a Dataset with one draw over the ten-year appraisal period whose every output is the
    # model at that draw's inputs.
    ds = simulate(draws=1, seed=2**64 + 3, sampler=sampler)
    assert dict(ds.sizes) == {
        "draw": 1,
        "year": 10,
        "programme": 3,
        "staff_group": 6,
        "quintile": 5,
        "age_band": 5,
    }
    assert ds.attrs["n_draws"] == 1 and ds.attrs["sampler"] == sampler
    assert_matches_model(ds, BASE)
    for name, quantity in BASE.quantities().items():
        if name in ds:  # each sampled input lies in its distribution's support
            low, high = quantity.distribution.support()
            assert ((ds[name] >= low) & (ds[name] <= high)).all(), name


def test_one_draw_summaries_say_what_one_draw_cannot_tell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ds = simulate(draws=1, seed=7)
    # A standard error needs two draws: refused, not NaN.
    with pytest.raises(ValueError, match="1 draws are too few"):
        nhsrisk.summary(ds)
    # The command line prints that summary, so it refuses at once too, naming the fewest draws it can
    # summarise (the 5% and 95% quantiles' intervals need 72), and makes no folder.
    fewest = nhsrisk.stats.minimum_draws()
    assert fewest == 72
    out = tmp_path / "out"
    for draws in (1, fewest - 1):
        code = cli_main(["run", "--draws", str(draws), "--seed", "7", "--out", str(out), "--no-progress"])
        assert code == 2 and not out.exists()
        err = capsys.readouterr().err
        assert err == (
            f"nhsrisk run: --draws must be at least 72 for the summary's 95% intervals of the 5th and 95th "
            f"percentiles. Got {draws} instead.\n"
        )
    assert cli_main(["run", "--draws", str(fewest), "--seed", "7", "--out", str(out), "--no-progress"]) == 0
    assert "Claim window 2025/26 to 2029/30" in capsys.readouterr().out


# ---------------------------------------------------------------------------------
# One programme, one staff group, one year: by hand
# ---------------------------------------------------------------------------------

SMALLEST: dict[str, Any] = {
    "schema_version": 2,
    "name": "smallest",
    "title": "One programme, one staff group, one year",
    "description": "The smallest scenario the schema allows, with every line of model v2 in use.",
    "years": ["2025/26"],
    "price_base": "2023/24",
    # prices rise 25% from the price base to 2025/26: GBP 1 cash is GBP 0.8 real
    "deflator": {"years": ["2023/24", "2025/26"], "index": [100.0, 125.0], "source": "assumption: test"},
    "discount_rate": fixed(0.035),
    "long_term_discount_rate": fixed(0.03),
    "target": {"description": "test", "claimed_return": fixed(1.0e6)},
    "risks": {
        "raid_probability": fixed(1.0),
        "raid_fraction": fixed(0.25),
        "digital_exclusion": fixed(0.3),
        "staff_capacity": fixed(0.5),
        "social_care_leakage": fixed(0.5),
        "funding_elasticity": fixed(2.0),
        "released_time_used": fixed(0.6),
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
            "spend": {"values": [1.25e6], "source": "assumption: hardening test"},
            "raid_exposure": fixed(0.4),
            "cost_overrun": fixed(1.2),
            "black_swan": fixed(0.0),
            "black_swan_overrun": fixed(3.0),
            "delivery_delay": fixed(0.0),
            "uptake_ceiling": fixed(0.8),
            # exp(-(0.5 + 100)) is below half an ulp of 1: the logistic is exactly 1
            "uptake_midpoint": fixed(-100.0),
            "uptake_steepness": fixed(1.0),
            "do_minimum_ceiling": fixed(0.04),
            "do_minimum_midpoint": fixed(-100.0),
            "do_minimum_steepness": fixed(1.0),
            "support_years": fixed(0.0),
            "benefit_decay": fixed(0.3),
            "running_cost": fixed(0.1),
            "cashed_share": fixed(0.25),
            "non_staff_savings": fixed(1.0e4),
            "social_care_share": fixed(0.2),
            "residual_life": fixed(2.0),
            "staff": {"gp": {"addressable_share": fixed(0.1), "recovered_fraction": fixed(0.5)}},
            "patients": {"contacts_per_year": fixed(1.0e5), "value_per_contact": fixed(2.0)},
            "inclusion": {"excluded_share_reached": fixed(0.5)},
        }
    },
    "budget_changes": [
        {"programme": "only", "year": "2025/26", "amount": -2.5e5, "source": "assumption: hardening test"}
    ],
}


def test_one_programme_one_group_one_year_by_hand() -> None:
    scenario = Scenario.from_toml(dumps_toml(SMALLEST))
    ds = simulate(scenario, draws=3, seed=1)
    planned = 1.25e6 * 100 / 125  # real terms
    funded = (1.25e6 - 2.5e5) * 100 / 125  # the budget change is cash too
    spend = funded * (1 - 0.25 * 0.4)  # a raid every year takes 25% of the 40% exposed
    adequacy = spend / (1.2 * planned)  # received over needed: the plan with its 20% overrun
    uptake = 0.8 * 0.5 * adequacy**2.0  # ceiling x staff capacity x adequacy ** elasticity (S = 1)
    additional = uptake - 0.04  # beyond the do-minimum path (its S is 1 too)
    # running cost: 10% of the capital in use (half the year's), on the additional share of uptake
    running = 0.1 * 0.5 * spend * additional / uptake
    exclusion = 0.3 * (1 - 0.5 * additional)  # the programme brings half the excluded online
    hours = 100 * 1500 * 0.1 * 0.5 * additional  # FTE x hours x addressable x recovered, uncapped
    kept = 1 - 0.2 * 0.5  # social-care leakage
    time_value = hours * 50 * 0.6 * kept  # released time put to use
    cash = 0.25 * time_value + 1.0e4 * additional  # cashed share and non-staff savings
    redeployed = 0.75 * time_value
    patient = 1.0e5 * (1 - exclusion) * additional * 2.0 * kept
    value = cash + redeployed + patient
    annuity = 1 / 1.035 + 1 / 1.035**2  # two whole years after the one-year period
    residual = (value - running) * annuity
    assert (planned, funded, spend, adequacy, uptake) == pytest.approx(
        (1.0e6, 8.0e5, 7.2e5, 0.6, 0.144), rel=1e-15
    )
    assert (additional, running, exclusion, hours) == pytest.approx((0.104, 2.6e4, 0.2844, 780.0), rel=1e-14)
    assert (cash, redeployed, patient) == pytest.approx((6305.0, 15795.0, 13396.032), rel=1e-14)
    expected = {
        "spend": spend,
        "running_cost": running,
        "funding_adequacy": adequacy,
        "uptake": uptake,
        "additional_uptake": additional,
        "hours_released": hours,
        "value": value,
        "cash_releasing_value": cash,
        "non_cash_releasing_value": redeployed,
        "patient_value": patient,
        "net_benefit": value - spend - running,
        "cumulative_value": value,
        # year 0 is not discounted; support ends after the one year, but the period ends with it
        "pv_capital_cost": spend,
        "pv_running_cost": running,
        "pv_cash_releasing": cash,
        "pv_non_cash_releasing": redeployed,
        "pv_patient": patient,
        "pv_residual_value": residual,
        "pv_benefits": value + residual,
        "pv_costs": spend + running,
        "npv": value + residual - spend - running,
        "bcr": (value + residual) / (spend + running),
        # no [population] table and no dual-running key: one segment, "all", and no dual running
        "contact_weighted_exclusion": exclusion,
        "dual_running_cost": 0.0,
        "pv_dual_running_cost": 0.0,
        "pv_patient_by_quintile": patient,
        "pv_patient_by_age_band": patient,
        "pv_dual_running_by_quintile": 0.0,
        "pv_dual_running_by_age_band": 0.0,
        "npv_distributional": value + residual - spend - running,
    }
    assert set(expected) == set(OUTPUTS) - {"raid", "hours_capped"}
    for name, number in expected.items():
        np.testing.assert_allclose(ds[name].values, number, rtol=1e-13, err_msg=name)
    assert ds["raid"].all() and not ds["hours_capped"].any()
    np.testing.assert_array_equal(ds["planned_spend"].values, planned)
    np.testing.assert_array_equal(ds["budget_change"].values, -2.0e5)
    assert_matches_model(ds, scenario)


def test_one_programme_with_uncertain_inputs_matches_the_model() -> None:
    scenario = synthetic_scenario(1, 5)
    ds = simulate(scenario, draws=400, seed=3)
    assert ds.sizes["programme"] == 1 and ds.sizes["year"] == 5
    assert_matches_model(ds, scenario)


# ---------------------------------------------------------------------------------
# Support that ends with the build: decay right after it, by hand
# ---------------------------------------------------------------------------------


def four_years(**programme: float) -> Scenario:
    """One programme, one staff group, four years, every input fixed, prices flat, no raid."""
    data = copy.deepcopy(SMALLEST)
    years = ["2025/26", "2026/27", "2027/28", "2028/29"]
    data.update(
        years=years,
        deflator={"years": ["2023/24", *years], "index": [100.0] * 5, "source": "assumption: flat prices"},
        budget_changes=[],
    )
    data["risks"].update(
        raid_probability=fixed(0.0), staff_capacity=fixed(1.0), funding_elasticity=fixed(1.0)
    )
    only = data["programmes"]["only"]
    only["spend"]["values"] = [1.0e6, 1.0e6, 0.0, 0.0]
    values = {
        "cost_overrun": 1.0,
        "uptake_ceiling": 1.0,
        "uptake_midpoint": 2.0,
        "uptake_steepness": 1.0,
        "do_minimum_ceiling": 0.0,
        "benefit_decay": 0.75,
        "running_cost": 0.1,
    } | programme
    only.update({key: fixed(value) for key, value in values.items()})
    return Scenario.from_toml(dumps_toml(data))


def logistic(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


@pytest.mark.parametrize("support", [0.0, 0.999, 1.0])
def test_support_ending_with_the_build_starts_the_decay_at_once(support: float) -> None:
    # Spend in 2025/26 and 2026/27; support for floor(support_years) whole years after that. Uptake at
    # mid-year is S(t + 1/2 - 2) while supported; once support ends at `end`, what was reached at `end`
    # (S(end - 2)) fades by (1 - 0.75) a year, from the start of that year. Running cost is 10% of the
    # capital in use (half a year's spend in its own year) while supported, and nothing after.
    ds = simulate(four_years(support_years=support), draws=2, seed=1)
    end = 2 + math.floor(support)
    reached = logistic(end - 2.0)
    uptake = [logistic(t + 0.5 - 2.0) if t < end else reached * 0.25 ** (t + 0.5 - end) for t in range(4)]
    in_use = [0.5e6, 1.5e6, 2.0e6, 2.0e6]
    running = [0.1 * in_use[t] if t < end else 0.0 for t in range(4)]
    if end == 2:
        assert uptake[2:] == pytest.approx([0.25, 0.0625], rel=1e-15)  # 0.5 x 0.25 ** 0.5, ** 1.5
    np.testing.assert_allclose(
        ds["uptake"].sel(programme="only").transpose("draw", "year").values, [uptake] * 2, rtol=1e-15
    )
    np.testing.assert_allclose(
        ds["running_cost"].sel(programme="only").transpose("draw", "year").values, [running] * 2, rtol=1e-15
    )
    xr.testing.assert_equal(ds["additional_uptake"], ds["uptake"])  # no do-minimum path
    assert_matches_model(ds, four_years(support_years=support))


# ---------------------------------------------------------------------------------
# 64 programmes over 40 years
# ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wide_long() -> Scenario:
    return synthetic_scenario(64, 40)


def test_sixty_four_programmes_over_forty_years_match_the_model(wide_long: Scenario) -> None:
    ds = simulate(wide_long, draws=48, seed=2**100)
    assert ds.sizes["programme"] == 64 and ds.sizes["year"] == 40
    assert ds["year"].values[0] == "2025/26" and ds["year"].values[-1] == "2064/65"
    # years 31 to 39 are discounted at the long-term rate: 1.035**-30 x 1.03**-(t - 30)
    assert_matches_model(ds, wide_long)


def test_with_everything_fixed_copies_of_a_strand_are_identical(wide_long: Scenario) -> None:
    # Expected: programme i copies strand i mod 3 with its parameters and an equal share of its spend;
    # with every input fixed (and no raid) its uptake, released hours and value are those of every other
    # copy of the same strand, bit for bit, in every year and draw, even where the staff cap binds.
    ds = simulate(at_means(wide_long, raid_probability=0.0), draws=2, seed=1)
    for strand in range(3):
        copies = ds.isel(programme=slice(strand, None, 3))
        for name in ("uptake", "additional_uptake", "hours_released", "value", "spend", "running_cost"):
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
    # outputs are the model's for this plan.
    scenario = with_spend(BASE, "it_modernisation", 1, 0.0)
    ds = simulate(scenario, draws=300, seed=4)
    np.testing.assert_array_equal(ds["spend"].sel(programme="it_modernisation", year="2026/27"), 0.0)
    assert ds["raid"].sel(year="2026/27").any()  # the other strands still have money that year
    assert_matches_model(ds, scenario)


def test_moving_the_last_year_of_spend_forward_ends_support_a_year_earlier() -> None:
    # Expected, draw by draw with common random numbers: with 2027/28's money spent in 2026/27 instead
    # the last planned year is 2026/27, so support ends a year earlier (end = last + 1 + support years).
    # Without raids the money received to date is the plan to date, so adequacy is the same every year
    # in both runs (1 over the overrun), and so is the ceiling reached. Before the earlier end the
    # uptake is the same; from the later end on, both runs are decaying, and the earlier one is
    # S(end - 1 - shift) / S(end - shift) x (1 - decay) times the other, S the logistic of the strand.
    base = BASE.with_values({"risks.raid_probability": 0.0})
    pid = "it_modernisation"
    plan = list(base.programmes[pid].spend.values)
    early = base.with_values({f"programmes.{pid}.spend": [plan[0], plan[1] + plan[2]] + [0.0] * 8})
    a = simulate(base, draws=500, seed=5)
    b = simulate(early, draws=500, seed=5)
    # the same to rounding: received and needed to date are sums of different real amounts
    xr.testing.assert_allclose(
        a["funding_adequacy"].sel(programme=pid), b["funding_adequacy"].sel(programme=pid), rtol=1e-14
    )
    end = 3 + np.floor(a[f"programmes.{pid}.support_years"])  # of the plan as announced
    shift = a[f"programmes.{pid}.uptake_midpoint"] + a[f"programmes.{pid}.delivery_delay"]
    steepness = a[f"programmes.{pid}.uptake_steepness"]
    ratio = (
        (1.0 + np.exp(-(end - shift) * steepness))
        / (1.0 + np.exp(-(end - 1 - shift) * steepness))
        * (1.0 - a[f"programmes.{pid}.benefit_decay"])
    )
    uptake_a = a["uptake"].sel(programme=pid)
    uptake_b = b["uptake"].sel(programme=pid)
    t = xr.DataArray(np.arange(10), dims="year", coords={"year": a["year"]})
    before, after = t < end - 1, t >= end
    assert before.any() and after.any()
    xr.testing.assert_allclose(uptake_a.where(before), uptake_b.where(before), rtol=1e-13)
    xr.testing.assert_allclose(uptake_b.where(after), (uptake_a * ratio).where(after), rtol=1e-12)
    assert (ratio < 1).all()
    assert_matches_model(b, early)


def test_zero_budget_for_every_programme_in_a_year() -> None:
    scenario = BASE
    for programme in PROGRAMMES:
        scenario = with_spend(scenario, programme, 0, 0.0)
    ds = simulate(scenario, draws=300, seed=6)
    np.testing.assert_array_equal(ds["spend"].sel(year="2025/26"), 0.0)
    assert not ds["raid"].sel(year="2025/26").any()  # nothing to raid
    np.testing.assert_array_equal(ds["funding_adequacy"].sel(year="2025/26"), 1.0)  # nothing missing yet
    assert np.isfinite(ds["bcr"]).all()
    assert_matches_model(ds, scenario)


# ---------------------------------------------------------------------------------
# A budget change cutting a year's whole spend
# ---------------------------------------------------------------------------------


def test_a_budget_change_cutting_a_years_whole_spend() -> None:
    # Expected: with every programme's 2026/27 money cut, nothing is spent or raided that year (raids
    # certain otherwise); 2025/26 is untouched, bit for bit (causality, common random numbers); adequacy
    # in each year is the money received to date over the money needed to date, capped at 1; and
    # nothing ends up higher than without the cut.
    base = BASE.with_values({"risks.raid_probability": 1.0})
    cut = cut_everything(base, PROGRAMMES, [1])
    assert cut.total_budget_change == pytest.approx(-sum(p.spend.values[1] for p in BASE.programmes.values()))
    a = simulate(base, draws=400, seed=14)
    b = simulate(cut, draws=400, seed=14)
    np.testing.assert_array_equal(b["spend"].sel(year="2026/27"), 0.0)
    funded = [True, False, True] + [False] * 7
    np.testing.assert_array_equal(b["raid"].values, np.array(funded)[:, None].repeat(400, axis=1))
    first = {"year": "2025/26"}
    for name, output in OUTPUTS.items():
        if "year" in output.dims:
            xr.testing.assert_identical(a[name].sel(first), b[name].sel(first))
    overrun = xr.concat(
        [
            xr.where(b[f"programmes.{p}.black_swan"] > 0.5, b[f"programmes.{p}.black_swan_overrun"],
                     b[f"programmes.{p}.cost_overrun"])
            for p in PROGRAMMES
        ],
        dim=b["programme"],
    )  # fmt: skip
    needed = b["planned_spend"].cumsum("year") * np.maximum(overrun, 1.0)
    adequacy = np.minimum(1.0, b["spend"].cumsum("year") / needed)
    xr.testing.assert_allclose(
        b["funding_adequacy"], adequacy.transpose(*b["funding_adequacy"].dims), rtol=1e-14
    )
    assert (b["funding_adequacy"] <= a["funding_adequacy"]).all()
    assert (b["uptake"] <= a["uptake"]).all()
    later = b["hours_released"].sum("programme") <= a["hours_released"].sum("programme") * (1 + 1e-12)
    assert later.all()
    assert_matches_model(b, cut)


# ---------------------------------------------------------------------------------
# No money at all
# ---------------------------------------------------------------------------------

NOTHING = ("spend", "running_cost", "funding_adequacy", "uptake", "additional_uptake", "hours_released")
NO_VALUE = ("value", "cash_releasing_value", "non_cash_releasing_value", "patient_value", "net_benefit")


def assert_nothing_happens(ds: xr.Dataset, programmes: list[str]) -> None:
    """No capital, no running cost, no adequacy, no uptake, no hours, no value, for ``programmes``."""
    for name in NOTHING + NO_VALUE:
        np.testing.assert_array_equal(ds[name].sel(programme=programmes).values, 0.0, err_msg=name)


def test_a_cut_of_a_programmes_whole_plan_leaves_it_without_cost_or_benefit() -> None:
    # Expected: zero capital spent means zero capital in use, so zero running cost; zero money received
    # against a positive need means zero adequacy and no technology, whatever the elasticity.
    pid = "staff_technology"
    scenario = cut_everything(BASE.with_values({"risks.funding_elasticity": 0.0}), [pid])
    ds = simulate(scenario, draws=300, seed=15)
    assert_nothing_happens(ds, [pid])
    assert (ds["spend"].sel(programme="it_modernisation").sum("year") > 0).all()
    assert_matches_model(ds, scenario)


@pytest.mark.parametrize("how", ["budget changes", "raids"])
def test_no_money_at_all_gives_no_cost_no_benefit_npv_zero_and_bcr_zero(how: str) -> None:
    # Expected, every draw: nothing spent, nothing run, nothing adopted, no value, NPV exactly 0, and a
    # benefit-cost ratio of 0 (the model's value when nothing is spent: 0/0 has no meaning). Raids that
    # come every year (probability 1), take the whole exposed share (fraction 1) of a fully exposed
    # programme (exposure 1) leave as little as cutting every amount.
    if how == "budget changes":
        scenario = cut_everything(BASE, PROGRAMMES)
    else:
        values = {"risks.raid_probability": 1.0, "risks.raid_fraction": 1.0}
        scenario = BASE.with_values(values | {f"programmes.{p}.raid_exposure": 1.0 for p in PROGRAMMES})
    ds = simulate(scenario, draws=300, seed=16)
    assert_nothing_happens(ds, PROGRAMMES)
    assert ds["raid"].values.any() == (how == "raids")
    for name in OUTPUTS:
        if name.startswith("pv_") or name in ("npv", "bcr", "cumulative_value"):
            np.testing.assert_array_equal(ds[name].values, 0.0, err_msg=name)
    assert_matches_model(ds, scenario)


# ---------------------------------------------------------------------------------
# A do-minimum path at or above the investment's own: nothing additional
# ---------------------------------------------------------------------------------


def test_a_do_minimum_at_or_above_the_investments_path_adds_no_benefit() -> None:
    # Expected: when the do-minimum ceiling is the investment's ceiling or more, on the same timing,
    # what would have happened anyway is at least what the investment reaches in every year (staff
    # capacity, adequacy and delay only lower the investment's path; decay starts from a level the
    # do-minimum has already passed), so nothing is additional: no hours, no value of any kind, and the
    # NPV is minus the present value of the costs (the capital is spent all the same).
    values: dict[str, Any] = {}
    for pid in PROGRAMMES:
        prefix = f"programmes.{pid}"
        values |= {
            f"{prefix}.uptake_ceiling": 0.6,
            f"{prefix}.do_minimum_ceiling": 0.6 if pid == "it_modernisation" else 0.9,
        }
        for what in ("midpoint", "steepness"):
            mean = float(BASE.quantities()[f"{prefix}.uptake_{what}"].distribution.mean())
            values |= {f"{prefix}.uptake_{what}": mean, f"{prefix}.do_minimum_{what}": mean}
    scenario = BASE.with_values(values)
    ds = simulate(scenario, draws=300, seed=17)
    assert (ds["uptake"] > 0).all()
    for name in ("additional_uptake", "hours_released", *NO_VALUE[:-1], "cumulative_value"):
        np.testing.assert_array_equal(ds[name].values, 0.0, err_msg=name)
    for name in (
        "pv_cash_releasing",
        "pv_non_cash_releasing",
        "pv_patient",
        "pv_residual_value",
        "pv_benefits",
    ):
        np.testing.assert_array_equal(ds[name].values, 0.0, err_msg=name)
    assert (ds["pv_capital_cost"] > 0).all()
    xr.testing.assert_equal(ds["npv"], -ds["pv_costs"])
    assert_matches_model(ds, scenario)


# ---------------------------------------------------------------------------------
# Digital exclusion of 0 and of 1, and an inclusion programme that reaches everyone
# ---------------------------------------------------------------------------------


#: The patient channel with no savings that need patients online and no dual running: the
#: channel's own line is then all that exclusion touches (issue 15 adds the other two).
CHANNEL_ONLY = BASE.with_values(
    {
        "programmes.patient_services.patients.online_dependent_share": 0.0,
        "programmes.patient_services.patients.dual_running_cost": 0.0,
    }
)


def test_exclusion_of_one_leaves_exactly_the_staff_value() -> None:
    # Expected: with everyone excluded, value is bit for bit that of the same scenario without a
    # patient channel at all (the other inputs are drawn identically: streams are keyed by name).
    excluded = CHANNEL_ONLY.with_values({"risks.digital_exclusion": 1.0})
    data = excluded.to_dict()
    del data["programmes"]["patient_services"]["patients"]
    no_channel = Scenario.from_toml(dumps_toml(data))
    a = simulate(excluded, draws=400, seed=8)
    b = simulate(no_channel, draws=400, seed=8)
    for name in (
        "value",
        "cash_releasing_value",
        "patient_value",
        "cumulative_value",
        "npv",
        "hours_released",
    ):
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)
    np.testing.assert_array_equal(a["patient_value"].values, 0.0)


def test_exclusion_of_zero_adds_the_whole_patient_channel() -> None:
    # Expected: value(exclusion 0) - value(exclusion 1) = contacts x additional uptake x value per
    # contact x the share kept from social-care leakage, draw by draw; released staff hours and the
    # other programmes' value do not change at all.
    runs = {
        e: simulate(CHANNEL_ONLY.with_values({"risks.digital_exclusion": e}), draws=400, seed=9)
        for e in (0.0, 1.0)
    }
    included, excluded = runs[0.0], runs[1.0]
    pid = "patient_services"
    kept = 1.0 - included[f"programmes.{pid}.social_care_share"] * included["risks.social_care_leakage"]
    channel = (
        included[f"programmes.{pid}.patients.contacts_per_year"]
        * included["additional_uptake"].sel(programme=pid)
        * (
            included[f"programmes.{pid}.patients.value_per_contact"]
            - included[f"programmes.{pid}.patients.induced_demand_cost"]
        )
        * kept
    )
    difference = included["value"].sel(programme=pid) - excluded["value"].sel(programme=pid)
    xr.testing.assert_allclose(difference, channel.transpose(*difference.dims), rtol=1e-12)
    xr.testing.assert_allclose(
        included["patient_value"].sel(programme=pid), channel.transpose(*difference.dims), rtol=1e-15
    )
    other = [p for p in PROGRAMMES if p != pid]
    xr.testing.assert_equal(included["value"].sel(programme=other), excluded["value"].sel(programme=other))
    xr.testing.assert_equal(included["hours_released"], excluded["hours_released"])


def test_an_inclusion_programme_at_full_additional_uptake_reaching_everyone_ends_exclusion() -> None:
    # Expected: a programme that brings every excluded person online (share reached 1) at full
    # additional uptake (ceiling 1, staff capacity 1, fully funded, S = 1, no do-minimum) leaves nobody
    # excluded: the patient channel is worth exactly what it is worth at exclusion 0.
    values: dict[str, Any] = {
        "risks.staff_capacity": 1.0,
        "risks.raid_probability": 0.0,
        "programmes.it_modernisation.uptake_ceiling": 1.0,
        # far enough in the past that S = 1 exactly at the slowest steepness of the prior (0.3 a year)
        "programmes.it_modernisation.uptake_midpoint": -1000.0,
        "programmes.it_modernisation.delivery_delay": 0.0,
        "programmes.it_modernisation.do_minimum_ceiling": 0.0,
        "programmes.it_modernisation.cost_overrun": 1.0,
        "programmes.it_modernisation.black_swan": 0.0,
        "programmes.it_modernisation.support_years": Fixed(10.0),
        "programmes.it_modernisation.inclusion": {"excluded_share_reached": fixed(1.0)},
    }
    scenario = BASE.without_correlations().with_values(values)
    everyone = simulate(scenario, draws=300, seed=18)
    np.testing.assert_array_equal(everyone["additional_uptake"].sel(programme="it_modernisation"), 1.0)
    nobody = simulate(scenario.with_values({"risks.digital_exclusion": 0.0}), draws=300, seed=18)
    xr.testing.assert_equal(everyone["patient_value"], nobody["patient_value"])
    assert (everyone["patient_value"].sel(programme="patient_services") > 0).any()
    assert_matches_model(everyone, scenario)


# ---------------------------------------------------------------------------------
# Raid probability of 0 and of 1
# ---------------------------------------------------------------------------------


def test_raid_probability_zero_spends_exactly_the_plan_with_its_changes() -> None:
    scenario = with_changes(BASE, [("it_modernisation", 1, -3.0e8), ("patient_services", 0, 2.0e7)])
    ds = simulate(scenario.with_values({"risks.raid_probability": 0.0}), draws=500, seed=10)
    assert not ds["raid"].any()
    money = (ds["planned_spend"] + ds["budget_change"]).values
    np.testing.assert_array_equal(ds["spend"].values, np.broadcast_to(money[..., None], ds["spend"].shape))
    # the change is cash, converted with the scenario's own deflator like the plan
    factor = scenario.real_terms_factors()[1]
    assert float(ds["budget_change"].sel(year="2026/27", programme="it_modernisation")) == -3.0e8 * factor


def test_raid_probability_one_raids_every_funded_year_by_the_drawn_fraction() -> None:
    # Expected, draw by draw: spend = plan x (1 - raid fraction of the year x exposure of the
    # programme), and adequacy in each year = min(1, spend to date / (max(1, overrun) x plan to date)),
    # where the overrun is the programme's black-swan one when its black swan happens.
    scenario = BASE.with_values({"risks.raid_probability": 1.0})
    ds = simulate(scenario, draws=500, seed=11)
    funded = ds["planned_spend"].sum("programme") > 0
    xr.testing.assert_equal(ds["raid"], funded.broadcast_like(ds["raid"]))
    exposure = xr.concat([ds[f"programmes.{p}.raid_exposure"] for p in PROGRAMMES], dim=ds["programme"])
    expected = ds["planned_spend"] * (1.0 - ds["risks.raid_fraction"] * exposure)
    xr.testing.assert_allclose(ds["spend"], expected.transpose(*ds["spend"].dims), rtol=1e-15)
    overrun = xr.concat(
        [
            xr.where(ds[f"programmes.{p}.black_swan"] > 0.5, ds[f"programmes.{p}.black_swan_overrun"],
                     ds[f"programmes.{p}.cost_overrun"])
            for p in PROGRAMMES
        ],
        dim=ds["programme"],
    )  # fmt: skip
    adequacy = np.minimum(
        1.0, ds["spend"].cumsum("year") / (np.maximum(overrun, 1.0) * ds["planned_spend"].cumsum("year"))
    )
    adequacy = adequacy.where(ds["planned_spend"].cumsum("year") > 0, 1.0)
    xr.testing.assert_allclose(
        ds["funding_adequacy"], adequacy.transpose(*ds["funding_adequacy"].dims), rtol=1e-14
    )
    assert_matches_model(ds, scenario)


# ---------------------------------------------------------------------------------
# Every input fixed
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize("raid_probability", [0.0, 1.0])
def test_every_input_fixed_gives_one_answer_whatever_the_draw_or_sampler(raid_probability: float) -> None:
    # Expected: nothing is left to chance, so every draw is the same number in every output, that
    # number is the model's, and the sampling design (random, Latin hypercube, Sobol') makes no
    # difference at all.
    scenario = at_means(BASE, raid_probability=raid_probability)
    runs = {sampler: simulate(scenario, draws=8, seed=12, sampler=sampler) for sampler in SAMPLERS}
    ds = runs["random"]
    for name in OUTPUTS:
        values = draw_first(ds, name)
        np.testing.assert_array_equal(values, np.broadcast_to(values[:1], values.shape), err_msg=name)
    assert not [v for v in ds.data_vars if ds[v].attrs.get("sampled_input")]
    assert_matches_model(ds, scenario)
    for sampler in ("lhs", "sobol"):
        xr.testing.assert_identical(runs[sampler].drop_attrs(), ds.drop_attrs())


def test_with_only_the_raids_left_to_chance_the_answer_depends_on_the_raid_years_alone() -> None:
    # Expected: every output is a function of which funded years were raided (draws with the same
    # raided years agree bit for bit; a year with nothing planned is never raided), and each funded year
    # is raided with the fixed probability 0.3: the observed rate lies within 4 binomial standard
    # errors sqrt(p (1 - p) / n).
    p, n = 0.3, 4000
    ds = simulate(at_means(BASE, raid_probability=p), draws=n, seed=13)
    patterns = draw_first(ds, "raid")
    funded = ds["planned_spend"].sum("programme").values > 0
    assert funded.tolist() == [True] * 3 + [False] * 7
    assert not patterns[:, ~funded].any()
    _, group = np.unique(patterns[:, funded], axis=0, return_inverse=True)
    group = group.ravel()
    npv = ds["npv"].values
    for g in np.unique(group):
        assert np.ptp(npv[group == g]) == 0.0
    assert len(np.unique(npv)) == len(np.unique(group)) == 8
    rates = patterns[:, funded].mean(axis=0)
    assert np.all(np.abs(rates - p) <= SIGMAS * math.sqrt(p * (1 - p) / n)), rates


def test_with_every_input_fixed_the_seed_makes_no_difference() -> None:
    # The hand-computed scenario above with the smallest and the largest seed: only the attrs differ.
    scenario = Scenario.from_toml(dumps_toml(copy.deepcopy(SMALLEST)))
    a = simulate(scenario, draws=2, seed=0)
    b = simulate(scenario, draws=2, seed=2**128 - 1)
    assert a.attrs["seed"] != b.attrs["seed"]
    xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())


# ---------------------------------------------------------------------------------
# Magnitudes beyond any budget: refused with a reason, never returned as inf or NaN
# ---------------------------------------------------------------------------------


def test_astronomical_inputs_are_refused_with_the_draw_not_returned_as_inf() -> None:
    # Valid by the schema (staff numbers have no upper bound), but 1e300 FTE x 1e300 hours overflows.
    scenario = BASE.with_values({"staff_groups.gp.fte": 1e300, "staff_groups.gp.hours_per_fte": 1e300})
    with pytest.raises(FloatingPointError, match=r"non-finite npv .* in draw 0 "):
        simulate(scenario, draws=5, seed=1)


@pytest.mark.parametrize("per_contact", [5e7, -5e7], ids=["gain", "loss"])
def test_cumulative_value_overflow_is_refused_not_returned(per_contact: float) -> None:
    # The patient channel worth about 3e307 a year: ten years add up beyond the largest double, while
    # their present value at a 100% discount rate (halving every year) does not. A value per contact
    # may be negative in v2 (contacts moved online can add work), so the overflow can go either way.
    pid = "patient_services"
    values = {
        "discount_rate": 1.0,
        "risks.raid_probability": 0.0,
        "risks.digital_exclusion": 0.0,
        "risks.staff_capacity": 1.0,
        f"programmes.{pid}.delivery_delay": 0.0,
        f"programmes.{pid}.patients.contacts_per_year": 1e300,
        f"programmes.{pid}.patients.value_per_contact": per_contact,
        f"programmes.{pid}.uptake_ceiling": 1.0,
        f"programmes.{pid}.uptake_midpoint": -100.0,
        f"programmes.{pid}.do_minimum_ceiling": 0.0,
        f"programmes.{pid}.social_care_share": 0.0,
        f"programmes.{pid}.benefit_decay": 0.0,
        f"programmes.{pid}.residual_life": 0.0,
    }
    scenario = BASE.without_correlations().with_values(values)
    try:
        ds = simulate(scenario, draws=5, seed=1)
    except FloatingPointError as error:
        assert "non-finite cumulative_value" in str(error) or "non-finite npv" in str(error), str(error)
        return  # refused: the guarantee holds
    bad = [name for name in OUTPUTS if not np.isfinite(ds[name].values.astype(float)).all()]
    assert not bad, f"simulate returned non-finite {bad} (npv finite: {np.isfinite(ds['npv']).all().item()})"


# ---------------------------------------------------------------------------------
# Bugs found in model v2, fixed: each keeps its test
# ---------------------------------------------------------------------------------


def test_support_beyond_any_horizon_keeps_the_systems_supported() -> None:
    # Expected: support_years has no upper bound in the schema, and any support that outlasts the
    # appraisal period means supported in every year: the same outputs as 1000 years, bit for bit.
    # (From 2**63 years the kernel's floor() once wrapped to a negative end: no uptake in any year.)
    def supported(years: float) -> Scenario:
        return BASE.with_values({f"programmes.{p}.support_years": Fixed(years) for p in PROGRAMMES})

    a = simulate(supported(1000.0), draws=100, seed=19)
    b = simulate(supported(1e19), draws=100, seed=19)
    assert (a["uptake"] > 0).all()
    for name in OUTPUTS:
        np.testing.assert_array_equal(a[name].values, b[name].values, err_msg=name)


def test_a_residual_life_that_is_not_whole_is_refused_or_counted() -> None:
    # Expected: either the loader refuses a residual life that is not whole years (naming the key), or
    # the half year counts: the residual value of 2.5 years is more than that of 2 wherever the last
    # year's net flow is positive. Never the silent truncation to whole years the first v2 plan made.
    key = "programmes.it_modernisation.residual_life"
    try:
        scenario = BASE.with_values({key: 2.5})
    except ScenarioError as error:
        assert error.path == key and "2.5" in error.problem, str(error)
        return
    whole = simulate(BASE.with_values({key: 2.0}), draws=200, seed=20)
    half = simulate(scenario, draws=200, seed=20)
    positive = whole["pv_residual_value"] > 0
    assert positive.any()
    assert (half["pv_residual_value"] > whole["pv_residual_value"]).where(positive, True).all()


def test_running_cost_is_continuous_as_staff_capacity_falls_to_zero() -> None:
    # Expected: the running cost (and so the NPV) at staff capacity 0 is the limit of the running cost
    # as staff capacity falls to 0, draw by draw; whether that limit is the whole cost of the systems
    # in use or none of it is the model's choice, but not both at once. (The first v2 kernel charged all
    # of it at uptake 0 and none at any uptake up to the do-minimum's: GBP 2bn of PV apart.)
    zero = simulate(BASE.with_values({"risks.staff_capacity": 0.0}), draws=200, seed=21)
    tiny = simulate(BASE.with_values({"risks.staff_capacity": 1e-12}), draws=200, seed=21)
    np.testing.assert_allclose(zero["pv_running_cost"], tiny["pv_running_cost"], rtol=1e-6)
    np.testing.assert_allclose(zero["npv"], tiny["npv"], rtol=1e-6, atol=1.0)


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
