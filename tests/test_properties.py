"""Property-based tests over generated scenarios (hypothesis).

Scenarios are generated from the default by redrawing its risks and programme
parameters within their allowed ranges, so every example is valid. Each
property is a guarantee of the core that must hold for any valid scenario;
comparisons between two scenarios use common random numbers (the same seed),
so they hold draw by draw.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nhsrisk
from nhsrisk.distributions import PERT, Fixed, Uniform
from nhsrisk.simulation import OUTPUTS
from nhsrisk.testing import assert_hours_within_cap
from tests._hardening import adds_work

# These tests read every output of the model, not only the headline ones a run keeps by default.
simulate_all = functools.partial(nhsrisk.simulate, keep="all")

# a scenario with a population table has a long repr; hypothesis warns when it shows one
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

DEFAULT = nhsrisk.load_scenario()
# Generated values replace the strands' overruns and delays, which the default correlates; an
# example keeps the correlations only when it draws those inputs as uncertain (see scenarios()).
BASE = DEFAULT.without_correlations()
DRAWS = 200
PER_YEAR = [name for name, out in OUTPUTS.items() if "year" in out.dims]
# Both tiers explore: fresh examples every run, the fast tier (CI) a bounded number of them;
# a failure prints the blob that replays it (@reproduce_failure).
FAST = settings(max_examples=12, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
FULL = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def interval(draw, low=0.0, high=1.0):
    a = draw(st.floats(low, high, allow_nan=False))
    b = draw(st.floats(low, high, allow_nan=False))
    return (min(a, b), max(a, b))


@st.composite
def unit_quantity(draw):
    """A fixed value, a uniform or a PERT inside [0, 1]."""
    kind = draw(st.sampled_from(["fixed", "uniform", "pert"]))
    lo, hi = draw(interval())
    if kind == "fixed" or hi - lo < 1e-6:
        return Fixed(lo)
    if kind == "uniform":
        return Uniform(lo, hi)
    return PERT(lo, draw(st.floats(lo, hi, allow_nan=False)), hi)


@st.composite
def uncertain(draw, low, high):
    """A uniform over a sub-interval of [low, high] at least a hundredth of it wide (continuous)."""
    a, b = draw(interval(low, high))
    width = (high - low) / 100
    a = min(a, high - width)
    return Uniform(a, max(b, a + width))


@st.composite
def scenarios(draw):
    correlated = draw(st.booleans())
    values = {
        "risks.raid_probability": draw(unit_quantity()),
        "risks.raid_fraction": draw(unit_quantity()),
        "risks.digital_exclusion": draw(unit_quantity()),
        "risks.staff_capacity": draw(unit_quantity()),
        "risks.social_care_leakage": draw(unit_quantity()),
        "risks.released_time_used": draw(unit_quantity()),
        "risks.funding_elasticity": draw(st.floats(0.0, 3.0)),
    }
    for pid in BASE.programmes:
        prefix = f"programmes.{pid}"
        values[f"{prefix}.uptake_ceiling"] = draw(unit_quantity())
        values[f"{prefix}.raid_exposure"] = draw(unit_quantity())
        values[f"{prefix}.uptake_steepness"] = draw(st.floats(0.05, 20.0))
        values[f"{prefix}.uptake_midpoint"] = draw(st.floats(-5.0, 10.0))
        values[f"{prefix}.do_minimum_ceiling"] = draw(unit_quantity())
        values[f"{prefix}.support_years"] = draw(st.floats(0.0, 10.0))
        values[f"{prefix}.benefit_decay"] = draw(unit_quantity())
        values[f"{prefix}.running_cost"] = draw(st.floats(0.0, 0.3))
        values[f"{prefix}.cashed_share"] = draw(unit_quantity())
        if correlated:  # uncertain and continuous, so the default's copula still applies to them
            values[f"{prefix}.cost_overrun"] = draw(uncertain(0.2, 5.0))
            values[f"{prefix}.delivery_delay"] = draw(uncertain(0.0, 3.0))
        else:
            values[f"{prefix}.cost_overrun"] = draw(st.floats(0.2, 5.0))
            values[f"{prefix}.delivery_delay"] = draw(st.floats(0.0, 3.0))
    for gid in BASE.staff_groups:
        values[f"staff_groups.{gid}.max_release_share"] = draw(unit_quantity())
    return (DEFAULT if correlated else BASE).with_values(values)


@st.composite
def cuts(draw, scenario):
    """A budget change that cuts a share of one programme's planned (cash) spend in one funded year."""
    pid = draw(st.sampled_from(sorted(scenario.programmes)))
    spend = scenario.programmes[pid].spend.values
    t = draw(st.sampled_from([t for t, amount in enumerate(spend) if amount > 0]))
    share = draw(st.floats(0.01, 1.0))
    change = {"programme": pid, "year": scenario.years[t], "amount": -share * spend[t], "source": "test"}
    return change, t


