"""The waterfall: gross potential, haircuts, planned, Shapley risk steps, realised.

References are direct :func:`nhsrisk.simulate` runs of scenarios built with
:meth:`Scenario.with_values` (key paths written out here, not taken from the
module under test), and a brute-force Shapley value computed over every order of
the players rather than over subsets.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import nhsrisk
from nhsrisk import experiments
from nhsrisk._engine import run as _run
from nhsrisk._plan import build_plan
from nhsrisk.experiments import (
    WATERFALL_HAIRCUTS,
    WATERFALL_STEPS,
    switched_off,
    waterfall,
    waterfall_groups,
)
from nhsrisk.scenario import Scenario, dumps_toml

BASE = nhsrisk.load_scenario()
INDEPENDENT = BASE.without_correlations()
DRAWS = 2_000
SEED = 11
ONE_THREAD = 1
PROGRAMMES = list(BASE.programmes)
#: Risk groups switched off by hand, key path by key path (the test's own reading of the brief).
OFF = {
    "budget raids": {"risks.raid_probability": 0.0},
    "cost overrun": {
        **{f"programmes.{p}.cost_overrun": 1.0 for p in PROGRAMMES},
        **{f"programmes.{p}.black_swan": 0.0 for p in PROGRAMMES},
    },
    "delivery delay": {f"programmes.{p}.delivery_delay": 0.0 for p in PROGRAMMES},
    "staff capacity": {"risks.staff_capacity": 1.0},
    "digital exclusion": {"risks.digital_exclusion": 0.0},
    "social-care leakage": {"risks.social_care_leakage": 0.0},
    "running costs not found": {f"programmes.{p}.support_years": float(len(BASE.years)) for p in PROGRAMMES},
}
HAIRCUTS_OFF = {
    "partial recovery": {
        f"programmes.{p}.staff.{g}.recovered_fraction": 1.0
        for p, programme in BASE.programmes.items()
        for g in programme.staff
    },
    "time not put to use": {"risks.released_time_used": 1.0},
    "do-minimum counterfactual": {f"programmes.{p}.do_minimum_ceiling": 0.0 for p in PROGRAMMES},
}
#: Three interacting groups for the brute-force checks (all act through uptake).
TOY_GROUPS = ["cost overrun", "delivery delay", "staff capacity"]


def target_mean(scenario: Scenario, output: str = "cumulative_value", statistic=np.mean) -> float:
    ds = nhsrisk.simulate(scenario, draws=DRAWS, seed=SEED, threads=ONE_THREAD)
    values = ds[output]
    if "year" in values.dims:
        values = values.sel(year=scenario.target_year)
    return float(statistic(values.values))


def off_values(names) -> dict[str, float]:
    values: dict[str, float] = {}
    for name in names:
        values.update(OFF.get(name) or HAIRCUTS_OFF[name])
    return values


def risk_steps(w):
    return w["change"].where(w["kind"] == "risk", drop=True)


def haircut_steps(w):
    return w["change"].where(w["kind"] == "haircut", drop=True)


@pytest.fixture(scope="module")
def bridge():
    return waterfall(BASE, draws=DRAWS, seed=SEED, threads=ONE_THREAD)


@pytest.fixture(scope="module")
def toy():
    return waterfall(INDEPENDENT, draws=DRAWS, seed=SEED, groups=TOY_GROUPS, threads=ONE_THREAD)


# -- structure and levels -------------------------------------------------------------------------


def test_steps_run_from_gross_potential_through_planned_to_realised(bridge):
    groups = waterfall_groups(BASE)
    assert "budget changes" not in groups  # the default scenario has none
    assert groups == [name for name, _ in WATERFALL_STEPS if name != "budget changes"]
    haircuts = [name for name, _ in WATERFALL_HAIRCUTS]
    assert list(bridge["step"].values) == ["gross potential", *haircuts, "planned", *groups, "realised"]
    assert list(bridge["kind"].values) == [
        "total",
        *["haircut"] * len(haircuts),
        "total",
        *["risk"] * len(groups),
        "total",
    ]
    assert bridge.attrs["method"] == "shapley"
    assert bridge.attrs["risk_groups"] == groups and bridge.attrs["haircuts"] == haircuts
    assert bridge.attrs["n_runs"] == 2 ** len(groups) + 2 ** len(haircuts) - 1
    assert bridge.attrs["statistic"] == "mean" and bridge.attrs["n_draws"] == DRAWS
    assert bridge.attrs["horizon"] == f"claim window {BASE.years[0]} to {BASE.target_year}"
    assert bridge["level"].attrs["units"] == "GBP"


def test_the_totals_are_direct_simulations_of_the_scenario_with_risks_and_haircuts_off(bridge):
    # Fixing every correlated input leaves nothing for the copula to pair: the runs agree bitwise.
    assert bridge["change"].sel(step="realised").item() == target_mean(BASE)
    source = "assumption: switched off for the waterfall"
    planned = BASE.without_correlations().with_values(off_values(OFF), source=source)
    assert bridge["change"].sel(step="planned").item() == target_mean(planned)
    gross = BASE.without_correlations().with_values(off_values([*OFF, *HAIRCUTS_OFF]), source=source)
    assert bridge["change"].sel(step="gross potential").item() == target_mean(gross)
    # the module's own scenario builder gives the same scenarios
    assert switched_off(BASE, list(OFF)) == planned
    assert switched_off(BASE, [*OFF, *HAIRCUTS_OFF]) == gross


def test_levels_are_running_totals_of_the_steps(bridge):
    level, change = bridge["level"].values, bridge["change"].values
    kinds = bridge["kind"].values
    running = change[0]
    for i in range(1, len(level)):
        running = change[i] if kinds[i] == "total" else running + change[i]
        assert level[i] == pytest.approx(running, rel=1e-12), bridge["step"].values[i]


# -- efficiency: the steps add up exactly ---------------------------------------------------------


@pytest.mark.parametrize("order", ["shapley", "sequential"])
@pytest.mark.parametrize("statistic", ["mean", "median"])
def test_steps_add_up_to_realised_minus_planned_and_planned_minus_gross(order, statistic):
    w = waterfall(BASE, draws=DRAWS, seed=SEED, order=order, statistic=statistic, threads=ONE_THREAD)
    gross, planned, realised = (
        w["change"].sel(step=s).item() for s in ("gross potential", "planned", "realised")
    )
    scale = max(abs(gross), abs(planned), abs(realised))
    # rounding: 2**n terms of a few ulps of the levels each
    tolerance = 2**10 * np.finfo(float).eps * scale
    assert abs(float(risk_steps(w).sum()) - (realised - planned)) <= tolerance
    assert abs(float(haircut_steps(w).sum()) - (planned - gross)) <= tolerance
    # the last risk step lands on the realised level
    assert w["level"].values[-2] == pytest.approx(realised, rel=0, abs=tolerance)


# -- agreement with brute force -------------------------------------------------------------------


def brute_force_shapley(players, value):
    """Average over every order of the players of each one's marginal contribution."""
    totals = dict.fromkeys(players, 0.0)
    orders = list(itertools.permutations(players))
    for order in orders:
        on: list[str] = []
        for player in order:
            before = value(frozenset(on))
            on.append(player)
            totals[player] += value(frozenset(on)) - before
    return {player: total / len(orders) for player, total in totals.items()}


