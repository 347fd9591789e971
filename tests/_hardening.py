"""Helpers shared by the hardening tests (no ``test_`` prefix, so pytest does not collect it).

- :func:`toml_text` writes any document a test wants to feed the scenario loader,
  including values :func:`nhsrisk.scenario.dumps_toml` refuses to write (nan,
  infinities, dates and times, integers beyond 64 bits), one top-level key a line.
- :func:`model_v2` evaluates the v2 equations (the lead's brief, ``docs/model.md``)
  in plain NumPy on a run's own sampled inputs, written from the equations and
  not from the kernel, so that the extreme scenarios can be checked draw by draw
  against an independent transcription; :func:`wide_scenario` builds scenarios
  of any number of programmes and years (the deflator extended as the default
  scenario extends it, 2% a year).
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

from nhsrisk.scenario import Scenario, ScenarioError

__all__ = [
    "TimeLimitExceeded",
    "assert_matches_model",
    "message_of",
    "model_v2",
    "tally",
    "template_of",
    "time_limit",
    "toml_key",
    "toml_text",
    "toml_value",
    "wide_scenario",
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
# The v2 equations in plain NumPy, on a run's own inputs
# ---------------------------------------------------------------------------------


def _logistic(z: np.ndarray | float) -> np.ndarray:
    with np.errstate(over="ignore"):  # exp(1000) is inf, and 1 / (1 + inf) is the right 0
        return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=float)))


def model_v2(scenario: Scenario, ds: Any) -> dict[str, np.ndarray]:
    """Every output of model v2 for the draws of ``ds``, from its sampled inputs, draws first.

    The inputs a run keeps (``ds[key]``) are read back; fixed ones come from
    ``scenario``. Raid events are not kept, only whether a raid happened
    (``ds["raid"]``), so the raids are taken from the run; that a raid only falls
    on a year with money is checked here. Arrays are shaped ``(draw, year,
    programme[, staff_group])``; scalars ``(draw,)``.

    Equations (t = 0 is the first year; all money real, in ``price_base`` prices):
    spend ``F = (B + change) (1 - raid_t f_t e_p)``; adequacy ``A_t = min(1, sum F /
    (max(1, o) sum B))`` (1 while nothing is planned); uptake at mid-year while
    supported (``t < end = last planned year + 1 + floor(support_years)``) ``u =
    ceiling capacity A**elasticity S((t + 1/2 - midpoint - delay) k)``, then
    ``reached (1 - decay)**(t + 1/2 - end)``; additional ``a = max(0, u - u0)``;
    running cost while supported ``running_cost x (capital before t + half of
    t's)`` on the additional share ``(u - u0) / u`` of the systems in use (none
    where the do-minimum leads, all of it when neither path has uptake);
    exclusion ``x max(0, 1 - sum reach a)``; hours capped per group pro rata;
    value = cash + redeployed + patient; present values with the Green Book
    factors; residual value from the last year's net flow.
    """
    n = ds.sizes["draw"]
    years = list(scenario.years)
    n_year = len(years)
    programmes = list(scenario.programmes)
    groups = list(scenario.staff_groups)
    quantities = scenario.quantities()

    def draws_of(key: str) -> np.ndarray:
        """(draw,) values of a single-valued input; zero for the slots of an absent optional table."""
        if key in ds:
            return np.asarray(ds[key].transpose(..., "draw").values, dtype=float)
        if key not in quantities:
            return np.zeros(n)
        return np.full(n, float(quantities[key].distribution.mean()))

    def risk(name: str) -> np.ndarray:
        return draws_of(f"risks.{name}")

    # cash to price_base prices: index of the price base over index of the year (the GDP deflator)
    index = dict(zip(scenario.deflator.years, scenario.deflator.index, strict=True))
    real = np.array([index[scenario.price_base] / index[year] for year in years])
    planned = np.array([scenario.programmes[p].spend.values for p in programmes]) * real
    change = np.zeros_like(planned)
    for item in scenario.budget_changes:
        change[programmes.index(item.programme), years.index(item.year)] += item.amount
    change *= real
    funded = planned + change
    raid = np.asarray(ds["raid"].transpose("draw", "year").values, dtype=bool)
    money = funded.sum(axis=0) > 0.0
    assert not (raid & ~money).any(), "a raid fell on a year without money"
    fraction = draws_of("risks.raid_fraction")
    fraction = np.broadcast_to(fraction.T if fraction.ndim == 2 else fraction[:, None], (n, n_year))
    cut = np.where(raid, fraction, 0.0)

    capacity, elasticity = risk("staff_capacity"), risk("funding_elasticity")
    shape = (n, n_year, len(programmes))
    spend, running, adequacy = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    uptake, additional = np.zeros(shape), np.zeros(shape)
    for p, pid in enumerate(programmes):

        def get(name: str, pid: str = pid) -> np.ndarray:
            return draws_of(f"programmes.{pid}.{name}")

        overrun = np.where(get("black_swan") > 0.5, get("black_swan_overrun"), get("cost_overrun"))
        last_planned = int(np.flatnonzero(np.asarray(scenario.programmes[pid].spend.values) > 0)[-1])
        end = last_planned + 1 + np.floor(get("support_years"))
        shift = get("uptake_midpoint") + get("delivery_delay")
        ceiling, steepness = get("uptake_ceiling"), get("uptake_steepness")
        received, capital, reached = np.zeros(n), np.zeros(n), np.zeros(n)
        for t in range(n_year):
            year_spend = funded[p, t] * (1.0 - cut[:, t] * get("raid_exposure"))
            in_use = capital + 0.5 * year_spend
            capital = capital + year_spend
            received = received + year_spend
            need = planned[p, : t + 1].sum() * np.maximum(overrun, 1.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                a = np.where(need > 0.0, np.minimum(1.0, received / need), 1.0)
                level_max = ceiling * capacity * np.where(a > 0.0, a**elasticity, 0.0)
            supported = t < end
            reached = np.where(t == end - 1, level_max * _logistic((end - shift) * steepness), reached)
            after = np.maximum(t + 0.5 - end, 0.0)
            level = np.where(
                supported,
                level_max * _logistic((t + 0.5 - shift) * steepness),
                reached * (1.0 - get("benefit_decay")) ** after,
            )
            base = get("do_minimum_ceiling") * _logistic(
                (t + 0.5 - get("do_minimum_midpoint")) * get("do_minimum_steepness")
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.where(level > base, (level - base) / level, np.where(base > 0.0, 0.0, 1.0))
            spend[:, t, p] = year_spend
            adequacy[:, t, p] = a
            uptake[:, t, p] = level
            additional[:, t, p] = np.maximum(level - base, 0.0)
            running[:, t, p] = np.where(supported, get("running_cost") * in_use * share, 0.0)

    reach = np.stack(
        [draws_of(f"programmes.{pid}.inclusion.excluded_share_reached") for pid in programmes], -1
    )
    left = 1.0 - (reach[:, None, :] * additional).sum(axis=-1)
    exclusion = np.where(left > 0.0, risk("digital_exclusion")[:, None] * left, 0.0)

    hours = np.zeros((*shape, len(groups)))
    capped = np.zeros((n, n_year, len(groups)), dtype=bool)
    for g, gid in enumerate(groups):
        fte, per_fte = draws_of(f"staff_groups.{gid}.fte"), draws_of(f"staff_groups.{gid}.hours_per_fte")
        for p, pid in enumerate(programmes):
            if gid in scenario.programmes[pid].staff:
                prefix = f"programmes.{pid}.staff.{gid}"
                full = (
                    fte
                    * per_fte
                    * draws_of(f"{prefix}.addressable_share")
                    * draws_of(f"{prefix}.recovered_fraction")
                )
                hours[:, :, p, g] = full[:, None] * additional[:, :, p]
        total = hours[:, :, :, g].sum(axis=-1)
        available = (fte * per_fte * draws_of(f"staff_groups.{gid}.max_release_share"))[:, None]
        capped[:, :, g] = total > available
        with np.errstate(divide="ignore", invalid="ignore"):
            scale = np.where(capped[:, :, g], available / total, 1.0)
        hours[:, :, :, g] *= scale[:, :, None]

    cost = np.stack([draws_of(f"staff_groups.{gid}.cost_per_hour") for gid in groups], -1)
    staff_value = (hours * cost[:, None, None, :]).sum(axis=-1)
    leakage, used = risk("social_care_leakage"), risk("released_time_used")
    cash, redeployed, patient = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for p, pid in enumerate(programmes):

        def get(name: str, pid: str = pid) -> np.ndarray:
            return draws_of(f"programmes.{pid}.{name}")[:, None]

        kept = 1.0 - get("social_care_share") * leakage[:, None]
        time_value = staff_value[:, :, p] * used[:, None] * kept
        cashed = time_value * get("cashed_share")
        cash[:, :, p] = cashed + get("non_staff_savings") * additional[:, :, p]
        redeployed[:, :, p] = time_value - cashed
        patient[:, :, p] = (
            get("patients.contacts_per_year")
            * (1.0 - exclusion)
            * additional[:, :, p]
            * get("patients.value_per_contact")
            * kept
        )
    value = cash + redeployed + patient

    short = float(scenario.discount_rate.distribution.mean())
    long = float(scenario.long_term_discount_rate.distribution.mean())

    def discount_factors(count: int) -> np.ndarray:
        """Green Book: the discount rate for years 0 to 30, the long-term rate from year 31."""
        return np.array([(1 + short) ** -min(t, 30) * (1 + long) ** -max(t - 30, 0) for t in range(count)])

    factors = discount_factors(n_year)
    lives = [float(scenario.programmes[pid].residual_life.distribution.mean()) for pid in programmes]
    assert all(life == int(life) for life in lives), "model_v2 counts residual life in whole years"
    after = discount_factors(n_year + int(max(lives, default=0)))[n_year:]
    annuity = np.array([after[: int(life)].sum() for life in lives])
    last = value[:, -1, :] - running[:, -1, :]
    residual = (np.where((annuity > 0) & (last > 0), last, 0.0) * annuity).sum(axis=-1)

    def pv(flow: np.ndarray) -> np.ndarray:
        return (flow.sum(axis=-1) * factors).sum(axis=-1)

    pv_benefits = pv(cash) + pv(redeployed) + pv(patient) + residual
    pv_costs = pv(spend) + pv(running)
    with np.errstate(divide="ignore", invalid="ignore"):
        bcr = np.where(pv_costs > 0.0, pv_benefits / pv_costs, 0.0)
    return {
        "raid": raid,
        "spend": spend,
        "running_cost": running,
        "funding_adequacy": adequacy,
        "uptake": uptake,
        "additional_uptake": additional,
        "hours_released": hours,
        "hours_capped": capped,
        "value": value,
        "cash_releasing_value": cash,
        "non_cash_releasing_value": redeployed,
        "patient_value": patient,
        "net_benefit": value - spend - running,
        "cumulative_value": np.cumsum(value.sum(axis=-1), axis=1),
        "pv_capital_cost": pv(spend),
        "pv_running_cost": pv(running),
        "pv_cash_releasing": pv(cash),
        "pv_non_cash_releasing": pv(redeployed),
        "pv_patient": pv(patient),
        "pv_residual_value": residual,
        "pv_benefits": pv_benefits,
        "pv_costs": pv_costs,
        "npv": pv_benefits - pv_costs,
        "bcr": bcr,
    }


def assert_matches_model(ds: Any, scenario: Scenario, rtol: float = 1e-12) -> None:
    """Every output of the run equals :func:`model_v2` on the run's own inputs, draw by draw.

    Floats to ``rtol`` of the variable's largest magnitude (net benefit and NPV can
    cross zero), booleans exactly, and every output the kernel writes is compared.
    """
    expected = model_v2(scenario, ds)
    from nhsrisk.simulation import OUTPUTS  # here: the helpers above need no simulation machinery

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


# ---------------------------------------------------------------------------------
# Scenarios of any shape
# ---------------------------------------------------------------------------------


def wide_scenario(n_programmes: int, n_years: int, base: Scenario | None = None) -> Scenario:
    """``n_programmes`` programmes over ``n_years`` years from 2025/26, copied from ``base``'s strands.

    Programme ``i`` copies strand ``i mod 3`` of ``base`` (the default scenario)
    with an equal share of its planned spend, kept in the strand's own years (the
    first three). The deflator is extended at 2% a year past its last year, the
    default's own long-run assumption; correlations and budget changes are dropped
    (they name the base's programmes).
    """
    import copy

    from nhsrisk.scenario import dumps_toml, load_scenario

    data = copy.deepcopy((base or load_scenario()).to_dict())
    data.pop("correlations", None)
    data.pop("budget_changes", None)
    data.pop("baseline", None)
    years = [f"{y}/{(y + 1) % 100:02d}" for y in range(2025, 2025 + n_years)]
    deflator = data["deflator"]
    while deflator["years"][-1] != years[-1] and len(deflator["years"]) < n_years + 50:
        first = int(deflator["years"][-1][:4]) + 1
        deflator["years"].append(f"{first}/{(first + 1) % 100:02d}")
        deflator["index"].append(deflator["index"][-1] * 1.02)
    templates = list(data["programmes"].values())
    programmes = {}
    for i in range(n_programmes):
        template = copy.deepcopy(templates[i % len(templates)])
        copies = len(range(i % len(templates), n_programmes, len(templates)))
        values = template["spend"]["values"]
        template["spend"] = {
            "values": [(values[t] if t < len(values) else 0.0) / copies for t in range(n_years)],
            "source": f"test: 1/{copies} of the strand's planned spend",
        }
        if not any(template["spend"]["values"]):  # a one- or two-year scenario before the strand's spend
            template["spend"]["values"][0] = sum(values) / copies
        template["label"] = f"Programme {i}"
        programmes[f"programme_{i:03d}"] = template
    data.update(
        programmes=programmes,
        years=years,
        name=f"wide-{n_programmes}x{n_years}",
        title=f"{n_programmes} programmes over {n_years} years",
    )
    data["target"].pop("year", None)
    return Scenario.from_toml(dumps_toml(data), file=f"<wide {n_programmes}x{n_years}>")
