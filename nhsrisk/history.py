"""The delivery record shipped with nhsrisk, and what it says about the default uptake priors.

Four small CSV files in ``nhsrisk/data/observations/`` hold the published
history that the default scenario's uptake curves describe, one row a
figure, each with its source and a confidence code (the codes of the
project's data sheet: ``P`` official or primary, ``S`` a secondary report
quoting a primary, ``D`` derived here by arithmetic, ``A`` untraced):

* ``epr_coverage``: share of NHS trusts with an electronic patient record,
  Jun 2022 to Mar 2026, by measure (at NHS England's standard, any EPR, live
  or procuring), with the targets;
* ``nhs_app``: NHS App registrations, repeat prescriptions and logins;
* ``ai_scribes``: surveys of GPs using generative AI and ambient scribes;
* ``digital_capital``: Frontline Digitisation money and the recorded cuts.

:func:`load_history` reads one as a :class:`pandas.DataFrame`.
:func:`steepness_evidence` turns the series into logistic rates per year
(the unit of ``uptake_steepness``) and :func:`uptake_prior_check` sets them
against a scenario's steepness priors, programme by programme.

The history precedes the appraisal: it measures earlier programmes
(Frontline Digitisation, the NHS App's first years), not the 2025/26 money.
It informs the *shape* of the uptake priors (how fast national digital
roll-outs spread, how far they get), which is what is checked here. To
update a run with what 2025/26 itself delivered, state observations on the
model's outputs and call :func:`nhsrisk.update`.
"""

from __future__ import annotations

import importlib.resources
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.special
from numpy.typing import ArrayLike

from nhsrisk._validate import _message
from nhsrisk.scenario import DEFAULT_SCENARIO, Scenario, load_scenario

__all__ = [
    "HISTORY_SERIES",
    "SCurveFit",
    "fit_s_curve",
    "load_history",
    "steepness_evidence",
    "uptake_prior_check",
]

#: The series shipped with nhsrisk and what each holds.
HISTORY_SERIES: dict[str, str] = {
    "epr_coverage": "Share of NHS trusts with an electronic patient record, by measure, Jun 2022 to Mar 2026",
    "nhs_app": "NHS App registrations (million), repeat prescriptions and logins (million a month)",
    "ai_scribes": "Share of GPs using generative AI or ambient scribes, from surveys, 2025-2026",
    "digital_capital": "Frontline Digitisation money and recorded cuts to NHS technology capital (GBP, cash)",
}

#: Confidence codes of the data sheet the rows come from.
CONFIDENCE_CODES = {
    "P": "official or primary",
    "S": "secondary report quoting a primary",
    "D": "derived here by arithmetic",
    "A": "untraced: an assumption only",
}

#: Adults in England implied by 33.6m NHS App registrations being 75% of adults (HTN, Mar 2024).
APP_ADULTS_MILLION = 33.6 / 0.75

#: Rows that are not outturns: kept for context, never fitted.
_NOT_OUTTURN = ("forecast", "target", "plan", "untraced")


def load_history(series: str) -> pd.DataFrame:
    """Read one series of the delivery record shipped with nhsrisk.

    Parameters
    ----------
    series : str
        One of :data:`HISTORY_SERIES`: ``"epr_coverage"``, ``"nhs_app"``,
        ``"ai_scribes"`` or ``"digital_capital"``.

    Returns
    -------
    pandas.DataFrame
        One row a published figure. Every series has ``measure``, ``status``
        (``outturn``, ``derived``, ``forecast``, ``target``, ``plan`` or
        ``untraced``), ``source``, ``confidence`` (a key of
        :data:`CONFIDENCE_CODES`) and ``note``; dated series have ``date``
        (datetime64) and ``digital_capital`` has ``financial_year``. Shares are
        fractions (0-1); ``nhs_app.value`` is in the unit of its ``unit``
        column; money is GBP in cash terms.

    Raises
    ------
    ValueError
        If ``series`` is not one of the shipped series.

    Examples
    --------
    >>> epr = load_history("epr_coverage")
    >>> first = epr[epr.measure == "any_epr"].iloc[0]
    >>> f"{first.date:%b %Y}: {first.share:.1%} of trusts ({first.status})"
    'Jun 2022: 85.8% of trusts (derived)'
    """
    if not isinstance(series, str) or series not in HISTORY_SERIES:
        raise ValueError(_message("series", "load_history", f"one of {sorted(HISTORY_SERIES)}", series))
    resource = importlib.resources.files("nhsrisk") / "data" / "observations" / f"{series}.csv"
    with resource.open("r", encoding="utf-8") as handle:
        frame = pd.read_csv(
            handle, keep_default_na=False, na_values={"trusts_meeting": [""], "trusts_total": [""]}
        )
    if "date" in frame.columns:
        frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d")
    return frame


