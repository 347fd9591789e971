"""Tests for nhsrisk.scenario (schema 2): the default scenario, round trips, immutability, variants,
validation of malformed files, "nothing is executed", scenarios saved in results files, and what a
scenario shows of itself (Markdown and HTML)."""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import importlib.resources
import inspect
import math
import pickle
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr

import nhsrisk
import nhsrisk.distributions
import nhsrisk.scenario
from nhsrisk import BUILTIN_SCENARIOS, Quantity, Scenario, ScenarioError, load_scenario
from nhsrisk.distributions import (
    PERT,
    Bernoulli,
    Beta,
    Discrete,
    Fixed,
    LogNormal,
    Normal,
    Triangular,
    TruncatedNormal,
    Uniform,
)
from nhsrisk.scenario import (
    SCENARIO_ALIASES,
    BudgetChange,
    Deflator,
    InclusionEffect,
    PatientChannel,
    Programme,
    Risks,
    Spend,
    StaffEffect,
    StaffGroup,
    Target,
    dumps_toml,
)

DATA = Path(__file__).parent / "data"
MINIMAL = DATA / "minimal-scenario.toml"
DEFAULT = "as-announced"
PROGRAMMES = ("it_modernisation", "staff_technology", "patient_services")
STAFF_GROUPS = ("gp", "gp_nurse", "gp_admin", "hospital_doctor", "hospital_nurse", "hospital_admin")
CLAIM_WINDOW = ("2025/26", "2026/27", "2027/28", "2028/29", "2029/30")
YEARS = (*CLAIM_WINDOW, "2030/31", "2031/32", "2032/33", "2033/34", "2034/35")
# A citation names a dated document (a year such as 2011 or 2024).
_DATED = re.compile(r"\b(19|20)\d{2}\b")


def shipped_text() -> str:
    return (importlib.resources.files("nhsrisk") / "data" / f"{DEFAULT}.toml").read_text(encoding="utf-8")


def shipped_data() -> dict[str, Any]:
    return tomllib.loads(shipped_text())


@pytest.fixture(scope="module")
def default() -> Scenario:
    return load_scenario()


def q(distribution: Any, source: str = "assumption: test value", note: str | None = None) -> Quantity:
    return Quantity(distribution, source, note)


def build_scenario(*, spend: Any = (1.0e8, 2.0e8), description: str = "built in Python") -> Scenario:
    """A small scenario built directly from the dataclasses, using every record type."""
    risks = Risks(
        raid_probability=q(PERT(0.1, 0.25, 0.5)),
        raid_fraction=q(Uniform(0.2, 0.6)),
        digital_exclusion=q(Triangular(0.08, 0.25, 0.32)),
        staff_capacity=q(Beta(8.0, 2.0)),
        social_care_leakage=q(TruncatedNormal(0.5, 0.1, 0.0, 1.0)),
        funding_elasticity=q(Fixed(1.0)),
        released_time_used=q(PERT(0.4, 0.6, 0.85, lam=6.0), note="a note"),
    )
    group = StaffGroup(
        label="GPs",
        fte=q(PERT(27400.0, 27966.0, 28600.0)),
        hours_per_fte=q(Fixed(2065.0)),
        cost_per_hour=q(Fixed(161.0)),
        max_release_share=q(PERT(0.08, 0.12, 0.18)),
    )
    programme = Programme(
        label="Programme",
        spend=Spend(spend, "assumption: test spend"),
        raid_exposure=q(Fixed(0.5)),
        cost_overrun=q(LogNormal(0.0, 0.25)),
        black_swan=q(Bernoulli(0.17), "Flyvbjerg & Budzier, HBR 89(9), 2011"),
        black_swan_overrun=q(LogNormal(0.97, 0.5)),
        delivery_delay=q(Discrete((0.0, 1.0, 2.0), (0.4, 0.4, 0.2))),
        uptake_ceiling=q(Fixed(0.8)),
        uptake_midpoint=q(Normal(1.0, 0.5)),
        uptake_steepness=q(Fixed(1.5)),
        do_minimum_ceiling=q(PERT(0.0, 0.1, 0.2)),
        do_minimum_midpoint=q(Fixed(2.0)),
        do_minimum_steepness=q(Fixed(0.8)),
        support_years=q(Discrete((1.0, 5.0), (0.3, 0.7))),
        benefit_decay=q(Fixed(0.1)),
        running_cost=q(PERT(0.05, 0.1, 0.2)),
        cashed_share=q(Fixed(0.2)),
        non_staff_savings=q(Fixed(1.0e6)),
        social_care_share=q(Fixed(0.05)),
        residual_life=q(Fixed(2.0)),
        staff={"gp": StaffEffect(q(Fixed(0.08)), q(Fixed(0.5)))},
        patients=PatientChannel(q(Fixed(1.0e6)), q(PERT(1.0, 3.0, 8.0))),
        inclusion=InclusionEffect(q(Fixed(0.3))),
        claimed_return=q(Fixed(5.0e8)),
    )
    return Scenario(
        name="python-built",
        title="Built in Python",
        description=description,
        years=["2025/26", "2026/27"],
        price_base="2024/25",
        deflator=Deflator(["2024/25", "2025/26", "2026/27"], [100.0, 102.0, 104.0], "assumption: test"),
        discount_rate=q(Fixed(0.035), "HM Treasury Green Book (2022)"),
        long_term_discount_rate=q(Fixed(0.03), "HM Treasury Green Book (2022)"),
        target=Target("test target", q(Fixed(1.0e9)), year="2026/27"),
        risks=risks,
        staff_groups={"gp": group},
        programmes={"prog": programme},
        budget_changes=[BudgetChange("prog", "2026/27", -5.0e7, "assumption: test cut", note="a cut")],
        baseline="as-announced",
    )


# =====================================================================================
# 1. The shipped default scenario
# =====================================================================================


def test_default_is_loaded_by_name_and_without_argument(default: Scenario) -> None:
    assert DEFAULT in BUILTIN_SCENARIOS
    assert nhsrisk.scenario.DEFAULT_SCENARIO == DEFAULT
    assert isinstance(default, Scenario)
    assert default.name == DEFAULT
    assert load_scenario(DEFAULT) == default
    # its former name loads the same file
    assert SCENARIO_ALIASES["spring-budget-2024"] == DEFAULT
    assert load_scenario("spring-budget-2024") == default
    # A Scenario passes through unchanged.
    assert load_scenario(default) is default


def test_default_years_and_price_base(default: Scenario) -> None:
    # the appraisal period: ten years from the first year of spend (Green Book); the claim window
    # ends at the target year
    assert default.years == YEARS
    assert default.target_year == "2029/30"
    assert default.claim_years == CLAIM_WINDOW
    assert default.price_base == "2023/24"
    assert default.schema_version == 2
    assert default.budget_changes == () and default.baseline is None
    # the deflator turns cash into 2023/24 prices, 1 in the price base year itself
    factors = default.real_terms_factors()
    assert factors.shape == (10,)
    assert default.deflator.factor("2023/24", "2023/24") == 1.0
    assert np.all(np.diff(factors) < 0) and np.all(factors < 1)


def test_default_programmes_and_planned_spend(default: Scenario) -> None:
    assert tuple(default.programmes) == PROGRAMMES
    # The file's own figures: GBP 2.0bn, 1.0bn and about 0.43bn per strand, 2025/26-2027/28 only.
    expected = {"it_modernisation": 2.0e9, "staff_technology": 1.0e9, "patient_services": 0.43e9}
    for pid, total in expected.items():
        spend = default.programmes[pid].spend
        assert len(spend.values) == len(YEARS)
        assert spend.total == pytest.approx(total, rel=1e-12)
        assert spend.values[3:] == (0.0,) * 7, "nothing is spent after 2027/28"
        assert all(v > 0 for v in spend.values[:3])
        assert spend.source.strip()
    assert default.total_spend == pytest.approx(3.43e9, rel=1e-12)
    # The file explains why the strands sum to 3.43bn rather than the 3.4bn headline.
    assert "3.43bn" in default.programmes["patient_services"].spend.source
    assert "3.4bn" in default.title


def test_default_staff_groups(default: Scenario) -> None:
    assert tuple(default.staff_groups) == STAFF_GROUPS
    for gid, group in default.staff_groups.items():
        assert group.label.strip(), gid
    for programme in default.programmes.values():
        assert set(programme.staff) <= set(STAFF_GROUPS)


def test_default_target_and_discount_rate(default: Scenario) -> None:
    claim = default.target.claimed_return
    assert claim.distribution == Fixed(7.0e9)
    assert claim.distribution.mean() == 7.0e9
    assert default.target.description.strip()
    # The target is the sum of the strand figures the file gives (4bn + 3bn + 0).
    strands = [p.claimed_return.distribution.mean() for p in default.programmes.values()]
    assert strands == [4.0e9, 3.0e9, 0.0]
    assert math.fsum(strands) == 7.0e9
    assert default.discount_rate.distribution == Fixed(0.035)
    assert "Green Book" in default.discount_rate.source
    assert default.long_term_discount_rate.distribution == Fixed(0.03)
    assert "Green Book" in default.long_term_discount_rate.source


