"""The structural model, reproducibility guarantees and the xarray results of ``simulate``."""

from __future__ import annotations

import copy
import functools
import math
import sys

import numpy as np
import pytest
import xarray as xr

import nhsrisk
from nhsrisk import _kernels
from nhsrisk._plan import build_plan
from nhsrisk.distributions import Beta, Fixed, Uniform
from nhsrisk.scenario import Scenario, dumps_toml
from nhsrisk.simulation import OUTPUTS, _run
from nhsrisk.testing import assert_hours_within_cap


def fixed(value: float) -> dict:
    return {"value": value, "source": "test"}


TINY = {
    "schema_version": 1,
    "name": "tiny",
    "title": "Hand-computable scenario",
    "description": "One programme, one staff group, two years.",
    "years": ["2025/26", "2026/27"],
    "price_base": "2023/24",
    "discount_rate": fixed(0.035),
    "target": {"description": "test target", "claimed_return": fixed(5.0e6)},
    "risks": {
        "raid_probability": fixed(0.0),
        "raid_fraction": fixed(0.2),
        "cost_overrun": fixed(1.0),
        "black_swan": fixed(0.0),
        "black_swan_overrun": fixed(3.0),
        "delivery_delay": fixed(0.0),
        "digital_exclusion": fixed(0.25),
        "staff_capacity": fixed(1.0),
        "social_care_leakage": fixed(0.5),
        "funding_elasticity": fixed(1.0),
        "redeployment_fraction": fixed(0.5),
    },
    "staff_groups": {
        "gp": {
            "label": "GPs",
            "fte": fixed(1000.0),
            "hours_per_fte": fixed(1500.0),
            "cost_per_hour": fixed(50.0),
            "max_release_share": fixed(0.2),
        }
    },
    "programmes": {
        "kit": {
            "label": "Kit",
            "spend": {"values": [1.0e6, 1.0e6], "source": "test"},
            "raid_exposure": fixed(1.0),
            "uptake_ceiling": fixed(0.8),
            # exp(-(t + 100)) is below half an ulp of 1, so the logistic is exactly 1
            "uptake_midpoint": fixed(-100.0),
            "uptake_steepness": fixed(1.0),
            "realisation_lag": fixed(0.0),
            "benefit_decay": fixed(0.0),
            "cash_releasing_fraction": fixed(0.25),
            "social_care_share": fixed(0.1),
            "staff": {"gp": {"addressable_share": fixed(0.1), "recovered_fraction": fixed(0.5)}},
            "patients": {"contacts_per_year": fixed(1.0e6), "value_per_contact": fixed(2.0)},
        }
    },
}


def tiny(**changes) -> Scenario:
    data = copy.deepcopy(TINY)
    scenario = Scenario.from_toml(dumps_toml(data))
    return scenario.with_values(changes) if changes else scenario


@pytest.fixture(scope="module")
def default_run() -> xr.Dataset:
    return nhsrisk.simulate(draws=4_000, seed=20240306)


def test_hand_computation_with_everything_fixed():
    ds = nhsrisk.simulate(tiny(), draws=3, seed=1)
    hours = 1000 * 1500 * 0.1 * 0.5 * 0.8  # FTE x hours x addressable x recovered x uptake
    assert hours == 60_000.0
    staff_value = hours * 50 * 0.5  # cost per hour, redeployed half
    patient_value = 1.0e6 * (1 - 0.25) * 0.8 * 2.0
    value = (staff_value + patient_value) * (1 - 0.1 * 0.5)
    assert value == pytest.approx(2_565_000.0, rel=1e-15)
    npv = (value - 1.0e6) + (value - 1.0e6) / 1.035
    bcr = (value + value / 1.035) / (1.0e6 + 1.0e6 / 1.035)
    np.testing.assert_array_equal(ds["uptake"].values, 0.8)
    np.testing.assert_array_equal(ds["hours_released"].values, hours)
    np.testing.assert_allclose(ds["value"].values, value, rtol=1e-15)
    np.testing.assert_allclose(ds["cash_releasing_value"].values, 0.25 * value, rtol=1e-15)
    np.testing.assert_allclose(ds["net_benefit"].values, value - 1.0e6, rtol=1e-15)
    np.testing.assert_allclose(ds["cumulative_value"].values, [[value] * 3, [2 * value] * 3], rtol=1e-15)
    np.testing.assert_allclose(ds["npv"].values, npv, rtol=1e-14)
    np.testing.assert_allclose(ds["bcr"].values, bcr, rtol=1e-14)
    assert not ds["hours_capped"].any()
    assert not ds["raid"].any()


