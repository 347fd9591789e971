"""Publication-quality figures of nhsrisk results, one call each.

Every function draws on a matplotlib Axes and returns it: the ``ax`` given,
or a new figure of 7 x 4.5 inches (constrained layout) when ``ax`` is None.
None of them calls ``plt.show()``. The numbers drawn come from
:mod:`nhsrisk.stats` and :mod:`nhsrisk.experiments` (as arviz-plots takes
its numbers from arviz-stats), so a figure shows exactly what those
functions return.

Notes
-----
Conventions shared by every figure:

- Money is shown in the unit of the largest absolute amount drawn, target
  included: GBP bn from GBP 1bn up, GBP m from GBP 1m, GBP k from GBP 1,000,
  else GBP (the same rule as the summary tables, which write the unit £bn,
  £m, £k); per-year amounts read "GBP bn/year". Hours are shown in million
  hours, dimensionless ratios as "ratio", probabilities in %.
- Per-year plots put the financial years ("2025/26") on the x axis.
- Colours come from the Okabe-Ito palette (Okabe and Ito 2008, "Color
  universal design"), which stays distinguishable with the common
  colour-vision deficiencies and, through its spread of lightness, in
  greyscale print; heat maps use viridis, which is perceptually uniform and
  also colour-blind safe. Font sizes come from ``matplotlib.rcParams``.
- A per-year output with programme or staff-group dimensions (``value``,
  ``spend``, ``hours_released``...) is summed over them when its units are
  an amount (GBP, GBP/year, hours/year); select one with ``ds.sel(...)``
  to see it alone. Shares and flags (units "1") are never summed.
- The ``target`` of :func:`fan`, :func:`distribution`, :func:`exceedance`
  and :func:`compare`: ``True`` draws the output's own threshold where it
  has one (the claimed return ``ds["claimed_return"]`` for
  ``cumulative_value``, break-even 0 for ``npv`` and 1 for ``bcr``), a number
  draws that level (in the output's units, GBP for money), ``False`` none.
- Titles say what is shown, then, on a line of their own, the scenario: the
  head of its title (the part before the first colon, ``"Ring-fenced"``;
  the whole title is ``ds.attrs["scenario_title"]``) and, for a variant made
  with :meth:`nhsrisk.Scenario.with_values`, what was changed
  (``"... with risks.digital_exclusion = 0.1"``; two changes at most, then
  their count).
- Updated results (:func:`nhsrisk.update`, with importance weights as the
  ``weight`` coordinate) are drawn weighted by :func:`fan`,
  :func:`distribution`, :func:`exceedance` and :func:`payback`: weighted
  quantiles (the weighted empirical CDF inverted, as
  :func:`nhsrisk.stats.describe` computes them), a histogram of the weight,
  the share of the weight at or above each level, and probabilities of
  payback as shares of the weight, their errors from Kish's effective number
  of draws. A last line of the title then says so, in the words of the
  printed summary: ``"Weighted by 2 observations (1,234 effective
  draws)"``. :func:`compare` and :func:`heatmap` refuse weighted results
  (``NotImplementedError``, saying why); the other figures take the output
  of an experiment, which re-simulates the scenario and has no weights.
- Inputs are named by their labels from the scenario
  (:meth:`nhsrisk.Scenario.input_label`: ``"Patient services: value of a
  contact moved online (GBP/contact)"``), which the results carry (the
  ``input_label`` coordinate of the experiments, the ``label`` attribute of
  each sampled input of :func:`nhsrisk.simulate`); ``labels="key"`` shows
  the key paths instead.
- A footer at the foot of the figure gives the draws, the seed, the price
  base and the nhsrisk version (``"100,000 draws · seed 2024 · 2023/24
  prices · nhsrisk 0.1.0"``). It belongs to the figure, not to an axes:
  plots drawn on the axes of one figure (``ax=``) share one footer, with a
  line for each run that differs. The figure's layout engine (constrained,
  as nhsrisk's own figures have, or tight) keeps the axes clear of it; on a
  figure without one, make room with ``fig.subplots_adjust(bottom=...)``.
  ``footer=False`` leaves it out.
- Probabilities below 0.01% print as ``"< 0.01%"`` and those within 0.01%
  of certainty as ``"> 99.99%"`` (exactly 0 and 1, no draw or every draw,
  stay ``"0%"`` and ``"100%"``); standard errors keep their digits.
- A legend lists only what is drawn, and there is none when nothing drawn
  has a label.

matplotlib is imported inside the functions: importing :mod:`nhsrisk` does
not import ``matplotlib.pyplot``.

Examples
--------
>>> import matplotlib; matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> import nhsrisk
>>> import nhsrisk.plot
>>> ax = nhsrisk.plot.fan(nhsrisk.simulate(draws=500, seed=1))
>>> [text.get_text() for text in ax.get_legend().get_texts()]
['5-95%', '25-75%', 'median', 'claimed return']
>>> plt.close(ax.figure)
"""

from __future__ import annotations

import math
import numbers
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from nhsrisk import history, stats
from nhsrisk._format import FIGURE_RESOLUTION, money_unit, ordinal, percent, significant
from nhsrisk._validate import _described, _message, check_count, refuse_weighted
from nhsrisk._version import __version__
from nhsrisk.scenario import scenario_from_attrs
from nhsrisk.simulation import OUTPUTS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from nhsrisk.scenario import Scenario

__all__ = [
    "OKABE_ITO",
    "PlotAccessor",
    "compare",
    "distribution",
    "equity",
    "exceedance",
    "fan",
    "heatmap",
    "payback",
    "sobol",
    "spider",
    "tornado",
    "uptake_priors",
    "waterfall",
]

#: The Okabe-Ito colour-blind-safe palette, by name.
OKABE_ITO: dict[str, str] = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
# Order for series: yellow last, as it is the hardest to see on white paper.
_SERIES_COLOURS = tuple(
    OKABE_ITO[name]
    for name in (
        "blue",
        "orange",
        "bluish_green",
        "vermillion",
        "reddish_purple",
        "sky_blue",
        "black",
        "yellow",
    )
)
_SERIES_STYLES = ("-", "--", ":", "-.")
_FIGURE_SIZE = (7.0, 4.5)
_FAN_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
# Box plots: box from the quartiles, whiskers from the 5th to the 95th percentile.
_BOX_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
_SUMMABLE_DIMS = {"programme": "all programmes", "staff_group": "all staff groups"}
_AMOUNT_UNITS = ("GBP", "GBP/year", "hours", "hours/year", "FTE")
_HEATMAP_STATISTICS = ("mean", "median", "probability")
# Two-sided 95% normal quantile, scipy.stats.norm.ppf(0.975), for intervals from a standard error.
_Z95 = 1.959963984540054
# Characters per line before a title or axis label wraps, for a 7-inch figure at rcParams font sizes.
_TITLE_WIDTH = 60
# The same over axes that long tick labels of inputs push to the right (tornado, Sobol' indices).
_NARROW_TITLE_WIDTH = 44
_NARROW_XLABEL_WIDTH = 56
# Empty rows under the bars of a tornado chart, for its legend.
_LEGEND_ROWS = 2.0
# A scenario title's head longer than this is shortened on a figure (the full title is in the attrs).
_HEADLINE_WIDTH = 60
# Changes of a variant listed in a title; more are counted ("and 2 more changes").
_CHANGES_SHOWN = 2
# The footer: one Text per figure, found again by its gid when another plot joins the figure.
_FOOTER_GID = "nhsrisk-footer"
_FOOTER_SIZE = "x-small"
_FOOTER_SEPARATOR = " \u00b7 "
_FOOTER_MARGIN = 0.05  # inches between the footer and the figure's edge, and between it and the axes
_LABEL_STYLES = ("readable", "key")
# Characters per line of an input's tick label, and the height of one of its lines (inches, "small" type).
_TICK_WIDTH = 34
_TICK_LINE = 0.15
_XLABEL_WIDTH = 80
_YLABEL_WIDTH = 44


# --------------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------------


def _check_ax(ax: Any, caller: str) -> None:
    if ax is None:
        return
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(_message("ax", caller, "a matplotlib Axes or None", type(ax).__name__))


def render_png(draw: Callable[[Axes], Any], *, height: float = _FIGURE_SIZE[1], dpi: int = 150) -> bytes:
    """Draw one chart on a fresh figure, outside pyplot, and return it as PNG bytes.

    Not a chart of results (so not in ``__all__``, which the ``.nhsrisk.plot``
    accessor mirrors): the renderer that ``nhsrisk run`` and the report share.
    The figure is the size the plots here draw at (7 inches wide), laid out by
    matplotlib's constrained layout; the PNG carries no software version, so
    the same chart gives the same bytes. ``nhsrisk run`` writes its figures and
    the report embeds its figures through this function.

    Parameters
    ----------
    draw : callable
        Called with the new Axes; draws the chart (``lambda ax: plot.fan(ds, ax=ax)``).
    height : float, default=4.5
        Height of the figure [inches].
    dpi : int, default=150
        Resolution [dots per inch].

    Returns
    -------
    bytes
        The PNG file.

    Examples
    --------
    >>> import nhsrisk
    >>> png = render_png(lambda ax: fan(nhsrisk.simulate(draws=500, seed=1), ax=ax))
    >>> png[1:4]  # the PNG signature
    b'PNG'
    """
    import io

    from matplotlib.figure import Figure

    fig = Figure(figsize=(_FIGURE_SIZE[0], height), layout="constrained")
    draw(fig.add_subplot())
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def _new_axes(ax: Axes | None, height: float = _FIGURE_SIZE[1], width: float = _FIGURE_SIZE[0]) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=(width, height), layout="constrained")
    return new


def _check_dataset(value: Any, name: str, caller: str, kind: str) -> xr.Dataset:
    if not isinstance(value, xr.Dataset):
        raise TypeError(_message(name, caller, kind, type(value).__name__))
    return value


def _describe_dataset(ds: xr.Dataset) -> str:
    names = list(map(str, ds.data_vars))
    shown = ", ".join(map(repr, names[:8])) + (", ..." if len(names) > 8 else "")
    return f"a Dataset with dimensions {dict(ds.sizes)} and variables [{shown}]"


def _require(
    ds: xr.Dataset, name: str, caller: str, kind: str, variables: dict[str, tuple[str, ...]]
) -> None:
    """Refuse ``ds`` unless each variable exists with exactly the listed dimensions (any order)."""
    for variable, dims in variables.items():
        if variable not in ds.data_vars or set(ds[variable].dims) != set(dims):
            raise ValueError(
                f"The {name!r} parameter of {caller} must be {kind}. Got {_describe_dataset(ds)} instead."
            )


def _check_finite(values: np.ndarray, name: str, caller: str, what: str) -> None:
    bad = values.size - int(np.isfinite(values).sum())
    if bad:
        raise ValueError(
            _described(name, caller, f"a Dataset whose {what} is finite", f"{bad} NaN or infinite values")
        )


def _check_top(top: Any, caller: str) -> int:
    return check_count(top, "top", caller)


def _check_target(target: Any, caller: str) -> bool | float:
    allowed = "True, False or a finite number (in the output's units)"
    if isinstance(target, bool | np.bool_):
        return bool(target)
    if not isinstance(target, numbers.Real):
        raise TypeError(_message("target", caller, allowed, target))
    if not math.isfinite(target):
        raise ValueError(_message("target", caller, allowed, target))
    return float(target)


def _check_results(ds: Any, caller: str, name: str = "ds") -> xr.Dataset:
    kind = "a results Dataset from nhsrisk.simulate (with a 'draw' dimension)"
    ds = _check_dataset(ds, name, caller, kind)
    if "draw" not in ds.dims:
        raise ValueError(_described(name, caller, kind, _describe_dataset(ds)))
    return ds


# --------------------------------------------------------------------------------------------------
# Reading outputs
# --------------------------------------------------------------------------------------------------


