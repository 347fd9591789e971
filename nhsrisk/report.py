"""A one-page HTML briefing of a run: ``nhsrisk report`` and ``nhsrisk run --report``.

:func:`render_report` turns a results Dataset into one self-contained HTML
page, the briefing an analyst sends a director: the verdict in numbers, the
headline table of :func:`nhsrisk.summary`, the fan chart, exceedance curve,
waterfall and tornado (PNG images embedded as ``data:`` URIs), the scenario
with every figure, its source and whether it is an assumption, and short
method notes. :func:`write_report` writes it atomically. The page loads
nothing from anywhere (no scripts, fonts or stylesheets from the web) and
has a print stylesheet (A4).

Every number on the page is computed from the results (and from the
scenario stored in them); no figure is typed into the text.

Which figures are assumptions: a scenario's ``source`` is a citation or
``"assumption: <reasoning>"`` (:attr:`nhsrisk.Quantity.is_assumption`). The
report flags a figure *assumption* when its source starts with that word,
*partly assumed* when the source cites a publication but names part of the
figure an assumption (such as a published total with an assumed yearly
profile), and *published* otherwise.
"""

from __future__ import annotations

import base64
import datetime
import html
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import xarray as xr

from nhsrisk._format import FIGURE_RESOLUTION, money_unit, ordinal, percent, significant
from nhsrisk._validate import _message, refuse_weighted
from nhsrisk._version import __version__
from nhsrisk.experiments import tornado as compute_tornado
from nhsrisk.experiments import waterfall as compute_waterfall
from nhsrisk.io import open_results, run_results_file, write_atomically
from nhsrisk.scenario import LONG_TERM_FROM_YEAR, Scenario, scenario_from_attrs
from nhsrisk.stats import SummaryDataset, _probability_text, cap_binding, equity, has_segments, summary

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "REPORT_FILE",
    "WATERFALL_DRAWS",
    "render_report",
    "source_basis",
    "write_report",
]

#: File name of the report in a run's folder (``nhsrisk run --report``, ``nhsrisk report FOLDER``).
REPORT_FILE = "report.html"
#: Draws of the waterfall the report computes when it is not given one (at most the run's own draws),
#: as ``nhsrisk run`` does for waterfall.png: its 135 runs share common random numbers, so its steps
#: are precise long before its levels are.
WATERFALL_DRAWS = 5_000
#: Inputs shown in the report's tornado chart: the largest swings.
TORNADO_TOP = 10
_BASES = ("published", "partly assumed", "assumption")


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def source_basis(source: str) -> Literal["published", "partly assumed", "assumption"]:
    """Say whether a scenario figure rests on a publication or on an assumption, from its source.

    Parameters
    ----------
    source : str
        The ``source`` of a scenario figure: a citation, or
        ``"assumption: <reasoning>"`` (the scenario format's convention).

    Returns
    -------
    {"published", "partly assumed", "assumption"}
        ``"assumption"`` when the source starts with the word (as
        :attr:`nhsrisk.Quantity.is_assumption` reads it); ``"partly assumed"``
        when it cites a source but names part of the figure an assumption
        (the word appears later, as in "the yearly profile is an
        assumption"); ``"published"`` otherwise.

    Examples
    --------
    >>> source_basis("assumption: as for GPs")
    'assumption'
    >>> source_basis("Spring Budget 2024: £1.0bn. The yearly profile is an assumption")
    'partly assumed'
    >>> source_basis("HM Treasury Green Book (2022)")
    'published'
    """
    if not isinstance(source, str):
        raise TypeError(_message("source", "source_basis", "a str", source))
    text = source.strip().lower()
    if text.startswith("assumption"):
        return "assumption"
    if "assumption" in text or "assumed" in text:
        return "partly assumed"
    return "published"


