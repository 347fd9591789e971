"""Invalid inputs, generated: every field of a scenario made wrong gets a clear error before any work.

Each example takes one valid schema-2 scenario document using every part of
the schema (the shipped ``plus-digital-inclusion``: a baseline, an inclusion
programme, the deflator, the long-term discount rate, the per-programme risks;
plus two budget changes, a correlation table, a target year and every kind of
distribution), breaks ONE field of it (a wrong type, a value out of range or not finite, a required key
removed, an unknown key added), writes it as a TOML file and hands the file to
``nhsrisk.simulate`` with the simulation machinery replaced by a trap. The
guarantee: a :class:`~nhsrisk.ScenarioError` (a ``ValueError``) naming the file,
the key path of the broken field and the bad value (or key), raised while the
scenario loads, before a plan is built or the kernel runs. The same is checked
for wrong values given through ``Scenario.with_values`` and for every argument
of ``simulate``.

The fast tier replays a fixed set of examples; the full tier (``--runslow``)
explores afresh and also sweeps every field of the document once per kind of
mistake. ``tests/_hardening.py`` tallies what was tried.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import functools
import json
import math
import re
import sys
import tomllib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nhsrisk
from nhsrisk import ScenarioError, simulation
from nhsrisk.distributions import Beta, Normal, Triangular, TruncatedNormal
from nhsrisk.scenario import (
    InclusionEffect,
    PatientChannel,
    Population,
    Programme,
    Risks,
    StaffEffect,
    StaffGroup,
    Target,
)

# These tests read every output of the model, not only the headline ones a run keeps by default.
simulate_all = functools.partial(nhsrisk.simulate, keep="all")

try:
    from tests._hardening import tally, toml_text, toml_value, write_tally
except ModuleNotFoundError:  # pragma: no cover - depends on how pytest was started
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests._hardening import tally, toml_text, toml_value, write_tally

FAST = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
FULL = settings(
    max_examples=1500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# A failing example is a whole scenario document: hypothesis warns that its repr is large while reporting it.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")


@pytest.fixture(scope="module", autouse=True)
def _write_the_tally(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    write_tally(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("invalid-inputs")


# ---------------------------------------------------------------------------------
# The valid document every example starts from, and its schema
# ---------------------------------------------------------------------------------


def _base_scenario() -> nhsrisk.Scenario:
    base = nhsrisk.load_scenario("plus-digital-inclusion")
    assert base.baseline is not None and any(p.inclusion for p in base.programmes.values())
    varied = base.with_values(
        {
            "programmes.staff_technology.uptake_midpoint": Normal(1.5, 0.5),
            "risks.social_care_leakage": TruncatedNormal(0.5, 0.15, 0.0, 1.0),
            "risks.staff_capacity": Beta(8.0, 2.0),
            "programmes.patient_services.do_minimum_midpoint": Triangular(1.0, 2.0, 4.0),
            "target": {**base.to_dict()["target"], "year": "2028/29"},
            "budget_changes": [
                {
                    "programme": "it_modernisation",
                    "year": "2026/27",
                    "amount": -3.25e8,
                    "source": "assumption: hardening test",
                    "note": "a cut",
                },
                {
                    "programme": "digital_inclusion",
                    "year": "2025/26",
                    "amount": 5.0e6,
                    "source": "assumption: x",
                },
            ],
        }
    )
    return varied.with_correlations(
        [
            "programmes.it_modernisation.cost_overrun",
            "risks.staff_capacity",
            "programmes.it_modernisation.uptake_ceiling",
        ],
        [[1.0, -0.3, 0.2], [-0.3, 1.0, 0.1], [0.2, 0.1, 1.0]],
        source="assumption: hardening test",
    )


BASE = _base_scenario()
# JSON both deep-copies fast and turns every tuple into a list that a mutation can index.
DOC_JSON = json.dumps(BASE.to_dict())
DOC: dict[str, Any] = json.loads(DOC_JSON)

Key = str | int
KeyPath = tuple[Key, ...]


def _key_names(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node).union(*(_key_names(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_key_names(v) for v in node))
    return set()


#: Every key name the schema knows, anywhere (and every key of the document): an "unknown" key is none
#: of these. Schema 1's removed keys are known too: they get an error of their own, tested below.
KNOWN_NAMES = frozenset(
    _key_names(DOC)
    | {"correlations", "year", "note", "patients", "inclusion", "claimed_return", "staff", "inputs", "matrix"}
    | {"dist", "value", "min", "mode", "max", "lambda", "low", "high", "mean", "sd", "mu", "sigma"}
    | {"median", "p90", "alpha", "beta", "p", "values", "probabilities", "source", "label", "baseline"}
    | {"budget_changes", "programme", "amount", "deflator", "index", "years"}
    | {"realisation_lag", "cash_releasing_fraction", "redeployment_fraction", "cost_overrun", "black_swan"}
    | {"black_swan_overrun", "delivery_delay"}
)
#: Distribution parameters with a default, so that removing one is not an error.
OPTIONAL_PARAMETERS = {("pert", "lambda"), ("beta", "low"), ("beta", "high")}
#: Optional top-level keys: the rest is required.
TOP_OPTIONAL = {"correlations", "budget_changes", "baseline", "population"}
TOP_REQUIRED = {k for k in DOC if k not in TOP_OPTIONAL}
#: Fixed top-level quantities: (low, high) of each.
TOP_QUANTITIES = {("discount_rate",): (0.0, 1.0), ("long_term_discount_rate",): (0.0, 1.0)}
ID_TABLES = {"staff_groups", "programmes", "staff"}
# Kept in step with nhsrisk.scenario's own patterns: strings these accept are not invalid to the loader
# (see test_year_and_identifier_patterns_accept_a_trailing_newline for where they are too lax).
_LOADER_YEAR = re.compile(r"^(\d{4})/(\d{2})$")
_LOADER_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")


def visible_key(key: str) -> str:
    """A key as the loader writes it in a key path: JSON-quoted when none of it is visible (``""``)."""
    return key if any(unicodedata.category(c)[0] not in "ZC" for c in key) else json.dumps(key)


def key_path_text(path: KeyPath) -> str:
    """Key path as the loader writes it: ``programmes.x.spend.values[2]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{visible_key(part)}" if text else visible_key(part)
    return text