def _lower_first(text: str) -> str:
    """``"Net present value"`` -> ``"net present value"``, leaving acronyms (``"NPV"``) alone."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


def _summed(
    ds: xr.Dataset, variable: str, caller: str, keep: Sequence[str] = (), *, weighted: bool = False
) -> tuple[xr.DataArray, str, str]:
    """Return the variable summed over programmes/staff groups (amounts only), its label and units.

    Dimensions in ``keep`` (the swept parameters of a sweep) stay; any other is refused. With
    ``weighted`` the importance weights of updated results travel as the ``weight`` coordinate
    (the caller uses them); without, weighted results are refused.
    """
    da = stats._variable(ds, variable, caller, weighted=weighted)
    # compare_options drops the variables' attrs: fall back on the output table of simulate
    _, known_label, known_units = OUTPUTS.get(variable, ((), variable, ""))[:3]
    units = str(da.attrs.get("units", known_units))
    label = str(da.attrs.get("long_name", known_label))
    extra = [str(d) for d in da.dims if d not in ("year", "draw", *keep)]
    allowed = [d for d in extra if d in _SUMMABLE_DIMS]
    if extra and (allowed != extra or units not in _AMOUNT_UNITS):
        raise ValueError(
            _described(
                "variable",
                caller,
                "an output that has only 'year' and 'draw' dimensions, or an amount (GBP, GBP/year, "
                "hours/year) to sum over programmes and staff groups; select one first, such as "
                f"ds.sel({extra[0]}=...)",
                f"{variable!r} with dims {da.dims} in units {units!r}",
            )
        )
    if extra:
        # skipna=False: a NaN must reach the finiteness check, not vanish from the sum
        da = da.sum(extra, skipna=False, keep_attrs=True)
        label += ", " + ", ".join(_SUMMABLE_DIMS[d] for d in extra)
    _check_finite(np.asarray(da.values, dtype=float), "ds", caller, repr(variable))
    return da, label, units


def _years(ds: xr.Dataset) -> list[str]:
    return [str(year) for year in ds["year"].values] if "year" in ds.coords else []


def _check_year(ds: xr.Dataset, year: Any, caller: str) -> str:
    years = _years(ds)
    if year is None:
        return stats._target_year(ds, caller)
    if str(year) not in years or not isinstance(year, str):
        raise ValueError(_message("year", caller, f"one of the financial years {years} or None", year))
    return year


def _per_draw(
    ds: xr.Dataset, variable: str, year: Any, caller: str, keep: Sequence[str] = (), *, weighted: bool = False
) -> tuple[xr.DataArray, str, str, str | None]:
    """Per-draw values of ``variable``; a per-year one in ``year`` (default the target year)."""
    da, label, units = _summed(ds, variable, caller, keep, weighted=weighted)
    if "year" not in da.dims:
        if year is not None:
            raise ValueError(
                _message("year", caller, f"None for {variable!r}, which has no 'year' dimension", year)
            )
        return da, label, units, None
    chosen = _check_year(ds, year, caller)
    preposition = "by" if variable == "cumulative_value" else "in"
    return da.sel(year=chosen, drop=True), f"{label} {preposition} {chosen}", units, chosen


def _describe(da: xr.DataArray, quantiles: Sequence[float], caller: str) -> xr.Dataset:
    try:
        return stats.describe(da, quantiles=tuple(quantiles))
    except ValueError as error:
        raise ValueError(f"{caller}: {error}") from error


def _reference(
    ds: xr.Dataset, variable: str, target: bool | float, caller: str, claimed: Any = None
) -> tuple[np.ndarray, str] | None:
    """Return the level to mark (in the output's units) and its legend label, or None.

    ``claimed`` replaces ``ds["claimed_return"]`` (a compare_options Dataset keeps it in its attrs).
    """
    if target is False:
        return None
    if target is not True:
        return np.asarray(float(target)), "target"
    if variable == "cumulative_value":
        if claimed is None:
            if "claimed_return" not in ds.data_vars:
                raise ValueError(
                    _message(
                        "target",
                        caller,
                        "False, or a number in GBP, when ds has no 'claimed_return' variable",
                        target,
                    )
                )
            claimed = ds["claimed_return"].values
        claimed = np.asarray(claimed, dtype=float)
        if not np.isfinite(claimed).all():
            raise ValueError(_message("ds", caller, "a Dataset with a finite 'claimed_return'", claimed))
        return claimed, "claimed return"
    if variable == "npv":
        return np.asarray(0.0), "break-even (NPV = 0)"
    if variable == "bcr":
        return np.asarray(1.0), "break-even (BCR = 1)"
    return None


# --------------------------------------------------------------------------------------------------
# Units and labels
# --------------------------------------------------------------------------------------------------


def _scale(units: str, *values: Any) -> tuple[float, str]:
    """Divisor and unit label for an axis: GBP in the unit of the largest amount shown (module notes)."""
    if units in ("GBP", "GBP/year"):
        money = money_unit(*(v for v in values if v is not None))
        return money.divisor, f"{money.code}{units[3:]}"
    if units in ("hours", "hours/year"):
        return 1e6, f"million {units}"
    if units == "1":
        return 1.0, "ratio"
    return 1.0, units


def _with_units(label: str, unit_label: str) -> str:
    return f"{label} ({unit_label})" if unit_label else label


def _number(value: float) -> str:
    return significant(float(value), 3)


def _figure_percent(p: float) -> str:
    """Write a probability for a figure: ``"12.3%"``, ``"< 0.01%"``, ``"> 99.99%"`` (module notes)."""
    return percent(p, resolution=FIGURE_RESOLUTION)


def _amount(value: float, unit_label: str) -> str:
    """``"7.00"`` and ``"GBP bn"`` -> ``"GBP 7.00bn"``; other units follow the number."""
    if unit_label.startswith("GBP "):
        sign = "-" if value < 0 else ""
        return f"{sign}GBP {_number(abs(value))}{unit_label[4:]}"
    return f"{_number(value)} {unit_label}".strip()


def _reference_label(reference: tuple[np.ndarray, str], scale: float) -> str:
    """Legend label of a reference line: with its value, unless the label states it (``NPV = 0``)."""
    name = reference[1]
    return name if "=" in name else f"{name} ({_number(float(reference[0]) / scale)})"


def _headline(title: str) -> str:
    """Return the head of a scenario title: the part before its first colon when that is short.

    Shipped titles read ``"Ring-fenced: as announced, with ..."``; the head names the
    scenario, and the rest (in the results' ``scenario_title``) would fill the figure.
    """
    head, colon, _ = title.partition(": ")
    if colon and len(head) <= _HEADLINE_WIDTH:
        return head
    return textwrap.shorten(title, _HEADLINE_WIDTH, placeholder=" ...")


def _scenario_line(attrs: Mapping[str, Any], *, with_changes: bool = True) -> str:
    """Which scenario a figure shows: its title's head, and for a variant what was changed."""
    title = attrs.get("scenario_title")
    line = _headline(str(title)) if title else str(attrs.get("scenario_name", ""))
    changes = str(attrs.get("scenario_changes", "")) if with_changes else ""
    if line and changes:
        shown = changes.split("; ")
        # a change wraps as a whole where it can: "risks.x = 0.1", not "risks.x" then "= 0.1"
        listed = "; ".join(change.replace(" = ", "\u00a0=\u00a0") for change in shown[:_CHANGES_SHOWN])
        if len(shown) > _CHANGES_SHOWN:
            listed += f" and {len(shown) - _CHANGES_SHOWN} more changes"
        line += f" with {listed}"
    return line


def _title(obj: xr.Dataset | Mapping[str, Any], what: str, weighting: str = "") -> str:
    """Title of a figure: what it shows, then (on its own line) the scenario it shows it for.

    ``weighting`` (from :func:`_weighting`), how updated results were weighted, takes a last line.
    """
    attrs = obj.attrs if isinstance(obj, xr.Dataset) else obj
    lines = [what[:1].upper() + what[1:], _scenario_line(attrs), weighting[:1].upper() + weighting[1:]]
    return "\n".join(line for line in lines if line)


def _weighting(obj: xr.Dataset | xr.DataArray | Mapping[str, Any], attrs: Mapping[str, Any]) -> str:
    """How a figure's draws are weighted, in the summary's words; ``""`` for unweighted results.

    ``obj`` is the run (its ``weight`` coordinate) or a result's attributes that record the
    weighting (``effective_draws``, as :func:`nhsrisk.stats.payback` keeps it); ``attrs`` holds
    the ``observations`` that :func:`nhsrisk.update` recorded.

    Examples
    --------
    >>> import xarray as xr
    >>> run = xr.Dataset(coords={"weight": ("draw", [0.5, 0.25, 0.25])})
    >>> _weighting(run, {"observations": '[{"output": "spend"}]'})
    'weighted by 1 observation (2 effective draws)'
    >>> _weighting({"effective_draws": 900}, {})
    'importance-weighted (900 effective draws)'
    """
    if isinstance(obj, xr.Dataset | xr.DataArray):
        weights = stats._weights_of(obj)
        if weights is None:
            return ""
        effective = stats._effective_draws(weights)
    elif "effective_draws" in obj:
        effective = int(obj["effective_draws"])
    else:
        return ""
    return stats._weighting_text(attrs.get("observations"), effective)


def _wrap(text: str, width: int) -> str:
    return textwrap.fill(text, width, break_long_words=False, break_on_hyphens=False)


def _set_title(ax: Axes, text: str, width: int = _TITLE_WIDTH) -> None:
    # each line of the title wraps on its own, so the scenario keeps a line of its own
    ax.set_title("\n".join(_wrap(line, width) for line in text.split("\n")))


def _xlabel(ax: Axes, text: str, width: int = _XLABEL_WIDTH) -> None:
    ax.set_xlabel(_wrap(text, width))


def _ylabel(ax: Axes, text: str) -> None:
    ax.set_ylabel(_wrap(text, _YLABEL_WIDTH))


def _key_label(key: str, width: int = 34) -> str:
    """Break a long key path after its dots, so tick labels do not squeeze the plot."""
    lines = [""]
    for part in re.findall(r"[^.]+\.?", key):
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)


def _rows_height(ticks: Sequence[str], least: float, extra_rows: float = 0.0) -> float:
    """Height of a new figure of one row per tick label: room for each label's lines, at least ``least``."""
    lines = max((tick.count("\n") + 1 for tick in ticks), default=1)
    row = max(least, _TICK_LINE * lines + 0.1)
    return max(_FIGURE_SIZE[1], 1.6 + row * (len(ticks) + extra_rows))


def _legend(ax: Axes, **kwargs: Any) -> None:
    """Legend of the labelled artists drawn, or none when nothing drawn has a label."""
    handles, _ = ax.get_legend_handles_labels()
    if handles:
        ax.legend(**{"frameon": False, **kwargs})


def _footer_text(attrs: Mapping[str, Any], per: str | None = None) -> str:
    """Write the line that says how a result was made: draws, seed, price base, nhsrisk version.

    Parameters
    ----------
    attrs : mapping
        Attributes of a result (``n_draws``, ``seed``, ``price_base``,
        ``nhsrisk_version``; a Sobol' analysis's ``base_samples``); the
        missing ones are left out.
    per : str, optional
        What the draws are counted per, for results of many runs (``"cell"``,
        ``"option"``, ``"run"``).

    Returns
    -------
    str
        Such as ``"100,000 draws · seed 2024 · 2023/24 prices · nhsrisk 0.1.0"``.

    Examples
    --------
    >>> attrs = {"n_draws": 100_000, "seed": "2024", "price_base": "2023/24", "nhsrisk_version": "0.1.0"}
    >>> _footer_text(attrs)
    '100,000 draws · seed 2024 · 2023/24 prices · nhsrisk 0.1.0'
    >>> _footer_text({"n_draws": 500, "seed": "1"}, per="cell")
    '500 draws per cell · seed 1'
    """
    parts = []
    if "n_draws" in attrs:
        parts.append(f"{int(attrs['n_draws']):,} draws" + (f" per {per}" if per else ""))
    if "base_samples" in attrs:
        parts.append(f"Saltelli design of {int(attrs['base_samples']):,} base samples")
    for key, template in (
        ("seed", "seed {}"),
        ("price_base", "{} prices"),
        ("nhsrisk_version", "nhsrisk {}"),
    ):
        if attrs.get(key) not in (None, ""):
            parts.append(template.format(attrs[key]))
    return _FOOTER_SEPARATOR.join(parts)


def _check_flag(value: Any, name: str, caller: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(_message(name, caller, "True or False", value))
    return value


def _check_labels(labels: Any, caller: str) -> str:
    if labels not in _LABEL_STYLES:
        raise ValueError(_message("labels", caller, f"one of {list(_LABEL_STYLES)}", labels))
    return str(labels)


def _input_names(result: xr.Dataset, labels: str) -> list[str]:
    """How a result's inputs are named on the figure: readable labels (``input_label``), or key paths.

    A result without readable labels (from :func:`nhsrisk.sobol.sobol_indices`, or
    saved by an earlier nhsrisk) shows its key paths.
    """
    source = "input_label" if labels == "readable" and "input_label" in result.coords else "input"
    return [str(name) for name in result[source].values]


def _tick_label(name: str, labels: str, width: int) -> str:
    """Wrap an input's name for a tick label or legend: a key path after its dots, a label at spaces."""
    return _key_label(name, width) if labels == "key" else _wrap(name, width)


def _footer(ax: Axes, attrs: Mapping[str, Any], footer: bool, per: str | None = None) -> None:
    """Write the run's footer at the bottom of the figure: one footer per figure, whatever its axes.

    Several plots on one figure share its footer; a run that differs from those
    already there adds a line. The figure's layout engine (constrained or tight)
    keeps the axes above it; without one, nothing moves and the footer may
    meet the lowest tick labels (``fig.subplots_adjust(bottom=...)`` makes room).
    """
    text = _footer_text(attrs, per)
    if not footer or not text:
        return
    from matplotlib.font_manager import FontProperties
    from matplotlib.layout_engine import ConstrainedLayoutEngine, TightLayoutEngine

    figure = ax.get_figure(root=True)
    if figure is None:
        return
    existing = [t for t in figure.texts if t.get_gid() == _FOOTER_GID]
    lines = existing[0].get_text().split("\n") if existing else []
    if text not in lines:
        lines.append(text)
    if existing:
        existing[0].set_text("\n".join(lines))
    else:
        figure.text(
            0.5,
            _FOOTER_MARGIN / figure.get_figheight(),
            text,
            ha="center",
            va="bottom",
            fontsize=_FOOTER_SIZE,
            color="0.4",
            gid=_FOOTER_GID,
        )
    # room for the footer's lines (at 1.2 line spacing) and a margin above and below them
    points = FontProperties(size=_FOOTER_SIZE).get_size_in_points()
    inches = len(lines) * 1.2 * points / 72 + 2 * _FOOTER_MARGIN
    share = inches / figure.get_figheight()
    engine = figure.get_layout_engine()
    if isinstance(engine, ConstrainedLayoutEngine):
        engine.set(rect=(0.0, share, 1.0, 1.0 - share))
    elif isinstance(engine, TightLayoutEngine):
        engine.set(rect=(0.0, share, 1.0, 1.0))


def _tidy(ax: Axes) -> None:
    """No chartjunk: drop the top and right frame lines."""
    ax.spines[["top", "right"]].set_visible(False)


def _year_axis(ax: Axes, years: list[str]) -> np.ndarray:
    x = np.arange(len(years))
    if len(years) > 6:  # ten years of "2025/26" do not fit side by side on a 7-inch axis
        ax.set_xticks(x, labels=years, rotation=45, ha="right", rotation_mode="anchor")
    else:
        ax.set_xticks(x, labels=years)
    _xlabel(ax, "Financial year")
    return x


def _line_style(index: int) -> dict[str, Any]:
    colours = len(_SERIES_COLOURS)
    return {
        "color": _SERIES_COLOURS[index % colours],
        "linestyle": _SERIES_STYLES[(index // colours) % len(_SERIES_STYLES)],
    }


# --------------------------------------------------------------------------------------------------
# Results of simulate
# --------------------------------------------------------------------------------------------------


def fan(
    ds: xr.Dataset,
    variable: str = "cumulative_value",
    *,
    target: bool | float = True,
    before: xr.Dataset | None = None,
    ax: Axes | None = None,
    footer: bool = True,
    **kwargs: Any,
) -> Axes:
    """Fan chart of a per-year output: percentile bands and median by financial year.

    The bands are the 5th-95th and 25th-75th percentiles over the draws and
    the line the median, all from :func:`nhsrisk.stats.describe`
    (``quantile_estimate``). For updated results they are the weighted
    quantiles (the weighted empirical CDF inverted), and the title says how
    the draws were weighted.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of :func:`nhsrisk.simulate` or :func:`nhsrisk.update`.
    variable : str, default="cumulative_value"
        A per-year output (dimension ``year``): ``cumulative_value`` (GBP),
        or an amount such as ``value``, ``spend`` (GBP/year) or
        ``hours_released`` (hours/year), summed over programmes and staff
        groups (``ds.sel(programme=...)`` shows one programme).
    target : bool or float, default=True
        Horizontal line: ``True`` marks the claimed return
        (``ds["claimed_return"]``, GBP, to be reached by
        ``ds.attrs["target_year"]``) for ``cumulative_value`` and nothing for
        other outputs; a number marks that level (output units); ``False`` none.
    before : xarray.Dataset, optional
        The run before an update (:func:`nhsrisk.update`), with the same
        years: its 5-95% band and median are drawn as grey lines behind the
        updated fan, so the figure shows what the observations changed.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default a new 7 x 4.5 inch figure.
    footer : bool, default=True
        Write the draws, seed, price base and nhsrisk version under the
        figure (one footer per figure; see the module notes).
    **kwargs
        Passed to ``ax.plot`` for the median line.

    Returns
    -------
    matplotlib.axes.Axes
        Legend entries ``"5-95%"``, ``"25-75%"``, ``"median"``, the target's
        (``"claimed return"``) and, with ``before``, ``"before the update:
        5-95%"`` and ``"before the update: median"``; money in GBP bn (GBP m
        below GBP 1bn).

    Raises
    ------
    TypeError
        If ``ds`` is not a Dataset or ``ax`` not an Axes.
    ValueError
        If ``variable`` is unknown or has no ``year`` dimension, the values
        are not finite, or ``target=True`` asks for a missing claimed return.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import nhsrisk
    >>> import nhsrisk.plot
    >>> ax = nhsrisk.plot.fan(nhsrisk.simulate(draws=500, seed=1))
    >>> " ".join(ax.get_ylabel().split())
    'Cumulative undiscounted value, all programmes (GBP bn)'
    >>> [label.get_text() for label in ax.get_xticklabels()][:2]
    ['2025/26', '2026/27']
    >>> plt.close(ax.figure)

    Before and after an update:

    >>> prior = nhsrisk.simulate(draws=2_000, seed=1)
    >>> posterior = nhsrisk.update(prior, nhsrisk.load_observations("2025-26"))
    >>> ax = nhsrisk.plot.fan(posterior, before=prior)
    >>> [t.get_text() for t in ax.get_legend().get_texts()][3:5]
    ['before the update: 5-95%', 'before the update: median']
    >>> plt.close(ax.figure)
    """
    caller = "fan"
    _check_ax(ax, caller)
    footer = _check_flag(footer, "footer", caller)
    ds = _check_results(ds, caller)
    target = _check_target(target, caller)
    da, label, units = _summed(ds, variable, caller, weighted=True)
    if "year" not in da.dims:
        raise ValueError(
            _described(
                "variable",
                caller,
                "a per-year output (with a 'year' dimension), such as 'cumulative_value', 'value' or 'spend'",
                f"{variable!r} with dims {da.dims}",
            )
        )
    reference = _reference(ds, variable, target, caller)
    described = _describe(da.transpose("year", "draw"), _FAN_QUANTILES, caller)
    bands = described["quantile_estimate"].transpose("year", "quantile").values
    earlier: np.ndarray | None = None
    if before is not None:
        before = _check_results(before, caller, "before")
        if _years(before) != _years(ds):
            allowed = f"the run before the update, with the same years {_years(ds)}"
            raise ValueError(_described("before", caller, allowed, f"years {_years(before)}"))
        before_da = _summed(before, variable, caller, weighted=True)[0]
        described_before = _describe(before_da.transpose("year", "draw"), _FAN_QUANTILES, caller)
        earlier = described_before["quantile_estimate"].transpose("year", "quantile").values
    reference_level = None if reference is None else reference[0]
    scale, unit_label = _scale(units, bands, earlier, reference_level)
    bands = bands / scale
    ax = _new_axes(ax)
    x = _year_axis(ax, _years(ds))
    blue = OKABE_ITO["blue"]
    ax.fill_between(x, bands[:, 0], bands[:, 4], color=blue, alpha=0.2, linewidth=0, label="5-95%")
    ax.fill_between(x, bands[:, 1], bands[:, 3], color=blue, alpha=0.4, linewidth=0, label="25-75%")
    median_style: dict[str, Any] = {"color": blue, "linewidth": 2.0, "label": "median", **kwargs}
    ax.plot(x, bands[:, 2], **median_style)
    if earlier is not None:
        earlier = earlier / scale
        grey: dict[str, Any] = {"color": "0.35", "linewidth": 1.3}
        ax.plot(x, earlier[:, 0], linestyle="--", label="before the update: 5-95%", **grey)
        ax.plot(x, earlier[:, 4], linestyle="--", **grey)
        ax.plot(x, earlier[:, 2], linestyle=":", label="before the update: median", **grey)
    if reference is not None:
        level, name = float(reference[0]) / scale, reference[1]
        target_year = ds.attrs.get("target_year") if variable == "cumulative_value" else None
        years = _years(ds)
        end = x[years.index(target_year)] if target_year in years else x[-1]
        style: dict[str, Any] = {
            "color": OKABE_ITO["vermillion"],
            "linestyle": "--",
            "linewidth": 1.5,
            "label": name,
        }
        if target_year in years:
            # the claim is to be met by the target year: the line spans the claim window only
            ax.plot([x[0], end], [level, level], **style)
            if end != x[-1]:
                ax.axvline(end, color="0.6", linestyle=":", linewidth=1.0)
                ax.annotate(
                    "end of the claim window",
                    xy=(end, 0.0),
                    xycoords=("data", "axes fraction"),
                    xytext=(3, 3),
                    textcoords="offset points",
                    ha="left",
                    va="bottom",
                    fontsize="small",
                    color="0.4",
                )
        else:
            ax.axhline(level, **style)
        when = f" by {target_year}" if target_year else ""
        ax.annotate(
            f"{_amount(level, unit_label)}{when}",
            xy=(end, level),
            xytext=(0, 3),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize="small",
            color=OKABE_ITO["vermillion"],
        )
    _ylabel(ax, _with_units(label, unit_label))
    _set_title(ax, _title(ds, f"{_lower_first(label)} by year", _weighting(ds, ds.attrs)))
    _tidy(ax)
    # The legend sits at the left, where the fan is thin; a claim line across the middle of the
    # axes (a local scheme's claim far above its fan's start) would run through it: then at the top
    low, high = ax.get_ylim()
    height = (float(reference[0]) / scale - low) / (high - low) if reference is not None else 1.0
    _legend(ax, loc="upper left" if 0.25 <= height <= 0.75 else "center left")
    _footer(ax, ds.attrs, footer)
    return ax


def distribution(
    ds: xr.Dataset,
    variable: str = "npv",
    *,
    year: str | None = None,
    percentiles: Sequence[float] = (0.05, 0.5, 0.95),
    bins: int = 60,
    target: bool | float = True,
    ax: Axes | None = None,
    footer: bool = True,
    **kwargs: Any,
) -> Axes:
    """Histogram of a per-draw output with its mean, median and percentiles marked.

    The mean and the percentiles are those of :func:`nhsrisk.stats.describe`.
    For updated results they are weighted, each bar is the weight of its
    draws (scaled to the number of draws, so equal weights give the
    unweighted counts), and the title says how the draws were weighted.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of :func:`nhsrisk.simulate` or :func:`nhsrisk.update`.
    variable : str, default="npv"
        An output: per draw (``npv``, GBP; ``bcr``) or per year, read in
        ``year`` (amounts summed over programmes and staff groups).
    year : str, optional
        Financial year such as ``"2029/30"`` for a per-year output; default
        ``ds.attrs["target_year"]``. Must be None for an output without years.
    percentiles : sequence of float, default=(0.05, 0.5, 0.95)
        Probabilities in (0, 1) marked with dotted lines; 0.5 is the median,
        always drawn (dashed).
    bins : int, default=60
        Number of histogram bins.
    target : bool or float, default=True
        Vertical line: the output's own threshold (claimed return for
        ``cumulative_value``, 0 for ``npv``, 1 for ``bcr``), a number, or ``False``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default a new 7 x 4.5 inch figure.
    footer : bool, default=True
        Write the draws, seed, price base and nhsrisk version under the
        figure (one footer per figure; see the module notes).
    **kwargs
        Passed to ``ax.hist`` (except ``weights`` for updated results, which
        are weighted by their own).

    Returns
    -------
    matplotlib.axes.Axes
        Bars count draws (weighted: ``n`` times the share of the weight in the
        bin); legend entries give each marked value.

    Raises
    ------
    TypeError
        If ``ds`` is not a Dataset, ``ax`` not an Axes or ``bins`` not an int.
    ValueError
        If the variable or year is unknown, a percentile is outside (0, 1),
        the values are not finite, or ``weights`` is passed for updated results.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import nhsrisk
    >>> import nhsrisk.plot
    >>> ax = nhsrisk.plot.distribution(nhsrisk.simulate(draws=500, seed=1), bins=20)
    >>> len(ax.patches), ax.get_xlabel()
    (20, 'Net present value over the appraisal period (GBP bn)')
    >>> plt.close(ax.figure)
    """
    caller = "distribution"
    _check_ax(ax, caller)
    footer = _check_flag(footer, "footer", caller)
    ds = _check_results(ds, caller)
    bins = check_count(bins, "bins", caller)
    target = _check_target(target, caller)
    marked = _check_percentiles(percentiles, caller)
    da, label, units, _ = _per_draw(ds, variable, year, caller, weighted=True)
    weights = stats._weights_of(da)
    if weights is not None and "weights" in kwargs:
        allowed = "left out for updated results, which are weighted by their importance weights"
        raise ValueError(
            _described("weights", caller, allowed, "weights for a Dataset with a 'weight' coordinate")
        )
    reference = _reference(ds, variable, target, caller)
    quantiles = tuple(sorted({*marked, 0.5}))
    described = _describe(da, quantiles, caller)
    values = np.asarray(da.values, dtype=float)
    estimates = dict(zip(quantiles, described["quantile_estimate"].values, strict=True))
    mean = float(described["mean"])
    scale, unit_label = _scale(units, values, None if reference is None else reference[0])
    ax = _new_axes(ax)
    style: dict[str, Any] = {"bins": bins, "color": OKABE_ITO["sky_blue"], "alpha": 0.8}
    if weights is not None:
        # each draw counts its share of the weight, scaled so the bars still add up to the draws
        style["weights"] = weights * values.size
    ax.hist(values / scale, **{**style, **kwargs})
    ax.axvline(mean / scale, color=OKABE_ITO["black"], linewidth=1.5, label=f"mean ({_number(mean / scale)})")
    median = estimates[0.5] / scale
    ax.axvline(
        median, color=OKABE_ITO["blue"], linestyle="--", linewidth=1.5, label=f"median ({_number(median)})"
    )
    for q in marked:
        if q == 0.5:
            continue
        level = estimates[q] / scale
        ax.axvline(
            level,
            color=OKABE_ITO["orange"],
            linestyle=":",
            linewidth=1.5,
            label=f"{ordinal(q)} percentile ({_number(level)})",
        )
    if reference is not None:
        level = float(reference[0]) / scale
        ax.axvline(
            level, color=OKABE_ITO["vermillion"], linewidth=2.0, label=_reference_label(reference, scale)
        )
    _xlabel(ax, _with_units(label, unit_label))
    counted = "Number of draws" if weights is None else "Weighted number of draws"
    _ylabel(ax, f"{counted} (of {values.size:,})")
    _set_title(ax, _title(ds, f"distribution of {_lower_first(label)}", _weighting(ds, ds.attrs)))
    _tidy(ax)
    _legend(ax, fontsize="small")
    _footer(ax, ds.attrs, footer)
    return ax


def _check_percentiles(percentiles: Any, caller: str) -> tuple[float, ...]:
    allowed = "a non-empty sequence of probabilities in (0, 1)"
    if isinstance(percentiles, str) or not isinstance(percentiles, Sequence | np.ndarray):
        raise TypeError(_message("percentiles", caller, allowed, percentiles))
    if len(percentiles) == 0:
        raise ValueError(_message("percentiles", caller, allowed, percentiles))
    return tuple(dict.fromkeys(stats._probability(q, "percentiles", caller) for q in percentiles))


def exceedance(
    ds: xr.Dataset,
    variable: str = "cumulative_value",
    *,
    year: str | None = None,
    target: bool | float = True,
    ax: Axes | None = None,
    footer: bool = True,
    **kwargs: Any,
) -> Axes:
    """Exceedance curve: probability that the output is at least x, against x.

    The curve is the empirical ``P(output >= x)`` over the draws, a
    decreasing step function: at every x it equals
    :func:`nhsrisk.stats.exceedance_probability` of the draws at threshold x.
    At the target the probability is annotated with its Monte Carlo standard
    error (``sqrt(p (1 - p) / n)``); when no draw (or every draw) reaches it,
    that error is 0, and the one-sided 95% bound ``1 - 0.05 ** (1 / n)``
    (or 1 minus it) is reported instead, as :mod:`nhsrisk.stats` advises.
    For updated results the curve is the share of the weight at or above x,
    ``n`` is the effective number of draws (Kish), and the title says how the
    draws were weighted.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of :func:`nhsrisk.simulate` or :func:`nhsrisk.update`.
    variable : str, default="cumulative_value"
        An output, as in :func:`distribution`.
    year : str, optional
        Year of a per-year output; default ``ds.attrs["target_year"]``.
    target : bool or float, default=True
        Vertical line and annotated probability: the output's own threshold
        (claimed return for ``cumulative_value``, 0 for ``npv``, 1 for
        ``bcr``), a number (output units), or ``False``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default a new 7 x 4.5 inch figure.
    footer : bool, default=True
        Write the draws, seed, price base and nhsrisk version under the
        figure (one footer per figure; see the module notes).
    **kwargs
        Passed to ``ax.step``.

    Returns
    -------
    matplotlib.axes.Axes
        Probability in % on the y axis.

    Raises
    ------
    TypeError
        If ``ds`` is not a Dataset or ``ax`` not an Axes.
    ValueError
        If the variable or year is unknown or the values are not finite.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import nhsrisk
    >>> import nhsrisk.plot
    >>> ax = nhsrisk.plot.exceedance(nhsrisk.simulate(draws=500, seed=1))
    >>> " ".join(ax.get_ylabel().split())
    'Probability of reaching at least x (%)'
    >>> plt.close(ax.figure)
    """
    caller = "exceedance"
    _check_ax(ax, caller)
    footer = _check_flag(footer, "footer", caller)
    ds = _check_results(ds, caller)
    target = _check_target(target, caller)
    da, label, units, chosen = _per_draw(ds, variable, year, caller, weighted=True)
    weights = stats._weights_of(da)
    reference = _reference(ds, variable, target, caller)
    values = np.asarray(da.values, dtype=float)
    if weights is None:
        n = values.size
        levels, counts = np.unique(values, return_counts=True)
        # Draws at or above each distinct level: the count from that level to the top.
        at_least = np.cumsum(counts[::-1])[::-1] / n
    else:
        n = stats._effective_draws(weights)
        levels, where = np.unique(values, return_inverse=True)
        # The weight at or above each distinct level, from that level to the top.
        mass = np.bincount(where.ravel(), weights=weights, minlength=levels.size)
        at_least = np.clip(np.cumsum(mass[::-1])[::-1], 0.0, 1.0)
    scale, unit_label = _scale(units, values, None if reference is None else reference[0])
    span = float(levels[-1] - levels[0]) or max(abs(float(levels[0])), 1.0)
    pad = 0.02 * span
    # where="pre" holds y[i] on (x[i-1], x[i]]: 1 up to the lowest draw, then the share at or above
    # each level, then 0 beyond the highest.
    x = np.concatenate([[levels[0] - pad], levels, [levels[-1] + pad]]) / scale
    y = 100.0 * np.concatenate([[1.0], at_least, [0.0]])
    ax = _new_axes(ax)
    ax.step(
        x,
        y,
        **{"where": "pre", "color": OKABE_ITO["blue"], "linewidth": 1.8, "label": "P(at least x)", **kwargs},
    )
    if reference is not None:
        threshold = float(reference[0])
        p, se = (float(v) for v in stats.exceedance_probability(values, threshold, weights=weights))
        ax.axvline(
            threshold / scale,
            color=OKABE_ITO["vermillion"],
            linestyle="--",
            linewidth=1.5,
            label=reference[1],
        )
        if 0.0 < p < 1.0:
            # the standard error is not a probability of anything: its digits stay
            error = f" ± {percent(se, 2)} (MCSE)"
        else:
            # a standard error of 0 would claim certainty from a finite sample
            bound = 1.0 - 0.05 ** (1.0 / n)
            side = "upper" if p == 0.0 else "lower"
            error = f" (one-sided 95% {side} bound {_figure_percent(bound if p == 0.0 else 1.0 - bound)})"
        # "P(...) = 0.0500%", but "P(...) < 0.01%": the text carries its own relation
        shown = _figure_percent(p)
        relation = shown if shown[0] in "<>" else f"= {shown}"
        # Above a decreasing curve the upper right is empty, and below it the lower left.
        ax.annotate(
            _wrap(f"P(at least {_amount(threshold / scale, unit_label)}) {relation}{error}", 38),
            xy=(threshold / scale, 100.0 * p),
            xytext=(0.9, 0.6),
            textcoords="axes fraction",
            ha="right",
            va="bottom",
            wrap=True,
            fontsize="small",
            color=OKABE_ITO["vermillion"],
            arrowprops={"arrowstyle": "-", "color": OKABE_ITO["vermillion"], "linewidth": 0.8},
        )
    ax.set_ylim(-2.0, 102.0)
    _xlabel(ax, _with_units(label, unit_label))
    _ylabel(ax, "Probability of reaching at least x (%)")
    _set_title(ax, _title(ds, f"exceedance curve of {_lower_first(label)}", _weighting(ds, ds.attrs)))
    _tidy(ax)
    _legend(ax, loc="lower left")
    _footer(ax, ds.attrs, footer)
    return ax


def payback(p_or_ds: xr.Dataset, *, ax: Axes | None = None, footer: bool = True, **kwargs: Any) -> Axes:
    """Probability of payback by each financial year, with its Monte Carlo error.

    The probabilities are those of :func:`nhsrisk.stats.payback` (first
    year with cumulative value at least cumulative cost). Error bars are 95%
    intervals ``p ± 1.96 MCSE`` clipped to [0, 100]%; where no draw has paid
    back (``p = 0``, MCSE 0) the bar reaches the one-sided 95%
    Clopper-Pearson upper bound ``payback_probability_upper_95`` instead.
    For updated results they are weighted (shares of the weight, errors from
    the effective number of draws), and the title says how.

    Parameters
    ----------
    p_or_ds : xarray.Dataset
        Results of :func:`nhsrisk.simulate` or :func:`nhsrisk.update`
        (``payback`` is called on them), or the output of
        :func:`nhsrisk.stats.payback`.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default a new 7 x 4.5 inch figure.
    footer : bool, default=True
        Write the draws, seed, price base and nhsrisk version under the
        figure (one footer per figure; see the module notes).
    **kwargs
        Passed to ``ax.errorbar``.

    Returns
    -------
    matplotlib.axes.Axes
        Probability in % by financial year; the median payback year is annotated.

    Raises
    ------
    TypeError
        If ``p_or_ds`` is not a Dataset or ``ax`` not an Axes.
    ValueError
        If it is neither simulate results nor a payback result.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import nhsrisk
    >>> import nhsrisk.plot
    >>> ax = nhsrisk.plot.payback(nhsrisk.simulate(draws=500, seed=1))
    >>> " ".join(ax.get_ylabel().split())
    'Probability of payback by the year (%)'
    >>> plt.close(ax.figure)
    """
    caller = "payback"
    _check_ax(ax, caller)
    footer = _check_flag(footer, "footer", caller)
    kind = "results of nhsrisk.simulate or the output of nhsrisk.payback"
    source = _check_dataset(p_or_ds, "p_or_ds", caller, kind)
    if "payback_probability" in source.data_vars:
        _require(
            source,
            "p_or_ds",
            caller,
            kind,
            {
                name: ("year",)
                for name in (
                    "payback_probability",
                    "payback_probability_mcse",
                    "payback_probability_upper_95",
                )
            },
        )
        result = source
    elif "draw" in source.dims:
        result = stats.payback(source)
    else:
        raise ValueError(_described("p_or_ds", caller, kind, _describe_dataset(source)))
    p = np.asarray(result["payback_probability"].values, dtype=float)
    se = np.asarray(result["payback_probability_mcse"].values, dtype=float)
    upper_95 = np.asarray(result["payback_probability_upper_95"].values, dtype=float)
    for name, values in (("payback_probability", p), ("its MCSE and bound", np.concatenate([se, upper_95]))):
        _check_finite(values, "p_or_ds", caller, name)
    low = np.clip(p - _Z95 * se, 0.0, 1.0)
    high = np.where((se == 0) & (p == 0), upper_95, np.clip(p + _Z95 * se, 0.0, 1.0))
    ax = _new_axes(ax)
    x = _year_axis(ax, [str(y) for y in result["year"].values])
    style = {
        "color": OKABE_ITO["blue"],
        "marker": "o",
        "capsize": 4,
        "linewidth": 1.8,
        "label": "probability, with 95% interval",
    }
    ax.errorbar(x, 100.0 * p, yerr=[100.0 * (p - low), 100.0 * (high - p)], **{**style, **kwargs})
    if "median_payback_year" in result.data_vars:
        ax.annotate(
            f"median payback year: {result['median_payback_year'].values}",
            xy=(0.02, 0.96),
            xycoords="axes fraction",
            va="top",
            fontsize="small",
        )
    ax.set_ylim(-2.0, 102.0)
    _ylabel(ax, "Probability of payback by the year (%)")
    what = "probability of payback (cumulative value reaching cumulative cost)"
    _set_title(ax, _title(source, what, _weighting(result.attrs, source.attrs)))
    _tidy(ax)
    _legend(ax, loc="center left")
    _footer(ax, source.attrs, footer)
    return ax


# --------------------------------------------------------------------------------------------------
# Experiments
# --------------------------------------------------------------------------------------------------


_WATERFALL_KINDS = ("total", "haircut", "risk")
# What the three totals of a waterfall are, in words a reader of the figure needs no glossary for.
_WATERFALL_TOTALS = (
    "Planned: what the announced spend profile would deliver with the risks listed under it "
    "switched off (uptake still builds up as planned). Gross potential: planned, before the "
    "haircuts that are part of the plan itself. Realised: the scenario with every risk."
)


def _signed(value: float) -> str:
    """``-0.5`` -> ``"\u22120.5"`` (a true minus sign), ``0.5`` -> ``"+0.5"``."""
    return ("+" if value >= 0 else "\u2212") + _number(abs(value))


def waterfall(wf: xr.Dataset, *, ax: Axes | None = None, footer: bool = True, **kwargs: Any) -> Axes:
    """Bridge from the gross potential through the planned benefit to the realised one.

    Parameters
    ----------
    wf : xarray.Dataset
        Output of :func:`nhsrisk.waterfall`: ``level`` and ``change`` over
        ``step``, with the coordinate ``kind`` (``"total"`` for gross
        potential, planned and realised, ``"haircut"`` for the haircuts that
        are not risks, ``"risk"`` for the risk groups); the first and last
        steps are totals.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default a new 7 x 5.5 inch figure.
    footer : bool, default=True
        Write the draws, seed, price base and nhsrisk version under the
        figure (one footer per figure; see the module notes).
    **kwargs
        Passed to ``ax.barh`` (every bar).

    Returns
    -------
    matplotlib.axes.Axes
        One horizontal bar per step, the first at the top: the totals from 0
        (blue), each haircut from the running total by its change (grey,
        hatched: part of the plan, not a risk), each risk likewise (vermillion
        for a loss, bluish green for a gain), each labelled with its value.
        Thin lines carry the running total from one bar to the next. The
        x axis is the statistic of the output in GBP bn (or m); a note under
        it says in words what gross potential, planned and realised are, and
        states the horizon and the attribution method (the draws and the seed
        are in the footer).

    Raises
    ------
    TypeError
        If ``wf`` is not a Dataset or ``ax`` not an Axes.
    ValueError
        If it is not a waterfall result or holds non-finite values.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import nhsrisk
    >>> import nhsrisk.plot
    >>> from nhsrisk.experiments import waterfall
    >>> wf = waterfall(draws=500, seed=1, groups=["budget raids", "delivery delay"])
    >>> ax = nhsrisk.plot.waterfall(wf)
    >>> len(ax.patches), [label.get_text() for label in ax.get_yticklabels()][:2]
    (8, ['gross potential', 'partial recovery'])
    >>> ax.texts[-1].get_text().startswith("Planned: what the announced spend profile would deliver")
    True
    >>> plt.close(ax.figure)
    """
    caller = "waterfall"
    _check_ax(ax, caller)
    footer = _check_flag(footer, "footer", caller)
    kind = "a Dataset from nhsrisk.waterfall ('level' and 'change' over 'step', with a 'kind' coordinate)"
    wf = _check_dataset(wf, "wf", caller, kind)
    _require(wf, "wf", caller, kind, {"level": ("step",), "change": ("step",)})
    if "kind" not in wf.coords or wf["kind"].dims != ("step",):
        raise ValueError(_described("wf", caller, kind, _describe_dataset(wf)))
    steps = [str(step) for step in wf["step"].values]
    kinds = [str(k) for k in wf["kind"].values]
    if len(steps) < 2 or kinds[0] != "total" or kinds[-1] != "total" or set(kinds) - set(_WATERFALL_KINDS):
        raise ValueError(
            _message(
                "wf", caller, "steps that start and end with a total and are totals, haircuts or risks", kinds
            )
        )
    level = np.asarray(wf["level"].values, dtype=float)
    change = np.asarray(wf["change"].values, dtype=float)
    _check_finite(np.concatenate([level, change]), "wf", caller, "'level' and 'change'")
    units = str(wf["level"].attrs.get("units", ""))
    scale, unit_label = _scale(units, level, change)
    level, change = level / scale, change / scale
    kinds_array = np.array(kinds)
    total = kinds_array == "total"
    start = np.where(total, 0.0, level - change)  # a step's bar starts at the running total before it
    y = np.arange(len(steps))
    ax = _new_axes(ax, height=5.5)
    bars = [
        (total, OKABE_ITO["blue"], None, "gross potential, planned, realised"),
        (kinds_array == "haircut", "0.72", "///", "haircut in the plan, not a risk"),
        ((kinds_array == "risk") & (change <= 0), OKABE_ITO["vermillion"], None, "risk: loss"),
        ((kinds_array == "risk") & (change > 0), OKABE_ITO["bluish_green"], None, "risk: gain"),
    ]
    width = np.where(total, level, change)
    for mask, colour, hatch, name in bars:
        if mask.any():
            edge = "0.35" if hatch else colour
            ax.barh(
                y[mask],
                width[mask],
                left=start[mask],
                **{"color": colour, "hatch": hatch, "edgecolor": edge, "label": name, **kwargs},
            )
    # every value to the right of its bar, clear of the axis, the tick labels and the connectors
    for i, (value, k) in enumerate(zip(width, kinds, strict=True)):
        if k == "total" or value == 0:
            text = ("\u2212" if value < 0 else "") + _number(abs(value))
        else:
            text = _signed(value)
        ax.annotate(
            text,
            xy=(max(start[i], start[i] + value), y[i]),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize="small",
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.3, "alpha": 0.8},
        )
    # thin connectors carry the running total down to the next bar
    ax.vlines(level[:-1], y[:-1] + 0.4, y[1:] - 0.4, colors="0.5", linewidth=0.8)
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    reference = float(wf.attrs["reference"]) / scale if "reference" in wf.attrs else None
    # a floating bar's base is a sticky edge that autoscaling will not pad, so pad by hand; the
    # reference line is inside the limits, or its legend entry would name a line not drawn
    marks = [0.0, float(np.min(level)), float(np.min(start)), float(np.max(level)), float(np.max(start))]
    if reference is not None and math.isfinite(reference):
        marks.append(reference)
    low, high = min(marks), max(marks)
    pad = 0.12 * (high - low) or 1.0
    ax.set_xlim(low - (pad if low < 0 else 0.0), high + pad)
    ax.set_yticks(y, labels=steps)
    ax.invert_yaxis()
    for label, k in zip(ax.get_yticklabels(), kinds, strict=True):
        if k == "total":
            label.set_fontweight("bold")
    statistic = str(wf["level"].attrs.get("long_name", "output"))
    ax.set_xlabel(_wrap(_with_units(statistic, unit_label), 64))
    if reference is not None:
        name = str(wf.attrs.get("reference_name", "reference"))
        ax.axvline(
            reference,
            color=OKABE_ITO["black"],
            linestyle="--",
            linewidth=1.0,
            label=f"{name} ({_number(reference)})",
        )
    method = str(wf.attrs.get("method", ""))
    notes = {
        "shapley": "risk steps are Shapley values (exact over every subset of the risk groups)",
        "sequential": "risk steps switch the groups on one at a time, top to bottom",
    }
    details = [str(wf.attrs.get("horizon", "")), notes.get(method, "")]
    if "n_draws" in wf.attrs:
        details.append("every run on the same draws (common random numbers)")
    note = [_WATERFALL_TOTALS, "; ".join(d for d in details if d)]
    # under the axis label, inside the axes' layout box so constrained layout makes room for it
    ax.annotate(
        "\n".join(_wrap(line[:1].upper() + line[1:], 90) for line in note if line),
        xy=(0.5, 0.0),
        xycoords=ax.xaxis.label,
        xytext=(0, -3),
        textcoords="offset points",
        ha="center",
        va="top",
        fontsize="x-small",
        color="0.3",
    )
    _set_title(ax, _title(wf, "from the gross potential to the realised benefit"))
    _tidy(ax)
    _legend(ax, loc="lower right", fontsize="small")
    _footer(ax, wf.attrs, footer, per="run")
    return ax


def tornado(
    t: xr.Dataset,
    *,
    top: int = 15,
    labels: str = "readable",
    ax: Axes | None = None,
    footer: bool = True,
    **kwargs: Any,
) -> Axes:
    """Tornado chart: the output with each input at its low and high percentile.

    Parameters
    ----------
    t : xarray.Dataset
        Output of :func:`nhsrisk.tornado`.
    top : int, default=15
        Number of inputs shown: the ``top`` largest by ``swing``, largest on top.
    labels : {"readable", "key"}, default="readable"
        Name the inputs by their labels from the scenario (``t["input_label"]``,
        such as ``"Patient services: value of a contact moved online (GBP/contact)"``)
        or by their key paths (``t["input"]``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default a new figure 7 inches wide, taller with more inputs.
    footer : bool, default=True
        Write the draws, seed, price base and nhsrisk version under the
        figure (one footer per figure; see the module notes).
    **kwargs
        Passed to ``ax.barh``.

    Returns
    -------
    matplotlib.axes.Axes
        Two bars per input from ``output_base`` (every input at its median,
        the vertical line) to ``output_low`` (input at its ``low``
        percentile, blue) and to ``output_high`` (orange); inputs named as
        ``labels`` asks.

    Raises
    ------
    TypeError
        If ``t`` is not a Dataset, ``top`` not an int or ``ax`` not an Axes.
    ValueError
        If ``t`` is not a tornado result or holds non-finite outputs.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import nhsrisk
    >>> import nhsrisk.plot
    >>> t = nhsrisk.tornado(inputs=["risks.digital_exclusion", "risks.staff_capacity"])
    >>> ax = nhsrisk.plot.tornado(t)
    >>> ax.get_yticklabels()[0].get_text()  # the largest swing, at the top
    'Risks: staff capacity to adopt'
    >>> nhsrisk.plot.tornado(t, labels="key").get_yticklabels()[0].get_text()
    'risks.staff_capacity'
    >>> plt.close("all")
    """
    caller = "tornado"
    _check_ax(ax, caller)
    footer = _check_flag(footer, "footer", caller)
    labels = _check_labels(labels, caller)
    kind = "a Dataset from nhsrisk.tornado ('output_low', 'output_high', 'swing' over 'input', 'output_base')"
    t = _check_dataset(t, "t", caller, kind)
    _require(
        t,
        "t",
        caller,
        kind,
        {"output_low": ("input",), "output_high": ("input",), "swing": ("input",), "output_base": ()},
    )
    top = _check_top(top, caller)
    order = np.argsort(-np.asarray(t["swing"].values, dtype=float), kind="stable")[:top]
    shown = t.isel(input=order)
    low = np.asarray(shown["output_low"].values, dtype=float)
    high = np.asarray(shown["output_high"].values, dtype=float)
    base = float(t["output_base"])
    _check_finite(np.concatenate([low, high, [base]]), "t", caller, "output")
    units = str(t["output_low"].attrs.get("units", ""))
    scale, unit_label = _scale(units, low, high, base)
    low, high, base = low / scale, high / scale, base / scale
    k = len(order)
    y = np.arange(k)[::-1]  # the largest swing at the top
    ticks = [_tick_label(name, labels, _TICK_WIDTH) for name in _input_names(shown, labels)]
    ax = _new_axes(ax, height=_rows_height(ticks, 0.3, _LEGEND_ROWS))
    for ends, colour, percentile in (
        (low, OKABE_ITO["blue"], t.attrs.get("low")),
        (high, OKABE_ITO["orange"], t.attrs.get("high")),
    ):
        name = f"input at its {ordinal(percentile)} percentile" if percentile is not None else "input"
        ax.barh(y, ends - base, left=base, **{"height": 0.6, "color": colour, "label": name, **kwargs})
    ax.axvline(
        base, color=OKABE_ITO["black"], linewidth=1.0, label=f"all inputs at their medians ({_number(base)})"
    )
    ax.set_yticks(y, labels=ticks)
    ax.tick_params(axis="y", labelsize="small")
    label = str(t["output_low"].attrs.get("long_name", t.attrs.get("output", "output")))
    _xlabel(ax, _with_units(label, unit_label), _NARROW_XLABEL_WIDTH)
    # the axes are narrower than the figure by the tick labels, and the title is centred over them
    _set_title(ax, _title(t, f"one-way sensitivity of {_lower_first(label)}"), _NARROW_TITLE_WIDTH)
    _tidy(ax)
    # two empty rows under the smallest swing hold the legend, clear of every bar; its frame hides
    # the base line behind it
    ax.set_ylim(-0.5 - _LEGEND_ROWS, k - 0.5)
    _legend(ax, fontsize="small", loc="lower right", frameon=True, edgecolor="none", framealpha=1.0)
    _footer(ax, t.attrs, footer)
    return ax


def spider(
    s: xr.Dataset,
    *,
    inputs: Sequence[str] | None = None,
    top: int = 8,
    labels: str = "readable",
    ax: Axes | None = None,
    footer: bool = True,
    **kwargs: Any,
) -> Axes:
    """Spider plot: the output as each input moves across its percentiles.

    Parameters
    ----------
    s : xarray.Dataset
        Output of :func:`nhsrisk.spider`.
    inputs : sequence of str, optional
        Inputs to draw (names of ``s["input"]``); default the ``top`` whose
        output varies most (largest max - min over the percentiles).
    top : int, default=8
        Number of inputs drawn when ``inputs`` is None (the palette has 8 colours;
        more lines repeat them with other line styles).
    labels : {"readable", "key"}, default="readable"
        Name the inputs in the legend by their labels from the scenario
        (``s["input_label"]``) or by their key paths.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default a new 7 x 4.5 inch figure.
    footer : bool, default=True
        Write the draws, seed, price base and nhsrisk version under the
        figure (one footer per figure; see the module notes).
    **kwargs
        Passed to ``ax.plot`` (every input's line).

    Returns
    -------
    matplotlib.axes.Axes
        One line per input against its percentile (%), and a dotted line at
        ``output_base`` (every input at its median).

    Raises
    ------
    TypeError
        If ``s`` is not a Dataset, ``inputs`` not a sequence of str or ``ax`` not an Axes.
    ValueError
        If ``s`` is not a spider result, an input is not in it, or the outputs are not finite.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import nhsrisk
    >>> import nhsrisk.plot
    >>> s = nhsrisk.spider(inputs=["risks.digital_exclusion", "risks.staff_capacity"])
    >>> ax = nhsrisk.plot.spider(s)
    >>> ax.get_xlabel()
    'Input percentile (%)'
    >>> " ".join(ax.get_lines()[0].get_label().split())  # wrapped in the legend
    'Risks: staff capacity to adopt'
    >>> plt.close(ax.figure)
    """
    caller = "spider"
    _check_ax(ax, caller)
    footer = _check_flag(footer, "footer", caller)
    labels = _check_labels(labels, caller)
    kind = "a Dataset from nhsrisk.spider ('output' over 'input' and 'percentile', 'output_base')"
    s = _check_dataset(s, "s", caller, kind)
    _require(s, "s", caller, kind, {"output": ("input", "percentile"), "output_base": ()})
    names = [str(name) for name in s["input"].values]
    output = s["output"].transpose("input", "percentile")
    values = np.asarray(output.values, dtype=float)
    _check_finite(values, "s", caller, "'output'")
    if inputs is None:
        top = _check_top(top, caller)
        spread = values.max(axis=1) - values.min(axis=1)
        chosen = list(np.argsort(-spread, kind="stable")[:top])
    else:
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, Sequence | np.ndarray) or not all(isinstance(n, str) for n in inputs):
            raise TypeError(_message("inputs", caller, "a sequence of input names or None", inputs))
        unknown = [n for n in inputs if n not in names]
        if unknown or len(inputs) == 0:
            raise ValueError(
                _message("inputs", caller, f"names from s['input'], such as {names[:3]}", list(inputs))
            )
        chosen = [names.index(n) for n in inputs]
    base = float(s["output_base"])
    shown = _input_names(s, labels)
    units = str(s["output"].attrs.get("units", ""))
    scale, unit_label = _scale(units, values[chosen], base)
    percent = 100.0 * np.asarray(s["percentile"].values, dtype=float)
    ax = _new_axes(ax)
    for index, i in enumerate(chosen):
        ax.plot(
            percent,
            values[i] / scale,
            **{**_line_style(index), "linewidth": 1.8, "label": _tick_label(shown[i], labels, 28), **kwargs},
        )
    ax.axhline(base / scale, color="0.4", linestyle=":", linewidth=1.0, label="all inputs at their medians")
    label = str(s["output"].attrs.get("long_name", s.attrs.get("output", "output")))
    _xlabel(ax, "Input percentile (%)")
    _ylabel(ax, _with_units(label, unit_label))
    _set_title(ax, _title(s, f"{_lower_first(label)} as one input moves"))
    _tidy(ax)
    # outside, on the right: inside, the legend would hide the lines that matter
    _legend(ax, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _footer(ax, s.attrs, footer)
    return ax


def sobol(
    s: xr.Dataset,
    *,
    top: int = 15,
    labels: str = "readable",
    ax: Axes | None = None,
    footer: bool = True,
    **kwargs: Any,
) -> Axes:
    """First-order and total Sobol' indices as grouped horizontal bars with their intervals.

    Parameters
    ----------
    s : xarray.Dataset
        Output of :func:`nhsrisk.sobol_analysis` or :func:`nhsrisk.sobol_indices`.
    top : int, default=15
        Number of inputs shown: the ``top`` largest total indices, largest on top.
    labels : {"readable", "key"}, default="readable"
        Name the inputs by their labels from the scenario (``s["input_label"]``
        of :func:`nhsrisk.sobol_analysis`) or by their key paths; a result
        without labels (:func:`nhsrisk.sobol_indices`) shows its ``input`` names.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default a new figure 7 inches wide, taller with more inputs.
    footer : bool, default=True
        Write the draws, seed, price base and nhsrisk version under the
        figure (one footer per figure; see the module notes).
    **kwargs
        Passed to ``ax.barh`` (both sets of bars).

    Returns
    -------
    matplotlib.axes.Axes
        For each input a bar of ``S1`` (sky blue) above one of ``ST`` (blue);
        when the result has bootstrap intervals, each bar carries a black
        line from ``*_conf_low`` to ``*_conf_high``. The indices are shares
        of the output's variance (dimensionless).

    Raises
    ------
    TypeError
        If ``s`` is not a Dataset, ``top`` not an int or ``ax`` not an Axes.
    ValueError
        If ``s`` is not a Sobol' result or holds non-finite indices.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import nhsrisk
    >>> import nhsrisk.plot
    >>> ax = nhsrisk.plot.sobol(nhsrisk.sobol_analysis(base_samples=64, seed=1, bootstrap=100), top=5)
    >>> len(ax.patches)
    10
    >>> plt.close(ax.figure)
    """
    caller = "sobol"
    _check_ax(ax, caller)
    footer = _check_flag(footer, "footer", caller)
    labels = _check_labels(labels, caller)
    kind = "a Dataset from nhsrisk.sobol_analysis or sobol_indices ('S1' and 'ST' over 'input')"
    s = _check_dataset(s, "s", caller, kind)
    _require(s, "s", caller, kind, {"S1": ("input",), "ST": ("input",)})
    top = _check_top(top, caller)
    order = np.argsort(-np.asarray(s["ST"].values, dtype=float), kind="stable")[:top]
    shown = s.isel(input=order)
    ticks = [_tick_label(name, labels, _TICK_WIDTH) for name in _input_names(shown, labels)]
    with_intervals = all(f"{i}_conf_{end}" in s.data_vars for i in ("S1", "ST") for end in ("low", "high"))
    arrays = [
        f"{i}{end}"
        for i in ("S1", "ST")
        for end in (("", "_conf_low", "_conf_high") if with_intervals else ("",))
    ]
    for name in arrays:
        _check_finite(np.asarray(shown[name].values, dtype=float), "s", caller, repr(name))
    k = len(order)
    y = np.arange(k)[::-1]
    ax = _new_axes(ax, height=_rows_height(ticks, 0.4))
    for offset, index, colour, name in (
        (0.2, "S1", OKABE_ITO["sky_blue"], "first order (S1)"),
        (-0.2, "ST", OKABE_ITO["blue"], "total (ST)"),
    ):
        ax.barh(y + offset, shown[index].values, **{"height": 0.38, "color": colour, "label": name, **kwargs})
    if with_intervals:
        # Lines from bound to bound rather than xerr: a bootstrap percentile interval need not contain
        # the estimate, and xerr cannot be negative.
        level = float(s.attrs.get("confidence", 0.95))
        for offset, index in ((0.2, "S1"), (-0.2, "ST")):
            ax.hlines(
                y + offset,
                shown[f"{index}_conf_low"].values,
                shown[f"{index}_conf_high"].values,
                colors=OKABE_ITO["black"],
                linewidth=1.2,
                # "" (the default, as None would be): no legend entry
                label=f"{100 * level:g}% bootstrap interval" if index == "S1" else "",
            )
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    ax.set_yticks(y, labels=ticks)
    ax.tick_params(axis="y", labelsize="small")
    _xlabel(ax, "Sobol' index (share of the output's variance, dimensionless)", _NARROW_XLABEL_WIDTH)
    output = s.attrs.get("output_long_name")
    _set_title(
        ax,
        _title(s, f"Sobol' indices of {_lower_first(str(output))}" if output else "Sobol' indices"),
        _NARROW_TITLE_WIDTH,
    )
    _tidy(ax)
    _legend(ax, fontsize="small", loc="lower right")
    _footer(ax, s.attrs, footer)
    return ax


def _base_scenario(sw: xr.Dataset) -> Scenario | None:
    """Return the scenario a sweep varies (stored in its attrs), or None when it holds none that reads."""
    from nhsrisk.scenario import Scenario, ScenarioError

    text = sw.attrs.get("base_scenario")
    if not isinstance(text, str):
        return None
    try:
        return Scenario.from_toml(text)
    except ScenarioError:
        return None


def _swept_units(scenario: Scenario | None, key: str) -> str:
    """Units of a swept key path, read from the scenario's field metadata ("" when unknown)."""
    import dataclasses

    record: Any = scenario
    if record is None:
        return ""
    parts = key.split(".")
    for part in parts[:-1]:
        record = record.get(part) if isinstance(record, Mapping) else getattr(record, part, None)
        if record is None:
            return ""
    if not dataclasses.is_dataclass(record):
        return ""
    meta: Mapping[str, Any] = {f.name: f.metadata for f in dataclasses.fields(record)}.get(parts[-1], {})
    return str(meta.get("unit", ""))


def _swept_axis(sw: xr.Dataset, key: str, scenario: Scenario | None, labels: str) -> tuple[list[str], str]:
    """Tick labels and axis label of a swept parameter; amounts of money scaled as everywhere else."""
    values = sw[key].values
    units = _swept_units(scenario, key)
    name = key
    if labels == "readable" and scenario is not None:
        try:
            name = scenario.input_label(key, units=False)
        except ValueError:  # not a quantity (a spend profile, the budget changes...): its key path
            pass
    if values.dtype.kind not in "iuf":
        # distributions swept are labelled by their description
        return [str(v) for v in values], _with_units(name, _axis_units(units))
    scale, unit_label = _scale(units, values)
    return [f"{float(v) / scale:g}" for v in values], _with_units(name, _axis_units(unit_label))


def heatmap(
    sw: xr.Dataset,
    variable: str = "npv",
    *,
    statistic: str = "mean",
    year: str | None = None,
    annotate: bool = True,
    labels: str = "readable",
    ax: Axes | None = None,
    footer: bool = True,
    **kwargs: Any,
) -> Axes:
    """Heat map of a statistic of an output over a two-parameter sweep.

    Parameters
    ----------
    sw : xarray.Dataset
        Output of :func:`nhsrisk.sweep` over exactly two parameters
        (``sw.attrs["swept"]``): the first on the y axis, the second on the x axis.
    variable : str, default="npv"
        Output kept by the sweep (a per-year one is read in ``year``).
    statistic : {"mean", "median", "probability"}, default="mean"
        Colour of a cell, over its draws: the mean or median of
        :func:`nhsrisk.stats.describe`, or the probability of reaching the
        output's threshold from :func:`nhsrisk.stats.exceedance_probability`
        (the cell's claimed return for ``cumulative_value``, 0 for ``npv``,
        1 for ``bcr``), in %.
    year : str, optional
        Year of a per-year output; default ``sw.attrs["target_year"]``.
    annotate : bool, default=True
        Write each cell's value in it (3 significant figures; a probability
        below 0.01% as ``"< 0.01%"``).
    labels : {"readable", "key"}, default="readable"
        Name the swept parameters on the axes by their labels from the
        scenario (:meth:`nhsrisk.Scenario.input_label`) or by their key paths.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default a new 7 x 4.5 inch figure.
    footer : bool, default=True
        Write the draws, seed, price base and nhsrisk version under the
        figure (one footer per figure; see the module notes).
    **kwargs
        Passed to ``ax.imshow`` (default colour map viridis).

    Returns
    -------
    matplotlib.axes.Axes
        With a colour bar labelled with the statistic and its units.

    Raises
    ------
    TypeError
        If ``sw`` is not a Dataset or ``ax`` not an Axes.
    ValueError
        If ``sw`` is not a two-parameter sweep, the variable, statistic or
        year is unknown, or the values are not finite.
    NotImplementedError
        If ``sw`` carries importance weights: a sweep's cells are separate
        runs, and one set of weights along ``draw`` is not each one's posterior.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import nhsrisk
    >>> import nhsrisk.plot
    >>> sw = nhsrisk.sweep(
    ...     "as-announced",
    ...     {"risks.raid_probability": [0.0, 0.5], "risks.digital_exclusion": [0.0, 0.2]},
    ...     draws=200, seed=1,
    ... )
    >>> ax = nhsrisk.plot.heatmap(sw)
    >>> ax.images[0].get_array().shape
    (2, 2)
    >>> plt.close(ax.figure)
    """
    caller = "heatmap"
    _check_ax(ax, caller)
    footer = _check_flag(footer, "footer", caller)
    labels = _check_labels(labels, caller)
    kind = "a Dataset from nhsrisk.sweep over exactly two parameters (attrs['swept'])"
    sw = _check_dataset(sw, "sw", caller, kind)
    refuse_weighted(
        sw,
        caller,
        "each cell of a sweep is a run of its own, and one set of weights along 'draw' cannot be the "
        "posterior of every cell",
    )
    swept = list(sw.attrs.get("swept", []))
    if len(swept) != 2 or not all(key in sw.dims for key in swept):
        raise ValueError(_described("sw", caller, kind, f"{_describe_dataset(sw)} swept over {swept}"))
    if statistic not in _HEATMAP_STATISTICS:
        raise ValueError(_message("statistic", caller, f"one of {list(_HEATMAP_STATISTICS)}", statistic))
    if not isinstance(annotate, bool):
        raise TypeError(_message("annotate", caller, "True or False", annotate))
    da, label, units, chosen_year = _per_draw(sw, variable, year, caller, keep=swept)
    da = da.transpose(*swept, "draw")
    if statistic == "probability":
        reference = _reference(sw, variable, True, caller)
        if reference is None:
            raise ValueError(
                _message(
                    "statistic",
                    caller,
                    "'mean' or 'median' for an output without a threshold (only cumulative_value, npv and "
                    "bcr have one)",
                    statistic,
                )
            )
        threshold = reference[0]
        if threshold.ndim:
            threshold = xr.DataArray(threshold, dims=sw["claimed_return"].dims).transpose(*swept).values
        p, _ = stats.exceedance_probability(da.values, threshold)
        cells = 100.0 * p
        scale, unit_label = 1.0, "%"
        event = "reaching the claimed return" if reference[1] == "claimed return" else reference[1]
        if chosen_year is not None and reference[1] == "claimed return":
            event += f" by {chosen_year}"
        what = f"probability of {event}"
    else:
        described = _describe(da, (0.5,), caller)
        raw = described["mean"] if statistic == "mean" else described["quantile_estimate"].isel(quantile=0)
        raw_values = np.asarray(raw.transpose(*swept).values, dtype=float)
        scale, unit_label = _scale(units, raw_values)
        cells = raw_values / scale
        what = f"{statistic} of {_lower_first(label)}"
    ax = _new_axes(ax)
    style: dict[str, Any] = {"cmap": "viridis", "origin": "lower", "aspect": "auto"}
    if statistic == "probability":
        style |= {"vmin": 0.0, "vmax": 100.0}
    image = ax.imshow(cells, **{**style, **kwargs})
    base = _base_scenario(sw)
    (row_ticks, row_label), (column_ticks, column_label) = (
        _swept_axis(sw, key, base, labels) for key in swept
    )
    ax.set_yticks(np.arange(len(row_ticks)), labels=row_ticks)
    ax.set_xticks(np.arange(len(column_ticks)), labels=column_ticks)
    _ylabel(ax, row_label)
    _xlabel(ax, column_label)
    if annotate:
        for (i, j), value in np.ndenumerate(cells):
            # matplotlib's stub of the abstract Norm takes an array only; Normalize takes a float too
            red, green, blue, _ = image.cmap(image.norm(value))  # type: ignore[arg-type]
            # dark text on light cells and light text on dark ones (relative luminance, ITU-R BT.709)
            light = 0.2126 * red + 0.7152 * green + 0.0722 * blue > 0.5
            ax.text(
                j,
                i,
                _figure_percent(value / 100.0) if statistic == "probability" else _number(value),
                ha="center",
                va="center",
                fontsize="small",
                color="black" if light else "white",
            )
    ax.figure.colorbar(image, ax=ax, label=_wrap(_with_units(what[:1].upper() + what[1:], unit_label), 50))
    _set_title(ax, _title(sw, f"{what} over the sweep"))
    _footer(ax, sw.attrs, footer, per="cell")
    return ax


def _axis_units(units: str) -> str:
    return {"1": "dimensionless", "ratio": "dimensionless", "1/year": "per year"}.get(units, units)


def compare(
    runs: Mapping[str, xr.Dataset] | xr.Dataset,
    variable: str = "cumulative_value",
    *,
    year: str | None = None,
    target: bool | float = True,
    ax: Axes | None = None,
    footer: bool = True,
    **kwargs: Any,
) -> Axes:
    """Box plots of an output over two or more runs side by side.

    Boxes span the 25th to 75th percentile with a line at the median and a
    marker at the mean; whiskers reach the 5th and 95th percentiles (no
    outliers drawn). All come from :func:`nhsrisk.stats.describe`.

    Parameters
    ----------
    runs : mapping of str to xarray.Dataset, or xarray.Dataset
        Label to results of :func:`nhsrisk.simulate`, or the output of
        :func:`nhsrisk.compare_options` (one box per ``option``).
    variable : str, default="cumulative_value"
        An output, as in :func:`distribution`.
    year : str, optional
        Year of a per-year output; default the runs' ``attrs["target_year"]``.
    target : bool or float, default=True
        Horizontal line: the output's own threshold (the claimed return of
        each run for ``cumulative_value``, one line when they agree and a
        segment over each box when they differ; 0 for ``npv``; 1 for ``bcr``),
        a number (output units), or ``False``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default a new 7 x 4.5 inch figure.
    footer : bool, default=True
        Write the draws, seed, price base and nhsrisk version under the
        figure (one footer per figure; see the module notes).
    **kwargs
        Passed to ``ax.bxp``.

    Returns
    -------
    matplotlib.axes.Axes
        Runs on the x axis in the order given.

    Raises
    ------
    TypeError
        If ``runs`` is neither a mapping of Datasets nor a Dataset, or ``ax`` not an Axes.
    ValueError
        If there are fewer than two runs, or a variable or year is unknown.
    NotImplementedError
        If a run carries importance weights (:func:`nhsrisk.update`): the
        boxes are drawn unweighted; :func:`distribution` draws an updated run.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import nhsrisk
    >>> import nhsrisk.plot
    >>> base = nhsrisk.load_scenario()
    >>> options = nhsrisk.compare_options(
    ...     {"as planned": base, "ring-fenced": base.with_values({"risks.raid_probability": 0.0})},
    ...     draws=500, seed=1,
    ... )
    >>> ax = nhsrisk.plot.compare(options)
    >>> [label.get_text() for label in ax.get_xticklabels()]
    ['as planned', 'ring-fenced']
    >>> plt.close(ax.figure)
    """
    caller = "compare"
    _check_ax(ax, caller)
    footer = _check_flag(footer, "footer", caller)
    target = _check_target(target, caller)
    named = _runs(runs, caller)
    for name, run in named.items():
        # a box per run, weighted or not, would need each box to say how it was weighted
        refuse_weighted(
            run,
            caller,
            f"the run {name!r} is weighted and the box plots of runs side by side are drawn unweighted; "
            "draw each updated run with nhsrisk.plot.distribution, which uses its weights",
        )
    claimed = _claimed_returns(runs, target, variable) if isinstance(runs, xr.Dataset) else {}
    boxes: list[tuple[str, np.ndarray, float]] = []
    references: list[float] = []
    reference_label = ""
    for name, run in named.items():
        da, label, units, _ = _per_draw(run, variable, year, caller)
        described = _describe(da, _BOX_QUANTILES, caller)
        boxes.append(
            (name, np.asarray(described["quantile_estimate"].values, dtype=float), float(described["mean"]))
        )
        reference = _reference(run, variable, target, caller, claimed=claimed.get(name))
        if reference is not None:
            references.append(float(reference[0]))
            reference_label = reference[1]
    scale, unit_label = _scale(units, *[q for _, q, _ in boxes], references)
    statistics = [
        {
            "label": name,
            "whislo": q[0] / scale,
            "q1": q[1] / scale,
            "med": q[2] / scale,
            "q3": q[3] / scale,
            "whishi": q[4] / scale,
            "mean": mean / scale,
            "fliers": [],
        }
        for name, q, mean in boxes
    ]
    ax = _new_axes(ax)
    style = {
        "showmeans": True,
        "showfliers": False,
        "patch_artist": True,
        "boxprops": {"facecolor": OKABE_ITO["sky_blue"], "edgecolor": OKABE_ITO["black"]},
        "medianprops": {"color": OKABE_ITO["black"], "linewidth": 2.0},
        "meanprops": {
            "marker": "D",
            "markerfacecolor": OKABE_ITO["orange"],
            "markeredgecolor": OKABE_ITO["black"],
        },
    }
    artists = ax.bxp(statistics, **{**style, **kwargs})
    for part, name in (("boxes", "25-75%"), ("whiskers", "5-95%"), ("medians", "median"), ("means", "mean")):
        if artists.get(part):
            artists[part][0].set_label(name)
    if references:
        levels = np.array(references) / scale
        colour = OKABE_ITO["vermillion"]
        if np.all(levels == levels[0]):
            ax.axhline(levels[0], color=colour, linestyle="--", linewidth=1.5, label=reference_label)
        else:
            positions = np.arange(1, len(levels) + 1)
            ax.hlines(
                levels,
                positions - 0.4,
                positions + 0.4,
                colors=colour,
                linestyles="--",
                label=reference_label,
            )
    _ylabel(ax, _with_units(label, unit_label))
    # the scenario the runs share, if they share one; its changes only where every run has the same
    shared: dict[str, Any] = {}
    for key in ("scenario_name", "scenario_title", "scenario_changes"):
        values = {str(run.attrs.get(key, "")) for run in named.values()}
        if len(values) == 1:
            shared[key] = values.pop()
        elif key != "scenario_changes":
            shared = {}
            break
    _set_title(ax, _title(shared, f"{_lower_first(label)}, runs compared"))
    _tidy(ax)
    _legend(ax, fontsize="small", loc="best")
    for run in named.values():
        _footer(ax, run.attrs, footer)
    return ax


def _runs(runs: Any, caller: str) -> dict[str, xr.Dataset]:
    """Label -> results Dataset, from a mapping or from the ``option`` dimension of compare_options."""
    kind = "a mapping of at least two labels to results of nhsrisk.simulate, or a compare_options Dataset"
    if isinstance(runs, xr.Dataset):
        if "option" not in runs.dims or runs.sizes["option"] < 2 or "draw" not in runs.dims:
            raise ValueError(_described("runs", caller, kind, _describe_dataset(runs)))
        return {str(option): runs.isel(option=i, drop=True) for i, option in enumerate(runs["option"].values)}
    if not isinstance(runs, Mapping):
        raise TypeError(_message("runs", caller, kind, type(runs).__name__))
    if len(runs) < 2:
        raise ValueError(_described("runs", caller, kind, f"a mapping of {len(runs)} run(s)"))
    for label, run in runs.items():
        if not isinstance(run, xr.Dataset) or "draw" not in run.dims:
            got = (
                _describe_dataset(run)
                if isinstance(run, xr.Dataset)
                else f"a value of type {type(run).__name__}"
            )
            error = ValueError if isinstance(run, xr.Dataset) else TypeError
            raise error(_described("runs", caller, kind, f"{got} for {label!r}"))
    named = {str(label): run for label, run in runs.items()}
    if len(named) < len(runs):
        raise ValueError(_message("runs", caller, "a mapping with distinct labels", list(runs)))
    return named


def _claimed_returns(options: xr.Dataset, target: bool | float, variable: str) -> dict[str, float]:
    """Claimed return of each option, from the scenarios compare_options keeps in its attrs."""
    from nhsrisk.scenario import Scenario

    if target is not True or variable != "cumulative_value" or "claimed_return" in options.data_vars:
        return {}
    labels = [str(option) for option in options["option"].values]
    texts = {label: options.attrs.get(f"scenario[{label}]") for label in labels}
    if not all(isinstance(text, str) for text in texts.values()):
        raise ValueError(
            _message(
                "target",
                "compare",
                "False, or a number in GBP, when runs holds no claimed return "
                "(no attrs['scenario[<option>]'])",
                target,
            )
        )
    # the same figure simulate stores as claimed_return
    return {
        # str(): each text was checked to be one above (all() does not narrow the type)
        label: Scenario.from_toml(str(text)).target.claimed_return.distribution.mean()
        for label, text in texts.items()
    }


def equity(
    ds: xr.Dataset,
    by: str = "quintile",
    *,
    baseline_ds: xr.Dataset | None = None,
    ax: Axes | None = None,
    footer: bool = True,
    **kwargs: Any,
) -> Axes:
    """Patient-channel benefit per head by deprivation quintile or age band, with its spread.

    Bars are the mean present value per person (GBP, appraisal period) of the
    patient channel's benefit, shared out by the segment of the patients whose
    contacts moved online (:func:`nhsrisk.stats.equity`); whiskers run from
    the 5th to the 95th percentile over the draws. The title gives the ratio of
    the most to the least deprived quintile's mean (by quintile) or of the oldest
    band's mean to that of the band that gets the most (by age band), with its
    Monte Carlo error. With ``baseline_ds`` the bars are the change against the baseline, draw by
    draw (who gains from what the scenario adds), and the title gives the
    difference between the most and the least deprived quintile's mean change.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of a scenario with a ``[population]`` table.
    by : {"quintile", "age_band"}, default="quintile"
        Which margin to draw.
    baseline_ds : xarray.Dataset, optional
        Results of the baseline scenario on the same draws (same seed and number of draws).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default a new 7 x 4.5 inch figure.
    footer : bool, default=True
        Write the draws, seed, price base and nhsrisk version under the figure.
    **kwargs
        Passed to ``ax.bar``.

    Returns
    -------
    matplotlib.axes.Axes
        One bar per quintile (most deprived first) or age band; y axis in GBP per person.

    Raises
    ------
    TypeError
        If ``ax`` is not an Axes.
    ValueError
        If ``by`` is not ``"quintile"`` or ``"age_band"``, or the results have no
        population (see :func:`nhsrisk.stats.equity`).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import nhsrisk
    >>> import nhsrisk.plot
    >>> ax = nhsrisk.plot.equity(nhsrisk.simulate(draws=2_000, seed=1))
    >>> [label.get_text() for label in ax.get_xticklabels()][:2]
    ['most deprived', '2nd']
    >>> plt.close(ax.figure)
    >>> base = nhsrisk.simulate("as-announced", draws=2_000, seed=1)
    >>> plus = nhsrisk.simulate("plus-digital-inclusion", draws=2_000, seed=1)
    >>> ax = nhsrisk.plot.equity(plus, "age_band", baseline_ds=base)
    >>> " ".join(ax.get_ylabel().split())  # wrapped to the figure's height
    'Change in patient-channel benefit per head (GBP per person, PV)'
    >>> plt.close(ax.figure)
    """
    caller = "equity"
    _check_ax(ax, caller)
    footer = _check_flag(footer, "footer", caller)
    if by not in ("quintile", "age_band"):
        raise ValueError(_described("by", caller, "'quintile' or 'age_band'", repr(by)))
    ds = _check_results(ds, caller)
    if baseline_ds is not None:
        baseline_ds = _check_results(baseline_ds, caller)
    table = stats.equity(ds, baseline_ds)
    values = table[f"per_head_by_{by}"]
    mean = values.sel(statistic="mean").values
    low, high = values.sel(statistic="5%").values, values.sel(statistic="95%").values
    labels = [str(label) for label in values[by].values]
    ax = _new_axes(ax)
    x = np.arange(len(labels))
    style: dict[str, Any] = {"color": OKABE_ITO["blue"], "alpha": 0.85, **kwargs}
    ax.bar(x, mean, label="mean", **style)
    ax.errorbar(
        x,
        mean,
        yerr=[mean - low, high - mean],
        fmt="none",
        ecolor="0.25",
        capsize=4,
        linewidth=1.2,
        label="5-95% of draws",
    )
    ax.axhline(0.0, color="0.5", linewidth=0.8)
    # headroom above the highest whisker for the legend, which would otherwise sit on a whisker
    bottom, top = min(0.0, float(low.min())), max(0.0, float(high.max()))
    ax.set_ylim(bottom - 0.05 * (top - bottom), top + 0.22 * (top - bottom))
    ax.set_xticks(x, labels)
    _xlabel(ax, "Deprivation quintile (IMD), most deprived first" if by == "quintile" else "Age band (years)")
    margin = by.replace("_", " ")
    if baseline_ds is None:
        _ylabel(ax, "Patient-channel benefit per head (GBP per person, PV)")
        if by == "quintile":
            ratio = float(table["most_to_least_deprived"])
            error = float(table["most_to_least_deprived_mcse"])
            share = f"{ratio:.3g} ± {significant(error, 1)}"
            gap = f"most deprived get {share} of what the least deprived get, per head"
        else:
            ratios = table["to_highest_age_band"]
            oldest, leader = labels[-1], labels[int(np.argmax(ratios.values))]
            ratio = float(ratios.sel(age_band=oldest))
            error = float(table["to_highest_age_band_mcse"].sel(age_band=oldest))
            share = f"{ratio:.3g} ± {significant(error, 1)}"
            gap = f"aged {oldest} get {share} of what those aged {leader} get, per head"
        what = f"who gains from the patient channel, by {margin}"
    else:
        _ylabel(ax, "Change in patient-channel benefit per head (GBP per person, PV)")
        difference = float(table["most_minus_least_deprived"])
        error = float(table["most_minus_least_deprived_mcse"])
        unit = money_unit(difference, error)
        gap = (
            f"most deprived gain {unit.amount(difference)} ± {unit.amount(error, 1)} per head "
            "more than the least deprived"
        )
        what = f"who gains, against {baseline_ds.attrs.get('scenario_name', 'the baseline')}, by {margin}"
    _set_title(ax, _title(ds, what, gap))
    _tidy(ax)
    _legend(ax, loc="upper center", ncol=2)
    _footer(ax, ds.attrs, footer)
    return ax


def uptake_priors(
    scenario: Scenario | str | xr.Dataset | None = None,
    *,
    ax: Axes | None = None,
    footer: bool = True,
    **kwargs: Any,
) -> Axes:
    """Uptake-steepness priors against the rates the delivery record implies.

    One row per piece of evidence from :func:`nhsrisk.history.uptake_prior_check`:
    the 5-95% range of the prior of the parameter it bears on (a grey bar,
    per year) and the rate from the record (per year): a fit of the logistic
    curve with its 95% interval (circle), a two-point rate (square) or a lower
    bound from the growth of use (triangle pointing to where the rate may lie).

    Parameters
    ----------
    scenario : Scenario, str or xarray.Dataset, optional
        Whose priors to draw: a scenario, its name or path, or the results of
        a run (the scenario it was made from); the default scenario when omitted.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; default a new figure sized to the rows.
    footer : bool, default=True
        Write under the figure the run's draws and seed (given results), the
        price base and the nhsrisk version.
    **kwargs
        Passed to ``ax.plot`` for the evidence markers.

    Returns
    -------
    matplotlib.axes.Axes
        Legend entries ``"prior, 5-95%"``, ``"fit (95% CI)"``, ``"two-point
        rate"`` and ``"lower bound"``; x axis in logistic rate per year.

    Raises
    ------
    TypeError
        If ``ax`` is not a matplotlib Axes.
    nhsrisk.ScenarioError
        If ``scenario`` names no scenario or is not a valid one.

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import nhsrisk.plot
    >>> ax = nhsrisk.plot.uptake_priors()
    >>> ax.get_xlabel()
    'Logistic rate of uptake (per year)'
    >>> len(ax.get_yticklabels())
    6
    >>> plt.close(ax.figure)
    """
    caller = "uptake_priors"
    _check_ax(ax, caller)
    footer = _check_flag(footer, "footer", caller)
    run: Mapping[str, Any] = {}
    if isinstance(scenario, xr.Dataset):
        run = scenario.attrs
        scenario = scenario_from_attrs(run)
    check = history.uptake_prior_check(scenario)
    # the verdict is on the label's last line: the rows stay readable at the default width
    ticks = [
        f"{row.evidence}, {row.period}\n{row.programme}.{row.parameter}: {row.verdict}"
        for row in check.itertuples()
    ]
    # wider than the default: the labels name the evidence, its period and the parameter
    ax = _new_axes(ax, _rows_height(ticks, 0.55, extra_rows=1.5), width=9.5)
    y = np.arange(len(check))[::-1]
    grey, blue = "0.75", OKABE_ITO["blue"]
    ax.hlines(y, check.prior_5, check.prior_95, color=grey, linewidth=9, label="prior, 5-95%")
    styles = {
        "fit": ("o", "fit (95% CI)"),
        "two-point": ("s", "two-point rate"),
        "lower bound": (">", "lower bound"),
    }
    labelled: set[str] = set()
    right = float(max(check.prior_95.max(), check.rate.max(), np.nanmax(check.high)))
    for at, row in zip(y, check.itertuples(), strict=True):
        marker, name = styles[str(row.kind)]
        label = None if name in labelled else name
        labelled.add(name)
        if row.kind == "fit":
            ax.hlines(at, max(float(row.low), 0.0), float(row.high), color=blue, linewidth=1.5)
        if row.kind == "lower bound":
            ax.annotate(
                "",
                xy=(float(row.rate) + 0.12 * right, at),
                xytext=(float(row.rate), at),
                arrowprops={"arrowstyle": "->", "color": blue, "linewidth": 1.5},
            )
        style: dict[str, Any] = {"color": blue, "marker": marker, "markersize": 8, "linestyle": "none"}
        ax.plot([float(row.rate)], [at], label=label, **{**style, **kwargs})
    ax.set_xlim(0.0, right * 1.15)
    ax.set_yticks(y, ticks)
    ax.set_ylim(-0.7, len(check) - 0.3)
    _xlabel(ax, "Logistic rate of uptake (per year)")
    title = "Uptake steepness: the priors against the delivery record"
    _set_title(ax, f"{title}\nscenario {check.attrs['scenario']}")
    _tidy(ax)
    # below the axis: every row of the plot area holds data
    _legend(ax, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, fontsize="small")
    attrs = run or {"price_base": check.attrs["price_base"], "nhsrisk_version": __version__}
    _footer(ax, attrs, footer)
    return ax


# --------------------------------------------------------------------------------------------------
# Accessor
# --------------------------------------------------------------------------------------------------


class PlotAccessor:
    """The plots of this module on one Dataset, as ``ds.nhsrisk.plot``.

    Each method calls the function of the same name with the Dataset as its
    first argument, so it suits the kind of Dataset that function takes.

    Parameters
    ----------
    ds : xarray.Dataset
        Results of :func:`nhsrisk.simulate`, or of an experiment
        (:func:`nhsrisk.tornado`, :func:`nhsrisk.sweep`...).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> import nhsrisk
    >>> from nhsrisk.plot import PlotAccessor
    >>> ax = PlotAccessor(nhsrisk.simulate(draws=500, seed=1)).fan()
    >>> ax.get_xlabel()
    'Financial year'
    >>> plt.close(ax.figure)
    """

    __slots__ = ("_ds",)

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    def fan(
        self,
        variable: str = "cumulative_value",
        *,
        target: bool | float = True,
        ax: Axes | None = None,
        **kwargs: Any,
    ) -> Axes:
        """Call :func:`nhsrisk.plot.fan` on this Dataset.

        Parameters
        ----------
        variable, target, ax, **kwargs
            As in :func:`nhsrisk.plot.fan`.

        Returns
        -------
        matplotlib.axes.Axes
            The fan chart.

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import nhsrisk
        >>> from nhsrisk.plot import PlotAccessor
        >>> ax = PlotAccessor(nhsrisk.simulate(draws=500, seed=1)).fan("value")
        >>> " ".join(ax.get_ylabel().split())
        'Value of additional benefits, all kinds, all programmes (GBP m/year)'
        >>> plt.close(ax.figure)
        """
        return fan(self._ds, variable, target=target, ax=ax, **kwargs)

    def distribution(
        self,
        variable: str = "npv",
        *,
        year: str | None = None,
        percentiles: Sequence[float] = (0.05, 0.5, 0.95),
        bins: int = 60,
        target: bool | float = True,
        ax: Axes | None = None,
        **kwargs: Any,
    ) -> Axes:
        """Call :func:`nhsrisk.plot.distribution` on this Dataset.

        Parameters
        ----------
        variable, year, percentiles, bins, target, ax, **kwargs
            As in :func:`nhsrisk.plot.distribution`.

        Returns
        -------
        matplotlib.axes.Axes
            The histogram.

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import nhsrisk
        >>> from nhsrisk.plot import PlotAccessor
        >>> ax = PlotAccessor(nhsrisk.simulate(draws=500, seed=1)).distribution(bins=10)
        >>> len(ax.patches)
        10
        >>> plt.close(ax.figure)
        """
        return distribution(
            self._ds, variable, year=year, percentiles=percentiles, bins=bins, target=target, ax=ax, **kwargs
        )

    def exceedance(
        self,
        variable: str = "cumulative_value",
        *,
        year: str | None = None,
        target: bool | float = True,
        ax: Axes | None = None,
        **kwargs: Any,
    ) -> Axes:
        """Call :func:`nhsrisk.plot.exceedance` on this Dataset.

        Parameters
        ----------
        variable, year, target, ax, **kwargs
            As in :func:`nhsrisk.plot.exceedance`.

        Returns
        -------
        matplotlib.axes.Axes
            The exceedance curve.

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import nhsrisk
        >>> from nhsrisk.plot import PlotAccessor
        >>> ax = PlotAccessor(nhsrisk.simulate(draws=500, seed=1)).exceedance("npv")
        >>> ax.get_xlabel()
        'Net present value over the appraisal period (GBP bn)'
        >>> plt.close(ax.figure)
        """
        return exceedance(self._ds, variable, year=year, target=target, ax=ax, **kwargs)

    def equity(
        self,
        by: str = "quintile",
        *,
        baseline_ds: xr.Dataset | None = None,
        ax: Axes | None = None,
        **kwargs: Any,
    ) -> Axes:
        """Call :func:`nhsrisk.plot.equity` on this Dataset.

        Parameters
        ----------
        by, baseline_ds, ax, **kwargs
            As in :func:`nhsrisk.plot.equity`.

        Returns
        -------
        matplotlib.axes.Axes
            Benefit per head by quintile or age band.

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import nhsrisk
        >>> from nhsrisk.plot import PlotAccessor
        >>> ax = PlotAccessor(nhsrisk.simulate(draws=500, seed=1)).equity("age_band")
        >>> ax.get_xlabel()
        'Age band (years)'
        >>> plt.close(ax.figure)
        """
        return equity(self._ds, by, baseline_ds=baseline_ds, ax=ax, **kwargs)

    def payback(self, *, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Call :func:`nhsrisk.plot.payback` on this Dataset.

        Parameters
        ----------
        ax, **kwargs
            As in :func:`nhsrisk.plot.payback`.

        Returns
        -------
        matplotlib.axes.Axes
            The payback probabilities by year.

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import nhsrisk
        >>> from nhsrisk.plot import PlotAccessor
        >>> ax = PlotAccessor(nhsrisk.simulate(draws=500, seed=1)).payback()
        >>> ax.get_xlabel()
        'Financial year'
        >>> plt.close(ax.figure)
        """
        return payback(self._ds, ax=ax, **kwargs)

    def waterfall(self, *, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Call :func:`nhsrisk.plot.waterfall` on this Dataset.

        Parameters
        ----------
        ax, **kwargs
            As in :func:`nhsrisk.plot.waterfall`.

        Returns
        -------
        matplotlib.axes.Axes
            The waterfall chart.

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> from nhsrisk.experiments import waterfall
        >>> from nhsrisk.plot import PlotAccessor
        >>> ax = PlotAccessor(waterfall(draws=500, seed=1, groups=["budget raids"])).waterfall()
        >>> ax.get_yticklabels()[-1].get_text()
        'realised'
        >>> plt.close(ax.figure)
        """
        return waterfall(self._ds, ax=ax, **kwargs)

    def tornado(self, *, top: int = 15, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Call :func:`nhsrisk.plot.tornado` on this Dataset.

        Parameters
        ----------
        top, ax, **kwargs
            As in :func:`nhsrisk.plot.tornado`.

        Returns
        -------
        matplotlib.axes.Axes
            The tornado chart.

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import nhsrisk
        >>> from nhsrisk.plot import PlotAccessor
        >>> ax = PlotAccessor(nhsrisk.tornado(inputs=["risks.staff_capacity"])).tornado()
        >>> len(ax.patches)
        2
        >>> plt.close(ax.figure)
        """
        return tornado(self._ds, top=top, ax=ax, **kwargs)

    def spider(
        self, *, inputs: Sequence[str] | None = None, top: int = 8, ax: Axes | None = None, **kwargs: Any
    ) -> Axes:
        """Call :func:`nhsrisk.plot.spider` on this Dataset.

        Parameters
        ----------
        inputs, top, ax, **kwargs
            As in :func:`nhsrisk.plot.spider`.

        Returns
        -------
        matplotlib.axes.Axes
            The spider plot.

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import nhsrisk
        >>> from nhsrisk.plot import PlotAccessor
        >>> ax = PlotAccessor(nhsrisk.spider(inputs=["risks.staff_capacity"])).spider(labels="key")
        >>> ax.get_lines()[0].get_label()
        'risks.staff_capacity'
        >>> plt.close(ax.figure)
        """
        return spider(self._ds, inputs=inputs, top=top, ax=ax, **kwargs)

    def sobol(self, *, top: int = 15, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Call :func:`nhsrisk.plot.sobol` on this Dataset.

        Parameters
        ----------
        top, ax, **kwargs
            As in :func:`nhsrisk.plot.sobol`.

        Returns
        -------
        matplotlib.axes.Axes
            The Sobol' indices.

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import nhsrisk
        >>> from nhsrisk.plot import PlotAccessor
        >>> ax = PlotAccessor(nhsrisk.sobol_analysis(base_samples=64, seed=1, bootstrap=0)).sobol(top=3)
        >>> len(ax.patches)
        6
        >>> plt.close(ax.figure)
        """
        return sobol(self._ds, top=top, ax=ax, **kwargs)

    def heatmap(
        self,
        variable: str = "npv",
        *,
        statistic: str = "mean",
        year: str | None = None,
        annotate: bool = True,
        ax: Axes | None = None,
        **kwargs: Any,
    ) -> Axes:
        """Call :func:`nhsrisk.plot.heatmap` on this Dataset.

        Parameters
        ----------
        variable, statistic, year, annotate, ax, **kwargs
            As in :func:`nhsrisk.plot.heatmap`.

        Returns
        -------
        matplotlib.axes.Axes
            The heat map.

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import nhsrisk
        >>> from nhsrisk.plot import PlotAccessor
        >>> sw = nhsrisk.sweep(
        ...     "as-announced",
        ...     {"risks.raid_probability": [0.0, 0.5], "risks.digital_exclusion": [0.0, 0.2]},
        ...     draws=200, seed=1,
        ... )
        >>> ax = PlotAccessor(sw).heatmap(statistic="median")
        >>> ax.images[0].get_array().shape
        (2, 2)
        >>> plt.close(ax.figure)
        """
        return heatmap(self._ds, variable, statistic=statistic, year=year, annotate=annotate, ax=ax, **kwargs)

    def uptake_priors(self, *, ax: Axes | None = None, **kwargs: Any) -> Axes:
        """Call :func:`nhsrisk.plot.uptake_priors` on this run's scenario: its priors against the record.

        Parameters
        ----------
        ax, **kwargs
            As in :func:`nhsrisk.plot.uptake_priors`.

        Returns
        -------
        matplotlib.axes.Axes
            The priors of the scenario the run was made from, against the delivery record.

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import nhsrisk
        >>> ax = nhsrisk.simulate(draws=500, seed=1).nhsrisk.plot.uptake_priors()
        >>> ax.get_title().splitlines()[-1]
        'scenario as-announced'
        >>> plt.close(ax.figure)
        """
        return uptake_priors(self._ds, ax=ax, **kwargs)

    def compare(
        self,
        variable: str = "cumulative_value",
        *,
        year: str | None = None,
        target: bool | float = True,
        ax: Axes | None = None,
        **kwargs: Any,
    ) -> Axes:
        """Call :func:`nhsrisk.plot.compare` on this Dataset (from :func:`nhsrisk.compare_options`).

        Parameters
        ----------
        variable, year, target, ax, **kwargs
            As in :func:`nhsrisk.plot.compare`.

        Returns
        -------
        matplotlib.axes.Axes
            The box plots, one per option.

        Examples
        --------
        >>> import matplotlib; matplotlib.use("Agg")
        >>> import matplotlib.pyplot as plt
        >>> import nhsrisk
        >>> from nhsrisk.plot import PlotAccessor
        >>> base = nhsrisk.load_scenario()
        >>> options = nhsrisk.compare_options(
        ...     {"as planned": base, "no raids": base.with_values({"risks.raid_probability": 0.0})},
        ...     draws=500, seed=1,
        ... )
        >>> ax = PlotAccessor(options).compare("npv")
        >>> " ".join(ax.get_ylabel().split())
        'Net present value over the appraisal period (GBP bn)'
        >>> plt.close(ax.figure)
        """
        return compare(self._ds, variable, year=year, target=target, ax=ax, **kwargs)