def render_report(
    ds: xr.Dataset,
    *,
    waterfall: xr.Dataset | None = None,
    tornado: xr.Dataset | None = None,
    comparison: xr.Dataset | None = None,
) -> str:
    """Render a run as a one-page, self-contained HTML briefing.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of :func:`nhsrisk.simulate`, or reopened with
        :func:`nhsrisk.open_results`. It needs the per-draw outputs ``npv``,
        ``bcr`` (and reports the ``pv_*`` present values it holds),
        ``cumulative_value`` (year, draw; GBP), ``claimed_return`` (GBP) and
        the scenario stored in ``attrs["scenario"]``; for a scenario with
        population segments also ``contact_weighted_exclusion``,
        ``pv_patient_by_quintile``, ``pv_patient_by_age_band``,
        ``people_by_quintile`` and ``people_by_age_band`` when present (a fifth
        figure: who gains). The other variables are not read, so a results
        file holding only these is enough.
    waterfall : xarray.Dataset, optional
        Output of :func:`nhsrisk.waterfall` for the same scenario. Default:
        computed from the scenario stored in ``ds`` with the run's seed and
        ``min(n_draws, WATERFALL_DRAWS)`` draws (about 2 s).
    tornado : xarray.Dataset, optional
        Output of :func:`nhsrisk.tornado` for the same scenario. Default:
        computed with its defaults (the NPV, each input at its 10th and
        90th percentile with the others at their medians; no draws).
    comparison : xarray.Dataset, optional
        Output of :func:`nhsrisk.budget_change_effect` of this run against
        its baseline: shown as a table of the change, in total and per GBP
        of budget change.

    Returns
    -------
    str
        The HTML document (UTF-8 text), about 0.6 MB with its four images (five for a
        scenario with population segments: who gains, by deprivation quintile).

    Raises
    ------
    TypeError
        If ``ds``, ``waterfall``, ``tornado`` or ``comparison`` is not a Dataset.
    ValueError
        If ``ds`` holds no stored scenario or lacks a variable the summary
        needs, or ``waterfall``, ``tornado`` or ``comparison`` is not the
        result it should be, or belongs to another scenario.

    See Also
    --------
    write_report : the same, written to a file atomically.

    Examples
    --------
    >>> import nhsrisk
    >>> from nhsrisk.report import render_report
    >>> ds = nhsrisk.simulate(draws=500, seed=1)
    >>> wf = nhsrisk.waterfall(draws=500, seed=1, groups=["budget raids"], progress=False)
    >>> page = render_report(ds, waterfall=wf)
    >>> page.startswith("<!DOCTYPE html>"), page.count("<img "), "http" in page  # with who gains
    (True, 5, False)
    """
    caller = "render_report"
    if not isinstance(ds, xr.Dataset):
        raise TypeError(_message("ds", caller, "an xarray Dataset of nhsrisk results", type(ds).__name__))
    refuse_weighted(
        ds,
        caller,
        "its waterfall and tornado re-simulate the scenario, so they would set the forecast before the "
        "update beside weighted headline figures; `nhsrisk update` writes the updated summary and figures",
    )
    if not isinstance(ds.attrs.get("scenario"), str) or "seed" not in ds.attrs:
        raise ValueError(
            _message(
                "ds",
                caller,
                "nhsrisk results, whose attrs hold the scenario's TOML text ('scenario') and the 'seed'",
                f"a Dataset with attrs {sorted(ds.attrs)}",
            )
        )
    scenario = scenario_from_attrs(ds.attrs)
    sha = scenario.sha256()
    waterfall = _check_result(waterfall, "waterfall", caller, ("level", "change"), sha)
    tornado = _check_result(tornado, "tornado", caller, ("output_low", "output_high", "swing"), sha)
    comparison = _check_result(comparison, "comparison", caller, ("change", "per_gbp", "budget_change"), None)
    table = summary(ds)
    n_draws = int(ds.sizes["draw"])
    seed = int(ds.attrs["seed"])
    if waterfall is None:
        waterfall = compute_waterfall(
            scenario, draws=min(n_draws, WATERFALL_DRAWS), seed=seed, progress=False
        )
    if tornado is None:
        tornado = compute_tornado(scenario)
    figures = _figures(ds, table, waterfall, tornado)
    body = [
        _header(ds, scenario, n_draws),
        _verdict(table, waterfall, tornado, comparison, scenario.baseline),
        _headline(table, cap_binding(ds) if "hours_capped" in ds.data_vars else None),
        _comparison(comparison) if comparison is not None else "",
        _figure_section(figures),
        _method(ds, scenario, n_draws, waterfall, tornado),
        _scenario_section(scenario),
        _footer(ds, scenario, n_draws),
    ]
    title = f"nhsrisk briefing: {scenario.title}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en-GB">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="nhsrisk {html.escape(__version__)}">\n'
        f"<title>{html.escape(title)}</title>\n<style>\n{_CSS}{_headline_css(table)}</style>\n</head>\n"
        f"<body>\n<main>\n{''.join(body)}</main>\n</body>\n</html>\n"
    )


def write_report(
    results: xr.Dataset | str | os.PathLike[str],
    path: str | os.PathLike[str] | None = None,
    *,
    waterfall: xr.Dataset | None = None,
    tornado: xr.Dataset | None = None,
    comparison: xr.Dataset | None = None,
    overwrite: bool = False,
) -> Path:
    """Write the HTML briefing of a run to a file, all or nothing.

    Parameters
    ----------
    results : xarray.Dataset or str or path-like
        A results Dataset (as in :func:`render_report`), or where saved
        results are: an ``nhsrisk run`` output folder (its ``results.nc``
        is read, and its ``waterfall.nc`` when it has one), or a results
        file written by :func:`nhsrisk.save_results` (``.nc`` or ``.zarr``).
    path : str or path-like, optional
        The HTML file to write; its folder must exist. Required when
        ``results`` is a Dataset. Default for a folder: ``report.html`` in it;
        for a results file: the file's name with the suffix ``.html``.
    waterfall, tornado, comparison : xarray.Dataset, optional
        As in :func:`render_report`.
    overwrite : bool, default=False
        Replace an existing file at ``path``.

    Returns
    -------
    pathlib.Path
        The file written. It is written to a hidden temporary file beside
        ``path`` and renamed into place, so it is never seen half-written.

    Raises
    ------
    FileNotFoundError
        If ``results`` names nothing, or a folder without ``results.nc``.
    FileExistsError
        If ``path`` exists and ``overwrite`` is False (nothing is computed).
    ValueError
        If the saved results cannot be read or are incomplete, or as
        :func:`render_report`.

    Examples
    --------
    >>> import pathlib, tempfile, nhsrisk
    >>> ds = nhsrisk.simulate(draws=500, seed=1)
    >>> wf = nhsrisk.waterfall(draws=500, seed=1, groups=["budget raids"], progress=False)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     written = write_report(ds, pathlib.Path(folder) / "brief.html", waterfall=wf)
    ...     print(written.name, written.read_text(encoding="utf-8")[:15])
    brief.html <!DOCTYPE html>
    """
    caller = "write_report"
    if not isinstance(overwrite, bool):
        raise TypeError(_message("overwrite", caller, "True or False", overwrite))
    if isinstance(results, xr.Dataset):
        if path is None:
            raise ValueError(_message("path", caller, "given when results is a Dataset", path))
        target = _check_target(path, overwrite, caller)
        page = render_report(results, waterfall=waterfall, tornado=tornado, comparison=comparison)
        return _write(target, page, overwrite)
    if not isinstance(results, str | os.PathLike):
        raise TypeError(
            _message("results", caller, "a results Dataset, or the path of saved results", type(results))
        )
    source = Path(results)
    results_file = run_results_file(source)
    if results_file != source:  # the folder of an nhsrisk run
        default = source / REPORT_FILE
        stored_waterfall = source / "waterfall.nc"
    else:
        default, stored_waterfall = source.with_suffix(".html"), None
    target = _check_target(default if path is None else path, overwrite, caller)
    if waterfall is None and stored_waterfall is not None and stored_waterfall.is_file():
        try:
            waterfall = xr.load_dataset(stored_waterfall, engine="h5netcdf")
        except (OSError, ValueError) as err:
            raise ValueError(f"{stored_waterfall}: cannot be read as a waterfall result: {err}") from None
    with open_results(results_file, chunks=None) as ds:
        page = render_report(ds, waterfall=waterfall, tornado=tornado, comparison=comparison)
    return _write(target, page, overwrite)


# --------------------------------------------------------------------------------------------------
# Checks and writing
# --------------------------------------------------------------------------------------------------