def test_raid_every_year_cuts_spend_and_adequacy_by_hand():
    ds = nhsrisk.simulate(tiny(**{"risks.raid_probability": 1.0}), draws=2, seed=1)
    np.testing.assert_array_equal(ds["raid"].values, True)
    np.testing.assert_allclose(ds["spend"].values, 0.8e6, rtol=1e-15)  # 20% raid on a fully exposed budget
    np.testing.assert_allclose(ds["funding_adequacy"].values, 0.8, rtol=1e-15)
    # eta = 1: uptake scales with adequacy
    np.testing.assert_allclose(ds["uptake"].values, 0.8 * 0.8, rtol=1e-15)


def test_overrun_and_black_swan_by_hand():
    ds = nhsrisk.simulate(tiny(**{"risks.cost_overrun": 1.25}), draws=2, seed=1)
    np.testing.assert_allclose(ds["funding_adequacy"].values, 0.8, rtol=1e-15)
    ds = nhsrisk.simulate(tiny(**{"risks.black_swan": 1.0}), draws=2, seed=1)
    np.testing.assert_allclose(ds["funding_adequacy"].values, 1 / 3, rtol=1e-15)
    # an underrun gives no credit: adequacy is capped at 1
    ds = nhsrisk.simulate(tiny(**{"risks.cost_overrun": 0.5}), draws=2, seed=1)
    np.testing.assert_array_equal(ds["funding_adequacy"].values, 1.0)


def test_delay_lag_and_decay_shift_the_s_curve_by_hand():
    scenario = tiny(
        **{
            "programmes.kit.uptake_midpoint": 0.5,
            "programmes.kit.uptake_steepness": 2.0,
            "programmes.kit.realisation_lag": 0.25,
            "risks.delivery_delay": 1.0,
            "programmes.kit.spend": [2.0e6, 0.0],
            "programmes.kit.benefit_decay": 0.1,
        }
    )
    ds = nhsrisk.simulate(scenario, draws=1, seed=1)
    shift = 0.5 + 0.25 + 1.0
    expected = [0.8 / (1 + math.exp(-(t - shift) * 2.0)) for t in (0, 1)]
    expected[1] *= 0.9  # one year after the last funded year
    np.testing.assert_allclose(ds["uptake"].values[:, 0, 0], expected, rtol=1e-15)


def test_zero_spend_means_zero_uptake_whatever_the_elasticity():
    scenario = tiny(
        **{
            "risks.raid_probability": 1.0,
            "risks.raid_fraction": 1.0,
            "risks.funding_elasticity": 0.0,
        }
    )
    ds = nhsrisk.simulate(scenario, draws=2, seed=1)
    np.testing.assert_array_equal(ds["spend"].values, 0.0)
    np.testing.assert_array_equal(ds["uptake"].values, 0.0)
    np.testing.assert_array_equal(ds["bcr"].values, 0.0)
    assert np.isfinite(ds["npv"].values).all()


def test_hours_cap_binds_and_is_reported():
    scenario = tiny(**{"staff_groups.gp.max_release_share": 0.01})
    ds = nhsrisk.simulate(scenario, draws=2, seed=1)
    available = 1000 * 1500 * 0.01
    np.testing.assert_allclose(ds["hours_released"].sum("programme").values, available, rtol=1e-15)
    assert ds["hours_capped"].all()


def test_patient_value_scales_by_exactly_one_minus_exclusion():
    base = tiny(**{"programmes.kit.staff.gp.addressable_share": 0.0})
    included = nhsrisk.simulate(base.with_values({"risks.digital_exclusion": 0.0}), draws=2, seed=1)
    for exclusion in (0.25, 0.6, 1.0):
        excluded = nhsrisk.simulate(base.with_values({"risks.digital_exclusion": exclusion}), draws=2, seed=1)
        np.testing.assert_allclose(
            excluded["value"].values, (1 - exclusion) * included["value"].values, rtol=1e-15, atol=0
        )


def test_turning_erosion_off_never_lowers_value(default_run):
    ring_fenced = nhsrisk.simulate(
        nhsrisk.load_scenario().with_values({"risks.raid_probability": 0.0}), draws=4_000, seed=20240306
    )
    # Common random numbers: every other input is drawn identically.
    xr.testing.assert_identical(
        ring_fenced["risks.digital_exclusion"], default_run["risks.digital_exclusion"]
    )
    assert not ring_fenced["raid"].any()
    assert default_run["raid"].any()
    lower = ring_fenced["cumulative_value"] < default_run["cumulative_value"] * (1 - 1e-12)
    assert not lower.any()
    assert (ring_fenced["spend"] >= default_run["spend"]).all()


