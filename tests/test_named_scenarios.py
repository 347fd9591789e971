"""The named scenarios shipped beside as-announced: each differs from it only where its name says.

``after-the-cut`` (a recorded cut as a budget change), ``ring-fenced`` (no raids) and
``plus-digital-inclusion`` (a funded inclusion programme) each name ``as-announced`` as their
baseline; ``nhsrisk run --scenario X`` runs both with the same seed and draws (common random
numbers) and reports the change per GBP of budget change.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import importlib.resources
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

import nhsrisk
from nhsrisk import cli
from nhsrisk._format import money_unit
from nhsrisk.scenario import BUILTIN_SCENARIOS, DEFAULT_SCENARIO
from tests._hardening import adds_work

# These tests read every output of the model, not only the headline ones a run keeps by default.
simulate_all = functools.partial(nhsrisk.simulate, keep="all")

VARIANTS = ("after-the-cut", "ring-fenced", "plus-digital-inclusion")
#: Key paths (of Scenario.to_dict()) where each variant may differ from as-announced, beyond its
#: name, title, description and baseline.
EXPECTED_DIFFERENCES = {
    "after-the-cut": {"budget_changes"},
    "ring-fenced": {"risks.raid_probability"},
    "plus-digital-inclusion": {"programmes.digital_inclusion"},
}
HEADER_KEYS = {"name", "title", "description", "baseline"}
DRAWS, SEED = 2_000, 7


def differences(a: Any, b: Any, path: str = "") -> set[str]:
    """Key paths at which two nested dicts differ: a changed value, or a key in only one of them."""
    if isinstance(a, dict) and isinstance(b, dict):
        found: set[str] = set()
        for key in a.keys() | b.keys():
            where = f"{path}.{key}" if path else key
            if key not in a or key not in b:
                found.add(where)
            else:
                found |= differences(a[key], b[key], where)
        return found
    return set() if a == b else {path}


@pytest.fixture(scope="module")
def base() -> nhsrisk.Scenario:
    return nhsrisk.load_scenario(DEFAULT_SCENARIO)


@pytest.fixture(scope="module")
def runs() -> dict[str, xr.Dataset]:
    """Every shipped scenario at the same seed and draws."""
    return {name: simulate_all(name, draws=DRAWS, seed=SEED) for name in BUILTIN_SCENARIOS}


# ---------------------------------------------------------------------------------
# The files
# ---------------------------------------------------------------------------------


def test_the_listing_and_the_loader_share_one_list_and_every_name_loads():
    assert BUILTIN_SCENARIOS == ("as-announced", *VARIANTS)
    for name in BUILTIN_SCENARIOS:
        scenario = nhsrisk.load_scenario(name)
        assert scenario.name == name
        assert scenario.baseline == (None if name == DEFAULT_SCENARIO else DEFAULT_SCENARIO)
        assert scenario.title and scenario.description.strip()
        # round trip: what the file says is what the model gets
        assert nhsrisk.Scenario.from_toml(scenario.to_toml()) == scenario


def test_every_shipped_scenario_is_installed_with_the_package():
    # The wheel carries the files the [tool.setuptools.package-data] globs match: every shipped
    # scenario must match one, or `nhsrisk run --scenario X` fails after a fresh install.
    config = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["nhsrisk.data"]
    folder = importlib.resources.files("nhsrisk") / "data"
    for name in BUILTIN_SCENARIOS:
        assert (folder / f"{name}.toml").is_file(), name
        assert any(fnmatch.fnmatch(f"{name}.toml", pattern) for pattern in globs), name


@pytest.mark.parametrize("name", VARIANTS)
def test_a_variant_differs_from_as_announced_only_where_its_name_says(name, base):
    variant = nhsrisk.load_scenario(name).to_dict()
    found = differences(variant, base.to_dict()) - HEADER_KEYS
    expected = EXPECTED_DIFFERENCES[name]
    # a difference inside an expected table (raid_probability.dist, .min, ...) counts as that table
    covered = {next((e for e in expected if path == e or path.startswith(f"{e}.")), path) for path in found}
    assert covered == expected


@pytest.mark.parametrize("name", VARIANTS)
def test_a_variant_file_is_as_announced_text_with_only_its_own_lines_changed(name):
    # A copy of as-announced.toml, edited: every line of the default is still there, byte for byte,
    # except the name, title and description (and the one risk ring-fenced replaces). An edit to
    # as-announced.toml that is not copied into the variants fails here.
    data = importlib.resources.files("nhsrisk") / "data"
    base_lines = (data / "as-announced.toml").read_text(encoding="utf-8").splitlines()
    variant_lines = (data / f"{name}.toml").read_text(encoding="utf-8").splitlines()
    start = base_lines.index('description = """')
    end = base_lines.index('"""', start + 1)
    allowed = {j for j, line in enumerate(base_lines) if line.startswith(("name = ", "title = "))}
    allowed |= set(range(start + 1, end))
    if name == "ring-fenced":
        allowed |= {j for j, line in enumerate(base_lines) if line.startswith("raid_probability = ")}
    matcher = difflib.SequenceMatcher(None, base_lines, variant_lines, autojunk=False)
    missing = [
        (j + 1, base_lines[j])
        for tag, i1, i2, _, _ in matcher.get_opcodes()
        if tag in ("replace", "delete")
        for j in range(i1, i2)
        if j not in allowed
    ]
    assert missing == [], f"lines of as-announced.toml missing from {name}.toml (line, text)"