def _check_result(
    value: Any, name: str, caller: str, needed: tuple[str, ...], sha256: str | None
) -> xr.Dataset | None:
    """Return a waterfall, tornado or comparison Dataset after checking it, or None."""
    if value is None:
        return None
    kinds = {
        "waterfall": "a Dataset from nhsrisk.waterfall or None",
        "tornado": "a Dataset from nhsrisk.tornado or None",
        "comparison": "a Dataset from nhsrisk.budget_change_effect or None",
    }
    if not isinstance(value, xr.Dataset):
        raise TypeError(_message(name, caller, kinds[name], type(value).__name__))
    missing = [variable for variable in needed if variable not in value.data_vars]
    if missing:
        raise ValueError(
            _message(
                name, caller, kinds[name], f"a Dataset without {missing} (it has {list(value.data_vars)})"
            )
        )
    stored = value.attrs.get("scenario_sha256")
    if sha256 is not None and stored is not None and stored != sha256:
        raise ValueError(
            _message(
                name,
                caller,
                f"a result for the scenario of the run ({value.attrs.get('scenario_name', '')!r} differs: "
                "its scenario_sha256 is not the run's)",
                f"scenario_sha256 {str(stored)[:12]}...",
            )
        )
    return value


def _check_target(path: Any, overwrite: bool, caller: str) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(_message("path", caller, "a str or path-like", type(path).__name__))
    target = Path(path)
    if target.exists() and not overwrite:
        raise FileExistsError(f"{target} exists: pass overwrite=True (nhsrisk report --force) to replace it")
    if target.is_dir():
        raise IsADirectoryError(f"{target} is a folder: give the path of the HTML file to write")
    if not target.parent.is_dir():
        raise FileNotFoundError(f"cannot write {target}: the folder {target.parent} does not exist")
    return target


def _write(target: Path, page: str, overwrite: bool) -> Path:
    return write_atomically(
        target, lambda temporary: temporary.write_text(page, encoding="utf-8"), overwrite=overwrite
    )


# --------------------------------------------------------------------------------------------------
# Pieces of the page
# --------------------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value))


def _money(value: float) -> str:
    """Write an amount in GBP in its own unit (£569m, £1.35bn), through the one formatting layer."""
    return money_unit(value).amount(value)


def _number(name: str, value: float, text: str) -> str:
    """Show a number in the text, carrying the exact value it was written from (for checks and copying)."""
    return f'<span class="num" data-summary="{_e(name)}" data-value="{float(value)!r}">{_e(text)}</span>'


def _claim_name(table: SummaryDataset) -> str:
    return str(table["output"].values[0])


def _quantile(table: SummaryDataset, output: str, q: float) -> float:
    return float(table["quantile_estimate"].sel(output=output, quantile=q))


def _header(ds: xr.Dataset, scenario: Scenario, n_draws: int) -> str:
    facts = [
        f"{n_draws:,} draws",
        f"seed {ds.attrs['seed']}",
        f"sampler {ds.attrs.get('sampler', 'random')}",
        f"{scenario.price_base} prices",
        _versions(ds),
        f"report written {datetime.date.today().isoformat()}",
    ]
    return (
        '<header class="masthead">'
        f'<p class="kicker">nhsrisk briefing &middot; scenario <code>{_e(scenario.name)}</code></p>'
        f"<h1>{_e(scenario.title)}</h1>"
        f'<p class="facts">{" &middot; ".join(_e(fact) for fact in facts)}</p>'
        "</header>\n"
    )


def _versions(ds: xr.Dataset) -> str:
    run = str(ds.attrs.get("nhsrisk_version", "unknown"))
    return f"nhsrisk {run}" if run == __version__ else f"run with nhsrisk {run}, report by {__version__}"


def _verdict(
    table: SummaryDataset,
    waterfall: xr.Dataset,
    tornado: xr.Dataset,
    comparison: xr.Dataset | None,
    baseline: str | None,
) -> str:
    """Write the verdict: five figures and a few sentences, every number from the summary or experiments."""
    claim = _claim_name(table)
    year = str(table.attrs["target_year"])
    target = float(table["target"])
    median = _quantile(table, claim, 0.5)
    low, high = _quantile(table, claim, 0.05), _quantile(table, claim, 0.95)
    p_target, p_mcse = float(table["p_target"]), float(table["p_target_mcse"])
    upper = float(table["p_target_upper_95"])
    draws = int(table.attrs["n_draws"])
    bcr_median = _quantile(table, "bcr", 0.5)
    npv_median = _quantile(table, "npv", 0.5)
    p_bcr, p_bcr_mcse = float(table["p_bcr_below_1"]), float(table["p_bcr_below_1_mcse"])
    reached = int(round(p_target * draws))
    if reached == 0:
        reach_note = f"no draw of {draws:,}; below {percent(upper)} at 95% confidence"
    else:
        reach_note = f"± {percent(p_mcse, 2)} Monte Carlo error"
    cards = [
        (_number("median_value", median, _money(median)), f"Median cumulative value by {year}", "median"),
        (_number("target", target, _money(target)), "Claimed return", f"due by {year}"),
        (
            _number("p_target", p_target, percent(p_target, resolution=FIGURE_RESOLUTION)),
            "Probability of reaching the claim",
            reach_note,
        ),
        (
            _number("median_bcr", bcr_median, significant(bcr_median, 3)),
            "Median benefit-cost ratio",
            "appraisal period",
        ),
        (
            _number("p_bcr_below_1", p_bcr, percent(p_bcr, resolution=FIGURE_RESOLUTION)),
            "Probability the ratio is below 1",
            f"± {percent(p_bcr_mcse, 2)} Monte Carlo error",
        ),
    ]
    card_html = "".join(
        f'<div class="card"><div class="card-value">{value}</div><div class="card-label">{_e(label)}</div>'
        f'<div class="card-note">{_e(note)}</div></div>'
        for value, label, note in cards
    )
    share = median / target if target else float("nan")
    if reached == 0:
        reach = (
            f"No draw of {draws:,} reaches the claim: the probability is at most "
            f"{_e(percent(upper))} (one-sided 95% bound)."
        )
    elif reached == draws:
        reach = f"Every one of the {draws:,} draws reaches the claim."
    else:
        reach = (
            f"The claim is reached with probability {_e(_probability_text(p_target, p_mcse, draws, upper))} "
            f"({reached:,} of {draws:,} draws)."
        )
    claim_window, appraisal = str(table.attrs["claim_window"]), str(table.attrs["appraisal_period"])
    sentences = [
        f"<b>The claim test ({_e(claim_window)}).</b> By {_e(year)} the median cumulative value is "
        f"{_number('median_value', median, _money(median))} against the claimed "
        f"{_number('target', target, _money(target))}, "
        f"{_e(percent(share, 2))} of it; nine draws in ten lie between "
        f"{_number('p05_value', low, _money(low))} and {_number('p95_value', high, _money(high))}. {reach}",
        f"<b>Value for money ({_e(appraisal)}, discounted).</b> The median benefit-cost ratio is "
        f"{_number('median_bcr', bcr_median, significant(bcr_median, 3))} and the median NPV "
        f"{_number('median_npv', npv_median, _money(npv_median))}; the ratio is below 1 with probability "
        f"{_e(_probability_text(p_bcr, p_bcr_mcse, draws))}.",
    ]
    if comparison is not None:
        sentences.append(_comparison_sentence(comparison))
    elif baseline is not None:
        sentences.append(
            f"<b>Against <code>{_e(baseline)}</code>.</b> This scenario is a variant of "
            f"<code>{_e(baseline)}</code>; the change against it needs both runs, which "
            "<code>nhsrisk run --report</code> makes and reports here."
        )
    sentences.append(_waterfall_sentence(waterfall))
    sentences.append(_tornado_sentence(tornado))
    items = "".join(f"<li>{sentence}</li>" for sentence in sentences if sentence)
    return (
        '<section class="verdict" aria-labelledby="verdict-title">'
        '<h2 id="verdict-title">The verdict</h2>'
        f'<div class="cards">{card_html}</div><ul class="findings">{items}</ul></section>\n'
    )