def test_default_every_number_has_a_source(default: Scenario) -> None:
    quantities = default.quantities()
    assert "discount_rate" in quantities
    assert "target.claimed_return" in quantities
    assert "risks.digital_exclusion" in quantities
    assert "staff_groups.hospital_nurse.fte" in quantities
    assert "programmes.it_modernisation.staff.gp.addressable_share" in quantities
    assert "programmes.patient_services.patients.value_per_contact" in quantities
    assert "long_term_discount_rate" in quantities
    assert "programmes.staff_technology.cost_overrun" in quantities
    # discount rates, target, 7 risks, 4 per staff group, 19 per programme (claimed return
    # included), 2 per staff effect (6 + 6 + 2), the 5 of the patient channel and the 4 single
    # figures of the population (its profiles are not quantities)
    assert len(quantities) == 2 + 1 + 7 + 6 * 4 + 3 * 19 + 2 * (6 + 6 + 2) + 5 + 4
    for path, quantity in quantities.items():
        assert isinstance(quantity, Quantity), path
        assert isinstance(quantity.source, str) and quantity.source.strip(), path


def test_default_sources_are_citations_or_assumptions(default: Scenario) -> None:
    sources = {path: quantity.source for path, quantity in default.quantities().items()}
    sources.update({f"programmes.{pid}.spend": p.spend.source for pid, p in default.programmes.items()})
    for path, source in sources.items():
        if source.lower().startswith("assumption"):
            reasoning = source[len("assumption") :].strip(" :(")
            assert len(reasoning) >= 8, f"{path}: an assumption must give its reasoning"
        else:
            assert _DATED.search(source), (
                f"{path}: not an assumption, so must cite a dated source: {source!r}"
            )
    for path, quantity in default.quantities().items():
        assert quantity.is_assumption == quantity.source.lower().startswith("assumption"), path


# Figures /work/shared/defaults.md lists as unconfirmed (or as assumptions) must be labelled so.
@pytest.mark.parametrize(
    "path",
    [
        "staff_groups.hospital_nurse.fte",  # hchs_nurse_fte: unconfirmed
        "staff_groups.gp_admin.cost_per_hour",  # cost_admin_hour: unconfirmed proxy
        "staff_groups.hospital_admin.cost_per_hour",  # cost_admin_hour: unconfirmed proxy
        "risks.digital_exclusion",  # the 25% point is unconfirmed
        "risks.raid_probability",  # budget erosion: assumption informed by episodes
        "risks.raid_fraction",
        "programmes.it_modernisation.staff.gp.addressable_share",  # 8% of GP time: survey unconfirmed
        "programmes.patient_services.claimed_return",  # patient-access claim: unconfirmed
        # the v2 cash lines and the counterfactual have no primary source
        "programmes.it_modernisation.cashed_share",
        "programmes.staff_technology.cashed_share",
        "programmes.patient_services.cashed_share",
        "programmes.it_modernisation.non_staff_savings",
        "programmes.it_modernisation.do_minimum_ceiling",
        "programmes.staff_technology.do_minimum_ceiling",
        "programmes.patient_services.do_minimum_ceiling",
    ],
)
def test_default_unconfirmed_figures_are_labelled_assumption(default: Scenario, path: str) -> None:
    quantity = default.quantities()[path]
    assert quantity.is_assumption, f"{path}: {quantity.source[:80]!r}"
    assert quantity.source.lower().startswith("assumption")


def test_default_digital_exclusion_keeps_the_unconfirmed_25_percent_point(default: Scenario) -> None:
    quantity = default.risks.digital_exclusion
    assert isinstance(quantity.distribution, PERT)
    assert quantity.distribution.mode == 0.25
    assert (quantity.distribution.low, quantity.distribution.high) == (0.08, 0.32)
    assert "unconfirmed" in quantity.source


# =====================================================================================
# 2. Round trips
# =====================================================================================


def test_round_trip_default(default: Scenario) -> None:
    text = default.to_toml()
    again = Scenario.from_toml(text)
    assert again == default
    assert again.to_toml() == text, "to_toml must be text-stable"
    assert again.sha256() == default.sha256()


@pytest.mark.parametrize("name", BUILTIN_SCENARIOS)
def test_round_trip_every_builtin(name: str) -> None:
    scenario = load_scenario(name)
    assert Scenario.from_toml(scenario.to_toml()) == scenario


def test_shipped_file_equals_its_redump(default: Scenario) -> None:
    original = Scenario.from_toml(shipped_text(), file="shipped")
    assert original == default
    assert Scenario.from_toml(original.to_toml()) == original
    # Data-level check: the re-dump carries every key and value of the file; the only
    # additions are PERT's default lambda = 4.0, written out explicitly.
    redumped = tomllib.loads(default.to_toml())

    def strip_default_lambda(node: Any, reference: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: strip_default_lambda(v, reference.get(k) if isinstance(reference, dict) else None)
                for k, v in node.items()
                if not (
                    k == "lambda"
                    and v == 4.0
                    and node.get("dist") == "pert"
                    and isinstance(reference, dict)
                    and "lambda" not in reference
                )
            }
        return node

    assert strip_default_lambda(redumped, shipped_data()) == shipped_data()


def test_round_trip_hand_written_fixture() -> None:
    scenario = load_scenario(MINIMAL)
    only = scenario.programmes["only"]
    assert scenario.name == "minimal"
    assert only.patients is None and only.inclusion is None and only.claimed_return is None
    assert scenario.budget_changes == () and scenario.baseline is None and scenario.correlations is None
    assert scenario.target.year is None and scenario.target_year == "2026/27"
    assert scenario.claim_years == scenario.years
    assert scenario.risks.staff_capacity.note == "a note"
    assert only.spend.note == "spend note"
    assert scenario.risks.staff_capacity.distribution == PERT(0.6, 0.8, 1.0, lam=6.0)
    assert scenario.risks.funding_elasticity.distribution == Fixed(1.0)
    assert scenario.risks.raid_probability.distribution.mean() == pytest.approx(0.2, rel=1e-12)
    assert only.cost_overrun.distribution.ppf(0.5) == pytest.approx(1.0, rel=1e-12)
    assert only.support_years.distribution == Fixed(3.0)
    assert scenario.deflator.index == (96.0, 100.0, 103.0, 105.5)
    np.testing.assert_allclose(scenario.real_terms_factors(), [96.0 / 103.0, 96.0 / 105.5], rtol=1e-15)
    text = scenario.to_toml()
    again = Scenario.from_toml(text)
    assert again == scenario
    assert again.to_toml() == text


def test_round_trip_scenario_built_in_python() -> None:
    scenario = build_scenario()
    assert scenario.years == ("2025/26", "2026/27")
    text = scenario.to_toml()
    again = Scenario.from_toml(text)
    assert again == scenario
    assert again.to_toml() == text
    assert again.risks.released_time_used.note == "a note"
    assert again.programmes["prog"].patients == scenario.programmes["prog"].patients
    assert again.programmes["prog"].inclusion == InclusionEffect(q(Fixed(0.3)))
    assert again.budget_changes == (BudgetChange("prog", "2026/27", -5.0e7, "assumption: test cut", "a cut"),)
    assert again.deflator == Deflator(
        ("2024/25", "2025/26", "2026/27"), (100.0, 102.0, 104.0), "assumption: test"
    )
    assert again.baseline == "as-announced"
    # the lists given to the constructors were frozen
    assert isinstance(scenario.budget_changes, tuple) and isinstance(scenario.deflator.years, tuple)


def test_round_trip_python_built_spend_given_as_list() -> None:
    scenario = build_scenario(spend=[1.0e8, 2.0e8])
    assert Scenario.from_toml(scenario.to_toml()) == scenario
    assert isinstance(scenario.programmes["prog"].spend.values, tuple)


def test_the_toml_writer_escapes_control_characters() -> None:
    # A scenario holds none (the loader refuses them), but dumps_toml writes any string TOML can hold.
    text = "bell\x07 escape\x1b delete\x7f nul\x00 end"
    assert tomllib.loads(dumps_toml({"description": text}))["description"] == text


def test_a_control_character_in_a_description_is_refused() -> None:
    with pytest.raises(ScenarioError, match=r"^description: contains the control character '\\x07'"):
        build_scenario(description="bell\x07 escape\x1b delete\x7f end")


def test_round_trip_strings_with_toml_special_characters() -> None:
    description = (
        'quote " backslash \\ newline \n tab \t unicode £ é \u2028 """ \'\'\' [table] # not a comment'
    )
    scenario = build_scenario(description=description)
    again = Scenario.from_toml(scenario.to_toml())
    assert again == scenario
    assert again.description == description


def test_round_trip_variant(default: Scenario) -> None:
    variant = default.with_values(
        {
            "risks.digital_exclusion": Beta(24.9, 58.1),
            "programmes.it_modernisation.uptake_ceiling": 0.5,
            "name": "variant",
        }
    )
    assert Scenario.from_toml(variant.to_toml()) == variant


def test_python_built_scenario_is_validated() -> None:
    scenario = build_scenario()
    bad_risks = dataclasses.replace(scenario.risks, digital_exclusion=q(Uniform(0.5, 1.5)))
    with pytest.raises(ScenarioError, match=r"risks\.digital_exclusion") as info:
        dataclasses.replace(scenario, risks=bad_risks)
    assert info.value.path == "risks.digital_exclusion"
    with pytest.raises(ScenarioError, match=r"risks\.raid_fraction\.source"):
        dataclasses.replace(
            scenario, risks=dataclasses.replace(scenario.risks, raid_fraction=q(Uniform(0.1, 0.2), "  "))
        )
    with pytest.raises(ScenarioError, match=r"budget_changes\[0\]\.programme"):
        dataclasses.replace(scenario, budget_changes=(BudgetChange("nope", "2025/26", -1.0, "x"),))
    with pytest.raises(ScenarioError, match=r"deflator\.years"):
        dataclasses.replace(scenario, deflator=Deflator(("2024/25",), (100.0,), "x"))
    with pytest.raises(ScenarioError, match=r"programmes\.prog\.spend\.values"):
        programme = dataclasses.replace(scenario.programmes["prog"], spend=Spend((1.0,), "x"))
        dataclasses.replace(scenario, programmes={"prog": programme})


