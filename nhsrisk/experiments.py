"""Designed experiments on a scenario: tornado, spider, Sobol' indices, sweeps and decision options.

Tornado, spider and Sobol' analyses place every uncertain input at chosen
percentiles and run the same numba kernel as :func:`~nhsrisk.simulate` on that
design (its ``DESIGN`` sampler). The factors are the kernel's random streams:
each named input, plus one stream per year for the raid event
(``"risks.raid_event[2025/26]"``: a raid happens when this uniform falls below
the raid probability) and for the raid fraction. Sweeps and decision options
re-run :func:`~nhsrisk.simulate` with the same seed, so every cell sees the same
random numbers (common random numbers) and differences between cells are
differences of the model, not of the noise.
"""

from __future__ import annotations

import itertools
import math
import numbers
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast

import numba
import numpy as np
import xarray as xr

from nhsrisk import _design
from nhsrisk._engine import allocate_results, kernel_arguments, sampling_arguments
from nhsrisk._engine import check_finite as _check_finite
from nhsrisk._engine import run as _run
from nhsrisk._kernels import simulate_kernel
from nhsrisk._model import OUTPUTS
from nhsrisk._plan import Plan, build_plan
from nhsrisk._progress import check_progress, progress_bar
from nhsrisk._sampling import FIXED
from nhsrisk._validate import check_count, check_names, resolve_seed
from nhsrisk._version import __version__
from nhsrisk.distributions import Distribution
from nhsrisk.scenario import DEFAULT_SCENARIO, Scenario, dumps_toml, load_scenario, scenario_attrs
from nhsrisk.simulation import simulate
from nhsrisk.sobol import (
    _check_base_samples,
    _check_bootstrap,
    _check_confidence,
    saltelli_design,
    sobol_from_evaluations,
)

__all__ = [
    "WATERFALL_HAIRCUTS",
    "WATERFALL_STEPS",
    "compare_options",
    "sobol_analysis",
    "spider",
    "sweep",
    "switched_off",
    "tornado",
    "waterfall",
    "waterfall_groups",
]

_YEAR_SUFFIX = re.compile(r"\[(\d{4}/\d{2})\]$")
_SMALL_DESIGN = 1024
#: Range searched for a switching value: the 0.1th to 99.9th percentile of each input.
SWITCHING_RANGE = (0.001, 0.999)


@dataclass(frozen=True)
class _Factor:
    """One random stream of the kernel as a factor of an experiment."""

    name: str  # stream name, e.g. "risks.raid_fraction[2025/26]"
    group: str  # the input it belongs to, e.g. "risks.raid_fraction"
    column: int  # row of the design matrix
    distribution: Distribution
    long_name: str
    units: str
    label: str  # a reader's name for it, from Scenario.input_label


def _factors(plan: Plan, scenario: Scenario) -> list[_Factor]:
    docs = {stored.variable: (stored.doc, stored.unit) for stored in plan.stored}
    factors = []
    for k, name in enumerate(plan.stream_names):
        column = int(plan.design_rows[k])
        if column < 0:
            continue
        group = _YEAR_SUFFIX.sub("", name)
        if group == "risks.raid_event":
            doc, unit = "uniform deciding the budget raid (a raid when below the raid probability)", "1"
        else:
            doc, unit = docs[group]
        label = scenario.input_label(name)
        factors.append(_Factor(name, group, column, plan.stream_distributions[k], doc, unit, label))
    return factors


def _select(factors: list[_Factor], inputs: Sequence[str] | None, caller: str) -> list[_Factor]:
    if inputs is None:
        return factors
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, Sequence | np.ndarray) or not all(isinstance(name, str) for name in inputs):
        raise TypeError(
            f"The 'inputs' parameter of {caller} must be a key path or a sequence of key paths. "
            f"Got {inputs!r} instead."
        )
    chosen = []
    for name in inputs:
        matched = [f for f in factors if name in (f.name, f.group)]
        if not matched:
            known = sorted({f.group for f in factors})
            raise ValueError(
                f"The 'inputs' parameter of {caller} must name uncertain inputs of the scenario, such as "
                f"{known[:4]} (per-year inputs by name or as 'name[2025/26]'). Got {name!r}."
            )
        chosen += [f for f in matched if f not in chosen]
    return chosen


def _output_reader(scenario: Scenario, output: str, caller: str) -> tuple[Any, str, str]:
    """Return a function arrays -> per-draw values of ``output``, its label and units."""
    if output not in OUTPUTS:
        raise ValueError(
            f"The 'output' parameter of {caller} must be one of {sorted(OUTPUTS)}. Got {output!r} instead."
        )
    dims, long_name, units = OUTPUTS[output][:3]
    if dims == ():
        return (lambda arrays: arrays[output].astype(float)), long_name, units
    if dims == ("year",):
        t = list(scenario.years).index(scenario.target_year)
        label = f"{long_name} in {scenario.target_year}"
        return (lambda arrays: arrays[output][t].astype(float)), label, units
    raise ValueError(
        f"The 'output' parameter of {caller} must be a per-draw scalar or per-year output (the target year "
        f"is used); {output!r} has dims {dims}: sum it over its other dimensions in a simulate run instead."
    )