def test_shapley_values_equal_brute_force_over_every_order_from_direct_simulations(toy):
    cache: dict[frozenset, float] = {}

    def value(on):
        if on not in cache:
            off = [g for g in TOY_GROUPS if g not in on]
            scenario = INDEPENDENT.with_values(off_values(off)) if off else INDEPENDENT
            cache[on] = target_mean(scenario)
        return cache[on]

    expected = brute_force_shapley(TOY_GROUPS, value)
    assert len(cache) == 2 ** len(TOY_GROUPS)
    for group in TOY_GROUPS:
        assert toy["change"].sel(step=group).item() == pytest.approx(expected[group], rel=1e-12)
    # the ends of the range of orders: switched on first and last
    everything = frozenset(TOY_GROUPS)
    for group in TOY_GROUPS:
        alone = value(frozenset([group])) - value(frozenset())
        last = value(everything) - value(everything - {group})
        assert toy["alone"].sel(step=group).item() == alone
        assert toy["last"].sel(step=group).item() == last
    assert toy["change"].sel(step="planned").item() == value(frozenset())
    assert toy["change"].sel(step="realised").item() == value(everything)


def test_sequential_order_reproduces_the_one_at_a_time_differences():
    w = waterfall(
        INDEPENDENT, draws=DRAWS, seed=SEED, groups=TOY_GROUPS, order="sequential", threads=ONE_THREAD
    )
    assert w.attrs["method"] == "sequential" and "depends on this order" in w.attrs["order"]
    assert "alone" not in w and "last" not in w
    assert w.attrs["n_runs"] == len(TOY_GROUPS) + 1 + len(WATERFALL_HAIRCUTS)
    levels = []
    for k in range(len(TOY_GROUPS) + 1):
        off = TOY_GROUPS[k:]
        levels.append(target_mean(INDEPENDENT.with_values(off_values(off)) if off else INDEPENDENT))
    np.testing.assert_array_equal(risk_steps(w).values, np.diff(levels))
    # the haircuts too, with every risk of the toy off
    haircuts = [name for name, _ in WATERFALL_HAIRCUTS]
    levels = [
        target_mean(INDEPENDENT.with_values(off_values([*TOY_GROUPS, *haircuts[k:]])))
        for k in range(len(haircuts) + 1)
    ]
    np.testing.assert_array_equal(haircut_steps(w).values, np.diff(levels))