def walk(node: Any, path: KeyPath = ()) -> Iterator[tuple[KeyPath, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*path, index))


def get(document: Any, path: KeyPath) -> Any:
    for part in path:
        document = document[part]
    return document


def put(document: Any, path: KeyPath, value: Any) -> None:
    get(document, path[:-1])[path[-1]] = value


def fresh() -> dict[str, Any]:
    return json.loads(DOC_JSON)


def is_quantity(path: KeyPath, node: Any) -> bool:
    return (
        isinstance(node, dict)
        and "source" in node
        and path[-1:] != ("spend",)
        and path not in (("correlations",), ("deflator",))
        and path[:1] != ("budget_changes",)
        # a population profile holds values by label, not a quantity
        and not (path[:1] == ("population",) and "values" in node)
    )


def record_class(path: KeyPath) -> type | None:
    """The dataclass a table of the document is read into, if it is a record."""
    if path == ("target",):
        return Target
    if path == ("risks",):
        return Risks
    if len(path) == 2 and path[0] == "staff_groups":
        return StaffGroup
    if len(path) == 2 and path[0] == "programmes":
        return Programme
    if len(path) == 4 and path[0] == "programmes" and path[2] == "staff":
        return StaffEffect
    if len(path) == 3 and path[0] == "programmes" and path[2] == "patients":
        return PatientChannel
    if len(path) == 3 and path[0] == "programmes" and path[2] == "inclusion":
        return InclusionEffect
    if path == ("population",):
        return Population
    return None


def table_kind(path: KeyPath, node: dict[str, Any]) -> str:
    if path == ():
        return "top"
    if is_quantity(path, node):
        return "quantity"
    if record_class(path) is not None:
        return "record"
    if path[-1] in ID_TABLES:
        return "ids"
    if path == ("correlations",):
        return "correlations"
    if path == ("deflator",):
        return "deflator"
    if path[:1] == ("budget_changes",):
        return "change"
    return "spend"


def enclosing_quantity(path: KeyPath) -> KeyPath | None:
    for end in range(len(path), 0, -1):
        if is_quantity(path[:end], get(DOC, path[:end])):
            return path[:end]
    return None


def bounds(quantity: KeyPath) -> tuple[float | None, float | None, bool]:
    """(low, high, open_low) of a quantity, from the schema's own field metadata."""
    if quantity in TOP_QUANTITIES:
        return (*TOP_QUANTITIES[quantity], False)
    cls = record_class(quantity[:-1])
    meta = {f.name: f.metadata for f in dataclasses.fields(cls)}[quantity[-1]]
    return meta["low"], meta["high"], bool(meta.get("open_low"))


def must_be_fixed(quantity: KeyPath) -> bool:
    """True for the quantities that must be a number, not a distribution (discount rates, claims, lives)."""
    if quantity in TOP_QUANTITIES:
        return True
    cls = record_class(quantity[:-1])
    return bool({f.name: f.metadata for f in dataclasses.fields(cls)}[quantity[-1]].get("fixed"))


def value_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "table"
    return "datetime"


def as_loaded(value: Any) -> Any:
    """The value as the loader will see it after TOML (dates and floats exactly as written)."""
    return tomllib.loads(f"x = {toml_value(value)}")["x"]


SITES = list(walk(DOC))[1:]
QUANTITIES = [path for path, node in SITES if is_quantity(path, node)]
BOUNDED = [q for q in QUANTITIES if bounds(q)[:2] != (None, None)]
NUMBER_LEAVES = [p for p, n in SITES if value_kind(n) == "number" and p != ("schema_version",)]
TABLES = [((), DOC)] + [(p, n) for p, n in SITES if isinstance(n, dict)]


# ---------------------------------------------------------------------------------
# The check every invalid input must pass
# ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One broken document: where the error must point and what it must quote."""

    document: dict[str, Any]
    path: str
    needles: tuple[str, ...]
    what: str