def _waterfall_sentence(waterfall: xr.Dataset) -> str:
    kinds = [str(kind) for kind in waterfall["kind"].values] if "kind" in waterfall.coords else []
    steps = [str(step) for step in waterfall["step"].values]
    if "planned" not in steps or "risk" not in kinds:
        return ""
    change = np.asarray(waterfall["change"].values, dtype=float)
    level = np.asarray(waterfall["level"].values, dtype=float)
    planned = float(level[steps.index("planned")])
    realised = float(level[-1])
    risks = [i for i, kind in enumerate(kinds) if kind == "risk"]
    worst = min(risks, key=lambda i: change[i])
    statistic = str(waterfall.attrs.get("statistic", "mean"))
    horizon = str(waterfall.attrs.get("horizon", ""))
    draws = waterfall.attrs.get("n_draws")
    over = f" ({int(draws):,} draws)" if draws is not None else ""
    what = f"{horizon}, {statistic}" if horizon else statistic
    text = (
        f"<b>Where the value goes ({_e(what)}).</b> With every risk off, the planned spend would deliver "
        f"{_number('wf_planned', planned, _money(planned))}; the risks bring it to "
        f"{_number('wf_realised', realised, _money(realised))}{_e(over)}."
    )
    if change[worst] < 0:
        text += (
            f" The largest loss is <i>{_e(steps[worst])}</i>, "
            f"{_number('wf_worst', float(change[worst]), _money(float(change[worst])))}."
        )
    return text


def _tornado_sentence(tornado: xr.Dataset) -> str:
    if tornado.sizes.get("input", 0) == 0:
        return ""
    swing = np.asarray(tornado["swing"].values, dtype=float)
    top = int(np.argmax(swing))
    row = tornado.isel(input=top)
    name = str(row["input"].values)
    long_name = str(row["input_long_name"].values) if "input_long_name" in tornado.coords else ""
    output = str(tornado.attrs.get("output", "output"))
    label = "NPV" if output == "npv" else output
    units = str(tornado["output_low"].attrs.get("units", ""))
    low, high = float(row["output_low"]), float(row["output_high"])

    def shown(value: float) -> str:
        return _money(value) if units == "GBP" else significant(value, 3)

    lo_pct, hi_pct = float(tornado.attrs.get("low", 0.1)), float(tornado.attrs.get("high", 0.9))
    # the reader's label (Scenario.input_label, as the figures show it), with the key path beside it
    readable = str(row["input_label"].values) if "input_label" in tornado.coords else ""
    if readable and readable != name:
        named = f"<i>{_e(readable)}</i> (<code>{_e(name)}</code>)"
    else:
        described = f" ({_e(long_name)})" if long_name and long_name != name else ""
        named = f"<code>{_e(name)}</code>{described}"
    return (
        f"<b>The input that matters most.</b> Moved alone from its {_e(ordinal(lo_pct))} to its "
        f"{_e(ordinal(hi_pct))} percentile, {named} takes the {label} "
        f"from {_number('tornado_low', low, shown(low))} to {_number('tornado_high', high, shown(high))}."
    )


def _headline_css(table: SummaryDataset) -> str:
    """Return the CSS that gives the summary's tables of both horizons one set of column widths."""
    # One set of column widths for the tables of both horizons, each at least its widest cell in
    # either (a width on a cell of an auto-layout table is its minimum), so that their columns line up.
    header, sections = table._sections()
    widths = [max(len(label) for _, rows, _ in sections for label, _ in rows)]
    widths += [
        max(len(name), *(len(cells[i]) for _, rows, _ in sections for _, cells in rows))
        for i, name in enumerate(header)
    ]
    selector = ".headline table:has(th + th + th) tr:first-child > :nth-child"
    columns = "".join(
        f"{selector}({k}) {{ width: calc({width + 1}ch + 16px); }}\n"
        for k, width in enumerate(widths, start=1)
    )
    return columns


