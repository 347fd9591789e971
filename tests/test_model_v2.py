"""Model v2 (issue 12, item 1): each fix checked against a hand computation, then as properties.

The hand-computed tests build tiny scenarios (one or two programmes, one staff
group, a few years) in which every input is fixed with ``{ value = ... }``, run
:func:`nhsrisk.simulate` on a few draws, and compare the outputs with numbers
worked out here with plain ``math`` from the v2 equations (docs/model.md,
``nhsrisk._kernels.evaluate_block``), to 1e-12 relative. Every draw of such a
run is the same, so every draw is checked.

The property tests generate variants of the default scenario (spend profiles,
uncertain inputs, a budget change in year k) and compare two runs with the same
seed (common random numbers): a change in year k leaves every earlier year
bitwise identical, and a cut never raises funding adequacy, uptake, hours or
value. The correlated inputs of the default (programmes' cost_overrun and
delivery_delay) are left as they are.
"""

from __future__ import annotations

import copy
import functools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nhsrisk
from nhsrisk.distributions import PERT, Fixed, Uniform
from nhsrisk.scenario import Scenario, _parse_scenario
from tests._hardening import adds_work

# These tests read every output of the model, not only the headline ones a run keeps by default.
simulate_all = functools.partial(nhsrisk.simulate, keep="all")

# a scenario with a population table has a long repr; hypothesis warns when it shows one
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

# ---------------------------------------------------------------------------------
# Tiny scenarios with every input fixed
# ---------------------------------------------------------------------------------

# Staff group "g": 1,000 FTE x 1,500 h at GBP 50 an hour, no cap unless a test sets one.
FTE, HOURS, COST = 1000.0, 1500.0, 50.0
# Programme "alpha": the programme every tiny scenario starts from.
ADDRESSABLE, RECOVERED = 0.1, 0.5  # hours at full additional uptake: 1000 x 1500 x 0.1 x 0.5 = 75,000
FULL_HOURS = 75_000.0
CEILING, CAPACITY = 0.8, 0.9
MIDPOINT, STEEPNESS = 1.0, 1.5
DM_CEILING, DM_MIDPOINT, DM_STEEPNESS = 0.1, 2.0, 1.0
USED, LEAKAGE, CARE_SHARE = 0.6, 0.5, 0.2
KEPT = 0.9  # 1 - social_care_share x social_care_leakage = 1 - 0.2 x 0.5
CASHED, SAVINGS = 0.25, 1.0e6
RUNNING, DECAY = 0.1, 0.2
EXCLUSION = 0.2
M = 1.0e6  # GBP 1m, so that spend reads in millions
DRAWS = 3  # every draw of a fixed scenario is the same; more than one checks that
RTOL = 1e-12


def fixed(value: float) -> dict:
    return {"value": float(value), "source": "assumption: fixed for a hand computation"}


def financial_years(first: int, n: int) -> list[str]:
    return [f"{y}/{(y + 1) % 100:02d}" for y in range(first, first + n)]


def tiny(n_year: int = 5, spend: tuple[float, ...] = (100 * M, 100 * M, 100 * M, 0.0, 0.0)) -> dict:
    """A one-programme, one-group scenario as a TOML-layout dict; deflator flat at 100 (cash = real)."""
    deflator_years = financial_years(2023, n_year + 2)
    programme = {
        "label": "Alpha",
        "spend": {"values": list(spend), "source": "assumption: test profile"},
        **{
            key: fixed(value)
            for key, value in {
                "raid_exposure": 1.0,
                "cost_overrun": 1.0,
                "black_swan": 0.0,
                "black_swan_overrun": 3.0,
                "delivery_delay": 0.0,
                "uptake_ceiling": CEILING,
                "uptake_midpoint": MIDPOINT,
                "uptake_steepness": STEEPNESS,
                "do_minimum_ceiling": DM_CEILING,
                "do_minimum_midpoint": DM_MIDPOINT,
                "do_minimum_steepness": DM_STEEPNESS,
                "support_years": 10.0,
                "benefit_decay": DECAY,
                "running_cost": RUNNING,
                "cashed_share": CASHED,
                "non_staff_savings": SAVINGS,
                "social_care_share": CARE_SHARE,
                "residual_life": 0.0,
            }.items()
        },
        "staff": {"g": {"addressable_share": fixed(ADDRESSABLE), "recovered_fraction": fixed(RECOVERED)}},
    }
    return {
        "schema_version": 2,
        "name": "tiny",
        "title": "Tiny scenario for hand computations",
        "description": "One programme, one staff group, every input fixed.",
        "years": financial_years(2025, n_year),
        "price_base": "2023/24",
        "deflator": {
            "years": deflator_years,
            "index": [100.0] * len(deflator_years),
            "source": "assumption: flat, so cash equals real",
        },
        "discount_rate": fixed(0.035),
        "long_term_discount_rate": fixed(0.03),
        "target": {"description": "test", "claimed_return": fixed(1.0e9)},
        "risks": {
            key: fixed(value)
            for key, value in {
                "raid_probability": 0.0,
                "raid_fraction": 0.5,
                "digital_exclusion": EXCLUSION,
                "staff_capacity": CAPACITY,
                "social_care_leakage": LEAKAGE,
                "funding_elasticity": 1.0,
                "released_time_used": USED,
            }.items()
        },
        "staff_groups": {
            "g": {
                "label": "Group",
                "fte": fixed(FTE),
                "hours_per_fte": fixed(HOURS),
                "cost_per_hour": fixed(COST),
                "max_release_share": fixed(1.0),
            }
        },
        "programmes": {"alpha": programme},
    }


