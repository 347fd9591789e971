"""Command line: ``nhsrisk run`` simulates a scenario, prints a summary and writes results.

``nhsrisk scenarios`` lists the shipped scenarios, ``nhsrisk describe`` prints every
figure of one with its source. A scenario with a ``baseline`` (the named variants of
the default) is run beside that baseline with the same seed and draws, and the summary
ends with the change against it, in total and per GBP of budget change.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import functools
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from nhsrisk._engine import check_result_size, result_bytes
from nhsrisk._format import money_unit, percent, significant
from nhsrisk._model import HEADLINE_OUTPUTS
from nhsrisk._optional import require
from nhsrisk._plan import build_plan
from nhsrisk._validate import WEIGHT, _message, resolve_seed
from nhsrisk._version import __version__
from nhsrisk.experiments import waterfall
from nhsrisk.io import open_results, run_results_file, save_results, write_folder_atomically
from nhsrisk.report import REPORT_FILE, WATERFALL_DRAWS, write_report
from nhsrisk.scenario import BUILTIN_SCENARIOS, DEFAULT_SCENARIO, SCENARIO_ALIASES
from nhsrisk.stats import cap_binding, equity, has_segments, minimum_draws, summary
from nhsrisk.tables import TABLE_FORMATS, write_tables
from nhsrisk.update import (
    MIN_EFFECTIVE_SHARE,
    OBSERVATION_SETS,
    load_observations,
    observation_effects,
    update,
)

if TYPE_CHECKING:
    import xarray as xr
    from distributed import Client

    from nhsrisk.scenario import Scenario

T = TypeVar("T")

__all__ = ["comparison_table", "console_main", "main", "scenarios_table", "streaming_table", "summary_table"]


def _positive_count(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a whole number >= 1 (such as 100000 or 1e6), got {text!r}"
        ) from None
    if not value.is_integer() or value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1 (such as 100000 or 1e6), got {text!r}")
    return int(value)


def _table_formats(text: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names or any(name not in TABLE_FORMATS for name in names):
        raise argparse.ArgumentTypeError(
            f"must be a comma-separated list of {', '.join(TABLE_FORMATS)}, got {text!r}"
        )
    return names


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**128), got {text!r}") from None
    if not 0 <= value < 2**128:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**128), got {text!r}")
    return value


def _add_scenario_argument(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--scenario",
        default=DEFAULT_SCENARIO,
        help=f"shipped scenario ({', '.join(BUILTIN_SCENARIOS)}; see `nhsrisk scenarios`) or a TOML file "
        f"(default: {DEFAULT_SCENARIO})",
    )


_RUN_EXAMPLES = """\
examples:
  nhsrisk run                                   the default scenario (as-announced), 100,000 draws
  nhsrisk run --seed 2024                       the same, reproducible to the last digit
  nhsrisk run --scenario after-the-cut          a shipped variant, beside its baseline
  nhsrisk run --scenario my-ics.toml --out ics  your own scenario file, into ./ics
  nhsrisk run --report                          also a one-page HTML briefing, report.html
  nhsrisk run --keep all --timings              every output of every draw; the time of each phase
  nhsrisk run --draws 1e8 --summary-only        summary statistics only, in bounded memory
  nhsrisk report nhsrisk-out                    the briefing of an earlier run
  nhsrisk scenarios                             list the shipped scenarios
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nhsrisk", description="Monte Carlo productivity-risk analysis of NHS technology investment."
    )
    parser.add_argument("--version", action="version", version=f"nhsrisk {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="simulate a scenario (and its baseline, if it names one), print a summary of both horizons, "
        "write results.nc and three figures",
        description=(
            "Simulate a scenario and report how much of its claimed return arrives by the end of\n"
            "the claim window, how likely the claim is, and its value for money over the Green\n"
            "Book appraisal period (NPV, benefit-cost ratio). A scenario that names a baseline is\n"
            "run beside it with the same seed and draws, and the change per GBP of budget change\n"
            "is reported. Writes to the output directory: summary.txt (what is printed), results.nc\n"
            "(every sampled input and the headline outputs of every draw; --keep all for every\n"
            "output), waterfall.nc, three figures and a manifest."
        ),
        epilog=_RUN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_scenario_argument(run)
    run.add_argument(
        "--draws", type=_positive_count, default=100_000, help="Monte Carlo draws (default: 100000)"
    )
    run.add_argument(
        "--seed", type=_seed, default=None, help="seed (default: fresh entropy, recorded in results)"
    )
    run.add_argument("--out", default="nhsrisk-out", help="output directory (default: ./nhsrisk-out)")
    run.add_argument("--force", action="store_true", help="overwrite existing output files")
    run.add_argument(
        "--keep",
        choices=("headline", "all"),
        default="headline",
        help="draws written to results.nc: headline (default: every sampled input and the outputs the "
        "summary, figures and updates read, about a third of the bytes) or all (every output of every draw)",
    )
    run.add_argument(
        "--timings",
        action="store_true",
        help="print the wall time of each phase of the run on stderr",
    )
    run.add_argument(
        "--summary-only",
        action="store_true",
        help="keep no draws: stream summary statistics chunk by chunk in bounded memory and write "
        "summary.nc (for very large runs such as --draws 1e8)",
    )
    run.add_argument(
        "--chunks",
        type=_positive_count,
        default=None,
        help="draws per chunk (default: 131072 with --summary-only)",
    )
    run.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="run the chunks on an existing dask cluster (scheduler address such as tcp://host:8786)",
    )
    run.add_argument(
        "--format",
        type=_table_formats,
        default=(),
        metavar="FORMATS",
        help="also write the summary for spreadsheets: csv (summary.csv), xlsx (summary.xlsx, with the "
        "scenario's sources and the fan-chart quantiles; needs nhsrisk[excel]), or csv,xlsx",
    )
    run.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None, help="show a progress bar"
    )
    run.add_argument(
        "--report",
        action="store_true",
        help="also write report.html: a one-page briefing with the summary, four figures, the scenario's "
        "sources and method notes (see `nhsrisk report`)",
    )
    describe = commands.add_parser(
        "describe", help="print every figure of a scenario with its source (Markdown)"
    )
    _add_scenario_argument(describe)
    commands.add_parser("scenarios", help="list the shipped scenarios with their titles and baselines")
    report = commands.add_parser(
        "report",
        help="write a one-page HTML briefing of a run (report.html): summary, figures, sources, method",
        description="Write one self-contained HTML file, the briefing an analyst sends a director: the "
        "verdict and headline table, the fan chart, exceedance curve, waterfall and tornado, the scenario "
        "with every figure's source (assumptions flagged) and short method notes.",
    )
    report.add_argument("results", help="an `nhsrisk run` output folder, or a results file (.nc or .zarr)")
    report.add_argument(
        "--out", default=None, help="HTML file (default: RESULTS/report.html, or RESULTS with .html)"
    )
    report.add_argument("--force", action="store_true", help="overwrite an existing report")
    updated = commands.add_parser(
        "update",
        help="reweight a run by observed delivery (TOML [[observations]]); write its summary and figures",
        description="Reweight the draws of a run by what has been observed (spend outturn, uptake...), "
        "stated in a TOML file of [[observations]] tables (see nhsrisk.Observation) or a set shipped with "
        "nhsrisk, and write beside the original: the updated summary with what each observation changes "
        "(summary.txt), the fan chart before and after (fan.png), the updated exceedance curve "
        "(exceedance.png) and the weighted results (results.nc).",
    )
    updated.add_argument("results", help="an `nhsrisk run` output folder, or a results file (.nc or .zarr)")
    updated.add_argument(
        "observations",
        help="a TOML file of [[observations]] tables, or a set shipped with nhsrisk: "
        + ", ".join(OBSERVATION_SETS),
    )
    updated.add_argument(
        "--out", default=None, help="output folder (default: RESULTS/updated, or RESULTS-updated for a file)"
    )
    updated.add_argument("--force", action="store_true", help="replace an existing output folder")
    updated.add_argument(
        "--min-effective-share",
        type=float,
        default=MIN_EFFECTIVE_SHARE,
        help=f"refuse an update leaving a smaller share of effective draws (default {MIN_EFFECTIVE_SHARE})",
    )
    return parser