def test_shapley_and_sequential_differ_where_the_risks_interact(toy):
    seq = waterfall(
        INDEPENDENT, draws=DRAWS, seed=SEED, groups=TOY_GROUPS, order="sequential", threads=ONE_THREAD
    )
    # the first group switched on in sequence makes its change alone; with interactions (all three
    # act on uptake, multiplicatively) its Shapley value is another number
    first = TOY_GROUPS[0]
    assert seq["change"].sel(step=first).item() == toy["alone"].sel(step=first).item()
    gap = abs(toy["alone"].sel(step=first).item() - toy["change"].sel(step=first).item())
    assert gap > 1e-6 * abs(toy["change"].sel(step="planned").item())
    # the totals do not depend on the order
    for step in ("gross potential", "planned", "realised"):
        assert seq["change"].sel(step=step).item() == toy["change"].sel(step=step).item()


# -- symmetry and null player ---------------------------------------------------------------------


def patient_value_only(level: float) -> Scenario:
    """Value is the patient channel alone, contacts x (1 - exclusion) x uptake x value x (1 - leakage).

    Staff time is never put to use and there are no non-staff savings; every
    programme depends wholly on social care; exclusion and leakage are fixed at
    the same level. Switching on either multiplies the value by ``1 - level``,
    whatever else is on: the two groups are symmetric players.
    """
    values: dict[str, float] = {
        "risks.released_time_used": 0.0,
        "risks.digital_exclusion": level,
        "risks.social_care_leakage": level,
    }
    for p in PROGRAMMES:
        values[f"programmes.{p}.non_staff_savings"] = 0.0
        values[f"programmes.{p}.social_care_share"] = 1.0
    values["programmes.patient_services.patients.induced_demand_cost"] = 0.0
    # one segment: every contact's exclusion is the headline (with segments the contact-weighted
    # exclusion differs from it, and the two groups would no longer be symmetric)
    data = INDEPENDENT.to_dict()
    del data["population"]
    return Scenario.from_toml(dumps_toml(data)).with_values(values)


def test_symmetric_groups_get_equal_shapley_values():
    scenario = patient_value_only(0.3)
    w = waterfall(scenario, draws=DRAWS, seed=SEED, threads=ONE_THREAD)
    exclusion = w["change"].sel(step="digital exclusion").item()
    leakage = w["change"].sel(step="social-care leakage").item()
    assert exclusion < 0
    # the two products differ only in the order of their factors: a few ulps
    assert exclusion == pytest.approx(leakage, rel=1e-12)
    assert w["alone"].sel(step="digital exclusion").item() == pytest.approx(
        w["alone"].sel(step="social-care leakage").item(), rel=1e-12
    )
    # the same holds on its own: each takes 0.3 of the value, and together 1 - 0.7**2 of it
    pair = waterfall(
        scenario,
        draws=DRAWS,
        seed=SEED,
        groups=["digital exclusion", "social-care leakage"],
        threads=ONE_THREAD,
    )
    planned = pair["change"].sel(step="planned").item()
    np.testing.assert_allclose(pair["alone"].sel(step="digital exclusion").item(), -0.3 * planned, rtol=1e-12)
    np.testing.assert_allclose(risk_steps(pair).values, -0.5 * (1 - 0.7**2) * planned, rtol=1e-12)