def cut(data: dict, programme: str, year: str, amount: float) -> dict:
    """A copy of ``data`` with one more budget change (GBP cash, negative for a cut)."""
    data = copy.deepcopy(data)
    data.setdefault("budget_changes", []).append(
        {"programme": programme, "year": year, "amount": float(amount), "source": "assumption: test"}
    )
    return data


def run(data: dict, draws: int = DRAWS):
    return simulate_all(_parse_scenario(data, None), draws=draws, seed=0)


def S(z: float) -> float:
    """The logistic, as in the equations: 1 / (1 + exp(-z))."""
    return 1.0 / (1.0 + math.exp(-z))


def do_minimum(t: int) -> float:
    """Do-minimum uptake of the tiny programme at mid-year t + 0.5."""
    return DM_CEILING * S((t + 0.5 - DM_MIDPOINT) * DM_STEEPNESS)


def additional_share(u: float, u0: float) -> float:
    """Share of the systems in use that the investment adds: (u - u0) / u, 0 if u <= u0 (and 1 if u <= 0).

    Running costs count only that share: what the do-minimum would have run anyway costs nothing extra.
    """
    if u <= 0.0:
        return 1.0
    return (u - u0) / u if u > u0 else 0.0


def check(actual, expected) -> None:
    """Every draw of ``actual`` equals the hand value(s) ``expected`` to 1e-12 relative (0 exactly)."""
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    if actual.ndim > expected.ndim:  # draws last
        expected = np.broadcast_to(expected[..., None], actual.shape)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=0.0)


def bitwise_equal(a, b) -> bool:
    a, b = np.ascontiguousarray(a), np.ascontiguousarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def per_year_variables(ds) -> list[str]:
    return [name for name, var in ds.data_vars.items() if "year" in var.dims]


# ---------------------------------------------------------------------------------
# Timing: a year's benefit uses mid-year uptake
# ---------------------------------------------------------------------------------


def test_uptake_is_read_at_mid_year_not_on_the_first_day():
    data = tiny()
    data["programmes"]["alpha"]["delivery_delay"] = fixed(0.25)
    ds = run(data)
    uptake = ds["uptake"].values[:, 0, :]
    level_max = CEILING * CAPACITY * 1.0**1.0  # adequacy 1 every year (nothing cut)
    # t + 0.5 - midpoint - delay, e.g. year 0: (0.5 - 1 - 0.25) x 1.5 = -1.125
    mid_year = [level_max * S((t + 0.5 - MIDPOINT - 0.25) * STEEPNESS) for t in range(5)]
    check(uptake, mid_year)
    check(mid_year[0], 0.72 / (1.0 + math.exp(1.125)))  # written out once
    # ... and not the level on the first day of the year (v1), which is lower: by 0.8% even in year 4
    first_day = [level_max * S((t - MIDPOINT - 0.25) * STEEPNESS) for t in range(5)]
    for t in range(5):
        assert uptake[t, 0] > first_day[t] * 1.005
    # the do-minimum path is read at mid-year as well: additional = u - u0
    check(ds["additional_uptake"].values[:, 0, :], [mid_year[t] - do_minimum(t) for t in range(5)])
    # and a year's hours come from that year's mid-year additional uptake
    check(
        ds["hours_released"].values[:, 0, 0, :],
        [FTE * HOURS * ADDRESSABLE * RECOVERED * (mid_year[t] - do_minimum(t)) for t in range(5)],
    )


def test_only_uptake_beyond_the_do_minimum_counts():
    data = tiny()
    # the do-minimum path is already at 0.9 x S(5.5 + t) > 0.89: above 0.72 x S(..) in every year
    data["programmes"]["alpha"]["do_minimum_ceiling"] = fixed(0.9)
    data["programmes"]["alpha"]["do_minimum_midpoint"] = fixed(-5.0)
    ds = run(data)
    check(ds["uptake"].values[:, 0, :], [0.72 * S((t + 0.5 - MIDPOINT) * STEEPNESS) for t in range(5)])
    for name in ("additional_uptake", "value", "cash_releasing_value", "non_cash_releasing_value"):
        check(ds[name].values[:, 0, :], np.zeros(5))
    check(ds["hours_released"].values[:, 0, 0, :], np.zeros(5))
    # the systems would have run anyway, so they add no running cost; the capital is still spent
    check(ds["running_cost"].values[:, 0, :], np.zeros(5))
    spend = [100 * M, 100 * M, 100 * M, 0.0, 0.0]
    check(ds["net_benefit"].values[:, 0, :], [-spend[t] for t in range(5)])


# ---------------------------------------------------------------------------------
# Causality and per-year adequacy
# ---------------------------------------------------------------------------------


def test_a_cut_in_2027_28_lowers_adequacy_from_that_year_and_leaves_earlier_years_bitwise_identical():
    data = tiny()
    data["risks"]["funding_elasticity"] = fixed(0.5)
    base = run(data)
    after = run(cut(data, "alpha", "2027/28", -60 * M))
    # money received to date over money needed to date: years 0-1 100/100 and 200/200,
    # year 2 on (100 + 100 + 40) / 300 = 0.8
    check(after["funding_adequacy"].values[:, 0, :], [1.0, 1.0, 0.8, 0.8, 0.8])
    check(base["funding_adequacy"].values[:, 0, :], [1.0] * 5)
    # uptake from year 2 scales with adequacy ** elasticity = sqrt(0.8)
    expected = [
        0.72 * math.sqrt(0.8 if t >= 2 else 1.0) * S((t + 0.5 - MIDPOINT) * STEEPNESS) for t in range(5)
    ]
    check(after["uptake"].values[:, 0, :], expected)
    check(after["spend"].values[:, 0, :], [100 * M, 100 * M, 40 * M, 0.0, 0.0])
    # running costs follow the capital actually spent, 0.1 x (200 + 40 / 2) in year 2 and 0.1 x 240
    # after, times the additional share of the systems in use (u - u0) / u
    in_use = [220 * M, 240 * M, 240 * M]
    check(
        after["running_cost"].values[2:, 0, :],
        [RUNNING * in_use[t - 2] * additional_share(expected[t], do_minimum(t)) for t in (2, 3, 4)],
    )
    # every per-year output (and input) of 2025/26 and 2026/27 is bitwise identical
    for name in per_year_variables(base):
        assert bitwise_equal(base[name].values[:2], after[name].values[:2]), name
    # ... and the cut does bite from 2027/28 on
    for name in ("funding_adequacy", "uptake", "additional_uptake", "value", "cumulative_value"):
        assert (after[name].values[2:] < base[name].values[2:]).all(), name


