"""Digital exclusion by population segment (issue 15): identities, the segment table and the schema."""

from __future__ import annotations

import copy
import functools
from typing import Any

import numpy as np
import pytest
import xarray as xr

import nhsrisk
from nhsrisk._segments import GRID, build_segments, exclusion_by_segment
from nhsrisk.scenario import Scenario, ScenarioError, dumps_toml

# These tests read every output of the model, not only the headline ones a run keeps by default.
simulate_all = functools.partial(nhsrisk.simulate, keep="all")

DRAWS = 2_000


def _from_dict(data: dict[str, Any]) -> Scenario:
    return Scenario.from_toml(dumps_toml(data))


def _edited(name: str, change) -> Scenario:
    data = copy.deepcopy(nhsrisk.load_scenario(name).to_dict())
    change(data)
    return _from_dict(data)


@pytest.fixture(scope="module")
def default_run() -> xr.Dataset:
    return simulate_all(draws=DRAWS, seed=7, progress=False)


def test_segment_sums_equal_the_totals(default_run: xr.Dataset) -> None:
    ds = default_run
    for margin in ("quintile", "age_band"):
        np.testing.assert_allclose(ds[f"pv_patient_by_{margin}"].sum(margin), ds.pv_patient, rtol=1e-12)
        np.testing.assert_allclose(
            ds[f"pv_dual_running_by_{margin}"].sum(margin), ds.pv_dual_running_cost, rtol=1e-12
        )
    assert ds.sizes["quintile"] == 5 and ds.sizes["age_band"] == 5
    # dual running is a cost: it is in the PV of costs and out of the NPV
    np.testing.assert_allclose(
        ds.pv_costs, ds.pv_capital_cost + ds.pv_running_cost + ds.pv_dual_running_cost, rtol=1e-12
    )
    assert float(ds.pv_dual_running_cost.min()) >= 0.0 and float(ds.pv_dual_running_cost.max()) > 0.0


def test_equal_exclusion_in_every_segment_is_the_population_share_model() -> None:
    """A flat profile (same exclusion everywhere) gives the model without segments, draw by draw."""

    def flatten(data: dict[str, Any]) -> None:
        population = data["population"]
        population["exclusion_profile_by_age"]["values"] = [0.2] * len(population["age_bands"])
        population["exclusion_odds_ratio_deprivation"] = {"value": 1.0, "source": "test: flat"}
        population.pop("headline_age_bands")

    def remove(data: dict[str, Any]) -> None:
        del data["population"]

    flat = simulate_all(_edited("as-announced", flatten), draws=DRAWS, seed=3, progress=False)
    whole = simulate_all(_edited("as-announced", remove), draws=DRAWS, seed=3, progress=False)
    np.testing.assert_allclose(
        flat.contact_weighted_exclusion.isel(year=0), flat["risks.digital_exclusion"], rtol=1e-14
    )
    for name in ("value", "patient_value", "dual_running_cost", "hours_released", "npv", "bcr", "pv_costs"):
        np.testing.assert_allclose(flat[name], whole[name], rtol=1e-12, atol=1e-6, err_msg=name)
    # without a population table there is one segment, "all"
    assert whole.quintile.values.tolist() == ["all"] and whole.age_band.values.tolist() == ["all"]


def test_weights_switched_off_give_the_unweighted_npv() -> None:
    def switch_off(data: dict[str, Any]) -> None:
        data["population"]["inequality_aversion"] = {"value": 0.0, "source": "test: no weights"}

    ds = simulate_all(_edited("as-announced", switch_off), draws=DRAWS, seed=3, progress=False)
    np.testing.assert_array_equal(ds.npv_distributional, ds.npv)


def test_with_weights_the_deprived_count_more(default_run: xr.Dataset) -> None:
    segments = build_segments(nhsrisk.load_scenario().population)
    weights = segments.quintile_weight
    assert np.all(np.diff(weights) < 0)  # most deprived first
    share = np.asarray(nhsrisk.load_scenario().population.quintile_share.values)
    assert float(np.dot(share, weights)) == pytest.approx(1.0, rel=1e-12)  # a mean of 1 per head
    ds = default_run
    uplift = float(segments.distributional_uplift[0])
    assert uplift > 0  # the deprived make more contacts, so freed care leans their way
    np.testing.assert_allclose(segments.distributional_uplift[1:], weights - 1.0, rtol=1e-15)
    # freed staff time is shared by contacts; the patient channel carries the weight of where it falls
    patient = (ds.pv_patient_by_quintile * xr.DataArray(weights - 1.0, dims="quintile")).sum("quintile")
    np.testing.assert_allclose(
        ds.npv_distributional, ds.npv + uplift * ds.pv_non_cash_releasing + patient, rtol=1e-12
    )
    # the patient channel leans to the less deprived (more of the deprived are offline): its premium
    # is negative, though the contact-shared premium on freed time is positive
    assert float(patient.mean()) < 0