def _headline(table: SummaryDataset, cap: str | None) -> str:
    ordinals = [ordinal(float(q)) for q in table["quantile"].values]
    percentiles = ", ".join(ordinals[:-1]) + f" and {ordinals[-1]}" if len(ordinals) > 1 else ordinals[0]
    level = f"{100 * float(table.attrs.get('confidence', 0.95)):g}%"
    return (
        '<section class="headline" aria-labelledby="headline-title">'
        '<h2 id="headline-title">Headline figures</h2>'
        f'<div class="table-scroll">{table._repr_html_()}</div>'
        f'<p class="note">Mean ± its Monte Carlo standard error (MCSE); the {percentiles} percentiles '
        f"of the draws, each with its distribution-free {level} confidence interval (how far the percentile "
        "could move with more draws). The same table as <code>nhsrisk.summary()</code> and "
        "<code>nhsrisk run</code> print.</p>"
        + ("" if cap is None else f'<p class="note">Staff-time cap binding: {_e(cap)}.</p>')
        + "</section>\n"
    )


def _comparison(effect: xr.Dataset) -> str:
    budget = float(effect["budget_change"])
    money = money_unit(budget, effect["change"].values)
    names = [str(output) for output in effect["output"].values]
    long_names = (
        [str(name) for name in effect["output_long_name"].values]
        if "output_long_name" in effect.coords
        else names
    )

    def cell(value: float, error: float, in_money: bool) -> str:
        if not np.isfinite(value):
            return "n/a"
        if in_money:
            return f"{money.amount(value)} ± {money.amount(error, 2)}"
        return f"{significant(value, 3)} ± {significant(error, 2)}"

    rows = [
        f"<tr><th>Budget change: mean real capital spent</th>"
        f'<td class="r">{_e(cell(budget, float(effect["budget_change_mcse"]), True))}</td><td></td></tr>'
    ]
    for i, long_name in enumerate(long_names):
        row = effect.isel(output=i)
        rows.append(
            f"<tr><th>{_e(long_name)}</th>"
            f'<td class="r">{_e(cell(float(row["change"]), float(row["change_mcse"]), True))}</td>'
            f'<td class="r">{_e(cell(float(row["per_gbp"]), float(row["per_gbp_mcse"]), False))}</td></tr>'
        )
    crn = (
        "same seed and draws (common random numbers)"
        if effect.attrs.get("common_random_numbers")
        else "independent runs"
    )
    return (
        '<section class="comparison" aria-labelledby="comparison-title">'
        f'<h2 id="comparison-title">Against the baseline <code>{_e(effect.attrs.get("baseline_name", ""))}'
        "</code></h2>"
        '<table class="grid comparison-table"><thead><tr><th></th><th class="r">change ± MCSE</th>'
        '<th class="r">per GBP of budget change ± MCSE</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        f'<p class="note">Scenario minus baseline, {_e(crn)}, {int(effect.attrs.get("n_draws", 0)):,} '
        "draws: the difference of the means, and that difference per GBP of the change in capital "
        "spent.</p></section>\n"
    )


def _comparison_sentence(effect: xr.Dataset) -> str:
    """Say what the scenario gains or loses against its baseline per GBP of budget change."""
    budget = float(effect["budget_change"])
    if budget == 0.0 or not np.isfinite(budget):
        return ""
    parts = []
    for index, (name, what) in enumerate(
        (("per_gbp_value", "claim-window value"), ("per_gbp_pvb", "PV of benefits"))
    ):
        row = effect.isel(output=index)
        per_gbp, change = float(row["per_gbp"]), float(row["change"])
        moved = "gained" if change > 0 else "lost" if change < 0 else "unchanged"
        parts.append(
            f"GBP {_number(name, per_gbp, significant(abs(per_gbp), 3))} of {what} {moved} "
            f"(± {_e(significant(float(row['per_gbp_mcse']), 2))})"
        )
    direction = "less" if budget < 0 else "more"
    return (
        f"<b>Against <code>{_e(effect.attrs.get('baseline_name', 'the baseline'))}</code>.</b> Per GBP "
        f"{direction} capital spent ({_number('budget_change', budget, _money(budget))} in all): "
        f"{'; '.join(parts)}."
    )


def _figures(
    ds: xr.Dataset, table: SummaryDataset, waterfall: xr.Dataset, tornado: xr.Dataset
) -> list[tuple[str, str, str, str]]:
    """(file-like name, PNG data URI, alt text, caption) of the figures: four, and who gains with segments."""
    from nhsrisk import plot

    claim = _claim_name(table)
    year = str(table.attrs["target_year"])
    target = float(table["target"])
    median = _quantile(table, claim, 0.5)
    shown = min(TORNADO_TOP, int(tornado.sizes.get("input", 0)))
    steps = [str(step) for step in waterfall["step"].values]
    wf_draws = waterfall.attrs.get("n_draws")
    wf_over = f"{int(wf_draws):,} draws, seed {waterfall.attrs.get('seed', '')}" if wf_draws else ""
    drawings: list[tuple[str, Callable[[Axes], Any], float, str, str]] = [
        (
            "fan",
            lambda ax: plot.fan(ds, ax=ax),
            4.5,
            "Fan chart: cumulative value by financial year, median and 5-95% and 25-75% bands over the "
            f"draws, "
            f"reaching a median of {_money(median)} by {year} against the claimed {_money(target)} "
            "(horizontal line).",
            f"Cumulative value, year by year. The line is the median, the bands hold the middle half and "
            f"nine in ten of the draws; the horizontal line is the claimed {_money(target)}, due by {year}.",
        ),
        (
            "exceedance",
            lambda ax: plot.exceedance(ds, ax=ax),
            4.5,
            f"Exceedance curve: probability that the cumulative value by {year} is at least x, against x, "
            f"with the claimed {_money(target)} marked; the probability of reaching it is "
            f"{percent(float(table['p_target']))}.",
            f"How likely each level of value is by {year}: read the probability of reaching at least an "
            f"amount off the curve. The vertical line is the claim.",
        ),
        (
            "waterfall",
            lambda ax: plot.waterfall(waterfall, ax=ax),
            5.5,
            f"Waterfall: from the gross potential through {len(steps) - 2} steps (haircuts in the plan and "
            f"risks) to the realised {str(waterfall.attrs.get('statistic', 'mean'))} value, "
            f"{_money(float(waterfall['level'].values[-1]))}.",
            "Where the value goes: from the gross potential, through the haircuts built into the plan "
            "(grey), to the planned value, then what each group of risks takes (Shapley values: independent "
            f"of the order the risks are counted in){f'; {wf_over}' if wf_over else ''}.",
        ),
        (
            "tornado",
            lambda ax: plot.tornado(tornado, top=TORNADO_TOP, ax=ax),
            max(4.5, 1.5 + 0.3 * shown),
            f"Tornado chart: the {shown} inputs that move the "
            f"{str(tornado.attrs.get('output', 'output')).upper()} most, each at its low and high percentile "
            "with the others at their medians.",
            f"Which single inputs matter most for the {str(tornado.attrs.get('output', 'output')).upper()}: "
            f"each bar moves one input from its {ordinal(float(tornado.attrs.get('low', 0.1)))} to its "
            f"{ordinal(float(tornado.attrs.get('high', 0.9)))} percentile, every other input at its median "
            f"(the vertical line; the {shown} largest of {int(tornado.sizes.get('input', 0))} inputs).",
        ),
    ]
    if has_segments(ds):
        gap = equity(ds)
        ratio = significant(float(gap["most_to_least_deprived"]), 3)
        error = significant(float(gap["most_to_least_deprived_mcse"]), 1)
        exclusion = percent(float(ds["contact_weighted_exclusion"].mean()))
        drawings.append(
            (
                "equity",
                lambda ax: plot.equity(ds, ax=ax),
                4.5,
                "Bar chart: patient-channel benefit per head by deprivation quintile, most deprived first, "
                f"with 5-95% whiskers; the most deprived get {ratio} of what the least deprived get.",
                f"Who gains: the patient channel's present value per person by deprivation quintile. "
                f"{exclusion} of the contacts it could move online are made by digitally excluded people, "
                f"who are older and more deprived than average, so the most deprived fifth gets {ratio} "
                f"(± {error}) of what the least deprived fifth gets per head.",
            )
        )
    return [(name, _png(draw, height), alt, caption) for name, draw, height, alt, caption in drawings]