def test_a_group_that_changes_nothing_gets_exactly_zero():
    scenario = BASE.with_values({f"programmes.{p}.social_care_share": 0.0 for p in PROGRAMMES})
    w = waterfall(scenario, draws=DRAWS, seed=SEED, threads=ONE_THREAD)
    for variable in ("change", "alone", "last"):
        assert w[variable].sel(step="social-care leakage").item() == 0.0
    # the other groups still act
    assert (risk_steps(w).drop_sel(step="social-care leakage").values[:4] < 0).all()


# -- the default scenario -------------------------------------------------------------------------


def test_risks_and_haircuts_only_lose_value_in_the_claim_window(bridge):
    """Every risk and haircut can only lower uptake or the value of a unit of it, in every subset.

    The game is monotone draw by draw, so its Shapley values, and the
    first and last marginal contributions, are at most 0.
    """
    steps = bridge.where(bridge["kind"] != "total", drop=True)
    for variable in ("change", "alone", "last"):
        assert (steps[variable] <= 0).all(), variable
    # the large ones are strictly negative
    for group in ("budget raids", "cost overrun", "delivery delay", "staff capacity"):
        assert bridge["change"].sel(step=group).item() < 0
    for haircut in HAIRCUTS_OFF:
        assert bridge["change"].sel(step=haircut).item() < 0
    # support ends after the claim window in every draw, and decay only follows it
    assert bridge["change"].sel(step="running costs not found").item() == 0.0


def test_appraisal_outputs_read_the_scalar_and_record_the_horizon():
    for output in ("npv", "pv_benefits"):
        w = waterfall(BASE, output, draws=DRAWS, seed=SEED, threads=ONE_THREAD, groups=["budget raids"])
        assert w.attrs["horizon"] == f"appraisal period {BASE.years[0]} to {BASE.years[-1]}"
        assert w["change"].sel(step="realised").item() == target_mean(BASE, output)
        assert w["level"].attrs["units"] == "GBP"
    # Shapley values of a mean are linear in the output: NPV's step is the benefits' minus the costs'.
    # Support that is not found saves its running costs: the costs' step is a saving (negative).
    group = "running costs not found"
    steps = {
        output: waterfall(BASE, output, draws=DRAWS, seed=SEED, threads=ONE_THREAD, groups=[group])
        for output in ("npv", "pv_benefits", "pv_costs")
    }
    npv, benefits, costs = (
        steps[o]["change"].sel(step=group).item() for o in ("npv", "pv_benefits", "pv_costs")
    )
    assert costs < 0
    scale = steps["pv_benefits"]["change"].sel(step="planned").item()
    assert npv == pytest.approx(benefits - costs, rel=0, abs=64 * np.finfo(float).eps * scale)


def test_median_statistic_is_the_median_of_the_direct_run():
    w = waterfall(
        BASE, draws=DRAWS, seed=SEED, statistic="median", groups=["budget raids"], threads=ONE_THREAD
    )
    assert w["change"].sel(step="realised").item() == target_mean(BASE, statistic=np.median)
    assert w["level"].attrs["long_name"].startswith("Median of")


def test_budget_changes_are_a_group_when_the_scenario_has_them():
    data = BASE.to_dict()
    data["budget_changes"] = [
        {
            "programme": PROGRAMMES[0],
            "year": BASE.years[1],
            "amount": -3.0e8,
            "source": "assumption: test cut",
        }
    ]
    cut = Scenario.from_toml(dumps_toml(data))
    assert waterfall_groups(cut)[:2] == ["budget raids", "budget changes"]
    w = waterfall(cut, draws=DRAWS, seed=SEED, groups=["budget raids", "budget changes"], threads=ONE_THREAD)
    assert w["change"].sel(step="budget changes").item() < 0
    # planned drops the cut: the announced plan (and the raid probability) with the other risks as they are
    planned = cut.with_values(OFF["budget raids"])
    data = planned.to_dict()
    del data["budget_changes"]
    assert w["change"].sel(step="planned").item() == target_mean(Scenario.from_toml(dumps_toml(data)))
    with pytest.raises(ValueError, match="'groups' parameter of waterfall"):
        waterfall(BASE, draws=10, seed=1, groups=["budget changes"])