def test_results_are_finite_and_capped(default_run):
    ds = default_run
    for name in OUTPUTS:
        assert np.isfinite(ds[name].values.astype(float)).all(), name
    assert_hours_within_cap(ds, nhsrisk.load_scenario(), rtol=1e-12)
    assert (ds["cumulative_value"].diff("year") >= 0).all()
    np.testing.assert_allclose(ds["net_benefit"], ds["value"] - ds["spend"], rtol=1e-12, atol=1e-3)


def test_npv_is_discounted_value_minus_discounted_cost(default_run):
    ds = default_run
    factor = xr.DataArray(1.035 ** -np.arange(ds.sizes["year"]), dims="year", coords={"year": ds["year"]})
    pv_value = (ds["value"].sum("programme") * factor).sum("year")
    pv_spend = (ds["spend"].sum("programme") * factor).sum("year")
    np.testing.assert_allclose(ds["npv"], pv_value - pv_spend, rtol=1e-12, atol=1e-3)
    np.testing.assert_allclose(ds["bcr"], pv_value / pv_spend, rtol=1e-12)


def test_dataset_layout_and_attrs(default_run):
    ds = default_run
    assert dict(ds.sizes) == {"draw": 4_000, "year": 5, "programme": 3, "staff_group": 6}
    assert list(ds["year"].values) == ["2025/26", "2026/27", "2027/28", "2028/29", "2029/30"]
    assert ds["spend"].dims == ("year", "programme", "draw")
    assert ds["hours_released"].dims == ("year", "programme", "staff_group", "draw")
    for name, variable in ds.data_vars.items():
        assert variable.attrs.get("units") is not None, name
        assert variable.attrs.get("long_name"), name
    for name, coordinate in ds.coords.items():
        assert coordinate.attrs.get("long_name"), name
    scenario = nhsrisk.load_scenario()
    uncertain = [k for k, q in scenario.quantities().items() if not q.distribution.is_fixed]
    for key in uncertain:
        if key == "risks.raid_fraction":
            assert ds[key].dims == ("year", "draw")
        else:
            assert ds[key].dims == ("draw",), key
        assert ds[key].attrs["source"] == scenario.quantities()[key].source
    assert ds.attrs["seed"] == "20240306"
    assert ds.attrs["nhsrisk_version"] == nhsrisk.__version__
    assert Scenario.from_toml(ds.attrs["scenario"]) == scenario


def test_netcdf_round_trip_is_lossless(default_run, tmp_path):
    path = tmp_path / "results.nc"
    default_run.to_netcdf(path, engine="h5netcdf")
    with xr.open_dataset(path, engine="h5netcdf") as reopened:
        xr.testing.assert_identical(reopened.load(), default_run)
    assert nhsrisk.load_scenario(path) == nhsrisk.load_scenario()


@pytest.mark.parametrize("threads", [1, 2])
def test_same_seed_same_bits_whatever_the_thread_count(default_run, threads):
    again = nhsrisk.simulate(draws=4_000, seed=20240306, threads=threads)
    xr.testing.assert_identical(again, default_run)


def test_chunks_concatenate_to_the_whole_run():
    whole = nhsrisk.simulate(draws=1_000, seed=7)
    first = nhsrisk.simulate(draws=600, seed=7)
    second = nhsrisk.simulate(draws=400, seed=7, start=600)
    joined = xr.concat([first, second], dim="draw", data_vars="minimal", coords="minimal", compat="override")
    for name in whole.data_vars:
        if "draw" in whole[name].dims:
            np.testing.assert_array_equal(joined[name].values, whole[name].values, err_msg=name)
    np.testing.assert_array_equal(joined["draw"].values, np.arange(1_000))
    more = nhsrisk.simulate(draws=1_500, seed=7)
    xr.testing.assert_identical(more.isel(draw=slice(0, 1_000)).drop_attrs(), whole.drop_attrs())


def test_adding_an_input_leaves_the_other_draws_unchanged():
    base = nhsrisk.load_scenario()
    new_programme = base.to_dict()["programmes"]["patient_services"]
    extended = base.with_values({"programmes": {**base.to_dict()["programmes"], "inclusion": new_programme}})
    a = nhsrisk.simulate(base, draws=500, seed=3)
    b = nhsrisk.simulate(extended, draws=500, seed=3)
    assert "programmes.inclusion.uptake_ceiling" in b
    for name, variable in a.data_vars.items():
        if variable.attrs.get("sampled_input"):
            xr.testing.assert_identical(variable, b[name])


def test_different_seeds_differ():
    a = nhsrisk.simulate(draws=100, seed=1)
    b = nhsrisk.simulate(draws=100, seed=2)
    assert not np.array_equal(a["npv"].values, b["npv"].values)


