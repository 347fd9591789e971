"""Scenarios: typed, immutable descriptions of a technology investment and its risks.

A :class:`Scenario` is read from TOML (see ``docs/scenarios.md``), built in
Python, or rebuilt from a saved results file. Every number is a
:class:`Quantity`: a distribution (or fixed value) with its source. Nothing in
a scenario file is ever executed.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.resources
import json
import math
import numbers
import os
import re
import tomllib
import types
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from nhsrisk._errors import ScenarioError
from nhsrisk._stored import results_attributes, stored_scenario_text
from nhsrisk._stored import verify_scenario_checksum as verify_scenario_checksum
from nhsrisk._validate import _message
from nhsrisk.distributions import Distribution, Fixed, _describe_number, distribution_from_dict

__all__ = [
    "BUILTIN_SCENARIOS",
    "BudgetChange",
    "Correlations",
    "Deflator",
    "InclusionEffect",
    "PatientChannel",
    "Programme",
    "Quantity",
    "Risks",
    "Scenario",
    "ScenarioError",
    "Spend",
    "StaffEffect",
    "StaffGroup",
    "Target",
    "load_scenario",
]

SCHEMA_VERSION = 2
#: Names of the scenarios shipped with the package (``nhsrisk scenarios`` lists them with their titles).
BUILTIN_SCENARIOS: tuple[str, ...] = (
    "as-announced",
    "after-the-cut",
    "ring-fenced",
    "plus-digital-inclusion",
)
#: Default scenario, and former names that still load a shipped scenario.
DEFAULT_SCENARIO = "as-announced"
SCENARIO_ALIASES: Mapping[str, str] = types.MappingProxyType({"spring-budget-2024": "as-announced"})
#: Green Book discounting: ``discount_rate`` for years 0 to 30, ``long_term_discount_rate`` after.
LONG_TERM_FROM_YEAR = 31
_YEAR = re.compile(r"^(\d{4})/(\d{2})$")
#: The smallest and largest uniforms the kernel can draw: (k + 1/2) / 2**52.
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
#: Longest ``short_label`` of a programme or staff group: it prefixes input labels on figure axes.
SHORT_LABEL_MAX = 32
SHORT_LABEL_DOC = (
    f"short display name for figure labels, at most {SHORT_LABEL_MAX} characters "
    f"(default: the label when it is that short, else the id)"
)


# ---------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quantity:
    """A number or a distribution, with where it comes from.

    Parameters
    ----------
    distribution : Distribution
        The value (:class:`~nhsrisk.distributions.Fixed`) or its uncertainty.
    source : str
        Citation, or ``"assumption: <reasoning>"``.
    note : str, optional
        Free text.

    Examples
    --------
    >>> from nhsrisk.distributions import Fixed
    >>> Quantity(Fixed(0.035), "HM Treasury Green Book (2022)").distribution.mean()
    0.035
    """

    distribution: Distribution
    source: str
    note: str | None = None

    @property
    def is_assumption(self) -> bool:
        """True when the source declares the figure an assumption."""
        return self.source.strip().lower().startswith("assumption")

    def to_dict(self) -> dict[str, Any]:
        """TOML table of this quantity."""
        table = self.distribution.to_dict()
        table["source"] = self.source
        if self.note is not None:
            table["note"] = self.note
        return table


def _q(
    low: float | None = None,
    high: float | None = None,
    *,
    unit: str,
    doc: str,
    label: str,
    open_low: bool = False,
    optional: bool = False,
    fixed: bool = False,
) -> Any:
    """Field holding a Quantity whose support must lie in [low, high] (``(low`` if open_low).

    ``doc`` says what the figure is; ``label`` names it in a few words, for figures and tables
    (:meth:`Scenario.input_label`). An ``optional`` quantity may be left out (None: the model
    reads zero); a ``fixed`` one must be a value, not a distribution.
    """
    metadata = {
        "kind": "quantity",
        "low": low,
        "high": high,
        "open_low": open_low,
        "unit": unit,
        "doc": doc,
        "label": label,
        "fixed": fixed,
    }
    if optional:
        return field(default=None, metadata={**metadata, "optional": True})
    return field(metadata=metadata)


def _p(
    axis: str,
    low: float | None,
    high: float | None,
    *,
    unit: str,
    doc: str,
    open_low: bool = False,
    open_high: bool = False,
    sums_to_one: bool = False,
) -> Any:
    """Field holding a :class:`Profile`: one fixed value per label of ``axis`` (age band or quintile)."""
    return field(
        metadata={
            "kind": "profile",
            "axis": axis,
            "low": low,
            "high": high,
            "open_low": open_low,
            "open_high": open_high,
            "sums_to_one": sums_to_one,
            "unit": unit,
            "doc": doc,
        }
    )


def _labels(doc: str, *, optional: bool = False) -> Any:
    """Field holding a list of distinct labels (age bands, quintiles, or a subset of them)."""
    metadata = {"kind": "labels", "doc": doc}
    if optional:
        return field(default=None, metadata={**metadata, "optional": True})
    return field(metadata=metadata)


def _s(doc: str, *, optional: bool = False, default: Any = None, free_text: bool = False) -> Any:
    """Field holding a string; ``free_text`` strings may hold tabs and newlines, others are one line."""
    metadata = {"kind": "str", "doc": doc, "free_text": free_text}
    if optional:
        return field(default=default, metadata={**metadata, "optional": True})
    return field(metadata=metadata)


@dataclass(frozen=True)
class _SourcedValues:
    """Fixed values with where they come from: a spend profile, or figures by age band or quintile."""

    values: tuple[float, ...]
    source: str
    note: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(float(v) for v in self.values))

    @property
    def is_assumption(self) -> bool:
        """True when the source declares the figures an assumption."""
        return self.source.strip().lower().startswith("assumption")

    def to_dict(self) -> dict[str, Any]:  # noqa: D102
        table: dict[str, Any] = {"values": list(self.values), "source": self.source}
        if self.note is not None:
            table["note"] = self.note
        return table


@dataclass(frozen=True)
class Spend(_SourcedValues):
    """Planned spend by financial year [GBP], one value per scenario year."""

    @property
    def total(self) -> float:
        """Total planned spend [GBP]."""
        return math.fsum(self.values)


@dataclass(frozen=True)
class Profile(_SourcedValues):
    """Fixed values by age band or by deprivation quintile, with where they come from."""


@dataclass(frozen=True)
class StaffGroup:
    """A staff group whose time technology can give back."""

    label: str = _s("display name")
    fte: Quantity = _q(0, None, unit="FTE", label="staff in post", doc="full-time equivalents")
    hours_per_fte: Quantity = _q(
        0,
        None,
        open_low=True,
        unit="hours/FTE/year",
        label="working hours per FTE",
        doc="working hours per FTE per year",
    )
    cost_per_hour: Quantity = _q(
        0, None, unit="GBP/hour", label="cost of an hour", doc="unit cost of a working hour"
    )
    max_release_share: Quantity = _q(
        0,
        1,
        unit="1",
        label="most time that can be released",
        doc="most of the group's time that all programmes together can give back",
    )
    short_label: str | None = _s(SHORT_LABEL_DOC, optional=True)


@dataclass(frozen=True)
class StaffEffect:
    """How a programme gives back one staff group's time."""

    addressable_share: Quantity = _q(
        0, 1, unit="1", label="share of time addressed", doc="share of working time the programme addresses"
    )
    recovered_fraction: Quantity = _q(
        0,
        1,
        unit="1",
        label="share of addressed time recovered",
        doc="share of the addressable time recovered at full uptake",
    )


@dataclass(frozen=True)
class PatientChannel:
    """Patient-facing channel shift, limited by digital exclusion."""

    contacts_per_year: Quantity = _q(
        0, None, unit="contacts/year", label="eligible contacts", doc="eligible contacts per year"
    )
    value_per_contact: Quantity = _q(
        None,
        None,
        unit="GBP/contact",
        label="value of a contact moved online",
        doc="value of a contact moved online (negative if it adds work)",
    )
    online_dependent_share: Quantity | None = _q(
        0,
        1,
        unit="1",
        label="share of staff and cash savings that need patients online",
        doc="share of the programme's staff-time and non-staff savings that depend on patients being "
        "online (digital-first triage, online consultations, app messages): reduced by the "
        "contact-weighted digital exclusion",
        optional=True,
    )
    dual_running_cost: Quantity | None = _q(
        0,
        None,
        unit="GBP/contact",
        label="cost of keeping non-digital routes open",
        doc="extra cost per excluded eligible contact, at full additional uptake, of keeping phone, "
        "letter and face-to-face routes open beside the digital one",
        optional=True,
    )
    induced_demand_cost: Quantity | None = _q(
        0,
        None,
        unit="GBP/contact",
        label="cost of demand that digital access adds",
        doc="staff time added per contact moved online by the extra demand easier access brings",
        optional=True,
    )


@dataclass(frozen=True)
class InclusionEffect:
    """A digital-inclusion programme: it brings digitally excluded people online as it spreads."""

    excluded_share_reached: Quantity = _q(
        0,
        1,
        unit="1",
        label="share of excluded people brought online",
        doc="share of the digitally excluded in the targeted segments brought online at full additional "
        "uptake",
    )
    target_age_bands: tuple[str, ...] | None = _labels(
        "age bands the programme reaches (default: all); needs a [population] table", optional=True
    )
    target_quintiles: tuple[str, ...] | None = _labels(
        "deprivation quintiles the programme reaches (default: all); needs a [population] table",
        optional=True,
    )


@dataclass(frozen=True)
class Programme:
    """One strand of the investment."""

    label: str = _s("display name")
    # mypy reads only a bare field() call as a field without a default, so it takes the _q and _s
    # fields for defaulted ones; at runtime they have none (only _s(optional=True) gives one), and
    # this order is valid. The same holds for residual_life below and for Target.claimed_return.
    spend: Spend = field(  # type: ignore[misc]
        metadata={"kind": "spend", "doc": "planned spend by year", "unit": "GBP/year"}
    )
    raid_exposure: Quantity = _q(
        0, 1, unit="1", label="share exposed to raids", doc="share of the allocation a raid can reach"
    )
    cost_overrun: Quantity = _q(
        0,
        None,
        open_low=True,
        unit="1",
        label="cost overrun",
        doc="cost factor on delivery, ordinary projects",
    )
    black_swan: Quantity = _q(
        0, 1, unit="1", label="heavy-tail overrun happens", doc="1 when the heavy-tail overrun happens"
    )
    black_swan_overrun: Quantity = _q(
        0,
        None,
        open_low=True,
        unit="1",
        label="heavy-tail cost overrun",
        doc="cost factor in the heavy-tail event",
    )
    delivery_delay: Quantity = _q(
        0, None, unit="years", label="delivery delay", doc="years by which uptake slips behind the plan"
    )
    uptake_ceiling: Quantity = _q(
        0, 1, unit="1", label="uptake ceiling", doc="share of the addressable benefit reached at full uptake"
    )
    uptake_midpoint: Quantity = _q(
        None,
        None,
        unit="years",
        label="time to half uptake",
        doc="years from the start of the first year to half the ceiling, on the plan (benefit timing)",
    )
    uptake_steepness: Quantity = _q(
        0, None, open_low=True, unit="1/year", label="speed of uptake", doc="logistic steepness"
    )
    do_minimum_ceiling: Quantity = _q(
        0,
        1,
        unit="1",
        label="uptake without the investment",
        doc="share of the addressable benefit that would be reached without the investment",
    )
    do_minimum_midpoint: Quantity = _q(
        None,
        None,
        unit="years",
        label="time to half uptake without the investment",
        doc="years from the start of the first year to half the do-minimum ceiling",
    )
    do_minimum_steepness: Quantity = _q(
        0,
        None,
        open_low=True,
        unit="1/year",
        label="speed of uptake without the investment",
        doc="logistic steepness of the do-minimum path",
    )
    support_years: Quantity = _q(
        0,
        None,
        unit="years",
        label="running costs paid after the spend",
        doc="whole years after the last planned year of capital for which running costs are paid",
    )
    benefit_decay: Quantity = _q(
        0,
        1,
        unit="1/year",
        label="benefit decay after support ends",
        doc="share of benefit lost per year after support ends",
    )
    running_cost: Quantity = _q(
        0,
        None,
        unit="1/year",
        label="running cost",
        doc="running cost a year, as a share of the capital in use",
    )
    cashed_share: Quantity = _q(
        0,
        1,
        unit="1",
        label="share of used time cashed",
        doc="share of the released time put to use that is cashed (agency, overtime, posts)",
    )
    non_staff_savings: Quantity = _q(
        0,
        None,
        unit="GBP/year",
        label="savings other than staff time",
        doc="cash savings other than staff time at full additional uptake",
    )
    social_care_share: Quantity = _q(
        0,
        1,
        unit="1",
        label="share of value needing social care",
        doc="share of value that depends on social care",
    )
    residual_life: Quantity = field(  # type: ignore[misc]  # follows _q fields, see Programme.spend
        metadata={
            "kind": "quantity",
            "low": 0,
            "high": 50,
            "open_low": False,
            "unit": "years",
            "fixed": True,
            "whole": True,
            "doc": "whole years the last year's net benefit continues after the appraisal period",
            "label": "benefit life after the period",
        }
    )
    short_label: str | None = _s(SHORT_LABEL_DOC, optional=True)
    staff: Mapping[str, StaffEffect] = field(
        default_factory=dict,
        metadata={"kind": "table_of", "of": StaffEffect, "doc": "effects by staff group"},
    )
    patients: PatientChannel | None = field(
        default=None,
        metadata={"kind": "table", "of": PatientChannel, "optional": True, "doc": "channel shift"},
    )
    inclusion: InclusionEffect | None = field(
        default=None,
        metadata={"kind": "table", "of": InclusionEffect, "optional": True, "doc": "digital inclusion"},
    )
    claimed_return: Quantity | None = field(
        default=None,
        metadata={
            "kind": "quantity",
            "low": 0,
            "high": None,
            "open_low": False,
            "unit": "GBP",
            "optional": True,
            "fixed": True,
            "doc": "return the claim attributes to this strand (cumulative, undiscounted)",
            "label": "claimed return of this strand",
        },
    )


@dataclass(frozen=True)
class Risks:
    """Risks shared across programmes."""

    raid_probability: Quantity = _q(
        0,
        1,
        unit="1/year",
        label="chance of a budget raid",
        doc="probability of a raid on technology budgets in a year",
    )
    raid_fraction: Quantity = _q(
        0,
        1,
        unit="1",
        label="share of the allocation a raid removes",
        doc="fraction of a year's exposed allocation a raid removes",
    )
    digital_exclusion: Quantity = _q(
        0,
        1,
        unit="1",
        label="digital exclusion",
        doc="share of the public who cannot use patient-facing services",
    )
    staff_capacity: Quantity = _q(
        0,
        1,
        unit="1",
        label="staff capacity to adopt",
        doc="multiplier on uptake: staff time, skills and confidence",
    )
    social_care_leakage: Quantity = _q(
        0, 1, unit="1", label="benefit lost to social care", doc="share of social-care-dependent benefit lost"
    )
    funding_elasticity: Quantity = _q(
        0, None, unit="1", label="uptake response to funding", doc="elasticity of uptake to funding adequacy"
    )
    released_time_used: Quantity = _q(
        0,
        1,
        unit="1",
        label="released time put to use",
        doc="share of released staff time put to use: redeployed or cashed (the rest is lost)",
    )


@dataclass(frozen=True)
class Deflator:
    """GDP deflator index by financial year, to turn cash into the scenario's price base."""

    years: tuple[str, ...]
    index: tuple[float, ...]
    source: str
    note: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "years", tuple(self.years))
        object.__setattr__(self, "index", tuple(self.index))

    def to_dict(self) -> dict[str, Any]:  # noqa: D102
        table: dict[str, Any] = {"years": list(self.years), "index": list(self.index), "source": self.source}
        if self.note is not None:
            table["note"] = self.note
        return table

    def factor(self, year: str, price_base: str) -> float:
        """Multiplier turning cash GBP of ``year`` into ``price_base`` prices."""
        return self.index[self.years.index(price_base)] / self.index[self.years.index(year)]