def check_invariants(scenario) -> None:
    ds = simulate_all(scenario, draws=DRAWS, seed=3)
    for name in OUTPUTS:
        assert np.isfinite(ds[name].values.astype(float)).all(), name
    for name in ("uptake", "additional_uptake", "funding_adequacy"):
        assert ((ds[name] >= 0) & (ds[name] <= 1)).all(), name
    assert (ds["additional_uptake"] <= ds["uptake"]).all()
    assert (ds["running_cost"] >= 0).all()
    assert (ds["spend"] <= ds["planned_spend"] * (1 + 1e-15)).all()
    assert (ds["cumulative_value"].diff("year").where(~adds_work(ds), 0.0) >= 0).all()
    assert_hours_within_cap(ds, scenario, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(
        ds["value"],
        ds["cash_releasing_value"] + ds["non_cash_releasing_value"] + ds["patient_value"],
        rtol=1e-12,
        atol=1e-3,
    )
    factor = xr.DataArray(
        scenario.discount_factors(ds.sizes["year"]), dims="year", coords={"year": ds["year"]}
    )
    pv_value = (ds["value"].sum("programme") * factor).sum("year")
    pv_costs = ((ds["spend"] + ds["running_cost"] + ds["dual_running_cost"]).sum("programme") * factor).sum(
        "year"
    )
    assert (ds["pv_residual_value"] >= 0).all()
    np.testing.assert_allclose(ds["pv_costs"], pv_costs, rtol=1e-12, atol=1e-3)
    np.testing.assert_allclose(
        ds["npv"], pv_value + ds["pv_residual_value"] - pv_costs, rtol=1e-12, atol=1e-3
    )


@FAST
@given(scenarios())
def test_any_valid_scenario_gives_finite_capped_consistent_results(scenario):
    check_invariants(scenario)


@pytest.mark.slow
@FULL
@given(scenarios())
def test_any_valid_scenario_gives_finite_capped_consistent_results_full(scenario):
    check_invariants(scenario)


def caps_free(a: xr.Dataset, b: xr.Dataset) -> xr.DataArray:
    """Draws in which no staff cap binds in either run.

    Where one binds, the capped hours are shared out again and can move to a programme that
    loses less to social care, so value can rise (see test_a_binding_cap_can_move_value_between_programmes).
    """
    return ~(a["hours_capped"].any(("year", "staff_group")) | b["hours_capped"].any(("year", "staff_group")))


def check_cut(scenario, cut) -> None:
    """A cut in year t changes nothing before t, and lowers adequacy, uptake and value from t on."""
    change, t = cut
    cut_scenario = scenario.with_values({"budget_changes": [change]})
    a = simulate_all(scenario, draws=DRAWS, seed=17)
    b = simulate_all(cut_scenario, draws=DRAWS, seed=17)
    # Causality: every output of every year before the cut is the same to the bit.
    before = list(scenario.years[:t])
    for name in PER_YEAR:
        xr.testing.assert_identical(a[name].sel(year=before), b[name].sel(year=before))
    # Money taken away lowers what arrives and never raises adequacy, uptake or hours; value falls
    # wherever no staff cap binds.
    pid = change["programme"]
    spend_a, spend_b = a["spend"].sel(programme=pid), b["spend"].sel(programme=pid)
    assert (spend_b <= spend_a).all()
    # strictly less in the year of the cut, unless a raid took all of that year's money anyway
    assert ((spend_b.isel(year=t) < spend_a.isel(year=t)) | (spend_a.isel(year=t) == 0)).all()
    for name in ("funding_adequacy", "uptake", "additional_uptake"):
        assert (b[name] <= a[name]).all(), name
    hours_a = a["hours_released"].sum("programme")
    hours_b = b["hours_released"].sum("programme")
    assert (hours_b <= hours_a * (1 + 1e-12) + 1e-6).all()
    rise = b["cumulative_value"] > a["cumulative_value"] * (1 + 1e-12) + 1e-6
    assert not (rise & caps_free(a, b) & ~adds_work(a)).any()
    # the cut is recorded in the results, in real terms
    factor = scenario.deflator.factor(change["year"], scenario.price_base)
    recorded = b["budget_change"].isel(year=t).sel(programme=pid).item()
    assert recorded == pytest.approx(change["amount"] * factor, rel=1e-12)


@FAST
@given(st.data())
def test_a_cut_changes_nothing_before_its_year_and_never_raises_value_after(data):
    scenario = data.draw(scenarios())
    check_cut(scenario, data.draw(cuts(scenario)))


@pytest.mark.slow
@FULL
@given(st.data())
def test_a_cut_changes_nothing_before_its_year_and_never_raises_value_after_full(data):
    scenario = data.draw(scenarios())
    check_cut(scenario, data.draw(cuts(scenario)))


WORSENINGS = {
    # risk: (key paths, better value, worse value)
    "raid_probability": (["risks.raid_probability"], 0.1, 0.6),
    "raid_fraction": (["risks.raid_fraction"], 0.1, 0.5),
    "digital_exclusion": (["risks.digital_exclusion"], 0.1, 0.4),
    "social_care_leakage": (["risks.social_care_leakage"], 0.2, 0.8),
    "cost_overrun": ([f"programmes.{pid}.cost_overrun" for pid in BASE.programmes], 1.0, 1.6),
    "delivery_delay": ([f"programmes.{pid}.delivery_delay" for pid in BASE.programmes], 0.0, 1.5),
}


def check_worse_risk_never_raises_value(scenario, risk) -> None:
    keys, better, worse = WORSENINGS[risk]
    # fixed values cannot be correlated
    scenario = scenario.without_correlations()
    if risk == "cost_overrun":
        # the black-swan event would replace the body overrun: switch it off to isolate it
        scenario = scenario.with_values({f"programmes.{pid}.black_swan": 0.0 for pid in scenario.programmes})
    a = simulate_all(scenario.with_values(dict.fromkeys(keys, better)), draws=DRAWS, seed=11)
    b = simulate_all(scenario.with_values(dict.fromkeys(keys, worse)), draws=DRAWS, seed=11)
    # Common random numbers: the same draws of everything else, so the comparison is draw by draw.
    # Released hours per staff group never rise...
    hours_a = a["hours_released"].sum("programme")
    hours_b = b["hours_released"].sum("programme")
    assert (hours_b <= hours_a * (1 + 1e-12) + 1e-6).all(), risk
    # ...and value never rises where no staff cap binds.
    rise = b["cumulative_value"] > a["cumulative_value"] * (1 + 1e-12) + 1e-6
    assert not (rise & caps_free(a, b) & ~adds_work(a)).any(), risk


@FAST
@given(scenarios(), st.sampled_from(sorted(WORSENINGS)))
def test_a_worse_risk_never_raises_value(scenario, risk):
    check_worse_risk_never_raises_value(scenario, risk)


@pytest.mark.slow
@FULL
@given(scenarios(), st.sampled_from(sorted(WORSENINGS)))
def test_a_worse_risk_never_raises_value_full(scenario, risk):
    check_worse_risk_never_raises_value(scenario, risk)


@FAST
@given(scenarios(), st.integers(0, 2**64), st.integers(1, 700), st.integers(0, 2**40))
def test_same_seed_same_bits_for_any_split_and_thread_count(scenario, seed, draws, start):
    whole = simulate_all(scenario, draws=draws + 5, seed=seed, start=start, threads=1)
    split = simulate_all(scenario, draws=5, seed=seed, start=start + draws, threads=2)
    head = simulate_all(scenario, draws=draws, seed=seed, start=start, threads=2)
    joined = xr.concat([head, split], dim="draw", data_vars="minimal", coords="minimal", compat="override")
    for name in ("npv", "bcr", "cumulative_value", "hours_released", "raid", "running_cost"):
        np.testing.assert_array_equal(joined[name].values, whole[name].values, err_msg=name)


def test_a_binding_cap_can_move_value_between_programmes():
    # A known property of the proportional cap, kept visible: when raids cut the IT strand
    # (whose staff-time value here all leaks to social care, and which saves no other cash), its
    # share of the capped staff time goes to strands that keep their value, so total value rises
    # although released hours do not.
    values = {f"staff_groups.{g}.max_release_share": 0.001 for g in BASE.staff_groups}
    values |= {
        "risks.social_care_leakage": 1.0,
        "risks.raid_fraction": 0.5,
        "programmes.it_modernisation.social_care_share": 1.0,
        "programmes.it_modernisation.raid_exposure": 1.0,
        "programmes.it_modernisation.non_staff_savings": 0.0,
    }
    for pid in ("staff_technology", "patient_services"):
        values |= {f"programmes.{pid}.social_care_share": 0.0, f"programmes.{pid}.raid_exposure": 0.0}
    scenario = BASE.with_values(values)
    calm = simulate_all(scenario.with_values({"risks.raid_probability": 0.0}), draws=500, seed=1)
    raided = simulate_all(scenario.with_values({"risks.raid_probability": 1.0}), draws=500, seed=1)
    assert (raided["hours_released"].sum("programme") <= calm["hours_released"].sum("programme") + 1e-6).all()
    assert (raided["cumulative_value"].isel(year=-1) > calm["cumulative_value"].isel(year=-1)).mean() > 0.9