@contextlib.contextmanager
def kernel_trap() -> Iterator[None]:
    """Make building the plan or running the kernel fail the test."""

    def trap(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the simulation started although its input was invalid")

    with (
        mock.patch.object(simulation, "build_plan", trap),
        mock.patch.object(simulation, "_run", trap),
        mock.patch.object(simulation, "_run_to_precision", trap),
    ):
        yield


def names_path(reported: str, expected: str) -> bool:
    return reported == expected or reported.startswith((f"{expected}.", f"{expected}["))


def check_refused(
    case: Case, directory: Path, category: str, *, excuse_open_bugs: bool = True
) -> ScenarioError:
    file = directory / "scenario.toml"
    file.write_text(toml_text(case.document), encoding="utf-8")
    with kernel_trap(), pytest.raises(ScenarioError) as info:
        simulate_all(file, draws=10, seed=1)
    error = info.value
    tally(category, error)
    message = str(error)
    assert isinstance(error, ValueError)
    assert error.file == str(file) and message.startswith(f"{file}: "), message
    assert names_path(error.path, case.path), f"{case.what}: error names {error.path!r}, not {case.path!r}"
    if excuse_open_bugs and not any(needle in message for needle in case.needles) and open_bug(error):
        return error
    assert any(needle in message for needle in case.needles), (
        f"{case.what}: {case.needles} not in {message!r}"
    )
    return error


#: Open bugs with a strict-xfail test of their own: (words of the message, that test). A generated case
#: that reaches one is counted, not failed on again, so that the generators keep looking for new ones.
#: None is open: the whole-number message that rounded its value is fixed.
OPEN_BUGS: tuple[tuple[str, str], ...] = ()


def open_bug(error: ScenarioError) -> bool:
    for words, test in OPEN_BUGS:
        if words in error.problem:
            tally(f"known bug reached: {test}")
            return True
    return False


def test_the_starting_document_is_valid(workdir: Path) -> None:
    # The control for every test below: unbroken, the same document loads and equals its scenario.
    file = workdir / "valid.toml"
    file.write_text(toml_text(fresh()), encoding="utf-8")
    assert nhsrisk.load_scenario(file) == BASE
    kinds = {q.distribution.kind for q in BASE.quantities().values()}
    assert kinds == {
        "fixed", "uniform", "triangular", "pert", "beta", "normal", "truncnormal", "lognormal", "bernoulli",
        "discrete",
    }  # fmt: skip


# ---------------------------------------------------------------------------------
# Strategies: one broken field each
# ---------------------------------------------------------------------------------

_scalars = st.one_of(
    st.text(max_size=12),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.booleans(),
    st.datetimes(),
    st.dates(),
    st.times(),
)
VALUES_OF_KIND = {
    "string": st.text(max_size=12),
    "number": st.one_of(st.integers(-(2**63), 2**63 - 1), st.floats()),
    "boolean": st.booleans(),
    "datetime": st.one_of(st.datetimes(), st.dates(), st.times()),
    "array": st.lists(_scalars, max_size=3),
    "table": st.dictionaries(st.text(max_size=8), _scalars, max_size=3),
}


@st.composite
def wrong_type_cases(draw: st.DrawFn) -> Case:
    path = draw(st.sampled_from([p for p, _ in SITES]))
    kind = draw(st.sampled_from(sorted(set(VALUES_OF_KIND) - {value_kind(get(DOC, path))})))
    value = draw(VALUES_OF_KIND[kind])
    document = fresh()
    put(document, path, value)
    where = key_path_text(path)
    return Case(document, where, (repr(as_loaded(value)),), f"{where} = {value!r} ({kind})")


def _missing_sites() -> list[tuple[KeyPath, str, tuple[str, ...]]]:
    """(key path to delete, key path the error must name, what it must say) for every required key."""
    sites = []
    for path, node in TABLES:
        kind = table_kind(path, node)
        for key in node:
            where = (*path, key)
            if kind == "quantity":
                if key in ("note",) or (node.get("dist"), key) in OPTIONAL_PARAMETERS:
                    continue
                if key == "source":
                    sites.append((where, key_path_text(where), ("missing",)))
                elif key == "dist":
                    # the table now reads as a fixed value whose parameters are unknown
                    sites.append((where, key_path_text(path), ("dist='fixed'",)))
                else:
                    sites.append((where, key_path_text(path), (repr(key),)))
            elif kind == "record":
                spec = {f.name: f.metadata for f in dataclasses.fields(record_class(path))}
                if not spec[key].get("optional") and spec[key]["kind"] != "table_of":
                    sites.append((where, key_path_text(where), ("missing required key",)))
            elif kind == "top" and key in TOP_REQUIRED:
                sites.append((where, key, ("missing required key",)))
            elif kind in ("spend", "correlations") and key in ("values", "inputs", "matrix", "source"):
                sites.append((where, key_path_text(where), ("missing required key",)))
            elif kind == "deflator" and key != "note":
                sites.append((where, key_path_text(where), ("missing required key",)))
            elif kind == "change" and key != "note":
                sites.append((where, key_path_text(where), ("missing required key",)))
    for path, node in SITES:
        if path[-2:] == ("spend", "values"):
            sites += [((*path, j), key_path_text(path), ("one amount per year",)) for j in range(len(node))]
    # a deflator year or index value removed: the two lists no longer pair up
    for key in ("years", "index"):
        n = len(DOC["deflator"][key])
        sites += [
            (("deflator", key, j), "deflator.index", ("one value per deflator year",)) for j in range(n)
        ]
    sites += [(("correlations", "matrix", i), "correlations.matrix", ("rows",)) for i in range(3)]
    sites += [(("correlations", "matrix", 1, j), "correlations.matrix[1]", ("entries",)) for j in range(3)]
    return sites


MISSING_SITES = _missing_sites()


def missing_case(site: tuple[KeyPath, str, tuple[str, ...]]) -> Case:
    path, where, needles = site
    document = fresh()
    del get(document, path[:-1])[path[-1]]
    return Case(document, where, needles, f"without {key_path_text(path)}")


unknown_keys = st.text(min_size=1, max_size=10).filter(lambda k: k not in KNOWN_NAMES)


@st.composite
def unknown_key_cases(draw: st.DrawFn) -> Case:
    path, node = draw(st.sampled_from(TABLES))
    key = draw(unknown_keys.filter(lambda k: k not in node))
    value = draw(st.one_of(_scalars, VALUES_OF_KIND["table"]))
    document = fresh()
    get(document, path)[key] = value
    kind = table_kind(path, node)
    # In a quantity an extra number is an unknown distribution parameter; anything else is not a number.
    where = key_path_text(path) if kind == "quantity" else key_path_text((*path, key))
    return Case(
        document, where, (key, repr(key), visible_key(key)), f"{key_path_text((*path, key))} = {value!r}"
    )


def _beyond(low: float | None, high: float | None, open_low: bool) -> st.SearchStrategy[float]:
    options = []
    if high is not None:
        options.append(st.floats(min_value=high, max_value=1e300, exclude_min=True))
    if low is not None:
        options.append(st.floats(min_value=-1e300, max_value=low, exclude_max=True))
        if open_low:
            options.append(st.just(float(low)))
    return st.one_of(options)


@st.composite
def out_of_range_cases(draw: st.DrawFn) -> Case:
    how = draw(
        st.sampled_from(
            [
                "not finite",
                "fixed out of range",
                "unbounded distribution",
                "support beyond the bound",
                "bad distribution parameter",
                "negative spend",
                "no spend at all",
                "correlation outside [-1, 1]",
                "asymmetric correlation",
                "diagonal correlation not 1",
                "malformed year",
                "years not consecutive",
                "target year not a scenario year",
                "bad identifier",
                "schema version",
                "empty source",
                "residual life not whole",
                "deflator index not positive",
                "deflator year malformed",
                "deflator year listed twice",
                "deflator year missing",
                "budget change unknown programme",
                "budget change year not a scenario year",
                "budget change cutting more than the plan",
                "blank baseline",
            ]
        )
    )
    document = fresh()
    if how == "not finite":
        path = draw(st.sampled_from(NUMBER_LEAVES))
        value = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
        put(document, path, value)
        quantity = enclosing_quantity(path)
        where = key_path_text(quantity if quantity is not None else path)
        return Case(document, where, (repr(value),), f"{key_path_text(path)} = {value!r}")
    if how == "fixed out of range":
        path = draw(st.sampled_from(BOUNDED))
        value = draw(_beyond(*bounds(path)))
        put(document, path, {"value": value, "source": "assumption: out of range"})
        return Case(document, key_path_text(path), (repr(value),), f"{key_path_text(path)} = {value!r}")
    if how == "unbounded distribution":
        path = draw(st.sampled_from(BOUNDED))
        put(document, path, {"dist": "normal", "mean": 0.5, "sd": 0.1, "source": "assumption: unbounded"})
        low, _, _ = bounds(path)
        reached = (
            "must be a fixed value"
            if must_be_fixed(path)
            else repr(-math.inf if low is not None else math.inf)
        )
        return Case(document, key_path_text(path), (reached,), f"{key_path_text(path)} ~ normal")
    if how == "support beyond the bound":
        return _support_beyond_bound(draw, document)
    if how == "bad distribution parameter":
        return _bad_parameter(draw, document)
    if how in ("negative spend", "no spend at all"):
        pid = draw(st.sampled_from(sorted(DOC["programmes"])))
        values = document["programmes"][pid]["spend"]["values"]
        where = f"programmes.{pid}.spend.values"
        if how == "no spend at all":
            values[:] = [0.0] * len(values)
            return Case(document, where, ("total planned spend must be > 0",), f"{where} all 0")
        j = draw(st.integers(0, len(values) - 1))
        values[j] = -draw(st.floats(min_value=5e-324, max_value=1e300))
        return Case(document, f"{where}[{j}]", (repr(values[j]),), f"{where}[{j}] = {values[j]!r}")
    if "correlation" in how:
        return _bad_correlation(draw, document, how)
    if how in ("malformed year", "years not consecutive"):
        return _bad_year(draw, document, how)
    if how in DEFLATOR_MISTAKES:
        return _bad_deflator(draw, document, how)
    if how in CHANGE_MISTAKES:
        return _bad_change(draw, document, how)
    if how == "residual life not whole":
        pid = draw(st.sampled_from(sorted(DOC["programmes"])))
        value = draw(st.floats(0.0, 50.0).filter(lambda v: not v.is_integer()))
        where = f"programmes.{pid}.residual_life"
        document["programmes"][pid]["residual_life"] = {"value": value, "source": "assumption: x"}
        return Case(document, where, (repr(value),), f"{where} = {value!r}")
    if how == "blank baseline":
        blank = draw(st.text(alphabet=" ", max_size=5))
        document["baseline"] = blank
        return Case(document, "baseline", ("is empty",), f"baseline = {blank!r}")
    if how == "target year not a scenario year":
        first, last = int(DOC["years"][0][:4]), int(DOC["years"][-1][:4])
        start = draw(st.integers(1000, 9998).filter(lambda y: not first <= y <= last))
        year = f"{start}/{(start + 1) % 100:02d}"
        document["target"]["year"] = year
        return Case(document, "target.year", (repr(year),), f"target.year = {year!r}")
    if how == "bad identifier":
        table = draw(st.sampled_from(["staff_groups", "programmes"]))
        old = draw(st.sampled_from(sorted(DOC[table])))
        new = draw(st.text(min_size=1, max_size=10).filter(lambda k: not _LOADER_IDENTIFIER.match(k)))
        document[table] = {(new if k == old else k): v for k, v in document[table].items()}
        return Case(document, f"{table}.{visible_key(new)}", ("lower_snake_case",), f"{table} id {new!r}")
    if how == "schema version":
        version = draw(st.integers(-(2**63), 2**63 - 1).filter(lambda v: v != 2))
        document["schema_version"] = version
        return Case(document, "schema_version", (repr(version),), f"schema_version = {version}")
    path = draw(st.sampled_from([(*q, "source") for q in QUANTITIES]))
    blank = draw(st.text(alphabet=" \t\n\r", max_size=5))
    put(document, path, blank)
    return Case(document, key_path_text(path), ("is empty",), f"{key_path_text(path)} = {blank!r}")


DEFLATOR_MISTAKES = (
    "deflator index not positive",
    "deflator year malformed",
    "deflator year listed twice",
    "deflator year missing",
)
CHANGE_MISTAKES = (
    "budget change unknown programme",
    "budget change year not a scenario year",
    "budget change cutting more than the plan",
)


def _bad_deflator(draw: st.DrawFn, document: dict[str, Any], how: str) -> Case:
    deflator = document["deflator"]
    n = len(deflator["years"])
    j = draw(st.integers(0, n - 1))
    if how == "deflator index not positive":
        deflator["index"][j] = value = draw(st.sampled_from([0.0, -0.0, -1.0, -1e300, -5e-324]))
        return Case(document, f"deflator.index[{j}]", (repr(value),), f"deflator.index[{j}] = {value!r}")
    if how == "deflator year malformed":
        text = draw(st.text(max_size=10).filter(lambda t: not _is_financial_year(t)))
        deflator["years"][j] = text
        return Case(document, f"deflator.years[{j}]", (repr(text),), f"deflator.years[{j}] = {text!r}")
    if how == "deflator year listed twice":
        k = draw(st.integers(0, n - 1).filter(lambda k: k != j))
        deflator["years"][j] = year = deflator["years"][k]
        where = f"deflator.years[{max(j, k)}]"
        return Case(document, where, (repr(year), "listed twice"), f"{where}: {year!r} twice")
    # a year the scenario needs (the price base or one of its years) taken out, with its index value
    needed = [DOC["price_base"], *DOC["years"]]
    year = draw(st.sampled_from(needed))
    j = deflator["years"].index(year)
    del deflator["years"][j], deflator["index"][j]
    return Case(document, "deflator.years", (repr(year),), f"deflator without {year!r}")


def _is_financial_year(text: str) -> bool:
    match = _LOADER_YEAR.match(text)
    return bool(match) and (int(match.group(1)) + 1) % 100 == int(match.group(2))


def _bad_change(draw: st.DrawFn, document: dict[str, Any], how: str) -> Case:
    changes = document["budget_changes"]
    j = draw(st.integers(0, len(changes) - 1))
    change = changes[j]
    where = f"budget_changes[{j}]"
    if how == "budget change unknown programme":
        name = draw(st.text(max_size=12).filter(lambda k: k not in DOC["programmes"]))
        change["programme"] = name
        return Case(document, f"{where}.programme", (repr(name),), f"{where}.programme = {name!r}")
    if how == "budget change year not a scenario year":
        text = draw(st.one_of(st.text(max_size=10), st.sampled_from(["2023/24", "2024/25", "2035/36"])))
        text = draw(st.just(text).filter(lambda t: t not in DOC["years"]))
        change["year"] = text
        return Case(document, f"{where}.year", (repr(text),), f"{where}.year = {text!r}")
    # a cut of more than the programme's planned spend that year: by at least a pound, or by 1e300
    planned = DOC["programmes"][change["programme"]]["spend"]["values"][DOC["years"].index(change["year"])]
    excess = draw(st.sampled_from([1.0, 0.5 * planned + 1.0, 1e300]))
    change["amount"] = -(planned + excess)
    return Case(
        document, f"{where}.amount", ("more than its planned spend",), f"{where} cuts {excess} too much"
    )


def _support_beyond_bound(draw: st.DrawFn, document: dict[str, Any]) -> Case:
    # Only kinds whose kernel tables do not depend on the moved parameter: a new Beta or PERT
    # shape costs a fresh inversion table (tenths of a second), so those are moved as a whole
    # ("fixed out of range") instead.
    movable = []
    for q in BOUNDED:
        node, (low, high, _) = get(DOC, q), bounds(q)
        kind = node.get("dist", "fixed")
        if high is not None:
            movable += [(q, key, "up") for key in ("max", "high") if key in node and kind != "pert"]
        if low is not None:
            movable += [(q, key, "down") for key in ("min", "low") if key in node and kind != "pert"]
        if kind == "discrete" and low is not None:
            movable.append((q, "values", "down"))
    quantity, key, direction = draw(st.sampled_from(movable))
    low, high, _ = bounds(quantity)
    step = draw(st.floats(min_value=1e-9, max_value=1e6))
    table = get(document, quantity)
    if key == "values":
        table["values"][0] = value = low - step
    else:
        table[key] = value = high + step if direction == "up" else low - step
    where = key_path_text(quantity)
    return Case(document, where, (repr(value),), f"{where}.{key} = {value!r}")


BAD_PARAMETERS: dict[str, list[tuple[str, str]]] = {
    # kind: (parameter, how to break it)
    "pert": [("mode", "above max"), ("mode", "below min"), ("lambda", "not positive")],
    "triangular": [("mode", "above max"), ("mode", "below min")],
    "uniform": [("high", "not above low")],
    "beta": [("alpha", "not positive"), ("beta", "not positive"), ("high", "not above low")],
    "normal": [("sd", "not positive")],
    "truncnormal": [("sd", "not positive"), ("high", "not above low")],
    "lognormal": [("sigma", "not positive")],
    "bernoulli": [("p", "above 1"), ("p", "below 0")],
    "discrete": [
        ("probabilities", "negative"),
        ("probabilities", "not summing to 1"),
        ("values", "repeated"),
    ],
    "fixed": [("dist", "unknown")],
}


def _bad_parameter(draw: st.DrawFn, document: dict[str, Any]) -> Case:
    quantity = draw(st.sampled_from(QUANTITIES))
    table = get(document, quantity)
    kind = table.get("dist", "fixed")
    parameter, how = draw(st.sampled_from(BAD_PARAMETERS[kind] + [("dist", "unknown")]))
    step = draw(st.floats(min_value=1e-6, max_value=1e6))
    if how in ("above max", "below min"):
        # a step below half an ulp of a large bound (3e8 contacts) would round away
        step *= 1.0 + abs(table["max" if how == "above max" else "min"])
    if how == "unknown":
        name = draw(st.text(max_size=12).filter(lambda k: k not in BAD_PARAMETERS))
        table["dist"] = name
        quoted = repr(name)
    elif how == "above max":
        table["mode"] = table["max"] + step
        quoted = repr(table["mode"])
    elif how == "below min":
        table["mode"] = table["min"] - step
        quoted = repr(table["mode"])
    elif how == "not positive":
        table[parameter] = value = draw(st.sampled_from([0.0, -step]))
        quoted = repr(value)
    elif how == "not above low":
        table["high"] = value = table["low"] - draw(st.sampled_from([0.0, step]))
        quoted = repr(value)
    elif how == "above 1":
        table["p"] = value = 1.0 + step
        quoted = repr(value)
    elif how == "below 0":
        table["p"] = value = -step
        quoted = repr(value)
    elif how == "negative":
        table["probabilities"][0] = value = -step
        quoted = repr(value)
    elif how == "not summing to 1":
        table["probabilities"][-1] = value = table["probabilities"][-1] + step
        quoted = repr(value)
    else:  # repeated values
        table["values"][1] = value = table["values"][0]
        quoted = repr(value)
    where = key_path_text(quantity)
    return Case(document, where, (quoted,), f"{where}: {parameter} {how}")


def _bad_correlation(draw: st.DrawFn, document: dict[str, Any], how: str) -> Case:
    matrix = document["correlations"]["matrix"]
    i, j = draw(st.sampled_from([(i, j) for i in range(3) for j in range(3)]))
    if how == "correlation outside [-1, 1]":
        magnitude = draw(st.floats(min_value=1.0, max_value=1e300, exclude_min=True))
        matrix[i][j] = value = magnitude * draw(st.sampled_from([-1.0, 1.0]))
        where = f"correlations.matrix[{i}][{j}]"
    elif how == "diagonal correlation not 1":
        matrix[i][i] = value = draw(st.floats(min_value=-1.0, max_value=1.0).filter(lambda v: v != 1.0))
        where = f"correlations.matrix[{i}][{i}]"
    else:
        i, j = draw(st.sampled_from([(0, 1), (0, 2), (1, 2), (1, 0), (2, 0), (2, 1)]))
        matrix[i][j] = value = draw(
            st.floats(min_value=-1.0, max_value=1.0).filter(lambda v: v != matrix[j][i])
        )
        where = "correlations.matrix"
    return Case(document, where, (repr(value),), f"{where}: {how} ({value!r})")


def _bad_year(draw: st.DrawFn, document: dict[str, Any], how: str) -> Case:
    years = document["years"]
    if how == "malformed year":
        j = draw(st.integers(0, len(years) - 1))
        text = draw(st.text(max_size=10).filter(lambda t: not _LOADER_YEAR.match(t)))
        years[j] = text
        return Case(document, f"years[{j}]", (repr(text),), f"years[{j}] = {text!r}")
    j = draw(st.integers(1, len(years) - 1))
    start = draw(st.integers(1000, 9998).filter(lambda y: y != 2025 + j))
    years[j] = text = f"{start}/{(start + 1) % 100:02d}"
    return Case(document, f"years[{j}]", (repr(text),), f"years[{j}] = {text!r}")


# ---------------------------------------------------------------------------------
# Invalid scenario files
# ---------------------------------------------------------------------------------


@FAST
@given(case=wrong_type_cases())
def test_a_wrong_type_anywhere_is_refused_before_any_work(case: Case, workdir: Path) -> None:
    check_refused(case, workdir, "invalid file: wrong type")


@FAST
@given(case=out_of_range_cases())
def test_a_value_out_of_range_anywhere_is_refused_before_any_work(case: Case, workdir: Path) -> None:
    check_refused(case, workdir, "invalid file: out of range")


@FAST
@given(site=st.sampled_from(MISSING_SITES))
def test_a_missing_required_key_anywhere_is_refused_before_any_work(site: Any, workdir: Path) -> None:
    check_refused(missing_case(site), workdir, "invalid file: missing key")


@FAST
@given(case=unknown_key_cases())
def test_an_unknown_key_anywhere_is_refused_before_any_work(case: Case, workdir: Path) -> None:
    check_refused(case, workdir, "invalid file: unknown key")


@pytest.mark.slow
@FULL
@given(case=st.one_of(wrong_type_cases(), out_of_range_cases(), unknown_key_cases()))
def test_any_broken_field_is_refused_before_any_work_full(case: Case, workdir: Path) -> None:
    check_refused(case, workdir, "invalid file: generated (full tier)")


@pytest.mark.slow
def test_every_field_broken_every_way_is_refused_full(workdir: Path) -> None:
    # Not sampled: every field of the document, once per kind of mistake.
    wrong = {"string": 42, "number": "0.5", "array": {"a": 1}, "table": "a string"}
    cases = []
    for path, node in SITES:
        where = key_path_text(path)
        document = fresh()
        put(document, path, wrong[value_kind(node)])
        cases.append(Case(document, where, (repr(wrong[value_kind(node)]),), f"{where}: wrong type"))
        document = fresh()
        put(document, path, datetime.date(2025, 4, 1))
        cases.append(Case(document, where, ("datetime.date(2025, 4, 1)",), f"{where}: a date"))
    for path in NUMBER_LEAVES:
        quantity = enclosing_quantity(path)
        document = fresh()
        put(document, path, math.nan)
        cases.append(Case(document, key_path_text(quantity or path), ("nan",), f"{key_path_text(path)}: nan"))
    for quantity in BOUNDED:
        low, high, _ = bounds(quantity)
        value = high + 0.5 if high is not None else low - 0.5
        document = fresh()
        put(document, quantity, {"value": value, "source": "x"})
        cases.append(Case(document, key_path_text(quantity), (repr(value),), f"{quantity}: {value}"))
    cases += [missing_case(site) for site in MISSING_SITES]
    for path, node in TABLES:
        document = fresh()
        get(document, path)["zz_not_in_the_schema"] = 1.0
        inside = path if table_kind(path, node) == "quantity" else (*path, "zz_not_in_the_schema")
        where = key_path_text(inside)
        cases.append(Case(document, where, ("zz_not_in_the_schema",), f"{key_path_text(path)}: unknown key"))
    assert len(cases) > 1000
    for case in cases:
        check_refused(case, workdir, "invalid file: every field (full tier)")


# ---------------------------------------------------------------------------------
# Invalid values given in Python: Scenario.with_values
# ---------------------------------------------------------------------------------

python_values = st.one_of(
    st.text(max_size=10),
    st.none(),
    st.booleans(),
    st.complex_numbers(allow_nan=False),
    st.lists(st.floats(allow_nan=False), max_size=3),
    st.sampled_from([np.bool_(True), Decimal("0.3"), object(), b"0.3", math.nan, math.inf, -math.inf]),
    st.sampled_from([np.float64("nan"), np.float32("inf"), np.float64("-inf")]),
)


@st.composite
def python_value_cases(draw: st.DrawFn) -> tuple[str, Any, str, str]:
    """(key path, value, key path the error must name, what it must quote)."""
    if draw(st.booleans()):
        quantity = draw(st.sampled_from(BOUNDED))
        value = draw(_beyond(*bounds(quantity)))
        value = draw(st.sampled_from([value, np.float64(value)]))
        return key_path_text(quantity), value, key_path_text(quantity), repr(float(value))
    path = draw(st.sampled_from(QUANTITIES))
    value = draw(python_values)
    is_number = isinstance(value, float | np.floating)
    return key_path_text(path), value, key_path_text(path), repr(float(value)) if is_number else repr(value)


def _check_with_values(case: tuple[str, Any, str, str], category: str) -> None:
    key, value, where, quoted = case
    with kernel_trap(), pytest.raises(ScenarioError) as info:
        BASE.with_values({key: value})
    tally(category, info.value)
    assert names_path(info.value.path, where), (info.value.path, where)
    if quoted not in str(info.value) and open_bug(info.value):
        return
    assert quoted in str(info.value), (quoted, str(info.value))


@FAST
@given(case=python_value_cases())
def test_with_values_refuses_a_wrong_python_value(case: tuple[str, Any, str, str]) -> None:
    _check_with_values(case, "invalid with_values")


@pytest.mark.slow
@FULL
@given(case=python_value_cases())
def test_with_values_refuses_a_wrong_python_value_full(case: tuple[str, Any, str, str]) -> None:
    _check_with_values(case, "invalid with_values (full tier)")


# ---------------------------------------------------------------------------------
# Invalid arguments of simulate
# ---------------------------------------------------------------------------------

_not_a_number = st.one_of(
    st.text(max_size=8), st.none(), st.lists(st.integers(), max_size=2), st.complex_numbers()
)


def bad_counts(minimum: int) -> st.SearchStrategy[Any]:
    """Anything ``check_count`` must refuse: below ``minimum``, not whole, not a number, a bool."""
    return st.one_of(
        st.integers(max_value=minimum - 1),
        st.floats().filter(lambda x: not (math.isfinite(x) and x.is_integer() and x >= minimum)),
        st.booleans(),
        _not_a_number,
    )


BAD_ARGUMENTS: dict[str, st.SearchStrategy[Any]] = {
    "draws": bad_counts(1),
    "seed": st.one_of(
        st.integers(max_value=-1),
        st.integers(min_value=2**128),
        st.floats(),
        st.booleans(),
        st.text(max_size=5),
    ),
    "start": bad_counts(0),
    "threads": st.one_of(  # None is valid: all threads
        bad_counts(1).filter(lambda v: v is not None),
        st.integers(min_value=numba.config.NUMBA_NUM_THREADS + 1),
    ),
    "sampler": st.one_of(
        st.text(max_size=8).filter(lambda s: s not in simulation.SAMPLERS), st.integers(), st.booleans()
    ),
    "precision": st.one_of(
        st.floats().filter(lambda x: not (math.isfinite(x) and x > 0)), st.booleans(), st.text()
    ),
    "max_draws": bad_counts(1),
    "progress": st.one_of(
        st.text(max_size=5), st.integers(), st.floats(), st.lists(st.booleans(), max_size=2)
    ),
}


@st.composite
def simulate_argument_cases(draw: st.DrawFn) -> tuple[dict[str, Any], str, Any]:
    """(keyword arguments with one bad, the name the error must give, the value it must quote)."""
    kind = draw(
        st.sampled_from(
            [*BAD_ARGUMENTS, "precision_output", "max_draws below draws", "sobol size", "lhs start"]
        )
    )
    if kind in BAD_ARGUMENTS:
        value = draw(BAD_ARGUMENTS[kind])
        return {kind: value}, kind, value
    if kind == "precision_output":
        name = draw(st.text(max_size=10).filter(lambda s: s not in simulation.OUTPUTS))
        return {"precision": 1e9, "precision_output": name}, "precision_output", name
    if kind == "max_draws below draws":
        return {"precision": 1e9, "draws": 100, "max_draws": draw(st.integers(1, 99))}, "max_draws", None
    if kind == "sobol size":
        draws = draw(st.integers(3, 10**6).filter(lambda n: n & (n - 1)))
        return {"sampler": "sobol", "draws": draws}, "draws", draws
    return {"sampler": "lhs", "start": draw(st.integers(1, 2**40))}, "start", None


def _check_simulate_arguments(case: tuple[dict[str, Any], str, Any], category: str) -> None:
    kwargs, name, value = case
    with kernel_trap(), pytest.raises((ValueError, TypeError)) as info:
        simulate_all(**{"draws": 10, "seed": 1, **kwargs})
    tally(category, info.value)
    message = str(info.value)
    assert message.startswith(f"The {name!r} parameter of simulate must be "), message
    if value is not None:
        assert repr(value) in message, (value, message)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"precision": 1e9, "sampler": "lhs"}, "precision"),
        ({"draws": 64, "sampler": "sobol", "chunks": 3}, "chunks"),
        ({"keep": "summary", "sampler": "lhs"}, "keep"),
        ({"draws": 64, "sampler": "sobol", "start": 32}, "start"),
        ({"draws": 10, "sampler": "lhs", "start": 5}, "start"),
        ({"draws": 10, "precision": 1e9, "max_draws": 5}, "max_draws"),
    ],
    ids=["precision with lhs", "sobol chunks", "summary with lhs", "sobol start", "lhs start", "max_draws"],
)
def test_simulate_messages_about_combined_arguments_follow_the_convention(
    kwargs: dict[str, Any], name: str
) -> None:
    # Every message reads "The 'name' parameter of simulate must ... Got ... instead.", as _validate's do.
    with kernel_trap(), pytest.raises(ValueError) as info:
        simulate_all(**{"seed": 1, **kwargs})
    message = str(info.value)
    assert message.startswith(f"The {name!r} parameter of simulate "), message
    assert re.search(r"\. Got [^.].* instead\.$", message), message