@dataclass(frozen=True)
class BudgetChange:
    """A deterministic change to the announced budget: GBP (cash) in one year, negative for a cut."""

    programme: str
    year: str
    amount: float
    source: str
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:  # noqa: D102
        table: dict[str, Any] = {
            "programme": self.programme,
            "year": self.year,
            "amount": self.amount,
            "source": self.source,
        }
        if self.note is not None:
            table["note"] = self.note
        return table


@dataclass(frozen=True)
class Target:
    """The claimed return the scenario is tested against."""

    description: str = _s(
        "what the claim covers, and whether it is attributable to this spend", free_text=True
    )
    claimed_return: Quantity = field(  # type: ignore[misc]  # follows an _s field, see Programme.spend
        metadata={
            "kind": "quantity",
            "low": 0,
            "high": None,
            "open_low": False,
            "unit": "GBP",
            "fixed": True,
            "doc": "cumulative undiscounted value by the target year",
            "label": "claimed return",
        }
    )
    year: str | None = _s(
        "financial year by which the claim is measured (default: the last scenario year)",
        optional=True,
    )


@dataclass(frozen=True)
class Correlations:
    """Rank (Spearman) correlations between named uncertain inputs, applied by a Gaussian copula.

    Each input keeps its own distribution exactly; only the way the draws pair
    up changes. A Gaussian copula with normal-scale correlation
    ``2 sin(pi r / 6)`` gives Spearman correlation ``r`` between continuous
    inputs (Kruskal 1958). The copula acts draw by draw, so correlated runs keep
    every reproducibility guarantee of uncorrelated ones.

    Parameters
    ----------
    inputs : tuple of str
        Key paths of at least two continuous, uncertain, single-valued inputs
        (``"programmes.it_modernisation.cost_overrun"``; not a per-year input such as
        ``risks.raid_fraction``).
    matrix : tuple of tuple of float
        Symmetric, positive semi-definite matrix of Spearman rank correlations in
        [-1, 1] with a unit diagonal, in the order of ``inputs``.
    source : str
        Where the correlations come from (or ``"assumption: ..."``).
    note : str, optional
        Free text.

    Examples
    --------
    >>> import nhsrisk
    >>> base = nhsrisk.load_scenario()
    >>> linked = base.with_correlations(
    ...     ["programmes.it_modernisation.cost_overrun", "risks.staff_capacity"],
    ...     [[1.0, -0.4], [-0.4, 1.0]],
    ...     source="assumption: projects that overrun leave staff less time to adopt them",
    ... )
    >>> linked.correlations.inputs
    ('programmes.it_modernisation.cost_overrun', 'risks.staff_capacity')
    """

    inputs: tuple[str, ...]
    matrix: tuple[tuple[float, ...], ...]
    source: str
    note: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "matrix", tuple(tuple(row) for row in self.matrix))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict in the TOML layout."""
        table: dict[str, Any] = {
            "inputs": list(self.inputs),
            "matrix": [list(row) for row in self.matrix],
            "source": self.source,
        }
        if self.note is not None:
            table["note"] = self.note
        return table

    def as_array(self) -> np.ndarray:
        """Return the rank-correlation matrix as a float array."""
        return np.array(self.matrix, dtype=float)

    def normal_matrix(self) -> np.ndarray:
        """Normal-scale correlation matrix of the copula, ``2 sin(pi r / 6)``."""
        rank = self.as_array()
        normal = 2.0 * np.sin(np.pi * rank / 6.0)
        # 2 sin(pi/6) rounds to 0.9999999999999999: perfect correlation must stay perfect
        perfect = np.abs(rank) == 1.0
        normal[perfect] = rank[perfect]
        return normal

    def mixing_matrix(self) -> np.ndarray:
        """Return ``M`` with ``M @ M.T == normal_matrix()`` (Cholesky, or eigenvectors if singular)."""
        normal = self.normal_matrix()
        try:
            return np.linalg.cholesky(normal)
        except np.linalg.LinAlgError:
            # singular but positive semi-definite (validated): eigenvalues may be -1e-16
            values, vectors = np.linalg.eigh(normal)
            # eigenvalues of a singular matrix come out as +-1e-16, not 0; their square
            # roots (1e-8) would blur a perfect correlation
            values[values < 1e-12 * values.max()] = 0.0
            return vectors * np.sqrt(values)


_PSD_TOLERANCE = 1e-10


def _parse_source_and_note(table: Mapping[str, Any], path: str, file: str | None) -> tuple[str, str | None]:
    """Return the ``source`` (required, not blank) and ``note`` (optional) strings of a table."""
    source = _expect(table["source"], str, f"{path}.source", file, "a string")
    if not source.strip():
        raise ScenarioError(
            f"{path}.source", "is empty: cite a source or write 'assumption: <reasoning>'", file
        )
    _check_text(source, f"{path}.source", file, free_text=True)
    note = table.get("note")
    if note is not None:
        _text(note, f"{path}.note", file, free_text=True)
    return source, note


def _parse_correlations(value: Any, quantities: Mapping[str, Quantity], file: str | None) -> Correlations:
    path = "correlations"
    table = _expect(value, dict, path, file, "a table with inputs, matrix and source")
    _check_keys(table, {"inputs", "matrix", "source", "note"}, {"inputs", "matrix", "source"}, path, file)
    source, note = _parse_source_and_note(table, path, file)
    inputs = _expect(table["inputs"], list, f"{path}.inputs", file, "an array of input key paths")
    if len(inputs) < 2:
        raise ScenarioError(f"{path}.inputs", f"must name at least two inputs, got {inputs!r}", file)
    for j, name in enumerate(inputs):
        where = f"{path}.inputs[{j}]"
        _expect(name, str, where, file, "an input key path such as 'risks.staff_capacity'")
        if inputs.index(name) != j:
            raise ScenarioError(where, f"{name!r} is listed twice", file)
        if name == "risks.raid_fraction":
            raise ScenarioError(
                where, "risks.raid_fraction is drawn afresh each year and cannot be correlated", file
            )
        if name == "discount_rate" or name.startswith("target.") or name not in quantities:
            allowed = sorted(
                k for k in quantities if k.split(".")[0] in ("risks", "staff_groups", "programmes")
            )
            raise ScenarioError(
                where, f"unknown input {name!r}; inputs are key paths such as {allowed[:3]}", file
            )
        distribution = quantities[name].distribution
        if distribution.is_fixed:
            raise ScenarioError(
                where,
                f"{name!r} is fixed ({distribution.describe()}); only uncertain inputs can be correlated",
                file,
            )
        if type(distribution).__name__ in ("Bernoulli", "Discrete"):
            raise ScenarioError(
                where,
                f"{name!r} is discrete ({distribution.describe()}); a rank correlation can only be "
                "matched for continuous inputs",
                file,
            )
    n = len(inputs)
    rows = _expect(table["matrix"], list, f"{path}.matrix", file, f"a {n}x{n} array of arrays of numbers")
    if len(rows) != n:
        raise ScenarioError(f"{path}.matrix", f"must have {n} rows (one per input), got {len(rows)}", file)
    matrix = []
    for i, row in enumerate(rows):
        _expect(row, list, f"{path}.matrix[{i}]", file, f"an array of {n} numbers")
        if len(row) != n:
            raise ScenarioError(f"{path}.matrix[{i}]", f"must have {n} entries, got {len(row)}", file)
        for j, entry in enumerate(row):
            where = f"{path}.matrix[{i}][{j}]"
            _number(entry, where, file, "a number")
            if not math.isfinite(entry) or not -1.0 <= entry <= 1.0:
                raise ScenarioError(
                    where, f"({inputs[i]} vs {inputs[j]}) = {entry!r} is outside [-1, 1]", file
                )
            if i == j and entry != 1:
                raise ScenarioError(where, f"is a diagonal entry and must be 1, got {entry!r}", file)
        matrix.append(tuple(float(e) for e in row))
    array = np.array(matrix)
    asymmetry = np.abs(array - array.T)
    if asymmetry.max() > 0.0:
        # NumPy integers, so not the int loop variables i and j above
        r, c = np.unravel_index(int(np.argmax(asymmetry)), asymmetry.shape)
        raise ScenarioError(
            f"{path}.matrix",
            f"is not symmetric: matrix[{r}][{c}] = {float(array[r, c])!r} but "
            f"matrix[{c}][{r}] = {float(array[c, r])!r} "
            f"(they differ by {asymmetry[r, c]:.3g})",
            file,
        )
    smallest = float(np.linalg.eigvalsh(array)[0])
    if smallest < -_PSD_TOLERANCE:
        raise ScenarioError(
            f"{path}.matrix",
            f"is not positive semi-definite: its smallest eigenvalue is {smallest:.6g} (must be >= 0), so no "
            "set of inputs can have these correlations; it is not repaired automatically",
            file,
        )
    correlations = Correlations(tuple(inputs), tuple(matrix), source, note)
    normal_smallest = float(np.linalg.eigvalsh(correlations.normal_matrix())[0])
    if normal_smallest < -_PSD_TOLERANCE:
        raise ScenarioError(
            f"{path}.matrix",
            "is positive semi-definite, but its normal-scale version 2 sin(pi r / 6) used by the Gaussian "
            f"copula is not (smallest eigenvalue {normal_smallest:.6g}); move the correlations away from "
            "the boundary",
            file,
        )
    return correlations


@dataclass(frozen=True)
class Population:
    """The population by age band and deprivation quintile: who uses the NHS and who is online.

    Segments are the cross product of the age bands and the quintiles, each
    with a share of the population (``age_share`` x ``quintile_share``) and a
    contact rate (``contacts_by_age`` plus ``contact_gradient`` scaled from
    the least to the most deprived quintile). Digital exclusion by segment
    keeps the shape of ``exclusion_profile_by_age`` and
    ``exclusion_odds_ratio_deprivation`` on the log-odds scale and is shifted,
    draw by draw, so that its population-weighted mean is
    ``risks.digital_exclusion`` (see docs/model.md).
    """

    age_bands: tuple[str, ...] = _labels("age bands, youngest first")
    quintiles: tuple[str, ...] = _labels("deprivation quintiles, most deprived first")
    people: Quantity = _q(
        0, None, unit="persons", label="population", doc="people served", open_low=True, fixed=True
    )
    age_share: Profile = _p("age_bands", 0, 1, unit="1", doc="share of the population", sums_to_one=True)
    quintile_share: Profile = _p("quintiles", 0, 1, unit="1", doc="share of the population", sums_to_one=True)
    contacts_by_age: Profile = _p(
        "age_bands",
        0,
        None,
        unit="contacts/person/year",
        doc="NHS contacts per person per year in the least deprived quintile",
    )
    exclusion_profile_by_age: Profile = _p(
        "age_bands",
        0,
        1,
        unit="1",
        doc="shape of digital exclusion by age: shifted on the log-odds scale to the sampled headline",
        open_low=True,
        open_high=True,
    )
    income_ratio_by_quintile: Profile = _p(
        "quintiles",
        0,
        None,
        unit="1",
        doc="income relative to the median, for Green Book distributional weights",
        open_low=True,
    )
    contact_gradient: Quantity = _q(
        None,
        None,
        unit="contacts/person/year",
        label="extra contacts in the most deprived quintile",
        doc="contacts per person-year more in the most deprived quintile than in the least (linear between)",
        fixed=True,
    )
    exclusion_odds_ratio_deprivation: Quantity = _q(
        0,
        None,
        unit="1",
        label="odds of exclusion, most vs least deprived",
        doc="odds ratio of digital exclusion, most vs least deprived quintile (log-linear between)",
        open_low=True,
        fixed=True,
    )
    inequality_aversion: Quantity = _q(
        0,
        None,
        unit="1",
        label="elasticity of marginal utility of income",
        doc="elasticity of the marginal utility of income for distributional weights (0: no weights)",
        fixed=True,
    )
    headline_age_bands: tuple[str, ...] | None = _labels(
        "age bands the headline risks.digital_exclusion describes (its surveys are of adults; default: all)",
        optional=True,
    )


@dataclass(frozen=True)
class Scenario:
    """A complete scenario: years, programmes, staff groups, risks and the target.

    Build one with :func:`load_scenario`, :meth:`from_toml` or directly.
    Derive variants with :meth:`with_values`; scenarios are immutable. A
    variant lists what it changed in ``changes`` (one line per key path set,
    such as ``"risks.digital_exclusion = 0.1"``), which its TOML keeps and its
    results and figures show.

    Examples
    --------
    >>> import nhsrisk
    >>> from nhsrisk.distributions import Beta
    >>> base = nhsrisk.load_scenario("as-announced")
    >>> variant = base.with_values({"risks.digital_exclusion": Beta.from_mean_sd(0.3, 0.05)})
    >>> round(variant.risks.digital_exclusion.distribution.mean(), 12)
    0.3
    >>> variant.changes
    ('risks.digital_exclusion = Beta(alpha=24.9, beta=58.1, low=0, high=1)',)
    """

    name: str
    title: str
    description: str
    years: tuple[str, ...]
    price_base: str
    deflator: Deflator
    discount_rate: Quantity
    long_term_discount_rate: Quantity
    target: Target
    risks: Risks
    staff_groups: Mapping[str, StaffGroup]
    programmes: Mapping[str, Programme]
    schema_version: int = SCHEMA_VERSION
    correlations: Correlations | None = None
    budget_changes: tuple[BudgetChange, ...] = ()
    baseline: str | None = None
    changes: tuple[str, ...] = ()
    population: Population | None = None

    def __post_init__(self) -> None:
        _freeze(self)
        # Round-tripping through the parser validates a scenario built in Python.
        _parse_scenario(self.to_dict(), file=None)

    # -- conversions -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict in the TOML layout."""
        return {
            "schema_version": self.schema_version,
            "name": self.name,
            "title": self.title,
            "description": self.description,
            **({"baseline": self.baseline} if self.baseline is not None else {}),
            **({"changes": list(self.changes)} if self.changes else {}),
            "years": list(self.years),
            "price_base": self.price_base,
            "deflator": self.deflator.to_dict(),
            "discount_rate": self.discount_rate.to_dict(),
            "long_term_discount_rate": self.long_term_discount_rate.to_dict(),
            "target": _record_to_dict(self.target),
            "risks": _record_to_dict(self.risks),
            "staff_groups": {k: _record_to_dict(v) for k, v in self.staff_groups.items()},
            "programmes": {k: _record_to_dict(v) for k, v in self.programmes.items()},
            **({"population": _record_to_dict(self.population)} if self.population is not None else {}),
            **({"budget_changes": [c.to_dict() for c in self.budget_changes]} if self.budget_changes else {}),
            **({"correlations": self.correlations.to_dict()} if self.correlations is not None else {}),
        }

    def to_toml(self) -> str:
        """Return the scenario as TOML text; ``Scenario.from_toml(s.to_toml()) == s``."""
        return dumps_toml(self.to_dict())

    @classmethod
    def from_toml(cls, text: str, *, file: str | None = None) -> Scenario:
        """Parse TOML text; errors name ``file`` (if given) and the key path."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ScenarioError("(file)", f"not valid TOML: {err}", file) from None
        except RecursionError:
            raise ScenarioError(
                "(file)", "not valid TOML: arrays or tables nested too deeply", file
            ) from None
        except ValueError as err:  # an integer of more digits than Python converts (4300 by default)
            raise ScenarioError("(file)", f"cannot be read: {err}", file) from None
        return _parse_scenario(data, file=file)

    def sha256(self) -> str:
        """Hash of the canonical TOML text (stored with results to detect tampering)."""
        return hashlib.sha256(self.to_toml().encode("utf-8")).hexdigest()

    # -- variants ----------------------------------------------------------------------
    def with_values(self, values: Mapping[str, Any], *, source: str | None = None) -> Scenario:
        """Return a new scenario with the values at the given key paths replaced.

        Parameters
        ----------
        values : mapping of str to object
            Key path (``"risks.digital_exclusion"``, ``"programmes.it_modernisation.uptake_ceiling"``,
            ``"deflator.index"``, ``"name"``) to a :class:`~nhsrisk.distributions.Distribution`,
            a number (fixed value), a :class:`Quantity`, a string, a list or array (for
            ``spend``, ``years`` or ``deflator.index``), a record (a :class:`Deflator`, an
            :class:`InclusionEffect`, a whole :class:`Programme` ...) or a TOML-style dict
            (for example a whole new programme). ``"budget_changes"`` takes a list of
            :class:`BudgetChange` records or of dicts with ``programme``, ``year``,
            ``amount`` (GBP cash, negative for a cut) and ``source``; an empty list
            removes them.
        source : str, optional
            Source recorded for replaced quantities; default
            ``"assumption: value set by the user with Scenario.with_values"``.

        Returns
        -------
        Scenario
            Validated like a file: a bad path or value raises :class:`ScenarioError`.
            Its :attr:`changes` are this scenario's followed by one line per
            key path set here (``"risks.digital_exclusion = 0.1"``), so that
            results and figures can say what the variant changed; renaming
            keys (``name``, ``title``, ``description``, ``baseline``) are not
            changes of the model and are not recorded.

        Examples
        --------
        >>> cut = {"programme": "it_modernisation", "year": "2026/27", "amount": -3.25e8,
        ...        "source": "HSJ (Nov 2023)"}
        >>> after = load_scenario().with_values({"budget_changes": [cut], "name": "cut"})
        >>> after.total_budget_change
        -325000000.0
        >>> after.changes
        ('budget_changes = 1 change (GBP -325m cash)',)
        """
        data = copy.deepcopy(self.to_dict())
        note = source or "assumption: value set by the user with Scenario.with_values"
        for path, value in values.items():
            parts = path.split(".")
            node: Any = data
            for depth, part in enumerate(parts[:-1]):
                if not isinstance(node, dict) or part not in node:
                    raise ScenarioError(path, f"no such key {'.'.join(parts[: depth + 1])!r}")
                node = node[part]
            last = parts[-1]
            if not isinstance(node, dict):
                raise ScenarioError(path, "is not inside a table")
            current = node.get(last)
            node[last] = _override_value(last, current, value, note)
        variant = _parse_scenario(data, file=None)
        if "changes" not in values:
            # described once the parser has accepted every value, so a description never meets a bad one
            recorded = [_describe_change(path, value) for path, value in values.items()]
            changes = (*self.changes, *(text for text in recorded if text is not None))
            object.__setattr__(variant, "changes", changes)
        return variant

    def with_correlations(
        self, inputs: list[str] | tuple[str, ...], matrix: Any, *, source: str, note: str | None = None
    ) -> Scenario:
        """Return a new scenario whose named inputs have the given Spearman rank correlations.

        Parameters
        ----------
        inputs : sequence of str
            Key paths of continuous uncertain inputs (see :class:`Correlations`).
        matrix : array_like
            Square rank-correlation matrix in the order of ``inputs``.
        source : str
            Where the correlations come from (or ``"assumption: ..."``).
        note : str, optional
            Free text.

        Returns
        -------
        Scenario
            Validated: a matrix that is not symmetric, has entries outside
            [-1, 1] or is not positive semi-definite raises :class:`ScenarioError`
            saying which and by how much.

        Examples
        --------
        >>> base = load_scenario()
        >>> linked = base.with_correlations(
        ...     ["programmes.it_modernisation.delivery_delay", "risks.staff_capacity"],
        ...     [[1, -0.5], [-0.5, 1]],
        ...     source="assumption: x",
        ... )
        >>> linked.correlations.matrix
        ((1.0, -0.5), (-0.5, 1.0))
        """
        table: dict[str, Any] = {
            "inputs": list(inputs),
            "matrix": np.asarray(matrix).tolist() if isinstance(matrix, np.ndarray) else matrix,
            "source": source,
        }
        if note is not None:
            table["note"] = note
        data = self.to_dict()
        data["correlations"] = table
        return _parse_scenario(data, file=None)

    def without_correlations(self) -> Scenario:
        """Return the scenario with independent inputs (no ``correlations`` table)."""
        data = self.to_dict()
        data.pop("correlations", None)
        return _parse_scenario(data, file=None)

    # -- labels ------------------------------------------------------------------------
    def input_label(self, key: str, *, units: bool = True) -> str:
        """Name an input for a reader: its owner's short display name and what the figure is.

        Figures and tables label inputs with this, not with their key paths.

        Parameters
        ----------
        key : str
            Key path of a quantity (``"programmes.patient_services.patients.value_per_contact"``),
            optionally with a year (``"risks.raid_fraction[2025/26]"``); ``*`` for
            every programme or staff group (``"programmes.*.cost_overrun"``); or
            ``"risks.raid_event"``, the uniform that decides the budget raid of a year.
        units : bool, default=True
            Append the units in brackets, unless the figure is a share or a factor
            (units ``"1"``).

        Returns
        -------
        str
            ``"<owner>: <what>"``; the owner is ``"Risks"``, a programme's or staff
            group's ``short_label`` (default: its label when at most
            :data:`SHORT_LABEL_MAX` characters, else its id), or both for a
            programme's effect on a staff group.

        Raises
        ------
        ValueError
            If ``key`` is not the key path of a quantity of this scenario.

        Examples
        --------
        >>> scenario = load_scenario()
        >>> scenario.input_label("programmes.patient_services.patients.value_per_contact")
        'Patient services: value of a contact moved online (GBP/contact)'
        >>> scenario.input_label("programmes.it_modernisation.staff.gp.addressable_share")
        'IT modernisation, GPs: share of time addressed'
        >>> scenario.input_label("risks.raid_fraction[2026/27]")
        'Risks: share of the allocation a raid removes in 2026/27'
        """
        found = _YEAR_KEY.fullmatch(key)
        path, year = (found.group(1), found.group(2)) if found else (key, None)
        located = self._locate(path)
        if located is None:
            raise ValueError(
                "The 'key' parameter of Scenario.input_label must be the key path of a quantity of the "
                f"scenario, such as 'risks.digital_exclusion'. Got {key!r} instead."
            )
        owner, meta = located
        text = f"{owner[:1].upper()}{owner[1:]}: {meta['label']}"
        if year is not None:
            text += f" in {year}"
        unit = {"1": "", "1/year": "per year"}.get(meta.get("unit", ""), meta.get("unit", ""))
        return f"{text} ({unit})" if units and unit else text

    def _locate(self, path: str) -> tuple[str, Mapping[str, Any]] | None:
        """Return the owner's display name and the field metadata of a quantity's key path, or None."""
        parts = path.split(".")
        if path in _TOP_LEVEL_LABELS:
            return "Appraisal", {"label": _TOP_LEVEL_LABELS[path], "unit": "1/year"}
        if path == "risks.raid_event":
            return "Risks", {"label": "whether a budget raid happens", "unit": "1"}
        if len(parts) == 2 and parts[0] in ("risks", "target"):
            return _field_meta(Risks if parts[0] == "risks" else Target, parts[1], parts[0].capitalize())
        if len(parts) == 3 and parts[0] == "staff_groups":
            return _field_meta(StaffGroup, parts[2], self._short_name("staff_groups", parts[1]))
        if len(parts) == 2 and parts[0] == "population":
            return _field_meta(Population, parts[1], "Population")
        if len(parts) < 3 or parts[0] != "programmes":
            return None
        owner = self._short_name("programmes", parts[1])
        rest = parts[2:]
        if len(rest) == 1:
            return _field_meta(Programme, rest[0], owner)
        if len(rest) == 2 and rest[0] in ("patients", "inclusion"):
            return _field_meta(PatientChannel if rest[0] == "patients" else InclusionEffect, rest[1], owner)
        if len(rest) == 3 and rest[0] == "staff":
            group = self._short_name("staff_groups", rest[1])
            # "Hospital doctors" reads "hospital doctors" after a comma; "GPs" stays as it is
            if len(group) > 1 and group[0].isupper() and group[1].islower():
                group = group[0].lower() + group[1:]
            return _field_meta(StaffEffect, rest[2], f"{owner}, {group}")
        return None

    def _short_name(self, table: str, key: str) -> str:
        """Display name of a programme or staff group on a figure axis (see :meth:`input_label`)."""
        if key == "*":
            return "Every programme" if table == "programmes" else "every staff group"
        records: Mapping[str, StaffGroup | Programme] = getattr(self, table)
        record = records.get(key)
        if record is None:
            return key.replace("_", " ").capitalize()
        if record.short_label is not None:
            return record.short_label
        if len(record.label) <= SHORT_LABEL_MAX:
            return record.label
        return key.replace("_", " ").capitalize()

    # -- convenience -------------------------------------------------------------------
    @property
    def target_year(self) -> str:
        """Financial year by which the claimed return is measured (``target.year``, else the last year)."""
        return self.target.year if self.target.year is not None else self.years[-1]

    @property
    def total_spend(self) -> float:
        """Total planned (announced) spend over all programmes and years [GBP, cash]."""
        return math.fsum(p.spend.total for p in self.programmes.values())

    @property
    def claim_years(self) -> tuple[str, ...]:
        """The claim window: the first year to the target year, for the claim test."""
        return self.years[: self.years.index(self.target_year) + 1]

    @property
    def total_budget_change(self) -> float:
        """Sum of the budget changes [GBP, cash]: negative when money is cut."""
        return math.fsum(c.amount for c in self.budget_changes)

    def real_terms_factors(self) -> np.ndarray:
        """Multiplier per scenario year turning cash GBP into ``price_base`` prices (the GDP deflator)."""
        return np.array([self.deflator.factor(year, self.price_base) for year in self.years])

    def budget_change_table(self) -> np.ndarray:
        """Budget changes as an array [programme, year] of cash GBP (zero where none)."""
        table = np.zeros((len(self.programmes), len(self.years)))
        position = {pid: p for p, pid in enumerate(self.programmes)}
        for change in self.budget_changes:
            table[position[change.programme], self.years.index(change.year)] += change.amount
        return table

    def discount_factors(self, n_year: int) -> np.ndarray:
        """Green Book discount factors for years ``0 .. n_year - 1`` (year 0 undiscounted).

        ``discount_rate`` applies to years 0 to 30 and ``long_term_discount_rate``
        from year 31 (HM Treasury Green Book, discounting annex).

        Examples
        --------
        >>> factors = load_scenario().discount_factors(32)
        >>> bool(abs(factors[31] / factors[30] - 1 / 1.03) < 1e-15)
        True
        """
        short = self.discount_rate.distribution.mean()
        long = self.long_term_discount_rate.distribution.mean()
        t = np.arange(n_year, dtype=float)
        switch = LONG_TERM_FROM_YEAR - 1
        return np.where(
            t <= switch,
            (1.0 + short) ** -t,
            (1.0 + short) ** -float(switch) * (1.0 + long) ** -(t - switch),
        )

    def quantities(self) -> dict[str, Quantity]:
        """Every quantity of the scenario by key path."""
        found: dict[str, Quantity] = {
            "discount_rate": self.discount_rate,
            "long_term_discount_rate": self.long_term_discount_rate,
        }
        _collect(self.target, "target", found)
        _collect(self.risks, "risks", found)
        for gid, group in self.staff_groups.items():
            _collect(group, f"staff_groups.{gid}", found)
        for pid, programme in self.programmes.items():
            _collect(programme, f"programmes.{pid}", found)
        if self.population is not None:
            _collect(self.population, "population", found)
        return found

    def _horizon_rows(self) -> list[tuple[str, str, str]]:
        """(horizon, years, what it is used for), for the Markdown and HTML displays."""
        claim, period = self.claim_years, self.years
        claimed = self.target.claimed_return.distribution.mean()
        short = self.discount_rate.distribution.mean()
        long = self.long_term_discount_rate.distribution.mean()
        return [
            (
                "claim window",
                f"{claim[0]} to {claim[-1]} ({len(claim)} years)",
                f"the claim test: cumulative undiscounted value against the claimed "
                f"GBP {claimed / 1e9:.2f}bn",
            ),
            (
                "appraisal period",
                f"{period[0]} to {period[-1]} ({len(period)} years)",
                f"NPV, BCR and present values, discounted at {short:.1%} a year ({long:.1%} from year "
                f"{LONG_TERM_FROM_YEAR}), with residual value after the period",
            ),
        ]

    def _deflator_rows(self) -> list[tuple[str, float, float]]:
        """(year, index, factor to price_base prices) for every year the deflator lists."""
        return [
            (year, index, self.deflator.factor(year, self.price_base))
            for year, index in zip(self.deflator.years, self.deflator.index, strict=True)
        ]

    def to_markdown(self) -> str:
        """Every figure of the scenario with its distribution, mean and source, as Markdown.

        Shows both horizons (claim window and appraisal period), the planned
        spend, the budget changes, the GDP deflator and every quantity, with
        the label figures give it (:meth:`input_label`).

        Examples
        --------
        >>> text = load_scenario().to_markdown()
        >>> "risks.digital_exclusion" in text and "| appraisal period | 2025/26 to 2034/35" in text
        True
        """
        lines = [
            f"# Scenario `{self.name}`: {self.title}",
            "",
            self.description.strip(),
            "",
        ]
        if self.baseline is not None:
            lines += [f"Compared with the scenario `{self.baseline}`.", ""]
        if self.changes:
            lines += ["Changed with `Scenario.with_values`:", ""]
            lines += [f"- `{change}`" for change in self.changes] + [""]
        lines += ["| horizon | years | used for |", "| --- | --- | --- |"]
        lines += [f"| {name} | {years} | {use} |" for name, years, use in self._horizon_rows()]
        lines += [
            "",
            f"Prices: {self.price_base} (cash spend and budget changes are converted with the GDP deflator "
            f"below); total planned spend GBP {self.total_spend / 1e9:.3f}bn cash"
            + (
                f"; budget changes GBP {self.total_budget_change / 1e9:+.3f}bn cash"
                if self.budget_changes
                else "; no budget changes"
            )
            + ".",
            "",
            f"Target: {self.target.description.strip()}",
            "",
            "## Planned spend (GBP, cash)",
            "",
            "| programme | " + " | ".join(self.years) + " | total | source |",
            "| --- | " + " | ".join("---:" for _ in self.years) + " | ---: | --- |",
        ]
        for pid, programme in self.programmes.items():
            amounts = " | ".join(f"{v / 1e6:,.0f}m" for v in programme.spend.values)
            total = f"{programme.spend.total / 1e6:,.0f}m"
            lines.append(f"| `{pid}` | {amounts} | {total} | {_cell(programme.spend.source)} |")
        if self.budget_changes:
            lines += [
                "",
                "## Budget changes (GBP, cash; negative is a cut)",
                "",
                f"| programme | year | amount | in {self.price_base} prices | source |",
                "| --- | --- | ---: | ---: | --- |",
            ]
            for change in self.budget_changes:
                real = change.amount * self.deflator.factor(change.year, self.price_base)
                note = f" ({_cell(change.note)})" if change.note else ""
                lines.append(
                    f"| `{change.programme}` | {change.year} | {change.amount / 1e6:+,.1f}m | "
                    f"{real / 1e6:+,.1f}m | {_cell(change.source)}{note} |"
                )
        rows = self._deflator_rows()
        lines += [
            "",
            f"## GDP deflator (index; factor to {self.price_base} prices)",
            "",
            "| | " + " | ".join(year for year, _, _ in rows) + " |",
            "| --- | " + " | ".join("---:" for _ in rows) + " |",
            "| index | " + " | ".join(f"{index:.4f}" for _, index, _ in rows) + " |",
            "| factor | " + " | ".join(f"{factor:.4f}" for _, _, factor in rows) + " |",
            "",
            f"Source: {_cell(self.deflator.source)}",
            "",
            *self._population_lines(),
            "## Every figure",
            "",
            "| key path | on figures | distribution | mean | source |",
            "| --- | --- | --- | ---: | --- |",
        ]
        for key, quantity in self.quantities().items():
            lines.append(
                f"| `{key}` | {_cell(self.input_label(key))} | {quantity.distribution.describe()} "
                f"| {quantity.distribution.mean():.6g} | {_cell(quantity.source)} |"
            )
        return "\n".join(lines) + "\n"

    def _population_lines(self) -> list[str]:
        """Return the population profiles by age band and quintile, for :meth:`to_markdown` (or none)."""
        population = self.population
        if population is None:
            return []
        lines = [
            "## Population by age band and deprivation quintile",
            "",
            "Segments are age band x quintile; digital exclusion by segment keeps the shape of the "
            "profile and the deprivation odds ratio and is shifted, draw by draw, to the headline "
            "`risks.digital_exclusion` over the headline's age bands"
            + (f" ({', '.join(population.headline_age_bands)})" if population.headline_age_bands else "")
            + " (docs/model.md). The single figures are listed with every other figure below.",
            "",
            "| key path | values | unit | source |",
            "| --- | --- | --- | --- |",
        ]
        for f in fields(Population):
            if f.metadata["kind"] != "profile":
                continue
            profile = getattr(population, f.name)
            labels = getattr(population, f.metadata["axis"])
            values = ", ".join(
                f"{label} {value:.4g}" for label, value in zip(labels, profile.values, strict=True)
            )
            unit, source = f.metadata["unit"], _cell(profile.source)
            lines.append(f"| `population.{f.name}` | {_cell(values)} | {unit} | {source} |")
        return [*lines, ""]

    def _repr_html_(self) -> str:
        """Notebook display: horizons, programmes with their spend, budget changes, deflator, every figure."""
        from html import escape

        years = "".join(f"<th>{escape(year)}</th>" for year in self.years)
        spend_rows = "".join(
            f"<tr><td><code>{escape(pid)}</code></td><td>{escape(programme.label)}</td>"
            + "".join(f"<td style='text-align:right'>{v / 1e6:,.0f}</td>" for v in programme.spend.values)
            + f"<td style='text-align:right'><b>{programme.spend.total / 1e6:,.0f}</b></td></tr>"
            for pid, programme in self.programmes.items()
        )
        horizon_rows = "".join(
            f"<tr><td>{escape(name)}</td><td>{escape(span)}</td><td>{escape(use)}</td></tr>"
            for name, span, use in self._horizon_rows()
        )
        change_rows = "".join(
            f"<tr><td><code>{escape(c.programme)}</code></td><td>{escape(c.year)}</td>"
            f"<td style='text-align:right'>{c.amount / 1e6:+,.1f}</td>"
            f"<td style='text-align:right'>"
            f"{c.amount * self.deflator.factor(c.year, self.price_base) / 1e6:+,.1f}</td>"
            f"<td>{escape(c.source)}</td></tr>"
            for c in self.budget_changes
        )
        changes = (
            "<table><caption>Budget changes (GBP million; negative is a cut)</caption><thead><tr>"
            f"<th>programme</th><th>year</th><th>cash</th><th>{escape(self.price_base)} prices</th>"
            f"<th>source</th></tr></thead><tbody>{change_rows}</tbody></table>"
            if self.budget_changes
            else "<p>No budget changes to the announced plan.</p>"
        )
        deflator_rows = self._deflator_rows()
        deflator = (
            f"<table><caption>GDP deflator (factor to {escape(self.price_base)} prices)</caption>"
            "<thead><tr><th></th>"
            + "".join(f"<th>{escape(year)}</th>" for year, _, _ in deflator_rows)
            + "</tr></thead><tbody><tr><td>index</td>"
            + "".join(f"<td style='text-align:right'>{index:.4f}</td>" for _, index, _ in deflator_rows)
            + "</tr><tr><td>factor</td>"
            + "".join(f"<td style='text-align:right'>{factor:.4f}</td>" for _, _, factor in deflator_rows)
            + f"</tr></tbody></table><p>Deflator source: {escape(self.deflator.source)}</p>"
        )
        figure_rows = "".join(
            f"<tr><td><code>{escape(key)}</code></td><td>{escape(q.distribution.describe())}</td>"
            f"<td style='text-align:right'>{q.distribution.mean():.4g}</td>"
            f"<td>{'<i>assumption</i>: ' if q.is_assumption else ''}"
            f"{escape(q.source.split(':', 1)[1].strip() if q.is_assumption else q.source)}</td></tr>"
            for key, q in self.quantities().items()
        )
        baseline = (
            f" Compared with <code>{escape(self.baseline)}</code>." if self.baseline is not None else ""
        )
        if self.changes:
            baseline += " Changed with <code>Scenario.with_values</code>: " + "; ".join(
                f"<code>{escape(change)}</code>" for change in self.changes
            )
            baseline += "."
        return (
            f"<div><p><b>Scenario <code>{escape(self.name)}</code></b>: {escape(self.title)}<br>"
            f"{escape(self.price_base)} prices; total planned spend GBP {self.total_spend / 1e9:.3f}bn "
            f"cash.{baseline}</p>"
            "<table><caption>Horizons</caption><thead><tr><th>horizon</th><th>years</th><th>used for</th>"
            f"</tr></thead><tbody>{horizon_rows}</tbody></table>"
            f"<table><caption>Planned spend (GBP million, cash)</caption><thead><tr><th>programme</th>"
            f"<th>label</th>{years}<th>total</th></tr></thead><tbody>{spend_rows}</tbody></table>"
            f"{changes}{deflator}"
            f"<details><summary>All {len(self.quantities())} figures with their sources</summary>"
            "<table><thead><tr><th>key path</th><th>distribution</th><th>mean</th><th>source</th>"
            "</tr></thead>"
            f"<tbody>{figure_rows}</tbody></table></details></div>"
        )

    def __hash__(self) -> int:
        return hash(self.sha256())

    def __repr__(self) -> str:
        return (
            f"Scenario(name={self.name!r}, years={self.years[0]}..{self.years[-1]}, "
            f"programmes={list(self.programmes)}, staff_groups={list(self.staff_groups)}, "
            f"total_spend=GBP {self.total_spend / 1e9:.2f}bn"
            + (f", changes={list(self.changes)}" if self.changes else "")
            + ")"
        )


#: Labels of the quantities at the top of a scenario file (the others are fields of its records).
_TOP_LEVEL_LABELS = {
    "discount_rate": "discount rate",
    "long_term_discount_rate": "long-term discount rate",
}
#: ``"risks.raid_fraction[2025/26]"``: a per-year input's key path and year.
_YEAR_KEY = re.compile(r"^(.*)\[(\d{4}/\d{2})\]$")


def _field_meta(record: type, name: str, owner: str) -> tuple[str, Mapping[str, Any]] | None:
    """``(owner, metadata)`` of the quantity field ``name`` of ``record``, or None if it has none."""
    meta = {f.name: f.metadata for f in fields(record)}.get(name)
    if meta is None or meta.get("kind") != "quantity":
        return None
    return owner, meta


def _freeze(scenario: Scenario) -> None:
    """Make the mappings and sequences of a scenario read-only, so that it really is immutable."""
    object.__setattr__(scenario, "years", tuple(scenario.years))
    object.__setattr__(scenario, "budget_changes", tuple(scenario.budget_changes))
    object.__setattr__(scenario, "changes", tuple(scenario.changes))
    object.__setattr__(scenario, "staff_groups", types.MappingProxyType(dict(scenario.staff_groups)))
    programmes = {
        pid: _replace(programme, staff=types.MappingProxyType(dict(programme.staff)))
        for pid, programme in scenario.programmes.items()
    }
    object.__setattr__(scenario, "programmes", types.MappingProxyType(programmes))


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _replace(obj: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(obj, **changes)


def _collect(record: Any, prefix: str, found: dict[str, Quantity]) -> None:
    for f in fields(record):
        value = getattr(record, f.name)
        if isinstance(value, Quantity):
            found[f"{prefix}.{f.name}"] = value
        elif isinstance(value, Mapping):
            for key, sub in value.items():
                _collect(sub, f"{prefix}.{f.name}.{key}", found)
        elif (
            value is not None
            and hasattr(value, "__dataclass_fields__")
            and not isinstance(value, Spend | Profile)
        ):
            _collect(value, f"{prefix}.{f.name}", found)


def _override_value(key: str, current: Any, value: Any, source: str) -> Any:
    if isinstance(value, Quantity):
        return value.to_dict()
    if isinstance(value, Distribution):
        return {**value.to_dict(), "source": source}
    if isinstance(value, BudgetChange | Deflator | Correlations | Spend):
        return value.to_dict()
    if _is_record(value):
        return _record_to_dict(value)  # a whole programme, staff group, patients or inclusion table
    if key == "budget_changes" and isinstance(value, list | tuple):
        return [_override_value("", None, item, source) for item in value]
    is_spend = key == "spend" and isinstance(current, dict)
    is_quantity = isinstance(current, dict) and "source" in current and not is_spend
    if is_quantity and isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_):
        return {"value": _float_or_int(value), "source": source}
    if is_spend and isinstance(value, list | tuple | np.ndarray):
        return {"values": [_float_or_int(v) for v in value], "source": source}
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


#: Top-level keys that name or describe a scenario: setting them renames it, and is not a change.
_NAMING_KEYS = ("name", "title", "description", "baseline")


def _describe_change(path: str, value: Any) -> str | None:
    """One line saying what :meth:`Scenario.with_values` set at ``path``; None for a renaming key."""
    if path in _NAMING_KEYS:
        return None
    if isinstance(value, Quantity):
        value = value.distribution
    if isinstance(value, Distribution):
        text = _change_number(value.mean()) if isinstance(value, Fixed) else value.describe()
        return f"{path} = {text}"
    if isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_):
        return f"{path} = {_change_number(value)}"
    if path == "budget_changes" and isinstance(value, list | tuple):
        if not value:
            return "budget_changes = none"
        amounts = [item.amount if isinstance(item, BudgetChange) else item.get("amount") for item in value]
        count = f"{len(value)} change{'s' if len(value) != 1 else ''}"
        if all(isinstance(a, numbers.Real) for a in amounts):
            total = math.fsum(float(a) for a in amounts)
            return f"budget_changes = {count} (GBP {_change_number(total / 1e6)}m cash)"
        return f"budget_changes = {count}"
    if isinstance(value, str):
        return f"{path} = {value!r}"
    if path.endswith("spend") and isinstance(value, list | tuple | np.ndarray):
        total = math.fsum(float(v) for v in value)
        return f"{path} = GBP {_change_number(total / 1e6)}m cash over {len(value)} years"
    if isinstance(value, list | tuple | np.ndarray):
        items = list(np.asarray(value, dtype=object).ravel())
        if len(items) <= 4 and all(isinstance(v, numbers.Real) for v in items):
            return f"{path} = [{', '.join(_change_number(v) for v in items)}]"
        return f"{path} = {len(items)} values"
    return f"{path} = a new {type(value).__name__ if _is_record(value) else 'table'}"


def _change_number(value: Any) -> str:
    """Write a number as a person would type it: ``0.1``, ``2``, ``325,000,000``, ``1.5e-07``."""
    number = float(value)
    if number.is_integer() and abs(number) < 1e15:
        return f"{number:,.0f}"
    return f"{number:.6g}"


def _is_record(value: Any) -> bool:
    """Return True for an instance of a scenario record dataclass (Programme, StaffGroup ...)."""
    return not isinstance(value, type) and hasattr(value, "__dataclass_fields__")


def _float_or_int(value: Any) -> Any:
    """``float(value)``, or a Python int beyond a double as it is, for the parser to refuse by key path."""
    try:
        return float(value)
    except OverflowError:
        return value


def _record_to_dict(record: Any) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for f in fields(record):
        value = getattr(record, f.name)
        if value is None:
            continue
        if isinstance(value, Quantity | Spend | Profile):
            table[f.name] = value.to_dict()
        elif isinstance(value, tuple):
            table[f.name] = list(value)
        elif isinstance(value, Mapping):
            table[f.name] = {k: _record_to_dict(v) for k, v in value.items()}
        elif hasattr(value, "__dataclass_fields__"):
            table[f.name] = _record_to_dict(value)
        else:
            table[f.name] = value
    return table


# ---------------------------------------------------------------------------------
# Parsing and validation
# ---------------------------------------------------------------------------------


def _type_name(value: Any) -> str:
    return {dict: "table", list: "array", str: "string", float: "float", int: "integer", bool: "boolean"}.get(
        type(value), type(value).__name__
    )


def _expect(
    value: Any, kind: type | types.UnionType | tuple[type, ...], path: str, file: str | None, what: str
) -> Any:
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        raise ScenarioError(path, f"must be {what}, got {_type_name(value)} {_describe_number(value)}", file)
    return value


def _number(value: Any, path: str, file: str | None, what: str) -> int | float:
    """Return a TOML number that converts to a double: tomllib reads integers of any size, a double not."""
    _expect(value, int | float, path, file, what)
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            raise ScenarioError(
                path,
                f"must be {what} within the range of a double (magnitude at most about 1.8e308), "
                f"got {_describe_number(value)}",
                file,
            ) from None
    return value


#: C0 and C1 control characters and DEL, and lone surrogates (not text: UTF-8 cannot encode them).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
#: The same, less tab and newline, which free text (descriptions, sources, notes) may hold.
_FREE_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


def _check_text(text: str, path: str, file: str | None, *, free_text: bool = False) -> str:
    """Refuse control characters: results files cannot store NUL, and the rest garble terminals and tables."""
    found = (_FREE_TEXT_CONTROL if free_text else _CONTROL).search(text)
    if found is None:
        return text
    char, at = found.group(), found.start()
    if "\ud800" <= char <= "\udfff":
        what = f"a lone surrogate {char!r}, which is not text"
    else:
        what = f"the control character {char!r} (U+{ord(char):04X})"
    allowed = (
        "free text may hold tabs and newlines but no other control character"
        if free_text
        else "a one-line string may hold no control character (tab and newline included)"
    )
    excerpt = text[max(0, at - 20) : at + 20]
    raise ScenarioError(path, f"contains {what} at position {at} of {excerpt!r}: {allowed}", file)


def _text(value: Any, path: str, file: str | None, *, free_text: bool = False) -> str:
    """Return ``value`` if it is a string without control characters (see :func:`_check_text`)."""
    return _check_text(_expect(value, str, path, file, "a string"), path, file, free_text=free_text)


def _path_part(key: str) -> str:
    """Write a key as in a key path: quoted when nothing of it is visible (``""``, ``" "``)."""
    if any(unicodedata.category(char)[0] not in "ZC" for char in key):
        return key
    return json.dumps(key)


#: Keys of schema 1 that schema 2 moved or removed, by the table they were in: where they went.
_SCHEMA_1_KEYS: Mapping[tuple[str, str], str] = types.MappingProxyType(
    {
        **{
            ("risks", key): f"moved in schema 2 to each programme: programmes.<id>.{key}, drawn per programme"
            for key in ("cost_overrun", "black_swan", "black_swan_overrun", "delivery_delay")
        },
        ("risks", "redeployment_fraction"): "renamed in schema 2: risks.released_time_used (the share of "
        "released staff time put to use, redeployed or cashed)",
        ("programmes.*", "realisation_lag"): "removed in schema 2: a year's benefit uses the uptake at "
        "mid-year, and uptake_midpoint holds the planned timing",
        ("programmes.*", "cash_releasing_fraction"): "removed in schema 2: cash-releasing value comes from "
        "cashed_share (of the released time put to use) and non_staff_savings",
    }
)


def _check_keys(
    table: Mapping[str, Any], allowed: set[str], required: set[str], path: str, file: str | None
) -> None:
    prefix = f"{path}." if path else ""
    table_kind = "programmes.*" if re.fullmatch(r"programmes\.[^.]+", path) else path
    for key in table:
        if key not in allowed:
            hint = _SCHEMA_1_KEYS.get((table_kind, key))
            raise ScenarioError(
                f"{prefix}{_path_part(key)}",
                f"unknown key ({hint})" if hint else f"unknown key; allowed here: {sorted(allowed)}",
                file,
            )
    for key in sorted(required):
        if key not in table:
            raise ScenarioError(f"{prefix}{key}", "missing required key", file)


def _parse_quantity(value: Any, meta: Mapping[str, Any], path: str, file: str | None) -> Quantity:
    table = dict(_expect(value, dict, path, file, 'a table such as { value = 1.0, source = "..." }'))
    if "source" not in table:
        raise ScenarioError(
            f"{path}.source", "missing: every number needs a source (or 'assumption: ...')", file
        )
    source, note = _parse_source_and_note(table, path, file)
    del table["source"]
    table.pop("note", None)
    for key, item in table.items():
        if key in ("dist",):
            _expect(item, str, f"{path}.dist", file, "a string")
        elif key in ("values", "probabilities"):
            _expect(item, list, f"{path}.{key}", file, "an array of numbers")
            for j, element in enumerate(item):
                _number(element, f"{path}.{key}[{j}]", file, "a number")
        else:
            _number(item, f"{path}.{key}", file, "a number")
    try:
        distribution = distribution_from_dict(table)
    except (ValueError, TypeError) as err:
        raise ScenarioError(path, str(err), file) from None
    if meta.get("fixed") and not distribution.is_fixed:
        raise ScenarioError(
            path, f"must be a fixed value ({{ value = ... }}), got {distribution.describe()}", file
        )
    if meta.get("whole") and not float(distribution.mean()).is_integer():
        # the value itself, not describe(), which rounds it to six digits (2.0000001 would read as 2)
        raise ScenarioError(
            path,
            f"must be a whole number [{meta.get('unit', '')}] from {meta.get('low')} to {meta.get('high')}, "
            f"got {float(distribution.mean())!r}",
            file,
        )
    extremes = distribution.kernel_extremes()
    if extremes is not None and not np.isfinite(extremes).all():
        raise ScenarioError(
            path,
            f"{distribution.describe()} reaches {extremes.min()!r}..{extremes.max()!r} at the most extreme "
            "draws, which does not fit in a double: narrow it",
            file,
        )
    low, high = distribution.support()
    lo_bound, hi_bound = meta.get("low"), meta.get("high")
    unit = meta.get("unit", "")
    touches_low = low == lo_bound and not distribution.continuous
    if lo_bound is not None and (low < lo_bound or (meta.get("open_low") and touches_low)):
        sign = ">" if meta.get("open_low") else ">="
        raise ScenarioError(
            path,
            f"must be {sign} {lo_bound}{_range_tail(hi_bound)} [{unit}], but {distribution.describe()} "
            f"reaches {low!r}",
            file,
        )
    if hi_bound is not None and high > hi_bound:
        raise ScenarioError(
            path,
            f"must be <= {hi_bound} [{unit}], but {distribution.describe()} reaches {high!r}",
            file,
        )
    return Quantity(distribution, source, note)


def _range_tail(high: Any) -> str:
    return f" and <= {high}" if high is not None else ""


def _parse_record(cls: type, table: Any, path: str, file: str | None) -> Any:
    table = _expect(table, dict, path, file, "a table")
    specs = {f.name: f for f in fields(cls)}
    required = {
        name
        for name, f in specs.items()
        if not f.metadata.get("optional") and f.metadata.get("kind") != "table_of"
    }
    _check_keys(table, set(specs), required, path, file)
    kwargs: dict[str, Any] = {}
    for name, f in specs.items():
        sub = f"{path}.{name}"
        if name not in table:
            continue
        value = table[name]
        kind = f.metadata["kind"]
        if kind == "quantity":
            kwargs[name] = _parse_quantity(value, f.metadata, sub, file)
        elif kind == "str":
            kwargs[name] = _text(value, sub, file, free_text=f.metadata.get("free_text", False))
        elif kind == "spend":
            kwargs[name] = _parse_spend(value, sub, file)
        elif kind == "labels":
            kwargs[name] = _parse_labels(value, sub, file)
        elif kind == "profile":
            kwargs[name] = _parse_profile(value, f.metadata, sub, file)
        elif kind == "table":
            kwargs[name] = _parse_record(f.metadata["of"], value, sub, file)
        elif kind == "table_of":
            _expect(value, dict, sub, file, "a table of tables")
            kwargs[name] = {
                k: _parse_record(f.metadata["of"], v, f"{sub}.{_path_part(k)}", file)
                for k, v in value.items()
            }
    return cls(**kwargs)


def _parse_spend(value: Any, path: str, file: str | None) -> Spend:
    table = _expect(value, dict, path, file, 'a table { values = [...], source = "..." }')
    _check_keys(table, {"values", "source", "note"}, {"values", "source"}, path, file)
    values = _expect(table["values"], list, f"{path}.values", file, "an array of GBP amounts")
    numbers = []
    for j, element in enumerate(values):
        _number(element, f"{path}.values[{j}]", file, "a number [GBP]")
        if not math.isfinite(element) or element < 0:
            raise ScenarioError(
                f"{path}.values[{j}]", f"must be a finite amount >= 0 [GBP], got {element!r}", file
            )
        numbers.append(float(element))
    try:
        math.fsum(numbers)
    except OverflowError:
        raise ScenarioError(
            f"{path}.values", f"amounts {numbers} add up to more than the largest double [GBP]", file
        ) from None
    source, note = _parse_source_and_note(table, path, file)
    return Spend(tuple(numbers), source, note)


def _parse_labels(value: Any, path: str, file: str | None) -> tuple[str, ...]:
    items = _expect(value, list, path, file, 'an array of labels such as ["65-74", "75+"]')
    labels = tuple(_text(item, f"{path}[{j}]", file) for j, item in enumerate(items))
    if not labels or any(not label.strip() for label in labels) or len(set(labels)) != len(labels):
        raise ScenarioError(path, f"must list distinct, non-empty labels, got {list(labels)}", file)
    return labels


def _parse_profile(value: Any, meta: Mapping[str, Any], path: str, file: str | None) -> Profile:
    table = _expect(value, dict, path, file, 'a table { values = [...], source = "..." }')
    _check_keys(table, {"values", "source", "note"}, {"values", "source"}, path, file)
    items = _expect(table["values"], list, f"{path}.values", file, f"an array of numbers [{meta['unit']}]")
    low, high = meta["low"], meta["high"]
    numbers = []
    for j, element in enumerate(items):
        number = float(_number(element, f"{path}.values[{j}]", file, f"a number [{meta['unit']}]"))
        below = low is not None and (number <= low if meta["open_low"] else number < low)
        above = high is not None and (number >= high if meta["open_high"] else number > high)
        if not math.isfinite(number) or below or above:
            lower = "" if low is None else ("> " if meta["open_low"] else ">= ") + f"{low:g}"
            upper = "" if high is None else ("< " if meta["open_high"] else "<= ") + f"{high:g}"
            allowed = " and ".join(part for part in (lower, upper) if part) or "finite"
            raise ScenarioError(f"{path}.values[{j}]", f"must be {allowed}, got {element!r}", file)
        numbers.append(number)
    if meta["sums_to_one"] and abs(math.fsum(numbers) - 1.0) > 1e-6:
        raise ScenarioError(
            f"{path}.values", f"shares must add up to 1 (within 1e-6), got {math.fsum(numbers):.9g}", file
        )
    source, note = _parse_source_and_note(table, path, file)
    return Profile(tuple(numbers), source, note)


def _parse_population(value: Any, file: str | None) -> Population:
    population: Population = _parse_record(Population, value, "population", file)
    headline = population.headline_age_bands or ()
    unknown = [band for band in headline if band not in population.age_bands]
    if unknown:
        raise ScenarioError(
            "population.headline_age_bands",
            f"unknown labels {unknown}; population.age_bands is {list(population.age_bands)}",
            file,
        )
    for f in fields(Population):
        if f.metadata["kind"] != "profile":
            continue
        labels = getattr(population, f.metadata["axis"])
        profile = getattr(population, f.name)
        if len(profile.values) != len(labels):
            raise ScenarioError(
                f"population.{f.name}.values",
                f"must have one value per label of population.{f.metadata['axis']} ({len(labels)}: "
                f"{list(labels)}), got {len(profile.values)}",
                file,
            )
    return population


def _check_inclusion_targets(
    programmes: Mapping[str, Programme], population: Population | None, file: str | None
) -> None:
    """Inclusion targets must name the population's own age bands and quintiles."""
    for pid, programme in programmes.items():
        inclusion = programme.inclusion
        if inclusion is None:
            continue
        for key, axis in (("target_age_bands", "age_bands"), ("target_quintiles", "quintiles")):
            chosen = getattr(inclusion, key)
            if chosen is None:
                continue
            path = f"programmes.{pid}.inclusion.{key}"
            if population is None:
                raise ScenarioError(path, "needs a [population] table that defines the segments", file)
            known = getattr(population, axis)
            unknown = [label for label in chosen if label not in known]
            if unknown:
                raise ScenarioError(
                    path, f"unknown labels {unknown}; population.{axis} is {list(known)}", file
                )