def test_the_headline_is_the_mean_exclusion_of_the_bands_it_describes(default_run: xr.Dataset) -> None:
    population = nhsrisk.load_scenario().population
    segments = build_segments(population)
    headline = default_run["risks.digital_exclusion"].values
    by_segment = exclusion_by_segment(segments, headline)
    adult = np.isin(np.asarray(segments.age_bands)[segments.age], population.headline_age_bands)
    weights = np.where(adult, segments.population_share, 0.0)
    np.testing.assert_allclose(weights @ by_segment / weights.sum(), headline, rtol=1e-13)
    # what the kernel used: its contact-weighted exclusion in the first year (no inclusion there)
    np.testing.assert_allclose(
        default_run.contact_weighted_exclusion.isel(year=0), segments.contact_weight @ by_segment, rtol=1e-14
    )
    # the people who use the NHS most are the least online: contacts weigh exclusion up
    assert np.all(segments.contact_weight @ by_segment > headline)


def test_the_exclusion_table_is_monotone_and_ordered_by_age_and_deprivation() -> None:
    segments = build_segments(nhsrisk.load_scenario().population)
    table = segments.exclusion_table
    assert table.shape == (GRID, 25)
    assert np.all(np.diff(table, axis=0) >= 0)
    assert table[0].max() == 0.0 and table[-1].min() == 1.0
    middle = table[GRID // 4].reshape(5, 5)  # age band x quintile, at a headline of 0.25
    assert np.all(np.diff(middle[1:], axis=0) > 0)  # older, more excluded (0-15 share the 16-44 profile)
    assert np.all(np.diff(middle, axis=1) < 0)  # less deprived, less excluded


def test_an_inclusion_programme_changes_only_the_segments_it_targets() -> None:
    announced = simulate_all("as-announced", draws=DRAWS, seed=5, progress=False)
    inclusion = simulate_all("plus-digital-inclusion", draws=DRAWS, seed=5, progress=False)
    targets = nhsrisk.load_scenario("plus-digital-inclusion").programmes["digital_inclusion"].inclusion
    assert targets.target_quintiles and targets.target_age_bands
    untargeted = [q for q in announced.quintile.values if q not in targets.target_quintiles]
    for quintile in untargeted:
        np.testing.assert_array_equal(
            inclusion.pv_patient_by_quintile.sel(quintile=quintile),
            announced.pv_patient_by_quintile.sel(quintile=quintile),
        )
    gained = inclusion.pv_patient_by_quintile - announced.pv_patient_by_quintile
    for quintile in targets.target_quintiles:
        assert float(gained.sel(quintile=quintile).mean()) > 0
    later = inclusion.contact_weighted_exclusion.isel(year=-1) - announced.contact_weighted_exclusion.isel(
        year=-1
    )
    assert float(later.max()) <= 0.0 and float(later.mean()) < 0.0


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        (
            lambda p: p["age_share"].update(values=[0.5, 0.5]),
            "population.age_share.values",
            "one value per label",
        ),
        (
            lambda p: p["quintile_share"].update(values=[0.3, 0.3, 0.3, 0.3, 0.3]),
            "population.quintile_share.values",
            "add up to 1",
        ),
        (
            lambda p: p["exclusion_profile_by_age"].update(values=[0.0, 0.1, 0.1, 0.2, 0.5]),
            "population.exclusion_profile_by_age.values[0]",
            "> 0",
        ),
        (lambda p: p.update(headline_age_bands=["16-44", "90+"]), "population.headline_age_bands", "90+"),
        (lambda p: p.update(quintiles=["a", "a", "b", "c", "d"]), "population.quintiles", "distinct"),
        (
            lambda p: p.update(contact_gradient={"dist": "uniform", "low": 0.0, "high": 1.0, "source": "x"}),
            "population.contact_gradient",
            "fixed value",
        ),
    ],
)
def test_a_bad_population_is_refused_naming_the_key(change, path: str, words: str) -> None:
    data = copy.deepcopy(nhsrisk.load_scenario().to_dict())
    change(data["population"])
    with pytest.raises(ScenarioError, match=words) as info:
        _from_dict(data)
    assert info.value.path == path


def test_inclusion_targets_must_name_segments_of_a_population() -> None:
    data = copy.deepcopy(nhsrisk.load_scenario("plus-digital-inclusion").to_dict())
    data["programmes"]["digital_inclusion"]["inclusion"]["target_quintiles"] = ["richest"]
    with pytest.raises(ScenarioError, match="richest") as info:
        _from_dict(data)
    assert info.value.path == "programmes.digital_inclusion.inclusion.target_quintiles"
    data = copy.deepcopy(nhsrisk.load_scenario("plus-digital-inclusion").to_dict())
    del data["population"]
    with pytest.raises(ScenarioError, match="needs a \\[population\\] table"):
        _from_dict(data)


