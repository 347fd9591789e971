"""A fuzzing target for the scenario loader (hypothesis): a Scenario or a ScenarioError, never anything else.

Three kinds of input, from the wildest to the nearest to valid:

- arbitrary text;
- TOML-shaped text: table headers and ``key = value`` lines built from the
  schema's own names and from random ones;
- near-valid documents: a schema-2 scenario using every optional part (the
  shipped ``plus-digital-inclusion``, with its baseline, an inclusion programme
  and a rank-correlation table, plus two budget changes) after one to four
  random edits (a node replaced by a random value, deleted,
  copied elsewhere, or a key added), written as TOML and then, one time in
  three, damaged as text (truncated, a span cut out, random characters put in,
  lines duplicated or swapped).

Whatever comes in, ``Scenario.from_toml`` and ``load_scenario`` must return a
scenario (which must then round-trip through TOML unchanged) or raise a
:class:`~nhsrisk.ScenarioError`, within a bounded time. The bugs found so far
have tests of their own (here and in ``test_hardening_inputs.py``); while a bug
is open (its test a strict xfail, listed in ``KNOWN_BUGS``) the fuzz targets
count an input that reaches it instead of failing on it again, so that they keep
looking for new ones. The fast tier replays a fixed
set of examples; the full tier (``--runslow``) explores afresh, and also
simulates every scenario it manages to build.
"""

from __future__ import annotations

import copy
import json
import math
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nhsrisk
from nhsrisk import Scenario, ScenarioError
from nhsrisk.scenario import dumps_toml

try:
    from tests._hardening import (
        TimeLimitExceeded,
        tally,
        time_limit,
        toml_key,
        toml_text,
        toml_value,
        write_tally,
    )
except ModuleNotFoundError:  # pragma: no cover - depends on how pytest was started
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests._hardening import (
        TimeLimitExceeded,
        tally,
        time_limit,
        toml_key,
        toml_text,
        toml_value,
        write_tally,
    )

FAST = settings(
    max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
FULL = settings(
    max_examples=2500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
#: A hang guard, not a benchmark: a new Beta shape's inversion table takes about a second here
#: (a few at the largest allowed concentration), so an input still loading after this long has lost its way.
SECONDS_PER_INPUT = 15.0


@pytest.fixture(scope="module", autouse=True)
def _write_the_tally(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield
    write_tally(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


BASE = (
    nhsrisk.load_scenario("plus-digital-inclusion")
    .with_values(
        {
            "budget_changes": [
                {"programme": "it_modernisation", "year": "2026/27", "amount": -3.25e8, "source": "fuzz"},
                {
                    "programme": "digital_inclusion",
                    "year": "2027/28",
                    "amount": 1.0e7,
                    "source": "fuzz",
                    "note": "x",
                },
            ]
        }
    )
    .with_correlations(
        ["programmes.it_modernisation.cost_overrun", "risks.staff_capacity"],
        [[1.0, -0.4], [-0.4, 1.0]],
        source="assumption: fuzz",
    )
)
DOC_JSON = json.dumps(BASE.to_dict())

#: Open bugs with a strict-xfail test of their own: (exception type, words of its message, that test).
#: None is open: the integer beyond a double, the extreme PERT and the empty key path are fixed.
KNOWN_BUGS: tuple[tuple[type[BaseException], str, str], ...] = ()


def known_bug(error: BaseException) -> str | None:
    for kind, words, test in KNOWN_BUGS:
        if type(error) is kind and words in str(error):
            return test
    return None


def outcome(text: str, category: str, file: Path | None = None) -> Scenario | ScenarioError | None:
    """Load ``text`` (from ``file`` if given): the scenario, or the ScenarioError; anything else fails."""
    try:
        with time_limit(SECONDS_PER_INPUT):
            if file is None:
                scenario = Scenario.from_toml(text, file="<fuzz>")
            else:
                file.write_text(text, encoding="utf-8")
                scenario = nhsrisk.load_scenario(file)
    except ScenarioError as error:
        tally(category, error)
        assert error.file == (str(file) if file is not None else "<fuzz>")
        assert error.problem, str(error)
        assert error.path.strip(), f"no visible key path: {error}"
        return error
    except (OverflowError, ZeroDivisionError, RecursionError, ValueError, TimeLimitExceeded) as error:
        test = known_bug(error)
        if test is None:
            raise
        tally(f"known bug reached: {test}")
        return None
    tally(f"{category} (accepted)")
    again = Scenario.from_toml(scenario.to_toml())
    assert again == scenario and again.to_toml() == scenario.to_toml()
    return scenario


# ---------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------


def _schema_names() -> list[str]:
    names: set[str] = set()

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            names.update(node)
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(json.loads(DOC_JSON))
    extra = {"year", "note", "lambda", "mean", "sd", "median", "p90", "alpha", "beta", "low", "high", "p"}
    # keys of schema 1 that schema 2 moved or removed: the loader must say where they went
    extra |= {"realisation_lag", "cash_releasing_fraction", "redeployment_fraction", "cost_overrun"}
    return sorted(names | extra)


SCHEMA_NAMES = _schema_names()
SPECIAL_NUMBERS = [
    0, 1, -1, 2, 2025, 2**63 - 1, -(2**63), 0.0, -0.0, 0.5, 1.0, -1.0, 1.5, 2.0, 1e-300, 5e-324,
    1e300, 1.7976931348623157e308, -1e300, 3.5e10, math.nan, math.inf, -math.inf,
]  # fmt: skip
SPECIAL_STRINGS = [
    "", " ", "pert", "fixed", "normal", "discrete", "bernoulli", "beta", "lognormal", "uniform",
    "triangular", "truncnormal", "gamma", "2025/26", "2029/30", "2030/31", "2025-26", "2023/24", "2034/35",
    "gp", "it_modernisation", "digital_inclusion", "programmes.it_modernisation.cost_overrun",
    "risks.cost_overrun", "risks.raid_fraction", "discount_rate", "long_term_discount_rate", "as-announced",
    "assumption: fuzz", "\x00", "\n", "£", "\U0001f600", "'''", '"""', "[risks]", "x = 1",
    "[[budget_changes]]",
]  # fmt: skip
keys = st.one_of(st.sampled_from(SCHEMA_NAMES), st.text(max_size=8))
scalars = st.one_of(
    st.sampled_from(SPECIAL_NUMBERS),
    st.sampled_from(SPECIAL_STRINGS),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.text(max_size=8),
    st.booleans(),
    st.datetimes(),
    st.dates(),
    st.times(),
)
toml_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4),
    max_leaves=12,
)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*path, index))