def test_a_raid_in_2027_28_lowers_adequacy_from_that_year_and_leaves_earlier_years_bitwise_identical():
    # money only in 2027/28, so with raid_probability = 1 the only raid is in 2027/28
    data = tiny(spend=(0.0, 0.0, 100 * M, 0.0, 0.0))
    data["risks"]["raid_fraction"] = fixed(0.4)
    data["programmes"]["alpha"]["raid_exposure"] = fixed(0.5)
    calm = run(data)
    data["risks"]["raid_probability"] = fixed(1.0)
    raided = run(data)
    assert raided["raid"].values.tolist() == [[False] * DRAWS] * 2 + [[True] * DRAWS] + [[False] * DRAWS] * 2
    assert not calm["raid"].values.any()
    # the raid takes fraction x exposure = 0.4 x 0.5 = 20% of the year's money: 80 of 100
    check(raided["spend"].values[:, 0, :], [0.0, 0.0, 80 * M, 0.0, 0.0])
    check(raided["funding_adequacy"].values[:, 0, :], [1.0, 1.0, 0.8, 0.8, 0.8])
    for name in per_year_variables(calm):
        assert bitwise_equal(calm[name].values[:2], raided[name].values[:2]), name
    assert (raided["uptake"].values[2:] < calm["uptake"].values[2:]).all()


# ---------------------------------------------------------------------------------
# No credit for underruns against cuts
# ---------------------------------------------------------------------------------


def test_an_underrun_does_not_absorb_a_cut():
    data = tiny()
    data["programmes"]["alpha"]["cost_overrun"] = fixed(0.8)
    # cheaper than planned and nothing cut: adequacy 1 (the underrun is banked, not > 1)
    check(run(data)["funding_adequacy"].values[:, 0, :], [1.0] * 5)
    # a 60 cut in 2027/28: need = max(1, 0.8) x 300 = 300, received 240, adequacy 0.8 = the cut ratio.
    # Had the underrun been set against the cut, need = 0.8 x 300 = 240 and adequacy would be 1.
    after = run(cut(data, "alpha", "2027/28", -60 * M))
    check(after["funding_adequacy"].values[:, 0, :], [1.0, 1.0, 240 / 300, 240 / 300, 240 / 300])
    check(after["uptake"].values[2, 0, :], 0.72 * 0.8 * S(1.5 * STEEPNESS))


def test_an_overrun_raises_the_money_needed_and_a_black_swan_replaces_the_body_overrun():
    data = cut(tiny(), "alpha", "2027/28", -60 * M)
    data["programmes"]["alpha"]["cost_overrun"] = fixed(1.25)
    # need = 1.25 x planned to date: 100/125, 200/250, 240/375 = 0.64
    check(run(data)["funding_adequacy"].values[:, 0, :], [0.8, 0.8, 0.64, 0.64, 0.64])
    data["programmes"]["alpha"]["black_swan"] = fixed(1.0)
    data["programmes"]["alpha"]["black_swan_overrun"] = fixed(2.0)
    # o = black_swan_overrun = 2: 100/200, 200/400, 240/600
    check(run(data)["funding_adequacy"].values[:, 0, :], [0.5, 0.5, 0.4, 0.4, 0.4])


# ---------------------------------------------------------------------------------
# Budget changes propagate; editing spend is a different question
# ---------------------------------------------------------------------------------


def test_a_budget_change_lowers_value_while_editing_spend_down_does_not():
    announced = tiny()
    base = run(announced)
    changed = run(cut(announced, "alpha", "2027/28", -60 * M))
    edited_data = tiny(spend=(100 * M, 100 * M, 40 * M, 0.0, 0.0))
    edited = run(edited_data)
    # the same money is spent in both ...
    check(changed["spend"].values[:, 0, :], [100 * M, 100 * M, 40 * M, 0.0, 0.0])
    assert bitwise_equal(changed["spend"].values, edited["spend"].values)
    # ... but a budget change is measured against the announced plan: adequacy 240/300
    check(changed["funding_adequacy"].values[:, 0, :], [1.0, 1.0, 0.8, 0.8, 0.8])
    # while an edited plan is fully funded, with the uptake and value of the announced plan
    check(edited["funding_adequacy"].values[:, 0, :], [1.0] * 5)
    for name in ("uptake", "additional_uptake", "hours_released", "value", "cumulative_value"):
        assert bitwise_equal(edited[name].values, base[name].values), name

    def value(t: int, adequacy: float) -> float:
        a = 0.72 * adequacy * S((t + 0.5 - MIDPOINT) * STEEPNESS) - do_minimum(t)
        hours = FULL_HOURS * a
        return hours * COST * USED * KEPT + SAVINGS * a  # time cashed + redeployed, plus savings

    check(base["value"].values[:, 0, :], [value(t, 1.0) for t in range(5)])
    check(changed["value"].values[:, 0, :], [value(t, 1.0 if t < 2 else 0.8) for t in range(5)])
    # year 2 by hand: a = 0.72 x 0.8 x S(2.25) - 0.1 x S(0.5)
    a2 = 0.576 / (1 + math.exp(-2.25)) - 0.1 / (1 + math.exp(-0.5))
    check(changed["value"].values[2, 0, :], a2 * (75_000 * 50 * 0.6 * 0.9 + 1.0e6))
    # editing spend down lowers the present value of capital by 60m x 1.035^-2 and of running costs
    # by 0.1 x (30m in year 2, 60m in years 3 and 4) x the additional share of the systems in use
    u = [0.72 * S((t + 0.5 - MIDPOINT) * STEEPNESS) for t in range(5)]
    saved = 60 * M / 1.035**2 + RUNNING * sum(
        less * additional_share(u[t], do_minimum(t)) / 1.035**t
        for t, less in ((2, 30 * M), (3, 60 * M), (4, 60 * M))
    )
    check(base["pv_costs"].values - edited["pv_costs"].values, saved)
    assert (edited["npv"].values > base["npv"].values).all()
    # the budget change spends the same capital as the edit but delivers less: benefits fall
    # (running costs fall a little too, as fewer systems run beyond the do-minimum)
    assert bitwise_equal(changed["pv_capital_cost"].values, edited["pv_capital_cost"].values)
    assert (changed["pv_benefits"].values < edited["pv_benefits"].values).all()
    assert bitwise_equal(edited["pv_benefits"].values, base["pv_benefits"].values)
    assert (changed["cumulative_value"].values[-1] < base["cumulative_value"].values[-1]).all()