def _png(draw: Callable[[Axes], Any], height: float) -> str:
    """Draw a chart (:func:`nhsrisk.plot.render_png`) and return it as a PNG data URI."""
    from nhsrisk.plot import render_png

    return "data:image/png;base64," + base64.b64encode(render_png(draw, height=height)).decode("ascii")


def _figure_section(figures: list[tuple[str, str, str, str]]) -> str:
    items = "".join(
        f'<figure id="figure-{_e(name)}"><img src="{uri}" alt="{_e(alt)}" width="1050">'
        f"<figcaption><b>Figure {i}.</b> {_e(caption)}</figcaption></figure>"
        for i, (name, uri, alt, caption) in enumerate(figures, start=1)
    )
    return (
        '<section class="figures" aria-labelledby="figures-title">'
        f'<h2 id="figures-title">Figures</h2><div class="figure-grid">{items}</div></section>\n'
    )


def _method(
    ds: xr.Dataset, scenario: Scenario, n_draws: int, waterfall: xr.Dataset, tornado: xr.Dataset
) -> str:
    short = float(scenario.discount_rate.distribution.mean())
    long = float(scenario.long_term_discount_rate.distribution.mean())
    correlated = ds.attrs.get("correlated_inputs")
    n_correlated = len(correlated) if isinstance(correlated, list | tuple | np.ndarray) else 0
    wf_draws = waterfall.attrs.get("n_draws")
    notes = [
        f"<b>Monte Carlo.</b> Every uncertain figure of the scenario is drawn {n_draws:,} times "
        f"(sampler {_e(ds.attrs.get('sampler', 'random'))}, seed {_e(ds.attrs['seed'])}) and pushed "
        "through the model; each draw is one possible world, and every result is a distribution over "
        "them. Means carry their Monte Carlo standard error and percentiles a 95% confidence interval, "
        "so the precision of each figure is stated, not implied."
        + (
            f" {n_correlated} inputs are rank-correlated (Gaussian copula), as the scenario sets out."
            if n_correlated
            else ""
        ),
        "<b>Reproducible, with common random numbers.</b> Each input has its own random stream, keyed "
        "by the seed and the input's name (Philox4x32-10), so the same seed gives the same figures on "
        "any machine and thread count, and runs that change one thing share every other draw: the "
        "waterfall's runs"
        + (f" ({int(wf_draws):,} draws each)" if wf_draws else "")
        + " and a comparison with a baseline differ by the change alone, not by noise.",
        f"<b>Two horizons.</b> The claim test adds up the undiscounted value over the claim window "
        f"({_e(ds.attrs.get('claim_window', ''))}), as the claim is stated. Value for money follows the "
        f"Green Book over the appraisal period ({_e(ds.attrs.get('appraisal_period', ''))}): real terms in "
        f"{_e(scenario.price_base)} prices (GDP deflator), discounted at {short:.1%} a year "
        f"({long:.1%} from year {LONG_TERM_FROM_YEAR}), with running costs, residual value, and only "
        "benefits beyond a do-minimum path (what would have happened anyway).",
        "<b>Sensitivity.</b> The waterfall switches risks off in groups and attributes the difference "
        "by Shapley values; the tornado moves one input at a time from its "
        f"{ordinal(float(tornado.attrs.get('low', 0.1)))} to its "
        f"{ordinal(float(tornado.attrs.get('high', 0.9)))} percentile with the others at their "
        "medians (no draws; correlations not applied).",
        _left_out(scenario.population is not None),
    ]
    items = "".join(f"<li>{note}</li>" for note in notes)
    return (
        '<section class="method" aria-labelledby="method-title">'
        f'<h2 id="method-title">How these figures were made</h2><ul>{items}</ul></section>\n'
    )


def _left_out(segmented: bool) -> str:
    """Write the method note on what the model leaves out, with or without population segments."""
    if segmented:
        kept = (
            "the do-minimum's own costs, staff training and backfill, go-live dips, social care beyond a "
            "haircut on NHS benefits, health effects (QALYs) and patients' own time, harm from digital "
            "exclusion beyond the benefit it forgoes, segments other than age and deprivation, and "
            "decommissioning after the appraisal period. Dual running of non-digital routes is a cost "
            "line, and the equity-weighted NPV applies the Green Book's distributional weights "
            "(elasticity 1.3) to IMD quintiles, which are areas, not incomes: the weights are approximate."
        )
    else:
        kept = (
            "the do-minimum's own costs, staff training and backfill, dual running of non-digital routes, "
            "go-live dips, social care beyond a haircut on NHS benefits, health effects (QALYs) and "
            "patients' own time, and decommissioning after the appraisal period. Distributional weights "
            "are not applied: the scenario has no population table."
        )
    return (
        f"<b>Left out.</b> Each would change the figures, most of them downward: {kept} The nhsrisk "
        "documentation (The model: Green Book conformance, What the model leaves out) gives the "
        "equations and the detail."
    )