@FAST
@given(case=simulate_argument_cases())
def test_simulate_refuses_a_bad_argument_before_any_work(case: tuple[dict[str, Any], str, Any]) -> None:
    _check_simulate_arguments(case, "invalid simulate argument")


@pytest.mark.slow
@FULL
@given(case=simulate_argument_cases())
def test_simulate_refuses_a_bad_argument_before_any_work_full(case: tuple[dict[str, Any], str, Any]) -> None:
    _check_simulate_arguments(case, "invalid simulate argument (full tier)")


# ---------------------------------------------------------------------------------
# Bugs found on the way, fixed: each keeps its test
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [("discount_rate", "value"), ("risks", "digital_exclusion", "max"), ("programmes", "it_modernisation",
     "spend", "values", 0), ("correlations", "matrix", 0, 1), ("deflator", "index", 2),
     ("budget_changes", 1, "amount"), ("long_term_discount_rate", "value")],
    ids=key_path_text,
)  # fmt: skip
def test_an_integer_beyond_a_double_is_a_scenario_error(path: KeyPath, workdir: Path) -> None:
    # TOML allows only 64-bit integers, but tomllib reads any: 10**400 used to escape as OverflowError.
    document = fresh()
    put(document, path, 10**400)
    quantity = enclosing_quantity(path)
    error = check_refused(
        Case(document, key_path_text(quantity or path), ("1000",), "10**400"), workdir, "fixed bug"
    )
    assert error.path == key_path_text(path), str(error)
    assert "an integer of 401 digits" in error.problem and "range of a double" in error.problem, str(error)