# ---------------------------------------------------------------------------------
# Cash-releasing value from its own lines
# ---------------------------------------------------------------------------------


def test_value_splits_into_cashed_redeployed_and_patient_lines():
    data = tiny()
    data["programmes"]["alpha"]["patients"] = {
        "contacts_per_year": fixed(1.0e6),
        "value_per_contact": fixed(2.0),
    }
    ds = run(data)
    for t in range(5):
        a = 0.72 * S((t + 0.5 - MIDPOINT) * STEEPNESS) - do_minimum(t)
        hours = 1000 * 1500 * 0.1 * 0.5 * a
        time_value = hours * 50 * 0.6 * (1 - 0.2 * 0.5)  # x cost x used x kept
        cash = time_value * 0.25 + 1.0e6 * a  # cashed time + non-staff savings
        redeployed = time_value * (1 - 0.25)
        patient = 1.0e6 * (1 - 0.2) * a * 2.0 * (1 - 0.2 * 0.5)  # contacts x included x a x value x kept
        check(ds["hours_released"].values[t, 0, 0, :], hours)
        check(ds["cash_releasing_value"].values[t, 0, :], cash)
        check(ds["non_cash_releasing_value"].values[t, 0, :], redeployed)
        check(ds["patient_value"].values[t, 0, :], patient)
        check(ds["value"].values[t, 0, :], cash + redeployed + patient)


def test_cash_is_not_a_share_of_redeployed_value():
    data = tiny()
    data["programmes"]["alpha"]["cashed_share"] = fixed(0.0)
    ds = run(data)
    a = np.array([0.72 * S((t + 0.5 - MIDPOINT) * STEEPNESS) - do_minimum(t) for t in range(5)])
    # nothing cashed: the cash line is the non-staff savings alone, all the used time is redeployed
    check(ds["cash_releasing_value"].values[:, 0, :], 1.0e6 * a)
    check(ds["non_cash_releasing_value"].values[:, 0, :], 75_000 * a * 50 * 0.6 * 0.9)
    data["programmes"]["alpha"]["non_staff_savings"] = fixed(0.0)
    check(run(data)["cash_releasing_value"].values[:, 0, :], np.zeros(5))
    # all of it cashed: no redeployed value, and cash is the whole used time plus savings
    data["programmes"]["alpha"]["cashed_share"] = fixed(1.0)
    data["programmes"]["alpha"]["non_staff_savings"] = fixed(2.0e6)
    ds = run(data)
    check(ds["non_cash_releasing_value"].values[:, 0, :], np.zeros(5))
    check(ds["cash_releasing_value"].values[:, 0, :], 75_000 * a * 50 * 0.6 * 0.9 + 2.0e6 * a)


def test_an_inclusion_programme_lowers_exclusion_as_it_spreads():
    data = tiny()
    data["programmes"]["alpha"]["patients"] = {
        "contacts_per_year": fixed(1.0e6),
        "value_per_contact": fixed(2.0),
    }
    data["programmes"]["alpha"]["inclusion"] = {"excluded_share_reached": fixed(0.5)}
    ds = run(data)
    for t in range(5):
        a = 0.72 * S((t + 0.5 - MIDPOINT) * STEEPNESS) - do_minimum(t)
        excluded = 0.2 * (1 - 0.5 * a)  # x_t = x (1 - reached x a)
        check(ds["patient_value"].values[t, 0, :], 1.0e6 * (1 - excluded) * a * 2.0 * 0.9)


def test_the_staff_group_cap_scales_hours_pro_rata():
    data = tiny()
    beta = copy.deepcopy(data["programmes"]["alpha"])
    beta["staff"]["g"]["addressable_share"] = fixed(0.2)  # 150,000 h at full additional uptake
    data["programmes"]["beta"] = beta
    data["staff_groups"]["g"]["max_release_share"] = fixed(0.05)  # at most 75,000 h a year
    ds = run(data)
    for t in range(5):
        a = 0.72 * S((t + 0.5 - MIDPOINT) * STEEPNESS) - do_minimum(t)
        total = 75_000 * a + 150_000 * a
        scale = min(1.0, 75_000 / total)
        check(ds["hours_released"].values[t, :, 0, :], [75_000 * a * scale, 150_000 * a * scale])
        assert bool(ds["hours_capped"].values[t, 0, 0]) == (total > 75_000)
    # year 0: 225,000 x a = 225,000 x (0.72 S(-0.75) - 0.1 S(-1.5)) = about 47,900 h, under the cap
    assert ds["hours_capped"].values[:, 0, 0].tolist() == [False, True, True, True, True]