_BADGE_CLASS = {"published": "published", "partly assumed": "partly", "assumption": "assumed"}


def _basis_badge(basis: str) -> str:
    return f'<span class="badge {_BADGE_CLASS[basis]}">{_e(basis)}</span>'


def _badge(source: str) -> str:
    return _basis_badge(source_basis(source))


def _source_text(source: str) -> str:
    text = " ".join(source.split())
    if source_basis(text) == "assumption":
        text = text.split(":", 1)[1].strip() if ":" in text else text
    return _e(text)


def _key(key: str) -> str:
    """Let a key path break after its dots (and nowhere else) in a narrow column."""
    return ".<wbr>".join(_e(part) for part in key.split("."))


def _group_of(key: str) -> str:
    parts = key.split(".")
    if parts[0] in ("programmes", "staff_groups") and len(parts) > 1:
        return f"{parts[0].replace('_', ' ')}: {parts[1]}"
    if parts[0] in ("discount_rate", "long_term_discount_rate"):
        return "discounting"
    return parts[0]


def _scenario_section(scenario: Scenario) -> str:
    quantities = scenario.quantities()
    counts = {basis: 0 for basis in _BASES}
    for quantity in quantities.values():
        counts[source_basis(quantity.source)] += 1
    horizons = "".join(
        f"<tr><th>{_e(name)}</th><td>{_e(span)}</td><td>{_e(use)}</td></tr>"
        for name, span, use in scenario._horizon_rows()
    )
    # the years with planned spend: the build, not the ten years of the appraisal period
    spending = [
        any(programme.spend.values[t] != 0 for programme in scenario.programmes.values())
        for t in range(len(scenario.years))
    ]
    shown = max((t for t, spends in enumerate(spending) if spends), default=0) + 1
    years = "".join(f'<th class="r">{_e(year)}</th>' for year in scenario.years[:shown])
    spend_rows = "".join(
        f"<tr class='joined'><th><code>{_e(pid)}</code> <span class='sub'>{_e(programme.label)}</span></th>"
        + "".join(f'<td class="r">{value / 1e6:,.0f}</td>' for value in programme.spend.values[:shown])
        + f'<td class="r"><b>{programme.spend.total / 1e6:,.0f}</b></td></tr>'
        f'<tr><td colspan="{shown + 2}" class="source">{_badge(programme.spend.source)} '
        f"{_source_text(programme.spend.source)}</td></tr>"
        for pid, programme in scenario.programmes.items()
    )
    later = f" None after {_e(scenario.years[shown - 1])}." if shown < len(scenario.years) else ""
    spend = (
        f'<table class="grid spend"><caption>Planned spend (GBP million, cash).{later}</caption><thead>'
        f'<tr><th>programme</th>{years}<th class="r">total</th></tr></thead>'
        f"<tbody>{spend_rows}</tbody></table>"
    )
    if scenario.budget_changes:
        change_rows = "".join(
            f"<tr><td><code>{_e(c.programme)}</code></td><td>{_e(c.year)}</td>"
            f'<td class="r">{c.amount / 1e6:+,.1f}</td>'
            f'<td class="r">{c.amount * scenario.deflator.factor(c.year, scenario.price_base) / 1e6:+,.1f}'
            f"</td><td>{_badge(c.source)} {_source_text(c.source)}</td></tr>"
            for c in scenario.budget_changes
        )
        changes = (
            '<table class="grid"><caption>Budget changes (GBP million; negative is a cut)</caption>'
            f'<thead><tr><th>programme</th><th>year</th><th class="r">cash</th>'
            f'<th class="r">{_e(scenario.price_base)} prices</th><th>source</th></tr></thead>'
            f"<tbody>{change_rows}</tbody></table>"
        )
    else:
        changes = "<p>No budget changes to the announced plan.</p>"
    deflator = (
        f"<p><b>GDP deflator</b> (to {_e(scenario.price_base)} prices, {len(scenario.deflator.years)} years "
        f"from {_e(scenario.deflator.years[0])} to {_e(scenario.deflator.years[-1])}): "
        f"{_badge(scenario.deflator.source)} {_source_text(scenario.deflator.source)}</p>"
    )
    rows: list[str] = []
    group = None
    for key, quantity in quantities.items():
        here = _group_of(key)
        if here != group:
            group = here
            rows.append(f'<tr class="group"><th colspan="5">{_e(here)}</th></tr>')
        rows.append(
            f"<tr><td><code>{_key(key)}</code></td><td>{_e(quantity.distribution.describe())}</td>"
            f'<td class="r">{_e(significant(float(quantity.distribution.mean()), 4))}</td>'
            f"<td>{_badge(quantity.source)}</td><td>{_source_text(quantity.source)}"
            + (f' <span class="sub">({_e(quantity.note)})</span>' if quantity.note else "")
            + "</td></tr>"
        )
    count_text = ", ".join(f"{counts[basis]} {basis}" for basis in _BASES if counts[basis])
    baseline = (
        f" It is compared with the scenario <code>{_e(scenario.baseline)}</code>."
        if scenario.baseline is not None
        else ""
    )
    return (
        '<section class="scenario" aria-labelledby="scenario-title">'
        f'<h2 id="scenario-title">The scenario <code>{_e(scenario.name)}</code>: every figure and its '
        "source</h2>"
        f"<p>{_e(' '.join(scenario.description.split()))}{baseline}</p>"
        f"<p><b>Target.</b> {_e(' '.join(scenario.target.description.split()))}</p>"
        '<table class="grid"><caption>Horizons</caption><thead><tr><th>horizon</th><th>years</th>'
        f"<th>used for</th></tr></thead><tbody>{horizons}</tbody></table>"
        f"{spend}{changes}{deflator}"
        f'<p class="key">Of its {len(quantities)} figures: {_e(count_text)}. '
        f"{_basis_badge('assumption')}: the source is a judgement, with its reasoning; "
        f"{_basis_badge('partly assumed')}: a publication with an assumed part; "
        f"{_basis_badge('published')}: a cited publication or statistic.</p>"
        '<table class="grid figures-table"><colgroup><col class="c-key"><col class="c-dist">'
        '<col class="c-mean"><col class="c-basis"><col></colgroup>'
        "<thead><tr><th>figure (key path)</th><th>distribution</th>"
        f'<th class="r">mean</th><th>basis</th><th>source</th></tr></thead><tbody>{"".join(rows)}</tbody>'
        "</table></section>\n"
    )