# -- correlations: common random numbers survive switching a correlated input off -----------------


def test_switching_off_an_overrun_keeps_the_correlated_delays_draws():
    plan = build_plan(BASE)
    assert plan.copula_rows.size  # the default correlates overruns and delays
    switches = experiments._resolve_switches(BASE, plan, [("cost overrun", OFF["cost overrun"])], "risk")
    assert set(switches[0].values) == set(OFF["cost overrun"])
    on = _run(plan, SEED, 0, DRAWS, ONE_THREAD)
    off = _run(experiments._switched_plan(plan, switches), SEED, 0, DRAWS, ONE_THREAD)
    rows = {stored.variable: row for row, stored in enumerate(plan.stored)}
    for p in PROGRAMMES:
        delay = rows[f"programmes.{p}.delivery_delay"]
        np.testing.assert_array_equal(off["_inputs"][delay], on["_inputs"][delay])
        assert (off["_inputs"][rows[f"programmes.{p}.cost_overrun"]] == 1.0).all()
    # A scenario cannot say this: switched_off drops the fixed inputs from the correlations
    # table, and the delays' remaining copula pairs their draws differently.
    scenario = switched_off(BASE, ["cost overrun"])
    assert not any("cost_overrun" in name for name in scenario.correlations.inputs)
    ds = nhsrisk.simulate(scenario, draws=DRAWS, seed=SEED, threads=ONE_THREAD)
    delay = f"programmes.{PROGRAMMES[-1]}.delivery_delay"
    assert not np.array_equal(ds[delay].values, on["_inputs"][rows[delay]])


def test_every_switch_names_inputs_of_the_default_scenario():
    plan = build_plan(BASE)
    for kind, table in (("risk", WATERFALL_STEPS), ("haircut", WATERFALL_HAIRCUTS)):
        for switch in experiments._resolve_switches(BASE, plan, table, kind):
            if switch.name == "budget changes":
                assert switch.drop_budget_changes and not switch.values
                continue
            expected = OFF.get(switch.name) or HAIRCUTS_OFF[switch.name]
            assert switch.values == expected, switch.name


# -- arguments -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"statistic": "mode"}, "'statistic' parameter of waterfall"),
        ({"order": "random"}, "'order' parameter of waterfall"),
        ({"output": "value"}, "'output' parameter of waterfall"),
        ({"output": "nope"}, "'output' parameter of waterfall"),
        ({"draws": 0}, "'draws' parameter of waterfall"),
        ({"groups": ["nope"]}, "'groups' parameter of waterfall"),
        ({"groups": []}, "'groups' parameter of waterfall"),
        ({"groups": ["budget raids", "budget raids"]}, "'groups' parameter of waterfall"),
        ({"threads": 10_000}, "'threads' parameter of waterfall"),
    ],
)
def test_bad_arguments_are_refused(monkeypatch, kwargs, match):
    def refuse(*args, **kw):
        raise AssertionError("the model ran before the arguments were checked")

    monkeypatch.setattr(experiments, "_waterfall_runs", refuse)
    with pytest.raises(ValueError, match=match):
        waterfall(BASE, **{"draws": 10, "seed": 1, **kwargs})


def test_shapley_weights_sum_to_one_over_the_subsets_without_a_player():
    # the weights |S|! (n - |S| - 1)! / n! of the subset formula the module uses
    for n in range(1, 9):
        total = sum(
            math.comb(n - 1, s) * math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n)
            for s in range(n)
        )
        assert total == pytest.approx(1.0, rel=1e-15)
    # and the subset formula gives an additive game's own parts
    parts = np.array([1.0, -2.0, 0.5, 4.0])
    value = {mask: float(sum(parts[i] for i in range(4) if mask >> i & 1)) for mask in range(16)}
    np.testing.assert_allclose(experiments._shapley(4, value), parts, rtol=1e-15)