def test_under_a_binding_cap_a_cut_frees_hours_for_the_other_programmes():
    """The one documented way a cut can raise total value (docs/model.md, staff-time cap).

    A binding staff-group cap is shared out pro rata, so the hours a cut frees go to the
    other programmes; when their kept share (1 - social_care_share x leakage) is higher,
    total value rises even though the cut programme's own value, total hours and adequacy
    fall. Without a binding cap this cannot happen (the property tests check that).
    """
    data = tiny()
    data["programmes"]["alpha"]["social_care_share"] = fixed(1.0)  # kept 1 - 1 x 0.5 = 0.5
    data["programmes"]["alpha"]["non_staff_savings"] = fixed(0.0)
    beta = copy.deepcopy(data["programmes"]["alpha"])
    beta["social_care_share"] = fixed(0.0)  # kept 1
    data["programmes"]["beta"] = beta
    data["staff_groups"]["g"]["max_release_share"] = fixed(0.05)  # binds from 2026/27
    base = run(data)
    after = run(cut(data, "alpha", "2027/28", -60 * M))
    assert base["hours_capped"].values[2:].all()
    # alpha's own value falls, as it must
    assert (after["value"].values[2:, 0] < base["value"].values[2:, 0]).all()
    # total hours never rise (the cap is still full) ...
    hours = base["hours_released"].values.sum(axis=(1, 2))
    assert (after["hours_released"].values.sum(axis=(1, 2)) <= hours * (1 + 1e-12)).all()
    # ... but they move to beta, whose value is not halved by leakage, so total value rises
    assert (after["value"].values[2:, 1] > base["value"].values[2:, 1]).all()
    assert (after["value"].values[2:].sum(axis=1) > base["value"].values[2:].sum(axis=1)).all()


# ---------------------------------------------------------------------------------
# Decay and running costs
# ---------------------------------------------------------------------------------


def test_benefits_fade_from_the_reached_level_after_support_ends_and_running_costs_stop():
    data = tiny(spend=(100 * M, 100 * M, 0.0, 0.0, 0.0))
    # last planned year 1, support floor(1.7) = 1 more year: supported in years 0-2, end = 3
    data["programmes"]["alpha"]["support_years"] = fixed(1.7)
    ds = run(data)
    level_max = 0.72
    reached = level_max * S((3 - MIDPOINT) * STEEPNESS)  # at the end of support, t = 3
    expected = [level_max * S((t + 0.5 - MIDPOINT) * STEEPNESS) for t in range(3)] + [
        reached * (1 - 0.2) ** 0.5,  # half a year after support ended
        reached * (1 - 0.2) ** 1.5,
    ]
    check(ds["uptake"].values[:, 0, :], expected)
    # the decay starts from what was reached, not from the ceiling (0.72 x 0.8 ** 0.5)
    assert ds["uptake"].values[3, 0, 0] < level_max * 0.8**0.5 * 0.97
    # no decay while supported: year 2 is still on the S-curve, above year 1
    assert ds["uptake"].values[2, 0, 0] > ds["uptake"].values[1, 0, 0]
    # running cost 0.1 x (capital before the year + half the year's) x (u - u0) / u: 0.1 x 50, 0.1 x 150,
    # 0.1 x 200 (each times the additional share), then nothing once support has ended
    in_use = [50 * M, 150 * M, 200 * M]
    check(
        ds["running_cost"].values[:, 0, :],
        [RUNNING * in_use[t] * additional_share(expected[t], do_minimum(t)) for t in range(3)] + [0.0, 0.0],
    )
    check(
        ds["additional_uptake"].values[:, 0, :],
        [max(0.0, expected[t] - do_minimum(t)) for t in range(5)],
    )


# ---------------------------------------------------------------------------------
# One price base
# ---------------------------------------------------------------------------------


def test_cash_spend_and_budget_changes_are_deflated_to_the_price_base():
    data = tiny(spend=(100 * M, 120 * M, 0.0, 0.0, 0.0))
    # 2023/24 (price base) 100; 2025/26 110; 2026/27 120
    data["deflator"]["index"] = [100.0, 105.0, 110.0, 120.0, 125.0, 130.0, 135.0]
    ds = run(data)
    check(ds["spend"].values[:, 0, :], [100 * M * 100 / 110, 120 * M * 100 / 120, 0.0, 0.0, 0.0])
    check(ds["spend"].values[0, 0, 0], 90_909_090.909090909)  # 100m cash at index 110 is 90.909m real
    check(ds["planned_spend"].values[:, 0], [100 * M / 1.1, 100 * M, 0.0, 0.0, 0.0])
    check(ds["pv_capital_cost"].values, 100 * M / 1.1 + 100 * M / 1.035)
    # a 60m cash cut in 2026/27 is 50m real: adequacy (90.909 + 50) / (90.909 + 100), not (100 + 60) / 220
    after = run(cut(data, "alpha", "2026/27", -60 * M))
    check(after["budget_change"].values[:, 0], [0.0, -50 * M, 0.0, 0.0, 0.0])
    real_first = 100 * M / 1.1
    check(after["funding_adequacy"].values[1, 0, :], (real_first + 50 * M) / (real_first + 100 * M))
    assert abs(after["funding_adequacy"].values[1, 0, 0] - 160 / 220) > 1e-3
    # benefits are valued at price-base unit costs: the deflator does not touch them
    assert bitwise_equal(
        ds["value"].values, run(tiny(spend=(100 * M, 120 * M, 0.0, 0.0, 0.0)))["value"].values
    )