def _parse_scenario(data: Mapping[str, Any], file: str | None) -> Scenario:
    top = {
        "schema_version",
        "name",
        "title",
        "description",
        "years",
        "price_base",
        "deflator",
        "discount_rate",
        "long_term_discount_rate",
        "target",
        "risks",
        "staff_groups",
        "programmes",
    }
    optional = {"correlations", "budget_changes", "baseline", "changes", "population"}
    _check_keys(data, top | optional, top, "", file)
    version = data["schema_version"]
    if type(version) is not int or version != SCHEMA_VERSION:
        hint = (
            ": version 1 scenarios predate model v2 (see 'What changed from v1' in docs/model.md); "
            "start from a shipped scenario (nhsrisk scenarios)"
            if version == 1
            else ""
        )
        raise ScenarioError("schema_version", f"must be {SCHEMA_VERSION}, got {version!r}{hint}", file)
    for key in ("name", "title", "description", "price_base"):
        _text(data[key], key, file, free_text=key == "description")
    baseline = data.get("baseline")
    if baseline is not None and not _text(baseline, "baseline", file).strip():
        raise ScenarioError("baseline", "is empty: name the scenario this one is compared with", file)
    years = _expect(
        data["years"], list, "years", file, 'an array of financial years such as ["2025/26", "2026/27"]'
    )
    if not years:
        raise ScenarioError("years", "must list at least one financial year", file)
    previous = None
    for j, year in enumerate(years):
        _expect(year, str, f"years[{j}]", file, 'a financial year such as "2025/26"')
        match = _YEAR.fullmatch(year)
        if not match or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
            raise ScenarioError(
                f"years[{j}]", f'must be a financial year such as "2025/26", got {year!r}', file
            )
        start = int(match.group(1))
        if previous is not None and start != previous + 1:
            raise ScenarioError(
                f"years[{j}]", f"years must be consecutive: {year!r} does not follow {years[j - 1]!r}", file
            )
        previous = start
    discount = _parse_quantity(
        data["discount_rate"],
        {"low": 0, "high": 1, "unit": "1/year", "fixed": True},
        "discount_rate",
        file,
    )
    long_term_discount = _parse_quantity(
        data["long_term_discount_rate"],
        {"low": 0, "high": 1, "unit": "1/year", "fixed": True},
        "long_term_discount_rate",
        file,
    )
    _text(data["price_base"], "price_base", file)
    deflator = _parse_deflator(data["deflator"], years, data["price_base"], file)
    target = _parse_record(Target, data["target"], "target", file)
    if target.year is not None and target.year not in years:
        raise ScenarioError(
            "target.year", f"must be one of the scenario years {years}, got {target.year!r}", file
        )
    risks = _parse_record(Risks, data["risks"], "risks", file)
    groups_table = _expect(data["staff_groups"], dict, "staff_groups", file, "a table of staff groups")
    if not groups_table:
        raise ScenarioError("staff_groups", "must define at least one staff group", file)
    groups = {}
    for gid, table in groups_table.items():
        if not _IDENTIFIER.fullmatch(gid):
            raise ScenarioError(
                f"staff_groups.{_path_part(gid)}", "ids must be lower_snake_case identifiers", file
            )
        groups[gid] = _parse_record(StaffGroup, table, f"staff_groups.{gid}", file)
        _check_short_label(groups[gid], f"staff_groups.{gid}", file)
    programmes_table = _expect(data["programmes"], dict, "programmes", file, "a table of programmes")
    if not programmes_table:
        raise ScenarioError("programmes", "must define at least one programme", file)
    programmes = {}
    for pid, table in programmes_table.items():
        if not _IDENTIFIER.fullmatch(pid):
            raise ScenarioError(
                f"programmes.{_path_part(pid)}", "ids must be lower_snake_case identifiers", file
            )
        path = f"programmes.{pid}"
        programme = _parse_record(Programme, table, path, file)
        _check_short_label(programme, path, file)
        if len(programme.spend.values) != len(years):
            raise ScenarioError(
                f"{path}.spend.values",
                f"must have one amount per year ({len(years)}: {years}), got {len(programme.spend.values)}",
                file,
            )
        if not programme.spend.total > 0:
            raise ScenarioError(f"{path}.spend.values", "total planned spend must be > 0 [GBP]", file)
        for gid in programme.staff:
            if gid not in groups:
                raise ScenarioError(
                    f"{path}.staff.{_path_part(gid)}",
                    f"unknown staff group; defined groups: {sorted(groups)}",
                    file,
                )
        programmes[pid] = programme
    budget_changes = _parse_budget_changes(data.get("budget_changes", []), years, programmes, file)
    changes = _parse_changes(data.get("changes", []), file)
    population = _parse_population(data["population"], file) if "population" in data else None
    _check_inclusion_targets(programmes, population, file)
    scenario = object.__new__(Scenario)
    for name, value in (
        ("name", data["name"]),
        ("title", data["title"]),
        ("description", data["description"]),
        ("years", years),
        ("price_base", data["price_base"]),
        ("deflator", deflator),
        ("discount_rate", discount),
        ("long_term_discount_rate", long_term_discount),
        ("target", target),
        ("risks", risks),
        ("staff_groups", groups),
        ("programmes", programmes),
        ("schema_version", SCHEMA_VERSION),
        ("correlations", None),
        ("budget_changes", budget_changes),
        ("baseline", baseline),
        ("changes", changes),
        ("population", population),
    ):
        object.__setattr__(scenario, name, value)
    _freeze(scenario)
    if "correlations" in data:
        correlations = _parse_correlations(data["correlations"], scenario.quantities(), file)
        object.__setattr__(scenario, "correlations", correlations)
    return scenario


