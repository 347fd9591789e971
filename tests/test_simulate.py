"""The structural model (v2), reproducibility guarantees and the xarray results of ``simulate``.

The hand computations fix every input and recompute the v2 equations (``_kernels.evaluate_block``;
``docs/model.md``) line by line in plain Python: mid-year uptake, per-year funding adequacy,
running costs, the do-minimum counterfactual, the GDP deflator, discounting and residual value.
"""

from __future__ import annotations

import functools
import math
import sys
from typing import Any

import numba
import numpy as np
import pytest
import xarray as xr

import nhsrisk
from nhsrisk import _design, _engine, _kernels, _model
from nhsrisk._engine import run as _run
from nhsrisk._plan import build_plan
from nhsrisk.distributions import Beta, Fixed, Uniform
from nhsrisk.scenario import Scenario, ScenarioError, dumps_toml
from nhsrisk.simulation import OUTPUTS
from nhsrisk.testing import assert_hours_within_cap

# These tests read every output of the model, not only the headline ones a run keeps by default.
simulate_all = functools.partial(nhsrisk.simulate, keep="all")

GREEN_BOOK = 0.035
PER_YEAR = [name for name, out in OUTPUTS.items() if "year" in out.dims]


def fixed(value: float) -> dict[str, Any]:
    return {"value": value, "source": "test"}