# ---------------------------------------------------------------------------------
# Appraisal: Green Book discounting and residual value
# ---------------------------------------------------------------------------------


def discount(t: int) -> float:
    """Green Book factor: 3.5% a year to year 30, 3.0% after."""
    return 1.035**-t if t <= 30 else 1.035**-30 * 1.03 ** -(t - 30)


def test_discounting_uses_the_long_term_rate_after_year_30():
    n = 32
    spend = [0.0] * n
    spend[0] = spend[30] = spend[31] = 100 * M
    data = tiny(n_year=n, spend=tuple(spend))
    ds = run(data)
    check(ds["pv_capital_cost"].values, 100 * M * (1 + 1.035**-30 + 1.035**-30 / 1.03))
    # not 3.5% in year 31: 100m x (1.035^-30 / 1.03 - 1.035^-31) is about GBP 167,000
    assert abs(ds["pv_capital_cost"].values[0] - 100 * M * (1 + 1.035**-30 + 1.035**-31)) > 1e5
    # present values of the running cost and of each kind of benefit, year by year
    capital = 0.0
    pv_running = pv_cash = pv_redeployed = 0.0
    for t in range(n):
        u = 0.72 * S((t + 0.5 - MIDPOINT) * STEEPNESS)  # supported to the end (last year 31 + 1 + 10)
        a = max(0.0, u - do_minimum(t))
        running = RUNNING * (capital + 0.5 * spend[t]) * additional_share(u, do_minimum(t))
        capital += spend[t]
        time_value = FULL_HOURS * a * COST * USED * KEPT
        pv_running += running * discount(t)
        pv_cash += (time_value * CASHED + SAVINGS * a) * discount(t)
        pv_redeployed += time_value * (1 - CASHED) * discount(t)
    check(ds["pv_running_cost"].values, pv_running)
    check(ds["pv_cash_releasing"].values, pv_cash)
    check(ds["pv_non_cash_releasing"].values, pv_redeployed)
    check(ds["pv_patient"].values, 0.0)


def test_residual_value_npv_and_bcr_by_hand():
    data = tiny()
    data["programmes"]["alpha"]["running_cost"] = fixed(0.001)
    data["programmes"]["alpha"]["residual_life"] = fixed(3.0)
    beta = copy.deepcopy(data["programmes"]["alpha"])
    beta["running_cost"] = fixed(0.1)  # about 26m a year by 2029/30: more than its value, so no residual
    beta["residual_life"] = fixed(2.0)
    data["programmes"]["beta"] = beta
    ds = run(data)
    spend = [100 * M, 100 * M, 100 * M, 0.0, 0.0]
    shares = {"alpha": 0.001, "beta": 0.1}
    u = [0.72 * S((t + 0.5 - MIDPOINT) * STEEPNESS) for t in range(5)]
    a = [u[t] - do_minimum(t) for t in range(5)]
    value = [FULL_HOURS * a[t] * COST * USED * KEPT + SAVINGS * a[t] for t in range(5)]
    pv_benefits = pv_costs = 0.0
    cumulative = 0.0
    for p, share in enumerate(shares.values()):
        capital = 0.0
        for t in range(5):
            running = share * (capital + 0.5 * spend[t]) * a[t] / u[t]  # additional share (u - u0) / u
            capital += spend[t]
            check(ds["running_cost"].values[t, p, :], running)
            check(ds["net_benefit"].values[t, p, :], value[t] - spend[t] - running)
            pv_benefits += value[t] * 1.035**-t
            pv_costs += (spend[t] + running) * 1.035**-t
    for t in range(5):
        cumulative += 2 * value[t]
        check(ds["cumulative_value"].values[t], cumulative)
    # residual: alpha's 2029/30 net flow (value - 0.001 x 300m x a / u) for 3 more years, discounted as
    # years 5-7; beta's net flow is negative (value - 0.1 x 300m x a / u), so it adds nothing
    alpha_flow = value[4] - 0.001 * 300 * M * a[4] / u[4]
    assert alpha_flow > 0 and value[4] - 0.1 * 300 * M * a[4] / u[4] < 0
    residual = alpha_flow * (1.035**-5 + 1.035**-6 + 1.035**-7)
    check(ds["pv_residual_value"].values, residual)
    check(ds["pv_benefits"].values, pv_benefits + residual)
    check(ds["pv_costs"].values, pv_costs)
    check(ds["npv"].values, pv_benefits + residual - pv_costs)
    check(ds["bcr"].values, (pv_benefits + residual) / pv_costs)


# ---------------------------------------------------------------------------------
# Properties over generated scenarios, with common random numbers
# ---------------------------------------------------------------------------------

BASE = nhsrisk.load_scenario()
PROGRAMMES = tuple(BASE.programmes)
YEARS = BASE.years
N_YEAR = len(YEARS)
PROPERTY_DRAWS = 64
SEED = 2024
# Both tiers explore: every run draws fresh examples, a bounded number of them (about 6 s a test in
# the fast tier: generating one scenario takes up to 2 s); a failure prints the blob that replays it
# (@reproduce_failure).
_COMMON = {
    "deadline": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}
FAST = settings(max_examples=10, **_COMMON)
FULL = settings(max_examples=200, **_COMMON)
# Quantities a cut must never raise, and their comparison: exact for per-cell quantities
# (IEEE rounding is monotone), 1e-12 for sums of hours scaled down pro rata by a staff-group cap.
SUM_RTOL = 1e-12