@dataclass(frozen=True)
class SCurveFit:
    """A logistic S-curve ``ceiling / (1 + exp(-steepness * (t - midpoint)))`` fitted to a series.

    Attributes
    ----------
    ceiling : float
        Level approached (same units as the data; fixed when given to the fit).
    midpoint : float
        Time at half the ceiling, in decimal years (e.g. 2021.8).
    steepness : float
        Logistic rate per year, the unit of ``uptake_steepness``.
    steepness_low, steepness_high : float
        95% interval of the steepness from the least-squares fit (Student t
        with the residual degrees of freedom; ``nan`` when there are none).
    points : int
        Number of points fitted.
    """

    ceiling: float
    midpoint: float
    steepness: float
    steepness_low: float
    steepness_high: float
    points: int


def decimal_year(dates: Sequence[str] | Sequence[pd.Timestamp] | pd.Series) -> np.ndarray:
    """Return dates as decimal calendar years (2022-07-01 is about 2022.5)."""
    stamps = pd.to_datetime(pd.Series(dates))
    start = pd.to_datetime(stamps.dt.year.astype(str) + "-01-01")
    days = np.where(stamps.dt.is_leap_year, 366.0, 365.0)
    return np.asarray(stamps.dt.year + (stamps - start).dt.days / days, dtype=float)


def fit_s_curve(times: ArrayLike, values: ArrayLike, *, ceiling: float | None = None) -> SCurveFit:
    """Fit the model's logistic uptake curve to a short series by least squares on the logit scale.

    Parameters
    ----------
    times : sequence of float
        Decimal years (see :func:`decimal_year`).
    values : sequence of float
        Levels in (0, ceiling): shares, or counts with a ceiling in the same units.
    ceiling : float, optional
        Fix the ceiling (for example 1.0 for a share of trusts). Without it the
        ceiling is fitted too, on the original scale, which needs at least four
        points.

    Returns
    -------
    SCurveFit

    Examples
    --------
    >>> fit = fit_s_curve([2020.0, 2021.0, 2022.0], [0.2, 0.5, 0.8], ceiling=1.0)
    >>> round(fit.steepness, 3), round(fit.midpoint, 3)
    (1.386, 2021.0)
    """
    # imported here, not at the top: scipy.stats and scipy.optimize add about 0.5 s to
    # ``import nhsrisk``, and only these fits need them
    import scipy.optimize
    import scipy.stats

    t = np.asarray(times, dtype=float)
    y = np.asarray(values, dtype=float)
    caller = "fit_s_curve"
    if t.ndim != 1 or t.shape != y.shape or not np.isfinite(t).all() or not np.isfinite(y).all():
        raise ValueError(_message("values", caller, "finite 1-D times and values of the same length", values))
    if ceiling is not None:
        if not (np.isfinite(ceiling) and ceiling > 0 and (y > 0).all() and (y < ceiling).all()):
            raise ValueError(
                _message("ceiling", caller, "a level above every value (values above 0)", ceiling)
            )
        if t.size < 2:
            raise ValueError(_message("values", caller, "at least 2 points with a fixed ceiling", values))
        # logit(y / ceiling) = steepness * t - steepness * midpoint: a straight line
        z = scipy.special.logit(y / ceiling)
        # one least-squares line gives the slope, the intercept and (with 3+ points) its error
        line = scipy.stats.linregress(t, z)
        slope, intercept = float(line.slope), float(line.intercept)
        dof = t.size - 2
        low = high = math.nan
        if dof > 0:
            half = float(scipy.stats.t.ppf(0.975, dof)) * float(line.stderr)
            low, high = slope - half, slope + half
        return SCurveFit(float(ceiling), -intercept / slope, slope, low, high, int(t.size))
    if t.size < 4:
        raise ValueError(_message("values", caller, "at least 4 points when the ceiling is fitted", values))

    def curve(x: np.ndarray, top: float, middle: float, rate: float) -> np.ndarray:
        return np.asarray(top * scipy.special.expit(rate * (x - middle)))

    start = (1.1 * float(y.max()), float(np.median(t)), 1.0)
    params, covariance = scipy.optimize.curve_fit(curve, t, y, p0=start, maxfev=20_000)
    dof = t.size - 3
    half = float(scipy.stats.t.ppf(0.975, dof)) * math.sqrt(float(covariance[2, 2])) if dof > 0 else math.nan
    top, middle, rate = (float(p) for p in params)
    return SCurveFit(top, middle, rate, rate - half, rate + half, int(t.size))