def update_run(args: argparse.Namespace) -> int:
    """``nhsrisk update``: weight a saved run by observations, print and write the weighted summary."""
    try:
        results_file = run_results_file(args.results)
        observations = load_observations(args.observations)
        source = Path(args.results)
        if args.out is not None:
            out = Path(args.out)
        elif results_file != source:
            out = source / "updated"
        else:
            out = source.with_name(f"{source.stem}-updated")
        refused = _check_output_folder(out, args.force)
        if refused:
            print(f"nhsrisk update: {refused}", file=sys.stderr)
            return 2
        with open_results(results_file, chunks=None) as stored:
            prior = stored.load()
        if WEIGHT in prior.coords:
            # observation_effects measures each observation from the prior; an updated run is
            # updated again by applying both sets to the original run
            allowed = "a run not yet updated (apply every observation to the original run at once)"
            raise ValueError(_message("results", "nhsrisk update", allowed, "updated results"))
        post = update(prior, observations, min_effective_share=args.min_effective_share)
        effects = observation_effects(prior, observations, min_effective_share=args.min_effective_share)
        printed = f"{summary(post)!r}\n\n{effects_table(effects)}"
    except (ValueError, TypeError, OSError, NotImplementedError) as err:
        print(f"nhsrisk update: {' '.join(str(err).splitlines())}", file=sys.stderr)
        return 2
    from nhsrisk import plot

    def fill(folder: Path) -> None:
        (folder / SUMMARY_FILE).write_text(printed + "\n", encoding="utf-8")
        save_results(post, folder / "results.nc", compression=0)
        _figure(lambda ax: plot.fan(post, before=prior, ax=ax), folder / "fan.png")
        _figure(lambda ax: plot.exceedance(post, ax=ax), folder / "exceedance.png")
        _write_manifest(
            folder,
            {"command": "update", "results": str(results_file), "observations": str(args.observations)},
        )

    out.parent.mkdir(parents=True, exist_ok=True)
    write_folder_atomically(out, fill)  # --force was checked above
    print(printed)
    names = [SUMMARY_FILE, "results.nc", "fan.png", "exceedance.png", MANIFEST]
    print(f"\nWrote {', '.join(str(out / name) for name in names)}")
    return 0