@st.composite
def unit_quantity(draw):
    """A fixed value, a uniform or a PERT inside [0, 1]."""
    kind = draw(st.sampled_from(["fixed", "uniform", "pert"]))
    lo = draw(st.floats(0.0, 1.0))
    hi = draw(st.floats(0.0, 1.0))
    lo, hi = min(lo, hi), max(lo, hi)
    if kind == "fixed" or hi - lo < 1e-6:
        return Fixed(lo)
    if kind == "uniform":
        return Uniform(lo, hi)
    return PERT(lo, draw(st.floats(lo, hi)), hi)


@st.composite
def elasticity(draw):
    """Zero, or at least 0.1: a tiny positive elasticity would hide a cut in rounding."""
    if draw(st.booleans()):
        return Fixed(draw(st.sampled_from([0.0, 0.1, 1.0, 2.5])))
    lo = draw(st.floats(0.1, 3.0))
    hi = draw(st.floats(lo, 3.0))
    return Fixed(lo) if hi - lo < 1e-6 else PERT(lo, draw(st.floats(lo, hi)), hi)


amount = st.one_of(st.just(0.0), st.floats(1.0e6, 1.0e9))


@st.composite
def variants(draw):
    """The default scenario with new spend profiles and uncertain inputs (correlated inputs untouched)."""
    values = {
        "risks.raid_probability": draw(unit_quantity()),
        "risks.raid_fraction": draw(unit_quantity()),
        "risks.staff_capacity": draw(unit_quantity()),
        "risks.digital_exclusion": draw(unit_quantity()),
        "risks.released_time_used": draw(unit_quantity()),
        "risks.funding_elasticity": draw(elasticity()),
    }
    for pid in PROGRAMMES:
        prefix = f"programmes.{pid}"
        profile = draw(st.lists(amount, min_size=N_YEAR, max_size=N_YEAR))
        if not any(profile):
            profile[draw(st.integers(0, N_YEAR - 1))] = 1.0e8
        values[f"{prefix}.spend"] = profile
        values[f"{prefix}.raid_exposure"] = draw(unit_quantity())
        values[f"{prefix}.uptake_ceiling"] = draw(unit_quantity())
        values[f"{prefix}.uptake_midpoint"] = draw(st.floats(-2.0, 8.0))
        values[f"{prefix}.uptake_steepness"] = draw(st.floats(0.1, 5.0))
        values[f"{prefix}.do_minimum_ceiling"] = draw(unit_quantity())
        values[f"{prefix}.support_years"] = draw(st.floats(0.0, 10.0))
        values[f"{prefix}.benefit_decay"] = draw(unit_quantity())
        values[f"{prefix}.running_cost"] = draw(st.floats(0.0, 0.5))
        values[f"{prefix}.cashed_share"] = draw(unit_quantity())
        values[f"{prefix}.residual_life"] = float(draw(st.integers(0, 5)))
    for gid in BASE.staff_groups:
        # small shares make the staff-group cap bind
        values[f"staff_groups.{gid}.max_release_share"] = draw(unit_quantity())
    return BASE.with_values(values)


def with_change(scenario: Scenario, programme: str, year: str, change: float) -> Scenario:
    data = scenario.to_dict()
    data["budget_changes"] = [
        {"programme": programme, "year": year, "amount": change, "source": "assumption: generated"}
    ]
    return _parse_scenario(data, None)


@st.composite
def changed(draw, *, cut_only: bool):
    """(scenario, programme, year index k >= 1, scenario with a budget change in year k)."""
    scenario = draw(variants())
    pid = draw(st.sampled_from(PROGRAMMES))
    k = draw(st.integers(1, N_YEAR - 1))
    planned = scenario.programmes[pid].spend.values
    if cut_only:
        if planned[k] == 0.0:  # a cut needs money to cut
            values = list(planned)
            values[k] = draw(st.floats(1.0e6, 1.0e9))
            scenario = scenario.with_values({f"programmes.{pid}.spend": values})
            planned = scenario.programmes[pid].spend.values
        change = -draw(st.floats(0.05, 1.0)) * planned[k]
    else:
        low = -planned[k]
        change = draw(st.one_of(st.floats(low, 0.0), st.floats(0.0, 1.0e9)))
    return scenario, pid, k, with_change(scenario, pid, YEARS[k], change)


def assert_causal(case) -> None:
    scenario, _, k, after = case
    a = simulate_all(scenario, draws=PROPERTY_DRAWS, seed=SEED)
    b = simulate_all(after, draws=PROPERTY_DRAWS, seed=SEED)
    checked = 0
    for name, var in a.data_vars.items():
        if "year" in var.dims:
            assert var.dims[0] == "year", name
            assert bitwise_equal(var.values[:k], b[name].values[:k]), (name, k)
            checked += 1
        elif var.attrs.get("sampled_input"):
            assert bitwise_equal(var.values, b[name].values), name
    assert checked >= 15  # every per-year output, the per-year inputs, planned spend and changes


@given(changed(cut_only=False))
@FAST
def test_a_budget_change_in_year_k_leaves_earlier_years_bitwise_identical(case):
    assert_causal(case)


@pytest.mark.slow
@given(changed(cut_only=False))
@FULL
def test_a_budget_change_in_year_k_leaves_earlier_years_bitwise_identical_full(case):
    assert_causal(case)