def _evaluate(
    plan: Plan,
    uniforms: np.ndarray,
    threads: int | None = None,
    *,
    correlated: bool = False,
    buffers: tuple[dict[str, np.ndarray], np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Run the kernel on a design: ``uniforms[column, draw]`` for every non-fixed stream.

    ``correlated=True`` passes the correlated inputs' uniforms through the
    scenario's copula first (Sobol' designs over groups of correlated inputs);
    otherwise each input sits exactly where the design puts it. ``buffers``
    (from :func:`~nhsrisk._engine.allocate_results`) are filled instead of fresh
    arrays, so a sequence of designs touches its memory once; what is read from
    them must be copied before the next design overwrites it.
    """
    design = np.ascontiguousarray(uniforms, dtype=float)
    if threads is None and design.shape[1] <= _SMALL_DESIGN:
        threads = 1  # waking a thread pool costs more than a few hundred draws (results do not change)
    sampling = sampling_arguments(plan, _design.DESIGN, design=design, correlated=correlated)
    arrays = _run(plan, 0, 0, design.shape[1], threads, sampling=sampling, buffers=buffers)
    _check_finite(plan, arrays, 0)
    return arrays


def _base_design(plan: Plan, draws: int) -> np.ndarray:
    return np.full((plan.uniforms_per_draw, draws), 0.5)


def _one_at_a_time(plan: Plan, factors: list[_Factor], grid: np.ndarray, base_draws: int = 0) -> np.ndarray:
    """Move each factor across ``grid`` in turn (others at medians), then add ``base_draws`` medians."""
    design = _base_design(plan, len(factors) * grid.size + base_draws)
    for i, factor in enumerate(factors):
        design[factor.column, i * grid.size : (i + 1) * grid.size] = grid
    return design


def _probability(value: Any, name: str, caller: str) -> float:
    # typeshed's numbers.Real supports no comparisons; cast (not float(), which overflows on a huge int)
    if (
        isinstance(value, bool | np.bool_)
        or not isinstance(value, numbers.Real)
        or not 0.0 < cast(float, value) < 1.0
    ):
        raise ValueError(f"The {name!r} parameter of {caller} must be in (0, 1). Got {value!r} instead.")
    return float(value)


def _default_threshold(scenario: Scenario, output: str) -> float:
    if output == "cumulative_value":
        return float(scenario.target.claimed_return.distribution.mean())
    if output == "bcr":
        return 1.0
    return 0.0


def _input_coords(factors: list[_Factor]) -> dict[str, Any]:
    return {
        "input": ("input", [f.name for f in factors], {"long_name": "Uncertain input (kernel stream)"}),
        "input_group": ("input", [f.group for f in factors], {"long_name": "Input key path"}),
        "input_long_name": ("input", [f.long_name for f in factors]),
        "input_units": ("input", [f.units for f in factors]),
        "input_label": ("input", [f.label for f in factors], {"long_name": "Uncertain input (readable)"}),
    }


def _result_attrs(scenario: Scenario) -> dict[str, Any]:
    """Return what an experiment's result says about where it comes from: scenario and nhsrisk version."""
    return {**scenario_attrs(scenario), "scenario_sha256": scenario.sha256(), "nhsrisk_version": __version__}


def tornado(
    scenario: Scenario | str | Path = DEFAULT_SCENARIO,
    output: str = "npv",
    *,
    low: float = 0.1,
    high: float = 0.9,
    inputs: Sequence[str] | None = None,
    threshold: float | None = None,
    threads: int | None = None,
) -> xr.Dataset:
    """One-way sensitivity: each input at its ``low`` and ``high`` percentile, the others at their medians.

    Parameters
    ----------
    scenario : Scenario or str or path-like, default: the default scenario
        Scenario (see :func:`~nhsrisk.load_scenario`).
    output : str, default="npv"
        Output variable: a per-draw scalar (``"npv"``, ``"bcr"``) or a per-year
        one (``"cumulative_value"``), read in the target year.
    low, high : float, default=0.1, 0.9
        Percentiles (as probabilities) of the two ends of each bar.
    inputs : sequence of str, optional
        Inputs to vary (key paths; a per-year input by name or as
        ``"name[2025/26]"``). Default: every uncertain input and the yearly raid events.
    threshold : float, optional
        Output level for the switching values (Green Book): default 0 for
        ``npv``, 1 for ``bcr`` and the claimed return for ``cumulative_value``.
    threads : int, optional
        Number of numba threads.

    Returns
    -------
    xarray.Dataset
        Dimension ``input``, sorted by ``swing`` (largest first): ``output_low``
        and ``output_high`` (output with the input at ``low`` and ``high``),
        ``swing`` (their absolute difference), ``input_low``, ``input_base``
        and ``input_high`` (the input's values, in its units), and the
        switching value: ``switching_value`` (the input value, within its
        0.1th-99.9th percentile range, at which the output crosses
        ``threshold`` with the others at their medians; NaN where it never
        does, flagged by ``has_switching_value``) and
        ``switching_percentile``. The scalar ``output_base`` is the output with
        every input at its median. Correlations between inputs are not applied
        (one input moves at a time).

    Examples
    --------
    >>> import nhsrisk
    >>> t = nhsrisk.tornado(inputs=["risks.digital_exclusion", "programmes.staff_technology.cost_overrun"])
    >>> t.sizes["input"]
    2
    >>> bool((t["swing"] >= 0).all())
    True
    """
    caller = "tornado"
    scenario = load_scenario(scenario)
    low = _probability(low, "low", caller)
    high = _probability(high, "high", caller)
    if not low < high:
        raise ValueError(
            f"The 'low' parameter of tornado must be below 'high' ({high}). Got {low!r} instead."
        )
    read, label, units = _output_reader(scenario, output, caller)
    threshold = (
        _default_threshold(scenario, output) if threshold is None else _finite(threshold, "threshold", caller)
    )
    plan = build_plan(scenario)
    factors = _select(_factors(plan, scenario), inputs, caller)
    k = len(factors)
    design = _base_design(plan, 2 * k + 1)
    for i, factor in enumerate(factors):
        design[factor.column, i] = low
        design[factor.column, k + i] = high
    values = read(_evaluate(plan, design, threads))
    output_low, output_high, base = values[:k], values[k : 2 * k], values[2 * k]
    switching = _switching_values(plan, factors, read, threshold, threads)
    swing = np.abs(output_high - output_low)
    order = np.argsort(-swing, kind="stable")
    factors = [factors[i] for i in order]
    attrs = {"long_name": label, "units": units}
    ds = xr.Dataset(
        {
            "output_low": (
                "input",
                output_low[order],
                {**attrs, "description": f"input at percentile {low}"},
            ),
            "output_high": (
                "input",
                output_high[order],
                {**attrs, "description": f"input at percentile {high}"},
            ),
            "swing": ("input", swing[order], {"long_name": f"Swing of {label}", "units": units}),
            "input_low": ("input", _ppf(factors, low), {"long_name": f"Input at percentile {low}"}),
            "input_base": ("input", _ppf(factors, 0.5), {"long_name": "Input at its median"}),
            "input_high": ("input", _ppf(factors, high), {"long_name": f"Input at percentile {high}"}),
            "switching_value": ("input", switching[0][order], {"long_name": "Switching value (input units)"}),
            "switching_percentile": (
                "input",
                switching[1][order],
                {"long_name": "Percentile of the input at its switching value", "units": "1"},
            ),
            "has_switching_value": ("input", np.isfinite(switching[0][order])),
            "output_base": ((), base, {**attrs, "description": "every input at its median"}),
        },
        coords=_input_coords(factors),
        attrs={
            **_result_attrs(scenario),
            "output": output,
            "low": low,
            "high": high,
            "threshold": threshold,
            "switching_range": list(SWITCHING_RANGE),
            "correlations": "not applied: one input moves at a time",
        },
    )
    return ds


def _finite(value: Any, name: str, caller: str) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(
            f"The {name!r} parameter of {caller} must be a finite number. Got {value!r} instead."
        )
    return float(value)


def _ppf(factors: list[_Factor], q: float | np.ndarray) -> np.ndarray:
    return np.array([float(np.asarray(f.distribution.ppf(q))) for f in factors])


def _switching_values(
    plan: Plan, factors: list[_Factor], read: Any, threshold: float, threads: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Input value and percentile where the output crosses ``threshold``, one input moving at a time.

    A grid of 101 percentiles over :data:`SWITCHING_RANGE` brackets the crossing
    nearest the median; bisection in percentile space then narrows it to 1e-12.
    """
    k = len(factors)
    grid = np.linspace(*SWITCHING_RANGE, 101)
    design = _one_at_a_time(plan, factors, grid)
    gap = read(_evaluate(plan, design, threads)).reshape(k, grid.size) - threshold
    lower = np.full(k, np.nan)
    upper = np.full(k, np.nan)
    centre = np.searchsorted(grid, 0.5)
    for i in range(k):
        crossings = np.flatnonzero(np.sign(gap[i, :-1]) * np.sign(gap[i, 1:]) <= 0)
        crossings = crossings[(gap[i, crossings] != 0) | (gap[i, crossings + 1] != 0)]
        if crossings.size:
            j = crossings[np.argmin(np.abs(crossings + 0.5 - centre))]
            lower[i], upper[i] = grid[j], grid[j + 1]
    found = np.flatnonzero(np.isfinite(lower))
    if found.size:
        low_gap = gap[found, np.searchsorted(grid, lower[found])]
        for _ in range(40):
            middle = 0.5 * (lower[found] + upper[found])
            design = _base_design(plan, found.size)
            for j, index in enumerate(found):
                design[factors[index].column, j] = middle[j]
            middle_gap = read(_evaluate(plan, design, threads)) - threshold
            same_side = np.sign(middle_gap) == np.sign(low_gap)
            lower[found] = np.where(same_side, middle, lower[found])
            low_gap = np.where(same_side, middle_gap, low_gap)
            upper[found] = np.where(same_side, upper[found], middle)
    percentile = 0.5 * (lower + upper)
    value = np.full(k, np.nan)
    for index in found:
        value[index] = float(np.asarray(factors[index].distribution.ppf(percentile[index])))
    return value, percentile


def spider(
    scenario: Scenario | str | Path = DEFAULT_SCENARIO,
    output: str = "npv",
    *,
    percentiles: Sequence[float] | np.ndarray | None = None,
    inputs: Sequence[str] | None = None,
    threads: int | None = None,
) -> xr.Dataset:
    """Trace the output as each input moves across its percentiles, the others at their medians.

    Parameters
    ----------
    scenario : Scenario or str or path-like, default: the default scenario
        Scenario (see :func:`~nhsrisk.load_scenario`).
    output : str, default="npv"
        Output variable, as in :func:`tornado`.
    percentiles : sequence of float, optional
        Percentiles as probabilities in (0, 1); default 0.05, 0.10, ..., 0.95.
    inputs : sequence of str, optional
        Inputs to vary, as in :func:`tornado`; default all.
    threads : int, optional
        Number of numba threads.

    Returns
    -------
    xarray.Dataset
        Dimensions ``input`` and ``percentile``: ``output`` (in the output's
        units) and ``input_value`` (in each input's units); the scalar
        ``output_base`` with every input at its median.

    Examples
    --------
    >>> import nhsrisk
    >>> s = nhsrisk.spider(inputs=["risks.digital_exclusion"], percentiles=[0.1, 0.5, 0.9])
    >>> s["output"].shape
    (1, 3)
    >>> bool(s["output"].sel(percentile=0.5).item() == s["output_base"].item())
    True
    """
    caller = "spider"
    scenario = load_scenario(scenario)
    if percentiles is None:
        percentiles = np.round(np.arange(1, 20) * 0.05, 2)
    try:
        grid = np.asarray(percentiles, dtype=float).ravel()
    except (TypeError, ValueError):
        grid = np.array([np.nan])
    if grid.size == 0 or not np.all((grid > 0) & (grid < 1)):
        raise ValueError(
            "The 'percentiles' parameter of spider must be probabilities in (0, 1). "
            f"Got {percentiles!r} instead."
        )
    read, label, units = _output_reader(scenario, output, caller)
    plan = build_plan(scenario)
    factors = _select(_factors(plan, scenario), inputs, caller)
    k = len(factors)
    design = _one_at_a_time(plan, factors, grid, base_draws=1)
    values = read(_evaluate(plan, design, threads))
    input_values = np.array([np.asarray(f.distribution.ppf(grid), dtype=float) for f in factors])
    return xr.Dataset(
        {
            "output": (
                ("input", "percentile"),
                values[:-1].reshape(k, grid.size),
                {"long_name": label, "units": units},
            ),
            "input_value": (
                ("input", "percentile"),
                input_values,
                {"long_name": "Input value (input units)"},
            ),
            "output_base": ((), values[-1], {"long_name": label, "units": units}),
        },
        coords={**_input_coords(factors), "percentile": ("percentile", grid, {"units": "1"})},
        attrs={**_result_attrs(scenario), "output": output},
    )


def sobol_analysis(
    scenario: Scenario | str | Path = DEFAULT_SCENARIO,
    output: str = "npv",
    *,
    base_samples: int = 4096,
    seed: int | None = None,
    group_years: bool = True,
    confidence: float = 0.95,
    bootstrap: int = 1000,
    threads: int | None = None,
    progress: bool | None = None,
) -> xr.Dataset:
    """Sobol' first-order and total indices of every uncertain input of a scenario.

    A Saltelli design of ``base_samples * (factors + 2)`` model runs on the
    numba kernel, analysed by :func:`nhsrisk.sobol.sobol_from_evaluations`
    (Saltelli 2010 first order, Jansen total, bootstrap intervals).

    Parameters
    ----------
    scenario : Scenario or str or path-like, default: the default scenario
        Scenario. Inputs linked by its correlations (directly or through
        others) form one factor, named ``"correlated: ..."``, moved together
        through the copula: the Sobol' index of a group of inputs is a variance
        share as long as the groups are independent of each other, which the
        inputs within one group are not required to be.
    output : str, default="npv"
        Output variable, as in :func:`tornado`.
    base_samples : int, default=4096
        Rows of each Saltelli matrix, a power of two.
    seed : int, optional
        Seed of the scrambled Sobol' design and the bootstrap (recorded in attrs).
    group_years : bool, default=True
        Treat a per-year input (the raid event and raid fraction of every year)
        as one factor; ``False`` gives each year its own.
    confidence : float, default=0.95
        Level of the bootstrap intervals.
    bootstrap : int, default=1000
        Bootstrap resamples (0 for none).
    threads : int, optional
        Number of numba threads.
    progress : bool, optional
        Progress bar over the factors (default: only in a terminal or notebook,
        after a second; ``False`` never, ``True`` always).

    Returns
    -------
    xarray.Dataset
        Dimension ``input`` (key paths), sorted by total index: ``S1``, ``ST``
        and their bounds and standard errors, as
        :func:`nhsrisk.sobol.sobol_from_evaluations` returns them.

    Examples
    --------
    >>> import nhsrisk
    >>> s = nhsrisk.sobol_analysis(base_samples=64, seed=1, bootstrap=0)
    >>> bool((s["ST"] >= s["S1"] - 0.5).all()), s.attrs["output"]
    (True, 'npv')
    """
    caller = "sobol_analysis"
    scenario = load_scenario(scenario)
    read, label, units = _output_reader(scenario, output, caller)
    base_samples = _check_base_samples(base_samples, caller)
    confidence = _check_confidence(confidence, caller)
    bootstrap = _check_bootstrap(bootstrap, caller)
    progress = check_progress(progress, caller)
    seed = resolve_seed(seed, caller)
    plan = build_plan(scenario)
    factors = _factors(plan, scenario)
    linked = _correlated_groups(scenario)
    names = [linked.get(f.group, f.group if group_years else f.name) for f in factors]
    groups = list(dict.fromkeys(names))
    columns = [[f.column for f, n in zip(factors, names, strict=True) if n == g] for g in groups]
    a, b = saltelli_design(plan.uniforms_per_draw, base_samples, seed)
    a, b = a.T.copy(), b.T.copy()
    correlated = bool(linked)
    # one set of output arrays and one mixed design serve every matrix (read copies what it reads)
    buffers = allocate_results(plan, a.shape[1])
    with progress_bar(len(groups) + 2, "Sobol' design", progress, unit="matrix") as bar:
        f_a = read(_evaluate(plan, a, threads, correlated=correlated, buffers=buffers))
        f_b = read(_evaluate(plan, b, threads, correlated=correlated, buffers=buffers))
        bar.update(2)
        f_ab = np.empty((len(groups), a.shape[1]))
        mixed = np.empty_like(a)
        for g, cols in enumerate(columns):
            mixed[...] = a
            mixed[cols] = b[cols]
            f_ab[g] = read(_evaluate(plan, mixed, threads, correlated=correlated, buffers=buffers))
            bar.update(1)
    result = sobol_from_evaluations(
        f_a, f_b, f_ab, groups, confidence=confidence, bootstrap=bootstrap, seed=seed
    )
    order = np.argsort(-result["ST"].values, kind="stable")
    result = result.isel(input=order)
    long_names = {f.group: f.long_name for f in factors}
    long_names.update({name: "correlated inputs, moved together" for name in linked.values()})
    labels = {f.name: f.label for f in factors}
    # a per-year input grouped over its years: its label without a year
    labels.update(
        {f.group: f"{scenario.input_label(f.group)}, every year" for f in factors if f.name != f.group}
    )
    labels.update({name: _group_input_label(scenario, name) for name in linked.values()})
    result = result.assign_coords(
        input_long_name=(
            "input",
            [long_names.get(_YEAR_SUFFIX.sub("", g), long_names.get(g, "")) for g in result["input"].values],
        ),
        input_label=(
            "input",
            [labels[str(g)] for g in result["input"].values],
            {"long_name": "Uncertain input (readable)"},
        ),
    )
    result.attrs.update(
        **_result_attrs(scenario),
        base_samples=base_samples,
        output=output,
        output_long_name=label,
        output_units=units,
        correlated_groups=sorted(set(linked.values())),
    )
    return result


def _correlated_groups(scenario: Scenario) -> dict[str, str]:
    """Key path -> factor name for every input correlated with another (connected components).

    Inputs linked by a non-zero rank correlation, directly or through others,
    form one factor; an input of the table with no non-zero correlation stays on its own.
    """
    correlations = scenario.correlations
    if correlations is None:
        return {}
    inputs = list(correlations.inputs)
    linked = correlations.as_array() != 0.0
    component = list(range(len(inputs)))
    changed = True
    while changed:  # label propagation: a few passes for a handful of inputs
        changed = False
        for i, j in zip(*np.nonzero(linked), strict=True):
            low = min(component[i], component[j])
            if component[i] != low or component[j] != low:
                component[i] = component[j] = low
                changed = True
    groups: dict[int, list[str]] = {}
    for name, label in zip(inputs, component, strict=True):
        groups.setdefault(label, []).append(name)
    names: dict[str, str] = {}
    for members in groups.values():
        if len(members) > 1:
            names.update(dict.fromkeys(members, _group_label(members, list(scenario.programmes))))
    return names


def _group_label(members: list[str], programmes: list[str]) -> str:
    """``programmes.a.x, programmes.b.x, ...`` over every programme -> ``programmes.*.x``."""
    shown: list[str] = []
    for name in members:
        parts = name.split(".")
        if len(parts) == 3 and parts[0] == "programmes":
            every = [f"programmes.{p}.{parts[2]}" for p in programmes]
            if all(m in members for m in every):
                name = f"programmes.*.{parts[2]}"
        if name not in shown:
            shown.append(name)
    return "correlated: " + " & ".join(shown)


def _group_input_label(scenario: Scenario, name: str) -> str:
    """Name a group of correlated inputs (``"correlated: a & b"``) by its members' input labels."""
    members = [scenario.input_label(m, units=False) for m in name.removeprefix("correlated: ").split(" & ")]
    return "Moved together: " + " & ".join(_lower_first(member) for member in members)


def _lower_first(text: str) -> str:
    """``"Every programme: ..."`` -> ``"every programme: ..."``, leaving ``"IT modernisation"`` alone."""
    return text[0].lower() + text[1:] if len(text) > 1 and text[1].islower() else text


def _uncertain(value: Any) -> bool:
    """Whether a swept value can stay in a correlations table: a continuous, uncertain distribution."""
    return (
        isinstance(value, Distribution)
        and not value.is_fixed
        and type(value).__name__ not in ("Bernoulli", "Discrete")
    )


def _cell_label(value: Any) -> Any:
    if isinstance(value, Distribution):
        return value.describe()
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        return str(value)
    return float(value)


def _check_outputs(outputs: Any, caller: str) -> list[str]:
    return list(check_names(outputs, tuple(OUTPUTS), "outputs", caller, one=True, empty=False))


def sweep(
    scenario: Scenario | str | Path,
    parameters: Mapping[str, Sequence[Any]],
    *,
    draws: int = 10_000,
    seed: int | None = None,
    outputs: Sequence[str] = ("cumulative_value", "npv", "bcr"),
    sampler: str = "random",
    threads: int | None = None,
    progress: bool | None = None,
    chunks: int | None = None,
    client: Any = None,
) -> xr.Dataset:
    """Run a scenario over a grid of parameter values with common random numbers.

    Parameters
    ----------
    scenario : Scenario or str or path-like
        Base scenario.
    parameters : mapping of str to sequence
        Key path (as in :meth:`~nhsrisk.Scenario.with_values`) to the values it
        takes: numbers (fixed values) or distributions. Each key becomes a
        dimension of the result, named by the key path. An input of the
        scenario's correlations table set to a number (or a discrete law) in
        a cell leaves the table in that cell; the others keep their correlations.
    draws : int, default=10_000
        Draws per cell.
    seed : int, optional
        One seed for every cell (recorded in attrs), so that every cell uses
        the same random numbers for the inputs it shares with the others.
    outputs : sequence of str, default=("cumulative_value", "npv", "bcr")
        Output variables to keep (see :data:`~nhsrisk.simulation.OUTPUTS`).
    sampler : str, default="random"
        Sampling design, as in :func:`~nhsrisk.simulate`.
    threads : int, optional
        Number of numba threads.
    chunks : int, optional
        Draws per task when the cells run as dask tasks (default: a whole cell).
    client : dask.distributed.Client, optional
        Run the sweep on this cluster: one task per cell and chunk, results
        identical to a local sweep.
    progress : bool, optional
        Progress bar over the cells (default: only in a terminal or notebook,
        after a second; ``False`` never, ``True`` always).

    Returns
    -------
    xarray.Dataset
        The kept outputs with one new leading dimension per swept parameter,
        plus ``planned_spend`` and ``claimed_return`` (which a sweep may change).

    Examples
    --------
    >>> import nhsrisk
    >>> ds = nhsrisk.sweep("as-announced", {"risks.raid_probability": [0.0, 0.5]}, draws=500, seed=1)
    >>> ds["npv"].dims
    ('risks.raid_probability', 'draw')
    >>> ds["npv"].mean("draw").sizes["risks.raid_probability"]
    2
    """
    caller = "sweep"
    scenario = load_scenario(scenario)
    if not isinstance(parameters, Mapping) or not parameters:
        raise ValueError(
            f"The 'parameters' parameter of {caller} must be a non-empty mapping of key path to values. "
            f"Got {parameters!r} instead."
        )
    grid: dict[str, list[Any]] = {}
    for key, values in parameters.items():
        if (
            isinstance(values, str | bytes)
            or not isinstance(values, Sequence | np.ndarray)
            or len(values) == 0
        ):
            raise ValueError(
                f"The 'parameters' parameter of {caller} must map {key!r} to a non-empty sequence of values. "
                f"Got {values!r} instead."
            )
        labels = [_cell_label(v) for v in values]
        if len(set(labels)) != len(labels):
            raise ValueError(f"The values swept for {key!r} in {caller} repeat: {labels}.")
        grid[key] = list(values)
    outputs = _check_outputs(outputs, caller)
    draws = check_count(draws, "draws", caller)
    seed = resolve_seed(seed, caller)
    # build and validate every cell's scenario before running any; an input fixed in a cell
    # leaves the correlations table (a fixed input cannot be correlated)
    cells = {}
    for combo in itertools.product(*grid.values()):
        cell_values = dict(zip(grid, combo, strict=True))
        fixed = [key for key, value in cell_values.items() if not _uncertain(value)]
        cells[combo] = _uncorrelated(scenario, fixed).with_values(
            cell_values, source="assumption: value of a sweep cell"
        )
    progress = check_progress(progress, caller)
    if chunks is not None:
        chunks = check_count(chunks, "chunks", caller)
    keep = [*outputs, "planned_spend", "claimed_return"]
    if client is not None:
        lazy = [
            simulate(cell, draws, seed, sampler=sampler, chunks=chunks or draws)[keep]
            for cell in cells.values()
        ]
        runs = [future.result() for future in client.compute(lazy)]
    else:
        runs = []
        with progress_bar(len(cells), "sweep", progress, unit="cell") as bar:
            for cell in cells.values():
                run = simulate(
                    cell, draws, seed, sampler=sampler, threads=threads, progress=False, chunks=chunks
                )
                runs.append(run[keep].compute() if chunks is not None else run[keep])
                bar.update(1)
    shape = [len(v) for v in grid.values()]
    first = runs[0]
    data_vars = {}
    for name, var in first.data_vars.items():
        stacked = np.stack([run[name].values for run in runs]).reshape(*shape, *var.shape)
        data_vars[name] = ((*grid, *var.dims), stacked, var.attrs)
    coords: dict[str, Any] = {key: (key, [_cell_label(v) for v in values]) for key, values in grid.items()}
    coords.update({name: coord for name, coord in first.coords.items()})
    attrs = {k: v for k, v in runs[0].attrs.items() if k not in ("scenario", "scenario_sha256", "title")}
    attrs.update(
        **scenario_attrs(scenario),
        title=f"nhsrisk sweep of {scenario.name} over {', '.join(grid)}",
        base_scenario=scenario.to_toml(),
        base_scenario_sha256=scenario.sha256(),
        swept=list(grid),
        seed=str(seed),
    )
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def compare_options(
    options: Mapping[str, Scenario | str | Path],
    *,
    draws: int = 10_000,
    seed: int | None = None,
    outputs: Sequence[str] = ("cumulative_value", "npv", "bcr"),
    threads: int | None = None,
    progress: bool | None = None,
) -> xr.Dataset:
    """Simulate decision options (scenarios) side by side with common random numbers.

    Parameters
    ----------
    options : mapping of str to Scenario or str or path-like
        Option label (such as ``"as planned"``, ``"ring-fenced"``) to its scenario.
    draws : int, default=10_000
        Draws per option.
    seed : int, optional
        One seed for all options: draw ``i`` is the same state of the world in
        every option, for every input they share.
    outputs : sequence of str, default=("cumulative_value", "npv", "bcr")
        Outputs to keep, with a new ``option`` dimension.
    threads : int, optional
        Number of numba threads.
    progress : bool, optional
        Progress bar over the options (default: only in a terminal or notebook,
        after a second; ``False`` never, ``True`` always).

    Returns
    -------
    xarray.Dataset
        The outputs with dimension ``option`` first, and the sampled inputs of
        the first option (dims ``draw`` or ``year, draw``), for value-of-
        information analysis (:func:`nhsrisk.voi.evppi`). Where an option
        changes an input's distribution, its draws are a monotone function of
        the first option's (same uniforms), so conditioning on either is the same.

    Examples
    --------
    >>> import nhsrisk
    >>> base = nhsrisk.load_scenario()
    >>> ds = nhsrisk.compare_options(
    ...     {"as planned": base, "ring-fenced": base.with_values({"risks.raid_probability": 0.0})},
    ...     draws=500, seed=1,
    ... )
    >>> ds["npv"].dims
    ('option', 'draw')
    """
    caller = "compare_options"
    if not isinstance(options, Mapping) or len(options) < 2:
        raise ValueError(
            f"The 'options' parameter of {caller} must map at least two labels to scenarios. Got {options!r}."
        )
    outputs = _check_outputs(outputs, caller)
    labels = [str(label) for label in options]
    if len(set(labels)) != len(labels):
        raise ValueError(
            f"The 'options' parameter of {caller} must have distinct labels. Got {list(options)!r} instead."
        )
    scenarios = {str(label): load_scenario(s) for label, s in options.items()}
    draws = check_count(draws, "draws", caller)
    seed = resolve_seed(seed, caller)
    progress = check_progress(progress, caller)
    runs = []
    with progress_bar(len(scenarios), "options", progress, unit="option") as bar:
        for scenario in scenarios.values():
            runs.append(simulate(scenario, draws, seed, threads=threads, progress=False))
            bar.update(1)
    first = runs[0]
    stacked = xr.concat([r[outputs] for r in runs], dim="option", combine_attrs="drop", join="exact")
    inputs = [name for name, var in first.data_vars.items() if var.attrs.get("sampled_input") == 1]
    ds = xr.merge([stacked, first[inputs]], combine_attrs="drop", join="exact")
    ds = ds.assign_coords(option=("option", list(scenarios), {"long_name": "Decision option"}))
    ds.attrs.update(
        title=f"nhsrisk decision options: {', '.join(scenarios)}",
        seed=str(seed),
        n_draws=draws,
        nhsrisk_version=__version__,
        target_year=first.attrs["target_year"],
        options=list(scenarios),
        inputs_from=list(scenarios)[0],
    )
    # what the options share of their scenarios' identity, for the title of a figure of them
    identities = [scenario_attrs(scenario) for scenario in scenarios.values()]
    ds.attrs.update({k: v for k, v in identities[0].items() if all(i[k] == v for i in identities)})
    for label, scenario in scenarios.items():
        ds.attrs[f"scenario[{label}]"] = scenario.to_toml()
    return ds


#: The risk groups of :func:`waterfall`, in the order of its steps: each name with the
#: key paths that switch the risk off and the values they take then. ``*`` in a key
#: path stands for every programme (or staff group) of the scenario; the value
#: ``"len(years)"`` for the number of years of the scenario (support that outlasts the
#: period); ``"budget_changes": ()`` for the scenario without its budget changes (the
#: group is left out when the scenario has none).
WATERFALL_STEPS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("budget raids", {"risks.raid_probability": 0.0}),
    ("budget changes", {"budget_changes": ()}),
    ("cost overrun", {"programmes.*.cost_overrun": 1.0, "programmes.*.black_swan": 0.0}),
    ("delivery delay", {"programmes.*.delivery_delay": 0.0}),
    ("staff capacity", {"risks.staff_capacity": 1.0}),
    ("digital exclusion", {"risks.digital_exclusion": 0.0}),
    ("social-care leakage", {"risks.social_care_leakage": 0.0}),
    ("running costs not found", {"programmes.*.support_years": "len(years)"}),
)

#: The haircuts of :func:`waterfall` that are not risks: parts of the plan itself that
#: take the gross potential down to the planned benefit, with the key paths that remove
#: them and the values they take then (``*`` as in :data:`WATERFALL_STEPS`).
WATERFALL_HAIRCUTS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("partial recovery", {"programmes.*.staff.*.recovered_fraction": 1.0}),
    ("time not put to use", {"risks.released_time_used": 1.0}),
    ("do-minimum counterfactual", {"programmes.*.do_minimum_ceiling": 0.0}),
)

#: Orders of attribution accepted by :func:`waterfall`.
WATERFALL_ORDERS = ("shapley", "sequential")


@dataclass(frozen=True)
class _Switch:
    """One waterfall step, resolved against a plan: the streams it fixes and at which values."""

    name: str
    kind: str  # "risk" or "haircut"
    values: dict[str, float]  # key path (no '*') -> value when switched off
    streams: dict[int, float]  # plan stream index -> value when switched off
    drop_budget_changes: bool


_ONE_KEY = r"[^.\[\]]+"


def _expand(pattern: str, names: Sequence[str]) -> list[str]:
    """Key paths among ``names`` that ``pattern`` matches, ``*`` matching one key."""
    parts = (_ONE_KEY if part == "*" else re.escape(part) for part in pattern.split("."))
    regex = re.compile(r"\.".join(parts))
    return [name for name in names if regex.fullmatch(name)]


def _resolve_switches(
    scenario: Scenario, plan: Plan, settings: Sequence[tuple[str, Mapping[str, Any]]], kind: str
) -> list[_Switch]:
    position = {name: k for k, name in enumerate(plan.stream_names)}
    switches = []
    for name, table in settings:
        values: dict[str, float] = {}
        drop = False
        for pattern, value in table.items():
            if pattern == "budget_changes":
                drop = True
                continue
            number = float(len(scenario.years)) if value == "len(years)" else float(value)
            values.update({key: number for key in _expand(pattern, plan.stream_names)})
        streams = {position[key]: value for key, value in values.items()}
        switches.append(_Switch(name, kind, values, streams, drop))
    return switches


def _switched_plan(plan: Plan, switches: Sequence[_Switch]) -> Plan:
    """``plan`` with the inputs of ``switches`` fixed at their switched-off values.

    Only the fixed streams change (code ``FIXED``, value in ``params[k, 0]``): every
    other stream keeps its Philox key, and the copula of correlated inputs is kept
    as it is, so every other input keeps its draws exactly (a fixed input ignores its
    uniform). This is the kernel's ``FIXED`` path that :meth:`Scenario.with_values`
    takes with a number.
    """
    codes = plan.codes.copy()
    params = plan.params.copy()
    budget_change = plan.budget_change
    for switch in switches:
        for k, value in switch.streams.items():
            codes[k] = FIXED
            params[k] = 0.0
            params[k, 0] = value
        if switch.drop_budget_changes:
            budget_change = np.zeros_like(budget_change)
    return replace(plan, codes=codes, params=params, budget_change=budget_change)


def _check_names(value: Any, known: Sequence[str], name: str, caller: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if (
        not isinstance(value, Sequence | np.ndarray)
        or not len(value)
        or not all(isinstance(v, str) and v in known for v in value)
        or len(set(value)) != len(value)
    ):
        raise ValueError(
            f"The {name!r} parameter of {caller} must be a non-empty sequence of distinct names from "
            f"{list(known)}. Got {value!r} instead."
        )
    return [v for v in known if v in value]


def waterfall_groups(scenario: Scenario | str | Path = DEFAULT_SCENARIO) -> list[str]:
    """Names of the risk groups :func:`waterfall` attributes for a scenario.

    Every group of :data:`WATERFALL_STEPS`, except ``"budget changes"`` when the
    scenario has none.

    Parameters
    ----------
    scenario : Scenario or str or path-like, default: the default scenario
        Scenario (see :func:`~nhsrisk.load_scenario`).

    Returns
    -------
    list of str

    Examples
    --------
    >>> from nhsrisk.experiments import waterfall_groups
    >>> waterfall_groups()[:3]
    ['budget raids', 'cost overrun', 'delivery delay']
    """
    scenario = load_scenario(scenario)
    return [name for name, _ in WATERFALL_STEPS if name != "budget changes" or scenario.budget_changes]


def switched_off(scenario: Scenario | str | Path, steps: Sequence[str]) -> Scenario:
    """Return the scenario with the named waterfall steps (risk groups or haircuts) switched off.

    Uses :meth:`Scenario.with_values` with the values of :data:`WATERFALL_STEPS`
    and :data:`WATERFALL_HAIRCUTS`. A fixed input cannot be correlated (the
    scenario validator refuses it), so the correlations table is rebuilt
    without the inputs fixed here (the sub-matrix of the others, which stays
    positive semi-definite), and dropped when fewer than two inputs remain.
    The rebuilt copula pairs the remaining correlated inputs' draws differently
    from the full one (their Cholesky mixing changes), so a simulation of this
    scenario has the same distribution as the corresponding run of
    :func:`waterfall`, but not draw for draw the same numbers when the scenario
    has correlations: :func:`waterfall` fixes the inputs in the kernel's plan
    instead and keeps the copula whole. Without correlations the two agree bitwise.

    Parameters
    ----------
    scenario : Scenario or str or path-like
        Scenario (see :func:`~nhsrisk.load_scenario`).
    steps : sequence of str
        Names from :data:`WATERFALL_STEPS` and :data:`WATERFALL_HAIRCUTS`.

    Returns
    -------
    Scenario
        Validated like a file; fixed quantities carry the source
        ``"assumption: switched off for the waterfall"``.

    Examples
    --------
    >>> import nhsrisk
    >>> from nhsrisk.experiments import switched_off
    >>> planned = switched_off(nhsrisk.load_scenario(), ["budget raids", "delivery delay"])
    >>> planned.risks.raid_probability.distribution.mean()
    0.0
    >>> planned.correlations.inputs[:1]
    ('programmes.it_modernisation.cost_overrun',)
    """
    caller = "switched_off"
    scenario = load_scenario(scenario)
    settings = dict(WATERFALL_STEPS) | dict(WATERFALL_HAIRCUTS)
    steps = _check_names(steps, list(settings), "steps", caller)
    paths = list(scenario.quantities())
    values: dict[str, Any] = {}
    drop = False
    for step in steps:
        for pattern, value in settings[step].items():
            if pattern == "budget_changes":
                drop = True
                continue
            number = float(len(scenario.years)) if value == "len(years)" else float(value)
            values.update({key: number for key in _expand(pattern, paths)})
    data = _uncorrelated(scenario, values).to_dict()
    if drop:
        data.pop("budget_changes", None)
    base = Scenario.from_toml(dumps_toml(data))
    return base.with_values(values, source="assumption: switched off for the waterfall") if values else base


def _uncorrelated(scenario: Scenario, paths: Collection[str]) -> Scenario:
    """``scenario`` with ``paths`` taken out of its correlations table (so that they can be fixed).

    The others keep their correlations (the sub-matrix of a valid matrix is
    valid); the table goes when fewer than two inputs remain.
    """
    correlations = scenario.correlations
    if correlations is None or not any(name in paths for name in correlations.inputs):
        return scenario
    data = scenario.to_dict()
    del data["correlations"]
    keep = [i for i, name in enumerate(correlations.inputs) if name not in paths]
    if len(keep) >= 2:
        data["correlations"] = {
            **correlations.to_dict(),
            "inputs": [correlations.inputs[i] for i in keep],
            "matrix": correlations.as_array()[np.ix_(keep, keep)].tolist(),
        }
    return Scenario.from_toml(dumps_toml(data))


def _shapley(n: int, value: Mapping[int, float]) -> np.ndarray:
    """Exact Shapley values of players ``0 .. n-1`` from the value of every coalition (bit mask)."""
    weights = [math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n) for s in range(n)]
    terms: list[list[float]] = [[] for _ in range(n)]
    for mask in range(2**n):
        size = mask.bit_count()
        for i in range(n):
            if not mask >> i & 1:
                terms[i].append(weights[size] * (value[mask | 1 << i] - value[mask]))
    return np.array([math.fsum(t) for t in terms])


def waterfall(
    scenario: Scenario | str | Path = DEFAULT_SCENARIO,
    output: str = "cumulative_value",
    *,
    draws: int = 20_000,
    seed: int | None = None,
    statistic: str = "mean",
    order: str = "shapley",
    groups: Sequence[str] | None = None,
    threads: int | None = None,
    progress: bool | None = None,
) -> xr.Dataset:
    """Bridge from the gross potential through the planned benefit to the realised one.

    Three levels, with steps between them:

    - **gross potential**: the output with every risk off and none of the
      haircuts below (all of the addressable time recovered, all of it put to
      use, nothing that would have happened anyway);
    - the **haircuts that are not risks** (:data:`WATERFALL_HAIRCUTS`): partial
      recovery (``recovered_fraction`` as in the scenario), time not put to use
      (``risks.released_time_used``) and the do-minimum counterfactual
      (``do_minimum_ceiling``: only benefits beyond it count);
    - **planned**: what the money would deliver on the planned spend profile
      with every risk off (no raids, no budget changes, no overrun, no delay,
      full staff capacity, no digital exclusion or social-care leakage, support
      paid to the end of the period): uptake follows the planned S-curves, not
      full uptake from the first day;
    - one step per **risk group** (:data:`WATERFALL_STEPS`);
    - **realised**: the scenario as it stands.

    By default each step is a Shapley value (``order="shapley"``): the average,
    over every order in which the groups could be switched on, of the change
    the group makes when it is switched on. It is computed exactly by running
    the model on every subset of the groups (``2**n`` runs for ``n`` groups,
    ``2**3`` for the haircuts, the planned run shared), so it does not depend
    on an order, gives groups with the same effect the same value, gives a
    group that changes nothing exactly 0, and the steps add up to realised
    minus planned (and the haircuts to planned minus gross potential) for any
    statistic, the median included. ``order="sequential"`` switches the
    groups on one at a time in the order listed instead (``n + 1`` runs); a
    step's size then depends on the order where the risks interact.

    Every run uses the same seed and draws (common random numbers): the runs
    differ only in the inputs switched off, so the steps are differences of
    the model, not of the noise. A risk is switched off by fixing its inputs
    in the kernel's plan, which is the ``FIXED`` path that
    :meth:`Scenario.with_values` takes with a number (bitwise the same
    outputs); the scenario's copula is kept whole, so correlated inputs that
    stay uncertain keep their draws exactly (a fixed input only ignores its
    uniform). A scenario cannot express this: its validator refuses to
    correlate a fixed input, and :func:`switched_off` drops such inputs from
    the correlations table, which re-pairs the remaining inputs' draws.

    Parameters
    ----------
    scenario : Scenario or str or path-like, default: the default scenario
        Scenario (see :func:`~nhsrisk.load_scenario`).
    output : str, default="cumulative_value"
        A per-draw scalar output (``"npv"``, ``"pv_benefits"``: the appraisal
        period) or a per-year one read in the target year
        (``"cumulative_value"``: the claim test over the claim window).
    draws : int, default=20_000
        Draws per run.
    seed : int, optional
        One seed for every run (recorded in attrs).
    statistic : {"mean", "median"}, default="mean"
        Statistic of the output's draws in each run.
    order : {"shapley", "sequential"}, default="shapley"
        Attribution over the risk groups (and over the haircuts).
    groups : sequence of str, optional
        Risk groups to attribute, from :data:`WATERFALL_STEPS`; the others stay
        as the scenario has them in every run (also at "planned"). Default:
        :func:`waterfall_groups`.
    threads : int, optional
        Number of numba threads.
    progress : bool, optional
        Progress bar over the runs (default: only in a terminal or notebook,
        after a second; ``False`` never, ``True`` always).

    Returns
    -------
    xarray.Dataset
        Dimension ``step``: ``"gross potential"``, the haircuts, ``"planned"``,
        the risk groups, ``"realised"``; coordinate ``kind`` (``"total"``,
        ``"haircut"`` or ``"risk"``). ``change``: the step's value (the level
        itself for a total); ``level``: the running total after the step (a
        total's own level), in the output's units. With ``order="shapley"``
        also ``alone`` (the change a step makes switched on first: from
        gross potential for a haircut, from planned for a risk) and ``last``
        (switched on last: to planned, to realised), the two ends of the range
        of orders; NaN for the totals. Attrs record the method, the groups and
        the values that switch each off, the statistic, seed, draws and number
        of runs.

    Examples
    --------
    >>> import nhsrisk
    >>> w = nhsrisk.waterfall(draws=1_000, seed=1, groups=["budget raids", "delivery delay"])
    >>> w["step"].values[[0, 4, -1]].tolist()
    ['gross potential', 'planned', 'realised']
    >>> steps = w["change"].where(w["kind"] == "risk", drop=True)
    >>> total = w["change"].sel(step="realised") - w["change"].sel(step="planned")
    >>> bool(abs(float(steps.sum() - total)) < 1e-6 * abs(float(total)))
    True
    >>> w.attrs["method"], w.attrs["n_runs"]
    ('shapley', 11)
    """
    caller = "waterfall"
    scenario = load_scenario(scenario)
    read, label, units = _output_reader(scenario, output, caller)
    if statistic not in ("mean", "median"):
        raise ValueError(
            f"The 'statistic' parameter of {caller} must be 'mean' or 'median'. Got {statistic!r} instead."
        )
    if order not in WATERFALL_ORDERS:
        raise ValueError(
            f"The 'order' parameter of {caller} must be one of {list(WATERFALL_ORDERS)}. "
            f"Got {order!r} instead."
        )
    available = waterfall_groups(scenario)
    names = available if groups is None else _check_names(groups, available, "groups", caller)
    draws = check_count(draws, "draws", caller)
    if threads is not None:
        threads = check_count(threads, "threads", caller)
        most = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]  # set from the environment at import
        if threads > most:
            raise ValueError(
                f"The 'threads' parameter of {caller} must be an int in [1, {most}]. Got {threads!r} instead."
            )
    seed = resolve_seed(seed, caller)
    progress = check_progress(progress, caller)
    plan = build_plan(scenario)
    settings = dict(WATERFALL_STEPS)
    risks = _resolve_switches(scenario, plan, [(n, settings[n]) for n in names], "risk")
    haircuts = _resolve_switches(scenario, plan, WATERFALL_HAIRCUTS, "haircut")
    n, m = len(risks), len(haircuts)
    full_n, full_m = 2**n - 1, 2**m - 1
    if order == "shapley":
        # (risks on, haircuts on) as bit masks; the haircut runs have every risk off
        wanted = [(mask, full_m) for mask in range(2**n)] + [(0, mask) for mask in range(full_m)]
    else:
        wanted = [((1 << k) - 1, full_m) for k in range(n + 1)] + [(0, (1 << k) - 1) for k in range(m)]
    values = _waterfall_runs(plan, risks, haircuts, wanted, read, statistic, seed, draws, threads, progress)
    if order == "shapley":
        risk_steps = _shapley(n, {mask: values[mask, full_m] for mask in range(2**n)})
        haircut_steps = _shapley(m, {mask: values[0, mask] for mask in range(2**m)})
        alone = np.concatenate(
            [
                [values[0, 1 << i] - values[0, 0] for i in range(m)],
                [values[1 << i, full_m] - values[0, full_m] for i in range(n)],
            ]
        )
        last = np.concatenate(
            [
                [values[0, full_m] - values[0, full_m & ~(1 << i)] for i in range(m)],
                [values[full_n, full_m] - values[full_n & ~(1 << i), full_m] for i in range(n)],
            ]
        )
    else:
        risk_steps = np.diff([values[(1 << k) - 1, full_m] for k in range(n + 1)])
        haircut_steps = np.diff([values[0, (1 << k) - 1] for k in range(m + 1)])
    gross, planned, realised = values[0, 0], values[0, full_m], values[full_n, full_m]
    steps = ["gross potential", *(h.name for h in haircuts), "planned", *(r.name for r in risks), "realised"]
    kinds = ["total", *(["haircut"] * m), "total", *(["risk"] * n), "total"]
    change = np.array([gross, *haircut_steps, planned, *risk_steps, realised])
    level = np.array(
        [gross, *(gross + np.cumsum(haircut_steps)), planned, *(planned + np.cumsum(risk_steps)), realised]
    )
    stat_label = f"{statistic.capitalize()} of {label[:1].lower() + label[1:]}"
    data_vars: dict[str, Any] = {
        "change": (
            "step",
            change,
            {"long_name": f"Step in the {statistic} (a total: its level)", "units": units},
        ),
        "level": ("step", level, {"long_name": stat_label, "units": units}),
    }
    if order == "shapley":
        nan = [np.nan]
        first_last = {
            "alone": (alone, "switched on first (from gross potential or planned)"),
            "last": (last, "switched on last (to planned or realised)"),
        }
        for key, (data, what) in first_last.items():
            data_vars[key] = (
                "step",
                np.concatenate([nan, data[:m], nan, data[m:], nan]),
                {"long_name": f"Change in the {statistic} with the step {what}", "units": units},
            )
    method = (
        "Shapley values over the risk groups (and over the haircuts), exact by enumeration of every "
        "subset with common random numbers: independent of order, steps add up to realised minus planned"
        if order == "shapley"
        else "risk groups (and haircuts) switched on one at a time in the order of the steps, with common "
        "random numbers; with interactions, a step's size depends on this order"
    )
    everything = [*haircuts, *risks]
    return xr.Dataset(
        data_vars,
        coords={
            "step": ("step", steps, {"long_name": "Waterfall step"}),
            "kind": ("step", kinds, {"long_name": "total, haircut (not a risk) or risk"}),
        },
        attrs={
            **_result_attrs(scenario),
            "output": output,
            "output_long_name": label,
            "horizon": _horizon(scenario, output),
            "statistic": statistic,
            "seed": str(seed),
            "n_draws": draws,
            "method": order,
            "order": method,
            "risk_groups": [r.name for r in risks],
            "haircuts": [h.name for h in haircuts],
            "n_runs": len(set(wanted)),
            "switched_off": "; ".join(f"{s.name}: {_describe_switch(s, scenario)}" for s in everything),
            **_reference(scenario, output),
        },
    )