def logistic(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


@pytest.fixture
def tiny(scenario_dict):
    """``tiny(n_years=2, **key_path_values)``: the minimal v2 scenario with some values replaced."""

    def build(n_years: int = 2, **changes: Any) -> Scenario:
        scenario = Scenario.from_toml(dumps_toml(scenario_dict(n_years)))
        return scenario.with_values(changes) if changes else scenario

    return build


@pytest.fixture(scope="module")
def default_run() -> xr.Dataset:
    return simulate_all(draws=4_000, seed=20240306)


def first_draw(ds: xr.Dataset, name: str) -> np.ndarray:
    """Draw 0 of one output for the first programme (and staff group): a vector over years."""
    values = ds[name].values
    while values.ndim > 2:
        values = values[:, 0]
    return values[..., 0]


# =====================================================================================
# Hand computations, every input fixed
# =====================================================================================


def test_hand_computation_with_everything_fixed(scenario_dict):
    # Three years from 2025/26, cash GBP 1m planned in each of the first two, cut by GBP 0.5m in the
    # second; prices of 2024/25 through a rising deflator. Every v2 mechanism is switched on.
    data = scenario_dict(3)
    data["deflator"]["index"] = [100.0, 102.0, 104.0, 106.0]  # 2024/25 .. 2027/28
    data["budget_changes"] = [
        {"programme": "kit", "year": "2026/27", "amount": -5.0e5, "source": "assumption: test cut"}
    ]
    data["risks"].update(staff_capacity=fixed(0.9), funding_elasticity=fixed(1.5))
    kit = data["programmes"]["kit"]
    kit["spend"]["values"] = [1.0e6, 1.0e6, 0.0]
    kit.update(
        cost_overrun=fixed(1.25),
        delivery_delay=fixed(0.25),
        uptake_midpoint=fixed(1.0),
        uptake_steepness=fixed(2.0),
        do_minimum_ceiling=fixed(0.1),
        do_minimum_midpoint=fixed(0.5),
        do_minimum_steepness=fixed(1.0),
        support_years=fixed(0.0),
        benefit_decay=fixed(0.1),
        running_cost=fixed(0.1),
        non_staff_savings=fixed(1.0e5),
        residual_life=fixed(2.0),
        inclusion={"excluded_share_reached": fixed(0.2)},
    )
    ds = simulate_all(Scenario.from_toml(dumps_toml(data)), draws=3, seed=1)

    # Cash to 2024/25 prices: index[price base] / index[year].
    real = [100.0 / 102.0, 100.0 / 104.0, 100.0 / 106.0]
    planned = [1.0e6 * real[0], 1.0e6 * real[1], 0.0]
    spend = [1.0e6 * real[0], 0.5e6 * real[1], 0.0]  # no raids; the cut in year 1
    # Funding adequacy per year: received to date over (max(1, overrun) x planned to date).
    adequacy = [
        spend[0] / (1.25 * planned[0]),
        (spend[0] + spend[1]) / (1.25 * (planned[0] + planned[1])),
        (spend[0] + spend[1]) / (1.25 * (planned[0] + planned[1])),  # nothing planned in year 2
    ]
    assert adequacy[0] == pytest.approx(0.8) and adequacy[1] < adequacy[0]
    level_max = [0.8 * 0.9 * a**1.5 for a in adequacy]
    # Supported while t < end = last planned year (1) + 1 + support (0) = 2; uptake at mid-year,
    # shifted by the midpoint and the delay; after support, what was reached at the end fades.
    uptake = [level_max[t] * logistic((t + 0.5 - 1.0 - 0.25) * 2.0) for t in (0, 1)]
    reached = level_max[1] * logistic((2 - 1.0 - 0.25) * 2.0)
    uptake.append(reached * (1 - 0.1) ** 0.5)
    do_minimum = [0.1 * logistic((t + 0.5 - 0.5) * 1.0) for t in range(3)]
    additional = [max(0.0, u - u0) for u, u0 in zip(uptake, do_minimum, strict=True)]
    assert min(additional) > 0
    # Running cost while supported: 10% of capital in use (systems bought in a year run for half
    # of it), for the additional share of the systems only; none after support ends.
    in_use = [0.5 * spend[0], spend[0] + 0.5 * spend[1]]
    running = [0.1 * in_use[t] * (uptake[t] - do_minimum[t]) / uptake[t] for t in (0, 1)] + [0.0]
    # Value: released hours (below the staff-group cap), the share used, social-care leakage kept.
    hours = [1000 * 1500 * 0.1 * 0.5 * a for a in additional]
    assert max(hours) < 1000 * 1500 * 0.2
    kept = 1 - 0.1 * 0.5
    time_value = [h * 50 * 0.5 * kept for h in hours]
    cash = [v * 0.25 + 1.0e5 * a for v, a in zip(time_value, additional, strict=True)]
    redeployed = [v * 0.75 for v in time_value]
    exclusion = [0.25 * max(0.0, 1 - 0.2 * a) for a in additional]  # the inclusion effect
    patient = [1.0e6 * (1 - x) * a * 2.0 * kept for x, a in zip(exclusion, additional, strict=True)]
    value = [c + r + p for c, r, p in zip(cash, redeployed, patient, strict=True)]
    net = [v - s - r for v, s, r in zip(value, spend, running, strict=True)]
    # Appraisal: year 0 undiscounted; the last year's net flow continues for residual_life = 2 years.
    discount = [1.035**-t for t in range(3)]
    residual = max(0.0, value[2] - running[2]) * (1.035**-3 + 1.035**-4)

    def pv(flows: list[float]) -> float:
        return sum(f * d for f, d in zip(flows, discount, strict=True))

    pv_benefits = pv(cash) + pv(redeployed) + pv(patient) + residual
    pv_costs = pv(spend) + pv(running)

    expected_per_year = {
        "spend": spend,
        "funding_adequacy": adequacy,
        "uptake": uptake,
        "additional_uptake": additional,
        "running_cost": running,
        "hours_released": hours,
        "cash_releasing_value": cash,
        "non_cash_releasing_value": redeployed,
        "patient_value": patient,
        "value": value,
        "net_benefit": net,
        "cumulative_value": list(np.cumsum(value)),
    }
    for name, expected in expected_per_year.items():
        np.testing.assert_allclose(first_draw(ds, name), expected, rtol=1e-13, err_msg=name)
        # every input is fixed: all draws are the same
        assert (np.ptp(ds[name].values, axis=-1) == 0).all(), name
    expected_totals = {
        "pv_capital_cost": pv(spend),
        "pv_running_cost": pv(running),
        "pv_cash_releasing": pv(cash),
        "pv_non_cash_releasing": pv(redeployed),
        "pv_patient": pv(patient),
        "pv_residual_value": residual,
        "pv_benefits": pv_benefits,
        "pv_costs": pv_costs,
        "npv": pv_benefits - pv_costs,
        "bcr": pv_benefits / pv_costs,
    }
    for name, expected in expected_totals.items():
        np.testing.assert_allclose(ds[name].values, expected, rtol=1e-13, err_msg=name)
    np.testing.assert_allclose(ds["planned_spend"].values[:, 0], planned, rtol=1e-15)
    np.testing.assert_allclose(ds["budget_change"].values[:, 0], [0.0, -0.5e6 * real[1], 0.0], rtol=1e-15)
    assert not ds["hours_capped"].any()
    assert not ds["raid"].any()


def test_raids_cut_the_years_with_money_by_hand(tiny):
    ds = simulate_all(
        tiny(3, **{"risks.raid_probability": 1.0, "programmes.kit.spend": [1.0e6, 1.0e6, 0.0]}),
        draws=2,
        seed=1,
    )
    # a year without money cannot be raided
    np.testing.assert_array_equal(ds["raid"].values, [[True] * 2, [True] * 2, [False] * 2])
    # a 20% raid on a fully exposed budget
    np.testing.assert_allclose(ds["spend"].values[:, 0], [[0.8e6] * 2, [0.8e6] * 2, [0.0] * 2], rtol=1e-15)
    np.testing.assert_allclose(ds["funding_adequacy"].values, 0.8, rtol=1e-15)
    # eta = 1: uptake scales with adequacy (the S-curve is at its ceiling)
    np.testing.assert_allclose(ds["uptake"].values, 0.8 * 0.8, rtol=1e-15)


def test_overrun_and_black_swan_by_hand(tiny):
    ds = simulate_all(tiny(**{"programmes.kit.cost_overrun": 1.25}), draws=2, seed=1)
    np.testing.assert_allclose(ds["funding_adequacy"].values, 0.8, rtol=1e-15)
    ds = simulate_all(tiny(**{"programmes.kit.black_swan": 1.0}), draws=2, seed=1)
    np.testing.assert_allclose(ds["funding_adequacy"].values, 1 / 3, rtol=1e-15)
    # an underrun gives no credit: adequacy is capped at 1 ...
    ds = simulate_all(tiny(**{"programmes.kit.cost_overrun": 0.5}), draws=2, seed=1)
    np.testing.assert_array_equal(ds["funding_adequacy"].values, 1.0)
    # ... and is banked, never set against a cut: a 20% raid bites in full however cheap the build
    raided = {"risks.raid_probability": 1.0}
    for overrun in (0.5, 0.8, 1.0):
        ds = simulate_all(tiny(**raided, **{"programmes.kit.cost_overrun": overrun}), draws=2, seed=1)
        np.testing.assert_allclose(ds["funding_adequacy"].values, 0.8, rtol=1e-15, err_msg=str(overrun))


def test_delay_shifts_the_mid_year_s_curve_and_decay_starts_after_support_by_hand(tiny):
    scenario = tiny(
        5,
        **{
            "programmes.kit.spend": [2.0e6, 0.0, 0.0, 0.0, 0.0],
            "programmes.kit.uptake_midpoint": 0.5,
            "programmes.kit.uptake_steepness": 2.0,
            "programmes.kit.delivery_delay": 1.0,
            "programmes.kit.support_years": 1.0,
            "programmes.kit.benefit_decay": 0.1,
            "programmes.kit.running_cost": 0.2,
        },
    )
    ds = simulate_all(scenario, draws=1, seed=1)
    shift = 0.5 + 1.0  # midpoint and delay: the one timing model, no lag
    end = 0 + 1 + 1  # last planned year + 1 + support years
    supported = [0.8 * logistic((t + 0.5 - shift) * 2.0) for t in range(end)]
    reached = 0.8 * logistic((end - shift) * 2.0)
    faded = [reached * 0.9 ** (t + 0.5 - end) for t in range(end, 5)]
    np.testing.assert_allclose(first_draw(ds, "uptake"), supported + faded, rtol=1e-15)
    # benefits fade only from what was reached, and only once support has ended
    assert faded[0] > supported[-1]
    # running costs are paid while supported (capital in use: half of year 0's, then all of it)
    np.testing.assert_allclose(
        first_draw(ds, "running_cost"), [0.2 * 1.0e6, 0.2 * 2.0e6, 0, 0, 0], rtol=1e-15
    )


def test_only_uptake_beyond_the_do_minimum_counts(tiny):
    # The do-minimum path reaches 0.5 on its own: only the remaining 0.3 of the 0.8 uptake counts.
    scenario = tiny(
        **{
            "programmes.kit.do_minimum_ceiling": 0.5,
            "programmes.kit.do_minimum_midpoint": -100.0,
            "programmes.kit.running_cost": 0.1,
        }
    )
    ds = simulate_all(scenario, draws=2, seed=1)
    np.testing.assert_allclose(ds["uptake"].values, 0.8, rtol=1e-15)
    np.testing.assert_allclose(ds["additional_uptake"].values, 0.8 - 0.5, rtol=1e-15)
    full = simulate_all(tiny(), draws=2, seed=1)
    np.testing.assert_allclose(ds["value"].values, full["value"].values * 0.3 / 0.8, rtol=1e-14)
    # systems the do-minimum would run anyway cost nothing extra: 3/8 of the running cost
    np.testing.assert_allclose(
        first_draw(ds, "running_cost"), [0.1 * 0.5e6 * 0.3 / 0.8, 0.1 * 1.5e6 * 0.3 / 0.8], rtol=1e-14
    )
    # a do-minimum above the investment's path leaves nothing to count
    none = simulate_all(scenario.with_values({"programmes.kit.do_minimum_ceiling": 0.9}), draws=2, seed=1)
    np.testing.assert_array_equal(none["additional_uptake"].values, 0.0)
    np.testing.assert_array_equal(none["value"].values, 0.0)
    np.testing.assert_array_equal(none["hours_released"].values, 0.0)


def test_cash_releasing_value_comes_from_its_own_lines_by_hand(tiny):
    # cashed share of the released time put to use, plus non-staff savings; the rest is redeployed
    ds = simulate_all(tiny(**{"programmes.kit.non_staff_savings": 3.0e5}), draws=2, seed=1)
    time_value = 1000 * 1500 * 0.1 * 0.5 * 0.8 * 50 * 0.5 * (1 - 0.1 * 0.5)
    np.testing.assert_allclose(ds["cash_releasing_value"].values, 0.25 * time_value + 3.0e5 * 0.8, rtol=1e-14)
    np.testing.assert_allclose(ds["non_cash_releasing_value"].values, 0.75 * time_value, rtol=1e-14)
    # released time not put to use is lost: it is neither cash nor redeployed
    unused = simulate_all(tiny(**{"risks.released_time_used": 0.0}), draws=2, seed=1)
    np.testing.assert_array_equal(unused["cash_releasing_value"].values, 0.0)
    np.testing.assert_array_equal(unused["non_cash_releasing_value"].values, 0.0)
    np.testing.assert_allclose(unused["value"].values, unused["patient_value"].values, rtol=0)


def test_cash_spend_and_budget_changes_are_deflated_to_the_price_base(tiny):
    scenario = tiny(
        **{
            "deflator.index": [100.0, 110.0, 125.0],
            "budget_changes": [{"programme": "kit", "year": "2026/27", "amount": -2.0e5, "source": "test"}],
        }
    )
    ds = simulate_all(scenario, draws=1, seed=1)
    np.testing.assert_allclose(ds["planned_spend"].values[:, 0], [1.0e6 / 1.1, 1.0e6 / 1.25], rtol=1e-14)
    np.testing.assert_allclose(ds["budget_change"].values[:, 0], [0.0, -2.0e5 / 1.25], rtol=1e-14)
    np.testing.assert_allclose(first_draw(ds, "spend"), [1.0e6 / 1.1, 0.8e6 / 1.25], rtol=1e-14)


def test_residual_value_uses_the_green_book_long_term_rate_after_year_30(tiny):
    # Ten years, the last year's net benefit continued for 25 more: years 10 to 34, at 3.5% to
    # year 30 and 3.0% after (Green Book discounting annex).
    ds = simulate_all(tiny(10, **{"programmes.kit.residual_life": 25.0}), draws=1, seed=1)
    factor = [1.035**-k if k <= 30 else 1.035**-30 * 1.03 ** -(k - 30) for k in range(10, 35)]
    last = float(ds["value"].values[-1, 0, 0])
    assert last > 0
    np.testing.assert_allclose(ds["pv_residual_value"].values, last * sum(factor), rtol=1e-13)


def test_zero_spend_means_zero_uptake_whatever_the_elasticity(tiny):
    scenario = tiny(
        **{
            "risks.raid_probability": 1.0,
            "risks.raid_fraction": 1.0,
            "risks.funding_elasticity": 0.0,
        }
    )
    ds = simulate_all(scenario, draws=2, seed=1)
    np.testing.assert_array_equal(ds["spend"].values, 0.0)
    np.testing.assert_array_equal(ds["funding_adequacy"].values, 0.0)
    np.testing.assert_array_equal(ds["uptake"].values, 0.0)
    np.testing.assert_array_equal(ds["bcr"].values, 0.0)
    assert np.isfinite(ds["npv"].values).all()


def test_hours_cap_binds_and_is_reported(tiny):
    scenario = tiny(**{"staff_groups.gp.max_release_share": 0.01})
    ds = simulate_all(scenario, draws=2, seed=1)
    available = 1000 * 1500 * 0.01
    np.testing.assert_allclose(ds["hours_released"].sum("programme").values, available, rtol=1e-15)
    assert ds["hours_capped"].all()


def test_patient_value_scales_by_exactly_one_minus_exclusion(tiny):
    base = tiny(**{"programmes.kit.staff.gp.addressable_share": 0.0})
    included = simulate_all(base.with_values({"risks.digital_exclusion": 0.0}), draws=2, seed=1)
    for exclusion in (0.25, 0.6, 1.0):
        excluded = simulate_all(base.with_values({"risks.digital_exclusion": exclusion}), draws=2, seed=1)
        np.testing.assert_allclose(
            excluded["value"].values, (1 - exclusion) * included["value"].values, rtol=1e-15, atol=0
        )


# =====================================================================================
# Causality and budget changes
# =====================================================================================


def test_a_cut_changes_only_its_year_and_later_ones(tiny):
    # Three funded years of an uncertain scenario; GBP 0.4m cut from 2027/28. Same seed: every
    # output of 2025/26 and 2026/27 is the same to the bit, and adequacy falls from 2027/28 on.
    scenario = tiny(
        5,
        **{
            "programmes.kit.spend": [1.0e6, 1.0e6, 1.0e6, 0.0, 0.0],
            "risks.raid_probability": Uniform(0.0, 0.6),
            "risks.raid_fraction": Uniform(0.1, 0.5),
            "risks.digital_exclusion": Uniform(0.1, 0.4),
            "programmes.kit.uptake_midpoint": Uniform(0.5, 2.5),
            "programmes.kit.delivery_delay": Uniform(0.0, 1.0),
            "programmes.kit.running_cost": 0.1,
            "programmes.kit.support_years": 1.0,
        },
    )
    cut = scenario.with_values(
        {"budget_changes": [{"programme": "kit", "year": "2027/28", "amount": -4.0e5, "source": "test"}]}
    )
    a = simulate_all(scenario, draws=500, seed=8)
    b = simulate_all(cut, draws=500, seed=8)
    before = ["2025/26", "2026/27"]
    for name in PER_YEAR:
        xr.testing.assert_identical(a[name].sel(year=before), b[name].sel(year=before))
    later = ["2027/28", "2028/29", "2029/30"]
    assert (b["funding_adequacy"].sel(year=later) < a["funding_adequacy"].sel(year=later)).all()
    assert (b["cumulative_value"].isel(year=-1) < a["cumulative_value"].isel(year=-1)).all()


def test_cutting_money_and_editing_the_announced_plan_are_different_questions(tiny):
    # Cutting GBP 0.5m from the plan lowers adequacy, uptake and value; announcing GBP 0.5m less
    # (the plan itself) leaves adequacy at 1 and value unchanged: nothing was taken from it.
    scenario = tiny(**{"programmes.kit.running_cost": 0.1})
    cut = scenario.with_values(
        {"budget_changes": [{"programme": "kit", "year": "2026/27", "amount": -5.0e5, "source": "test"}]}
    )
    smaller = scenario.with_values({"programmes.kit.spend": [1.0e6, 0.5e6]})
    base, after_cut, replanned = (simulate_all(s, draws=2, seed=1) for s in (scenario, cut, smaller))
    np.testing.assert_allclose(first_draw(after_cut, "funding_adequacy"), [1.0, 0.75], rtol=1e-15)
    np.testing.assert_allclose(first_draw(after_cut, "uptake"), [0.8, 0.8 * 0.75], rtol=1e-15)
    assert (after_cut["value"].sum() < base["value"].sum()).item()
    np.testing.assert_array_equal(replanned["funding_adequacy"].values, 1.0)
    xr.testing.assert_identical(replanned["value"], base["value"])
    np.testing.assert_array_equal(after_cut["spend"].values, replanned["spend"].values)


def test_target_year_lets_the_appraisal_outlast_the_claim_window():
    # Two more years of appraisal (and of deflator) leave the claim window's draws untouched.
    base = nhsrisk.load_scenario()
    data = base.to_dict()
    data["years"] = [*data["years"], "2035/36", "2036/37"]
    data["deflator"]["years"] = [*data["deflator"]["years"], "2035/36", "2036/37"]
    data["deflator"]["index"] = [*data["deflator"]["index"], 125.0, 127.5]
    for programme in data["programmes"].values():
        programme["spend"]["values"] = [*programme["spend"]["values"], 0.0, 0.0]
    longer = Scenario.from_toml(dumps_toml(data))
    assert longer.target_year == base.target_year == "2029/30"
    assert longer.claim_years == base.claim_years
    assert Scenario.from_toml(longer.to_toml()) == longer
    short = simulate_all(base, draws=500, seed=4)
    long = simulate_all(longer, draws=500, seed=4)
    assert long.attrs["target_year"] == "2029/30"
    assert long["claimed_return"].attrs["year"] == "2029/30"
    assert long.attrs["claim_window"] == "2025/26 to 2029/30"
    assert long.attrs["appraisal_period"] == "2025/26 to 2036/37"
    for name in PER_YEAR:
        xr.testing.assert_identical(long[name].sel(year=list(base.years)), short[name])
    assert (long["spend"].sel(year=["2035/36", "2036/37"]) == 0).all()


def test_target_year_must_be_a_scenario_year():
    with pytest.raises(ScenarioError, match=r"target\.year.*2040/41"):
        nhsrisk.load_scenario().with_values({"target.year": "2040/41"})


# =====================================================================================
# The default scenario: invariants of its results
# =====================================================================================


def test_turning_erosion_off_never_lowers_value(default_run):
    ring_fenced = simulate_all(
        nhsrisk.load_scenario().with_values({"risks.raid_probability": 0.0}), draws=4_000, seed=20240306
    )
    # Common random numbers: every other input is drawn identically.
    xr.testing.assert_identical(
        ring_fenced["risks.digital_exclusion"], default_run["risks.digital_exclusion"]
    )
    assert not ring_fenced["raid"].any()
    assert default_run["raid"].any()
    assert (ring_fenced["funding_adequacy"] >= default_run["funding_adequacy"]).all()
    lower = ring_fenced["cumulative_value"] < default_run["cumulative_value"] * (1 - 1e-12)
    # more uptake is more value, except where online access adds more work than it saves (the
    # patient channel's net value per contact below 0: issue 15's induced demand)
    patients = "programmes.patient_services.patients."
    adds_work = default_run[patients + "value_per_contact"] < default_run[patients + "induced_demand_cost"]
    assert not (lower & ~adds_work).any()
    assert adds_work.any() and not adds_work.all()
    assert (ring_fenced["spend"] >= default_run["spend"]).all()


def test_results_are_finite_and_capped(default_run):
    ds = default_run
    for name in OUTPUTS:
        assert np.isfinite(ds[name].values.astype(float)).all(), name
    assert_hours_within_cap(ds, nhsrisk.load_scenario(), rtol=1e-12)
    # value is never negative where no line can be: staff time and cash lines; the patient line is
    # negative where induced demand outweighs the time saved per contact (issue 15)
    non_patient = ds["cash_releasing_value"] + ds["non_cash_releasing_value"]
    assert (non_patient >= 0).all()
    net_per_contact = (
        ds["programmes.patient_services.patients.value_per_contact"]
        - ds["programmes.patient_services.patients.induced_demand_cost"]
    )
    assert ((ds["patient_value"].sel(programme="patient_services") < 0) <= (net_per_contact < 0)).all()
    assert (ds["cumulative_value"].diff("year").where(net_per_contact >= 0, 0.0) >= 0).all()
    for name in ("contact_weighted_exclusion", "funding_adequacy", "uptake", "additional_uptake"):
        assert ((ds[name] >= 0) & (ds[name] <= 1)).all(), name
    assert (ds["additional_uptake"] <= ds["uptake"]).all()
    np.testing.assert_allclose(
        ds["net_benefit"],
        ds["value"] - ds["spend"] - ds["running_cost"] - ds["dual_running_cost"],
        rtol=1e-12,
        atol=1e-3,
    )
    np.testing.assert_allclose(
        ds["value"],
        ds["cash_releasing_value"] + ds["non_cash_releasing_value"] + ds["patient_value"],
        rtol=1e-12,
        atol=1e-3,
    )
    # budget changes and raids can only take money away from the plan here
    assert (ds["spend"] <= ds["planned_spend"] * (1 + 1e-15)).all()


def test_npv_is_discounted_value_minus_discounted_costs(default_run):
    ds = default_run
    scenario = nhsrisk.load_scenario()
    factor = xr.DataArray(
        scenario.discount_factors(ds.sizes["year"]), dims="year", coords={"year": ds["year"]}
    )
    # ten years of the appraisal period, all at the short-term Green Book rate
    np.testing.assert_allclose(factor.values, (1 + GREEN_BOOK) ** -np.arange(10), rtol=1e-15)

    def pv(name: str) -> xr.DataArray:
        return (ds[name].sum("programme") * factor).sum("year")

    for output, flow in [
        ("pv_capital_cost", "spend"),
        ("pv_running_cost", "running_cost"),
        ("pv_cash_releasing", "cash_releasing_value"),
        ("pv_non_cash_releasing", "non_cash_releasing_value"),
        ("pv_patient", "patient_value"),
    ]:
        np.testing.assert_allclose(ds[output], pv(flow), rtol=1e-12, atol=1e-3, err_msg=output)
    # residual value: the last year's net flow of each programme over its residual life
    annuity = xr.DataArray(
        [
            scenario.discount_factors(10 + int(p.residual_life.distribution.mean()))[10:].sum()
            for p in scenario.programmes.values()
        ],
        dims="programme",
        coords={"programme": ds["programme"]},
    )
    last = (ds["value"] - ds["running_cost"] - ds["dual_running_cost"]).isel(year=-1)
    residual = (last.clip(min=0) * annuity).sum("programme")
    np.testing.assert_allclose(ds["pv_residual_value"], residual, rtol=1e-12, atol=1e-3)
    np.testing.assert_allclose(ds["pv_dual_running_cost"], pv("dual_running_cost"), rtol=1e-12, atol=1e-3)
    benefits = pv("value") + residual
    costs = pv("spend") + pv("running_cost") + pv("dual_running_cost")
    np.testing.assert_allclose(ds["pv_benefits"], benefits, rtol=1e-12, atol=1e-3)
    np.testing.assert_allclose(ds["pv_costs"], costs, rtol=1e-12, atol=1e-3)
    np.testing.assert_allclose(ds["npv"], benefits - costs, rtol=1e-12, atol=1e-3)
    np.testing.assert_allclose(ds["bcr"], benefits / costs, rtol=1e-12)


def test_dataset_layout_and_attrs(default_run):
    ds = default_run
    scenario = nhsrisk.load_scenario()
    assert dict(ds.sizes) == {
        "draw": 4_000,
        "year": 10,
        "programme": 3,
        "staff_group": 6,
        "quintile": 5,
        "age_band": 5,
    }
    assert list(ds["year"].values) == list(scenario.years)
    assert ds["year"].values[0] == "2025/26" and ds["year"].values[-1] == "2034/35"
    assert ds["spend"].dims == ("year", "programme", "draw")
    assert ds["hours_released"].dims == ("year", "programme", "staff_group", "draw")
    assert ds["npv"].dims == ("draw",)
    for name, variable in ds.data_vars.items():
        assert variable.attrs.get("units") is not None, name
        assert variable.attrs.get("long_name"), name
    for name, coordinate in ds.coords.items():
        assert coordinate.attrs.get("long_name"), name
    for name, out in OUTPUTS.items():
        assert ds[name].attrs["long_name"] == out.long_name
        assert ("horizon" in ds[name].attrs) == bool(out.horizon), name
    uncertain = [k for k, q in scenario.quantities().items() if not q.distribution.is_fixed]
    for key in uncertain:
        if key == "risks.raid_fraction":
            assert ds[key].dims == ("year", "draw")
        else:
            assert ds[key].dims == ("draw",), key
        assert ds[key].attrs["source"] == scenario.quantities()[key].source
    assert ds.attrs["seed"] == "20240306"
    assert ds.attrs["nhsrisk_version"] == nhsrisk.__version__
    assert ds.attrs["target_year"] == "2029/30"
    assert ds.attrs["claim_window"] == "2025/26 to 2029/30"
    assert ds.attrs["appraisal_period"] == "2025/26 to 2034/35"
    assert ds.attrs["price_base"] == scenario.price_base
    assert ds.attrs["long_term_discount_rate"] == 0.03
    assert Scenario.from_toml(ds.attrs["scenario"]) == scenario


def test_netcdf_round_trip_is_lossless(default_run, tmp_path):
    path = tmp_path / "results.nc"
    default_run.to_netcdf(path, engine="h5netcdf")
    with xr.open_dataset(path, engine="h5netcdf") as reopened:
        xr.testing.assert_identical(reopened.load(), default_run)
    assert nhsrisk.load_scenario(path) == nhsrisk.load_scenario()


# =====================================================================================
# Reproducibility
# =====================================================================================


@pytest.mark.parametrize("threads", [1, 2])
def test_same_seed_same_bits_whatever_the_thread_count(default_run, threads):
    again = simulate_all(draws=4_000, seed=20240306, threads=threads)
    xr.testing.assert_identical(again, default_run)


def test_chunks_concatenate_to_the_whole_run():
    whole = simulate_all(draws=1_000, seed=7)
    first = simulate_all(draws=600, seed=7)
    second = simulate_all(draws=400, seed=7, start=600)
    joined = xr.concat([first, second], dim="draw", data_vars="minimal", coords="minimal", compat="override")
    for name in whole.data_vars:
        if "draw" in whole[name].dims:
            np.testing.assert_array_equal(joined[name].values, whole[name].values, err_msg=name)
    np.testing.assert_array_equal(joined["draw"].values, np.arange(1_000))
    more = simulate_all(draws=1_500, seed=7)
    xr.testing.assert_identical(more.isel(draw=slice(0, 1_000)).drop_attrs(), whole.drop_attrs())


def test_adding_an_input_leaves_the_other_draws_unchanged():
    base = nhsrisk.load_scenario()
    new_programme = base.to_dict()["programmes"]["patient_services"]
    extended = base.with_values({"programmes": {**base.to_dict()["programmes"], "inclusion": new_programme}})
    a = simulate_all(base, draws=500, seed=3)
    b = simulate_all(extended, draws=500, seed=3)
    assert "programmes.inclusion.uptake_ceiling" in b
    for name, variable in a.data_vars.items():
        if variable.attrs.get("sampled_input"):
            xr.testing.assert_identical(variable, b[name])


def test_different_seeds_differ():
    a = simulate_all(draws=100, seed=1)
    b = simulate_all(draws=100, seed=2)
    assert not np.array_equal(a["npv"].values, b["npv"].values)


def test_seed_none_is_recorded_and_repeatable():
    ds = simulate_all(draws=50)
    again = simulate_all(draws=50, seed=int(ds.attrs["seed"]))
    xr.testing.assert_identical(ds, again)


def test_jitted_kernel_matches_its_python_source():
    plan = build_plan(nhsrisk.load_scenario())
    jitted = _run(plan, 11, 5, 12, None)
    python_kernel = functools.partial(_kernels.simulate_kernel, span_kernel=_kernels.simulate_span.py_func)
    python = _run(plan, 11, 5, 12, None, kernel=python_kernel)
    for name, values in jitted.items():
        np.testing.assert_array_equal(values, python[name], err_msg=name)


def test_with_values_distribution_changes_only_that_input():
    base = nhsrisk.load_scenario()
    variant = base.with_values({"risks.digital_exclusion": Beta.from_mean_sd(0.3, 0.05)})
    a = simulate_all(base, draws=2_000, seed=9)
    b = simulate_all(variant, draws=2_000, seed=9)
    xr.testing.assert_identical(a["risks.staff_capacity"], b["risks.staff_capacity"])
    se = 0.05 / math.sqrt(2_000)
    assert abs(float(b["risks.digital_exclusion"].mean()) - 0.3) < 4 * se


# =====================================================================================
# Arguments and guards
# =====================================================================================


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"draws": 0}, ValueError, r"'draws' parameter of simulate must be an int >= 1\. Got 0"),
        ({"draws": -5}, ValueError, r"'draws'.*Got -5"),
        ({"draws": 1.5}, TypeError, r"'draws'.*Got 1\.5"),
        ({"draws": "100"}, TypeError, r"'draws'.*Got '100'"),
        ({"draws": True}, TypeError, r"'draws'"),
        ({"seed": -1}, ValueError, r"'seed'.*Got -1"),
        ({"seed": 2**128}, ValueError, r"'seed'"),
        ({"seed": 1.0}, TypeError, r"'seed'"),
        ({"start": -1}, ValueError, r"'start'.*Got -1"),
        ({"threads": 0}, ValueError, r"'threads'.*Got 0"),
        ({"threads": 10_000}, ValueError, r"'threads'.*Got 10000"),
        ({"scenario": "no-such-scenario"}, FileNotFoundError, r"no-such-scenario"),
    ],
)
def test_bad_arguments_are_rejected_before_any_work(kwargs, error, match):
    kwargs = {"draws": 10, **kwargs}
    with pytest.raises(error, match=match):
        simulate_all(**kwargs)