def _check_short_label(record: StaffGroup | Programme, path: str, file: str | None) -> None:
    """Refuse a short label that is blank or too long: it names the record on figure axes."""
    short = record.short_label
    if short is None:
        return
    if not short.strip():
        raise ScenarioError(
            f"{path}.short_label", "is empty: give a short display name, or leave it out", file
        )
    if len(short) > SHORT_LABEL_MAX:
        raise ScenarioError(
            f"{path}.short_label",
            f"must be at most {SHORT_LABEL_MAX} characters (it prefixes labels on figure axes), "
            f"got {len(short)}: {short!r}",
            file,
        )


def _parse_changes(value: Any, file: str | None) -> tuple[str, ...]:
    items = _expect(
        value, list, "changes", file, 'an array of strings such as ["risks.staff_capacity = 0.8"]'
    )
    return tuple(_text(item, f"changes[{j}]", file) for j, item in enumerate(items))


def _parse_deflator(value: Any, years: list[str], price_base: str, file: str | None) -> Deflator:
    path = "deflator"
    table = _expect(value, dict, path, file, 'a table { years = [...], index = [...], source = "..." }')
    _check_keys(table, {"years", "index", "source", "note"}, {"years", "index", "source"}, path, file)
    listed = _expect(table["years"], list, f"{path}.years", file, "an array of financial years")
    for j, year in enumerate(listed):
        _expect(year, str, f"{path}.years[{j}]", file, 'a financial year such as "2025/26"')
        match = _YEAR.fullmatch(year)
        if not match or (int(match.group(1)) + 1) % 100 != int(match.group(2)):
            raise ScenarioError(
                f"{path}.years[{j}]", f'must be a financial year such as "2025/26", got {year!r}', file
            )
        if listed.index(year) != j:
            raise ScenarioError(f"{path}.years[{j}]", f"{year!r} is listed twice", file)
    index = _expect(table["index"], list, f"{path}.index", file, "an array of index values")
    if len(index) != len(listed):
        raise ScenarioError(
            f"{path}.index", f"must have one value per deflator year ({len(listed)}), got {len(index)}", file
        )
    numbers_ = []
    for j, element in enumerate(index):
        _number(element, f"{path}.index[{j}]", file, "a number")
        if not (math.isfinite(element) and element > 0):
            raise ScenarioError(f"{path}.index[{j}]", f"must be a finite index > 0, got {element!r}", file)
        numbers_.append(float(element))
    missing = [year for year in [price_base, *years] if year not in listed]
    if missing:
        raise ScenarioError(
            f"{path}.years",
            f"must cover the price base {price_base!r} and every scenario year ({years[0]} to {years[-1]}); "
            f"missing {missing}",
            file,
        )
    source, note = _parse_source_and_note(table, path, file)
    return Deflator(tuple(listed), tuple(numbers_), source, note)