def effects_table(effects: xr.Dataset) -> str:
    """Plain-text table of :func:`nhsrisk.observation_effects`: the headline before, per observation, after.

    Parameters
    ----------
    effects : xarray.Dataset
        Output of :func:`nhsrisk.observation_effects`.

    Returns
    -------
    str
        One row per case: effective draws, P(reaching the claim) (its
        one-sided 95% bound when no draw reaches it), the median claim-window
        value (GBP bn, m or k from the largest shown), the median BCR, P(BCR < 1)
        and the mean NPV, each with its Monte Carlo standard error or 95%
        interval.

    Examples
    --------
    >>> import nhsrisk
    >>> ds = nhsrisk.simulate(draws=4_000, seed=2)
    >>> effects = nhsrisk.observation_effects(ds, nhsrisk.load_observations("2025-26"))
    >>> print(effects_table(effects))  # doctest: +ELLIPSIS
    What each observation changes (4,000 draws; 95% intervals in brackets, ± one MCSE)
    case ...
    before ...
    all together ...
    """
    year = effects.attrs["target_year"]
    money = money_unit(effects["claim_value_median"].values, effects["npv_mean"].values)
    claim = money.amount(float(effects.attrs["target"]), code=True)
    header = (
        "case",
        "effective draws",
        f"P(>= {claim} by {year})",
        f"median value by {year} ({money.code})",
        "median BCR",
        "P(BCR < 1)",
        f"mean NPV ({money.code})",
    )
    rows = []
    for case in effects.case.values:
        row = effects.sel(case=case)

        def interval(row: xr.Dataset, name: str, scale: float = 1.0) -> str:
            value, low, high = (float(row[f"{name}{end}"]) / scale for end in ("", "_low", "_high"))
            return f"{value:.3f} [{low:.3f}, {high:.3f}]"

        p_target = float(row.p_target)
        reach = (
            f"{percent(p_target)} ± {percent(float(row.p_target_mcse), 2)}"
            if p_target > 0
            else f"0 (bound {percent(float(row.p_target_upper_95), 2)})"
        )
        rows.append(
            (
                str(case),
                f"{float(row.effective_sample_size):,.0f}",
                reach,
                interval(row, "claim_value_median", money.divisor),
                interval(row, "bcr_median"),
                f"{percent(float(row.p_bcr_below_1))} ± {percent(float(row.p_bcr_below_1_mcse), 2)}",
                f"{float(row.npv_mean) / money.divisor:.3f} ± "
                f"{significant(float(row.npv_mean_mcse) / money.divisor, 2)}",
            )
        )
    lines = [
        f"What each observation changes ({int(effects.attrs['n_draws']):,} draws; "
        "95% intervals in brackets, ± one MCSE)",
        *_aligned([header, *rows]),
    ]
    return "\n".join(lines)