# =====================================================================================
# 2b. Schema 2: budget changes, deflator, inclusion and the two horizons
# =====================================================================================

CUT = {
    "programme": "it_modernisation",
    "year": "2026/27",
    "amount": -3.25e8,
    "source": "HSJ (Nov 2023): frontline digitisation fund raided for strike costs",
    "note": "test",
}
TOP_UP = {"programme": "patient_services", "year": "2025/26", "amount": 2.0e7, "source": "assumption: test"}


def _variant(default: Scenario) -> Scenario:
    """The default with two budget changes, an inclusion table, a baseline and a target year."""
    return default.with_values(
        {
            "budget_changes": [CUT, TOP_UP],
            "programmes.patient_services.inclusion": {
                "excluded_share_reached": {"dist": "pert", "min": 0.1, "mode": 0.2, "max": 0.4, "source": "x"}
            },
            "baseline": DEFAULT,
            "name": "variant",
        }
    )


def test_round_trip_with_budget_changes_and_an_inclusion_table(default: Scenario) -> None:
    scenario = _variant(default)
    text = scenario.to_toml()
    again = Scenario.from_toml(text)
    assert again == scenario
    assert again.to_toml() == text
    assert again.sha256() == scenario.sha256()
    # written as an array of tables, in order, after the programmes
    assert text.count("\n[[budget_changes]]\n") == 2
    assert text.index("[programmes.patient_services.inclusion]") < text.index("[[budget_changes]]")
    assert again.budget_changes == (
        BudgetChange(**CUT),
        BudgetChange(**TOP_UP),
    )
    assert again.programmes["patient_services"].inclusion.excluded_share_reached.distribution == PERT(
        0.1, 0.2, 0.4
    )
    assert again.baseline == DEFAULT
    assert again.total_budget_change == pytest.approx(-3.25e8 + 2.0e7, rel=1e-15)
    table = again.budget_change_table()
    assert table.shape == (3, 10)
    assert table[0, 1] == -3.25e8 and table[2, 0] == 2.0e7
    assert np.count_nonzero(table) == 2


def test_budget_changes_in_one_year_add_up_and_may_take_all_the_plan(default: Scenario) -> None:
    # a cut of exactly the year's plan is allowed, and so is a cut made good by a top-up
    whole_year = {**CUT, "amount": -7.0e8}
    scenario = default.with_values({"budget_changes": [whole_year]})
    assert scenario.budget_change_table()[0, 1] == -7.0e8
    deeper = {**CUT, "amount": -8.0e8}
    back = {**CUT, "amount": 2.0e8}
    made_good = default.with_values({"budget_changes": [deeper, back]})
    assert made_good.budget_change_table()[0, 1] == -6.0e8
    with pytest.raises(ScenarioError) as info:
        default.with_values({"budget_changes": [deeper]})
    assert info.value.path == "budget_changes[0].amount"


@pytest.mark.parametrize(
    "changes",
    [
        [CUT, TOP_UP],
        (CUT, TOP_UP),
        [BudgetChange(**CUT), BudgetChange(**TOP_UP)],
        (BudgetChange(**CUT), TOP_UP),
    ],
    ids=["list-of-dicts", "tuple-of-dicts", "list-of-records", "mixed"],
)
def test_with_values_sets_budget_changes(default: Scenario, changes: Any) -> None:
    variant = default.with_values({"budget_changes": changes})
    assert variant.budget_changes == (BudgetChange(**CUT), BudgetChange(**TOP_UP))
    assert default.budget_changes == ()
    # and an empty list takes them away again: the same model, which records how it got there
    again = variant.with_values({"budget_changes": []})
    assert again.changes == ("budget_changes = 2 changes (GBP -305m cash)", "budget_changes = none")
    assert dataclasses.replace(again, changes=()) == default


def test_with_values_sets_fields_of_the_new_tables(default: Scenario) -> None:
    index = list(default.deflator.index)
    index[-1] = 125.0
    variant = default.with_values(
        {
            "deflator.index": np.array(index),
            "deflator.source": "assumption: a faster rise in 2034/35",
            "long_term_discount_rate": 0.02,
            "target.year": "2031/32",
            "programmes.patient_services.cashed_share": 0.5,
            "programmes.patient_services.residual_life": 5,
        }
    )
    assert variant.deflator.index[-1] == 125.0 and variant.deflator.index[:-1] == default.deflator.index[:-1]
    assert variant.deflator.source == "assumption: a faster rise in 2034/35"
    assert variant.real_terms_factors()[-1] == pytest.approx(96.1117 / 125.0, rel=1e-15)
    assert variant.long_term_discount_rate.distribution == Fixed(0.02)
    assert variant.target_year == "2031/32" and len(variant.claim_years) == 7
    assert variant.programmes["patient_services"].cashed_share.distribution == Fixed(0.5)
    assert variant.programmes["patient_services"].residual_life.distribution == Fixed(5.0)
    # inclusion: a whole table first, then a field inside it
    included = _variant(default).with_values(
        {"programmes.patient_services.inclusion.excluded_share_reached": 0.3}
    )
    assert included.programmes["patient_services"].inclusion == InclusionEffect(
        Quantity(Fixed(0.3), "assumption: value set by the user with Scenario.with_values")
    )
    # records as values: a whole inclusion table, a whole deflator
    record = InclusionEffect(q(Fixed(0.25)))
    variant = default.with_values(
        {"programmes.staff_technology.inclusion": record, "deflator": variant.deflator}
    )
    assert variant.programmes["staff_technology"].inclusion == record
    assert variant.deflator.index[-1] == 125.0


def test_scenario_error_survives_pickling() -> None:
    # a dask worker that raises it sends it to the client pickled
    error = ScenarioError("budget_changes[0].year", "must be one of the scenario years", "f.toml")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is ScenarioError
    assert (again.path, again.problem, again.file, str(again)) == (
        error.path,
        error.problem,
        error.file,
        str(error),
    )


def test_discount_factors_follow_the_green_book_schedule(default: Scenario) -> None:
    factors = default.discount_factors(40)
    t = np.arange(40)
    expected = np.where(t <= 30, 1.035**-t, 1.035**-30 * 1.03 ** -(t - 30.0))
    np.testing.assert_allclose(factors, expected, rtol=1e-14)
    assert factors[0] == 1.0


# =====================================================================================
# 3. Immutability
# =====================================================================================


@pytest.mark.parametrize(
    "target, attribute",
    [
        (lambda s: s, "name"),
        (lambda s: s, "years"),
        (lambda s: s, "programmes"),
        (lambda s: s.risks, "digital_exclusion"),
        (lambda s: s.target, "claimed_return"),
        (lambda s: s.staff_groups["gp"], "fte"),
        (lambda s: s.programmes["it_modernisation"], "label"),
        (lambda s: s.programmes["it_modernisation"].spend, "values"),
        (lambda s: s.programmes["it_modernisation"].staff["gp"], "addressable_share"),
        (lambda s: s.risks.digital_exclusion, "source"),
        (lambda s: s.risks.digital_exclusion.distribution, "mode"),
    ],
)
def test_attributes_cannot_be_assigned(
    default: Scenario, target: Callable[[Scenario], Any], attribute: str
) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(target(default), attribute, None)


def test_mappings_cannot_be_mutated(default: Scenario) -> None:
    programme = default.programmes["it_modernisation"]
    with pytest.raises(TypeError):
        default.programmes["new"] = programme  # type: ignore[index]
    with pytest.raises(TypeError):
        del default.programmes["it_modernisation"]  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        default.staff_groups["gp"] = default.staff_groups["gp_nurse"]  # type: ignore[index]
    with pytest.raises(TypeError):
        programme.staff["gp"] = programme.staff["gp_nurse"]  # type: ignore[index]
    with pytest.raises(TypeError):
        default.programmes["patient_services"].staff["gp"] = None  # type: ignore[index]
    with pytest.raises(TypeError):
        default.years[0] = "2024/25"  # type: ignore[index]
    with pytest.raises(TypeError):
        programme.spend.values[0] = 0.0  # type: ignore[index]
    assert default == load_scenario()


def test_python_built_scenario_does_not_share_the_callers_dicts() -> None:
    scenario = build_scenario()
    staff_groups = dict(scenario.staff_groups)
    programmes = dict(scenario.programmes)
    staff = dict(programmes["prog"].staff)
    programme = dataclasses.replace(programmes["prog"], staff=staff)
    built = dataclasses.replace(scenario, staff_groups=staff_groups, programmes={"prog": programme})
    staff_groups.clear()
    staff.clear()
    assert list(built.staff_groups) == ["gp"]
    assert list(built.programmes["prog"].staff) == ["gp"]
    with pytest.raises(TypeError):
        built.programmes["prog"].staff["gp"] = None  # type: ignore[index]


# =====================================================================================
# 4. with_values
# =====================================================================================


def test_with_values_distribution(default: Scenario) -> None:
    before = default.to_toml()
    new = Beta(24.9, 58.1)
    variant = default.with_values({"risks.digital_exclusion": new})
    assert variant.risks.digital_exclusion.distribution == new
    assert (
        variant.risks.digital_exclusion.source
        == "assumption: value set by the user with Scenario.with_values"
    )
    assert variant.risks.digital_exclusion.distribution.mean() == pytest.approx(0.3, rel=1e-12)
    # Only that quantity changed.
    assert (
        dataclasses.replace(variant.risks, digital_exclusion=default.risks.digital_exclusion) == default.risks
    )
    assert variant.programmes == default.programmes
    # The original is unchanged.
    assert default.to_toml() == before
    assert isinstance(default.risks.digital_exclusion.distribution, PERT)