def test_draws_accepts_integral_floats():
    assert simulate_all(draws=1e2, seed=1).sizes["draw"] == 100


def test_the_default_scenario_is_as_announced_and_its_old_name_is_the_same_run():
    ds = simulate_all(draws=20, seed=1)
    assert ds.attrs["scenario_name"] == "as-announced"
    xr.testing.assert_identical(simulate_all("spring-budget-2024", draws=20, seed=1), ds)


def test_fixed_inputs_are_not_stored_but_uncertain_ones_are(tiny):
    scenario = tiny(**{"risks.digital_exclusion": Uniform(0.1, 0.4)})
    ds = simulate_all(scenario, draws=100, seed=1)
    sampled = [name for name, v in ds.data_vars.items() if v.attrs.get("sampled_input")]
    assert sampled == ["risks.digital_exclusion"]
    # the exclusion stream plus one raid-event stream per year (the raid fraction is fixed)
    assert ds.attrs["uniforms_per_draw"] == 1 + 2
    assert isinstance(scenario.risks.raid_fraction.distribution, Fixed)


def test_a_distribution_too_wide_for_a_double_is_rejected_at_load(tiny):
    from nhsrisk.distributions import LogNormal

    with pytest.raises(ScenarioError, match=r"programmes\.kit\.patients\.value_per_contact.*does not fit"):
        tiny(**{"programmes.kit.patients.value_per_contact": LogNormal(0.0, 100.0)})