def _two_point_rate(first: float, second: float, years: float) -> float:
    """Logistic rate through two shares of a ceiling of 1, per year."""
    return float((scipy.special.logit(second) - scipy.special.logit(first)) / years)


def steepness_evidence() -> pd.DataFrame:
    """Logistic rates per year implied by the delivery record, each with how it was obtained.

    Rates are in the unit of ``uptake_steepness`` (per year). Three kinds:
    a *fit* of the logistic curve to outturns (with a 95% interval), a
    *two-point* rate through two figures (no interval; one figure may be a
    target or come from another survey, as the ``basis`` says), and a
    *lower bound*: the growth rate of a use measure, ``d ln u / dt``, which
    for a logistic curve is ``steepness * (1 - u / ceiling)`` and so never
    above the steepness.

    Returns
    -------
    pandas.DataFrame
        Columns ``evidence``, ``programme`` and ``parameter`` (the default
        scenario's programme and the steepness it bears on:
        ``uptake_steepness``, the funded path, or ``do_minimum_steepness``,
        spread without this money), ``kind`` (``fit``, ``two-point`` or
        ``lower bound``), ``rate``, ``low``, ``high`` (per year; ``nan`` where
        there is no interval), ``period`` and ``basis``.

    Examples
    --------
    >>> evidence = steepness_evidence()
    >>> row = evidence.set_index("evidence").loc["EPR at NHS England's standard"]
    >>> round(float(row.rate), 2), row.kind
    (0.59, 'two-point')
    """
    rows: list[dict[str, object]] = []
    epr = load_history("epr_coverage")
    standard = epr[epr.measure == "nhse_epr_standard"].iloc[0]
    core_target = epr[epr.measure == "nhse_epr_core_level"].iloc[0]
    years = float(np.diff(decimal_year([standard.date, core_target.date]))[0])
    rows.append(
        {
            "evidence": "EPR at NHS England's standard",
            "programme": "it_modernisation",
            "kind": "two-point",
            "rate": _two_point_rate(standard.share, core_target.share, years),
            "period": "Jun 2022 to Mar 2026",
            "basis": "20% of trusts at the standard (outturn) to the target of 70% at the core level: "
            "the rate if the target is met",
        }
    )
    any_epr = epr[(epr.measure == "any_epr") & ~epr.status.isin(_NOT_OUTTURN)]
    fit = fit_s_curve(decimal_year(any_epr.date), any_epr.share.to_numpy(), ceiling=1.0)
    rows.append(
        {
            "evidence": "Any EPR (the last trusts)",
            "programme": "it_modernisation",
            "kind": "fit",
            "rate": fit.steepness,
            "low": fit.steepness_low,
            "high": fit.steepness_high,
            "period": "Jun 2022 to Feb 2025",
            "basis": f"{fit.points} outturns from 86% to 91% of trusts, ceiling 1: the laggard tail",
        }
    )
    app = load_history("nhs_app")
    registrations = app[(app.measure == "registrations") & ~app.status.isin(_NOT_OUTTURN)]
    fit = fit_s_curve(decimal_year(registrations.date), registrations.value.to_numpy() / APP_ADULTS_MILLION)
    rows.append(
        {
            "evidence": "NHS App registrations",
            "programme": "patient_services",
            "kind": "fit",
            "rate": fit.steepness,
            "low": fit.steepness_low,
            "high": fit.steepness_high,
            "period": "May 2021 to May 2024",
            "basis": f"{fit.points} outturns as a share of adults, ceiling fitted ({fit.ceiling:.0%}): "
            "growth under the COVID Pass shock",
        }
    )
    for measure, label in (
        ("repeat_prescriptions", "NHS App repeat prescriptions"),
        ("logins", "NHS App logins"),
    ):
        used = app[(app.measure == measure) & ~app.status.isin(_NOT_OUTTURN)].sort_values("date")
        first, last = used.iloc[0], used.iloc[-1]
        span = float(np.diff(decimal_year([first.date, last.date]))[0])
        rows.append(
            {
                "evidence": label,
                "programme": "patient_services",
                "kind": "lower bound",
                "rate": math.log(last.value / first.value) / span,
                "period": f"{first.date:%b %Y} to {last.date:%b %Y}",
                "basis": f"{first.value:g} to {last.value:g} {first.unit}: growth rate of use, "
                "at most the steepness",
            }
        )
    scribes = load_history("ai_scribes")
    early = scribes[scribes.measure == "gps_using_ambient_scribes"].iloc[0]
    late = scribes[scribes.measure == "gps_using_ai_scribes"].iloc[0]
    span = float(np.diff(decimal_year([early.date, late.date]))[0])
    rows.append(
        {
            "evidence": "GPs using AI scribes",
            "programme": "staff_technology",
            "parameter": "do_minimum_steepness",
            "kind": "two-point",
            "rate": _two_point_rate(early.share, late.share, span),
            "period": f"{early.date:%b %Y} to {late.date:%b %Y}",
            "basis": f"{early.share:.0%} to {late.share:.0%} of GPs in two different surveys (convenience "
            "samples), ceiling 1: self-funded spread",
        }
    )
    columns = ["evidence", "programme", "parameter", "kind", "rate", "low", "high", "period", "basis"]
    frame = pd.DataFrame(rows, columns=columns).fillna({"parameter": "uptake_steepness"})
    return frame.astype({"rate": float, "low": float, "high": float})