def test_with_values_acceptance_example_beta_from_mean_sd(default: Scenario) -> None:
    variant = default.with_values({"risks.digital_exclusion": Beta.from_mean_sd(0.3, 0.05)})
    assert variant.risks.digital_exclusion.distribution.mean() == pytest.approx(0.3, rel=1e-12)
    assert variant.risks.digital_exclusion.distribution.std() == pytest.approx(0.05, rel=1e-12)


def test_with_values_source_argument(default: Scenario) -> None:
    variant = default.with_values({"risks.digital_exclusion": 0.3}, source="assumption: sensitivity test")
    assert variant.risks.digital_exclusion.source == "assumption: sensitivity test"
    assert variant.risks.digital_exclusion.is_assumption


@pytest.mark.parametrize("number", [0.3, 0, 1])
def test_with_values_number_becomes_fixed(default: Scenario, number: float) -> None:
    variant = default.with_values({"risks.digital_exclusion": number})
    assert variant.risks.digital_exclusion.distribution == Fixed(float(number))
    assert variant.risks.digital_exclusion.source.strip()


def test_with_values_quantity_keeps_its_source(default: Scenario) -> None:
    quantity = Quantity(PERT(0.1, 0.2, 0.3), "Lloyds Consumer Digital Index 2024", note="a note")
    variant = default.with_values({"risks.digital_exclusion": quantity})
    assert variant.risks.digital_exclusion == quantity
    assert variant.risks.digital_exclusion.source == "Lloyds Consumer Digital Index 2024"
    assert variant.risks.digital_exclusion.note == "a note"


def test_with_values_strings(default: Scenario) -> None:
    variant = default.with_values(
        {"name": "variant", "title": "A variant", "programmes.staff_technology.label": "Staff tech"}
    )
    assert variant.name == "variant"
    assert variant.title == "A variant"
    assert variant.programmes["staff_technology"].label == "Staff tech"
    assert default.name == DEFAULT


@pytest.mark.parametrize("values", [[1.0e8] * 10, (1.0e8,) * 10, [100_000_000] * 10, np.full(10, 1.0e8)])
def test_with_values_spend_list(default: Scenario, values: Any) -> None:
    variant = default.with_values({"programmes.it_modernisation.spend": values})
    spend = variant.programmes["it_modernisation"].spend
    assert spend.values == (1.0e8,) * 10
    assert isinstance(spend.values, tuple)
    assert spend.source.strip()
    assert variant.total_spend == pytest.approx(1.0e9 + 1.0e9 + 0.43e9, rel=1e-12)
    assert default.programmes["it_modernisation"].spend.total == pytest.approx(2.0e9, rel=1e-12)


def test_with_values_spend_values_keeps_spend_source(default: Scenario) -> None:
    variant = default.with_values({"programmes.it_modernisation.spend.values": [1.0e8] * 10})
    spend = variant.programmes["it_modernisation"].spend
    assert spend.values == (1.0e8,) * 10
    assert spend.source == default.programmes["it_modernisation"].spend.source


def test_with_values_several_at_once_and_chained(default: Scenario) -> None:
    variant = default.with_values({"discount_rate": 0.015, "target.claimed_return": 3.5e10})
    assert variant.discount_rate.distribution == Fixed(0.015)
    assert variant.target.claimed_return.distribution == Fixed(3.5e10)
    again = variant.with_values({"discount_rate": 0.035})
    assert again.discount_rate.distribution == Fixed(0.035)
    assert variant.discount_rate.distribution == Fixed(0.015)


@pytest.mark.parametrize(
    "values, path",
    [
        ({"risks.no_such_risk": 0.3}, "risks.no_such_risk"),
        ({"no_such_table.value": 0.3}, "no_such_table"),
        ({"programmes.no_such_programme.uptake_ceiling": 0.5}, "programmes.no_such_programme"),
        ({"staff_groups.gp.no_such_field": 1.0}, "staff_groups.gp.no_such_field"),
        ({"name.sub": "x"}, "name.sub"),
        ({"risks.digital_exclusion.median": 0.2}, "risks.digital_exclusion"),
        # schema-1 keys: the error says where they went
        ({"risks.cost_overrun": 1.2}, "risks.cost_overrun"),
        ({"programmes.it_modernisation.realisation_lag": 0.5}, "programmes.it_modernisation.realisation_lag"),
    ],
)
def test_with_values_bad_key_path(default: Scenario, values: dict[str, Any], path: str) -> None:
    with pytest.raises(ScenarioError) as info:
        default.with_values(values)
    assert path in str(info.value)


@pytest.mark.parametrize(
    "values, path, problem",
    [
        ({"risks.digital_exclusion": Uniform(0.5, 1.1)}, "risks.digital_exclusion", "<= 1"),
        ({"risks.digital_exclusion": Normal(0.2, 0.05)}, "risks.digital_exclusion", ">= 0"),
        ({"staff_groups.gp.fte": PERT(-10.0, 5.0, 10.0)}, "staff_groups.gp.fte", ">= 0"),
        ({"discount_rate": PERT(0.01, 0.035, 0.05)}, "discount_rate", "fixed"),
        (
            {"programmes.it_modernisation.spend": [-1.0, 1.0e8, 1.0e8] + [0.0] * 7},
            "programmes.it_modernisation.spend.values[0]",
            ">= 0",
        ),
        (
            {"programmes.it_modernisation.spend": [1.0e8] * 4},
            "programmes.it_modernisation.spend.values",
            "one amount per year",
        ),
        ({"name": 5}, "name", "string"),
        ({"programmes.it_modernisation.black_swan": True}, "programmes.it_modernisation.black_swan", "table"),
        (
            {"programmes.it_modernisation.support_years": -1.0},
            "programmes.it_modernisation.support_years",
            ">= 0",
        ),
        (
            {"programmes.it_modernisation.residual_life": Uniform(1.0, 3.0)},
            "programmes.it_modernisation.residual_life",
            "fixed",
        ),
        ({"deflator.index": [100.0] * 11 + [0.0]}, "deflator.index[11]", "> 0"),
        ({"long_term_discount_rate": 1.5}, "long_term_discount_rate", "<= 1"),
        ({"baseline": "  "}, "baseline", "empty"),
        pytest.param(
            {"risks.digital_exclusion": 1.2},
            "risks.digital_exclusion",
            "<= 1",
        ),
        pytest.param(
            {"staff_groups.gp.fte": -1.0},
            "staff_groups.gp.fte",
            ">= 0",
        ),
    ],
)
def test_with_values_out_of_range(default: Scenario, values: dict[str, Any], path: str, problem: str) -> None:
    before = default.to_toml()
    with pytest.raises(ScenarioError) as info:
        default.with_values(values)
    assert info.value.path == path
    assert path in str(info.value)
    assert problem in str(info.value)
    assert default.to_toml() == before


def _new_programme(default: Scenario) -> dict[str, Any]:
    table = copy.deepcopy(default.to_dict()["programmes"]["patient_services"])
    table["label"] = "Social care digitisation"
    table["spend"] = {"values": [5.0e7, 5.0e7] + [0.0] * 8, "source": "assumption: hypothetical"}
    del table["claimed_return"]
    return table


def test_with_values_adds_a_new_programme(default: Scenario) -> None:
    variant = default.with_values({"programmes.social_care": _new_programme(default)})
    assert tuple(variant.programmes) == (*PROGRAMMES, "social_care")
    added = variant.programmes["social_care"]
    assert added.label == "Social care digitisation"
    assert added.claimed_return is None
    assert added.spend.total == pytest.approx(1.0e8)
    assert variant.total_spend == pytest.approx(3.53e9, rel=1e-12)
    assert set(added.staff) == {"hospital_doctor", "hospital_admin"}
    assert "social_care" not in default.programmes
    assert Scenario.from_toml(variant.to_toml()) == variant


@pytest.mark.parametrize(
    "mutate, path",
    [
        (
            lambda t: t["spend"].update(values=[-5.0e7, 5.0e7] + [0.0] * 8),
            "programmes.social_care.spend.values[0]",
        ),
        (
            lambda t: t["staff"].update(pharmacist=t["staff"]["hospital_doctor"]),
            "programmes.social_care.staff.pharmacist",
        ),
        (lambda t: t.pop("uptake_ceiling"), "programmes.social_care.uptake_ceiling"),
        (lambda t: t.update(colour="blue"), "programmes.social_care.colour"),
        (lambda t: t["raid_exposure"].update(max=1.5), "programmes.social_care.raid_exposure"),
    ],
)
def test_with_values_new_programme_is_validated(
    default: Scenario, mutate: Callable[[dict[str, Any]], Any], path: str
) -> None:
    table = _new_programme(default)
    mutate(table)
    with pytest.raises(ScenarioError) as info:
        default.with_values({"programmes.social_care": table})
    assert info.value.path == path


# =====================================================================================
# 5. Malformed files
# =====================================================================================

Mutation = Callable[[dict[str, Any]], Any]


def _risk(d: dict[str, Any], name: str = "digital_exclusion") -> dict[str, Any]:
    return d["risks"][name]


def _prog(d: dict[str, Any], name: str = "it_modernisation") -> dict[str, Any]:
    return d["programmes"][name]