def test_non_finite_results_are_refused_not_returned(monkeypatch, tiny):
    simulate_module = sys.modules["nhsrisk.simulation"]
    real_run = simulate_module._run

    def poisoned(*args, **kwargs):
        arrays = real_run(*args, **kwargs)
        arrays["npv"][3] = np.nan
        return arrays

    monkeypatch.setattr(simulate_module, "_run", poisoned)
    with pytest.raises(FloatingPointError, match=r"non-finite npv .* in draw 3 .*risks\.digital_exclusion"):
        simulate_all(tiny(**{"risks.digital_exclusion": Uniform(0.1, 0.4)}), draws=10, seed=1)


def test_kernel_slots_and_output_order_follow_the_one_declaration():
    # The kernel writes output k of its tuple to OUTPUTS' k-th name, through the OUT_* constants.
    assert tuple(OUTPUTS) == _model.OUTPUT_NAMES
    for position, name in enumerate(OUTPUTS):
        assert getattr(_model, f"OUT_{name.upper()}") == position, name
    for inputs in (_model.RISK_INPUTS, _model.YEAR_INPUTS, _model.PROGRAMME_SLOTS, _model.GROUP_INPUTS):
        for position, name in enumerate(inputs):
            assert getattr(_model, name.upper()) == position, name
    plan = build_plan(nhsrisk.load_scenario())
    for name in _model.MODEL_ARRAYS:
        assert isinstance(getattr(plan, name), np.ndarray), name
    # every slot of every programme reads the stream named by its key path (or the constant zero)
    for p, pid in enumerate(nhsrisk.load_scenario().programmes):
        for slot, name in enumerate(_model.PROGRAMME_SLOTS):
            stream = plan.stream_names[plan.prog_idx[p, slot]]
            assert (
                stream == "(constant zero)"
                or stream.startswith(f"programmes.{pid}.")
                and stream.endswith(f".{name}")
            ), (pid, name, stream)