def _aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """Lines of a plain-text table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join([row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))])
        for row in rows
    ]


def summary_table(ds: xr.Dataset) -> str:
    """Print-ready summary of a results Dataset, as ``nhsrisk run`` shows it: the summary, then the cap.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`nhsrisk.simulate`.

    Returns
    -------
    str
        ``repr(nhsrisk.summary(ds))``, the same table a notebook shows: the
        claim window (cumulative value by the target year, the shortfall
        against the claim, P(reaching it) with its error or its one-sided
        bound, the mean of the worst 5% of outcomes) and the appraisal period
        (NPV, benefit-cost ratio, present values by kind, P(BCR < 1)), each
        with Monte Carlo errors. Then how often the staff-time cap binds.

    Examples
    --------
    >>> import nhsrisk
    >>> print(summary_table(nhsrisk.simulate(draws=2_000, seed=3)))  # doctest: +ELLIPSIS
    nhsrisk summary of as-announced, 2,000 draws, seed 3, 2023/24 prices
    Spring Budget 2024 as announced: ...
    <BLANKLINE>
    Claim window 2025/26 to 2029/30
    ...
    Staff-time cap binding: never (in no draw, year or staff group)
    """
    text = f"{summary(ds)!r}\n\n"
    if has_segments(ds) and WEIGHT not in ds:  # equity is not yet weighted
        text += f"{equity_table(ds)}\n\n"
    return f"{text}Staff-time cap binding: {cap_binding(ds)}"


def equity_table(ds: xr.Dataset) -> str:
    """Plain-text block of digital exclusion and who gains, for results with population segments.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`nhsrisk.simulate` for a scenario with a ``[population]`` table.

    Returns
    -------
    str
        The contact-weighted digital exclusion (mean over the appraisal period,
        per draw) against the headline share it is calibrated to; the
        patient-channel benefit per head (GBP, present value) in the most and
        least deprived quintiles and in the oldest age band, as mean ± MCSE with
        the 5th and 95th percentiles of the draws; and the most to least deprived
        ratio of the means with its Monte Carlo error (:func:`nhsrisk.stats.equity`).

    Examples
    --------
    >>> import nhsrisk
    >>> print(equity_table(nhsrisk.simulate(draws=2_000, seed=3)))  # doctest: +ELLIPSIS
    Digital exclusion and who gains (population segments)
    Contact-weighted digital exclusion ...
    """
    table = equity(ds)
    n = ds.sizes["draw"]
    exclusion = ds["contact_weighted_exclusion"].mean("year").values
    headline = float(ds["risks.digital_exclusion"].mean()) if "risks.digital_exclusion" in ds else None
    against = f", against a headline of {percent(headline)} of adults" if headline is not None else ""
    lines = [
        "Digital exclusion and who gains (population segments)",
        "Contact-weighted digital exclusion (appraisal-period mean)  "
        f"{percent(exclusion.mean())} ± {percent(exclusion.std(ddof=1) / n**0.5, 2)}{against}",
    ]
    quintiles, bands = [str(q) for q in ds["quintile"].values], [str(a) for a in ds["age_band"].values]
    rows = [
        (f"{quintiles[0]} quintile", table["per_head_by_quintile"].sel(quintile=quintiles[0])),
        (f"{quintiles[-1]} quintile", table["per_head_by_quintile"].sel(quintile=quintiles[-1])),
        (f"aged {bands[-1]}", table["per_head_by_age_band"].sel(age_band=bands[-1])),
    ]
    unit = money_unit(*(float(abs(row.sel(statistic=s))) for _, row in rows for s in ("5%", "95%")))
    cells = [
        (
            f"  {label}",
            unit.symbol,
            f"{significant(unit.scaled(float(row.sel(statistic='mean'))), 3)} ± "
            f"{significant(unit.scaled(float(row.sel(statistic='mcse'))), 2)}",
            significant(unit.scaled(float(row.sel(statistic="5%"))), 3),
            significant(unit.scaled(float(row.sel(statistic="95%"))), 3),
        )
        for label, row in rows
    ]
    header = ("Patient-channel benefit per head (PV)", "units", "mean ± MCSE", "5%", "95%")
    lines += _aligned([header, *cells])
    ratio, error = float(table["most_to_least_deprived"]), float(table["most_to_least_deprived_mcse"])
    lines.append(
        f"Per head, the {quintiles[0]} quintile gets {significant(ratio, 3)} ± {significant(error, 2)} "
        f"of what the {quintiles[-1]} gets"
    )
    return "\n".join(lines)


def comparison_table(effect: xr.Dataset) -> str:
    """Plain-text table of :func:`nhsrisk.stats.budget_change_effect`: a scenario against its baseline.

    Parameters
    ----------
    effect : xarray.Dataset
        Output of :func:`nhsrisk.stats.budget_change_effect`.

    Returns
    -------
    str
        The budget change (difference in mean total real capital spent), the
        change in the mean of each output (in GBP bn, m or k, from the largest
        amount shown) and the change per GBP of
        budget change, each with its Monte Carlo standard error, then one line
        saying how much value is lost or gained per GBP.

    Examples
    --------
    >>> import nhsrisk
    >>> base = nhsrisk.simulate("as-announced", draws=2_000, seed=3)
    >>> cut = nhsrisk.simulate("after-the-cut", draws=2_000, seed=3)
    >>> print(comparison_table(nhsrisk.budget_change_effect(cut, base)))  # doctest: +ELLIPSIS
    Change against as-announced: same seed and draws (common random numbers), 2,000 draws
    ...
    Per GBP less capital spent (-£2...m in all): GBP 0.5... of claim-window value lost (s.e. ...
    """
    crn = (
        "same seed and draws (common random numbers)"
        if effect.attrs["common_random_numbers"]
        else ("independent runs")
    )
    year = effect.attrs["target_year"]
    labels = {
        f"cumulative_value[{year}]": f"Cumulative value by {year}",
        "pv_benefits": "PV of benefits",
        "pv_costs": "PV of costs",
        "npv": "NPV",
    }
    budget_label = "Budget change: mean real capital spent"
    width = max(len(budget_label), *(len(label) for label in labels.values())) + 2
    budget = float(effect["budget_change"])
    money = money_unit(budget, effect["change"].values)

    def cell(value: float, error: float, scale: float = 1.0) -> str:
        if not np.isfinite(value):
            return f"{'n/a':>22}"
        return f"{value / scale:>10.3f} ± {significant(error / scale, 2):<9}"

    lines = [
        f"Change against {effect.attrs['baseline_name']}: {crn}, {int(effect.attrs['n_draws']):,} draws",
        f"{'':<{width}}{f'change ({money.code})':>22}{'per GBP of budget change':>28}",
        f"{budget_label:<{width}}{cell(budget, float(effect['budget_change_mcse']), money.divisor)}",
    ]
    for output in effect["output"].values:
        row = effect.sel(output=output)
        lines.append(
            f"{labels.get(str(output), str(output)):<{width}}"
            f"{cell(float(row['change']), float(row['change_mcse']), money.divisor)}"
            f"      {cell(float(row['per_gbp']), float(row['per_gbp_mcse']))}"
        )
    if budget != 0.0:
        parts = []
        for index, what in ((0, "claim-window value"), (1, "PV of benefits")):
            row = effect.isel(output=index)
            change = float(row["change"])
            moved = "gained" if change > 0 else "lost" if change < 0 else "unchanged"
            parts.append(
                f"GBP {abs(float(row['per_gbp'])):.2f} of {what} {moved} "
                f"(s.e. {significant(float(row['per_gbp_mcse']), 2)})"
            )
        direction = "less" if budget < 0 else "more"
        lines.append(f"Per GBP {direction} capital spent ({money.amount(budget)} in all): {'; '.join(parts)}")
    return "\n".join(line.rstrip() for line in lines)


def scenarios_table() -> str:
    """Plain-text list of the shipped scenarios: name, baseline and title.

    Reads :data:`nhsrisk.scenario.BUILTIN_SCENARIOS`, the list
    :func:`nhsrisk.load_scenario` resolves names from, and loads each file, so
    a listed name always loads.

    Examples
    --------
    >>> print(scenarios_table())  # doctest: +ELLIPSIS
    Shipped scenarios (nhsrisk run --scenario NAME):
    <BLANKLINE>
    name                    baseline      title
    as-announced (default)  -             Spring Budget 2024 as announced: ...
    after-the-cut           as-announced  After the cut: ...
    ...
    """
    from nhsrisk.scenario import load_scenario

    rows = []
    for name in BUILTIN_SCENARIOS:
        scenario = load_scenario(name)
        shown = f"{name} (default)" if name == DEFAULT_SCENARIO else name
        rows.append((shown, scenario.baseline or "-", scenario.title))
    name_width = max(len("name"), *(len(r[0]) for r in rows)) + 2
    base_width = max(len("baseline"), *(len(r[1]) for r in rows)) + 2
    lines = [
        "Shipped scenarios (nhsrisk run --scenario NAME):",
        "",
        f"{'name':<{name_width}}{'baseline':<{base_width}}title",
        *(f"{name:<{name_width}}{baseline:<{base_width}}{title}" for name, baseline, title in rows),
    ]
    aliases = [f"{old} (now {new})" for old, new in SCENARIO_ALIASES.items()]
    if aliases:
        lines += ["", f"Former names that still load: {', '.join(aliases)}."]
    lines.append(
        "A scenario with a baseline is run beside it with the same seed and draws, and the summary "
        "reports the change per GBP of budget change."
    )
    return "\n".join(lines)


#: Figures written by ``nhsrisk run``, by file name.
FIGURES = ("fan.png", "exceedance.png", "waterfall.png")


def _figure(draw: Callable[[Any], Any], path: Path) -> None:
    """Draw a chart on a fresh figure and save it as PNG (:func:`nhsrisk.plot.render_png`)."""
    from nhsrisk.plot import render_png

    path.write_bytes(render_png(draw))


def _unwritable(folder: Path) -> str | None:
    """Why no file can be created in ``folder``, or None when one can.

    A real file is created and removed, rather than ``os.access`` consulted: root passes
    every permission check, yet still cannot write to a read-only mount or to /proc.
    """
    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=".nhsrisk-write-check-")
    except OSError as err:
        return err.strerror or str(err)
    os.close(handle)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return None


#: The summary as ``nhsrisk run`` prints it (and the change against the baseline, if any).
SUMMARY_FILE = "summary.txt"
#: Written last into a run's folder: what the run was and a checksum of every other file in it.
MANIFEST = "manifest.json"
#: Every file ``nhsrisk run`` writes. A folder holding nothing else may be replaced (``--force``).
RUN_FILES = (
    SUMMARY_FILE,
    "results.nc",
    "waterfall.nc",
    "summary.nc",
    "summary.csv",
    "summary.xlsx",
    *FIGURES,
    REPORT_FILE,
    MANIFEST,
)


def _nearest_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _check_output_folder(out: Path, force: bool) -> str | None:
    """Why ``nhsrisk run`` may not write its folder at ``out`` (None when it may), checked before any work."""
    if out.exists() and not out.is_dir():
        return f"cannot write the output directory {out}: a file of that name exists"
    if out.is_dir():
        problem = _unwritable(out)
        if problem is not None:
            return f"cannot write to output directory {out}: {problem}"
        entries = sorted(entry.name for entry in out.iterdir())
        if entries and not force:
            return f"refusing to overwrite {out}, which holds {', '.join(entries[:4])} (use --force)"
        foreign = [name for name in entries if name not in RUN_FILES]
        if foreign:
            return (
                f"refusing to replace {out}: it holds files that nhsrisk run did not write "
                f"({', '.join(foreign[:4])}); choose another --out"
            )
    # the folder is written beside its final place, then renamed into it
    parent = _nearest_existing(out.parent)
    problem = _unwritable(parent)
    if problem is not None:
        verb = "write to" if out.exists() else "create"
        return f"cannot {verb} output directory {out}: {problem} ({parent})"
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(functools.partial(handle.read, 2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_manifest(folder: Path, record: dict[str, Any]) -> None:
    """Write :data:`MANIFEST` last: the run's record and the size and SHA-256 of every other file."""
    files = {
        path.name: {"bytes": path.stat().st_size, "sha256": _sha256(path)}
        for path in sorted(folder.iterdir())
        if path.name != MANIFEST
    }
    manifest = {
        **record,
        "nhsrisk_version": __version__,
        "completed": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "files": files,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def run(args: argparse.Namespace) -> int:
    """Carry out ``nhsrisk run``: the whole output folder or nothing, and Ctrl-C at any moment.

    The folder is written aside and moved into place whole, with its manifest
    written last, so it never mixes two runs. Ctrl-C stops the run between two
    kernel calls (a fraction of a second), removes what was written aside and
    exits with status 130; an old folder is left as it was.
    """
    installed: list[Path] = []
    try:
        return _run(args, installed)
    except KeyboardInterrupt:
        out = Path(args.out)
        what = (
            f"{out} is complete"
            if installed
            else (f"{out} left as it was" if out.exists() else "nothing written")
        )
        print(f"nhsrisk run: interrupted; {what}", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace, installed: list[Path]) -> int:
    import nhsrisk

    timer = _PhaseTimer(args.timings)
    out = Path(args.out)
    problem = _check_output_folder(out, args.force)
    if problem is not None:
        print(f"nhsrisk run: {problem}", file=sys.stderr)
        return 2
    fewest = minimum_draws()
    if args.draws < fewest:
        print(
            f"nhsrisk run: --draws must be at least {fewest} for the summary's 95% intervals of the 5th "
            f"and 95th percentiles. Got {args.draws} instead.",
            file=sys.stderr,
        )
        return 2
    try:
        scenario = nhsrisk.load_scenario(args.scenario)
        baseline = _load_baseline(scenario, args.scenario)
    except (ValueError, FileNotFoundError) as err:
        print(f"nhsrisk run: {err}", file=sys.stderr)
        return 2
    try:
        # before any work: these options need the scale extra
        if args.summary_only:
            require("datasketches", "nhsrisk run --summary-only")
            if args.format:
                raise ValueError(
                    "--format needs the draws of the run: it cannot be combined with --summary-only"
                )
            if args.report:
                raise ValueError(
                    "--report needs the draws of the run: it cannot be combined with --summary-only"
                )
        if "xlsx" in args.format:
            require("openpyxl", "nhsrisk run --format xlsx", extra="excel")
        if args.chunks is not None or args.scheduler is not None:
            require("dask", "nhsrisk run --chunks" if args.chunks is not None else "nhsrisk run --scheduler")
        if not args.summary_only:
            # the results of the run and of its baseline are held together (a chunked run is
            # computed into memory too), before the output folder is made
            runs = [which for which in (scenario, baseline) if which is not None]
            kept = None if args.keep == "all" else HEADLINE_OUTPUTS
            held = sum(result_bytes(build_plan(which), args.draws, outputs=kept) for which in runs)
            check_result_size(held, args.draws, None, command_line=True)
    except (ImportError, MemoryError, ValueError) as err:
        print(f"nhsrisk run: {err}", file=sys.stderr)
        return 2
    client = None
    if args.scheduler is not None:
        try:
            Client = require("distributed", "nhsrisk run --scheduler").Client  # noqa: N806  (a class)
        except ImportError as err:
            print(f"nhsrisk run: {err}", file=sys.stderr)
            return 2
        try:
            client = Client(args.scheduler, timeout="10s")
        except OSError as err:
            print(f"nhsrisk run: cannot reach the dask scheduler at {args.scheduler}: {err}", file=sys.stderr)
            return 2
    record: dict[str, Any] = {
        "command": "nhsrisk run",
        "scenario_name": scenario.name,
        "scenario_sha256": scenario.sha256(),
        "baseline": None if baseline is None else baseline.name,
        "draws": args.draws,
    }
    timer.lap("load the scenario, check the options")
    keep = "all" if args.keep == "all" else "headline"
    try:
        if args.summary_only:
            return _run_summary_only(args, scenario, out, client, record, installed, baseline)
        chunks = args.chunks if args.chunks is not None else (2**17 if client is not None else None)
        seed = resolve_seed(args.seed, "nhsrisk run")
        # The waterfall needs only the scenario and the seed: it runs beside the simulation and
        # the writing of the results (its kernel releases the GIL), and is waited for before its
        # figure is drawn. A daemon thread: Ctrl-C does not wait for it.
        bridge_future = _in_background(
            lambda: waterfall(scenario, draws=min(args.draws, WATERFALL_DRAWS), seed=seed, progress=False)
        )

        def simulate(which: Scenario, seed: int | None) -> xr.Dataset:
            ds = nhsrisk.simulate(
                which, draws=args.draws, seed=seed, chunks=chunks, keep=keep, progress=args.progress
            )
            return ds.compute() if chunks is not None else ds  # on the cluster when a client is active

        with timer("simulate"):
            ds = simulate(scenario, seed)
        if baseline is not None:
            # The baseline with the run's own seed and draws: common random numbers, so draw i of
            # both runs shares every input and the difference is the scenario's change alone.
            with timer("simulate the baseline"):
                baseline_ds = simulate(baseline, int(ds.attrs["seed"]))
    finally:
        if client is not None:
            client.close()
    from nhsrisk import plot

    record["seed"] = str(ds.attrs["seed"])

    printed: list[str] = []

    def fill(folder: Path) -> None:
        with timer("summary"):
            effect = None if baseline is None else nhsrisk.budget_change_effect(ds, baseline_ds)
            printed.append(summary_table(ds))
            if effect is not None:
                printed.append(comparison_table(effect))
            (folder / SUMMARY_FILE).write_text("\n\n".join(printed) + "\n", encoding="utf-8")
        with timer("write results.nc"):
            save_results(ds, folder / "results.nc", compression=0)
        with timer("fan and exceedance figures"):
            _figure(lambda ax: plot.fan(ds, ax=ax), folder / "fan.png")
            _figure(lambda ax: plot.exceedance(ds, ax=ax), folder / "exceedance.png")
        with timer("wait for the waterfall"):
            bridge = bridge_future.result()
        with timer("waterfall figure and file"):
            _figure(lambda ax: plot.waterfall(bridge, ax=ax), folder / "waterfall.png")
            save_results(bridge, folder / "waterfall.nc", compression=0)
        if args.format:
            with timer("tables"):
                write_tables(ds, folder, args.format)
        if args.report:
            with timer("report"):
                write_report(ds, folder / REPORT_FILE, waterfall=bridge, comparison=effect)
        with timer("manifest"):
            _write_manifest(folder, record)

    out.parent.mkdir(parents=True, exist_ok=True)
    write_folder_atomically(out, fill)  # --force was checked above
    installed.append(out)
    # Written before anything is printed, so that a reader who stops reading early
    # (`nhsrisk run | head`) still gets the whole folder.
    print("\n\n".join(printed))
    tables = [f"summary.{name}" for name in TABLE_FORMATS if name in args.format]
    names = [
        SUMMARY_FILE,
        "results.nc",
        "waterfall.nc",
        *FIGURES,
        *tables,
        *([REPORT_FILE] if args.report else []),
        MANIFEST,
    ]
    print(f"\nWrote {', '.join(str(out / name) for name in names)}")
    timer.report()
    return 0


def _in_background(work: Callable[[], T]) -> concurrent.futures.Future[T]:
    """Run ``work`` on a daemon thread; its result (or exception) comes from the returned future."""
    future: concurrent.futures.Future[T] = concurrent.futures.Future()

    def target() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(work())
        except BaseException as err:  # handed to the caller of future.result()
            future.set_exception(err)

    threading.Thread(target=target, name="nhsrisk-waterfall", daemon=True).start()
    return future


def _process_age() -> float | None:
    """Seconds since this process started (Linux; None elsewhere), to 10 ms."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            # the fields after the command name, which is in parentheses; field 22 is the start time
            fields = stat.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as uptime:
            now = float(uptime.read().split()[0])
        return max(0.0, now - int(fields[19]) / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return None


class _PhaseTimer:
    """Wall time of each phase of ``nhsrisk run``, printed on stderr with ``--timings``."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = self.last = time.perf_counter()
        self.phases: list[tuple[str, float]] = []
        age = _process_age() if enabled else None
        if age is not None:
            self.phases.append(("start Python, import nhsrisk", age))
            self.started -= age

    def lap(self, phase: str) -> None:
        """Record the time since the end of the last phase as ``phase``."""
        now = time.perf_counter()
        self.phases.append((phase, now - self.last))
        self.last = now

    @contextlib.contextmanager
    def __call__(self, phase: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.last = time.perf_counter()
            self.phases.append((phase, self.last - began))

    def report(self) -> None:
        if not self.enabled:
            return
        total = time.perf_counter() - self.started
        width = max(len(name) for name, _ in [*self.phases, ("other", 0.0)])
        lines = [f"  {name:<{width}}  {seconds:6.3f} s" for name, seconds in self.phases]
        other = total - sum(seconds for _, seconds in self.phases)
        lines.append(f"  {'other':<{width}}  {other:6.3f} s")
        lines.append(f"  {'total':<{width}}  {total:6.3f} s")
        print("Timings (wall):\n" + "\n".join(lines), file=sys.stderr)


def _load_baseline(scenario: Scenario, given: str) -> Scenario | None:
    """Return the scenario named by ``scenario.baseline`` (None when there is none).

    A name is looked up as :func:`nhsrisk.load_scenario` does; a path that is
    not found as given is tried next to the scenario file that names it.
    """
    import nhsrisk

    if scenario.baseline is None or scenario.baseline == scenario.name:
        return None
    try:
        return nhsrisk.load_scenario(scenario.baseline)
    except FileNotFoundError:
        beside = Path(given).parent / scenario.baseline
        if Path(given).is_file() and beside.is_file():
            return nhsrisk.load_scenario(beside)
        raise FileNotFoundError(
            f"the baseline of scenario {scenario.name!r}, {scenario.baseline!r}, is neither a shipped "
            f"scenario {list(BUILTIN_SCENARIOS)} nor a file"
        ) from None


def _run_summary_only(
    args: argparse.Namespace,
    scenario: Scenario,
    out: Path,
    client: Client | None,
    record: dict[str, Any],
    installed: list[Path],
    baseline: Scenario | None = None,
) -> int:
    import nhsrisk

    summary = nhsrisk.simulate(
        scenario,
        draws=args.draws,
        seed=args.seed,
        keep="summary",
        chunks=args.chunks,
        client=client,
        progress=args.progress,
    )
    record["seed"] = str(summary.attrs["seed"])

    printed = streaming_table(summary)
    if baseline is not None:
        printed += (
            f"\n\nThe change against the baseline {baseline.name} needs the draws of both runs: "
            "run without --summary-only to see it."
        )

    def fill(folder: Path) -> None:
        (folder / SUMMARY_FILE).write_text(printed + "\n", encoding="utf-8")
        summary.to_netcdf(folder / "summary.nc", engine="h5netcdf")
        _write_manifest(folder, record)

    out.parent.mkdir(parents=True, exist_ok=True)
    write_folder_atomically(out, fill)
    installed.append(out)
    print(printed)
    print(f"\nWrote {out / SUMMARY_FILE}, {out / 'summary.nc'}, {out / MANIFEST}")
    return 0


def streaming_table(streamed: xr.Dataset) -> str:
    """Print-ready summary of a streamed run, as ``nhsrisk run --summary-only`` shows it.

    Parameters
    ----------
    streamed : xarray.Dataset
        Output of ``nhsrisk.simulate(..., keep="summary")``.

    Returns
    -------
    str
        ``repr(nhsrisk.summary(streamed))``: the same table as for a run that
        keeps its draws (quantiles and their intervals from the KLL sketch,
        means and probabilities exact; no mean of the worst outcomes, which a
        sketch cannot give), then a line on the sketch's rank error.

    Examples
    --------
    >>> import nhsrisk
    >>> print(streaming_table(nhsrisk.simulate(draws=2_000, seed=3, keep="summary")))  # doctest: +ELLIPSIS
    nhsrisk summary of as-announced, 2,000 draws, seed 3, 2023/24 prices
    ...
    Quantiles from a KLL sketch: rank error within 0.35% (99% confidence); means and probabilities exact.
    """
    return (
        f"{summary(streamed)!r}\n\nQuantiles from a KLL sketch: rank error within "
        f"{streamed.attrs['quantile_rank_error']:.2%} (99% confidence); means and probabilities exact."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``nhsrisk`` console script."""
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except BrokenPipeError:
        # The reader closed the pipe (`nhsrisk run | head`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def console_main() -> None:
    """Entry point of the ``nhsrisk`` console script: :func:`main`, then exit at once.

    A finished command has nothing left to do (its files are written, synced and
    renamed into place), so the process ends without the interpreter's teardown,
    which after a simulation takes about half a second: numba's compiled code and
    the modules of xarray, pandas and matplotlib are taken apart object by object.
    Standard output and error are flushed first.
    """
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # the reader went away after main returned
        code = code or 1
    os._exit(code)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return run(args)
    if args.command == "scenarios":
        print(scenarios_table())
        return 0
    if args.command == "report":
        try:
            written = write_report(args.results, args.out, overwrite=args.force)
        except (ValueError, OSError, NotImplementedError) as err:  # NotImplementedError: weighted results
            print(f"nhsrisk report: {' '.join(str(err).splitlines())}", file=sys.stderr)
            return 2
        print(f"Wrote {written}")
        return 0
    if args.command == "update":
        return update_run(args)
    if args.command == "describe":
        import nhsrisk

        try:
            print(nhsrisk.load_scenario(args.scenario).to_markdown(), end="")
        except (ValueError, FileNotFoundError) as err:
            print(f"nhsrisk describe: {err}", file=sys.stderr)
            return 2
        return 0
    return 2  # pragma: no cover - argparse enforces the choices


if __name__ == "__main__":  # pragma: no cover
    console_main()