def test_an_integer_beyond_a_double_given_in_python_is_a_scenario_error() -> None:
    with pytest.raises(ScenarioError, match=r"^discount_rate\.value: .*an integer of 401 digits"):
        BASE.with_values({"discount_rate": 10**400})
    where = r"^programmes\.it_modernisation\.spend\.values\[1\]: .*an integer of 500 digits"
    with pytest.raises(ScenarioError, match=where):
        BASE.with_values({"programmes.it_modernisation.spend": [1e6, -(10**499)] + [1e6] * 8})


def test_a_beta_with_a_vanishing_sd_is_a_scenario_error(workdir: Path) -> None:
    document = fresh()
    document["risks"]["digital_exclusion"] = {"dist": "beta", "mean": 0.3, "sd": 1e-200, "source": "x"}
    check_refused(Case(document, "risks.digital_exclusion", ("1e-200",), "sd 1e-200"), workdir, "fixed bug")


def test_spend_whose_total_overflows_is_a_scenario_error(workdir: Path) -> None:
    document = fresh()
    document["programmes"]["it_modernisation"]["spend"]["values"] = [1e308, 1e308] + [0.0] * 8
    where = "programmes.it_modernisation.spend.values"
    check_refused(Case(document, where, ("1e+308",), "spend total 2e308"), workdir, "fixed bug")