def _simulate_in_child(queue) -> None:
    ds = simulate_all(draws=3 * _kernels.CHUNK, seed=5, threads=2)
    queue.put(ds["npv"].values.tobytes())


@pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX only")
def test_a_forked_child_simulates_on_threads_of_its_own() -> None:
    # The parent's thread pool exists before the fork; the child must not send work to it.
    import multiprocessing

    parent = simulate_all(draws=3 * _kernels.CHUNK, seed=5, threads=2)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_simulate_in_child, args=(queue,))
    child.start()
    try:
        result = queue.get(timeout=120)
    finally:
        child.join(timeout=30)
        if child.is_alive():
            child.kill()
    assert result == parent["npv"].values.tobytes()


@pytest.mark.parametrize(
    ("sampler", "draws", "start", "threads"),
    [
        ("random", 40_000, 0, None),  # three slices of KEPT_SLICE draws, the last one short
        ("random", 20_000, 12_345, 1),
        ("lhs", 20_000, 0, 2),
        ("sobol", 2**15, 2**15, None),  # a Sobol' design is run whole, then the headline kept
    ],
)
def test_keep_headline_holds_the_same_bits_as_keep_all(sampler, draws, start, threads):
    every = simulate_all(draws=draws, seed=7, start=start, sampler=sampler, threads=threads)
    headline = simulate_all(
        draws=draws, seed=7, start=start, sampler=sampler, threads=threads, keep="headline"
    )
    outputs = [name for name in OUTPUTS if name in headline.data_vars]
    assert outputs == [name for name in OUTPUTS if name in _model.HEADLINE_OUTPUTS]
    inputs = [name for name in every.data_vars if every[name].attrs.get("sampled_input")]
    structure = {
        "planned_spend",
        "budget_change",
        "claimed_return",
        "people_by_quintile",
        "people_by_age_band",
    }
    assert set(headline.data_vars) == {*outputs, *inputs, *structure}
    xr.testing.assert_identical(headline, every[list(headline.data_vars)])
    assert headline.attrs == every.attrs