def uptake_prior_check(scenario: Scenario | str | None = None) -> pd.DataFrame:
    """Set each programme's steepness priors against the rates the delivery record implies.

    Parameters
    ----------
    scenario : Scenario or str, optional
        A scenario or the name or path of one; the default scenario when omitted.

    Returns
    -------
    pandas.DataFrame
        :func:`steepness_evidence` with, for the programme and parameter each
        row bears on, the prior's 5% and 95% quantiles (``prior_5``, ``prior_95``, per
        year) and ``prior_share_below``: the prior probability of a
        steepness below the evidence's rate (for a lower bound, the prior
        probability it rules out). ``verdict`` reads ``within`` when that
        probability is between 5% and 95%, and ``below the prior's 90%
        range`` or ``above the prior's 90% range`` otherwise; for a lower
        bound, ``consistent`` unless the prior puts more than 5% below it.
        ``attrs["scenario"]`` names the scenario and ``attrs["price_base"]`` gives its prices.

    Examples
    --------
    >>> check = uptake_prior_check()
    >>> sorted(set(check.programme))
    ['it_modernisation', 'patient_services', 'staff_technology']
    """
    if scenario is None:
        scenario = DEFAULT_SCENARIO
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    evidence = steepness_evidence()
    evidence = evidence[evidence.programme.isin(list(scenario.programmes))].reset_index(drop=True)
    low, high, below, verdict = [], [], [], []
    for row in evidence.itertuples():
        prior = getattr(scenario.programmes[str(row.programme)], str(row.parameter)).distribution
        low.append(float(prior.ppf(0.05)))
        high.append(float(prior.ppf(0.95)))
        share = float(prior.to_scipy().cdf(row.rate))  # to_scipy imports scipy.stats itself
        below.append(share)
        if row.kind == "lower bound":
            verdict.append("consistent" if share <= 0.05 else "prior puts mass below it")
        else:
            inside = 0.05 <= share <= 0.95
            verdict.append(
                "within" if inside else ("below" if share < 0.05 else "above") + " the prior's 90% range"
            )
    checked = evidence.assign(prior_5=low, prior_95=high, prior_share_below=below, verdict=verdict)
    checked.attrs["scenario"] = scenario.name
    checked.attrs["price_base"] = scenario.price_base
    return checked