@pytest.mark.parametrize("where", ["years", "staff_groups"])
def test_year_and_identifier_patterns_accept_a_trailing_newline(where: str, workdir: Path) -> None:
    document = fresh()
    if where == "years":
        document["years"][0] = "2025/26\n"
        expected, quoted = "years[0]", repr("2025/26\n")
    else:
        document["staff_groups"] = {
            ("gp\n" if k == "gp" else k): v for k, v in document["staff_groups"].items()
        }
        expected, quoted = "staff_groups.gp\n", "lower_snake_case"
    check_refused(Case(document, expected, (quoted,), where), workdir, "fixed bug")


# ---------------------------------------------------------------------------------
# Bugs found in schema 2, fixed: each keeps its test
# ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [2.0000001, 10.96875, 49.999999999])
def test_a_residual_life_off_whole_is_quoted_exactly(value: float, workdir: Path) -> None:
    # The whole-number check once quoted the value rounded to six digits: 2.0000001 read "got 2".
    document = fresh()
    document["programmes"]["it_modernisation"]["residual_life"] = {"value": value, "source": "x"}
    where = "programmes.it_modernisation.residual_life"
    case = Case(document, where, (repr(value),), f"residual life {value!r}")
    check_refused(case, workdir, "fixed bug", excuse_open_bugs=False)