def test_keep_headline_holds_what_the_summary_and_the_comparison_read():
    every = simulate_all(draws=3_000, seed=4)
    headline = simulate_all(draws=3_000, seed=4, keep="headline")
    assert repr(nhsrisk.summary(headline)) == repr(nhsrisk.summary(every))
    cut = simulate_all("after-the-cut", draws=3_000, seed=4, keep="headline")
    xr.testing.assert_identical(
        nhsrisk.budget_change_effect(cut, headline),
        nhsrisk.budget_change_effect(simulate_all("after-the-cut", draws=3_000, seed=4), every),
    )


def test_the_default_keeps_the_headline_outputs_in_under_half_the_bytes():
    from nhsrisk._engine import KEPT_SLICE, result_bytes
    from nhsrisk._kernels import KEPT_PIECE

    plan = build_plan(nhsrisk.load_scenario())
    draws = 4 * KEPT_SLICE
    every = nhsrisk.simulate(draws=draws, seed=1, keep="all")
    headline = nhsrisk.simulate(draws=draws, seed=1)  # keep="headline", the default
    assert set(headline.data_vars) < set(every.data_vars)
    for name in headline.data_vars:
        np.testing.assert_array_equal(headline[name].values, every[name].values, err_msg=name)

    def per_draw_bytes(ds: xr.Dataset) -> int:
        """Bytes held in memory for the draws (inputs drawn again when read are not held)."""
        return sum(
            ds[name].nbytes
            for name in ds.data_vars
            if "draw" in ds[name].dims and ds[name].variable._in_memory
        )

    assert result_bytes(plan, draws) == per_draw_bytes(every)
    # what is kept for every draw, and each thread's scratch arrays of every output for one piece
    scratch = result_bytes(plan, KEPT_PIECE * numba.config.NUMBA_NUM_THREADS)
    assert result_bytes(plan, draws, outputs=_model.HEADLINE_OUTPUTS) == per_draw_bytes(headline) + scratch
    # the inputs are not held: under a third
    inputs = [name for name in headline.data_vars if headline[name].attrs.get("sampled_input")]
    assert inputs and not any(headline[name].variable._in_memory for name in inputs)
    assert per_draw_bytes(headline) < per_draw_bytes(every) / 3


