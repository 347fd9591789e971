"""Helpers shared by the hardening tests (no ``test_`` prefix, so pytest does not collect it).

- :func:`toml_text` writes any document a test wants to feed the scenario loader,
  including values :func:`nhsrisk.scenario.dumps_toml` refuses to write (nan,
  infinities, dates and times, integers beyond 64 bits), one top-level key a line.
- :func:`assert_matches_model` checks a run draw by draw against the NumPy
  reference model (``benchmarks/reference.py``) on the run's own sampled inputs,
  so the extreme scenarios are checked against a transcription written apart
  from the kernel; scenarios of any size come from
  :func:`nhsrisk.testing.synthetic_scenario`.
- A tally of what the generated tests tried (scenarios, invalid inputs, fuzz
  inputs) and of the distinct error messages they reached. Each hardening module
  writes it at teardown to ``hardening-tally.json`` in pytest's base temporary
  directory (``--basetemp`` chooses it); the counts are cumulative over the
  modules of one pytest run, since this module is imported once.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import re
import signal
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from nhsrisk._model import OUTPUTS
from nhsrisk.scenario import Scenario, ScenarioError

try:
    from benchmarks.reference import evaluate_reference, run_inputs
except ModuleNotFoundError:  # pragma: no cover - pytest started as a script: the root is not on sys.path
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from benchmarks.reference import evaluate_reference, run_inputs

__all__ = [
    "TimeLimitExceeded",
    "assert_matches_model",
    "message_of",
    "tally",
    "template_of",
    "time_limit",
    "toml_key",
    "toml_text",
    "toml_value",
    "write_tally",
]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def toml_key(key: str) -> str:
    """A bare key when TOML allows one, else a quoted key."""
    return key if _BARE_KEY.fullmatch(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    # json escapes every control character TOML forbids in a basic string except DEL
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def toml_value(value: Any) -> str:
    """TOML text of one value; tables are written inline."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def toml_text(document: dict[str, Any]) -> str:
    """A whole document, one top-level key per line."""
    return "".join(f"{toml_key(key)} = {toml_value(value)}\n" for key, value in document.items())


# ---------------------------------------------------------------------------------
# A time limit that interrupts, for inputs that might never finish
# ---------------------------------------------------------------------------------


class TimeLimitExceeded(Exception):
    """Raised inside the code under test when its time limit has passed."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block with :class:`TimeLimitExceeded` after ``seconds`` (a SIGALRM timer).

    A check made after the block returns cannot catch a hang; this can, wherever the block is
    running Python code. Outside the main thread, or without ``setitimer``, the block runs unlimited.
    """
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise TimeLimitExceeded(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ---------------------------------------------------------------------------------
# Tally
# ---------------------------------------------------------------------------------

TRIED: Counter[str] = Counter()
MESSAGES: defaultdict[str, set[str]] = defaultdict(set)

_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
_NUMBER = re.compile(
    r"(?<![A-Za-z_])[-+]?(?:\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|inf|nan|True|False|None)(?![A-Za-z_])"
)
_BRACKETS = re.compile(r"\[[^\[\]]*\]|\{[^{}]*\}|\([^()]*\)")


def message_of(error: BaseException) -> str:
    """The error's message without the file name (each example writes its own temporary file)."""
    if isinstance(error, ScenarioError):
        return f"{error.path}: {error.problem}"
    return str(error)


def template_of(error: BaseException) -> str:
    """The kind of message: values, names and key paths masked, so that only the wording is left."""
    text = error.problem if isinstance(error, ScenarioError) else str(error)
    text = _QUOTED.sub("<s>", text)
    text = _NUMBER.sub("<n>", text)
    previous = None
    while previous != text:
        previous, text = text, _BRACKETS.sub("<...>", text)
    return f"{type(error).__name__}: {text}"


def tally(category: str, error: BaseException | None = None) -> None:
    """Count one input tried in ``category``, and the error it reached (if any)."""
    TRIED[category] += 1
    if error is not None:
        MESSAGES[category].add(message_of(error))
        MESSAGES["(templates)"].add(template_of(error))


def write_tally(directory: Path) -> Path:
    """Write the counts so far to ``directory / "hardening-tally.json"`` and return its path."""
    messages = set().union(*(v for k, v in MESSAGES.items() if k != "(templates)"))
    report = {
        "tried": dict(sorted(TRIED.items())),
        "tried_total": sum(TRIED.values()),
        "distinct_messages_by_category": {
            k: len(v) for k, v in sorted(MESSAGES.items()) if k != "(templates)"
        },
        "distinct_messages": len(messages),
        "distinct_message_templates": len(MESSAGES["(templates)"]),
        "templates": sorted(MESSAGES["(templates)"]),
    }
    path = Path(directory) / "hardening-tally.json"
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------
# The run against the NumPy reference model, on the run's own inputs
# ---------------------------------------------------------------------------------


def assert_matches_model(ds: Any, scenario: Scenario, rtol: float = 1e-12) -> None:
    """Every output of the run equals the reference model on the run's own inputs, draw by draw.

    The reference is ``benchmarks/reference.py`` (the v2 equations vectorised in
    NumPy, written apart from the kernel). Floats to ``rtol`` of the variable's
    largest magnitude (net benefit and NPV can cross zero), booleans exactly, and
    every output the kernel writes is compared.
    """
    expected = evaluate_reference(scenario, run_inputs(ds), ds.sizes["draw"])
    assert set(OUTPUTS) == set(expected), sorted(set(OUTPUTS) ^ set(expected))
    for name in OUTPUTS:
        kernel = ds[name].transpose("draw", ...).values
        wanted = expected[name]
        assert kernel.shape == wanted.shape, (name, kernel.shape, wanted.shape)
        if kernel.dtype == bool:
            np.testing.assert_array_equal(kernel, wanted, err_msg=name)
        else:
            scale = float(np.max(np.abs(wanted), initial=0.0))
            np.testing.assert_allclose(kernel, wanted, rtol=rtol, atol=rtol * scale, err_msg=name)


def adds_work(ds: Any) -> Any:
    """Draws in which moving a contact online adds more staff work than it saves, in some programme.

    There (issue 15: ``induced_demand_cost`` above ``value_per_contact``) more uptake, less
    exclusion or more money lower the patient line, so value can fall as a risk eases: the
    monotone properties hold in the other draws. A boolean DataArray over ``draw``.
    """
    import xarray as xr

    from nhsrisk.scenario import scenario_from_attrs

    scenario = scenario_from_attrs(ds.attrs)
    added = xr.zeros_like(ds["npv"], dtype=bool)
    for pid, programme in scenario.programmes.items():
        patients = programme.patients
        if patients is None or patients.induced_demand_cost is None:
            continue

        def value(key: str, quantity: Any, pid: str = pid) -> Any:
            name = f"programmes.{pid}.patients.{key}"  # stored when uncertain, else its fixed value
            return ds[name] if name in ds else quantity.distribution.mean()

        saved = value("value_per_contact", patients.value_per_contact)
        added = added | (saved < value("induced_demand_cost", patients.induced_demand_cost))
    return added