# ---------------------------------------------------------------------------------
# Schema 2 specifics: schema-1 files and keys, budget changes in Python, what is now allowed
# ---------------------------------------------------------------------------------

SCHEMA_1_KEYS = [
    (("risks",), "cost_overrun", "programmes.<id>.cost_overrun"),
    (("risks",), "black_swan", "programmes.<id>.black_swan"),
    (("risks",), "black_swan_overrun", "programmes.<id>.black_swan_overrun"),
    (("risks",), "delivery_delay", "programmes.<id>.delivery_delay"),
    (("risks",), "redeployment_fraction", "risks.released_time_used"),
    (("programmes", "staff_technology"), "realisation_lag", "mid-year"),
    (("programmes", "it_modernisation"), "cash_releasing_fraction", "cashed_share"),
]


@pytest.mark.parametrize(
    ("table", "key", "where_it_went"), SCHEMA_1_KEYS, ids=[k for _, k, _ in SCHEMA_1_KEYS]
)
def test_a_schema_1_key_is_refused_saying_where_it_went(
    table: KeyPath, key: str, where_it_went: str, workdir: Path
) -> None:
    # A v1 scenario edited to schema_version = 2 keeps keys v2 moved or removed: each is named, with
    # where its meaning went, not just listed among the allowed keys.
    document = fresh()
    get(document, table)[key] = {"value": 0.5, "source": "assumption: schema 1"}
    where = key_path_text((*table, key))
    error = check_refused(
        Case(document, where, (where_it_went,), f"schema-1 key {where}"), workdir, "schema 1"
    )
    assert "schema 2" in error.problem, str(error)