MALFORMED: list[Any] = [
    # unknown keys
    pytest.param(lambda d: d.update(colour="blue"), "colour", "unknown key", id="unknown-top-level"),
    pytest.param(
        lambda d: d["risks"].update(meteor={"value": 0.1, "source": "x"}),
        "risks.meteor",
        "unknown key",
        id="unknown-risk",
    ),
    pytest.param(
        lambda d: _prog(d).update(budget={"value": 1.0, "source": "x"}),
        "programmes.it_modernisation.budget",
        "unknown key",
        id="unknown-programme-field",
    ),
    pytest.param(
        lambda d: _prog(d)["staff"]["gp"].update(minutes={"value": 1.0, "source": "x"}),
        "programmes.it_modernisation.staff.gp.minutes",
        "unknown key",
        id="unknown-staff-effect-field",
    ),
    pytest.param(
        lambda d: _prog(d, "patient_services")["patients"].update(foo={"value": 1.0, "source": "x"}),
        "programmes.patient_services.patients.foo",
        "unknown key",
        id="unknown-patients-field",
    ),
    pytest.param(
        lambda d: _prog(d)["spend"].update(currency="GBP"),
        "programmes.it_modernisation.spend.currency",
        "unknown key",
        id="unknown-spend-field",
    ),
    pytest.param(
        lambda d: d["staff_groups"]["gp"].update(grade="x"),
        "staff_groups.gp.grade",
        "unknown key",
        id="unknown-staff-group-field",
    ),
    pytest.param(
        lambda d: _risk(d).update(median=0.2),
        "risks.digital_exclusion",
        "unknown parameter",
        id="unknown-distribution-parameter",
    ),
    pytest.param(
        lambda d: _risk(d).update(dist="gamma"),
        "risks.digital_exclusion",
        "unknown distribution",
        id="unknown-distribution",
    ),
    # wrong types
    pytest.param(lambda d: d.update(risks="high"), "risks", "must be a table", id="string-for-table"),
    pytest.param(
        lambda d: d["risks"].update(digital_exclusion=0.25),
        "risks.digital_exclusion",
        "table",
        id="bare-number-for-quantity",
    ),
    pytest.param(
        lambda d: _risk(d).update(mode="0.25"),
        "risks.digital_exclusion.mode",
        "must be a number",
        id="string-for-number-in-quantity",
    ),
    pytest.param(
        lambda d: _prog(d)["black_swan"].update(p=True),
        "programmes.it_modernisation.black_swan.p",
        "must be a number",
        id="boolean-for-number",
    ),
    pytest.param(
        lambda d: _prog(d)["spend"].update(values=["6e8"] * 10),
        "programmes.it_modernisation.spend.values[0]",
        "must be a number",
        id="string-in-spend",
    ),
    pytest.param(lambda d: d.update(name=3), "name", "must be a string", id="number-for-string"),
    pytest.param(
        lambda d: d["staff_groups"]["gp"].update(label=["GP"]),
        "staff_groups.gp.label",
        "must be a string",
        id="array-for-label",
    ),
    pytest.param(
        lambda d: _risk(d).update(note=3), "risks.digital_exclusion.note", "must be a string", id="note-int"
    ),
    pytest.param(
        lambda d: _risk(d).update(source=3),
        "risks.digital_exclusion.source",
        "must be a string",
        id="source-int",
    ),
    # missing fields
    pytest.param(
        lambda d: d["risks"].pop("digital_exclusion"), "risks.digital_exclusion", "missing", id="missing-risk"
    ),
    pytest.param(lambda d: d.pop("target"), "target", "missing", id="missing-target"),
    pytest.param(
        lambda d: d["staff_groups"]["hospital_nurse"].pop("fte"),
        "staff_groups.hospital_nurse.fte",
        "missing",
        id="missing-staff-group-field",
    ),
    pytest.param(
        lambda d: _prog(d, "patient_services").pop("uptake_ceiling"),
        "programmes.patient_services.uptake_ceiling",
        "missing",
        id="missing-programme-field",
    ),
    pytest.param(
        lambda d: _risk(d).pop("source"),
        "risks.digital_exclusion.source",
        "missing",
        id="quantity-without-source",
    ),
    pytest.param(
        lambda d: _prog(d)["spend"].pop("source"),
        "programmes.it_modernisation.spend.source",
        "missing",
        id="spend-without-source",
    ),
    pytest.param(
        lambda d: _risk(d).update(source="   "), "risks.digital_exclusion.source", "empty", id="empty-source"
    ),
    pytest.param(
        lambda d: _risk(d).pop("max"), "risks.digital_exclusion", "missing parameter", id="missing-pert-max"
    ),
    # negative budget and other ranges
    pytest.param(
        lambda d: _prog(d)["spend"]["values"].__setitem__(1, -1.0e8),
        "programmes.it_modernisation.spend.values[1]",
        ">= 0",
        id="negative-spend",
    ),
    pytest.param(
        lambda d: _prog(d)["spend"].update(values=[0.0] * 10),
        "programmes.it_modernisation.spend.values",
        "> 0",
        id="zero-total-spend",
    ),
    pytest.param(
        lambda d: d["staff_groups"]["gp"]["fte"].update(min=-100.0),
        "staff_groups.gp.fte",
        ">= 0",
        id="negative-fte-range",
    ),
    pytest.param(
        lambda d: d["risks"].update(digital_exclusion={"value": 1.2, "source": "x"}),
        "risks.digital_exclusion",
        "<= 1",
        id="probability-fixed-1.2",
    ),
    pytest.param(
        lambda d: d["staff_groups"]["hospital_admin"].update(fte={"value": -1.0, "source": "x"}),
        "staff_groups.hospital_admin.fte",
        ">= 0",
        id="negative-fixed-fte",
    ),
    pytest.param(
        lambda d: _risk(d, "raid_fraction").update(high=1.1),
        "risks.raid_fraction",
        "<= 1",
        id="probability-uniform-1.1",
    ),
    pytest.param(
        lambda d: _risk(d).update(max=1.5), "risks.digital_exclusion", "<= 1", id="probability-pert-max-1.5"
    ),
    pytest.param(
        lambda d: _prog(d)["black_swan"].update(p=1.2),
        "programmes.it_modernisation.black_swan",
        "[0, 1]",
        id="bernoulli-p-1.2",
    ),
    pytest.param(
        lambda d: d["risks"].update(
            digital_exclusion={"dist": "normal", "mean": 0.2, "sd": 0.05, "source": "x"}
        ),
        "risks.digital_exclusion",
        ">= 0",
        id="unbounded-normal-for-probability",
    ),
    pytest.param(
        lambda d: _prog(d)["uptake_ceiling"].update(max=1.01),
        "programmes.it_modernisation.uptake_ceiling",
        "<= 1",
        id="uptake-ceiling-above-1",
    ),
    # PERT mode outside [min, max]
    pytest.param(
        lambda d: _risk(d).update(mode=0.5), "risks.digital_exclusion", "mode", id="pert-mode-above-max"
    ),
    pytest.param(
        lambda d: _risk(d).update(mode=0.01), "risks.digital_exclusion", "mode", id="pert-mode-below-min"
    ),
    pytest.param(
        lambda d: d["staff_groups"]["gp"]["fte"].update(mode=30000.0),
        "staff_groups.gp.fte",
        "mode",
        id="pert-mode-outside-staff",
    ),
    # fixed values that must be fixed
    pytest.param(
        lambda d: d.update(
            discount_rate={"dist": "pert", "min": 0.01, "mode": 0.035, "max": 0.05, "source": "x"}
        ),
        "discount_rate",
        "fixed",
        id="uncertain-discount-rate",
    ),
    pytest.param(
        lambda d: d["target"].update(
            claimed_return={"dist": "uniform", "low": 1e9, "high": 2e9, "source": "x"}
        ),
        "target.claimed_return",
        "fixed",
        id="uncertain-target",
    ),
    # spend length
    pytest.param(
        lambda d: _prog(d, "staff_technology")["spend"]["values"].pop(),
        "programmes.staff_technology.spend.values",
        "one amount per year",
        id="too-few-spend-values",
    ),
    pytest.param(
        lambda d: _prog(d, "staff_technology")["spend"]["values"].append(0.0),
        "programmes.staff_technology.spend.values",
        "one amount per year",
        id="too-many-spend-values",
    ),
    # years
    pytest.param(
        lambda d: d.update(years=["2025/26", "2026/27", "2028/29", "2029/30", "2030/31"]),
        "years[2]",
        "consecutive",
        id="years-not-consecutive",
    ),
    pytest.param(
        lambda d: d.update(years=["2025/26", "2025/26", "2026/27", "2027/28", "2028/29"]),
        "years[1]",
        "consecutive",
        id="years-repeated",
    ),
    pytest.param(
        lambda d: d["years"].__setitem__(0, "2025-26"), "years[0]", "financial year", id="year-malformed-dash"
    ),
    pytest.param(
        lambda d: d["years"].__setitem__(4, "2029/31"), "years[4]", "financial year", id="year-malformed-span"
    ),
    pytest.param(lambda d: d["years"].__setitem__(0, 2025), "years[0]", "financial year", id="year-integer"),
    pytest.param(lambda d: d.update(years="2025/26"), "years", "array", id="years-string"),
    pytest.param(lambda d: d.update(years=[]), "years", "at least one", id="years-empty"),
    # references and identifiers
    pytest.param(
        lambda d: _prog(d)["staff"].update(pharmacist=copy.deepcopy(_prog(d)["staff"]["gp"])),
        "programmes.it_modernisation.staff.pharmacist",
        "unknown staff group",
        id="unknown-staff-group",
    ),
    pytest.param(
        lambda d: d["staff_groups"].update({"GP Staff": d["staff_groups"]["gp"]}),
        "staff_groups.GP Staff",
        "lower_snake_case",
        id="bad-staff-group-id",
    ),
    pytest.param(lambda d: d.update(programmes={}), "programmes", "at least one", id="no-programmes"),
    pytest.param(lambda d: d.update(staff_groups={}), "staff_groups", "at least one", id="no-staff-groups"),
    # schema version
    pytest.param(
        lambda d: d.update(schema_version=1),
        "schema_version",
        "must be 2, got 1: version 1 scenarios predate model v2",
        id="schema-version-1",
    ),
    pytest.param(lambda d: d.update(schema_version=3), "schema_version", "must be 2", id="schema-version-3"),
    pytest.param(
        lambda d: d.update(schema_version="2"), "schema_version", "must be 2", id="schema-version-string"
    ),
    pytest.param(lambda d: d.pop("schema_version"), "schema_version", "missing", id="schema-version-missing"),
    pytest.param(
        lambda d: d.update(schema_version=True), "schema_version", "must be 2", id="schema-version-boolean"
    ),
    pytest.param(
        lambda d: d.update(schema_version=1.0),
        "schema_version",
        "must be",
        id="schema-version-float",
    ),
    # keys of schema 1: the error says where each went
    pytest.param(
        lambda d: d["risks"].update(cost_overrun={"value": 1.2, "source": "x"}),
        "risks.cost_overrun",
        "moved in schema 2 to each programme: programmes.<id>.cost_overrun",
        id="v1-risks-cost-overrun",
    ),
    pytest.param(
        lambda d: d["risks"].update(delivery_delay={"value": 1.0, "source": "x"}),
        "risks.delivery_delay",
        "programmes.<id>.delivery_delay",
        id="v1-risks-delivery-delay",
    ),
    pytest.param(
        lambda d: d["risks"].update(redeployment_fraction={"value": 0.5, "source": "x"}),
        "risks.redeployment_fraction",
        "renamed in schema 2: risks.released_time_used",
        id="v1-redeployment-fraction",
    ),
    pytest.param(
        lambda d: _prog(d).update(realisation_lag={"value": 0.5, "source": "x"}),
        "programmes.it_modernisation.realisation_lag",
        "removed in schema 2: a year's benefit uses the uptake at mid-year",
        id="v1-realisation-lag",
    ),
    pytest.param(
        lambda d: _prog(d).update(cash_releasing_fraction={"value": 0.5, "source": "x"}),
        "programmes.it_modernisation.cash_releasing_fraction",
        "cashed_share",
        id="v1-cash-releasing-fraction",
    ),
    # the deflator
    pytest.param(lambda d: d.pop("deflator"), "deflator", "missing", id="deflator-missing"),
    pytest.param(
        lambda d: (d["deflator"]["years"].pop(), d["deflator"]["index"].pop()),
        "deflator.years",
        "must cover the price base '2023/24' and every scenario year (2025/26 to 2034/35); "
        "missing ['2034/35']",
        id="deflator-missing-a-year",
    ),
    pytest.param(
        lambda d: (d["deflator"]["years"].pop(0), d["deflator"]["index"].pop(0)),
        "deflator.years",
        "missing ['2023/24']",
        id="deflator-missing-the-price-base",
    ),
    pytest.param(
        lambda d: d["deflator"]["index"].__setitem__(3, 0.0),
        "deflator.index[3]",
        "must be a finite index > 0, got 0.0",
        id="deflator-zero",
    ),
    pytest.param(
        lambda d: d["deflator"]["index"].__setitem__(0, -96.1),
        "deflator.index[0]",
        "> 0, got -96.1",
        id="deflator-negative",
    ),
    pytest.param(
        lambda d: d["deflator"]["index"].pop(),
        "deflator.index",
        "one value per deflator year (12), got 11",
        id="deflator-index-too-short",
    ),
    pytest.param(
        lambda d: d["deflator"]["years"].__setitem__(5, "2028-29"),
        "deflator.years[5]",
        "financial year",
        id="deflator-year-malformed",
    ),
    pytest.param(
        lambda d: d["deflator"]["years"].__setitem__(5, "2027/28"),
        "deflator.years[5]",
        "listed twice",
        id="deflator-year-repeated",
    ),
    pytest.param(
        lambda d: d["deflator"].pop("source"), "deflator.source", "missing", id="deflator-without-source"
    ),
    pytest.param(
        lambda d: d["deflator"].update(base=100), "deflator.base", "unknown key", id="deflator-unknown-key"
    ),
    # the long-term discount rate and the target year
    pytest.param(
        lambda d: d.pop("long_term_discount_rate"),
        "long_term_discount_rate",
        "missing",
        id="long-term-missing",
    ),
    pytest.param(
        lambda d: d.update(
            long_term_discount_rate={"dist": "uniform", "low": 0.02, "high": 0.04, "source": "x"}
        ),
        "long_term_discount_rate",
        "fixed",
        id="long-term-uncertain",
    ),
    pytest.param(
        lambda d: d["target"].update(year="2040/41"),
        "target.year",
        "must be one of the scenario years",
        id="target-year-outside",
    ),
    # budget changes
    pytest.param(
        lambda d: d.update(budget_changes=[_cut(programme="social_care")]),
        "budget_changes[0].programme",
        "unknown programme 'social_care'; defined: "
        "['it_modernisation', 'patient_services', 'staff_technology']",
        id="change-unknown-programme",
    ),
    pytest.param(
        lambda d: d.update(budget_changes=[_cut(), _cut(year="2040/41")]),
        "budget_changes[1].year",
        "must be one of the scenario years",
        id="change-unknown-year",
    ),
    pytest.param(
        lambda d: d.update(budget_changes=[_cut(amount=-7.5e8)]),
        "budget_changes[0].amount",
        "cuts it_modernisation in 2026/27 by GBP 750,000,000, more than its planned spend that year "
        "(GBP 700,000,000): the money left would be GBP -50,000,000",
        id="cut-beyond-the-plan",
    ),
    pytest.param(
        lambda d: d.update(budget_changes=[_cut(amount=-4.0e8), _cut(year="2025/26"), _cut(amount=-4.0e8)]),
        "budget_changes[2].amount",
        "together with budget_changes[0], cuts it_modernisation in 2026/27 by GBP 800,000,000",
        id="cuts-that-add-up-beyond-the-plan",
    ),
    pytest.param(
        lambda d: d.update(budget_changes=[_cut(year="2030/31", amount=-1.0)]),
        "budget_changes[0].amount",
        "planned spend that year (GBP 0)",
        id="cut-in-a-year-without-a-plan",
    ),
    pytest.param(
        lambda d: d.update(budget_changes=[{k: v for k, v in _cut().items() if k != "source"}]),
        "budget_changes[0].source",
        "missing",
        id="change-without-source",
    ),
    pytest.param(
        lambda d: d.update(budget_changes=[{**_cut(), "when": "soon"}]),
        "budget_changes[0].when",
        "unknown key",
        id="change-unknown-key",
    ),
    pytest.param(
        lambda d: d.update(budget_changes=[_cut(amount="-1e8")]),
        "budget_changes[0].amount",
        "must be an amount [GBP], got string",
        id="change-amount-string",
    ),
    pytest.param(
        lambda d: d.update(budget_changes={"programme": "it_modernisation"}),
        "budget_changes",
        "must be an array of tables",
        id="changes-not-an-array",
    ),
    # the new programme keys
    pytest.param(
        lambda d: _prog(d).update(support_years={"value": -1.0, "source": "x"}),
        "programmes.it_modernisation.support_years",
        "must be >= 0",
        id="support-years-negative",
    ),
    pytest.param(
        lambda d: _prog(d).update(residual_life={"dist": "uniform", "low": 1, "high": 3, "source": "x"}),
        "programmes.it_modernisation.residual_life",
        "must be a fixed value",
        id="residual-life-uncertain",
    ),
    pytest.param(
        lambda d: _prog(d).update(residual_life={"value": 2.0000001, "source": "x"}),
        "programmes.it_modernisation.residual_life",
        "must be a whole number [years] from 0 to 50, got 2.0000001",
        id="residual-life-fractional",
    ),
    pytest.param(
        lambda d: _prog(d).update(residual_life={"value": 60.0, "source": "x"}),
        "programmes.it_modernisation.residual_life",
        "<= 50",
        id="residual-life-too-long",
    ),
    pytest.param(
        lambda d: _prog(d).pop("running_cost"),
        "programmes.it_modernisation.running_cost",
        "missing",
        id="running-cost-missing",
    ),
    pytest.param(
        lambda d: _prog(d).update(cashed_share={"value": 1.1, "source": "x"}),
        "programmes.it_modernisation.cashed_share",
        "<= 1",
        id="cashed-share-above-1",
    ),
    pytest.param(
        lambda d: _prog(d).update(do_minimum_steepness={"value": 0.0, "source": "x"}),
        "programmes.it_modernisation.do_minimum_steepness",
        "> 0",
        id="do-minimum-steepness-zero",
    ),
    pytest.param(
        lambda d: _prog(d).update(inclusion={"excluded_share_reached": {"value": 1.5, "source": "x"}}),
        "programmes.it_modernisation.inclusion.excluded_share_reached",
        "<= 1",
        id="inclusion-above-1",
    ),
    pytest.param(
        lambda d: _prog(d).update(inclusion={"people": {"value": 1.0, "source": "x"}}),
        "programmes.it_modernisation.inclusion.people",
        "unknown key",
        id="inclusion-unknown-key",
    ),
    pytest.param(lambda d: d.update(baseline=""), "baseline", "empty", id="baseline-empty"),
    pytest.param(lambda d: d.update(baseline=3), "baseline", "must be a string", id="baseline-number"),
]