@pytest.mark.parametrize("sampler", ["random", "lhs"])
def test_inputs_drawn_again_when_read_are_the_kept_ones_bit_for_bit(sampler):
    import copy
    import pickle

    draws, start = 2 * _engine.KEPT_SLICE + 123, 777 if sampler == "random" else 0  # one LHS design
    lazy = nhsrisk.simulate(draws=draws, seed=5, start=start, sampler=sampler)
    every = nhsrisk.simulate(draws=draws, seed=5, start=start, sampler=sampler, keep="all")
    names = [name for name in lazy.data_vars if lazy[name].attrs.get("sampled_input")]
    per_year = [name for name in names if lazy[name].dims == ("year", "draw")]
    assert per_year and len(per_year) < len(names)
    selections: list[dict[str, Any]] = [
        {"draw": slice(None)},
        {"draw": slice(40_000, None, 3)},  # the end of the run only
        {"draw": [5, 2, draws - 1, 5]},  # unsorted, repeated
        {"draw": 17},
        {"draw": slice(0, 0)},
        {"year": [3, 0], "draw": slice(100, 200)},
        {"year": 2, "draw": [9, 8]},
    ]
    for selection in selections:
        for name in names:
            chosen = {d: i for d, i in selection.items() if d in lazy[name].dims}
            got, want = lazy[name].isel(chosen), every[name].isel(chosen)
            xr.testing.assert_identical(got, want)
            assert got.values.tobytes() == want.values.tobytes(), (name, selection)
    # a pickle carries the scenario (kilobytes), not the inputs nor the plan's tables (megabytes)
    held = sum(variable.nbytes for variable in lazy.variables.values() if variable._in_memory)
    assert len(pickle.dumps(lazy)) < held + 1_000_000  # the plan alone pickles to 3.7 MB
    # a copy, a pickle (which leaves the cache behind) and a selection of draws all read the same bits
    for other in (
        copy.deepcopy(lazy),
        pickle.loads(pickle.dumps(lazy)),
        lazy.sel(draw=slice(start + 10, None)),
    ):
        for name in names:
            assert other[name].values.tobytes() == every[name].sel(draw=other["draw"]).values.tobytes()


