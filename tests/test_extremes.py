"""Large and degenerate but valid shapes run and give the right answer."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import xarray as xr

import nhsrisk
from nhsrisk.testing import assert_hours_within_cap, financial_years, synthetic_scenario
from tests._hardening import adds_work

# These tests read every output of the model, not only the headline ones a run keeps by default.
simulate_all = functools.partial(nhsrisk.simulate, keep="all")


def test_financial_years_cross_the_century():
    assert financial_years(2098, 3) == ["2098/99", "2099/00", "2100/01"]


@pytest.mark.parametrize(("programmes", "years"), [(1, 1), (1, 40), (64, 5), (64, 40)])
def test_large_shapes_run_and_keep_the_invariants(programmes, years):
    scenario = synthetic_scenario(programmes, years)
    ds = simulate_all(scenario, draws=300, seed=8)
    assert ds.sizes["programme"] == programmes and ds.sizes["year"] == years
    for name in ("npv", "bcr", "cumulative_value", "value", "hours_released", "running_cost"):
        assert np.isfinite(ds[name].values).all(), name
    # each base strand used is split evenly across its copies: its cash total is preserved (the
    # Dataset holds spend in real terms: cash times the deflator's factor of each year)
    strands = list(nhsrisk.load_scenario().programmes.values())[: min(programmes, 3)]
    expected = sum(strand.spend.total for strand in strands)
    real = xr.DataArray(scenario.real_terms_factors(), dims="year", coords={"year": ds["year"]})
    np.testing.assert_allclose((ds["planned_spend"] / real).sum().item(), expected, rtol=1e-12)
    assert (ds["cumulative_value"].diff("year").where(~adds_work(ds), 0.0) >= 0).all()
    # NPV: value less capital, running and dual-running cost, discounted on the Green Book schedule
    # (3.0% after year 30 in the 40-year shapes), plus residual value
    factor = xr.DataArray(scenario.discount_factors(years), dims="year", coords={"year": ds["year"]})
    costs = ds["spend"] + ds["running_cost"] + ds["dual_running_cost"]
    flows = ((ds["value"] - costs).sum("programme") * factor).sum("year")
    np.testing.assert_allclose(ds["npv"], flows + ds["pv_residual_value"], rtol=1e-12, atol=1e-3)


def test_sixty_four_programmes_share_the_staff_cap():
    # 64 programmes all claiming the same staff time: the cap must bind, and released
    # hours summed over programmes must never exceed the group's releasable time.
    scenario = synthetic_scenario(64, 8).with_values(
        {f"staff_groups.{g}.max_release_share": 0.01 for g in nhsrisk.load_scenario().staff_groups}
    )
    ds = simulate_all(scenario, draws=500, seed=2)
    assert ds["hours_capped"].any()
    assert_hours_within_cap(ds, scenario, rtol=1e-12)


def test_one_draw_equals_the_first_draw_of_many():
    one = simulate_all(draws=1, seed=5)
    many = simulate_all(draws=700, seed=5)
    for name in ("npv", "bcr", "cumulative_value", "hours_released", "risks.digital_exclusion"):
        np.testing.assert_array_equal(
            one[name].values, many[name].isel(draw=slice(0, 1)).values, err_msg=name
        )


def test_zero_budget_in_a_year_is_valid():
    base = nhsrisk.load_scenario()
    spend = list(base.programmes["it_modernisation"].spend.values)
    spend[1] = 0.0
    ds = simulate_all(base.with_values({"programmes.it_modernisation.spend": spend}), draws=200, seed=1)
    assert (ds["spend"].sel(programme="it_modernisation", year="2026/27") == 0).all()
    assert np.isfinite(ds["npv"]).all()


@pytest.mark.parametrize("n", [0, -1, 1.5])
def test_synthetic_scenario_rejects_bad_sizes(n):
    with pytest.raises((ValueError, TypeError), match="n_programmes"):
        synthetic_scenario(n, 5)


def test_the_cap_assertion_fails_when_hours_exceed_the_cap():
    ds = simulate_all(draws=50, seed=1)
    scenario = nhsrisk.load_scenario()
    assert_hours_within_cap(ds, scenario)
    over = ds.copy(deep=True)
    over["hours_released"][0, 0, 0, 0] = 1e12  # more GP hours than exist
    with pytest.raises(AssertionError, match="staff group 'gp' released"):
        assert_hours_within_cap(over, scenario)
