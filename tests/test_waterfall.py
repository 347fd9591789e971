"""The waterfall bridge from planned to realised benefit, against direct simulation."""

from __future__ import annotations

import numpy as np
import pytest

import nhsrisk
from nhsrisk.experiments import WATERFALL_STEPS, waterfall

BASE = nhsrisk.load_scenario()
DRAWS = 2_000
SEED = 11


def target_values(scenario, **kwargs):
    ds = nhsrisk.simulate(scenario, draws=DRAWS, seed=SEED, **kwargs)
    return ds["cumulative_value"].sel(year=scenario.target_year).values


@pytest.fixture(scope="module")
def bridge():
    return waterfall(BASE, draws=DRAWS, seed=SEED, threads=1)


def test_realised_level_is_the_scenario_itself(bridge):
    assert bridge["level"].sel(step="realised").item() == np.median(target_values(BASE))


def test_planned_level_has_every_risk_switched_off(bridge):
    off = {
        "risks.raid_probability": 0.0,
        "risks.cost_overrun": 1.0,
        "risks.black_swan": 0.0,
        "risks.staff_capacity": 1.0,
        "risks.delivery_delay": 0.0,
        "risks.digital_exclusion": 0.0,
        "risks.social_care_leakage": 0.0,
    }
    for pid in BASE.programmes:
        off[f"programmes.{pid}.uptake_midpoint"] = -50.0
        off[f"programmes.{pid}.realisation_lag"] = 0.0
    planned = BASE.with_values(off)
    assert bridge["level"].sel(step="planned").item() == np.median(target_values(planned))


def test_each_step_switches_one_risk_back_on_in_the_stated_order(bridge):
    steps = list(bridge["step"].values)
    assert steps == ["planned", *(name for name, _ in WATERFALL_STEPS), "realised"]
    # the step after "digital exclusion" restores only the leakage: check that one against its reference
    off = {"risks.social_care_leakage": 0.0}
    before_last = np.median(target_values(BASE.with_values(off)))
    assert bridge["level"].sel(step="digital exclusion").item() == before_last
    assert "order" in bridge.attrs and "depends on this order" in bridge.attrs["order"]


def test_changes_telescope_from_planned_to_realised(bridge):
    level = bridge["level"].values
    change = bridge["change"].values
    np.testing.assert_array_equal(change[1:-1], np.diff(level[:-1]))
    assert change[0] == level[0] and change[-1] == level[-1]
    assert np.isclose(level[0] + change[1:-1].sum(), level[-1], rtol=1e-12)


def test_the_risks_cost_value_in_the_default_scenario(bridge):
    # every step loses value here: uptake, lags, exclusion and leakage can only cut benefits, and the
    # budget and overrun steps lower funding adequacy (elasticity > 0); the plan's claim is far above
    change = bridge["change"].values[1:-1]
    assert (change < 0).all()
    assert bridge["level"].sel(step="planned").item() > 4 * bridge["level"].sel(step="realised").item()


def test_mean_statistic_and_units(bridge):
    mean_bridge = waterfall(BASE, draws=DRAWS, seed=SEED, statistic="mean", threads=1)
    assert mean_bridge["level"].sel(step="realised").item() == pytest.approx(
        target_values(BASE).mean(), rel=1e-12
    )
    assert bridge["level"].attrs["units"] == "GBP"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"statistic": "mode"}, "'statistic' parameter of waterfall"),
        ({"output": "value"}, "'output' parameter of waterfall"),
        ({"output": "nope"}, "'output' parameter of waterfall"),
        ({"draws": 0}, "'draws' parameter of waterfall"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        waterfall(BASE, **{"draws": 10, "seed": 1, **kwargs})