def _get(node: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        node = node[part]
    return node


@st.composite
def edited_documents(draw: st.DrawFn) -> dict[str, Any]:
    """The default document after one to four random edits."""
    document = json.loads(DOC_JSON)
    for _ in range(draw(st.integers(1, 4))):
        paths = list(_paths(document))
        path = draw(st.sampled_from(paths[1:]))
        parent, last = _get(document, path[:-1]), path[-1]
        edit = draw(st.sampled_from(["replace", "delete", "copy", "add key"]))
        if edit == "replace":
            parent[last] = draw(toml_values)
        elif edit == "delete":
            del parent[last]
        elif edit == "copy":
            parent[last] = copy.deepcopy(_get(document, draw(st.sampled_from(paths[1:]))))
        else:
            tables = [p for p in paths if isinstance(_get(document, p), dict)]
            _get(document, draw(st.sampled_from(tables)))[draw(keys)] = draw(toml_values)
    return document


def as_toml(document: dict[str, Any], multiline: bool) -> str:
    """The package's own multi-line writer when it can write the document, else the inline one."""
    if multiline:
        try:
            return dumps_toml(document)
        except (TypeError, ValueError):  # nan, infinities and dates: dumps_toml refuses them
            pass
    return toml_text(document)


@st.composite
def damaged(draw: st.DrawFn, text: str) -> str:
    """Text-level damage: truncation, a span cut out, characters put in, lines duplicated or swapped."""
    how = draw(st.sampled_from(["truncate", "cut", "insert", "duplicate line", "swap lines"]))
    n = len(text)
    if how == "truncate":
        return text[: draw(st.integers(0, n))]
    if how == "cut":
        i = draw(st.integers(0, n))
        return text[:i] + text[i + draw(st.integers(0, 200)) :]
    if how == "insert":
        i = draw(st.integers(0, n))
        return text[:i] + draw(st.text(max_size=6)) + text[i:]
    lines = text.splitlines(keepends=True)
    i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
    if how == "duplicate line":
        lines.insert(j, lines[i])
    else:
        lines[i], lines[j] = lines[j], lines[i]
    return "".join(lines)


@st.composite
def near_valid_texts(draw: st.DrawFn) -> str:
    text = as_toml(draw(edited_documents()), multiline=draw(st.booleans()))
    if draw(st.integers(0, 2)) == 0:
        text = draw(damaged(text))
    return text


@st.composite
def toml_shaped_texts(draw: st.DrawFn) -> str:
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        if draw(st.integers(0, 3)) == 0:
            header = ".".join(toml_key(k) for k in draw(st.lists(keys, min_size=1, max_size=3)))
            lines.append(f"[{header}]")
        else:
            lines.append(f"{toml_key(draw(keys))} = {toml_value(draw(toml_values))}")
    return "\n".join(lines) + "\n"


def simulate_accepted(scenario: Scenario) -> None:
    """A scenario the fuzzer built simulates to finite results, or says why not (FloatingPointError)."""
    try:
        ds = nhsrisk.simulate(scenario, draws=4, seed=1)
    except FloatingPointError as error:
        # Only the engine's own refusal (check_finite) counts; any other FloatingPointError is a bug.
        if not str(error).startswith("simulate produced a non-finite "):
            raise
        tally("fuzz: accepted scenario refused by simulate", error)
        return
    floats = [name for name, v in ds.data_vars.items() if v.dtype.kind == "f"]
    bad = sorted(name for name in floats if not np.isfinite(ds[name].values).all())
    assert not bad, f"simulate returned non-finite {bad}"
    tally("fuzz: accepted scenario simulated")


# ---------------------------------------------------------------------------------
# Targets
# ---------------------------------------------------------------------------------


@FAST
@given(text=st.text())
def test_arbitrary_text_gives_a_scenario_or_a_scenario_error(text: str) -> None:
    outcome(text, "fuzz: arbitrary text")


@FAST
@given(text=toml_shaped_texts())
def test_toml_shaped_text_gives_a_scenario_or_a_scenario_error(text: str) -> None:
    outcome(text, "fuzz: TOML-shaped text")


# A failing example is a whole scenario: hypothesis warns that its repr is large while reporting it.
QUIET_REPORT = pytest.mark.filterwarnings("ignore:Generating overly large repr")


@QUIET_REPORT
@FAST
@given(text=near_valid_texts(), through_a_file=st.booleans())
def test_near_valid_toml_gives_a_scenario_or_a_scenario_error(
    text: str, through_a_file: bool, workdir: Path
) -> None:
    outcome(text, "fuzz: near-valid TOML", workdir / "fuzz.toml" if through_a_file else None)


@pytest.mark.slow
@FULL
@given(text=st.one_of(st.text(), toml_shaped_texts()))
def test_any_text_gives_a_scenario_or_a_scenario_error_full(text: str) -> None:
    outcome(text, "fuzz: text (full tier)")


@QUIET_REPORT
@pytest.mark.slow
@FULL
@given(text=near_valid_texts(), through_a_file=st.booleans())
def test_near_valid_toml_gives_a_scenario_or_a_scenario_error_full(
    text: str, through_a_file: bool, workdir: Path
) -> None:
    result = outcome(
        text, "fuzz: near-valid TOML (full tier)", workdir / "fuzz.toml" if through_a_file else None
    )
    if isinstance(result, Scenario):
        simulate_accepted(result)


def test_the_edits_do_reach_deep_into_the_scenario() -> None:
    # The fuzzer is only as good as the errors it reaches: a fixed sample of near-valid inputs must get
    # past the TOML parser into the validation of many different key paths, and some must be accepted.
    reached: set[str] = set()
    accepted = 0

    @settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(text=near_valid_texts())
    def sample(text: str) -> None:
        nonlocal accepted
        result = outcome(text, "fuzz: near-valid TOML (reach)")
        if isinstance(result, ScenarioError):
            reached.add(result.path)
        elif isinstance(result, Scenario):
            accepted += 1

    sample()
    assert len({path.split(".")[0] for path in reached}) >= 5, reached
    assert len(reached) >= 20, reached
    assert accepted >= 1


# ---------------------------------------------------------------------------------
# Bugs found by fuzzing, fixed: each keeps its test
# ---------------------------------------------------------------------------------


def test_no_bug_is_excused_any_more() -> None:
    # Every bug the fuzzer found is fixed, so nothing may be counted instead of failing.
    assert KNOWN_BUGS == ()
    assert known_bug(OverflowError("int too large to convert to float")) is None


def _results(cumulative_last_year: float) -> Any:
    cumulative = np.full((2, 4), 1.0e9)
    cumulative[-1, 2] = cumulative_last_year
    return xr.Dataset(
        {
            "cumulative_value": (("year", "draw"), cumulative),
            "npv": (("draw",), np.full(4, 1.0e8)),
            "bcr": (("draw",), np.full(4, 1.5)),
        }
    )


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan], ids=["inf", "-inf", "nan"])
def test_a_non_finite_cumulative_value_fails_the_fuzz_target(
    bad: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fuzz target once counted a non-finite cumulative_value as a known bug (an overflowing
    # undiscounted total); that bug is fixed, so a result holding one must now fail the target.
    monkeypatch.setattr(nhsrisk, "simulate", lambda *args, **kwargs: _results(bad))
    with pytest.raises(AssertionError, match=r"non-finite \['cumulative_value'\]"):
        simulate_accepted(BASE)
    monkeypatch.setattr(nhsrisk, "simulate", lambda *args, **kwargs: _results(2.0e9))
    simulate_accepted(BASE)  # the same results, finite: accepted


def test_only_the_engines_own_refusal_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise FloatingPointError(
            "simulate produced a non-finite cumulative_value (inf) in draw 2 (1 draws in all)"
        )

    monkeypatch.setattr(nhsrisk, "simulate", refuse)
    simulate_accepted(BASE)  # refused with a reason: the guarantee holds

    def stray(*args: Any, **kwargs: Any) -> Any:
        raise FloatingPointError("overflow encountered in multiply")

    monkeypatch.setattr(nhsrisk, "simulate", stray)
    with pytest.raises(FloatingPointError, match="overflow encountered"):
        simulate_accepted(BASE)


def test_deeply_nested_arrays_are_a_scenario_error() -> None:
    text = "name = " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(ScenarioError) as info:
        Scenario.from_toml(text, file="deep.toml")
    assert info.value.file == "deep.toml"


def test_a_file_that_is_not_utf8_is_a_scenario_error(workdir: Path) -> None:
    file = workdir / "latin1.toml"
    file.write_bytes(
        BASE.to_toml().replace("£", "GBP ").encode("utf-8").replace(b"GBP ", "£".encode("latin-1"))
    )
    with pytest.raises(ScenarioError) as info:
        nhsrisk.load_scenario(file)
    assert info.value.file == str(file) and str(file) in str(info.value)


def test_an_empty_key_is_named_visibly() -> None:
    with pytest.raises(ScenarioError) as info:
        Scenario.from_toml('"" = 0\n' + BASE.to_toml(), file="empty-key.toml")
    assert "unknown key" in info.value.problem
    assert info.value.path == '""', str(info.value)


@pytest.mark.parametrize(
    ("key", "where"),
    [(" ", 'risks." "'), ("\t", 'risks."\\t"'), ("\u200b", 'risks."\\u200b"'), ("x y", "risks.x y")],
    ids=["space", "tab", "zero-width space", "visible"],
)
def test_a_key_with_nothing_visible_is_quoted_in_the_key_path(key: str, where: str) -> None:
    document = BASE.to_dict()
    document["risks"][key] = 0
    with pytest.raises(ScenarioError) as info:
        Scenario.from_toml(toml_text(document), file="blank-key.toml")
    assert info.value.path == where and "unknown key" in info.value.problem, str(info.value)


@pytest.mark.slow
@pytest.mark.parametrize("lam", [1e12, 2.0**62, 1e300])
def test_an_extreme_pert_is_refused_in_bounded_time(lam: float) -> None:
    document = BASE.to_dict()
    document["risks"]["digital_exclusion"] = {
        "dist": "pert", "min": 0.1, "mode": 0.2, "max": 0.3, "lambda": lam, "source": "x",
    }  # fmt: skip
    with time_limit(20.0), pytest.raises(ScenarioError) as info:
        Scenario.from_toml(dumps_toml(document), file="extreme.toml")
    assert info.value.path == "risks.digital_exclusion"
    assert repr(lam) in info.value.problem and "(0, 1e+06]" in info.value.problem, str(info.value)


def test_a_byte_order_mark_is_accepted(workdir: Path) -> None:
    # Editors on Windows may save UTF-8 with a byte order mark: the file loads as if it had none.
    file = workdir / "bom.toml"
    file.write_bytes(b"\xef\xbb\xbf" + BASE.to_toml().encode("utf-8"))
    assert nhsrisk.load_scenario(file) == BASE
    # Only one, at the start: a mark anywhere else is a character TOML does not allow there.
    file.write_bytes(b"\xef\xbb\xbf\xef\xbb\xbf" + BASE.to_toml().encode("utf-8"))
    with pytest.raises(ScenarioError, match=r"not valid TOML.*line 1, column 1") as info:
        nhsrisk.load_scenario(file)
    assert info.value.file == str(file)


def test_a_date_where_a_year_label_belongs_is_refused() -> None:
    # TOML has a date type of its own: 2025-04-01 unquoted is a date, not a string.
    text = BASE.to_toml().replace('years = ["2025/26",', "years = [2025-04-01,", 1)
    assert text != BASE.to_toml()
    with pytest.raises(
        ScenarioError, match=r"years\[0\]: must be a financial year .*datetime\.date\(2025, 4, 1\)"
    ):
        Scenario.from_toml(text)