def test_seed_none_is_recorded_and_repeatable():
    ds = nhsrisk.simulate(draws=50)
    again = nhsrisk.simulate(draws=50, seed=int(ds.attrs["seed"]))
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
    a = nhsrisk.simulate(base, draws=2_000, seed=9)
    b = nhsrisk.simulate(variant, draws=2_000, seed=9)
    xr.testing.assert_identical(a["risks.staff_capacity"], b["risks.staff_capacity"])
    se = 0.05 / math.sqrt(2_000)
    assert abs(float(b["risks.digital_exclusion"].mean()) - 0.3) < 4 * se


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
        nhsrisk.simulate(**kwargs)


def test_draws_accepts_integral_floats():
    assert nhsrisk.simulate(draws=1e2, seed=1).sizes["draw"] == 100


def test_fixed_inputs_are_not_stored_but_uncertain_ones_are():
    scenario = tiny(**{"risks.digital_exclusion": Uniform(0.1, 0.4)})
    ds = nhsrisk.simulate(scenario, draws=100, seed=1)
    sampled = [name for name, v in ds.data_vars.items() if v.attrs.get("sampled_input")]
    assert sampled == ["risks.digital_exclusion"]
    # the exclusion stream plus one raid-event stream per year (the raid fraction is fixed)
    assert ds.attrs["uniforms_per_draw"] == 1 + 2
    assert isinstance(scenario.risks.raid_fraction.distribution, Fixed)


def test_a_distribution_too_wide_for_a_double_is_rejected_at_load():
    from nhsrisk.distributions import LogNormal
    from nhsrisk.scenario import ScenarioError

    with pytest.raises(ScenarioError, match=r"programmes\.kit\.patients\.value_per_contact.*does not fit"):
        tiny(**{"programmes.kit.patients.value_per_contact": LogNormal(0.0, 100.0)})


def test_non_finite_results_are_refused_not_returned(monkeypatch):
    import sys

    simulate_module = sys.modules["nhsrisk.simulation"]
    real_run = simulate_module._run

    def poisoned(*args, **kwargs):
        arrays = real_run(*args, **kwargs)
        arrays["npv"][3] = np.nan
        return arrays

    monkeypatch.setattr(simulate_module, "_run", poisoned)
    with pytest.raises(FloatingPointError, match=r"non-finite npv .* in draw 3 .*risks\.digital_exclusion"):
        nhsrisk.simulate(tiny(**{"risks.digital_exclusion": Uniform(0.1, 0.4)}), draws=10, seed=1)


def test_kernel_output_order_matches_the_public_output_list():
    assert tuple(OUTPUTS) == _kernels.OUTPUT_ARRAYS
    plan = build_plan(nhsrisk.load_scenario())
    for name in _kernels.MODEL_ARRAYS:
        assert isinstance(getattr(plan, name), np.ndarray), name


def test_target_year_lets_the_appraisal_outlast_the_claim_window():
    base = nhsrisk.load_scenario()
    data = base.to_dict()
    data["years"] = [*data["years"], "2030/31", "2031/32"]
    for programme in data["programmes"].values():
        programme["spend"]["values"] = [*programme["spend"]["values"], 0.0, 0.0]
    data["target"]["year"] = "2029/30"
    longer = Scenario.from_toml(dumps_toml(data))
    assert longer.target_year == "2029/30" and base.target_year == "2029/30"
    assert Scenario.from_toml(longer.to_toml()) == longer
    short = nhsrisk.simulate(base, draws=500, seed=4)
    long = nhsrisk.simulate(longer, draws=500, seed=4)
    assert long.attrs["target_year"] == "2029/30"
    assert long["claimed_return"].attrs["year"] == "2029/30"
    # the first five years are the same draws; the extra years add benefits and no cost
    xr.testing.assert_identical(
        long["cumulative_value"].sel(year=list(base.years)).drop_vars("year"),
        short["cumulative_value"].drop_vars("year"),
    )
    assert (long["npv"] >= short["npv"]).all() and (long["npv"] > short["npv"]).any()
    assert (long["spend"].sel(year=["2030/31", "2031/32"]) == 0).all()


def test_target_year_must_be_a_scenario_year():
    from nhsrisk.scenario import ScenarioError

    with pytest.raises(ScenarioError, match=r"target\.year.*2040/41"):
        nhsrisk.load_scenario().with_values(
            {"target": {**nhsrisk.load_scenario().to_dict()["target"], "year": "2040/41"}}
        )


def _simulate_in_child(queue) -> None:
    ds = nhsrisk.simulate(draws=3 * _kernels.CHUNK, seed=5, threads=2)
    queue.put(ds["npv"].values.tobytes())


@pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX only")
def test_a_forked_child_simulates_on_threads_of_its_own() -> None:
    # The parent's thread pool exists before the fork; the child must not send work to it.
    import multiprocessing

    parent = nhsrisk.simulate(draws=3 * _kernels.CHUNK, seed=5, threads=2)
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