def _cut(**changes: Any) -> dict[str, Any]:
    """A budget change table: GBP 100m cut from the IT strand in 2026/27 unless ``changes`` say otherwise."""
    return {
        "programme": "it_modernisation",
        "year": "2026/27",
        "amount": -1.0e8,
        "source": "assumption: test cut",
        **changes,
    }


@pytest.mark.parametrize("mutate, path, problem", MALFORMED)
def test_malformed_file(tmp_path: Path, mutate: Mutation, path: str, problem: str) -> None:
    data = shipped_data()
    mutate(data)
    file = tmp_path / "bad-scenario.toml"
    file.write_text(dumps_toml(data), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(file)
    message = str(info.value)
    assert str(file) in message
    assert info.value.file == str(file)
    assert info.value.path == path, message
    assert path in message
    assert problem.lower() in message.lower(), message


def test_unmodified_dump_loads(tmp_path: Path, default: Scenario) -> None:
    """Control for test_malformed_file: the unmutated dict, dumped the same way, is valid."""
    file = tmp_path / "good.toml"
    file.write_text(dumps_toml(shipped_data()), encoding="utf-8")
    assert load_scenario(file) == default
    assert load_scenario(str(file)) == default


@pytest.mark.parametrize(
    "old, new, path, problem",
    [
        ('name = "as-announced"', 'name = "as-announced', "(file)", "not valid toml"),
        ('years = ["2025/26",', 'years = [["2025/26",', "(file)", "not valid toml"),
        (
            'price_base = "2023/24"',
            'price_base = "2023/24"\nprice_base = "2024/25"',
            "(file)",
            "not valid toml",
        ),
        ("values = [6.0e8,", "values = [nan,", "programmes.it_modernisation.spend.values[0]", "finite"),
        ("values = [6.0e8,", "values = [inf,", "programmes.it_modernisation.spend.values[0]", "finite"),
        ("min = 0.08, mode = 0.25,", "min = 0.08, mode = nan,", "risks.digital_exclusion", "finite"),
        ("value = 0.035,", "value = inf,", "discount_rate", "finite"),
        ("index = [96.1117,", "index = [nan,", "deflator.index[0]", "finite index > 0, got nan"),
    ],
)
def test_malformed_text(tmp_path: Path, old: str, new: str, path: str, problem: str) -> None:
    text = shipped_text()
    assert text.count(old) == 1
    file = tmp_path / "bad.toml"
    file.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(file)
    message = str(info.value)
    assert str(file) in message
    assert info.value.path == path
    assert problem in message.lower()


def test_malformed_file_is_not_run(tmp_path: Path) -> None:
    data = shipped_data()
    data["risks"]["digital_exclusion"]["mode"] = 0.5
    file = tmp_path / "bad.toml"
    file.write_text(dumps_toml(data), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"risks\.digital_exclusion"):
        nhsrisk.simulate(file, draws=10, seed=1)


def test_scenario_error_is_a_value_error() -> None:
    assert issubclass(ScenarioError, ValueError)
    error = ScenarioError("risks.x", "problem", "f.toml")
    assert str(error) == "f.toml: risks.x: problem"
    assert (error.path, error.problem, error.file) == ("risks.x", "problem", "f.toml")


def test_missing_file_and_unknown_name(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    with pytest.raises(FileNotFoundError, match="nowhere.toml"):
        load_scenario(missing)
    with pytest.raises(FileNotFoundError, match="no-such-scenario"):
        load_scenario("no-such-scenario")
    with pytest.raises(FileNotFoundError):
        load_scenario(tmp_path)  # a directory is not a scenario file


# =====================================================================================
# 6. Nothing in a scenario is executed
# =====================================================================================


def test_code_in_strings_is_not_executed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "PWNED"
    code = f"__import__('os').system('touch {marker}')"
    data = shipped_data()
    data["name"] = code
    data["title"] = f"{{{code}}}"
    data["description"] = f"$(touch {marker}) `touch {marker}`"
    data["staff_groups"]["gp"]["label"] = code
    data["risks"]["digital_exclusion"]["source"] = f"assumption: {code}"
    data["risks"]["digital_exclusion"]["note"] = "!!python/object/apply:os.system ['touch PWNED']"
    file = tmp_path / "code.toml"
    file.write_text(dumps_toml(data), encoding="utf-8")
    scenario = load_scenario(file)
    assert scenario.name == code
    assert scenario.staff_groups["gp"].label == code
    assert scenario.risks.digital_exclusion.source == f"assumption: {code}"
    assert Scenario.from_toml(scenario.to_toml()) == scenario
    repr(scenario)
    scenario.sha256()
    assert not marker.exists()
    assert not (tmp_path / "PWNED").exists()


def test_code_as_distribution_name_is_rejected(tmp_path: Path) -> None:
    marker = tmp_path / "PWNED"
    data = shipped_data()
    data["risks"]["digital_exclusion"]["dist"] = f"__import__('os').system('touch {marker}')"
    file = tmp_path / "code.toml"
    file.write_text(dumps_toml(data), encoding="utf-8")
    with pytest.raises(ScenarioError, match="risks.digital_exclusion"):
        load_scenario(file)
    assert not marker.exists()


@pytest.mark.parametrize("module", [nhsrisk.scenario, nhsrisk.distributions])
def test_loader_source_has_no_pickle_or_eval(module: Any) -> None:
    source = inspect.getsource(module)
    # numpy's loader with pickling explicitly refused is the one allowed mention
    source = source.replace("allow_pickle=False", "")
    assert "pickle" not in source
    assert "marshal" not in source
    assert "__import__" not in source
    assert not re.search(r"\beval\s*\(", source)
    assert not re.search(r"\bexec\s*\(", source)
    assert not re.search(r"(?<!re\.)\bcompile\s*\(", source)


# =====================================================================================
# 7. The scenario saved in a results file
# =====================================================================================


@pytest.fixture(scope="module")
def results_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("results") / "r.nc"
    ds = nhsrisk.simulate(draws=200, seed=1)
    ds.to_netcdf(path, engine="h5netcdf")
    return path


@pytest.fixture(scope="module")
def results_attrs(results_file: Path) -> dict[str, Any]:
    with xr.open_dataset(results_file, engine="h5netcdf") as ds:
        return dict(ds.attrs)


def _write_attrs(path: Path, attrs: dict[str, Any]) -> Path:
    """A netCDF file carrying only the given global attrs (the loader reads nothing else)."""
    xr.Dataset(attrs=attrs).to_netcdf(path, engine="h5netcdf")
    return path


def test_results_file_gives_back_the_scenario(
    results_file: Path, results_attrs: dict[str, Any], default: Scenario
) -> None:
    assert load_scenario(results_file) == default
    assert results_attrs["scenario_sha256"] == default.sha256()
    assert results_attrs["scenario"] == default.to_toml()
    assert results_attrs["scenario_name"] == DEFAULT


def test_results_file_of_a_variant(tmp_path: Path, default: Scenario) -> None:
    variant = default.with_values({"risks.digital_exclusion": Beta(24.9, 58.1), "name": "variant"})
    ds = nhsrisk.simulate(variant, draws=20, seed=2)
    path = _write_attrs(tmp_path / "variant.nc", dict(ds.attrs))
    loaded = load_scenario(str(path))
    assert loaded == variant
    assert loaded != default


def test_results_file_with_altered_scenario(tmp_path: Path, results_file: Path) -> None:
    # A full copy of the results file, re-written with one number changed in the stored TOML.
    with xr.open_dataset(results_file, engine="h5netcdf") as ds:
        copy_ = ds.load()
    text = copy_.attrs["scenario"]
    assert text.count("value = 0.035,") == 1
    copy_.attrs["scenario"] = text.replace("value = 0.035,", "value = 0.04,")
    altered = tmp_path / "altered.nc"
    copy_.to_netcdf(altered, engine="h5netcdf")
    with pytest.raises(ScenarioError) as info:
        load_scenario(altered)
    message = str(info.value)
    assert "checksum" in message
    assert str(altered) in message
    assert "attrs.scenario" in message


def test_results_file_with_removed_checksum(tmp_path: Path, results_attrs: dict[str, Any]) -> None:
    attrs = dict(results_attrs)
    del attrs["scenario_sha256"]
    path = _write_attrs(tmp_path / "nochecksum.nc", attrs)
    with pytest.raises(ScenarioError, match="checksum"):
        load_scenario(path)


def test_results_file_with_malformed_scenario_and_matching_checksum(
    tmp_path: Path, results_attrs: dict[str, Any]
) -> None:
    old = "min = 0.08, mode = 0.25, max = 0.32"
    assert results_attrs["scenario"].count(old) == 1
    text = results_attrs["scenario"].replace(old, "min = 0.08, mode = 0.5, max = 0.32")
    attrs = {**results_attrs, "scenario": text, "scenario_sha256": hashlib.sha256(text.encode()).hexdigest()}
    path = _write_attrs(tmp_path / "malformed.nc", attrs)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(path) in str(info.value)
    assert info.value.path == "risks.digital_exclusion"


def test_results_file_without_scenario(tmp_path: Path) -> None:
    path = tmp_path / "other.nc"
    xr.Dataset({"x": ("a", [1.0, 2.0])}, attrs={"title": "not nhsrisk"}).to_netcdf(path, engine="h5netcdf")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert str(path) in str(info.value)
    assert info.value.path == "attrs.scenario"
    assert "missing" in str(info.value)


def test_with_values_number_replaces_a_discrete_quantity() -> None:
    # A Discrete table has a 'values' key too; only 'spend' is a spend table.
    assert isinstance(load_scenario().programmes["patient_services"].support_years.distribution, Discrete)
    scenario = load_scenario().with_values({"programmes.patient_services.support_years": 5.0})
    assert scenario.programmes["patient_services"].support_years.distribution == Fixed(5.0)


def test_simulation_module_is_reachable_by_its_name() -> None:
    import importlib

    module = importlib.import_module("nhsrisk.simulation")
    assert module.simulate is nhsrisk.simulate


def test_html_display_lists_programmes_figures_and_sources_escaped() -> None:
    from html.parser import HTMLParser

    scenario = load_scenario().with_values({"title": "Trust <plan> & more"})
    text = scenario._repr_html_()
    assert "Trust &lt;plan&gt; &amp; more" in text and "<plan>" not in text
    for pid in scenario.programmes:
        assert f"<code>{pid}</code>" in text
    for key in scenario.quantities():
        assert f"<code>{key}</code>" in text
    assert text.count("<i>assumption</i>") == sum(q.is_assumption for q in scenario.quantities().values())

    class Balance(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.open: list[str] = []

        def handle_starttag(self, tag, attrs):
            if tag != "br":
                self.open.append(tag)

        def handle_endtag(self, tag):
            assert self.open.pop() == tag

    parser = Balance()
    parser.feed(text)
    assert parser.open == []


def test_markdown_shows_both_horizons_the_deflator_and_the_budget_changes(default: Scenario) -> None:
    text = _variant(default).to_markdown()
    assert "| claim window | 2025/26 to 2029/30 (5 years) | the claim test" in text
    assert "| appraisal period | 2025/26 to 2034/35 (10 years) | NPV, BCR" in text
    assert "3.5% a year (3.0% from year 31)" in text
    assert "Compared with the scenario `as-announced`." in text
    # budget changes in cash and in real terms, with their sources
    assert "## Budget changes (GBP, cash; negative is a cut)" in text
    real = -3.25e8 * default.deflator.factor("2026/27", "2023/24")
    assert f"| `it_modernisation` | 2026/27 | -325.0m | {real / 1e6:+,.1f}m | HSJ (Nov 2023)" in text
    assert "| `patient_services` | 2025/26 | +20.0m |" in text
    # the deflator: every listed year, its index and the factor to the price base, and its source
    assert "## GDP deflator (index; factor to 2023/24 prices)" in text
    assert "| index | 96.1117 | 100.0000 | 103.2388 |" in text
    assert "| factor | 1.0000 | 0.9611 | 0.9310 |" in text
    assert "Source: HM Treasury GDP deflators" in text
    for key in default.quantities():
        assert f"| `{key}` |" in text
    # without budget changes the section is left out, and the summary says so
    plain = default.to_markdown()
    assert "## Budget changes" not in plain and "no budget changes" in plain


def test_html_display_shows_both_horizons_the_deflator_and_the_budget_changes(default: Scenario) -> None:
    text = _variant(default)._repr_html_()
    assert "<td>claim window</td><td>2025/26 to 2029/30 (5 years)</td>" in text
    assert "<td>appraisal period</td><td>2025/26 to 2034/35 (10 years)</td>" in text
    assert "Compared with <code>as-announced</code>." in text
    assert "<caption>Budget changes (GBP million; negative is a cut)</caption>" in text
    assert (
        "<td><code>it_modernisation</code></td><td>2026/27</td><td style='text-align:right'>-325.0</td>"
        in text
    )
    assert "<caption>GDP deflator (factor to 2023/24 prices)</caption>" in text
    assert "<td style='text-align:right'>96.1117</td>" in text
    assert "Deflator source: HM Treasury GDP deflators" in text
    assert "No budget changes to the announced plan." in default._repr_html_()


# --------------------------------------------------------------------------------------------------
# Labels for readers, and what a variant changed (issue 13, item 7)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("risks.digital_exclusion", "Risks: digital exclusion"),
        ("risks.raid_probability", "Risks: chance of a budget raid (per year)"),
        ("risks.raid_fraction[2026/27]", "Risks: share of the allocation a raid removes in 2026/27"),
        ("risks.raid_event[2025/26]", "Risks: whether a budget raid happens in 2025/26"),
        ("staff_groups.hospital_doctor.cost_per_hour", "Hospital doctors: cost of an hour (GBP/hour)"),
        ("programmes.it_modernisation.delivery_delay", "IT modernisation: delivery delay (years)"),
        (
            "programmes.patient_services.patients.value_per_contact",
            "Patient services: value of a contact moved online (GBP/contact)",
        ),
        (
            "programmes.staff_technology.staff.hospital_admin.recovered_fraction",
            "Staff technology, hospital admin staff: share of addressed time recovered",
        ),
        (
            "programmes.staff_technology.staff.gp.addressable_share",
            "Staff technology, GPs: share of time addressed",
        ),
        ("programmes.*.cost_overrun", "Every programme: cost overrun"),
        ("target.claimed_return", "Target: claimed return (GBP)"),
        ("discount_rate", "Appraisal: discount rate (per year)"),
    ],
)
def test_input_label_names_the_owner_and_the_figure(default: Scenario, key: str, label: str) -> None:
    assert default.input_label(key) == label


def test_every_quantity_has_a_short_readable_label(default: Scenario) -> None:
    labels = {key: default.input_label(key) for key in default.quantities()}
    assert len(set(labels.values())) == len(labels)  # no two inputs share a name
    for key, label in labels.items():
        assert "_" not in label and "." not in label.split(":")[0], (key, label)
        assert len(label) <= 80, (key, label)
    assert default.input_label("risks.staff_capacity", units=False) == "Risks: staff capacity to adopt"
    with pytest.raises(ValueError, match=r"The 'key' parameter of Scenario.input_label must be the key path"):
        default.input_label("risks.no_such_risk")
    with pytest.raises(ValueError, match=r"Got 'programmes.it_modernisation.spend' instead"):
        default.input_label("programmes.it_modernisation.spend")  # a spend profile, not a quantity


def test_short_label_defaults_to_a_short_label_and_else_to_the_id(default: Scenario) -> None:
    # the shipped scenarios give every programme and staff group a short label
    for name in BUILTIN_SCENARIOS:
        scenario = load_scenario(name)
        for record in (*scenario.programmes.values(), *scenario.staff_groups.values()):
            assert record.short_label is not None
    data = default.to_dict()
    del data["programmes"]["it_modernisation"]["short_label"]  # a long label: the id, humanised
    del data["staff_groups"]["gp"]["short_label"]  # "GPs (fully qualified)": short enough
    bare = Scenario.from_toml(dumps_toml(data))
    assert (
        bare.input_label("programmes.it_modernisation.uptake_ceiling") == "It modernisation: uptake ceiling"
    )
    assert bare.input_label("staff_groups.gp.fte") == "GPs (fully qualified): staff in post (FTE)"


@pytest.mark.parametrize(
    ("short", "message"),
    [
        ("", r"programmes\.it_modernisation\.short_label: is empty"),
        ("   ", r"programmes\.it_modernisation\.short_label: is empty"),
        ("x" * 33, r"programmes\.it_modernisation\.short_label: must be at most 32 characters .* got 33"),
        ("two\nlines", r"programmes\.it_modernisation\.short_label: contains the control character"),
        (7, r"programmes\.it_modernisation\.short_label: must be a string"),
    ],
)
def test_short_label_is_checked(default: Scenario, short: Any, message: str) -> None:
    data = default.to_dict()
    data["programmes"]["it_modernisation"]["short_label"] = short
    with pytest.raises(ScenarioError, match=message):
        Scenario.from_toml(dumps_toml(data), file=None)


def test_with_values_records_its_changes_and_they_survive_toml_and_results(
    default: Scenario, tmp_path
) -> None:
    variant = default.with_values(
        {"risks.digital_exclusion": 0.1, "programmes.it_modernisation.cost_overrun": LogNormal(0.0, 0.3)}
    )
    assert variant.changes == (
        "risks.digital_exclusion = 0.1",
        "programmes.it_modernisation.cost_overrun = LogNormal(mu=0, sigma=0.3)",
    )
    # a variant of a variant adds to the list; renaming is not a change of the model
    again = variant.with_values({"risks.staff_capacity": Fixed(0.8), "name": "my-variant"})
    assert again.changes == (*variant.changes, "risks.staff_capacity = 0.8")
    assert default.changes == () and "\nchanges = " not in default.to_toml()
    assert Scenario.from_toml(again.to_toml()) == again
    assert "changes=['risks.digital_exclusion = 0.1'" in repr(variant)
    assert "- `risks.digital_exclusion = 0.1`" in variant.to_markdown()
    # the results carry the changes, and the scenario stored with them keeps them
    results = nhsrisk.simulate(variant, draws=10, seed=1)
    assert results.attrs["scenario_changes"] == "; ".join(variant.changes)
    assert results.attrs["scenario_title"] == default.title
    path = tmp_path / "variant.nc"
    nhsrisk.save_results(results, path)
    assert load_scenario(path).changes == variant.changes


def test_changes_in_a_file_are_one_line_strings(default: Scenario) -> None:
    data = default.to_dict()
    data["changes"] = "risks.digital_exclusion = 0.1"
    with pytest.raises(ScenarioError, match=r"^changes: must be an array of strings"):
        Scenario.from_toml(dumps_toml(data))
    data["changes"] = ["a\nb"]
    with pytest.raises(ScenarioError, match=r"^changes\[0\]: contains the control character"):
        Scenario.from_toml(dumps_toml(data))


@pytest.mark.parametrize("value", [100_000, 2.5, None, b"as-announced"])
def test_load_scenario_names_its_parameter_when_given_something_else(value):
    with pytest.raises(TypeError, match="'name_or_path' parameter of load_scenario") as raised:
        load_scenario(value)
    assert repr(value) in str(raised.value)
    if isinstance(value, int | float):  # simulate(100_000) means draws
        assert f"draws={value!r}" in str(raised.value)


def test_simulate_with_a_number_first_says_draws_is_a_keyword():
    with pytest.raises(TypeError, match=r"'draws' keyword: draws=100000"):
        nhsrisk.simulate(100_000)