def _footer(ds: xr.Dataset, scenario: Scenario, n_draws: int) -> str:
    command = f"nhsrisk run --scenario {scenario.name} --draws {n_draws} --seed {ds.attrs['seed']} --report"
    return (
        '<footer class="colophon">'
        f"<p>Reproduce: <code>{_e(command)}</code> (scenario SHA-256 <code>{_e(scenario.sha256()[:16])}"
        "</code>&hellip;, stored in the results; a scenario file is named by its path). Made with nhsrisk "
        f"{_e(__version__)}: Monte Carlo productivity-risk analysis of NHS technology investment.</p>"
        "</footer>\n"
    )


_CSS = """\
:root { --ink: #1d2530; --muted: #5a6573; --rule: #d5dbe2; --band: #f3f6f9; --accent: #005eb8; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; font-size: 15px; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 1rem/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 40px; }
h1 { font-size: 1.6rem; line-height: 1.2; margin: 0.1em 0 0.3em; }
h2 { font-size: 1.15rem; margin: 1.6em 0 0.6em; padding-bottom: 0.2em;
  border-bottom: 2px solid var(--accent); }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace;
  font-size: 0.9em; }
.masthead { border-bottom: 1px solid var(--rule); padding-bottom: 10px; }
.kicker { margin: 0; color: var(--accent); font-weight: 600; letter-spacing: 0.02em; }
.facts { margin: 0; color: var(--muted); font-size: 0.9rem; }
.cards { display: grid; grid-template-columns: repeat(5, 1fr); gap: 10px; margin: 0 0 12px; }
.card { background: var(--band); border: 1px solid var(--rule); border-radius: 6px; padding: 10px 12px; }
.card-value { font-size: 1.5rem; font-weight: 700; font-variant-numeric: tabular-nums; }
.card-label { font-size: 0.85rem; line-height: 1.25; font-weight: 600; }
.card-note { color: var(--muted); font-size: 0.78rem; line-height: 1.25; margin-top: 2px; }
.findings { margin: 0; padding-left: 1.2em; }
.findings li { margin: 0.35em 0; }
.num { font-variant-numeric: tabular-nums; white-space: nowrap; }
.table-scroll { overflow-x: auto; }
.headline table { font-size: 0.9rem; }
.note { color: var(--muted); font-size: 0.85rem; margin: 0.5em 0 0; }
.figure-grid { display: grid; grid-template-columns: 1fr 1fr; gap: 18px 22px; align-items: start; }
figure { margin: 0; break-inside: avoid; page-break-inside: avoid; }
figure img { display: block; width: 100%; height: auto; border: 1px solid var(--rule); }
figcaption { font-size: 0.85rem; color: var(--muted); margin-top: 4px; }
.method ul { padding-left: 1.2em; margin: 0; }
.method li { margin: 0.3em 0; }
table.grid { border-collapse: collapse; margin: 0.6em 0 1em; width: 100%; font-size: 0.85rem; }
table.grid caption { text-align: left; font-weight: 600; padding-bottom: 4px; }
table.grid th, table.grid td { border-bottom: 1px solid var(--rule); padding: 4px 8px; text-align: left;
  vertical-align: top; }
table.grid thead th { border-bottom: 2px solid var(--muted); }
table.grid tbody th { font-weight: 600; }
.r { text-align: right !important; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.group th { background: var(--band); font-weight: 600; padding-top: 6px; }
.figures-table { table-layout: fixed; }
.figures-table .c-key { width: 21%; } .figures-table .c-dist { width: 15%; }
.figures-table .c-mean { width: 7%; } .figures-table .c-basis { width: 8.5em; }
.figures-table td { overflow-wrap: anywhere; }
.spend tr.joined th, .spend tr.joined td { border-bottom: none; }
.spend td.source { padding-top: 0; padding-left: 1.5em; }

.sub { color: var(--muted); font-weight: normal; font-size: 0.9em; }
.badge { display: inline-block; border-radius: 3px; padding: 0 5px; font-size: 0.78rem; font-weight: 600;
  white-space: nowrap; border: 1px solid; }
.badge.assumed { background: #fff3d6; border-color: #c98a00; color: #6b4700; }
.badge.partly { background: #fdf8ec; border-color: #d9b45a; color: #6b5200; }
.badge.published { background: #e8f3ec; border-color: #3d8a5a; color: #1f5535; }
.comparison-table { width: auto; min-width: 60%; }
.comparison-table td { padding-left: 2.5em; }
.colophon { margin-top: 2em; border-top: 1px solid var(--rule); color: var(--muted); font-size: 0.8rem; }
@media (max-width: 900px) {
  .cards { grid-template-columns: repeat(2, 1fr); }
  .figure-grid { grid-template-columns: 1fr; }
}
@media print {
  @page { size: A4; margin: 14mm 12mm; }
  html { font-size: 9pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; }
  .cards { grid-template-columns: repeat(5, 1fr); gap: 6px; }
  .card { padding: 6px 8px; }
  .headline table { font-size: 6.8pt; }
  .table-scroll { overflow: visible; }
  /* page 1: the verdict and the headline table; then the figures and the method; then the scenario */
  .figures { break-before: page; page-break-before: always; }
  .figures h2 { margin-top: 0; }
  .figure-grid { grid-template-columns: 1fr 1fr; gap: 10px 14px; }
  /* the two figures with many labels get the page's width; the fan and exceedance curve share a row */
  #figure-waterfall, #figure-tornado { grid-column: 1 / -1; width: 88%; margin: 0 auto; }
  .scenario { break-before: page; page-break-before: always; }
  table.grid { font-size: 7.5pt; }
  figcaption, .note { font-size: 7.5pt; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""