def _parse_budget_changes(
    value: Any, years: list[str], programmes: Mapping[str, Programme], file: str | None
) -> tuple[BudgetChange, ...]:
    path = "budget_changes"
    items = _expect(value, list, path, file, "an array of tables ([[budget_changes]])")
    changes = []
    for j, item in enumerate(items):
        where = f"{path}[{j}]"
        table = _expect(item, dict, where, file, "a table with programme, year, amount and source")
        _check_keys(
            table,
            {"programme", "year", "amount", "source", "note"},
            {"programme", "year", "amount", "source"},
            where,
            file,
        )
        programme = _text(table["programme"], f"{where}.programme", file)
        if programme not in programmes:
            raise ScenarioError(
                f"{where}.programme", f"unknown programme {programme!r}; defined: {sorted(programmes)}", file
            )
        year = _text(table["year"], f"{where}.year", file)
        if year not in years:
            raise ScenarioError(
                f"{where}.year", f"must be one of the scenario years {years}, got {year!r}", file
            )
        amount = _number(table["amount"], f"{where}.amount", file, "an amount [GBP]")
        if not math.isfinite(amount):
            raise ScenarioError(f"{where}.amount", f"must be a finite amount [GBP], got {amount!r}", file)
        source, note = _parse_source_and_note(table, where, file)
        changes.append(BudgetChange(programme, year, float(amount), source, note))
    # A year's changes together can take at most its planned spend; the error names the last
    # change to that programme and year, and what they add up to.
    groups: dict[tuple[str, str], list[int]] = {}
    for j, change in enumerate(changes):
        groups.setdefault((change.programme, change.year), []).append(j)
    for (pid, year), members in groups.items():
        planned = programmes[pid].spend.values[years.index(year)]
        change_total = math.fsum(changes[j].amount for j in members)
        total = math.fsum([planned, *(changes[j].amount for j in members)])
        if total < 0:
            others = ", ".join(f"{path}[{j}]" for j in members[:-1])
            raise ScenarioError(
                f"{path}[{members[-1]}].amount",
                (f"together with {others}, " if others else "")
                + f"cuts {pid} in {year} by GBP {-change_total:,.0f}, more than its planned spend that year "
                f"(GBP {planned:,.0f}): the money left would be GBP {total:,.0f}; a cut can take at most the "
                "planned spend",
                file,
            )
    return tuple(changes)