def test_after_the_cut_is_the_recorded_cut_with_its_sources():
    (cut,) = nhsrisk.load_scenario("after-the-cut").budget_changes
    assert (cut.programme, cut.year, cut.amount) == ("it_modernisation", "2026/27", -325e6)
    # recorded: the size and where it came from, with the dispute; assumptions: midpoint, strand, year
    for needle in ("HSJ", "7036004", "Digital Health", "Nov 2023", "300-350m", "disputed", "Recorded:"):
        assert needle in cut.source, needle
    recorded, assumed = cut.source.split("Assumptions:")
    assert "midpoint" in assumed and "it_modernisation" in assumed and "2026/27" in assumed
    assert "325" not in recorded  # the midpoint is a judgement, not a recorded figure


def test_ring_fenced_has_no_raids_and_says_so():
    risk = nhsrisk.load_scenario("ring-fenced").risks.raid_probability
    assert risk.distribution.is_fixed and risk.distribution.mean() == 0.0
    assert risk.source.startswith("scenario:") and "ring-fenced" in risk.source


def test_plus_digital_inclusion_adds_a_costed_programme_that_lowers_exclusion_only():
    scenario = nhsrisk.load_scenario("plus-digital-inclusion")
    programme = scenario.programmes["digital_inclusion"]
    assert len(programme.spend.values) == len(scenario.years) == 10
    assert programme.spend.total == pytest.approx(50e6, rel=1e-12)  # GBP 50m cash over three years
    assert all(v > 0 for v in programme.spend.values[:3]) and not any(programme.spend.values[3:])
    # no value of its own: it works only through digital exclusion
    assert dict(programme.staff) == {} and programme.patients is None
    assert programme.non_staff_savings.distribution.mean() == 0.0
    assert programme.claimed_return.distribution.mean() == 0.0
    reached = programme.inclusion.excluded_share_reached
    low, high = reached.distribution.support()
    assert 0.0 < low < high < 1.0
    for needle in ("Good Things Foundation", "Tinder Foundation", "2016", "£2.7m", "221,941", "59%", "£12"):
        assert needle in reached.source, needle
    # Every judgement is labelled: each figure of the programme is an assumption with its reasoning.
    quantities = {
        k: q for k, q in scenario.quantities().items() if k.startswith("programmes.digital_inclusion")
    }
    assert len(quantities) == 20
    for key, quantity in quantities.items():
        assert quantity.is_assumption, key
        assert len(quantity.source) > len("assumption: ") + 20, key
    assert programme.spend.source.startswith("assumption:")
    # 2.7m / 221,941 trained = about GBP 12 a person, as the source says
    assert 2.7e6 / 221_941 == pytest.approx(12.2, abs=0.05)


# ---------------------------------------------------------------------------------
# The runs: common random numbers
# ---------------------------------------------------------------------------------


def test_after_the_cut_leaves_2025_26_bitwise_as_announced(runs):
    # The cut is in 2026/27: by causality and common random numbers, every output in 2025/26 is
    # bitwise the default's, and so is every sampled input.
    cut, default = runs["after-the-cut"], runs["as-announced"]
    by_year = [name for name, da in default.data_vars.items() if "year" in da.dims and "draw" in da.dims]
    assert {"spend", "uptake", "value", "cumulative_value", "funding_adequacy", "raid"} <= set(by_year)
    for name in by_year:
        np.testing.assert_array_equal(
            cut[name].sel(year="2025/26").values, default[name].sel(year="2025/26").values, err_msg=name
        )
    for name, da in default.data_vars.items():
        if da.attrs.get("sampled_input") == 1:
            np.testing.assert_array_equal(cut[name].values, da.values, err_msg=name)
    # ... and the cut does bite from 2026/27: less value by the target year in most draws
    later = cut["cumulative_value"].sel(year="2029/30") < default["cumulative_value"].sel(year="2029/30")
    assert float(later.mean()) > 0.5