def test_inputs_drawn_again_serve_dask_chunks_with_one_pass_a_chunk(monkeypatch):
    pytest.importorskip("dask")
    draws = 2 * _engine.KEPT_SLICE + 100
    lazy = nhsrisk.simulate(draws=draws, seed=8)
    every = nhsrisk.simulate(draws=draws, seed=8, keep="all")
    names = [name for name in lazy.data_vars if lazy[name].attrs.get("sampled_input")]
    passes = []
    original = _engine.run

    def counted(*args, **kwargs):
        passes.append(args[3])  # draws
        return original(*args, **kwargs)

    monkeypatch.setattr(_engine, "run", counted)
    chunked = lazy[names].chunk({"draw": 10_000})
    totals = chunked.sum("draw").compute(scheduler="threads")
    # four chunks of draws, each drawn once for every input
    assert sorted(passes) == [draws - 30_000, 10_000, 10_000, 10_000]
    for name in names:
        np.testing.assert_array_equal(
            totals[name].values, every[name].chunk({"draw": 10_000}).sum("draw").values
        )


def test_the_kernel_refuses_to_keep_some_outputs_of_a_design_it_reads_by_position():
    plan = build_plan(nhsrisk.load_scenario())
    arrays, inputs = _engine.allocate_results(plan, 8)
    design = np.full((plan.uniforms_per_draw, 8), 0.5)
    sampling = _engine.sampling_arguments(plan, _design.DESIGN, design=design)
    arguments = _engine.kernel_arguments(plan, 1, 0, inputs, arrays, sampling)
    with pytest.raises(ValueError, match="run it without 'keep'"):
        _kernels.simulate_kernel(*arguments, keep=(0,))


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_results_whose_inputs_are_drawn_again_save_the_same_bits(tmp_path, suffix):
    if suffix == ".zarr":
        pytest.importorskip("zarr")
    draws = _engine.KEPT_SLICE + 500
    lazy = nhsrisk.simulate(draws=draws, seed=4)
    every = nhsrisk.simulate(draws=draws, seed=4, keep="all")
    reopened = nhsrisk.open_results(nhsrisk.save_results(lazy, tmp_path / f"run{suffix}")).load()
    assert set(reopened.data_vars) == set(lazy.data_vars)
    for name in lazy.data_vars:
        assert reopened[name].values.tobytes() == every[name].values.tobytes(), name


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: nhsrisk.simulate(draws=10, outputs="hours_released"), TypeError, r"Got 'hours_released'"),
        (lambda: nhsrisk.simulate(draws=10, outputs=["npvv"]), ValueError, r"'npv'.*Got 'npvv' instead"),
        (lambda: nhsrisk.simulate(draws=10, outputs=["a", "b"]), ValueError, r"Got \['a', 'b'\] instead"),
        (
            lambda: nhsrisk.simulate(draws=10, outputs=["net_benefit"], keep="summary"),
            ValueError,
            "left out with keep='summary'",
        ),
        (
            lambda: nhsrisk.with_outputs(5, ["net_benefit"]),
            TypeError,
            "'ds' parameter of with_outputs.*Got int",
        ),
        (
            lambda: nhsrisk.with_outputs(nhsrisk.simulate(draws=10, seed=1), ["npvv"]),
            ValueError,
            "'outputs' parameter of with_outputs.*Got 'npvv'",
        ),
    ],
)
def test_bad_outputs_are_named_before_any_run(call, error, match):
    with pytest.raises(error, match=match):
        call()