# ---------------------------------------------------------------------------------
# TOML writing (the stdlib reads TOML but does not write it)
# ---------------------------------------------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key, ensure_ascii=False)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot write non-finite number {value!r} to TOML")
        return repr(value)
    if isinstance(value, str):
        # json escapes every control character TOML forbids except DEL
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_scalar(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


def _is_leaf_table(value: Any) -> bool:
    """Quantities and spend tables are written inline; other tables get a header."""
    return isinstance(value, dict) and ("source" in value or not value) and "matrix" not in value


def _is_array_of_tables(value: Any) -> bool:
    """Return True for a non-empty list of tables (budget changes): written as ``[[header]]`` blocks."""
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def dumps_toml(data: Mapping[str, Any]) -> str:
    """Write nested dicts as TOML, with quantity tables inline (one per line).

    A list of tables (``budget_changes``) is written as an array of tables, one
    ``[[budget_changes]]`` block per entry.

    Examples
    --------
    >>> print(dumps_toml({"a": 1, "budget_changes": [{"year": "2025/26", "amount": -1.0}]}), end="")
    a = 1
    <BLANKLINE>
    [[budget_changes]]
    year = "2025/26"
    amount = -1.0
    """
    lines: list[str] = []

    def emit(table: Mapping[str, Any], prefix: tuple[str, ...]) -> None:
        subtables = []
        for key, value in table.items():
            if (isinstance(value, dict) and not _is_leaf_table(value)) or _is_array_of_tables(value):
                subtables.append((key, value))
            else:
                lines.append(f"{_key(key)} = {_scalar(value)}")
        for key, value in subtables:
            header = ".".join(_key(k) for k in (*prefix, key))
            for item in value if isinstance(value, list) else [value]:
                lines.append("")
                lines.append(f"[[{header}]]" if isinstance(value, list) else f"[{header}]")
                emit(item, (*prefix, key))

    emit(data, ())
    return "\n".join(lines).lstrip("\n") + "\n"


# ---------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------


def load_scenario(name_or_path: str | Path | Scenario = DEFAULT_SCENARIO) -> Scenario:
    """Load a built-in scenario by name, a TOML file, or the scenario saved in a results file.

    Parameters
    ----------
    name_or_path : str or path-like or Scenario, default="as-announced"
        A name from :data:`BUILTIN_SCENARIOS` (``"spring-budget-2024"``, the
        default's former name, still loads it), a ``.toml`` file (UTF-8, with
        or without a byte order mark), or a results file (``.nc``) written by
        :func:`nhsrisk.simulate` and ``to_netcdf``.
        A Scenario is returned as it is.

    Returns
    -------
    Scenario

    Raises
    ------
    ScenarioError
        If the file is malformed (the message names the file and key path),
        or a results file's stored scenario does not match its checksum.
    FileNotFoundError
        If ``name_or_path`` is neither a built-in name nor an existing file.

    Examples
    --------
    >>> scenario = load_scenario()
    >>> scenario.name
    'as-announced'
    >>> load_scenario("after-the-cut").baseline
    'as-announced'
    """
    if isinstance(name_or_path, Scenario):
        return name_or_path
    if not isinstance(name_or_path, str | os.PathLike):
        allowed = "a built-in scenario name, the path of a .toml or results file, or a Scenario"
        if isinstance(name_or_path, numbers.Number):  # simulate(100_000): draws are a keyword
            allowed += f" (a number of draws goes in the 'draws' keyword: draws={name_or_path!r})"
        raise TypeError(_message("name_or_path", "load_scenario", allowed, name_or_path))
    text = SCENARIO_ALIASES.get(str(name_or_path), str(name_or_path))
    if text in BUILTIN_SCENARIOS:
        resource = importlib.resources.files("nhsrisk") / "data" / f"{text}.toml"
        return Scenario.from_toml(resource.read_text(encoding="utf-8"), file=f"<built-in {text}>")
    path = Path(name_or_path)
    if path.suffix.lower() == ".zarr" and path.is_dir():
        return _scenario_from_results(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"No scenario named {text!r}: not a built-in scenario {list(BUILTIN_SCENARIOS)} and not a file."
        )
    if path.suffix.lower() in (".nc", ".nc4", ".netcdf"):
        return _scenario_from_results(path)
    try:
        # utf-8-sig drops the byte order mark that editors on Windows put at the start of UTF-8 files
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise ScenarioError(
            "(file)", f"not UTF-8 text: {err.reason} at byte {err.start}", str(path)
        ) from None
    return Scenario.from_toml(text, file=str(path))


def _scenario_from_results(path: Path) -> Scenario:
    """Rebuild the scenario stored with saved results (a netCDF file or a zarr store), checking its hash."""
    kind = "zarr results store" if path.is_dir() else "netCDF4 results file"
    try:
        attrs = results_attributes(path)
    except ValueError as err:
        # the reader's message names the path and the kind of store; the ScenarioError says both already
        detail = str(err).removeprefix(f"{path}: ").removeprefix(f"cannot be read as a {kind}: ")
        raise ScenarioError("(file)", f"cannot read as a {kind}: {detail}", str(path)) from None
    return scenario_from_attrs(attrs, file=str(path))


def scenario_attrs(scenario: Scenario) -> dict[str, Any]:
    """Return the attributes that say which scenario a result comes from, for its tables and figures.

    Every result of nhsrisk (simulate, the experiments) carries them, so that a
    figure's title can name the scenario and what a variant changed.

    Returns
    -------
    dict
        ``scenario_name``, ``scenario_title``, ``scenario_changes`` (the
        :attr:`Scenario.changes` joined by ``"; "``, empty for none: a netCDF
        attribute holds a string more portably than a list) and ``price_base``.

    Examples
    --------
    >>> variant = load_scenario().with_values({"risks.digital_exclusion": 0.1})
    >>> scenario_attrs(variant)["scenario_changes"]
    'risks.digital_exclusion = 0.1'
    """
    return {
        "scenario_name": scenario.name,
        "scenario_title": scenario.title,
        "scenario_changes": "; ".join(scenario.changes),
        "price_base": scenario.price_base,
    }


def scenario_from_attrs(attrs: Mapping[str, Any], file: str | None = None) -> Scenario:
    """Rebuild the scenario stored in a results Dataset's attrs, checking its hash.

    Raises
    ------
    ScenarioError
        If the attrs hold no scenario, or one altered since the run, or it is malformed.

    Examples
    --------
    >>> import nhsrisk
    >>> ds = nhsrisk.simulate(draws=10, seed=1)
    >>> scenario_from_attrs(ds.attrs) == load_scenario()
    True
    """
    return Scenario.from_toml(stored_scenario_text(attrs, file), file=file)