def test_the_cut_removes_its_real_amount_from_the_it_strand_in_2026_27_only(runs):
    cut, default = runs["after-the-cut"], runs["as-announced"]
    scenario = nhsrisk.load_scenario("after-the-cut")
    real = scenario.real_terms_factors()[1]  # 2026/27 cash into 2023/24 prices
    planned = float(default["planned_spend"].sel(year="2026/27", programme="it_modernisation"))
    assert float(cut["budget_change"].sel(year="2026/27", programme="it_modernisation")) == pytest.approx(
        -325e6 * real, rel=1e-12
    )
    # A raid takes the same share of what is left in each draw: spend scales by (plan - cut) / plan.
    ratio = (planned - 325e6 * real) / planned
    spent = cut["spend"].sel(year="2026/27", programme="it_modernisation")
    np.testing.assert_allclose(
        spent, ratio * default["spend"].sel(year="2026/27", programme="it_modernisation"), rtol=1e-12
    )
    other = (cut["spend"] != default["spend"]).copy()
    other.loc[{"year": "2026/27", "programme": "it_modernisation"}] = False
    assert not bool(other.any())


def test_ring_fenced_spends_exactly_the_plan(runs):
    ring, default = runs["ring-fenced"], runs["as-announced"]
    assert not bool(ring["raid"].any())
    np.testing.assert_array_equal(ring["spend"], ring["planned_spend"].broadcast_like(ring["spend"]))
    assert bool((ring["spend"] >= default["spend"]).all())  # nothing is taken that the default keeps


def test_plus_digital_inclusion_only_adds_value_where_online_saves_work(runs):
    # Same inputs for the other programmes, so their spend and uptake are bitwise the same. Fewer
    # people excluded adds the patient channel's value, and the savings that need patients online
    # (hours and cash of the patient strand), in every draw where a contact moved online saves more
    # than it adds; the other strands need no one online and do not move at all.
    plus, default = runs["plus-digital-inclusion"], runs["as-announced"]
    old = {"programme": default["programme"].values}
    for name in ("spend", "running_cost", "additional_uptake"):
        np.testing.assert_array_equal(plus[name].sel(old), default[name], err_msg=name)
    others = {"programme": ["it_modernisation", "staff_technology"]}
    for name in ("hours_released", "cash_releasing_value", "value"):
        np.testing.assert_array_equal(plus[name].sel(others), default[name].sel(others), err_msg=name)
    saves = ~adds_work(default)
    gained = (plus["patient_value"].sel(old) - default["patient_value"]).where(saves, 0.0)
    assert bool((gained >= 0).all()) and float(gained.sum()) > 0
    hours = plus["hours_released"].sel(programme="patient_services") - default["hours_released"].sel(
        programme="patient_services"
    )
    assert bool((hours >= 0).all()) and float(hours.sum()) > 0
    assert (plus["contact_weighted_exclusion"] <= default["contact_weighted_exclusion"]).all()
    np.testing.assert_array_equal(plus["value"].sel(programme="digital_inclusion"), 0.0)


# ---------------------------------------------------------------------------------
# The budget-change effect
# ---------------------------------------------------------------------------------


def effect(runs: dict[str, xr.Dataset], name: str) -> xr.Dataset:
    return nhsrisk.budget_change_effect(runs[name], runs["as-announced"])


def test_after_the_cut_loses_value_and_ring_fenced_gains_it(runs):
    claim = "cumulative_value[2029/30]"
    for name, sign in (("after-the-cut", -1), ("ring-fenced", 1), ("plus-digital-inclusion", 1)):
        result = effect(runs, name)
        assert result.attrs["common_random_numbers"] == 1, name
        # each sign is clear of its Monte Carlo error by 4 standard errors
        assert sign * float(result["budget_change"]) > 4 * float(result["budget_change_mcse"]), name
        for output in (claim, "pv_benefits"):
            row = result.sel(output=output)
            assert sign * float(row["change"]) > 4 * float(row["change_mcse"]), (name, output)
            assert float(row["per_gbp"]) > 4 * float(row["per_gbp_mcse"]), (
                name,
                output,
            )  # value moves with money