def assert_never_raised(base, lower, bite) -> None:
    """``lower`` (a cut or raided run) never raises what ``base`` delivers; adequacy falls where it bites.

    ``bite[t, p, draw]`` marks cells where money received to date is lower in ``lower``.
    """
    for name in ("funding_adequacy", "uptake", "additional_uptake"):
        assert (lower[name].values <= base[name].values).all(), name
    assert (lower["funding_adequacy"].values[bite] < base["funding_adequacy"].values[bite]).all()
    hours_base = base["hours_released"].values.sum(axis=(1, 2))
    hours_lower = lower["hours_released"].values.sum(axis=(1, 2))
    assert (hours_lower <= hours_base * (1 + SUM_RTOL)).all()
    # Value summed over programmes cannot rise where no staff-group cap binds. Where one binds,
    # the hours a cut frees under the cap go pro rata to the other programmes, whose kept share
    # (1 - social_care_share x leakage) may be higher: then only each cut programme's value is bounded.
    # Nor where moving a contact online adds more work than it saves (issue 15: induced demand
    # above the time saved), since less uptake then lowers that loss.
    value_base = base["value"].values.sum(axis=1)
    value_lower = lower["value"].values.sum(axis=1)
    uncapped = ~base["hours_capped"].values.any(axis=1) & ~adds_work(base).values[None, :]
    assert (value_lower[uncapped] <= value_base[uncapped]).all()


def received_lower(base, lower) -> np.ndarray:
    """Cells (year, programme, draw) where capital received to date is lower by more than rounding."""
    taken = np.cumsum(base["spend"].values - lower["spend"].values, axis=0)
    planned = np.cumsum(base["planned_spend"].values, axis=0)[..., None]
    return taken > 1e-9 * planned


def assert_cut_propagates(case) -> None:
    scenario, pid, k, after = case
    p = PROGRAMMES.index(pid)
    a = simulate_all(scenario, draws=PROPERTY_DRAWS, seed=SEED)
    b = simulate_all(after, draws=PROPERTY_DRAWS, seed=SEED)
    bite = received_lower(a, b)
    assert not bite[:k].any()
    assert_never_raised(a, b, bite)
    # the cut programme's own value never rises, whatever the caps (to rounding: a programme alone
    # under a binding cap gets hours x (cap / hours), the cap to within an ulp, in both runs)
    saves = ~adds_work(a).values
    assert (b["value"].values[:, p][:, saves] <= a["value"].values[:, p][:, saves] * (1 + SUM_RTOL)).all()
    # other programmes' funding and uptake are untouched
    others = [q for q in range(len(PROGRAMMES)) if q != p]
    for name in ("spend", "funding_adequacy", "uptake", "additional_uptake"):
        assert bitwise_equal(a[name].values[:, others], b[name].values[:, others]), name
    # a cut bites unless raids had already taken all of that year's money
    # (the cut takes at least 5% of what the raids left of year k's money)
    spend_k = a["spend"].values[k, p]
    assert bite[k, p][spend_k > 1e-7 * a["planned_spend"].values[: k + 1, p].sum()].all()
    # where it bites, uptake in year k falls too, if it responds to funding and is a normal number
    # (a subnormal uptake such as 5e-324, from a generated ceiling that small, times a factor near 1
    # rounds back to itself: exploration found one)
    elastic = scenario.risks.funding_elasticity.distribution
    if not (elastic.is_fixed and elastic.mean() == 0.0):
        responds = bite[k, p] & (a["uptake"].values[k, p] >= np.finfo(float).tiny)
        assert (b["uptake"].values[k, p][responds] < a["uptake"].values[k, p][responds]).all()


@given(changed(cut_only=True))
@FAST
def test_a_cut_never_raises_adequacy_uptake_hours_or_value(case):
    assert_cut_propagates(case)


@pytest.mark.slow
@given(changed(cut_only=True))
@FULL
def test_a_cut_never_raises_adequacy_uptake_hours_or_value_full(case):
    assert_cut_propagates(case)


def assert_raids_lower(scenario: Scenario) -> None:
    calm = simulate_all(
        scenario.with_values({"risks.raid_probability": 0.0}), draws=PROPERTY_DRAWS, seed=SEED
    )
    raided = simulate_all(
        scenario.with_values({"risks.raid_probability": 1.0}), draws=PROPERTY_DRAWS, seed=SEED
    )
    assert not calm["raid"].values.any()
    funded = (raided["planned_spend"].values + raided["budget_change"].values).sum(axis=1) > 0
    assert (raided["raid"].values == funded[:, None]).all()  # every year with money is raided
    bite = received_lower(calm, raided)
    assert_never_raised(calm, raided, bite)


@given(variants())
@FAST
def test_raids_never_raise_adequacy(scenario):
    assert_raids_lower(scenario)


@pytest.mark.slow
@given(variants())
@FULL
def test_raids_never_raise_adequacy_full(scenario):
    assert_raids_lower(scenario)


def assert_raid_from_k_is_causal(scenario: Scenario, k: int) -> None:
    # no money before year k in any programme: with raid_probability = 1 the first raid is in year k
    values: dict[str, object] = {}
    for pid, programme in scenario.programmes.items():
        profile = list(programme.spend.values)
        profile[:k] = [0.0] * k
        if not any(profile):
            profile[k] = 1.0e8
        values[f"programmes.{pid}.spend"] = profile
    scenario = scenario.with_values(values)
    calm = simulate_all(
        scenario.with_values({"risks.raid_probability": 0.0}), draws=PROPERTY_DRAWS, seed=SEED
    )
    raided = simulate_all(
        scenario.with_values({"risks.raid_probability": 1.0}), draws=PROPERTY_DRAWS, seed=SEED
    )
    assert not raided["raid"].values[:k].any() and raided["raid"].values.any()
    for name in per_year_variables(calm):
        assert bitwise_equal(calm[name].values[:k], raided[name].values[:k]), (name, k)


@given(variants(), st.integers(1, N_YEAR - 1))
@FAST
def test_a_raid_first_in_year_k_leaves_earlier_years_bitwise_identical(scenario, k):
    assert_raid_from_k_is_causal(scenario, k)