def test_a_schema_1_file_is_refused_with_the_way_forward(workdir: Path) -> None:
    document = fresh()
    document["schema_version"] = 1
    error = check_refused(Case(document, "schema_version", ("must be 2, got 1",), "v1"), workdir, "schema 1")
    assert "nhsrisk scenarios" in error.problem, str(error)


def test_two_cuts_that_together_take_more_than_the_plan_are_refused_naming_both(workdir: Path) -> None:
    # Each cut alone leaves money; together they take more than the year's planned spend.
    document = fresh()
    planned = DOC["programmes"]["it_modernisation"]["spend"]["values"][1]
    document["budget_changes"][1] = {
        "programme": "it_modernisation",
        "year": "2026/27",
        "amount": -(planned - 3.25e8) - 1.0,  # with the first cut (3.25e8): GBP 1 more than the plan
        "source": "assumption: a second cut",
    }
    first = document["budget_changes"][0]["amount"]
    second = document["budget_changes"][1]["amount"]
    assert -first < planned and -second < planned and planned + first + second < 0
    error = check_refused(
        Case(document, "budget_changes[1].amount", ("more than its planned spend",), "two cuts"),
        workdir,
        "budget changes",
    )
    assert "budget_changes[0]" in error.problem and f"{planned:,.0f}" in error.problem, str(error)


@pytest.mark.parametrize(
    ("change", "where", "quoted"),
    [
        ({"programme": "nope"}, "budget_changes[0].programme", "'nope'"),
        ({"year": "2024/25"}, "budget_changes[0].year", "'2024/25'"),
        ({"amount": math.inf}, "budget_changes[0].amount", "inf"),
        ({"amount": "-1e8"}, "budget_changes[0].amount", "'-1e8'"),
        ({"source": " "}, "budget_changes[0].source", "is empty"),
        ({"cut": 1.0}, "budget_changes[0].cut", "unknown key"),
    ],
    ids=["programme", "year", "amount inf", "amount text", "blank source", "unknown key"],
)
def test_with_values_refuses_a_bad_budget_change(change: dict[str, Any], where: str, quoted: str) -> None:
    good = {"programme": "it_modernisation", "year": "2026/27", "amount": -1.0e8, "source": "assumption: x"}
    with kernel_trap(), pytest.raises(ScenarioError) as info:
        BASE.with_values({"budget_changes": [good | change]})
    tally("invalid with_values", info.value)
    assert info.value.path == where and quoted in info.value.problem, str(info.value)


def test_a_negative_value_per_contact_is_allowed_and_gives_negative_patient_value() -> None:
    # Schema 2: contacts moved online can add work (a value per contact below zero), so the loader
    # takes it, and the run returns finite results whose patient value is never above zero.
    key = "programmes.patient_services.patients.value_per_contact"
    scenario = BASE.with_values({key: Triangular(-4.0, -1.0, 0.0)})
    ds = simulate_all(scenario, draws=200, seed=1)
    patient = ds["patient_value"].sel(programme="patient_services")
    assert (patient <= 0).all() and (patient < 0).any()
    assert np.isfinite(ds["npv"]).all() and np.isfinite(ds["cumulative_value"]).all()
    # value can now fall below zero (v1 promised it never would): here the strand's, in some years
    assert (ds["value"].sel(programme="patient_services") < 0).any()