def test_budget_changes_are_the_money_each_scenario_moves(runs):
    default = runs["as-announced"]
    total = default["spend"].sum(("year", "programme"))
    # ring-fenced: the money raids take from the default, on average
    ring = effect(runs, "ring-fenced")
    protected = float(runs["ring-fenced"]["planned_spend"].sum()) - float(total.mean())
    assert float(ring["budget_change"]) == pytest.approx(protected, rel=1e-9)
    # plus-digital-inclusion: the inclusion programme's real spend (the rest is unchanged)
    plus = effect(runs, "plus-digital-inclusion")
    inclusion = runs["plus-digital-inclusion"]["spend"].sel(programme="digital_inclusion").sum("year")
    assert float(plus["budget_change"]) == pytest.approx(float(inclusion.mean()), rel=1e-9)
    # after-the-cut: less than the real cut (GBP 297m), since raids would have taken part of it anyway
    cut = effect(runs, "after-the-cut")
    real_cut = 325e6 * nhsrisk.load_scenario("after-the-cut").real_terms_factors()[1]
    assert -real_cut < float(cut["budget_change"]) < -0.5 * real_cut


def test_common_random_numbers_shrink_the_error_of_a_change(runs):
    independent = nhsrisk.budget_change_effect(
        runs["after-the-cut"], simulate_all("as-announced", draws=DRAWS, seed=SEED + 1)
    )
    assert independent.attrs["common_random_numbers"] == 0
    common = effect(runs, "after-the-cut")
    for output in common["output"].values:
        ratio = float(
            common["change_mcse"].sel(output=output) / independent["change_mcse"].sel(output=output)
        )
        assert ratio < 0.2, output


# ---------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", VARIANTS)
def test_run_scenario_prints_both_horizons_and_the_change_against_its_baseline(name, tmp_path, capsys):
    out = tmp_path / name
    assert (
        cli.main(["run", "--scenario", name, "--draws", str(DRAWS), "--seed", str(SEED), "--out", str(out)])
        == 0
    )
    text = capsys.readouterr().out
    assert text.startswith(f"nhsrisk summary of {name}, {DRAWS:,} draws, seed {SEED}")
    claim = text.index("Claim window 2025/26 to 2029/30")
    appraisal = text.index("Appraisal period 2025/26 to 2034/35 (Green Book, 3.5%)")
    change = text.index("Change against as-announced: same seed and draws (common random numbers)")
    assert claim < appraisal < change
    # the printed change is the library's, on the same runs
    expected = nhsrisk.budget_change_effect(
        simulate_all(name, draws=DRAWS, seed=SEED),
        simulate_all("as-announced", draws=DRAWS, seed=SEED),
    )
    assert text[change:].startswith(cli.comparison_table(expected))
    budget_line = next(line for line in text.splitlines() if line.startswith("Budget change:"))
    # the table's unit is set by its largest amount (a budget change of £0.3bn shows in £m)
    unit = money_unit(float(expected["budget_change"]), expected["change"].values)
    assert f"change ({unit.code})" in text
    assert float(budget_line.split("spent")[1].split()[0]) == pytest.approx(
        unit.scaled(float(expected["budget_change"])), abs=5e-4
    )
    per_gbp = "less" if name == "after-the-cut" else "more"
    assert f"Per GBP {per_gbp} capital spent" in text
    moved = "lost" if name == "after-the-cut" else "gained"
    assert f"of claim-window value {moved}" in text
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as saved:
        assert saved.attrs["scenario_name"] == name and saved.sizes["draw"] == DRAWS


def test_run_without_a_seed_runs_the_baseline_on_the_run_s_own_seed(tmp_path, capsys):
    assert cli.main(["run", "--scenario", "ring-fenced", "--draws", "500", "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "same seed and draws (common random numbers), 500 draws" in text
    with xr.open_dataset(tmp_path / "results.nc", engine="h5netcdf") as saved:
        seed = int(saved.attrs["seed"])
    expected = nhsrisk.budget_change_effect(
        simulate_all("ring-fenced", draws=500, seed=seed), simulate_all(draws=500, seed=seed)
    )
    assert cli.comparison_table(expected) in text


def test_summary_only_run_of_a_variant_says_the_comparison_needs_the_draws(tmp_path, capsys):
    argv = ["run", "--scenario", "after-the-cut", "--draws", "3000", "--seed", "1", "--summary-only"]
    assert cli.main([*argv, "--out", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "Claim window 2025/26 to 2029/30" in text and "Appraisal period 2025/26 to 2034/35" in text
    assert "needs the draws of both runs: run without --summary-only" in text