def _reference(scenario: Scenario, output: str) -> dict[str, Any]:
    """Return the level an output is judged against, for a plot: the claimed return, or BCR = 1."""
    if output == "cumulative_value":
        return {"reference": _default_threshold(scenario, output), "reference_name": "claimed return"}
    if output == "bcr":
        return {"reference": 1.0, "reference_name": "BCR = 1"}
    return {}


def _horizon(scenario: Scenario, output: str) -> str:
    if OUTPUTS[output].horizon == "appraisal":
        return f"appraisal period {scenario.years[0]} to {scenario.years[-1]}"
    if OUTPUTS[output].dims == ("year",):
        return f"claim window {scenario.years[0]} to {scenario.target_year}"
    return ""


def _describe_switch(switch: _Switch, scenario: Scenario) -> str:
    settings = dict(WATERFALL_STEPS) | dict(WATERFALL_HAIRCUTS)
    parts = []
    for pattern, value in settings[switch.name].items():
        if pattern == "budget_changes":
            parts.append(f"no budget changes ({len(scenario.budget_changes)} in the scenario)")
        else:
            number = float(len(scenario.years)) if value == "len(years)" else float(value)
            parts.append(f"{pattern}={number:g}")
    return ", ".join(parts)


def _waterfall_runs(
    plan: Plan,
    risks: list[_Switch],
    haircuts: list[_Switch],
    wanted: Sequence[tuple[int, int]],
    read: Any,
    statistic: str,
    seed: int,
    draws: int,
    threads: int | None,
    progress: bool | None,
) -> dict[tuple[int, int], float]:
    """Return the statistic of the output for each (risks on, haircuts on) pair of bit masks.

    One set of output arrays serves every run (a run overwrites all of it), and
    every run has the same seed and draw indices.
    """
    runs = list(dict.fromkeys(wanted))
    outputs, inputs = allocate_results(plan, draws)
    previous = numba.get_num_threads()
    if threads is not None:
        numba.set_num_threads(threads)
    values = {}
    try:
        with progress_bar(len(runs), "waterfall", progress, unit="run") as bar:
            for risks_on, haircuts_on in runs:
                off = [r for i, r in enumerate(risks) if not risks_on >> i & 1]
                off += [h for i, h in enumerate(haircuts) if not haircuts_on >> i & 1]
                variant = _switched_plan(plan, off)
                simulate_kernel(*kernel_arguments(variant, seed, 0, inputs, outputs))
                arrays = {**outputs, "_inputs": inputs}
                _check_finite(variant, arrays, 0)
                x = read(arrays)
                values[risks_on, haircuts_on] = float(np.median(x) if statistic == "median" else x.mean())
                bar.update(1)
    finally:
        if threads is not None:
            numba.set_num_threads(previous)
    return values