def test_describe_lists_the_population_with_its_sources() -> None:
    text = nhsrisk.load_scenario().to_markdown()
    population = nhsrisk.load_scenario().population
    for key in (
        "age_share",
        "quintile_share",
        "contacts_by_age",
        "exclusion_profile_by_age",
        "income_ratio_by_quintile",
    ):
        assert f"`population.{key}`" in text
        assert getattr(population, key).source.split(";")[0][:40] in text
    for key in ("contact_gradient", "exclusion_odds_ratio_deprivation", "inequality_aversion", "people"):
        assert f"population.{key}" in text
    for key in ("online_dependent_share", "dual_running_cost", "induced_demand_cost"):
        assert f"programmes.patient_services.patients.{key}" in text


def test_a_scenario_round_trips_through_toml_with_its_population() -> None:
    for name in nhsrisk.BUILTIN_SCENARIOS:
        scenario = nhsrisk.load_scenario(name)
        assert Scenario.from_toml(scenario.to_toml()) == scenario


def test_equity_is_benefit_per_head_and_the_gap_between_the_ends(default_run: xr.Dataset) -> None:
    from nhsrisk.stats import equity

    table = equity(default_run)
    per_head = default_run.pv_patient_by_quintile / default_run.people_by_quintile
    np.testing.assert_allclose(
        table.per_head_by_quintile.sel(statistic="mean"), per_head.mean("draw"), rtol=1e-12
    )
    # people x benefit per head gives back the patient channel's present value
    total = (
        default_run.people_by_age_band * default_run.pv_patient_by_age_band / default_run.people_by_age_band
    )
    np.testing.assert_allclose(total.sum("age_band"), default_run.pv_patient, rtol=1e-12)
    people = nhsrisk.load_scenario().population.people.distribution.mean()
    assert float(default_run.people_by_quintile.sum()) == pytest.approx(people, rel=1e-12)
    means = per_head.mean("draw").values
    assert float(table.most_to_least_deprived) == pytest.approx(means[0] / means[-1], rel=1e-12)
    bands = (default_run.pv_patient_by_age_band / default_run.people_by_age_band).mean("draw").values
    np.testing.assert_allclose(table.to_highest_age_band, bands / bands.max(), rtol=1e-12)
    assert (
        float(table.to_highest_age_band_mcse.max()) > 0.0
        and float(table.to_highest_age_band_mcse.min()) == 0.0
    )
    # the delta-method error against the spread of the ratio over independent halves of the run
    halves = [default_run.isel(draw=slice(0, DRAWS // 2)), default_run.isel(draw=slice(DRAWS // 2, None))]
    ratios = [float(equity(half).most_to_least_deprived) for half in halves]
    # each half's error is sqrt(2) x the whole run's, their difference's 2 x: within 6 of those
    assert abs(ratios[0] - ratios[1]) < 12 * float(table.most_to_least_deprived_mcse)


def test_equity_needs_a_population() -> None:
    from nhsrisk.stats import equity

    def remove(data: dict[str, Any]) -> None:
        del data["population"]

    ds = simulate_all(_edited("as-announced", remove), draws=500, seed=1, progress=False)
    with pytest.raises(ValueError, match="population"):
        equity(ds)


@pytest.fixture(scope="module")
def inclusion_pair() -> tuple[xr.Dataset, xr.Dataset]:
    base = simulate_all("as-announced", draws=DRAWS, seed=11, progress=False)
    plus = simulate_all("plus-digital-inclusion", draws=DRAWS, seed=11, progress=False)
    return plus, base


def test_equity_against_a_baseline_is_the_paired_change(inclusion_pair) -> None:
    from nhsrisk.stats import equity

    plus, base = inclusion_pair
    table = equity(plus, base)
    change = plus.pv_patient_by_age_band / plus.people_by_age_band - base.pv_patient_by_age_band / (
        base.people_by_age_band
    )
    np.testing.assert_allclose(
        table.per_head_by_age_band.sel(statistic="mean"), change.mean("draw"), rtol=1e-12, atol=1e-15
    )
    np.testing.assert_allclose(
        table.per_head_by_age_band.sel(statistic="mcse"),
        change.std("draw", ddof=1) / np.sqrt(DRAWS),
        rtol=1e-12,
        atol=1e-15,
    )
    # the programme reaches 65+ in the two most deprived quintiles: nobody else's benefit moves, in any draw
    untouched = [band for band in plus.age_band.values if band not in ("65-74", "75+")]
    np.testing.assert_array_equal(change.sel(age_band=untouched), 0.0)
    by_quintile = plus.pv_patient_by_quintile - base.pv_patient_by_quintile
    np.testing.assert_array_equal(by_quintile.sel(quintile=["3rd", "4th", "least deprived"]), 0.0)
    assert float(table.per_head_by_age_band.sel(age_band="75+", statistic="mean")) > 0
    assert table.attrs["baseline_name"] == "as-announced"
    assert "most_to_least_deprived" not in table  # the least deprived gain nothing: no ratio
    difference = (plus.pv_patient_by_quintile / plus.people_by_quintile).isel(quintile=0) - (
        base.pv_patient_by_quintile / base.people_by_quintile
    ).isel(quintile=0)
    assert float(table.most_minus_least_deprived) == pytest.approx(float(difference.mean()), rel=1e-12)


def test_equity_refuses_a_baseline_on_other_draws(inclusion_pair) -> None:
    from nhsrisk.stats import equity

    plus, _ = inclusion_pair
    other = simulate_all("as-announced", draws=DRAWS // 2, seed=11, progress=False)
    with pytest.raises(ValueError, match="'baseline_ds' parameter of equity.*same draws"):
        equity(plus, other)
    with pytest.raises(TypeError, match="'baseline_ds' parameter of equity"):
        equity(plus, "as-announced")  # type: ignore[arg-type]


@pytest.mark.parametrize("by", ["quintile", "age_band"])
def test_plot_equity_draws_the_table(default_run: xr.Dataset, inclusion_pair, by: str) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    import nhsrisk.plot
    from nhsrisk.stats import equity

    plus, base = inclusion_pair
    for ds, baseline in ((default_run, None), (plus, base)):
        ax = nhsrisk.plot.equity(ds, by, baseline_ds=baseline)
        table = equity(ds, baseline)[f"per_head_by_{by}"]
        heights = [bar.get_height() for bar in ax.patches]
        np.testing.assert_allclose(heights, table.sel(statistic="mean"), rtol=1e-12, atol=1e-15)
        # the whiskers: one vertical segment per bar, from the 5th to the 95th percentile
        (whiskers,) = [c for c in ax.collections if isinstance(c, LineCollection) and c.get_segments()]
        ends = np.array([[seg[:, 1].min(), seg[:, 1].max()] for seg in whiskers.get_segments()])
        np.testing.assert_allclose(ends[:, 0], table.sel(statistic="5%"), rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ends[:, 1], table.sel(statistic="95%"), rtol=1e-12, atol=1e-15)
        labels = [label.get_text() for label in ax.get_xticklabels()]
        assert labels == [str(v) for v in ds[by].values]
        low, high = ax.get_ylim()
        assert low <= float(table.sel(statistic="5%").min()) and high >= float(
            table.sel(statistic="95%").max()
        )
        title = " ".join(ax.get_title().split())  # titles are wrapped to the axes' width
        if baseline is None and by == "quintile":
            assert "Most deprived get" in title and f"{float(equity(ds).most_to_least_deprived):.3g}" in title
        elif baseline is None:
            # the oldest band against the band that gets the most per head (45-64 in the default)
            ratio = equity(ds).to_highest_age_band
            assert f"Aged 75+ get {float(ratio.sel(age_band='75+')):.3g} " in title
            assert "of what those aged 45-64 get" in title and float(ratio.sel(age_band="45-64")) == 1.0
        if baseline is None:
            assert " ".join(ax.get_ylabel().split()).startswith("Patient-channel benefit per head (GBP")
        else:
            assert "against as-announced" in title and "more than the least deprived" in title
            assert " ".join(ax.get_ylabel().split()).startswith(
                "Change in patient-channel benefit per head (GBP"
            )
        plt.close(ax.figure)


@pytest.mark.slow
def test_the_ratio_error_matches_the_spread_over_independent_runs() -> None:
    """The delta-method MCSE of most/least deprived against the sd of the ratio over 60 seeds."""
    from scipy import stats as scipy_stats

    from nhsrisk.stats import equity

    runs = [equity(simulate_all(draws=DRAWS, seed=100 + k, progress=False)) for k in range(60)]
    ratios = np.array([float(run.most_to_least_deprived) for run in runs])
    errors = np.array([float(run.most_to_least_deprived_mcse) for run in runs])
    # (k - 1) s^2 / sigma^2 is chi-square with k - 1 degrees of freedom: a two-sided 99.9% interval
    k = ratios.size
    statistic = (k - 1) * ratios.var(ddof=1) / np.mean(errors) ** 2
    low, high = scipy_stats.chi2.ppf([0.0005, 0.9995], k - 1)
    assert low < statistic < high
